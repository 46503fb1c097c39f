/*
 * Writing the web client's password file (web_password.h): the new line
 * is hashed with argon2id and a fresh random salt; the other users' lines
 * are kept as they are. A lock file keeps two fedctl runs from losing
 * each other's changes; the rename makes the federator see either the old
 * file or the new one, never half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <argon2.h>

#include "web_password.h"

static fedrpc_code
hash_password(const char *password, size_t len, char *out, size_t n,
    fedrpc_status *st)
{
	uint8_t salt[16];
	int     rv;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t) sizeof(salt))
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "no random bytes for the salt: %s", strerror(errno));
	rv = argon2id_hash_encoded(FEDCTL_ARGON2_T, FEDCTL_ARGON2_M_KIB,
	    FEDCTL_ARGON2_P, password, len, salt, sizeof(salt), 32, out, n);
	if (rv != ARGON2_OK)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "cannot hash the password: %s", argon2_error_message(rv));
	return FEDRPC_OK;
}

/* Copies the lines of old that are not handle's into out. */
static void
copy_others(FILE *old, FILE *out, const char *handle)
{
	char   line[1024];
	size_t hl = strlen(handle);

	while (old != NULL && fgets(line, sizeof(line), old) != NULL)
		if (!(strncmp(line, handle, hl) == 0 && line[hl] == ' '))
			fputs(line, out);
}

fedrpc_code
fedctl_web_password_set(const char *path, const char *handle,
    const char *uuid, const char *password, size_t len, fedrpc_status *st)
{
	char        hash[256], tmp[4200], lock[4200];
	FILE       *old, *out;
	int         lfd, fd;
	fedrpc_code code;

	if (strchr(handle, ' ') != NULL || strchr(handle, '\n') != NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "bad handle '%s'", handle);
	if ((code = hash_password(password, len, hash, sizeof(hash), st)) !=
	    FEDRPC_OK)
		return code;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(lfd, LOCK_EX) != 0) {
		code = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot lock %s: %s", lock, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return code;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	        0 ||
	    (out = fdopen(fd, "w")) == NULL) {
		code = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		close(lfd);
		return code;
	}
	old = fopen(path, "r");
	if (old == NULL && errno != ENOENT) {
		code = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot read %s: %s", path, strerror(errno));
		fclose(out);
		unlink(tmp);
		close(lfd);
		return code;
	}
	if (old == NULL)
		fputs("# fedrpc web client passwords: handle uuid argon2id-hash "
		      "(fedctl user password)\n", out);
	copy_others(old, out, handle);
	if (old != NULL)
		fclose(old);
	fprintf(out, "%s %s %s\n", handle, uuid, hash);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0 ||
	    rename(tmp, path) != 0) {
		code = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		close(lfd);
		return code;
	}
	close(lfd);
	return FEDRPC_OK;
}
