/*
 * The connection table: every connection's verified TLS identity and
 * remote address (a fedrpc_conn), found once when the connection arrives
 * (before the protocol reads from it) and shared by every call on it by
 * reference count, so a handler never asks the TLS engine. Also runs the
 * connection admission hooks, for nng pipes (request/reply) and for the
 * wire protocol's streams alike.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "server/server_int.h"

/* ---- fedrpc_conn accessors ---- */

uint32_t
fedrpc_conn_id(const fedrpc_conn *conn)
{
	return conn->pipe_id;
}

const fedrpc_peer *
fedrpc_conn_peer(const fedrpc_conn *conn)
{
	return &conn->peer;
}

const char *
fedrpc_conn_remote_addr(const fedrpc_conn *conn)
{
	return conn->remote;
}

int
fedrpc_conn_remote_port(const fedrpc_conn *conn)
{
	return conn->port;
}

bool
fedrpc_conn_is_loopback(const fedrpc_conn *conn)
{
	return conn->loopback;
}

bool
fedrpc_conn_peer_uid(const fedrpc_conn *conn, uint64_t *uid)
{
	if (conn == NULL || !conn->has_uid)
		return false;
	*uid = conn->uid;
	return true;
}

void
fedrpc_conn_close(const fedrpc_conn *conn)
{
	if ((conn->pipe_id & 0x80000000u) != 0) {
		srv_wire_close_conn(conn->srv, conn->pipe_id,
		    "closed by the server (fedrpc_conn_close)");
		return;
	}
	nng_pipe_close((nng_pipe){.id = conn->pipe_id});
}

/* ---- building one ---- */

static uint16_t
be16(uint16_t v)
{
	const uint8_t *b = (const uint8_t *) &v;

	return (uint16_t) ((b[0] << 8) | b[1]);
}

/* Fills the remote address fields from nng's address (TCP only). */
static void
conn_set_remote(srv_peer *p, const nng_sockaddr *sa)
{
	static const uint8_t one[16] = {[15] = 1};

	if (sa->s_family == NNG_AF_INET) {
		const uint8_t *b = (const uint8_t *) &sa->s_in.sa_addr;

		p->port     = be16(sa->s_in.sa_port);
		p->loopback = b[0] == 127;
		snprintf(p->remote, sizeof(p->remote), "%u.%u.%u.%u:%u", b[0],
		    b[1], b[2], b[3], (unsigned) p->port);
	} else if (sa->s_family == NNG_AF_INET6) {
		const uint8_t *b   = sa->s_in6.sa_addr;
		size_t         off = 0;

		p->port     = be16(sa->s_in6.sa_port);
		p->loopback = memcmp(b, one, 16) == 0;
		if (p->loopback) {
			snprintf(p->remote, sizeof(p->remote), "[::1]:%u",
			    (unsigned) p->port);
			return;
		}
		off += (size_t) snprintf(p->remote, sizeof(p->remote), "[");
		for (int i = 0; i < 16; i += 2)
			off += (size_t) snprintf(p->remote + off,
			    sizeof(p->remote) - off, "%s%x", i > 0 ? ":" : "",
			    (unsigned) ((b[i] << 8) | b[i + 1]));
		snprintf(p->remote + off, sizeof(p->remote) - off, "]:%u",
		    (unsigned) p->port);
	}
}

static srv_peer *
conn_new(fedrpc_server *srv, uint32_t id)
{
	srv_peer *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		p->srv     = srv;
		p->pipe_id = id;
		p->refs    = 1;
	}
	return p;
}

/* A pipe's connection (NULL when out of memory). *known is false when
 * the server has TLS and the pipe's peer is not (or no longer) known:
 * the connection then has no names. */
