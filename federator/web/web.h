/*
 * The web client's gateway: an HTTP(S) server inside the federator that
 * serves the page (static files) and a small JSON API mapped onto the
 * local API, each call made as the logged-in user only. It is off unless
 * web.listen is set; plain HTTP only on loopback, TLS with its own
 * certificate elsewhere (docs/web.md). The parts: web_gateway.c (the
 * server, its worker threads and routing), web_auth.c (passwords, log-in
 * sessions, CSRF tokens, the rate limit), web_session_file.c (the open
 * log-ins kept across restarts), web_json.c (protobuf messages
 * to and from JSON), web_api.c (which local API calls the page may make,
 * and as whom), web_static.c (the page's files and the headers they carry).
 */
#ifndef FEDRPC_FEDERATOR_WEB_H
#define FEDRPC_FEDERATOR_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <fedrpc/channel.h>
#include <fedrpc/config.h>
#include <fedrpc/status.h>

#include "fedrpc/federation/v1/common.pb-c.h"

typedef struct web_gateway web_gateway;

/* Starts the gateway of cfg (NULL *out when web.listen is unset), calling
 * the local API at ipc_path. cfg is borrowed for the gateway's life. */
fedrpc_code web_gateway_open(web_gateway **out, const fedrpc_config *cfg,
    const char *ipc_path, fedrpc_status *st);
/* Stops serving, finishes the requests taken, frees. NULL is fine. */
void web_gateway_close(web_gateway *gw);

/* ---- an answer being built (web_gateway.c) ---- */
typedef struct web_reply {
	uint16_t    status;       /* HTTP status */
	const char *content_type; /* static string */
	char       *body;         /* owned */
	size_t      len;
	char        set_cookie[256]; /* "" : none */
	bool        no_store;        /* Cache-Control: no-store */
} web_reply;

/* A JSON answer (takes j). */
void web_reply_json(web_reply *r, uint16_t status, json_t *j);
/* {"error": "..."} with status. */
void web_reply_error(web_reply *r, uint16_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- log-in (web_auth.c) ---- */
typedef struct web_auth web_auth;

/* Who a session is: the user's qualified id and handle. */
typedef struct web_who {
	char id[37];
	char domain[256];
	char handle[257];
	char csrf[65];
} web_who;

fedrpc_code web_auth_new(web_auth **out, const fedrpc_config *cfg,
    fedrpc_status *st);
void        web_auth_free(web_auth *a);
/*
 * Checks handle's password against the password file. 0: good, *uuid
 * holds the user id the file names; 401 wrong handle or password; 429
 * too many wrong ones lately (*retry_s says when to try again); 500 the
 * file could not be read (why says what).
 */
int web_auth_check_password(web_auth *a, const char *handle,
    const char *password, char uuid[37], unsigned *retry_s, char *why,
    size_t why_len);
/* The same for a one-time log-in link's token, which is then spent. */
int web_auth_check_token(web_auth *a, const char *handle, const char *token,
    char uuid[37], unsigned *retry_s, char *why, size_t why_len);
/*
 * A new session for who, saved to web.sessions before this returns; its
 * cookie value into cookie (65 bytes) and its CSRF token into who->csrf.
 * 0: done; 503 out of room; 500 the file could not be written (why says
 * so; the session is not opened).
 */
int web_auth_session_new(web_auth *a, web_who *who, char cookie[65],
    char *why, size_t why_len);
/* The session of a Cookie header, if any and not expired (an expired one
 * found is removed, from the file too). */
bool web_auth_session_get(web_auth *a, const char *cookie_header,
    web_who *out);
/* Ends the session of a Cookie header, in the file too; false with why
 * when the file could not be rewritten (it is ended here all the same). */
bool web_auth_session_end(web_auth *a, const char *cookie_header, char *why,
    size_t why_len);
/* Constant-time comparison of two NUL-terminated tokens. */
bool web_auth_token_eq(const char *a, const char *b);

/* ---- the sessions file (web_session_file.c) ---- */
/* A session as the file keeps it: nothing that logs in. */
typedef struct web_session_rec {
	char    digest[65]; /* SHA-256 of the cookie value, hex */
	char    id[37];     /* the user */
	char    handle[257];
	int64_t expires; /* Unix seconds */
} web_session_rec;

/*
 * Reads path (missing: no sessions), calling take for every line that has
 * not expired at now (Unix seconds); *dropped counts the expired and the
 * malformed lines (each of those logged with file and line). Fails, st
 * naming the file and what is wrong, when it is not a regular file of
 * this user with mode 0600 or cannot be read.
 */
fedrpc_code web_session_file_load(const char *path, int64_t now,
    void (*take)(const web_session_rec *rec, void *arg), void *arg,
    size_t *dropped, fedrpc_status *st);
/* Replaces path by the n recs (temp file, fsync, rename); false with why. */
bool web_session_file_save(const char *path, const web_session_rec *recs,
    size_t n, char *why, size_t why_len);

/* ---- protobuf and JSON (web_json.c) ---- */
/* A message as a JSON object: uint64 as decimal strings, bytes as
 * base64, enums by name; NULL when out of memory. */
json_t *web_json_from_pb(const ProtobufCMessage *m);
/* A message of desc from a JSON object; NULL with why (naming the field)
 * when the JSON does not fit. Free with protobuf_c_message_free_unpacked. */
ProtobufCMessage *web_json_to_pb(const ProtobufCMessageDescriptor *desc,
    const json_t *j, char *why, size_t why_len);

/* ---- the API (web_api.c) ---- */
/* POST /api/call/<Service>/<Method>: body JSON in, JSON out, as who. */
void web_api_call(fedrpc_channel *ch, const web_who *who, const char *name,
    const char *body, size_t len, web_reply *r);

/* ---- the page's files (web_static.c) ---- */
/* GET of path below root: the file with its type, or 404. */
void web_static_get(const char *root, const char *path, web_reply *r);

#endif
