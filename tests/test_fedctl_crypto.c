/*
 * fedctl's end-to-end encryption alone, without servers (the federation
 * end to end is test_federation_e2e.c). Version 1, the sealed box of
 * tools/fedctl/e2e.c that earlier fedctl sent and fedctl still reads: a
 * round trip, and that every kind of wrong input fails (another prekey,
 * any flipped bit, truncation, another version, any change to who and
 * where). Version 2, the sessions of tools/fedctl/e2e_session.c: set-up
 * from a prekey, both directions, many messages in order, out of order,
 * skipped beyond the bound refused, replays refused, tampering refused,
 * the counter's end, and the session store's choice, bounds and JSON form
 * (tools/fedctl/session_store.c), with a session that goes on after a
 * round trip through it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tools/fedctl/e2e.h"
#include "tools/fedctl/e2e_session.h"
#include "tools/fedctl/e2e_encode.h"
#include "tools/fedctl/session_store.h"

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

TestSuite(sealed_box_v1, .init = setup, .fini = teardown, .timeout = 30);

/* Seals text for `prekey` under id 7 in ctx; caller frees *ct. */
static void
seal(const char *text, uint8_t **ct, size_t *n)
{
	cr_assert_eq(fedctl_e2e_seal(&ctx, 7, prekey.pub,
	                 (const uint8_t *) text, strlen(text), ct, n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(*n, strlen(text) + FEDCTL_E2E_V1_OVERHEAD);
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

Test(sealed_box_v1, round_trip)
{
	const char *text = "meet at noon, bring the keys";
	uint8_t    *ct, *pt;
	size_t      n, len;
	uint16_t    id;

	seal(text, &ct, &n);
	cr_assert_eq(ct[0], FEDCTL_E2E_V1);
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

Test(sealed_box_v1, every_message_is_different)
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

Test(sealed_box_v1, empty_and_large_and_last_resort)
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
	cr_assert_eq(n, FEDCTL_E2E_V1_OVERHEAD);
	cr_assert_eq(fedctl_e2e_open(&ctx, &prekey, ct, n, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_eq(len, 0);
	cr_assert_str_eq((char *) pt, "");
	free(pt);
	free(ct);
}

Test(sealed_box_v1, wrong_key_fails)
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

Test(sealed_box_v1, tampered_ciphertext_fails)
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
	cr_assert_eq(try_open(&ctx, &prekey, ct, FEDCTL_E2E_V1_OVERHEAD - 1),
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

Test(sealed_box_v1, associated_data_binds_sender_recipient_conversation)
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

Test(sealed_box_v1, prekey_id_is_bound)
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

Test(sealed_box_v1, bad_keys_and_contexts_refused)
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

/* ---- version 2: sessions ---- */

#define ALICE_CLIENT 0x7f3a1c2e9bull
#define BOB_CLIENT 0x1234abcdull
#define PREKEY_ID 7

/* Alice's client to Bob's, and back. */
static const fedctl_e2e_context a2b = {
	.sender           = ALICE,
	.sender_client    = ALICE_CLIENT,
	.recipient        = BOB,
	.recipient_client = BOB_CLIENT,
	.conversation     = CONV,
};
static const fedctl_e2e_context b2a = {
	.sender           = BOB,
	.sender_client    = BOB_CLIENT,
	.recipient        = ALICE,
	.recipient_client = ALICE_CLIENT,
	.conversation     = CONV,
};

/* One ciphertext. */
typedef struct msg {
	uint8_t *ct;
	size_t   n;
} msg;

/* Alice's and Bob's sides of one session, and Bob's prekey. */
static fedctl_e2e_session alice_s, bob_s;

static void
session_setup(void)
{
	cr_assert_eq(fedctl_e2e_keypair_generate(&prekey), FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_keypair_generate(&other), FEDCTL_E2E_OK);
	memset(&alice_s, 0, sizeof(alice_s));
	memset(&bob_s, 0, sizeof(bob_s));
}

static void
session_teardown(void)
{
	fedctl_e2e_session_wipe(&alice_s);
	fedctl_e2e_session_wipe(&bob_s);
	fedctl_e2e_keypair_wipe(&prekey);
	fedctl_e2e_keypair_wipe(&other);
}

TestSuite(session, .init = session_setup, .fini = session_teardown,
    .timeout = 60);

static msg
enc(fedctl_e2e_session *s, const fedctl_e2e_context *c, const char *text)
{
	msg m;

	cr_assert_eq(fedctl_e2e_session_encrypt(s, c, (const uint8_t *) text,
	                 strlen(text), &m.ct, &m.n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(m.n, strlen(text) + FEDCTL_E2E_V2_OVERHEAD);
	return m;
}

/* Decrypts; on success *out (if not NULL) gets the text, else it is
 * freed. A failure must give no plaintext. */
static int
dec(fedctl_e2e_session *s, const fedctl_e2e_context *c, const msg *m,
    uint64_t tag, char **out)
{
	uint8_t *pt  = (uint8_t *) "x";
	size_t   len = 1;
	int      rv  = fedctl_e2e_session_decrypt(s, c, m->ct, m->n, tag, &pt,
	          &len);

	if (rv != FEDCTL_E2E_OK) {
		cr_assert_null(pt, "a failed decrypt must not return plaintext");
		cr_assert_eq(len, 0);
	} else if (out != NULL)
		*out = (char *) pt;
	else
		free(pt);
	return rv;
}

/* Decrypts and requires exactly `want`. */
static void
dec_ok(fedctl_e2e_session *s, const fedctl_e2e_context *c, const msg *m,
    uint64_t tag, const char *want)
{
	char *got = NULL;
	int   rv  = dec(s, c, m, tag, &got);

	cr_assert_eq(rv, FEDCTL_E2E_OK, "decrypt: %s", fedctl_e2e_strerror(rv));
	cr_assert_str_eq(got, want);
	free(got);
}

/* Alice sets a session up from Bob's prekey; Bob takes his side from the
 * first message (which it returns, opened with tag 1). */
static msg
pair_up(const char *first)
{
	fedctl_e2e_header h;
	msg               m;

	cr_assert_eq(fedctl_e2e_session_initiate(
	                 &a2b, PREKEY_ID, prekey.pub, &alice_s),
	    FEDCTL_E2E_OK);
	m = enc(&alice_s, &a2b, first);
	cr_assert_eq(fedctl_e2e_header_read(m.ct, m.n, &h), FEDCTL_E2E_OK);
	cr_assert_eq(
	    fedctl_e2e_session_accept(&a2b, &prekey, &h, &bob_s), FEDCTL_E2E_OK);
	dec_ok(&bob_s, &a2b, &m, 1, first);
	return m;
}

static void
msgs_free(msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].ct);
	free(v);
}

Test(session, set_up_from_a_prekey_and_the_format)
{
	fedctl_e2e_header h;
	msg               m = pair_up("first words");

	/* version 2 | flags 0 (from the initiator) | prekey id 7 | base key |
	 * counter 0 | ciphertext | tag */
	cr_assert_eq(m.n, strlen("first words") + 56);
	cr_assert_eq(FEDCTL_E2E_V2_HEADER_LEN, 40);
	cr_assert_eq(m.ct[0], 2);
	cr_assert_eq(m.ct[1], 0);
	cr_assert_eq(m.ct[2], 0);
	cr_assert_eq(m.ct[3], PREKEY_ID);
	cr_assert_eq(memcmp(m.ct + 4, alice_s.base, 32), 0);
	cr_assert_eq(m.ct[36] | m.ct[37] | m.ct[38] | m.ct[39], 0);
	cr_assert_null(memmem(m.ct, m.n, "words", 5));
	cr_assert_eq(fedctl_e2e_version(m.ct, m.n), FEDCTL_E2E_V2);
	cr_assert_eq(fedctl_e2e_header_read(m.ct, m.n, &h), FEDCTL_E2E_OK);
	cr_assert_not(h.from_responder);
	cr_assert_eq(h.prekey_id, PREKEY_ID);
	cr_assert_eq(h.n, 0);
	/* Both sides agree on who set it up and on its id. */
	cr_assert(alice_s.initiator);
	cr_assert_not(bob_s.initiator);
	cr_assert_str_eq(alice_s.peer, BOB);
	cr_assert_eq(alice_s.peer_client, BOB_CLIENT);
	cr_assert_str_eq(bob_s.peer, ALICE);
	cr_assert_eq(bob_s.peer_client, ALICE_CLIENT);
	cr_assert_eq(memcmp(alice_s.base, bob_s.base, 32), 0);
	cr_assert(fedctl_e2e_session_matches(&bob_s, &h));
	cr_assert_not(fedctl_e2e_session_matches(&alice_s, &h));
	/* The base key is fresh: another session has another one. */
	{
		fedctl_e2e_session again;

		cr_assert_eq(fedctl_e2e_session_initiate(
		                 &a2b, PREKEY_ID, prekey.pub, &again),
		    FEDCTL_E2E_OK);
		cr_assert_neq(memcmp(again.base, alice_s.base, 32), 0);
		fedctl_e2e_session_wipe(&again);
	}
	free(m.ct);
}

Test(session, the_wrong_prekey_sets_up_nothing_usable)
{
	fedctl_e2e_header  h;
	fedctl_e2e_session wrong;
	fedctl_e2e_keypair mixed;
	msg                m;

	cr_assert_eq(fedctl_e2e_session_initiate(
	                 &a2b, PREKEY_ID, prekey.pub, &alice_s),
	    FEDCTL_E2E_OK);
	m = enc(&alice_s, &a2b, "for bob only");
	cr_assert_eq(fedctl_e2e_header_read(m.ct, m.n, &h), FEDCTL_E2E_OK);
	cr_assert_eq(
	    fedctl_e2e_session_accept(&a2b, &other, &h, &wrong), FEDCTL_E2E_OK);
	cr_assert_eq(dec(&wrong, &a2b, &m, 1, NULL), FEDCTL_E2E_EAUTH);
	fedctl_e2e_session_wipe(&wrong);
	/* The right public half with another private key is no better. */
	memcpy(mixed.priv, other.priv, 32);
	memcpy(mixed.pub, prekey.pub, 32);
	cr_assert_eq(
	    fedctl_e2e_session_accept(&a2b, &mixed, &h, &wrong), FEDCTL_E2E_OK);
	cr_assert_eq(dec(&wrong, &a2b, &m, 1, NULL), FEDCTL_E2E_EAUTH);
	fedctl_e2e_session_wipe(&wrong);
	fedctl_e2e_keypair_wipe(&mixed);
	/* Nor does a session named to another recipient client. */
	{
		fedctl_e2e_context c = a2b;

		c.recipient_client ^= 1;
		cr_assert_eq(fedctl_e2e_session_accept(&c, &prekey, &h, &wrong),
		    FEDCTL_E2E_OK);
		cr_assert_eq(dec(&wrong, &c, &m, 1, NULL), FEDCTL_E2E_EAUTH);
		fedctl_e2e_session_wipe(&wrong);
	}
	/* A responder's message cannot start a session; low-order base keys
	 * and prekeys are refused. */
	h.from_responder = true;
	cr_assert_eq(fedctl_e2e_session_accept(&a2b, &prekey, &h, &wrong),
	    FEDCTL_E2E_ENOSESSION);
	h.from_responder = false;
	memset(h.base, 0, sizeof(h.base));
	cr_assert_eq(fedctl_e2e_session_accept(&a2b, &prekey, &h, &wrong),
	    FEDCTL_E2E_EAUTH);
	{
		uint8_t zero[32] = {0};

		cr_assert_eq(fedctl_e2e_session_initiate(
		                 &a2b, PREKEY_ID, zero, &wrong),
		    FEDCTL_E2E_EKEY);
	}
	free(m.ct);
}

Test(session, many_messages_in_order_each_with_its_own_key)
{
	enum { N = 500 };
	msg     *v = calloc(N, sizeof(*v));
	uint64_t tag = 1;
	char     text[64];

	free(pair_up("hello").ct);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "message %d", i);
		v[i] = enc(&alice_s, &a2b, text);
		/* Counter i + 1 (the first message was 0). */
		cr_assert_eq(fedctl_e2e_get_u32(v[i].ct + 36), (uint32_t) i + 1);
		dec_ok(&bob_s, &a2b, &v[i], ++tag, text);
	}
	/* Equal texts differ on the wire: each has its own key. */
	{
		msg x = enc(&alice_s, &a2b, "same"), y = enc(&alice_s, &a2b, "same");

		cr_assert_neq(memcmp(x.ct + 40, y.ct + 40, x.n - 40), 0);
		dec_ok(&bob_s, &a2b, &x, ++tag, "same");
		dec_ok(&bob_s, &a2b, &y, ++tag, "same");
		free(x.ct);
		free(y.ct);
	}
	cr_assert_eq(fedctl_e2e_session_skipped(&bob_s), 0);
	cr_assert_eq(alice_s.send.n, N + 3);
	cr_assert_eq(bob_s.recv.n, N + 3);
	/* Used keys are held for a second fetch until acknowledged, but no
	 * more than the bound. */
	cr_assert_eq(bob_s.n_kept, N + 3);
	cr_assert_eq(fedctl_e2e_session_forget_used(&bob_s, tag), N + 3);
	cr_assert_eq(bob_s.n_kept, 0);
	msgs_free(v, N);
}

Test(session, both_directions_on_one_session)
{
	msg m;

	free(pair_up("ping").ct);
	/* Bob answers on the session Alice set up: no prekey of hers. */
	m = enc(&bob_s, &b2a, "pong");
	cr_assert_eq(m.ct[1], FEDCTL_E2E_FROM_RESPONDER);
	cr_assert_eq(m.ct[3], PREKEY_ID);
	cr_assert_eq(memcmp(m.ct + 4, alice_s.base, 32), 0);
	dec_ok(&alice_s, &b2a, &m, 1, "pong");
	/* Bob's own chain does not open his own message as Alice's. */
	cr_assert_neq(dec(&bob_s, &b2a, &m, 2, NULL), FEDCTL_E2E_OK);
	free(m.ct);
	for (int i = 0; i < 20; i++) {
		msg x = enc(&alice_s, &a2b, "a"), y = enc(&bob_s, &b2a, "b");

		dec_ok(&bob_s, &a2b, &x, 10 + (uint64_t) i, "a");
		dec_ok(&alice_s, &b2a, &y, 10 + (uint64_t) i, "b");
		free(x.ct);
		free(y.ct);
	}
	cr_assert_eq(alice_s.send.n, 21);
	cr_assert_eq(bob_s.send.n, 21);
}

Test(session, out_of_order_and_late_messages_open)
{
	enum { N = 40 };
	msg   *v = calloc(N, sizeof(*v));
	int    order[N];
	char   text[32];
	size_t skipped_max = 0;

	free(pair_up("start").ct);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		v[i] = enc(&alice_s, &a2b, text);
		order[i] = i;
	}
	/* The last first, then a fixed shuffle. */
	order[0]     = N - 1;
	order[N - 1] = 0;
	for (int i = 1; i < N - 1; i++) {
		int j = 1 + (i * 17) % (N - 2), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < N; k++) {
		int i = order[k];

		snprintf(text, sizeof(text), "m%d", i);
		dec_ok(&bob_s, &a2b, &v[i], 100 + (uint64_t) i, text);
		if (fedctl_e2e_session_skipped(&bob_s) > skipped_max)
			skipped_max = fedctl_e2e_session_skipped(&bob_s);
	}
	cr_assert_eq(skipped_max, N - 1, "the last one skipped all others");
	cr_assert_eq(fedctl_e2e_session_skipped(&bob_s), 0);
	/* A late message is not news: the chain stays where it was. */
	cr_assert_eq(bob_s.recv.n, N + 1);
	msgs_free(v, N);
}

Test(session, skipped_beyond_the_bound_is_refused)
{
	enum { N = 2 * FEDCTL_E2E_MAX_SKIP + 2 };
	msg *v = calloc(N, sizeof(*v));

	cr_assert_eq(fedctl_e2e_session_initiate(
	                 &a2b, PREKEY_ID, prekey.pub, &alice_s),
	    FEDCTL_E2E_OK);
	for (int i = 0; i < N; i++)
		v[i] = enc(&alice_s, &a2b, "x");
	{
		fedctl_e2e_header h;

		cr_assert_eq(fedctl_e2e_header_read(v[0].ct, v[0].n, &h),
		    FEDCTL_E2E_OK);
		cr_assert_eq(fedctl_e2e_session_accept(&a2b, &prekey, &h, &bob_s),
		    FEDCTL_E2E_OK);
	}
	/* 1,001 messages skipped: refused, and nothing changed. */
	cr_assert_eq(dec(&bob_s, &a2b, &v[FEDCTL_E2E_MAX_SKIP + 1], 1, NULL),
	    FEDCTL_E2E_EGAP);
	cr_assert_eq(bob_s.recv.n, 0);
	cr_assert_eq(bob_s.n_kept, 0);
	cr_assert(strstr(fedctl_e2e_strerror(FEDCTL_E2E_EGAP), "1000") != NULL);
	/* Exactly 1,000: fine, and the 1,000 keys are kept. */
	dec_ok(&bob_s, &a2b, &v[FEDCTL_E2E_MAX_SKIP], 1, "x");
	cr_assert_eq(fedctl_e2e_session_skipped(&bob_s), FEDCTL_E2E_MAX_SKIP);
	/* Another 1,000 skipped: at most 1,000 kept, the oldest go. */
	dec_ok(&bob_s, &a2b, &v[2 * FEDCTL_E2E_MAX_SKIP + 1], 2, "x");
	cr_assert_eq(fedctl_e2e_session_skipped(&bob_s), FEDCTL_E2E_MAX_SKIP);
	cr_assert_eq(dec(&bob_s, &a2b, &v[0], 3, NULL), FEDCTL_E2E_ESTALE);
	cr_assert_eq(dec(&bob_s, &a2b, &v[FEDCTL_E2E_MAX_SKIP - 1], 3, NULL),
	    FEDCTL_E2E_ESTALE);
	dec_ok(&bob_s, &a2b, &v[FEDCTL_E2E_MAX_SKIP + 1], 3, "x");
	dec_ok(&bob_s, &a2b, &v[2 * FEDCTL_E2E_MAX_SKIP], 4, "x");
	/* Messages used (held) stay openable by their own tag. */
	dec_ok(&bob_s, &a2b, &v[FEDCTL_E2E_MAX_SKIP], 1, "x");
	msgs_free(v, N);
}

Test(session, a_replay_is_refused)
{
	msg m, late, later;

	free(pair_up("once").ct);
	m = enc(&alice_s, &a2b, "exactly once");
	dec_ok(&bob_s, &a2b, &m, 7, "exactly once");
	/* The same inbox event fetched again opens it again... */
	dec_ok(&bob_s, &a2b, &m, 7, "exactly once");
	/* ...the same ciphertext in another event does not. */
	cr_assert_eq(dec(&bob_s, &a2b, &m, 8, NULL), FEDCTL_E2E_EREPLAY);
	/* Once event 7 is acknowledged the key is gone for good. */
	cr_assert_eq(fedctl_e2e_session_forget_used(&bob_s, 6), 1); /* "once" */
	cr_assert_eq(fedctl_e2e_session_forget_used(&bob_s, 7), 1);
	cr_assert_eq(dec(&bob_s, &a2b, &m, 7, NULL), FEDCTL_E2E_ESTALE);
	cr_assert_eq(dec(&bob_s, &a2b, &m, 8, NULL), FEDCTL_E2E_ESTALE);
	/* The same for a message that came late (from the skipped keys). */
	late  = enc(&alice_s, &a2b, "late");
	later = enc(&alice_s, &a2b, "later");
	dec_ok(&bob_s, &a2b, &later, 10, "later");
	dec_ok(&bob_s, &a2b, &late, 11, "late");
	cr_assert_eq(dec(&bob_s, &a2b, &late, 12, NULL), FEDCTL_E2E_EREPLAY);
	cr_assert_eq(dec(&bob_s, &a2b, &later, 12, NULL), FEDCTL_E2E_EREPLAY);
	cr_assert_eq(fedctl_e2e_session_forget_used(&bob_s, 11), 2);
	cr_assert_eq(dec(&bob_s, &a2b, &late, 11, NULL), FEDCTL_E2E_ESTALE);
	/* A tag is required: without one a key could not be used once. */
	{
		msg x = enc(&alice_s, &a2b, "x");

		cr_assert_eq(dec(&bob_s, &a2b, &x, 0, NULL), FEDCTL_E2E_EFORMAT);
		free(x.ct);
	}
	free(m.ct);
	free(late.ct);
	free(later.ct);
}

Test(session, tampering_is_refused_and_changes_nothing)
{
	msg                m;
	fedctl_e2e_context c;

	free(pair_up("setup").ct);
	/* Message 2, one skipped: the tampered forms may not advance the
	 * chain or keep keys. */
	free(enc(&alice_s, &a2b, "skipped").ct);
	m = enc(&alice_s, &a2b, "do not change a bit");
	for (size_t i = 0; i < m.n; i++)
		for (int bit = 0; bit < 8; bit++) {
			int rv;

			m.ct[i] ^= (uint8_t) (1u << bit);
			rv = dec(&bob_s, &a2b, &m, 5, NULL);
			cr_assert_neq(rv, FEDCTL_E2E_OK,
			    "flipping bit %d of byte %zu went unnoticed", bit, i);
			if (i == 0)
				cr_assert_eq(rv, FEDCTL_E2E_EVERSION);
			m.ct[i] ^= (uint8_t) (1u << bit);
			cr_assert_eq(bob_s.recv.n, 1, "byte %zu bit %d", i, bit);
			cr_assert_eq(bob_s.n_kept, 1); /* the set-up message */
		}
	/* Cut anywhere, or one byte longer. */
	for (size_t len = 0; len < m.n; len++) {
		msg cut = {m.ct, len};

		cr_assert_neq(dec(&bob_s, &a2b, &cut, 5, NULL), FEDCTL_E2E_OK);
	}
	{
		msg longer = {malloc(m.n + 1), m.n + 1};

		memcpy(longer.ct, m.ct, m.n);
		longer.ct[m.n] = 0;
		cr_assert_neq(dec(&bob_s, &a2b, &longer, 5, NULL), FEDCTL_E2E_OK);
		free(longer.ct);
	}
	/* Another sender, recipient, client or conversation: refused. */
	c              = a2b;
	c.conversation = CONV2;
	cr_assert_eq(dec(&bob_s, &c, &m, 5, NULL), FEDCTL_E2E_EAUTH);
	c        = a2b;
	c.sender = CAROL;
	cr_assert_eq(dec(&bob_s, &c, &m, 5, NULL), FEDCTL_E2E_EFORMAT);
	c           = a2b;
	c.recipient = CAROL;
	cr_assert_eq(dec(&bob_s, &c, &m, 5, NULL), FEDCTL_E2E_EAUTH);
	c                  = a2b;
	c.recipient_client = BOB_CLIENT + 1;
	cr_assert_eq(dec(&bob_s, &c, &m, 5, NULL), FEDCTL_E2E_EAUTH);
	cr_assert_eq(bob_s.recv.n, 1);
	/* Untouched, it opens. */
	dec_ok(&bob_s, &a2b, &m, 5, "do not change a bit");
	cr_assert_eq(bob_s.recv.n, 3);
	cr_assert_eq(fedctl_e2e_session_skipped(&bob_s), 1);
	free(m.ct);
}

Test(session, empty_and_largest_texts_and_the_counters_end)
{
	size_t   big  = FEDCTL_E2E_MAX_PLAINTEXT;
	uint8_t *text = malloc(big + 1), *ct, *pt;
	size_t   n, len;

	free(pair_up("").ct);
	for (size_t i = 0; i < big; i++)
		text[i] = (uint8_t) (i * 31 + 7);
	cr_assert_eq(fedctl_e2e_session_encrypt(
	                 &alice_s, &a2b, text, big, &ct, &n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_session_decrypt(&bob_s, &a2b, ct, n, 2, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_eq(len, big);
	cr_assert_eq(memcmp(pt, text, big), 0);
	free(pt);
	free(ct);
	cr_assert_eq(fedctl_e2e_session_encrypt(
	                 &alice_s, &a2b, text, big + 1, &ct, &n),
	    FEDCTL_E2E_EFORMAT);
	cr_assert_null(ct);
	free(text);
	/* Only the session's own peer. */
	cr_assert_eq(fedctl_e2e_session_encrypt(&alice_s, &b2a,
	                 (const uint8_t *) "x", 1, &ct, &n),
	    FEDCTL_E2E_EFORMAT);
	/* The last counter a header can carry, then no more. */
	alice_s.send.n = FEDCTL_E2E_MAX_COUNTER;
	cr_assert_eq(fedctl_e2e_session_encrypt(&alice_s, &a2b,
	                 (const uint8_t *) "last", 4, &ct, &n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_get_u32(ct + 36), UINT32_MAX);
	free(ct);
	cr_assert_eq(fedctl_e2e_session_encrypt(&alice_s, &a2b,
	                 (const uint8_t *) "more", 4, &ct, &n),
	    FEDCTL_E2E_EEXHAUSTED);
	cr_assert_null(ct);
}

Test(session, version_1_is_still_read)
{
	uint8_t          *ct, *pt;
	size_t            n, len;
	fedctl_e2e_header h;
	msg               m;

	/* What earlier fedctl sent: a version 1 sealed box. */
	cr_assert_eq(fedctl_e2e_seal(&a2b, 3, prekey.pub,
	                 (const uint8_t *) "from before", 11, &ct, &n),
	    FEDCTL_E2E_OK);
	cr_assert_eq(fedctl_e2e_version(ct, n), FEDCTL_E2E_V1);
	cr_assert_eq(fedctl_e2e_header_read(ct, n, &h), FEDCTL_E2E_EVERSION);
	cr_assert_eq(fedctl_e2e_open(&a2b, &prekey, ct, n, &pt, &len),
	    FEDCTL_E2E_OK);
	cr_assert_str_eq((char *) pt, "from before");
	free(pt);
	free(ct);
	/* And each format refuses the other, and an unknown one, by name. */
	m = pair_up("new");
	cr_assert_eq(fedctl_e2e_open(&a2b, &prekey, m.ct, m.n, &pt, &len),
	    FEDCTL_E2E_EVERSION);
	m.ct[0] = 3;
	cr_assert_eq(fedctl_e2e_version(m.ct, m.n), 3);
	cr_assert_eq(fedctl_e2e_header_read(m.ct, m.n, &h), FEDCTL_E2E_EVERSION);
	cr_assert_eq(fedctl_e2e_version(m.ct, 0), FEDCTL_E2E_EFORMAT);
	free(m.ct);
}

Test(session, wipe_leaves_nothing)
{
	static const uint8_t zero[sizeof(fedctl_e2e_session)];
	msg                  a, b;

	free(pair_up("x").ct);
	a = enc(&alice_s, &a2b, "a");
	b = enc(&alice_s, &a2b, "b");
	dec_ok(&bob_s, &a2b, &b, 2, "b"); /* keeps a's key as skipped */
	cr_assert_eq(bob_s.n_kept, 3);
	fedctl_e2e_session_wipe(&bob_s);
	cr_assert_eq(memcmp(&bob_s, zero, sizeof(zero)), 0);
	fedctl_e2e_session_wipe(&bob_s); /* twice is fine */
	free(a.ct);
	free(b.ct);
}

/* ---- the session store ---- */

/* A session as the store sees it, without keys that matter. */
static fedctl_e2e_session
fake(const char *peer, uint64_t client, bool initiator, uint8_t id)
{
	fedctl_e2e_session s;

	memset(&s, 0, sizeof(s));
	snprintf(s.peer, sizeof(s.peer), "%s", peer);
	s.peer_client = client;
	s.initiator   = initiator;
	s.base[0]     = id;
	return s;
}

Test(session, the_store_chooses_bounds_and_drops)
{
	fedctl_session_set set = {0};
	fedctl_e2e_session s;
	uint64_t          *clients;

	s = fake(BOB, 1, false, 1);
	cr_assert(fedctl_session_set_add(&set, &s));
	cr_assert_eq(s.peer[0], 0, "taken over");
	s = fake(BOB, 1, true, 2);
	cr_assert(fedctl_session_set_add(&set, &s));
	s = fake(BOB, 1, false, 3);
	cr_assert(fedctl_session_set_add(&set, &s));
	s = fake(BOB, 2, false, 4);
	cr_assert(fedctl_session_set_add(&set, &s));
	/* Ours first, even when theirs is newer; else the newest of theirs. */
	cr_assert_eq(fedctl_session_set_for_sending(&set, BOB, 1)->base[0], 2);
	cr_assert_eq(fedctl_session_set_for_sending(&set, BOB, 2)->base[0], 4);
	cr_assert_null(fedctl_session_set_for_sending(&set, BOB, 3));
	cr_assert_null(fedctl_session_set_for_sending(&set, CAROL, 1));
	cr_assert_eq(fedctl_session_set_clients(&set, BOB, &clients), 2);
	cr_assert_eq(clients[0], 1);
	cr_assert_eq(clients[1], 2);
	free(clients);
	cr_assert_eq(fedctl_session_set_clients(&set, CAROL, &clients), 0);
	cr_assert_null(clients);
	/* At most 8 per peer client: the oldest go, never ours. */
	for (uint8_t i = 10; i < 20; i++) {
		s = fake(BOB, 1, false, i);
		cr_assert(fedctl_session_set_add(&set, &s));
	}
	cr_assert_eq(set.n, FEDCTL_SESSIONS_PER_PEER + 1);
	cr_assert_eq(fedctl_session_set_for_sending(&set, BOB, 1)->base[0], 2);
	cr_assert_eq(set.v[0].base[0], 2);
	cr_assert_eq(set.v[1].base[0], 4);
	cr_assert_eq(set.v[set.n - 1].base[0], 19);
	/* A message finds its session by base key and direction. */
	{
		fedctl_e2e_header h = {.from_responder = false};

		h.base[0] = 19;
		cr_assert_not_null(
		    fedctl_session_set_for_message(&set, BOB, 1, &h));
		cr_assert_null(fedctl_session_set_for_message(&set, BOB, 2, &h));
		h.from_responder = true; /* a reply on their own session? no */
		cr_assert_null(fedctl_session_set_for_message(&set, BOB, 1, &h));
		h.base[0] = 2; /* a reply on ours */
		cr_assert_not_null(
		    fedctl_session_set_for_message(&set, BOB, 1, &h));
	}
	/* A deleted client's sessions go. */
	cr_assert_eq(fedctl_session_set_drop(&set, BOB, 1), FEDCTL_SESSIONS_PER_PEER);
	cr_assert_eq(set.n, 1);
	cr_assert_eq(set.v[0].peer_client, 2);
	fedctl_session_set_clear(&set);
	cr_assert_eq(set.n, 0);
	cr_assert_null(set.v);
}

/* The set through its JSON text and back, as the key store does it. */
static void
round_trip(fedctl_session_set *set)
{
	json_t     *j = fedctl_session_set_json(set), *back;
	char       *text;
	const char *why = NULL;

	cr_assert_not_null(j);
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	fedctl_session_set_clear(set);
	cr_assert_not_null(back = json_loads(text, 0, NULL));
	free(text);
	cr_assert(fedctl_session_set_from_json(back, set, &why), "%s", why);
	json_decref(back);
}

Test(session, sessions_and_skipped_keys_survive_the_key_store)
{
	fedctl_session_set alice = {0}, bob = {0};
	msg                v[5], reply;

	free(pair_up("set up").ct);
	for (int i = 0; i < 5; i++)
		v[i] = enc(&alice_s, &a2b, i % 2 ? "odd" : "even");
	dec_ok(&bob_s, &a2b, &v[3], 20, "odd"); /* 0..2 skipped */
	cr_assert(fedctl_session_set_add(&alice, &alice_s));
	cr_assert(fedctl_session_set_add(&bob, &bob_s));
	round_trip(&alice);
	round_trip(&bob);
	cr_assert_eq(bob.n, 1);
	cr_assert_eq(fedctl_e2e_session_skipped(&bob.v[0]), 3);
	cr_assert_not(bob.v[0].initiator);
	cr_assert(alice.v[0].initiator);
	/* Late messages open from the kept keys; the held one only for its
	 * own event; the chains go on where they were. */
	dec_ok(&bob.v[0], &a2b, &v[1], 21, "odd");
	dec_ok(&bob.v[0], &a2b, &v[3], 20, "odd");
	cr_assert_eq(dec(&bob.v[0], &a2b, &v[3], 22, NULL), FEDCTL_E2E_EREPLAY);
	dec_ok(&bob.v[0], &a2b, &v[4], 23, "even");
	reply = enc(&bob.v[0], &b2a, "reply");
	round_trip(&bob);
	dec_ok(&alice.v[0], &b2a, &reply, 1, "reply");
	free(reply.ct);
	reply = enc(&alice.v[0], &a2b, "next");
	dec_ok(&bob.v[0], &a2b, &reply, 24, "next");
	cr_assert_eq(bob.v[0].recv.n, 7);
	free(reply.ct);
	for (int i = 0; i < 5; i++)
		free(v[i].ct);
	fedctl_session_set_clear(&alice);
	fedctl_session_set_clear(&bob);
}

Test(session, a_damaged_store_is_refused)
{
	fedctl_session_set set = {0};
	fedctl_e2e_session s;
	json_t            *j, *kept, *k;
	const char        *why = NULL;
	msg                a, b;

	free(pair_up("x").ct);
	a = enc(&alice_s, &a2b, "a");
	b = enc(&alice_s, &a2b, "b");
	dec_ok(&bob_s, &a2b, &b, 2, "b");
	s = bob_s;
	memset(&bob_s, 0, sizeof(bob_s));
	cr_assert(fedctl_session_set_add(&set, &s));
	j = fedctl_session_set_json(&set);
	fedctl_session_set_clear(&set);
	kept = json_object_get(json_array_get(j, 0), "kept");
	cr_assert_eq(json_array_size(kept), 3);
	/* Kept keys out of order. */
	k = json_array_get(kept, 0);
	json_incref(k);
	json_array_remove(kept, 0);
	json_array_append_new(kept, k);
	cr_assert_not(fedctl_session_set_from_json(j, &set, &why));
	cr_assert_eq(set.n, 0);
	cr_assert_not_null(why);
	/* A key ahead of the chain. */
	json_array_remove(kept, 2);
	json_object_set_new(json_array_get(kept, 1), "n", json_integer(99));
	cr_assert_not(fedctl_session_set_from_json(j, &set, &why));
	/* A short key, a bad role. */
	json_object_set_new(json_array_get(kept, 1), "n", json_integer(2));
	cr_assert(fedctl_session_set_from_json(j, &set, &why), "%s", why);
	fedctl_session_set_clear(&set);
	json_object_set_new(json_array_get(kept, 1), "key", json_string("00"));
	cr_assert_not(fedctl_session_set_from_json(j, &set, &why));
	json_object_set_new(json_array_get(j, 0), "role", json_string("both"));
	cr_assert_not(fedctl_session_set_from_json(j, &set, &why));
	json_decref(j);
	j = json_object();
	cr_assert_not(fedctl_session_set_from_json(j, &set, &why));
	json_decref(j);
	free(a.ct);
	free(b.ct);
}
