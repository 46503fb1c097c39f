/*
 * The TLS peer of an nng stream (the wire protocol's connections are
 * streams, not pipes): the same engine hook as fedrpc_tls_peer_get(),
 * reached through nng_stream_get_bool(NNG_OPT_TLS_VERIFIED). Call it once
 * the handshake is done (after the first bytes were read).
 */
#ifndef FEDRPC_CORE_TLS_STREAM_H
#define FEDRPC_CORE_TLS_STREAM_H

#include <nng/nng.h>

#include <fedrpc/tls.h>

/* NOT_FOUND for a stream that is not TLS; free with fedrpc_peer_clear(). */
fedrpc_code fedrpc_tls_stream_peer_get(nng_stream *s, fedrpc_peer *out);

#endif
