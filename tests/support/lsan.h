/*
 * The leaks LeakSanitizer may excuse, in one place: each is a leak inside
 * nng 1.5.2 that some tests provoke on purpose (refused handshakes,
 * connections dropped under load), never one of fedrpc's own. A test
 * binary that provokes one says so with TU_LSAN_SUPPRESS(...) naming the
 * classes below; every other binary keeps full leak checking.
 * (LeakSanitizer reads __lsan_default_suppressions() of the executable
 * itself, so this cannot live in the support library's objects.)
 */
#ifndef FEDRPC_TEST_LSAN_H
#define FEDRPC_TEST_LSAN_H

/*
 * What nng's own threads allocate for a connection whose set-up fails
 * while its socket closes, or a message req0/rep0 hands to a connection
 * being closed (the transport drops the aio without freeing it). Only
 * allocations made on nng's threads match.
 */
#define TU_LSAN_NNG_THREADS "leak:libnng.so.1\n"

/*
 * A TLS connection still negotiating when its socket closes: its buffers,
 * the wolfSSL engine state and the TLS configuration it holds.
 */
#define TU_LSAN_NNG_TLS_SETUP                                               \
	TU_LSAN_NNG_THREADS "leak:libwolfssl.so.35\nleak:fedrpc_tls_new\n"

/*
 * A request message req0 hands to a connection whose send aio is already
 * closed (its server refused it, or it was killed with calls in flight):
 * never freed. `where` names the allocation site or the test function
 * that makes it happen, e.g. "fedrpc_envelope_request_encode".
 */
#define TU_LSAN_REQ0_CLOSED_PIPE(where) "leak:" where "\n"

/* Makes `text` this test binary's suppressions. */
#define TU_LSAN_SUPPRESS(text)                                              \
	const char *__lsan_default_suppressions(void);                      \
	const char *__lsan_default_suppressions(void) { return (text); }

#endif
