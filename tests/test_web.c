/*
 * The web client against real federators (tests/support/daemons.h):
 * headless chromium driven by tests/web/browser_test.py (two people log
 * in on two domains, connect, talk with each other and with a third who
 * uses fedctl; a backend goes down and comes back; federated markers;
 * another domain's HTML in a display name stays text), and the gateway's
 * security at the HTTP level by tests/web/security_test.py (no access
 * without a session, other users' data out of reach, CSRF, the log-in
 * rate limit, headers). The scripts ask this side to stop and start
 * daemons over a pair of pipes; all waits are bounded.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemons.h"
#include "testutil.h"

#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define PYTHON "/usr/bin/python3"
#define SCRIPT_MS 400000 /* bound on one script's whole run */

/* Carol's display name: markup from another domain, to be shown as text. */
#define CAROL_NAME "<img src=x id=pwned-img><script>window.pwned=1</script>Carol"

typedef struct web_env {
	td  *t;
	int  port[TD_MAX];
	char url[TD_MAX][64];
	char passwords[TD_MAX][600];
	char home[TD_MAX][600];
} web_env;

static void
need_tools(void)
{
	const char *tools[] = {"/usr/bin/chromium", "/usr/bin/chromedriver",
	    PYTHON, NULL};

	for (int i = 0; tools[i] != NULL; i++)
		cr_assert_eq(access(tools[i], X_OK), 0,
		    "%s is missing: run scripts/install-deps.sh", tools[i]);
}

/* n daemons, each with a web client on its own loopback port; those in
 * tls_mask over HTTPS with their federation certificate (it names
 * localhost). */
static void
web_start(web_env *w, int n, unsigned tls_mask)
{
	memset(w, 0, sizeof(*w));
	w->t = td_new(n, NULL);
	for (int i = 0; i < n; i++) {
		td_fed *f = &w->t->f[i];

		bool tls = (tls_mask >> i) & 1;
		char tls_conf[1400] = "", conf[4096];

		w->port[i] = tu_free_port();
		snprintf(w->url[i], sizeof(w->url[i]), "%s://%s:%d",
		    tls ? "https" : "http", tls ? "localhost" : "127.0.0.1",
		    w->port[i]);
		if (tls)
			snprintf(tls_conf, sizeof(tls_conf),
			    "tls_cert = \"%s/%s.crt\"; tls_key = \"%s/%s.key\"; ",
			    w->t->dir, f->name, w->t->dir, f->name);
		snprintf(w->passwords[i], sizeof(w->passwords[i]),
		    "%s/%s.passwords", w->t->dir, f->name);
		snprintf(w->home[i], sizeof(w->home[i]), "%s/home-%s", w->t->dir,
		    f->name);
		cr_assert_eq(mkdir(w->home[i], 0700), 0);
		snprintf(conf, sizeof(conf),
		    "web = { listen = \"%s://127.0.0.1:%d\"; root = \"%s/web\"; "
		    "passwords = \"%s\"; login_failures = 3; %s};\n",
		    tls ? "https" : "http", w->port[i], FEDRPC_SOURCE_DIR,
		    w->passwords[i], tls_conf);
		cr_assert_lt(strlen(conf), sizeof(f->extra));
		memcpy(f->extra, conf, strlen(conf) + 1);
		td_start(w->t, i, NULL);
	}
}

/* Registers handle on daemon i in its fedctl home. */
static void
web_register(web_env *w, int i, const char *handle, const char *name)
{
	free(td_fedctl(w->t, i, w->home[i], 0,
	    (const char *const[]){"user", "register", handle, name, NULL}));
}

/* fedctl user password for handle on daemon i, the password on stdin. */
static void
web_password(web_env *w, int i, const char *handle, const char *pw)
{
	char  as[300], cmd[4096];
	FILE *p;

	snprintf(as, sizeof(as), "%s@%s", handle, w->t->f[i].domain);
	snprintf(cmd, sizeof(cmd),
	    "FEDCTL_HOME='%s' '%s' user password --as '%s' --file '%s' "
	    "--socket '%s' >/dev/null",
	    w->home[i], FEDCTL, as, w->passwords[i], w->t->f[i].sock);
	cr_assert_not_null(p = popen(cmd, "w"));
	fprintf(p, "%s\n", pw);
	cr_assert_eq(pclose(p), 0, "fedctl user password %s failed", as);
}

