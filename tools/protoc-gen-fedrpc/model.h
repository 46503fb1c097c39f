/*
 * What the emitters need to know about one .proto file, resolved from
 * protoc's descriptors: its services and methods with every C name already
 * made, message types found across imports, and the schema's comments.
 * Building the model is also where a schema fedrpc cannot serve (streaming
 * methods, names that would clash in C) is refused.
 */
#ifndef FEDRPC_GEN_MODEL_H
#define FEDRPC_GEN_MODEL_H

#include <stddef.h>

#include "google/protobuf/compiler/plugin.pb-c.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest gen_request;
typedef Google__Protobuf__FileDescriptorProto            gen_file_proto;

/* A message type used as a method's input or output. */
typedef struct gen_type {
	char *proto; /* as the schema reads it: "HealthCheckRequest", or
	              * fully qualified when from another package */
	char *c;     /* protoc-c's type: "Fedrpc__Health__V1__HealthCheckRequest" */
	char *desc;  /* its descriptor: "fedrpc__health__v1__..._request__descriptor" */
} gen_type;

typedef struct gen_method {
	const char *name;    /* "Check"; borrowed from the request */
	char       *path;    /* "fedrpc.health.v1.Health/Check", the wire name */
	char       *c;       /* "fedrpc_health_v1_health_check": blocking stub */
	char       *upper;   /* "FEDRPC_HEALTH_V1_HEALTH_CHECK" */
	char       *field;   /* "check": the handlers field (keywords get '_') */
	gen_type    in;      /* request */
	gen_type    out;     /* response */
	char       *comment; /* the schema's leading comment, or NULL */
} gen_method;

typedef struct gen_service {
	const char *name;      /* "Health"; borrowed */
	char       *full_name; /* "fedrpc.health.v1.Health" */
	char       *c;         /* "fedrpc_health_v1_health": prefix of its names */
	char       *upper;     /* "FEDRPC_HEALTH_V1_HEALTH" */
	char       *comment;   /* the schema's leading comment, or NULL */
	size_t      n_methods;
	gen_method *methods; /* n_methods entries, in schema order; owned */
} gen_service;

typedef struct gen_file {
	const char  *proto;  /* "fedrpc/health/v1/health.proto"; borrowed */
	char        *base;   /* "fedrpc/health/v1/health" */
	char        *guard;  /* the header's include guard */
	size_t       n_services;
	gen_service *services; /* owned */
} gen_file;

/*
 * Builds the model of fd, one of req's files. Returns 0; or -1 with *err
 * set to a message for protoc's user (malloc'd; NULL when out of memory).
 * The model borrows strings from req; free it with gen_file_free().
 */
int gen_file_build(gen_file *f, const gen_request *req,
    const gen_file_proto *fd, char **err);

void gen_file_free(gen_file *f);

#endif
