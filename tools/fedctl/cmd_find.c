/*
 * fedctl find, search and profile: looking users up, here or on other
 * domains. `find` takes an exact handle (handle@domain for another
 * domain, answered under that domain's search policy), `search` a term on
 * one domain, `profile` the profiles of users by id or handle.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/dns_name.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

static void
find_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl find HANDLE[@DOMAIN]  [common options]\n"
	    "\n"
	    "Finds the user with exactly this handle: on our domain, or with "
	    "@DOMAIN on\n"
	    "another one, which answers under the search policy it holds for "
	    "ours\n"
	    "(no_search finds nobody). Prints the user with their qualified "
	    "id.\n"
	    "Exit code 1 when nobody is found, 3 when DOMAIN cannot be "
	    "reached.\n");
	fedctl_common_help(out);
}

static void
search_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl search TERM [--domain DOMAIN]  [common options]\n"
	    "\n"
	    "Searches users by handle or name on our domain (full search) or "
	    "on DOMAIN,\n"
	    "under the policy DOMAIN holds for ours, which is printed too "
	    "(at most 15\n"
	    "results).\n");
	fedctl_common_help(out);
}

static void
profile_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl profile USER...  [common options]\n"
	    "\n"
	    "Prints the profiles of users on any domain. USER is uuid@domain, "
	    "handle@domain\n"
	    "or a handle of ours. Exit code 1 when a user is unknown, 3 when a "
	    "domain\n"
	    "cannot be reached.\n");
	fedctl_common_help(out);
}

static int
find_run(int argc, char **argv)
{
	fedctl_opts        o = {.cmd = "find", .help = find_help};
	fedctl_session     s;
	fedctl_qid         q;
	fedctl_pb_profile *p = NULL;
	char             **pos;
	int                npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1)
		return fedctl_usage(&o, "give one handle (or handle@domain)");
	if (fedctl_qid_parse(pos[0], &q))
		return fedctl_usage(&o,
		    "%s is an id; find takes a handle (see fedctl profile)",
		    pos[0]);
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_user(&s, pos[0], &q, &p)) == 0) {
		if (o.json)
			fedctl_json_emit(json_pack("{s:o}", "user",
			    fedctl_json_user(&s, p->id, p)));
		else {
			fedctl_print_user(&s, stdout, p->id, p);
			fputc('\n', stdout);
		}
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	fedctl_session_close(&s);
	return rc;
}

static const char *
policy_name(int p)
{
	switch (p) {
	case FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH:
		return "no_search";
	case FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_EXACT_HANDLE_SEARCH:
		return "exact_handle_search";
	case FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH:
		return "full_search";
	default:
		return "unspecified";
	}
}

static int
search_run(int argc, char **argv)
{
	Fedrpc__Local__V1__SearchUsersRequest   req =
	    FEDRPC__LOCAL__V1__SEARCH_USERS_REQUEST__INIT;
	Fedrpc__Local__V1__SearchUsersResponse *resp = NULL;
	fedctl_opts         o = {.cmd = "search", .help = search_help};
	const char         *domain = NULL;
	const fedctl_optdef defs[] = {{"domain", &domain, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	char              **pos, *term, why[96];
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 1)
		return fedctl_usage(&o, "what should be searched for?");
	if (domain != NULL && !dns_domain_check(domain, NULL, why, sizeof(why)))
		return fedctl_usage(&o,
		    "--domain: '%.64s' is not a valid domain name: %s", domain, why);
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	if ((term = fedctl_join(pos, npos)) == NULL) {
		fedctl_session_close(&s);
		return FEDCTL_EXIT_FAILURE;
	}
	req.term   = term;
	req.domain = (char *) (domain != NULL ? domain : "");
	if (fedrpc_local_v1_users_search_users(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "searching", &st);
		goto out;
	}
	if (o.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_contacts; i++)
			json_array_append_new(arr, fedctl_json_user(&s,
			    resp->contacts[i]->id, resp->contacts[i]));
		fedctl_json_emit(json_pack("{s:s, s:b, s:s, s:o}", "domain",
		    domain != NULL ? domain : (s.domain ? s.domain : ""),
		    "federated", fedctl_is_remote(&s, domain), "search_policy",
		    policy_name(resp->search_policy), "users", arr));
	} else {
		for (size_t i = 0; i < resp->n_contacts; i++) {
			fedctl_print_user(&s, stdout, resp->contacts[i]->id,
			    resp->contacts[i]);
			fputc('\n', stdout);
		}
		printf("%zu found; search policy of %s: %s\n",
		    resp->n_contacts,
		    domain != NULL ? domain : (s.domain ? s.domain : "ours"),
		    policy_name(resp->search_policy));
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(term);
	fedctl_session_close(&s);
	return rc;
}

static int
profile_run(int argc, char **argv)
{
	Fedrpc__Local__V1__GetProfilesRequest   req =
	    FEDRPC__LOCAL__V1__GET_PROFILES_REQUEST__INIT;
	Fedrpc__Local__V1__GetProfilesResponse *resp = NULL;
	fedctl_opts     o = {.cmd = "profile", .help = profile_help};
	fedctl_session  s;
	fedrpc_status   st = {0};
	fedctl_qid     *qs  = NULL;
	fedctl_pb_qid  *pq  = NULL, **pp = NULL;
	char          **pos;
	int             npos, rc;
	size_t          missing = 0;
	json_t         *arr     = NULL;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 1)
		return fedctl_usage(&o, "whose profile?");
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	qs = calloc((size_t) npos, sizeof(*qs));
	pq = calloc((size_t) npos, sizeof(*pq));
	pp = calloc((size_t) npos, sizeof(*pp));
	if (qs == NULL || pq == NULL || pp == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (int i = 0; i < npos; i++) {
		if ((rc = fedctl_resolve_user(&s, pos[i], &qs[i], NULL)) != 0)
			goto out;
		pq[i] = fedctl_qid_pb(&qs[i]);
		pp[i] = &pq[i];
	}
	req.users   = pp;
	req.n_users = (size_t) npos;
	if (fedrpc_local_v1_users_get_profiles(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "getting profiles", &st);
		goto out;
	}
	arr = json_array();
	for (int i = 0; i < npos; i++) {
		const fedctl_pb_profile *p = fedctl_profile_of(resp, &pq[i]);
		bool unreachable = false;

		for (size_t j = 0; j < resp->n_unreachable_domains; j++)
			unreachable |= strcmp(resp->unreachable_domains[j],
					   pq[i].domain) == 0;
		if (p == NULL && !unreachable)
			missing++;
		if (o.json) {
			json_t *u = fedctl_json_user(&s, &pq[i], p);

			json_object_set_new(u, "found", json_boolean(p != NULL));
			json_array_append_new(arr, u);
			continue;
		}
		fedctl_print_user(&s, stdout, &pq[i], p);
		if (p == NULL)
			printf("  (%s)", unreachable ? "domain unreachable"
						     : "no such user");
		fputc('\n', stdout);
	}
	if (o.json)
		fedctl_json_emit(json_pack("{s:O, s:o}", "users", arr,
		    "unreachable_domains",
		    fedctl_json_strings(resp->unreachable_domains,
			resp->n_unreachable_domains)));
	rc = fedctl_unreachable(
	    &s, resp->unreachable_domains, resp->n_unreachable_domains);
	if (rc == 0 && missing > 0)
		rc = FEDCTL_EXIT_FAILURE;
out:
	json_decref(arr);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(qs);
	free(pq);
	free(pp);
	fedctl_session_close(&s);
	return rc;
}

const fedctl_cmd fedctl_cmd_find = {
    .name    = "find",
    .summary = "find a user by exact handle, here or handle@domain",
    .run     = find_run,
    .help    = find_help,
};

const fedctl_cmd fedctl_cmd_search = {
    .name    = "search",
    .summary = "search users here or on another domain (--domain)",
    .run     = search_run,
    .help    = search_help,
};

const fedctl_cmd fedctl_cmd_profile = {
    .name    = "profile",
    .summary = "show the profiles of users on any domain",
    .run     = profile_run,
    .help    = profile_help,
};
