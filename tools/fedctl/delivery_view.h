/*
 * How fedctl shows a message's delivery state per destination domain (the
 * local API's MessageDelivery), in text and JSON: shared by `fedctl send`
 * (the state as of the send's answer) and `fedctl sent` (later), so that
 * both use the same words.
 */
#ifndef FEDCTL_DELIVERY_VIEW_H
#define FEDCTL_DELIVERY_VIEW_H

#include <stddef.h>

#include <jansson.h>

#include "fedrpc/local/v1/delivery.pb-c.h"

/* The state's name: "delivered", "queued", "moved aside", "dropped",
 * "queued at owner". */
const char *fedctl_delivery_state_name(int state);

/* One line "    DOMAIN  STATE (details)" on standard output. */
void fedctl_delivery_print(const Fedrpc__Local__V1__MessageDelivery *d);

/* {"domain", "state", and the state's details}. */
json_t *fedctl_delivery_json(const Fedrpc__Local__V1__MessageDelivery *d);

/* A message id as text when it is printable, else in hex; cut to n. */
void fedctl_message_id_text(ProtobufCBinaryData id, char *out, size_t n);

#endif
