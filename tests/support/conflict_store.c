/*
 * The conflict-injecting store of conflict_store.h: a table that is the
 * SQLite store's, with begin and commit wrapped. A conflict is injected at
 * commit, after the transaction function did all its work, so that
 * whatever the function computed is thrown away and must be computed
 * again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "backends/sqlite/sqlite_store.h"
#include "conflict_store.h"

static fedrpc_store_ops        wrapped; /* SQLite's, begin/commit ours */
static const fedrpc_store_ops *inner_ops;
static pthread_once_t          once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t    injected;
/* fedrpc_store_run() retries on the thread that lost. */
static __thread bool lost_last;

uint64_t
conflict_store_injected(void)
{
	return atomic_load(&injected);
}

static fedrpc_code
wrapped_begin(fedrpc_store *store, fedrpc_store_mode mode, fedrpc_store_tx *tx,
    fedrpc_status *st)
{
	fedrpc_store *inner = store->impl;
	fedrpc_code   rc    = inner->ops->begin(inner, mode, tx, st);

	if (rc == FEDRPC_OK)
		tx->ops = &wrapped;
	return rc;
}

static fedrpc_code
wrapped_commit(fedrpc_store_tx *tx, fedrpc_status *st)
{
	if (!lost_last) {
		lost_last = true;
		inner_ops->rollback(tx);
		atomic_fetch_add(&injected, 1);
		return fedrpc_status_set(st, FEDRPC_STORE_CONFLICT,
		    "conflict store: this commit lost to another writer");
	}
	lost_last = false;
	return inner_ops->commit(tx, st);
}

static void
wrapped_close(fedrpc_store *store)
{
	fedrpc_store_close(store->impl);
	free(store);
}

static fedrpc_store *inner_for_ops;

static void
make_table(void)
{
	inner_ops      = inner_for_ops->ops;
	wrapped        = *inner_ops;
	wrapped.name   = "sqlite with conflicts";
	wrapped.close  = wrapped_close;
	wrapped.begin  = wrapped_begin;
	wrapped.commit = wrapped_commit;
}

fedrpc_code
conflict_store_open(const char *config, fedrpc_store **out, fedrpc_status *st)
{
	static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
	fedrpc_store          *inner, *store;

	*out = NULL;
	if (fedrpc_store_sqlite_open(config, &inner, st) != FEDRPC_OK)
		return st->code;
	pthread_mutex_lock(&mtx);
	inner_for_ops = inner;
	pthread_once(&once, make_table);
	pthread_mutex_unlock(&mtx);
	if ((store = calloc(1, sizeof(*store))) == NULL) {
		fedrpc_store_close(inner);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "conflict store: no memory");
	}
	store->ops  = &wrapped;
	store->impl = inner;
	*out        = store;
	return FEDRPC_OK;
}
