/*
 * The serving side: a server listens on one or more URLs with an nng rep0
 * socket, receives with a pool of contexts driven by aio callbacks, and
 * hands each decoded call to the handler registered for its method on one
 * of its worker threads. Generated server skeletons register typed handlers
 * through fedrpc_server_add_handler().
 */
#ifndef FEDRPC_SERVER_H
#define FEDRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <fedrpc/conn.h>
#include <fedrpc/metadata.h>
#include <fedrpc/method.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_server fedrpc_server;

/* One call being served: valid only while its handler runs. */
typedef struct fedrpc_ctx fedrpc_ctx;

typedef struct fedrpc_server_opts {
	const char *url;              /* "tls+tcp://127.0.0.1:0", ...; required */
	const fedrpc_tls_opts *tls;   /* required for tls+tcp:// */
	size_t   max_message_size;    /* larger requests: RESOURCE_EXHAUSTED; 0: 4 MiB */
	uint32_t contexts;            /* receive contexts; 0: 64 */
	uint32_t workers;             /* handler threads; 0: 8 */
	uint32_t dedup_entries;       /* replies kept for repeated request ids; 0: 4096 */
	/* The wire protocol: a connection not through its TLS handshake
	 * and both prefaces in this long is closed; 0: 5000. (nng's
	 * req0/rep0 transport, FEDRPC_WIRE=reqrep, cannot apply it.) */
	uint32_t handshake_timeout_ms;
} fedrpc_server_opts;

fedrpc_code fedrpc_server_new(fedrpc_server **out,
    const fedrpc_server_opts *opts, fedrpc_status *st);

/*
 * A handler. `req` is the decoded request; `resp` an initialised, empty
 * response message for the handler to fill. Memory for resp's fields comes
 * from fedrpc_ctx_alloc() and friends and is freed after the reply is sent.
 * Return FEDRPC_OK, or a code with a message set in st; on error the
 * response is not sent. Handlers run on worker threads and may block.
 */
typedef struct fedrpc_handler fedrpc_handler;
typedef fedrpc_code (*fedrpc_handler_fn)(const fedrpc_handler *h,
    fedrpc_ctx *ctx, const ProtobufCMessage *req, ProtobufCMessage *resp,
    fedrpc_status *st);

/* Any function pointer, stored for a generated thunk to cast back. */
typedef void (*fedrpc_fnptr)(void);

struct fedrpc_handler {
	const fedrpc_method *method; /* the method served */
	fedrpc_handler_fn    fn;     /* called for each request */
	fedrpc_fnptr         typed;  /* typed handler for generated thunks */
	void                *impl;   /* user data for the handler */
};

/* Registers (copies) a handler. EXISTS if the method already has one;
 * only before fedrpc_server_start(). */
fedrpc_code fedrpc_server_add_handler(
    fedrpc_server *srv, const fedrpc_handler *h, fedrpc_status *st);

/* True when srv has a handler for the method ("pkg.Svc/Method"), e.g.
 * for a reflection service listing what the server answers. */
bool fedrpc_server_serves(fedrpc_server *srv, const char *method);

/*
 * Admission: run for every well-formed request before its handler (and for
 * requests to unknown methods). Returning anything but OK answers the call
 * with that status and the handler never runs. Used for origin
 * authentication, allow lists and limits.
 */
typedef fedrpc_code (*fedrpc_admit_fn)(
    void *arg, fedrpc_ctx *ctx, fedrpc_status *st);
void fedrpc_server_set_admit(fedrpc_server *srv, fedrpc_admit_fn fn, void *arg);

/*
 * Connection admission: run when a connection is about to be added (its
 * TLS handshake done), before any request is read from it. Returning
 * false closes it. `conn` is valid during the call.
 */
typedef bool (*fedrpc_conn_admit_fn)(void *arg, const fedrpc_conn *conn);
void fedrpc_server_set_conn_admit(
    fedrpc_server *srv, fedrpc_conn_admit_fn fn, void *arg);

/*
 * Calls fn for every connection open now that connection admission kept
 * (on req0/rep0 with TLS: those whose certificate was read), e.g. to
 * count connections per peer. Runs under the server's connection table
 * lock: fn must not block or call the server. `conn` is valid during
 * the call.
 */
typedef void (*fedrpc_conn_visit_fn)(void *arg, const fedrpc_conn *conn);
void fedrpc_server_conns_foreach(
    fedrpc_server *srv, fedrpc_conn_visit_fn fn, void *arg);

/*
 * Deprecated, removed with the next adapter ABI version: the same hook
 * given the nng pipe. On the wire protocol's connections the pipe is not
 * an nng pipe (nng_pipe_* calls on it fail); its id is fedrpc_conn_id().
 * Runs after the fedrpc_conn_admit_fn when both are set.
 */
typedef bool (*fedrpc_pipe_admit_fn)(void *arg, nng_pipe pipe);
void fedrpc_server_set_pipe_admit(
    fedrpc_server *srv, fedrpc_pipe_admit_fn fn, void *arg);

/*
 * Completion: run on the worker after every call that passed admission
 * (the admit hook returned OK, or there is none), just before its reply
 * is handed to nng (or dropped), whether or not a handler ran (unknown method,
 * undecodable payload, a repeated request id). With the admit hook it
 * brackets a call, e.g. to count calls in flight. `code` is the status
 * the call ended with. Set before fedrpc_server_start().
 */
