/*
 * Who may call us: the admission chain of the federation listener, run for
 * every request before any handler (and so before the adapter). In order:
 * origin authentication (UNAUTHENTICATED), the allow list
 * (PERMISSION_DENIED), the request's target (INVALID_ARGUMENT), per-peer
 * limits (RESOURCE_EXHAUSTED), the API version (FAILED_PRECONDITION).
 * The origin arrives normalised (server/dispatch.c), so every step, the
 * limits' key included, sees one spelling of it.
 * The server runtime logs each refusal with method, origin, peer and
 * status; the messages here say why.
 */
#include <stdio.h>
#include <string.h>

#include <fedrpc/log.h>

#include "core/base/dns_name.h"
#include "federator/federator.h"

#ifdef FEDRPC_HAVE_ADAPTERS
#include <fedrpc/adapter.h>
#endif

#ifdef FEDRPC_HAVE_ADAPTERS
#include <fedrpc/adapter.h>
#endif

static fedrpc_code
refuse(federator *f, fedrpc_code code)
{
	__atomic_add_fetch(&f->refused, 1, __ATOMIC_RELAXED);
	return code;
}

static fedrpc_code
federation_admit(void *arg, fedrpc_ctx *ctx, fedrpc_status *st)
{
	federator  *f      = arg;
	const char *origin = fedrpc_ctx_origin_domain(ctx);
	const char *target = fedrpc_ctx_target_domain(ctx);
	uint32_t    left   = fedrpc_ctx_time_left_ms(ctx);
	fedrpc_code code;

	if (origin == NULL)
		origin = "";
	/* 1. Is the peer who it says it is? */
	code = fedrpc_origin_auth_check(f->auth, origin, fedrpc_ctx_peer(ctx),
	    left == UINT32_MAX ? 0 : left, st);
	if (code != FEDRPC_OK)
		return refuse(f, code);
	/* 2. Do we federate with it at all? */
	if ((code = fedrpc_allowlist_check(f->allow, origin, st)) != FEDRPC_OK)
		return refuse(f, code);
	/* 3. Was it meant for us? A request for another domain would make
	 * us a relay. */
	if (target != NULL && target[0] != '\0' &&
	    !dns_name_equal(target, f->cfg->domain))
		return refuse(f, fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		                     "request for %s reached %s", target,
		                     f->cfg->domain));
	/* 4. Is it within its share? */
	if ((code = fedrpc_limits_enter(f->limits, origin, st)) != FEDRPC_OK)
		return refuse(f, code);
	/* 5. Do we speak its API version? */
	if ((code = federator_version_check(f, ctx, st)) != FEDRPC_OK) {
		fedrpc_limits_leave(f->limits, origin);
		return refuse(f, code);
	}
	__atomic_add_fetch(&f->admitted, 1, __ATOMIC_RELAXED);
	return FEDRPC_OK;
}

/* Every admitted call ends here: it no longer counts as in flight, and
 * the adapter hears that its origin is up (delivery to it resumes). */
static void
federation_done(void *arg, fedrpc_ctx *ctx, fedrpc_code code)
{
	federator  *f      = arg;
	const char *origin = fedrpc_ctx_origin_domain(ctx);

	(void) code;
	fedrpc_limits_leave(f->limits, origin != NULL ? origin : "");
#ifdef FEDRPC_HAVE_ADAPTERS
	if (origin != NULL && origin[0] != '\0')
		fedrpc_adapter_peer_heard(f->adapter, origin);
#endif
}

/* A new connection: the handshake verified its certificate already (the
 * engine refuses anything else); counted and named in the log. */
static bool
federation_connection(void *arg, const fedrpc_conn *conn)
{
	federator         *f    = arg;
	const fedrpc_peer *peer = fedrpc_conn_peer(conn);
	const char        *addr = fedrpc_conn_remote_addr(conn);

	if (addr[0] == '\0')
		addr = "?";
	if (fedrpc_conn_is_loopback(conn))
		listen_watch_note(f, fedrpc_conn_remote_port(conn));
	/* The daemon's own self-check (listen_watch.c). */
	if (fedrpc_conn_is_loopback(conn) && peer->n_names > 0 &&
	    listen_watch_is_self(f, peer->names[0])) {
		FEDRPC_LOG_DEBUG("connection %u from %s: self-check",
		    (unsigned) fedrpc_conn_id(conn), addr);
		return true;
	}
	__atomic_add_fetch(&f->connections, 1, __ATOMIC_RELAXED);
	if (peer->verified || peer->n_names > 0)
		federator_metrics_peer_connection(
		    f, peer->n_names > 0 ? peer->names[0] : NULL);
	if (peer->verified || peer->n_names > 0)
		FEDRPC_LOG_INFO("connection %u from %s: %s, %s, certificate "
				"%s%s",
		    (unsigned) fedrpc_conn_id(conn), addr, peer->version,
		    peer->cipher, peer->n_names > 0 ? peer->names[0] : "-",
		    peer->n_names > 1 ? " (and more names)" : "");
	return true;
}

void
federator_admit_install(federator *f, fedrpc_server *srv)
{
	fedrpc_server_set_admit(srv, federation_admit, f);
	fedrpc_server_set_done(srv, federation_done, f);
	fedrpc_server_set_conn_admit(srv, federation_connection, f);
}
