/*
 * The descriptor pool: files decoded with protoc-c's descriptor.proto
 * code, their messages, enums and services indexed by fully qualified
 * name (linear lists: a schema has tens of them, and lookups happen a
 * few times per command), fields sorted by number with their JSON names,
 * packing and presence worked out once by proto2/proto3 rules.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/file_read.h"
#include "rpc_pool.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define LABEL_REPEATED \
	GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED

typedef struct vec {
	void  **v;
	size_t  n, cap;
} vec;

struct rpc_pool {
	vec  files;    /* rpc_file_proto *, unpacked; owned */
	vec  messages; /* rpc_message *; owned */
	vec  enums;    /* rpc_enum *; owned */
	vec  services; /* rpc_service *; owned */
	bool resolved;
};

static int
vec_push(vec *v, void *p)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		void **nv  = realloc(v->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		v->v   = nv;
		v->cap = cap;
	}
	v->v[v->n++] = p;
	return 0;
}

rpc_pool *
rpc_pool_new(void)
{
	return calloc(1, sizeof(rpc_pool));
}

static void
message_free(rpc_message *m)
{
	for (size_t i = 0; i < m->n_fields; i++)
		free(m->fields[i].json_name);
	free(m->fields);
	free(m->full_name);
	free(m);
}

static void
service_free(rpc_service *s)
{
	for (size_t i = 0; i < s->n_methods; i++)
		free(s->methods[i].path);
	free(s->methods);
	free(s->full_name);
	free(s);
}

void
rpc_pool_free(rpc_pool *pool)
{
	if (pool == NULL)
		return;
	for (size_t i = 0; i < pool->messages.n; i++)
		message_free(pool->messages.v[i]);
	for (size_t i = 0; i < pool->enums.n; i++) {
		rpc_enum *e = pool->enums.v[i];

		free(e->full_name);
		free(e);
	}
	for (size_t i = 0; i < pool->services.n; i++)
		service_free(pool->services.v[i]);
	for (size_t i = 0; i < pool->files.n; i++)
		google__protobuf__file_descriptor_proto__free_unpacked(
		    pool->files.v[i], NULL);
	free(pool->messages.v);
	free(pool->enums.v);
	free(pool->services.v);
	free(pool->files.v);
	free(pool);
}

static char *
join(const char *scope, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", scope, scope[0] ? "." : "", name) < 0)
		return NULL;
	return s;
}

/* protoc's ToJsonName: "client_class" -> "clientClass". */
static char *
json_name_of(const char *name)
{
	char  *out = malloc(strlen(name) + 1);
	size_t k   = 0;
	bool   up  = false;

	if (out == NULL)
		return NULL;
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		out[k++] = up && *p >= 'a' && *p <= 'z' ? (char) (*p - 32) : *p;
		up       = false;
	}
	out[k] = '\0';
	return out;
}

static bool
is_proto3(const rpc_file_proto *f)
{
	return f->syntax != NULL && strcmp(f->syntax, "proto3") == 0;
}

static bool
packable(rpc_type t)
{
	return t != T(STRING) && t != T(BYTES) && t != T(MESSAGE) &&
	    t != T(GROUP);
}

