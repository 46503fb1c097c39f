/*
 * A real PostgreSQL server for tests: initdb and pg_ctl from Debian's
 * postgresql package, run as an unprivileged user (tests run as root,
 * and PostgreSQL refuses root), on a private socket folder and a free
 * port, listening on no TCP address, removed afterwards. Tests of the
 * PostgreSQL store skip (with the reason) only when the binaries are not
 * installed; scripts/install-deps.sh installs them.
 */
#ifndef FEDRPC_TESTS_POSTGRES_H
#define FEDRPC_TESTS_POSTGRES_H

#include <stdbool.h>

/* The user the server runs as when the tests run as root. */
#define TPG_USER "fedrpc-pg"
/* The folder of initdb and pg_ctl (FEDRPC_TEST_PG_BINDIR overrides). */
const char *tpg_bindir(void);
/* Whether initdb and pg_ctl are there; when not, *why says so. */
bool tpg_available(const char **why);

typedef struct tpg_server {
	char *dir;  /* everything of it: data/, sock/, log */
	int   port;
	char  conninfo[512]; /* of its "fedrpc" database */
} tpg_server;

/* Makes and starts a server with an empty database "fedrpc" (fsync off:
 * its data is scratch). NULL, with the reason on stderr, on failure. */
tpg_server *tpg_start(void);
/* Stops it (fast shutdown: connections are cut), keeping its data. */
bool tpg_stop(tpg_server *s);
/* Starts it again on the same data and port. */
bool tpg_restart(tpg_server *s);
/* Stops it at once and removes everything of it; NULL is fine. */
void tpg_destroy(tpg_server *s);

/* Runs SQL in the "fedrpc" database; false (reason on stderr) on error. */
bool tpg_exec(const tpg_server *s, const char *sql);
/* A connection string for a schema of its own in the "fedrpc" database
 * (made if missing): stores opened on it share data with each other and
 * nothing with other schemas. Malloc'd. */
char *tpg_schema_conninfo(const tpg_server *s, const char *schema);

#endif
