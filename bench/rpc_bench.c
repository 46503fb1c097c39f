/*
 * Unary RPC benchmark: round-trip latency and calls per second of the Echo
 * service over tcp:// and mutual TLS, next to a raw-TCP echo (the floor)
 * and bare nng req/rep (what the transport alone costs), and the cost of a
 * new connection with P-256 and Ed25519 certificates. Servers run in child
 * processes (this program re-executed with --serve); see
 * docs/performance.md for how to run and read it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/channel.h>
#include <fedrpc/domain.h>
#include <fedrpc/log.h>
#include <fedrpc/pki.h>
#include <fedrpc/server.h>
#include <fedrpc/tls.h>

#include "fedrpc/testing/v1/echo.fedrpc.h"

/* Every process gives up after this long, whatever happens. */
#define HARD_LIMIT_S 600
/* Calls block at most this long; a stuck benchmark fails instead. */
#define CALL_TIMEOUT_MS 10000
/* The raw-TCP floor refuses frames larger than this. */
#define RAW_MAX_FRAME (1u << 20)
#define MAX_REPS 15

/* Servers and channels speak the wire protocol (docs/wire-protocol.md)
 * unless FEDRPC_WIRE=reqrep; children inherit the setting. */
static bool
wire_mode(void)
{
	const char *e = getenv("FEDRPC_WIRE");

	return e == NULL || strcmp(e, "reqrep") != 0;
}

/* What one run measures; set from the command line. */
typedef struct bench_opts {
	int    reps;      /* repetitions of every figure; medians reported */
	int    warmup;    /* unmeasured calls before each latency run */
	int    calls;     /* measured calls per latency run */
	double seconds;   /* length of each throughput run */
	int    inflight;  /* async calls kept in flight on one channel */
	int    threads;   /* client threads for the blocking throughput run */
	int    connects;  /* new connections per repetition */
	int    workers;   /* server handler threads; 0: the default */
	bool   do_raw, do_nng, do_tcp, do_tls, do_conn; /* sections */
	const char *self; /* this program, re-executed for servers */
} bench_opts;

/* A server child: its pid, the port it bound, the pipe that keeps it up. */
typedef struct child {
	pid_t pid;
	int   port;
	int   keep_fd;  /* closing it (or dying) stops the child */
	char  name[32]; /* for messages */
} child;

/* CPU time and context switches of both sides, for per-call figures. */
typedef struct usage {
	double cpu_client, cpu_server; /* us */
	double cs;                     /* context switches, both sides */
} usage;

/* One latency run: percentiles in microseconds, costs per call. */
typedef struct lat_result {
	double p50, p90, p99, mean;
	usage  u;
} lat_result;

/* One throughput run. */
typedef struct tput_result {
	double rate; /* calls per second */
	usage  u;    /* per call */
} tput_result;

/* One new-connection run. */
typedef struct conn_result {
	double p50, p99; /* open + handshake + first call, us */
	usage  u;        /* per connection */
} conn_result;

static void serve_nng(int argc, char **argv);

/* ---- clocks and small helpers ---- */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static double
cpu_us(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* CPU time of a child, all its threads; another process's clock. */
static double
child_cpu_us(const child *c)
{
	clockid_t id;

	if (c == NULL || clock_getcpuclockid(c->pid, &id) != 0)
		return 0;
	return cpu_us(id);
}

/* Context switches of this process, all threads. */
static double
self_ctxsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) (ru.ru_nvcsw + ru.ru_nivcsw);
}

/* Context switches of a child, summed over its threads. */
static double
child_ctxsw(const child *c)
{
	char           path[320], line[128];
	DIR           *d;
	struct dirent *e;
	double         n = 0;

	if (c == NULL)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int) c->pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
		    (int) c->pid, e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long v;

			if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) ==
			        1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lu",
			        &v) == 1)
				n += (double) v;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static void
usage_take(usage *u, const child *srv)
{
	/* Reading /proc costs CPU here: count switches outside the
	 * CPU window. */
	u->cs         = self_ctxsw() + child_ctxsw(srv);
	u->cpu_client = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
	u->cpu_server = child_cpu_us(srv);
}

/* Per-call costs since `u` was taken, over n calls. */
static void
usage_since(const usage *u, const child *srv, double n, usage *per)
{
	usage now;

	now.cpu_client = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
	now.cpu_server = child_cpu_us(srv);
	now.cs         = self_ctxsw() + child_ctxsw(srv);
	if (n < 1)
		n = 1;
	per->cpu_client = (now.cpu_client - u->cpu_client) / n;
	per->cpu_server = (now.cpu_server - u->cpu_server) / n;
	per->cs         = (now.cs - u->cs) / n;
}

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("rpc_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* The 1-minute load average: how busy the shared machine was. */
static double
load_avg(void)
{
	FILE  *f = fopen("/proc/loadavg", "r");
	double l = -1;

	if (f != NULL) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void
sleep_us(double us)
{
	struct timespec ts = {(time_t) (us / 1e6),
	    (long) ((us - (double) (time_t) (us / 1e6) * 1e6) * 1e3)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t) (p / 100.0 * (double) n + 0.5);
	if (i > 0)
		i--;
	return v[i < n ? i : n - 1];
}

static double
median(double *v, int n)
{
	qsort(v, (size_t) n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the raw-TCP floor: length-prefixed echo over a plain socket ---- */

static int
raw_listen(int *port)
{
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);
	int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int                one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
		die("raw listen: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
raw_connect(int port)
{
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int                one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port        = htons((uint16_t) port);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
		die("raw connect: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("raw write: %s", strerror(errno));
		p += w;
		n -= (size_t) w;
	}
}

static void
read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("raw read: %s", r == 0 ? "closed" : strerror(errno));
		p += r;
		n -= (size_t) r;
	}
}

static uint32_t
frame_len(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
	    (uint32_t) p[2] << 8 | p[3];
}

/*
 * Serves one connection: reads what has arrived and writes back every
 * complete frame in one write (an echo is its own reply). One thread, no
 * copies: the least any server can do per call.
 */
static void *
raw_serve_conn(void *arg)
{
	int      fd  = (int) (intptr_t) arg;
	size_t   cap = 2 * (RAW_MAX_FRAME + 4), have = 0;
	uint8_t *buf = malloc(cap);
	int      one = 1;

	if (buf == NULL)
		die("out of memory");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have);
		size_t  done = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t) r;
		while (have - done >= 4) {
			uint32_t n = frame_len(buf + done);

			if (n > RAW_MAX_FRAME)
				goto out;
			if (have - done < 4 + (size_t) n)
				break;
			done += 4 + (size_t) n;
		}
		if (done > 0) {
			write_all(fd, buf, done);
			memmove(buf, buf + done, have - done);
			have -= done;
		}
	}
out:
	close(fd);
	free(buf);
	return NULL;
}

/* ---- server children ---- */

static fedrpc_code
echo_handler(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Testing__V1__EchoRequest *req,
    Fedrpc__Testing__V1__EchoResponse *resp, fedrpc_status *st)
{
	(void) impl;
	(void) ctx;
	(void) st;
	/* The request lives until the reply is packed: no copy. */
	resp->payload = req->payload;
	return FEDRPC_OK;
}

