/*
 * Delivery benchmark (docs/performance.md, "Delivery"):
 *
 * 1. What the outbox write costs a send. In the store (this process, the
 *    SQLite store on the bench folder's disk): transactions that append one
 *    inbox event, with and without one outbox item besides. End to end (two
 *    federator daemons, a.example and b.example, mutual TLS on loopback):
 *    SendMessage to a conversation of a.example's own users only (no
 *    outbox item), to one with a member on b.example answered at once
 *    (delivery.wait_ms = 0: the item is written, delivered afterwards), and
 *    to the same answered after b.example applied it (the default wait).
 * 2. Delivery after an outage: b.example stopped, N messages (10,000 by
 *    default) sent and queued at a.example; b.example started again and
 *    heard from; the time until b.example's recipient has the last one.
 *
 * Run by hand: delivery_bench [-n QUEUED] [-s SENDS] [PATH-TO-FEDERATOR].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
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

#include <fedrpc/channel.h>
#include <fedrpc/log.h>
#include <fedrpc/pki.h>
#include <fedrpc/server.h>
#include <fedrpc/status.h>

#include "backends/reference/store.h"
#include "backends/sqlite/sqlite_store.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

typedef Fedrpc__Federation__V1__QualifiedId qid_msg;

typedef struct user {
	char     id[40], domain[32];
	uint64_t client;
	int      d;
	qid_msg  q;
} user;

typedef struct dom {
	char            name[32];
	int             port;
	pid_t           pid;
	char            sock[PATH_MAX];
	char            extra[256]; /* configuration appended */
	fedrpc_channel *ch;
} dom;

static dom  D[2];
static char dir[1024], federator[PATH_MAX];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fmt(char *buf, size_t size, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that refuses to truncate (every name here is short). */
static void
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int     n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= size) {
		fprintf(stderr, "delivery_bench: name too long\n");
		exit(1);
	}
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void) sb;
	(void) flag;
	(void) f;
	return remove(p);
}

