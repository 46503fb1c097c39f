/*
 * fedctl rpc's connections: to another domain over mutual TLS (found by
 * DNS SRV discovery, a configuration's static routes or --address), or to
 * the local federator's API socket; calls of any method by name with the
 * request and the reply as serialized bytes; and the reflection service's
 * schemas loaded into a descriptor pool.
 */
#ifndef FEDCTL_RPC_CONN_H
#define FEDCTL_RPC_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/config.h>
#include <fedrpc/domain.h>

#include "rpc_pool.h"

typedef struct rpc_conn_opts {
	const char *config;        /* federator configuration, or NULL */
	const char *ca, *cert, *key;
	const char *origin;        /* our domain (default: the config's) */
	const char *nameserver;    /* NULL: config, else resolv.conf */
	const char *service;       /* SRV label; NULL: config, else default */
	const char *address;       /* HOST:PORT: a static route for the domain */
	const char *socket;        /* the local API, for no domain */
	uint32_t    timeout_ms;    /* each call, the connection included */
} rpc_conn_opts;

typedef struct rpc_conn {
	fedrpc_config      *cfg;  /* owned; from --config */
	fedrpc_domains     *pool; /* owned; for a domain */
	fedrpc_channel     *ch;   /* owned */
	fedrpc_static_route *statics; /* owned array; strings borrowed */
	char                host[256];
	char                where[300]; /* "b.example", "the local API ..." */
	uint32_t            timeout_ms;
	bool                tls_up;
} rpc_conn;

/* Connects to domain over mutual TLS (the connection is made by the
 * first call). INVALID_ARGUMENT for missing certificates or a bad
 * --address, naming the option. */
fedrpc_code rpc_conn_open_domain(rpc_conn *c, const rpc_conn_opts *o,
    const char *domain, fedrpc_status *st);

/* Connects to the local federator's API: --socket, else the config's
 * local_api, else $FEDRPC_SOCKET, else the default socket. */
fedrpc_code rpc_conn_open_local(
    rpc_conn *c, const rpc_conn_opts *o, fedrpc_status *st);

void rpc_conn_close(rpc_conn *c);

/* The reply of one call: its bytes and metadata (all owned). */
typedef struct rpc_reply {
	uint8_t *data;
	size_t   len;
	size_t   n_md;
	char   **md_keys;
	char   **md_values; /* as text (non-printable bytes as \xNN) */
} rpc_reply;

void rpc_reply_free(rpc_reply *r);

/* Calls method ("pkg.Svc/Method") with the serialized request; md (may
 * be NULL) goes with it. On FEDRPC_OK r has the reply; r's metadata is
 * filled whenever a reply arrived, also with an error status. */
fedrpc_code rpc_conn_call(rpc_conn *c, const char *method, const uint8_t *req,
    size_t len, const fedrpc_metadata *md, rpc_reply *r, fedrpc_status *st);

/* The services the server lists (sorted, malloc'd, each freed). */
fedrpc_code rpc_conn_services(rpc_conn *c, char ***out, size_t *n,
    fedrpc_status *st);

/* Loads the file defining symbol, with its imports, into pool (and
 * resolves it). NOT_FOUND when the server knows no such symbol. */
fedrpc_code rpc_conn_load_symbol(rpc_conn *c, rpc_pool *pool,
    const char *symbol, fedrpc_status *st);

#endif
