/*
 * PEM wrapping and the real certificate files of the certificate targets
 * (fuzz_pem.h).
 */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "fuzz_pem.h"
#include "fuzz_util.h"

static int
wc_type(fz_pem_kind kind)
{
	switch (kind) {
	case FZ_PEM_KEY:
		return PKCS8_PRIVATEKEY_TYPE;
	case FZ_PEM_EC_KEY:
		return ECC_PRIVATEKEY_TYPE;
	case FZ_PEM_CRL:
		return CRL_TYPE;
	default:
		return CERT_TYPE;
	}
}

void
fz_pem_write(const char *path, fz_pem_kind kind, const uint8_t *der,
    size_t len)
{
	size_t   cap = len * 2 + 128;
	uint8_t *pem = malloc(cap);
	int      n;

	FZ_CHECK(pem != NULL);
	n = len == 0 ? 0
	             : wc_DerToPem(der, (word32) len, pem, (word32) cap,
	                   wc_type(kind));
	FZ_CHECK(n >= 0);
	fz_write_file(path, pem, (size_t) n, 0600);
	free(pem);
}

const fz_pki_files *
fz_pki_files_get(void)
{
	static fz_pki_files files;

	if (files.ca_cert[0] == '\0') {
		snprintf(files.ca_cert, sizeof(files.ca_cert), "%s/ca.crt", FZ_PKI_DIR);
		snprintf(files.ca_key, sizeof(files.ca_key), "%s/ca.key", FZ_PKI_DIR);
		snprintf(files.leaf_cert, sizeof(files.leaf_cert),
		    "%s/a.example.crt", FZ_PKI_DIR);
		snprintf(files.leaf_key, sizeof(files.leaf_key),
		    "%s/a.example.key", FZ_PKI_DIR);
		snprintf(files.ed_cert, sizeof(files.ed_cert),
		    "%s/b.example.crt", FZ_PKI_DIR);
		snprintf(files.ed_key, sizeof(files.ed_key),
		    "%s/b.example.key", FZ_PKI_DIR);
		snprintf(files.crl, sizeof(files.crl), "%s/ca.crl", FZ_PKI_DIR);
	}
	return &files;
}

uint8_t *
fz_pem_file_der(const char *path, size_t *len)
{
	FILE      *f = fopen(path, "rb");
	char       pem[16384];
	uint8_t   *der;
	size_t     n;
	int        type = CERT_TYPE;
	DerBuffer *d    = NULL;

	FZ_CHECK(f != NULL);
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';
	if (strstr(pem, "X509 CRL") != NULL)
		type = CRL_TYPE;
	else if (strstr(pem, "PRIVATE KEY") != NULL)
		type = PRIVATEKEY_TYPE;
	FZ_CHECK(wc_PemToDer((const unsigned char *) pem, (long) n, type, &d,
	             NULL, NULL, NULL) == 0);
	der = malloc(d->length);
	FZ_CHECK(der != NULL);
	memcpy(der, d->buffer, d->length);
	*len = d->length;
	wc_FreeDer(&d);
	return der;
}
