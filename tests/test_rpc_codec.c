/*
 * fedctl rpc's JSON codec (tools/rpc/): every field type and shape of
 * tests/data/rpc/alltypes.proto encoded from JSON byte for byte as
 * protobuf-c packs the same generated message, decoded back to the same
 * JSON; the proto3 JSON rules (names, enums, base64, 64-bit strings,
 * wrappers, maps, oneofs, presence); errors that name the field's path;
 * malformed wire input refused; and the descriptors embedded in gen/.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "alltypes.pb-c.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "rpc_describe.h"
#include "rpc_json.h"
#include "rpc_pool.h"
#include "rpc_wire.h"

typedef Fedrpc__Test__Rpc__AllTypes all_types;
typedef Fedrpc__Test__Rpc__Inner    inner;

static rpc_pool *pool;

static void
setup(void)
{
	fedrpc_status st = {0};

	cr_assert_not_null(pool = rpc_pool_new());
	cr_assert_eq(rpc_pool_add_set_file(pool, FEDRPC_RPC_PROTOSET, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rpc_pool_resolve(pool, &st), FEDRPC_OK, "%s", st.message);
}

static void
teardown(void)
{
	rpc_pool_free(pool);
	pool = NULL;
}

TestSuite(rpc_codec, .init = setup, .fini = teardown);

static const rpc_message *
msg(const char *name)
{
	const rpc_message *m = rpc_pool_message(pool, name);

	cr_assert_not_null(m, "no message %s", name);
	return m;
}

/* JSON text -> bytes; asserts success. */
static uint8_t *
encode(const char *type, const char *json, size_t *len)
{
	fedrpc_status st = {0};
	uint8_t      *out;

	cr_assert_eq(rpc_json_text_to_pb(msg(type), json, strlen(json), &out,
	                 len, &st),
	    FEDRPC_OK, "%s: %s", json, st.message);
	return out;
}

/* The error message of JSON that must not encode. */
static const char *
encode_error(const char *type, const char *json)
{
	static fedrpc_status st;
	uint8_t             *out = NULL;
	size_t               len;

	memset(&st, 0, sizeof(st));
	cr_assert_eq(rpc_json_text_to_pb(msg(type), json, strlen(json), &out,
	                 &len, &st),
	    FEDRPC_INVALID_ARGUMENT, "%s encoded", json);
	cr_assert_null(out);
	return st.message;
}

static json_t *
decode(const char *type, const uint8_t *data, size_t len)
{
	fedrpc_status st = {0};
	json_t       *out;

	cr_assert_eq(rpc_pb_to_json(msg(type), data, len, &out, &st), FEDRPC_OK,
	    "%s", st.message);
	return out;
}

static void
expect_json(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);
	char   *g    = json_dumps(got, JSON_SORT_KEYS);
	char   *w    = json_dumps(want, JSON_SORT_KEYS);

	cr_assert_not_null(want, "bad expected JSON %s", want_text);
	cr_expect(json_equal(got, want), "got  %s\nwant %s", g, w);
	free(g);
	free(w);
	json_decref(want);
}

static void
expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
    size_t want_len)
{
	cr_assert_eq(got_len, want_len, "%zu bytes, protobuf-c packs %zu",
	    got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: 0x%02x, protobuf-c 0x%02x",
		    i, got[i], want[i]);
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *out;

	*len = protobuf_c_message_get_packed_size(m);
	cr_assert_not_null(out = malloc(*len + 1));
	cr_assert_eq(protobuf_c_message_pack(m, out), *len);
	return out;
}

/* The JSON of the message every_field_type builds, as the codec writes
 * it: field order, lowerCamel names, 64-bit integers as strings. */
