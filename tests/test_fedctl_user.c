/*
 * fedctl as users run it, against two real federator daemons (a.example
 * and b.example) on 127.0.0.1 with mutual TLS, each with its own SQLite
 * file and local ipc:// socket. Between them sits a TCP relay that records
 * every byte crossing from one backend to the other, so the tests can show
 * that the plaintext of a message is nowhere on the servers: not in their
 * databases (main file, -wal, -shm), not in their logs, and not on the
 * wire. The text output and the --json forms (parsed with jansson) are
 * what is checked, and so are the exit codes: 2 for usage errors, 3 when
 * another domain is unreachable or refuses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <fedrpc/log.h>

#include "testcerts.h"
#include "testutil.h"

#define FEDERATOR FEDRPC_BINARY_DIR "/federator"
#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define WAIT_MS TU_WAIT_MS /* bound on a daemon start and on one fedctl run */
#define MAX_ARGS 32
#define RELAY_MAX_CONNS 32

extern char **environ;

/* ---- a recording TCP relay ---- */

/* One relayed connection: the federator that dialed, and the real one. */
typedef struct relay_conn {
	int  from;       /* accepted from the dialing backend */
	int  to;         /* to the real listener */
	bool first_seen; /* the dialer's first byte was checked */
} relay_conn;

/* Forwards 127.0.0.1:port to 127.0.0.1:target and keeps every byte. */
typedef struct relay {
	int             lfd;     /* listening socket; -1 once stopped */
	int             port;    /* where the dialing backend connects */
	int             target;  /* the real federation listener */
	int             wake[2]; /* a byte here stops the thread */
	pthread_t       thread;
	bool            running;
	pthread_mutex_t mtx;  /* guards what follows */
	uint8_t        *rec;  /* both directions, as they came; owned */
	size_t          n, cap;
	size_t          conns;       /* connections relayed */
	size_t          talked;      /* of them, where the dialer sent bytes */
	size_t          tls_starts;  /* of those, starting with a TLS record */
	size_t          app_records; /* TLS application-data headers seen */
} relay;

static void
relay_record(relay *r, const uint8_t *p, size_t n)
{
	pthread_mutex_lock(&r->mtx);
	if (r->n + n > r->cap) {
		size_t   cap = r->cap ? r->cap : 1 << 16;
		uint8_t *np;

		while (cap < r->n + n)
			cap *= 2;
		if ((np = realloc(r->rec, cap)) == NULL) {
			pthread_mutex_unlock(&r->mtx);
			return;
		}
		r->rec = np;
		r->cap = cap;
	}
	memcpy(r->rec + r->n, p, n);
	r->n += n;
	/* 0x17 0x03 0x03: a TLS 1.2/1.3 application-data record header. */
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == 0x17 && p[i + 1] == 0x03 && p[i + 2] == 0x03)
			r->app_records++;
	pthread_mutex_unlock(&r->mtx);
}

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t) w;
	}
	return true;
}

static int
connect_local(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *
relay_main(void *arg)
{
	relay     *r = arg;
	relay_conn c[RELAY_MAX_CONNS];
	size_t     nc = 0;
	uint8_t    buf[16384];

	for (;;) {
		struct pollfd pf[2 + 2 * RELAY_MAX_CONNS];
		size_t        np = 0, polled;

		pf[np++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		pf[np++] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
		for (size_t i = 0; i < nc; i++) {
			pf[np++] = (struct pollfd){.fd = c[i].from, .events = POLLIN};
			pf[np++] = (struct pollfd){.fd = c[i].to, .events = POLLIN};
		}
		/* Only these have poll results: one accepted below waits for
		 * the next round (reading it now could block the thread). */
		polled = nc;
		if (poll(pf, np, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents != 0)
			break;
		if ((pf[1].revents & POLLIN) && nc < RELAY_MAX_CONNS) {
			int from = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
			int to   = from >= 0 ? connect_local(r->target) : -1;

			if (to >= 0) {
				c[nc++] = (relay_conn){from, to, false};
				pthread_mutex_lock(&r->mtx);
				r->conns++;
				pthread_mutex_unlock(&r->mtx);
			} else if (from >= 0)
				close(from);
		}
		for (size_t i = 0; i < polled; i++) {
			struct pollfd *f = &pf[2 + 2 * i];
			bool           dead = false;

			for (int side = 0; side < 2 && !dead; side++) {
				int     src = side == 0 ? c[i].from : c[i].to;
				int     dst = side == 0 ? c[i].to : c[i].from;
				ssize_t n;

				if (f[side].revents == 0)
					continue;
				if ((n = read(src, buf, sizeof(buf))) <= 0) {
					dead = true;
					break;
				}
				if (side == 0 && !c[i].first_seen) {
					/* 0x16: a TLS handshake record. */
					c[i].first_seen = true;
					pthread_mutex_lock(&r->mtx);
					r->talked++;
					r->tls_starts += buf[0] == 0x16;
					pthread_mutex_unlock(&r->mtx);
				}
				relay_record(r, buf, (size_t) n);
				dead = !write_all(dst, buf, (size_t) n);
			}
			if (dead) {
				close(c[i].from);
				close(c[i].to);
				c[i] = c[--nc];
				break; /* the poll set changed */
			}
		}
	}
	for (size_t i = 0; i < nc; i++) {
		close(c[i].from);
		close(c[i].to);
	}
	return NULL;
}

static void
relay_start(relay *r, int target)
{
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);
	int                one = 1;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mtx, NULL);
	r->target          = target;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(r->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(r->lfd, 16), 0);
	cr_assert_eq(getsockname(r->lfd, (struct sockaddr *) &sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	cr_assert_eq(pipe2(r->wake, O_CLOEXEC), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, relay_main, r), 0);
	r->running = true;
}

/* Stops relaying; later connections to its port are refused. */
static void
relay_stop(relay *r)
{
	if (!r->running)
		return;
	(void) !write(r->wake[1], "x", 1);
	pthread_join(r->thread, NULL);
	close(r->lfd);
	close(r->wake[0]);
	close(r->wake[1]);
	r->lfd     = -1;
	r->running = false;
}

static void
relay_free(relay *r)
{
	relay_stop(r);
	free(r->rec);
	r->rec = NULL;
	pthread_mutex_destroy(&r->mtx);
}

/* ---- the two backends ---- */

typedef struct fed {
	char  name[16];    /* "a" */
	char  domain[32];  /* "a.example" */
	int   port;        /* its federation listener */
	pid_t pid;
	char  conf[512], log[512], pidf[512], sock[512], db[512];
	relay in;          /* what the other backend dials to reach us */
} fed;

typedef struct user {
	char home[512];   /* FEDCTL_HOME */
	char qid[128];    /* "uuid@domain" */
	char domain[32];
} user;

static char *dir;
static fed   A, B;

static void
fed_init(fed *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->domain, sizeof(f->domain), "%s.example", name);
	f->port = tu_free_port();
	snprintf(f->conf, sizeof(f->conf), "%s/%s.conf", dir, name);
	snprintf(f->log, sizeof(f->log), "%s/%s.log", dir, name);
	snprintf(f->pidf, sizeof(f->pidf), "%s/%s.pid", dir, name);
	snprintf(f->sock, sizeof(f->sock), "%s/%s.sock", dir, name);
	snprintf(f->db, sizeof(f->db), "%s/%s.db", dir, name);
	relay_start(&f->in, f->port);
}

/* Each backend reaches the other only through the other's relay, named by
 * a static discovery entry. The certificates name "localhost" (the static
 * route's host, which the TLS client checks) and the domain. */
static void
fed_write_conf(fed *f, const fed *other)
{
	char text[4096];
	int  n;

	n = snprintf(text, sizeof(text),
	    "domain = \"%s\";\n"
	    "federation = {\n"
	    "  enabled = true;\n"
	    "  strategy = \"allowList\";\n"
	    "  default_search_policy = \"no_search\";\n"
	    "  allow = ( { domain = \"%s\"; search_policy = "
	    "\"exact_handle_search\"; } );\n"
	    "};\n"
	    "listen = \"tls+tcp://127.0.0.1:%d\";\n"
	    "local_api = \"ipc://%s\";\n"
	    "tls = { ca = \"%s/ca.crt\"; cert = \"%s/%s.crt\"; key = "
	    "\"%s/%s.key\"; };\n"
	    "discovery = { timeout_ms = 2000; static = ( { domain = \"%s\"; "
	    "host = \"localhost\"; port = %d; } ); };\n"
	    "client = { connect_timeout_ms = 1000; backoff_initial_ms = 100; "
	    "backoff_max_ms = 1000; };\n"
	    "limits = { workers = 4; };\n"
	    "storage = { adapter = \"sqlite\"; path = \"%s\"; };\n"
	    "log = { level = \"info\"; };\n",
	    f->domain, other->domain, f->port, f->sock, dir, dir, f->name, dir,
	    f->name, other->domain, other->in.port, f->db);
	cr_assert_lt((size_t) n, sizeof(text));
	cr_assert(tu_write_file(f->conf, text));
}

/* Starts a daemon that dies with the test, and waits until it serves. */
static void
fed_start(fed *f)
{
	uint64_t  end;
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
	end = tu_now_ms() + WAIT_MS;
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
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	cr_assert_not_null(dir = tu_tmpdir("fedctl-user"));
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "a",
	    (const char *const[]){"a.example", "localhost", NULL});
	testcerts_leaf(dir, "ca", "b",
	    (const char *const[]){"b.example", "localhost", NULL});
	fed_init(&A, "a");
	fed_init(&B, "b");
	fed_write_conf(&A, &B);
	fed_write_conf(&B, &A);
	fed_start(&A);
	fed_start(&B);
}

