/*
 * Channels: one connection to one endpoint, made in the background, a
 * pool of calls reused across calls, and the reason calls fail fast with
 * when the endpoint cannot be reached, instead of letting each wait for
 * its full deadline. On the wire protocol (the default for every scheme
 * but inproc://) the connection is client/wire_client.c's stream, which
 * reports its own failures. On req0/rep0 (inproc://, FEDRPC_WIRE=reqrep)
 * it is an nng req0 socket, each call a req0 context and aio, and a watch
 * does the rest:
 *
 * nng's dialer reports nothing to its caller when a background dial
 * fails, but it counts each failure by kind in its statistics. So while
 * calls wait and no connection is up, the channel reads its dialer's
 * counters (refused, timed out, authentication, ...) and the TLS engine's
 * last handshake error, and fails the calls with that reason. (Probing
 * with a bare connection of our own would be simpler, but an nng 1.5.2
 * listener that sees a connection close during negotiation backs off for
 * 100 ms, and an ipc:// listener stops accepting altogether.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "core/base/clock.h"

#define DEFAULT_MAX_MSG (4u << 20)
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_RECONN_MIN_MS 100
#define DEFAULT_RECONN_MAX_MS 5000
/* How often a waiting channel looks at its connection state. */
#define WATCH_TICK_MS 20

static void watch_cb(void *arg);

static bool
is_tls_url(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* Frees what open made; the socket must be closed and calls gone. */
static void
chan_free(fedrpc_channel *ch)
{
	ch->hooks->free(ch);
	if (ch->watch_aio != NULL)
		nng_aio_free(ch->watch_aio);
	if (ch->tls != NULL)
		fedrpc_tls_free(ch->tls);
	pthread_mutex_destroy(&ch->mtx);
	pthread_cond_destroy(&ch->cv);
	free(ch->pipes);
	free(ch->url);
	free(ch->origin);
	free(ch->target);
	free(ch->versions);
	free(ch);
}

/* Records why the endpoint is unreachable; mtx held. */
static void
set_fail(fedrpc_channel *ch, fedrpc_code code, const char *why,
    fail_source src)
{
	if (ch->fail_code != code || strcmp(ch->fail_msg, why) != 0)
		FEDRPC_LOG_INFO("channel %s: %s", ch->url, why);
	ch->fail_code = code;
	ch->fail_src  = src;
	ch->fail_ms   = fedrpc_clock_ms();
	snprintf(ch->fail_msg, sizeof(ch->fail_msg), "%s", why);
}

static void
clear_fail(fedrpc_channel *ch)
{
	ch->fail_code   = FEDRPC_OK;
	ch->fail_src    = FAIL_NONE;
	ch->fail_msg[0] = '\0';
}

void
chan_fail_status(fedrpc_channel *ch, fedrpc_status *st)
{
	pthread_mutex_lock(&ch->mtx);
	if (ch->fail_code != FEDRPC_OK)
		fedrpc_status_set(st, ch->fail_code, "cannot reach %s: %s",
		    ch->url, ch->fail_msg);
	else
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "cannot reach %s: connection lost", ch->url);
	pthread_mutex_unlock(&ch->mtx);
}

/* Starts the watch if calls may be waiting for a connection; mtx held. */
static void
watch_start(fedrpc_channel *ch)
{
	if (ch->wire != NULL || ch->watching || ch->closing ||
	    ch->n_pipes > 0 || ch->n_live == 0)
		return;
	ch->watching = true;
	nng_sleep_aio(0, ch->watch_aio);
}

/* Stops every live call because the endpoint is down; mtx held. Calls
 * already told are told again: cancelling is idempotent, and that also
 * catches a call whose first cancel came before nng had its request. */
