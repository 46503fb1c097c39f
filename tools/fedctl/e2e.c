/*
 * The shared key operations of e2e.h on wolfCrypt (X25519 key pairs and
 * agreement), and the version 1 sealed box: X25519 (ephemeral x prekey),
 * HKDF-SHA256 over a context naming both parties and the prekey, and
 * ChaCha20-Poly1305 with the parties, the conversation and the header as
 * associated data. Every secret on the stack is wiped before returning.
 */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>

#include "e2e.h"
#include "e2e_encode.h"
#include "e2e_session.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Labels that keep our derivations apart from any other use of a key. */
#define KDF_LABEL "fedrpc-e2e v1 message key"
#define AD_LABEL "fedrpc-e2e v1 associated data"

int
fedctl_e2e_keypair_generate(fedctl_e2e_keypair *kp)
{
	WC_RNG         rng;
	curve25519_key key;
	word32         plen = FEDCTL_E2E_KEY_LEN, slen = FEDCTL_E2E_KEY_LEN;
	int            rv;

	if (wc_InitRng(&rng) != 0)
		return FEDCTL_E2E_ECRYPTO;
	if (wc_curve25519_init(&key) != 0) {
		wc_FreeRng(&rng);
		return FEDCTL_E2E_ECRYPTO;
	}
	rv = wc_curve25519_make_key(&rng, CURVE25519_KEYSIZE, &key);
	if (rv == 0)
		rv = wc_curve25519_export_key_raw_ex(&key, kp->priv, &slen,
		    kp->pub, &plen, EC25519_LITTLE_ENDIAN);
	wc_curve25519_free(&key);
	wc_FreeRng(&rng);
	if (rv != 0 || plen != FEDCTL_E2E_KEY_LEN || slen != FEDCTL_E2E_KEY_LEN) {
		fedctl_e2e_keypair_wipe(kp);
		return FEDCTL_E2E_ECRYPTO;
	}
	return FEDCTL_E2E_OK;
}

void
fedctl_e2e_keypair_wipe(fedctl_e2e_keypair *kp)
{
	explicit_bzero(kp, sizeof(*kp));
}

/* X25519; refuses a public key of low order (all-zero result), which
 * would make the "secret" known to anyone. */
int
fedctl_e2e_dh(const fedctl_e2e_keypair *mine,
    const uint8_t peer[FEDCTL_E2E_KEY_LEN], uint8_t out[FEDCTL_E2E_KEY_LEN])
{
	curve25519_key me, them;
	word32         n = FEDCTL_E2E_KEY_LEN;
	uint8_t        acc = 0;
	int            rv;

	if (wc_curve25519_check_public(
	        peer, FEDCTL_E2E_KEY_LEN, EC25519_LITTLE_ENDIAN) != 0)
		return FEDCTL_E2E_EKEY;
	if (wc_curve25519_init(&me) != 0)
		return FEDCTL_E2E_ECRYPTO;
	if (wc_curve25519_init(&them) != 0) {
		wc_curve25519_free(&me);
		return FEDCTL_E2E_ECRYPTO;
	}
	rv = wc_curve25519_import_private_raw_ex(mine->priv,
	    FEDCTL_E2E_KEY_LEN, mine->pub, FEDCTL_E2E_KEY_LEN, &me,
	    EC25519_LITTLE_ENDIAN);
	if (rv == 0)
		rv = wc_curve25519_import_public_ex(
		    peer, FEDCTL_E2E_KEY_LEN, &them, EC25519_LITTLE_ENDIAN);
	if (rv == 0)
		rv = wc_curve25519_shared_secret_ex(
		    &me, &them, out, &n, EC25519_LITTLE_ENDIAN);
	wc_curve25519_free(&me);
	wc_curve25519_free(&them);
	if (rv != 0 || n != FEDCTL_E2E_KEY_LEN) {
		explicit_bzero(out, FEDCTL_E2E_KEY_LEN);
		/* wolfCrypt refuses some bad points itself. */
		return rv == ECC_BAD_ARG_E || rv == BAD_FUNC_ARG
		    ? FEDCTL_E2E_EKEY
		    : FEDCTL_E2E_ECRYPTO;
	}
	for (size_t i = 0; i < FEDCTL_E2E_KEY_LEN; i++)
		acc |= out[i];
	if (acc == 0) {
		explicit_bzero(out, FEDCTL_E2E_KEY_LEN);
		return FEDCTL_E2E_EKEY;
	}
	return FEDCTL_E2E_OK;
}

/*
 * The message key: HKDF-SHA256 of the shared secret, salted with both
 * public keys and with info naming the parties and the prekey id, so that
 * a key is good for exactly one (sender client, recipient client, prekey).
 */
