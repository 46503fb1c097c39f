/*
 * One line per event, as text ("2026-11-24T20:53:48.123Z INFO message
 * key=value") or as one JSON object ({"time":...,"level":"info","msg":
 * ...,"key":value}) for log collectors. A single fprintf per line under
 * a lock, so lines from threads never interleave. JSON is written here
 * by hand: the runtime does not depend on a JSON library.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <fedrpc/log.h>

static fedrpc_log_level log_level  = FEDRPC_LOG_WARN;
static FILE            *log_stream = NULL;
static bool             log_json   = false;
static pthread_mutex_t  log_lock   = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const json_levels[] = {"debug", "info", "warn", "error"};

/* Room most lines fit in; a longer one (escaping) gets the heap. */
#define LINE_STACK_BYTES 2048

void
fedrpc_log_set_level(fedrpc_log_level level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

fedrpc_log_level
fedrpc_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void
fedrpc_log_set_stream(FILE *stream)
{
	pthread_mutex_lock(&log_lock);
	log_stream = stream;
	pthread_mutex_unlock(&log_lock);
}

void
fedrpc_log_set_json(bool json)
{
	__atomic_store_n(&log_json, json, __ATOMIC_RELAXED);
}

int
fedrpc_log_level_parse(const char *name)
{
	static const char *const names[] = {"debug", "info", "warn", "error", "off"};

	for (int i = 0; i < 5; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	if (strcasecmp(name, "warning") == 0)
		return FEDRPC_LOG_WARN;
	return -1;
}

typedef struct line {
	char  *buf;   /* stack, or heap once grown */
	size_t len, cap;
	char   stack[LINE_STACK_BYTES];
	bool   oom;   /* the rest is dropped: the line ends early */
} line;

static void
put(line *l, const char *s, size_t n)
{
	if (l->oom)
		return;
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->len + n + 1) * 2;
		char  *p   = malloc(cap);

		if (p == NULL) {
			l->oom = true;
			return;
		}
		memcpy(p, l->buf, l->len + 1);
		if (l->buf != l->stack)
			free(l->buf);
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
puts_(line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A JSON string, quotes included; bytes below 0x20 as \u00XX. UTF-8 is
 * passed through (messages are ours or checked names). */
static void
put_json_str(line *l, const char *s)
{
	char esc[8];

	put(l, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char) c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else {
			put(l, s, 1);
		}
	}
	put(l, "\"", 1);
}

/* A text value: bare when it has no space, quote or '=', else quoted
 * as JSON quotes it (so both formats read back the same). */
static void
put_text_value(line *l, const char *s)
{
	if (s[0] != '\0' && strpbrk(s, " \"=\n\t\\") == NULL)
		puts_(l, s);
	else
		put_json_str(l, s);
}

static void
put_num(line *l, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	puts_(l, num);
}

static void
format_line(line *l, fedrpc_log_level level, const char *msg,
    const fedrpc_log_field *fields, size_t n)
{
	char            stamp[40];
	struct timespec ts;
	struct tm       tm;
	size_t          k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + k, sizeof(stamp) - k, ".%03ldZ", ts.tv_nsec / 1000000);
	l->buf    = l->stack;
	l->cap    = sizeof(l->stack);
	l->len    = 0;
	l->oom    = false;
	l->buf[0] = '\0';
	if (!__atomic_load_n(&log_json, __ATOMIC_RELAXED)) {
		char head[64];

		snprintf(head, sizeof(head), "%s %-5s ", stamp,
		    level_names[level]);
		puts_(l, head);
		puts_(l, msg);
		for (size_t i = 0; i < n; i++) {
			put(l, " ", 1);
			puts_(l, fields[i].key);
			put(l, "=", 1);
			if (fields[i].str != NULL)
				put_text_value(l, fields[i].str);
			else
				put_num(l, fields[i].num);
		}
		return;
	}
	puts_(l, "{\"time\":\"");
	puts_(l, stamp);
	puts_(l, "\",\"level\":\"");
	puts_(l, json_levels[level]);
	puts_(l, "\",\"msg\":");
	put_json_str(l, msg);
	for (size_t i = 0; i < n; i++) {
		put(l, ",", 1);
		put_json_str(l, fields[i].key);
		put(l, ":", 1);
		if (fields[i].str != NULL)
			put_json_str(l, fields[i].str);
		else
			put_num(l, fields[i].num);
	}
	put(l, "}", 1);
}

static void
emit(fedrpc_log_level level, const char *msg, const fedrpc_log_field *fields,
    size_t n)
{
	line  l;
	FILE *out;

	format_line(&l, level, msg, fields, n);
	pthread_mutex_lock(&log_lock);
	out = log_stream ? log_stream : stderr;
	/* Out of memory mid-line: what there is, never a broken object. */
	if (!l.oom)
		fprintf(out, "%s\n", l.buf);
	else
		fprintf(out, "%s\n", msg);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	if (l.buf != l.stack)
		free(l.buf);
}

void
fedrpc_log(fedrpc_log_level level, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	if (level < fedrpc_log_get_level() || level >= FEDRPC_LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg, NULL, 0);
}

void
fedrpc_log_fields(fedrpc_log_level level, const fedrpc_log_field *fields,
    size_t n_fields, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	if (level < fedrpc_log_get_level() || level >= FEDRPC_LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg, fields, n_fields);
}
