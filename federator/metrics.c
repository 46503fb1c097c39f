/*
 * The daemon's figures (docs/operations.md, "Metrics"): the runtime's
 * reports (core/base/observe.h) become counters and histograms as they
 * come, and what the daemon already keeps (admission counters, the
 * resolver's and the domain pool's statistics, each outgoing domain's
 * state, the delivery queues) is read into gauges when a scrape asks.
 * Every call's report also goes to the access log (access_log.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <fedrpc/log.h>
#include <fedrpc/version.h>

#include "core/base/clock.h"
#include "core/base/metrics.h"
#include "core/base/observe.h"
#include "federator/federator.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"

/* Latency buckets, seconds (call durations are measured in ms). */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

struct federator_metrics {
	federator       *f;
	fedrpc_metrics  *reg;
	fedrpc_observer  obs;
	fedrpc_channel  *local; /* to our own local API (delivery queues) */
	pthread_mutex_t  local_mtx;
	pthread_mutex_t  scrape_mtx; /* one scrape at a time: series are
	                              * cleared and refilled */

	fedrpc_metric *calls_in, *calls_out, *latency, *tls_fail;
	fedrpc_metric *peer_conns, *peer_open;
	/* read at each scrape */
	fedrpc_metric *admitted, *refused, *conns, *egress_denied;
	fedrpc_metric *reloads, *reload_fail, *local_restarts;
	fedrpc_metric *lookups, *cache_hits, *dns_queries, *dns_fail;
	fedrpc_metric *attempts, *attempt_fail, *backoffs;
	fedrpc_metric *dom_up, *dom_backoff, *dom_failures;
	fedrpc_metric *q_pending, *q_oldest, *q_failures, *q_aside;
	fedrpc_metric *build, *up_since, *listener_ok;
	fedrpc_metric *w_failed, *w_closed, *w_open, *w_paused, *w_queued;
};

/* The method as a label: only methods the server has, so a peer cannot
 * make up series; "" (an undecodable request) and unknown ones are
 * "unknown". */
static const char *
method_label(const fedrpc_call_event *ev)
{
	return ev->known && ev->method[0] != '\0' ? ev->method : "unknown";
}

static void
on_call(void *arg, const fedrpc_call_event *ev)
{
	federator_metrics *m = arg;
	const char        *code = fedrpc_code_name(ev->code);
	const char        *method = method_label(ev);

	if (!ev->tls)
		return; /* the local API is not federation */
	if (ev->side == FEDRPC_OBSERVE_CLIENT) {
		/* Our own scrape of the local API has no target. */
		if (ev->target[0] == '\0')
			return;
		fedrpc_metric_inc(m->calls_out,
		    (const char *[]){ev->target, method, code}, 1);
		fedrpc_metric_observe(m->latency,
		    (const char *[]){"sent", method}, ev->duration_ms / 1000.0);
	} else {
		fedrpc_metric_inc(m->calls_in,
		    (const char *[]){ev->origin[0] ? ev->origin : "unknown",
		        method, code},
		    1);
		fedrpc_metric_observe(m->latency,
		    (const char *[]){"received", method},
		    ev->duration_ms / 1000.0);
	}
	federator_access_log(ev);
}

/* The reason's class: its words up to the first ':' (what follows names
 * hosts or certificates, which would make a series per peer). */
static void
on_tls_failure(void *arg, const fedrpc_tls_event *ev)
{
	federator_metrics *m = arg;
	char               reason[96];
	size_t             n;

	snprintf(reason, sizeof(reason), "%s", ev->reason);
	n = strcspn(reason, ":(");
	while (n > 0 && reason[n - 1] == ' ')
		n--;
	reason[n] = '\0';
	fedrpc_metric_inc(m->tls_fail,
	    (const char *[]){ev->server ? "server" : "client",
	        reason[0] ? reason : "other"},
	    1);
}

void
federator_metrics_peer_connection(federator *f, const char *peer)
{
	if (f->metrics != NULL)
		fedrpc_metric_inc(f->metrics->peer_conns,
		    (const char *[]){peer != NULL && peer[0] ? peer : "unknown"},
		    1);
}

