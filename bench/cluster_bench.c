/*
 * Several instances of one domain (docs/performance.md, "Instances on
 * PostgreSQL"): b.example as 1, 2 and 3 federator daemons on one
 * PostgreSQL database, and as one daemon on SQLite for reference, all in
 * one run, each beside a.example (SQLite).
 *
 * 1. Calls/s: THREADS client threads, spread over b's instances, call
 *    Users/FindUser (an exact-handle lookup: one read transaction) on
 *    b's local API for SECONDS.
 * 2. SendMessage fan-out: THREADS members, spread over the instances, send
 *    to a conversation owned by b.example with MEMBERS local members and 2
 *    on a.example (one inbox event per local member's client, one outbox
 *    item for a.example; delivery.wait_ms = 0: answered once written), for
 *    SECONDS; then the time until a.example has all of them.
 * CPU: user+system time of the b daemons and of every postgres process
 * over each phase (from /proc), per call; tx and rb: PostgreSQL's
 * committed and rolled-back transactions per send (pg_stat_database; a
 * rollback is mostly a serialization failure run again). drain: after
 * the sends, until b's queue towards a.example is empty (one instance
 * delivers it, by its lease; a.example's per-peer rate limit, 200 calls
 * per second by default, applies).
 *
 * It uses the tests' daemons and PostgreSQL server (tests/support), so it
 * is a criterion program: run it by hand,
 *     build-bench/bench/cluster_bench [--verbose]
 * with FEDRPC_BENCH_SECONDS (default 5) and FEDRPC_BENCH_THREADS (8).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "postgres.h"
#include "testutil.h"

#define MAX_B 3
#define MEMBERS 10 /* b.example members of the conversation */
#define MAX_THREADS 16

typedef struct run {
	const tpg_server *pg; /* NULL: SQLite */
	td      *t;
	int      k; /* b instances: daemons 1..k */
	double   seconds;
	int      threads;
	td_user  owner, a1, a2, members[MEMBERS];
	char     conv[37];
	atomic_bool stop;
	atomic_ulong calls, failures;
} run;

typedef struct worker {
	run *r;
	int  i;
} worker;

static double
env_num(const char *name, double def)
{
	const char *v = getenv(name);

	return v != NULL && atof(v) > 0 ? atof(v) : def;
}

/* CPU seconds (user + system) of a process, from /proc/PID/stat. */
static double
cpu_of(pid_t pid)
{
	char               path[64], buf[1024], *p;
	unsigned long long ut = 0, stt = 0;
	FILE              *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* After the name: state is field 3; utime, stime are 14, 15. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	        &ut, &stt) != 2)
		return 0;
	return (double) (ut + stt) / (double) sysconf(_SC_CLK_TCK);
}

/* Every process named postgres (the server and its backends). */
static double
cpu_postgres(void)
{
	DIR           *d = opendir("/proc");
	struct dirent *e;
	double         sum = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char  path[300], comm[64] = "";
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL &&
		    strncmp(comm, "postgres", 8) == 0)
			sum += cpu_of(atoi(e->d_name));
		fclose(f);
	}
	closedir(d);
	return sum;
}

static double
cpu_b(const run *r)
{
	double sum = 0;

	for (int i = 1; i <= r->k; i++)
		sum += cpu_of(r->t->f[i].pid);
	return sum;
}

static void *
find_loop(void *arg)
{
	worker                           *w = arg;
	run                              *r = w->r;
	fedrpc_channel                   *ch = r->t->f[1 + w->i % r->k].lch;
	Fedrpc__Local__V1__FindUserRequest q =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	char handle[16];

	snprintf(handle, sizeof(handle), "m%d", w->i % MEMBERS);
	q.query = handle;
	while (!atomic_load(&r->stop)) {
		Fedrpc__Local__V1__FindUserResponse *resp = NULL;
		fedrpc_status                        st   = {0};

		if (fedrpc_local_v1_users_find_user(ch, &q, &resp, NULL, &st) ==
		        FEDRPC_OK &&
		    resp->profile != NULL)
			atomic_fetch_add(&r->calls, 1);
		else
			atomic_fetch_add(&r->failures, 1);
		if (resp != NULL)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		fedrpc_status_reset(&st);
	}
	return NULL;
}

