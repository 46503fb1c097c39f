/*
 * fedctl's end-to-end sessions (message format version 2): a session
 * between two clients is set up once from a claimed prekey (X25519 of the
 * initiator's fresh base key and the prekey, HKDF-SHA256 into one chain key
 * per direction), and every message then takes its own key from a
 * symmetric hash ratchet (HMAC-SHA256 chain key -> message key, the chain
 * moving on with every message), encrypted with AES-256-GCM. So a sender
 * that has a session encrypts without asking anyone, a message key is used
 * for one message and forgotten, and late, out-of-order and skipped
 * messages still open from a bounded store of skipped keys. A stand-in for
 * Proteus (no identity keys, no Diffie-Hellman ratchet); the format and
 * the limits are in docs/encryption.md. Only the key derivation, the chain
 * and the AEAD are here: which session to use, and keeping sessions in the
 * key store, is session_store.h.
 */
#ifndef FEDCTL_E2E_SESSION_H
#define FEDCTL_E2E_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2e.h"

/* version (1) || flags (1) || prekey id (2) || base key (32) || counter
 * (4), numbers big-endian. */
#define FEDCTL_E2E_V2_HEADER_LEN (1 + 1 + 2 + FEDCTL_E2E_KEY_LEN + 4)
/* Version 2 ciphertext length = plaintext length + this (56). */
#define FEDCTL_E2E_V2_OVERHEAD (FEDCTL_E2E_V2_HEADER_LEN + FEDCTL_E2E_TAG_LEN)
/* Flag bit: the sender is the session's responder (else its initiator). */
#define FEDCTL_E2E_FROM_RESPONDER 0x01
/* At most this many message keys are skipped to reach one message (a
 * message further ahead is refused, EGAP), and at most this many skipped
 * keys are kept per session (the oldest go first, then ESTALE). */
#define FEDCTL_E2E_MAX_SKIP 1000
/* At most this many used keys are kept per session until their inbox
 * events are acknowledged (so that a second fetch opens them again). */
#define FEDCTL_E2E_MAX_HELD 1000
/* The key of message n is derived by walking the chain; a counter is 32
 * bits on the wire, so a session carries at most 2^32 messages a way. */
#define FEDCTL_E2E_MAX_COUNTER UINT32_MAX

/* A version 2 header as read from a ciphertext. */
typedef struct fedctl_e2e_header {
	bool     from_responder; /* FEDCTL_E2E_FROM_RESPONDER was set */
	uint16_t prekey_id;      /* the responder's prekey it was set up from */
	uint8_t  base[FEDCTL_E2E_KEY_LEN]; /* the session's base key: its id */
	uint32_t n;              /* the message's number on its chain */
} fedctl_e2e_header;

/* One direction of a session: the key that yields message n's key. */
typedef struct fedctl_e2e_chain {
	uint8_t  key[FEDCTL_E2E_KEY_LEN];
	uint64_t n; /* the next message number; up to 2^32 */
} fedctl_e2e_chain;

/* A message key of the receiving chain kept for later. */
typedef struct fedctl_e2e_kept {
	uint64_t n;                       /* its message number */
	uint8_t  key[FEDCTL_E2E_KEY_LEN]; /* the message key */
	uint64_t used_by; /* 0: skipped, not yet used; else the tag (inbox
			     event) of its one use, until acknowledged */
} fedctl_e2e_kept;

/*
 * A session with one client of another (or the same) user, as this client
 * keeps it. Both directions hang on it: the initiator sends on the
 * initiator-to-responder chain and receives on the other, the responder the
 * other way round. Copying the struct shares `kept`; wipe exactly once.
 */
typedef struct fedctl_e2e_session {
	char     peer[FEDCTL_E2E_PARTY_MAX + 1]; /* "uuid@domain" */
	uint64_t peer_client;
	bool     initiator; /* we set it up from the peer's prekey */
	uint16_t prekey_id; /* the responder's prekey it was set up from */
	uint8_t  base[FEDCTL_E2E_KEY_LEN]; /* the initiator's base public key */
	fedctl_e2e_chain send; /* ours to the peer */
	fedctl_e2e_chain recv; /* the peer's to us */
	fedctl_e2e_kept *kept; /* owned; skipped and held keys of recv */
	size_t           n_kept;
} fedctl_e2e_session;

/*
 * Sets up a session as initiator with the recipient client of ctx (sender:
 * us) from its claimed prekey: a fresh base key pair, X25519 with the
 * prekey, HKDF into both chains. The base private key is wiped at once.
 * *out needs fedctl_e2e_session_wipe() on success (on failure it is wiped).
 */
int fedctl_e2e_session_initiate(const fedctl_e2e_context *ctx,
    uint16_t prekey_id, const uint8_t prekey_pub[FEDCTL_E2E_KEY_LEN],
    fedctl_e2e_session *out);

/*
 * Reads a version 2 header: EVERSION for another version, EFORMAT for a
 * short or long ciphertext or unknown flags.
 */
int fedctl_e2e_header_read(const uint8_t *ct, size_t n, fedctl_e2e_header *h);

/*
 * Sets up our (responder) side of the session a message from the
 * initiator names (h, with ctx's sender the initiator and its recipient
 * us), with our private prekey h->prekey_id. Nothing is checked until the
 * message is decrypted with it: keep the session only if that succeeds.
 */
int fedctl_e2e_session_accept(const fedctl_e2e_context *ctx,
    const fedctl_e2e_keypair *prekey, const fedctl_e2e_header *h,
    fedctl_e2e_session *out);

/* Whether a message with header h belongs to session s. */
bool fedctl_e2e_session_matches(
    const fedctl_e2e_session *s, const fedctl_e2e_header *h);

/*
 * Encrypts pt to the session's peer (ctx: sender us, recipient the peer),
 * with the next key of the sending chain, which then moves on: the caller
 * must keep the new state before the ciphertext leaves, or a key could be
 * used twice. *out (malloc'd, n + FEDCTL_E2E_V2_OVERHEAD bytes) is the
 * caller's.
 */
int fedctl_e2e_session_encrypt(fedctl_e2e_session *s,
    const fedctl_e2e_context *ctx, const uint8_t *pt, size_t n,
    uint8_t **out, size_t *out_len);

/*
 * Decrypts a message of the session (ctx: sender the peer, recipient us).
 * `tag` (non-zero: the inbox event carrying it) is what uses the message
 * key: the same tag opens the message again until
 * fedctl_e2e_session_forget_used(), another tag is EREPLAY. A message
 * ahead of the chain skips (and keeps) the keys before it, at most
 * FEDCTL_E2E_MAX_SKIP (else EGAP); an older one opens with its kept key
 * (ESTALE if it is gone). Nothing changes unless the message is authentic.
 * On success *pt (malloc'd, *pt_len bytes and a NUL) is the caller's.
 */
int fedctl_e2e_session_decrypt(fedctl_e2e_session *s,
    const fedctl_e2e_context *ctx, const uint8_t *ct, size_t n, uint64_t tag,
    uint8_t **pt, size_t *pt_len);

/* Forgets the keys used by tags up to up_to; returns how many. */
size_t fedctl_e2e_session_forget_used(fedctl_e2e_session *s, uint64_t up_to);

/* How many skipped (not yet used) keys the session keeps. */
size_t fedctl_e2e_session_skipped(const fedctl_e2e_session *s);

/* Wipes every key and frees `kept`; the struct is then all zeros. */
void fedctl_e2e_session_wipe(fedctl_e2e_session *s);

#endif
