/*
 * The wire protocol's accept loop, fedrpc's own now that connections are
 * nng streams and not rep0 pipes. It never stops accepting: a failed
 * accept is retried on the next tick, and whatever a connection ends with
 * is that connection's affair. Connections that have not finished the TLS
 * handshake and both prefaces are "pending": they are bounded in total
 * (the oldest is closed to make room, so a valid peer gets through a flood
 * of half-open connections from the same address) and closed after
 * limits.handshake_timeout_ms. One timer (the tick) times handshakes,
 * sends keepalive pings, closes silent peers and frees closed connections.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "server/wire_int.h"

#include <nng/supplemental/util/platform.h>

static const srv_wire_opts defaults = {
    .handshake_timeout_ms = 5000,
    .max_pending          = 256,
    .max_calls            = 1024,
    .keepalive_ms         = 30000,
    .keepalive_timeout_ms = 10000,
    .max_queued           = 4u << 20,
};

bool
srv_wire_wanted(const char *url)
{
	return fedrpc_wire_selected(url);
}

void
fedrpc_server_wire_use(fedrpc_server *srv, const srv_wire_opts *o)
{
	srv->wire = true;
	if (srv->w == NULL && (srv->w = calloc(1, sizeof(*srv->w))) == NULL)
		return;
	srv->w->o = defaults;
	if (o == NULL)
		return;
#define TAKE(f) if (o->f) srv->w->o.f = o->f
	TAKE(handshake_timeout_ms);
	TAKE(max_pending);
	TAKE(max_calls);
	TAKE(keepalive_ms);
	TAKE(keepalive_timeout_ms);
	TAKE(max_queued);
#undef TAKE
}

void
srv_wire_count(fedrpc_server *srv, uint64_t *counter)
{
	(void) srv;
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

void
fedrpc_server_wire_stats(fedrpc_server *srv, srv_wire_stats *out)
{
	srv_wire *w = srv->w;

	memset(out, 0, sizeof(*out));
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	out->accepted           = __atomic_load_n(&w->stats.accepted, __ATOMIC_RELAXED);
	out->handshakes_failed  = __atomic_load_n(&w->stats.handshakes_failed, __ATOMIC_RELAXED);
	out->handshake_timeouts = __atomic_load_n(&w->stats.handshake_timeouts, __ATOMIC_RELAXED);
	out->pending_dropped    = __atomic_load_n(&w->stats.pending_dropped, __ATOMIC_RELAXED);
	out->protocol_errors    = __atomic_load_n(&w->stats.protocol_errors, __ATOMIC_RELAXED);
	out->keepalive_closes   = __atomic_load_n(&w->stats.keepalive_closes, __ATOMIC_RELAXED);
	for (srv_conn *c = w->head; c != NULL; c = c->next) {
		pthread_mutex_lock(&c->mtx);
		if (!c->closed) {
			out->connections++;
			if (c->pending)
				out->pending++;
			if (c->paused)
				out->paused++;
			out->queued_bytes += fedrpc_frame_tx_queued(&c->tx);
		}
		pthread_mutex_unlock(&c->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
}

void
fedrpc_server_conn_stats_get(fedrpc_server *srv, fedrpc_server_conn_stats *out)
{
	fedrpc_server_wire_stats(srv, out);
}

/* The bound on pending connections: closes the oldest; w->mtx held. */
static void
drop_oldest_pending_locked(srv_wire *w, fedrpc_server *srv)
{
	for (srv_conn *c = w->head; c != NULL; c = c->next) {
		pthread_mutex_lock(&c->mtx);
		if (c->pending && !c->closed) {
			srv_conn_close_locked(c,
			    "too many connections in their handshake (the "
			    "oldest is dropped)");
			pthread_mutex_unlock(&c->mtx);
			srv_wire_count(srv, &w->stats.pending_dropped);
			return;
		}
		pthread_mutex_unlock(&c->mtx);
	}
}

