/*
 * The key failover test of domain channels: two real server processes
 * (tests/programs/echo_server.c) behind one SRV name, calls from several
 * threads, and the server in use stopped (SIGTERM) and restarted, twice:
 * calls keep succeeding at the other server. Over plain TCP and over
 * mutual TLS. (nng_close() used to hang now and then here, in both the
 * client and the server processes: see core/compat/stream_guard.c; a stop that
 * hangs makes the server exit with status 4 and fails the test.)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>

#include <fedrpc/domain.h>
#include <fedrpc/log.h>

#include "lsan.h"
#include "dnsmasq.h"
#include "echo_server.h"
#include "fedrpc/testing/v1/echo.fedrpc.h"
#include "testcerts.h"
#include "testutil.h"

/*
 * A request message whose connection closes while calls are in flight is
 * now and then never freed: nng 1.5.2's req0 hands it to a connection whose
 * send aio is already closed, and the transport drops that aio without
 * freeing the message (inside nng; see also tests/test_tls_teardown.c).
 * Only this binary, which kills connections under load on purpose,
 * tolerates that leak; every other test keeps full leak checking.
 */
TU_LSAN_SUPPRESS(TU_LSAN_REQ0_CLOSED_PIPE("fedrpc_envelope_request_encode"))

static char    *dir;
static dnsmasq *dns;
static fedrpc_tls_opts client_tls;

static void
setup(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	dir = tu_tmpdir("domfail");
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "fed1", (const char *const[]){"fed1.b.example", NULL});
	testcerts_leaf(dir, "ca", "fed2", (const char *const[]){"fed2.b.example", NULL});
	testcerts_leaf(dir, "ca", "client", (const char *const[]){"a.example", NULL});
}

static void
teardown(void)
{
	dnsmasq_stop(dns);
	dns = NULL;
	tu_rmrf(dir);
	free(dir);
}

TestSuite(domain_failover, .init = setup, .fini = teardown, .timeout = 60);

static void
dns_start(int port1, int port2)
{
	char rec[2][128];

	snprintf(rec[0], sizeof(rec[0]),
	    "--srv-host=_fedrpc._tcp.b.example,fed1.b.example,%d,10,50", port1);
	snprintf(rec[1], sizeof(rec[1]),
	    "--srv-host=_fedrpc._tcp.b.example,fed2.b.example,%d,10,50", port2);
	dns = dnsmasq_start((const char *const[]){rec[0], rec[1],
	    "--host-record=fed1.b.example,127.0.0.1",
	    "--host-record=fed2.b.example,127.0.0.1", "--local-ttl=60", NULL});
	cr_assert_not_null(dns, "dnsmasq");
}

static fedrpc_domains *
pool_new(bool tls)
{
	fedrpc_resolver_opts ro = {0};
	fedrpc_domains_opts  o  = {0};
	fedrpc_status        st = {0};
	fedrpc_domains      *p  = NULL;
	static char          ca[256], crt[256], key[256];

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/client.crt", dir);
	snprintf(key, sizeof(key), "%s/client.key", dir);
	client_tls           = (fedrpc_tls_opts){
	              .ca_file = ca, .cert_file = crt, .key_file = key};
	ro.nameserver        = dnsmasq_nameserver(dns);
	ro.timeout_ms        = 2000;
	o.origin_domain      = "a.example";
	o.tls                = &client_tls;
	o.resolver_opts      = &ro;
	o.api_version        = 1;
	o.connect_timeout_ms = 2000;
	o.backoff.initial_ms = 200;
	o.scheme             = tls ? "tls+tcp" : "tcp";
	cr_assert_eq(fedrpc_domains_new(&p, &o, &st), FEDRPC_OK, "%s", st.message);
	return p;
}

static fedrpc_channel *
chan(fedrpc_domains *p, const char *domain)
{
	fedrpc_channel *ch = NULL;
	fedrpc_status   st = {0};

	cr_assert_eq(fedrpc_domains_channel(p, domain, &ch, &st), FEDRPC_OK,
	    "%s", st.message);
	return ch;
}

