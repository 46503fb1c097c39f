/*
 * Fuzz target: certificate and key files as fedrpc's PKI tooling reads
 * them (core/pki*.c: `fedctl cert show`, issuing and CRLs with an existing
 * CA): PEM to DER, wolfCrypt's certificate parser, our own DER reader that
 * finds a certificate's subject and public key, key loading, and the check
 * that a CA's key belongs to its certificate.
 *
 * The first byte picks what the rest is; DER is wrapped as PEM here:
 *   0 a certificate (DER) for fedrpc_pki_info
 *   1 a certificate file as text, for fedrpc_pki_info
 *   2 a private key (PKCS#8 DER), 3 (SEC1 DER), 4 a key file as text
 *   5 a CA certificate (DER) with the real CA key: load it as a CA and,
 *     when that works, issue a certificate and make a CRL with it
 *   6 a CA key (PKCS#8 DER) with the real CA certificate, the same
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pki/pki_internal.h"
#include "fuzz_pem.h"
#include "fuzz_util.h"

static char cert_path[256], key_path[256], out_cert[256], out_key[256],
    out_crl[256];

static void
check_info(void)
{
	fedrpc_pki_cert_info info;
	fedrpc_status        st = {0};

	if (fedrpc_pki_info(cert_path, &info, &st) != FEDRPC_OK) {
		FZ_CHECK(info.dns_names == NULL && info.n_dns_names == 0);
		return;
	}
	FZ_CHECK(strlen(info.subject_cn) <= FEDRPC_PKI_CN_MAX);
	FZ_CHECK(strlen(info.issuer_cn) <= FEDRPC_PKI_CN_MAX);
	FZ_CHECK(strlen(info.serial_hex) < FEDRPC_PKI_SERIAL_HEX_MAX);
	for (size_t i = 0; i < info.n_dns_names; i++)
		FZ_CHECK(info.dns_names[i] != NULL);
	fedrpc_pki_info_clear(&info);
}

static void
check_key(void)
{
	pki_key       key;
	fedrpc_status st = {0};
	uint8_t       spki[256];
	size_t        len = sizeof(spki);

	if (pki_key_load(&key, key_path, &st) != FEDRPC_OK)
		return;
	FZ_CHECK(key.ready);
	(void) pki_key_spki(&key, spki, &len);
	pki_key_free(&key);
}

/* A CA that loads is used as one. */
static void
check_ca(const char *ca_cert, const char *ca_key)
{
	pki_ca                ca;
	fedrpc_status         st = {0};
	const char *const     names[] = {"b.example"};
	const char *const     revoked[] = {"01"};
	time_t                now = time(NULL);
	fedrpc_pki_issue_opts o = {
	    .ca_cert     = ca_cert,
	    .ca_key      = ca_key,
	    .cert_out    = out_cert,
	    .key_out     = out_key,
	    .dns_names   = names,
	    .n_dns_names = 1,
	    .key_type    = FEDRPC_PKI_KEY_ED25519,
	    .not_before  = now,
	    .not_after   = now + 86400,
	    .serial      = 7,
	};

	if (pki_ca_load(&ca, ca_cert, ca_key, &st) != FEDRPC_OK)
		return;
	FZ_CHECK(ca.der != NULL && ca.subject.val_len <= ca.der_len);
	pki_ca_free(&ca);
	/* A CA that loads may still be refused for issuing (a CA
	 * certificate without a subject key id, for one), with a reason. */
	if (fedrpc_pki_issue(&o, &st) != FEDRPC_OK)
		FZ_CHECK(st.message[0] != '\0');
	fedrpc_status_reset(&st);
	if (fedrpc_pki_crl_create(ca_cert, ca_key, out_crl, revoked, 1, 1, &st) !=
	    FEDRPC_OK)
		FZ_CHECK(st.message[0] != '\0');
	fedrpc_status_reset(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const fz_pki_files *real = fz_pki_files_get();
	fz_reader           r    = fz_reader_of(data, size);
	uint8_t             mode = fz_u8(&r);
	size_t              n;
	const uint8_t      *p = fz_rest(&r, &n);

	switch (mode % 7) {
	case 0:
		fz_pem_write(cert_path, FZ_PEM_CERT, p, n);
		check_info();
		break;
	case 1:
		fz_write_file(cert_path, p, n, 0600);
		check_info();
		break;
	case 2:
	case 3:
		fz_pem_write(key_path, mode % 7 == 2 ? FZ_PEM_KEY : FZ_PEM_EC_KEY,
		    p, n);
		check_key();
		break;
	case 4:
		fz_write_file(key_path, p, n, 0600);
		check_key();
		break;
	case 5:
		fz_pem_write(cert_path, FZ_PEM_CERT, p, n);
		check_ca(cert_path, real->ca_key);
		break;
	case 6:
		fz_pem_write(key_path, FZ_PEM_KEY, p, n);
		check_ca(real->ca_cert, key_path);
		break;
	}
	return 0;
}

static void
seed_file(const char *name, uint8_t mode, const char *path, bool as_der)
{
	uint8_t *der, *seed;
	size_t   n;

	if (as_der) {
		der = fz_pem_file_der(path, &n);
	} else {
		FILE *f = fopen(path, "rb");

		FZ_CHECK(f != NULL);
		der = malloc(16384);
		FZ_CHECK(der != NULL);
		n = fread(der, 1, 16384, f);
		fclose(f);
	}
	seed = malloc(n + 1);
	FZ_CHECK(seed != NULL);
	seed[0] = mode;
	memcpy(seed + 1, der, n);
	fz_seed(name, seed, n + 1);
	free(seed);
	free(der);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const fz_pki_files *real;

	(void) argc;
	(void) argv;
	fz_quiet_logs();
	fz_path(cert_path, sizeof(cert_path), "in.crt");
	fz_path(key_path, sizeof(key_path), "in.key");
	fz_path(out_cert, sizeof(out_cert), "out.crt");
	fz_path(out_key, sizeof(out_key), "out.key");
	fz_path(out_crl, sizeof(out_crl), "out.crl");
	real = fz_pki_files_get();
	if (fz_seeds_dir() != NULL) {
		seed_file("leaf-der", 0, real->leaf_cert, true);
		seed_file("ca-der", 0, real->ca_cert, true);
		seed_file("leaf-pem", 1, real->leaf_cert, false);
		seed_file("ed-der", 0, real->ed_cert, true);
		seed_file("key-der", 2, real->leaf_key, true);
		seed_file("ed-key-der", 2, real->ed_key, true);
		seed_file("key-pem", 4, real->leaf_key, false);
		seed_file("ca-cert", 5, real->ca_cert, true);
		seed_file("ca-key", 6, real->ca_key, true);
		exit(0);
	}
	return 0;
}
