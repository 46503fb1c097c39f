/*
 * Channels: one nng req0 socket dialed to one endpoint; calls run on pooled
 * req0 contexts over the shared connection.
 */
#include <stdlib.h>

#include <fedrpc/channel.h>

fedrpc_code
fedrpc_channel_open(fedrpc_channel **out, const fedrpc_channel_opts *opts,
    fedrpc_status *st)
{
	(void) opts;
	*out = NULL;
	return fedrpc_status_set(st, FEDRPC_UNIMPLEMENTED, "not yet");
}

void
fedrpc_channel_close(fedrpc_channel *ch)
{
	(void) ch;
}
