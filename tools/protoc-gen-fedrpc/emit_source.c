/*
 * Writes <base>.fedrpc.c: the method tables and service descriptors, the
 * client stubs, and the skeleton's thunks and register functions. Typed
 * function pointers are only ever called through their own type: the
 * async stubs carry the caller's callback in a small heap pair restored by
 * a per-method completion function, and handler thunks cast the stored
 * fedrpc_fnptr back to the handler's exact type before calling it.
 */
#include <stdio.h>

#include "buf.h"
#include "comment.h"
#include "emit.h"

static void
pending_helper(buf *b)
{
	comment_printf(b, "", NULL,
	    "An asynchronous call in flight: the caller's typed callback and "
	    "its argument. Owned by the call; the method's completion "
	    "function frees it before calling the callback.");
	buf_puts(b,
	    "struct fedrpc_stub_pending {\n"
	    "\tfedrpc_fnptr cb;  /* the typed callback, cast back before the call */\n"
	    "\tvoid        *arg; /* the caller's argument */\n"
	    "};\n"
	    "\n"
	    "static struct fedrpc_stub_pending *\n"
	    "fedrpc_stub_pending_new(fedrpc_fnptr cb, void *arg)\n"
	    "{\n"
	    "\tstruct fedrpc_stub_pending *p = malloc(sizeof(*p));\n"
	    "\n"
	    "\tif (p != NULL) {\n"
	    "\t\tp->cb  = cb;\n"
	    "\t\tp->arg = arg;\n"
	    "\t}\n"
	    "\treturn p;\n"
	    "}\n");
}

static void
tables(buf *b, const gen_service *s)
{
	if (s->n_methods > 0) {
		/* sized by its initializers; the header's declaration checks
		 * the size against N_METHODS */
		buf_printf(b, "const fedrpc_method %s_methods[] = {\n", s->c);
		for (size_t i = 0; i < s->n_methods; i++) {
			const gen_method *m = &s->methods[i];

			buf_printf(b,
			    "\t[%s_INDEX] = {\n"
			    "\t\t.full_name = \"%s\",\n"
			    "\t\t.name      = \"%s\",\n"
			    "\t\t.input     = &%s,\n"
			    "\t\t.output    = &%s,\n"
			    "\t},\n",
			    m->upper, m->path, m->name, m->in.desc,
			    m->out.desc);
		}
		buf_puts(b, "};\n\n");
	}
	buf_printf(b,
	    "const fedrpc_service %s_service = {\n"
	    "\t.full_name = \"%s\",\n"
	    "\t.n_methods = %s_N_METHODS,\n"
	    "\t.methods   = %s%s,\n"
	    "};\n",
	    s->c, s->full_name, s->upper, s->n_methods > 0 ? s->c : "NULL",
	    s->n_methods > 0 ? "_methods" : "");
}

static void
blocking_stub(buf *b, const gen_method *m, scratch *t)
{
	const char *p[6];

	buf_puts(b, "fedrpc_code\n");
	p[0] = "fedrpc_channel *ch";
	p[1] = scratch_printf(t, "const %s *req", m->in.c);
	p[2] = scratch_printf(t, "%s **resp", m->out.c);
	p[3] = "const fedrpc_call_opts *opts";
	p[4] = "fedrpc_status *st";
	buf_list(b, scratch_printf(t, "%s(", m->c), p, 5, ")", "    ");
	buf_puts(b,
	    "\n{\n"
	    "\tProtobufCMessage *out = NULL;\n"
	    "\tfedrpc_code       rc;\n"
	    "\n");
	p[0] = "ch";
	p[1] = scratch_printf(t, "%s_method", m->c);
	p[2] = "(const ProtobufCMessage *) req";
	p[3] = "&out";
	p[4] = "opts";
	p[5] = "st";
	buf_list(b, "\trc = fedrpc_channel_call(", p, 6, ");", "\t    ");
	buf_printf(b,
	    "\n"
	    "\t*resp = (%s *) out;\n"
	    "\treturn rc;\n"
	    "}\n",
	    m->out.c);
}

static void
async_stub(buf *b, const gen_method *m, scratch *t)
{
	const char *p[8];

	comment_printf(b, "", NULL,
	    "Restores the typed callback of a call from %s_async().", m->c);
	buf_puts(b, "static void\n");
	p[0] = "void *arg";
	p[1] = "const fedrpc_status *st";
	p[2] = "ProtobufCMessage *resp";
	buf_list(b, scratch_printf(t, "%s_done(", m->c), p, 3, ")", "    ");
	buf_printf(b,
	    "\n{\n"
	    "\tstruct fedrpc_stub_pending *p = arg;\n"
	    "\tvoid *cb_arg = p->arg;\n"
	    "\t%s_cb cb;\n"
	    "\n"
	    "\tcb = (%s_cb) p->cb;\n"
	    "\tfree(p);\n"
	    "\tcb(cb_arg, st, (%s *) resp);\n"
	    "}\n\n",
	    m->c, m->c, m->out.c);

	buf_puts(b, "fedrpc_code\n");
	p[0] = "fedrpc_channel *ch";
	p[1] = scratch_printf(t, "const %s *req", m->in.c);
	p[2] = "const fedrpc_call_opts *opts";
	p[3] = scratch_printf(t, "%s_cb cb", m->c);
	p[4] = "void *arg";
	p[5] = "fedrpc_call **callp";
	p[6] = "fedrpc_status *st";
	buf_list(b, scratch_printf(t, "%s_async(", m->c), p, 7, ")", "    ");
	buf_printf(b,
	    "\n{\n"
	    "\tstruct fedrpc_stub_pending *p;\n"
	    "\tfedrpc_code                 rc;\n"
	    "\n"
	    "\tif (cb == NULL)\n"
	    "\t\treturn fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,\n"
	    "\t\t    \"%s: no callback\");\n"
	    "\tif ((p = fedrpc_stub_pending_new((fedrpc_fnptr) cb, arg)) == NULL)\n"
	    "\t\treturn fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,\n"
	    "\t\t    \"%s: out of memory\");\n",
	    m->path, m->path);
	p[0] = "ch";
	p[1] = scratch_printf(t, "%s_method", m->c);
	p[2] = "(const ProtobufCMessage *) req";
	p[3] = "opts";
	p[4] = scratch_printf(t, "%s_done", m->c);
	p[5] = "p";
	p[6] = "callp";
	p[7] = "st";
	buf_list(b, "\trc = fedrpc_channel_call_async(", p, 8, ");", "\t    ");
	buf_puts(b,
	    "\n"
	    "\tif (rc != FEDRPC_OK)\n"
	    "\t\tfree(p); /* the callback will never run */\n"
	    "\treturn rc;\n"
	    "}\n");
}

