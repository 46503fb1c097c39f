/*
 * Certificates for federation mutual TLS, made with wolfSSL's certificate
 * API: a self-signed CA and the leaf certificates it issues. Reading a
 * certificate back is in pki_info.c, revocation lists in pki_crl.c.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <fedrpc/pki.h>

#include "pki_internal.h"

/* Room for a signed certificate: the SAN list may be up to
 * CTC_MAX_ALT_SIZE, everything else is small. */
#define PKI_CERT_DER_MAX (CTC_MAX_ALT_SIZE + 4096)
#define PKI_SERIAL_RANDOM 16

/* A DNS name as a SAN: LDH labels, an optional leading "*." wildcard. */
static bool
dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253)
		return false;
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char) *p) && !(*p == '-' && label > 0))
			return false;
		label++;
	}
}

static fedrpc_code
set_common_name(Cert *cert, const char *cn, fedrpc_status *st)
{
	size_t len = cn ? strlen(cn) : 0;

	if (len == 0 || len >= sizeof(cert->subject.commonName) ||
	    len > FEDRPC_PKI_CN_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "common name must have 1 to %d characters",
		    (int) sizeof(cert->subject.commonName) - 1);
	memcpy(cert->subject.commonName, cn, len + 1);
	return FEDRPC_OK;
}

/* Validity as raw DER times, so that any instant (past or future) can be
 * given rather than wolfSSL's "now + daysValid". */
static fedrpc_code
set_validity(Cert *cert, time_t not_before, time_t not_after,
    fedrpc_status *st)
{
	pki_der a, b;

	if (not_after <= not_before)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "not_after must be later than not_before");
	pki_der_init(&a);
	pki_der_init(&b);
	pki_der_time(&a, not_before);
	pki_der_time(&b, not_after);
	if (a.failed || b.failed || a.len > sizeof(cert->beforeDate) ||
	    b.len > sizeof(cert->afterDate)) {
		pki_der_free(&a);
		pki_der_free(&b);
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "cannot encode the validity");
	}
	memcpy(cert->beforeDate, a.buf, a.len);
	cert->beforeDateSz = (int) a.len;
	memcpy(cert->afterDate, b.buf, b.len);
	cert->afterDateSz = (int) b.len;
	pki_der_free(&a);
	pki_der_free(&b);
	return FEDRPC_OK;
}

static fedrpc_code
set_serial(Cert *cert, uint64_t serial, WC_RNG *rng, fedrpc_status *st)
{
	int ret;

	if (serial != 0) {
		int n = 0;

		for (int shift = 56; shift >= 0; shift -= 8)
			if (n > 0 || (uint8_t) (serial >> shift) != 0)
				cert->serial[n++] = (uint8_t) (serial >> shift);
		/* A set high bit would read as negative: prefix a zero. */
		if (cert->serial[0] & 0x80) {
			memmove(cert->serial + 1, cert->serial, (size_t) n);
			cert->serial[0] = 0;
			n++;
		}
		cert->serialSz = n;
		return FEDRPC_OK;
	}
	ret = wc_RNG_GenerateBlock(rng, cert->serial, PKI_SERIAL_RANDOM);
	if (ret != 0)
		return pki_wc_error(st, "random serial failed", ret);
	/* Positive and exactly PKI_SERIAL_RANDOM bytes long. */
	cert->serial[0] &= 0x7f;
	if (cert->serial[0] == 0)
		cert->serial[0] = 1;
	cert->serialSz = PKI_SERIAL_RANDOM;
	return FEDRPC_OK;
}

/* subjectAltName: GeneralNames ::= SEQUENCE OF [2] IA5String dNSName.
 * wolfSSL has no setter taking strings, only this DER. */
