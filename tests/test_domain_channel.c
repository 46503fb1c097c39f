/*
 * Channels by domain: a real dnsmasq publishes SRV records for b.example,
 * real mutual-TLS Echo servers (certificates for fed1.b.example and
 * fed2.b.example) serve them, and calls go through the generated stubs on
 * channels from a domain pool: failover, TTL changes, DNS failures,
 * back-off, TLS failures, idle close, the egress check and weights.
 * Server processes stopped and restarted under calls: test_domain_failover.c.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/domain.h>
#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "lsan.h"
#include "dnsmasq.h"
#include "echo_server.h"
#include "fedrpc/testing/v1/echo.fedrpc.h"
#include "server/server_int.h"
#include "testcerts.h"

/*
 * nng 1.5.2 leaks a TLS connection that is still negotiating when its
 * socket closes (its buffers, the engine state and the TLS config it
 * holds). These tests refuse handshakes and drop connections on purpose, so
 * they tolerate exactly that.
 */
TU_LSAN_SUPPRESS(TU_LSAN_NNG_TLS_SETUP)
#include "testutil.h"

/* ---- fixture: certificates, DNS, servers, pool ---- */

static char    *dir;
static dnsmasq *dns;

/*
 * Time bounds: calls get TU_CALL_MS (seconds) and "fast" is less than
 * half of that; the pool's own deadlines are as long, so that a loaded
 * machine never meets them by accident. A test about one of them sets it
 * short and the others long.
 */
#define CONNECT_MS 10000 /* one TCP connect + TLS handshake */
#define DNS_MS 10000     /* one lookup */

static void
certs(void)
{
	dir = tu_tmpdir("domchan");
	testcerts_ca(dir, "ca");
	testcerts_ca(dir, "other-ca");
	testcerts_leaf(dir, "ca", "fed1", (const char *const[]){"fed1.b.example", NULL});
	testcerts_leaf(dir, "ca", "fed2", (const char *const[]){"fed2.b.example", NULL});
	testcerts_leaf(dir, "ca", "wrong", (const char *const[]){"other.example", NULL});
	testcerts_leaf(dir, "other-ca", "stranger",
	    (const char *const[]){"fed1.b.example", NULL});
	testcerts_leaf(dir, "ca", "client", (const char *const[]){"a.example", NULL});
	testcerts_leaf(dir, "ca", "bdomain", (const char *const[]){"b.example", NULL});
}

static void
setup(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	certs();
}

static void
teardown(void)
{
	dnsmasq_stop(dns);
	dns = NULL;
	tu_rmrf(dir);
	free(dir);
}

static fedrpc_tls_opts
tls_of(const char *leaf, const char *ca)
{
	fedrpc_tls_opts o = {0};

	o.ca_file   = strdup(tu_path(dir, ca ? ca : "ca.crt"));
	o.cert_file = strdup(tu_path(dir, leaf));
	o.key_file  = NULL;
	return o;
}

/* The TLS files of leaf `name` (strings stay for the test's life). */
static fedrpc_tls_opts
leaf_tls(const char *name)
{
	char            crt[64], key[64];
	fedrpc_tls_opts o;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	o          = tls_of(crt, NULL);
	o.key_file = strdup(tu_path(dir, key));
	return o;
}

static void
tls_free(fedrpc_tls_opts *o)
{
	free((char *) o->ca_file);
	free((char *) o->cert_file);
	free((char *) o->key_file);
}

/* An in-process TLS Echo server with leaf `cert` on `port` (0: any). */
static echo_server *
server(const char *cert, int port, const char *name)
{
	char            url[64];
	fedrpc_tls_opts o = leaf_tls(cert);
	echo_server    *s;

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	s = echo_server_start(url, &o, name);
	tls_free(&o);
	cr_assert_not_null(s, "echo server %s", name);
	return s;
}

/* SRV + host records for b.example: targets fed1/fed2 at the ports given
 * (0: left out), priorities p1/p2, weights 50. */
static void
dns_start(int port1, int prio1, int port2, int prio2, int ttl)
{
	static char r[8][128];
	const char *recs[8] = {0};
	int         n = 0;

	if (port1 > 0) {
		snprintf(r[n], sizeof(r[n]),
		    "--srv-host=_fedrpc._tcp.b.example,fed1.b.example,%d,%d,50",
		    port1, prio1);
		recs[n] = r[n];
		n++;
	}
	if (port2 > 0) {
		snprintf(r[n], sizeof(r[n]),
		    "--srv-host=_fedrpc._tcp.b.example,fed2.b.example,%d,%d,50",
		    port2, prio2);
		recs[n] = r[n];
		n++;
	}
	recs[n++] = "--host-record=fed1.b.example,127.0.0.1";
	recs[n++] = "--host-record=fed2.b.example,127.0.0.1";
	recs[n++] = "--host-record=c.example,127.0.0.1";
	snprintf(r[7], sizeof(r[7]), "--local-ttl=%d", ttl);
	recs[n++] = r[7];
	recs[n]   = NULL;
	if (dns == NULL)
		dns = dnsmasq_start(recs);
	else
		cr_assert(dnsmasq_restart_with(dns, recs), "dnsmasq restart");
	cr_assert_not_null(dns, "dnsmasq");
}

