/*
 * Origin authentication: is the peer at the other end of a mutual TLS
 * connection allowed to speak for the origin domain its request names?
 * Yes when one of the peer certificate's verified DNS names is the origin
 * domain itself, or is a target of the origin domain's SRV record (the
 * check Wire's federator makes). Answers are cached for the SRV record's
 * TTL, so a busy peer costs one DNS lookup per TTL, not one per call.
 */
#ifndef FEDRPC_ORIGIN_AUTH_H
#define FEDRPC_ORIGIN_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <fedrpc/discovery.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_origin_auth fedrpc_origin_auth;

typedef struct fedrpc_origin_auth_opts {
	/* Where SRV records come from (DNS and static routes); borrowed, it
	 * must outlive the authenticator. Required. */
	fedrpc_resolver *resolver;
	uint32_t lookup_timeout_ms; /* bound on one check's DNS; 0: 5000 */
	uint32_t max_entries;       /* cached decisions; 0: 4096 */
	uint32_t max_ttl_s;         /* cap on a decision's life; 0: 3600 */
} fedrpc_origin_auth_opts;

/* Counters, for tests and operators. */
typedef struct fedrpc_origin_auth_stats {
	uint64_t checks;     /* calls of fedrpc_origin_auth_check */
	uint64_t accepted;   /* OK */
	uint64_t refused;    /* UNAUTHENTICATED */
	uint64_t failed;     /* DNS could not answer: UNAVAILABLE */
	uint64_t self_names; /* accepted because a name is the origin itself */
	uint64_t cache_hits; /* decided from the cache */
	uint64_t lookups;    /* SRV lookups asked of the resolver */
} fedrpc_origin_auth_stats;

fedrpc_code fedrpc_origin_auth_new(fedrpc_origin_auth **out,
    const fedrpc_origin_auth_opts *opts, fedrpc_status *st);

/* Frees it; no check may be running. NULL is fine. */
void fedrpc_origin_auth_free(fedrpc_origin_auth *oa);

/*
 * Decides whether `peer` may send requests from `origin`. Blocks for the
 * DNS lookup when the answer is not cached, at most timeout_ms (0: the
 * configured lookup timeout). Returns:
 *   OK               accepted
 *   UNAUTHENTICATED  refused, with the reason: "peer certificate names
 *                    [x.example] are not targets of _fedrpc._tcp.y.example",
 *                    "request names no origin domain", "y.example publishes
 *                    no _fedrpc._tcp SRV record", ...
 *   UNAVAILABLE      DNS did not answer (the caller may retry); the reason
 *   DEADLINE_EXCEEDED the lookup outlived timeout_ms
 * Thread-safe.
 */
fedrpc_code fedrpc_origin_auth_check(fedrpc_origin_auth *oa,
    const char *origin, const fedrpc_peer *peer, uint32_t timeout_ms,
    fedrpc_status *st);

/* Forgets every cached decision (e.g. after a reload). */
void fedrpc_origin_auth_flush(fedrpc_origin_auth *oa);

void fedrpc_origin_auth_stats_get(
    fedrpc_origin_auth *oa, fedrpc_origin_auth_stats *out);

#ifdef __cplusplus
}
#endif
#endif
