/*
 * RFC 2782 target selection: the order in which to try a domain's SRV
 * targets. Lower priority first; within one priority, targets are drawn
 * one by one with a chance proportional to their weight, so over many
 * connection sequences each target gets its weight's share of first tries.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <fedrpc/discovery.h>

#include "core/base/clock.h"

/* xorshift32: small, fast, and good enough to spread load. Not for keys. */
static uint32_t
rng_next(uint32_t *s)
{
	uint32_t x = *s;

	if (x == 0)
		x = fedrpc_clock_seed((uintptr_t) s);
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Uniform in [0, n) for n > 0 (multiply-shift; the bias is negligible). */
static uint32_t
rng_below(uint32_t *s, uint32_t n)
{
	return (uint32_t) (((uint64_t) rng_next(s) * n) >> 32);
}

static bool
target_usable(const fedrpc_srv_target *t)
{
	/* "." means "decidedly not available at this domain" (RFC 2782). */
	return t->host != NULL && strcmp(t->host, ".") != 0 &&
	    t->host[0] != '\0' && t->n_addrs > 0;
}

static void
swap(size_t *v, size_t i, size_t j)
{
	size_t t = v[i];

	v[i] = v[j];
	v[j] = t;
}

/*
 * Orders v[0..n) (all one priority) in place. Draw a number below the sum
 * of the remaining weights and take the first target whose running sum
 * exceeds it, as RFC 2782 describes; weight 0 targets never win a draw, so
 * they end up last, and are then shuffled among themselves.
 */
static void
order_group(const fedrpc_srv_target *t, size_t *v, size_t n, uint32_t *rng)
{
	uint64_t sum = 0;
	size_t   pos = 0;

	for (size_t i = 0; i < n; i++)
		sum += t[v[i]].weight;
	while (sum > 0 && pos < n) {
		uint32_t pick = rng_below(rng, (uint32_t) sum);
		uint64_t run  = 0;

		for (size_t i = pos; i < n; i++) {
			run += t[v[i]].weight;
			if (run > pick) {
				swap(v, pos, i);
				break;
			}
		}
		sum -= t[v[pos]].weight;
		pos++;
	}
	/* Fisher-Yates over what is left: the weight 0 targets. */
	for (size_t i = n - pos; i > 1; i--)
		swap(v, pos + i - 1, pos + rng_below(rng, (uint32_t) i));
}

size_t
fedrpc_srv_order(
    const fedrpc_srv_answer *a, uint32_t *rng_state, size_t *order_out)
{
	uint32_t local = 0;
	size_t   n     = 0;

	if (a == NULL || order_out == NULL)
		return 0;
	if (rng_state == NULL)
		rng_state = &local;
	for (size_t i = 0; i < a->n_targets; i++)
		if (target_usable(&a->targets[i]))
			order_out[n++] = i;

	/* Stable insertion sort by priority: answers hold a handful. */
	for (size_t i = 1; i < n; i++) {
		size_t v = order_out[i], j = i;

		while (j > 0 &&
		    a->targets[order_out[j - 1]].priority >
		        a->targets[v].priority) {
			order_out[j] = order_out[j - 1];
			j--;
		}
		order_out[j] = v;
	}
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;

		while (e < n &&
		    a->targets[order_out[e]].priority ==
		        a->targets[order_out[s]].priority)
			e++;
		order_group(a->targets, order_out + s, e - s, rng_state);
		s = e;
	}
	return n;
}
