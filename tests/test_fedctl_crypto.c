/*
 * fedctl's end-to-end encryption alone, without servers (the federation
 * end to end is test_federation_e2e.c; tools/fedctl/e2e.c): a round trip, and
 * that every kind of wrong input fails: another prekey, any flipped bit,
 * truncation, another version, and any change to who and where (the
 * associated data and the key derivation's context).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tools/fedctl/e2e.h"

#define ALICE "0b6f2c1e-6a7d-4a4f-9a53-3f2b8d2f1c11@a.example"
#define BOB "9122e5de-b4fb-40fa-99ad-1b5d7d07bae5@b.example"
#define CAROL "5d1c8e3a-2f4b-4c6d-8e9f-0a1b2c3d4e5f@b.example"
#define CONV "7c9d0e1f-2a3b-4c5d-8e6f-708192a3b4c5@a.example"
#define CONV2 "7c9d0e1f-2a3b-4c5d-8e6f-708192a3b4c6@a.example"

static const fedctl_e2e_context ctx = {
	.sender           = ALICE,
	.sender_client    = 0x7f3a1c2e9bull,
	.recipient        = BOB,
	.recipient_client = 0x1234abcdull,
	.conversation     = CONV,
};

static fedctl_e2e_keypair prekey, other;

static void
setup(void)
{
	cr_assert_eq(fedctl_e2e_keypair_generate(&prekey), FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_keypair_generate(&other), FEDCTL_E2E_OK);
}

static void
teardown(void)
{
	fedctl_e2e_keypair_wipe(&prekey);
	fedctl_e2e_keypair_wipe(&other);
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 30);

/* Seals text for `prekey` under id 7 in ctx; caller frees *ct. */
static void
seal(const char *text, uint8_t **ct, size_t *n)
{
	cr_assert_eq(fedctl_e2e_seal(&ctx, 7, prekey.pub,
	                 (const uint8_t *) text, strlen(text), ct, n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(*n, strlen(text) + FEDCTL_E2E_OVERHEAD);
}

/* Opens with kp in c; returns the result, frees any plaintext. */
static int
try_open(const fedctl_e2e_context *c, const fedctl_e2e_keypair *kp,
    const uint8_t *ct, size_t n)
{
	uint8_t *pt = (uint8_t *) "x";
	size_t   len;
	int      rv = fedctl_e2e_open(c, kp, ct, n, &pt, &len);

	if (rv != FEDCTL_E2E_OK)
		cr_assert_null(pt, "a failed open must not return plaintext");
	free(pt);
	return rv;
}

Test(e2e, round_trip)
{
	const char *text = "meet at noon, bring the keys";
	uint8_t    *ct, *pt;
	size_t      n, len;
	uint16_t    id;

	seal(text, &ct, &n);
	cr_assert_eq(ct[0], FEDCTL_E2E_VERSION);
	cr_assert_eq(fedctl_e2e_prekey_id(ct, n, &id), FEDCTL_E2E_OK);
	cr_assert_eq(id, 7);
	/* The plaintext is nowhere in the ciphertext. */
	cr_assert_null(memmem(ct, n, "noon", 4));
	cr_assert_eq(fedctl_e2e_open(&ctx, &prekey, ct, n, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_eq(len, strlen(text));
	cr_assert_str_eq((char *) pt, text);
	free(pt);
	free(ct);
}

Test(e2e, every_message_is_different)
{
	uint8_t *a, *b;
	size_t   na, nb;

	/* A fresh ephemeral key and nonce each time: equal plaintexts give
	 * unrelated ciphertexts. */
	seal("same", &a, &na);
	seal("same", &b, &nb);
	cr_assert_eq(na, nb);
	cr_assert_neq(memcmp(a + 3, b + 3, na - 3), 0);
	cr_assert_neq(memcmp(a + 3, b + 3, FEDCTL_E2E_KEY_LEN), 0);
	free(a);
	free(b);
}

Test(e2e, empty_and_large_and_last_resort)
{
	size_t   big = FEDCTL_E2E_MAX_PLAINTEXT;
	uint8_t *text = malloc(big), *ct, *pt;
	size_t   n, len;
	uint16_t id;

	cr_assert_not_null(text);
	for (size_t i = 0; i < big; i++)
		text[i] = (uint8_t) (i * 31 + 7);
	cr_assert_eq(fedctl_e2e_seal(&ctx, FEDCTL_E2E_LAST_RESORT, prekey.pub,
	                 text, big, &ct, &n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_prekey_id(ct, n, &id), FEDCTL_E2E_OK);
	cr_assert_eq(id, FEDCTL_E2E_LAST_RESORT);
	cr_assert_eq(fedctl_e2e_open(&ctx, &prekey, ct, n, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_eq(len, big);
	cr_assert_eq(memcmp(pt, text, big), 0);
	free(pt);
	free(ct);

	/* One byte more than the limit is refused. */
	free(text);
	text = calloc(1, big + 1);
	cr_assert_eq(fedctl_e2e_seal(&ctx, 1, prekey.pub, text, big + 1, &ct,
	                 &n),
	    FEDCTL_E2E_EFORMAT);
	cr_assert_null(ct);
	free(text);

	cr_assert_eq(fedctl_e2e_seal(&ctx, 0, prekey.pub, NULL, 0, &ct, &n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(n, FEDCTL_E2E_OVERHEAD);
	cr_assert_eq(fedctl_e2e_open(&ctx, &prekey, ct, n, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_eq(len, 0);
	cr_assert_str_eq((char *) pt, "");
	free(pt);
	free(ct);
}

Test(e2e, wrong_key_fails)
{
	uint8_t           *ct;
	size_t             n;
	fedctl_e2e_keypair mixed;

	seal("for bob only", &ct, &n);
	cr_assert_eq(try_open(&ctx, &other, ct, n), FEDCTL_E2E_EAUTH);
	/* The right public half with another private key is no better. */
	memcpy(mixed.priv, other.priv, FEDCTL_E2E_KEY_LEN);
	memcpy(mixed.pub, prekey.pub, FEDCTL_E2E_KEY_LEN);
	cr_assert_eq(try_open(&ctx, &mixed, ct, n), FEDCTL_E2E_EAUTH);
	fedctl_e2e_keypair_wipe(&mixed);
	free(ct);
}

Test(e2e, tampered_ciphertext_fails)
{
	uint8_t *ct;
	size_t   n;
	uint16_t id;

	seal("do not change a bit", &ct, &n);
	/* Every bit of every byte: header, ephemeral key, nonce, box, tag. */
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			int rv;

			ct[i] ^= (uint8_t) (1u << bit);
			rv = try_open(&ctx, &prekey, ct, n);
			cr_assert_neq(rv, FEDCTL_E2E_OK,
			    "flipping bit %d of byte %zu went unnoticed", bit, i);
			if (i == 0)
				cr_assert_eq(rv, FEDCTL_E2E_EVERSION);
			ct[i] ^= (uint8_t) (1u << bit);
		}
	cr_assert_eq(try_open(&ctx, &prekey, ct, n), FEDCTL_E2E_OK);

	/* Truncated anywhere, or extended. */
	for (size_t len = 0; len < n; len++)
		cr_assert_neq(try_open(&ctx, &prekey, ct, len), FEDCTL_E2E_OK,
		    "a ciphertext cut to %zu bytes opened", len);
	cr_assert_eq(try_open(&ctx, &prekey, ct, FEDCTL_E2E_OVERHEAD - 1),
	    FEDCTL_E2E_EFORMAT);
	cr_assert_eq(fedctl_e2e_prekey_id(ct, 2, &id), FEDCTL_E2E_EFORMAT);
	{
		uint8_t *longer = malloc(n + 1);

		memcpy(longer, ct, n);
		longer[n] = 0;
		cr_assert_neq(
		    try_open(&ctx, &prekey, longer, n + 1), FEDCTL_E2E_OK);
		free(longer);
	}
	free(ct);
}

Test(e2e, associated_data_binds_sender_recipient_conversation)
{
	uint8_t           *ct;
	size_t             n;
	fedctl_e2e_context c;

	seal("bound to its context", &ct, &n);

	c        = ctx;
	c.sender = CAROL; /* another sending user */
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	c               = ctx;
	c.sender_client = ctx.sender_client + 1; /* another sending client */
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	c           = ctx;
	c.recipient = CAROL; /* handed to another user */
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	c                  = ctx;
	c.recipient_client = ctx.recipient_client ^ 1; /* another client */
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	c              = ctx;
	c.conversation = CONV2; /* moved to another conversation */
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	/* Sender and recipient swapped. */
	c                  = ctx;
	c.sender           = ctx.recipient;
	c.sender_client    = ctx.recipient_client;
	c.recipient        = ctx.sender;
	c.recipient_client = ctx.sender_client;
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	/* The same context in a fresh struct opens it. */
	c = ctx;
	cr_assert_eq(try_open(&c, &prekey, ct, n), FEDCTL_E2E_OK);
	free(ct);
}

Test(e2e, prekey_id_is_bound)
{
	uint8_t *ct;
	size_t   n;

	/* Rewriting the prekey id (so the receiver would pick another key
	 * record holding the same key) fails: the id is in the KDF. */
	seal("id bound", &ct, &n);
	ct[2] ^= 1;
	cr_assert_eq(try_open(&ctx, &prekey, ct, n), FEDCTL_E2E_EAUTH);
	free(ct);
}

Test(e2e, bad_keys_and_contexts_refused)
{
	uint8_t            zero[FEDCTL_E2E_KEY_LEN] = {0};
	uint8_t            one[FEDCTL_E2E_KEY_LEN]  = {1};
	uint8_t           *ct;
	size_t             n;
	fedctl_e2e_context c = ctx;

	/* Low-order public keys would make the shared secret public. */
	cr_assert_eq(fedctl_e2e_seal(&ctx, 1, zero, (const uint8_t *) "x", 1,
	                 &ct, &n),
	    FEDCTL_E2E_EKEY);
	cr_assert_null(ct);
	cr_assert_eq(fedctl_e2e_seal(&ctx, 1, one, (const uint8_t *) "x", 1,
	                 &ct, &n),
	    FEDCTL_E2E_EKEY);
	/* Every party must be named. */
	c.conversation = NULL;
	cr_assert_eq(fedctl_e2e_seal(&c, 1, prekey.pub, (const uint8_t *) "x",
	                 1, &ct, &n),
	    FEDCTL_E2E_EFORMAT);
	c        = ctx;
	c.sender = "";
	cr_assert_eq(fedctl_e2e_seal(&c, 1, prekey.pub, (const uint8_t *) "x",
	                 1, &ct, &n),
	    FEDCTL_E2E_EFORMAT);
	cr_assert_str_neq(fedctl_e2e_strerror(FEDCTL_E2E_EAUTH), "");
}
