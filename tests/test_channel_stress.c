/*
 * One channel shared by many threads, as a daemon's local API is used: at
 * once blocking calls, asynchronous calls, calls whose deadline expires
 * under them, calls cancelled or released in flight, and the server
 * stopped and started again under all of them. What must hold: every
 * call ends exactly once with a code that fits what happened, a reply
 * answers its own request, and nothing is freed twice or used after it
 * was freed (the sanitizer builds see that). Bounded by a number of calls
 * per thread, never by time.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "rt_echo.h"
#include "lsan.h"
#include "testutil.h"

/* A server stopped under a connected, redialing client: nng's own leaks
 * of a connection set up while its socket closes, and of a request
 * handed to a connection being closed (lsan.h). */
TU_LSAN_SUPPRESS(TU_LSAN_NNG_THREADS TU_LSAN_REQ0_CLOSED_PIPE(
    "fedrpc_envelope_request_encode"))

#define THREADS 8
#define ROUNDS 400  /* operations per thread */
#define RESTARTS 5  /* server stops while the threads run */

/* What one thread saw: its asynchronous calls are counted by their own
 * callback, so that each ends exactly once. */
typedef struct worker {
	struct stress  *s;
	int             n;
	pthread_mutex_t mtx;
	int             started, ended; /* asynchronous calls */
	int             bad_code;       /* a code that fits nothing done */
	char            bad_msg[FEDRPC_STATUS_MESSAGE_MAX + 64];
	int             wrong_reply;    /* a reply to another request */
	int             ok;
	int             codes[17];      /* every end, by code */
} worker;

typedef struct stress {
	fedrpc_channel *ch;
	atomic_int      done; /* threads finished */
	worker          w[THREADS];
} stress;

/* Codes a call may end with while servers come and go. */
static bool
code_fits(fedrpc_code c)
{
	return c == FEDRPC_OK || c == FEDRPC_DEADLINE_EXCEEDED ||
	    c == FEDRPC_CANCELLED || c == FEDRPC_UNAVAILABLE;
}

static void
note_code(worker *w, fedrpc_code c)
{
	pthread_mutex_lock(&w->mtx);
	if ((unsigned) c < 17)
		w->codes[c]++;
	pthread_mutex_unlock(&w->mtx);
}

static void
note_bad(worker *w, const fedrpc_status *st)
{
	pthread_mutex_lock(&w->mtx);
	w->bad_code++;
	snprintf(w->bad_msg, sizeof(w->bad_msg), "%s: %s",
	    fedrpc_code_name(st->code), st->message);
	pthread_mutex_unlock(&w->mtx);
}

static void
async_cb(void *arg, const fedrpc_status *st, ProtobufCMessage *resp)
{
	worker *w = arg;

	note_code(w, st->code);
	if (!code_fits(st->code))
		note_bad(w, st);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	pthread_mutex_lock(&w->mtx);
	w->ended++;
	pthread_mutex_unlock(&w->mtx);
}

static void
blocking(worker *w, int i, uint32_t sleep_ms, uint32_t timeout_ms)
{
	Fedrpc__Testing__V1__EchoResponse *resp = NULL;
	fedrpc_status                      st   = {0};
	char                               payload[32];

	snprintf(payload, sizeof(payload), "w%d-%d", w->n, i);
	note_code(w, echo_call(w->s->ch, payload, sleep_ms, timeout_ms, NULL,
	                 &resp, &st));
	if (st.code == FEDRPC_OK) {
		if (resp == NULL || resp->payload.len != strlen(payload) ||
		    memcmp(resp->payload.data, payload, resp->payload.len) != 0)
			w->wrong_reply++;
		else
			w->ok++;
	} else if (!code_fits(st.code)) {
		note_bad(w, &st);
	}
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedrpc_status_reset(&st);
}

/* how: 0 no handle, 1 cancel at once, 2 release in flight, 3 cancel
 * after a little while, then release. */
