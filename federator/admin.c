/*
 * fedrpc.local.v1.Admin (proto/fedrpc/local/v1/admin.proto), served on
 * the local API only: the daemon's view of each domain it calls, ending
 * a domain's back-off, reload, and the counters. The local API socket is
 * mode 0600 already; beyond that every admin call checks the caller's
 * user (the socket's peer credentials) and refuses anyone but the
 * daemon's own user and root, so a socket made reachable by mistake (a
 * changed mode, a shared folder) still does not hand out the controls.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "core/base/dns_name.h"
#include "federator/federator.h"
#include "fedrpc/local/v1/admin.fedrpc.h"

#ifdef FEDRPC_HAVE_ADAPTERS
#include <fedrpc/adapter.h>
#endif

typedef Fedrpc__Local__V1__DomainView domain_view;

static fedrpc_code
check_caller(fedrpc_ctx *ctx, fedrpc_status *st)
{
	uint64_t uid;

	/* Both transports give the local socket's peer user id. */
	if (!fedrpc_conn_peer_uid(fedrpc_ctx_conn(ctx), &uid))
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "admin: cannot tell who is calling (not a local socket "
		    "peer): refused");
	if (uid != 0 && uid != (uint64_t) geteuid())
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "admin: user %llu may not use the admin service (only the "
		    "daemon's user %u and root)",
		    (unsigned long long) uid, (unsigned) geteuid());
	return FEDRPC_OK;
}

/* A monotonic time in ms as ms since the Unix epoch (0 stays 0). */
static int64_t
unix_ms(uint64_t mono)
{
	struct timespec ts;
	int64_t         now_unix;
	uint64_t        now = fedrpc_clock_ms();

	if (mono == 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_unix = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return now_unix - (int64_t) (now - mono);
}

static fedrpc_code
nomem(fedrpc_status *st)
{
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "admin: out of memory");
}

static fedrpc_code
fill_srv(fedrpc_ctx *ctx, domain_view *v, const fedrpc_srv_answer *a,
    fedrpc_status *st)
{
	v->srv_static = a->is_static;
	if (a->n_targets == 0)
		return FEDRPC_OK;
	if ((v->srv = fedrpc_ctx_alloc(ctx, a->n_targets * sizeof(*v->srv))) ==
	    NULL)
		return nomem(st);
	for (size_t i = 0; i < a->n_targets; i++) {
		const fedrpc_srv_target      *t = &a->targets[i];
		Fedrpc__Local__V1__SrvTarget *o = fedrpc_ctx_alloc(ctx, sizeof(*o));

		if (o == NULL)
			return nomem(st);
		fedrpc__local__v1__srv_target__init(o);
		o->host     = fedrpc_ctx_strdup(ctx, t->host);
		o->port     = t->port;
		o->priority = t->priority;
		o->weight   = t->weight;
		if (t->n_addrs > 0 &&
		    (o->addresses = fedrpc_ctx_alloc(
		         ctx, t->n_addrs * sizeof(char *))) == NULL)
			return nomem(st);
		for (size_t k = 0; k < t->n_addrs; k++)
			o->addresses[o->n_addresses++] =
			    fedrpc_ctx_strdup(ctx, t->addrs[k]);
		v->srv[v->n_srv++] = o;
	}
	return FEDRPC_OK;
}

/* How long a view waits for a lookup of a domain whose channel holds no
 * answer. */
#define VIEW_LOOKUP_MS 2000

