/*
 * Does a private key belong to a certificate? wolfSSL 5.5's
 * wolfSSL_CTX_check_private_key() accepts any valid ECC key with any ECC
 * certificate, so we derive the public key from the private one and
 * compare it with the certificate's: P-256 (and other ECC curves) and
 * Ed25519, the key types fedrpc's PKI issues.
 */
#include <stdlib.h>
#include <string.h>

#include "tls_internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>

/* Largest public key encoding compared here (an ECC P-521 SPKI is 158). */
#define KEYMATCH_PUB_MAX 256

/* The ECC private key's SubjectPublicKeyInfo, from the private scalar
 * (not from a public point the file may also carry). */
static int
keymatch_ecc(const byte *der, word32 len, byte *out, word32 outsz)
{
	ecc_key key;
	word32  idx = 0;
	int     n   = -1;

	if (wc_GetPkcs8TraditionalOffset((byte *) der, &idx, len) < 0)
		idx = 0;
	if (wc_ecc_init(&key) != 0)
		return -1;
	if (wc_EccPrivateKeyDecode(der, &idx, &key, len) == 0 &&
	    wc_ecc_make_pub(&key, NULL) == 0)
		n = wc_EccPublicKeyToDer(&key, out, outsz, 1);
	wc_ecc_free(&key);
	return n;
}

/* The Ed25519 private key's raw 32-byte public key. */
static int
keymatch_ed25519(const byte *der, word32 len, byte *out, word32 outsz)
{
	ed25519_key key;
	word32      idx = 0;
	int         n   = -1;

	if (outsz < ED25519_PUB_KEY_SIZE || wc_ed25519_init(&key) != 0)
		return -1;
	if (wc_Ed25519PrivateKeyDecode(der, &idx, &key, len) == 0 &&
	    wc_ed25519_make_public(&key, out, ED25519_PUB_KEY_SIZE) == 0)
		n = ED25519_PUB_KEY_SIZE;
	wc_ed25519_free(&key);
	return n;
}

int
tls_key_matches(const char *cert_pem, const char *key_pem, const char *pass)
{
	DecodedCert dc;
	byte       *cder = NULL, *kder = NULL;
	byte        want[KEYMATCH_PUB_MAX], got[KEYMATCH_PUB_MAX];
	word32      wantsz = sizeof(want);
	int         csz, ksz, gotsz = -1, result = -1;
	bool        known = false; /* the certificate's key type is ours */
	size_t      clen = strlen(cert_pem), klen = strlen(key_pem);

	if ((cder = malloc(clen)) == NULL || (kder = malloc(klen)) == NULL)
		goto out;
	/* The first certificate of a chain is ours. */
	csz = wc_CertPemToDer((const byte *) cert_pem, (int) clen, cder,
	    (int) clen, CERT_TYPE);
	ksz = wc_KeyPemToDer((const byte *) key_pem, (int) klen, kder,
	    (int) klen, pass);
	if (csz <= 0 || ksz <= 0)
		goto out;

	wc_InitDecodedCert(&dc, cder, (word32) csz, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0 &&
	    wc_GetPubKeyDerFromCert(&dc, want, &wantsz) == 0) {
		/* For ECC wolfCrypt gives the certificate's whole SPKI, for
		 * Ed25519 the raw key: we derive the same forms. */
		known = dc.keyOID == ECDSAk || dc.keyOID == ED25519k;
		if (dc.keyOID == ECDSAk)
			gotsz = keymatch_ecc(kder, (word32) ksz, got, sizeof(got));
		else if (dc.keyOID == ED25519k)
			gotsz = keymatch_ed25519(
			    kder, (word32) ksz, got, sizeof(got));
	}
	wc_FreeDecodedCert(&dc);
	/* A key that does not decode as the certificate's type is not its
	 * key; equal public keys are. */
	if (known)
		result = gotsz > 0 && (word32) gotsz == wantsz &&
		    memcmp(got, want, wantsz) == 0;
out:
	if (kder != NULL) {
		explicit_bzero(kder, klen);
		free(kder);
	}
	free(cder);
	return result;
}