/* "dir/name.ext" in a static ring of buffers. */
static const char *
cert_path(const char *dir, const char *name, const char *ext)
{
	static char ring[8][512];
	static int  next;
	char       *buf = ring[next++ % 8];

	snprintf(buf, sizeof(ring[0]), "%s/%s.%s", dir, name, ext);
	return buf;
}

/* TLS options for the certificates <prefix>-ca and <prefix>-<who>. */
static fedrpc_tls_opts
tls_opts(const char *dir, const char *prefix, const char *who)
{
	char leaf[64], ca[64];

	snprintf(leaf, sizeof(leaf), "%s-%s", prefix, who);
	snprintf(ca, sizeof(ca), "%s-ca", prefix);
	return (fedrpc_tls_opts){
	    .ca_file     = strdup(cert_path(dir, ca, "crt")),
	    .cert_file   = strdup(cert_path(dir, leaf, "crt")),
	    .key_file    = strdup(cert_path(dir, leaf, "key")),
	    .server_name = "b.example",
	};
}

static void
tls_opts_free(fedrpc_tls_opts *o)
{
	free((char *) o->ca_file);
	free((char *) o->cert_file);
	free((char *) o->key_file);
}

/* Waits until the parent closes our stdin (or dies). */
static void
wait_parent(void)
{
	char    buf[64];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			break;
}

/*
 * The child side: `--serve raw`, `--serve nng URL [DIR PREFIX]`, `--serve
 * tcp WORKERS` or `--serve tls WORKERS DIR PREFIX`. Prints "port N" on
 * stdout once listening and runs until stdin reaches end of file.
 */
