/*
 * Log-in for the web gateway. Passwords live only as argon2id hashes in
 * the password file (web.passwords, written by `fedctl user password`,
 * read on every log-in so that a change needs no reload). A good password
 * opens a session: a random 256-bit cookie value, of which only the
 * SHA-256 is kept, with its user and its expiry, in memory and in the
 * sessions file (web.sessions, web_session_file.c), so a restart logs
 * nobody out. Its CSRF token, which every state-changing request must
 * carry, is an HMAC of the fixed text "fedrpc web csrf" under the cookie
 * value: it needs no storing, and neither the file nor the token gives
 * the cookie away. The file is rewritten whole at each log-in, log-out
 * and expiry seen (at most MAX_SESSIONS lines of ~400 bytes: 1.6 MB at
 * worst), outside the table's lock: the request that changed the table
 * waits for the write, others only for the copy of the table. Wrong
 * passwords are counted per handle: beyond web.login_failures in a minute
 * the handle is refused without looking at the password until the minute
 * is over. Unknown
 * handles cost the same hash as known ones, so timing does not tell them
 * apart. A one-time log-in link (`fedctl user login-link`) is a line of
 * the same file holding the token's SHA-256 and its expiry; using it
 * removes the line, under the lock fedctl takes to write the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "federator/web/web.h"

#define MAX_SESSIONS 4096
#define MAX_THROTTLED 1024
#define WINDOW_MS 60000u
#define COOKIE_NAME "fedrpc_session="

typedef struct session {
	char     digest[65]; /* SHA-256 of the cookie value; "" : free slot */
	uint64_t expires_ms; /* on fedrpc_clock_ms() */
	int64_t  expires;    /* the same in Unix seconds, as the file has it */
	web_who  who;        /* csrf empty: it is derived from the cookie */
} session;

typedef struct throttle {
	char     handle[257]; /* "" : free slot */
	uint64_t since_ms;    /* first failure of the window */
	unsigned failures;
} throttle;

struct web_auth {
	const fedrpc_config *cfg;
	pthread_mutex_t      mtx;
	session             *sessions; /* MAX_SESSIONS, under mtx */
	uint64_t             changes;  /* of sessions, under mtx */
	/* Held while the file is written (taken before mtx, never after):
	 * one write at a time, each of the table as it is then. */
	pthread_mutex_t      file_mtx;
	uint64_t             saved; /* changes the file holds, under file_mtx */
	throttle            *throttled; /* MAX_THROTTLED */
	char                 dummy[128]; /* a hash to check unknown handles against */
};

static uint64_t
now_ms(void)
{
	return fedrpc_clock_ms();
}

/* 32 bytes (a token, a SHA-256) as 64 lower-case hex digits. */
static void
hex32(const uint8_t b[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i]     = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[64] = '\0';
}

/* 32 random bytes as 64 hex digits. */
static bool
random_token(char out[65])
{
	uint8_t b[32];

	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
		return false;
	hex32(b, out);
	explicit_bzero(b, sizeof(b));
	return true;
}

static void
sha256_hex(const char *s, char out[65])
{
	uint8_t d[WC_SHA256_DIGEST_SIZE] = {0};

	wc_Sha256Hash((const byte *) s, (word32) strlen(s), d);
	hex32(d, out);
}

static fedrpc_code sessions_load(web_auth *a, fedrpc_status *st);

bool
web_auth_token_eq(const char *a, const char *b)
{
	size_t  na = strlen(a), nb = strlen(b);
	uint8_t acc = na != nb;

	for (size_t i = 0; i < na && i < nb; i++)
		acc |= (uint8_t) (a[i] ^ b[i]);
	return acc == 0 && na > 0;
}

fedrpc_code
web_auth_new(web_auth **out, const fedrpc_config *cfg, fedrpc_status *st)
{
	web_auth *a = calloc(1, sizeof(*a));
	uint8_t   salt[16];
	char      pw[65];

	*out = NULL;
	if (a == NULL ||
	    (a->sessions = calloc(MAX_SESSIONS, sizeof(session))) == NULL ||
	    (a->throttled = calloc(MAX_THROTTLED, sizeof(throttle))) == NULL) {
		web_auth_free(a);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "web: out of memory");
	}
	a->cfg = cfg;
	pthread_mutex_init(&a->mtx, NULL);
	pthread_mutex_init(&a->file_mtx, NULL);
	/* The same cost as fedctl's hashes (tools/fedctl/web_password.c). */
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t) sizeof(salt) ||
	    !random_token(pw) ||
	    argon2id_hash_encoded(2, 19456, 1, pw, strlen(pw), salt,
	        sizeof(salt), 32, a->dummy, sizeof(a->dummy)) != ARGON2_OK) {
		web_auth_free(a);
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "web: cannot make the stand-in password hash");
	}
	if (sessions_load(a, st) != FEDRPC_OK) {
		web_auth_free(a);
		return st->code;
	}
	*out = a;
	return FEDRPC_OK;
}

