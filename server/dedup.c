/*
 * The reply cache behind request-id deduplication. nng's req0 may send a
 * request again when its connection drops, and callers retry a logical
 * call under the same id; either way the handler must run once. A
 * repeated id gets the reply already given, or waits for the first run.
 * Finished entries are kept in LRU order within a count and byte budget.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/hash.h"
#include "core/base/lru.h"
#include "server/server_int.h"

struct srv_dentry {
	srv_dentry *hnext;      /* hash chain */
	srv_dentry *lprev;      /* LRU neighbours, finished entries only */
	srv_dentry *lnext;
	uint8_t     id[FEDRPC_REQUEST_ID_LEN];
	uint64_t    call_hash;  /* method and origin the id was first used for */
	bool        done;       /* the first run has finished */
	uint8_t    *reply;      /* owned copy of the reply body, when done */
	size_t      reply_len;
	srv_rctx   *waiters;    /* duplicates parked while running */
};

struct srv_dedup {
	pthread_mutex_t mtx;
	srv_dentry    **buckets;     /* owned */
	size_t          mask;        /* buckets - 1 */
	srv_dentry     *oldest;      /* LRU list of finished entries */
	srv_dentry     *newest;
	size_t          n_entries;   /* all entries, running or finished */
	size_t          max_entries;
	size_t          bytes;       /* reply bytes held */
	size_t          max_bytes;
};

static uint64_t
call_hash(const char *method, const char *origin)
{
	static const uint8_t sep = 0xff; /* no byte of a name */
	uint64_t             h   = fedrpc_hash_str(FEDRPC_HASH_INIT, method);

	h = fedrpc_hash_bytes(h, &sep, 1);
	return fedrpc_hash_str(h, origin);
}

/* Ids are random: their first bytes are already a good hash. */
static size_t
bucket_of(const srv_dedup *d, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t) (h ^ (h >> 29)) & d->mask;
}

srv_dedup *
srv_dedup_new(size_t max_entries, size_t max_bytes)
{
	srv_dedup *d = calloc(1, sizeof(*d));
	size_t     n = 16;

	if (d == NULL)
		return NULL;
	while (n < max_entries)
		n <<= 1;
	if ((d->buckets = calloc(n, sizeof(*d->buckets))) == NULL) {
		free(d);
		return NULL;
	}
	d->mask        = n - 1;
	d->max_entries = max_entries;
	d->max_bytes   = max_bytes;
	pthread_mutex_init(&d->mtx, NULL);
	return d;
}

void
srv_dedup_free(srv_dedup *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i <= d->mask; i++) {
		srv_dentry *e, *next;

		for (e = d->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			free(e->reply);
			free(e);
		}
	}
	free(d->buckets);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}

static srv_dentry *
find(srv_dedup *d, const uint8_t *id)
{
	srv_dentry *e;

	for (e = d->buckets[bucket_of(d, id)]; e != NULL; e = e->hnext)
		if (memcmp(e->id, id, FEDRPC_REQUEST_ID_LEN) == 0)
			return e;
	return NULL;
}

static void
unhash(srv_dedup *d, srv_dentry *e)
{
	srv_dentry **pp = &d->buckets[bucket_of(d, e->id)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	d->n_entries--;
}

static void
lru_unlink(srv_dedup *d, srv_dentry *e)
{
	FEDRPC_LRU_UNLINK(d, e);
}

static void
lru_append(srv_dedup *d, srv_dentry *e)
{
	FEDRPC_LRU_APPEND(d, e);
}

/* Drops the oldest finished entries until both budgets hold. Running
 * entries are never dropped: duplicates may be parked on them. */
static void
evict(srv_dedup *d)
{
	while ((d->n_entries > d->max_entries || d->bytes > d->max_bytes) &&
	    d->oldest != NULL) {
		srv_dentry *e = d->oldest;

		lru_unlink(d, e);
		unhash(d, e);
		d->bytes -= e->reply_len;
		free(e->reply);
		free(e);
	}
}

srv_dedup_result
srv_dedup_begin(srv_dedup *d, const uint8_t *id, const char *method,
    const char *origin, srv_rctx *rc, srv_dentry **entry, nng_msg **reply)
{
	uint64_t    h = call_hash(method, origin);
	srv_dentry *e;
	size_t      b;

	*entry = NULL;
	*reply = NULL;
	pthread_mutex_lock(&d->mtx);
	if ((e = find(d, id)) != NULL) {
		if (e->call_hash != h) {
			pthread_mutex_unlock(&d->mtx);
			return DEDUP_BYPASS;
		}
		if (!e->done) {
			rc->state  = RCTX_PARKED;
			rc->next   = e->waiters;
			e->waiters = rc;
			pthread_mutex_unlock(&d->mtx);
			return DEDUP_PARKED;
		}
		if (nng_msg_alloc(reply, e->reply_len) != 0) {
			pthread_mutex_unlock(&d->mtx);
			return DEDUP_BYPASS;
		}
		memcpy(nng_msg_body(*reply), e->reply, e->reply_len);
		lru_unlink(d, e);
		lru_append(d, e);
		pthread_mutex_unlock(&d->mtx);
		return DEDUP_DONE;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		pthread_mutex_unlock(&d->mtx);
		return DEDUP_BYPASS;
	}
	memcpy(e->id, id, FEDRPC_REQUEST_ID_LEN);
	e->call_hash   = h;
	b              = bucket_of(d, id);
	e->hnext       = d->buckets[b];
	d->buckets[b]  = e;
	d->n_entries++;
	evict(d);
	pthread_mutex_unlock(&d->mtx);
	*entry = e;
	return DEDUP_NEW;
}

srv_rctx *
srv_dedup_finish(srv_dedup *d, srv_dentry *e, const nng_msg *reply)
{
	srv_rctx *waiters;
	uint8_t  *copy = NULL;
	size_t    len  = 0;

	/* Copy before taking the lock; a reply too big to keep is not. */
	if (reply != NULL) {
		len = nng_msg_len(reply);
		if (len <= d->max_bytes && (copy = malloc(len ? len : 1)) != NULL)
			memcpy(copy, nng_msg_body((nng_msg *) reply), len);
	}
	pthread_mutex_lock(&d->mtx);
	waiters    = e->waiters;
	e->waiters = NULL;
	if (copy != NULL) {
		e->done      = true;
		e->reply     = copy;
		e->reply_len = len;
		d->bytes += len;
		lru_append(d, e);
		evict(d);
	} else {
		unhash(d, e);
		free(e);
	}
	pthread_mutex_unlock(&d->mtx);
	return waiters;
}
