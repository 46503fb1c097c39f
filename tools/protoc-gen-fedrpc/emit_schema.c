/*
 * Writes <base>.schema.c for every .proto file, with or without services:
 * the file's FileDescriptorProto as protoc handed it to us, serialized
 * again without its source info (comments and spans are not needed to
 * encode a message and would triple the size), with the names it defines
 * and links to its imports' own schema files. This is what the reflection
 * service serves and what fedctl rpc reads (include/fedrpc/schema.h).
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "comment.h"
#include "emit.h"
#include "names.h"

typedef Google__Protobuf__DescriptorProto     msg_proto;
typedef Google__Protobuf__EnumDescriptorProto enum_proto;

char *
emit_schema_symbol(const char *proto)
{
	char *base = names_strip_proto(proto);
	buf   b;

	if (base == NULL)
		return NULL;
	buf_init(&b);
	buf_puts(&b, "fedrpc_schema_");
	for (const char *p = base; *p != '\0'; p++)
		buf_putc(&b, (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		                     (*p >= '0' && *p <= '9')
		                 ? *p
		                 : '_');
	free(base);
	return buf_take(&b);
}

static void
qualified(buf *b, const char *scope, const char *name)
{
	buf_printf(b, "\t\"%s%s%s\",\n", scope, scope[0] ? "." : "", name);
}

static void
enum_symbols(buf *b, const char *scope, size_t n, enum_proto *const *es)
{
	for (size_t i = 0; i < n; i++)
		qualified(b, scope, es[i]->name);
}

static size_t
message_symbols(buf *b, const char *scope, size_t n, msg_proto *const *ms)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		char *inner = NULL;

		qualified(b, scope, ms[i]->name);
		if (asprintf(&inner, "%s%s%s", scope, scope[0] ? "." : "",
		        ms[i]->name) < 0) {
			b->failed = true;
			continue;
		}
		enum_symbols(b, inner, ms[i]->n_enum_type, ms[i]->enum_type);
		count += 1 + ms[i]->n_enum_type +
		    message_symbols(b, inner, ms[i]->n_nested_type,
		        ms[i]->nested_type);
		free(inner);
	}
	return count;
}

/* The descriptor as bytes, 12 to a line. */
static void
descriptor_bytes(buf *b, const gen_file_proto *fd, size_t *len)
{
	gen_file_proto copy = *fd;
	uint8_t       *data;

	copy.source_code_info = NULL;
	*len = google__protobuf__file_descriptor_proto__get_packed_size(&copy);
	if ((data = malloc(*len ? *len : 1)) == NULL) {
		b->failed = true;
		return;
	}
	google__protobuf__file_descriptor_proto__pack(&copy, data);
	buf_puts(b, "static const uint8_t descriptor[] = {");
	for (size_t i = 0; i < *len; i++)
		buf_printf(b, "%s0x%02x,", i % 12 ? " " : "\n\t", data[i]);
	buf_puts(b, "\n};\n\n");
	free(data);
}

static void
deps(buf *b, const gen_file_proto *fd)
{
	if (fd->n_dependency == 0)
		return;
	for (size_t i = 0; i < fd->n_dependency; i++) {
		char *sym = emit_schema_symbol(fd->dependency[i]);

		buf_printf(b, "extern const fedrpc_schema_file %s;\n",
		    sym ? sym : "");
		b->failed |= sym == NULL;
		free(sym);
	}
	buf_puts(b, "\nstatic const fedrpc_schema_file *const deps[] = {\n");
	for (size_t i = 0; i < fd->n_dependency; i++) {
		char *sym = emit_schema_symbol(fd->dependency[i]);

		buf_printf(b, "\t&%s,\n", sym ? sym : "");
		b->failed |= sym == NULL;
		free(sym);
	}
	buf_puts(b, "};\n\n");
}

static size_t
symbols(buf *b, const gen_file_proto *fd)
{
	const char *pkg = fd->package ? fd->package : "";
	size_t      n   = fd->n_enum_type + fd->n_service;

	buf_puts(b, "static const char *const symbols[] = {\n");
	n += message_symbols(b, pkg, fd->n_message_type, fd->message_type);
	enum_symbols(b, pkg, fd->n_enum_type, fd->enum_type);
	for (size_t i = 0; i < fd->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];

		qualified(b, pkg, s->name);
		for (size_t j = 0; j < s->n_method; j++) {
			buf_printf(b, "\t\"%s%s%s.%s\",\n", pkg, pkg[0] ? "." : "",
			    s->name, s->method[j]->name);
			n++;
		}
	}
	buf_puts(b, "};\n\n");
	return n;
}

static size_t
methods(buf *b, const gen_file_proto *fd)
{
	const char *pkg = fd->package ? fd->package : "";
	size_t      n   = 0;

	for (size_t i = 0; i < fd->n_service; i++)
		n += fd->service[i]->n_method;
	if (n == 0)
		return 0;
	buf_puts(b, "static const char *const methods[] = {\n");
	for (size_t i = 0; i < fd->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];

		for (size_t j = 0; j < s->n_method; j++)
			buf_printf(b, "\t\"%s%s%s/%s\",\n", pkg, pkg[0] ? "." : "",
			    s->name, s->method[j]->name);
	}
	buf_puts(b, "};\n\n");
	return n;
}

char *
emit_schema(const gen_file_proto *fd)
{
	char  *sym = emit_schema_symbol(fd->name);
	size_t len = 0, n_symbols, n_methods;
	buf    b;

	if (sym == NULL)
		return NULL;
	buf_init(&b);
	buf_printf(&b, EMIT_BANNER, fd->name);
	comment_printf(&b, "", NULL,
	    "The schema of %s as data: its serialized FileDescriptorProto "
	    "(without source info), the names it defines and its imports "
	    "(include/fedrpc/schema.h).",
	    fd->name);
	buf_puts(&b, "#include <fedrpc/schema.h>\n\n");
	descriptor_bytes(&b, fd, &len);
	deps(&b, fd);
	n_symbols = symbols(&b, fd);
	n_methods = methods(&b, fd);
	buf_printf(&b,
	    "const fedrpc_schema_file %s = {\n"
	    "\t.name           = \"%s\",\n"
	    "\t.descriptor     = descriptor,\n"
	    "\t.descriptor_len = %zu,\n"
	    "\t.n_deps         = %zu,\n"
	    "\t.deps           = %s,\n"
	    "\t.n_symbols      = %zu,\n"
	    "\t.symbols        = symbols,\n"
	    "\t.n_methods      = %zu,\n"
	    "\t.methods        = %s,\n"
	    "};\n",
	    sym, fd->name, len, fd->n_dependency,
	    fd->n_dependency ? "deps" : "NULL", n_symbols, n_methods,
	    n_methods ? "methods" : "NULL");
	free(sym);
	return buf_take(&b);
}