static void
teardown(void)
{
	/* Never asserts: it runs after failures too. */
	if (A.pid > 0)
		tu_stop(A.pid, SIGTERM, WAIT_MS);
	if (B.pid > 0)
		tu_stop(B.pid, SIGTERM, WAIT_MS);
	A.pid = B.pid = 0;
	relay_free(&A.in);
	relay_free(&B.in);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(fedctl_user, .init = setup, .fini = teardown, .timeout = 120);

/* ---- running fedctl ---- */

typedef struct run {
	int   code; /* exit code; -1 if it did not exit */
	char *out;  /* stdout; owned */
	char *err;  /* stderr; owned */
} run;

static void
run_free(run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* The environment fedctl gets: ours without what would change its
 * behaviour, plus FEDCTL_HOME and `extra` (may be NULL). */
static char **
child_env(const char *home, const char *extra)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + 3, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FEDCTL_", 7) != 0 &&
		    strncmp(environ[i], "FEDRPC_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "NO_COLOR=", 9) != 0 &&
		    strncmp(environ[i], "XDG_DATA_HOME=", 14) != 0)
			env[k++] = environ[i];
	if (home != NULL && asprintf(&env[k], "FEDCTL_HOME=%s", home) > 0)
		k++;
	if (extra != NULL)
		env[k++] = (char *) extra;
	env[k] = NULL;
	return env;
}

static void
env_free(char **env, const char *home)
{
	for (size_t i = 0; home != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], "FEDCTL_HOME=", 12) == 0)
			free(env[i]);
	free(env);
}

/* Runs fedctl with args (NULL-terminated) as the user of `home`, stdin
 * from /dev/null, within WAIT_MS. */