typedef struct pool_cfg {
	uint32_t         idle_ms;
	uint32_t         backoff_ms;
	uint32_t         connect_ms;
	uint32_t         dns_timeout_ms;
	fedrpc_egress_fn allowed;
	bool             plain; /* tcp:// instead of mutual TLS */
	const fedrpc_static_route *statics;
	size_t                     n_statics;
} pool_cfg;

static fedrpc_tls_opts client_tls;

static fedrpc_domains *
pool_new(pool_cfg c)
{
	fedrpc_resolver_opts ro = {0};
	fedrpc_domains_opts  o  = {0};
	fedrpc_status        st = {0};
	fedrpc_domains      *p  = NULL;

	client_tls            = leaf_tls("client");
	ro.nameserver         = dnsmasq_nameserver(dns);
	ro.timeout_ms         = c.dns_timeout_ms ? c.dns_timeout_ms : DNS_MS;
	ro.statics            = c.statics;
	ro.n_statics          = c.n_statics;
	o.origin_domain       = "a.example";
	o.tls                 = &client_tls;
	o.resolver_opts       = &ro;
	o.api_version         = 1;
	o.default_timeout_ms  = TU_CALL_MS;
	o.connect_timeout_ms  = c.connect_ms ? c.connect_ms : CONNECT_MS;
	o.idle_timeout_ms     = c.idle_ms;
	o.backoff.initial_ms  = c.backoff_ms ? c.backoff_ms : 1000;
	o.scheme              = c.plain ? "tcp" : NULL;
	o.allowed             = c.allowed;
	cr_assert_eq(fedrpc_domains_new(&p, &o, &st), FEDRPC_OK, "%s", st.message);
	return p;
}

static void
pool_free(fedrpc_domains *p)
{
	fedrpc_domains_free(p);
	tls_free(&client_tls);
}

static fedrpc_channel *
chan(fedrpc_domains *p, const char *domain)
{
	fedrpc_channel *ch = NULL;
	fedrpc_status   st = {0};

	cr_assert_eq(fedrpc_domains_channel(p, domain, &ch, &st), FEDRPC_OK,
	    "%s", st.message);
	return ch;
}

/* One Echo call; the answering server's name into who (may be NULL). */
static fedrpc_code
echo(fedrpc_channel *ch, uint32_t timeout_ms, char *who, fedrpc_status *st)
{
	Fedrpc__Testing__V1__EchoRequest   req = FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	Fedrpc__Testing__V1__EchoResponse *resp = NULL;
	char                               name[ECHO_NAME_MAX] = "";
	fedrpc_call_opts                   co = {.timeout_ms = timeout_ms,
					  .reply_metadata = echo_server_name_cb,
					  .reply_metadata_arg = name};
	fedrpc_code                        code;

	req.payload.data = (uint8_t *) "hi";
	req.payload.len  = 2;
	code = fedrpc_testing_v1_echo_echo(ch, &req, &resp, &co, st);
	if (code == FEDRPC_OK) {
		cr_assert_eq(resp->payload.len, 2);
		cr_assert_str_eq(resp->origin_domain, "a.example");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	if (who != NULL)
		strcpy(who, name);
	return code;
}

static void
echo_ok(fedrpc_channel *ch, char *who)
{
	fedrpc_status st = {0};

	cr_assert_eq(echo(ch, TU_CALL_MS, who, &st), FEDRPC_OK, "%s: %s",
	    fedrpc_code_name(st.code), st.message);
}

static fedrpc_domain_info
info_of(fedrpc_channel *ch)
{
	fedrpc_domain_info info;

	cr_assert_eq(fedrpc_domain_info_get(ch, &info), FEDRPC_OK);
	return info;
}

/* Whether the channel's state is `state` now. */
static bool
in_state(fedrpc_channel *ch, const char *state)
{
	return strcmp(info_of(ch).state, state) == 0;
}

/* The channel's state once its manager caught up with a connection that
 * calls already use (bounded poll). */
static fedrpc_domain_info
info_ready(fedrpc_channel *ch)
{
	(void) TU_WAIT_FOR(in_state(ch, "ready"), TU_WAIT_MS);
	return info_of(ch);
}

static fedrpc_domains_stats
stats_of(fedrpc_domains *p)
{
	fedrpc_domains_stats ps;

	fedrpc_domains_stats_get(p, &ps);
	return ps;
}

/* A port nothing listens on. */
static int
dead_port(void)
{
	return tu_free_port();
}

TestSuite(domain, .init = setup, .fini = teardown, .timeout = 60);

/* ---- calls by domain ---- */

Test(domain, calls_by_domain_over_mutual_tls)
{
	echo_server       *s1 = server("fed1", 0, "fed1");
	echo_server       *s2 = server("fed2", 0, "fed2");
	fedrpc_domains    *p;
	fedrpc_channel    *ch, *again;
	fedrpc_domain_info info;
	char               who[ECHO_NAME_MAX];
	fedrpc_domains_stats ps;
	fedrpc_peer        peer;

	dns_start(echo_server_port(s1), 10, echo_server_port(s2), 10, 60);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "B.Example.");
	for (int i = 0; i < 20; i++) {
		echo_ok(ch, who);
		cr_assert(strcmp(who, "fed1") == 0 || strcmp(who, "fed2") == 0,
		    "%s", who);
	}
	/* Later requests share the channel. */
	again = chan(p, "b.example");
	cr_assert_eq(again, ch);
	info = info_ready(ch);
	cr_assert_str_eq(info.state, "ready");
	cr_assert_str_eq(info.address, "127.0.0.1");
	cr_assert_eq(strncmp(info.target, who, 4), 0, "%s vs %s", info.target,
	    who);
	/* The peer of the connection in use: the target's certificate. */
	cr_assert_eq(fedrpc_channel_peer(ch, &peer), FEDRPC_OK);
	cr_assert_eq(peer.n_names, 1);
	cr_assert_str_eq(peer.names[0], info.target);
	cr_assert(peer.verified);
	cr_assert_str_eq(peer.version, "TLSv1.3");
	fedrpc_peer_clear(&peer);
	fedrpc_domains_stats_get(p, &ps);
	cr_assert_eq(ps.channels, 1);
	cr_assert_eq(ps.connected, 1);
	cr_assert_eq(ps.created, 1);
	fedrpc_channel_close(again);
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
	echo_server_stop(s2, 0);
}