static void
abort_live(fedrpc_channel *ch, int why)
{
	for (fedrpc_call *c = ch->live; c != NULL; c = c->next) {
		int none = ABORT_NONE;

		/* The first reason wins; the cancel is repeated anyway. */
		pthread_mutex_lock(&c->lk);
		__atomic_compare_exchange_n(&c->abort, &none, why, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		nng_aio_cancel(c->cur);
		pthread_mutex_unlock(&c->lk);
	}
}

static uint64_t
stat_value(nng_stat *scope, const char *name)
{
	nng_stat *st = nng_stat_find(scope, name);

	return st != NULL ? nng_stat_value(st) : 0;
}

/*
 * The statistics scope of dialer `id`. (nng_stat_find_dialer() of nng
 * 1.5.2 returns the first dialer it meets below the root, whichever.)
 */
static nng_stat *
find_dialer_scope(nng_stat *st, int id)
{
	for (; st != NULL; st = nng_stat_next(st)) {
		nng_stat *found;

		if (nng_stat_type(st) == NNG_STAT_SCOPE &&
		    strcmp(nng_stat_name(st), "dialer") == 0) {
			for (nng_stat *c = nng_stat_child(st); c != NULL;
			     c = nng_stat_next(c))
				if (strcmp(nng_stat_name(c), "id") == 0 &&
				    nng_stat_value(c) == (uint64_t) id)
					return st;
			continue;
		}
		if ((found = find_dialer_scope(nng_stat_child(st), id)) != NULL)
			return found;
	}
	return NULL;
}

bool
chan_dial_counts(nng_dialer d, dial_counts *c)
{
	nng_stat *all, *ds;

	if (nng_stats_get(&all) != 0)
		return false;
	if ((ds = find_dialer_scope(all, nng_dialer_id(d))) == NULL) {
		nng_stats_free(all);
		return false;
	}
	c->connect = stat_value(ds, "connect");
	c->refused = stat_value(ds, "refused");
	c->timeout = stat_value(ds, "timeout");
	c->auth    = stat_value(ds, "auth");
	c->proto   = stat_value(ds, "proto");
	c->other   = stat_value(ds, "other") + stat_value(ds, "disconnect");
	nng_stats_free(all);
	return true;
}

/* The reason for failures counted since `was`, or NULL for none. */
static const char *
dial_failure(const dial_counts *now, const dial_counts *was)
{
	if (now->connect != was->connect)
		return NULL; /* a success in between: nothing to conclude */
	if (now->refused != was->refused)
		return "connection refused";
	if (now->auth != was->auth)
		return "peer authentication failed";
	if (now->timeout != was->timeout)
		return "connection timed out";
	if (now->proto != was->proto)
		return "protocol error: not a fedrpc server";
	if (now->other != was->other)
		return "connection failed";
	return NULL;
}

static void
watch_cb(void *arg)
{
	fedrpc_channel *ch = arg;
	char            why[sizeof(ch->fail_msg)];
	const char     *failure = NULL;
	fedrpc_code     code;
	dial_counts     counts;
	bool            have;

	pthread_mutex_lock(&ch->mtx);
	if (nng_aio_result(ch->watch_aio) != 0 || ch->closing ||
	    ch->n_pipes > 0 || ch->n_live == 0) {
		ch->watching = false;
		pthread_cond_broadcast(&ch->cv);
		pthread_mutex_unlock(&ch->mtx);
		return;
	}
	pthread_mutex_unlock(&ch->mtx);

	/* Outside the lock: a statistics snapshot takes nng's own locks. */
	have = chan_dial_counts(ch->dialer, &counts);

	pthread_mutex_lock(&ch->mtx);
	if (have) {
		failure  = dial_failure(&counts, &ch->seen);
		ch->seen = counts;
	}
	if (ch->tls != NULL &&
	    (code = fedrpc_tls_last_error(ch->tls, why, sizeof(why))) !=
	        FEDRPC_OK) {
		/* The engine knows better why the handshake failed. */
		if (failure != NULL || ch->fail_src == FAIL_TLS)
			set_fail(ch, code, why, FAIL_TLS);
	} else if (failure != NULL) {
		set_fail(ch, FEDRPC_UNAVAILABLE, failure, FAIL_DIAL);
	}
	if (ch->n_pipes == 0 && ch->fail_code != FEDRPC_OK &&
	    fedrpc_clock_ms() - ch->fail_ms <= ch->fresh_ms)
		abort_live(ch, ABORT_DOWN);
	nng_sleep_aio(WATCH_TICK_MS, ch->watch_aio);
	pthread_mutex_unlock(&ch->mtx);
}

/* Where pipe `id` is in ch->pipes, or -1; mtx held. */
static ssize_t
pipe_index(const fedrpc_channel *ch, uint32_t id)
{
	for (size_t i = 0; i < ch->n_pipes; i++)
		if (ch->pipes[i] == id)
			return (ssize_t) i;
	return -1;
}

/* Whether pipe `id` was removed before it was added; mtx held. */
static bool
pipe_was_gone(const fedrpc_channel *ch, uint32_t id)
{
	for (size_t i = 0; i < sizeof(ch->gone) / sizeof(ch->gone[0]); i++)
		if (ch->gone[i] == id)
			return true;
	return false;
}

/* Lists a new pipe (not one already removed); false when out of memory. */
static bool
pipe_add(fedrpc_channel *ch, nng_pipe pipe)
{
	uint32_t id = (uint32_t) nng_pipe_id(pipe);

	if (pipe_was_gone(ch, id))
		return true;
	if (ch->n_pipes == ch->cap_pipes) {
		size_t    cap = ch->cap_pipes ? 2 * ch->cap_pipes : 4;
		uint32_t *p   = realloc(ch->pipes, cap * sizeof(*p));

		if (p == NULL)
			return false;
		ch->pipes     = p;
		ch->cap_pipes = cap;
	}
	ch->pipes[ch->n_pipes++] = id;
	clear_fail(ch);
	FEDRPC_LOG_DEBUG("channel %s: connected", ch->url);
	return true;
}

static void
pipe_remove(fedrpc_channel *ch, uint32_t id)
{
	ssize_t i = pipe_index(ch, id);

	if (i >= 0) {
		ch->pipes[i] = ch->pipes[--ch->n_pipes];
		FEDRPC_LOG_DEBUG("channel %s: disconnected", ch->url);
	} else {
		ch->gone[ch->gone_next++ % (sizeof(ch->gone) / sizeof(ch->gone[0]))] =
		    id;
	}
}

/*
 * Connections, from nng's pipe events. nng 1.5.2 runs them on different
 * threads, and not always in order:
 * - it hands a pipe to the protocol before it runs ADD_POST, so a call
 *   can be answered on it before then: a pipe counts from ADD_PRE;
 * - REM_POST (on the reaper's thread) can come before ADD_POST, even
 *   before ADD_PRE when a dialer is closed meanwhile: a pipe removed is
 *   not added afterwards, and the domain channel only hears of the
 *   ADD_POST of a pipe still listed (else it would take a dead
 *   connection for a live one, and keep it).
 * Every pipe that saw ADD_PRE also sees REM_POST.
 */
static void
pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	fedrpc_channel *ch = arg;
	uint32_t        id = (uint32_t) nng_pipe_id(pipe);
	bool            tell = true; /* the kind of channel hears of it */

	pthread_mutex_lock(&ch->mtx);
	switch (ev) {
	case NNG_PIPE_EV_ADD_PRE:
		tell = false;
		if (!pipe_add(ch, pipe)) {
			pthread_mutex_unlock(&ch->mtx);
			nng_pipe_close(pipe);
			return;
		}
		break;
	case NNG_PIPE_EV_ADD_POST:
		tell = pipe_index(ch, id) >= 0;
		break;
	case NNG_PIPE_EV_REM_POST:
		pipe_remove(ch, id);
		break;
	default:
		break;
	}
	if (tell)
		ch->hooks->pipe_event(ch, pipe, ev);
	pthread_mutex_unlock(&ch->mtx);
}

