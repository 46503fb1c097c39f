/*
 * Test support: scratch folders, free ports, child processes, the clock
 * and bounded polls.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

char *
tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char       *path;

	if (asprintf(&path, "%s/fedrpc-%s-XXXXXX", base ? base : "/tmp",
	        tag ? tag : "test") < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(p) == 0 ? 0 : 0;
}

void
tu_rmrf(const char *path)
{
	if (path != NULL)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
tu_path(const char *dir, const char *name)
{
	static __thread char ring[8][512];
	static __thread int  next;
	char                *buf = ring[next++ & 7];

	snprintf(buf, sizeof(ring[0]), "%s/%s", dir, name);
	return buf;
}

/*
 * Whether this process may hand out `port`: no other test process holds
 * it (each holds a lock on /tmp/fedrpc-test-ports/PORT for as long as it
 * runs, released by the kernel when it exits, however it ends) and this
 * one has not handed it out before.
 */
static bool
reserve(int port)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static uint8_t         mine[65536 / 8];
	char                   path[64];
	int                    fd;
	bool                   ok = false;

	pthread_mutex_lock(&mu);
	if (mine[port / 8] & (1u << (port % 8)))
		goto out;
	(void) mkdir("/tmp/fedrpc-test-ports", 01777);
	snprintf(path, sizeof(path), "/tmp/fedrpc-test-ports/%d", port);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
		ok = true; /* no reservations here: binding decides */
		goto mark;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		goto out;
	}
	ok = true; /* fd stays open: the lock lives as long as we do */
mark:
	mine[port / 8] |= (uint8_t) (1u << (port % 8));
out:
	pthread_mutex_unlock(&mu);
	return ok;
}

/*
 * A port from 20000..32767, below Linux's ephemeral range (32768..60999):
 * a port the kernel handed out for bind(0) can be taken by any outgoing
 * connection of a parallel test before our listener binds it, one outside
 * that range only by another listener. Random, checked by binding it, and
 * reserved for this process, so that neither a parallel test nor a later
 * call here picks it while its listener is not up yet.
 */
int
tu_free_port(void)
{
	static __thread unsigned seed;

	if (seed == 0)
		seed = (unsigned) getpid() ^ (unsigned) time(NULL) ^
		    (unsigned) (uintptr_t) &seed;
	for (int tries = 0; tries < 400; tries++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		int                fd, ok, one = 1;
		int                port = 20000 + (int) (rand_r(&seed) % 12768);

		sa.sin_port        = htons((uint16_t) port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ok = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
		close(fd);
		if (ok && reserve(port))
			return port;
	}
	return -1;
}

uint64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

uint64_t
tu_ms_until(uint64_t t)
{
	uint64_t now = tu_now_ms();

	return t > now ? t - now : 0;
}

void
tu_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

unsigned
tu_poll_pause_ms(unsigned round)
{
	/* Quick answers for what is quick, little CPU for what is not. */
	return round < 5 ? 1u << round : 20;
}

bool
tu_wait_until(bool (*done)(void *arg), void *arg, unsigned total_ms)
{
	uint64_t end = tu_now_ms() + total_ms;

	for (unsigned round = 0; !done(arg); round++) {
		if (tu_now_ms() >= end)
			return done(arg);
		tu_sleep_ms(tu_poll_pause_ms(round));
	}
	return true;
}

int
tu_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int                err;

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		err = errno;
		close(fd);
		errno = err; /* the caller may name why */
		fd    = -1;
	}
	return fd;
}

bool
tu_wait_port(int port, int timeout_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t) timeout_ms;

	do {
		int fd = tu_connect(port);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		tu_sleep_ms(20);
	} while (tu_now_ms() < deadline);
	return false;
}

/* tu_spawn, with RLIMIT_NOFILE set first when rl is not NULL. */
static pid_t
spawn_limited(char *const argv[], const char *logfile, const struct rlimit *rl)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (logfile != NULL) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	/* Its own process group, so a stop can reach its children too. */
	setpgid(0, 0);
	if (rl != NULL && setrlimit(RLIMIT_NOFILE, rl) != 0) {
		perror("setrlimit");
		_exit(126);
	}
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t
tu_spawn(char *const argv[], const char *logfile)
{
	return spawn_limited(argv, logfile, NULL);
}

pid_t
tu_spawn_nofile(char *const argv[], const char *logfile, rlim_t soft,
    rlim_t hard)
{
	struct rlimit rl = {soft, hard};

	return spawn_limited(argv, logfile, soft == 0 && hard == 0 ? NULL : &rl);
}

int
tu_run(char *const argv[], const char *scratch, char **out)
{
	static int seq;
	char       path[600];
	pid_t      pid;
	int        status;

	snprintf(path, sizeof(path), "%s/run-%d-%d.out", scratch, (int) getpid(),
	    seq++);
	if ((pid = fork()) == 0) {
		int in = open("/dev/null", O_RDONLY);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	status = pid > 0 ? tu_stop(pid, 0, TU_WAIT_MS) : -1;
	*out   = tu_read_file(path);
	if (*out == NULL)
		*out = strdup("");
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
tu_run_log(char *const argv[], const char *logfile, unsigned timeout_ms,
    bool *timed_out)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	pid_t    pid = tu_spawn(argv, logfile);
	int      status;

	if (timed_out != NULL)
		*timed_out = false;
	if (pid <= 0)
		return -1;
	for (unsigned round = 0;; round++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return -1;
		if (tu_now_ms() > end) {
			tu_stop(pid, SIGKILL, 1000);
			if (timed_out != NULL)
				*timed_out = true;
			return -1;
		}
		tu_sleep_ms(tu_poll_pause_ms(round));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
tu_stop(pid_t pid, int sig, int timeout_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t) timeout_ms;
	int      status;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	while (tu_now_ms() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		tu_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	return waitpid(pid, &status, 0) == pid ? status : -1;
}

char *
tu_read_file(const char *path)
{
	FILE  *f = fopen(path, "rb");
	char  *buf;
	long   n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf != NULL) {
		size_t got = fread(buf, 1, (size_t) n, f);
		buf[got]   = '\0';
	}
	fclose(f);
	return buf;
}

bool
tu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	bool  ok;

	if (f == NULL)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}
