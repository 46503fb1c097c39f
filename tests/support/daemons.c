/*
 * The daemons of daemons.h: configuration files, processes, and the local
 * API calls tests make, retried while the daemon they go to is down.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemons.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "testcerts.h"
#include "testutil.h"

#define FEDERATOR FEDRPC_BINARY_DIR "/federator"

typedef Fedrpc__Federation__V1__QualifiedId qid;

/* A scratch folder in memory-backed /dev/shm when there is one: every
 * commit is synced, and the disks are shared with parallel builds. */
static char *
scratch(void)
{
	char *dir = NULL;

	if (access("/dev/shm", W_OK) == 0 &&
	    (dir = strdup("/dev/shm/fedrpc-daemons-XXXXXX")) != NULL &&
	    mkdtemp(dir) == NULL) {
		free(dir);
		dir = NULL;
	}
	return dir != NULL ? dir : tu_tmpdir("daemons");
}

/* f's files in t->dir, named `name`, and a free port. */
static void
name_files(td *t, td_fed *f, const char *name)
{
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->port = tu_free_port();
	snprintf(f->url, sizeof(f->url), "tls+tcp://127.0.0.1:%d", f->port);
	snprintf(f->conf, sizeof(f->conf), "%s/%s.conf", t->dir, name);
	snprintf(f->log, sizeof(f->log), "%s/%s.log", t->dir, name);
	snprintf(f->pidf, sizeof(f->pidf), "%s/%s.pid", t->dir, name);
	snprintf(f->sock, sizeof(f->sock), "%s/%s.sock", t->dir, name);
	snprintf(f->db, sizeof(f->db), "%s/%s.db", t->dir, name);
}

td_fed *
td_add(td *t, const char *name, const char *domain)
{
	td_fed *f;

	cr_assert_lt(t->n, TD_MAX, "more than %d daemons", TD_MAX);
	f = &t->f[t->n++];
	memset(f, 0, sizeof(*f));
	name_files(t, f, name);
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	f->own_conf   = true;
	f->no_channel = true;
	return f;
}

td *
td_new(int n, const char *extra)
{
	return td_new_domains(n, NULL, NULL, extra);
}

td *
td_new_domains(int n, const char *const *domains, const char *const *hosts,
    const char *extra)
{
	td *t = calloc(1, sizeof(*t));

	cr_assert_not_null(t);
	cr_assert(n >= 0 && n <= TD_MAX);
	cr_assert_not_null(t->dir = scratch());
	t->n = n;
	testcerts_ca(t->dir, "ca");
	for (int i = 0; i < n; i++) {
		td_fed *f = &t->f[i];
		char    c = (char) ('a' + i), host[40];

		snprintf(host, sizeof(host), "%c", c);
		name_files(t, f, host);
		if (domains != NULL)
			snprintf(f->domain, sizeof(f->domain), "%s", domains[i]);
		else
			snprintf(f->domain, sizeof(f->domain), "%c.example", c);
		snprintf(f->extra, sizeof(f->extra), "%s", extra ? extra : "");
		/* Named as static entries (localhost) and SRV targets
		 * (fed.X) reach it. */
		snprintf(host, sizeof(host), "fed.%s", f->domain);
		testcerts_leaf(t->dir, "ca", f->name,
		    (const char *const[]){f->domain, host, "localhost",
		        hosts != NULL ? hosts[i] : NULL, NULL});
	}
	return t;
}

/* Whether daemon k is the first of its domain other than daemon i's. */
static bool
other_domain(const td *t, int i, int k)
{
	if (strcmp(t->f[k].domain, t->f[i].domain) == 0)
		return false;
	for (int j = 0; j < k; j++)
		if (strcmp(t->f[j].domain, t->f[k].domain) == 0)
			return false;
	return true;
}

/* Where the others reach daemon k. */
static int
dial_port(const td_fed *f)
{
	return f->dial_port != 0 ? f->dial_port : f->port;
}