static void *
send_loop(void *arg)
{
	worker  *w    = arg;
	run     *r    = w->r;
	td_user  self = r->members[w->i % MEMBERS];
	td_user  mine[MEMBERS + 2];
	td_user *to[MEMBERS + 2];
	size_t   n = 0;
	unsigned seq = 0;

	self.dom = 1 + w->i % r->k;
	for (int m = 0; m < MEMBERS; m++)
		if (m != w->i % MEMBERS)
			mine[n++] = r->members[m];
	mine[n++] = r->owner;
	mine[n++] = r->a1;
	for (size_t k = 0; k < n; k++)
		to[k] = &mine[k];
	while (!atomic_load(&r->stop)) {
		char          id[40];
		bool          rep;
		fedrpc_status st = {0};

		snprintf(id, sizeof(id), "t%d-%u", w->i, seq++);
		if (td_try_send(r->t, &self, "b.example", r->conv, to, n, id, id,
		        &rep, &st) == FEDRPC_OK)
			atomic_fetch_add(&r->calls, 1);
		else
			atomic_fetch_add(&r->failures, 1);
	}
	return NULL;
}

typedef struct phase {
	double per_s, b_cpu_ms, pg_cpu_ms; /* the last two per call */
	double commits, rollbacks;        /* PostgreSQL's, per call */
	unsigned long failures;
} phase;

/* The database's committed and rolled-back transactions so far. Backends
 * report them within a second of going idle: the caller waits first. */
