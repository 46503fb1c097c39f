/*
 * fedrpc_tls_peer_get(): who is at the other end of a TLS pipe. nng 1.5
 * has no option for the peer's names, but nng_pipe_get_bool(pipe,
 * NNG_OPT_TLS_VERIFIED) calls the engine's verified() synchronously on the
 * caller's thread with the connection locked. So we arm a thread-local
 * slot, ask for that option, and verified() (tls_conn.c) copies the
 * connection's peer into the slot. A pipe that is not TLS never reaches
 * the engine and the slot stays empty: NOT_FOUND.
 *
 * The names come from wolfCrypt's own parse of the peer's leaf certificate
 * (DER, kept by SESSION_CERTS): its X509 layer cannot read Ed25519
 * certificates in this build, and lists SANs in reverse order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_internal.h"
#include "tls_stream.h"

#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>

/* This thread's slot; only filled while `armed`. */
static __thread struct {
	bool        armed;  /* a fedrpc_tls_peer_get() is waiting */
	bool        filled; /* verified() offered a peer */
	bool        nomem;  /* the copy failed for lack of memory */
	fedrpc_peer peer;   /* owned until handed to the caller */
} slot;

/* Appends a copy of name[0..len) to peer->names; false if out of memory. */
static bool
peer_add(fedrpc_peer *peer, const char *name, size_t len)
{
	char **names;
	char  *copy;

	if ((copy = strndup(name, len)) == NULL)
		return false;
	names = realloc(peer->names, (peer->n_names + 1) * sizeof(*names));
	if (names == NULL) {
		free(copy);
		return false;
	}
	peer->names                  = names;
	peer->names[peer->n_names++] = copy;
	return true;
}

/* The leaf's SAN dNSNames in certificate order. Never its subject CN
 * (RFC 9525): a verified peer has at least one (tls_leaf.c). */
static void
peer_names(fedrpc_peer *peer, const unsigned char *der, int len)
{
	DecodedCert dc;

	wc_InitDecodedCert(&dc, der, (word32) len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0) {
		for (DNS_entry *e = dc.altNames; e != NULL; e = e->next)
			if (e->type == ASN_DNS_TYPE && e->name != NULL &&
			    e->len > 0 &&
			    !peer_add(peer, e->name, (size_t) e->len))
				break;
	}
	wc_FreeDecodedCert(&dc);
}

void
tls_peer_describe(fedrpc_peer *peer, WOLFSSL *ssl, uint64_t handshake_us)
{
	WOLFSSL_X509_CHAIN *chain;
	const char         *s;
	int                 suite;

	fedrpc_peer_clear(peer);
	peer->handshake_us = handshake_us;
	if ((s = wolfSSL_get_version(ssl)) != NULL)
		snprintf(peer->version, sizeof(peer->version), "%s", s);
	/* The IANA name ("TLS_CHACHA20_POLY1305_SHA256"), as other stacks
	 * and RFCs spell it. */
	suite = wolfSSL_get_current_cipher_suite(ssl);
	s     = wolfSSL_get_cipher_name_iana_from_suite(
            (unsigned char) (suite >> 8), (unsigned char) suite);
	if (s == NULL)
		s = wolfSSL_get_cipher_name(ssl);
	snprintf(peer->cipher, sizeof(peer->cipher), "%s", s ? s : "");
	chain = wolfSSL_get_peer_chain(ssl);
	if (chain == NULL || wolfSSL_get_chain_count(chain) < 1)
		return;
	/* wolfSSL fails the handshake on any verification error, and no
	 * verify callback can override that, so a certificate here has
	 * been verified unless verification was switched off. */
	peer->verified = wolfSSL_get_verify_mode(ssl) != WOLFSSL_VERIFY_NONE &&
	    wolfSSL_get_verify_result(ssl) == 0;
	peer_names(peer, wolfSSL_get_chain_cert(chain, 0),
	    wolfSSL_get_chain_length(chain, 0));
}

bool
tls_peer_wanted(void)
{
	return slot.armed && !slot.filled;
}

void
tls_peer_offer(const fedrpc_peer *peer)
{
	fedrpc_peer copy = *peer;

	copy.names   = NULL;
	copy.n_names = 0;
	if (peer->n_names > 0) {
		copy.names = calloc(peer->n_names, sizeof(*copy.names));
		if (copy.names == NULL) {
			slot.nomem = true;
			return;
		}
		for (; copy.n_names < peer->n_names; copy.n_names++) {
			copy.names[copy.n_names] =
			    strdup(peer->names[copy.n_names]);
			if (copy.names[copy.n_names] == NULL) {
				fedrpc_peer_clear(&copy);
				slot.nomem = true;
				return;
			}
		}
	}
	slot.peer   = copy;
	slot.filled = true;
}

fedrpc_code
fedrpc_tls_peer_get(nng_pipe pipe, fedrpc_peer *out)
{
	fedrpc_code code;
	bool        verified = false;
	int         rv;

	memset(out, 0, sizeof(*out));
	if (nng_pipe_id(pipe) <= 0)
		return FEDRPC_NOT_FOUND;
	memset(&slot, 0, sizeof(slot));
	slot.armed = true;
	rv         = nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified);
	slot.armed = false;
	if (slot.nomem)
		code = FEDRPC_RESOURCE_EXHAUSTED;
	else if (rv != 0 || !slot.filled)
		code = FEDRPC_NOT_FOUND;
	else {
		*out = slot.peer;
		memset(&slot.peer, 0, sizeof(slot.peer));
		return FEDRPC_OK;
	}
	fedrpc_peer_clear(&slot.peer);
	slot.filled = false;
	return code;
}

void
fedrpc_peer_clear(fedrpc_peer *peer)
{
	if (peer == NULL)
		return;
	for (size_t i = 0; i < peer->n_names; i++)
		free(peer->names[i]);
	free(peer->names);
	memset(peer, 0, sizeof(*peer));
}

fedrpc_code
fedrpc_tls_stream_peer_get(nng_stream *s, fedrpc_peer *out)
{
	fedrpc_code code;
	bool        verified = false;
	int         rv;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return FEDRPC_NOT_FOUND;
	memset(&slot, 0, sizeof(slot));
	slot.armed = true;
	rv         = nng_stream_get_bool(s, NNG_OPT_TLS_VERIFIED, &verified);
	slot.armed = false;
	if (slot.nomem)
		code = FEDRPC_RESOURCE_EXHAUSTED;
	else if (rv != 0 || !slot.filled)
		code = FEDRPC_NOT_FOUND;
	else {
		*out = slot.peer;
		memset(&slot.peer, 0, sizeof(slot.peer));
		return FEDRPC_OK;
	}
	fedrpc_peer_clear(&slot.peer);
	slot.filled = false;
	return code;
}
