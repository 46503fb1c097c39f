/*
 * The router: the handlers a server was given, by fully qualified method
 * name. Handlers are added before the server starts; at start an
 * open-addressing index is built once, and every request finds its handler
 * without a lock.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/hash.h"
#include "server/server_int.h"

fedrpc_code
fedrpc_server_add_handler(
    fedrpc_server *srv, const fedrpc_handler *h, fedrpc_status *st)
{
	if (h == NULL || h->method == NULL || h->method->full_name == NULL ||
	    h->method->input == NULL || h->method->output == NULL ||
	    h->fn == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "handler needs a method with input and output and a fn");
	if (srv->state != SRV_NEW)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "handlers are added before the server starts");
	for (size_t i = 0; i < srv->n_handlers; i++)
		if (strcmp(srv->handlers[i].method->full_name,
		        h->method->full_name) == 0)
			return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
			    "method %s already has a handler",
			    h->method->full_name);
	if (srv->n_handlers == srv->cap_handlers) {
		size_t cap = srv->cap_handlers ? 2 * srv->cap_handlers : 16;
		fedrpc_handler *hs =
		    realloc(srv->handlers, cap * sizeof(*hs));

		if (hs == NULL)
			return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "out of memory adding a handler");
		srv->handlers     = hs;
		srv->cap_handlers = cap;
	}
	srv->handlers[srv->n_handlers++] = *h;
	return FEDRPC_OK;
}

/* An open-addressing index at least twice the handler count. */
int
srv_router_build(fedrpc_server *srv)
{
	size_t n = 8;

	while (n < 2 * srv->n_handlers)
		n <<= 1;
	if ((srv->by_name = calloc(n, sizeof(*srv->by_name))) == NULL)
		return -1;
	srv->by_name_mask = n - 1;
	for (size_t i = 0; i < srv->n_handlers; i++) {
		size_t j = fedrpc_hash_str(FEDRPC_HASH_INIT, srv->handlers[i].method->full_name) &
		    srv->by_name_mask;

		while (srv->by_name[j] != NULL)
			j = (j + 1) & srv->by_name_mask;
		srv->by_name[j] = &srv->handlers[i];
	}
	return 0;
}

const fedrpc_handler *
srv_handler_find(fedrpc_server *srv, const char *name)
{
	size_t j = fedrpc_hash_str(FEDRPC_HASH_INIT, name) & srv->by_name_mask;

	for (; srv->by_name[j] != NULL; j = (j + 1) & srv->by_name_mask)
		if (strcmp(srv->by_name[j]->method->full_name, name) == 0)
			return srv->by_name[j];
	return NULL;
}


/* For reflection: whether a handler was registered under the name. Once
 * the server started the handler list no longer changes. */
bool
fedrpc_server_serves(fedrpc_server *srv, const char *method)
{
	if (srv == NULL || method == NULL)
		return false;
	for (size_t i = 0; i < srv->n_handlers; i++)
		if (strcmp(srv->handlers[i].method->full_name, method) == 0)
			return true;
	return false;
}