/* A one-time log-in link for handle on daemon i (fedctl user login-link). */
static char *
web_link(web_env *w, int i, const char *handle)
{
	char  as[300], *out, *p, *link;

	snprintf(as, sizeof(as), "%s@%s", handle, w->t->f[i].domain);
	out = td_fedctl(w->t, i, w->home[i], 0,
	    (const char *const[]){"user", "login-link", "--as", as, "--file",
	        w->passwords[i], NULL});
	cr_assert_not_null(p = strstr(out, "\"link\": \""), "%s", out);
	p += strlen("\"link\": \"");
	link = strndup(p, strcspn(p, "\""));
	free(out);
	return link;
}

/* One control command of the script: "stop N", "start N", "exit". */
static bool
control(web_env *w, const char *line, int reply)
{
	int i;

	if (sscanf(line, "stop %d", &i) == 1 && i >= 0 && i < w->t->n)
		td_stop(w->t, i);
	else if (sscanf(line, "start %d", &i) == 1 && i >= 0 && i < w->t->n)
		td_start(w->t, i, NULL);
	else
		return false;
	cr_assert_eq(write(reply, "ok\n", 3), 3);
	return true;
}

/*
 * Runs a script with env ("NAME=value" strings, NULL-ended), serving its
 * control commands, within SCRIPT_MS; its output into log. The exit
 * status.
 */
static int
run_script(web_env *w, const char *script, const char *const *env,
    const char *log)
{
	int      to_c[2], to_py[2], status = -1;
	char     buf[256];
	size_t   len = 0;
	uint64_t end = tu_now_ms() + SCRIPT_MS;
	pid_t    pid;

	cr_assert_eq(pipe(to_c), 0);
	cr_assert_eq(pipe(to_py), 0);
	if ((pid = fork()) == 0) {
		int  fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char a[32], b[32];

		/* Its own process group: chromedriver and chromium go with
		 * it, however it ends. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		close(to_c[0]);
		close(to_py[1]);
		snprintf(a, sizeof(a), "%d", to_c[1]);
		snprintf(b, sizeof(b), "%d", to_py[0]);
		setenv("CTL_OUT", a, 1);
		setenv("CTL_IN", b, 1);
		for (int i = 0; env[i] != NULL; i++)
			putenv((char *) env[i]);
		execl(PYTHON, PYTHON, script, (char *) NULL);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	close(to_c[1]);
	close(to_py[0]);
	for (;;) {
		struct pollfd pfd = {.fd = to_c[0], .events = POLLIN};
		uint64_t      now = tu_now_ms();
		ssize_t       n;
		char         *nl;

		if (now >= end) {
			kill(-pid, SIGKILL);
			cr_log_error("%s ran longer than %d ms", script, SCRIPT_MS);
			break;
		}
		if (poll(&pfd, 1, (int) (end - now)) <= 0)
			continue;
		if ((n = read(to_c[0], buf + len, sizeof(buf) - 1 - len)) <= 0)
			break; /* the script ended */
		len += (size_t) n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (!control(w, buf, to_py[1]))
				goto done;
			memmove(buf, nl + 1, len - (size_t) (nl + 1 - buf) + 1);
			len = strlen(buf);
		}
	}
done:
	close(to_c[0]);
	close(to_py[1]);
	status = tu_stop(pid, 0, TD_WAIT_MS);
	kill(-pid, SIGKILL); /* what the script left behind, if anything */
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *
env_str(const char *name, const char *value)
{
	char *s;

	cr_assert(asprintf(&s, "%s=%s", name, value) > 0);
	return s;
}

