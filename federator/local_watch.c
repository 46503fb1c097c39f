/*
 * The local API watchdog. nng 1.5.2's ipc:// listener stops serving for
 * good once a client hangs up in the middle of the SP handshake (nng issue
 * #1518, fixed in nng 1.6): a `connect(); close();` on the socket is
 * enough, and so is nng's own "is this path in use" check when a second
 * daemon is started on the same socket. Every LOCAL_CHECK_MS this thread
 * calls the local health service like a client; when no answer comes,
 * the local server is rebuilt on the same path.
 *
 * The check is a whole health call: its handshake is done before it hangs
 * up, so it cannot cause what it looks for.
 *
 * On the wire protocol (the default) the local API is fedrpc's own accept
 * loop on an nng stream listener, which has no SP handshake to be left
 * in and never stops accepting; the check stays (on a stream of its own,
 * client/wire_probe.c) for a listener that cannot accept at all, e.g. with
 * descriptors exhausted, which a restart cures.
 *
 * The same thread runs the federation listener's self-check
 * (listen_watch.c) when it is due.
 */
#include <errno.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "client/wire_probe.h"
#include "core/base/clock.h"
#include "core/wire/envelope.h"
#include "fedrpc/health/v1/health.pb-c.h"
#include "federator/federator.h"

#define LOCAL_CHECK_MS 1000
/* A health call over a local socket takes microseconds; this is generous. */
#define LOCAL_HANDSHAKE_MS 3000

/* The health check on the wire protocol: one call on a new stream. */
static bool
local_alive_wire(const char *url, nng_msg *m)
{
	wire_probe        p = {.url = url, .timeout_ms = LOCAL_HANDSHAKE_MS,
               .request = m};
	fedrpc_reply_view v;
	bool              up;

	wire_probe_run(&p);
	up = p.reached == PROBE_DONE && p.reply != NULL &&
	    fedrpc_envelope_reply_decode(&v, nng_msg_body(p.reply),
	        nng_msg_len(p.reply), NULL) == FEDRPC_OK;
	/* Out of memory here is our failure, not the server's. */
	if (!up && p.rv == NNG_ENOMEM)
		up = true;
	if (p.reply != NULL)
		nng_msg_free(p.reply);
	return up;
}

/*
 * True if the local server answers a health check. A finished handshake
 * is not enough: after #1518 nng still negotiates new connections but
 * never hands them to the socket, so only a reply proves it serves.
 */
static bool
local_alive(const char *url)
{
	static const char *method = "fedrpc.health.v1.Health/Check";
	Fedrpc__Health__V1__HealthCheckRequest req =
	    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	uint8_t             id[FEDRPC_REQUEST_ID_LEN];
	fedrpc_request_head h = {.method = method,
	    .timeout_ms = LOCAL_HANDSHAKE_MS, .request_id = id};
	fedrpc_reply_view   v;
	nng_socket          s;
	nng_msg            *m = NULL;
	bool                up;

	fedrpc_request_id_new(id);
	if (chan_wire_wanted(url))
		return fedrpc_envelope_request_encode(&m, &h, &req.base, 0,
		           NULL) != FEDRPC_OK ||
		    local_alive_wire(url, m);
	if (nng_req0_open(&s) != 0)
		return true; /* cannot tell; do not restart on our failure */
	if (nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, LOCAL_HANDSHAKE_MS) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, LOCAL_HANDSHAKE_MS) != 0 ||
	    fedrpc_envelope_request_encode(&m, &h, &req.base, 0, NULL) !=
	        FEDRPC_OK) {
		nng_close(s);
		return true;
	}
	up = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) == 0 &&
	    nng_sendmsg(s, m, 0) == 0;
	if (!up)
		nng_msg_free(m);
	m = NULL;
	if (up && (up = nng_recvmsg(s, &m, 0) == 0))
		up = fedrpc_envelope_reply_decode(&v, nng_msg_body(m),
		         nng_msg_len(m), NULL) == FEDRPC_OK;
	if (m != NULL)
		nng_msg_free(m);
	nng_close(s);
	return up;
}

/* Replaces the local server with a fresh one on the same socket. */
static void
local_restart(federator *f)
{
	fedrpc_status  st = {0};
	fedrpc_server *srv;

	if (chan_wire_wanted(f->cfg->local_api))
		FEDRPC_LOG_WARN("local API %s does not answer a health check "
				"(out of descriptors?); restarting it",
		    f->cfg->local_api);
	else
		FEDRPC_LOG_WARN("local API %s stopped accepting connections (a "
				"client hung up during the handshake: nng 1.5.2 "
				"issue #1518); restarting it",
		    f->cfg->local_api);
	/* The old listener must let go of the path first. */
	fedrpc_server_stop(f->local_srv, 1000);
	if (federator_local_new(f, &srv, &st) != FEDRPC_OK ||
	    federator_local_start(f, srv, &st) != FEDRPC_OK) {
		FEDRPC_LOG_ERROR("cannot restart the local API: %s; trying "
				 "again in %d ms",
		    st.message, LOCAL_CHECK_MS);
		return;
	}
	pthread_mutex_lock(&f->watch_mtx);
	fedrpc_server_free(f->local_srv);
	f->local_srv = srv;
	pthread_mutex_unlock(&f->watch_mtx);
	__atomic_add_fetch(&f->local_restarts, 1, __ATOMIC_RELAXED);
	FEDRPC_LOG_INFO("local API %s restarted", f->cfg->local_api);
}

static void *
watch_main(void *arg)
{
	federator      *f = arg;
	struct timespec ts;

	pthread_mutex_lock(&f->watch_mtx);
	while (!f->watch_stop) {
		fedrpc_clock_deadline(&ts, LOCAL_CHECK_MS);
		if (pthread_cond_timedwait(&f->watch_cv, &f->watch_mtx, &ts) !=
		        ETIMEDOUT ||
		    f->watch_stop)
			continue;
		pthread_mutex_unlock(&f->watch_mtx);
		listen_watch_tick(f);
		if (!local_alive(f->cfg->local_api)) {
			pthread_mutex_lock(&f->watch_mtx);
			if (!f->watch_stop) {
				pthread_mutex_unlock(&f->watch_mtx);
				local_restart(f);
			} else {
				pthread_mutex_unlock(&f->watch_mtx);
			}
		}
		pthread_mutex_lock(&f->watch_mtx);
	}
	pthread_mutex_unlock(&f->watch_mtx);
	return NULL;
}

fedrpc_code
local_watch_start(federator *f, fedrpc_status *st)
{
	pthread_cond_destroy(&f->watch_cv);
	fedrpc_clock_cond_init(&f->watch_cv);
	f->listen_next_ms = fedrpc_clock_ms() + f->cfg->listen_check_ms;
	if (pthread_create(&f->watch_thread, NULL, watch_main, f) != 0)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot start the local API watchdog");
	f->watch_started = true;
	return FEDRPC_OK;
}

void
local_watch_stop(federator *f)
{
	if (!f->watch_started)
		return;
	pthread_mutex_lock(&f->watch_mtx);
	f->watch_stop = true;
	pthread_cond_broadcast(&f->watch_cv);
	pthread_mutex_unlock(&f->watch_mtx);
	pthread_join(f->watch_thread, NULL);
	f->watch_started = false;
}