static fedrpc_code
open_fail(fedrpc_status *st, const char *what, const char *url, int rv)
{
	return fedrpc_status_set(st, fedrpc_code_from_nng(rv), "%s %s: %s",
	    what, url, nng_strerror(rv));
}

static fedrpc_code
chan_open(fedrpc_channel **out, const fedrpc_channel_opts *opts, bool dial,
    fedrpc_status *st)
{
	fedrpc_channel *ch;
	size_t          cap;
	uint32_t        rmin, rmax;
	int             rv;
	bool            sock_open = false;

	*out = NULL;
	if (opts == NULL || opts->url == NULL || opts->url[0] == '\0')
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "channel needs a url");
	if (dial && is_tls_url(opts->url) && opts->tls == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s needs TLS options", opts->url);
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory opening a channel");
	pthread_mutex_init(&ch->mtx, NULL);
	pthread_cond_init(&ch->cv, NULL);
	ch->hooks           = &chan_url_hooks;
	ch->refs            = 1;
	ch->api_version     = opts->api_version;
	ch->max_msg         = opts->max_message_size ? opts->max_message_size
						 : DEFAULT_MAX_MSG;
	ch->default_timeout = opts->default_timeout_ms ? opts->default_timeout_ms
						       : DEFAULT_TIMEOUT_MS;
	rmin = opts->reconnect_min_ms ? opts->reconnect_min_ms
				      : DEFAULT_RECONN_MIN_MS;
	rmax = opts->reconnect_max_ms ? opts->reconnect_max_ms
				      : DEFAULT_RECONN_MAX_MS;
	if (rmax < rmin)
		rmax = rmin;
	/* The dialer retries at least this often: a failure older than
	 * that is looked at again before calls are failed for it. */
	ch->fresh_ms = rmax + 1000;
	ch->url      = strdup(opts->url);
	ch->origin   = dup_or_empty(opts->origin_domain);
	ch->target   = dup_or_empty(opts->target_domain);
	if (ch->url == NULL || ch->origin == NULL || ch->target == NULL) {
		fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory opening a channel");
		goto fail;
	}
	if (opts->n_api_versions > 0 && opts->api_versions != NULL) {
		size_t sz = opts->n_api_versions * sizeof(uint32_t);

		if ((ch->versions = malloc(sz)) == NULL) {
			fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "out of memory opening a channel");
			goto fail;
		}
		memcpy(ch->versions, opts->api_versions, sz);
		ch->n_versions = opts->n_api_versions;
		/* Version/Get carries our highest unless told otherwise. */
		if (ch->api_version == 0)
			ch->api_version = ch->versions[ch->n_versions - 1];
	}
	if (dial && is_tls_url(opts->url) &&
	    fedrpc_tls_new(&ch->tls, false, opts->tls, st) != FEDRPC_OK)
		goto fail;

	if ((rv = nng_aio_alloc(&ch->watch_aio, watch_cb, ch)) != 0) {
		open_fail(st, "cannot open a channel to", ch->url, rv);
		goto fail;
	}

	if (dial && chan_wire_wanted(ch->url)) {
		/* fedrpc's own framing on a stream (wire_client.c) */
		if (chan_wire_open(ch, rmin, rmax, st) != FEDRPC_OK)
			goto fail;
		*out = ch;
		return FEDRPC_OK;
	}
	if ((rv = nng_req0_open(&ch->sock)) != 0) {
		open_fail(st, "cannot open a socket for", ch->url, rv);
		goto fail;
	}
	sock_open = true;
	/* No timed resend: a request is sent again only when its
	 * connection drops, and the server deduplicates that by id. A
	 * reply over our limit but under the cap is read and refused
	 * with a clear status; beyond the cap nng drops the connection. */
	cap = ch->max_msg * 2;
	if (cap < ch->max_msg + 65536)
		cap = ch->max_msg + 65536;
	if ((rv = nng_socket_set_ms(ch->sock, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(ch->sock, NNG_OPT_RECVMAXSZ, cap)) != 0 ||
	    (rv = nng_socket_set_ms(
	         ch->sock, NNG_OPT_RECONNMINT, (nng_duration) rmin)) != 0 ||
	    (rv = nng_socket_set_ms(
	         ch->sock, NNG_OPT_RECONNMAXT, (nng_duration) rmax)) != 0 ||
	    (rv = nng_pipe_notify(
	         ch->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, ch)) != 0 ||
	    (rv = nng_pipe_notify(
	         ch->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, ch)) != 0 ||
	    (rv = nng_pipe_notify(
	         ch->sock, NNG_PIPE_EV_REM_POST, pipe_cb, ch)) != 0) {
		open_fail(st, "cannot dial", ch->url, rv);
		goto fail;
	}
	if (!dial) {
		/* domain mode: the connection manager adds dialers */
		*out = ch;
		return FEDRPC_OK;
	}
	if ((rv = nng_dialer_create(&ch->dialer, ch->sock, ch->url)) != 0) {
		open_fail(st, "cannot dial", ch->url, rv);
		goto fail;
	}
	if (ch->tls != NULL &&
	    (rv = nng_dialer_set_ptr(ch->dialer, NNG_OPT_TLS_CONFIG,
	         fedrpc_tls_nng_config(ch->tls))) != 0) {
		open_fail(st, "cannot set TLS on", ch->url, rv);
		goto fail;
	}
	if ((rv = nng_dialer_start(ch->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		open_fail(st, "cannot dial", ch->url, rv);
		goto fail;
	}
	*out = ch;
	return FEDRPC_OK;

fail:
	if (sock_open)
		nng_close(ch->sock);
	chan_free(ch);
	return st->code;
}

fedrpc_code
fedrpc_channel_open(fedrpc_channel **out, const fedrpc_channel_opts *opts,
    fedrpc_status *st)
{
	return chan_open(out, opts, true, st);
}

fedrpc_code
chan_open_undialed(fedrpc_channel **out, const fedrpc_channel_opts *opts,
    fedrpc_status *st)
{
	return chan_open(out, opts, false, st);
}

void
chan_set_down_locked(
    fedrpc_channel *ch, fedrpc_code code, const char *why, uint64_t until)
{
	set_fail(ch, code, why, FAIL_PROBE);
	ch->fail_until = until;
	abort_live(ch, ABORT_DOWN);
}

void
chan_clear_down_locked(fedrpc_channel *ch)
{
	clear_fail(ch);
	ch->fail_until = 0;
}

static fedrpc_call *
call_new(fedrpc_channel *ch)
{
	fedrpc_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ch = ch;
	if ((ch->wire == NULL && nng_ctx_open(&c->ctx, ch->sock) != 0) ||
	    nng_aio_alloc(&c->aio, call_cb, c) != 0 ||
	    nng_aio_alloc(&c->saio, NULL, NULL) != 0) {
		if (c->aio != NULL)
			nng_aio_free(c->aio);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lk, NULL);
	return c;
}

/* The channel is closing: the call's context goes with its socket. */
static void
call_destroy(fedrpc_call *c)
{
	nng_aio_free(c->aio);
	nng_aio_free(c->saio);
	pthread_mutex_destroy(&c->lk);
	free(c);
}

fedrpc_call *
chan_call_acquire(fedrpc_channel *ch, bool handle, fedrpc_status *st)
{
	fedrpc_call *c;

	pthread_mutex_lock(&ch->mtx);
	if (ch->closing) {
		pthread_mutex_unlock(&ch->mtx);
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE, "channel is closed");
		return NULL;
	}
	/* Fail fast while a failure is fresh; an old one is checked
	 * again by the watch before calls are failed for it. */
	if (ch->n_pipes == 0 && ch->fail_code != FEDRPC_OK &&
	    ch->hooks->fail_fast(ch)) {
		fedrpc_status_set(st, ch->fail_code, "cannot reach %s: %s",
		    ch->url, ch->fail_msg);
		pthread_mutex_unlock(&ch->mtx);
		return NULL;
	}
	if ((c = ch->pool) != NULL) {
		ch->pool = c->next;
	} else {
		/* Counted live while it is made: close must not close the
		 * socket under nng_ctx_open(). */
		ch->n_live++;
		pthread_mutex_unlock(&ch->mtx);
		c = call_new(ch);
		pthread_mutex_lock(&ch->mtx);
		ch->n_live--;
		if (c != NULL) {
			ch->refs++;
			if (ch->closing) {
				c->next  = ch->pool;
				ch->pool = c;
				c        = NULL;
			}
		}
		if (c == NULL) {
			if (ch->closing && ch->n_live == 0)
				pthread_cond_broadcast(&ch->cv);
			pthread_mutex_unlock(&ch->mtx);
			fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
			    "cannot make a call on %s", ch->url);
			return NULL;
		}
	}
	c->refs  = handle ? 2 : 1;
	c->abort = ABORT_NONE;
	c->cur   = c->aio;
	c->stage = CALL_SEND;
	c->prev  = NULL;
	c->next  = ch->live;
	if (ch->live != NULL)
		ch->live->prev = c;
	ch->live = c;
	ch->n_live++;
	ch->hooks->call_waiting(ch);
	pthread_mutex_unlock(&ch->mtx);
	return c;
}

