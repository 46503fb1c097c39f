/*
 * The resolver: one thread per resolver drives one udns context from a
 * poll() loop, so any number of lookups costs one thread and one socket.
 *
 * Callers queue lookups ("waiters"). The thread answers each from a static
 * route or the cache, or attaches it to a "flight": the DNS work for one
 * domain (the SRV query, then A and AAAA for every target, all in parallel)
 * that every concurrent caller for that domain shares. A flight is bounded
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
#include <stdarg.h>
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

#include "client/discovery_cache.h"
#include "client/dns_name.h"

#define CACHE_MAX_ENTRIES 4096
#define MAX_TARGETS 32 /* SRV records used per domain */
#define MAX_ADDRS_PER_FAMILY 16
#define WAIT_SLACK_MS 2000 /* blocking lookup: grace beyond the bound */
#define QNAME_MAX (2 * DNS_NAME_MAX)

enum dq_kind {
	DQ_SRV,    /* <service>.<domain> SRV */
	DQ_EXISTS, /* <domain> A, only to tell "no such domain" apart */
	DQ_A,      /* a target's A */
	DQ_AAAA,   /* a target's AAAA */
};

enum flight_step {
	STEP_SRV,    /* waiting for the SRV answer */
	STEP_EXISTS, /* SRV was NXDOMAIN; does the domain exist at all? */
	STEP_ADDRS,  /* waiting for the targets' addresses */
};

struct flight;

/* One udns query; lives inside its flight, which outlives it. */
struct dq {
	struct flight    *f; /* owner */
	struct dns_query *q; /* in udns while running, else NULL */
	enum dq_kind      kind;
	size_t            host;   /* DQ_A, DQ_AAAA: index in f->hosts */
	bool              done;   /* udns finished it (or it never started) */
	int               status; /* 0: data; else DNS_E_* */
	int               rcode;  /* rcode of the last reply seen; -1: none */
};

/* A distinct target name and what its A/AAAA queries found. */
struct host {
	char     *name;                     /* owned; lower case */
	char     *v4[MAX_ADDRS_PER_FAMILY]; /* owned strings */
	size_t    n4;
	char     *v6[MAX_ADDRS_PER_FAMILY];
	size_t    n6;
	uint32_t  ttl; /* min TTL of its address answers */
	struct dq a, aaaa;
};

/* One SRV record we will use. */
struct target {
	size_t   host; /* index in f->hosts */
	uint16_t port, priority, weight;
};

struct static_route {
	char     domain[DNS_NAME_MAX]; /* normalised */
	char    *host;                 /* owned; address, "localhost" or name */
	uint16_t port;
	bool     literal; /* no DNS needed */
};

/* The DNS work for one domain, shared by every waiter for it. */
struct flight {
	struct flight             *next; /* in r->flights or r->abandoned */
	fedrpc_resolver           *r;
	char                       domain[DNS_NAME_MAX];
	char                       qname[QNAME_MAX]; /* the SRV name */
	const struct static_route *route; /* a static route to a name */
	int64_t deadline;                 /* started + the resolver's timeout */
	int     outstanding;              /* queries udns still holds */
	bool    finished;                 /* result delivered; parked if queries
	                                     are still outstanding */
	enum flight_step step;
	struct dq        srv, exists;
	uint32_t         srv_ttl;
	struct target   *targets; /* owned */
	size_t           n_targets;
	struct host     *hosts; /* owned */
	size_t           n_hosts;
	struct waiter   *waiters; /* owned until the flight ends */
};

/* One caller's lookup. */
struct waiter {
	struct waiter     *next;
	fedrpc_resolver_cb cb;
	void              *arg;
	char              *domain;     /* as the caller wrote it; owned */
	uint32_t           timeout_ms; /* the caller's; 0: none */
	int64_t            deadline;   /* monotonic ms; 0: none */
	fedrpc_status      st;         /* the result */
	fedrpc_srv_answer *answer;     /* the result; handed to cb */
};

