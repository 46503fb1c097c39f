/*
 * A real PostgreSQL server for tests (postgres.h). Commands run as
 * TPG_USER when we are root (made as a system user if missing): a child
 * drops its groups and ids before exec. The server listens on its socket
 * folder only, so that parallel tests never meet on a port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "postgres.h"
#include "testutil.h"

/* The servers started and not yet destroyed: a test that fails an
 * assertion ends its process without reaching tpg_destroy(), and the
 * server (daemonized by pg_ctl) would outlive it. */
#define TPG_MAX_LIVE 8
static tpg_server *live[TPG_MAX_LIVE];
static pid_t       live_owner[TPG_MAX_LIVE]; /* the process that started it */

/* At exit, only in the process that started each server (a test forked
 * from it leaves the server to it). */
static void
destroy_live(void)
{
	for (int i = 0; i < TPG_MAX_LIVE; i++)
		if (live[i] != NULL && live_owner[i] == getpid())
			tpg_destroy(live[i]);
}

static void
track(tpg_server *s)
{
	static bool registered;

	if (!registered && atexit(destroy_live) == 0)
		registered = true;
	for (int i = 0; i < TPG_MAX_LIVE; i++)
		if (live[i] == NULL) {
			live[i]       = s;
			live_owner[i] = getpid();
			return;
		}
}

static void
untrack(const tpg_server *s)
{
	for (int i = 0; i < TPG_MAX_LIVE; i++)
		if (live[i] == s)
			live[i] = NULL;
}

const char *
tpg_bindir(void)
{
	const char *env = getenv("FEDRPC_TEST_PG_BINDIR");

	return env != NULL && env[0] ? env : "/usr/lib/postgresql/15/bin";
}

static const char *
bin(const char *name)
{
	static __thread char buf[4][256];
	static __thread int  next;
	char                *p = buf[next++ & 3];

	snprintf(p, sizeof(buf[0]), "%s/%s", tpg_bindir(), name);
	return p;
}

bool
tpg_available(const char **why)
{
	static char msg[400];

	if (access(bin("initdb"), X_OK) == 0 &&
	    access(bin("pg_ctl"), X_OK) == 0)
		return true;
	snprintf(msg, sizeof(msg),
	    "PostgreSQL is not installed (no %s): install Debian's "
	    "postgresql package (scripts/install-deps.sh does)",
	    bin("initdb"));
	if (why != NULL)
		*why = msg;
	return false;
}

