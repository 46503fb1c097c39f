/*
 * The web gateway's server: nng's HTTP server (already a dependency, with
 * fedrpc's wolfSSL engine registered for https://), one handler for every
 * path, and worker threads that do the work (argon2 hashing and local API
 * calls block, which nng's own callback threads must not). Every answer
 * carries a strict Content-Security-Policy (scripts and styles from the
 * page's own files only, no inline code) and no-sniff/no-frame headers.
 * Every POST must be JSON and, if the browser says where it came from,
 * come from this origin; every POST but the log-in must carry the
 * session's CSRF token in X-CSRF-Token.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include <fedrpc/log.h>

#include "core/base/file_read.h"
#include "federator/web/web.h"

/* What a browser is told of a fault on the server's side (files that
 * cannot be read or written): the details, paths included, are logged. */
#define SERVER_FAULT "the server could not do it (its log says why)"

#ifndef FEDRPC_WEB_DIR
#define FEDRPC_WEB_DIR "/usr/share/fedrpc/web"
#endif

#define WORKERS 2
#define BODY_MAX (4u << 20)
#define CSP                                                                  \
	"default-src 'none'; script-src 'self'; style-src 'self'; "           \
	"img-src 'self'; connect-src 'self'; base-uri 'none'; "               \
	"form-action 'none'; frame-ancestors 'none'"

typedef struct job {
	struct job *next;
	nng_aio    *aio;
} job;

struct web_gateway {
	const fedrpc_config *cfg;
	const char          *root;
	bool                 tls;
	nng_http_server     *srv;
	nng_tls_config      *tls_cfg;
	fedrpc_channel      *ch; /* the local API */
	web_auth            *auth;

	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	job            *head, *tail;
	bool            stopping;
	pthread_t       workers[WORKERS];
	int             n_workers;
};

/* ---- replies ---- */

void
web_reply_json(web_reply *r, uint16_t status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	free(r->body);
	r->status       = s != NULL ? status : 500;
	r->content_type = "application/json";
	r->body         = s != NULL ? s : strdup("{\"error\":\"out of memory\"}");
	r->len          = r->body != NULL ? strlen(r->body) : 0;
	r->no_store     = true;
}

void
web_reply_error(web_reply *r, uint16_t status, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	web_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

static void
send_reply(nng_aio *aio, web_reply *r, bool tls)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		free(r->body);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, r->status);
	nng_http_res_set_header(res, "Content-Security-Policy", CSP);
	nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
	nng_http_res_set_header(res, "X-Frame-Options", "DENY");
	nng_http_res_set_header(res, "Referrer-Policy", "no-referrer");
	nng_http_res_set_header(res, "Cross-Origin-Opener-Policy", "same-origin");
	nng_http_res_set_header(res, "Cache-Control", "no-store");
	if (tls)
		nng_http_res_set_header(res, "Strict-Transport-Security",
		    "max-age=31536000");
	if (r->content_type != NULL)
		nng_http_res_set_header(res, "Content-Type", r->content_type);
	if (r->set_cookie[0] != '\0')
		nng_http_res_set_header(res, "Set-Cookie", r->set_cookie);
	nng_http_res_copy_data(res, r->body != NULL ? r->body : "", r->len);
	free(r->body);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* ---- the routes ---- */

static void
cookie_set(web_gateway *gw, web_reply *r, const char *value, uint32_t age)
{
	snprintf(r->set_cookie, sizeof(r->set_cookie),
	    "fedrpc_session=%s; Path=/; HttpOnly; SameSite=Strict; "
	    "Max-Age=%u%s",
	    value, (unsigned) age, gw->tls ? "; Secure" : "");
}

static json_t *
who_json(const web_who *who)
{
	return json_pack("{s:{s:s,s:s},s:s,s:s}", "user", "id", who->id,
	    "domain", who->domain, "handle", who->handle, "csrf", who->csrf);
}

/* POST /api/login {"user": "alice" or "alice@domain", "password"}, or
 * {"user", "token"} from a one-time log-in link. */
