/*
 * --check-config's look at the storage settings: a PostgreSQL connection
 * string libpq cannot parse is an error of the file, told before the
 * daemon tries it; with --check-database, also whether the database
 * answers (a SQLite file is opened only by the daemon, which makes it).
 */
#include <stdio.h>

#include "federator/federator.h"

#ifdef FEDRPC_HAVE_ADAPTERS
#include "backends/postgresql/postgresql_store.h"
#endif

int
federator_check_storage(const char *path, const fedrpc_config *cfg,
    bool connect)
{
	fedrpc_status st = {0};

	if (cfg->storage.adapter != FEDRPC_STORAGE_POSTGRESQL) {
		if (connect)
			fprintf(stderr,
			    "federator: %s: --check-database: storage.adapter "
			    "is \"%s\"; only a PostgreSQL database is "
			    "checked\n",
			    path, fedrpc_storage_adapter_name(cfg->storage.adapter));
		return 0;
	}
#ifdef FEDRPC_HAVE_ADAPTERS
	if (fedrpc_store_postgresql_check(cfg->storage.conninfo, connect, &st) !=
	    FEDRPC_OK) {
		fprintf(stderr, "federator: %s: storage: %s\n", path,
		    st.message);
		return 1;
	}
	if (connect)
		fprintf(stderr, "federator: %s: storage: the PostgreSQL "
		                "database answers\n",
		    path);
	return 0;
#else
	(void) st;
	fprintf(stderr,
	    "federator: %s: storage: built without storage adapters; "
	    "storage.conninfo is not checked\n",
	    path);
	return connect ? 1 : 0;
#endif
}
