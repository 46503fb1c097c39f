/*
 * Certificate revocation lists. wolfSSL 5.5.4 reads and checks CRLs but
 * cannot make them, so the TBSCertList is built here as DER and signed with
 * wc_SignCert_ex(), which signs any "to be signed" SEQUENCE the same way it
 * signs a certificate: CertificateList has the certificate's outer shape.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <fedrpc/pki.h>

#include "pki_internal.h"

/* Signature algorithm, outer SEQUENCE and BIT STRING headers. */
#define PKI_CRL_SIG_ROOM 256

/* id-ce-authorityKeyIdentifier and id-ce-cRLNumber (RFC 5280 5.2). */
static const uint8_t oid_akid[]       = {0x06, 0x03, 0x55, 0x1d, 0x23};
static const uint8_t oid_crl_number[] = {0x06, 0x03, 0x55, 0x1d, 0x14};

static unsigned
hex_value(char c)
{
	if (isdigit((unsigned char) c))
		return (unsigned) (c - '0');
	return (unsigned) (tolower((unsigned char) c) - 'a' + 10);
}

/* "0x1A:2b..." to big-endian bytes; false if not hex or too long. */
static bool
serial_parse(const char *hex, uint8_t out[20], size_t *out_len)
{
	char   digits[41];
	size_t n = 0, len;

	if (hex == NULL)
		return false;
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	for (const char *p = hex; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char) *p))
			return false;
		if (n == 0 && *p == '0')
			continue; /* leading zeros say nothing */
		if (n == sizeof(digits) - 1)
			return false;
		digits[n++] = *p;
	}
	if (n == 0)
		digits[n++] = '0';
	digits[n] = '\0';
	/* An odd count means the first byte has one digit. */
	len = (n + 1) / 2;
	for (size_t i = 0, d = 0; i < len; i++) {
		unsigned v = 0;

		for (size_t k = (i == 0 && n % 2) ? 1 : 2; k > 0; k--) {
			v = v * 16 + hex_value(digits[d++]);
		}
		out[i] = (uint8_t) v;
	}
	*out_len = len;
	return true;
}

static void
crl_extensions(pki_der *d, const pki_ca *ca, time_t now)
{
	size_t outer, list, ext, oct, seq;

	outer = pki_der_begin(d, PKI_DER_CTX0);
	list  = pki_der_begin(d, PKI_DER_SEQUENCE);
	if (ca->skid_len > 0) {
		/* AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier } */
		ext = pki_der_begin(d, PKI_DER_SEQUENCE);
		pki_der_raw(d, oid_akid, sizeof(oid_akid));
		oct = pki_der_begin(d, PKI_DER_OCTET);
		seq = pki_der_begin(d, PKI_DER_SEQUENCE);
		pki_der_tlv(d, PKI_DER_CTX0_PRIM, ca->skid, ca->skid_len);
		pki_der_end(d, seq);
		pki_der_end(d, oct);
		pki_der_end(d, ext);
	}
	/* The time as CRL number: it only has to grow from one CRL of this
	 * CA to the next. */
	ext = pki_der_begin(d, PKI_DER_SEQUENCE);
	pki_der_raw(d, oid_crl_number, sizeof(oid_crl_number));
	oct = pki_der_begin(d, PKI_DER_OCTET);
	pki_der_uint(d, (uint64_t) now);
	pki_der_end(d, oct);
	pki_der_end(d, ext);
	pki_der_end(d, list);
	pki_der_end(d, outer);
}

fedrpc_code
fedrpc_pki_crl_create(const char *ca_cert, const char *ca_key,
    const char *crl_out, const char *const *revoked_serials, size_t n_revoked,
    int next_update_days, fedrpc_status *st)
{
	WC_RNG      rng;
	pki_ca      ca;
	pki_der     d;
	time_t      now = time(NULL);
	size_t      tbs, list;
	int         n, ret;
	fedrpc_code rc;

	if (crl_out == NULL || *crl_out == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "the CRL path is required");
	if (n_revoked > 0 && revoked_serials == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "n_revoked is %zu but revoked_serials is NULL", n_revoked);
	if (next_update_days <= 0 || next_update_days > 3650)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "next update must be 1 to 3650 days away, not %d",
		    next_update_days);
	if ((rc = pki_ca_load(&ca, ca_cert, ca_key, st)) != FEDRPC_OK)
		return rc;

	pki_der_init(&d);
	tbs = pki_der_begin(&d, PKI_DER_SEQUENCE);
	pki_der_uint(&d, 1); /* v2: needed for extensions */
	pki_key_sig_alg(&ca.key, &d);
	pki_der_raw(&d, ca.subject.tlv, ca.subject.tlv_len);
	pki_der_time(&d, now - PKI_BACKDATE);
	pki_der_time(&d, now + (time_t) next_update_days * 86400);
	/* An empty list is left out rather than written empty (RFC 5280
	 * 5.1.2.6). */
	if (n_revoked > 0) {
		list = pki_der_begin(&d, PKI_DER_SEQUENCE);
		for (size_t i = 0; i < n_revoked; i++) {
			uint8_t serial[20];
			size_t  serial_len, entry;

			if (!serial_parse(revoked_serials[i], serial,
			        &serial_len)) {
				rc = fedrpc_status_set(st,
				    FEDRPC_INVALID_ARGUMENT,
				    "not a hex serial of at most 20 bytes: "
				    "\"%s\"",
				    revoked_serials[i] ? revoked_serials[i]
				                       : "(null)");
				goto out;
			}
			entry = pki_der_begin(&d, PKI_DER_SEQUENCE);
			pki_der_uint_bytes(&d, serial, serial_len);
			/* When it was revoked is not known here; the list's
			 * own start is the latest it can claim. */
			pki_der_time(&d, now - PKI_BACKDATE);
			pki_der_end(&d, entry);
		}
		pki_der_end(&d, list);
	}
	crl_extensions(&d, &ca, now);
	pki_der_end(&d, tbs);
	/* wc_SignCert_ex() appends the signature in place. */
	if (!d.failed) {
		uint8_t *grown = realloc(d.buf, d.len + PKI_CRL_SIG_ROOM);

		if (grown == NULL)
			d.failed = true;
		else
			d.buf = grown;
	}
	if (d.failed) {
		rc = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory making a CRL");
		goto out;
	}
	if ((ret = wc_InitRng(&rng)) != 0) {
		rc = pki_wc_error(st, "random generator failed", ret);
		goto out;
	}
	n = wc_SignCert_ex((int) d.len, pki_key_sig_type(&ca.key), d.buf,
	    (word32) (d.len + PKI_CRL_SIG_ROOM), pki_key_wc_type(&ca.key),
	    &ca.key.k, &rng);
	wc_FreeRng(&rng);
	if (n < 0)
		rc = pki_wc_error(st, "signing the CRL failed", n);
	else
		rc = pki_pem_write(crl_out, d.buf, (size_t) n, CRL_TYPE, 0644,
		    st);
out:
	pki_der_free(&d);
	pki_ca_free(&ca);
	return rc;
}
