/*
 * The backend adapter interface: what a storage backend implements so that
 * the federator can serve the federation API and the local API from it, and
 * what the daemon gives an adapter (our domain, search policies, API
 * versions, channels to other domains). Built-in adapters are found by
 * name; third-party ones are loaded from a shared object.
 */
#ifndef FEDRPC_ADAPTER_H
#define FEDRPC_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include <fedrpc/channel.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "fedrpc/federation/v1/users.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Bumped whenever fedrpc_adapter or fedrpc_adapter_env change shape. A
 * shared object built against another version is refused at load.
 */
#define FEDRPC_ADAPTER_ABI_VERSION 2

/* The symbol a shared-object adapter exports (a fedrpc_adapter_entry_fn). */
#define FEDRPC_ADAPTER_ENTRY_SYMBOL "fedrpc_adapter_entry"

/* The proto enum: SEARCH_POLICY_NO_SEARCH, _EXACT_HANDLE_SEARCH, ... */
typedef Fedrpc__Federation__V1__SearchPolicy fedrpc_adapter_search_policy;

/*
 * How an adapter delivers what it owes other domains (its outbox: see
 * docs/delivery.md). Zero fields take the defaults.
 */
typedef struct fedrpc_adapter_delivery {
	/* Full-jitter exponential back-off per destination: the n-th pause
	 * in a row is uniform in [0, min(max, initial * 2^(n-1))].
	 * 0: 10 ms and 300000 ms. */
	uint32_t backoff_initial_ms;
	uint32_t backoff_max_ms;
	/* An item not delivered after this many seconds is moved aside
	 * (reported, kept for an operator); request ids received are kept at
	 * least as long. 0: 30 days. */
	uint32_t expiry_s;
	/* How long a local call waits for the first attempt at what it owes
	 * other domains before it answers (what did not arrive by then is
	 * reported as queued). 0: 3000 ms; UINT32_MAX: answer at once. */
	uint32_t wait_ms;
	/* Destinations delivered at the same time. 0: 4. */
	uint32_t workers;
	/* This instance's name among the federator instances sharing one
	 * store: the holder of a destination's delivery lease. NULL: the
	 * host name. Copied at open. */
	const char *instance;
	/* How long a destination's delivery lease lasts unless renewed:
	 * another instance takes over the destinations of one that died
	 * after at most this long. 0: 30000 ms. (Last, so that adapters
	 * built before it read the fields above where they were.) */
	uint32_t lease_ms;
} fedrpc_adapter_delivery;

/*
 * What the daemon gives an adapter. The adapter copies the struct, the
 * domain and the versions at open; the callbacks and their arguments must
 * stay valid until the adapter is closed. Callbacks may be called from any
 * worker thread at once.
 */
typedef struct fedrpc_adapter_env {
	const char *domain; /* our federation domain, lower case; required */
	/* The policy we hold for users of `domain` searching ours (the
	 * allow-list entry's, else the default). NULL: NO_SEARCH for all. */
	fedrpc_adapter_search_policy (*search_policy)(
	    void *arg, const char *domain);
	void *search_policy_arg;
	/* Federation API versions served, ascending; NULL/0: {1}. */
	const uint32_t *api_versions;
	size_t          n_api_versions;
	/*
	 * A channel to another domain's federation endpoint, with the origin
	 * and target domains and the negotiated API version set. Borrowed:
	 * it stays the daemon's and must stay usable until close. NULL with
	 * st set when the domain cannot be reached or is not allowed
	 * (PERMISSION_DENIED). NULL callback: every other domain is
	 * unreachable.
	 */
	fedrpc_channel *(*channel_for)(
	    void *arg, const char *domain, fedrpc_status *st);
	void    *channel_arg;
	uint32_t call_timeout_ms; /* each call to another domain; 0: 10 s */
	fedrpc_adapter_delivery delivery;
} fedrpc_adapter_env;

/*
 * One adapter implementation (a table of functions, usually static const).
 * `config` is adapter-specific text: a file path for SQLite, a connection
 * string for PostgreSQL.
 */