static int
serve_main(int argc, char **argv)
{
	const char *kind = argv[0];
	int         port = 0;

	alarm(HARD_LIMIT_S);
	if (strcmp(kind, "nng") == 0) {
		serve_nng(argc, argv);
		return 0;
	}
	if (strcmp(kind, "raw") == 0) {
		int lfd = raw_listen(&port);

		printf("port %d\n", port);
		fflush(stdout);
		for (;;) {
			struct pollfd pf[2] = {
			    {.fd = lfd, .events = POLLIN},
			    {.fd = STDIN_FILENO, .events = POLLIN},
			};
			pthread_t     t;
			int           fd;

			if (poll(pf, 2, -1) < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			if (pf[1].revents != 0)
				return 0;
			if ((pf[0].revents & POLLIN) == 0 ||
			    (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
				continue;
			if (pthread_create(&t, NULL, raw_serve_conn,
			        (void *) (intptr_t) fd) != 0)
				die("pthread_create");
			pthread_detach(t);
		}
	}

	{
		fedrpc_server                  *srv;
		fedrpc_status                   st = {0};
		fedrpc_tls_opts                 tls;
		fedrpc_server_opts              so = {0};
		fedrpc_testing_v1_echo_handlers h  = {.echo = echo_handler};
		bool                            is_tls = strcmp(kind, "tls") == 0;

		if (argc < 2)
			die("--serve tcp|tls WORKERS [DIR PREFIX]");
		so.workers = (uint32_t) atoi(argv[1]);
		if (is_tls) {
			if (argc < 4)
				die("--serve tls WORKERS DIR PREFIX");
			tls = tls_opts(argv[2], argv[3], "server");
			so.url = "tls+tcp://127.0.0.1:0";
			so.tls = &tls;
		} else if (strcmp(kind, "tcp") == 0) {
			so.url = "tcp://127.0.0.1:0";
		} else {
			die("unknown server kind %s", kind);
		}
		if (fedrpc_server_new(&srv, &so, &st) != FEDRPC_OK ||
		    fedrpc_testing_v1_echo_register(srv, &h, NULL, &st) !=
		        FEDRPC_OK ||
		    fedrpc_server_start(srv, &st) != FEDRPC_OK)
			die("server %s: %s", kind, st.message);
		printf("port %d\n", fedrpc_server_port(srv));
		fflush(stdout);
		wait_parent();
		fedrpc_server_free(srv);
		if (is_tls)
			tls_opts_free(&tls);
		nng_fini();
	}
	return 0;
}

/* Starts `self --serve args...` and reads the port it bound. */
static void
child_start(child *c, const char *self, const char *name,
    const char *const *args)
{
	int   in[2], out[2];
	char  line[64];
	char *argv[8];
	int   n = 0;
	FILE *f;

	snprintf(c->name, sizeof(c->name), "%s", name);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	argv[n++] = (char *) self;
	argv[n++] = "--serve";
	for (; args[n - 2] != NULL && n < 7; n++)
		argv[n] = (char *) args[n - 2];
	argv[n] = NULL;
	if ((c->pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (c->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execv(self, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->keep_fd = in[1];
	if ((f = fdopen(out[0], "r")) == NULL ||
	    fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "port %d", &c->port) != 1 || c->port <= 0)
		die("server %s did not start", name);
	fclose(f);
}

static void
child_stop(child *c)
{
	int status;

	if (c->pid <= 0)
		return;
	close(c->keep_fd);
	for (int i = 0; i < 500; i++) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = 0;
			return;
		}
		sleep_us(10000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	c->pid = 0;
}

/* ---- certificates ---- */

static void
make_certs(const char *dir, const char *prefix, fedrpc_pki_key_type type)
{
	fedrpc_status st = {0};
	char          ca[64], name[64];
	const char   *who[] = {"server", "client"};
	/* Domain channels check the target host's own name: a static
	 * route to 127.0.0.1 needs it in the server's certificate. */
	const char   *dns[2][2] = {{"b.example", "127.0.0.1"}, {"a.example"}};
	size_t        n_dns[2]  = {2, 1};
	time_t        now   = time(NULL);

	snprintf(ca, sizeof(ca), "%s-ca", prefix);
	if (fedrpc_pki_ca_create(cert_path(dir, ca, "crt"),
	        cert_path(dir, ca, "key"), ca, type, 30, &st) != FEDRPC_OK)
		die("CA %s: %s", ca, st.message);
	for (int i = 0; i < 2; i++) {
		fedrpc_pki_issue_opts o = {
		    .ca_cert     = cert_path(dir, ca, "crt"),
		    .ca_key      = cert_path(dir, ca, "key"),
		    .dns_names   = dns[i],
		    .n_dns_names = n_dns[i],
		    .key_type    = type,
		    .not_before  = now - 3600,
		    .not_after   = now + 30 * 86400,
		    .usage       = FEDRPC_PKI_USAGE_BOTH,
		};

		snprintf(name, sizeof(name), "%s-%s", prefix, who[i]);
		o.cert_out = cert_path(dir, name, "crt");
		o.key_out  = cert_path(dir, name, "key");
		if (fedrpc_pki_issue(&o, &st) != FEDRPC_OK)
			die("certificate %s: %s", name, st.message);
	}
}

static void
rm_certs(const char *dir)
{
	const char *prefixes[] = {"p256", "ed25519"};
	const char *names[]    = {"ca", "server", "client"};
	const char *exts[]     = {"crt", "key"};
	char        n[64];

	for (int p = 0; p < 2; p++)
		for (int i = 0; i < 3; i++)
			for (int e = 0; e < 2; e++) {
				snprintf(n, sizeof(n), "%s-%s", prefixes[p],
				    names[i]);
				unlink(cert_path(dir, n, exts[e]));
			}
	rmdir(dir);
}

/* ---- raw-TCP client ---- */

static uint8_t *
raw_frame(size_t payload)
{
	uint8_t *f = malloc(4 + payload);

	if (f == NULL)
		die("out of memory");
	f[0] = (uint8_t) (payload >> 24);
	f[1] = (uint8_t) (payload >> 16);
	f[2] = (uint8_t) (payload >> 8);
	f[3] = (uint8_t) payload;
	memset(f + 4, 'x', payload);
	return f;
}

/* One round trip of whatever is measured. */
typedef void (*round_trip_fn)(void *arg);

/* Times round trips one at a time: percentiles and costs per call. */
static void
latency_run(const bench_opts *o, const child *srv, round_trip_fn fn,
    void *arg, lat_result *res)
{
	double *v   = malloc((size_t) o->calls * sizeof(double));
	double  sum = 0;
	usage   u0  = {0};

	if (v == NULL)
		die("out of memory");
	for (int i = 0; i < o->warmup + o->calls; i++) {
		double t0;

		if (i == o->warmup)
			usage_take(&u0, srv);
		t0 = now_us();
		fn(arg);
		if (i >= o->warmup)
			v[i - o->warmup] = now_us() - t0;
	}
	usage_since(&u0, srv, o->calls, &res->u);
	for (int i = 0; i < o->calls; i++)
		sum += v[i];
	qsort(v, (size_t) o->calls, sizeof(*v), cmp_double);
	res->p50  = pct(v, (size_t) o->calls, 50);
	res->p90  = pct(v, (size_t) o->calls, 90);
	res->p99  = pct(v, (size_t) o->calls, 99);
	res->mean = sum / o->calls;
	free(v);
}

/* A blocking raw-TCP exchange: a connection and its two buffers. */
typedef struct raw_conn {
	int      fd;
	size_t   len;   /* frame length, prefix included */
	uint8_t *req;   /* the frame sent */
	uint8_t *reply; /* where the echo lands */
} raw_conn;

static void
raw_conn_open(raw_conn *c, const child *srv, size_t payload)
{
	c->fd    = raw_connect(srv->port);
	c->len   = 4 + payload;
	c->req   = raw_frame(payload);
	c->reply = malloc(c->len);
	if (c->reply == NULL)
		die("out of memory");
}

static void
raw_conn_close(raw_conn *c)
{
	close(c->fd);
	free(c->req);
	free(c->reply);
}

static void
raw_round_trip(void *arg)
{
	raw_conn *c = arg;

	write_all(c->fd, c->req, c->len);
	read_all(c->fd, c->reply, c->len);
}

static void
raw_latency(const bench_opts *o, const child *srv, size_t payload,
    lat_result *res)
{
	raw_conn c;

	raw_conn_open(&c, srv, payload);
	latency_run(o, srv, raw_round_trip, &c, res);
	raw_conn_close(&c);
}

/*
 * Pipelined: `inflight` requests kept outstanding on one connection from
 * one thread; every batch of replies read is answered by as many new
 * requests in one write.
 */
static void
raw_pipelined(const bench_opts *o, const child *srv, size_t payload,
    tput_result *res)
{
	int      fd    = raw_connect(srv->port);
	size_t   fsz   = 4 + payload;
	size_t   cap   = (size_t) o->inflight * fsz;
	uint8_t *one   = raw_frame(payload);
	uint8_t *reqs  = malloc(cap);
	uint8_t *in    = malloc(cap);
	size_t   have  = 0;
	long     outstanding, done = 0, counted = 0;
	double   t_start, t_count = 0, t_end;
	bool     counting = false, sending = true;
	usage    u0 = {0};

	if (reqs == NULL || in == NULL)
		die("out of memory");
	for (int i = 0; i < o->inflight; i++)
		memcpy(reqs + (size_t) i * fsz, one, fsz);
	write_all(fd, reqs, cap);
	outstanding = o->inflight;
	t_start     = now_us();
	t_end       = t_start + 0.2e6 + o->seconds * 1e6;
	while (outstanding > 0) {
		ssize_t r = read(fd, in + have, cap - have);
		long    got;
		double  t;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("raw read: %s", r == 0 ? "closed" : strerror(errno));
		have += (size_t) r;
		got = (long) (have / fsz);
		memmove(in, in + (size_t) got * fsz, have - (size_t) got * fsz);
		have -= (size_t) got * fsz;
		outstanding -= got;
		done += got;
		t = now_us();
		if (!counting && t - t_start >= 0.2e6) {
			counting = true;
			t_count  = t;
			counted  = done;
			usage_take(&u0, srv);
		}
		if (sending && t >= t_end) {
			sending   = false;
			counted   = done - counted;
			res->rate = (double) counted / ((t - t_count) / 1e6);
			usage_since(&u0, srv, (double) counted, &res->u);
		}
		if (sending && got > 0) {
			write_all(fd, reqs, (size_t) got * fsz);
			outstanding += got;
		}
	}
	close(fd);
	free(one);
	free(reqs);
	free(in);
}

/* ---- fedrpc client ---- */

static fedrpc_channel *
open_channel(const char *url, const fedrpc_tls_opts *tls)
{
	fedrpc_channel     *ch;
	fedrpc_status       st = {0};
	fedrpc_channel_opts co = {
	    .url                = url,
	    .tls                = tls,
	    .origin_domain      = "a.example",
	    .target_domain      = "b.example",
	    .api_version        = 1,
	    .default_timeout_ms = CALL_TIMEOUT_MS,
	};

	if (fedrpc_channel_open(&ch, &co, &st) != FEDRPC_OK)
		die("channel %s: %s", url, st.message);
	return ch;
}

static void
echo_once(fedrpc_channel *ch, const Fedrpc__Testing__V1__EchoRequest *req)
{
	Fedrpc__Testing__V1__EchoResponse *resp = NULL;
	fedrpc_status                      st   = {0};

	if (fedrpc_testing_v1_echo_echo(ch, req, &resp, NULL, &st) != FEDRPC_OK)
		die("call: %s: %s", fedrpc_code_name(st.code), st.message);
	if (resp->payload.len != req->payload.len)
		die("call: echoed %zu bytes, sent %zu", resp->payload.len,
		    req->payload.len);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* A blocking Echo call on a channel. */
typedef struct rpc_conn {
	fedrpc_channel                         *ch;
	const Fedrpc__Testing__V1__EchoRequest *req;
} rpc_conn;

static void
rpc_round_trip(void *arg)
{
	rpc_conn *c = arg;

	echo_once(c->ch, c->req);
}

static void
rpc_latency(const bench_opts *o, fedrpc_channel *ch, const child *srv,
    const Fedrpc__Testing__V1__EchoRequest *req, lat_result *res)
{
	rpc_conn c = {.ch = ch, .req = req};

	latency_run(o, srv, rpc_round_trip, &c, res);
}

/* Calls kept in flight: each completion starts the next call. */
typedef struct flood {
	fedrpc_channel                         *ch;
	const Fedrpc__Testing__V1__EchoRequest *req;
	int             stop;        /* atomic: no new calls */
	uint64_t        done;        /* atomic: successful calls */
	uint64_t        failed;      /* atomic */
	int             outstanding; /* atomic: calls started, not done */
	pthread_mutex_t mtx;
	pthread_cond_t  cv;          /* outstanding reached 0 */
	fedrpc_status   first_error; /* under mtx */
} flood;

static bool flood_start(flood *f);

static void
flood_cb(void *arg, const fedrpc_status *st,
    Fedrpc__Testing__V1__EchoResponse *resp)
{
	flood *f = arg;

	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (st->code == FEDRPC_OK) {
		__atomic_add_fetch(&f->done, 1, __ATOMIC_RELAXED);
	} else {
		pthread_mutex_lock(&f->mtx);
		if (__atomic_add_fetch(&f->failed, 1, __ATOMIC_RELAXED) == 1) {
			f->first_error.code = st->code;
			memcpy(f->first_error.message, st->message,
			    sizeof(f->first_error.message));
		}
		pthread_mutex_unlock(&f->mtx);
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	}
	if (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && flood_start(f))
		return;
	pthread_mutex_lock(&f->mtx);
	if (--f->outstanding == 0)
		pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mtx);
}

/* Starts one call; false when it could not be started. */
static bool
flood_start(flood *f)
{
	fedrpc_status st = {0};

	return fedrpc_testing_v1_echo_echo_async(
	           f->ch, f->req, NULL, flood_cb, f, NULL, &st) == FEDRPC_OK;
}

/* Blocking calls from several threads on one channel. */
typedef struct blocker {
	flood    *f;
	pthread_t t;
} blocker;

static void *
blocker_main(void *arg)
{
	flood *f = ((blocker *) arg)->f;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		echo_once(f->ch, f->req);
		__atomic_add_fetch(&f->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Measures calls per second of whatever drives f->done. */
static void
measure_rate(const bench_opts *o, flood *f, const child *srv,
    tput_result *res)
{
	uint64_t d0, d1;
	double   t0, t1;
	usage    u0;

	sleep_us(0.2e6); /* warm-up: connections, pools, caches */
	d0 = __atomic_load_n(&f->done, __ATOMIC_RELAXED);
	t0 = now_us();
	usage_take(&u0, srv);
	sleep_us(o->seconds * 1e6);
	d1 = __atomic_load_n(&f->done, __ATOMIC_RELAXED);
	t1 = now_us();
	usage_since(&u0, srv, (double) (d1 - d0), &res->u);
	res->rate = (double) (d1 - d0) / ((t1 - t0) / 1e6);
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
}

static void
rpc_async(const bench_opts *o, fedrpc_channel *ch, const child *srv,
    const Fedrpc__Testing__V1__EchoRequest *req, tput_result *res)
{
	flood f = {.ch = ch, .req = req};

	pthread_mutex_init(&f.mtx, NULL);
	pthread_cond_init(&f.cv, NULL);
	for (int i = 0; i < o->inflight; i++) {
		pthread_mutex_lock(&f.mtx);
		f.outstanding++;
		pthread_mutex_unlock(&f.mtx);
		if (!flood_start(&f)) {
			pthread_mutex_lock(&f.mtx);
			f.outstanding--;
			pthread_mutex_unlock(&f.mtx);
			die("cannot start a call");
		}
	}
	measure_rate(o, &f, srv, res);
	pthread_mutex_lock(&f.mtx);
	while (f.outstanding > 0)
		pthread_cond_wait(&f.cv, &f.mtx);
	pthread_mutex_unlock(&f.mtx);
	if (f.failed > 0)
		die("%" PRIu64 " calls failed, first: %s: %s", f.failed,
		    fedrpc_code_name(f.first_error.code),
		    f.first_error.message);
	pthread_mutex_destroy(&f.mtx);
	pthread_cond_destroy(&f.cv);
}

static void
rpc_threads(const bench_opts *o, fedrpc_channel *ch, const child *srv,
    const Fedrpc__Testing__V1__EchoRequest *req, tput_result *res)
{
	flood    f = {.ch = ch, .req = req};
	blocker *b = calloc((size_t) o->threads, sizeof(*b));

	if (b == NULL)
		die("out of memory");
	for (int i = 0; i < o->threads; i++) {
		b[i].f = &f;
		if (pthread_create(&b[i].t, NULL, blocker_main, &b[i]) != 0)
			die("pthread_create");
	}
	measure_rate(o, &f, srv, res);
	for (int i = 0; i < o->threads; i++)
		pthread_join(b[i].t, NULL);
	free(b);
}

/* Raw TCP with several threads, one blocking connection each. */
typedef struct raw_blocker {
	const child *srv;
	size_t       payload;
	flood       *f;
	pthread_t    t;
} raw_blocker;

static void *
raw_blocker_main(void *arg)
{
	raw_blocker *b = arg;
	raw_conn     c;

	raw_conn_open(&c, b->srv, b->payload);
	while (!__atomic_load_n(&b->f->stop, __ATOMIC_ACQUIRE)) {
		raw_round_trip(&c);
		__atomic_add_fetch(&b->f->done, 1, __ATOMIC_RELAXED);
	}
	raw_conn_close(&c);
	return NULL;
}

static void
raw_threads(const bench_opts *o, const child *srv, size_t payload,
    tput_result *res)
{
	flood        f = {0};
	raw_blocker *b = calloc((size_t) o->threads, sizeof(*b));

	if (b == NULL)
		die("out of memory");
	for (int i = 0; i < o->threads; i++) {
		b[i] = (raw_blocker){.srv = srv, .payload = payload, .f = &f};
		if (pthread_create(&b[i].t, NULL, raw_blocker_main, &b[i]) != 0)
			die("pthread_create");
	}
	measure_rate(o, &f, srv, res);
	for (int i = 0; i < o->threads; i++)
		pthread_join(b[i].t, NULL);
	free(b);
}

/*
 * New connections: open a channel, make one call, close it. The time is
 * open to reply; it includes loading the TLS configuration from its
 * files, which conn_config_cost() measures on its own.
 */
static void
rpc_connects(const bench_opts *o, const char *url, const fedrpc_tls_opts *tls,
    const child *srv, const Fedrpc__Testing__V1__EchoRequest *req,
    conn_result *res)
{
	double *v   = malloc((size_t) o->connects * sizeof(double));
	usage   sum = {0};

	if (v == NULL)
		die("out of memory");
	for (int i = 0; i < o->connects; i++) {
		fedrpc_channel *ch;
		usage           u0, per;
		double          t0;

		usage_take(&u0, srv);
		t0 = now_us();
		ch = open_channel(url, tls);
		echo_once(ch, req);
		v[i] = now_us() - t0;
		/* Closing is not part of the figure. */
		usage_since(&u0, srv, 1, &per);
		sum.cpu_client += per.cpu_client;
		sum.cpu_server += per.cpu_server;
		sum.cs += per.cs;
		fedrpc_channel_close(ch);
	}
	qsort(v, (size_t) o->connects, sizeof(*v), cmp_double);
	res->p50          = pct(v, (size_t) o->connects, 50);
	res->p99          = pct(v, (size_t) o->connects, 99);
	res->u.cpu_client = sum.cpu_client / o->connects;
	res->u.cpu_server = sum.cpu_server / o->connects;
	res->u.cs         = sum.cs / o->connects;
	free(v);
}

/*
 * New connections through a domain channel (fedrpc_domains), the way a
 * federator reaches another domain: a static route instead of DNS, a
 * fresh pool each time so that each call needs a new connection. The
 * time is from asking for the channel to the reply.
 */
static void
domain_connects(const bench_opts *o, int port, const fedrpc_tls_opts *tls,
    const child *srv, const Fedrpc__Testing__V1__EchoRequest *req,
    conn_result *res)
{
	double             *v   = malloc((size_t) o->connects * sizeof(double));
	usage               sum = {0};
	fedrpc_static_route route = {
	    .domain = "b.example", .host = "127.0.0.1", .port = (uint16_t) port};
	fedrpc_resolver_opts ro = {.statics = &route, .n_statics = 1};
	fedrpc_domains_opts  po = {
	     .origin_domain      = "a.example",
	     .tls                = tls,
	     .resolver_opts      = &ro,
	     .api_version        = 1,
	     .default_timeout_ms = CALL_TIMEOUT_MS,
	     .scheme             = tls != NULL ? "tls+tcp" : "tcp",
        };

	if (v == NULL)
		die("out of memory");
	for (int i = 0; i < o->connects; i++) {
		fedrpc_domains *pool;
		fedrpc_channel *ch;
		fedrpc_status   st = {0};
		usage           u0, per;
		double          t0;

		if (fedrpc_domains_new(&pool, &po, &st) != FEDRPC_OK)
			die("domain pool: %s", st.message);
		usage_take(&u0, srv);
		t0 = now_us();
		if (fedrpc_domains_channel(pool, "b.example", &ch, &st) !=
		    FEDRPC_OK)
			die("domain channel: %s", st.message);
		echo_once(ch, req);
		v[i] = now_us() - t0;
		usage_since(&u0, srv, 1, &per);
		sum.cpu_client += per.cpu_client;
		sum.cpu_server += per.cpu_server;
		sum.cs += per.cs;
		fedrpc_channel_close(ch); /* our reference */
		fedrpc_domains_free(pool);
	}
	qsort(v, (size_t) o->connects, sizeof(*v), cmp_double);
	res->p50          = pct(v, (size_t) o->connects, 50);
	res->p99          = pct(v, (size_t) o->connects, 99);
	res->u.cpu_client = sum.cpu_client / o->connects;
	res->u.cpu_server = sum.cpu_server / o->connects;
	res->u.cs         = sum.cs / o->connects;
	free(v);
}

/* What building a client TLS configuration from its files costs. */
static double
conn_config_cost(const fedrpc_tls_opts *tls)
{
	double v[50];

	for (int i = 0; i < 50; i++) {
		fedrpc_tls   *t;
		fedrpc_status st = {0};
		double        t0 = now_us();

		if (fedrpc_tls_new(&t, false, tls, &st) != FEDRPC_OK)
			die("tls config: %s", st.message);
		v[i] = now_us() - t0;
		fedrpc_tls_free(t);
	}
	return median(v, 50);
}

/* ---- bare nng: req0/rep0 echo without fedrpc, for comparison ---- */

/* One rep0 context echoing every request from its aio callback. */
typedef struct nng_echo {
	nng_ctx  ctx;
	nng_aio *aio;
	bool     sending; /* the aio carries a reply */
} nng_echo;

static void
nng_echo_cb(void *arg)
{
	nng_echo *e  = arg;
	int       rv = nng_aio_result(e->aio);

	if (e->sending) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(e->aio));
		e->sending = false;
	} else if (rv == 0) {
		/* The request is its own reply. */
		e->sending = true;
		nng_ctx_send(e->ctx, e->aio);
		return;
	}
	if (rv != NNG_ECLOSED)
		nng_ctx_recv(e->ctx, e->aio);
}

/* Serves `--serve nng URL [DIR PREFIX]` until stdin closes. */
static void
serve_nng(int argc, char **argv)
{
	nng_socket      s;
	nng_listener    l;
	nng_echo        e[64];
	fedrpc_tls     *tls = NULL;
	fedrpc_tls_opts o;
	fedrpc_status   st = {0};
	int             port = 0, rv;

	if (argc < 2)
		die("--serve nng URL [DIR PREFIX]");
	if ((rv = nng_rep0_open(&s)) != 0 ||
	    (rv = nng_listener_create(&l, s, argv[1])) != 0)
		die("nng listen: %s", nng_strerror(rv));
	if (argc >= 4) {
		o = tls_opts(argv[2], argv[3], "server");
		if (fedrpc_tls_new(&tls, true, &o, &st) != FEDRPC_OK)
			die("tls: %s", st.message);
		tls_opts_free(&o);
		if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
		         fedrpc_tls_nng_config(tls))) != 0)
			die("nng tls: %s", nng_strerror(rv));
	}
	for (int i = 0; i < 64; i++) {
		e[i].sending = false;
		if (nng_ctx_open(&e[i].ctx, s) != 0 ||
		    nng_aio_alloc(&e[i].aio, nng_echo_cb, &e[i]) != 0)
			die("nng contexts");
		nng_ctx_recv(e[i].ctx, e[i].aio);
	}
	if ((rv = nng_listener_start(l, 0)) != 0 ||
	    (rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0)
		die("nng listen: %s", nng_strerror(rv));
	printf("port %d\n", port);
	fflush(stdout);
	wait_parent();
	nng_close(s);
	for (int i = 0; i < 64; i++)
		nng_aio_free(e[i].aio);
	if (tls != NULL)
		fedrpc_tls_free(tls);
	nng_fini();
}

/* A req0 socket dialed to a bare nng server. */
static nng_socket
nng_client_open(const char *url, const fedrpc_tls_opts *o)
{
	nng_socket    s;
	nng_dialer    d;
	fedrpc_tls   *tls = NULL;
	fedrpc_status st  = {0};
	int           rv;

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_dialer_create(&d, s, url)) != 0)
		die("nng dial: %s", nng_strerror(rv));
	if (o != NULL) {
		if (fedrpc_tls_new(&tls, false, o, &st) != FEDRPC_OK)
			die("tls: %s", st.message);
		rv = nng_dialer_set_ptr(
		    d, NNG_OPT_TLS_CONFIG, fedrpc_tls_nng_config(tls));
		fedrpc_tls_free(tls); /* the dialer holds the config */
		if (rv != 0)
			die("nng tls: %s", nng_strerror(rv));
	}
	if ((rv = nng_dialer_start(d, 0)) != 0)
		die("nng dial %s: %s", url, nng_strerror(rv));
	return s;
}

/* A context and an aio without callback, for blocking exchanges. */
typedef struct nng_conn {
	nng_ctx        ctx;
	nng_aio       *aio;
	const uint8_t *data; /* payload sent */
	size_t         len;
} nng_conn;

static void
nng_conn_open(nng_conn *c, nng_socket s, const uint8_t *data, size_t len)
{
	if (nng_ctx_open(&c->ctx, s) != 0 ||
	    nng_aio_alloc(&c->aio, NULL, NULL) != 0)
		die("nng context");
	nng_aio_set_timeout(c->aio, CALL_TIMEOUT_MS);
	c->data = data;
	c->len  = len;
}

static void
nng_conn_close(nng_conn *c)
{
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);
}

static nng_msg *
nng_request(const uint8_t *data, size_t len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0)
		die("out of memory");
	memcpy(nng_msg_body(m), data, len);
	return m;
}

