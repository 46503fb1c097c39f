/*
 * What fedrpc asks of a peer's leaf certificate beyond a trusted chain,
 * valid dates and an unrevoked serial (which wolfSSL checks itself). The
 * engine runs this inside the handshake, from wolfSSL's verify callback
 * (tls_conn.c), so that a refusal ends the handshake with an alert and a
 * reason on both sides, on servers and on clients alike.
 *
 * - Its names come from subjectAltName dNSNames only. A certificate with
 *   none is refused whatever its subject CN says: RFC 9525 dropped the CN
 *   fallback, and wolfSSL's own host name check still falls back to the
 *   CN, so a CA-signed "CN=fed.b.example" would otherwise speak for
 *   b.example.
 *
 * The certificate is read from its DER with wolfCrypt's parser, as
 * tls_peer.c does: this build's X509 layer cannot read Ed25519
 * certificates.
 */
#include <stdio.h>

#include "tls_internal.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

/* True when the parsed certificate has a dNSName in subjectAltName. */
static bool
leaf_has_dns_name(const DecodedCert *dc)
{
	for (const DNS_entry *e = dc->altNames; e != NULL; e = e->next)
		if (e->type == ASN_DNS_TYPE && e->name != NULL && e->len > 0)
			return true;
	return false;
}

bool
tls_leaf_check(const unsigned char *der, size_t len, char *why, size_t n)
{
	DecodedCert dc;
	bool        ok = false;

	if (der == NULL || len == 0 || len > UINT32_MAX) {
		snprintf(why, n, "no peer certificate to check");
		return false;
	}
	wc_InitDecodedCert(&dc, der, (word32) len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0)
		snprintf(why, n, "peer certificate does not parse");
	else if (!leaf_has_dns_name(&dc))
		snprintf(why, n,
		    "certificate has no DNS name in subjectAltName (its "
		    "subject CN is not a name)");
	else
		ok = true;
	wc_FreeDecodedCert(&dc);
	return ok;
}
