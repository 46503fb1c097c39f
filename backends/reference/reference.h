/*
 * The reference backend as an adapter: Wire's M1 semantics over any store
 * (store.h). An adapter for a store (backends/builtin.c: "sqlite") names
 * the store's open function; the three functions below are then its
 * table's open, close and register_handlers.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_REFERENCE_H
#define FEDRPC_BACKENDS_REFERENCE_REFERENCE_H

#include <fedrpc/adapter.h>

#include "backends/reference/store.h"

/*
 * Checks and copies the environment as fedrpc_adapter.open does, then
 * opens the store with open_store(config) and the service over it.
 */
fedrpc_code fedrpc_reference_open(const fedrpc_adapter_env *env,
    fedrpc_store_open_fn open_store, const char *config, void **instance,
    fedrpc_status *st);
/* Closes the service and its store. NULL is fine. */
void fedrpc_reference_close(void *instance);
/* The daemon heard from `domain` (fedrpc_adapter.peer_heard): delivery
 * to it resumes at once. */
void fedrpc_reference_peer_heard(void *instance, const char *domain);
/* Registers the federation and local services (either server may be
 * NULL), as fedrpc_adapter.register_handlers. */
fedrpc_code fedrpc_reference_register(void *instance,
    fedrpc_server *federation_srv, fedrpc_server *local_srv,
    fedrpc_status *st);

#endif
