/*
 * The example's command line, parsed with getopt_long: every part of the
 * example takes the same options.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int
example_opts_parse(int argc, char **argv, example_opts *o, int *first)
{
	static const struct option opts[] = {
		{"ca", required_argument, NULL, 'a'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"origin", required_argument, NULL, 'o'},
		{"via", required_argument, NULL, 'v'},
		{"nameserver", required_argument, NULL, 'n'},
		{"url", required_argument, NULL, 'u'},
		{"server-name", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->ca = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'o':
			o->origin = optarg;
			break;
		case 'v':
			o->via = optarg;
			break;
		case 'n':
			o->nameserver = optarg;
			break;
		case 'u':
			o->url = optarg;
			break;
		case 's':
			o->server_name = optarg;
			break;
		case 't':
			o->timeout_ms = (uint32_t) strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (o->ca == NULL || o->cert == NULL || o->key == NULL ||
	    o->origin == NULL) {
		fprintf(stderr, "example: --ca, --cert, --key and --origin are "
				"needed\n");
		return 2;
	}
	if (o->url != NULL && o->server_name == NULL) {
		fprintf(stderr, "example: --url needs --server-name: the name "
				"the server's certificate must carry\n");
		return 2;
	}
	*first = optind;
	return 0;
}

void
example_tls_opts(const example_opts *o, fedrpc_tls_opts *tls)
{
	memset(tls, 0, sizeof(*tls));
	tls->ca_file   = o->ca;
	tls->cert_file = o->cert;
	tls->key_file  = o->key;
}