Test(domain, failover_when_the_first_target_refuses)
{
	echo_server       *s2 = server("fed2", 0, "fed2");
	fedrpc_domains    *p;
	fedrpc_channel    *ch;
	fedrpc_domain_info info;
	char               who[ECHO_NAME_MAX];
	uint64_t           t0;
	fedrpc_status      st = {0};

	/* fed1 comes first (priority 10), but nothing listens there. The
	 * refusal moves the call on at once: well before fed1's connect
	 * timeout would have (the call's deadline is longer than that). */
	dns_start(dead_port(), 10, echo_server_port(s2), 20, 60);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "b.example");
	t0 = tu_now_ms();
	cr_assert_eq(echo(ch, 2 * CONNECT_MS, who, &st), FEDRPC_OK, "%s: %s",
	    fedrpc_code_name(st.code), st.message);
	cr_assert_str_eq(who, "fed2");
	cr_assert_lt(tu_now_ms() - t0, CONNECT_MS / 2, "failover took %llu ms",
	    (unsigned long long) (tu_now_ms() - t0));
	cr_assert_eq(stats_of(p).attempts, 2);
	cr_assert_eq(stats_of(p).attempt_failures, 1);
	info = info_ready(ch);
	cr_assert_str_eq(info.target, "fed2.b.example");
	cr_assert_eq(info.port, echo_server_port(s2));
	for (int i = 0; i < 5; i++) {
		echo_ok(ch, who);
		cr_assert_str_eq(who, "fed2");
	}
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s2, 0);
}

Test(domain, changed_record_picked_up_after_its_ttl)
{
	echo_server    *s1 = server("fed1", 0, "fed1");
	echo_server    *s2 = server("fed2", 0, "fed2");
	fedrpc_domains *p;
	fedrpc_channel *ch;
	char            who[ECHO_NAME_MAX] = "";
	uint64_t        t0;
	fedrpc_status   st = {0};

	dns_start(echo_server_port(s1), 10, 0, 0, 1);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "b.example");
	/* Before the call: the first lookup (and its TTL) is later. */
	t0 = tu_now_ms();
	echo_ok(ch, who);
	cr_assert_str_eq(who, "fed1");
	/* The domain moves to fed2; a 1 s TTL tells us to look again. */
	dns_start(0, 0, echo_server_port(s2), 10, 1);
	cr_assert(TU_WAIT_FOR((echo(ch, TU_CALL_MS, who, &st),
	                          strcmp(who, "fed2") == 0),
	              TU_WAIT_MS),
	    "still on %s after %llu ms: %s", who,
	    (unsigned long long) (tu_now_ms() - t0), st.message);
	/* Looked up again no sooner than the 1 s TTL (and the 1 s floor
	 * of DOM_REFRESH_MIN_MS) after the first lookup. */
	cr_assert_geq(tu_now_ms() - t0, 1000, "moved before the TTL ran out");
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
	echo_server_stop(s2, 0);
}

/* A static route (development) to an address: no host name to check, so
 * the server's certificate must be valid for the domain itself. */
Test(domain, static_route_to_an_address_checks_the_domain_name)
{
	echo_server          *s = server("bdomain", 0, "b");
	fedrpc_static_route   r = {.domain = "b.example", .host = "127.0.0.1",
				   .port = (uint16_t) echo_server_port(s)};
	fedrpc_domains       *p;
	fedrpc_channel       *ch;
	fedrpc_domain_info    info;
	fedrpc_resolver_stats rs;
	char                  who[ECHO_NAME_MAX];

	dns_start(0, 0, 0, 0, 60);
	p  = pool_new((pool_cfg){.statics = &r, .n_statics = 1});
	ch = chan(p, "b.example");
	echo_ok(ch, who);
	cr_assert_str_eq(who, "b");
	info = info_ready(ch);
	cr_assert_str_eq(info.target, "127.0.0.1");
	fedrpc_resolver_stats_get(fedrpc_domains_resolver(p), &rs);
	cr_assert_geq(rs.static_hits, 1);
	cr_assert_eq(rs.dns_queries, 0);
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s, 0);
}

