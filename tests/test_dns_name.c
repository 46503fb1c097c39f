/*
 * The one rule for a federation domain (core/base/dns_name.c,
 * dns_domain_check) and the one normalisation, as a table; then the same
 * bad names given to every layer that takes a domain from outside (the
 * config file, the allow list, the reference backend's local API, fedctl),
 * each of which must refuse them with the rule's own reason.
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/allowlist.h>
#include <fedrpc/config.h>
#include <fedrpc/ids.h>

#include "adapter_fixture.h"
#include "core/base/dns_name.h"
#include "fedctl_run.h"
#include "testutil.h"

/* A label of 63 / 64 letters, and names of 253 / 254 characters. */
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L64 L63 "a"
#define N253 L63 "." L63 "." L63 "." "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define N254 "c" N253

typedef struct good_case {
	const char *in, *out;
} good_case;

typedef struct bad_case {
	const char *in, *why;
} bad_case;

static const good_case good[] = {
    {"a.example", "a.example"},
    {"B.Example", "b.example"},
    {"b.example.", "b.example"},      /* the final dot is dropped */
    {"B.EXAMPLE.", "b.example"},
    {"localhost", "localhost"},       /* one label is a domain */
    {"x-1.b2.example", "x-1.b2.example"},
    {"a--b.example", "a--b.example"}, /* inner hyphens, as in xn-- */
    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"1.example", "1.example"},       /* digits, but not at the end */
    {"example.x1", "example.x1"},
    {L63 ".example", L63 ".example"},
    {N253, N253},
    {N253 ".", N253},
};

