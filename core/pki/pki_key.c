/*
 * Private keys for the certificate tooling: P-256 and Ed25519 keys made,
 * loaded from PEM (PKCS#8, or SEC1 for P-256) and saved as PKCS#8 PEM.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pki_internal.h"

#include <wolfssl/wolfcrypt/error-crypt.h>

/* Big enough for a P-256 or Ed25519 key in any of its DER forms. */
#define PKI_KEY_DER_MAX 512

/* The DER AlgorithmIdentifiers of our two signature algorithms (RFC 5758
 * 3.2 and RFC 8410 3: both without parameters). */
static const uint8_t alg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65,
    0x70};

static fedrpc_code
key_init(pki_key *key, fedrpc_pki_key_type type, fedrpc_status *st)
{
	int ret;

	memset(key, 0, sizeof(*key));
	key->type = type;
	if (type == FEDRPC_PKI_KEY_P256)
		ret = wc_ecc_init(&key->k.ecc);
	else if (type == FEDRPC_PKI_KEY_ED25519)
		ret = wc_ed25519_init(&key->k.ed);
	else
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "unknown key type %d", (int) type);
	if (ret != 0)
		return pki_wc_error(st, "key init failed", ret);
	key->ready = true;
	return FEDRPC_OK;
}

void
pki_key_free(pki_key *key)
{
	if (!key->ready)
		return;
	if (key->type == FEDRPC_PKI_KEY_P256)
		wc_ecc_free(&key->k.ecc);
	else
		wc_ed25519_free(&key->k.ed);
	explicit_bzero(key, sizeof(*key));
}

fedrpc_code
pki_key_generate(pki_key *key, fedrpc_pki_key_type type, WC_RNG *rng,
    fedrpc_status *st)
{
	fedrpc_code rc;
	int         ret;

	if ((rc = key_init(key, type, st)) != FEDRPC_OK)
		return rc;
	if (type == FEDRPC_PKI_KEY_P256)
		ret = wc_ecc_make_key_ex(rng, 32, &key->k.ecc, ECC_SECP256R1);
	else
		ret = wc_ed25519_make_key(rng, ED25519_KEY_SIZE, &key->k.ed);
	if (ret != 0) {
		pki_key_free(key);
		return pki_wc_error(st, "key generation failed", ret);
	}
	return FEDRPC_OK;
}

/* A P-256 key from PKCS#8 or SEC1 DER; computes a missing public key. */
static int
key_decode_ecc(pki_key *key, const uint8_t *der, size_t len)
{
	word32 idx = 0;
	int    ret;

	/* Skips a PKCS#8 wrapper if there is one; SEC1 starts at 0. */
	if (wc_GetPkcs8TraditionalOffset((byte *) der, &idx, (word32) len) < 0)
		idx = 0;
	if ((ret = wc_EccPrivateKeyDecode(der, &idx, &key->k.ecc,
	         (word32) len)) != 0)
		return ret;
	if (key->k.ecc.dp == NULL || key->k.ecc.dp->id != ECC_SECP256R1)
		return ECC_CURVE_OID_E;
	if (key->k.ecc.type == ECC_PRIVATEKEY_ONLY &&
	    (ret = wc_ecc_make_pub(&key->k.ecc, NULL)) != 0)
		return ret;
	return 0;
}

/* An Ed25519 key from RFC 8410 DER; derives a missing public key. */
static int
key_decode_ed25519(pki_key *key, const uint8_t *der, size_t len)
{
	uint8_t priv[ED25519_KEY_SIZE], pub[ED25519_PUB_KEY_SIZE];
	word32  idx = 0, priv_len = sizeof(priv);
	int     ret;

	if ((ret = wc_Ed25519PrivateKeyDecode(der, &idx, &key->k.ed,
	         (word32) len)) != 0)
		return ret;
	if (key->k.ed.pubKeySet)
		return 0;
	ret = wc_ed25519_export_private_only(&key->k.ed, priv, &priv_len);
	if (ret == 0)
		ret = wc_ed25519_make_public(&key->k.ed, pub, sizeof(pub));
	if (ret == 0)
		ret = wc_ed25519_import_private_key(priv, priv_len, pub,
		    sizeof(pub), &key->k.ed);
	explicit_bzero(priv, sizeof(priv));
	return ret;
}

