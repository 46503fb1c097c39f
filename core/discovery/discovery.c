/*
 * The resolver: one thread per resolver drives one udns context from a
 * poll() loop, so any number of lookups costs one thread and one socket.
 *
 * Callers queue lookups ("waiters"). The thread answers each from a static
 * route or the cache, or attaches it to a "flight" (discovery_flight.c):
 * the DNS work for one domain (the SRV query, then A and AAAA for every
 * target, all in parallel) that every concurrent caller for it shares. A flight is bounded
 * by the resolver's timeout, each waiter by its caller's deadline; when a
 * flight ends, its result goes to the cache and to each waiter, and the
 * callbacks run on this thread without the lock held.
 *
 * udns is not thread-safe: only the resolver thread calls it, always with
 * r->mtx held. udns 0.4's dns_cancel() leaks the query, so a flight that
 * times out is not cancelled: it is parked on r->abandoned until udns
 * finishes its queries (bounded by the retry count set at creation).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <udns.h>

#include <fedrpc/discovery.h>
#include <fedrpc/log.h>

#include "core/discovery/discovery_cache.h"
#include "core/discovery/discovery_int.h"
#include "core/base/dns_name.h"

#define CACHE_MAX_ENTRIES 4096
#define WAIT_SLACK_MS 2000 /* blocking lookup: grace beyond the bound */

static pthread_once_t udns_once = PTHREAD_ONCE_INIT;

static void
udns_init_once(void)
{
	/* dns_new() copies the default context, which must be set up once;
	 * each resolver then reads its own configuration. */
	dns_init(NULL, 0);
}

static void
wake(fedrpc_resolver *r)
{
	uint64_t one = 1;

	if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		FEDRPC_LOG_WARN(
		    "discovery: wakeup failed: %s", strerror(errno));
}

static void
waiter_free(struct waiter *w)
{
	fedrpc_srv_answer_free(w->answer);
	free(w->domain);
	free(w);
}

/* ---- nameservers ---- */

static bool
parse_port(const char *s, uint16_t *port)
{
	char         *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v     = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		return false;
	*port = (uint16_t) v;
	return true;
}

/* One "127.0.0.1:5353", "[::1]:5353", "10.0.0.1" or "::1" into sa. */
static bool
parse_one_nameserver(
    char *tok, struct sockaddr_storage *sa, char *desc, size_t desclen)
{
	struct sockaddr_in  *in4  = (struct sockaddr_in *) sa;
	struct sockaddr_in6 *in6  = (struct sockaddr_in6 *) sa;
	char                *host = tok, *colon;
	uint16_t             port = 53;
	char                 text[INET6_ADDRSTRLEN];

	memset(sa, 0, sizeof(*sa));
	if (tok[0] == '[') {
		char *close = strchr(tok, ']');

		if (close == NULL)
			return false;
		*close = '\0';
		host   = tok + 1;
		if (close[1] == ':') {
			if (!parse_port(close + 2, &port))
				return false;
		} else if (close[1] != '\0') {
			return false;
		}
	} else if ((colon = strchr(tok, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		/* Exactly one colon: IPv4 with a port. */
		*colon = '\0';
		if (!parse_port(colon + 1, &port))
			return false;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port   = htons(port);
		inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
		snprintf(desc, desclen, "%s:%u", text, (unsigned) port);
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port   = htons(port);
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		snprintf(desc, desclen, "[%s]:%u", text, (unsigned) port);
		return true;
	}
	return false;
}

static fedrpc_code
set_nameservers(fedrpc_resolver *r, const char *spec, fedrpc_status *st)
{
	char  *copy, *save = NULL;
	size_t n = 0;

	if ((copy = strdup(spec)) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	dns_add_serv(r->dns, NULL);
	r->nameserver[0] = '\0';
	for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok       = strtok_r(NULL, ", \t", &save)) {
		struct sockaddr_storage sa;
		char                    one[64];
		size_t                  used = strlen(r->nameserver);

		if (n == DNS_MAXSERV ||
		    !parse_one_nameserver(tok, &sa, one, sizeof(one)) ||
		    dns_add_serv_s(r->dns, (struct sockaddr *) &sa) < 0) {
			free(copy);
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "invalid nameserver \"%.100s\": expected "
			    "addresses with optional ports, like "
			    "127.0.0.1:5353 or [::1]:5353 (at most %d)",
			    spec, DNS_MAXSERV);
		}
		snprintf(r->nameserver + used, sizeof(r->nameserver) - used,
		    "%s%s", n > 0 ? ", " : "", one);
		n++;
	}
	free(copy);
	if (n == 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "invalid nameserver \"%.100s\"", spec);
	return FEDRPC_OK;
}

/* ---- waiters ---- */

static const struct static_route *
static_find(const fedrpc_resolver *r, const char *domain)
{
	for (size_t i = 0; i < r->n_statics; i++)
		if (strcmp(r->statics[i].domain, domain) == 0)
			return &r->statics[i];
	return NULL;
}

/*
 * Answers from a static route to an address or from the cache, if it can.
 * Returns true when *answer or st holds the result. Lock held.
 */
static bool
answer_now(fedrpc_resolver *r, const char *domain, int64_t now,
    fedrpc_srv_answer **answer, fedrpc_status *st)
{
	const struct static_route *sr = static_find(r, domain);

	if (sr != NULL && sr->literal) {
		r->stats.static_hits++;
		if ((*answer = discovery_static_answer(sr)) == NULL)
			fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "discovery of %s: out of memory", domain);
		return true;
	}
	switch (discovery_cache_get(r->cache, domain, now, answer, st)) {
	case DISCOVERY_CACHE_POSITIVE:
		r->stats.cache_hits++;
		if (sr != NULL)
			r->stats.static_hits++;
		return true;
	case DISCOVERY_CACHE_NEGATIVE:
		r->stats.negative_hits++;
		return true;
	case DISCOVERY_CACHE_FAILURE:
		r->stats.failure_hits++;
		return true;
	default:
		return false;
	}
}

