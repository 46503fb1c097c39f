/*
 * Part (b), the serving side: the example's own Notes service
 * (proto/example/notes/v1/notes.proto) on a mutual-TLS listener, with
 * origin authentication in front of its handlers.
 */
#ifndef EXAMPLE_NOTES_SERVICE_H
#define EXAMPLE_NOTES_SERVICE_H

#include <fedrpc/discovery.h>
#include <fedrpc/tls.h>

typedef struct notes_service notes_service;

/*
 * Serves Notes for `domain` on `url` (tls+tcp://HOST:PORT; port 0 picks a
 * free one). `resolver` (borrowed) is where origin authentication finds a
 * calling domain's SRV targets. NULL on failure, said on stderr.
 */
notes_service *notes_service_start(const char *url, const fedrpc_tls_opts *tls,
    const char *domain, fedrpc_resolver *resolver);

/* The port it listens on. */
int notes_service_port(notes_service *ns);

/* Stops serving (calls in flight get `grace_ms` to finish) and frees. */
void notes_service_stop(notes_service *ns, uint32_t grace_ms);

#endif
