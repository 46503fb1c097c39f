/*
 * fedctl discover: how a domain is found and reached. Prints the domain's
 * SRV records and their targets' addresses as the federator's resolver
 * sees them, and with --connect makes a mutual-TLS connection to each
 * target and shows who answered (certificate names, TLS version, cipher,
 * handshake time). --json gives the same as one JSON object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>

#include <fedrpc/config.h>
#include <fedrpc/discovery.h>
#include <fedrpc/domain.h>
#include <fedrpc/log.h>

#include "fedctl.h"

#define DEFAULT_TIMEOUT_MS 5000

/* The command line, after the config file filled the gaps. */
typedef struct discover_opts {
	const char *domain;
	const char *nameserver; /* NULL: config, else resolv.conf */
	const char *service;    /* NULL: config, else _fedrpc._tcp */
	const char *config;     /* config file, or NULL */
	const char *ca, *cert, *key;
	bool        connect;
	bool        json;
	uint32_t    timeout_ms; /* DNS lookup; each connection attempt */
} discover_opts;

/* What --connect learnt about one target. */
typedef struct target_result {
	bool          tried;
	fedrpc_code   code;
	char          message[FEDRPC_STATUS_MESSAGE_MAX];
	const char   *address;    /* the address that answered (or last tried) */
	uint64_t      connect_us;
	fedrpc_peer   peer;
} target_result;

static void
discover_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl discover DOMAIN [--nameserver ADDR:PORT] "
	    "[--service LABEL]\n"
	    "                       [--config FILE] [--connect --ca F --cert F "
	    "--key F]\n"
	    "                       [--timeout MS] [--json]\n"
	    "\n"
	    "Looks up DOMAIN's SRV record (_fedrpc._tcp.DOMAIN by default) and "
	    "its targets'\n"
	    "addresses, as the federator does, and prints them.\n"
	    "\n"
	    "  --nameserver ADDR:PORT  DNS server to ask (default: the config "
	    "file's\n"
	    "                          discovery.nameserver, else "
	    "/etc/resolv.conf)\n"
	    "  --service LABEL         SRV label, e.g. _wire-server-federator._tcp\n"
	    "  --config FILE           take nameserver, service, static routes "
	    "and TLS\n"
	    "                          files from a federator configuration\n"
	    "  --connect               dial every target with mutual TLS and "
	    "show the\n"
	    "                          server's certificate names, TLS version, "
	    "cipher\n"
	    "                          and handshake time\n"
	    "  --ca F --cert F --key F our CA bundle, certificate and key for "
	    "--connect\n"
	    "  --timeout MS            for the lookup and each connection "
	    "(default 5000)\n"
	    "  --json                  print one JSON object instead of text\n"
	    "\n"
	    "exit codes: 0 found (and, with --connect, at least one target "
	    "answered);\n"
	    "            1 lookup failed or no target answered; 2 bad command "
	    "line\n");
}

static int
usage_error(const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	fprintf(stderr, "fedctl discover: %s\n(see fedctl discover --help)\n",
	    msg);
	fedctl_usage_json("discover: %s", msg);
	return FEDCTL_EXIT_USAGE;
}

