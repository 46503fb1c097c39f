/*
 * fedctl send: an end-to-end encrypted text message to a conversation.
 * Encrypts the text separately for every recipient client, on the
 * session with it, or on a new one from a claimed prekey
 * (send_ciphers.h), keeps the sessions' new state, and sends the
 * ciphertexts; when the owning backend reports clients we did not know (a
 * member's new device, the sender's other clients) it claims their
 * prekeys and sends again, as Wire's clients do. The report says exactly
 * which clients got the message, by the owner's answer: never more.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#include "delivery_view.h"
#include "fedctl_local.h"
#include "fedctl_output.h"
#include "send_ciphers.h"

/* Rounds of "missing clients, claim, send again" before giving up. */
#define MAX_ROUNDS 4
/* Sends of the same request (and message id) when the backend gave no
 * answer, e.g. it restarted mid-call: the id makes a repeat harmless. */
#define MAX_TRIES 3
#define RETRY_PAUSE_US 500000

typedef Fedrpc__Federation__V1__UserClientIds     uc_ids;
static void
send_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl send CONV TEXT... [--id ID] [common options]\n"
	    "       fedctl send CONV - [--id ID]  (the text from standard "
	    "input)\n"
	    "\n"
	    "The text is at most 1 MiB (1048576 bytes; from standard input "
	    "a final\n"
	    "newline aside); a longer one is refused with exit code 2. Text "
	    "from standard\n"
	    "input is sent byte for byte, a NUL byte included.\n"
	    "\n"
	    "Sends TEXT, end-to-end encrypted, to conversation CONV "
	    "(uuid@domain or its\n"
	    "exact name) from the acting user's current client. The text is "
	    "encrypted\n"
	    "for each recipient client separately, on the session this client "
	    "has with\n"
	    "it; only for clients without one is a prekey claimed to set one "
	    "up (X25519,\n"
	    "HKDF-SHA256, a hash ratchet, AES-256-GCM: see "
	    "docs/encryption.md). So a\n"
	    "client with a session is encrypted for even while its backend "
	    "is down.\n"
	    "\n"
	    "The message carries an id (--id ID, 1 to 64 printable "
	    "characters, else a\n"
	    "random one): a send repeated with the same id, e.g. after the "
	    "backend\n"
	    "restarted, is answered as the first one was and goes out once. "
	    "fedctl\n"
	    "itself sends again with the same id when the backend gave no "
	    "answer.\n"
	    "\n"
	    "The report lists the clients that got the message as the owner "
	    "answered,\n"
	    "and the domains it is queued for (delivered, in order, when "
	    "they are back;\n"
	    "see fedctl sent).\n"
	    "With --json: \"sent\" is true only if at least one client got "
	    "it;\n"
	    "\"delivered\", \"recipients\" (encrypted for), "
	    "\"failed_to_send\",\n"
	    "\"failed_to_confirm_clients\" (taken on trust: their domain "
	    "could not list\n"
	    "its clients), \"queued_for\" (domains), \"deliveries\" (the "
	    "state per other\n"
	    "domain, as fedctl sent shows it), \"message_id\", \"repeated\" "
	    "(an earlier\n"
	    "send of that id was answered), \"redundant\", \"deleted\" and "
	    "\"encryption\"\n"
	    "(sessions used and started). Exit code 3 when the conversation's "
	    "owner or a\n"
	    "recipient's domain could not be reached (the message may be "
	    "queued for it).\n");
	fedctl_common_help(out);
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
strategy_build(strategy *sg, fedctl_ciphers *ob)
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

/* The request's recipients: views into the ciphertexts. */
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
rcpts_build(rcpts *r, fedctl_ciphers *ob)
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
		fedctl_target *t = &ob->t[i];

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

/* Reads standard input for "send CONV -", every byte (a NUL too); NULL
 * with *too_long set when it holds more than the limit (a final newline
 * aside). */
