/*
 * The metrics registry (metrics.h): families in registration order, each
 * with its series in a small open-addressing table under the family's
 * lock, written out in the Prometheus text format. Kept apart from what
 * is measured: the daemon feeds it from the runtime's observer reports
 * and from its own state at each scrape.
 */
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/hash.h"
#include "core/base/metrics.h"

typedef struct series {
	char    *values[FEDRPC_METRIC_LABELS_MAX]; /* owned */
	uint64_t hash;
	double   value;                                /* counter, gauge */
	uint64_t counts[FEDRPC_METRIC_BUCKETS_MAX + 1]; /* per bucket, +Inf last */
	double   sum;
	uint64_t count;
} series;

struct fedrpc_metric {
	fedrpc_metric     *next;
	fedrpc_metric_kind kind;
	char              *name, *help; /* owned */
	char              *labels[FEDRPC_METRIC_LABELS_MAX];
	size_t             n_labels;
	double             bounds[FEDRPC_METRIC_BUCKETS_MAX];
	size_t             n_bounds;

	pthread_mutex_t mtx;
	series        **order;  /* insertion order; owned */
	size_t          n, cap;
	series        **table;  /* open addressing, size mask + 1 */
	size_t          mask;
};

struct fedrpc_metrics {
	pthread_mutex_t mtx;
	fedrpc_metric  *first, *last;
};

static const char *const other_values[FEDRPC_METRIC_LABELS_MAX] = {
	"_other", "_other", "_other", "_other"};

fedrpc_metrics *
fedrpc_metrics_new(void)
{
	fedrpc_metrics *reg = calloc(1, sizeof(*reg));

	if (reg != NULL)
		pthread_mutex_init(&reg->mtx, NULL);
	return reg;
}

static void
series_free(series *s)
{
	for (size_t i = 0; i < FEDRPC_METRIC_LABELS_MAX; i++)
		free(s->values[i]);
	free(s);
}

static void
family_free(fedrpc_metric *m)
{
	fedrpc_metric_clear(m);
	free(m->order);
	free(m->table);
	free(m->name);
	free(m->help);
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->labels[i]);
	pthread_mutex_destroy(&m->mtx);
	free(m);
}

void
fedrpc_metrics_free(fedrpc_metrics *reg)
{
	fedrpc_metric *m, *next;

	if (reg == NULL)
		return;
	for (m = reg->first; m != NULL; m = next) {
		next = m->next;
		family_free(m);
	}
	pthread_mutex_destroy(&reg->mtx);
	free(reg);
}

