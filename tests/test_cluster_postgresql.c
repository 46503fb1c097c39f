/*
 * Several instances of one domain: b.example as three federator daemons
 * on one PostgreSQL database (support/postgres.h), behind one SRV record
 * with three targets of rising priority (support/dnsmasq.h), beside
 * a.example on SQLite. alice (a.example) sends many messages (1,000;
 * FEDRPC_CLUSTER_MESSAGES changes it) to a
 * conversation she owns with bob and carol (b.example, registered through
 * different instances), while the b instance in use is killed with
 * SIGKILL twice; bob, meanwhile, writes to alice through whichever b
 * instance is up. Every message arrives exactly once and in order, every
 * call of a's users succeeds through the SRV failover, request ids a
 * repeats after a kill are applied once by whichever instance gets them,
 * and the queue towards a.example that a killed instance held is taken
 * over by another within its lease (delivery.lease_ms): b1 is made to
 * hold what it delivered, unsettled, until it dies. And PostgreSQL
 * restarted under running daemons: UNAVAILABLE meanwhile, then served
 * again by itself, nothing lost.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "dnsmasq.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "postgres.h"
#include "testutil.h"

#define LEASE_MS 2000
/* Under ASan on a loaded 2-core machine (load 10) the 1,000 take ~9 s. */
#define DEFAULT_MESSAGES 1000
#define BOB_EVERY 25 /* bob writes once per this many of alice's */

static const char *const domains[] = {
    "a.example", "b.example", "b.example", "b.example"};
static const char *const hosts[] = {
    "fed.a.example", "b1.b.example", "b2.b.example", "b3.b.example"};

/* One SRV target per daemon: a.example's one, b.example's three with
 * priorities 10, 20, 30 (so that the one in use is the first alive). */
static dnsmasq *
dns_start(td *t)
{
	char        rec[8][160];
	const char *recs[9];
	int         k = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(rec[k], sizeof(rec[k]),
		    "--srv-host=_fedrpc._tcp.%s,%s,%d,%d,100", domains[i],
		    hosts[i], t->f[i].port, 10 * i);
		recs[k] = rec[k];
		k++;
		snprintf(rec[k], sizeof(rec[k]), "--host-record=%s,127.0.0.1",
		    hosts[i]);
		recs[k] = rec[k];
		k++;
	}
	recs[k] = NULL;
	return dnsmasq_start(recs);
}

static void
configure(td *t, dnsmasq *dns, const tpg_server *pg)
{
	for (int i = 0; i < 4; i++) {
		td_fed *f = &t->f[i];

		snprintf(f->discovery, sizeof(f->discovery),
		    "discovery = { nameserver = \"%s\"; timeout_ms = 2000; "
		    "negative_ttl = 0; };",
		    dnsmasq_nameserver(dns));
		/* a's calls wait for their delivery (so that each one goes
		 * through the failover); b's answer at once. */
		snprintf(f->extra, sizeof(f->extra),
		    "delivery = { backoff_initial_ms = 10; backoff_max_ms = 500; "
		    "wait_ms = %d; instance = \"%s\"; lease_ms = %d; };",
		    i == 0 ? 2000 : 0, hosts[i], LEASE_MS);
		if (i > 0)
			snprintf(f->storage, sizeof(f->storage),
			    "storage = { adapter = \"postgresql\"; conninfo = "
			    "\"%s\"; };",
			    pg->conninfo);
	}
}

/* Lines "<tag>-NNNN" for i in [0, n). */
static char *
expected(const char *tag, int n)
{
	char  *s = calloc((size_t) n * 16 + 1, 1);
	size_t k = 0;

	cr_assert_not_null(s);
	for (int i = 0; i < n; i++)
		k += (size_t) sprintf(s + k, "%s-%04d\n", tag, i);
	return s;
}

static bool
has(td *t, td_user *u, const char *want)
{
	char *got  = td_messages(t, u, NULL);
	bool  same = strcmp(got, want) == 0;

	free(got);
	return same;
}

/* The first b instance (1..3) that runs. */
static int
alive_b(const td *t)
{
	for (int i = 1; i < 4; i++)
		if (t->f[i].pid > 0)
			return i;
	return -1;
}

