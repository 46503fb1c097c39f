/*
 * The frame codec of fedrpc's wire protocol (docs/wire-protocol.md): the
 * connection preface, the 12-byte frame header, a reader that finds frames
 * in a byte stream read in large pieces (parsed where they lie; sizes
 * checked from the header before anything is allocated), and a writer that
 * gathers every frame queued while a write is in flight into the next
 * single write. Neither does I/O nor locks: a connection drives them.
 */
#ifndef FEDRPC_CORE_FRAME_H
#define FEDRPC_CORE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/status.h>

#define FEDRPC_WIRE_VERSION     1
#define FEDRPC_PREFACE_LEN      20
#define FEDRPC_FRAME_HEADER_LEN 12
#define FEDRPC_FRAME_MIN_LIMIT  1024u /* smallest max_frame a peer may ask */
#define FEDRPC_PING_LEN         8
#define FEDRPC_DRAIN_MIN_LEN    8

/* transport.c: whether a server or channel for url speaks this protocol
 * (every scheme but inproc://, unless FEDRPC_WIRE=reqrep). */
bool fedrpc_wire_selected(const char *url);

/* The magic that starts a preface: "FEDRPC\r\n". */
extern const uint8_t fedrpc_preface_magic[8];

typedef enum fedrpc_frame_type {
	FEDRPC_FRAME_REQUEST = 1,
	FEDRPC_FRAME_REPLY   = 2,
	FEDRPC_FRAME_CANCEL  = 3,
	FEDRPC_FRAME_PING    = 4,
	FEDRPC_FRAME_PONG    = 5,
	FEDRPC_FRAME_DRAIN   = 6,
} fedrpc_frame_type;

/* What one side announces first. */
typedef struct fedrpc_preface {
	uint16_t version;   /* highest version spoken (server: the one used) */
	uint16_t flags;     /* 0 in version 1 */
	uint32_t max_frame; /* largest payload accepted, >= FEDRPC_FRAME_MIN_LIMIT */
	uint32_t max_calls; /* server: calls in flight accepted; client: 0 */
} fedrpc_preface;

void fedrpc_preface_encode(uint8_t out[FEDRPC_PREFACE_LEN],
    const fedrpc_preface *p);

/*
 * Reads a preface from FEDRPC_PREFACE_LEN bytes. INVALID_ARGUMENT naming
 * what is wrong for a wrong magic, version 0 or a max_frame below the
 * minimum: the stream is not fedrpc and is closed without an answer.
 */
fedrpc_code fedrpc_preface_decode(fedrpc_preface *p,
    const uint8_t in[FEDRPC_PREFACE_LEN], fedrpc_status *st);

/* One frame as read: the header and, when complete, its payload. */
typedef struct fedrpc_frame {
	uint8_t        type;    /* fedrpc_frame_type */
	uint8_t        flags;
	uint32_t       call_id;
	uint32_t       len;     /* payload bytes */
	const uint8_t *payload; /* into the reader's buffer; NULL when skipped */
} fedrpc_frame;

void fedrpc_frame_header_encode(uint8_t out[FEDRPC_FRAME_HEADER_LEN],
    uint8_t type, uint8_t flags, uint32_t call_id, uint32_t len);
/* Fills f's header fields (payload NULL). */
void fedrpc_frame_header_decode(fedrpc_frame *f,
    const uint8_t in[FEDRPC_FRAME_HEADER_LEN]);

/*
 * Whether a frame header is valid for a receiver in the given role (a
 * server receives REQUEST, CANCEL, PING, PONG; a client REPLY, PING, PONG,
 * DRAIN), with call ids and fixed lengths as the protocol says; sizes
 * against the limit are the reader's. INVALID_ARGUMENT naming the fault.
 */
fedrpc_code fedrpc_frame_check(const fedrpc_frame *f, bool server,
    fedrpc_status *st);

/* ---- reader ---- */

typedef enum fedrpc_frame_rx_result {
	FEDRPC_RX_ERROR     = -1, /* protocol error (st): close the connection */
	FEDRPC_RX_MORE      = 0,  /* read more bytes first */
	FEDRPC_RX_FRAME     = 1,  /* *f is a complete frame */
	FEDRPC_RX_OVERSIZED = 2,  /* *f is a REQUEST over the limit (header
				   * only): answer RESOURCE_EXHAUSTED; its
				   * payload is discarded as it arrives */
	FEDRPC_RX_PREFACE   = 3,  /* the peer's preface was read */
} fedrpc_frame_rx_result;

