/*
 * The call batch of call_batch.h.
 */
#include <stdio.h>

#include "call_batch.h"
#include "testutil.h"

void
tu_batch_cb(void *arg, const fedrpc_status *st, ProtobufCMessage *resp)
{
	tu_batch *b = arg;

	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	pthread_mutex_lock(&b->mtx);
	b->done++;
	if (st->code == FEDRPC_OK && resp != NULL)
		b->ok++;
	if ((unsigned) st->code < 17)
		b->codes[st->code]++;
	snprintf(b->last_msg, sizeof(b->last_msg), "%s", st->message);
	pthread_mutex_unlock(&b->mtx);
}

int
tu_batch_done(tu_batch *b)
{
	int n;

	pthread_mutex_lock(&b->mtx);
	n = b->done;
	pthread_mutex_unlock(&b->mtx);
	return n;
}

bool
tu_batch_wait(tu_batch *b, int n, unsigned timeout_ms)
{
	return TU_WAIT_FOR(tu_batch_done(b) >= n, timeout_ms) &&
	    tu_batch_done(b) == n;
}