static void
async(worker *w, int how, uint32_t sleep_ms, uint32_t timeout_ms)
{
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_call_opts opts = {.timeout_ms = timeout_ms};
	fedrpc_status    st   = {0};
	fedrpc_call     *call = NULL;

	req.payload.data = (uint8_t *) "async";
	req.payload.len  = 5;
	req.sleep_ms     = sleep_ms;
	pthread_mutex_lock(&w->mtx);
	w->started++;
	pthread_mutex_unlock(&w->mtx);
	if (fedrpc_channel_call_async(w->s->ch, &echo_method, &req.base, &opts,
	        async_cb, w, how ? &call : NULL, &st) != FEDRPC_OK) {
		/* Refused at once (the endpoint is known down): no callback. */
		note_code(w, st.code);
		if (!code_fits(st.code))
			note_bad(w, &st);
		pthread_mutex_lock(&w->mtx);
		w->started--;
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	switch (how) {
	case 1:
		fedrpc_call_cancel(call);
		break;
	case 3:
		sched_yield();
		fedrpc_call_cancel(call);
		fedrpc_call_cancel(call);
		break;
	default:
		break;
	}
	fedrpc_call_release(call);
}

/* Whether one of the thread's calls ended UNAVAILABLE since `before`
 * (its count then): the server was away. */
static bool
failed_fast(worker *w, int before)
{
	int now;

	pthread_mutex_lock(&w->mtx);
	now = w->codes[FEDRPC_UNAVAILABLE];
	pthread_mutex_unlock(&w->mtx);
	return now != before;
}

static void *
worker_main(void *arg)
{
	worker *w     = arg;
	int     spare = 20 * ROUNDS; /* rounds done again, at most */

	for (int i = 0; i < ROUNDS; i++) {
		int before;

		pthread_mutex_lock(&w->mtx);
		before = w->codes[FEDRPC_UNAVAILABLE];
		pthread_mutex_unlock(&w->mtx);
		switch ((i + w->n) % 8) {
		case 0:
		case 1:
			blocking(w, i, 0, TU_CALL_MS);
			break;
		case 2: /* expires while the handler works, or while sent */
			blocking(w, i, 5, 1 + (unsigned) (i % 3));
			break;
		case 3:
			async(w, 0, 0, TU_CALL_MS);
			break;
		case 4:
			async(w, 1, 2, TU_CALL_MS);
			break;
		case 5:
			async(w, 2, 1, TU_CALL_MS);
			break;
		case 6:
			async(w, 3, 0, TU_CALL_MS);
			break;
		default: /* an asynchronous call whose deadline expires */
			async(w, 0, 5, 1 + (unsigned) (i % 3));
			break;
		}
		/* While the server is away calls fail fast: the round is
		 * done again once the channel had a moment to redial, so
		 * that most rounds meet a server. */
		if (failed_fast(w, before) && spare-- > 0) {
			usleep(2000);
			i--;
		}
	}
	atomic_fetch_add(&w->s->done, 1);
	return NULL;
}

static int
async_ended(worker *w)
{
	int n;

	pthread_mutex_lock(&w->mtx);
	n = w->ended == w->started;
	pthread_mutex_unlock(&w->mtx);
	return n;
}

static void
stress_run(const char *url)
{
	fedrpc_server_opts so = {.url = url};
	fedrpc_server     *srv;
	stress             s = {0};
	pthread_t          t[THREADS];
	int                ok = 0, codes[17] = {0};

	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	cr_assert_not_null(srv = echo_server_start(&so));
	cr_assert_not_null(s.ch = echo_channel(url, 0));
	for (int i = 0; i < THREADS; i++) {
		s.w[i] = (worker){.s = &s, .n = i};
		pthread_mutex_init(&s.w[i].mtx, NULL);
		cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &s.w[i]),
		    0);
	}
	/* Stop and start the server under the calls, while they last. */
	for (int r = 0; r < RESTARTS && atomic_load(&s.done) < THREADS; r++) {
		fedrpc_status st = {0};

		(void) TU_WAIT_FOR(atomic_load(&s.done) == THREADS ||
		        echo_handled() >= 40,
		    TU_WAIT_MS);
		echo_release();
		fedrpc_server_free(srv);
		/* Calls wait, or fail fast, while nothing listens. */
		echo_call(s.ch, "gap", 0, 5, NULL, NULL, &st);
		fedrpc_status_reset(&st);
		cr_assert_not_null(srv = echo_server_start(&so));
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		worker *w = &s.w[i];

		cr_assert(TU_WAIT_FOR(async_ended(w), TU_WAIT_MS),
		    "thread %d: %d of %d asynchronous calls ended", i, w->ended,
		    w->started);
		cr_assert_eq(w->bad_code, 0, "thread %d: %s", i, w->bad_msg);
		cr_assert_eq(w->wrong_reply, 0, "thread %d", i);
		ok += w->ok;
		for (int c = 0; c < 17; c++)
			codes[c] += w->codes[c];
	}
	cr_log_info("%s: %d ok, %d deadline exceeded, %d cancelled, "
		    "%d unavailable",
	    url, codes[FEDRPC_OK], codes[FEDRPC_DEADLINE_EXCEEDED],
	    codes[FEDRPC_CANCELLED], codes[FEDRPC_UNAVAILABLE]);
	/* The server is up again: the channel serves after all of it. */
	cr_assert(TU_WAIT_FOR(echo_call(s.ch, "after", 0, TU_CALL_MS, NULL,
	                          NULL, &(fedrpc_status){0}) == FEDRPC_OK,
	    TU_WAIT_MS));
	cr_assert_gt(ok, 0, "some blocking calls were answered");
	fedrpc_channel_close(s.ch);
	echo_release();
	fedrpc_server_free(srv);
	for (int i = 0; i < THREADS; i++)
		pthread_mutex_destroy(&s.w[i].mtx);
}

Test(channel_stress, inproc, .timeout = 240)
{
	stress_run("inproc://test-channel-stress");
}

Test(channel_stress, ipc, .timeout = 240)
{
	char *dir = tu_tmpdir("chan-stress");
	char  url[512];

	snprintf(url, sizeof(url), "ipc://%s", tu_path(dir, "sock"));
	stress_run(url);
	tu_rmrf(dir);
	free(dir);
}