/* The server's connections accepted, and attempts that failed. On the
 * wire protocol these are its own listener's counters (a connection
 * closed before both prefaces is a failed attempt); on request/reply they
 * are nng's statistics of this process's listeners (after most failures
 * an nng 1.5.2 listener stops accepting, for every client, for 100 ms). */
static void
listener_counts(echo_server *s, uint64_t *accepted, uint64_t *failed)
{
	static const char *const fails[] = {
	    "disconnect", "timeout", "proto", "auth", "oom", "other"};
	fedrpc_server *srv = echo_server_fedrpc(s);
	nng_stat      *all, *st;

	*accepted = *failed = 0;
	if (srv->wire) {
		srv_wire_stats ws;

		fedrpc_server_wire_stats(srv, &ws);
		*accepted = ws.accepted;
		*failed   = ws.handshakes_failed;
		return;
	}
	cr_assert_eq(nng_stats_get(&all), 0);
	for (st = nng_stat_child(all); st != NULL; st = nng_stat_next(st)) {
		nng_stat *c;

		if (strcmp(nng_stat_name(st), "listener") != 0)
			continue;
		if ((c = nng_stat_find(st, "accept")) != NULL)
			*accepted += nng_stat_value(c);
		for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
			if ((c = nng_stat_find(st, fails[i])) != NULL)
				*failed += nng_stat_value(c);
	}
	nng_stats_free(all);
}

/*
 * A new connection is dialed at once, with no connection of our own to
 * test the address first: such a test connection, closed during the
 * negotiation, made the server's listener pause for 100 ms, so that the
 * real connection behind it (and any other client's) waited. The server
 * sees exactly one connection and no failed attempt.
 */
static void
connect_cleanly(bool plain)
{
	echo_server        *s;
	fedrpc_static_route r = {.domain = "b.example", .host = "127.0.0.1"};
	fedrpc_domains     *p;
	fedrpc_channel     *ch;
	char                who[ECHO_NAME_MAX];
	uint64_t            accepted, failed;

	s = plain ? echo_server_start("tcp://127.0.0.1:0", NULL, "b")
		  : server("bdomain", 0, "b");
	cr_assert_not_null(s);
	r.port = (uint16_t) echo_server_port(s);
	dns_start(0, 0, 0, 0, 60);
	p  = pool_new((pool_cfg){.statics = &r, .n_statics = 1, .plain = plain});
	ch = chan(p, "b.example");
	echo_ok(ch, who);
	cr_assert_str_eq(who, "b");
	listener_counts(s, &accepted, &failed);
	cr_assert_eq(accepted, 1, "%llu connections accepted",
	    (unsigned long long) accepted);
	cr_assert_eq(failed, 0, "%llu failed attempts at the listener",
	    (unsigned long long) failed);
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s, 0);
}

Test(domain, connecting_over_tls_leaves_no_failed_attempt_at_the_server)
{
	connect_cleanly(false);
}

Test(domain, connecting_over_tcp_leaves_no_failed_attempt_at_the_server)
{
	connect_cleanly(true);
}

/* ---- discovery failures ---- */

Test(domain, nxdomain_is_not_found_quickly)
{
	fedrpc_domains *p;
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	uint64_t        t0;

	/* The answer comes back at once: well before the DNS timeout,
	 * and the call's deadline is longer still. */
	dns_start(0, 0, 0, 0, 60);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "nope.example");
	t0 = tu_now_ms();
	cr_assert_eq(echo(ch, 2 * DNS_MS, NULL, &st), FEDRPC_NOT_FOUND,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_lt(tu_now_ms() - t0, DNS_MS / 2);
	cr_assert(strstr(st.message, "no such domain") != NULL, "%s", st.message);
	cr_assert(strstr(st.message, "nope.example") != NULL, "%s", st.message);
	fedrpc_channel_close(ch);

	/* A domain that exists but does not federate. */
	ch = chan(p, "c.example");
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_NOT_FOUND, "%s",
	    st.message);
	cr_assert(strstr(st.message, "publishes no") != NULL, "%s", st.message);
	fedrpc_channel_close(ch);
	pool_free(p);
}

