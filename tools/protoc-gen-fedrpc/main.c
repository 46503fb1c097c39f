/*
 * protoc-gen-fedrpc: a protoc plugin. Reads a CodeGeneratorRequest on
 * stdin and answers a CodeGeneratorResponse on stdout with, for every file
 * to generate that has services, <dir>/<name>.fedrpc.h and .fedrpc.c next
 * to protoc-c's <dir>/<name>.pb-c.h. A schema fedrpc cannot serve is
 * answered with the response's error, which protoc prints before failing.
 *
 *   protoc --c_out=OUT --plugin=protoc-gen-fedrpc=PATH --fedrpc_out=OUT x.proto
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/version.h>

#include "emit.h"
#include "model.h"
#include "names.h"

typedef Google__Protobuf__Compiler__CodeGeneratorResponse       gen_response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File gen_out_file;

/* The generated files of one run; a response borrows them to pack. */
typedef struct outputs {
	gen_out_file  *files; /* owned, with their name and content */
	gen_out_file **ptrs;  /* owned; the response's view of files */
	size_t         n;
	size_t         cap;
} outputs;

static int
read_all(int fd, uint8_t **data, size_t *len)
{
	size_t   cap = 64 * 1024, n = 0;
	uint8_t *p   = malloc(cap);

	if (p == NULL)
		return -1;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			uint8_t *q = realloc(p, cap * 2);

			if (q == NULL) {
				free(p);
				return -1;
			}
			p = q;
			cap *= 2;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(p);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t) got;
	}
	*data = p;
	*len  = n;
	return 0;
}

static int
write_all(int fd, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t put = write(fd, data, len);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		data += put;
		len -= (size_t) put;
	}
	return 0;
}

/* Adds a file named base + suffix; takes content (which may be NULL). */
static int
outputs_add(outputs *o, const char *base, const char *suffix, char *content)
{
	gen_out_file *f;

	if (content == NULL)
		return -1;
	if (o->n == o->cap) {
		size_t        cap = o->cap ? o->cap * 2 : 8;
		gen_out_file *nf  = realloc(o->files, cap * sizeof(*nf));

		if (nf == NULL) {
			free(content);
			return -1;
		}
		o->files = nf;
		o->cap   = cap;
	}
	f = &o->files[o->n];
	google__protobuf__compiler__code_generator_response__file__init(f);
	f->content = content;
	if (asprintf(&f->name, "%s%s", base, suffix) < 0) {
		free(content);
		return -1;
	}
	o->n++;
	return 0;
}

static void
outputs_free(outputs *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->files[i].name);
		free(o->files[i].content);
	}
	free(o->files);
	free(o->ptrs);
	memset(o, 0, sizeof(*o));
}

static const gen_file_proto *
find_file(const gen_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_proto_file; i++)
		if (req->proto_file[i]->name != NULL &&
		    strcmp(req->proto_file[i]->name, name) == 0)
			return req->proto_file[i];
	return NULL;
}

/* <base>.schema.c, the file's descriptor as data, for every file. */
static int
add_schema(outputs *o, const gen_file_proto *fd)
{
	char *base = names_strip_proto(fd->name);
	int   rc;

	if (base == NULL)
		return -1;
	rc = outputs_add(o, base, ".schema.c", emit_schema(fd));
	free(base);
	return rc;
}

/*
 * Generates every file asked for into o. Returns NULL on success, else the
 * error for protoc's user (malloc'd).
 */
static char *
generate(const gen_request *req, outputs *o)
{
	char *err = NULL;

	if (req->parameter != NULL && req->parameter[0] != '\0') {
		if (asprintf(&err, "fedrpc: unknown parameter \"%s\" (the "
		                   "plugin takes none)",
		        req->parameter) < 0)
			return strdup("fedrpc: out of memory");
		return err;
	}
	for (size_t i = 0; i < req->n_file_to_generate; i++) {
		const char           *name = req->file_to_generate[i];
		const gen_file_proto *fd   = find_file(req, name);
		gen_file              f;

		if (fd == NULL) {
			if (asprintf(&err, "fedrpc: protoc did not describe %s",
			        name) < 0)
				err = NULL;
			break;
		}
		if (add_schema(o, fd) != 0)
			return strdup("fedrpc: out of memory");
		if (fd->n_service == 0)
			continue; /* messages only: protoc-c's output and the
			           * schema are all */
		if (gen_file_build(&f, req, fd, &err) != 0) {
			if (err == NULL)
				err = strdup("fedrpc: out of memory");
			break;
		}
		if (outputs_add(o, f.base, ".fedrpc.h", emit_header(&f)) != 0 ||
		    outputs_add(o, f.base, ".fedrpc.c", emit_source(&f)) != 0) {
			gen_file_free(&f);
			return strdup("fedrpc: out of memory");
		}
		gen_file_free(&f);
	}
	return err;
}

int
main(int argc, char **argv)
{
	gen_response resp = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
	gen_request *req;
	outputs      o = {0};
	uint8_t     *in, *out;
	size_t       in_len, out_len;
	char        *err;
	int          rc = 0;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("protoc-gen-fedrpc (fedrpc) %s\n", FEDRPC_VERSION_STRING);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr,
		    "%s: a protoc plugin; run it through protoc:\n"
		    "  protoc --c_out=OUT --plugin=protoc-gen-fedrpc=%s "
		    "--fedrpc_out=OUT file.proto\n",
		    argv[0], argv[0]);
		return 2;
	}
	if (read_all(STDIN_FILENO, &in, &in_len) != 0) {
		fprintf(stderr, "protoc-gen-fedrpc: reading stdin: %s\n",
		    strerror(errno));
		return 1;
	}
	req = google__protobuf__compiler__code_generator_request__unpack(
	    NULL, in_len, in);
	free(in);
	if (req == NULL) {
		fprintf(stderr, "protoc-gen-fedrpc: stdin is not a "
		                "CodeGeneratorRequest\n");
		return 1;
	}

	err = generate(req, &o);
	if (err == NULL && o.n > 0 &&
	    (o.ptrs = calloc(o.n, sizeof(*o.ptrs))) == NULL)
		err = strdup("fedrpc: out of memory");
	if (err != NULL) {
		resp.error = err;
	} else {
		for (size_t i = 0; i < o.n; i++)
			o.ptrs[i] = &o.files[i];
		resp.n_file = o.n;
		resp.file   = o.ptrs;
	}
	/* stubs never look at fields: proto3 optional changes nothing */
	resp.has_supported_features = 1;
	resp.supported_features =
	    GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;

	out_len = google__protobuf__compiler__code_generator_response__get_packed_size(&resp);
	if ((out = malloc(out_len ? out_len : 1)) == NULL) {
		fprintf(stderr, "protoc-gen-fedrpc: out of memory\n");
		rc = 1;
	} else {
		google__protobuf__compiler__code_generator_response__pack(&resp, out);
		if (write_all(STDOUT_FILENO, out, out_len) != 0) {
			fprintf(stderr, "protoc-gen-fedrpc: writing stdout: %s\n",
			    strerror(errno));
			rc = 1;
		}
		free(out);
	}
	free(err);
	outputs_free(&o);
	google__protobuf__compiler__code_generator_request__free_unpacked(
	    req, NULL);
	return rc;
}