static int
derive(const fedctl_e2e_context *ctx, uint16_t prekey_id,
    const uint8_t shared[FEDCTL_E2E_KEY_LEN],
    const uint8_t eph_pub[FEDCTL_E2E_KEY_LEN],
    const uint8_t prekey_pub[FEDCTL_E2E_KEY_LEN],
    uint8_t key[CHACHA20_POLY1305_AEAD_KEYSIZE])
{
	uint8_t salt[2 * FEDCTL_E2E_KEY_LEN];
	fedctl_e2e_buf info = {0};
	int            rv;

	memcpy(salt, eph_pub, FEDCTL_E2E_KEY_LEN);
	memcpy(salt + FEDCTL_E2E_KEY_LEN, prekey_pub, FEDCTL_E2E_KEY_LEN);
	fedctl_e2e_buf_put(&info, KDF_LABEL, sizeof(KDF_LABEL) - 1);
	fedctl_e2e_buf_parties(&info, ctx);
	fedctl_e2e_buf_u16(&info, prekey_id);
	if (info.err != 0) {
		rv = info.err;
		fedctl_e2e_buf_free(&info);
		return rv;
	}
	rv = wc_HKDF(WC_SHA256, shared, FEDCTL_E2E_KEY_LEN, salt, sizeof(salt),
	    info.p, (word32) info.len, key, CHACHA20_POLY1305_AEAD_KEYSIZE);
	fedctl_e2e_buf_free(&info);
	return rv == 0 ? FEDCTL_E2E_OK : FEDCTL_E2E_ECRYPTO;
}

/* The associated data: the parties, the conversation and the header. */
static int
associated_data(const fedctl_e2e_context *ctx, const uint8_t *header,
    fedctl_e2e_buf *ad)
{
	fedctl_e2e_buf_put(ad, AD_LABEL, sizeof(AD_LABEL) - 1);
	fedctl_e2e_buf_parties(ad, ctx);
	fedctl_e2e_buf_str(ad, ctx->conversation);
	fedctl_e2e_buf_put(ad, header, FEDCTL_E2E_V1_HEADER_LEN);
	return ad->err;
}

int
fedctl_e2e_seal(const fedctl_e2e_context *ctx, uint16_t prekey_id,
    const uint8_t prekey_pub[FEDCTL_E2E_KEY_LEN], const uint8_t *pt,
    size_t n, uint8_t **out, size_t *out_len)
{
	fedctl_e2e_keypair eph;
	uint8_t            shared[FEDCTL_E2E_KEY_LEN];
	uint8_t            key[CHACHA20_POLY1305_AEAD_KEYSIZE];
	uint8_t           *ct, *h;
	fedctl_e2e_buf     ad = {0};
	WC_RNG             rng;
	int                rv;
	static const uint8_t nothing[1];

	*out     = NULL;
	*out_len = 0;
	if (n > FEDCTL_E2E_MAX_PLAINTEXT || (pt == NULL && n > 0))
		return FEDCTL_E2E_EFORMAT;
	if (pt == NULL)
		pt = nothing; /* wolfCrypt wants a pointer even for 0 bytes */
	if ((ct = malloc(n + FEDCTL_E2E_V1_OVERHEAD)) == NULL)
		return FEDCTL_E2E_ENOMEM;
	h = ct;
	if ((rv = fedctl_e2e_keypair_generate(&eph)) != FEDCTL_E2E_OK)
		goto done;
	h[0] = FEDCTL_E2E_V1;
	h[1] = (uint8_t) (prekey_id >> 8);
	h[2] = (uint8_t) prekey_id;
	memcpy(h + 3, eph.pub, FEDCTL_E2E_KEY_LEN);
	if (wc_InitRng(&rng) != 0) {
		rv = FEDCTL_E2E_ECRYPTO;
		goto done;
	}
	rv = wc_RNG_GenerateBlock(
	    &rng, h + 3 + FEDCTL_E2E_KEY_LEN, FEDCTL_E2E_NONCE_LEN);
	wc_FreeRng(&rng);
	if (rv != 0) {
		rv = FEDCTL_E2E_ECRYPTO;
		goto done;
	}
	if ((rv = fedctl_e2e_dh(&eph, prekey_pub, shared)) !=
	        FEDCTL_E2E_OK ||
	    (rv = derive(ctx, prekey_id, shared, eph.pub, prekey_pub, key)) !=
	        FEDCTL_E2E_OK ||
	    (rv = associated_data(ctx, h, &ad)) != FEDCTL_E2E_OK)
		goto done;
	if (wc_ChaCha20Poly1305_Encrypt(key, h + 3 + FEDCTL_E2E_KEY_LEN, ad.p,
	        (word32) ad.len, pt, (word32) n, ct + FEDCTL_E2E_V1_HEADER_LEN,
	        ct + FEDCTL_E2E_V1_HEADER_LEN + n) != 0) {
		rv = FEDCTL_E2E_ECRYPTO;
		goto done;
	}
	*out     = ct;
	*out_len = n + FEDCTL_E2E_V1_OVERHEAD;
	ct       = NULL;
done:
	fedctl_e2e_keypair_wipe(&eph);
	explicit_bzero(shared, sizeof(shared));
	explicit_bzero(key, sizeof(key));
	fedctl_e2e_buf_free(&ad);
	free(ct);
	return rv;
}

