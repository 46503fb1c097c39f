/*
 * A call we answered has finished: its report to the process's observer
 * (core/base/observe.h), for the daemon's metrics and access log. Kept
 * out of dispatch.c, which only says where a call ends.
 */
#include "core/base/clock.h"
#include "core/base/observe.h"
#include "server/server_int.h"

void
srv_observe(const fedrpc_server *srv, const fedrpc_ctx *cx,
    const fedrpc_status *st, uint64_t start_ms)
{
	uint64_t          now;
	bool              decoded = cx->req.method != NULL;
	fedrpc_call_event ev;

	if (!fedrpc_observe_active())
		return;
	now = fedrpc_clock_ms();
	ev  = (fedrpc_call_event){
	     .side   = FEDRPC_OBSERVE_SERVER,
	     .tls    = srv->tls_on,
	     .known  = cx->handler != NULL,
	     .method = decoded ? cx->req.method : "",
	     .origin = decoded && cx->req.origin_domain != NULL
		  ? cx->req.origin_domain
		  : "",
	     .target = decoded && cx->req.target_domain != NULL
		  ? cx->req.target_domain
		  : "",
	     .peer = cx->peer != NULL && cx->peer->peer.n_names > 0
		  ? cx->peer->peer.names[0]
		  : "",
	     .request_id  = decoded ? cx->req.request_id : NULL,
	     .code        = st->code,
	     .message     = st->message,
	     .duration_ms = now > start_ms ? now - start_ms : 0,
        };
	fedrpc_observe_call(&ev);
}

void
srv_observe_unread(fedrpc_server *srv, uint32_t conn_id,
    const fedrpc_status *st)
{
	nng_pipe  pipe = {.id = conn_id};
	srv_peer *p;

	if (!fedrpc_observe_active())
		return;
	p = srv_peer_get(srv, pipe);
	fedrpc_observe_call(&(fedrpc_call_event){
	    .side    = FEDRPC_OBSERVE_SERVER,
	    .tls     = srv->tls != NULL,
	    .method  = "",
	    .origin  = "",
	    .target  = "",
	    .peer    = p != NULL && p->peer.n_names > 0 ? p->peer.names[0] : "",
	    .code    = st->code,
	    .message = st->message,
	});
	if (p != NULL)
		srv_peer_release(p);
}