/* A reference dropped to zero; mtx held. Returns true when the call
 * must be destroyed by the caller (the channel is closed). */
static bool
call_unref_locked(fedrpc_channel *ch, fedrpc_call *c)
{
	if (--c->refs > 0)
		return false;
	c->stage = CALL_IDLE;
	if (!ch->sock_closed) {
		c->next  = ch->pool;
		ch->pool = c;
		return false;
	}
	return true;
}

/* Drops the channel reference of a destroyed call; mtx NOT held. */
static void
chan_unref(fedrpc_channel *ch)
{
	bool last;

	pthread_mutex_lock(&ch->mtx);
	last = --ch->refs == 0;
	pthread_mutex_unlock(&ch->mtx);
	if (last)
		chan_free(ch);
}

void
chan_call_finished(fedrpc_channel *ch, fedrpc_call *c)
{
	bool destroy;

	pthread_mutex_lock(&ch->mtx);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ch->live = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ch->n_live--;
	destroy = call_unref_locked(ch, c);
	if (ch->closing && ch->n_live == 0)
		pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->mtx);
	if (destroy) {
		call_destroy(c);
		chan_unref(ch);
	}
}

void
chan_call_unref(fedrpc_channel *ch, fedrpc_call *c)
{
	bool destroy;

	pthread_mutex_lock(&ch->mtx);
	destroy = call_unref_locked(ch, c);
	pthread_mutex_unlock(&ch->mtx);
	if (destroy) {
		call_destroy(c);
		chan_unref(ch);
	}
}

