/*
 * Federation end to end: three federator daemons (a, b and c.example) on
 * 127.0.0.1 that find each other only through DNS SRV records served by a
 * real dnsmasq, with mutual TLS certificates naming fed.X.example, driven
 * by the fedctl binary as users run it (--json output parsed by jansson).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <fedrpc/log.h>

#include "dnsmasq.h"
#include "testcerts.h"
#include "testutil.h"

#define FEDERATOR FEDRPC_BINARY_DIR "/federator"
#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define WAIT_MS TU_WAIT_MS /* bound on a daemon start and on one fedctl run */
#define MAX_ARGS 32
#define NFED 3

extern char **environ;

/* One backend: its daemon and the files it uses. */
typedef struct fed {
	char  name[8];    /* "a" */
	char  domain[32]; /* "a.example" */
	int   port;       /* its federation listener */
	pid_t pid;        /* 0 when not running */
	char  conf[512], log[512], pidf[512], sock[512], db[512];
} fed;

/* A person: a fedctl home (key store) registered on one backend. */
typedef struct user {
	char home[512]; /* FEDCTL_HOME */
	char qid[128];  /* "uuid@domain" */
} user;

/* What one fedctl run gave. */
typedef struct run {
	int   code; /* exit code; -1 if it did not exit */
	char *out;  /* stdout; owned */
	char *err;  /* stderr; owned */
} run;

static char    *dir;
static fed      F[NFED]; /* a, b, c */
static dnsmasq *dns;

/* Each domain allows the two others. c lets nobody search its users;
 * a and b allow exact handle search. Discovery only through DNS. */
static void
fed_write_conf(const fed *f)
{
	const char *policy = strcmp(f->name, "c") == 0 ? "no_search"
	                                               : "exact_handle_search";
	char        allow[512] = "", text[4096];
	size_t      k = 0;
	int         n;

	for (int i = 0; i < NFED; i++)
		if (&F[i] != f)
			k += (size_t) snprintf(allow + k, sizeof(allow) - k,
			    "%s{ domain = \"%s\"; search_policy = \"%s\"; }",
			    k > 0 ? ", " : "", F[i].domain, policy);
	n = snprintf(text, sizeof(text),
	    "domain = \"%s\";\n"
	    "federation = {\n"
	    "  enabled = true;\n"
	    "  strategy = \"allowList\";\n"
	    "  default_search_policy = \"no_search\";\n"
	    "  allow = ( %s );\n"
	    "};\n"
	    "listen = \"tls+tcp://127.0.0.1:%d\";\n"
	    "local_api = \"ipc://%s\";\n"
	    "tls = { ca = \"%s/ca.crt\"; cert = \"%s/%s.crt\"; key = "
	    "\"%s/%s.key\"; };\n"
	    "discovery = { nameserver = \"%s\"; timeout_ms = 2000; };\n"
	    "client = { connect_timeout_ms = 1000; backoff_initial_ms = 100; "
	    "backoff_max_ms = 1000; };\n"
	    "limits = { workers = 4; };\n"
	    "storage = { adapter = \"sqlite\"; path = \"%s\"; };\n"
	    "log = { level = \"info\"; };\n",
	    f->domain, allow, f->port, f->sock, dir, dir, f->name, dir, f->name,
	    dnsmasq_nameserver(dns), f->db);
	cr_assert_lt((size_t) n, sizeof(text));
	cr_assert(tu_write_file(f->conf, text));
}

/* Starts a daemon that dies with the test, and waits until it serves. */
static void
fed_start(fed *f)
{
	uint64_t  end = tu_now_ms() + WAIT_MS;
	int       status;

	unlink(f->pidf);
	if ((f->pid = fork()) == 0) {
		int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(FEDERATOR, FEDERATOR, "-c", f->conf, "--pid-file",
		    f->pidf, "--shutdown-grace", "1000", (char *) NULL);
		_exit(127);
	}
	cr_assert_gt(f->pid, 0);
	while (access(f->pidf, F_OK) != 0) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			char *log = tu_read_file(f->log);

			f->pid = 0;
			cr_assert_fail("federator %s exited (status %d):\n%s",
			    f->domain, status, log != NULL ? log : "");
		}
		cr_assert_lt(tu_now_ms(), end, "federator %s did not start",
		    f->domain);
		tu_sleep_ms(10);
	}
}

/* Stops a daemon and requires a clean exit (under ASan: no leaks). */
static void
fed_stop(fed *f)
{
	if (f->pid > 0) {
		int status = tu_stop(f->pid, SIGTERM, WAIT_MS);

		f->pid = 0;
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "federator %s did not stop cleanly (status %d)", f->domain,
		    status);
	}
}

