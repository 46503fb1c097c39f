/*
 * The sessions of e2e_session.h on wolfCrypt only: X25519 and HKDF-SHA256
 * set a session up, HMAC-SHA256 walks its chains, HKDF-SHA256 turns a
 * message key into an AES-256-GCM key and nonce. Every message key is used
 * once: each message has its own key, so a nonce derived from it never
 * repeats under that key. State changes only after a message proved
 * authentic, and every secret is wiped when dropped (arrays holding keys
 * are copied and wiped, never realloc'd, so no copy is left behind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "e2e_encode.h"
#include "e2e_session.h"

/* Labels that keep our derivations apart from any other use of a key. */
#define SESSION_LABEL "fedrpc-e2e v2 session"
#define MESSAGE_LABEL "fedrpc-e2e v2 message key"
#define AD_LABEL "fedrpc-e2e v2 associated data"

#define AES_KEY_LEN 32
#define IV_LEN 12
#define KEY_LEN FEDCTL_E2E_KEY_LEN

/* The chain's two HMAC inputs, as in Signal's symmetric-key ratchet:
 * message key = HMAC(chain key, 0x01), next chain key = HMAC(chain key,
 * 0x02). */
#define STEP_MESSAGE 0x01
#define STEP_CHAIN 0x02

/* ---- key derivation ---- */

static int
hmac_byte(const uint8_t key[KEY_LEN], uint8_t in, uint8_t out[KEY_LEN])
{
	Hmac h;
	int  rv;

	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return FEDCTL_E2E_ECRYPTO;
	rv = wc_HmacSetKey(&h, WC_SHA256, key, KEY_LEN);
	if (rv == 0)
		rv = wc_HmacUpdate(&h, &in, 1);
	if (rv == 0)
		rv = wc_HmacFinal(&h, out);
	wc_HmacFree(&h);
	explicit_bzero(&h, sizeof(h));
	return rv == 0 ? FEDCTL_E2E_OK : FEDCTL_E2E_ECRYPTO;
}

/* The key of the chain's next message; the chain moves on by one. */
static int
chain_step(fedctl_e2e_chain *c, uint8_t mk[KEY_LEN])
{
	uint8_t next[KEY_LEN];
	int     rv;

	if ((rv = hmac_byte(c->key, STEP_MESSAGE, mk)) == FEDCTL_E2E_OK &&
	    (rv = hmac_byte(c->key, STEP_CHAIN, next)) == FEDCTL_E2E_OK) {
		memcpy(c->key, next, KEY_LEN);
		c->n++;
	} else
		explicit_bzero(mk, KEY_LEN);
	explicit_bzero(next, sizeof(next));
	return rv;
}

/*
 * Both chain keys of a session: HKDF-SHA256 of the X25519 result, salted
 * with the base key and the prekey, with info naming initiator and
 * responder (user, client) and the prekey id. The first 32 bytes are the
 * initiator-to-responder chain, the last 32 the other direction.
 */
static int
derive_chains(const fedctl_e2e_context *ini_to_resp, uint16_t prekey_id,
    const uint8_t shared[KEY_LEN], const uint8_t base[KEY_LEN],
    const uint8_t prekey_pub[KEY_LEN], uint8_t i2r[KEY_LEN],
    uint8_t r2i[KEY_LEN])
{
	uint8_t        salt[2 * KEY_LEN], okm[2 * KEY_LEN];
	fedctl_e2e_buf info = {0};
	int            rv;

	memcpy(salt, base, KEY_LEN);
	memcpy(salt + KEY_LEN, prekey_pub, KEY_LEN);
	fedctl_e2e_buf_put(&info, SESSION_LABEL, sizeof(SESSION_LABEL) - 1);
	fedctl_e2e_buf_parties(&info, ini_to_resp);
	fedctl_e2e_buf_u16(&info, prekey_id);
	if ((rv = info.err) == 0) {
		rv = wc_HKDF(WC_SHA256, shared, KEY_LEN, salt, sizeof(salt),
		    info.p, (word32) info.len, okm, sizeof(okm));
		rv = rv == 0 ? FEDCTL_E2E_OK : FEDCTL_E2E_ECRYPTO;
	}
	if (rv == FEDCTL_E2E_OK) {
		memcpy(i2r, okm, KEY_LEN);
		memcpy(r2i, okm + KEY_LEN, KEY_LEN);
	}
	explicit_bzero(okm, sizeof(okm));
	fedctl_e2e_buf_free(&info);
	return rv;
}

