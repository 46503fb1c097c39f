/*
 * A monotonic millisecond clock for deadlines. Both sides measure time
 * left relative to their own clock, so no two machines need to agree.
 */
#ifndef FEDRPC_CORE_CLOCK_H
#define FEDRPC_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary point; never goes backwards. */
static inline uint64_t
fedrpc_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

#endif
