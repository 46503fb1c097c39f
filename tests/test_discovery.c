/*
 * Discovery: RFC 2782 ordering, and SRV + A/AAAA lookups against a real
 * dnsmasq on a loopback port: caching by TTL, negative answers, DNS
 * failures within the deadline, static routes, concurrency.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/discovery.h>

#include "dnsmasq.h"
#include "testutil.h"

/* A resolver timeout that a loaded machine never meets by accident, for
 * the tests that are not about it; "quick" is less than half of it. */
#define DNS_MS TU_CALL_MS

static fedrpc_resolver *
resolver(const char *nameserver, uint32_t timeout_ms, const char *service)
{
	fedrpc_resolver_opts o = {0};
	fedrpc_status        st = {0};
	fedrpc_resolver     *r  = NULL;

	o.nameserver = nameserver;
	o.timeout_ms = timeout_ms;
	o.service    = service;

	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);
	return r;
}

static fedrpc_resolver_stats
stats(fedrpc_resolver *r)
{
	fedrpc_resolver_stats s;

	fedrpc_resolver_stats_get(r, &s);
	return s;
}

static const fedrpc_srv_target *
target_named(const fedrpc_srv_answer *a, const char *host)
{
	for (size_t i = 0; i < a->n_targets; i++)
		if (strcmp(a->targets[i].host, host) == 0)
			return &a->targets[i];
	cr_assert_fail("no target %s in the answer for %s", host, a->domain);
	return NULL;
}

/* ---- RFC 2782 order, on answers built by hand ---- */

static char *addr1[] = {"127.0.0.1"};

static fedrpc_srv_answer
hand_answer(fedrpc_srv_target *t, size_t n)
{
	fedrpc_srv_answer a = {0};

	a.domain    = "b.example";
	a.qname     = "_fedrpc._tcp.b.example";
	a.n_targets = n;
	a.targets   = t;
	return a;
}

/* A target at 127.0.0.1, or without addresses when has_addr is false. */
static fedrpc_srv_target
tgt(char *host, uint16_t priority, uint16_t weight, bool has_addr)
{
	fedrpc_srv_target t = {0};

	t.host     = host;
	t.priority = priority;
	t.weight   = weight;
	if (has_addr) {
		t.n_addrs = 1;
		t.addrs   = addr1;
	}
	return t;
}

Test(srv_order, priority_first_and_unusable_targets_left_out)
{
	fedrpc_srv_target t[] = {tgt("c30", 30, 5, true), tgt("a10", 10, 1, true),
	    tgt(".", 0, 1, true), tgt("b20", 20, 0, true),
	    tgt("noaddr", 0, 9, false), tgt("a10b", 10, 9, true)};
	fedrpc_srv_answer a   = hand_answer(t, 6);
	uint32_t          rng = 7;
	size_t            order[6];

	for (int run = 0; run < 200; run++) {
		size_t n = fedrpc_srv_order(&a, &rng, order);

		cr_assert_eq(n, 4);
		cr_assert(
		    t[order[0]].priority == 10 && t[order[1]].priority == 10);
		cr_assert_neq(order[0], order[1]);
		cr_assert_str_eq(t[order[2]].host, "b20");
		cr_assert_str_eq(t[order[3]].host, "c30");
	}
}

Test(srv_order, weights_share_first_picks)
{
	fedrpc_srv_target t[] = {tgt("w10", 1, 10, true), tgt("w30", 1, 30, true),
	    tgt("w60", 1, 60, true)};
	fedrpc_srv_answer a        = hand_answer(t, 3);
	uint32_t          rng      = 12345;
	int               first[3] = {0}, runs = 3000;
	size_t            order[3];

	for (int run = 0; run < runs; run++) {
		cr_assert_eq(fedrpc_srv_order(&a, &rng, order), 3);
		cr_assert(order[0] != order[1] && order[1] != order[2] &&
		    order[0] != order[2]);
		first[order[0]]++;
	}
	for (int i = 0; i < 3; i++) {
		double want = t[i].weight / 100.0,
		       got  = (double) first[i] / runs;

		cr_assert(got > want - 0.05 && got < want + 0.05,
		    "%s first in %.1f%% of orderings, expected %.0f%% +- 5",
		    t[i].host, got * 100, want * 100);
	}
}

Test(srv_order, weight_zero_goes_last_in_random_order)
{
	fedrpc_srv_target t[] = {tgt("z1", 1, 0, true), tgt("w1", 1, 5, true),
	    tgt("z2", 1, 0, true), tgt("w2", 1, 5, true)};
	fedrpc_srv_answer a        = hand_answer(t, 4);
	uint32_t          rng      = 99;
	int               z1_third = 0;
	size_t            order[4];

	for (int run = 0; run < 1000; run++) {
		cr_assert_eq(fedrpc_srv_order(&a, &rng, order), 4);
		cr_assert(t[order[0]].weight > 0 && t[order[1]].weight > 0);
		cr_assert(t[order[2]].weight == 0 && t[order[3]].weight == 0);
		z1_third += order[2] == 0;
	}
	cr_assert(
	    z1_third > 400 && z1_third < 600, "z1 third %d/1000", z1_third);
}