static srv_peer *
peer_fetch(fedrpc_server *srv, nng_pipe pipe, bool *known)
{
	srv_peer    *p = conn_new(srv, (uint32_t) nng_pipe_id(pipe));
	nng_sockaddr sa;

	*known = false;
	if (p == NULL)
		return NULL;
	*known = !srv->tls_on ||
	    fedrpc_tls_peer_get(pipe, &p->peer) == FEDRPC_OK;
	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0)
		conn_set_remote(p, &sa);
	p->has_uid = nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &p->uid) == 0;
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
	 * this call only. A wire connection is always in the table. */
	if (p == NULL && (id & 0x80000000u) == 0) {
		bool known;

		p = peer_fetch(srv, pipe, &known);
	}
	return p;
}

static void
peer_insert(fedrpc_server *srv, srv_peer *p)
{
	pthread_mutex_lock(&srv->peer_mtx);
	p->next = srv->peers[p->pipe_id & srv->peer_mask];
	srv->peers[p->pipe_id & srv->peer_mask] = p;
	pthread_mutex_unlock(&srv->peer_mtx);
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

/* Both admission hooks; true when the connection may stay. Without
 * memory for the connection (NULL) only the deprecated pipe hook runs. */
static bool
conn_admitted(fedrpc_server *srv, const srv_peer *p, nng_pipe pipe)
{
	bool ok = true;

	if (srv->conn_admit != NULL && p != NULL)
		ok = srv->conn_admit(srv->conn_admit_arg, p);
	if (ok && srv->pipe_admit != NULL)
		ok = srv->pipe_admit(srv->pipe_admit_arg, pipe);
	if (!ok)
		FEDRPC_LOG_INFO("server %s: connection %s%srefused by admission",
		    srv->url, p != NULL ? p->remote : "",
		    p != NULL && p->remote[0] != '\0' ? " " : "");
	return ok;
}

/*
 * Connection events. ADD_PRE runs before the protocol reads anything from
 * the pipe, so a refused peer never gets a request in, and the connection
 * is in the table before the first request needs it.
 */
void
srv_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	fedrpc_server *srv = arg;
	srv_peer      *p;

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		bool known;

		p = peer_fetch(srv, pipe, &known);
		if (!conn_admitted(srv, p, pipe)) {
			if (p != NULL)
				srv_peer_release(p);
			nng_pipe_close(pipe);
			return;
		}
		/* Not kept without its peer: calls ask again. */
		if (p != NULL && known) {
			p->admitted = true;
			peer_insert(srv, p);
		}
		else if (p != NULL)
			srv_peer_release(p);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		peer_remove(srv, (uint32_t) nng_pipe_id(pipe));
	}
}

bool
srv_peer_admit_stream(fedrpc_server *srv, uint32_t id, fedrpc_peer *peer,
    const nng_sockaddr *remote, const uint64_t *uid)
{
	srv_peer *p = conn_new(srv, id);
	nng_pipe  pipe = {.id = id};

	if (p == NULL) {
		if (peer != NULL)
			fedrpc_peer_clear(peer);
		return false;
	}
	if (peer != NULL) {
		p->peer = *peer;
		memset(peer, 0, sizeof(*peer));
	}
	if (remote != NULL)
		conn_set_remote(p, remote);
	if (uid != NULL) {
		p->has_uid = true;
		p->uid     = *uid;
	}
	peer_insert(srv, p);
	if (!conn_admitted(srv, p, pipe))
		return false;
	pthread_mutex_lock(&srv->peer_mtx);
	p->admitted = true;
	pthread_mutex_unlock(&srv->peer_mtx);
	return true;
}

void
fedrpc_server_conns_foreach(
    fedrpc_server *srv, fedrpc_conn_visit_fn fn, void *arg)
{
	pthread_mutex_lock(&srv->peer_mtx);
	for (size_t i = 0; i <= srv->peer_mask; i++)
		for (const srv_peer *p = srv->peers[i]; p != NULL; p = p->next)
			if (p->admitted)
				fn(arg, p);
	pthread_mutex_unlock(&srv->peer_mtx);
}

void
srv_peer_forget(fedrpc_server *srv, uint32_t id)
{
	peer_remove(srv, id);
}
