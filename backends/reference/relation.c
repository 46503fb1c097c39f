/*
 * The connection state table (after Wire's Brig connection transitions):
 * rows are the current relation, columns the step, '-' leaves it as is.
 */
#include "backends/reference/relation.h"

/* Indexed by [relation - 1][step]; 0 means "unchanged". */
static const adp_relation table[5][5] = {
	/*                 LC                 LB               LR
	 *                 RC                 RR */
	[ADP_REL_ACCEPTED - 1] = {ADP_REL_ACCEPTED, ADP_REL_BLOCKED,
	    ADP_REL_PENDING, ADP_REL_ACCEPTED, ADP_REL_SENT},
	[ADP_REL_BLOCKED - 1]   = {ADP_REL_SENT, 0, 0, 0, 0},
	[ADP_REL_PENDING - 1]   = {ADP_REL_ACCEPTED, ADP_REL_BLOCKED, 0,
	      ADP_REL_PENDING, ADP_REL_CANCELLED},
	[ADP_REL_SENT - 1]      = {ADP_REL_SENT, ADP_REL_BLOCKED,
	         ADP_REL_CANCELLED, ADP_REL_ACCEPTED, 0},
	[ADP_REL_CANCELLED - 1] = {ADP_REL_SENT, ADP_REL_BLOCKED, 0,
	    ADP_REL_PENDING, 0},
};

adp_relation
adp_relation_step(adp_relation from, adp_conn_step step)
{
	adp_relation to;

	if (from < ADP_REL_ACCEPTED || from > ADP_REL_CANCELLED)
		from = ADP_REL_CANCELLED;
	if ((unsigned) step > ADP_STEP_RR)
		return from;
	to = table[from - 1][step];
	return to == 0 ? from : to;
}

bool
adp_relation_wants(adp_relation r)
{
	return r == ADP_REL_ACCEPTED || r == ADP_REL_SENT;
}

const char *
adp_relation_name(adp_relation r)
{
	switch (r) {
	case ADP_REL_ACCEPTED:
		return "accepted";
	case ADP_REL_BLOCKED:
		return "blocked";
	case ADP_REL_PENDING:
		return "pending";
	case ADP_REL_SENT:
		return "sent";
	case ADP_REL_CANCELLED:
		return "cancelled";
	default:
		return "none";
	}
}