static run
fedctl_v(const char *home, const char *const *args)
{
	static int   seq;
	char         out[600], err[600];
	const char  *argv[MAX_ARGS + 2] = {FEDCTL};
	char       **env = child_env(home, NULL);
	run          r   = {-1, NULL, NULL};
	pid_t        pid;
	int          status, n = 1;

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
	env_free(env, home);
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

#define FEDCTL_RUN(home, ...) \
	fedctl_v((home), (const char *const[]){__VA_ARGS__, NULL})

/* Runs and requires exit code `want`; returns the run (caller frees). */
#define EXPECT(want, home, ...)                                          \
	({                                                               \
		run r_ = FEDCTL_RUN(home, __VA_ARGS__);                  \
		cr_assert_eq(r_.code, (want),                            \
		    "fedctl %s: exit %d, want %d\n--- stdout ---\n%s"    \
		    "\n--- stderr ---\n%s",                              \
		    #__VA_ARGS__, r_.code, (want), r_.out, r_.err);      \
		r_;                                                      \
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

static const char *
jstr(json_t *j, const char *path)
{
	/* "a.b.c" through objects */
	char  buf[256], *save = NULL, *key;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key != NULL && v != NULL;
	     key = strtok_r(NULL, ".", &save))
		v = json_object_get(v, key);
	cr_assert(json_is_string(v), "no string at %s in:\n%s", path,
	    json_dumps(j, JSON_INDENT(2)));
	return json_string_value(v);
}

static bool
jbool(json_t *j, const char *path)
{
	char  buf[256], *save = NULL, *key;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key != NULL && v != NULL;
	     key = strtok_r(NULL, ".", &save))
		v = json_object_get(v, key);
	cr_assert(json_is_boolean(v), "no boolean at %s", path);
	return json_is_true(v);
}

/* ---- scenario steps ---- */

/* Registers handle on f with a client; fills u. */
static void
user_make(user *u, fed *f, const char *handle, const char *name)
{
	json_t *j;

	snprintf(u->home, sizeof(u->home), "%s/home-%s", dir, handle);
	snprintf(u->domain, sizeof(u->domain), "%s", f->domain);
	j = FEDCTL_JSON(0, u->home, "user", "register", handle, name,
	    "--socket", f->sock);
	cr_assert_str_eq(jstr(j, "user.domain"), f->domain);
	cr_assert_str_eq(jstr(j, "user.handle"), handle);
	cr_assert_not(jbool(j, "user.federated"));
	snprintf(u->qid, sizeof(u->qid), "%s", jstr(j, "user.qualified_id"));
	json_decref(j);
	j = FEDCTL_JSON(0, u->home, "client", "add", "--prekeys", "8");
	cr_assert_eq(json_integer_value(json_object_get(
	                 json_object_get(j, "client"), "one_time_prekeys")),
	    8);
	json_decref(j);
}

/* alice@a and bob@b, connected, in a conversation of alice's. */
typedef struct pair {
	user alice, bob;
	char conv[128]; /* its qualified id */
} pair;

static void
pair_make(pair *p, const char *conv_name)
{
	json_t *j;
	run     r;

	user_make(&p->alice, &A, "alice", "Alice Liddell");
	user_make(&p->bob, &B, "bob", "Bob Builder");
	r = EXPECT(0, p->alice.home, "connect", "bob@b.example");
	run_free(&r);
	r = EXPECT(0, p->bob.home, "accept", "alice@a.example");
	cr_assert(strstr(r.out, "accepted") != NULL, "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, p->alice.home, "conv", "create", conv_name,
	    "bob@b.example");
	snprintf(p->conv, sizeof(p->conv), "%s",
	    jstr(j, "conversation.qualified_id"));
	json_decref(j);
}

/* The text of the first message event in an inbox --json answer. */
static const char *
first_message(json_t *inbox, json_t **ev_out)
{
	json_t *evs = json_object_get(inbox, "events"), *ev;
	size_t  i;

	json_array_foreach (evs, i, ev) {
		if (strcmp(jstr(ev, "type"), "message") != 0)
			continue;
		cr_assert(jbool(ev, "decrypted"), "not decrypted: %s",
		    json_dumps(ev, 0));
		if (ev_out != NULL)
			*ev_out = ev;
		return jstr(ev, "text");
	}
	cr_assert_fail("no message in:\n%s", json_dumps(inbox, JSON_INDENT(2)));
	return NULL;
}

/* ---- the tests ---- */

Test(fedctl_user, register_find_connect_converse)
{
	user    alice, bob;
	json_t *j, *ev, *members, *m;
	run     r;
	size_t  i;
	bool    saw_bob = false;

	/* Registering: the user with its qualified id, no marker (ours). */
	snprintf(alice.home, sizeof(alice.home), "%s/home-alice", dir);
	r = EXPECT(0, alice.home, "user", "register", "alice", "Alice Liddell",
	    "--socket", A.sock);
	cr_assert(strstr(r.out, "registered @alice") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@a.example") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "federated"), "%s", r.out);
	cr_assert_null(strstr(r.out, "\033["), "colour in a pipe: %s", r.out);
	run_free(&r);
	r = EXPECT(0, alice.home, "client", "add");
	run_free(&r);
	j = FEDCTL_JSON(0, alice.home, "user", "show");
	snprintf(alice.qid, sizeof(alice.qid), "%s",
	    jstr(j, "user.qualified_id"));
	json_decref(j);
	user_make(&bob, &B, "bob", "Bob Builder");

	/* Finding bob on b.example: b's policy for a.example is exact
	 * handle search. Text: the federated marker; JSON: the domain. */
	r = EXPECT(0, alice.home, "find", "bob@b.example");
	cr_assert(strstr(r.out, "@bob") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, bob.qid) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: b.example]") != NULL, "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, alice.home, "find", "bob@b.example");
	cr_assert_str_eq(jstr(j, "user.domain"), "b.example");
	cr_assert_str_eq(jstr(j, "user.qualified_id"), bob.qid);
	cr_assert_str_eq(jstr(j, "user.handle"), "bob");
	cr_assert_str_eq(jstr(j, "user.name"), "Bob Builder");
	cr_assert(jbool(j, "user.federated"));
	json_decref(j);
	/* A local user: no marker. */
	r = EXPECT(0, alice.home, "find", "alice");
	cr_assert(strstr(r.out, alice.qid) != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "[federated"), "%s", r.out);
	run_free(&r);
	/* Exact handle search: the handle, and nothing for a prefix. */
	j = FEDCTL_JSON(0, alice.home, "search", "bob", "--domain", "b.example");
	cr_assert_str_eq(jstr(j, "search_policy"), "exact_handle_search");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 1);
	json_decref(j);
	j = FEDCTL_JSON(0, alice.home, "search", "bo", "--domain", "b.example");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 0);
	json_decref(j);
	/* Nobody by that handle: exit 1. */
	r = EXPECT(1, alice.home, "find", "nobody@b.example");
	run_free(&r);

	/* Connecting across domains. */
	j = FEDCTL_JSON(0, alice.home, "connect", "bob@b.example");
	cr_assert_str_eq(jstr(j, "connection.relation"), "sent");
	cr_assert_str_eq(jstr(j, "connection.to.domain"), "b.example");
	json_decref(j);
	r = EXPECT(0, bob.home, "inbox");
	cr_assert(strstr(r.out, "pending") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, alice.qid) != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	run_free(&r);
	r = EXPECT(0, bob.home, "accept", alice.qid);
	cr_assert(strstr(r.out, "accepted") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@alice") != NULL, "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, alice.home, "connections");
	ev = json_array_get(json_object_get(j, "connections"), 0);
	cr_assert_str_eq(jstr(ev, "relation"), "accepted");
	cr_assert_str_eq(jstr(ev, "to.qualified_id"), bob.qid);
	cr_assert(jbool(ev, "to.federated"));
	json_decref(j);

	/* A conversation of a.example with bob. */
	j = FEDCTL_JSON(0, alice.home, "conv", "create", "Tea Party",
	    "bob@b.example");
	cr_assert_str_eq(jstr(j, "conversation.domain"), "a.example");
	cr_assert_not(jbool(j, "conversation.federated"));
	members = json_object_get(json_object_get(j, "conversation"), "members");
	json_array_foreach (members, i, m)
		if (strcmp(jstr(m, "qualified_id"), bob.qid) == 0) {
			saw_bob = true;
			cr_assert(jbool(m, "federated"));
			cr_assert_str_eq(jstr(m, "domain"), "b.example");
		}
	cr_assert(saw_bob);
	json_decref(j);
	/* For bob it is remote: marked with its domain. */
	r = EXPECT(0, bob.home, "conv", "list");
	cr_assert(strstr(r.out, "Tea Party") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, bob.home, "conv", "list");
	ev = json_array_get(json_object_get(j, "conversations"), 0);
	cr_assert_str_eq(jstr(ev, "domain"), "a.example");
	cr_assert(jbool(ev, "federated"));
	json_decref(j);

	/* Messages both ways, each decrypted to exactly what was sent. */
	r = EXPECT(0, alice.home, "send", "Tea Party",
	    "Why is a raven like a writing-desk?");
	cr_assert(strstr(r.out, "sent to 1 client") != NULL, "%s", r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, bob.home, "inbox");
	cr_assert_str_eq(first_message(j, &ev),
	    "Why is a raven like a writing-desk?");
	cr_assert_str_eq(jstr(ev, "sender.qualified_id"), alice.qid);
	cr_assert(jbool(ev, "sender.federated"));
	cr_assert_str_eq(jstr(ev, "conversation.domain"), "a.example");
	json_decref(j);
	r = EXPECT(0, bob.home, "inbox", "--ack");
	cr_assert(strstr(r.out, "Why is a raven like a writing-desk?") != NULL,
	    "%s", r.out);
	run_free(&r);
	r = EXPECT(0, bob.home, "send", "Tea Party", "I haven't the slightest idea");
	run_free(&r);
	j = FEDCTL_JSON(0, alice.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, &ev), "I haven't the slightest idea");
	cr_assert_str_eq(jstr(ev, "sender.qualified_id"), bob.qid);
	cr_assert(jbool(ev, "sender.federated"));
	cr_assert_str_eq(jstr(ev, "sender.domain"), "b.example");
	json_decref(j);
	r = EXPECT(0, alice.home, "inbox");
	cr_assert(strstr(r.out, "no new events") != NULL, "%s", r.out);
	run_free(&r);
}

