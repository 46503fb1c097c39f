/*
 * Whom we may call: the adapter's channels to other domains. The allow
 * list is asked first, so a call to a domain it refuses fails before any
 * DNS query or connection (and the pool asks it again itself). Channels
 * come from a domain pool (client/domain/) and are kept per domain for
 * the adapter to borrow until the daemon stops.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "core/base/dns_name.h"
#include "federator/federator.h"

fedrpc_code
egress_pool_new(federator *f, const fedrpc_config *cfg, egress_pool **out,
    fedrpc_status *st)
{
	fedrpc_tls_opts     tls;
	fedrpc_domains_opts o = {0};
	egress_pool        *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	federator_tls_opts(cfg, &tls);
	o.origin_domain      = cfg->domain;
	o.tls                = &tls;
	o.resolver           = f->resolver;
	/* Each channel negotiates its version with its domain. */
	o.api_version        = cfg->api.n_versions > 0
		   ? cfg->api.versions[cfg->api.n_versions - 1]
		   : 1;
	o.api_versions       = cfg->api.versions;
	o.n_api_versions     = cfg->api.n_versions;
	o.max_message_size   = cfg->limits.max_message_size;
	o.connect_timeout_ms = cfg->client.connect_timeout_ms;
	o.backoff.initial_ms = cfg->client.backoff_initial_ms;
	o.backoff.multiplier = cfg->client.backoff_multiplier;
	o.backoff.jitter     = cfg->client.backoff_jitter > 0
		    ? cfg->client.backoff_jitter
		    : -1;
	o.backoff.max_ms     = cfg->client.backoff_max_ms;
	/* 0 in the file means never; the pool's 0 means its default. */
	o.idle_timeout_ms = cfg->client.idle_timeout > 0
	    ? cfg->client.idle_timeout * 1000u
	    : UINT32_MAX;
	o.scheme      = "tls+tcp";
	o.allowed     = fedrpc_allowlist_allowed_cb;
	o.allowed_arg = f->allow;
	if (fedrpc_domains_new(&p->domains, &o, st) != FEDRPC_OK) {
		free(p);
		return st->code;
	}
	*out = p;
	return FEDRPC_OK;
}

void
egress_pool_free(egress_pool *p)
{
	while (p != NULL) {
		egress_pool  *older = p->older;
		egress_entry *e, *next;

		for (e = p->entries; e != NULL; e = next) {
			next = e->next;
			fedrpc_channel_close(e->ch);
			free(e->domain);
			free(e);
		}
		fedrpc_domains_free(p->domains);
		free(p);
		p = older;
	}
}

fedrpc_channel *
egress_channel_for(void *arg, const char *domain, fedrpc_status *st)
{
	federator      *f = arg;
	egress_entry   *e;
	fedrpc_channel *ch = NULL;
	char            name[DNS_NAME_MAX], why[96];

	/* Refused here: no DNS, no connection, nothing in the pool. */
	if (fedrpc_allowlist_check(f->allow, domain, st) != FEDRPC_OK) {
		__atomic_add_fetch(&f->egress_denied, 1, __ATOMIC_RELAXED);
		FEDRPC_LOG_INFO("egress to %s refused: %s",
		    domain != NULL ? domain : "-", st->message);
		return NULL;
	}
	/* The allow list took it, so it is a domain: its one spelling. */
	if (!dns_domain_check(domain, name, why, sizeof(why))) {
		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "'%.64s' is not a valid domain name: %s", domain, why);
		return NULL;
	}

	pthread_mutex_lock(&f->egress_mtx);
	if (f->pool == NULL) {
		pthread_mutex_unlock(&f->egress_mtx);
		fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "federation is disabled on this backend");
		return NULL;
	}
	for (e = f->pool->entries; e != NULL; e = e->next)
		if (strcmp(e->domain, name) == 0) {
			ch = e->ch;
			break;
		}
	if (ch == NULL &&
	    fedrpc_domains_channel(f->pool->domains, name, &ch, st) ==
	        FEDRPC_OK) {
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    (e->domain = strdup(name)) == NULL) {
			free(e);
			fedrpc_channel_close(ch);
			ch = NULL;
			fedrpc_status_set(
			    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		} else {
			e->ch            = ch;
			e->next          = f->pool->entries;
			f->pool->entries = e;
		}
	}
	pthread_mutex_unlock(&f->egress_mtx);
	return ch;
}
