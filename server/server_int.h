/*
 * The server runtime's private structures, shared by server.c (socket,
 * listener, receive contexts), peer_table.c (connections and their TLS
 * identities), router.c (handlers by method), workers.c (handler threads),
 * dispatch.c (one call from request to reply), dedup.c (reply cache) and
 * ctx.c (per-call context and arena); admission/ holds the checks a daemon
 * plugs in (origin authentication, allow list, limits).
 */
#ifndef FEDRPC_SERVER_INT_H
#define FEDRPC_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include <fedrpc/server.h>

#include "core/wire/envelope.h"

typedef struct srv_rctx   srv_rctx;
typedef struct srv_dedup  srv_dedup;
typedef struct srv_dentry srv_dentry;
typedef struct fedrpc_conn srv_peer; /* a connection (peer_table.c) */
typedef struct srv_worker srv_worker;
typedef struct srv_conn   srv_conn;
typedef struct srv_wire   srv_wire;

/* A chunk of arena memory; data follows the header. */
typedef struct srv_chunk {
	struct srv_chunk *next; /* older chunk */
	size_t            size; /* usable bytes after the header */
	size_t            used; /* bytes handed out */
} srv_chunk;

/* A bump allocator reset after every call; its first chunk is kept. */
typedef struct srv_arena {
	srv_chunk         *head; /* chunk allocations come from */
	ProtobufCAllocator pb;   /* protobuf-c view of the same memory */
} srv_arena;

void  srv_arena_init(srv_arena *a);
void *srv_arena_alloc(srv_arena *a, size_t size);
/* Frees all but one chunk and empties it. */
void srv_arena_reset(srv_arena *a);
void srv_arena_fini(srv_arena *a);

/* What a receive context is doing; owner of its request in brackets. */
typedef enum srv_rctx_state {
	RCTX_IDLE,    /* nothing posted (stopped) */
	RCTX_RECV,    /* waiting for a request [nng] */
	RCTX_QUEUED,  /* on the worker queue [queue] */
	RCTX_BUSY,    /* a worker is serving it [worker] */
	RCTX_PARKED,  /* waiting for a duplicate's first run [dedup entry] */
	RCTX_SEND,    /* reply handed to nng [nng] */
} srv_rctx_state;

/* One rep0 context and the request it holds. */
struct srv_rctx {
	fedrpc_server *srv;     /* owner */
	nng_ctx        ctx;     /* the rep0 context */
	nng_aio       *aio;     /* its aio; callback rctx_cb */
	nng_msg       *req;     /* received request; owned by the state's owner */
	uint64_t       recv_ms; /* fedrpc_clock_ms() when it arrived */
	srv_rctx      *next;    /* worker queue or dedup waiter list */
	srv_rctx_state state;   /* protected by the server lock where it matters */
	/* The wire protocol (wire_server.c): one rctx per call, made when
	 * its REQUEST frame is read and freed with its reply. */
	srv_conn      *conn;    /* NULL for a rep0 context */
	uint32_t       call_id;
	int            cancelled; /* a CANCEL frame came; atomic */
	srv_rctx      *cprev;   /* the connection's calls in flight */
	srv_rctx      *cnext;
};

/* One connection as handlers and admission see it (the public
 * fedrpc_conn), shared by every call on it. */
struct fedrpc_conn {
	srv_peer   *next;       /* hash chain */
	fedrpc_server *srv;     /* the server that accepted it */
	uint32_t    pipe_id;    /* key */
	int         refs;       /* table + calls using it; atomic */
	fedrpc_peer peer;       /* owned; empty without TLS */
	char        remote[64]; /* "" when not TCP */
	int         port;       /* remote TCP port, 0 when not TCP */
	bool        loopback;
	bool        has_uid;    /* a local socket's peer: its user id */
	uint64_t    uid;
	bool        admitted;   /* the admission hooks kept it; under
	                         * peer_mtx once in the table */
};

/* The per-call context handed to handlers; one per worker, reused. */
struct fedrpc_ctx {
	fedrpc_server         *srv;
	srv_rctx              *rc;          /* the receive context served */
	const fedrpc_handler  *handler;     /* NULL for an unknown method */
	fedrpc_request_view    req;         /* decoded envelope (arena) */
	nng_pipe               pipe;        /* where the request came from */
	srv_peer              *peer;        /* the connection; NULL if unknown */
	uint64_t               deadline_ms; /* 0: none */
	fedrpc_metadata_entry *reply_md;    /* arena array */
	size_t                 n_reply_md;
	size_t                 cap_reply_md;
	srv_arena              arena;       /* everything of one call */
};

/* A worker thread and its reusable call context. */
struct srv_worker {
	fedrpc_server *srv;
	pthread_t      thread;
	bool           started; /* thread was created */
	fedrpc_ctx     cx;      /* context reused for every call */
};

