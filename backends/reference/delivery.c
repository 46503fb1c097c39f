/*
 * The delivery workers (delivery.h says what they guarantee). Each worker
 * takes one ready destination at a time: it takes or renews the
 * destination's lease in the store, reads a batch of pending items and
 * calls each in seq order with the item's request id; answered items are
 * settled (removed, or moved aside, with what their answer changes here)
 * in transactions of a few at a time, and the first failure that may pass
 * ends the batch and pauses the destination. A destination is never held
 * by two workers of one instance, nor (through the lease) by two instances.
 *
 * Waiting: pauses, waits for waiters and the test-only hold are timed on
 * the monotonic clock; times kept in the store are Unix milliseconds.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "core/base/clock.h"

#define BATCH 64          /* items read per transaction */
#define SETTLE_EVERY 32   /* answered items per settling transaction... */
#define SETTLE_MS 100     /* ... or after this long */
/* A lease (delivery.lease_ms), renewed with every settlement. */
#define LEASE_MS(d) ((int64_t) (d)->s->dopts.lease_ms)
#define SCAN_MS 1000      /* queues are looked for this often */
#define STORE_RETRY_MS 1000 /* after the store itself failed */
#define FORGET_EVERY_MS 3600000
#define KEEP_EXTRA_MS (24LL * 3600 * 1000) /* request ids: expiry + a day */
#define REASON_MAX 600

/* A destination as this instance delivers it. */
typedef struct ref_dest {
	char    *name;        /* owned */
	bool     running;     /* a worker has it */
	bool     kicked;      /* work may be waiting */
	uint32_t failures;    /* attempts failed in a row */
	uint64_t next_ms;     /* monotonic: no attempt before */
	uint64_t elsewhere_ms; /* monotonic: another instance's lease ends */
	uint64_t done_seq;    /* every item up to it has been answered */
	uint64_t fails;       /* failed attempts so far, for waiters */
	char     last_error[REASON_MAX]; /* of the last failed attempt */
	/* Unix ms: our lease on it lasts at least this long (only the worker
	 * that has the destination touches it). */
	int64_t  lease_until;
} ref_dest;

/* One worker and the call it has in flight. */
typedef struct ref_worker {
	ref_delivery     *d;
	pthread_t         thread;
	bool              started;
	fedrpc_ctx       *ctx; /* memory of one batch */
	pthread_mutex_t   mtx;
	pthread_cond_t    cv;
	bool              call_done;
	fedrpc_status     call_st;
	ProtobufCMessage *call_resp;
	fedrpc_call      *call; /* guarded by d->mtx, for cancel at stop */
} ref_worker;

struct ref_delivery {
	ref_svc        *s;
	pthread_mutex_t mtx;
	pthread_cond_t  work_cv; /* workers: work or stop */
	pthread_cond_t  done_cv; /* waiters: items answered or failed */
	ref_dest      **dests;
	size_t          n_dests, cap_dests, rr;
	ref_worker     *workers;
	size_t          n_workers;
	bool            stop;
	bool            scanning;
	uint64_t        next_scan_ms;
	uint64_t        next_forget_ms;
	uint32_t        hold_ms; /* test only: see start */
};

/* One answered item until its settlement. */
typedef struct outcome {
	uint64_t          seq;
	bool              delivered; /* else moved aside with reason */
	char             *reason;
	ref_item         *item;      /* NULL: it did not decode */
	ProtobufCMessage *resp;      /* the answer, owned */
} outcome;

/* ---- destinations (d->mtx held) ---- */

static ref_dest *
dest_find(ref_delivery *d, const char *name)
{
	for (size_t i = 0; i < d->n_dests; i++)
		if (strcmp(d->dests[i]->name, name) == 0)
			return d->dests[i];
	return NULL;
}

static ref_dest *
dest_get(ref_delivery *d, const char *name)
{
	ref_dest *x = dest_find(d, name);

	if (x != NULL)
		return x;
	if (d->n_dests == d->cap_dests) {
		size_t     cap = d->cap_dests ? 2 * d->cap_dests : 8;
		ref_dest **v   = realloc(d->dests, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		d->dests     = v;
		d->cap_dests = cap;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->name = strdup(name)) == NULL) {
		free(x);
		return NULL;
	}
	d->dests[d->n_dests++] = x;
	return x;
}

/* The next ready destination, round robin; else *wake is lowered to when
 * the next one will be. */