static void
route_login(web_gateway *gw, const char *body, size_t len, web_reply *r)
{
	json_t     *j = json_loadb(body != NULL ? body : "", len, 0, NULL);
	const char *user = NULL, *pw = NULL, *token = NULL, *at;
	web_who     who = {0};
	char        cookie[65], why[512];
	unsigned    retry = 0;
	int         rc;

	if (j == NULL ||
	    json_unpack(j, "{s:s,s?s,s?s}", "user", &user, "password", &pw,
	        "token", &token) != 0 ||
	    (pw == NULL) == (token == NULL)) {
		json_decref(j);
		web_reply_error(r, 400,
		    "log-in: send {\"user\", \"password\"} or {\"user\", "
		    "\"token\"}");
		return;
	}
	at = strchr(user, '@');
	if (at != NULL && strcmp(at + 1, gw->cfg->domain) != 0) {
		web_reply_error(r, 400,
		    "log-in: this is the web client of %s, not of %s",
		    gw->cfg->domain, at + 1);
		json_decref(j);
		return;
	}
	snprintf(who.handle, sizeof(who.handle), "%.*s",
	    at != NULL ? (int) (at - user) : (int) strlen(user), user);
	rc = pw != NULL ? web_auth_check_password(gw->auth, who.handle, pw,
			      who.id, &retry, why, sizeof(why))
			: web_auth_check_token(gw->auth, who.handle, token, who.id,
			      &retry, why, sizeof(why));
	json_decref(j);
	if (rc != 0) {
		if (rc == 500)
			FEDRPC_LOG_ERROR("web: %s", why);
		else
			FEDRPC_LOG_INFO("web: log-in of %s refused: %s",
			    who.handle, why);
		web_reply_error(r, (uint16_t) rc, "log-in: %s",
		    rc == 500 ? SERVER_FAULT : why);
		return;
	}
	snprintf(who.domain, sizeof(who.domain), "%s", gw->cfg->domain);
	if ((rc = web_auth_session_new(gw->auth, &who, cookie, why,
	         sizeof(why))) != 0) {
		if (rc == 500)
			FEDRPC_LOG_ERROR("web: log-in of %s: %s", who.handle, why);
		web_reply_error(r, (uint16_t) rc, "log-in: %s",
		    rc == 500 ? SERVER_FAULT : why);
		return;
	}
	cookie_set(gw, r, cookie, gw->cfg->web.session_ttl);
	explicit_bzero(cookie, sizeof(cookie));
	web_reply_json(r, 200, who_json(&who));
}

/* Whether a POST came from this origin and is JSON; why not into r. */
static bool
post_ok(web_gateway *gw, nng_http_req *req, web_reply *r)
{
	const char *type   = nng_http_req_get_header(req, "Content-Type");
	const char *origin = nng_http_req_get_header(req, "Origin");
	const char *host   = nng_http_req_get_header(req, "Host");
	const char *site   = nng_http_req_get_header(req, "Sec-Fetch-Site");
	char        want[512];

	if (type == NULL || strncmp(type, "application/json", 16) != 0) {
		web_reply_error(r, 415, "requests must be application/json");
		return false;
	}
	if (site != NULL && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0) {
		web_reply_error(r, 403, "cross-site request refused");
		return false;
	}
	snprintf(want, sizeof(want), "%s://%s", gw->tls ? "https" : "http",
	    host != NULL ? host : "");
	if (origin != NULL && strcmp(origin, want) != 0) {
		web_reply_error(r, 403, "request from another origin (%s) refused",
		    origin);
		return false;
	}
	return true;
}

/*
 * Plain HTTP is served on loopback only, so a request naming another host
 * came through a name that was made to point at loopback (DNS
 * rebinding): refused, whatever it asks for.
 */
static bool
host_ok(web_gateway *gw, nng_http_req *req)
{
	const char *host = nng_http_req_get_header(req, "Host");

	if (gw->tls)
		return true;
	return host != NULL &&
	    (strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]", 5) == 0 ||
	        strcmp(host, "localhost") == 0 ||
	        strncmp(host, "localhost:", 10) == 0);
}

static void
route(web_gateway *gw, nng_http_req *req, web_reply *r)
{
	const char *method = nng_http_req_get_method(req);
	const char *cookie = nng_http_req_get_header(req, "Cookie");
	const char *csrf   = nng_http_req_get_header(req, "X-CSRF-Token");
	char        path[1024];
	void       *body = NULL;
	size_t      len  = 0;
	web_who     who;
	bool        have;

	if (!host_ok(gw, req)) {
		web_reply_error(r, 421, "this web client answers to loopback "
					"names only");
		return;
	}
	snprintf(path, sizeof(path), "%s", nng_http_req_get_uri(req));
	path[strcspn(path, "?#")] = '\0';
	if (strncmp(path, "/api/", 5) != 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			web_reply_error(r, 405, "%s %s: only GET", method, path);
		else
			web_static_get(gw->root, path, r);
		return;
	}
	have = web_auth_session_get(gw->auth, cookie, &who);
	if (strcmp(path, "/api/session") == 0 && strcmp(method, "GET") == 0) {
		if (have)
			web_reply_json(r, 200, who_json(&who));
		else
			web_reply_error(r, 401, "not logged in");
		return;
	}
	if (strcmp(method, "POST") != 0) {
		web_reply_error(r, 405, "%s %s: only POST", method, path);
		return;
	}
	if (!post_ok(gw, req, r))
		return;
	nng_http_req_get_data(req, &body, &len);
	if (strcmp(path, "/api/login") == 0) {
		route_login(gw, body, len, r);
		return;
	}
	if (!have) {
		web_reply_error(r, 401, "not logged in");
		return;
	}
	if (csrf == NULL || !web_auth_token_eq(csrf, who.csrf)) {
		web_reply_error(r, 403, "missing or wrong CSRF token");
		return;
	}
	if (strcmp(path, "/api/logout") == 0) {
		char why[512];

		cookie_set(gw, r, "", 0);
		if (web_auth_session_end(gw->auth, cookie, why, sizeof(why)))
			web_reply_json(r, 200, json_object());
		else {
			/* Ended here, but a restart would bring it back. */
			FEDRPC_LOG_ERROR("web: log-out of %s: %s", who.handle, why);
			web_reply_error(r, 500, "log-out: %s", SERVER_FAULT);
		}
	} else if (strncmp(path, "/api/call/", 10) == 0)
		web_api_call(gw->ch, &who, path + 10, body, len, r);
	else
		web_reply_error(r, 404, "no such API: %s", path);
}

