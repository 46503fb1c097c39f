/*
 * Asynchronous calls counted by their callback, for tests that start many
 * at once: how many ended, how many answered, each status code's count and
 * the last message, read under the batch's lock; a bounded wait for n.
 */
#ifndef FEDRPC_TEST_CALL_BATCH_H
#define FEDRPC_TEST_CALL_BATCH_H

#include <pthread.h>
#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include <fedrpc/status.h>

typedef struct tu_batch {
	pthread_mutex_t mtx;
	int             done;         /* callbacks run */
	int             ok;           /* of them, FEDRPC_OK with a response */
	int             codes[17];    /* by fedrpc_code */
	char            last_msg[256]; /* the last status message */
} tu_batch;

#define TU_BATCH_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}, {0}}

/* The completion callback: arg is the tu_batch; frees the response. */
void tu_batch_cb(void *arg, const fedrpc_status *st, ProtobufCMessage *resp);
/* How many callbacks ran. */
int tu_batch_done(tu_batch *b);
/* Whether exactly n ran within timeout_ms (polled, tu_wait_until). */
bool tu_batch_wait(tu_batch *b, int n, unsigned timeout_ms);

#endif
