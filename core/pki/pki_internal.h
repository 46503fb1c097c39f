/*
 * What the pki_*.c files share: a small DER writer and reader, PEM files,
 * keys, and a loaded CA. Internal to the shared runtime; not installed.
 */
#ifndef FEDRPC_PKI_INTERNAL_H
#define FEDRPC_PKI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <fedrpc/pki.h>
#include <fedrpc/status.h>

/* What the tooling needs from the wolfSSL build (Debian's has it all). */
#if !defined(WOLFSSL_CERT_GEN) || !defined(WOLFSSL_CERT_EXT) ||            \
    !defined(WOLFSSL_ALT_NAMES) || !defined(HAVE_ED25519) ||               \
    !defined(HAVE_ECC) || !defined(WOLFSSL_HAVE_ISSUER_NAMES)
#error "wolfSSL lacks certificate generation, extensions, Ed25519 or ECC"
#endif

/* A CA and a CRL start this long ago, to absorb clock skew between
 * federators. */
#define PKI_BACKDATE 3600

/* DER tags we write and read. */
enum {
	PKI_DER_INTEGER     = 0x02,
	PKI_DER_OCTET       = 0x04,
	PKI_DER_UTC_TIME    = 0x17,
	PKI_DER_GEN_TIME    = 0x18,
	PKI_DER_SEQUENCE    = 0x30,
	PKI_DER_CTX0        = 0xa0, /* [0] constructed */
	PKI_DER_CTX0_PRIM   = 0x80, /* [0] primitive (implicit) */
	PKI_DER_DNS_NAME    = 0x82, /* [2] IA5String in GeneralName */
};

/*
 * A growing DER buffer. Errors (out of memory) stick: check `failed` once
 * at the end. Nesting: pki_der_begin() returns a mark that pki_der_end()
 * turns into the finished header once the content length is known.
 */
typedef struct pki_der {
	uint8_t *buf;    /* owned */
	size_t   len;    /* bytes written */
	size_t   cap;    /* bytes allocated */
	bool     failed; /* an allocation failed; contents are unusable */
} pki_der;

void   pki_der_init(pki_der *d);
void   pki_der_free(pki_der *d);
void   pki_der_raw(pki_der *d, const void *p, size_t n);
void   pki_der_tlv(pki_der *d, uint8_t tag, const void *p, size_t n);
size_t pki_der_begin(pki_der *d, uint8_t tag);
void   pki_der_end(pki_der *d, size_t mark);
/* An INTEGER from an unsigned big-endian magnitude. */
void   pki_der_uint_bytes(pki_der *d, const uint8_t *mag, size_t n);
void   pki_der_uint(pki_der *d, uint64_t v);
/* UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
void   pki_der_time(pki_der *d, time_t t);

/* One element read from DER: where it starts, its tag and its content. */
typedef struct pki_der_elem {
	const uint8_t *tlv;     /* start of the whole element */
	size_t         tlv_len; /* header + content */
	uint8_t        tag;
	const uint8_t *val;     /* the content */
	size_t         val_len;
} pki_der_elem;

/* Reads the element at *p (of *left bytes) and steps past it. */
bool pki_der_next(const uint8_t **p, size_t *left, pki_der_elem *out);

/* The raw subject Name and SubjectPublicKeyInfo of a DER certificate. */
bool pki_cert_parts(const uint8_t *der, size_t len, pki_der_elem *subject,
    pki_der_elem *spki);

/* Parses a DER certificate (which must outlive the result) with wolfCrypt's
 * parser; free with pki_cert_decoded_free(). */
struct DecodedCert;
fedrpc_code pki_cert_decode(const uint8_t *der, size_t len, const char *path,
    struct DecodedCert **out, fedrpc_status *st);
void        pki_cert_decoded_free(struct DecodedCert *dc);

/* Reads a file whole (NUL-terminated; caller frees). */
fedrpc_code pki_file_read(const char *path, const char *what, uint8_t **out,
    size_t *len, fedrpc_status *st);
/* Replaces `path` atomically with `data`, with the given mode. */
fedrpc_code pki_file_write(const char *path, const void *data, size_t len,
    mode_t mode, fedrpc_status *st);
/* Reads the first PEM certificate of a file as DER (caller frees). */
fedrpc_code pki_pem_read_cert(const char *path, uint8_t **der, size_t *len,
    fedrpc_status *st);
/* Writes DER as PEM of a wolfSSL type (CERT_TYPE, CRL_TYPE, ...). */
fedrpc_code pki_pem_write(const char *path, const uint8_t *der, size_t len,
    int pem_type, mode_t mode, fedrpc_status *st);

/* A private key of either type, with its public half. */
typedef struct pki_key {
	fedrpc_pki_key_type type;
	bool                ready; /* initialised; pki_key_free() needed */
	union {
		ecc_key     ecc;
		ed25519_key ed;
	} k;
} pki_key;

fedrpc_code pki_key_generate(pki_key *key, fedrpc_pki_key_type type,
    WC_RNG *rng, fedrpc_status *st);
/* Loads a PEM private key (PKCS#8 or SEC1 "EC PRIVATE KEY"). */
fedrpc_code pki_key_load(pki_key *key, const char *path, fedrpc_status *st);
/* Writes the key as PKCS#8 PEM, mode 0600. */
fedrpc_code pki_key_save(pki_key *key, const char *path, fedrpc_status *st);
void        pki_key_free(pki_key *key);
/* wolfSSL's key type (ECC_TYPE, ED25519_TYPE) and signature type. */
int  pki_key_wc_type(const pki_key *key);
int  pki_key_sig_type(const pki_key *key);
/* The DER AlgorithmIdentifier of the key's signatures. */
void pki_key_sig_alg(const pki_key *key, pki_der *d);
/* The key's SubjectPublicKeyInfo DER; false if it does not fit. */
bool pki_key_spki(pki_key *key, uint8_t *out, size_t *len);

/* An issuing CA: its certificate and its key, checked to belong together. */
typedef struct pki_ca {
	uint8_t     *der;     /* owned: the CA certificate */
	size_t       der_len;
	pki_der_elem subject; /* points into der */
	uint8_t      skid[64]; /* subject key id; skid_len 0 if none */
	size_t       skid_len;
	pki_key      key;
} pki_ca;

fedrpc_code pki_ca_load(pki_ca *ca, const char *cert_path,
    const char *key_path, fedrpc_status *st);
void        pki_ca_free(pki_ca *ca);

/* "what: <wolfSSL's error string> (<code>)" as an INTERNAL status. */
fedrpc_code pki_wc_error(fedrpc_status *st, const char *what, int ret);

#endif
