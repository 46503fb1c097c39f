/*
 * One blocking exchange on a new connection of the wire protocol, for
 * diagnostics and self-checks (fedrpc_target_check(), the daemon's
 * listener self-check): dial, exchange prefaces, and optionally one call.
 * A channel is no use there: each check must be its own connection and
 * report which step failed.
 */
#ifndef FEDRPC_CLIENT_WIRE_PROBE_H
#define FEDRPC_CLIENT_WIRE_PROBE_H

#include <stdint.h>

#include <nng/nng.h>

#include <fedrpc/tls.h>

typedef enum wire_probe_step {
	PROBE_DIAL,    /* TCP (and the TLS handshake) */
	PROBE_PREFACE, /* the server's preface: it took the connection */
	PROBE_REPLY,   /* the call's reply */
	PROBE_DONE,
} wire_probe_step;

typedef struct wire_probe {
	/* in */
	const char *url;
	fedrpc_tls *tls;        /* NULL without TLS */
	uint32_t    timeout_ms; /* for all the steps */
	nng_msg    *request;    /* an envelope to send (taken); NULL: none */
	/* out */
	wire_probe_step reached; /* PROBE_DONE when every step passed */
	int             rv;      /* the failed step's nng error */
	int             local_port; /* ours, once connected */
	uint64_t        connect_us; /* start to connected */
	fedrpc_peer     peer;    /* TLS: the server (fedrpc_peer_clear()) */
	nng_msg        *reply;   /* the reply's envelope (caller frees) */
} wire_probe;

/* Runs the probe; p->reached and p->rv say how far it went. */
void wire_probe_run(wire_probe *p);

#endif
