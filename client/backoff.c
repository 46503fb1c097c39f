/*
 * Exponential connection back-off with jitter (gRPC's algorithm): the
 * jitter is applied after the cap, so with the defaults the longest wait
 * is 120 s +- 20%.
 */
#include <stdint.h>
#include <time.h>

#include "core/base/clock.h"
#include "client/backoff.h"

static uint32_t
rng_next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

void
backoff_init(backoff *b, const fedrpc_backoff_opts *opts, uint32_t seed)
{
	fedrpc_backoff_opts o = {0};

	if (opts != NULL)
		o = *opts;
	if (o.initial_ms == 0)
		o.initial_ms = BACKOFF_INITIAL_MS;
	if (o.multiplier == 0)
		o.multiplier = BACKOFF_MULTIPLIER;
	else if (o.multiplier < 1)
		o.multiplier = 1;
	if (o.jitter == 0)
		o.jitter = BACKOFF_JITTER;
	else if (o.jitter < 0)
		o.jitter = 0;
	else if (o.jitter > 1)
		o.jitter = 1;
	if (o.max_ms == 0)
		o.max_ms = BACKOFF_MAX_MS;
	if (o.max_ms < o.initial_ms)
		o.max_ms = o.initial_ms;
	if (seed == 0)
		seed = fedrpc_clock_seed((uintptr_t) b);
	/* Mix the seed: nearby seeds would start xorshift nearby. */
	seed ^= seed >> 16;
	seed *= 0x7feb352du;
	seed ^= seed >> 15;
	seed *= 0x846ca68bu;
	seed ^= seed >> 16;
	if (seed == 0)
		seed = 0x9e3779b9u;
	b->opts     = o;
	b->rng      = seed;
	b->base_ms  = o.initial_ms;
	b->failures = 0;
}

uint32_t
backoff_next(backoff *b)
{
	double d = b->base_ms;

	if (b->opts.jitter > 0) {
		/* uniform in [-1, 1] */
		double u = (double) rng_next(&b->rng) / (double) UINT32_MAX;

		d += d * b->opts.jitter * (2 * u - 1);
	}
	b->base_ms *= b->opts.multiplier;
	if (b->base_ms > b->opts.max_ms)
		b->base_ms = b->opts.max_ms;
	b->failures++;
	return d < 1 ? 1 : (uint32_t) (d + 0.5);
}

void
backoff_reset(backoff *b)
{
	b->base_ms  = b->opts.initial_ms;
	b->failures = 0;
}

uint32_t
backoff_peek(const backoff *b)
{
	return (uint32_t) (b->base_ms + 0.5);
}
