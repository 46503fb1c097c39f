/*
 * Assembling a federator from its configuration, in the order a call
 * travels: TLS and the resolver, admission (origin authentication, allow
 * list, limits), the outgoing channel pool, the storage adapter, and the
 * two servers: the federation listener (tls+tcp://, mutual TLS only) and
 * the local API (ipc://, a socket only its owner may open). Stopping runs
 * the same way backwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "core/base/hash.h"
#include "core/base/clock.h"
#include "core/base/private_file.h"
#include "federator/federator.h"
#include "federator/web/web.h"

#ifdef FEDRPC_HAVE_ADAPTERS
#include <fedrpc/adapter.h>
#endif

/* A PEM file larger than this is not one of ours. */
#define TLS_FILE_MAX (4u << 20)

fedrpc_code
federator_status_prefix(fedrpc_status *st, const char *fmt, ...)
{
	char    msg[FEDRPC_STATUS_MESSAGE_MAX], prefix[FEDRPC_STATUS_MESSAGE_MAX];
	va_list ap;

	snprintf(msg, sizeof(msg), "%s", st->message);
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	return fedrpc_status_set(st, st->code, "%s: %s", prefix, msg);
}

void
federator_tls_opts(const fedrpc_config *cfg, fedrpc_tls_opts *out)
{
	fedrpc_config_tls_opts(cfg, out);
}

/* Adds a file's contents to h; false if it cannot be read. */
static bool
hash_file(uint64_t *h, const char *path)
{
	uint8_t buf[4096];
	size_t  n, total = 0;
	FILE   *fp;

	if (path == NULL) {
		*h = fedrpc_hash_bytes(*h, "-", 1);
		return true;
	}
	if ((fp = fopen(path, "rb")) == NULL)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0 && total < TLS_FILE_MAX) {
		*h = fedrpc_hash_bytes(*h, buf, n);
		total += n;
	}
	fclose(fp);
	*h = fedrpc_hash_bytes(*h, "\0", 1);
	return true;
}

uint64_t
federator_tls_hash(const fedrpc_config *cfg)
{
	uint64_t h = FEDRPC_HASH_INIT;
	int      v = cfg->tls.min_version;

	if (!hash_file(&h, cfg->tls.ca) || !hash_file(&h, cfg->tls.cert) ||
	    !hash_file(&h, cfg->tls.key) || !hash_file(&h, cfg->tls.crl))
		return 0;
	h = fedrpc_hash_bytes(h, &v, sizeof(v));
	return h != 0 ? h : 1;
}

void
federator_limits_opts(const fedrpc_config *cfg, fedrpc_limits_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->max_inflight = cfg->limits.max_inflight_per_peer;
	out->rate         = cfg->limits.rate_per_peer;
	out->burst        = cfg->limits.rate_burst;
}

/* The log file, appended to; made mode 0600 (it names peers, users'
 * domains and the calls they make), an existing one narrowed to 0640. */
static FILE *
log_open(const char *path, fedrpc_private_file *pf)
{
	FILE *fp;
	int   fd;

	if ((fd = fedrpc_private_file_open(path, O_WRONLY | O_APPEND, pf)) < 0)
		return NULL;
	if ((fp = fdopen(fd, "a")) == NULL) {
		close(fd);
		return NULL;
	}
	setvbuf(fp, NULL, _IOLBF, 0);
	return fp;
}

fedrpc_code
federator_log_apply(federator *f, const fedrpc_config *cfg, fedrpc_status *st)
{
	fedrpc_private_file pf = {0};
	FILE               *fp = NULL;

	/* Before anything is logged about this (re)load. */
	fedrpc_log_set_json(cfg->log.format == FEDRPC_LOG_FORMAT_JSON);
	fedrpc_log_set_level(f->log_override >= 0
		? (fedrpc_log_level) f->log_override
		: cfg->log.level);
	/* Reopened on every reload, so log rotation needs only a SIGHUP. */
	if (cfg->log.file != NULL && (fp = log_open(cfg->log.file, &pf)) == NULL)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot open log file %s: %s", cfg->log.file,
		    strerror(errno));
	fedrpc_log_set_stream(fp);
	if (f->log_file != NULL)
		fclose(f->log_file);
	f->log_file = fp;
	if (pf.narrowed)
		FEDRPC_LOG_WARN("log file %s was mode %04o, readable by "
				"others: now %04o",
		    cfg->log.file, (unsigned) pf.was, (unsigned) pf.now);
	return FEDRPC_OK;
}

