/*
 * wire_probe_run(): a blocking dial, preface exchange and optional single
 * call on a connection of its own (see wire_probe.h). Every step waits on
 * one aio with what is left of the probe's time.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "client/wire_probe.h"
#include "core/base/clock.h"
#include "core/tls/tls_stream.h"
#include "core/wire/frame.h"

#define PROBE_MAX_FRAME (4u << 20)

/* An aio whose end is waited for with a bound of our own: a TLS stream's
 * operations in nng 1.5.2 ignore the aio timeout while the handshake is
 * under way, so an operation past the deadline is aborted. */
typedef struct waiter {
	pthread_mutex_t    mtx;
	pthread_cond_t     cv;
	bool               done;
	bool               timed_out;
	nng_stream_dialer *d; /* closed past the deadline: the only thing */
	nng_stream        *s; /* that ends a TLS operation stuck in its
			       * handshake */
} waiter;

static waiter probe_waiter_init = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, NULL,
    NULL};

static void
waiter_cb(void *arg)
{
	waiter *w = arg;

	pthread_mutex_lock(&w->mtx);
	w->done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

/* Waits for the operation just started on aio (armed with waiter_arm). */
static void
waiter_wait(waiter *w, nng_aio *aio, uint64_t deadline)
{
	struct timespec ts;
	bool            done;

	for (;;) {
		pthread_mutex_lock(&w->mtx);
		if (!w->done) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000000L; /* checks the deadline */
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cv, &w->mtx, &ts);
		}
		done = w->done;
		pthread_mutex_unlock(&w->mtx);
		if (done)
			break;
		if (fedrpc_clock_ms() >= deadline) {
			nng_aio_abort(aio, NNG_ETIMEDOUT);
			if (w->s != NULL)
				nng_stream_close(w->s);
			else if (w->d != NULL)
				nng_stream_dialer_close(w->d);
			deadline = UINT64_MAX; /* once */
			w->timed_out = true;
		}
	}
	nng_aio_wait(aio);
	pthread_mutex_lock(&w->mtx);
	w->done = false;
	pthread_mutex_unlock(&w->mtx);
}

static nng_duration
left_ms(uint64_t deadline)
{
	uint64_t now = fedrpc_clock_ms();

	return now >= deadline ? 1 : (nng_duration) (deadline - now);
}

/* Writes everything queued in tx; 0 or the nng error. */
static int
send_all(nng_stream *s, nng_aio *aio, waiter *w, fedrpc_frame_tx *tx,
    uint64_t deadline)
{
	const uint8_t *p;
	size_t         n;
	nng_iov        iov;
	int            rv;

	while (fedrpc_frame_tx_take(tx, &p, &n)) {
		iov.iov_buf = (void *) p;
		iov.iov_len = n;
		nng_aio_set_iov(aio, 1, &iov);
		nng_aio_set_timeout(aio, left_ms(deadline));
		nng_stream_send(s, aio);
		waiter_wait(w, aio, deadline);
		if ((rv = nng_aio_result(aio)) != 0)
			return w->timed_out ? NNG_ETIMEDOUT : rv;
		fedrpc_frame_tx_sent(tx, nng_aio_count(aio));
	}
	return 0;
}

/* Reads until the preface (want_reply false) or the reply of call 1. */
static int
read_until(nng_stream *s, nng_aio *aio, waiter *w, fedrpc_frame_rx *rx,
    bool want_reply, uint64_t deadline, nng_msg **reply)
{
	fedrpc_preface pre;
	fedrpc_frame   f;
	fedrpc_status  st = {0};
	uint8_t       *p;
	size_t         n;
	nng_iov        iov;
	int            rv;

	for (;;) {
		switch (fedrpc_frame_rx_next(rx, &pre, &f, &st)) {
		case FEDRPC_RX_PREFACE:
			if (!want_reply)
				return 0;
			continue;
		case FEDRPC_RX_FRAME:
			if (f.type != FEDRPC_FRAME_REPLY || f.call_id != 1)
				continue; /* PING, DRAIN: not what we wait for */
			if ((rv = nng_msg_alloc(reply, f.len)) != 0)
				return rv;
			memcpy(nng_msg_body(*reply), f.payload, f.len);
			return 0;
		case FEDRPC_RX_MORE:
			break;
		default:
			return NNG_EPROTO;
		}
		if (fedrpc_frame_rx_space(rx, &p, &n) != 0)
			return NNG_ENOMEM;
		iov.iov_buf = p;
		iov.iov_len = n;
		nng_aio_set_iov(aio, 1, &iov);
		nng_aio_set_timeout(aio, left_ms(deadline));
		nng_stream_recv(s, aio);
		waiter_wait(w, aio, deadline);
		if ((rv = nng_aio_result(aio)) != 0)
			return w->timed_out ? NNG_ETIMEDOUT : rv;
		fedrpc_frame_rx_commit(rx, nng_aio_count(aio));
	}
}

