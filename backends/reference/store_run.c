/*
 * Running a transaction function against any store: begin, the function,
 * commit or rollback, and the retry of a transaction that lost to another
 * writer. Stores for several writers (PostgreSQL's serializable
 * transactions, SQLite's busy database) report such a loss as
 * FEDRPC_STORE_CONFLICT; running the whole function again is the only
 * correct answer, since what it read may have changed.
 */
#include <stdio.h>
#include <time.h>

#include "backends/reference/ids.h"
#include "backends/reference/store.h"

/* The pause before attempt k + 1 is up to BASE << k ms, at most MAX. */
#define BACKOFF_BASE_MS 2
#define BACKOFF_MAX_MS 128

void
fedrpc_store_close(fedrpc_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

/* Full jitter: uniform in [1, cap] ms, so that two losers part ways. */
static void
backoff(int attempt)
{
	uint64_t        cap = (uint64_t) BACKOFF_BASE_MS << attempt;
	uint64_t        ms;
	struct timespec ts;

	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	ms         = 1 + adp_random_u64() % cap;
	ts.tv_sec  = 0;
	ts.tv_nsec = (long) (ms * 1000000u);
	nanosleep(&ts, NULL);
}

/* One attempt: begin, fn, commit or rollback. */
static fedrpc_code
run_once(fedrpc_store *store, ProtobufCAllocator *al, fedrpc_store_mode mode,
    fedrpc_store_fn fn, void *arg, fedrpc_status *st)
{
	fedrpc_store_tx tx = {.al = al};
	fedrpc_code     rc;

	fedrpc_status_reset(st);
	if ((rc = store->ops->begin(store, mode, &tx, st)) != FEDRPC_OK)
		return rc;
	if ((rc = fn(&tx, arg, st)) != FEDRPC_OK) {
		tx.ops->rollback(&tx);
		return rc;
	}
	return tx.ops->commit(&tx, st);
}

fedrpc_code
fedrpc_store_run(fedrpc_store *store, ProtobufCAllocator *al,
    fedrpc_store_mode mode, fedrpc_store_fn fn, void *arg,
    fedrpc_status *st)
{
	fedrpc_code rc = FEDRPC_OK;
	char        last[FEDRPC_STATUS_MESSAGE_MAX];

	for (int attempt = 1; attempt <= FEDRPC_STORE_ATTEMPTS; attempt++) {
		if (attempt > 1)
			backoff(attempt - 1);
		rc = run_once(store, al, mode, fn, arg, st);
		if (rc != FEDRPC_STORE_CONFLICT)
			return rc;
	}
	snprintf(last, sizeof(last), "%s", st->message);
	return fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
	    "%s store: still in conflict with other writers after %d "
	    "attempts: %s",
	    store->ops->name, FEDRPC_STORE_ATTEMPTS, last);
}