/* Server states, in order. */
typedef enum srv_state {
	SRV_NEW,      /* configuring */
	SRV_RUNNING,  /* listening */
	SRV_STOPPING, /* listener closed; running handlers may finish */
	SRV_CLOSING,  /* socket closed; workers exit when the queue is empty */
	SRV_STOPPED,  /* everything joined and released */
} srv_state;

struct fedrpc_server {
	/* configuration, fixed after start */
	char          *url;            /* owned */
	size_t         max_msg;        /* request and reply limit */
	uint32_t       n_rctx;         /* receive contexts */
	uint32_t       n_workers;      /* handler threads */
	fedrpc_tls    *tls;            /* owned; NULL without TLS; swapped
	                                  under mtx by fedrpc_server_set_tls */
	bool           tls_on;         /* tls != NULL, fixed at new: what the
	                                  connection and call paths test (tls
	                                  itself may be swapped under them) */
	fedrpc_tls   **retired;        /* owned: configurations replaced by
	                                  fedrpc_server_set_tls, freed with the
	                                  server (server_tls.c says why) */
	size_t         n_retired;
	fedrpc_admit_fn admit;         /* may be NULL */
	void          *admit_arg;
	fedrpc_conn_admit_fn conn_admit; /* may be NULL */
	void          *conn_admit_arg;
	fedrpc_pipe_admit_fn pipe_admit; /* deprecated; may be NULL */
	void          *pipe_admit_arg;
	fedrpc_done_fn done;           /* may be NULL */
	void          *done_arg;
	fedrpc_handler *handlers;      /* owned array, registration order */
	size_t         n_handlers;
	size_t         cap_handlers;
	fedrpc_handler **by_name;      /* open-addressing index of handlers */
	size_t         by_name_mask;   /* slots - 1 (power of two) */

	/* nng objects */
	nng_socket     sock;
	nng_listener   listener;
	bool           sock_open;
	srv_rctx      *rctx;           /* owned array of n_rctx */
	srv_worker    *workers;        /* owned array of n_workers */

	/* worker queue and shutdown, under mtx */
	pthread_mutex_t mtx;
	pthread_cond_t  work_cv;       /* workers wait for requests */
	pthread_cond_t  idle_cv;       /* stop waits for handlers and sends */
	srv_rctx       *q_head;        /* FIFO of RCTX_QUEUED */
	srv_rctx       *q_tail;
	uint32_t        n_waiting;     /* workers blocked on work_cv */
	uint32_t        in_handler;    /* handlers running now */
	uint32_t        sending;       /* replies handed to nng, not done */
	srv_state       state;
	bool            stop_done;     /* fedrpc_server_stop has finished */
	int             stopping;      /* atomic copy of state >= STOPPING */

	srv_dedup      *dedup;         /* owned */

	/* fedrpc's own framing on nng streams in place of rep0 (wire_server.c) */
	bool            wire;
	srv_wire       *w;             /* owned; its listener and connections */

	/* TLS peers by pipe id, under peer_mtx */
	pthread_mutex_t peer_mtx;
	srv_peer      **peers;         /* hash buckets */
	size_t          peer_mask;     /* buckets - 1 */
};

/* ---- server.c ---- */
/* Hands a reply (or NULL: none) to nng on rc and re-arms it. */
void srv_rctx_send(srv_rctx *rc, nng_msg *reply);

/* ---- wire_server.c: the wire protocol (docs/wire-protocol.md) ---- */
/* Settings of the wire listener; 0 keeps a default. */
typedef struct srv_wire_opts {
	uint32_t handshake_timeout_ms; /* accept to both prefaces; 5000 */
	uint32_t max_pending;          /* connections not yet through it; 256 */
	uint32_t max_calls;            /* calls in flight per connection; 1024 */
	uint32_t keepalive_ms;         /* ping after this much silence; 30000 */
	uint32_t keepalive_timeout_ms; /* then close after this much more; 10000 */
	size_t   max_queued;           /* reply bytes queued before reading
					* pauses; 4 MiB */
} srv_wire_opts;

/* The wire listener's counters (include/fedrpc/server.h). */
typedef fedrpc_server_conn_stats srv_wire_stats;

/* Whether a server for `url` uses the wire protocol: for every scheme
 * but inproc://, unless FEDRPC_WIRE=reqrep (core/wire/transport.c). */
