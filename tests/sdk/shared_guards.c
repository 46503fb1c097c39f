/*
 * Are the nng work-arounds of core/compat/ in effect in a program linked
 * with libfedrpc.so? They replace nng_stream_send(), nng_stream_recv() and
 * sendmsg() for the whole process by defining them, which works only when
 * the shared library comes before libnng and the C library in the dynamic
 * linker's search order. Exits 0 when both are, 1 naming the one that is
 * not (and the daemon would log "... not in effect").
 */
#include <stdio.h>

#include <fedrpc/version.h>

#include "core/compat/compat.h"

int
main(void)
{
	int rc = 0;

	if (!stream_guard_active()) {
		fprintf(stderr,
		    "shared_guards: core/compat/stream_guard.c is not in "
		    "effect: nng_stream_send/recv resolve to nng's own\n");
		rc = 1;
	}
	if (!epipe_guard_active()) {
		fprintf(stderr,
		    "shared_guards: core/compat/epipe_guard.c is not in "
		    "effect: sendmsg resolves to the C library's\n");
		rc = 1;
	}
	if (rc == 0)
		printf("shared_guards: both guards in effect (libfedrpc %s)\n",
		    fedrpc_version());
	return rc;
}
