/*
 * Federation API versions: the callee rule of docs/federation-api.md (a
 * federation call of a version we do not serve is FAILED_PRECONDITION and
 * runs no handler; Version/Get is answered for any version), and the
 * Version service for a daemon running without a storage adapter.
 */
#include <stdio.h>
#include <string.h>

#include "fedrpc/federation/v1/version.fedrpc.h"
#include "federator/federator.h"

#define FEDERATION_PREFIX "fedrpc.federation."
#define VERSION_GET "fedrpc.federation.v1.Version/Get"

/* "1, 2, 3" */
static void
versions_text(const fedrpc_config *cfg, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->api.n_versions && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%u", i ? ", " : "",
		    cfg->api.versions[i]);

		if (n < 0)
			break;
		off += (size_t) n;
	}
}

fedrpc_code
federator_version_check(federator *f, fedrpc_ctx *ctx, fedrpc_status *st)
{
	const char *m = fedrpc_ctx_method_name(ctx);
	uint32_t    v = fedrpc_ctx_api_version(ctx);
	char        served[64];

	if (m == NULL || strncmp(m, FEDERATION_PREFIX,
	                     sizeof(FEDERATION_PREFIX) - 1) != 0 ||
	    strcmp(m, VERSION_GET) == 0)
		return FEDRPC_OK;
	for (size_t i = 0; i < f->cfg->api.n_versions; i++)
		if (f->cfg->api.versions[i] == v)
			return FEDRPC_OK;
	versions_text(f->cfg, served, sizeof(served));
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
	    "federation API version %u is not served by %s (serves %s)", v,
	    f->cfg->domain, served);
}

static fedrpc_code
version_get(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetVersionRequest *req,
    Fedrpc__Federation__V1__GetVersionResponse *resp, fedrpc_status *st)
{
	federator *f = impl;

	(void) req;
	resp->n_supported = f->cfg->api.n_versions;
	resp->supported   = fedrpc_ctx_alloc(
            ctx, f->cfg->api.n_versions * sizeof(uint32_t) + 1);
	if (resp->supported == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	memcpy(resp->supported, f->cfg->api.versions,
	    f->cfg->api.n_versions * sizeof(uint32_t));
	return FEDRPC_OK;
}

fedrpc_code
federator_version_register(federator *f, fedrpc_server *srv, fedrpc_status *st)
{
	const fedrpc_federation_v1_version_handlers h = {.get = version_get};

	return fedrpc_federation_v1_version_register(srv, &h, f, st);
}
