/*
 * fedctl conv: the acting user's group conversations. `create` makes one
 * owned by our domain with members on any domain; `list` and `show` print
 * them (remote ones marked); `add` and `remove` change membership of ours,
 * `rename` its name; `leave` leaves any. Domains not told yet are reported
 * (exit 3): the change stands and is queued for them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"

#include "core/base/dns_name.h"
#include "fedctl_local.h"
#include "fedctl_output.h"

static void
conv_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl conv create NAME [MEMBER...] [--member M]...  "
	    "[common options]\n"
	    "       fedctl conv list                                      "
	    "[common options]\n"
	    "       fedctl conv show CONV                                 "
	    "[common options]\n"
	    "       fedctl conv add CONV MEMBER... [--admin]              "
	    "[common options]\n"
	    "       fedctl conv remove CONV MEMBER...                     "
	    "[common options]\n"
	    "       fedctl conv rename CONV NAME                          "
	    "[common options]\n"
	    "       fedctl conv leave CONV                                "
	    "[common options]\n"
	    "\n"
	    "  create  a conversation owned by our domain; NAME may be \"\" "
	    "(unnamed);\n"
	    "          MEMBERs must be connected to the acting user\n"
	    "  list    the acting user's conversations, local and remote\n"
	    "  show    one conversation with its members\n"
	    "  add     adds members (as admins with --admin) to a "
	    "conversation of ours\n"
	    "  remove  removes members from a conversation of ours (named "
	    "as the\n"
	    "          conversation shows them, whatever their domain lets "
	    "us search)\n"
	    "  rename  renames a conversation of ours (NAME \"\": unnamed)\n"
	    "  leave   leaves a conversation of any domain\n"
	    "\n"
	    "CONV is uuid@domain or the exact name of one of the acting "
	    "user's\n"
	    "conversations; MEMBER is handle@domain, uuid@domain or a handle "
	    "of ours.\n");
	fedctl_common_help(out);
}

/* The members named on the command line, resolved. */
typedef struct members {
	fedctl_qid     *q;  /* owned */
	fedctl_pb_qid  *pb; /* owned; views of q */
	fedctl_pb_qid **pp; /* owned */
	size_t          n;
} members;

static void
members_free(members *m)
{
	free(m->q);
	free(m->pb);
	free(m->pp);
	memset(m, 0, sizeof(*m));
}

static int
members_resolve(fedctl_session *s, const char *const *refs, size_t n,
    members *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (n == 0)
		return 0;
	m->q  = calloc(n, sizeof(*m->q));
	m->pb = calloc(n, sizeof(*m->pb));
	m->pp = calloc(n, sizeof(*m->pp));
	if (m->q == NULL || m->pb == NULL || m->pp == NULL)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if ((rc = fedctl_resolve_user(s, refs[i], &m->q[i], NULL)) != 0)
			return rc;
		m->pb[i] = fedctl_qid_pb(&m->q[i]);
		m->pp[i] = &m->pb[i];
		m->n++;
	}
	return 0;
}

