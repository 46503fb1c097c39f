/*
 * Private files (see private_file.h). The mode is given to open(2) rather
 * than set afterwards, so a new file is never readable by others, not
 * even for a moment; the umask can only take bits away from 0600. An
 * existing file is narrowed through its descriptor (fchmod), so a file
 * replaced under the same name in between is not the one changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/private_file.h"

/* Narrows the open file fd; records what it was and is. */
static void
narrow_fd(int fd, bool created, fedrpc_private_file *out)
{
	struct stat sb;
	mode_t      mode;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &sb) != 0)
		return;
	mode     = sb.st_mode & 07777;
	out->was = created ? 0 : mode;
	out->now = mode;
	if ((mode & ~(mode_t) FEDRPC_PRIVATE_FILE_MAX_MODE) == 0)
		return;
	if (fchmod(fd, mode & FEDRPC_PRIVATE_FILE_MAX_MODE) == 0) {
		out->now      = mode & FEDRPC_PRIVATE_FILE_MAX_MODE;
		out->narrowed = !created;
	}
}

int
fedrpc_private_file_open(const char *path, int flags,
    fedrpc_private_file *out)
{
	bool created = false;
	int  fd;

	/* Exclusive first, to tell a new file from an old one. */
	fd = open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		created = true;
	else if (errno == EEXIST)
		fd = open(path, (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	narrow_fd(fd, created, out);
	return fd;
}

int
fedrpc_private_file_narrow(const char *path, fedrpc_private_file *out)
{
	int fd;

	memset(out, 0, sizeof(*out));
	/* O_RDONLY is enough for fchmod; no O_CREAT: a missing file stays
	 * missing. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0)
		return errno == ENOENT ? 0 : -1;
	narrow_fd(fd, false, out);
	close(fd);
	return 0;
}
