/*
 * The connection manager of one domain channel: SRV lookup, targets tried
 * in RFC 2782 order one address at a time (the real dial, with the target
 * as TLS server name), failover, back-off, and looking the domain up again
 * when its answer expires.
 *
 * The channel itself is an ordinary channel (channel.c) with no dialer of
 * its own: calls queue (in its wire connection, or its req0 socket with
 * FEDRPC_WIRE=reqrep) while no connection is up and leave as soon as one
 * is, so a failover moves waiting calls to the next target without
 * resending anything. This manager adds and removes the
 * socket's dialers. Callbacks (resolver, pipe events, calls) only record
 * what happened under ch->mtx and wake the pool thread, which runs
 * dom_step(): every nng call that can wait is made there, with no lock.
 *
 * nng's dialer tells nobody why a background attempt failed; the TLS
 * engine's last handshake error and the dialer's statistics (refused,
 * timed out, ...) do, and are polled while an attempt is under way (on
 * the wire protocol its connection's events say it). No connection of our
 * own tests an address first: a connection closed during negotiation
 * makes an nng 1.5.2 req0/rep0 listener stop accepting for 100 ms, which
 * every client of that server would wait out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/log.h>

#include "core/base/dns_name.h"
#include "client/domain/domain_int.h"
#include "core/base/clock.h"

/* What a domain channel does where channels differ (the end of the file). */
static const chan_hooks dom_hooks;

/* What dom_step() must do outside the lock. */
typedef enum act_kind {
	ACT_NONE,
	ACT_LOOKUP, /* start an SRV lookup */
	ACT_DIAL,   /* start the try dialer */
	ACT_CLOSE,  /* close a dialer and free its TLS config */
	ACT_FORGET, /* drop the resolver's cached answer for the domain */
	ACT_DRAIN,  /* wire: close cur once its calls are answered */
} act_kind;

typedef struct act {
	act_kind kind;
	dom_dial dial; /* ACT_DIAL: a copy; ACT_CLOSE: taken */
} act;

static const char *
state_name(dom_state s)
{
	switch (s) {
	case DOM_IDLE:
		return "idle";
	case DOM_RESOLVING:
		return "resolving";
	case DOM_CONNECTING:
		return "connecting";
	case DOM_READY:
		return "ready";
	case DOM_BACKOFF:
		return "backoff";
	}
	return "?";
}

static void
add_err(dom_chan *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_err(dom_chan *d, const char *fmt, ...)
{
	char    msg[300];
	size_t  n = strlen(d->errs);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FEDRPC_LOG_INFO("domain %s: %s", d->domain, msg);
	if (strstr(d->errs, msg) != NULL)
		return; /* the same failure on another address */
	snprintf(d->errs + n, sizeof(d->errs) - n, "%s%s", n > 0 ? "; " : "",
	    msg);
}

static void
dial_reset(dom_dial *dl)
{
	memset(dl, 0, sizeof(*dl));
}

/* Takes the dial out of its slot for closing; ch->mtx held. */
static bool
take_dial(dom_dial *slot, act *a)
{
	if (nng_dialer_id(slot->dialer) <= 0 && slot->wgen == 0 &&
	    slot->tls == NULL)
		return false;
	a->kind = ACT_CLOSE;
	a->dial = *slot;
	dial_reset(slot);
	return true;
}

/* ---- callbacks: record and wake ---- */

static void
lookup_cb(void *arg, const fedrpc_status *st, fedrpc_srv_answer *answer)
{
	dom_chan *d = arg;

	pthread_mutex_lock(&d->ch->mtx);
	if (d->closing) {
		pthread_mutex_unlock(&d->ch->mtx);
		fedrpc_srv_answer_free(answer);
		return;
	}
	fedrpc_srv_answer_free(d->lookup_answer);
	d->lookup_answer = answer;
	d->lookup_code   = st->code;
	snprintf(d->lookup_msg, sizeof(d->lookup_msg), "%s", st->message);
	d->lookup_done = true;
	pool_wake(d->pool);
	pthread_mutex_unlock(&d->ch->mtx);
}

static void
dom_call_waiting(fedrpc_channel *ch)
{
	dom_chan *d = ch->hooks_arg;

	d->last_used = fedrpc_clock_ms();
	if (d->closing)
		return;
	if ((d->state == DOM_IDLE ||
	        (d->state == DOM_BACKOFF && d->last_used >= d->retry_at)) &&
	    !d->want) {
		d->want = true;
		pool_wake(d->pool);
	}
}

static void
dom_pipe_event(fedrpc_channel *ch, nng_pipe pipe, nng_pipe_ev ev)
{
	dom_chan *d  = ch->hooks_arg;
	int       id = nng_dialer_id(nng_pipe_dialer(pipe));

	if (d->closing || id <= 0)
		return;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (id == nng_dialer_id(d->try.dialer))
			d->try.up = true;
		else if (id == nng_dialer_id(d->cur.dialer) && !d->cur_lost)
			/* nng redials a lost connection by itself; until the
			 * manager has moved on, that is not "up again". */
			d->cur.up = true;
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		if (id == nng_dialer_id(d->try.dialer)) {
			d->try.up = false;
		} else if (id == nng_dialer_id(d->cur.dialer)) {
			d->cur.up   = false;
			d->cur_lost = true;
		}
	}
	pool_wake(d->pool);
}

