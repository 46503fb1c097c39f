/*
 * The frame writer. nng's streams (its TLS stream in particular) send one
 * buffer per operation, and every operation on a TLS stream is a TLS
 * record and a system call, so frames are not written one by one: while a
 * write is in flight, new frames are appended to a second buffer, and when
 * the write finishes that whole buffer is the next write. The copy into it
 * is the price of one record batch per write (docs/performance.md
 * measures it). The queue is bounded so that a peer that stops reading
 * holds bounded memory: the caller waits (or stops reading) when full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire/frame.h"

#define REST_SIZE (16u * 1024u)

void
fedrpc_frame_tx_init(fedrpc_frame_tx *tx, size_t max_queued)
{
	memset(tx, 0, sizeof *tx);
	tx->max_queued = max_queued;
	tx->rest       = REST_SIZE;
}

void
fedrpc_frame_tx_fini(fedrpc_frame_tx *tx)
{
	free(tx->pend);
	free(tx->fly);
	memset(tx, 0, sizeof *tx);
}

size_t
fedrpc_frame_tx_queued(const fedrpc_frame_tx *tx)
{
	return tx->pend_len + (tx->fly_len - tx->fly_off);
}

/* Room for `need` more bytes at the end of the pending buffer. */
static uint8_t *
reserve(fedrpc_frame_tx *tx, size_t need)
{
	size_t queued = fedrpc_frame_tx_queued(tx);
	size_t cap;
	uint8_t *p;

	if (tx->max_queued != 0 && queued > 0 && queued + need > tx->max_queued) {
		errno = ENOBUFS;
		return NULL;
	}
	if (tx->pend_cap - tx->pend_len < need) {
		cap = tx->pend_cap ? tx->pend_cap : 1024;
		while (cap - tx->pend_len < need)
			cap *= 2;
		if ((p = realloc(tx->pend, cap)) == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		tx->pend     = p;
		tx->pend_cap = cap;
	}
	p = tx->pend + tx->pend_len;
	tx->pend_len += need;
	return p;
}

uint8_t *
fedrpc_frame_tx_begin(fedrpc_frame_tx *tx, uint8_t type, uint8_t flags,
    uint32_t call_id, uint32_t len)
{
	uint8_t *p = reserve(tx, FEDRPC_FRAME_HEADER_LEN + (size_t) len);

	if (p == NULL)
		return NULL;
	fedrpc_frame_header_encode(p, type, flags, call_id, len);
	tx->frames++;
	return p + FEDRPC_FRAME_HEADER_LEN;
}

int
fedrpc_frame_tx_append(fedrpc_frame_tx *tx, uint8_t type, uint8_t flags,
    uint32_t call_id, const void *payload, uint32_t len)
{
	uint8_t *p = fedrpc_frame_tx_begin(tx, type, flags, call_id, len);

	if (p == NULL)
		return -1;
	if (len > 0)
		memcpy(p, payload, len);
	return 0;
}

int
fedrpc_frame_tx_preface(fedrpc_frame_tx *tx, const fedrpc_preface *pre)
{
	uint8_t *p = reserve(tx, FEDRPC_PREFACE_LEN);

	if (p == NULL)
		return -1;
	fedrpc_preface_encode(p, pre);
	return 0;
}

bool
fedrpc_frame_tx_take(fedrpc_frame_tx *tx, const uint8_t **p, size_t *n)
{
	uint8_t *b;
	size_t   cap;

	if (tx->fly_off < tx->fly_len) {
		*p = tx->fly + tx->fly_off;
		*n = tx->fly_len - tx->fly_off;
		return true;
	}
	if (tx->pend_len == 0)
		return false;
	/* The pending buffer becomes the one in flight; the old one (empty)
	 * collects what comes next, unless it grew past its resting size. */
	b   = tx->fly;
	cap = tx->fly_cap;
	if (cap > tx->rest) {
		free(b);
		b   = NULL;
		cap = 0;
	}
	tx->fly      = tx->pend;
	tx->fly_cap  = tx->pend_cap;
	tx->fly_len  = tx->pend_len;
	tx->fly_off  = 0;
	tx->pend     = b;
	tx->pend_cap = cap;
	tx->pend_len = 0;
	tx->writes++;
	*p = tx->fly;
	*n = tx->fly_len;
	return true;
}

bool
fedrpc_frame_tx_sent(fedrpc_frame_tx *tx, size_t n)
{
	tx->fly_off += n;
	if (tx->fly_off < tx->fly_len)
		return false;
	tx->fly_off = tx->fly_len = 0;
	return true;
}
