/*
 * The version the library was built as, and the versions of the libraries
 * it runs on, for `--version` and for programs that check at run time
 * which fedrpc they got.
 */
#include <stdio.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <fedrpc/version.h>

#include "core/base/version_info.h"

const char *
fedrpc_version(void)
{
	return FEDRPC_VERSION_STRING;
}

void
fedrpc_version_print(FILE *out, const char *program)
{
	fprintf(out, "%s (fedrpc) %s\n", program, fedrpc_version());
	fprintf(out, "nng %s, wolfSSL %s, protobuf-c %s\n", nng_version(),
	    wolfSSL_lib_version(), protobuf_c_version());
}