static const char every_field_json[] =
    "{\"fDouble\": -2.5, \"fFloat\": 0.75, \"fInt64\": \"-9000000000\","
    " \"fUint64\": \"18446744073709551615\", \"fInt32\": -7,"
    " \"fFixed64\": \"1234567890123\", \"fFixed32\": 4000000000,"
    " \"fBool\": true, \"fString\": \"h\u00e9llo\","
    " \"fInner\": {\"name\": \"in\", \"n\": 3}, \"fBytes\": \"AAH/\","
    " \"fUint32\": 4294967295, \"fColor\": \"COLOR_BLUE\","
    " \"fSfixed32\": -5, \"fSfixed64\": \"-6\", \"fSint32\": -1,"
    " \"fSint64\": \"-9223372036854775808\","
    " \"rInt32\": [1, -1, 300], \"rSint64\": [\"-2\", \"2\"],"
    " \"rDouble\": [1.5, -0.25], \"rFixed32\": [7, 8], \"rBool\": [true, false],"
    " \"rColor\": [\"COLOR_RED\", \"COLOR_NEGATIVE\"],"
    " \"rString\": [\"a\", \"\"], \"rBytes\": [\"YQ==\", \"\"],"
    " \"rInner\": [{\"name\": \"x\"}, {}], \"rUnpacked\": [5, 6],"
    " \"mCounts\": {\"one\": 1, \"two\": 2},"
    " \"mInner\": {\"-3\": {\"n\": 9}},"
    " \"cInner\": {\"name\": \"chosen\"},"
    " \"wInt64\": \"42\", \"wString\": \"boxed\", \"fLast\": 11}";

Test(rpc_codec, every_field_type_matches_protobuf_c)
{
	all_types     a = FEDRPC__TEST__RPC__ALL_TYPES__INIT;
	inner         in = FEDRPC__TEST__RPC__INNER__INIT, x = FEDRPC__TEST__RPC__INNER__INIT,
	      empty = FEDRPC__TEST__RPC__INNER__INIT, mi = FEDRPC__TEST__RPC__INNER__INIT,
	      ch = FEDRPC__TEST__RPC__INNER__INIT;
	inner        *r_inner[] = {&x, &empty};
	int32_t       r_int32[] = {1, -1, 300}, r_unpacked[] = {5, 6};
	int64_t       r_sint64[] = {-2, 2};
	double        r_double[] = {1.5, -0.25};
	uint32_t      r_fixed32[] = {7, 8};
	protobuf_c_boolean r_bool[] = {1, 0};
	Fedrpc__Test__Rpc__Color r_color[] = {FEDRPC__TEST__RPC__COLOR__COLOR_RED,
	    FEDRPC__TEST__RPC__COLOR__COLOR_NEGATIVE};
	char         *r_string[] = {"a", ""};
	ProtobufCBinaryData r_bytes[] = {{1, (uint8_t *) "a"}, {0, NULL}};
	Fedrpc__Test__Rpc__AllTypes__MCountsEntry e1 =
	    FEDRPC__TEST__RPC__ALL_TYPES__MCOUNTS_ENTRY__INIT, e2 = e1;
	Fedrpc__Test__Rpc__AllTypes__MCountsEntry *counts[] = {&e1, &e2};
	Fedrpc__Test__Rpc__AllTypes__MInnerEntry   ie =
	    FEDRPC__TEST__RPC__ALL_TYPES__MINNER_ENTRY__INIT, *inners[] = {&ie};
	Google__Protobuf__Int64Value  w64 = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
	Google__Protobuf__StringValue ws  = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
	uint8_t       bytes[] = {0, 1, 0xff};
	uint8_t      *want, *got, *again;
	size_t        want_len, got_len, again_len;
	json_t       *j;
	char         *text;

	a.f_double = -2.5;
	a.f_float = 0.75f;
	a.f_int64 = -9000000000LL;
	a.f_uint64 = UINT64_MAX;
	a.f_int32 = -7;
	a.f_fixed64 = 1234567890123ULL;
	a.f_fixed32 = 4000000000u;
	a.f_bool = 1;
	a.f_string = "h\xc3\xa9llo";
	in.name = "in";
	in.n = 3;
	a.f_inner = &in;
	a.f_bytes.data = bytes;
	a.f_bytes.len = 3;
	a.f_uint32 = UINT32_MAX;
	a.f_color = FEDRPC__TEST__RPC__COLOR__COLOR_BLUE;
	a.f_sfixed32 = -5;
	a.f_sfixed64 = -6;
	a.f_sint32 = -1;
	a.f_sint64 = INT64_MIN;
	a.n_r_int32 = 3, a.r_int32 = r_int32;
	a.n_r_sint64 = 2, a.r_sint64 = r_sint64;
	a.n_r_double = 2, a.r_double = r_double;
	a.n_r_fixed32 = 2, a.r_fixed32 = r_fixed32;
	a.n_r_bool = 2, a.r_bool = r_bool;
	a.n_r_color = 2, a.r_color = r_color;
	a.n_r_string = 2, a.r_string = r_string;
	a.n_r_bytes = 2, a.r_bytes = r_bytes;
	x.name = "x";
	a.n_r_inner = 2, a.r_inner = r_inner;
	a.n_r_unpacked = 2, a.r_unpacked = r_unpacked;
	e1.key = "one", e1.value = 1;
	e2.key = "two", e2.value = 2;
	a.n_m_counts = 2, a.m_counts = counts;
	mi.n = 9;
	ie.key = -3, ie.value = &mi;
	a.n_m_inner = 1, a.m_inner = inners;
	ch.name = "chosen";
	a.choice_case = FEDRPC__TEST__RPC__ALL_TYPES__CHOICE_C_INNER;
	a.c_inner = &ch;
	w64.value = 42;
	a.w_int64 = &w64;
	ws.value = "boxed";
	a.w_string = &ws;
	a.f_last = 11;

	want = pack(&a.base, &want_len);
	got  = encode("fedrpc.test.rpc.AllTypes", every_field_json, &got_len);
	expect_bytes(got, got_len, want, want_len);

	/* and back: protobuf-c's bytes read as the same JSON */
	j = decode("fedrpc.test.rpc.AllTypes", want, want_len);
	expect_json(j, every_field_json);
	/* JSON -> pb -> JSON -> pb: the same bytes again */
	text  = json_dumps(j, JSON_PRESERVE_ORDER);
	again = encode("fedrpc.test.rpc.AllTypes", text, &again_len);
	expect_bytes(again, again_len, want, want_len);
	free(text);
	json_decref(j);
	free(want);
	free(got);
	free(again);
}

