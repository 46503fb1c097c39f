/*
 * The ciphertexts of one `fedctl send`: one per recipient client, each
 * encrypted on the sending client's session with that client, or on a new
 * session set up from a prekey claimed for it (e2e_session.h). A client we
 * already have a session with needs nothing from its backend, so a message
 * to it is encrypted even while that backend is down; only users with no
 * session yet are claimed for (ClaimPrekeys), and the clients the owner
 * reports missing. Every session moved on here must be saved before the
 * ciphertexts leave (fedctl_ciphers_keep()), so that no message key is
 * ever used for two messages.
 */
#ifndef FEDCTL_SEND_CIPHERS_H
#define FEDCTL_SEND_CIPHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fedrpc/federation/v1/messaging.pb-c.h"

#include "fedctl_local.h"

/* One recipient client's ciphertext. */
typedef struct fedctl_sealed {
	uint64_t client;
	uint8_t *ct; /* owned */
	size_t   len;
} fedctl_sealed;

/* One recipient user and the clients encrypted for. */
typedef struct fedctl_target {
	fedctl_qid     q;
	char           qualified[300]; /* "uuid@domain" for the e2e context */
	fedctl_sealed *v;              /* owned */
	size_t         n;
	bool           ignore; /* a client of theirs got no usable prekey */
} fedctl_target;

/* Everything one send encrypts, and how. */
typedef struct fedctl_ciphers {
	fedctl_target *t; /* owned */
	size_t         n;
	char         **unreachable; /* owned: domains ClaimPrekeys missed */
	size_t         n_unreachable;
	size_t         no_prekey;    /* clients without a usable prekey */
	size_t         on_sessions;  /* ciphertexts on a session we had */
	size_t         new_sessions; /* sessions set up by this send */
	size_t         dropped;      /* sessions of deleted clients dropped */
} fedctl_ciphers;

/*
 * Encrypts text for every other member's clients that the current client
 * has a session with, and for the sender's own other clients it has one
 * with; claims prekeys for members it has no session with at all and sets
 * up sessions with their clients. Returns 0 or the exit code (printed).
 */
int fedctl_ciphers_add_members(fedctl_session *s, const fedctl_pb_conv *conv,
    const char *text, size_t len, fedctl_ciphers *cs);

/*
 * After the owner reported missing clients: drops the ciphertexts it
 * called redundant or deleted (and the sessions of deleted clients),
 * claims prekeys for exactly the missing clients and encrypts for them; a
 * missing user that could not be encrypted for is ignored from now on.
 */
int fedctl_ciphers_add_missing(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, const char *text,
    size_t len, fedctl_ciphers *cs);

/* Drops the sessions of the clients a sending report calls deleted. */
void fedctl_ciphers_forget_deleted(fedctl_session *s,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms,
    fedctl_ciphers *cs);

/*
 * Saves the key store (the sessions as moved on). Nothing may be sent
 * unless this succeeded. Returns 0 or the exit code (printed).
 */
int fedctl_ciphers_keep(fedctl_session *s);

void fedctl_ciphers_free(fedctl_ciphers *cs);

#endif
