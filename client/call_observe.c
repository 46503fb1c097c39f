/*
 * A call we made has finished: its report to the process's observer
 * (core/base/observe.h), for the daemon's metrics and access log. Kept
 * out of call.c, which only says where a call ends.
 */
#include "client/channel_int.h"
#include "core/base/clock.h"
#include "core/base/observe.h"

void
call_observe(const fedrpc_call *call, const fedrpc_status *st)
{
	const fedrpc_channel *ch = call->ch;
	uint64_t              now, start;
	fedrpc_call_event     ev;

	if (!fedrpc_observe_active())
		return;
	now   = fedrpc_clock_ms();
	start = call->deadline - call->timeout_ms;
	ev    = (fedrpc_call_event){
	       .side        = FEDRPC_OBSERVE_CLIENT,
	       .tls         = true,
	       .known       = true,
	       .method      = call->method->full_name,
	       .origin      = ch->origin != NULL ? ch->origin : "",
	       .target      = ch->target != NULL ? ch->target : "",
	       .peer        = "",
	       .request_id  = call->request_id,
	       .code        = st->code,
	       .message     = st->message,
	       .duration_ms = now > start ? now - start : 0,
        };
	fedrpc_observe_call(&ev);
}