/* Reads a whole binary file; *len its size (0 if missing). */
static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE    *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t   cap = 0, n = 0, got;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Whether `what` occurs in the file (which must exist if must_exist). */
static bool
file_has(const char *path, const char *what, bool must_exist)
{
	size_t   n;
	uint8_t *buf = read_all(path, &n);
	bool     found;

	if (must_exist)
		cr_assert_not_null(buf, "%s does not exist", path);
	found = buf != NULL && memmem(buf, n, what, strlen(what)) != NULL;
	free(buf);
	return found;
}

/* Every file that holds a backend's data: the SQLite file and its
 * write-ahead log and shared-memory index. */
static void
assert_not_in_db(const fed *f, const char *plain)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char                     path[600];
	size_t                   existing = 0;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, suffix[i]);
		existing += access(path, F_OK) == 0;
		cr_assert_not(file_has(path, plain, false),
		    "the plaintext \"%s\" is in %s", plain, path);
	}
	cr_assert_geq(existing, 1, "no database files for %s", f->domain);
}

/* Whether any of a backend's database files contains `what`. */
static bool
db_has(const fed *f, const char *what)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char                     path[600];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, suffix[i]);
		if (file_has(path, what, false))
			return true;
	}
	return false;
}

static void
assert_not_on_wire(relay *r, const char *plain, const char *which)
{
	pthread_mutex_lock(&r->mtx);
	cr_assert_null(memmem(r->rec, r->n, plain, strlen(plain)),
	    "the plaintext \"%s\" crossed the wire %s", plain, which);
	pthread_mutex_unlock(&r->mtx);
}

Test(fedctl_user, plaintext_never_on_servers)
{
	pair        p;
	json_t     *j;
	char        to_bob[128], to_alice[128], room[64];
	unsigned    tag;
	run         r;
	const char *logs[2] = {A.log, B.log};

	/* Random markers, so that no other run or fixture holds them. */
	tag = (unsigned) getpid() ^ (unsigned) tu_now_ms();
	snprintf(to_bob, sizeof(to_bob), "canary-to-bob-%08x-off-with-her-head",
	    tag);
	snprintf(to_alice, sizeof(to_alice),
	    "canary-to-alice-%08x-painting-the-roses-red", tag);
	snprintf(room, sizeof(room), "room-%08x", tag);
	pair_make(&p, room);

	r = EXPECT(0, p.alice.home, "send", p.conv, to_bob);
	run_free(&r);
	r = EXPECT(0, p.bob.home, "send", room, to_alice);
	run_free(&r);
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	cr_assert_str_eq(first_message(j, NULL), to_bob);
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "inbox");
	cr_assert_str_eq(first_message(j, NULL), to_alice);
	json_decref(j);

	/* Federation traffic went through the relays, as TLS: every
	 * connection that carried bytes opened with a handshake record
	 * (others are the channels' bare reachability probes), and data
	 * went as application-data records. Else this test proves nothing. */
	pthread_mutex_lock(&B.in.mtx);
	cr_assert_geq(B.in.talked, 1, "a.example never dialed b.example");
	cr_assert_eq(B.in.tls_starts, B.in.talked);
	cr_assert_geq(B.in.app_records, 4);
	cr_assert_gt(B.in.n, 1000);
	pthread_mutex_unlock(&B.in.mtx);
	pthread_mutex_lock(&A.in.mtx);
	cr_assert_geq(A.in.talked, 1, "b.example never dialed a.example");
	cr_assert_eq(A.in.tls_starts, A.in.talked);
	cr_assert_geq(A.in.app_records, 4);
	pthread_mutex_unlock(&A.in.mtx);

	/* While the daemons run, and after they stopped (checkpointed). */
	for (int pass = 0; pass < 2; pass++) {
		assert_not_in_db(&A, to_bob);
		assert_not_in_db(&A, to_alice);
		assert_not_in_db(&B, to_bob);
		assert_not_in_db(&B, to_alice);
		/* The search reads what the backends store in clear: the
		 * conversation's name is there, on both sides. */
		cr_assert(db_has(&A, room), "%s not in a's database", room);
		cr_assert(db_has(&B, room), "%s not in b's database", room);
		if (pass == 0) {
			fed_stop(&A);
			fed_stop(&B);
		}
	}
	assert_not_on_wire(&B.in, to_bob, "from a.example to b.example");
	assert_not_on_wire(&B.in, to_alice, "between a.example and b.example");
	assert_not_on_wire(&A.in, to_bob, "between b.example and a.example");
	assert_not_on_wire(&A.in, to_alice, "from b.example to a.example");
	/* Nor in the logs, nor in either user's key store. */
	for (int i = 0; i < 2; i++) {
		cr_assert_not(file_has(logs[i], to_bob, true));
		cr_assert_not(file_has(logs[i], to_alice, true));
	}
	{
		char ks[700];

		snprintf(ks, sizeof(ks), "%s/alice@a.example.json", p.alice.home);
		cr_assert_not(file_has(ks, to_bob, true));
		cr_assert_not(file_has(ks, to_alice, true));
		snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
		cr_assert_not(file_has(ks, to_bob, true));
		cr_assert_not(file_has(ks, to_alice, true));
	}
}