/* Profiles of every member of the conversations, in one call. */
static Fedrpc__Local__V1__GetProfilesResponse *
member_profiles(fedctl_session *s, fedctl_pb_conv *const *cs, size_t n)
{
	const fedctl_pb_qid **ids;
	size_t                total = 0, k = 0;
	Fedrpc__Local__V1__GetProfilesResponse *r;

	for (size_t i = 0; i < n; i++)
		total += cs[i]->n_members + 1;
	if (total == 0 || (ids = calloc(total, sizeof(*ids))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ids[k++] = cs[i]->creator;
		for (size_t j = 0; j < cs[i]->n_members; j++)
			ids[k++] = cs[i]->members[j]->id;
	}
	r = fedctl_profiles(s, ids, k);
	free(ids);
	return r;
}

/* Prints one conversation (JSON with --json) after a change. */
static void
show_one(fedctl_session *s, fedctl_pb_conv *c, const char *verb,
    char *const *unreachable, size_t n_unreachable)
{
	Fedrpc__Local__V1__GetProfilesResponse *profiles =
	    member_profiles(s, &c, 1);

	if (s->o->json) {
		json_t *root = json_pack("{s:o}", "conversation",
		    fedctl_json_conv(s, c, profiles));

		if (unreachable != NULL || n_unreachable > 0)
			json_object_set_new(root, "unreachable_domains",
			    fedctl_json_strings(unreachable, n_unreachable));
		fedctl_json_emit(root);
	} else {
		if (verb != NULL)
			printf("%s ", verb);
		fedctl_print_conv(s, stdout, c, true, profiles);
	}
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
}

static int
conv_create(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__CreateConversationRequest   req =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *resp = NULL;
	fedctl_strs         more  = {0};
	const fedctl_optdef defs[] = {{"member", NULL, NULL, &more}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	fedctl_pb_qid       self;
	members             m = {0};
	const char        **refs = NULL;
	char              **pos;
	int                 npos, rc;
	size_t              n;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0) {
		free(more.v);
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	}
	if (npos < 1) {
		free(more.v);
		return fedctl_usage(o, "give the conversation's NAME (\"\" "
				       "for none)");
	}
	n = (size_t) npos - 1 + more.n;
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0) {
		free(more.v);
		return rc;
	}
	if ((refs = calloc(n + 1, sizeof(*refs))) == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (int i = 1; i < npos; i++)
		refs[i - 1] = pos[i];
	for (size_t i = 0; i < more.n; i++)
		refs[npos - 1 + i] = more.v[i];
	if ((rc = members_resolve(&s, refs, n, &m)) != 0)
		goto out;
	self          = fedctl_self(&s);
	req.self      = &self;
	req.name      = pos[0];
	req.members   = m.pp;
	req.n_members = m.n;
	if (fedrpc_local_v1_conversations_create_conversation(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "creating the conversation", &st);
		goto out;
	}
	if (resp->conversation == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "the federator sent no conversation");
		goto out;
	}
	show_one(&s, resp->conversation, "created", resp->unreachable_domains,
	    resp->n_unreachable_domains);
	rc = fedctl_unreachable(
	    &s, resp->unreachable_domains, resp->n_unreachable_domains);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	members_free(&m);
	free(refs);
	free(more.v);
	fedctl_session_close(&s);
	return rc;
}

static int
conv_list(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsRequest   req =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *resp = NULL;
	Fedrpc__Local__V1__GetProfilesResponse       *profiles = NULL;
	bool                with_members = false;
	const fedctl_optdef defs[] = {{"members", NULL, &with_members, NULL},
	    {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	fedctl_pb_qid       self;
	char              **pos;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0)
		return rc;
	self     = fedctl_self(&s);
	req.self = &self;
	if (fedrpc_local_v1_conversations_list_conversations(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing conversations", &st);
		goto out;
	}
	if (o->json || with_members)
		profiles = member_profiles(
		    &s, resp->conversations, resp->n_conversations);
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_conversations; i++)
			json_array_append_new(arr, fedctl_json_conv(&s,
			    resp->conversations[i], profiles));
		fedctl_json_emit(json_pack("{s:o, s:o}", "user",
		    fedctl_json_qid(&s, &self), "conversations", arr));
	} else {
		for (size_t i = 0; i < resp->n_conversations; i++)
			fedctl_print_conv(&s, stdout, resp->conversations[i],
			    with_members, profiles);
		if (resp->n_conversations == 0)
			printf("no conversations\n");
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
conv_show(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsResponse *list = NULL;
	fedctl_pb_conv *c;
	fedctl_session  s;
	char          **pos;
	int             npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1)
		return fedctl_usage(o, "give one conversation");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &c)) == 0)
		show_one(&s, c, NULL, NULL, 0);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

/*
 * Which member of c `ref` names (a handle of ours, handle@domain or
 * uuid@domain), matched against c's members and their profiles: a member
 * is named by what the conversation shows, whatever the search policy of
 * their domain. NULL: no member.
 */
