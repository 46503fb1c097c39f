/*
 * Tearing connections down under load (TLS and TCP): nng_close() returns
 * on both sides (a watchdog fails the test instead of hanging). And peers
 * that abandon the TLS set-up: a listener keeps accepting, a dialer keeps
 * dialing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "lsan.h"
#include "testcerts.h"
#include "testutil.h"

/*
 * nng 1.5.2's req0 and rep0 hand a message to a connection that is being
 * closed now and then, and the transport drops the aio without freeing the
 * message (a leak inside nng, one message per such race, which these tests
 * provoke hundreds of times on purpose). Tests that do not drop
 * connections on purpose keep full leak checking of nng.
 */
TU_LSAN_SUPPRESS(TU_LSAN_NNG_THREADS)

/* Contexts on each side, each with one request or reply in flight. */
#define N_CTX 16
/* A close that takes longer than this hung. */
#define CLOSE_WATCHDOG_MS 15000

static char *dir;

static void
setup(void)
{
	fedrpc_status st = {0};

	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	/* The raw peers below write to connections the other end closed. */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(fedrpc_tls_engine_init(&st), FEDRPC_OK, "%s", st.message);
	dir = tu_tmpdir("tlsdown");
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "srv", (const char *const[]){"b.example", NULL});
	testcerts_leaf(dir, "ca", "cli", (const char *const[]){"a.example", NULL});
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(tls_teardown, .init = setup, .fini = teardown, .timeout = 120);


static fedrpc_tls *
tls_config(bool server, const char *leaf)
{
	char            ca[512], crt[512], key[512];
	fedrpc_tls_opts o  = {0};
	fedrpc_tls     *t  = NULL;
	fedrpc_status   st = {0};

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, leaf);
	snprintf(key, sizeof(key), "%s/%s.key", dir, leaf);
	o.ca_file     = ca;
	o.cert_file   = crt;
	o.key_file    = key;
	o.server_name = server ? NULL : "b.example";
	cr_assert_eq(fedrpc_tls_new(&t, server, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	return t;
}

/* ---- a bare nng rep0 echo server and req0 client over TLS ---- */

typedef struct side side;

/* One context and its aio, looping in its callback. */
typedef struct loop_ctx {
	side    *s;
	nng_ctx  ctx;
	nng_aio *aio;
	bool     sending; /* the aio's operation is a send */
} loop_ctx;

struct side {
	bool       server;
	nng_socket sock;
	fedrpc_tls *tls;
	loop_ctx   ctx[N_CTX];
	int        stop;      /* atomic: callbacks start nothing new */
	unsigned   replies;   /* atomic: replies the client received */
	uint32_t   pipes[64]; /* ring of connection ids; under mtx */
	unsigned   n_pipes;
	pthread_mutex_t mtx;
};

static void
loop_cb(void *arg)
{
	loop_ctx *c  = arg;
	side     *s  = c->s;
	int       rv = nng_aio_result(c->aio);
	nng_msg  *msg;

	if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (rv == 0 && !c->sending)
			nng_msg_free(nng_aio_get_msg(c->aio));
		else if (rv != 0 && c->sending)
			nng_msg_free(nng_aio_get_msg(c->aio));
		nng_aio_set_msg(c->aio, NULL);
		return;
	}
	if (c->sending) {
		if (rv != 0) {
			/* The request or reply was not taken: drop it. */
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			if (!s->server) {
				/* Try again with a new request. */
				tu_sleep_ms(1);
				if (nng_msg_alloc(&msg, 200) != 0)
					return;
				memset(nng_msg_body(msg), 'q', 200);
				nng_aio_set_msg(c->aio, msg);
				nng_ctx_send(c->ctx, c->aio);
				return;
			}
		}
		c->sending = false;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv != 0) {
		/* A client request lost with its connection, or a timeout:
		 * a new request; a server just receives again. */
		if (s->server || rv == NNG_ECLOSED) {
			if (rv != NNG_ECLOSED)
				nng_ctx_recv(c->ctx, c->aio);
			return;
		}
		if (nng_msg_alloc(&msg, 200) != 0)
			return;
		memset(nng_msg_body(msg), 'q', 200);
		c->sending = true;
		nng_aio_set_msg(c->aio, msg);
		nng_ctx_send(c->ctx, c->aio);
		return;
	}
	/* The server echoes the request; the client sends the reply back
	 * as its next request. */
	if (!s->server)
		__atomic_add_fetch(&s->replies, 1, __ATOMIC_RELAXED);
	c->sending = true;
	nng_ctx_send(c->ctx, c->aio);
}

static void
side_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	side *s = arg;

	(void) ev;
	pthread_mutex_lock(&s->mtx);
	s->pipes[s->n_pipes++ % 64] = (uint32_t) nng_pipe_id(pipe);
	pthread_mutex_unlock(&s->mtx);
}

