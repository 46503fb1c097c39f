/*
 * Web log-ins across daemon restarts, at the HTTP level against a real
 * federator (tests/support/daemons.h): a cookie and its CSRF token keep
 * working after SIGKILL and after SIGTERM, a logged-out or expired one
 * does not, the sessions file (web.sessions) holds no cookie value or
 * CSRF token, a file others may read or change stops the start with its
 * name, and a malformed line is skipped with file and line logged.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "daemons.h"
#include "testutil.h"

#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define FEDERATOR FEDRPC_BINARY_DIR "/federator"
#define PASSWORD "alice's web password"

typedef struct web_one {
	td  *t;
	int  port;
	char passwords[600], sessions[600], home[600];
} web_one;

typedef struct http_reply {
	int     status; /* 0: no answer */
	json_t *body;   /* owned; NULL when not JSON */
	char    cookie[65]; /* fedrpc_session of Set-Cookie; "" none */
} http_reply;

/* One daemon (a.example) with a web client; extra goes into its web
 * group. web.sessions is left to its default: beside the passwords. */
static void
one_start(web_one *w, const char *extra)
{
	td_fed *f;
	char    conf[1024], as[300], cmd[4096];
	FILE   *p;

	memset(w, 0, sizeof(*w));
	w->t    = td_new(1, NULL);
	f       = &w->t->f[0];
	w->port = tu_free_port();
	snprintf(w->passwords, sizeof(w->passwords), "%s/a.passwords",
	    w->t->dir);
	snprintf(w->sessions, sizeof(w->sessions), "%s/a.example.sessions",
	    w->t->dir);
	snprintf(w->home, sizeof(w->home), "%s/home-a", w->t->dir);
	cr_assert_eq(mkdir(w->home, 0700), 0);
	snprintf(conf, sizeof(conf),
	    "web = { listen = \"http://127.0.0.1:%d\"; root = \"%s/web\"; "
	    "passwords = \"%s\"; %s };\n",
	    w->port, FEDRPC_SOURCE_DIR, w->passwords, extra);
	cr_assert_lt(strlen(conf), sizeof(f->extra));
	memcpy(f->extra, conf, strlen(conf) + 1);
	td_start(w->t, 0, NULL);
	free(td_fedctl(w->t, 0, w->home, 0,
	    (const char *const[]){"user", "register", "alice", "Alice", NULL}));
	snprintf(as, sizeof(as), "alice@%s", f->domain);
	snprintf(cmd, sizeof(cmd),
	    "FEDCTL_HOME='%s' '%s' user password --as '%s' --file '%s' "
	    "--socket '%s' >/dev/null",
	    w->home, FEDCTL, as, w->passwords, f->sock);
	cr_assert_not_null(p = popen(cmd, "w"));
	fprintf(p, "%s\n", PASSWORD);
	cr_assert_eq(pclose(p), 0, "fedctl user password failed");
}

/* Reads a whole answer from fd (bounded by TD_WAIT_MS); NULL: none. */
static char *
read_answer(int fd)
{
	uint64_t end = tu_now_ms() + TD_WAIT_MS;
	size_t   len = 0, cap = 0;
	char    *buf = NULL;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t       n;

		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			cr_assert_not_null(buf = realloc(buf, cap));
		}
		if (poll(&p, 1, (int) tu_ms_until(end)) <= 0)
			break;
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break; /* Connection: close: the end of the answer */
		len += (size_t) n;
	}
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/* method path with the cookie (may be NULL), CSRF token (may be NULL)
 * and JSON body (may be NULL). */
static http_reply
http(web_one *w, const char *method, const char *path, const char *cookie,
    const char *csrf, const char *body)
{
	http_reply         r  = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char               req[4096], *ans, *p;
	int                fd, n;

	sa.sin_port        = htons((uint16_t) w->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return r;
	}
	n = snprintf(req, sizeof(req),
	    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "%s%s%s%s%s%s\r\n%s",
	    method, path, w->port, body != NULL ? strlen(body) : 0,
	    cookie != NULL ? "Cookie: fedrpc_session=" : "",
	    cookie != NULL ? cookie : "", cookie != NULL ? "\r\n" : "",
	    csrf != NULL ? "X-CSRF-Token: " : "", csrf != NULL ? csrf : "",
	    csrf != NULL ? "\r\n" : "", body != NULL ? body : "");
	cr_assert_lt((size_t) n, sizeof(req));
	cr_assert_eq(write(fd, req, (size_t) n), n);
	ans = read_answer(fd);
	close(fd);
	if (ans == NULL || sscanf(ans, "HTTP/1.%*d %d", &r.status) != 1) {
		free(ans);
		r.status = 0;
		return r;
	}
	if ((p = strcasestr(ans, "\r\nSet-Cookie: fedrpc_session=")) != NULL) {
		p += strlen("\r\nSet-Cookie: fedrpc_session=");
		snprintf(r.cookie, sizeof(r.cookie), "%.*s",
		    (int) strcspn(p, ";\r"), p);
	}
	if ((p = strstr(ans, "\r\n\r\n")) != NULL)
		r.body = json_loads(p + 4, 0, NULL);
	free(ans);
	return r;
}