void
web_auth_free(web_auth *a)
{
	if (a == NULL)
		return;
	if (a->sessions != NULL) {
		explicit_bzero(a->sessions, MAX_SESSIONS * sizeof(session));
		free(a->sessions);
		pthread_mutex_destroy(&a->mtx);
		pthread_mutex_destroy(&a->file_mtx);
	}
	free(a->throttled);
	free(a);
}

/* ---- the rate limit ---- */

/* The handle's entry, made if new (the oldest replaced when full). */
static throttle *
throttle_of(web_auth *a, const char *handle, uint64_t now)
{
	throttle *oldest = &a->throttled[0], *free_slot = NULL;

	for (size_t i = 0; i < MAX_THROTTLED; i++) {
		throttle *t = &a->throttled[i];

		if (t->handle[0] != '\0' && now - t->since_ms >= WINDOW_MS)
			t->handle[0] = '\0';
		if (t->handle[0] == '\0') {
			if (free_slot == NULL)
				free_slot = t;
			continue;
		}
		if (strcmp(t->handle, handle) == 0)
			return t;
		if (t->since_ms < oldest->since_ms)
			oldest = t;
	}
	if (free_slot == NULL)
		free_slot = oldest;
	snprintf(free_slot->handle, sizeof(free_slot->handle), "%s", handle);
	free_slot->since_ms = now;
	free_slot->failures = 0;
	return free_slot;
}

/* Whether handle may try now; *retry_s when not. */
static bool
throttle_allows(web_auth *a, const char *handle, unsigned *retry_s)
{
	uint64_t  now = now_ms();
	throttle *t;
	bool      ok;

	pthread_mutex_lock(&a->mtx);
	t  = throttle_of(a, handle, now);
	ok = t->failures < a->cfg->web.login_failures;
	if (!ok)
		*retry_s = (unsigned) ((WINDOW_MS - (now - t->since_ms)) / 1000 + 1);
	pthread_mutex_unlock(&a->mtx);
	return ok;
}

static void
throttle_fail(web_auth *a, const char *handle)
{
	pthread_mutex_lock(&a->mtx);
	throttle_of(a, handle, now_ms())->failures++;
	pthread_mutex_unlock(&a->mtx);
}

/* ---- the password file ---- */

/*
 * The line of handle in the password file: "handle uuid hash". 1 found,
 * 0 not there, -1 the file cannot be read (why says so).
 */
