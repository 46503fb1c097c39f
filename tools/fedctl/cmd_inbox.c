/*
 * fedctl inbox and ack: the current client's pending events. `inbox`
 * fetches them, decrypts each message (with the session with its sending
 * client, set up from the first message that names a prekey of ours; or,
 * for messages of earlier fedctl, with the prekey itself) and prints
 * everything; `ack` (or inbox --ack) deletes them on the backend. What an
 * event used (a one-time prekey, a message key) is forgotten once the
 * event is acknowledged: until then a fetch may bring the message again.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

#define PAGE 100 /* events per fetch */

typedef Fedrpc__Local__V1__Event      inbox_event;
typedef Fedrpc__Local__V1__FetchInboxResponse fetch_resp;

/* One event and, for a message, what decrypting it gave. */
typedef struct item {
	const inbox_event *ev;  /* borrowed from a page */
	char              *text; /* owned plaintext; NULL if not decrypted */
	size_t             len;
	const char        *error; /* why not, for a message */
} item;

/* Everything fetched, kept until printed. */
typedef struct fetched {
	fetch_resp **pages; /* owned */
	size_t       n_pages;
	item        *items; /* owned */
	size_t       n;
	bool         has_more;
	uint64_t     last_id;
	size_t       failed; /* messages that could not be decrypted */
	uint32_t     prekeys_left; /* the backend's count, last page */
	bool         prekeys_low;
} fetched;

static void
inbox_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl inbox [--ack] [--limit N]  [common options]\n"
	    "       fedctl ack [EVENT_ID]             [common options]\n"
	    "\n"
	    "  inbox  prints the current client's pending events, oldest "
	    "first: messages\n"
	    "         (decrypted here with the client's sessions and "
	    "prekeys), conversation\n"
	    "         and membership changes, connection requests. With --ack "
	    "they are\n"
	    "         acknowledged afterwards; --limit prints at most N "
	    "events\n"
	    "  ack    deletes the client's events up to EVENT_ID (default: the "
	    "last one\n"
	    "         fetched) and forgets the one-time prekeys and message "
	    "keys they used\n"
	    "\n"
	    "Text is shown as written, but control characters and "
	    "bidirectional\n"
	    "overrides and isolates (U+202A-U+202E, U+2066-U+2069) are "
	    "escaped (\\x1b,\n"
	    "\\u202E). With --json a message's \"text\" is a JSON string "
	    "when it is\n"
	    "UTF-8 (a NUL byte as \\u0000), else its bytes in base64 with "
	    "\"text_base64\": true.\n"
	    "The backend counts the client's one-time prekeys "
	    "(\"prekeys_left\"); below 10\n"
	    "(\"prekeys_low\") a warning says to add more with fedctl "
	    "client prekeys.\n"
	    "\n"
	    "Exit code 1 if a message could not be decrypted (it is shown as "
	    "such).\n");
	fedctl_common_help(out);
}

static void
fetched_free(fetched *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i].text != NULL)
			explicit_bzero(f->items[i].text, f->items[i].len);
		free(f->items[i].text);
	}
	free(f->items);
	for (size_t i = 0; i < f->n_pages; i++)
		protobuf_c_message_free_unpacked(&f->pages[i]->base, NULL);
	free(f->pages);
	memset(f, 0, sizeof(*f));
}

/*
 * Version 1 (earlier fedctl): a sealed box to the prekey it names. The
 * one-time prekey is kept until the event is acknowledged, so a fetch
 * after a crash still opens it; the last resort is never used up.
 */
static int
open_v1(fedctl_session *s, const fedctl_e2e_context *ctx, const item *it,
    uint8_t **pt, size_t *len, const char **why)
{
	const ProtobufCBinaryData *ct = &it->ev->message_received->ciphertext;
	fedctl_prekey             *pk;
	uint16_t                   id;
	int                        rv;

	if ((rv = fedctl_e2e_prekey_id(ct->data, ct->len, &id)) !=
	    FEDCTL_E2E_OK)
		return rv;
	if ((pk = fedctl_client_prekey(s->client, id)) == NULL) {
		*why = "no private key for the prekey it names (used and "
		       "acknowledged already, or made for another client)";
		return FEDCTL_E2E_EAUTH;
	}
	if ((rv = fedctl_e2e_open(ctx, &pk->kp, ct->data, ct->len, pt, len)) ==
	        FEDCTL_E2E_OK &&
	    pk->id != FEDCTL_E2E_LAST_RESORT && pk->used_by == 0)
		pk->used_by = it->ev->id;
	return rv;
}

