/*
 * FNV-1a, 64 bits: the one string hash of the tree, for in-memory hash
 * tables (handlers by method, peers, limits, caches). Not for anything an
 * attacker could exploit through collisions beyond slowing a bucket: the
 * tables that hold peer-chosen keys are bounded.
 */
#ifndef FEDRPC_CORE_BASE_HASH_H
#define FEDRPC_CORE_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FEDRPC_HASH_INIT 0xcbf29ce484222325ull

/* Continues hash h over n bytes. */
static inline uint64_t
fedrpc_hash_bytes(uint64_t h, const void *data, size_t n)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Continues hash h over a NUL-terminated string (without the NUL). */
static inline uint64_t
fedrpc_hash_str(uint64_t h, const char *s)
{
	while (*s != '\0')
		h = (h ^ (uint8_t) *s++) * 0x100000001b3ull;
	return h;
}

#endif