Test(domain, dns_down_fails_within_the_deadline_then_fast)
{
	fedrpc_domains       *p;
	fedrpc_channel       *ch;
	fedrpc_status         st = {0};
	fedrpc_resolver_stats rs;
	fedrpc_domain_info    info;
	uint64_t              t0, t, lookups;

	/* The DNS timeout (1 s) ends the call, not its deadline. */
	dns_start(tu_free_port(), 10, 0, 0, 60);
	dnsmasq_halt(dns);
	p  = pool_new((pool_cfg){.dns_timeout_ms = 1000, .backoff_ms = 2000});
	ch = chan(p, "b.example");
	t0 = tu_now_ms();
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	t = tu_now_ms() - t0;
	cr_assert_lt(t, TU_FAST_MS, "took %llu ms", (unsigned long long) t);
	cr_assert(strstr(st.message, "b.example") != NULL, "%s", st.message);
	cr_assert(strstr(st.message, "DNS") != NULL, "%s", st.message);
	/* In back-off now: the next call fails at once, with the reason,
	 * without asking DNS again. */
	info = info_of(ch);
	cr_assert_str_eq(info.state, "backoff");
	fedrpc_resolver_stats_get(fedrpc_domains_resolver(p), &rs);
	lookups = rs.lookups;
	t0      = tu_now_ms();
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS);
	cr_assert(strstr(st.message, "DNS") != NULL, "%s", st.message);
	cr_assert_lt(tu_now_ms(), info.retry_at_ms,
	    "the call outlasted the back-off (%u ms)", info.backoff_ms);
	fedrpc_resolver_stats_get(fedrpc_domains_resolver(p), &rs);
	cr_assert_eq(rs.lookups, lookups, "looked up again in back-off");
	fedrpc_channel_close(ch);
	pool_free(p);
}

Test(domain, deadline_while_resolving_names_the_step)
{
	fedrpc_domains *p;
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	uint64_t        t0;

	/* The call's deadline (1 s) comes long before the DNS timeout: the
	 * call ends at its deadline, not when the lookup gives up. */
	dns_start(tu_free_port(), 10, 0, 0, 60);
	dnsmasq_halt(dns);
	p  = pool_new((pool_cfg){.dns_timeout_ms = 2 * TU_CALL_MS});
	ch = chan(p, "b.example");
	t0 = tu_now_ms();
	cr_assert_eq(echo(ch, 1000, NULL, &st), FEDRPC_DEADLINE_EXCEEDED,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_CALL_MS);
	cr_assert(strstr(st.message,
	              "deadline exceeded while connecting to b.example") != NULL,
	    "%s", st.message);
	cr_assert(strstr(st.message, "SRV") != NULL, "%s", st.message);
	fedrpc_channel_close(ch);
	pool_free(p);
}

/* ---- connection failures, back-off ---- */

Test(domain, every_target_down_fails_fast_in_backoff_and_recovers)
{
	int                port1 = dead_port(), port2 = dead_port();
	fedrpc_domains    *p;
	fedrpc_channel    *ch;
	fedrpc_domain_info info;
	fedrpc_status      st = {0};
	echo_server       *s1;
	char               want[128];
	uint64_t           t0, attempts, retry_at;
	char               who[ECHO_NAME_MAX] = "";

	dns_start(port1, 10, port2, 20, 60);
	p  = pool_new((pool_cfg){.backoff_ms = 2000});
	ch = chan(p, "b.example");
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	snprintf(want, sizeof(want), "connection refused by fed1.b.example:%d",
	    port1);
	cr_assert(strstr(st.message, want) != NULL, "%s", st.message);
	snprintf(want, sizeof(want), "connection refused by fed2.b.example:%d",
	    port2);
	cr_assert(strstr(st.message, want) != NULL, "%s", st.message);
	info = info_of(ch);
	cr_assert_str_eq(info.state, "backoff");
	cr_assert_eq(info.failures, 1);
	/* 2000 ms +- 20%, counted from the last attempt or later */
	cr_assert(info.backoff_ms >= 1600 && info.backoff_ms <= 2400, "%u",
	    info.backoff_ms);
	cr_assert_geq(info.retry_at_ms, info.last_attempt_ms + info.backoff_ms);
	retry_at = info.retry_at_ms;
	attempts = stats_of(p).attempts;
	cr_assert_eq(attempts, 2);

	/* During the back-off: fast, with the reason, and no attempt. */
	for (int i = 0; i < 5; i++) {
		t0 = tu_now_ms();
		cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE);
		cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS, "took %llu ms",
		    (unsigned long long) (tu_now_ms() - t0));
		cr_assert(strstr(st.message, "connection refused") != NULL, "%s",
		    st.message);
		cr_assert_lt(tu_now_ms(), retry_at,
		    "call %d outlasted the back-off", i);
		cr_assert_eq(stats_of(p).attempts, attempts);
	}

	/* The peer comes back: the next attempt, not before the back-off
	 * ran out, connects, and the schedule starts over. */
	s1 = server("fed1", port1, "fed1");
	cr_assert(TU_WAIT_FOR(echo(ch, TU_CALL_MS, who, &st) == FEDRPC_OK ||
	                          st.code != FEDRPC_UNAVAILABLE,
	              tu_ms_until(retry_at) + TU_WAIT_MS),
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_eq(st.code, FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(who, "fed1");
	info = info_ready(ch);
	cr_assert_str_eq(info.state, "ready");
	cr_assert_eq(info.failures, 0);
	cr_assert_eq(info.backoff_ms, 0);
	cr_assert_eq(info.retry_at_ms, 0);
	cr_assert_geq(info.last_attempt_ms, retry_at,
	    "attempted %llu ms before the back-off ran out",
	    (unsigned long long) (retry_at - info.last_attempt_ms));
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
}

static void
tls_failure(const char *cert, const char *expect)
{
	echo_server    *s1 = server(cert, 0, "fed1");
	fedrpc_domains *p;
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	char            want[128];

	dns_start(echo_server_port(s1), 10, 0, 0, 60);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "b.example");
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	snprintf(want, sizeof(want), "TLS handshake with fed1.b.example:%d failed",
	    echo_server_port(s1));
	cr_assert(strstr(st.message, want) != NULL, "%s", st.message);
	cr_assert(strstr(st.message, expect) != NULL, "%s", st.message);
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
}

