/*
 * The message check of an owning backend (Wire's checkMessageClients): from
 * the members' clients, the recipients a message has ciphertexts for and
 * the client mismatch strategy, compute missing / redundant / deleted /
 * valid and whether the message may be sent. Pure: no storage, no network,
 * memory from a caller's ProtobufCAllocator, so any adapter can use it and
 * tests can call it directly.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_MISMATCH_H
#define FEDRPC_BACKENDS_REFERENCE_MISMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <fedrpc/status.h>

#include "fedrpc/federation/v1/messaging.pb-c.h"

/* One (user, client) pair; strings are borrowed. */
typedef struct adp_uc {
	const char *domain; /* the user's domain */
	const char *id;     /* the user's UUID */
	uint64_t    client; /* 0 with user_only */
	bool        user_only; /* a user with no client (failed_to_send) */
	const ProtobufCBinaryData *ct; /* the ciphertext, for recipients */
} adp_uc;

/* A set of pairs, sorted by (domain, id, client), no duplicates. */
typedef struct adp_uc_set {
	adp_uc *v; /* from the allocator */
	size_t  n;
} adp_uc_set;

/* A member of the conversation and the clients its backend listed. */
typedef struct adp_member_clients {
	const char     *domain;
	const char     *id;
	bool            confirmed; /* false: its backend could not be asked */
	size_t          n_clients;
	const uint64_t *clients;
} adp_member_clients;

typedef enum adp_strategy_kind {
	ADP_REPORT_ALL  = 1,
	ADP_IGNORE_ALL  = 2,
	ADP_REPORT_ONLY = 3,
	ADP_IGNORE_ONLY = 4,
} adp_strategy_kind;

typedef struct adp_check_input {
	adp_uc sender; /* sending user and client (ct unused) */
	const adp_member_clients *members; /* every member, sender included */
	size_t                    n_members;
	const adp_uc             *recipients; /* from the message */
	size_t                    n_recipients;
	adp_strategy_kind         strategy;
	/* REPORT_ONLY / IGNORE_ONLY users (client unused); duplicates ok. */
	const adp_uc *strategy_users;
	size_t        n_strategy_users;
} adp_check_input;

typedef struct adp_check_result {
	bool       unknown_sender_client; /* step 3: refuse, UNKNOWN_CLIENT */
	bool       send; /* no reported missing client (and sender known) */
	adp_uc_set missing;   /* reported missing (after the strategy) */
	adp_uc_set redundant; /* clients of non-members, and the sender's */
	adp_uc_set deleted;   /* clients of members that do not exist */
	adp_uc_set valid;     /* what is delivered, with ciphertexts */
	adp_uc_set failed_to_confirm; /* valid, taken on trust */
	/* Unconfirmed members with no listed client (user_only). */
	adp_uc_set unconfirmed_absent;
} adp_check_result;

/*
 * Runs the check. INVALID_ARGUMENT when a (user, client) pair appears twice
 * among the recipients; RESOURCE_EXHAUSTED when out of memory.
 */
fedrpc_code adp_check_message(const adp_check_input *in,
    ProtobufCAllocator *al, adp_check_result *out, fedrpc_status *st);

/* Orders pairs by (domain, id, client). */
int adp_uc_cmp(const adp_uc *a, const adp_uc *b);

/* The union of two sets (both sorted), from the allocator. */
fedrpc_code adp_uc_union(const adp_uc_set *a, const adp_uc_set *b,
    ProtobufCAllocator *al, adp_uc_set *out);

/*
 * A report list: one UserClientIds per user, sorted by (domain, id),
 * clients ascending; user_only pairs give an empty client list. NULL with
 * *n = 0 for an empty set; NULL with *n = SIZE_MAX when out of memory.
 */
Fedrpc__Federation__V1__UserClientIds **adp_uc_report(
    const adp_uc_set *s, ProtobufCAllocator *al, size_t *n);

/*
 * The pairs of s on `domain` as ciphertext lists, one UserCiphertexts per
 * user (for OnMessageSent). Same conventions as adp_uc_report().
 */
Fedrpc__Federation__V1__UserCiphertexts **adp_uc_ciphertexts(
    const adp_uc_set *s, const char *domain, ProtobufCAllocator *al,
    size_t *n);

#endif
