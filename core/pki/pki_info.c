/*
 * Reading a certificate back: names, validity, serial, key type and usage,
 * with wolfCrypt's own certificate parser. (wolfSSL 5.5.4's
 * OpenSSL-compatible X509 layer refuses every Ed25519 certificate.)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki_internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

/* The AlgorithmIdentifiers a SubjectPublicKeyInfo starts with. */
static const uint8_t spki_alg_p256[] = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07};
static const uint8_t spki_alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b,
    0x65, 0x70};

fedrpc_code
pki_cert_decode(const uint8_t *der, size_t len, const char *path,
    DecodedCert **out, fedrpc_status *st)
{
	DecodedCert *dc;
	int          ret;

	if ((dc = malloc(sizeof(*dc))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
	wc_InitDecodedCert(dc, der, (word32) len, NULL);
	if ((ret = wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL)) != 0) {
		wc_FreeDecodedCert(dc);
		free(dc);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: malformed certificate: %s (%d)", path,
		    wc_GetErrorString(ret), ret);
	}
	*out = dc;
	return FEDRPC_OK;
}

void
pki_cert_decoded_free(DecodedCert *dc)
{
	if (dc != NULL) {
		wc_FreeDecodedCert(dc);
		free(dc);
	}
}

/* A certificate's raw UTCTime/GeneralizedTime element as time_t. */
static time_t
cert_time(const byte *raw, int raw_len)
{
	const byte *date;
	byte        format;
	int         len;
	struct tm   tm;

	memset(&tm, 0, sizeof(tm));
	if (raw == NULL || wc_GetDateInfo(raw, raw_len, &date, &format, &len) !=
	        0 ||
	    wc_GetDateAsCalendarTime(date, len, format, &tm) != 0)
		return (time_t) -1;
	return timegm(&tm);
}

static void
copy_cn(char *dst, size_t cap, const char *src, int len)
{
	size_t n = len > 0 ? (size_t) len : 0;

	if (src == NULL)
		n = 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static fedrpc_code
info_dns_names(const DecodedCert *dc, fedrpc_pki_cert_info *out,
    fedrpc_status *st)
{
	size_t n = 0;

	for (const DNS_entry *e = dc->altNames; e != NULL; e = e->next)
		n++;
	if (n == 0)
		return FEDRPC_OK;
	if ((out->dns_names = calloc(n, sizeof(char *))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
	for (const DNS_entry *e = dc->altNames; e != NULL; e = e->next) {
		char *name;

		if (e->type != ASN_DNS_TYPE || e->name == NULL || e->len < 0)
			continue;
		if ((name = strndup(e->name, (size_t) e->len)) == NULL)
			return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "out of memory");
		out->dns_names[out->n_dns_names++] = name;
	}
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_pki_info(const char *cert_path, fedrpc_pki_cert_info *out,
    fedrpc_status *st)
{
	DecodedCert  *dc = NULL;
	pki_der_elem  subject, spki, alg = {0};
	const uint8_t *p;
	size_t        left, der_len;
	uint8_t      *der;
	int           i;
	fedrpc_code   rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pki_pem_read_cert(cert_path, &der, &der_len, st)) !=
	    FEDRPC_OK)
		return rc;
	if ((rc = pki_cert_decode(der, der_len, cert_path, &dc, st)) != FEDRPC_OK)
		goto out;
	if (!pki_cert_parts(der, der_len, &subject, &spki)) {
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: malformed certificate", cert_path);
		goto out;
	}
	/* By the SubjectPublicKeyInfo's algorithm, which for EC keys also
	 * names the curve. */
	p    = spki.val;
	left = spki.val_len;
	if (pki_der_next(&p, &left, &alg) &&
	    alg.tlv_len == sizeof(spki_alg_p256) &&
	    memcmp(alg.tlv, spki_alg_p256, alg.tlv_len) == 0)
		out->key_type = FEDRPC_PKI_KEY_P256;
	else if (alg.tlv_len == sizeof(spki_alg_ed25519) &&
	    memcmp(alg.tlv, spki_alg_ed25519, alg.tlv_len) == 0)
		out->key_type = FEDRPC_PKI_KEY_ED25519;
	else {
		rc = fedrpc_status_set(st, FEDRPC_UNIMPLEMENTED,
		    "%s: key is neither P-256 nor Ed25519", cert_path);
		goto out;
	}
	copy_cn(out->subject_cn, sizeof(out->subject_cn), dc->subjectCN,
	    dc->subjectCNLen);
	copy_cn(out->issuer_cn, sizeof(out->issuer_cn), dc->issuerCN,
	    dc->issuerCNLen);
	out->not_before = cert_time(dc->beforeDate, dc->beforeDateLen);
	out->not_after  = cert_time(dc->afterDate, dc->afterDateLen);
	if (dc->serialSz <= 0 || dc->serialSz > 21) {
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: bad serial number", cert_path);
		goto out;
	}
	for (i = 0; i < dc->serialSz - 1 && dc->serial[i] == 0; i++)
		;
	for (int j = 0; i < dc->serialSz &&
	     j + 2 < (int) sizeof(out->serial_hex);
	     i++, j += 2)
		snprintf(out->serial_hex + j, 3, "%02X", dc->serial[i]);
	out->is_ca = dc->isCA != 0;
	if (dc->extExtKeyUsage & EXTKEYUSE_SERVER_AUTH)
		out->usage |= FEDRPC_PKI_USAGE_SERVER;
	if (dc->extExtKeyUsage & EXTKEYUSE_CLIENT_AUTH)
		out->usage |= FEDRPC_PKI_USAGE_CLIENT;
	rc = info_dns_names(dc, out, st);
out:
	pki_cert_decoded_free(dc);
	free(der);
	if (rc != FEDRPC_OK)
		fedrpc_pki_info_clear(out);
	return rc;
}

void
fedrpc_pki_info_clear(fedrpc_pki_cert_info *info)
{
	if (info == NULL)
		return;
	for (size_t i = 0; i < info->n_dns_names; i++)
		free(info->dns_names[i]);
	free(info->dns_names);
	memset(info, 0, sizeof(*info));
}