/* The view of one domain channel; NULL with st set on error. */
static domain_view *
view_of(federator *f, fedrpc_ctx *ctx, const char *domain, fedrpc_channel *ch,
    fedrpc_status *st)
{
	domain_view       *v = fedrpc_ctx_alloc(ctx, sizeof(*v));
	fedrpc_domain_info di;
	fedrpc_srv_answer *a = NULL;
	fedrpc_code        code;
	char               err[FEDRPC_STATUS_MESSAGE_MAX];

	if (v == NULL) {
		nomem(st);
		return NULL;
	}
	fedrpc__local__v1__domain_view__init(v);
	v->domain = fedrpc_ctx_strdup(ctx, domain);
	if (fedrpc_domain_info_get(ch, &di) != FEDRPC_OK ||
	    fedrpc_domain_detail_get(ch, &code, err, sizeof(err), &a) !=
	        FEDRPC_OK)
		return v;
	v->state                = fedrpc_ctx_strdup(ctx, di.state);
	v->target               = fedrpc_ctx_strdup(ctx, di.target);
	v->port                 = di.port;
	v->address              = fedrpc_ctx_strdup(ctx, di.address);
	v->backoff_ms           = di.backoff_ms;
	v->failures             = di.failures;
	v->next_attempt_unix_ms = unix_ms(di.retry_at_ms);
	v->last_attempt_unix_ms = unix_ms(di.last_attempt_ms);
	v->last_error           = fedrpc_ctx_strdup(ctx, err);
	v->last_error_code =
	    fedrpc_ctx_strdup(ctx, code != FEDRPC_OK ? fedrpc_code_name(code) : "");
	if (a == NULL) {
		/* Asked for the view: what the domain publishes now. */
		fedrpc_status ls = {0};

		v->srv_looked_up = true;
		if (fedrpc_resolver_lookup(f->resolver, domain, VIEW_LOOKUP_MS,
		        &a, &ls) != FEDRPC_OK)
			v->srv_error = fedrpc_ctx_strdup(ctx, ls.message);
		fedrpc_status_reset(&ls);
	}
	if (a != NULL) {
		fedrpc_code rc = fill_srv(ctx, v, a, st);

		fedrpc_srv_answer_free(a);
		if (rc != FEDRPC_OK)
			return NULL;
	}
	return v;
}

/* The outgoing channel to `domain` (lower case), or NULL; egress_mtx
 * held. */
static fedrpc_channel *
channel_of(federator *f, const char *domain)
{
	if (f->pool == NULL)
		return NULL;
	for (egress_entry *e = f->pool->entries; e != NULL; e = e->next)
		if (strcmp(e->domain, domain) == 0)
			return e->ch;
	return NULL;
}

static int
by_domain(const void *a, const void *b)
{
	const domain_view *x = *(domain_view *const *) a;
	const domain_view *y = *(domain_view *const *) b;

	return strcmp(x->domain, y->domain);
}

static fedrpc_code
list_domains(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListDomainsRequest *req,
    Fedrpc__Local__V1__ListDomainsResponse *resp, fedrpc_status *st)
{
	federator       *f = impl;
	size_t           n = 0, k = 0;
	char             want[DNS_NAME_MAX] = "", why[96];
	fedrpc_channel **chs   = NULL;
	char           **names = NULL;

	if (check_caller(ctx, st) != FEDRPC_OK)
		return st->code;
	if (req->domain != NULL && req->domain[0] != '\0' &&
	    !dns_domain_check(req->domain, want, why, sizeof(why)))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "admin: domain: '%.64s' is not a valid domain name: %s",
		    req->domain, why);
	/* The channels first, the views after: a view may wait for a
	 * lookup, and outgoing calls must not wait for egress_mtx. The
	 * channels live until the daemon stops (egress.c). */
	pthread_mutex_lock(&f->egress_mtx);
	if (f->pool != NULL)
		for (egress_entry *e = f->pool->entries; e != NULL; e = e->next)
			n++;
	if (n > 0 &&
	    ((resp->domains = fedrpc_ctx_alloc(ctx, n * sizeof(domain_view *))) ==
	            NULL ||
	        (chs = fedrpc_ctx_alloc(ctx, n * sizeof(*chs))) == NULL ||
	        (names = fedrpc_ctx_alloc(ctx, n * sizeof(*names))) == NULL)) {
		pthread_mutex_unlock(&f->egress_mtx);
		return nomem(st);
	}
	for (egress_entry *e = f->pool != NULL ? f->pool->entries : NULL;
	     e != NULL && k < n; e = e->next) {
		if (want[0] != '\0' && strcmp(want, e->domain) != 0)
			continue;
		chs[k]   = e->ch;
		names[k] = fedrpc_ctx_strdup(ctx, e->domain);
		k++;
	}
	pthread_mutex_unlock(&f->egress_mtx);
	for (size_t i = 0; i < k; i++) {
		domain_view *v;

		if (names[i] == NULL)
			return nomem(st);
		if ((v = view_of(f, ctx, names[i], chs[i], st)) == NULL)
			return st->code;
		resp->domains[resp->n_domains++] = v;
	}
	if (resp->n_domains > 1)
		qsort(resp->domains, resp->n_domains, sizeof(domain_view *),
		    by_domain);
	return FEDRPC_OK;
}