static int
parse(int argc, char **argv, discover_opts *o)
{
	static const struct option longs[] = {
	    {"nameserver", required_argument, NULL, 'n'},
	    {"service", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"connect", no_argument, NULL, 'C'},
	    {"ca", required_argument, NULL, 'A'},
	    {"cert", required_argument, NULL, 'R'},
	    {"key", required_argument, NULL, 'K'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	optind        = 1;
	opterr        = 0;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'n':
			o->nameserver = optarg;
			break;
		case 's':
			o->service = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'C':
			o->connect = true;
			break;
		case 'A':
			o->ca = optarg;
			break;
		case 'R':
			o->cert = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 't':
			o->timeout_ms = (uint32_t) strtoul(optarg, &end, 10);
			if (*end != '\0' || o->timeout_ms == 0)
				return usage_error("bad --timeout \"%s\"", optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			discover_help(stdout);
			return -1;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("%s", optind >= argc ? "which domain?"
							 : "one domain at a time");
	o->domain = argv[optind];
	return FEDCTL_EXIT_OK;
}

/* Targets in the order an operator reads them: priority, then weight. */
static int
target_cmp(const void *a, const void *b)
{
	const fedrpc_srv_target *x = *(const fedrpc_srv_target *const *) a;
	const fedrpc_srv_target *y = *(const fedrpc_srv_target *const *) b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return strcmp(x->host, y->host);
}

/* Dials each address of t until one answers. */
static void
connect_target(const fedrpc_srv_target *t, const fedrpc_tls_opts *tls,
    uint32_t timeout_ms, target_result *r)
{
	r->tried = true;
	r->code  = FEDRPC_UNAVAILABLE;
	snprintf(r->message, sizeof(r->message), "%s has no address", t->host);
	for (size_t i = 0; i < t->n_addrs; i++) {
		char            url[320];
		fedrpc_tls_opts o  = *tls;
		fedrpc_status   st = {0};

		if (fedrpc_srv_target_url(t, i, "tls+tcp", url, sizeof(url)) < 0)
			continue;
		o.server_name = t->host;
		r->address    = t->addrs[i];
		r->code       = fedrpc_target_check(
                    url, &o, timeout_ms, &r->peer, &r->connect_us, &st);
		snprintf(r->message, sizeof(r->message), "%s", st.message);
		if (r->code == FEDRPC_OK)
			return;
	}
}

static void
print_text(const discover_opts *o, const fedrpc_srv_answer *a,
    const char *nameserver, const fedrpc_srv_target *const *ts,
    const target_result *res)
{
	printf("domain      %s\n", a->domain);
	if (a->is_static)
		printf("record      static route (no DNS)\n");
	else
		printf("record      %s  (nameserver %s, TTL %u s)\n", a->qname,
		    nameserver, a->ttl);
	printf("targets     %zu\n", a->n_targets);
	for (size_t i = 0; i < a->n_targets; i++) {
		const fedrpc_srv_target *t = ts[i];
		const target_result     *r = &res[i];

		printf("  %s:%u  priority %u  weight %u  TTL %u s\n", t->host,
		    (unsigned) t->port, (unsigned) t->priority,
		    (unsigned) t->weight, t->ttl);
		printf("    addresses  ");
		for (size_t j = 0; j < t->n_addrs; j++)
			printf("%s%s", j ? ", " : "", t->addrs[j]);
		printf("%s\n", t->n_addrs == 0 ? "(none)" : "");
		if (!o->connect)
			continue;
		if (r->code != FEDRPC_OK) {
			printf("    connect    failed: %s (%s)\n", r->message,
			    fedrpc_code_name(r->code));
			continue;
		}
		printf("    connect    ok via %s in %.1f ms\n", r->address,
		    (double) r->connect_us / 1000.0);
		printf("    names      ");
		for (size_t j = 0; j < r->peer.n_names; j++)
			printf("%s%s", j ? ", " : "", r->peer.names[j]);
		printf("%s\n", r->peer.verified ? "  (verified)" : "  (NOT verified)");
		printf("    tls        %s %s, handshake %.1f ms\n", r->peer.version,
		    r->peer.cipher, (double) r->peer.handshake_us / 1000.0);
	}
}

static json_t *
json_target(const discover_opts *o, const fedrpc_srv_target *t,
    const target_result *r)
{
	json_t *jt    = json_object();
	json_t *addrs = json_array();

	json_object_set_new(jt, "target", json_string(t->host));
	json_object_set_new(jt, "port", json_integer(t->port));
	json_object_set_new(jt, "priority", json_integer(t->priority));
	json_object_set_new(jt, "weight", json_integer(t->weight));
	json_object_set_new(jt, "ttl", json_integer(t->ttl));
	for (size_t j = 0; j < t->n_addrs; j++)
		json_array_append_new(addrs, json_string(t->addrs[j]));
	json_object_set_new(jt, "addresses", addrs);
	if (o->connect) {
		json_t *jc = json_object();

		json_object_set_new(jc, "ok", json_boolean(r->code == FEDRPC_OK));
		if (r->address != NULL)
			json_object_set_new(jc, "address", json_string(r->address));
		if (r->code == FEDRPC_OK) {
			json_t *names = json_array();

			for (size_t j = 0; j < r->peer.n_names; j++)
				json_array_append_new(
				    names, json_string(r->peer.names[j]));
			json_object_set_new(jc, "names", names);
			json_object_set_new(
			    jc, "verified", json_boolean(r->peer.verified));
			json_object_set_new(
			    jc, "tls_version", json_string(r->peer.version));
			json_object_set_new(
			    jc, "cipher", json_string(r->peer.cipher));
			json_object_set_new(jc, "handshake_ms",
			    json_real((double) r->peer.handshake_us / 1000.0));
			json_object_set_new(jc, "connect_ms",
			    json_real((double) r->connect_us / 1000.0));
		} else {
			json_object_set_new(
			    jc, "code", json_string(fedrpc_code_name(r->code)));
			json_object_set_new(jc, "error", json_string(r->message));
		}
		json_object_set_new(jt, "connect", jc);
	}
	return jt;
}

static void
print_json(const discover_opts *o, const fedrpc_srv_answer *a,
    const char *nameserver, const fedrpc_srv_target *const *ts,
    const target_result *res)
{
	json_t *root = json_object();
	json_t *arr  = json_array();

	json_object_set_new(root, "domain", json_string(a->domain));
	json_object_set_new(root, "qname", json_string(a->qname));
	json_object_set_new(root, "nameserver",
	    a->is_static ? json_null() : json_string(nameserver));
	json_object_set_new(root, "ttl", json_integer(a->ttl));
	json_object_set_new(root, "static", json_boolean(a->is_static));
	for (size_t i = 0; i < a->n_targets; i++)
		json_array_append_new(arr, json_target(o, ts[i], &res[i]));
	json_object_set_new(root, "targets", arr);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

static void
print_error_json(const char *domain, const fedrpc_status *st)
{
	json_t *root = json_object();
	json_t *err  = json_object();

	json_object_set_new(root, "domain", json_string(domain));
	json_object_set_new(err, "code", json_string(fedrpc_code_name(st->code)));
	json_object_set_new(err, "message", json_string(st->message));
	json_object_set_new(root, "error", err);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

static int
discover_run(int argc, char **argv)
{
	discover_opts        o;
	fedrpc_config       *cfg = NULL;
	fedrpc_resolver_opts ro  = {0};
	fedrpc_static_route *statics = NULL;
	fedrpc_resolver     *r   = NULL;
	fedrpc_srv_answer   *a   = NULL;
	fedrpc_status        st  = {0};
	fedrpc_tls_opts      tls = {0};
	const fedrpc_srv_target **ts  = NULL;
	target_result       *res = NULL;
	int                  rc, reachable = 0;

	if ((rc = parse(argc, argv, &o)) != FEDCTL_EXIT_OK)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);

	if (o.config != NULL) {
		if (fedrpc_config_load_file(o.config, &cfg, &st) != FEDRPC_OK) {
			fedctl_error("discover", "%s", st.message);
			return FEDCTL_EXIT_USAGE;
		}
		if (o.nameserver == NULL)
			o.nameserver = cfg->discovery.nameserver;
		if (o.service == NULL)
			o.service = cfg->discovery.service;
		fedrpc_config_tls_opts(cfg, &tls);
		if (cfg->discovery.n_statics > 0 &&
		    (statics = calloc(cfg->discovery.n_statics,
		         sizeof(*statics))) != NULL) {
			for (size_t i = 0; i < cfg->discovery.n_statics; i++) {
				statics[i].domain = cfg->discovery.statics[i].domain;
				statics[i].host   = cfg->discovery.statics[i].host;
				statics[i].port   = cfg->discovery.statics[i].port;
			}
			ro.statics   = statics;
			ro.n_statics = cfg->discovery.n_statics;
		}
	}
	if (o.ca != NULL)
		tls.ca_file = o.ca;
	if (o.cert != NULL)
		tls.cert_file = o.cert;
	if (o.key != NULL)
		tls.key_file = o.key;
	if (o.connect &&
	    (tls.ca_file == NULL || tls.cert_file == NULL || tls.key_file == NULL)) {
		rc = usage_error("%s", "--connect needs --ca, --cert and --key "
				       "(or a --config with tls files)");
		goto out;
	}

	ro.nameserver = o.nameserver;
	ro.service    = o.service;
	ro.timeout_ms = o.timeout_ms;
	if (fedrpc_resolver_new(&r, &ro, &st) != FEDRPC_OK) {
		fedctl_error("discover", "%s", st.message);
		rc = st.code == FEDRPC_INVALID_ARGUMENT ? FEDCTL_EXIT_USAGE
							: FEDCTL_EXIT_FAILURE;
		goto out;
	}
	if (fedrpc_resolver_lookup(r, o.domain, o.timeout_ms, &a, &st) !=
	    FEDRPC_OK) {
		if (o.json)
			print_error_json(o.domain, &st);
		fedctl_error("discover", "%s (%s)", st.message,
		    fedrpc_code_name(st.code));
		rc = st.code == FEDRPC_INVALID_ARGUMENT ? FEDCTL_EXIT_USAGE
							: FEDCTL_EXIT_FAILURE;
		goto out;
	}

	ts  = calloc(a->n_targets, sizeof(*ts));
	res = calloc(a->n_targets, sizeof(*res));
	if (ts == NULL || res == NULL) {
		fedctl_error("discover", "out of memory");
		rc = FEDCTL_EXIT_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < a->n_targets; i++)
		ts[i] = &a->targets[i];
	qsort(ts, a->n_targets, sizeof(*ts), target_cmp);
	if (o.connect) {
		if (fedrpc_tls_engine_init(&st) != FEDRPC_OK) {
			fedctl_error("discover", "%s", st.message);
			rc = FEDCTL_EXIT_FAILURE;
			goto out;
		}
		for (size_t i = 0; i < a->n_targets; i++) {
			connect_target(ts[i], &tls, o.timeout_ms, &res[i]);
			reachable += res[i].code == FEDRPC_OK;
		}
	}
	if (o.json)
		print_json(&o, a, fedrpc_resolver_nameserver(r), ts, res);
	else
		print_text(&o, a, fedrpc_resolver_nameserver(r), ts, res);
	rc = o.connect && reachable == 0 ? FEDCTL_EXIT_FAILURE : FEDCTL_EXIT_OK;
	if (rc != FEDCTL_EXIT_OK)
		fedctl_error("discover", "no target of %s answered", a->domain);
out:
	for (size_t i = 0; res != NULL && a != NULL && i < a->n_targets; i++)
		fedrpc_peer_clear(&res[i].peer);
	free(res);
	free(ts);
	fedrpc_srv_answer_free(a);
	fedrpc_resolver_free(r);
	free(statics);
	fedrpc_config_free(cfg);
	/* Connections closed above are torn down by nng's threads: wait for
	 * that before the process exits, then let wolfSSL go. */
	nng_fini();
	fedrpc_tls_engine_fini();
	return rc;
}

const fedctl_cmd fedctl_cmd_discover = {
    .name    = "discover",
    .summary = "show a domain's SRV records, addresses and (--connect) "
	       "its servers' TLS identity",
    .run     = discover_run,
    .help    = discover_help,
};
