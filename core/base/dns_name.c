/*
 * DNS names as fedrpc keeps and compares them. One spelling per name
 * (lower case, no final dot) so that cache keys, certificate checks and
 * per-peer accounting agree: written once, used by discovery and by the
 * server's admission.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "core/base/dns_name.h"

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

bool
dns_name_normalize(const char *in, char *out)
{
	size_t len, label = 0;

	if (in == NULL)
		return false;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = lower(in[i]);

		if (c == '.') {
			/* No empty label, none ending in '-'. */
			if (label == 0 || out[i - 1] == '-')
				return false;
			label = 0;
		} else if (!name_char_ok(c) || ++label > 63 ||
		    (label == 1 && c == '-')) {
			return false;
		}
		out[i] = c;
	}
	out[len] = '\0';
	return label > 0 && out[len - 1] != '-';
}

bool
dns_name_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return false;
	la = strlen(a);
	lb = strlen(b);
	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

bool
dns_name_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}
