/*
 * fedctl send: an end-to-end encrypted text message to a conversation.
 * Claims a prekey for every other member's clients (local and remote),
 * seals the text separately for each client (e2e.h), and sends the
 * ciphertexts; when the owning backend reports clients we did not know
 * (a member's new device, the sender's other clients) it claims their
 * prekeys and sends again, as Wire's clients do. The plaintext never
 * leaves this process.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

/* Rounds of "missing clients, claim, send again" before giving up. */
#define MAX_ROUNDS 4

typedef Fedrpc__Federation__V1__UserClientIds     uc_ids;
typedef Fedrpc__Federation__V1__UserClientPrekeys uc_prekeys;

/* One recipient client's ciphertext. */
typedef struct sealed {
	uint64_t client;
	uint8_t *ct; /* owned */
	size_t   len;
} sealed;

/* One recipient user and the clients sealed for. */
typedef struct target {
	fedctl_qid q;
	char       qualified[300]; /* "uuid@domain" for the e2e context */
	sealed    *v;              /* owned */
	size_t     n;
	bool       ignore;         /* a client of theirs has no prekey */
} target;

/* Everything one send builds. */
typedef struct outbox {
	target *t; /* owned */
	size_t  n;
	size_t  claim_failures; /* domains ClaimPrekeys could not reach */
	size_t  no_prekey;      /* clients without a prekey to claim */
} outbox;

static void
send_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl send CONV TEXT...  [common options]\n"
	    "       fedctl send CONV -        (the text from standard input)\n"
	    "\n"
	    "Sends TEXT, end-to-end encrypted, to conversation CONV "
	    "(uuid@domain or its\n"
	    "exact name) from the acting user's current client: claims a "
	    "prekey of each\n"
	    "recipient client on any domain, encrypts the text for each one "
	    "separately\n"
	    "(X25519 + HKDF-SHA256 + ChaCha20-Poly1305, see "
	    "docs/encryption.md), and\n"
	    "sends only ciphertext. Exit code 3 when the conversation's "
	    "owner or a\n"
	    "recipient's domain could not be reached (the output lists who "
	    "missed it).\n");
	fedctl_common_help(out);
}

static void
outbox_free(outbox *ob)
{
	for (size_t i = 0; i < ob->n; i++) {
		for (size_t j = 0; j < ob->t[i].n; j++)
			free(ob->t[i].v[j].ct);
		free(ob->t[i].v);
	}
	free(ob->t);
	memset(ob, 0, sizeof(*ob));
}

static target *
outbox_user(outbox *ob, const fedctl_pb_qid *u)
{
	target *nt;

	for (size_t i = 0; i < ob->n; i++) {
		fedctl_pb_qid p = fedctl_qid_pb(&ob->t[i].q);

		if (fedctl_pb_qid_eq(&p, u))
			return &ob->t[i];
	}
	if ((nt = realloc(ob->t, (ob->n + 1) * sizeof(*nt))) == NULL)
		return NULL;
	ob->t = nt;
	nt    = &ob->t[ob->n];
	memset(nt, 0, sizeof(*nt));
	if (!fedctl_qid_from_pb(u, &nt->q))
		return NULL;
	snprintf(nt->qualified, sizeof(nt->qualified), "%s@%s", nt->q.id,
	    nt->q.domain);
	ob->n++;
	return nt;
}

/* Drops a client's ciphertext (the owner says it is not a recipient). */
static void
outbox_drop(outbox *ob, const fedctl_pb_qid *u, uint64_t client)
{
	for (size_t i = 0; i < ob->n; i++) {
		target       *t = &ob->t[i];
		fedctl_pb_qid p = fedctl_qid_pb(&t->q);

		if (!fedctl_pb_qid_eq(&p, u))
			continue;
		for (size_t j = 0; j < t->n; j++)
			if (t->v[j].client == client) {
				free(t->v[j].ct);
				t->v[j] = t->v[--t->n];
				return;
			}
	}
}