Test(fedctl_user, usage_errors_exit_2)
{
	static const char *const cmds[] = {"user", "client", "find", "search",
		"profile", "connect", "accept", "block", "connections", "conv",
		"send", "inbox", "ack"};
	char home[600];
	run  r;

	snprintf(home, sizeof(home), "%s/home-nobody", dir);
	r = EXPECT(0, home, "--help");
	cr_assert(strstr(r.out, "exit codes") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "  3  ") != NULL, "exit code 3 undocumented");
	cr_assert(strstr(r.out, "conv") != NULL, "%s", r.out);
	run_free(&r);
	/* Every user command has --help, naming exit code 3 too. */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = EXPECT(0, home, cmds[i], "--help");
		cr_assert(strstr(r.out, "usage: fedctl") != NULL, "%s: %s",
		    cmds[i], r.out);
		cr_assert(strstr(r.out, "--json") != NULL, "%s", cmds[i]);
		cr_assert(strstr(r.out, "3 another") != NULL, "%s", cmds[i]);
		run_free(&r);
	}
	r = EXPECT(0, home, "conv", "create", "--help");
	run_free(&r);

	r = EXPECT(2, home, "find");
	cr_assert(strstr(r.err, "fedctl find") != NULL, "%s", r.err);
	run_free(&r);
	r = EXPECT(2, home, "send", "--frobnicate", "x", "y");
	cr_assert(strstr(r.err, "unknown option") != NULL, "%s", r.err);
	run_free(&r);
	r = EXPECT(2, home, "conv", "rename", "x");
	run_free(&r);
	r = EXPECT(2, home, "conv");
	run_free(&r);
	r = EXPECT(2, home, "find", "Not A Handle!", "--socket", A.sock);
	run_free(&r);
	r = EXPECT(2, home, "client", "add", "--prekeys", "0");
	run_free(&r);
	r = EXPECT(2, home, "inbox", "--timeout", "soon");
	run_free(&r);
	r = EXPECT(2, home, "search", "x", "--domain");
	run_free(&r);
	/* --json says so too, and usage errors stay exit 2 with it. */
	r = EXPECT(2, home, "send", "only-a-conversation", "--json");
	run_free(&r);
	/* Not usage errors: no user yet (1), no daemon there (1). */
	r = EXPECT(1, home, "inbox");
	cr_assert(strstr(r.err, "user register") != NULL, "%s", r.err);
	run_free(&r);
	r = EXPECT(1, home, "find", "bob", "--socket", "/nonexistent/x.sock");
	cr_assert(strstr(r.err, "is the federator running") != NULL, "%s",
	    r.err);
	run_free(&r);
}

Test(fedctl_user, remote_failure_exits_3)
{
	pair    p;
	json_t *j, *err;
	run     r;

	pair_make(&p, "Croquet");
	/* A domain the allow list refuses: a federation refusal. */
	r = EXPECT(3, p.alice.home, "find", "cat@c.example");
	cr_assert(strstr(r.err, "c.example") != NULL, "%s", r.err);
	run_free(&r);

	/* b.example goes away (daemon and its address). */
	fed_stop(&B);
	relay_stop(&B.in);
	r = EXPECT(3, p.alice.home, "find", "bob@b.example");
	cr_assert(strstr(r.err, "b.example") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "UNAVAILABLE") != NULL, "%s", r.err);
	run_free(&r);
	j = FEDCTL_JSON(3, p.alice.home, "find", "bob@b.example");
	err = json_object_get(j, "error");
	cr_assert_not_null(err);
	cr_assert(jbool(err, "remote"));
	cr_assert_eq(json_integer_value(json_object_get(err, "exit_code")), 3);
	cr_assert_str_eq(jstr(err, "status"), "UNAVAILABLE");
	json_decref(j);
	/* Sending to a conversation with bob: nothing reaches b.example,
	 * and the answer does not claim otherwise. */
	j = FEDCTL_JSON(3, p.alice.home, "send", "Croquet", "anyone there?");
	cr_assert_not(jbool(j, "sent"), "%s", json_dumps(j, 0));
	cr_assert_eq(json_array_size(json_object_get(j, "delivered")), 0);
	cr_assert_geq(json_array_size(json_object_get(j, "failed_to_send")), 1);
	cr_assert_str_eq(jstr(json_array_get(json_object_get(j,
				  "failed_to_send"), 0),
			     "user.domain"),
	    "b.example");
	json_decref(j);
	r = EXPECT(3, p.alice.home, "profile", "bob@b.example");
	run_free(&r);
	/* What needs only our own backend still works. */
	r = EXPECT(0, p.alice.home, "conv", "list");
	cr_assert(strstr(r.out, "Croquet") != NULL, "%s", r.out);
	run_free(&r);
}