struct fedrpc_resolver {
	pthread_mutex_t      mtx; /* everything below, and the udns context */
	pthread_cond_t       cb_done; /* a callback returned */
	pthread_t            thread;
	bool                 thread_started;
	int                  wake_fd;         /* eventfd: new work or closing */
	struct dns_ctx      *dns;             /* owned; resolver thread only */
	char                 nameserver[128]; /* for messages */
	char                 service[DNS_NAME_MAX]; /* "_fedrpc._tcp" */
	uint32_t             timeout_ms;
	uint32_t             negative_ttl_s;
	struct static_route *statics; /* owned */
	size_t               n_statics;
	discovery_cache     *cache;    /* owned */
	struct waiter       *incoming; /* queued by callers, FIFO */
	struct waiter      **incoming_tail;
	struct waiter       *done; /* results to deliver, FIFO */
	struct waiter      **done_tail;
	struct flight       *flights;   /* in progress */
	struct flight       *abandoned; /* finished, udns still holds queries */
	bool                 closing;
	bool                 in_cb;       /* a callback is running ... */
	fedrpc_resolver_cb   running_cb;  /* ... this one ... */
	void                *running_arg; /* ... with this argument */
	fedrpc_resolver_stats stats;
};

static pthread_once_t udns_once = PTHREAD_ONCE_INIT;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
list_append(struct waiter ***tail, struct waiter *w)
{
	w->next = NULL;
	**tail  = w;
	*tail   = &w->next;
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

/* udns reports sends and replies here: count packets, keep the rcode. */
static void
udns_debug_hook(int code, const struct sockaddr *sa, unsigned salen,
    dnscc_t *pkt, int plen, const struct dns_query *q, void *data)
{
	struct dq *d = data;

	(void) sa;
	(void) salen;
	if (q == NULL || d == NULL)
		return;
	if (code == 1)
		d->f->r->stats.dns_queries++;
	else if (code == 0 && plen >= DNS_HSIZE)
		d->rcode = dns_rcode(pkt);
}

/* ---- answers ---- */

static fedrpc_srv_answer *
answer_new(const char *domain, const char *qname, size_t n)
{
	fedrpc_srv_answer *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->domain  = strdup(domain);
	a->qname   = strdup(qname);
	a->targets = calloc(n, sizeof(*a->targets));
	if (a->domain == NULL || a->qname == NULL || a->targets == NULL) {
		fedrpc_srv_answer_free(a);
		return NULL;
	}
	a->n_targets = n;
	return a;
}

static bool
target_add_addr(fedrpc_srv_target *t, const char *addr)
{
	char **v = realloc(t->addrs, (t->n_addrs + 1) * sizeof(char *));

	if (v == NULL)
		return false;
	t->addrs = v;
	if ((v[t->n_addrs] = strdup(addr)) == NULL)
		return false;
	t->n_addrs++;
	return true;
}

/* The answer of a static route to an address (or "localhost"). */
static fedrpc_srv_answer *
static_answer(const struct static_route *sr)
{
	fedrpc_srv_answer *a = answer_new(sr->domain, "", 1);
	fedrpc_srv_target *t;
	bool               ok;

	if (a == NULL)
		return NULL;
	a->is_static = true;
	t            = &a->targets[0];
	t->port      = sr->port;
	t->host      = strdup(sr->host);
	ok           = t->host != NULL;
	if (ok && strcmp(sr->host, "localhost") == 0)
		ok = target_add_addr(t, "127.0.0.1") &&
		    target_add_addr(t, "::1");
	else if (ok)
		ok = target_add_addr(t, sr->host);
	if (!ok) {
		fedrpc_srv_answer_free(a);
		return NULL;
	}
	return a;
}

/* ---- flights ---- */

static void
flight_free(struct flight *f)
{
	for (size_t i = 0; i < f->n_hosts; i++) {
		struct host *h = &f->hosts[i];

		free(h->name);
		for (size_t j = 0; j < h->n4; j++)
			free(h->v4[j]);
		for (size_t j = 0; j < h->n6; j++)
			free(h->v6[j]);
	}
	free(f->hosts);
	free(f->targets);
	free(f);
}

static void
flight_unlink(struct flight **list, struct flight *f)
{
	for (struct flight **pp = list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

static bool dq_submit(struct flight *f, struct dq *d, enum dq_kind kind,
    size_t host, const char *name, int type, dns_parse_fn *parse);

static void query_done(struct dns_ctx *ctx, void *result, void *data);

/*
 * Ends a flight: caches the result, hands a copy to every waiter, and frees
 * the flight unless udns still holds some of its queries. Takes `answer`.
 */
static void
flight_finish(struct flight *f, const fedrpc_status *st,
    fedrpc_srv_answer *answer, discovery_cache_kind kind, int64_t ttl_ms)
{
	fedrpc_resolver *r   = f->r;
	int64_t          now = now_ms();
	struct waiter   *w;

	if (kind == DISCOVERY_CACHE_POSITIVE)
		discovery_cache_put_answer(
		    r->cache, f->domain, answer, ttl_ms, now);
	else if (kind != DISCOVERY_CACHE_MISS)
		discovery_cache_put_error(
		    r->cache, f->domain, kind, st, ttl_ms, now);
	if (st->code == FEDRPC_UNAVAILABLE)
		r->stats.failures++;
	FEDRPC_LOG_DEBUG("discovery: %s: %s%s%s", f->domain,
	    fedrpc_code_name(st->code), st->message[0] ? ": " : "",
	    st->message);

	flight_unlink(&r->flights, f);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		w->st.code = st->code;
		memcpy(w->st.message, st->message, sizeof(w->st.message));
		if (answer != NULL && f->waiters == NULL) {
			w->answer = answer; /* the last one takes it */
			answer    = NULL;
		} else if (answer != NULL) {
			w->answer = fedrpc_srv_answer_dup(answer);
			if (w->answer == NULL)
				fedrpc_status_set(&w->st,
				    FEDRPC_RESOURCE_EXHAUSTED,
				    "discovery of %s: out of memory", f->domain);
		}
		list_append(&r->done_tail, w);
	}
	fedrpc_srv_answer_free(answer);
	f->finished = true;
	if (f->outstanding > 0) {
		f->next      = r->abandoned;
		r->abandoned = f;
	} else {
		flight_free(f);
	}
}

static void finish_error(struct flight *f, discovery_cache_kind kind,
    fedrpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
finish_error(struct flight *f, discovery_cache_kind kind, fedrpc_code code,
    const char *fmt, ...)
{
	fedrpc_status st = {.code = code};
	int64_t       ttl;
	va_list       ap;

	va_start(ap, fmt);
	vsnprintf(st.message, sizeof(st.message), fmt, ap);
	va_end(ap);
	ttl = kind == DISCOVERY_CACHE_NEGATIVE ?
	    (int64_t) f->r->negative_ttl_s * 1000 :
	    FEDRPC_DISCOVERY_FAILURE_HOLD_MS;
	flight_finish(f, &st, NULL, kind, ttl);
}

/* Why a query failed, for "DNS lookup of X failed: <why>". */
static void
dq_failure_text(const struct dq *d, bool timed_out, char *buf, size_t len)
{
	const fedrpc_resolver *r = d->f->r;

	if (d->rcode > 0)
		snprintf(buf, len, "DNS server error (%s from nameserver %s)",
		    dns_rcodename((enum dns_rcode) d->rcode), r->nameserver);
	else if (timed_out || !d->done)
		snprintf(buf, len, "timeout after %u ms (nameserver %s)",
		    r->timeout_ms, r->nameserver);
	else if (d->status == DNS_E_PROTOCOL)
		snprintf(
		    buf, len, "garbled reply (nameserver %s)", r->nameserver);
	else if (d->status == DNS_E_NOMEM)
		snprintf(buf, len, "out of memory");
	else if (d->status == DNS_E_BADQUERY)
		snprintf(buf, len, "bad query name");
	else if (d->rcode == 0)
		snprintf(buf, len,
		    "unusable (truncated?) reply (nameserver %s)",
		    r->nameserver);
	else
		snprintf(buf, len, "no reply (nameserver %s)", r->nameserver);
}

static bool
status_is_answer(int status)
{
	return status == 0 || status == DNS_E_NXDOMAIN ||
	    status == DNS_E_NODATA;
}

static const char *
status_name(int status)
{
	switch (status) {
	case DNS_E_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_E_NODATA:
		return "no A/AAAA records";
	default:
		return "failed";
	}
}

/*
 * All address queries are over (or the flight timed out): build the answer
 * from the targets that have addresses, or say why there is none.
 */
static void
finish_addrs(struct flight *f, bool timed_out)
{
	fedrpc_resolver   *r       = f->r;
	const char        *qname   = f->route != NULL ? "" : f->qname;
	uint32_t           ttl     = f->srv_ttl;
	bool               partial = false;
	size_t             usable  = 0;
	struct host       *failed  = NULL; /* a host DNS could not answer */
	struct host       *empty   = NULL; /* a host with no addresses */
	fedrpc_srv_answer *a;
	fedrpc_status      st = {.code = FEDRPC_OK};

	for (size_t i = 0; i < f->n_hosts; i++) {
		struct host *h  = &f->hosts[i];
		bool         ok = status_is_answer(h->a.status) && h->a.done &&
		    status_is_answer(h->aaaa.status) && h->aaaa.done;

		if (!ok) {
			partial = true;
			if (h->n4 + h->n6 == 0 && failed == NULL)
				failed = h;
		}
		if (h->n4 + h->n6 > 0) {
			if (h->ttl < ttl)
				ttl = h->ttl;
		} else if (empty == NULL) {
			empty = h;
		}
	}
	if ((a = answer_new(f->domain, qname, f->n_targets)) == NULL) {
		finish_error(f, DISCOVERY_CACHE_MISS, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery of %s: out of memory", f->domain);
		return;
	}
	a->is_static = f->route != NULL;
	for (size_t i = 0; i < f->n_targets; i++) {
		const struct target *tg = &f->targets[i];
		const struct host   *h  = &f->hosts[tg->host];
		fedrpc_srv_target   *t  = &a->targets[i];
		bool                 ok = (t->host = strdup(h->name)) != NULL;

		t->port     = tg->port;
		t->priority = tg->priority;
		t->weight   = tg->weight;
		t->ttl = h->n4 + h->n6 > 0 && h->ttl < f->srv_ttl ? h->ttl :
		                                                    f->srv_ttl;
		for (size_t j = 0; ok && j < h->n4; j++)
			ok = target_add_addr(t, h->v4[j]);
		for (size_t j = 0; ok && j < h->n6; j++)
			ok = target_add_addr(t, h->v6[j]);
		if (!ok) {
			fedrpc_srv_answer_free(a);
			finish_error(f, DISCOVERY_CACHE_MISS,
			    FEDRPC_RESOURCE_EXHAUSTED,
			    "discovery of %s: out of memory", f->domain);
			return;
		}
		if (t->n_addrs > 0)
			usable++;
	}

	if (usable > 0) {
		/* Some target could not be resolved right now: use the
		 * others, but ask again soon rather than for the full TTL. */
		if (partial && ttl > r->negative_ttl_s)
			ttl = r->negative_ttl_s;
		a->ttl = ttl;
		flight_finish(
		    f, &st, a, DISCOVERY_CACHE_POSITIVE, (int64_t) ttl * 1000);
		return;
	}
	fedrpc_srv_answer_free(a);

	if (failed != NULL) {
		const struct dq *d =
		    !status_is_answer(failed->a.status) || !failed->a.done ?
		    &failed->a :
		    &failed->aaaa;
		char why[FEDRPC_STATUS_MESSAGE_MAX];

		dq_failure_text(d, timed_out, why, sizeof(why));
		if (f->route != NULL)
			finish_error(f, DISCOVERY_CACHE_FAILURE,
			    FEDRPC_UNAVAILABLE,
			    "DNS lookup of A/AAAA %s (static route for %s) "
			    "failed: %s",
			    failed->name, f->domain, why);
		else
			finish_error(f, DISCOVERY_CACHE_FAILURE,
			    FEDRPC_UNAVAILABLE,
			    "DNS lookup of A/AAAA %s (SRV target of "
			    "%s) failed: %s",
			    failed->name, f->domain, why);
		return;
	}
	if (f->route != NULL)
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "static route for %s: host %s has no address (%s)",
		    f->domain, empty->name,
		    status_name(empty->a.status != 0 ? empty->a.status :
		                                       empty->aaaa.status));
	else
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "%s: no target of %s has an address (%s: %s)", f->domain,
		    f->qname, empty->name,
		    status_name(empty->a.status != 0 ? empty->a.status :
		                                       empty->aaaa.status));
}

/* Adds a target name to f->hosts (once) and returns its index. */
static bool
host_add(struct flight *f, const char *name, size_t *index)
{
	struct host *h;

	for (size_t i = 0; i < f->n_hosts; i++) {
		if (strcmp(f->hosts[i].name, name) == 0) {
			*index = i;
			return true;
		}
	}
	h = &f->hosts[f->n_hosts];
	memset(h, 0, sizeof(*h));
	if ((h->name = strdup(name)) == NULL)
		return false;
	h->ttl    = UINT32_MAX;
	h->a.done = h->aaaa.done = true;
	*index                   = f->n_hosts++;
	return true;
}

/* Starts A and AAAA for every host (addresses need no query). */
static void
start_addrs(struct flight *f)
{
	f->step = STEP_ADDRS;
	for (size_t i = 0; i < f->n_hosts; i++) {
		struct host  *h = &f->hosts[i];
		char          text[INET6_ADDRSTRLEN];
		unsigned char bin[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, h->name, bin) == 1 &&
		    inet_ntop(AF_INET, bin, text, sizeof(text)) != NULL) {
			h->v4[h->n4++] = strdup(text);
		} else if (inet_pton(AF_INET6, h->name, bin) == 1 &&
		    inet_ntop(AF_INET6, bin, text, sizeof(text)) != NULL) {
			h->v6[h->n6++] = strdup(text);
		} else if (strcmp(h->name, "localhost") == 0) {
			h->v4[h->n4++] = strdup("127.0.0.1");
			h->v6[h->n6++] = strdup("::1");
		} else {
			dq_submit(
			    f, &h->a, DQ_A, i, h->name, DNS_T_A, dns_parse_a4);
			dq_submit(f, &h->aaaa, DQ_AAAA, i, h->name, DNS_T_AAAA,
			    dns_parse_a6);
		}
		/* An address string we failed to copy counts as absent. */
		if (h->n4 > 0 && h->v4[h->n4 - 1] == NULL)
			h->n4--;
		if (h->n6 > 0 && h->v6[h->n6 - 1] == NULL)
			h->n6--;
	}
	if (f->outstanding == 0)
		finish_addrs(f, false);
}

static void
on_srv(struct flight *f, struct dns_rr_srv *rr)
{
	fedrpc_resolver *r = f->r;
	size_t           n = 0;

	if (rr == NULL) {
		char why[FEDRPC_STATUS_MESSAGE_MAX];

		switch (f->srv.status) {
		case DNS_E_NXDOMAIN:
			/* The SRV name does not exist. Ask whether the domain
			 * itself does, to say which of the two it is. */
			f->step = STEP_EXISTS;
			if (!dq_submit(f, &f->exists, DQ_EXISTS, 0, f->domain,
			        DNS_T_A, NULL))
				finish_error(f, DISCOVERY_CACHE_NEGATIVE,
				    FEDRPC_NOT_FOUND,
				    "%s publishes no %s SRV record (NXDOMAIN "
				    "for %s)",
				    f->domain, r->service, f->qname);
			return;
		case DNS_E_NODATA:
			finish_error(f, DISCOVERY_CACHE_NEGATIVE,
			    FEDRPC_NOT_FOUND,
			    "%s publishes no %s SRV record (no SRV data at %s)",
			    f->domain, r->service, f->qname);
			return;
		default:
			dq_failure_text(&f->srv, false, why, sizeof(why));
			finish_error(f, DISCOVERY_CACHE_FAILURE,
			    FEDRPC_UNAVAILABLE, "DNS lookup of %s failed: %s",
			    f->qname, why);
			return;
		}
	}

	f->srv_ttl = rr->dnssrv_ttl;
	n          = rr->dnssrv_nrr < MAX_TARGETS ? (size_t) rr->dnssrv_nrr :
	                                            MAX_TARGETS;
	f->targets = calloc(n > 0 ? n : 1, sizeof(*f->targets));
	f->hosts   = calloc(n > 0 ? n : 1, sizeof(*f->hosts));
	if (f->targets == NULL || f->hosts == NULL) {
		finish_error(f, DISCOVERY_CACHE_MISS, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery of %s: out of memory", f->domain);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dns_srv *s = &rr->dnssrv_srv[i];
		char                  name[DNS_NAME_MAX];
		struct target        *t = &f->targets[f->n_targets];

		/* "." (or nothing): the service is not available here. */
		if (s->name == NULL || s->name[0] == '\0' ||
		    strcmp(s->name, ".") == 0)
			continue;
		if (!dns_name_normalize(s->name, name)) {
			FEDRPC_LOG_WARN("discovery: %s: ignoring SRV target "
			                "\"%.100s\" (not a host name)",
			    f->qname, s->name);
			continue;
		}
		if (!host_add(f, name, &t->host)) {
			finish_error(f, DISCOVERY_CACHE_MISS,
			    FEDRPC_RESOURCE_EXHAUSTED,
			    "discovery of %s: out of memory", f->domain);
			return;
		}
		t->port     = (uint16_t) s->port;
		t->priority = (uint16_t) s->priority;
		t->weight   = (uint16_t) s->weight;
		f->n_targets++;
	}
	if (f->n_targets == 0) {
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "%s declares %s not available (SRV target \".\" at %s)",
		    f->domain, r->service, f->qname);
		return;
	}
	start_addrs(f);
}

static void
on_exists(struct flight *f)
{
	if (f->exists.status == DNS_E_NXDOMAIN)
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "no such domain: %s (NXDOMAIN for %s)", f->domain,
		    f->qname);
	else
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "%s publishes no %s SRV record (NXDOMAIN for %s)",
		    f->domain, f->r->service, f->qname);
}

