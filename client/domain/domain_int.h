/*
 * What the domain pool (domain_pool.c: table, connection thread, idle
 * close) and the per-domain connection manager (domain_channel.c) share.
 *
 * Locks: pool->mtx guards the table and the reference counts; each
 * channel's ch->mtx guards its manager's state; pool->wake_mtx only the
 * thread's wake-up flag, and is taken last. No nng call that can wait for
 * a callback (dialer or socket close, aio stop) is made with any of them
 * held: only the pool thread makes those.
 */
#ifndef FEDRPC_CLIENT_DOMAIN_INT_H
#define FEDRPC_CLIENT_DOMAIN_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include <fedrpc/domain.h>

#include "client/backoff.h"
#include "client/channel_int.h"

#define DOM_ERRS_MAX 400
/* How often a pending TLS handshake is checked for an engine error. */
#define DOM_POLL_MS 20
/* Shortest time between two lookups of one domain while connected. */
#define DOM_REFRESH_MIN_MS 1000
/* A connection closed sooner than this after it was made counts as a
 * failed attempt (a server that takes connections and drops them, e.g.
 * because it refuses us, must not be redialled in a tight loop)... */
#define DOM_MIN_UP_MS 1000
/* ...and this many in a row put the domain into back-off. */
#define DOM_MAX_BRIEF 2

/* What the pool's channels share; fixed after fedrpc_domains_new(). */
typedef struct dom_config {
	char            *origin;      /* owned */
	char            *scheme;      /* owned: "tls+tcp" or "tcp" */
	bool             use_tls;     /* scheme is tls+tcp */
	fedrpc_tls_opts  tls;         /* strings below; server_name per dial */
	char            *ca, *cert, *key, *crl; /* owned copies */
	fedrpc_resolver *resolver;    /* owned or borrowed, see own_resolver */
	bool             own_resolver;
	uint32_t         api_version;
	uint32_t        *versions;    /* ours, to negotiate; owned */
	size_t           n_versions;
	size_t           max_msg;
	uint32_t         default_timeout_ms;
	uint32_t         connect_timeout_ms;
	uint32_t         idle_timeout_ms;
	fedrpc_backoff_opts backoff;
	fedrpc_egress_fn allowed;     /* NULL: all */
	void            *allowed_arg;
} dom_config;

typedef enum dom_state {
	DOM_IDLE,       /* no connection, none wanted yet */
	DOM_RESOLVING,  /* waiting for the SRV lookup */
	DOM_CONNECTING, /* trying targets one address at a time */
	DOM_READY,      /* connected (cur) */
	DOM_BACKOFF,    /* every target failed; calls fail fast */
} dom_state;

typedef enum dom_try_step {
	TRY_HANDSHAKE, /* nng dialer started: TCP, TLS and SP handshakes */
	TRY_CLOSED,    /* failed and closed: the next address is due */
} dom_try_step;

/* One dial of one target address: the one in use, or one being tried. */
typedef struct dom_dial {
	char        host[256]; /* the SRV target: the TLS server name */
	uint16_t    port;
	char        addr[64];  /* the address dialed */
	char        url[320];  /* "tls+tcp://addr:port" */
	nng_dialer  dialer;    /* id 0: none */
	uint32_t    wgen;      /* wire protocol: the connection's number, 0: none */
	fedrpc_tls *tls;       /* owned; NULL without TLS */
	bool        up;        /* a connection of this dialer is live */
	uint64_t    started;   /* fedrpc_clock_ms() when dialing began */
	uint64_t    up_at;     /* when it became the connection in use */
} dom_dial;

typedef struct dom_chan dom_chan;

struct dom_chan {
	fedrpc_domains   *pool;   /* the owner: config, thread, stats */
	const dom_config *cfg;    /* the pool's */
	fedrpc_channel   *ch;     /* the channel managed: socket and mtx */
	char             *domain; /* owned; lower case, no final dot */
	dom_chan         *next;   /* table chain; pool->mtx */
	uint32_t          users;  /* references handed out; pool->mtx */

	/* ---- under ch->mtx ---- */
	dom_state state;
	bool      closing;    /* being closed: callbacks do nothing */
	bool      want;       /* a call waits for a connection */
	uint64_t  last_used;  /* fedrpc_clock_ms() of the last call */

	fedrpc_srv_answer *answer;       /* owned; latest lookup, or NULL */
	uint64_t           answer_until; /* when to look up again */
	bool               lookup_busy;  /* a lookup is in flight */
	bool               lookup_done;  /* its result waits below */
	fedrpc_code        lookup_code;
	char               lookup_msg[FEDRPC_STATUS_MESSAGE_MAX];
	fedrpc_srv_answer *lookup_answer; /* owned until taken */