Test(fedctl_user, key_store_is_private_and_prekeys_forgotten_on_ack)
{
	pair        p;
	char        ks[700];
	struct stat sb;
	json_t     *j, *state, *pks;
	run         r;
	size_t      before, after;

	pair_make(&p, "Keys");
	snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "key store mode %o",
	    sb.st_mode & 0777);
	cr_assert_eq(stat(p.bob.home, &sb), 0);
	cr_assert_eq(sb.st_mode & 077, 0, "home mode %o", sb.st_mode & 0777);

	/* Readable by others: refused, with the fix named. */
	cr_assert_eq(chmod(ks, 0640), 0);
	r = EXPECT(1, p.bob.home, "inbox");
	cr_assert(strstr(r.err, "refusing") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "chmod 600") != NULL, "%s", r.err);
	run_free(&r);
	r = EXPECT(1, p.bob.home, "client", "list");
	run_free(&r);
	cr_assert_eq(chmod(ks, 0604), 0);
	r = EXPECT(1, p.bob.home, "send", "Keys", "x");
	run_free(&r);
	cr_assert_eq(chmod(ks, 0600), 0);

	/* A one-time prekey is used by one message, kept until the message
	 * is acknowledged (a second fetch still opens it), then forgotten. */
	state = json_load_file(ks, 0, NULL);
	pks   = json_object_get(json_array_get(json_object_get(state,
				  "clients"), 0),
	      "prekeys");
	before = json_array_size(pks);
	json_decref(state);
	r = EXPECT(0, p.alice.home, "send", "Keys", "read me twice");
	run_free(&r);
	for (int i = 0; i < 2; i++) {
		j = FEDCTL_JSON(0, p.bob.home, "inbox");
		cr_assert_str_eq(first_message(j, NULL), "read me twice");
		json_decref(j);
	}
	r = EXPECT(0, p.bob.home, "ack");
	cr_assert(strstr(r.out, "acknowledged") != NULL, "%s", r.out);
	run_free(&r);
	state = json_load_file(ks, 0, NULL);
	cr_assert_not_null(state);
	pks = json_object_get(json_array_get(json_object_get(state, "clients"),
			          0),
	    "prekeys");
	after = json_array_size(pks);
	json_decref(state);
	cr_assert_eq(after, before - 1, "prekeys %zu -> %zu", before, after);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
}

/* Runs fedctl on a pseudo-terminal; returns what it printed. */
static char *
run_on_tty(const char *home, const char *extra_env, const char *const *args)
{
	const char *argv[MAX_ARGS + 2] = {FEDCTL};
	char      **env = child_env(home, extra_env);
	char       *out = calloc(1, 65536);
	size_t      n = 0, i = 1;
	int         master, status;
	pid_t       pid;
	uint64_t    end = tu_now_ms() + WAIT_MS;

	for (; args[i - 1] != NULL && i <= MAX_ARGS; i++)
		argv[i] = args[i - 1];
	argv[i] = NULL;
	if ((pid = forkpty(&master, NULL, NULL, NULL)) == 0) {
		execve(FEDCTL, (char *const *) argv, env);
		_exit(127);
	}
	env_free(env, home);
	cr_assert_gt(pid, 0);
	while (tu_now_ms() < end && n < 65535) {
		struct pollfd pf = {.fd = master, .events = POLLIN};
		ssize_t       got;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((got = read(master, out + n, 65535 - n)) <= 0)
			break; /* EIO: the child closed the terminal */
		n += (size_t) got;
	}
	close(master);
	status = tu_stop(pid, 0, WAIT_MS);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "fedctl on a terminal: status %d: %s", status, out);
	return out;
}

Test(fedctl_user, colour_only_on_a_terminal)
{
	pair  p;
	char *out;
	run   r;

	pair_make(&p, "Colours");
	out = run_on_tty(p.alice.home, NULL,
	    (const char *const[]){"find", "bob@b.example", NULL});
	cr_assert(strstr(out, "\033[1;33m[federated: b.example]\033[0m") != NULL,
	    "no coloured marker on a terminal: %s", out);
	free(out);
	out = run_on_tty(p.alice.home, "NO_COLOR=1",
	    (const char *const[]){"find", "bob@b.example", NULL});
	cr_assert(strstr(out, "[federated: b.example]") != NULL, "%s", out);
	cr_assert_null(strstr(out, "\033["), "colour despite NO_COLOR: %s", out);
	free(out);
	/* Piped: plain. */
	r = EXPECT(0, p.bob.home, "conv", "list");
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "\033["), "%s", r.out);
	run_free(&r);
}

/* How many conversations a user lists. */
static size_t
conv_count(const user *u)
{
	json_t *j = FEDCTL_JSON(0, u->home, "conv", "list");
	size_t  n = json_array_size(json_object_get(j, "conversations"));

	json_decref(j);
	return n;
}

Test(fedctl_user, membership_leave_and_block)
{
	pair    p;
	json_t *j;
	run     r;

	pair_make(&p, "Court");
	/* A second conversation, bob added and removed by its owner. */
	j = FEDCTL_JSON(0, p.alice.home, "conv", "create", "Garden");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    1);
	json_decref(j);
	cr_assert_eq(conv_count(&p.bob), 1);
	j = FEDCTL_JSON(0, p.alice.home, "conv", "add", "Garden",
	    "bob@b.example");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    2);
	json_decref(j);
	cr_assert_eq(conv_count(&p.bob), 2);
	r = EXPECT(0, p.bob.home, "conv", "show", "Garden");
	cr_assert(strstr(r.out, "[federated: a.example]") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "@alice") != NULL, "%s", r.out);
	run_free(&r);
	/* Only the owner changes members. */
	r = EXPECT(1, p.bob.home, "conv", "remove", "Garden", "alice@a.example");
	cr_assert(strstr(r.err, "owned by a.example") != NULL, "%s", r.err);
	run_free(&r);
	r = EXPECT(0, p.alice.home, "conv", "remove", "Garden", p.bob.qid);
	run_free(&r);
	cr_assert_eq(conv_count(&p.bob), 1);

	/* bob leaves alice's conversation from his side (a remote leave). */
	r = EXPECT(0, p.bob.home, "conv", "leave", "Court");
	cr_assert(strstr(r.out, "left") != NULL, "%s", r.out);
	run_free(&r);
	cr_assert_eq(conv_count(&p.bob), 0);
	j = FEDCTL_JSON(0, p.alice.home, "conv", "show", "Court");
	cr_assert_eq(json_array_size(json_object_get(
	                 json_object_get(j, "conversation"), "members")),
	    1);
	json_decref(j);
	r = EXPECT(0, p.alice.home, "inbox");
	cr_assert(strstr(r.out, "members left") != NULL, "%s", r.out);
	run_free(&r);
	r = EXPECT(1, p.bob.home, "send", "Court", "let me back in");
	cr_assert(strstr(r.err, "no conversation") != NULL, "%s", r.err);
	run_free(&r);

	/* Blocking is bob's side only; alice is not told. */
	j = FEDCTL_JSON(0, p.bob.home, "block", "alice@a.example");
	cr_assert_str_eq(jstr(j, "connection.relation"), "blocked");
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "connections");
	cr_assert_str_eq(jstr(json_array_get(json_object_get(j,
				  "connections"), 0),
			     "relation"),
	    "accepted");
	json_decref(j);
}

