/*
 * Writes <base>.fedrpc.h: per service, the method table and service
 * descriptor, then per method the client stubs (blocking and async) and
 * the handler type, then the skeleton (handlers struct and register).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "comment.h"
#include "emit.h"

static void
method_table(buf *b, const gen_service *s)
{
	if (s->n_methods > 0)
		comment_printf(b, "", NULL,
		    "Indexes into %s_methods[], in schema order.", s->c);
	else
		comment_line(b, "", "The service has no methods yet.");
	buf_puts(b, "enum {\n");
	for (size_t i = 0; i < s->n_methods; i++)
		buf_printf(b, "\t%s_INDEX = %zu,\n", s->methods[i].upper, i);
	buf_printf(b, "\t%s_N_METHODS = %zu\n", s->upper, s->n_methods);
	buf_puts(b, "};\n\n");

	if (s->n_methods > 0) {
		comment_line(b, "",
		    "The service's methods: wire names and message types.");
		buf_printf(b, "extern const fedrpc_method%s%s_methods[%s_N_METHODS];\n",
		    strlen(s->c) + strlen(s->upper) + 48 > 80 ? "\n    " : " ",
		    s->c, s->upper);
	}
	buf_printf(b, "/* The service: \"%s\" and its methods. */\n",
	    s->full_name);
	buf_printf(b, "extern const fedrpc_service %s_service;\n", s->c);
}

static void
client_stubs(buf *b, const gen_service *s, const gen_method *m)
{
	scratch     t = {0};
	const char *p[7];

	buf_printf(b, "/* %s */\n", m->path);
	buf_printf(b, "#define %s_method \\\n\t(&%s_methods[%s_INDEX])\n\n",
	    m->c, s->c, m->upper);

	comment_printf(b, "", NULL,
	    "Calls %s and waits for the reply. On FEDRPC_OK *resp receives "
	    "the response, which the caller frees with "
	    "protobuf_c_message_free_unpacked(&(*resp)->base, NULL); "
	    "otherwise *resp is NULL and st says why. opts may be NULL.",
	    m->name);
	p[0] = "fedrpc_channel *ch";
	p[1] = scratch_printf(&t, "const %s *req", m->in.c);
	p[2] = scratch_printf(&t, "%s **resp", m->out.c);
	p[3] = "const fedrpc_call_opts *opts";
	p[4] = "fedrpc_status *st";
	buf_list(b, scratch_printf(&t, "fedrpc_code %s(", m->c), p, 5, ");",
	    "    ");
	buf_puts(b, "\n\n");

	comment_printf(b, "", NULL,
	    "Completion of %s_async(), run exactly once on an nng thread (it "
	    "must not block). resp is NULL unless st->code is OK; the "
	    "callback then owns it and frees it with "
	    "protobuf_c_message_free_unpacked(&resp->base, NULL). st is only "
	    "valid during the callback.",
	    m->c);
	p[0] = "void *arg";
	p[1] = "const fedrpc_status *st";
	p[2] = scratch_printf(&t, "%s *resp", m->out.c);
	buf_list(b, scratch_printf(&t, "typedef void (*%s_cb)(", m->c), p, 3,
	    ");", "    ");
	buf_puts(b, "\n\n");

	comment_printf(b, "", NULL,
	    "Starts %s and returns at once. On FEDRPC_OK cb runs exactly once "
	    "with arg; otherwise it never runs and st says why. If callp is "
	    "not NULL it receives a handle for fedrpc_call_cancel(), which "
	    "the caller releases with fedrpc_call_release(). opts may be "
	    "NULL.",
	    m->name);
	p[0] = "fedrpc_channel *ch";
	p[1] = scratch_printf(&t, "const %s *req", m->in.c);
	p[2] = "const fedrpc_call_opts *opts";
	p[3] = scratch_printf(&t, "%s_cb cb", m->c);
	p[4] = "void *arg";
	p[5] = "fedrpc_call **callp";
	p[6] = "fedrpc_status *st";
	buf_list(b, scratch_printf(&t, "fedrpc_code %s_async(", m->c), p, 7,
	    ");", "    ");
	buf_puts(b, "\n\n");

	comment_printf(b, "", NULL,
	    "Serves %s: req is the decoded request, resp an empty response "
	    "to fill, its memory from fedrpc_ctx_alloc() and friends (freed "
	    "after the reply). Returns FEDRPC_OK, or a code with a message "
	    "set in st, and then no response is sent. Runs on a server "
	    "worker thread and may block.",
	    m->name);
	p[0] = "void *impl";
	p[1] = "fedrpc_ctx *ctx";
	p[2] = scratch_printf(&t, "const %s *req", m->in.c);
	p[3] = scratch_printf(&t, "%s *resp", m->out.c);
	p[4] = "fedrpc_status *st";
	buf_list(b,
	    scratch_printf(&t, "typedef fedrpc_code (*%s_handler_fn)(", m->c),
	    p, 5, ");", "    ");
	buf_putc(b, '\n');
	scratch_free(&t, b);
}

