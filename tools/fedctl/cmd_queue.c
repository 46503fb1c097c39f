/*
 * fedctl queue: the delivery queues of the local federator, for operators
 * (docs/delivery.md). `list` shows every destination domain's queue (items
 * waiting and moved aside, the back-off, the last error); `show` a queue's
 * items; `retry` puts items moved aside back in their queue; `drop` makes
 * items never delivered; `resync` queues a conversation's current state
 * for its member domains. Talks to the local API's Delivery service.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedrpc/local/v1/delivery.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

static void
queue_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl queue list                          [common options]\n"
	    "       fedctl queue show DOMAIN [--aside] [--limit N]\n"
	    "       fedctl queue retry DOMAIN [SEQ...]\n"
	    "       fedctl queue drop DOMAIN SEQ... [--reason TEXT]\n"
	    "       fedctl queue resync CONV [DOMAIN]\n"
	    "\n"
	    "What this backend owes other domains (messages, conversation and\n"
	    "connection changes, deleted users and clients) waits in one queue\n"
	    "per domain until that domain answered; one it refused for good\n"
	    "is moved aside and the queue goes on.\n"
	    "\n"
	    "  list    every queue: items waiting and aside, failed attempts in "
	    "a row,\n"
	    "          the next attempt and the last error\n"
	    "  show    a queue's waiting items in order (--aside: those moved "
	    "aside,\n"
	    "          with the reason); --limit (default 100)\n"
	    "  retry   puts items moved aside (all of them without SEQ) back at "
	    "their\n"
	    "          place, and tries the domain at once\n"
	    "  drop    never delivers these items (waiting or aside)\n"
	    "  resync  queues a conversation's current members, roles and name "
	    "for\n"
	    "          DOMAIN (default: every member domain), which repairs a "
	    "copy an\n"
	    "          item moved aside left wrong; CONV is uuid@domain of "
	    "ours\n");
	fedctl_common_help(out);
}

/* "in 3 s", "12 min ago", "-" for 0. */
static void
when(int64_t unix_ms, char *buf, size_t n)
{
	struct timespec ts;
	int64_t         now, d;
	const char     *unit = "s";

	if (unix_ms == 0) {
		snprintf(buf, n, "-");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	d   = unix_ms - now;
	if (d > -1000 && d < 1000) {
		snprintf(buf, n, "now");
		return;
	}
	d = (d < 0 ? -d : d) / 1000;
	if (d >= 120) {
		d /= 60;
		unit = "min";
		if (d >= 120) {
			d /= 60;
			unit = "h";
		}
	}
	snprintf(buf, n, unix_ms > now ? "in %" PRId64 " %s" : "%" PRId64 " %s ago",
	    d, unit);
}

static bool
parse_seq(const char *s, uint64_t *out)
{
	char *end;

	*out = strtoull(s, &end, 10);
	return s[0] != '\0' && s[0] != '-' && *end == '\0' && *out > 0;
}

static int
queue_list(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListQueuesRequest   req =
	    FEDRPC__LOCAL__V1__LIST_QUEUES_REQUEST__INIT;
	Fedrpc__Local__V1__ListQueuesResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	if (fedrpc_local_v1_delivery_list_queues(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing the delivery queues", &st);
		goto out;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_queues; i++) {
			Fedrpc__Local__V1__Queue *q = resp->queues[i];

			json_array_append_new(arr,
			    json_pack("{s:s, s:I, s:I, s:I, s:i, s:I, s:s, s:s, "
			              "s:I}",
			        "domain", q->domain, "pending", (json_int_t) q->pending,
			        "aside", (json_int_t) q->aside, "oldest_unix_ms",
			        (json_int_t) q->oldest_unix_ms, "failures",
			        (int) q->failures, "next_attempt_unix_ms",
			        (json_int_t) q->next_attempt_unix_ms, "last_error",
			        q->last_error, "delivered_by", q->delivered_by,
			        "lease_until_unix_ms",
			        (json_int_t) q->lease_until_unix_ms));
		}
		fedctl_json_emit(json_pack("{s:o}", "queues", arr));
	} else if (resp->n_queues == 0) {
		printf("nothing queued\n");
	} else {
		printf("%-28s %8s %6s %9s %-14s %-14s %s\n", "DOMAIN", "PENDING",
		    "ASIDE", "FAILURES", "OLDEST", "NEXT ATTEMPT", "LAST ERROR");
		for (size_t i = 0; i < resp->n_queues; i++) {
			Fedrpc__Local__V1__Queue *q = resp->queues[i];
			char oldest[32], next[32];

			when(q->oldest_unix_ms, oldest, sizeof(oldest));
			when(q->pending > 0 ? q->next_attempt_unix_ms : 0, next,
			    sizeof(next));
			printf("%-28s %8" PRIu64 " %6" PRIu64 " %9u %-14s %-14s "
			       "%s\n",
			    q->domain, q->pending, q->aside, q->failures, oldest,
			    next, q->last_error[0] ? q->last_error : "-");
		}
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static const char *
state_name(int state)
{
	switch (state) {
	case FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_PENDING:
		return "pending";
	case FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_ASIDE:
		return "aside";
	case FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_DROPPED:
		return "dropped";
	default:
		return "unknown";
	}
}

static json_t *
item_json(fedctl_session *s, const Fedrpc__Local__V1__Item *it)
{
	char    rid[33] = "";
	json_t *j;

	for (size_t i = 0; i < it->request_id.len && i < 16; i++)
		snprintf(rid + 2 * i, 3, "%02x", it->request_id.data[i]);
	j = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:s, s:b}", "domain",
	    it->domain, "seq", (json_int_t) it->seq, "method", it->method,
	    "state", state_name(it->state), "created_unix_ms",
	    (json_int_t) it->created_unix_ms, "reason", it->reason,
	    "moved_unix_ms", (json_int_t) it->moved_unix_ms, "request_id", rid,
	    "resync", it->resync);
	if (it->conversation != NULL)
		json_object_set_new(
		    j, "conversation", fedctl_json_qid(s, it->conversation));
	if (it->sender != NULL)
		json_object_set_new(j, "sender", fedctl_json_qid(s, it->sender));
	if (it->message_id.len > 0)
		json_object_set_new(j, "message_id",
		    json_stringn((const char *) it->message_id.data,
		        it->message_id.len));
	return j;
}

/* The method without its package: "Conversations/OnMessageSent". */
static const char *
short_method(const char *m)
{
	const char *dot = strrchr(m, '.');

	return dot != NULL ? dot + 1 : m;
}

static int
queue_show(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListItemsRequest   req =
	    FEDRPC__LOCAL__V1__LIST_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__ListItemsResponse *resp = NULL;
	bool                aside = false;
	const char         *limit = NULL;
	const fedctl_optdef defs[] = {{"aside", NULL, &aside, NULL},
	    {"limit", &limit, NULL, NULL}, {NULL}};
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1)
		return fedctl_usage(o, "give one DOMAIN");
	if (limit != NULL && (atoi(limit) < 1 || atoi(limit) > 1000))
		return fedctl_usage(o, "--limit: 1 to 1000");
	if ((rc = fedctl_session_open(&s, o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	req.domain = pos[0];
	req.aside  = aside;
	req.limit  = limit != NULL ? (uint32_t) atoi(limit) : 0;
	if (fedrpc_local_v1_delivery_list_items(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing the queue", &st);
		goto out;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_items; i++)
			json_array_append_new(arr, item_json(&s, resp->items[i]));
		fedctl_json_emit(json_pack("{s:s, s:b, s:o, s:b}", "domain",
		    pos[0], "aside", aside, "items", arr, "more", resp->more));
	} else if (resp->n_items == 0) {
		printf("no items %s for %s\n", aside ? "aside" : "waiting",
		    pos[0]);
	} else {
		for (size_t i = 0; i < resp->n_items; i++) {
			Fedrpc__Local__V1__Item *it = resp->items[i];
			char                     made[32];

			when(it->created_unix_ms, made, sizeof(made));
			printf("%8" PRIu64 "  %-40s queued %s%s", it->seq,
			    short_method(it->method), made,
			    it->resync ? "  (resync)" : "");
			if (it->conversation != NULL)
				printf("  conversation %s@%s", it->conversation->id,
				    it->conversation->domain);
			printf("\n");
			if (it->state != FEDRPC__LOCAL__V1__ITEM_STATE__ITEM_STATE_PENDING)
				printf("          %s: %s\n", state_name(it->state),
				    it->reason);
		}
		if (resp->more)
			printf("(more: fedctl queue show %s%s --limit ...)\n",
			    pos[0], aside ? " --aside" : "");
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

/* The SEQ arguments after DOMAIN; NULL with rc set when one is bad. */
static uint64_t *
seqs_of(fedctl_opts *o, char **pos, int npos, int *rc)
{
	uint64_t *v = calloc((size_t) npos + 1, sizeof(*v));

	*rc = 0;
	if (v == NULL) {
		fprintf(stderr, "fedctl %s: out of memory\n", o->cmd);
		*rc = FEDCTL_EXIT_FAILURE;
		return NULL;
	}
	for (int i = 1; i < npos; i++)
		if (!parse_seq(pos[i], &v[i - 1])) {
			free(v);
			*rc = fedctl_usage(o, "'%s' is not an item's seq", pos[i]);
			return NULL;
		}
	return v;
}

static int
queue_retry(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__RetryItemsRequest   req =
	    FEDRPC__LOCAL__V1__RETRY_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__RetryItemsResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	uint64_t      *seqs;
	char         **pos;
	int            npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 1)
		return fedctl_usage(o, "give a DOMAIN (and SEQs)");
	if ((seqs = seqs_of(o, pos, npos, &rc)) == NULL)
		return rc;
	if ((rc = fedctl_session_open(&s, o, FEDCTL_MAYBE_USER)) != 0) {
		free(seqs);
		return rc;
	}
	req.domain = pos[0];
	req.seqs   = seqs;
	req.n_seqs = (size_t) npos - 1;
	if (fedrpc_local_v1_delivery_retry_items(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "putting items back", &st);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:s, s:I}", "domain", pos[0],
		    "retried", (json_int_t) resp->retried));
	else
		printf("%" PRIu64 " item%s put back in the queue for %s\n",
		    resp->retried, resp->retried == 1 ? "" : "s", pos[0]);
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(seqs);
	fedctl_session_close(&s);
	return rc;
}

static int
queue_drop(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__DropItemsRequest   req =
	    FEDRPC__LOCAL__V1__DROP_ITEMS_REQUEST__INIT;
	Fedrpc__Local__V1__DropItemsResponse *resp = NULL;
	const char         *why    = NULL;
	const fedctl_optdef defs[] = {{"reason", &why, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	uint64_t           *seqs;
	char              **pos;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 2)
		return fedctl_usage(o, "give a DOMAIN and the SEQs to drop");
	if ((seqs = seqs_of(o, pos, npos, &rc)) == NULL)
		return rc;
	if ((rc = fedctl_session_open(&s, o, FEDCTL_MAYBE_USER)) != 0) {
		free(seqs);
		return rc;
	}
	req.domain = pos[0];
	req.seqs   = seqs;
	req.n_seqs = (size_t) npos - 1;
	req.reason = (char *) (why != NULL ? why : "");
	if (fedrpc_local_v1_delivery_drop_items(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "dropping items", &st);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:s, s:I}", "domain", pos[0],
		    "dropped", (json_int_t) resp->dropped));
	else
		printf("%" PRIu64 " item%s dropped for %s\n", resp->dropped,
		    resp->dropped == 1 ? "" : "s", pos[0]);
	rc = resp->dropped == req.n_seqs
	    ? FEDCTL_EXIT_OK
	    : fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
	          "%zu of the items were not waiting or aside",
	          req.n_seqs - (size_t) resp->dropped);
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(seqs);
	fedctl_session_close(&s);
	return rc;
}

