/*
 * Open files: every connection the federation listener accepts holds a
 * descriptor, and with nng 1.5.2 one that never finishes its TLS
 * handshake holds it until the peer goes away (nng's negotiation timeout
 * does not fire while a handshake waits for the peer; docs/operations.md).
 * A low limit is then all an attacker has to fill to lock valid peers out.
 * So at start the daemon raises its soft RLIMIT_NOFILE to the hard limit,
 * and refuses to start when even that is less than what its configuration
 * needs, naming the settings and the numbers.
 *
 * What a configuration needs, counted generously:
 *   - FD_OWN ("own") for the daemon itself: standard streams, the log, the SQLite
 *     pool (a database, -wal and -shm descriptor per connection), the DNS
 *     socket, both listeners, nng's poller and wake-up descriptors, and a
 *     few local API clients (about 20 are open when it idles);
 *   - one inbound connection per request it receives at once
 *     (limits.contexts): each may come from a peer of its own;
 *   - two per peer domain (its connection to us, ours to it): the domains
 *     of federation.allow, or under allowAll as many as limits.contexts;
 *   - and a quarter on top, for connections being set up or torn down.
 * Without federation only FD_OWN counts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <fedrpc/log.h>

#include "core/wire/frame.h"
#include "federator/federator.h"

#define FD_OWN 64
/* The ceiling Linux puts on RLIMIT_NOFILE by default (fs.nr_open), used
 * when the hard limit reads as unlimited. */
#define FD_UNLIMITED 1048576ul

void
federator_fd_need_get(const fedrpc_config *cfg, federator_fd_need *out)
{
	unsigned long contexts = 0, peers = 0, sum;
	const char   *peers_from = "";

	memset(out, 0, sizeof(*out));
	if (cfg->federation.enabled) {
		contexts = cfg->limits.contexts;
		switch (cfg->federation.strategy) {
		case FEDRPC_STRATEGY_ALLOW_LIST:
			peers      = cfg->federation.n_allow;
			peers_from = "federation.allow";
			break;
		case FEDRPC_STRATEGY_ALLOW_ALL:
			peers      = contexts;
			peers_from = "allowAll: one per context";
			break;
		default:
			break;
		}
	}
	sum        = FD_OWN + contexts + 2 * peers;
	out->total = sum + (sum + 3) / 4;
	if (contexts == 0)
		snprintf(out->why, sizeof(out->why),
		    "%d own (no federation listener) + 25%%", FD_OWN);
	else if (peers == 0)
		snprintf(out->why, sizeof(out->why),
		    "%d own + %lu limits.contexts + 25%%", FD_OWN, contexts);
	else
		snprintf(out->why, sizeof(out->why),
		    "%d own + %lu limits.contexts + 2 x %lu peers (%s) + 25%%",
		    FD_OWN, contexts, peers, peers_from);
}

/* The soft limit raised as far as the hard one allows; false if the limit
 * cannot be read. */
static bool
raise_soft(struct rlimit *before, struct rlimit *after)
{
	struct rlimit want;

	if (getrlimit(RLIMIT_NOFILE, before) != 0)
		return false;
	*after = *before;
	if (before->rlim_cur == RLIM_INFINITY)
		return true;
	want          = *before;
	want.rlim_cur = before->rlim_max == RLIM_INFINITY ? FD_UNLIMITED
							  : before->rlim_max;
	if (want.rlim_cur > before->rlim_cur &&
	    setrlimit(RLIMIT_NOFILE, &want) == 0)
		*after = want;
	return true;
}

fedrpc_code
federator_fd_limit_apply(const fedrpc_config *cfg, fedrpc_status *st)
{
	federator_fd_need need;
	struct rlimit     before, after;
	unsigned long     soft;

	federator_fd_need_get(cfg, &need);
	if (!raise_soft(&before, &after)) {
		FEDRPC_LOG_WARN("descriptors: cannot read RLIMIT_NOFILE (%s); "
				"the configuration needs %lu open files",
		    strerror(errno), need.total);
		return FEDRPC_OK;
	}
	soft = after.rlim_cur == RLIM_INFINITY ? FD_UNLIMITED
					       : (unsigned long) after.rlim_cur;
	if (soft < need.total)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "open file limit too low: the configuration needs %lu (%s) "
		    "but the hard limit RLIMIT_NOFILE is %lu; raise it (ulimit "
		    "-Hn, systemd LimitNOFILE=) or lower limits.contexts",
		    need.total, need.why, soft);
	if (after.rlim_cur != before.rlim_cur)
		FEDRPC_LOG_INFO("descriptors: open file limit raised from %lu "
				"to %lu, the hard limit (the configuration "
				"needs %lu)",
		    (unsigned long) before.rlim_cur, soft, need.total);
	else
		FEDRPC_LOG_INFO("descriptors: open file limit %lu (the "
				"configuration needs %lu)",
		    soft, need.total);
	/* Said once at start: it is what bounds silent connections. */
	if (cfg->listen == NULL || fedrpc_wire_selected(cfg->listen))
		FEDRPC_LOG_INFO("descriptors: a connection that does not "
				"finish its TLS handshake and preface in "
				"limits.handshake_timeout_ms (%u) is closed, "
				"and the oldest one not through it makes room "
				"for a new one",
		    cfg->limits.handshake_timeout_ms);
	else
		FEDRPC_LOG_INFO("descriptors: a connection that never finishes "
				"its TLS handshake holds one until the peer "
				"leaves; limits.handshake_timeout_ms (%u) is not "
				"applied with FEDRPC_WIRE=reqrep "
				"(docs/operations.md)",
		    cfg->limits.handshake_timeout_ms);
	return FEDRPC_OK;
}
