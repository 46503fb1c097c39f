/*
 * The calling side against a real server: transports, concurrency,
 * metadata, deadlines, cancellation, size limits and failing fast when the
 * endpoint cannot be reached. What must end early is measured against
 * something that would end it late: a handler busy for SLOW_MS (cut short
 * with echo_release() before the server is freed), or a deadline of
 * TU_CALL_MS.
 */
#include <criterion/criterion.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "rt_echo.h"
#include "call_batch.h"
#include "testutil.h"

/* Simulated work longer than anything a test waits for. */
#define SLOW_MS (2 * TU_CALL_MS)

static void
basic_round_trip(const char *url, fedrpc_server **srvp)
{
	fedrpc_server_opts so = {.url = url};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch;
	fedrpc_status      st = {0};
	Fedrpc__Testing__V1__EchoResponse *resp;
	char               turl[128];

	cr_assert_not_null(srv);
	if (strncmp(url, "tcp://", 6) == 0) {
		cr_assert_gt(fedrpc_server_port(srv), 0);
		snprintf(turl, sizeof(turl), "tcp://127.0.0.1:%d",
		    fedrpc_server_port(srv));
		url = turl;
	}
	cr_assert_not_null(ch = echo_channel(url, 0));
	cr_assert_eq(echo_call(ch, "hi", 0, TU_CALL_MS, NULL, &resp, &st), FEDRPC_OK,
	    "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_eq(resp->payload.len, 2);
	cr_assert_arr_eq(resp->payload.data, "hi", 2);
	cr_assert_str_eq(resp->origin_domain, "a.example");
	cr_assert_eq(resp->n_peer_names, 0, "no TLS, no peer names");
	cr_assert_eq(resp->calls_for_request_id, 1);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert(fedrpc_channel_is_connected(ch));
	fedrpc_channel_close(ch);
	*srvp = srv;
}

Test(channel, inproc)
{
	fedrpc_server *srv;

	basic_round_trip("inproc://test-channel-inproc", &srv);
	fedrpc_server_free(srv);
}

Test(channel, ipc)
{
	char          *dir = tu_tmpdir("chan-ipc");
	char           url[512];
	fedrpc_server *srv;

	snprintf(url, sizeof(url), "ipc://%s", tu_path(dir, "sock"));
	basic_round_trip(url, &srv);
	fedrpc_server_free(srv);
	tu_rmrf(dir);
	free(dir);
}

Test(channel, tcp_on_port_zero)
{
	fedrpc_server *srv;

	basic_round_trip("tcp://127.0.0.1:0", &srv);
	fedrpc_server_free(srv);
}

static void
save_reply_md(void *arg, const fedrpc_metadata *md)
{
	size_t         len;
	const uint8_t *v = fedrpc_metadata_get(md, "x-reply", &len);

	if (v != NULL && len < 15)
		memcpy(arg, v, len);
}

Test(channel, metadata_both_ways)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-md"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	static const fedrpc_metadata_entry e[] = {
	    {"x-other", (const uint8_t *) "o", 1},
	    {"x-echo", (const uint8_t *) "ping\0!", 6},
	};
	fedrpc_metadata   md        = {2, e};
	char              reply[16] = {0};
	fedrpc_call_opts  opts      = {
             .metadata           = &md,
             .reply_metadata     = save_reply_md,
             .reply_metadata_arg = reply,
        };
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	Fedrpc__Testing__V1__EchoResponse *resp;
	fedrpc_status     st = {0};

	cr_assert_eq(fedrpc_channel_call(ch, &echo_method, &req.base,
	                 (ProtobufCMessage **) &resp, &opts, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->echo_metadata.len, 6, "binary values survive");
	cr_assert_arr_eq(resp->echo_metadata.data, "ping\0!", 6);
	cr_assert_str_eq(reply, "pong");
	protobuf_c_message_free_unpacked(&resp->base, NULL);

	/* Keys must be lower-case ASCII: refused before sending. */
	static const fedrpc_metadata_entry bad[] = {{"X-Echo", NULL, 0}};
	md = (fedrpc_metadata){1, bad};
	cr_assert_eq(fedrpc_channel_call(ch, &echo_method, &req.base,
	                 (ProtobufCMessage **) &resp, &opts, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_null(resp);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* ---- many calls at once ---- */

Test(channel, two_hundred_async_calls_in_flight)
{
	fedrpc_server_opts so  = {.url = "tcp://127.0.0.1:0"};
	fedrpc_server     *srv = echo_server_start(&so);
	char               url[64];
	fedrpc_channel    *ch;
	tu_batch        b = TU_BATCH_INIT;
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_status st = {0};

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", fedrpc_server_port(srv));
	ch = echo_channel(url, 0);
	req.payload.data = (uint8_t *) "concurrent";
	req.payload.len  = 10;
	req.sleep_ms     = 2;
	for (int i = 0; i < 200; i++)
		cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method,
		                 &req.base, NULL, tu_batch_cb, &b, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
	cr_assert(tu_batch_wait(&b, 200, TU_WAIT_MS), "done %d", b.done);
	cr_assert_eq(b.ok, 200);
	cr_assert_eq(echo_handled(), 200);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

typedef struct blocking_arg {
	fedrpc_channel *ch;
	int             ok;
} blocking_arg;

static void *
blocking_thread(void *arg)
{
	blocking_arg *a = arg;

	for (int i = 0; i < 100; i++) {
		fedrpc_status st = {0};
		Fedrpc__Testing__V1__EchoResponse *resp;
		char payload[32];

		snprintf(payload, sizeof(payload), "n%d", i);
		if (echo_call(a->ch, payload, 0, TU_CALL_MS, NULL, &resp, &st) ==
		        FEDRPC_OK &&
		    resp->payload.len == strlen(payload) &&
		    memcmp(resp->payload.data, payload, resp->payload.len) == 0)
			a->ok++;
		if (resp != NULL)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return NULL;
}

Test(channel, blocking_calls_from_several_threads)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-threads"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	pthread_t          t[4];
	blocking_arg       a[4];

	for (int i = 0; i < 4; i++) {
		a[i] = (blocking_arg){ch, 0};
		pthread_create(&t[i], NULL, blocking_thread, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(a[i].ok, 100, "thread %d", i);
	}
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* ---- deadlines and cancellation ---- */

/* The call ends at its deadline (1 s), not when the reply comes. */
Test(channel, deadline_exceeded_is_seen_in_time)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-deadline"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	fedrpc_status      st  = {0};
	uint64_t           t0  = tu_now_ms();

	cr_assert_eq(echo_call(ch, "slow", SLOW_MS, 1000, NULL, NULL, &st),
	    FEDRPC_DEADLINE_EXCEEDED, "%s", st.message);
	cr_assert_lt(tu_now_ms() - t0, SLOW_MS / 2);
	fedrpc_channel_close(ch);
	echo_release();
	fedrpc_server_free(srv);
}

Test(channel, cancel_an_async_call)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-cancel"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	tu_batch        b = TU_BATCH_INIT;
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_status st = {0};
	fedrpc_call  *call;
	uint64_t      t0;

	/* Cancelled, the call ends at once, not when the reply comes. */
	req.sleep_ms = SLOW_MS;
	cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method, &req.base,
	                 NULL, tu_batch_cb, &b, &call, &st),
	    FEDRPC_OK);
	cr_assert_not_null(call);
	t0 = tu_now_ms();
	fedrpc_call_cancel(call);
	cr_assert(tu_batch_wait(&b, 1, TU_WAIT_MS));
	cr_assert_lt(tu_now_ms() - t0, SLOW_MS / 2);
	cr_assert_eq(b.codes[FEDRPC_CANCELLED], 1);
	fedrpc_call_cancel(call); /* after completion: harmless */
	fedrpc_call_release(call);
	echo_release();

	/* Release before completion, then let it finish normally. */
	req.sleep_ms = 10;
	cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method, &req.base,
	                 NULL, tu_batch_cb, &b, &call, &st),
	    FEDRPC_OK);
	fedrpc_call_release(call);
	cr_assert(tu_batch_wait(&b, 2, TU_WAIT_MS));
	cr_assert_eq(b.ok, 1);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

static bool
pooled(fedrpc_channel *ch, const fedrpc_call *c)
{
	bool yes;

	pthread_mutex_lock(&ch->mtx);
	yes = ch->pool == c;
	pthread_mutex_unlock(&ch->mtx);
	return yes;
}

/*
 * nng's expiry thread can run the cancel function of a timed-out call
 * after its reply finished it, when the pooled call object already serves
 * the next call on the same aio. Such a late cancel (delivered here as
 * the expiry thread would) must not end the next call.
 */
Test(channel, late_cancel_of_a_finished_call_leaves_the_next_alone)
{
	fedrpc_server_opts so  = {.url = "tcp://127.0.0.1:0"};
	fedrpc_server     *srv;
	char               url[64];
	fedrpc_channel    *ch;
	tu_batch           b = TU_BATCH_INIT;
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_call_opts o  = {.timeout_ms = TU_CALL_MS};
	fedrpc_status    st = {0};
	fedrpc_call     *first, *next;
	void            *late;

	/* Decided before anything is opened: nng's req0 dialer frees a
	 * connection still in its SP handshake after nng_close() returns,
	 * so a process ending right after such a close is reported by
	 * LeakSanitizer. */
	if (!chan_wire_wanted("tcp://"))
		cr_skip_test("a request/reply call has no wire operation");
	srv = echo_server_start(&so);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", fedrpc_server_port(srv));
	ch = echo_channel(url, 0);
	cr_assert_not_null(ch->wire);
	cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method, &req.base, &o,
	                 tu_batch_cb, &b, &first, &st),
	    FEDRPC_OK, "%s", st.message);
	late = chan_wire_cancel_arg(first);
	cr_assert(tu_batch_wait(&b, 1, TU_WAIT_MS));
	cr_assert_eq(b.ok, 1, "%s", b.last_msg);
	fedrpc_call_release(first);
	cr_assert(TU_WAIT_FOR(pooled(ch, first), TU_WAIT_MS));

	/* The next call takes the same object and aio, and is held at the
	 * server until the late cancel was delivered. */
	req.sleep_ms = SLOW_MS;
	cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method, &req.base, &o,
	                 tu_batch_cb, &b, &next, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(next, first, "the pooled call was not reused");
	chan_wire_cancel_cb(next->cur, late, NNG_ETIMEDOUT);
	echo_release();
	cr_assert(tu_batch_wait(&b, 2, TU_WAIT_MS));
	cr_assert_eq(b.ok, 2, "%s", b.last_msg);
	fedrpc_call_release(next);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(channel, close_cancels_calls_in_flight)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-close"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	tu_batch        b = TU_BATCH_INIT;
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_status st = {0};
	fedrpc_call  *kept;
	uint64_t      t0;

	/* Closing does not wait for the replies. */
	req.sleep_ms = SLOW_MS;
	for (int i = 0; i < 5; i++)
		cr_assert_eq(fedrpc_channel_call_async(ch, &echo_method,
		                 &req.base, NULL, tu_batch_cb, &b,
		                 i == 0 ? &kept : NULL, &st),
		    FEDRPC_OK);
	t0 = tu_now_ms();
	fedrpc_channel_close(ch);
	cr_assert_lt(tu_now_ms() - t0, SLOW_MS / 2);
	cr_assert_eq(b.done, 5, "every callback ran before close returned");
	cr_assert_eq(b.codes[FEDRPC_CANCELLED], 5);
	fedrpc_call_cancel(kept);
	fedrpc_call_release(kept); /* the last reference frees the channel */
	echo_release();
	fedrpc_server_free(srv);
}