static void
side_open(side *s, bool server, const char *url)
{
	bool tls = strncmp(url, "tls+", 4) == 0;
	int  rv;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mtx, NULL);
	s->server = server;
	s->tls    = tls ? tls_config(server, server ? "srv" : "cli") : NULL;
	cr_assert_eq(server ? nng_rep0_open(&s->sock) : nng_req0_open(&s->sock), 0);
	cr_assert_eq(nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST,
	                 side_pipe_cb, s), 0);
	if (server) {
		nng_listener l;

		cr_assert_eq(nng_listener_create(&l, s->sock, url), 0);
		if (tls)
			cr_assert_eq(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
			                 fedrpc_tls_nng_config(s->tls)), 0);
		cr_assert_eq(rv = nng_listener_start(l, 0), 0, "%s",
		    nng_strerror(rv));
	} else {
		nng_dialer d;

		nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 10);
		nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 50);
		cr_assert_eq(nng_dialer_create(&d, s->sock, url), 0);
		if (tls)
			cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG,
			                 fedrpc_tls_nng_config(s->tls)), 0);
		cr_assert_eq(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
	}
	for (int i = 0; i < N_CTX; i++) {
		loop_ctx *c = &s->ctx[i];

		c->s = s;
		cr_assert_eq(nng_ctx_open(&c->ctx, s->sock), 0);
		cr_assert_eq(nng_aio_alloc(&c->aio, loop_cb, c), 0);
		if (!server)
			nng_aio_set_timeout(c->aio, 1000);
	}
}

static void
side_go(side *s)
{
	for (int i = 0; i < N_CTX; i++) {
		loop_ctx *c = &s->ctx[i];
		nng_msg  *msg;

		if (s->server) {
			nng_ctx_recv(c->ctx, c->aio);
			continue;
		}
		cr_assert_eq(nng_msg_alloc(&msg, 200), 0);
		memset(nng_msg_body(msg), 'q', 200);
		c->sending = true;
		nng_aio_set_msg(c->aio, msg);
		nng_ctx_send(c->ctx, c->aio);
	}
}

/* The latest connection id, 0 if none yet. */
static nng_pipe
side_last_pipe(side *s)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	pthread_mutex_lock(&s->mtx);
	if (s->n_pipes > 0)
		p.id = s->pipes[(s->n_pipes - 1) % 64];
	pthread_mutex_unlock(&s->mtx);
	return p;
}

/* Stops the loops and closes the socket (no nng operation runs
 * concurrently with nng_close). */
static void
side_close(side *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < N_CTX; i++)
		nng_aio_stop(s->ctx[i].aio);
	nng_close(s->sock);
	for (int i = 0; i < N_CTX; i++) {
		nng_msg_free(nng_aio_get_msg(s->ctx[i].aio));
		nng_aio_free(s->ctx[i].aio);
	}
	if (s->tls != NULL)
		fedrpc_tls_free(s->tls);
	pthread_mutex_destroy(&s->mtx);
}

/* side_close() on a thread of its own, so that a hang fails the test. */
typedef struct closer {
	side *s;
	sem_t done;
} closer;

static void *
closer_main(void *arg)
{
	closer *c = arg;

	side_close(c->s);
	sem_post(&c->done);
	return NULL;
}

static bool
close_within(side *s, unsigned ms)
{
	static closer   c; /* may outlive a failed test's frame */
	pthread_t       th;
	struct timespec ts;

	c.s = s;
	sem_init(&c.done, 0, 0);
	cr_assert_eq(pthread_create(&th, NULL, closer_main, &c), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&c.done, &ts) != 0)
		if (errno != EINTR)
			return false; /* the thread is left hanging */
	pthread_join(th, NULL);
	sem_destroy(&c.done);
	return true;
}

/*
 * nng 1.5.2's transports move a message in several operations on one aio
 * (over TLS the send takes three, over TCP the receive takes two), the
 * next submitted from the aio's callback. A connection closed between two
 * of them (the peer went away, or either side closed it) used to leave
 * that aio never completed (core/compat/stream_guard.c): the connection's
 * teardown then waited for it forever, and with it every nng_close() in
 * the process. Connections are dropped here under load, from both ends,
 * many times; every close must still return.
 */
