/*
 * Tests of the certificate tooling (fedrpc/pki.h and tests/support's
 * testcerts): what it writes must read back the same, and both wolfSSL's
 * CertManager and the openssl command must agree on what it means.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <fedrpc/pki.h>

#include "testcerts.h"
#include "testutil.h"

static char *dir;

static void
setup(void)
{
	wolfSSL_Init();
	dir = tu_tmpdir("pki");
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
	wolfSSL_Cleanup();
}

TestSuite(pki, .init = setup, .fini = teardown, .timeout = 60);

/* dir/<name> in a ring of static buffers. */
static const char *
at(const char *name)
{
	return tu_path(dir, name);
}

/* Runs a shell command; its output (stdout and stderr) goes to *out
 * (caller frees) and its exit status is returned. */
static int
sh(char **out, const char *fmt, ...)
{
	char   *cmd, *full, *buf = NULL;
	size_t  len = 0;
	FILE   *f, *mem;
	char    chunk[4096];
	size_t  n;
	va_list ap;
	int     status;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	cr_assert_geq(asprintf(&full, "(%s) 2>&1", cmd), 0);
	free(cmd);
	cmd = full;
	mem = open_memstream(&buf, &len);
	cr_assert_not_null(mem);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "cannot run %s", cmd);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	status = pclose(f);
	fclose(mem);
	free(cmd);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static fedrpc_pki_cert_info
info(const char *name)
{
	fedrpc_pki_cert_info i;
	fedrpc_status        st = {0};

	cr_assert_eq(fedrpc_pki_info(at(name), &i, &st), FEDRPC_OK,
	    "info %s: %s", name, st.message);
	return i;
}

/* wolfSSL's verdict on dir/<leaf>.crt given CA dir/<ca>.crt and, when
 * crl is not NULL, the CRL dir/<crl>. */
static int
cm_verify(const char *ca, const char *leaf, const char *crl)
{
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	int                   ret;

	cr_assert_not_null(cm);
	cr_assert_eq(wolfSSL_CertManagerLoadCA(cm, at(ca), NULL),
	    WOLFSSL_SUCCESS, "CertManager cannot load %s", ca);
	if (crl != NULL) {
		char *pem = tu_read_file(at(crl));

		cr_assert_not_null(pem);
		cr_assert_eq(wolfSSL_CertManagerEnableCRL(cm, 0),
		    WOLFSSL_SUCCESS);
		ret = wolfSSL_CertManagerLoadCRLBuffer(cm,
		    (const unsigned char *) pem, (long) strlen(pem),
		    WOLFSSL_FILETYPE_PEM);
		free(pem);
		cr_assert_eq(ret, WOLFSSL_SUCCESS,
		    "CertManager refused CRL %s: %d", crl, ret);
	}
	ret = wolfSSL_CertManagerVerify(cm, at(leaf), WOLFSSL_FILETYPE_PEM);
	wolfSSL_CertManagerFree(cm);
	return ret;
}

static void
issue(const char *ca, const char *name, const char *const *dns, size_t n,
    fedrpc_pki_key_type type, fedrpc_pki_usage usage, uint64_t serial,
    time_t not_before, time_t not_after)
{
	char                  crt[64], key[64], cacrt[64], cakey[64];
	fedrpc_status         st = {0};
	fedrpc_pki_issue_opts o  = {0};

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	snprintf(cacrt, sizeof(cacrt), "%s.crt", ca);
	snprintf(cakey, sizeof(cakey), "%s.key", ca);
	o.ca_cert     = at(cacrt);
	o.ca_key      = at(cakey);
	o.cert_out    = at(crt);
	o.key_out     = at(key);
	o.dns_names   = dns;
	o.n_dns_names = n;
	o.key_type    = type;
	o.usage       = usage;
	o.serial      = serial;
	o.not_before  = not_before;
	o.not_after   = not_after;
	cr_assert_eq(fedrpc_pki_issue(&o, &st), FEDRPC_OK, "issue %s: %s",
	    name, st.message);
}

