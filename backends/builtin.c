/*
 * The built-in adapters: the reference backend (backends/reference/) over
 * each store built into this library. "sqlite" is the embedded default;
 * "postgresql" lets several instances of one domain share a database.
 */
#include <fedrpc/adapter.h>

#include "backends/reference/reference.h"
#include "backends/postgresql/postgresql_store.h"
#include "backends/sqlite/sqlite_store.h"

static fedrpc_code
sqlite_open(const fedrpc_adapter_env *env, const char *config,
    void **instance, fedrpc_status *st)
{
	return fedrpc_reference_open(
	    env, fedrpc_store_sqlite_open, config, instance, st);
}

const fedrpc_adapter fedrpc_adapter_sqlite = {
	.abi_version       = FEDRPC_ADAPTER_ABI_VERSION,
	.name              = "sqlite",
	.open              = sqlite_open,
	.close             = fedrpc_reference_close,
	.register_handlers = fedrpc_reference_register,
	.peer_heard        = fedrpc_reference_peer_heard,
};

static fedrpc_code
postgresql_open(const fedrpc_adapter_env *env, const char *config,
    void **instance, fedrpc_status *st)
{
	return fedrpc_reference_open(
	    env, fedrpc_store_postgresql_open, config, instance, st);
}

const fedrpc_adapter fedrpc_adapter_postgresql = {
	.abi_version       = FEDRPC_ADAPTER_ABI_VERSION,
	.name              = "postgresql",
	.open              = postgresql_open,
	.close             = fedrpc_reference_close,
	.register_handlers = fedrpc_reference_register,
	.peer_heard        = fedrpc_reference_peer_heard,
};
