/*
 * Certificate reload for a running server: a new TLS configuration for the
 * listener, without closing it (closing an nng listener closes every
 * connection it accepted).
 *
 * nng 1.5.2 lets NNG_OPT_TLS_CONFIG be set on a running tls+tcp:// listener,
 * but its TLS listener takes the configuration when it posts an accept, so
 * the accept already waiting would still use the old one for the next
 * connection. A throwaway TCP connection to our own port completes that
 * accept; the one nng posts after it carries the new configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "server/server_int.h"

/* How long the throwaway connection may take to be accepted by the kernel. */
#define FLUSH_CONNECT_MS 500

/* Our listener's address, with a wildcard host replaced by loopback. */
static bool
listener_addr(fedrpc_server *srv, struct sockaddr_storage *ss, socklen_t *len)
{
	nng_sockaddr sa;
	int          port = 0;

	memset(ss, 0, sizeof(*ss));
	if (nng_listener_get_addr(srv->listener, NNG_OPT_LOCADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
		static const uint8_t any6[16];

		s6->sin6_family = AF_INET6;
		s6->sin6_port   = sa.s_in6.sa_port;
		memcpy(&s6->sin6_addr, sa.s_in6.sa_addr, 16);
		if (memcmp(sa.s_in6.sa_addr, any6, 16) == 0)
			s6->sin6_addr = in6addr_loopback;
		*len = sizeof(*s6);
		return s6->sin6_port != 0;
	}
	if (nng_listener_get_addr(srv->listener, NNG_OPT_LOCADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *) ss;

		s4->sin_family      = AF_INET;
		s4->sin_port        = sa.s_in.sa_port;
		s4->sin_addr.s_addr = sa.s_in.sa_addr;
		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
		return s4->sin_port != 0;
	}
	/* No address option: the bound port on loopback. */
	if (nng_listener_get_int(srv->listener, NNG_OPT_TCP_BOUND_PORT, &port) !=
	        0 ||
	    port <= 0)
		return false;
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *) ss;

		s4->sin_family      = AF_INET;
		s4->sin_port        = htons((uint16_t) port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len                = sizeof(*s4);
	}
	return true;
}

/* Completes the accept nng posted with the old configuration. */
static void
flush_pending_accept(fedrpc_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t               len;
	struct pollfd           pfd;
	int                     fd;

	if (!listener_addr(srv, &ss, &len))
		return;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *) &ss, len) != 0 &&
	    errno == EINPROGRESS) {
		pfd.fd     = fd;
		pfd.events = POLLOUT;
		(void) poll(&pfd, 1, FLUSH_CONNECT_MS);
	}
	close(fd);
}

fedrpc_code
fedrpc_server_set_tls(
    fedrpc_server *srv, const fedrpc_tls_opts *opts, fedrpc_status *st)
{
	fedrpc_tls *tls, *old, **retired;
	bool        running;
	int         rv;

	if (!srv->tls_on)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "server %s does not use TLS", srv->url);
	if (fedrpc_tls_new(&tls, true, opts, st) != FEDRPC_OK)
		return st->code;

	pthread_mutex_lock(&srv->mtx);
	running = srv->state == SRV_RUNNING;
	if (running &&
	    (rv = srv->wire ? srv_wire_set_tls(srv, fedrpc_tls_nng_config(tls))
			    : nng_listener_set_ptr(srv->listener,
				  NNG_OPT_TLS_CONFIG, fedrpc_tls_nng_config(tls))) != 0) {
		pthread_mutex_unlock(&srv->mtx);
		fedrpc_tls_free(tls);
		return fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot change TLS of %s: %s", srv->url, nng_strerror(rv));
	}
	if (!running && srv->state != SRV_NEW) {
		pthread_mutex_unlock(&srv->mtx);
		fedrpc_tls_free(tls);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "server %s is stopping", srv->url);
	}
	/* The connection and call paths test srv->tls_on, never this
	 * pointer. The old configuration is kept until the server is
	 * freed, not freed now: nng 1.5.2's TLS listener starts an accept
	 * by reading its configuration without its lock and takes its
	 * reference a moment later, so an accept starting while the
	 * option is set can take a reference on a configuration already
	 * freed (a mutex used after free, seen by TSan under reloads in
	 * test_runtime_tls). A reload is rare; what it keeps is small. */
	old = srv->tls;
	retired = realloc(srv->retired, (srv->n_retired + 1) * sizeof(*retired));
	if (retired != NULL) {
		srv->retired                   = retired;
		srv->retired[srv->n_retired++] = old;
		old                            = NULL;
	}
	__atomic_store_n(&srv->tls, tls, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&srv->mtx);

	if (running && !srv->wire)
		flush_pending_accept(srv);
	/* Out of memory to keep it: freed now, as before. */
	fedrpc_tls_free(old);
	FEDRPC_LOG_INFO("server %s: new TLS configuration (%s) for new "
			"connections",
	    srv->url, opts->cert_file);
	return FEDRPC_OK;
}
