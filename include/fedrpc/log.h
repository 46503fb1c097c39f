/*
 * Logging: one line per event on stderr (or a file), with a timestamp and
 * a level, optionally as JSON. Thread-safe.
 */
#ifndef FEDRPC_LOG_H
#define FEDRPC_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fedrpc_log_level {
	FEDRPC_LOG_DEBUG = 0,
	FEDRPC_LOG_INFO  = 1,
	FEDRPC_LOG_WARN  = 2,
	FEDRPC_LOG_ERROR = 3,
	FEDRPC_LOG_OFF   = 4,
} fedrpc_log_level;

/* Lines below `level` are dropped. Default: WARN (INFO in daemons). */
void fedrpc_log_set_level(fedrpc_log_level level);
fedrpc_log_level fedrpc_log_get_level(void);
/* Where lines go; NULL: stderr. The stream stays the caller's. */
void fedrpc_log_set_stream(FILE *stream);
/* Parses "debug", "info", "warn", "error", "off"; -1 if unknown. */
int fedrpc_log_level_parse(const char *name);

void fedrpc_log(fedrpc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Lines as one JSON object each ({"time","level","msg", fields...}) or
 * as text ("TIME LEVEL msg key=value ..."); default text. */
void fedrpc_log_set_json(bool json);

/* A named value of a structured line: a string (str not NULL) or a
 * number. */
typedef struct fedrpc_log_field {
	const char *key;
	const char *str;
	int64_t     num;
} fedrpc_log_field;

/* A line with fields after its message: the access log's. */
void fedrpc_log_fields(fedrpc_log_level level, const fedrpc_log_field *fields,
    size_t n_fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FEDRPC_LOG_DEBUG(...) fedrpc_log(FEDRPC_LOG_DEBUG, __VA_ARGS__)
#define FEDRPC_LOG_INFO(...) fedrpc_log(FEDRPC_LOG_INFO, __VA_ARGS__)
#define FEDRPC_LOG_WARN(...) fedrpc_log(FEDRPC_LOG_WARN, __VA_ARGS__)
#define FEDRPC_LOG_ERROR(...) fedrpc_log(FEDRPC_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
