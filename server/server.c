/*
 * The server: an nng rep0 socket and its listener, the pool of receive
 * contexts driven by aio callbacks (which only queue work, never block),
 * and an orderly stop. The handlers it routes to are in router.c, the TLS
 * identities of its connections in peer_table.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "server/server_int.h"

#define DEFAULT_MAX_MSG (4u << 20)
#define DEFAULT_CONTEXTS 64
#define DEFAULT_WORKERS 8
#define DEFAULT_DEDUP 4096
/* Reply bytes the dedup cache may hold. */
#define DEDUP_MAX_BYTES (64u << 20)
/* How long stop waits for replies already handed to nng to leave. */
#define SEND_FLUSH_MS 200

static void rctx_cb(void *arg);

static bool
is_tls_url(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

fedrpc_code
fedrpc_server_new(fedrpc_server **out, const fedrpc_server_opts *opts,
    fedrpc_status *st)
{
	fedrpc_server *srv;

	*out = NULL;
	if (opts == NULL || opts->url == NULL || opts->url[0] == '\0')
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "server needs a url");
	if (is_tls_url(opts->url) && opts->tls == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s needs TLS options", opts->url);
	if ((srv = calloc(1, sizeof(*srv))) == NULL ||
	    (srv->url = strdup(opts->url)) == NULL)
		goto nomem;
	srv->max_msg   = opts->max_message_size ? opts->max_message_size
						  : DEFAULT_MAX_MSG;
	srv->n_rctx    = opts->contexts ? opts->contexts : DEFAULT_CONTEXTS;
	srv->n_workers = opts->workers ? opts->workers : DEFAULT_WORKERS;
	srv->dedup     = srv_dedup_new(
            opts->dedup_entries ? opts->dedup_entries : DEFAULT_DEDUP,
            DEDUP_MAX_BYTES);
	if (srv->dedup == NULL)
		goto nomem;
	srv->peer_mask = 63;
	if ((srv->peers = calloc(srv->peer_mask + 1, sizeof(*srv->peers))) ==
	    NULL)
		goto nomem;
	pthread_mutex_init(&srv->mtx, NULL);
	pthread_mutex_init(&srv->peer_mtx, NULL);
	pthread_cond_init(&srv->work_cv, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->idle_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	srv->state = SRV_NEW;
	srv->wire  = srv_wire_wanted(opts->url);
	if (srv->wire && opts->handshake_timeout_ms != 0)
		fedrpc_server_wire_use(srv, &(srv_wire_opts){
		    .handshake_timeout_ms = opts->handshake_timeout_ms});
	if (is_tls_url(opts->url) &&
	    fedrpc_tls_new(&srv->tls, true, opts->tls, st) != FEDRPC_OK) {
		fedrpc_server_free(srv);
		return st->code;
	}
	srv->tls_on = srv->tls != NULL;
	*out = srv;
	return FEDRPC_OK;

nomem:
	if (srv != NULL) {
		srv_dedup_free(srv->dedup);
		free(srv->peers);
		free(srv->url);
		free(srv);
	}
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory creating a server");
}

void
fedrpc_server_set_admit(fedrpc_server *srv, fedrpc_admit_fn fn, void *arg)
{
	srv->admit     = fn;
	srv->admit_arg = arg;
}

void
fedrpc_server_set_conn_admit(
    fedrpc_server *srv, fedrpc_conn_admit_fn fn, void *arg)
{
	srv->conn_admit     = fn;
	srv->conn_admit_arg = arg;
}

void
fedrpc_server_set_pipe_admit(
    fedrpc_server *srv, fedrpc_pipe_admit_fn fn, void *arg)
{
	srv->pipe_admit     = fn;
	srv->pipe_admit_arg = arg;
}

/* ---- receive contexts ---- */

/* State changes happen under mtx; callbacks read the state without it. */
static void
set_state(fedrpc_server *srv, srv_state state)
{
	__atomic_store_n(&srv->state, state, __ATOMIC_RELEASE);
}

static bool
server_closing(fedrpc_server *srv)
{
	return __atomic_load_n(&srv->state, __ATOMIC_ACQUIRE) >= SRV_CLOSING;
}


static void
rctx_recv(srv_rctx *rc)
{
	rc->state = RCTX_RECV;
	nng_ctx_recv(rc->ctx, rc->aio);
}

void
srv_rctx_send(srv_rctx *rc, nng_msg *reply)
{
	fedrpc_server *srv = rc->srv;

	if (rc->conn != NULL) {
		srv_wire_reply(rc, reply);
		return;
	}
	if (server_closing(srv)) {
		/* The socket is about to close: no more nng operations. */
		nng_msg_free(reply);
		rc->state = RCTX_IDLE;
		return;
	}
	if (reply == NULL) {
		rctx_recv(rc);
		return;
	}
	__atomic_add_fetch(&srv->sending, 1, __ATOMIC_ACQ_REL);
	rc->state = RCTX_SEND;
	nng_aio_set_msg(rc->aio, reply);
	nng_ctx_send(rc->ctx, rc->aio);
}

/* Runs on nng's threads: never blocks beyond a short queue lock. */
static void
rctx_cb(void *arg)
{
	srv_rctx      *rc  = arg;
	fedrpc_server *srv = rc->srv;
	int            rv  = nng_aio_result(rc->aio);

	if (rc->state == RCTX_RECV) {
		if (rv != 0) {
			/* Only closing ends a context; anything else (a
			 * pipe gone mid-receive) just receives again. */
			if (rv == NNG_ECLOSED || server_closing(srv))
				rc->state = RCTX_IDLE;
			else
				rctx_recv(rc);
			return;
		}
		rc->req = nng_aio_get_msg(rc->aio);
		nng_aio_set_msg(rc->aio, NULL);
		rc->recv_ms = fedrpc_clock_ms();
		srv_queue_push(srv, rc);
		return;
	}

	/* RCTX_SEND */
	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(rc->aio));
		nng_aio_set_msg(rc->aio, NULL);
	}
	if (__atomic_sub_fetch(&srv->sending, 1, __ATOMIC_ACQ_REL) == 0 &&
	    __atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&srv->mtx);
		pthread_cond_broadcast(&srv->idle_cv);
		pthread_mutex_unlock(&srv->mtx);
	}
	if (rv == NNG_ECLOSED || server_closing(srv))
		rc->state = RCTX_IDLE;
	else
		rctx_recv(rc);
}