Test(fedctl_user, wrong_keys_cannot_read)
{
	pair        p;
	char        ks[700];
	json_t     *state, *pks, *pk, *j, *ev;
	size_t      i, n;
	const char *first;
	char       *saved;
	run         r;

	pair_make(&p, "Mirror");
	/* Rotate bob's private prekeys by one: each public key now pairs
	 * with another's private key, as if the key store were not his. */
	snprintf(ks, sizeof(ks), "%s/bob@b.example.json", p.bob.home);
	cr_assert_not_null(state = json_load_file(ks, 0, NULL));
	pks = json_object_get(json_array_get(json_object_get(state, "clients"),
			          0),
	    "prekeys");
	n = json_array_size(pks);
	cr_assert_gt(n, 2);
	first = json_string_value(
	    json_object_get(json_array_get(pks, 0), "private"));
	saved = strdup(first);
	json_array_foreach (pks, i, pk) {
		json_t *next = json_array_get(pks, (i + 1) % n);

		json_object_set_new(pk, "private",
		    json_string(i + 1 < n ? json_string_value(json_object_get(
						next, "private"))
					  : saved));
	}
	free(saved);
	cr_assert_eq(json_dump_file(state, ks, JSON_INDENT(2)), 0);
	cr_assert_eq(chmod(ks, 0600), 0);
	json_decref(state);

	r = EXPECT(0, p.alice.home, "send", "Mirror", "through the looking glass");
	run_free(&r);
	j = FEDCTL_JSON(1, p.bob.home, "inbox");
	cr_assert_eq(json_integer_value(json_object_get(j, "undecryptable")), 1);
	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(jstr(ev, "type"), "message") == 0) {
			cr_assert_not(jbool(ev, "decrypted"));
			cr_assert_null(json_object_get(ev, "text"));
			cr_assert(strstr(jstr(ev, "error"), "wrong key") != NULL);
		}
	json_decref(j);
	r = EXPECT(1, p.bob.home, "inbox");
	cr_assert(strstr(r.out, "[cannot decrypt") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "looking glass"), "%s", r.out);
	cr_assert(strstr(r.err, "could not be decrypted") != NULL, "%s", r.err);
	run_free(&r);
}

/* ---- sessions ---- */

static json_int_t
jint(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	cr_assert(json_is_integer(v), "no integer %s in %s", key,
	    json_dumps(j, 0));
	return json_integer_value(v);
}

/* The sessions of the first client in a user's key store (a new
 * reference), after checking the file is still private. */
static json_t *
stored_sessions(const user *u, const char *handle)
{
	char        ks[700];
	struct stat sb;
	json_t     *state, *ss;

	snprintf(ks, sizeof(ks), "%s/%s@%s.json", u->home, handle, u->domain);
	cr_assert_eq(stat(ks, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "%s: mode %o", ks,
	    sb.st_mode & 0777);
	cr_assert_not_null(state = json_load_file(ks, 0, NULL));
	cr_assert_eq(jint(state, "version"), 2);
	ss = json_object_get(
	    json_array_get(json_object_get(state, "clients"), 0), "sessions");
	cr_assert(json_is_array(ss));
	json_incref(ss);
	json_decref(state);
	return ss;
}

/* The one user entry of a send report's list, checking it names user
 * and exactly client. */
static void
expect_only(json_t *report, const char *list, const char *qid,
    const char *client)
{
	json_t *l = json_object_get(report, list), *cs;

	cr_assert_eq(json_array_size(l), 1, "%s: %s", list,
	    json_dumps(report, JSON_INDENT(2)));
	cr_assert_str_eq(jstr(json_array_get(l, 0), "user.qualified_id"), qid);
	cs = json_object_get(json_array_get(l, 0), "clients");
	cr_assert_eq(json_array_size(cs), 1, "%s", list);
	cr_assert_str_eq(json_string_value(json_array_get(cs, 0)), client);
}

/* Whether `fedctl find` from home finds who (exit 0). */
static bool
find_ok(const char *home, const char *who)
{
	run  r  = FEDCTL_RUN(home, "find", who);
	bool ok = r.code == 0;

	run_free(&r);
	return ok;
}

/* Whether home's inbox holds the decrypted message `text` (what it
 * fetched is acknowledged). */
static bool
inbox_has(const char *home, const char *text)
{
	json_t *j = FEDCTL_JSON(0, home, "inbox", "--ack");
	json_t *ev;
	size_t  i;
	bool    found = false;

	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(jstr(ev, "type"), "message") == 0 &&
		    jbool(ev, "decrypted") &&
		    strcmp(jstr(ev, "text"), text) == 0)
			found = true;
	json_decref(j);
	return found;
}

