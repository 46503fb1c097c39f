/*
 * The configuration file of the federator daemon and of fedctl: one
 * libconfig file per daemon, checked against a schema (unknown settings,
 * wrong types and bad values are errors naming file, line and setting).
 */
#ifndef FEDRPC_CONFIG_H
#define FEDRPC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <fedrpc/log.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which remote domains we federate with (Wire's names in the file). */
typedef enum fedrpc_strategy {
	FEDRPC_STRATEGY_ALLOW_NONE = 0, /* "allowNone": nobody */
	FEDRPC_STRATEGY_ALLOW_LIST = 1, /* "allowList": listed domains only */
	FEDRPC_STRATEGY_ALLOW_ALL  = 2, /* "allowAll": every domain */
} fedrpc_strategy;

/* How far users of a remote domain may search ours (and we theirs). */
typedef enum fedrpc_search_policy {
	FEDRPC_SEARCH_NONE         = 0, /* "no_search" */
	FEDRPC_SEARCH_EXACT_HANDLE = 1, /* "exact_handle_search" */
	FEDRPC_SEARCH_FULL         = 2, /* "full_search" */
} fedrpc_search_policy;

typedef enum fedrpc_log_format {
	FEDRPC_LOG_FORMAT_TEXT = 0, /* "text" */
	FEDRPC_LOG_FORMAT_JSON = 1, /* "json" */
} fedrpc_log_format;

typedef enum fedrpc_storage_adapter {
	FEDRPC_STORAGE_SQLITE     = 0, /* "sqlite": storage.path */
	FEDRPC_STORAGE_POSTGRESQL = 1, /* "postgresql": storage.conninfo */
	FEDRPC_STORAGE_MODULE     = 2, /* "module": storage.module (.so) */
} fedrpc_storage_adapter;

/* One entry of federation.allow. */
typedef struct fedrpc_config_allow {
	char                *domain;        /* lower case, no final dot; owned */
	fedrpc_search_policy search_policy; /* default: default_search_policy */
} fedrpc_config_allow;

/* One entry of discovery.static: a fixed endpoint that bypasses DNS. */
typedef struct fedrpc_config_static {
	char    *domain; /* lower case, no final dot; owned */
	char    *host;   /* IP address or host name; owned */
	uint16_t port;
} fedrpc_config_static;

/*
 * A loaded configuration. Every string is owned by the struct and freed by
 * fedrpc_config_free(); optional strings that are unset or "" are NULL.
 * File paths (TLS files, storage, log file, ipc:// socket) are absolute:
 * relative ones were resolved against the configuration file's folder.
 */
typedef struct fedrpc_config {
	char *source;   /* the file name (or name_for_errors) it came from */
	char *base_dir; /* absolute folder relative paths were resolved in */

	char *domain; /* our federation domain, lower case; required */

	struct {
		bool                 enabled;  /* false: no listener, no egress */
		fedrpc_strategy      strategy; /* default allowNone */
		fedrpc_config_allow *allow;    /* owned array */
		size_t               n_allow;
		fedrpc_search_policy default_search_policy; /* unlisted */
	} federation;

	char *listen;    /* "tls+tcp://host:port" (mutual TLS only) */
	/* How often the daemon connects to its own listener to see that it
	 * still serves new connections; 0: never. */
	uint32_t listen_check_ms;
	char *local_api; /* "ipc:///abs/path.sock" */

	struct {
		char *ca;   /* PEM bundle of trusted CAs */
		char *cert; /* our certificate chain, PEM */
		char *key;  /* our private key, PEM */
		char *crl;  /* PEM CRL; NULL: none */
		fedrpc_tls_version min_version; /* FEDRPC_TLS_1_3 or _1_2 */
	} tls; /* the three files are required while federation is enabled */

	struct {
		char    *nameserver; /* "ip[:port]" / "[ip6]:port"; NULL: resolv.conf */
		char    *service;    /* SRV label, "_fedrpc._tcp" */
		uint32_t timeout_ms;    /* one DNS query */
		uint32_t negative_ttl;  /* seconds a failed lookup is cached */
		fedrpc_config_static *statics; /* owned array */
		size_t                n_statics;
	} discovery;

	struct {
		uint32_t connect_timeout_ms;
		uint32_t idle_timeout; /* seconds before an idle channel closes */
		uint32_t backoff_initial_ms;
		double   backoff_multiplier;
		double   backoff_jitter; /* 0..1, fraction of each delay */
		uint32_t backoff_max_ms;
	} client;

	/* Delivery of what the backend owes other domains (its outbox;
	 * docs/delivery.md). */
	struct {
		uint32_t backoff_initial_ms; /* first pause after a failure */
		uint32_t backoff_max_ms;     /* the longest pause */
		uint32_t expiry;   /* seconds before an item is moved aside */
		uint32_t wait_ms;  /* a local call waits for its first attempt */
		uint32_t workers;  /* destinations delivered at once */
		char    *instance; /* lease holder's name; NULL: the host name */
		uint32_t lease_ms; /* a lease unless renewed */
	} delivery;

	/* The web client's gateway (federator/web/); off without listen. */
	struct {
		char    *listen;   /* "http://127.0.0.1:8080", "https://..."; NULL: off */
		char    *root;     /* the page's files; NULL: the installed ones */
		char    *passwords; /* the users' password hashes (fedctl user password) */
		char    *sessions; /* the open log-ins, kept across restarts */
		char    *tls_cert; /* PEM; required unless listen is on loopback */
		char    *tls_key;
		uint32_t session_ttl; /* seconds a log-in lasts */
		uint32_t login_failures; /* wrong passwords per user per minute */
	} web;

	struct {
		size_t   max_message_size; /* bytes, both directions */
		uint32_t max_inflight_per_peer;
		double   rate_per_peer; /* requests per second */
		uint32_t rate_burst;
		uint32_t handshake_timeout_ms;
		uint32_t workers;  /* handler threads */
		uint32_t contexts; /* concurrent nng server contexts */
	} limits;

	struct {
		fedrpc_storage_adapter adapter;
		char *path;     /* sqlite database file (or ":memory:") */
		char *conninfo; /* PostgreSQL connection string; NULL if unset */
		char *module;   /* adapter shared object; NULL if unset */
	} storage;

	struct {
		fedrpc_log_level  level;
		fedrpc_log_format format;
		char             *file; /* NULL: stderr */
	} log;

	/* The Prometheus endpoint (docs/operations.md, "Metrics"). */
	struct {
		char *listen; /* "127.0.0.1:9464"; NULL: off */
	} metrics;

	struct {
		uint32_t *versions; /* API versions served; owned; ascending */
		size_t    n_versions;
	} api;
} fedrpc_config;