	/* the sequence of attempts under way (DOM_CONNECTING) */
	fedrpc_srv_answer *seq;          /* owned copy of the answer tried */
	size_t            *order;        /* owned; target indexes to try */
	size_t             n_order;
	size_t             oi, ai;       /* current target (in order), addr */
	dom_try_step       try_step;
	dom_dial           try;          /* the attempt */
	dial_counts        try_counts;   /* its dialer's attempts so far */
	bool               try_counted;  /* try_counts was read */
	bool               try_failed;   /* set up failed: see try_msg */
	char               try_msg[FEDRPC_STATUS_MESSAGE_MAX];
	char               errs[DOM_ERRS_MAX]; /* failures so far, "; " */
	char               step[320];    /* what is being done, for messages */

	dom_dial           cur;          /* the connection in use */
	bool               cur_lost;     /* its connection dropped */
	bool               moving;       /* wire: cur drains for a new target */
	bool               forget;       /* drop the resolver's answer */
	char               lost_host[256]; /* tried last after losing it */
	uint16_t           lost_port;

	backoff            bo;
	uint64_t           last_attempt; /* when the latest dial started */
	uint64_t           retry_at;     /* DOM_BACKOFF: when to try again */
	uint32_t           backoff_ms;   /* the delay being waited */
	uint32_t           failures;     /* sequences failed in a row */
	uint32_t           brief;        /* connections lost at once, in a row */
	uint32_t           rng;          /* for fedrpc_srv_order() */
};

struct fedrpc_domains {
	dom_config cfg;

	pthread_mutex_t mtx;      /* table, users */
	dom_chan      **table;    /* hash chains */
	size_t          mask;     /* table size - 1 */
	size_t          n_chans;

	pthread_t       thread;   /* the connection thread */
	bool            thread_started;
	pthread_mutex_t wake_mtx; /* leaf lock */
	pthread_cond_t  wake_cv;  /* CLOCK_MONOTONIC */
	bool            wake;     /* something happened */
	bool            stopping;

	fedrpc_domains_stats stats; /* counters: atomic adds */
};

/* ---- dial_errors.c ---- */
/* "connection refused by" and so on for one dial's error, to be followed
 * by "host:port"; NULL for an error without such words. */
const char *dom_connect_error(int rv);
/* Why a dialer's attempts failed, from its statistics: NNG_ECONNREFUSED,
 * NNG_ETIMEDOUT, NNG_EPEERAUTH, NNG_EPROTO, or NNG_ECONNABORTED for any
 * other failure; 0 while it has counted none (or has connected). */
int dom_dial_error(const dial_counts *c);
/* dom_dial_error() in words, to be followed by "host:port". */
const char *dom_dial_error_words(int rv);

/* ---- domain_pool.c ---- */
/* Wakes the pool thread; any locks but wake_mtx may be held. */
void pool_wake(fedrpc_domains *pool);
/* Whether the egress check allows `domain`. */
bool pool_allowed(const fedrpc_domains *pool, const char *domain);
#define POOL_STAT_ADD(pool, field, n) \
	__atomic_add_fetch(&(pool)->stats.field, (n), __ATOMIC_RELAXED)

/* ---- domain_channel.c ---- */
/* Makes the channel and its manager for `domain` (normalised). */
fedrpc_code dom_new(fedrpc_domains *pool, const char *domain, dom_chan **out,
    fedrpc_status *st);
/* Moves the manager on: runs on the pool thread only. Lowers *next_wake
 * to when it needs to run again. */
void dom_step(dom_chan *d, uint64_t now, uint64_t *next_wake);
/* Idle handling on the pool thread: true when the channel has had no
 * call for the idle timeout and none is in flight. */
bool dom_is_idle(dom_chan *d, uint64_t now);
/* Drops the connection and what was learnt, keeping the channel. */
void dom_disconnect(dom_chan *d);
/* Closes the channel for good (calls in flight see CANCELLED). */
void dom_close(dom_chan *d);

/* ---- dial_errors.c ---- */
/* "connection refused by" and so on for one dial's error, to be followed
 * by "host:port"; NULL for an error without such words. */
const char *dom_connect_error(int rv);
/* Why a dialer's attempts failed, from its statistics: NNG_ECONNREFUSED,
 * NNG_ETIMEDOUT, NNG_EPEERAUTH, NNG_EPROTO, or NNG_ECONNABORTED for any
 * other failure; 0 while it has counted none (or has connected). */
int dom_dial_error(const dial_counts *c);
/* dom_dial_error() in words, to be followed by "host:port". */
const char *dom_dial_error_words(int rv);

/* ---- domain_pool.c ---- */
/* fedrpc_channel_close() of a domain channel: drops the caller's
 * reference; the pool closes it once it is idle (mtx NOT held). */
void dom_release(dom_chan *d);

#endif
