/*
 * Discovery: which hosts serve a federation domain. A resolver looks up the
 * domain's SRV record (`_fedrpc._tcp.<domain>` by default) and the A/AAAA
 * records of its targets, caches what it learns, and orders the targets for
 * connection attempts as RFC 2782 says.
 *
 * All DNS work of one resolver runs on its own thread through one udns
 * context: lookups are asynchronous underneath, the blocking call is a
 * convenience on top. Concurrent lookups of the same domain share one set
 * of DNS queries.
 *
 * Caching: an answer is kept for its TTL (the smallest of the SRV and the
 * address TTLs); "this domain does not federate" answers (NXDOMAIN, no SRV
 * record, SRV target ".") for the negative TTL; DNS failures (timeout,
 * SERVFAIL, REFUSED) only for FEDRPC_DISCOVERY_FAILURE_HOLD_MS, so that a
 * burst of callers does not become a burst of queries to a failing server.
 *
 * Errors a caller can act on:
 *   NOT_FOUND          the domain does not federate: "no such domain: b.example
 *                      (NXDOMAIN for _fedrpc._tcp.b.example)", "b.example
 *                      publishes no _fedrpc._tcp SRV record", ...
 *   UNAVAILABLE        DNS did not give an answer: "DNS lookup of
 *                      _fedrpc._tcp.b.example failed: timeout after 5000 ms
 *                      (nameserver 127.0.0.1:5353)", "... DNS server error
 *                      (SERVFAIL from nameserver 127.0.0.1:5353)"
 *   DEADLINE_EXCEEDED  the caller's own deadline passed first
 *   INVALID_ARGUMENT   not a domain name
 * Every message names the domain and the step that failed.
 */
#ifndef FEDRPC_DISCOVERY_H
#define FEDRPC_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FEDRPC_DISCOVERY_SERVICE "_fedrpc._tcp"
#define FEDRPC_DISCOVERY_TIMEOUT_MS 5000
#define FEDRPC_DISCOVERY_NEGATIVE_TTL_S 30
#define FEDRPC_DISCOVERY_NEGATIVE_TTL_MAX_S 300
#define FEDRPC_DISCOVERY_FAILURE_HOLD_MS 1000

typedef struct fedrpc_resolver fedrpc_resolver;

/* A fixed endpoint for a domain that bypasses DNS (for development). */
typedef struct fedrpc_static_route {
	const char *domain; /* "b.example" (case and a final dot ignored) */
	const char *host;   /* "127.0.0.1", "::1", "localhost", or a name
	                       resolved through A/AAAA */
	uint16_t port;
} fedrpc_static_route;

typedef struct fedrpc_resolver_opts {
	/* "127.0.0.1:5353", "[::1]:5353", "10.0.0.1" (port 53), or several
	 * separated by commas or spaces (at most 6). NULL or "": the system's
	 * nameservers from /etc/resolv.conf. */
	const char *nameserver;
	const char *service;        /* SRV label; NULL: "_fedrpc._tcp" */
	uint32_t    timeout_ms;     /* one lookup, all its DNS steps; 0: 5000 */
	uint32_t    negative_ttl_s; /* 0: 30; capped at 300 */
	const fedrpc_static_route *statics; /* copied; checked before DNS */
	size_t                     n_statics;
} fedrpc_resolver_opts;

/* One SRV target. Strings are owned by the answer that holds it. */
typedef struct fedrpc_srv_target {
	char    *host; /* the target name, lower case, no final dot */
	uint16_t port;
	uint16_t priority; /* lower is tried first */
	uint16_t weight;   /* share of connections within a priority */
	uint32_t ttl;      /* seconds: min of the SRV and its address TTLs */
	size_t   n_addrs;  /* 0 when the target's addresses are unknown */
	char   **addrs;    /* "127.0.0.1", "::1": IPv4 first, then IPv6 */
} fedrpc_srv_target;

/*
 * The result of a lookup. Every answer handed out is the receiver's own deep
 * copy (not shared, no reference count): free it with
 * fedrpc_srv_answer_free(). Targets are in DNS order; fedrpc_srv_order()
 * gives the order to try them in.
 */
typedef struct fedrpc_srv_answer {
	char              *domain; /* the domain looked up, lower case */
	char              *qname;  /* "_fedrpc._tcp.b.example"; "" if static */
	size_t             n_targets; /* >= 1 */
	fedrpc_srv_target *targets;
	/* Seconds the answer stays valid from now: the time left for a cached
	 * one; 0 for a static route to an address (asking again is free). */
	uint32_t ttl;
	bool     from_cache; /* served from the cache, no DNS query made */
	bool     is_static;  /* from a static route, not from DNS */
} fedrpc_srv_answer;

