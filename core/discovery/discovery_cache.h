/*
 * The resolver's memory of earlier lookups, keyed by domain: answers for
 * their TTL, "does not federate" results for the negative TTL, DNS failures
 * for a moment. Not locked: the resolver holds its own lock around it.
 */
#ifndef FEDRPC_CLIENT_DISCOVERY_CACHE_H
#define FEDRPC_CLIENT_DISCOVERY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <fedrpc/discovery.h>
#include <fedrpc/status.h>

typedef struct discovery_cache discovery_cache;

typedef enum discovery_cache_kind {
	DISCOVERY_CACHE_MISS     = 0,
	DISCOVERY_CACHE_POSITIVE = 1, /* an answer */
	DISCOVERY_CACHE_NEGATIVE = 2, /* NOT_FOUND: NXDOMAIN, no SRV, ... */
	DISCOVERY_CACHE_FAILURE  = 3, /* UNAVAILABLE: timeout, SERVFAIL */
} discovery_cache_kind;

/* At most max_entries are kept; the ones closest to expiry go first. */
discovery_cache *discovery_cache_new(size_t max_entries);
void             discovery_cache_free(discovery_cache *c);

/*
 * Looks up a normalised domain at time now_ms (monotonic). POSITIVE: *out
 * receives a copy with from_cache set and ttl the seconds left (NULL when
 * out of memory: then treat as a miss). NEGATIVE/FAILURE: st receives the
 * stored code and message with " (cached)" added. Expired entries are
 * dropped on the way.
 */
discovery_cache_kind discovery_cache_get(discovery_cache *c, const char *domain,
    int64_t now_ms, fedrpc_srv_answer **out, fedrpc_status *st);

/* Keeps a copy of `a` for ttl_ms (0: keeps nothing). */
void discovery_cache_put_answer(discovery_cache *c, const char *domain,
    const fedrpc_srv_answer *a, int64_t ttl_ms, int64_t now_ms);

/* Keeps a NOT_FOUND (NEGATIVE) or UNAVAILABLE (FAILURE) result. */
void discovery_cache_put_error(discovery_cache *c, const char *domain,
    discovery_cache_kind kind, const fedrpc_status *st, int64_t ttl_ms,
    int64_t now_ms);

void   discovery_cache_remove(discovery_cache *c, const char *domain);
void   discovery_cache_clear(discovery_cache *c);
size_t discovery_cache_count(const discovery_cache *c);

#endif
