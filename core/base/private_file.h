/*
 * Files that hold what a backend knows (its database and journals, its
 * log) belong to the daemon's user, whatever the umask it was started
 * with: created mode 0600, and an existing one that others may read is
 * narrowed to at most 0640 (the owner, and a group the operator chose).
 */
#ifndef FEDRPC_CORE_PRIVATE_FILE_H
#define FEDRPC_CORE_PRIVATE_FILE_H

#include <stdbool.h>
#include <sys/types.h>

/* The most a private file may allow: owner read/write, group read. */
#define FEDRPC_PRIVATE_FILE_MAX_MODE 0640

/* What happened to a file's mode; `was` is 0 for a file just created. */
typedef struct fedrpc_private_file {
	mode_t was;      /* its mode before (permission bits) */
	mode_t now;      /* its mode after */
	bool   narrowed; /* was more than FEDRPC_PRIVATE_FILE_MAX_MODE */
} fedrpc_private_file;

/*
 * Opens `path` with open(2) flags (O_CREAT added, O_CLOEXEC too); a new
 * file is made mode 0600, an existing one narrowed as above. Returns the
 * descriptor, or -1 with errno set (a mode that cannot be narrowed, as on
 * a file of another user, is not an error: `out->narrowed` stays false
 * and `out->now` shows what is left).
 */
int fedrpc_private_file_open(const char *path, int flags,
    fedrpc_private_file *out);

/*
 * Narrows an existing file as above; a missing one is fine. 0, or -1 with
 * errno set when it exists but cannot be opened.
 */
int fedrpc_private_file_narrow(const char *path, fedrpc_private_file *out);

#endif
