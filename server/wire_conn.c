/*
 * One connection of the wire protocol (docs/wire-protocol.md), server
 * side. Reads are large and every frame in them is handled on the read
 * callback: a REQUEST becomes a call on the worker queue (its bytes copied
 * once, into the message the dispatcher decodes), CANCEL marks a call,
 * PING is answered. Replies from workers are appended to the connection's
 * writer; whatever is queued while a write is in flight goes out in the
 * next single write. When the queued replies pass the bound, reading
 * pauses until the peer takes them, so a peer that does not read holds
 * bounded memory.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "core/tls/tls_stream.h"
#include "core/wire/envelope.h"
#include "server/wire_int.h"

static void conn_read_cb(void *arg);
static void conn_write_cb(void *arg);

srv_conn *
srv_conn_new(fedrpc_server *srv, nng_stream *s, uint32_t pipe_id, uint64_t now)
{
	srv_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (nng_aio_alloc(&c->rd, conn_read_cb, c) != 0 ||
	    nng_aio_alloc(&c->wr, conn_write_cb, c) != 0) {
		nng_aio_free(c->rd);
		free(c);
		return NULL;
	}
	c->srv      = srv;
	c->s        = s;
	c->pipe_id  = pipe_id;
	c->born_ms  = now;
	c->heard_ms = now;
	c->pending  = true;
	pthread_mutex_init(&c->mtx, NULL);
	fedrpc_frame_rx_init(&c->rx, true, (uint32_t) srv->max_msg, 0);
	fedrpc_frame_tx_init(&c->tx, 0);
	return c;
}

void
srv_conn_free(srv_conn *c)
{
	nng_aio_stop(c->rd);
	nng_aio_stop(c->wr);
	nng_aio_free(c->rd);
	nng_aio_free(c->wr);
	nng_stream_free(c->s);
	if (c->peer_stored)
		srv_peer_forget(c->srv, c->pipe_id);
	fedrpc_frame_rx_fini(&c->rx);
	fedrpc_frame_tx_fini(&c->tx);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

void
srv_conn_check_dead_locked(srv_conn *c)
{
	if (c->closed && !c->reading && !c->writing && c->n_calls == 0)
		c->dead = true;
}

void
srv_conn_close_locked(srv_conn *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->pending) {
		__atomic_sub_fetch(&c->srv->w->n_pending, 1, __ATOMIC_ACQ_REL);
		srv_wire_count(c->srv, &c->srv->w->stats.handshakes_failed);
	}
	c->pending = false;
	FEDRPC_LOG_DEBUG("server %s: connection %u closed: %s", c->srv->url,
	    (unsigned) (c->pipe_id & 0x7fffffffu), why);
	nng_stream_close(c->s);
	srv_conn_check_dead_locked(c);
}

static void
conn_write_locked(srv_conn *c)
{
	const uint8_t *p;
	size_t         n;
	nng_iov        iov;

	if (c->closed || c->writing || !fedrpc_frame_tx_take(&c->tx, &p, &n))
		return;
	iov.iov_buf = (void *) p;
	iov.iov_len = n;
	nng_aio_set_iov(c->wr, 1, &iov);
	c->writing = true;
	nng_stream_send(c->s, c->wr);
}

static void
conn_read_locked(srv_conn *c)
{
	uint8_t *p;
	size_t   n;
	nng_iov  iov;

	if (c->closed || c->reading || c->paused)
		return;
	if (fedrpc_frame_rx_space(&c->rx, &p, &n) != 0) {
		srv_conn_close_locked(c, "out of memory for the read buffer");
		return;
	}
	iov.iov_buf = p;
	iov.iov_len = n;
	nng_aio_set_iov(c->rd, 1, &iov);
	c->reading = true;
	nng_stream_recv(c->s, c->rd);
}

void
srv_conn_start(srv_conn *c)
{
	pthread_mutex_lock(&c->mtx);
	conn_read_locked(c);
	pthread_mutex_unlock(&c->mtx);
}

/* Queues an error reply to a call that will not run, echoing the request
 * id when the request shows one. */