static void
drop_under_load(const char *scheme)
{
	static side srv, cli;
	char        url[64];
	int         port = tu_free_port();
	uint64_t    end;
	unsigned    drops = 0, replies;

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, port);
	side_open(&srv, true, url);
	side_open(&cli, false, url);
	side_go(&srv);
	side_go(&cli);

	/* 4 s of load (or 400 connections) */
	end = tu_now_ms() + 4000;
	while (tu_now_ms() < end && drops < 400) {
		unsigned before = __atomic_load_n(&cli.replies, __ATOMIC_RELAXED);
		nng_pipe p;

		/* Let traffic flow on the new connection, then drop it
		 * from one end or the other. */
		(void) TU_WAIT_FOR(__atomic_load_n(&cli.replies, __ATOMIC_RELAXED) >=
		        before + 1 + drops % 7,
		    2000);
		p = drops % 2 ? side_last_pipe(&cli) : side_last_pipe(&srv);
		if (nng_pipe_id(p) > 0)
			nng_pipe_close(p);
		drops++;
	}
	replies = __atomic_load_n(&cli.replies, __ATOMIC_RELAXED);
	cr_assert(close_within(&cli, CLOSE_WATCHDOG_MS),
	    "the client's nng_close() hung after %u dropped connections",
	    drops);
	cr_assert(close_within(&srv, CLOSE_WATCHDOG_MS),
	    "the server's nng_close() hung after %u dropped connections",
	    drops);
	cr_assert_gt(replies, drops / 2, "%u replies over %u connections",
	    replies, drops);
	cr_log_info("%s: %u connections dropped, %u replies", scheme, drops,
	    replies);
}

Test(tls_teardown, tls_close_returns_after_connections_drop_under_load)
{
	drop_under_load("tls+tcp");
}

Test(tls_teardown, tcp_close_returns_after_connections_drop_under_load)
{
	drop_under_load("tcp");
}

/* ---- peers that abandon the TLS set-up ---- */

/* A wolfSSL context with leaf `name`'s certificate, trusting the CA. */
static WOLFSSL_CTX *
raw_tls_ctx(bool server, const char *name)
{
	char         ca[512], crt[512], key[512];
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method()
						  : wolfTLSv1_3_client_method());

	cr_assert_not_null(ctx);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	cr_assert_eq(wolfSSL_CTX_load_verify_locations(ctx, ca, NULL),
	    WOLFSSL_SUCCESS);
	cr_assert_eq(wolfSSL_CTX_use_certificate_chain_file(ctx, crt),
	    WOLFSSL_SUCCESS);
	cr_assert_eq(wolfSSL_CTX_use_PrivateKey_file(ctx, key,
	                 WOLFSSL_FILETYPE_PEM),
	    WOLFSSL_SUCCESS);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	return ctx;
}

/* A req0 socket dialing url in the background; counts connections. */
typedef struct probe_client {
	nng_socket  sock;
	fedrpc_tls *tls;
	unsigned    up; /* atomic */
} probe_client;

static void
probe_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	probe_client *c = arg;

	(void) pipe;
	(void) ev;
	__atomic_add_fetch(&c->up, 1, __ATOMIC_RELAXED);
}

static void
probe_client_open(probe_client *c, const char *url)
{
	nng_dialer d;

	memset(c, 0, sizeof(*c));
	c->tls = tls_config(false, "cli");
	cr_assert_eq(nng_req0_open(&c->sock), 0);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 100);
	cr_assert_eq(nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST,
	                 probe_pipe_cb, c), 0);
	cr_assert_eq(nng_dialer_create(&d, c->sock, url), 0);
	cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG,
	                 fedrpc_tls_nng_config(c->tls)), 0);
	cr_assert_eq(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
}

static void
probe_client_close(probe_client *c)
{
	nng_close(c->sock);
	fedrpc_tls_free(c->tls);
}

/* Connections the listener's socket took. */
static unsigned srv_pipes;

static void
srv_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void) pipe;
	(void) ev;
	(void) arg;
	__atomic_add_fetch(&srv_pipes, 1, __ATOMIC_RELAXED);
}

/*
 * Whether the listener hands a fresh client's connection to its socket
 * (within TU_WAIT_MS). (The client side alone proves nothing: nng
 * negotiates a connection whether or not its listener still accepts.)
 */
static bool
listener_accepts(const char *url)
{
	probe_client c;
	unsigned     before = __atomic_load_n(&srv_pipes, __ATOMIC_RELAXED);
	bool         up;

	probe_client_open(&c, url);
	up = TU_WAIT_FOR(__atomic_load_n(&srv_pipes, __ATOMIC_RELAXED) > before,
	    TU_WAIT_MS);
	probe_client_close(&c);
	return up;
}

/* A bare rep0 listener on url with the server's TLS configuration. */
static nng_socket
tls_listener(char url[64], fedrpc_tls **tls)
{
	nng_socket   sock;
	nng_listener l;
	int          port;

	*tls = tls_config(true, "srv");
	cr_assert_eq(nng_rep0_open(&sock), 0);
	cr_assert_eq(nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, srv_pipe_cb,
	                 NULL), 0);
	cr_assert_eq(nng_listener_create(&l, sock, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
	                 fedrpc_tls_nng_config(*tls)), 0);
	cr_assert_eq(nng_listener_start(l, 0), 0);
	cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
	snprintf(url, 64, "tls+tcp://127.0.0.1:%d", port);
	return sock;
}

