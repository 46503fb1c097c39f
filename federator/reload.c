/*
 * SIGHUP (or fedctl admin reload): re-read the configuration file and apply, without a restart and
 * without dropping a connection, what may change while running: the allow
 * list and search policies, per-peer limits, certificates (CA, our
 * certificate and key, CRL), log level and log file. All or nothing: a
 * file that does not load, or certificates that do not, leave every
 * setting as it was, and the log says why.
 *
 * Certificates: the federation listener takes the new TLS configuration
 * for connections accepted from now on (fedrpc_server_set_tls); outgoing
 * calls get a new channel pool, and the old one stays (with its
 * connections) for channels the adapter may still hold. Connections
 * already up keep the certificates they were made with.
 *
 * Everything else (domain, listen, local_api, storage, discovery, api,
 * workers, contexts, message size, delivery, web) needs a restart; a
 * change is logged.
 */
#include <string.h>

#include <fedrpc/log.h>

#include "federator/federator.h"

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Logs the settings that changed but are only read at start. */
static void
warn_restart_only(const fedrpc_config *old, const fedrpc_config *new)
{
	const char *what[16];
	size_t      n = 0;
	char        list[256];
	size_t      off = 0;

	if (!str_eq(old->domain, new->domain))
		what[n++] = "domain";
	if (!str_eq(old->listen, new->listen))
		what[n++] = "listen";
	if (!str_eq(old->local_api, new->local_api))
		what[n++] = "local_api";
	if (old->federation.enabled != new->federation.enabled &&
	    new->federation.enabled)
		what[n++] = "federation.enabled";
	if (old->storage.adapter != new->storage.adapter ||
	    !str_eq(old->storage.path, new->storage.path) ||
	    !str_eq(old->storage.conninfo, new->storage.conninfo) ||
	    !str_eq(old->storage.module, new->storage.module))
		what[n++] = "storage";
	if (!str_eq(old->discovery.nameserver, new->discovery.nameserver) ||
	    !str_eq(old->discovery.service, new->discovery.service) ||
	    old->discovery.n_statics != new->discovery.n_statics ||
	    old->discovery.timeout_ms != new->discovery.timeout_ms)
		what[n++] = "discovery";
	if (old->api.n_versions != new->api.n_versions ||
	    memcmp(old->api.versions, new->api.versions,
	        old->api.n_versions * sizeof(uint32_t)) != 0)
		what[n++] = "api.versions";
	if (old->limits.workers != new->limits.workers ||
	    old->limits.contexts != new->limits.contexts ||
	    old->limits.max_message_size != new->limits.max_message_size)
		what[n++] = "limits (workers, contexts, max_message_size)";
	/* The backend's delivery workers take their settings at open. */
	if (old->delivery.backoff_initial_ms != new->delivery.backoff_initial_ms ||
	    old->delivery.backoff_max_ms != new->delivery.backoff_max_ms ||
	    old->delivery.expiry != new->delivery.expiry ||
	    old->delivery.wait_ms != new->delivery.wait_ms ||
	    old->delivery.workers != new->delivery.workers ||
	    !str_eq(old->delivery.instance, new->delivery.instance) ||
	    old->delivery.lease_ms != new->delivery.lease_ms)
		what[n++] = "delivery";
	/* The web gateway keeps the settings it started with. */
	if (!str_eq(old->web.listen, new->web.listen) ||
	    !str_eq(old->web.root, new->web.root) ||
	    !str_eq(old->web.passwords, new->web.passwords) ||
	    !str_eq(old->web.sessions, new->web.sessions) ||
	    !str_eq(old->web.tls_cert, new->web.tls_cert) ||
	    !str_eq(old->web.tls_key, new->web.tls_key) ||
	    old->web.session_ttl != new->web.session_ttl ||
	    old->web.login_failures != new->web.login_failures)
		what[n++] = "web";
	if (n == 0)
		return;
	list[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		int k = snprintf(list + off, sizeof(list) - off, "%s%s",
		    i ? ", " : "", what[i]);

		if (k < 0)
			break;
		off += (size_t) k;
	}
	FEDRPC_LOG_WARN("reload: %s changed; that takes a restart, the "
			"running values stay",
	    list);
}