static void
on_addr(struct flight *f, struct dq *d, void *result)
{
	struct host *h = &f->hosts[d->host];
	char         text[INET6_ADDRSTRLEN];

	if (d->kind == DQ_A && result != NULL) {
		struct dns_rr_a4 *rr = result;

		for (int i = 0;
		     i < rr->dnsa4_nrr && h->n4 < MAX_ADDRS_PER_FAMILY; i++) {
			inet_ntop(
			    AF_INET, &rr->dnsa4_addr[i], text, sizeof(text));
			if ((h->v4[h->n4] = strdup(text)) != NULL)
				h->n4++;
		}
		if (rr->dnsa4_nrr > 0 && rr->dnsa4_ttl < h->ttl)
			h->ttl = rr->dnsa4_ttl;
	} else if (d->kind == DQ_AAAA && result != NULL) {
		struct dns_rr_a6 *rr = result;

		for (int i = 0;
		     i < rr->dnsa6_nrr && h->n6 < MAX_ADDRS_PER_FAMILY; i++) {
			inet_ntop(
			    AF_INET6, &rr->dnsa6_addr[i], text, sizeof(text));
			if ((h->v6[h->n6] = strdup(text)) != NULL)
				h->n6++;
		}
		if (rr->dnsa6_nrr > 0 && rr->dnsa6_ttl < h->ttl)
			h->ttl = rr->dnsa6_ttl;
	}
	if (f->outstanding == 0)
		finish_addrs(f, false);
}

