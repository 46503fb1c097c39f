/*
 * The connection state machine of docs/federation-api.md "Connections":
 * how one side's relation moves on a local step (connect, block, rescind)
 * or a remote one (the other side connected or rescinded). Pure.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_RELATION_H
#define FEDRPC_BACKENDS_REFERENCE_RELATION_H

#include <stdbool.h>

#include "fedrpc/local/v1/connections.pb-c.h"

typedef Fedrpc__Local__V1__Relation adp_relation;

#define ADP_REL_ACCEPTED FEDRPC__LOCAL__V1__RELATION__RELATION_ACCEPTED
#define ADP_REL_BLOCKED FEDRPC__LOCAL__V1__RELATION__RELATION_BLOCKED
#define ADP_REL_PENDING FEDRPC__LOCAL__V1__RELATION__RELATION_PENDING
#define ADP_REL_SENT FEDRPC__LOCAL__V1__RELATION__RELATION_SENT
#define ADP_REL_CANCELLED FEDRPC__LOCAL__V1__RELATION__RELATION_CANCELLED

typedef enum adp_conn_step {
	ADP_STEP_LC, /* local connect (or accept) */
	ADP_STEP_LB, /* local block */
	ADP_STEP_LR, /* local rescind */
	ADP_STEP_RC, /* the other side connected */
	ADP_STEP_RR, /* the other side rescinded */
} adp_conn_step;

/*
 * The relation after `step` from `from` (no connection reads as
 * CANCELLED); `from` itself when the step changes nothing.
 */
adp_relation adp_relation_step(adp_relation from, adp_conn_step step);

/* Whether a side in `r` asks the other side to connect (the reaction). */
bool adp_relation_wants(adp_relation r);

/* "accepted", "blocked", ... */
const char *adp_relation_name(adp_relation r);

#endif
