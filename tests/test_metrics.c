/*
 * The metrics registry (core/base/metrics.c) alone: counters, gauges and
 * histograms by label, the Prometheus text it writes (escaping, buckets,
 * order), the bound on label sets, and the observer hook the runtime
 * reports through (core/base/observe.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/metrics.h"
#include "core/base/observe.h"

static char *
render(fedrpc_metrics *reg)
{
	size_t len = 0;
	char  *s   = fedrpc_metrics_render(reg, &len);

	cr_assert_not_null(s);
	cr_assert_eq(strlen(s), len);
	return s;
}

Test(metrics, counters_by_label_in_text_format)
{
	fedrpc_metrics *reg = fedrpc_metrics_new();
	fedrpc_metric  *c   = fedrpc_metrics_add(reg, FEDRPC_METRIC_COUNTER,
            "x_calls_total", "Calls, by peer\nand code",
            (const char *[]){"peer", "code", NULL}, NULL, 0);
	char *s;

	cr_assert_not_null(c);
	/* A second family of the same name is refused. */
	cr_assert_null(fedrpc_metrics_add(
	    reg, FEDRPC_METRIC_GAUGE, "x_calls_total", "", NULL, NULL, 0));
	fedrpc_metric_inc(c, (const char *[]){"b.example", "OK"}, 1);
	fedrpc_metric_inc(c, (const char *[]){"b.example", "OK"}, 2);
	fedrpc_metric_inc(c, (const char *[]){"we\"ird\\\n", "OK"}, 1);
	cr_assert_eq(fedrpc_metric_get(c, (const char *[]){"b.example", "OK"}), 3);
	s = render(reg);
	cr_assert_str_eq(s,
	    "# HELP x_calls_total Calls, by peer\\nand code\n"
	    "# TYPE x_calls_total counter\n"
	    "x_calls_total{peer=\"b.example\",code=\"OK\"} 3\n"
	    "x_calls_total{peer=\"we\\\"ird\\\\\\n\",code=\"OK\"} 1\n");
	free(s);
	fedrpc_metrics_free(reg);
}

Test(metrics, histogram_buckets_are_cumulative)
{
	static const double b[] = {0.01, 0.1, 1};
	fedrpc_metrics     *reg = fedrpc_metrics_new();
	fedrpc_metric      *h   = fedrpc_metrics_add(reg,
            FEDRPC_METRIC_HISTOGRAM, "x_seconds", "Durations",
            (const char *[]){"m", NULL}, b, 3);
	char *s;

	fedrpc_metric_observe(h, (const char *[]){"a"}, 0.005);
	fedrpc_metric_observe(h, (const char *[]){"a"}, 0.01); /* le is <= */
	fedrpc_metric_observe(h, (const char *[]){"a"}, 0.5);
	fedrpc_metric_observe(h, (const char *[]){"a"}, 7);
	s = render(reg);
	cr_assert_str_eq(s,
	    "# HELP x_seconds Durations\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{m=\"a\",le=\"0.01\"} 2\n"
	    "x_seconds_bucket{m=\"a\",le=\"0.1\"} 2\n"
	    "x_seconds_bucket{m=\"a\",le=\"1\"} 3\n"
	    "x_seconds_bucket{m=\"a\",le=\"+Inf\"} 4\n"
	    "x_seconds_sum{m=\"a\"} 7.515\n"
	    "x_seconds_count{m=\"a\"} 4\n");
	free(s);
	fedrpc_metrics_free(reg);
}

