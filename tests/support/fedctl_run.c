/*
 * The fedctl runner of fedctl_run.h: a child process with a cleaned
 * environment whose output is read back from files once it exited.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fedctl_run.h"
#include "testutil.h"

extern char **environ;

/* Settings of ours that would change what fedctl does. */
static bool
inherited(const char *kv)
{
	return strncmp(kv, "FEDCTL_", 7) != 0 &&
	    strncmp(kv, "FEDRPC_SOCKET=", 14) != 0 &&
	    strncmp(kv, "NO_COLOR=", 9) != 0 &&
	    strncmp(kv, "XDG_DATA_HOME=", 14) != 0;
}

/* Our environment without those, plus FEDCTL_HOME=home (*home_kv, which
 * the caller frees with the array) and extra. */
static char **
child_env(const char *home, const char *extra, char **home_kv)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	cr_assert_not_null(env = calloc(n + 3, sizeof(*env)));
	for (size_t i = 0; i < n; i++)
		if (inherited(environ[i]))
			env[k++] = environ[i];
	*home_kv = NULL;
	if (home != NULL) {
		cr_assert(asprintf(home_kv, "FEDCTL_HOME=%s", home) > 0);
		env[k++] = *home_kv;
	}
	if (extra != NULL)
		env[k++] = (char *) extra;
	env[k] = NULL;
	return env;
}

fr_run
fr_fedctl(const char *scratch, const char *home, const char *extra_env,
    const char *const *args)
{
	static int  seq;
	char        out[600], err[600], *home_kv;
	const char *argv[FR_MAX_ARGS + 2] = {FR_FEDCTL};
	char      **env = child_env(home, extra_env, &home_kv);
	fr_run      r   = {-1, NULL, NULL};
	pid_t       pid;
	int         status, n = 1;

	for (; args[n - 1] != NULL && n <= FR_MAX_ARGS; n++)
		argv[n] = args[n - 1];
	cr_assert_null(args[n - 1], "too many fedctl arguments");
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/fedctl-%d.out", scratch, seq);
	snprintf(err, sizeof(err), "%s/fedctl-%d.err", scratch, seq++);
	if ((pid = fork()) == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o  = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e  = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execve(FR_FEDCTL, (char *const *) argv, env);
		_exit(127);
	}
	free(home_kv);
	free(env);
	cr_assert_gt(pid, 0);
	status = tu_stop(pid, 0, TU_WAIT_MS);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r.out  = tu_read_file(out);
	r.err  = tu_read_file(err);
	if (r.out == NULL)
		r.out = strdup("");
	if (r.err == NULL)
		r.err = strdup("");
	/* Said here, with what fedctl wrote, since callers only see -1. */
	if (r.code == -1)
		fprintf(stderr, "fedctl %s: %s; its stderr:\n%s\n", args[0],
		    WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
		                        : "did not exit in time (killed)",
		    r.err);
	return r;
}

void
fr_free(fr_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *
fr_fedctl_tty(const char *home, const char *extra_env, const char *const *args)
{
	const char *argv[FR_MAX_ARGS + 2] = {FR_FEDCTL};
	char       *home_kv, **env = child_env(home, extra_env, &home_kv);
	char       *out = calloc(1, 65536);
	size_t      n = 0, i = 1;
	int         master, status;
	pid_t       pid;
	uint64_t    end = tu_now_ms() + TU_WAIT_MS;

	cr_assert_not_null(out);
	for (; args[i - 1] != NULL && i <= FR_MAX_ARGS; i++)
		argv[i] = args[i - 1];
	argv[i] = NULL;
	if ((pid = forkpty(&master, NULL, NULL, NULL)) == 0) {
		execve(FR_FEDCTL, (char *const *) argv, env);
		_exit(127);
	}
	free(home_kv);
	free(env);
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
	status = tu_stop(pid, 0, TU_WAIT_MS);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "fedctl on a terminal: status %d: %s", status, out);
	return out;
}

json_t *
fr_fedctl_json(const char *scratch, int want, const char *home,
    const char *const *args)
{
	const char  *argv[FR_MAX_ARGS + 1];
	size_t       n = 0;
	fr_run       r;
	json_t      *j;
	json_error_t je;

	for (; args[n] != NULL && n < FR_MAX_ARGS - 1; n++)
		argv[n] = args[n];
	argv[n++] = "--json";
	argv[n]   = NULL;
	r         = fr_fedctl(scratch, home, NULL, argv);
	cr_assert_eq(r.code, want,
	    "fedctl %s ... --json: exit %d, want %d\n--- stdout ---\n%s\n"
	    "--- stderr ---\n%s",
	    args[0], r.code, want, r.out, r.err);
	j = json_loads(r.out, 0, &je);
	cr_assert_not_null(j, "fedctl %s --json printed no JSON (%s):\n%s",
	    args[0], je.text, r.out);
	fr_free(&r);
	return j;
}

json_t *
fr_get(json_t *j, const char *path)
{
	char    buf[256], *save = NULL, *key;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key != NULL && v != NULL;
	     key = strtok_r(NULL, ".", &save))
		v = json_object_get(v, key);
	return v;
}

const char *
fr_str(json_t *j, const char *path)
{
	json_t *v = fr_get(j, path);

	cr_assert(json_is_string(v), "no string at %s in:\n%s", path,
	    json_dumps(j, JSON_INDENT(2)));
	return json_string_value(v);
}

bool
fr_bool(json_t *j, const char *path)
{
	json_t *v = fr_get(j, path);

	cr_assert(json_is_boolean(v), "no boolean at %s in:\n%s", path,
	    json_dumps(j, JSON_INDENT(2)));
	return json_is_true(v);
}

json_int_t
fr_int(json_t *j, const char *path)
{
	json_t *v = fr_get(j, path);

	cr_assert(json_is_integer(v), "no integer at %s in:\n%s", path,
	    json_dumps(j, JSON_INDENT(2)));
	return json_integer_value(v);
}

bool
fr_lists(json_t *j, const char *array, const char *path, const char *value)
{
	json_t *e;
	size_t  i;

	json_array_foreach (fr_get(j, array), i, e) {
		json_t *v = path != NULL ? fr_get(e, path) : e;

		if (json_is_string(v) && strcmp(json_string_value(v), value) == 0)
			return true;
	}
	return false;
}
