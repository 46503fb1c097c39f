/*
 * The client runtime's private structures (channel.c: socket, connection
 * state, failure watch; call.c: calls), and what a layer above a channel
 * (per-domain discovery, back-off, failover) may ask of it.
 */
#ifndef FEDRPC_CHANNEL_INT_H
#define FEDRPC_CHANNEL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <fedrpc/channel.h>

#include "core/wire/envelope.h"

/* ---- for layers above a channel ---- */

/* True while the channel has at least one live connection. */
bool fedrpc_channel_is_connected(fedrpc_channel *ch);

/*
 * Why the endpoint could not be reached lately ("connection refused", a
 * TLS failure from the engine, ...): the code calls would get (usually
 * UNAVAILABLE), or FEDRPC_OK and "" while connected or when nothing failed.
 */
fedrpc_code fedrpc_channel_last_error(
    fedrpc_channel *ch, char *buf, size_t len);

/* The URL the channel dials (a domain channel: the domain). */
const char *fedrpc_channel_url(const fedrpc_channel *ch);

/*
 * The TLS peer of the channel's current connection (verified names, TLS
 * version, cipher, handshake time). NOT_FOUND when not connected or not
 * TLS. Free with fedrpc_peer_clear().
 */
fedrpc_code fedrpc_channel_peer(fedrpc_channel *ch, fedrpc_peer *out);

/* ---- internal ---- */

/* Where a call is in its life. */
typedef enum call_stage {
	CALL_IDLE, /* pooled */
	CALL_SEND, /* request handed to nng, waiting for a connection */
	CALL_RECV, /* request sent, waiting for the reply */
} call_stage;

/* Why a call is being stopped from outside. */
typedef enum call_abort {
	ABORT_NONE   = 0,
	ABORT_CANCEL = 1, /* fedrpc_call_cancel */
	ABORT_CLOSE  = 2, /* the channel is closing */
	ABORT_DOWN   = 3, /* the endpoint cannot be reached */
} call_abort;

/* A pooled call: one req0 context and its aio, reused call after call. */
struct fedrpc_call {
	fedrpc_channel      *ch;       /* owner; holds a channel reference */
	nng_ctx              ctx;      /* req0 context */
	nng_aio             *aio;      /* its aio; callback call_cb */
	nng_aio             *saio;     /* an aio without callback, for
					* blocking calls: the caller waits on
					* it with no thread in between */
	nng_aio             *cur;      /* aio or saio: the one in use */
	fedrpc_call         *prev;     /* live list, or pool (next only) */
	fedrpc_call         *next;
	const fedrpc_method *method;
	fedrpc_call_cb       cb;       /* completion */
	void                *arg;
	void (*md_cb)(void *, const fedrpc_metadata *); /* reply metadata */
	void                *md_arg;
	pthread_mutex_t      lk;       /* orders posting an op against
					* cancelling it; see call.c */
	uint64_t             deadline; /* fedrpc_clock_ms() */
	uint32_t             timeout_ms;
	call_stage           stage;
	int                  abort;    /* call_abort; atomic */
	int                  refs;     /* in flight + caller handle; under ch->mtx */
	uint8_t              request_id[FEDRPC_REQUEST_ID_LEN];
	/* The wire protocol (wire_client.c), under its connection's lock: a
	 * call is one operation on cur, from the request to the reply. */
	uint32_t             wire_id;  /* call id on the connection; 0: none */
	fedrpc_call         *wnext;    /* waiting list or call id chain */
	nng_msg             *wreq;     /* the request while it waits */
	nng_aio             *waio;     /* the operation's aio */
	int                  wwhere;   /* 0: none, 1: waiting, 2: sent */
	/* What nng's cancel function gets for each operation: the call and
	 * the operation's number. nng's expiry thread takes the cancel
	 * function of a timed-out aio and runs it unlocked, so it can run
	 * after the reply finished that operation and the pooled call
	 * started the next one on the same aio; the number tells such a
	 * late cancel from one of the operation in progress. A slot is
	 * reused only after CALL_WTOKS more operations. */
	struct call_wtok {
		fedrpc_call *call;
		uint32_t     op;
	} wtok[4];
	uint32_t             wop;      /* the current operation's number */
	uint32_t             api_version; /* what the request carried */
};
#define CALL_WTOKS 4

/* A dialer's attempts by outcome, from nng's statistics. */
typedef struct dial_counts {
	uint64_t connect; /* connections made */
	uint64_t refused;
	uint64_t timeout;
	uint64_t auth;    /* TLS and peer authentication */
	uint64_t proto;   /* not an SP peer of the right protocol */
	uint64_t other;   /* reset, unreachable, ... */
} dial_counts;

/* Where the last connection failure was learnt. */
typedef enum fail_source {
	FAIL_NONE,
	FAIL_DIAL,  /* the dialer counted a failed attempt */
	FAIL_PROBE, /* domain mode: the domain channel's own probe failed */
	FAIL_TLS,   /* the TLS engine reported a handshake failure */
} fail_source;