static bool
domain_check(
    fedrpc_resolver *r, const char *in, char *domain, fedrpc_status *st)
{
	char why[96];

	if (!dns_domain_check(in, domain, why, sizeof(why))) {
		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "'%.64s' is not a valid domain name: %s",
		    in != NULL ? in : "(null)", why);
		return false;
	}
	if (strlen(r->service) + 1 + strlen(domain) > 253) {
		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "domain name too long for an SRV lookup: %.100s...",
		    domain);
		return false;
	}
	return true;
}

/* Takes a queued waiter: answer it now, join a flight, or start one. */
static void
waiter_start(fedrpc_resolver *r, struct waiter *w, int64_t now)
{
	char                       domain[DNS_NAME_MAX];
	struct flight             *f;
	const struct static_route *route;

	if (!domain_check(r, w->domain, domain, &w->st) ||
	    answer_now(r, domain, now, &w->answer, &w->st)) {
		discovery_list_append(&r->done_tail, w);
		return;
	}
	if ((f = discovery_flight_find(r, domain)) != NULL) {
		r->stats.coalesced++;
		w->next    = f->waiters;
		f->waiters = w;
		return;
	}
	if ((route = static_find(r, domain)) != NULL)
		r->stats.static_hits++;
	discovery_flight_start(r, domain, route, w, now);
}

