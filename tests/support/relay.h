/*
 * A recording TCP relay for tests: forwards 127.0.0.1:port to
 * 127.0.0.1:target and keeps every byte that crosses, in both directions,
 * so a test can show what is (and is not) on the wire between two
 * federators, and can take the route down (relay_stop) while both run.
 */
#ifndef FEDRPC_TEST_RELAY_H
#define FEDRPC_TEST_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_MAX_CONNS 32

typedef struct relay {
	int             lfd;     /* listening socket; -1 once stopped */
	int             port;    /* where the dialing side connects */
	int             target;  /* the real listener */
	int             wake[2]; /* a byte here stops the thread */
	pthread_t       thread;
	bool            running;
	pthread_mutex_t mtx;  /* guards what follows */
	uint8_t        *rec;  /* both directions, as they came; owned */
	size_t          n, cap;
	size_t          conns;       /* connections relayed */
	size_t          talked;      /* of them, where the dialer sent bytes */
	size_t          tls_starts;  /* of those, starting with a TLS record */
	size_t          app_records; /* TLS application-data headers seen */
} relay;

/* Listens on a free loopback port and relays to target. */
void relay_start(relay *r, int target);
/* Stops relaying; later connections to its port are refused. */
void relay_stop(relay *r);
/* Stops it and frees what it recorded. */
void relay_free(relay *r);

#endif