/*
 * Reads, checks and completes (defaults) a configuration file. On error
 * *out is NULL and st carries INVALID_ARGUMENT and a message such as
 * "a.conf:12: unknown setting 'federation.stratgy' (did you mean
 * 'strategy'?)", or NOT_FOUND when the file does not exist. On success
 * the caller owns *out. `@include "x.conf"` is read relative to the
 * file's folder.
 */
fedrpc_code fedrpc_config_load_file(
    const char *path, fedrpc_config **out, fedrpc_status *st);

/*
 * The same from text. Errors name `name_for_errors` (NULL: "<string>");
 * relative paths are resolved against the current working folder.
 */
fedrpc_code fedrpc_config_load_string(const char *text,
    const char *name_for_errors, fedrpc_config **out, fedrpc_status *st);

void fedrpc_config_free(fedrpc_config *cfg);

/*
 * Whether calls to and from `domain` are allowed: none when federation is
 * disabled or the strategy is allowNone; every (valid) domain under
 * allowAll; the listed ones under allowList. Case and a final dot are
 * ignored, here and in the file.
 */
bool fedrpc_config_domain_allowed(const fedrpc_config *cfg, const char *domain);

/*
 * The search policy for `domain`: its allow-list entry's, else the
 * default_search_policy; FEDRPC_SEARCH_NONE for a domain not allowed.
 */
fedrpc_search_policy fedrpc_config_search_policy_for(
    const fedrpc_config *cfg, const char *domain);

/*
 * Fills a TLS options struct from cfg (files, min_version; server_name
 * NULL, to be set per peer). The strings are borrowed from cfg.
 */
void fedrpc_config_tls_opts(const fedrpc_config *cfg, fedrpc_tls_opts *out);

/* The effective configuration, in the file's own syntax (loadable). */
void fedrpc_config_print(const fedrpc_config *cfg, FILE *f);

/*
 * Whether `name` is a valid federation domain: after folding case and
 * dropping one final dot, labels of letters, digits and inner hyphens,
 * 1-63 bytes each, 253 in all, not all-numeric at the end. The rule of
 * every layer (core/base/dns_name.c, dns_domain_check).
 */
bool fedrpc_domain_valid(const char *name);

/* Names as written in the file, and back; parse returns -1 if unknown. */
const char *fedrpc_strategy_name(fedrpc_strategy s);
int         fedrpc_strategy_parse(const char *name);
const char *fedrpc_search_policy_name(fedrpc_search_policy p);
int         fedrpc_search_policy_parse(const char *name);
const char *fedrpc_log_format_name(fedrpc_log_format f);
int         fedrpc_log_format_parse(const char *name);
const char *fedrpc_storage_adapter_name(fedrpc_storage_adapter a);
int         fedrpc_storage_adapter_parse(const char *name);
/* "1.2", "1.3" (DEFAULT is 1.3); parse gives FEDRPC_TLS_1_2 / _1_3. */
const char *fedrpc_tls_version_name(fedrpc_tls_version v);
int         fedrpc_tls_version_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif
