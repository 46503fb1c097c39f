/*
 * Base64 for proto3 JSON's bytes: written in the standard alphabet with
 * padding; read in the standard or the URL-safe one, padding optional.
 */
#ifndef FEDRPC_RPC_BASE64_H
#define FEDRPC_RPC_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated encoding (malloc'd), or NULL when out of memory. */
char *rpc_base64_encode(const uint8_t *data, size_t len);

/* Decodes text into *out (malloc'd, *len bytes); false for text that is
 * not base64 (or out of memory). */
bool rpc_base64_decode(const char *text, size_t text_len, uint8_t **out,
    size_t *len);

#endif
