/*
 * One blocking connection attempt to one address of one target, for
 * diagnostics (fedrpc_target_check(), fedctl discover --connect): TCP, TLS
 * and the SP handshake at once, then one call, since a listener can finish
 * handshakes without serving.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/domain.h>
#include <fedrpc/tls.h>

#include "client/domain/domain_int.h"
#include "client/wire_probe.h"
#include "core/base/clock.h"
#include "core/wire/envelope.h"

/* fedrpc_target_check() without a timeout. */
#define DEFAULT_CHECK_TIMEOUT_MS 5000

/* What fedrpc_target_check()'s pipe callback saw. */
typedef struct check_seen {
	uint32_t pipe; /* atomic: the first connection's id, 0: none */
} check_seen;

static void
check_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	check_seen *s    = arg;
	uint32_t    none = 0;

	if (ev == NNG_PIPE_EV_ADD_POST)
		__atomic_compare_exchange_n(&s->pipe, &none,
		    (uint32_t) nng_pipe_id(pipe), false, __ATOMIC_ACQ_REL,
		    __ATOMIC_ACQUIRE);
}

static uint64_t
clock_us(void)
{
	return fedrpc_clock_us();
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {0, (long) ms * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/*
 * Whether the server behind a connection answers a call. A finished
 * handshake is not enough: an nng listener can negotiate connections and
 * never hand them to its server. Any reply counts, a refusal too.
 */
static fedrpc_code
target_answers(
    nng_socket sock, const char *hp, uint64_t deadline, fedrpc_status *st)
{
	uint8_t             id[FEDRPC_REQUEST_ID_LEN];
	uint64_t            now  = fedrpc_clock_ms();
	uint32_t            left = deadline > now ? (uint32_t) (deadline - now)
						  : 1;
	fedrpc_request_head h    = {.method = "fedrpc.health.v1.Health/Check",
		   .timeout_ms = left, .request_id = id};
	fedrpc_reply_view   v;
	nng_msg            *m;
	int                 rv;

	fedrpc_request_id_new(id);
	if (fedrpc_envelope_request_encode(&m, &h, NULL, 0, st) != FEDRPC_OK)
		return st->code;
	(void) nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, (nng_duration) left);
	(void) nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, (nng_duration) left);
	if ((rv = nng_sendmsg(sock, m, 0)) != 0) {
		nng_msg_free(m);
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "connected to %s, but cannot send a call: %s", hp,
		    nng_strerror(rv));
	}
	if ((rv = nng_recvmsg(sock, &m, 0)) != 0)
		return fedrpc_status_set(st,
		    rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
					: FEDRPC_UNAVAILABLE,
		    "connected to %s, but its server did not answer a call "
		    "within %u ms (%s)",
		    hp, left, nng_strerror(rv));
	rv = fedrpc_envelope_reply_decode(&v, nng_msg_body(m), nng_msg_len(m),
	    NULL) == FEDRPC_OK;
	nng_msg_free(m);
	if (!rv)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "connected to %s, but its server answered with a "
		    "malformed reply",
		    hp);
	return FEDRPC_OK;
}

/* The same check on the wire protocol: a stream of its own, the
 * prefaces (the server took the connection), then the call. */
static fedrpc_code
target_check_wire(const char *url, fedrpc_tls *cfg, const char *hp,
    uint32_t timeout_ms, fedrpc_peer *peer, uint64_t *connect_us,
    fedrpc_status *st)
{
	uint8_t             id[FEDRPC_REQUEST_ID_LEN];
	fedrpc_request_head h = {.method = "fedrpc.health.v1.Health/Check",
	    .timeout_ms = timeout_ms, .request_id = id};
	wire_probe          p = {.url = url, .tls = cfg, .timeout_ms = timeout_ms};
	fedrpc_reply_view   v;
	char                why[200];
	const char         *words;
	bool                ok;

	fedrpc_request_id_new(id);
	if (fedrpc_envelope_request_encode(&p.request, &h, NULL, 0, st) !=
	    FEDRPC_OK)
		return st->code;
	wire_probe_run(&p);
	if (p.reached == PROBE_DIAL) {
		if (cfg != NULL &&
		    fedrpc_tls_last_error(cfg, why, sizeof(why)) != FEDRPC_OK)
			return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "TLS handshake with %s failed: %s", hp, why);
		if ((words = dom_connect_error(p.rv)) != NULL)
			return fedrpc_status_set(st,
			    p.rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
						  : FEDRPC_UNAVAILABLE,
			    "%s %s", words, hp);
		return fedrpc_status_set(st,
		    p.rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
					  : FEDRPC_UNAVAILABLE,
		    "no %s with %s within %u ms (%s)",
		    cfg != NULL ? "TLS handshake" : "handshake", hp, timeout_ms,
		    nng_strerror(p.rv));
	}
	if (connect_us != NULL)
		*connect_us = p.connect_us;
	if (p.reached == PROBE_PREFACE) {
		fedrpc_peer_clear(&p.peer);
		return fedrpc_status_set(st,
		    p.rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
					  : FEDRPC_UNAVAILABLE,
		    "connected to %s, but it did not take the connection "
		    "within %u ms (%s)",
		    hp, timeout_ms, nng_strerror(p.rv));
	}
	if (p.reached == PROBE_REPLY) {
		fedrpc_peer_clear(&p.peer);
		return fedrpc_status_set(st,
		    p.rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
					  : FEDRPC_UNAVAILABLE,
		    "connected to %s, but its server did not answer a call "
		    "within %u ms (%s)",
		    hp, timeout_ms, nng_strerror(p.rv));
	}
	ok = fedrpc_envelope_reply_decode(&v, nng_msg_body(p.reply),
	         nng_msg_len(p.reply), NULL) == FEDRPC_OK;
	nng_msg_free(p.reply);
	if (!ok) {
		fedrpc_peer_clear(&p.peer);
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "connected to %s, but its server answered with a "
		    "malformed reply",
		    hp);
	}
	if (peer != NULL)
		*peer = p.peer;
	else
		fedrpc_peer_clear(&p.peer);
	return fedrpc_status_set(st, FEDRPC_OK, "%s", "");
}

