/*
 * Input rules every adapter applies the same way: domains, names, and the
 * domain a qualified id must have (ours, or the caller's); the UUID and
 * handle rules are the shared runtime's (include/fedrpc/ids.h). Each check
 * sets a status naming the offending field.
 */
#ifndef FEDRPC_BACKENDS_REFERENCE_IDS_H
#define FEDRPC_BACKENDS_REFERENCE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/ids.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "fedrpc/federation/v1/common.pb-c.h"

typedef Fedrpc__Federation__V1__QualifiedId adp_qid;

/* Most entries a list in a request may hold. */
#define ADP_MAX_LIST 1000
/* Search results, as in Wire. */
#define ADP_MAX_SEARCH 15
/* The last-resort prekey id. */
#define ADP_LAST_PREKEY 65535u

/*
 * A domain of a request (in the call's own memory) checked by the one rule
 * (core/base/dns_name.c, dns_domain_check) and rewritten in place in the
 * one spelling kept (lower case, no final dot). Not one: INVALID_ARGUMENT
 * "<what>: '<d>' is not a valid domain name: <reason>", d untouched.
 */
fedrpc_code adp_domain_take(char *d, const char *what, fedrpc_status *st);
/* Valid UTF-8 of min..max code points, no NUL or control characters. */
bool adp_text_valid(const char *s, size_t min, size_t max);

/* A fresh random lower-case UUID into out[37]. */
void adp_uuid_new(char out[37]);
/* A random non-zero 64-bit number. */
uint64_t adp_random_u64(void);
/* Milliseconds since the Unix epoch. */
int64_t adp_now_ms(void);

/* INVALID_ARGUMENT unless q is set with a valid UUID and domain. */
fedrpc_code adp_check_qid(const adp_qid *q, const char *what,
    fedrpc_status *st);
/* Also needs q->domain == ours (INVALID_ARGUMENT otherwise). */
fedrpc_code adp_check_ours(const adp_qid *q, const char *ours,
    const char *what, fedrpc_status *st);
/* Also needs q->domain == the request's origin (PERMISSION_DENIED). */
fedrpc_code adp_check_origin(const adp_qid *q, fedrpc_ctx *ctx,
    const char *what, fedrpc_status *st);

/* True when a and b name the same id. */
bool adp_qid_eq(const adp_qid *a, const adp_qid *b);
/* Orders by (domain, id). */
int adp_qid_cmp(const adp_qid *a, const adp_qid *b);
/*
 * The first position of a list of n ids that repeats an earlier one, or n
 * when none does (n log n: lists may have thousands). RESOURCE_EXHAUSTED
 * when out of memory.
 */
fedrpc_code adp_first_repeat(adp_qid *const *ids, size_t n, size_t *at,
    fedrpc_status *st);
/* INVALID_ARGUMENT naming the first id that repeats an earlier one. */
fedrpc_code adp_check_unique(adp_qid *const *ids, size_t n,
    const char *what, fedrpc_status *st);

/*
 * FAILED_PRECONDITION unless the request's API version is one we serve
 * (the callee rule of docs/federation-api.md).
 */
fedrpc_code adp_check_version(fedrpc_ctx *ctx, const uint32_t *versions,
    size_t n, const char *ours, fedrpc_status *st);

/* Arena helpers for filling responses. */
adp_qid *adp_qid_new(fedrpc_ctx *ctx, const char *domain, const char *id);
adp_qid *adp_qid_dup(fedrpc_ctx *ctx, const adp_qid *q);
/* A zeroed array of n pointers from the call's arena. */
void *adp_ptrs(fedrpc_ctx *ctx, size_t n);
/* A copy of any message into the call's arena (pack and unpack). */
ProtobufCMessage *adp_clone(fedrpc_ctx *ctx, const ProtobufCMessage *m);

#endif
