/*
 * fedctl rpc describe: a service, method, message or enum of a descriptor
 * pool shown as .proto text, with the JSON name of every field (what
 * --data takes) and the file it comes from.
 */
#ifndef FEDRPC_RPC_DESCRIBE_H
#define FEDRPC_RPC_DESCRIBE_H

#include <fedrpc/status.h>

#include "rpc_pool.h"

/* The description of symbol ("pkg.Svc", "pkg.Svc/Method",
 * "pkg.Svc.Method", "pkg.Msg", "pkg.Enum") into *out (malloc'd);
 * NOT_FOUND when the pool has no such symbol. */
fedrpc_code rpc_describe(const rpc_pool *pool, const char *symbol, char **out,
    fedrpc_status *st);

#endif
