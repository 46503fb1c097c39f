/*
 * The allow list (server/admission/allowlist.c): strategies, search policies, case
 * and final dots, refusal messages, bad lists that keep the old one, and
 * lookups racing reloads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include <fedrpc/allowlist.h>

static fedrpc_allowlist *
make(bool enabled, fedrpc_strategy s, const fedrpc_allowlist_entry *e,
    size_t n, fedrpc_search_policy dflt)
{
	fedrpc_allowlist     *al;
	fedrpc_status         st = {0};
	fedrpc_allowlist_opts o  = {.enabled = enabled,
	     .strategy                       = s,
	     .entries                        = e,
	     .n_entries                      = n,
	     .default_search_policy          = dflt};

	cr_assert_eq(fedrpc_allowlist_new(&al, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_allowlist_set(al, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	return al;
}

static const fedrpc_allowlist_entry two[] = {
	{"b.example", FEDRPC_SEARCH_EXACT_HANDLE},
	{"C.Example.", FEDRPC_SEARCH_FULL},
};

Test(allowlist, new_allows_nobody)
{
	fedrpc_allowlist *al;
	fedrpc_status     st = {0};

	cr_assert_eq(fedrpc_allowlist_new(&al, &st), FEDRPC_OK);
	cr_assert_not(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert_not(fedrpc_allowlist_any(al));
	cr_assert_eq(fedrpc_allowlist_check(al, "b.example", &st),
	    FEDRPC_PERMISSION_DENIED);
	cr_assert(strstr(st.message, "allowNone") != NULL, "%s", st.message);
	fedrpc_allowlist_free(al);
}

Test(allowlist, list_strategy)
{
	fedrpc_allowlist *al = make(true, FEDRPC_STRATEGY_ALLOW_LIST, two, 2,
	    FEDRPC_SEARCH_NONE);
	fedrpc_status st = {0};

	cr_assert(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert(fedrpc_allowlist_allowed(al, "B.EXAMPLE."));
	cr_assert(fedrpc_allowlist_allowed(al, "c.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, "d.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, "x.b.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, ""));
	cr_assert_not(fedrpc_allowlist_allowed(al, NULL));
	cr_assert_not(fedrpc_allowlist_allowed(al, "bad..example"));
	cr_assert(fedrpc_allowlist_allowed_cb(al, "b.example"));
	cr_assert(fedrpc_allowlist_any(al));

	cr_assert_eq(fedrpc_allowlist_check(al, "b.example", &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_allowlist_check(al, "d.example", &st),
	    FEDRPC_PERMISSION_DENIED);
	cr_assert_str_eq(st.message,
	    "federation with d.example is not allowed (not on the allow list)");

	cr_assert_eq(fedrpc_allowlist_search_policy(al, "b.example"),
	    FEDRPC_SEARCH_EXACT_HANDLE);
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "c.EXAMPLE"),
	    FEDRPC_SEARCH_FULL);
	/* Not allowed: never a policy. */
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "d.example"),
	    FEDRPC_SEARCH_NONE);
	fedrpc_allowlist_free(al);
}

Test(allowlist, all_strategy_and_default_policy)
{
	fedrpc_allowlist *al = make(true, FEDRPC_STRATEGY_ALLOW_ALL, two, 1,
	    FEDRPC_SEARCH_FULL);

	cr_assert(fedrpc_allowlist_allowed(al, "anything.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, "-bad-.example"));
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "b.example"),
	    FEDRPC_SEARCH_EXACT_HANDLE);
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "z.example"),
	    FEDRPC_SEARCH_FULL);
	fedrpc_allowlist_free(al);
}

Test(allowlist, disabled_and_none)
{
	fedrpc_allowlist *al = make(false, FEDRPC_STRATEGY_ALLOW_ALL, two, 2,
	    FEDRPC_SEARCH_FULL);
	fedrpc_status st = {0};

	cr_assert_not(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert_not(fedrpc_allowlist_any(al));
	cr_assert_eq(fedrpc_allowlist_check(al, "b.example", &st),
	    FEDRPC_PERMISSION_DENIED);
	cr_assert_str_eq(st.message, "federation is disabled on this backend");
	fedrpc_allowlist_free(al);

	al = make(true, FEDRPC_STRATEGY_ALLOW_NONE, two, 2, FEDRPC_SEARCH_FULL);
	cr_assert_not(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "b.example"),
	    FEDRPC_SEARCH_NONE);
	fedrpc_allowlist_free(al);
}

