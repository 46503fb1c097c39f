/*
 * DNS names as fedrpc keeps and compares them, on both sides: lower case,
 * no final dot, checked against the length and character rules of host
 * names. Discovery keys its cache with them, and the server gives every
 * request's origin this one spelling before admission looks at it.
 */
#ifndef FEDRPC_CORE_DNS_NAME_H
#define FEDRPC_CORE_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* Longest name kept, with its NUL (a DNS name has at most 253 chars). */
#define DNS_NAME_MAX 256

/*
 * Copies `in` to `out` (DNS_NAME_MAX bytes) in lower case without a final
 * dot. False if it is not a usable name: empty, too long, an empty or
 * over-long label, a label starting or ending with '-', or a character
 * other than letters, digits, '-' and '_'.
 */
bool dns_name_normalize(const char *in, char *out);

/* Equal as DNS names: case and a final dot ignored. */
bool dns_name_equal(const char *a, const char *b);

/* True for an IPv4 or IPv6 address literal. */
bool dns_name_is_ip(const char *s);

#endif
