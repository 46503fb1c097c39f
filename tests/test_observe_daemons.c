/*
 * What operators see of a running federator, against real daemons
 * (tests/support/daemons.h): the Prometheus endpoint after known traffic
 * (exact call and status counters, sanity bounds on the rest, the text
 * checked by promtool), /healthz and /readyz, JSON logs read back line
 * by line, and fedctl admin: a domain that is down with its back-off,
 * and a reset after which the next call goes out at once; reload and the
 * counters; the admin service refusing a user other than the daemon's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fedrpc/channel.h>
#include <fedrpc/tls.h>

#include "daemons.h"
#include "fedrpc/health/v1/health.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "testcerts.h"
#include "testutil.h"

#define PROMTOOL "/usr/bin/promtool"

/* ---- HTTP, as a collector does it ---- */

typedef struct http_reply {
	int   status; /* 0: no answer */
	char *body;   /* owned */
} http_reply;

/* GET path from 127.0.0.1:port; waits at most TD_WAIT_MS. */
static http_reply
http_get(int port, const char *path)
{
	http_reply         r = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char               req[256], *buf = NULL, *body;
	size_t             len = 0, cap = 0;
	uint64_t           end = tu_now_ms() + TD_WAIT_MS;
	int                fd;

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return r;
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return r;
	}
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t) strlen(req));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t       n;
		char         *cl;

		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			cr_assert_not_null(buf = realloc(buf, cap));
		}
		if (poll(&p, 1, (int) tu_ms_until(end)) <= 0)
			break;
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t) n;
		buf[len] = '\0';
		/* Done when the whole body (Content-Length) is in. */
		if ((body = strstr(buf, "\r\n\r\n")) != NULL &&
		    (cl = strcasestr(buf, "Content-Length:")) != NULL &&
		    cl < body &&
		    (size_t) (body + 4 - buf) + strtoul(cl + 15, NULL, 10) <= len)
			break;
	}
	close(fd);
	if (buf == NULL || sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		free(buf);
		r.status = 0;
		return r;
	}
	r.body = strdup(body + 4);
	free(buf);
	return r;
}

/* The value of the sample whose line starts with `series` + ' '; -1 if
 * there is none. */
