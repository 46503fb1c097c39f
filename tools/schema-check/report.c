/*
 * Reporting a breaking change: the file and, when the set carries source
 * info (protoc --include_source_info), the line of the element concerned,
 * then what changed. One line per finding, as compilers print them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"

/* The 1-based line of the declaration at path, or 0 when unknown. */
static int
line_of(const sc_file_proto *f, const int32_t *path, size_t depth)
{
	const Google__Protobuf__SourceCodeInfo *info = f->source_code_info;

	if (info == NULL)
		return 0;
	for (size_t i = 0; i < info->n_location; i++) {
		const Google__Protobuf__SourceCodeInfo__Location *l =
		    info->location[i];

		if (l->n_path == depth && l->n_span >= 3 &&
		    memcmp(l->path, path, depth * sizeof(int32_t)) == 0)
			return l->span[0] + 1;
	}
	return 0;
}

void
sc_breaking(sc_report *r, const sc_loc *loc, const int32_t *sub,
    size_t n_sub, const char *fmt, ...)
{
	int32_t path[SC_PATH_MAX + 4];
	size_t  depth = loc->depth;
	int     line;
	va_list ap;

	memcpy(path, loc->path, depth * sizeof(int32_t));
	for (size_t i = 0; i < n_sub && depth < sizeof(path) / sizeof(path[0]);
	     i++)
		path[depth++] = sub[i];
	/* The sub-element's own line, else its parent's. */
	if ((line = line_of(loc->file, path, depth)) == 0)
		line = line_of(loc->file, loc->path, loc->depth);
	if (line > 0)
		fprintf(stderr, "%s:%d: ", loc->file->name, line);
	else
		fprintf(stderr, "%s: ", loc->file->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->breaking++;
}
