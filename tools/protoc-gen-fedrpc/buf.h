/*
 * A growable output string for the generator: append text, printf into it,
 * and lay out a comma-separated list that wraps at 80 columns.
 */
#ifndef FEDRPC_GEN_BUF_H
#define FEDRPC_GEN_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buf {
	char  *data;   /* NUL-terminated text; owned; NULL until first append */
	size_t len;    /* bytes used, not counting the NUL */
	size_t cap;    /* bytes allocated */
	bool   failed; /* an allocation failed: the text is incomplete */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);

void buf_putc(buf *b, char c);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Writes head, then the items separated by ", ", then tail, breaking the
 * line before an item that would pass column 80. A continuation line starts
 * with cont (e.g. "    " in a header, "\t    " in a function body).
 */
void buf_list(buf *b, const char *head, const char *const *items, size_t n,
    const char *tail, const char *cont);

/*
 * Hands the text to the caller (who frees it) and empties b. NULL when an
 * allocation failed at any point; b is freed either way.
 */
char *buf_take(buf *b);

/*
 * Short-lived formatted strings for building a declaration: each is freed
 * by scratch_free(). A failed allocation yields "" and marks out->failed,
 * which scratch_free() passes on.
 */
#define SCRATCH_MAX 32
typedef struct scratch {
	char  *s[SCRATCH_MAX]; /* owned */
	size_t n;
	bool   failed;
} scratch;

const char *scratch_printf(scratch *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees t's strings; marks out failed when any allocation failed. */
void scratch_free(scratch *t, buf *out);

#endif
