/*
 * The domain pool: the table domain -> channel, the egress check, and the
 * one thread that moves every channel's connection manager on (dials,
 * closes, back-off timers, re-lookups) and closes idle channels.
 *
 * A channel handed out carries a reference (users); fedrpc_channel_close()
 * drops it. An idle channel that nobody holds is closed and freed; one
 * still held only loses its connection, and the next call reconnects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fedrpc/log.h>

#include "core/base/dns_name.h"
#include "client/domain/domain_int.h"
#include "core/base/clock.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_IDLE_TIMEOUT_MS (5u * 60u * 1000u)
#define DEFAULT_MAX_MSG (4u << 20)
/* The pool thread looks at idle channels at least this often. */
#define SWEEP_MAX_MS 1000

static size_t
hash_name(const char *s)
{
	size_t h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char) *s++;
	return h;
}

void
pool_wake(fedrpc_domains *pool)
{
	pthread_mutex_lock(&pool->wake_mtx);
	pool->wake = true;
	pthread_cond_signal(&pool->wake_cv);
	pthread_mutex_unlock(&pool->wake_mtx);
}

bool
pool_allowed(const fedrpc_domains *pool, const char *domain)
{
	return pool->cfg.allowed == NULL ||
	    pool->cfg.allowed(pool->cfg.allowed_arg, domain);
}

/* Unlinks d from the table; pool->mtx held. */
static void
table_remove(fedrpc_domains *pool, dom_chan *d)
{
	dom_chan **pp = &pool->table[hash_name(d->domain) & pool->mask];

	while (*pp != NULL && *pp != d)
		pp = &(*pp)->next;
	if (*pp == d) {
		*pp = d->next;
		pool->n_chans--;
	}
}

/* Grows the table when chains get long; pool->mtx held. */
static void
table_grow(fedrpc_domains *pool)
{
	size_t     n = (pool->mask + 1) * 2;
	dom_chan **t;

	if (pool->n_chans < (pool->mask + 1) * 2 ||
	    (t = calloc(n, sizeof(*t))) == NULL)
		return;
	for (size_t i = 0; i <= pool->mask; i++) {
		dom_chan *d, *next;

		for (d = pool->table[i]; d != NULL; d = next) {
			size_t h = hash_name(d->domain) & (n - 1);

			next    = d->next;
			d->next = t[h];
			t[h]    = d;
		}
	}
	free(pool->table);
	pool->table = t;
	pool->mask  = n - 1;
}

/* The channels now in the table; the pool thread works on this copy
 * without the pool lock (only this thread removes channels). */
static dom_chan **
snapshot(fedrpc_domains *pool, size_t *n_out)
{
	dom_chan **v;
	size_t     n = 0;

	pthread_mutex_lock(&pool->mtx);
	v = malloc((pool->n_chans + 1) * sizeof(*v));
	for (size_t i = 0; v != NULL && i <= pool->mask; i++)
		for (dom_chan *d = pool->table[i]; d != NULL; d = d->next)
			v[n++] = d;
	pthread_mutex_unlock(&pool->mtx);
	*n_out = n;
	return v;
}

static void
sweep_idle(fedrpc_domains *pool, dom_chan *d, uint64_t now)
{
	bool removed = false;

	if (!dom_is_idle(d, now))
		return;
	pthread_mutex_lock(&pool->mtx);
	if (d->users == 0) {
		table_remove(pool, d);
		removed = true;
	}
	pthread_mutex_unlock(&pool->mtx);
	if (removed) {
		FEDRPC_LOG_DEBUG("domain %s: idle, closed", d->domain);
		POOL_STAT_ADD(pool, idle_closed, 1);
		__atomic_sub_fetch(&pool->stats.channels, 1, __ATOMIC_RELAXED);
		dom_close(d);
		return;
	}
	/* Still held by someone: only the connection goes. */
	pthread_mutex_lock(&d->ch->mtx);
	removed = d->state != DOM_IDLE;
	pthread_mutex_unlock(&d->ch->mtx);
	if (removed) {
		FEDRPC_LOG_DEBUG("domain %s: idle, disconnected", d->domain);
		POOL_STAT_ADD(pool, idle_closed, 1);
		dom_disconnect(d);
	}
}