void
fedrpc_channel_close(fedrpc_channel *ch)
{
	if (ch != NULL)
		ch->hooks->close(ch);
}

void
chan_close(fedrpc_channel *ch)
{
	fedrpc_call *pool, *c;
	size_t       n = 0;

	pthread_mutex_lock(&ch->mtx);
	ch->closing = true;
	if (ch->watching)
		nng_aio_cancel(ch->watch_aio);
	while (ch->n_live > 0) {
		struct timespec ts;

		/* Cancel again every few ms: a call may have been between
		 * two nng operations when it was first told. */
		abort_live(ch, ABORT_CLOSE);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ch->cv, &ch->mtx, &ts);
	}
	pthread_mutex_unlock(&ch->mtx);

	nng_aio_stop(ch->watch_aio);

	/*
	 * The idle calls go before the socket and their contexts: nng
	 * 1.5.2's timer thread takes a call's cancel function and context
	 * from its aio under its own lock, then calls it unlocked; when the
	 * reply completes the operation in between, the call ends, close
	 * gets here, and closing the socket would free the context that
	 * cancel function is about to lock (a panic, or freed memory used,
	 * in test_channel_stress under load). nng_aio_free() waits for that
	 * thread to be done with the aio; the socket is closed after.
	 */
	pthread_mutex_lock(&ch->mtx);
	ch->sock_closed = true;
	pool            = ch->pool;
	ch->pool        = NULL;
	pthread_mutex_unlock(&ch->mtx);
	while ((c = pool) != NULL) {
		pool = c->next;
		call_destroy(c);
		n++;
	}
	if (ch->wire != NULL)
		chan_wire_close(ch);
	else
		nng_close(ch->sock);

	pthread_mutex_lock(&ch->mtx);
	ch->refs -= n;
	pthread_mutex_unlock(&ch->mtx);
	chan_unref(ch);
}

