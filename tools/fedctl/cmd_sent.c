/*
 * fedctl sent: what became of the messages the acting user sent, newest
 * first, per other domain with recipients: delivered, queued (with failed
 * attempts, the next attempt and the last error), moved aside or dropped
 * (with the reason), or queued at the conversation's owner. It asks the
 * local API's Delivery/ListSentMessages; `--json` gives the same.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

#include "fedctl_local.h"
#include "delivery_view.h"
#include "fedctl_output.h"


static void
sent_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl sent [CONV] [--id MESSAGE_ID] [--limit N] "
	    "[common options]\n"
	    "\n"
	    "The acting user's sent messages, newest first (--limit, default "
	    "20), with\n"
	    "their state for each other domain with recipients:\n"
	    "  delivered        that domain has it\n"
	    "  queued           waiting here for that domain (failed attempts, "
	    "next\n"
	    "                   attempt, last error)\n"
	    "  moved aside      that domain refused it for good, or it expired "
	    "(reason)\n"
	    "  dropped          an operator dropped it (reason)\n"
	    "  queued at OWNER  the conversation's owner took it and queued it "
	    "for\n"
	    "                   that domain\n"
	    "CONV (uuid@domain or a name) keeps only that conversation's; --id "
	    "only the\n"
	    "message with that id.\n");
	fedctl_common_help(out);
}

static void
print_message(fedctl_session *s, const Fedrpc__Local__V1__SentMessage *m,
    const Fedrpc__Local__V1__ListConversationsResponse *convs)
{
	char        id[140], at[32];
	time_t      t  = (time_t) (m->sent_unix_ms / 1000);
	struct tm   tm;
	const char *name = NULL;

	fedctl_message_id_text(m->message_id, id, sizeof(id));
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	for (size_t i = 0; convs != NULL && i < convs->n_conversations; i++)
		if (fedctl_pb_qid_eq(convs->conversations[i]->id, m->conversation))
			name = convs->conversations[i]->name;
	printf("%s  %s  in ", at, id);
	if (name != NULL && name[0] != '\0')
		printf("\"%s\" ", name);
	fedctl_print_qid(stdout, m->conversation);
	fedctl_print_marker(s, stdout, m->conversation->domain);
	printf("\n");
	if (m->n_deliveries == 0)
		printf("    (no other domain)\n");
	for (size_t i = 0; i < m->n_deliveries; i++)
		fedctl_delivery_print(m->deliveries[i]);
}

/* The acting user's conversations, for their names (NULL: shown
 * without). */
static Fedrpc__Local__V1__ListConversationsResponse *
conversations(fedctl_session *s)
{
	Fedrpc__Local__V1__ListConversationsRequest   req =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *resp = NULL;
	fedrpc_status st   = {0};
	fedctl_pb_qid self = fedctl_self(s);

	req.self = &self;
	if (fedrpc_local_v1_conversations_list_conversations(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		return NULL;
	return resp;
}

static int
sent_run(int argc, char **argv)
{
	Fedrpc__Local__V1__ListSentMessagesRequest   req =
	    FEDRPC__LOCAL__V1__LIST_SENT_MESSAGES_REQUEST__INIT;
	Fedrpc__Local__V1__ListSentMessagesResponse *resp  = NULL;
	Fedrpc__Local__V1__ListConversationsResponse *convs = NULL;
	fedctl_opts         o     = {.cmd = "sent", .help = sent_help};
	const char         *limit = NULL, *mid = NULL;
	const fedctl_optdef defs[] = {{"limit", &limit, NULL, NULL},
	    {"id", &mid, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	fedctl_pb_qid       self;
	fedctl_pb_conv     *conv = NULL;
	char              **pos;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos > 1)
		return fedctl_usage(&o, "give at most one conversation");
	if (limit != NULL && (atoi(limit) < 1 || atoi(limit) > 200))
		return fedctl_usage(&o, "--limit: 1 to 200");
	if (mid != NULL && (strlen(mid) == 0 || strlen(mid) > 64))
		return fedctl_usage(&o, "--id: 1 to 64 characters");
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if (npos == 1 &&
	    (rc = fedctl_resolve_conv(&s, pos[0], &convs, &conv)) != 0)
		goto out;
	if (convs == NULL)
		convs = conversations(&s);
	self             = fedctl_self(&s);
	req.self         = &self;
	req.conversation = conv != NULL ? conv->id : NULL;
	req.limit        = limit != NULL ? (uint32_t) atoi(limit) : 0;
	if (mid != NULL) {
		req.message_id.data = (uint8_t *) mid;
		req.message_id.len  = strlen(mid);
	}
	if (fedrpc_local_v1_delivery_list_sent_messages(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing sent messages", &st);
		goto out;
	}
	if (o.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_messages; i++) {
			const Fedrpc__Local__V1__SentMessage *m = resp->messages[i];
			json_t *ds = json_array();
			char    id[140];

			fedctl_message_id_text(m->message_id, id, sizeof(id));
			for (size_t k = 0; k < m->n_deliveries; k++)
				json_array_append_new(ds,
				    fedctl_delivery_json(m->deliveries[k]));
			json_array_append_new(arr,
			    json_pack("{s:s, s:o, s:I, s:I, s:o}", "message_id",
			        id, "conversation",
			        fedctl_json_qid(&s, m->conversation),
			        "sent_unix_ms", (json_int_t) m->sent_unix_ms, "seq",
			        (json_int_t) m->seq, "deliveries", ds));
		}
		fedctl_json_emit(json_pack("{s:o, s:o, s:b}", "user",
		    fedctl_json_qid(&s, &self), "messages", arr, "more",
		    resp->more));
	} else if (resp->n_messages == 0) {
		printf("no messages sent\n");
	} else {
		for (size_t i = 0; i < resp->n_messages; i++)
			print_message(&s, resp->messages[i], convs);
		if (resp->more)
			printf("(older ones: --limit)\n");
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (convs != NULL)
		protobuf_c_message_free_unpacked(&convs->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

const fedctl_cmd fedctl_cmd_sent = {
	.name    = "sent",
	.summary = "what became of your sent messages, per domain",
	.run     = sent_run,
	.help    = sent_help,
};
