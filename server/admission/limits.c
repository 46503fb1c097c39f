/*
 * Per-key limits: calls in flight and a token bucket per key, in a hash
 * table bounded by max_keys. Keys with nothing in flight are forgotten,
 * oldest first, when room is needed; forgetting one refills its bucket,
 * which only matters to a peer that juggles more identities than there
 * are slots (and every identity had to pass authentication first).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fedrpc/limits.h>

#include "core/base/clock.h"
#include "core/base/hash.h"
#include "core/base/lru.h"

#define DEFAULT_MAX_KEYS 10000
/* Keys are domain names or certificate names; longer ones are cut. */
#define KEY_MAX 256

/* One key's state, in a hash chain and in the LRU list. */
typedef struct lim_entry {
	struct lim_entry *hnext;    /* hash chain */
	struct lim_entry *lprev;    /* LRU neighbours (oldest first) */
	struct lim_entry *lnext;
	uint32_t          inflight; /* calls entered and not left */
	double            tokens;   /* bucket level */
	uint64_t          last_ns;  /* when tokens were last topped up */
	char              key[];    /* NUL-terminated */
} lim_entry;

struct fedrpc_limits {
	pthread_mutex_t     mtx;
	fedrpc_limits_opts  opts;    /* current limits, burst resolved */
	lim_entry         **buckets; /* owned */
	size_t              mask;    /* buckets - 1 */
	lim_entry          *oldest;  /* LRU list by last use */
	lim_entry          *newest;
	fedrpc_limits_stats stats;
};

static uint64_t
now_ns(void)
{
	return fedrpc_clock_ns();
}

static uint64_t
key_hash(const char *s)
{
	return fedrpc_hash_str(FEDRPC_HASH_INIT, s);
}

static void
resolve_opts(fedrpc_limits_opts *o, const fedrpc_limits_opts *in)
{
	*o = in != NULL ? *in : (fedrpc_limits_opts){0};
	/* NaN, negative and absurd rates mean no limit. */
	if (!(o->rate > 0) || o->rate > 1e9)
		o->rate = 0;
	if (o->burst == 0) {
		o->burst = (uint32_t) o->rate;
		if ((double) o->burst < o->rate || o->burst == 0)
			o->burst++;
	}
	if (o->max_keys == 0)
		o->max_keys = DEFAULT_MAX_KEYS;
}

fedrpc_code
fedrpc_limits_new(fedrpc_limits **out, const fedrpc_limits_opts *opts,
    fedrpc_status *st)
{
	fedrpc_limits *lim;
	size_t         n = 64;

	*out = NULL;
	if ((lim = calloc(1, sizeof(*lim))) == NULL)
		goto nomem;
	resolve_opts(&lim->opts, opts);
	while (n < lim->opts.max_keys && n < (1u << 20))
		n <<= 1;
	if ((lim->buckets = calloc(n, sizeof(*lim->buckets))) == NULL)
		goto nomem;
	lim->mask = n - 1;
	pthread_mutex_init(&lim->mtx, NULL);
	*out = lim;
	return FEDRPC_OK;
nomem:
	free(lim);
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory for limits");
}

void
fedrpc_limits_free(fedrpc_limits *lim)
{
	lim_entry *e, *next;

	if (lim == NULL)
		return;
	for (e = lim->oldest; e != NULL; e = next) {
		next = e->lnext;
		free(e);
	}
	free(lim->buckets);
	pthread_mutex_destroy(&lim->mtx);
	free(lim);
}

void
fedrpc_limits_set(fedrpc_limits *lim, const fedrpc_limits_opts *opts)
{
	fedrpc_limits_opts o;

	resolve_opts(&o, opts);
	pthread_mutex_lock(&lim->mtx);
	/* The table was sized at creation; max_keys only bounds use. */
	lim->opts = o;
	for (lim_entry *e = lim->oldest; e != NULL; e = e->lnext)
		if (e->tokens > o.burst)
			e->tokens = o.burst;
	pthread_mutex_unlock(&lim->mtx);
}

static void
lru_unlink(fedrpc_limits *lim, lim_entry *e)
{
	FEDRPC_LRU_UNLINK(lim, e);
}

static void
lru_append(fedrpc_limits *lim, lim_entry *e)
{
	FEDRPC_LRU_APPEND(lim, e);
}

static lim_entry *
find(fedrpc_limits *lim, const char *key)
{
	lim_entry *e = lim->buckets[key_hash(key) & lim->mask];

	while (e != NULL && strcmp(e->key, key) != 0)
		e = e->hnext;
	return e;
}