Test(fedctl_user, a_session_encrypts_while_the_recipients_backend_is_down)
{
	pair        p;
	json_t     *j, *enc, *ss, *ev;
	run         r;
	char        bob_client[20];
	size_t      i, seen = 0;
	const char *order[] = {
	    "during the outage", "still down", "after the outage"};

	pair_make(&p, "Outage");
	/* The first message sets a session up from a claimed prekey. */
	j = FEDCTL_JSON(0, p.alice.home, "send", "Outage", "before the outage");
	cr_assert(jbool(j, "sent"));
	enc = json_object_get(j, "encryption");
	cr_assert_eq(jint(enc, "sessions_started"), 1);
	cr_assert_eq(jint(enc, "sessions_used"), 0);
	snprintf(bob_client, sizeof(bob_client), "%s",
	    json_string_value(json_array_get(json_object_get(json_array_get(
	        json_object_get(j, "delivered"), 0), "clients"), 0)));
	expect_only(j, "delivered", p.bob.qid, bob_client);
	json_decref(j);
	j = FEDCTL_JSON(0, p.bob.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, NULL), "before the outage");
	json_decref(j);
	ss = stored_sessions(&p.alice, "alice");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_str_eq(jstr(json_array_get(ss, 0), "role"), "initiator");
	cr_assert_str_eq(jstr(json_array_get(ss, 0), "peer"), p.bob.qid);
	cr_assert_str_eq(jstr(json_array_get(ss, 0), "peer_client"), bob_client);
	json_decref(ss);

	/* b.example goes down: its relay still takes connections, and
	 * closes them. Alice still encrypts for bob's client on the session,
	 * asking b.example nothing; a.example, the owner, queues the message
	 * for b.example, and alice is told the truth: nobody got it yet, it
	 * is queued for b.example, and bob's client was taken on trust. */
	fed_stop(&B);
	j = FEDCTL_JSON(3, p.alice.home, "send", "Outage", "during the outage");
	cr_assert_not(jbool(j, "sent"), "%s", json_dumps(j, JSON_INDENT(2)));
	cr_assert_eq(json_array_size(json_object_get(j, "delivered")), 0);
	expect_only(j, "recipients", p.bob.qid, bob_client);
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "queued_for")), 1);
	cr_assert_str_eq(json_string_value(json_array_get(
	                     json_object_get(j, "queued_for"), 0)),
	    "b.example");
	expect_only(j, "failed_to_confirm_clients", p.bob.qid, bob_client);
	cr_assert_str_eq(jstr(json_array_get(json_object_get(j, "deliveries"), 0),
	                     "state"),
	    "queued");
	enc = json_object_get(j, "encryption");
	cr_assert_eq(jint(enc, "sessions_used"), 1);
	cr_assert_eq(jint(enc, "sessions_started"), 0);
	cr_assert_eq(json_array_size(
	                 json_object_get(enc, "claim_unreachable_domains")),
	    0, "a prekey was claimed: %s", json_dumps(enc, 0));
	json_decref(j);
	r = EXPECT(3, p.alice.home, "send", "Outage", "still down");
	cr_assert(strstr(r.out, "queued for b.example") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "not delivered to anyone yet") != NULL, "%s",
	    r.out);
	cr_assert(strstr(r.out, "not confirmed") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "sent to"), "%s", r.out);
	cr_assert_null(strstr(r.err, "claim"), "%s", r.err);
	run_free(&r);
	/* The chain moved on with each message, and was kept. */
	ss = stored_sessions(&p.alice, "alice");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_eq(jint(json_object_get(json_array_get(ss, 0), "send"), "n"),
	    3);
	json_decref(ss);

	/* b.example is back; once a.example reaches it again, a message on
	 * the same session arrives and opens. */
	fed_start(&B);
	cr_assert(TU_WAIT_FOR(find_ok(p.alice.home, "bob@b.example"), WAIT_MS),
	    "b.example unreachable after its restart");
	j = FEDCTL_JSON(0, p.alice.home, "send", "Outage", "after the outage");
	cr_assert(jbool(j, "sent"));
	expect_only(j, "delivered", p.bob.qid, bob_client);
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	enc = json_object_get(j, "encryption");
	cr_assert_eq(jint(enc, "sessions_used"), 1);
	cr_assert_eq(jint(enc, "sessions_started"), 0);
	json_decref(j);
	/* What waited for b.example arrived first, in order, and opens on
	 * the session like the rest. */
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	cr_assert_eq(jint(j, "undecryptable"), 0);
	json_array_foreach (json_object_get(j, "events"), i, ev)
		if (strcmp(jstr(ev, "type"), "message") == 0) {
			cr_assert(jbool(ev, "decrypted"));
			cr_assert_lt(seen, 3, "%s", json_dumps(j, JSON_INDENT(2)));
			cr_assert_str_eq(jstr(ev, "text"), order[seen], "%s",
			    json_dumps(j, JSON_INDENT(2)));
			seen++;
		}
	cr_assert_eq(seen, 3, "%s", json_dumps(j, JSON_INDENT(2)));
	json_decref(j);

	/* bob answers on the session alice set up: no prekey of hers. */
	j = FEDCTL_JSON(0, p.bob.home, "send", "Outage", "welcome back");
	cr_assert(jbool(j, "sent"));
	enc = json_object_get(j, "encryption");
	cr_assert_eq(jint(enc, "sessions_used"), 1);
	cr_assert_eq(jint(enc, "sessions_started"), 0);
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "inbox", "--ack");
	cr_assert_str_eq(first_message(j, NULL), "welcome back");
	json_decref(j);
	ss = stored_sessions(&p.bob, "bob");
	cr_assert_eq(json_array_size(ss), 1);
	cr_assert_str_eq(jstr(json_array_get(ss, 0), "role"), "responder");
	json_decref(ss);

	/* Now the conversation's owner, a.example, is down: bob's message
	 * waits for it on b.example, and alice reads it once a.example is
	 * back. */
	fed_stop(&A);
	r = EXPECT(3, p.bob.home, "send", "Outage", "while the owner was away");
	cr_assert(strstr(r.out, "queued for a.example") != NULL, "%s", r.out);
	cr_assert_null(strstr(r.out, "sent to"), "%s", r.out);
	run_free(&r);
	fed_start(&A);
	cr_assert(TU_WAIT_FOR(find_ok(p.bob.home, "alice@a.example"), WAIT_MS),
	    "a.example unreachable after its restart");
	cr_assert(TU_WAIT_FOR(inbox_has(p.alice.home,
	                          "while the owner was away"),
	              WAIT_MS),
	    "alice never got the message that waited for a.example");
}

/* A send repeated with the same --id (as after a crash of the backend
 * before its answer) is answered as the first one and goes out once. */
Test(fedctl_user, a_send_repeated_with_its_id_goes_out_once)
{
	pair    p;
	json_t *j, *ev;
	size_t  i, n = 0;
	run     r;

	pair_make(&p, "Once");
	j = FEDCTL_JSON(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(jbool(j, "sent"));
	cr_assert_not(jbool(j, "repeated"));
	cr_assert_str_eq(jstr(j, "message_id"), "msg-0001");
	json_decref(j);
	j = FEDCTL_JSON(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(jbool(j, "repeated"), "%s", json_dumps(j, JSON_INDENT(2)));
	cr_assert_str_eq(jstr(j, "message_id"), "msg-0001");
	cr_assert_str_eq(jstr(json_array_get(json_object_get(j, "deliveries"), 0),
	                     "state"),
	    "delivered");
	json_decref(j);
	r = EXPECT(0, p.alice.home, "send", "Once", "only once", "--id",
	    "msg-0001");
	cr_assert(strstr(r.out, "already sent as msg-0001") != NULL, "%s",
	    r.out);
	run_free(&r);
	j = FEDCTL_JSON(0, p.bob.home, "inbox");
	json_array_foreach (json_object_get(j, "events"), i, ev)
		n += strcmp(jstr(ev, "type"), "message") == 0;
	cr_assert_eq(n, 1, "%s", json_dumps(j, JSON_INDENT(2)));
	json_decref(j);
	/* The id is checked before anything is sent. */
	r = EXPECT(2, p.alice.home, "send", "Once", "x", "--id", "has space");
	run_free(&r);
	r = EXPECT(2, p.alice.home, "send", "Once", "x", "--id", "");
	run_free(&r);
}