static void
thunk(buf *b, const gen_service *s, const gen_method *m, scratch *t)
{
	const char *p[5];

	comment_printf(b, "", NULL,
	    "Calls the typed %s handler that %s_register() stored.", m->name,
	    s->c);
	buf_puts(b, "static fedrpc_code\n");
	p[0] = "const fedrpc_handler *h";
	p[1] = "fedrpc_ctx *ctx";
	p[2] = "const ProtobufCMessage *req";
	p[3] = "ProtobufCMessage *resp";
	p[4] = "fedrpc_status *st";
	buf_list(b, scratch_printf(t, "%s_thunk(", m->c), p, 5, ")", "    ");
	buf_printf(b,
	    "\n{\n"
	    "\t%s_handler_fn fn;\n"
	    "\n"
	    "\tfn = (%s_handler_fn) h->typed;\n",
	    m->c, m->c);
	p[0] = "h->impl";
	p[1] = "ctx";
	p[2] = scratch_printf(t, "(const %s *) req", m->in.c);
	p[3] = scratch_printf(t, "(%s *) resp", m->out.c);
	p[4] = "st";
	buf_list(b, "\treturn fn(", p, 5, ");", "\t    ");
	buf_puts(b, "\n}\n");
}

static void
register_fn(buf *b, const gen_service *s, scratch *t)
{
	const char *p[4];

	buf_puts(b, "fedrpc_code\n");
	p[0] = "fedrpc_server *srv";
	p[1] = scratch_printf(t, "const %s_handlers *h", s->c);
	p[2] = "void *impl";
	p[3] = "fedrpc_status *st";
	buf_list(b, scratch_printf(t, "%s_register(", s->c), p, 4, ")", "    ");
	buf_printf(b,
	    "\n{\n"
	    "\tfedrpc_code rc;\n"
	    "\n"
	    "\tif (h == NULL)\n"
	    "\t\treturn fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,\n"
	    "\t\t    \"%s: no handlers\");\n",
	    s->full_name);
	for (size_t i = 0; i < s->n_methods; i++) {
		const gen_method *m = &s->methods[i];

		buf_printf(b,
		    "\tif (h->%s != NULL) {\n"
		    "\t\tconst fedrpc_handler reg = {\n"
		    "\t\t\t.method = %s_method,\n"
		    "\t\t\t.fn     = %s_thunk,\n"
		    "\t\t\t.typed  = (fedrpc_fnptr) h->%s,\n"
		    "\t\t\t.impl   = impl,\n"
		    "\t\t};\n"
		    "\n"
		    "\t\tif ((rc = fedrpc_server_add_handler(srv, &reg, st)) != FEDRPC_OK)\n"
		    "\t\t\treturn rc;\n"
		    "\t}\n",
		    m->field, m->c, m->c, m->field);
	}
	buf_puts(b, "\treturn FEDRPC_OK;\n}\n");
}

static void
service(buf *b, const gen_service *s)
{
	scratch t = {0};

	buf_printf(b, "\n/* ==== service %s ==== */\n\n", s->full_name);
	tables(b, s);
	for (size_t i = 0; i < s->n_methods; i++) {
		const gen_method *m = &s->methods[i];

		buf_printf(b, "\n/* ---- %s ---- */\n\n", m->name);
		blocking_stub(b, m, &t);
		buf_putc(b, '\n');
		async_stub(b, m, &t);
		buf_putc(b, '\n');
		thunk(b, s, m, &t);
		scratch_free(&t, b);
	}
	if (s->n_methods > 0) {
		buf_printf(b, "\n/* ---- %s: registration ---- */\n\n",
		    s->name);
		register_fn(b, s, &t);
		scratch_free(&t, b);
	}
}

char *
emit_source(const gen_file *f)
{
	buf  b;
	bool any_method = false;

	for (size_t i = 0; i < f->n_services; i++)
		any_method = any_method || f->services[i].n_methods > 0;
	buf_init(&b);
	buf_printf(&b, EMIT_BANNER, f->proto);
	comment_printf(&b, "", NULL,
	    "Method tables, client stubs and server skeleton thunks for the "
	    "services of %s; the API is in \"%s.fedrpc.h\".",
	    f->proto, f->base);
	buf_printf(&b, "#include <stdlib.h>\n\n#include \"%s.fedrpc.h\"\n",
	    f->base);
	if (any_method) {
		buf_putc(&b, '\n');
		pending_helper(&b);
	}
	for (size_t i = 0; i < f->n_services; i++)
		service(&b, &f->services[i]);
	return buf_take(&b);
}
