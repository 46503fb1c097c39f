/*
 * Test certificates on top of fedrpc's pki tooling; see testcerts.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <criterion/criterion.h>

#include <fedrpc/pki.h>

#include "testcerts.h"

/* "dir/name.ext" in one of a few static buffers (a call needs four). */
static const char *
cert_path(const char *dir, const char *name, const char *ext)
{
	static __thread char ring[6][1024];
	static __thread int  next;
	char                *buf = ring[next++ % 6];

	if ((size_t) snprintf(buf, sizeof(ring[0]), "%s/%s.%s", dir, name,
	        ext) >= sizeof(ring[0]))
		cr_assert_fail("testcerts: path too long: %s/%s.%s", dir, name,
		    ext);
	return buf;
}

void
testcerts_ca(const char *dir, const char *name)
{
	fedrpc_status st = {0};

	if (fedrpc_pki_ca_create(cert_path(dir, name, "crt"),
	        cert_path(dir, name, "key"), name, FEDRPC_PKI_KEY_P256, 365,
	        &st) != FEDRPC_OK)
		cr_assert_fail("testcerts_ca(%s): %s: %s", name,
		    fedrpc_code_name(st.code), st.message);
}

void
testcerts_leaf(const char *dir, const char *ca, const char *name,
    const char *const *dns)
{
	testcerts_leaf_ex(dir, ca, name, dns, -3600, 30L * 86400,
	    FEDRPC_PKI_KEY_P256);
}

/* Issues the leaf; aborts the test with the reason on failure. */
static void
leaf_issue(const char *dir, const char *ca, const char *name,
    const char *const *dns, long not_before_offset, long not_after_offset,
    int key_type, unsigned key_usage)
{
	fedrpc_status         st  = {0};
	time_t                now = time(NULL);
	size_t                n   = 0;
	fedrpc_pki_issue_opts o   = {
	      .ca_cert  = cert_path(dir, ca, "crt"),
	      .ca_key   = cert_path(dir, ca, "key"),
	      .cert_out = cert_path(dir, name, "crt"),
	      .key_out  = cert_path(dir, name, "key"),
	      .key_type = (fedrpc_pki_key_type) key_type,
	      .usage    = FEDRPC_PKI_USAGE_BOTH,
	      .key_usage = key_usage,
        };

	while (dns != NULL && dns[n] != NULL)
		n++;
	o.dns_names   = dns;
	o.n_dns_names = n;
	o.common_name = n > 0 ? dns[0] : name;
	o.not_before  = now + not_before_offset;
	o.not_after   = now + not_after_offset;
	if (fedrpc_pki_issue(&o, &st) != FEDRPC_OK)
		cr_assert_fail("testcerts_leaf(%s by %s): %s: %s", name, ca,
		    fedrpc_code_name(st.code), st.message);
}

void
testcerts_leaf_ex(const char *dir, const char *ca, const char *name,
    const char *const *dns, long not_before_offset, long not_after_offset,
    int key_type)
{
	leaf_issue(dir, ca, name, dns, not_before_offset, not_after_offset,
	    key_type, 0);
}

void
testcerts_leaf_usage(const char *dir, const char *ca, const char *name,
    const char *const *dns, unsigned key_usage)
{
	leaf_issue(dir, ca, name, dns, -3600, 30L * 86400, FEDRPC_PKI_KEY_P256,
	    key_usage);
}

void
testcerts_crl(const char *dir, const char *ca,
    const char *const *revoked_leaf_names)
{
	fedrpc_status          st = {0};
	fedrpc_pki_cert_info   info;
	size_t                 n = 0;
	char                 (*hex)[FEDRPC_PKI_SERIAL_HEX_MAX] = NULL;
	const char           **serials                         = NULL;

	while (revoked_leaf_names != NULL && revoked_leaf_names[n] != NULL)
		n++;
	if (n > 0) {
		hex     = calloc(n, sizeof(*hex));
		serials = calloc(n, sizeof(*serials));
		if (hex == NULL || serials == NULL)
			cr_assert_fail("testcerts_crl: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const char *leaf = cert_path(dir, revoked_leaf_names[i], "crt");

		if (fedrpc_pki_info(leaf, &info, &st) != FEDRPC_OK)
			cr_assert_fail("testcerts_crl(%s): %s: %s", leaf,
			    fedrpc_code_name(st.code), st.message);
		snprintf(hex[i], sizeof(hex[i]), "%s", info.serial_hex);
		serials[i] = hex[i];
		fedrpc_pki_info_clear(&info);
	}
	if (fedrpc_pki_crl_create(cert_path(dir, ca, "crt"),
	        cert_path(dir, ca, "key"), cert_path(dir, ca, "crl"), serials,
	        n, 30, &st) != FEDRPC_OK)
		cr_assert_fail("testcerts_crl(%s): %s: %s", ca,
		    fedrpc_code_name(st.code), st.message);
	free(serials);
	free(hex);
}
