/*
 * Applying a request once. A federation request is known by (origin,
 * request id), a local send by (sender, message id); either is recorded in
 * the store in the transaction of its effect, with the answer it got, so
 * that a retry after any crash (the caller's, ours, the network's) finds
 * it and gets the same answer with nothing applied again. The server's own
 * reply cache does the same for retries while a process lives; this is
 * what survives restarts.
 */
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "backends/reference/delivery.h"
#include "backends/reference/once.h"
#include "backends/reference/service.h"

#define REQUEST_ID_LEN 16

void
ref_once_fed(ref_once *o, fedrpc_ctx *ctx)
{
	memset(o, 0, sizeof(*o));
	o->key     = fedrpc_ctx_origin_domain(ctx);
	o->id.data = (uint8_t *) fedrpc_ctx_request_id(ctx);
	o->id.len  = o->id.data != NULL ? REQUEST_ID_LEN : 0;
}

void
ref_once_message(ref_once *o, fedrpc_ctx *ctx, const adp_qid *sender,
    ProtobufCBinaryData message_id)
{
	const char *origin = fedrpc_ctx_origin_domain(ctx);
	size_t      n = strlen(origin) + strlen(sender->id) + 6;
	char       *key = fedrpc_ctx_alloc(ctx, n);

	memset(o, 0, sizeof(*o));
	if (key == NULL)
		return; /* not applied once; nothing worse */
	snprintf(key, n, "%s/msg/%s", origin, sender->id);
	o->key = key;
	o->id  = message_id;
}

void
ref_once_send(ref_once *o, const char *sender, ProtobufCBinaryData message_id,
    const adp_qid *conversation)
{
	memset(o, 0, sizeof(*o));
	o->local        = true;
	o->key          = sender;
	o->id           = message_id;
	o->conversation = conversation;
}

/* The stored answer into resp: a copy of its fields, in the call's arena. */
static fedrpc_code
answer_from(fedrpc_ctx *ctx, ProtobufCBinaryData data, ProtobufCMessage *resp,
    fedrpc_status *st)
{
	ProtobufCMessage *m;

	if (resp == NULL)
		return FEDRPC_OK;
	if ((m = protobuf_c_message_unpack(resp->descriptor,
	         fedrpc_ctx_allocator(ctx), data.len, data.data)) == NULL)
		return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
		    "the answer kept with a request does not decode as %s",
		    resp->descriptor->name);
	memcpy(resp, m, resp->descriptor->sizeof_message);
	return FEDRPC_OK;
}

fedrpc_code
ref_once_check(const ref_once *o, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    ProtobufCMessage *resp, bool *repeat, fedrpc_status *st)
{
	*repeat = false;
	if (o == NULL || o->id.len == 0)
		return FEDRPC_OK;
	if (o->local) {
		fedrpc_store_sent sent;
		Fedrpc__Reference__V1__SentRecord *rec;

		if (tx->ops->sent_get(tx, o->key, &o->id, &sent, repeat, st) !=
		        FEDRPC_OK ||
		    !*repeat)
			return st->code;
		if ((rec = fedrpc__reference__v1__sent_record__unpack(
		         fedrpc_ctx_allocator(ctx), sent.record.len,
		         sent.record.data)) == NULL)
			return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
			    "the record of message sent by %s does not decode",
			    o->key);
		return answer_from(ctx, rec->response, resp, st);
	} else {
		ProtobufCBinaryData answer;

		if (tx->ops->request_get(tx, o->key, &o->id, &answer, repeat,
		        st) != FEDRPC_OK ||
		    !*repeat)
			return st->code;
		return answer_from(ctx, answer, resp, st);
	}
}

/* The record of a message sent: its answer and where its notices went. */
static fedrpc_code
sent_record(fedrpc_ctx *ctx, ProtobufCBinaryData answer, const ref_outs *outs,
    const ref_owner_answer *owner, ProtobufCBinaryData *out,
    fedrpc_status *st)
{
	Fedrpc__Reference__V1__SentRecord rec =
	    FEDRPC__REFERENCE__V1__SENT_RECORD__INIT;
	size_t n = (outs != NULL ? outs->n : 0) +
	    (owner != NULL ? 1 + owner->n_queued : 0);
	Fedrpc__Reference__V1__SentDestination *d;

	rec.response = answer;
	if ((rec.destinations = adp_ptrs(ctx, n)) == NULL ||
	    (d = fedrpc_ctx_alloc(ctx, (n + 1) * sizeof(*d))) == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; outs != NULL && i < outs->n; i++) {
		fedrpc__reference__v1__sent_destination__init(&d[i]);
		d[i].domain = (char *) outs->v[i].domain;
		d[i].seq    = outs->v[i].seq;
		rec.destinations[rec.n_destinations++] = &d[i];
	}
	if (owner != NULL) {
		Fedrpc__Reference__V1__SentDestination *x = &d[rec.n_destinations];

		fedrpc__reference__v1__sent_destination__init(x);
		x->domain = (char *) owner->domain;
		rec.destinations[rec.n_destinations++] = x;
		for (size_t i = 0; i < owner->n_queued; i++) {
			x = &d[rec.n_destinations];
			fedrpc__reference__v1__sent_destination__init(x);
			x->domain          = owner->queued[i];
			x->queued_at_owner = true;
			x->via             = (char *) owner->domain;
			rec.destinations[rec.n_destinations++] = x;
		}
	}
	out->len = protobuf_c_message_get_packed_size(&rec.base);
	if ((out->data = fedrpc_ctx_alloc(ctx, out->len + 1)) == NULL)
		return REF_NOMEM(st);
	protobuf_c_message_pack(&rec.base, out->data);
	return FEDRPC_OK;
}