static fedrpc_code
nng_fail(fedrpc_status *st, const char *what, const char *url, int rv)
{
	return fedrpc_status_set(st,
	    rv == NNG_EADDRINUSE ? FEDRPC_UNAVAILABLE : fedrpc_code_from_nng(rv),
	    "%s %s: %s", what, url, nng_strerror(rv));
}

/*
 * Closes the socket and releases the contexts; workers must be gone.
 * Every aio is stopped before the socket is closed: nng 1.5.2 can destroy
 * a socket under a context operation (nng_ctx_send/recv) that runs
 * concurrently with nng_close(), so none may.
 */
static void
release_nng(fedrpc_server *srv)
{
	if (srv->wire) {
		srv_wire_release(srv);
		/* A connection may have read a call between the last worker
		 * leaving and its close; it was never answered (the client
		 * saw the connection drop). */
		srv_queue_free_wire_calls(srv);
		return;
	}
	if (srv->rctx != NULL)
		for (uint32_t i = 0; i < srv->n_rctx; i++)
			if (srv->rctx[i].aio != NULL)
				nng_aio_stop(srv->rctx[i].aio);
	if (srv->sock_open) {
		nng_close(srv->sock);
		srv->sock_open = false;
	}
	if (srv->rctx != NULL) {
		for (uint32_t i = 0; i < srv->n_rctx; i++) {
			srv_rctx *rc = &srv->rctx[i];

			if (rc->aio != NULL) {
				nng_msg_free(nng_aio_get_msg(rc->aio));
				nng_aio_free(rc->aio);
			}
			if (rc->req != NULL)
				nng_msg_free(rc->req);
		}
		free(srv->rctx);
		srv->rctx = NULL;
	}
}

static fedrpc_code start_failed(fedrpc_server *srv, fedrpc_status *st);

