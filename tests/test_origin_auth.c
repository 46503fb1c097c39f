/*
 * Origin authentication (server/admission/origin_auth.c) against a real dnsmasq:
 * certificate names that are the origin or a target of its SRV record are
 * accepted, others refused with the reason; decisions are cached for the
 * record's TTL; DNS failures are UNAVAILABLE, not refusals; static routes.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/origin_auth.h>

#include "dnsmasq.h"
#include "testutil.h"

static dnsmasq *dns;

static const char *const records[] = {
	"--srv-host=_fedrpc._tcp.b.example,fed.b.example,7443,10,100",
	"--srv-host=_fedrpc._tcp.b.example,fed2.b.example,7443,20,100",
	"--host-record=fed.b.example,127.0.0.1",
	"--host-record=fed2.b.example,127.0.0.1",
	"--srv-host=_fedrpc._tcp.c.example,fed.c.example,7443,10,100",
	"--host-record=fed.c.example,127.0.0.1",
	/* No SRV record at all for d.example: it does not federate. */
	"--host-record=d.example,127.0.0.1",
	/* The host of a static route, looked up by name. */
	"--host-record=fed.s.example,127.0.0.1",
	NULL,
};

static void
setup(void)
{
	cr_assert_not_null(dns = dnsmasq_start(records));
}

static void
teardown(void)
{
	dnsmasq_stop(dns);
}

/* A verified peer with these certificate names (NULL-terminated). */
static fedrpc_peer
peer(char **names)
{
	fedrpc_peer p = {.verified = true};

	while (names[p.n_names] != NULL)
		p.n_names++;
	p.names = names;
	return p;
}

typedef struct fixture {
	fedrpc_resolver    *res;
	fedrpc_origin_auth *oa;
} fixture;

static fixture
open_auth(const fedrpc_static_route *statics, size_t n, uint32_t max_ttl)
{
	fixture              f  = {0};
	fedrpc_status        st = {0};
	fedrpc_resolver_opts ro = {.nameserver = dnsmasq_nameserver(dns),
	    .timeout_ms = 1500, .statics = statics, .n_statics = n};
	fedrpc_origin_auth_opts oo = {.max_ttl_s = max_ttl};

	cr_assert_eq(fedrpc_resolver_new(&f.res, &ro, &st), FEDRPC_OK, "%s",
	    st.message);
	oo.resolver = f.res;
	cr_assert_eq(fedrpc_origin_auth_new(&f.oa, &oo, &st), FEDRPC_OK);
	return f;
}

static void
close_auth(fixture *f)
{
	fedrpc_origin_auth_free(f->oa);
	fedrpc_resolver_free(f->res);
}

static fedrpc_origin_auth_stats
stats(fixture *f)
{
	fedrpc_origin_auth_stats s;

	fedrpc_origin_auth_stats_get(f->oa, &s);
	return s;
}

TestSuite(origin_auth, .init = setup, .fini = teardown, .timeout = 30);

Test(origin_auth, srv_target_accepted_and_cached)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"fed2.b.example", NULL});
	fedrpc_peer   p2 = peer((char *[]){"other.example", "FED.B.EXAMPLE.",
	      NULL});

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(stats(&f).lookups, 1);
	/* Again: from the cache, no lookup. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "B.example", &p, 0, &st),
	    FEDRPC_OK);
	cr_assert_eq(stats(&f).lookups, 1);
	cr_assert_eq(stats(&f).cache_hits, 1);
	/* Any of several names may match, case and final dot aside. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p2, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(stats(&f).accepted, 3);
	close_auth(&f);
}

Test(origin_auth, origin_itself_needs_no_dns)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"x.example", "e.example", NULL});

	/* e.example has no DNS records at all. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "E.example.", &p, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(stats(&f).lookups, 0);
	cr_assert_eq(stats(&f).self_names, 1);
	close_auth(&f);
}

Test(origin_auth, spoofed_origin_refused_with_reason)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	/* A valid certificate of c.example's federator claiming b.example. */
	fedrpc_peer p = peer((char *[]){"fed.c.example", "c.example", NULL});

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(st.message,
	    "peer certificate names [fed.c.example, c.example] are not targets "
	    "of _fedrpc._tcp.b.example");
	/* The refusal is cached too, with its reason. */
	memset(&st, 0, sizeof(st));
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert(strstr(st.message, "are not targets of") != NULL);
	cr_assert_eq(stats(&f).lookups, 1);
	cr_assert_eq(stats(&f).refused, 2);
	close_auth(&f);
}

