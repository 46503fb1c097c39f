/*
 * The peer table: the verified TLS identity of every connection, fetched
 * once when the connection arrives (before the protocol reads from it) and
 * shared by every call on it by reference count, so a handler never asks
 * the TLS engine. Also the connection admission hook of the server.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "server/server_int.h"

static srv_peer *
peer_fetch(nng_pipe pipe)
{
	srv_peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (fedrpc_tls_peer_get(pipe, &p->peer) != FEDRPC_OK) {
		free(p);
		return NULL;
	}
	p->pipe_id = nng_pipe_id(pipe);
	p->refs    = 1;
	return p;
}

void
srv_peer_release(srv_peer *p)
{
	if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		fedrpc_peer_clear(&p->peer);
		free(p);
	}
}

srv_peer *
srv_peer_get(fedrpc_server *srv, nng_pipe pipe)
{
	uint32_t  id = pipe.id; /* not nng_pipe_id(): wire connections'
				 * ids have the high bit set */
	srv_peer *p;

	pthread_mutex_lock(&srv->peer_mtx);
	for (p = srv->peers[id & srv->peer_mask]; p != NULL; p = p->next)
		if (p->pipe_id == id)
			break;
	if (p != NULL)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&srv->peer_mtx);
	/* Not seen at connection time (it raced the event): ask now, for
	 * this call only. */
	return p != NULL ? p : peer_fetch(pipe);
}

static void
peer_remove(fedrpc_server *srv, uint32_t id)
{
	srv_peer **pp, *p = NULL;

	pthread_mutex_lock(&srv->peer_mtx);
	for (pp = &srv->peers[id & srv->peer_mask]; *pp != NULL;
	     pp = &(*pp)->next) {
		if ((*pp)->pipe_id == id) {
			p   = *pp;
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&srv->peer_mtx);
	if (p != NULL)
		srv_peer_release(p);
}

/*
 * Connection events. ADD_PRE runs before the protocol reads anything from
 * the pipe, so a refused peer never gets a request in, and the peer
 * identity is cached before the first request needs it.
 */
void
srv_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	fedrpc_server *srv = arg;
	srv_peer      *p;

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (srv->pipe_admit != NULL &&
		    !srv->pipe_admit(srv->pipe_admit_arg, pipe)) {
			FEDRPC_LOG_INFO("server %s: connection refused by "
					"admission",
			    srv->url);
			nng_pipe_close(pipe);
			return;
		}
		if (srv->tls == NULL || (p = peer_fetch(pipe)) == NULL)
			return;
		pthread_mutex_lock(&srv->peer_mtx);
		p->next = srv->peers[p->pipe_id & srv->peer_mask];
		srv->peers[p->pipe_id & srv->peer_mask] = p;
		pthread_mutex_unlock(&srv->peer_mtx);
	} else if (ev == NNG_PIPE_EV_REM_POST && srv->tls != NULL) {
		peer_remove(srv, (uint32_t) nng_pipe_id(pipe));
	}
}


void
srv_peer_put(fedrpc_server *srv, uint32_t id, fedrpc_peer *peer)
{
	srv_peer *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		fedrpc_peer_clear(peer);
		return;
	}
	p->pipe_id = id;
	p->refs    = 1;
	p->peer    = *peer;
	memset(peer, 0, sizeof(*peer));
	pthread_mutex_lock(&srv->peer_mtx);
	p->next = srv->peers[id & srv->peer_mask];
	srv->peers[id & srv->peer_mask] = p;
	pthread_mutex_unlock(&srv->peer_mtx);
}

void
srv_peer_forget(fedrpc_server *srv, uint32_t id)
{
	peer_remove(srv, id);
}
