/*
 * The frame reader: bytes come in as large reads into one buffer and the
 * frames in them are handed out where they lie, many per read or one
 * spread over many reads. The buffer grows to a frame's size only after
 * the frame's header passed its checks (size against the limit first), and
 * shrinks back to its resting size when it holds nothing, so an idle
 * connection keeps a small buffer whatever it once received.
 */
#include <stdlib.h>
#include <string.h>

#include "core/wire/frame.h"

#define DEFAULT_READ_SIZE (16u * 1024u)

void
fedrpc_frame_rx_init(fedrpc_frame_rx *rx, bool server, uint32_t max_frame,
    size_t read_size)
{
	memset(rx, 0, sizeof *rx);
	rx->server    = server;
	rx->max_frame = max_frame;
	rx->read_size = read_size ? read_size : DEFAULT_READ_SIZE;
	if (rx->read_size < FEDRPC_PREFACE_LEN)
		rx->read_size = FEDRPC_PREFACE_LEN;
}

void
fedrpc_frame_rx_fini(fedrpc_frame_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
	rx->cap = rx->start = rx->end = 0;
}

/* The bytes the unit being read needs in one piece (preface, header, or
 * a whole frame whose size was found acceptable). */
static size_t
unit_size(const fedrpc_frame_rx *rx)
{
	size_t       avail = rx->end - rx->start;
	fedrpc_frame f;

	if (rx->skip > 0)
		return 1;
	if (!rx->preface)
		return FEDRPC_PREFACE_LEN;
	if (avail < FEDRPC_FRAME_HEADER_LEN)
		return FEDRPC_FRAME_HEADER_LEN;
	fedrpc_frame_header_decode(&f, rx->buf + rx->start);
	if (f.len > rx->max_frame)
		return FEDRPC_FRAME_HEADER_LEN; /* refused: never allocated */
	return FEDRPC_FRAME_HEADER_LEN + (size_t) f.len;
}

int
fedrpc_frame_rx_space(fedrpc_frame_rx *rx, uint8_t **p, size_t *n)
{
	size_t avail = rx->end - rx->start;
	size_t unit  = unit_size(rx);
	size_t want  = unit > rx->read_size ? unit : rx->read_size;

	if (avail == 0) {
		rx->start = rx->end = 0;
		if (rx->cap > rx->read_size) { /* back to the resting size */
			free(rx->buf);
			rx->buf = NULL;
			rx->cap = 0;
		}
	}
	if (rx->start > 0 && rx->cap - rx->start < want) {
		memmove(rx->buf, rx->buf + rx->start, avail);
		rx->start = 0;
		rx->end   = avail;
	}
	if (rx->cap < want) {
		uint8_t *b = realloc(rx->buf, want);

		if (b == NULL)
			return -1;
		rx->buf = b;
		rx->cap = want;
	}
	*p = rx->buf + rx->end;
	*n = rx->cap - rx->end;
	return 0;
}

void
fedrpc_frame_rx_commit(fedrpc_frame_rx *rx, size_t n)
{
	rx->end += n;
}

/* Drops what arrived of an oversized payload; true while more is due. */
static bool
skip_bytes(fedrpc_frame_rx *rx)
{
	size_t avail = rx->end - rx->start;
	size_t drop  = rx->skip < avail ? (size_t) rx->skip : avail;

	rx->start += drop;
	rx->skip -= drop;
	return rx->skip > 0;
}

static fedrpc_frame_rx_result
read_preface(fedrpc_frame_rx *rx, fedrpc_preface *pre, fedrpc_status *st)
{
	fedrpc_preface tmp;

	if (rx->end - rx->start < FEDRPC_PREFACE_LEN)
		return FEDRPC_RX_MORE;
	if (fedrpc_preface_decode(pre ? pre : &tmp, rx->buf + rx->start, st) !=
	    FEDRPC_OK)
		return FEDRPC_RX_ERROR;
	rx->start += FEDRPC_PREFACE_LEN;
	rx->preface = true;
	return FEDRPC_RX_PREFACE;
}

fedrpc_frame_rx_result
fedrpc_frame_rx_next(fedrpc_frame_rx *rx, fedrpc_preface *pre,
    fedrpc_frame *f, fedrpc_status *st)
{
	size_t avail;

	if (rx->skip > 0 && skip_bytes(rx))
		return FEDRPC_RX_MORE;
	if (!rx->preface)
		return read_preface(rx, pre, st);
	avail = rx->end - rx->start;
	if (avail < FEDRPC_FRAME_HEADER_LEN)
		return FEDRPC_RX_MORE;
	fedrpc_frame_header_decode(f, rx->buf + rx->start);
	if (fedrpc_frame_check(f, rx->server, st) != FEDRPC_OK)
		return FEDRPC_RX_ERROR;
	if (f->len > rx->max_frame) {
		if (f->type != FEDRPC_FRAME_REQUEST) {
			fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "wire frame: a frame of %u bytes is over the limit "
			    "of %u", (unsigned) f->len,
			    (unsigned) rx->max_frame);
			return FEDRPC_RX_ERROR;
		}
		rx->start += FEDRPC_FRAME_HEADER_LEN;
		rx->skip = f->len;
		return FEDRPC_RX_OVERSIZED;
	}
	if (avail - FEDRPC_FRAME_HEADER_LEN < f->len)
		return FEDRPC_RX_MORE;
	f->payload = rx->buf + rx->start + FEDRPC_FRAME_HEADER_LEN;
	rx->start += FEDRPC_FRAME_HEADER_LEN + (size_t) f->len;
	return FEDRPC_RX_FRAME;
}

size_t
fedrpc_frame_rx_footprint(const fedrpc_frame_rx *rx)
{
	return rx->cap;
}
