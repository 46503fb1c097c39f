/*
 * Builds a gen_file from protoc's descriptors. Every C name the stubs will
 * define is claimed here once, so two schema names that map to the same C
 * name are reported with both origins instead of failing later in cc.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "model.h"
#include "names.h"
#include "pbc_options.h"

/* Paths in SourceCodeInfo (descriptor.proto field numbers). */
#define FILE_SERVICE_FIELD   6
#define SERVICE_METHOD_FIELD 2

/* A C name the generated files define, and which schema element made it. */
typedef struct claim {
	char *name;  /* owned */
	char *owner; /* "method Health.Check"; owned */
} claim;

/* State while one file is built. */
typedef struct builder {
	const gen_request    *req;
	const gen_file_proto *fd;
	const char           *package; /* fd's package, "" for none */
	gen_file             *f;
	char                **err;     /* the caller's; first failure wins */
	int                   failed;  /* a failure was reported */
	int                   oom;     /* memory ran out */
	claim                *claims;  /* owned */
	size_t                n_claims;
	size_t                cap_claims;
} builder;

static int
fail(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(builder *b, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	if (b->failed)
		return -1;
	b->failed = 1;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	/* protoc shows the message as it is: say who is talking */
	if (s == NULL || asprintf(b->err, "fedrpc: %s", s) < 0)
		*b->err = NULL;
	free(s);
	return -1;
}

/* Records an allocation: a NULL marks the build as out of memory. */
static char *
keep(builder *b, char *s)
{
	if (s == NULL)
		b->oom = 1;
	return s;
}

static char *
fmt(builder *b, const char *format, ...) __attribute__((format(printf, 2, 3)));

static char *
fmt(builder *b, const char *format, ...)
{
	va_list ap;
	char   *s;

	va_start(ap, format);
	if (vasprintf(&s, format, ap) < 0)
		s = NULL;
	va_end(ap);
	return keep(b, s);
}

static const char *
str(const char *s)
{
	return s != NULL ? s : "";
}

/* Claims a C name for owner; fails when another element has it. */
static int
claim_name(builder *b, char *name, const char *owner)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < b->n_claims; i++) {
		if (strcmp(b->claims[i].name, name) == 0) {
			fail(b,
			    "in %s, %s and %s both make the C name %s; "
			    "rename one of them",
			    b->f->proto, b->claims[i].owner, owner, name);
			free(name);
			return -1;
		}
	}
	if (b->n_claims == b->cap_claims) {
		size_t cap = b->cap_claims ? b->cap_claims * 2 : 32;
		claim *c   = realloc(b->claims, cap * sizeof(*c));

		if (c == NULL) {
			b->oom = 1;
			free(name);
			return -1;
		}
		b->claims     = c;
		b->cap_claims = cap;
	}
	b->claims[b->n_claims].name  = name;
	b->claims[b->n_claims].owner = fmt(b, "%s", owner);
	if (b->claims[b->n_claims].owner == NULL) {
		free(name);
		return -1;
	}
	b->n_claims++;
	return 0;
}

/* Finds the message named by path (dotted, no package) among msgs. */
static const Google__Protobuf__DescriptorProto *
find_nested(Google__Protobuf__DescriptorProto *const *msgs, size_t n,
    const char *path)
{
	size_t len = strcspn(path, ".");

	for (size_t i = 0; i < n; i++) {
		const Google__Protobuf__DescriptorProto *m = msgs[i];

		if (m->name == NULL || strlen(m->name) != len ||
		    strncmp(m->name, path, len) != 0)
			continue;
		if (path[len] == '\0')
			return m;
		return find_nested(m->nested_type, m->n_nested_type,
		    path + len + 1);
	}
	return NULL;
}

/* The file (among all protoc sent) that defines ".pkg.Msg[.Nested]". */
static const gen_file_proto *
find_message_file(const gen_request *req, const char *type)
{
	for (size_t i = 0; i < req->n_proto_file; i++) {
		const gen_file_proto *pf  = req->proto_file[i];
		const char           *pkg = str(pf->package);
		size_t                n   = strlen(pkg);
		const char           *rest;

		if (type[0] != '.')
			return NULL;
		if (n == 0) {
			rest = type + 1;
		} else if (strncmp(type + 1, pkg, n) == 0 && type[1 + n] == '.') {
			rest = type + 2 + n;
		} else {
			continue;
		}
		if (find_nested(pf->message_type, pf->n_message_type, rest))
			return pf;
	}
	return NULL;
}

