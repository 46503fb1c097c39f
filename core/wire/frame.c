/*
 * The fixed parts of fedrpc's wire protocol (docs/wire-protocol.md): the
 * 20-byte preface and the 12-byte frame header, and the rules a header
 * must follow before its payload is even looked at.
 */
#include <string.h>

#include "core/wire/frame.h"

const uint8_t fedrpc_preface_magic[8] = {
    'F', 'E', 'D', 'R', 'P', 'C', '\r', '\n'};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
	    ((uint32_t) p[2] << 8) | p[3];
}

void
fedrpc_preface_encode(uint8_t out[FEDRPC_PREFACE_LEN], const fedrpc_preface *p)
{
	memcpy(out, fedrpc_preface_magic, sizeof fedrpc_preface_magic);
	put16(out + 8, p->version);
	put16(out + 10, p->flags);
	put32(out + 12, p->max_frame);
	put32(out + 16, p->max_calls);
}

fedrpc_code
fedrpc_preface_decode(fedrpc_preface *p, const uint8_t in[FEDRPC_PREFACE_LEN],
    fedrpc_status *st)
{
	if (memcmp(in, fedrpc_preface_magic, sizeof fedrpc_preface_magic) != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire preface: not a fedrpc peer (wrong magic)");
	p->version   = get16(in + 8);
	p->flags     = get16(in + 10);
	p->max_frame = get32(in + 12);
	p->max_calls = get32(in + 16);
	if (p->version == 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire preface: protocol version 0");
	if (p->max_frame < FEDRPC_FRAME_MIN_LIMIT)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire preface: max_frame %u is below the minimum of %u",
		    (unsigned) p->max_frame, FEDRPC_FRAME_MIN_LIMIT);
	return FEDRPC_OK;
}

void
fedrpc_frame_header_encode(uint8_t out[FEDRPC_FRAME_HEADER_LEN], uint8_t type,
    uint8_t flags, uint32_t call_id, uint32_t len)
{
	put32(out, len);
	out[4] = type;
	out[5] = flags;
	out[6] = 0;
	out[7] = 0;
	put32(out + 8, call_id);
}

void
fedrpc_frame_header_decode(fedrpc_frame *f,
    const uint8_t in[FEDRPC_FRAME_HEADER_LEN])
{
	f->len     = get32(in);
	f->type    = in[4];
	f->flags   = in[5];
	f->call_id = get32(in + 8);
	f->payload = NULL;
}

static const char *
type_name(uint8_t type)
{
	switch (type) {
	case FEDRPC_FRAME_REQUEST: return "REQUEST";
	case FEDRPC_FRAME_REPLY: return "REPLY";
	case FEDRPC_FRAME_CANCEL: return "CANCEL";
	case FEDRPC_FRAME_PING: return "PING";
	case FEDRPC_FRAME_PONG: return "PONG";
	case FEDRPC_FRAME_DRAIN: return "DRAIN";
	default: return "unknown";
	}
}

/* Whether a receiver in this role may get frames of this type. */
static bool
type_allowed(uint8_t type, bool server)
{
	switch (type) {
	case FEDRPC_FRAME_REQUEST:
	case FEDRPC_FRAME_CANCEL: return server;
	case FEDRPC_FRAME_REPLY:
	case FEDRPC_FRAME_DRAIN: return !server;
	case FEDRPC_FRAME_PING:
	case FEDRPC_FRAME_PONG: return true;
	default: return false;
	}
}

fedrpc_code
fedrpc_frame_check(const fedrpc_frame *f, bool server, fedrpc_status *st)
{
	bool per_call = f->type == FEDRPC_FRAME_REQUEST ||
	    f->type == FEDRPC_FRAME_REPLY || f->type == FEDRPC_FRAME_CANCEL;

	if (f->type < FEDRPC_FRAME_REQUEST || f->type > FEDRPC_FRAME_DRAIN)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: unknown frame type %u", (unsigned) f->type);
	if (!type_allowed(f->type, server))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: a %s frame sent to a %s", type_name(f->type),
		    server ? "server" : "client");
	if (per_call && f->call_id == 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: %s with call id 0", type_name(f->type));
	if (!per_call && f->call_id != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: %s with call id %u (connection frames use 0)",
		    type_name(f->type), (unsigned) f->call_id);
	if ((f->type == FEDRPC_FRAME_PING || f->type == FEDRPC_FRAME_PONG) &&
	    f->len != FEDRPC_PING_LEN)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: %s of %u bytes (must be %u)", type_name(f->type),
		    (unsigned) f->len, FEDRPC_PING_LEN);
	if (f->type == FEDRPC_FRAME_CANCEL && f->len != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: CANCEL with a payload of %u bytes",
		    (unsigned) f->len);
	if (f->type == FEDRPC_FRAME_DRAIN && f->len < FEDRPC_DRAIN_MIN_LEN)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "wire frame: DRAIN of %u bytes (at least %u)",
		    (unsigned) f->len, FEDRPC_DRAIN_MIN_LEN);
	return FEDRPC_OK;
}
