/*
 * A test Echo service for the runtime tests (test_channel.c,
 * test_server.c), built on hand-made method descriptors so that the
 * runtime is tested without the stub generator. A request's sleep_ms is
 * simulated work that echo_release() cuts short, so that a test can make
 * a handler outlast anything it measures and still end quickly.
 */
#ifndef FEDRPC_TESTS_RT_ECHO_H
#define FEDRPC_TESTS_RT_ECHO_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fedrpc/channel.h>
#include <fedrpc/server.h>

#include "fedrpc/testing/v1/echo.pb-c.h"

static const fedrpc_method echo_method = {
    .full_name = "fedrpc.testing.v1.Echo/Echo",
    .name      = "Echo",
    .input     = &fedrpc__testing__v1__echo_request__descriptor,
    .output    = &fedrpc__testing__v1__echo_response__descriptor,
};

static const fedrpc_method count_method = {
    .full_name = "fedrpc.testing.v1.Echo/Count",
    .name      = "Count",
    .input     = &fedrpc__testing__v1__count_request__descriptor,
    .output    = &fedrpc__testing__v1__count_response__descriptor,
};

/* What the echo handler has seen; reset by echo_server_start(). */
static struct {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;           /* echo_release() */
	unsigned        handled;      /* Echo handler runs */
	unsigned        in_handler;   /* running now */
	unsigned        pipes_closed; /* by "close-pipe" requests */
	bool            released;     /* simulated work ends at once */
	struct {
		uint8_t  id[16];
		unsigned n;
	} ids[512]; /* runs per request id */
	unsigned n_ids;
} echo_seen = {.mtx = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER};

/* A handler's simulated work: ms, or until echo_release(). */
static inline void
echo_work(unsigned ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until); /* the condvar's clock */
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&echo_seen.mtx);
	while (!echo_seen.released &&
	    pthread_cond_timedwait(&echo_seen.cv, &echo_seen.mtx, &until) !=
	        ETIMEDOUT)
		;
	pthread_mutex_unlock(&echo_seen.mtx);
}

/* Ends every handler's simulated work, now and until the next
 * echo_server_start(): before a test frees a server whose handlers are
 * still busy with work longer than the test. */
static inline void
echo_release(void)
{
	pthread_mutex_lock(&echo_seen.mtx);
	__atomic_store_n(&echo_seen.released, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&echo_seen.cv);
	pthread_mutex_unlock(&echo_seen.mtx);
}

/* One of echo_seen's counts, read under the lock it is counted under. */
static inline unsigned
echo_count(const unsigned *count)
{
	unsigned n;

	pthread_mutex_lock(&echo_seen.mtx);
	n = *count;
	pthread_mutex_unlock(&echo_seen.mtx);
	return n;
}

static inline unsigned
echo_handled(void)
{
	return echo_count(&echo_seen.handled);
}

/* Handlers that have started. */
static inline unsigned
echo_in_handler(void)
{
	return echo_count(&echo_seen.in_handler);
}

/* Counts the run; returns the runs so far for this request id. */
static inline unsigned
echo_count_id(const uint8_t *id)
{
	unsigned i, n;

	pthread_mutex_lock(&echo_seen.mtx);
	echo_seen.handled++;
	for (i = 0; i < echo_seen.n_ids; i++)
		if (memcmp(echo_seen.ids[i].id, id, 16) == 0)
			break;
	if (i == echo_seen.n_ids && i < 512) {
		memcpy(echo_seen.ids[i].id, id, 16);
		echo_seen.ids[i].n = 0;
		echo_seen.n_ids++;
	}
	n = i < 512 ? ++echo_seen.ids[i].n : 0;
	pthread_mutex_unlock(&echo_seen.mtx);
	return n;
}

/* Whether the request's payload is `word`. */
static inline bool
echo_payload_is(const Fedrpc__Testing__V1__EchoRequest *req, const char *word)
{
	return req->payload.len == strlen(word) &&
	    memcmp(req->payload.data, word, req->payload.len) == 0;
}

/*
 * Echoes the payload. Conventions of the request payload:
 * "big:<n>" answers with n bytes; "close-pipe" drops the connection the
 * first time an id is seen (the reply is lost, as when a network fails);
 * "until-stop" ends its sleep_ms of work early once the server stops (or
 * the call's deadline passed), like a handler that watches
 * fedrpc_ctx_is_cancelled().
 */
