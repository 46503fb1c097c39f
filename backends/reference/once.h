/*
 * Applying a request once (once.c): a federation request by (origin,
 * request id), a local send by (sender, message id), recorded with its
 * answer in the transaction of its effect. A transaction function checks
 * first and records last; a repeat gets the answer of the first time and
 * changes nothing.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_ONCE_H
#define FEDRPC_BACKENDS_REFERENCE_ONCE_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "backends/reference/ids.h"
#include "backends/reference/store.h"

struct ref_svc;
struct ref_outs;

typedef struct ref_once {
	bool                local;        /* a local send, else federation */
	const char         *key;          /* the origin, or the sender's id */
	ProtobufCBinaryData id;           /* request id, or message id */
	const adp_qid      *conversation; /* local: where it was sent */
} ref_once;

/* What a conversation's owner said of a message sent from here. */
typedef struct ref_owner_answer {
	const char *domain;   /* the owner */
	char      **queued;   /* domains it queued the message for */
	size_t      n_queued;
} ref_owner_answer;

/* The federation request being served. */
void ref_once_fed(ref_once *o, fedrpc_ctx *ctx);
/* A message a remote backend asks us, its conversation's owner, to send:
 * applied once per (origin, sender, message id). */
void ref_once_message(ref_once *o, fedrpc_ctx *ctx, const adp_qid *sender,
    ProtobufCBinaryData message_id);
/* A local send of `message_id` by `sender` in `conversation`. */
void ref_once_send(ref_once *o, const char *sender,
    ProtobufCBinaryData message_id, const adp_qid *conversation);

/* Whether it was applied already: then *repeat, and resp (may be NULL)
 * receives the answer it got (fields in the call's arena). */
fedrpc_code ref_once_check(const ref_once *o, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, ProtobufCMessage *resp, bool *repeat,
    fedrpc_status *st);
/* The same in a read transaction of its own, before any work. */
fedrpc_code ref_once_lookup(struct ref_svc *s, fedrpc_ctx *ctx,
    const ref_once *o, ProtobufCMessage *resp, bool *repeat,
    fedrpc_status *st);
/*
 * Records it with resp (may be NULL) as its answer; a local send also with
 * where its notices went (outs, or what the owner said). When another
 * transaction recorded it first this one fails with a conflict, so that it
 * runs again and finds it.
 */
fedrpc_code ref_once_record(const ref_once *o, fedrpc_ctx *ctx,
    fedrpc_store_tx *tx, const ProtobufCMessage *resp,
    const struct ref_outs *outs, const ref_owner_answer *owner,
    fedrpc_status *st);

/*
 * A federation handler's write transaction, applied once for its (origin,
 * request id): fn (may be NULL: nothing but the record) runs unless the
 * request was applied before, and resp, as fn left it, is the answer kept
 * for a repeat (which gets it instead).
 */
fedrpc_code ref_write_once(struct ref_svc *s, fedrpc_ctx *ctx,
    ProtobufCMessage *resp, fedrpc_store_fn fn, void *arg, fedrpc_status *st);

/*
 * The request id of a send made by `sender` with `message_id` to a remote
 * owner, for the encoded `request`: the same for every identical retry,
 * and nobody else's. A retry with other content (ciphertexts added after a
 * refusal) gets another id, so that no cached refusal answers it; the
 * owner still applies the message once by its id.
 */
void ref_once_request_id(const char *sender, ProtobufCBinaryData message_id,
    ProtobufCBinaryData request, uint8_t out[16]);

#endif
