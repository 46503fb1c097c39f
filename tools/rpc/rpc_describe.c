/*
 * .proto-like text for fedctl rpc describe (rpc_describe.h), written to a
 * memory stream.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_describe.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

static const char *
short_name(const char *full)
{
	const char *dot = strrchr(full, '.');

	return dot ? dot + 1 : full;
}

static void
field_line(FILE *out, const rpc_message *m, const rpc_field *f)
{
	fputs("  ", out);
	if (f->repeated && f->message && f->message->map_entry) {
		const rpc_field *k = rpc_message_field_by_number(f->message, 1);
		const rpc_field *v = rpc_message_field_by_number(f->message, 2);

		fprintf(out, "map<%s, %s>", k ? rpc_field_type_name(k) : "?",
		    v ? rpc_field_type_name(v) : "?");
	} else {
		if (f->repeated)
			fputs("repeated ", out);
		else if (f->p->has_proto3_optional && f->p->proto3_optional)
			fputs("optional ", out);
		fputs(rpc_field_type_name(f), out);
	}
	fprintf(out, " %s = %u;", f->name, f->number);
	fprintf(out, "  // JSON \"%s\"", f->json_name);
	if (f->oneof >= 0 && (size_t) f->oneof < m->p->n_oneof_decl)
		fprintf(out, ", oneof %s", m->p->oneof_decl[f->oneof]->name);
	fputc('\n', out);
}

static void
message_text(FILE *out, const rpc_message *m)
{
	fprintf(out, "message %s {  // %s (%s)\n", short_name(m->full_name),
	    m->full_name, m->file->name);
	for (size_t i = 0; i < m->n_fields; i++)
		field_line(out, m, &m->fields[i]);
	fputs("}\n", out);
}

static void
enum_text(FILE *out, const rpc_enum *e)
{
	fprintf(out, "enum %s {  // %s\n", short_name(e->full_name),
	    e->full_name);
	for (size_t i = 0; i < e->p->n_value; i++)
		fprintf(out, "  %s = %d;\n", e->p->value[i]->name,
		    e->p->value[i]->number);
	fputs("}\n", out);
}

static void
method_line(FILE *out, const rpc_method *m)
{
	fprintf(out, "  rpc %s(%s) returns (%s);%s\n", m->name,
	    m->input ? m->input->full_name : "?",
	    m->output ? m->output->full_name : "?",
	    m->streaming ? "  // streaming: fedrpc cannot call it" : "");
}

fedrpc_code
rpc_describe(const rpc_pool *pool, const char *symbol, char **out,
    fedrpc_status *st)
{
	const rpc_service *s;
	const rpc_method  *m;
	const rpc_message *msg;
	const rpc_enum    *e;
	size_t             len;
	FILE              *f;

	*out = NULL;
	if ((f = open_memstream(out, &len)) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	if ((s = rpc_pool_service(pool, symbol)) != NULL) {
		fprintf(f, "service %s {  // %s (%s)\n", short_name(s->full_name),
		    s->full_name, s->file->name);
		for (size_t i = 0; i < s->n_methods; i++)
			method_line(f, &s->methods[i]);
		fputs("}\n", f);
	} else if ((msg = rpc_pool_message(pool, symbol)) != NULL) {
		message_text(f, msg);
	} else if ((e = rpc_pool_enum(pool, symbol)) != NULL) {
		enum_text(f, e);
	} else if ((m = rpc_pool_method(pool, symbol)) != NULL) {
		fprintf(f, "%s:\n", m->path);
		method_line(f, m);
		if (m->input != NULL) {
			fputc('\n', f);
			message_text(f, m->input);
		}
		if (m->output != NULL && m->output != m->input) {
			fputc('\n', f);
			message_text(f, m->output);
		}
	} else {
		fclose(f);
		free(*out);
		*out = NULL;
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no service, method, message or enum \"%s\" in the schemas",
		    symbol);
	}
	if (fclose(f) != 0 || *out == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	return FEDRPC_OK;
}
