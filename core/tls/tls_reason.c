/*
 * Why a handshake failed, in the words an operator needs: wolfSSL's error
 * codes and the TLS alerts a peer sends, sorted into a few classes
 * ("certificate expired", "name mismatch: ...", "no common TLS version").
 */
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "tls_internal.h"

/* What a fatal alert from the peer means for us; NULL if nothing special. */
static const char *
reason_alert(int alert)
{
	switch (alert) {
	case bad_certificate:
		return "certificate not accepted";
	case certificate_revoked:
		return "certificate revoked";
	case certificate_expired:
		/* TLS uses this alert for "not yet valid" too. */
		return "certificate expired or not yet valid";
	case unknown_ca:
		return "certificate not trusted (unknown CA)";
	case certificate_required:
		return "no certificate sent, peer requires one";
	case handshake_failure:
		return "handshake failure";
	case decrypt_error:
		return "signature or key exchange not accepted";
	default:
		return NULL;
	}
}

/* The peer ended the handshake with a fatal alert. */
static fedrpc_code
reason_peer_alert(WOLFSSL *ssl, char *buf, size_t len)
{
	WOLFSSL_ALERT_HISTORY h;
	const char           *what;
	int                   alert = -1;

	memset(&h, 0, sizeof(h));
	if (wolfSSL_get_alert_history(ssl, &h) == WOLFSSL_SUCCESS)
		alert = h.last_rx.code;
	if (alert == wolfssl_alert_protocol_version) {
		snprintf(buf, len, "no common TLS version");
		return FEDRPC_UNAVAILABLE;
	}
	if ((what = reason_alert(alert)) != NULL)
		snprintf(buf, len, "refused by peer: %s", what);
	else if (alert >= 0)
		snprintf(buf, len, "refused by peer: %s (alert %d)",
		    wolfSSL_alert_desc_string_long(alert), alert);
	else
		snprintf(buf, len, "refused by peer");
	return FEDRPC_UNAVAILABLE;
}

fedrpc_code
tls_reason_classify(WOLFSSL *ssl, int err, bool server,
    const char *server_name, char *buf, size_t len)
{
	/* Only a server judges the client's certificate; a client that
	 * refuses the server's sees the service as unavailable. */
	fedrpc_code cert = server ? FEDRPC_UNAUTHENTICATED : FEDRPC_UNAVAILABLE;

	switch (err) {
	case FATAL_ERROR:
		return reason_peer_alert(ssl, buf, len);
	case ASN_AFTER_DATE_E:
		snprintf(buf, len, "certificate expired");
		return cert;
	case ASN_BEFORE_DATE_E:
		snprintf(buf, len, "certificate not yet valid");
		return cert;
	case CRL_CERT_REVOKED:
		snprintf(buf, len, "certificate revoked");
		return cert;
	case CRL_MISSING:
		snprintf(buf, len,
		    "certificate revocation status unknown (no CRL for its "
		    "issuer)");
		return cert;
	case NO_PEER_CERT:
		snprintf(buf, len, "peer sent no certificate");
		return cert;
	case DOMAIN_NAME_MISMATCH:
	case IPADDR_MISMATCH:
		snprintf(buf, len, "name mismatch: certificate is not valid for %s",
		    server_name ? server_name : "the requested name");
		return cert;
	case VERSION_ERROR:
	case UNSUPPORTED_PROTO_VERSION:
		snprintf(buf, len, "no common TLS version");
		return FEDRPC_UNAVAILABLE;
	case MATCH_SUITE_ERROR:
		snprintf(buf, len, "no common cipher suite");
		return FEDRPC_UNAVAILABLE;
	case ZERO_RETURN:
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		snprintf(buf, len, "connection closed during handshake");
		return FEDRPC_UNAVAILABLE;
	case ASN_NO_SIGNER_E:
		snprintf(buf, len,
		    "certificate not trusted (%s: no trusted CA issued it)",
		    wolfSSL_ERR_reason_error_string((unsigned long) err));
		return cert;
	case ASN_SIG_CONFIRM_E:
	case ASN_SELF_SIGNED_E:
	case ASN_PATHLEN_SIZE_E:
	case ASN_PATHLEN_INV_E:
	case MAX_CHAIN_ERROR:
	case VERIFY_CERT_ERROR:
	case ASN_PARSE_E:
	case ASN_SIG_OID_E:
	case ASN_SIG_KEY_E:
	case ASN_SIG_HASH_E:
	case ASN_CRL_CONFIRM_E:
	case ASN_CRL_NO_SIGNER_E:
		snprintf(buf, len, "certificate not trusted (%s)",
		    wolfSSL_ERR_reason_error_string((unsigned long) err));
		return cert;
	default:
		snprintf(buf, len, "TLS handshake failed (%s, %d)",
		    wolfSSL_ERR_reason_error_string((unsigned long) err), err);
		return FEDRPC_UNAVAILABLE;
	}
}