static double
sample(const char *text, const char *series)
{
	size_t      n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Scrapes until the text has `what` (bounded by TD_WAIT_MS). */
static http_reply
scrape_until(int port, const char *what)
{
	uint64_t   end = tu_now_ms() + TD_WAIT_MS;
	http_reply r;

	for (unsigned round = 0;; round++) {
		r = http_get(port, "/metrics");
		if (r.status == 200 && strstr(r.body, what) != NULL)
			return r;
		cr_assert_lt(tu_now_ms(), end, "no '%s' in the scrape (status "
		    "%d):\n%s", what, r.status, r.body != NULL ? r.body : "");
		free(r.body);
		tu_sleep_ms(tu_poll_pause_ms(round));
	}
}

/* promtool's verdict on a scrape (its exit code; its output into *out). */
static int
promtool_check(const char *dir, const char *text, char **out)
{
	char  in[600], res[600], cmd[1400];
	int   status;

	snprintf(in, sizeof(in), "%s/scrape.txt", dir);
	snprintf(res, sizeof(res), "%s/promtool.out", dir);
	cr_assert(tu_write_file(in, text));
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s > %s 2>&1", PROMTOOL,
	    in, res);
	status = system(cmd);
	*out   = tu_read_file(res);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- federation calls made by the test itself ---- */

/* A channel to daemon i's listener that presents `cert` (a name in
 * t->dir, signed by `ca`) and claims to come from `origin`, for
 * `target`. */
static fedrpc_channel *
peer_channel(td *t, int i, const char *ca, const char *cert,
    const char *origin, const char *target)
{
	char            url[64], caf[600], crt[600], key[600];
	fedrpc_tls_opts tls = {0};
	fedrpc_channel_opts o = {0};
	fedrpc_channel *ch;
	fedrpc_status   st = {0};

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", t->f[i].port);
	snprintf(caf, sizeof(caf), "%s/%s.crt", t->dir, ca);
	snprintf(crt, sizeof(crt), "%s/%s.crt", t->dir, cert);
	snprintf(key, sizeof(key), "%s/%s.key", t->dir, cert);
	tls.ca_file            = caf;
	tls.cert_file          = crt;
	tls.key_file           = key;
	tls.server_name        = t->f[i].domain;
	o.url                  = url;
	o.tls                  = &tls;
	o.origin_domain        = origin;
	o.target_domain        = target;
	o.api_version          = 1;
	o.default_timeout_ms   = TU_CALL_MS;
	cr_assert_eq(fedrpc_channel_open(&ch, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	return ch;
}

/* n health checks on ch, each ending with `want`. */
static void
checks(fedrpc_channel *ch, int n, fedrpc_code want)
{
	for (int k = 0; k < n; k++) {
		Fedrpc__Health__V1__HealthCheckRequest   req =
		    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
		Fedrpc__Health__V1__HealthCheckResponse *resp = NULL;
		fedrpc_status                            st   = {0};
		fedrpc_code                              code;

		code = fedrpc_health_v1_health_check(ch, &req, &resp, NULL, &st);
		cr_assert_eq(code, want, "call %d: %s (%s), want %s", k,
		    fedrpc_code_name(code), st.message, fedrpc_code_name(want));
		if (resp != NULL)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		fedrpc_status_reset(&st);
	}
}

static td *
metrics_daemon(int *mport, const char *logcfg)
{
	td *t = td_new(2, NULL);

	*mport = tu_free_port();
	snprintf(t->f[0].extra, sizeof(t->f[0].extra),
	    "metrics = { listen = \"127.0.0.1:%d\"; };", *mport);
	if (logcfg != NULL)
		snprintf(t->f[0].logcfg, sizeof(t->f[0].logcfg), "%s", logcfg);
	return t;
}

#define RECEIVED "fedrpc_federation_calls_received_total"
#define CHECK "fedrpc.health.v1.Health/Check"

#define PEER_OPEN "fedrpc_federation_peer_open_connections"

/* No connection of b.example's counted as open in a scrape. */
static bool
peer_open_gone(int port)
{
	http_reply r    = http_get(port, "/metrics");
	bool       gone = r.status == 200 &&
	    sample(r.body, PEER_OPEN "{peer=\"b.example\"}") < 0;

	free(r.body);
	return gone;
}

Test(observe, metrics_after_known_traffic, .timeout = 240)
{
	int             mport;
	td             *t = metrics_daemon(&mport, NULL);
	fedrpc_channel *good, *liar, *astray, *stranger;
	http_reply      r;
	char           *lint;
	double          v;

	td_start(t, 0, NULL);
	/* As b.example (its own certificate): 5 admitted calls. */
	good = peer_channel(t, 0, "ca", "b", "b.example", "a.example");
	checks(good, 5, FEDRPC_OK);
	/* b's certificate claiming to be c.example: refused (3). */
	liar = peer_channel(t, 0, "ca", "b", "c.example", "a.example");
	checks(liar, 3, FEDRPC_UNAUTHENTICATED);
	/* b.example calling for another domain: refused (2). */
	astray = peer_channel(t, 0, "ca", "b", "b.example", "z.example");
	checks(astray, 2, FEDRPC_INVALID_ARGUMENT);
	/* A certificate from a CA a.example does not trust: no call gets
	 * through the handshake. */
	testcerts_ca(t->dir, "evil");
	testcerts_leaf(t->dir, "evil", "eve",
	    (const char *const[]){"b.example", NULL});
	stranger = peer_channel(t, 0, "ca", "eve", "b.example", "a.example");
	{
		Fedrpc__Health__V1__HealthCheckRequest   req =
		    FEDRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
		Fedrpc__Health__V1__HealthCheckResponse *resp = NULL;
		fedrpc_status                            st   = {0};
		fedrpc_call_opts co = {.timeout_ms = 3000};

		cr_assert_neq(fedrpc_health_v1_health_check(
		                  stranger, &req, &resp, &co, &st),
		    FEDRPC_OK);
	}
	fedrpc_channel_close(stranger);

	/* The handshake failure is counted once the server has seen it,
	 * and a call once its reply has left. */
	free(scrape_until(mport, "fedrpc_tls_handshake_failures_total{side="
	                         "\"server\"").body);
	/* and the listener counts the connection it then closed. */
	{
		uint64_t end = tu_now_ms() + TD_WAIT_MS;

		for (unsigned round = 0;; round++) {
			http_reply h = http_get(mport, "/metrics");
			double     n = h.status == 200
			        ? sample(h.body,
			              "fedrpc_federation_handshakes_failed_total")
			        : -1;

			free(h.body);
			if (n >= 1)
				break;
			cr_assert_lt(tu_now_ms(), end,
			    "the failed handshake not counted (%g)", n);
			tu_sleep_ms(tu_poll_pause_ms(round));
		}
	}
	free(scrape_until(mport, RECEIVED "{origin=\"b.example\",method=\""
	                         CHECK "\",code=\"INVALID_ARGUMENT\"} 2\n").body);
	free(scrape_until(mport, RECEIVED "{origin=\"c.example\",method=\""
	                         CHECK "\",code=\"UNAUTHENTICATED\"} 3\n").body);
	r = scrape_until(mport, RECEIVED "{origin=\"b.example\",method=\""
	                        CHECK "\",code=\"OK\"} 5\n");

	/* Exact: the calls made above, by origin, method and status. */
	cr_assert_eq(sample(r.body, RECEIVED "{origin=\"b.example\",method=\""
	                   CHECK "\",code=\"OK\"}"), 5, "%s", r.body);
	cr_assert_eq(sample(r.body, RECEIVED "{origin=\"c.example\",method=\""
	                   CHECK "\",code=\"UNAUTHENTICATED\"}"), 3, "%s",
	    r.body);
	cr_assert_eq(sample(r.body, RECEIVED "{origin=\"b.example\",method=\""
	                   CHECK "\",code=\"INVALID_ARGUMENT\"}"), 2, "%s",
	    r.body);
	cr_assert_eq(sample(r.body, "fedrpc_federation_refused_total"), 5);
	/* The daemon's own self-checks of its listener come on top. */
	cr_assert_geq(sample(r.body, "fedrpc_federation_admitted_total"), 5);
	cr_assert_geq(sample(r.body, "fedrpc_federation_peer_connections_total"
	                             "{peer=\"b.example\"}"), 1);
	/* Timing: every call is in the histogram, none took longer than
	 * the call deadline. */
	v = sample(r.body, "fedrpc_federation_call_duration_seconds_count"
	                   "{direction=\"received\",method=\"" CHECK "\"}");
	cr_assert_geq(v, 10, "%s", r.body);
	cr_assert_eq(sample(r.body,
	                 "fedrpc_federation_call_duration_seconds_bucket"
	                 "{direction=\"received\",method=\"" CHECK
	                 "\",le=\"+Inf\"}"),
	    v);
	cr_assert_lt(sample(r.body, "fedrpc_federation_call_duration_seconds_sum"
	                            "{direction=\"received\",method=\"" CHECK
	                            "\"}"),
	    v * TU_CALL_MS / 1000.0);
	cr_assert_geq(sample(r.body, "fedrpc_discovery_lookups_total"), 1);
	cr_assert_not_null(strstr(r.body, "fedrpc_build_info{version=\""));
	cr_assert_eq(sample(r.body, "fedrpc_federation_listener_serving"), 1);
	/* The wire listener's view: the three peers' connections up, none
	 * half-open, nothing closed for a protocol error or silence. */
	cr_assert_geq(sample(r.body, "fedrpc_federation_open_connections"
	                             "{state=\"up\"}"), 3, "%s", r.body);
	/* The same three by their certificate's name (the listener's own
	 * self-checks are not counted). */
	cr_assert_eq(sample(r.body, PEER_OPEN "{peer=\"b.example\"}"), 3,
	    "%s", r.body);
	cr_assert_eq(sample(r.body, "fedrpc_federation_connections_closed_total"
	                            "{reason=\"protocol_error\"}"), 0, "%s",
	    r.body);
	cr_assert_eq(sample(r.body, "fedrpc_federation_connections_closed_total"
	                            "{reason=\"keepalive\"}"), 0, "%s", r.body);
	cr_assert_eq(sample(r.body, "fedrpc_federation_paused_connections"), 0);

	/* A strict parser's verdict on the whole text. */
	cr_assert(access(PROMTOOL, X_OK) == 0,
	    "promtool is missing (scripts/install-deps.sh installs it)");
	cr_assert_eq(promtool_check(t->dir, r.body, &lint), 0,
	    "promtool: %s\n%s", lint, r.body);
	free(lint);
	free(r.body);

	/* Service managers' probes. */
	r = http_get(mport, "/healthz");
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok\n");
	free(r.body);
	r = http_get(mport, "/readyz");
	cr_assert_eq(r.status, 200, "%s", r.body);
	free(r.body);
	r = http_get(mport, "/nothing");
	cr_assert_eq(r.status, 404);
	free(r.body);

	fedrpc_channel_close(good);
	fedrpc_channel_close(liar);
	fedrpc_channel_close(astray);
	/* Closed connections leave the per-peer gauge. */
	cr_assert(TU_WAIT_FOR(peer_open_gone(mport), TU_WAIT_MS),
	    "b.example's connections still counted as open");
	td_finish(t);
}

/* Every line of the log a JSON object with time, level and msg; the
 * access log's lines with every field. Returns the access lines seen for
 * `origin`. */
static int
json_log_lines(const char *path, const char *origin, int *refused)
{
	char   *log = tu_read_file(path), *line, *nl;
	int     calls = 0, lineno = 0;

	cr_assert_not_null(log);
	*refused = 0;
	/* Whole lines only: the daemon may be writing the next one. */
	for (line = log; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		json_error_t err;
		json_t      *j;
		const char  *msg, *st;

		*nl = '\0';
		j   = json_loads(line, 0, &err);
		lineno++;
		cr_assert_not_null(j, "line %d is not JSON (%s): %s", lineno,
		    err.text, line);
		cr_assert(json_is_object(j));
		cr_assert(json_is_string(json_object_get(j, "time")), "%s", line);
		cr_assert(json_is_string(json_object_get(j, "level")), "%s", line);
		cr_assert(json_is_string(json_object_get(j, "msg")), "%s", line);
		msg = json_string_value(json_object_get(j, "msg"));
		if (strcmp(msg, "call received") == 0 &&
		    strcmp(json_string_value(json_object_get(j, "origin")),
		        origin) == 0) {
			const char *rid = json_string_value(
			    json_object_get(j, "request_id"));

			cr_assert_str_eq(json_string_value(json_object_get(j, "level")),
			    "info");
			cr_assert(rid != NULL && strlen(rid) == 32, "%s", line);
			cr_assert_str_eq(json_string_value(json_object_get(j, "target")),
			    "a.example");
			cr_assert_str_eq(json_string_value(json_object_get(j, "method")),
			    CHECK);
			cr_assert(json_is_integer(json_object_get(j, "duration_ms")),
			    "%s", line);
			cr_assert(json_integer_value(json_object_get(j, "end_us")) >
			        1700000000000000LL,
			    "%s", line);
			st = json_string_value(json_object_get(j, "status"));
			cr_assert_not_null(st, "%s", line);
			calls++;
			if (strcmp(st, "OK") != 0) {
				(*refused)++;
				cr_assert(json_is_string(json_object_get(j, "error")),
				    "%s", line);
			}
		}
		json_decref(j);
	}
	free(log);
	return calls;
}

Test(observe, json_logs, .timeout = 240)
{
	int             mport, refused = 0;
	td             *t = metrics_daemon(&mport, "level = \"info\"; format = \"json\";");
	fedrpc_channel *good, *liar;

	td_start(t, 0, NULL);
	good = peer_channel(t, 0, "ca", "b", "b.example", "a.example");
	checks(good, 4, FEDRPC_OK);
	liar = peer_channel(t, 0, "ca", "b", "c.example", "a.example");
	checks(liar, 2, FEDRPC_UNAUTHENTICATED);
	fedrpc_channel_close(good);
	fedrpc_channel_close(liar);
	/* A call's line is written as its reply leaves: soon after. */
	cr_assert(TU_WAIT_FOR(
	    json_log_lines(t->f[0].log, "b.example", &refused) == 4,
	    TD_WAIT_MS));
	cr_assert_eq(refused, 0);
	cr_assert(TU_WAIT_FOR(
	    json_log_lines(t->f[0].log, "c.example", &refused) == 2,
	    TD_WAIT_MS));
	cr_assert_eq(refused, 2);
	td_stop(t, 0);
	/* What the daemon logged while stopping is JSON too. */
	(void) json_log_lines(t->f[0].log, "b.example", &refused);
	td_free(t);
}

Test(observe, text_access_log, .timeout = 240)
{
	int             mport;
	td             *t = metrics_daemon(&mport, NULL);
	fedrpc_channel *good;
	char           *log;

	td_start(t, 0, NULL);
	good = peer_channel(t, 0, "ca", "b", "b.example", "a.example");
	checks(good, 1, FEDRPC_OK);
	fedrpc_channel_close(good);
	cr_assert(TU_WAIT_FOR((log = tu_read_file(t->f[0].log)) != NULL &&
	        strstr(log, " duration_ms=") != NULL
	        ? true
	        : (free(log), false),
	    TD_WAIT_MS));
	cr_assert_not_null(strstr(log, " INFO  call received request_id="),
	    "%s", log);
	cr_assert_not_null(strstr(log, " origin=b.example target=a.example "
	                               "method=" CHECK " status=OK duration_ms="),
	    "%s", log);
	free(log);
	td_finish(t);
}

/* ---- fedctl admin ---- */

/* FindUser "bob@b.example" on a's local API: a calls b. */
static fedrpc_code
find_bob(td *t, fedrpc_status *st)
{
	Fedrpc__Local__V1__FindUserRequest   req =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	Fedrpc__Local__V1__FindUserResponse *resp = NULL;
	fedrpc_call_opts                     co   = {.timeout_ms = TU_CALL_MS};
	fedrpc_code                          code;
	bool                                 found;

	req.query = "bob@b.example";
	fedrpc_status_reset(st);
	code = fedrpc_local_v1_users_find_user(t->f[0].lch, &req, &resp, &co, st);
	found = code == FEDRPC_OK && resp->profile != NULL;
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (code == FEDRPC_OK && !found)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND, "no bob");
	return code;
}

static json_t *
admin_json(td *t, const char *home, int want, const char *const *args)
{
	char        *out = td_fedctl(t, 0, home, want, args);
	json_error_t err;
	json_t      *j   = json_loads(out, 0, &err);

	cr_assert_not_null(j, "fedctl admin output is not JSON: %s\n%s",
	    err.text, out);
	free(out);
	return j;
}

Test(observe, admin_domains_and_reset, .timeout = 240)
{
	td           *t = td_new(2, NULL);
	char          home[600];
	fedrpc_status st = {0};
	json_t       *j, *d;
	uint64_t      t0;
	fedrpc_code   code;

	snprintf(home, sizeof(home), "%s/home", t->dir);
	cr_assert_eq(mkdir(home, 0700), 0);
	/* a backs off from b for 5 minutes: only a reset can end it. */
	snprintf(t->f[0].client, sizeof(t->f[0].client),
	    "connect_timeout_ms = 1000; backoff_initial_ms = 300000; "
	    "backoff_max_ms = 300000; backoff_jitter = 0.0;");
	td_start(t, 0, NULL);

	/* b is down: the call fails and b.example goes into back-off. */
	code = find_bob(t, &st);
	cr_assert_eq(code, FEDRPC_UNAVAILABLE, "%s: %s", fedrpc_code_name(code),
	    st.message);
	j = admin_json(t, home, 0,
	    (const char *const[]){"admin", "domains", NULL});
	cr_assert_eq(json_array_size(json_object_get(j, "domains")), 1,
	    "%s", json_dumps(j, 0));
	d = json_array_get(json_object_get(j, "domains"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(d, "domain")),
	    "b.example");
	cr_assert_str_eq(json_string_value(json_object_get(d, "state")),
	    "backoff", "%s", json_dumps(d, 0));
	cr_assert_eq(json_integer_value(json_object_get(d, "backoff_ms")),
	    300000);
	cr_assert_geq(json_integer_value(json_object_get(d, "failures")), 1);
	cr_assert_gt(json_integer_value(json_object_get(d, "next_attempt_unix_ms")),
	    (json_int_t) time(NULL) * 1000 + 200000);
	cr_assert_str_eq(
	    json_string_value(json_object_get(d, "last_error_code")),
	    "UNAVAILABLE");
	cr_assert_not_null(strstr(json_string_value(json_object_get(d,
	                              "last_error")), "refused"),
	    "%s", json_dumps(d, 0));
	/* The answer that led nowhere was dropped: the view looked b up
	 * again, and names the static route. */
	cr_assert(json_is_true(json_object_get(d, "srv_looked_up")), "%s",
	    json_dumps(d, 0));
	cr_assert(json_is_true(json_object_get(d, "srv_static")), "%s",
	    json_dumps(d, 0));
	cr_assert_eq(json_array_size(json_object_get(d, "srv")), 1, "%s",
	    json_dumps(d, 0));
	json_decref(j);

	/* b comes up; a still waits out its back-off... */
	td_start(t, 1, NULL);
	(void) td_register(t, 1, "bob");
	code = find_bob(t, &st);
	cr_assert_eq(code, FEDRPC_UNAVAILABLE, "%s: %s", fedrpc_code_name(code),
	    st.message);

	/* ...until the operator resets it: the next call goes out at once. */
	j = admin_json(t, home, 0,
	    (const char *const[]){"admin", "reset", "b.example", NULL});
	d = json_object_get(j, "domain");
	cr_assert_eq(json_integer_value(json_object_get(d, "backoff_ms")), 0,
	    "%s", json_dumps(j, 0));
	json_decref(j);
	t0   = tu_now_ms();
	code = find_bob(t, &st);
	cr_assert_eq(code, FEDRPC_OK, "%s: %s", fedrpc_code_name(code),
	    st.message);
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS);
	j = admin_json(t, home, 0,
	    (const char *const[]){"admin", "domains", "b.example", NULL});
	d = json_array_get(json_object_get(j, "domains"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(d, "state")), "ready",
	    "%s", json_dumps(d, 0));
	cr_assert_eq(json_integer_value(json_object_get(d, "port")),
	    t->f[1].port);
	/* The static route it came from, as the SRV answer in use. */
	cr_assert(json_is_true(json_object_get(d, "srv_static")), "%s",
	    json_dumps(d, 0));
	cr_assert(json_is_false(json_object_get(d, "srv_looked_up")), "%s",
	    json_dumps(d, 0));
	cr_assert_eq(json_array_size(json_object_get(d, "srv")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(d, "srv"), 0), "host")),
	    "localhost");
	cr_assert_eq(json_integer_value(json_object_get(
	                 json_array_get(json_object_get(d, "srv"), 0), "port")),
	    t->f[1].port);
	json_decref(j);

	/* An unknown domain is named. */
	{
		char *out = td_fedctl(t, 0, home, 1,
		    (const char *const[]){"admin", "reset", "q.example", NULL});

		cr_assert_not_null(strstr(out, "q.example"), "%s", out);
		free(out);
	}
	td_finish(t);
}

