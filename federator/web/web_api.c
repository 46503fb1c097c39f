/*
 * The local API calls the page may make through the gateway, and as
 * whom. The local API trusts its caller to name the acting user (`self`);
 * the gateway does not trust the browser: every call that names a user
 * acts as the session's user, whatever the request said, and a request
 * naming another self is refused; the backend checks that the client a
 * call names (reading the inbox, sending, adding prekeys) is self's.
 * Calls that act for nobody (looking up profiles, claiming prekeys) are
 * the ones any user of the backend makes.
 * Operator calls (queues, registering and deleting users) are not here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#include "federator/web/web.h"

/* Calls the page may make; the short name is "Service/Method". */
static const fedrpc_method *const allowed[] = {
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_ADD_CLIENT_INDEX],
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_FIND_USER_INDEX],
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_SEARCH_USERS_INDEX],
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_GET_PROFILES_INDEX],
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_CLAIM_PREKEYS_INDEX],
	&fedrpc_local_v1_users_methods[FEDRPC_LOCAL_V1_USERS_ADD_PREKEYS_INDEX],
	&fedrpc_local_v1_connections_methods
	    [FEDRPC_LOCAL_V1_CONNECTIONS_CONNECT_INDEX],
	&fedrpc_local_v1_connections_methods
	    [FEDRPC_LOCAL_V1_CONNECTIONS_ACCEPT_INDEX],
	&fedrpc_local_v1_connections_methods
	    [FEDRPC_LOCAL_V1_CONNECTIONS_LIST_CONNECTIONS_INDEX],
	&fedrpc_local_v1_conversations_methods
	    [FEDRPC_LOCAL_V1_CONVERSATIONS_CREATE_CONVERSATION_INDEX],
	&fedrpc_local_v1_conversations_methods
	    [FEDRPC_LOCAL_V1_CONVERSATIONS_ADD_MEMBERS_INDEX],
	&fedrpc_local_v1_conversations_methods
	    [FEDRPC_LOCAL_V1_CONVERSATIONS_LIST_CONVERSATIONS_INDEX],
	&fedrpc_local_v1_conversations_methods
	    [FEDRPC_LOCAL_V1_CONVERSATIONS_SEND_MESSAGE_INDEX],
	&fedrpc_local_v1_inbox_methods[FEDRPC_LOCAL_V1_INBOX_FETCH_INBOX_INDEX],
	&fedrpc_local_v1_inbox_methods[FEDRPC_LOCAL_V1_INBOX_ACK_INBOX_INDEX],
	&fedrpc_local_v1_delivery_methods
	    [FEDRPC_LOCAL_V1_DELIVERY_LIST_SENT_MESSAGES_INDEX],
};

/* The method whose full name ends in "." name ("Users/FindUser"). */
static const fedrpc_method *
method_named(const char *name)
{
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		const char *full = allowed[i]->full_name;
		size_t      nf = strlen(full), nn = strlen(name);

		if (nn < nf && strcmp(full + nf - nn, name) == 0 &&
		    full[nf - nn - 1] == '.')
			return allowed[i];
	}
	return NULL;
}

/*
 * Sets the request's `self` to who; false (with why) when the request
 * named someone else.
 */
static bool
act_as(ProtobufCMessage *req, const web_who *who, char *why, size_t n)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(
	        req->descriptor, "self");
	Fedrpc__Federation__V1__QualifiedId **slot, *q;

	if (f == NULL)
		return true;
	slot = (Fedrpc__Federation__V1__QualifiedId **) ((char *) req +
	    f->offset);
	if ((q = *slot) != NULL &&
	    (strcmp(q->id, who->id) != 0 || strcmp(q->domain, who->domain) != 0)) {
		snprintf(why, n, "self: this session acts as %s@%s only",
		    who->id, who->domain);
		return false;
	}
	if (q == NULL) {
		if ((q = malloc(sizeof(*q))) == NULL) {
			snprintf(why, n, "out of memory");
			return false;
		}
		fedrpc__federation__v1__qualified_id__init(q);
		*slot = q;
	}
	if (q->id == NULL || q->id == protobuf_c_empty_string ||
	    strcmp(q->id, who->id) != 0) {
		if (q->id != protobuf_c_empty_string)
			free(q->id);
		q->id = strdup(who->id);
	}
	if (q->domain == NULL || q->domain == protobuf_c_empty_string ||
	    strcmp(q->domain, who->domain) != 0) {
		if (q->domain != protobuf_c_empty_string)
			free(q->domain);
		q->domain = strdup(who->domain);
	}
	if (q->id == NULL || q->domain == NULL) {
		snprintf(why, n, "out of memory");
		return false;
	}
	return true;
}

/* The HTTP status for a local API error code. */
static uint16_t
http_status(fedrpc_code c)
{
	switch (c) {
	case FEDRPC_INVALID_ARGUMENT:
	case FEDRPC_OUT_OF_RANGE:
		return 400;
	case FEDRPC_NOT_FOUND:
		return 404;
	case FEDRPC_ALREADY_EXISTS:
	case FEDRPC_ABORTED:
		return 409;
	case FEDRPC_PERMISSION_DENIED:
		return 403;
	case FEDRPC_FAILED_PRECONDITION:
		return 412;
	case FEDRPC_RESOURCE_EXHAUSTED:
		return 429;
	case FEDRPC_UNAVAILABLE:
		return 503;
	case FEDRPC_DEADLINE_EXCEEDED:
		return 504;
	default:
		return 500;
	}
}

void
web_api_call(fedrpc_channel *ch, const web_who *who, const char *name,
    const char *body, size_t len, web_reply *r)
{
	const fedrpc_method *m = method_named(name);
	ProtobufCMessage    *req, *resp = NULL;
	fedrpc_status        st = {0};
	json_error_t         jerr;
	json_t              *j;
	char                 why[512];

	if (m == NULL) {
		web_reply_error(r, 404, "no call %s for the web client", name);
		return;
	}
	if ((j = json_loadb(body != NULL ? body : "{}", body != NULL ? len : 2,
	         JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		web_reply_error(r, 400, "%s: the body is not JSON: %s (line %d)",
		    name, jerr.text, jerr.line);
		return;
	}
	req = web_json_to_pb(m->input, j, why, sizeof(why));
	json_decref(j);
	if (req == NULL) {
		web_reply_error(r, 400, "%s: %s", name, why);
		return;
	}
	if (!act_as(req, who, why, sizeof(why))) {
		protobuf_c_message_free_unpacked(req, NULL);
		web_reply_error(r, 403, "%s: %s", name, why);
		return;
	}
	if (fedrpc_channel_call(ch, m, req, &resp, NULL, &st) != FEDRPC_OK) {
		protobuf_c_message_free_unpacked(req, NULL);
		web_reply_error(r, http_status(st.code), "%s: %s", name,
		    st.message);
		return;
	}
	protobuf_c_message_free_unpacked(req, NULL);
	j = web_json_from_pb(resp);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (j == NULL)
		web_reply_error(r, 500, "%s: out of memory", name);
	else
		web_reply_json(r, 200, j);
}
