/*
 * fedrpc-example: a backend team's first program on fedrpc, built outside
 * the fedrpc tree against an installed fedrpc (CMake: find_package, or
 * make: pkg-config).
 *
 *   fedrpc-example lookup HANDLE@DOMAIN OPTIONS   part (a): call a domain
 *   fedrpc-example notes OPTIONS                  part (b): our own service
 *
 * OPTIONS: --ca FILE --cert FILE --key FILE --origin DOMAIN (our domain,
 * which the certificate names), and for lookup either --via HOST:PORT (a
 * static route; else DNS SRV, --nameserver ADDR), or --url URL with
 * --server-name NAME; --timeout MS.
 */
#include <stdio.h>
#include <string.h>

#include <fedrpc/tls.h>
#include <fedrpc/version.h>

#include "lookup.h"
#include "notes_demo.h"
#include "options.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: fedrpc-example lookup HANDLE@DOMAIN --ca FILE --cert FILE "
	    "--key FILE\n"
	    "           --origin DOMAIN [--via HOST:PORT | --nameserver ADDR\n"
	    "           | --url URL --server-name NAME] [--timeout MS]\n"
	    "       fedrpc-example notes --ca FILE --cert FILE --key FILE "
	    "--origin DOMAIN\n");
	return 2;
}

int
main(int argc, char **argv)
{
	example_opts  o;
	fedrpc_status st = {0};
	int           first, rc;

	if (argc < 2)
		return usage();
	if ((rc = example_opts_parse(argc - 1, argv + 1, &o, &first)) != 0)
		return usage();
	first++; /* an index into argv */
	/* Optional (every TLS configuration does it), but this way a wrong
	 * nng is reported before anything else happens. */
	if (fedrpc_tls_engine_init(&st) != FEDRPC_OK) {
		fprintf(stderr, "example: %s\n", st.message);
		return 1;
	}
	fprintf(stderr, "fedrpc-example: built with fedrpc %s, running %s\n",
	    FEDRPC_VERSION_STRING, fedrpc_version());
	if (strcmp(argv[1], "lookup") == 0 && first == argc - 1)
		return example_lookup(&o, argv[first]);
	if (strcmp(argv[1], "notes") == 0 && first == argc)
		return example_notes(&o);
	return usage();
}
