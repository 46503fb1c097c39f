/*
 * The web client's password file (the federator's web.passwords): one
 * line "handle uuid argon2id-hash" per user, read by the federator's web
 * gateway at every log-in. fedctl only ever writes hashes, never the
 * password itself.
 */
#ifndef FEDCTL_WEB_PASSWORD_H
#define FEDCTL_WEB_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <fedrpc/status.h>

/* Hashing cost: argon2id, 2 passes over 19 MiB, one lane (the lowest
 * OWASP recommends; the federator's stand-in hash uses the same). */
#define FEDCTL_ARGON2_T 2
#define FEDCTL_ARGON2_M_KIB 19456
#define FEDCTL_ARGON2_P 1

/*
 * Sets (replaces) handle's line in the password file at path, made mode
 * 0600 by a locked write to a temporary file, fsync and rename. The
 * password is wiped by the caller.
 */
fedrpc_code fedctl_web_password_set(const char *path, const char *handle,
    const char *uuid, const char *password, size_t len, fedrpc_status *st);

/*
 * Adds a one-time log-in token for handle, good for ttl_s seconds: a line
 * "handle uuid token:SHA256:EXPIRY" (only the token's SHA-256 is kept;
 * the federator removes the line when the token is used). The token (64
 * hex digits) into token.
 */
fedrpc_code fedctl_web_login_token_add(const char *path, const char *handle,
    const char *uuid, unsigned ttl_s, char token[65], fedrpc_status *st);

#endif