fedrpc_metric *
fedrpc_metrics_add(fedrpc_metrics *reg, fedrpc_metric_kind kind,
    const char *name, const char *help, const char *const *labels,
    const double *bounds, size_t n_bounds)
{
	fedrpc_metric *m;
	bool           taken = false;

	if (reg == NULL || n_bounds > FEDRPC_METRIC_BUCKETS_MAX ||
	    (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	pthread_mutex_init(&m->mtx, NULL);
	m->kind = kind;
	m->name = strdup(name);
	m->help = strdup(help != NULL ? help : "");
	for (; labels != NULL && labels[m->n_labels] != NULL &&
	     m->n_labels < FEDRPC_METRIC_LABELS_MAX;
	     m->n_labels++)
		m->labels[m->n_labels] = strdup(labels[m->n_labels]);
	if (n_bounds > 0)
		memcpy(m->bounds, bounds, n_bounds * sizeof(*bounds));
	m->n_bounds = n_bounds;
	if (m->name == NULL || m->help == NULL) {
		family_free(m);
		return NULL;
	}
	pthread_mutex_lock(&reg->mtx);
	for (fedrpc_metric *o = reg->first; o != NULL; o = o->next)
		taken = taken || strcmp(o->name, name) == 0;
	if (!taken) {
		if (reg->last != NULL)
			reg->last->next = m;
		else
			reg->first = m;
		reg->last = m;
	}
	pthread_mutex_unlock(&reg->mtx);
	if (taken) {
		family_free(m);
		return NULL;
	}
	return m;
}

static const char *
value_at(const char *const *values, size_t i)
{
	return values != NULL && values[i] != NULL ? values[i] : "";
}

static uint64_t
values_hash(const fedrpc_metric *m, const char *const *values)
{
	uint64_t h = FEDRPC_HASH_INIT;

	for (size_t i = 0; i < m->n_labels; i++) {
		h = fedrpc_hash_str(h, value_at(values, i));
		h = fedrpc_hash_bytes(h, "\0", 1);
	}
	return h;
}

static bool
series_is(const fedrpc_metric *m, const series *s, uint64_t h,
    const char *const *values)
{
	if (s->hash != h)
		return false;
	for (size_t i = 0; i < m->n_labels; i++)
		if (strcmp(s->values[i], value_at(values, i)) != 0)
			return false;
	return true;
}

/* Rebuilds the table at twice the size; m->mtx held. */
static bool
table_grow(fedrpc_metric *m)
{
	size_t   size = m->table == NULL ? 16 : (m->mask + 1) * 2;
	series **t    = calloc(size, sizeof(*t));

	if (t == NULL)
		return false;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = (size_t) m->order[i]->hash & (size - 1);

		while (t[j] != NULL)
			j = (j + 1) & (size - 1);
		t[j] = m->order[i];
	}
	free(m->table);
	m->table = t;
	m->mask  = size - 1;
	return true;
}

static series *
series_new(fedrpc_metric *m, uint64_t h, const char *const *values)
{
	series *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->hash = h;
	for (size_t i = 0; i < m->n_labels; i++)
		if ((s->values[i] = strdup(value_at(values, i))) == NULL) {
			series_free(s);
			return NULL;
		}
	return s;
}

/* The series for `values`, made if new; m->mtx held. NULL only when out
 * of memory. */
static series *
series_find(fedrpc_metric *m, const char *const *values)
{
	uint64_t h = values_hash(m, values);
	size_t   j;
	series  *s;

	if (m->table != NULL)
		for (j = (size_t) h & m->mask; m->table[j] != NULL;
		     j = (j + 1) & m->mask)
			if (series_is(m, m->table[j], h, values))
				return m->table[j];
	if (m->n >= FEDRPC_METRIC_SERIES_MAX && values != other_values)
		return series_find(m, other_values);
	if ((m->table == NULL || (m->n + 1) * 2 > m->mask + 1) &&
	    !table_grow(m))
		return NULL;
	if (m->n == m->cap) {
		size_t   cap = m->cap ? m->cap * 2 : 16;
		series **o   = realloc(m->order, cap * sizeof(*o));

		if (o == NULL)
			return NULL;
		m->order = o;
		m->cap   = cap;
	}
	if ((s = series_new(m, h, values)) == NULL)
		return NULL;
	for (j = (size_t) h & m->mask; m->table[j] != NULL; j = (j + 1) & m->mask)
		;
	m->table[j]    = s;
	m->order[m->n++] = s;
	return s;
}

void
fedrpc_metric_inc(fedrpc_metric *m, const char *const *values, double n)
{
	series *s;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mtx);
	if ((s = series_find(m, values)) != NULL)
		s->value += n;
	pthread_mutex_unlock(&m->mtx);
}

void
fedrpc_metric_set(fedrpc_metric *m, const char *const *values, double v)
{
	series *s;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mtx);
	if ((s = series_find(m, values)) != NULL)
		s->value = v;
	pthread_mutex_unlock(&m->mtx);
}

void
fedrpc_metric_observe(fedrpc_metric *m, const char *const *values, double v)
{
	series *s;
	size_t  b;

	if (m == NULL)
		return;
	for (b = 0; b < m->n_bounds && v > m->bounds[b]; b++)
		;
	pthread_mutex_lock(&m->mtx);
	if ((s = series_find(m, values)) != NULL) {
		s->counts[b]++;
		s->sum += v;
		s->count++;
	}
	pthread_mutex_unlock(&m->mtx);
}

void
fedrpc_metric_clear(fedrpc_metric *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mtx);
	for (size_t i = 0; i < m->n; i++)
		series_free(m->order[i]);
	m->n = 0;
	if (m->table != NULL)
		memset(m->table, 0, (m->mask + 1) * sizeof(*m->table));
	pthread_mutex_unlock(&m->mtx);
}

double
fedrpc_metric_get(fedrpc_metric *m, const char *const *values)
{
	uint64_t h;
	double   v = 0;

	if (m == NULL)
		return 0;
	h = values_hash(m, values);
	pthread_mutex_lock(&m->mtx);
	for (size_t i = 0; i < m->n; i++)
		if (series_is(m, m->order[i], h, values))
			v = m->order[i]->value;
	pthread_mutex_unlock(&m->mtx);
	return v;
}

