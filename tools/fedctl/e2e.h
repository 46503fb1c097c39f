/*
 * fedctl's end-to-end encryption, the parts both message formats share:
 * X25519 key pairs, the context every ciphertext is bound to, the results,
 * and the version byte that starts every ciphertext. Version 2 (sessions
 * with a hash ratchet, e2e_session.h) is what fedctl sends; version 1, the
 * one-message sealed box below, is what earlier fedctl sent, and is still
 * opened so that existing inboxes decrypt. Both are stand-ins for Proteus,
 * with their limits stated in docs/encryption.md. The servers only ever see
 * the output.
 */
#ifndef FEDCTL_E2E_H
#define FEDCTL_E2E_H

#include <stddef.h>
#include <stdint.h>

/* The first byte of every ciphertext: its format. */
#define FEDCTL_E2E_V1 1 /* the sealed box of this header */
#define FEDCTL_E2E_V2 2 /* a session message (e2e_session.h) */
/* X25519 private and public keys, raw little-endian (RFC 7748). */
#define FEDCTL_E2E_KEY_LEN 32
#define FEDCTL_E2E_NONCE_LEN 12
#define FEDCTL_E2E_TAG_LEN 16 /* of either AEAD */
/* Version 1: version (1) || prekey id (2, big-endian) || ephemeral key ||
 * nonce. */
#define FEDCTL_E2E_V1_HEADER_LEN \
	(1 + 2 + FEDCTL_E2E_KEY_LEN + FEDCTL_E2E_NONCE_LEN)
/* Version 1 ciphertext length = plaintext length + this. */
#define FEDCTL_E2E_V1_OVERHEAD (FEDCTL_E2E_V1_HEADER_LEN + FEDCTL_E2E_TAG_LEN)
/* Longest plaintext sealed or opened (far below the transport's 4 MiB). */
#define FEDCTL_E2E_MAX_PLAINTEXT (1u << 20)
/* The last-resort prekey's id; 0..65534 are one-time prekeys. */
#define FEDCTL_E2E_LAST_RESORT 65535
/* Longest user or conversation id bound in (a qualified id is at most
 * 36 + 1 + 253 bytes). */
#define FEDCTL_E2E_PARTY_MAX 512

/* Results; 0 is success. */
enum {
	FEDCTL_E2E_OK       = 0,
	FEDCTL_E2E_EFORMAT  = -1, /* too short, too long or malformed */
	FEDCTL_E2E_EVERSION = -2, /* a ciphertext version we do not know */
	FEDCTL_E2E_EAUTH    = -3, /* wrong key, tampered, or other context */
	FEDCTL_E2E_EKEY     = -4, /* an invalid public key (low order, ...) */
	FEDCTL_E2E_ENOMEM   = -5,
	FEDCTL_E2E_ECRYPTO  = -6, /* the crypto library failed */
	/* Version 2 (sessions) only: */
	FEDCTL_E2E_EREPLAY  = -7,  /* its message key was used by another event */
	FEDCTL_E2E_ESTALE   = -8,  /* its message key is no longer kept */
	FEDCTL_E2E_EGAP     = -9,  /* too many messages skipped before it */
	FEDCTL_E2E_ENOSESSION = -10, /* no session, none can be set up */
	FEDCTL_E2E_EEXHAUSTED = -11, /* the session's counter is used up */
};

/* A key pair: a prekey, or an ephemeral key. Wipe it when done. */
typedef struct fedctl_e2e_keypair {
	uint8_t priv[FEDCTL_E2E_KEY_LEN]; /* secret scalar */
	uint8_t pub[FEDCTL_E2E_KEY_LEN];  /* what the server stores */
} fedctl_e2e_keypair;

/*
 * Who a ciphertext is from and for, and where it was sent. Every field is
 * bound into the key derivation and the associated data, so a ciphertext
 * opens only with exactly the same context: a server cannot hand it to
 * another client, attribute it to another sender or move it to another
 * conversation. Strings are borrowed, "uuid@domain".
 */
typedef struct fedctl_e2e_context {
	const char *sender;           /* sending user */
	uint64_t    sender_client;    /* sending client */
	const char *recipient;        /* receiving user */
	uint64_t    recipient_client; /* receiving client */
	const char *conversation;     /* the conversation it was sent in */
} fedctl_e2e_context;

/* A fresh key pair from the system's random source. */
int fedctl_e2e_keypair_generate(fedctl_e2e_keypair *kp);

/* Overwrites a key pair with zeros (not optimised away). */
void fedctl_e2e_keypair_wipe(fedctl_e2e_keypair *kp);

/*
 * X25519(mine.priv, peer) into out. EKEY for a peer key of low order (an
 * all-zero result, which anyone could compute) or one wolfCrypt refuses.
 */
int fedctl_e2e_dh(const fedctl_e2e_keypair *mine,
    const uint8_t peer[FEDCTL_E2E_KEY_LEN], uint8_t out[FEDCTL_E2E_KEY_LEN]);

/* A ciphertext's format (FEDCTL_E2E_V1, _V2, ...), or EFORMAT if empty. */
int fedctl_e2e_version(const uint8_t *ct, size_t n);

/* ---- version 1: one sealed box per message ---- */

/*
 * Encrypts pt for the recipient's prekey (prekey_id, prekey_pub) in
 * context ctx, in version 1. On success *out is a malloc'd ciphertext of
 * n + FEDCTL_E2E_V1_OVERHEAD bytes that the caller frees. fedctl itself no
 * longer sends this format; tests make with it what earlier fedctl sent.
 */
int fedctl_e2e_seal(const fedctl_e2e_context *ctx, uint16_t prekey_id,
    const uint8_t prekey_pub[FEDCTL_E2E_KEY_LEN], const uint8_t *pt,
    size_t n, uint8_t **out, size_t *out_len);

/* The prekey id a ciphertext was made for, to find its private key. */
int fedctl_e2e_prekey_id(const uint8_t *ct, size_t n, uint16_t *id);

/*
 * Decrypts ct with the private prekey it names, in context ctx. On success
 * *pt is a malloc'd plaintext of *pt_len bytes followed by a NUL (not
 * counted), which the caller frees; otherwise *pt is NULL.
 */
int fedctl_e2e_open(const fedctl_e2e_context *ctx,
    const fedctl_e2e_keypair *prekey, const uint8_t *ct, size_t n,
    uint8_t **pt, size_t *pt_len);

/* "wrong key or tampered ciphertext", ...: for every result above. */
const char *fedctl_e2e_strerror(int err);

#endif
