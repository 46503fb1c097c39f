/*
 * The wolfSSL TLS engine for nng, and the TLS configurations fedrpc's
 * channels and servers use. Federation traffic is always mutual TLS:
 * TLS 1.3 unless a configuration allows 1.2, ChaCha20-Poly1305 preferred.
 */
#ifndef FEDRPC_TLS_H
#define FEDRPC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <fedrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Registers fedrpc's wolfSSL engine with nng, replacing nng's own. Checks
 * that the running nng is a version the engine was built for (1.5.x) and
 * fails with FAILED_PRECONDITION otherwise. Idempotent and thread-safe;
 * every fedrpc entry point that makes a TLS config calls it first.
 */
fedrpc_code fedrpc_tls_engine_init(fedrpc_status *st);

/* The registered engine's name as nng reports it ("wolfSSL 5.5.4"). */
const char *fedrpc_tls_engine_name(void);

/* Releases wolfSSL; call only after nng_fini(). Optional at exit. */
void fedrpc_tls_engine_fini(void);

typedef enum fedrpc_tls_version {
	FEDRPC_TLS_DEFAULT = 0, /* TLS 1.3 only */
	FEDRPC_TLS_1_2     = 12,
	FEDRPC_TLS_1_3     = 13,
} fedrpc_tls_version;

typedef struct fedrpc_tls_opts {
	const char *ca_file;     /* PEM bundle of trusted CAs; required */
	const char *cert_file;   /* our certificate (chain), PEM; required */
	const char *key_file;    /* our private key, PEM; required */
	const char *crl_file;    /* PEM CRL, optional */
	fedrpc_tls_version min_version; /* lowest version accepted */
	fedrpc_tls_version max_version; /* highest; DEFAULT means 1.3 */
	/* Client side: the name the server's certificate must carry; also
	 * sent as SNI. Required for clients: never taken from the URL. */
	const char *server_name;
	/* Server side: accept clients without a certificate. Never set on a
	 * federation listener; for tests of the refusal only. */
	bool peer_cert_optional;
} fedrpc_tls_opts;

/* A TLS configuration: an nng_tls_config bound to our engine. */
typedef struct fedrpc_tls fedrpc_tls;

/* Makes a client (server=false) or server configuration from files. */
fedrpc_code fedrpc_tls_new(fedrpc_tls **out, bool server,
    const fedrpc_tls_opts *opts, fedrpc_status *st);

/* Drops our reference; nng may keep the config alive while in use. */
void fedrpc_tls_free(fedrpc_tls *tls);

/* The nng config, for NNG_OPT_TLS_CONFIG; borrowed. */
nng_tls_config *fedrpc_tls_nng_config(fedrpc_tls *tls);

/*
 * The reason the most recent handshake through this configuration failed,
 * e.g. "certificate not trusted (ASN no signer error)", "name mismatch:
 * certificate is not valid for b.example", "no common TLS version". Returns
 * FEDRPC_OK and "" when the last handshake succeeded or none was tried, or
 * the code a caller should see (UNAVAILABLE, UNAUTHENTICATED).
 */
fedrpc_code fedrpc_tls_last_error(fedrpc_tls *tls, char *buf, size_t len);

/* What was learnt about the peer of one TLS connection. */
typedef struct fedrpc_peer {
	size_t  n_names;          /* verified DNS names from the certificate */
	char  **names;            /* owned; SAN dNSNames, or the CN if none */
	char    version[16];      /* "TLSv1.3" */
	char    cipher[64];       /* "TLS_CHACHA20_POLY1305_SHA256" */
	uint64_t handshake_us;    /* first byte to finished */
	bool    verified;         /* the chain verified against our CAs */
} fedrpc_peer;

/*
 * Fills `out` with the peer of a TLS pipe (an nng connection). Works from
 * any thread, including nng's pipe-event callbacks. Returns NOT_FOUND for a
 * pipe that is not TLS or is gone. Free with fedrpc_peer_clear().
 */
fedrpc_code fedrpc_tls_peer_get(nng_pipe pipe, fedrpc_peer *out);
void        fedrpc_peer_clear(fedrpc_peer *peer);

#ifdef __cplusplus
}
#endif
#endif