static int
field_cmp(const void *a, const void *b)
{
	const rpc_field *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

static int
add_fields(rpc_message *m)
{
	const rpc_msg_proto *p  = m->p;
	bool                 p3 = is_proto3(m->file);

	m->n_fields = p->n_field;
	if (p->n_field > 0 &&
	    (m->fields = calloc(p->n_field, sizeof(*m->fields))) == NULL)
		return -1;
	for (size_t i = 0; i < p->n_field; i++) {
		const rpc_field_proto *fp = p->field[i];
		rpc_field             *f  = &m->fields[i];
		bool synthetic = fp->has_proto3_optional && fp->proto3_optional;

		f->p      = fp;
		f->name   = fp->name;
		f->number = (uint32_t) fp->number;
		f->type   = fp->type;
		f->json_name = fp->json_name != NULL ? strdup(fp->json_name)
						     : json_name_of(fp->name);
		if (f->json_name == NULL)
			return -1;
		f->repeated = fp->label == LABEL_REPEATED;
		f->oneof    = fp->has_oneof_index && !synthetic
		       ? fp->oneof_index
		       : -1;
		if (f->repeated && packable(f->type)) {
			bool set = fp->options != NULL && fp->options->has_packed;

			f->packed = set ? fp->options->packed : p3;
		}
		f->presence = !f->repeated &&
		    (!p3 || f->type == T(MESSAGE) || f->type == T(GROUP) ||
		        fp->has_oneof_index);
	}
	if (m->n_fields > 1)
		qsort(m->fields, m->n_fields, sizeof(*m->fields), field_cmp);
	return 0;
}

static const char *const wrappers[] = {
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
    "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue", "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
};

static int add_enum(rpc_pool *pool, const char *scope, const rpc_enum_proto *p);

static int
add_message(rpc_pool *pool, const rpc_file_proto *file, const char *scope,
    const rpc_msg_proto *p)
{
	rpc_message *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -1;
	m->p    = p;
	m->file = file;
	if ((m->full_name = join(scope, p->name)) == NULL ||
	    add_fields(m) != 0 || vec_push(&pool->messages, m) != 0) {
		message_free(m);
		return -1;
	}
	m->map_entry = p->options != NULL && p->options->has_map_entry &&
	    p->options->map_entry;
	for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
		m->wrapper |= strcmp(m->full_name, wrappers[i]) == 0;
	for (size_t i = 0; i < p->n_nested_type; i++)
		if (add_message(pool, file, m->full_name, p->nested_type[i]))
			return -1;
	for (size_t i = 0; i < p->n_enum_type; i++)
		if (add_enum(pool, m->full_name, p->enum_type[i]) != 0)
			return -1;
	return 0;
}

static int
add_enum(rpc_pool *pool, const char *scope, const rpc_enum_proto *p)
{
	rpc_enum *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	e->p = p;
	if ((e->full_name = join(scope, p->name)) == NULL ||
	    vec_push(&pool->enums, e) != 0) {
		free(e->full_name);
		free(e);
		return -1;
	}
	return 0;
}

static int
add_service(rpc_pool *pool, const rpc_file_proto *file, const rpc_svc_proto *p)
{
	const char  *pkg = file->package ? file->package : "";
	rpc_service *s   = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->p    = p;
	s->file = file;
	if ((s->full_name = join(pkg, p->name)) == NULL ||
	    (p->n_method > 0 &&
	        (s->methods = calloc(p->n_method, sizeof(*s->methods))) == NULL) ||
	    vec_push(&pool->services, s) != 0) {
		service_free(s);
		return -1;
	}
	s->n_methods = p->n_method;
	for (size_t i = 0; i < p->n_method; i++) {
		rpc_method *m = &s->methods[i];

		m->name      = p->method[i]->name;
		m->streaming = (p->method[i]->has_client_streaming &&
		                   p->method[i]->client_streaming) ||
		    (p->method[i]->has_server_streaming &&
		        p->method[i]->server_streaming);
		if (asprintf(&m->path, "%s/%s", s->full_name, m->name) < 0) {
			m->path = NULL;
			return -1;
		}
	}
	return 0;
}

bool
rpc_pool_has_file(const rpc_pool *pool, const char *name)
{
	for (size_t i = 0; i < pool->files.n; i++) {
		const rpc_file_proto *f = pool->files.v[i];

		if (f->name != NULL && strcmp(f->name, name) == 0)
			return true;
	}
	return false;
}

static fedrpc_code
oom(fedrpc_status *st)
{
	return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static fedrpc_code
index_file(rpc_pool *pool, rpc_file_proto *f, fedrpc_status *st)
{
	const char *pkg = f->package ? f->package : "";

	if (vec_push(&pool->files, f) != 0) {
		google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
		return oom(st);
	}
	pool->resolved = false;
	for (size_t i = 0; i < f->n_message_type; i++)
		if (add_message(pool, f, pkg, f->message_type[i]) != 0)
			return oom(st);
	for (size_t i = 0; i < f->n_enum_type; i++)
		if (add_enum(pool, pkg, f->enum_type[i]) != 0)
			return oom(st);
	for (size_t i = 0; i < f->n_service; i++)
		if (add_service(pool, f, f->service[i]) != 0)
			return oom(st);
	return FEDRPC_OK;
}

fedrpc_code
rpc_pool_add_file(rpc_pool *pool, const uint8_t *data, size_t len,
    const char *what, fedrpc_status *st)
{
	rpc_file_proto *f;

	f = google__protobuf__file_descriptor_proto__unpack(NULL, len, data);
	if (f == NULL || f->name == NULL) {
		if (f != NULL)
			google__protobuf__file_descriptor_proto__free_unpacked(
			    f, NULL);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: not a serialized FileDescriptorProto", what);
	}
	if (rpc_pool_has_file(pool, f->name)) {
		google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
		return FEDRPC_OK;
	}
	return index_file(pool, f, st);
}

fedrpc_code
rpc_pool_add_set(rpc_pool *pool, const uint8_t *data, size_t len,
    const char *what, fedrpc_status *st)
{
	Google__Protobuf__FileDescriptorSet *set;
	fedrpc_code                          rc = FEDRPC_OK;

	set = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
	if (set == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: not a FileDescriptorSet (protoc --descriptor_set_out "
		    "makes one)",
		    what);
	for (size_t i = 0; i < set->n_file && rc == FEDRPC_OK; i++) {
		rpc_file_proto *f = set->file[i];

		if (f->name == NULL || rpc_pool_has_file(pool, f->name))
			continue;
		set->file[i] = NULL; /* the pool owns it now */
		rc           = index_file(pool, f, st);
	}
	/* what is left over is freed with the set; the files handed over
	 * leave its list */
	{
		size_t k = 0;

		for (size_t i = 0; i < set->n_file; i++)
			if (set->file[i] != NULL)
				set->file[k++] = set->file[i];
		set->n_file = k;
	}
	google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
	return rc;
}

/* The largest descriptor set read. */
#define DESCRIPTOR_SET_MAX (64u << 20)

fedrpc_code
rpc_pool_add_set_file(rpc_pool *pool, const char *path, fedrpc_status *st)
{
	char       *data;
	size_t      len;
	int         err;
	fedrpc_code rc;

	if ((err = fedrpc_file_read(path, FEDRPC_FILE_STREAM, DESCRIPTOR_SET_MAX,
	         &data, &len)) != 0)
		return fedrpc_status_set(st,
		    err == ENOENT ? FEDRPC_NOT_FOUND : FEDRPC_INVALID_ARGUMENT,
		    "cannot read the descriptor set %s: %s", path,
		    err == EFBIG ? "larger than 64 MiB"
		                 : fedrpc_file_read_error(err));
	rc = rpc_pool_add_set(pool, (const uint8_t *) data, len, path, st);
	free(data);
	return rc;
}

fedrpc_code
rpc_pool_add_schema(
    rpc_pool *pool, const fedrpc_schema_file *f, fedrpc_status *st)
{
	if (rpc_pool_has_file(pool, f->name))
		return FEDRPC_OK;
	for (size_t i = 0; i < f->n_deps; i++)
		if (rpc_pool_add_schema(pool, f->deps[i], st) != FEDRPC_OK)
			return st->code;
	return rpc_pool_add_file(pool, f->descriptor, f->descriptor_len,
	    f->name, st);
}

static const char *
undot(const char *name)
{
	return name != NULL && name[0] == '.' ? name + 1 : name;
}

const rpc_message *
rpc_pool_message(const rpc_pool *pool, const char *name)
{
	name = undot(name);
	for (size_t i = 0; name != NULL && i < pool->messages.n; i++) {
		const rpc_message *m = pool->messages.v[i];

		if (strcmp(m->full_name, name) == 0)
			return m;
	}
	return NULL;
}

const rpc_enum *
rpc_pool_enum(const rpc_pool *pool, const char *name)
{
	name = undot(name);
	for (size_t i = 0; name != NULL && i < pool->enums.n; i++) {
		const rpc_enum *e = pool->enums.v[i];

		if (strcmp(e->full_name, name) == 0)
			return e;
	}
	return NULL;
}

const rpc_service *
rpc_pool_service(const rpc_pool *pool, const char *name)
{
	name = undot(name);
	for (size_t i = 0; name != NULL && i < pool->services.n; i++) {
		const rpc_service *s = pool->services.v[i];

		if (strcmp(s->full_name, name) == 0)
			return s;
	}
	return NULL;
}

const rpc_method *
rpc_pool_method(const rpc_pool *pool, const char *name)
{
	const char *sep;
	size_t      n;

	name = undot(name);
	if (name == NULL)
		return NULL;
	if ((sep = strchr(name, '/')) == NULL)
		sep = strrchr(name, '.');
	if (sep == NULL)
		return NULL;
	n = (size_t) (sep - name);
	for (size_t i = 0; i < pool->services.n; i++) {
		const rpc_service *s = pool->services.v[i];

		if (strlen(s->full_name) != n || strncmp(s->full_name, name, n))
			continue;
		for (size_t j = 0; j < s->n_methods; j++)
			if (strcmp(s->methods[j].name, sep + 1) == 0)
				return &s->methods[j];
	}
	return NULL;
}

size_t
rpc_pool_n_messages(const rpc_pool *pool)
{
	return pool->messages.n;
}

const rpc_message *
rpc_pool_message_at(const rpc_pool *pool, size_t i)
{
	return i < pool->messages.n ? pool->messages.v[i] : NULL;
}

size_t
rpc_pool_n_services(const rpc_pool *pool)
{
	return pool->services.n;
}

const rpc_service *
rpc_pool_service_at(const rpc_pool *pool, size_t i)
{
	return i < pool->services.n ? pool->services.v[i] : NULL;
}

static fedrpc_code
missing(const rpc_file_proto *file, const char *where, const char *type,
    fedrpc_status *st)
{
	return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
	    "%s: %s uses %s, which no loaded file defines (a descriptor set "
	    "needs --include_imports)",
	    file->name, where, undot(type));
}

static fedrpc_code
resolve_message(rpc_pool *pool, rpc_message *m, fedrpc_status *st)
{
	for (size_t i = 0; i < m->n_fields; i++) {
		rpc_field *f = &m->fields[i];
		char       where[320];

		snprintf(where, sizeof(where), "%s.%s", m->full_name, f->name);
		if (f->type == T(MESSAGE) || f->type == T(GROUP)) {
			if ((f->message = rpc_pool_message(pool,
			         f->p->type_name)) == NULL)
				return missing(m->file, where, f->p->type_name, st);
		} else if (f->type == T(ENUM)) {
			if ((f->enumt = rpc_pool_enum(pool, f->p->type_name)) ==
			    NULL)
				return missing(m->file, where, f->p->type_name, st);
		}
	}
	return FEDRPC_OK;
}

fedrpc_code
rpc_pool_resolve(rpc_pool *pool, fedrpc_status *st)
{
	for (size_t i = 0; i < pool->messages.n; i++)
		if (resolve_message(pool, pool->messages.v[i], st) != FEDRPC_OK)
			return st->code;
	for (size_t i = 0; i < pool->services.n; i++) {
		rpc_service *s = pool->services.v[i];

		for (size_t j = 0; j < s->n_methods; j++) {
			rpc_method *m = &s->methods[j];
			const Google__Protobuf__MethodDescriptorProto *p =
			    s->p->method[j];

			m->input  = rpc_pool_message(pool, p->input_type);
			m->output = rpc_pool_message(pool, p->output_type);
			if (m->input == NULL)
				return missing(s->file, m->path, p->input_type, st);
			if (m->output == NULL)
				return missing(s->file, m->path, p->output_type, st);
		}
	}
	pool->resolved = true;
	return FEDRPC_OK;
}

const rpc_field *
rpc_message_field(const rpc_message *m, const char *name)
{
	for (size_t i = 0; i < m->n_fields; i++)
		if (strcmp(m->fields[i].json_name, name) == 0 ||
		    strcmp(m->fields[i].name, name) == 0)
			return &m->fields[i];
	return NULL;
}

const rpc_field *
rpc_message_field_by_number(const rpc_message *m, uint32_t n)
{
	size_t lo = 0, hi = m->n_fields;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->fields[mid].number == n)
			return &m->fields[mid];
		if (m->fields[mid].number < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *
rpc_enum_value_name(const rpc_enum *e, int32_t number)
{
	for (size_t i = 0; i < e->p->n_value; i++)
		if (e->p->value[i]->number == number)
			return e->p->value[i]->name;
	return NULL;
}

bool
rpc_enum_value_number(const rpc_enum *e, const char *name, int32_t *out)
{
	for (size_t i = 0; i < e->p->n_value; i++)
		if (strcmp(e->p->value[i]->name, name) == 0) {
			*out = e->p->value[i]->number;
			return true;
		}
	return false;
}

const char *
rpc_field_type_name(const rpc_field *f)
{
	switch (f->type) {
	case T(DOUBLE): return "double";
	case T(FLOAT): return "float";
	case T(INT64): return "int64";
	case T(UINT64): return "uint64";
	case T(INT32): return "int32";
	case T(FIXED64): return "fixed64";
	case T(FIXED32): return "fixed32";
	case T(BOOL): return "bool";
	case T(STRING): return "string";
	case T(BYTES): return "bytes";
	case T(UINT32): return "uint32";
	case T(SFIXED32): return "sfixed32";
	case T(SFIXED64): return "sfixed64";
	case T(SINT32): return "sint32";
	case T(SINT64): return "sint64";
	case T(ENUM): return f->enumt ? f->enumt->full_name : "enum";
	case T(MESSAGE):
	case T(GROUP): return f->message ? f->message->full_name : "message";
	default: return "unknown";
	}
}