bool
fedrpc_channel_is_connected(fedrpc_channel *ch)
{
	bool up;

	pthread_mutex_lock(&ch->mtx);
	up = ch->n_pipes > 0;
	pthread_mutex_unlock(&ch->mtx);
	return up;
}

fedrpc_code
fedrpc_channel_last_error(fedrpc_channel *ch, char *buf, size_t len)
{
	fedrpc_code code;

	pthread_mutex_lock(&ch->mtx);
	code = ch->hooks->last_error(ch, buf, len);
	pthread_mutex_unlock(&ch->mtx);
	return code;
}

const char *
fedrpc_channel_url(const fedrpc_channel *ch)
{
	return ch->url;
}

fedrpc_code
fedrpc_channel_peer(fedrpc_channel *ch, fedrpc_peer *out)
{
	nng_pipe pipe = NNG_PIPE_INITIALIZER;

	memset(out, 0, sizeof(*out));
	if (ch->wire != NULL)
		return chan_wire_peer(ch, out);
	pthread_mutex_lock(&ch->mtx);
	if (ch->n_pipes > 0)
		pipe.id = ch->pipes[0];
	pthread_mutex_unlock(&ch->mtx);
	if (nng_pipe_id(pipe) <= 0)
		return FEDRPC_NOT_FOUND;
	return fedrpc_tls_peer_get(pipe, out);
}

