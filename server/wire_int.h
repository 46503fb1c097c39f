/*
 * The server side of the wire protocol, shared by wire_listen.c (the
 * accept loop: pending connections bounded, handshakes timed, keepalive,
 * reaping) and wire_conn.c (one connection: reading frames into calls,
 * writing replies in batches, drain).
 */
#ifndef FEDRPC_SERVER_WIRE_INT_H
#define FEDRPC_SERVER_WIRE_INT_H

#include "core/wire/frame.h"
#include "server/server_int.h"

struct srv_conn {
	fedrpc_server  *srv;
	srv_conn       *prev, *next; /* w->conns, oldest first (under w->mtx) */
	nng_stream     *s;
	nng_aio        *rd, *wr;
	pthread_mutex_t mtx;         /* everything below */
	fedrpc_frame_rx rx;
	fedrpc_frame_tx tx;
	srv_rctx       *calls;       /* calls in flight (cnext-linked) */
	uint32_t        n_calls;
	uint32_t        last_id;     /* highest call id read */
	uint32_t        pipe_id;     /* what handlers see as the pipe */
	uint64_t        born_ms;     /* accepted */
	uint64_t        heard_ms;    /* bytes last read */
	uint64_t        pinged_ms;   /* 0: no ping unanswered */
	bool            pending;     /* prefaces not exchanged yet */
	bool            reading, writing;
	bool            paused;      /* reading waits for the queue to drain */
	bool            closed;
	bool            draining;    /* DRAIN sent: close once answered */
	bool            dead;        /* closed and idle: the reaper frees it */
	bool            peer_stored; /* srv_peer_put() under pipe_id */
};

struct srv_wire {
	srv_wire_opts        o;
	nng_stream_listener *l;
	nng_aio             *accept;
	nng_aio             *tick;
	pthread_mutex_t      mtx;      /* the lists and counters */
	srv_conn            *head, *tail;
	uint32_t             n_conns;
	uint32_t             n_pending;
	uint32_t             next_pipe;
	bool                 listening; /* the accept loop runs */
	bool                 accept_retry; /* an accept failed: retry on tick */
	bool                 stopping;  /* no new connections */
	bool                 closing;   /* tick ends */
	srv_wire_stats       stats;
};

/* wire_conn.c */
srv_conn *srv_conn_new(fedrpc_server *srv, nng_stream *s, uint32_t pipe_id,
    uint64_t now);
/* Starts reading (the client's preface first). */
void srv_conn_start(srv_conn *c);
/* Closes the stream (its aios end); c->mtx held. */
void srv_conn_close_locked(srv_conn *c, const char *why);
/* Marks a closed connection with nothing in flight as dead; c->mtx held. */
void srv_conn_check_dead_locked(srv_conn *c);
/* Sends DRAIN (stop); c->mtx held. */
void srv_conn_drain_locked(srv_conn *c);
/* Queues a PING; c->mtx held. */
void srv_conn_ping_locked(srv_conn *c, uint64_t now);
void srv_conn_free(srv_conn *c);
/* Counts an event in w->stats (under w->mtx). */
void srv_wire_count(fedrpc_server *srv, uint64_t *counter);

#endif
