/*
 * The wire protocol's frame codec (core/wire/frame*.c): prefaces, headers
 * and their rules, the reader with frames split across reads and many in
 * one read, sizes refused before any allocation, and the writer batching
 * what is queued during a write into the next one, within its bound.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire/frame.h"

static const fedrpc_preface CLIENT = {
    .version = 1, .max_frame = 4096, .max_calls = 0};

/* Feeds `len` bytes to rx in pieces of `step` (the pieces a stream would
 * return), collecting the payload of every frame in order. */
typedef struct fed {
	int      frames;
	int      prefaces;
	int      oversized;
	uint32_t ids[64];
	size_t   lens[64];
	uint8_t  first[64];
	int      error;
	char     why[FEDRPC_STATUS_MESSAGE_MAX];
} fed;

static void
drain_rx(fedrpc_frame_rx *rx, fed *out)
{
	fedrpc_frame   f;
	fedrpc_preface p;
	fedrpc_status  st = {0};

	for (;;) {
		fedrpc_frame_rx_result r = fedrpc_frame_rx_next(rx, &p, &f, &st);

		if (r == FEDRPC_RX_MORE)
			return;
		if (r == FEDRPC_RX_ERROR) {
			out->error = 1;
			snprintf(out->why, sizeof out->why, "%s", st.message);
			return;
		}
		if (r == FEDRPC_RX_PREFACE) {
			out->prefaces++;
			continue;
		}
		if (r == FEDRPC_RX_OVERSIZED)
			out->oversized++;
		cr_assert_lt(out->frames, 64);
		out->ids[out->frames]   = f.call_id;
		out->lens[out->frames]  = f.len;
		out->first[out->frames] = f.payload && f.len ? f.payload[0] : 0;
		out->frames++;
	}
}

static void
feed(fedrpc_frame_rx *rx, const uint8_t *b, size_t len, size_t step, fed *out)
{
	size_t off = 0;

	while (off < len && !out->error) {
		uint8_t *p;
		size_t   n;

		cr_assert_eq(fedrpc_frame_rx_space(rx, &p, &n), 0);
		cr_assert_gt(n, 0);
		if (n > step)
			n = step;
		if (n > len - off)
			n = len - off;
		memcpy(p, b + off, n);
		fedrpc_frame_rx_commit(rx, n);
		off += n;
		drain_rx(rx, out);
	}
}

/* A byte stream: the client preface and `n` requests of growing size. */
static size_t
stream_of(uint8_t *b, size_t cap, int n)
{
	size_t off = FEDRPC_PREFACE_LEN;

	fedrpc_preface_encode(b, &CLIENT);
	for (int i = 0; i < n; i++) {
		uint32_t len = (uint32_t) (i * 37);

		cr_assert_leq(off + FEDRPC_FRAME_HEADER_LEN + len, cap);
		fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0,
		    (uint32_t) i + 1, len);
		off += FEDRPC_FRAME_HEADER_LEN;
		memset(b + off, 'a' + i % 26, len);
		off += len;
	}
	return off;
}

Test(frame, preface_roundtrip_and_refusals)
{
	uint8_t        b[FEDRPC_PREFACE_LEN];
	fedrpc_preface p = {.version = 1, .flags = 3, .max_frame = 65536,
	    .max_calls = 100}, q;
	fedrpc_status  st = {0};

	fedrpc_preface_encode(b, &p);
	cr_assert_eq(memcmp(b, "FEDRPC\r\n", 8), 0);
	cr_assert_eq(fedrpc_preface_decode(&q, b, &st), FEDRPC_OK);
	cr_assert_eq(q.version, 1);
	cr_assert_eq(q.flags, 3);
	cr_assert_eq(q.max_frame, 65536);
	cr_assert_eq(q.max_calls, 100);

	memcpy(b, "GET / HT", 8);
	cr_assert_eq(fedrpc_preface_decode(&q, b, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "wrong magic"), "%s", st.message);

	p.version = 0;
	fedrpc_preface_encode(b, &p);
	cr_assert_eq(fedrpc_preface_decode(&q, b, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "version 0"), "%s", st.message);

	p.version   = 1;
	p.max_frame = 100;
	fedrpc_preface_encode(b, &p);
	cr_assert_eq(fedrpc_preface_decode(&q, b, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "max_frame 100"), "%s", st.message);
}