/* The wire protocol's dial outcome as a dialer's statistics would count
 * it, so that the manager words it the same. */
static void
count_wire_error(dial_counts *c, int rv)
{
	switch (rv) {
	case NNG_ECONNREFUSED: c->refused++; break;
	case NNG_ETIMEDOUT: c->timeout++; break;
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO: c->auth++; break;
	case NNG_EPROTO: c->proto++; break;
	default: c->other++; break;
	}
}

/* A connection of the wire protocol came or went (the counterpart of
 * dom_pipe_event()). */
static void
dom_wire_event(fedrpc_channel *ch, uint32_t gen, bool up, int rv)
{
	dom_chan *d = ch->hooks_arg;

	if (d->closing || gen == 0)
		return;
	if (gen == d->try.wgen) {
		d->try.up = up;
		if (!up && rv != 0) {
			count_wire_error(&d->try_counts, rv);
			d->try_counted = true;
		}
	} else if (gen == d->cur.wgen && !up) {
		d->cur.up   = false;
		d->cur_lost = true;
	}
	pool_wake(d->pool);
}

static fedrpc_code
dom_last_error(fedrpc_channel *ch, char *buf, size_t len)
{
	dom_chan *d = ch->hooks_arg;

	if (ch->n_pipes > 0) {
		if (len > 0)
			buf[0] = '\0';
		return FEDRPC_OK;
	}
	if (d->state == DOM_BACKOFF && ch->fail_code != FEDRPC_OK) {
		snprintf(buf, len, "%s", ch->fail_msg);
		return ch->fail_code;
	}
	/* Still trying: a call that times out now gets the step. */
	if (d->errs[0] != '\0')
		snprintf(buf, len,
		    "deadline exceeded while connecting to %s (%s; before: %s)",
		    d->domain, d->step[0] ? d->step : "waiting to connect",
		    d->errs);
	else
		snprintf(buf, len, "deadline exceeded while connecting to %s (%s)",
		    d->domain, d->step[0] ? d->step : "waiting to connect");
	return FEDRPC_DEADLINE_EXCEEDED;
}

/* ---- the state machine; ch->mtx held ---- */

/* Sets up the attempt at order[oi], address ai (try_start() dials it);
 * false when none is left. */
static bool
try_setup(dom_chan *d)
{
	while (d->oi < d->n_order) {
		const fedrpc_srv_target *t = &d->seq->targets[d->order[d->oi]];

		if (d->ai < t->n_addrs) {
			dial_reset(&d->try);
			snprintf(d->try.host, sizeof(d->try.host), "%s", t->host);
			snprintf(d->try.addr, sizeof(d->try.addr), "%s",
			    t->addrs[d->ai]);
			d->try.port = t->port;
			if (fedrpc_srv_target_url(t, d->ai, d->cfg->scheme,
			        d->try.url, sizeof(d->try.url)) < 0 ||
			    strlen(d->try.url) >= sizeof(d->try.url) - 1) {
				d->ai++;
				continue;
			}
			d->try_failed  = false;
			d->try_counted = false;
			memset(&d->try_counts, 0, sizeof(d->try_counts));
			return true;
		}
		d->oi++;
		d->ai = 0;
	}
	return false;
}

