/*
 * fedctl rpc: a generic caller, as grpcurl is for gRPC. `list` and
 * `describe` show what a server serves and its schemas; `call` sends a
 * request written as JSON to any method of another domain over mutual
 * TLS (or of the local API) and prints the reply as JSON with its status
 * and metadata. Schemas come from the server's reflection service, or
 * from FileDescriptorSet files made by protoc (--protoset) for services
 * the server does not describe. The JSON codec is tools/rpc/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <fedrpc/log.h>

#include "core/base/file_read.h"
#include "fedctl.h"
#include "rpc_conn.h"
#include "rpc_describe.h"
#include "rpc_json.h"
#include "rpc_pool.h"

#define MAX_LIST 16

typedef struct rpc_opts {
	rpc_conn_opts conn;
	const char   *protosets[MAX_LIST];
	size_t        n_protosets;
	const char   *metadata[MAX_LIST];
	size_t        n_metadata;
	const char   *domain; /* list/describe: ask this domain */
	const char   *data;   /* call: JSON, @FILE or @- */
	bool          local;  /* call: the local API, no domain */
	bool          json;
	char        **pos;
	int           npos;
} rpc_opts;

static void
rpc_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl rpc list [SERVICE]    [SOURCE] [connection options] [--json]\n"
	    "       fedctl rpc describe SYMBOL   [SOURCE] [connection options]\n"
	    "       fedctl rpc call DOMAIN SERVICE/METHOD [--data JSON] [--metadata K=V]...\n"
	    "                                    [--protoset FILE]... [connection options] [--json]\n"
	    "       fedctl rpc call --local SERVICE/METHOD [--data JSON] ...\n"
	    "\n"
	    "Calls any method with its request and reply as JSON (proto3 JSON: "
	    "lowerCamel\n"
	    "names or the schema's own, enums by name, bytes as base64, "
	    "64-bit integers as\n"
	    "strings). The schemas come from the server's reflection "
	    "service, or from\n"
	    "descriptor sets made by protoc --include_imports "
	    "--descriptor_set_out.\n"
	    "\n"
	    "  list      the services (or SERVICE's methods, as call takes them)\n"
	    "  describe  a service, method, message or enum as .proto text, "
	    "with the\n"
	    "            JSON name of each field\n"
	    "  call      one call; the reply goes to stdout, its status and "
	    "metadata to\n"
	    "            stderr (with --json, all three in one object on stdout)\n"
	    "\n"
	    "SOURCE (list, describe): --protoset FILE... (no server), --domain "
	    "DOMAIN (ask\n"
	    "that domain over mutual TLS), else the local federator's API "
	    "(--socket).\n"
	    "\n"
	    "  --protoset FILE    a FileDescriptorSet; repeatable; used instead "
	    "of reflection\n"
	    "  --domain DOMAIN    list, describe: the domain to ask\n"
	    "  --local            call: the local federator's API instead of a "
	    "domain\n"
	    "  --data JSON        call: the request (default {}); @FILE reads a "
	    "file, @- stdin\n"
	    "  --metadata K=V     call: request metadata; repeatable\n"
	    "  --json             list, call: print JSON\n"
	    "connection options:\n"
	    "  --config FILE      take TLS files, our domain, nameserver, SRV "
	    "label, static\n"
	    "                     routes and local_api from a federator "
	    "configuration\n"
	    "  --ca F --cert F --key F  our CA bundle, certificate and key "
	    "(mutual TLS)\n"
	    "  --origin DOMAIN    our domain, as the certificate names it "
	    "(default: the\n"
	    "                     config's domain)\n"
	    "  --address HOST:PORT  dial this address for the domain instead of "
	    "DNS\n"
	    "  --nameserver ADDR:PORT  DNS server for SRV discovery\n"
	    "  --service LABEL    SRV label (default _fedrpc._tcp)\n"
	    "  --socket PATH      the local API socket (default: --config's "
	    "local_api,\n"
	    "                     $FEDRPC_SOCKET, " "/run/fedrpc/federator.sock)\n"
	    "  --timeout MS       bound on each call, connecting included "
	    "(default 10000)\n"
	    "\n"
	    "exit codes: 0 OK; 1 a local failure (no schema, unreadable file); "
	    "2 bad\n"
	    "            command line or JSON; 3 the server was unreachable or "
	    "answered\n"
	    "            with an error status\n");
}