/* udns callback for every query of every flight. */
static void
query_done(struct dns_ctx *ctx, void *result, void *data)
{
	struct dq     *d = data;
	struct flight *f = d->f;

	d->q      = NULL;
	d->done   = true;
	d->status = result != NULL ? 0 : dns_status(ctx);
	f->outstanding--;
	if (f->finished) {
		/* A parked flight: nobody waits for this any more. */
		if (f->outstanding == 0) {
			flight_unlink(&f->r->abandoned, f);
			flight_free(f);
		}
	} else {
		switch (d->kind) {
		case DQ_SRV:
			on_srv(f, result);
			break;
		case DQ_EXISTS:
			on_exists(f);
			break;
		case DQ_A:
		case DQ_AAAA:
			on_addr(f, d, result);
			break;
		}
	}
	/* udns allocates each parsed result (or raw reply) as one block. */
	free(result);
}

static bool
dq_submit(struct flight *f, struct dq *d, enum dq_kind kind, size_t host,
    const char *name, int type, dns_parse_fn *parse)
{
	fedrpc_resolver *r = f->r;

	d->f      = f;
	d->kind   = kind;
	d->host   = host;
	d->rcode  = -1;
	d->status = 0;
	d->done   = false;
	d->q      = dns_submit_p(
	         r->dns, name, DNS_C_IN, type, DNS_NOSRCH, parse, query_done, d);
	if (d->q == NULL) {
		d->done   = true;
		d->status = dns_status(r->dns);
		if (d->status >= 0)
			d->status = DNS_E_BADQUERY;
		return false;
	}
	f->outstanding++;
	return true;
}

