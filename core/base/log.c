/*
 * One line per event: "2026-11-24T20:53:48.123Z INFO message". A single
 * fprintf per line under a lock, so lines from threads never interleave.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <fedrpc/log.h>

static fedrpc_log_level log_level  = FEDRPC_LOG_WARN;
static FILE            *log_stream = NULL;
static pthread_mutex_t  log_lock   = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

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

void
fedrpc_log(fedrpc_log_level level, const char *fmt, ...)
{
	char            msg[1024], stamp[32];
	struct timespec ts;
	struct tm       tm;
	va_list         ap;

	if (level < fedrpc_log_get_level() || level >= FEDRPC_LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(log_stream ? log_stream : stderr, "%s.%03ldZ %-5s %s\n", stamp,
	    ts.tv_nsec / 1000000, level_names[level], msg);
	fflush(log_stream ? log_stream : stderr);
	pthread_mutex_unlock(&log_lock);
}
