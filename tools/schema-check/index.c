/*
 * Loading a FileDescriptorSet and listing its messages (nested ones too),
 * enums and services by fully qualified name, with the SourceCodeInfo path
 * of each so that findings can cite a line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/file_read.h"
#include "schema.h"

/* Field numbers of descriptor.proto, the steps of a SourceCodeInfo path. */
enum {
	PATH_FILE_MESSAGE = 4,
	PATH_FILE_ENUM    = 5,
	PATH_FILE_SERVICE = 6,
	PATH_MSG_NESTED   = 3,
	PATH_MSG_ENUM     = 4,
};

static char *
join(const char *prefix, const char *name)
{
	size_t n = strlen(prefix) + strlen(name) + 2;
	char  *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s%s", prefix, prefix[0] ? "." : "", name);
	return s;
}

static bool
add(sc_set *s, sc_kind kind, const char *prefix, const char *name,
    const char *package, const void *proto, const sc_loc *loc)
{
	sc_elem *e;

	if (s->n == s->cap) {
		size_t   cap = s->cap ? 2 * s->cap : 64;
		sc_elem *v   = realloc(s->elems, cap * sizeof(*v));

		if (v == NULL)
			return false;
		s->elems = v;
		s->cap   = cap;
	}
	e          = &s->elems[s->n];
	e->kind    = kind;
	e->package = package;
	e->proto   = proto;
	e->loc     = *loc;
	if ((e->name = join(prefix, name)) == NULL)
		return false;
	s->n++;
	return true;
}

static sc_loc
loc_child(const sc_loc *parent, int32_t a, int32_t b)
{
	sc_loc l = *parent;

	if (l.depth + 2 <= SC_PATH_MAX) {
		l.path[l.depth++] = a;
		l.path[l.depth++] = b;
	}
	return l;
}

static bool
add_message(sc_set *s, const char *prefix, const char *package,
    const sc_msg_proto *m, const sc_loc *loc)
{
	const char *full; /* the element's own string: stays where it is */

	if (!add(s, SC_MESSAGE, prefix, m->name, package, m, loc))
		return false;
	full = s->elems[s->n - 1].name;
	for (size_t i = 0; i < m->n_nested_type; i++) {
		sc_loc l = loc_child(loc, PATH_MSG_NESTED, (int32_t) i);

		if (!add_message(s, full, package, m->nested_type[i], &l))
			return false;
	}
	for (size_t i = 0; i < m->n_enum_type; i++) {
		sc_loc l = loc_child(loc, PATH_MSG_ENUM, (int32_t) i);

		if (!add(s, SC_ENUM, full, m->enum_type[i]->name, package,
		        m->enum_type[i], &l))
			return false;
	}
	return true;
}

static bool
index_file(sc_set *s, const sc_file_proto *f)
{
	const char *pkg = f->package != NULL ? f->package : "";
	sc_loc      root = {.file = f};

	for (size_t i = 0; i < f->n_message_type; i++) {
		sc_loc l = loc_child(&root, PATH_FILE_MESSAGE, (int32_t) i);

		if (!add_message(s, pkg, pkg, f->message_type[i], &l))
			return false;
	}
	for (size_t i = 0; i < f->n_enum_type; i++) {
		sc_loc l = loc_child(&root, PATH_FILE_ENUM, (int32_t) i);

		if (!add(s, SC_ENUM, pkg, f->enum_type[i]->name, pkg,
		        f->enum_type[i], &l))
			return false;
	}
	for (size_t i = 0; i < f->n_service; i++) {
		sc_loc l = loc_child(&root, PATH_FILE_SERVICE, (int32_t) i);

		if (!add(s, SC_SERVICE, pkg, f->service[i]->name, pkg,
		        f->service[i], &l))
			return false;
	}
	return true;
}

/* The largest descriptor set read. */
#define SET_MAX (64u << 20)

bool
sc_set_load(sc_set *s, const char *path)
{
	char  *buf;
	size_t len;
	int    err;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if ((err = fedrpc_file_read(path, FEDRPC_FILE_STREAM, SET_MAX, &buf,
	         &len)) != 0) {
		fprintf(stderr, "fedrpc-schema-check: cannot read %s: %s\n", path,
		    err == EFBIG ? "larger than 64 MiB"
		                 : fedrpc_file_read_error(err));
		return false;
	}
	s->fds = google__protobuf__file_descriptor_set__unpack(
	    NULL, len, (const uint8_t *) buf);
	free(buf);
	if (s->fds == NULL || s->fds->n_file == 0) {
		fprintf(stderr,
		    "fedrpc-schema-check: %s is not a FileDescriptorSet (protoc "
		    "--include_imports --descriptor_set_out)\n",
		    path);
		sc_set_free(s);
		return false;
	}
	for (size_t i = 0; i < s->fds->n_file; i++) {
		if (!index_file(s, s->fds->file[i])) {
			fprintf(stderr, "fedrpc-schema-check: out of memory\n");
			sc_set_free(s);
			return false;
		}
	}
	return true;
}

void
sc_set_free(sc_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->elems[i].name);
	free(s->elems);
	if (s->fds != NULL)
		google__protobuf__file_descriptor_set__free_unpacked(s->fds, NULL);
	memset(s, 0, sizeof(*s));
}

const sc_elem *
sc_set_find(const sc_set *s, sc_kind kind, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->elems[i].kind == kind && strcmp(s->elems[i].name, name) == 0)
			return &s->elems[i];
	return NULL;
}

bool
sc_set_has_package(const sc_set *s, const char *package)
{
	for (size_t i = 0; i < s->fds->n_file; i++)
		if (strcmp(s->fds->file[i]->package != NULL
		               ? s->fds->file[i]->package
		               : "",
		        package) == 0)
			return true;
	return false;
}
