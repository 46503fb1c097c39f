/*
 * Origin authentication (see fedrpc/origin_auth.h): certificate names
 * against the origin domain and the targets of its SRV record, with the
 * decisions cached per (origin, certificate names) for the record's TTL.
 *
 * DNS failures are never cached here (the resolver holds them briefly
 * itself) and are not refusals: the peer gets UNAVAILABLE and may retry.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fedrpc/origin_auth.h>

#include "core/base/clock.h"
#include "core/base/hash.h"
#include "core/base/lru.h"
#include "core/base/dns_name.h"

#define DEFAULT_LOOKUP_MS 5000
#define DEFAULT_ENTRIES 4096
#define DEFAULT_MAX_TTL_S 3600

/* One cached decision, in a hash chain and the LRU list. */
typedef struct oa_entry {
	struct oa_entry *hnext;
	struct oa_entry *lprev;  /* LRU, oldest first */
	struct oa_entry *lnext;
	uint64_t         hash;
	uint64_t         expires_ms; /* monotonic */
	fedrpc_code      code;       /* OK or UNAUTHENTICATED */
	char             message[FEDRPC_STATUS_MESSAGE_MAX];
	size_t           key_len;
	char             key[];      /* origin NUL name NUL name NUL ... */
} oa_entry;

struct fedrpc_origin_auth {
	fedrpc_resolver *resolver; /* borrowed */
	uint32_t         lookup_ms;
	uint32_t         max_entries;
	uint32_t         max_ttl_s;

	pthread_mutex_t  mtx;      /* everything below */
	oa_entry       **buckets;  /* owned */
	size_t           mask;
	oa_entry        *oldest;
	oa_entry        *newest;
	uint32_t         n_entries;
	fedrpc_origin_auth_stats stats;
};

static uint64_t
now_ms(void)
{
	return fedrpc_clock_ms();
}

static uint64_t
hash_bytes(const char *p, size_t n)
{
	return fedrpc_hash_bytes(FEDRPC_HASH_INIT, p, n);
}

fedrpc_code
fedrpc_origin_auth_new(fedrpc_origin_auth **out,
    const fedrpc_origin_auth_opts *opts, fedrpc_status *st)
{
	fedrpc_origin_auth *oa;
	size_t              n = 64;

	*out = NULL;
	if (opts == NULL || opts->resolver == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "origin authentication needs a resolver");
	if ((oa = calloc(1, sizeof(*oa))) == NULL)
		goto nomem;
	oa->resolver    = opts->resolver;
	oa->lookup_ms   = opts->lookup_timeout_ms ? opts->lookup_timeout_ms
						  : DEFAULT_LOOKUP_MS;
	oa->max_entries = opts->max_entries ? opts->max_entries
					    : DEFAULT_ENTRIES;
	oa->max_ttl_s   = opts->max_ttl_s ? opts->max_ttl_s : DEFAULT_MAX_TTL_S;
	while (n < oa->max_entries && n < (1u << 20))
		n <<= 1;
	if ((oa->buckets = calloc(n, sizeof(*oa->buckets))) == NULL)
		goto nomem;
	oa->mask = n - 1;
	pthread_mutex_init(&oa->mtx, NULL);
	*out = oa;
	return FEDRPC_OK;
nomem:
	free(oa);
	return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
	    "out of memory for origin authentication");
}

static void
lru_unlink(fedrpc_origin_auth *oa, oa_entry *e)
{
	FEDRPC_LRU_UNLINK(oa, e);
}

static void
lru_append(fedrpc_origin_auth *oa, oa_entry *e)
{
	FEDRPC_LRU_APPEND(oa, e);
}