Test(srv_answer, has_target_dup_and_url)
{
	char              *addrs[] = {"127.0.0.1", "::1"};
	fedrpc_srv_target  t[]     = {tgt("fed.b.example", 0, 0, true)};
	fedrpc_srv_answer  a       = hand_answer(t, 1);
	fedrpc_srv_answer *c;
	char               url[64];

	t[0].port    = 7443;
	t[0].n_addrs = 2;
	t[0].addrs   = addrs;

	cr_assert(fedrpc_srv_answer_has_target(&a, "FED.b.example."));
	cr_assert_not(fedrpc_srv_answer_has_target(&a, "b.example"));
	cr_assert_not(fedrpc_srv_answer_has_target(&a, "evil.example"));
	cr_assert_eq(
	    fedrpc_srv_target_url(&t[0], 0, "tls+tcp", url, sizeof(url)),
	    (int) strlen("tls+tcp://127.0.0.1:7443"));
	cr_assert_str_eq(url, "tls+tcp://127.0.0.1:7443");
	fedrpc_srv_target_url(&t[0], 1, "tls+tcp", url, sizeof(url));
	cr_assert_str_eq(url, "tls+tcp://[::1]:7443");
	cr_assert_eq(
	    fedrpc_srv_target_url(&t[0], 2, "tcp", url, sizeof(url)), -1);

	c = fedrpc_srv_answer_dup(&a);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->targets[0].addrs[1], "::1");
	cr_assert_neq(c->targets[0].addrs, a.targets[0].addrs);
	fedrpc_srv_answer_free(c);
}

/* ---- lookups against dnsmasq ---- */

