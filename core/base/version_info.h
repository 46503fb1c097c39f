/*
 * What the daemon and the tools print for --version: their own name and
 * release, and the releases of the libraries they run on (an operator
 * reporting a problem needs all of them).
 */
#ifndef FEDRPC_CORE_VERSION_INFO_H
#define FEDRPC_CORE_VERSION_INFO_H

#include <stdio.h>

/* "federator (fedrpc) 0.1.0\nnng 1.5.2, wolfSSL 5.5.4, protobuf-c 1.4.1\n" */
void fedrpc_version_print(FILE *out, const char *program);

#endif
