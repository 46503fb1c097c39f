/*
 * The runtime's reports to whoever watches it (the daemon's metrics and
 * access log): one event when a call finishes, on the client side
 * (client/call_observe.c) and on the server side (server/observe.c), and
 * one when a TLS handshake fails. The runtime only fills an event and
 * hands it over; it keeps no figures itself, so what is measured does
 * not depend on how the transport underneath works. One observer per
 * process, set before servers and channels start and cleared after they
 * stopped; with none, a report costs one atomic load.
 */
#ifndef FEDRPC_CORE_BASE_OBSERVE_H
#define FEDRPC_CORE_BASE_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/status.h>

typedef enum fedrpc_observe_side {
	FEDRPC_OBSERVE_CLIENT, /* a call we made */
	FEDRPC_OBSERVE_SERVER, /* a call we answered */
} fedrpc_observe_side;

/* One finished call. Strings are borrowed for the report's duration and
 * never NULL ("" when unknown). */
typedef struct fedrpc_call_event {
	fedrpc_observe_side side;
	bool                tls;       /* over mutual TLS (federation) */
	bool                known;     /* the method is one the server has */
	const char         *method;    /* fully qualified */
	const char         *origin;    /* the calling domain */
	const char         *target;    /* the called domain */
	const char         *peer;      /* server: the peer certificate's name */
	const uint8_t      *request_id; /* 16 bytes, or NULL */
	fedrpc_code         code;
	const char         *message;   /* the status message */
	uint64_t            duration_ms; /* from sending (client) or arrival
					 * (server) to the end */
} fedrpc_call_event;

/* A TLS handshake that failed: `code` as tls_reason_classify() gives it,
 * `reason` its words. */
typedef struct fedrpc_tls_event {
	bool        server; /* we accepted the connection */
	fedrpc_code code;
	const char *reason;
	const char *remote; /* "host:port" */
} fedrpc_tls_event;

typedef struct fedrpc_observer {
	void (*call)(void *arg, const fedrpc_call_event *ev);
	void (*tls_failure)(void *arg, const fedrpc_tls_event *ev);
	void *arg;
} fedrpc_observer;

/* Sets (or with NULL clears) the process's observer; `o` is borrowed
 * until cleared. */
void fedrpc_observe_set(const fedrpc_observer *o);
/* Whether an observer is set (to skip building an event). */
bool fedrpc_observe_active(void);

void fedrpc_observe_call(const fedrpc_call_event *ev);
void fedrpc_observe_tls_failure(const fedrpc_tls_event *ev);

#endif