static fedrpc_code
open_resolver(federator *f, fedrpc_status *st)
{
	const fedrpc_config  *cfg = f->cfg;
	fedrpc_static_route  *routes = NULL;
	fedrpc_resolver_opts  o      = {0};
	fedrpc_code           code;

	if (cfg->discovery.n_statics > 0 &&
	    (routes = calloc(cfg->discovery.n_statics, sizeof(*routes))) ==
	        NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < cfg->discovery.n_statics; i++) {
		routes[i].domain = cfg->discovery.statics[i].domain;
		routes[i].host   = cfg->discovery.statics[i].host;
		routes[i].port   = cfg->discovery.statics[i].port;
	}
	o.nameserver     = cfg->discovery.nameserver;
	o.service        = cfg->discovery.service;
	o.timeout_ms     = cfg->discovery.timeout_ms;
	o.negative_ttl_s = cfg->discovery.negative_ttl;
	o.statics        = routes;
	o.n_statics      = cfg->discovery.n_statics;
	code             = fedrpc_resolver_new(&f->resolver, &o, st);
	free(routes);
	return code;
}

#ifdef FEDRPC_HAVE_ADAPTERS
/* The policy we hold for users of `domain`, as the proto enum. */
static fedrpc_adapter_search_policy
search_policy(void *arg, const char *domain)
{
	federator *f = arg;

	switch (fedrpc_allowlist_search_policy(f->allow, domain)) {
	case FEDRPC_SEARCH_FULL:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH;
	case FEDRPC_SEARCH_EXACT_HANDLE:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_EXACT_HANDLE_SEARCH;
	case FEDRPC_SEARCH_NONE:
	default:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH;
	}
}

static fedrpc_code
open_adapter(federator *f, fedrpc_status *st)
{
	const fedrpc_config      *cfg = f->cfg;
	fedrpc_adapter_instance  *inst;
	const char               *name, *config;
	fedrpc_adapter_env        env = {
	           .domain            = cfg->domain,
	           .search_policy     = search_policy,
	           .search_policy_arg = f,
	           .api_versions      = cfg->api.versions,
	           .n_api_versions    = cfg->api.n_versions,
	           .channel_for       = egress_channel_for,
	           .channel_arg       = f,
	           .delivery          = {
	                        .backoff_initial_ms = cfg->delivery.backoff_initial_ms,
	                        .backoff_max_ms     = cfg->delivery.backoff_max_ms,
	                        .expiry_s           = cfg->delivery.expiry,
	                        /* 0 in the file: answer at once. */
	                        .wait_ms  = cfg->delivery.wait_ms > 0
	                             ? cfg->delivery.wait_ms
	                             : UINT32_MAX,
	                        .workers  = cfg->delivery.workers,
	                        .instance = cfg->delivery.instance,
	                        .lease_ms = cfg->delivery.lease_ms,
                },
        };

	switch (cfg->storage.adapter) {
	case FEDRPC_STORAGE_POSTGRESQL:
		name   = "postgresql";
		config = cfg->storage.conninfo;
		break;
	case FEDRPC_STORAGE_MODULE:
		name   = cfg->storage.module;
		config = cfg->storage.conninfo != NULL ? cfg->storage.conninfo
						       : cfg->storage.path;
		break;
	case FEDRPC_STORAGE_SQLITE:
	default:
		name   = "sqlite";
		config = cfg->storage.path;
		break;
	}
	if (fedrpc_adapter_open(name, &env, config, &inst, st) != FEDRPC_OK)
		return federator_status_prefix(
		    st, "storage adapter %s", name != NULL ? name : "-");
	f->adapter = inst;
	FEDRPC_LOG_INFO("storage: %s adapter (%s)", name,
	    config != NULL ? config : "-");
	return FEDRPC_OK;
}
#endif

