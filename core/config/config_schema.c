/*
 * The configuration schema: every known setting with its type, range,
 * default and where it lands in fedrpc_config, plus the value checks
 * (domain names, URLs) and the enum names. Adding a setting is one line
 * here and one field in include/fedrpc/config.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/dns_name.h"
#include "core/config/config_int.h"

_Static_assert(sizeof(fedrpc_strategy) == sizeof(int), "enum size");
_Static_assert(sizeof(fedrpc_search_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(fedrpc_log_format) == sizeof(int), "enum size");
_Static_assert(sizeof(fedrpc_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(fedrpc_storage_adapter) == sizeof(int), "enum size");
_Static_assert(sizeof(fedrpc_tls_version) == sizeof(int), "enum size");

/* ---- enum names (Wire's spellings where Wire has them) ---- */

const cfg_choice fedrpc_cfg_strategies[] = {
	{"allowAll", FEDRPC_STRATEGY_ALLOW_ALL},
	{"allowList", FEDRPC_STRATEGY_ALLOW_LIST},
	{"allowNone", FEDRPC_STRATEGY_ALLOW_NONE},
	{NULL, 0},
};

const cfg_choice fedrpc_cfg_search_policies[] = {
	{"no_search", FEDRPC_SEARCH_NONE},
	{"exact_handle_search", FEDRPC_SEARCH_EXACT_HANDLE},
	{"full_search", FEDRPC_SEARCH_FULL},
	{NULL, 0},
};

const cfg_choice fedrpc_cfg_log_formats[] = {
	{"text", FEDRPC_LOG_FORMAT_TEXT},
	{"json", FEDRPC_LOG_FORMAT_JSON},
	{NULL, 0},
};

const cfg_choice fedrpc_cfg_log_levels[] = {
	{"debug", FEDRPC_LOG_DEBUG},
	{"info", FEDRPC_LOG_INFO},
	{"warn", FEDRPC_LOG_WARN},
	{"error", FEDRPC_LOG_ERROR},
	{"off", FEDRPC_LOG_OFF},
	{NULL, 0},
};

const cfg_choice fedrpc_cfg_storage_adapters[] = {
	{"sqlite", FEDRPC_STORAGE_SQLITE},
	{"postgresql", FEDRPC_STORAGE_POSTGRESQL},
	{"module", FEDRPC_STORAGE_MODULE},
	{NULL, 0},
};

const cfg_choice fedrpc_cfg_tls_versions[] = {
	{"1.3", FEDRPC_TLS_1_3},
	{"1.2", FEDRPC_TLS_1_2},
	{NULL, 0},
};

const char *
fedrpc_cfg_choice_name(const cfg_choice *c, int value)
{
	for (; c->name != NULL; c++)
		if (c->value == value)
			return c->name;
	return NULL;
}