/* Seals the text for every prekey claimed; counts clients without one. */
static int
seal_claimed(fedctl_session *s, const fedctl_pb_conv *conv,
    Fedrpc__Local__V1__ClaimPrekeysResponse *r, const char *text,
    size_t len, outbox *ob)
{
	char conv_q[300];

	snprintf(conv_q, sizeof(conv_q), "%s@%s", conv->id->id,
	    conv->id->domain);
	for (size_t i = 0; i < r->n_users; i++) {
		uc_prekeys *u = r->users[i];
		target     *t = outbox_user(ob, u->user);

		if (t == NULL)
			return fedctl_failf(
			    s, FEDCTL_EXIT_FAILURE, "out of memory");
		for (size_t j = 0; j < u->n_clients; j++) {
			Fedrpc__Federation__V1__ClientPrekey *cp = u->clients[j];
			fedctl_e2e_context ctx = {
				.sender           = s->state->qualified,
				.sender_client    = s->client->id,
				.recipient        = t->qualified,
				.recipient_client = cp->client,
				.conversation     = conv_q,
			};
			sealed *nv;
			int     rv;

			if (cp->prekey == NULL ||
			    cp->prekey->key.len != FEDCTL_E2E_KEY_LEN ||
			    cp->prekey->id > FEDCTL_E2E_LAST_RESORT) {
				fprintf(stderr,
				    "fedctl %s: warning: no usable prekey for "
				    "client %" PRIx64 " of %s; it will not get "
				    "this message\n",
				    s->o->cmd, cp->client, t->qualified);
				t->ignore = true;
				ob->no_prekey++;
				continue;
			}
			if ((nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) ==
			    NULL)
				return fedctl_failf(
				    s, FEDCTL_EXIT_FAILURE, "out of memory");
			t->v = nv;
			nv   = &t->v[t->n];
			memset(nv, 0, sizeof(*nv));
			nv->client = cp->client;
			rv = fedctl_e2e_seal(&ctx, (uint16_t) cp->prekey->id,
			    cp->prekey->key.data, (const uint8_t *) text, len,
			    &nv->ct, &nv->len);
			if (rv == FEDCTL_E2E_EKEY) {
				fprintf(stderr,
				    "fedctl %s: warning: client %" PRIx64
				    " of %s published an invalid prekey; it "
				    "will not get this message\n",
				    s->o->cmd, cp->client, t->qualified);
				t->ignore = true;
				ob->no_prekey++;
				continue;
			}
			if (rv != FEDCTL_E2E_OK)
				return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
				    "cannot encrypt: %s",
				    fedctl_e2e_strerror(rv));
			t->n++;
		}
	}
	return 0;
}