/* Counters, for tests and operators (fedctl). */
typedef struct fedrpc_resolver_stats {
	uint64_t lookups;       /* lookups asked for, blocking and async */
	uint64_t cache_hits;    /* answered from the positive cache */
	uint64_t negative_hits; /* NOT_FOUND answered from the negative cache */
	uint64_t failure_hits;  /* UNAVAILABLE answered from the failure hold */
	uint64_t static_hits;   /* answered by a static route */
	uint64_t coalesced;     /* joined a lookup of the domain in flight */
	uint64_t dns_lookups;   /* lookups that went to DNS (per domain) */
	uint64_t dns_queries;   /* DNS packets sent, retransmissions included */
	uint64_t failures;      /* DNS lookups that ended UNAVAILABLE */
	uint64_t deadline_exceeded; /* callers whose deadline passed first */
	uint64_t cache_entries;     /* entries in the cache now */
} fedrpc_resolver_stats;

/*
 * Creates a resolver and starts its thread. Fails with INVALID_ARGUMENT for
 * an unparsable nameserver, service label or static route, UNAVAILABLE if
 * the DNS socket cannot be opened. `opts` may be NULL (all defaults); the
 * resolver copies what it needs.
 */
fedrpc_code fedrpc_resolver_new(
    fedrpc_resolver **out, const fedrpc_resolver_opts *opts, fedrpc_status *st);

/*
 * Stops the thread and frees the resolver. Lookups still pending complete
 * with CANCELLED first (their callbacks run before this returns). Must not
 * be called from a resolver callback.
 */
void fedrpc_resolver_free(fedrpc_resolver *r);

/*
 * Looks a domain up and waits for the result. `timeout_ms` is the caller's
 * deadline (0: none beyond the resolver's own timeout). On FEDRPC_OK *out
 * receives an answer the caller frees with fedrpc_srv_answer_free();
 * otherwise *out is NULL and st says why. Must not be called from a
 * resolver callback (FAILED_PRECONDITION).
 */
fedrpc_code fedrpc_resolver_lookup(fedrpc_resolver *r, const char *domain,
    uint32_t timeout_ms, fedrpc_srv_answer **out, fedrpc_status *st);

/*
 * Completion of an asynchronous lookup, run once on the resolver thread; it
 * must not block (it may start other lookups). `answer` is NULL unless
 * st->code is OK; the callback owns it. `st` is valid during the call only.
 */
typedef void (*fedrpc_resolver_cb)(
    void *arg, const fedrpc_status *st, fedrpc_srv_answer *answer);

/*
 * Starts a lookup and returns at once. FEDRPC_OK: the callback will run
 * exactly once, also for a cached answer, an invalid domain name, or when
 * the resolver is freed first (CANCELLED). Any other code (a NULL resolver
 * or callback, no memory, the resolver is being freed): it never runs.
 */
fedrpc_code fedrpc_resolver_lookup_async(fedrpc_resolver *r, const char *domain,
    uint32_t timeout_ms, fedrpc_resolver_cb cb, void *arg);

/*
 * Drops the pending lookups started with this (cb, arg): their callbacks
 * will not run. When it returns, no callback for them is running either
 * (unless called from that very callback), so `arg` may be freed. Returns
 * how many were dropped. For a channel that closes while it still waits for
 * its domain's answer.
 */
size_t fedrpc_resolver_cancel(
    fedrpc_resolver *r, fedrpc_resolver_cb cb, void *arg);

/* Drops every cached answer, positive and negative. */
void fedrpc_resolver_flush(fedrpc_resolver *r);

/* Drops what is cached for one domain, e.g. after every target failed. */
void fedrpc_resolver_forget(fedrpc_resolver *r, const char *domain);

void fedrpc_resolver_stats_get(fedrpc_resolver *r, fedrpc_resolver_stats *out);

/* The nameserver(s) in use, as shown in messages: "127.0.0.1:5353". */
const char *fedrpc_resolver_nameserver(const fedrpc_resolver *r);

/* Frees an answer; NULL is fine. */
void fedrpc_srv_answer_free(fedrpc_srv_answer *a);

/* A deep copy, or NULL when out of memory. */
fedrpc_srv_answer *fedrpc_srv_answer_dup(const fedrpc_srv_answer *a);

/*
 * True if `name` (a DNS name from a peer certificate) is one of the
 * answer's targets. Case and a final dot are ignored; wildcards are not
 * expanded. This is the origin-authentication question "does the origin
 * domain's SRV record point at the host that presented this certificate".
 */
bool fedrpc_srv_answer_has_target(const fedrpc_srv_answer *a, const char *name);

/*
 * The order in which to try targets for one sequence of connection
 * attempts (RFC 2782): priority ascending; within a priority, a weighted
 * random order (a target's chance to come first is its weight over the sum
 * of weights), targets of weight 0 after the others in random order.
 * Targets that cannot be dialled (target "." or no addresses) are left out.
 * Writes target indexes to order_out (room for a->n_targets) and returns how
 * many. *rng_state is the caller's random state, updated on each call (0:
 * seeded from the clock); a fixed seed gives a repeatable order.
 */
size_t fedrpc_srv_order(
    const fedrpc_srv_answer *a, uint32_t *rng_state, size_t *order_out);

/*
 * Formats "<scheme>://<addr>:<port>" for dialing a target's address
 * (brackets around IPv6): "tls+tcp://[::1]:7443". Returns the length that
 * was needed, like snprintf, or -1 for a bad index.
 */
int fedrpc_srv_target_url(const fedrpc_srv_target *t, size_t addr_index,
    const char *scheme, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