typedef void (*fedrpc_done_fn)(void *arg, fedrpc_ctx *ctx, fedrpc_code code);
void fedrpc_server_set_done(fedrpc_server *srv, fedrpc_done_fn fn, void *arg);

/*
 * Replaces the TLS configuration of a tls+tcp:// server, also while it
 * runs (certificate reload): connections accepted from now on use the new
 * one, connections already up keep theirs. FAILED_PRECONDITION for a
 * server without TLS; on any error the old configuration stays. The one
 * replaced is kept until fedrpc_server_free() (nng may still be taking
 * a reference on it).
 */
fedrpc_code fedrpc_server_set_tls(
    fedrpc_server *srv, const fedrpc_tls_opts *tls, fedrpc_status *st);

/* Starts listening. */
fedrpc_code fedrpc_server_start(fedrpc_server *srv, fedrpc_status *st);

/*
 * The server's connections on the wire protocol (docs/wire-protocol.md):
 * counters since start and what is open now. All zero for a server on
 * nng's req0/rep0 (inproc://, FEDRPC_WIRE=reqrep), whose connections
 * nng's listener keeps.
 */
typedef struct fedrpc_server_conn_stats {
	uint64_t accepted;
	uint64_t handshakes_failed;  /* closed before both prefaces, for any
	                              * reason (the two below included) */
	uint64_t handshake_timeouts; /* past limits.handshake_timeout_ms */
	uint64_t pending_dropped;    /* the oldest pending one, at the bound */
	uint64_t protocol_errors;    /* a frame or preface against the spec */
	uint64_t keepalive_closes;   /* a peer silent past its keepalive */
	uint32_t connections;        /* open now */
	uint32_t pending;            /* open now, not through the handshake */
	size_t   queued_bytes;       /* replies queued on all connections */
	uint32_t paused;             /* connections whose reading waits for
	                              * room for their replies */
} fedrpc_server_conn_stats;
void fedrpc_server_conn_stats_get(
    fedrpc_server *srv, fedrpc_server_conn_stats *out);

/*
 * The port actually bound (for a URL with port 0), or 0 when not TCP.
 */
int fedrpc_server_port(fedrpc_server *srv);

/*
 * Stops accepting, lets calls already in handlers finish (up to
 * grace_ms; then their replies are dropped), answers queued calls with
 * UNAVAILABLE, and closes. Safe to call more than once.
 */
void fedrpc_server_stop(fedrpc_server *srv, uint32_t grace_ms);

/* Stops (if needed) and frees. */
void fedrpc_server_free(fedrpc_server *srv);

/* ---- inside a handler ---- */

const fedrpc_method *fedrpc_ctx_method(const fedrpc_ctx *ctx);
/* The method name the request carried (also for unknown methods). */
const char *fedrpc_ctx_method_name(const fedrpc_ctx *ctx);
const char *fedrpc_ctx_origin_domain(const fedrpc_ctx *ctx);
const char *fedrpc_ctx_target_domain(const fedrpc_ctx *ctx);
uint32_t    fedrpc_ctx_api_version(const fedrpc_ctx *ctx);
/* 16 bytes */
const uint8_t *fedrpc_ctx_request_id(const fedrpc_ctx *ctx);
const fedrpc_metadata *fedrpc_ctx_metadata(const fedrpc_ctx *ctx);
/* The peer's verified certificate names; an empty list without TLS. */
const fedrpc_peer *fedrpc_ctx_peer(const fedrpc_ctx *ctx);
/* The connection the request came on; NULL for fedrpc_ctx_new()'s. */
const fedrpc_conn *fedrpc_ctx_conn(const fedrpc_ctx *ctx);
/* Deprecated (see fedrpc_pipe_admit_fn): the nng pipe the request came
 * on; on the wire protocol an id only. */
nng_pipe fedrpc_ctx_pipe(const fedrpc_ctx *ctx);
/* Milliseconds left before the caller's deadline (UINT32_MAX: none). */
uint32_t fedrpc_ctx_time_left_ms(const fedrpc_ctx *ctx);
/* True once the deadline passed or the server is stopping. */
bool fedrpc_ctx_is_cancelled(const fedrpc_ctx *ctx);
/* Adds a metadata entry to the reply; copied. */
fedrpc_code fedrpc_ctx_add_reply_metadata(
    fedrpc_ctx *ctx, const char *key, const uint8_t *value, size_t len);

/*
 * A context of no call, for work a backend does on threads of its own
 * (delivering what it owes other domains): only its memory is usable
 * (fedrpc_ctx_alloc() and friends); it has no method, origin, deadline or
 * peer and is never cancelled. Reset frees what was allocated and keeps
 * the context for the next piece of work. NULL when out of memory.
 */
fedrpc_ctx *fedrpc_ctx_new(void);
void        fedrpc_ctx_reset(fedrpc_ctx *ctx);
void        fedrpc_ctx_free(fedrpc_ctx *ctx);

/* Memory freed when the call ends (aligned for any type; zeroed). */
void *fedrpc_ctx_alloc(fedrpc_ctx *ctx, size_t size);
char *fedrpc_ctx_strdup(fedrpc_ctx *ctx, const char *s);
/* A protobuf-c allocator drawing from the same memory. */
ProtobufCAllocator *fedrpc_ctx_allocator(fedrpc_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
