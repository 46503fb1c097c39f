/*
 * The discovery cache: a hash table of domain -> result with an expiry
 * time. Bounded, because the domains looked up can come from the network
 * (an incoming request names its origin domain): when full, the entry that
 * would expire first makes room.
 */
#include <stdlib.h>
#include <string.h>

#include "core/discovery/discovery_cache.h"

#define CACHE_BUCKETS 256

struct cache_entry {
	struct cache_entry  *next;   /* bucket chain */
	char                *domain; /* normalised key; owned */
	discovery_cache_kind kind;
	int64_t              expires; /* monotonic ms */
	int64_t              stored;  /* monotonic ms, for the remaining TTL */
	fedrpc_srv_answer   *answer;  /* POSITIVE only; owned */
	fedrpc_code          code;    /* NEGATIVE / FAILURE */
	char                 message[FEDRPC_STATUS_MESSAGE_MAX];
};

struct discovery_cache {
	struct cache_entry *buckets[CACHE_BUCKETS];
	size_t              count; /* entries in all buckets */
	size_t              max;   /* bound on count */
};

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s != '\0') {
		h ^= (unsigned char) *s++;
		h *= 16777619u;
	}
	return h % CACHE_BUCKETS;
}

static void
entry_free(struct cache_entry *e)
{
	fedrpc_srv_answer_free(e->answer);
	free(e->domain);
	free(e);
}

discovery_cache *
discovery_cache_new(size_t max_entries)
{
	discovery_cache *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->max = max_entries > 0 ? max_entries : 1;
	return c;
}

void
discovery_cache_clear(discovery_cache *c)
{
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		while (c->buckets[b] != NULL) {
			struct cache_entry *e = c->buckets[b];

			c->buckets[b] = e->next;
			entry_free(e);
		}
	}
	c->count = 0;
}

void
discovery_cache_free(discovery_cache *c)
{
	if (c == NULL)
		return;
	discovery_cache_clear(c);
	free(c);
}

size_t
discovery_cache_count(const discovery_cache *c)
{
	return c->count;
}

/* Unlinks and frees the entry *pp points at. */
static void
unlink_entry(discovery_cache *c, struct cache_entry **pp)
{
	struct cache_entry *e = *pp;

	*pp = e->next;
	entry_free(e);
	c->count--;
}

static struct cache_entry **
find(discovery_cache *c, const char *domain)
{
	struct cache_entry **pp = &c->buckets[hash(domain)];

	while (*pp != NULL && strcmp((*pp)->domain, domain) != 0)
		pp = &(*pp)->next;
	return pp;
}

void
discovery_cache_remove(discovery_cache *c, const char *domain)
{
	struct cache_entry **pp = find(c, domain);

	if (*pp != NULL)
		unlink_entry(c, pp);
}

/* Makes room for one entry: drops the expired ones, else the soonest. */
static void
make_room(discovery_cache *c, int64_t now_ms)
{
	struct cache_entry **soonest = NULL;

	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct cache_entry **pp = &c->buckets[b];

		while (*pp != NULL) {
			if ((*pp)->expires <= now_ms) {
				unlink_entry(c, pp);
				continue;
			}
			if (soonest == NULL ||
			    (*pp)->expires < (*soonest)->expires)
				soonest = pp;
			pp = &(*pp)->next;
		}
	}
	/* `soonest` is the link to that entry; the walk only unlinks entries
	 * after a link it has passed, so the link is still valid here. */
	if (c->count >= c->max && soonest != NULL)
		unlink_entry(c, soonest);
}

/* Replaces or adds the entry for domain; returns it, or NULL. */
static struct cache_entry *
put(discovery_cache *c, const char *domain, int64_t now_ms)
{
	struct cache_entry **pp = find(c, domain);
	struct cache_entry  *e;

	if (*pp != NULL)
		unlink_entry(c, pp);
	if (c->count >= c->max)
		make_room(c, now_ms);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if ((e->domain = strdup(domain)) == NULL) {
		free(e);
		return NULL;
	}
	e->stored = now_ms;
	pp        = &c->buckets[hash(domain)];
	e->next   = *pp;
	*pp       = e;
	c->count++;
	return e;
}

void
discovery_cache_put_answer(discovery_cache *c, const char *domain,
    const fedrpc_srv_answer *a, int64_t ttl_ms, int64_t now_ms)
{
	fedrpc_srv_answer  *copy;
	struct cache_entry *e;

	if (ttl_ms <= 0) {
		discovery_cache_remove(c, domain);
		return;
	}
	if ((copy = fedrpc_srv_answer_dup(a)) == NULL)
		return;
	if ((e = put(c, domain, now_ms)) == NULL) {
		fedrpc_srv_answer_free(copy);
		return;
	}
	e->kind    = DISCOVERY_CACHE_POSITIVE;
	e->answer  = copy;
	e->expires = now_ms + ttl_ms;
}

void
discovery_cache_put_error(discovery_cache *c, const char *domain,
    discovery_cache_kind kind, const fedrpc_status *st, int64_t ttl_ms,
    int64_t now_ms)
{
	struct cache_entry *e;

	if (ttl_ms <= 0) {
		discovery_cache_remove(c, domain);
		return;
	}
	if ((e = put(c, domain, now_ms)) == NULL)
		return;
	e->kind    = kind;
	e->code    = st->code;
	e->expires = now_ms + ttl_ms;
	memcpy(e->message, st->message, sizeof(e->message));
}

discovery_cache_kind
discovery_cache_get(discovery_cache *c, const char *domain, int64_t now_ms,
    fedrpc_srv_answer **out, fedrpc_status *st)
{
	struct cache_entry **pp = find(c, domain);
	struct cache_entry  *e  = *pp;

	if (e == NULL)
		return DISCOVERY_CACHE_MISS;
	if (e->expires <= now_ms) {
		unlink_entry(c, pp);
		return DISCOVERY_CACHE_MISS;
	}
	if (e->kind == DISCOVERY_CACHE_POSITIVE) {
		if ((*out = fedrpc_srv_answer_dup(e->answer)) == NULL)
			return DISCOVERY_CACHE_MISS;
		(*out)->from_cache = true;
		/* Seconds left, rounded up so a live entry never says 0. */
		(*out)->ttl = (uint32_t) ((e->expires - now_ms + 999) / 1000);
		return e->kind;
	}
	fedrpc_status_set(st, e->code, "%.*s (cached)",
	    FEDRPC_STATUS_MESSAGE_MAX - 10, e->message);
	return e->kind;
}