/* Resolves a method's input or output type to protoc-c's C names. */
static int
resolve_type(builder *b, gen_type *t, const char *type, const char *owner)
{
	const gen_file_proto *pf = find_message_file(b->req, type);
	pbc_file_options      po;
	const char           *full = type + 1; /* without the leading dot */
	const char           *pkg;
	size_t                n;
	char                 *c_full;

	if (pf == NULL)
		return fail(b, "%s in %s uses type %s, which protoc did not "
		               "describe", owner, b->f->proto, type);
	if (pbc_file_options_get(pf->options, &po) != 0)
		return fail(b, "%s: malformed (pb_c_file) options",
		    str(pf->name));
	pkg = str(pf->package);
	n   = strlen(pkg);
	/* protoc-c's OverrideFullName: c_package stands in for the package */
	if (po.c_package != NULL)
		c_full = fmt(b, "%s%s%s", po.c_package, n == 0 ? "." : "",
		    full + n);
	else
		c_full = fmt(b, "%s", full);
	pbc_file_options_free(&po);
	if (c_full == NULL)
		return -1;
	t->c = keep(b, names_pbc_full_to_c(c_full));
	{
		char *lower = keep(b, names_pbc_full_to_lower(c_full));
		t->desc     = lower ? fmt(b, "%s__descriptor", lower) : NULL;
		free(lower);
	}
	free(c_full);
	/* In comments: the name as written in this file's own package. */
	n = strlen(b->package);
	if (n > 0 && strncmp(full, b->package, n) == 0 && full[n] == '.')
		t->proto = fmt(b, "%s", full + n + 1);
	else
		t->proto = fmt(b, "%s", full);
	return t->c && t->desc && t->proto ? 0 : -1;
}

/*
 * The schema's leading comment at path, as lines ready for a C comment
 * (one leading space dropped, nothing that could end the comment), or NULL.
 */
