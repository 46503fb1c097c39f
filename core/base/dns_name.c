/*
 * DNS names as fedrpc keeps and compares them. One spelling per name
 * (lower case, no final dot) so that cache keys, certificate checks and
 * per-peer accounting agree: written once, used by discovery and by the
 * server's admission.
 */
#include <arpa/inet.h>
#include <stdio.h>
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

static bool
refuse(char *why, size_t len, const char *reason)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", reason);
	return false;
}

/* One label of a folded name: LDH, 1-63 characters. */
static bool
label_ok(const char *l, size_t n, char *why, size_t len)
{
	if (n == 0)
		return refuse(why, len, "empty label");
	if (n > 63)
		return refuse(why, len, "label longer than 63 characters");
	if (l[0] == '-')
		return refuse(why, len, "label starts with '-'");
	if (l[n - 1] == '-')
		return refuse(why, len, "label ends with '-'");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) l[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-')
			continue;
		if (c == '_')
			return refuse(why, len,
			    "'_' is not allowed in a domain");
		if (why != NULL && len > 0)
			snprintf(why, len,
			    c >= 0x20 && c < 0x7f
			        ? "character '%c' is not allowed"
			        : "character 0x%02x is not allowed",
			    c);
		return false;
	}
	return true;
}

static bool
all_digits(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool
dns_domain_check(const char *in, char *out, char *why, size_t why_len)
{
	char        scratch[DNS_NAME_MAX];
	char       *o = out != NULL ? out : scratch;
	size_t      len;
	const char *label;

	if (in == NULL || in[0] == '\0')
		return refuse(why, why_len, "empty name");
	len = strlen(in);
	if (in[len - 1] == '.')
		len--; /* "b.example." is b.example */
	if (len == 0)
		return refuse(why, why_len, "empty name");
	if (len > 253)
		return refuse(why, why_len, "longer than 253 characters");
	for (size_t i = 0; i < len; i++)
		o[i] = lower(in[i]);
	o[len] = '\0';
	for (label = o;;) {
		size_t n = strcspn(label, ".");

		if (!label_ok(label, n, why, why_len))
			return false;
		if (label[n] == '\0')
			break;
		label += n + 1;
	}
	if (all_digits(label))
		return refuse(why, why_len,
		    "final label is all digits (an address, not a domain)");
	return true;
}

bool
dns_domain_valid(const char *in)
{
	return dns_domain_check(in, NULL, NULL, 0);
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