/* Puts the target that was just lost last, so that a reconnection goes
 * to another one first. */
static void
order_lost_last(dom_chan *d)
{
	size_t i, k = 0, n = d->n_order;

	if (d->lost_host[0] == '\0')
		return;
	/* A stable partition: rotate each lost entry to the end. */
	for (i = 0; i + k < n;) {
		const fedrpc_srv_target *t = &d->seq->targets[d->order[i]];

		if (t->port == d->lost_port &&
		    strcmp(t->host, d->lost_host) == 0) {
			size_t v = d->order[i];

			memmove(&d->order[i], &d->order[i + 1],
			    (n - i - 1) * sizeof(d->order[0]));
			d->order[n - 1] = v;
			k++;
		} else {
			i++;
		}
	}
	d->lost_host[0] = '\0';
}

static void fail_sequence(dom_chan *d, fedrpc_code code, const char *why,
    uint64_t now, act *a);

/* Dials the attempt set up by try_setup(). */
static void
try_start(dom_chan *d, uint64_t now, act *a)
{
	d->try_step     = TRY_HANDSHAKE;
	d->try.started  = now;
	d->last_attempt = now;
	snprintf(d->step, sizeof(d->step), "%s with %.200s:%u",
	    d->cfg->use_tls ? "TLS handshake" : "handshake", d->try.host,
	    (unsigned) d->try.port);
	a->kind = ACT_DIAL;
	a->dial = d->try;
}

