/*
 * The SQLite database's files are the daemon user's alone; see
 * db_private.c.
 */
#ifndef FEDRPC_SQLITE_DB_PRIVATE_H
#define FEDRPC_SQLITE_DB_PRIVATE_H

#include <fedrpc/status.h>

/* Call before SQLite first opens `path` (a file name; ":memory:" is left
 * alone). UNAVAILABLE, as for SQLite's own failure to open it, when the
 * database file cannot be opened or made. */
fedrpc_code sq_db_private(const char *path, fedrpc_status *st);

#endif
