/*
 * The runtime over mutual TLS (tls+tcp://): calls carry the peer's
 * verified names to the server, and a handshake that fails makes calls
 * fail fast with the TLS engine's reason.
 */
#include <criterion/criterion.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include <fedrpc/domain.h>

#include "client/channel_int.h"
#include "rt_echo.h"
#include "testcerts.h"
#include "testutil.h"

static char *dir;

static void
make_pki(void)
{
	static const char *const srv_names[] = {"b.example", NULL};
	static const char *const cli_names[] = {"a.example", NULL};
	static const char *const odd_names[] = {"c.example", NULL};

	dir = tu_tmpdir("rt-tls");
	testcerts_ca(dir, "ca");
	testcerts_ca(dir, "otherca");
	testcerts_leaf(dir, "ca", "srv", srv_names);
	testcerts_leaf(dir, "ca", "cli", cli_names);
	testcerts_leaf(dir, "otherca", "stranger", odd_names);
}

static void
drop_pki(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(rt_tls, .init = make_pki, .fini = drop_pki);

/* TLS options for leaf `name` trusting CA `ca`; strings live in `buf`. */
static fedrpc_tls_opts
tls_opts(const char *name, const char *ca, char buf[3][512])
{
	fedrpc_tls_opts o = {0};

	snprintf(buf[0], 512, "%s/%s.crt", dir, ca);
	snprintf(buf[1], 512, "%s/%s.crt", dir, name);
	snprintf(buf[2], 512, "%s/%s.key", dir, name);
	o.ca_file   = buf[0];
	o.cert_file = buf[1];
	o.key_file  = buf[2];
	return o;
}

static fedrpc_server *
tls_server(const char *leaf, const char *ca, char url[64])
{
	char               b[3][512];
	fedrpc_tls_opts    t  = tls_opts(leaf, ca, b);
	fedrpc_server_opts so = {.url = "tls+tcp://127.0.0.1:0", .tls = &t};
	fedrpc_server     *srv = echo_server_start(&so);

	cr_assert_not_null(srv);
	cr_assert_gt(fedrpc_server_port(srv), 0);
	snprintf(url, 64, "tls+tcp://127.0.0.1:%d", fedrpc_server_port(srv));
	return srv;
}

static fedrpc_channel *
tls_channel(const char *url, const char *leaf, const char *ca,
    const char *server_name)
{
	char                b[3][512];
	fedrpc_tls_opts     t  = tls_opts(leaf, ca, b);
	fedrpc_channel_opts co = {
	    .url              = url,
	    .tls              = &t,
	    .origin_domain    = "a.example",
	    .reconnect_min_ms = 50,
	    .reconnect_max_ms = 500,
	};
	fedrpc_channel *ch;
	fedrpc_status   st = {0};

	t.server_name = server_name;
	cr_assert_eq(fedrpc_channel_open(&ch, &co, &st), FEDRPC_OK, "%s",
	    st.message);
	return ch;
}

Test(rt_tls, mutual_tls_call_carries_the_peer_names)
{
	char            url[64];
	fedrpc_server  *srv = tls_server("srv", "ca", url);
	fedrpc_channel *ch  = tls_channel(url, "cli", "ca", "b.example");
	fedrpc_status   st  = {0};
	Fedrpc__Testing__V1__EchoResponse *resp;

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(echo_call(ch, "secure", 0, TU_CALL_MS, NULL, &resp, &st),
		    FEDRPC_OK, "%s: %s", fedrpc_code_name(st.code), st.message);
		cr_assert_eq(resp->payload.len, 6);
		cr_assert_eq(resp->n_peer_names, 1);
		cr_assert_str_eq(resp->peer_names[0], "a.example");
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	cr_assert(fedrpc_channel_is_connected(ch));
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

static void
expect_tls_failure(const char *leaf, const char *ca, const char *name,
    const char *reason)
{
	char            url[64];
	fedrpc_server  *srv = tls_server("srv", "ca", url);
	fedrpc_channel *ch  = tls_channel(url, leaf, ca, name);
	fedrpc_status   st  = {0};
	uint64_t        t0  = tu_now_ms();
	fedrpc_code     code;

	code = echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st);
	cr_assert(code == FEDRPC_UNAVAILABLE || code == FEDRPC_UNAUTHENTICATED,
	    "%s: %s", fedrpc_code_name(code), st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS, "under half of the deadline");
	cr_assert(strstr(st.message, reason) != NULL, "%s", st.message);
	cr_assert_eq(echo_handled(), 0);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(rt_tls, untrusted_server_fails_fast_with_the_reason)
{
	/* The client trusts another CA than the one of the server. */
	expect_tls_failure("stranger", "otherca", "b.example", "not trusted");
}

Test(rt_tls, wrong_server_name_fails_fast_with_the_reason)
{
	expect_tls_failure("cli", "ca", "c.example", "name mismatch");
}

/*
 * Fifty clients, each with its own certificate (client-NN.example), call
 * one server at once from their own threads; the handler must see, for
 * every request, exactly the names of the client that sent it.
 */
#define N_CLIENTS 50
#define N_CALLS   4

typedef struct peer_client {
	char            url[64];
	int             index;
	fedrpc_channel *ch;
	int             mismatches; /* calls whose handler saw other names */
	int             failures;   /* calls that did not succeed */
	char            why[FEDRPC_STATUS_MESSAGE_MAX];
} peer_client;

static void *
peer_client_run(void *arg)
{
	peer_client *pc = arg;
	char         mine[32], payload[32];

	snprintf(mine, sizeof(mine), "client-%02d.example", pc->index);
	snprintf(payload, sizeof(payload), "from %02d", pc->index);
	for (int i = 0; i < N_CALLS; i++) {
		Fedrpc__Testing__V1__EchoResponse *resp = NULL;
		fedrpc_status                      st   = {0};

		if (echo_call(pc->ch, payload, 0, 20000, NULL, &resp, &st) !=
		    FEDRPC_OK) {
			pc->failures++;
			snprintf(pc->why, sizeof(pc->why), "%s", st.message);
			continue;
		}
		if (resp->n_peer_names != 1 ||
		    strcmp(resp->peer_names[0], mine) != 0 ||
		    resp->payload.len != strlen(payload) ||
		    memcmp(resp->payload.data, payload, resp->payload.len) != 0)
			pc->mismatches++;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return NULL;
}

Test(rt_tls, fifty_clients_each_seen_as_itself_by_the_handler,
    .timeout = 120)
{
	char           url[64];
	fedrpc_server *srv = tls_server("srv", "ca", url);
	peer_client    pcs[N_CLIENTS];
	pthread_t      th[N_CLIENTS];

	for (int i = 0; i < N_CLIENTS; i++) {
		char        name[32], leaf[32];
		const char *dns[] = {name, NULL};

		snprintf(name, sizeof(name), "client-%02d.example", i);
		snprintf(leaf, sizeof(leaf), "client-%02d", i);
		testcerts_leaf(dir, "ca", leaf, dns);
		pcs[i] = (peer_client){.index = i};
		pcs[i].ch = tls_channel(url, leaf, "ca", "b.example");
	}
	for (int i = 0; i < N_CLIENTS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, peer_client_run, &pcs[i]), 0);
	for (int i = 0; i < N_CLIENTS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N_CLIENTS; i++) {
		cr_expect_eq(pcs[i].failures, 0, "client %d: %s", i, pcs[i].why);
		cr_expect_eq(pcs[i].mismatches, 0,
		    "client %d: the handler saw another peer", i);
		fedrpc_channel_close(pcs[i].ch);
	}
	cr_assert_eq(echo_handled(), N_CLIENTS * N_CALLS);
	fedrpc_server_free(srv);
}

/*
 * fedrpc_target_check() (fedctl discover --connect) reports a target whose
 * listener finishes handshakes but whose server never answers, instead of
 * calling it reachable; a serving one passes.
 */
Test(rt_tls, target_check_needs_an_answer_not_only_a_handshake)
{
	char            b[3][512], url[64];
	fedrpc_tls_opts st_opts = tls_opts("srv", "ca", b);
	fedrpc_tls_opts cl_opts;
	char            cb[3][512];
	fedrpc_tls     *tls;
	fedrpc_status   st = {0};
	fedrpc_server  *srv;
	nng_socket      mute;
	nng_listener    l;
	int             port;
	fedrpc_peer     peer;
	uint64_t        us;

	cl_opts             = tls_opts("cli", "ca", cb);
	cl_opts.server_name = "b.example";
	/* A listener whose socket never reads a request. */
	cr_assert_eq(fedrpc_tls_new(&tls, true, &st_opts, &st), FEDRPC_OK, "%s",
	    st.message);
	if (chan_wire_wanted("tls+tcp://")) {
		/* The wire protocol: a stream listener that takes the
		 * connection (TLS included) and never reads from it. */
		nng_stream_listener *sl;
		nng_aio             *acc;

		cr_assert_eq(nng_stream_listener_alloc(&sl,
		                 "tls+tcp://127.0.0.1:0"), 0);
		cr_assert_eq(nng_stream_listener_set_ptr(sl, NNG_OPT_TLS_CONFIG,
		                 fedrpc_tls_nng_config(tls)), 0);
		cr_assert_eq(nng_stream_listener_listen(sl), 0);
		cr_assert_eq(nng_stream_listener_get_int(sl,
		                 NNG_OPT_TCP_BOUND_PORT, &port), 0);
		cr_assert_eq(nng_aio_alloc(&acc, NULL, NULL), 0);
		nng_stream_listener_accept(sl, acc);
		snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
		cr_assert_eq(fedrpc_target_check(url, &cl_opts, 2000, &peer,
		                 &us, &st),
		    FEDRPC_DEADLINE_EXCEEDED, "%s: %s",
		    fedrpc_code_name(st.code), st.message);
		cr_assert(strstr(st.message, "did not take the connection") !=
		        NULL, "%s", st.message);
		nng_aio_wait(acc);
		if (nng_aio_result(acc) == 0)
			nng_stream_free(nng_aio_get_output(acc, 0));
		nng_aio_free(acc);
		nng_stream_listener_free(sl);
	} else {
		cr_assert_eq(nng_rep0_open(&mute), 0);
		cr_assert_eq(nng_listener_create(&l, mute,
		                 "tls+tcp://127.0.0.1:0"), 0);
		cr_assert_eq(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
		                 fedrpc_tls_nng_config(tls)), 0);
		cr_assert_eq(nng_listener_start(l, 0), 0);
		cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT,
		                 &port), 0);
		snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
		cr_assert_eq(fedrpc_target_check(url, &cl_opts, 2000, &peer,
		                 &us, &st),
		    FEDRPC_DEADLINE_EXCEEDED, "%s: %s",
		    fedrpc_code_name(st.code), st.message);
		cr_assert(strstr(st.message, "did not answer") != NULL, "%s",
		    st.message);
		nng_close(mute);
	}
	fedrpc_tls_free(tls);

	srv = tls_server("srv", "ca", url);
	cr_assert_eq(fedrpc_target_check(url, &cl_opts, 10000, &peer, &us, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(peer.n_names, 1);
	cr_assert_str_eq(peer.names[0], "b.example");
	fedrpc_peer_clear(&peer);
	fedrpc_server_free(srv);
}

/*
 * The server's certificate replaced (fedrpc_server_set_tls, as a daemon's
 * reload does) again and again while clients keep connecting and calling:
 * every call is answered, over a connection made with the old or the new
 * configuration. The connection and call paths run meanwhile on nng's
 * threads and the workers (the ThreadSanitizer build checks them against
 * the swap). Bounded by counts.
 */
#define RELOAD_CLIENTS 4
#define RELOAD_CONNS 8 /* connections each client makes, one by one */
#define RELOADS 20

typedef struct reload_client {
	const char *url;
	int         ok, failed;
	char        why[FEDRPC_STATUS_MESSAGE_MAX];
} reload_client;

static void *
reload_client_run(void *arg)
{
	reload_client *c = arg;

	for (int i = 0; i < RELOAD_CONNS; i++) {
		fedrpc_channel *ch = tls_channel(c->url, "cli", "ca", "b.example");
		Fedrpc__Testing__V1__EchoResponse *resp = NULL;
		fedrpc_status                      st   = {0};

		if (echo_call(ch, "reload", 0, TU_WAIT_MS, NULL, &resp, &st) ==
		    FEDRPC_OK) {
			c->ok++;
		} else {
			c->failed++;
			snprintf(c->why, sizeof(c->why), "%s", st.message);
		}
		if (resp != NULL)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		fedrpc_status_reset(&st);
		fedrpc_channel_close(ch);
	}
	return NULL;
}

Test(rt_tls, certificate_replaced_under_connecting_clients, .timeout = 120)
{
	char           url[64], b[3][512];
	fedrpc_server *srv = tls_server("srv", "ca", url);
	fedrpc_tls_opts t  = tls_opts("srv", "ca", b);
	reload_client  cs[RELOAD_CLIENTS];
	pthread_t      th[RELOAD_CLIENTS];

	for (int i = 0; i < RELOAD_CLIENTS; i++) {
		cs[i] = (reload_client){.url = url};
		cr_assert_eq(
		    pthread_create(&th[i], NULL, reload_client_run, &cs[i]), 0);
	}
	for (int i = 0; i < RELOADS; i++) {
		fedrpc_status st = {0};

		cr_assert_eq(fedrpc_server_set_tls(srv, &t, &st), FEDRPC_OK,
		    "reload %d: %s", i, st.message);
	}
	for (int i = 0; i < RELOAD_CLIENTS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < RELOAD_CLIENTS; i++)
		cr_expect_eq(cs[i].failed, 0, "client %d: %s", i, cs[i].why);
	cr_assert_eq(echo_handled(), RELOAD_CLIENTS * RELOAD_CONNS);
	fedrpc_server_free(srv);
}
