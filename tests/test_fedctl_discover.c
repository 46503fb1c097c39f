/*
 * fedctl discover, the real program, against a real dnsmasq and a real
 * mutual-TLS server: the text and --json output, --connect, the config
 * file, and the exit codes (0 ok, 1 failure, 2 usage).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <fedrpc/log.h>

#include "dnsmasq.h"
#include "echo_server.h"
#include "testcerts.h"
#include "fedctl_run.h"
#include "testutil.h"


static char        *dir;
static dnsmasq     *dns;
/* fed1.b.example: the Echo server program, a process of its own (so that
 * its TLS connections live and die outside this test's process) */
static pid_t        srv = -1;
static int          srv_port;
static int          dead;  /* fed2's port: nothing listens */

static void
setup(void)
{
	char  rec[2][128];
	char  ca[256], crt[256], key[256], url[64];
	char *argv[12];

	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	dir = tu_tmpdir("fedctl");
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "fed1",
	    (const char *const[]){"fed1.b.example", NULL});
	testcerts_leaf(dir, "ca", "client",
	    (const char *const[]){"a.example", NULL});
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/fed1.crt", dir);
	snprintf(key, sizeof(key), "%s/fed1.key", dir);
	srv_port = tu_free_port();
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", srv_port);
	argv[0] = (char *) ECHO_SERVER_PROGRAM;
	argv[1] = "--url";
	argv[2] = url;
	argv[3] = "--ca";
	argv[4] = ca;
	argv[5] = "--cert";
	argv[6] = crt;
	argv[7] = "--key";
	argv[8] = key;
	argv[9] = "--name";
	argv[10] = "fed1";
	argv[11] = NULL;
	srv = tu_spawn(argv, tu_path(dir, "server.log"));
	cr_assert_gt(srv, 0);
	cr_assert(tu_wait_port(srv_port, 5000), "the echo server did not start");
	dead = tu_free_port();
	snprintf(rec[0], sizeof(rec[0]),
	    "--srv-host=_fedrpc._tcp.b.example,fed1.b.example,%d,10,60",
	    srv_port);
	snprintf(rec[1], sizeof(rec[1]),
	    "--srv-host=_fedrpc._tcp.b.example,fed2.b.example,%d,20,40", dead);
	dns = dnsmasq_start((const char *const[]){rec[0], rec[1],
	    "--srv-host=_fedrpc._tcp.d.example,fed2.b.example,1,10,10",
	    "--srv-host=_wire-server-federator._tcp.w.example,fed1.b.example,"
	    "8443,5,5",
	    "--host-record=fed1.b.example,127.0.0.1",
	    "--host-record=fed2.b.example,127.0.0.1",
	    "--host-record=c.example,127.0.0.1", "--local-ttl=60", NULL});
	cr_assert_not_null(dns);
}

