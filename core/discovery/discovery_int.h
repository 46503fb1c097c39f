/*
 * What the resolver (discovery.c) and its DNS work for one domain
 * (discovery_flight.c) share: the structures, and the few calls between
 * them. Everything here runs on the resolver thread with r->mtx held.
 */
#ifndef FEDRPC_CLIENT_DISCOVERY_INT_H
#define FEDRPC_CLIENT_DISCOVERY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <udns.h>

#include <fedrpc/discovery.h>

#include "core/base/clock.h"
#include "core/discovery/discovery_cache.h"
#include "core/base/dns_name.h"

#define MAX_TARGETS 32 /* SRV records used per domain */
#define MAX_ADDRS_PER_FAMILY 16
#define QNAME_MAX (2 * DNS_NAME_MAX)

enum dq_kind {
	DQ_SRV,    /* <service>.<domain> SRV */
	DQ_EXISTS, /* <domain> A, only to tell "no such domain" apart */
	DQ_A,      /* a target's A */
	DQ_AAAA,   /* a target's AAAA */
};

enum flight_step {
	STEP_SRV,    /* waiting for the SRV answer */
	STEP_EXISTS, /* SRV was NXDOMAIN; does the domain exist at all? */
	STEP_ADDRS,  /* waiting for the targets' addresses */
};

struct flight;

/* One udns query; lives inside its flight, which outlives it. */
struct dq {
	struct flight    *f; /* owner */
	struct dns_query *q; /* in udns while running, else NULL */
	enum dq_kind      kind;
	size_t            host;   /* DQ_A, DQ_AAAA: index in f->hosts */
	bool              done;   /* udns finished it (or it never started) */
	int               status; /* 0: data; else DNS_E_* */
	int               rcode;  /* rcode of the last reply seen; -1: none */
};

/* A distinct target name and what its A/AAAA queries found. */
struct host {
	char     *name;                     /* owned; lower case */
	char     *v4[MAX_ADDRS_PER_FAMILY]; /* owned strings */
	size_t    n4;
	char     *v6[MAX_ADDRS_PER_FAMILY];
	size_t    n6;
	uint32_t  ttl; /* min TTL of its address answers */
	struct dq a, aaaa;
};

/* One SRV record we will use. */
struct target {
	size_t   host; /* index in f->hosts */
	uint16_t port, priority, weight;
};

struct static_route {
	char     domain[DNS_NAME_MAX]; /* normalised */
	char    *host;                 /* owned; address, "localhost" or name */
	uint16_t port;
	bool     literal; /* no DNS needed */
};

/* The DNS work for one domain, shared by every waiter for it. */
struct flight {
	struct flight             *next; /* in r->flights or r->abandoned */
	fedrpc_resolver           *r;
	char                       domain[DNS_NAME_MAX];
	char                       qname[QNAME_MAX]; /* the SRV name */
	const struct static_route *route; /* a static route to a name */
	int64_t deadline;                 /* started + the resolver's timeout */
	int     outstanding;              /* queries udns still holds */
	bool    finished;                 /* result delivered; parked if queries
	                                     are still outstanding */
	enum flight_step step;
	struct dq        srv, exists;
	uint32_t         srv_ttl;
	struct target   *targets; /* owned */
	size_t           n_targets;
	struct host     *hosts; /* owned */
	size_t           n_hosts;
	struct waiter   *waiters; /* owned until the flight ends */
};

/* One caller's lookup. */
struct waiter {
	struct waiter     *next;
	fedrpc_resolver_cb cb;
	void              *arg;
	char              *domain;     /* as the caller wrote it; owned */
	uint32_t           timeout_ms; /* the caller's; 0: none */
	int64_t            deadline;   /* monotonic ms; 0: none */
	fedrpc_status      st;         /* the result */
	fedrpc_srv_answer *answer;     /* the result; handed to cb */
};

struct fedrpc_resolver {
	pthread_mutex_t      mtx; /* everything below, and the udns context */
	pthread_cond_t       cb_done; /* a callback returned */
	pthread_t            thread;
	bool                 thread_started;
	int                  wake_fd;         /* eventfd: new work or closing */
	struct dns_ctx      *dns;             /* owned; resolver thread only */
	char                 nameserver[128]; /* for messages */
	char                 service[DNS_NAME_MAX]; /* "_fedrpc._tcp" */
	uint32_t             timeout_ms;
	uint32_t             negative_ttl_s;
	struct static_route *statics; /* owned */
	size_t               n_statics;
	discovery_cache     *cache;    /* owned */
	struct waiter       *incoming; /* queued by callers, FIFO */
	struct waiter      **incoming_tail;
	struct waiter       *done; /* results to deliver, FIFO */
	struct waiter      **done_tail;
	struct flight       *flights;   /* in progress */
	struct flight       *abandoned; /* finished, udns still holds queries */
	bool                 closing;
	bool                 in_cb;       /* a callback is running ... */
	fedrpc_resolver_cb   running_cb;  /* ... this one ... */
	void                *running_arg; /* ... with this argument */
	fedrpc_resolver_stats stats;
};

static inline int64_t
discovery_now_ms(void)
{
	return (int64_t) fedrpc_clock_ms();
}

/* Appends to a FIFO of waiters (r->incoming, r->done). */
static inline void
discovery_list_append(struct waiter ***tail, struct waiter *w)
{
	w->next = NULL;
	**tail  = w;
	*tail   = &w->next;
}

/* ---- discovery_flight.c ---- */

/* Starts the DNS work for a domain (route: a static route to a name, or
 * NULL); w is its first waiter. May finish at once (w then on r->done). */
void discovery_flight_start(fedrpc_resolver *r, const char *domain,
    const struct static_route *route, struct waiter *w, int64_t now);

/* The flight in progress for a normalised domain, or NULL. */
struct flight *discovery_flight_find(fedrpc_resolver *r, const char *domain);

/* The resolver timeout passed: ends the flight with what it has. */
void discovery_flight_timeout(struct flight *f);

/* What the flight waits for now, for messages: "SRV _fedrpc._tcp.b.example". */
const char *discovery_flight_step_text(
    const struct flight *f, char *buf, size_t len);

void discovery_flight_free(struct flight *f);

/* The answer of a static route to an address (or "localhost"). */
fedrpc_srv_answer *discovery_static_answer(const struct static_route *sr);

/* udns's debug hook: counts packets sent, keeps each reply's rcode. */
void discovery_udns_hook(int code, const struct sockaddr *sa, unsigned salen,
    dnscc_t *pkt, int plen, const struct dns_query *q, void *data);

#endif
