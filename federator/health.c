/*
 * fedrpc.health.v1.Health, served on both of the daemon's servers. On the
 * local API it also answers with counters as reply metadata, so operators
 * (and tests) can see what admission did without reading logs:
 *   federation-admitted  federation calls that passed admission
 *   federation-refused   federation calls admission answered itself
 *   federation-connections  connections accepted (TLS handshake done)
 *   config-reloads       reloads applied since start
 *   config-reload-failures  reloads refused (old settings kept)
 *   local-api-restarts   times the local listener was rebuilt (local_watch.c)
 *   federation-listener  "serving", "off", or "not serving: <why>" when the
 *                        listener fails its self-check (listen_watch.c)
 *   listener-checks      self-checks of the listener run so far
 *   listener-check-failures  those that failed
 *   dns-lookups          domains looked up (DNS or static routes)
 *   egress-denied        outgoing calls the allow list refused
 *   egress-attempts      connection attempts to other domains
 * The same list is the admin service's GetCounters (admin.c, fedctl admin
 * health), from federator_counters().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fedrpc/health/v1/health.fedrpc.h"
#include "federator/federator.h"

typedef federator_health health_impl;

#define SERVING FEDRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING \
	FEDRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define UNKNOWN_SERVICE \
	FEDRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* Services each side serves (beyond health), by full name prefix. */
static bool
serves(const health_impl *h, const char *service)
{
	static const char *const federation[] = {
		"fedrpc.federation.v1.Version",
		"fedrpc.federation.v1.Users",
		"fedrpc.federation.v1.Conversations",
	};
	static const char *const local[] = {
		"fedrpc.local.v1.Users",
		"fedrpc.local.v1.Connections",
		"fedrpc.local.v1.Conversations",
		"fedrpc.local.v1.Inbox",
	};

	if (h->local && strcmp(service, "fedrpc.local.v1.Admin") == 0)
		return true;

	if (strcmp(service, "fedrpc.health.v1.Health") == 0)
		return true;
	if (!h->local) {
		/* Without an adapter only Version is served. */
		if (strcmp(service, federation[0]) == 0)
			return true;
		for (size_t i = 1; i < 3; i++)
			if (strcmp(service, federation[i]) == 0)
				return h->f->adapter != NULL;
		return false;
	}
	for (size_t i = 0; i < 4; i++)
		if (strcmp(service, local[i]) == 0)
			return h->f->adapter != NULL;
	return false;
}

static void
add_metadata(void *arg, const char *key, const char *value)
{
	(void) fedrpc_ctx_add_reply_metadata(
	    arg, key, (const uint8_t *) value, strlen(value));
}

static void
emit_u64(federator_emit_fn emit, void *arg, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	emit(arg, key, buf);
}

static uint64_t
load(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* What discovery and the outgoing channels did. */
static void
egress_counters(federator *f, federator_emit_fn emit, void *arg)
{
	fedrpc_resolver_stats rs;
	fedrpc_domains_stats  ds;
	uint64_t              attempts = 0;

	fedrpc_resolver_stats_get(f->resolver, &rs);
	pthread_mutex_lock(&f->egress_mtx);
	for (egress_pool *p = f->pool; p != NULL; p = p->older) {
		fedrpc_domains_stats_get(p->domains, &ds);
		attempts += ds.attempts;
	}
	pthread_mutex_unlock(&f->egress_mtx);
	emit_u64(emit, arg, "dns-lookups", rs.lookups);
	emit_u64(emit, arg, "egress-denied", load(&f->egress_denied));
	emit_u64(emit, arg, "egress-attempts", attempts);
}

/* Whether a service depends on the federation listener: the daemon as a
 * whole ("") and every federation service; the local ones do not. */
static bool
listener_matters(const health_impl *h, const char *service)
{
	if (!h->local || service == NULL || service[0] == '\0')
		return true;
	return strncmp(service, "fedrpc.local.", 13) != 0;
}

void
federator_counters(federator *f, federator_emit_fn emit, void *arg)
{
	char why[sizeof(f->listen_why)], v[sizeof(why) + 16];

	if (f->fed_srv == NULL)
		snprintf(v, sizeof(v), "off");
	else if (listen_watch_failing(f, why, sizeof(why)))
		snprintf(v, sizeof(v), "not serving: %s", why);
	else
		snprintf(v, sizeof(v), "serving");
	emit(arg, "federation-listener", v);
	emit_u64(emit, arg, "listener-checks", load(&f->listen_checks));
	emit_u64(emit, arg, "listener-check-failures", load(&f->listen_failures));
	emit_u64(emit, arg, "federation-admitted", load(&f->admitted));
	emit_u64(emit, arg, "federation-refused", load(&f->refused));
	emit_u64(emit, arg, "federation-connections", load(&f->connections));
	emit_u64(emit, arg, "config-reloads", load(&f->reloads));
	emit_u64(emit, arg, "config-reload-failures", load(&f->reload_failures));
	emit_u64(emit, arg, "local-api-restarts", load(&f->local_restarts));
	egress_counters(f, emit, arg);
}

static fedrpc_code
health_check(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Health__V1__HealthCheckRequest *req,
    Fedrpc__Health__V1__HealthCheckResponse *resp, fedrpc_status *st)
{
	health_impl *h = impl;
	federator   *f = h->f;

	(void) st;
	if (req->service != NULL && req->service[0] != '\0' &&
	    !serves(h, req->service))
		resp->status = UNKNOWN_SERVICE;
	else if (__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE))
		resp->status = NOT_SERVING;
	else if (listener_matters(h, req->service) &&
	    listen_watch_failing(f, NULL, 0))
		resp->status = NOT_SERVING;
	else
		resp->status = SERVING;
	if (h->local)
		federator_counters(f, add_metadata, ctx);
	return FEDRPC_OK;
}

fedrpc_code
federator_health_register(
    federator *f, fedrpc_server *srv, bool local, fedrpc_status *st)
{
	const fedrpc_health_v1_health_handlers hs = {.check = health_check};
	health_impl                           *h  = &f->health[local ? 1 : 0];

	h->f     = f;
	h->local = local;
	return fedrpc_health_v1_health_register(srv, &hs, h, st);
}
