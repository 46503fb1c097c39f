/*
 * The connection handle (fedrpc_conn): the connection admission hook and
 * the handlers of its calls see one connection, with its id, the peer's
 * verified names, the remote address and a local peer's user id, whatever
 * the transport (the suite runs again with FEDRPC_WIRE=reqrep), and a
 * refused connection gets no call in.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rt_echo.h"
#include "testcerts.h"
#include "testutil.h"

static char *dir;

static void
make_pki(void)
{
	static const char *const srv_names[] = {"b.example", NULL};
	static const char *const cli_names[] = {"a.example", NULL};

	dir = tu_tmpdir("conn");
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "srv", srv_names);
	testcerts_leaf(dir, "ca", "cli", cli_names);
}

static void
drop_pki(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(conn, .init = make_pki, .fini = drop_pki);

/* What one side (admission or a handler) saw of a connection. */
typedef struct seen {
	uint32_t id;
	char     name[64]; /* first verified name, "" without */
	bool     verified;
	char     addr[64];
	int      port;
	bool     loopback;
	bool     has_uid; /* a local socket's peer user id */
	uint64_t uid;
} seen;

static struct {
	pthread_mutex_t mtx;
	seen            admitted[8], handled[8];
	int             n_admitted, n_handled;
	bool            refuse;
} obs = {.mtx = PTHREAD_MUTEX_INITIALIZER};

static void
record(seen *s, const fedrpc_conn *conn)
{
	const fedrpc_peer *p = fedrpc_conn_peer(conn);

	s->id = fedrpc_conn_id(conn);
	snprintf(s->name, sizeof(s->name), "%s", p->n_names > 0 ? p->names[0] : "");
	s->verified = p->verified;
	snprintf(s->addr, sizeof(s->addr), "%s", fedrpc_conn_remote_addr(conn));
	s->port     = fedrpc_conn_remote_port(conn);
	s->loopback = fedrpc_conn_is_loopback(conn);
	s->has_uid  = fedrpc_conn_peer_uid(conn, &s->uid);
}

static bool
admit(void *arg, const fedrpc_conn *conn)
{
	bool ok;

	(void) arg;
	pthread_mutex_lock(&obs.mtx);
	if (obs.n_admitted < 8)
		record(&obs.admitted[obs.n_admitted++], conn);
	ok = !obs.refuse;
	pthread_mutex_unlock(&obs.mtx);
	return ok;
}

static fedrpc_code
conn_echo_fn(const fedrpc_handler *h, fedrpc_ctx *ctx,
    const ProtobufCMessage *req, ProtobufCMessage *resp, fedrpc_status *st)
{
	const fedrpc_conn *conn = fedrpc_ctx_conn(ctx);

	cr_assert_not_null(conn);
	/* fedrpc_ctx_peer() is the connection's peer. */
	cr_assert_eq(fedrpc_ctx_peer(ctx)->n_names,
	    fedrpc_conn_peer(conn)->n_names);
	pthread_mutex_lock(&obs.mtx);
	if (obs.n_handled < 8)
		record(&obs.handled[obs.n_handled++], conn);
	pthread_mutex_unlock(&obs.mtx);
	return echo_fn(h, ctx, req, resp, st);
}

