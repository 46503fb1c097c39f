/*
 * The configuration file: every setting of a full file, the defaults of a
 * minimal one, each kind of error (with file, line and setting), relative
 * paths, and the allow-list and search-policy answers.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/config.h>

#include "testutil.h"

#define DATA FEDRPC_SOURCE_DIR "/tests/data/config"

/* The TLS lines every federating file needs. */
#define TLS "tls = { ca = \"ca.crt\"; cert = \"a.crt\"; key = \"a.key\"; };\n"

static fedrpc_config *
must_load_file(const char *path)
{
	fedrpc_config *cfg = NULL;
	fedrpc_status  st  = {0};

	cr_assert_eq(fedrpc_config_load_file(path, &cfg, &st), FEDRPC_OK,
	    "%s: %s", path, st.message);
	cr_assert_not_null(cfg);
	return cfg;
}

static fedrpc_config *
must_load(const char *text)
{
	fedrpc_config *cfg = NULL;
	fedrpc_status  st  = {0};

	cr_assert_eq(fedrpc_config_load_string(text, "t.conf", &cfg, &st),
	    FEDRPC_OK, "%s", st.message);
	return cfg;
}

/* Loads a file expected to fail; returns the message (static). */
static const char *
file_error(const char *name, fedrpc_code want)
{
	static fedrpc_status st;
	fedrpc_config       *cfg = (fedrpc_config *) 1;
	char                 path[PATH_MAX];

	snprintf(path, sizeof(path), DATA "/%s", name);
	cr_assert_eq(fedrpc_config_load_file(path, &cfg, &st), want,
	    "%s loaded: %s", name, st.message);
	cr_assert_null(cfg);
	return st.message;
}

/* Loads text expected to fail with INVALID_ARGUMENT; the message. */
static const char *
text_error(const char *text)
{
	static fedrpc_status st;
	fedrpc_config       *cfg = (fedrpc_config *) 1;

	cr_assert_eq(fedrpc_config_load_string(text, "t.conf", &cfg, &st),
	    FEDRPC_INVALID_ARGUMENT, "loaded: %s", text);
	cr_assert_null(cfg);
	return st.message;
}

static void
expect_file_error(const char *name, const char *where_what)
{
	char want[512];

	snprintf(want, sizeof(want), DATA "/%s%s", name, where_what);
	cr_assert_str_eq(file_error(name, FEDRPC_INVALID_ARGUMENT), want);
}

/* The data folder as the loader sees it (symlinks resolved). */
static const char *
data_dir(void)
{
	static char dir[PATH_MAX];

	cr_assert_not_null(realpath(DATA, dir));
	return dir;
}

static void
expect_path(const char *got, const char *rel)
{
	char want[PATH_MAX + 64];

	snprintf(want, sizeof(want), "%s/%s", data_dir(), rel);
	cr_assert_str_eq(got, want);
}