static void
ca_create(const char *name, const char *cn, fedrpc_pki_key_type type)
{
	char          crt[64], key[64];
	fedrpc_status st = {0};

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	cr_assert_eq(fedrpc_pki_ca_create(at(crt), at(key), cn, type, 365,
	                 &st),
	    FEDRPC_OK, "CA %s: %s", name, st.message);
}

Test(pki, ca_and_leaf_read_back)
{
	const char *dns[] = {"a.example", "fed.a.example", "*.b.example"};
	time_t      now   = time(NULL);
	fedrpc_pki_cert_info ca, leaf, r1, r2;

	ca_create("ca", "Test Federation CA", FEDRPC_PKI_KEY_P256);
	issue("ca", "leaf", dns, 3, FEDRPC_PKI_KEY_P256,
	    FEDRPC_PKI_USAGE_SERVER, 0x1234, now - 100, now + 86400);

	ca = info("ca.crt");
	cr_expect_str_eq(ca.subject_cn, "Test Federation CA");
	cr_expect_str_eq(ca.issuer_cn, "Test Federation CA");
	cr_expect(ca.is_ca);
	cr_expect_eq(ca.key_type, FEDRPC_PKI_KEY_P256);
	cr_expect_eq(ca.n_dns_names, 0);
	cr_expect_eq(strlen(ca.serial_hex), 32, "random 16-byte serial: %s",
	    ca.serial_hex);
	cr_expect_leq(ca.not_before, now);
	cr_expect_geq(ca.not_after, now + 364 * 86400);

	leaf = info("leaf.crt");
	cr_expect_str_eq(leaf.subject_cn, "a.example");
	cr_expect_str_eq(leaf.issuer_cn, "Test Federation CA");
	cr_assert_eq(leaf.n_dns_names, 3);
	for (size_t i = 0; i < 3; i++)
		cr_expect_str_eq(leaf.dns_names[i], dns[i]);
	cr_expect_eq(leaf.not_before, now - 100);
	cr_expect_eq(leaf.not_after, now + 86400);
	cr_expect_str_eq(leaf.serial_hex, "1234");
	cr_expect_eq(leaf.key_type, FEDRPC_PKI_KEY_P256);
	cr_expect_eq(leaf.usage, FEDRPC_PKI_USAGE_SERVER);
	cr_expect_not(leaf.is_ca);
	fedrpc_pki_info_clear(&leaf);
	fedrpc_pki_info_clear(&ca);

	/* Serial 0 means random: 16 bytes, different every time. A serial
	 * with its high bit set must stay positive. */
	issue("ca", "r1", dns, 1, FEDRPC_PKI_KEY_P256, 0, 0, now, now + 60);
	issue("ca", "r2", dns, 1, FEDRPC_PKI_KEY_P256, 0, 0xffeeddccbbaa9988,
	    now, now + 60);
	r1 = info("r1.crt");
	r2 = info("r2.crt");
	cr_expect_eq(strlen(r1.serial_hex), 32);
	cr_expect_str_eq(r2.serial_hex, "FFEEDDCCBBAA9988");
	cr_expect_eq(r1.usage, FEDRPC_PKI_USAGE_BOTH, "usage 0 means both");
	fedrpc_pki_info_clear(&r1);
	fedrpc_pki_info_clear(&r2);
	cr_expect_eq(sh(NULL, "openssl verify -CAfile %s %s", at("ca.crt"),
	                 at("r2.crt")),
	    0);

	/* Past 2049 a time is a GeneralizedTime (RFC 5280 4.1.2.5). */
	issue("ca", "far", dns, 1, FEDRPC_PKI_KEY_P256, 0, 0, now - 60,
	    (time_t) 2840140800); /* 2060-01-01 */
	r1 = info("far.crt");
	cr_expect_eq(r1.not_after, (time_t) 2840140800);
	fedrpc_pki_info_clear(&r1);
	cr_expect_eq(cm_verify("ca.crt", "far.crt", NULL), WOLFSSL_SUCCESS);
	cr_expect_eq(sh(NULL, "openssl x509 -noout -enddate -in %s | grep -q "
	                      "'Jan  1 00:00:00 2060 GMT'",
	                 at("far.crt")),
	    0);
}

