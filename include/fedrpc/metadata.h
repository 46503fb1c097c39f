/*
 * Call metadata: an ordered list of key/value pairs sent with a request or a
 * reply, as gRPC's metadata. Keys are lower-case ASCII.
 */
#ifndef FEDRPC_METADATA_H
#define FEDRPC_METADATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_metadata_entry {
	const char    *key;   /* NUL-terminated */
	const uint8_t *value; /* value_len bytes, not NUL-terminated */
	size_t         value_len;
} fedrpc_metadata_entry;

/* A borrowed view: the entries belong to whoever built the array. */
typedef struct fedrpc_metadata {
	size_t                       n;
	const fedrpc_metadata_entry *entries;
} fedrpc_metadata;

/* First value under key, or NULL; *len receives its length. */
const uint8_t *fedrpc_metadata_get(
    const fedrpc_metadata *md, const char *key, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
