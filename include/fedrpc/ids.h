/*
 * The text forms of the ids of the federation API, written once: user and
 * conversation UUIDs, handles, and the qualified id "uuid@domain" people
 * type. The reference backend refuses what breaks them, fedctl checks what
 * users type against them before asking anyone, and a backend of one's
 * own (include/fedrpc/adapter.h) accepts and refuses the same ids when it
 * uses them, so every domain of a federation agrees on what an id is.
 */
#ifndef FEDRPC_IDS_H
#define FEDRPC_IDS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A UUID's text: 8-4-4-4-12 hex digits. */
#define FEDRPC_UUID_LEN 36
/* A handle's length, in bytes (Wire's rule). */
#define FEDRPC_HANDLE_MIN 2
#define FEDRPC_HANDLE_MAX 256

/* The canonical form, as ids travel: lower-case hex, dashes at 8, 13, 18
 * and 23, nothing else. NULL is not one. */
bool fedrpc_uuid_valid(const char *s);

/* The n bytes at s name a UUID in either case: its canonical form into
 * out (FEDRPC_UUID_LEN + 1 bytes). False, out untouched, otherwise. */
bool fedrpc_uuid_normalize(const char *s, size_t n, char *out);

/* The n bytes at s are a handle: FEDRPC_HANDLE_MIN..MAX of [a-z0-9_.-]. */
bool fedrpc_handle_valid_n(const char *s, size_t n);
/* The same for a string; NULL is not one. */
bool fedrpc_handle_valid(const char *s);

/*
 * "uuid@domain", in any case, into its canonical parts: the UUID into id
 * (FEDRPC_UUID_LEN + 1 bytes), the domain (a valid domain name,
 * fedrpc_domain_valid) in lower case without a final dot into domain (domain_size bytes; a
 * longer one is refused). False, with both untouched, if s is not one.
 */
bool fedrpc_qid_parse(const char *s, char *id, char *domain,
    size_t domain_size);

#ifdef __cplusplus
}
#endif

#endif
