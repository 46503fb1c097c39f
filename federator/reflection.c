/*
 * The reflection service (proto/fedrpc/reflection/v1/reflection.proto):
 * which services a server answers and the schemas of them, from the
 * descriptors protoc-gen-fedrpc embedded in gen/ (<base>.schema.c). It is
 * registered on the local API and on the federation listener: the
 * federation schema is public, and a peer reaches it only through the
 * listener's whole admission chain (mutual TLS, origin, allow list,
 * limits), as any other call. A service the daemon does not know the
 * schema of (a shared-object adapter's own) is not listed; fedctl rpc
 * reads such schemas from a descriptor set file instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/federation/v1/version.fedrpc.h"
#include "fedrpc/health/v1/health.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "fedrpc/reflection/v1/reflection.fedrpc.h"
#include "federator/federator.h"

typedef Fedrpc__Reflection__V1__FileResponse file_response;

/* Every schema with services the daemon can serve; their imports are
 * reached through each file's deps. */
static const fedrpc_schema_file *const roots[] = {
    &fedrpc_schema_fedrpc_federation_v1_conversations,
    &fedrpc_schema_fedrpc_federation_v1_users,
    &fedrpc_schema_fedrpc_federation_v1_version,
    &fedrpc_schema_fedrpc_health_v1_health,
    &fedrpc_schema_fedrpc_local_v1_connections,
    &fedrpc_schema_fedrpc_local_v1_conversations,
    &fedrpc_schema_fedrpc_local_v1_delivery,
    &fedrpc_schema_fedrpc_local_v1_inbox,
    &fedrpc_schema_fedrpc_local_v1_users,
    &fedrpc_schema_fedrpc_reflection_v1_reflection,
};
#define N_ROOTS (sizeof(roots) / sizeof(roots[0]))

/* Files met in a walk; schemas are few and small, so a flat list. */
#define MAX_FILES 64
typedef struct file_list {
	const fedrpc_schema_file *f[MAX_FILES];
	size_t                    n;
} file_list;

static bool
listed(const file_list *l, const fedrpc_schema_file *f)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->f[i] == f)
			return true;
	return false;
}

/* f, then its imports depth first, each once. */
static void
closure(file_list *l, const fedrpc_schema_file *f)
{
	if (listed(l, f) || l->n == MAX_FILES)
		return;
	l->f[l->n++] = f;
	for (size_t i = 0; i < f->n_deps; i++)
		closure(l, f->deps[i]);
}

static const fedrpc_schema_file *
find_file(bool (*match)(const fedrpc_schema_file *, const char *),
    const char *key)
{
	file_list all = {0};

	for (size_t i = 0; i < N_ROOTS; i++)
		closure(&all, roots[i]);
	for (size_t i = 0; i < all.n; i++)
		if (match(all.f[i], key))
			return all.f[i];
	return NULL;
}

static bool
has_name(const fedrpc_schema_file *f, const char *name)
{
	return strcmp(f->name, name) == 0;
}

static bool
defines(const fedrpc_schema_file *f, const char *symbol)
{
	for (size_t i = 0; i < f->n_symbols; i++)
		if (strcmp(f->symbols[i], symbol) == 0)
			return true;
	return false;
}

static fedrpc_code
answer_file(fedrpc_ctx *ctx, const fedrpc_schema_file *f, file_response *resp,
    fedrpc_status *st)
{
	file_list l = {0};

	closure(&l, f);
	resp->file_descriptor_proto =
	    fedrpc_ctx_alloc(ctx, l.n * sizeof(*resp->file_descriptor_proto));
	if (resp->file_descriptor_proto == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "reflection: out of memory");
	for (size_t i = 0; i < l.n; i++) {
		resp->file_descriptor_proto[i].data =
		    (uint8_t *) l.f[i]->descriptor;
		resp->file_descriptor_proto[i].len = l.f[i]->descriptor_len;
	}
	resp->n_file_descriptor_proto = l.n;
	return FEDRPC_OK;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
service_served(fedrpc_server *srv, const fedrpc_schema_file *f,
    const char *service)
{
	size_t n = strlen(service);

	for (size_t i = 0; i < f->n_methods; i++)
		if (strncmp(f->methods[i], service, n) == 0 &&
		    f->methods[i][n] == '/' && fedrpc_server_serves(srv, f->methods[i]))
			return true;
	return false;
}

static fedrpc_code
list_services(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Reflection__V1__ListServicesRequest *req,
    Fedrpc__Reflection__V1__ListServicesResponse *resp, fedrpc_status *st)
{
	fedrpc_server *srv = impl;
	size_t         cap = 0;

	(void) req;
	for (size_t i = 0; i < N_ROOTS; i++)
		cap += roots[i]->n_methods;
	if ((resp->services = fedrpc_ctx_alloc(ctx, (cap + 1) * sizeof(char *))) ==
	    NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "reflection: out of memory");
	for (size_t i = 0; i < N_ROOTS; i++) {
		const fedrpc_schema_file *f = roots[i];

		for (size_t j = 0; j < f->n_methods; j++) {
			const char *slash = strchr(f->methods[j], '/');
			char       *svc;

			if (slash == NULL ||
			    (svc = fedrpc_ctx_alloc(ctx,
			         (size_t) (slash - f->methods[j]) + 1)) == NULL)
				continue;
			memcpy(svc, f->methods[j], (size_t) (slash - f->methods[j]));
			svc[slash - f->methods[j]] = '\0';
			if (service_served(srv, f, svc) &&
			    (resp->n_services == 0 ||
			        strcmp(resp->services[resp->n_services - 1], svc)))
				resp->services[resp->n_services++] = svc;
		}
	}
	qsort(resp->services, resp->n_services, sizeof(char *), name_cmp);
	return FEDRPC_OK;
}

static fedrpc_code
file_by_name(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Reflection__V1__FileByNameRequest *req, file_response *resp,
    fedrpc_status *st)
{
	const fedrpc_schema_file *f;

	(void) impl;
	if ((f = find_file(has_name, req->name)) == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "reflection: no schema file \"%s\"", req->name);
	return answer_file(ctx, f, resp, st);
}

static fedrpc_code
file_containing_symbol(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Reflection__V1__FileContainingSymbolRequest *req,
    file_response *resp, fedrpc_status *st)
{
	const fedrpc_schema_file *f;
	const char               *sym = req->symbol;
	char                      norm[512];
	char                     *slash;

	(void) impl;
	if (sym[0] == '.')
		sym++;
	snprintf(norm, sizeof(norm), "%s", sym);
	if ((slash = strchr(norm, '/')) != NULL)
		*slash = '.';
	if ((f = find_file(defines, norm)) == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "reflection: no schema defines \"%s\"", req->symbol);
	return answer_file(ctx, f, resp, st);
}

fedrpc_code
federator_reflection_register(fedrpc_server *srv, fedrpc_status *st)
{
	const fedrpc_reflection_v1_reflection_handlers h = {
	    .list_services          = list_services,
	    .file_by_name           = file_by_name,
	    .file_containing_symbol = file_containing_symbol,
	};

	return fedrpc_reflection_v1_reflection_register(srv, &h, srv, st);
}