/* ClaimPrekeys for these targets, then seal for what came back. */
static int
claim_and_seal(fedctl_session *s, const fedctl_pb_conv *conv, uc_ids **tv,
    size_t n, const char *text, size_t len, outbox *ob)
{
	Fedrpc__Local__V1__ClaimPrekeysRequest   req =
	    FEDRPC__LOCAL__V1__CLAIM_PREKEYS_REQUEST__INIT;
	Fedrpc__Local__V1__ClaimPrekeysResponse *resp = NULL;
	fedrpc_status                            st   = {0};
	int                                      rc;

	if (n == 0)
		return 0;
	req.targets   = tv;
	req.n_targets = n;
	if (fedrpc_local_v1_users_claim_prekeys(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		return fedctl_fail(s, "claiming prekeys", &st);
	for (size_t i = 0; i < resp->n_unreachable_domains; i++) {
		fprintf(stderr,
		    "fedctl %s: warning: cannot claim prekeys on %s: its "
		    "users will not get this message [federation failure]\n",
		    s->o->cmd, resp->unreachable_domains[i]);
		ob->claim_failures++;
	}
	rc = seal_claimed(s, conv, resp, text, len, ob);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/* Every member but the sender, all clients: the first claim. */
static int
claim_members(fedctl_session *s, const fedctl_pb_conv *conv,
    const char *text, size_t len, outbox *ob)
{
	fedctl_pb_qid self = fedctl_self(s);
	uc_ids       *v    = calloc(conv->n_members + 1, sizeof(*v));
	uc_ids      **pv   = calloc(conv->n_members + 1, sizeof(*pv));
	size_t        n    = 0;
	int           rc;

	if (v == NULL || pv == NULL) {
		free(v);
		free(pv);
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < conv->n_members; i++) {
		if (fedctl_pb_qid_eq(conv->members[i]->id, &self))
			continue;
		fedrpc__federation__v1__user_client_ids__init(&v[n]);
		v[n].user = conv->members[i]->id;
		pv[n]     = &v[n];
		n++;
	}
	rc = claim_and_seal(s, conv, pv, n, text, len, ob);
	free(v);
	free(pv);
	return rc;
}

/* The strategy: report every missing client, except those of users we
 * already know we cannot encrypt for. */
typedef struct strategy {
	Fedrpc__Federation__V1__ClientMismatchStrategy           top;
	Fedrpc__Federation__V1__ClientMismatchStrategy__ReportAll all;
	Fedrpc__Federation__V1__ClientMismatchStrategy__UserList  list;
	fedctl_pb_qid  *ids; /* owned */
	fedctl_pb_qid **pids; /* owned */
} strategy;

static bool
strategy_build(strategy *sg, outbox *ob)
{
	size_t n = 0;

	memset(sg, 0, sizeof(*sg));
	fedrpc__federation__v1__client_mismatch_strategy__init(&sg->top);
	for (size_t i = 0; i < ob->n; i++)
		n += ob->t[i].ignore;
	if (n == 0) {
		fedrpc__federation__v1__client_mismatch_strategy__report_all__init(
		    &sg->all);
		sg->top.strategy_case =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL;
		sg->top.report_all = &sg->all;
		return true;
	}
	if ((sg->ids = calloc(n, sizeof(*sg->ids))) == NULL ||
	    (sg->pids = calloc(n, sizeof(*sg->pids))) == NULL)
		return false;
	fedrpc__federation__v1__client_mismatch_strategy__user_list__init(
	    &sg->list);
	n = 0;
	for (size_t i = 0; i < ob->n; i++)
		if (ob->t[i].ignore) {
			sg->ids[n]  = fedctl_qid_pb(&ob->t[i].q);
			sg->pids[n] = &sg->ids[n];
			n++;
		}
	sg->list.users   = sg->pids;
	sg->list.n_users = n;
	sg->top.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY;
	sg->top.ignore_only = &sg->list;
	return true;
}

static void
strategy_free(strategy *sg)
{
	free(sg->ids);
	free(sg->pids);
}

/* The request's recipients: views into the outbox, owned by *mem. */
typedef struct rcpts {
	Fedrpc__Federation__V1__UserCiphertexts   *users;  /* owned */
	Fedrpc__Federation__V1__UserCiphertexts  **pusers; /* owned */
	Fedrpc__Federation__V1__ClientCiphertext  *cts;    /* owned */
	Fedrpc__Federation__V1__ClientCiphertext **pcts;   /* owned */
	fedctl_pb_qid                             *ids;    /* owned */
	size_t                                     n;
	size_t                                     n_clients;
} rcpts;

static void
rcpts_free(rcpts *r)
{
	free(r->users);
	free(r->pusers);
	free(r->cts);
	free(r->pcts);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

static bool
rcpts_build(rcpts *r, outbox *ob)
{
	size_t total = 0, k = 0;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < ob->n; i++)
		total += ob->t[i].n;
	r->users  = calloc(ob->n + 1, sizeof(*r->users));
	r->pusers = calloc(ob->n + 1, sizeof(*r->pusers));
	r->ids    = calloc(ob->n + 1, sizeof(*r->ids));
	r->cts    = calloc(total + 1, sizeof(*r->cts));
	r->pcts   = calloc(total + 1, sizeof(*r->pcts));
	if (r->users == NULL || r->pusers == NULL || r->ids == NULL ||
	    r->cts == NULL || r->pcts == NULL)
		return false;
	for (size_t i = 0; i < ob->n; i++) {
		target *t = &ob->t[i];

		if (t->n == 0)
			continue;
		fedrpc__federation__v1__user_ciphertexts__init(&r->users[r->n]);
		r->ids[r->n]          = fedctl_qid_pb(&t->q);
		r->users[r->n].user   = &r->ids[r->n];
		r->users[r->n].clients = &r->pcts[k];
		for (size_t j = 0; j < t->n; j++) {
			fedrpc__federation__v1__client_ciphertext__init(
			    &r->cts[k]);
			r->cts[k].client          = t->v[j].client;
			r->cts[k].ciphertext.data = t->v[j].ct;
			r->cts[k].ciphertext.len  = t->v[j].len;
			r->pcts[k]                = &r->cts[k];
			k++;
		}
		r->users[r->n].n_clients = t->n;
		r->pusers[r->n]          = &r->users[r->n];
		r->n++;
	}
	r->n_clients = k;
	return true;
}

/* [{"user": {...}, "clients": ["hex", ...]}] */
static json_t *
json_ucs(const fedctl_session *s, uc_ids *const *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *cs = json_array();

		for (size_t j = 0; j < v[i]->n_clients; j++) {
			char hex[20];

			snprintf(hex, sizeof(hex), "%" PRIx64, v[i]->clients[j]);
			json_array_append_new(cs, json_string(hex));
		}
		json_array_append_new(arr, json_pack("{s:o, s:o}", "user",
		    fedctl_json_qid(s, v[i]->user), "clients", cs));
	}
	return arr;
}

static void
print_ucs(const fedctl_session *s, const char *what, uc_ids *const *v,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("  %s: ", what);
		fedctl_print_user(s, stdout, v[i]->user, NULL);
		if (v[i]->n_clients == 0)
			printf("  (all clients)");
		for (size_t j = 0; j < v[i]->n_clients; j++)
			printf("%s%" PRIx64, j == 0 ? "  clients " : ", ",
			    v[i]->clients[j]);
		fputc('\n', stdout);
	}
}

/* Reads standard input for "send CONV -". */
static char *
read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char  *buf = malloc(cap + 1);

	while (buf != NULL) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= FEDCTL_E2E_MAX_PLAINTEXT + 1 ||
			    (nb = realloc(buf, 2 * cap + 1)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		if ((r = read(0, buf + n, cap - n)) < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t) r;
	}
	if (buf != NULL) {
		/* A final newline is the terminal's, not the message's. */
		if (n > 0 && buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
		*len   = n;
	}
	return buf;
}

/* A missing-clients report: claim exactly those clients, seal for them. */
static int
claim_missing(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, const char *text,
    size_t len, outbox *ob)
{
	int rc;

	/* Ciphertexts the owner will not deliver are dropped, not resent. */
	for (size_t i = 0; i < ms->n_redundant; i++)
		for (size_t j = 0; j < ms->redundant[i]->n_clients; j++)
			outbox_drop(ob, ms->redundant[i]->user,
			    ms->redundant[i]->clients[j]);
	for (size_t i = 0; i < ms->n_deleted; i++)
		for (size_t j = 0; j < ms->deleted[i]->n_clients; j++)
			outbox_drop(ob, ms->deleted[i]->user,
			    ms->deleted[i]->clients[j]);
	if ((rc = claim_and_seal(s, conv, ms->missing, ms->n_missing, text,
	         len, ob)) != 0)
		return rc;
	/* A missing user we could not seal for is ignored from now on. */
	for (size_t i = 0; i < ms->n_missing; i++) {
		target *t = outbox_user(ob, ms->missing[i]->user);

		if (t == NULL)
			return fedctl_failf(
			    s, FEDCTL_EXIT_FAILURE, "out of memory");
		for (size_t j = 0; j < ms->missing[i]->n_clients; j++) {
			bool have = false;

			for (size_t k = 0; k < t->n; k++)
				have |= t->v[k].client ==
				    ms->missing[i]->clients[j];
			if (!have)
				t->ignore = true;
		}
	}
	return 0;
}

static int
report_sent(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, const rcpts *r,
    const outbox *ob)
{
	int rc = FEDCTL_EXIT_OK;

	if (ms->n_failed_to_send > 0 || ob->claim_failures > 0)
		rc = FEDCTL_EXIT_REMOTE;
	if (s->o->json) {
		json_t *to = json_array();

		for (size_t i = 0; i < r->n; i++) {
			json_t *cs = json_array();

			for (size_t j = 0; j < r->users[i].n_clients; j++) {
				char hex[20];

				snprintf(hex, sizeof(hex), "%" PRIx64,
				    r->users[i].clients[j]->client);
				json_array_append_new(cs, json_string(hex));
			}
			json_array_append_new(to, json_pack("{s:o, s:o}",
			    "user", fedctl_json_qid(s, r->users[i].user),
			    "clients", cs));
		}
		fedctl_json_emit(json_pack(
		    "{s:o, s:b, s:I, s:o, s:o, s:o, s:o, s:o}", "conversation",
		    fedctl_json_qid(s, conv->id), "sent", 1, "time_unix_ms",
		    (json_int_t) ms->time_unix_ms, "recipients", to,
		    "failed_to_send",
		    json_ucs(s, ms->failed_to_send, ms->n_failed_to_send),
		    "failed_to_confirm",
		    json_ucs(s, ms->failed_to_confirm, ms->n_failed_to_confirm),
		    "redundant", json_ucs(s, ms->redundant, ms->n_redundant),
		    "deleted", json_ucs(s, ms->deleted, ms->n_deleted)));
	} else {
		printf("sent to %zu client%s of %zu user%s in ", r->n_clients,
		    r->n_clients == 1 ? "" : "s", r->n, r->n == 1 ? "" : "s");
		fedctl_print_conv(s, stdout, conv, false, NULL);
		print_ucs(s, "not delivered (domain unreachable)",
		    ms->failed_to_send, ms->n_failed_to_send);
		print_ucs(s, "delivered unconfirmed", ms->failed_to_confirm,
		    ms->n_failed_to_confirm);
		print_ucs(s, "not a recipient", ms->redundant, ms->n_redundant);
		print_ucs(s, "deleted client", ms->deleted, ms->n_deleted);
	}
	if (rc == FEDCTL_EXIT_REMOTE)
		fprintf(stderr,
		    "fedctl %s: warning: some recipients did not get the "
		    "message [federation failure]\n",
		    s->o->cmd);
	return rc;
}

static const char *
not_sent_reason(int reason)
{
	switch (reason) {
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CONVERSATION_NOT_FOUND:
		return "no such conversation, or the sender is not a member";
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_UNKNOWN_CLIENT:
		return "the sending client is unknown to the backend (removed? "
		       "see fedctl client list)";
	case FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CLIENT_MISSING:
		return "clients are still missing";
	default:
		return "refused";
	}
}

static int
send_run(int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsResponse *list = NULL;
	Fedrpc__Local__V1__SendMessageResponse       *resp = NULL;
	fedctl_opts     o = {.cmd = "send", .help = send_help};
	fedctl_session  s;
	fedrpc_status   st = {0};
	fedctl_pb_conv *conv;
	fedctl_pb_qid   self;
	outbox          ob = {0};
	char          **pos, *text = NULL;
	size_t          len;
	int             npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 2)
		return fedctl_usage(&o, "give a conversation and the text");
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_NEED_CLIENT)) != 0)
		return rc;
	text = npos == 2 && strcmp(pos[1], "-") == 0 ? read_stdin(&len)
						      : fedctl_join(pos + 1,
							  npos - 1);
	if (text == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot read the text (at most %u bytes)",
		    FEDCTL_E2E_MAX_PLAINTEXT);
		goto out;
	}
	len = strlen(text);
	if (len > FEDCTL_E2E_MAX_PLAINTEXT) {
		rc = fedctl_usage(&o, "the text is longer than %u bytes",
		    FEDCTL_E2E_MAX_PLAINTEXT);
		goto out;
	}
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &conv)) != 0 ||
	    (rc = claim_members(&s, conv, text, len, &ob)) != 0)
		goto out;
	self = fedctl_self(&s);
	for (int round = 0;; round++) {
		Fedrpc__Local__V1__SendMessageRequest req =
		    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
		strategy sg;
		rcpts    r;
		const Fedrpc__Federation__V1__MessageNotSent *ns;

		if (!strategy_build(&sg, &ob) || !rcpts_build(&r, &ob)) {
			strategy_free(&sg);
			rcpts_free(&r);
			rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
			goto out;
		}
		req.self          = &self;
		req.sender_client = s.client->id;
		req.conversation  = conv->id;
		req.recipients    = r.pusers;
		req.n_recipients  = r.n;
		req.strategy      = &sg.top;
		if (fedrpc_local_v1_conversations_send_message(
		        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
			strategy_free(&sg);
			rcpts_free(&r);
			rc = fedctl_fail(&s, "sending", &st);
			goto out;
		}
		if (resp->result_case ==
		        FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT &&
		    resp->sent != NULL) {
			rc = report_sent(&s, conv, resp->sent, &r, &ob);
			strategy_free(&sg);
			rcpts_free(&r);
			goto out;
		}
		strategy_free(&sg);
		rcpts_free(&r);
		ns = resp->not_sent;
		if (ns == NULL ||
		    ns->reason !=
		        FEDRPC__FEDERATION__V1__MESSAGE_NOT_SENT__REASON__REASON_CLIENT_MISSING ||
		    ns->status == NULL || round + 1 >= MAX_ROUNDS) {
			rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
			    "not sent: %s",
			    not_sent_reason(ns != NULL ? (int) ns->reason : 0));
			goto out;
		}
		if ((rc = claim_missing(&s, conv, ns->status, text, len, &ob)) !=
		    0)
			goto out;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		resp = NULL;
	}
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	outbox_free(&ob);
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	fedctl_session_close(&s);
	return rc;
}

const fedctl_cmd fedctl_cmd_send = {
    .name    = "send",
    .summary = "send an end-to-end encrypted message to a conversation",
    .run     = send_run,
    .help    = send_help,
};