/* The wire protocol's start: workers, then the stream listener. */
static fedrpc_code
wire_start(fedrpc_server *srv, fedrpc_status *st)
{
	set_state(srv, SRV_RUNNING);
	if (srv_workers_start(srv) != 0) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot start worker threads");
		return start_failed(srv, st);
	}
	if (srv_wire_start(srv, st) != FEDRPC_OK)
		return start_failed(srv, st);
	FEDRPC_LOG_DEBUG("server listening on %s (port %d, wire protocol)",
	    srv->url, fedrpc_server_port(srv));
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_server_start(fedrpc_server *srv, fedrpc_status *st)
{
	size_t cap;
	int    rv;

	if (srv->state != SRV_NEW)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "server %s was already started", srv->url);
	if (srv_router_build(srv) != 0)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	if (srv->wire)
		return wire_start(srv, st);
	if ((rv = nng_rep0_open(&srv->sock)) != 0)
		return nng_fail(st, "cannot open a socket for", srv->url, rv);
	srv->sock_open = true;

	/* Requests a little over the limit still get a clear answer;
	 * absurd ones close the connection before they are buffered. */
	cap = srv->max_msg * 2;
	if (cap < srv->max_msg + 65536)
		cap = srv->max_msg + 65536;
	if ((rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, cap)) != 0 ||
	    (rv = nng_pipe_notify(
	         srv->sock, NNG_PIPE_EV_ADD_PRE, srv_pipe_cb, srv)) != 0 ||
	    (rv = nng_pipe_notify(
	         srv->sock, NNG_PIPE_EV_REM_POST, srv_pipe_cb, srv)) != 0 ||
	    (rv = nng_listener_create(&srv->listener, srv->sock, srv->url)) !=
	        0) {
		nng_fail(st, "cannot listen on", srv->url, rv);
		goto fail;
	}
	if (srv->tls != NULL &&
	    (rv = nng_listener_set_ptr(srv->listener, NNG_OPT_TLS_CONFIG,
	         fedrpc_tls_nng_config(srv->tls))) != 0) {
		nng_fail(st, "cannot set TLS on", srv->url, rv);
		goto fail;
	}

	if ((srv->rctx = calloc(srv->n_rctx, sizeof(*srv->rctx))) == NULL) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < srv->n_rctx; i++) {
		srv_rctx *rc = &srv->rctx[i];

		rc->srv = srv;
		if ((rv = nng_ctx_open(&rc->ctx, srv->sock)) != 0 ||
		    (rv = nng_aio_alloc(&rc->aio, rctx_cb, rc)) != 0) {
			nng_fail(st, "cannot make contexts for", srv->url, rv);
			goto fail;
		}
	}
	set_state(srv, SRV_RUNNING);
	if (srv_workers_start(srv) != 0) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot start worker threads");
		goto fail;
	}
	for (uint32_t i = 0; i < srv->n_rctx; i++)
		rctx_recv(&srv->rctx[i]);
	if ((rv = nng_listener_start(srv->listener, 0)) != 0) {
		nng_fail(st, "cannot listen on", srv->url, rv);
		goto fail;
	}
	FEDRPC_LOG_DEBUG("server listening on %s (port %d)", srv->url,
	    fedrpc_server_port(srv));
	return FEDRPC_OK;

fail:
	return start_failed(srv, st);
}

/* Undoes a start that failed half-way. */
static fedrpc_code
start_failed(fedrpc_server *srv, fedrpc_status *st)
{
	pthread_mutex_lock(&srv->mtx);
	set_state(srv, SRV_CLOSING);
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&srv->work_cv);
	pthread_mutex_unlock(&srv->mtx);
	srv_workers_join(srv);
	release_nng(srv);
	pthread_mutex_lock(&srv->mtx);
	set_state(srv, SRV_STOPPED);
	srv->stop_done = true;
	pthread_mutex_unlock(&srv->mtx);
	return st->code;
}

int
fedrpc_server_port(fedrpc_server *srv)
{
	int port = 0;

	if (srv->wire)
		return srv->state == SRV_RUNNING ? srv_wire_port(srv) : 0;
	if (srv->state != SRV_RUNNING ||
	    nng_listener_get_int(srv->listener, NNG_OPT_TCP_BOUND_PORT, &port) !=
	        0)
		return 0;
	return port;
}

static void
deadline_ts(struct timespec *ts, uint64_t at_ms)
{
	ts->tv_sec  = (time_t) (at_ms / 1000);
	ts->tv_nsec = (long) (at_ms % 1000) * 1000000L;
}

/* Waits on idle_cv until *counter is 0 or at_ms; mtx held. */
static void
wait_zero(fedrpc_server *srv, const uint32_t *counter, uint64_t at_ms)
{
	struct timespec ts;

	deadline_ts(&ts, at_ms);
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) > 0 &&
	    fedrpc_clock_ms() < at_ms)
		if (pthread_cond_timedwait(&srv->idle_cv, &srv->mtx, &ts) ==
		    ETIMEDOUT)
			break;
}