Test(origin_auth, domain_without_srv_refused)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"fed.b.example", NULL});

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "d.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert(strstr(st.message, "cannot speak for d.example") != NULL,
	    "%s", st.message);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "nx.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "not a domain", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	close_auth(&f);
}

Test(origin_auth, missing_origin_or_peer)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"fed.b.example", NULL});
	fedrpc_peer   none = {0};

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(st.message, "request names no origin domain");
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, NULL, &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", NULL, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &none, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	/* Names that were not verified do not count. */
	p.verified = false;
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert(strstr(st.message, "no verified peer certificate") != NULL);
	close_auth(&f);
}

Test(origin_auth, dns_down_is_unavailable_but_cache_holds)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"fed.b.example", NULL});
	fedrpc_peer   q  = peer((char *[]){"fed.c.example", NULL});

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	dnsmasq_halt(dns);
	/* Cached for the record's TTL (60 s): still fine. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	/* Not cached: DNS cannot answer, which is not a refusal. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "c.example", &q, 0, &st),
	    FEDRPC_UNAVAILABLE);
	cr_assert(strstr(st.message, "cannot authenticate origin c.example") !=
	        NULL,
	    "%s", st.message);
	cr_assert_eq(stats(&f).failed, 1);
	/* After a flush, nothing is known any more. */
	fedrpc_origin_auth_flush(f.oa);
	fedrpc_resolver_flush(f.res);
	cr_assert_neq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK);
	cr_assert(dnsmasq_restart_with(dns, records));
	close_auth(&f);
}

Test(origin_auth, decision_expires_with_ttl)
{
	/* Decisions live at most 1 s here. */
	fixture       f  = open_auth(NULL, 0, 1);
	fedrpc_status st = {0};
	fedrpc_peer   p  = peer((char *[]){"fed.b.example", NULL});
	uint64_t      t0 = tu_now_ms(); /* the decision is made later */

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_OK);
	if (tu_now_ms() - t0 < 1000)
		cr_assert_eq(stats(&f).lookups, 1, "decided again within 1 s");
	/* Looked up again once the decision expired, not before. */
	cr_assert(TU_WAIT_FOR((fedrpc_origin_auth_check(f.oa, "b.example", &p, 0,
	                           &st) == FEDRPC_OK &&
	                          stats(&f).lookups >= 2),
	    TU_WAIT_MS), "%s", st.message);
	cr_assert_geq(tu_now_ms() - t0, 1000);
	cr_assert_eq(stats(&f).lookups, 2);
	close_auth(&f);
}

Test(origin_auth, static_routes)
{
	const fedrpc_static_route statics[] = {
		{"s.example", "fed.s.example", 7443},
		{"t.example", "127.0.0.1", 7443},
	};
	fixture       f  = open_auth(statics, 2, 0);
	fedrpc_status st = {0};
	fedrpc_peer   ok = peer((char *[]){"fed.s.example", NULL});
	fedrpc_peer   no = peer((char *[]){"fed.b.example", NULL});

	/* A static route's host name counts as its SRV target. */
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "s.example", &ok, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "t.example", &no, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(st.message,
	    "peer certificate names [fed.b.example] are not t.example or the "
	    "host of its static route (127.0.0.1)");
	close_auth(&f);
}

Test(origin_auth, long_name_lists_are_cut)
{
	fixture       f  = open_auth(NULL, 0, 0);
	fedrpc_status st = {0};
	char          buf[20][64];
	char         *names[21];

	for (int i = 0; i < 20; i++) {
		snprintf(buf[i], sizeof(buf[i]), "host-%02d.somewhere.example", i);
		names[i] = buf[i];
	}
	names[20] = NULL;
	fedrpc_peer p = peer(names);

	cr_assert_eq(fedrpc_origin_auth_check(f.oa, "b.example", &p, 0, &st),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert(strstr(st.message, "...]") != NULL, "%s", st.message);
	cr_assert(strstr(st.message, "_fedrpc._tcp.b.example") != NULL, "%s",
	    st.message);
	close_auth(&f);
}
