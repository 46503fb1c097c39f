/*
 * dnsmasq for tests: started in the foreground on a free loopback port,
 * ready when it answers a real DNS query, stopped (and never left behind:
 * it dies with the test process) within bounded time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dnsmasq.h"
#include "testutil.h"

#define DNSMASQ_PATH "/usr/sbin/dnsmasq"
#define READY_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 2000
#define START_ATTEMPTS 5

struct dnsmasq {
	pid_t pid;            /* -1 while halted */
	int   port;           /* kept across restarts */
	char *dir;            /* scratch folder holding the log; owned */
	char  nameserver[32]; /* "127.0.0.1:<port>" */
};

/* True once 127.0.0.1:port answers a DNS query (any answer will do). */
static bool
answers(int port)
{
	/* ready.example A: id 0x4242, recursion desired, one question. */
	static const unsigned char query[] = {0x42, 0x42, 0x01, 0x00, 0, 1, 0,
	    0, 0, 0, 0, 0, 5, 'r', 'e', 'a', 'd', 'y', 7, 'e', 'x', 'a', 'm',
	    'p', 'l', 'e', 0, 0, 1, 0, 1};
	struct sockaddr_in         sa      = {.sin_family = AF_INET};
	unsigned char              reply[512];
	struct pollfd              pfd;
	bool                       ok = false;
	int                        fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(fd, query, sizeof(query), 0, (struct sockaddr *) &sa,
	        sizeof(sa)) == (ssize_t) sizeof(query)) {
		pfd.fd     = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1 &&
		    recv(fd, reply, sizeof(reply), 0) >= 12 &&
		    reply[0] == 0x42 && reply[1] == 0x42)
			ok = true;
	}
	close(fd);
	return ok;
}

static bool
has_option(const char *const *records, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; records != NULL && records[i] != NULL; i++)
		if (strncmp(records[i], name, n) == 0)
			return true;
	return false;
}

static pid_t
spawn(dnsmasq *d, const char *const *records)
{
	char          *argv[64 + 256];
	char           port[32], user[96], group[96], ttl[] = "--local-ttl=60";
	const char    *log = tu_path(d->dir, "dnsmasq.log");
	struct passwd *pw  = getpwuid(getuid());
	struct group  *gr  = getgrgid(getgid());
	size_t         n = 0, nrec = 0;
	pid_t          pid;
	int            fd;

	while (records != NULL && records[nrec] != NULL)
		nrec++;
	if (nrec > 256)
		return -1;
	snprintf(port, sizeof(port), "--port=%d", d->port);
	/* Run as whoever we are: dnsmasq's default user may not exist. */
	snprintf(user, sizeof(user), "--user=%s", pw ? pw->pw_name : "root");
	snprintf(group, sizeof(group), "--group=%s", gr ? gr->gr_name : "root");
	argv[n++] = DNSMASQ_PATH;
	argv[n++] = "--keep-in-foreground";
	argv[n++] = "--conf-file=/dev/null"; /* no /etc/dnsmasq.conf */
	argv[n++] = "--no-resolv";           /* no upstream servers */
	argv[n++] = "--no-hosts";            /* no /etc/hosts */
	argv[n++] = "--no-poll";
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--bind-interfaces"; /* only that address */
	argv[n++] = "--pid-file=";       /* no pid file */
	argv[n++] = "--log-facility=-";  /* stderr, i.e. the log file */
	argv[n++] = "--log-queries";
	argv[n++] = "--local=/example/"; /* unknown names: NXDOMAIN */
	argv[n++] = port;
	argv[n++] = user;
	argv[n++] = group;
	if (!has_option(records, "--local-ttl"))
		argv[n++] = ttl;
	for (size_t i = 0; i < nrec; i++)
		argv[n++] = (char *) records[i];
	argv[n] = NULL;

	if ((pid = fork()) != 0)
		return pid;
	/* Die with the test process, even if it crashes before stopping. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setpgid(0, 0);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Waits for the new process to answer; false if it exited or hung. */
static bool
wait_ready(dnsmasq *d)
{
	uint64_t  deadline = tu_now_ms() + READY_TIMEOUT_MS;
	int       status;

	while (tu_now_ms() < deadline) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = -1; /* exited: port taken, bad option, ... */
			return false;
		}
		if (answers(d->port))
			return true;
		tu_sleep_ms(10);
	}
	return false;
}

static void
dump_log(const dnsmasq *d, const char *why)
{
	char *text = tu_read_file(tu_path(d->dir, "dnsmasq.log"));

	fprintf(stderr,
	    "dnsmasq on port %d: %s\n--- dnsmasq log ---\n%s\n---\n", d->port,
	    why, text ? text : "(none)");
	free(text);
}

/* Starts on d->port, or on fresh ports when d->port is 0. */
static bool
launch(dnsmasq *d, const char *const *records, bool fixed_port)
{
	if (access(DNSMASQ_PATH, X_OK) != 0) {
		fprintf(stderr,
		    "%s not found: install dnsmasq-base "
		    "(scripts/install-deps.sh)\n",
		    DNSMASQ_PATH);
		return false;
	}
	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		if (!fixed_port)
			d->port = tu_free_port();
		if (d->port <= 0)
			continue;
		if ((d->pid = spawn(d, records)) < 0)
			return false;
		if (wait_ready(d)) {
			snprintf(d->nameserver, sizeof(d->nameserver),
			    "127.0.0.1:%d", d->port);
			return true;
		}
		dnsmasq_halt(d);
		/* A fixed port may still be held by the previous process's
		 * last moments; fresh ports may have been taken meanwhile. */
		tu_sleep_ms(100);
	}
	dump_log(d, "did not start");
	return false;
}

dnsmasq *
dnsmasq_start(const char *const *records)
{
	dnsmasq *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->pid = -1;
	if ((d->dir = tu_tmpdir("dnsmasq")) == NULL ||
	    !launch(d, records, false)) {
		dnsmasq_stop(d);
		return NULL;
	}
	return d;
}

int
dnsmasq_port(const dnsmasq *d)
{
	return d->port;
}

const char *
dnsmasq_nameserver(const dnsmasq *d)
{
	return d->nameserver;
}

void
dnsmasq_halt(dnsmasq *d)
{
	if (d != NULL && d->pid > 0) {
		tu_stop(d->pid, SIGTERM, STOP_TIMEOUT_MS);
		d->pid = -1;
	}
}

bool
dnsmasq_restart_with(dnsmasq *d, const char *const *records)
{
	dnsmasq_halt(d);
	return launch(d, records, true);
}

void
dnsmasq_stop(dnsmasq *d)
{
	if (d == NULL)
		return;
	dnsmasq_halt(d);
	if (d->dir != NULL) {
		tu_rmrf(d->dir);
		free(d->dir);
	}
	free(d);
}