struct fedrpc_channel {
	/* configuration, fixed after open */
	char       *url;            /* owned */
	char       *origin;         /* owned; "" for none */
	char       *target;         /* owned */
	uint32_t    api_version;    /* Version/Get's, or every call's */
	uint32_t   *versions;       /* ours, to negotiate; owned; NULL: no */
	size_t      n_versions;
	uint32_t    neg_version;    /* negotiated; 0: ask (atomic) */
	size_t      max_msg;        /* largest request sent / reply accepted */
	uint32_t    default_timeout;
	uint32_t    fresh_ms;       /* how long a dial failure stays news */
	fedrpc_tls *tls;            /* owned; NULL without TLS */

	nng_socket  sock;
	nng_dialer  dialer;

	pthread_mutex_t mtx;
	pthread_cond_t  cv;         /* close waits for live calls and timers */
	fedrpc_call    *pool;       /* idle calls (next-linked) */
	fedrpc_call    *live;       /* calls in flight (doubly linked) */
	size_t          n_live;
	size_t          refs;       /* 1 (open) + every call object */
	bool            closing;
	bool            sock_closed; /* pooled calls are destroyed, not kept */

	/* connection state, under mtx */
	uint32_t   *pipes;          /* ids of live pipes (owned) */
	size_t      n_pipes;
	size_t      cap_pipes;
	uint32_t    gone[8];        /* pipes removed before they were added */
	unsigned    gone_next;      /* (a ring: pipe ids are never reused) */
	fedrpc_code fail_code;      /* OK: no recent failure */
	char        fail_msg[200];
	uint64_t    fail_ms;        /* when it was (last) seen */
	fail_source fail_src;

	/* failure watch: runs only while calls wait and nothing is up */
	nng_aio            *watch_aio;
	bool                watching;
	dial_counts         seen;      /* dialer counters at the last look */

	/* What this kind of channel does at the points where kinds differ:
	 * chan_url_hooks (channel.c) for a channel opened by URL, or the
	 * domain channel's (domain_channel.c), whose connection manager owns
	 * the dialers in place of the fixed dialer and the watch. */
	const struct chan_hooks *hooks;
	void                    *hooks_arg; /* the domain channel's state */
	uint64_t fail_until; /* domain channel: fail fast until then */

	/* fedrpc's own framing on an nng stream in place of req0
	 * (wire_client.c); NULL on req0. */
	struct chan_wire *wire;
};

/*
 * The points where a kind of channel differs from the generic one. Every
 * hook but close runs with ch->mtx held.
 */
typedef struct chan_hooks {
	/* A call is about to wait for a connection. */
	void (*call_waiting)(fedrpc_channel *ch);
	/* A connection of the channel's socket came (ADD_POST) or went
	 * (REM_POST); the channel's own bookkeeping is done. */
	void (*pipe_event)(fedrpc_channel *ch, nng_pipe pipe, nng_pipe_ev ev);
	/* Whether a new call fails at once for the failure on record
	 * (ch->fail_code is set and nothing is connected). */
	bool (*fail_fast)(fedrpc_channel *ch);
	/* fedrpc_channel_last_error(). */
	fedrpc_code (*last_error)(fedrpc_channel *ch, char *buf, size_t len);
	/* fedrpc_channel_close() (ch->mtx not held). */
	void (*close)(fedrpc_channel *ch);
	/* Frees the kind's own state once the socket is closed. */
	void (*free)(fedrpc_channel *ch);
	/* A managed wire connection (chan_wire_connect()'s number gen) came
	 * up or went (rv: why, 0 when closed by us). NULL for a channel
	 * that dials by itself. */
	void (*wire_event)(fedrpc_channel *ch, uint32_t gen, bool up, int rv);
} chan_hooks;

/* A channel opened by URL: a fixed dialer and the failure watch. */
extern const chan_hooks chan_url_hooks;

/* ---- channel.c, for call.c ---- */
/*
 * Takes a pooled call (or makes one) and links it live, unless the
 * endpoint is known to be down: then returns NULL with st set.
 */
fedrpc_call *chan_call_acquire(
    fedrpc_channel *ch, bool handle, fedrpc_status *st);
/* Unlinks a finished call and drops its in-flight reference. */
void chan_call_finished(fedrpc_channel *ch, fedrpc_call *call);
/* call_observe.c: reports a finished call to the observer. */
void call_observe(const fedrpc_call *call, const fedrpc_status *st);
/* Drops a reference; the last one pools the call (or frees it). */
void chan_call_unref(fedrpc_channel *ch, fedrpc_call *call);
/* The reason calls fail while the endpoint is down (into st). */
void chan_fail_status(fedrpc_channel *ch, fedrpc_status *st);

/* ---- negotiate.c, for call.c ---- */
/* Whether calls of m on ch carry a negotiated version. */
bool chan_negotiates(const fedrpc_channel *ch, const fedrpc_method *m);
/* The version a call of m carries (*out): the cached choice, or a new
 * one (Version/Get within timeout_ms); an error when there is none. */
