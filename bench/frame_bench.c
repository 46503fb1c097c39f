/*
 * The cost of the wire protocol's copy: nng's TLS stream sends one buffer
 * per operation, so frames are copied into the writer's buffer
 * (core/wire/frame_tx.c) and batched; this times that copy per frame for
 * 64 B and 1 KiB envelopes in batches of 64, and the reader's in-place
 * parse of the same batch, against nothing else (no I/O).
 *
 *   frame_bench [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/wire/frame.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	long    iters   = argc > 1 ? atol(argv[1]) : 20000;
	size_t  sizes[] = {64, 1024};
	uint8_t payload[1024];

	memset(payload, 'x', sizeof(payload));
	for (size_t k = 0; k < 2; k++) {
		fedrpc_frame_tx tx;
		fedrpc_frame_rx rx;
		fedrpc_preface  pre = {.version = 1, .max_frame = 1u << 20};
		double          t_copy = 0, t_parse = 0;
		unsigned long   sink = 0;
		fedrpc_status   st   = {0};

		fedrpc_frame_tx_init(&tx, 0);
		fedrpc_frame_rx_init(&rx, false, 1u << 20, 1u << 20);
		for (long i = 0; i < iters; i++) {
			const uint8_t *p;
			size_t         n, room;
			uint8_t       *dst;
			fedrpc_frame   f;
			double         t0 = now_ns();

			for (uint32_t id = 1; id <= 64; id++)
				fedrpc_frame_tx_append(&tx, FEDRPC_FRAME_REPLY, 0, id,
				    payload, (uint32_t) sizes[k]);
			fedrpc_frame_tx_take(&tx, &p, &n);
			t_copy += now_ns() - t0;
			/* The reader, fed the batch (preface first). */
			if (i == 0) {
				fedrpc_frame_rx_space(&rx, &dst, &room);
				fedrpc_preface_encode(dst, &pre);
				fedrpc_frame_rx_commit(&rx, FEDRPC_PREFACE_LEN);
				fedrpc_frame_rx_next(&rx, &pre, &f, &st);
			}
			fedrpc_frame_rx_space(&rx, &dst, &room);
			memcpy(dst, p, n); /* stands for the read */
			fedrpc_frame_rx_commit(&rx, n);
			t0 = now_ns();
			while (fedrpc_frame_rx_next(&rx, NULL, &f, &st) ==
			    FEDRPC_RX_FRAME)
				sink += f.len;
			t_parse += now_ns() - t0;
			fedrpc_frame_tx_sent(&tx, n);
		}
		printf("%4zu B frames, batches of 64: copy into the write buffer "
		       "%.1f ns/frame, parse in place %.1f ns/frame (%lu)\n",
		    sizes[k], t_copy / (double) (iters * 64),
		    t_parse / (double) (iters * 64), sink % 7);
		fedrpc_frame_tx_fini(&tx);
		fedrpc_frame_rx_fini(&rx);
	}
	return 0;
}
