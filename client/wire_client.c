/*
 * A channel's connection in the wire protocol (docs/wire-protocol.md):
 * one long-lived nng stream to the endpoint carrying every call of the
 * channel, multiplexed by call id. A call is a single aio operation from
 * the request to its reply (nng_aio_begin/defer/finish): the reply frame's
 * read callback completes it, so a blocking caller wakes straight from
 * the read and an asynchronous one gets nng's callback, with no thread of
 * ours in between. Requests queued while a write is in flight go out in
 * the next single write. Deadlines are the aio's timeout; a call that
 * times out or is cancelled sends CANCEL. A DRAIN from the server sends
 * the calls it will not answer elsewhere (UNAVAILABLE, retryable) and new
 * calls wait for the next connection; keepalive pings find a silent peer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "core/base/clock.h"
#include "core/tls/tls_stream.h"
#include "core/wire/frame.h"

#define ID_BUCKETS 256

static chan_wire_opts tuned = {
    .keepalive_ms         = 30000,
    .keepalive_timeout_ms = 10000,
    .max_queued           = 4u << 20,
};

void
fedrpc_channel_wire_tune(const chan_wire_opts *o)
{
	tuned.keepalive_ms         = o->keepalive_ms ? o->keepalive_ms : 30000;
	tuned.keepalive_timeout_ms = o->keepalive_timeout_ms ? o->keepalive_timeout_ms : 10000;
	tuned.max_queued           = o->max_queued ? o->max_queued : 4u << 20;
}

bool
chan_wire_wanted(const char *url)
{
	return fedrpc_wire_selected(url);
}

typedef enum wire_state {
	W_IDLE,      /* no connection; a dial is due at next_dial_ms */
	W_DIALING,
	W_HANDSHAKE, /* connected, the server's preface not read yet */
	W_UP,
} wire_state;

typedef struct chan_wire {
	fedrpc_channel     *ch;
	chan_wire_opts      o;
	nng_stream_dialer  *d;
	nng_stream         *s;       /* the connection, or NULL */
	nng_stream         *old;     /* a closed one the tick frees */
	nng_aio            *dial, *rd, *wr, *tick;
	pthread_mutex_t     mtx;
	wire_state          state;
	fedrpc_frame_rx     rx;
	fedrpc_frame_tx     tx;
	fedrpc_call        *ids[ID_BUCKETS]; /* calls sent, by call id */
	fedrpc_call        *wait_head, *wait_tail; /* calls waiting to go */
	uint32_t            n_sent;
	uint32_t            next_id;
	uint32_t            max_calls; /* the server's */
	uint32_t            peer_frame; /* the server's max_frame */
	uint32_t            drain_last; /* DRAIN: the last id answered */
	bool                draining;
	bool                reading, writing;
	bool                closing;
	/* Managed (a domain channel, chan_wire_open_managed()): the
	 * channel's manager picks each address; no redial of our own. */
	bool                managed;
	bool                armed;   /* managed: dial once the old one is freed */
	uint32_t            gen;     /* managed: the connection's number, 0: none */
	uint32_t            next_gen;
	uint32_t            rmin, rmax, backoff;
	uint64_t            next_dial_ms;
	uint64_t            heard_ms, pinged_ms;
} chan_wire;

static void dial_cb(void *arg);
static void read_cb(void *arg);
static void write_cb(void *arg);
static void tick_cb(void *arg);

/* ---- calls ---- */

static void
wait_push(chan_wire *w, fedrpc_call *c)
{
	c->wnext  = NULL;
	c->wwhere = 1;
	if (w->wait_tail != NULL)
		w->wait_tail->wnext = c;
	else
		w->wait_head = c;
	w->wait_tail = c;
}

static bool
wait_remove(chan_wire *w, fedrpc_call *c)
{
	fedrpc_call **pp, *prev = NULL;

	for (pp = &w->wait_head; *pp != NULL; prev = *pp, pp = &(*pp)->wnext)
		if (*pp == c) {
			*pp = c->wnext;
			if (w->wait_tail == c)
				w->wait_tail = prev;
			c->wwhere = 0;
			return true;
		}
	return false;
}