/* The allow list and discovery groups of daemon i's configuration. */
static void
write_peers(td *t, int i, char *allow, size_t na, char *disc, size_t nd)
{
	td_fed *f = &t->f[i];
	char    statics[1024] = "", pol[64] = "";
	size_t  ka = 0, ks = 0;

	if (f->policy[0] != '\0')
		snprintf(pol, sizeof(pol), " search_policy = \"%s\";",
		    f->policy);
	allow[0] = '\0';
	for (int k = 0; k < t->n; k++) {
		if (!other_domain(t, i, k))
			continue;
		ka += (size_t) snprintf(allow + ka, na - ka,
		    "%s{ domain = \"%s\";%s }", ka ? ", " : "", t->f[k].domain,
		    pol);
		ks += (size_t) snprintf(statics + ks, sizeof(statics) - ks,
		    "%s{ domain = \"%s\"; host = \"localhost\"; port = %d; }",
		    ks ? ", " : "", t->f[k].domain, dial_port(&t->f[k]));
	}
	cr_assert_lt(ka, na);
	cr_assert_lt(ks, sizeof(statics));
	if (f->discovery[0] != '\0')
		snprintf(disc, nd, "%s", f->discovery);
	else if (t->dns != NULL)
		snprintf(disc, nd,
		    "discovery = { timeout_ms = 2000; nameserver = \"%s\"; };",
		    dnsmasq_nameserver(t->dns));
	else
		snprintf(disc, nd,
		    "discovery = { timeout_ms = 2000; static = ( %s ); };",
		    statics);
}

static void
write_conf(td *t, int i)
{
	td_fed *f = &t->f[i];
	char    allow[1024], disc[1200], storage[1100], text[6144];
	int     n;

	write_peers(t, i, allow, sizeof(allow), disc, sizeof(disc));
	if (f->storage[0] != '\0')
		snprintf(storage, sizeof(storage), "%s", f->storage);
	else
		snprintf(storage, sizeof(storage),
		    "storage = { adapter = \"sqlite\"; path = \"%s\"; };",
		    f->db);
	if (f->standalone)
		n = snprintf(text, sizeof(text),
		    "domain = \"%s\";\n"
		    "federation = { enabled = false; };\n"
		    "local_api = \"ipc://%s\";\n"
		    "%s\n"
		    "log = { %s };\n"
		    "%s\n",
		    f->domain, f->sock, storage,
		    f->logcfg[0] != '\0' ? f->logcfg : "level = \"info\";",
		    f->extra);
	else
		n = snprintf(text, sizeof(text),
		    "domain = \"%s\";\n"
		    "federation = { enabled = true; strategy = \"allowList\";\n"
		    "  default_search_policy = \"%s\";\n"
		    "  allow = ( %s ); };\n"
		    "listen = \"tls+tcp://127.0.0.1:%d\";\n"
		    "local_api = \"ipc://%s\";\n"
		    "tls = { ca = \"%s/ca.crt\"; cert = \"%s/%s.crt\"; key = "
		    "\"%s/%s.key\"; };\n"
		    "%s\n"
		    "client = { %s };\n"
		    "limits = { workers = 4; };\n"
		    "%s\n"
		    "log = { %s };\n"
		    "%s\n",
		    f->domain,
		    f->search_policy[0] ? f->search_policy
		                        : "exact_handle_search",
		    allow, f->port, f->sock, t->dir, t->dir, f->name, t->dir,
		    f->name, disc,
		    f->client[0] != '\0'
		        ? f->client
		        : "connect_timeout_ms = 1000; "
		          "backoff_initial_ms = 50; backoff_max_ms = 500;",
		    storage,
		    f->logcfg[0] != '\0' ? f->logcfg : "level = \"info\";",
		    f->extra);
	cr_assert_lt((size_t) n, sizeof(text));
	cr_assert(tu_write_file(f->conf, text));
}

void
td_use_dns(td *t, const char *const *more)
{
	char        recs[TD_MAX][2][160];
	const char *argv[2 * TD_MAX + 33];
	int         k = 0;

	cr_assert_null(t->dns, "DNS is in use already");
	for (int i = 0; i < t->n; i++) {
		snprintf(recs[i][0], sizeof(recs[i][0]),
		    "--srv-host=_fedrpc._tcp.%s,fed.%s,%d,10,100",
		    t->f[i].domain, t->f[i].domain, dial_port(&t->f[i]));
		snprintf(recs[i][1], sizeof(recs[i][1]),
		    "--host-record=fed.%s,127.0.0.1", t->f[i].domain);
		argv[k++] = recs[i][0];
		argv[k++] = recs[i][1];
	}
	for (size_t m = 0; more != NULL && more[m] != NULL; m++) {
		cr_assert_lt(k, (int) (sizeof(argv) / sizeof(argv[0])) - 1);
		argv[k++] = more[m];
	}
	argv[k] = NULL;
	cr_assert_not_null(t->dns = dnsmasq_start(argv),
	    "dnsmasq did not start");
}

