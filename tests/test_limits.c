/*
 * Per-peer limits (server/admission/limits.c): calls in flight and token buckets per
 * key, a bounded key table, reloads, and both limits end to end on a real
 * fedrpc server with slow handlers (admit hook + completion hook).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/channel.h>
#include <fedrpc/limits.h>
#include <fedrpc/server.h>

#include "fedrpc/health/v1/health.fedrpc.h"
#include "testutil.h"

static fedrpc_limits *
make(uint32_t inflight, double rate, uint32_t burst, uint32_t keys)
{
	fedrpc_limits     *l;
	fedrpc_status      st = {0};
	fedrpc_limits_opts o  = {.max_inflight = inflight,
	     .rate                           = rate,
	     .burst                          = burst,
	     .max_keys                       = keys};

	cr_assert_eq(fedrpc_limits_new(&l, &o, &st), FEDRPC_OK);
	return l;
}

Test(limits, inflight_per_key)
{
	fedrpc_limits *l  = make(2, 0, 0, 0);
	fedrpc_status  st = {0};

	cr_assert_eq(fedrpc_limits_enter(l, "b.example", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_enter(l, "b.example", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_enter(l, "b.example", &st),
	    FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert_str_eq(st.message,
	    "b.example has 2 calls in flight, the limit per peer");
	/* Another peer is not affected. */
	cr_assert_eq(fedrpc_limits_enter(l, "c.example", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_inflight(l, "b.example"), 2);
	fedrpc_limits_leave(l, "b.example");
	cr_assert_eq(fedrpc_limits_enter(l, "b.example", &st), FEDRPC_OK);

	fedrpc_limits_stats s;
	fedrpc_limits_stats_get(l, &s);
	cr_assert_eq(s.admitted, 4);
	cr_assert_eq(s.refused_inflight, 1);
	cr_assert_eq(s.inflight, 3);
	cr_assert_eq(s.keys, 2);
	fedrpc_limits_leave(l, "b.example");
	fedrpc_limits_leave(l, "b.example");
	fedrpc_limits_leave(l, "c.example");
	/* Unbalanced or unknown leaves are harmless. */
	fedrpc_limits_leave(l, "c.example");
	fedrpc_limits_leave(l, "zzz");
	cr_assert_eq(fedrpc_limits_inflight(l, "b.example"), 0);
	fedrpc_limits_free(l);
}

/* Calls of `key` admitted in a row now (at most max). */
static int
enter_all(fedrpc_limits *l, const char *key, int max, fedrpc_status *st)
{
	int ok = 0;

	while (ok < max && fedrpc_limits_enter(l, key, st) == FEDRPC_OK) {
		ok++;
		fedrpc_limits_leave(l, key);
	}
	return ok;
}

/* Whole tokens the rate adds between t0 and t1 (tu_now_ms() readings,
 * so less than t1 - t0 + 1 ms apart): the most calls beyond the burst a
 * bucket made in between may have admitted. */
static int
refilled(double rate, uint64_t t0, uint64_t t1)
{
	return (int) (rate * (double) (t1 - t0 + 1) / 1000.0);
}

Test(limits, token_bucket)
{
	/* 5 per second, burst 3: three at once, then one per 200 ms. */
	fedrpc_limits *l;
	fedrpc_status  st = {0};
	int            ok;
	uint64_t       t0, t1;

	t0 = tu_now_ms();
	l  = make(0, 5, 3, 0);
	ok = enter_all(l, "b.example", 10, &st);
	t1 = tu_now_ms();
	/* Ten calls at once: the burst, and no more than the tokens the
	 * rate added while they were made (none, on an idle machine). */
	cr_assert(ok >= 3 && ok < 10, "%d admitted", ok);
	cr_assert_leq(ok - 3, refilled(5, t0, t1), "%d admitted in %llu ms", ok,
	    (unsigned long long) (t1 - t0));
	cr_assert_str_eq(st.message,
	    "rate limit for b.example exceeded: 5 calls per second (burst 3)");
	/* Other keys have their own bucket. */
	cr_assert_eq(fedrpc_limits_enter(l, "c.example", &st), FEDRPC_OK);
	/* Tokens come back with time. */
	cr_assert(TU_WAIT_FOR(fedrpc_limits_enter(l, "b.example", &st) == FEDRPC_OK,
	    TU_WAIT_MS));
	fedrpc_limits_free(l);
}