static void
skeleton(buf *b, const gen_service *s)
{
	scratch     t = {0};
	const char *p[4];

	comment_printf(b, "", NULL,
	    "Server skeleton of %s: a handler per method. A NULL handler "
	    "leaves its method unserved (callers get UNIMPLEMENTED).",
	    s->full_name);
	buf_printf(b, "typedef struct %s_handlers {\n", s->c);
	for (size_t i = 0; i < s->n_methods; i++) {
		const gen_method *m = &s->methods[i];

		comment_printf(b, "\t", NULL, "%s(%s) returns (%s)", m->name,
		    m->in.proto, m->out.proto);
		buf_printf(b, "\t%s_handler_fn %s;\n", m->c, m->field);
	}
	buf_printf(b, "} %s_handlers;\n\n", s->c);

	comment_printf(b, "", NULL,
	    "Registers the non-NULL handlers of h with srv, before "
	    "fedrpc_server_start(); each is called with impl. h need not "
	    "outlive the call. Fails with EXISTS when a method already has a "
	    "handler; those registered before the failing one stay "
	    "registered.");
	p[0] = "fedrpc_server *srv";
	p[1] = scratch_printf(&t, "const %s_handlers *h", s->c);
	p[2] = "void *impl";
	p[3] = "fedrpc_status *st";
	buf_list(b, scratch_printf(&t, "fedrpc_code %s_register(", s->c), p, 4,
	    ");", "    ");
	buf_putc(b, '\n');
	scratch_free(&t, b);
}

static void
service(buf *b, const gen_service *s)
{
	comment_printf(b, "", s->comment, "==== service %s ====", s->full_name);
	buf_putc(b, '\n');
	method_table(b, s);
	for (size_t i = 0; i < s->n_methods; i++) {
		const gen_method *m = &s->methods[i];
		scratch           t = {0};
		const char       *about;

		/* the message types, then the schema's own words */
		about = scratch_printf(&t, "request:  %s\nresponse: %s%s%s",
		    m->in.proto, m->out.proto, m->comment ? "\n\n" : "",
		    m->comment ? m->comment : "");
		buf_putc(b, '\n');
		comment_printf(b, "", about, "---- %s ----", m->name);
		scratch_free(&t, b);
		buf_putc(b, '\n');
		client_stubs(b, s, m);
	}
	if (s->n_methods > 0) {
		buf_putc(b, '\n');
		skeleton(b, s);
	}
}

char *
emit_header(const gen_file *f)
{
	buf   b;
	char *sym;

	buf_init(&b);
	buf_printf(&b, EMIT_BANNER, f->proto);
	comment_printf(&b, "", NULL,
	    "Typed client stubs and server skeletons for the services of %s: "
	    "thin wrappers over fedrpc_channel_call(), "
	    "fedrpc_channel_call_async() and fedrpc_server_add_handler(). The "
	    "message types are protoc-c's, from \"%s.pb-c.h\".",
	    f->proto, f->base);
	buf_printf(&b, "#ifndef %s\n#define %s\n\n", f->guard, f->guard);
	buf_puts(&b, "#include <fedrpc/channel.h>\n#include <fedrpc/schema.h>\n#include <fedrpc/server.h>\n\n");
	buf_printf(&b, "#include \"%s.pb-c.h\"\n\n", f->base);
	buf_puts(&b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
	sym = emit_schema_symbol(f->proto);
	comment_printf(&b, "", NULL,
	    "The schema of %s as data (\"%s.schema.c\"), for reflection.",
	    f->proto, f->base);
	buf_printf(&b, "extern const fedrpc_schema_file %s;\n",
	    sym ? sym : "");
	if (sym == NULL)
		b.failed = true;
	free(sym);
	for (size_t i = 0; i < f->n_services; i++) {
		buf_putc(&b, '\n');
		service(&b, &f->services[i]);
	}
	buf_puts(&b, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
	return buf_take(&b);
}
