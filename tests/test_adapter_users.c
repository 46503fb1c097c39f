/*
 * The SQLite adapter's user side, called through the generated stubs over
 * inproc:// servers: registration and handle rules, clients and prekeys
 * (consumption, last resort), the federation Users and Version methods,
 * search policy per asking domain, and bad input.
 */
#include <sqlite3.h>

#include "adapter_fixture.h"

static fedrpc_channel *
fed(fx *f, int from, int to)
{
	fedrpc_status   st = {0};
	fedrpc_channel *ch = fx_chan(f, from, to, &st);

	cr_assert_not_null(ch, "%s", st.message);
	return ch;
}

Test(adapter_users, register_and_handle_rules)
{
	fx           *f  = fx_new(1);
	fedrpc_status st = {0};
	fx_user       u;
	char          long_ok[257], long_bad[258];
	char          name129[130];

	memset(long_ok, 'x', 256);
	long_ok[256] = '\0';
	memset(long_bad, 'x', 257);
	long_bad[257] = '\0';
	memset(name129, 'n', 129);
	name129[129] = '\0';

	u = fx_register(f, 0, "alice");
	cr_assert_str_eq(u.domain, "a.example");
	cr_assert_eq(strlen(u.id), 36);
	for (int i = 0; i < 36; i++)
		cr_assert(u.id[i] == '-' || (u.id[i] >= '0' && u.id[i] <= '9') ||
		    (u.id[i] >= 'a' && u.id[i] <= 'f'));
	cr_assert_eq(fx_try_register(f, 0, "ab", "Ab", NULL, &st), FEDRPC_OK);
	cr_assert_eq(fx_try_register(f, 0, "a.b-c_9", "x", NULL, &st),
	    FEDRPC_OK);
	cr_assert_eq(fx_try_register(f, 0, long_ok, "x", NULL, &st), FEDRPC_OK,
	    "%s", st.message);

	static const char *const bad[] = {
	    "", "a", "Alice", "al ice", "al@ice", "ål", "al+ce"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fx_try_register(f, 0, bad[i], "x", NULL, &st),
		    FEDRPC_INVALID_ARGUMENT, "handle '%s'", bad[i]);
	cr_assert_eq(fx_try_register(f, 0, long_bad, "x", NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "handle") != NULL, "%s", st.message);

	/* Names: 1..128 characters of UTF-8. */
	cr_assert_eq(fx_try_register(f, 0, "bob", "", NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(fx_try_register(f, 0, "bob", name129, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(fx_try_register(f, 0, "bob", "\xff\xfe", NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(fx_try_register(f, 0, "bob", "Zoë Ångström", NULL, &st),
	    FEDRPC_OK, "%s", st.message);

	/* Unique handles. */
	cr_assert_eq(fx_try_register(f, 0, "alice", "Other", NULL, &st),
	    FEDRPC_ALREADY_EXISTS);
	fx_free(f);
}

static fedrpc_code
try_add_client(fx *f, fx_qid *self, Fedrpc__Federation__V1__Prekey **pks,
    size_t n, Fedrpc__Federation__V1__Prekey *last, fedrpc_status *st)
{
	Fedrpc__Local__V1__AddClientRequest r =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientResponse *resp;
	fedrpc_code                           rc;

	r.self        = self;
	r.prekeys     = pks;
	r.n_prekeys   = n;
	r.last_prekey = last;
	rc = fedrpc_local_v1_users_add_client(f->d[0].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

Test(adapter_users, add_client_validation)
{
	fx                            *f = fx_new(1);
	fx_user                        u = fx_register(f, 0, "alice");
	fedrpc_status                  st = {0};
	Fedrpc__Federation__V1__Prekey pk[102], last, *pp[102];
	uint8_t                        key[1] = {7};
	fx_qid                         q;

	for (int i = 0; i < 102; i++) {
		fedrpc__federation__v1__prekey__init(&pk[i]);
		pk[i].id       = (uint32_t) i;
		pk[i].key.data = key;
		pk[i].key.len  = 1;
		pp[i]          = &pk[i];
	}
	fedrpc__federation__v1__prekey__init(&last);
	last.id       = 65535;
	last.key.data = key;
	last.key.len  = 1;

	cr_assert_eq(try_add_client(f, &u.q, pp, 3, &last, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(try_add_client(f, &u.q, pp, 100, &last, &st), FEDRPC_OK);
	cr_assert_eq(try_add_client(f, &u.q, pp, 0, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(try_add_client(f, &u.q, pp, 101, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(try_add_client(f, &u.q, pp, 3, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	last.id = 65534;
	cr_assert_eq(try_add_client(f, &u.q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	last.id = 65535;
	pk[1].id = 0; /* a duplicate id */
	cr_assert_eq(try_add_client(f, &u.q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "twice") != NULL, "%s", st.message);
	pk[1].id = 65535; /* the last-resort id among one-time prekeys */
	cr_assert_eq(try_add_client(f, &u.q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	pk[1].id      = 1;
	pk[1].key.len = 0; /* empty key */
	cr_assert_eq(try_add_client(f, &u.q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	pk[1].key.len = 1;

	/* Bad self: malformed, another domain, unknown. */
	q = fx_qid_of("a.example", "not-a-uuid");
	cr_assert_eq(try_add_client(f, &q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	q = fx_qid_of("a.example", "9122E5DE-B4FB-40FA-99AD-1B5D7D07BAE5");
	cr_assert_eq(try_add_client(f, &q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT, "upper-case UUIDs are not canonical");
	q = fx_qid_of("b.example", u.id);
	cr_assert_eq(try_add_client(f, &q, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "domain") != NULL, "%s", st.message);
	q = fx_qid_of("a.example", "9122e5de-b4fb-40fa-99ad-1b5d7d07bae5");
	cr_assert_eq(try_add_client(f, &q, pp, 3, &last, &st),
	    FEDRPC_NOT_FOUND);
	cr_assert_eq(try_add_client(f, NULL, pp, 3, &last, &st),
	    FEDRPC_INVALID_ARGUMENT);
	fx_free(f);
}

Test(adapter_users, version_get_and_callee_rule)
{
	fx           *f  = fx_new(2);
	fedrpc_status st = {0};
	Fedrpc__Federation__V1__GetVersionRequest vr =
	    FEDRPC__FEDERATION__V1__GET_VERSION_REQUEST__INIT;
	Fedrpc__Federation__V1__GetVersionResponse      *vresp;
	Fedrpc__Federation__V1__GetUserByHandleRequest   hr =
	    FEDRPC__FEDERATION__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUserByHandleResponse *hresp;
	fedrpc_channel                                  *ch;
	fedrpc_channel_opts                              o = {
	                                         .url           = f->d[0].fed_url,
	                                         .origin_domain = "b.example",
	                                         .target_domain = "a.example",
	                                         .api_version   = 7,
        };

	cr_assert_eq(fedrpc_federation_v1_version_get(
	                 fed(f, 1, 0), &vr, &vresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(vresp->n_supported, 1);
	cr_assert_eq(vresp->supported[0], 1);
	protobuf_c_message_free_unpacked(&vresp->base, NULL);

	/* A version we do not serve: Version/Get still answers, the rest
	 * is FAILED_PRECONDITION naming both sides. */
	cr_assert_eq(fedrpc_channel_open(&ch, &o, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_federation_v1_version_get(ch, &vr, &vresp, NULL, &st),
	    FEDRPC_OK);
	protobuf_c_message_free_unpacked(&vresp->base, NULL);
	hr.handle = "alice";
	cr_assert_eq(fedrpc_federation_v1_users_get_user_by_handle(
	                 ch, &hr, &hresp, NULL, &st),
	    FEDRPC_FAILED_PRECONDITION);
	cr_assert(strstr(st.message, "7") && strstr(st.message, "a.example"),
	    "%s", st.message);
	fedrpc_channel_close(ch);
	fx_free(f);
}

Test(adapter_users, versions_configured)
{
	fx           *f;
	fedrpc_status st = {0};
	Fedrpc__Federation__V1__GetVersionRequest vr =
	    FEDRPC__FEDERATION__V1__GET_VERSION_REQUEST__INIT;
	Fedrpc__Federation__V1__GetVersionResponse *vresp;

	f = fx_new(1);
	/* Restart a.example serving {3, 1}. */
	fx_stop_domain(f, 0);
	f->d[0].versions[0] = 3;
	f->d[0].versions[1] = 1;
	f->d[0].n_versions  = 2;
	fx_start_domain(f, 0);
	{
		fedrpc_channel     *ch;
		fedrpc_channel_opts o = {
		    .url           = f->d[0].fed_url,
		    .origin_domain = "x.example",
		    .target_domain = "a.example",
		};

		cr_assert_eq(fedrpc_channel_open(&ch, &o, &st), FEDRPC_OK);
		cr_assert_eq(fedrpc_federation_v1_version_get(
		                 ch, &vr, &vresp, NULL, &st),
		    FEDRPC_OK, "api_version 0 is answered: %s", st.message);
		cr_assert_eq(vresp->n_supported, 2);
		cr_assert_eq(vresp->supported[0], 1);
		cr_assert_eq(vresp->supported[1], 3);
		protobuf_c_message_free_unpacked(&vresp->base, NULL);
		fedrpc_channel_close(ch);
	}
	fx_free(f);
}

static Fedrpc__Federation__V1__GetUserByHandleResponse *
by_handle(fx *f, int from, int to, const char *h, fedrpc_code want)
{
	Fedrpc__Federation__V1__GetUserByHandleRequest r =
	    FEDRPC__FEDERATION__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUserByHandleResponse *resp = NULL;
	fedrpc_status                                    st = {0};

	r.handle = (char *) h;
	cr_assert_eq(fedrpc_federation_v1_users_get_user_by_handle(
	                 fed(f, from, to), &r, &resp, NULL, &st),
	    want, "%s", st.message);
	return resp;
}

static Fedrpc__Federation__V1__SearchUsersResponse *
search(fx *f, int from, int to, const char *term)
{
	Fedrpc__Federation__V1__SearchUsersRequest r =
	    FEDRPC__FEDERATION__V1__SEARCH_USERS_REQUEST__INIT;
	Fedrpc__Federation__V1__SearchUsersResponse *resp = NULL;
	fedrpc_status                                st = {0};

	r.term = (char *) term;
	cr_assert_eq(fedrpc_federation_v1_users_search_users(
	                 fed(f, from, to), &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

Test(adapter_users, search_policy_per_asking_domain)
{
	fx *f = fx_new(3);
	Fedrpc__Federation__V1__GetUserByHandleResponse *h;
	Fedrpc__Federation__V1__SearchUsersResponse     *s;
	char                                             handle[32];

	/* a.example lets b search fully, c by exact handle, and itself
	 * (as a stand-in for anyone else) not at all. */
	f->d[0].policy[1] = FX_FULL;
	f->d[0].policy[2] = FX_EXACT;
	f->d[0].policy[0] = FX_NO;
	fx_register(f, 0, "ann");
	for (int i = 0; i < 20; i++) {
		snprintf(handle, sizeof(handle), "ann%02d", i);
		fx_register(f, 0, handle);
	}
	{
		fedrpc_status st = {0};

		cr_assert_eq(fx_try_register(f, 0, "zed", "Mary Annabel", NULL,
		                 &st),
		    FEDRPC_OK);
	}

	/* GetUserByHandle: any policy but no_search finds the handle. */
	h = by_handle(f, 1, 0, "ann", FEDRPC_OK);
	cr_assert_not_null(h->profile);
	cr_assert_str_eq(h->profile->handle, "ann");
	cr_assert_str_eq(h->profile->id->domain, "a.example");
	protobuf_c_message_free_unpacked(&h->base, NULL);
	h = by_handle(f, 2, 0, "ann", FEDRPC_OK);
	cr_assert_not_null(h->profile);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	h = by_handle(f, 0, 0, "ann", FEDRPC_OK);
	cr_assert_null(h->profile, "no_search hides the user");
	protobuf_c_message_free_unpacked(&h->base, NULL);
	h = by_handle(f, 1, 0, "nobody", FEDRPC_OK);
	cr_assert_null(h->profile);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	by_handle(f, 1, 0, "Ann!", FEDRPC_INVALID_ARGUMENT);

	/* full_search: exact match first, then by handle, capped at 15. */
	s = search(f, 1, 0, "Ann");
	cr_assert_eq(s->search_policy, FX_FULL);
	cr_assert_eq(s->n_contacts, 15);
	cr_assert_str_eq(s->contacts[0]->handle, "ann");
	cr_assert_str_eq(s->contacts[1]->handle, "ann00");
	cr_assert_str_eq(s->contacts[14]->handle, "ann13");
	protobuf_c_message_free_unpacked(&s->base, NULL);
	/* ... and a word of the display name. */
	s = search(f, 1, 0, "annab");
	cr_assert_eq(s->n_contacts, 1);
	cr_assert_str_eq(s->contacts[0]->handle, "zed");
	protobuf_c_message_free_unpacked(&s->base, NULL);
	/* LIKE wildcards in the term are literal. */
	s = search(f, 1, 0, "a_n");
	cr_assert_eq(s->n_contacts, 0);
	protobuf_c_message_free_unpacked(&s->base, NULL);

	/* exact_handle_search: only the exact handle. */
	s = search(f, 2, 0, "ann");
	cr_assert_eq(s->search_policy, FX_EXACT);
	cr_assert_eq(s->n_contacts, 1);
	cr_assert_str_eq(s->contacts[0]->handle, "ann");
	protobuf_c_message_free_unpacked(&s->base, NULL);
	s = search(f, 2, 0, "an");
	cr_assert_eq(s->n_contacts, 0);
	protobuf_c_message_free_unpacked(&s->base, NULL);

	/* no_search: nothing, and says so. */
	s = search(f, 0, 0, "ann");
	cr_assert_eq(s->search_policy, FX_NO);
	cr_assert_eq(s->n_contacts, 0);
	protobuf_c_message_free_unpacked(&s->base, NULL);

	/* The local API searches its own backend fully, and another
	 * through federation under that backend's policy for us. */
	{
		Fedrpc__Local__V1__SearchUsersRequest r =
		    FEDRPC__LOCAL__V1__SEARCH_USERS_REQUEST__INIT;
		Fedrpc__Local__V1__SearchUsersResponse *resp;
		fedrpc_status                           st = {0};

		r.term   = "ann";
		r.domain = "a.example";
		cr_assert_eq(fedrpc_local_v1_users_search_users(
		                 f->d[2].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		cr_assert_eq(resp->search_policy, FX_EXACT);
		cr_assert_eq(resp->n_contacts, 1);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.domain = "";
		cr_assert_eq(fedrpc_local_v1_users_search_users(
		                 f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK);
		cr_assert_eq(resp->search_policy, FX_FULL);
		cr_assert_eq(resp->n_contacts, 15);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		r.domain = "down.example";
		cr_assert_eq(fedrpc_local_v1_users_search_users(
		                 f->d[0].lch, &r, &resp, NULL, &st),
		    FEDRPC_UNAVAILABLE);
		cr_assert(strstr(st.message, "down.example"), "%s", st.message);
	}
	fx_free(f);
}

Test(adapter_users, find_user_and_profiles)
{
	fx           *f   = fx_new(2);
	fx_user       ann = fx_register(f, 0, "ann");
	fx_user       bob = fx_register(f, 1, "bob");
	fedrpc_status st  = {0};
	Fedrpc__Local__V1__FindUserRequest fr =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	Fedrpc__Local__V1__FindUserResponse *fresp;
	Fedrpc__Local__V1__GetProfilesRequest pr =
	    FEDRPC__LOCAL__V1__GET_PROFILES_REQUEST__INIT;
	Fedrpc__Local__V1__GetProfilesResponse *presp;
	fx_qid  unknown = fx_qid_of("b.example",
	     "00000000-0000-4000-8000-000000000000");
	fx_qid  down    = fx_qid_of("down.example",
	        "00000000-0000-4000-8000-000000000001");
	fx_qid *users[] = {&bob.q, &unknown, &ann.q, &down};

	fr.query = "@ann";
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(fresp->profile->id->id, ann.id);
	protobuf_c_message_free_unpacked(&fresp->base, NULL);
	fr.query = "bob@b.example";
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_not_null(fresp->profile);
	cr_assert_str_eq(fresp->profile->id->id, bob.id);
	cr_assert_str_eq(fresp->profile->name, "bob");
	protobuf_c_message_free_unpacked(&fresp->base, NULL);
	/* b.example stops letting a.example search: not found. */
	f->d[1].policy[0] = FX_NO;
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_OK);
	cr_assert_null(fresp->profile);
	protobuf_c_message_free_unpacked(&fresp->base, NULL);
	fr.query = "Bob@b.example";
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	fr.query = "bob@down.example";
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_UNAVAILABLE);

	/* Profiles by id are not subject to the policy; request order;
	 * unknown users left out; unreachable domains listed. */
	pr.users   = users;
	pr.n_users = 4;
	cr_assert_eq(fedrpc_local_v1_users_get_profiles(
	                 f->d[0].lch, &pr, &presp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(presp->n_profiles, 2);
	cr_assert_str_eq(presp->profiles[0]->id->id, bob.id);
	cr_assert_str_eq(presp->profiles[1]->id->id, ann.id);
	cr_assert_eq(presp->n_unreachable_domains, 1);
	cr_assert_str_eq(presp->unreachable_domains[0], "down.example");
	protobuf_c_message_free_unpacked(&presp->base, NULL);
	users[1]   = &bob.q;
	pr.n_users = 2;
	cr_assert_eq(fedrpc_local_v1_users_get_profiles(
	                 f->d[0].lch, &pr, &presp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT, "a user twice");
	fx_free(f);
}

Test(adapter_users, federation_lookups_bad_input)
{
	fx           *f   = fx_new(2);
	fx_user       ann = fx_register(f, 0, "ann");
	fedrpc_status st  = {0};
	Fedrpc__Federation__V1__GetUsersByIdsRequest r =
	    FEDRPC__FEDERATION__V1__GET_USERS_BY_IDS_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUsersByIdsResponse *resp;
	Fedrpc__Federation__V1__GetUserClientsRequest  cr_ =
	    FEDRPC__FEDERATION__V1__GET_USER_CLIENTS_REQUEST__INIT;
	Fedrpc__Federation__V1__GetUserClientsResponse *cresp;
	fx_qid  other   = fx_qid_of("b.example", ann.id);
	fx_qid  bad     = fx_qid_of("a.example", "xyz");
	fx_qid  baddom  = fx_qid_of("A.EXAMPLE", ann.id);
	fx_qid  unknown = fx_qid_of("a.example",
	     "00000000-0000-4000-8000-000000000000");
	fx_qid *ids[1001];
	uint64_t c1, c2;

	c1 = fx_add_client(f, &ann, 0, 2);
	c2 = fx_add_client(f, &ann, 0, 2);
	ids[0]    = &unknown;
	ids[1]    = &ann.q;
	r.users   = ids;
	r.n_users = 2;
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_profiles, 1);
	cr_assert_str_eq(resp->profiles[0]->handle, "ann");
	protobuf_c_message_free_unpacked(&resp->base, NULL);

	ids[0] = &other; /* relaying: a.example answers for its own only */
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	ids[0] = &bad;
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	ids[0] = &baddom;
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	ids[0] = &ann.q; /* twice */
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	for (int i = 0; i < 1001; i++)
		ids[i] = &unknown;
	r.n_users = 1001;
	cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "1000"), "%s", st.message);

	/* GetUserClients: existing users, clients ascending. */
	ids[0]      = &ann.q;
	ids[1]      = &unknown;
	cr_.users   = ids;
	cr_.n_users = 2;
	cr_assert_eq(fedrpc_federation_v1_users_get_user_clients(
	                 fed(f, 1, 0), &cr_, &cresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(cresp->n_users, 1);
	cr_assert_eq(cresp->users[0]->n_clients, 2);
	cr_assert_eq(cresp->users[0]->clients[0]->id, c1 < c2 ? c1 : c2);
	cr_assert_eq(cresp->users[0]->clients[1]->id, c1 < c2 ? c2 : c1);
	cr_assert_eq(cresp->users[0]->clients[0]->client_class,
	    FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_DESKTOP);
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	fx_free(f);
}

static Fedrpc__Federation__V1__ClaimPrekeyResponse *
claim(fx *f, fx_qid *user, uint64_t client)
{
	Fedrpc__Federation__V1__ClaimPrekeyRequest r =
	    FEDRPC__FEDERATION__V1__CLAIM_PREKEY_REQUEST__INIT;
	Fedrpc__Federation__V1__ClaimPrekeyResponse *resp;
	fedrpc_status                                st = {0};

	r.user   = user;
	r.client = client;
	cr_assert_eq(fedrpc_federation_v1_users_claim_prekey(
	                 fed(f, 1, 0), &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	return resp;
}

Test(adapter_users, prekeys_consumed_last_resort_kept)
{
	fx      *f   = fx_new(2);
	fx_user  ann = fx_register(f, 0, "ann");
	uint64_t c   = fx_add_client(f, &ann, 10, 3);
	fx_qid   unknown = fx_qid_of("a.example",
	      "00000000-0000-4000-8000-000000000000");
	Fedrpc__Federation__V1__ClaimPrekeyResponse *r;

	/* Lowest id first, each once, then the last resort forever. */
	for (uint32_t want = 10; want < 13; want++) {
		r = claim(f, &ann.q, c);
		cr_assert_not_null(r->prekey);
		cr_assert_eq(r->prekey->client, c);
		cr_assert_eq(r->prekey->prekey->id, want);
		cr_assert_eq(r->prekey->prekey->key.len, 4);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	for (int i = 0; i < 3; i++) {
		r = claim(f, &ann.q, c);
		cr_assert_eq(r->prekey->prekey->id, 65535);
		cr_assert_arr_eq(r->prekey->prekey->key.data, "LAST", 4);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	r = claim(f, &ann.q, c + 1);
	cr_assert_null(r->prekey, "unknown client");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = claim(f, &unknown, c);
	cr_assert_null(r->prekey, "unknown user");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	fx_free(f);
}

/* Deletes every prekey of a client behind the adapter's back. */
static void
drop_prekeys(fx *f, const char *user, uint64_t client)
{
	sqlite3 *db;
	char     sql[256];

	cr_assert_eq(sqlite3_open(f->d[0].db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	snprintf(sql, sizeof(sql),
	    "DELETE FROM prekeys WHERE user_id = '%s' AND client = %lld", user,
	    (long long) client);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

Test(adapter_users, prekey_bundles)
{
	fx      *f   = fx_new(2);
	fx_user  ann = fx_register(f, 0, "ann");
	uint64_t c1  = fx_add_client(f, &ann, 0, 2);
	uint64_t c2  = fx_add_client(f, &ann, 5, 1);
	uint64_t c3  = fx_add_client(f, &ann, 0, 1);
	fx_qid   unknown = fx_qid_of("a.example",
	      "00000000-0000-4000-8000-000000000000");
	fedrpc_status st = {0};
	Fedrpc__Federation__V1__ClaimPrekeyBundleRequest br =
	    FEDRPC__FEDERATION__V1__CLAIM_PREKEY_BUNDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__ClaimPrekeyBundleResponse *bresp;
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleRequest mr =
	    FEDRPC__FEDERATION__V1__CLAIM_MULTI_PREKEY_BUNDLE_REQUEST__INIT;
	Fedrpc__Federation__V1__ClaimMultiPrekeyBundleResponse *mresp;
	Fedrpc__Federation__V1__UserClientIds uci[2], *ucp[2];
	uint64_t                              want[3];

	/* A client without any prekey is left out of a bundle. */
	drop_prekeys(f, ann.id, c3);
	br.user = &ann.q;
	cr_assert_eq(fedrpc_federation_v1_users_claim_prekey_bundle(
	                 fed(f, 1, 0), &br, &bresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(bresp->user->id, ann.id);
	cr_assert_eq(bresp->n_clients, 2);
	for (size_t i = 0; i < 2; i++) {
		uint64_t cl = bresp->clients[i]->client;

		cr_assert(cl == c1 || cl == c2);
		cr_assert_eq(bresp->clients[i]->prekey->id, cl == c1 ? 0 : 5);
	}
	protobuf_c_message_free_unpacked(&bresp->base, NULL);
	br.user = &unknown;
	cr_assert_eq(fedrpc_federation_v1_users_claim_prekey_bundle(
	                 fed(f, 1, 0), &br, &bresp, NULL, &st),
	    FEDRPC_OK);
	cr_assert_eq(bresp->n_clients, 0);
	protobuf_c_message_free_unpacked(&bresp->base, NULL);

	/* Multi: every requested client has an entry, null when none. */
	want[0] = c1;
	want[1] = c3;
	want[2] = 12345;
	for (int i = 0; i < 2; i++) {
		fedrpc__federation__v1__user_client_ids__init(&uci[i]);
		ucp[i] = &uci[i];
	}
	uci[0].user      = &ann.q;
	uci[0].clients   = want;
	uci[0].n_clients = 3;
	uci[1].user      = &unknown;
	uci[1].clients   = want;
	uci[1].n_clients = 1;
	mr.users         = ucp;
	mr.n_users       = 2;
	cr_assert_eq(fedrpc_federation_v1_users_claim_multi_prekey_bundle(
	                 fed(f, 1, 0), &mr, &mresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(mresp->n_users, 2);
	cr_assert_eq(mresp->users[0]->n_clients, 3);
	cr_assert_eq(mresp->users[0]->clients[0]->client, c1);
	cr_assert_eq(mresp->users[0]->clients[0]->prekey->id, 1);
	cr_assert_eq(mresp->users[0]->clients[1]->client, c3);
	cr_assert_null(mresp->users[0]->clients[1]->prekey);
	cr_assert_null(mresp->users[0]->clients[2]->prekey);
	cr_assert_null(mresp->users[1]->clients[0]->prekey);
	protobuf_c_message_free_unpacked(&mresp->base, NULL);
	want[1] = c1; /* a client twice */
	uci[0].n_clients = 2;
	cr_assert_eq(fedrpc_federation_v1_users_claim_multi_prekey_bundle(
	                 fed(f, 1, 0), &mr, &mresp, NULL, &st),
	    FEDRPC_INVALID_ARGUMENT);
	fx_free(f);
}

Test(adapter_users, local_claim_prekeys_across_domains)
{
	fx      *f   = fx_new(2);
	fx_user  ann = fx_register(f, 0, "ann");
	fx_user  bob = fx_register(f, 1, "bob");
	uint64_t a1  = fx_add_client(f, &ann, 0, 1);
	uint64_t b1  = fx_add_client(f, &bob, 0, 1);
	uint64_t b2  = fx_add_client(f, &bob, 7, 1);
	fx_qid   down = fx_qid_of("down.example",
	      "00000000-0000-4000-8000-000000000000");
	fedrpc_status st = {0};
	Fedrpc__Local__V1__ClaimPrekeysRequest r =
	    FEDRPC__LOCAL__V1__CLAIM_PREKEYS_REQUEST__INIT;
	Fedrpc__Local__V1__ClaimPrekeysResponse *resp;
	Fedrpc__Federation__V1__UserClientIds    t[4], *tp[4];
	uint64_t                                 b2only[] = {b2};
	uint64_t                                 a1only[] = {a1};

	for (int i = 0; i < 4; i++) {
		fedrpc__federation__v1__user_client_ids__init(&t[i]);
		tp[i] = &t[i];
	}
	t[0].user      = &bob.q; /* all of bob's clients: a bundle */
	t[1].user      = &down;
	t[2].user      = &ann.q;
	t[2].clients   = a1only;
	t[2].n_clients = 1;
	r.targets      = tp;
	r.n_targets    = 3;
	cr_assert_eq(fedrpc_local_v1_users_claim_prekeys(
	                 f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_users, 2);
	cr_assert_str_eq(resp->users[0]->user->id, bob.id);
	cr_assert_eq(resp->users[0]->n_clients, 2);
	cr_assert_str_eq(resp->users[1]->user->id, ann.id);
	cr_assert_eq(resp->users[1]->clients[0]->prekey->id, 0);
	cr_assert_eq(resp->n_unreachable_domains, 1);
	cr_assert_str_eq(resp->unreachable_domains[0], "down.example");
	protobuf_c_message_free_unpacked(&resp->base, NULL);

	/* Named clients of a remote user: one multi-bundle claim; the
	 * one-time prekey of b2 was used by the bundle above. */
	t[0].clients   = b2only;
	t[0].n_clients = 1;
	r.n_targets    = 1;
	cr_assert_eq(fedrpc_local_v1_users_claim_prekeys(
	                 f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(resp->n_users, 1);
	cr_assert_eq(resp->users[0]->n_clients, 1);
	cr_assert_eq(resp->users[0]->clients[0]->client, b2);
	cr_assert_eq(resp->users[0]->clients[0]->prekey->id, 65535);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	(void) b1;
	fx_free(f);
}

Test(adapter_users, remove_client_and_reopen)
{
	fx           *f   = fx_new(1);
	fx_user       ann = fx_register(f, 0, "ann");
	uint64_t      c   = fx_add_client(f, &ann, 0, 1);
	fedrpc_status st  = {0};
	Fedrpc__Local__V1__RemoveClientRequest r =
	    FEDRPC__LOCAL__V1__REMOVE_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__RemoveClientResponse *resp;
	Fedrpc__Local__V1__FindUserRequest       fr =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	Fedrpc__Local__V1__FindUserResponse *fresp;

	r.self   = &ann.q;
	r.client = c + 1;
	cr_assert_eq(fedrpc_local_v1_users_remove_client(
	                 f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_NOT_FOUND);
	r.client = c;
	cr_assert_eq(fedrpc_local_v1_users_remove_client(
	                 f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	cr_assert_eq(fedrpc_local_v1_users_remove_client(
	                 f->d[0].lch, &r, &resp, NULL, &st),
	    FEDRPC_NOT_FOUND);

	/* What was acknowledged is in the file: close and reopen. */
	fx_stop_domain(f, 0);
	fx_start_domain(f, 0);
	fr.query = "ann";
	cr_assert_eq(fedrpc_local_v1_users_find_user(
	                 f->d[0].lch, &fr, &fresp, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_not_null(fresp->profile);
	cr_assert_str_eq(fresp->profile->id->id, ann.id);
	protobuf_c_message_free_unpacked(&fresp->base, NULL);
	fx_free(f);
}

/* Claims from several threads at once, over the server's worker pool and
 * the adapter's connection pool. */
typedef struct claimer {
	fx      *f;
	fx_qid  *user;
	uint64_t client;
	uint32_t got[30];
	int      failures;
} claimer;

static void *
claim_loop(void *arg)
{
	claimer      *c  = arg;
	fedrpc_status st = {0};
	Fedrpc__Federation__V1__ClaimPrekeyRequest r =
	    FEDRPC__FEDERATION__V1__CLAIM_PREKEY_REQUEST__INIT;

	r.user   = c->user;
	r.client = c->client;
	for (int i = 0; i < 30; i++) {
		Fedrpc__Federation__V1__ClaimPrekeyResponse *resp;

		if (fedrpc_federation_v1_users_claim_prekey(
		        fx_chan(c->f, 1, 0, &st), &r, &resp, NULL, &st) !=
		        FEDRPC_OK ||
		    resp->prekey == NULL) {
			c->failures++;
			continue;
		}
		c->got[i] = resp->prekey->prekey->id;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return NULL;
}

Test(adapter_users, concurrent_claims_never_share_a_prekey)
{
	fx       *f   = fx_new(2);
	fx_user   ann = fx_register(f, 0, "ann");
	uint64_t  c   = fx_add_client(f, &ann, 0, 100);
	claimer   cl[4];
	pthread_t th[4];
	int       seen[65536] = {0}, last = 0;

	for (int i = 0; i < 4; i++) {
		memset(&cl[i], 0, sizeof(cl[i]));
		cl[i].f      = f;
		cl[i].user   = &ann.q;
		cl[i].client = c;
		cr_assert_eq(pthread_create(&th[i], NULL, claim_loop, &cl[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(cl[i].failures, 0);
		for (int k = 0; k < 30; k++) {
			if (cl[i].got[k] == 65535) {
				last++;
				continue;
			}
			cr_assert_eq(seen[cl[i].got[k]]++, 0,
			    "prekey %u claimed twice", cl[i].got[k]);
		}
	}
	cr_assert_eq(last, 20, "100 one-time prekeys, then the last resort");
	fx_free(f);
}
