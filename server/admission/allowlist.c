/*
 * The allow list behind both ingress admission and egress checks. A list
 * is an immutable snapshot (sorted lower-case domains with their search
 * policies); a reload builds a new snapshot and swaps it in under a
 * write lock, so a lookup never sees half of a reload.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/allowlist.h>

#include "core/base/dns_name.h"

/* One listed domain, owned by its snapshot. */
typedef struct al_entry {
	char                *domain; /* lower case, no final dot; owned */
	fedrpc_search_policy policy;
} al_entry;

/* What one reload installs; never changed once built. */
typedef struct al_snapshot {
	bool                 enabled;
	fedrpc_strategy      strategy;
	fedrpc_search_policy default_policy;
	al_entry            *entries; /* owned, sorted by domain */
	size_t               n_entries;
} al_snapshot;

struct fedrpc_allowlist {
	pthread_rwlock_t lock;       /* readers: lookups; writer: set */
	al_snapshot     *snap;       /* owned; replaced by set */
	uint64_t         generation; /* sets so far */
};

static void
snapshot_free(al_snapshot *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_entries; i++)
		free(s->entries[i].domain);
	free(s->entries);
	free(s);
}

/* `in` in the one spelling of core/base/dns_name.c (lower case, no final
 * dot); false, with the reason in why, if it is not a domain name. */
static bool
normalise(const char *in, char out[DNS_NAME_MAX], char *why, size_t len)
{
	return dns_domain_check(in, out, why, len);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const al_entry *) a)->domain,
	    ((const al_entry *) b)->domain);
}

/* The entry for a normalised domain, or NULL. Read lock held. */
static const al_entry *
snapshot_find(const al_snapshot *s, const char *domain)
{
	al_entry key = {.domain = (char *) domain};

	if (s->n_entries == 0)
		return NULL;
	return bsearch(&key, s->entries, s->n_entries, sizeof(al_entry),
	    entry_cmp);
}

fedrpc_code
fedrpc_allowlist_new(fedrpc_allowlist **out, fedrpc_status *st)
{
	fedrpc_allowlist *al;

	*out = NULL;
	if ((al = calloc(1, sizeof(*al))) == NULL ||
	    (al->snap = calloc(1, sizeof(*al->snap))) == NULL) {
		free(al);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory for the allow list");
	}
	al->snap->enabled  = true;
	al->snap->strategy = FEDRPC_STRATEGY_ALLOW_NONE;
	pthread_rwlock_init(&al->lock, NULL);
	*out = al;
	return FEDRPC_OK;
}

void
fedrpc_allowlist_free(fedrpc_allowlist *al)
{
	if (al == NULL)
		return;
	snapshot_free(al->snap);
	pthread_rwlock_destroy(&al->lock);
	free(al);
}

fedrpc_code
fedrpc_allowlist_set(fedrpc_allowlist *al, const fedrpc_allowlist_opts *opts,
    fedrpc_status *st)
{
	al_snapshot *s, *old;
	char         name[DNS_NAME_MAX], why[96];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	s->enabled        = opts->enabled;
	s->strategy       = opts->strategy;
	s->default_policy = opts->default_search_policy;
	if (opts->n_entries > 0 &&
	    (s->entries = calloc(opts->n_entries, sizeof(al_entry))) == NULL)
		goto nomem;
	for (size_t i = 0; i < opts->n_entries; i++) {
		const char *d = opts->entries[i].domain;

		if (!normalise(d, name, why, sizeof(why))) {
			snapshot_free(s);
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "allow list: '%.64s' is not a valid domain name: %s",
			    d != NULL ? d : "", why);
		}
		if ((s->entries[i].domain = strdup(name)) == NULL)
			goto nomem;
		s->entries[i].policy = opts->entries[i].search_policy;
		s->n_entries++;
	}
	if (s->n_entries > 1)
		qsort(s->entries, s->n_entries, sizeof(al_entry), entry_cmp);
	for (size_t i = 1; i < s->n_entries; i++) {
		if (strcmp(s->entries[i - 1].domain, s->entries[i].domain) ==
		    0) {
			fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "allow list: %s is listed twice",
			    s->entries[i].domain);
			snapshot_free(s);
			return FEDRPC_INVALID_ARGUMENT;
		}
	}

	pthread_rwlock_wrlock(&al->lock);
	old      = al->snap;
	al->snap = s;
	al->generation++;
	pthread_rwlock_unlock(&al->lock);
	snapshot_free(old);
	return FEDRPC_OK;

nomem:
	snapshot_free(s);
	return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
	    "out of memory for the allow list");
}