Test(pki, openssl_agrees)
{
	const char *dns[] = {"a.example", "fed.a.example", "*.b.example",
	    NULL};
	time_t      now   = time(NULL);
	char       *out;

	ca_create("ca", "Test Federation CA", FEDRPC_PKI_KEY_P256);
	issue("ca", "srv", dns, 3, FEDRPC_PKI_KEY_P256,
	    FEDRPC_PKI_USAGE_SERVER, 0, now - 60, now + 86400);
	testcerts_leaf(dir, "ca", "both", dns);

	cr_assert_eq(sh(&out, "openssl x509 -noout -text -in %s",
	                 at("ca.crt")),
	    0, "%s", out);
	cr_expect(strstr(out, "CA:TRUE") != NULL, "%s", out);
	cr_expect(strstr(out, "Certificate Sign, CRL Sign") != NULL, "%s",
	    out);
	cr_expect(strstr(out, "Subject Key Identifier") != NULL, "%s", out);
	cr_expect(strstr(out, "Issuer: CN = Test Federation CA") != NULL);
	free(out);

	cr_assert_eq(sh(&out, "openssl x509 -noout -text -in %s",
	                 at("srv.crt")),
	    0, "%s", out);
	cr_expect(strstr(out,
	              "DNS:a.example, DNS:fed.a.example, DNS:*.b.example") !=
	        NULL,
	    "%s", out);
	cr_expect(strstr(out, "CA:FALSE") != NULL, "%s", out);
	cr_expect(strstr(out, "TLS Web Server Authentication") != NULL);
	cr_expect(strstr(out, "TLS Web Client Authentication") == NULL);
	cr_expect(strstr(out, "Digital Signature") != NULL);
	cr_expect(strstr(out, "Authority Key Identifier") != NULL);
	free(out);

	cr_assert_eq(sh(&out, "openssl x509 -noout -text -in %s",
	                 at("both.crt")),
	    0, "%s", out);
	cr_expect(strstr(out, "TLS Web Server Authentication, TLS Web Client "
	                      "Authentication") != NULL,
	    "%s", out);
	free(out);

	cr_expect_eq(sh(&out, "openssl verify -CAfile %s %s", at("ca.crt"),
	                 at("srv.crt")),
	    0, "%s", out);
	cr_expect(strstr(out, ": OK") != NULL, "%s", out);
	free(out);
	/* The extended key usage is enforced: a server-only certificate is
	 * no client certificate. */
	cr_expect_eq(sh(NULL, "openssl verify -purpose sslserver -CAfile %s %s",
	                 at("ca.crt"), at("srv.crt")),
	    0);
	cr_expect_neq(sh(&out, "openssl verify -purpose sslclient -CAfile %s "
	                       "%s",
	                  at("ca.crt"), at("srv.crt")),
	    0, "%s", out);
	free(out);
	cr_expect_eq(sh(NULL, "openssl verify -purpose sslclient -CAfile %s %s",
	                 at("ca.crt"), at("both.crt")),
	    0);
	/* openssl reads the keys, and each matches its certificate. */
	for (int i = 0; i < 2; i++) {
		const char *n = i ? "srv" : "ca";
		char        crt[16], key[16], *a, *b;

		snprintf(crt, sizeof(crt), "%s.crt", n);
		snprintf(key, sizeof(key), "%s.key", n);
		cr_assert_eq(sh(&a, "openssl pkey -in %s -pubout", at(key)), 0);
		cr_assert_eq(sh(&b, "openssl x509 -in %s -noout -pubkey",
		                 at(crt)),
		    0);
		cr_expect_str_eq(a, b);
		free(a);
		free(b);
	}
}