#define ADD(kind, name, help, ...) \
	fedrpc_metrics_add(m->reg, kind, name, help, \
	    (const char *[]){__VA_ARGS__}, NULL, 0)
#define C FEDRPC_METRIC_COUNTER
#define G FEDRPC_METRIC_GAUGE

static void
families(federator_metrics *m)
{
	m->calls_in = ADD(C, "fedrpc_federation_calls_received_total",
	    "Federation calls answered, by calling domain, method and status",
	    "origin", "method", "code", NULL);
	m->calls_out = ADD(C, "fedrpc_federation_calls_sent_total",
	    "Federation calls made, by called domain, method and status",
	    "target", "method", "code", NULL);
	m->latency = fedrpc_metrics_add(m->reg, FEDRPC_METRIC_HISTOGRAM,
	    "fedrpc_federation_call_duration_seconds",
	    "Federation call durations (millisecond resolution), calls "
	    "received from arrival, calls sent from sending",
	    (const char *[]){"direction", "method", NULL}, latency_bounds,
	    sizeof(latency_bounds) / sizeof(latency_bounds[0]));
	m->tls_fail = ADD(C, "fedrpc_tls_handshake_failures_total",
	    "TLS handshakes that failed, by our side and reason", "side",
	    "reason", NULL);
	m->peer_conns = ADD(C, "fedrpc_federation_peer_connections_total",
	    "Federation connections accepted, by the peer certificate's "
	    "first name",
	    "peer", NULL);
	m->peer_open = ADD(G, "fedrpc_federation_peer_open_connections",
	    "Federation connections open now, by the peer certificate's "
	    "first name (the daemon's own self-checks left out)",
	    "peer", NULL);
	m->admitted = ADD(C, "fedrpc_federation_admitted_total",
	    "Federation calls that passed admission", NULL);
	m->refused = ADD(C, "fedrpc_federation_refused_total",
	    "Federation calls admission refused", NULL);
	m->conns = ADD(C, "fedrpc_federation_connections_total",
	    "Federation connections accepted (TLS handshake done)", NULL);
	m->egress_denied = ADD(C, "fedrpc_egress_denied_total",
	    "Outgoing calls the allow list refused", NULL);
	m->reloads = ADD(C, "fedrpc_config_reloads_total",
	    "Configuration reloads applied", NULL);
	m->reload_fail = ADD(C, "fedrpc_config_reload_failures_total",
	    "Configuration reloads refused (old settings kept)", NULL);
	m->local_restarts = ADD(C, "fedrpc_local_api_restarts_total",
	    "Times the local API listener was rebuilt", NULL);
	m->lookups = ADD(C, "fedrpc_discovery_lookups_total",
	    "Domain lookups asked for", NULL);
	m->cache_hits = ADD(C, "fedrpc_discovery_cache_hits_total",
	    "Lookups answered without DNS, by cache", "cache", NULL);
	m->dns_queries = ADD(C, "fedrpc_discovery_dns_queries_total",
	    "DNS packets sent, retransmissions included", NULL);
	m->dns_fail = ADD(C, "fedrpc_discovery_failures_total",
	    "DNS lookups that failed (UNAVAILABLE)", NULL);
	m->attempts = ADD(C, "fedrpc_egress_connection_attempts_total",
	    "Connection attempts to other domains' addresses", NULL);
	m->attempt_fail = ADD(C, "fedrpc_egress_connection_failures_total",
	    "Connection attempts that failed", NULL);
	m->backoffs = ADD(C, "fedrpc_egress_backoffs_total",
	    "Times a domain went into connection back-off", NULL);
	m->dom_up = ADD(G, "fedrpc_egress_domain_connected",
	    "1 while a connection to the domain is up", "domain", NULL);
	m->dom_backoff = ADD(G, "fedrpc_egress_domain_backoff_seconds",
	    "The domain's current connection back-off (0: none)", "domain",
	    NULL);
	m->dom_failures = ADD(G, "fedrpc_egress_domain_failures",
	    "Connection attempt sequences to the domain failed in a row",
	    "domain", NULL);
	m->q_pending = ADD(G, "fedrpc_outbox_pending",
	    "Delivery items waiting, by destination", "destination", NULL);
	m->q_oldest = ADD(G, "fedrpc_outbox_oldest_age_seconds",
	    "Age of the oldest waiting item, by destination", "destination",
	    NULL);
	m->q_failures = ADD(G, "fedrpc_outbox_retries",
	    "Delivery attempts that failed in a row, by destination",
	    "destination", NULL);
	m->q_aside = ADD(G, "fedrpc_outbox_dead_letters",
	    "Items moved aside (refused for good or expired), by destination",
	    "destination", NULL);
	m->w_failed = ADD(C, "fedrpc_federation_handshakes_failed_total",
	    "Federation connections closed before the wire protocol's "
	    "prefaces were exchanged (TLS refused, timed out, dropped)",
	    NULL);
	m->w_closed = ADD(C, "fedrpc_federation_connections_closed_total",
	    "Federation connections the listener closed, by reason "
	    "(handshake_timeout, pending_dropped, protocol_error, "
	    "keepalive)",
	    "reason", NULL);
	m->w_open = ADD(G, "fedrpc_federation_open_connections",
	    "Federation connections open now, by state (up: through the "
	    "handshake; handshake: not yet)",
	    "state", NULL);
	m->w_paused = ADD(G, "fedrpc_federation_paused_connections",
	    "Federation connections whose reading waits for their replies "
	    "to be written",
	    NULL);
	m->w_queued = ADD(G, "fedrpc_federation_queued_reply_bytes",
	    "Reply bytes queued on federation connections", NULL);
	m->listener_ok = ADD(G, "fedrpc_federation_listener_serving",
	    "1 while the federation listener passes its self-check", NULL);
	m->up_since = ADD(G, "fedrpc_start_time_seconds",
	    "When the daemon started, seconds since the Unix epoch", NULL);
	m->build = ADD(G, "fedrpc_build_info",
	    "The daemon's release and the libraries it runs on", "version",
	    "nng", "wolfssl", NULL);
}