void
chan_wire_up(fedrpc_channel *ch, uint32_t gen, bool up, int rv)
{
	pthread_mutex_lock(&ch->mtx);
	ch->n_pipes = up ? 1 : 0;
	if (up) {
		clear_fail(ch);
		FEDRPC_LOG_DEBUG("channel %s: connected", ch->url);
	}
	if (ch->hooks->wire_event != NULL)
		ch->hooks->wire_event(ch, gen, up, rv);
	pthread_mutex_unlock(&ch->mtx);
}

void
chan_wire_down(fedrpc_channel *ch, uint32_t gen, int rv, fedrpc_code code,
    const char *why)
{
	pthread_mutex_lock(&ch->mtx);
	ch->n_pipes = 0;
	if (ch->hooks->wire_event != NULL) {
		/* The manager tries the next address; calls keep waiting. */
		ch->hooks->wire_event(ch, gen, false, rv);
	} else {
		set_fail(ch, code, why, FAIL_DIAL);
		abort_live(ch, ABORT_DOWN);
	}
	pthread_mutex_unlock(&ch->mtx);
}

/* ---- a channel opened by URL ---- */

static void
url_pipe_event(fedrpc_channel *ch, nng_pipe pipe, nng_pipe_ev ev)
{
	(void) pipe;
	if (ev == NNG_PIPE_EV_REM_POST)
		watch_start(ch);
}

/* A failure counts while it is fresh; an old one is checked again by the
 * watch before calls are failed for it. */
static bool
url_fail_fast(fedrpc_channel *ch)
{
	return fedrpc_clock_ms() - ch->fail_ms < ch->fresh_ms;
}

static fedrpc_code
url_last_error(fedrpc_channel *ch, char *buf, size_t len)
{
	fedrpc_code code = ch->n_pipes > 0 ? FEDRPC_OK : ch->fail_code;

	if (len > 0)
		snprintf(buf, len, "%s", code == FEDRPC_OK ? "" : ch->fail_msg);
	return code;
}

static void
url_free(fedrpc_channel *ch)
{
	(void) ch;
}

const chan_hooks chan_url_hooks = {
	.call_waiting = watch_start,
	.pipe_event   = url_pipe_event,
	.fail_fast    = url_fail_fast,
	.last_error   = url_last_error,
	.close        = chan_close,
	.free         = url_free,
};

void
chan_set_hooks(fedrpc_channel *ch, const chan_hooks *h, void *arg)
{
	ch->hooks     = h;
	ch->hooks_arg = arg;
}