/* ---- sizes ---- */

Test(channel, request_over_the_channel_limit_is_not_sent)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-bigreq"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 1024);
	fedrpc_status      st  = {0};
	char              *big = malloc(2001);

	memset(big, 'a', 2000);
	big[2000] = '\0';
	cr_assert_eq(echo_call(ch, big, 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert(strstr(st.message, "exceeds the limit of 1024") != NULL,
	    "%s", st.message);
	cr_assert_eq(echo_handled(), 0);
	free(big);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(channel, reply_over_the_channel_limit_is_refused)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-bigrep"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 4096);
	fedrpc_status      st  = {0};

	cr_assert_eq(echo_call(ch, "big:3000", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(echo_call(ch, "big:6000", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_RESOURCE_EXHAUSTED, "%s", st.message);
	cr_assert(strstr(st.message, "reply of") != NULL, "%s", st.message);
	/* The connection is still fine. */
	cr_assert_eq(echo_call(ch, "ok", 0, TU_CALL_MS, NULL, NULL, &st), FEDRPC_OK);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(channel, unknown_method_is_unimplemented)
{
	static const fedrpc_method nope = {
	    .full_name = "fedrpc.testing.v1.Echo/Nope",
	    .name      = "Nope",
	    .input     = &fedrpc__testing__v1__echo_request__descriptor,
	    .output    = &fedrpc__testing__v1__echo_response__descriptor,
	};
	fedrpc_server_opts so  = {.url = "inproc://test-channel-nope"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage *resp;
	fedrpc_status     st = {0};

	cr_assert_eq(fedrpc_channel_call(ch, &nope, &req.base, &resp, NULL, &st),
	    FEDRPC_UNIMPLEMENTED);
	cr_assert_str_eq(st.message, "unknown method fedrpc.testing.v1.Echo/Nope");
	cr_assert_null(resp);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(channel, handler_status_and_details_reach_the_caller)
{
	fedrpc_server_opts so  = {.url = "inproc://test-channel-status"};
	fedrpc_server     *srv = echo_server_start(&so);
	fedrpc_channel    *ch  = echo_channel(so.url, 0);
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage *resp;
	fedrpc_status     st = {0};

	req.fail_code    = FEDRPC_NOT_FOUND;
	req.fail_message = "no such user";
	cr_assert_eq(fedrpc_channel_call(
	                 ch, &echo_method, &req.base, &resp, NULL, &st),
	    FEDRPC_NOT_FOUND);
	cr_assert_str_eq(st.message, "no such user");
	cr_assert_null(resp);
	fedrpc_status_reset(&st);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* ---- unreachable endpoints ---- */

Test(channel, connection_refused_fails_fast)
{
	char            url[64];
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	uint64_t        t0;
	char            why[128];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", tu_free_port());
	cr_assert_not_null(ch = echo_channel(url, 0));
	t0 = tu_now_ms();
	cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_UNAVAILABLE, "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS,
	    "under half of the deadline");
	cr_assert(strstr(st.message, "connection refused") != NULL, "%s",
	    st.message);
	cr_assert_not(fedrpc_channel_is_connected(ch));
	cr_assert_eq(fedrpc_channel_last_error(ch, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, "connection refused");

	/* The next calls fail fast too. */
	for (int i = 0; i < 5; i++) {
		t0 = tu_now_ms();
		cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
		    FEDRPC_UNAVAILABLE);
		cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS);
	}
	fedrpc_channel_close(ch);
}

Test(channel, missing_ipc_endpoint_fails_fast)
{
	char           *dir = tu_tmpdir("chan-noipc");
	char            url[512];
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	uint64_t        t0 = tu_now_ms();

	snprintf(url, sizeof(url), "ipc://%s", tu_path(dir, "nobody"));
	cr_assert_not_null(ch = echo_channel(url, 0));
	cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS);
	fedrpc_channel_close(ch);
	tu_rmrf(dir);
	free(dir);
}

Test(channel, reconnects_when_the_server_comes_back)
{
	int                port = tu_free_port();
	char               url[64];
	fedrpc_server_opts so = {.url = url};
	fedrpc_server     *srv;
	fedrpc_channel    *ch;
	fedrpc_status      st = {0};
	fedrpc_code        code = FEDRPC_UNKNOWN;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	cr_assert_not_null(ch = echo_channel(url, 0));
	cr_assert_eq(echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_UNAVAILABLE);
	cr_assert_not_null(srv = echo_server_start(&so));
	/* Fast failures may continue until a probe sees the server. */
	(void) TU_WAIT_FOR((code = echo_call(ch, "x", 0, TU_CALL_MS, NULL, NULL,
	                        &st)) == FEDRPC_OK,
	    TU_WAIT_MS);
	cr_assert_eq(code, FEDRPC_OK, "%s", st.message);
	cr_assert(fedrpc_channel_is_connected(ch));
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

Test(channel, bad_options)
{
	fedrpc_channel     *ch;
	fedrpc_status       st   = {0};
	fedrpc_channel_opts opts = {0};

	cr_assert_eq(fedrpc_channel_open(&ch, &opts, &st),
	    FEDRPC_INVALID_ARGUMENT);
	opts.url = "tls+tcp://127.0.0.1:1";
	cr_assert_eq(fedrpc_channel_open(&ch, &opts, &st),
	    FEDRPC_INVALID_ARGUMENT, "TLS without options");
	opts.url = "bogus://x";
	cr_assert_neq(fedrpc_channel_open(&ch, &opts, &st), FEDRPC_OK);
	cr_assert_null(ch);
}
