/*
 * Fan-out benchmark: one message to a 1,000-member conversation spread
 * over 10 federating domains (10 federator daemons on loopback, 100 users
 * each), timing the SendMessage call and the time until the last of the
 * 9 receiving backends has stored the message for its 100 recipients.
 * The receivers say when: each daemon's access log (JSON) has a line per
 * OnMessageSent it answered, written after the handler's transaction
 * committed, with the wall clock in microseconds (end_us,
 * federator/access_log.c); the bench reads the logs after the send. With
 * -p it also polls every inbox, as a user would (that costs CPU the
 * daemons would otherwise have). Run by hand; see docs/performance.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
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

#include <jansson.h>

#include <fedrpc/channel.h>
#include <fedrpc/log.h>
#include <fedrpc/pki.h>
#include <fedrpc/status.h>

#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#define NDOM 10
#define NUSER 100 /* per domain */
#define NALL (NDOM * NUSER)
#define DELIVERY_TIMEOUT_MS 30000
#define ON_MESSAGE_SENT "fedrpc.federation.v1.Conversations/OnMessageSent"
#define ON_CONV_CREATED \
	"fedrpc.federation.v1.Conversations/OnConversationCreated"

typedef Fedrpc__Federation__V1__QualifiedId qid_msg;

/* One test user: its id (owned strings) and its one client. */
typedef struct user {
	char     id[40];     /* the user's UUID */
	char     domain[32]; /* dN.example */
	uint64_t client;     /* from AddClient */
	uint64_t cursor;     /* last inbox event id seen */
	qid_msg  q;          /* views of id and domain */
} user;

/* One federator daemon and the bench's channel to its local API. */
typedef struct dom {
	char            name[32];  /* dN.example */
	int             port;      /* federation listener */
	pid_t           pid;       /* 0 when not running */
	char            sock[PATH_MAX];
	fedrpc_channel *ch;        /* owned */
	long            log_from;  /* its log's size before the run */
	long long       stored_us; /* end_us of the run's OnMessageSent */
} dom;

/* What one polling thread does and what it found. */
typedef struct poller {
	int               d;       /* the domain whose users it polls */
	const char       *marker;  /* the message's data, to recognise it */
	pthread_barrier_t *start;  /* released just before the send */
	long long         last_ns; /* when its last user had the message */
	int               missing; /* users that never had it */
} poller;

/* Everything the bench owns; cleanup() releases it on every path. */
static dom   D[NDOM];
static user  U[NALL];
static char  dir[PATH_MAX];
static char  federator[PATH_MAX];
static const char *extra_conf = ""; /* -c: more settings for every daemon */
static bool  keep;                    /* -k: the folder stays */
static bool  verbose;                 /* -v: each run's calls */
static pthread_mutex_t die_lock = PTHREAD_MUTEX_INITIALIZER;

/* snprintf that refuses to truncate (every name here is short). */
static int xfmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
xfmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size) {
		fprintf(stderr, "fanout_bench: name too long\n");
		exit(1);
	}
	return n;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void) sb;
	(void) flag;
	(void) f;
	return remove(p);
}

/* Stops every daemon (SIGTERM, then SIGKILL after 3 s) and removes the
 * temporary folder. Safe to call more than once. */
static void
cleanup(void)
{
	for (int i = 0; i < NDOM; i++) {
		if (D[i].ch != NULL)
			fedrpc_channel_close(D[i].ch);
		D[i].ch = NULL;
		if (D[i].pid > 0)
			kill(D[i].pid, SIGTERM);
	}
	for (int i = 0; i < NDOM; i++) {
		int status;

		if (D[i].pid <= 0)
			continue;
		for (int t = 0; t < 300; t++) {
			if (waitpid(D[i].pid, &status, WNOHANG) == D[i].pid)
				goto reaped;
			usleep(10000);
		}
		kill(D[i].pid, SIGKILL);
		waitpid(D[i].pid, &status, 0);
	reaped:
		D[i].pid = 0;
	}
	if (dir[0] != '\0' && keep)
		printf("daemon logs and databases kept in %s\n", dir);
	else if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fanout_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (dir[0] != '\0')
		fprintf(stderr, "(daemon logs were in %s/*.log)\n", dir);
	/* Other threads may be in calls: no channel is closed, the daemons
	 * are killed and the folder removed under a lock taken once. */
	pthread_mutex_lock(&die_lock);
	for (int i = 0; i < NDOM; i++)
		D[i].ch = NULL;
	cleanup();
	exit(1);
}