static ref_dest *
pick(ref_delivery *d, uint64_t now, uint64_t *wake)
{
	for (size_t k = 0; k < d->n_dests; k++) {
		ref_dest *x = d->dests[(d->rr + k) % d->n_dests];
		uint64_t  at;

		if (!x->kicked || x->running)
			continue;
		at = x->next_ms > x->elsewhere_ms ? x->next_ms : x->elsewhere_ms;
		if (at <= now) {
			d->rr = (d->rr + k + 1) % d->n_dests;
			return x;
		}
		if (at < *wake)
			*wake = at;
	}
	return NULL;
}

static void
timed_wait(pthread_cond_t *cv, pthread_mutex_t *mtx, uint64_t ms)
{
	struct timespec ts;

	fedrpc_clock_deadline(&ts, ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms);
	pthread_cond_timedwait(cv, mtx, &ts);
}

/* ---- the store ---- */

typedef struct take_tx {
	ref_delivery             *d;
	const char               *dest;
	bool                      leased; /* ours for a while yet: no renewal */
	bool                      held;
	int64_t                   holder_until;
	fedrpc_store_outbox_item *items;
	size_t                    n;
	bool                      more;
} take_tx;

/* The lease, then a batch of pending items. */
static fedrpc_code
tx_take(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	take_tx *a   = arg;
	int64_t  now = adp_now_ms();

	a->n    = 0;
	a->more = false;
	a->held = a->leased;
	if (!a->leased &&
	    tx->ops->outbox_lease(tx, a->dest, a->d->s->dopts.instance, now,
	        now + LEASE_MS(a->d), &a->held, &a->holder_until, st) != FEDRPC_OK)
		return st->code;
	if (!a->held)
		return FEDRPC_OK;
	return tx->ops->outbox_pending(
	    tx, a->dest, 0, BATCH, &a->items, &a->n, &a->more, st);
}

typedef struct settle_tx {
	ref_delivery *d;
	fedrpc_ctx   *ctx;
	const char   *dest;
	outcome      *o;
	size_t        n;
	bool          final;    /* record the back-off too */
	uint32_t      failures; /* with final */
	int64_t       next_attempt_ms;
	const char   *last_error;
	bool          release;  /* give the lease up: nothing left */
} settle_tx;

static fedrpc_code
tx_settle(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	settle_tx *a   = arg;
	ref_svc   *s   = a->d->s;
	int64_t    now = adp_now_ms();
	bool       found, held;

	for (size_t i = 0; i < a->n; i++) {
		outcome *o = &a->o[i];

		if (o->delivered) {
			if (tx->ops->outbox_remove(tx, a->dest, o->seq, &found,
			        st) != FEDRPC_OK)
				return st->code;
			/* An operator dropped it meanwhile: nothing to do. */
			if (found && o->item != NULL &&
			    ref_item_answered(s, a->ctx, tx, o->item, o->resp,
			        st) != FEDRPC_OK)
				return st->code;
			continue;
		}
		if (tx->ops->outbox_move_aside(tx, a->dest, o->seq, o->reason,
		        now, &found, st) != FEDRPC_OK)
			return st->code;
		if (found && o->item != NULL &&
		    ref_item_refused(s, a->ctx, tx, a->dest, o->item, st) !=
		        FEDRPC_OK)
			return st->code;
	}
	if (a->final &&
	    tx->ops->outbox_backoff(tx, a->dest, a->failures,
	        a->next_attempt_ms, a->last_error, st) != FEDRPC_OK)
		return st->code;
	if (a->release)
		return tx->ops->outbox_release(
		    tx, a->dest, s->dopts.instance, st);
	return tx->ops->outbox_lease(tx, a->dest, s->dopts.instance, now,
	    now + LEASE_MS(a->d), &held, NULL, st);
}

/* Settles outcomes (renewing the lease of x, or giving it up); true when
 * it was committed. Answers are freed. */