Test(config, full_file_sets_every_field)
{
	fedrpc_config *c = must_load_file(DATA "/full.conf");
	char           sock[PATH_MAX + 64];

	cr_assert_str_eq(c->source, DATA "/full.conf");
	cr_assert_str_eq(c->base_dir, data_dir());
	cr_assert_str_eq(c->domain, "a.example");

	cr_assert(c->federation.enabled);
	cr_assert_eq(c->federation.strategy, FEDRPC_STRATEGY_ALLOW_LIST);
	cr_assert_eq(c->federation.default_search_policy, FEDRPC_SEARCH_FULL);
	cr_assert_eq(c->federation.n_allow, 3);
	cr_assert_str_eq(c->federation.allow[0].domain, "b.example");
	cr_assert_eq(c->federation.allow[0].search_policy,
	    FEDRPC_SEARCH_EXACT_HANDLE);
	cr_assert_str_eq(c->federation.allow[1].domain, "c.example");
	cr_assert_eq(c->federation.allow[1].search_policy, FEDRPC_SEARCH_NONE);
	/* An entry without a policy takes default_search_policy. */
	cr_assert_str_eq(c->federation.allow[2].domain, "d.example");
	cr_assert_eq(c->federation.allow[2].search_policy, FEDRPC_SEARCH_FULL);

	cr_assert_str_eq(c->listen, "tls+tcp://127.0.0.1:9443");
	snprintf(sock, sizeof(sock), "ipc://%s/run/a.sock", data_dir());
	cr_assert_str_eq(c->local_api, sock);

	expect_path(c->tls.ca, "pki/ca.crt");
	expect_path(c->tls.cert, "pki/a.crt");
	cr_assert_str_eq(c->tls.key, "/etc/fedrpc/a.key");
	expect_path(c->tls.crl, "pki/ca.crl");
	cr_assert_eq(c->tls.min_version, FEDRPC_TLS_1_2);

	cr_assert_str_eq(c->discovery.nameserver, "127.0.0.1:5353");
	cr_assert_str_eq(c->discovery.service, "_wire-server-federator._tcp");
	cr_assert_eq(c->discovery.timeout_ms, 1500);
	cr_assert_eq(c->discovery.negative_ttl, 300);
	cr_assert_eq(c->discovery.n_statics, 2);
	cr_assert_str_eq(c->discovery.statics[0].domain, "b.example");
	cr_assert_str_eq(c->discovery.statics[0].host, "127.0.0.1");
	cr_assert_eq(c->discovery.statics[0].port, 8444);
	cr_assert_str_eq(c->discovery.statics[1].domain, "c.example");
	cr_assert_str_eq(c->discovery.statics[1].host, "::1");
	cr_assert_eq(c->discovery.statics[1].port, 8445);

	cr_assert_eq(c->client.connect_timeout_ms, 2500);
	cr_assert_eq(c->client.idle_timeout, 60);
	cr_assert_eq(c->client.backoff_initial_ms, 200);
	cr_assert_float_eq(c->client.backoff_multiplier, 2.0, 1e-12);
	cr_assert_float_eq(c->client.backoff_jitter, 0.5, 1e-12);
	cr_assert_eq(c->client.backoff_max_ms, 30000);

	cr_assert_eq(c->delivery.backoff_initial_ms, 50);
	cr_assert_eq(c->delivery.backoff_max_ms, 60000);
	cr_assert_eq(c->delivery.expiry, 86400);
	cr_assert_eq(c->delivery.wait_ms, 500);
	cr_assert_eq(c->delivery.workers, 2);
	cr_assert_str_eq(c->delivery.instance, "a-1");
	cr_assert_str_eq(c->web.listen, "https://0.0.0.0:8444");
	expect_path(c->web.root, "webroot");
	expect_path(c->web.passwords, "pw");
	expect_path(c->web.sessions, "sess");
	expect_path(c->web.tls_cert, "w.crt");
	expect_path(c->web.tls_key, "w.key");
	cr_assert_eq(c->web.session_ttl, 600);
	cr_assert_eq(c->web.login_failures, 7);

	cr_assert_eq(c->limits.max_message_size, 1048576);
	cr_assert_eq(c->limits.max_inflight_per_peer, 16);
	cr_assert_float_eq(c->limits.rate_per_peer, 12.5, 1e-12);
	cr_assert_eq(c->limits.rate_burst, 25);
	cr_assert_eq(c->limits.handshake_timeout_ms, 2000);
	cr_assert_eq(c->limits.workers, 4);
	cr_assert_eq(c->limits.contexts, 32);

	cr_assert_eq(c->storage.adapter, FEDRPC_STORAGE_POSTGRESQL);
	expect_path(c->storage.path, "data/a.db");
	cr_assert_str_eq(c->storage.conninfo, "host=/run/postgresql dbname=a");
	expect_path(c->storage.module, "adapters/libx.so");

	cr_assert_eq(c->log.level, FEDRPC_LOG_DEBUG);
	cr_assert_eq(c->log.format, FEDRPC_LOG_FORMAT_JSON);
	expect_path(c->log.file, "log/a.log");

	/* Sorted. */
	cr_assert_eq(c->api.n_versions, 2);
	cr_assert_eq(c->api.versions[0], 1);
	cr_assert_eq(c->api.versions[1], 2);
	fedrpc_config_free(c);
}

Test(config, minimal_file_gets_defaults)
{
	fedrpc_config *c = must_load_file(DATA "/minimal.conf");

	cr_assert_str_eq(c->domain, "a.example");
	cr_assert(c->federation.enabled);
	cr_assert_eq(c->federation.strategy, FEDRPC_STRATEGY_ALLOW_NONE);
	cr_assert_eq(c->federation.n_allow, 0);
	cr_assert_null(c->federation.allow);
	cr_assert_eq(c->federation.default_search_policy, FEDRPC_SEARCH_NONE);
	cr_assert_str_eq(c->listen, "tls+tcp://0.0.0.0:8443");
	cr_assert_str_eq(c->local_api, "ipc:///run/fedrpc/a.example.sock");
	expect_path(c->tls.ca, "ca.crt");
	expect_path(c->tls.cert, "a.crt");
	expect_path(c->tls.key, "a.key");
	cr_assert_null(c->tls.crl);
	cr_assert_eq(c->tls.min_version, FEDRPC_TLS_1_3);
	cr_assert_null(c->discovery.nameserver);
	cr_assert_str_eq(c->discovery.service, "_fedrpc._tcp");
	cr_assert_eq(c->discovery.timeout_ms, 3000);
	cr_assert_eq(c->discovery.negative_ttl, 30);
	cr_assert_eq(c->discovery.n_statics, 0);
	cr_assert_eq(c->client.connect_timeout_ms, 5000);
	cr_assert_eq(c->client.idle_timeout, 300);
	cr_assert_eq(c->client.backoff_initial_ms, 1000);
	cr_assert_float_eq(c->client.backoff_multiplier, 1.6, 1e-12);
	cr_assert_float_eq(c->client.backoff_jitter, 0.2, 1e-12);
	cr_assert_eq(c->client.backoff_max_ms, 120000);
	cr_assert_eq(c->delivery.backoff_initial_ms, 10);
	cr_assert_eq(c->delivery.backoff_max_ms, 300000);
	cr_assert_eq(c->delivery.expiry, 2592000);
	cr_assert_eq(c->delivery.wait_ms, 3000);
	cr_assert_eq(c->delivery.workers, 16);
	cr_assert_null(c->delivery.instance);
	cr_assert_eq(c->limits.max_message_size, 4194304);
	cr_assert_eq(c->limits.max_inflight_per_peer, 64);
	cr_assert_float_eq(c->limits.rate_per_peer, 200.0, 1e-12);
	cr_assert_eq(c->limits.rate_burst, 400);
	cr_assert_eq(c->limits.handshake_timeout_ms, 5000);
	cr_assert_eq(c->limits.workers, 8);
	cr_assert_eq(c->limits.contexts, 64);
	cr_assert_eq(c->storage.adapter, FEDRPC_STORAGE_SQLITE);
	cr_assert_str_eq(c->storage.path, "/var/lib/fedrpc/a.example.db");
	cr_assert_null(c->storage.conninfo);
	cr_assert_null(c->storage.module);
	cr_assert_eq(c->log.level, FEDRPC_LOG_INFO);
	cr_assert_eq(c->log.format, FEDRPC_LOG_FORMAT_TEXT);
	cr_assert_null(c->log.file);
	cr_assert_eq(c->api.n_versions, 1);
	cr_assert_eq(c->api.versions[0], 1);
	cr_assert_null(c->web.listen);
	cr_assert_null(c->web.root);
	cr_assert_str_eq(c->web.passwords, "/var/lib/fedrpc/a.example.passwords");
	cr_assert_str_eq(c->web.sessions, "/var/lib/fedrpc/a.example.sessions");
	cr_assert_null(c->web.tls_cert);
	cr_assert_null(c->web.tls_key);
	cr_assert_eq(c->web.session_ttl, 43200);
	cr_assert_eq(c->web.login_failures, 5);
	fedrpc_config_free(c);
}