Test(rpc_codec, defaults_are_left_out_but_a_oneof_member_is_sent)
{
	all_types a = FEDRPC__TEST__RPC__ALL_TYPES__INIT;
	uint8_t  *got, *want;
	size_t    got_len, want_len;
	json_t   *j;

	got = encode("fedrpc.test.rpc.AllTypes",
	    "{\"fInt32\": 0, \"fString\": \"\", \"fBool\": false, \"fColor\": "
	    "\"COLOR_UNSPECIFIED\", \"fBytes\": \"\", \"fDouble\": 0, "
	    "\"rInt32\": [], \"mCounts\": {}, \"fInner\": null, "
	    "\"cNumber\": 0}",
	    &got_len);
	a.choice_case = FEDRPC__TEST__RPC__ALL_TYPES__CHOICE_C_NUMBER;
	a.c_number    = 0;
	want          = pack(&a.base, &want_len);
	expect_bytes(got, got_len, want, want_len);
	cr_expect_gt(want_len, 0);
	j = decode("fedrpc.test.rpc.AllTypes", got, got_len);
	expect_json(j, "{\"cNumber\": 0}");
	json_decref(j);
	free(got);
	free(want);

	/* an empty message field is sent (presence), and read back as {} */
	got = encode("fedrpc.test.rpc.AllTypes", "{\"fInner\": {}}", &got_len);
	cr_assert_eq(got_len, 2);
	cr_expect_eq(got[0], 0x52);
	cr_expect_eq(got[1], 0x00);
	j = decode("fedrpc.test.rpc.AllTypes", got, got_len);
	expect_json(j, "{\"fInner\": {}}");
	json_decref(j);
	free(got);
}

Test(rpc_codec, schema_names_and_other_number_forms_are_accepted)
{
	uint8_t *a, *b;
	size_t   al, bl;

	a = encode("fedrpc.test.rpc.AllTypes",
	    "{\"f_int64\": 5, \"f_uint64\": \"18446744073709551615\", "
	    "\"f_color\": 2, \"fFloat\": \"Infinity\", \"fDouble\": \"NaN\", "
	    "\"fBytes\": \"AAH_\", \"fInt32\": 4.0, \"r_color\": [1, 7], "
	    "\"w_int64\": {\"value\": \"9\"}}",
	    &al);
	b = encode("fedrpc.test.rpc.AllTypes",
	    "{\"fInt64\": \"5\", \"fUint64\": \"18446744073709551615\", "
	    "\"fColor\": \"COLOR_BLUE\", \"fFloat\": \"Infinity\", "
	    "\"fDouble\": \"NaN\", \"fBytes\": \"AAH/\", \"fInt32\": 4, "
	    "\"rColor\": [\"COLOR_RED\", 7], \"wInt64\": 9}",
	    &bl);
	expect_bytes(a, al, b, bl);
	{
		json_t *j = decode("fedrpc.test.rpc.AllTypes", a, al);

		/* an enum number the schema does not name stays a number */
		expect_json(j,
		    "{\"fDouble\": \"NaN\", \"fFloat\": \"Infinity\", "
		    "\"fInt64\": \"5\", \"fUint64\": \"18446744073709551615\", "
		    "\"fInt32\": 4, \"fBytes\": \"AAH/\", \"fColor\": "
		    "\"COLOR_BLUE\", \"rColor\": [\"COLOR_RED\", 7], "
		    "\"wInt64\": \"9\"}");
		json_decref(j);
	}
	free(a);
	free(b);
}