/* The socket file of an ipc:// URL, its folder made if missing. */
static fedrpc_code
prepare_ipc(federator *f, fedrpc_status *st)
{
	const char *url = f->cfg->local_api;
	char       *slash;

	if (url == NULL || strncmp(url, "ipc://", 6) != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "local_api must be an ipc:// URL, not %s",
		    url != NULL ? url : "(none)");
	if ((f->ipc_path = strdup(url + 6)) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	if ((slash = strrchr(f->ipc_path, '/')) != NULL && slash != f->ipc_path) {
		*slash = '\0';
		/* A folder we make is ours alone; an existing one is left
		 * as the operator set it up. */
		if (mkdir(f->ipc_path, 0700) != 0 && errno != EEXIST) {
			fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "cannot make the folder %s for the local API "
			    "socket: %s",
			    f->ipc_path, strerror(errno));
			*slash = '/';
			return st->code;
		}
		*slash = '/';
	}
	return FEDRPC_OK;
}

fedrpc_code
federator_local_new(federator *f, fedrpc_server **out, fedrpc_status *st)
{
	fedrpc_server_opts o = {0};
	fedrpc_server     *srv;

	*out               = NULL;
	o.url              = f->cfg->local_api;
	o.max_message_size = f->cfg->limits.max_message_size;
	o.workers          = f->cfg->limits.workers;
	/* A local client that connects and says nothing is closed as a
	 * federation peer would be. */
	o.handshake_timeout_ms = f->cfg->limits.handshake_timeout_ms;
	if (fedrpc_server_new(&srv, &o, st) != FEDRPC_OK)
		return federator_status_prefix(
		    st, "local API %s", f->cfg->local_api);
	if (federator_health_register(f, srv, true, st) != FEDRPC_OK ||
	    federator_admin_register(f, srv, st) != FEDRPC_OK)
		goto fail;
#ifdef FEDRPC_HAVE_ADAPTERS
	if (f->adapter != NULL &&
	    fedrpc_adapter_register(f->adapter, NULL, srv, st) != FEDRPC_OK) {
		federator_status_prefix(
		    st, "storage adapter: cannot register the local API");
		goto fail;
	}
#endif
	if (federator_reflection_register(srv, st) != FEDRPC_OK)
		goto fail;
	*out = srv;
	return FEDRPC_OK;
fail:
	fedrpc_server_free(srv);
	return st->code;
}

fedrpc_code
federator_local_start(federator *f, fedrpc_server *srv, fedrpc_status *st)
{
	/* The socket is made with mode 0600 from the start (umask), not
	 * chmod-ed after: no moment when others could connect. */
	mode_t      old  = umask(077);
	fedrpc_code code = fedrpc_server_start(srv, st);

	umask(old);
	if (code != FEDRPC_OK)
		return federator_status_prefix(
		    st, "local API %s", f->cfg->local_api);
	f->ipc_bound = true;
	if (chmod(f->ipc_path, 0600) != 0)
		FEDRPC_LOG_WARN("cannot set mode 0600 on %s: %s", f->ipc_path,
		    strerror(errno));
	return FEDRPC_OK;
}