static struct flight *
flight_find(fedrpc_resolver *r, const char *domain)
{
	for (struct flight *f = r->flights; f != NULL; f = f->next)
		if (strcmp(f->domain, domain) == 0)
			return f;
	return NULL;
}

/* Starts the DNS work for a domain; w is its first waiter. */
static void
flight_start(fedrpc_resolver *r, const char *domain,
    const struct static_route *route, struct waiter *w, int64_t now)
{
	struct flight *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		fedrpc_status_set(&w->st, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery of %s: out of memory", domain);
		list_append(&r->done_tail, w);
		return;
	}
	f->r        = r;
	f->route    = route;
	f->deadline = now + r->timeout_ms;
	f->waiters  = w;
	w->next     = NULL;
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	snprintf(f->qname, sizeof(f->qname), "%s.%s", r->service, domain);
	f->next    = r->flights;
	r->flights = f;
	r->stats.dns_lookups++;

	if (route != NULL) {
		/* A static route to a name: only its addresses are needed. */
		f->srv_ttl = UINT32_MAX;
		f->targets = calloc(1, sizeof(*f->targets));
		f->hosts   = calloc(1, sizeof(*f->hosts));
		if (f->targets == NULL || f->hosts == NULL ||
		    !host_add(f, route->host, &f->targets[0].host)) {
			finish_error(f, DISCOVERY_CACHE_MISS,
			    FEDRPC_RESOURCE_EXHAUSTED,
			    "discovery of %s: out of memory", domain);
			return;
		}
		f->targets[0].port = route->port;
		f->n_targets       = 1;
		start_addrs(f);
		return;
	}
	f->step = STEP_SRV;
	if (!dq_submit(
	        f, &f->srv, DQ_SRV, 0, f->qname, DNS_T_SRV, dns_parse_srv))
		finish_error(f, DISCOVERY_CACHE_MISS, FEDRPC_INTERNAL,
		    "DNS lookup of %s failed: %s", f->qname,
		    dns_strerror(f->srv.status));
}

