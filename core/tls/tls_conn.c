/*
 * The engine's connection operations: one WOLFSSL object per nng TLS
 * connection. nng calls these with the connection locked, on its own
 * threads; wolfSSL's I/O callbacks reach nng's buffers on the same stack,
 * so there is no queue, copy or thread of our own in between.
 *
 * nng may call recv/send before handshake() has reported success, and
 * wolfSSL finishes a handshake inside read and write, so every operation
 * checks whether the handshake has just finished; the first time it has,
 * the peer's identity is captured for fedrpc_tls_peer_get().
 *
 * Handshake outcomes go to the config (fedrpc_tls_last_error). A server
 * knows it accepted a client when its handshake finishes. A TLS 1.3 client
 * finishes before the server has judged the client's certificate, and a
 * refusal arrives as an alert on the first read, so a client counts as
 * accepted only once it has read application data.
 *
 * The error values returned while a connection is being set up are chosen
 * for nng 1.5.2's dialers and listeners (see conn_error()).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "core/base/observe.h"
#include "tls_internal.h"

/* Engine state of one connection; nng allocates it zeroed. */
struct nng_tls_engine_conn {
	void                  *stream;      /* nng's connection: I/O context */
	nng_tls_engine_config *cfg;         /* held alive by nng for the conn */
	WOLFSSL               *ssl;         /* owned */
	const char            *server_name; /* client: borrowed from cfg */
	bool                   server;      /* we accepted this connection */
	bool                   finished;    /* handshake done, peer captured */
	bool                   accepted;    /* peer accepted us: outcome known */
	bool                   reported;    /* a failure was recorded/logged */
	bool                   closing;     /* close() was called */
	bool                   heard;       /* the peer has sent us something */
	bool                   app;         /* application data was read: the
					     * SP negotiation is over */
	uint64_t               start_ns;    /* when the connection started */
	char                   remote[64];  /* peer address, for logs */
	char                   refusal[TLS_REASON_MAX]; /* why conn_verify()
					     * refused the peer; "" if not */
	fedrpc_peer            peer;        /* names owned; valid if finished */
};

static uint64_t
conn_now_ns(void)
{
	return fedrpc_clock_ns();
}

/*
 * The peer address, for log lines. nng's engine context is its TLS
 * connection, which begins with an nng_stream (true in 1.5.x, checked by
 * the tests through the log line); failing that the address is "?".
 */
static void
conn_remote(nng_tls_engine_conn *conn)
{
	nng_sockaddr sa;
	char         ip[INET6_ADDRSTRLEN];

	snprintf(conn->remote, sizeof(conn->remote), "?");
	if (nng_stream_get_addr(conn->stream, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET &&
	    inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)) != NULL)
		snprintf(conn->remote, sizeof(conn->remote), "%s:%u", ip,
		    ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 &&
	    inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)) != NULL)
		snprintf(conn->remote, sizeof(conn->remote), "[%s]:%u", ip,
		    ntohs(sa.s_in6.sa_port));
}

/*
 * wolfSSL's I/O goes straight to nng's per-connection buffers: no copies
 * or threads of our own. Both run inside a wolfSSL call made by one of
 * the operations below, so under nng's connection lock.
 */