fedrpc_code
pki_key_load(pki_key *key, const char *path, fedrpc_status *st)
{
	uint8_t    *pem, der[PKI_KEY_DER_MAX];
	size_t      pem_len;
	int         n, ret;
	fedrpc_code rc;

	memset(key, 0, sizeof(*key));
	if ((rc = pki_file_read(path, "key", &pem, &pem_len, st)) != FEDRPC_OK)
		return rc;
	n = wc_KeyPemToDer(pem, (int) pem_len, der, sizeof(der), NULL);
	explicit_bzero(pem, pem_len);
	free(pem);
	if (n <= 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s holds no unencrypted PEM private key: %s (%d)", path,
		    wc_GetErrorString(n), n);
	/* The PEM label does not say the algorithm (PKCS#8 "PRIVATE KEY"),
	 * so try Ed25519's one encoding first, then P-256's two. */
	if ((rc = key_init(key, FEDRPC_PKI_KEY_ED25519, st)) != FEDRPC_OK)
		goto out;
	if (key_decode_ed25519(key, der, (size_t) n) == 0)
		goto out;
	pki_key_free(key);
	if ((rc = key_init(key, FEDRPC_PKI_KEY_P256, st)) != FEDRPC_OK)
		goto out;
	if ((ret = key_decode_ecc(key, der, (size_t) n)) != 0) {
		pki_key_free(key);
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s is neither a P-256 nor an Ed25519 key: %s (%d)", path,
		    wc_GetErrorString(ret), ret);
	}
out:
	explicit_bzero(der, sizeof(der));
	return rc;
}

fedrpc_code
pki_key_save(pki_key *key, const char *path, fedrpc_status *st)
{
	uint8_t     der[PKI_KEY_DER_MAX];
	word32      len = sizeof(der);
	int         ret;
	fedrpc_code rc;

	if (key->type == FEDRPC_PKI_KEY_P256) {
		ret = wc_EccKeyToPKCS8(&key->k.ecc, der, &len);
		if (ret > 0)
			len = (word32) ret;
	} else {
		/* Private key only (OneAsymmetricKey v1), as `openssl genpkey`
		 * writes it; loading derives the public half. */
		ret = wc_Ed25519PrivateKeyToDer(&key->k.ed, der, len);
		len = ret > 0 ? (word32) ret : 0;
	}
	if (ret <= 0)
		return pki_wc_error(st, "encoding the key failed", ret);
	rc = pki_pem_write(path, der, len, PKCS8_PRIVATEKEY_TYPE, 0600, st);
	explicit_bzero(der, sizeof(der));
	return rc;
}

int
pki_key_wc_type(const pki_key *key)
{
	return key->type == FEDRPC_PKI_KEY_P256 ? ECC_TYPE : ED25519_TYPE;
}

int
pki_key_sig_type(const pki_key *key)
{
	return key->type == FEDRPC_PKI_KEY_P256 ? CTC_SHA256wECDSA
	                                        : CTC_ED25519;
}

void
pki_key_sig_alg(const pki_key *key, pki_der *d)
{
	if (key->type == FEDRPC_PKI_KEY_P256)
		pki_der_raw(d, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	else
		pki_der_raw(d, alg_ed25519, sizeof(alg_ed25519));
}

bool
pki_key_spki(pki_key *key, uint8_t *out, size_t *len)
{
	int n;

	if (key->type == FEDRPC_PKI_KEY_P256)
		n = wc_EccPublicKeyToDer(&key->k.ecc, out, (word32) *len, 1);
	else
		n = wc_Ed25519PublicKeyToDer(&key->k.ed, out, (word32) *len, 1);
	if (n <= 0)
		return false;
	*len = (size_t) n;
	return true;
}
