/*
 * The DNS work for one domain (a "flight"): the SRV query, then A and AAAA
 * for every target in parallel, through the resolver's udns context. When
 * the last answer is in (or the resolver timeout passes), the flight builds
 * the answer or the error, caches it, and hands it to every waiter.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <fedrpc/log.h>

#include "core/discovery/discovery_int.h"

/* udns reports sends and replies here: count packets, keep the rcode. */
void
discovery_udns_hook(int code, const struct sockaddr *sa, unsigned salen,
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
fedrpc_srv_answer *
discovery_static_answer(const struct static_route *sr)
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

void
discovery_flight_free(struct flight *f)
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
	int64_t          now = discovery_now_ms();
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
		discovery_list_append(&r->done_tail, w);
	}
	fedrpc_srv_answer_free(answer);
	f->finished = true;
	if (f->outstanding > 0) {
		f->next      = r->abandoned;
		r->abandoned = f;
	} else {
		discovery_flight_free(f);
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
			discovery_flight_free(f);
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

struct flight *
discovery_flight_find(fedrpc_resolver *r, const char *domain)
{
	for (struct flight *f = r->flights; f != NULL; f = f->next)
		if (strcmp(f->domain, domain) == 0)
			return f;
	return NULL;
}

/* Starts the DNS work for a domain; w is its first waiter. */
void
discovery_flight_start(fedrpc_resolver *r, const char *domain,
    const struct static_route *route, struct waiter *w, int64_t now)
{
	struct flight *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		fedrpc_status_set(&w->st, FEDRPC_RESOURCE_EXHAUSTED,
		    "discovery of %s: out of memory", domain);
		discovery_list_append(&r->done_tail, w);
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
void
discovery_flight_timeout(struct flight *f)
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

const char *
discovery_flight_step_text(const struct flight *f, char *buf, size_t len)
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
