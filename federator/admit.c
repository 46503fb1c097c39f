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
#include <arpa/inet.h>
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
federation_connection(void *arg, nng_pipe pipe)
{
	federator  *f = arg;
	fedrpc_peer peer;
	nng_sockaddr sa;
	char        addr[64] = "?";

	int         port     = 0;
	bool        loopback = false;

	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET) {
		const uint8_t *b = (const uint8_t *) &sa.s_in.sa_addr;

		port     = ntohs(sa.s_in.sa_port);
		loopback = b[0] == 127;
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%u", b[0], b[1], b[2],
		    b[3], (unsigned) port);
	} else if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET6) {
		static const uint8_t one[16] = {[15] = 1};

		port     = ntohs(sa.s_in6.sa_port);
		loopback = memcmp(sa.s_in6.sa_addr, one, 16) == 0;
		snprintf(addr, sizeof(addr), "[::1]:%u", (unsigned) port);
	}
	if (loopback)
		listen_watch_note(f, port);
	if (fedrpc_tls_peer_get(pipe, &peer) == FEDRPC_OK) {
		/* The daemon's own self-check (listen_watch.c). */
		if (loopback && peer.n_names > 0 &&
		    listen_watch_is_self(f, peer.names[0])) {
			FEDRPC_LOG_DEBUG("connection %u from %s: self-check",
			    (unsigned) nng_pipe_id(pipe), addr);
			fedrpc_peer_clear(&peer);
			return true;
		}
		__atomic_add_fetch(&f->connections, 1, __ATOMIC_RELAXED);
		federator_metrics_peer_connection(
		    f, peer.n_names > 0 ? peer.names[0] : NULL);
		FEDRPC_LOG_INFO("connection %u from %s: %s, %s, certificate "
				"%s%s",
		    (unsigned) nng_pipe_id(pipe), addr, peer.version,
		    peer.cipher, peer.n_names > 0 ? peer.names[0] : "-",
		    peer.n_names > 1 ? " (and more names)" : "");
		fedrpc_peer_clear(&peer);
	} else {
		__atomic_add_fetch(&f->connections, 1, __ATOMIC_RELAXED);
	}
	return true;
}

void
federator_admit_install(federator *f, fedrpc_server *srv)
{
	fedrpc_server_set_admit(srv, federation_admit, f);
	fedrpc_server_set_done(srv, federation_done, f);
	fedrpc_server_set_pipe_admit(srv, federation_connection, f);
}