/* The resolver timeout ended a flight before DNS did. */
static void
flight_timeout(struct flight *f)
{
	char why[FEDRPC_STATUS_MESSAGE_MAX];

	switch (f->step) {
	case STEP_SRV:
		dq_failure_text(&f->srv, true, why, sizeof(why));
		finish_error(f, DISCOVERY_CACHE_FAILURE, FEDRPC_UNAVAILABLE,
		    "DNS lookup of %s failed: %s", f->qname, why);
		break;
	case STEP_EXISTS:
		/* That question was only for the message. */
		finish_error(f, DISCOVERY_CACHE_NEGATIVE, FEDRPC_NOT_FOUND,
		    "%s publishes no %s SRV record (NXDOMAIN for %s)",
		    f->domain, f->r->service, f->qname);
		break;
	case STEP_ADDRS:
		finish_addrs(f, true);
		break;
	}
}

static const char *
flight_step_text(const struct flight *f, char *buf, size_t len)
{
	switch (f->step) {
	case STEP_SRV:
		snprintf(buf, len, "SRV %s", f->qname);
		break;
	case STEP_EXISTS:
		snprintf(buf, len, "A %s", f->domain);
		break;
	case STEP_ADDRS:
		snprintf(buf, len, "A/AAAA of %s",
		    f->route != NULL ? f->route->host : "its SRV targets");
		break;
	}
	return buf;
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
		if ((*answer = static_answer(sr)) == NULL)
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
	if (!dns_name_normalize(in, domain)) {
		fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "invalid domain name \"%.100s\"",
		    in != NULL ? in : "(null)");
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
		list_append(&r->done_tail, w);
		return;
	}
	if ((f = flight_find(r, domain)) != NULL) {
		r->stats.coalesced++;
		w->next    = f->waiters;
		f->waiters = w;
		return;
	}
	if ((route = static_find(r, domain)) != NULL)
		r->stats.static_hits++;
	flight_start(r, domain, route, w, now);
}

