/*
 * The web gateway's sessions file (web.sessions): the open log-ins, so a
 * restart logs nobody out. A line holds nothing that logs in: the
 * SHA-256 of the cookie value, the user, the expiry (Unix seconds) and
 * the handle. Someone who can change the file could add a log-in, so it
 * must be a regular file of the daemon's user that nobody else may read
 * or write (0600), else the daemon refuses to start. A malformed line
 * costs only its own log-in: it is skipped with a warning naming file and
 * line, and the next write leaves it out. The file is replaced whole
 * (temp file, fsync, rename, fsync of the folder) at each change.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "federator/web/web.h"

#define HEADER                                                               \
	"# fedrpc web sessions (written by the federator): "                 \
	"sha256-of-cookie user-id expires handle\n"

static bool
all_of(const char *s, size_t len, const char *set)
{
	return strlen(s) == len && strspn(s, set) == len;
}

/* One line into rec; false with why when it is not four good fields. */
static bool
parse_line(char *line, web_session_rec *rec, const char **why)
{
	char   *save = NULL, *f[5];
	char   *end;
	int     n = 0;
	int64_t exp;

	for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL && n < 5;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = tok;
	if (n != 4) {
		*why = "not \"sha256 user-id expires handle\"";
		return false;
	}
	if (!all_of(f[0], 64, "0123456789abcdef")) {
		*why = "the digest is not 64 lower-case hex digits";
		return false;
	}
	if (!all_of(f[1], 36, "0123456789abcdef-")) {
		*why = "the user id is not a UUID";
		return false;
	}
	errno = 0;
	exp   = strtoll(f[2], &end, 10);
	if (errno != 0 || *end != '\0' || end == f[2] || exp <= 0) {
		*why = "the expiry is not a positive number of seconds";
		return false;
	}
	if (strlen(f[3]) >= sizeof(rec->handle)) {
		*why = "the handle is longer than 256 bytes";
		return false;
	}
	memcpy(rec->digest, f[0], 65);
	memcpy(rec->id, f[1], 37);
	memcpy(rec->handle, f[3], strlen(f[3]) + 1);
	rec->expires = exp;
	return true;
}

/* The file's kind, owner and mode; false with st saying what is wrong. */
static bool
file_ok(const char *path, int fd, fedrpc_status *st)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.sessions %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(sb.st_mode)) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.sessions %s: not a regular file", path);
		return false;
	}
	if (sb.st_uid != geteuid()) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.sessions %s: owned by uid %u, not by the federator's "
		    "user (uid %u)",
		    path, (unsigned) sb.st_uid, (unsigned) geteuid());
		return false;
	}
	if ((sb.st_mode & 077) != 0) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.sessions %s: mode %04o lets other users read or change "
		    "it (a changed line is a log-in); it must be 0600 "
		    "(chmod 600 %s)",
		    path, (unsigned) (sb.st_mode & 07777), path);
		return false;
	}
	return true;
}

fedrpc_code
web_session_file_load(const char *path, int64_t now,
    void (*take)(const web_session_rec *rec, void *arg), void *arg,
    size_t *dropped, fedrpc_status *st)
{
	int     fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE   *fp;
	char   *line = NULL;
	size_t  cap  = 0;
	int     lineno = 0;

	*dropped = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return FEDRPC_OK; /* nobody logged in yet */
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.sessions %s: cannot open: %s", path, strerror(errno));
	}
	if (!file_ok(path, fd, st)) {
		close(fd);
		return st->code;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "web.sessions %s: out of memory", path);
	}
	while (getline(&line, &cap, fp) >= 0) {
		web_session_rec rec;
		const char     *why;

		lineno++;
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (!parse_line(line, &rec, &why)) {
			FEDRPC_LOG_WARN("web.sessions %s:%d: line skipped: %s",
			    path, lineno, why);
			(*dropped)++;
		} else if (rec.expires <= now)
			(*dropped)++;
		else
			take(&rec, arg);
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	return FEDRPC_OK;
}

/* "path" with its last component replaced by "." when it has none. */
static void
folder_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int) (slash - path), path);
}

static bool
write_all(FILE *out, const web_session_rec *recs, size_t n)
{
	if (fputs(HEADER, out) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (fprintf(out, "%s %s %" PRId64 " %s\n", recs[i].digest,
		        recs[i].id, recs[i].expires, recs[i].handle) < 0)
			return false;
	return fflush(out) == 0 && fsync(fileno(out)) == 0;
}

bool
web_session_file_save(const char *path, const web_session_rec *recs,
    size_t n, char *why, size_t why_len)
{
	char  tmp[4200], dir[4200];
	int   fd, dfd;
	FILE *out;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd  = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	     0600);
	/* A temp file left over from before may have had another mode. */
	out = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
	if (out == NULL || !write_all(out, recs, n)) {
		snprintf(why, why_len, "cannot write %s: %s", tmp,
		    strerror(errno));
		if (out != NULL)
			fclose(out);
		else if (fd >= 0)
			close(fd);
		unlink(tmp);
		return false;
	}
	if (fclose(out) != 0 || rename(tmp, path) != 0) {
		snprintf(why, why_len, "cannot replace %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		return false;
	}
	/* The rename itself lasts once the folder is on disk. */
	folder_of(path, dir, sizeof(dir));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return true;
}
