/*
 * Calls: a request packed straight into an nng message, sent on a pooled
 * req0 context, and its reply decoded in place. An asynchronous call
 * completes in an aio callback; a blocking call waits on an aio without
 * callback, so that no thread stands between nng and the caller.
 *
 * A call is two nng operations (send, then receive), and cancellation can
 * come from another thread at any moment, including between the two. nng
 * 1.5 forgets a cancel that arrives while no operation is posted, so each
 * call has a small lock: an operation is posted, and the abort flag
 * checked, under it; a canceller sets the flag and cancels under it; and
 * each completion passes through it before the call can be reused.
 */
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

#include "client/channel_int.h"
#include "core/base/clock.h"
#include "core/wire/pb_unpack.h"

/* Posts an operation, or cancels it at once when the call was aborted
 * before it could be posted; call->lk held. */
static void
post_checked(fedrpc_call *call)
{
	if (__atomic_load_n(&call->abort, __ATOMIC_ACQUIRE) != ABORT_NONE)
		nng_aio_cancel(call->cur);
}

/* The status of a call that ended with nng error rv in `stage`. */
static void
error_status(fedrpc_call *call, call_stage stage, int rv, fedrpc_status *out)
{
	fedrpc_channel *ch = call->ch;
	fedrpc_status   st = {0};

	switch (rv) {
	case NNG_ECANCELED:
		switch (__atomic_load_n(&call->abort, __ATOMIC_ACQUIRE)) {
		case ABORT_DOWN:
			chan_fail_status(ch, &st);
			break;
		case ABORT_CLOSE:
			fedrpc_status_set(
			    &st, FEDRPC_CANCELLED, "channel closed");
			break;
		default:
			fedrpc_status_set(
			    &st, FEDRPC_CANCELLED, "call cancelled");
			break;
		}
		break;
	case NNG_ETIMEDOUT:
		if (stage == CALL_SEND) {
			char        why[200];
			fedrpc_code code = fedrpc_channel_last_error(
			    ch, why, sizeof(why));

			if (code != FEDRPC_OK)
				fedrpc_status_set(&st, code,
				    "cannot reach %s: %s", fedrpc_channel_url(ch),
				    why);
			else
				fedrpc_status_set(&st, FEDRPC_DEADLINE_EXCEEDED,
				    "deadline of %u ms exceeded waiting for a "
				    "connection to %s",
				    call->timeout_ms, fedrpc_channel_url(ch));
		} else {
			fedrpc_status_set(&st, FEDRPC_DEADLINE_EXCEEDED,
			    "deadline of %u ms exceeded", call->timeout_ms);
		}
		break;
	case NNG_ECLOSED:
		fedrpc_status_set(&st, FEDRPC_CANCELLED, "channel closed");
		break;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		/* nng does not resend (no resend time): whether the server
		 * ran the call is unknown. A retry under the same request
		 * id is safe, the server deduplicates it. */
		fedrpc_status_set(&st, FEDRPC_UNAVAILABLE,
		    "connection to %s lost before the reply",
		    fedrpc_channel_url(ch));
		break;
	default:
		fedrpc_status_set(&st, fedrpc_code_from_nng(rv), "%s: %s",
		    fedrpc_channel_url(ch), nng_strerror(rv));
		break;
	}
	*out = st;
}

/*
 * Decodes a reply into a status and, on OK, the unpacked response. The
 * status's details point into msg: valid while msg lives.
 */
static ProtobufCMessage *
reply_status(fedrpc_call *call, nng_msg *msg, fedrpc_status *out)
{
	fedrpc_channel   *ch  = call->ch;
	const uint8_t    *buf = nng_msg_body(msg);
	size_t            len = nng_msg_len(msg);
	fedrpc_status     st  = {0};
	fedrpc_reply_view v;
	ProtobufCMessage *resp = NULL;

	if (len > ch->max_msg) {
		fedrpc_status_set(&st, FEDRPC_RESOURCE_EXHAUSTED,
		    "reply of %zu bytes exceeds the limit of %zu bytes", len,
		    ch->max_msg);
		goto done;
	}
	if (fedrpc_envelope_reply_decode(&v, buf, len, &st) != FEDRPC_OK) {
		st.code = FEDRPC_INTERNAL;
		goto done;
	}
	if (v.request_id_len != 0 &&
	    (v.request_id_len != FEDRPC_REQUEST_ID_LEN ||
	        memcmp(v.request_id, call->request_id, FEDRPC_REQUEST_ID_LEN) !=
	            0)) {
		fedrpc_status_set(
		    &st, FEDRPC_INTERNAL, "reply is for another request");
		goto done;
	}
	if (call->md_cb != NULL) {
		fedrpc_metadata md;
		void           *block;

		if (fedrpc_envelope_reply_metadata(&v, &md, &block) ==
		    FEDRPC_OK) {
			call->md_cb(call->md_arg, &md);
			free(block);
		}
	}
	if (v.code != FEDRPC_OK) {
		size_t n = v.message_len < sizeof(st.message) - 1
		    ? v.message_len
		    : sizeof(st.message) - 1;

		st.code = v.code;
		memcpy(st.message, v.message, n);
		st.message[n] = '\0';
		/* Borrowed from the reply for the callback's duration. */
		st.details     = (uint8_t *) v.details;
		st.details_len = v.details_len;
		goto done;
	}
	resp = fedrpc_pb_unpack(
	    call->method->output, NULL, v.payload_len, v.payload);
	if (resp == NULL)
		fedrpc_status_set(&st, FEDRPC_INTERNAL,
		    "reply payload does not decode as %s",
		    call->method->output->name);
done:
	*out = st;
	return resp;
}