static int
password_line(const char *path, const char *handle, char uuid[37],
    char *hash, size_t hash_len, char *why, size_t why_len)
{
	FILE *fp = fopen(path, "r");
	char  line[1024];
	int   found = 0, lineno = 0;

	if (fp == NULL) {
		if (errno == ENOENT)
			return 0; /* nobody has a password yet */
		snprintf(why, why_len, "cannot read the password file %s: %s",
		    path, strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		char h[257], u[64], x[512];

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%256s %63s %511s", h, u, x) != 3 ||
		    strlen(u) != 36) {
			snprintf(why, why_len, "%s:%d: not \"handle uuid hash\"",
			    path, lineno);
			found = -1;
			break;
		}
		if (strcmp(h, handle) == 0 && strncmp(x, "token:", 6) != 0) {
			memcpy(uuid, u, 37);
			snprintf(hash, hash_len, "%s", x);
			found = 1;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return found;
}

int
web_auth_check_password(web_auth *a, const char *handle,
    const char *password, char uuid[37], unsigned *retry_s, char *why,
    size_t why_len)
{
	char hash[512];
	int  found, ok;

	if (!throttle_allows(a, handle, retry_s)) {
		snprintf(why, why_len,
		    "too many wrong passwords for %s; try again in %u s", handle,
		    *retry_s);
		return 429;
	}
	found = password_line(a->cfg->web.passwords, handle, uuid, hash,
	    sizeof(hash), why, why_len);
	if (found < 0)
		return 500;
	ok = argon2id_verify(found ? hash : a->dummy, password,
	         strlen(password)) == ARGON2_OK;
	explicit_bzero(hash, sizeof(hash));
	if (found && ok)
		return 0;
	throttle_fail(a, handle);
	snprintf(why, why_len, "wrong user or password");
	return 401;
}

/* ---- sessions ---- */

/* The CSRF token of a cookie value: HMAC-SHA256 under the cookie value of
 * a fixed text, as hex (65 bytes). */
static bool
csrf_of(const char *cookie, char out[65])
{
	static const char text[] = "fedrpc web csrf";
	uint8_t           d[WC_SHA256_DIGEST_SIZE];
	Hmac              h;
	bool              ok;

	out[0] = '\0';
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return false;
	ok = wc_HmacSetKey(&h, WC_SHA256, (const byte *) cookie,
	         (word32) strlen(cookie)) == 0 &&
	    wc_HmacUpdate(&h, (const byte *) text, sizeof(text) - 1) == 0 &&
	    wc_HmacFinal(&h, d) == 0;
	wc_HmacFree(&h);
	explicit_bzero(&h, sizeof(h));
	if (ok)
		hex32(d, out);
	explicit_bzero(d, sizeof(d));
	return ok;
}

/* Frees the expired sessions (under mtx); whether there were any. */
static bool
sessions_sweep(web_auth *a, uint64_t now)
{
	bool any = false;

	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		session *s = &a->sessions[i];

		if (s->digest[0] != '\0' && s->expires_ms <= now) {
			explicit_bzero(s, sizeof(*s));
			any = true;
		}
	}
	return any;
}

/* The live sessions as the file keeps them (under mtx); NULL when out of
 * memory. */
static web_session_rec *
sessions_records(web_auth *a, size_t *n)
{
	web_session_rec *recs;
	size_t           live = 0;

	for (size_t i = 0; i < MAX_SESSIONS; i++)
		live += a->sessions[i].digest[0] != '\0';
	recs = malloc((live > 0 ? live : 1) * sizeof(*recs));
	*n   = 0;
	for (size_t i = 0; recs != NULL && i < MAX_SESSIONS; i++) {
		const session   *s = &a->sessions[i];
		web_session_rec *r = &recs[*n];

		if (s->digest[0] == '\0')
			continue;
		memcpy(r->digest, s->digest, sizeof(r->digest));
		memcpy(r->id, s->who.id, sizeof(r->id));
		memcpy(r->handle, s->who.handle, sizeof(r->handle));
		r->expires = s->expires;
		(*n)++;
	}
	return recs;
}

/*
 * Writes the table to web.sessions unless the file holds it already (a
 * write that waited for another may find its change written by it);
 * false with why. Holds file_mtx throughout and mtx only for the copy.
 */
static bool
sessions_save(web_auth *a, char *why, size_t why_len)
{
	const char      *path = a->cfg->web.sessions;
	web_session_rec *recs;
	uint64_t         changes;
	size_t           n;
	bool             ok;

	if (path == NULL)
		return true; /* a configuration made in code: memory only */
	pthread_mutex_lock(&a->file_mtx);
	pthread_mutex_lock(&a->mtx);
	if (sessions_sweep(a, now_ms()))
		a->changes++;
	changes = a->changes;
	recs    = changes != a->saved ? sessions_records(a, &n) : NULL;
	pthread_mutex_unlock(&a->mtx);
	if (changes == a->saved)
		ok = true;
	else if (recs == NULL) {
		snprintf(why, why_len, "cannot write %s: out of memory", path);
		ok = false;
	} else
		ok = web_session_file_save(path, recs, n, why, why_len);
	if (ok)
		a->saved = changes;
	pthread_mutex_unlock(&a->file_mtx);
	free(recs);
	return ok;
}

typedef struct load_ctx {
	web_auth *a;
	size_t    n;     /* sessions taken */
	size_t    over;  /* beyond MAX_SESSIONS, dropped */
	size_t    capped; /* expiring later than web.session_ttl from now */
	int64_t   now;   /* Unix seconds */
	uint64_t  now_ms;
} load_ctx;

static void
session_take(const web_session_rec *rec, void *arg)
{
	load_ctx *c = arg;
	int64_t   last = c->now + (int64_t) c->a->cfg->web.session_ttl;
	session  *s;

	if (c->n == MAX_SESSIONS) {
		c->over++;
		return;
	}
	s = &c->a->sessions[c->n++];
	/* web.session_ttl may have been shortened since. */
	s->expires = rec->expires < last ? rec->expires : last;
	if (s->expires != rec->expires)
		c->capped++;
	s->expires_ms = c->now_ms + (uint64_t) (s->expires - c->now) * 1000;
	memcpy(s->digest, rec->digest, sizeof(s->digest));
	memcpy(s->who.id, rec->id, sizeof(s->who.id));
	memcpy(s->who.handle, rec->handle, sizeof(s->who.handle));
	snprintf(s->who.domain, sizeof(s->who.domain), "%s",
	    c->a->cfg->domain != NULL ? c->a->cfg->domain : "");
}

/* The sessions of web.sessions; what was dropped is written away at once. */
static fedrpc_code
sessions_load(web_auth *a, fedrpc_status *st)
{
	const char *path = a->cfg->web.sessions;
	load_ctx    c    = {.a = a, .now = (int64_t) time(NULL),
	            .now_ms = now_ms()};
	size_t      dropped;
	char        why[512];

	if (path == NULL)
		return FEDRPC_OK;
	if (web_session_file_load(path, c.now, session_take, &c, &dropped, st) !=
	    FEDRPC_OK)
		return st->code;
	if (c.over > 0)
		FEDRPC_LOG_WARN("web.sessions %s: %zu sessions beyond the %d "
				"kept were dropped",
		    path, c.over, MAX_SESSIONS);
	if (dropped + c.over + c.capped > 0) {
		a->changes++;
		if (!sessions_save(a, why, sizeof(why)))
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "web.sessions: %s", why);
	}
	if (c.n > 0)
		FEDRPC_LOG_INFO("web: log-ins kept from %s: %zu", path, c.n);
	return FEDRPC_OK;
}

