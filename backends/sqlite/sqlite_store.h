/*
 * The SQLite store: the embedded default storage of the reference backend,
 * one database file (WAL, synchronous=FULL) shared by a small pool of
 * connections. Any number of stores may be open on one file, in one
 * process or several: SQLite serializes their writers.
 */
#ifndef FEDRPC_BACKENDS_SQLITE_SQLITE_STORE_H
#define FEDRPC_BACKENDS_SQLITE_SQLITE_STORE_H

#include <fedrpc/status.h>

#include "backends/reference/store.h"

/*
 * Opens the database at `path` (":memory:" for a private in-memory one),
 * creating it and bringing its schema up to date. FAILED_PRECONDITION when
 * its schema is newer than this build knows.
 */
fedrpc_code fedrpc_store_sqlite_open(const char *path, fedrpc_store **out,
    fedrpc_status *st);

#endif