static void
finish_error(fedrpc_call *call, call_stage stage, int rv)
{
	fedrpc_status st;

	error_status(call, stage, rv, &st);
	call_observe(call, &st);
	call->cb(call->arg, &st, NULL);
	chan_call_finished(call->ch, call);
}

static void
finish_reply(fedrpc_call *call, nng_msg *msg)
{
	fedrpc_status     st;
	ProtobufCMessage *resp = reply_status(call, msg, &st);

	if (st.code == FEDRPC_FAILED_PRECONDITION &&
	    chan_negotiates(call->ch, call->method))
		chan_version_refused(call->ch, call->api_version);
	call_observe(call, &st);
	call->cb(call->arg, &st, resp);
	chan_call_finished(call->ch, call);
	nng_msg_free(msg);
}

/*
 * After the send of aio completed with rv: posts the receive and returns
 * true, or returns false with *stage and *rv saying how the call ended.
 */
static bool
after_send(fedrpc_call *call, nng_aio *aio, call_stage *stage, int *rv)
{
	uint64_t now;

	pthread_mutex_lock(&call->lk);
	if (*rv != 0) {
		pthread_mutex_unlock(&call->lk);
		/* A failed send gives the request back. */
		nng_msg_free(nng_aio_get_msg(aio));
		nng_aio_set_msg(aio, NULL);
		*stage = CALL_SEND;
		return false;
	}
	now = fedrpc_clock_ms();
	if (__atomic_load_n(&call->abort, __ATOMIC_ACQUIRE) == ABORT_NONE &&
	    now < call->deadline) {
		call->stage = CALL_RECV;
		nng_aio_set_timeout(aio, (nng_duration) (call->deadline - now));
		nng_ctx_recv(call->ctx, aio);
		post_checked(call);
		pthread_mutex_unlock(&call->lk);
		return true;
	}
	pthread_mutex_unlock(&call->lk);
	/* Sent, but stopped before the reply: the context drops the
	 * request when it is next used. */
	*stage = CALL_RECV;
	*rv    = now >= call->deadline ? NNG_ETIMEDOUT : NNG_ECANCELED;
	return false;
}

void
call_cb(void *arg)
{
	fedrpc_call *call = arg;
	int          rv   = nng_aio_result(call->aio);
	call_stage   stage;
	nng_msg     *msg;

	/* Through the lock: whoever posted this operation is done. */
	pthread_mutex_lock(&call->lk);
	stage = __atomic_load_n(&call->stage, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&call->lk);
	if (stage == CALL_SEND && call->ch->wire == NULL) {
		if (!after_send(call, call->aio, &stage, &rv))
			finish_error(call, stage, rv);
		return;
	}
	if (rv != 0) {
		finish_error(call, stage, rv);
		return;
	}
	msg = nng_aio_get_msg(call->aio);
	nng_aio_set_msg(call->aio, NULL);
	finish_reply(call, msg);
}

/* Packs the request and takes a call for it; NULL with st set on error. */
static fedrpc_call *
call_begin(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, const fedrpc_call_opts *opts, bool handle,
    nng_msg **msgp, fedrpc_status *st)
{
	uint8_t             id[FEDRPC_REQUEST_ID_LEN];
	uint32_t            timeout, version;
	fedrpc_request_head head;
	fedrpc_call        *call;

	if (ch == NULL || m == NULL || m->full_name == NULL ||
	    m->output == NULL) {
		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "a call needs a channel and a method");
		return NULL;
	}
	timeout = opts != NULL && opts->timeout_ms != 0 ? opts->timeout_ms
							: ch->default_timeout;
	if (opts != NULL && opts->request_id != NULL)
		memcpy(id, opts->request_id, sizeof(id));
	else
		fedrpc_request_id_new(id);
	if (chan_call_version(ch, m, timeout, &version, st) != FEDRPC_OK)
		return NULL;
	head = (fedrpc_request_head){
	    .method        = m->full_name,
	    .origin_domain = ch->origin,
	    .target_domain = ch->target,
	    .api_version   = version,
	    .timeout_ms    = timeout,
	    .request_id    = id,
	    .metadata      = opts != NULL ? opts->metadata : NULL,
	};
	if (fedrpc_envelope_request_encode(msgp, &head, req, ch->max_msg, st) !=
	    FEDRPC_OK)
		return NULL;
	if ((call = chan_call_acquire(ch, handle, st)) == NULL) {
		nng_msg_free(*msgp);
		*msgp = NULL;
		return NULL;
	}
	call->method     = m;
	call->md_cb      = opts != NULL ? opts->reply_metadata : NULL;
	call->md_arg     = opts != NULL ? opts->reply_metadata_arg : NULL;
	call->timeout_ms = timeout;
	call->deadline   = fedrpc_clock_ms() + timeout;
	call->api_version = version;
	memcpy(call->request_id, id, sizeof(id));
	return call;
}