static inline fedrpc_code
echo_fn(const fedrpc_handler *h, fedrpc_ctx *ctx,
    const ProtobufCMessage *reqm, ProtobufCMessage *respm, fedrpc_status *st)
{
	const Fedrpc__Testing__V1__EchoRequest *req = (const void *) reqm;
	Fedrpc__Testing__V1__EchoResponse      *resp = (void *) respm;
	const fedrpc_peer                      *peer = fedrpc_ctx_peer(ctx);
	const uint8_t                          *md;
	size_t                                  md_len;
	unsigned                                runs;

	(void) h;
	runs = echo_count_id(fedrpc_ctx_request_id(ctx));
	pthread_mutex_lock(&echo_seen.mtx);
	echo_seen.in_handler++;
	pthread_mutex_unlock(&echo_seen.mtx);
	if (echo_payload_is(req, "until-stop")) {
		for (unsigned i = 0; i < req->sleep_ms &&
		     !__atomic_load_n(&echo_seen.released, __ATOMIC_ACQUIRE) &&
		     !fedrpc_ctx_is_cancelled(ctx);
		     i++)
			echo_work(1);
	} else if (req->sleep_ms > 0) {
		echo_work(req->sleep_ms);
	}
	pthread_mutex_lock(&echo_seen.mtx);
	echo_seen.in_handler--;
	pthread_mutex_unlock(&echo_seen.mtx);

	if (req->fail_code != 0)
		return fedrpc_status_set(st, (fedrpc_code) req->fail_code, "%s",
		    req->fail_message);
	if (req->payload.len > 4 && memcmp(req->payload.data, "big:", 4) == 0) {
		char   num[16] = {0};
		size_t n;

		memcpy(num, req->payload.data + 4,
		    req->payload.len - 4 < 15 ? req->payload.len - 4 : 15);
		n = (size_t) strtoul(num, NULL, 10);
		resp->payload.data = fedrpc_ctx_alloc(ctx, n);
		resp->payload.len  = n;
		memset(resp->payload.data, 'x', n);
	} else {
		resp->payload = req->payload;
	}
	if (echo_payload_is(req, "close-pipe") && runs == 1) {
		pthread_mutex_lock(&echo_seen.mtx);
		echo_seen.pipes_closed++;
		pthread_mutex_unlock(&echo_seen.mtx);
		if (fedrpc_ctx_conn(ctx) != NULL)
			fedrpc_conn_close(fedrpc_ctx_conn(ctx));
	}
	resp->origin_domain = fedrpc_ctx_strdup(ctx, fedrpc_ctx_origin_domain(ctx));
	if ((md = fedrpc_metadata_get(fedrpc_ctx_metadata(ctx), "x-echo",
	         &md_len)) != NULL) {
		resp->echo_metadata.data = (uint8_t *) md;
		resp->echo_metadata.len  = md_len;
	}
	resp->n_peer_names = peer->n_names;
	resp->peer_names   = peer->names;
	resp->calls_for_request_id = runs;
	fedrpc_ctx_add_reply_metadata(
	    ctx, "x-reply", (const uint8_t *) "pong", 4);
	return FEDRPC_OK;
}

static inline fedrpc_code
count_fn(const fedrpc_handler *h, fedrpc_ctx *ctx,
    const ProtobufCMessage *reqm, ProtobufCMessage *respm, fedrpc_status *st)
{
	Fedrpc__Testing__V1__CountResponse *resp = (void *) respm;

	(void) h;
	(void) ctx;
	(void) reqm;
	(void) st;
	resp->handled = echo_handled();
	return FEDRPC_OK;
}

static inline void
echo_reset(void)
{
	pthread_mutex_lock(&echo_seen.mtx);
	echo_seen.handled      = 0;
	echo_seen.in_handler   = 0;
	echo_seen.pipes_closed = 0;
	echo_seen.released     = false;
	echo_seen.n_ids        = 0;
	pthread_mutex_unlock(&echo_seen.mtx);
}

/* A started server with the Echo service; opts may override defaults. */
static inline fedrpc_server *
echo_server_start(const fedrpc_server_opts *opts)
{
	fedrpc_server  *srv;
	fedrpc_status   st = {0};
	fedrpc_handler  he = {.method = &echo_method, .fn = echo_fn};
	fedrpc_handler  hc = {.method = &count_method, .fn = count_fn};

	echo_reset();
	if (fedrpc_server_new(&srv, opts, &st) != FEDRPC_OK ||
	    fedrpc_server_add_handler(srv, &he, &st) != FEDRPC_OK ||
	    fedrpc_server_add_handler(srv, &hc, &st) != FEDRPC_OK ||
	    fedrpc_server_start(srv, &st) != FEDRPC_OK) {
		fprintf(stderr, "server: %s\n", st.message);
		return NULL;
	}
	return srv;
}

/*
 * A channel with a given reconnect interval. nng 1.5.2 can leak a pipe and
 * its listener when a server socket closes while it is accepting or
 * refusing a connection; tests that stop servers under a redialing client
 * use a long interval so that no dial races the close.
 */
static inline fedrpc_channel *
echo_channel_reconnect(const char *url, size_t max, uint32_t reconnect_ms)
{
	fedrpc_channel     *ch;
	fedrpc_status       st   = {0};
	fedrpc_channel_opts opts = {
	    .url              = url,
	    .origin_domain    = "a.example",
	    .target_domain    = "b.example",
	    .api_version      = 1,
	    .max_message_size = max,
	    .reconnect_min_ms = reconnect_ms,
	    .reconnect_max_ms = reconnect_ms * 10,
	};

	if (fedrpc_channel_open(&ch, &opts, &st) != FEDRPC_OK) {
		fprintf(stderr, "channel: %s\n", st.message);
		return NULL;
	}
	return ch;
}

static inline fedrpc_channel *
echo_channel(const char *url, size_t max)
{
	return echo_channel_reconnect(url, max, 20);
}

/* One blocking Echo call; *resp (may be NULL) receives the response. */
static inline fedrpc_code
echo_call(fedrpc_channel *ch, const char *payload, uint32_t sleep,
    uint32_t timeout_ms, const uint8_t *id,
    Fedrpc__Testing__V1__EchoResponse **respp, fedrpc_status *st)
{
	Fedrpc__Testing__V1__EchoRequest req =
	    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_call_opts  opts = {.timeout_ms = timeout_ms, .request_id = id};
	ProtobufCMessage *resp = NULL;
	fedrpc_code       code;

	req.payload.data = (uint8_t *) payload;
	req.payload.len  = payload != NULL ? strlen(payload) : 0;
	req.sleep_ms     = sleep;
	code = fedrpc_channel_call(ch, &echo_method, &req.base, &resp, &opts, st);
	if (respp != NULL)
		*respp = (void *) resp;
	else if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return code;
}

#endif