static void
accept_cb(void *arg)
{
	fedrpc_server *srv = arg;
	srv_wire      *w   = srv->w;
	int            rv  = nng_aio_result(w->accept);
	nng_stream    *s;
	srv_conn      *c = NULL;

	if (rv == 0) {
		s = nng_aio_get_output(w->accept, 0);
		pthread_mutex_lock(&w->mtx);
		if (!w->stopping &&
		    (c = srv_conn_new(srv, s, 0x80000000u | (++w->next_pipe & 0x7fffffffu),
		         fedrpc_clock_ms())) != NULL) {
			if (__atomic_load_n(&w->n_pending, __ATOMIC_ACQUIRE) >=
			    w->o.max_pending)
				drop_oldest_pending_locked(w, srv);
			__atomic_add_fetch(&w->n_pending, 1, __ATOMIC_ACQ_REL);
			c->prev = w->tail;
			if (w->tail != NULL)
				w->tail->next = c;
			else
				w->head = c;
			w->tail = c;
			w->n_conns++;
		}
		pthread_mutex_unlock(&w->mtx);
		srv_wire_count(srv, &w->stats.accepted);
		if (c != NULL)
			srv_conn_start(c);
		else
			nng_stream_free(s);
	}
	pthread_mutex_lock(&w->mtx);
	if (w->stopping) {
		w->listening = false;
	} else if (rv != 0 && rv != NNG_ECONNABORTED && rv != NNG_ECONNRESET &&
	    rv != NNG_EPEERAUTH && rv != NNG_ECRYPTO && rv != NNG_ECANCELED) {
		/* Out of descriptors or memory: try again on the next tick
		 * rather than spin. */
		FEDRPC_LOG_WARN("server %s: accept failed: %s (retrying)",
		    srv->url, nng_strerror(rv));
		w->accept_retry = true;
	} else {
		nng_stream_listener_accept(w->l, w->accept);
	}
	pthread_mutex_unlock(&w->mtx);
}

static uint32_t
tick_ms(const srv_wire *w)
{
	uint32_t t = w->o.handshake_timeout_ms / 4;

	return t < 10 ? 10 : t > 250 ? 250 : t;
}

/* One connection's timers; w->mtx and c->mtx held. */
static void
tick_conn_locked(fedrpc_server *srv, srv_wire *w, srv_conn *c, uint64_t now)
{
	if (c->closed)
		return;
	if (c->pending) {
		if (now - c->born_ms >= w->o.handshake_timeout_ms) {
			srv_conn_close_locked(c, "handshake not finished in time");
			srv_wire_count(srv, &w->stats.handshake_timeouts);
		}
		return;
	}
	if (c->pinged_ms != 0 &&
	    now - c->pinged_ms >= w->o.keepalive_timeout_ms) {
		FEDRPC_LOG_INFO("server %s: connection %u: no answer to a "
				"keepalive ping in %u ms, closing",
		    srv->url, (unsigned) (c->pipe_id & 0x7fffffffu),
		    (unsigned) w->o.keepalive_timeout_ms);
		srv_conn_close_locked(c, "keepalive timeout");
		srv_wire_count(srv, &w->stats.keepalive_closes);
	} else if (c->pinged_ms == 0 && now - c->heard_ms >= w->o.keepalive_ms) {
		srv_conn_ping_locked(c, now);
	}
}

static void
tick_cb(void *arg)
{
	fedrpc_server *srv = arg;
	srv_wire      *w   = srv->w;
	uint64_t       now = fedrpc_clock_ms();
	srv_conn      *dead = NULL, *c, *next;

	if (nng_aio_result(w->tick) == NNG_ECANCELED)
		return;
	pthread_mutex_lock(&w->mtx);
	for (c = w->head; c != NULL; c = next) {
		bool gone;

		next = c->next;
		pthread_mutex_lock(&c->mtx);
		tick_conn_locked(srv, w, c, now);
		gone = c->dead;
		pthread_mutex_unlock(&c->mtx);
		if (!gone)
			continue;
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			w->head = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		else
			w->tail = c->prev;
		w->n_conns--;
		c->next = dead;
		dead    = c;
	}
	if (w->accept_retry && !w->stopping) {
		w->accept_retry = false;
		nng_stream_listener_accept(w->l, w->accept);
	}
	pthread_mutex_unlock(&w->mtx);
	while ((c = dead) != NULL) {
		dead = c->next;
		srv_conn_free(c);
	}
	if (!__atomic_load_n(&w->closing, __ATOMIC_ACQUIRE))
		nng_sleep_aio((nng_duration) tick_ms(w), w->tick);
}