fedrpc_code chan_call_version(fedrpc_channel *ch, const fedrpc_method *m,
    uint32_t timeout_ms, uint32_t *out, fedrpc_status *st);
/* A call that carried `used` was refused with FAILED_PRECONDITION: the
 * cached choice, if it is still `used`, is dropped. */
void chan_version_refused(fedrpc_channel *ch, uint32_t used);

/* ---- channel.c, for domain_channel.c ---- */
/* Opens a channel with its socket but no dialer (opts->url names it). */
fedrpc_code chan_open_undialed(fedrpc_channel **out,
    const fedrpc_channel_opts *opts, fedrpc_status *st);
/* Closes for good: what fedrpc_channel_close() does to a URL channel. */
void chan_close(fedrpc_channel *ch);
/* The endpoint is down: calls fail fast with (code, why) until `until`
 * (fedrpc_clock_ms()), and calls waiting now fail; mtx held. */
void chan_set_down_locked(fedrpc_channel *ch, fedrpc_code code,
    const char *why, uint64_t until);
/* Calls wait for a connection again; mtx held. */
void chan_clear_down_locked(fedrpc_channel *ch);
/* Reads dialer d's attempts by outcome from nng's statistics (a snapshot
 * takes nng's own locks: call with none of ours held); false when nng has
 * none for it. */
bool chan_dial_counts(nng_dialer d, dial_counts *c);

/* Makes ch a channel of another kind (before any call). */
void chan_set_hooks(fedrpc_channel *ch, const chan_hooks *h, void *arg);

/* ---- channel.c, for wire_client.c ---- */
/* Connection gen came up (clears the failure) or went away (rv). */
void chan_wire_up(fedrpc_channel *ch, uint32_t gen, bool up, int rv);
/* Connection gen could not be made (rv): calls waiting fail with (code,
 * why), unless a manager (hooks->wire_event) decides. */
void chan_wire_down(fedrpc_channel *ch, uint32_t gen, int rv,
    fedrpc_code code, const char *why);

/* ---- wire_client.c: the wire protocol (docs/wire-protocol.md) ---- */
/* Settings of wire channels, process-wide (tests change them). */
typedef struct chan_wire_opts {
	uint32_t keepalive_ms;         /* ping after this much silence; 30000 */
	uint32_t keepalive_timeout_ms; /* then close after this much more; 10000 */
	size_t   max_queued;           /* request bytes queued before calls
					* wait for room; 4 MiB */
} chan_wire_opts;
void fedrpc_channel_wire_tune(const chan_wire_opts *o);
/* Whether a channel to `url` uses the wire protocol: for every scheme
 * but inproc://, unless FEDRPC_WIRE=reqrep (core/wire/transport.c). */
bool chan_wire_wanted(const char *url);
fedrpc_code chan_wire_open(fedrpc_channel *ch, uint32_t rmin, uint32_t rmax,
    fedrpc_status *st);
/* A wire channel whose connections its manager makes, one address at a
 * time (the domain channel): no dial until chan_wire_connect(). */
fedrpc_code chan_wire_open_managed(fedrpc_channel *ch, fedrpc_status *st);
/* A number for the next connection (never 0), known to the manager
 * before any of its events (hooks->wire_event) can come. */
uint32_t chan_wire_reserve(fedrpc_channel *ch);
/* Dials url (with tls, may be NULL) as connection gen; 0, or the nng
 * error. The previous one must have been disconnected. No lock of the
 * channel held. */
int chan_wire_connect(fedrpc_channel *ch, uint32_t gen, const char *url,
    fedrpc_tls *tls);
/* Closes connection gen (or its dial) and fails its calls in flight; no
 * lock of the channel held (waits for a dial's callback). */
void chan_wire_disconnect(fedrpc_channel *ch, uint32_t gen);
/* Sends no more calls on connection gen and closes it once its calls
 * are answered (a move to another target); no lock held. */
void chan_wire_drain(fedrpc_channel *ch, uint32_t gen);
/* Tests: closes the connection's stream as a peer's reset would. */
void chan_wire_drop(fedrpc_channel *ch);
/* Starts a call on aio with its packed request (taken); call->lk held. */
void chan_wire_call(fedrpc_channel *ch, fedrpc_call *call, nng_aio *aio,
    nng_msg *req);
/* After the last call: closes the connection and frees. */
void chan_wire_close(fedrpc_channel *ch);
/* The peer of the current connection (NOT_FOUND without one). */
fedrpc_code chan_wire_peer(fedrpc_channel *ch, fedrpc_peer *out);
/* The cancel function of wire calls, and the argument the call's
 * current operation gave it (tests deliver a late cancel with them). */
void  chan_wire_cancel_cb(nng_aio *aio, void *arg, int rv);
void *chan_wire_cancel_arg(fedrpc_call *call);

/* ---- call.c ---- */
void call_cb(void *arg);

#endif
