/*
 * The federator daemon's parts: one `federator` holds everything a running
 * daemon has (configuration, TLS, resolver, admission, servers, adapter,
 * outgoing channels), and each file of federator/ owns one step of
 * its life: main.c (arguments, signals), federator.c (assembly and stop),
 * admit.c (who may call), egress.c (whom we may call), reload.c (SIGHUP),
 * fd_limit.c (open files), health.c, version.c and admin.c (the services
 * the daemon itself serves), metrics.c and access_log.c (what it reports
 * of the calls it answers and makes), metrics_http.c (/metrics, /healthz,
 * /readyz).
 */
#ifndef FEDRPC_FEDERATOR_H
#define FEDRPC_FEDERATOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/allowlist.h>
#include <fedrpc/config.h>
#include <fedrpc/discovery.h>
#include <fedrpc/domain.h>
#include <fedrpc/limits.h>
#include <fedrpc/origin_auth.h>
#include <fedrpc/server.h>

/* The name the daemon logs under and prints in its messages. */
#define FEDERATOR_NAME "federator"

/* One outgoing channel handed to the adapter (borrowed by it). */
typedef struct egress_entry {
	struct egress_entry *next;
	char                *domain; /* lower case; owned */
	fedrpc_channel      *ch;     /* one reference from its pool */
} egress_entry;

/* A pool of outgoing channels and the channels taken from it. Replaced
 * when certificates change; the old one is kept until the daemon stops,
 * since the adapter may still hold its channels. */
typedef struct egress_pool {
	struct egress_pool *older;   /* retired pools, newest first */
	fedrpc_domains     *domains; /* owned */
	egress_entry       *entries; /* channels handed out; owned */
} egress_pool;

struct federator;
typedef struct federator_metrics federator_metrics; /* metrics.c */
typedef struct federator_http    federator_http;    /* metrics_http.c */
struct fedrpc_call_event;

/* Remote ports of the latest loopback connections the federation server
 * took, so the self-check can find its own. */
#define LISTEN_RING 32
typedef struct listen_probe_ring {
	int      port[LISTEN_RING];
	uint64_t gen[LISTEN_RING]; /* 1 + the value of next when written */
	uint64_t next;             /* entries written so far */
} listen_probe_ring;

/* The health service's view of one of the two servers. */
typedef struct federator_health {
	struct federator *f;
	bool              local; /* the local API server */
} federator_health;

typedef struct federator {
	char          *config_path; /* owned; re-read on SIGHUP */
	fedrpc_config *cfg;         /* owned; the settings started with */
	int            log_override; /* --log-level, or -1 */
	FILE          *log_file;    /* owned; NULL: stderr */

	/* TLS files as last loaded (content hash), to reload only changes. */
	uint64_t tls_hash;

	fedrpc_resolver    *resolver; /* owned */
	fedrpc_origin_auth *auth;     /* owned */
	fedrpc_allowlist   *allow;    /* owned; reloadable */
	fedrpc_limits      *limits;   /* owned; reloadable */

	pthread_mutex_t egress_mtx; /* guards pool and its entries */
	egress_pool    *pool;       /* owned; NULL without federation */

	void *adapter;              /* fedrpc_adapter_instance; NULL: none */

	fedrpc_server *fed_srv;   /* the federation listener; NULL if off */
	struct web_gateway *web;  /* the web client (federator/web/); NULL if off */
	fedrpc_server *local_srv; /* the local API on ipc:// */
	char          *ipc_path;  /* socket file of local_srv; owned */
	bool           ipc_bound; /* local_srv made that file */

	/* The local API watchdog (local_watch.c); watch_mtx guards the
	 * flags and local_srv while the watchdog may replace it. */
	pthread_t       watch_thread;
	bool            watch_started;
	bool            watch_stop;
	pthread_mutex_t watch_mtx;
	pthread_cond_t  watch_cv;
	uint64_t        local_restarts; /* atomic */

	/* The federation listener's self-check (listen_watch.c), run by the
	 * watchdog thread. probe_mtx guards self_name, probe_ring and
	 * listen_why; probe_cv signals a new entry in probe_ring. */
	pthread_mutex_t   probe_mtx;
	pthread_cond_t    probe_cv;
	char              self_name[256]; /* our certificate's first name */
	listen_probe_ring probe_ring;     /* loopback connections accepted */
	uint64_t          listen_next_ms; /* next check (watchdog only) */
	int               listen_failing; /* atomic: failed checks in a row */
	uint64_t          listen_checks;   /* atomic: checks run */
	uint64_t          listen_failures; /* atomic: failed checks in all */
	char              listen_why[512]; /* the last failure's reason */

	/* Federation calls, counted by admission (atomic). */
	uint64_t admitted; /* passed every check */
	uint64_t refused;  /* answered by admission with an error */
	uint64_t connections; /* federation connections accepted */
	uint64_t egress_denied; /* outgoing calls the allow list refused */
	int      stopping; /* atomic: health answers NOT_SERVING */

	/* Reloads (SIGHUP, fedctl admin reload) applied and refused
	 * (atomic); reload_mtx lets one run at a time. */
	pthread_mutex_t reload_mtx;
	uint64_t reloads;
	uint64_t reload_failures;

	federator_health health[2]; /* [0] federation, [1] local */

	federator_metrics *metrics; /* owned; the runtime's observer */
	federator_http    *http;    /* owned; NULL: metrics.listen off */
} federator;