/* ---- the AEAD ---- */

/* The associated data: the parties, the conversation and the header. */
static int
associated_data(const fedctl_e2e_context *ctx, const uint8_t *header,
    fedctl_e2e_buf *ad)
{
	fedctl_e2e_buf_put(ad, AD_LABEL, sizeof(AD_LABEL) - 1);
	fedctl_e2e_buf_parties(ad, ctx);
	fedctl_e2e_buf_str(ad, ctx->conversation);
	fedctl_e2e_buf_put(ad, header, FEDCTL_E2E_V2_HEADER_LEN);
	return ad->err;
}

/*
 * AES-256-GCM of n bytes with the key and nonce HKDF makes of message key
 * mk. Encrypting (tag_out set) writes the tag, decrypting checks tag_in
 * (EAUTH on mismatch).
 */
static int
gcm(const uint8_t mk[KEY_LEN], const fedctl_e2e_context *ctx,
    const uint8_t *header, const uint8_t *in, size_t n, uint8_t *out,
    uint8_t *tag_out, const uint8_t *tag_in)
{
	uint8_t        okm[AES_KEY_LEN + IV_LEN];
	fedctl_e2e_buf ad = {0};
	Aes            aes;
	int            rv;

	if ((rv = associated_data(ctx, header, &ad)) != 0) {
		fedctl_e2e_buf_free(&ad);
		return rv;
	}
	if (wc_HKDF(WC_SHA256, mk, KEY_LEN, NULL, 0,
	        (const byte *) MESSAGE_LABEL, sizeof(MESSAGE_LABEL) - 1, okm,
	        sizeof(okm)) != 0 ||
	    wc_AesInit(&aes, NULL, INVALID_DEVID) != 0) {
		explicit_bzero(okm, sizeof(okm));
		fedctl_e2e_buf_free(&ad);
		return FEDCTL_E2E_ECRYPTO;
	}
	rv = wc_AesGcmSetKey(&aes, okm, AES_KEY_LEN);
	if (rv == 0 && tag_out != NULL)
		rv = wc_AesGcmEncrypt(&aes, out, in, (word32) n, okm + AES_KEY_LEN,
		    IV_LEN, tag_out, FEDCTL_E2E_TAG_LEN, ad.p, (word32) ad.len);
	else if (rv == 0)
		rv = wc_AesGcmDecrypt(&aes, out, in, (word32) n, okm + AES_KEY_LEN,
		    IV_LEN, tag_in, FEDCTL_E2E_TAG_LEN, ad.p, (word32) ad.len);
	wc_AesFree(&aes);
	explicit_bzero(&aes, sizeof(aes));
	explicit_bzero(okm, sizeof(okm));
	fedctl_e2e_buf_free(&ad);
	if (rv == AES_GCM_AUTH_E)
		return FEDCTL_E2E_EAUTH;
	return rv == 0 ? FEDCTL_E2E_OK : FEDCTL_E2E_ECRYPTO;
}

/* ---- set-up ---- */

static int
set_peer(fedctl_e2e_session *s, const char *user, uint64_t client)
{
	if (user == NULL || user[0] == '\0' ||
	    strlen(user) > FEDCTL_E2E_PARTY_MAX)
		return FEDCTL_E2E_EFORMAT;
	snprintf(s->peer, sizeof(s->peer), "%s", user);
	s->peer_client = client;
	return FEDCTL_E2E_OK;
}

int
fedctl_e2e_session_initiate(const fedctl_e2e_context *ctx, uint16_t prekey_id,
    const uint8_t prekey_pub[KEY_LEN], fedctl_e2e_session *out)
{
	fedctl_e2e_keypair base;
	uint8_t            shared[KEY_LEN];
	int                rv;

	memset(out, 0, sizeof(*out));
	if ((rv = set_peer(out, ctx->recipient, ctx->recipient_client)) != 0)
		return rv;
	if ((rv = fedctl_e2e_keypair_generate(&base)) != FEDCTL_E2E_OK)
		return rv;
	if ((rv = fedctl_e2e_dh(&base, prekey_pub, shared)) == FEDCTL_E2E_OK)
		rv = derive_chains(ctx, prekey_id, shared, base.pub, prekey_pub,
		    out->send.key, out->recv.key);
	if (rv == FEDCTL_E2E_OK) {
		out->initiator = true;
		out->prekey_id = prekey_id;
		memcpy(out->base, base.pub, KEY_LEN);
	} else
		fedctl_e2e_session_wipe(out);
	fedctl_e2e_keypair_wipe(&base);
	explicit_bzero(shared, sizeof(shared));
	return rv;
}