static char *
read_stdin(size_t *len, bool *too_long)
{
	size_t cap = 4096, n = 0;
	char  *buf = malloc(cap + 1);

	*too_long = false;
	while (buf != NULL) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			/* The limit, a final newline and one byte more. */
			if (cap >= FEDCTL_E2E_MAX_PLAINTEXT + 2) {
				*too_long = true;
				free(buf);
				return NULL;
			}
			if ((nb = realloc(buf, 2 * cap + 1)) == NULL) {
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

/* Whether a report's list names this client (no clients: all of the
 * user's). */
static bool
uc_names(uc_ids *const *v, size_t n, const fedctl_pb_qid *u, uint64_t client)
{
	for (size_t i = 0; i < n; i++) {
		if (!fedctl_pb_qid_eq(v[i]->user, u))
			continue;
		if (v[i]->n_clients == 0)
			return true;
		for (size_t j = 0; j < v[i]->n_clients; j++)
			if (v[i]->clients[j] == client)
				return true;
	}
	return false;
}

/* Whether the owner's answer says this client got the message: it had a
 * ciphertext and is neither failed, redundant nor deleted. Clients taken
 * on trust (failed_to_confirm) count: their backend took the message. */
static bool
queued_for(const Fedrpc__Federation__V1__MessageSendingStatus *ms,
    const char *domain)
{
	for (size_t i = 0; i < ms->n_queued_domains; i++)
		if (strcmp(ms->queued_domains[i], domain) == 0)
			return true;
	return false;
}

/* Recipients on a domain the message is queued for have not got it. */
static bool
reached(const Fedrpc__Federation__V1__MessageSendingStatus *ms,
    const fedctl_pb_qid *u, uint64_t client)
{
	return !queued_for(ms, u->domain) &&
	    !uc_names(ms->failed_to_send, ms->n_failed_to_send, u, client) &&
	    !uc_names(ms->redundant, ms->n_redundant, u, client) &&
	    !uc_names(ms->deleted, ms->n_deleted, u, client);
}

/* Who got it: counts, and [{"user", "clients"}] of them (or of every
 * recipient, with all). */
static json_t *
json_clients(const fedctl_session *s, const rcpts *r,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, bool all,
    size_t *n_clients, size_t *n_users)
{
	json_t *arr = json_array();

	*n_clients = *n_users = 0;
	for (size_t i = 0; i < r->n; i++) {
		const Fedrpc__Federation__V1__UserCiphertexts *u = &r->users[i];
		json_t *cs = json_array();

		for (size_t j = 0; j < u->n_clients; j++) {
			char hex[20];

			if (!all && !reached(ms, u->user, u->clients[j]->client))
				continue;
			snprintf(hex, sizeof(hex), "%" PRIx64,
			    u->clients[j]->client);
			json_array_append_new(cs, json_string(hex));
		}
		if (json_array_size(cs) == 0) {
			json_decref(cs);
			continue;
		}
		*n_clients += json_array_size(cs);
		(*n_users)++;
		json_array_append_new(arr, json_pack("{s:o, s:o}", "user",
		    fedctl_json_qid(s, u->user), "clients", cs));
	}
	return arr;
}

static json_t *
json_encryption(const fedctl_ciphers *cs)
{
	json_t *doms = json_array();

	for (size_t i = 0; i < cs->n_unreachable; i++)
		json_array_append_new(doms, json_string(cs->unreachable[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "sessions_used",
	    (json_int_t) cs->on_sessions, "sessions_started",
	    (json_int_t) cs->new_sessions, "sessions_dropped",
	    (json_int_t) cs->dropped, "no_prekey", (json_int_t) cs->no_prekey,
	    "claim_unreachable_domains", doms);
}

static void
print_outcome(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, const rcpts *r,
    size_t clients, size_t users)
{
	if (clients > 0)
		printf("sent to %zu client%s of %zu user%s in ", clients,
		    clients == 1 ? "" : "s", users, users == 1 ? "" : "s");
	else if (ms->n_queued_domains > 0)
		printf("queued, not delivered to anyone yet, in ");
	else if (r->n_clients == 0 && ms->n_failed_to_send == 0)
		printf("nobody to send to (no other client) in ");
	else
		printf("not delivered to anyone in ");
	fedctl_print_conv(s, stdout, conv, false, NULL);
	for (size_t i = 0; i < ms->n_queued_domains; i++)
		printf("  queued for %s (delivered, in order, when it is back; "
		       "see fedctl sent)\n",
		    ms->queued_domains[i]);
	print_ucs(s, "not delivered (domain unreachable)", ms->failed_to_send,
	    ms->n_failed_to_send);
	print_ucs(s, "not confirmed (its domain could not list its clients)",
	    ms->failed_to_confirm, ms->n_failed_to_confirm);
	print_ucs(s, "not a recipient", ms->redundant, ms->n_redundant);
	print_ucs(s, "deleted client", ms->deleted, ms->n_deleted);
}

static json_t *
json_strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
json_deliveries(const Fedrpc__Local__V1__SendMessageResponse *resp)
{
	json_t *a = json_array();

	for (size_t i = 0; i < resp->n_deliveries; i++)
		json_array_append_new(
		    a, fedctl_delivery_json(resp->deliveries[i]));
	return a;
}

static int
report_sent(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Local__V1__SendMessageResponse *resp, const rcpts *r,
    const fedctl_ciphers *cs)
{
	const Fedrpc__Federation__V1__MessageSendingStatus *ms = resp->sent;
	size_t  clients, users, n, m;
	json_t *got = json_clients(s, r, ms, false, &clients, &users);
	int     rc  = FEDCTL_EXIT_OK;
	char    id[140];

	fedctl_message_id_text(resp->message_id, id, sizeof(id));
	if (ms->n_failed_to_send > 0 || ms->n_queued_domains > 0 ||
	    cs->n_unreachable > 0)
		rc = FEDCTL_EXIT_REMOTE;
	if (s->o->json)
		fedctl_json_emit(json_pack("{s:o, s:s, s:b, s:b, s:I, s:o, s:o, "
		                           "s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "conversation", fedctl_json_qid(s, conv->id), "message_id",
		    id, "repeated", false, "sent", clients > 0, "time_unix_ms",
		    (json_int_t) ms->time_unix_ms, "delivered", got,
		    "recipients", json_clients(s, r, ms, true, &n, &m),
		    "queued_for",
		    json_strings(ms->queued_domains, ms->n_queued_domains),
		    "failed_to_send",
		    json_ucs(s, ms->failed_to_send, ms->n_failed_to_send),
		    "failed_to_confirm_clients",
		    json_ucs(s, ms->failed_to_confirm, ms->n_failed_to_confirm),
		    "redundant", json_ucs(s, ms->redundant, ms->n_redundant),
		    "deleted", json_ucs(s, ms->deleted, ms->n_deleted),
		    "deliveries", json_deliveries(resp), "encryption",
		    json_encryption(cs)));
	else {
		json_decref(got);
		print_outcome(s, conv, ms, r, clients, users);
	}
	if (rc == FEDCTL_EXIT_REMOTE)
		fprintf(stderr,
		    "fedctl %s: warning: some recipients did not get the "
		    "message yet [federation failure]\n",
		    s->o->cmd);
	return rc;
}

/* An earlier send of this id was answered: nothing went out again; its
 * state per domain is what the backend knows now. */
static int
report_repeated(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Local__V1__SendMessageResponse *resp)
{
	char id[140];

	fedctl_message_id_text(resp->message_id, id, sizeof(id));
	if (s->o->json) {
		fedctl_json_emit(json_pack("{s:o, s:s, s:b, s:o}",
		    "conversation", fedctl_json_qid(s, conv->id), "message_id",
		    id, "repeated", true, "deliveries", json_deliveries(resp)));
		return FEDCTL_EXIT_OK;
	}
	printf("already sent as %s in ", id);
	fedctl_print_conv(s, stdout, conv, false, NULL);
	for (size_t i = 0; i < resp->n_deliveries; i++)
		fedctl_delivery_print(resp->deliveries[i]);
	return FEDCTL_EXIT_OK;
}

/* The message id: --id, or 16 random bytes in hex. */
static bool
message_id(const char *given, char *out, size_t n)
{
	uint8_t b[16];

	if (given != NULL) {
		snprintf(out, n, "%s", given);
		return true;
	}
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
		return false;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, n - 2 * i, "%02x", b[i]);
	return true;
}

/* Whether the id is 1 to 64 printable characters without spaces. */
static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return false;
	return true;
}

/* Sends req; when the backend gave no answer at all (it may have taken
 * the message and crashed), sends the same request again. */
static fedrpc_code
send_once(fedctl_session *s, const Fedrpc__Local__V1__SendMessageRequest *req,
    Fedrpc__Local__V1__SendMessageResponse **resp, fedrpc_status *st)
{
	fedrpc_code rc = FEDRPC_OK;

	for (int t = 0; t < MAX_TRIES; t++) {
		if (t > 0) {
			fprintf(stderr,
			    "fedctl %s: no answer from the backend (%s); "
			    "sending again with the same message id\n",
			    s->o->cmd, st->message);
			usleep(RETRY_PAUSE_US);
		}
		*st = (fedrpc_status){0};
		rc  = fedrpc_local_v1_conversations_send_message(
                    s->ch, req, resp, fedctl_call(s), st);
		if (rc == FEDRPC_OK || atomic_load(&s->answered) ||
		    (st->code != FEDRPC_UNAVAILABLE &&
		        st->code != FEDRPC_DEADLINE_EXCEEDED))
			break;
	}
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
	fedctl_ciphers  ob = {0};
	char          **pos, *text = NULL, mid[80];
	const char     *given = NULL;
	const fedctl_optdef defs[] = {{"id", &given, NULL, NULL}, {NULL}};
	size_t          len = 0;
	bool            too_long = false;
	int             npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 2)
		return fedctl_usage(&o, "give a conversation and the text");
	if (given != NULL && !id_ok(given))
		return fedctl_usage(&o,
		    "--id: 1 to 64 printable characters without spaces");
	/* Locked: the sessions move on with every message. */
	if ((rc = fedctl_session_open(
	         &s, &o, FEDCTL_NEED_CLIENT | FEDCTL_LOCK)) != 0)
		return rc;
	if (!message_id(given, mid, sizeof(mid))) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot pick a message id: no random numbers");
		goto out;
	}
	if (npos == 2 && strcmp(pos[1], "-") == 0)
		text = read_stdin(&len, &too_long);
	else if ((text = fedctl_join(pos + 1, npos - 1)) != NULL)
		len = strlen(text);
	if (too_long || (text != NULL && len > FEDCTL_E2E_MAX_PLAINTEXT)) {
		rc = fedctl_usage(&o,
		    "the text is longer than the limit of %u bytes (1 MiB)",
		    FEDCTL_E2E_MAX_PLAINTEXT);
		goto out;
	}
	if (text == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot read the text: %s", strerror(errno));
		goto out;
	}
	if ((rc = fedctl_resolve_conv(&s, pos[0], &list, &conv)) != 0 ||
	    (rc = fedctl_ciphers_add_members(&s, conv, text, len, &ob)) != 0)
		goto out;
	self = fedctl_self(&s);
	for (int round = 0;; round++) {
		Fedrpc__Local__V1__SendMessageRequest req =
		    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
		strategy sg;
		rcpts    r;
		const Fedrpc__Federation__V1__MessageNotSent *ns;

		/* No ciphertext leaves before its session state is kept. */
		if ((rc = fedctl_ciphers_keep(&s)) != 0)
			goto out;
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
		req.message_id    = (ProtobufCBinaryData){
                    strlen(mid), (uint8_t *) mid};
		if (send_once(&s, &req, &resp, &st) != FEDRPC_OK) {
			strategy_free(&sg);
			rcpts_free(&r);
			rc = fedctl_fail(&s, "sending", &st);
			goto out;
		}
		if (resp->repeated) {
			rc = report_repeated(&s, conv, resp);
			strategy_free(&sg);
			rcpts_free(&r);
			goto out;
		}
		if (resp->result_case ==
		        FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT &&
		    resp->sent != NULL) {
			fedctl_ciphers_forget_deleted(&s, resp->sent, &ob);
			if (ob.dropped > 0 &&
			    fedctl_state_save(s.state, &st) != FEDRPC_OK)
				fprintf(stderr,
				    "fedctl %s: warning: the sessions of "
				    "deleted clients stay in the key store: "
				    "%s\n",
				    o.cmd, st.message);
			rc = report_sent(&s, conv, resp, &r, &ob);
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
		if ((rc = fedctl_ciphers_add_missing(
		         &s, conv, ns->status, text, len, &ob)) != 0)
			goto out;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		resp = NULL;
	}
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (list != NULL)
		protobuf_c_message_free_unpacked(&list->base, NULL);
	fedctl_ciphers_free(&ob);
	if (text != NULL) {
		explicit_bzero(text, len);
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
