/*
 * fedctl client: the acting user's clients (devices). `add` makes a
 * client's X25519 prekeys here, uploads only their public halves with the
 * new client and keeps the private ones in the key store; `list`, `use`
 * and `remove` manage the clients this home holds keys for (and their
 * sessions, which go with them).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/users.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

#define DEFAULT_PREKEYS 20
#define MAX_PREKEYS 100 /* what AddClient takes */

static void
client_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl client add [--class CLASS] [--prekeys N]  [common "
	    "options]\n"
	    "       fedctl client list                              [common "
	    "options]\n"
	    "       fedctl client use ID                            [common "
	    "options]\n"
	    "       fedctl client remove [ID]                       [common "
	    "options]\n"
	    "       fedctl client prekeys [--count N]               [common "
	    "options]\n"
	    "\n"
	    "  add     registers a new client of the acting user: makes N "
	    "one-time X25519\n"
	    "          prekeys (ids 0..N-1, default %d, at most %d) and the "
	    "last-resort\n"
	    "          prekey (id 65535), uploads their public halves, keeps "
	    "the private\n"
	    "          ones in the key store, and makes the client current. "
	    "CLASS: phone,\n"
	    "          tablet, desktop (default) or legalhold\n"
	    "  list    the clients this home holds keys for, with their "
	    "unused prekeys\n"
	    "          and end-to-end sessions\n"
	    "  use     makes client ID the current one\n"
	    "  remove  removes client ID (default: the current one) from the "
	    "backend and\n"
	    "          its keys from the key store\n"
	    "  prekeys tops up the current client's one-time prekeys: makes N "
	    "more\n"
	    "          (default %d, at most %d) with fresh ids, keeps the "
	    "private halves\n"
	    "          and uploads the public ones. Senders use one each to "
	    "start a\n"
	    "          session; fedctl inbox says when fewer than 10 are "
	    "left\n",
	    DEFAULT_PREKEYS, MAX_PREKEYS, DEFAULT_PREKEYS, MAX_PREKEYS);
	fedctl_common_help(out);
}

static int
client_add(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__AddClientRequest   req =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientResponse *resp = NULL;
	const char          *cls = "desktop", *count = NULL;
	const fedctl_optdef  defs[] = {{"class", &cls, NULL, NULL},
	     {"prekeys", &count, NULL, NULL}, {NULL}};
	fedctl_session       s;
	fedrpc_status        st = {0};
	fedctl_prekey       *keys = NULL;
	Fedrpc__Federation__V1__Prekey  *pks = NULL, **pkp = NULL, last;
	fedctl_pb_qid        self;
	char               **pos, *end;
	int                  npos, rc, class_value;
	unsigned long        n = DEFAULT_PREKEYS;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if ((class_value = fedctl_class_parse(cls)) < 0)
		return fedctl_usage(o,
		    "unknown class \"%s\" (phone, tablet, desktop, legalhold)",
		    cls);
	if (count != NULL &&
	    ((n = strtoul(count, &end, 10)) < 1 || n > MAX_PREKEYS ||
	        *end != '\0'))
		return fedctl_usage(
		    o, "--prekeys takes 1 to %d", MAX_PREKEYS);
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_LOCK)) != 0)
		return rc;
	/* n one-time prekeys and the last resort, kept in that order. */
	keys = calloc(n + 1, sizeof(*keys));
	pks  = calloc(n, sizeof(*pks));
	pkp  = calloc(n, sizeof(*pkp));
	if (keys == NULL || pks == NULL || pkp == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= n; i++) {
		keys[i].id = i < n ? (uint16_t) i : FEDCTL_E2E_LAST_RESORT;
		if (fedctl_e2e_keypair_generate(&keys[i].kp) != FEDCTL_E2E_OK) {
			rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
			    "cannot make prekeys: %s",
			    fedctl_e2e_strerror(FEDCTL_E2E_ECRYPTO));
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		fedrpc__federation__v1__prekey__init(&pks[i]);
		pks[i].id       = keys[i].id;
		pks[i].key.data = keys[i].kp.pub;
		pks[i].key.len  = FEDCTL_E2E_KEY_LEN;
		pkp[i]          = &pks[i];
	}
	fedrpc__federation__v1__prekey__init(&last);
	last.id           = FEDCTL_E2E_LAST_RESORT;
	last.key.data     = keys[n].kp.pub;
	last.key.len      = FEDCTL_E2E_KEY_LEN;
	self              = fedctl_self(&s);
	req.self          = &self;
	req.prekeys       = pkp;
	req.n_prekeys     = n;
	req.last_prekey   = &last;
	req.client_class  = class_value;
	if (fedrpc_local_v1_users_add_client(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "adding a client", &st);
		goto out;
	}
	if (fedctl_state_add_client(s.state, resp->client, cls, keys, n + 1,
	        &st) != FEDRPC_OK ||
	    fedctl_state_save(s.state, &st) != FEDRPC_OK) {
		Fedrpc__Local__V1__RemoveClientRequest   rr =
		    FEDRPC__LOCAL__V1__REMOVE_CLIENT_REQUEST__INIT;
		Fedrpc__Local__V1__RemoveClientResponse *rresp = NULL;
		fedrpc_status                            rst   = {0};

		/* A client whose keys we lost must not receive messages. */
		rr.self   = &self;
		rr.client = resp->client;
		if (fedrpc_local_v1_users_remove_client(
		        s.ch, &rr, &rresp, fedctl_call(&s), &rst) == FEDRPC_OK)
			protobuf_c_message_free_unpacked(&rresp->base, NULL);
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot keep the new client's keys (client removed "
		    "again): %s",
		    st.message);
		goto out;
	}
	if (o->json) {
		char id[20];

		snprintf(id, sizeof(id), "%" PRIx64, resp->client);
		fedctl_json_emit(json_pack("{s:o, s:{s:s, s:s, s:I, s:i, s:b}}",
		    "user", fedctl_json_qid(&s, &self), "client", "id", id,
		    "class", cls, "one_time_prekeys", (json_int_t) n,
		    "last_resort_prekey", FEDCTL_E2E_LAST_RESORT, "current", 1));
	} else {
		printf("client %" PRIx64 " (%s) added for ", resp->client, cls);
		fedctl_print_user(&s, stdout, &self, NULL);
		printf("\n%lu one-time prekeys and the last-resort prekey "
		       "uploaded; private keys in %s\n",
		    n, s.state->path);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (keys != NULL)
		explicit_bzero(keys, (n + 1) * sizeof(*keys));
	free(keys);
	free(pks);
	free(pkp);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

/* How many one-time prekeys a client has not seen used. */
static size_t
unused_one_time(const fedctl_client *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_prekeys; i++)
		n += c->prekeys[i].id != FEDCTL_E2E_LAST_RESORT &&
		    c->prekeys[i].used_by == 0;
	return n;
}

