/*
 * Reading a whole file or stream into memory, with a bound checked as it
 * is read: what the configuration loader, the TLS and web PEM readers,
 * the web gateway's static files and the tools' descriptor sets and
 * request bodies all need.
 */
#ifndef FEDRPC_CORE_FILE_READ_H
#define FEDRPC_CORE_FILE_READ_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads all of `f` (at most `max` bytes) into a buffer of the bytes read
 * followed by a NUL (malloc'd, *out; its length without the NUL, *len).
 * Returns 0, or an errno value with nothing allocated: EFBIG when the
 * stream holds more than `max` bytes, ENOMEM, or the read's error.
 */
int fedrpc_stream_read(FILE *f, size_t max, char **out, size_t *len);

/* What fedrpc_file_read() takes. */
typedef enum fedrpc_file_kind {
	FEDRPC_FILE_REGULAR, /* a regular file only */
	FEDRPC_FILE_STREAM,  /* also a FIFO or a device (/dev/stdin, <(...)) */
} fedrpc_file_kind;

/*
 * fedrpc_stream_read() of the file at `path`. Returns 0 or an errno
 * value: open(2)'s (ENOENT, EACCES, ...), EINVAL when `path` is a folder
 * or, for FEDRPC_FILE_REGULAR, anything but a regular file; EFBIG,
 * ENOMEM, EIO.
 */
int fedrpc_file_read(const char *path, fedrpc_file_kind kind, size_t max,
    char **out, size_t *len);

/* What a fedrpc_file_read() error says, for messages: "not a regular
 * file" for EINVAL, "larger than the limit" for EFBIG, else strerror. */
const char *fedrpc_file_read_error(int err);

#endif