static fedrpc_code
set_dns_names(Cert *cert, const char *const *names, size_t n,
    fedrpc_status *st)
{
	pki_der d;
	size_t  mark;

	if (n == 0)
		return FEDRPC_OK;
	pki_der_init(&d);
	mark = pki_der_begin(&d, PKI_DER_SEQUENCE);
	for (size_t i = 0; i < n; i++) {
		if (names[i] == NULL || !dns_name_ok(names[i])) {
			pki_der_free(&d);
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "not a DNS name: \"%s\"",
			    names[i] ? names[i] : "(null)");
		}
		pki_der_tlv(&d, PKI_DER_DNS_NAME, names[i], strlen(names[i]));
	}
	pki_der_end(&d, mark);
	if (d.failed || d.len > sizeof(cert->altNames)) {
		pki_der_free(&d);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the DNS names take more than %d bytes",
		    (int) sizeof(cert->altNames));
	}
	memcpy(cert->altNames, d.buf, d.len);
	cert->altNamesSz = (int) d.len;
	pki_der_free(&d);
	return FEDRPC_OK;
}

/* Encodes the certificate for subject_key's public key and signs it with
 * signer; the DER is the caller's. */
static fedrpc_code
cert_sign(Cert *cert, pki_key *subject_key, pki_key *signer, WC_RNG *rng,
    uint8_t **out, size_t *out_len, fedrpc_status *st)
{
	uint8_t *der;
	int      n;

	if ((der = malloc(PKI_CERT_DER_MAX)) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a certificate");
	cert->sigType = pki_key_sig_type(signer);
	n = wc_MakeCert_ex(cert, der, PKI_CERT_DER_MAX,
	    pki_key_wc_type(subject_key), &subject_key->k, rng);
	if (n < 0) {
		free(der);
		return pki_wc_error(st, "encoding the certificate failed", n);
	}
	n = wc_SignCert_ex(cert->bodySz, cert->sigType, der, PKI_CERT_DER_MAX,
	    pki_key_wc_type(signer), &signer->k, rng);
	if (n < 0) {
		free(der);
		return pki_wc_error(st, "signing the certificate failed", n);
	}
	*out     = der;
	*out_len = (size_t) n;
	return FEDRPC_OK;
}

/* Writes the key first: a certificate without its key is useless, and a
 * failed run leaves at worst an orphan key file. */
static fedrpc_code
write_pair(const char *cert_path, const uint8_t *der, size_t len,
    const char *key_path, pki_key *key, fedrpc_status *st)
{
	fedrpc_code rc;

	if ((rc = pki_key_save(key, key_path, st)) != FEDRPC_OK)
		return rc;
	return pki_pem_write(cert_path, der, len, CERT_TYPE, 0644, st);
}

/* The keyUsage names wc_SetKeyUsage() takes, from fedrpc_pki_key_usage
 * bits (0: digitalSignature). */
static fedrpc_code
key_usage_names(unsigned bits, char *buf, size_t len, fedrpc_status *st)
{
	static const struct {
		unsigned    bit;
		const char *name;
	} names[] = {
		{FEDRPC_PKI_KU_DIGITAL_SIGNATURE, "digitalSignature"},
		{FEDRPC_PKI_KU_KEY_ENCIPHERMENT, "keyEncipherment"},
		{FEDRPC_PKI_KU_KEY_AGREEMENT, "keyAgreement"},
		{FEDRPC_PKI_KU_KEY_CERT_SIGN, "keyCertSign"},
		{FEDRPC_PKI_KU_CRL_SIGN, "cRLSign"},
	};
	size_t   off = 0;
	unsigned known = 0;

	if (bits == 0)
		bits = FEDRPC_PKI_KU_DIGITAL_SIGNATURE;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		known |= names[i].bit;
		if ((bits & names[i].bit) && off < len)
			off += (size_t) snprintf(buf + off, len - off, "%s%s",
			    off > 0 ? "," : "", names[i].name);
	}
	if (bits & ~known)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "unknown key usage bits 0x%x", bits & ~known);
	return FEDRPC_OK;
}

static fedrpc_code
check_paths(const char *cert_path, const char *key_path, fedrpc_status *st)
{
	if (cert_path == NULL || key_path == NULL || *cert_path == '\0' ||
	    *key_path == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "certificate and key paths are required");
	if (strcmp(cert_path, key_path) == 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "certificate and key need different files");
	return FEDRPC_OK;
}