/* The web client: plain HTTP on loopback only, HTTPS anywhere. */
Test(config, web_listen)
{
	const char *loopback[] = {"http://127.0.0.1:8080", "http://127.9.9.9:1",
	    "http://localhost:8080", "http://[::1]:8080",
	    "https://0.0.0.0:8443", "https://[::]:8443",
	    "https://web.example:443", NULL};

	for (int i = 0; loopback[i] != NULL; i++) {
		char           text[512];
		fedrpc_config *c;

		snprintf(text, sizeof(text),
		    "domain = \"a.example\";\n" TLS "web = { listen = \"%s\"; "
		    "tls_cert = \"w.crt\"; tls_key = \"w.key\"; passwords = "
		    "\"p\"; };\n",
		    loopback[i]);
		c = must_load(text);
		cr_assert_str_eq(c->web.listen, loopback[i]);
		cr_assert(strstr(c->web.passwords, "/p") != NULL);
		/* web.sessions unset: beside the password file. */
		cr_assert_eq(strlen(c->web.sessions),
		    strlen(c->web.passwords) - 1 + strlen("a.example.sessions"));
		cr_assert_eq(strncmp(c->web.sessions, c->web.passwords,
		                 strlen(c->web.passwords) - 1), 0, "%s",
		    c->web.sessions);
		cr_assert(strstr(c->web.tls_cert, "/w.crt") != NULL);
		fedrpc_config_free(c);
	}
	cr_assert_str_eq(text_error("domain = \"a.example\";\n" TLS
	                     "web = { listen = \"http://0.0.0.0:8080\"; };\n"),
	    "t.conf:3: setting 'web.listen' is plain HTTP on 0.0.0.0, which is "
	    "not a loopback address: use https:// with web.tls_cert and "
	    "web.tls_key");
	cr_assert(strstr(text_error("domain = \"a.example\";\n" TLS
	                     "web = { listen = \"tcp://127.0.0.1:8080\"; };\n"),
	    "must be an http:// (loopback) or https:// URL") != NULL);
	cr_assert(strstr(text_error("domain = \"a.example\";\n" TLS
	                     "web = { listen = \"http://127.0.0.1\"; };\n"),
	    "with a port number") != NULL);
}

Test(config, unknown_top_level_setting)
{
	expect_file_error("unknown_top.conf",
	    ":3: unknown setting 'domian' (did you mean 'domain'?)");
}

Test(config, unknown_nested_setting_with_suggestion)
{
	expect_file_error("unknown_nested.conf",
	    ":5: unknown setting 'federation.stratgy' (did you mean "
	    "'strategy'?)");
}

Test(config, wrong_type)
{
	expect_file_error("wrong_type.conf",
	    ":5: setting 'limits.max_message_size' must be an integer, got a "
	    "string");
}

Test(config, bad_enum_value)
{
	expect_file_error("bad_enum.conf",
	    ":3: setting 'federation.strategy' must be \"allowAll\", "
	    "\"allowList\" or \"allowNone\", got \"allowlist\" (did you mean "
	    "\"allowList\"?)");
}

Test(config, bad_domain)
{
	expect_file_error("bad_domain.conf",
	    ":2: setting 'domain': '-a.example' is not a valid domain name: "
	    "label starts with '-'");
}

Test(config, listen_must_be_tls)
{
	expect_file_error("plain_listen.conf",
	    ":4: setting 'listen' must be a tls+tcp:// URL: the federation "
	    "listener is mutual TLS only (got 'tcp://0.0.0.0:8443')");
}

Test(config, missing_domain)
{
	expect_file_error(
	    "missing_domain.conf", ": missing required setting 'domain'");
}

Test(config, syntax_error)
{
	expect_file_error("syntax.conf", ":3: syntax error");
}

Test(config, missing_file)
{
	cr_assert_str_eq(file_error("no-such.conf", FEDRPC_NOT_FOUND),
	    DATA "/no-such.conf: cannot open: No such file or directory");
}