Test(allowlist, bad_list_keeps_the_old_one)
{
	fedrpc_allowlist *al = make(true, FEDRPC_STRATEGY_ALLOW_LIST, two, 2,
	    FEDRPC_SEARCH_NONE);
	fedrpc_status                st  = {0};
	uint64_t                     gen = fedrpc_allowlist_generation(al);
	const fedrpc_allowlist_entry dup[] = {
		{"d.example", FEDRPC_SEARCH_NONE},
		{"D.example.", FEDRPC_SEARCH_FULL},
	};
	const fedrpc_allowlist_entry bad[] = {{"not a domain", 0}};
	fedrpc_allowlist_opts        o     = {.enabled = true,
	               .strategy                       = FEDRPC_STRATEGY_ALLOW_LIST,
	               .entries                        = dup,
	               .n_entries                      = 2};

	cr_assert_eq(fedrpc_allowlist_set(al, &o, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "allow list: d.example is listed twice");
	o.entries   = bad;
	o.n_entries = 1;
	cr_assert_eq(fedrpc_allowlist_set(al, &o, &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "allow list: 'not a domain' is not a valid "
	                             "domain name: character ' ' is not allowed");
	cr_assert_eq(fedrpc_allowlist_generation(al), gen);
	cr_assert(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, "d.example"));
	fedrpc_allowlist_free(al);
}

Test(allowlist, from_config)
{
	fedrpc_config    *cfg;
	fedrpc_allowlist *al;
	fedrpc_status     st = {0};
	const char       *text =
	    "domain = \"a.example\";\n"
	    "federation = { strategy = \"allowList\";\n"
	    "  default_search_policy = \"exact_handle_search\";\n"
	    "  allow = ( { domain = \"b.example\"; },\n"
	    "            { domain = \"c.example\"; search_policy = "
	    "\"full_search\"; } ); };\n"
	    "tls = { ca = \"/x/ca.crt\"; cert = \"/x/a.crt\"; key = "
	    "\"/x/a.key\"; };\n";

	cr_assert_eq(fedrpc_config_load_string(text, "t.conf", &cfg, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_allowlist_new(&al, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_allowlist_set_config(al, cfg, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert(fedrpc_allowlist_allowed(al, "b.example"));
	cr_assert_not(fedrpc_allowlist_allowed(al, "d.example"));
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "b.example"),
	    FEDRPC_SEARCH_EXACT_HANDLE);
	cr_assert_eq(fedrpc_allowlist_search_policy(al, "c.example"),
	    FEDRPC_SEARCH_FULL);
	/* Same answers as the configuration's own helpers. */
	cr_assert_eq(fedrpc_config_domain_allowed(cfg, "d.example"),
	    fedrpc_allowlist_allowed(al, "d.example"));
	cr_assert_eq(fedrpc_config_search_policy_for(cfg, "c.example"),
	    fedrpc_allowlist_search_policy(al, "c.example"));
	fedrpc_allowlist_free(al);
	fedrpc_config_free(cfg);
}

/* ---- lookups while another thread reloads ---- */

typedef struct race {
	fedrpc_allowlist *al;
	atomic_bool       stop;
	atomic_int        torn; /* saw b allowed with c's policy missing */
} race;

static void *
reader(void *arg)
{
	race *r = arg;

	while (!atomic_load(&r->stop)) {
		/* Both lists allow b.example; only the policy changes. */
		fedrpc_search_policy p =
		    fedrpc_allowlist_search_policy(r->al, "b.example");

		if (p != FEDRPC_SEARCH_EXACT_HANDLE && p != FEDRPC_SEARCH_FULL)
			atomic_fetch_add(&r->torn, 1);
	}
	return NULL;
}

Test(allowlist, reload_while_reading)
{
	const fedrpc_allowlist_entry l1[] = {{"b.example",
	    FEDRPC_SEARCH_EXACT_HANDLE}};
	const fedrpc_allowlist_entry l2[] = {{"a.example", FEDRPC_SEARCH_NONE},
	    {"b.example", FEDRPC_SEARCH_FULL}, {"z.example", FEDRPC_SEARCH_NONE}};
	race      r = {0};
	pthread_t t[3];

	r.al = make(true, FEDRPC_STRATEGY_ALLOW_LIST, l1, 1, FEDRPC_SEARCH_NONE);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, reader, &r), 0);
	for (int i = 0; i < 2000; i++) {
		fedrpc_status         st = {0};
		fedrpc_allowlist_opts o  = {.enabled = true,
		     .strategy = FEDRPC_STRATEGY_ALLOW_LIST,
		     .entries  = i % 2 ? l1 : l2,
		     .n_entries = i % 2 ? 1 : 3};

		cr_assert_eq(fedrpc_allowlist_set(r.al, &o, &st), FEDRPC_OK);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&r.torn), 0);
	cr_assert_eq(fedrpc_allowlist_generation(r.al), 2001);
	fedrpc_allowlist_free(r.al);
}