static void
unhash(fedrpc_limits *lim, lim_entry *e)
{
	lim_entry **pp = &lim->buckets[key_hash(e->key) & lim->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(lim, e);
	lim->stats.keys--;
}

/* Forgets the oldest key with nothing in flight; false if none. */
static bool
evict_one(fedrpc_limits *lim)
{
	for (lim_entry *e = lim->oldest; e != NULL; e = e->lnext) {
		if (e->inflight == 0) {
			unhash(lim, e);
			free(e);
			return true;
		}
	}
	return false;
}

static lim_entry *
insert(fedrpc_limits *lim, const char *key, uint64_t now)
{
	size_t     n = strlen(key);
	lim_entry *e;
	size_t     b;

	if (lim->stats.keys >= lim->opts.max_keys && !evict_one(lim))
		return NULL;
	if ((e = calloc(1, sizeof(*e) + n + 1)) == NULL)
		return NULL;
	memcpy(e->key, key, n + 1);
	e->tokens  = lim->opts.burst;
	e->last_ns = now;
	b          = key_hash(key) & lim->mask;
	e->hnext   = lim->buckets[b];
	lim->buckets[b] = e;
	lru_append(lim, e);
	lim->stats.keys++;
	return e;
}

/* Copies key into buf, cut to KEY_MAX - 1 bytes. */
static const char *
clip(const char *key, char buf[KEY_MAX])
{
	size_t n = strlen(key != NULL ? key : "");

	if (n < KEY_MAX)
		return key != NULL ? key : "";
	memcpy(buf, key, KEY_MAX - 1);
	buf[KEY_MAX - 1] = '\0';
	return buf;
}

fedrpc_code
fedrpc_limits_enter(fedrpc_limits *lim, const char *key, fedrpc_status *st)
{
	char        kbuf[KEY_MAX];
	uint64_t    now = now_ns();
	lim_entry  *e;
	fedrpc_limits_opts o;

	key = clip(key, kbuf);
	pthread_mutex_lock(&lim->mtx);
	o = lim->opts;
	if ((e = find(lim, key)) == NULL &&
	    (e = insert(lim, key, now)) == NULL) {
		lim->stats.refused_keys++;
		pthread_mutex_unlock(&lim->mtx);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "too many peers at once (%u): %s must wait", o.max_keys,
		    key);
	}
	lru_unlink(lim, e);
	lru_append(lim, e);

	if (o.max_inflight > 0 && e->inflight >= o.max_inflight) {
		lim->stats.refused_inflight++;
		pthread_mutex_unlock(&lim->mtx);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "%s has %u calls in flight, the limit per peer", key,
		    o.max_inflight);
	}
	if (o.rate > 0) {
		e->tokens += (double) (now - e->last_ns) * 1e-9 * o.rate;
		if (e->tokens > o.burst)
			e->tokens = o.burst;
		e->last_ns = now;
		if (e->tokens < 1.0) {
			lim->stats.refused_rate++;
			pthread_mutex_unlock(&lim->mtx);
			return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "rate limit for %s exceeded: %g calls per second "
			    "(burst %u)",
			    key, o.rate, o.burst);
		}
		e->tokens -= 1.0;
	}
	e->inflight++;
	lim->stats.inflight++;
	lim->stats.admitted++;
	pthread_mutex_unlock(&lim->mtx);
	return FEDRPC_OK;
}

void
fedrpc_limits_leave(fedrpc_limits *lim, const char *key)
{
	char       kbuf[KEY_MAX];
	lim_entry *e;

	key = clip(key, kbuf);
	pthread_mutex_lock(&lim->mtx);
	if ((e = find(lim, key)) != NULL && e->inflight > 0) {
		e->inflight--;
		lim->stats.inflight--;
	}
	pthread_mutex_unlock(&lim->mtx);
}

uint32_t
fedrpc_limits_inflight(fedrpc_limits *lim, const char *key)
{
	char       kbuf[KEY_MAX];
	lim_entry *e;
	uint32_t   n;

	key = clip(key, kbuf);
	pthread_mutex_lock(&lim->mtx);
	n = (e = find(lim, key)) != NULL ? e->inflight : 0;
	pthread_mutex_unlock(&lim->mtx);
	return n;
}

void
fedrpc_limits_stats_get(fedrpc_limits *lim, fedrpc_limits_stats *out)
{
	pthread_mutex_lock(&lim->mtx);
	*out = lim->stats;
	pthread_mutex_unlock(&lim->mtx);
}
