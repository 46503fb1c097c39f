/*
 * The caller rule of docs/federation-api.md: a channel that knows the
 * versions we serve asks Version/Get before its first federation call,
 * picks the highest version both sides serve and caches it; a call the
 * callee refuses with FAILED_PRECONDITION drops the cache, and the choice
 * is made again. The client runtime sits below the generated stubs, so
 * the two messages of Version/Get are described here by hand (the
 * response is `repeated uint32 supported = 1`, the request is empty).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"

#define FEDERATION_PREFIX "fedrpc.federation."
#define VERSION_GET "fedrpc.federation.v1.Version/Get"

typedef struct versions_msg {
	ProtobufCMessage base;
	size_t           n_supported;
	uint32_t        *supported;
} versions_msg;

static const ProtobufCMessageDescriptor versions_desc;

static void
versions_init(versions_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->base.descriptor = &versions_desc;
}

static const ProtobufCFieldDescriptor versions_fields[1] = {{
    "supported", 1, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_UINT32,
    offsetof(versions_msg, n_supported), offsetof(versions_msg, supported),
    NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL}};
static const unsigned          versions_by_name[] = {0};
static const ProtobufCIntRange versions_ranges[2] = {{1, 0}, {0, 1}};
static const ProtobufCMessageDescriptor versions_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "fedrpc.federation.v1.GetVersionResponse",
    "GetVersionResponse", "Fedrpc__Federation__V1__GetVersionResponse",
    "fedrpc.federation.v1", sizeof(versions_msg), 1, versions_fields,
    versions_by_name, 1, versions_ranges, (ProtobufCMessageInit) versions_init,
    NULL, NULL, NULL};
static const ProtobufCMessageDescriptor empty_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "fedrpc.federation.v1.GetVersionRequest",
    "GetVersionRequest", "Fedrpc__Federation__V1__GetVersionRequest",
    "fedrpc.federation.v1", sizeof(ProtobufCMessage), 0, NULL, NULL, 0, NULL,
    NULL, NULL, NULL, NULL};
static const fedrpc_method version_get = {
    .full_name = VERSION_GET,
    .input     = &empty_desc,
    .output    = &versions_desc,
};

bool
chan_negotiates(const fedrpc_channel *ch, const fedrpc_method *m)
{
	return ch->n_versions > 0 && m->full_name != NULL &&
	    strncmp(m->full_name, FEDERATION_PREFIX,
	        sizeof(FEDERATION_PREFIX) - 1) == 0 &&
	    strcmp(m->full_name, VERSION_GET) != 0;
}

/* "1, 2, 3" */
static void
list_text(const uint32_t *v, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		int k = snprintf(
		    buf + off, len - off, "%s%u", i ? ", " : "", v[i]);

		if (k < 0)
			break;
		off += (size_t) k;
	}
}

/* The highest version in both sets; 0: none. */
static uint32_t
highest_common(const fedrpc_channel *ch, const versions_msg *theirs)
{
	uint32_t best = 0;

	for (size_t i = 0; i < ch->n_versions; i++)
		for (size_t k = 0; k < theirs->n_supported; k++)
			if (ch->versions[i] == theirs->supported[k] &&
			    ch->versions[i] > best)
				best = ch->versions[i];
	return best;
}

/* Asks the callee and picks; 0 with st set when there is no choice. */
static uint32_t
negotiate(fedrpc_channel *ch, uint32_t timeout_ms, fedrpc_status *st)
{
	fedrpc_call_opts  o    = {.timeout_ms = timeout_ms};
	ProtobufCMessage *resp = NULL;
	versions_msg     *got;
	uint32_t          v;
	char              ours[64], theirs[64];

	if (fedrpc_channel_call(ch, &version_get, NULL, &resp, &o, st) !=
	    FEDRPC_OK) {
		char why[FEDRPC_STATUS_MESSAGE_MAX];

		snprintf(why, sizeof(why), "%s", st->message);
		fedrpc_status_set(st, st->code,
		    "asking %s for its federation API versions: %s", ch->target,
		    why);
		return 0;
	}
	got = (versions_msg *) resp;
	v   = highest_common(ch, got);
	if (v == 0) {
		list_text(ch->versions, ch->n_versions, ours, sizeof(ours));
		list_text(got->supported, got->n_supported, theirs,
		    sizeof(theirs));
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "no common federation API version with %s (ours: %s; "
		    "theirs: %s)",
		    ch->target, ours, theirs[0] ? theirs : "none");
	} else {
		FEDRPC_LOG_DEBUG("federation API version %u chosen for %s", v,
		    ch->target);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return v;
}

fedrpc_code
chan_call_version(fedrpc_channel *ch, const fedrpc_method *m,
    uint32_t timeout_ms, uint32_t *out, fedrpc_status *st)
{
	uint32_t v;

	*out = ch->api_version;
	if (!chan_negotiates(ch, m))
		return FEDRPC_OK;
	v = __atomic_load_n(&ch->neg_version, __ATOMIC_ACQUIRE);
	/* Concurrent first calls may each ask; they agree. */
	if (v == 0 && (v = negotiate(ch, timeout_ms, st)) == 0)
		return st->code;
	__atomic_store_n(&ch->neg_version, v, __ATOMIC_RELEASE);
	*out = v;
	return FEDRPC_OK;
}

void
chan_version_refused(fedrpc_channel *ch, uint32_t used)
{
	uint32_t cur = used;

	if (used == 0)
		return;
	if (__atomic_compare_exchange_n(&ch->neg_version, &cur, 0, false,
	        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		FEDRPC_LOG_INFO("%s refused federation API version %u; its "
		                "versions are asked again",
		    ch->target, used);
}

bool
fedrpc_call_version_stale(fedrpc_channel *ch, const fedrpc_method *m,
    uint32_t used, uint32_t timeout_ms)
{
	fedrpc_status st = {0};
	uint32_t      v;

	if (ch == NULL || m == NULL || used == 0 || !chan_negotiates(ch, m))
		return false;
	chan_version_refused(ch, used);
	return chan_call_version(ch, m, timeout_ms, &v, &st) == FEDRPC_OK &&
	    v != used;
}

uint32_t
fedrpc_call_api_version(const fedrpc_call *call)
{
	return call != NULL ? call->api_version : 0;
}
