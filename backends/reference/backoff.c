/*
 * The pure rules of delivery: its defaults, the pause after failed
 * attempts (full jitter, as AWS's "Exponential Backoff And Jitter" names
 * it: a uniform pause up to an exponentially growing cap, so that senders
 * that failed together do not come back together), and which answers are
 * refusals for good rather than failures worth another attempt.
 */
#include "backends/reference/delivery.h"

#define DEFAULT_BACKOFF_INITIAL_MS 10u
#define DEFAULT_BACKOFF_MAX_MS 300000u
#define DEFAULT_EXPIRY_S (30u * 24 * 3600)
#define DEFAULT_WAIT_MS 3000u
#define DEFAULT_WORKERS 4u
#define DEFAULT_LEASE_MS 30000u

void
ref_delivery_defaults(fedrpc_adapter_delivery *o)
{
	if (o->backoff_initial_ms == 0)
		o->backoff_initial_ms = DEFAULT_BACKOFF_INITIAL_MS;
	if (o->backoff_max_ms == 0)
		o->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	if (o->backoff_max_ms < o->backoff_initial_ms)
		o->backoff_max_ms = o->backoff_initial_ms;
	if (o->expiry_s == 0)
		o->expiry_s = DEFAULT_EXPIRY_S;
	if (o->wait_ms == 0)
		o->wait_ms = DEFAULT_WAIT_MS;
	if (o->workers == 0)
		o->workers = DEFAULT_WORKERS;
	if (o->lease_ms == 0)
		o->lease_ms = DEFAULT_LEASE_MS;
}

uint64_t
ref_backoff_ms(uint32_t initial_ms, uint32_t max_ms, uint32_t failures,
    uint64_t random)
{
	uint64_t cap = initial_ms;

	/* Doubling stops at the cap, long before it could overflow. */
	for (uint32_t i = 1; i < failures && cap < max_ms; i++)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	return random % (cap + 1);
}

bool
ref_code_permanent(fedrpc_code code)
{
	switch (code) {
	case FEDRPC_INVALID_ARGUMENT:
	case FEDRPC_PERMISSION_DENIED:
	case FEDRPC_NOT_FOUND:
	case FEDRPC_ALREADY_EXISTS:
	case FEDRPC_FAILED_PRECONDITION:
	case FEDRPC_OUT_OF_RANGE:
	case FEDRPC_UNIMPLEMENTED:
		return true;
	default:
		return false;
	}
}