/* Ends flights past the resolver timeout and waiters past their deadline. */
static void
expire(fedrpc_resolver *r, int64_t now)
{
	struct flight *f, *next;

	for (f = r->flights; f != NULL; f = next) {
		next = f->next;
		if (now >= f->deadline)
			discovery_flight_timeout(f);
	}
	for (f = r->flights; f != NULL; f = f->next) {
		struct waiter **pp = &f->waiters;

		while (*pp != NULL) {
			struct waiter *w = *pp;
			char           step[QNAME_MAX + 16];

			if (w->deadline == 0 || now < w->deadline) {
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			r->stats.deadline_exceeded++;
			fedrpc_status_set(&w->st, FEDRPC_DEADLINE_EXCEEDED,
			    "discovery of %s: deadline of %u ms exceeded while "
			    "waiting for %s",
			    f->domain, w->timeout_ms,
			    discovery_flight_step_text(f, step, sizeof(step)));
			discovery_list_append(&r->done_tail, w);
		}
	}
}

/* Milliseconds until the next deadline of a flight or waiter; -1: none. */
static int64_t
next_deadline(fedrpc_resolver *r, int64_t now)
{
	int64_t next = -1;

	for (struct flight *f = r->flights; f != NULL; f = f->next) {
		if (next < 0 || f->deadline < next)
			next = f->deadline;
		for (struct waiter *w = f->waiters; w != NULL; w = w->next)
			if (w->deadline != 0 && w->deadline < next)
				next = w->deadline;
	}
	if (next < 0)
		return -1;
	return next > now ? next - now : 0;
}

/* Runs the callbacks of finished waiters, one at a time, unlocked. */
static void
run_done(fedrpc_resolver *r)
{
	struct waiter *w;

	while ((w = r->done) != NULL) {
		fedrpc_srv_answer *answer = w->answer;

		r->done = w->next;
		if (r->done == NULL)
			r->done_tail = &r->done;
		w->answer      = NULL;
		r->in_cb       = true;
		r->running_cb  = w->cb;
		r->running_arg = w->arg;
		pthread_mutex_unlock(&r->mtx);
		w->cb(w->arg, &w->st, answer);
		waiter_free(w);
		pthread_mutex_lock(&r->mtx);
		r->in_cb = false;
		pthread_cond_broadcast(&r->cb_done);
	}
}

/* Resolver closing: every waiter gets CANCELLED. */
static void
cancel_all(fedrpc_resolver *r)
{
	struct waiter *w;

	while ((w = r->incoming) != NULL) {
		r->incoming = w->next;
		fedrpc_status_set(&w->st, FEDRPC_CANCELLED,
		    "discovery of %.100s: resolver closed", w->domain);
		discovery_list_append(&r->done_tail, w);
	}
	r->incoming_tail = &r->incoming;
	for (struct flight *f = r->flights; f != NULL; f = f->next) {
		while ((w = f->waiters) != NULL) {
			f->waiters = w->next;
			fedrpc_status_set(&w->st, FEDRPC_CANCELLED,
			    "discovery of %s: resolver closed", f->domain);
			discovery_list_append(&r->done_tail, w);
		}
	}
}

static void *
resolver_main(void *arg)
{
	fedrpc_resolver *r = arg;

	pthread_mutex_lock(&r->mtx);
	while (!r->closing) {
		struct pollfd   pfd[2];
		struct timespec rt;
		int64_t         now = discovery_now_ms(), wait, dl;
		int             secs, n;

		while (r->incoming != NULL) {
			struct waiter *w = r->incoming;

			r->incoming = w->next;
			if (r->incoming == NULL)
				r->incoming_tail = &r->incoming;
			waiter_start(r, w, now);
		}
		/* Sends new queries and retransmits; udns keeps whole
		 * seconds of wall time, so wake up just past its second. */
		clock_gettime(CLOCK_REALTIME, &rt);
		secs = dns_timeouts(r->dns, -1, rt.tv_sec);
		expire(r, discovery_now_ms());
		run_done(r);
		if (r->incoming != NULL || r->closing)
			continue;

		now  = discovery_now_ms();
		wait = secs < 0 ?
		    -1 :
		    (int64_t) secs * 1000 - rt.tv_nsec / 1000000 + 1;
		if (secs >= 0 && wait < 1)
			wait = 1;
		dl = next_deadline(r, now);
		if (dl >= 0 && (wait < 0 || dl < wait))
			wait = dl;
		pfd[0].fd     = dns_sock(r->dns);
		pfd[0].events = POLLIN;
		pfd[1].fd     = r->wake_fd;
		pfd[1].events = POLLIN;
		pthread_mutex_unlock(&r->mtx);
		n = poll(pfd, 2, wait > 60000 ? 60000 : (int) wait);
		pthread_mutex_lock(&r->mtx);
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			uint64_t v;

			if (read(r->wake_fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				FEDRPC_LOG_WARN("discovery: wakeup read: %s",
				    strerror(errno));
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			clock_gettime(CLOCK_REALTIME, &rt);
			dns_ioevent(r->dns, rt.tv_sec);
		}
	}
	cancel_all(r);
	run_done(r);
	pthread_mutex_unlock(&r->mtx);
	return NULL;
}

/* ---- public API ---- */

static fedrpc_code
set_statics(
    fedrpc_resolver *r, const fedrpc_resolver_opts *o, fedrpc_status *st)
{
	if (o->n_statics == 0)
		return FEDRPC_OK;
	if (o->statics == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "n_statics is %zu but statics is NULL", o->n_statics);
	if ((r->statics = calloc(o->n_statics, sizeof(*r->statics))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	for (size_t i = 0; i < o->n_statics; i++) {
		const fedrpc_static_route *in = &o->statics[i];
		struct static_route       *sr = &r->statics[r->n_statics];
		char                       host[DNS_NAME_MAX], why[96];

		if (!dns_domain_check(in->domain, sr->domain, why, sizeof(why)))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "static route %zu: '%.64s' is not a valid domain name: %s",
			    i, in->domain != NULL ? in->domain : "(null)", why);
		if (in->port == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "static route for %s: port 0", sr->domain);
		if (in->host != NULL && dns_name_is_ip(in->host)) {
			sr->literal = true;
			sr->host    = strdup(in->host);
		} else if (dns_name_normalize(in->host, host)) {
			sr->literal = strcmp(host, "localhost") == 0;
			sr->host    = strdup(host);
		} else {
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "static route for %s: invalid host \"%.100s\"",
			    sr->domain, in->host != NULL ? in->host : "(null)");
		}
		if (sr->host == NULL)
			return fedrpc_status_set(
			    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		sr->port = in->port;
		/* The first route for a domain wins. static_find() only
		 * sees the routes kept so far, not this one. */
		if (static_find(r, sr->domain) != NULL) {
			free(sr->host);
			memset(sr, 0, sizeof(*sr));
		} else {
			r->n_statics++;
		}
	}
	return FEDRPC_OK;
}

static void
resolver_destroy(fedrpc_resolver *r)
{
	struct flight *f;

	/* dns_free() drops udns's queries without calling back, so the
	 * flights they point into can go after it. */
	if (r->dns != NULL)
		dns_free(r->dns);
	while ((f = r->flights) != NULL) {
		r->flights = f->next;
		discovery_flight_free(f);
	}
	while ((f = r->abandoned) != NULL) {
		r->abandoned = f->next;
		discovery_flight_free(f);
	}
	discovery_cache_free(r->cache);
	for (size_t i = 0; i < r->n_statics; i++)
		free(r->statics[i].host);
	free(r->statics);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	pthread_cond_destroy(&r->cb_done);
	pthread_mutex_destroy(&r->mtx);
	free(r);
}

fedrpc_code
fedrpc_resolver_new(
    fedrpc_resolver **out, const fedrpc_resolver_opts *opts, fedrpc_status *st)
{
	static const fedrpc_resolver_opts defaults = {0};
	const fedrpc_resolver_opts       *o        = opts ? opts : &defaults;
	fedrpc_resolver                  *r;
	fedrpc_code                       rc;
	uint32_t                          secs;
	int                               tries = 1;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	pthread_mutex_init(&r->mtx, NULL);
	pthread_cond_init(&r->cb_done, NULL);
	r->wake_fd       = -1;
	r->incoming_tail = &r->incoming;
	r->done_tail     = &r->done;
	r->timeout_ms =
	    o->timeout_ms ? o->timeout_ms : FEDRPC_DISCOVERY_TIMEOUT_MS;
	r->negative_ttl_s = o->negative_ttl_s ? o->negative_ttl_s :
	                                        FEDRPC_DISCOVERY_NEGATIVE_TTL_S;
	if (r->negative_ttl_s > FEDRPC_DISCOVERY_NEGATIVE_TTL_MAX_S)
		r->negative_ttl_s = FEDRPC_DISCOVERY_NEGATIVE_TTL_MAX_S;

	if (!dns_name_normalize(
	        o->service ? o->service : FEDRPC_DISCOVERY_SERVICE,
	        r->service) ||
	    strlen(r->service) > 64) {
		rc = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "invalid SRV service label \"%.100s\" (like _fedrpc._tcp)",
		    o->service);
		goto fail;
	}
	if ((rc = set_statics(r, o, st)) != FEDRPC_OK)
		goto fail;
	if ((r->cache = discovery_cache_new(CACHE_MAX_ENTRIES)) == NULL ||
	    (r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery: %s", strerror(errno));
		goto fail;
	}

	pthread_once(&udns_once, udns_init_once);
	if ((r->dns = dns_new(NULL)) == NULL) {
		rc = fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	if (o->nameserver == NULL || o->nameserver[0] == '\0') {
		dns_init(r->dns, 0);
		snprintf(r->nameserver, sizeof(r->nameserver),
		    "from /etc/resolv.conf");
	} else if ((rc = set_nameservers(r, o->nameserver, st)) != FEDRPC_OK) {
		goto fail;
	}
	/*
	 * Our own deadline ends a lookup; udns only retransmits (after 1 s,
	 * then 2 s, 4 s, ...). Give it enough tries to outlast that deadline
	 * so a missing reply reads "timeout" rather than a udns give-up.
	 */
	secs = (r->timeout_ms + 999) / 1000;
	while (((1u << tries) - 2) < secs + 1 && tries < 12)
		tries++;
	dns_set_opt(r->dns, DNS_OPT_TIMEOUT, 1);
	dns_set_opt(r->dns, DNS_OPT_NTRIES, tries);
	dns_set_dbgfn(r->dns, discovery_udns_hook);
	if (dns_open(r->dns) < 0) {
		rc = fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "discovery: cannot open the DNS socket: %s",
		    strerror(errno));
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, resolver_main, r) != 0) {
		rc = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery: cannot start the resolver thread");
		goto fail;
	}
	r->thread_started = true;
	*out              = r;
	return FEDRPC_OK;
fail:
	resolver_destroy(r);
	return rc;
}

void
fedrpc_resolver_free(fedrpc_resolver *r)
{
	if (r == NULL)
		return;
	if (r->thread_started && pthread_equal(pthread_self(), r->thread)) {
		/* Joining ourselves would hang; freeing under our own feet
		 * would crash. Leaking is the least bad. */
		FEDRPC_LOG_ERROR("fedrpc_resolver_free called from a resolver "
		                 "callback; resolver leaked");
		return;
	}
	pthread_mutex_lock(&r->mtx);
	r->closing = true;
	pthread_mutex_unlock(&r->mtx);
	wake(r);
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	resolver_destroy(r);
}

static fedrpc_code
lookup_async(fedrpc_resolver *r, const char *domain, uint32_t timeout_ms,
    fedrpc_resolver_cb cb, void *arg, bool count)
{
	struct waiter *w;

	if (r == NULL || cb == NULL)
		return FEDRPC_INVALID_ARGUMENT;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->domain = domain != NULL ? strndup(domain, 255) : strdup("")) ==
	        NULL) {
		free(w);
		return FEDRPC_RESOURCE_EXHAUSTED;
	}
	w->cb         = cb;
	w->arg        = arg;
	w->timeout_ms = timeout_ms;
	w->deadline   = timeout_ms > 0 ? discovery_now_ms() + timeout_ms : 0;
	pthread_mutex_lock(&r->mtx);
	if (r->closing) {
		pthread_mutex_unlock(&r->mtx);
		waiter_free(w);
		return FEDRPC_CANCELLED;
	}
	if (count)
		r->stats.lookups++;
	discovery_list_append(&r->incoming_tail, w);
	pthread_mutex_unlock(&r->mtx);
	wake(r);
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_resolver_lookup_async(fedrpc_resolver *r, const char *domain,
    uint32_t timeout_ms, fedrpc_resolver_cb cb, void *arg)
{
	return lookup_async(r, domain, timeout_ms, cb, arg, true);
}

/* A blocking lookup waits for its async callback here. */
struct sync_wait {
	pthread_mutex_t    mtx;
	pthread_cond_t     cv;
	bool               done;
	fedrpc_status      st;
	fedrpc_srv_answer *answer;
};

static void
sync_done(void *arg, const fedrpc_status *st, fedrpc_srv_answer *answer)
{
	struct sync_wait *s = arg;

	pthread_mutex_lock(&s->mtx);
	s->st.code = st->code;
	memcpy(s->st.message, st->message, sizeof(s->st.message));
	s->answer = answer;
	s->done   = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

fedrpc_code
fedrpc_resolver_lookup(fedrpc_resolver *r, const char *domain,
    uint32_t timeout_ms, fedrpc_srv_answer **out, fedrpc_status *st)
{
	char               norm[DNS_NAME_MAX];
	struct sync_wait   s = {.done = false};
	struct timespec    until;
	pthread_condattr_t ca;
	int64_t            bound;
	bool               done;
	fedrpc_code        rc;
	fedrpc_status      tmp = {.code = FEDRPC_OK};

	*out = NULL;
	if (r == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "no resolver");
	if (r->thread_started && pthread_equal(pthread_self(), r->thread))
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "fedrpc_resolver_lookup called from a resolver callback");

	/* Static routes and the cache answer without a thread hop. */
	pthread_mutex_lock(&r->mtx);
	r->stats.lookups++;
	if (!domain_check(r, domain, norm, st)) {
		pthread_mutex_unlock(&r->mtx);
		return st != NULL ? st->code : FEDRPC_INVALID_ARGUMENT;
	}
	if (answer_now(r, norm, discovery_now_ms(), out, &tmp)) {
		pthread_mutex_unlock(&r->mtx);
		if (*out != NULL)
			return fedrpc_status_set(st, FEDRPC_OK, "%s", "");
		return fedrpc_status_set(st, tmp.code, "%s", tmp.message);
	}
	pthread_mutex_unlock(&r->mtx);

	pthread_mutex_init(&s.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s.cv, &ca);
	pthread_condattr_destroy(&ca);

	if ((rc = lookup_async(r, norm, timeout_ms, sync_done, &s, false)) !=
	    FEDRPC_OK) {
		fedrpc_status_set(st, rc, "discovery of %s: %s", norm,
		    rc == FEDRPC_CANCELLED ? "resolver closed" :
		                             "out of memory");
		goto out;
	}
	/* The resolver ends every lookup by its deadline; waiting longer
	 * than that plus some slack would mean a bug, not slow DNS. */
	bound = r->timeout_ms;
	if (timeout_ms > 0 && timeout_ms < bound)
		bound = timeout_ms;
	bound += WAIT_SLACK_MS;
	fedrpc_clock_deadline(&until, (uint32_t) bound);
	pthread_mutex_lock(&s.mtx);
	while (!s.done &&
	    pthread_cond_timedwait(&s.cv, &s.mtx, &until) != ETIMEDOUT)
		;
	done = s.done;
	pthread_mutex_unlock(&s.mtx);
	if (!done) {
		/* After cancel() the callback has run or never will. */
		fedrpc_resolver_cancel(r, sync_done, &s);
		pthread_mutex_lock(&s.mtx);
		done = s.done;
		pthread_mutex_unlock(&s.mtx);
	}
	if (!done) {
		rc = fedrpc_status_set(st, FEDRPC_DEADLINE_EXCEEDED,
		    "discovery of %s: no result within %lld ms", norm,
		    (long long) bound);
		goto out;
	}
	*out = s.answer;
	rc   = fedrpc_status_set(st, s.st.code, "%s", s.st.message);
out:
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mtx);
	return rc;
}