static void
nng_round_trip(void *arg)
{
	nng_conn *c = arg;
	int       rv;

	nng_aio_set_msg(c->aio, nng_request(c->data, c->len));
	nng_ctx_send(c->ctx, c->aio);
	nng_aio_wait(c->aio);
	if ((rv = nng_aio_result(c->aio)) != 0)
		die("nng send: %s", nng_strerror(rv));
	nng_ctx_recv(c->ctx, c->aio);
	nng_aio_wait(c->aio);
	if ((rv = nng_aio_result(c->aio)) != 0)
		die("nng recv: %s", nng_strerror(rv));
	if (nng_msg_len(nng_aio_get_msg(c->aio)) != c->len)
		die("nng: echoed %zu bytes, sent %zu",
		    nng_msg_len(nng_aio_get_msg(c->aio)), c->len);
	nng_msg_free(nng_aio_get_msg(c->aio));
}

static void
nng_latency(const bench_opts *o, nng_socket s, const child *srv,
    const uint8_t *data, size_t len, lat_result *res)
{
	nng_conn c;

	nng_conn_open(&c, s, data, len);
	latency_run(o, srv, nng_round_trip, &c, res);
	nng_conn_close(&c);
}

/* One of the contexts kept busy by nng_async(). */
typedef struct nng_flier {
	nng_ctx        ctx;
	nng_aio       *aio;
	bool           receiving;
	struct flood  *f;
	const uint8_t *data;
	size_t         len;
} nng_flier;

