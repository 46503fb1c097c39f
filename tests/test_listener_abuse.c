/*
 * The federation listener keeps serving through abuse: thousands of
 * connections from several threads that reset or close at every point of
 * the TLS set-up (before it, mid-handshake, right after it, during the
 * connection preface), send garbage, or half-close. After each round a new
 * peer's call succeeds within its normal deadline.
 *
 * Such connections used to stop an nng 1.5.2 listener for good: an error
 * of NNG_ECLOSED during a connection's set-up makes it never accept again,
 * and nng passes raw TCP errors on (EPIPE becomes NNG_ECLOSED).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "core/compat/compat.h"
#include "rt_echo.h"
#include "testcerts.h"
#include "testutil.h"

/* Abusive connections per thread and round, threads, rounds. */
#define PER_THREAD 150
#define THREADS 4
#define ROUNDS 4
/* A normal call's deadline: generous for a loaded machine. */
#define CALL_DEADLINE_MS 10000

static char *dir;

static void
setup(void)
{
	fedrpc_status st = {0};

	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN); /* the raw peers write to closed sockets */
	cr_assert_eq(fedrpc_tls_engine_init(&st), FEDRPC_OK, "%s", st.message);
	dir = tu_tmpdir("abuse");
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

TestSuite(listener_abuse, .init = setup, .fini = teardown, .timeout = 280);

static fedrpc_tls_opts
tls_opts(const char *leaf, char buf[3][512])
{
	fedrpc_tls_opts o = {0};

	snprintf(buf[0], 512, "%s/ca.crt", dir);
	snprintf(buf[1], 512, "%s/%s.crt", dir, leaf);
	snprintf(buf[2], 512, "%s/%s.key", dir, leaf);
	o.ca_file   = buf[0];
	o.cert_file = buf[1];
	o.key_file  = buf[2];
	return o;
}

/* A new peer (its own channel, so its own connection) calls Echo. */
static void
assert_new_peer_is_served(int port, const char *after)
{
	char                url[64], b[3][512];
	fedrpc_tls_opts     t  = tls_opts("cli", b);
	fedrpc_channel_opts co = {.url = url, .tls = &t,
	    .origin_domain = "a.example"};
	fedrpc_channel     *ch;
	fedrpc_status       st = {0};
	fedrpc_code         code;

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	t.server_name = "b.example";
	cr_assert_eq(fedrpc_channel_open(&ch, &co, &st), FEDRPC_OK, "%s",
	    st.message);
	code = echo_call(ch, "still there?", 0, CALL_DEADLINE_MS, NULL, NULL,
	    &st);
	fedrpc_channel_close(ch);
	cr_assert_eq(code, FEDRPC_OK, "after %s: %s: %s", after,
	    fedrpc_code_name(code), st.message);
}

/* ---- abusive peers ---- */

typedef enum abuse {
	CLOSE_AT_ONCE,        /* connect, FIN */
	RESET_AT_ONCE,        /* connect, RST */
	GARBAGE,              /* bytes that are no TLS record, then FIN */
	HELLO_RESET,          /* a ClientHello without certificate, RST */
	HELLO_WAIT_RESET,     /* ... wait for the server's flight, RST */
	HELLO_WAIT_CLOSE,     /* ... wait for the server's flight, FIN */
	HANDSHAKE_RESET,      /* a full handshake, RST */
	HANDSHAKE_HALF_CLOSE, /* a full handshake, shutdown(SHUT_WR) */
	HANDSHAKE_NOTIFY,     /* a full handshake, close_notify, FIN */
	PREFACE_RESET,        /* handshake, half a connection preface, RST */
	N_ABUSE
} abuse;