static fedrpc_code
key_type_ok(fedrpc_pki_key_type type, fedrpc_status *st)
{
	if (type != FEDRPC_PKI_KEY_P256 && type != FEDRPC_PKI_KEY_ED25519)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "unknown key type %d", (int) type);
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_pki_ca_create(const char *cert_path, const char *key_path,
    const char *common_name, fedrpc_pki_key_type key_type, int days,
    fedrpc_status *st)
{
	WC_RNG      rng;
	pki_key     key = {0};
	Cert       *cert = NULL;
	uint8_t    *der  = NULL;
	size_t      der_len;
	time_t      now = time(NULL);
	int         ret;
	fedrpc_code rc;

	if ((rc = check_paths(cert_path, key_path, st)) != FEDRPC_OK ||
	    (rc = key_type_ok(key_type, st)) != FEDRPC_OK)
		return rc;
	if (days <= 0 || days > 36500)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "validity must be 1 to 36500 days, not %d", days);
	if ((ret = wc_InitRng(&rng)) != 0)
		return pki_wc_error(st, "random generator failed", ret);
	if ((cert = wc_CertNew(NULL)) == NULL) {
		rc = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a certificate");
		goto out;
	}
	if ((rc = set_common_name(cert, common_name, st)) != FEDRPC_OK ||
	    (rc = set_validity(cert, now - PKI_BACKDATE,
	         now + (time_t) days * 86400, st)) != FEDRPC_OK ||
	    (rc = set_serial(cert, 0, &rng, st)) != FEDRPC_OK ||
	    (rc = pki_key_generate(&key, key_type, &rng, st)) != FEDRPC_OK)
		goto out;
	cert->selfSigned = 1;
	cert->isCA       = 1;
	if ((ret = wc_SetKeyUsage(cert, "keyCertSign,cRLSign")) != 0 ||
	    (ret = wc_SetSubjectKeyIdFromPublicKey_ex(cert,
	         pki_key_wc_type(&key), &key.k)) != 0 ||
	    (ret = wc_SetAuthKeyIdFromPublicKey_ex(cert, pki_key_wc_type(&key),
	         &key.k)) != 0) {
		rc = pki_wc_error(st, "setting CA extensions failed", ret);
		goto out;
	}
	if ((rc = cert_sign(cert, &key, &key, &rng, &der, &der_len, st)) !=
	    FEDRPC_OK)
		goto out;
	rc = write_pair(cert_path, der, der_len, key_path, &key, st);
out:
	free(der);
	if (cert != NULL)
		wc_CertFree(cert);
	pki_key_free(&key);
	wc_FreeRng(&rng);
	return rc;
}

void
pki_ca_free(pki_ca *ca)
{
	free(ca->der);
	pki_key_free(&ca->key);
	memset(ca, 0, sizeof(*ca));
}

