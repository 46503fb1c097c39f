/*
 * Work-arounds for nng 1.5.2 defects that fedrpc cannot fix from outside
 * (core/compat/): each overrides an exported function for the whole
 * process and says here how to tell whether it is in effect. Both guard
 * nng's req0/rep0 transports and nng's own listener and dialer, which
 * fedrpc still uses for inproc:// and with FEDRPC_WIRE=reqrep; the wire
 * protocol (fedrpc's own accept loop and stream connections, the default)
 * does not depend on them, and they stay as long as req0/rep0 can be
 * selected.
 */
#ifndef FEDRPC_CORE_COMPAT_H
#define FEDRPC_CORE_COMPAT_H

#include <stdbool.h>

/* stream_guard.c: true when nng's own calls of nng_stream_send() and
 * nng_stream_recv() reach the guarded versions (an aio refused after a
 * close is completed). */
bool stream_guard_active(void);

/* epipe_guard.c: true when nng's calls of sendmsg() reach the guarded
 * version (EPIPE reaches nng as ECONNRESET). */
bool epipe_guard_active(void);

#endif
