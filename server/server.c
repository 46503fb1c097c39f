/*
 * The server: an nng rep0 socket, its listener, and the receive contexts
 * that feed decoded calls to the worker threads.
 */
#include <stdlib.h>

#include <fedrpc/server.h>

fedrpc_code
fedrpc_server_new(fedrpc_server **out, const fedrpc_server_opts *opts,
    fedrpc_status *st)
{
	(void) opts;
	*out = NULL;
	return fedrpc_status_set(st, FEDRPC_UNIMPLEMENTED, "not yet");
}

void
fedrpc_server_free(fedrpc_server *srv)
{
	(void) srv;
}
