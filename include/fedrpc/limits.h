/*
 * Per-peer limits for a server: how many calls one peer (a key: its origin
 * domain, or its certificate name) may have in flight, and how fast it may
 * send them (a token bucket). A call over either limit is refused with
 * RESOURCE_EXHAUSTED before it reaches a handler, so one busy peer cannot
 * take every worker from the others.
 *
 *     admit:  fedrpc_limits_enter(lim, key, st)   -- refuses, or counts it
 *     done:   fedrpc_limits_leave(lim, key)       -- after every OK enter
 */
#ifndef FEDRPC_LIMITS_H
#define FEDRPC_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include <fedrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_limits fedrpc_limits;

typedef struct fedrpc_limits_opts {
	uint32_t max_inflight; /* calls in flight per key; 0: no limit */
	double   rate;         /* calls per second per key; 0: no limit */
	uint32_t burst;        /* bucket size; 0: the rate rounded up (>= 1) */
	uint32_t max_keys;     /* keys tracked at once; 0: 10000 */
} fedrpc_limits_opts;

/* Counters, for tests and operators. */
typedef struct fedrpc_limits_stats {
	uint64_t admitted;       /* enters that succeeded */
	uint64_t refused_rate;   /* over the rate */
	uint64_t refused_inflight; /* over the calls in flight */
	uint64_t refused_keys;   /* no room for another key */
	uint64_t keys;           /* keys tracked now */
	uint64_t inflight;       /* calls in flight now, all keys */
} fedrpc_limits_stats;

/* Makes a limiter; `opts` is copied. */
fedrpc_code fedrpc_limits_new(fedrpc_limits **out,
    const fedrpc_limits_opts *opts, fedrpc_status *st);

/* Frees it; no call may still be inside. NULL is fine. */
void fedrpc_limits_free(fedrpc_limits *lim);

/*
 * Changes the limits (reload). Calls in flight stay counted; a bucket keeps
 * its tokens up to the new burst.
 */
void fedrpc_limits_set(fedrpc_limits *lim, const fedrpc_limits_opts *opts);

/*
 * Counts one call of `key` in, or refuses it with RESOURCE_EXHAUSTED and a
 * message naming the key and the limit. Every OK must be matched by one
 * fedrpc_limits_leave() with the same key. Thread-safe.
 */
fedrpc_code fedrpc_limits_enter(
    fedrpc_limits *lim, const char *key, fedrpc_status *st);

/* Counts one call of `key` out. */
void fedrpc_limits_leave(fedrpc_limits *lim, const char *key);

/* Calls of `key` in flight now (0 for an unknown key). */
uint32_t fedrpc_limits_inflight(fedrpc_limits *lim, const char *key);

void fedrpc_limits_stats_get(fedrpc_limits *lim, fedrpc_limits_stats *out);

#ifdef __cplusplus
}
#endif
#endif