/* One Echo call; the answering server's name into who. */
static fedrpc_code
echo(fedrpc_channel *ch, uint32_t timeout_ms, char *who, fedrpc_status *st)
{
	Fedrpc__Testing__V1__EchoRequest   req = FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	Fedrpc__Testing__V1__EchoResponse *resp = NULL;
	fedrpc_call_opts                   co   = {.timeout_ms = timeout_ms,
					  .reply_metadata = echo_server_name_cb,
					  .reply_metadata_arg = who};
	fedrpc_code                        code;

	who[0] = '\0';
	code   = fedrpc_testing_v1_echo_echo(ch, &req, &resp, &co, st);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

static bool
is_ready(fedrpc_channel *ch, fedrpc_domain_info *info)
{
	fedrpc_domain_info_get(ch, info);
	return strcmp(info->state, "ready") == 0;
}

/* The channel's state once its manager caught up (bounded poll). */
static fedrpc_domain_info
info_ready(fedrpc_channel *ch)
{
	fedrpc_domain_info info;

	(void) TU_WAIT_FOR(is_ready(ch, &info), TU_WAIT_MS);
	return info;
}

/* The servers and the pool speak mutual TLS (else plain TCP). */
static bool use_tls;

static bool
two_tls(void)
{
	return use_tls;
}

typedef struct proc {
	pid_t pid;
	int   port;
	char  name[8];
	char  log[256];
} proc;

static void
proc_start(proc *pr)
{
	char  url[64], ca[256], crt[256], key[256];
	char *argv[16];
	int   n = 0;

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d",
	    two_tls() ? "tls+tcp" : "tcp", pr->port);
	snprintf(ca, sizeof(ca), "%s", tu_path(dir, "ca.crt"));
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, pr->name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, pr->name);
	snprintf(pr->log, sizeof(pr->log), "%s/%s.log", dir, pr->name);
	argv[n++] = (char *) ECHO_SERVER_PROGRAM;
	argv[n++] = "--url";
	argv[n++] = url;
	argv[n++] = "--ca";
	argv[n++] = ca;
	argv[n++] = "--cert";
	argv[n++] = crt;
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--name";
	argv[n++] = pr->name;
	argv[n++] = "--grace";
	argv[n++] = "300";
	argv[n]   = NULL;
	pr->pid   = tu_spawn(argv, pr->log);
	cr_assert_gt(pr->pid, 0);
	cr_assert(tu_wait_port(pr->port, TU_WAIT_MS), "%s did not start",
	    pr->name);
}

/* Stops a server process; its exit status (4: its stop hung and was cut
 * short, see tests/programs/echo_server.c). */
static int
proc_stop(proc *pr)
{
	int ws = tu_stop(pr->pid, SIGTERM, TU_WAIT_MS);

	pr->pid = -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Calls from several threads while servers come and go. */
typedef struct load {
	fedrpc_channel *ch;
	bool            stop;    /* atomic: the threads end */
	unsigned        ok, retried, failed;
	unsigned        by[2];   /* successes per server */
	char            last_error[FEDRPC_STATUS_MESSAGE_MAX + 32];
	pthread_mutex_t mtx;
} load;

static void *
load_thread(void *arg)
{
	load *l = arg;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		char          who[ECHO_NAME_MAX];
		fedrpc_status st    = {0};
		fedrpc_code   code  = echo(l->ch, TU_CALL_MS, who, &st);
		bool          retry = false;

		/* UNAVAILABLE: the server is shutting down, or the connection
		 * died under the call. Like any caller, retry with back-off
		 * (20 ms, doubling; at most 5 attempts). */
		for (unsigned i = 0, pause = 20;
		     code == FEDRPC_UNAVAILABLE && i < 4; i++, pause *= 2) {
			retry = true;
			tu_sleep_ms(pause);
			code = echo(l->ch, TU_CALL_MS, who, &st);
		}
		pthread_mutex_lock(&l->mtx);
		if (code == FEDRPC_OK) {
			l->ok++;
			l->retried += retry;
			l->by[strcmp(who, "fed2") == 0]++;
		} else {
			l->failed++;
			snprintf(l->last_error, sizeof(l->last_error), "%s: %s",
			    fedrpc_code_name(st.code), st.message);
		}
		pthread_mutex_unlock(&l->mtx);
		tu_sleep_ms(2); /* pacing */
	}
	return NULL;
}