int
fedctl_e2e_header_read(const uint8_t *ct, size_t n, fedctl_e2e_header *h)
{
	if (ct == NULL || n < 1)
		return FEDCTL_E2E_EFORMAT;
	if (ct[0] != FEDCTL_E2E_V2)
		return FEDCTL_E2E_EVERSION;
	if (n < FEDCTL_E2E_V2_OVERHEAD ||
	    n - FEDCTL_E2E_V2_OVERHEAD > FEDCTL_E2E_MAX_PLAINTEXT ||
	    (ct[1] & ~FEDCTL_E2E_FROM_RESPONDER) != 0)
		return FEDCTL_E2E_EFORMAT;
	h->from_responder = (ct[1] & FEDCTL_E2E_FROM_RESPONDER) != 0;
	h->prekey_id      = fedctl_e2e_get_u16(ct + 2);
	memcpy(h->base, ct + 4, KEY_LEN);
	h->n = fedctl_e2e_get_u32(ct + 4 + KEY_LEN);
	return FEDCTL_E2E_OK;
}

int
fedctl_e2e_session_accept(const fedctl_e2e_context *ctx,
    const fedctl_e2e_keypair *prekey, const fedctl_e2e_header *h,
    fedctl_e2e_session *out)
{
	uint8_t shared[KEY_LEN];
	int     rv;

	memset(out, 0, sizeof(*out));
	/* Only the initiator's messages can start a session here. */
	if (h->from_responder)
		return FEDCTL_E2E_ENOSESSION;
	if ((rv = set_peer(out, ctx->sender, ctx->sender_client)) != 0)
		return rv;
	/* A bad base key is a forgery like any other. */
	if ((rv = fedctl_e2e_dh(prekey, h->base, shared)) != FEDCTL_E2E_OK) {
		explicit_bzero(shared, sizeof(shared));
		return rv == FEDCTL_E2E_EKEY ? FEDCTL_E2E_EAUTH : rv;
	}
	rv = derive_chains(ctx, h->prekey_id, shared, h->base, prekey->pub,
	    out->recv.key, out->send.key);
	explicit_bzero(shared, sizeof(shared));
	if (rv != FEDCTL_E2E_OK) {
		fedctl_e2e_session_wipe(out);
		return rv;
	}
	out->initiator = false;
	out->prekey_id = h->prekey_id;
	memcpy(out->base, h->base, KEY_LEN);
	return FEDCTL_E2E_OK;
}

bool
fedctl_e2e_session_matches(
    const fedctl_e2e_session *s, const fedctl_e2e_header *h)
{
	/* A message from the responder belongs to the initiator's side. */
	return h->from_responder == s->initiator &&
	    h->prekey_id == s->prekey_id &&
	    memcmp(h->base, s->base, KEY_LEN) == 0;
}

static bool
is_peer(const fedctl_e2e_session *s, const char *user, uint64_t client)
{
	return user != NULL && strcmp(user, s->peer) == 0 &&
	    client == s->peer_client;
}

/* ---- sending ---- */

int
fedctl_e2e_session_encrypt(fedctl_e2e_session *s,
    const fedctl_e2e_context *ctx, const uint8_t *pt, size_t n,
    uint8_t **out, size_t *out_len)
{
	static const uint8_t nothing[1];
	fedctl_e2e_chain     chain = s->send;
	uint8_t              mk[KEY_LEN];
	uint8_t             *ct;
	int                  rv;

	*out     = NULL;
	*out_len = 0;
	if (n > FEDCTL_E2E_MAX_PLAINTEXT || (pt == NULL && n > 0) ||
	    !is_peer(s, ctx->recipient, ctx->recipient_client))
		return FEDCTL_E2E_EFORMAT;
	if (s->send.n > FEDCTL_E2E_MAX_COUNTER)
		return FEDCTL_E2E_EEXHAUSTED;
	if (pt == NULL)
		pt = nothing; /* wolfCrypt wants a pointer even for 0 bytes */
	if ((ct = malloc(n + FEDCTL_E2E_V2_OVERHEAD)) == NULL)
		return FEDCTL_E2E_ENOMEM;
	if ((rv = chain_step(&chain, mk)) == FEDCTL_E2E_OK) {
		ct[0] = FEDCTL_E2E_V2;
		ct[1] = s->initiator ? 0 : FEDCTL_E2E_FROM_RESPONDER;
		fedctl_e2e_put_u16(ct + 2, s->prekey_id);
		memcpy(ct + 4, s->base, KEY_LEN);
		fedctl_e2e_put_u32(ct + 4 + KEY_LEN, (uint32_t) (chain.n - 1));
		rv = gcm(mk, ctx, ct, pt, n, ct + FEDCTL_E2E_V2_HEADER_LEN,
		    ct + FEDCTL_E2E_V2_HEADER_LEN + n, NULL);
	}
	if (rv == FEDCTL_E2E_OK) {
		s->send  = chain;
		*out     = ct;
		*out_len = n + FEDCTL_E2E_V2_OVERHEAD;
	} else
		free(ct);
	explicit_bzero(&chain, sizeof(chain));
	explicit_bzero(mk, sizeof(mk));
	return rv;
}