fedrpc_code
pki_ca_load(pki_ca *ca, const char *cert_path, const char *key_path,
    fedrpc_status *st)
{
	DecodedCert *dc = NULL;
	pki_der_elem spki;
	uint8_t      pub[256];
	size_t       pub_len = sizeof(pub);
	fedrpc_code  rc;

	memset(ca, 0, sizeof(*ca));
	if (cert_path == NULL || key_path == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the CA certificate and key paths are required");
	if ((rc = pki_pem_read_cert(cert_path, &ca->der, &ca->der_len, st)) !=
	    FEDRPC_OK)
		return rc;
	if ((rc = pki_cert_decode(ca->der, ca->der_len, cert_path, &dc, st)) !=
	    FEDRPC_OK)
		goto fail;
	if (!pki_cert_parts(ca->der, ca->der_len, &ca->subject, &spki)) {
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: malformed certificate", cert_path);
		goto fail;
	}
	if (!dc->isCA) {
		rc = fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s is not a CA certificate (no CA:TRUE)", cert_path);
		goto fail;
	}
	if (dc->extSubjKeyIdSet) {
		memcpy(ca->skid, dc->extSubjKeyId, sizeof(dc->extSubjKeyId));
		ca->skid_len = sizeof(dc->extSubjKeyId);
	}
	if ((rc = pki_key_load(&ca->key, key_path, st)) != FEDRPC_OK)
		goto fail;
	if (!pki_key_spki(&ca->key, pub, &pub_len) ||
	    pub_len != spki.tlv_len || memcmp(pub, spki.tlv, pub_len) != 0) {
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s is not the key of %s", key_path, cert_path);
		goto fail;
	}
	pki_cert_decoded_free(dc);
	return FEDRPC_OK;
fail:
	pki_cert_decoded_free(dc);
	pki_ca_free(ca);
	return rc;
}

fedrpc_code
fedrpc_pki_issue(const fedrpc_pki_issue_opts *o, fedrpc_status *st)
{
	WC_RNG      rng;
	pki_ca      ca   = {0};
	pki_key     key  = {0};
	Cert       *cert = NULL;
	uint8_t    *der  = NULL;
	size_t      der_len;
	const char *cn;
	char        eku[32] = "";
	char        ku[96];
	unsigned    usage;
	int         ret;
	fedrpc_code rc;

	if (o == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "no options");
	if ((rc = check_paths(o->cert_out, o->key_out, st)) != FEDRPC_OK ||
	    (rc = key_type_ok(o->key_type, st)) != FEDRPC_OK)
		return rc;
	if (o->n_dns_names > 0 && o->dns_names == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "n_dns_names is %zu but dns_names is NULL",
		    o->n_dns_names);
	cn    = o->common_name ? o->common_name
	                       : (o->n_dns_names > 0 ? o->dns_names[0] : NULL);
	usage = o->usage ? (unsigned) o->usage : FEDRPC_PKI_USAGE_BOTH;
	if (usage & ~(unsigned) FEDRPC_PKI_USAGE_BOTH)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "unknown usage bits 0x%x", usage);
	snprintf(eku, sizeof(eku), "%s%s%s",
	    usage & FEDRPC_PKI_USAGE_SERVER ? "serverAuth" : "",
	    usage == FEDRPC_PKI_USAGE_BOTH ? "," : "",
	    usage & FEDRPC_PKI_USAGE_CLIENT ? "clientAuth" : "");
	if ((rc = key_usage_names(o->key_usage, ku, sizeof(ku), st)) !=
	    FEDRPC_OK)
		return rc;

	if ((ret = wc_InitRng(&rng)) != 0)
		return pki_wc_error(st, "random generator failed", ret);
	if ((cert = wc_CertNew(NULL)) == NULL) {
		rc = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a certificate");
		goto out;
	}
	if ((rc = set_common_name(cert, cn, st)) != FEDRPC_OK ||
	    (rc = set_dns_names(cert, o->dns_names, o->n_dns_names, st)) !=
	        FEDRPC_OK ||
	    (rc = set_validity(cert, o->not_before, o->not_after, st)) !=
	        FEDRPC_OK ||
	    (rc = pki_ca_load(&ca, o->ca_cert, o->ca_key, st)) != FEDRPC_OK ||
	    (rc = set_serial(cert, o->serial, &rng, st)) != FEDRPC_OK ||
	    (rc = pki_key_generate(&key, o->key_type, &rng, st)) != FEDRPC_OK)
		goto out;
	cert->isCA = 0;
	/* Writes basicConstraints CA:FALSE rather than leaving it out. */
	cert->basicConstSet = 1;
	/* The issuer is the CA's subject byte for byte (not re-encoded from
	 * parsed strings): name matching in chain building and in CRL
	 * lookups compares those bytes or their hash. */
	if ((ret = wc_SetIssuerRaw(cert, ca.der, (int) ca.der_len)) != 0 ||
	    (ret = wc_SetAuthKeyIdFromCert(cert, ca.der, (int) ca.der_len)) !=
	        0 ||
	    (ret = wc_SetSubjectKeyIdFromPublicKey_ex(cert,
	         pki_key_wc_type(&key), &key.k)) != 0 ||
	    (ret = wc_SetKeyUsage(cert, ku)) != 0 ||
	    (ret = wc_SetExtKeyUsage(cert, eku)) != 0) {
		rc = pki_wc_error(st, "setting certificate extensions failed",
		    ret);
		goto out;
	}
	if ((rc = cert_sign(cert, &key, &ca.key, &rng, &der, &der_len, st)) !=
	    FEDRPC_OK)
		goto out;
	rc = write_pair(o->cert_out, der, der_len, o->key_out, &key, st);
out:
	free(der);
	if (cert != NULL)
		wc_CertFree(cert);
	pki_key_free(&key);
	pki_ca_free(&ca);
	wc_FreeRng(&rng);
	return rc;
}
