/*
 * Metrics: counters, gauges and histograms registered by name and label
 * names in a registry, and the registry written out in the Prometheus
 * text format (version 0.0.4). The daemon owns one registry; the runtime
 * itself never sees it: it reports through core/base/observe.h, and the
 * daemon turns those reports into series here. Updating a series takes
 * one short lock per family (a lookup in a small hash table and an add);
 * a family holds at most FEDRPC_METRIC_SERIES_MAX label sets, later ones
 * are counted in one series whose labels are all "_other", so a peer that
 * sends made-up names cannot grow memory or the scrape without bound.
 */
#ifndef FEDRPC_CORE_BASE_METRICS_H
#define FEDRPC_CORE_BASE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define FEDRPC_METRIC_LABELS_MAX 4
#define FEDRPC_METRIC_SERIES_MAX 2000
#define FEDRPC_METRIC_BUCKETS_MAX 16

typedef enum fedrpc_metric_kind {
	FEDRPC_METRIC_COUNTER,
	FEDRPC_METRIC_GAUGE,
	FEDRPC_METRIC_HISTOGRAM,
} fedrpc_metric_kind;

typedef struct fedrpc_metrics fedrpc_metrics; /* a registry */
typedef struct fedrpc_metric  fedrpc_metric;  /* one family */

fedrpc_metrics *fedrpc_metrics_new(void);
void            fedrpc_metrics_free(fedrpc_metrics *reg);

/*
 * Registers a family; NULL when out of memory or the name is taken.
 * `labels` is a NULL-terminated list of label names (NULL: none); a
 * histogram's `bounds` are its bucket upper bounds, ascending (n_bounds
 * at most FEDRPC_METRIC_BUCKETS_MAX; "+Inf" is implied). Names follow
 * Prometheus' rules; counters end in _total. Strings are copied.
 */
fedrpc_metric *fedrpc_metrics_add(fedrpc_metrics *reg, fedrpc_metric_kind kind,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t n_bounds);

/* Adds n to a counter (or a gauge); `values` holds one string per label
 * name, in order (NULL entries count as ""). */
void fedrpc_metric_inc(fedrpc_metric *m, const char *const *values, double n);
/* Sets a gauge. */
void fedrpc_metric_set(fedrpc_metric *m, const char *const *values, double v);
/* Records one observation in a histogram. */
void fedrpc_metric_observe(
    fedrpc_metric *m, const char *const *values, double v);
/* Drops every series of a family (a gauge refilled at each scrape). */
void fedrpc_metric_clear(fedrpc_metric *m);
/* The value of a counter or gauge series (0 if absent), for tests. */
double fedrpc_metric_get(fedrpc_metric *m, const char *const *values);

/* The whole registry in the text format; malloc'ed, NUL-terminated,
 * *len its length. NULL when out of memory. */
char *fedrpc_metrics_render(fedrpc_metrics *reg, size_t *len);

#endif