relay *
td_relay(td *t, int i)
{
	cr_assert_null(t->relays[i], "%s has a relay already", t->f[i].domain);
	cr_assert_not_null(t->relays[i] = calloc(1, sizeof(relay)));
	relay_start(t->relays[i], t->f[i].port);
	t->f[i].dial_port = t->relays[i]->port;
	return t->relays[i];
}

char *
td_log(td *t, int i)
{
	char *s = tu_read_file(t->f[i].log);

	return s != NULL ? s : strdup("");
}

bool
td_log_wait(td *t, int i, const char *what)
{
	return TU_WAIT_FOR(
	    __extension__({
		    char *log_ = tu_read_file(t->f[i].log);
		    bool  in_  = log_ != NULL && strstr(log_, what) != NULL;

		    free(log_);
		    in_;
	    }),
	    TD_WAIT_MS);
}

void
td_start(td *t, int i, const char *env)
{
	td_fed  *f   = &t->f[i];
	uint64_t end = tu_now_ms() + TD_WAIT_MS;
	fedrpc_channel_opts co = {0};
	fedrpc_status       st = {0};
	char                url[600], grace[16];
	int                 status;

	cr_assert_eq(f->pid, 0, "%s runs already", f->domain);
	if (!f->own_conf)
		write_conf(t, i);
	unlink(f->pidf);
	snprintf(grace, sizeof(grace), "%d", f->grace_ms ? f->grace_ms : 1000);
	if ((f->pid = fork()) == 0) {
		int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		struct rlimit rl = {f->nofile_soft, f->nofile_hard};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		if ((rl.rlim_cur != 0 || rl.rlim_max != 0) &&
		    setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			perror("setrlimit");
			_exit(126);
		}
		if (env != NULL)
			putenv((char *) env);
		execl(FEDERATOR, FEDERATOR, "-c", f->conf, "--pid-file",
		    f->pidf, "--shutdown-grace", grace, (char *) NULL);
		_exit(127);
	}
	cr_assert_gt(f->pid, 0);
	while (access(f->pidf, F_OK) != 0) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			char *log = tu_read_file(f->log);

			f->pid = 0;
			cr_assert_fail("federator %s exited (status %d):\n%s",
			    f->domain, status, log != NULL ? log : "");
		}
		cr_assert_lt(tu_now_ms(), end, "federator %s did not start",
		    f->domain);
		usleep(10000);
	}
	if (f->no_channel)
		return;
	snprintf(url, sizeof(url), "ipc://%s", f->sock);
	co.url                = url;
	co.origin_domain      = f->domain;
	co.target_domain      = f->domain;
	co.default_timeout_ms = TD_WAIT_MS;
	co.reconnect_min_ms   = 20;
	co.reconnect_max_ms   = 200;
	cr_assert_eq(fedrpc_channel_open(&f->lch, &co, &st), FEDRPC_OK, "%s",
	    st.message);
}

static void
drop_channel(td_fed *f)
{
	if (f->lch != NULL)
		fedrpc_channel_close(f->lch);
	f->lch = NULL;
}

void
td_stop(td *t, int i)
{
	td_fed *f = &t->f[i];
	int     status;

	if (f->pid <= 0) {
		drop_channel(f);
		return;
	}
	status = td_stop_status(t, i, SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "federator %s did not stop cleanly (status %d); its log:\n%s",
	    f->domain, status, tu_read_file(f->log));
}

int
td_stop_status(td *t, int i, int sig)
{
	td_fed *f = &t->f[i];
	int     status;

	drop_channel(f);
	if (f->pid <= 0)
		return -1;
	status = tu_stop(f->pid, sig, TD_WAIT_MS);
	f->pid = 0;
	return status;
}

void
td_kill(td *t, int i)
{
	td_fed *f = &t->f[i];
	int     status;

	drop_channel(f);
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGKILL);
	waitpid(f->pid, &status, 0);
	f->pid = 0;
}