static const fedctl_pb_qid *
member_named(fedctl_session *s, const fedctl_pb_conv *c,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles, const char *ref)
{
	char        handle[260], domain[DNS_NAME_MAX];
	const char *at;
	fedctl_qid  q;
	bool        by_id;

	if (ref[0] == '@')
		ref++;
	by_id = fedctl_qid_parse(ref, &q);
	at    = strchr(ref, '@');
	if (!by_id) {
		size_t n = at != NULL ? (size_t) (at - ref) : strlen(ref);

		if (n >= sizeof(handle))
			return NULL;
		for (size_t i = 0; i < n; i++)
			handle[i] = (char) tolower((unsigned char) ref[i]);
		handle[n] = '\0';
		if (at == NULL)
			snprintf(domain, sizeof(domain), "%s", s->state->domain);
		else if (!dns_domain_check(at + 1, domain, NULL, 0))
			return NULL;
	}
	for (size_t i = 0; i < c->n_members; i++) {
		const fedctl_pb_qid     *id = c->members[i]->id;
		const fedctl_pb_profile *p;

		if (id == NULL || id->id == NULL || id->domain == NULL)
			continue;
		if (by_id) {
			if (strcmp(id->id, q.id) == 0 &&
			    strcmp(id->domain, q.domain) == 0)
				return id;
			continue;
		}
		p = fedctl_profile_of(profiles, id);
		if (p != NULL && p->handle != NULL &&
		    strcmp(p->handle, handle) == 0 &&
		    dns_name_equal(id->domain, domain))
			return id;
	}
	return NULL;
}

/* The members to remove, named against c's members first; one that is
 * not a member is an error saying so. */
static int
members_resolve_in(fedctl_session *s, const fedctl_pb_conv *c,
    const char *const *refs, size_t n, members *m)
{
	Fedrpc__Local__V1__GetProfilesResponse *profiles =
	    member_profiles(s, (fedctl_pb_conv *const *) &c, 1);
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->q  = calloc(n, sizeof(*m->q));
	m->pb = calloc(n, sizeof(*m->pb));
	m->pp = calloc(n, sizeof(*m->pp));
	if (m->q == NULL || m->pb == NULL || m->pp == NULL)
		rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const fedctl_pb_qid *id = member_named(s, c, profiles, refs[i]);

		if (id == NULL || !fedctl_qid_from_pb(id, &m->q[i])) {
			rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE,
			    "%s is not a member of %s%s%s (fedctl conv show "
			    "lists them)",
			    refs[i], c->name && c->name[0] ? "\"" : "",
			    c->name && c->name[0] ? c->name : c->id->id,
			    c->name && c->name[0] ? "\"" : "");
			break;
		}
		m->pb[i] = fedctl_qid_pb(&m->q[i]);
		m->pp[i] = &m->pb[i];
		m->n++;
	}
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
	return rc;
}

/* conv add and conv remove: the same shape. */
static int
conv_change(fedctl_opts *o, int argc, char **argv, bool add)
{
	Fedrpc__Local__V1__ListConversationsResponse *list = NULL;
	ProtobufCMessage *resp = NULL;
	fedctl_pb_conv   *c, *after = NULL;
	char *const      *unreachable = NULL;
	size_t            n_unreachable = 0;
	bool              admin = false;
	const fedctl_optdef defs[] = {{"admin", NULL, &admin, NULL}, {NULL}};
	fedctl_session    s;
	fedrpc_status     st = {0};
	fedctl_pb_qid     self;
	members           m = {0};
	char            **pos;
	int               npos, rc;
	fedrpc_code       code;

	if ((rc = fedctl_parse(argc, argv, o, add ? defs : NULL, &pos,
	         &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 2)
		return fedctl_usage(o, "give a conversation and members");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &c)) != 0)
		goto out;
	rc = add ? members_resolve(&s, (const char *const *) pos + 1,
	               (size_t) npos - 1, &m)
	         : members_resolve_in(&s, c, (const char *const *) pos + 1,
	               (size_t) npos - 1, &m);
	if (rc != 0)
		goto out;
	if (fedctl_is_remote(&s, c->id->domain)) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "%s@%s is owned by %s: only its owner changes members "
		    "(you can leave it)",
		    c->id->id, c->id->domain, c->id->domain);
		goto out;
	}
	self = fedctl_self(&s);
	if (add) {
		Fedrpc__Local__V1__AddMembersRequest   req =
		    FEDRPC__LOCAL__V1__ADD_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__AddMembersResponse *r = NULL;

		req.self         = &self;
		req.conversation = c->id;
		req.members      = m.pp;
		req.n_members    = m.n;
		req.role         = admin
		            ? FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN
		            : FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER;
		code = fedrpc_local_v1_conversations_add_members(
		    s.ch, &req, &r, fedctl_call(&s), &st);
		if (r != NULL) {
			resp          = &r->base;
			after         = r->conversation;
			unreachable   = r->unreachable_domains;
			n_unreachable = r->n_unreachable_domains;
		}
	} else {
		Fedrpc__Local__V1__RemoveMembersRequest   req =
		    FEDRPC__LOCAL__V1__REMOVE_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__RemoveMembersResponse *r = NULL;

		req.self         = &self;
		req.conversation = c->id;
		req.members      = m.pp;
		req.n_members    = m.n;
		code = fedrpc_local_v1_conversations_remove_members(
		    s.ch, &req, &r, fedctl_call(&s), &st);
		if (r != NULL) {
			resp          = &r->base;
			after         = r->conversation;
			unreachable   = r->unreachable_domains;
			n_unreachable = r->n_unreachable_domains;
		}
	}
	if (code != FEDRPC_OK) {
		rc = fedctl_fail(
		    &s, add ? "adding members" : "removing members", &st);
		goto out;
	}
	if (after != NULL)
		show_one(&s, after, add ? "added to" : "removed from",
		    unreachable, n_unreachable);
	rc = fedctl_unreachable(&s, unreachable, n_unreachable);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	members_free(&m);
	fedctl_session_close(&s);
	return rc;
}