static unsigned
load_ok(load *l)
{
	unsigned n;

	pthread_mutex_lock(&l->mtx);
	n = l->ok;
	pthread_mutex_unlock(&l->mtx);
	return n;
}

/* Waits (bounded) for `more` successful calls. */
static bool
load_wait(load *l, unsigned more)
{
	unsigned want = load_ok(l) + more;

	return TU_WAIT_FOR(load_ok(l) >= want, TU_WAIT_MS);
}

static void
failover(bool tls)
{
	static proc        pr[2] = {{.name = "fed1"}, {.name = "fed2"}};
	static load        l     = {.mtx = PTHREAD_MUTEX_INITIALIZER};
	fedrpc_domains    *p;
	pthread_t          th[3];
	fedrpc_domain_info info;
	char               why[400] = "";
	int                hung     = 0;

	use_tls    = tls;
	pr[0].port = tu_free_port();
	pr[1].port = tu_free_port();
	proc_start(&pr[0]);
	proc_start(&pr[1]);
	dns_start(pr[0].port, pr[1].port);
	p    = pool_new(two_tls());
	l.ch = chan(p, "b.example");
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, load_thread, &l);
	/* No assertion while the threads run: collect, stop them, then
	 * assert. */
	if (!load_wait(&l, 30))
		snprintf(why, sizeof(why), "no calls at first: %s", l.last_error);

	/* Twice: stop the server in use, calls go on at the other one;
	 * start it again. */
	for (int round = 0; round < 2 && why[0] == '\0'; round++) {
		proc *used;
		int   rc;

		info = info_ready(l.ch);
		used = info.port == pr[0].port ? &pr[0] : &pr[1];
		if (info.port != used->port) {
			snprintf(why, sizeof(why), "round %d: not connected (%s)",
			    round, info.state);
			break;
		}
		if ((rc = proc_stop(used)) == 4)
			hung++;
		else if (rc != 0)
			snprintf(why, sizeof(why), "%s exited with %d",
			    used->name, rc);
		if (why[0] == '\0' && !load_wait(&l, 50))
			snprintf(why, sizeof(why), "round %d: calls stalled: %s",
			    round, l.last_error);
		fedrpc_domain_info_get(l.ch, &info);
		if (why[0] == '\0' && info.port == used->port)
			snprintf(why, sizeof(why), "round %d: still on %s", round,
			    used->name);
		proc_start(used);
		if (why[0] == '\0' && !load_wait(&l, 20))
			snprintf(why, sizeof(why), "round %d: calls stalled after "
			    "the restart: %s", round, l.last_error);
	}
	__atomic_store_n(&l.stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	fedrpc_channel_close(l.ch);
	fedrpc_domains_free(p);
	for (int i = 0; i < 2; i++)
		if (pr[i].pid > 0)
			proc_stop(&pr[i]);
	if (hung > 0)
		cr_log_warn("%d server stop(s) hung and were cut short", hung);
	cr_assert_eq(why[0], '\0', "%s", why);
	cr_assert_eq(l.failed, 0, "%u calls failed, last: %s", l.failed,
	    l.last_error);
	cr_assert_gt(l.by[0], 0);
	cr_assert_gt(l.by[1], 0);
	cr_log_info("%u calls, %u retried, fed1 %u, fed2 %u", l.ok,
	    l.retried, l.by[0], l.by[1]);
}

Test(domain_failover, two_server_processes_one_stopped_and_restarted_under_calls)
{
	failover(false);
}

Test(domain_failover, over_tls_two_server_processes_one_stopped_and_restarted)
{
	failover(true);
}
