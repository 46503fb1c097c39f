/*
 * The example's command line: the TLS files and domain every part needs,
 * and how to reach the other domain.
 */
#ifndef EXAMPLE_OPTIONS_H
#define EXAMPLE_OPTIONS_H

#include <stdint.h>

#include <fedrpc/tls.h>

typedef struct example_opts {
	const char *ca;     /* the federation's CA bundle (PEM) */
	const char *cert;   /* our certificate: it names our domain */
	const char *key;    /* its private key */
	const char *origin; /* our domain, sent as the origin of every call */
	/* How to reach the domain called (lookup): */
	const char *via;         /* HOST:PORT, a static route instead of DNS */
	const char *nameserver;  /* a DNS server instead of the system's */
	const char *url;         /* or dial this tls+tcp:// URL directly... */
	const char *server_name; /* ...whose certificate must name this */
	uint32_t    timeout_ms;  /* each call's deadline */
} example_opts;

/* Parses argv from index 1 on; on success *first is the index of the first
 * argument that is not an option. 0 or 2 (bad command line, said why). */
int example_opts_parse(int argc, char **argv, example_opts *o, int *first);

/* The TLS options of `o`, for a channel or a server. */
void example_tls_opts(const example_opts *o, fedrpc_tls_opts *tls);

#endif