fedrpc_code
federator_metrics_start(federator *f, fedrpc_status *st)
{
	federator_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->reg = fedrpc_metrics_new()) == NULL) {
		free(m);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory for metrics");
	}
	m->f = f;
	pthread_mutex_init(&m->local_mtx, NULL);
	pthread_mutex_init(&m->scrape_mtx, NULL);
	families(m);
	fedrpc_metric_set(m->build,
	    (const char *[]){fedrpc_version(), nng_version(),
	        wolfSSL_lib_version()},
	    1);
	fedrpc_metric_set(m->up_since, NULL, (double) time(NULL));
	m->obs  = (fedrpc_observer){on_call, on_tls_failure, m};
	f->metrics = m;
	fedrpc_observe_set(&m->obs);
	return FEDRPC_OK;
}

void
federator_metrics_stop(federator *f)
{
	federator_metrics *m = f->metrics;

	if (m == NULL)
		return;
	fedrpc_observe_set(NULL);
	f->metrics = NULL;
	if (m->local != NULL)
		fedrpc_channel_close(m->local);
	fedrpc_metrics_free(m->reg);
	pthread_mutex_destroy(&m->local_mtx);
	pthread_mutex_destroy(&m->scrape_mtx);
	free(m);
}

static double
atomic_u64(uint64_t *p)
{
	return (double) __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The federation listener's connections (zero on req0/rep0). */
static void
collect_connections(federator_metrics *m, fedrpc_server *srv)
{
	fedrpc_server_conn_stats cs;

	fedrpc_server_conn_stats_get(srv, &cs);
	fedrpc_metric_set(m->w_failed, NULL, (double) cs.handshakes_failed);
	fedrpc_metric_set(m->w_closed, (const char *[]){"handshake_timeout"},
	    (double) cs.handshake_timeouts);
	fedrpc_metric_set(m->w_closed, (const char *[]){"pending_dropped"},
	    (double) cs.pending_dropped);
	fedrpc_metric_set(m->w_closed, (const char *[]){"protocol_error"},
	    (double) cs.protocol_errors);
	fedrpc_metric_set(m->w_closed, (const char *[]){"keepalive"},
	    (double) cs.keepalive_closes);
	fedrpc_metric_set(m->w_open, (const char *[]){"up"},
	    (double) (cs.connections - cs.pending));
	fedrpc_metric_set(m->w_open, (const char *[]){"handshake"},
	    (double) cs.pending);
	fedrpc_metric_set(m->w_paused, NULL, (double) cs.paused);
	fedrpc_metric_set(m->w_queued, NULL, (double) cs.queued_bytes);
}

/* One open connection, counted under its peer's name. */
static void
count_peer_conn(void *arg, const fedrpc_conn *conn)
{
	federator_metrics *m    = arg;
	const fedrpc_peer *peer = fedrpc_conn_peer(conn);
	const char        *name = peer->n_names > 0 ? peer->names[0] : NULL;

	if (name == NULL && !peer->verified)
		return; /* not a federation peer (no TLS) */
	if (name != NULL && fedrpc_conn_is_loopback(conn) &&
	    listen_watch_is_self(m->f, name))
		return;
	fedrpc_metric_inc(m->peer_open,
	    (const char *[]){name != NULL && name[0] ? name : "unknown"}, 1);
}

static void
collect_counters(federator_metrics *m)
{
	federator            *f = m->f;
	fedrpc_resolver_stats rs;

	fedrpc_metric_set(m->admitted, NULL, atomic_u64(&f->admitted));
	fedrpc_metric_set(m->refused, NULL, atomic_u64(&f->refused));
	fedrpc_metric_set(m->conns, NULL, atomic_u64(&f->connections));
	fedrpc_metric_set(m->egress_denied, NULL, atomic_u64(&f->egress_denied));
	fedrpc_metric_set(m->reloads, NULL, atomic_u64(&f->reloads));
	fedrpc_metric_set(m->reload_fail, NULL, atomic_u64(&f->reload_failures));
	fedrpc_metric_set(
	    m->local_restarts, NULL, atomic_u64(&f->local_restarts));
	fedrpc_metric_set(m->listener_ok, NULL,
	    f->fed_srv != NULL && !listen_watch_failing(f, NULL, 0) ? 1 : 0);
	fedrpc_metric_clear(m->peer_open);
	if (f->fed_srv != NULL) {
		collect_connections(m, f->fed_srv);
		fedrpc_server_conns_foreach(f->fed_srv, count_peer_conn, m);
	}
	fedrpc_resolver_stats_get(f->resolver, &rs);
	fedrpc_metric_set(m->lookups, NULL, (double) rs.lookups);
	fedrpc_metric_set(m->cache_hits, (const char *[]){"positive"},
	    (double) rs.cache_hits);
	fedrpc_metric_set(m->cache_hits, (const char *[]){"negative"},
	    (double) rs.negative_hits);
	fedrpc_metric_set(m->cache_hits, (const char *[]){"failure"},
	    (double) rs.failure_hits);
	fedrpc_metric_set(m->cache_hits, (const char *[]){"static"},
	    (double) rs.static_hits);
	fedrpc_metric_set(m->dns_queries, NULL, (double) rs.dns_queries);
	fedrpc_metric_set(m->dns_fail, NULL, (double) rs.failures);
}

/* Each outgoing domain's state, and the pools' counters (an old pool
 * kept after a certificate reload still counts). */
static void
collect_domains(federator_metrics *m)
{
	federator           *f = m->f;
	fedrpc_domains_stats ds;
	fedrpc_domain_info   di;
	uint64_t             att = 0, fail = 0, bo = 0;

	fedrpc_metric_clear(m->dom_up);
	fedrpc_metric_clear(m->dom_backoff);
	fedrpc_metric_clear(m->dom_failures);
	pthread_mutex_lock(&f->egress_mtx);
	for (egress_pool *p = f->pool; p != NULL; p = p->older) {
		fedrpc_domains_stats_get(p->domains, &ds);
		att += ds.attempts;
		fail += ds.attempt_failures;
		bo += ds.backoffs;
	}
	if (f->pool != NULL)
		for (egress_entry *e = f->pool->entries; e != NULL; e = e->next) {
			const char *l[] = {e->domain};

			if (fedrpc_domain_info_get(e->ch, &di) != FEDRPC_OK)
				continue;
			fedrpc_metric_set(m->dom_up, l, di.target[0] ? 1 : 0);
			fedrpc_metric_set(
			    m->dom_backoff, l, di.backoff_ms / 1000.0);
			fedrpc_metric_set(m->dom_failures, l, di.failures);
		}
	pthread_mutex_unlock(&f->egress_mtx);
	fedrpc_metric_set(m->attempts, NULL, (double) att);
	fedrpc_metric_set(m->attempt_fail, NULL, (double) fail);
	fedrpc_metric_set(m->backoffs, NULL, (double) bo);
}

/* The delivery queues, through our own local API (the backend keeps
 * them; the daemon asks as fedctl queue does). Left as they were when
 * the backend has none or does not answer. */
static void
collect_queues(federator_metrics *m)
{
	federator                             *f   = m->f;
	Fedrpc__Local__V1__ListQueuesRequest   req = FEDRPC__LOCAL__V1__LIST_QUEUES_REQUEST__INIT;
	Fedrpc__Local__V1__ListQueuesResponse *resp = NULL;
	fedrpc_channel_opts                    o    = {0};
	fedrpc_call_opts                       co   = {.timeout_ms = 2000};
	fedrpc_status                          st   = {0};
	int64_t now = (int64_t) time(NULL) * 1000;

	if (f->adapter == NULL)
		return;
	pthread_mutex_lock(&m->local_mtx);
	o.url = f->cfg->local_api;
	if (m->local == NULL && fedrpc_channel_open(&m->local, &o, &st) != FEDRPC_OK)
		m->local = NULL;
	if (m->local == NULL ||
	    fedrpc_local_v1_delivery_list_queues(m->local, &req, &resp, &co,
	        &st) != FEDRPC_OK) {
		pthread_mutex_unlock(&m->local_mtx);
		FEDRPC_LOG_DEBUG("metrics: delivery queues: %s", st.message);
		fedrpc_status_reset(&st);
		return;
	}
	pthread_mutex_unlock(&m->local_mtx);
	fedrpc_metric_clear(m->q_pending);
	fedrpc_metric_clear(m->q_oldest);
	fedrpc_metric_clear(m->q_failures);
	fedrpc_metric_clear(m->q_aside);
	for (size_t i = 0; i < resp->n_queues; i++) {
		const Fedrpc__Local__V1__Queue *q = resp->queues[i];
		const char                     *l[] = {q->domain};
		double age = q->oldest_unix_ms > 0 && now > q->oldest_unix_ms
		    ? (double) (now - q->oldest_unix_ms) / 1000.0
		    : 0;

		fedrpc_metric_set(m->q_pending, l, (double) q->pending);
		fedrpc_metric_set(m->q_oldest, l, age);
		fedrpc_metric_set(m->q_failures, l, q->failures);
		fedrpc_metric_set(m->q_aside, l, (double) q->aside);
	}
	protobuf_c_message_free_unpacked((ProtobufCMessage *) resp, NULL);
	fedrpc_status_reset(&st);
}

char *
federator_metrics_scrape(federator *f, size_t *len)
{
	federator_metrics *m = f->metrics;
	char              *text;

	if (m == NULL)
		return NULL;
	pthread_mutex_lock(&m->scrape_mtx);
	collect_counters(m);
	collect_domains(m);
	collect_queues(m);
	text = fedrpc_metrics_render(m->reg, len);
	pthread_mutex_unlock(&m->scrape_mtx);
	return text;
}
