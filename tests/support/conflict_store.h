/*
 * A store that loses every transaction's first commit to another writer:
 * the SQLite store underneath, except that each thread's first commit
 * attempt rolls back and reports FEDRPC_STORE_CONFLICT, and its next one
 * (the retry) goes through. Running a backend over it checks that every
 * transaction function can run twice and answer as if it ran once.
 */
#ifndef FEDRPC_TESTS_CONFLICT_STORE_H
#define FEDRPC_TESTS_CONFLICT_STORE_H

#include <stdint.h>

#include <fedrpc/status.h>

#include "backends/reference/store.h"

/* A fedrpc_store_open_fn: `config` is the SQLite database path. */
fedrpc_code conflict_store_open(const char *config, fedrpc_store **out,
    fedrpc_status *st);

/* Conflicts reported so far, by every conflict store of the process. */
uint64_t conflict_store_injected(void);

#endif
