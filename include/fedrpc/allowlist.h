/*
 * The federation allow list: which remote domains we talk to, both ways,
 * and the search policy each one gets. One object is shared by the
 * listener's admission (ingress) and the per-domain channels (egress), and
 * replaced as a whole on reload, so both sides always see the same list.
 */
#ifndef FEDRPC_ALLOWLIST_H
#define FEDRPC_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/config.h>
#include <fedrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_allowlist fedrpc_allowlist;

/* One listed domain. */
typedef struct fedrpc_allowlist_entry {
	const char          *domain;        /* case and a final dot ignored */
	fedrpc_search_policy search_policy; /* what its users may search */
} fedrpc_allowlist_entry;

/* A whole allow list; every string is borrowed (copied by set). */
typedef struct fedrpc_allowlist_opts {
	bool            enabled;  /* false: federation off, nobody allowed */
	fedrpc_strategy strategy; /* allowNone / allowList / allowAll */
	const fedrpc_allowlist_entry *entries;
	size_t                        n_entries;
	/* Policy of allowed domains without an entry (allowAll). */
	fedrpc_search_policy default_search_policy;
} fedrpc_allowlist_opts;

/* A new allow list that allows nobody (allowNone). */
fedrpc_code fedrpc_allowlist_new(fedrpc_allowlist **out, fedrpc_status *st);

/* Frees it; no lookup may be running. NULL is fine. */
void fedrpc_allowlist_free(fedrpc_allowlist *al);

/*
 * Replaces the whole list at once; lookups running concurrently see
 * either the old list or the new one. INVALID_ARGUMENT (and the old list
 * stays) for a malformed domain or one listed twice.
 */
fedrpc_code fedrpc_allowlist_set(fedrpc_allowlist *al,
    const fedrpc_allowlist_opts *opts, fedrpc_status *st);

/* The same from a configuration's federation settings. */
fedrpc_code fedrpc_allowlist_set_config(
    fedrpc_allowlist *al, const fedrpc_config *cfg, fedrpc_status *st);

/* Whether calls to and from `domain` are allowed. Thread-safe. */
bool fedrpc_allowlist_allowed(fedrpc_allowlist *al, const char *domain);

/*
 * The same as a status: OK, or PERMISSION_DENIED with the reason, e.g.
 * "federation with c.example is not allowed (not on the allow list)" or
 * "federation is disabled".
 */
fedrpc_code fedrpc_allowlist_check(
    fedrpc_allowlist *al, const char *domain, fedrpc_status *st);

/*
 * The search policy for users of `domain`: its entry's, else the default;
 * FEDRPC_SEARCH_NONE when the domain is not allowed.
 */
fedrpc_search_policy fedrpc_allowlist_search_policy(
    fedrpc_allowlist *al, const char *domain);

/* Whether federation is on at all (enabled and not allowNone). */
bool fedrpc_allowlist_any(fedrpc_allowlist *al);

/* Counts replacements; a change means the list was reloaded. */
uint64_t fedrpc_allowlist_generation(fedrpc_allowlist *al);

/* fedrpc_allowlist_allowed() with a void * argument, for callbacks such as
 * a channel pool's egress check. */
bool fedrpc_allowlist_allowed_cb(void *al, const char *domain);

#ifdef __cplusplus
}
#endif
#endif
