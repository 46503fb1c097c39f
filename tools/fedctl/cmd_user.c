/*
 * fedctl user: a local user's account. `register` creates it on the local
 * federator and starts its key store; `show` says who the key store is
 * for and which clients it holds; `delete` deletes the account (other
 * domains are told) and its keys; `password` sets the password the
 * user logs in to the web client with (web_password.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrpc/local/v1/users.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"
#include "web_password.h"

static void
user_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl user register HANDLE NAME  [common options]\n"
	    "       fedctl user show                  [common options]\n"
	    "       fedctl user delete --yes          [common options]\n"
	    "       fedctl user password [--file F]   [common options]\n"
	    "       fedctl user login-link [--file F] [--ttl S]  [common "
	    "options]\n"
	    "\n"
	    "  register  creates a user on the local federator (HANDLE: 2 to "
	    "256 of\n"
	    "            [a-z0-9_.-]; NAME: the display name) and a key store "
	    "for it in\n"
	    "            the fedctl home; add a client next (fedctl client "
	    "add)\n"
	    "  show      the acting user: qualified id, handle, name, the "
	    "clients this\n"
	    "            home holds keys for and how many prekeys each has "
	    "left\n"
	    "  delete    deletes the user everywhere (other domains are "
	    "told) and its\n"
	    "            key store; needs --yes\n"
	    "  password  sets the acting user's web client password, read "
	    "as one line\n"
	    "            from standard input, as an argon2id hash in the "
	    "password file\n"
	    "            (--file, else --config's web.passwords)\n"
	    "  login-link  a one-time link that logs the acting user in to "
	    "the web client\n"
	    "            (good for --ttl seconds, default 3600; the address "
	    "from --config's\n"
	    "            web.listen)\n");
	fedctl_common_help(out);
}

static int
user_register(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__RegisterUserRequest   req =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
	Fedrpc__Local__V1__RegisterUserResponse *resp = NULL;
	fedctl_session                           s;
	fedctl_state                            *state = NULL;
	fedrpc_status                            st    = {0};
	fedctl_pb_profile p = FEDRPC__FEDERATION__V1__USER_PROFILE__INIT;
	char                                   **pos;
	char                                    *name = NULL;
	int                                      npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 2)
		return fedctl_usage(o, "give a HANDLE and a NAME");
	if (o->client != NULL || o->as != NULL)
		return fedctl_usage(o, "--as and --client do not apply here");
	if ((rc = fedctl_session_open(&s, o, 0)) != 0)
		return rc;
	if ((name = fedctl_join(pos + 1, npos - 1)) == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	req.handle = pos[0];
	req.name   = name;
	if (fedrpc_local_v1_users_register_user(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = st.code == FEDRPC_ALREADY_EXISTS
		    ? fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
			  "the handle @%s is taken", pos[0])
		    : fedctl_fail(&s, "registering", &st);
		goto out;
	}
	if (resp->user == NULL || resp->user->id == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "the federator registered @%s but sent no id", pos[0]);
		goto out;
	}
	s.domain = resp->user->domain;
	if (fedctl_state_create(s.home, resp->user->id, resp->user->domain,
	        pos[0], name, s.url, &state, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "registered %s@%s, but cannot keep its keys: %s",
		    resp->user->id, resp->user->domain, st.message);
		goto out;
	}
	p.id     = resp->user;
	p.handle = pos[0];
	p.name   = name;
	if (o->json) {
		fedctl_json_emit(json_pack("{s:o, s:s}", "user",
		    fedctl_json_user(&s, resp->user, &p), "key_store",
		    state->path));
	} else {
		printf("registered ");
		fedctl_print_user(&s, stdout, resp->user, &p);
		printf("\nkey store  %s\nnext: fedctl client add\n",
		    state->path);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_state_free(state);
	free(name);
	fedctl_session_close(&s);
	return rc;
}

static int
user_show(fedctl_opts *o, int argc, char **argv)
{
	fedctl_session    s;
	char            **pos;
	int               npos, rc;
	fedctl_pb_qid     self;
	fedctl_pb_profile p = FEDRPC__FEDERATION__V1__USER_PROFILE__INIT;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_NO_CHANNEL)) != 0)
		return rc;
	self     = fedctl_self(&s);
	p.id     = &self;
	p.handle = s.state->handle;
	p.name   = s.state->name;
	if (o->json) {
		json_t *cs = json_array();

		for (size_t i = 0; i < s.state->n_clients; i++) {
			const fedctl_client *c = &s.state->clients[i];
			char                 id[20];

			snprintf(id, sizeof(id), "%" PRIx64, c->id);
			json_array_append_new(cs,
			    json_pack("{s:s, s:s, s:I, s:b}", "id", id, "class",
				c->class_name, "prekeys",
				(json_int_t) c->n_prekeys, "current",
				c->id == s.state->current));
		}
		fedctl_json_emit(json_pack("{s:o, s:s, s:s*, s:o}", "user",
		    fedctl_json_user(&s, &self, &p), "key_store", s.state->path,
		    "local_api", s.state->local_api, "clients", cs));
	} else {
		printf("user       ");
		fedctl_print_user(&s, stdout, &self, &p);
		printf("\nkey store  %s\n", s.state->path);
		if (s.state->local_api != NULL)
			printf("local API  %s\n", s.state->local_api);
		printf("clients    %zu%s\n", s.state->n_clients,
		    s.state->n_clients == 0 ? "  (add one: fedctl client add)"
					    : "");
		for (size_t i = 0; i < s.state->n_clients; i++) {
			const fedctl_client *c = &s.state->clients[i];

			printf("  %" PRIx64 "  %s  %zu prekeys%s\n", c->id,
			    c->class_name, c->n_prekeys,
			    c->id == s.state->current ? "  (current)" : "");
		}
	}
	fedctl_session_close(&s);
	return FEDCTL_EXIT_OK;
}

static int
user_delete(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__DeleteUserRequest   req =
	    FEDRPC__LOCAL__V1__DELETE_USER_REQUEST__INIT;
	Fedrpc__Local__V1__DeleteUserResponse *resp = NULL;
	fedctl_session                         s;
	fedrpc_status                          st  = {0};
	bool                                   yes = false;
	const fedctl_optdef defs[] = {{"yes", NULL, &yes, NULL}, {NULL}};
	char              **pos;
	int                 npos, rc;
	fedctl_pb_qid       self;
	char                lock[4200];

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if (!yes)
		return fedctl_usage(o, "deleting a user cannot be undone: "
				       "add --yes");
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_LOCK)) != 0)
		return rc;
	self     = fedctl_self(&s);
	req.self = &self;
	if (fedrpc_local_v1_users_delete_user(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "deleting the user", &st);
		goto out;
	}
	/* The account is gone; its keys have nothing left to open. */
	snprintf(lock, sizeof(lock), "%s.lock", s.state->path);
	if (unlink(s.state->path) != 0)
		fprintf(stderr, "fedctl %s: warning: cannot remove %s: %s\n",
		    o->cmd, s.state->path, strerror(errno));
	unlink(lock);
	if (o->json)
		fedctl_json_emit(json_pack("{s:o, s:b, s:o}", "user",
		    fedctl_json_qid(&s, &self), "deleted", 1,
		    "unreachable_domains",
		    fedctl_json_strings(
			resp->unreachable_domains, resp->n_unreachable_domains)));
	else
		printf("deleted %s and its keys\n", s.state->qualified);
	rc = fedctl_unreachable(
	    &s, resp->unreachable_domains, resp->n_unreachable_domains);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

