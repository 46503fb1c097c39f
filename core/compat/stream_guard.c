/*
 * Works around an nng 1.5.2 defect that made nng_close() hang: a transfer
 * that nng's transports resubmit on an aio already closed is never
 * completed. This file overrides nng_stream_send() and nng_stream_recv()
 * for the whole process, calls nng's own, and completes such an aio.
 *
 * nng's TCP, TLS and IPC transports move a message through several stream
 * operations on one aio: the length is read before the body, a partial
 * transfer is continued, and the TLS stream completes a send one element
 * of its I/O vector at a time (length, header, body: three operations per
 * message). Each next part is submitted from the aio's own callback. When
 * the connection is closed between two parts (the peer went away, the
 * socket or dialer is being closed), the transport has already closed that
 * aio; nng_aio_begin() inside the stream then refuses it and returns
 * without completing it, and nothing ever completes it. The protocol
 * (req0, rep0) waits for the message's aio when the connection is torn
 * down, on nng's single reaper thread, so that connection, and every one
 * after it in the process, is never freed, and nng_close() waits for them
 * forever. Over TLS this window opens for every message sent; over TCP
 * for every message received.
 *
 * nng_aio_begin() leaves NNG_ECANCELED in an aio it refused, which was then
 * neither queued nor completed. The caller is nng's own transport (or its
 * TLS stream), which submits while holding the lock that the aio's
 * callback takes first, so the result read right after the call belongs
 * to this submission: an aio holding NNG_ECANCELED is completed here with
 * NNG_ECONNABORTED, and the transport's callback ends the transfer as for
 * any broken connection. (None of nng's transports resubmit after an
 * error, so this cannot loop.) Not NNG_ECLOSED: during a connection's
 * set-up that error reaches nng's listener or dialer, which take it to mean
 * that they were closed themselves and never accept or dial again.
 * NNG_ECONNABORTED is what they take for a peer that went away.
 *
 * nng calls these functions through its exported symbols, so a definition
 * in the executable takes their place for nng's own calls as well;
 * stream_guard_active() tells whether that is the case.
 *
 * Still needed while req0/rep0 can be selected (FEDRPC_WIRE=reqrep): the
 * wire protocol's own connections submit each transfer once, from their
 * callbacks under their lock and never after closing, and stop their
 * aios before freeing a stream, so no part is resubmitted on a closed aio;
 * through it, their calls cost one extra check each.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>

#include <nng/nng.h>

#include "core/compat/compat.h"

typedef void (*stream_op)(nng_stream *, nng_aio *);

/* nng's own operations, found once. */
static struct {
	pthread_once_t once;
	stream_op      send;
	stream_op      recv;
} real = {.once = PTHREAD_ONCE_INIT};

static void
guard_find(void)
{
	/* A function pointer through void *, as dlsym() returns it. */
	*(void **) &real.send = dlsym(RTLD_NEXT, "nng_stream_send");
	*(void **) &real.recv = dlsym(RTLD_NEXT, "nng_stream_recv");
}

/* Completes an aio that nng_aio_begin() refused; see the top of the file. */
static void
guard_check(nng_aio *aio)
{
	if (nng_aio_result(aio) == NNG_ECANCELED)
		nng_aio_finish(aio, NNG_ECONNABORTED);
}

void
nng_stream_send(nng_stream *s, nng_aio *aio)
{
	pthread_once(&real.once, guard_find);
	real.send(s, aio);
	guard_check(aio);
}

void
nng_stream_recv(nng_stream *s, nng_aio *aio)
{
	pthread_once(&real.once, guard_find);
	real.recv(s, aio);
	guard_check(aio);
}

bool
stream_guard_active(void)
{
	void *send, *recv;

	pthread_once(&real.once, guard_find);
	send = dlsym(RTLD_DEFAULT, "nng_stream_send");
	recv = dlsym(RTLD_DEFAULT, "nng_stream_recv");
	return real.send != NULL && real.recv != NULL &&
	    send == (void *) nng_stream_send && recv == (void *) nng_stream_recv;
}