static void *
pool_thread(void *arg)
{
	fedrpc_domains *pool  = arg;
	uint32_t        sweep = pool->cfg.idle_timeout_ms / 4;

	if (sweep > SWEEP_MAX_MS)
		sweep = SWEEP_MAX_MS;
	if (sweep < 10)
		sweep = 10;
	for (;;) {
		uint64_t   now = fedrpc_clock_ms(), next = now + sweep;
		size_t     n;
		dom_chan **v = snapshot(pool, &n);

		for (size_t i = 0; v != NULL && i < n; i++) {
			dom_step(v[i], now, &next);
			sweep_idle(pool, v[i], now);
		}
		free(v);

		pthread_mutex_lock(&pool->wake_mtx);
		while (!pool->wake && !pool->stopping) {
			struct timespec ts;
			uint64_t        t = fedrpc_clock_ms();

			if (t >= next)
				break;
			fedrpc_clock_deadline(&ts, (uint32_t) (next - t));
			pthread_cond_timedwait(&pool->wake_cv, &pool->wake_mtx, &ts);
		}
		pool->wake = false;
		if (pool->stopping) {
			pthread_mutex_unlock(&pool->wake_mtx);
			return NULL;
		}
		pthread_mutex_unlock(&pool->wake_mtx);
	}
}

static void
config_clear(dom_config *c)
{
	if (c->own_resolver && c->resolver != NULL)
		fedrpc_resolver_free(c->resolver);
	free(c->origin);
	free(c->scheme);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->crl);
	free(c->versions);
}

static char *
dup_opt(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}

fedrpc_code
fedrpc_domains_new(fedrpc_domains **out, const fedrpc_domains_opts *opts,
    fedrpc_status *st)
{
	fedrpc_domains    *pool;
	dom_config        *c;
	pthread_condattr_t ca;
	bool               oom = false;
	const char        *scheme;

	*out = NULL;
	if (opts == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "a domain pool needs options");
	scheme = opts->scheme != NULL ? opts->scheme : "tls+tcp";
	if (strcmp(scheme, "tls+tcp") != 0 && strcmp(scheme, "tcp") != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "unsupported scheme \"%s\" (tls+tcp, or tcp for tests)",
		    scheme);
	if (strcmp(scheme, "tls+tcp") == 0 &&
	    (opts->tls == NULL || opts->tls->ca_file == NULL ||
	        opts->tls->cert_file == NULL || opts->tls->key_file == NULL))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "tls+tcp needs a CA, a certificate and a key");
	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a domain pool");
	c              = &pool->cfg;
	c->origin      = dup_opt(opts->origin_domain ? opts->origin_domain : "",
             &oom);
	c->scheme      = dup_opt(scheme, &oom);
	c->use_tls     = strcmp(scheme, "tls+tcp") == 0;
	if (c->use_tls) {
		c->ca   = dup_opt(opts->tls->ca_file, &oom);
		c->cert = dup_opt(opts->tls->cert_file, &oom);
		c->key  = dup_opt(opts->tls->key_file, &oom);
		c->crl  = dup_opt(opts->tls->crl_file, &oom);
		c->tls  = *opts->tls;
		c->tls.ca_file     = c->ca;
		c->tls.cert_file   = c->cert;
		c->tls.key_file    = c->key;
		c->tls.crl_file    = c->crl;
		c->tls.server_name = NULL;
	}
	c->api_version        = opts->api_version;
	if (opts->n_api_versions > 0 && opts->api_versions != NULL) {
		size_t sz = opts->n_api_versions * sizeof(uint32_t);

		if ((c->versions = malloc(sz)) == NULL)
			oom = true;
		else
			memcpy(c->versions, opts->api_versions, sz);
		c->n_versions = oom ? 0 : opts->n_api_versions;
	}
	c->max_msg            = opts->max_message_size ? opts->max_message_size
						   : DEFAULT_MAX_MSG;
	c->default_timeout_ms = opts->default_timeout_ms ? opts->default_timeout_ms
							 : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = opts->connect_timeout_ms
	    ? opts->connect_timeout_ms
	    : DEFAULT_CONNECT_TIMEOUT_MS;
	c->idle_timeout_ms = opts->idle_timeout_ms ? opts->idle_timeout_ms
						   : DEFAULT_IDLE_TIMEOUT_MS;
	c->backoff         = opts->backoff;
	c->allowed         = opts->allowed;
	c->allowed_arg     = opts->allowed_arg;
	if (oom) {
		config_clear(c);
		free(pool);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a domain pool");
	}
	if (opts->resolver != NULL) {
		c->resolver = opts->resolver;
	} else {
		if (fedrpc_resolver_new(&c->resolver, opts->resolver_opts, st) !=
		    FEDRPC_OK) {
			config_clear(c);
			free(pool);
			return st->code;
		}
		c->own_resolver = true;
	}
	if (c->use_tls && fedrpc_tls_engine_init(st) != FEDRPC_OK) {
		config_clear(c);
		free(pool);
		return st->code;
	}
	pool->mask = 63;
	if ((pool->table = calloc(pool->mask + 1, sizeof(*pool->table))) ==
	    NULL) {
		config_clear(c);
		free(pool);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a domain pool");
	}
	pthread_mutex_init(&pool->mtx, NULL);
	pthread_mutex_init(&pool->wake_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->wake_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&pool->thread, NULL, pool_thread, pool) != 0) {
		fedrpc_domains_free(pool);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "cannot start the domain pool's thread");
	}
	pool->thread_started = true;
	*out                 = pool;
	return FEDRPC_OK;
}

