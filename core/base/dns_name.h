/*
 * DNS names as fedrpc keeps and compares them, on both sides: lower case,
 * no final dot, checked against the length and character rules of host
 * names; and the one rule for what a federation domain is
 * (dns_domain_check), which every layer asks. Discovery keys its cache with them, and the server gives every
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

/*
 * The one rule for a federation domain, used by every layer (config,
 * allow list, origin authentication, ids, backends, fedctl): `in` is
 * normalised as above (case folded, one final dot dropped) into `out`
 * (DNS_NAME_MAX bytes, or NULL for a check alone), then must be LDH: labels of 1-63 letters, digits
 * and inner '-', 253 characters in all, the final label not all digits
 * (so no IP address passes as a domain). One label is enough ("localhost").
 * '_' is refused: a domain is a host name and the dNSName of a
 * certificate, both LDH; SRV owner names such as "_fedrpc._tcp.<domain>"
 * are built from a valid domain where they are queried, never accepted as
 * one. On failure `why` (why_len bytes, may be NULL) gets a short reason
 * such as "empty label" for the caller to prefix with the setting or
 * field and the name, and false is returned.
 */
bool dns_domain_check(
    const char *in, char *out, char *why, size_t why_len);

/* dns_domain_check without the copy or the reason. */
bool dns_domain_valid(const char *in);

/* Equal as DNS names: case and a final dot ignored. */
bool dns_name_equal(const char *a, const char *b);

/* True for an IPv4 or IPv6 address literal. */
bool dns_name_is_ip(const char *s);

#endif