void
td_free(td *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->n; i++) {
		drop_channel(&t->f[i]);
		if (t->f[i].pid > 0)
			tu_stop(t->f[i].pid, SIGTERM, TD_WAIT_MS);
		t->f[i].pid = 0;
		if (t->relays[i] != NULL)
			relay_free(t->relays[i]);
		free(t->relays[i]);
	}
	dnsmasq_stop(t->dns);
	tu_rmrf(t->dir);
	free(t->dir);
	free(t);
}

void
td_finish(td *t)
{
	for (int i = 0; i < t->n; i++)
		td_stop(t, i);
	td_free(t);
}

/* ---- calls ---- */

/* Whether a failed call is worth making again: the daemon is (re)starting
 * or was killed under it. */
static bool
again(fedrpc_code rc)
{
	return rc == FEDRPC_UNAVAILABLE || rc == FEDRPC_CANCELLED ||
	    rc == FEDRPC_DEADLINE_EXCEEDED;
}

/* Runs call (using `ch`, daemon i's local channel) until it does not fail
 * in a way worth another try, within TD_WAIT_MS; rc gets the result. */
#define TD_CALL(t, i, rc, st, call)                                        \
	do {                                                               \
		uint64_t end_ = tu_now_ms() + TD_WAIT_MS;                  \
		for (;;) {                                                 \
			fedrpc_channel *ch = (t)->f[(i)].lch;              \
			fedrpc_status_reset(&(st));                        \
			if (ch == NULL)                                    \
				(rc) = fedrpc_status_set(&(st),            \
				    FEDRPC_UNAVAILABLE, "%s is not running", \
				    (t)->f[(i)].domain);                   \
			else                                               \
				(rc) = (call);                             \
			if (!again(rc) || tu_now_ms() > end_)              \
				break;                                     \
			usleep(20000);                                     \
		}                                                          \
	} while (0)

/* The qualified id of u, pointing into u (which it leaves alone: several
 * threads may send as, or to, the same users at once). */
static qid
qid_of(const td_user *u)
{
	qid q = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	q.id     = (char *) u->id;
	q.domain = (char *) u->domain;
	return q;
}

static void
set_qid(td_user *u)
{
	fedrpc__federation__v1__qualified_id__init(&u->q);
	u->q.id     = u->id;
	u->q.domain = u->domain;
}