Test(observe, admin_reload_and_health, .timeout = 240)
{
	td     *t = td_new(1, NULL);
	char    home[600], *conf, *bad;
	json_t *j, *c;

	snprintf(home, sizeof(home), "%s/home", t->dir);
	cr_assert_eq(mkdir(home, 0700), 0);
	td_start(t, 0, NULL);

	j = admin_json(t, home, 0, (const char *const[]){"admin", "health", NULL});
	c = json_object_get(j, "counters");
	cr_assert_str_eq(json_string_value(json_object_get(c, "config-reloads")),
	    "0", "%s", json_dumps(j, 0));
	cr_assert_not_null(json_object_get(c, "federation-admitted"));
	cr_assert_str_eq(json_string_value(json_object_get(c,
	                     "federation-listener")),
	    "serving");
	json_decref(j);

	/* A file with a typo is refused, and says where. */
	conf = tu_read_file(t->f[0].conf);
	cr_assert(asprintf(&bad, "%slimits2 = 1;\n", conf) > 0);
	cr_assert(tu_write_file(t->f[0].conf, bad));
	{
		char *out = td_fedctl(t, 0, home, 1,
		    (const char *const[]){"admin", "reload", NULL});

		cr_assert_not_null(strstr(out, "limits2"), "%s", out);
		free(out);
	}
	cr_assert(tu_write_file(t->f[0].conf, conf));
	j = admin_json(t, home, 0, (const char *const[]){"admin", "reload", NULL});
	cr_assert_eq(json_integer_value(json_object_get(j, "reloads")), 1);
	cr_assert_eq(json_integer_value(json_object_get(j, "reload_failures")), 1);
	json_decref(j);
	free(bad);
	free(conf);
	td_finish(t);
}