fedrpc_code
ref_once_record(const ref_once *o, fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    const ProtobufCMessage *resp, const ref_outs *outs,
    const ref_owner_answer *owner, fedrpc_status *st)
{
	ProtobufCBinaryData answer = {0, NULL}, rec;
	fedrpc_code         rc;

	if (o == NULL || o->id.len == 0)
		return FEDRPC_OK;
	if (resp != NULL) {
		answer.len = protobuf_c_message_get_packed_size(resp);
		if ((answer.data = fedrpc_ctx_alloc(ctx, answer.len + 1)) == NULL)
			return REF_NOMEM(st);
		protobuf_c_message_pack(resp, answer.data);
	}
	if (o->local) {
		if (sent_record(ctx, answer, outs, owner, &rec, st) != FEDRPC_OK)
			return st->code;
		rc = tx->ops->sent_insert(tx, o->key, &o->id, o->conversation,
		    adp_now_ms(), &rec, NULL, st);
	} else {
		rc = tx->ops->request_record(
		    tx, o->key, &o->id, adp_now_ms(), &answer, st);
	}
	/* Another transaction recorded it first: this one runs again and
	 * finds it. */
	if (rc == FEDRPC_STORE_DUPLICATE)
		return fedrpc_status_set(st, FEDRPC_STORE_CONFLICT,
		    "request from %s applied meanwhile", o->key);
	return rc;
}

typedef struct lookup_tx {
	const ref_once   *o;
	fedrpc_ctx       *ctx;
	ProtobufCMessage *resp;
	bool              repeat;
} lookup_tx;

static fedrpc_code
tx_lookup(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	lookup_tx *a = arg;

	return ref_once_check(a->o, a->ctx, tx, a->resp, &a->repeat, st);
}

fedrpc_code
ref_once_lookup(ref_svc *s, fedrpc_ctx *ctx, const ref_once *o,
    ProtobufCMessage *resp, bool *repeat, fedrpc_status *st)
{
	lookup_tx   a = {o, ctx, resp, false};
	fedrpc_code rc;

	*repeat = false;
	if (o == NULL || o->id.len == 0)
		return FEDRPC_OK;
	if ((rc = ref_read(s, ctx, tx_lookup, &a, st)) != FEDRPC_OK)
		return rc;
	*repeat = a.repeat;
	return FEDRPC_OK;
}

void
ref_once_request_id(const char *sender, ProtobufCBinaryData message_id,
    ProtobufCBinaryData request, uint8_t out[16])
{
	wc_Sha256 h;
	uint8_t   digest[WC_SHA256_DIGEST_SIZE];
	uint8_t   len[8];
	static const uint8_t tag[] = "fedrpc send";

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t) ((uint64_t) message_id.len >> (8 * i));
	wc_InitSha256(&h);
	wc_Sha256Update(&h, tag, sizeof(tag));
	wc_Sha256Update(&h, (const uint8_t *) sender, (word32) strlen(sender) + 1);
	wc_Sha256Update(&h, len, sizeof(len));
	wc_Sha256Update(&h, message_id.data, (word32) message_id.len);
	wc_Sha256Update(&h, request.data, (word32) request.len);
	wc_Sha256Final(&h, digest);
	wc_Sha256Free(&h);
	memcpy(out, digest, 16);
}

/* A federation handler's transaction applied once. */
typedef struct once_tx {
	ref_once          o;
	fedrpc_ctx       *ctx;
	ProtobufCMessage *resp;
	fedrpc_store_fn   fn;
	void             *arg;
} once_tx;

static fedrpc_code
tx_once(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	once_tx    *a = arg;
	bool        repeat;
	fedrpc_code rc;

	if (ref_once_check(&a->o, a->ctx, tx, a->resp, &repeat, st) !=
	    FEDRPC_OK)
		return st->code;
	if (repeat)
		return FEDRPC_OK;
	if (a->fn != NULL && (rc = a->fn(tx, a->arg, st)) != FEDRPC_OK)
		return rc;
	return ref_once_record(&a->o, a->ctx, tx, a->resp, NULL, NULL, st);
}

fedrpc_code
ref_write_once(ref_svc *s, fedrpc_ctx *ctx, ProtobufCMessage *resp,
    fedrpc_store_fn fn, void *arg, fedrpc_status *st)
{
	once_tx a = {.ctx = ctx, .resp = resp, .fn = fn, .arg = arg};

	ref_once_fed(&a.o, ctx);
	return ref_write(s, ctx, tx_once, &a, st);
}