fedrpc_code
fedrpc_target_check(const char *url, const fedrpc_tls_opts *tls,
    uint32_t timeout_ms, fedrpc_peer *peer, uint64_t *connect_us,
    fedrpc_status *st)
{
	bool               use_tls;
	const char        *tcp_url, *hostport, *name;
	char               hp[300];
	nng_socket         sock;
	nng_dialer         dialer;
	fedrpc_tls        *cfg  = NULL;
	check_seen         seen = {0};
	dial_counts        counts;
	uint64_t           start = clock_us(), deadline;
	bool               sock_open = false;
	fedrpc_code        code;
	int                rv;

	if (peer != NULL)
		memset(peer, 0, sizeof(*peer));
	if (connect_us != NULL)
		*connect_us = 0;
	if (url == NULL || strstr(url, "tcp://") == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "not a tcp:// or tls+tcp:// URL: %s", url ? url : "");
	use_tls = strncmp(url, "tls+", 4) == 0;
	if (use_tls && (tls == NULL || tls->server_name == NULL))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s needs TLS options with a server name", url);
	if (timeout_ms == 0)
		timeout_ms = DEFAULT_CHECK_TIMEOUT_MS;
	deadline = fedrpc_clock_ms() + timeout_ms;
	tcp_url  = use_tls ? url + 4 : url;
	hostport = strstr(tcp_url, "://") + 3;
	name     = use_tls ? tls->server_name : NULL;
	/* Messages name the target as "host:port" (the server name's). */
	if (name != NULL) {
		const char *port = strrchr(hostport, ':');

		snprintf(hp, sizeof(hp), "%s%s", name, port ? port : "");
	} else {
		snprintf(hp, sizeof(hp), "%s", hostport);
	}

	/* The real thing at once (a bare TCP connection to test the address
	 * first would make the server's listener pause): TCP, TLS and the SP
	 * handshake; the dialer's statistics tell "refused" and "timed out"
	 * apart. */
	if (use_tls && (fedrpc_tls_engine_init(st) != FEDRPC_OK ||
	                   fedrpc_tls_new(&cfg, false, tls, st) != FEDRPC_OK)) {
		code = st->code;
		goto out;
	}
	if (chan_wire_wanted(url)) {
		code = target_check_wire(url, cfg, hp, timeout_ms, peer,
		    connect_us, st);
		goto out;
	}
	if ((rv = nng_req0_open(&sock)) != 0) {
		code = fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot open a socket: %s", nng_strerror(rv));
		goto out;
	}
	sock_open = true;
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, check_pipe_cb,
	         &seen)) != 0 ||
	    (rv = nng_dialer_create(&dialer, sock, url)) != 0 ||
	    (cfg != NULL &&
	        (rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG,
	             fedrpc_tls_nng_config(cfg))) != 0) ||
	    (rv = nng_dialer_start(dialer, NNG_FLAG_NONBLOCK)) != 0) {
		code = fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot dial %s: %s", url, nng_strerror(rv));
		goto out;
	}
	for (;;) {
		char     why[200];
		uint32_t id = __atomic_load_n(&seen.pipe, __ATOMIC_ACQUIRE);

		if (id != 0) {
			nng_pipe p = NNG_PIPE_INITIALIZER;

			if (connect_us != NULL)
				*connect_us = clock_us() - start;
			p.id = id;
			if (peer != NULL && use_tls &&
			    fedrpc_tls_peer_get(p, peer) != FEDRPC_OK) {
				code = fedrpc_status_set(st, FEDRPC_INTERNAL,
				    "connected to %s, but its TLS peer is "
				    "unknown",
				    hp);
				goto out;
			}
			if ((code = target_answers(sock, hp, deadline, st)) ==
			    FEDRPC_OK)
				fedrpc_status_set(st, FEDRPC_OK, "%s", "");
			goto out;
		}
		if (cfg != NULL &&
		    fedrpc_tls_last_error(cfg, why, sizeof(why)) != FEDRPC_OK) {
			code = fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "TLS handshake with %s failed: %s", hp, why);
			goto out;
		}
		if (chan_dial_counts(dialer, &counts) &&
		    (rv = dom_dial_error(&counts)) != 0) {
			code = fedrpc_status_set(st,
			    rv == NNG_ETIMEDOUT ? FEDRPC_DEADLINE_EXCEEDED
						: FEDRPC_UNAVAILABLE,
			    "%s %s", dom_dial_error_words(rv), hp);
			goto out;
		}
		if (fedrpc_clock_ms() >= deadline) {
			code = fedrpc_status_set(st, FEDRPC_DEADLINE_EXCEEDED,
			    "no %s with %s within %u ms",
			    use_tls ? "TLS handshake" : "handshake", hp,
			    timeout_ms);
			goto out;
		}
		sleep_ms(5);
	}
out:
	if (sock_open)
		nng_close(sock);
	if (cfg != NULL)
		fedrpc_tls_free(cfg);
	if (code != FEDRPC_OK && peer != NULL)
		fedrpc_peer_clear(peer);
	return code;
}
