/*
 * Fuzz target: fedctl rpc's JSON codec (tools/rpc/), which reads what a
 * user types as --data and what any server answers. An input is a
 * message name on its first line (one of tests/data/rpc/alltypes.proto's
 * or of the federation and local schemas embedded in gen/; an unknown
 * name picks one by its hash), then text that is read twice: as JSON for
 * that message, and as its wire format. Whatever encodes or decodes must
 * hold together: protobuf decoded to JSON encodes again, and that
 * decodes to the same JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "fuzz_util.h"
#include "rpc_json.h"
#include "rpc_pool.h"

static rpc_pool *pool;

static const rpc_message *
pick(const char *name, size_t len)
{
	char     buf[256];
	uint32_t h = 2166136261u;

	if (len < sizeof(buf)) {
		const rpc_message *m;

		memcpy(buf, name, len);
		buf[len] = '\0';
		if ((m = rpc_pool_message(pool, buf)) != NULL)
			return m;
	}
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t) name[i]) * 16777619u;
	return rpc_pool_message_at(pool, h % rpc_pool_n_messages(pool));
}

/* bytes of m: decode; the JSON encodes again and decodes the same. */
static void
stable(const rpc_message *m, const uint8_t *data, size_t len)
{
	fedrpc_status st = {0};
	json_t       *j1 = NULL, *j2 = NULL;
	uint8_t      *again = NULL;
	size_t        again_len;

	if (rpc_pb_to_json(m, data, len, &j1, &st) != FEDRPC_OK) {
		FZ_CHECK(j1 == NULL && st.message[0] == '$');
		return;
	}
	if (rpc_json_to_pb(m, j1, &again, &again_len, &st) != FEDRPC_OK) {
		char *text = json_dumps(j1, 0);

		fprintf(stderr, "%s: decoded %s does not encode: %s\n",
		    m->full_name, text ? text : "?", st.message);
		free(text);
		FZ_CHECK(!"decoded JSON encodes again");
	}
	FZ_CHECK(rpc_pb_to_json(m, again, again_len, &j2, &st) == FEDRPC_OK);
	FZ_CHECK(json_equal(j1, j2));
	free(again);
	json_decref(j1);
	json_decref(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t     *nl = memchr(data, '\n', size);
	size_t             name_len = nl ? (size_t) (nl - data) : 0;
	const uint8_t     *rest     = nl ? nl + 1 : data;
	size_t             rest_len = size - (size_t) (rest - data);
	const rpc_message *m        = pick((const char *) data, name_len);
	fedrpc_status      st       = {0};
	uint8_t           *pb       = NULL;
	size_t             pb_len;

	if (rpc_json_text_to_pb(m, (const char *) rest, rest_len, &pb, &pb_len,
	        &st) == FEDRPC_OK) {
		stable(m, pb, pb_len);
		free(pb);
	} else {
		FZ_CHECK(pb == NULL && st.code == FEDRPC_INVALID_ARGUMENT &&
		    st.message[0] != '\0');
	}
	stable(m, rest, rest_len);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fedrpc_status st = {0};

	(void) argc;
	(void) argv;
	fz_quiet_logs();
	pool = rpc_pool_new();
	FZ_CHECK(pool != NULL);
	FZ_CHECK(rpc_pool_add_set_file(pool, FZ_RPC_PROTOSET, &st) == FEDRPC_OK);
	FZ_CHECK(rpc_pool_add_schema(pool,
	             &fedrpc_schema_fedrpc_federation_v1_users, &st) == FEDRPC_OK);
	FZ_CHECK(rpc_pool_add_schema(pool,
	             &fedrpc_schema_fedrpc_federation_v1_conversations, &st) ==
	    FEDRPC_OK);
	FZ_CHECK(rpc_pool_add_schema(pool, &fedrpc_schema_fedrpc_local_v1_inbox,
	             &st) == FEDRPC_OK);
	FZ_CHECK(rpc_pool_add_schema(pool,
	             &fedrpc_schema_fedrpc_local_v1_delivery, &st) == FEDRPC_OK);
	FZ_CHECK(rpc_pool_resolve(pool, &st) == FEDRPC_OK);
	return 0;
}
