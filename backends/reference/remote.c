/*
 * Calls from the reference backend to other domains: the daemon's channel
 * for a domain, call options, and how a failed call shows in a local
 * answer. The calls themselves go through the generated client stubs.
 */
#include <stdio.h>
#include <string.h>

#include "backends/reference/delivery.h"
#include "backends/reference/service.h"

#define DEFAULT_TIMEOUT_MS 10000

fedrpc_channel *
ref_remote(ref_svc *s, const char *domain, fedrpc_status *st)
{
	fedrpc_channel *ch;

	if (s->env.channel_for == NULL) {
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s: federation is not available", domain);
		return NULL;
	}
	fedrpc_status_reset(st);
	ch = s->env.channel_for(s->env.channel_arg, domain, st);
	if (ch == NULL && st->code == FEDRPC_OK)
		fedrpc_status_set(
		    st, FEDRPC_UNAVAILABLE, "%s: no channel", domain);
	return ch;
}

void
ref_remote_ok(ref_svc *s, const char *domain)
{
	ref_delivery_heard(s->delivery, domain);
}

void
ref_call_opts(ref_svc *s, fedrpc_call_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = s->env.call_timeout_ms ? s->env.call_timeout_ms
						  : DEFAULT_TIMEOUT_MS;
}

fedrpc_code
ref_remote_failed(const char *domain, fedrpc_status *st)
{
	char msg[FEDRPC_STATUS_MESSAGE_MAX];

	snprintf(msg, sizeof(msg), "%s", st->message);
	if (st->code == FEDRPC_PERMISSION_DENIED ||
	    st->code == FEDRPC_INVALID_ARGUMENT)
		return fedrpc_status_set(st, st->code, "%s: %s (%s)", domain,
		    msg, fedrpc_code_name(st->code));
	return fedrpc_status_set(st, FEDRPC_UNAVAILABLE, "%s: %s (%s)",
	    domain, msg, fedrpc_code_name(st->code));
}

void
ref_domains_add(fedrpc_ctx *ctx, ref_domains *d, const char *domain)
{
	if (ref_domains_has(d, domain))
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		char **nv  = adp_ptrs(ctx, cap);

		if (nv == NULL)
			return;
		if (d->n > 0)
			memcpy(nv, d->v, d->n * sizeof(*nv));
		d->v   = nv;
		d->cap = cap;
	}
	if ((d->v[d->n] = fedrpc_ctx_strdup(ctx, domain)) != NULL)
		d->n++;
}

bool
ref_domains_has(const ref_domains *d, const char *domain)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i], domain) == 0)
			return true;
	return false;
}

fedrpc_code
ref_domains_of(fedrpc_ctx *ctx, adp_qid *const *ids, size_t n,
    ref_domains *out, fedrpc_status *st)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		ref_domains_add(ctx, out, ids[i]->domain);
		if (!ref_domains_has(out, ids[i]->domain))
			return REF_NOMEM(st);
	}
	return FEDRPC_OK;
}