/* A log-in as alice: her cookie into cookie, her CSRF token into csrf. */
static void
login(web_one *w, char cookie[65], char csrf[65])
{
	http_reply  r = http(w, "POST", "/api/login", NULL, NULL,
	     "{\"user\": \"alice\", \"password\": \"" PASSWORD "\"}");
	const char *t;

	cr_assert_eq(r.status, 200, "log-in: %d", r.status);
	cr_assert_eq(strlen(r.cookie), 64, "cookie '%s'", r.cookie);
	cr_assert_not_null(t = json_string_value(json_object_get(r.body, "csrf")));
	memcpy(cookie, r.cookie, 65);
	snprintf(csrf, 65, "%s", t);
	json_decref(r.body);
}

/* GET /api/session: the status; the CSRF token it gives into csrf (may be
 * NULL) when 200. */
static int
session_status(web_one *w, const char *cookie, char *csrf)
{
	http_reply  r = http(w, "GET", "/api/session", cookie, NULL, NULL);
	const char *t = json_string_value(json_object_get(r.body, "csrf"));

	if (r.status == 200) {
		cr_assert_str_eq(
		    json_string_value(json_object_get(r.body, "handle")), "alice");
		if (csrf != NULL)
			snprintf(csrf, 65, "%s", t != NULL ? t : "");
	}
	json_decref(r.body);
	return r.status;
}

/* A state-changing call (a new conversation) with cookie and csrf. */
static int
create_conversation(web_one *w, const char *cookie, const char *csrf)
{
	http_reply r = http(w, "POST", "/api/call/Conversations/CreateConversation",
	    cookie, csrf, "{\"name\": \"after a restart\"}");

	json_decref(r.body);
	return r.status;
}

