/*
 * Opening and closing the reference backend over a store (copying the
 * daemon's environment, starting and stopping delivery), registering every
 * service's handlers, and the read and write transactions its handlers
 * run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/reference/delivery.h"
#include "backends/reference/reference.h"
#include "backends/reference/service.h"
#include "core/base/dns_name.h"

static const uint32_t default_versions[] = {1};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* The delivery settings with defaults; the instance name is ours. */
static fedrpc_code
copy_delivery(ref_svc *s, const fedrpc_adapter_delivery *in)
{
	char host[256] = "";

	s->dopts = *in;
	ref_delivery_defaults(&s->dopts);
	if (in->instance == NULL || in->instance[0] == '\0') {
		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "%s", "localhost");
		s->dopts.instance = strdup(host);
	} else {
		s->dopts.instance = strdup(in->instance);
	}
	return s->dopts.instance != NULL ? FEDRPC_OK : FEDRPC_RESOURCE_EXHAUSTED;
}

void
fedrpc_reference_close(void *instance)
{
	ref_svc *s = instance;

	if (s == NULL)
		return;
	/* Delivery first: its workers use the store. */
	ref_delivery_stop(s->delivery);
	fedrpc_store_close(s->store);
	free((char *) s->dopts.instance);
	free(s->versions);
	free(s->domain);
	free(s);
}

fedrpc_code
fedrpc_reference_open(const fedrpc_adapter_env *env,
    fedrpc_store_open_fn open_store, const char *config, void **instance,
    fedrpc_status *st)
{
	ref_svc        *s;
	const uint32_t *v = env->api_versions;
	size_t          n = env->n_api_versions;
	char            domain[DNS_NAME_MAX], why[96];

	*instance = NULL;
	/* Kept in the one spelling every request's domain is folded to. */
	if (!dns_domain_check(env->domain, domain, why, sizeof(why)))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "reference backend: domain: '%.64s' is not a valid domain "
		    "name: %s",
		    env->domain ? env->domain : "", why);
	if (v == NULL || n == 0) {
		v = default_versions;
		n = 1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->domain = strdup(domain)) == NULL ||
	    (s->versions = malloc(n * sizeof(uint32_t))) == NULL) {
		fedrpc_reference_close(s);
		return REF_NOMEM(st);
	}
	s->env        = *env;
	s->env.domain = s->domain;
	memcpy(s->versions, v, n * sizeof(uint32_t));
	qsort(s->versions, n, sizeof(uint32_t), u32_cmp);
	s->n_versions         = n;
	s->env.api_versions   = s->versions;
	s->env.n_api_versions = n;
	if (copy_delivery(s, &env->delivery) != FEDRPC_OK) {
		fedrpc_reference_close(s);
		return REF_NOMEM(st);
	}
	if (open_store(config, &s->store, st) != FEDRPC_OK ||
	    ref_delivery_start(s, &s->delivery, st) != FEDRPC_OK) {
		fedrpc_reference_close(s);
		return st->code;
	}
	*instance = s;
	return FEDRPC_OK;
}

void
fedrpc_reference_peer_heard(void *instance, const char *domain)
{
	ref_svc *s = instance;

	if (s != NULL)
		ref_delivery_heard(s->delivery, domain);
}

fedrpc_code
fedrpc_reference_register(void *instance, fedrpc_server *fed,
    fedrpc_server *local, fedrpc_status *st)
{
	ref_svc *s = instance;

	if (fed != NULL &&
	    (ref_register_fed_version(fed, s, st) != FEDRPC_OK ||
	        ref_register_fed_users(fed, s, st) != FEDRPC_OK ||
	        ref_register_fed_conversations(fed, s, st) != FEDRPC_OK))
		return st->code;
	if (local != NULL &&
	    (ref_register_local_users(local, s, st) != FEDRPC_OK ||
	        ref_register_local_connections(local, s, st) != FEDRPC_OK ||
	        ref_register_local_conversations(local, s, st) != FEDRPC_OK ||
	        ref_register_local_inbox(local, s, st) != FEDRPC_OK ||
	        ref_register_local_delivery(local, s, st) != FEDRPC_OK))
		return st->code;
	return FEDRPC_OK;
}

fedrpc_code
ref_read(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_fn fn, void *arg,
    fedrpc_status *st)
{
	return fedrpc_store_run(s->store, fedrpc_ctx_allocator(ctx),
	    FEDRPC_STORE_READ_ONLY, fn, arg, st);
}

fedrpc_code
ref_write(ref_svc *s, fedrpc_ctx *ctx, fedrpc_store_fn fn, void *arg,
    fedrpc_status *st)
{
	return fedrpc_store_run(s->store, fedrpc_ctx_allocator(ctx),
	    FEDRPC_STORE_READ_WRITE, fn, arg, st);
}
