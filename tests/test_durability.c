/*
 * Acknowledged data survives kill -9: a federator daemon with the SQLite
 * adapter is killed right after answering, restarted on the same files, and
 * everything it acknowledged is still there.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "testutil.h"

#define FEDERATOR FEDRPC_BINARY_DIR "/federator"
#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define N_USERS 20

static char *dir;
static pid_t daemon_pid;

static void
daemon_start(void)
{
	char *const argv[] = {FEDERATOR, "-c", (char *) tu_path(dir, "d.conf"),
		"--pid-file", (char *) tu_path(dir, "d.pid"), NULL};

	unlink(tu_path(dir, "d.pid"));
	daemon_pid = tu_spawn(argv, tu_path(dir, "d.log"));
	cr_assert_gt(daemon_pid, 0);
	for (uint64_t end = tu_now_ms() + TU_WAIT_MS;
	     access(tu_path(dir, "d.pid"), F_OK) != 0 && tu_now_ms() < end;) {
		int status;

		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid)
			cr_assert_fail("federator exited:\n%s",
			    tu_read_file(tu_path(dir, "d.log")));
		tu_sleep_ms(10);
	}
	cr_assert_eq(access(tu_path(dir, "d.pid"), F_OK), 0, "no pid file");
}

/* Runs fedctl as `handle` with --json; returns its parsed output. */
static json_t *
fedctl_json(const char *handle, const char *args)
{
	char         cmd[2048], out[16384];
	size_t       n;
	FILE        *p;
	json_error_t err;
	json_t      *j;
	int          status;

	snprintf(cmd, sizeof(cmd),
	    "FEDCTL_HOME=%s/home-%s timeout 20 %s %s --json 2>>%s/fedctl.err",
	    dir, handle, FEDCTL, args, dir);
	cr_assert_not_null(p = popen(cmd, "r"));
	n      = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: exit %d\n%s", cmd, WEXITSTATUS(status), out);
	j = json_loads(out, 0, &err);
	cr_assert_not_null(j, "%s: not JSON: %s\n%s", cmd, err.text, out);
	return j;
}

static const char *
jstr(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(j, a), b);

	cr_assert(json_is_string(v), "no %s.%s in %s", a, b, json_dumps(j, 0));
	return json_string_value(v);
}

static void
setup(void)
{
	char conf[1024];

	cr_assert_not_null(dir = tu_tmpdir("durability"));
	/* No federation: the local API and storage are what is tested. */
	snprintf(conf, sizeof(conf),
	    "domain = \"a.example\";\n"
	    "federation = { enabled = false; };\n"
	    "local_api = \"ipc://%s/d.sock\";\n"
	    "storage = { adapter = \"sqlite\"; path = \"%s/d.db\"; };\n"
	    "log = { level = \"warn\"; };\n",
	    dir, dir);
	cr_assert(tu_write_file(tu_path(dir, "d.conf"), conf));
	daemon_start();
}

static void
teardown(void)
{
	if (daemon_pid > 0)
		tu_stop(daemon_pid, SIGTERM, 5000);
	tu_rmrf(dir);
	free(dir);
}

Test(durability, acknowledged_writes_survive_kill_9, .init = setup,
    .fini = teardown, .timeout = 120)
{
	char    handle[16], qid[N_USERS][128], client[N_USERS][32];
	char    args[512];
	json_t *j;
	int     status;

	/* Every write below is acknowledged before the next starts. */
	for (int i = 0; i < N_USERS; i++) {
		snprintf(handle, sizeof(handle), "user%02d", i);
		snprintf(args, sizeof(args),
		    "user register %s \"User %d\" --socket %s/d.sock", handle, i,
		    dir);
		j = fedctl_json(handle, args);
		snprintf(qid[i], sizeof(qid[i]), "%s",
		    jstr(j, "user", "qualified_id"));
		json_decref(j);
		j = fedctl_json(handle, "client add --prekeys 4");
		snprintf(client[i], sizeof(client[i]), "%s",
		    jstr(j, "client", "id"));
		json_decref(j);
	}

	/* No warning, no shutdown: the process is gone at once. */
	kill(daemon_pid, SIGKILL);
	cr_assert_eq(waitpid(daemon_pid, &status, 0), daemon_pid);
	daemon_pid = 0;
	daemon_start();

	for (int i = 0; i < N_USERS; i++) {
		json_t *clients, *c;
		size_t  k;
		bool    seen = false;

		snprintf(handle, sizeof(handle), "user%02d", i);
		snprintf(args, sizeof(args), "find %s", handle);
		j = fedctl_json("user00", args);
		cr_assert_str_eq(jstr(j, "user", "qualified_id"), qid[i],
		    "user %s lost or changed after kill -9", handle);
		json_decref(j);
		j       = fedctl_json(handle, "client list");
		clients = json_object_get(j, "clients");
		json_array_foreach (clients, k, c)
			if (json_is_string(json_object_get(c, "id")) &&
			    strcmp(json_string_value(json_object_get(c, "id")),
			        client[i]) == 0)
				seen = true;
		cr_assert(seen, "client %s of %s lost after kill -9: %s",
		    client[i], handle, json_dumps(j, 0));
		json_decref(j);
	}
}
