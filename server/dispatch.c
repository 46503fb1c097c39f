/*
 * One call on a worker, from request bytes to reply bytes: decode the
 * envelope, check the deadline, normalise the origin, admit, route to the method's handler
 * (once per request id), and pack the reply straight into an nng message.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "core/base/clock.h"
#include "core/base/dns_name.h"
#include "core/base/observe.h"
#include "core/wire/pb_unpack.h"
#include "server/server_int.h"

static const char *
peer_name(const fedrpc_ctx *cx)
{
	if (cx->peer != NULL && cx->peer->peer.n_names > 0)
		return cx->peer->peer.names[0];
	return "-";
}

static void
log_call(const fedrpc_ctx *cx, const fedrpc_status *st, uint64_t start_ms)
{
	fedrpc_log_level lvl =
	    st->code == FEDRPC_OK ? FEDRPC_LOG_DEBUG : FEDRPC_LOG_INFO;

	if (fedrpc_log_get_level() > lvl)
		return;
	/* An observer of federation calls writes the access log. */
	if (cx->srv->tls_on && fedrpc_observe_active())
		return;
	fedrpc_log(lvl, "call %s origin=%s peer=%s status=%s%s%s%s %" PRIu64
			"ms",
	    cx->req.method != NULL ? cx->req.method : "?",
	    cx->req.origin_domain != NULL && cx->req.origin_domain[0] != '\0'
		? cx->req.origin_domain
		: "-",
	    peer_name(cx), fedrpc_code_name(st->code),
	    st->message[0] != '\0' ? " (" : "", st->message,
	    st->message[0] != '\0' ? ")" : "", fedrpc_clock_ms() - start_ms);
}

/*
 * Gives the request's origin its one spelling (lower case, no final dot)
 * before anything looks at it: admission (origin authentication, the
 * allow list, per-peer limits), request-id dedup and the handler all see
 * the same key, so "B.example" and "b.example." are b.example everywhere
 * and share its limits. The decoded string is the view's own copy and the
 * result is never longer, so it is rewritten in place. A value that is no
 * domain (dns_domain_check) is left as sent; admission refuses it.
 */
static void
normalise_origin(fedrpc_ctx *cx)
{
	char name[DNS_NAME_MAX];

	if (cx->req.origin_domain != NULL &&
	    cx->req.origin_domain[0] != '\0' &&
	    dns_domain_check(cx->req.origin_domain, name, NULL, 0))
		memcpy((char *) cx->req.origin_domain, name, strlen(name) + 1);
}

/* An error reply for a request we could not (or would not) decode. */
static nng_msg *
raw_reply(fedrpc_server *srv, const uint8_t *buf, size_t len,
    fedrpc_code code, const char *message)
{
	uint8_t           id[FEDRPC_REQUEST_ID_LEN];
	fedrpc_reply_head h = {.code = code, .message = message};
	nng_msg          *reply;

	if (fedrpc_envelope_request_peek_id(buf, len, id))
		h.request_id = id;
	if (fedrpc_envelope_reply_encode(&reply, &h, NULL, srv->max_msg, NULL) !=
	    FEDRPC_OK)
		return NULL;
	return reply;
}

void
srv_answer(fedrpc_server *srv, srv_rctx *rc, fedrpc_code code,
    const char *message)
{
	nng_msg *req = rc->req, *reply = NULL;

	rc->req = NULL;
	if (req != NULL) {
		reply = raw_reply(srv, nng_msg_body(req), nng_msg_len(req), code,
		    message);
		nng_msg_free(req);
	}
	srv_rctx_send(rc, reply);
}

/* Packs the reply of a decoded call; falls back to an error reply when
 * the response does not fit. */
