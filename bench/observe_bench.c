/*
 * What watching a federator costs per call: the daemon's metric updates
 * for one finished call (a counter by domain, method and status, and a
 * latency histogram by method), its access-log line (text and JSON, to
 * /dev/null), and a scrape's rendering of the registry. Run by hand; see
 * docs/performance.md.
 * usage: observe_bench [-n CALLS] [-t THREADS]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "core/base/metrics.h"

static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const char *const domains[] = {"b.example", "c.example", "d.example",
	"e.example"};
static const char *const methods[] = {"fedrpc.federation.v1.Users/GetProfiles",
	"fedrpc.federation.v1.Conversations/SendMessage",
	"fedrpc.federation.v1.Users/GetUserByHandle"};

static fedrpc_metric *calls, *latency;
static long           n_calls = 1000000;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What federator/metrics.c does for each call it answers. */
static void *
report_loop(void *arg)
{
	long seed = (long) (size_t) arg;

	for (long i = 0; i < n_calls; i++) {
		const char *d = domains[(i + seed) & 3];
		const char *m = methods[(i + seed) % 3];

		fedrpc_metric_inc(calls, (const char *[]){d, m, "OK"}, 1);
		fedrpc_metric_observe(latency, (const char *[]){"received", m},
		    (double) (i & 7) / 1000.0);
	}
	return NULL;
}

/* ns per call and thread. */
static double
reports(int threads)
{
	pthread_t t[16];
	double    t0 = now_s();

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, report_loop, (void *) (size_t) i);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return (now_s() - t0) / (double) n_calls * 1e9;
}

/* ns per access-log line (federator/access_log.c's fields). */
static double
log_lines(bool json, long n)
{
	FILE  *null = fopen("/dev/null", "w");
	double t0;
	const fedrpc_log_field f[] = {
		{.key = "request_id", .str = "6f1c0e2b9a8d4c3e8f7a6b5c4d3e2f1a"},
		{.key = "origin", .str = "b.example"},
		{.key = "target", .str = "a.example"},
		{.key = "method", .str = methods[0]},
		{.key = "status", .str = "OK"},
		{.key = "duration_ms", .num = 1},
		{.key = "peer", .str = "fed1.b.example"},
	};

	if (null == NULL)
		return -1;
	setvbuf(null, NULL, _IOLBF, 0);
	fedrpc_log_set_level(FEDRPC_LOG_INFO);
	fedrpc_log_set_json(json);
	fedrpc_log_set_stream(null);
	t0 = now_s();
	for (long i = 0; i < n; i++)
		fedrpc_log_fields(FEDRPC_LOG_INFO, f, 7, "call received");
	t0 = now_s() - t0;
	fedrpc_log_set_stream(NULL);
	fclose(null);
	return t0 / (double) n * 1e9;
}

int
main(int argc, char **argv)
{
	fedrpc_metrics *reg = fedrpc_metrics_new();
	fedrpc_metric  *big;
	int             threads = 2, c;
	size_t          len = 0;
	char            name[32], *text;
	double          t0;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n')
			n_calls = atol(optarg);
		else if (c == 't')
			threads = atoi(optarg);
		else {
			fprintf(stderr, "usage: observe_bench [-n CALLS] [-t THREADS]\n");
			return 2;
		}
	}
	if (reg == NULL || threads < 1 || threads > 16 || n_calls < 10)
		return 2;
	calls   = fedrpc_metrics_add(reg, FEDRPC_METRIC_COUNTER, "calls_total",
            "", (const char *[]){"origin", "method", "code", NULL}, NULL, 0);
	latency = fedrpc_metrics_add(reg, FEDRPC_METRIC_HISTOGRAM,
	    "call_duration_seconds", "",
	    (const char *[]){"direction", "method", NULL}, bounds,
	    sizeof(bounds) / sizeof(bounds[0]));
	printf("metric updates per call, 1 thread:  %.0f ns\n", reports(1));
	printf("metric updates per call, %d threads: %.0f ns (wall, per call "
	       "of one thread)\n",
	    threads, reports(threads));
	printf("access-log line, text: %.0f ns\n", log_lines(false, n_calls / 10));
	printf("access-log line, JSON: %.0f ns\n", log_lines(true, n_calls / 10));
	big = fedrpc_metrics_add(reg, FEDRPC_METRIC_COUNTER, "peers_total", "",
	    (const char *[]){"peer", NULL}, NULL, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		fedrpc_metric_inc(big, (const char *[]){name}, 1);
	}
	t0   = now_s();
	text = fedrpc_metrics_render(reg, &len);
	t0   = now_s() - t0;
	printf("render, 1,012 series and 3 histograms: %.2f ms, %zu bytes\n",
	    t0 * 1e3, len);
	free(text);
	fedrpc_metrics_free(reg);
	return 0;
}