static fedrpc_code
open_servers(federator *f, fedrpc_status *st)
{
	const fedrpc_config *cfg = f->cfg;
	fedrpc_tls_opts      tls;
	fedrpc_server_opts   o = {0};

	if ((f->cfg->federation.enabled)) {
		federator_tls_opts(cfg, &tls);
		if (cfg->listen == NULL || strncmp(cfg->listen, "tls+tcp://", 10))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "the federation listener must be tls+tcp:// "
			    "(mutual TLS only), not %s",
			    cfg->listen != NULL ? cfg->listen : "(none)");
		if (tls.ca_file == NULL || tls.cert_file == NULL ||
		    tls.key_file == NULL)
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "the federation listener needs tls.ca, tls.cert "
			    "and tls.key (mutual TLS only)");
		o.url              = cfg->listen;
		o.tls              = &tls;
		o.max_message_size = cfg->limits.max_message_size;
		o.workers          = cfg->limits.workers;
		o.contexts         = cfg->limits.contexts;
		o.handshake_timeout_ms = cfg->limits.handshake_timeout_ms;
		/* Without its certificates the listener cannot exist: there
		 * is no plaintext federation. */
		if (fedrpc_server_new(&f->fed_srv, &o, st) != FEDRPC_OK)
			return federator_status_prefix(st,
			    "the federation listener %s needs its TLS "
			    "certificates",
			    cfg->listen);
		federator_admit_install(f, f->fed_srv);
		if (federator_health_register(f, f->fed_srv, false, st) !=
		    FEDRPC_OK)
			return st->code;
	}

#ifdef FEDRPC_HAVE_ADAPTERS
	if (open_adapter(f, st) != FEDRPC_OK)
		return st->code;
	if (f->fed_srv != NULL &&
	    fedrpc_adapter_register(f->adapter, f->fed_srv, NULL, st) !=
	        FEDRPC_OK)
		return federator_status_prefix(
		    st, "storage adapter: cannot register its services");
#else
	FEDRPC_LOG_WARN("built without storage adapters: serving health and "
			"version only");
	if (f->fed_srv != NULL &&
	    federator_version_register(f, f->fed_srv, st) != FEDRPC_OK)
		return st->code;
#endif

	if (f->fed_srv != NULL &&
	    federator_reflection_register(f->fed_srv, st) != FEDRPC_OK)
		return st->code;
	if (prepare_ipc(f, st) != FEDRPC_OK ||
	    federator_local_new(f, &f->local_srv, st) != FEDRPC_OK ||
	    federator_local_start(f, f->local_srv, st) != FEDRPC_OK)
		return st->code;
	if (f->fed_srv != NULL && fedrpc_server_start(f->fed_srv, st) != FEDRPC_OK)
		return federator_status_prefix(
		    st, "federation listener %s", cfg->listen);
	return local_watch_start(f, st);
}

fedrpc_code
federator_open(federator **out, const char *config_path, fedrpc_config *cfg,
    int log_override, fedrpc_status *st)
{
	federator              *f;
	fedrpc_origin_auth_opts ao = {0};
	fedrpc_limits_opts      lo;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->config_path = strdup(config_path)) == NULL) {
		free(f);
		fedrpc_config_free(cfg);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	f->cfg          = cfg;
	f->log_override = log_override;
	pthread_mutex_init(&f->egress_mtx, NULL);
	pthread_mutex_init(&f->reload_mtx, NULL);
	pthread_mutex_init(&f->watch_mtx, NULL);
	pthread_cond_init(&f->watch_cv, NULL);
	pthread_mutex_init(&f->probe_mtx, NULL);
	fedrpc_clock_cond_init(&f->probe_cv);

	if (federator_log_apply(f, cfg, st) != FEDRPC_OK ||
	    federator_metrics_start(f, st) != FEDRPC_OK ||
	    federator_fd_limit_apply(cfg, st) != FEDRPC_OK ||
	    fedrpc_tls_engine_init(st) != FEDRPC_OK ||
	    open_resolver(f, st) != FEDRPC_OK)
		goto fail;
	ao.resolver          = f->resolver;
	ao.lookup_timeout_ms = cfg->discovery.timeout_ms;
	federator_limits_opts(cfg, &lo);
	if (fedrpc_origin_auth_new(&f->auth, &ao, st) != FEDRPC_OK ||
	    fedrpc_allowlist_new(&f->allow, st) != FEDRPC_OK ||
	    fedrpc_allowlist_set_config(f->allow, cfg, st) != FEDRPC_OK ||
	    fedrpc_limits_new(&f->limits, &lo, st) != FEDRPC_OK)
		goto fail;
	f->tls_hash = federator_tls_hash(cfg);
	if (cfg->federation.enabled &&
	    egress_pool_new(f, cfg, &f->pool, st) != FEDRPC_OK)
		goto fail;
	if (open_servers(f, st) != FEDRPC_OK ||
	    federator_http_start(f, st) != FEDRPC_OK ||
	    web_gateway_open(&f->web, cfg, f->ipc_path, st) != FEDRPC_OK)
		goto fail;

	FEDRPC_LOG_INFO("%s %s: federation %s%s (strategy %s, %zu domains "
			"listed), local API %s",
	    FEDERATOR_NAME, cfg->domain, f->fed_srv != NULL ? "on " : "off",
	    f->fed_srv != NULL ? cfg->listen : "",
	    fedrpc_strategy_name(cfg->federation.strategy),
	    cfg->federation.n_allow, cfg->local_api);
	*out = f;
	return FEDRPC_OK;

fail:
	federator_close(f);
	return st->code;
}

