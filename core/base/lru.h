/*
 * The one intrusive LRU list of the tree, for bounded caches (dedup
 * replies, origin decisions, per-peer limits). An entry type has the fields
 * `lprev` and `lnext` (pointers to its own type); the cache that holds the
 * list has `oldest` and `newest`. Macros rather than functions so that
 * every cache keeps its own types: no casts, no container_of.
 */
#ifndef FEDRPC_CORE_BASE_LRU_H
#define FEDRPC_CORE_BASE_LRU_H

#include <stddef.h>

/* Takes entry e out of the list of cache c. */
#define FEDRPC_LRU_UNLINK(c, e)                                               \
	do {                                                                  \
		if ((e)->lprev != NULL)                                       \
			(e)->lprev->lnext = (e)->lnext;                       \
		else                                                          \
			(c)->oldest = (e)->lnext;                             \
		if ((e)->lnext != NULL)                                       \
			(e)->lnext->lprev = (e)->lprev;                       \
		else                                                          \
			(c)->newest = (e)->lprev;                             \
		(e)->lprev = (e)->lnext = NULL;                               \
	} while (0)

/* Puts entry e (not in the list) at the newest end. */
#define FEDRPC_LRU_APPEND(c, e)                                               \
	do {                                                                  \
		(e)->lnext = NULL;                                            \
		(e)->lprev = (c)->newest;                                     \
		if ((c)->newest != NULL)                                      \
			(c)->newest->lnext = (e);                             \
		else                                                          \
			(c)->oldest = (e);                                    \
		(c)->newest = (e);                                            \
	} while (0)

#endif