int
web_auth_session_new(web_auth *a, web_who *who, char cookie[65], char *why,
    size_t why_len)
{
	uint64_t now = now_ms();
	session *slot = NULL;
	char     digest[65];

	if (!random_token(cookie) || !csrf_of(cookie, who->csrf)) {
		snprintf(why, why_len, "cannot make a cookie value");
		return 500;
	}
	sha256_hex(cookie, digest);
	pthread_mutex_lock(&a->mtx);
	for (size_t i = 0; i < MAX_SESSIONS && slot == NULL; i++) {
		session *s = &a->sessions[i];

		if (s->digest[0] == '\0' || s->expires_ms <= now)
			slot = s;
	}
	if (slot != NULL) {
		memcpy(slot->digest, digest, 65);
		slot->expires_ms = now + (uint64_t) a->cfg->web.session_ttl * 1000;
		slot->expires = (int64_t) time(NULL) + a->cfg->web.session_ttl;
		slot->who     = *who;
		slot->who.csrf[0] = '\0';
		a->changes++;
	}
	pthread_mutex_unlock(&a->mtx);
	if (slot == NULL) {
		snprintf(why, why_len, "too many sessions open");
		return 503;
	}
	if (sessions_save(a, why, why_len))
		return 0;
	/* A session the file does not hold would end at the next restart. */
	pthread_mutex_lock(&a->mtx);
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (strcmp(a->sessions[i].digest, digest) == 0) {
			explicit_bzero(&a->sessions[i], sizeof(session));
			a->changes++;
		}
	pthread_mutex_unlock(&a->mtx);
	return 500;
}

/* The cookie's value in a Cookie header into out (65 bytes). */
static bool
cookie_value(const char *header, char out[65])
{
	const char *p = header;

	while (p != NULL && (p = strstr(p, COOKIE_NAME)) != NULL) {
		if (p == header || p[-1] == ' ' || p[-1] == ';') {
			p += strlen(COOKIE_NAME);
			if (strspn(p, "0123456789abcdef") != 64)
				return false;
			memcpy(out, p, 64);
			out[64] = '\0';
			return true;
		}
		p++;
	}
	return false;
}

