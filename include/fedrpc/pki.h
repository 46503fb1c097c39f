/*
 * Certificate tooling for federation mutual TLS: a CA, the certificates it
 * issues, what a certificate says, and revocation lists. Used by the tests
 * and by `fedctl cert`. Everything is read from and written to PEM files.
 */
#ifndef FEDRPC_PKI_H
#define FEDRPC_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <fedrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fedrpc_pki_key_type {
	FEDRPC_PKI_KEY_P256    = 0, /* ECDSA P-256, SHA-256 signatures */
	FEDRPC_PKI_KEY_ED25519 = 1, /* Ed25519 */
} fedrpc_pki_key_type;

/* Extended key usage of an issued certificate (bits). */
typedef enum fedrpc_pki_usage {
	FEDRPC_PKI_USAGE_SERVER = 1, /* serverAuth */
	FEDRPC_PKI_USAGE_CLIENT = 2, /* clientAuth */
	FEDRPC_PKI_USAGE_BOTH   = 3, /* what a federator needs: it is both */
} fedrpc_pki_usage;

/* keyUsage of an issued leaf certificate (bits; RFC 5280 4.2.1.3). A
 * federator's certificate needs digitalSignature: a TLS 1.3 peer proves
 * its key by signing the handshake, and fedrpc refuses a peer without it.
 * The others exist to make certificates that are refused (tests). */
typedef enum fedrpc_pki_key_usage {
	FEDRPC_PKI_KU_DIGITAL_SIGNATURE = 1,
	FEDRPC_PKI_KU_KEY_ENCIPHERMENT  = 2,
	FEDRPC_PKI_KU_KEY_AGREEMENT     = 4,
	FEDRPC_PKI_KU_KEY_CERT_SIGN     = 8,
	FEDRPC_PKI_KU_CRL_SIGN          = 16,
} fedrpc_pki_key_usage;

/* Longest common name a certificate may carry (RFC 5280 ub-common-name). */
#define FEDRPC_PKI_CN_MAX 64
/* Serials are at most 20 bytes: 40 hex digits. */
#define FEDRPC_PKI_SERIAL_HEX_MAX 41

/*
 * Creates a self-signed CA: basicConstraints CA:TRUE (wolfSSL 5.5.4 writes
 * it non-critical), key usage keyCertSign|cRLSign (critical), subject and
 * authority key ids, valid from an hour ago until `days` days from now. Writes the PEM certificate to cert_path (mode 0644)
 * and the PKCS#8 PEM key to key_path (mode 0600); each file is replaced
 * atomically.
 */
fedrpc_code fedrpc_pki_ca_create(const char *cert_path, const char *key_path,
    const char *common_name, fedrpc_pki_key_type key_type, int days,
    fedrpc_status *st);

/* What fedrpc_pki_issue() needs; every string is borrowed. */
typedef struct fedrpc_pki_issue_opts {
	const char *ca_cert;  /* PEM certificate of the issuing CA */
	const char *ca_key;   /* PEM key of the issuing CA (P-256 or Ed25519) */
	const char *cert_out; /* where the new PEM certificate goes (0644) */
	const char *key_out;  /* where the new PEM key goes (0600) */
	/* Subject CN; NULL: the first DNS name. */
	const char *common_name;
	const char *const *dns_names; /* subjectAltName dNSNames */
	size_t             n_dns_names;
	fedrpc_pki_key_type key_type; /* of the new key; may differ from CA's */
	time_t           not_before; /* absolute; may lie in the past ... */
	time_t           not_after;  /* ... or the future; > not_before */
	fedrpc_pki_usage usage;      /* 0 means BOTH */
	uint64_t         serial;     /* 0: a random 16-byte serial */
	unsigned         key_usage;  /* fedrpc_pki_key_usage bits; 0 means
	                                digitalSignature alone */
} fedrpc_pki_issue_opts;

/*
 * Issues a leaf certificate (CA:FALSE, the chosen key usage (by default
 * digitalSignature) and extended key usage, subject and authority key ids) signed by the CA, with
 * a fresh key. The certificate file holds the leaf only. Fails with
 * INVALID_ARGUMENT for bad names or times or a CA key that does not match
 * the CA certificate, FAILED_PRECONDITION when ca_cert is not a CA, and
 * NOT_FOUND when an input file is missing.
 */
fedrpc_code fedrpc_pki_issue(const fedrpc_pki_issue_opts *opts,
    fedrpc_status *st);

/* What a certificate says. Strings are NUL-terminated. */
typedef struct fedrpc_pki_cert_info {
	char    subject_cn[FEDRPC_PKI_CN_MAX + 1]; /* "" if none */
	char    issuer_cn[FEDRPC_PKI_CN_MAX + 1];  /* "" if none */
	char  **dns_names;   /* owned; subjectAltName dNSNames, in order */
	size_t  n_dns_names;
	time_t  not_before;
	time_t  not_after;
	/* Upper-case hex without leading zeros ("1A2B"), as `openssl x509
	 * -serial` prints it; what fedrpc_pki_crl_create() takes. */
	char    serial_hex[FEDRPC_PKI_SERIAL_HEX_MAX];
	fedrpc_pki_key_type key_type; /* of the certificate's public key */
	unsigned usage;  /* FEDRPC_PKI_USAGE_* bits from extendedKeyUsage */
	bool    is_ca;   /* basicConstraints CA:TRUE */
} fedrpc_pki_cert_info;

/*
 * Reads the first certificate of a PEM file into `out`. Fails with
 * NOT_FOUND, INVALID_ARGUMENT (not a certificate), or UNIMPLEMENTED for
 * key types other than P-256 and Ed25519. Free with fedrpc_pki_info_clear().
 */
fedrpc_code fedrpc_pki_info(const char *cert_path, fedrpc_pki_cert_info *out,
    fedrpc_status *st);

/* Frees what fedrpc_pki_info() allocated; `info` may be reused after. */
void fedrpc_pki_info_clear(fedrpc_pki_cert_info *info);

/*
 * Writes a PEM CRL (v2, with CRL number and authority key id) signed by
 * the CA, revoking the serials given as hex (case-insensitive, optional
 * "0x" prefix and ':' separators; at most 20 bytes). thisUpdate is an hour
 * ago (clock skew), nextUpdate next_update_days from now. The CRL number is
 * the current time, so a newer CRL has a larger number. An empty list
 * makes a valid CRL that revokes nothing. The CA's key must match its
 * certificate (INVALID_ARGUMENT otherwise).
 */
fedrpc_code fedrpc_pki_crl_create(const char *ca_cert, const char *ca_key,
    const char *crl_out, const char *const *revoked_serials, size_t n_revoked,
    int next_update_days, fedrpc_status *st);

#ifdef __cplusplus
}
#endif
#endif