bool srv_wire_wanted(const char *url);
/* Makes srv use the wire protocol with these settings (before start). */
void fedrpc_server_wire_use(fedrpc_server *srv, const srv_wire_opts *o);
void fedrpc_server_wire_stats(fedrpc_server *srv, srv_wire_stats *out);
fedrpc_code srv_wire_start(fedrpc_server *srv, fedrpc_status *st);
int  srv_wire_port(fedrpc_server *srv);
/* Stopping: DRAIN on every connection, the listener closed. */
void srv_wire_drain(fedrpc_server *srv);
/* Waits until every queued reply was written, or at_ms. */
void srv_wire_flush(fedrpc_server *srv, uint64_t at_ms);
/* Closes every connection and frees the listener (workers joined). */
void srv_wire_release(fedrpc_server *srv);
/* srv_rctx_send() of a wire call: frames the reply (or none), frees rc. */
void srv_wire_reply(srv_rctx *rc, nng_msg *reply);
/* A new TLS configuration for connections accepted from now on. */
int  srv_wire_set_tls(fedrpc_server *srv, nng_tls_config *cfg);
/* Closes the wire connection numbered id (fedrpc_conn_close()). */
void srv_wire_close_conn(fedrpc_server *srv, uint32_t id, const char *why);

/* ---- router.c ---- */
/* Builds the index of handlers by method at start; -1 without memory. */
int srv_router_build(fedrpc_server *srv);
/* The handler of a fully qualified method, or NULL. */
const fedrpc_handler *srv_handler_find(fedrpc_server *srv, const char *name);

/* ---- peer_table.c ---- */
/* A counted reference to the connection of a pipe, or NULL. */
srv_peer *srv_peer_get(fedrpc_server *srv, nng_pipe pipe);
void      srv_peer_release(srv_peer *p);
/* nng's connection events on the server's socket (ADD_PRE, REM_POST). */
void srv_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg);

/* A wire protocol connection (no nng pipe event): stores it under id
 * with its verified peer (taken over; NULL: none), remote address (NULL:
 * unknown) and a local peer's user id (NULL: none), runs the connection
 * admission and returns whether it admitted it. Stored either way:
 * srv_peer_forget() removes it. */
bool srv_peer_admit_stream(fedrpc_server *srv, uint32_t id,
    fedrpc_peer *peer, const nng_sockaddr *remote, const uint64_t *uid);
void srv_peer_forget(fedrpc_server *srv, uint32_t id);

/* ---- workers.c ---- */
int  srv_workers_start(fedrpc_server *srv);
void srv_workers_join(fedrpc_server *srv);
/* Queues a received request for a worker (called from aio callbacks). */
void srv_queue_push(fedrpc_server *srv, srv_rctx *rc);
/* Frees the wire protocol's calls left on the queue once the workers and
 * the connections are gone (read after the workers left). */
void srv_queue_free_wire_calls(fedrpc_server *srv);

/* ---- dispatch.c ---- */
/* Serves one request on a worker: decode, admit, route, reply. */
void srv_dispatch(fedrpc_server *srv, fedrpc_ctx *cx, srv_rctx *rc);
/* observe.c: reports a finished call to the observer. */
void srv_observe(const fedrpc_server *srv, const fedrpc_ctx *cx,
    const fedrpc_status *st, uint64_t start_ms);
/* Reports a request refused before it was read (the wire protocol's
 * oversized frame) for the connection numbered conn_id. */
void srv_observe_unread(fedrpc_server *srv, uint32_t conn_id,
    const fedrpc_status *st);
/* Answers a request without running anything (shutdown, overload). */
void srv_answer(fedrpc_server *srv, srv_rctx *rc, fedrpc_code code,
    const char *message);

/* ---- ctx.c ---- */
void srv_ctx_init(fedrpc_ctx *cx, fedrpc_server *srv);
/* Ends a call: releases the peer and empties the arena. */
void srv_ctx_reset(fedrpc_ctx *cx);
void srv_ctx_fini(fedrpc_ctx *cx);

/* ---- dedup.c ---- */
typedef enum srv_dedup_result {
	DEDUP_NEW,     /* first sight: run it, then srv_dedup_finish() */
	DEDUP_DONE,    /* answered before: *reply is a copy to send */
	DEDUP_PARKED,  /* running now: rc waits for its reply */
	DEDUP_BYPASS,  /* not cacheable (id reused for another call): run it */
} srv_dedup_result;

srv_dedup *srv_dedup_new(size_t max_entries, size_t max_bytes);
void       srv_dedup_free(srv_dedup *d);
/*
 * Looks up the request id of a call to `method` from `origin`. On
 * DEDUP_NEW *entry receives the entry to finish; on DEDUP_DONE *reply a
 * fresh message holding the cached reply; on DEDUP_PARKED rc is kept.
 */
srv_dedup_result srv_dedup_begin(srv_dedup *d, const uint8_t *id,
    const char *method, const char *origin, srv_rctx *rc,
    srv_dentry **entry, nng_msg **reply);
/*
 * Records the reply of a finished first run (NULL: nothing to keep) and
 * returns the parked duplicates for the caller to answer with it.
 */
srv_rctx *srv_dedup_finish(srv_dedup *d, srv_dentry *entry,
    const nng_msg *reply);

#endif
