/*
 * What became of the messages local users sent (local_sent.c): their
 * state per destination domain, for the answer to a send and for
 * Delivery/ListSentMessages.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_SENT_H
#define FEDRPC_BACKENDS_REFERENCE_SENT_H

#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "backends/reference/store.h"
#include "fedrpc/local/v1/conversations.pb-c.h"
#include "fedrpc/local/v1/delivery.pb-c.h"

struct ref_svc;

/* The state per domain of a message, from its record, by domain. */
fedrpc_code ref_sent_deliveries(fedrpc_ctx *ctx, fedrpc_store_tx *tx,
    ProtobufCBinaryData record, Fedrpc__Local__V1__MessageDelivery ***out,
    size_t *n, fedrpc_status *st);
/* Fills resp->deliveries for a message just sent (nothing for a refused
 * one, or when the store cannot be read). */
void ref_sent_now(struct ref_svc *s, fedrpc_ctx *ctx, const char *sender,
    ProtobufCBinaryData message_id,
    Fedrpc__Local__V1__SendMessageResponse *resp);
/* Delivery/ListSentMessages. */
fedrpc_code ref_h_list_sent_messages(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListSentMessagesRequest *req,
    Fedrpc__Local__V1__ListSentMessagesResponse *resp, fedrpc_status *st);

#endif