void
fedrpc_domains_free(fedrpc_domains *pool)
{
	if (pool == NULL)
		return;
	if (pool->thread_started) {
		pthread_mutex_lock(&pool->wake_mtx);
		pool->stopping = true;
		pthread_cond_signal(&pool->wake_cv);
		pthread_mutex_unlock(&pool->wake_mtx);
		pthread_join(pool->thread, NULL);
	}
	for (size_t i = 0; i <= pool->mask; i++) {
		dom_chan *d, *next;

		for (d = pool->table[i]; d != NULL; d = next) {
			next = d->next;
			if (d->users > 0)
				FEDRPC_LOG_WARN("domain pool freed while %s is "
						"still held (%u)",
				    d->domain, d->users);
			dom_close(d);
		}
	}
	free(pool->table);
	config_clear(&pool->cfg);
	pthread_mutex_destroy(&pool->mtx);
	pthread_mutex_destroy(&pool->wake_mtx);
	pthread_cond_destroy(&pool->wake_cv);
	free(pool);
}

fedrpc_code
fedrpc_domains_channel(fedrpc_domains *pool, const char *domain,
    fedrpc_channel **out, fedrpc_status *st)
{
	char      norm[DNS_NAME_MAX], why[96];
	dom_chan *d, *made = NULL;
	size_t    h;

	*out = NULL;
	if (pool == NULL || !dns_domain_check(domain, norm, why, sizeof(why)))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "'%.64s' is not a valid domain name: %s",
		    domain != NULL ? domain : "", pool == NULL ? "no pool" : why);
	if (!pool_allowed(pool, norm)) {
		POOL_STAT_ADD(pool, denied, 1);
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s is not on the allow list", norm);
	}
	h = hash_name(norm);
	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&pool->mtx);
		for (d = pool->table[h & pool->mask]; d != NULL; d = d->next)
			if (strcmp(d->domain, norm) == 0)
				break;
		if (d == NULL && made != NULL) {
			/* Ours goes in. */
			d       = made;
			made    = NULL;
			d->next = pool->table[h & pool->mask];
			pool->table[h & pool->mask] = d;
			pool->n_chans++;
			POOL_STAT_ADD(pool, created, 1);
			POOL_STAT_ADD(pool, channels, 1);
			table_grow(pool);
		}
		if (d != NULL) {
			d->users++;
			pthread_mutex_unlock(&pool->mtx);
			if (made != NULL) /* another thread was first */
				dom_close(made);
			*out = d->ch;
			return FEDRPC_OK;
		}
		pthread_mutex_unlock(&pool->mtx);
		/* Made outside the lock: opening a socket takes a while. */
		if (dom_new(pool, norm, &made, st) != FEDRPC_OK)
			return st->code;
	}
	return fedrpc_status_set(st, FEDRPC_INTERNAL, "unreachable");
}

void
dom_release(dom_chan *d)
{
	fedrpc_domains *pool = d->pool;

	pthread_mutex_lock(&pool->mtx);
	if (d->users > 0)
		d->users--;
	pthread_mutex_unlock(&pool->mtx);
}

fedrpc_resolver *
fedrpc_domains_resolver(fedrpc_domains *pool)
{
	return pool->cfg.resolver;
}

void
fedrpc_domains_stats_get(fedrpc_domains *pool, fedrpc_domains_stats *out)
{
	uint64_t connected = 0;

	pthread_mutex_lock(&pool->mtx);
	for (size_t i = 0; i <= pool->mask; i++)
		for (dom_chan *d = pool->table[i]; d != NULL; d = d->next)
			if (fedrpc_channel_is_connected(d->ch))
				connected++;
	pthread_mutex_unlock(&pool->mtx);
	/* Counted with atomics outside the lock (POOL_STAT_ADD): read the
	 * same way, one by one. */
#define STAT_READ(f) out->f = __atomic_load_n(&pool->stats.f, __ATOMIC_RELAXED)
	STAT_READ(channels);
	STAT_READ(created);
	STAT_READ(idle_closed);
	STAT_READ(attempts);
	STAT_READ(attempt_failures);
	STAT_READ(backoffs);
	STAT_READ(denied);
#undef STAT_READ
	out->connected = connected;
}
