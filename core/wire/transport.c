/*
 * Which transport a server or channel opened by URL speaks: fedrpc's own
 * wire protocol (docs/wire-protocol.md) for every scheme but inproc://,
 * which stays on nng's req0/rep0 inside the process. FEDRPC_WIRE=reqrep
 * in the environment (in any case) selects req0/rep0 everywhere, for a
 * deployment whose peers have not all been upgraded yet (the two do not
 * interoperate).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fedrpc/log.h>

#include "core/wire/frame.h"

bool
fedrpc_wire_selected(const char *url)
{
	static int  warned;
	const char *e = getenv("FEDRPC_WIRE");

	if (url != NULL && strncmp(url, "inproc://", 9) == 0)
		return false;
	if (e == NULL || e[0] == '\0' || strcasecmp(e, "frames") == 0)
		return true;
	if (strcasecmp(e, "reqrep") == 0)
		return false;
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_ACQ_REL))
		FEDRPC_LOG_WARN("FEDRPC_WIRE=%s is neither \"frames\" nor "
				"\"reqrep\": using the wire protocol (frames)",
		    e);
	return true;
}
