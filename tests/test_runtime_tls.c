/*
 * The runtime over mutual TLS (tls+tcp://): calls carry the peer's
 * verified names to the server, and a handshake that fails makes calls
 * fail fast with the TLS engine's reason.
 */
#include <criterion/criterion.h>

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
		cr_assert_eq(echo_call(ch, "secure", 0, 5000, NULL, &resp, &st),
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
	uint64_t        t0  = now_ms();
	fedrpc_code     code;

	code = echo_call(ch, "x", 0, 10000, NULL, NULL, &st);
	cr_assert(code == FEDRPC_UNAVAILABLE || code == FEDRPC_UNAUTHENTICATED,
	    "%s: %s", fedrpc_code_name(code), st.message);
	cr_assert_lt(now_ms() - t0, 3000, "well under the 10 s deadline");
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
