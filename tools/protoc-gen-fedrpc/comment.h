/*
 * C block comments in generated code: our own prose, word-wrapped at 80
 * columns, and the schema's comments, kept line for line.
 */
#ifndef FEDRPC_GEN_COMMENT_H
#define FEDRPC_GEN_COMMENT_H

#include "buf.h"

/*
 * Writes a block comment at indent ("" or "\t"): the printf-formatted
 * prose, word-wrapped, with "\n" between paragraphs; then the schema's
 * comment lines as they are (schema may be NULL), a paragraph apart.
 */
void comment_printf(buf *b, const char *indent, const char *schema,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes "<indent>/" "* text *" "/" on one line. */
void comment_line(buf *b, const char *indent, const char *text);

#endif
