/*
 * fedctl's end-to-end encryption: a one-message sealed box per recipient
 * client, keyed by X25519 between a fresh ephemeral key and one of the
 * recipient's prekeys. A stand-in for the Proteus double ratchet, with its
 * limits stated in docs/encryption.md. The servers only ever see the output.
 */
#ifndef FEDCTL_E2E_H
#define FEDCTL_E2E_H

#include <stddef.h>
#include <stdint.h>

/* The first byte of every ciphertext. */
#define FEDCTL_E2E_VERSION 1
/* X25519 private and public keys, raw little-endian (RFC 7748). */
#define FEDCTL_E2E_KEY_LEN 32
#define FEDCTL_E2E_NONCE_LEN 12
#define FEDCTL_E2E_TAG_LEN 16
/* version (1) || prekey id (2, big-endian) || ephemeral key || nonce. */
#define FEDCTL_E2E_HEADER_LEN (1 + 2 + FEDCTL_E2E_KEY_LEN + FEDCTL_E2E_NONCE_LEN)
/* Ciphertext length = plaintext length + this. */
#define FEDCTL_E2E_OVERHEAD (FEDCTL_E2E_HEADER_LEN + FEDCTL_E2E_TAG_LEN)
/* Longest plaintext sealed or opened (far below the transport's 4 MiB). */
#define FEDCTL_E2E_MAX_PLAINTEXT (1u << 20)
/* The last-resort prekey's id; 0..65534 are one-time prekeys. */
#define FEDCTL_E2E_LAST_RESORT 65535

/* Results; 0 is success. */
enum {
	FEDCTL_E2E_OK       = 0,
	FEDCTL_E2E_EFORMAT  = -1, /* too short, too long or malformed */
	FEDCTL_E2E_EVERSION = -2, /* a ciphertext version we do not know */
	FEDCTL_E2E_EAUTH    = -3, /* wrong key, tampered, or other context */
	FEDCTL_E2E_EKEY     = -4, /* an invalid public key (low order, ...) */
	FEDCTL_E2E_ENOMEM   = -5,
	FEDCTL_E2E_ECRYPTO  = -6, /* the crypto library failed */
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
 * Encrypts pt for the recipient's prekey (prekey_id, prekey_pub) in
 * context ctx. On success *out is a malloc'd ciphertext of
 * n + FEDCTL_E2E_OVERHEAD bytes that the caller frees.
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

/* "wrong key or tampered ciphertext", ... */
const char *fedctl_e2e_strerror(int err);

#endif