static int
usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "fedctl rpc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see fedctl rpc --help)\n");
	return FEDCTL_EXIT_USAGE;
}

static int
add(const char **list, size_t *n, const char *v, const char *opt)
{
	if (*n == MAX_LIST)
		return usage("too many %s", opt);
	list[(*n)++] = v;
	return 0;
}

/* 0, -1 after --help, or the usage exit code (printed). */
static int
parse(int argc, char **argv, rpc_opts *o)
{
	static const struct option longs[] = {
	    {"protoset", required_argument, NULL, 'P'},
	    {"domain", required_argument, NULL, 'D'},
	    {"local", no_argument, NULL, 'L'},
	    {"data", required_argument, NULL, 'd'},
	    {"metadata", required_argument, NULL, 'M'},
	    {"json", no_argument, NULL, 'j'},
	    {"config", required_argument, NULL, 'c'},
	    {"ca", required_argument, NULL, 'A'},
	    {"cert", required_argument, NULL, 'R'},
	    {"key", required_argument, NULL, 'K'},
	    {"origin", required_argument, NULL, 'o'},
	    {"address", required_argument, NULL, 'a'},
	    {"nameserver", required_argument, NULL, 'n'},
	    {"service", required_argument, NULL, 's'},
	    {"socket", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		char *end;
		int   rc = 0;

		switch (c) {
		case 'P': rc = add(o->protosets, &o->n_protosets, optarg, "--protoset"); break;
		case 'M': rc = add(o->metadata, &o->n_metadata, optarg, "--metadata"); break;
		case 'D': o->domain = optarg; break;
		case 'L': o->local = true; break;
		case 'd': o->data = optarg; break;
		case 'j': o->json = true; break;
		case 'c': o->conn.config = optarg; break;
		case 'A': o->conn.ca = optarg; break;
		case 'R': o->conn.cert = optarg; break;
		case 'K': o->conn.key = optarg; break;
		case 'o': o->conn.origin = optarg; break;
		case 'a': o->conn.address = optarg; break;
		case 'n': o->conn.nameserver = optarg; break;
		case 's': o->conn.service = optarg; break;
		case 'S': o->conn.socket = optarg; break;
		case 't':
			o->conn.timeout_ms = (uint32_t) strtoul(optarg, &end, 10);
			if (*end != '\0' || o->conn.timeout_ms == 0)
				return usage("bad --timeout \"%s\"", optarg);
			break;
		case 'h': rpc_help(stdout); return -1;
		case ':': return usage("%s needs a value", argv[optind - 1]);
		default: return usage("unknown option %s", argv[optind - 1]);
		}
		if (rc != 0)
			return rc;
	}
	o->pos  = argv + optind;
	o->npos = argc - optind;
	return 0;
}

/* ---- schemas ---- */

static int
load_protosets(const rpc_opts *o, rpc_pool *pool)
{
	fedrpc_status st = {0};

	for (size_t i = 0; i < o->n_protosets; i++)
		if (rpc_pool_add_set_file(pool, o->protosets[i], &st) != FEDRPC_OK)
			goto fail;
	if (rpc_pool_resolve(pool, &st) == FEDRPC_OK)
		return 0;
fail:
	fprintf(stderr, "fedctl rpc: %s\n", st.message);
	return FEDCTL_EXIT_FAILURE;
}

/* The exit code of a failed call to a server. */
static int
remote_fail(const rpc_conn *c, const char *what, const fedrpc_status *st)
{
	fprintf(stderr, "fedctl rpc: %s: %s: %s (%s)\n", c->where, what,
	    st->message, fedrpc_code_name(st->code));
	if (st->code == FEDRPC_UNIMPLEMENTED)
		fprintf(stderr, "fedctl rpc: %s has no reflection service; "
				"give its schemas with --protoset\n",
		    c->where);
	return FEDCTL_EXIT_REMOTE;
}

static int
open_conn(const rpc_opts *o, const char *domain, rpc_conn *c)
{
	fedrpc_status st = {0};
	fedrpc_code   rc;

	rc = domain ? rpc_conn_open_domain(c, &o->conn, domain, &st)
		    : rpc_conn_open_local(c, &o->conn, &st);
	if (rc == FEDRPC_OK)
		return 0;
	fprintf(stderr, "fedctl rpc: %s\n", st.message);
	rpc_conn_close(c);
	return rc == FEDRPC_INVALID_ARGUMENT ? FEDCTL_EXIT_USAGE
					     : FEDCTL_EXIT_FAILURE;
}

/* ---- list ---- */

static void
print_names(const rpc_opts *o, char **names, size_t n)
{
	if (o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(names[i]));
		json_dumpf(a, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", names[i]);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A service's methods (wire names), or NULL names for a missing one. */
static int
list_methods(const rpc_opts *o, const rpc_pool *pool, const char *svc)
{
	const rpc_service *s = rpc_pool_service(pool, svc);
	char             **names;

	if (s == NULL) {
		fprintf(stderr, "fedctl rpc list: no service %s in the schemas\n",
		    svc);
		return FEDCTL_EXIT_FAILURE;
	}
	if ((names = calloc(s->n_methods + 1, sizeof(char *))) == NULL)
		return FEDCTL_EXIT_FAILURE;
	for (size_t i = 0; i < s->n_methods; i++)
		names[i] = s->methods[i].path;
	print_names(o, names, s->n_methods);
	free(names);
	return FEDCTL_EXIT_OK;
}

static int
list_pool(const rpc_opts *o, const rpc_pool *pool)
{
	size_t n     = rpc_pool_n_services(pool);
	char **names = calloc(n + 1, sizeof(char *));

	if (names == NULL)
		return FEDCTL_EXIT_FAILURE;
	for (size_t i = 0; i < n; i++)
		names[i] = rpc_pool_service_at(pool, i)->full_name;
	qsort(names, n, sizeof(char *), str_cmp);
	print_names(o, names, n);
	free(names);
	return FEDCTL_EXIT_OK;
}

/* Loads what describes symbol into pool: the protosets, or reflection. */
static int
schemas_for(const rpc_opts *o, rpc_conn *c, rpc_pool *pool, const char *symbol)
{
	fedrpc_status st = {0};

	if (o->n_protosets > 0)
		return load_protosets(o, pool);
	if (rpc_conn_load_symbol(c, pool, symbol, &st) == FEDRPC_OK)
		return 0;
	if (st.code == FEDRPC_NOT_FOUND) {
		fprintf(stderr, "fedctl rpc: %s does not describe %s (%s); give "
				"its schema with --protoset\n",
		    c->where, symbol, st.message);
		return FEDCTL_EXIT_FAILURE;
	}
	return remote_fail(c, "reflection", &st);
}

static int
run_list(rpc_opts *o)
{
	rpc_pool     *pool = rpc_pool_new();
	rpc_conn      c    = {0};
	fedrpc_status st   = {0};
	char        **names = NULL;
	size_t        n     = 0;
	int           rc;

	if (o->npos > 1) {
		rpc_pool_free(pool);
		return usage("%s", "list takes at most one SERVICE");
	}
	if (o->n_protosets > 0) {
		rc = load_protosets(o, pool);
		if (rc == 0)
			rc = o->npos ? list_methods(o, pool, o->pos[0])
				     : list_pool(o, pool);
		rpc_pool_free(pool);
		return rc;
	}
	if ((rc = open_conn(o, o->domain, &c)) != 0) {
		rpc_pool_free(pool);
		return rc;
	}
	if (o->npos == 1) {
		rc = schemas_for(o, &c, pool, o->pos[0]);
		if (rc == 0)
			rc = list_methods(o, pool, o->pos[0]);
	} else if (rpc_conn_services(&c, &names, &n, &st) == FEDRPC_OK) {
		print_names(o, names, n);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	} else {
		rc = remote_fail(&c, "listing services", &st);
	}
	rpc_conn_close(&c);
	rpc_pool_free(pool);
	return rc;
}

/* ---- describe ---- */

static int
run_describe(rpc_opts *o)
{
	rpc_pool     *pool = rpc_pool_new();
	rpc_conn      c    = {0};
	fedrpc_status st   = {0};
	char         *text = NULL;
	int           rc   = 0;

	if (o->npos != 1) {
		rpc_pool_free(pool);
		return usage("%s", "describe takes one SYMBOL "
				   "(SERVICE, SERVICE/METHOD, MESSAGE or ENUM)");
	}
	if (o->n_protosets == 0 && (rc = open_conn(o, o->domain, &c)) != 0) {
		rpc_pool_free(pool);
		return rc;
	}
	rc = schemas_for(o, &c, pool, o->pos[0]);
	if (rc == 0 && rpc_describe(pool, o->pos[0], &text, &st) != FEDRPC_OK) {
		fprintf(stderr, "fedctl rpc describe: %s\n", st.message);
		rc = FEDCTL_EXIT_FAILURE;
	}
	if (rc == 0)
		fputs(text, stdout);
	free(text);
	if (o->n_protosets == 0)
		rpc_conn_close(&c);
	rpc_pool_free(pool);
	return rc;
}

/* ---- call ---- */

/* The largest request body read from a file or standard input. */
#define RPC_DATA_MAX (64u << 20)

/* --data's text (malloc'd), or NULL with the error printed. */
static char *
request_text(const rpc_opts *o, size_t *len)
{
	const char *d = o->data ? o->data : "{}";
	char       *text;
	int         err;

	if (d[0] != '@') {
		*len = strlen(d);
		return strdup(d);
	}
	err = strcmp(d, "@-") == 0
	    ? fedrpc_stream_read(stdin, RPC_DATA_MAX, &text, len)
	    : fedrpc_file_read(d + 1, FEDRPC_FILE_STREAM, RPC_DATA_MAX, &text,
	          len);
	if (err != 0) {
		fprintf(stderr, "fedctl rpc call: cannot read --data %s: %s\n", d,
		    err == EFBIG ? "larger than 64 MiB"
		                 : fedrpc_file_read_error(err));
		return NULL;
	}
	return text;
}

/* --metadata K=V into entries (pointing into argv). */
static int
metadata(const rpc_opts *o, fedrpc_metadata_entry *e, fedrpc_metadata *md)
{
	for (size_t i = 0; i < o->n_metadata; i++) {
		const char *eq = strchr(o->metadata[i], '=');
		static char keys[MAX_LIST][128];
		size_t      n;

		if (eq == NULL || eq == o->metadata[i] ||
		    (n = (size_t) (eq - o->metadata[i])) >= sizeof(keys[i]))
			return usage("--metadata %s: expected KEY=VALUE",
			    o->metadata[i]);
		memcpy(keys[i], o->metadata[i], n);
		keys[i][n]     = '\0';
		e[i].key       = keys[i];
		e[i].value     = (const uint8_t *) eq + 1;
		e[i].value_len = strlen(eq + 1);
	}
	md->n       = o->n_metadata;
	md->entries = e;
	return 0;
}

static json_t *
reply_metadata_json(const rpc_reply *r)
{
	json_t *md = json_object();

	for (size_t i = 0; i < r->n_md; i++)
		json_object_set_new(md, r->md_keys[i], json_string(r->md_values[i]));
	return md;
}

static void
print_call(const rpc_opts *o, const fedrpc_status *st, const rpc_reply *r,
    json_t *reply)
{
	if (o->json) {
		json_t *root = json_object();
		json_t *js   = json_object();

		json_object_set_new(js, "code", json_string(fedrpc_code_name(st->code)));
		json_object_set_new(js, "message", json_string(st->message));
		json_object_set_new(root, "status", js);
		json_object_set_new(root, "metadata", reply_metadata_json(r));
		if (reply != NULL)
			json_object_set(root, "reply", reply);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(root);
		return;
	}
	if (reply != NULL) {
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	}
	fprintf(stderr, "status    %s%s%s\n", fedrpc_code_name(st->code),
	    st->message[0] ? ": " : "", st->message);
	for (size_t i = 0; i < r->n_md; i++)
		fprintf(stderr, "metadata  %s: %s\n", r->md_keys[i],
		    r->md_values[i]);
}

/* Encodes, calls, decodes, prints. */
static int
call_method(const rpc_opts *o, rpc_conn *c, const rpc_method *m)
{
	fedrpc_metadata_entry entries[MAX_LIST];
	fedrpc_metadata       md;
	fedrpc_status         st = {0};
	rpc_reply             r  = {0};
	uint8_t              *req = NULL;
	size_t                len, text_len;
	char                 *text;
	json_t               *reply = NULL;
	int                   rc;

	if ((rc = metadata(o, entries, &md)) != 0)
		return rc;
	if ((text = request_text(o, &text_len)) == NULL)
		return FEDCTL_EXIT_FAILURE;
	if (rpc_json_text_to_pb(m->input, text, text_len, &req, &len, &st) !=
	    FEDRPC_OK) {
		fprintf(stderr, "fedctl rpc call: the request is not a %s: %s\n",
		    m->input->full_name, st.message);
		free(text);
		return FEDCTL_EXIT_USAGE;
	}
	free(text);
	rpc_conn_call(c, m->path, req, len, &md, &r, &st);
	free(req);
	if (st.code == FEDRPC_OK) {
		fedrpc_status dst = {0};

		if (rpc_pb_to_json(m->output, r.data, r.len, &reply, &dst) !=
		    FEDRPC_OK) {
			fprintf(stderr, "fedctl rpc call: %s answered what is not "
					"a %s: %s\n",
			    c->where, m->output->full_name, dst.message);
			rpc_reply_free(&r);
			return FEDCTL_EXIT_FAILURE;
		}
	}
	print_call(o, &st, &r, reply);
	json_decref(reply);
	rpc_reply_free(&r);
	if (st.code != FEDRPC_OK) {
		fprintf(stderr, "fedctl rpc call: %s %s: %s (%s)\n", c->where,
		    m->path, st.message, fedrpc_code_name(st.code));
		return FEDCTL_EXIT_REMOTE;
	}
	return FEDCTL_EXIT_OK;
}

/* "pkg.Svc/Method" -> "pkg.Svc" into buf. */
static bool
service_of(const char *method, char *buf, size_t n)
{
	const char *sep = strchr(method, '/');

	if (sep == NULL)
		sep = strrchr(method, '.');
	if (sep == NULL || sep == method || (size_t) (sep - method) >= n)
		return false;
	memcpy(buf, method, (size_t) (sep - method));
	buf[sep - method] = '\0';
	return true;
}

static int
run_call(rpc_opts *o)
{
	rpc_pool         *pool = rpc_pool_new();
	rpc_conn          c    = {0};
	const rpc_method *m;
	const char       *domain = o->local ? NULL : o->npos > 0 ? o->pos[0] : NULL;
	const char       *method;
	char              svc[512];
	int               rc;

	if (o->npos != (o->local ? 1 : 2)) {
		rpc_pool_free(pool);
		return usage("%s", o->local ? "call --local takes SERVICE/METHOD"
					    : "call takes DOMAIN SERVICE/METHOD");
	}
	method = o->pos[o->local ? 0 : 1];
	if (!service_of(method, svc, sizeof(svc))) {
		rpc_pool_free(pool);
		return usage("\"%s\" is not SERVICE/METHOD", method);
	}
	if ((rc = open_conn(o, domain, &c)) != 0) {
		rpc_pool_free(pool);
		return rc;
	}
	if ((rc = schemas_for(o, &c, pool, svc)) == 0) {
		if ((m = rpc_pool_method(pool, method)) == NULL) {
			fprintf(stderr, "fedctl rpc call: the schemas have no "
					"method %s\n",
			    method);
			rc = FEDCTL_EXIT_FAILURE;
		} else if (m->streaming) {
			fprintf(stderr, "fedctl rpc call: %s streams; fedrpc "
					"calls are unary\n",
			    m->path);
			rc = FEDCTL_EXIT_FAILURE;
		} else {
			rc = call_method(o, &c, m);
		}
	}
	rpc_conn_close(&c);
	rpc_pool_free(pool);
	return rc;
}

static int
rpc_run(int argc, char **argv)
{
	rpc_opts    o;
	const char *sub;
	int         rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0) {
		rpc_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? FEDCTL_EXIT_USAGE : FEDCTL_EXIT_OK;
	}
	sub = argv[1];
	if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	if (strcmp(sub, "list") == 0)
		return run_list(&o);
	if (strcmp(sub, "describe") == 0)
		return run_describe(&o);
	if (strcmp(sub, "call") == 0)
		return run_call(&o);
	return usage("unknown sub-command \"%s\" (list, describe, call)", sub);
}

const fedctl_cmd fedctl_cmd_rpc = {
    .name    = "rpc",
    .summary = "call any method with JSON (list, describe, call), as grpcurl",
    .run     = rpc_run,
    .help    = rpc_help,
};