typedef struct stop_args {
	fedrpc_server *srv;
	uint32_t       grace_ms;
} stop_args;

static void *
stop_thread(void *arg)
{
	stop_args *a = arg;

	fedrpc_server_stop(a->srv, a->grace_ms);
	return NULL;
}

void
federator_stop(federator *f, uint32_t grace_ms)
{
	pthread_t t;
	stop_args a = {NULL, grace_ms};
	bool      both;

	__atomic_store_n(&f->stopping, 1, __ATOMIC_RELEASE);
	/* The web client first: it calls the local API (as the metrics
	 * endpoint does). */
	web_gateway_close(f->web);
	f->web = NULL;
	federator_http_stop(f);
	local_watch_stop(f);
	a.srv = f->local_srv;
	/* Both servers get the same grace period, at the same time. */
	both = f->local_srv != NULL && f->fed_srv != NULL &&
	    pthread_create(&t, NULL, stop_thread, &a) == 0;
	if (f->fed_srv != NULL)
		fedrpc_server_stop(f->fed_srv, grace_ms);
	if (both)
		pthread_join(t, NULL);
	else if (f->local_srv != NULL)
		fedrpc_server_stop(f->local_srv, grace_ms);
}

void
federator_close(federator *f)
{
	if (f == NULL)
		return;
	federator_stop(f, 0);
	/* Servers first: no handler may run while the adapter closes. */
	fedrpc_server_free(f->fed_srv);
	fedrpc_server_free(f->local_srv);
#ifdef FEDRPC_HAVE_ADAPTERS
	fedrpc_adapter_close(f->adapter);
#endif
	egress_pool_free(f->pool);
	/* No server or channel is left to report a call. */
	federator_metrics_stop(f);
	fedrpc_limits_free(f->limits);
	fedrpc_allowlist_free(f->allow);
	fedrpc_origin_auth_free(f->auth);
	fedrpc_resolver_free(f->resolver);
	/* Only our own socket: a failed start may have met another's. */
	if (f->ipc_bound)
		unlink(f->ipc_path);
	fedrpc_log_set_stream(NULL);
	if (f->log_file != NULL)
		fclose(f->log_file);
	fedrpc_config_free(f->cfg);
	pthread_mutex_destroy(&f->egress_mtx);
	pthread_mutex_destroy(&f->reload_mtx);
	pthread_mutex_destroy(&f->watch_mtx);
	pthread_cond_destroy(&f->watch_cv);
	pthread_mutex_destroy(&f->probe_mtx);
	pthread_cond_destroy(&f->probe_cv);
	free(f->ipc_path);
	free(f->config_path);
	free(f);
}