Test(pki, certmanager_verifies_own_ca_only)
{
	const char *dns[] = {"a.example", NULL};
	const char *dnb[] = {"b.example", NULL};

	testcerts_ca(dir, "ca");
	testcerts_ca(dir, "other");
	testcerts_leaf(dir, "ca", "leaf", dns);
	testcerts_leaf(dir, "other", "stranger", dnb);
	cr_expect_eq(cm_verify("ca.crt", "leaf.crt", NULL), WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("other.crt", "stranger.crt", NULL),
	    WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("ca.crt", "stranger.crt", NULL),
	    ASN_NO_SIGNER_E);
	cr_expect_eq(cm_verify("other.crt", "leaf.crt", NULL), ASN_NO_SIGNER_E);
	cr_expect_neq(sh(NULL, "openssl verify -CAfile %s %s", at("ca.crt"),
	                  at("stranger.crt")),
	    0);
}

Test(pki, expired_and_not_yet_valid)
{
	const char *dns[] = {"a.example", NULL};
	time_t      now   = time(NULL);
	char       *out;
	fedrpc_pki_cert_info old;

	testcerts_ca(dir, "ca");
	testcerts_leaf_ex(dir, "ca", "old", dns, -10L * 86400, -86400,
	    FEDRPC_PKI_KEY_P256);
	testcerts_leaf_ex(dir, "ca", "future", dns, 86400, 10L * 86400,
	    FEDRPC_PKI_KEY_P256);
	testcerts_leaf_ex(dir, "ca", "edold", dns, -10L * 86400, -60,
	    FEDRPC_PKI_KEY_ED25519);

	old = info("old.crt");
	cr_expect_lt(old.not_after, now);
	fedrpc_pki_info_clear(&old);

	cr_expect_eq(cm_verify("ca.crt", "old.crt", NULL), ASN_AFTER_DATE_E);
	cr_expect_eq(cm_verify("ca.crt", "edold.crt", NULL), ASN_AFTER_DATE_E);
	cr_expect_eq(cm_verify("ca.crt", "future.crt", NULL),
	    ASN_BEFORE_DATE_E);
	cr_expect_neq(sh(&out, "openssl verify -CAfile %s %s", at("ca.crt"),
	                  at("old.crt")),
	    0);
	cr_expect(strstr(out, "certificate has expired") != NULL, "%s", out);
	free(out);
	cr_expect_neq(sh(&out, "openssl verify -CAfile %s %s", at("ca.crt"),
	                  at("future.crt")),
	    0);
	cr_expect(strstr(out, "certificate is not yet valid") != NULL, "%s",
	    out);
	free(out);
}

