/*
 * Fuzz target: making a TLS configuration from PEM files (core/tls_*.c),
 * as a daemon does at start and on every certificate reload: the CA
 * bundle, our certificate chain, our key and the CRL go through wolfSSL's
 * loaders, our one-CRL-per-block splitting, and our check that the key
 * belongs to the certificate (which wolfSSL 5.5 gets wrong for ECC).
 *
 * Input: a flags byte, then the CA, certificate and key as 16-bit
 * length-prefixed slices, then the CRL (the rest). Each part is fuzzed DER
 * (wrapped as PEM here), fuzzed text, or one of the real files of
 * fuzz/data/pki/, so that one part at a time can be broken against valid
 * others:
 *   bit 0     server (else client for a.example)
 *   bits 1-2  CA: DER, text, the real CA followed by DER, the real CA
 *   bits 3-4  certificate: DER, text, real a.example (P-256), real
 *             b.example (Ed25519)
 *   bits 5-6  key: DER, text, real a.example key, real b.example key
 *   bit 7     a CRL (DER, or text when it starts with "-----")
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/tls.h>

#include "fuzz_pem.h"
#include "fuzz_util.h"

static char ca_path[256], cert_path[256], key_path[256], crl_path[256];

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(65536);
	FZ_CHECK(f != NULL && buf != NULL);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

/* Writes one part: fuzzed DER as PEM, fuzzed text, or a real file
 * (`real`, possibly followed by fuzzed DER). */
static void
write_part(const char *path, fz_pem_kind kind, unsigned how,
    const uint8_t *p, size_t n, const char *real, const char *real2)
{
	size_t len;
	char  *buf;

	switch (how) {
	case 0:
		fz_pem_write(path, kind, p, n);
		break;
	case 1:
		fz_write_file(path, p, n, 0600);
		break;
	default: {
		const char *src = how == 2 ? real : real2;
		FILE       *f;

		buf = slurp(src, &len);
		fz_write_file(path, buf, len, 0600);
		free(buf);
		if (how == 2 && real2 == NULL && n > 0) {
			/* the real one, then the fuzzed DER */
			char tmp[300];
			size_t tl;
			char *more;

			snprintf(tmp, sizeof(tmp), "%s.more", path);
			fz_pem_write(tmp, kind, p, n);
			more = slurp(tmp, &tl);
			FZ_CHECK((f = fopen(path, "ab")) != NULL);
			FZ_CHECK(fwrite(more, 1, tl, f) == tl);
			fclose(f);
			free(more);
		}
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const fz_pki_files *real = fz_pki_files_get();
	fz_reader           r    = fz_reader_of(data, size);
	uint8_t             flags = fz_u8(&r);
	size_t              nca, ncert, nkey, ncrl;
	const uint8_t      *ca = fz_bytes(&r, &nca), *cert = fz_bytes(&r, &ncert),
	              *key = fz_bytes(&r, &nkey), *crl = fz_rest(&r, &ncrl);
	bool                server = flags & 1;
	unsigned            ca_how = (flags >> 1) & 3;
	fedrpc_tls_opts     o = {
	        .ca_file     = ca_path,
	        .cert_file   = cert_path,
	        .key_file    = key_path,
	        .server_name = server ? NULL : "a.example",
        };
	fedrpc_tls   *tls = NULL;
	fedrpc_status st = {0};

	/* CA: 2 is the real CA and then the fuzzed DER; 3 the real CA. */
	write_part(ca_path, FZ_PEM_CERT, ca_how == 3 ? 2 : ca_how, ca, nca,
	    real->ca_cert, ca_how == 3 ? real->ca_cert : NULL);
	write_part(cert_path, FZ_PEM_CERT, (flags >> 3) & 3, cert, ncert,
	    real->leaf_cert, real->ed_cert);
	write_part(key_path, FZ_PEM_KEY, (flags >> 5) & 3, key, nkey,
	    real->leaf_key, real->ed_key);
	if (flags & 0x80) {
		if (ncrl >= 5 && memcmp(crl, "-----", 5) == 0)
			fz_write_file(crl_path, crl, ncrl, 0600);
		else
			fz_pem_write(crl_path, FZ_PEM_CRL, crl, ncrl);
		o.crl_file = crl_path;
	}
	if (fedrpc_tls_new(&tls, server, &o, &st) == FEDRPC_OK) {
		FZ_CHECK(tls != NULL && fedrpc_tls_nng_config(tls) != NULL);
		fedrpc_tls_free(tls);
	} else {
		FZ_CHECK(tls == NULL && st.message[0] != '\0');
	}
	return 0;
}

/* ---- seeds: the real files as DER, each part in turn ---- */

static void
put_slice(uint8_t *buf, size_t *len, const uint8_t *p, size_t n)
{
	buf[(*len)++] = (uint8_t) (n >> 8);
	buf[(*len)++] = (uint8_t) n;
	memcpy(buf + *len, p, n);
	*len += n;
}

static void
seed(const char *name, uint8_t flags, const char *ca, const char *cert,
    const char *key, const char *crl)
{
	static uint8_t buf[65536];
	size_t         len = 0, n;
	uint8_t       *d;

	buf[len++] = flags;
	d = fz_pem_file_der(ca, &n);
	put_slice(buf, &len, d, n);
	free(d);
	d = fz_pem_file_der(cert, &n);
	put_slice(buf, &len, d, n);
	free(d);
	d = fz_pem_file_der(key, &n);
	put_slice(buf, &len, d, n);
	free(d);
	if (crl != NULL) {
		d = fz_pem_file_der(crl, &n);
		memcpy(buf + len, d, n);
		len += n;
		free(d);
	}
	fz_seed(name, buf, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const fz_pki_files *f = fz_pki_files_get();
	fedrpc_status       st = {0};

	(void) argc;
	(void) argv;
	fz_quiet_logs();
	FZ_CHECK(fedrpc_tls_engine_init(&st) == FEDRPC_OK);
	fz_path(ca_path, sizeof(ca_path), "ca.pem");
	fz_path(cert_path, sizeof(cert_path), "cert.pem");
	fz_path(key_path, sizeof(key_path), "key.pem");
	fz_path(crl_path, sizeof(crl_path), "crl.pem");
	if (fz_seeds_dir() != NULL) {
		/* everything fuzzed (as the real DER), server and client */
		seed("all-der-server", 0x81, f->ca_cert, f->leaf_cert,
		    f->leaf_key, f->crl);
		seed("all-der-client", 0x80, f->ca_cert, f->leaf_cert,
		    f->leaf_key, f->crl);
		/* one fuzzed part against real others */
		seed("ca-der", 0x01 | (2 << 3) | (2 << 5), f->ca_cert,
		    f->leaf_cert, f->leaf_key, NULL);
		seed("cert-der", 0x01 | (3 << 1) | (2 << 5), f->ca_cert,
		    f->leaf_cert, f->leaf_key, NULL);
		seed("ed-cert-der", 0x01 | (3 << 1) | (3 << 5), f->ca_cert,
		    f->ed_cert, f->ed_key, NULL);
		seed("key-der", 0x01 | (3 << 1) | (2 << 3), f->ca_cert,
		    f->leaf_cert, f->leaf_key, NULL);
		seed("crl-der", 0x81 | (3 << 1) | (2 << 3) | (2 << 5),
		    f->ca_cert, f->leaf_cert, f->leaf_key, f->crl);
		seed("ca-bundle", 0x01 | (2 << 1) | (2 << 3) | (2 << 5),
		    f->ed_cert, f->leaf_cert, f->leaf_key, NULL);
		exit(0);
	}
	return 0;
}
