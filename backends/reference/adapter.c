/*
 * The SQLite adapter's table: open (copy the environment, open and migrate
 * the database), close, and registering every service's handlers.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/sqlite/sq.h"

static const uint32_t default_versions[] = {1};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

static void
sq_close(void *instance)
{
	sq_adapter *a = instance;

	if (a == NULL)
		return;
	sq_db_close(a->db);
	free(a->versions);
	free(a->domain);
	free(a);
}

static fedrpc_code
sq_open(const fedrpc_adapter_env *env, const char *config, void **instance,
    fedrpc_status *st)
{
	sq_adapter     *a;
	const uint32_t *v = env->api_versions;
	size_t          n = env->n_api_versions;

	*instance = NULL;
	if (!adp_domain_valid(env->domain))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "sqlite adapter: '%s' is not a lower-case domain",
		    env->domain ? env->domain : "");
	if (v == NULL || n == 0) {
		v = default_versions;
		n = 1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->domain = strdup(env->domain)) == NULL ||
	    (a->versions = malloc(n * sizeof(uint32_t))) == NULL) {
		sq_close(a);
		return SQ_NOMEM(st);
	}
	a->env        = *env;
	a->env.domain = a->domain;
	memcpy(a->versions, v, n * sizeof(uint32_t));
	qsort(a->versions, n, sizeof(uint32_t), u32_cmp);
	a->n_versions          = n;
	a->env.api_versions    = a->versions;
	a->env.n_api_versions  = n;
	if (sq_db_open(config, &a->db, st) != FEDRPC_OK) {
		sq_close(a);
		return st->code;
	}
	*instance = a;
	return FEDRPC_OK;
}

static fedrpc_code
sq_register(void *instance, fedrpc_server *fed, fedrpc_server *local,
    fedrpc_status *st)
{
	sq_adapter *a = instance;

	if (fed != NULL &&
	    (sq_register_fed_version(fed, a, st) != FEDRPC_OK ||
	        sq_register_fed_users(fed, a, st) != FEDRPC_OK ||
	        sq_register_fed_conversations(fed, a, st) != FEDRPC_OK))
		return st->code;
	if (local != NULL &&
	    (sq_register_local_users(local, a, st) != FEDRPC_OK ||
	        sq_register_local_connections(local, a, st) != FEDRPC_OK ||
	        sq_register_local_conversations(local, a, st) != FEDRPC_OK ||
	        sq_register_local_inbox(local, a, st) != FEDRPC_OK))
		return st->code;
	return FEDRPC_OK;
}

const fedrpc_adapter fedrpc_adapter_sqlite = {
	.abi_version       = FEDRPC_ADAPTER_ABI_VERSION,
	.name              = "sqlite",
	.open              = sq_open,
	.close             = sq_close,
	.register_handlers = sq_register,
};