Test(pki, ed25519_certificates)
{
	const char *dns[] = {"e.example"};
	time_t      now   = time(NULL);
	fedrpc_pki_cert_info eca, leaf;

	ca_create("eca", "Ed CA", FEDRPC_PKI_KEY_ED25519);
	ca_create("pca", "P CA", FEDRPC_PKI_KEY_P256);
	issue("eca", "ee", dns, 1, FEDRPC_PKI_KEY_ED25519, 0, 0, now - 60,
	    now + 3600);
	issue("eca", "ep", dns, 1, FEDRPC_PKI_KEY_P256, 0, 0, now - 60,
	    now + 3600);
	issue("pca", "pe", dns, 1, FEDRPC_PKI_KEY_ED25519, 0, 0, now - 60,
	    now + 3600);

	eca = info("eca.crt");
	cr_expect_eq(eca.key_type, FEDRPC_PKI_KEY_ED25519);
	cr_expect(eca.is_ca);
	leaf = info("ee.crt");
	cr_expect_eq(leaf.key_type, FEDRPC_PKI_KEY_ED25519);
	cr_expect_str_eq(leaf.issuer_cn, "Ed CA");
	cr_assert_eq(leaf.n_dns_names, 1);
	cr_expect_str_eq(leaf.dns_names[0], "e.example");
	fedrpc_pki_info_clear(&leaf);
	fedrpc_pki_info_clear(&eca);

	cr_expect_eq(cm_verify("eca.crt", "ee.crt", NULL), WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("eca.crt", "ep.crt", NULL), WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("pca.crt", "pe.crt", NULL), WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("pca.crt", "ee.crt", NULL), ASN_NO_SIGNER_E);
	cr_expect_eq(sh(NULL, "openssl verify -CAfile %s %s %s", at("eca.crt"),
	                 at("ee.crt"), at("ep.crt")),
	    0);
	cr_expect_eq(sh(NULL, "openssl verify -CAfile %s %s", at("pca.crt"),
	                 at("pe.crt")),
	    0);
	/* An Ed25519 CA can issue again from its saved key. */
	issue("eca", "ee2", dns, 1, FEDRPC_PKI_KEY_ED25519, 0, 0, now - 60,
	    now + 3600);
	cr_expect_eq(cm_verify("eca.crt", "ee2.crt", NULL), WOLFSSL_SUCCESS);
}

static void
crl_case(const char *ca)
{
	const char *dns[]     = {"a.example", NULL};
	const char *revoked[] = {"la", "lc", NULL};
	char        crl[32], cacrt[32], *out;
	fedrpc_pki_cert_info a, b, c;

	snprintf(crl, sizeof(crl), "%s.crl", ca);
	snprintf(cacrt, sizeof(cacrt), "%s.crt", ca);
	testcerts_leaf(dir, ca, "la", dns);
	testcerts_leaf(dir, ca, "lb", dns);
	testcerts_leaf_ex(dir, ca, "lc", dns, -60, 3600,
	    FEDRPC_PKI_KEY_ED25519);
	testcerts_crl(dir, ca, revoked);

	cr_expect_eq(cm_verify(cacrt, "la.crt", crl), CRL_CERT_REVOKED);
	cr_expect_eq(cm_verify(cacrt, "lb.crt", crl), WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify(cacrt, "lc.crt", crl), CRL_CERT_REVOKED);

	a = info("la.crt");
	b = info("lb.crt");
	c = info("lc.crt");
	cr_assert_eq(sh(&out, "openssl crl -in %s -noout -text -CAfile %s",
	                 at(crl), at(cacrt)),
	    0, "%s", out);
	cr_expect(strstr(out, "verify OK") != NULL, "%s", out);
	cr_expect_eq(count(out, "Serial Number:"), 2, "%s", out);
	cr_expect(strcasestr(out, a.serial_hex) != NULL, "%s", out);
	cr_expect(strcasestr(out, b.serial_hex) == NULL, "%s", out);
	cr_expect(strcasestr(out, c.serial_hex) != NULL, "%s", out);
	cr_expect(strstr(out, "CRL Number") != NULL, "%s", out);
	free(out);
	fedrpc_pki_info_clear(&a);
	fedrpc_pki_info_clear(&b);
	fedrpc_pki_info_clear(&c);

	cr_expect_neq(sh(&out, "openssl verify -crl_check -CAfile %s "
	                       "-CRLfile %s %s",
	                  at(cacrt), at(crl), at("la.crt")),
	    0);
	cr_expect(strstr(out, "certificate revoked") != NULL, "%s", out);
	free(out);
	cr_expect_eq(sh(&out, "openssl verify -crl_check -CAfile %s -CRLfile "
	                      "%s %s",
	                 at(cacrt), at(crl), at("lb.crt")),
	    0, "%s", out);
	free(out);

	/* An empty CRL revokes nothing, and still satisfies -crl_check. */
	testcerts_crl(dir, ca, NULL);
	cr_expect_eq(cm_verify(cacrt, "la.crt", crl), WOLFSSL_SUCCESS);
	cr_expect_eq(sh(NULL, "openssl verify -crl_check -CAfile %s -CRLfile "
	                      "%s %s",
	                 at(cacrt), at(crl), at("la.crt")),
	    0);
}