static bool
sent_remove(chan_wire *w, fedrpc_call *c)
{
	fedrpc_call **pp;

	for (pp = &w->ids[c->wire_id % ID_BUCKETS]; *pp != NULL;
	     pp = &(*pp)->wnext)
		if (*pp == c) {
			*pp       = c->wnext;
			c->wwhere = 0;
			w->n_sent--;
			return true;
		}
	return false;
}

static fedrpc_call *
sent_take(chan_wire *w, uint32_t id)
{
	for (fedrpc_call *c = w->ids[id % ID_BUCKETS]; c != NULL; c = c->wnext)
		if (c->wire_id == id) {
			sent_remove(w, c);
			return c;
		}
	return NULL;
}

static void
write_locked(chan_wire *w)
{
	const uint8_t *p;
	size_t         n;
	nng_iov        iov;

	if (w->s == NULL || w->writing || !fedrpc_frame_tx_take(&w->tx, &p, &n))
		return;
	iov.iov_buf = (void *) p;
	iov.iov_len = n;
	nng_aio_set_iov(w->wr, 1, &iov);
	w->writing = true;
	nng_stream_send(w->s, w->wr);
}

/* Frames waiting calls while the connection takes them; w->mtx held. */
static void
send_waiting_locked(chan_wire *w)
{
	fedrpc_call *c;
	uint8_t     *p;

	while (w->state == W_UP && !w->draining && w->n_sent < w->max_calls &&
	    (c = w->wait_head) != NULL) {
		size_t len = nng_msg_len(c->wreq);

		if (w->next_id == UINT32_MAX) {
			/* Call ids are never reused on a connection: this one
			 * ends once its calls are answered, and the next one
			 * takes the waiting calls. */
			w->draining = true;
			break;
		}
		p = fedrpc_frame_tx_begin(&w->tx, FEDRPC_FRAME_REQUEST, 0,
		    w->next_id + 1, (uint32_t) len);
		if (p == NULL)
			break; /* the queue is full: wait for the write */
		memcpy(p, nng_msg_body(c->wreq), len);
		wait_remove(w, c);
		nng_msg_free(c->wreq);
		c->wreq    = NULL;
		c->wire_id = ++w->next_id;
		c->wwhere  = 2;
		c->wnext   = w->ids[c->wire_id % ID_BUCKETS];
		w->ids[c->wire_id % ID_BUCKETS] = c;
		w->n_sent++;
		__atomic_store_n(&c->stage, CALL_RECV, __ATOMIC_RELEASE);
	}
	write_locked(w);
}

/*
 * nng's cancel (fedrpc_call_cancel, a closing channel) or expiry (the
 * deadline) of a call's operation. The aio alone does not say which
 * operation: a pooled call reuses its aio, and nng's expiry thread runs
 * this unlocked, possibly after the reply finished the operation it was
 * for and the call began the next. So the argument names the operation
 * (struct call_wtok), and a cancel of an earlier one is ignored.
 */
void
chan_wire_cancel_cb(nng_aio *aio, void *arg, int rv)
{
	struct call_wtok *t = arg;
	fedrpc_call      *c = t->call;
	chan_wire        *w = c->ch->wire;
	bool              found;

	pthread_mutex_lock(&w->mtx);
	if (t->op != c->wop || c->waio != aio) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	found = c->wwhere == 1 ? wait_remove(w, c)
	    : c->wwhere == 2   ? sent_remove(w, c)
			       : false;
	if (found && c->wire_id != 0 && w->state == W_UP) {
		/* The server may stop it (or drop it before it starts). */
		(void) fedrpc_frame_tx_append(&w->tx, FEDRPC_FRAME_CANCEL, 0,
		    c->wire_id, NULL, 0);
		send_waiting_locked(w);
	}
	pthread_mutex_unlock(&w->mtx);
	if (found) {
		nng_msg_free(c->wreq);
		c->wreq = NULL;
		nng_aio_finish(aio, rv);
	}
}

void *
chan_wire_cancel_arg(fedrpc_call *call)
{
	return &call->wtok[call->wop % CALL_WTOKS];
}