fedrpc_code
fedrpc_allowlist_set_config(
    fedrpc_allowlist *al, const fedrpc_config *cfg, fedrpc_status *st)
{
	fedrpc_allowlist_entry *e = NULL;
	fedrpc_allowlist_opts   o = {
	      .enabled               = cfg->federation.enabled,
	      .strategy              = cfg->federation.strategy,
	      .n_entries             = cfg->federation.n_allow,
	      .default_search_policy = cfg->federation.default_search_policy,
        };
	fedrpc_code code;

	if (o.n_entries > 0 &&
	    (e = calloc(o.n_entries, sizeof(*e))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory for the allow list");
	for (size_t i = 0; i < o.n_entries; i++) {
		e[i].domain        = cfg->federation.allow[i].domain;
		e[i].search_policy = cfg->federation.allow[i].search_policy;
	}
	o.entries = e;
	code      = fedrpc_allowlist_set(al, &o, st);
	free(e);
	return code;
}

/* refusal()'s answer when federation is off altogether. */
static const char why_disabled[] = "federation is disabled";
/* refusal()'s answer for a name that is not a domain. */
static const char why_invalid[] = "not a domain name";

/* Why `domain` is refused, or NULL when it is allowed. Read lock held. */
static const char *
refusal(const al_snapshot *s, const char *name, bool valid)
{
	if (!s->enabled)
		return why_disabled;
	switch (s->strategy) {
	case FEDRPC_STRATEGY_ALLOW_ALL:
		return valid ? NULL : why_invalid;
	case FEDRPC_STRATEGY_ALLOW_LIST:
		if (!valid)
			return why_invalid;
		return snapshot_find(s, name) != NULL ? NULL
						       : "not on the allow list";
	case FEDRPC_STRATEGY_ALLOW_NONE:
	default:
		return "federation strategy is allowNone";
	}
}

fedrpc_code
fedrpc_allowlist_check(
    fedrpc_allowlist *al, const char *domain, fedrpc_status *st)
{
	char        name[DNS_NAME_MAX], bad[96];
	bool        valid = normalise(domain, name, bad, sizeof(bad));
	const char *why;

	pthread_rwlock_rdlock(&al->lock);
	why = refusal(al->snap, name, valid);
	pthread_rwlock_unlock(&al->lock);
	if (why == NULL)
		return FEDRPC_OK;
	if (why == why_disabled)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "federation is disabled on this backend");
	if (why == why_invalid)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "federation with %.64s is not allowed (not a valid "
		    "domain name: %s)",
		    domain != NULL && domain[0] != '\0' ? domain : "\"\"",
		    bad);
	return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
	    "federation with %s is not allowed (%s)",
	    domain != NULL && domain[0] != '\0' ? domain : "\"\"", why);
}

bool
fedrpc_allowlist_allowed(fedrpc_allowlist *al, const char *domain)
{
	char name[DNS_NAME_MAX];
	bool valid = normalise(domain, name, NULL, 0);
	bool ok;

	pthread_rwlock_rdlock(&al->lock);
	ok = refusal(al->snap, name, valid) == NULL;
	pthread_rwlock_unlock(&al->lock);
	return ok;
}

bool
fedrpc_allowlist_allowed_cb(void *al, const char *domain)
{
	return fedrpc_allowlist_allowed(al, domain);
}

fedrpc_search_policy
fedrpc_allowlist_search_policy(fedrpc_allowlist *al, const char *domain)
{
	char                 name[DNS_NAME_MAX];
	bool                 valid = normalise(domain, name, NULL, 0);
	fedrpc_search_policy p = FEDRPC_SEARCH_NONE;
	const al_entry      *e;

	pthread_rwlock_rdlock(&al->lock);
	if (refusal(al->snap, name, valid) == NULL) {
		e = snapshot_find(al->snap, name);
		p = e != NULL ? e->policy : al->snap->default_policy;
	}
	pthread_rwlock_unlock(&al->lock);
	return p;
}

bool
fedrpc_allowlist_any(fedrpc_allowlist *al)
{
	bool any;

	pthread_rwlock_rdlock(&al->lock);
	any = al->snap->enabled &&
	    al->snap->strategy != FEDRPC_STRATEGY_ALLOW_NONE;
	pthread_rwlock_unlock(&al->lock);
	return any;
}

uint64_t
fedrpc_allowlist_generation(fedrpc_allowlist *al)
{
	uint64_t g;

	pthread_rwlock_rdlock(&al->lock);
	g = al->generation;
	pthread_rwlock_unlock(&al->lock);
	return g;
}