static void
setup(void)
{
	char  srv[NFED + 1][160], host[NFED + 1][160];
	const char *recs[2 * (NFED + 1) + 1];
	int   k = 0;

	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	cr_assert_not_null(dir = tu_tmpdir("federation-e2e"));
	testcerts_ca(dir, "ca");
	for (int i = 0; i < NFED; i++) {
		fed *f = &F[i];
		char fqdn[64];

		memset(f, 0, sizeof(*f));
		char c = (char) ('a' + i);

		snprintf(f->name, sizeof(f->name), "%c", c);
		snprintf(f->domain, sizeof(f->domain), "%c.example", c);
		snprintf(fqdn, sizeof(fqdn), "fed.%c.example", c);
		f->port = tu_free_port();
		snprintf(f->conf, sizeof(f->conf), "%s/%c.conf", dir, c);
		snprintf(f->log, sizeof(f->log), "%s/%c.log", dir, c);
		snprintf(f->pidf, sizeof(f->pidf), "%s/%c.pid", dir, c);
		snprintf(f->sock, sizeof(f->sock), "%s/%c.sock", dir, c);
		snprintf(f->db, sizeof(f->db), "%s/%c.db", dir, c);
		testcerts_leaf(dir, "ca", f->name,
		    (const char *const[]){fqdn, f->domain, NULL});
	}
	/* d.example resolves too (to a closed port): a refusal of it is
	 * a's policy, not a failed lookup. */
	for (int i = 0; i <= NFED; i++) {
		char d   = (char) ('a' + i);
		int  prt = i < NFED ? F[i].port : tu_free_port();

		snprintf(srv[i], sizeof(srv[i]),
		    "--srv-host=_fedrpc._tcp.%c.example,fed.%c.example,%d,10,100",
		    d, d, prt);
		snprintf(host[i], sizeof(host[i]),
		    "--host-record=fed.%c.example,127.0.0.1", d);
		recs[k++] = srv[i];
		recs[k++] = host[i];
	}
	recs[k] = NULL;
	cr_assert_not_null(dns = dnsmasq_start(recs), "dnsmasq did not start");
	for (int i = 0; i < NFED; i++) {
		fed_write_conf(&F[i]);
		fed_start(&F[i]);
	}
}

static void
teardown(void)
{
	/* Never asserts: it runs after failures too. */
	for (int i = 0; i < NFED; i++) {
		if (F[i].pid > 0)
			tu_stop(F[i].pid, SIGTERM, WAIT_MS);
		F[i].pid = 0;
	}
	dnsmasq_stop(dns);
	dns = NULL;
	tu_rmrf(dir);
	free(dir);
}

TestSuite(federation_e2e, .init = setup, .fini = teardown, .timeout = 90);

/* ---- running fedctl ---- */

static void
run_free(run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Our environment without what changes fedctl's behaviour, plus
 * FEDCTL_HOME=home; the caller frees the array and its last entry. */
static char **
child_env(const char *home)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	cr_assert_not_null(env = calloc(n + 2, sizeof(*env)));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FEDCTL_", 7) != 0 &&
		    strncmp(environ[i], "FEDRPC_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "NO_COLOR=", 9) != 0 &&
		    strncmp(environ[i], "XDG_DATA_HOME=", 14) != 0)
			env[k++] = environ[i];
	cr_assert(asprintf(&env[k], "FEDCTL_HOME=%s", home) > 0);
	return env;
}

/* Runs fedctl with args (NULL-terminated) as the user of `home`, stdin
 * from /dev/null, stopped after WAIT_MS. */
