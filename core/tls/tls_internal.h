/*
 * Private to the wolfSSL engine: the engine's configuration object (one
 * WOLFSSL_CTX), the hooks the connection side uses, and the peer capture.
 * Public API is include/fedrpc/tls.h; nothing here leaves core/.
 */
#ifndef FEDRPC_TLS_INTERNAL_H
#define FEDRPC_TLS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>

#include <fedrpc/status.h>
#include <fedrpc/tls.h>

/* Longest reason kept for a failed handshake or configuration call. */
#define TLS_REASON_MAX 200

/*
 * The engine's configuration, allocated (zeroed) by nng inside its
 * nng_tls_config and freed through tls_ctx_ops.fini when nng drops the
 * last reference. Every connection made with it holds such a reference, so
 * a connection may use its config without further counting.
 */
struct nng_tls_engine_config {
	pthread_mutex_t   lock;        /* guards every field below */
	WOLFSSL_CTX      *ctx;         /* owned; read-only once frozen */
	nng_tls_mode      mode;        /* client or server */
	nng_tls_auth_mode auth;        /* how the peer is verified */
	char             *server_name; /* owned; client: SNI + name check */
	char             *cert_pem;    /* owned; our certificate, for checks */
	nng_tls_version   min_version; /* lowest version offered */
	nng_tls_version   max_version; /* highest version offered */
	bool              frozen;      /* a connection used ctx: no changes */
	bool              have_ca;     /* trusted CAs were loaded */
	fedrpc_code       fail_code;   /* last handshake: OK or why it failed */
	char              fail_reason[TLS_REASON_MAX]; /* "" when fail_code OK */
	time_t            fail_logged; /* monotonic s of the last warning */
	char              error[TLS_REASON_MAX]; /* why the last setter failed */
};

/* ---- tls_engine.c: registration and per-thread clean-up ---- */

/* Makes sure wolfSSL's per-thread caches are freed when this thread ends.
 * Cheap; call on every thread that does TLS crypto. */
void tls_engine_thread_enter(void);

/* ---- tls_ctx.c: the engine's configuration operations ---- */

extern const nng_tls_engine_config_ops tls_ctx_ops;

/* The configuration most recently initialised on this thread, once: how
 * fedrpc_tls_new() finds the engine object inside a new nng_tls_config. */
nng_tls_engine_config *tls_ctx_take_created(void);

/* Setters with readable errors (in cfg->error); each returns an nng error
 * (NNG_EBUSY once frozen). The nng config ops are thin wrappers. */
int tls_ctx_set_versions(
    nng_tls_engine_config *cfg, nng_tls_version min, nng_tls_version max);
int tls_ctx_set_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode);
int tls_ctx_set_server_name(nng_tls_engine_config *cfg, const char *name);
int tls_ctx_set_ca(
    nng_tls_engine_config *cfg, const char *ca_pem, const char *crl_pem);
int tls_ctx_add_crl(nng_tls_engine_config *cfg, const char *crl_pem);
/* Our certificate (chain), then its private key (checked to match). */
int tls_ctx_use_cert(nng_tls_engine_config *cfg, const char *cert_pem);
int tls_ctx_use_key(
    nng_tls_engine_config *cfg, const char *key_pem, const char *pass);

/* Copies the last setter error into buf. */
void tls_ctx_error(nng_tls_engine_config *cfg, char *buf, size_t len);

/* Freezes the configuration for its first connection; returns the
 * WOLFSSL_CTX to make connections from, and the server name (borrowed,
 * stable once frozen; NULL on servers or when unset). */
WOLFSSL_CTX *tls_ctx_freeze(
    nng_tls_engine_config *cfg, const char **server_name);

/* Records how the latest handshake through cfg ended: failed with a
 * classified reason (true if that is news worth a warning: a different
 * failure, or the same one after a while), or succeeded (clears it). */
bool tls_ctx_record_failure(
    nng_tls_engine_config *cfg, fedrpc_code code, const char *reason);
void tls_ctx_record_success(nng_tls_engine_config *cfg);

/* The latest failure (FEDRPC_OK and "" if none). */
fedrpc_code tls_ctx_last_failure(
    nng_tls_engine_config *cfg, char *buf, size_t len);

/* ---- tls_keymatch.c: does a private key belong to a certificate ---- */

/*
 * 1 if the PEM private key (decrypted with pass if not NULL) is the one
 * whose public half the PEM certificate carries, 0 if not, -1 if this
 * check cannot tell (a key type other than P-256/ECC or Ed25519).
 * wolfSSL's own wolfSSL_CTX_check_private_key() accepts a mismatched ECC
 * key in this version.
 */
int tls_key_matches(const char *cert_pem, const char *key_pem, const char *pass);

/* ---- tls_conn.c: the engine's connection operations ---- */

extern const nng_tls_engine_conn_ops tls_conn_ops;

/* ---- tls_reason.c: why a handshake failed, in words ---- */

/*
 * Classifies wolfSSL error `err` on `ssl` (after a failed call) into a
 * reason such as "certificate expired". `server_name` is what a client
 * checked the server's certificate against. Returns the code a caller
 * should see: UNAUTHENTICATED when a server refused the client's
 * certificate, else UNAVAILABLE.
 */
fedrpc_code tls_reason_classify(WOLFSSL *ssl, int err, bool server,
    const char *server_name, char *buf, size_t len);

/* ---- tls_leaf.c: what a peer's leaf certificate must have ---- */

/*
 * True when the DER leaf certificate meets fedrpc's rules beyond a trusted
 * chain (a DNS name in subjectAltName, digitalSignature in a keyUsage);
 * else false and the reason, such as
 * "certificate has no DNS name in subjectAltName ...", in why.
 */
bool tls_leaf_check(const unsigned char *der, size_t len, char *why, size_t n);

/* ---- tls_peer.c: handing a connection's peer to fedrpc_tls_peer_get ---- */

/* Fills `peer` (cleared first) from a connection whose handshake has just
 * finished: version, cipher, verified certificate names. */
void tls_peer_describe(fedrpc_peer *peer, WOLFSSL *ssl, uint64_t handshake_us);

/* True while fedrpc_tls_peer_get() on this thread waits for a peer. */
bool tls_peer_wanted(void);

/* Gives a deep copy of `peer` to the waiting fedrpc_tls_peer_get(). */
void tls_peer_offer(const fedrpc_peer *peer);

#endif