static const bad_case bad[] = {
    {"", "empty name"},
    {".", "empty name"},
    {"b..example", "empty label"},
    {".b.example", "empty label"},
    {"b.example..", "empty label"},
    {"-b.example", "label starts with '-'"},
    {"b-.example", "label ends with '-'"},
    {"b.example-", "label ends with '-'"},
    {"a_b.example", "'_' is not allowed in a domain"},
    {"_fedrpc._tcp.b.example", "'_' is not allowed in a domain"},
    {L64 ".example", "label longer than 63 characters"},
    {N254, "longer than 253 characters"},
    {"10.0.0.1", "final label is all digits (an address, not a domain)"},
    {"b.123", "final label is all digits (an address, not a domain)"},
    {"b example", "character ' ' is not allowed"},
    {"b.example/x", "character '/' is not allowed"},
    {"b@example", "character '@' is not allowed"},
    {"::1", "character ':' is not allowed"},
    {"\xc3\xa4.example", "character 0xc3 is not allowed"},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

Test(dns_name, the_domain_rule)
{
	char out[DNS_NAME_MAX], why[96];

	for (size_t i = 0; i < N_OF(good); i++) {
		why[0] = '\0';
		cr_expect(dns_domain_check(good[i].in, out, why, sizeof(why)),
		    "%s: %s", good[i].in, why);
		cr_expect_str_eq(out, good[i].out, "%s", good[i].in);
		cr_expect(dns_domain_valid(good[i].in), "%s", good[i].in);
		cr_expect(fedrpc_domain_valid(good[i].in), "%s", good[i].in);
	}
	for (size_t i = 0; i < N_OF(bad); i++) {
		why[0] = '\0';
		cr_expect_not(dns_domain_check(bad[i].in, out, why, sizeof(why)),
		    "%s", bad[i].in);
		cr_expect_str_eq(why, bad[i].why, "%s", bad[i].in);
		cr_expect_not(dns_domain_valid(bad[i].in), "%s", bad[i].in);
		cr_expect_not(fedrpc_domain_valid(bad[i].in), "%s", bad[i].in);
	}
	cr_expect_not(dns_domain_check(NULL, out, why, sizeof(why)));
	cr_expect_str_eq(why, "empty name");
	cr_expect_not(dns_domain_valid(NULL));
	/* A reason that does not fit is cut, not overrun. */
	cr_expect_not(dns_domain_check("b..example", NULL, why, 6));
	cr_expect_str_eq(why, "empty");
}

/* The DNS-level normalisation keeps '_' (SRV owner names are DNS names,
 * only not domains) and refuses what no DNS name can be. */
Test(dns_name, normalisation)
{
	static const good_case norm[] = {
	    {"_fedrpc._tcp.B.Example.", "_fedrpc._tcp.b.example"},
	    {"B.EXAMPLE", "b.example"},
	    {"b.example.", "b.example"},
	    {"10.0.0.1", "10.0.0.1"},
	};
	static const char *const refused[] = {"", ".", "b..example",
	    "-b.example", "b-.example", "b example", L64 ".example", N254};
	char out[DNS_NAME_MAX];

	for (size_t i = 0; i < N_OF(norm); i++) {
		cr_expect(dns_name_normalize(norm[i].in, out), "%s", norm[i].in);
		cr_expect_str_eq(out, norm[i].out, "%s", norm[i].in);
	}
	for (size_t i = 0; i < N_OF(refused); i++)
		cr_expect_not(dns_name_normalize(refused[i], out), "%s",
		    refused[i]);
	cr_expect(dns_name_equal("B.Example.", "b.example"));
	cr_expect_not(dns_name_equal("b.example", "b.example.x"));
}

/* A qualified id's domain: the same rule, kept in the one spelling. */
Test(dns_name, qualified_ids)
{
	char id[FEDRPC_UUID_LEN + 1], dom[DNS_NAME_MAX];
	char s[400];

	for (size_t i = 0; i < N_OF(good); i++) {
		snprintf(s, sizeof(s),
		    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d@%s", good[i].in);
		cr_expect(fedrpc_qid_parse(s, id, dom, sizeof(dom)), "%s", s);
		cr_expect_str_eq(dom, good[i].out, "%s", s);
	}
	for (size_t i = 0; i < N_OF(bad); i++) {
		snprintf(s, sizeof(s),
		    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d@%s", bad[i].in);
		cr_expect_not(fedrpc_qid_parse(s, id, dom, sizeof(dom)), "%s", s);
	}
}

/* "'<name>' is not a valid domain name: <reason>" as every layer puts it
 * after the setting or field, with at most 64 characters of the name. */
static char *
expected(const bad_case *c)
{
	char *e = NULL;

	cr_assert(asprintf(&e, "'%.64s' is not a valid domain name: %s", c->in,
	              c->why) > 0);
	return e;
}

Test(dns_name, config_refuses_with_the_reason)
{
	for (size_t i = 0; i < N_OF(bad); i++) {
		static const char *const tmpl[] = {
		    "domain = \"%s\";\n",
		    "domain = \"a.example\";\n"
		    "federation = { allow = ( { domain = \"%s\"; } ); };\n",
		};

		if (bad[i].in[0] == '\0')
			continue; /* "must not be empty", before the rule */
		for (size_t t = 0; t < N_OF(tmpl); t++) {
			fedrpc_config *cfg = NULL;
			fedrpc_status  st  = {0};
			char           text[800];
			char          *e   = expected(&bad[i]);

			snprintf(text, sizeof(text), tmpl[t], bad[i].in);
			cr_expect_eq(fedrpc_config_load_string(
			                 text, "t.conf", &cfg, &st),
			    FEDRPC_INVALID_ARGUMENT, "%s", text);
			cr_expect(strstr(st.message, e) != NULL,
			    "%s: got \"%s\", want \"%s\"", bad[i].in, st.message,
			    e);
			cr_expect(strstr(st.message, t == 0
			                  ? ": setting 'domain': '"
			                  : ": setting 'federation.allow[0].domain': '") !=
			        NULL,
			    "%s names no setting", st.message);
			free(e);
			fedrpc_config_free(cfg);
		}
	}
}

Test(dns_name, allow_list_refuses_with_the_reason)
{
	fedrpc_allowlist     *al = NULL;
	fedrpc_status         st = {0};
	fedrpc_allowlist_opts o  = {
	     .enabled = true, .strategy = FEDRPC_STRATEGY_ALLOW_ALL};

	cr_assert_eq(fedrpc_allowlist_new(&al, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(fedrpc_allowlist_set(al, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	for (size_t i = 0; i < N_OF(bad); i++) {
		fedrpc_allowlist_entry e1[] = {{bad[i].in, FEDRPC_SEARCH_FULL}};
		fedrpc_allowlist_opts  lo = {.enabled = true,
		     .strategy = FEDRPC_STRATEGY_ALLOW_LIST, .entries = e1,
		     .n_entries = 1};
		char *e = expected(&bad[i]);
		char *e2 = NULL;

		cr_expect_eq(fedrpc_allowlist_set(al, &lo, &st),
		    FEDRPC_INVALID_ARGUMENT, "%s", bad[i].in);
		cr_expect(strstr(st.message, e) != NULL,
		    "got \"%s\", want \"%s\"", st.message, e);
		/* A request naming it is refused with the same reason. */
		cr_expect_eq(fedrpc_allowlist_check(al, bad[i].in, &st),
		    FEDRPC_PERMISSION_DENIED, "%s", bad[i].in);
		cr_assert(asprintf(&e2, "(not a valid domain name: %s)",
		              bad[i].why) > 0);
		cr_expect(strstr(st.message, e2) != NULL,
		    "got \"%s\", want \"%s\"", st.message, e2);
		cr_expect_not(fedrpc_allowlist_allowed(al, bad[i].in), "%s",
		    bad[i].in);
		free(e);
		free(e2);
	}
	for (size_t i = 0; i < N_OF(good); i++)
		cr_expect(fedrpc_allowlist_allowed(al, good[i].in), "%s",
		    good[i].in);
	fedrpc_allowlist_free(al);
}

/* The reference backend's local API: FindUser and SearchUsers. */
Test(dns_name, backend_refuses_with_the_reason)
{
	fx           *f  = fx_new(1);
	fedrpc_status st = {0};

	for (size_t i = 0; i < N_OF(bad); i++) {
		Fedrpc__Local__V1__FindUserRequest fr =
		    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
		Fedrpc__Local__V1__FindUserResponse  *fresp = NULL;
		Fedrpc__Local__V1__SearchUsersRequest sr =
		    FEDRPC__LOCAL__V1__SEARCH_USERS_REQUEST__INIT;
		Fedrpc__Local__V1__SearchUsersResponse *sresp = NULL;
		char  q[400];
		char *e;

		if (bad[i].in[0] == '\0')
			continue; /* "ann@" and "": no domain given */
		e = expected(&bad[i]);
		snprintf(q, sizeof(q), "ann@%s", bad[i].in);
		fr.query = q;
		cr_expect_eq(fedrpc_local_v1_users_find_user(
		                 f->d[0].lch, &fr, &fresp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT, "%s", q);
		cr_expect(strstr(st.message, e) != NULL,
		    "got \"%s\", want \"%s\"", st.message, e);
		cr_expect(strncmp(st.message, "query: ", 7) == 0, "%s",
		    st.message);
		if (fresp != NULL)
			protobuf_c_message_free_unpacked(&fresp->base, NULL);

		sr.term   = "ann";
		sr.domain = (char *) bad[i].in;
		cr_expect_eq(fedrpc_local_v1_users_search_users(
		                 f->d[0].lch, &sr, &sresp, NULL, &st),
		    FEDRPC_INVALID_ARGUMENT, "%s", bad[i].in);
		cr_expect(strstr(st.message, e) != NULL,
		    "got \"%s\", want \"%s\"", st.message, e);
		if (sresp != NULL)
			protobuf_c_message_free_unpacked(&sresp->base, NULL);
		free(e);
	}
	fx_free(f);
}

/* fedctl refuses on its command line, before it connects to anything. */
Test(dns_name, fedctl_refuses_with_the_reason)
{
	char scratch[] = "/tmp/fedrpc-dns-name-XXXXXX";

	cr_assert_not_null(mkdtemp(scratch));
	for (size_t i = 0; i < N_OF(bad); i++) {
		char  *e = expected(&bad[i]);
		fr_run r = FR_RUN(scratch, NULL, "search", "--domain", bad[i].in,
		    "ann");

		cr_expect_eq(r.code, 2, "%s: exit %d\n%s", bad[i].in, r.code,
		    r.err);
		cr_expect(strstr(r.err, e) != NULL, "got \"%s\", want \"%s\"",
		    r.err, e);
		cr_expect(strstr(r.err, "--domain: ") != NULL, "%s", r.err);
		fr_free(&r);
		free(e);
	}
	tu_rmrf(scratch);
}
