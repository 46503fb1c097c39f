/*
 * The process's one observer (observe.h). Reports come from nng's
 * threads and the server's workers at any moment, so the observer is one
 * atomic pointer; the daemon sets it before anything runs and clears it
 * only after its servers and channels are closed.
 */
#include <stddef.h>

#include "core/base/observe.h"

static const fedrpc_observer *current;

void
fedrpc_observe_set(const fedrpc_observer *o)
{
	__atomic_store_n(&current, o, __ATOMIC_RELEASE);
}

bool
fedrpc_observe_active(void)
{
	return __atomic_load_n(&current, __ATOMIC_ACQUIRE) != NULL;
}

void
fedrpc_observe_call(const fedrpc_call_event *ev)
{
	const fedrpc_observer *o = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

	if (o != NULL && o->call != NULL)
		o->call(o->arg, ev);
}

void
fedrpc_observe_tls_failure(const fedrpc_tls_event *ev)
{
	const fedrpc_observer *o = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

	if (o != NULL && o->tls_failure != NULL)
		o->tls_failure(o->arg, ev);
}