/* Reloads certificates if their files changed; *changed says whether. */
static fedrpc_code
reload_tls(federator *f, const fedrpc_config *cfg, egress_pool **new_pool,
    bool *changed, fedrpc_status *st)
{
	fedrpc_tls_opts tls;
	uint64_t        h = federator_tls_hash(cfg);

	*new_pool = NULL;
	*changed  = false;
	if (f->fed_srv == NULL)
		return FEDRPC_OK;
	if (h != 0 && h == f->tls_hash)
		return FEDRPC_OK;
	federator_tls_opts(cfg, &tls);
	/* The outgoing side first: it can still be dropped if the
	 * listener refuses the files. */
	if (egress_pool_new(f, cfg, new_pool, st) != FEDRPC_OK)
		return federator_status_prefix(
		    st, "certificates for outgoing calls");
	if (fedrpc_server_set_tls(f->fed_srv, &tls, st) != FEDRPC_OK) {
		egress_pool_free(*new_pool);
		*new_pool = NULL;
		return federator_status_prefix(
		    st, "certificates for the federation listener");
	}
	f->tls_hash = h;
	*changed    = true;
	return FEDRPC_OK;
}

static fedrpc_code
reload_locked(federator *f, fedrpc_status *st)
{
	fedrpc_config     *cfg;
	fedrpc_allowlist  *check;
	fedrpc_limits_opts lo;
	egress_pool       *pool = NULL;
	bool               tls_changed;

	if (fedrpc_config_load_file(f->config_path, &cfg, st) != FEDRPC_OK)
		goto refused;
	/* The allow list is checked on a scratch copy before anything is
	 * applied, so that a bad one cannot leave a half reload. */
	if (fedrpc_allowlist_new(&check, st) != FEDRPC_OK)
		goto refused_cfg;
	if (fedrpc_allowlist_set_config(check, cfg, st) != FEDRPC_OK) {
		fedrpc_allowlist_free(check);
		goto refused_cfg;
	}
	fedrpc_allowlist_free(check);
	if (reload_tls(f, cfg, &pool, &tls_changed, st) != FEDRPC_OK)
		goto refused_cfg;

	/* From here on nothing fails. */
	warn_restart_only(f->cfg, cfg);
	(void) fedrpc_allowlist_set_config(f->allow, cfg, st);
	federator_limits_opts(cfg, &lo);
	fedrpc_limits_set(f->limits, &lo);
	if (pool != NULL) {
		pthread_mutex_lock(&f->egress_mtx);
		pool->older = f->pool;
		f->pool     = pool;
		pthread_mutex_unlock(&f->egress_mtx);
	}
	fedrpc_origin_auth_flush(f->auth);
	if (federator_log_apply(f, cfg, st) != FEDRPC_OK)
		FEDRPC_LOG_WARN("reload: %s; logging where it was", st->message);
	fedrpc_status_reset(st);

	FEDRPC_LOG_INFO("reload: %s applied: federation %s, strategy %s, %zu "
			"domains listed, limits %u in flight / %g per second, "
			"certificates %s",
	    f->config_path, cfg->federation.enabled ? "enabled" : "disabled",
	    fedrpc_strategy_name(cfg->federation.strategy),
	    cfg->federation.n_allow, cfg->limits.max_inflight_per_peer,
	    cfg->limits.rate_per_peer, tls_changed ? "reloaded" : "unchanged");
	fedrpc_config_free(cfg);
	__atomic_add_fetch(&f->reloads, 1, __ATOMIC_RELAXED);
	return FEDRPC_OK;

refused_cfg:
	fedrpc_config_free(cfg);
refused:
	__atomic_add_fetch(&f->reload_failures, 1, __ATOMIC_RELAXED);
	FEDRPC_LOG_ERROR("reload refused, keeping the old settings: %s",
	    st->message);
	return st->code;
}

fedrpc_code
federator_reload(federator *f, fedrpc_status *st)
{
	fedrpc_code code;

	pthread_mutex_lock(&f->reload_mtx);
	code = reload_locked(f, st);
	pthread_mutex_unlock(&f->reload_mtx);
	return code;
}