Test(limits, default_burst_and_reload)
{
	fedrpc_limits     *l;
	fedrpc_status      st = {0};
	fedrpc_limits_opts o  = {.max_inflight = 1};
	int                ok = 0;
	uint64_t           t0, t1;

	/* Burst defaults to the rate rounded up: 3 (and no more than the
	 * tokens the rate added while they were taken). */
	t0 = tu_now_ms();
	l  = make(0, 2.5, 0, 0);
	while (fedrpc_limits_enter(l, "k", &st) == FEDRPC_OK && ok < 100)
		ok++;
	t1 = tu_now_ms();
	cr_assert_geq(ok, 3);
	cr_assert_leq(ok - 3, refilled(2.5, t0, t1), "%d admitted in %llu ms",
	    ok, (unsigned long long) (t1 - t0));
	/* No rate any more, but one call in flight at most; the ones
	 * entered above are still counted. */
	fedrpc_limits_set(l, &o);
	cr_assert_eq(fedrpc_limits_enter(l, "k", &st), FEDRPC_RESOURCE_EXHAUSTED);
	for (int i = 0; i < ok; i++)
		fedrpc_limits_leave(l, "k");
	cr_assert_eq(fedrpc_limits_enter(l, "k", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_enter(l, "k", &st), FEDRPC_RESOURCE_EXHAUSTED);
	fedrpc_limits_leave(l, "k");
	fedrpc_limits_free(l);
}

Test(limits, bounded_keys)
{
	fedrpc_limits *l  = make(0, 0, 0, 2);
	fedrpc_status  st = {0};
	char           key[300];

	cr_assert_eq(fedrpc_limits_enter(l, "a", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_enter(l, "b", &st), FEDRPC_OK);
	/* Both busy: no room for a third. */
	cr_assert_eq(fedrpc_limits_enter(l, "c", &st), FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(st.message, "too many peers") != NULL);
	/* An idle key is forgotten to make room. */
	fedrpc_limits_leave(l, "a");
	cr_assert_eq(fedrpc_limits_enter(l, "c", &st), FEDRPC_OK);
	fedrpc_limits_stats s;
	fedrpc_limits_stats_get(l, &s);
	cr_assert_eq(s.keys, 2);
	cr_assert_eq(s.refused_keys, 1);
	fedrpc_limits_leave(l, "b");
	fedrpc_limits_leave(l, "c");
	/* Overlong keys are cut, consistently. */
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	cr_assert_eq(fedrpc_limits_enter(l, key, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_limits_inflight(l, key), 1);
	fedrpc_limits_leave(l, key);
	cr_assert_eq(fedrpc_limits_inflight(l, key), 0);
	fedrpc_limits_free(l);
}

/* ---- end to end: a server whose admit/done hooks use the limits ---- */

typedef struct slow_server {
	fedrpc_limits  *lim;
	atomic_int      running; /* slow handlers inside now */
	atomic_int      max_running;
	atomic_int      done_calls; /* completion hook runs */
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	bool            release; /* handlers may return */
} slow_server;

static fedrpc_code
slow_admit(void *arg, fedrpc_ctx *ctx, fedrpc_status *st)
{
	slow_server *s = arg;

	return fedrpc_limits_enter(s->lim, fedrpc_ctx_origin_domain(ctx), st);
}

static void
slow_done(void *arg, fedrpc_ctx *ctx, fedrpc_code code)
{
	slow_server *s = arg;

	(void) code;
	fedrpc_limits_leave(s->lim, fedrpc_ctx_origin_domain(ctx));
	atomic_fetch_add(&s->done_calls, 1);
}

static fedrpc_code
slow_check(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Health__V1__HealthCheckRequest *req,
    Fedrpc__Health__V1__HealthCheckResponse *resp, fedrpc_status *st)
{
	slow_server *s = impl;
	int          n, m;

	(void) ctx;
	(void) st;
	if (strcmp(req->service, "slow") == 0) {
		n = atomic_fetch_add(&s->running, 1) + 1;
		while (n > (m = atomic_load(&s->max_running)) &&
		    !atomic_compare_exchange_weak(&s->max_running, &m, n))
			;
		pthread_mutex_lock(&s->mtx);
		while (!s->release)
			pthread_cond_wait(&s->cv, &s->mtx);
		pthread_mutex_unlock(&s->mtx);
		atomic_fetch_sub(&s->running, 1);
	}
	resp->status = FEDRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	return FEDRPC_OK;
}

static fedrpc_channel *
open_channel(const char *url, const char *origin)
{
	fedrpc_channel     *ch;
	fedrpc_status       st = {0};
	fedrpc_channel_opts o  = {.url = url,
	     .origin_domain       = origin,
	     .target_domain       = "a.example",
	     .api_version         = 1,
	     .default_timeout_ms  = 2 * TU_CALL_MS};

	cr_assert_eq(fedrpc_channel_open(&ch, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	return ch;
}

typedef struct async_result {
	atomic_int  n;
	atomic_int  codes[FEDRPC_UNAUTHENTICATED + 1];
} async_result;

static void
on_reply(void *arg, const fedrpc_status *st, ProtobufCMessage *resp)
{
	async_result *r = arg;

	atomic_fetch_add(&r->codes[st->code], 1);
	atomic_fetch_add(&r->n, 1);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
}

static void
wait_count(atomic_int *n, int want)
{
	cr_assert(TU_WAIT_FOR(atomic_load(n) >= want, TU_WAIT_MS),
	    "waited for %d, got %d", want, atomic_load(n));
}

Test(limits, server_inflight_end_to_end, .timeout = 30)
{
	slow_server    s = {.mtx = PTHREAD_MUTEX_INITIALIZER,
	       .cv              = PTHREAD_COND_INITIALIZER};
	fedrpc_server *srv;
	fedrpc_status  st = {0};
	char           url[64];
	async_result   r = {0};
	fedrpc_channel *b, *c;
	Fedrpc__Health__V1__HealthCheckRequest slow =
	    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	Fedrpc__Health__V1__HealthCheckRequest quick =
	    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	Fedrpc__Health__V1__HealthCheckResponse *resp = NULL;
	fedrpc_health_v1_health_handlers h = {.check = slow_check};

	slow.service  = "slow";
	quick.service = "";
	s.lim = make(2, 0, 0, 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", tu_free_port());
	cr_assert_eq(fedrpc_server_new(&srv,
	                 &(fedrpc_server_opts){.url = url, .workers = 6}, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_health_v1_health_register(srv, &h, &s, &st),
	    FEDRPC_OK);
	fedrpc_server_set_admit(srv, slow_admit, &s);
	fedrpc_server_set_done(srv, slow_done, &s);
	cr_assert_eq(fedrpc_server_start(srv, &st), FEDRPC_OK, "%s", st.message);

	b = open_channel(url, "b.example");
	c = open_channel(url, "c.example");
	/* b.example starts four slow calls: two run, two are refused. */
	for (int i = 0; i < 4; i++)
		cr_assert_eq(fedrpc_health_v1_health_check_async(
		                 b, &slow, NULL, (void *) on_reply, &r, NULL, &st),
		    FEDRPC_OK);
	wait_count(&r.codes[FEDRPC_RESOURCE_EXHAUSTED], 2);
	/* (admitted before the refusals, maybe not yet in the handler) */
	wait_count(&s.running, 2);
	/* c.example is still served while b.example holds two workers. */
	cr_assert_eq(fedrpc_health_v1_health_check(c, &quick, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	/* And b.example is refused quickly, with the reason. */
	cr_assert_eq(fedrpc_health_v1_health_check(b, &quick, &resp, NULL, &st),
	    FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert_str_eq(st.message,
	    "b.example has 2 calls in flight, the limit per peer");

	pthread_mutex_lock(&s.mtx);
	s.release = true;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mtx);
	wait_count(&r.n, 4);
	cr_assert_eq(atomic_load(&r.codes[FEDRPC_OK]), 2);
	cr_assert_eq(atomic_load(&s.max_running), 2);
	/* Every admitted call was counted out again. */
	cr_assert(TU_WAIT_FOR(fedrpc_limits_inflight(s.lim, "b.example") == 0,
	    TU_WAIT_MS));
	cr_assert_eq(fedrpc_health_v1_health_check(b, &quick, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	/* admitted: 2 slow + 1 quick c + 1 quick b */
	cr_assert_eq(atomic_load(&s.done_calls), 4);

	fedrpc_channel_close(b);
	fedrpc_channel_close(c);
	fedrpc_server_free(srv);
	fedrpc_limits_free(s.lim);
}

Test(limits, server_done_hook_for_unknown_method, .timeout = 30)
{
	slow_server    s = {0};
	fedrpc_server *srv;
	fedrpc_status  st = {0};
	char           url[64];
	fedrpc_channel *b;
	ProtobufCMessage *resp = NULL;
	Fedrpc__Health__V1__HealthCheckRequest req =
	    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	/* A method the server does not have. */
	const fedrpc_method other = {
	    .full_name = "fedrpc.health.v1.Health/Nope",
	    .name      = "Nope",
	    .input     = &fedrpc__health__v1__health_check_request__descriptor,
	    .output    = &fedrpc__health__v1__health_check_response__descriptor,
	};

	s.lim = make(1, 0, 0, 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", tu_free_port());
	cr_assert_eq(fedrpc_server_new(&srv,
	                 &(fedrpc_server_opts){.url = url}, &st),
	    FEDRPC_OK);
	fedrpc_server_set_admit(srv, slow_admit, &s);
	fedrpc_server_set_done(srv, slow_done, &s);
	cr_assert_eq(fedrpc_server_start(srv, &st), FEDRPC_OK, "%s", st.message);
	b = open_channel(url, "b.example");
	/* Limit 1: each call must be counted out, or the second fails. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fedrpc_channel_call(b, &other, &req.base, &resp,
		                 NULL, &st),
		    FEDRPC_UNIMPLEMENTED, "%s", st.message);
	}
	cr_assert_eq(atomic_load(&s.done_calls), 3);
	fedrpc_channel_close(b);
	fedrpc_server_free(srv);
	fedrpc_limits_free(s.lim);
}
