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
 * - When it has a keyUsage extension, digitalSignature is in it (RFC 5280
 *   4.2.1.3): a TLS 1.3 peer proves its key by signing the handshake
 *   (RFC 8446 4.4.3), and wolfSSL 5.5.4 accepts a TLS 1.3 peer whose
 *   leaf allows keyCertSign alone. A certificate without keyUsage may be
 *   used for anything.
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

/* The keyUsage bits of a parsed certificate, as names: "keyCertSign,
 * cRLSign", or "none". */
static void
leaf_usage_names(const DecodedCert *dc, char *buf, size_t len)
{
	static const struct {
		word16      bit;
		const char *name;
	} names[] = {
		{KEYUSE_DIGITAL_SIG, "digitalSignature"},
		{KEYUSE_CONTENT_COMMIT, "contentCommitment"},
		{KEYUSE_KEY_ENCIPHER, "keyEncipherment"},
		{KEYUSE_DATA_ENCIPHER, "dataEncipherment"},
		{KEYUSE_KEY_AGREE, "keyAgreement"},
		{KEYUSE_KEY_CERT_SIGN, "keyCertSign"},
		{KEYUSE_CRL_SIGN, "cRLSign"},
		{KEYUSE_ENCIPHER_ONLY, "encipherOnly"},
		{KEYUSE_DECIPHER_ONLY, "decipherOnly"},
	};
	size_t off = 0;

	snprintf(buf, len, "none");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((dc->extKeyUsage & names[i].bit) && off < len)
			off += (size_t) snprintf(buf + off, len - off, "%s%s",
			    off > 0 ? "," : "", names[i].name);
}

bool
tls_leaf_check(const unsigned char *der, size_t len, char *why, size_t n)
{
	DecodedCert dc;
	char        usage[128];
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
	else if (dc.extKeyUsageSet &&
	    (dc.extKeyUsage & KEYUSE_DIGITAL_SIG) == 0) {
		leaf_usage_names(&dc, usage, sizeof(usage));
		snprintf(why, n,
		    "certificate key usage lacks digitalSignature (it has %s), "
		    "which a TLS peer needs to sign the handshake",
		    usage);
	} else
		ok = true;
	wc_FreeDecodedCert(&dc);
	return ok;
}