/*
 * A peer whose first record is a close_notify alert, and one that
 * completes the TLS handshake and closes it politely before the SP
 * negotiation: the engine reported both as NNG_ECLOSED, on which an nng
 * 1.5.2 listener never accepts again.
 */
Test(tls_teardown, listener_survives_peers_that_abandon_the_set_up)
{
	static const uint8_t close_notify[] = {21, 3, 3, 0, 2, 1, 0};
	char                 url[64];
	fedrpc_tls          *tls;
	nng_socket           srv  = tls_listener(url, &tls);
	int                  port = atoi(strrchr(url, ':') + 1);
	WOLFSSL_CTX         *ctx  = raw_tls_ctx(false, "cli");
	int                  fd;

	cr_assert(listener_accepts(url), "no connection at first");

	cr_assert_geq(fd = tu_connect(port), 0);
	cr_assert_eq(write(fd, close_notify, sizeof(close_notify)),
	    (ssize_t) sizeof(close_notify));
	tu_sleep_ms(100); /* the alert goes alone, before the close */
	close(fd);
	cr_assert(listener_accepts(url),
	    "the listener stopped accepting after a close_notify alert");

	for (int i = 0; i < 3; i++) {
		WOLFSSL *ssl;

		cr_assert_geq(fd = tu_connect(port), 0);
		cr_assert_not_null(ssl = wolfSSL_new(ctx));
		wolfSSL_set_fd(ssl, fd);
		cr_assert_eq(wolfSSL_connect(ssl), WOLFSSL_SUCCESS, "%d",
		    wolfSSL_get_error(ssl, 0));
		wolfSSL_shutdown(ssl);
		tu_sleep_ms(50);
		wolfSSL_free(ssl);
		close(fd);
		cr_assert(listener_accepts(url),
		    "the listener stopped accepting after a handshake closed "
		    "before the SP negotiation (%d)",
		    i);
	}
	wolfSSL_CTX_free(ctx);
	nng_close(srv);
	fedrpc_tls_free(tls);
}

/* A TLS server that completes each handshake and closes it at once. */
typedef struct rude_server {
	int          lfd;
	int          port;
	WOLFSSL_CTX *ctx;
	unsigned     accepted; /* atomic: TCP connections taken */
	int          stop;     /* atomic */
	pthread_t    thread;
} rude_server;

static void *
rude_main(void *arg)
{
	rude_server *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int      fd = accept(r->lfd, NULL, NULL);
		WOLFSSL *ssl;

		if (fd < 0)
			continue;
		__atomic_add_fetch(&r->accepted, 1, __ATOMIC_RELAXED);
		if ((ssl = wolfSSL_new(r->ctx)) != NULL) {
			wolfSSL_set_fd(ssl, fd);
			if (wolfSSL_accept(ssl) == WOLFSSL_SUCCESS)
				wolfSSL_shutdown(ssl);
			tu_sleep_ms(50);
			wolfSSL_free(ssl);
		}
		close(fd);
	}
	wc_ecc_fp_free(); /* wolfSSL's per-thread cache */
	return NULL;
}

/*
 * A server that accepts the handshake and closes politely before the SP
 * negotiation: the client's engine reported NNG_ECLOSED, on which an nng
 * 1.5.2 dialer never dials again. It must keep dialing.
 */
Test(tls_teardown, dialer_redials_after_a_server_closes_during_set_up)
{
	static rude_server r;
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);
	struct timeval     tv  = {0, 100000};
	probe_client       c;
	char               url[64];

	r.ctx = raw_tls_ctx(true, "srv");
	cr_assert_geq(r.lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(r.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(r.lfd, 16), 0);
	cr_assert_eq(getsockname(r.lfd, (struct sockaddr *) &sa, &len), 0);
	/* accept() wakes up now and then to see the stop flag. */
	setsockopt(r.lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r.port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&r.thread, NULL, rude_main, &r), 0);

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", r.port);
	probe_client_open(&c, url);
	(void) TU_WAIT_FOR(__atomic_load_n(&r.accepted, __ATOMIC_RELAXED) >= 3,
	    TU_WAIT_MS);
	probe_client_close(&c);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(r.thread, NULL);
	close(r.lfd);
	wolfSSL_CTX_free(r.ctx);
	cr_assert_geq(__atomic_load_n(&r.accepted, __ATOMIC_RELAXED), 3,
	    "the dialer stopped after %u connection(s) closed during the "
	    "set-up",
	    r.accepted);
	cr_assert_eq(c.up, 0);
}