static void
sha256_hex(const char *s, char out[65])
{
	uint8_t d[WC_SHA256_DIGEST_SIZE];

	cr_assert_eq(wc_Sha256Hash((const byte *) s, (word32) strlen(s), d), 0);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The sessions file's line of cookie's session, or NULL (the caller
 * frees). */
static char *
file_line_of(web_one *w, const char *cookie)
{
	char  digest[65], *file = tu_read_file(w->sessions), *line = NULL, *p;

	sha256_hex(cookie, digest);
	if (file != NULL && (p = strstr(file, digest)) != NULL &&
	    (p == file || p[-1] == '\n'))
		line = strndup(p, strcspn(p, "\n"));
	free(file);
	return line;
}

/* The file holds neither value, nor has a mode beyond 0600. */
static void
assert_file_secret_free(web_one *w, const char *cookie, const char *csrf)
{
	struct stat sb;
	char       *file = tu_read_file(w->sessions);

	cr_assert_not_null(file, "no %s", w->sessions);
	cr_assert_eq(stat(w->sessions, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	cr_assert_null(strstr(file, cookie), "the cookie value is in:\n%s", file);
	cr_assert_null(strstr(file, csrf), "the CSRF token is in:\n%s", file);
	free(file);
}

Test(web_sessions, survive_kill_and_term, .timeout = 300)
{
	web_one w;
	char    keep[65], keep_csrf[65], gone[65], gone_csrf[65], csrf[65];
	char    want[700], *line;

	one_start(&w, "");
	login(&w, keep, keep_csrf);
	login(&w, gone, gone_csrf);
	cr_assert_str_neq(keep, gone);
	cr_assert_not_null(line = file_line_of(&w, keep), "%s",
	    tu_read_file(w.sessions));
	cr_assert_not_null(strstr(line, " alice"), "%s", line);
	free(line);
	assert_file_secret_free(&w, keep, keep_csrf);
	assert_file_secret_free(&w, gone, gone_csrf);
	cr_assert_eq(create_conversation(&w, keep, keep_csrf), 200);

	/* Logged out: gone from the file before the answer. */
	{
		http_reply r = http(&w, "POST", "/api/logout", gone, gone_csrf,
		    "{}");

		cr_assert_eq(r.status, 200);
		json_decref(r.body);
	}
	cr_assert_null(file_line_of(&w, gone));
	cr_assert_eq(session_status(&w, gone, NULL), 401);

	for (int round = 0; round < 2; round++) {
		if (round == 0)
			td_kill(w.t, 0);
		else
			td_stop(w.t, 0);
		td_start(w.t, 0, NULL);
		snprintf(want, sizeof(want), "web: log-ins kept from %s: 1",
		    w.sessions);
		TD_ASSERT_LOGGED(w.t, 0, want);
		cr_assert_eq(session_status(&w, keep, csrf), 200,
		    "round %d: the cookie no longer works", round);
		cr_assert_str_eq(csrf, keep_csrf, "round %d", round);
		cr_assert_eq(create_conversation(&w, keep, keep_csrf), 200,
		    "round %d", round);
		cr_assert_eq(create_conversation(&w, keep, gone_csrf), 403,
		    "round %d: another session's CSRF token was taken", round);
		cr_assert_eq(session_status(&w, gone, NULL), 401,
		    "round %d: a logged-out cookie works again", round);
		cr_assert_eq(create_conversation(&w, gone, gone_csrf), 401,
		    "round %d", round);
	}
	assert_file_secret_free(&w, keep, keep_csrf);
	td_finish(w.t);
}

/* The expiry on alice's line of the file; 0 when there is none. */
static long
file_expiry(web_one *w, const char *cookie)
{
	char *line = file_line_of(w, cookie);
	long  exp  = 0;

	if (line != NULL)
		cr_assert_eq(sscanf(line, "%*s %*s %ld", &exp), 1, "%s", line);
	free(line);
	return exp;
}

Test(web_sessions, expired_ones_end, .timeout = 300)
{
	web_one w;
	char    c1[65], c2[65], csrf[65];
	long    exp;

	one_start(&w, "session_ttl = 2;");
	/* Expired while the daemon was down: dropped at load. */
	login(&w, c1, csrf);
	cr_assert_gt(exp = file_expiry(&w, c1), 0);
	td_kill(w.t, 0);
	cr_assert(TU_WAIT_FOR((long) time(NULL) > exp, TU_WAIT_MS));
	td_start(w.t, 0, NULL);
	cr_assert_eq(file_expiry(&w, c1), 0, "an expired line stayed:\n%s",
	    tu_read_file(w.sessions));
	cr_assert_eq(session_status(&w, c1, NULL), 401);

	/* Expiring after a restart: refused then, and gone from the file. */
	login(&w, c2, csrf);
	cr_assert_gt(file_expiry(&w, c2), 0);
	td_kill(w.t, 0);
	td_start(w.t, 0, NULL);
	cr_assert(TU_WAIT_FOR(session_status(&w, c2, NULL) == 401, TU_WAIT_MS));
	cr_assert_eq(create_conversation(&w, c2, csrf), 401);
	cr_assert_eq(file_expiry(&w, c2), 0, "an expired line stayed:\n%s",
	    tu_read_file(w.sessions));
	td_finish(w.t);
}

/* Starts the federator on i's file, expecting it to refuse; its log. */
static char *
start_refused(web_one *w)
{
	td_fed *f = &w->t->f[0];
	char    log[700];
	bool    timed_out = false;
	int     rc;

	snprintf(log, sizeof(log), "%s/refused.log", w->t->dir);
	unlink(log);
	rc = tu_run_log((char *const[]){FEDERATOR, "-c", f->conf, NULL}, log,
	    TU_WAIT_MS, &timed_out);
	cr_assert(!timed_out, "the federator started with a bad sessions file");
	cr_assert_neq(rc, 0);
	return tu_read_file(log);
}

Test(web_sessions, bad_files, .timeout = 300)
{
	web_one w;
	char    cookie[65], csrf[65], want[1400], *log, *file;
	FILE   *fp;

	one_start(&w, "");
	login(&w, cookie, csrf);
	td_stop(w.t, 0);

	/* Readable by others: refused, naming the file and its mode. */
	cr_assert_eq(chmod(w.sessions, 0640), 0);
	log = start_refused(&w);
	snprintf(want, sizeof(want), "web.sessions %s: mode 0640", w.sessions);
	cr_assert_not_null(log);
	cr_assert_not_null(strstr(log, want), "no \"%s\" in:\n%s", want, log);
	free(log);
	cr_assert_eq(chmod(w.sessions, 0600), 0);

	/* A malformed line (line 3, after the header and alice's) is skipped
	 * with file and line logged; the good one still logs in, and the
	 * file is written again without the bad one. */
	cr_assert_not_null(fp = fopen(w.sessions, "a"));
	fputs("not a session line\n", fp);
	fclose(fp);
	td_start(w.t, 0, NULL);
	snprintf(want, sizeof(want), "web.sessions %s:3: line skipped",
	    w.sessions);
	TD_ASSERT_LOGGED(w.t, 0, want);
	cr_assert_eq(session_status(&w, cookie, NULL), 200);
	cr_assert_eq(create_conversation(&w, cookie, csrf), 200);
	cr_assert_not_null(file = tu_read_file(w.sessions));
	cr_assert_null(strstr(file, "not a session line"), "%s", file);
	free(file);
	td_finish(w.t);
}
