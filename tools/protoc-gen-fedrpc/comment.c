/*
 * Block comments for generated code. Prose is wrapped here rather than in
 * templates because the names in it (types, functions) vary in length.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comment.h"

#define COMMENT_WIDTH 80

/* The width of indent in columns (tabs of 8). */
static size_t
indent_width(const char *indent)
{
	size_t col = 0;

	for (; *indent != '\0'; indent++)
		col = *indent == '\t' ? (col / 8 + 1) * 8 : col + 1;
	return col;
}

/* One paragraph of prose, greedily filled to COMMENT_WIDTH. */
static void
prose(buf *b, const char *indent, const char *text, size_t len)
{
	size_t avail = COMMENT_WIDTH - indent_width(indent) - 3; /* " * " */
	size_t col   = 0;
	size_t i     = 0;

	while (i < len) {
		size_t w;

		while (i < len && text[i] == ' ')
			i++;
		if (i == len)
			break;
		for (w = 0; i + w < len && text[i + w] != ' '; w++)
			;
		if (col > 0 && col + 1 + w > avail) {
			buf_putc(b, '\n');
			col = 0;
		}
		if (col == 0) {
			buf_printf(b, "%s * ", indent);
		} else {
			buf_putc(b, ' ');
			col++;
		}
		buf_printf(b, "%.*s", (int) w, text + i);
		col += w;
		i += w;
	}
	if (col > 0)
		buf_putc(b, '\n');
}

static void
verbatim(buf *b, const char *indent, const char *text)
{
	while (*text != '\0') {
		size_t n = strcspn(text, "\n");

		if (n == 0)
			buf_printf(b, "%s *\n", indent);
		else
			buf_printf(b, "%s * %.*s\n", indent, (int) n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

void
comment_printf(buf *b, const char *indent, const char *schema,
    const char *fmt, ...)
{
	va_list ap;
	char   *text;
	int     first = 1;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0) {
		b->failed = true;
		text      = NULL;
	}
	va_end(ap);
	if (text == NULL)
		return;
	/* short and plain: one line */
	if ((schema == NULL || schema[0] == '\0') && strchr(text, '\n') == NULL &&
	    indent_width(indent) + strlen(text) + 6 <= COMMENT_WIDTH) {
		comment_line(b, indent, text);
		free(text);
		return;
	}
	buf_printf(b, "%s/*\n", indent);
	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");

		if (!first)
			buf_printf(b, "%s *\n", indent);
		prose(b, indent, p, len);
		first = 0;
		p += len;
		if (*p == '\n')
			p++;
	}
	free(text);
	if (schema != NULL && schema[0] != '\0') {
		if (!first)
			buf_printf(b, "%s *\n", indent);
		verbatim(b, indent, schema);
	}
	buf_printf(b, "%s */\n", indent);
}

void
comment_line(buf *b, const char *indent, const char *text)
{
	buf_printf(b, "%s/* %s */\n", indent, text);
}
