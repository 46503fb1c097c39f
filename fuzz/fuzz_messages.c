/*
 * Fuzz target: every protobuf message of proto/ as protobuf-c decodes it
 * from the wire with our generated descriptors (the .pb-c.c files in
 * gen/): requests as a server unpacks them, responses as a stub unpacks
 * them, and the messages nested in either. The first byte picks the message, the rest is
 * its encoding. What decodes must pass protobuf-c's own check, pack to the
 * size it announces, and reach a fixed point after one repack (the
 * encoding of a decoded message is canonical).
 */
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "core/wire/pb_unpack.h"
#include "fuzz_messages.inc"
#include "fuzz_pb.h"
#include "fuzz_util.h"

#define FZ_MESSAGE(d) &d,
static const ProtobufCMessageDescriptor *const messages[] = {FZ_MESSAGES};
#undef FZ_MESSAGE
#define N_MESSAGES (sizeof(messages) / sizeof(messages[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage                 *m, *m2;
	uint8_t                          *p1, *p2;
	size_t                            n1, n2;

	if (size == 0)
		return 0;
	d = messages[data[0] % N_MESSAGES];
	if ((m = fedrpc_pb_unpack(d, NULL, size - 1, data + 1)) == NULL)
		return 0;
	FZ_CHECK(protobuf_c_message_check(m));
	p1 = fz_pb_pack(m, &n1);
	m2 = protobuf_c_message_unpack(d, NULL, n1, p1);
	FZ_CHECK(m2 != NULL);
	p2 = fz_pb_pack(m2, &n2);
	FZ_CHECK(n1 == n2 && memcmp(p1, p2, n1) == 0);
	free(p1);
	free(p2);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

/* One seed per message: its selector byte and every field set. */
static void
write_seeds(void)
{
	for (size_t i = 0; i < N_MESSAGES; i++) {
		fz_arena          a;
		ProtobufCMessage *m;
		uint8_t          *p, *seed;
		size_t            n;
		char              name[160];

		fz_arena_init(&a);
		m    = fz_pb_fill(messages[i], 3, &a);
		p    = fz_pb_pack(m, &n);
		seed = malloc(n + 1);
		FZ_CHECK(seed != NULL);
		seed[0] = (uint8_t) i;
		memcpy(seed + 1, p, n);
		snprintf(name, sizeof(name), "%s", messages[i]->name);
		fz_seed(name, seed, n + 1);
		free(seed);
		free(p);
		fz_arena_free(&a);
	}
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