static int
local_port(nng_stream *s)
{
	nng_sockaddr sa;
	const uint8_t *b;

	if (nng_stream_get_addr(s, NNG_OPT_LOCADDR, &sa) != 0)
		return 0;
	if (sa.s_family == NNG_AF_INET)
		b = (const uint8_t *) &sa.s_in.sa_port;
	else if (sa.s_family == NNG_AF_INET6)
		b = (const uint8_t *) &sa.s_in6.sa_port;
	else
		return 0;
	return (b[0] << 8) | b[1];
}

void
wire_probe_run(wire_probe *p)
{
	uint64_t           start = fedrpc_clock_us();
	uint64_t           deadline = fedrpc_clock_ms() + p->timeout_ms;
	nng_stream_dialer *d   = NULL;
	nng_stream        *s   = NULL;
	nng_aio           *aio = NULL;
	fedrpc_frame_rx    rx;
	fedrpc_frame_tx    tx;
	fedrpc_preface     ours = {
	    .version = FEDRPC_WIRE_VERSION, .max_frame = PROBE_MAX_FRAME};
	nng_msg           *req = p->request;
	uint8_t           *b;
	waiter             w = probe_waiter_init;

	p->request = NULL;
	p->reached = PROBE_DIAL;
	p->reply   = NULL;
	memset(&p->peer, 0, sizeof(p->peer));
	fedrpc_frame_rx_init(&rx, false, PROBE_MAX_FRAME, 0);
	fedrpc_frame_tx_init(&tx, 0);
	if ((p->rv = nng_aio_alloc(&aio, waiter_cb, &w)) != 0 ||
	    (p->rv = nng_stream_dialer_alloc(&d, p->url)) != 0 ||
	    (p->tls != NULL &&
	        (p->rv = nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG,
	             fedrpc_tls_nng_config(p->tls))) != 0))
		goto out;
	nng_aio_set_timeout(aio, left_ms(deadline));
	w.d = d;
	nng_stream_dialer_dial(d, aio);
	waiter_wait(&w, aio, deadline);
	if ((p->rv = nng_aio_result(aio)) != 0) {
		if (w.timed_out)
			p->rv = NNG_ETIMEDOUT;
		goto out;
	}
	s             = nng_aio_get_output(aio, 0);
	w.s           = s;
	p->connect_us = fedrpc_clock_us() - start;
	p->local_port = local_port(s);
	p->reached = PROBE_PREFACE;
	if (fedrpc_frame_tx_preface(&tx, &ours) != 0) {
		p->rv = NNG_ENOMEM;
		goto out;
	}
	if (req != NULL) {
		/* Sent with the preface: one write. */
		b = fedrpc_frame_tx_begin(&tx, FEDRPC_FRAME_REQUEST, 0, 1,
		    (uint32_t) nng_msg_len(req));
		if (b == NULL) {
			p->rv = NNG_ENOMEM;
			goto out;
		}
		memcpy(b, nng_msg_body(req), nng_msg_len(req));
	}
	if ((p->rv = send_all(s, aio, &w, &tx, deadline)) != 0 ||
	    (p->rv = read_until(s, aio, &w, &rx, false, deadline, NULL)) != 0)
		goto out;
	/* The TLS handshake is done once a byte came back. */
	if (p->tls != NULL)
		(void) fedrpc_tls_stream_peer_get(s, &p->peer);
	p->reached = req != NULL ? PROBE_REPLY : PROBE_DONE;
	if (req != NULL &&
	    (p->rv = read_until(s, aio, &w, &rx, true, deadline, &p->reply)) == 0)
		p->reached = PROBE_DONE;
out:
	if (s != NULL) {
		nng_stream_close(s);
		nng_stream_free(s);
	}
	if (d != NULL)
		nng_stream_dialer_free(d);
	if (aio != NULL)
		nng_aio_free(aio);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mtx);
	if (req != NULL)
		nng_msg_free(req);
	fedrpc_frame_rx_fini(&rx);
	fedrpc_frame_tx_fini(&tx);
}