/* Posts the request on aio (call->aio or call->saio). */
static void
call_send(fedrpc_call *call, nng_aio *aio, nng_msg *msg)
{
	pthread_mutex_lock(&call->lk);
	call->cur   = aio;
	call->stage = CALL_SEND;
	nng_aio_set_timeout(aio, (nng_duration) call->timeout_ms);
	if (call->ch->wire != NULL) {
		/* One operation from the request to the reply. */
		chan_wire_call(call->ch, call, aio, msg);
		post_checked(call);
		pthread_mutex_unlock(&call->lk);
		return;
	}
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(call->ctx, aio);
	post_checked(call);
	pthread_mutex_unlock(&call->lk);
}

fedrpc_code
fedrpc_channel_call_async(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, const fedrpc_call_opts *opts,
    fedrpc_call_cb cb, void *arg, fedrpc_call **callp, fedrpc_status *st)
{
	fedrpc_call *call;
	nng_msg     *msg;

	if (callp != NULL)
		*callp = NULL;
	if (cb == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "an asynchronous call needs a callback");
	if ((call = call_begin(ch, m, req, opts, callp != NULL, &msg, st)) ==
	    NULL)
		return st->code;
	call->cb  = cb;
	call->arg = arg;
	call_send(call, call->aio, msg);
	if (callp != NULL)
		*callp = call;
	return FEDRPC_OK;
}

void
fedrpc_call_cancel(fedrpc_call *call)
{
	int none = ABORT_NONE;

	if (call == NULL)
		return;
	pthread_mutex_lock(&call->lk);
	__atomic_compare_exchange_n(&call->abort, &none, ABORT_CANCEL, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	nng_aio_cancel(call->cur);
	pthread_mutex_unlock(&call->lk);
}

void
fedrpc_call_release(fedrpc_call *call)
{
	if (call != NULL)
		chan_call_unref(call->ch, call);
}

/* Copies a status for the caller, details included (they may point
 * into a reply about to be freed). */
static void
status_copy(fedrpc_status *to, const fedrpc_status *from)
{
	if (to == NULL)
		return;
	to->code = from->code;
	memcpy(to->message, from->message, sizeof(to->message));
	if (from->details_len > 0)
		(void) fedrpc_status_set_details(
		    to, from->details, from->details_len);
}

/* One blocking call; *used receives the version it carried. */
static fedrpc_code
call_once(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const fedrpc_call_opts *opts, uint32_t *used, fedrpc_status *st)
{
	fedrpc_call  *call;
	nng_msg      *msg;
	fedrpc_status got;
	call_stage    stage = CALL_SEND;
	int           rv;

	*resp = NULL;
	*used = 0;
	if ((call = call_begin(ch, m, req, opts, false, &msg, st)) == NULL)
		return st->code;
	*used = call->api_version;
	call_send(call, call->saio, msg);
	nng_aio_wait(call->saio);
	rv = nng_aio_result(call->saio);
	if (ch->wire != NULL)
		stage = __atomic_load_n(&call->stage, __ATOMIC_ACQUIRE);
	else if (after_send(call, call->saio, &stage, &rv)) {
		nng_aio_wait(call->saio);
		stage = CALL_RECV;
		rv    = nng_aio_result(call->saio);
	}
	/* Through the lock: a canceller that saw the operation is done. */
	pthread_mutex_lock(&call->lk);
	pthread_mutex_unlock(&call->lk);
	if (rv != 0) {
		error_status(call, stage, rv, &got);
		call_observe(call, &got);
		chan_call_finished(ch, call);
		status_copy(st, &got);
		return got.code;
	}
	msg   = nng_aio_get_msg(call->saio);
	nng_aio_set_msg(call->saio, NULL);
	*resp = reply_status(call, msg, &got);
	call_observe(call, &got);
	chan_call_finished(ch, call);
	status_copy(st, &got);
	nng_msg_free(msg);
	return got.code;
}

fedrpc_code
fedrpc_channel_call(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const fedrpc_call_opts *opts, fedrpc_status *st)
{
	uint32_t    used;
	fedrpc_code rc = call_once(ch, m, req, resp, opts, &used, st);

	/* Refused for a stale version: once more with a fresh choice (the
	 * callee ran no handler, so the same request id is safe). */
	if (rc == FEDRPC_FAILED_PRECONDITION &&
	    fedrpc_call_version_stale(ch, m, used,
	        opts != NULL && opts->timeout_ms ? opts->timeout_ms
	                                         : ch->default_timeout))
		rc = call_once(ch, m, req, resp, opts, &used, st);
	return rc;
}
