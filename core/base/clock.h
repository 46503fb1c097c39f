/*
 * A monotonic millisecond clock for deadlines. Both sides measure time
 * left relative to their own clock, so no two machines need to agree.
 */
#ifndef FEDRPC_CORE_CLOCK_H
#define FEDRPC_CORE_CLOCK_H

#include <pthread.h>
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

/* Microseconds and nanoseconds on the same clock. */
static inline uint64_t
fedrpc_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static inline uint64_t
fedrpc_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A seed for a per-object random generator: never 0, differs per call
 * site (`salt`, e.g. the object's address) and per moment. */
static inline uint32_t
fedrpc_clock_seed(uintptr_t salt)
{
	struct timespec ts;
	uint32_t        x;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint32_t) ts.tv_nsec ^ (uint32_t) ts.tv_sec ^ (uint32_t) salt;
	return x != 0 ? x : 0x9e3779b9u;
}

/* The CLOCK_MONOTONIC time `ms` from now, for pthread_cond_timedwait() on
 * a condition variable made with fedrpc_clock_cond_init(). */
static inline void
fedrpc_clock_deadline(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* A condition variable whose timed waits use CLOCK_MONOTONIC. */
static inline void
fedrpc_clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

#endif