Test(domain, tls_certificate_not_trusted)
{
	tls_failure("stranger", "not trusted");
}

Test(domain, tls_certificate_for_another_name)
{
	tls_failure("wrong", "name mismatch");
}

/* A listener that completes TCP connections and never says a word, on
 * *port (0: any; the port is returned there). */
static int
silent_listener(int *port)
{
	struct sockaddr_in a   = {.sin_family = AF_INET};
	socklen_t          len = sizeof(a);
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);
	int                one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port        = htons((uint16_t) *port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *) &a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(domain, deadline_during_the_handshake_names_the_step)
{
	int             port = 0;
	int             fd   = silent_listener(&port);
	fedrpc_domains *p;
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	char            want[128];

	/* The deadline (3 s) falls in the handshake: after the lookup and
	 * the TCP connection (at once, even on a loaded machine), long
	 * before the connect timeout. */
	dns_start(port, 10, 0, 0, 60);
	p  = pool_new((pool_cfg){.connect_ms = 2 * TU_CALL_MS});
	ch = chan(p, "b.example");
	cr_assert_eq(echo(ch, 3000, NULL, &st), FEDRPC_DEADLINE_EXCEEDED,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	snprintf(want, sizeof(want), "(TLS handshake with fed1.b.example:%d)",
	    port);
	cr_assert(strstr(st.message,
	              "deadline exceeded while connecting to b.example") != NULL,
	    "%s", st.message);
	cr_assert(strstr(st.message, want) != NULL, "%s", st.message);
	fedrpc_channel_close(ch);
	pool_free(p);
	close(fd);
}

/* After losing its connection, a channel tries the other targets before
 * the one it lost, even one of a lower priority: the connection to fed1
 * (priority 10) drops, the channel goes to fed2 (priority 20). */
Test(domain, reconnect_tries_the_lost_target_last)
{
	echo_server       *s1 = server("fed1", 0, "fed1");
	echo_server       *s2 = server("fed2", 0, "fed2");
	fedrpc_domains    *p;
	fedrpc_channel    *ch;
	fedrpc_domain_info info;
	char               who[ECHO_NAME_MAX];
	nng_pipe           pipe = NNG_PIPE_INITIALIZER;

	dns_start(echo_server_port(s1), 10, echo_server_port(s2), 20, 60);
	p  = pool_new((pool_cfg){0});
	ch = chan(p, "b.example");
	echo_ok(ch, who);
	cr_assert_str_eq(who, "fed1");
	/* Once the channel has made it its connection (calls may use it a
	 * moment before), drop it; fed1 itself stays up. */
	info = info_ready(ch);
	cr_assert_str_eq(info.target, "fed1.b.example");
	pthread_mutex_lock(&ch->mtx);
	cr_assert_eq(ch->n_pipes, 1);
	if (ch->wire == NULL)
		pipe.id = ch->pipes[0];
	pthread_mutex_unlock(&ch->mtx);
	if (ch->wire != NULL) /* the wire protocol: one stream, no pipe */
		chan_wire_drop(ch);
	else
		cr_assert_eq(nng_pipe_close(pipe), 0);
	/* The channel reconnects by itself, to fed2. (Until it has, a
	 * call may still go over nng's own redial of the lost connection,
	 * which the manager then closes.) */
	cr_assert(TU_WAIT_FOR(strcmp(info_of(ch).target, "fed2.b.example") == 0,
	              TU_WAIT_MS),
	    "%s: on \"%s\"", info_of(ch).state, info_of(ch).target);
	info = info_ready(ch);
	cr_assert_str_eq(info.target, "fed2.b.example");
	cr_assert_eq(info.port, echo_server_port(s2));
	echo_ok(ch, who);
	cr_assert_str_eq(who, "fed2");
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
	echo_server_stop(s2, 0);
}

/* A server that takes every connection and closes it at once (here: its
 * connection admission refuses us) must not be redialled in a tight loop:
 * a connection that dies right after it was made counts as a failure. */
static bool
refuse_all(void *arg, nng_pipe pipe)
{
	(void) pipe;
	__atomic_add_fetch((unsigned *) arg, 1, __ATOMIC_RELAXED);
	return false;
}

Test(domain, connections_closed_at_once_back_off)
{
	fedrpc_tls_opts      o  = leaf_tls("fed1");
	fedrpc_server_opts   so = {.url = "tls+tcp://127.0.0.1:0", .tls = &o};
	fedrpc_server       *srv;
	fedrpc_status        st = {0};
	fedrpc_domains      *p;
	fedrpc_channel      *ch;
	unsigned             refused = 0;
	uint64_t             t0;
	fedrpc_domain_info   info;
	uint64_t             attempts;
	char                 slow[64];

	cr_assert_eq(fedrpc_server_new(&srv, &so, &st), FEDRPC_OK, "%s", st.message);
	fedrpc_server_set_pipe_admit(srv, refuse_all, &refused);
	cr_assert_eq(fedrpc_server_start(srv, &st), FEDRPC_OK, "%s", st.message);
	dns_start(fedrpc_server_port(srv), 10, 0, 0, 60);
	/* A connect timeout short enough to keep the test short when our
	 * side never sees the connection up (below), long enough for a
	 * handshake on a loaded machine. */
	p  = pool_new((pool_cfg){.connect_ms = 3000, .backoff_ms = 2000});
	ch = chan(p, "b.example");
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	/* Two connections dropped at once: back-off, calls fail fast with
	 * the reason, and make no attempt. */
	cr_assert(TU_WAIT_FOR(in_state(ch, "backoff"), TU_WAIT_MS), "%s",
	    info_of(ch).state);
	info     = info_of(ch);
	attempts = stats_of(p).attempts;
	cr_assert_leq(attempts, 3, "%llu attempts", (unsigned long long) attempts);
	/* (On the wire protocol the refusal comes before the server's
	 * preface: the first attempt fails its handshake, and the sequence
	 * ends at once.) */
	cr_assert_geq(__atomic_load_n(&refused, __ATOMIC_RELAXED),
	    ch->wire != NULL ? 1 : 2);
	t0 = tu_now_ms();
	cr_assert_eq(echo(ch, TU_CALL_MS, NULL, &st), FEDRPC_UNAVAILABLE);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS);
	cr_assert_lt(tu_now_ms(), info.retry_at_ms,
	    "the call outlasted the back-off (%u ms)", info.backoff_ms);
	cr_assert_eq(stats_of(p).attempts, attempts);
	/* (or, when the server closed it before our side saw it up, the
	 * handshake never finished) */
	snprintf(slow, sizeof(slow), "within %u ms", 3000u);
	cr_assert(strstr(st.message, "closed the connection") != NULL ||
	        strstr(st.message, slow) != NULL ||
	        (ch->wire != NULL &&
	            strstr(st.message, "fed1.b.example") != NULL &&
	            strstr(st.message, "closed") != NULL),
	    "%s", st.message);
	/* And nothing is redialled while no call wants it: once the
	 * back-off has run out the channel waits, idle, for as long again. */
	cr_assert(TU_WAIT_FOR(!in_state(ch, "backoff"),
	              tu_ms_until(info.retry_at_ms) + TU_WAIT_MS),
	    "still in back-off");
	cr_assert(TU_HOLDS_FOR(in_state(ch, "idle") &&
	                           stats_of(p).attempts == attempts,
	              info.backoff_ms),
	    "%s, %llu attempts", info_of(ch).state,
	    (unsigned long long) stats_of(p).attempts);
	fedrpc_channel_close(ch);
	pool_free(p);
	fedrpc_server_free(srv);
	tls_free(&o);
}