Test(pki, crl_revokes_listed_serials_p256)
{
	testcerts_ca(dir, "ca");
	crl_case("ca");
}

Test(pki, crl_revokes_listed_serials_ed25519)
{
	ca_create("eca", "Ed CA", FEDRPC_PKI_KEY_ED25519);
	crl_case("eca");
}

Test(pki, crl_serial_spellings_and_signature)
{
	const char *dns[]      = {"a.example"};
	const char *spelling[] = {"0xab12", "AB:12", "00ab12"};
	time_t      now        = time(NULL);
	fedrpc_status st       = {0};
	char       *pem, *p, *out;

	testcerts_ca(dir, "ca");
	testcerts_ca(dir, "other");
	issue("ca", "l", dns, 1, FEDRPC_PKI_KEY_P256, 0, 0xab12, now - 60,
	    now + 3600);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(fedrpc_pki_crl_create(at("ca.crt"), at("ca.key"),
		                 at("ca.crl"), &spelling[i], 1, 7, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_expect_eq(cm_verify("ca.crt", "l.crt", "ca.crl"),
		    CRL_CERT_REVOKED, "spelling %s", spelling[i]);
	}

	/* A CRL signed by another CA is refused, and so is a CRL whose
	 * signature was damaged. */
	testcerts_crl(dir, "other", NULL);
	cr_expect_neq(sh(&out, "openssl crl -in %s -noout -CAfile %s",
	                  at("other.crl"), at("ca.crt")),
	    0);
	cr_expect(strstr(out, "verify OK") == NULL, "%s", out);
	free(out);
	pem = tu_read_file(at("ca.crl"));
	cr_assert_not_null(pem);
	/* The last base64 characters before the footer are signature; the
	 * eighth from the end carries six bits of it. 'A' is 0, 'g' is 32. */
	p = strstr(pem, "\n-----END");
	cr_assert_not_null(p);
	for (int k = 0; k < 8; p--)
		if (p[-1] != '=' && p[-1] != '\n')
			k++;
	p[0] = p[0] == 'A' ? 'g' : 'A';
	cr_assert(tu_write_file(at("bad.crl"), pem));
	free(pem);
	/* openssl 3.0 reports a bad CRL signature but exits with 0. */
	sh(&out, "openssl crl -in %s -noout -CAfile %s", at("bad.crl"),
	    at("ca.crt"));
	cr_expect(strstr(out, "verify failure") != NULL, "%s", out);
	cr_expect(strstr(out, "verify OK") == NULL, "%s", out);
	free(out);
	{
		WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();

		cr_assert_eq(wolfSSL_CertManagerLoadCA(cm, at("ca.crt"), NULL),
		    WOLFSSL_SUCCESS);
		wolfSSL_CertManagerEnableCRL(cm, 0);
		cr_expect_eq(wolfSSL_CertManagerLoadCRLFile(cm, at("bad.crl"),
		                 WOLFSSL_FILETYPE_PEM),
		    ASN_CRL_CONFIRM_E);
		cr_expect_neq(wolfSSL_CertManagerLoadCRLFile(cm,
		                  at("other.crl"), WOLFSSL_FILETYPE_PEM),
		    WOLFSSL_SUCCESS);
		wolfSSL_CertManagerFree(cm);
	}
}

/* An operator's own CA, made by openssl (here with a SEC1 "EC PRIVATE
 * KEY" and a PKCS#8 Ed25519 key), can issue and revoke. */
Test(pki, openssl_made_ca)
{
	const char *dns[]     = {"a.example", NULL};
	const char *revoked[] = {"l2", NULL};
	char       *out;

	cr_assert_eq(sh(&out, "cd %s && openssl ecparam -name prime256v1 "
	                      "-genkey -noout -out oca.key && openssl req "
	                      "-x509 -key oca.key -subj '/O=Ops/CN=Ops CA' "
	                      "-days 2 -out oca.crt && openssl genpkey "
	                      "-algorithm ed25519 -out eca.key && openssl req "
	                      "-x509 -key eca.key -subj '/CN=Ops Ed CA' -days 2 "
	                      "-out eca.crt",
	                 dir),
	    0, "%s", out);
	free(out);
	cr_assert_eq(sh(NULL, "grep -q 'BEGIN EC PRIVATE KEY' %s",
	                 at("oca.key")),
	    0);
	testcerts_leaf(dir, "oca", "l1", dns);
	testcerts_leaf(dir, "oca", "l2", dns);
	testcerts_leaf(dir, "eca", "l3", dns);
	testcerts_crl(dir, "oca", revoked);
	testcerts_crl(dir, "eca", revoked + 1);
	cr_expect_eq(cm_verify("oca.crt", "l1.crt", "oca.crl"),
	    WOLFSSL_SUCCESS);
	cr_expect_eq(cm_verify("oca.crt", "l2.crt", "oca.crl"),
	    CRL_CERT_REVOKED);
	cr_expect_eq(cm_verify("eca.crt", "l3.crt", "eca.crl"),
	    WOLFSSL_SUCCESS);
	cr_expect_eq(sh(&out, "openssl verify -crl_check -CAfile %s -CRLfile "
	                      "%s %s",
	                 at("oca.crt"), at("oca.crl"), at("l1.crt")),
	    0, "%s", out);
	free(out);
	cr_expect_neq(sh(NULL, "openssl verify -crl_check -CAfile %s -CRLfile "
	                       "%s %s",
	                  at("oca.crt"), at("oca.crl"), at("l2.crt")),
	    0);
	cr_expect_eq(sh(&out, "openssl verify -crl_check -CAfile %s -CRLfile "
	                      "%s %s",
	                 at("eca.crt"), at("eca.crl"), at("l3.crt")),
	    0, "%s", out);
	free(out);
}

static mode_t
mode_of(const char *name)
{
	struct stat sb;

	cr_assert_eq(stat(at(name), &sb), 0, "stat %s", name);
	return sb.st_mode & 07777;
}

Test(pki, key_files_are_private)
{
	const char *dns[] = {"a.example", NULL};

	testcerts_ca(dir, "ca");
	/* An existing, readable file is replaced by a private one. */
	cr_assert(tu_write_file(at("leaf.key"), "old"));
	cr_assert_eq(chmod(at("leaf.key"), 0644), 0);
	testcerts_leaf(dir, "ca", "leaf", dns);
	testcerts_leaf_ex(dir, "ca", "ed", dns, -60, 60,
	    FEDRPC_PKI_KEY_ED25519);
	cr_expect_eq(mode_of("ca.key"), 0600);
	cr_expect_eq(mode_of("leaf.key"), 0600);
	cr_expect_eq(mode_of("ed.key"), 0600);
	cr_expect_eq(mode_of("ca.crt"), 0644);
	cr_expect_eq(mode_of("leaf.crt"), 0644);
	testcerts_crl(dir, "ca", NULL);
	cr_expect_eq(mode_of("ca.crl"), 0644);
	/* No temporary files are left behind. */
	cr_expect_eq(sh(NULL, "ls %s | grep -q tmp", dir), 1);
}

Test(pki, rejects_bad_input)
{
	const char *dns[]     = {"a.example"};
	const char *bad_dns[] = {"not a name"};
	const char *bad_hex[] = {"12zz"};
	time_t      now       = time(NULL);
	fedrpc_status         st = {0};
	fedrpc_pki_cert_info  i;
	fedrpc_pki_issue_opts o  = {0};
	char                  cn[80], p[7][512];
	const char           *names[7] = {"ca.crt", "other.key", "x.crt",
	              "x.key", "missing.key", "ca.key", "y.crt"};

	/* Own copies: at() reuses a small ring of buffers. */
	for (int k = 0; k < 7; k++)
		snprintf(p[k], sizeof(p[k]), "%s", at(names[k]));
	testcerts_ca(dir, "ca");
	testcerts_ca(dir, "other");
	testcerts_leaf(dir, "ca", "leaf", NULL);
	o = (fedrpc_pki_issue_opts) {.ca_cert = p[0],
	    .ca_key                           = p[1],
	    .cert_out                         = p[2],
	    .key_out                          = p[3],
	    .dns_names                        = dns,
	    .n_dns_names                      = 1,
	    .not_before                       = now,
	    .not_after                        = now + 60};
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT,
	    "mismatched CA key: %s", st.message);
	o.ca_key = p[4];
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_NOT_FOUND);
	/* A leaf certificate with its own key is no CA. */
	o.ca_cert = p[2];
	o.ca_key  = p[3];
	o.cert_out = p[6];
	testcerts_leaf(dir, "ca", "x", NULL);
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_FAILED_PRECONDITION,
	    "a leaf is no CA: %s", st.message);
	unlink(p[2]);
	unlink(p[3]);
	o.ca_cert  = p[0];
	o.ca_key   = p[5];
	o.cert_out = p[2];
	o.dns_names = bad_dns;
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT);
	o.dns_names = dns;
	o.not_after = o.not_before;
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT);
	o.not_after = now + 60;
	memset(cn, 'c', sizeof(cn) - 1);
	cn[sizeof(cn) - 1] = '\0';
	o.common_name      = cn;
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT);
	o.common_name = NULL;
	o.key_usage   = 1u << 20;
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT,
	    "unknown key usage bits");
	o.key_usage = 0;
	o.cert_out  = o.key_out;
	cr_expect_eq(fedrpc_pki_issue(&o, &st), FEDRPC_INVALID_ARGUMENT);
	cr_expect_neq(access(at("x.crt"), F_OK), 0, "nothing was written");
	cr_expect_neq(access(at("x.key"), F_OK), 0, "nothing was written");

	cr_expect_eq(fedrpc_pki_ca_create(at("c.crt"), at("c.key"), "c", 7,
	                 365, &st),
	    FEDRPC_INVALID_ARGUMENT, "unknown key type");
	cr_expect_eq(fedrpc_pki_ca_create(at("c.crt"), at("c.key"), "", 0, 365,
	                 &st),
	    FEDRPC_INVALID_ARGUMENT, "empty CN");
	cr_expect_eq(fedrpc_pki_crl_create(at("ca.crt"), at("ca.key"),
	                 at("ca.crl"), bad_hex, 1, 7, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_expect_eq(fedrpc_pki_crl_create(at("ca.crt"), at("other.key"),
	                 at("ca.crl"), NULL, 0, 7, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_expect_neq(access(at("ca.crl"), F_OK), 0, "nothing was written");
	cr_expect_eq(fedrpc_pki_info(at("ca.key"), &i, &st),
	    FEDRPC_INVALID_ARGUMENT, "a key is no certificate: %s",
	    st.message);
	cr_expect_eq(fedrpc_pki_info(at("nope.crt"), &i, &st),
	    FEDRPC_NOT_FOUND);
	/* A leaf without DNS names carries its CN. */
	i = info("leaf.crt");
	cr_expect_str_eq(i.subject_cn, "leaf");
	cr_expect_eq(i.n_dns_names, 0);
	fedrpc_pki_info_clear(&i);
}