Test(rpc_codec, an_unknown_field_is_named_with_its_path)
{
	const char *e;

	e = encode_error("fedrpc.test.rpc.AllTypes",
	    "{\"rInner\": [{\"name\": \"x\"}, {\"nmae\": \"y\"}]}");
	cr_expect(strstr(e, "$.rInner[1].nmae") != NULL, "%s", e);
	cr_expect(strstr(e, "unknown field \"nmae\" in fedrpc.test.rpc.Inner") !=
	              NULL,
	    "%s", e);
	cr_expect(strstr(e, "name, n") != NULL, "%s", e);

	e = encode_error("fedrpc.test.rpc.AllTypes", "{\"fInner\": {\"x\": 1}}");
	cr_expect(strstr(e, "$.fInner.x: unknown field") != NULL, "%s", e);
	e = encode_error("fedrpc.test.rpc.AllTypes", "{\"bogus\": 1}");
	cr_expect(strstr(e, "$.bogus: unknown field \"bogus\"") != NULL, "%s", e);
}

static void
expect_error(const char *json, const char *path, const char *what)
{
	const char *e = encode_error("fedrpc.test.rpc.AllTypes", json);

	cr_expect(strstr(e, path) == e, "%s: \"%s\" does not start with %s", json,
	    e, path);
	cr_expect(strstr(e, what) != NULL, "%s: \"%s\" does not say %s", json, e,
	    what);
}

Test(rpc_codec, a_wrong_type_is_named_with_its_path)
{
	expect_error("{\"fInner\": {\"n\": \"abc\"}}", "$.fInner.n:",
	    "\"abc\" is not a int32");
	expect_error("{\"fBool\": 1}", "$.fBool:", "expected true or false");
	expect_error("{\"fInt32\": 3000000000}", "$.fInt32:", "out of range");
	expect_error("{\"fUint32\": -1}", "$.fUint32:", "cannot be negative");
	expect_error("{\"fUint64\": \"-1\"}", "$.fUint64:", "cannot be negative");
	expect_error("{\"fInt64\": \"12x\"}", "$.fInt64:", "is not a int64");
	expect_error("{\"fInt32\": 1.5}", "$.fInt32:", "takes integers");
	expect_error("{\"fInt64\": 1e19}", "$.fInt64:", "takes integers");
	expect_error("{\"fInt64\": \" 5\"}", "$.fInt64:", "is not a int64");
	expect_error("{\"fInt64\": \"+5\"}", "$.fInt64:", "is not a int64");
	expect_error("{\"fInt64\": \"9223372036854775808\"}", "$.fInt64:",
	    "is not a int64");
	expect_error("{\"fFloat\": 1e39}", "$.fFloat:", "out of range for a float");
	expect_error("{\"fColor\": \"COLOR_GREEN\"}", "$.fColor:",
	    "\"COLOR_GREEN\" is not a value of fedrpc.test.rpc.Color");
	expect_error("{\"fBytes\": \"!!!\"}", "$.fBytes:", "not base64");
	expect_error("{\"fString\": 5}", "$.fString:", "expected a string");
	expect_error("{\"rInt32\": 5}", "$.rInt32:", "expected an array");
	expect_error("{\"rInt32\": [1, \"x\"]}", "$.rInt32[1]:", "is not a int32");
	expect_error("{\"rInner\": [{}, 3]}", "$.rInner[1]:",
	    "expected an object (fedrpc.test.rpc.Inner), got an integer");
	expect_error("{\"mCounts\": {\"a\": \"b\"}}", "$.mCounts[\"a\"]:",
	    "is not a int32");
	expect_error("{\"mInner\": {\"zz\": {}}}", "$.mInner[\"zz\"]:",
	    "is not a int64");
	expect_error("{\"cText\": \"a\", \"cNumber\": 1}", "$:",
	    "members of one oneof");
	expect_error("{\"fInt32\": 1, \"f_int32\": 2}", "$.f_int32:",
	    "given twice");
	expect_error("[]", "$:", "expected an object (fedrpc.test.rpc.AllTypes)");
	expect_error("{\"fInt32\": ", "not JSON", "line 1");
}