static void
nng_flier_send(nng_flier *fl)
{
	fl->receiving = false;
	nng_aio_set_msg(fl->aio, nng_request(fl->data, fl->len));
	nng_ctx_send(fl->ctx, fl->aio);
}

static void
nng_flier_cb(void *arg)
{
	nng_flier *fl = arg;
	flood     *f  = fl->f;
	int        rv = nng_aio_result(fl->aio);

	if (rv == 0 && !fl->receiving) {
		fl->receiving = true;
		nng_ctx_recv(fl->ctx, fl->aio);
		return;
	}
	if (rv == 0) {
		nng_msg_free(nng_aio_get_msg(fl->aio));
		__atomic_add_fetch(&f->done, 1, __ATOMIC_RELAXED);
	} else {
		if (!fl->receiving)
			nng_msg_free(nng_aio_get_msg(fl->aio));
		pthread_mutex_lock(&f->mtx);
		if (__atomic_add_fetch(&f->failed, 1, __ATOMIC_RELAXED) == 1)
			snprintf(f->first_error.message,
			    sizeof(f->first_error.message), "%s",
			    nng_strerror(rv));
		pthread_mutex_unlock(&f->mtx);
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	}
	if (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		nng_flier_send(fl);
		return;
	}
	pthread_mutex_lock(&f->mtx);
	if (--f->outstanding == 0)
		pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mtx);
}

