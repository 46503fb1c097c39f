/*
 * Connection back-off as gRPC does it (connection-backoff.md): each failed
 * attempt waits longer (initial delay, times the multiplier, up to the
 * maximum), each wait spread by random jitter; a success resets it.
 */
#ifndef FEDRPC_CLIENT_BACKOFF_H
#define FEDRPC_CLIENT_BACKOFF_H

#include <stdint.h>

#include <fedrpc/domain.h>

#define BACKOFF_INITIAL_MS 1000
#define BACKOFF_MULTIPLIER 1.6
#define BACKOFF_JITTER 0.2
#define BACKOFF_MAX_MS 120000

/* One back-off schedule; not thread-safe (its owner's lock covers it). */
typedef struct backoff {
	fedrpc_backoff_opts opts;    /* defaults filled in */
	double              base_ms; /* the next delay before jitter */
	uint32_t            rng;     /* xorshift state, never 0 */
	uint32_t            failures; /* delays handed out since the reset */
} backoff;

/* Fills in defaults from opts (NULL: all defaults); seed 0 seeds from the
 * clock, another value gives a repeatable jitter sequence. */
void backoff_init(backoff *b, const fedrpc_backoff_opts *opts, uint32_t seed);

/* The delay to wait after one more failure, in ms: base +- jitter, then
 * the base grows by the multiplier up to the maximum. */
uint32_t backoff_next(backoff *b);

/* The peer was reached: the next failure waits the initial delay again. */
void backoff_reset(backoff *b);

/* The delay the next failure would get before jitter. */
uint32_t backoff_peek(const backoff *b);

#endif