/* No channel is closed here (a call may be under way on it): the daemons
 * are killed, the folder removed, and the process ends. */
static void
on_signal(int sig)
{
	(void) sig;
	for (int i = 0; i < NDOM; i++)
		if (D[i].pid > 0) {
			kill(D[i].pid, SIGKILL);
			waitpid(D[i].pid, NULL, 0);
		}
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	_exit(1);
}

static const char *
path(const char *name)
{
	static __thread char buf[4][PATH_MAX];
	static __thread int  k;
	char                *b = buf[k++ % 4];

	xfmt(b, PATH_MAX, "%s/%s", dir, name);
	return b;
}

static int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);
	int                fd, port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
		die("free port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
make_pki(void)
{
	fedrpc_status st = {0};
	char          crt[PATH_MAX], key[PATH_MAX];

	xfmt(crt, sizeof(crt), "%s", path("ca.crt"));
	xfmt(key, sizeof(key), "%s", path("ca.key"));
	if (fedrpc_pki_ca_create(crt, key, "fanout bench CA",
	        FEDRPC_PKI_KEY_P256, 2, &st) != FEDRPC_OK)
		die("CA: %s", st.message);
	for (int i = 0; i < NDOM; i++) {
		char                  c[PATH_MAX], k[PATH_MAX], n[64];
		const char           *dns[] = {D[i].name, "localhost"};
		fedrpc_pki_issue_opts o     = {0};

		xfmt(n, sizeof(n), "%s.crt", D[i].name);
		xfmt(c, sizeof(c), "%s", path(n));
		xfmt(n, sizeof(n), "%s.key", D[i].name);
		xfmt(k, sizeof(k), "%s", path(n));
		o.ca_cert     = crt;
		o.ca_key      = key;
		o.cert_out    = c;
		o.key_out     = k;
		o.dns_names   = dns;
		o.n_dns_names = 2;
		o.key_type    = FEDRPC_PKI_KEY_P256;
		o.not_before  = time(NULL) - 3600;
		o.not_after   = time(NULL) + 86400;
		o.usage       = FEDRPC_PKI_USAGE_BOTH;
		if (fedrpc_pki_issue(&o, &st) != FEDRPC_OK)
			die("certificate of %s: %s", D[i].name, st.message);
	}
}

static void
write_conf(int i)
{
	char  statics[4096] = "", name[64];
	size_t k = 0;
	FILE *f;

	for (int j = 0; j < NDOM; j++)
		if (j != i)
			k += (size_t) xfmt(statics + k, sizeof(statics) - k,
			    "%s{ domain = \"%s\"; host = \"127.0.0.1\"; "
			    "port = %d; }",
			    k > 0 ? ", " : "", D[j].name, D[j].port);
	xfmt(name, sizeof(name), "%s.conf", D[i].name);
	if ((f = fopen(path(name), "w")) == NULL)
		die("%s: %s", path(name), strerror(errno));
	fprintf(f,
	    "domain = \"%s\";\n"
	    "federation = { enabled = true; strategy = \"allowAll\";\n"
	    "  default_search_policy = \"exact_handle_search\"; };\n"
	    "listen = \"tls+tcp://127.0.0.1:%d\";\n"
	    "local_api = \"ipc://%s\";\n"
	    "tls = { ca = \"ca.crt\"; cert = \"%s.crt\"; key = \"%s.key\"; };\n"
	    "discovery = { static = ( %s ); };\n"
	    "client = { connect_timeout_ms = 2000; backoff_initial_ms = 100; "
	    "backoff_max_ms = 1000; };\n"
	    "limits = { rate_per_peer = 100000.0; rate_burst = 100000; };\n"
	    "storage = { adapter = \"sqlite\"; path = \"%s.db\"; };\n"
	    "log = { level = \"info\"; format = \"json\"; "
	    "file = \"%s.log\"; };\n"
	    "%s\n",
	    D[i].name, D[i].port, D[i].sock, D[i].name, D[i].name, statics,
	    D[i].name, D[i].name, extra_conf);
	fclose(f);
}

static void
start(int i)
{
	char      conf[PATH_MAX], pidf[PATH_MAX], name[64];
	long long end = now_ns() + 10000000000LL;
	int       status;

	xfmt(name, sizeof(name), "%s.conf", D[i].name);
	xfmt(conf, sizeof(conf), "%s", path(name));
	xfmt(name, sizeof(name), "%s.pid", D[i].name);
	xfmt(pidf, sizeof(pidf), "%s", path(name));
	if ((D[i].pid = fork()) == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		xfmt(name, sizeof(name), "%s.out", D[i].name);
		if ((fd = open(path(name), O_WRONLY | O_CREAT | O_APPEND,
		         0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(federator, federator, "-c", conf, "--pid-file", pidf,
		    "--shutdown-grace", "1000", (char *) NULL);
		_exit(127);
	}
	if (D[i].pid < 0)
		die("fork: %s", strerror(errno));
	while (access(pidf, F_OK) != 0 || access(D[i].sock, F_OK) != 0) {
		if (waitpid(D[i].pid, &status, WNOHANG) == D[i].pid) {
			D[i].pid = 0;
			die("federator %s exited (status %d); see %s.out",
			    D[i].name, status, D[i].name);
		}
		if (now_ns() > end)
			die("federator %s did not start", D[i].name);
		usleep(10000);
	}
}

static void
open_channel(int i)
{
	fedrpc_channel_opts co = {0};
	fedrpc_status       st = {0};
	char                url[PATH_MAX + 8];

	/* unix:// rather than ipc://: no probe connection (see fedctl). */
	xfmt(url, sizeof(url), "unix://%s", D[i].sock);
	co.url                = url;
	co.target_domain      = "";
	co.default_timeout_ms = 30000;
	co.reconnect_min_ms   = 20;
	co.reconnect_max_ms   = 500;
	if (fedrpc_channel_open(&D[i].ch, &co, &st) != FEDRPC_OK)
		die("channel to %s: %s", D[i].name, st.message);
}

static void
register_users(int d)
{
	for (int k = 0; k < NUSER; k++) {
		user *u = &U[d * NUSER + k];
		Fedrpc__Local__V1__RegisterUserRequest  rq =
		    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
		Fedrpc__Local__V1__RegisterUserResponse *rr = NULL;
		Fedrpc__Local__V1__AddClientRequest      cq =
		    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
		Fedrpc__Local__V1__AddClientResponse    *cr = NULL;
		Fedrpc__Federation__V1__Prekey pk[4], last;
		Fedrpc__Federation__V1__Prekey *pks[3];
		uint8_t       key[32];
		char          handle[32], name[32];
		fedrpc_status st = {0};

		xfmt(handle, sizeof(handle), "user%03d", k);
		xfmt(name, sizeof(name), "User %d of d%d", k, d);
		rq.handle = handle;
		rq.name   = name;
		if (fedrpc_local_v1_users_register_user(D[d].ch, &rq, &rr, NULL,
		        &st) != FEDRPC_OK)
			die("RegisterUser on %s: %s", D[d].name, st.message);
		xfmt(u->id, sizeof(u->id), "%s", rr->user->id);
		xfmt(u->domain, sizeof(u->domain), "%s", D[d].name);
		protobuf_c_message_free_unpacked(&rr->base, NULL);
		fedrpc__federation__v1__qualified_id__init(&u->q);
		u->q.id     = u->id;
		u->q.domain = u->domain;

		memset(key, 0xab, sizeof(key));
		for (int j = 0; j < 3; j++) {
			fedrpc__federation__v1__prekey__init(&pk[j]);
			pk[j].id       = (uint32_t) j + 1;
			pk[j].key.data = key;
			pk[j].key.len  = sizeof(key);
			pks[j]         = &pk[j];
		}
		fedrpc__federation__v1__prekey__init(&last);
		last.id       = 65535;
		last.key.data = key;
		last.key.len  = sizeof(key);
		cq.self        = &u->q;
		cq.prekeys     = pks;
		cq.n_prekeys   = 3;
		cq.last_prekey = &last;
		if (fedrpc_local_v1_users_add_client(D[d].ch, &cq, &cr, NULL,
		        &st) != FEDRPC_OK)
			die("AddClient on %s: %s", D[d].name, st.message);
		u->client = cr->client;
		protobuf_c_message_free_unpacked(&cr->base, NULL);
	}
}

/* The creator (U[0]) connects to every user of domain d, who accepts. */
static void *
connect_domain(void *arg)
{
	int d = (int) (intptr_t) arg;

	for (int k = 0; k < NUSER; k++) {
		user *u = &U[d * NUSER + k];
		Fedrpc__Local__V1__ConnectRequest  cq =
		    FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
		Fedrpc__Local__V1__ConnectResponse *cr = NULL;
		Fedrpc__Local__V1__AcceptRequest   aq =
		    FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
		Fedrpc__Local__V1__AcceptResponse  *ar = NULL;
		fedrpc_status st = {0};

		if (u == &U[0])
			continue;
		cq.self = &U[0].q;
		cq.to   = &u->q;
		if (fedrpc_local_v1_connections_connect(D[0].ch, &cq, &cr, NULL,
		        &st) != FEDRPC_OK)
			die("Connect to %s@%s: %s", u->id, u->domain,
			    st.message);
		protobuf_c_message_free_unpacked(&cr->base, NULL);
		aq.self = &u->q;
		aq.to   = &U[0].q;
		/* With delivery.wait_ms = 0 the request may still be on its
		 * way: asked again until it is there. */
		for (long long end = now_ns() + DELIVERY_TIMEOUT_MS * 1000000LL;;) {
			if (fedrpc_local_v1_connections_accept(D[d].ch, &aq, &ar,
			        NULL, &st) == FEDRPC_OK)
				break;
			if (st.code != FEDRPC_FAILED_PRECONDITION ||
			    now_ns() > end)
				die("Accept on %s: %s", u->domain, st.message);
			fedrpc_status_reset(&st);
			usleep(2000);
		}
		protobuf_c_message_free_unpacked(&ar->base, NULL);
	}
	return NULL;
}

/*
 * Fetches one user's inbox from its cursor; true when a message_received
 * event with `marker` as its data was among the new events.
 */
static bool
poll_user(int d, user *u, const char *marker)
{
	bool found = false;
	bool more  = true;

	while (more) {
		Fedrpc__Local__V1__FetchInboxRequest  rq =
		    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
		Fedrpc__Local__V1__FetchInboxResponse *rr = NULL;
		fedrpc_status st = {0};

		rq.self   = &u->q;
		rq.client = u->client;
		rq.since  = u->cursor;
		rq.limit  = 1000;
		if (fedrpc_local_v1_inbox_fetch_inbox(D[d].ch, &rq, &rr, NULL,
		        &st) != FEDRPC_OK)
			die("FetchInbox on %s: %s", D[d].name, st.message);
		for (size_t i = 0; i < rr->n_events; i++) {
			Fedrpc__Local__V1__Event *e = rr->events[i];

			if (e->id > u->cursor)
				u->cursor = e->id;
			if (marker != NULL &&
			    e->payload_case ==
			        FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED &&
			    e->message_received->data.len == strlen(marker) &&
			    memcmp(e->message_received->data.data, marker,
			        strlen(marker)) == 0)
				found = true;
		}
		more = rr->has_more && rr->n_events > 0;
		protobuf_c_message_free_unpacked(&rr->base, NULL);
	}
	return found;
}

/* Polls the inboxes of one domain's recipients until each has the
 * message (or the timeout), noting when the last one had it. */
static void *
poll_domain(void *arg)
{
	poller   *p = arg;
	bool      got[NUSER] = {false};
	int       left = p->d == 0 ? NUSER - 1 : NUSER;
	long long end;

	pthread_barrier_wait(p->start);
	end = now_ns() + DELIVERY_TIMEOUT_MS * 1000000LL;
	while (left > 0 && now_ns() < end) {
		for (int k = 0; k < NUSER; k++) {
			user *u = &U[p->d * NUSER + k];

			if (u == &U[0] || got[k])
				continue;
			if (poll_user(p->d, u, p->marker)) {
				got[k]     = true;
				p->last_ns = now_ns();
				left--;
			}
		}
	}
	p->missing = left;
	return NULL;
}

static const char *
log_path(int d)
{
	static __thread char n[64];

	xfmt(n, sizeof(n), "%s.log", D[d].name);
	return path(n);
}

/* Where the run's lines of each receiver's log will start. */
static void
mark_logs(void)
{
	for (int d = 0; d < NDOM; d++) {
		struct stat sb;

		D[d].log_from  = stat(log_path(d), &sb) == 0 ? (long) sb.st_size : 0;
		D[d].stored_us = 0;
	}
}

/* end_us of the first call of `want` from d0 that d answered OK since
 * mark_logs(), or 0 when its log has none yet. Whole lines only: the
 * daemon may be writing the next one. */
static long long
stored_at(int d, const char *want)
{
	FILE     *f = fopen(log_path(d), "r");
	char      line[8192];
	long long at = 0;

	if (f == NULL || fseek(f, D[d].log_from, SEEK_SET) != 0)
		die("%s: %s", log_path(d), strerror(errno));
	while (at == 0 && fgets(line, sizeof(line), f) != NULL) {
		json_t     *j, *end;
		const char *msg, *method, *status, *origin;

		if (strchr(line, '\n') == NULL ||
		    strstr(line, want) == NULL)
			continue;
		if ((j = json_loads(line, 0, NULL)) == NULL)
			die("%s: not a JSON line: %s", log_path(d), line);
		msg    = json_string_value(json_object_get(j, "msg"));
		method = json_string_value(json_object_get(j, "method"));
		status = json_string_value(json_object_get(j, "status"));
		origin = json_string_value(json_object_get(j, "origin"));
		end    = json_object_get(j, "end_us");
		if (msg != NULL && strcmp(msg, "call received") == 0 &&
		    method != NULL && strcmp(method, want) == 0 &&
		    origin != NULL && strcmp(origin, D[0].name) == 0 &&
		    status != NULL && strcmp(status, "OK") == 0) {
			if (!json_is_integer(end))
				die("%s: an access-log line without end_us "
				    "(a federator older than the bench?)",
				    log_path(d));
			at = json_integer_value(end);
		}
		json_decref(j);
	}
	fclose(f);
	return at;
}

/* -v: the calls d0 made during the run (its access log), in ms from the
 * send: when each began (end_us less duration_ms, so to the ms) and
 * ended; then when each receiver stored the message. */
static void
print_calls(long long start_us)
{
	FILE *f = fopen(log_path(0), "r");
	char  line[8192];

	if (f == NULL || fseek(f, D[0].log_from, SEEK_SET) != 0)
		die("%s: %s", log_path(0), strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t     *j = json_loads(line, 0, NULL);
		const char *msg, *method, *target, *m;
		long long   end, dur;

		if (j == NULL)
			continue;
		msg    = json_string_value(json_object_get(j, "msg"));
		method = json_string_value(json_object_get(j, "method"));
		target = json_string_value(json_object_get(j, "target"));
		end    = json_integer_value(json_object_get(j, "end_us"));
		dur    = json_integer_value(json_object_get(j, "duration_ms"));
		if (msg != NULL && strcmp(msg, "call sent") == 0 &&
		    method != NULL && target != NULL && end > 0) {
			m = strrchr(method, '/');
			printf("    d0 %-22s to %-11s %6.1f .. %6.1f ms %s\n",
			    m != NULL ? m + 1 : method, target,
			    (end - dur * 1000 - start_us) / 1e3,
			    (end - start_us) / 1e3,
			    json_string_value(json_object_get(j, "status")));
		}
		json_decref(j);
	}
	fclose(f);
	for (int d = 1; d < NDOM; d++)
		printf("    %s stored it at %6.1f ms\n", D[d].name,
		    (D[d].stored_us - start_us) / 1e3);
}

/* Waits for every receiver's line of `want` (reading the logs, not the
 * inboxes); false after DELIVERY_TIMEOUT_MS. */
static bool
wait_stored(const char *want)
{
	long long end = now_ns() + DELIVERY_TIMEOUT_MS * 1000000LL;

	for (;;) {
		int left = 0;

		for (int d = 1; d < NDOM; d++)
			if (D[d].stored_us == 0 &&
			    (D[d].stored_us = stored_at(d, want)) == 0)
				left++;
		if (left == 0)
			return true;
		if (now_ns() > end)
			return false;
		usleep(2000);
	}
}

/* CPU time (user + system, all threads) the 10 daemons have used, in
 * ms, from /proc (clock ticks: 10 ms steps per daemon). */
static double
daemons_cpu_ms(void)
{
	double total = 0;
	long   hz    = sysconf(_SC_CLK_TCK);

	for (int d = 0; d < NDOM; d++) {
		char               p[64], buf[1024], *s;
		unsigned long long ut, stime;
		FILE              *f;

		xfmt(p, sizeof(p), "/proc/%d/stat", (int) D[d].pid);
		if ((f = fopen(p, "r")) == NULL)
			die("%s: %s", p, strerror(errno));
		s = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* After the command's closing parenthesis: state is field 3,
		 * utime and stime fields 14 and 15. */
		if (s == NULL || (s = strrchr(buf, ')')) == NULL ||
		    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		                  "%llu %llu",
		        &ut, &stime) != 2)
			die("%s: cannot read", p);
		total += (double) (ut + stime) * 1000.0 / (double) hz;
	}
	return total;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int         runs = 5;
	bool        polling = false;
	long long   send_ns[32], stored_ns[32], last_ns[32], t0;
	double      cpu0;
	Fedrpc__Local__V1__CreateConversationRequest  cq =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *cr = NULL;
	qid_msg       *members[NALL];
	qid_msg        conv;
	char           conv_id[40], conv_dom[32];
	fedrpc_status  st = {0};
	char          *tmp;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			extra_conf = argv[++i];
		else if (strcmp(argv[i], "-p") == 0)
			polling = true;
		else if (strcmp(argv[i], "-k") == 0)
			keep = true;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (argv[i][0] != '-')
			xfmt(federator, sizeof(federator), "%s", argv[i]);
		else {
			fprintf(stderr,
			    "usage: %s [-r RUNS] [-p] [-k] [-v] [-c SETTINGS] "
			    "[PATH-TO-FEDERATOR]\n"
			    "  -r RUNS      sends to time (1 to 32; 5)\n"
			    "  -p           also poll every inbox, timing when "
			    "the last recipient found it\n"
			    "  -c SETTINGS  configuration text added to every "
			    "daemon's file,\n"
			    "               e.g. 'delivery = { workers = 9; };'\n"
			    "  -k           keep the folder (logs, databases) "
			    "at the end\n"
			    "  -v           print the calls d0 made in each run, "
			    "and when each receiver stored it\n"
			    "  default federator: <build>/federator next to "
			    "<build>/bench/\n",
			    argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 32)
		runs = 5;
	if (federator[0] == '\0') {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("cannot find myself; name the federator");
		self[n] = '\0';
		xfmt(federator, sizeof(federator), "%s/../federator",
		    dirname(self));
	}
	if (access(federator, X_OK) != 0)
		die("no federator at %s (give its path as an argument)",
		    federator);
	fedrpc_log_set_level(FEDRPC_LOG_WARN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	tmp = getenv("TMPDIR");
	xfmt(dir, sizeof(dir), "%s/fanout-bench-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	for (int i = 0; i < NDOM; i++) {
		xfmt(D[i].name, sizeof(D[i].name), "d%d.example", i);
		D[i].port = free_port();
		xfmt(D[i].sock, sizeof(D[i].sock), "%s/d%d.sock", dir, i);
	}

	t0 = now_ns();
	make_pki();
	for (int i = 0; i < NDOM; i++)
		write_conf(i);
	for (int i = 0; i < NDOM; i++)
		start(i);
	for (int i = 0; i < NDOM; i++)
		open_channel(i);
	printf("10 federators up in %.2f s (%s)\n", (now_ns() - t0) / 1e9,
	    federator);

	t0 = now_ns();
	for (int d = 0; d < NDOM; d++)
		register_users(d);
	printf("%d users with one client each registered in %.2f s\n", NALL,
	    (now_ns() - t0) / 1e9);

	t0 = now_ns();
	{
		pthread_t th[NDOM];

		for (int d = 0; d < NDOM; d++)
			if (pthread_create(&th[d], NULL, connect_domain,
			        (void *) (intptr_t) d) != 0)
				die("pthread_create");
		for (int d = 0; d < NDOM; d++)
			pthread_join(th[d], NULL);
	}
	printf("%d connections made and accepted in %.2f s\n", NALL - 1,
	    (now_ns() - t0) / 1e9);

	for (int i = 1; i < NALL; i++)
		members[i - 1] = &U[i].q;
	cq.self      = &U[0].q;
	cq.name      = "fan-out";
	cq.members   = members;
	cq.n_members = NALL - 1;
	t0           = now_ns();
	mark_logs();
	/* The same for the acceptances on their way to d0. */
	for (long long end = now_ns() + DELIVERY_TIMEOUT_MS * 1000000LL;;) {
		if (fedrpc_local_v1_conversations_create_conversation(D[0].ch,
		        &cq, &cr, NULL, &st) == FEDRPC_OK)
			break;
		if (st.code != FEDRPC_FAILED_PRECONDITION || now_ns() > end)
			die("CreateConversation: %s", st.message);
		fedrpc_status_reset(&st);
		usleep(2000);
	}
	/* Domains it did not reach within the wait (a loaded machine) are
	 * told later: their logs say when. */
	if (!wait_stored(ON_CONV_CREATED))
		die("CreateConversation: not every domain had it after %d ms",
		    DELIVERY_TIMEOUT_MS);
	if (cr->conversation->n_members != NALL)
		die("CreateConversation: %zu members", cr->conversation->n_members);
	xfmt(conv_id, sizeof(conv_id), "%s", cr->conversation->id->id);
	xfmt(conv_dom, sizeof(conv_dom), "%s",
	    cr->conversation->id->domain);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	printf("conversation of %d members created in %.2f s\n", NALL,
	    (now_ns() - t0) / 1e9);
	fedrpc__federation__v1__qualified_id__init(&conv);
	conv.id     = conv_id;
	conv.domain = conv_dom;

	/* Skip everything already in the inboxes (connection and
	 * conversation events). */
	if (polling)
		for (int i = 1; i < NALL; i++)
			poll_user(i / NUSER, &U[i], NULL);

	cpu0 = daemons_cpu_ms();
	for (int r = 0; r < runs; r++) {
		Fedrpc__Federation__V1__UserCiphertexts  uc[NALL - 1];
		Fedrpc__Federation__V1__UserCiphertexts *ucs[NALL - 1];
		Fedrpc__Federation__V1__ClientCiphertext cc[NALL - 1];
		Fedrpc__Federation__V1__ClientCiphertext *ccs[NALL - 1];
		Fedrpc__Local__V1__SendMessageRequest  sq =
		    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
		Fedrpc__Local__V1__SendMessageResponse *sr = NULL;
		Fedrpc__Federation__V1__ClientMismatchStrategy strat =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
		Fedrpc__Federation__V1__ClientMismatchStrategy__ReportAll
		    report_all =
		        FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__REPORT_ALL__INIT;
		uint8_t            ct[64];
		char               marker[32];
		poller             P[NDOM];
		pthread_t          th[NDOM];
		pthread_barrier_t  bar;
		long long          start_ns, start_us, last = 0, first_us = 0,
		                   last_us = 0;
		int                missing = 0;

		memset(ct, 0x5a, sizeof(ct));
		xfmt(marker, sizeof(marker), "fanout run %d", r);
		for (int i = 1; i < NALL; i++) {
			fedrpc__federation__v1__client_ciphertext__init(&cc[i - 1]);
			cc[i - 1].client          = U[i].client;
			cc[i - 1].ciphertext.data = ct;
			cc[i - 1].ciphertext.len  = sizeof(ct);
			ccs[i - 1]                = &cc[i - 1];
			fedrpc__federation__v1__user_ciphertexts__init(&uc[i - 1]);
			uc[i - 1].user      = &U[i].q;
			uc[i - 1].clients   = &ccs[i - 1];
			uc[i - 1].n_clients = 1;
			ucs[i - 1]          = &uc[i - 1];
		}
		sq.self          = &U[0].q;
		sq.sender_client = U[0].client;
		sq.conversation  = &conv;
		sq.recipients    = ucs;
		sq.n_recipients  = NALL - 1;
		sq.data.data     = (uint8_t *) marker;
		sq.data.len      = strlen(marker);
		sq.strategy      = &strat;
		strat.strategy_case =
		    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL;
		strat.report_all = &report_all;

		mark_logs();
		if (polling) {
			pthread_barrier_init(&bar, NULL, NDOM + 1);
			for (int d = 0; d < NDOM; d++) {
				P[d] = (poller){
				    .d = d, .marker = marker, .start = &bar};
				if (pthread_create(&th[d], NULL, poll_domain,
				        &P[d]) != 0)
					die("pthread_create");
			}
			pthread_barrier_wait(&bar);
		}
		start_us = wall_us();
		start_ns = now_ns();
		if (fedrpc_local_v1_conversations_send_message(D[0].ch, &sq,
		        &sr, NULL, &st) != FEDRPC_OK)
			die("SendMessage: %s", st.message);
		send_ns[r] = now_ns() - start_ns;
		if (sr->result_case !=
		        FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT ||
		    sr->sent->n_missing + sr->sent->n_redundant +
		            sr->sent->n_deleted + sr->sent->n_failed_to_send >
		        0)
			die("SendMessage: not sent cleanly (result %d)",
			    (int) sr->result_case);
		protobuf_c_message_free_unpacked(&sr->base, NULL);
		if (!wait_stored(ON_MESSAGE_SENT))
			die("run %d: not every receiver logged the message "
			    "within %d ms", r + 1, DELIVERY_TIMEOUT_MS);
		/* d0's own recipients were stored in the send's transaction,
		 * before any remote delivery began. */
		for (int d = 1; d < NDOM; d++) {
			if (first_us == 0 || D[d].stored_us < first_us)
				first_us = D[d].stored_us;
			if (D[d].stored_us > last_us)
				last_us = D[d].stored_us;
		}
		stored_ns[r] = (last_us - start_us) * 1000;
		if (polling) {
			for (int d = 0; d < NDOM; d++) {
				pthread_join(th[d], NULL);
				missing += P[d].missing;
				if (P[d].last_ns > last)
					last = P[d].last_ns;
			}
			pthread_barrier_destroy(&bar);
			if (missing > 0)
				die("run %d: %d recipients had no message after "
				    "%d ms",
				    r + 1, missing, DELIVERY_TIMEOUT_MS);
			last_ns[r] = last - start_ns;
		}
		printf("run %d: SendMessage %.1f ms, stored by the first "
		       "receiver %.1f ms, by the last %.1f ms",
		    r + 1, send_ns[r] / 1e6, (first_us - start_us) / 1e3,
		    stored_ns[r] / 1e6);
		if (polling)
			printf(", found by the last poller %.1f ms",
			    last_ns[r] / 1e6);
		printf("\n");
		if (verbose)
			print_calls(start_us);
		fflush(stdout);
	}
	cpu0 = daemons_cpu_ms() - cpu0;
	qsort(send_ns, (size_t) runs, sizeof(long long), cmp_ll);
	qsort(stored_ns, (size_t) runs, sizeof(long long), cmp_ll);
	printf("%d runs, 999 recipients on 10 domains:\n"
	       "  SendMessage call:       min %.1f ms, median %.1f ms\n"
	       "  stored by the last of 9 receivers (signalled): "
	       "min %.1f ms, median %.1f ms\n",
	    runs, send_ns[0] / 1e6, send_ns[runs / 2] / 1e6,
	    stored_ns[0] / 1e6, stored_ns[runs / 2] / 1e6);
	if (polling) {
		qsort(last_ns, (size_t) runs, sizeof(long long), cmp_ll);
		printf("  found by the last poller: min %.1f ms, median %.1f "
		       "ms\n",
		    last_ns[0] / 1e6, last_ns[runs / 2] / 1e6);
	}
	printf("  CPU of the 10 daemons per send: %.0f ms (user + system)%s\n",
	    cpu0 / runs, polling ? ", with the polling" : "");
	cleanup();
	return 0;
}