/* Ends flights past the resolver timeout and waiters past their deadline. */
static void
expire(fedrpc_resolver *r, int64_t now)
{
	struct flight *f, *next;

	for (f = r->flights; f != NULL; f = next) {
		next = f->next;
		if (now >= f->deadline)
			flight_timeout(f);
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
			    flight_step_text(f, step, sizeof(step)));
			list_append(&r->done_tail, w);
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
		list_append(&r->done_tail, w);
	}
	r->incoming_tail = &r->incoming;
	for (struct flight *f = r->flights; f != NULL; f = f->next) {
		while ((w = f->waiters) != NULL) {
			f->waiters = w->next;
			fedrpc_status_set(&w->st, FEDRPC_CANCELLED,
			    "discovery of %s: resolver closed", f->domain);
			list_append(&r->done_tail, w);
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
		int64_t         now = now_ms(), wait, dl;
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
		expire(r, now_ms());
		run_done(r);
		if (r->incoming != NULL || r->closing)
			continue;

		now  = now_ms();
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
		char                       host[DNS_NAME_MAX];

		if (!dns_name_normalize(in->domain, sr->domain))
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "static route %zu: invalid domain \"%.100s\"", i,
			    in->domain != NULL ? in->domain : "(null)");
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
		flight_free(f);
	}
	while ((f = r->abandoned) != NULL) {
		r->abandoned = f->next;
		flight_free(f);
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
	dns_set_dbgfn(r->dns, udns_debug_hook);
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
	    (w->domain = strndup(domain != NULL ? domain : "", 300)) == NULL) {
		free(w);
		return FEDRPC_RESOURCE_EXHAUSTED;
	}
	w->cb         = cb;
	w->arg        = arg;
	w->timeout_ms = timeout_ms;
	w->deadline   = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	pthread_mutex_lock(&r->mtx);
	if (r->closing) {
		pthread_mutex_unlock(&r->mtx);
		waiter_free(w);
		return FEDRPC_CANCELLED;
	}
	if (count)
		r->stats.lookups++;
	list_append(&r->incoming_tail, w);
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
	if (answer_now(r, norm, now_ms(), out, &tmp)) {
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
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += bound / 1000;
	until.tv_nsec += (bound % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
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

	if (!dns_name_normalize(domain, norm))
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