typedef struct fedrpc_frame_rx {
	uint8_t *buf;       /* read buffer (owned) */
	size_t   cap;
	size_t   start;     /* unparsed bytes are buf[start, end) */
	size_t   end;
	size_t   read_size; /* the buffer's resting size, and least read */
	uint32_t max_frame; /* largest payload accepted */
	uint64_t skip;      /* bytes of an oversized payload still to drop */
	bool     server;    /* the role frames are checked for */
	bool     preface;   /* the peer's preface was read */
} fedrpc_frame_rx;

/* read_size 0: 16 KiB (one TLS record). No memory is taken yet. */
void fedrpc_frame_rx_init(fedrpc_frame_rx *rx, bool server,
    uint32_t max_frame, size_t read_size);
void fedrpc_frame_rx_fini(fedrpc_frame_rx *rx);

/*
 * Where the next read goes (*p, up to *n bytes): room for at least the
 * frame being read, whose size was checked against the limit. May move
 * unparsed bytes, so frames returned earlier are no longer valid. -1
 * without memory.
 */
int fedrpc_frame_rx_space(fedrpc_frame_rx *rx, uint8_t **p, size_t *n);

/* n bytes were read into the space. */
void fedrpc_frame_rx_commit(fedrpc_frame_rx *rx, size_t n);

/*
 * The next thing in the bytes read: the preface first (into *pre), then
 * frames. A frame's payload stays valid until the next call to
 * fedrpc_frame_rx_space().
 */
fedrpc_frame_rx_result fedrpc_frame_rx_next(fedrpc_frame_rx *rx,
    fedrpc_preface *pre, fedrpc_frame *f, fedrpc_status *st);

/* Bytes held by the reader (its buffer). */
size_t fedrpc_frame_rx_footprint(const fedrpc_frame_rx *rx);

/* ---- writer ---- */

typedef struct fedrpc_frame_tx {
	uint8_t *pend;      /* frames queued since the last take (owned) */
	size_t   pend_len;
	size_t   pend_cap;
	uint8_t *fly;       /* the buffer being written (owned) */
	size_t   fly_len;
	size_t   fly_off;   /* bytes of it written so far */
	size_t   fly_cap;
	size_t   max_queued; /* bound on queued bytes (pend and fly) */
	size_t   rest;       /* resting buffer size, kept when idle */
	uint64_t writes;     /* buffers taken (for the bench) */
	uint64_t frames;     /* frames queued (for the bench) */
} fedrpc_frame_tx;

/* max_queued 0: no bound. */
void fedrpc_frame_tx_init(fedrpc_frame_tx *tx, size_t max_queued);
void fedrpc_frame_tx_fini(fedrpc_frame_tx *tx);

/*
 * Reserves a frame of `len` payload bytes at the end of the queue, writes
 * its header and returns where the payload goes (the caller fills all len
 * bytes before the next take). NULL without memory, or when the queue
 * holds bytes and this frame would take it over its bound (the caller
 * waits for a write to finish): errno is ENOMEM or ENOBUFS.
 */
uint8_t *fedrpc_frame_tx_begin(fedrpc_frame_tx *tx, uint8_t type,
    uint8_t flags, uint32_t call_id, uint32_t len);

/* fedrpc_frame_tx_begin() and a copy of the payload; 0 or -1 (errno). */
int fedrpc_frame_tx_append(fedrpc_frame_tx *tx, uint8_t type, uint8_t flags,
    uint32_t call_id, const void *payload, uint32_t len);

/* Frames the writer holds back as "the preface" (written first). */
int fedrpc_frame_tx_preface(fedrpc_frame_tx *tx, const fedrpc_preface *p);

/*
 * What to write next: the rest of the buffer in flight or, when that is
 * done, every frame queued since, as one buffer. False when nothing is
 * queued.
 */
bool fedrpc_frame_tx_take(fedrpc_frame_tx *tx, const uint8_t **p, size_t *n);

/* n bytes of what take gave were written; true once all of it was. */
bool fedrpc_frame_tx_sent(fedrpc_frame_tx *tx, size_t n);

/* Bytes queued and not yet written. */
size_t fedrpc_frame_tx_queued(const fedrpc_frame_tx *tx);

#endif