Test(discovery, priority_targets_and_addresses, .timeout = 30)
{
	const char *recs[] = {
	    "--srv-host=_fedrpc._tcp.b.example,fed1.b.example,7001,10,100",
	    "--srv-host=_fedrpc._tcp.b.example,fed2.b.example,7002,20,0",
	    "--srv-host=_fedrpc._tcp.b.example,fed3.b.example,7003,30,0",
	    "--host-record=fed1.b.example,127.0.0.1,::1",
	    "--host-record=fed2.b.example,127.0.0.2",
	    "--host-record=fed3.b.example,::1", NULL};
	dnsmasq                 *d = dnsmasq_start(recs);
	fedrpc_resolver         *r;
	fedrpc_srv_answer       *a = NULL, *b = NULL;
	fedrpc_status            st = {0};
	const fedrpc_srv_target *t;
	size_t                   order[3];
	uint32_t                 rng = 1;

	cr_assert_not_null(d);
	r = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(a->domain, "b.example");
	cr_assert_str_eq(a->qname, "_fedrpc._tcp.b.example");
	cr_assert_eq(a->n_targets, 3);
	cr_assert_not(a->from_cache);
	cr_assert_not(a->is_static);
	cr_assert_eq(a->ttl, 60); /* the harness's --local-ttl */

	t = target_named(a, "fed1.b.example");
	cr_assert_eq(t->port, 7001);
	cr_assert_eq(t->priority, 10);
	cr_assert_eq(t->weight, 100);
	cr_assert_eq(t->n_addrs, 2);
	cr_assert_str_eq(t->addrs[0], "127.0.0.1");
	cr_assert_str_eq(t->addrs[1], "::1");
	t = target_named(a, "fed2.b.example");
	cr_assert_eq(t->n_addrs, 1);
	cr_assert_str_eq(t->addrs[0], "127.0.0.2");
	t = target_named(a, "fed3.b.example");
	cr_assert_eq(t->n_addrs, 1);
	cr_assert_str_eq(t->addrs[0], "::1");

	cr_assert_eq(fedrpc_srv_order(a, &rng, order), 3);
	cr_assert_str_eq(a->targets[order[0]].host, "fed1.b.example");
	cr_assert_str_eq(a->targets[order[1]].host, "fed2.b.example");
	cr_assert_str_eq(a->targets[order[2]].host, "fed3.b.example");
	cr_assert(fedrpc_srv_answer_has_target(a, "fed2.b.example"));

	/* The same domain, spelled differently, comes from the cache. */
	cr_assert_eq(fedrpc_resolver_lookup(r, "B.Example.", DNS_MS, &b, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert(b->from_cache);
	cr_assert_eq(b->n_targets, 3);
	cr_assert(b->ttl > 0 && b->ttl <= 60);
	cr_assert_eq(stats(r).cache_hits, 1);
	cr_assert_eq(stats(r).dns_lookups, 1);

	fedrpc_srv_answer_free(a);
	fedrpc_srv_answer_free(b);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

static uint16_t
lookup_port(fedrpc_resolver *r, const char *domain, bool *from_cache)
{
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	uint16_t           port;

	cr_assert_eq(fedrpc_resolver_lookup(r, domain, DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	port        = a->targets[0].port;
	*from_cache = a->from_cache;
	fedrpc_srv_answer_free(a);
	return port;
}

Test(discovery, changed_record_seen_after_ttl, .timeout = 30)
{
	const char *v1[] = {"--local-ttl=2",
	    "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7001,10,10",
	    "--host-record=fed.b.example,127.0.0.1", NULL};
	const char *v2[] = {"--local-ttl=2",
	    "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7002,10,10",
	    "--host-record=fed.b.example,127.0.0.1", NULL};
	dnsmasq         *d = dnsmasq_start(v1);
	fedrpc_resolver *r;
	uint64_t         t0, changed = 0;
	bool             cached;
	int              port;

	cr_assert_not_null(d);
	r  = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	t0 = tu_now_ms(); /* the answer, and its TTL, come later */
	cr_assert_eq(lookup_port(r, "b.example", &cached), 7001);
	cr_assert_not(cached);
	cr_assert(dnsmasq_restart_with(d, v2));

	/* Within the TTL the cached answer is served, not the new record
	 * (and after it the new one: the restart may have taken that long). */
	port = lookup_port(r, "b.example", &cached);
	if (tu_now_ms() - t0 < 1990) {
		cr_assert_eq(port, 7001);
		cr_assert(cached);
	} else if (port == 7002) {
		changed = tu_now_ms();
		cr_assert_not(cached);
		cr_log_info("the restart outlasted the TTL (%llu ms)",
		    (unsigned long long) (changed - t0));
	}
	if (changed == 0 &&
	    TU_WAIT_FOR(lookup_port(r, "b.example", &cached) == 7002, TU_WAIT_MS)) {
		changed = tu_now_ms();
		cr_assert_not(cached);
	}
	cr_assert(changed > 0, "the new record was never seen");
	cr_assert(changed - t0 >= 1990, "new record after %llu ms, TTL is 2 s",
	    (unsigned long long) (changed - t0));
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, nxdomain_is_quick_and_negatively_cached, .timeout = 30)
{
	const char *recs[] = {"--host-record=other.example,127.0.0.1", NULL};
	dnsmasq    *d      = dnsmasq_start(recs);
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	uint64_t           t0;

	/* Answered, not timed out: well within half of the timeout. */
	cr_assert_not_null(d);
	r  = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	t0 = tu_now_ms();
	cr_assert_eq(fedrpc_resolver_lookup(r, "nx.example", 2 * DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert_lt(tu_now_ms() - t0, DNS_MS / 2, "NXDOMAIN took %llu ms",
	    (unsigned long long) (tu_now_ms() - t0));
	cr_assert_null(a);
	cr_assert_str_eq(st.message,
	    "no such domain: nx.example (NXDOMAIN for "
	    "_fedrpc._tcp.nx.example)");

	cr_assert_eq(fedrpc_resolver_lookup(r, "nx.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND);
	cr_assert(strstr(st.message, "no such domain: nx.example") != NULL);
	cr_assert(strstr(st.message, "(cached)") != NULL, "%s", st.message);
	cr_assert_eq(stats(r).negative_hits, 1);
	cr_assert_eq(stats(r).dns_lookups, 1);
	cr_assert_eq(stats(r).lookups, 2);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, domain_without_srv_record, .timeout = 30)
{
	const char *recs[] = {"--host-record=c.example,127.0.0.1",
	    "--srv-host=_other._tcp.e.example,x.e.example,1,1,1",
	    "--srv-host=_fedrpc._tcp.d.example", /* target "." */
	    NULL};
	dnsmasq           *d = dnsmasq_start(recs);
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};

	cr_assert_not_null(d);
	r = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	cr_assert_eq(fedrpc_resolver_lookup(r, "c.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(strstr(st.message,
	              "c.example publishes no _fedrpc._tcp SRV record") != NULL,
	    "%s", st.message);
	cr_assert_eq(fedrpc_resolver_lookup(r, "e.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(strstr(st.message,
	              "e.example publishes no _fedrpc._tcp SRV record") != NULL,
	    "%s", st.message);
	cr_assert_eq(fedrpc_resolver_lookup(r, "d.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(strstr(st.message,
	              "d.example declares _fedrpc._tcp not available") != NULL,
	    "%s", st.message);
	cr_assert_null(a);

	/* dnsmasq refuses zones it does not serve: a server error. */
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.test", DNS_MS, &a, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	cr_assert(strstr(st.message,
	              "DNS lookup of _fedrpc._tcp.b.test failed: "
	              "DNS server error (REFUSED") != NULL,
	    "%s", st.message);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, targets_without_addresses, .timeout = 30)
{
	const char *recs[] = {
	    "--srv-host=_fedrpc._tcp.p.example,good.p.example,7001,10,10",
	    "--srv-host=_fedrpc._tcp.p.example,gone.p.example,7002,10,10",
	    "--host-record=good.p.example,127.0.0.1",
	    "--srv-host=_fedrpc._tcp.q.example,gone.q.example,7001,10,10",
	    NULL};
	dnsmasq             *d  = dnsmasq_start(recs);
	fedrpc_resolver_opts o  = {.timeout_ms = DNS_MS, .negative_ttl_s = 5};
	fedrpc_resolver     *r  = NULL;
	fedrpc_srv_answer   *a  = NULL;
	fedrpc_status        st = {0};
	size_t               order[2];

	cr_assert_not_null(d);
	o.nameserver = dnsmasq_nameserver(d);
	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_resolver_lookup(r, "p.example", DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(a->n_targets, 2);
	cr_assert_eq(a->ttl, 60); /* NXDOMAIN for a target is an answer */
	cr_assert_eq(target_named(a, "gone.p.example")->n_addrs, 0);
	cr_assert_eq(target_named(a, "good.p.example")->n_addrs, 1);
	cr_assert_eq(fedrpc_srv_order(a, NULL, order), 1);
	cr_assert_str_eq(a->targets[order[0]].host, "good.p.example");
	fedrpc_srv_answer_free(a);

	cr_assert_eq(fedrpc_resolver_lookup(r, "q.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(strstr(st.message, "gone.q.example: NXDOMAIN") != NULL, "%s",
	    st.message);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, server_down_fails_within_deadline, .timeout = 30)
{
	const char *recs[] = {
	    "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7001,10,10",
	    "--host-record=fed.b.example,127.0.0.1", NULL};
	dnsmasq           *d = dnsmasq_start(recs);
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	char               want[128];
	uint64_t           t0, took;

	/* The resolver's timeout (1 s) ends the lookup: not before it, and
	 * well before the caller's deadline. */
	cr_assert_not_null(d);
	r = resolver(dnsmasq_nameserver(d), 1000, NULL);
	dnsmasq_halt(d);
	t0 = tu_now_ms();
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", TU_CALL_MS, &a, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	took = tu_now_ms() - t0;
	cr_assert(took >= 950 && took < TU_FAST_MS, "failed after %llu ms",
	    (unsigned long long) took);
	snprintf(want, sizeof(want),
	    "DNS lookup of _fedrpc._tcp.b.example failed: timeout after 1000 ms "
	    "(nameserver %s)",
	    dnsmasq_nameserver(d));
	cr_assert_str_eq(st.message, want);
	cr_assert_eq(stats(r).failures, 1);

	/* The server is back: failures are not remembered beyond a moment. */
	cr_assert(dnsmasq_restart_with(d, recs));
	fedrpc_resolver_flush(r);
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", TU_CALL_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_srv_answer_free(a);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, failure_is_held_briefly, .timeout = 30)
{
	char               ns[32];
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	uint64_t           t0;

	/* A port where nothing listens. */
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", tu_free_port());
	r  = resolver(ns, 300, NULL);
	t0 = tu_now_ms(); /* the failure, and its hold, come later */
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", 0, &a, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", 0, &a, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	if (tu_now_ms() - t0 < FEDRPC_DISCOVERY_FAILURE_HOLD_MS) {
		/* Within the hold: the failure is served, DNS not asked. */
		cr_assert(
		    strstr(st.message, "(cached)") != NULL, "%s", st.message);
		cr_assert_eq(stats(r).failure_hits, 1);
		cr_assert_eq(stats(r).dns_lookups, 1);
	} else {
		cr_log_info("the first lookup outlasted the hold (%llu ms)",
		    (unsigned long long) (tu_now_ms() - t0));
	}
	/* Not remembered for long: after the hold, DNS is asked again. */
	cr_assert(TU_WAIT_FOR((fedrpc_resolver_lookup(r, "b.example", 0, &a, &st),
	                          stats(r).dns_lookups >= 2),
	    TU_WAIT_MS));
	fedrpc_resolver_free(r);
}

Test(discovery, caller_deadline_first, .timeout = 30)
{
	char               ns[32];
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	uint64_t           t0, took;

	/* The caller's deadline (1 s) ends the lookup: not before it, and
	 * well before the resolver's own timeout would have. */
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", tu_free_port());
	r  = resolver(ns, 2 * TU_CALL_MS, NULL);
	t0 = tu_now_ms();
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", 1000, &a, &st),
	    FEDRPC_DEADLINE_EXCEEDED, "%s", st.message);
	took = tu_now_ms() - t0;
	cr_assert(took >= 980 && took < TU_CALL_MS, "deadline after %llu ms",
	    (unsigned long long) took);
	cr_assert_str_eq(st.message,
	    "discovery of b.example: deadline of 1000 ms exceeded while waiting "
	    "for SRV _fedrpc._tcp.b.example");
	cr_assert_eq(stats(r).deadline_exceeded, 1);
	fedrpc_resolver_free(r);
}

/* A DNS server that answers every query with SERVFAIL. */
struct servfail {
	int           fd;
	int           port;
	pthread_t     thread;
	bool          stop; /* atomic: the thread ends */
};

static void *
servfail_main(void *arg)
{
	struct servfail *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd           pfd = {.fd = s->fd, .events = POLLIN};
		unsigned char           buf[512];
		struct sockaddr_storage from;
		socklen_t               flen = sizeof(from);
		ssize_t                 n;

		if (poll(&pfd, 1, 50) != 1)
			continue;
		n = recvfrom(s->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *) &from, &flen);
		if (n < 12)
			continue;
		buf[2] = 0x81;         /* QR, RD */
		buf[3] = 0x82;         /* RA, SERVFAIL */
		memset(buf + 6, 0, 6); /* no answer, authority or additional */
		/* Keep the question; drop an EDNS OPT record if any. */
		size_t len = 12;
		while (len < (size_t) n && buf[len] != 0)
			len += buf[len] + 1;
		len += 5;
		if (len <= (size_t) n)
			sendto(s->fd, buf, len, 0, (struct sockaddr *) &from,
			    flen);
	}
	return NULL;
}

static void
servfail_start(struct servfail *s)
{
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->stop            = false;
	s->fd              = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(s->fd >= 0);
	cr_assert_eq(bind(s->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	getsockname(s->fd, (struct sockaddr *) &sa, &len);
	s->port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&s->thread, NULL, servfail_main, s), 0);
}

static void
servfail_stop(struct servfail *s)
{
	__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

Test(discovery, servfail_reported_quickly, .timeout = 30)
{
	struct servfail    s;
	char               ns[32];
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	uint64_t           t0;

	/* Answered, not timed out: well within half of the timeout. */
	servfail_start(&s);
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", s.port);
	r  = resolver(ns, DNS_MS, NULL);
	t0 = tu_now_ms();
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", 2 * DNS_MS, &a, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	cr_assert_lt(tu_now_ms() - t0, DNS_MS / 2);
	cr_assert(strstr(st.message,
	              "DNS lookup of _fedrpc._tcp.b.example failed: "
	              "DNS server error (SERVFAIL") != NULL,
	    "%s", st.message);
	cr_assert(strstr(st.message, ns) != NULL, "%s", st.message);
	fedrpc_resolver_free(r);
	servfail_stop(&s);
}

Test(discovery, static_routes_answer_without_dns, .timeout = 30)
{
	fedrpc_static_route routes[] = {
	    {.domain = "b.example", .host = "127.0.0.1", .port = 7443},
	    {.domain = "C.example.", .host = "localhost", .port = 7444},
	    {.domain = "d.example", .host = "::1", .port = 7445},
	    /* A second route for a domain is ignored. */
	    {.domain = "b.example", .host = "10.0.0.1", .port = 1},
	};
	char                 ns[32];
	fedrpc_resolver_opts o  = {0};
	fedrpc_resolver     *r  = NULL;
	fedrpc_srv_answer   *a  = NULL;
	fedrpc_status        st = {0};

	snprintf(ns, sizeof(ns), "127.0.0.1:%d", tu_free_port()); /* no DNS */
	o.nameserver = ns;
	o.timeout_ms = 300;
	o.statics    = routes;
	o.n_statics  = 4;
	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);

	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", 1000, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert(a->is_static);
	cr_assert_str_eq(a->qname, "");
	cr_assert_eq(a->n_targets, 1);
	cr_assert_eq(a->targets[0].port, 7443);
	cr_assert_eq(a->targets[0].n_addrs, 1);
	cr_assert_str_eq(a->targets[0].addrs[0], "127.0.0.1");
	fedrpc_srv_answer_free(a);

	cr_assert_eq(fedrpc_resolver_lookup(r, "c.example", 1000, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(a->targets[0].port, 7444);
	cr_assert_eq(a->targets[0].n_addrs, 2);
	cr_assert_str_eq(a->targets[0].addrs[0], "127.0.0.1");
	cr_assert_str_eq(a->targets[0].addrs[1], "::1");
	fedrpc_srv_answer_free(a);

	cr_assert_eq(fedrpc_resolver_lookup(r, "d.example", 1000, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(a->targets[0].addrs[0], "::1");
	fedrpc_srv_answer_free(a);

	cr_assert_eq(stats(r).static_hits, 3);
	cr_assert_eq(stats(r).dns_queries, 0);
	cr_assert_eq(stats(r).dns_lookups, 0);
	fedrpc_resolver_free(r);
}

Test(discovery, static_route_to_a_name, .timeout = 30)
{
	const char *recs[] = {"--host-record=fed.e.example,127.0.0.5", NULL};
	dnsmasq    *d      = dnsmasq_start(recs);
	fedrpc_static_route routes[] = {
	    {.domain = "e.example", .host = "fed.e.example", .port = 8000},
	    {.domain = "f.example", .host = "missing.example", .port = 8000}};
	fedrpc_resolver_opts o = {
	    .timeout_ms = DNS_MS, .statics = routes, .n_statics = 2};
	fedrpc_resolver   *r  = NULL;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};

	cr_assert_not_null(d);
	o.nameserver = dnsmasq_nameserver(d);
	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_resolver_lookup(r, "e.example", DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert(a->is_static);
	cr_assert_str_eq(a->targets[0].host, "fed.e.example");
	cr_assert_eq(a->targets[0].port, 8000);
	cr_assert_eq(a->targets[0].n_addrs, 1);
	cr_assert_str_eq(a->targets[0].addrs[0], "127.0.0.5");
	cr_assert_eq(a->ttl, 60);
	fedrpc_srv_answer_free(a);

	cr_assert_eq(fedrpc_resolver_lookup(r, "f.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(strstr(st.message, "static route for f.example") != NULL,
	    "%s", st.message);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

Test(discovery, wire_service_label, .timeout = 30)
{
	const char *recs[] = {
	    "--srv-host=_wire-server-federator._tcp.w.example,fed.w.example,"
	    "443,0,0",
	    "--host-record=fed.w.example,127.0.0.1", NULL};
	dnsmasq           *d = dnsmasq_start(recs);
	fedrpc_resolver   *wire, *plain;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};

	cr_assert_not_null(d);
	wire = resolver(
	    dnsmasq_nameserver(d), DNS_MS, "_wire-server-federator._tcp");
	plain = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	cr_assert_eq(fedrpc_resolver_lookup(wire, "w.example", DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(a->qname, "_wire-server-federator._tcp.w.example");
	cr_assert_eq(a->targets[0].port, 443);
	fedrpc_srv_answer_free(a);
	cr_assert_eq(fedrpc_resolver_lookup(plain, "w.example", DNS_MS, &a, &st),
	    FEDRPC_NOT_FOUND, "%s", st.message);
	cr_assert(
	    strstr(st.message, "publishes no _fedrpc._tcp SRV record") != NULL,
	    "%s", st.message);
	fedrpc_resolver_free(wire);
	fedrpc_resolver_free(plain);
	dnsmasq_stop(d);
}

Test(discovery, ipv6_nameserver, .timeout = 30)
{
	const char         *recs[] = {"--listen-address=::1",
	            "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7001,10,10",
	            "--host-record=fed.b.example,127.0.0.1", NULL};
	struct sockaddr_in6 sa     = {
	        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int                fd = socket(AF_INET6, SOCK_DGRAM, 0);
	dnsmasq           *d;
	fedrpc_resolver   *r;
	fedrpc_srv_answer *a  = NULL;
	fedrpc_status      st = {0};
	char               ns[32];

	if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		cr_skip_test("no IPv6 loopback here");
	}
	close(fd);
	d = dnsmasq_start(recs);
	cr_assert_not_null(d);
	snprintf(ns, sizeof(ns), "[::1]:%d", dnsmasq_port(d));
	r = resolver(ns, DNS_MS, NULL);
	cr_assert_str_eq(fedrpc_resolver_nameserver(r), ns);
	cr_assert_eq(fedrpc_resolver_lookup(r, "b.example", DNS_MS, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(a->targets[0].port, 7001);
	fedrpc_srv_answer_free(a);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

/* ---- concurrency, cancellation, bad input ---- */

struct collect {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             done;
	int             ok;
	int             wrong_port;
};

struct one_lookup {
	struct collect *c;
	uint16_t        want_port;
};

static void
collect_cb(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	struct one_lookup *l = arg;

	pthread_mutex_lock(&l->c->mtx);
	if (st->code == FEDRPC_OK && a != NULL) {
		l->c->ok++;
		if (a->targets[0].port != l->want_port)
			l->c->wrong_port++;
	}
	l->c->done++;
	pthread_cond_broadcast(&l->c->cv);
	pthread_mutex_unlock(&l->c->mtx);
	fedrpc_srv_answer_free(a);
}

static bool
wait_count(struct collect *c, int want, int timeout_ms)
{
	struct timespec until;
	bool            ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	pthread_mutex_lock(&c->mtx);
	while (c->done < want &&
	    pthread_cond_timedwait(&c->cv, &c->mtx, &until) == 0)
		;
	ok = c->done >= want;
	pthread_mutex_unlock(&c->mtx);
	return ok;
}

Test(discovery, hundred_concurrent_async_lookups, .timeout = 60)
{
	enum { DOMAINS = 50, LOOKUPS = 100 };
	char            *recs[2 * DOMAINS + 1];
	dnsmasq         *d;
	fedrpc_resolver *r;
	struct collect   c = {
	      .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct one_lookup     l[LOOKUPS];
	fedrpc_resolver_stats s;

	for (int i = 0; i < DOMAINS; i++) {
		cr_assert(asprintf(&recs[2 * i],
		              "--srv-host=_fedrpc._tcp.d%d.example,h%d.example,"
		              "%d,1,1",
		              i, i, 7000 + i) > 0);
		cr_assert(asprintf(&recs[2 * i + 1],
		              "--host-record=h%d.example,127.0.0.1", i) > 0);
	}
	recs[2 * DOMAINS] = NULL;
	d                 = dnsmasq_start((const char *const *) recs);
	cr_assert_not_null(d);
	r = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	for (int i = 0; i < LOOKUPS; i++) {
		char domain[32];

		snprintf(domain, sizeof(domain), "d%d.example", i % DOMAINS);
		l[i].c         = &c;
		l[i].want_port = (uint16_t) (7000 + i % DOMAINS);
		cr_assert_eq(fedrpc_resolver_lookup_async(
		                 r, domain, DNS_MS, collect_cb, &l[i]),
		    FEDRPC_OK);
	}
	cr_assert(wait_count(&c, LOOKUPS, TU_WAIT_MS), "%d of %d lookups done",
	    c.done, LOOKUPS);
	cr_assert_eq(c.ok, LOOKUPS);
	cr_assert_eq(c.wrong_port, 0);
	s = stats(r);
	cr_assert_eq(s.lookups, LOOKUPS);
	cr_assert_eq(s.dns_lookups, DOMAINS, "one DNS lookup per domain");
	cr_assert_eq(s.dns_lookups + s.coalesced + s.cache_hits, LOOKUPS);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
	for (int i = 0; i < 2 * DOMAINS; i++)
		free(recs[i]);
}

static void
must_not_run(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	(void) st;
	*(int *) arg += 1;
	fedrpc_srv_answer_free(a);
}

struct cancelled {
	int         calls;
	fedrpc_code code;
};

static void
record_code(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	struct cancelled *c = arg;

	c->calls++;
	c->code = st->code;
	fedrpc_srv_answer_free(a);
}

Test(discovery, cancel_and_free_with_lookups_pending, .timeout = 30)
{
	char             ns[32];
	fedrpc_resolver *r;
	int              ran     = 0;
	struct cancelled pending = {0};

	snprintf(ns, sizeof(ns), "127.0.0.1:%d", tu_free_port());
	r = resolver(ns, DNS_MS, NULL);
	cr_assert_eq(
	    fedrpc_resolver_lookup_async(r, "b.example", 0, must_not_run, &ran),
	    FEDRPC_OK);
	cr_assert_eq(fedrpc_resolver_lookup_async(
	                 r, "c.example", 0, record_code, &pending),
	    FEDRPC_OK);
	cr_assert_eq(fedrpc_resolver_cancel(r, must_not_run, &ran), 1);
	cr_assert_eq(fedrpc_resolver_cancel(r, must_not_run, &ran), 0);
	fedrpc_resolver_free(r); /* runs the pending callback first */
	cr_assert_eq(ran, 0);
	cr_assert_eq(pending.calls, 1);
	cr_assert_eq(pending.code, FEDRPC_CANCELLED);
}

struct nested {
	fedrpc_resolver *r;
	fedrpc_code      blocking_code;
	fedrpc_code      async_code;
	struct collect  *c;
};

static void
nested_second(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	struct nested *n = arg;

	(void) st;
	fedrpc_srv_answer_free(a);
	pthread_mutex_lock(&n->c->mtx);
	n->c->done++;
	pthread_cond_broadcast(&n->c->cv);
	pthread_mutex_unlock(&n->c->mtx);
}

static void
nested_first(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	struct nested     *n   = arg;
	fedrpc_srv_answer *b   = NULL;
	fedrpc_status      st2 = {0};

	(void) st;
	fedrpc_srv_answer_free(a);
	/* Blocking here would deadlock the resolver: refused. Starting
	 * another lookup is fine. */
	n->blocking_code =
	    fedrpc_resolver_lookup(n->r, "b.example", 100, &b, &st2);
	n->async_code = fedrpc_resolver_lookup_async(
	    n->r, "b.example", 1000, nested_second, n);
}

Test(discovery, lookups_from_a_callback, .timeout = 30)
{
	fedrpc_static_route route = {
	    .domain = "b.example", .host = "127.0.0.1", .port = 1};
	fedrpc_resolver_opts o = {
	    .statics = &route, .n_statics = 1, .nameserver = "127.0.0.1:9"};
	fedrpc_resolver *r  = NULL;
	fedrpc_status    st = {0};
	struct collect   c  = {
	       .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct nested n = {.c = &c};

	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);
	n.r = r;
	cr_assert_eq(fedrpc_resolver_lookup_async(
	                 r, "b.example", 1000, nested_first, &n),
	    FEDRPC_OK);
	cr_assert(wait_count(&c, 1, TU_WAIT_MS));
	cr_assert_eq(n.blocking_code, FEDRPC_FAILED_PRECONDITION);
	cr_assert_eq(n.async_code, FEDRPC_OK);
	fedrpc_resolver_free(r);
}

Test(discovery, flush_and_forget, .timeout = 30)
{
	const char *recs[] = {
	    "--srv-host=_fedrpc._tcp.b.example,fed.b.example,7001,10,10",
	    "--host-record=fed.b.example,127.0.0.1", NULL};
	dnsmasq         *d = dnsmasq_start(recs);
	fedrpc_resolver *r;
	bool             cached;

	cr_assert_not_null(d);
	r = resolver(dnsmasq_nameserver(d), DNS_MS, NULL);
	lookup_port(r, "b.example", &cached);
	cr_assert_not(cached);
	lookup_port(r, "b.example", &cached);
	cr_assert(cached);
	cr_assert_eq(stats(r).cache_entries, 1);
	fedrpc_resolver_forget(r, "B.EXAMPLE");
	lookup_port(r, "b.example", &cached);
	cr_assert_not(cached);
	fedrpc_resolver_flush(r);
	cr_assert_eq(stats(r).cache_entries, 0);
	lookup_port(r, "b.example", &cached);
	cr_assert_not(cached);
	cr_assert_eq(stats(r).dns_lookups, 3);
	fedrpc_resolver_free(r);
	dnsmasq_stop(d);
}

struct coded {
	struct collect c;
	fedrpc_code    code;
};

static void
coded_cb(void *arg, const fedrpc_status *st, fedrpc_srv_answer *a)
{
	struct coded *k = arg;

	fedrpc_srv_answer_free(a);
	pthread_mutex_lock(&k->c.mtx);
	k->code = st->code;
	k->c.done++;
	pthread_cond_broadcast(&k->c.cv);
	pthread_mutex_unlock(&k->c.mtx);
}

Test(discovery, bad_input, .timeout = 30)
{
	const char *bad_ns[] = {"127.0.0.1:99999", "[::1", "[::1]5353",
	    "nonsense", "1.2.3.4:0", "1.2.3.4:x",
	    /* more than udns's six */
	    "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7"};
	const char *bad_domains[] = {
	    "", ".", "a..b", "a b.example", "-", "x.example/evil", NULL};
	fedrpc_static_route bad_route = {
	    .domain = "b.example", .host = "x", .port = 0};
	fedrpc_resolver_opts o   = {0};
	fedrpc_resolver     *r   = NULL;
	fedrpc_srv_answer   *a   = NULL;
	fedrpc_status        st  = {0};
	struct coded         got = {.c = {.mtx = PTHREAD_MUTEX_INITIALIZER,
	                                .cv    = PTHREAD_COND_INITIALIZER}};

	for (size_t i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
		o.nameserver = bad_ns[i];
		cr_assert_eq(fedrpc_resolver_new(&r, &o, &st),
		    FEDRPC_INVALID_ARGUMENT, "nameserver %s accepted",
		    bad_ns[i]);
		cr_assert_null(r);
	}
	o.nameserver = "127.0.0.1:9";
	o.service    = "not a label";
	cr_assert_eq(fedrpc_resolver_new(&r, &o, &st), FEDRPC_INVALID_ARGUMENT);
	o.service   = NULL;
	o.statics   = &bad_route;
	o.n_statics = 1;
	cr_assert_eq(fedrpc_resolver_new(&r, &o, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "b.example") != NULL, "%s", st.message);

	o.statics    = NULL;
	o.n_statics  = 0;
	o.nameserver = "127.0.0.1:9, [::1]:9"; /* a list is fine */
	cr_assert_eq(
	    fedrpc_resolver_new(&r, &o, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(fedrpc_resolver_nameserver(r), "127.0.0.1:9, [::1]:9");
	for (size_t i = 0; bad_domains[i] != NULL; i++) {
		cr_assert_eq(
		    fedrpc_resolver_lookup(r, bad_domains[i], 100, &a, &st),
		    FEDRPC_INVALID_ARGUMENT, "domain \"%s\" accepted",
		    bad_domains[i]);
		cr_assert_null(a);
	}
	cr_assert_eq(fedrpc_resolver_lookup(r, NULL, 100, &a, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(
	    fedrpc_resolver_lookup_async(r, "b.example", 0, NULL, NULL),
	    FEDRPC_INVALID_ARGUMENT);
	/* Async: a bad name comes back through the callback. */
	cr_assert_eq(fedrpc_resolver_lookup_async(r, "a..b", 0, coded_cb, &got),
	    FEDRPC_OK);
	cr_assert(wait_count(&got.c, 1, TU_WAIT_MS));
	cr_assert_eq(got.code, FEDRPC_INVALID_ARGUMENT);
	fedrpc_resolver_free(r);
}