static int
queue_resync(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ResyncConversationRequest   req =
	    FEDRPC__LOCAL__V1__RESYNC_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__ResyncConversationResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	fedctl_qid     conv;
	fedctl_pb_qid  pb;
	char         **pos;
	int            npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos < 1 || npos > 2)
		return fedctl_usage(o, "give CONV (uuid@domain) and maybe DOMAIN");
	if (!fedctl_qid_parse(pos[0], &conv))
		return fedctl_usage(o, "'%s' is not uuid@domain", pos[0]);
	if ((rc = fedctl_session_open(&s, o, FEDCTL_MAYBE_USER)) != 0)
		return rc;
	pb               = fedctl_qid_pb(&conv);
	req.conversation = &pb;
	req.domain       = npos == 2 ? pos[1] : "";
	if (fedrpc_local_v1_delivery_resync_conversation(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "queueing the conversation's state", &st);
		goto out;
	}
	if (o->json) {
		fedctl_json_emit(json_pack("{s:o, s:o}", "conversation",
		    fedctl_json_qid(&s, &pb), "queued_for",
		    fedctl_json_strings(resp->domains, resp->n_domains)));
	} else if (resp->n_domains == 0) {
		printf("no member domain to send it to\n");
	} else {
		for (size_t i = 0; i < resp->n_domains; i++)
			printf("queued %s@%s for %s\n", conv.id, conv.domain,
			    resp->domains[i]);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static const fedctl_sub subs[] = {
	{"list", queue_list},
	{"show", queue_show},
	{"retry", queue_retry},
	{"drop", queue_drop},
	{"resync", queue_resync},
	{NULL, NULL},
};

static int
queue_run(int argc, char **argv)
{
	return fedctl_dispatch(argc, argv, subs, queue_help);
}

const fedctl_cmd fedctl_cmd_queue = {
	.name    = "queue",
	.summary = "delivery queues to other domains: list, show, retry, drop, "
		   "resync",
	.run     = queue_run,
	.help    = queue_help,
};