td_user
td_register(td *t, int i, const char *handle)
{
	Fedrpc__Local__V1__RegisterUserRequest  r =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
	Fedrpc__Local__V1__RegisterUserResponse *resp;
	Fedrpc__Local__V1__AddClientRequest      c =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientResponse    *cresp;
	Fedrpc__Federation__V1__Prekey pk = FEDRPC__FEDERATION__V1__PREKEY__INIT,
	                               last = FEDRPC__FEDERATION__V1__PREKEY__INIT,
	                               *pp  = &pk;
	td_user       u = {.dom = i};
	fedrpc_status st = {0};
	fedrpc_code   rc;

	r.handle = (char *) handle;
	r.name   = (char *) handle;
	TD_CALL(t, i, rc, st,
	    fedrpc_local_v1_users_register_user(ch, &r, &resp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "register %s: %s", handle, st.message);
	snprintf(u.id, sizeof(u.id), "%s", resp->user->id);
	snprintf(u.domain, sizeof(u.domain), "%s", resp->user->domain);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	set_qid(&u);
	pk.id            = 1;
	pk.key.data      = (uint8_t *) "k1";
	pk.key.len       = 2;
	last.id          = 65535;
	last.key.data    = (uint8_t *) "last";
	last.key.len     = 4;
	c.self           = &u.q;
	c.prekeys        = &pp;
	c.n_prekeys      = 1;
	c.last_prekey    = &last;
	c.client_class   = FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_DESKTOP;
	TD_CALL(t, i, rc, st,
	    fedrpc_local_v1_users_add_client(ch, &c, &cresp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "add client: %s", st.message);
	u.client = cresp->client;
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	set_qid(&u);
	return u;
}

static int
relation(td *t, td_user *self, td_user *to)
{
	Fedrpc__Local__V1__ListConnectionsRequest   r =
	    FEDRPC__LOCAL__V1__LIST_CONNECTIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConnectionsResponse *resp;
	fedrpc_status st  = {0};
	fedrpc_code   rc;
	int           rel = 0;

	set_qid(self);
	r.self = &self->q;
	TD_CALL(t, self->dom, rc, st,
	    fedrpc_local_v1_connections_list_connections(
	        ch, &r, &resp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "%s", st.message);
	for (size_t i = 0; i < resp->n_connections; i++)
		if (strcmp(resp->connections[i]->to->id, to->id) == 0)
			rel = resp->connections[i]->relation;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rel;
}

void
td_connect(td *t, td_user *a, td_user *b)
{
	Fedrpc__Local__V1__ConnectRequest   c = FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
	Fedrpc__Local__V1__ConnectResponse *cr;
	Fedrpc__Local__V1__AcceptRequest    ar = FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
	Fedrpc__Local__V1__AcceptResponse  *arr;
	fedrpc_status st  = {0};
	fedrpc_code   rc;
	uint64_t      end = tu_now_ms() + TD_WAIT_MS;

	set_qid(a);
	set_qid(b);
	c.self = &a->q;
	c.to   = &b->q;
	TD_CALL(t, a->dom, rc, st,
	    fedrpc_local_v1_connections_connect(ch, &c, &cr, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "connect: %s", st.message);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	ar.self = &b->q;
	ar.to   = &a->q;
	/* The request may still be on its way. */
	while (relation(t, b, a) !=
	    FEDRPC__LOCAL__V1__RELATION__RELATION_PENDING) {
		cr_assert_lt(tu_now_ms(), end, "the request never arrived");
		usleep(20000);
	}
	TD_CALL(t, b->dom, rc, st,
	    fedrpc_local_v1_connections_accept(ch, &ar, &arr, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "accept: %s", st.message);
	protobuf_c_message_free_unpacked(&arr->base, NULL);
	while (relation(t, a, b) != FEDRPC__LOCAL__V1__RELATION__RELATION_ACCEPTED) {
		cr_assert_lt(tu_now_ms(), end, "the acceptance never arrived");
		usleep(20000);
	}
}

void
td_create(td *t, td_user *owner, td_user **members, size_t n,
    const char *name, char id[37])
{
	Fedrpc__Local__V1__CreateConversationRequest   r =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *resp;
	qid          *ms[TD_MAX * 4];
	fedrpc_status st = {0};
	fedrpc_code   rc;

	cr_assert_leq(n, sizeof(ms) / sizeof(ms[0]));
	for (size_t i = 0; i < n; i++) {
		set_qid(members[i]);
		ms[i] = &members[i]->q;
	}
	set_qid(owner);
	r.self      = &owner->q;
	r.name      = (char *) name;
	r.members   = ms;
	r.n_members = n;
	TD_CALL(t, owner->dom, rc, st,
	    fedrpc_local_v1_conversations_create_conversation(
	        ch, &r, &resp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "create: %s", st.message);
	snprintf(id, 37, "%s", resp->conversation->id->id);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

void
td_change(td *t, td_user *owner, const char *conv, td_user *who, bool add)
{
	qid           c = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT, *w;
	fedrpc_status st = {0};
	fedrpc_code   rc;

	set_qid(owner);
	set_qid(who);
	c.id     = (char *) conv;
	c.domain = owner->domain;
	w        = &who->q;
	if (add) {
		Fedrpc__Local__V1__AddMembersRequest   r =
		    FEDRPC__LOCAL__V1__ADD_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__AddMembersResponse *resp;

		r.self         = &owner->q;
		r.conversation = &c;
		r.members      = &w;
		r.n_members    = 1;
		TD_CALL(t, owner->dom, rc, st,
		    fedrpc_local_v1_conversations_add_members(
		        ch, &r, &resp, NULL, &st));
		cr_assert_eq(rc, FEDRPC_OK, "add: %s", st.message);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	} else {
		Fedrpc__Local__V1__RemoveMembersRequest   r =
		    FEDRPC__LOCAL__V1__REMOVE_MEMBERS_REQUEST__INIT;
		Fedrpc__Local__V1__RemoveMembersResponse *resp;

		r.self         = &owner->q;
		r.conversation = &c;
		r.members      = &w;
		r.n_members    = 1;
		TD_CALL(t, owner->dom, rc, st,
		    fedrpc_local_v1_conversations_remove_members(
		        ch, &r, &resp, NULL, &st));
		cr_assert_eq(rc, FEDRPC_OK, "remove: %s", st.message);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
}

bool
td_send(td *t, td_user *self, const char *owner_domain, const char *conv,
    td_user **to, size_t n, const char *text, const char *message_id)
{
	fedrpc_status st = {0};
	bool          repeated;
	fedrpc_code   rc = td_try_send(t, self, owner_domain, conv, to, n, text,
	      message_id, &repeated, &st);

	cr_assert_eq(rc, FEDRPC_OK, "send %s: %s", message_id, st.message);
	return repeated;
}

fedrpc_code
td_try_send(td *t, td_user *self, const char *owner_domain, const char *conv,
    td_user **to, size_t n, const char *text, const char *message_id,
    bool *repeated, fedrpc_status *st_out)
{
	Fedrpc__Local__V1__SendMessageRequest   r =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageResponse *resp;
	Fedrpc__Federation__V1__ClientMismatchStrategy strat =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy__IgnoreAll ia =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__IGNORE_ALL__INIT;
	Fedrpc__Federation__V1__UserCiphertexts  uc[TD_MAX * 4], *ucp[TD_MAX * 4];
	Fedrpc__Federation__V1__ClientCiphertext cc[TD_MAX * 4], *ccp[TD_MAX * 4];
	qid           c  = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;
	qid           to_q[TD_MAX * 4], self_q = qid_of(self);
	fedrpc_status st = {0};
	fedrpc_code   rc;

	if (n > sizeof(uc) / sizeof(uc[0]))
		return fedrpc_status_set(st_out, FEDRPC_INVALID_ARGUMENT,
		    "too many recipients");
	for (size_t i = 0; i < n; i++) {
		to_q[i] = qid_of(to[i]);
		fedrpc__federation__v1__user_ciphertexts__init(&uc[i]);
		fedrpc__federation__v1__client_ciphertext__init(&cc[i]);
		cc[i].client          = to[i]->client;
		cc[i].ciphertext.data = (uint8_t *) text;
		cc[i].ciphertext.len  = strlen(text);
		ccp[i]                = &cc[i];
		uc[i].user            = &to_q[i];
		uc[i].clients         = &ccp[i];
		uc[i].n_clients       = 1;
		ucp[i]                = &uc[i];
	}
	c.id                = (char *) conv;
	c.domain            = (char *) owner_domain;
	strat.strategy_case = FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ALL;
	strat.ignore_all    = &ia;
	r.self              = &self_q;
	r.sender_client     = self->client;
	r.conversation      = &c;
	r.recipients        = ucp;
	r.n_recipients      = n;
	r.strategy          = &strat;
	r.data.data         = (uint8_t *) text;
	r.data.len          = strlen(text);
	r.message_id.data   = (uint8_t *) message_id;
	r.message_id.len    = strlen(message_id);
	TD_CALL(t, self->dom, rc, st,
	    fedrpc_local_v1_conversations_send_message(
	        ch, &r, &resp, NULL, &st));
	*st_out = st;
	if (rc != FEDRPC_OK)
		return rc;
	*repeated = resp->repeated;
	if (resp->result_case !=
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_RESPONSE__RESULT_SENT)
		rc = fedrpc_status_set(st_out, FEDRPC_FAILED_PRECONDITION,
		    "%s not sent", message_id);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

char *
td_messages(td *t, td_user *u, size_t *count)
{
	size_t   cap = 4096, len = 0, n = 0;
	char    *out = malloc(cap);
	uint64_t since = 0;
	bool     more  = true;

	cr_assert_not_null(out);
	out[0] = '\0';
	set_qid(u);
	while (more) {
		Fedrpc__Local__V1__FetchInboxRequest   r =
		    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
		Fedrpc__Local__V1__FetchInboxResponse *resp;
		fedrpc_status st = {0};
		fedrpc_code   rc;

		r.self   = &u->q;
		r.client = u->client;
		r.since  = since;
		r.limit  = 1000;
		TD_CALL(t, u->dom, rc, st,
		    fedrpc_local_v1_inbox_fetch_inbox(ch, &r, &resp, NULL, &st));
		cr_assert_eq(rc, FEDRPC_OK, "inbox: %s", st.message);
		for (size_t i = 0; i < resp->n_events; i++) {
			Fedrpc__Local__V1__Event *ev = resp->events[i];
			size_t                    k;

			since = ev->id;
			if (ev->payload_case !=
			    FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED)
				continue;
			k = ev->message_received->data.len;
			while (len + k + 2 > cap)
				cr_assert_not_null(out = realloc(out, cap *= 2));
			memcpy(out + len, ev->message_received->data.data, k);
			len += k;
			out[len++] = '\n';
			out[len]   = '\0';
			n++;
		}
		more = resp->has_more;
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	if (count != NULL)
		*count = n;
	return out;
}

char *
td_members(td *t, td_user *u, const char *owner_domain, const char *conv)
{
	Fedrpc__Local__V1__ListConversationsRequest   r =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConversationsResponse *resp;
	fedrpc_status st = {0};
	fedrpc_code   rc;
	char          buf[2048] = "-";
	size_t        k;

	set_qid(u);
	r.self = &u->q;
	TD_CALL(t, u->dom, rc, st,
	    fedrpc_local_v1_conversations_list_conversations(
	        ch, &r, &resp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "%s", st.message);
	for (size_t i = 0; i < resp->n_conversations; i++) {
		Fedrpc__Federation__V1__Conversation *c = resp->conversations[i];

		if (strcmp(c->id->id, conv) != 0 ||
		    strcmp(c->id->domain, owner_domain) != 0)
			continue;
		k = 0;
		for (size_t j = 0; j < c->n_members; j++)
			k += (size_t) snprintf(buf + k, sizeof(buf) - k, "%s%s@%s",
			    j ? "," : "", c->members[j]->id->id,
			    c->members[j]->id->domain);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return strdup(buf);
}

uint64_t
td_pending(td *t, int i, uint64_t *aside)
{
	Fedrpc__Local__V1__ListQueuesRequest   r =
	    FEDRPC__LOCAL__V1__LIST_QUEUES_REQUEST__INIT;
	Fedrpc__Local__V1__ListQueuesResponse *resp;
	fedrpc_status st = {0};
	fedrpc_code   rc;
	uint64_t      n  = 0, a = 0;

	TD_CALL(t, i, rc, st,
	    fedrpc_local_v1_delivery_list_queues(ch, &r, &resp, NULL, &st));
	cr_assert_eq(rc, FEDRPC_OK, "%s", st.message);
	for (size_t k = 0; k < resp->n_queues; k++) {
		n += resp->queues[k]->pending;
		a += resp->queues[k]->aside;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (aside != NULL)
		*aside = a;
	return n;
}

char *
td_fedctl_run(td *t, int i, const char *home, const char *const *args,
    int *code)
{
	const char *argv[FR_MAX_ARGS + 1];
	int         n = 0;
	fr_run      r;

	for (; args[n] != NULL && n < FR_MAX_ARGS - 3; n++)
		argv[n] = args[n];
	argv[n++] = "--socket";
	argv[n++] = t->f[i].sock;
	argv[n++] = "--json";
	argv[n]   = NULL;
	r     = fr_fedctl(t->dir, home, NULL, argv);
	*code = r.code;
	if (r.code != 0)
		fprintf(stderr, "fedctl %s: exit %d: %s", args[0], r.code,
		    r.err != NULL ? r.err : "");
	free(r.err);
	return r.out;
}

json_t *
td_fedctl_json(td *t, int i, const char *home, int want,
    const char *const *args)
{
	char        *out = td_fedctl(t, i, home, want, args);
	json_error_t e;
	json_t      *j = json_loads(out, 0, &e);

	cr_assert_not_null(j, "fedctl %s: not JSON (%s): %s", args[0], e.text,
	    out);
	free(out);
	return j;
}

char *
td_fedctl(td *t, int i, const char *home, int want, const char *const *args)
{
	int   code;
	char *out = td_fedctl_run(t, i, home, args, &code);

	cr_assert_eq(code, want, "fedctl %s: exit %d, want %d\n%s", args[0],
	    code, want, out != NULL ? out : "");
	return out;
}