static int
conn_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	nng_tls_engine_conn *conn = arg;
	size_t               n    = (size_t) sz;

	(void) ssl;
	switch (nng_tls_engine_recv(conn->stream, (uint8_t *) buf, &n)) {
	case 0:
		conn->heard = true;
		return (int) n;
	case NNG_EAGAIN:
		return WOLFSSL_CBIO_ERR_WANT_READ;
	case NNG_ECLOSED:
	case NNG_ECONNSHUT:
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	case NNG_ECONNRESET:
		return WOLFSSL_CBIO_ERR_CONN_RST;
	default:
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

static int
conn_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	nng_tls_engine_conn *conn = arg;
	size_t               n    = (size_t) sz;

	(void) ssl;
	switch (nng_tls_engine_send(conn->stream, (const uint8_t *) buf, &n)) {
	case 0:
		return (int) n;
	case NNG_EAGAIN:
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	case NNG_ECLOSED:
	case NNG_ECONNSHUT:
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	case NNG_ECONNRESET:
		return WOLFSSL_CBIO_ERR_CONN_RST;
	default:
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
}

/*
 * wolfSSL's verify callback, on every certificate of the peer's chain
 * after its own checks (this build always calls it for the leaf). It adds
 * fedrpc's rules for the leaf (tls_leaf.c) and never overrides a failure:
 * wolfSSL's verdict `ok` stands unless the leaf fails those rules too.
 */
static int
conn_verify(int ok, WOLFSSL_X509_STORE_CTX *store)
{
	nng_tls_engine_conn *conn = store->userCtx;

	/* No certificate at all: wolfSSL's own rule (required or optional)
	 * decides. */
	if (!ok || conn == NULL || store->error_depth != 0 ||
	    store->totalCerts < 1)
		return ok;
	if (store->certs == NULL) {
		snprintf(conn->refusal, sizeof(conn->refusal),
		    "peer certificate not available to check");
		return 0;
	}
	return tls_leaf_check(store->certs[0].buffer, store->certs[0].length,
	    conn->refusal, sizeof(conn->refusal));
}

static int
conn_init(nng_tls_engine_conn *conn, void *stream, nng_tls_engine_config *cfg)
{
	WOLFSSL_CTX *ctx;
	const char  *name;

	tls_engine_thread_enter();
	conn->stream   = stream;
	conn->cfg      = cfg;
	conn->server   = cfg->mode == NNG_TLS_MODE_SERVER;
	conn->start_ns = conn_now_ns();
	ctx            = tls_ctx_freeze(cfg, &name);
	if ((conn->ssl = wolfSSL_new(ctx)) == NULL)
		return NNG_ENOMEM;
	wolfSSL_SSLSetIORecv(conn->ssl, conn_io_recv);
	wolfSSL_SSLSetIOSend(conn->ssl, conn_io_send);
	wolfSSL_SetIOReadCtx(conn->ssl, conn);
	wolfSSL_SetIOWriteCtx(conn->ssl, conn);
	/* Peers we verify also meet conn_verify()'s rules; the mode is the
	 * config's, as the CTX set it. */
	if (wolfSSL_get_verify_mode(conn->ssl) != WOLFSSL_VERIFY_NONE) {
		wolfSSL_set_verify(conn->ssl, wolfSSL_get_verify_mode(conn->ssl),
		    conn_verify);
		wolfSSL_SetCertCbCtx(conn->ssl, conn);
	}
	if (!conn->server && name != NULL) {
		/* The name comes from the config, never from the URL:
		 * sent as SNI, and the server's certificate must carry it. */
		conn->server_name = name;
		if (wolfSSL_UseSNI(conn->ssl, WOLFSSL_SNI_HOST_NAME, name,
		        (unsigned short) strlen(name)) != WOLFSSL_SUCCESS ||
		    wolfSSL_check_domain_name(conn->ssl, name) !=
		        WOLFSSL_SUCCESS) {
			wolfSSL_free(conn->ssl);
			conn->ssl = NULL;
			return NNG_ENOMEM;
		}
	}
	conn_remote(conn);
	return 0;
}

static void
conn_fini(nng_tls_engine_conn *conn)
{
	fedrpc_peer_clear(&conn->peer);
	if (conn->ssl != NULL)
		wolfSSL_free(conn->ssl);
	conn->ssl = NULL;
}

/* The handshake has just finished: capture who the peer is. */
static void
conn_finish(nng_tls_engine_conn *conn)
{
	conn->finished = true;
	tls_peer_describe(&conn->peer, conn->ssl,
	    (conn_now_ns() - conn->start_ns) / 1000);
}

/* The peer has accepted us (see the top of the file). */
static void
conn_accept(nng_tls_engine_conn *conn)
{
	const char *group;

	conn->accepted = true;
	conn->reported = false;
	tls_ctx_record_success(conn->cfg);
	group = wolfSSL_get_curve_name(conn->ssl);
	FEDRPC_LOG_DEBUG("tls: %s %s %s %s %s in %llu us",
	    conn->server ? "accepted" : "connected to", conn->remote,
	    conn->peer.version, conn->peer.cipher, group ? group : "?",
	    (unsigned long long) conn->peer.handshake_us);
}

/* Notes a finished handshake after any wolfSSL call; a server has then
 * accepted its client. */
static inline void
conn_check(nng_tls_engine_conn *conn)
{
	if (!conn->finished && wolfSSL_is_init_finished(conn->ssl)) {
		conn_finish(conn);
		if (conn->server)
			conn_accept(conn);
	}
}

/* Records and logs a failure that ended the handshake (once). */
static void
conn_report(nng_tls_engine_conn *conn, int err)
{
	char        reason[TLS_REASON_MAX];
	fedrpc_code code;

	if (conn->accepted || conn->reported || conn->closing)
		return;
	conn->reported = true;
	if (conn->refusal[0] != '\0') {
		/* Refused by conn_verify(): its reason, not wolfSSL's
		 * generic "verify callback" error. */
		snprintf(reason, sizeof(reason), "%s", conn->refusal);
		code = conn->server ? FEDRPC_UNAUTHENTICATED : FEDRPC_UNAVAILABLE;
	} else
		code = tls_reason_classify(conn->ssl, err, conn->server,
		    conn->server_name, reason, sizeof(reason));
	fedrpc_observe_tls_failure(&(fedrpc_tls_event){.server = conn->server,
	    .code = code, .reason = reason, .remote = conn->remote});
	fedrpc_log(tls_ctx_record_failure(conn->cfg, code, reason)
	        ? FEDRPC_LOG_WARN
	        : FEDRPC_LOG_DEBUG,
	    "tls: %s handshake %s %s failed: %s",
	    conn->server ? "server" : "client", conn->server ? "from" : "to",
	    conn->remote, reason);
}

/*
 * Turns a failed wolfSSL call into an nng error.
 *
 * Until the SP negotiation is over (no application data read yet), an
 * error ends the dialer's or listener's attempt, and nng 1.5.2 acts on
 * its value: a listener given anything but ECONNABORTED, ECONNRESET,
 * ETIMEDOUT or EPEERAUTH stops accepting for 100 ms (every other peer
 * waits), and given ECLOSED it never accepts again; a dialer given ECLOSED
 * never redials. So a failed or abandoned set-up is only ever EPEERAUTH
 * (refused) or ECONNABORTED (the peer went away); once the connection is
 * up, errors go to its pipe and keep their meaning.
 */
static int
conn_error(nng_tls_engine_conn *conn, int ret)
{
	int err = wolfSSL_get_error(conn->ssl, ret);

	conn_check(conn);
	switch (err) {
	case WOLFSSL_ERROR_WANT_READ:
	case WOLFSSL_ERROR_WANT_WRITE:
		/* nng calls again with the same buffer, as wolfSSL needs. */
		return NNG_EAGAIN;
	case WOLFSSL_ERROR_ZERO_RETURN:
		conn_report(conn, ZERO_RETURN);
		return conn->app ? NNG_ECLOSED : NNG_ECONNABORTED;
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		conn_report(conn, err);
		return conn->app ? NNG_ECONNSHUT : NNG_ECONNABORTED;
	default:
		conn_report(conn, err);
		return conn->app ? NNG_ECRYPTO : NNG_EPEERAUTH;
	}
}

static int
conn_handshake(nng_tls_engine_conn *conn)
{
	int ret;

	tls_engine_thread_enter();
	if ((ret = wolfSSL_negotiate(conn->ssl)) != WOLFSSL_SUCCESS)
		return conn_error(conn, ret);
	conn_check(conn);
	return 0;
}

/*
 * Fills as much of buf as records already received allow: nng completes
 * a read as soon as it returns data, and a short read costs the transport
 * another trip through its task queue. Stops at the first record not yet
 * here; an error after some data waits (wolfSSL keeps it) for the next
 * call.
 */
static int
conn_recv(nng_tls_engine_conn *conn, uint8_t *buf, size_t *szp)
{
	size_t want = *szp > INT_MAX ? INT_MAX : *szp;
	size_t got  = 0;
	int    ret;

	tls_engine_thread_enter();
	while (got < want) {
		ret = wolfSSL_read(conn->ssl, buf + got, (int) (want - got));
		if (ret <= 0) {
			if (got == 0)
				return conn_error(conn, ret);
			break;
		}
		got += (size_t) ret;
	}
	conn_check(conn);
	if (!conn->accepted)
		conn_accept(conn);
	conn->app = true;
	*szp      = got;
	return 0;
}

static int
conn_send(nng_tls_engine_conn *conn, const uint8_t *buf, size_t *szp)
{
	int len = *szp > INT_MAX ? INT_MAX : (int) *szp;
	int ret;

	tls_engine_thread_enter();
	/* One record per call up to 16 KiB; wolfSSL sends it in one piece
	 * to nng's buffer, which starts the TCP write at once. */
	if ((ret = wolfSSL_write(conn->ssl, buf, len)) <= 0)
		return conn_error(conn, ret);
	conn_check(conn);
	*szp = (size_t) ret;
	return 0;
}

static void
conn_close(nng_tls_engine_conn *conn)
{
	/* The peer went away before the outcome was known (nng tells us of
	 * a TCP close only through this call). One that never sent a byte
	 * was a port probe, or our own side giving up: not worth a word. */
	if (!conn->accepted && !conn->reported && !conn->closing &&
	    conn->heard)
		conn_report(conn, SOCKET_PEER_CLOSED_E);
	conn->closing = true;
	if (conn->finished)
		wolfSSL_shutdown(conn->ssl); /* close_notify, best effort */
}

static bool
conn_verified(nng_tls_engine_conn *conn)
{
	/* Called by nng_pipe_get_bool(NNG_OPT_TLS_VERIFIED) on the caller's
	 * thread with this connection locked: the one way nng 1.5 lets us
	 * hand the peer's names to fedrpc_tls_peer_get(). */
	if (conn->finished && tls_peer_wanted())
		tls_peer_offer(&conn->peer);
	return conn->finished && conn->peer.verified;
}

const nng_tls_engine_conn_ops tls_conn_ops = {
	.size      = sizeof(nng_tls_engine_conn),
	.init      = conn_init,
	.fini      = conn_fini,
	.close     = conn_close,
	.handshake = conn_handshake,
	.recv      = conn_recv,
	.send      = conn_send,
	.verified  = conn_verified,
};