static fedrpc_code
reset_backoff(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ResetBackoffRequest *req,
    Fedrpc__Local__V1__ResetBackoffResponse *resp, fedrpc_status *st)
{
	federator      *f = impl;
	fedrpc_channel *ch;
	char            name[DNS_NAME_MAX], why[96];

	if (check_caller(ctx, st) != FEDRPC_OK)
		return st->code;
	if (!dns_domain_check(req->domain, name, why, sizeof(why)))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "admin: domain: '%.64s' is not a valid domain name: %s",
		    req->domain != NULL ? req->domain : "", why);
	pthread_mutex_lock(&f->egress_mtx);
	if ((ch = channel_of(f, name)) == NULL) {
		pthread_mutex_unlock(&f->egress_mtx);
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "admin: this daemon has not called %s (no channel to "
		    "reset)",
		    name);
	}
	pthread_mutex_unlock(&f->egress_mtx);
	/* The channel lives until the daemon stops (egress.c). */
	(void) fedrpc_domain_backoff_reset(ch);
	resp->domain = view_of(f, ctx, name, ch, st);
#ifdef FEDRPC_HAVE_ADAPTERS
	/* Its delivery queue stops waiting too. */
	if (f->adapter != NULL)
		fedrpc_adapter_peer_heard(f->adapter, name);
#endif
	FEDRPC_LOG_INFO("admin: back-off of %s reset", name);
	return resp->domain != NULL ? FEDRPC_OK : st->code;
}

static fedrpc_code
reload(void *impl, fedrpc_ctx *ctx, const Fedrpc__Local__V1__ReloadRequest *req,
    Fedrpc__Local__V1__ReloadResponse *resp, fedrpc_status *st)
{
	federator  *f = impl;
	fedrpc_code code;

	(void) req;
	if (check_caller(ctx, st) != FEDRPC_OK)
		return st->code;
	FEDRPC_LOG_INFO("admin: reloading %s", f->config_path);
	code = federator_reload(f, st);
	resp->reloads = __atomic_load_n(&f->reloads, __ATOMIC_RELAXED);
	resp->reload_failures =
	    __atomic_load_n(&f->reload_failures, __ATOMIC_RELAXED);
	if (code != FEDRPC_OK)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "reload refused, the old settings stay: %s", st->message);
	return FEDRPC_OK;
}

typedef struct counters_arg {
	fedrpc_ctx                             *ctx;
	Fedrpc__Local__V1__GetCountersResponse *resp;
	size_t                                  cap;
	bool                                    oom;
} counters_arg;

static void
add_counter(void *arg, const char *key, const char *value)
{
	counters_arg               *a = arg;
	Fedrpc__Local__V1__Counter *c;

	if (a->oom || a->resp->n_counters == a->cap ||
	    (c = fedrpc_ctx_alloc(a->ctx, sizeof(*c))) == NULL) {
		a->oom = true;
		return;
	}
	fedrpc__local__v1__counter__init(c);
	c->name  = fedrpc_ctx_strdup(a->ctx, key);
	c->value = fedrpc_ctx_strdup(a->ctx, value);
	a->resp->counters[a->resp->n_counters++] = c;
}

static fedrpc_code
get_counters(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__GetCountersRequest *req,
    Fedrpc__Local__V1__GetCountersResponse *resp, fedrpc_status *st)
{
	counters_arg a = {.ctx = ctx, .resp = resp, .cap = 32};

	(void) req;
	if (check_caller(ctx, st) != FEDRPC_OK)
		return st->code;
	if ((resp->counters = fedrpc_ctx_alloc(ctx, a.cap * sizeof(void *))) ==
	    NULL)
		return nomem(st);
	federator_counters(impl, add_counter, &a);
	return a.oom ? nomem(st) : FEDRPC_OK;
}

fedrpc_code
federator_admin_register(federator *f, fedrpc_server *srv, fedrpc_status *st)
{
	const fedrpc_local_v1_admin_handlers hs = {
		.list_domains  = list_domains,
		.reset_backoff = reset_backoff,
		.reload        = reload,
		.get_counters  = get_counters,
	};

	return fedrpc_local_v1_admin_register(srv, &hs, f, st);
}