int
fedrpc_cfg_choice_value(const cfg_choice *c, const char *name)
{
	if (name == NULL)
		return -1;
	for (; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c->value;
	return -1;
}

static const char *
name_or(const char *name)
{
	return name != NULL ? name : "unknown";
}

const char *
fedrpc_strategy_name(fedrpc_strategy s)
{
	return name_or(fedrpc_cfg_choice_name(fedrpc_cfg_strategies, s));
}

int
fedrpc_strategy_parse(const char *name)
{
	return fedrpc_cfg_choice_value(fedrpc_cfg_strategies, name);
}

const char *
fedrpc_search_policy_name(fedrpc_search_policy p)
{
	return name_or(fedrpc_cfg_choice_name(fedrpc_cfg_search_policies, p));
}

int
fedrpc_search_policy_parse(const char *name)
{
	return fedrpc_cfg_choice_value(fedrpc_cfg_search_policies, name);
}

const char *
fedrpc_log_format_name(fedrpc_log_format f)
{
	return name_or(fedrpc_cfg_choice_name(fedrpc_cfg_log_formats, f));
}

int
fedrpc_log_format_parse(const char *name)
{
	return fedrpc_cfg_choice_value(fedrpc_cfg_log_formats, name);
}

const char *
fedrpc_storage_adapter_name(fedrpc_storage_adapter a)
{
	return name_or(fedrpc_cfg_choice_name(fedrpc_cfg_storage_adapters, a));
}

int
fedrpc_storage_adapter_parse(const char *name)
{
	return fedrpc_cfg_choice_value(fedrpc_cfg_storage_adapters, name);
}

const char *
fedrpc_tls_version_name(fedrpc_tls_version v)
{
	if (v == FEDRPC_TLS_DEFAULT)
		v = FEDRPC_TLS_1_3;
	return name_or(fedrpc_cfg_choice_name(fedrpc_cfg_tls_versions, v));
}

int
fedrpc_tls_version_parse(const char *name)
{
	return fedrpc_cfg_choice_value(fedrpc_cfg_tls_versions, name);
}

/* ---- value checks ---- */

/* The rule is core/base/dns_name.c's, the same for every layer. */
bool
fedrpc_domain_valid(const char *name)
{
	return dns_domain_valid(name);
}

static bool
check_domain(const char *v, char *why, size_t len)
{
	char reason[128];

	if (dns_domain_check(v, NULL, reason, sizeof(reason)))
		return true;
	/* "setting 'domain': 'b..example' is not a valid domain name: empty
	 * label", worded as every other layer words it. */
	snprintf(why, len, ": '%.64s' is not a valid domain name: %s", v,
	    reason);
	return false;
}

/* A port number of 1-5 digits, 0-65535; min is the lowest allowed. */
static bool
parse_port(const char *s, long min)
{
	char *end;
	long  port;

	if (!isdigit((unsigned char) s[0]) || strlen(s) > 5)
		return false;
	port = strtol(s, &end, 10);
	return *end == '\0' && port >= min && port <= 65535;
}

static bool
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * "host:port" or "[v6]:port" into host and port strings (in `buf`). With
 * port_optional, a lone host (or "[v6]") gives an empty port.
 */
static bool
split_hostport(const char *s, char *buf, size_t len, char **host,
    char **port, bool port_optional)
{
	char *colon;

	if (strlen(s) >= len)
		return false;
	strcpy(buf, s);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close == NULL)
			return false;
		*close = '\0';
		*host  = buf + 1;
		if (close[1] == '\0' && port_optional) {
			*port = close + 1; /* "" */
			return true;
		}
		if (close[1] != ':')
			return false;
		*port = close + 2;
		return true;
	}
	colon = strrchr(buf, ':');
	if (colon == NULL) {
		if (!port_optional)
			return false;
		*host = buf;
		*port = buf + strlen(buf);
		return true;
	}
	*colon = '\0';
	*host  = buf;
	*port  = colon + 1;
	return true;
}

/* A listener's host: [IPv6], IPv4, a name, or "" / "*" for all. */
static bool
listen_host_ok(const char *host, bool bracketed)
{
	unsigned char buf[16];

	if (bracketed)
		return inet_pton(AF_INET6, host, buf) == 1;
	return host[0] == '\0' || strcmp(host, "*") == 0 ||
	    inet_pton(AF_INET, host, buf) == 1 || fedrpc_domain_valid(host);
}

