/*
 * Schemas as data: protobuf-c's generated code cannot describe a message
 * at run time beyond its C layout, so protoc-gen-fedrpc embeds each .proto
 * file's serialized FileDescriptorProto in gen/ (<base>.schema.c). The
 * daemon serves them through the reflection service, and tools that speak
 * JSON (fedctl rpc) decode them to encode and decode any message.
 */
#ifndef FEDRPC_SCHEMA_H
#define FEDRPC_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_schema_file fedrpc_schema_file;

struct fedrpc_schema_file {
	const char    *name;       /* "fedrpc/federation/v1/users.proto" */
	const uint8_t *descriptor; /* google.protobuf.FileDescriptorProto,
				    * serialized, without source info */
	size_t         descriptor_len;
	size_t                           n_deps;
	const fedrpc_schema_file *const *deps; /* its imports, in order */
	/* Every symbol the file defines, fully qualified: messages (nested
	 * ones too), enums, services and methods ("pkg.Svc.Method"). */
	size_t             n_symbols;
	const char *const *symbols;
	/* The wire names of its methods: "pkg.Svc/Method". */
	size_t             n_methods;
	const char *const *methods;
};

#ifdef __cplusplus
}
#endif
#endif