Test(web, browsers_and_fedctl, .timeout = 600)
{
	web_env w;
	char    log[700], *env[20], *out, *link;
	int     n = 0, rc;

	need_tools();
	web_start(&w, 3, 0);
	web_register(&w, 0, "alice", "Alice");
	web_register(&w, 1, "bob", "Bob");
	web_register(&w, 2, "carol", CAROL_NAME);
	free(td_fedctl(w.t, 2, w.home[2], 0,
	    (const char *const[]){"client", "add", NULL}));
	web_password(&w, 0, "alice", "alice's web password");
	web_password(&w, 1, "bob", "bob's web password");

	snprintf(log, sizeof(log), "%s/browser.log", w.t->dir);
	env[n++] = env_str("WEB_A", w.url[0]);
	env[n++] = env_str("WEB_B", w.url[1]);
	env[n++] = env_str("PW_A", "alice's web password");
	env[n++] = env_str("PW_B", "bob's web password");
	link     = web_link(&w, 1, "bob");
	env[n++] = env_str("LINK_B", strstr(link, "#"));
	free(link);
	env[n++] = env_str("CAROL_NAME", CAROL_NAME);
	env[n++] = env_str("FEDCTL", FEDCTL);
	env[n++] = env_str("A_SOCK", w.t->f[0].sock);
	env[n++] = env_str("C_SOCK", w.t->f[2].sock);
	env[n++] = env_str("C_HOME", w.home[2]);
	env[n++] = env_str("SCRATCH", w.t->dir);
	env[n++] = env_str("HOME", w.t->dir);
	env[n]   = NULL;
	rc = run_script(&w, FEDRPC_SOURCE_DIR "/tests/web/browser_test.py",
	    (const char *const *) env, log);
	out = tu_read_file(log);
	cr_assert_eq(rc, 0, "the browser test failed (exit %d):\n%s", rc,
	    out != NULL ? out : "(no output)");
	free(out);
	for (int i = 0; i < n; i++)
		free(env[i]);
	td_finish(w.t);
}

Test(web, security, .timeout = 300)
{
	web_env w;
	char    log[700], *env[20], *out;
	int     n = 0, rc;

	need_tools();
	web_start(&w, 2, 2);
	web_register(&w, 0, "alice", "Alice");
	web_register(&w, 0, "eve", "Eve");
	web_register(&w, 1, "bob", "Bob");
	web_password(&w, 1, "bob", "bob's web password");
	/* A second password for alice replaces her line, keeps eve's. */
	web_password(&w, 0, "alice", "alice's first web password");
	web_password(&w, 0, "eve", "eve's web password");
	web_password(&w, 0, "alice", "alice's web password");
	{
		struct stat sb;
		char       *file = tu_read_file(w.passwords[0]);

		cr_assert_eq(stat(w.passwords[0], &sb), 0);
		cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
		cr_assert_not_null(file);
		cr_assert_null(strstr(file, "web password"), "%s", file);
		cr_assert_not_null(strstr(file, "\nalice "), "%s", file);
		cr_assert_null(strstr(strstr(file, "\nalice ") + 1, "\nalice "),
		    "two lines for alice:\n%s", file);
		cr_assert_not_null(strstr(file, "\neve "), "%s", file);
		cr_assert_not_null(strstr(file, "$argon2id$v=19$m=19456,t=2,p=1$"));
		free(file);
	}

	snprintf(log, sizeof(log), "%s/security.log", w.t->dir);
	env[n++] = env_str("WEB_A", w.url[0]);
	env[n++] = env_str("PW_ALICE", "alice's web password");
	env[n++] = env_str("PW_EVE", "eve's web password");
	env[n++] = env_str("WEB_B", w.url[1]);
	env[n++] = env_str("PW_BOB", "bob's web password");
	cr_assert(asprintf(&env[n++], "CA=%s/ca.crt", w.t->dir) > 0);
	env[n++] = env_str("LOGIN_FAILURES", "3");
	env[n++] = web_link(&w, 0, "eve");
	cr_assert(asprintf(&env[n - 1], "LINK_EVE=%s", (out = env[n - 1])) > 0);
	free(out);
	env[n]   = NULL;
	rc = run_script(&w, FEDRPC_SOURCE_DIR "/tests/web/security_test.py",
	    (const char *const *) env, log);
	out = tu_read_file(log);
	cr_assert_eq(rc, 0, "the security test failed (exit %d):\n%s", rc,
	    out != NULL ? out : "(no output)");
	free(out);
	for (int i = 0; i < n; i++)
		free(env[i]);
	td_finish(w.t);
}
