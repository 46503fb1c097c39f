/*
 * The database holds users, clients, connections, conversations and
 * inboxes: only the daemon's user may read it, whatever the umask. SQLite
 * creates a new database file 0644 less the umask, and then gives its
 * -wal, -shm and -journal files the database file's own mode. So the file
 * is made here first, mode 0600 (core/private_file.h), and SQLite opens
 * it as the empty database it is; those files follow it. An existing
 * database (or journal left by a crash) more open than 0640 is narrowed,
 * and the log says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "core/base/private_file.h"
#include "backends/sqlite/db_private.h"

static void
tell(const char *path, const fedrpc_private_file *pf)
{
	if (pf->narrowed)
		FEDRPC_LOG_WARN("%s was mode %04o, readable by others: now "
				"%04o",
		    path, (unsigned) pf->was, (unsigned) pf->now);
	else if ((pf->now & ~(mode_t) FEDRPC_PRIVATE_FILE_MAX_MODE) != 0)
		FEDRPC_LOG_WARN("%s is mode %04o, readable by others, and "
				"cannot be changed by this user",
		    path, (unsigned) pf->now);
}

fedrpc_code
sq_db_private(const char *path, fedrpc_status *st)
{
	static const char *const sidecars[] = {"-wal", "-shm", "-journal"};
	fedrpc_private_file      pf;
	char                     side[4096];
	int                      fd;

	if (strcmp(path, ":memory:") == 0)
		return FEDRPC_OK;
	if ((fd = fedrpc_private_file_open(path, O_RDWR, &pf)) < 0)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "cannot open database %s: %s", path, strerror(errno));
	close(fd);
	tell(path, &pf);
	for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
		if ((size_t) snprintf(side, sizeof(side), "%s%s", path,
		        sidecars[i]) >= sizeof(side))
			continue;
		if (fedrpc_private_file_narrow(side, &pf) == 0)
			tell(side, &pf);
	}
	return FEDRPC_OK;
}