Test(cluster, three_instances_on_postgresql_survive_two_kills,
    .timeout = 600)
{
	const char *env = getenv("FEDRPC_CLUSTER_MESSAGES");
	int         n   = env != NULL && atoi(env) >= 30 ? atoi(env)
	                                                 : DEFAULT_MESSAGES;
	const char *why;
	tpg_server *pg;
	dnsmasq    *dns;
	td         *t;
	td_user     alice, bob, carol, *members[2], *to_b[2], *to_a[1];
	char        conv[37], *want;
	int         bob_sent = 0;
	uint64_t    start;

	if (!tpg_available(&why))
		cr_skip_test("%s", why);
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	cr_assert_not_null(pg = tpg_start(), "PostgreSQL did not start");
	t = td_new_domains(4, domains, hosts, NULL);
	cr_assert_not_null(dns = dns_start(t), "dnsmasq did not start");
	configure(t, dns, pg);
	/* b1 holds each item it delivered (applied by a.example) 60 s
	 * before it settles it, and dies holding: another instance must
	 * take the queue towards a.example over when the lease runs out,
	 * deliver that item again (applied once: the request id is a's)
	 * and what follows it, in order. */
	for (int i = 0; i < 4; i++)
		td_start(t, i, i == 1 ? "FEDRPC_TEST_DELIVERY_HOLD_MS=60000" : NULL);

	/* Any instance answers any local call: bob registers on b1, carol
	 * on b2, and each instance sees both (one database). */
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	carol = td_register(t, 2, "carol");
	td_connect(t, &alice, &bob);
	td_connect(t, &alice, &carol);
	members[0] = &bob;
	members[1] = &carol;
	td_create(t, &alice, members, 2, "cluster", conv);
	to_b[0] = &bob;
	to_b[1] = &carol;
	to_a[0] = &alice;

	start = tu_now_ms();
	for (int i = 0; i < n; i++) {
		char text[16];

		/* The b instance in use (the first alive by SRV priority)
		 * dies twice, without warning; b's users move to the next
		 * instance, as their clients would. */
		if (i == n / 3 || i == 2 * n / 3) {
			td_kill(t, alive_b(t));
			bob.dom = carol.dom = alive_b(t);
		}
		snprintf(text, sizeof(text), "a-%04d", i);
		cr_assert_not(td_send(t, &alice, "a.example", conv, to_b, 2, text,
		                  text),
		    "%s taken for a repeat", text);
		if (i % BOB_EVERY == 0) {
			snprintf(text, sizeof(text), "b-%04d", bob_sent++);
			cr_assert_not(td_send(t, &bob, "a.example", conv, to_a, 1,
			                  text, text),
			    "%s taken for a repeat", text);
		}
	}
	/* Bounded: a's queue empties without any killed instance back. */
	cr_assert(TU_WAIT_FOR(td_pending(t, 0, NULL) == 0, 3 * TD_WAIT_MS),
	    "a.example never emptied its queue");
	cr_log_info("%d messages through 2 kills: %llu ms", n,
	    (unsigned long long) (tu_now_ms() - start));

	want = expected("a", n);
	cr_assert(TU_WAIT_FOR(has(t, &bob, want), TD_WAIT_MS), "bob: %s",
	    td_messages(t, &bob, NULL));
	cr_assert(has(t, &carol, want), "carol: %s",
	    td_messages(t, &carol, NULL));
	free(want);
	/* What the first killed instance still owed a.example is delivered
	 * by another once its lease ran out. */
	want = expected("b", bob_sent);
	cr_assert(TU_WAIT_FOR(has(t, &alice, want), TD_WAIT_MS + 2 * LEASE_MS),
	    "alice: %s\nwanted %s", td_messages(t, &alice, NULL), want);
	free(want);
	cr_assert(TU_WAIT_FOR(td_pending(t, 3, NULL) == 0, TD_WAIT_MS),
	    "b.example's queues (shared) never emptied");
	{
		uint64_t aside = 0;

		td_pending(t, 0, &aside);
		cr_assert_eq(aside, 0, "a.example refused nothing");
		td_pending(t, 3, &aside);
		cr_assert_eq(aside, 0, "b.example refused nothing");
	}
	td_finish(t);
	dnsmasq_stop(dns);
	tpg_destroy(pg);
}

/* The call a client of b.example makes while its database is down. */
static fedrpc_code
find_user(td *t, int i, const char *handle, fedrpc_status *st)
{
	Fedrpc__Local__V1__FindUserRequest   q =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	Fedrpc__Local__V1__FindUserResponse *resp = NULL;
	fedrpc_code                          rc;

	q.query = (char *) handle;
	rc = fedrpc_local_v1_users_find_user(t->f[i].lch, &q, &resp, NULL, st);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/*
 * PostgreSQL restarted under a running daemon: b.example's calls fail with
 * UNAVAILABLE while it is down (the daemon keeps running), a.example's
 * message for bob waits in a.example's queue, and once the database is
 * back b.example serves again by itself and bob gets the message.
 */
Test(cluster, database_restart_under_running_daemons, .timeout = 300)
{
	static const char *const two[] = {"a.example", "b.example"};
	const char              *why;
	tpg_server              *pg;
	td                      *t;
	td_user                  alice, bob, *members[1];
	char                     conv[37];
	fedrpc_status            st = {0};
	fedrpc_code              rc;

	if (!tpg_available(&why))
		cr_skip_test("%s", why);
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	cr_assert_not_null(pg = tpg_start(), "PostgreSQL did not start");
	t = td_new_domains(2, two, NULL,
	    "delivery = { backoff_initial_ms = 10; backoff_max_ms = 300; };");
	snprintf(t->f[1].storage, sizeof(t->f[1].storage),
	    "storage = { adapter = \"postgresql\"; conninfo = \"%s\"; };",
	    pg->conninfo);
	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	td_connect(t, &alice, &bob);
	members[0] = &bob;
	td_create(t, &alice, members, 1, "restart", conv);

	cr_assert(tpg_stop(pg), "pg_ctl stop");
	rc = find_user(t, 1, "bob", &st);
	cr_assert_eq(rc, FEDRPC_UNAVAILABLE, "with its database down: %s (%s)",
	    fedrpc_code_name(rc), st.message);
	fedrpc_status_reset(&st);
	cr_assert_eq(kill(t->f[1].pid, 0), 0, "b.example keeps running");
	cr_assert_not(td_send(t, &alice, "a.example", conv, members, 1,
	                  "while b's database was down", "m1"),
	    "a fresh message");
	cr_assert_gt(td_pending(t, 0, NULL), 0,
	    "a.example keeps it until b.example can take it");

	cr_assert(tpg_restart(pg), "pg_ctl start");
	cr_assert(TU_WAIT_FOR(find_user(t, 1, "bob", &st) == FEDRPC_OK,
	              TD_WAIT_MS),
	    "b.example serves again: %s", st.message);
	fedrpc_status_reset(&st);
	cr_assert(TU_WAIT_FOR(has(t, &bob, "while b's database was down\n"),
	              TD_WAIT_MS),
	    "bob: %s", td_messages(t, &bob, NULL));
	td_finish(t);
	tpg_destroy(pg);
}
