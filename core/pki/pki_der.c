/*
 * A small DER writer and reader: enough to build a CRL and subjectAltName
 * values, and to find the exact subject bytes of a CA certificate (CRL
 * issuer matching compares those bytes, so they must not be re-encoded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki_internal.h"

void
pki_der_init(pki_der *d)
{
	memset(d, 0, sizeof(*d));
}

void
pki_der_free(pki_der *d)
{
	free(d->buf);
	pki_der_init(d);
}

static bool
der_reserve(pki_der *d, size_t more)
{
	size_t   cap;
	uint8_t *buf;

	if (d->failed)
		return false;
	if (d->len + more <= d->cap)
		return true;
	cap = d->cap ? d->cap : 256;
	while (cap < d->len + more)
		cap *= 2;
	if ((buf = realloc(d->buf, cap)) == NULL) {
		d->failed = true;
		return false;
	}
	d->buf = buf;
	d->cap = cap;
	return true;
}

void
pki_der_raw(pki_der *d, const void *p, size_t n)
{
	if (n == 0 || !der_reserve(d, n))
		return;
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

/* Encodes a definite length; returns its size (at most 5 bytes here). */
static size_t
der_len_bytes(size_t n, uint8_t out[5])
{
	size_t k = 0;

	if (n < 0x80) {
		out[0] = (uint8_t) n;
		return 1;
	}
	for (size_t v = n; v > 0; v >>= 8)
		k++;
	out[0] = (uint8_t) (0x80 | k);
	for (size_t i = 0; i < k; i++)
		out[k - i] = (uint8_t) (n >> (8 * i));
	return k + 1;
}

void
pki_der_tlv(pki_der *d, uint8_t tag, const void *p, size_t n)
{
	uint8_t hdr[6];
	size_t  h;

	hdr[0] = tag;
	h      = 1 + der_len_bytes(n, hdr + 1);
	pki_der_raw(d, hdr, h);
	pki_der_raw(d, p, n);
}

/*
 * The mark is where the tag went; one length byte is reserved and the
 * content is shifted in pki_der_end() when the length needs more.
 */
size_t
pki_der_begin(pki_der *d, uint8_t tag)
{
	uint8_t hdr[2] = {tag, 0};
	size_t  mark   = d->len;

	pki_der_raw(d, hdr, sizeof(hdr));
	return mark;
}

void
pki_der_end(pki_der *d, size_t mark)
{
	uint8_t lb[5];
	size_t  content, n;

	if (d->failed)
		return;
	content = d->len - mark - 2;
	n       = der_len_bytes(content, lb);
	if (n > 1) {
		if (!der_reserve(d, n - 1))
			return;
		memmove(d->buf + mark + 1 + n, d->buf + mark + 2, content);
		d->len += n - 1;
	}
	memcpy(d->buf + mark + 1, lb, n);
}

void
pki_der_uint_bytes(pki_der *d, const uint8_t *mag, size_t n)
{
	size_t mark;

	/* Minimal encoding: no leading zero bytes except one that keeps a
	 * high bit from reading as a sign. */
	while (n > 1 && mag[0] == 0) {
		mag++;
		n--;
	}
	mark = pki_der_begin(d, PKI_DER_INTEGER);
	if (n == 0 || (mag[0] & 0x80))
		pki_der_raw(d, "\0", 1);
	pki_der_raw(d, mag, n);
	pki_der_end(d, mark);
}

void
pki_der_uint(pki_der *d, uint64_t v)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t) (v >> (8 * (7 - i)));
	pki_der_uint_bytes(d, be, sizeof(be));
}

void
pki_der_time(pki_der *d, time_t t)
{
	struct tm tm;
	char      s[80]; /* roomy enough for any int fields */
	int       year;
	bool      utc;

	gmtime_r(&t, &tm);
	year = tm.tm_year + 1900;
	utc  = year >= 1950 && year < 2050;
	/* UTCTime has two year digits, GeneralizedTime four. */
	snprintf(s, sizeof(s), utc ? "%02d" : "%04d", utc ? year % 100 : year);
	snprintf(s + strlen(s), sizeof(s) - strlen(s), "%02d%02d%02d%02d%02dZ",
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	pki_der_tlv(d, utc ? PKI_DER_UTC_TIME : PKI_DER_GEN_TIME, s, strlen(s));
}

bool
pki_der_next(const uint8_t **p, size_t *left, pki_der_elem *out)
{
	const uint8_t *s = *p;
	size_t         n = *left, hdr = 2, len;

	if (n < 2 || (s[0] & 0x1f) == 0x1f) /* no multi-byte tags here */
		return false;
	len = s[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;

		if (k == 0 || k > 4 || n < 2 + k)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = (len << 8) | s[2 + i];
		hdr += k;
	}
	if (len > n - hdr)
		return false;
	out->tlv     = s;
	out->tlv_len = hdr + len;
	out->tag     = s[0];
	out->val     = s + hdr;
	out->val_len = len;
	*p += out->tlv_len;
	*left -= out->tlv_len;
	return true;
}

/*
 * Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version OPTIONAL, serial,
 * signature, issuer, validity, subject, subjectPublicKeyInfo, ... } ... }
 */
bool
pki_cert_parts(const uint8_t *der, size_t len, pki_der_elem *subject,
    pki_der_elem *spki)
{
	pki_der_elem   cert, tbs, e;
	const uint8_t *p = der;
	size_t         left = len;

	if (!pki_der_next(&p, &left, &cert) || cert.tag != PKI_DER_SEQUENCE)
		return false;
	p    = cert.val;
	left = cert.val_len;
	if (!pki_der_next(&p, &left, &tbs) || tbs.tag != PKI_DER_SEQUENCE)
		return false;
	p    = tbs.val;
	left = tbs.val_len;
	if (!pki_der_next(&p, &left, &e))
		return false;
	if (e.tag == PKI_DER_CTX0 && !pki_der_next(&p, &left, &e))
		return false; /* skipped the version; e is the serial now */
	if (e.tag != PKI_DER_INTEGER)
		return false;
	for (int i = 0; i < 3; i++) /* signature, issuer, validity */
		if (!pki_der_next(&p, &left, &e) || e.tag != PKI_DER_SEQUENCE)
			return false;
	if (!pki_der_next(&p, &left, subject) ||
	    subject->tag != PKI_DER_SEQUENCE)
		return false;
	return pki_der_next(&p, &left, spki) && spki->tag == PKI_DER_SEQUENCE;
}
