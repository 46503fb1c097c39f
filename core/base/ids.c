/*
 * The id rules of include/fedrpc/ids.h. They stand apart from the DNS name
 * rule (core/base/dns_name.c, dns_domain_check) that a qualified id's
 * domain follows, and are what the reference backend and fedctl both ask.
 */
#include <ctype.h>
#include <string.h>

#include <fedrpc/ids.h>

#include "core/base/dns_name.h"

/* Where a UUID's text has its dashes. */
static bool
dash_at(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

bool
fedrpc_uuid_valid(const char *s)
{
	if (s == NULL || strlen(s) != FEDRPC_UUID_LEN)
		return false;
	for (size_t i = 0; i < FEDRPC_UUID_LEN; i++) {
		char c = s[i];

		if (dash_at(i) ? c != '-'
		               : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

bool
fedrpc_uuid_normalize(const char *s, size_t n, char *out)
{
	if (s == NULL || n != FEDRPC_UUID_LEN)
		return false;
	for (size_t i = 0; i < FEDRPC_UUID_LEN; i++)
		if (dash_at(i) ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
			return false;
	for (size_t i = 0; i < FEDRPC_UUID_LEN; i++)
		out[i] = (char) tolower((unsigned char) s[i]);
	out[FEDRPC_UUID_LEN] = '\0';
	return true;
}

bool
fedrpc_handle_valid_n(const char *s, size_t n)
{
	if (s == NULL || n < FEDRPC_HANDLE_MIN || n > FEDRPC_HANDLE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

bool
fedrpc_handle_valid(const char *s)
{
	return s != NULL && fedrpc_handle_valid_n(s, strlen(s));
}

bool
fedrpc_qid_parse(const char *s, char *id, char *domain, size_t domain_size)
{
	const char *at = s != NULL ? strchr(s, '@') : NULL;
	char        uuid[FEDRPC_UUID_LEN + 1], name[DNS_NAME_MAX];
	size_t      n;

	if (at == NULL || !fedrpc_uuid_normalize(s, (size_t) (at - s), uuid))
		return false;
	if (!dns_domain_check(at + 1, name, NULL, 0) ||
	    (n = strlen(name)) >= domain_size)
		return false;
	memcpy(id, uuid, sizeof(uuid));
	memcpy(domain, name, n + 1);
	return true;
}
