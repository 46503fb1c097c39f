/*
 * Method and service descriptors. Generated code emits one fedrpc_method per
 * rpc in a .proto service and one fedrpc_service per service; the client
 * and server runtimes need nothing else to move a call.
 */
#ifndef FEDRPC_METHOD_H
#define FEDRPC_METHOD_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_method {
	const char *full_name; /* "fedrpc.health.v1.Health/Check" */
	const char *name;      /* "Check" */
	const ProtobufCMessageDescriptor *input;  /* request message */
	const ProtobufCMessageDescriptor *output; /* response message */
} fedrpc_method;

typedef struct fedrpc_service {
	const char          *full_name; /* "fedrpc.health.v1.Health" */
	size_t               n_methods;
	const fedrpc_method *methods;   /* n_methods entries */
} fedrpc_service;

#ifdef __cplusplus
}
#endif
#endif