/* Starts trying the targets of d->answer. */
static void
start_sequence(dom_chan *d, uint64_t now, act *a)
{
	fedrpc_srv_answer_free(d->seq);
	d->seq     = fedrpc_srv_answer_dup(d->answer);
	d->errs[0] = '\0';
	d->n_order = 0;
	if (d->seq == NULL) {
		fail_sequence(d, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory", now, a);
		return;
	}
	free(d->order);
	if ((d->order = calloc(d->seq->n_targets + 1, sizeof(*d->order))) ==
	    NULL) {
		fail_sequence(d, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory", now, a);
		return;
	}
	d->n_order = fedrpc_srv_order(d->seq, &d->rng, d->order);
	order_lost_last(d);
	d->oi = d->ai = 0;
	d->state      = DOM_CONNECTING;
	if (!try_setup(d)) {
		char why[300];

		snprintf(why, sizeof(why),
		    "no target of %s has an address (%zu SRV target%s)",
		    d->domain, d->seq->n_targets,
		    d->seq->n_targets == 1 ? "" : "s");
		fail_sequence(d, FEDRPC_UNAVAILABLE, why, now, a);
		return;
	}
	try_start(d, now, a);
}

/*
 * Every target failed (or the lookup did): back off, and fail calls fast
 * with the reason until the next attempt. While the previous connection
 * is still up (a move to new targets failed), it stays in use.
 */
static void
fail_sequence(
    dom_chan *d, fedrpc_code code, const char *why, uint64_t now, act *a)
{
	uint32_t delay = backoff_next(&d->bo);

	fedrpc_srv_answer_free(d->seq);
	d->seq     = NULL;
	d->step[0] = '\0';
	if (d->cur.up) {
		FEDRPC_LOG_WARN("domain %s: staying on %s:%u: %s", d->domain,
		    d->cur.host, (unsigned) d->cur.port, why);
		d->state        = DOM_READY;
		d->answer_until = now + delay;
		return;
	}
	d->state      = DOM_BACKOFF;
	d->retry_at   = now + delay;
	d->backoff_ms = delay;
	d->failures++;
	d->want = false;
	POOL_STAT_ADD(d->pool, backoffs, 1);
	FEDRPC_LOG_WARN("domain %s: %s (next attempt in %u ms)", d->domain,
	    why, delay);
	chan_set_down_locked(d->ch, code, why, d->retry_at);
	/* A connection failure may come from stale records: look the
	 * domain up afresh next time. */
	if (code == FEDRPC_UNAVAILABLE && d->answer != NULL) {
		fedrpc_srv_answer_free(d->answer);
		d->answer = NULL;
		d->forget = true;
	}
	/* A connection being replaced when it dropped goes too. */
	take_dial(&d->cur, a);
}

/* The current attempt failed: the next address or target, or give up. */
static void
try_next(dom_chan *d, uint64_t now, act *a)
{
	POOL_STAT_ADD(d->pool, attempt_failures, 1);
	d->ai++;
	if (try_setup(d)) {
		try_start(d, now, a);
		return;
	}
	fail_sequence(d, FEDRPC_UNAVAILABLE, d->errs, now, a);
}

static bool
answer_lists(const fedrpc_srv_answer *ans, const dom_dial *dl)
{
	for (size_t i = 0; ans != NULL && i < ans->n_targets; i++)
		if (ans->targets[i].port == dl->port &&
		    strcmp(ans->targets[i].host, dl->host) == 0)
			return true;
	return false;
}

/* A lookup finished: take its answer. */
static void
take_lookup(dom_chan *d, uint64_t now, act *a)
{
	uint64_t ttl_ms;

	d->lookup_done = false;
	d->lookup_busy = false;
	if (d->lookup_code != FEDRPC_OK) {
		if (d->state == DOM_RESOLVING) {
			fail_sequence(d, d->lookup_code, d->lookup_msg, now, a);
		} else {
			/* A refresh failed: keep what works, ask later. */
			FEDRPC_LOG_INFO("domain %s: %s", d->domain, d->lookup_msg);
			d->answer_until = now + DOM_REFRESH_MIN_MS;
		}
		return;
	}
	fedrpc_srv_answer_free(d->answer);
	d->answer        = d->lookup_answer;
	d->lookup_answer = NULL;
	ttl_ms           = (uint64_t) d->answer->ttl * 1000u;
	d->answer_until  = now + (ttl_ms < DOM_REFRESH_MIN_MS ? DOM_REFRESH_MIN_MS
							      : ttl_ms);
	if (d->state == DOM_RESOLVING) {
		start_sequence(d, now, a);
	} else if (d->state == DOM_READY && !answer_lists(d->answer, &d->cur)) {
		FEDRPC_LOG_INFO("domain %s: %s:%u is no longer listed, moving",
		    d->domain, d->cur.host, (unsigned) d->cur.port);
		if (d->ch->wire == NULL) {
			start_sequence(d, now, a);
		} else if (!d->moving) {
			/* One stream per channel: the calls on it are
			 * answered, then its loss starts the move. */
			d->moving = true;
			a->kind   = ACT_DRAIN;
			a->dial   = d->cur;
		}
	}
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Decides the next thing to do; ch->mtx held. */
static void
decide(dom_chan *d, uint64_t now, uint64_t *next_wake, act *a)
{
	fedrpc_channel *ch = d->ch;
	char            why[300];
	int             rv;

	a->kind = ACT_NONE;
	if (d->closing)
		return;
	if (d->forget) {
		d->forget = false;
		a->kind   = ACT_FORGET;
		return;
	}
	if (d->lookup_done) {
		take_lookup(d, now, a);
		if (a->kind != ACT_NONE)
			return;
	}
	switch (d->state) {
	case DOM_IDLE:
		if (!d->want && ch->n_live == 0)
			return;
		if (!pool_allowed(d->pool, d->domain)) {
			POOL_STAT_ADD(d->pool, denied, 1);
			snprintf(why, sizeof(why), "%s is not on the allow list",
			    d->domain);
			fail_sequence(d, FEDRPC_PERMISSION_DENIED, why, now, a);
			return;
		}
		if (d->answer != NULL && now < d->answer_until) {
			start_sequence(d, now, a);
			return;
		}
		d->state = DOM_RESOLVING;
		snprintf(d->step, sizeof(d->step),
		    "looking up the SRV record of %s", d->domain);
		if (!d->lookup_busy) {
			d->lookup_busy = true;
			a->kind        = ACT_LOOKUP;
		}
		return;

	case DOM_RESOLVING:
		return; /* the resolver ends every lookup by its timeout */

	case DOM_CONNECTING:
		if (d->try_step == TRY_CLOSED) {
			try_next(d, now, a);
			return;
		}
		/* TRY_HANDSHAKE */
		if (d->try.up) {
			act old = {0};

			take_dial(&d->cur, &old);
			d->cur        = d->try;
			d->cur.up_at  = now;
			d->cur_lost   = false;
			dial_reset(&d->try);
			d->state      = DOM_READY;
			d->want       = false;
			d->failures   = 0;
			d->backoff_ms = 0;
			d->errs[0]    = '\0';
			d->step[0]    = '\0';
			/* Reached: the back-off starts over, unless connections
			 * have just been dropped as soon as they were made. */
			if (d->brief == 0)
				backoff_reset(&d->bo);
			chan_clear_down_locked(ch);
			fedrpc_srv_answer_free(d->seq);
			d->seq = NULL;
			FEDRPC_LOG_INFO("domain %s: connected to %s:%u (%s)",
			    d->domain, d->cur.host, (unsigned) d->cur.port,
			    d->cur.addr);
			*a = old;
			return;
		}
		if (d->try_failed) {
			add_err(d, "%s", d->try_msg);
		} else if (d->try.tls != NULL &&
		    fedrpc_tls_last_error(d->try.tls, why, sizeof(why)) !=
		        FEDRPC_OK) {
			add_err(d, "TLS handshake with %s:%u failed: %s",
			    d->try.host, (unsigned) d->try.port, why);
		} else if (d->try_counted && (rv = dom_dial_error(&d->try_counts)) != 0) {
			add_err(d, "%s %s:%u", dom_dial_error_words(rv), d->try.host,
			    (unsigned) d->try.port);
		} else if (now >= d->try.started + d->cfg->connect_timeout_ms) {
			add_err(d, "no %s with %s:%u within %u ms",
			    d->cfg->use_tls ? "TLS handshake" : "handshake",
			    d->try.host, (unsigned) d->try.port,
			    d->cfg->connect_timeout_ms);
		} else {
			*next_wake = min_u64(*next_wake,
			    min_u64(now + DOM_POLL_MS,
			        d->try.started + d->cfg->connect_timeout_ms));
			return;
		}
		/* This attempt is over: close it, then the next one. */
		if (take_dial(&d->try, a))
			d->try_step = TRY_CLOSED;
		else
			try_next(d, now, a);
		return;

	case DOM_READY:
		if (d->cur_lost && !d->cur.up) {
			uint64_t up_for = now - d->cur.up_at;

			d->cur_lost = false;
			if (d->moving) {
				/* Closed by us to move: not a brief one. */
				d->moving = false;
				up_for    = up_for < DOM_MIN_UP_MS ? DOM_MIN_UP_MS
							       : up_for;
			}
			snprintf(d->lost_host, sizeof(d->lost_host), "%s",
			    d->cur.host);
			d->lost_port = d->cur.port;
			FEDRPC_LOG_INFO("domain %s: lost %s:%u after %llu ms",
			    d->domain, d->cur.host, (unsigned) d->cur.port,
			    (unsigned long long) up_for);
			snprintf(why, sizeof(why),
			    "%.200s:%u closed the connection %llu ms after it "
			    "was made",
			    d->cur.host, (unsigned) d->cur.port,
			    (unsigned long long) up_for);
			take_dial(&d->cur, a);
			if (up_for < DOM_MIN_UP_MS &&
			    ++d->brief >= DOM_MAX_BRIEF) {
				fail_sequence(d, FEDRPC_UNAVAILABLE, why, now, a);
				return;
			}
			if (up_for >= DOM_MIN_UP_MS) {
				d->brief = 0;
				backoff_reset(&d->bo);
			}
			/* Reconnect at once, to another target first. */
			d->state = DOM_IDLE;
			d->want  = true;
			return;
		}
		if (!d->lookup_busy && now >= d->answer_until) {
			d->lookup_busy = true;
			a->kind        = ACT_LOOKUP;
			return;
		}
		if (!d->lookup_busy)
			*next_wake = min_u64(*next_wake, d->answer_until);
		return;

	case DOM_BACKOFF:
		if (now < d->retry_at) {
			*next_wake = min_u64(*next_wake, d->retry_at);
			return;
		}
		chan_clear_down_locked(ch);
		d->state   = DOM_IDLE;
		d->step[0] = '\0';
		/* The next call (or one waiting now) starts an attempt. */
		return;
	}
}

/* Starts the try dialer; no lock held. */
static void
do_dial(dom_chan *d, const dom_dial *dl)
{
	fedrpc_channel *ch  = d->ch;
	fedrpc_tls     *tls = NULL;
	fedrpc_status   st  = {0};
	nng_dialer      dialer;
	char            msg[FEDRPC_STATUS_MESSAGE_MAX] = "";
	int             rv;

	POOL_STAT_ADD(d->pool, attempts, 1);
	if (d->cfg->use_tls) {
		fedrpc_tls_opts o = d->cfg->tls;

		/* A static route to an address has no host name to check:
		 * the server must then prove the domain itself. */
		o.server_name = dns_name_is_ip(dl->host) ? d->domain : dl->host;
		if (fedrpc_tls_new(&tls, false, &o, &st) != FEDRPC_OK) {
			snprintf(msg, sizeof(msg), "TLS set-up for %.80s failed: %.150s",
			    dl->host, st.message);
			goto fail;
		}
	}
	if (ch->wire != NULL) {
		uint32_t gen = chan_wire_reserve(ch);

		/* Recorded before its events can come. */
		pthread_mutex_lock(&ch->mtx);
		d->try.tls  = tls;
		d->try.wgen = gen;
		pthread_mutex_unlock(&ch->mtx);
		tls = NULL; /* freed with the try */
		if ((rv = chan_wire_connect(ch, gen, dl->url, d->try.tls)) != 0) {
			snprintf(msg, sizeof(msg), "cannot dial %.200s: %s",
			    dl->url, nng_strerror(rv));
			goto fail;
		}
		return;
	}
	if ((rv = nng_dialer_create(&dialer, ch->sock, dl->url)) != 0) {
		snprintf(msg, sizeof(msg), "cannot dial %.200s: %s", dl->url,
		    nng_strerror(rv));
		goto fail;
	}
	/* Recorded before the start, so no connection event is missed. */
	pthread_mutex_lock(&ch->mtx);
	d->try.dialer = dialer;
	d->try.tls    = tls;
	pthread_mutex_unlock(&ch->mtx);
	tls = NULL;
	if ((d->cfg->use_tls &&
	        (rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG,
	             fedrpc_tls_nng_config(d->try.tls))) != 0) ||
	    (rv = nng_dialer_start(dialer, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(msg, sizeof(msg), "cannot dial %.200s: %s", dl->url,
		    nng_strerror(rv));
		goto fail;
	}
	return;
fail:
	if (tls != NULL)
		fedrpc_tls_free(tls);
	pthread_mutex_lock(&ch->mtx);
	d->try_failed = true;
	snprintf(d->try_msg, sizeof(d->try_msg), "%s", msg);
	pthread_mutex_unlock(&ch->mtx);
}

/* Reads the statistics of the attempt under way, without the lock (a
 * snapshot takes nng's own locks). */
static void
read_try_counts(dom_chan *d)
{
	nng_dialer  dialer = NNG_DIALER_INITIALIZER;
	dial_counts c;
	bool        have;

	pthread_mutex_lock(&d->ch->mtx);
	if (!d->closing && d->state == DOM_CONNECTING &&
	    d->try_step == TRY_HANDSHAKE)
		dialer = d->try.dialer;
	pthread_mutex_unlock(&d->ch->mtx);
	if (nng_dialer_id(dialer) <= 0)
		return;
	have = chan_dial_counts(dialer, &c);
	pthread_mutex_lock(&d->ch->mtx);
	if (have && nng_dialer_id(d->try.dialer) == nng_dialer_id(dialer)) {
		d->try_counts  = c;
		d->try_counted = true;
	}
	pthread_mutex_unlock(&d->ch->mtx);
}

static void
close_dial(dom_chan *d, dom_dial *dl)
{
	if (nng_dialer_id(dl->dialer) > 0)
		nng_dialer_close(dl->dialer);
	if (dl->wgen != 0)
		chan_wire_disconnect(d->ch, dl->wgen);
	if (dl->tls != NULL)
		fedrpc_tls_free(dl->tls);
}

void
dom_step(dom_chan *d, uint64_t now, uint64_t *next_wake)
{
	read_try_counts(d);
	/* Each round does at most one thing that needs no lock; a bound
	 * keeps one busy domain from starving the others. */
	for (int round = 0; round < 16; round++) {
		act a;

		pthread_mutex_lock(&d->ch->mtx);
		decide(d, now, next_wake, &a);
		pthread_mutex_unlock(&d->ch->mtx);
		switch (a.kind) {
		case ACT_NONE:
			return;
		case ACT_LOOKUP:
			if (fedrpc_resolver_lookup_async(d->cfg->resolver, d->domain,
			        0, lookup_cb, d) != FEDRPC_OK) {
				pthread_mutex_lock(&d->ch->mtx);
				d->lookup_done = true;
				d->lookup_code = FEDRPC_UNAVAILABLE;
				snprintf(d->lookup_msg, sizeof(d->lookup_msg),
				    "cannot look %s up: resolver closed",
				    d->domain);
				pthread_mutex_unlock(&d->ch->mtx);
			}
			break;
		case ACT_DIAL:
			do_dial(d, &a.dial);
			break;
		case ACT_CLOSE:
			close_dial(d, &a.dial);
			break;
		case ACT_FORGET:
			fedrpc_resolver_forget(d->cfg->resolver, d->domain);
			break;
		case ACT_DRAIN:
			chan_wire_drain(d->ch, a.dial.wgen);
			break;
		}
		now = fedrpc_clock_ms();
	}
	*next_wake = now; /* more to do: come back at once */
}

bool
dom_is_idle(dom_chan *d, uint64_t now)
{
	bool idle;

	pthread_mutex_lock(&d->ch->mtx);
	idle = d->ch->n_live == 0 && !d->want &&
	    now - d->last_used >= d->cfg->idle_timeout_ms &&
	    (d->state == DOM_IDLE || d->state == DOM_READY ||
	        d->state == DOM_BACKOFF);
	pthread_mutex_unlock(&d->ch->mtx);
	return idle;
}

void
dom_disconnect(dom_chan *d)
{
	act  a = {0};
	bool had;

	pthread_mutex_lock(&d->ch->mtx);
	had = take_dial(&d->cur, &a);
	fedrpc_srv_answer_free(d->answer);
	d->answer   = NULL;
	d->cur_lost = false;
	d->moving   = false;
	d->state    = DOM_IDLE;
	d->step[0]  = '\0';
	backoff_reset(&d->bo);
	chan_clear_down_locked(d->ch);
	pthread_mutex_unlock(&d->ch->mtx);
	if (had)
		close_dial(d, &a.dial);
}

/* Whether the pool's channels speak the wire protocol (as a URL channel
 * with the pool's scheme would). */
static bool
dom_wire_wanted(const dom_config *cfg)
{
	char url[32];

	snprintf(url, sizeof(url), "%s://", cfg->scheme);
	return chan_wire_wanted(url);
}

fedrpc_code
dom_new(fedrpc_domains *pool, const char *domain, dom_chan **out,
    fedrpc_status *st)
{
	const dom_config  *cfg = &pool->cfg;
	fedrpc_channel_opts co = {
	    .url                = domain,
	    .origin_domain      = cfg->origin,
	    .target_domain      = domain,
	    .api_version        = cfg->api_version,
	    .max_message_size   = cfg->max_msg,
	    .api_versions       = cfg->versions,
	    .n_api_versions     = cfg->n_versions,
	    .default_timeout_ms = cfg->default_timeout_ms,
	};
	dom_chan *d;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->domain = strdup(domain)) == NULL) {
		free(d);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory opening a channel to %s", domain);
	}
	d->pool = pool;
	d->cfg  = cfg;
	backoff_init(&d->bo, &cfg->backoff, 0);
	d->rng       = 0; /* fedrpc_srv_order seeds it */
	d->last_used = fedrpc_clock_ms();
	if (chan_open_undialed(&d->ch, &co, st) != FEDRPC_OK) {
		free(d->domain);
		free(d);
		return st->code;
	}
	chan_set_hooks(d->ch, &dom_hooks, d);
	if (dom_wire_wanted(cfg) &&
	    chan_wire_open_managed(d->ch, st) != FEDRPC_OK) {
		chan_close(d->ch); /* frees d through dom_free */
		return st->code;
	}
	*out       = d;
	return FEDRPC_OK;
}

void
dom_close(dom_chan *d)
{
	pthread_mutex_lock(&d->ch->mtx);
	d->closing = true;
	pthread_mutex_unlock(&d->ch->mtx);
	fedrpc_resolver_cancel(d->cfg->resolver, lookup_cb, d);
	/* Closing the socket closes its dialers; dom_free() runs when the
	 * last call handle is gone. */
	chan_close(d->ch);
}

static void
dom_free(fedrpc_channel *ch)
{
	dom_chan *d = ch->hooks_arg;

	if (d->cur.tls != NULL)
		fedrpc_tls_free(d->cur.tls);
	if (d->try.tls != NULL)
		fedrpc_tls_free(d->try.tls);
	fedrpc_srv_answer_free(d->answer);
	fedrpc_srv_answer_free(d->lookup_answer);
	fedrpc_srv_answer_free(d->seq);
	free(d->order);
	free(d->domain);
	free(d);
}

/* fedrpc_channel_close() of a domain channel: shared through its pool,
 * which closes it. */
static void
dom_close_hook(fedrpc_channel *ch)
{
	dom_release(ch->hooks_arg);
}

/* A domain channel fails calls at once until its back-off ends. */
static bool
dom_fail_fast(fedrpc_channel *ch)
{
	return fedrpc_clock_ms() < ch->fail_until;
}

static const chan_hooks dom_hooks = {
	.call_waiting = dom_call_waiting,
	.pipe_event   = dom_pipe_event,
	.fail_fast    = dom_fail_fast,
	.last_error   = dom_last_error,
	.close        = dom_close_hook,
	.free         = dom_free,
	.wire_event   = dom_wire_event,
};

fedrpc_code
fedrpc_domain_info_get(fedrpc_channel *ch, fedrpc_domain_info *out)
{
	dom_chan *d;

	memset(out, 0, sizeof(*out));
	if (ch == NULL || ch->hooks != &dom_hooks || (d = ch->hooks_arg) == NULL)
		return FEDRPC_NOT_FOUND;
	pthread_mutex_lock(&ch->mtx);
	snprintf(out->state, sizeof(out->state), "%s", state_name(d->state));
	if (d->cur.up) {
		snprintf(out->target, sizeof(out->target), "%s", d->cur.host);
		snprintf(out->address, sizeof(out->address), "%s", d->cur.addr);
		out->port = d->cur.port;
	}
	out->backoff_ms      = d->state == DOM_BACKOFF ? d->backoff_ms : 0;
	out->failures        = d->failures;
	out->last_attempt_ms = d->last_attempt;
	out->retry_at_ms     = d->state == DOM_BACKOFF ? d->retry_at : 0;
	pthread_mutex_unlock(&ch->mtx);
	return FEDRPC_OK;
}