/* `inflight` contexts, each sending its next request when its reply
 * arrives. */
static void
nng_async(const bench_opts *o, nng_socket s, const child *srv,
    const uint8_t *data, size_t len, tput_result *res)
{
	flood      f  = {0};
	nng_flier *fl = calloc((size_t) o->inflight, sizeof(*fl));

	if (fl == NULL)
		die("out of memory");
	pthread_mutex_init(&f.mtx, NULL);
	pthread_cond_init(&f.cv, NULL);
	for (int i = 0; i < o->inflight; i++) {
		fl[i] = (nng_flier){.f = &f, .data = data, .len = len};
		if (nng_ctx_open(&fl[i].ctx, s) != 0 ||
		    nng_aio_alloc(&fl[i].aio, nng_flier_cb, &fl[i]) != 0)
			die("nng context");
		nng_aio_set_timeout(fl[i].aio, CALL_TIMEOUT_MS);
	}
	f.outstanding = o->inflight;
	for (int i = 0; i < o->inflight; i++)
		nng_flier_send(&fl[i]);
	measure_rate(o, &f, srv, res);
	pthread_mutex_lock(&f.mtx);
	while (f.outstanding > 0)
		pthread_cond_wait(&f.cv, &f.mtx);
	pthread_mutex_unlock(&f.mtx);
	if (f.failed > 0)
		die("%" PRIu64 " nng exchanges failed, first: %s", f.failed,
		    f.first_error.message);
	for (int i = 0; i < o->inflight; i++) {
		nng_aio_free(fl[i].aio);
		nng_ctx_close(fl[i].ctx);
	}
	free(fl);
	pthread_mutex_destroy(&f.mtx);
	pthread_cond_destroy(&f.cv);
}

/* Blocking exchanges from several threads, a context each. */
typedef struct nng_blocker {
	nng_conn  c;
	flood    *f;
	pthread_t t;
} nng_blocker;