Test(rpc_codec, packed_and_unpacked_records_both_decode_and_messages_merge)
{
	/* r_int32 (20) unpacked: two varint records; f_inner (10) twice:
	 * merged as protobuf merges; an unknown field (99) skipped */
	static const uint8_t in[] = {
	    0xa0, 0x01, 0x01, 0xa0, 0x01, 0x02,       /* r_int32 1, 2 */
	    0xa2, 0x01, 0x01, 0x03,                   /* r_int32 packed [3] */
	    0x52, 0x03, 0x0a, 0x01, 'a',              /* f_inner {name a} */
	    0x52, 0x02, 0x10, 0x05,                   /* f_inner {n 5} */
	    0x98, 0x06, 0x07,                         /* field 99 = 7 */
	    0x28, 0x01, 0x28, 0x02,                   /* f_int32 1 then 2 */
	};
	json_t *j = decode("fedrpc.test.rpc.AllTypes", in, sizeof(in));

	expect_json(j, "{\"fInt32\": 2, \"fInner\": {\"name\": \"a\", \"n\": 5}, "
	               "\"rInt32\": [1, 2, 3]}");
	json_decref(j);
}

Test(rpc_codec, malformed_wire_input_is_refused)
{
	static const struct {
		const char *what;
		uint8_t     in[12];
		size_t      len;
	} cases[] = {
	    {"cut short", {0x52, 0x05, 0x0a}, 3},
	    {"varint too long", {0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                            0xff, 0xff, 0xff, 0x01},
	        12},
	    {"field 0", {0x00, 0x01}, 2},
	    {"wire type", {0x2d, 0, 0, 0, 0}, 5},    /* f_int32 as fixed32 */
	    {"string not UTF-8", {0x4a, 0x01, 0xff}, 3},
	    {"nested cut short", {0x52, 0x02, 0x0a, 0x05}, 4},
	    {"packed cut short", {0xa2, 0x01, 0x01, 0x80}, 4},
	    {"group", {0x53, 0x54}, 2},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fedrpc_status st  = {0};
		json_t       *out = NULL;

		cr_expect_eq(rpc_pb_to_json(msg("fedrpc.test.rpc.AllTypes"),
		                 cases[i].in, cases[i].len, &out, &st),
		    FEDRPC_INVALID_ARGUMENT, "%s decoded", cases[i].what);
		cr_expect_null(out);
		cr_expect(strncmp(st.message, "$", 1) == 0, "%s: %s",
		    cases[i].what, st.message);
	}
}

Test(rpc_codec, proto3_optional_sends_a_set_default)
{
	uint8_t *b;
	size_t   len;
	json_t  *j;

	b = encode("fedrpc.test.rpc.Presence",
	    "{\"oInt32\": 0, \"oString\": \"\", \"plain\": 0}", &len);
	cr_assert_eq(len, 4);
	cr_expect_eq(b[0], 0x08);
	cr_expect_eq(b[1], 0x00);
	cr_expect_eq(b[2], 0x12);
	cr_expect_eq(b[3], 0x00);
	j = decode("fedrpc.test.rpc.Presence", b, len);
	expect_json(j, "{\"oInt32\": 0, \"oString\": \"\"}");
	json_decref(j);
	free(b);
}