Test(frame, header_rules)
{
	fedrpc_status st = {0};
	fedrpc_frame  f  = {.type = FEDRPC_FRAME_REQUEST, .call_id = 1};

	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_frame_check(&f, false, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "REQUEST frame sent to a client"), "%s",
	    st.message);
	f.call_id = 0;
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "call id 0"), "%s", st.message);

	f = (fedrpc_frame){.type = FEDRPC_FRAME_PING, .len = 8};
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_frame_check(&f, false, &st), FEDRPC_OK);
	f.len = 7;
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);
	f.len     = 8;
	f.call_id = 9;
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "connection frames use 0"), "%s", st.message);

	f = (fedrpc_frame){.type = FEDRPC_FRAME_DRAIN, .len = 4};
	cr_assert_eq(fedrpc_frame_check(&f, false, &st), FEDRPC_INVALID_ARGUMENT);
	f.len = 8;
	cr_assert_eq(fedrpc_frame_check(&f, false, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);

	f = (fedrpc_frame){.type = FEDRPC_FRAME_CANCEL, .call_id = 3, .len = 1};
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);

	f = (fedrpc_frame){.type = 7};
	cr_assert_eq(fedrpc_frame_check(&f, true, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "unknown frame type 7"), "%s", st.message);
}

/* The same stream read one byte at a time, in odd pieces, and whole: the
 * same frames come out, payloads intact. */
Test(frame, split_and_batched_reads)
{
	static uint8_t b[65536];
	size_t         len   = stream_of(b, sizeof b, 40);
	size_t         steps[] = {1, 7, 13, 4096, sizeof b};

	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		fedrpc_frame_rx rx;
		fed             out = {0};

		fedrpc_frame_rx_init(&rx, true, 4096, 1024);
		feed(&rx, b, len, steps[s], &out);
		cr_assert_eq(out.error, 0, "step %zu: %s", steps[s], out.why);
		cr_assert_eq(out.prefaces, 1);
		cr_assert_eq(out.frames, 40, "step %zu: %d frames", steps[s],
		    out.frames);
		for (int i = 0; i < 40; i++) {
			cr_assert_eq(out.ids[i], (uint32_t) i + 1);
			cr_assert_eq(out.lens[i], (size_t) i * 37);
			if (i > 0)
				cr_assert_eq(out.first[i], 'a' + i % 26);
		}
		fedrpc_frame_rx_fini(&rx);
	}
}

/* Many frames in one read are handed out in place: no copy, and the
 * buffer stays at its resting size. */
Test(frame, many_frames_in_one_read_in_place)
{
	static uint8_t  b[65536];
	size_t          len = stream_of(b, sizeof b, 20);
	fedrpc_frame_rx rx;
	fedrpc_frame    f;
	fedrpc_status   st = {0};
	uint8_t        *p;
	size_t          n;

	fedrpc_frame_rx_init(&rx, true, 4096, 16384);
	cr_assert_eq(fedrpc_frame_rx_space(&rx, &p, &n), 0);
	cr_assert_geq(n, len);
	memcpy(p, b, len);
	fedrpc_frame_rx_commit(&rx, len);
	cr_assert_eq(fedrpc_frame_rx_next(&rx, NULL, &f, &st), FEDRPC_RX_PREFACE);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(fedrpc_frame_rx_next(&rx, NULL, &f, &st),
		    FEDRPC_RX_FRAME);
		cr_assert(f.payload >= p && f.payload + f.len <= p + len);
	}
	cr_assert_eq(fedrpc_frame_rx_next(&rx, NULL, &f, &st), FEDRPC_RX_MORE);
	cr_assert_eq(fedrpc_frame_rx_footprint(&rx), 16384);
	fedrpc_frame_rx_fini(&rx);
}

/* A header claiming 4 GiB: refused from the header, the buffer never
 * grows; a request over the limit is skipped and the next frame still
 * read; any other frame over the limit is an error. */