void
fedrpc_server_stop(fedrpc_server *srv, uint32_t grace_ms)
{
	srv_rctx *queued, *rc;
	uint64_t  now, flush_at;

	pthread_mutex_lock(&srv->mtx);
	if (srv->state == SRV_NEW) {
		set_state(srv, SRV_STOPPED);
		srv->stop_done = true;
	}
	if (srv->state != SRV_RUNNING) {
		/* Stopped or stopping in another thread: wait for it. */
		while (!srv->stop_done)
			pthread_cond_wait(&srv->idle_cv, &srv->mtx);
		pthread_mutex_unlock(&srv->mtx);
		return;
	}
	set_state(srv, SRV_STOPPING);
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&srv->mtx);

	/* The listener stays open through the grace period: in nng closing
	 * it drops the connections it accepted, and with them the replies
	 * of running handlers. Requests that arrive now, on old or new
	 * connections, are answered UNAVAILABLE by the workers. (Turning
	 * new connections away in ADD_PRE while the socket closes makes
	 * nng 1.5.2 leak the pipe and listener.) */
	FEDRPC_LOG_DEBUG("server %s stopping (grace %u ms)", srv->url, grace_ms);
	/* The wire protocol tells every client to take new calls elsewhere
	 * (DRAIN) and refuses new connections; calls already read are
	 * answered below like those on rep0. */
	if (srv->wire)
		srv_wire_drain(srv);

	/* Handlers already running may finish; workers answer whatever
	 * they pick up now with UNAVAILABLE. */
	now = fedrpc_clock_ms();
	pthread_mutex_lock(&srv->mtx);
	wait_zero(srv, &srv->in_handler, now + grace_ms);
	queued      = srv->q_head;
	srv->q_head = srv->q_tail = NULL;
	pthread_mutex_unlock(&srv->mtx);

	while ((rc = queued) != NULL) {
		queued = rc->next;
		srv_answer(srv, rc, FEDRPC_UNAVAILABLE, "server shutting down");
	}

	/* Give the answers a moment to reach the wire before closing. */
	flush_at = fedrpc_clock_ms() + SEND_FLUSH_MS;
	pthread_mutex_lock(&srv->mtx);
	wait_zero(srv, &srv->sending, flush_at);
	if (srv->wire) {
		pthread_mutex_unlock(&srv->mtx);
		srv_wire_flush(srv, flush_at);
		pthread_mutex_lock(&srv->mtx);
	}
	set_state(srv, SRV_CLOSING);
	pthread_cond_broadcast(&srv->work_cv);
	pthread_mutex_unlock(&srv->mtx);

	/* Replies of handlers still running past the grace are dropped
	 * (srv_rctx_send no longer sends); the socket closes after them. */
	srv_workers_join(srv);
	release_nng(srv);

	pthread_mutex_lock(&srv->mtx);
	set_state(srv, SRV_STOPPED);
	srv->stop_done = true;
	pthread_cond_broadcast(&srv->idle_cv);
	pthread_mutex_unlock(&srv->mtx);
	FEDRPC_LOG_DEBUG("server %s stopped", srv->url);
}

void
fedrpc_server_free(fedrpc_server *srv)
{
	if (srv == NULL)
		return;
	fedrpc_server_stop(srv, 0);
	for (size_t i = 0; i <= srv->peer_mask; i++) {
		srv_peer *p, *next;

		for (p = srv->peers[i]; p != NULL; p = next) {
			next = p->next;
			srv_peer_release(p);
		}
	}
	free(srv->peers);
	if (srv->w != NULL)
		srv_wire_release(srv); /* configured, never started */
	srv_dedup_free(srv->dedup);
	if (srv->tls != NULL)
		fedrpc_tls_free(srv->tls);
	for (size_t i = 0; i < srv->n_retired; i++)
		fedrpc_tls_free(srv->retired[i]);
	free(srv->retired);
	pthread_mutex_destroy(&srv->mtx);
	pthread_mutex_destroy(&srv->peer_mtx);
	pthread_cond_destroy(&srv->work_cv);
	pthread_cond_destroy(&srv->idle_cv);
	free(srv->by_name);
	free(srv->handlers);
	free(srv->url);
	free(srv);
}
