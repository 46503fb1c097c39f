/*
 * What the fuzz targets share: reading a fuzz input as a sequence of small
 * fields (so that one input can say "this method, that origin, then these
 * bytes"), a private scratch folder for targets whose code under test
 * reads files, and quiet logging. Only the fuzz targets link this.
 */
#ifndef FEDRPC_FUZZ_UTIL_H
#define FEDRPC_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

/* A property every input must keep; a broken one is a finding. */
#define FZ_CHECK(cond)                                                     \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
			    __FILE__, __LINE__, #cond);                     \
			abort();                                            \
		}                                                           \
	} while (0)

/* A cursor over the input; reading past its end gives zeros and empties. */
typedef struct fz_reader {
	const uint8_t *p;
	size_t         left;
} fz_reader;

static inline fz_reader
fz_reader_of(const uint8_t *data, size_t size)
{
	fz_reader r = {data, size};

	return r;
}

uint8_t  fz_u8(fz_reader *r);
uint16_t fz_u16(fz_reader *r);
uint32_t fz_u32(fz_reader *r);
uint64_t fz_u64(fz_reader *r);
/*
 * A length-prefixed slice: a 16-bit big-endian length, then that many
 * bytes (fewer when the input ends first). Points into the input.
 */
const uint8_t *fz_bytes(fz_reader *r, size_t *len);
/* Everything that is left. */
const uint8_t *fz_rest(fz_reader *r, size_t *len);
/*
 * The slice up to the next separator `sep` (not included), or the rest;
 * the separator is consumed. For text inputs made of several files.
 */
const uint8_t *fz_until(fz_reader *r, const char *sep, size_t *len);

/*
 * The process's scratch folder (made on first use under /dev/shm when it
 * is writable, else $TMPDIR or /tmp; removed at exit). Never NULL: a target
 * that cannot make one aborts, since every input would be meaningless.
 */
const char *fz_scratch(void);
/* Writes "<scratch>/<name>" into buf. */
void fz_path(char *buf, size_t len, const char *name);
/* Replaces a file with data (mode as given); aborts when it cannot. */
void fz_write_file(const char *path, const void *data, size_t len,
    mode_t mode);

/*
 * Logging off, unless $FEDRPC_FUZZ_LOG names a level ("debug", ...):
 * then to stderr, for reproducing a finding by hand.
 */
void fz_quiet_logs(void);

/*
 * Seeds: every target writes its own seed inputs, made with the real
 * encoders, when $FEDRPC_FUZZ_SEEDS names a folder (see docs/fuzzing.md);
 * fz_seeds_dir() returns that folder or NULL, and fz_seed() writes one.
 */
const char *fz_seeds_dir(void);
void        fz_seed(const char *name, const void *data, size_t len);

/* A NUL-terminated copy of a slice (malloc'd; aborts when out of memory). */
char *fz_strndup(const uint8_t *p, size_t n);

#endif
