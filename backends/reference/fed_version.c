/*
 * Version/Get of the federation API: the versions this backend serves,
 * answered whatever version the request carries.
 */
#include "fedrpc/federation/v1/version.fedrpc.h"
#include "backends/reference/service.h"

static fedrpc_code
h_get(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetVersionRequest *req,
    Fedrpc__Federation__V1__GetVersionResponse *resp, fedrpc_status *st)
{
	ref_svc *s = impl;

	(void) req;
	resp->supported =
	    fedrpc_ctx_alloc(ctx, s->n_versions * sizeof(uint32_t));
	if (resp->supported == NULL)
		return REF_NOMEM(st);
	for (size_t i = 0; i < s->n_versions; i++)
		resp->supported[i] = s->versions[i];
	resp->n_supported = s->n_versions;
	return FEDRPC_OK;
}

fedrpc_code
ref_register_fed_version(fedrpc_server *srv, ref_svc *s, fedrpc_status *st)
{
	static const fedrpc_federation_v1_version_handlers h = {
	    .get = h_get,
	};

	return fedrpc_federation_v1_version_register(srv, &h, s, st);
}