/* ---- kept keys ---- */

/*
 * `kept` is always in ascending message number: new keys are beyond every
 * kept one, and removal keeps the order. So the oldest come first.
 */

static fedctl_e2e_kept *
kept_find(fedctl_e2e_session *s, uint64_t n)
{
	for (size_t i = 0; i < s->n_kept; i++)
		if (s->kept[i].n == n)
			return &s->kept[i];
	return NULL;
}

/* Room for `extra` more keys: a new array, the old one wiped. */
static bool
kept_grow(fedctl_e2e_session *s, size_t extra)
{
	fedctl_e2e_kept *v = calloc(s->n_kept + extra, sizeof(*v));

	if (v == NULL)
		return false;
	if (s->n_kept > 0)
		memcpy(v, s->kept, s->n_kept * sizeof(*v));
	if (s->kept != NULL) {
		explicit_bzero(s->kept, s->n_kept * sizeof(*s->kept));
		free(s->kept);
	}
	s->kept = v;
	return true;
}

/* Whether a kept key counts as held (used) or as skipped. */
static bool
is_held(const fedctl_e2e_kept *k)
{
	return k->used_by != 0;
}

/*
 * Drops the oldest keys of one kind (held or skipped) beyond max; a held
 * key numbered `spare` (the one just used) stays.
 */
static void
kept_bound(fedctl_e2e_session *s, bool held, size_t max, uint64_t spare)
{
	size_t count = 0, drop, j = 0;

	for (size_t i = 0; i < s->n_kept; i++)
		count += is_held(&s->kept[i]) == held;
	if (count <= max)
		return;
	drop = count - max;
	for (size_t i = 0; i < s->n_kept; i++) {
		fedctl_e2e_kept *k = &s->kept[i];

		if (drop > 0 && is_held(k) == held && !(held && k->n == spare)) {
			drop--;
			continue;
		}
		if (j != i)
			s->kept[j] = *k;
		j++;
	}
	explicit_bzero(s->kept + j, (s->n_kept - j) * sizeof(*s->kept));
	s->n_kept = j;
}

size_t
fedctl_e2e_session_forget_used(fedctl_e2e_session *s, uint64_t up_to)
{
	size_t j = 0, n = s->n_kept;

	for (size_t i = 0; i < n; i++) {
		fedctl_e2e_kept *k = &s->kept[i];

		if (is_held(k) && k->used_by <= up_to)
			continue;
		if (j != i)
			s->kept[j] = *k;
		j++;
	}
	if (s->kept != NULL)
		explicit_bzero(s->kept + j, (n - j) * sizeof(*s->kept));
	s->n_kept = j;
	return n - j;
}

size_t
fedctl_e2e_session_skipped(const fedctl_e2e_session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_kept; i++)
		n += !is_held(&s->kept[i]);
	return n;
}

/* ---- receiving ---- */

/* A message the chain has passed: its kept key, once per tag. */
static int
open_kept(fedctl_e2e_session *s, const fedctl_e2e_context *ctx,
    const uint8_t *ct, size_t len, uint32_t n, uint64_t tag, uint8_t *out)
{
	fedctl_e2e_kept *k = kept_find(s, n);
	int              rv;

	if (k == NULL)
		return FEDCTL_E2E_ESTALE;
	if (k->used_by != 0 && k->used_by != tag)
		return FEDCTL_E2E_EREPLAY;
	rv = gcm(k->key, ctx, ct, ct + FEDCTL_E2E_V2_HEADER_LEN, len, out, NULL,
	    ct + FEDCTL_E2E_V2_HEADER_LEN + len);
	if (rv == FEDCTL_E2E_OK && k->used_by == 0) {
		k->used_by = tag;
		kept_bound(s, true, FEDCTL_E2E_MAX_HELD, n);
	}
	return rv;
}