static void *
nng_blocker_main(void *arg)
{
	nng_blocker *b = arg;

	while (!__atomic_load_n(&b->f->stop, __ATOMIC_ACQUIRE)) {
		nng_round_trip(&b->c);
		__atomic_add_fetch(&b->f->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
nng_threads(const bench_opts *o, nng_socket s, const child *srv,
    const uint8_t *data, size_t len, tput_result *res)
{
	flood        f = {0};
	nng_blocker *b = calloc((size_t) o->threads, sizeof(*b));

	if (b == NULL)
		die("out of memory");
	for (int i = 0; i < o->threads; i++) {
		b[i].f = &f;
		nng_conn_open(&b[i].c, s, data, len);
		if (pthread_create(&b[i].t, NULL, nng_blocker_main, &b[i]) != 0)
			die("pthread_create");
	}
	measure_rate(o, &f, srv, res);
	for (int i = 0; i < o->threads; i++) {
		pthread_join(b[i].t, NULL);
		nng_conn_close(&b[i].c);
	}
	free(b);
}

/* ---- the run ---- */

/* The transports measured, in table order. */
enum { T_RAW, T_NNG_TCP, T_TCP, T_NNG_TLS, T_TLS, T_COUNT };
static const char *t_names[T_COUNT] = {"raw TCP", "nng tcp://",
    "fedrpc tcp://", "nng tls+tcp://", "fedrpc tls+tcp://"};
static const size_t payloads[] = {64, 1024};
#define N_PAYLOADS 2

/* Every repetition's figures, medians taken at the end. */
typedef struct results {
	lat_result  lat[T_COUNT][N_PAYLOADS][MAX_REPS];
	tput_result async[T_COUNT][N_PAYLOADS][MAX_REPS];
	tput_result thr[T_COUNT][N_PAYLOADS][MAX_REPS];
	/* channel: tcp, tls P-256, tls Ed25519; domain channel: tcp, tls */
	conn_result conn[5][MAX_REPS];
	double      cfg_cost[2];       /* client TLS config: p256, ed25519 */
} results;

#define MED(arr, field, n)                                                   \
	({                                                                     \
		double v_[MAX_REPS];                                           \
		for (int i_ = 0; i_ < (n); i_++)                               \
			v_[i_] = (arr)[i_].field;                              \
		median(v_, (n));                                               \
	})

static bool
transport_on(const bench_opts *o, int t)
{
	switch (t) {
	case T_RAW:
		return o->do_raw;
	case T_NNG_TCP:
		return o->do_nng && o->do_tcp;
	case T_TCP:
		return o->do_tcp;
	case T_NNG_TLS:
		return o->do_nng && o->do_tls;
	default:
		return o->do_tls;
	}
}

/* One throughput table: a row per transport and payload. */
static void
print_rates(const bench_opts *o, const tput_result (*r)[N_PAYLOADS][MAX_REPS])
{
	int n = o->reps;

	printf("%-18s %7s %10s %10s %10s %10s %10s %8s\n", "transport",
	    "payload", "calls/s", "min", "max", "cpu cli", "cpu srv",
	    "cs/call");
	for (int t = 0; t < T_COUNT; t++)
		for (int p = 0; transport_on(o, t) && p < N_PAYLOADS; p++) {
			double v[MAX_REPS], med;

			for (int i = 0; i < n; i++)
				v[i] = r[t][p][i].rate;
			med = median(v, n); /* sorts v */
			printf("%-18s %7zu %10.0f %10.0f %10.0f %10.1f %10.1f "
			       "%8.1f\n",
			    t_names[t], payloads[p], med, v[0], v[n - 1],
			    MED(r[t][p], u.cpu_client, n),
			    MED(r[t][p], u.cpu_server, n),
			    MED(r[t][p], u.cs, n));
		}
}

static void
print_tables(const bench_opts *o, const results *r)
{
	int n = o->reps;

	printf("\nTimes in microseconds. cpu cli/srv: CPU time of the "
	       "client/server process per call (all threads). cs/call: "
	       "context switches per call, both processes.\n");
	printf("\nUnary round trip, one call in flight (%d calls after %d "
	       "warm-up; median of %d runs)\n",
	    o->calls, o->warmup, n);
	printf("%-18s %7s %8s %8s %8s %8s %10s %10s %8s\n", "transport",
	    "payload", "p50", "p90", "p99", "mean", "cpu cli", "cpu srv",
	    "cs/call");
	for (int t = 0; t < T_COUNT; t++)
		for (int p = 0; transport_on(o, t) && p < N_PAYLOADS; p++)
			printf("%-18s %7zu %8.1f %8.1f %8.1f %8.1f %10.1f "
			       "%10.1f %8.1f\n",
			    t_names[t], payloads[p],
			    MED(r->lat[t][p], p50, n),
			    MED(r->lat[t][p], p90, n),
			    MED(r->lat[t][p], p99, n),
			    MED(r->lat[t][p], mean, n),
			    MED(r->lat[t][p], u.cpu_client, n),
			    MED(r->lat[t][p], u.cpu_server, n),
			    MED(r->lat[t][p], u.cs, n));

	printf("\nCalls per second, %d calls in flight on one connection "
	       "(raw TCP: pipelined; %.1f s per run; median, min and max of "
	       "%d runs)\n",
	    o->inflight, o->seconds, n);
	print_rates(o, r->async);
	printf("\nCalls per second, %d client threads making blocking calls "
	       "(raw TCP: a connection each; nng, fedrpc: one shared "
	       "connection)\n",
	    o->threads);
	print_rates(o, r->thr);

	if (o->do_conn) {
		static const char *names[5] = {"channel tcp://",
		    "channel tls P-256", "channel tls Ed25519",
		    "domain tcp://", "domain tls P-256"};

		printf("\nNew connection: open a channel (or ask a domain pool "
		       "for one), connect, handshake, first 64 B call (%d per "
		       "run; median of %d runs)\n",
		    o->connects, n);
		printf("%-20s %10s %10s %10s %10s %8s\n", "connection", "p50",
		    "p99", "cpu cli", "cpu srv", "cs");
		for (int c = 0; c < 5; c++) {
			if ((c == 1 || c == 2 || c == 4) && !o->do_tls)
				continue;
			printf("%-20s %10.0f %10.0f %10.0f %10.0f %8.1f\n",
			    names[c], MED(r->conn[c], p50, n),
			    MED(r->conn[c], p99, n),
			    MED(r->conn[c], u.cpu_client, n),
			    MED(r->conn[c], u.cpu_server, n),
			    MED(r->conn[c], u.cs, n));
		}
		if (o->do_tls)
			printf("(of which building the client TLS config from "
			       "its files: P-256 %.0f us, Ed25519 %.0f us)\n",
			    r->cfg_cost[0], r->cfg_cost[1]);
	}
}

static void
print_usage(void)
{
	fprintf(stderr,
	    "usage: rpc_bench [options]\n"
	    "  -r, --reps N       runs of every figure, medians shown (3)\n"
	    "  -n, --calls N      measured calls per latency run (2000)\n"
	    "  -w, --warmup N     warm-up calls per latency run (200)\n"
	    "  -s, --seconds S    length of each throughput run (0.5)\n"
	    "  -i, --inflight N   async calls in flight (64)\n"
	    "  -t, --threads N    blocking client threads (4)\n"
	    "  -c, --connects N   new connections per run (30)\n"
	    "  -W, --workers N    fedrpc server handler threads (0: its "
	    "default, 8)\n"
	    "  -o, --only LIST    of raw,nng,tcp,tls,conn (all); nng rows\n"
	    "                     need tcp and/or tls too\n"
	    "  -q, --quick        one short run of everything\n"
	    "  -v, --verbose      log the runtime's debug messages\n"
	    "  -h, --help         this text\n");
	exit(2);
}

static void
parse_only(bench_opts *o, const char *list)
{
	o->do_raw  = strstr(list, "raw") != NULL;
	o->do_nng  = strstr(list, "nng") != NULL;
	o->do_tcp  = strstr(list, "tcp") != NULL;
	o->do_tls  = strstr(list, "tls") != NULL;
	o->do_conn = strstr(list, "conn") != NULL;
}

/* Starts the servers every selected measurement needs. */
static void
start_servers(const bench_opts *o, const char *dir, child *srv, child *hs)
{
	const char *self = o->self;
	char        w[16];

	snprintf(w, sizeof(w), "%d", o->workers);

	if (o->do_raw)
		child_start(&srv[T_RAW], self, "raw",
		    (const char *[]){"raw", NULL});
	if (transport_on(o, T_NNG_TCP))
		child_start(&srv[T_NNG_TCP], self, "nng-tcp",
		    (const char *[]){"nng", "tcp://127.0.0.1:0", NULL});
	if (o->do_tcp || o->do_conn)
		child_start(&srv[T_TCP], self, "tcp",
		    (const char *[]){"tcp", w, NULL});
	if (transport_on(o, T_NNG_TLS))
		child_start(&srv[T_NNG_TLS], self, "nng-tls",
		    (const char *[]){"nng", "tls+tcp://127.0.0.1:0", dir,
			"p256", NULL});
	if (o->do_tls)
		child_start(&srv[T_TLS], self, "tls",
		    (const char *[]){"tls", w, dir, "p256", NULL});
	if (o->do_conn && o->do_tls) {
		hs[0] = srv[T_TLS];
		child_start(&hs[1], self, "tls-ed25519",
		    (const char *[]){"tls", w, dir, "ed25519", NULL});
	}
}

/* One repetition of every selected figure. */
static void
run_once(const bench_opts *o, int rep, const child *srv, const child *hs,
    const fedrpc_tls_opts *ctls, const uint8_t *data, results *r)
{
	fedrpc_channel *ch[T_COUNT] = {NULL};
	nng_socket      ns[T_COUNT] = {NNG_SOCKET_INITIALIZER};
	char            url[64];

	for (int t = T_NNG_TCP; t < T_COUNT; t++) {
		bool tls = t == T_NNG_TLS || t == T_TLS;

		if (!transport_on(o, t))
			continue;
		snprintf(url, sizeof(url), "%s://127.0.0.1:%d",
		    tls ? "tls+tcp" : "tcp", srv[t].port);
		if (t == T_NNG_TCP || t == T_NNG_TLS)
			ns[t] = nng_client_open(url, tls ? &ctls[0] : NULL);
		else
			ch[t] = open_channel(url, tls ? &ctls[0] : NULL);
	}
	for (int p = 0; p < N_PAYLOADS; p++) {
		Fedrpc__Testing__V1__EchoRequest req =
		    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
		size_t len = payloads[p];

		req.payload.data = (uint8_t *) data;
		req.payload.len  = len;
		if (o->do_raw) {
			raw_latency(o, &srv[T_RAW], len, &r->lat[T_RAW][p][rep]);
			raw_pipelined(
			    o, &srv[T_RAW], len, &r->async[T_RAW][p][rep]);
			raw_threads(o, &srv[T_RAW], len, &r->thr[T_RAW][p][rep]);
		}
		for (int t = T_NNG_TCP; t < T_COUNT; t++) {
			if (!transport_on(o, t))
				continue;
			if (t == T_NNG_TCP || t == T_NNG_TLS) {
				nng_latency(o, ns[t], &srv[t], data, len,
				    &r->lat[t][p][rep]);
				nng_async(o, ns[t], &srv[t], data, len,
				    &r->async[t][p][rep]);
				nng_threads(o, ns[t], &srv[t], data, len,
				    &r->thr[t][p][rep]);
				continue;
			}
			rpc_latency(o, ch[t], &srv[t], &req, &r->lat[t][p][rep]);
			rpc_async(o, ch[t], &srv[t], &req, &r->async[t][p][rep]);
			rpc_threads(o, ch[t], &srv[t], &req, &r->thr[t][p][rep]);
		}
	}
	for (int t = 0; t < T_COUNT; t++) {
		fedrpc_channel_close(ch[t]);
		if (nng_socket_id(ns[t]) > 0)
			nng_close(ns[t]);
	}

	if (o->do_conn) {
		Fedrpc__Testing__V1__EchoRequest req =
		    FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;

		req.payload.data = (uint8_t *) data;
		req.payload.len  = 64;
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", srv[T_TCP].port);
		rpc_connects(o, url, NULL, &srv[T_TCP], &req, &r->conn[0][rep]);
		for (int k = 0; o->do_tls && k < 2; k++) {
			snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d",
			    hs[k].port);
			rpc_connects(o, url, &ctls[k], &hs[k], &req,
			    &r->conn[1 + k][rep]);
		}
		domain_connects(o, srv[T_TCP].port, NULL, &srv[T_TCP], &req,
		    &r->conn[3][rep]);
		if (o->do_tls)
			domain_connects(o, hs[0].port, &ctls[0], &hs[0], &req,
			    &r->conn[4][rep]);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"reps", required_argument, NULL, 'r'},
	    {"calls", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"seconds", required_argument, NULL, 's'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"threads", required_argument, NULL, 't'},
	    {"connects", required_argument, NULL, 'c'},
	    {"only", required_argument, NULL, 'o'},
	    {"workers", required_argument, NULL, 'W'},
	    {"quick", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bench_opts o = {
	    .reps = 3, .warmup = 200, .calls = 2000, .seconds = 0.5,
	    .inflight = 64, .threads = 4, .connects = 30, .do_raw = true,
	    .do_nng = true, .do_tcp = true, .do_tls = true, .do_conn = true,
	};
	static results  r;
	child           srv[T_COUNT] = {{0}}, hs[2] = {{0}};
	char            dir[] = "/tmp/rpc_bench.XXXXXX";
	char            self[4096];
	ssize_t         len;
	fedrpc_tls_opts ctls[2];
	uint8_t        *data;
	int             opt;
	bool            verbose = false;
	double          t0 = now_us(), load0 = load_avg();

	if (argc >= 3 && strcmp(argv[1], "--serve") == 0)
		return serve_main(argc - 2, argv + 2);
	while ((opt = getopt_long(argc, argv, "r:n:w:s:i:t:c:o:W:qvh", lopts,
	            NULL)) != -1) {
		switch (opt) {
		case 'r': o.reps = atoi(optarg); break;
		case 'n': o.calls = atoi(optarg); break;
		case 'w': o.warmup = atoi(optarg); break;
		case 's': o.seconds = atof(optarg); break;
		case 'i': o.inflight = atoi(optarg); break;
		case 't': o.threads = atoi(optarg); break;
		case 'c': o.connects = atoi(optarg); break;
		case 'o': parse_only(&o, optarg); break;
		case 'W': o.workers = atoi(optarg); break;
		case 'q':
			o.reps = 1, o.calls = 500, o.warmup = 100;
			o.seconds = 0.3, o.connects = 10;
			break;
		case 'v': verbose = true; break;
		default: print_usage();
		}
	}
	if (optind != argc || o.reps < 1 || o.reps > MAX_REPS ||
	    o.calls < 1 || o.warmup < 0 || o.seconds <= 0 ||
	    o.seconds > 30 || o.inflight < 1 || o.inflight > 1024 ||
	    o.threads < 1 || o.threads > 64 || o.connects < 1 ||
	    o.workers < 0 || o.workers > 256)
		print_usage();
	alarm(HARD_LIMIT_S);
	signal(SIGPIPE, SIG_IGN);
	/* The servers are this same program. */
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		die("cannot find this program: %s", strerror(errno));
	self[len] = '\0';
	o.self    = self;
	fedrpc_log_set_level(verbose ? FEDRPC_LOG_DEBUG : FEDRPC_LOG_WARN);

	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	make_certs(dir, "p256", FEDRPC_PKI_KEY_P256);
	make_certs(dir, "ed25519", FEDRPC_PKI_KEY_ED25519);
	ctls[0] = tls_opts(dir, "p256", "client");
	ctls[1] = tls_opts(dir, "ed25519", "client");
	/* Before this process starts any nng thread. */
	start_servers(&o, dir, srv, hs);

	if ((data = malloc(payloads[N_PAYLOADS - 1])) == NULL)
		die("out of memory");
	memset(data, 'x', payloads[N_PAYLOADS - 1]);
	/* Runs interleave every figure, so that a busy moment of a shared
	 * machine spreads over all of them instead of spoiling one. */
	for (int rep = 0; rep < o.reps; rep++) {
		fprintf(stderr, "run %d of %d\n", rep + 1, o.reps);
		run_once(&o, rep, srv, hs, ctls, data, &r);
	}
	if (o.do_conn && o.do_tls)
		for (int k = 0; k < 2; k++)
			r.cfg_cost[k] = conn_config_cost(&ctls[k]);

	for (int t = 0; t < T_COUNT; t++)
		child_stop(&srv[t]);
	child_stop(&hs[1]);
	print_tables(&o, &r);
	printf("\n(%.0f s in all; load average %.2f at the start, %.2f at the "
	       "end, on %ld CPUs; fedrpc on %s)\n",
	    (now_us() - t0) / 1e6, load0, load_avg(), sysconf(_SC_NPROCESSORS_ONLN),
	    wire_mode() ? "the wire protocol" : "req0/rep0 (FEDRPC_WIRE=reqrep)");

	free(data);
	tls_opts_free(&ctls[0]);
	tls_opts_free(&ctls[1]);
	rm_certs(dir);
	nng_fini();
	return 0;
}
