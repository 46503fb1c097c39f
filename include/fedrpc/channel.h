/*
 * The calling side: a channel is one nng req0 socket dialed to one endpoint
 * (tls+tcp://, or tcp:// ipc:// inproc:// for tests and local use). Calls
 * on a channel run concurrently, each on its own req0 context, over the
 * same connection. Generated client stubs are thin typed wrappers of
 * fedrpc_channel_call() and fedrpc_channel_call_async().
 */
#ifndef FEDRPC_CHANNEL_H
#define FEDRPC_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <fedrpc/metadata.h>
#include <fedrpc/method.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_channel fedrpc_channel;
typedef struct fedrpc_call    fedrpc_call;

typedef struct fedrpc_channel_opts {
	const char *url;           /* "tls+tcp://127.0.0.1:7443", ...; required */
	const fedrpc_tls_opts *tls; /* required for tls+tcp://, else ignored */
	const char *origin_domain; /* our domain, sent in every request */
	const char *target_domain; /* the domain called ("" for none) */
	uint32_t    api_version;   /* sent in every request */
	size_t      max_message_size;  /* largest reply accepted; 0: 4 MiB */
	uint32_t    default_timeout_ms; /* when a call gives none; 0: 30 s */
	uint32_t    reconnect_min_ms;   /* nng redial backoff; 0: 100 ms */
	uint32_t    reconnect_max_ms;   /* 0: 5 s */
	/*
	 * The federation API versions we serve, ascending; NULL/0: calls
	 * carry api_version. Set: the channel negotiates (the caller rule of
	 * docs/federation-api.md): before the first fedrpc.federation call it
	 * asks Version/Get (carrying api_version, or our highest when 0),
	 * picks the highest version both sides serve and caches it; a call
	 * the callee refuses with FAILED_PRECONDITION drops the cache, and a
	 * blocking call is then retried once with a fresh choice. No common
	 * version: the call fails with FAILED_PRECONDITION naming both sets.
	 */
	const uint32_t *api_versions;
	size_t          n_api_versions;
} fedrpc_channel_opts;

/*
 * Opens a channel. The connection is made in the background: a call made
 * before it is up waits for it within its deadline, and gets UNAVAILABLE
 * with the reason (refused, TLS failure and which) when it cannot be made.
 * The channel copies what it needs from opts.
 */
fedrpc_code fedrpc_channel_open(fedrpc_channel **out,
    const fedrpc_channel_opts *opts, fedrpc_status *st);

/* Cancels calls in flight (their callbacks see CANCELLED), then frees. */
void fedrpc_channel_close(fedrpc_channel *ch);

typedef struct fedrpc_call_opts {
	uint32_t timeout_ms;            /* 0: the channel's default */
	const fedrpc_metadata *metadata; /* sent with the request; may be NULL */
	/* 16 bytes naming the call for idempotency; NULL: a random id. A
	 * retry of the same logical call should reuse its id. */
	const uint8_t *request_id;
	/* Called once with the reply's metadata (a view valid only during
	 * the call), before the call completes, when a reply arrives; NULL:
	 * reply metadata is not looked at. */
	void (*reply_metadata)(void *arg, const fedrpc_metadata *md);
	void *reply_metadata_arg;
} fedrpc_call_opts;

/*
 * Blocking call. On FEDRPC_OK *resp receives the unpacked response, which
 * the caller frees with protobuf_c_message_free_unpacked(*resp, NULL);
 * otherwise *resp is NULL and st says why. `opts` may be NULL.
 */
fedrpc_code fedrpc_channel_call(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const fedrpc_call_opts *opts, fedrpc_status *st);

/*
 * Completion of an asynchronous call, run exactly once on an nng thread (it
 * must not block). `resp` is NULL unless st->code is OK; the callback owns
 * it and frees it with protobuf_c_message_free_unpacked(resp, NULL). `st` is
 * only valid during the callback.
 */
typedef void (*fedrpc_call_cb)(
    void *arg, const fedrpc_status *st, ProtobufCMessage *resp);

/*
 * Starts a call and returns at once. If `callp` is not NULL it receives a
 * handle for fedrpc_call_cancel(), which the caller must release with
 * fedrpc_call_release() (before or after completion). Returns FEDRPC_OK when
 * the call was started: the callback then runs exactly once. Otherwise the
 * callback never runs and st says why.
 */
fedrpc_code fedrpc_channel_call_async(fedrpc_channel *ch,
    const fedrpc_method *m, const ProtobufCMessage *req,
    const fedrpc_call_opts *opts, fedrpc_call_cb cb, void *arg,
    fedrpc_call **callp, fedrpc_status *st);

/* Asks a call to stop; its callback sees CANCELLED unless it finished. */
void fedrpc_call_cancel(fedrpc_call *call);

/* Releases the caller's handle. */
void fedrpc_call_release(fedrpc_call *call);

/* The federation API version the call's request carried. */
uint32_t fedrpc_call_api_version(const fedrpc_call *call);

/*
 * For an asynchronous call of m on a negotiating channel that ended with
 * FAILED_PRECONDITION after carrying version `used`: drops the cached
 * choice, asks the callee again (within timeout_ms) and says whether the
 * new choice differs, i.e. whether the call is worth retrying once. A
 * blocking call does this itself. False for any other channel.
 */
bool fedrpc_call_version_stale(fedrpc_channel *ch, const fedrpc_method *m,
    uint32_t used, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
