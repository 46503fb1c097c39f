/*
 * The PostgreSQL store: the reference backend's storage when several
 * federator instances of one domain share one database. It implements the
 * whole store interface (backends/reference/store.h) on libpq with a pool
 * of connections that reconnect by themselves.
 */
#ifndef FEDRPC_BACKENDS_POSTGRESQL_POSTGRESQL_STORE_H
#define FEDRPC_BACKENDS_POSTGRESQL_POSTGRESQL_STORE_H

#include <stdbool.h>

#include <fedrpc/status.h>

#include "backends/reference/store.h"

/*
 * Opens the database named by the libpq connection string `conninfo`,
 * creating or migrating its schema. INVALID_ARGUMENT for a malformed
 * string, UNAVAILABLE when the database does not answer,
 * FAILED_PRECONDITION when its schema is newer than this build knows.
 */
fedrpc_code fedrpc_store_postgresql_open(const char *conninfo,
    fedrpc_store **out, fedrpc_status *st);

/*
 * Checks a connection string without opening a store: INVALID_ARGUMENT
 * naming what is wrong when libpq cannot parse it; with `connect`, also
 * whether the database answers (UNAVAILABLE with libpq's reason if not).
 */
fedrpc_code fedrpc_store_postgresql_check(const char *conninfo, bool connect,
    fedrpc_status *st);

#endif