/* ---- workers ---- */

static void *
worker(void *arg)
{
	web_gateway *gw = arg;

	for (;;) {
		web_reply r = {.status = 500};
		job      *j;

		pthread_mutex_lock(&gw->mtx);
		while (gw->head == NULL && !gw->stopping)
			pthread_cond_wait(&gw->cv, &gw->mtx);
		if ((j = gw->head) == NULL) {
			pthread_mutex_unlock(&gw->mtx);
			return NULL;
		}
		if ((gw->head = j->next) == NULL)
			gw->tail = NULL;
		pthread_mutex_unlock(&gw->mtx);
		route(gw, nng_aio_get_input(j->aio, 0), &r);
		send_reply(j->aio, &r, gw->tls);
		free(j);
	}
}

/* nng's callback: hands the request to a worker. */
static void
on_request(nng_aio *aio)
{
	nng_http_handler *h  = nng_aio_get_input(aio, 1);
	web_gateway      *gw = nng_http_handler_get_data(h);
	job              *j  = malloc(sizeof(*j));
	bool              queued = false;

	if (j != NULL) {
		j->next = NULL;
		j->aio  = aio;
		pthread_mutex_lock(&gw->mtx);
		if (!gw->stopping) {
			if (gw->tail != NULL)
				gw->tail->next = j;
			else
				gw->head = j;
			gw->tail = j;
			queued   = true;
			pthread_cond_signal(&gw->cv);
		}
		pthread_mutex_unlock(&gw->mtx);
	}
	if (!queued) {
		web_reply r = {0};

		free(j);
		web_reply_error(&r, 503, "the web gateway is stopping");
		send_reply(aio, &r, gw->tls);
	}
}

/* ---- start and stop ---- */

static fedrpc_code
read_pem(const char *what, const char *path, char **out, fedrpc_status *st)
{
	size_t len;
	int    err;

	if ((err = fedrpc_file_read(path, FEDRPC_FILE_REGULAR, 1u << 20, out,
	         &len)) != 0)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "web.%s: cannot read %s: %s", what, path,
		    err == EFBIG ? "larger than 1 MiB"
		                 : fedrpc_file_read_error(err));
	return FEDRPC_OK;
}

static fedrpc_code
tls_open(web_gateway *gw, fedrpc_status *st)
{
	const fedrpc_config *cfg = gw->cfg;
	char                *cert = NULL, *key = NULL;
	int                  rv;
	fedrpc_code          code;

	if (cfg->web.tls_cert == NULL || cfg->web.tls_key == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "web.listen %s is https://: web.tls_cert and web.tls_key "
		    "are required",
		    cfg->web.listen);
	if ((code = read_pem("tls_cert", cfg->web.tls_cert, &cert, st)) !=
	        FEDRPC_OK ||
	    (code = read_pem("tls_key", cfg->web.tls_key, &key, st)) !=
	        FEDRPC_OK) {
		free(cert);
		return code;
	}
	rv = nng_tls_config_alloc(&gw->tls_cfg, NNG_TLS_MODE_SERVER);
	if (rv == 0)
		rv = nng_tls_config_auth_mode(gw->tls_cfg, NNG_TLS_AUTH_MODE_NONE);
	if (rv == 0)
		rv = nng_tls_config_version(gw->tls_cfg, NNG_TLS_1_2, NNG_TLS_1_3);
	if (rv == 0)
		rv = nng_tls_config_own_cert(gw->tls_cfg, cert, key, NULL);
	if (rv == 0)
		rv = nng_http_server_set_tls(gw->srv, gw->tls_cfg);
	explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	if (rv != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "web: cannot use web.tls_cert %s with web.tls_key %s: %s",
		    cfg->web.tls_cert, cfg->web.tls_key, nng_strerror(rv));
	return FEDRPC_OK;
}