static bool
check_listen(const char *v, char *why, size_t len)
{
	static const char scheme[] = "tls+tcp://";
	char              buf[300], *host, *port;

	if (strncmp(v, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(why, len,
		    "must be a tls+tcp:// URL: the federation listener is "
		    "mutual TLS only (got '%s')", v);
		return false;
	}
	if (!split_hostport(v + sizeof(scheme) - 1, buf, sizeof(buf), &host,
	        &port, false) || !parse_port(port, 0)) {
		snprintf(why, len,
		    "must be tls+tcp://HOST:PORT with a port number (got '%s')",
		    v);
		return false;
	}
	if (!listen_host_ok(host, v[sizeof(scheme) - 1] == '[')) {
		snprintf(why, len, "has a bad host in '%s'", v);
		return false;
	}
	return true;
}

/* Whether a listen host is a loopback address (plain HTTP is only
 * allowed there: the gateway then carries passwords and cookies). */
static bool
web_host_loopback(const char *host)
{
	struct in_addr a4;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* web.listen: http://HOST:PORT on loopback, https://HOST:PORT anywhere. */
static bool
check_web_listen(const char *v, char *why, size_t len)
{
	bool tls = strncmp(v, "https://", 8) == 0;
	char buf[300], *host, *port;

	if (!tls && strncmp(v, "http://", 7) != 0) {
		snprintf(why, len,
		    "must be an http:// (loopback) or https:// URL (got '%s')", v);
		return false;
	}
	if (!split_hostport(v + (tls ? 8 : 7), buf, sizeof(buf), &host, &port,
	        false) || !parse_port(port, 0) ||
	    !listen_host_ok(host, v[tls ? 8 : 7] == '[')) {
		snprintf(why, len,
		    "must be http(s)://HOST:PORT with a port number (got '%s')", v);
		return false;
	}
	if (!tls && !web_host_loopback(host)) {
		snprintf(why, len,
		    "is plain HTTP on %s, which is not a loopback address: use "
		    "https:// with web.tls_cert and web.tls_key", host);
		return false;
	}
	return true;
}

static bool
check_ipc(const char *v, char *why, size_t len)
{
	if (strncmp(v, "ipc://", 6) != 0 || v[6] == '\0') {
		snprintf(why, len,
		    "must be an ipc:// URL with a socket path (got '%s')", v);
		return false;
	}
	return true;
}

/*
 * metrics.listen: "HOST:PORT" on a loopback address only. The endpoint
 * names the domains we talk to and how often: it is for a collector on
 * the same machine (or behind a proxy the operator secures).
 */
static bool
check_metrics_listen(const char *v, char *why, size_t len)
{
	char          buf[128], *host, *port;
	unsigned char a[16];
	bool          loop = false;

	if (v[0] == '\0')
		return true; /* off */
	if (!split_hostport(v, buf, sizeof(buf), &host, &port, false) ||
	    !parse_port(port, 1)) {
		snprintf(why, len,
		    "must be HOST:PORT on a loopback address, like "
		    "\"127.0.0.1:9464\" or \"[::1]:9464\" (got '%s')", v);
		return false;
	}
	if (inet_pton(AF_INET, host, a) == 1)
		loop = a[0] == 127;
	else if (inet_pton(AF_INET6, host, a) == 1)
		loop = memcmp(a, in6addr_loopback.s6_addr, 16) == 0;
	if (!loop) {
		snprintf(why, len,
		    "must be a loopback address (127.0.0.0/8 or ::1): the "
		    "metrics endpoint has no authentication (got '%s')", v);
		return false;
	}
	return true;
}

static bool
check_nameserver(const char *v, char *why, size_t len)
{
	char buf[128], *host, *port;

	if (is_ip(v))
		return true; /* a bare address, port 53 */
	if (!split_hostport(v, buf, sizeof(buf), &host, &port, true) ||
	    !is_ip(host) || (port[0] != '\0' && !parse_port(port, 1))) {
		snprintf(why, len,
		    "must be an IP address with an optional port, like "
		    "\"127.0.0.1:5353\" or \"[::1]:53\" (got '%s')", v);
		return false;
	}
	return true;
}

static bool
check_service(const char *v, char *why, size_t len)
{
	const char *dot = strchr(v, '.');
	bool        ok  = v[0] == '_' && dot != NULL && dot > v + 1 &&
	    strcmp(dot, "._tcp") == 0;

	for (const char *p = v + 1; ok && p < dot; p++)
		if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_')
			ok = false;
	if (!ok)
		snprintf(why, len,
		    "must be an SRV service label like \"_fedrpc._tcp\" "
		    "(got '%s')", v);
	return ok;
}

static bool
check_host(const char *v, char *why, size_t len)
{
	if (is_ip(v) || strcmp(v, "localhost") == 0 || fedrpc_domain_valid(v))
		return true;
	snprintf(why, len, "must be an IP address or a host name (got '%s')",
	    v);
	return false;
}

/* ---- the schema ---- */

#define AT(member) offsetof(fedrpc_config, member)

static const cfg_field allow_fields[] = {
	{.name = "domain", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED | CFG_DOMAIN,
	    .offset = offsetof(fedrpc_config_allow, domain),
	    .check = check_domain},
	{.name = "search_policy", .kind = CFG_ENUM,
	    .flags = CFG_INHERIT_SEARCH,
	    .offset = offsetof(fedrpc_config_allow, search_policy),
	    .choices = fedrpc_cfg_search_policies},
	{NULL},
};

static const cfg_field federation_fields[] = {
	{.name = "enabled", .kind = CFG_BOOL,
	    .offset = AT(federation.enabled), .def = "true"},
	{.name = "strategy", .kind = CFG_ENUM,
	    .offset = AT(federation.strategy), .def = "allowNone",
	    .choices = fedrpc_cfg_strategies},
	/* Before `allow`: its entries inherit this default. */
	{.name = "default_search_policy", .kind = CFG_ENUM,
	    .offset = AT(federation.default_search_policy), .def = "no_search",
	    .choices = fedrpc_cfg_search_policies},
	{.name = "allow", .kind = CFG_LIST, .offset = AT(federation.allow),
	    .count_offset = AT(federation.n_allow),
	    .elem_size = sizeof(fedrpc_config_allow), .fields = allow_fields},
	{NULL},
};

static const cfg_field tls_fields[] = {
	{.name = "ca", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED_FED | CFG_NONEMPTY | CFG_PATH,
	    .offset = AT(tls.ca)},
	{.name = "cert", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED_FED | CFG_NONEMPTY | CFG_PATH,
	    .offset = AT(tls.cert)},
	{.name = "key", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED_FED | CFG_NONEMPTY | CFG_PATH,
	    .offset = AT(tls.key)},
	{.name = "crl", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(tls.crl),
	    .def = ""},
	{.name = "min_version", .kind = CFG_ENUM,
	    .offset = AT(tls.min_version), .def = "1.3",
	    .choices = fedrpc_cfg_tls_versions},
	{NULL},
};

static const cfg_field static_fields[] = {
	{.name = "domain", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED | CFG_DOMAIN,
	    .offset = offsetof(fedrpc_config_static, domain),
	    .check = check_domain},
	{.name = "host", .kind = CFG_STRING, .flags = CFG_REQUIRED,
	    .offset = offsetof(fedrpc_config_static, host),
	    .check = check_host},
	{.name = "port", .kind = CFG_U16, .flags = CFG_REQUIRED,
	    .offset = offsetof(fedrpc_config_static, port), .min = 1,
	    .max = 65535},
	{NULL},
};

static const cfg_field discovery_fields[] = {
	{.name = "nameserver", .kind = CFG_STRING, .flags = CFG_NULL_IF_EMPTY,
	    .offset = AT(discovery.nameserver), .def = "",
	    .check = check_nameserver},
	{.name = "service", .kind = CFG_STRING,
	    .offset = AT(discovery.service), .def = "_fedrpc._tcp",
	    .check = check_service},
	{.name = "timeout_ms", .kind = CFG_U32,
	    .offset = AT(discovery.timeout_ms), .def = "3000", .min = 1,
	    .max = 60000},
	{.name = "negative_ttl", .kind = CFG_U32,
	    .offset = AT(discovery.negative_ttl), .def = "30", .min = 0,
	    .max = 300},
	{.name = "static", .kind = CFG_LIST, .offset = AT(discovery.statics),
	    .count_offset = AT(discovery.n_statics),
	    .elem_size = sizeof(fedrpc_config_static),
	    .fields = static_fields},
	{NULL},
};

static const cfg_field client_fields[] = {
	{.name = "connect_timeout_ms", .kind = CFG_U32,
	    .offset = AT(client.connect_timeout_ms), .def = "5000", .min = 1,
	    .max = 600000},
	{.name = "idle_timeout", .kind = CFG_U32,
	    .offset = AT(client.idle_timeout), .def = "300", .min = 0,
	    .max = 86400},
	{.name = "backoff_initial_ms", .kind = CFG_U32,
	    .offset = AT(client.backoff_initial_ms), .def = "1000", .min = 1,
	    .max = 3600000},
	{.name = "backoff_multiplier", .kind = CFG_DOUBLE,
	    .offset = AT(client.backoff_multiplier), .def = "1.6",
	    .fmin = 1.0, .fmax = 10.0},
	{.name = "backoff_jitter", .kind = CFG_DOUBLE,
	    .offset = AT(client.backoff_jitter), .def = "0.2", .fmin = 0.0,
	    .fmax = 1.0},
	{.name = "backoff_max_ms", .kind = CFG_U32,
	    .offset = AT(client.backoff_max_ms), .def = "120000", .min = 1,
	    .max = 3600000},
	{NULL},
};

static const cfg_field delivery_fields[] = {
	{.name = "backoff_initial_ms", .kind = CFG_U32,
	    .offset = AT(delivery.backoff_initial_ms), .def = "10", .min = 1,
	    .max = 3600000},
	{.name = "backoff_max_ms", .kind = CFG_U32,
	    .offset = AT(delivery.backoff_max_ms), .def = "300000", .min = 1,
	    .max = 86400000},
	{.name = "expiry", .kind = CFG_U32, .offset = AT(delivery.expiry),
	    .def = "2592000", .min = 1, .max = 31536000},
	{.name = "wait_ms", .kind = CFG_U32, .offset = AT(delivery.wait_ms),
	    .def = "3000", .min = 0, .max = 60000},
	{.name = "workers", .kind = CFG_U32, .offset = AT(delivery.workers),
	    .def = "16", .min = 1, .max = 256},
	{.name = "instance", .kind = CFG_STRING, .flags = CFG_NULL_IF_EMPTY,
	    .offset = AT(delivery.instance), .def = ""},
	{.name = "lease_ms", .kind = CFG_U32, .offset = AT(delivery.lease_ms),
	    .def = "30000", .min = 200, .max = 3600000},
	{NULL},
};

static const cfg_field web_fields[] = {
	{.name = "listen", .kind = CFG_STRING, .flags = CFG_NULL_IF_EMPTY,
	    .offset = AT(web.listen), .def = "", .check = check_web_listen},
	{.name = "root", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(web.root),
	    .def = ""},
	{.name = "passwords", .kind = CFG_STRING,
	    .flags = CFG_NONEMPTY | CFG_PATH, .offset = AT(web.passwords),
	    .def = "/var/lib/fedrpc/{domain}.passwords"},
	/* Empty: {domain}.sessions in the password file's folder (set once
	 * the whole file is read, see config_load.c). */
	{.name = "sessions", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(web.sessions),
	    .def = ""},
	{.name = "tls_cert", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(web.tls_cert),
	    .def = ""},
	{.name = "tls_key", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(web.tls_key),
	    .def = ""},
	{.name = "session_ttl", .kind = CFG_U32, .offset = AT(web.session_ttl),
	    .def = "43200", .min = 1, .max = 2592000},
	{.name = "login_failures", .kind = CFG_U32,
	    .offset = AT(web.login_failures), .def = "5", .min = 1,
	    .max = 1000},
	{NULL},
};

static const cfg_field limits_fields[] = {
	{.name = "max_message_size", .kind = CFG_SIZE,
	    .offset = AT(limits.max_message_size), .def = "4194304",
	    .min = 1024, .max = 268435456},
	{.name = "max_inflight_per_peer", .kind = CFG_U32,
	    .offset = AT(limits.max_inflight_per_peer), .def = "64", .min = 1,
	    .max = 65536},
	{.name = "rate_per_peer", .kind = CFG_DOUBLE,
	    .offset = AT(limits.rate_per_peer), .def = "200.0", .fmin = 0.001,
	    .fmax = 1000000.0},
	{.name = "rate_burst", .kind = CFG_U32,
	    .offset = AT(limits.rate_burst), .def = "400", .min = 1,
	    .max = 1000000},
	/* Applied by the wire protocol's own accept loop; nng 1.5.2's
	 * req0/rep0 TLS transport (FEDRPC_WIRE=reqrep) owns its accept
	 * loop and cannot: see docs/operations.md. */
	{.name = "handshake_timeout_ms", .kind = CFG_U32,
	    .offset = AT(limits.handshake_timeout_ms), .def = "5000", .min = 1,
	    .max = 600000,
	    .note = "applied on the wire protocol (the default), NOT with "
		    "FEDRPC_WIRE=reqrep: nng then holds a connection until "
		    "its TLS handshake ends or the peer leaves "
		    "(docs/operations.md)"},
	{.name = "workers", .kind = CFG_U32, .offset = AT(limits.workers),
	    .def = "8", .min = 1, .max = 1024},
	{.name = "contexts", .kind = CFG_U32, .offset = AT(limits.contexts),
	    .def = "64", .min = 1, .max = 65536},
	{NULL},
};

static const cfg_field storage_fields[] = {
	{.name = "adapter", .kind = CFG_ENUM, .offset = AT(storage.adapter),
	    .def = "sqlite", .choices = fedrpc_cfg_storage_adapters},
	{.name = "path", .kind = CFG_STRING, .flags = CFG_NONEMPTY | CFG_PATH,
	    .offset = AT(storage.path), .def = "/var/lib/fedrpc/{domain}.db"},
	{.name = "conninfo", .kind = CFG_STRING, .flags = CFG_NULL_IF_EMPTY,
	    .offset = AT(storage.conninfo), .def = ""},
	{.name = "module", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(storage.module),
	    .def = ""},
	{NULL},
};

static const cfg_field log_fields[] = {
	{.name = "level", .kind = CFG_ENUM, .offset = AT(log.level),
	    .def = "info", .choices = fedrpc_cfg_log_levels},
	{.name = "format", .kind = CFG_ENUM, .offset = AT(log.format),
	    .def = "text", .choices = fedrpc_cfg_log_formats},
	{.name = "file", .kind = CFG_STRING,
	    .flags = CFG_NULL_IF_EMPTY | CFG_PATH, .offset = AT(log.file),
	    .def = ""},
	{NULL},
};

static const cfg_field metrics_fields[] = {
	{.name = "listen", .kind = CFG_STRING, .flags = CFG_NULL_IF_EMPTY,
	    .offset = AT(metrics.listen), .def = "",
	    .check = check_metrics_listen},
	{NULL},
};

static const cfg_field api_fields[] = {
	{.name = "versions", .kind = CFG_U32_ARRAY, .offset = AT(api.versions),
	    .count_offset = AT(api.n_versions), .def = "1", .min = 1,
	    .max = 65535},
	{NULL},
};

/* Load order matters: `domain` (used by defaults) and `federation` (which
 * decides whether TLS files are required) come first. */
const cfg_field fedrpc_cfg_schema[] = {
	{.name = "domain", .kind = CFG_STRING,
	    .flags = CFG_REQUIRED | CFG_DOMAIN, .offset = AT(domain),
	    .check = check_domain},
	{.name = "federation", .kind = CFG_GROUP, .fields = federation_fields},
	{.name = "listen", .kind = CFG_STRING, .offset = AT(listen),
	    .def = "tls+tcp://0.0.0.0:8443", .check = check_listen},
	{.name = "listen_check_ms", .kind = CFG_U32,
	    .offset = AT(listen_check_ms), .def = "10000", .min = 0,
	    .max = 3600000},
	{.name = "local_api", .kind = CFG_STRING, .flags = CFG_IPC_PATH,
	    .offset = AT(local_api), .def = "ipc:///run/fedrpc/{domain}.sock",
	    .check = check_ipc},
	{.name = "tls", .kind = CFG_GROUP, .fields = tls_fields},
	{.name = "discovery", .kind = CFG_GROUP, .fields = discovery_fields},
	{.name = "client", .kind = CFG_GROUP, .fields = client_fields},
	{.name = "delivery", .kind = CFG_GROUP, .fields = delivery_fields},
	{.name = "web", .kind = CFG_GROUP, .fields = web_fields},
	{.name = "limits", .kind = CFG_GROUP, .fields = limits_fields},
	{.name = "storage", .kind = CFG_GROUP, .fields = storage_fields},
	{.name = "log", .kind = CFG_GROUP, .fields = log_fields},
	{.name = "metrics", .kind = CFG_GROUP, .fields = metrics_fields},
	{.name = "api", .kind = CFG_GROUP, .fields = api_fields},
	{NULL},
};