void
chan_wire_call(fedrpc_channel *ch, fedrpc_call *call, nng_aio *aio,
    nng_msg *req)
{
	chan_wire        *w = ch->wire;
	struct call_wtok *t;

	if (!nng_aio_begin(aio)) {
		nng_msg_free(req);
		return;
	}
	pthread_mutex_lock(&w->mtx);
	if (w->closing) {
		pthread_mutex_unlock(&w->mtx);
		nng_msg_free(req);
		nng_aio_finish(aio, NNG_ECLOSED);
		return;
	}
	call->wreq    = req;
	call->waio    = aio;
	call->wire_id = 0;
	t             = &call->wtok[++call->wop % CALL_WTOKS];
	t->call       = call;
	t->op         = call->wop;
	nng_aio_defer(aio, chan_wire_cancel_cb, t);
	wait_push(w, call);
	send_waiting_locked(w);
	pthread_mutex_unlock(&w->mtx);
}

/* ---- the connection ---- */

/* Fails every call sent on the lost connection; w->mtx held, the calls
 * are finished by the caller (collected on *lost). */
static void
lost_locked(chan_wire *w, const char *why, fedrpc_call **lost)
{
	if (w->s == NULL)
		return;
	FEDRPC_LOG_DEBUG("channel %s: connection closed: %s", w->ch->url, why);
	nng_stream_close(w->s);
	w->old   = w->s; /* freed by the tick once its aios are done */
	w->s     = NULL;
	w->state = W_IDLE;
	w->next_dial_ms = fedrpc_clock_ms() + (w->draining ? 0 : w->backoff);
	w->draining = false;
	for (size_t i = 0; i < ID_BUCKETS; i++) {
		fedrpc_call *c;

		while ((c = w->ids[i]) != NULL) {
			w->ids[i] = c->wnext;
			c->wwhere = 0;
			c->wnext  = *lost;
			*lost     = c;
		}
	}
	w->n_sent = 0;
}

static void
finish_lost(fedrpc_call *lost)
{
	fedrpc_call *c;

	while ((c = lost) != NULL) {
		lost = c->wnext;
		nng_aio_finish(c->waio, NNG_ECONNRESET);
	}
}

/* Why a connection that never finished its handshake failed. */
static void
handshake_failure(chan_wire *w, int rv, char *why, size_t len,
    fedrpc_code *code)
{
	*code = FEDRPC_UNAVAILABLE;
	if (w->ch->tls != NULL &&
	    (*code = fedrpc_tls_last_error(w->ch->tls, why, len)) != FEDRPC_OK)
		return;
	*code = FEDRPC_UNAVAILABLE;
	switch (rv) {
	case NNG_ECONNREFUSED: snprintf(why, len, "connection refused"); break;
	case NNG_ETIMEDOUT: snprintf(why, len, "connection timed out"); break;
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		snprintf(why, len, "peer authentication failed");
		break;
	case NNG_EPROTO:
		snprintf(why, len, "protocol error: not a fedrpc server");
		break;
	default: snprintf(why, len, "connection failed: %s", nng_strerror(rv));
	}
}

/* A connection attempt or a connection ended with rv (or a protocol
 * error: EPROTO); w->mtx held, released here. */
static void
conn_failed_unlock(chan_wire *w, int rv, const char *what)
{
	fedrpc_call *lost  = NULL;
	bool         setup = w->state != W_UP;
	char         why[200] = "";
	fedrpc_code  code     = FEDRPC_UNAVAILABLE;
	uint32_t     gen      = w->gen;

	lost_locked(w, what, &lost);
	w->state = W_IDLE;
	if (setup) {
		w->backoff = w->backoff * 2 > w->rmax ? w->rmax : w->backoff * 2;
		handshake_failure(w, rv, why, sizeof(why), &code);
	}
	pthread_mutex_unlock(&w->mtx);
	finish_lost(lost);
	if (setup)
		chan_wire_down(w->ch, gen, rv, code, why);
	else
		chan_wire_up(w->ch, gen, false, rv);
}

static void
read_locked(chan_wire *w)
{
	uint8_t *p;
	size_t   n;
	nng_iov  iov;

	if (w->s == NULL || w->reading)
		return;
	if (fedrpc_frame_rx_space(&w->rx, &p, &n) != 0)
		return; /* out of memory: the keepalive ends it */
	iov.iov_buf = p;
	iov.iov_len = n;
	nng_aio_set_iov(w->rd, 1, &iov);
	w->reading = true;
	nng_stream_recv(w->s, w->rd);
}

static void
dial_cb(void *arg)
{
	chan_wire     *w  = arg;
	int            rv = nng_aio_result(w->dial);
	fedrpc_preface ours = {
	    .version = FEDRPC_WIRE_VERSION, .max_frame = (uint32_t) w->ch->max_msg};

	pthread_mutex_lock(&w->mtx);
	if (w->managed && w->gen == 0 && !w->closing) {
		/* Disconnected while dialing: nobody waits for it. */
		if (rv == 0)
			nng_stream_free(nng_aio_get_output(w->dial, 0));
		w->state = W_IDLE;
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	if (rv != 0 || w->closing) {
		if (rv == 0)
			nng_stream_free(nng_aio_get_output(w->dial, 0));
		w->state = W_DIALING; /* a set-up failure */
		if (w->closing) {
			w->state = W_IDLE;
			pthread_mutex_unlock(&w->mtx);
			return;
		}
		w->s = NULL;
		conn_failed_unlock(w, rv, "dial failed");
		return;
	}
	w->s     = nng_aio_get_output(w->dial, 0);
	w->state = W_HANDSHAKE;
	fedrpc_frame_rx_fini(&w->rx);
	fedrpc_frame_tx_fini(&w->tx);
	fedrpc_frame_rx_init(&w->rx, false, (uint32_t) w->ch->max_msg, 0);
	fedrpc_frame_tx_init(&w->tx, w->o.max_queued);
	w->next_id   = 0;
	w->heard_ms  = fedrpc_clock_ms();
	w->pinged_ms = 0;
	(void) fedrpc_frame_tx_preface(&w->tx, &ours);
	write_locked(w);
	read_locked(w);
	pthread_mutex_unlock(&w->mtx);
}

/* A reply: its call, with the envelope copied into a message for call.c
 * (collected on *done; w->mtx held). */
static void
on_reply_locked(chan_wire *w, const fedrpc_frame *f, fedrpc_call **done)
{
	fedrpc_call *c = sent_take(w, f->call_id);
	nng_msg     *m;

	if (c == NULL)
		return; /* cancelled or timed out: dropped */
	if (nng_msg_alloc(&m, f->len) != 0) {
		c->wreq = NULL;
	} else {
		memcpy(nng_msg_body(m), f->payload, f->len);
		c->wreq = m; /* carries the reply to the finisher */
	}
	c->wnext = *done;
	*done    = c;
}

/* Completes calls whose reply came (the reply rides in wreq). */
static void
finish_done(fedrpc_call *done)
{
	fedrpc_call *c;

	while ((c = done) != NULL) {
		nng_msg *m = c->wreq;

		done    = c->wnext;
		c->wreq = NULL;
		if (m == NULL) {
			nng_aio_finish(c->waio, NNG_ENOMEM);
			continue;
		}
		nng_aio_set_msg(c->waio, m);
		nng_aio_finish(c->waio, 0);
	}
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
	    ((uint32_t) p[2] << 8) | p[3];
}

/* DRAIN: calls above the last id will not be answered; w->mtx held. */
static void
on_drain_locked(chan_wire *w, const fedrpc_frame *f, fedrpc_call **lost)
{
	w->draining   = true;
	w->drain_last = get32(f->payload);
	FEDRPC_LOG_DEBUG("channel %s: server draining (last call %u)",
	    w->ch->url, (unsigned) w->drain_last);
	for (size_t i = 0; i < ID_BUCKETS; i++) {
		fedrpc_call **pp = &w->ids[i];

		while (*pp != NULL) {
			fedrpc_call *c = *pp;

			if (c->wire_id <= w->drain_last) {
				pp = &c->wnext;
				continue;
			}
			*pp       = c->wnext;
			c->wwhere = 0;
			w->n_sent--;
			c->wnext = *lost;
			*lost    = c;
		}
	}
}

static void
read_cb(void *arg)
{
	chan_wire     *w  = arg;
	int            rv = nng_aio_result(w->rd);
	fedrpc_call   *done = NULL, *lost = NULL;
	fedrpc_frame   f;
	fedrpc_preface pre;
	fedrpc_status  st = {0};
	bool           up = false, ok = true, perr = false;
	uint32_t       gen;

	pthread_mutex_lock(&w->mtx);
	w->reading = false;
	if (w->s == NULL) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	if (rv != 0) {
		conn_failed_unlock(w, rv, nng_strerror(rv));
		return;
	}
	fedrpc_frame_rx_commit(&w->rx, nng_aio_count(w->rd));
	w->heard_ms  = fedrpc_clock_ms();
	w->pinged_ms = 0;
	while (ok) {
		switch (fedrpc_frame_rx_next(&w->rx, &pre, &f, &st)) {
		case FEDRPC_RX_MORE: ok = false; break;
		case FEDRPC_RX_PREFACE:
			w->state      = W_UP;
			w->max_calls  = pre.max_calls ? pre.max_calls : 1;
			w->peer_frame = pre.max_frame;
			w->backoff    = w->rmin;
			up            = true;
			break;
		case FEDRPC_RX_FRAME:
			if (f.type == FEDRPC_FRAME_REPLY)
				on_reply_locked(w, &f, &done);
			else if (f.type == FEDRPC_FRAME_PING)
				(void) fedrpc_frame_tx_append(&w->tx,
				    FEDRPC_FRAME_PONG, 0, 0, f.payload, f.len);
			else if (f.type == FEDRPC_FRAME_DRAIN)
				on_drain_locked(w, &f, &lost);
			break;
		default: /* a protocol error (a client never skips) */
			FEDRPC_LOG_INFO("channel %s: %s", w->ch->url, st.message);
			perr = true;
			ok   = false;
			break;
		}
	}
	if (perr) {
		conn_failed_unlock(w, NNG_EPROTO, st.message);
		finish_done(done);
		finish_lost(lost);
		return;
	}
	send_waiting_locked(w);
	if (w->draining && w->n_sent == 0 && w->state == W_UP) {
		/* Drained (DRAIN, or call ids used up): a new connection
		 * for the calls waiting, at once. */
		conn_failed_unlock(w, NNG_ECONNSHUT, "drained");
		finish_lost(lost);
		finish_done(done);
		return;
	}
	read_locked(w);
	gen = w->gen;
	pthread_mutex_unlock(&w->mtx);
	if (up)
		chan_wire_up(w->ch, gen, true, 0);
	finish_lost(lost);
	finish_done(done);
}

static void
write_cb(void *arg)
{
	chan_wire *w  = arg;
	int        rv = nng_aio_result(w->wr);

	pthread_mutex_lock(&w->mtx);
	w->writing = false;
	if (w->s == NULL) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	if (rv != 0) {
		conn_failed_unlock(w, rv, nng_strerror(rv));
		return;
	}
	fedrpc_frame_tx_sent(&w->tx, nng_aio_count(w->wr));
	send_waiting_locked(w);
	pthread_mutex_unlock(&w->mtx);
}

static uint32_t
tick_period(const chan_wire *w)
{
	uint32_t t = w->rmin < w->o.keepalive_ms / 4 ? w->rmin : w->o.keepalive_ms / 4;

	return t < 10 ? 10 : t > 1000 ? 1000 : t;
}

static void
tick_cb(void *arg)
{
	chan_wire *w   = arg;
	uint64_t   now = fedrpc_clock_ms();
	uint8_t    b[FEDRPC_PING_LEN];

	if (nng_aio_result(w->tick) != 0)
		return;
	pthread_mutex_lock(&w->mtx);
	if (w->closing) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	if (w->old != NULL && !w->reading && !w->writing) {
		nng_stream_free(w->old);
		w->old = NULL;
	}
	if (w->state == W_IDLE && w->old == NULL && now >= w->next_dial_ms &&
	    w->d != NULL && (!w->managed || w->armed)) {
		w->state = W_DIALING;
		w->armed = false;
		nng_stream_dialer_dial(w->d, w->dial);
	} else if (w->state == W_UP) {
		if (w->pinged_ms != 0 &&
		    now - w->pinged_ms >= w->o.keepalive_timeout_ms) {
			FEDRPC_LOG_INFO("channel %s: no answer to a keepalive "
					"ping in %u ms, closing",
			    w->ch->url, (unsigned) w->o.keepalive_timeout_ms);
			conn_failed_unlock(w, NNG_ETIMEDOUT, "keepalive timeout");
			nng_sleep_aio((nng_duration) tick_period(w), w->tick);
			return;
		}
		if (w->pinged_ms == 0 && now - w->heard_ms >= w->o.keepalive_ms) {
			for (int i = 0; i < FEDRPC_PING_LEN; i++)
				b[i] = (uint8_t) (now >> (8 * i));
			w->pinged_ms = now;
			(void) fedrpc_frame_tx_append(&w->tx, FEDRPC_FRAME_PING,
			    0, 0, b, sizeof(b));
			write_locked(w);
		}
	}
	pthread_mutex_unlock(&w->mtx);
	nng_sleep_aio((nng_duration) tick_period(w), w->tick);
}

/* A dialer for url with our options; NULL with *rv set. */
static nng_stream_dialer *
dialer_new(const char *url, fedrpc_tls *tls, int *rv)
{
	nng_stream_dialer *d = NULL;

	if ((*rv = nng_stream_dialer_alloc(&d, url)) != 0)
		return NULL;
	if ((tls != NULL &&
	        (*rv = nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG,
	             fedrpc_tls_nng_config(tls))) != 0) ||
	    ((*rv = nng_stream_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true)) != 0 &&
	        *rv != NNG_ENOTSUP)) {
		nng_stream_dialer_free(d);
		return NULL;
	}
	*rv = 0;
	return d;
}

/* The state and aios of a wire channel (no dialer yet). */
static fedrpc_code
wire_new(fedrpc_channel *ch, uint32_t rmin, uint32_t rmax, fedrpc_status *st)
{
	chan_wire *w = calloc(1, sizeof(*w));
	int        rv;

	if (w == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory opening a channel");
	w->ch      = ch;
	w->o       = tuned;
	w->rmin    = rmin;
	w->rmax    = rmax;
	w->backoff = rmin;
	pthread_mutex_init(&w->mtx, NULL);
	fedrpc_frame_rx_init(&w->rx, false, (uint32_t) ch->max_msg, 0);
	fedrpc_frame_tx_init(&w->tx, w->o.max_queued);
	ch->wire = w;
	if ((rv = nng_aio_alloc(&w->dial, dial_cb, w)) != 0 ||
	    (rv = nng_aio_alloc(&w->rd, read_cb, w)) != 0 ||
	    (rv = nng_aio_alloc(&w->wr, write_cb, w)) != 0 ||
	    (rv = nng_aio_alloc(&w->tick, tick_cb, w)) != 0) {
		chan_wire_close(ch);
		return fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot open a channel to %s: %s", ch->url, nng_strerror(rv));
	}
	return FEDRPC_OK;
}

fedrpc_code
chan_wire_open(fedrpc_channel *ch, uint32_t rmin, uint32_t rmax,
    fedrpc_status *st)
{
	chan_wire *w;
	int        rv;

	if (wire_new(ch, rmin, rmax, st) != FEDRPC_OK)
		return st->code;
	w = ch->wire;
	if ((w->d = dialer_new(ch->url, ch->tls, &rv)) == NULL) {
		chan_wire_close(ch);
		return fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot dial %s: %s", ch->url, nng_strerror(rv));
	}
	w->state = W_DIALING;
	nng_stream_dialer_dial(w->d, w->dial);
	nng_sleep_aio((nng_duration) tick_period(w), w->tick);
	return FEDRPC_OK;
}

fedrpc_code
chan_wire_open_managed(fedrpc_channel *ch, fedrpc_status *st)
{
	/* The tick only keeps connections alive here: 100 ms is often
	 * enough for a dial deferred until an old stream is freed. */
	if (wire_new(ch, 100, 100, st) != FEDRPC_OK)
		return st->code;
	ch->wire->managed = true;
	nng_sleep_aio((nng_duration) tick_period(ch->wire), ch->wire->tick);
	return FEDRPC_OK;
}

uint32_t
chan_wire_reserve(fedrpc_channel *ch)
{
	chan_wire *w = ch->wire;
	uint32_t   gen;

	pthread_mutex_lock(&w->mtx);
	if (++w->next_gen == 0)
		w->next_gen = 1;
	gen = w->next_gen;
	pthread_mutex_unlock(&w->mtx);
	return gen;
}

int
chan_wire_connect(fedrpc_channel *ch, uint32_t gen, const char *url,
    fedrpc_tls *tls)
{
	chan_wire         *w = ch->wire;
	int                rv;
	nng_stream_dialer *d = dialer_new(url, tls, &rv);

	if (d == NULL)
		return rv;
	pthread_mutex_lock(&w->mtx);
	if (w->closing || w->d != NULL || w->state != W_IDLE) {
		pthread_mutex_unlock(&w->mtx);
		nng_stream_dialer_free(d);
		return w->closing ? NNG_ECLOSED : NNG_EBUSY;
	}
	w->d   = d;
	w->gen = gen;
	if (w->old == NULL) {
		w->state = W_DIALING;
		nng_stream_dialer_dial(w->d, w->dial);
	} else {
		w->armed        = true; /* the tick dials once it is freed */
		w->next_dial_ms = 0;
	}
	pthread_mutex_unlock(&w->mtx);
	return 0;
}

void
chan_wire_disconnect(fedrpc_channel *ch, uint32_t gen)
{
	chan_wire         *w    = ch->wire;
	fedrpc_call       *lost = NULL;
	nng_stream_dialer *d;

	pthread_mutex_lock(&w->mtx);
	if (gen == 0 || gen != w->gen) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	w->gen   = 0;
	w->armed = false;
	lost_locked(w, "closed by the domain's connection manager", &lost);
	w->state = w->state == W_DIALING ? W_DIALING : W_IDLE;
	d        = w->d;
	w->d     = NULL;
	pthread_mutex_unlock(&w->mtx);
	finish_lost(lost);
	if (d != NULL) {
		/* Ends a dial in flight; its callback finds gen 0. */
		nng_stream_dialer_close(d);
		nng_aio_wait(w->dial);
		nng_stream_dialer_free(d);
	}
	pthread_mutex_lock(&w->mtx);
	if (w->state == W_DIALING && w->gen == 0)
		w->state = W_IDLE;
	pthread_mutex_unlock(&w->mtx);
	chan_wire_up(ch, 0, false, 0); /* not connected (no manager event) */
}

void
chan_wire_drain(fedrpc_channel *ch, uint32_t gen)
{
	chan_wire *w = ch->wire;

	pthread_mutex_lock(&w->mtx);
	if (gen == 0 || gen != w->gen || w->state != W_UP) {
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	w->draining = true;
	if (w->n_sent == 0) {
		conn_failed_unlock(w, NNG_ECONNSHUT, "moved");
		return;
	}
	pthread_mutex_unlock(&w->mtx); /* the last reply closes it */
}

void
chan_wire_drop(fedrpc_channel *ch)
{
	chan_wire *w = ch->wire;

	pthread_mutex_lock(&w->mtx);
	if (w->s != NULL)
		nng_stream_close(w->s); /* its aios fail: a lost connection */
	pthread_mutex_unlock(&w->mtx);
}

void
chan_wire_close(fedrpc_channel *ch)
{
	chan_wire *w = ch->wire;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->closing = true;
	if (w->s != NULL)
		nng_stream_close(w->s);
	pthread_mutex_unlock(&w->mtx);
	if (w->d != NULL)
		nng_stream_dialer_close(w->d);
	/* Every aio ends before anything is freed. */
	if (w->tick != NULL)
		nng_aio_stop(w->tick);
	if (w->dial != NULL)
		nng_aio_stop(w->dial);
	if (w->rd != NULL)
		nng_aio_stop(w->rd);
	if (w->wr != NULL)
		nng_aio_stop(w->wr);
	if (w->s != NULL)
		nng_stream_free(w->s);
	if (w->old != NULL)
		nng_stream_free(w->old);
	nng_aio_free(w->tick);
	nng_aio_free(w->dial);
	nng_aio_free(w->rd);
	nng_aio_free(w->wr);
	if (w->d != NULL)
		nng_stream_dialer_free(w->d);
	fedrpc_frame_rx_fini(&w->rx);
	fedrpc_frame_tx_fini(&w->tx);
	pthread_mutex_destroy(&w->mtx);
	free(w);
	ch->wire = NULL;
}

fedrpc_code
chan_wire_peer(fedrpc_channel *ch, fedrpc_peer *out)
{
	chan_wire  *w = ch->wire;
	fedrpc_code code = FEDRPC_NOT_FOUND;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&w->mtx);
	if (w->s != NULL && w->state == W_UP)
		code = fedrpc_tls_stream_peer_get(w->s, out);
	pthread_mutex_unlock(&w->mtx);
	return code;
}
