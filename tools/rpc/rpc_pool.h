/*
 * A descriptor pool for fedctl rpc: schemas loaded at run time (from a
 * daemon's reflection service, the descriptors embedded in gen/, or a
 * FileDescriptorSet file made by protoc), indexed by fully qualified name,
 * with every field's type resolved, so that the JSON codec (rpc_json.h)
 * can encode and decode any message of them. protobuf-c has no run-time
 * descriptors of its own, so the model is descriptor.proto's messages as
 * protoc-c compiles them, plus what the codec needs precomputed.
 */
#ifndef FEDRPC_RPC_POOL_H
#define FEDRPC_RPC_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/schema.h>
#include <fedrpc/status.h>

#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__FileDescriptorProto    rpc_file_proto;
typedef Google__Protobuf__DescriptorProto        rpc_msg_proto;
typedef Google__Protobuf__FieldDescriptorProto   rpc_field_proto;
typedef Google__Protobuf__EnumDescriptorProto    rpc_enum_proto;
typedef Google__Protobuf__ServiceDescriptorProto rpc_svc_proto;

typedef struct rpc_message rpc_message;
typedef struct rpc_enum    rpc_enum;

/* The field types, as descriptor.proto numbers them. */
typedef Google__Protobuf__FieldDescriptorProto__Type rpc_type;

typedef struct rpc_field {
	const rpc_field_proto *p;
	const char        *name;      /* "client_class" */
	char              *json_name; /* "clientClass"; owned */
	uint32_t           number;
	rpc_type           type;
	bool               repeated;
	bool               packed;   /* repeated scalars in one record */
	bool               presence; /* a default value is still sent */
	int                oneof;    /* index of its real oneof, or -1 */
	const rpc_message *message;  /* TYPE_MESSAGE (and map entries) */
	const rpc_enum    *enumt;    /* TYPE_ENUM */
} rpc_field;

struct rpc_message {
	char                *full_name; /* "fedrpc.federation.v1.QualifiedId" */
	const rpc_msg_proto *p;
	const rpc_file_proto *file;
	size_t               n_fields;
	rpc_field           *fields;    /* sorted by number; owned */
	bool                 map_entry; /* a map<K, V>'s synthetic entry */
	/* google.protobuf.*Value: JSON writes it as its bare value */
	bool                 wrapper;
};

struct rpc_enum {
	char                 *full_name;
	const rpc_enum_proto *p;
};

typedef struct rpc_method {
	char              *path; /* "pkg.Svc/Method", the wire name */
	const char        *name; /* "Method" */
	const rpc_message *input;
	const rpc_message *output;
	bool               streaming; /* fedrpc cannot call these */
} rpc_method;

typedef struct rpc_service {
	char                 *full_name;
	const rpc_svc_proto  *p;
	const rpc_file_proto *file;
	size_t                n_methods;
	rpc_method           *methods; /* owned */
} rpc_service;

typedef struct rpc_pool rpc_pool;

rpc_pool *rpc_pool_new(void);
void      rpc_pool_free(rpc_pool *pool);

/*
 * Adds one serialized FileDescriptorProto (copied). A file already in the
 * pool by name is ignored. INVALID_ARGUMENT when the bytes are not one;
 * `what` names their origin in the message ("reply of b.example").
 */
fedrpc_code rpc_pool_add_file(rpc_pool *pool, const uint8_t *data, size_t len,
    const char *what, fedrpc_status *st);

/* Adds every file of a serialized FileDescriptorSet (protoc
 * --descriptor_set_out, best with --include_imports). */
fedrpc_code rpc_pool_add_set(rpc_pool *pool, const uint8_t *data, size_t len,
    const char *what, fedrpc_status *st);

/* Reads a FileDescriptorSet file; errors name the path. */
fedrpc_code rpc_pool_add_set_file(
    rpc_pool *pool, const char *path, fedrpc_status *st);

/* Adds an embedded schema file (gen/<base>.schema.c) and its imports. */
fedrpc_code rpc_pool_add_schema(
    rpc_pool *pool, const fedrpc_schema_file *f, fedrpc_status *st);

/* True when the pool has a file by that name. */
bool rpc_pool_has_file(const rpc_pool *pool, const char *name);

/*
 * Links every field to its message or enum type and indexes the pool;
 * after adding files and before any lookup. NOT_FOUND naming the file,
 * message and field whose type is missing (an import not loaded).
 */
fedrpc_code rpc_pool_resolve(rpc_pool *pool, fedrpc_status *st);

/* Lookups by fully qualified name (a leading '.' is accepted); NULL when
 * absent. */
const rpc_message *rpc_pool_message(const rpc_pool *pool, const char *name);
const rpc_enum    *rpc_pool_enum(const rpc_pool *pool, const char *name);
const rpc_service *rpc_pool_service(const rpc_pool *pool, const char *name);
/* "pkg.Svc/Method" or "pkg.Svc.Method". */
const rpc_method *rpc_pool_method(const rpc_pool *pool, const char *name);

size_t             rpc_pool_n_messages(const rpc_pool *pool);
const rpc_message *rpc_pool_message_at(const rpc_pool *pool, size_t i);
size_t             rpc_pool_n_services(const rpc_pool *pool);
const rpc_service *rpc_pool_service_at(const rpc_pool *pool, size_t i);

/* A field by its JSON name or its schema name; NULL when none. */
const rpc_field *rpc_message_field(const rpc_message *m, const char *name);
/* A field by number; NULL when none. */
const rpc_field *rpc_message_field_by_number(const rpc_message *m, uint32_t n);

/* The name of an enum value, or NULL for a number it does not define. */
const char *rpc_enum_value_name(const rpc_enum *e, int32_t number);
/* The number of an enum value's name; false when it has none such. */
bool rpc_enum_value_number(const rpc_enum *e, const char *name, int32_t *out);

/* "int32", "string", ... for a scalar type; the type's name otherwise. */
const char *rpc_field_type_name(const rpc_field *f);

#endif