/* Closes with an RST instead of a FIN. */
static void
reset_close(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Waits (bounded) until fd has something to read, and reads some of it. */
static void
read_some(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char          buf[512];

	if (poll(&p, 1, 2000) == 1)
		(void) !read(fd, buf, sizeof(buf));
}

typedef struct abuser {
	int          port;
	unsigned     seed;
	WOLFSSL_CTX *with_cert;    /* a valid peer's certificate */
	WOLFSSL_CTX *without_cert; /* no certificate at all */
	unsigned     done;
} abuser;

static WOLFSSL_CTX *
client_ctx(bool with_cert)
{
	char         b[3][512];
	fedrpc_tls_opts o = tls_opts("cli", b);
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());

	cr_assert_not_null(ctx);
	cr_assert_eq(wolfSSL_CTX_load_verify_locations(ctx, o.ca_file, NULL),
	    WOLFSSL_SUCCESS);
	if (with_cert) {
		cr_assert_eq(wolfSSL_CTX_use_certificate_chain_file(
		                 ctx, o.cert_file), WOLFSSL_SUCCESS);
		cr_assert_eq(wolfSSL_CTX_use_PrivateKey_file(ctx, o.key_file,
		                 WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Sends a ClientHello on a non-blocking socket and returns. */
static WOLFSSL *
send_hello(WOLFSSL_CTX *ctx, int fd)
{
	WOLFSSL *ssl = wolfSSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	wolfSSL_set_fd(ssl, fd);
	(void) wolfSSL_connect(ssl); /* WANT_READ once the hello is out */
	return ssl;
}

static WOLFSSL *
handshake(WOLFSSL_CTX *ctx, int fd)
{
	WOLFSSL *ssl = wolfSSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	wolfSSL_set_fd(ssl, fd);
	if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
		wolfSSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void
abuse_once(abuser *a, abuse kind)
{
	static const char garbage[] = "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
	static const uint8_t half_preface[] = {0, 'S', 'P'};
	int      fd = tu_connect(a->port);
	WOLFSSL *ssl = NULL;

	if (fd < 0)
		return;
	switch (kind) {
	case CLOSE_AT_ONCE:
		close(fd);
		return;
	case RESET_AT_ONCE:
		reset_close(fd);
		return;
	case GARBAGE:
		(void) !write(fd, garbage, sizeof(garbage) - 1);
		close(fd);
		return;
	case HELLO_RESET:
	case HELLO_WAIT_RESET:
	case HELLO_WAIT_CLOSE:
		ssl = send_hello(a->without_cert, fd);
		if (kind != HELLO_RESET)
			read_some(fd);
		break;
	case HANDSHAKE_RESET:
	case HANDSHAKE_HALF_CLOSE:
	case HANDSHAKE_NOTIFY:
	case PREFACE_RESET:
		ssl = handshake(a->with_cert, fd);
		if (ssl != NULL && kind == HANDSHAKE_NOTIFY)
			wolfSSL_shutdown(ssl);
		if (ssl != NULL && kind == PREFACE_RESET)
			wolfSSL_write(ssl, half_preface, sizeof(half_preface));
		if (kind == HANDSHAKE_HALF_CLOSE) {
			shutdown(fd, SHUT_WR);
			read_some(fd);
		}
		break;
	default:
		break;
	}
	wolfSSL_free(ssl);
	if (kind == HELLO_WAIT_CLOSE || kind == HANDSHAKE_HALF_CLOSE ||
	    kind == HANDSHAKE_NOTIFY)
		close(fd);
	else
		reset_close(fd);
}

static void *
abuser_main(void *arg)
{
	abuser *a = arg;

	for (unsigned i = 0; i < PER_THREAD; i++) {
		abuse_once(a, (abuse) (rand_r(&a->seed) % N_ABUSE));
		a->done++;
	}
	wc_ecc_fp_free(); /* wolfSSL's per-thread cache */
	return NULL;
}

static void
abuse_round(int port, unsigned round)
{
	abuser    a[THREADS];
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++) {
		a[i] = (abuser){.port = port, .seed = round * 100u + (unsigned) i,
		    .with_cert = client_ctx(true),
		    .without_cert = client_ctx(false)};
		cr_assert_eq(pthread_create(&t[i], NULL, abuser_main, &a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(a[i].done, PER_THREAD);
		wolfSSL_CTX_free(a[i].with_cert);
		wolfSSL_CTX_free(a[i].without_cert);
	}
}

Test(listener_abuse, new_peers_are_served_through_thousands_of_bad_connections)
{
	char               b[3][512];
	fedrpc_tls_opts    t  = tls_opts("srv", b);
	fedrpc_server_opts so = {.url = "tls+tcp://127.0.0.1:0", .tls = &t};
	fedrpc_server     *srv = echo_server_start(&so);
	int                port;

	cr_assert_not_null(srv);
	port = fedrpc_server_port(srv);
	cr_assert(stream_guard_active() && epipe_guard_active(),
	    "the nng 1.5.2 work-arounds are not in effect in this program");
	assert_new_peer_is_served(port, "no abuse yet");
	for (unsigned r = 0; r < ROUNDS; r++) {
		char what[64];

		abuse_round(port, r);
		snprintf(what, sizeof(what), "%u bad connections",
		    (r + 1) * THREADS * PER_THREAD);
		assert_new_peer_is_served(port, what);
	}
	fedrpc_server_free(srv);
}