static char *
comment_at(builder *b, const int32_t *path, size_t n_path)
{
	const Google__Protobuf__SourceCodeInfo *sci = b->fd->source_code_info;
	const char                             *text = NULL;
	buf                                     out;

	for (size_t i = 0; sci != NULL && i < sci->n_location; i++) {
		const Google__Protobuf__SourceCodeInfo__Location *l =
		    sci->location[i];

		if (l->n_path == n_path &&
		    memcmp(l->path, path, n_path * sizeof(*path)) == 0 &&
		    l->leading_comments != NULL) {
			text = l->leading_comments;
			break;
		}
	}
	if (text == NULL)
		return NULL;
	buf_init(&out);
	while (*text != '\0') {
		size_t len = strcspn(text, "\n");
		size_t start = (len > 0 && text[0] == ' ') ? 1 : 0;

		while (len > start && (text[len - 1] == ' ' ||
		                          text[len - 1] == '\t' ||
		                          text[len - 1] == '\r'))
			len--;
		if (out.len > 0)
			buf_putc(&out, '\n');
		for (size_t i = start; i < len; i++) {
			char c = text[i];

			/* keep "/" "*" pairs from opening or closing comments */
			buf_putc(&out, c);
			if (i + 1 < len && ((c == '*' && text[i + 1] == '/') ||
			                       (c == '/' && text[i + 1] == '*')))
				buf_putc(&out, ' ');
		}
		text += strcspn(text, "\n");
		if (*text == '\n')
			text++;
	}
	/* drop trailing blank lines */
	while (!out.failed && out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	if (!out.failed && out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	return keep(b, buf_take(&out));
}

static int
build_method(builder *b, gen_service *s, size_t si, size_t mi)
{
	const Google__Protobuf__MethodDescriptorProto *md =
	    b->fd->service[si]->method[mi];
	gen_method *m = &s->methods[mi];
	int32_t     path[] = {FILE_SERVICE_FIELD, (int32_t) si,
            SERVICE_METHOD_FIELD, (int32_t) mi};
	char       *owner, *snake;
	int         rc = 0;

	m->name = str(md->name);
	if ((owner = fmt(b, "method %s.%s", s->name, m->name)) == NULL)
		return -1;
	if (md->client_streaming || md->server_streaming) {
		rc = fail(b,
		    "method %s.%s in %s is %s; fedrpc supports unary methods "
		    "only",
		    s->name, m->name, b->f->proto,
		    md->client_streaming && md->server_streaming
		        ? "bidirectional-streaming"
		    : md->client_streaming ? "client-streaming"
		                           : "server-streaming");
		goto out;
	}
	if ((snake = keep(b, names_snake(m->name))) == NULL) {
		rc = -1;
		goto out;
	}
	if (snake[0] == '\0') {
		free(snake);
		rc = fail(b, "%s in %s has no letters or digits to name it in C",
		    owner, b->f->proto);
		goto out;
	}
	m->path  = fmt(b, "%s/%s", s->full_name, m->name);
	m->c     = fmt(b, "%s_%s", s->c, snake);
	m->upper = m->c ? keep(b, names_upper(m->c)) : NULL;
	m->field = names_is_keyword(snake) ? fmt(b, "%s_", snake)
	                                   : fmt(b, "%s", snake);
	free(snake);
	m->comment = comment_at(b, path, 4);
	if (b->oom || resolve_type(b, &m->in, str(md->input_type), owner) ||
	    resolve_type(b, &m->out, str(md->output_type), owner)) {
		rc = -1;
		goto out;
	}
	/* what emit_header.c and emit_source.c define for this method */
	if (claim_name(b, fmt(b, "%s", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_method", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_cb", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_async", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_handler_fn", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_done", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_thunk", m->c), owner) ||
	    claim_name(b, fmt(b, "%s_INDEX", m->upper), owner))
		rc = -1;
out:
	free(owner);
	return rc;
}

static int
build_service(builder *b, const char *c_package, size_t si)
{
	const Google__Protobuf__ServiceDescriptorProto *sd = b->fd->service[si];
	gen_service *s      = &b->f->services[si];
	int32_t      path[] = {FILE_SERVICE_FIELD, (int32_t) si};
	char        *pkg, *snake, *owner;
	int          rc = 0;

	s->name      = str(sd->name);
	s->full_name = b->package[0] != '\0'
	    ? fmt(b, "%s.%s", b->package, s->name)
	    : fmt(b, "%s", s->name);
	pkg   = keep(b, names_package_snake(c_package));
	snake = keep(b, names_snake(s->name));
	owner = fmt(b, "service %s", s->name);
	if (pkg == NULL || snake == NULL || owner == NULL) {
		rc = -1;
		goto out;
	}
	if (snake[0] == '\0') {
		rc = fail(b, "%s in %s has no letters or digits to name it in C",
		    owner, b->f->proto);
		goto out;
	}
	s->c       = pkg[0] != '\0' ? fmt(b, "%s_%s", pkg, snake)
	                            : fmt(b, "%s", snake);
	s->upper   = s->c ? keep(b, names_upper(s->c)) : NULL;
	s->comment = comment_at(b, path, 2);
	if (b->oom) {
		rc = -1;
		goto out;
	}
	if (claim_name(b, fmt(b, "%s_methods", s->c), owner) ||
	    claim_name(b, fmt(b, "%s_service", s->c), owner) ||
	    claim_name(b, fmt(b, "%s_handlers", s->c), owner) ||
	    claim_name(b, fmt(b, "%s_register", s->c), owner) ||
	    claim_name(b, fmt(b, "%s_N_METHODS", s->upper), owner)) {
		rc = -1;
		goto out;
	}
	s->n_methods = sd->n_method;
	if (s->n_methods > 0 &&
	    (s->methods = calloc(s->n_methods, sizeof(*s->methods))) == NULL) {
		b->oom = 1;
		rc     = -1;
		goto out;
	}
	for (size_t mi = 0; mi < s->n_methods && rc == 0; mi++)
		rc = build_method(b, s, si, mi);
out:
	free(pkg);
	free(snake);
	free(owner);
	return rc;
}

int
gen_file_build(gen_file *f, const gen_request *req, const gen_file_proto *fd,
    char **err)
{
	builder          b = {.req = req, .fd = fd, .f = f, .err = err};
	pbc_file_options po;
	int              rc = 0;

	memset(f, 0, sizeof(*f));
	*err      = NULL;
	b.package = str(fd->package);
	f->proto  = str(fd->name);
	f->base   = keep(&b, names_strip_proto(f->proto));
	f->guard  = f->base ? keep(&b, names_guard(f->base)) : NULL;
	if (pbc_file_options_get(fd->options, &po) != 0) {
		rc = fail(&b, "%s: malformed (pb_c_file) options", f->proto);
		goto out;
	}
	if (po.no_generate && fd->n_service > 0) {
		rc = fail(&b,
		    "%s sets (pb_c_file).no_generate, but its services need "
		    "the message code protoc-c would generate",
		    f->proto);
		goto out;
	}
	/* the helpers every generated source file defines */
	if (claim_name(&b, fmt(&b, "fedrpc_stub_pending"), "the stubs' helpers") ||
	    claim_name(&b, fmt(&b, "fedrpc_stub_pending_new"),
	        "the stubs' helpers")) {
		rc = -1;
		goto out;
	}
	f->n_services = fd->n_service;
	if (f->n_services > 0 &&
	    (f->services = calloc(f->n_services, sizeof(*f->services))) ==
	        NULL) {
		b.oom = 1;
		rc    = -1;
		goto out;
	}
	for (size_t si = 0; si < f->n_services && rc == 0; si++)
		rc = build_service(&b, po.c_package ? po.c_package : b.package, si);
out:
	pbc_file_options_free(&po);
	for (size_t i = 0; i < b.n_claims; i++) {
		free(b.claims[i].name);
		free(b.claims[i].owner);
	}
	free(b.claims);
	if (b.oom)
		rc = -1; /* with *err NULL unless something else failed first */
	if (rc != 0)
		gen_file_free(f);
	return rc;
}

static void
gen_type_free(gen_type *t)
{
	free(t->proto);
	free(t->c);
	free(t->desc);
}

void
gen_file_free(gen_file *f)
{
	for (size_t si = 0; si < f->n_services; si++) {
		gen_service *s = &f->services[si];

		for (size_t mi = 0; s->methods != NULL && mi < s->n_methods;
		     mi++) {
			gen_method *m = &s->methods[mi];

			free(m->path);
			free(m->c);
			free(m->upper);
			free(m->field);
			gen_type_free(&m->in);
			gen_type_free(&m->out);
			free(m->comment);
		}
		free(s->methods);
		free(s->full_name);
		free(s->c);
		free(s->upper);
		free(s->comment);
	}
	free(f->services);
	free(f->base);
	free(f->guard);
	memset(f, 0, sizeof(*f));
}