/*
 * Version 2: a message of a session with the sending client. Its first
 * messages set our side up from the prekey they name; the session is kept
 * only once a message opened with it, and the one-time prekey goes when
 * that event is acknowledged. The event id is what uses a message key, so
 * a second fetch of the same event opens it again and a replay in another
 * event does not.
 */
static int
open_v2(fedctl_session *s, const fedctl_e2e_context *ctx, const item *it,
    uint8_t **pt, size_t *len)
{
	const ProtobufCBinaryData *ct = &it->ev->message_received->ciphertext;
	fedctl_session_set        *set = &s->client->sessions;
	fedctl_e2e_session        *known, fresh;
	fedctl_e2e_header          h;
	fedctl_prekey             *pk;
	int                        rv;

	if ((rv = fedctl_e2e_header_read(ct->data, ct->len, &h)) !=
	    FEDCTL_E2E_OK)
		return rv;
	known = fedctl_session_set_for_message(
	    set, ctx->sender, ctx->sender_client, &h);
	if (known != NULL)
		return fedctl_e2e_session_decrypt(
		    known, ctx, ct->data, ct->len, it->ev->id, pt, len);
	if (h.from_responder ||
	    (pk = fedctl_client_prekey(s->client, h.prekey_id)) == NULL)
		return FEDCTL_E2E_ENOSESSION;
	if ((rv = fedctl_e2e_session_accept(ctx, &pk->kp, &h, &fresh)) !=
	    FEDCTL_E2E_OK)
		return rv;
	rv = fedctl_e2e_session_decrypt(
	    &fresh, ctx, ct->data, ct->len, it->ev->id, pt, len);
	if (rv == FEDCTL_E2E_OK && !fedctl_session_set_add(set, &fresh)) {
		explicit_bzero(*pt, *len);
		free(*pt);
		*pt = NULL;
		rv  = FEDCTL_E2E_ENOMEM;
	}
	fedctl_e2e_session_wipe(&fresh); /* zeroed already once added */
	if (rv == FEDCTL_E2E_OK && pk->id != FEDCTL_E2E_LAST_RESORT &&
	    pk->used_by == 0)
		pk->used_by = it->ev->id;
	return rv;
}

/* Decrypts one message for the current client, in either format. */
static void
decrypt(fedctl_session *s, item *it)
{
	const Fedrpc__Local__V1__MessageReceived *m = it->ev->message_received;
	char               sender[300], conv[300];
	const char        *why = NULL;
	uint8_t           *pt  = NULL;
	int                rv;
	fedctl_e2e_context ctx = {
		.sender           = sender,
		.recipient        = s->state->qualified,
		.recipient_client = s->client->id,
		.conversation     = conv,
	};

	if (m->sender == NULL || m->conversation == NULL) {
		it->error = "the event names no sender or conversation";
		return;
	}
	snprintf(sender, sizeof(sender), "%s@%s", m->sender->id,
	    m->sender->domain);
	snprintf(conv, sizeof(conv), "%s@%s", m->conversation->id,
	    m->conversation->domain);
	ctx.sender_client = m->sender_client;
	switch ((rv = fedctl_e2e_version(
	             m->ciphertext.data, m->ciphertext.len))) {
	case FEDCTL_E2E_V1:
		rv = open_v1(s, &ctx, it, &pt, &it->len, &why);
		break;
	case FEDCTL_E2E_V2:
		rv = open_v2(s, &ctx, it, &pt, &it->len);
		break;
	default:
		if (rv >= 0)
			rv = FEDCTL_E2E_EVERSION;
		break;
	}
	if (rv != FEDCTL_E2E_OK) {
		it->error = why != NULL ? why : fedctl_e2e_strerror(rv);
		it->len   = 0;
		return;
	}
	it->text = (char *) pt;
}