static fedrpc_server *
start(const fedrpc_server_opts *so, bool refuse)
{
	fedrpc_server *srv;
	fedrpc_status  st = {0};
	fedrpc_handler he = {.method = &echo_method, .fn = conn_echo_fn};

	echo_reset();
	pthread_mutex_lock(&obs.mtx);
	obs.n_admitted = obs.n_handled = 0;
	obs.refuse = refuse;
	pthread_mutex_unlock(&obs.mtx);
	cr_assert_eq(fedrpc_server_new(&srv, so, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_server_add_handler(srv, &he, &st), FEDRPC_OK);
	fedrpc_server_set_conn_admit(srv, admit, NULL);
	cr_assert_eq(fedrpc_server_start(srv, &st), FEDRPC_OK, "%s", st.message);
	return srv;
}

static int
n_admitted(void)
{
	int n;

	pthread_mutex_lock(&obs.mtx);
	n = obs.n_admitted;
	pthread_mutex_unlock(&obs.mtx);
	return n;
}

/* The connections the server lists as open and admitted. */
typedef struct listed {
	int  n;
	seen last;
} listed;

static void
list_one(void *arg, const fedrpc_conn *conn)
{
	listed *l = arg;

	l->n++;
	record(&l->last, conn);
}

static listed
open_conns(fedrpc_server *srv)
{
	listed l = {0};

	fedrpc_server_conns_foreach(srv, list_one, &l);
	return l;
}

static bool
none_open(fedrpc_server *srv)
{
	return open_conns(srv).n == 0;
}

Test(conn, tls_admission_and_handlers_see_one_connection)
{
	char               ca[512], crt[512], key[512], ccrt[512], ckey[512];
	char               url[64], want[64];
	fedrpc_tls_opts    t  = {.ca_file = ca, .cert_file = crt, .key_file = key};
	fedrpc_tls_opts    ct = {.ca_file = ca, .cert_file = ccrt,
	       .key_file = ckey, .server_name = "b.example"};
	fedrpc_server_opts so = {.url = "tls+tcp://127.0.0.1:0", .tls = &t};
	fedrpc_channel_opts co = {.url = url, .tls = &ct,
	    .origin_domain = "a.example", .target_domain = "b.example",
	    .api_version = 1};
	fedrpc_server  *srv;
	fedrpc_channel *ch;
	fedrpc_status   st = {0};

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/srv.crt", dir);
	snprintf(key, sizeof(key), "%s/srv.key", dir);
	snprintf(ccrt, sizeof(ccrt), "%s/cli.crt", dir);
	snprintf(ckey, sizeof(ckey), "%s/cli.key", dir);
	srv = start(&so, false);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", fedrpc_server_port(srv));
	cr_assert_eq(fedrpc_channel_open(&ch, &co, &st), FEDRPC_OK, "%s", st.message);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
		    FEDRPC_OK, "%s", st.message);

	pthread_mutex_lock(&obs.mtx);
	cr_assert_eq(obs.n_admitted, 1, "one connection, admitted once");
	cr_assert_eq(obs.n_handled, 3);
	{
		const seen *a = &obs.admitted[0];

		cr_assert_neq(a->id, 0);
		cr_assert_str_eq(a->name, "a.example");
		cr_assert(a->verified);
		cr_assert(a->loopback);
		cr_assert_gt(a->port, 0);
		snprintf(want, sizeof(want), "127.0.0.1:%d", a->port);
		cr_assert_str_eq(a->addr, want);
		cr_assert_not(a->has_uid, "a TCP peer has no user id");
		for (int i = 0; i < 3; i++) {
			const seen *h = &obs.handled[i];

			cr_assert_eq(h->id, a->id, "call %d on connection %u, "
			    "admitted %u", i, h->id, a->id);
			cr_assert_str_eq(h->name, a->name);
			cr_assert_str_eq(h->addr, a->addr);
			cr_assert_eq(h->port, a->port);
			cr_assert(h->loopback);
		}
	}
	pthread_mutex_unlock(&obs.mtx);
	/* The server lists the one connection, as admission saw it, until
	 * it closes. */
	{
		listed l = open_conns(srv);

		cr_assert_eq(l.n, 1);
		cr_assert_eq(l.last.id, obs.admitted[0].id);
		cr_assert_str_eq(l.last.name, "a.example");
		cr_assert_str_eq(l.last.addr, obs.admitted[0].addr);
	}
	fedrpc_channel_close(ch);
	cr_assert(TU_WAIT_FOR(none_open(srv), TU_WAIT_MS),
	    "a closed connection is still listed");
	fedrpc_server_free(srv);
}

Test(conn, without_tls_no_names_and_ipc_has_no_address)
{
	char               path[600], url[640];
	fedrpc_server_opts so = {.url = url};
	fedrpc_server     *srv;
	fedrpc_channel    *ch;
	fedrpc_status      st = {0};

	snprintf(path, sizeof(path), "%s/conn.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	srv = start(&so, false);
	ch  = echo_channel(url, 0);
	cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	pthread_mutex_lock(&obs.mtx);
	cr_assert_eq(obs.n_admitted, 1);
	cr_assert_eq(obs.n_handled, 1);
	cr_assert_eq(obs.handled[0].id, obs.admitted[0].id);
	cr_assert_str_eq(obs.handled[0].name, "");
	cr_assert_not(obs.handled[0].verified);
	cr_assert_str_eq(obs.handled[0].addr, "");
	cr_assert_eq(obs.handled[0].port, 0);
	cr_assert_not(obs.handled[0].loopback);
	/* The kernel names the local peer: this process's user. */
	cr_assert(obs.admitted[0].has_uid);
	cr_assert(obs.handled[0].has_uid);
	cr_assert_eq(obs.handled[0].uid, (uint64_t) geteuid());
	pthread_mutex_unlock(&obs.mtx);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(conn, tcp_address_and_a_refused_connection_gets_no_call_in)
{
	char               url[64];
	fedrpc_server_opts so = {.url = "tcp://127.0.0.1:0"};
	fedrpc_server     *srv;
	fedrpc_channel    *ch;
	fedrpc_status      st = {0};

	/* Refused: admission saw it, no handler ran. A long reconnect
	 * interval (see echo_channel_reconnect) keeps redials few. */
	srv = start(&so, true);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", fedrpc_server_port(srv));
	ch = echo_channel_reconnect(url, 0, 5000);
	cr_assert_neq(echo_call(ch, "x", 0, 300, NULL, NULL, &st), FEDRPC_OK);
	cr_assert(TU_WAIT_FOR(n_admitted() > 0, TU_WAIT_MS));
	pthread_mutex_lock(&obs.mtx);
	cr_assert_eq(obs.n_handled, 0);
	cr_assert(obs.admitted[0].loopback);
	cr_assert_gt(obs.admitted[0].port, 0);
	cr_assert_str_eq(obs.admitted[0].name, "");
	/* A refused connection is never listed as open. */
	cr_assert_eq(open_conns(srv).n, 0);
	obs.refuse = false;
	pthread_mutex_unlock(&obs.mtx);
	/* Admitted once the hook says yes: the channel's next connection. */
	cr_assert(TU_WAIT_FOR(echo_call(ch, "x", 0, 300, NULL, NULL, &st) ==
	        FEDRPC_OK, TU_WAIT_MS), "%s", st.message);
	pthread_mutex_lock(&obs.mtx);
	cr_assert_gt(obs.n_handled, 0);
	cr_assert_eq(obs.handled[0].id, obs.admitted[obs.n_admitted - 1].id);
	cr_assert_eq(open_conns(srv).last.id, obs.handled[0].id);
	pthread_mutex_unlock(&obs.mtx);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}