static int
conv_add(fedctl_opts *o, int argc, char **argv)
{
	return conv_change(o, argc, argv, true);
}

static int
conv_remove(fedctl_opts *o, int argc, char **argv)
{
	return conv_change(o, argc, argv, false);
}

static int
conv_leave(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsResponse *list = NULL;
	Fedrpc__Local__V1__LeaveConversationRequest   req =
	    FEDRPC__LOCAL__V1__LEAVE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__LeaveConversationResponse *resp = NULL;
	fedctl_pb_conv *c;
	fedctl_session  s;
	fedrpc_status   st = {0};
	fedctl_pb_qid   self;
	char          **pos;
	int             npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1)
		return fedctl_usage(o, "give one conversation");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &c)) != 0)
		goto out;
	self             = fedctl_self(&s);
	req.self         = &self;
	req.conversation = c->id;
	if (fedrpc_local_v1_conversations_leave_conversation(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "leaving", &st);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:o, s:b, s:o}", "conversation",
		    fedctl_json_qid(&s, c->id), "left", 1,
		    "unreachable_domains",
		    fedctl_json_strings(
			resp->unreachable_domains, resp->n_unreachable_domains)));
	else {
		printf("left ");
		fedctl_print_conv(&s, stdout, c, false, NULL);
	}
	rc = fedctl_unreachable(
	    &s, resp->unreachable_domains, resp->n_unreachable_domains);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
conv_rename(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsResponse  *list = NULL;
	Fedrpc__Local__V1__RenameConversationRequest   req =
	    FEDRPC__LOCAL__V1__RENAME_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__RenameConversationResponse *resp = NULL;
	fedctl_pb_conv *c;
	fedctl_session  s;
	fedrpc_status   st = {0};
	fedctl_pb_qid   self;
	char          **pos;
	int             npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 2)
		return fedctl_usage(o, "give a conversation and its new NAME");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &c)) != 0)
		goto out;
	if (fedctl_is_remote(&s, c->id->domain)) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "%s@%s is owned by %s: only its owner renames it",
		    c->id->id, c->id->domain, c->id->domain);
		goto out;
	}
	self             = fedctl_self(&s);
	req.self         = &self;
	req.conversation = c->id;
	req.name         = pos[1];
	if (fedrpc_local_v1_conversations_rename_conversation(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "renaming the conversation", &st);
		goto out;
	}
	if (resp->conversation == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "the federator sent no conversation");
		goto out;
	}
	show_one(&s, resp->conversation, "renamed", resp->unreachable_domains,
	    resp->n_unreachable_domains);
	rc = fedctl_unreachable(
	    &s, resp->unreachable_domains, resp->n_unreachable_domains);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static const fedctl_sub subs[] = {
	{"create", conv_create},
	{"list", conv_list},
	{"show", conv_show},
	{"add", conv_add},
	{"remove", conv_remove},
	{"rename", conv_rename},
	{"leave", conv_leave},
	{NULL, NULL},
};

static int
conv_run(int argc, char **argv)
{
	return fedctl_dispatch(argc, argv, subs, conv_help);
}

const fedctl_cmd fedctl_cmd_conv = {
    .name    = "conv",
    .summary = "create, list, show, add to, remove from or leave "
	       "conversations",
    .run     = conv_run,
    .help    = conv_help,
};