Test(rpc_codec, describe_shows_fields_with_their_json_names)
{
	fedrpc_status st = {0};
	char         *text;

	cr_assert_eq(rpc_describe(pool, "fedrpc.test.rpc.AllTypes", &text, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_expect(strstr(text, "map<string, int32> m_counts = 30;  // JSON "
	                       "\"mCounts\"") != NULL,
	    "%s", text);
	cr_expect(strstr(text, "int32 c_number = 42;  // JSON \"cNumber\", "
	                       "oneof choice") != NULL,
	    "%s", text);
	cr_expect(strstr(text, "repeated fedrpc.test.rpc.Inner r_inner = 28;") !=
	              NULL,
	    "%s", text);
	free(text);
	cr_assert_eq(rpc_describe(pool, "fedrpc.test.rpc.Things/Echo", &text, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_expect(strstr(text, "rpc Echo(fedrpc.test.rpc.AllTypes) returns "
	                       "(fedrpc.test.rpc.AllTypes);") != NULL,
	    "%s", text);
	free(text);
	cr_expect_eq(rpc_describe(pool, "fedrpc.test.rpc.Nothing", &text, &st),
	    FEDRPC_NOT_FOUND);
}

Test(rpc_codec, a_missing_import_is_named)
{
	rpc_pool     *p  = rpc_pool_new();
	fedrpc_status st = {0};

	/* users.proto alone, without common.proto */
	cr_assert_eq(rpc_pool_add_file(p,
	                 fedrpc_schema_fedrpc_federation_v1_users.descriptor,
	                 fedrpc_schema_fedrpc_federation_v1_users.descriptor_len,
	                 "users", &st),
	    FEDRPC_OK, "%s", st.message);
	cr_expect_eq(rpc_pool_resolve(p, &st), FEDRPC_NOT_FOUND);
	cr_expect(strstr(st.message, "fedrpc/federation/v1/users.proto: ") ==
	                  st.message &&
	              strstr(st.message, "which no loaded file defines") != NULL,
	    "%s", st.message);
	cr_expect_eq(rpc_pool_add_file(p, (const uint8_t *) "\xff\xff", 2,
	                 "garbage", &st),
	    FEDRPC_INVALID_ARGUMENT);
	rpc_pool_free(p);
}

/* The descriptors embedded in gen/ describe the generated messages: a
 * request encoded from JSON over them is what protobuf-c packs. */
Test(rpc_codec, embedded_schemas_encode_as_the_generated_code)
{
	rpc_pool     *p  = rpc_pool_new();
	fedrpc_status st = {0};
	const rpc_method *m;
	Fedrpc__Federation__V1__QualifiedId     q[2] = {
            FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT,
            FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT};
	Fedrpc__Federation__V1__UserClientIds   u = FEDRPC__FEDERATION__V1__USER_CLIENT_IDS__INIT,
	                                        *us[] = {&u};
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest r =
	    FEDRPC__FEDERATION__V1__CLAIM_MULTI_PREKEY_BUNDLE_REQUEST__INIT;
	uint64_t clients[] = {1, 0xffffffffffULL};
	uint8_t *want, *got;
	size_t   want_len, got_len;

	cr_assert_eq(rpc_pool_add_schema(p, &fedrpc_schema_fedrpc_federation_v1_users,
	                 &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(rpc_pool_resolve(p, &st), FEDRPC_OK, "%s", st.message);
	cr_assert(rpc_pool_has_file(p, "fedrpc/federation/v1/common.proto"));
	m = rpc_pool_method(p, "fedrpc.federation.v1.Users/ClaimMultiPrekeyBundle");
	cr_assert_not_null(m);
	q[0].id     = "4b1e8d1c-0000-4000-8000-000000000001";
	q[0].domain = "b.example";
	u.user      = &q[0];
	u.n_clients = 2;
	u.clients   = clients;
	r.n_users   = 1;
	r.users     = us;
	want        = pack(&r.base, &want_len);
	{
		const char *json =
		    "{\"users\": [{\"user\": {\"id\": "
		    "\"4b1e8d1c-0000-4000-8000-000000000001\", \"domain\": "
		    "\"b.example\"}, \"clients\": [\"1\", \"1099511627775\"]}]}";

		cr_assert_eq(rpc_json_text_to_pb(m->input, json, strlen(json),
		                 &got, &got_len, &st),
		    FEDRPC_OK, "%s", st.message);
	}
	expect_bytes(got, got_len, want, want_len);
	free(want);
	free(got);
	rpc_pool_free(p);
}

/* Map entries may leave out their key or value: each is its default. */
Test(rpc_codec, a_map_entry_without_key_or_value_is_its_default)
{
	static const uint8_t in[] = {
	    0xf2, 0x01, 0x02, 0x10, 0x05, /* m_counts: {value 5}, no key */
	    0xfa, 0x01, 0x02, 0x08, 0x07, /* m_inner: {key 7}, no value */
	    0xfa, 0x01, 0x00,             /* m_inner: an empty entry */
	    0x52, 0x00,                   /* f_inner: an empty message */
	};
	json_t  *j = decode("fedrpc.test.rpc.AllTypes", in, sizeof(in));
	char    *text;
	uint8_t *again;
	size_t   len;

	expect_json(j, "{\"fInner\": {}, \"mCounts\": {\"\": 5}, "
	               "\"mInner\": {\"7\": {}, \"0\": {}}}");
	/* and that JSON encodes again */
	text  = json_dumps(j, JSON_PRESERVE_ORDER);
	again = encode("fedrpc.test.rpc.AllTypes", text, &len);
	cr_expect_gt(len, 0);
	free(again);
	free(text);
	json_decref(j);
}