static fedrpc_code
channel_open(web_gateway *gw, const char *ipc_path, fedrpc_status *st)
{
	fedrpc_channel_opts co = {0};
	char                dial[4200];

	/* unix:// rather than ipc://: the channel then does not probe the
	 * socket with bare connections (see fedctl_local.c). */
	snprintf(dial, sizeof(dial), "unix://%s", ipc_path);
	co.url                = dial;
	co.target_domain      = "";
	co.default_timeout_ms = 30000;
	co.reconnect_min_ms   = 20;
	co.reconnect_max_ms   = 500;
	if (fedrpc_channel_open(&gw->ch, &co, st) != FEDRPC_OK)
		return fedrpc_status_set(st, st->code,
		    "web: cannot open the local API channel %s", dial);
	return FEDRPC_OK;
}

static fedrpc_code
server_open(web_gateway *gw, fedrpc_status *st)
{
	nng_url          *url = NULL;
	nng_http_handler *h   = NULL;
	int               rv;

	if ((rv = nng_url_parse(&url, gw->cfg->web.listen)) != 0 ||
	    (rv = nng_http_server_hold(&gw->srv, url)) != 0) {
		if (url != NULL)
			nng_url_free(url);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "web.listen %s: %s", gw->cfg->web.listen, nng_strerror(rv));
	}
	nng_url_free(url);
	if (gw->tls && tls_open(gw, st) != FEDRPC_OK)
		return st->code;
	if ((rv = nng_http_handler_alloc(&h, "/", on_request)) != 0 ||
	    (rv = nng_http_handler_set_tree(h)) != 0 ||
	    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, true, BODY_MAX)) != 0 ||
	    (rv = nng_http_handler_set_data(h, gw, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(gw->srv, h)) != 0) {
		if (h != NULL)
			nng_http_handler_free(h);
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "web: cannot set up the HTTP handler: %s", nng_strerror(rv));
	}
	if ((rv = nng_http_server_start(gw->srv)) != 0)
		return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "web.listen %s: cannot listen: %s", gw->cfg->web.listen,
		    nng_strerror(rv));
	return FEDRPC_OK;
}

fedrpc_code
web_gateway_open(web_gateway **out, const fedrpc_config *cfg,
    const char *ipc_path, fedrpc_status *st)
{
	web_gateway *gw;

	*out = NULL;
	if (cfg->web.listen == NULL)
		return FEDRPC_OK;
	if ((gw = calloc(1, sizeof(*gw))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "web: out of memory");
	gw->cfg  = cfg;
	gw->root = cfg->web.root != NULL ? cfg->web.root : FEDRPC_WEB_DIR;
	gw->tls  = strncmp(cfg->web.listen, "https://", 8) == 0;
	pthread_mutex_init(&gw->mtx, NULL);
	pthread_cond_init(&gw->cv, NULL);
	if (web_auth_new(&gw->auth, cfg, st) != FEDRPC_OK ||
	    channel_open(gw, ipc_path, st) != FEDRPC_OK)
		goto fail;
	for (; gw->n_workers < WORKERS; gw->n_workers++)
		if (pthread_create(&gw->workers[gw->n_workers], NULL, worker, gw) !=
		    0) {
			fedrpc_status_set(
			    st, FEDRPC_RESOURCE_EXHAUSTED, "web: no threads");
			goto fail;
		}
	if (server_open(gw, st) != FEDRPC_OK)
		goto fail;
	FEDRPC_LOG_INFO("web client on %s (files from %s, passwords in %s, "
			"sessions in %s)",
	    cfg->web.listen, gw->root, cfg->web.passwords,
	    cfg->web.sessions != NULL ? cfg->web.sessions : "memory");
	*out = gw;
	return FEDRPC_OK;
fail:
	web_gateway_close(gw);
	return st->code;
}

void
web_gateway_close(web_gateway *gw)
{
	if (gw == NULL)
		return;
	/* New requests are answered at once; the workers finish the queue. */
	pthread_mutex_lock(&gw->mtx);
	gw->stopping = true;
	pthread_cond_broadcast(&gw->cv);
	pthread_mutex_unlock(&gw->mtx);
	for (int i = 0; i < gw->n_workers; i++)
		pthread_join(gw->workers[i], NULL);
	if (gw->srv != NULL) {
		nng_http_server_stop(gw->srv);
		nng_http_server_release(gw->srv);
	}
	if (gw->tls_cfg != NULL)
		nng_tls_config_free(gw->tls_cfg);
	if (gw->ch != NULL)
		fedrpc_channel_close(gw->ch);
	web_auth_free(gw->auth);
	pthread_cond_destroy(&gw->cv);
	pthread_mutex_destroy(&gw->mtx);
	free(gw);
}