static nng_msg *
make_reply(fedrpc_server *srv, fedrpc_ctx *cx, fedrpc_status *st,
    const ProtobufCMessage *out)
{
	fedrpc_metadata   md = {cx->n_reply_md, cx->reply_md};
	fedrpc_reply_head h  = {
             .code        = st->code,
             .message     = st->message,
             .details     = st->details,
             .details_len = st->details_len,
             .request_id  = cx->req.request_id,
             .metadata    = &md,
        };
	fedrpc_status enc = {0};
	nng_msg      *reply;

	if (fedrpc_envelope_reply_encode(
	        &reply, &h, st->code == FEDRPC_OK ? out : NULL, srv->max_msg,
	        &enc) == FEDRPC_OK)
		return reply;
	/* Too large, a bad reply metadata key, or out of memory. */
	fedrpc_status_reset(st);
	fedrpc_status_set(st, enc.code, "%s", enc.message);
	h.code        = st->code;
	h.message     = st->message;
	h.details     = NULL;
	h.details_len = 0;
	h.metadata    = NULL;
	if (fedrpc_envelope_reply_encode(&reply, &h, NULL, 0, NULL) != FEDRPC_OK)
		return NULL;
	return reply;
}

static nng_msg *
copy_msg(const nng_msg *m)
{
	nng_msg *c;

	if (m == NULL || nng_msg_dup(&c, m) != 0)
		return NULL;
	return c;
}

/* Sends the first run's reply to the duplicates that waited for it. */
/*
 * A failure that may pass (the handler's store unreachable or busy, a
 * deadline, a cancellation): its reply is not kept for the request id, so
 * that a retry under that id runs the handler again instead of getting
 * the failure back; the store's own request ids keep the effect once.
 */
static bool
transient(fedrpc_code code)
{
	return code == FEDRPC_UNAVAILABLE || code == FEDRPC_ABORTED ||
	    code == FEDRPC_RESOURCE_EXHAUSTED ||
	    code == FEDRPC_DEADLINE_EXCEEDED || code == FEDRPC_CANCELLED;
}

static void
answer_waiters(srv_rctx *w, const nng_msg *reply)
{
	srv_rctx *next;

	for (; w != NULL; w = next) {
		next = w->next;
		nng_msg_free(w->req);
		w->req = NULL;
		srv_rctx_send(w, copy_msg(reply));
	}
}

void
fedrpc_server_set_done(fedrpc_server *srv, fedrpc_done_fn fn, void *arg)
{
	srv->done     = fn;
	srv->done_arg = arg;
}