Test(frame, oversized_refused_before_allocation)
{
	uint8_t         b[FEDRPC_PREFACE_LEN + 3 * FEDRPC_FRAME_HEADER_LEN + 5000];
	size_t          off = FEDRPC_PREFACE_LEN;
	fedrpc_frame_rx rx;
	fed             out = {0};

	fedrpc_preface_encode(b, &CLIENT);
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0, 1, 5000);
	off += FEDRPC_FRAME_HEADER_LEN;
	memset(b + off, 'x', 5000);
	off += 5000;
	fedrpc_frame_header_encode(b + off, FEDRPC_FRAME_REQUEST, 0, 2, 3);
	off += FEDRPC_FRAME_HEADER_LEN;
	memcpy(b + off, "abc", 3);
	off += 3;

	fedrpc_frame_rx_init(&rx, true, 4096, 1024);
	feed(&rx, b, off, 700, &out);
	cr_assert_eq(out.error, 0, "%s", out.why);
	cr_assert_eq(out.oversized, 1);
	cr_assert_eq(out.frames, 2);
	cr_assert_eq(out.ids[0], 1);
	cr_assert_eq(out.lens[0], 5000);
	cr_assert_eq(out.ids[1], 2);
	cr_assert_eq(out.first[1], 'a');
	cr_assert_leq(fedrpc_frame_rx_footprint(&rx), 1024,
	    "the skipped payload was buffered: %zu",
	    fedrpc_frame_rx_footprint(&rx));
	fedrpc_frame_rx_fini(&rx);

	/* 4 GiB - 1 announced in a REPLY to a client: an error at once,
	 * nothing allocated for it. */
	memset(&out, 0, sizeof out);
	fedrpc_preface_encode(b, &CLIENT);
	fedrpc_frame_header_encode(b + FEDRPC_PREFACE_LEN, FEDRPC_FRAME_REPLY, 0,
	    1, 0xffffffffu);
	fedrpc_frame_rx_init(&rx, false, 4096, 1024);
	feed(&rx, b, FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN, 1024, &out);
	cr_assert_eq(out.error, 1);
	cr_assert(strstr(out.why, "4294967295 bytes is over the limit of 4096"),
	    "%s", out.why);
	cr_assert_leq(fedrpc_frame_rx_footprint(&rx), 1024);
	fedrpc_frame_rx_fini(&rx);
}

Test(frame, garbage_and_wrong_preface)
{
	const char     *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	fedrpc_frame_rx rx;
	fed             out = {0};
	uint8_t         b[FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN];

	fedrpc_frame_rx_init(&rx, true, 4096, 0);
	feed(&rx, (const uint8_t *) http, strlen(http), 5, &out);
	cr_assert_eq(out.error, 1);
	cr_assert(strstr(out.why, "not a fedrpc peer"), "%s", out.why);
	fedrpc_frame_rx_fini(&rx);

	/* A good preface, then a frame of an unknown type. */
	memset(&out, 0, sizeof out);
	fedrpc_preface_encode(b, &CLIENT);
	fedrpc_frame_header_encode(b + FEDRPC_PREFACE_LEN, 0x42, 0, 1, 0);
	fedrpc_frame_rx_init(&rx, true, 4096, 0);
	feed(&rx, b, sizeof b, sizeof b, &out);
	cr_assert_eq(out.error, 1);
	cr_assert_eq(out.prefaces, 1);
	cr_assert(strstr(out.why, "unknown frame type 66"), "%s", out.why);
	fedrpc_frame_rx_fini(&rx);
}

/* A big frame grows the buffer; once read, the buffer is back to its
 * resting size (an idle connection holds little). */
Test(frame, buffer_shrinks_after_a_large_frame)
{
	size_t          big = 200000;
	uint8_t        *b   = malloc(FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN + big);
	fedrpc_preface  pre = {.version = 1, .max_frame = 1u << 20};
	fedrpc_frame_rx rx;
	fed             out = {0};
	uint8_t        *p;
	size_t          n;

	cr_assert_not_null(b);
	fedrpc_preface_encode(b, &pre);
	fedrpc_frame_header_encode(b + FEDRPC_PREFACE_LEN, FEDRPC_FRAME_REPLY, 0,
	    5, (uint32_t) big);
	memset(b + FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN, 'z', big);
	fedrpc_frame_rx_init(&rx, false, 1u << 20, 4096);
	feed(&rx, b, FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN + big, 3000, &out);
	cr_assert_eq(out.error, 0, "%s", out.why);
	cr_assert_eq(out.frames, 1);
	cr_assert_eq(out.lens[0], big);
	cr_assert_eq(out.first[0], 'z');
	cr_assert_geq(fedrpc_frame_rx_footprint(&rx), big);
	cr_assert_eq(fedrpc_frame_rx_space(&rx, &p, &n), 0);
	cr_assert_eq(fedrpc_frame_rx_footprint(&rx), 4096);
	fedrpc_frame_rx_fini(&rx);
	free(b);
}

/* Frames queued while a write is in flight go out in the next single
 * write, in order, and the bound holds (with one frame always accepted). */