static void
stop(int i)
{
	int status;

	if (D[i].ch != NULL)
		fedrpc_channel_close(D[i].ch);
	D[i].ch = NULL;
	if (D[i].pid <= 0)
		return;
	kill(D[i].pid, SIGTERM);
	for (int t = 0; t < 500; t++) {
		if (waitpid(D[i].pid, &status, WNOHANG) == D[i].pid) {
			D[i].pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(D[i].pid, SIGKILL);
	waitpid(D[i].pid, &status, 0);
	D[i].pid = 0;
}

static void
cleanup(void)
{
	for (int i = 0; i < 2; i++)
		stop(i);
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "delivery_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	for (int i = 0; i < 2; i++)
		D[i].ch = NULL; /* a call may be under way */
	cleanup();
	exit(1);
}

static void
on_signal(int sig)
{
	(void) sig;
	for (int i = 0; i < 2; i++)
		if (D[i].pid > 0)
			kill(D[i].pid, SIGKILL);
	_exit(1);
}

static const char *
path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int  k;
	char       *b = buf[k++ % 4];

	fmt(b, PATH_MAX, "%s/%s", dir, name);
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

	fmt(crt, sizeof(crt), "%s", path("ca.crt"));
	fmt(key, sizeof(key), "%s", path("ca.key"));
	if (fedrpc_pki_ca_create(crt, key, "delivery bench CA",
	        FEDRPC_PKI_KEY_P256, 2, &st) != FEDRPC_OK)
		die("CA: %s", st.message);
	for (int i = 0; i < 2; i++) {
		char                  c[PATH_MAX], k[PATH_MAX], n[64];
		const char           *dns[] = {D[i].name, "localhost"};
		fedrpc_pki_issue_opts o     = {0};

		fmt(n, sizeof(n), "%s.crt", D[i].name);
		fmt(c, sizeof(c), "%s", path(n));
		fmt(n, sizeof(n), "%s.key", D[i].name);
		fmt(k, sizeof(k), "%s", path(n));
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
start(int i)
{
	char      conf[PATH_MAX], pidf[PATH_MAX], name[64];
	long long end = now_ns() + 20000000000LL;
	FILE     *f;
	int       o = 1 - i, status;
	fedrpc_channel_opts co = {0};
	fedrpc_status       st = {0};
	char                url[PATH_MAX + 8];

	fmt(name, sizeof(name), "%s.conf", D[i].name);
	fmt(conf, sizeof(conf), "%s", path(name));
	fmt(name, sizeof(name), "%s.pid", D[i].name);
	fmt(pidf, sizeof(pidf), "%s", path(name));
	if ((f = fopen(conf, "w")) == NULL)
		die("%s: %s", conf, strerror(errno));
	fprintf(f,
	    "domain = \"%s\";\n"
	    "federation = { enabled = true; strategy = \"allowAll\";\n"
	    "  default_search_policy = \"exact_handle_search\"; };\n"
	    "listen = \"tls+tcp://127.0.0.1:%d\";\n"
	    "local_api = \"ipc://%s\";\n"
	    "tls = { ca = \"ca.crt\"; cert = \"%s.crt\"; key = \"%s.key\"; };\n"
	    "discovery = { static = ( { domain = \"%s\"; host = \"127.0.0.1\"; "
	    "port = %d; } ); };\n"
	    "client = { connect_timeout_ms = 2000; backoff_initial_ms = 100; "
	    "backoff_max_ms = 1000; };\n"
	    "limits = { rate_per_peer = 100000.0; rate_burst = 100000; };\n"
	    "storage = { adapter = \"sqlite\"; path = \"%s.db\"; };\n"
	    "log = { level = \"warn\"; file = \"%s.log\"; };\n%s\n",
	    D[i].name, D[i].port, D[i].sock, D[i].name, D[i].name, D[o].name,
	    D[o].port, D[i].name, D[i].name, D[i].extra);
	fclose(f);
	unlink(pidf);
	if ((D[i].pid = fork()) == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fmt(name, sizeof(name), "%s.out", D[i].name);
		if ((fd = open(path(name), O_WRONLY | O_CREAT | O_APPEND,
		         0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(federator, federator, "-c", conf, "--pid-file", pidf,
		    "--shutdown-grace", "1000", (char *) NULL);
		_exit(127);
	}
	while (access(pidf, F_OK) != 0) {
		if (waitpid(D[i].pid, &status, WNOHANG) == D[i].pid) {
			D[i].pid = 0;
			die("federator %s exited (status %d)", D[i].name, status);
		}
		if (now_ns() > end)
			die("federator %s did not start", D[i].name);
		usleep(5000);
	}
	fmt(url, sizeof(url), "unix://%s", D[i].sock);
	co.url                = url;
	co.target_domain      = "";
	co.default_timeout_ms = 60000;
	co.reconnect_min_ms   = 20;
	co.reconnect_max_ms   = 500;
	if (fedrpc_channel_open(&D[i].ch, &co, &st) != FEDRPC_OK)
		die("channel to %s: %s", D[i].name, st.message);
}

static user
reg(int d, const char *handle)
{
	Fedrpc__Local__V1__RegisterUserRequest  rq =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
	Fedrpc__Local__V1__RegisterUserResponse *rr;
	Fedrpc__Local__V1__AddClientRequest      cq =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientResponse    *cr;
	Fedrpc__Federation__V1__Prekey pk = FEDRPC__FEDERATION__V1__PREKEY__INIT,
	                               last = FEDRPC__FEDERATION__V1__PREKEY__INIT,
	                               *pp  = &pk;
	uint8_t       key[32];
	fedrpc_status st = {0};
	user          u  = {.d = d};

	rq.handle = (char *) handle;
	rq.name   = (char *) handle;
	if (fedrpc_local_v1_users_register_user(D[d].ch, &rq, &rr, NULL, &st) !=
	    FEDRPC_OK)
		die("RegisterUser: %s", st.message);
	fmt(u.id, sizeof(u.id), "%s", rr->user->id);
	fmt(u.domain, sizeof(u.domain), "%s", D[d].name);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	fedrpc__federation__v1__qualified_id__init(&u.q);
	u.q.id     = u.id;
	u.q.domain = u.domain;
	memset(key, 0xab, sizeof(key));
	pk.id          = 1;
	pk.key.data    = key;
	pk.key.len     = sizeof(key);
	last.id        = 65535;
	last.key.data  = key;
	last.key.len   = sizeof(key);
	cq.self        = &u.q;
	cq.prekeys     = &pp;
	cq.n_prekeys   = 1;
	cq.last_prekey = &last;
	if (fedrpc_local_v1_users_add_client(D[d].ch, &cq, &cr, NULL, &st) !=
	    FEDRPC_OK)
		die("AddClient: %s", st.message);
	u.client = cr->client;
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	return u;
}

static void
connect_users(user *a, user *b)
{
	Fedrpc__Local__V1__ConnectRequest  cq = FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
	Fedrpc__Local__V1__ConnectResponse *cr;
	Fedrpc__Local__V1__AcceptRequest   aq = FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
	Fedrpc__Local__V1__AcceptResponse  *ar;
	fedrpc_status st = {0};

	a->q.id = a->id, a->q.domain = a->domain;
	b->q.id = b->id, b->q.domain = b->domain;
	cq.self = &a->q;
	cq.to   = &b->q;
	if (fedrpc_local_v1_connections_connect(D[a->d].ch, &cq, &cr, NULL,
	        &st) != FEDRPC_OK)
		die("Connect: %s", st.message);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	aq.self = &b->q;
	aq.to   = &a->q;
	if (fedrpc_local_v1_connections_accept(D[b->d].ch, &aq, &ar, NULL,
	        &st) != FEDRPC_OK)
		die("Accept: %s", st.message);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
}

static void
create(user *owner, user *member, qid_msg *conv, char id[40])
{
	Fedrpc__Local__V1__CreateConversationRequest   cq =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *cr;
	qid_msg      *m  = &member->q;
	fedrpc_status st = {0};

	member->q.id = member->id, member->q.domain = member->domain;
	owner->q.id = owner->id, owner->q.domain = owner->domain;
	cq.self      = &owner->q;
	cq.name      = "bench";
	cq.members   = &m;
	cq.n_members = 1;
	if (fedrpc_local_v1_conversations_create_conversation(D[owner->d].ch,
	        &cq, &cr, NULL, &st) != FEDRPC_OK)
		die("CreateConversation: %s", st.message);
	fmt(id, 40, "%s", cr->conversation->id->id);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	fedrpc__federation__v1__qualified_id__init(conv);
	conv->id     = id;
	conv->domain = owner->domain;
}

/* One SendMessage of `text` from self to `to`; ns it took. */
static long long
send_one(user *self, qid_msg *conv, user *to, const char *text)
{
	Fedrpc__Local__V1__SendMessageRequest   r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp;
	Fedrpc__Federation__V1__ClientMismatchStrategy s =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__IGNORE_ALL__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT, *ucp = &uc;
	Fedrpc__Federation__V1__ClientCiphertext cc =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT, *ccp = &cc;
	uint8_t       ct[64];
	fedrpc_status st = {0};
	long long     t0;

	memset(ct, 0x5a, sizeof(ct));
	s.strategy_case = FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL;
	s.ignore_all       = &ia;
	cc.client          = to->client;
	cc.ciphertext.data = ct;
	cc.ciphertext.len  = sizeof(ct);
	to->q.id = to->id, to->q.domain = to->domain;
	uc.user            = &to->q;
	uc.clients         = &ccp;
	uc.n_clients       = 1;
	r.self             = &self->q;
	r.sender_client    = self->client;
	r.conversation     = conv;
	r.recipients       = &ucp;
	r.n_recipients     = 1;
	r.strategy         = &s;
	r.data.data        = (uint8_t *) text;
	r.data.len         = strlen(text);
	r.message_id       = r.data;
	t0                 = now_ns();
	if (fedrpc_local_v1_conversations_send_message(D[self->d].ch, &r, &resp,
	        NULL, &st) != FEDRPC_OK)
		die("SendMessage: %s", st.message);
	t0 = now_ns() - t0;
	if (resp->result_case !=
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT)
		die("SendMessage: not sent");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return t0;
}

/* Messages in u's inbox after *cursor (which it moves). */
static size_t
new_messages(user *u, uint64_t *cursor)
{
	size_t n    = 0;
	bool   more = true;

	while (more) {
		Fedrpc__Local__V1__FetchInboxRequest  rq =
		    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
		Fedrpc__Local__V1__FetchInboxResponse *rr;
		fedrpc_status st = {0};

		rq.self   = &u->q;
		rq.client = u->client;
		rq.since  = *cursor;
		rq.limit  = 1000;
		if (fedrpc_local_v1_inbox_fetch_inbox(D[u->d].ch, &rq, &rr, NULL,
		        &st) != FEDRPC_OK)
			die("FetchInbox: %s", st.message);
		for (size_t i = 0; i < rr->n_events; i++) {
			*cursor = rr->events[i]->id;
			n += rr->events[i]->payload_case ==
			    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED;
		}
		more = rr->has_more && rr->n_events > 0;
		protobuf_c_message_free_unpacked(&rr->base, NULL);
	}
	return n;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, long long *ns, int n)
{
	double sum = 0;

	qsort(ns, (size_t) n, sizeof(*ns), cmp_ll);
	for (int i = 0; i < n; i++)
		sum += (double) ns[i];
	printf("  %-52s p50 %7.2f ms  p90 %7.2f ms  mean %7.2f ms\n", what,
	    ns[n / 2] / 1e6, ns[n * 9 / 10] / 1e6, sum / n / 1e6);
	fflush(stdout);
}

/* ---- 1a: the store alone ---- */

typedef struct store_arg {
	fedrpc_store *store;
	bool          outbox;
	int           k;
} store_arg;

static fedrpc_code
tx_one(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	store_arg          *a = arg;
	uint8_t             ev[200], item[300];
	ProtobufCBinaryData e = {sizeof(ev), ev}, it = {sizeof(item), item};
	uint64_t            seq;
	bool                appended;

	memset(ev, a->k, sizeof(ev));
	memset(item, a->k, sizeof(item));
	if (tx->ops->inbox_append_client(tx, "00000000-0000-4000-8000-000000000001",
	        1, &e, &appended, st) != FEDRPC_OK)
		return st->code;
	if (!a->outbox)
		return FEDRPC_OK;
	return tx->ops->outbox_append(tx, "b.example", &it, 1, &seq, st);
}

static void
bench_store(int n)
{
	fedrpc_store *store;
	fedrpc_status st = {0};
	fedrpc_ctx   *ctx = fedrpc_ctx_new();
	long long    *ns  = calloc((size_t) n * 2, sizeof(*ns));

	if (ctx == NULL || ns == NULL ||
	    fedrpc_store_sqlite_open(path("store.db"), &store, &st) != FEDRPC_OK)
		die("store: %s", st.message);
	{
		store_arg a = {store, false, 0};
		fedrpc_store_tx tx = {.al = fedrpc_ctx_allocator(ctx)};

		/* The inbox's client. */
		if (store->ops->begin(store, FEDRPC_STORE_READ_WRITE, &tx, &st) !=
		        FEDRPC_OK ||
		    tx.ops->client_insert(&tx,
		        "00000000-0000-4000-8000-000000000001", 1, 0, 0, &st) !=
		        FEDRPC_OK ||
		    tx.ops->commit(&tx, &st) != FEDRPC_OK)
			die("store: %s", st.message);
		(void) a;
	}
	printf("store (SQLite, %s, synchronous=FULL): one write transaction "
	       "each\n",
	    dir);
	/* Interleaved, so that both rows see the same disk and load: even
	 * transactions without the item, odd ones with it. A first pass
	 * warms the file up. */
	for (int round = 0; round < 2; round++) {
		for (int k = 0; k < 2 * n; k++) {
			store_arg a  = {store, k % 2 == 1, k};
			long long t0 = now_ns();

			fedrpc_ctx_reset(ctx);
			if (fedrpc_store_run(store, fedrpc_ctx_allocator(ctx),
			        FEDRPC_STORE_READ_WRITE, tx_one, &a, &st) !=
			    FEDRPC_OK)
				die("store: %s", st.message);
			ns[k / 2 + (k % 2) * n] = now_ns() - t0;
		}
		if (round == 1) {
			report("inbox event only", ns, n);
			report("inbox event + outbox item", ns + n, n);
		}
	}
	fedrpc_store_close(store);
	fedrpc_ctx_free(ctx);
	free(ns);
}

int
main(int argc, char **argv)
{
	int        queued = 10000, sends = 300;
	user       alice, amy, bob;
	qid_msg    local_conv, fed_conv;
	char       local_id[40], fed_id[40], text[32];
	long long *ns, t0, t_up;
	uint64_t   cursor = 0;
	size_t     got    = 0;
	char      *tmp;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			queued = atoi(argv[++i]);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sends = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			fmt(federator, sizeof(federator), "%s", argv[i]);
		else {
			fprintf(stderr, "usage: %s [-n QUEUED] [-s SENDS] "
			                "[PATH-TO-FEDERATOR]\n",
			    argv[0]);
			return 2;
		}
	}
	if (queued < 1 || sends < 10)
		die("-n at least 1, -s at least 10");
	if (federator[0] == '\0') {
		char    self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("cannot find myself; name the federator");
		self[n] = '\0';
		fmt(federator, sizeof(federator), "%s/../federator",
		    dirname(self));
	}
	if (access(federator, X_OK) != 0)
		die("no federator at %s", federator);
	fedrpc_log_set_level(FEDRPC_LOG_WARN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	tmp = getenv("TMPDIR");
	fmt(dir, sizeof(dir), "%s/delivery-bench-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	if ((ns = calloc((size_t) sends * 2, sizeof(*ns))) == NULL)
		die("out of memory");

	bench_store(sends * 3);

	for (int i = 0; i < 2; i++) {
		fmt(D[i].name, sizeof(D[i].name), "%c.example", 'a' + i);
		D[i].port = free_port();
		fmt(D[i].sock, sizeof(D[i].sock), "%s/%c.sock", dir, 'a' + i);
	}
	make_pki();
	start(0);
	start(1);
	alice = reg(0, "alice");
	amy   = reg(0, "amy");
	bob   = reg(1, "bob");
	connect_users(&alice, &amy);
	connect_users(&alice, &bob);
	create(&alice, &amy, &local_conv, local_id);
	create(&alice, &bob, &fed_conv, fed_id);

	printf("SendMessage end to end (a.example, federator %s):\n",
	    federator);
	/* Interleaved too: a local send, then a federated one. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < sends; i++) {
			fmt(text, sizeof(text), "l%d-%d", round, i);
			ns[i] = send_one(&alice, &local_conv, &amy, text);
			fmt(text, sizeof(text), "w%d-%d", round, i);
			ns[sends + i] = send_one(&alice, &fed_conv, &bob, text);
		}
		if (round == 1) {
			report("local members only (no outbox item)", ns, sends);
			report("a member on b.example, answered once applied",
			    ns + sends, sends);
		}
	}
	got = new_messages(&bob, &cursor);

	/* Answered at once: the item is written, delivered afterwards. */
	stop(0);
	fmt(D[0].extra, sizeof(D[0].extra), "delivery = { wait_ms = 0; };");
	start(0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < sends; i++) {
			fmt(text, sizeof(text), "q%d-%d", round, i);
			ns[i] = send_one(&alice, &fed_conv, &bob, text);
		}
		if (round == 1)
			report("a member on b.example, answered at once", ns,
			    sends);
	}
	t0 = now_ns() + 60000000000LL;
	while (got < (size_t) (4 * sends)) {
		got += new_messages(&bob, &cursor);
		if (now_ns() > t0)
			die("b.example has %zu of %d", got, 4 * sends);
	}

	/* ---- 2: an outage ---- */
	stop(1);
	t0 = now_ns();
	for (int i = 0; i < queued; i++) {
		fmt(text, sizeof(text), "o-%d", i);
		send_one(&alice, &fed_conv, &bob, text);
	}
	printf("outage: %d messages sent while b.example was down in %.2f s "
	       "(%.2f ms each)\n",
	    queued, (now_ns() - t0) / 1e9, (now_ns() - t0) / 1e6 / queued);
	start(1);
	t_up = now_ns();
	/* bob does something that reaches a.example: it hears from b.example
	 * and delivers at once (no waiting for its back-off). */
	{
		Fedrpc__Local__V1__FindUserRequest  fr =
		    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
		Fedrpc__Local__V1__FindUserResponse *fresp;
		fedrpc_status st = {0};

		fr.query = "alice@a.example";
		if (fedrpc_local_v1_users_find_user(D[1].ch, &fr, &fresp, NULL,
		        &st) == FEDRPC_OK)
			protobuf_c_message_free_unpacked(&fresp->base, NULL);
	}
	got = 0;
	t0  = now_ns() + 600000000000LL;
	while (got < (size_t) queued) {
		got += new_messages(&bob, &cursor);
		if (now_ns() > t0)
			die("b.example has %zu of %d after 10 minutes", got, queued);
		usleep(20000);
	}
	printf("outage: the last of %d queued messages applied %.2f s after "
	       "b.example was back (%.0f messages/s)\n",
	    queued, (now_ns() - t_up) / 1e9,
	    queued / ((now_ns() - t_up) / 1e9));
	free(ns);
	cleanup();
	return 0;
}