/* Fetches up to limit events (0: all), decrypting messages. */
static int
fetch(fedctl_session *s, uint32_t limit, fetched *f)
{
	fedctl_pb_qid self  = fedctl_self(s);
	uint64_t      since = 0;
	fedrpc_status st    = {0};

	memset(f, 0, sizeof(*f));
	for (;;) {
		Fedrpc__Local__V1__FetchInboxRequest req =
		    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
		fetch_resp  *r = NULL, **np;
		item        *ni;
		size_t       want = PAGE;

		if (limit > 0 && limit - f->n < want)
			want = limit - f->n;
		req.self   = &self;
		req.client = s->client->id;
		req.since  = since;
		req.limit  = (uint32_t) want;
		if (fedrpc_local_v1_inbox_fetch_inbox(
		        s->ch, &req, &r, fedctl_call(s), &st) != FEDRPC_OK)
			return fedctl_fail(s, "fetching the inbox", &st);
		if ((np = realloc(f->pages, (f->n_pages + 1) * sizeof(*np))) ==
		    NULL) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
			return fedctl_failf(
			    s, FEDCTL_EXIT_FAILURE, "out of memory");
		}
		f->pages              = np;
		f->pages[f->n_pages++] = r;
		if ((ni = realloc(f->items, (f->n + r->n_events + 1) *
			                        sizeof(*ni))) == NULL)
			return fedctl_failf(
			    s, FEDCTL_EXIT_FAILURE, "out of memory");
		f->items = ni;
		for (size_t i = 0; i < r->n_events; i++) {
			item *it = &f->items[f->n++];

			memset(it, 0, sizeof(*it));
			it->ev = r->events[i];
			if (it->ev->payload_case ==
			        FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED &&
			    it->ev->message_received != NULL) {
				decrypt(s, it);
				f->failed += it->text == NULL;
			}
			if (it->ev->id > f->last_id)
				f->last_id = it->ev->id;
			since = it->ev->id;
		}
		f->has_more     = r->has_more;
		f->prekeys_left = r->prekeys_left;
		f->prekeys_low  = r->prekeys_low;
		if (!r->has_more || r->n_events == 0 ||
		    (limit > 0 && f->n >= limit))
			break;
	}
	return 0;
}

/* ---- printing ---- */

/* The name of a conversation we know, or NULL. */
static const char *
conv_name(const Fedrpc__Local__V1__ListConversationsResponse *l,
    const fedctl_pb_qid *id)
{
	for (size_t i = 0; l != NULL && i < l->n_conversations; i++)
		if (fedctl_pb_qid_eq(l->conversations[i]->id, id))
			return l->conversations[i]->name;
	return NULL;
}

/* A message's text, each line indented by four spaces, escaped as
 * fedctl_print_text() does (whole lines, so a character of several bytes
 * is seen whole). */
static void
print_indented(const char *text, size_t len)
{
	size_t start = 0;

	printf("    ");
	for (size_t i = 0; i <= len; i++)
		if (i == len || text[i] == '\n') {
			fedctl_print_text(stdout, text + start, i - start);
			if (i < len)
				printf("\n    ");
			start = i + 1;
		}
	printf("\n");
}

static void
print_conv_ref(const fedctl_session *s, const fedctl_pb_qid *id,
    const char *name)
{
	if (name != NULL && name[0] != '\0') {
		printf("\"");
		fedctl_print_text(stdout, name, strlen(name));
		printf("\"  ");
	}
	fedctl_print_qid(stdout, id);
	fedctl_print_marker(s, stdout, id != NULL ? id->domain : NULL);
}

static void
print_time(int64_t ms)
{
	time_t    t = (time_t) (ms / 1000);
	struct tm tm;
	char      buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s", buf);
}