bool
web_auth_session_get(web_auth *a, const char *cookie_header, web_who *out)
{
	char     token[65], digest[65], why[512];
	uint64_t now = now_ms();
	bool     found = false, expired = false;

	if (cookie_header == NULL || !cookie_value(cookie_header, token))
		return false;
	sha256_hex(token, digest);
	pthread_mutex_lock(&a->mtx);
	for (size_t i = 0; i < MAX_SESSIONS && !found && !expired; i++) {
		session *s = &a->sessions[i];

		if (s->digest[0] == '\0' || !web_auth_token_eq(s->digest, digest))
			continue;
		if (s->expires_ms > now) {
			*out  = s->who;
			found = true;
		} else {
			explicit_bzero(s, sizeof(*s));
			a->changes++;
			expired = true;
		}
	}
	pthread_mutex_unlock(&a->mtx);
	if (expired && !sessions_save(a, why, sizeof(why)))
		FEDRPC_LOG_ERROR("web: an expired session stays in the file: %s",
		    why);
	if (found && !csrf_of(token, out->csrf))
		found = false;
	explicit_bzero(token, sizeof(token));
	return found;
}

bool
web_auth_session_end(web_auth *a, const char *cookie_header, char *why,
    size_t why_len)
{
	char token[65], digest[65];
	bool ended = false;

	if (cookie_header == NULL || !cookie_value(cookie_header, token))
		return true;
	sha256_hex(token, digest);
	explicit_bzero(token, sizeof(token));
	pthread_mutex_lock(&a->mtx);
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		session *s = &a->sessions[i];

		if (s->digest[0] != '\0' && web_auth_token_eq(s->digest, digest)) {
			explicit_bzero(s, sizeof(*s));
			ended = true;
		}
	}
	if (ended)
		a->changes++;
	pthread_mutex_unlock(&a->mtx);
	return !ended || sessions_save(a, why, why_len);
}

/* ---- one-time log-in links ---- */

/*
 * Copies the password file to its .tmp without token lines that are
 * expired or are handle's with digest want; 1 when that one was there
 * (its uuid into uuid), 0 not, -1 on a file error.
 */
static int
take_token(FILE *in, FILE *out, const char *handle, const char *want,
    char uuid[37])
{
	char line[1024];
	long now = (long) time(NULL);
	int  found = 0;

	while (fgets(line, sizeof(line), in) != NULL) {
		char h[257], u[64], x[512], dig[80];
		long exp;

		if (sscanf(line, "%256s %63s %511s", h, u, x) == 3 &&
		    sscanf(x, "token:%70[0-9a-f]:%ld", dig, &exp) == 2) {
			if (exp <= now)
				continue;
			if (!found && strcmp(h, handle) == 0 && strlen(u) == 36 &&
			    web_auth_token_eq(dig, want)) {
				memcpy(uuid, u, 37);
				found = 1;
				continue;
			}
		}
		if (fputs(line, out) < 0)
			return -1;
	}
	return found;
}

int
web_auth_check_token(web_auth *a, const char *handle, const char *token,
    char uuid[37], unsigned *retry_s, char *why, size_t why_len)
{
	const char *path = a->cfg->web.passwords;
	char        lock[4200], tmp[4200], want[65];
	FILE       *in, *out;
	int         lfd, fd, found = -1;

	if (!throttle_allows(a, handle, retry_s)) {
		snprintf(why, why_len,
		    "too many wrong log-ins for %s; try again in %u s", handle,
		    *retry_s);
		return 429;
	}
	sha256_hex(token, want);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(lfd, LOCK_EX) != 0) {
		snprintf(why, why_len, "cannot lock %s: %s", lock,
		    strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 500;
	}
	if ((in = fopen(path, "r")) == NULL) {
		close(lfd);
		throttle_fail(a, handle);
		snprintf(why, why_len, "unknown or used log-in link");
		return 401;
	}
	fd  = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (out != NULL)
		found = take_token(in, out, handle, want, uuid);
	fclose(in);
	if (out == NULL || found < 0 || fflush(out) != 0 ||
	    fsync(fileno(out)) != 0) {
		if (out != NULL)
			fclose(out);
		else if (fd >= 0)
			close(fd);
		unlink(tmp);
		close(lfd);
		snprintf(why, why_len, "cannot rewrite %s: %s", path,
		    strerror(errno));
		return 500;
	}
	fclose(out);
	/* The token is spent only once the file no longer holds it. */
	if (found == 1 && rename(tmp, path) != 0) {
		unlink(tmp);
		close(lfd);
		snprintf(why, why_len, "cannot rewrite %s: %s", path,
		    strerror(errno));
		return 500;
	}
	if (found != 1)
		unlink(tmp);
	close(lfd);
	if (found == 1)
		return 0;
	throttle_fail(a, handle);
	snprintf(why, why_len, "unknown, expired or used log-in link");
	return 401;
}
