/*
 * The access log: one line per federation call, received or sent, at
 * level info, with the same fields in text and in JSON (log.format):
 *   msg "call received" / "call sent", request_id (hex), origin, target,
 *   method, status (gRPC's code name), duration_ms, end_us, and when
 *   set peer (the certificate name a call came with) and error (the
 *   status message).
 * end_us is the wall clock (CLOCK_REALTIME, Unix microseconds) when the
 * call ended: for a received call, after its handler returned (what it
 * stored is committed) and its reply was handed to the transport; for a
 * sent call, when its answer arrived. The line's own time has only
 * milliseconds; end_us orders calls across daemons of one host finely
 * enough to time a fan-out (bench/fanout_bench.c).
 * Operators read it to follow one request across domains: both sides log
 * the same request id.
 */
#include <time.h>

#include <fedrpc/log.h>

#include "core/base/observe.h"
#include "federator/federator.h"

void
federator_access_log(const fedrpc_call_event *ev)
{
	static const char hex[] = "0123456789abcdef";
	char              id[33] = "";
	fedrpc_log_field  fl[10];
	size_t            n = 0;
	struct timespec   now;

	if (fedrpc_log_get_level() > FEDRPC_LOG_INFO)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	if (ev->request_id != NULL) {
		for (int i = 0; i < 16; i++) {
			id[2 * i]     = hex[ev->request_id[i] >> 4];
			id[2 * i + 1] = hex[ev->request_id[i] & 15];
		}
		id[32] = '\0';
	}
	fl[n++] = (fedrpc_log_field){.key = "request_id", .str = id};
	fl[n++] = (fedrpc_log_field){.key = "origin", .str = ev->origin};
	fl[n++] = (fedrpc_log_field){.key = "target", .str = ev->target};
	fl[n++] = (fedrpc_log_field){.key = "method", .str = ev->method};
	fl[n++] = (fedrpc_log_field){
	    .key = "status", .str = fedrpc_code_name(ev->code)};
	fl[n++] = (fedrpc_log_field){
	    .key = "duration_ms", .num = (int64_t) ev->duration_ms};
	fl[n++] = (fedrpc_log_field){.key = "end_us",
	    .num = (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000};
	if (ev->peer[0] != '\0')
		fl[n++] = (fedrpc_log_field){.key = "peer", .str = ev->peer};
	if (ev->code != FEDRPC_OK && ev->message[0] != '\0')
		fl[n++] = (fedrpc_log_field){.key = "error", .str = ev->message};
	fedrpc_log_fields(FEDRPC_LOG_INFO, fl, n, "%s",
	    ev->side == FEDRPC_OBSERVE_SERVER ? "call received" : "call sent");
}