static int
client_list(fedctl_opts *o, int argc, char **argv)
{
	fedctl_session s;
	char         **pos;
	int            npos, rc;
	json_t        *arr;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_NO_CHANNEL)) != 0)
		return rc;
	arr = json_array();
	for (size_t i = 0; i < s.state->n_clients; i++) {
		const fedctl_client *c = &s.state->clients[i];
		char                 id[20];

		snprintf(id, sizeof(id), "%" PRIx64, c->id);
		if (o->json)
			json_array_append_new(arr,
			    json_pack("{s:s, s:s, s:I, s:I, s:b}", "id", id,
				"class", c->class_name, "one_time_prekeys_unused",
				(json_int_t) unused_one_time(c), "sessions",
				(json_int_t) c->sessions.n, "current",
				c->id == s.state->current));
		else
			printf("%s  %s  %zu one-time prekeys unused, %zu "
			       "session%s%s\n",
			    id, c->class_name, unused_one_time(c),
			    c->sessions.n, c->sessions.n == 1 ? "" : "s",
			    c->id == s.state->current ? "  (current)" : "");
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:s, s:o}", "user",
		    s.state->qualified, "clients", arr));
	else {
		json_decref(arr);
		if (s.state->n_clients == 0)
			printf("no clients yet (fedctl client add)\n");
	}
	fedctl_session_close(&s);
	return FEDCTL_EXIT_OK;
}

static int
client_use(fedctl_opts *o, int argc, char **argv)
{
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;
	uint64_t       id;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1 || !fedctl_client_id_parse(pos[0], &id))
		return fedctl_usage(o, "give one client id (hex)");
	if ((rc = fedctl_session_open(&s, o,
	         FEDCTL_NEED_USER | FEDCTL_LOCK | FEDCTL_NO_CHANNEL)) != 0)
		return rc;
	if (fedctl_state_client(s.state, id) == NULL)
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "no keys for client %s here", pos[0]);
	else {
		s.state->current = id;
		if (fedctl_state_save(s.state, &st) != FEDRPC_OK)
			rc = fedctl_failf(
			    &s, FEDCTL_EXIT_FAILURE, "%s", st.message);
		else if (o->json)
			fedctl_json_emit(json_pack("{s:s}", "current", pos[0]));
		else
			printf("client %" PRIx64 " is now current\n", id);
	}
	fedctl_session_close(&s);
	return rc;
}

static int
client_remove(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__RemoveClientRequest   req =
	    FEDRPC__LOCAL__V1__REMOVE_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__RemoveClientResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	fedctl_pb_qid  self;
	char         **pos;
	int            npos, rc;
	uint64_t       id = 0;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos > 1 || (npos == 1 && !fedctl_client_id_parse(pos[0], &id)))
		return fedctl_usage(o, "give at most one client id (hex)");
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_USER | FEDCTL_LOCK)) != 0)
		return rc;
	if (id == 0 && (id = s.state->current) == 0) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "no current client");
		goto out;
	}
	self       = fedctl_self(&s);
	req.self   = &self;
	req.client = id;
	if (fedrpc_local_v1_users_remove_client(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "removing the client", &st);
		goto out;
	}
	fedctl_state_remove_client(s.state, id);
	if (fedctl_state_save(s.state, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "client removed, but the key store was not updated: %s",
		    st.message);
		goto out;
	}
	if (o->json) {
		char hex[20];

		snprintf(hex, sizeof(hex), "%" PRIx64, id);
		fedctl_json_emit(json_pack("{s:s, s:b}", "client", hex,
		    "removed", 1));
	} else
		printf("client %" PRIx64 " removed with its keys\n", id);
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static const fedctl_sub subs[] = {
	{"add", client_add},
	{"list", client_list},
	{"use", client_use},
	{"remove", client_remove},
	{"prekeys", fedctl_client_prekeys},
	{NULL, NULL},
};

static int
client_run(int argc, char **argv)
{
	return fedctl_dispatch(argc, argv, subs, client_help);
}

const fedctl_cmd fedctl_cmd_client = {
    .name    = "client",
    .summary = "add (with fresh prekeys), list, use or remove the user's "
	       "clients",
    .run     = client_run,
    .help    = client_help,
};