/*
 * A message at or ahead of the chain: walks a copy of the chain to it,
 * keeping the keys passed, and commits all that only if it opens.
 */
static int
open_ahead(fedctl_e2e_session *s, const fedctl_e2e_context *ctx,
    const uint8_t *ct, size_t len, uint32_t n, uint64_t tag, uint8_t *out)
{
	fedctl_e2e_chain chain = s->recv;
	uint64_t         gap   = n - s->recv.n;
	fedctl_e2e_kept *skip  = NULL;
	uint8_t          mk[KEY_LEN];
	int              rv    = FEDCTL_E2E_OK;

	if (gap > FEDCTL_E2E_MAX_SKIP)
		return FEDCTL_E2E_EGAP;
	if (gap > 0 && (skip = calloc(gap, sizeof(*skip))) == NULL)
		return FEDCTL_E2E_ENOMEM;
	for (uint64_t i = 0; i < gap && rv == FEDCTL_E2E_OK; i++) {
		skip[i].n = chain.n;
		rv        = chain_step(&chain, skip[i].key);
	}
	if (rv == FEDCTL_E2E_OK)
		rv = chain_step(&chain, mk);
	if (rv == FEDCTL_E2E_OK)
		rv = gcm(mk, ctx, ct, ct + FEDCTL_E2E_V2_HEADER_LEN, len, out,
		    NULL, ct + FEDCTL_E2E_V2_HEADER_LEN + len);
	if (rv == FEDCTL_E2E_OK && !kept_grow(s, (size_t) gap + 1))
		rv = FEDCTL_E2E_ENOMEM;
	if (rv == FEDCTL_E2E_OK) {
		if (gap > 0)
			memcpy(s->kept + s->n_kept, skip, (size_t) gap * sizeof(*skip));
		s->n_kept += (size_t) gap;
		s->kept[s->n_kept].n       = n;
		s->kept[s->n_kept].used_by = tag;
		memcpy(s->kept[s->n_kept].key, mk, KEY_LEN);
		s->n_kept++;
		s->recv = chain;
		kept_bound(s, false, FEDCTL_E2E_MAX_SKIP, 0);
		kept_bound(s, true, FEDCTL_E2E_MAX_HELD, n);
	}
	if (skip != NULL) {
		explicit_bzero(skip, (size_t) gap * sizeof(*skip));
		free(skip);
	}
	explicit_bzero(&chain, sizeof(chain));
	explicit_bzero(mk, sizeof(mk));
	return rv;
}

int
fedctl_e2e_session_decrypt(fedctl_e2e_session *s,
    const fedctl_e2e_context *ctx, const uint8_t *ct, size_t n, uint64_t tag,
    uint8_t **pt, size_t *pt_len)
{
	fedctl_e2e_header h;
	uint8_t          *out;
	size_t            len;
	int               rv;

	*pt     = NULL;
	*pt_len = 0;
	if ((rv = fedctl_e2e_header_read(ct, n, &h)) != FEDCTL_E2E_OK)
		return rv;
	if (tag == 0 || !is_peer(s, ctx->sender, ctx->sender_client))
		return FEDCTL_E2E_EFORMAT;
	if (!fedctl_e2e_session_matches(s, &h))
		return FEDCTL_E2E_ENOSESSION;
	len = n - FEDCTL_E2E_V2_OVERHEAD;
	if ((out = malloc(len + 1)) == NULL)
		return FEDCTL_E2E_ENOMEM;
	rv = h.n < s->recv.n ? open_kept(s, ctx, ct, len, h.n, tag, out)
			     : open_ahead(s, ctx, ct, len, h.n, tag, out);
	if (rv != FEDCTL_E2E_OK) {
		/* Decrypt may have written unauthenticated bytes. */
		explicit_bzero(out, len + 1);
		free(out);
		return rv;
	}
	out[len] = '\0';
	*pt      = out;
	*pt_len  = len;
	return FEDCTL_E2E_OK;
}

void
fedctl_e2e_session_wipe(fedctl_e2e_session *s)
{
	if (s->kept != NULL) {
		explicit_bzero(s->kept, s->n_kept * sizeof(*s->kept));
		free(s->kept);
	}
	explicit_bzero(s, sizeof(*s));
}