static run
fedctl_v(const char *home, const char *const *args)
{
	static int  seq;
	char        out[600], err[600];
	const char *argv[MAX_ARGS + 2] = {FEDCTL};
	char      **env = child_env(home);
	run         r   = {-1, NULL, NULL};
	pid_t       pid;
	int         status, n = 1;

	for (; args[n - 1] != NULL && n <= MAX_ARGS; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/run-%d.out", dir, seq);
	snprintf(err, sizeof(err), "%s/run-%d.err", dir, seq++);
	if ((pid = fork()) == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o  = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e  = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execve(FEDCTL, (char *const *) argv, env);
		_exit(127);
	}
	for (size_t i = 0; env[i] != NULL; i++)
		if (env[i + 1] == NULL)
			free(env[i]); /* the FEDCTL_HOME entry, always last */
	free(env);
	cr_assert_gt(pid, 0);
	status = tu_stop(pid, 0, WAIT_MS);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r.out  = tu_read_file(out);
	r.err  = tu_read_file(err);
	if (r.out == NULL)
		r.out = strdup("");
	if (r.err == NULL)
		r.err = strdup("");
	return r;
}

/* Runs and requires exit code `want`; the caller frees the run. */
#define EXPECT(want, home, ...)                                             \
	({                                                                  \
		run r_ = fedctl_v((home), (const char *const[]){__VA_ARGS__, \
		                              NULL});                       \
		cr_assert_eq(r_.code, (want),                               \
		    "fedctl %s: exit %d, want %d\n--- stdout ---\n%s"       \
		    "\n--- stderr ---\n%s",                                 \
		    #__VA_ARGS__, r_.code, (want), r_.out, r_.err);         \
		r_;                                                         \
	})

/* Runs with --json, requires exit `want`, returns the parsed output. */
static json_t *
fedctl_json_v(int want, const char *home, const char *const *args)
{
	const char  *argv[MAX_ARGS + 2];
	size_t       n = 0;
	run          r;
	json_t      *j;
	json_error_t je;

	for (; args[n] != NULL && n < MAX_ARGS; n++)
		argv[n] = args[n];
	argv[n++] = "--json";
	argv[n]   = NULL;
	r         = fedctl_v(home, argv);
	cr_assert_eq(r.code, want,
	    "fedctl %s ... --json: exit %d, want %d\n--- stdout ---\n%s\n"
	    "--- stderr ---\n%s",
	    args[0], r.code, want, r.out, r.err);
	j = json_loads(r.out, 0, &je);
	cr_assert_not_null(j, "fedctl %s --json printed no JSON (%s):\n%s",
	    args[0], je.text, r.out);
	run_free(&r);
	return j;
}

#define FEDCTL_JSON(want, home, ...) \
	fedctl_json_v((want), (home), (const char *const[]){__VA_ARGS__, NULL})

/* The value at "a.b.c" through objects, or NULL. */
static json_t *
jget(json_t *j, const char *path)
{
	char    buf[256], *save = NULL, *key;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key != NULL && v != NULL;
	     key = strtok_r(NULL, ".", &save))
		v = json_object_get(v, key);
	return v;
}

static const char *
jstr(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	cr_assert(json_is_string(v), "no string at %s", path);
	return json_string_value(v);
}

/* ---- scenario steps ---- */

/* Registers handle on f with one client; fills u. */
static void
user_make(user *u, const fed *f, const char *handle)
{
	json_t *j;

	snprintf(u->home, sizeof(u->home), "%s/home-%s", dir, handle);
	j = FEDCTL_JSON(0, u->home, "user", "register", handle, handle,
	    "--socket", f->sock);
	cr_assert_str_eq(jstr(j, "user.domain"), f->domain);
	snprintf(u->qid, sizeof(u->qid), "%s", jstr(j, "user.qualified_id"));
	json_decref(j);
	j = FEDCTL_JSON(0, u->home, "client", "add", "--prekeys", "8");
	json_decref(j);
}

/* The texts of the decrypted messages in u's inbox, joined by '|' (or ""),
 * acknowledging them; every message must decrypt. Caller frees. */
static char *
inbox_texts(const user *u)
{
	json_t *j = FEDCTL_JSON(0, u->home, "inbox", "--ack"), *ev;
	char   *s = strdup("");
	size_t  i;

	json_array_foreach (json_object_get(j, "events"), i, ev) {
		char *t;

		if (strcmp(jstr(ev, "type"), "message") != 0)
			continue;
		cr_assert(json_is_true(json_object_get(ev, "decrypted")),
		    "not decrypted for %s: %s", u->qid, jstr(ev, "error"));
		cr_assert(asprintf(&t, "%s%s%s", s, *s ? "|" : "",
		              jstr(ev, "text")) > 0);
		free(s);
		s = t;
	}
	json_decref(j);
	return s;
}

#define EXPECT_INBOX(u, want)                                            \
	do {                                                             \
		char *got_ = inbox_texts(u);                             \
		cr_assert_str_eq(got_, (want), "inbox of %s", (u)->qid); \
		free(got_);                                              \
	} while (0)

/* Whether a send answer says the message is queued for domain. */
static bool
queued_for(json_t *sent, const char *domain)
{
	json_t *d;
	size_t  i;

	json_array_foreach (json_object_get(sent, "queued_for"), i, d)
		if (strcmp(json_string_value(d), domain) == 0)
			return true;
	return false;
}

/* Whether a send answer lists user qid among its recipients. */
static bool
is_recipient(json_t *sent, const char *qid)
{
	json_t *r;
	size_t  i;

	json_array_foreach (json_object_get(sent, "recipients"), i, r)
		if (strcmp(jstr(r, "user.qualified_id"), qid) == 0)
			return true;
	return false;
}

Test(federation_e2e, three_domains_through_dns)
{
	user    alice, bob, carol;
	json_t *j;
	run     r;

	user_make(&alice, &F[0], "alice");
	user_make(&bob, &F[1], "bob");
	user_make(&carol, &F[2], "carol");

	/* Search: b finds by exact handle; c hides its users from a. */
	j = FEDCTL_JSON(0, alice.home, "find", "bob@b.example");
	cr_assert_str_eq(jstr(j, "user.qualified_id"), bob.qid);
	cr_assert_str_eq(jstr(j, "user.domain"), "b.example");
	cr_assert(json_is_true(jget(j, "user.federated")));
	json_decref(j);
	r = fedctl_v(alice.home,
	    (const char *const[]){"find", "carol@c.example", NULL});
	cr_assert_neq(r.code, 0, "c.example's users are found: %s", r.out);
	cr_assert_null(strstr(r.out, carol.qid), "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, alice.home, "search", "carol", "--domain",
	    "c.example");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 0);
	json_decref(j);

	/* Connections (carol by her qualified id, as she cannot be found). */
	r = EXPECT(0, alice.home, "connect", "bob@b.example");
	run_free(&r);
	r = EXPECT(0, bob.home, "accept", "alice@a.example");
	run_free(&r);
	r = EXPECT(0, alice.home, "connect", carol.qid);
	run_free(&r);
	r = EXPECT(0, carol.home, "accept", "alice@a.example");
	run_free(&r);

	/* A group of a.example with members on b and c. */
	j = FEDCTL_JSON(0, alice.home, "conv", "create", "Wonderland",
	    "bob@b.example", carol.qid);
	cr_assert_str_eq(jstr(j, "conversation.domain"), "a.example");
	cr_assert_eq(json_array_size(jget(j, "conversation.members")), 3);
	json_decref(j);

	/* Both directions; each client opens exactly what was sent to it
	 * (its own ciphertext, sealed for its own keys). */
	j = FEDCTL_JSON(0, alice.home, "send", "Wonderland", "Curiouser!");
	cr_assert(is_recipient(j, bob.qid) && is_recipient(j, carol.qid));
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	json_decref(j);
	EXPECT_INBOX(&bob, "Curiouser!");
	EXPECT_INBOX(&carol, "Curiouser!");
	j = FEDCTL_JSON(0, bob.home, "send", "Wonderland", "Can we fix it?");
	cr_assert(is_recipient(j, alice.qid) && is_recipient(j, carol.qid));
	json_decref(j);
	EXPECT_INBOX(&alice, "Can we fix it?");
	EXPECT_INBOX(&carol, "Can we fix it?");
	EXPECT_INBOX(&bob, "");

	/* c.example goes down: the message is queued for it, b's clients
	 * get it at once. */
	fed_stop(&F[2]);
	j = FEDCTL_JSON(3, alice.home, "send", "Wonderland", "Anyone on c?");
	cr_assert(queued_for(j, "c.example"), "%s", json_dumps(j, 0));
	cr_assert_not(queued_for(j, "b.example"));
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	json_decref(j);
	EXPECT_INBOX(&bob, "Anyone on c?");

	/* bob leaves (the owner tells c.example later) and no longer
	 * receives. */
	r = EXPECT(0, bob.home, "conv", "leave", "Wonderland");
	run_free(&r);
	j = FEDCTL_JSON(3, alice.home, "send", "Wonderland", "Bob has left.");
	cr_assert_not(is_recipient(j, bob.qid));
	cr_assert(queued_for(j, "c.example"));
	json_decref(j);
	EXPECT_INBOX(&bob, "");

	/* c.example is back: once it is heard from, what waited for it
	 * arrives, in order. */
	fed_start(&F[2]);
	{
		char    *got = strdup("");
		uint64_t end = tu_now_ms() + WAIT_MS;

		while (strcmp(got, "Anyone on c?|Bob has left.") != 0 &&
		    tu_now_ms() < end) {
			char *more, *t;

			r = fedctl_v(carol.home, (const char *const[]){"find",
			                             "alice@a.example", NULL});
			run_free(&r);
			more = inbox_texts(&carol);
			cr_assert(asprintf(&t, "%s%s%s", got,
			              *got && *more ? "|" : "", more) >= 0);
			free(got);
			free(more);
			got = t;
			if (strcmp(got, "Anyone on c?|Bob has left.") != 0)
				tu_sleep_ms(100);
		}
		cr_assert_str_eq(got, "Anyone on c?|Bob has left.",
		    "carol's inbox after c.example came back");
		free(got);
	}

	/* A domain not on a's allow list is refused as a federation
	 * failure, with the reason. */
	r = EXPECT(3, alice.home, "find", "dora@d.example");
	cr_assert(strstr(r.err, "d.example") != NULL, "%s", r.err);
	cr_assert(strcasestr(r.err, "permission") != NULL ||
	        strcasestr(r.err, "not allowed") != NULL,
	    "%s", r.err);
	run_free(&r);
}
