/*
 * Fuzz target: the wire protocol's frame reader and writer
 * (core/wire/frame*.c), which see every byte a peer sends before anything
 * else does. The first input byte picks the role (server or client) and
 * how the bytes arrive (the size of each read); the rest is the stream.
 * What is read must hold together: every frame passes the header rules
 * and fits the limit, only a server skips (oversized requests), the
 * buffer never grows past one frame, and the frames written again through
 * the writer read back identical in one read.
 */
#include <stdlib.h>
#include <string.h>

#include "core/wire/frame.h"
#include "fuzz_util.h"

#define MAX_FRAME 4096u
#define READ_SIZE 512u
#define MAX_SEEN  256

typedef struct seen {
	uint8_t  type;
	uint32_t id;
	uint32_t len;
	uint32_t sum; /* FNV-1a of the payload */
	bool     skipped;
} seen;

static uint32_t
fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Reads all of rx's pending units; false after a protocol error. */
static bool
drain(fedrpc_frame_rx *rx, fedrpc_frame_tx *tx, seen *s, int *n)
{
	fedrpc_frame   f;
	fedrpc_preface pre;
	fedrpc_status  st = {0};

	for (;;) {
		fedrpc_frame_rx_result r = fedrpc_frame_rx_next(rx, &pre, &f, &st);

		switch (r) {
		case FEDRPC_RX_MORE: return true;
		case FEDRPC_RX_ERROR:
			FZ_CHECK(st.code != FEDRPC_OK && st.message[0] != '\0');
			return false;
		case FEDRPC_RX_PREFACE:
			FZ_CHECK(pre.version != 0 && pre.max_frame >= FEDRPC_FRAME_MIN_LIMIT);
			if (tx)
				FZ_CHECK(fedrpc_frame_tx_preface(tx, &pre) == 0);
			continue;
		case FEDRPC_RX_OVERSIZED:
			FZ_CHECK(rx->server && f.type == FEDRPC_FRAME_REQUEST);
			FZ_CHECK(f.len > MAX_FRAME && f.payload == NULL);
			break;
		case FEDRPC_RX_FRAME:
			FZ_CHECK(fedrpc_frame_check(&f, rx->server, NULL) == FEDRPC_OK);
			FZ_CHECK(f.len <= MAX_FRAME);
			FZ_CHECK(f.len == 0 || f.payload != NULL);
			break;
		}
		if (*n < MAX_SEEN) {
			seen *e    = &s[(*n)++];
			e->type    = f.type;
			e->id      = f.call_id;
			e->len     = f.len;
			e->skipped = r == FEDRPC_RX_OVERSIZED;
			e->sum     = f.payload ? fnv(f.payload, f.len) : 0;
			/* Written again; a skipped request as an empty one. */
			if (tx)
				FZ_CHECK(fedrpc_frame_tx_append(tx, f.type, f.flags,
				    f.call_id, f.payload, e->skipped ? 0 : f.len) == 0);
		}
	}
}

static bool
feed(fedrpc_frame_rx *rx, fedrpc_frame_tx *tx, const uint8_t *b, size_t len,
    size_t step, seen *s, int *n)
{
	size_t off = 0;

	while (off < len) {
		uint8_t *p;
		size_t   room;

		FZ_CHECK(fedrpc_frame_rx_space(rx, &p, &room) == 0);
		FZ_CHECK(room > 0);
		FZ_CHECK(fedrpc_frame_rx_footprint(rx) <=
		    FEDRPC_FRAME_HEADER_LEN + MAX_FRAME + READ_SIZE);
		if (room > step)
			room = step;
		if (room > len - off)
			room = len - off;
		memcpy(p, b + off, room);
		fedrpc_frame_rx_commit(rx, room);
		off += room;
		if (!drain(rx, tx, s, n))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static seen     a[MAX_SEEN], b[MAX_SEEN];
	fedrpc_frame_rx rx, back;
	fedrpc_frame_tx tx;
	fz_reader       r      = fz_reader_of(data, size);
	uint8_t         mode   = fz_u8(&r);
	bool            server = mode & 1;
	size_t          step   = 1 + (mode >> 1) * 13, len, out_len;
	const uint8_t  *rest   = fz_rest(&r, &len), *out;
	int             na = 0, nb = 0;

	fedrpc_frame_rx_init(&rx, server, MAX_FRAME, READ_SIZE);
	fedrpc_frame_tx_init(&tx, 0);
	feed(&rx, &tx, rest, len, step, a, &na);
	fedrpc_frame_rx_fini(&rx);

	/* What was read, written again, reads back the same in one piece
	 * (skipped requests come back empty). */
	if (fedrpc_frame_tx_take(&tx, &out, &out_len)) {
		fedrpc_frame_rx_init(&back, server, MAX_FRAME, READ_SIZE);
		FZ_CHECK(feed(&back, NULL, out, out_len, out_len, b, &nb));
		FZ_CHECK(nb == na);
		for (int i = 0; i < na; i++) {
			FZ_CHECK(a[i].type == b[i].type && a[i].id == b[i].id);
			FZ_CHECK(a[i].skipped ? b[i].len == 0 :
			    a[i].len == b[i].len && a[i].sum == b[i].sum);
		}
		FZ_CHECK(fedrpc_frame_tx_sent(&tx, out_len));
		fedrpc_frame_rx_fini(&back);
	}
	fedrpc_frame_tx_fini(&tx);
	return 0;
}

static void
write_seeds(void)
{
	static const fedrpc_preface pre = {.version = 1, .max_frame = 65536};
	uint8_t                     b[256];
	size_t                      off;

	/* Client preface, two requests (one in pieces of 14), a cancel, a
	 * ping: what a server reads. */
	b[0] = 0x03;
	fedrpc_preface_encode(b + 1, &pre);
	off = 1 + FEDRPC_PREFACE_LEN;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0, 1, 5);
	memcpy(b + off + 12, "hello", 5);
	off += 17;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0, 2, 0);
	off += 12;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_CANCEL, 0, 2, 0);
	off += 12;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_PING, 0, 0, 8);
	memcpy(b + off + 12, "12345678", 8);
	off += 20;
	fz_seed("server-stream", b, off);

	/* An oversized request, then a small one. */
	b[0] = 0x01;
	off  = 1 + FEDRPC_PREFACE_LEN;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0, 1, 5000);
	off += 12;
	fz_seed("server-oversized", b, off);

	/* What a client reads: a reply, a pong, a drain. */
	b[0] = 0x00;
	off  = 1 + FEDRPC_PREFACE_LEN;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REPLY, 0, 7, 3);
	memcpy(b + off + 12, "abc", 3);
	off += 15;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_PONG, 0, 0, 8);
	memcpy(b + off + 12, "12345678", 8);
	off += 20;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_DRAIN, 0, 0, 14);
	memcpy(b + off + 12, "\0\0\0\7\0\0\0\x0estopping", 14);
	off += 26;
	fz_seed("client-stream", b, off);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	if (fz_seeds_dir() != NULL) {
		write_seeds();
		exit(0);
	}
	return 0;
}