fedrpc_code
srv_wire_start(fedrpc_server *srv, fedrpc_status *st)
{
	srv_wire *w;
	int       rv;

	if (srv->w == NULL)
		fedrpc_server_wire_use(srv, NULL);
	if ((w = srv->w) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
	pthread_mutex_init(&w->mtx, NULL);
	if ((rv = nng_stream_listener_alloc(&w->l, srv->url)) != 0 ||
	    (srv->tls != NULL &&
	        (rv = nng_stream_listener_set_ptr(w->l, NNG_OPT_TLS_CONFIG,
	             fedrpc_tls_nng_config(srv->tls))) != 0) ||
	    ((rv = nng_stream_listener_set_bool(w->l, NNG_OPT_TCP_NODELAY, true)) != 0 &&
	        rv != NNG_ENOTSUP) ||
	    (rv = nng_stream_listener_listen(w->l)) != 0 ||
	    (rv = nng_aio_alloc(&w->accept, accept_cb, srv)) != 0 ||
	    (rv = nng_aio_alloc(&w->tick, tick_cb, srv)) != 0)
		return fedrpc_status_set(st,
		    rv == NNG_EADDRINUSE ? FEDRPC_UNAVAILABLE
					 : fedrpc_code_from_nng(rv),
		    "cannot listen on %s: %s", srv->url, nng_strerror(rv));
	w->listening = true;
	nng_stream_listener_accept(w->l, w->accept);
	nng_sleep_aio((nng_duration) tick_ms(w), w->tick);
	return FEDRPC_OK;
}

int
srv_wire_port(fedrpc_server *srv)
{
	int port = 0;

	if (srv->w == NULL || srv->w->l == NULL ||
	    nng_stream_listener_get_int(srv->w->l, NNG_OPT_TCP_BOUND_PORT,
	        &port) != 0)
		return 0;
	return port;
}

int
srv_wire_set_tls(fedrpc_server *srv, nng_tls_config *cfg)
{
	int rv;

	if (srv->w == NULL || srv->w->l == NULL)
		return 0;
	if ((rv = nng_stream_listener_set_ptr(srv->w->l, NNG_OPT_TLS_CONFIG,
	         cfg)) != 0)
		return rv;
	/* nng binds the configuration when an accept starts: the one
	 * waiting now would give the next connection the old one. It is
	 * started again (accept_cb) with the new one. */
	if (srv->w->accept != NULL)
		nng_aio_abort(srv->w->accept, NNG_ECANCELED);
	return 0;
}

void
srv_wire_close_conn(fedrpc_server *srv, uint32_t id, const char *why)
{
	srv_wire *w = srv->w;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	for (srv_conn *c = w->head; c != NULL; c = c->next) {
		if (c->pipe_id != id)
			continue;
		pthread_mutex_lock(&c->mtx);
		srv_conn_close_locked(c, why);
		pthread_mutex_unlock(&c->mtx);
		break;
	}
	pthread_mutex_unlock(&w->mtx);
}

void
srv_wire_drain(fedrpc_server *srv)
{
	srv_wire *w = srv->w;

	if (w == NULL || w->l == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = true;
	for (srv_conn *c = w->head; c != NULL; c = c->next) {
		pthread_mutex_lock(&c->mtx);
		srv_conn_drain_locked(c);
		pthread_mutex_unlock(&c->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	/* New connections are refused from now on. */
	nng_stream_listener_close(w->l);
}

void
srv_wire_flush(fedrpc_server *srv, uint64_t at_ms)
{
	srv_wire *w = srv->w;

	if (w == NULL)
		return;
	while (fedrpc_clock_ms() < at_ms) {
		size_t queued = 0;

		pthread_mutex_lock(&w->mtx);
		for (srv_conn *c = w->head; c != NULL; c = c->next) {
			pthread_mutex_lock(&c->mtx);
			if (!c->closed)
				queued += fedrpc_frame_tx_queued(&c->tx);
			pthread_mutex_unlock(&c->mtx);
		}
		pthread_mutex_unlock(&w->mtx);
		if (queued == 0)
			break;
		nng_msleep(2);
	}
}

void
srv_wire_release(fedrpc_server *srv)
{
	srv_wire *w = srv->w;
	srv_conn *c;

	if (w == NULL)
		return;
	if (w->l != NULL) {
		pthread_mutex_lock(&w->mtx);
		w->stopping = true;
		pthread_mutex_unlock(&w->mtx);
		__atomic_store_n(&w->closing, true, __ATOMIC_RELEASE);
		nng_stream_listener_close(w->l);
		if (w->accept != NULL)
			nng_aio_stop(w->accept);
		if (w->tick != NULL)
			nng_aio_stop(w->tick);
		pthread_mutex_lock(&w->mtx);
		for (c = w->head; c != NULL; c = c->next) {
			pthread_mutex_lock(&c->mtx);
			srv_conn_close_locked(c, "server closed");
			pthread_mutex_unlock(&c->mtx);
		}
		c       = w->head;
		w->head = w->tail = NULL;
		pthread_mutex_unlock(&w->mtx);
		while (c != NULL) {
			srv_conn *next = c->next;

			srv_conn_free(c);
			c = next;
		}
		nng_aio_free(w->accept);
		nng_aio_free(w->tick);
		nng_stream_listener_free(w->l);
		w->l = NULL;
		pthread_mutex_destroy(&w->mtx);
	}
	free(w);
	srv->w = NULL;
}