/* Unlinks and frees an entry; mtx held. */
static void
entry_drop(fedrpc_origin_auth *oa, oa_entry *e)
{
	oa_entry **pp = &oa->buckets[e->hash & oa->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(oa, e);
	oa->n_entries--;
	free(e);
}

void
fedrpc_origin_auth_flush(fedrpc_origin_auth *oa)
{
	pthread_mutex_lock(&oa->mtx);
	while (oa->oldest != NULL)
		entry_drop(oa, oa->oldest);
	pthread_mutex_unlock(&oa->mtx);
}

void
fedrpc_origin_auth_free(fedrpc_origin_auth *oa)
{
	if (oa == NULL)
		return;
	fedrpc_origin_auth_flush(oa);
	free(oa->buckets);
	pthread_mutex_destroy(&oa->mtx);
	free(oa);
}

void
fedrpc_origin_auth_stats_get(
    fedrpc_origin_auth *oa, fedrpc_origin_auth_stats *out)
{
	pthread_mutex_lock(&oa->mtx);
	*out = oa->stats;
	pthread_mutex_unlock(&oa->mtx);
}

/*
 * The cache key: the origin (normalised), then each certificate name, each
 * NUL-terminated. NULL when out of memory.
 */
static char *
make_key(const char *origin, const fedrpc_peer *peer, size_t *len)
{
	size_t n = strlen(origin) + 1;
	char  *k, *p;

	for (size_t i = 0; i < peer->n_names; i++)
		n += strlen(peer->names[i]) + 1;
	if ((k = malloc(n)) == NULL)
		return NULL;
	memcpy(k, origin, strlen(origin) + 1);
	p = k + strlen(origin) + 1;
	for (size_t i = 0; i < peer->n_names; i++) {
		size_t m = strlen(peer->names[i]) + 1;

		memcpy(p, peer->names[i], m);
		p += m;
	}
	*len = n;
	return k;
}

/* A live cached decision, copied into st; false when there is none. */
static bool
cache_get(fedrpc_origin_auth *oa, const char *key, size_t len, uint64_t h,
    fedrpc_code *code, fedrpc_status *st)
{
	oa_entry *e;
	bool      hit = false;

	pthread_mutex_lock(&oa->mtx);
	for (e = oa->buckets[h & oa->mask]; e != NULL; e = e->hnext)
		if (e->hash == h && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			break;
	if (e != NULL && e->expires_ms <= now_ms()) {
		entry_drop(oa, e);
		e = NULL;
	}
	if (e != NULL) {
		lru_unlink(oa, e);
		lru_append(oa, e);
		*code = e->code;
		if (e->code != FEDRPC_OK)
			fedrpc_status_set(st, e->code, "%s", e->message);
		oa->stats.cache_hits++;
		hit = true;
	}
	pthread_mutex_unlock(&oa->mtx);
	return hit;
}

static void
cache_put(fedrpc_origin_auth *oa, const char *key, size_t len, uint64_t h,
    uint32_t ttl_s, fedrpc_code code, const char *message)
{
	oa_entry *e;

	if (ttl_s == 0)
		return;
	if (ttl_s > oa->max_ttl_s)
		ttl_s = oa->max_ttl_s;
	if ((e = calloc(1, sizeof(*e) + len)) == NULL)
		return;
	e->hash       = h;
	e->code       = code;
	e->expires_ms = now_ms() + (uint64_t) ttl_s * 1000;
	e->key_len    = len;
	memcpy(e->key, key, len);
	snprintf(e->message, sizeof(e->message), "%s", message);

	pthread_mutex_lock(&oa->mtx);
	/* A concurrent check may have cached the same key: replace it. */
	for (oa_entry *o = oa->buckets[h & oa->mask]; o != NULL; o = o->hnext)
		if (o->hash == h && o->key_len == len &&
		    memcmp(o->key, key, len) == 0) {
			entry_drop(oa, o);
			break;
		}
	while (oa->n_entries >= oa->max_entries && oa->oldest != NULL)
		entry_drop(oa, oa->oldest);
	e->hnext                   = oa->buckets[h & oa->mask];
	oa->buckets[h & oa->mask] = e;
	lru_append(oa, e);
	oa->n_entries++;
	pthread_mutex_unlock(&oa->mtx);
}

/* "[a.example, b.example]" within len bytes, "..." when cut. */
static void
names_list(const fedrpc_peer *peer, char *buf, size_t len)
{
	size_t off = 0;
	int    n;

	n = snprintf(buf, len, "[");
	off += (size_t) n;
	for (size_t i = 0; i < peer->n_names && off < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		    peer->names[i]);
		if (n < 0 || (size_t) n >= len - off) {
			/* Leave room for "...]". */
			if (len > 5)
				snprintf(buf + len - 5, 5, "...]");
			return;
		}
		off += (size_t) n;
	}
	if (off + 1 < len)
		snprintf(buf + off, len - off, "]");
}

static void
count(fedrpc_origin_auth *oa, uint64_t *counter)
{
	pthread_mutex_lock(&oa->mtx);
	(*counter)++;
	pthread_mutex_unlock(&oa->mtx);
}

fedrpc_code
fedrpc_origin_auth_check(fedrpc_origin_auth *oa, const char *origin,
    const fedrpc_peer *peer, uint32_t timeout_ms, fedrpc_status *st)
{
	fedrpc_srv_answer *ans = NULL;
	fedrpc_status      lst = {0};
	fedrpc_code        code;
	char               names[160];
	char               name[DNS_NAME_MAX], why[96];
	char              *key;
	size_t             len;
	uint64_t           h;
	bool               target = false;

	count(oa, &oa->stats.checks);
	if (origin == NULL || origin[0] == '\0') {
		count(oa, &oa->stats.refused);
		return fedrpc_status_set(st, FEDRPC_UNAUTHENTICATED,
		    "request names no origin domain");
	}
	if (peer == NULL || !peer->verified || peer->n_names == 0) {
		count(oa, &oa->stats.refused);
		return fedrpc_status_set(st, FEDRPC_UNAUTHENTICATED,
		    "no verified peer certificate to speak for %s", origin);
	}
	/* One spelling from here on: cache keys and messages agree. */
	if (!dns_domain_check(origin, name, why, sizeof(why))) {
		count(oa, &oa->stats.refused);
		return fedrpc_status_set(st, FEDRPC_UNAUTHENTICATED,
		    "origin: '%.64s' is not a valid domain name: %s", origin,
		    why);
	}
	origin = name;
	/* A certificate for the origin domain itself needs no DNS. */
	for (size_t i = 0; i < peer->n_names; i++) {
		if (dns_name_equal(peer->names[i], origin)) {
			pthread_mutex_lock(&oa->mtx);
			oa->stats.accepted++;
			oa->stats.self_names++;
			pthread_mutex_unlock(&oa->mtx);
			return FEDRPC_OK;
		}
	}

	if ((key = make_key(origin, peer, &len)) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory authenticating %s", origin);
	h = hash_bytes(key, len);
	if (cache_get(oa, key, len, h, &code, st)) {
		free(key);
		count(oa, code == FEDRPC_OK ? &oa->stats.accepted
					    : &oa->stats.refused);
		return code;
	}

	if (timeout_ms == 0 || timeout_ms > oa->lookup_ms)
		timeout_ms = oa->lookup_ms;
	count(oa, &oa->stats.lookups);
	code = fedrpc_resolver_lookup(oa->resolver, origin, timeout_ms, &ans,
	    &lst);
	names_list(peer, names, sizeof(names));
	switch (code) {
	case FEDRPC_OK:
		break;
	case FEDRPC_NOT_FOUND:
	case FEDRPC_INVALID_ARGUMENT:
		/* The domain does not federate: nobody speaks for it. */
		free(key);
		count(oa, &oa->stats.refused);
		return fedrpc_status_set(st, FEDRPC_UNAUTHENTICATED,
		    "peer certificate names %s cannot speak for %s: %s", names,
		    origin, lst.message);
	default:
		free(key);
		count(oa, &oa->stats.failed);
		return fedrpc_status_set(st,
		    code == FEDRPC_DEADLINE_EXCEEDED ? code : FEDRPC_UNAVAILABLE,
		    "cannot authenticate origin %s: %s", origin, lst.message);
	}

	for (size_t i = 0; i < peer->n_names && !target; i++)
		target = fedrpc_srv_answer_has_target(ans, peer->names[i]);
	if (target) {
		code = FEDRPC_OK;
		fedrpc_status_reset(&lst);
	} else if (ans->is_static) {
		code = fedrpc_status_set(&lst, FEDRPC_UNAUTHENTICATED,
		    "peer certificate names %s are not %s or the host of its "
		    "static route (%s)",
		    names, origin,
		    ans->n_targets > 0 ? ans->targets[0].host : "-");
	} else {
		code = fedrpc_status_set(&lst, FEDRPC_UNAUTHENTICATED,
		    "peer certificate names %s are not targets of %s", names,
		    ans->qname);
	}
	cache_put(oa, key, len, h, ans->ttl, code, lst.message);
	fedrpc_srv_answer_free(ans);
	free(key);
	count(oa, code == FEDRPC_OK ? &oa->stats.accepted : &oa->stats.refused);
	if (code != FEDRPC_OK)
		fedrpc_status_set(st, code, "%s", lst.message);
	return code;
}