static void
teardown(void)
{
	tu_stop(srv, SIGTERM, 5000);
	dnsmasq_stop(dns);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(fedctl_discover, .init = setup, .fini = teardown, .timeout = 60);

/* Runs fedctl with args (words separated by single spaces, as args()
 * makes them) through the shared runner; stdout into *out, stderr into
 * *err (the caller frees both); returns the exit code. */
static int
fedctl(const char *args, char **out, char **err)
{
	char       *words = strdup(args), *save = NULL, *w;
	const char *argv[FR_MAX_ARGS + 1];
	size_t      n = 0;
	fr_run      r;

	cr_assert_not_null(words);
	for (w = strtok_r(words, " ", &save); w != NULL && n < FR_MAX_ARGS;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	r       = fr_fedctl(dir, NULL, NULL, argv);
	free(words);
	cr_assert_neq(r.code, -1, "fedctl did not exit");
	*out = r.out;
	*err = r.err;
	return r.code;
}

static char *
args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
args(const char *fmt, ...)
{
	static char buf[1024];
	va_list     ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

#define TLS_ARGS "--ca %s/ca.crt --cert %s/client.crt --key %s/client.key"

Test(fedctl_discover, text_lists_records_and_addresses)
{
	char *out, *err, want[128];
	int   rc = fedctl(args("discover b.example --nameserver %s",
			      dnsmasq_nameserver(dns)),
          &out, &err);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert(strstr(out, "_fedrpc._tcp.b.example") != NULL, "%s", out);
	snprintf(want, sizeof(want), "fed1.b.example:%d  priority 10  weight 60",
	    srv_port);
	cr_assert(strstr(out, want) != NULL, "%s", out);
	snprintf(want, sizeof(want), "fed2.b.example:%d  priority 20  weight 40",
	    dead);
	cr_assert(strstr(out, want) != NULL, "%s", out);
	cr_assert(strstr(out, "addresses  127.0.0.1") != NULL, "%s", out);
	cr_assert(strstr(out, "TTL") != NULL, "%s", out);
	/* priority order */
	cr_assert_lt(strstr(out, "fed1.b.example"), strstr(out, "fed2.b.example"));
	cr_assert(strstr(out, "connect") == NULL, "%s", out);
	free(out);
	free(err);
}

Test(fedctl_discover, json_is_machine_readable)
{
	char        *out, *err;
	json_error_t je;
	json_t      *root, *ts, *t;
	int          rc = fedctl(args("discover B.EXAMPLE --json --nameserver %s",
			      dnsmasq_nameserver(dns)),
          &out, &err);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	root = json_loads(out, 0, &je);
	cr_assert_not_null(root, "%s: %s", je.text, out);
	cr_assert_str_eq(json_string_value(json_object_get(root, "domain")),
	    "b.example");
	cr_assert_str_eq(json_string_value(json_object_get(root, "qname")),
	    "_fedrpc._tcp.b.example");
	cr_assert_str_eq(json_string_value(json_object_get(root, "nameserver")),
	    dnsmasq_nameserver(dns));
	ts = json_object_get(root, "targets");
	cr_assert_eq(json_array_size(ts), 2);
	t = json_array_get(ts, 0);
	cr_assert_str_eq(json_string_value(json_object_get(t, "target")),
	    "fed1.b.example");
	cr_assert_eq(json_integer_value(json_object_get(t, "port")),
	    srv_port);
	cr_assert_eq(json_integer_value(json_object_get(t, "priority")), 10);
	cr_assert_eq(json_integer_value(json_object_get(t, "weight")), 60);
	cr_assert_gt(json_integer_value(json_object_get(t, "ttl")), 0);
	cr_assert_str_eq(json_string_value(json_array_get(
	                     json_object_get(t, "addresses"), 0)),
	    "127.0.0.1");
	cr_assert_null(json_object_get(t, "connect"));
	json_decref(root);
	free(out);
	free(err);
}

Test(fedctl_discover, connect_shows_the_servers_tls_identity)
{
	char        *out, *err, want[128];
	json_error_t je;
	json_t      *root, *c1, *c2;
	int          rc;

	rc = fedctl(args("discover b.example --connect --nameserver %s " TLS_ARGS,
		    dnsmasq_nameserver(dns), dir, dir, dir),
	    &out, &err);
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert(strstr(out, "connect    ok via 127.0.0.1") != NULL, "%s", out);
	cr_assert(strstr(out, "names      fed1.b.example  (verified)") != NULL,
	    "%s", out);
	cr_assert(strstr(out, "tls        TLSv1.3 TLS_") != NULL, "%s", out);
	cr_assert(strstr(out, "handshake") != NULL, "%s", out);
	snprintf(want, sizeof(want),
	    "failed: connection refused by fed2.b.example:%d (UNAVAILABLE)",
	    dead);
	cr_assert(strstr(out, want) != NULL, "%s", out);
	free(out);
	free(err);

	rc = fedctl(args("discover b.example --connect --json --nameserver %s "
			 TLS_ARGS,
		    dnsmasq_nameserver(dns), dir, dir, dir),
	    &out, &err);
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	root = json_loads(out, 0, &je);
	cr_assert_not_null(root, "%s: %s", je.text, out);
	c1 = json_object_get(json_array_get(json_object_get(root, "targets"), 0),
	    "connect");
	c2 = json_object_get(json_array_get(json_object_get(root, "targets"), 1),
	    "connect");
	cr_assert(json_is_true(json_object_get(c1, "ok")), "%s", out);
	cr_assert_str_eq(json_string_value(json_array_get(
	                     json_object_get(c1, "names"), 0)),
	    "fed1.b.example");
	cr_assert(json_is_true(json_object_get(c1, "verified")));
	cr_assert_str_eq(
	    json_string_value(json_object_get(c1, "tls_version")), "TLSv1.3");
	cr_assert(strncmp(json_string_value(json_object_get(c1, "cipher")),
	              "TLS_", 4) == 0, "%s", out);
	cr_assert_gt(json_real_value(json_object_get(c1, "handshake_ms")), 0);
	cr_assert(json_is_false(json_object_get(c2, "ok")), "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(c2, "code")),
	    "UNAVAILABLE");
	cr_assert(strstr(json_string_value(json_object_get(c2, "error")),
	              "connection refused by fed2.b.example") != NULL,
	    "%s", out);
	json_decref(root);
	free(out);
	free(err);
}

Test(fedctl_discover, no_target_answering_is_a_failure)
{
	char *out, *err;
	int   rc = fedctl(args("discover d.example --connect --nameserver %s "
			       TLS_ARGS,
			      dnsmasq_nameserver(dns), dir, dir, dir),
          &out, &err);

	cr_assert_eq(rc, 1, "rc %d: %s", rc, err);
	cr_assert(strstr(out, "connection refused by fed2.b.example:1") != NULL,
	    "%s", out);
	cr_assert(strstr(err, "no target of d.example answered") != NULL, "%s",
	    err);
	free(out);
	free(err);
}

Test(fedctl_discover, unknown_domain_fails_with_the_reason)
{
	char        *out, *err;
	json_error_t je;
	json_t      *root;
	int          rc = fedctl(args("discover nope.example --nameserver %s",
			      dnsmasq_nameserver(dns)),
          &out, &err);

	cr_assert_eq(rc, 1, "rc %d: %s", rc, err);
	cr_assert(strstr(err, "no such domain") != NULL, "%s", err);
	cr_assert(strstr(err, "NOT_FOUND") != NULL, "%s", err);
	free(out);
	free(err);

	rc = fedctl(args("discover c.example --json --nameserver %s",
		    dnsmasq_nameserver(dns)),
	    &out, &err);
	cr_assert_eq(rc, 1);
	root = json_loads(out, 0, &je);
	cr_assert_not_null(root, "%s: %s", je.text, out);
	cr_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(root, "error"), "code")),
	    "NOT_FOUND");
	cr_assert(strstr(json_string_value(json_object_get(
	                     json_object_get(root, "error"), "message")),
	              "publishes no") != NULL, "%s", out);
	json_decref(root);
	free(out);
	free(err);
}