/* ---- idle close ---- */

Test(domain, idle_channel_closed_and_recreated)
{
	echo_server         *s1 = server("fed1", 0, "fed1");
	fedrpc_domains      *p;
	fedrpc_channel      *ch;
	fedrpc_domains_stats ps;
	uint64_t             t0;

	dns_start(echo_server_port(s1), 10, 0, 0, 60);
	p  = pool_new((pool_cfg){.idle_ms = 300});
	ch = chan(p, "b.example");
	t0 = tu_now_ms(); /* idle counts from the start of the last call */
	echo_ok(ch, NULL);
	fedrpc_channel_close(ch);
	/* Nobody holds it: closed and freed once idle, not before. */
	cr_assert(TU_WAIT_FOR((ps = stats_of(p)).channels == 0, TU_WAIT_MS));
	cr_assert_geq(tu_now_ms() - t0, 300);
	cr_assert_eq(ps.idle_closed, 1);
	/* The next request makes a new one. */
	ch = chan(p, "b.example");
	echo_ok(ch, NULL);
	fedrpc_domains_stats_get(p, &ps);
	cr_assert_eq(ps.created, 2);
	cr_assert_eq(ps.channels, 1);

	/* Held but idle: the connection goes, the channel stays. */
	cr_assert(TU_WAIT_FOR((ps = stats_of(p)).connected == 0, TU_WAIT_MS));
	cr_assert_eq(ps.channels, 1);
	echo_ok(ch, NULL);
	fedrpc_channel_close(ch);
	pool_free(p);
	echo_server_stop(s1, 0);
}

/* ---- egress ---- */

static bool
only_b(void *arg, const char *domain)
{
	(void) arg;
	return strcmp(domain, "b.example") == 0;
}