/* ---- federator.c ---- */
/* Puts "<prefix>: " before st's message; returns st's code. */
fedrpc_code federator_status_prefix(fedrpc_status *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Builds and starts everything from cfg (taken over, also on error). */
fedrpc_code federator_open(federator **out, const char *config_path,
    fedrpc_config *cfg, int log_override, fedrpc_status *st);
/* Stops taking calls; running ones get grace_ms to finish. */
void federator_stop(federator *f, uint32_t grace_ms);
void federator_close(federator *f);
/* TLS options for our side from a configuration (strings borrowed). */
void federator_tls_opts(const fedrpc_config *cfg, fedrpc_tls_opts *out);
/* A hash of the TLS files' contents; 0 if one cannot be read. */
uint64_t federator_tls_hash(const fedrpc_config *cfg);
/* Applies log level and file from cfg (unless overridden). */
fedrpc_code federator_log_apply(
    federator *f, const fedrpc_config *cfg, fedrpc_status *st);
/* Limits options from a configuration. */
void federator_limits_opts(const fedrpc_config *cfg, fedrpc_limits_opts *out);

/* A local API server with its services registered, not started. */
fedrpc_code federator_local_new(
    federator *f, fedrpc_server **out, fedrpc_status *st);
/* Starts it with a socket file of mode 0600. */
fedrpc_code federator_local_start(
    federator *f, fedrpc_server *srv, fedrpc_status *st);

/* The domain the printed default configuration has (default_config.c). */
#define FEDERATOR_PLACEHOLDER_DOMAIN "example.com"

/* ---- cert_names.c ---- */
/* Whether tls.cert is valid for cfg->domain (names it, or the target of
 * its SRV records); FAILED_PRECONDITION naming both otherwise. */
fedrpc_code federator_check_cert_names(
    const fedrpc_config *cfg, fedrpc_status *st);

/* ---- fd_limit.c ---- */
/* The open files a configuration needs, and the sum in words. */
typedef struct federator_fd_need {
	unsigned long total; /* margin included */
	char          why[200];
} federator_fd_need;
void federator_fd_need_get(const fedrpc_config *cfg, federator_fd_need *out);

/* check_storage.c: --check-config on the storage settings (with connect,
 * --check-database: whether the database answers). 0 when fine, else 1
 * with the error on stderr naming the file. */
int federator_check_storage(const char *path, const fedrpc_config *cfg,
    bool connect);
/* Raises the soft RLIMIT_NOFILE to the hard limit and logs the result;
 * FAILED_PRECONDITION, naming settings and numbers, when that is less
 * than cfg needs. */
fedrpc_code federator_fd_limit_apply(
    const fedrpc_config *cfg, fedrpc_status *st);

/* ---- local_watch.c ---- */
fedrpc_code local_watch_start(federator *f, fedrpc_status *st);
/* Stops and joins the watchdog; idempotent. */
void local_watch_stop(federator *f);

/* ---- listen_watch.c ---- */
/* Runs the self-check when it is due (the watchdog calls it each second). */
void listen_watch_tick(federator *f);
/* True while the listener fails its self-check; the reason into why. */
bool listen_watch_failing(federator *f, char *why, size_t n);
/* admit.c: the server took a connection from loopback port remote_port. */
void listen_watch_note(federator *f, int remote_port);
/* Whether a peer certificate name is our own certificate's first name. */
bool listen_watch_is_self(federator *f, const char *peer_name);

/* ---- admit.c ---- */
/* Installs the admission chain and completion hook on the listener. */
void federator_admit_install(federator *f, fedrpc_server *srv);

/* ---- egress.c ---- */
fedrpc_code egress_pool_new(federator *f, const fedrpc_config *cfg,
    egress_pool **out, fedrpc_status *st);
/* Frees a pool and every older one; releases their channels. */
void egress_pool_free(egress_pool *p);
/* The adapter's channel_for: a borrowed channel to `domain`. */
fedrpc_channel *egress_channel_for(
    void *arg, const char *domain, fedrpc_status *st);

/* ---- reload.c ---- */
/* Re-reads the configuration file and applies what can change while
 * running; an invalid file leaves everything as it was. */
fedrpc_code federator_reload(federator *f, fedrpc_status *st);

/* ---- admin.c ---- */
/* Serves fedrpc.local.v1.Admin on the local API server. */
fedrpc_code federator_admin_register(
    federator *f, fedrpc_server *srv, fedrpc_status *st);

/* ---- health.c ---- */
/* Each of the daemon's counters by name (the health service's reply
 * metadata, fedctl admin health). */
typedef void (*federator_emit_fn)(void *arg, const char *key, const char *value);
void federator_counters(federator *f, federator_emit_fn emit, void *arg);
fedrpc_code federator_health_register(
    federator *f, fedrpc_server *srv, bool local, fedrpc_status *st);

/* ---- reflection.c ---- */
/* Serves fedrpc.reflection.v1.Reflection on srv: the services srv
 * answers and their schemas. */
fedrpc_code federator_reflection_register(fedrpc_server *srv, fedrpc_status *st);

/* ---- version.c ---- */
/* FAILED_PRECONDITION for a federation call of an API version we do not
 * serve (docs/federation-api.md, "Versioning"). */
fedrpc_code federator_version_check(
    federator *f, fedrpc_ctx *ctx, fedrpc_status *st);
/* Serves fedrpc.federation.v1.Version when no adapter does. */
fedrpc_code federator_version_register(
    federator *f, fedrpc_server *srv, fedrpc_status *st);

/* ---- metrics.c ---- */
/* Makes the registry and becomes the runtime's observer. */
fedrpc_code federator_metrics_start(federator *f, fedrpc_status *st);
/* Stops observing and frees; after every server and channel closed. */
void federator_metrics_stop(federator *f);
/* A connection accepted from `peer` (its certificate's first name). */
void federator_metrics_peer_connection(federator *f, const char *peer);
/* Reads the daemon's state and writes every series in the Prometheus
 * text format; malloc'ed, NULL when out of memory. Blocks briefly (it
 * asks the local API for the delivery queues): not on an nng thread. */
char *federator_metrics_scrape(federator *f, size_t *len);

/* ---- access_log.c ---- */
void federator_access_log(const struct fedrpc_call_event *ev);

/* ---- metrics_http.c ---- */
/* Serves /metrics, /healthz and /readyz on metrics.listen (if set). */
fedrpc_code federator_http_start(federator *f, fedrpc_status *st);
/* Stops serving; idempotent. */
void federator_http_stop(federator *f);

/* ---- default_config.c ---- */
extern const char federator_default_config[];

#endif