Test(fedctl_discover, service_label_option)
{
	char *out, *err;
	int   rc = fedctl(args("discover w.example --service "
			       "_wire-server-federator._tcp --nameserver %s",
			      dnsmasq_nameserver(dns)),
          &out, &err);

	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert(strstr(out, "_wire-server-federator._tcp.w.example") != NULL,
	    "%s", out);
	cr_assert(strstr(out, "fed1.b.example:8443  priority 5  weight 5") !=
	        NULL, "%s", out);
	free(out);
	free(err);
}

Test(fedctl_discover, config_file_gives_nameserver_and_tls_files)
{
	char  conf[300], text[1024], *out, *err;
	int   rc;

	snprintf(conf, sizeof(conf), "%s/a.conf", dir);
	snprintf(text, sizeof(text),
	    "domain = \"a.example\";\n"
	    "tls = { ca = \"ca.crt\"; cert = \"client.crt\"; key = "
	    "\"client.key\"; };\n"
	    "discovery = { nameserver = \"%s\"; };\n",
	    dnsmasq_nameserver(dns));
	cr_assert(tu_write_file(conf, text));
	rc = fedctl(args("discover b.example --connect --config %s", conf), &out,
	    &err);
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert(strstr(out, dnsmasq_nameserver(dns)) != NULL, "%s", out);
	cr_assert(strstr(out, "names      fed1.b.example") != NULL, "%s", out);
	free(out);
	free(err);
}

Test(fedctl_discover, usage_errors_exit_2)
{
	const char *bad[] = {
	    "discover",
	    "discover a.example b.example",
	    "discover b.example --bogus",
	    "discover b.example --nameserver",
	    "discover b.example --connect --nameserver 127.0.0.1:1",
	    "discover b.example --timeout zero",
	    "nosuchcommand",
	    NULL,
	};

	for (int i = 0; bad[i] != NULL; i++) {
		char *out, *err;
		int   rc = fedctl(bad[i], &out, &err);

		cr_assert_eq(rc, 2, "%s: rc %d", bad[i], rc);
		cr_assert_neq(err[0], '\0', "%s: no message", bad[i]);
		free(out);
		free(err);
	}
}

Test(fedctl_discover, help)
{
	char *out, *err;

	cr_assert_eq(fedctl("--help", &out, &err), 0);
	cr_assert(strstr(out, "discover") != NULL, "%s", out);
	free(out);
	free(err);
	cr_assert_eq(fedctl("discover --help", &out, &err), 0);
	cr_assert(strstr(out, "--connect") != NULL, "%s", out);
	cr_assert(strstr(out, "exit codes") != NULL, "%s", out);
	free(out);
	free(err);
	cr_assert_eq(fedctl("help discover", &out, &err), 0);
	cr_assert(strstr(out, "--json") != NULL, "%s", out);
	free(out);
	free(err);
}
