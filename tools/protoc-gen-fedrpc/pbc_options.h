/*
 * protoc-c's own file options ((pb_c_file) in protobuf-c/protobuf-c.proto),
 * which change the C names protoc-c gives a file's messages. Our view of
 * descriptor.proto does not know the extension, so it arrives as an
 * unknown field of FileOptions and is decoded here by hand.
 */
#ifndef FEDRPC_GEN_PBC_OPTIONS_H
#define FEDRPC_GEN_PBC_OPTIONS_H

#include <stdbool.h>

#include "google/protobuf/descriptor.pb-c.h"

typedef struct pbc_file_options {
	bool  no_generate; /* protoc-c emits nothing for the file */
	char *c_package;   /* replaces the package in C names; owned; or NULL */
} pbc_file_options;

/* Fills out from a file's options (which may be NULL). Returns 0, or -1
 * when the extension is malformed or memory ran out. */
int pbc_file_options_get(
    const Google__Protobuf__FileOptions *opts, pbc_file_options *out);

void pbc_file_options_free(pbc_file_options *o);

#endif