/* Removes the waiters of (cb, arg) from a list; returns how many. */
static size_t
remove_matching(struct waiter **head, struct waiter ***tail,
    fedrpc_resolver_cb cb, void *arg)
{
	struct waiter **pp = head;
	size_t          n  = 0;

	while (*pp != NULL) {
		struct waiter *w = *pp;

		if (w->cb == cb && w->arg == arg) {
			*pp = w->next;
			waiter_free(w);
			n++;
		} else {
			pp = &w->next;
		}
	}
	if (tail != NULL)
		*tail = pp;
	return n;
}

size_t
fedrpc_resolver_cancel(fedrpc_resolver *r, fedrpc_resolver_cb cb, void *arg)
{
	size_t n;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->mtx);
	n = remove_matching(&r->incoming, &r->incoming_tail, cb, arg);
	n += remove_matching(&r->done, &r->done_tail, cb, arg);
	for (struct flight *f = r->flights; f != NULL; f = f->next)
		n += remove_matching(&f->waiters, NULL, cb, arg);
	if (!pthread_equal(pthread_self(), r->thread))
		while (r->in_cb && r->running_cb == cb && r->running_arg == arg)
			pthread_cond_wait(&r->cb_done, &r->mtx);
	pthread_mutex_unlock(&r->mtx);
	return n;
}

void
fedrpc_resolver_flush(fedrpc_resolver *r)
{
	pthread_mutex_lock(&r->mtx);
	discovery_cache_clear(r->cache);
	pthread_mutex_unlock(&r->mtx);
}

void
fedrpc_resolver_forget(fedrpc_resolver *r, const char *domain)
{
	char norm[DNS_NAME_MAX];

	if (!dns_domain_check(domain, norm, NULL, 0))
		return;
	pthread_mutex_lock(&r->mtx);
	discovery_cache_remove(r->cache, norm);
	pthread_mutex_unlock(&r->mtx);
}

void
fedrpc_resolver_stats_get(fedrpc_resolver *r, fedrpc_resolver_stats *out)
{
	pthread_mutex_lock(&r->mtx);
	*out               = r->stats;
	out->cache_entries = discovery_cache_count(r->cache);
	pthread_mutex_unlock(&r->mtx);
}

const char *
fedrpc_resolver_nameserver(const fedrpc_resolver *r)
{
	return r->nameserver;
}