/* The ids to run as: TPG_USER when root (made if missing), else ours. */
static bool
run_as(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = geteuid();
	*gid = getegid();
	if (*uid != 0)
		return true;
	if ((pw = getpwnam(TPG_USER)) == NULL) {
		char *const argv[] = {"/usr/sbin/useradd", "--system",
		    "--no-create-home", "--shell", "/usr/sbin/nologin",
		    TPG_USER, NULL};
		pid_t pid = tu_spawn(argv, NULL);
		int   status;

		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    (pw = getpwnam(TPG_USER)) == NULL) {
			fprintf(stderr, "postgres: cannot make the user %s\n",
			    TPG_USER);
			return false;
		}
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

/* Runs argv as the server's user, output appended to log; true when it
 * exits 0. */
static bool
run(char *const argv[], const char *log)
{
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int   status;

	if (!run_as(&uid, &gid))
		return false;
	if ((pid = fork()) < 0)
		return false;
	if (pid == 0) {
		int fd;

		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		        setuid(uid) != 0)) {
			fprintf(stderr, "cannot drop privileges: %s\n",
			    strerror(errno));
			_exit(126);
		}
		/* Opened as the server's user: pg_ctl appends to it too. */
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setenv("LC_ALL", "C", 1);
		unsetenv("PGDATA");
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
show_log(const tpg_server *s, const char *what)
{
	char *log = tu_read_file(tu_path(s->dir, "log"));

	fprintf(stderr, "postgres: %s failed; its log:\n%s\n", what,
	    log != NULL ? log : "(none)");
	free(log);
}

static bool
pg_ctl_start(tpg_server *s)
{
	char opts[600];
	char data[512], log[512];

	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/log", s->dir);
	snprintf(opts, sizeof(opts),
	    "-p %d -k %s/sock -c listen_addresses='' -c fsync=off "
	    "-c max_connections=200 -c shared_buffers=32MB",
	    s->port, s->dir);
	{
		char *const argv[] = {(char *) bin("pg_ctl"), "-D", data, "-l",
		    log, "-w", "-t", "120", "-o", opts, "start", NULL};

		if (!run(argv, log)) {
			show_log(s, "pg_ctl start");
			return false;
		}
	}
	return true;
}

static bool
pg_ctl_stop(tpg_server *s, const char *mode)
{
	char data[512], log[512];

	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/log", s->dir);
	{
		char *const argv[] = {(char *) bin("pg_ctl"), "-D", data, "-w",
		    "-t", "120", "-m", (char *) mode, "stop", NULL};

		return run(argv, log);
	}
}

/* A scratch folder the server's user owns, short enough for a socket
 * path (under /dev/shm when there is one: no disk to wait for). */
static char *
scratch(uid_t uid, gid_t gid)
{
	char *dir = strdup(access("/dev/shm", W_OK) == 0
	        ? "/dev/shm/fedrpc-pg-XXXXXX"
	        : "/tmp/fedrpc-pg-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL) {
		free(dir);
		return NULL;
	}
	if (chown(dir, uid, gid) != 0 || chmod(dir, 0755) != 0) {
		tu_rmrf(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static bool
make_sock_dir(const tpg_server *s, uid_t uid, gid_t gid)
{
	char sock[512];

	snprintf(sock, sizeof(sock), "%s/sock", s->dir);
	return mkdir(sock, 0755) == 0 && chown(sock, uid, gid) == 0;
}

tpg_server *
tpg_start(void)
{
	tpg_server *s;
	uid_t       uid;
	gid_t       gid;
	char        data[512], log[512];
	const char *why;

	if (!tpg_available(&why)) {
		fprintf(stderr, "postgres: %s\n", why);
		return NULL;
	}
	if (!run_as(&uid, &gid) || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->dir = scratch(uid, gid)) == NULL ||
	    !make_sock_dir(s, uid, gid)) {
		fprintf(stderr, "postgres: cannot make a scratch folder\n");
		tpg_destroy(s);
		return NULL;
	}
	s->port = tu_free_port();
	track(s);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/log", s->dir);
	{
		char *const argv[] = {(char *) bin("initdb"), "-D", data, "-U",
		    "fedrpc", "--auth=trust", "--no-sync", "-E", "UTF8",
		    "--locale=C", NULL};

		if (!run(argv, log)) {
			show_log(s, "initdb");
			tpg_destroy(s);
			return NULL;
		}
	}
	if (!pg_ctl_start(s)) {
		tpg_destroy(s);
		return NULL;
	}
	snprintf(s->conninfo, sizeof(s->conninfo),
	    "host=%s/sock port=%d user=fedrpc dbname=postgres", s->dir,
	    s->port);
	if (!tpg_exec(s, "CREATE DATABASE fedrpc")) {
		tpg_destroy(s);
		return NULL;
	}
	snprintf(s->conninfo, sizeof(s->conninfo),
	    "host=%s/sock port=%d user=fedrpc dbname=fedrpc", s->dir,
	    s->port);
	return s;
}

bool
tpg_stop(tpg_server *s)
{
	return pg_ctl_stop(s, "fast");
}

bool
tpg_restart(tpg_server *s)
{
	return pg_ctl_start(s);
}

void
tpg_destroy(tpg_server *s)
{
	if (s == NULL)
		return;
	untrack(s);
	if (s->dir != NULL) {
		char pid[512];

		snprintf(pid, sizeof(pid), "%s/data/postmaster.pid", s->dir);
		if (access(pid, F_OK) == 0)
			pg_ctl_stop(s, "immediate");
		tu_rmrf(s->dir);
		free(s->dir);
	}
	free(s);
}

bool
tpg_exec(const tpg_server *s, const char *sql)
{
	PGconn   *c = PQconnectdb(s->conninfo);
	PGresult *r;
	bool      ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "postgres: cannot connect (%s): %s",
		    s->conninfo, PQerrorMessage(c));
		PQfinish(c);
		return false;
	}
	r  = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "postgres: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

char *
tpg_schema_conninfo(const tpg_server *s, const char *schema)
{
	char  sql[256];
	char *out;

	snprintf(sql, sizeof(sql),
	    "SET client_min_messages = warning; "
	    "CREATE SCHEMA IF NOT EXISTS \"%s\"",
	    schema);
	if (!tpg_exec(s, sql))
		return NULL;
	if (asprintf(&out, "%s options='-csearch_path=%s'", s->conninfo,
	        schema) < 0)
		return NULL;
	return out;
}