/* ---- the delivery queues' figures ---- */

Test(observe, outbox_figures, .timeout = 240)
{
	int                                 mport;
	td                                 *t = metrics_daemon(&mport, NULL);
	td_user                             alice, bob;
	Fedrpc__Local__V1__ConnectRequest   req =
	    FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
	Fedrpc__Local__V1__ConnectResponse *resp = NULL;
	fedrpc_status                       st   = {0};
	fedrpc_code                         code;
	http_reply                          r;
	char                               *lint;

	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	td_stop(t, 1);
	alice.q.id     = alice.id;
	alice.q.domain = alice.domain;
	bob.q.id       = bob.id;
	bob.q.domain   = bob.domain;
	req.self       = &alice.q;
	req.to         = &bob.q;
	/* b.example is down: the request waits in a's queue for it. */
	code = fedrpc_local_v1_connections_connect(
	    t->f[0].lch, &req, &resp, NULL, &st);
	cr_assert_eq(code, FEDRPC_OK, "%s: %s", fedrpc_code_name(code),
	    st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);

	r = scrape_until(mport, "fedrpc_outbox_retries{destination=\"b.example\"} ");
	cr_assert_eq(sample(r.body,
	                 "fedrpc_outbox_pending{destination=\"b.example\"}"),
	    1, "%s", r.body);
	cr_assert_eq(sample(r.body,
	                 "fedrpc_outbox_dead_letters{destination=\"b.example\"}"),
	    0);
	cr_assert_geq(sample(r.body, "fedrpc_outbox_oldest_age_seconds"
	                             "{destination=\"b.example\"}"),
	    0);
	cr_assert_lt(sample(r.body, "fedrpc_outbox_oldest_age_seconds"
	                            "{destination=\"b.example\"}"),
	    240);
	/* Its delivery attempts were calls that failed. */
	cr_assert_not_null(strstr(r.body, "fedrpc_federation_calls_sent_total"
	                                  "{target=\"b.example\","),
	    "%s", r.body);
	cr_assert_eq(promtool_check(t->dir, r.body, &lint), 0,
	    "promtool: %s\n%s", lint, r.body);
	free(lint);
	free(r.body);
	td_finish(t);
}