typedef struct fedrpc_adapter {
	uint32_t    abi_version; /* FEDRPC_ADAPTER_ABI_VERSION */
	const char *name;        /* "sqlite", ... */
	/* Opens a backend; *instance is the adapter's until close. */
	fedrpc_code (*open)(const fedrpc_adapter_env *env, const char *config,
	    void **instance, fedrpc_status *st);
	/* Closes what open made; the servers it registered with are
	 * stopped first. */
	void (*close)(void *instance);
	/*
	 * Registers the federation services (Users, Conversations, Version of
	 * fedrpc.federation.v1) with federation_srv and the local services
	 * (fedrpc.local.v1) with local_srv, before they start. Either server
	 * may be NULL to leave that side unserved.
	 */
	fedrpc_code (*register_handlers)(void *instance,
	    fedrpc_server *federation_srv, fedrpc_server *local_srv,
	    fedrpc_status *st);
	/*
	 * Optional (NULL: not wanted). The daemon heard from `domain`: a
	 * call of it passed origin authentication and admission. An adapter
	 * that delivers to it ends its back-off and tries again at once. Any
	 * thread, any time between open and close.
	 */
	void (*peer_heard)(void *instance, const char *domain);
} fedrpc_adapter;

/* What a shared object's FEDRPC_ADAPTER_ENTRY_SYMBOL is. */
typedef const fedrpc_adapter *(*fedrpc_adapter_entry_fn)(void);

/*
 * ---- the daemon's adapter registry ----
 * What follows is the federator's (backends/, linked into the daemon),
 * not libfedrpc's: a shared-object adapter implements the table above and
 * the daemon loads it; programs built on libfedrpc cannot call these.
 */

/* A built-in adapter by name ("sqlite"), or NULL. */
const fedrpc_adapter *fedrpc_adapter_builtin(const char *name);

/*
 * An open adapter: the implementation, its instance and, for a shared
 * object, the library handle. Owned by whoever opened it.
 */
typedef struct fedrpc_adapter_instance fedrpc_adapter_instance;

/*
 * Opens an adapter. `name_or_path` is a built-in name, or the path of a
 * shared object (anything containing '/' or ending in ".so") whose entry
 * symbol returns the adapter; its ABI version must match. Errors are
 * NOT_FOUND (no such adapter or file), FAILED_PRECONDITION (no entry
 * symbol, wrong ABI version, incomplete table) or the adapter's own.
 */
fedrpc_code fedrpc_adapter_open(const char *name_or_path,
    const fedrpc_adapter_env *env, const char *config,
    fedrpc_adapter_instance **out, fedrpc_status *st);

/* The implementation behind an instance (its name, ...). */
const fedrpc_adapter *fedrpc_adapter_instance_adapter(
    const fedrpc_adapter_instance *inst);

/* Calls the adapter's register_handlers. */
fedrpc_code fedrpc_adapter_register(fedrpc_adapter_instance *inst,
    fedrpc_server *federation_srv, fedrpc_server *local_srv,
    fedrpc_status *st);

/* Calls the adapter's peer_heard, if it has one. NULL inst is fine. */
void fedrpc_adapter_peer_heard(fedrpc_adapter_instance *inst,
    const char *domain);

/* Closes the instance and unloads its shared object. NULL is fine. */
void fedrpc_adapter_close(fedrpc_adapter_instance *inst);

/* The SQLite adapter's table (also reachable as builtin "sqlite"). */
extern const fedrpc_adapter fedrpc_adapter_sqlite;
/* The PostgreSQL adapter's table (builtin "postgresql"; its config is a
 * libpq connection string). */
extern const fedrpc_adapter fedrpc_adapter_postgresql;

/*
 * Shorthand for the embedded default: opens (creating or migrating) the
 * SQLite database at `path` (":memory:" for a private in-memory one).
 */
fedrpc_code fedrpc_sqlite_adapter_open(const char *path,
    const fedrpc_adapter_env *env, fedrpc_adapter_instance **out,
    fedrpc_status *st);

#ifdef __cplusplus
}
#endif
#endif
