/*
 * The id rules of include/fedrpc/ids.h, which the reference backend and
 * fedctl both apply: what a UUID, a handle and a qualified id are, what is
 * refused, and what a typed id becomes.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <fedrpc/ids.h>

#define U "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

Test(ids, uuid_canonical_form_only)
{
	cr_assert(fedrpc_uuid_valid(U));
	cr_assert(fedrpc_uuid_valid("00000000-0000-0000-0000-000000000000"));
	cr_assert_not(fedrpc_uuid_valid(NULL));
	cr_assert_not(fedrpc_uuid_valid(""));
	/* Upper case travels nowhere: it is not the canonical form. */
	cr_assert_not(fedrpc_uuid_valid("0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"));
	cr_assert_not(fedrpc_uuid_valid(U "0"));
	cr_assert_not(fedrpc_uuid_valid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4"));
	cr_assert_not(fedrpc_uuid_valid("0a1b2c3d4-e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	cr_assert_not(fedrpc_uuid_valid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g"));
	cr_assert_not(fedrpc_uuid_valid("0a1b2c3d-4e5f-4a6b-8c7d 9e0f1a2b3c4d"));
	cr_assert_not(fedrpc_uuid_valid("{a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}"));
}

Test(ids, uuid_typed_in_any_case_is_normalised)
{
	char out[FEDRPC_UUID_LEN + 1] = "untouched";

	cr_assert(fedrpc_uuid_normalize("0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
	    FEDRPC_UUID_LEN, out));
	cr_assert_str_eq(out, U);
	cr_assert(fedrpc_uuid_valid(out));
	/* Only the n bytes given count: the rest of the string may follow. */
	cr_assert(fedrpc_uuid_normalize(U "@b.example", FEDRPC_UUID_LEN, out));
	cr_assert_str_eq(out, U);
	strcpy(out, "untouched");
	cr_assert_not(fedrpc_uuid_normalize(U, FEDRPC_UUID_LEN - 1, out));
	cr_assert_not(fedrpc_uuid_normalize(
	    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3cxd", FEDRPC_UUID_LEN, out));
	cr_assert_not(fedrpc_uuid_normalize(NULL, FEDRPC_UUID_LEN, out));
	cr_assert_str_eq(out, "untouched", "a refused id changed the output");
}

Test(ids, handles)
{
	char long_ok[FEDRPC_HANDLE_MAX + 2];

	cr_assert(fedrpc_handle_valid("al"));
	cr_assert(fedrpc_handle_valid("alice"));
	cr_assert(fedrpc_handle_valid("a_b.c-d09"));
	cr_assert_not(fedrpc_handle_valid(NULL));
	cr_assert_not(fedrpc_handle_valid(""));
	cr_assert_not(fedrpc_handle_valid("a"), "shorter than 2");
	cr_assert_not(fedrpc_handle_valid("Alice"), "upper case");
	cr_assert_not(fedrpc_handle_valid("al ice"));
	cr_assert_not(fedrpc_handle_valid("alice@a.example"));
	cr_assert_not(fedrpc_handle_valid("al+ice"));
	cr_assert_not(fedrpc_handle_valid("\xc3\xa9lise"), "not ASCII");
	memset(long_ok, 'x', sizeof(long_ok));
	long_ok[FEDRPC_HANDLE_MAX] = '\0';
	cr_assert(fedrpc_handle_valid(long_ok), "256 characters");
	long_ok[FEDRPC_HANDLE_MAX]     = 'x';
	long_ok[FEDRPC_HANDLE_MAX + 1] = '\0';
	cr_assert_not(fedrpc_handle_valid(long_ok), "257 characters");
	/* The n-byte form: the handle part of "handle@domain". */
	cr_assert(fedrpc_handle_valid_n("bob@b.example", 3));
	cr_assert_not(fedrpc_handle_valid_n("bob@b.example", 4));
	cr_assert_not(fedrpc_handle_valid_n("bob", 1));
}

Test(ids, qualified_ids)
{
	char id[FEDRPC_UUID_LEN + 1] = "untouched", domain[16] = "untouched";

	cr_assert(fedrpc_qid_parse(U "@b.example", id, domain, sizeof(domain)));
	cr_assert_str_eq(id, U);
	cr_assert_str_eq(domain, "b.example");
	/* What people type: any case, made canonical. */
	cr_assert(fedrpc_qid_parse(
	    "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D@B.Example", id, domain,
	    sizeof(domain)));
	cr_assert_str_eq(id, U);
	cr_assert_str_eq(domain, "b.example");

	strcpy(id, "untouched");
	strcpy(domain, "untouched");
	cr_assert_not(fedrpc_qid_parse(U, id, domain, sizeof(domain)), "no @");
	cr_assert_not(fedrpc_qid_parse(U "@", id, domain, sizeof(domain)));
	cr_assert_not(fedrpc_qid_parse("alice@b.example", id, domain,
	    sizeof(domain)), "a handle is not an id");
	cr_assert_not(fedrpc_qid_parse(U "@b..example", id, domain,
	    sizeof(domain)));
	cr_assert_not(fedrpc_qid_parse(U "@-b.example", id, domain,
	    sizeof(domain)));
	cr_assert_not(fedrpc_qid_parse(U "@a-rather-long.example", id, domain,
	    sizeof(domain)), "a domain longer than the buffer");
	cr_assert_not(fedrpc_qid_parse(NULL, id, domain, sizeof(domain)));
	cr_assert_str_eq(id, "untouched");
	cr_assert_str_eq(domain, "untouched");
}
