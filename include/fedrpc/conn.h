/*
 * One connection a server accepted, as admission hooks and handlers see
 * it: an id, the peer's verified certificate names and the remote
 * address. It does not name the transport underneath (nng pipes for
 * request/reply, nng streams for the wire protocol), so code written
 * against it works on both.
 */
#ifndef FEDRPC_CONN_H
#define FEDRPC_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fedrpc_conn fedrpc_conn;

/* Unique among the server's connections while it runs; never 0. */
uint32_t fedrpc_conn_id(const fedrpc_conn *conn);
/* The verified certificate names; an empty list without TLS. */
const fedrpc_peer *fedrpc_conn_peer(const fedrpc_conn *conn);
/* "192.0.2.1:4433" or "[2001:db8::1]:4433"; "" when not TCP (ipc://). */
const char *fedrpc_conn_remote_addr(const fedrpc_conn *conn);
/* The remote TCP port; 0 when not TCP. */
int fedrpc_conn_remote_port(const fedrpc_conn *conn);
/* True for a TCP peer on a loopback address (127.0.0.0/8, ::1). */
bool fedrpc_conn_is_loopback(const fedrpc_conn *conn);
/* A local socket's (ipc://, unix://) peer: its user id, as the kernel
 * reports it. False for other connections. */
bool fedrpc_conn_peer_uid(const fedrpc_conn *conn, uint64_t *uid);
/*
 * Closes the connection from the server's side, on either transport:
 * calls in flight on it get no reply (their clients see the connection
 * lost), and the handle stays valid for the caller until its call ends.
 * For handlers (fedrpc_ctx_conn()); an admission hook refuses a
 * connection by returning false instead.
 */
void fedrpc_conn_close(const fedrpc_conn *conn);

#ifdef __cplusplus
}
#endif
#endif