Test(domain, egress_to_a_domain_not_allowed_causes_no_lookup)
{
	fedrpc_domains       *p;
	fedrpc_channel       *ch = NULL;
	fedrpc_status         st = {0};
	fedrpc_resolver_stats rs;
	fedrpc_domains_stats  ps;

	dns_start(tu_free_port(), 10, 0, 0, 60);
	p = pool_new((pool_cfg){.allowed = only_b});
	cr_assert_eq(fedrpc_domains_channel(p, "evil.example", &ch, &st),
	    FEDRPC_PERMISSION_DENIED);
	cr_assert_null(ch);
	cr_assert_str_eq(st.message, "evil.example is not on the allow list");
	fedrpc_resolver_stats_get(fedrpc_domains_resolver(p), &rs);
	cr_assert_eq(rs.lookups, 0);
	cr_assert_eq(rs.dns_queries, 0);
	fedrpc_domains_stats_get(p, &ps);
	cr_assert_eq(ps.denied, 1);
	cr_assert_eq(ps.channels, 0);
	cr_assert_eq(fedrpc_domains_channel(p, "not a domain", &ch, &st),
	    FEDRPC_INVALID_ARGUMENT);
	pool_free(p);
}

/* ---- weights ---- */

/* One asynchronous Echo call's outcome. */
typedef struct async_echo {
	char            who[ECHO_NAME_MAX];
	fedrpc_code     code;
	bool            done;
	pthread_mutex_t *mtx;
	pthread_cond_t  *cv;
} async_echo;

static void
async_echo_cb(void *arg, const fedrpc_status *st,
    Fedrpc__Testing__V1__EchoResponse *resp)
{
	async_echo *a = arg;

	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	pthread_mutex_lock(a->mtx);
	a->code = st->code;
	a->done = true;
	pthread_cond_broadcast(a->cv);
	pthread_mutex_unlock(a->mtx);
}

/* 48 domains share two targets weighted 75/25 in one priority: each new
 * channel picks its first target by weight. The channels connect at the
 * same time (asynchronous calls) to keep the test short; 48 handshakes at
 * once get a longer deadline. */
Test(domain, weights_spread_new_channels)
{
	echo_server    *s1 = server("fed1", 0, "fed1");
	echo_server    *s2 = server("fed2", 0, "fed2");
	enum { N = 48 };
	static char     rec[2 * N][128];
	const char     *recs[2 * N + 4];
	fedrpc_domains *p;
	fedrpc_channel *chs[N];
	static async_echo calls[N];
	pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t  cv  = PTHREAD_COND_INITIALIZER;
	int             n = 0, by[2] = {0, 0};

	for (int i = 0; i < N; i++) {
		snprintf(rec[2 * i], sizeof(rec[0]),
		    "--srv-host=_fedrpc._tcp.w%d.example,fed1.b.example,%d,10,75",
		    i, echo_server_port(s1));
		snprintf(rec[2 * i + 1], sizeof(rec[0]),
		    "--srv-host=_fedrpc._tcp.w%d.example,fed2.b.example,%d,10,25",
		    i, echo_server_port(s2));
		recs[n++] = rec[2 * i];
		recs[n++] = rec[2 * i + 1];
	}
	recs[n++] = "--host-record=fed1.b.example,127.0.0.1";
	recs[n++] = "--host-record=fed2.b.example,127.0.0.1";
	recs[n]   = NULL;
	cr_assert_not_null(dns = dnsmasq_start(recs));
	p = pool_new((pool_cfg){0});
	for (int i = 0; i < N; i++) {
		Fedrpc__Testing__V1__EchoRequest req =
		    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
		fedrpc_call_opts co = {.timeout_ms = 3 * TU_CALL_MS,
		    .reply_metadata = echo_server_name_cb,
		    .reply_metadata_arg = calls[i].who};
		fedrpc_status st = {0};
		char          name[32];

		snprintf(name, sizeof(name), "w%d.example", i);
		chs[i]       = chan(p, name);
		calls[i]     = (async_echo){.mtx = &mtx, .cv = &cv};
		co.reply_metadata_arg = calls[i].who;
		cr_assert_eq(fedrpc_testing_v1_echo_echo_async(chs[i], &req, &co,
		                 async_echo_cb, &calls[i], NULL, &st),
		    FEDRPC_OK, "%s", st.message);
	}
	pthread_mutex_lock(&mtx);
	for (int i = 0; i < N; i++)
		while (!calls[i].done)
			pthread_cond_wait(&cv, &mtx);
	pthread_mutex_unlock(&mtx);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(calls[i].code, FEDRPC_OK, "w%d", i);
		by[strcmp(calls[i].who, "fed2") == 0]++;
	}
	cr_log_info("fed1 %d, fed2 %d", by[0], by[1]);
	/* Expected 36/12; both bounds are several deviations away. */
	cr_assert_gt(by[0], by[1], "fed1 %d, fed2 %d", by[0], by[1]);
	cr_assert_geq(by[1], 2, "fed1 %d, fed2 %d", by[0], by[1]);
	for (int i = 0; i < N; i++)
		fedrpc_channel_close(chs[i]);
	pool_free(p);
	echo_server_stop(s1, 0);
	echo_server_stop(s2, 0);
}
