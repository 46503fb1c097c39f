/*
 * Keeps a broken connection from stopping an nng 1.5.2 listener or dialer
 * for good. nng maps the errno of a failed sendmsg() with a fixed table in
 * which EPIPE becomes NNG_ECLOSED, and its TLS layer hands a TCP error on
 * unchanged (tls_tcp_error()). During a connection's set-up (the TLS
 * handshake, the SP preface) that error ends the attempt, and nng's
 * listener takes NNG_ECLOSED to mean "the listener itself was closed": it
 * never accepts again. A dialer likewise never redials. A peer that resets
 * or closes its connection while we still write to it (a scanner, a client
 * without a certificate, a crashing peer) is enough to get EPIPE.
 *
 * EPIPE on a socket says what ECONNRESET says (the peer's side is gone),
 * and nng treats ECONNRESET as a remote condition and goes on accepting.
 * So this file overrides sendmsg() for the whole process and reports EPIPE
 * as ECONNRESET; everything else passes through. nng calls sendmsg()
 * through its dynamic symbol, so a definition in the program takes its
 * place; epipe_guard_active() tells whether that is the case.
 *
 * Still needed while req0/rep0 can be selected (FEDRPC_WIRE=reqrep): there
 * nng's listener runs each connection's set-up. The wire protocol's accept
 * loop (server/wire_listen.c) does the TLS handshake on the connection
 * itself, after the accept, so an error there ends that connection only;
 * and it retries a failed accept whatever the error.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/compat/compat.h"

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static struct {
	pthread_once_t once;
	sendmsg_fn     sendmsg; /* the C library's (or a sanitizer's) */
} real = {.once = PTHREAD_ONCE_INIT};

static void
guard_find(void)
{
	*(void **) &real.sendmsg = dlsym(RTLD_NEXT, "sendmsg");
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t n;

	pthread_once(&real.once, guard_find);
	if (real.sendmsg == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((n = real.sendmsg(fd, msg, flags)) < 0 && errno == EPIPE)
		errno = ECONNRESET;
	return n;
}

bool
epipe_guard_active(void)
{
	pthread_once(&real.once, guard_find);
	return real.sendmsg != NULL &&
	    dlsym(RTLD_DEFAULT, "sendmsg") == (void *) sendmsg;
}