static void
reply_error_locked(srv_conn *c, uint32_t call_id, const uint8_t *req,
    size_t len, fedrpc_code code, const char *message)
{
	uint8_t           id[FEDRPC_REQUEST_ID_LEN];
	bool              has_id = req != NULL &&
	    fedrpc_envelope_request_peek_id(req, len, id);
	fedrpc_reply_head h = {
	    .code       = code,
	    .message    = message,
	    .request_id = has_id ? id : NULL,
	};
	nng_msg *m;
	uint8_t *p;

	if (fedrpc_envelope_reply_encode(&m, &h, NULL, 0, NULL) != FEDRPC_OK)
		return;
	p = fedrpc_frame_tx_begin(&c->tx, FEDRPC_FRAME_REPLY, 0, call_id,
	    (uint32_t) nng_msg_len(m));
	if (p != NULL)
		memcpy(p, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
}

/* The client's preface: answer with ours, store the verified peer, run
 * the connection admission. False when the connection was refused. */
static bool
on_preface_locked(srv_conn *c, const fedrpc_preface *theirs)
{
	fedrpc_server *srv = c->srv;
	fedrpc_preface ours = {
	    .version   = FEDRPC_WIRE_VERSION,
	    .max_frame = (uint32_t) srv->max_msg,
	    .max_calls = srv->w->o.max_calls,
	};
	fedrpc_peer  peer;
	nng_sockaddr sa;
	uint64_t     uid;
	bool         have_peer, have_addr, have_uid, ok;

	(void) theirs; /* version 1 is the only one, and the lowest */
	c->pending = false;
	__atomic_sub_fetch(&srv->w->n_pending, 1, __ATOMIC_ACQ_REL);
	have_peer = srv->tls_on &&
	    fedrpc_tls_stream_peer_get(c->s, &peer) == FEDRPC_OK;
	have_addr = nng_stream_get_addr(c->s, NNG_OPT_REMADDR, &sa) == 0;
	have_uid  = nng_stream_get_uint64(c->s, NNG_OPT_IPC_PEER_UID, &uid) == 0;
	ok = srv_peer_admit_stream(srv, c->pipe_id, have_peer ? &peer : NULL,
	    have_addr ? &sa : NULL, have_uid ? &uid : NULL);
	c->peer_stored = true;
	if (!ok) {
		srv_conn_close_locked(c, "refused by admission");
		return false;
	}
	if (fedrpc_frame_tx_preface(&c->tx, &ours) != 0) {
		srv_conn_close_locked(c, "out of memory");
		return false;
	}
	return true;
}

/* A REQUEST becomes a call for the workers (pushed by the caller once the
 * connection is unlocked, onto *todo); over the limit it is refused. */
static void
on_request_locked(srv_conn *c, const fedrpc_frame *f, uint64_t now,
    srv_rctx **todo)
{
	srv_rctx *rc;
	nng_msg  *m;
	nng_pipe  pipe = {.id = c->pipe_id};

	if (f->call_id > c->last_id)
		c->last_id = f->call_id;
	if (c->n_calls >= c->srv->w->o.max_calls) {
		reply_error_locked(c, f->call_id, f->payload, f->len,
		    FEDRPC_RESOURCE_EXHAUSTED,
		    "too many calls in flight on this connection");
		return;
	}
	if ((rc = calloc(1, sizeof(*rc))) == NULL ||
	    nng_msg_alloc(&m, f->len) != 0) {
		free(rc);
		reply_error_locked(c, f->call_id, f->payload, f->len,
		    FEDRPC_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	if (f->len > 0)
		memcpy(nng_msg_body(m), f->payload, f->len);
	nng_msg_set_pipe(m, pipe);
	rc->srv     = c->srv;
	rc->conn    = c;
	rc->call_id = f->call_id;
	rc->req     = m;
	rc->recv_ms = now;
	rc->cnext   = c->calls;
	if (c->calls != NULL)
		c->calls->cprev = rc;
	c->calls = rc;
	c->n_calls++;
	rc->next = *todo;
	*todo    = rc;
}

static void
on_cancel_locked(srv_conn *c, uint32_t call_id)
{
	for (srv_rctx *rc = c->calls; rc != NULL; rc = rc->cnext)
		if (rc->call_id == call_id) {
			__atomic_store_n(&rc->cancelled, 1, __ATOMIC_RELEASE);
			return;
		}
}

/*
 * Whether the connection takes more frames now: not while its replies
 * queued pass the bound (the peer is not reading), nor while it has more
 * calls unanswered than the workers can use. Frames not taken stay in the
 * read buffer, and no more is read, until a reply or a write makes room:
 * backpressure reaches the peer through TCP.
 */
static bool
can_take_locked(const srv_conn *c)
{
	uint32_t window = 2 * c->srv->n_workers;

	if (window < 16)
		window = 16;
	return c->n_calls < window &&
	    fedrpc_frame_tx_queued(&c->tx) <= c->srv->w->o.max_queued;
}

/* Every frame read so far (or until the connection pauses); false when
 * the connection closed. */
static bool
read_frames_locked(srv_conn *c, uint64_t now, srv_rctx **todo)
{
	fedrpc_frame   f;
	fedrpc_preface pre;
	fedrpc_status  st = {0};

	for (;;) {
		if (!can_take_locked(c)) {
			c->paused = true;
			return true;
		}
		switch (fedrpc_frame_rx_next(&c->rx, &pre, &f, &st)) {
		case FEDRPC_RX_MORE: return true;
		case FEDRPC_RX_ERROR:
			FEDRPC_LOG_INFO("server %s: connection %u: %s",
			    c->srv->url, (unsigned) (c->pipe_id & 0x7fffffffu),
			    st.message);
			srv_wire_count(c->srv, &c->srv->w->stats.protocol_errors);
			srv_conn_close_locked(c, st.message);
			return false;
		case FEDRPC_RX_PREFACE:
			if (!on_preface_locked(c, &pre))
				return false;
			break;
		case FEDRPC_RX_OVERSIZED: {
			char msg[128];

			if (f.call_id > c->last_id)
				c->last_id = f.call_id;
			snprintf(msg, sizeof(msg),
			    "request of %u bytes exceeds the limit of %zu bytes",
			    (unsigned) f.len, c->srv->max_msg);
			reply_error_locked(c, f.call_id, NULL, 0,
			    FEDRPC_RESOURCE_EXHAUSTED, msg);
			{
				fedrpc_status ost = {.code = FEDRPC_RESOURCE_EXHAUSTED};

				snprintf(ost.message, sizeof(ost.message), "%s", msg);
				srv_observe_unread(c->srv, c->pipe_id, &ost);
			}
			break;
		}
		case FEDRPC_RX_FRAME:
			switch (f.type) {
			case FEDRPC_FRAME_REQUEST:
				on_request_locked(c, &f, now, todo);
				break;
			case FEDRPC_FRAME_CANCEL:
				on_cancel_locked(c, f.call_id);
				break;
			case FEDRPC_FRAME_PING:
				(void) fedrpc_frame_tx_append(&c->tx,
				    FEDRPC_FRAME_PONG, 0, 0, f.payload, f.len);
				break;
			default: /* PONG: being heard is enough */
				break;
			}
			break;
		}
	}
}

/* Hands calls to the workers in arrival order (todo is newest first). */
static void
push_calls(fedrpc_server *srv, srv_rctx *todo)
{
	srv_rctx *rev = NULL, *rc;

	while ((rc = todo) != NULL) {
		todo     = rc->next;
		rc->next = rev;
		rev      = rc;
	}
	while ((rc = rev) != NULL) {
		rev = rc->next;
		srv_queue_push(srv, rc);
	}
}

static void
conn_read_cb(void *arg)
{
	srv_conn *c    = arg;
	int       rv   = nng_aio_result(c->rd);
	uint64_t  now  = fedrpc_clock_ms();
	srv_rctx *todo = NULL;

	pthread_mutex_lock(&c->mtx);
	c->reading = false;
	if (rv != 0 || c->closed) {
		srv_conn_close_locked(c, rv != 0 ? nng_strerror(rv) : "closed");
		srv_conn_check_dead_locked(c);
		pthread_mutex_unlock(&c->mtx);
		return;
	}
	fedrpc_frame_rx_commit(&c->rx, nng_aio_count(c->rd));
	c->heard_ms  = now;
	c->pinged_ms = 0;
	if (read_frames_locked(c, now, &todo)) {
		conn_read_locked(c);
		conn_write_locked(c);
	}
	pthread_mutex_unlock(&c->mtx);
	push_calls(c->srv, todo);
}

/* A paused connection with room again takes the frames it holds and
 * reads on; c->mtx held, new calls onto *todo. */
static void
resume_locked(srv_conn *c, srv_rctx **todo)
{
	if (!c->paused || c->closed || !can_take_locked(c))
		return;
	c->paused = false;
	if (read_frames_locked(c, fedrpc_clock_ms(), todo))
		conn_read_locked(c);
}

static void
conn_write_cb(void *arg)
{
	srv_conn *c    = arg;
	int       rv   = nng_aio_result(c->wr);
	srv_rctx *todo = NULL;

	pthread_mutex_lock(&c->mtx);
	c->writing = false;
	if (rv != 0) {
		srv_conn_close_locked(c, nng_strerror(rv));
	} else if (fedrpc_frame_tx_sent(&c->tx, nng_aio_count(c->wr)) &&
	    c->draining && c->n_calls == 0 &&
	    fedrpc_frame_tx_queued(&c->tx) == 0) {
		srv_conn_close_locked(c, "drained");
	}
	resume_locked(c, &todo);
	conn_write_locked(c);
	srv_conn_check_dead_locked(c);
	pthread_mutex_unlock(&c->mtx);
	push_calls(c->srv, todo);
}

void
srv_wire_reply(srv_rctx *rc, nng_msg *reply)
{
	srv_conn *c    = rc->conn;
	srv_rctx *todo = NULL;
	uint8_t  *p;

	pthread_mutex_lock(&c->mtx);
	if (rc->cprev != NULL)
		rc->cprev->cnext = rc->cnext;
	else
		c->calls = rc->cnext;
	if (rc->cnext != NULL)
		rc->cnext->cprev = rc->cprev;
	c->n_calls--;
	if (reply != NULL && !c->closed &&
	    !__atomic_load_n(&rc->cancelled, __ATOMIC_ACQUIRE)) {
		p = fedrpc_frame_tx_begin(&c->tx, FEDRPC_FRAME_REPLY, 0,
		    rc->call_id, (uint32_t) nng_msg_len(reply));
		if (p != NULL)
			memcpy(p, nng_msg_body(reply), nng_msg_len(reply));
	}
	resume_locked(c, &todo);
	conn_write_locked(c);
	if (c->draining && c->n_calls == 0 && !c->writing &&
	    fedrpc_frame_tx_queued(&c->tx) == 0)
		srv_conn_close_locked(c, "drained");
	srv_conn_check_dead_locked(c);
	pthread_mutex_unlock(&c->mtx);
	/* Not c->srv: once unlocked, a connection left dead by this reply
	 * may be freed by the reaper (tick_cb) at any moment. */
	push_calls(rc->srv, todo);
	nng_msg_free(reply);
	nng_msg_free(rc->req);
	free(rc);
}

void
srv_conn_drain_locked(srv_conn *c)
{
	static const char why[] = "server stopping";
	uint8_t          *p;

	if (c->closed || c->draining)
		return;
	if (c->pending) {
		srv_conn_close_locked(c, "server stopping");
		return;
	}
	c->draining = true;
	p = fedrpc_frame_tx_begin(&c->tx, FEDRPC_FRAME_DRAIN, 0, 0,
	    (uint32_t) (FEDRPC_DRAIN_MIN_LEN + sizeof(why) - 1));
	if (p != NULL) {
		uint32_t v[2] = {c->last_id, FEDRPC_UNAVAILABLE};

		for (int i = 0; i < 2; i++) {
			p[4 * i]     = (uint8_t) (v[i] >> 24);
			p[4 * i + 1] = (uint8_t) (v[i] >> 16);
			p[4 * i + 2] = (uint8_t) (v[i] >> 8);
			p[4 * i + 3] = (uint8_t) v[i];
		}
		memcpy(p + 8, why, sizeof(why) - 1);
	}
	conn_write_locked(c);
	if (c->n_calls == 0 && !c->writing && fedrpc_frame_tx_queued(&c->tx) == 0)
		srv_conn_close_locked(c, "drained");
}

void
srv_conn_ping_locked(srv_conn *c, uint64_t now)
{
	uint8_t b[FEDRPC_PING_LEN];

	for (int i = 0; i < FEDRPC_PING_LEN; i++)
		b[i] = (uint8_t) (now >> (8 * i));
	c->pinged_ms = now;
	(void) fedrpc_frame_tx_append(&c->tx, FEDRPC_FRAME_PING, 0, 0, b, sizeof(b));
	conn_write_locked(c);
}