Test(metrics, gauges_cleared_and_unlabelled)
{
	fedrpc_metrics *reg = fedrpc_metrics_new();
	fedrpc_metric  *g   = fedrpc_metrics_add(reg, FEDRPC_METRIC_GAUGE,
            "x_depth", "Depth", (const char *[]){"d", NULL}, NULL, 0);
	fedrpc_metric *u = fedrpc_metrics_add(
	    reg, FEDRPC_METRIC_GAUGE, "x_up", "Up", NULL, NULL, 0);
	char *s;

	fedrpc_metric_set(g, (const char *[]){"b"}, 4);
	fedrpc_metric_clear(g);
	fedrpc_metric_set(g, (const char *[]){"c"}, 0.25);
	fedrpc_metric_set(u, NULL, 1);
	s = render(reg);
	cr_assert_str_eq(s,
	    "# HELP x_depth Depth\n# TYPE x_depth gauge\nx_depth{d=\"c\"} 0.25\n"
	    "# HELP x_up Up\n# TYPE x_up gauge\nx_up 1\n");
	free(s);
	fedrpc_metrics_free(reg);
}

Test(metrics, label_sets_are_bounded)
{
	fedrpc_metrics *reg = fedrpc_metrics_new();
	fedrpc_metric  *c   = fedrpc_metrics_add(reg, FEDRPC_METRIC_COUNTER,
            "x_total", "By name", (const char *[]){"name", NULL}, NULL, 0);
	char name[32], *s, *p;
	int  lines = 0;

	for (int i = 0; i < FEDRPC_METRIC_SERIES_MAX + 500; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		fedrpc_metric_inc(c, (const char *[]){name}, 1);
	}
	/* One already known still counts as itself. */
	fedrpc_metric_inc(c, (const char *[]){"n0"}, 1);
	cr_assert_eq(fedrpc_metric_get(c, (const char *[]){"n0"}), 2);
	cr_assert_eq(fedrpc_metric_get(c, (const char *[]){"_other"}), 500);
	s = render(reg);
	for (p = s; (p = strstr(p, "\nx_total{")) != NULL; p++)
		lines++;
	cr_assert_eq(lines, FEDRPC_METRIC_SERIES_MAX + 1);
	free(s);
	fedrpc_metrics_free(reg);
}

static fedrpc_metric *threads_c;

static void *
bump(void *arg)
{
	(void) arg;
	for (int i = 0; i < 20000; i++)
		fedrpc_metric_inc(threads_c,
		    (const char *[]){(i & 1) ? "odd" : "even"}, 1);
	return NULL;
}

Test(metrics, concurrent_updates_lose_nothing)
{
	fedrpc_metrics *reg = fedrpc_metrics_new();
	pthread_t       t[4];

	threads_c = fedrpc_metrics_add(reg, FEDRPC_METRIC_COUNTER, "x_total",
	    "", (const char *[]){"k", NULL}, NULL, 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, bump, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(fedrpc_metric_get(threads_c, (const char *[]){"odd"}), 40000);
	cr_assert_eq(fedrpc_metric_get(threads_c, (const char *[]){"even"}), 40000);
	fedrpc_metrics_free(reg);
}

static int seen_calls;
static int seen_tls;

static void
on_call(void *arg, const fedrpc_call_event *ev)
{
	cr_assert_eq(arg, &seen_calls);
	cr_assert_str_eq(ev->method, "m");
	seen_calls++;
}

static void
on_tls(void *arg, const fedrpc_tls_event *ev)
{
	(void) arg;
	cr_assert_str_eq(ev->reason, "r");
	seen_tls++;
}

Test(metrics, observer_set_and_cleared)
{
	static const fedrpc_observer o = {on_call, on_tls, &seen_calls};
	fedrpc_call_event            ev = {.method = "m"};

	cr_assert_not(fedrpc_observe_active());
	fedrpc_observe_call(&ev); /* nobody listens: nothing happens */
	fedrpc_observe_set(&o);
	cr_assert(fedrpc_observe_active());
	fedrpc_observe_call(&ev);
	fedrpc_observe_tls_failure(&(fedrpc_tls_event){.reason = "r"});
	fedrpc_observe_set(NULL);
	fedrpc_observe_call(&ev);
	cr_assert_eq(seen_calls, 1);
	cr_assert_eq(seen_tls, 1);
}
