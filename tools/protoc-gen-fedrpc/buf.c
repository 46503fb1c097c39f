/*
 * Growable output string. An allocation failure is sticky: later appends
 * do nothing and buf_take() returns NULL, so callers check once at the end.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_WRAP_COLUMN 80

void
buf_init(buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(buf *b)
{
	free(b->data);
	buf_init(b);
}

/* Makes room for n more bytes plus the NUL. */
static bool
buf_reserve(buf *b, size_t n)
{
	size_t need, cap;
	char  *p;

	if (b->failed)
		return false;
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap  = cap;
	return true;
}

void
buf_putc(buf *b, char c)
{
	if (!buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
	b->data[b->len]   = '\0';
}

void
buf_puts(buf *b, const char *s)
{
	size_t n = strlen(s);

	if (!buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
}

void
buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!buf_reserve(b, (size_t) n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* The column after the last character of the current line (tabs of 8). */
static size_t
buf_column(const buf *b)
{
	size_t i = b->len, col = 0;

	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	for (; i < b->len; i++)
		col = b->data[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
	return col;
}

void
buf_list(buf *b, const char *head, const char *const *items, size_t n,
    const char *tail, const char *cont)
{
	buf_puts(b, head);
	for (size_t i = 0; i < n; i++) {
		/* The item and what follows it must fit on the line. */
		size_t need = strlen(items[i]) + (i + 1 < n ? 1 : strlen(tail));

		if (i > 0) {
			buf_putc(b, ',');
			if (buf_column(b) + 1 + need > BUF_WRAP_COLUMN) {
				buf_putc(b, '\n');
				buf_puts(b, cont);
			} else {
				buf_putc(b, ' ');
			}
		} else if (buf_column(b) + need > BUF_WRAP_COLUMN) {
			/* a long head: start the list on the next line */
			buf_putc(b, '\n');
			buf_puts(b, cont);
		}
		buf_puts(b, items[i]);
	}
	buf_puts(b, tail);
}

char *
buf_take(buf *b)
{
	char *s = b->data;

	if (b->failed) {
		buf_free(b);
		return NULL;
	}
	if (s == NULL)
		return strdup("");
	buf_init(b);
	return s;
}

const char *
scratch_printf(scratch *t, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	if (t->n == SCRATCH_MAX) {
		t->failed = true;
		return "";
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		t->failed = true;
		return "";
	}
	t->s[t->n++] = s;
	return s;
}

void
scratch_free(scratch *t, buf *out)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	if (t->failed)
		out->failed = true;
	t->n      = 0;
	t->failed = false;
}
