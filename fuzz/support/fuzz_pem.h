/*
 * PEM for the certificate targets: fuzz inputs are mostly DER (so that
 * mutations change certificate fields, not base64 letters) and are wrapped
 * as PEM here before the code under test reads them from a file. A set of
 * real PEM files (a CA, a leaf it issued with its key, a CRL) is made once
 * per process for targets that need a valid counterpart, and doubles as
 * the source of their seeds.
 */
#ifndef FEDRPC_FUZZ_PEM_H
#define FEDRPC_FUZZ_PEM_H

#include <stddef.h>
#include <stdint.h>

/* PEM labels, as wolfSSL names them. */
typedef enum fz_pem_kind {
	FZ_PEM_CERT,    /* CERTIFICATE */
	FZ_PEM_KEY,     /* PRIVATE KEY (PKCS#8) */
	FZ_PEM_EC_KEY,  /* EC PRIVATE KEY (SEC1) */
	FZ_PEM_CRL,     /* X509 CRL */
} fz_pem_kind;

/* Writes der as one PEM block of the kind to path (mode 0600). */
void fz_pem_write(const char *path, fz_pem_kind kind, const uint8_t *der,
    size_t len);

/* The real files' paths. */
typedef struct fz_pki_files {
	char ca_cert[512], ca_key[512];
	char leaf_cert[512], leaf_key[512]; /* a.example, P-256 */
	char ed_cert[512], ed_key[512];     /* b.example, Ed25519, revoked */
	char crl[512];
} fz_pki_files;

const fz_pki_files *fz_pki_files_get(void);

/* The DER of the first PEM block of a file (malloc'd), for seeds. */
uint8_t *fz_pem_file_der(const char *path, size_t *len);

#endif
