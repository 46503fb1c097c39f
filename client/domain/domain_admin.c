/*
 * What operators see of, and do to, one domain channel (fedctl admin
 * domains / reset): its current error and SRV answer, and ending its
 * back-off on request. Apart from the connection manager
 * (domain_channel.c) so that it only reads and resets its state, under
 * the channel's lock, and wakes the pool thread to act.
 */
#include <stdio.h>
#include <string.h>

#include "client/domain/domain_int.h"
#include "core/base/clock.h"

/* The channel's manager, or NULL for a channel opened by URL. */
static dom_chan *
dom_of(fedrpc_channel *ch)
{
	fedrpc_domain_info info;

	if (fedrpc_domain_info_get(ch, &info) != FEDRPC_OK)
		return NULL;
	return ch->hooks_arg;
}

fedrpc_code
fedrpc_domain_detail_get(fedrpc_channel *ch, fedrpc_code *code, char *error,
    size_t error_len, fedrpc_srv_answer **answer)
{
	dom_chan *d = dom_of(ch);

	*code = FEDRPC_OK;
	if (error_len > 0)
		error[0] = '\0';
	*answer = NULL;
	if (d == NULL)
		return FEDRPC_NOT_FOUND;
	pthread_mutex_lock(&ch->mtx);
	if (ch->fail_code != FEDRPC_OK) {
		*code = ch->fail_code;
		snprintf(error, error_len, "%s", ch->fail_msg);
	}
	if (d->answer != NULL)
		*answer = fedrpc_srv_answer_dup(d->answer);
	pthread_mutex_unlock(&ch->mtx);
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_domain_backoff_reset(fedrpc_channel *ch)
{
	dom_chan *d = dom_of(ch);
	bool      was;

	if (d == NULL)
		return FEDRPC_NOT_FOUND;
	pthread_mutex_lock(&ch->mtx);
	backoff_reset(&d->bo);
	d->failures = 0;
	d->brief    = 0;
	if ((was = d->state == DOM_BACKOFF)) {
		/* What the manager does itself when the delay is over. */
		d->retry_at = fedrpc_clock_ms();
		chan_clear_down_locked(ch);
		d->state   = DOM_IDLE;
		d->step[0] = '\0';
	}
	pthread_mutex_unlock(&ch->mtx);
	if (was) {
		/* The lookup that failed, or the answer that led nowhere, is
		 * not held against the next attempt. */
		fedrpc_resolver_forget(d->cfg->resolver, d->domain);
		pool_wake(d->pool);
	}
	return FEDRPC_OK;
}