/* The password file: --file, else the configuration's. */
static const char *
password_file(fedctl_session *s, const char *file)
{
	if (file == NULL && s->cfg != NULL)
		file = s->cfg->web.passwords;
	return file;
}

/* One line of standard input, without its newline, into buf. */
static bool
read_password(char *buf, size_t n, size_t *len)
{
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "new web password: ");
	if (fgets(buf, (int) n, stdin) == NULL)
		return false;
	*len = strcspn(buf, "\r\n");
	buf[*len] = '\0';
	return true;
}

static int
user_password(fedctl_opts *o, int argc, char **argv)
{
	const char         *file = NULL;
	const fedctl_optdef defs[] = {{"file", &file, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	char              **pos, pw[1024];
	size_t              len = 0;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected (the password is "
				       "read from standard input)");
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_NO_CHANNEL)) != 0)
		return rc;
	if ((file = password_file(&s, file)) == NULL) {
		rc = fedctl_usage(o, "which password file? give --file or the "
				     "federator's --config (web.passwords)");
		goto out;
	}
	if (!read_password(pw, sizeof(pw), &len) || len < 8) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_USAGE,
		    "give a password of at least 8 characters on standard "
		    "input");
		goto out;
	}
	if (fedctl_web_password_set(file, s.state->handle, s.state->user_id, pw,
	        len, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot set the web password of %s: %s", s.state->handle,
		    st.message);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:s, s:s, s:b}", "user",
		    s.state->qualified, "file", file, "set", 1));
	else
		printf("web password of @%s set in %s\n", s.state->handle, file);
	rc = FEDCTL_EXIT_OK;
out:
	explicit_bzero(pw, sizeof(pw));
	fedctl_session_close(&s);
	return rc;
}

static int
user_login_link(fedctl_opts *o, int argc, char **argv)
{
	const char         *file = NULL, *ttl_s = "3600";
	const fedctl_optdef defs[] = {{"file", &file, NULL, NULL},
	    {"ttl", &ttl_s, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	char              **pos, token[65], link[1200], *end;
	unsigned long       ttl;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	ttl = strtoul(ttl_s, &end, 10);
	if (*end != '\0' || ttl < 1 || ttl > 604800)
		return fedctl_usage(o, "--ttl: 1 to 604800 seconds, not %s", ttl_s);
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_NO_CHANNEL)) != 0)
		return rc;
	if ((file = password_file(&s, file)) == NULL) {
		rc = fedctl_usage(o, "which password file? give --file or the "
				     "federator's --config (web.passwords)");
		goto out;
	}
	if (fedctl_web_login_token_add(file, s.state->handle, s.state->user_id,
	        (unsigned) ttl, token, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot make a log-in link for %s: %s", s.state->handle,
		    st.message);
		goto out;
	}
	/* The token goes in the fragment: browsers never send it to the
	 * server in a request line, a log or a Referer. */
	snprintf(link, sizeof(link), "%s/#login=%s&token=%s",
	    s.cfg != NULL && s.cfg->web.listen != NULL ? s.cfg->web.listen : "",
	    s.state->handle, token);
	if (o->json)
		fedctl_json_emit(json_pack("{s:s, s:s, s:I}", "user",
		    s.state->qualified, "link", link, "ttl", (json_int_t) ttl));
	else
		printf("%s\n", link);
	rc = FEDCTL_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	fedctl_session_close(&s);
	return rc;
}

static const fedctl_sub subs[] = {
	{"register", user_register},
	{"show", user_show},
	{"whoami", user_show},
	{"delete", user_delete},
	{"password", user_password},
	{"login-link", user_login_link},
	{NULL, NULL},
};

static int
user_run(int argc, char **argv)
{
	return fedctl_dispatch(argc, argv, subs, user_help);
}

const fedctl_cmd fedctl_cmd_user = {
    .name    = "user",
    .summary = "register, show or delete a local user (keys in the fedctl "
	       "home)",
    .run     = user_run,
    .help    = user_help,
};