/* ---- the text format ---- */

typedef struct outbuf {
	char  *p;
	size_t len, cap;
	bool   oom;
} outbuf;

static void
out_printf(outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int     n;

	for (;;) {
		if (o->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t) n < o->cap - o->len) {
			o->len += (size_t) n;
			return;
		}
		size_t cap = (o->cap + (size_t) n + 1) * 2;
		char  *p   = realloc(o->p, cap);

		if (p == NULL) {
			o->oom = true;
			return;
		}
		o->p   = p;
		o->cap = cap;
	}
}

/* A string with \, " and newline escaped (label values; help without
 * the quote). */
static void
out_escaped(outbuf *o, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			out_printf(o, "\\\\");
		else if (*s == '\n')
			out_printf(o, "\\n");
		else if (*s == '"' && quote)
			out_printf(o, "\\\"");
		else
			out_printf(o, "%c", *s);
	}
}

static void
out_number(outbuf *o, double v)
{
	if (isinf(v))
		out_printf(o, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		out_printf(o, "NaN");
	else if (v == floor(v) && fabs(v) < 9e15)
		out_printf(o, "%.0f", v);
	else
		out_printf(o, "%.15g", v);
}

/* {a="x",b="y"} plus an extra label (le) when not NULL. */
static void
out_labels(outbuf *o, const fedrpc_metric *m, const series *s,
    const char *extra, double extra_v)
{
	if (m->n_labels == 0 && extra == NULL)
		return;
	out_printf(o, "{");
	for (size_t i = 0; i < m->n_labels; i++) {
		out_printf(o, "%s%s=\"", i ? "," : "", m->labels[i]);
		out_escaped(o, s->values[i], true);
		out_printf(o, "\"");
	}
	if (extra != NULL) {
		out_printf(o, "%s%s=\"", m->n_labels ? "," : "", extra);
		out_number(o, extra_v);
		out_printf(o, "\"");
	}
	out_printf(o, "}");
}

static void
out_histogram(outbuf *o, const fedrpc_metric *m, const series *s)
{
	uint64_t cum = 0;

	for (size_t b = 0; b <= m->n_bounds; b++) {
		cum += s->counts[b];
		out_printf(o, "%s_bucket", m->name);
		out_labels(o, m, s, "le",
		    b < m->n_bounds ? m->bounds[b] : INFINITY);
		out_printf(o, " %llu\n", (unsigned long long) cum);
	}
	out_printf(o, "%s_sum", m->name);
	out_labels(o, m, s, NULL, 0);
	out_printf(o, " ");
	out_number(o, s->sum);
	out_printf(o, "\n%s_count", m->name);
	out_labels(o, m, s, NULL, 0);
	out_printf(o, " %llu\n", (unsigned long long) s->count);
}

static void
out_family(outbuf *o, fedrpc_metric *m)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};

	out_printf(o, "# HELP %s ", m->name);
	out_escaped(o, m->help, false);
	out_printf(o, "\n# TYPE %s %s\n", m->name, types[m->kind]);
	pthread_mutex_lock(&m->mtx);
	for (size_t i = 0; i < m->n; i++) {
		const series *s = m->order[i];

		if (m->kind == FEDRPC_METRIC_HISTOGRAM) {
			out_histogram(o, m, s);
			continue;
		}
		out_printf(o, "%s", m->name);
		out_labels(o, m, s, NULL, 0);
		out_printf(o, " ");
		out_number(o, s->value);
		out_printf(o, "\n");
	}
	pthread_mutex_unlock(&m->mtx);
}

char *
fedrpc_metrics_render(fedrpc_metrics *reg, size_t *len)
{
	outbuf o = {0};

	if ((o.p = malloc(o.cap = 4096)) == NULL)
		return NULL;
	o.p[0] = '\0';
	pthread_mutex_lock(&reg->mtx);
	for (fedrpc_metric *m = reg->first; m != NULL; m = m->next)
		out_family(&o, m);
	pthread_mutex_unlock(&reg->mtx);
	if (o.oom) {
		free(o.p);
		return NULL;
	}
	if (len != NULL)
		*len = o.len;
	return o.p;
}
