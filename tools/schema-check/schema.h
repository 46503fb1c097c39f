/*
 * fedrpc-schema-check: the breaking-change guard of the released API, as
 * `buf breaking` does it. Two FileDescriptorSets (what protoc writes with
 * --descriptor_set_out) are indexed by element (message, enum, service,
 * by fully qualified name), and every element of a released package in
 * the baseline is compared with the current one (compare.c). Findings
 * name the file, the element and the field or method (report.c).
 */
#ifndef FEDRPC_SCHEMA_CHECK_H
#define FEDRPC_SCHEMA_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__FileDescriptorProto  sc_file_proto;
typedef Google__Protobuf__DescriptorProto      sc_msg_proto;
typedef Google__Protobuf__EnumDescriptorProto  sc_enum_proto;
typedef Google__Protobuf__ServiceDescriptorProto sc_svc_proto;
typedef Google__Protobuf__FieldDescriptorProto sc_field_proto;

/* Where an element is declared: its file and its SourceCodeInfo path. */
#define SC_PATH_MAX 16
typedef struct sc_loc {
	const sc_file_proto *file;
	int32_t              path[SC_PATH_MAX];
	size_t               depth;
} sc_loc;

typedef enum sc_kind { SC_MESSAGE, SC_ENUM, SC_SERVICE } sc_kind;

/* One message, enum or service. */
typedef struct sc_elem {
	sc_kind     kind;
	char       *name;    /* "fedrpc.federation.v1.UserProfile"; owned */
	const char *package; /* its file's package */
	const void *proto;   /* sc_msg_proto, sc_enum_proto or sc_svc_proto */
	sc_loc      loc;
} sc_elem;

/* A loaded FileDescriptorSet and its elements. */
typedef struct sc_set {
	const char *path; /* for messages */
	Google__Protobuf__FileDescriptorSet *fds;
	sc_elem    *elems;
	size_t      n, cap;
} sc_set;

/* index.c */
/* Reads and indexes a set; false with a message on stderr on failure. */
bool           sc_set_load(sc_set *s, const char *path);
void           sc_set_free(sc_set *s);
const sc_elem *sc_set_find(const sc_set *s, sc_kind kind, const char *name);
bool           sc_set_has_package(const sc_set *s, const char *package);

/* report.c */
typedef struct sc_report {
	size_t breaking;
} sc_report;

/*
 * Prints "<file>:<line>: <what> <element>: <message>" (the line when the
 * set carries source info for the element, or the sub-element path
 * `sub`/`n_sub` below it) and counts a breaking change.
 */
void sc_breaking(sc_report *r, const sc_loc *loc, const int32_t *sub,
    size_t n_sub, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* compare.c */
/* Compares every element of the released packages. */
void sc_compare(sc_report *r, const sc_set *base, const sc_set *cur,
    char *const *released, size_t n_released);

#endif