static void
print_item(const fedctl_session *s, const item *it,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles,
    const Fedrpc__Local__V1__ListConversationsResponse *convs)
{
	const inbox_event *ev = it->ev;

	printf("#%" PRIu64 "  ", ev->id);
	print_time(ev->time_unix_ms);
	switch (ev->payload_case) {
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED: {
		const Fedrpc__Local__V1__MessageReceived *m =
		    ev->message_received;

		printf("  message from ");
		fedctl_print_user(s, stdout, m->sender,
		    fedctl_profile_of(profiles, m->sender));
		printf("  client %" PRIx64 "\n    in ", m->sender_client);
		print_conv_ref(
		    s, m->conversation, conv_name(convs, m->conversation));
		printf("\n");
		if (it->text != NULL) {
			print_indented(it->text, it->len);
		} else
			printf("    [cannot decrypt: %s]\n", it->error);
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED: {
		const fedctl_pb_conv *c = ev->conversation_created->conversation;

		printf("  added to conversation ");
		if (c != NULL)
			fedctl_print_conv(s, stdout, c, true, profiles);
		else
			printf("(unknown)\n");
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED: {
		const Fedrpc__Local__V1__MembersJoined *m = ev->members_joined;

		printf("  members joined ");
		print_conv_ref(
		    s, m->conversation, conv_name(convs, m->conversation));
		printf("\n");
		for (size_t i = 0; i < m->n_members; i++) {
			printf("    + ");
			fedctl_print_user(s, stdout, m->members[i]->id,
			    fedctl_profile_of(profiles, m->members[i]->id));
			printf("\n");
		}
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT: {
		const Fedrpc__Local__V1__MembersLeft *m = ev->members_left;

		printf("  members left ");
		print_conv_ref(
		    s, m->conversation, conv_name(convs, m->conversation));
		printf("\n");
		for (size_t i = 0; i < m->n_users; i++) {
			printf("    - ");
			fedctl_print_user(s, stdout, m->users[i],
			    fedctl_profile_of(profiles, m->users[i]));
			printf("\n");
		}
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_RENAMED: {
		const Fedrpc__Local__V1__ConversationRenamed *m =
		    ev->conversation_renamed;

		printf("  renamed ");
		print_conv_ref(s, m->conversation, NULL);
		printf(" to \"");
		if (m->name != NULL)
			fedctl_print_text(stdout, m->name, strlen(m->name));
		printf("\"\n");
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED: {
		const Fedrpc__Local__V1__Connection *c =
		    ev->connection_updated->connection;

		if (c == NULL) {
			printf("  connection (unknown)\n");
			break;
		}
		printf("  connection %s  ", fedctl_relation_name(c->relation));
		fedctl_print_user(
		    s, stdout, c->to, fedctl_profile_of(profiles, c->to));
		printf("\n");
		if (c->relation == FEDRPC__LOCAL__V1__RELATION__RELATION_PENDING &&
		    c->to != NULL)
			printf("    wants to connect; accept with: fedctl "
			       "accept %s@%s\n",
			    c->to->id, c->to->domain);
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED:
		printf("  user deleted  ");
		fedctl_print_user(s, stdout, ev->user_deleted->user, NULL);
		printf("\n");
		break;
	default:
		printf("  (an event this fedctl does not know)\n");
		break;
	}
}

static const char *
event_type(const inbox_event *ev)
{
	switch (ev->payload_case) {
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED:
		return "message";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED:
		return "conversation_created";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED:
		return "members_joined";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT:
		return "members_left";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_RENAMED:
		return "conversation_renamed";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED:
		return "connection_updated";
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED:
		return "user_deleted";
	default:
		return "unknown";
	}
}

static json_t *
json_item(const fedctl_session *s, const item *it,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles,
    const Fedrpc__Local__V1__ListConversationsResponse *convs)
{
	const inbox_event *ev = it->ev;
	json_t            *o  = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t) ev->id));
	json_object_set_new(
	    o, "time_unix_ms", json_integer((json_int_t) ev->time_unix_ms));
	json_object_set_new(o, "type", json_string(event_type(ev)));
	switch (ev->payload_case) {
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED: {
		const Fedrpc__Local__V1__MessageReceived *m =
		    ev->message_received;
		json_t     *conv = fedctl_json_qid(s, m->conversation);
		const char *name = conv_name(convs, m->conversation);
		char        hex[20];

		if (json_is_object(conv))
			json_object_set_new(conv, "name",
			    name != NULL && name[0] ? json_string(name)
						    : json_null());
		snprintf(hex, sizeof(hex), "%" PRIx64, m->sender_client);
		json_object_set_new(o, "conversation", conv);
		json_object_set_new(o, "sender",
		    fedctl_json_user(s, m->sender,
			fedctl_profile_of(profiles, m->sender)));
		json_object_set_new(o, "sender_client", json_string(hex));
		json_object_set_new(o, "decrypted", json_boolean(it->text != NULL));
		if (it->text != NULL)
			fedctl_json_set_text(o, "text", it->text, it->len);
		else
			json_object_set_new(o, "error", json_string(it->error));
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED:
		if (ev->conversation_created->conversation != NULL)
			json_object_set_new(o, "conversation",
			    fedctl_json_conv(s,
				ev->conversation_created->conversation,
				profiles));
		break;
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED: {
		const Fedrpc__Local__V1__MembersJoined *m = ev->members_joined;
		json_t *arr = json_array();

		for (size_t i = 0; i < m->n_members; i++)
			json_array_append_new(arr, fedctl_json_user(s,
			    m->members[i]->id,
			    fedctl_profile_of(profiles, m->members[i]->id)));
		json_object_set_new(
		    o, "conversation", fedctl_json_qid(s, m->conversation));
		json_object_set_new(o, "actor", fedctl_json_qid(s, m->actor));
		json_object_set_new(o, "members", arr);
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT: {
		const Fedrpc__Local__V1__MembersLeft *m = ev->members_left;
		json_t *arr = json_array();

		for (size_t i = 0; i < m->n_users; i++)
			json_array_append_new(arr, fedctl_json_user(s,
			    m->users[i], fedctl_profile_of(profiles, m->users[i])));
		json_object_set_new(
		    o, "conversation", fedctl_json_qid(s, m->conversation));
		json_object_set_new(o, "actor", fedctl_json_qid(s, m->actor));
		json_object_set_new(o, "users", arr);
		break;
	}
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_RENAMED:
		json_object_set_new(o, "conversation",
		    fedctl_json_qid(s, ev->conversation_renamed->conversation));
		json_object_set_new(o, "name",
		    json_string(ev->conversation_renamed->name != NULL
			    ? ev->conversation_renamed->name
			    : ""));
		break;
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED:
		if (ev->connection_updated->connection != NULL)
			json_object_set_new(o, "connection",
			    fedctl_json_connection(s,
				ev->connection_updated->connection,
				fedctl_profile_of(profiles,
				    ev->connection_updated->connection->to)));
		break;
	case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED:
		json_object_set_new(
		    o, "user", fedctl_json_qid(s, ev->user_deleted->user));
		break;
	default:
		break;
	}
	return o;
}

/* Profiles of the people the events name, in one call (best effort). */
static Fedrpc__Local__V1__GetProfilesResponse *
event_profiles(fedctl_session *s, const fetched *f)
{
	const fedctl_pb_qid **ids;
	size_t                n = 0, cap = 0;
	Fedrpc__Local__V1__GetProfilesResponse *r;

	for (size_t i = 0; i < f->n; i++) {
		const inbox_event *ev = f->items[i].ev;

		cap += 1;
		if (ev->payload_case ==
		    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED &&
		    ev->conversation_created->conversation != NULL)
			cap += ev->conversation_created->conversation->n_members +
			    1;
		if (ev->payload_case ==
		    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED)
			cap += ev->members_joined->n_members;
		if (ev->payload_case ==
		    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT)
			cap += ev->members_left->n_users;
	}
	if (cap == 0 || (ids = calloc(cap, sizeof(*ids))) == NULL)
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		const inbox_event *ev = f->items[i].ev;

		switch (ev->payload_case) {
		case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED:
			ids[n++] = ev->message_received->sender;
			break;
		case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED: {
			const fedctl_pb_conv *c =
			    ev->conversation_created->conversation;

			for (size_t j = 0; c != NULL && j < c->n_members; j++)
				ids[n++] = c->members[j]->id;
			break;
		}
		case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED:
			for (size_t j = 0; j < ev->members_joined->n_members;
			     j++)
				ids[n++] = ev->members_joined->members[j]->id;
			break;
		case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT:
			for (size_t j = 0; j < ev->members_left->n_users; j++)
				ids[n++] = ev->members_left->users[j];
			break;
		case FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED:
			if (ev->connection_updated->connection != NULL)
				ids[n++] = ev->connection_updated->connection->to;
			break;
		default:
			break;
		}
	}
	r = fedctl_profiles(s, ids, n);
	free(ids);
	return r;
}

/* AckInbox up to up_to; forgets the prekeys and message keys those
 * events used. */
static int
ack(fedctl_session *s, uint64_t up_to, uint64_t *deleted)
{
	Fedrpc__Local__V1__AckInboxRequest   req =
	    FEDRPC__LOCAL__V1__ACK_INBOX_REQUEST__INIT;
	Fedrpc__Local__V1__AckInboxResponse *resp = NULL;
	fedctl_pb_qid                        self = fedctl_self(s);
	fedrpc_status                        st   = {0};

	req.self   = &self;
	req.client = s->client->id;
	req.up_to  = up_to;
	if (fedrpc_local_v1_inbox_ack_inbox(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		return fedctl_fail(s, "acknowledging", &st);
	*deleted = resp->deleted;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_client_forget_used(s->client, up_to);
	if (fedctl_state_save(s->state, &st) != FEDRPC_OK)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
		    "acknowledged, but the key store was not updated: %s",
		    st.message);
	return 0;
}

static int
inbox_run(int argc, char **argv)
{
	Fedrpc__Local__V1__ListConversationsRequest   lreq =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *convs = NULL;
	Fedrpc__Local__V1__GetProfilesResponse       *profiles = NULL;
	fedctl_opts         o = {.cmd = "inbox", .help = inbox_help};
	bool                do_ack = false;
	const char         *limit_s = NULL;
	const fedctl_optdef defs[] = {{"ack", NULL, &do_ack, NULL},
	    {"limit", &limit_s, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	fetched             f  = {0};
	fedctl_pb_qid       self;
	char              **pos, *end;
	int                 npos, rc;
	unsigned long       limit = 0;
	uint64_t            deleted = 0;

	if ((rc = fedctl_parse(argc, argv, &o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(&o, "no arguments expected");
	if (limit_s != NULL && ((limit = strtoul(limit_s, &end, 10)) == 0 ||
	                           *end != '\0' || limit > 100000))
		return fedctl_usage(&o, "--limit takes 1 to 100000");
	if ((rc = fedctl_session_open(
	         &s, &o, FEDCTL_NEED_CLIENT | FEDCTL_LOCK)) != 0)
		return rc;
	if ((rc = fetch(&s, (uint32_t) limit, &f)) != 0)
		goto out;
	if (f.last_id > s.client->last_event)
		s.client->last_event = f.last_id;
	/* Sessions, keys marked used and the position are kept before
	 * anything is printed, so a crash cannot lose them. */
	if (fedctl_state_save(s.state, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "%s", st.message);
		goto out;
	}
	self      = fedctl_self(&s);
	lreq.self = &self;
	if (f.n > 0 &&
	    fedrpc_local_v1_conversations_list_conversations(
	        s.ch, &lreq, &convs, fedctl_call(&s), &st) != FEDRPC_OK)
		convs = NULL;
	profiles = event_profiles(&s, &f);
	if (do_ack && f.last_id > 0 && (rc = ack(&s, f.last_id, &deleted)) != 0)
		goto out;
	if (o.json) {
		json_t *arr = json_array();
		char    hex[20];

		for (size_t i = 0; i < f.n; i++)
			json_array_append_new(
			    arr, json_item(&s, &f.items[i], profiles, convs));
		snprintf(hex, sizeof(hex), "%" PRIx64, s.client->id);
		fedctl_json_emit(json_pack(
		    "{s:o, s:s, s:o, s:b, s:I, s:o, s:I, s:b}", "user",
		    fedctl_json_qid(&s, &self), "client", hex, "events", arr,
		    "has_more", f.has_more, "undecryptable",
		    (json_int_t) f.failed, "acknowledged_up_to",
		    do_ack && f.last_id > 0 ? json_integer((json_int_t) f.last_id)
					    : json_null(),
		    "prekeys_left", (json_int_t) f.prekeys_left, "prekeys_low",
		    f.prekeys_low));
	} else {
		for (size_t i = 0; i < f.n; i++)
			print_item(&s, &f.items[i], profiles, convs);
		if (f.n == 0)
			printf("no new events\n");
		else if (f.has_more)
			printf("(more events follow; acknowledge these to see "
			       "them, or raise --limit)\n");
		if (do_ack && f.last_id > 0)
			printf("acknowledged up to #%" PRIu64 "\n", f.last_id);
	}
	if (f.prekeys_low)
		fprintf(stderr,
		    "fedctl %s: this client has %" PRIu32 " one-time prekey%s "
		    "left; senders starting a session take one each (add more "
		    "with fedctl client prekeys)\n",
		    o.cmd, f.prekeys_left, f.prekeys_left == 1 ? "" : "s");
	if (f.failed > 0) {
		/* Said on stderr only: stdout already holds the answer. */
		fprintf(stderr, "fedctl %s: %zu message%s could not be "
				"decrypted\n",
		    o.cmd, f.failed, f.failed == 1 ? "" : "s");
		rc = FEDCTL_EXIT_FAILURE;
	}
out:
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
	if (convs != NULL)
		protobuf_c_message_free_unpacked(&convs->base, NULL);
	fetched_free(&f);
	fedctl_session_close(&s);
	return rc;
}

static int
ack_run(int argc, char **argv)
{
	fedctl_opts    o = {.cmd = "ack", .help = inbox_help};
	fedctl_session s;
	char         **pos, *end;
	int            npos, rc;
	uint64_t       up_to = 0, deleted = 0;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos > 1)
		return fedctl_usage(&o, "give at most one event id");
	if (npos == 1 && ((up_to = strtoull(pos[0], &end, 10)) == 0 ||
	                     *end != '\0' || pos[0][0] == '-'))
		return fedctl_usage(&o, "'%s' is not an event id", pos[0]);
	if ((rc = fedctl_session_open(
	         &s, &o, FEDCTL_NEED_CLIENT | FEDCTL_LOCK)) != 0)
		return rc;
	if (up_to == 0)
		up_to = s.client->last_event;
	if (up_to == 0) {
		if (o.json)
			fedctl_json_emit(json_pack("{s:n, s:i}",
			    "acknowledged_up_to", "deleted", 0));
		else
			printf("nothing fetched yet; nothing to acknowledge\n");
		goto out;
	}
	if ((rc = ack(&s, up_to, &deleted)) != 0)
		goto out;
	if (o.json)
		fedctl_json_emit(json_pack("{s:I, s:I}", "acknowledged_up_to",
		    (json_int_t) up_to, "deleted", (json_int_t) deleted));
	else
		printf("acknowledged up to #%" PRIu64 " (%" PRIu64
		       " event%s deleted)\n",
		    up_to, deleted, deleted == 1 ? "" : "s");
out:
	fedctl_session_close(&s);
	return rc;
}

const fedctl_cmd fedctl_cmd_inbox = {
    .name    = "inbox",
    .summary = "read (and decrypt) the current client's events",
    .run     = inbox_run,
    .help    = inbox_help,
};

const fedctl_cmd fedctl_cmd_ack = {
    .name    = "ack",
    .summary = "acknowledge (delete) the client's events up to an id",
    .run     = ack_run,
    .help    = inbox_help,
};