Test(frame, writer_batches_and_bounds)
{
	fedrpc_frame_tx tx;
	const uint8_t  *p;
	size_t          n;
	fedrpc_frame    f;

	fedrpc_frame_tx_init(&tx, 200);
	cr_assert_not(fedrpc_frame_tx_take(&tx, &p, &n));
	cr_assert_eq(fedrpc_frame_tx_preface(&tx, &CLIENT), 0);
	cr_assert_eq(fedrpc_frame_tx_append(&tx, FEDRPC_FRAME_REQUEST, 0, 1,
	    "one", 3), 0);
	cr_assert(fedrpc_frame_tx_take(&tx, &p, &n));
	cr_assert_eq(n, FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN + 3);

	/* While that is in flight, three frames are queued. */
	for (uint32_t id = 2; id <= 4; id++)
		cr_assert_eq(fedrpc_frame_tx_append(&tx, FEDRPC_FRAME_REQUEST, 0,
		    id, "abcd", 4), 0);
	/* A partial write: the rest of the same buffer comes next. */
	cr_assert_not(fedrpc_frame_tx_sent(&tx, 10));
	cr_assert(fedrpc_frame_tx_take(&tx, &p, &n));
	cr_assert_eq(n, FEDRPC_PREFACE_LEN + FEDRPC_FRAME_HEADER_LEN + 3 - 10);
	cr_assert(fedrpc_frame_tx_sent(&tx, n));

	/* All three in one buffer. */
	cr_assert(fedrpc_frame_tx_take(&tx, &p, &n));
	cr_assert_eq(n, 3 * (FEDRPC_FRAME_HEADER_LEN + 4));
	for (uint32_t id = 2; id <= 4; id++) {
		fedrpc_frame_header_decode(&f, p + (id - 2) * 16);
		cr_assert_eq(f.call_id, id);
		cr_assert_eq(f.len, 4);
	}
	cr_assert_eq(tx.writes, 2);
	cr_assert_eq(tx.frames, 4);

	/* The bound: 48 in flight + 150 more would pass 200. */
	cr_assert_eq(fedrpc_frame_tx_append(&tx, FEDRPC_FRAME_REQUEST, 0, 5,
	    NULL, 0), 0);
	errno = 0;
	cr_assert_null(fedrpc_frame_tx_begin(&tx, FEDRPC_FRAME_REQUEST, 0, 6, 150));
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_eq(fedrpc_frame_tx_queued(&tx), 48 + 12);
	cr_assert(fedrpc_frame_tx_sent(&tx, n));
	cr_assert(fedrpc_frame_tx_take(&tx, &p, &n));
	cr_assert(fedrpc_frame_tx_sent(&tx, n));
	/* Empty, one frame larger than the bound is still taken. */
	cr_assert_not_null(fedrpc_frame_tx_begin(&tx, FEDRPC_FRAME_REQUEST, 0, 6, 500));
	fedrpc_frame_tx_fini(&tx);
}

/* Which transport a URL gets: the wire protocol but for inproc://, and
 * req0/rep0 everywhere with FEDRPC_WIRE=reqrep (in any case); a value it
 * does not know keeps the wire protocol. */
Test(frame, transport_selection)
{
	static const struct {
		const char *env; /* NULL: unset */
		bool        tcp, ipc, inproc;
	} cases[] = {
	    {NULL, true, true, false},
	    {"", true, true, false},
	    {"frames", true, true, false},
	    {"reqrep", false, false, false},
	    {"REQREP", false, false, false}, /* the case does not matter */
	    {"Frames", true, true, false},
	    {"bogus", true, true, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *e = cases[i].env;

		if (e == NULL)
			unsetenv("FEDRPC_WIRE");
		else
			setenv("FEDRPC_WIRE", e, 1);
		cr_assert_eq(fedrpc_wire_selected("tls+tcp://127.0.0.1:1"),
		    cases[i].tcp, "FEDRPC_WIRE=%s, tls+tcp://", e ? e : "(unset)");
		cr_assert_eq(fedrpc_wire_selected("ipc:///tmp/x.sock"),
		    cases[i].ipc, "FEDRPC_WIRE=%s, ipc://", e ? e : "(unset)");
		cr_assert_eq(fedrpc_wire_selected("inproc://x"),
		    cases[i].inproc, "FEDRPC_WIRE=%s, inproc://", e ? e : "(unset)");
	}
	unsetenv("FEDRPC_WIRE");
}