/* Checks the header; the version first, so a newer format says so. */
static int
check_header(const uint8_t *ct, size_t n)
{
	if (ct == NULL || n < 1)
		return FEDCTL_E2E_EFORMAT;
	if (ct[0] != FEDCTL_E2E_V1)
		return FEDCTL_E2E_EVERSION;
	if (n < FEDCTL_E2E_V1_OVERHEAD ||
	    n - FEDCTL_E2E_V1_OVERHEAD > FEDCTL_E2E_MAX_PLAINTEXT)
		return FEDCTL_E2E_EFORMAT;
	return FEDCTL_E2E_OK;
}

int
fedctl_e2e_version(const uint8_t *ct, size_t n)
{
	return ct == NULL || n < 1 ? FEDCTL_E2E_EFORMAT : ct[0];
}

int
fedctl_e2e_prekey_id(const uint8_t *ct, size_t n, uint16_t *id)
{
	int rv = check_header(ct, n);

	if (rv == FEDCTL_E2E_OK)
		*id = (uint16_t) (ct[1] << 8 | ct[2]);
	return rv;
}

int
fedctl_e2e_open(const fedctl_e2e_context *ctx,
    const fedctl_e2e_keypair *prekey, const uint8_t *ct, size_t n,
    uint8_t **pt, size_t *pt_len)
{
	uint8_t     shared[FEDCTL_E2E_KEY_LEN];
	uint8_t     key[CHACHA20_POLY1305_AEAD_KEYSIZE];
	fedctl_e2e_buf ad = {0};
	uint8_t    *out = NULL;
	size_t      len;
	uint16_t    id;
	const uint8_t *eph, *nonce;
	int         rv;

	*pt     = NULL;
	*pt_len = 0;
	if ((rv = fedctl_e2e_prekey_id(ct, n, &id)) != FEDCTL_E2E_OK)
		return rv;
	len   = n - FEDCTL_E2E_V1_OVERHEAD;
	eph   = ct + 3;
	nonce = ct + 3 + FEDCTL_E2E_KEY_LEN;
	if ((out = malloc(len + 1)) == NULL)
		return FEDCTL_E2E_ENOMEM;
	/* A bad ephemeral key is a forgery like any other. */
	if ((rv = fedctl_e2e_dh(prekey, eph, shared)) !=
	    FEDCTL_E2E_OK) {
		rv = rv == FEDCTL_E2E_EKEY ? FEDCTL_E2E_EAUTH : rv;
		goto done;
	}
	if ((rv = derive(ctx, id, shared, eph, prekey->pub, key)) !=
	        FEDCTL_E2E_OK ||
	    (rv = associated_data(ctx, ct, &ad)) != FEDCTL_E2E_OK)
		goto done;
	rv = wc_ChaCha20Poly1305_Decrypt(key, nonce, ad.p, (word32) ad.len,
	    ct + FEDCTL_E2E_V1_HEADER_LEN, (word32) len,
	    ct + FEDCTL_E2E_V1_HEADER_LEN + len, out);
	if (rv != 0) {
		rv = rv == MAC_CMP_FAILED_E ? FEDCTL_E2E_EAUTH
					    : FEDCTL_E2E_ECRYPTO;
		goto done;
	}
	out[len] = '\0';
	*pt      = out;
	*pt_len  = len;
	out      = NULL;
done:
	explicit_bzero(shared, sizeof(shared));
	explicit_bzero(key, sizeof(key));
	fedctl_e2e_buf_free(&ad);
	if (out != NULL) {
		/* Decrypt may have written unauthenticated bytes. */
		explicit_bzero(out, len + 1);
		free(out);
	}
	return rv;
}

const char *
fedctl_e2e_strerror(int err)
{
	switch (err) {
	case FEDCTL_E2E_OK:
		return "ok";
	case FEDCTL_E2E_EFORMAT:
		return "malformed ciphertext or context";
	case FEDCTL_E2E_EVERSION:
		return "unknown ciphertext version";
	case FEDCTL_E2E_EAUTH:
		return "wrong key, tampered ciphertext or wrong sender, "
		       "recipient or conversation";
	case FEDCTL_E2E_EKEY:
		return "invalid public key";
	case FEDCTL_E2E_ENOMEM:
		return "out of memory";
	case FEDCTL_E2E_EREPLAY:
		return "replayed message: its key was already used by another "
		       "inbox event";
	case FEDCTL_E2E_ESTALE:
		return "message key no longer kept: read and acknowledged "
		       "before (a replay), or more than "
		       STR(FEDCTL_E2E_MAX_SKIP) " later messages of the "
		       "session came first";
	case FEDCTL_E2E_EGAP:
		return "more than " STR(FEDCTL_E2E_MAX_SKIP) " messages of the "
		       "session skipped before this one; refused";
	case FEDCTL_E2E_ENOSESSION:
		return "no session for this message, and none can be set up "
		       "(the prekey it names is gone: used and acknowledged, "
		       "or made for another client)";
	case FEDCTL_E2E_EEXHAUSTED:
		return "the session's message counter is used up";
	case FEDCTL_E2E_ECRYPTO:
	default:
		return "crypto library failure";
	}
}