void
srv_dispatch(fedrpc_server *srv, fedrpc_ctx *cx, srv_rctx *rc)
{
	nng_msg              *req = rc->req, *reply = NULL;
	const uint8_t        *buf = nng_msg_body(req);
	size_t                len = nng_msg_len(req);
	fedrpc_status         st  = {0};
	srv_dentry           *entry = NULL;
	const fedrpc_handler *h;
	ProtobufCMessage     *in, *out = NULL;
	uint64_t              start = rc->recv_ms;
	bool                  ran   = false;
	bool                  admitted = false;
	fedrpc_code           code;

	rc->req  = NULL;
	cx->rc   = rc;
	cx->pipe = nng_msg_get_pipe(req);

	if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
		fedrpc_status_set(
		    &st, FEDRPC_UNAVAILABLE, "server shutting down");
		reply = raw_reply(srv, buf, len, st.code, st.message);
		goto send;
	}
	if (__atomic_load_n(&rc->cancelled, __ATOMIC_ACQUIRE)) {
		/* The caller sent CANCEL before the call started: nothing
		 * runs and nothing is sent back. */
		fedrpc_status_set(&st, FEDRPC_CANCELLED, "cancelled by the caller");
		goto send;
	}
	if (len > srv->max_msg) {
		fedrpc_status_set(&st, FEDRPC_RESOURCE_EXHAUSTED,
		    "request of %zu bytes exceeds the limit of %zu bytes", len,
		    srv->max_msg);
		reply = raw_reply(srv, buf, len, st.code, st.message);
		goto send;
	}
	if (fedrpc_envelope_request_decode(
	        &cx->req, buf, len, &cx->arena.pb, &st) != FEDRPC_OK) {
		reply = raw_reply(srv, buf, len, st.code, st.message);
		goto send;
	}

	/* Deadline relative to arrival: time spent queued counts. */
	if (cx->req.timeout_ms != 0) {
		cx->deadline_ms = rc->recv_ms + cx->req.timeout_ms;
		if (fedrpc_clock_ms() >= cx->deadline_ms) {
			fedrpc_status_set(&st, FEDRPC_DEADLINE_EXCEEDED,
			    "deadline exceeded before the call started");
			goto reply;
		}
	}
	normalise_origin(cx);
	cx->peer = srv_peer_get(srv, cx->pipe);
	cx->handler = h = srv_handler_find(srv, cx->req.method);

	if (srv->admit != NULL &&
	    (code = srv->admit(srv->admit_arg, cx, &st)) != FEDRPC_OK) {
		if (st.code != code) {
			/* The hook returned a code without setting st. */
			fedrpc_status_set(&st, code, "call refused");
		}
		goto reply;
	}
	admitted = true;
	fedrpc_status_reset(&st);
	if (h == NULL) {
		fedrpc_status_set(&st, FEDRPC_UNIMPLEMENTED, "unknown method %s",
		    cx->req.method);
		goto reply;
	}

	/* A parked rc may be answered by another worker at once, so it
	 * carries its request before it is offered. */
	rc->req = req;
	switch (srv_dedup_begin(srv->dedup, cx->req.request_id, cx->req.method,
	    cx->req.origin_domain, rc, &entry, &reply)) {
	case DEDUP_DONE:
		rc->req = NULL;
		FEDRPC_LOG_DEBUG("call %s: repeated request id, cached reply",
		    cx->req.method);
		goto send;
	case DEDUP_PARKED:
		/* rc and its request now wait for the first run. */
		FEDRPC_LOG_DEBUG("call %s: repeated request id, waiting for the "
				 "first run",
		    cx->req.method);
		req = NULL;
		goto done;
	case DEDUP_NEW:
	case DEDUP_BYPASS:
		rc->req = NULL;
		break;
	}

	in = fedrpc_pb_unpack(h->method->input, &cx->arena.pb,
	    cx->req.payload_len, cx->req.payload);
	if (in == NULL) {
		fedrpc_status_set(&st, FEDRPC_INVALID_ARGUMENT,
		    "payload does not decode as %s", h->method->input->name);
		goto reply;
	}
	if ((out = srv_arena_alloc(&cx->arena, h->method->output->sizeof_message)) ==
	    NULL) {
		fedrpc_status_set(&st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory for the response");
		goto reply;
	}
	h->method->output->message_init(out);
	code = h->fn(h, cx, in, out, &st);
	ran  = true;
	st.code = code;

reply:
	reply = make_reply(srv, cx, &st, out);
	if (entry != NULL)
		answer_waiters(srv_dedup_finish(srv->dedup, entry,
		                   transient(st.code) ? NULL : reply),
		    reply);
	if (ran && cx->deadline_ms != 0 && fedrpc_clock_ms() > cx->deadline_ms) {
		/* The caller has given up; a retry under the same id gets
		 * the real reply from the cache. */
		nng_msg_free(reply);
		fedrpc_status_reset(&st);
		fedrpc_status_set(&st, FEDRPC_DEADLINE_EXCEEDED,
		    "deadline exceeded while the handler ran");
		reply = raw_reply(srv, buf, len, st.code, st.message);
	}

send:
	/* Before the reply leaves: a caller that sends its next request
	 * as soon as it has the answer must find this one counted out. */
	if (admitted && srv->done != NULL) {
		admitted = false;
		srv->done(srv->done_arg, cx, st.code);
	}
	srv_rctx_send(rc, reply);
done:
	if (admitted && srv->done != NULL)
		srv->done(srv->done_arg, cx, st.code);
	log_call(cx, &st, start);
	srv_observe(srv, cx, &st, start);
	fedrpc_status_reset(&st);
	if (req != NULL)
		nng_msg_free(req);
	srv_ctx_reset(cx);
}
