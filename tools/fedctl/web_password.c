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

#include <time.h>

#include <argon2.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

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

/* Copies the lines of old into out, but handle's when drop is set. */
static void
copy_others(FILE *old, FILE *out, const char *handle, bool drop)
{
	char   line[1024];
	size_t hl = strlen(handle);

	while (old != NULL && fgets(line, sizeof(line), old) != NULL)
		if (!drop || !(strncmp(line, handle, hl) == 0 && line[hl] == ' '))
			fputs(line, out);
}

/* Replaces (drop) or adds to handle's lines in the file: `line`. */
static fedrpc_code
rewrite(const char *path, const char *handle, const char *line, bool drop,
    fedrpc_status *st)
{
	char        tmp[4200], lock[4200];
	FILE       *old, *out;
	int         lfd, fd;
	fedrpc_code code;

	if (strchr(handle, ' ') != NULL || strchr(handle, '\n') != NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "bad handle '%s'", handle);
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
	copy_others(old, out, handle, drop);
	if (old != NULL)
		fclose(old);
	fputs(line, out);
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

fedrpc_code
fedctl_web_password_set(const char *path, const char *handle,
    const char *uuid, const char *password, size_t len, fedrpc_status *st)
{
	char        hash[256], line[1024];
	fedrpc_code code;

	if ((code = hash_password(password, len, hash, sizeof(hash), st)) !=
	    FEDRPC_OK)
		return code;
	/* A new password also revokes the log-in links not used yet. */
	snprintf(line, sizeof(line), "%s %s %s\n", handle, uuid, hash);
	return rewrite(path, handle, line, true, st);
}

fedrpc_code
fedctl_web_login_token_add(const char *path, const char *handle,
    const char *uuid, unsigned ttl_s, char token[65], fedrpc_status *st)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t           raw[32], digest[WC_SHA256_DIGEST_SIZE];
	char              dhex[2 * WC_SHA256_DIGEST_SIZE + 1], line[1024];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "no random bytes for the token: %s", strerror(errno));
	for (int i = 0; i < 32; i++) {
		token[2 * i]     = hex[raw[i] >> 4];
		token[2 * i + 1] = hex[raw[i] & 15];
	}
	token[64] = '\0';
	explicit_bzero(raw, sizeof(raw));
	if (wc_Sha256Hash((const byte *) token, 64, digest) != 0)
		return fedrpc_status_set(
		    st, FEDRPC_INTERNAL, "cannot hash the token");
	for (int i = 0; i < WC_SHA256_DIGEST_SIZE; i++) {
		dhex[2 * i]     = hex[digest[i] >> 4];
		dhex[2 * i + 1] = hex[digest[i] & 15];
	}
	dhex[2 * WC_SHA256_DIGEST_SIZE] = '\0';
	snprintf(line, sizeof(line), "%s %s token:%s:%lld\n", handle, uuid,
	    dhex, (long long) time(NULL) + ttl_s);
	return rewrite(path, handle, line, false, st);
}