static bool
settle(ref_worker *w, ref_dest *x, settle_tx *a)
{
	fedrpc_status st  = {0};
	int64_t       now = adp_now_ms();
	fedrpc_code   rc;

	a->d   = w->d;
	a->ctx = w->ctx;
	rc = fedrpc_store_run(w->d->s->store, fedrpc_ctx_allocator(w->ctx),
	    FEDRPC_STORE_READ_WRITE, tx_settle, a, &st);
	if (rc == FEDRPC_OK)
		x->lease_until = a->release ? 0 : now + LEASE_MS(a->d);
	if (rc != FEDRPC_OK)
		FEDRPC_LOG_WARN("delivery to %s: cannot record %zu answers "
		                "(they are delivered again, and applied once): %s",
		    a->dest, a->n, st.message);
	for (size_t i = 0; i < a->n; i++)
		if (a->o[i].resp != NULL) {
			protobuf_c_message_free_unpacked(a->o[i].resp, NULL);
			a->o[i].resp = NULL;
		}
	return rc == FEDRPC_OK;
}

/* ---- one attempt ---- */

static void
on_call_done(void *arg, const fedrpc_status *st, ProtobufCMessage *resp)
{
	ref_worker *w = arg;

	pthread_mutex_lock(&w->mtx);
	w->call_st   = *st;
	w->call_resp = resp;
	w->call_done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

/* One call of m with req on ch; the answer (on OK) into *resp, the API
 * version it carried into *used. */
static fedrpc_code
call_once(ref_worker *w, fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, const ref_item *it, ProtobufCMessage **resp,
    uint32_t *used, fedrpc_status *st)
{
	ref_delivery    *d = w->d;
	fedrpc_call_opts opts;
	fedrpc_call     *c = NULL;

	*resp = NULL;
	ref_call_opts(d->s, &opts);
	opts.request_id = it->request_id.data;
	w->call_done    = false;
	w->call_resp    = NULL;
	if (fedrpc_channel_call_async(ch, m, req, &opts, on_call_done, w, &c,
	        st) != FEDRPC_OK)
		return st->code;
	pthread_mutex_lock(&d->mtx);
	w->call = c;
	if (d->stop)
		fedrpc_call_cancel(c);
	pthread_mutex_unlock(&d->mtx);
	pthread_mutex_lock(&w->mtx);
	while (!w->call_done)
		pthread_cond_wait(&w->cv, &w->mtx);
	pthread_mutex_unlock(&w->mtx);
	pthread_mutex_lock(&d->mtx);
	w->call = NULL;
	pthread_mutex_unlock(&d->mtx);
	*used = fedrpc_call_api_version(c);
	fedrpc_call_release(c);
	*st   = w->call_st;
	*resp = w->call_resp;
	return st->code;
}

/* Calls m with req on ch; the answer (on OK) into *resp. A call refused
 * for a stale API version is made once more with a fresh choice (the
 * caller rule of docs/federation-api.md). */
static fedrpc_code
call(ref_worker *w, fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, const ref_item *it, ProtobufCMessage **resp,
    fedrpc_status *st)
{
	fedrpc_call_opts opts;
	uint32_t         used = 0;

	if (call_once(w, ch, m, req, it, resp, &used, st) !=
	    FEDRPC_FAILED_PRECONDITION)
		return st->code;
	ref_call_opts(w->d->s, &opts);
	if (!fedrpc_call_version_stale(ch, m, used, opts.timeout_ms))
		return st->code;
	return call_once(w, ch, m, req, it, resp, &used, st);
}

/* The reason an item is moved aside, in the batch's memory. */
static char *
reason(ref_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *
reason(ref_worker *w, const char *fmt, ...)
{
	char   *r = fedrpc_ctx_alloc(w->ctx, REASON_MAX);
	va_list ap;

	if (r == NULL)
		return (char *) "(out of memory)";
	va_start(ap, fmt);
	vsnprintf(r, REASON_MAX, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * One item: *o is filled when it was answered (or can never be sent);
 * false when the attempt failed in a way that may pass (why in err).
 */
static bool
attempt(ref_worker *w, const char *dest, const fedrpc_store_outbox_item *x,
    const char *last_error, outcome *o, char *err, size_t err_len)
{
	ref_svc             *s  = w->d->s;
	ProtobufCAllocator  *al = fedrpc_ctx_allocator(w->ctx);
	const fedrpc_method *m;
	ProtobufCMessage    *req, *resp;
	fedrpc_channel      *ch;
	fedrpc_status        st = {0};
	int64_t              age = adp_now_ms() - x->created_ms;

	memset(o, 0, sizeof(*o));
	o->seq = x->seq;
	if ((o->item = ref_item_decode(al, x->data)) == NULL) {
		o->reason = reason(w, "INTERNAL: not an outbox item this "
		                      "backend can read");
		return true;
	}
	if ((m = ref_method_find(o->item->method)) == NULL ||
	    (req = protobuf_c_message_unpack(m->input, al,
	         o->item->request.len, o->item->request.data)) == NULL) {
		o->reason = reason(w, "INTERNAL: %s: unknown method or a "
		                      "request that does not decode",
		    o->item->method);
		return true;
	}
	if (age > (int64_t) s->dopts.expiry_s * 1000) {
		o->reason = reason(w, "DEADLINE_EXCEEDED: expired, not "
		                      "delivered within %u s (last error: %s)",
		    s->dopts.expiry_s, last_error[0] ? last_error : "none");
		return true;
	}
	if ((ch = ref_remote(s, dest, &st)) == NULL ||
	    call(w, ch, m, req, o->item, &resp, &st) != FEDRPC_OK) {
		if (ref_code_permanent(st.code)) {
			o->reason = reason(w, "%s: %s",
			    fedrpc_code_name(st.code), st.message);
			return true;
		}
		snprintf(err, err_len, "%s: %s", fedrpc_code_name(st.code),
		    st.message);
		return false;
	}
	o->delivered = true;
	o->resp      = resp;
	return true;
}

/* Test only: holds a delivered item before its settlement (a window in
 * which to kill the process). Ends early when delivery stops. */
static void
hold(ref_delivery *d, const char *dest, uint64_t seq)
{
	uint64_t end = fedrpc_clock_ms() + d->hold_ms;

	FEDRPC_LOG_WARN("delivery to %s: item %llu answered; holding it %u ms "
	                "before removing it (FEDRPC_TEST_DELIVERY_HOLD_MS)",
	    dest, (unsigned long long) seq, d->hold_ms);
	pthread_mutex_lock(&d->mtx);
	while (!d->stop && fedrpc_clock_ms() < end)
		timed_wait(&d->work_cv, &d->mtx, end - fedrpc_clock_ms());
	pthread_mutex_unlock(&d->mtx);
}

/* ---- one destination ---- */

/* Items up to done_seq were answered: waiters are woken. */
static void
progress(ref_delivery *d, ref_dest *x, uint64_t done_seq)
{
	pthread_mutex_lock(&d->mtx);
	if (done_seq > x->done_seq)
		x->done_seq = done_seq;
	pthread_cond_broadcast(&d->done_cv);
	pthread_mutex_unlock(&d->mtx);
}

/* After a batch: the destination's state in memory, waiters woken. */
static void
finish(ref_delivery *d, ref_dest *x, uint64_t done_seq, bool failed,
    uint64_t pause_ms, bool more, const char *err)
{
	pthread_mutex_lock(&d->mtx);
	if (done_seq > x->done_seq)
		x->done_seq = done_seq;
	if (failed) {
		x->failures++;
		x->fails++;
		x->next_ms = fedrpc_clock_ms() + pause_ms;
		snprintf(x->last_error, sizeof(x->last_error), "%s", err);
	} else {
		x->failures = 0;
		x->next_ms  = 0;
	}
	if (failed || more)
		x->kicked = true;
	pthread_cond_broadcast(&d->done_cv);
	pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mtx);
}

static void
run_dest(ref_worker *w, ref_dest *x)
{
	ref_delivery *d = w->d;
	ref_svc      *s = d->s;
	take_tx       t = {.d = d, .dest = x->name};
	settle_tx     a = {.dest = x->name};
	fedrpc_status st = {0};
	outcome      *o;
	size_t        n_out = 0, settled = 0;
	uint64_t      last_settle = fedrpc_clock_ms(), done_seq = 0, pause = 0;
	uint32_t      failures;
	bool          failed = false, ok, aside = false;
	char          err[REASON_MAX] = "", last[REASON_MAX];

	fedrpc_ctx_reset(w->ctx);
	/* A lease with more than half of it left needs no renewal yet: the
	 * batch is read without writing (each settlement renews it). */
	t.leased = x->lease_until - adp_now_ms() > LEASE_MS(d) / 2;
	if (fedrpc_store_run(s->store, fedrpc_ctx_allocator(w->ctx),
	        t.leased ? FEDRPC_STORE_READ_ONLY : FEDRPC_STORE_READ_WRITE,
	        tx_take, &t, &st) != FEDRPC_OK) {
		FEDRPC_LOG_WARN("delivery to %s: cannot read its queue: %s",
		    x->name, st.message);
		pthread_mutex_lock(&d->mtx);
		x->kicked  = true;
		x->next_ms = fedrpc_clock_ms() + STORE_RETRY_MS;
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	if (t.held && !t.leased)
		x->lease_until = adp_now_ms() + LEASE_MS(d) / 2;
	if (!t.held) {
		int64_t left = t.holder_until - adp_now_ms();

		FEDRPC_LOG_DEBUG("delivery to %s: another instance holds it",
		    x->name);
		pthread_mutex_lock(&d->mtx);
		x->kicked       = true;
		x->elsewhere_ms = fedrpc_clock_ms() +
		    (uint64_t) (left < 0                ? 0
		            : left > LEASE_MS(d) ? LEASE_MS(d)
		                                 : left);
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	if (t.n == 0) {
		a.release = true;
		settle(w, x, &a);
		finish(d, x, 0, false, 0, false, "");
		return;
	}
	pthread_mutex_lock(&d->mtx);
	failures = x->failures;
	snprintf(last, sizeof(last), "%s", x->last_error);
	pthread_mutex_unlock(&d->mtx);
	if ((o = fedrpc_ctx_alloc(w->ctx, t.n * sizeof(*o))) == NULL) {
		finish(d, x, 0, true, STORE_RETRY_MS, true, "out of memory");
		return;
	}
	for (size_t i = 0; i < t.n && !__atomic_load_n(&d->stop,
	                                 __ATOMIC_RELAXED);
	     i++) {
		if (!attempt(w, x->name, &t.items[i], last, &o[n_out], err,
		        sizeof(err))) {
			failed = true;
			break;
		}
		if (o[n_out].delivered && d->hold_ms > 0)
			hold(d, x->name, o[n_out].seq);
		/* What follows a refusal (a resync) is queued behind. */
		aside |= !o[n_out].delivered;
		n_out++;
		/* The last item's answer goes with the final settlement: one
		 * commit per batch when it is short. */
		if (i + 1 < t.n &&
		    (n_out - settled >= SETTLE_EVERY ||
		        fedrpc_clock_ms() - last_settle >= SETTLE_MS)) {
			a.o = o + settled;
			a.n = n_out - settled;
			if (settle(w, x, &a)) {
				done_seq = o[n_out - 1].seq;
				progress(d, x, done_seq);
			}
			settled     = n_out;
			last_settle = fedrpc_clock_ms();
		}
	}
	if (failed) {
		failures++;
		pause = ref_backoff_ms(s->dopts.backoff_initial_ms,
		    s->dopts.backoff_max_ms, failures, adp_random_u64());
		if (failures == 1)
			FEDRPC_LOG_WARN("delivery to %s: %s; trying again in %llu "
			                "ms",
			    x->name, err, (unsigned long long) pause);
		else
			FEDRPC_LOG_INFO("delivery to %s: %s; %u failures in a "
			                "row, trying again in %llu ms",
			    x->name, err, failures, (unsigned long long) pause);
	}
	a.o               = o + settled;
	a.n               = n_out - settled;
	a.final           = true;
	a.failures        = failed ? failures : 0;
	a.next_attempt_ms = failed ? adp_now_ms() + (int64_t) pause : 0;
	a.last_error      = failed ? err : "";
	ok                = settle(w, x, &a);
	if (ok && n_out > settled)
		done_seq = o[n_out - 1].seq;
	finish(d, x, done_seq, failed, pause, t.more || !ok || aside, err);
	if (!ok) {
		/* The store failed, not the destination: not counted as a
		 * failure of it, but not tried again at once either. */
		pthread_mutex_lock(&d->mtx);
		x->next_ms = fedrpc_clock_ms() + STORE_RETRY_MS;
		pthread_mutex_unlock(&d->mtx);
	}
}

/* ---- looking for work, and forgetting what is old ---- */

typedef struct scan_tx {
	fedrpc_store_queue *q;
	size_t              n;
} scan_tx;

static fedrpc_code
tx_scan(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	scan_tx *a = arg;

	return tx->ops->outbox_queues(tx, &a->q, &a->n, st);
}

static fedrpc_code
tx_forget(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	ref_delivery *d      = arg;
	int64_t       expiry = (int64_t) d->s->dopts.expiry_s * 1000;
	int64_t       now    = adp_now_ms();
	uint64_t      n;

	if (tx->ops->request_forget_before(tx, now - expiry - KEEP_EXTRA_MS, &n,
	        st) != FEDRPC_OK ||
	    tx->ops->sent_forget_before(tx, now - expiry - KEEP_EXTRA_MS, &n,
	        st) != FEDRPC_OK)
		return st->code;
	return tx->ops->outbox_forget_before(tx, now - expiry, &n, st);
}

static void
scan(ref_worker *w)
{
	ref_delivery *d = w->d;
	scan_tx       a = {0};
	fedrpc_status st = {0};

	fedrpc_ctx_reset(w->ctx);
	if (fedrpc_clock_ms() >= d->next_forget_ms) {
		d->next_forget_ms = fedrpc_clock_ms() + FORGET_EVERY_MS;
		if (fedrpc_store_run(d->s->store, fedrpc_ctx_allocator(w->ctx),
		        FEDRPC_STORE_READ_WRITE, tx_forget, d, &st) != FEDRPC_OK)
			FEDRPC_LOG_WARN("delivery: cannot forget old request "
			                "ids: %s",
			    st.message);
		fedrpc_status_reset(&st);
	}
	if (fedrpc_store_run(d->s->store, fedrpc_ctx_allocator(w->ctx),
	        FEDRPC_STORE_READ_ONLY, tx_scan, &a, &st) != FEDRPC_OK) {
		FEDRPC_LOG_WARN("delivery: cannot list queues: %s", st.message);
		return;
	}
	pthread_mutex_lock(&d->mtx);
	for (size_t i = 0; i < a.n; i++) {
		ref_dest *x;

		if (a.q[i].pending == 0 ||
		    (x = dest_get(d, a.q[i].destination)) == NULL)
			continue;
		if (!x->kicked) {
			x->kicked = true;
			pthread_cond_broadcast(&d->work_cv);
		}
	}
	pthread_mutex_unlock(&d->mtx);
}

/* ---- the workers ---- */

static void *
worker_main(void *arg)
{
	ref_worker   *w = arg;
	ref_delivery *d = w->d;

	pthread_mutex_lock(&d->mtx);
	while (!d->stop) {
		uint64_t  now  = fedrpc_clock_ms();
		uint64_t  wake = d->next_scan_ms;
		ref_dest *x;

		if (!d->scanning && now >= d->next_scan_ms) {
			d->scanning     = true;
			d->next_scan_ms = now + SCAN_MS;
			pthread_mutex_unlock(&d->mtx);
			scan(w);
			pthread_mutex_lock(&d->mtx);
			d->scanning = false;
			continue;
		}
		if ((x = pick(d, now, &wake)) != NULL) {
			x->running = true;
			x->kicked  = false;
			pthread_mutex_unlock(&d->mtx);
			run_dest(w, x);
			pthread_mutex_lock(&d->mtx);
			x->running = false;
			continue;
		}
		timed_wait(&d->work_cv, &d->mtx, wake > now ? wake - now : 1);
	}
	pthread_mutex_unlock(&d->mtx);
	return NULL;
}

void
ref_delivery_stop(ref_delivery *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mtx);
	__atomic_store_n(&d->stop, true, __ATOMIC_RELAXED);
	for (size_t i = 0; i < d->n_workers; i++)
		if (d->workers[i].call != NULL)
			fedrpc_call_cancel(d->workers[i].call);
	pthread_cond_broadcast(&d->work_cv);
	pthread_cond_broadcast(&d->done_cv);
	pthread_mutex_unlock(&d->mtx);
	for (size_t i = 0; i < d->n_workers; i++) {
		ref_worker *w = &d->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		fedrpc_ctx_free(w->ctx);
		pthread_mutex_destroy(&w->mtx);
		pthread_cond_destroy(&w->cv);
	}
	for (size_t i = 0; i < d->n_dests; i++) {
		free(d->dests[i]->name);
		free(d->dests[i]);
	}
	free(d->dests);
	free(d->workers);
	pthread_mutex_destroy(&d->mtx);
	pthread_cond_destroy(&d->work_cv);
	pthread_cond_destroy(&d->done_cv);
	free(d);
}

fedrpc_code
ref_delivery_start(ref_svc *s, ref_delivery **out, fedrpc_status *st)
{
	ref_delivery *d = calloc(1, sizeof(*d));
	const char   *hold = getenv("FEDRPC_TEST_DELIVERY_HOLD_MS");

	*out = NULL;
	if (d == NULL ||
	    (d->workers = calloc(s->dopts.workers, sizeof(ref_worker))) ==
	        NULL) {
		free(d);
		return REF_NOMEM(st);
	}
	d->s = s;
	pthread_mutex_init(&d->mtx, NULL);
	fedrpc_clock_cond_init(&d->work_cv);
	fedrpc_clock_cond_init(&d->done_cv);
	if (hold != NULL && atoi(hold) > 0) {
		d->hold_ms = (uint32_t) atoi(hold);
		FEDRPC_LOG_WARN("%s: FEDRPC_TEST_DELIVERY_HOLD_MS is set (a test "
		                "setting): each delivered item is held %u ms "
		                "before it leaves the outbox",
		    s->domain, d->hold_ms);
	}
	d->n_workers = s->dopts.workers;
	for (size_t i = 0; i < d->n_workers; i++) {
		ref_worker *w = &d->workers[i];

		w->d = d;
		pthread_mutex_init(&w->mtx, NULL);
		pthread_cond_init(&w->cv, NULL);
		if ((w->ctx = fedrpc_ctx_new()) == NULL ||
		    pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			ref_delivery_stop(d);
			return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "%s: cannot start the delivery workers", s->domain);
		}
		w->started = true;
	}
	*out = d;
	return FEDRPC_OK;
}

/* ---- from handlers ---- */

void
ref_delivery_kick(ref_delivery *d, const char *domain)
{
	ref_dest *x;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mtx);
	if ((x = dest_get(d, domain)) != NULL && !x->kicked) {
		x->kicked = true;
		pthread_cond_broadcast(&d->work_cv);
	}
	pthread_mutex_unlock(&d->mtx);
}

void
ref_delivery_kick_outs(ref_delivery *d, const ref_outs *outs)
{
	bool woken = false;

	if (d == NULL || outs->n == 0)
		return;
	pthread_mutex_lock(&d->mtx);
	for (size_t i = 0; i < outs->n; i++) {
		ref_dest *x = dest_get(d, outs->v[i].domain);

		if (x != NULL && !x->kicked) {
			x->kicked = true;
			woken     = true;
		}
	}
	if (woken)
		pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mtx);
}

void
ref_delivery_heard(ref_delivery *d, const char *domain)
{
	ref_dest *x;

	if (d == NULL || domain == NULL)
		return;
	pthread_mutex_lock(&d->mtx);
	if ((x = dest_find(d, domain)) != NULL && x->failures > 0) {
		FEDRPC_LOG_INFO("delivery to %s: heard from it; trying again now",
		    domain);
		x->failures = 0;
		x->next_ms  = 0;
		pthread_cond_broadcast(&d->work_cv);
	}
	pthread_mutex_unlock(&d->mtx);
}

void
ref_delivery_wait(ref_delivery *d, const ref_outs *outs, uint32_t wait_ms)
{
	uint64_t   end = fedrpc_clock_ms() + wait_ms, now;
	uint64_t  *fails0;
	ref_dest **xs;

	if (d == NULL || outs->n == 0 || wait_ms == 0)
		return;
	fails0 = calloc(outs->n, sizeof(*fails0));
	xs     = calloc(outs->n, sizeof(*xs));
	if (fails0 == NULL || xs == NULL)
		goto out;
	pthread_mutex_lock(&d->mtx);
	now = fedrpc_clock_ms();
	for (size_t i = 0; i < outs->n; i++) {
		ref_dest *x = dest_find(d, outs->v[i].domain);

		/* Pausing, or another instance's: not waited for. */
		if (x == NULL || x->next_ms > now || x->elsewhere_ms > now)
			continue;
		xs[i]     = x;
		fails0[i] = x->fails;
	}
	for (;;) {
		bool waiting = false;

		for (size_t i = 0; i < outs->n && !waiting; i++)
			waiting = xs[i] != NULL &&
			    xs[i]->done_seq < outs->v[i].seq &&
			    xs[i]->fails == fails0[i] &&
			    xs[i]->elsewhere_ms <= fedrpc_clock_ms();
		now = fedrpc_clock_ms();
		if (!waiting || d->stop || now >= end)
			break;
		timed_wait(&d->done_cv, &d->mtx, end - now);
	}
	pthread_mutex_unlock(&d->mtx);
out:
	free(fails0);
	free(xs);
}
