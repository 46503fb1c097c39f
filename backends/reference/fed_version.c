/*
 * Version/Get of the federation API: the versions this backend serves,
 * answered whatever version the request carries.
 */
#include "fedrpc/federation/v1/version.fedrpc.h"
#include "backends/sqlite/sq.h"

static fedrpc_code
h_get(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Federation__V1__GetVersionRequest *req,
    Fedrpc__Federation__V1__GetVersionResponse *resp, fedrpc_status *st)
{
	sq_adapter *a = impl;

	(void) req;
	resp->supported =
	    fedrpc_ctx_alloc(ctx, a->n_versions * sizeof(uint32_t));
	if (resp->supported == NULL)
		return SQ_NOMEM(st);
	for (size_t i = 0; i < a->n_versions; i++)
		resp->supported[i] = a->versions[i];
	resp->n_supported = a->n_versions;
	return FEDRPC_OK;
}

fedrpc_code
sq_register_fed_version(fedrpc_server *srv, sq_adapter *a, fedrpc_status *st)
{
	static const fedrpc_federation_v1_version_handlers h = {
	    .get = h_get,
	};

	return fedrpc_federation_v1_version_register(srv, &h, a, st);
}
