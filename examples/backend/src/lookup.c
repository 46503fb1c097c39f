/*
 * Part (a): calling another domain. Looks a user up by handle on the
 * domain that owns it, with the generated stub of
 * fedrpc.federation.v1.Users/GetUserByHandle, over mutual TLS, as one
 * backend asks another. Two ways to get the channel:
 *   - by domain (the usual one): a fedrpc_domains pool finds the domain's
 *     federators through DNS SRV (or a static route, --via), dials them
 *     and checks that each server's certificate names the SRV target it
 *     dialed;
 *   - by URL (--url, --server-name): one endpoint, and the name its
 *     certificate must carry given explicitly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/channel.h>
#include <fedrpc/domain.h>

#include "fedrpc/federation/v1/users.fedrpc.h"
#include "lookup.h"

/* The federation API version this program speaks (Version/Get lists what
 * a domain serves). */
#define FEDERATION_API_VERSION 1

/* --via HOST:PORT as a static route for `domain`. */
static int
parse_via(const char *via, const char *domain, char *host, size_t len,
    fedrpc_static_route *route)
{
	const char *colon = strrchr(via, ':');
	long        port  = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;

	if (colon == NULL || (size_t) (colon - via) >= len || port <= 0 ||
	    port > 65535) {
		fprintf(stderr, "example: --via takes HOST:PORT, not %s\n",
		    via);
		return -1;
	}
	memcpy(host, via, (size_t) (colon - via));
	host[colon - via] = '\0';
	route->domain     = domain;
	route->host       = host;
	route->port       = (uint16_t) port;
	return 0;
}

/* The call itself; the channel is the caller's. 0 found, 1 not found, 3
 * the call failed. */
static int
get_user_by_handle(fedrpc_channel *ch, const example_opts *o,
    const char *handle, const char *domain)
{
	Fedrpc__Federation__V1__GetUserByHandleRequest req =
	    FEDRPC__FEDERATION__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUserByHandleResponse *resp = NULL;
	const fedrpc_call_opts call = {.timeout_ms = o->timeout_ms};
	fedrpc_status          st   = {0};
	int                    rc;

	req.handle = (char *) handle;
	if (fedrpc_federation_v1_users_get_user_by_handle(
		ch, &req, &resp, &call, &st) != FEDRPC_OK) {
		/* The code says what to do (docs/writing-a-backend.md): e.g.
		 * UNAVAILABLE may be retried, UNAUTHENTICATED never. */
		fprintf(stderr, "example: %s@%s: %s: %s\n", handle, domain,
		    fedrpc_code_name(st.code), st.message);
		fedrpc_status_reset(&st);
		return 3;
	}
	/* Unset when there is no such user, or the domain's search policy
	 * for ours does not let us find it. */
	if (resp->profile == NULL) {
		printf("%s@%s: not found\n", handle, domain);
		rc = 1;
	} else {
		const Fedrpc__Federation__V1__UserProfile *p = resp->profile;

		printf("%s@%s: \"%s\"  %s@%s\n", handle, domain, p->name,
		    p->id != NULL ? p->id->id : "?",
		    p->id != NULL ? p->id->domain : "?");
		rc = 0;
	}
	/* The reply is ours: one call frees it and everything in it. */
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/* By URL: one channel to one endpoint. */
static int
lookup_by_url(const example_opts *o, const char *handle, const char *domain)
{
	fedrpc_tls_opts     tls;
	fedrpc_channel_opts co = {0};
	fedrpc_channel     *ch;
	fedrpc_status       st = {0};
	int                 rc;

	example_tls_opts(o, &tls);
	/* The name the server's certificate must carry: the host we meant
	 * to reach (an SRV target of the domain), never taken from the URL. */
	tls.server_name = o->server_name;
	co.url           = o->url;
	co.tls           = &tls;
	co.origin_domain = o->origin;
	co.target_domain = domain;
	co.api_version   = FEDERATION_API_VERSION;
	if (fedrpc_channel_open(&ch, &co, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: channel to %s: %s\n", o->url,
		    st.message);
		return 3;
	}
	rc = get_user_by_handle(ch, o, handle, domain);
	fedrpc_channel_close(ch);
	return rc;
}

/* By domain: the pool finds, dials and keeps the domain's federators. */
static int
lookup_by_domain(const example_opts *o, const char *handle, const char *domain)
{
	char                 host[256];
	fedrpc_static_route  route;
	fedrpc_resolver_opts ro  = {.nameserver = o->nameserver};
	fedrpc_tls_opts      tls;
	fedrpc_domains_opts  po  = {0};
	fedrpc_domains      *pool;
	fedrpc_channel      *ch;
	fedrpc_status        st = {0};
	int                  rc;

	if (o->via != NULL) {
		if (parse_via(o->via, domain, host, sizeof(host), &route) != 0)
			return 2;
		ro.statics   = &route;
		ro.n_statics = 1;
	}
	example_tls_opts(o, &tls);
	po.origin_domain      = o->origin;
	po.tls                = &tls; /* server_name: each SRV target's own */
	po.resolver_opts      = &ro;
	po.api_version        = FEDERATION_API_VERSION;
	po.default_timeout_ms = o->timeout_ms;
	if (fedrpc_domains_new(&pool, &po, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: %s\n", st.message);
		return 3;
	}
	if (fedrpc_domains_channel(pool, domain, &ch, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: %s: %s: %s\n", domain,
		    fedrpc_code_name(st.code), st.message);
		fedrpc_domains_free(pool);
		return 3;
	}
	rc = get_user_by_handle(ch, o, handle, domain);
	/* Our reference; the pool closes the channel when it is idle. */
	fedrpc_channel_close(ch);
	fedrpc_domains_free(pool);
	return rc;
}

int
example_lookup(const example_opts *o, const char *who)
{
	char        handle[256];
	const char *at = strchr(who, '@');

	if (at == NULL || at == who || at[1] == '\0' ||
	    (size_t) (at - who) >= sizeof(handle)) {
		fprintf(stderr, "example: lookup takes HANDLE@DOMAIN, not %s\n",
		    who);
		return 2;
	}
	memcpy(handle, who, (size_t) (at - who));
	handle[at - who] = '\0';
	return o->url != NULL ? lookup_by_url(o, handle, at + 1)
	                      : lookup_by_domain(o, handle, at + 1);
}