/* ---- the admin service's own check of who calls ---- */

#define FEDCTL_BIN FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"

Test(observe, admin_refuses_other_users, .timeout = 240)
{
	td   *t = td_new(1, NULL);
	char  out[600], err[600], *text;
	pid_t pid;
	int   status;

	if (geteuid() != 0) {
		cr_log_warn("not root: cannot run fedctl as another user; "
			    "the check is left to the root runs");
		td_free(t);
		return;
	}
	td_start(t, 0, NULL);
	/* A socket opened to everyone by mistake: the daemon still refuses
	 * the controls to anyone but its own user and root. */
	cr_assert_eq(chmod(t->dir, 0711), 0);
	cr_assert_eq(chmod(t->f[0].sock, 0666), 0);
	snprintf(out, sizeof(out), "%s/nobody.out", t->dir);
	snprintf(err, sizeof(err), "%s/nobody.err", t->dir);
	if ((pid = fork()) == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		dup2(o, 1);
		dup2(e, 2);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(126);
		setenv("FEDCTL_HOME", "/tmp/fedrpc-nobody-home", 1);
		execl(FEDCTL_BIN, FEDCTL_BIN, "admin", "domains", "--socket",
		    t->f[0].sock, (char *) NULL);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	status = tu_stop(pid, 0, TD_WAIT_MS);
	text   = tu_read_file(err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "fedctl as nobody: status %d\n%s", status, text);
	cr_assert_not_null(strstr(text, "user 65534 may not use the admin "
	                                "service"),
	    "%s", text);
	free(text);
	cr_assert_eq(chmod(t->f[0].sock, 0600), 0);
	td_finish(t);
}
