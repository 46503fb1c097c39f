/*
 * An Echo server (fedrpc.testing.v1.Echo) for tests, in the test's own
 * process or as a separate one (tests/programs/echo_server.c, the
 * fedrpc-echo-server program). Every reply carries its server's name as
 * reply metadata "x-server", so a test can tell which server answered.
 */
#ifndef FEDRPC_TEST_ECHO_SERVER_H
#define FEDRPC_TEST_ECHO_SERVER_H

#include <stdint.h>

#include <fedrpc/metadata.h>
#include <fedrpc/tls.h>

typedef struct echo_server echo_server;

/* Starts serving Echo on url ("tls+tcp://127.0.0.1:0", ...; tls required
 * for tls+tcp). NULL on failure, with the reason on stderr. */
echo_server *echo_server_start(
    const char *url, const fedrpc_tls_opts *tls, const char *name);

/* The port bound. */
int echo_server_port(echo_server *s);

/* The server itself (for its statistics). */
struct fedrpc_server *echo_server_fedrpc(echo_server *s);

/* Echo calls served so far. */
unsigned echo_server_handled(echo_server *s);

/* Stops (letting calls in handlers finish within grace_ms) and frees. */
void echo_server_stop(echo_server *s, uint32_t grace_ms);

/* A fedrpc_call_opts.reply_metadata callback: copies the "x-server"
 * value into arg, a char[ECHO_NAME_MAX]. */
#define ECHO_NAME_MAX 64
void echo_server_name_cb(void *arg, const fedrpc_metadata *md);

/* The program's path in the build tree. */
#define ECHO_SERVER_PROGRAM FEDRPC_BINARY_DIR "/tests/fedrpc-echo-server"

#endif