static void
pg_xacts(const tpg_server *pg, double *commits, double *rollbacks)
{
	PGconn   *c = PQconnectdb(pg->conninfo);
	PGresult *r = PQexec(c,
	    "SELECT xact_commit, xact_rollback FROM pg_stat_database "
	    "WHERE datname = current_database()");

	*commits = *rollbacks = 0;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*commits   = atof(PQgetvalue(r, 0, 0));
		*rollbacks = atof(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	PQfinish(c);
}

static phase
measure(run *r, void *(*loop)(void *))
{
	pthread_t th[MAX_THREADS];
	worker    w[MAX_THREADS];
	double    b0, p0, b1, p1, c0 = 0, r0 = 0, c1 = 0, r1 = 0;
	uint64_t  t0, t1;
	phase     ph;
	unsigned long calls;

	if (r->pg != NULL) {
		tu_sleep_ms(1500); /* statistics of what came before */
		pg_xacts(r->pg, &c0, &r0);
	}
	b0 = cpu_b(r);
	p0 = cpu_postgres();
	t0 = tu_now_ms();

	atomic_store(&r->stop, false);
	atomic_store(&r->calls, 0);
	atomic_store(&r->failures, 0);
	for (int i = 0; i < r->threads; i++) {
		w[i] = (worker){r, i};
		cr_assert_eq(pthread_create(&th[i], NULL, loop, &w[i]), 0);
	}
	tu_sleep_ms((unsigned) (r->seconds * 1000));
	atomic_store(&r->stop, true);
	for (int i = 0; i < r->threads; i++)
		pthread_join(th[i], NULL);
	t1    = tu_now_ms();
	b1    = cpu_b(r);
	p1    = cpu_postgres();
	calls = atomic_load(&r->calls);
	ph.per_s     = (double) calls * 1000.0 / (double) (t1 - t0);
	/* A postgres process that ended in between takes its time along:
	 * never below 0. */
	ph.b_cpu_ms  = calls ? (b1 - b0) * 1000.0 / (double) calls : 0;
	ph.pg_cpu_ms = calls && p1 > p0 ? (p1 - p0) * 1000.0 / (double) calls
	                                : 0;
	ph.failures  = atomic_load(&r->failures);
	if (r->pg != NULL) {
		tu_sleep_ms(1500);
		pg_xacts(r->pg, &c1, &r1);
	}
	ph.commits   = calls ? (c1 - c0) / (double) calls : 0;
	ph.rollbacks = calls ? (r1 - r0) / (double) calls : 0;
	return ph;
}

/* A conversation owned by b.example: MEMBERS there, 2 on a.example. */
static void
populate(run *r)
{
	td_user *ms[MEMBERS + 2];
	char     h[16];

	r->owner = td_register(r->t, 1, "owner");
	r->a1    = td_register(r->t, 0, "a1");
	r->a2    = td_register(r->t, 0, "a2");
	for (int m = 0; m < MEMBERS; m++) {
		snprintf(h, sizeof(h), "m%d", m);
		r->members[m] = td_register(r->t, 1 + m % r->k, h);
		r->members[m].dom = 1;
		td_connect(r->t, &r->owner, &r->members[m]);
		ms[m] = &r->members[m];
	}
	td_connect(r->t, &r->owner, &r->a1);
	td_connect(r->t, &r->owner, &r->a2);
	ms[MEMBERS]     = &r->a1;
	ms[MEMBERS + 1] = &r->a2;
	td_create(r->t, &r->owner, ms, MEMBERS + 2, "bench", r->conv);
}

static void
one(const char *label, const tpg_server *pg, int k, double seconds,
    int threads)
{
	const char *domains[1 + MAX_B] = {"a.example"};
	run         r = {
	            .pg = pg, .k = k, .seconds = seconds, .threads = threads};
	phase       calls, sends;
	uint64_t    t0, drain;
	char        schema[32];

	for (int i = 1; i <= k; i++)
		domains[i] = "b.example";
	r.t = td_new_domains(1 + k, domains, NULL, NULL);
	snprintf(schema, sizeof(schema), "bench%d", k);
	for (int i = 0; i <= k; i++) {
		/* Answered once written; instances named apart. */
		snprintf(r.t->f[i].extra, sizeof(r.t->f[i].extra),
		    "delivery = { wait_ms = 0; instance = \"%c%d\"; };",
		    i == 0 ? 'a' : 'b', i);
		if (i > 0 && pg != NULL) {
			char *ci = tpg_schema_conninfo(pg, schema);

			cr_assert_not_null(ci);
			snprintf(r.t->f[i].storage, sizeof(r.t->f[i].storage),
			    "storage = { adapter = \"postgresql\"; conninfo = "
			    "\"%s\"; };",
			    ci);
			free(ci);
		}
	}
	for (int i = 0; i <= k; i++)
		td_start(r.t, i, NULL);
	populate(&r);
	calls = measure(&r, find_loop);
	sends = measure(&r, send_loop);
	/* What b owes a.example, delivered by one instance (the lease). */
	t0 = tu_now_ms();
	cr_assert(TU_WAIT_FOR(td_pending(r.t, 1, NULL) == 0, 600000),
	    "b.example's queue never emptied");
	drain = tu_now_ms() - t0;
	printf("%-16s %9.0f %8.2f %8.2f %9.0f %8.2f %8.2f %6.1f %6.3f %8llu  "
	       "%lu/%lu\n",
	    label, calls.per_s, calls.b_cpu_ms, calls.pg_cpu_ms, sends.per_s,
	    sends.b_cpu_ms, sends.pg_cpu_ms, sends.commits, sends.rollbacks,
	    (unsigned long long) drain, calls.failures, sends.failures);
	fflush(stdout);
	td_finish(r.t);
}

Test(bench, instances, .timeout = 0)
{
	double      seconds = env_num("FEDRPC_BENCH_SECONDS", 5);
	int         threads = (int) env_num("FEDRPC_BENCH_THREADS", 8);
	const char *why;
	tpg_server *pg;

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	if (!tpg_available(&why))
		cr_skip_test("%s", why);
	cr_assert_not_null(pg = tpg_start());
	printf("cluster_bench: %d threads, %.0f s per phase, %ld cores\n",
	    threads, seconds, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-16s %9s %8s %8s %9s %8s %8s %6s %6s %8s  %s\n",
	    "b.example as", "finds/s", "b ms", "pg ms", "sends/s", "b ms",
	    "pg ms", "tx", "rb", "drain ms", "failed");
	one("sqlite x1", NULL, 1, seconds, threads);
	for (int k = 1; k <= MAX_B; k++) {
		char label[32];

		snprintf(label, sizeof(label), "postgresql x%d", k);
		one(label, pg, k, seconds, threads);
	}
	tpg_destroy(pg);
}
