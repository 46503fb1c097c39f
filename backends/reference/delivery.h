/*
 * Delivery of the outbox (docs/delivery.md): what a local change owes
 * other domains is appended to the store's outbox in the change's own
 * transaction (outbox.c) and delivered here, by worker threads started at
 * open and stopped at close, one destination at a time per worker, in
 * seq order, with the item's request id as the call's. An item leaves the
 * outbox only when its destination answered: removed when it applied it,
 * moved aside when it refused it for good; any other failure leaves it at
 * the head and pauses the destination (full-jitter exponential back-off,
 * until the item's expiry). Anything heard from a destination ends its
 * pause. Several instances sharing a store deliver each destination by
 * one of them: the holder of its lease in the store.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_DELIVERY_H
#define FEDRPC_BACKENDS_REFERENCE_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/adapter.h>
#include <fedrpc/method.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "backends/reference/store.h"
#include "fedrpc/reference/v1/outbox.pb-c.h"

struct ref_svc;
typedef struct ref_delivery ref_delivery;
typedef Fedrpc__Reference__V1__OutboxItem ref_item;

/* ---- backoff.c: pure rules ---- */

/* The defaults of fedrpc_adapter_delivery's zero fields, applied. */
void ref_delivery_defaults(fedrpc_adapter_delivery *o);
/*
 * The pause after the `failures`-th failed attempt in a row (1, 2, ...):
 * full jitter, `random` mod (min(max, initial * 2^(failures-1)) + 1).
 */
uint64_t ref_backoff_ms(uint32_t initial_ms, uint32_t max_ms,
    uint32_t failures, uint64_t random);
/*
 * Whether an answer is a refusal for good, so that the item is moved aside
 * and the queue goes on: INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED. The
 * rest (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
 * INTERNAL, UNAUTHENTICATED, ...) may pass: the item is tried again.
 */
bool ref_code_permanent(fedrpc_code code);

/* ---- outbox.c: items ---- */

/* What an item is about, for its record (any field may be unset). */
typedef struct ref_about {
	const Fedrpc__Federation__V1__QualifiedId *conversation;
	const Fedrpc__Federation__V1__QualifiedId *sender;
	ProtobufCBinaryData                        message_id;
	bool                                       resync;
} ref_about;

/* Items a transaction appended, to wait for after its commit. */
typedef struct ref_out {
	const char *domain;
	uint64_t    seq;
} ref_out;
typedef struct ref_outs {
	ref_out *v;
	size_t   n, cap;
} ref_outs;

/*
 * Appends to the outbox, in the caller's transaction, a call of method m
 * with request req to `domain`, with a fresh request id; outs (may be
 * NULL) records it. A transaction function that may run again empties
 * outs at its start (outs->n = 0).
 */
fedrpc_code ref_outbox_put(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const char *domain, const fedrpc_method *m, const ProtobufCMessage *req,
    const ref_about *about, ref_outs *outs, fedrpc_status *st);
/* An item decoded into the allocator; NULL when it does not decode. */
ref_item *ref_item_decode(ProtobufCAllocator *al, ProtobufCBinaryData data);
/* A federation method by its full name, or NULL. */
const fedrpc_method *ref_method_find(const char *full_name);

/*
 * After the commit of a transaction that appended outs: wakes their
 * destinations and, with `wait`, waits (up to the configured wait) for
 * each item's first attempt. Then the domains whose item is still pending
 * go into `queued`, those whose item was refused (moved aside) into
 * `refused` (either may be NULL; they may be the same set).
 */
struct ref_domains;
void ref_outbox_settle(struct ref_svc *s, fedrpc_ctx *ctx,
    const ref_outs *outs, bool wait, struct ref_domains *queued,
    struct ref_domains *refused);

/* ---- answers.c: what an answer changes here ---- */

/* A delivered item's answer, in the transaction that removes the item. */
fedrpc_code ref_item_answered(struct ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const ref_item *item, const ProtobufCMessage *resp,
    fedrpc_status *st);
/* An item moved aside (refused for good or expired), in the transaction
 * that moves it: a conversation item is followed by a resync. */
fedrpc_code ref_item_refused(struct ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const char *domain, const ref_item *item,
    fedrpc_status *st);

/* ---- conv_resync.c ---- */

/*
 * Queues, in the caller's transaction, a conversation's current state for
 * `domain`: the conversation when the domain has members in it; else the
 * removal of the domain's users that `cause` (an item about it, may be
 * NULL) named. *queued false when there was nothing to send (not our
 * conversation, gone, or nobody to tell).
 */
struct ref_svc;
fedrpc_code ref_resync_queue(struct ref_svc *s, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const Fedrpc__Federation__V1__QualifiedId *conv,
    const char *domain, const ref_item *cause, ref_outs *outs, bool *queued,
    fedrpc_status *st);

/* ---- delivery.c: the workers ---- */

/* Starts the workers (they first look for queues left from before). */
fedrpc_code ref_delivery_start(struct ref_svc *s, ref_delivery **out,
    fedrpc_status *st);
/* Stops them: calls in flight are cancelled; what is left stays queued.
 * NULL is fine. */
void ref_delivery_stop(ref_delivery *d);
/* Items were appended for `domain`: look at once (unless it is pausing). */
void ref_delivery_kick(ref_delivery *d, const char *domain);
/* The same for the destinations of outs, woken together (a fan-out's
 * destinations start at once rather than one per wake-up). */
void ref_delivery_kick_outs(ref_delivery *d, const ref_outs *outs);
/* A call to or from `domain` went through: its pause ends now. */
void ref_delivery_heard(ref_delivery *d, const char *domain);
/*
 * Waits until each item of outs was answered (delivered or moved aside) or
 * its destination failed an attempt after this call began, or until
 * wait_ms passed. A destination pausing already, or delivered by another
 * instance, is not waited for.
 */
void ref_delivery_wait(ref_delivery *d, const ref_outs *outs,
    uint32_t wait_ms);

#endif