Test(config, errors_in_text_name_line_and_setting)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"domain = \"a.example\";\n" TLS "federation = 5;",
	        "t.conf:3: setting 'federation' must be a group, { ... }, "
	        "got an integer"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { allow = ( \"b.example\" ); };",
	        "t.conf:3: setting 'federation.allow[0]' must be a group, "
	        "{ ... }, got a string"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { allow = ( { domain = \"b.example\";\n"
	     "  serch_policy = \"no_search\"; } ); };",
	        "t.conf:4: unknown setting 'federation.allow[0].serch_policy' "
	        "(did you mean 'search_policy'?)"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { allow = ( { search_policy = \"no_search\"; } ); };",
	        "t.conf:3: missing required setting 'federation.allow[0]."
	        "domain'"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { allow = ( { domain = \"b.example\"; },\n"
	     "  { domain = \"B.EXAMPLE\"; } ); };",
	        "t.conf:4: setting 'federation.allow[1]': domain 'b.example' "
	        "is listed twice"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { listen = \"tls+tcp://:1\"; };",
	        "t.conf:3: unknown setting 'federation.listen' (did you mean "
	        "'listen'?)"},
	    {"domain = \"a.example\";\n" TLS "limits = { workers = 0; };",
	        "t.conf:3: setting 'limits.workers' must be between 1 and "
	        "1024, got 0"},
	    {"domain = \"a.example\";\n" TLS
	     "limits = {\n  max_message_size = 5000000000; };",
	        "t.conf:4: integer 5000000000 is out of range"},
	    {"domain = \"a.example\";\n" TLS "limits = { workers = 2.5; };",
	        "t.conf:3: setting 'limits.workers' must be an integer, got "
	        "a floating-point number"},
	    {"domain = \"a.example\";\n" TLS
	     "limits = { rate_per_peer = \"fast\"; };",
	        "t.conf:3: setting 'limits.rate_per_peer' must be a number, "
	        "got a string"},
	    {"domain = \"a.example\";\n" TLS
	     "federation = { enabled = \"yes\"; };",
	        "t.conf:3: setting 'federation.enabled' must be a boolean "
	        "(true or false), got a string"},
	    {"domain = \"a.example\";\n" TLS
	     "discovery = { negative_ttl = 301; };",
	        "t.conf:3: setting 'discovery.negative_ttl' must be between 0 "
	        "and 300, got 301"},
	    {"domain = \"a.example\";\n" TLS
	     "discovery = { nameserver = \"dns.example:53\"; };",
	        "t.conf:3: setting 'discovery.nameserver' must be an IP "
	        "address with an optional port, like \"127.0.0.1:5353\" or "
	        "\"[::1]:53\" (got 'dns.example:53')"},
	    {"domain = \"a.example\";\n" TLS
	     "discovery = { service = \"fedrpc\"; };",
	        "t.conf:3: setting 'discovery.service' must be an SRV service "
	        "label like \"_fedrpc._tcp\" (got 'fedrpc')"},
	    {"domain = \"a.example\";\n" TLS
	     "discovery = { static = ( { domain = \"b.example\";\n"
	     "  host = \"127.0.0.1\"; port = 0; } ); };",
	        "t.conf:4: setting 'discovery.static[0].port' must be between "
	        "1 and 65535, got 0"},
	    {"domain = \"a.example\";\n" TLS "listen = \"tls+tcp://0.0.0.0\";",
	        "t.conf:3: setting 'listen' must be tls+tcp://HOST:PORT with a "
	        "port number (got 'tls+tcp://0.0.0.0')"},
	    {"domain = \"a.example\";\n" TLS "listen = \"tls+tcp://[::1]:70000\";",
	        "t.conf:3: setting 'listen' must be tls+tcp://HOST:PORT with a "
	        "port number (got 'tls+tcp://[::1]:70000')"},
	    {"domain = \"a.example\";\n" TLS
	     "local_api = \"tcp://127.0.0.1:1\";",
	        "t.conf:3: setting 'local_api' must be an ipc:// URL with a "
	        "socket path (got 'tcp://127.0.0.1:1')"},
	    {"domain = \"a.example\";\ntls = { ca = \"ca.crt\"; cert = "
	     "\"a.crt\"; };",
	        "t.conf:2: missing required setting 'tls.key' (needed while "
	        "federation is enabled)"},
	    {"domain = \"a.example\";",
	        "t.conf: missing required setting 'tls.ca' (needed while "
	        "federation is enabled)"},
	    {"domain = \"a.example\";\ntls = { ca = \"\"; cert = \"a.crt\"; "
	     "key = \"a.key\"; };",
	        "t.conf:2: setting 'tls.ca' must not be empty"},
	    {"domain = \"a.example\";\n" TLS
	     "log = { level = \"info\"; };\n}",
	        "t.conf:4: syntax error"},
	    {"domain = \"a.example\";\n" TLS "domain = \"b.example\";",
	        "t.conf:3: duplicate setting name"},
	    {"domain = \"a..example\";\n" TLS,
	        "t.conf:1: setting 'domain': 'a..example' is not a valid "
	        "domain name: empty label"},
	    {"domain = \"a_b.example\";\n" TLS,
	        "t.conf:1: setting 'domain': 'a_b.example' is not a valid "
	        "domain name: '_' is not allowed in a domain"},
	    {"domain = \"10.0.0.1\";\n" TLS,
	        "t.conf:1: setting 'domain': '10.0.0.1' is not a valid "
	        "domain name: final label is all digits (an address, not a "
	        "domain)"},
	    {"domain = \"a.example\";\n" TLS
	     "storage = { adapter = \"postgresql\"; };",
	        "t.conf:3: setting 'storage.conninfo' is required when "
	        "'storage.adapter' is \"postgresql\""},
	    {"domain = \"a.example\";\n" TLS
	     "storage = { adapter = \"module\"; module = \"\"; };",
	        "t.conf:3: setting 'storage.module' is required when "
	        "'storage.adapter' is \"module\""},
	    {"domain = \"a.example\";\n" TLS
	     "client = { backoff_initial_ms = 5000;\n backoff_max_ms = 10; };",
	        "t.conf:4: setting 'client.backoff_max_ms' (10) must not be "
	        "below 'client.backoff_initial_ms' (5000)"},
	    {"domain = \"a.example\";\n" TLS "api = { versions = [1, 2, 1]; };",
	        "t.conf:3: setting 'api.versions' lists 1 twice"},
	    {"domain = \"a.example\";\n" TLS "api = { versions = []; };",
	        "t.conf:3: setting 'api.versions' must not be empty"},
	    {"domain = \"a.example\";\n" TLS "api = { versions = 1; };",
	        "t.conf:3: setting 'api.versions' must be an array of "
	        "integers, [ ... ], got an integer"},
	    {"domain = \"a.example\";\n" TLS "log = { level = \"verbose\"; };",
	        "t.conf:3: setting 'log.level' must be \"debug\", \"info\", "
	        "\"warn\", \"error\" or \"off\", got \"verbose\""},
	    {"domain = \"a.example\";\n" TLS "service = \"_x._tcp\";",
	        "t.conf:3: unknown setting 'service' (did you mean "
	        "'discovery.service'?)"},
	    {"domain = \"a.example\";\n" TLS "zzz = 1;",
	        "t.conf:3: unknown setting 'zzz'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_str_eq(text_error(cases[i].text), cases[i].want,
		    "case %zu", i);
}

Test(config, include_errors_name_the_included_file)
{
	char *dir = tu_tmpdir("cfg-inc");
	char  main_path[PATH_MAX], want[PATH_MAX + 128];
	const char *msg;

	cr_assert(tu_write_file(tu_path(dir, "extra.conf"),
	    "# included\nlimits = { wrkers = 2; };\n"));
	cr_assert(tu_write_file(tu_path(dir, "a.conf"),
	    "domain = \"a.example\";\n" TLS "@include \"extra.conf\"\n"));
	snprintf(main_path, sizeof(main_path), "%s", tu_path(dir, "a.conf"));
	{
		fedrpc_config *cfg = NULL;
		fedrpc_status  st  = {0};

		cr_assert_eq(fedrpc_config_load_file(main_path, &cfg, &st),
		    FEDRPC_INVALID_ARGUMENT);
		msg = st.message;
		snprintf(want, sizeof(want),
		    "%s/extra.conf:2: unknown setting 'limits.wrkers' (did you "
		    "mean 'workers'?)", dir);
		cr_assert_str_eq(msg, want);
	}
	tu_rmrf(dir);
	free(dir);
}

Test(config, federation_disabled_needs_no_tls)
{
	fedrpc_config *c = must_load("domain = \"a.example\";\n"
	                             "federation = { enabled = false; };");

	cr_assert_null(c->tls.ca);
	cr_assert_not(fedrpc_config_domain_allowed(c, "b.example"));
	fedrpc_config_free(c);
}

Test(config, relative_paths_follow_the_file)
{
	char *dir = tu_tmpdir("cfg-rel");
	char  sub[PATH_MAX], cwd[PATH_MAX], real[PATH_MAX], want[PATH_MAX * 2];
	fedrpc_config *c;

	cr_assert(realpath(dir, real) != NULL);
	snprintf(sub, sizeof(sub), "%s/etc", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert(tu_write_file(tu_path(sub, "a.conf"),
	    "domain = \"a.example\";\n" TLS
	    "local_api = \"ipc://a.sock\";\n"
	    "storage = { path = \"../db/a.db\"; };\n"
	    "log = { file = \"/var/log/a.log\"; };\n"));
	/* Loaded by a path relative to the working folder. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	c = must_load_file("etc/a.conf");
	cr_assert_eq(chdir(cwd), 0);

	snprintf(want, sizeof(want), "%s/etc", real);
	cr_assert_str_eq(c->base_dir, want);
	snprintf(want, sizeof(want), "%s/etc/ca.crt", real);
	cr_assert_str_eq(c->tls.ca, want);
	snprintf(want, sizeof(want), "%s/etc/../db/a.db", real);
	cr_assert_str_eq(c->storage.path, want);
	snprintf(want, sizeof(want), "ipc://%s/etc/a.sock", real);
	cr_assert_str_eq(c->local_api, want);
	cr_assert_str_eq(c->log.file, "/var/log/a.log");
	fedrpc_config_free(c);
	tu_rmrf(dir);
	free(dir);
}

Test(config, string_paths_follow_the_working_folder)
{
	char           cwd[PATH_MAX], want[PATH_MAX + 16];
	fedrpc_config *c = NULL;
	fedrpc_status  st = {0};

	cr_assert_eq(fedrpc_config_load_string(
	                 "domain = \"a.example\";\n" TLS, NULL, &c, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/ca.crt", cwd);
	cr_assert_str_eq(c->tls.ca, want);
	cr_assert_str_eq(c->source, "<string>");
	fedrpc_config_free(c);

	cr_assert_eq(fedrpc_config_load_string("x = 1;", NULL, &c, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_str_eq(st.message, "<string>:1: unknown setting 'x'");
}

Test(config, ipc_path_too_long)
{
	char text[512];
	char longname[120];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(text, sizeof(text),
	    "domain = \"a.example\";\n" TLS "local_api = \"ipc:///%s\";",
	    longname);
	cr_assert_str_eq(text_error(text),
	    "t.conf:3: setting 'local_api': socket path is 120 bytes long, at "
	    "most 107 fit");
}

/* A config with the given federation group. */
static fedrpc_config *
with_federation(const char *group)
{
	char text[1024];

	snprintf(text, sizeof(text),
	    "domain = \"a.example\";\n" TLS "federation = %s;", group);
	return must_load(text);
}

Test(config, allow_all)
{
	fedrpc_config *c = with_federation("{ strategy = \"allowAll\"; }");

	cr_assert(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert(fedrpc_config_domain_allowed(c, "anything.example"));
	cr_assert_not(fedrpc_config_domain_allowed(c, "not a domain"));
	cr_assert_not(fedrpc_config_domain_allowed(c, NULL));
	fedrpc_config_free(c);
}

Test(config, allow_list)
{
	fedrpc_config *c = with_federation(
	    "{ strategy = \"allowList\"; allow = ( { domain = \"b.example\"; },"
	    " { domain = \"C.Example\"; } ); }");

	cr_assert(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert(fedrpc_config_domain_allowed(c, "c.example"));
	cr_assert_not(fedrpc_config_domain_allowed(c, "d.example"));
	cr_assert_not(fedrpc_config_domain_allowed(c, "example"));
	fedrpc_config_free(c);
}

Test(config, allow_none)
{
	fedrpc_config *c = with_federation(
	    "{ strategy = \"allowNone\"; allow = ( { domain = \"b.example\"; "
	    "search_policy = \"full_search\"; } ); }");

	cr_assert_not(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert_eq(fedrpc_config_search_policy_for(c, "b.example"),
	    FEDRPC_SEARCH_NONE);
	fedrpc_config_free(c);
}

Test(config, federation_disabled_allows_nobody)
{
	fedrpc_config *c = with_federation(
	    "{ enabled = false; strategy = \"allowAll\"; allow = ( { domain = "
	    "\"b.example\"; search_policy = \"full_search\"; } ); }");

	cr_assert_not(c->federation.enabled);
	cr_assert_not(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert_not(fedrpc_config_domain_allowed(c, "c.example"));
	cr_assert_eq(fedrpc_config_search_policy_for(c, "b.example"),
	    FEDRPC_SEARCH_NONE);
	fedrpc_config_free(c);
}

Test(config, search_policy_for_listed_and_unlisted_domains)
{
	fedrpc_config *c = with_federation(
	    "{ strategy = \"allowAll\"; default_search_policy = "
	    "\"exact_handle_search\"; allow = ( { domain = \"b.example\"; "
	    "search_policy = \"full_search\"; }, { domain = \"c.example\"; "
	    "search_policy = \"no_search\"; } ); }");

	cr_assert_eq(fedrpc_config_search_policy_for(c, "b.example"),
	    FEDRPC_SEARCH_FULL);
	cr_assert_eq(fedrpc_config_search_policy_for(c, "c.example"),
	    FEDRPC_SEARCH_NONE);
	cr_assert_eq(fedrpc_config_search_policy_for(c, "d.example"),
	    FEDRPC_SEARCH_EXACT_HANDLE);
	fedrpc_config_free(c);

	/* Under allowList an unlisted domain is not allowed at all. */
	c = with_federation("{ strategy = \"allowList\"; default_search_policy "
	                    "= \"full_search\"; allow = ( { domain = "
	                    "\"b.example\"; } ); }");
	cr_assert_eq(fedrpc_config_search_policy_for(c, "b.example"),
	    FEDRPC_SEARCH_FULL);
	cr_assert_eq(fedrpc_config_search_policy_for(c, "d.example"),
	    FEDRPC_SEARCH_NONE);
	fedrpc_config_free(c);
}

Test(config, domains_ignore_case_and_final_dot)
{
	fedrpc_config *c = must_load(
	    "domain = \"A.EXAMPLE\";\n" TLS
	    "federation = { strategy = \"allowList\"; allow = ( { domain = "
	    "\"B.Example\"; search_policy = \"full_search\"; } ); };\n"
	    "discovery = { static = ( { domain = \"B.EXAMPLE.\"; host = "
	    "\"127.0.0.1\"; port = 1; } ); };");

	cr_assert_str_eq(c->domain, "a.example");
	cr_assert_str_eq(c->federation.allow[0].domain, "b.example");
	cr_assert_str_eq(c->discovery.statics[0].domain, "b.example");
	cr_assert(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert(fedrpc_config_domain_allowed(c, "B.EXAMPLE"));
	cr_assert(fedrpc_config_domain_allowed(c, "b.ExAmPlE"));
	cr_assert(fedrpc_config_domain_allowed(c, "b.example."));
	cr_assert_not(fedrpc_config_domain_allowed(c, "b.example.."));
	cr_assert_eq(fedrpc_config_search_policy_for(c, "B.example"),
	    FEDRPC_SEARCH_FULL);
	fedrpc_config_free(c);
}

Test(config, accepted_value_forms)
{
	fedrpc_config *c = must_load(
	    "domain = \"a.example\";\n" TLS
	    "listen = \"tls+tcp://[::1]:0\";\n"
	    "discovery = { nameserver = \"[::1]:53\"; };\n"
	    "limits = { rate_per_peer = 50; max_message_size = 65536L; };\n"
	    "federation = { allow = []; };\n"
	    "api = { versions = (3, 1); };\n"
	    "storage = { path = \":memory:\"; };");

	cr_assert_str_eq(c->listen, "tls+tcp://[::1]:0");
	cr_assert_str_eq(c->discovery.nameserver, "[::1]:53");
	cr_assert_float_eq(c->limits.rate_per_peer, 50.0, 1e-12);
	cr_assert_eq(c->limits.max_message_size, 65536);
	cr_assert_eq(c->federation.n_allow, 0);
	cr_assert_eq(c->api.versions[0], 1);
	cr_assert_eq(c->api.versions[1], 3);
	cr_assert_str_eq(c->storage.path, ":memory:");
	fedrpc_config_free(c);

	static const char *const listens[] = {"tls+tcp://*:8443",
	    "tls+tcp://:8443", "tls+tcp://localhost:1",
	    "tls+tcp://fed.a.example:8443"};
	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text),
		    "domain = \"a.example\";\n" TLS "listen = \"%s\";",
		    listens[i]);
		c = must_load(text);
		cr_assert_str_eq(c->listen, listens[i]);
		fedrpc_config_free(c);
	}
}

Test(config, tls_opts_from_config)
{
	fedrpc_config  *c = must_load_file(DATA "/full.conf");
	fedrpc_tls_opts o;

	memset(&o, 0xff, sizeof(o));
	fedrpc_config_tls_opts(c, &o);
	cr_assert_eq(o.ca_file, c->tls.ca);
	cr_assert_eq(o.cert_file, c->tls.cert);
	cr_assert_eq(o.key_file, c->tls.key);
	cr_assert_eq(o.crl_file, c->tls.crl);
	cr_assert_eq(o.min_version, FEDRPC_TLS_1_2);
	cr_assert_eq(o.max_version, FEDRPC_TLS_1_3);
	cr_assert_null(o.server_name);
	cr_assert_not(o.peer_cert_optional);
	fedrpc_config_free(c);
}

/* The printed configuration loads back to one that prints the same. */
static void
check_print_round_trip(const char *path)
{
	fedrpc_config *c = must_load_file(path), *again;
	char          *first = NULL, *second = NULL;
	size_t         n1, n2;
	FILE          *f = open_memstream(&first, &n1);

	fedrpc_config_print(c, f);
	fclose(f);
	again = must_load(first);
	f     = open_memstream(&second, &n2);
	fedrpc_config_print(again, f);
	fclose(f);
	/* Only the header line (naming the source) differs. */
	cr_assert_str_eq(strchr(first, '\n'), strchr(second, '\n'));
	cr_assert(strstr(first, "domain = \"a.example\";\n") != NULL);
	fedrpc_config_free(c);
	fedrpc_config_free(again);
	free(first);
	free(second);
}

Test(config, print_round_trips)
{
	check_print_round_trip(DATA "/full.conf");
	check_print_round_trip(DATA "/minimal.conf");
}

Test(config, print_shows_effective_values)
{
	fedrpc_config *c = must_load_file(DATA "/full.conf");
	char          *out = NULL;
	size_t         n;
	FILE          *f = open_memstream(&out, &n);

	fedrpc_config_print(c, f);
	fclose(f);
	cr_assert(strstr(out, "  strategy = \"allowList\";\n") != NULL, "%s",
	    out);
	cr_assert(strstr(out, "{ domain = \"c.example\"; search_policy = "
	                      "\"no_search\"; }") != NULL, "%s", out);
	cr_assert(strstr(out, "  backoff_multiplier = 2.0;\n") != NULL, "%s",
	    out);
	cr_assert(strstr(out, "  rate_per_peer = 12.5;\n") != NULL, "%s", out);
	cr_assert(strstr(out, "  versions = [1, 2];\n") != NULL, "%s", out);
	cr_assert(strstr(out, "  min_version = \"1.2\";\n") != NULL, "%s", out);
	/* A setting one transport does not apply says so. */
	cr_assert(strstr(out, "  handshake_timeout_ms = 2000;  # applied on "
	                      "the wire protocol (the default), NOT with "
	                      "FEDRPC_WIRE=reqrep: ") != NULL,
	    "%s", out);
	fedrpc_config_free(c);
	free(out);
}

Test(config, example_file_loads)
{
	fedrpc_config *c = must_load_file(FEDRPC_SOURCE_DIR
	    "/examples/federator.conf");

	cr_assert_str_eq(c->domain, "a.example");
	cr_assert_eq(c->federation.strategy, FEDRPC_STRATEGY_ALLOW_LIST);
	cr_assert(fedrpc_config_domain_allowed(c, "b.example"));
	cr_assert_eq(fedrpc_config_search_policy_for(c, "b.example"),
	    FEDRPC_SEARCH_EXACT_HANDLE);
	fedrpc_config_free(c);
}

Test(config, enum_names_round_trip)
{
	for (int i = 0; i <= 2; i++) {
		cr_assert_eq(fedrpc_strategy_parse(fedrpc_strategy_name(i)), i);
		cr_assert_eq(fedrpc_search_policy_parse(
		                 fedrpc_search_policy_name(i)), i);
		cr_assert_eq(fedrpc_storage_adapter_parse(
		                 fedrpc_storage_adapter_name(i)), i);
	}
	for (int i = 0; i <= 1; i++)
		cr_assert_eq(fedrpc_log_format_parse(fedrpc_log_format_name(i)),
		    i);
	cr_assert_str_eq(fedrpc_strategy_name(FEDRPC_STRATEGY_ALLOW_ALL),
	    "allowAll");
	cr_assert_str_eq(fedrpc_search_policy_name(FEDRPC_SEARCH_EXACT_HANDLE),
	    "exact_handle_search");
	cr_assert_eq(fedrpc_strategy_parse("allowSome"), -1);
	cr_assert_eq(fedrpc_strategy_parse(NULL), -1);
	cr_assert_str_eq(fedrpc_tls_version_name(FEDRPC_TLS_DEFAULT), "1.3");
	cr_assert_str_eq(fedrpc_tls_version_name(FEDRPC_TLS_1_2), "1.2");
	cr_assert_eq(fedrpc_tls_version_parse("1.3"), FEDRPC_TLS_1_3);
	cr_assert_eq(fedrpc_tls_version_parse("1.0"), -1);
	cr_assert_str_eq(fedrpc_strategy_name((fedrpc_strategy) 42), "unknown");
}

Test(config, domain_syntax)
{
	static const char *const good[] = {"a.example", "A.Example",
	    "x-1.b2.example", "localhost", "a.b.c.d.e.f.example", "1.example",
	    "a.example." /* the final dot is dropped, as the loader does */};
	static const char *const bad[] = {"", ".", "a..", ".a", "a..b",
	    "-a.example", "a-.example", "a_b.example", "a b", "1.2.3.4",
	    "a.example/x", "ä.example"};
	char long_label[80], long_name[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(fedrpc_domain_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(fedrpc_domain_valid(bad[i]), "%s", bad[i]);
	cr_expect_not(fedrpc_domain_valid(NULL));

	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".example");
	cr_expect_not(fedrpc_domain_valid(long_label)); /* 64-byte label */
	cr_expect(fedrpc_domain_valid(long_label + 1)); /* 63 bytes is fine */
	for (size_t i = 0; i < 254; i += 2)
		memcpy(long_name + i, "a.", 2);
	strcpy(long_name + 254, "x");
	cr_expect_not(fedrpc_domain_valid(long_name)); /* 255 bytes */
	long_name[252] = '\0';                         /* 252 bytes */
	long_name[251] = 'b';
	cr_expect(fedrpc_domain_valid(long_name));
}

/* The metrics endpoint: off unless set, and then loopback only. */
Test(config, metrics_listen_loopback_only)
{
	fedrpc_config *c = must_load("domain = \"a.example\";\n"
				     "federation = { enabled = false; };\n");
	const char *msg;

	cr_assert_null(c->metrics.listen);
	fedrpc_config_free(c);
	c = must_load("domain = \"a.example\";\n"
		      "federation = { enabled = false; };\n"
		      "metrics = { listen = \"127.0.0.1:9464\"; };\n");
	cr_assert_str_eq(c->metrics.listen, "127.0.0.1:9464");
	fedrpc_config_free(c);
	c = must_load("domain = \"a.example\";\n"
		      "federation = { enabled = false; };\n"
		      "metrics = { listen = \"[::1]:9464\"; };\n");
	cr_assert_str_eq(c->metrics.listen, "[::1]:9464");
	fedrpc_config_free(c);
	msg = text_error("domain = \"a.example\";\n"
			 "federation = { enabled = false; };\n"
			 "metrics = { listen = \"0.0.0.0:9464\"; };\n");
	cr_assert_not_null(strstr(msg, "t.conf:3: setting 'metrics.listen' "
	                               "must be a loopback address"),
	    "%s", msg);
	msg = text_error("domain = \"a.example\";\n"
			 "federation = { enabled = false; };\n"
			 "metrics = { listen = \"localhost\"; };\n");
	cr_assert_not_null(strstr(msg, "must be HOST:PORT on a loopback "
	                               "address"),
	    "%s", msg);
}

/* A string that lost its closing quote is reported where it starts, not
 * where libconfig's reading of it fails. */
Test(config, unterminated_string_is_reported_at_its_line)
{
	fedrpc_config *c;
	fedrpc_status  st = {0};

	cr_assert_eq(fedrpc_config_load_string(
	                 "domain = \"a.example\";\n"
	                 "# 2\n# 3\n# 4\n# 5\n# 6\n"
	                 "log = { level = \"info; };\n"
	                 "# 8\n# 9\n# 10\n# 11\n# 12\n"
	                 "storage = { adapter = \"sqlite\"; path = \"x.db\"; };\n",
	                 "t.conf", &c, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "t.conf:7: unterminated string") ==
	        st.message,
	    "%s", st.message);
	cr_assert(strstr(st.message, "up to line 13") != NULL, "%s",
	    st.message);
	/* A quote in a comment, an escaped quote: no false alarm. */
	cr_assert_eq(fedrpc_config_load_string(
	                 "# it's \"quoted\n"
	                 "domain = \"a.example\"; /* \" */\n"
	                 "log = { file = \"a\\\"b\"; };\n"
	                 "oops\n",
	                 "t.conf", &c, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert_null(strstr(st.message, "unterminated"), "%s", st.message);
}
