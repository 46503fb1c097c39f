/*
 * Whole-file reads with a bound (file_read.h).
 */
#include "core/base/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fedrpc_stream_read() with a first buffer of `first` bytes: a regular
 * file's size, read without growing the buffer (so that no copy of a
 * private key is left in freed memory), plus one byte to see the end. */
static int
read_sized(FILE *f, size_t max, size_t first, char **out, size_t *len)
{
	char  *buf = NULL;
	size_t cap = 0, n = 0, got;

	*out = NULL;
	*len = 0;
	for (;;) {
		if (n == cap) {
			/* One byte past max is read to tell "exactly max"
			 * from "more". */
			size_t want = cap == 0 ? first : 2 * cap;
			char  *bigger;

			if (want > max + 1)
				want = max + 1;
			if (want <= cap) {
				free(buf);
				return EFBIG;
			}
			if ((bigger = realloc(buf, want + 1)) == NULL) {
				free(buf);
				return ENOMEM;
			}
			buf = bigger;
			cap = want;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
		if (n > max) {
			free(buf);
			return EFBIG;
		}
	}
	if (ferror(f)) {
		int err = errno != 0 ? errno : EIO;

		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out   = buf;
	*len   = n;
	return 0;
}

int
fedrpc_stream_read(FILE *f, size_t max, char **out, size_t *len)
{
	return read_sized(f, max, 4096, out, len);
}

int
fedrpc_file_read(const char *path, fedrpc_file_kind kind, size_t max,
    char **out, size_t *len)
{
	struct stat sb;
	FILE       *f;
	int         fd, err;

	*out = NULL;
	*len = 0;
	/* For a regular file, O_NONBLOCK keeps a FIFO named by mistake
	 * from hanging the open; it changes nothing for a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC |
	                  (kind == FEDRPC_FILE_REGULAR ? O_NONBLOCK : 0))) < 0)
		return errno;
	if (fstat(fd, &sb) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	if (S_ISDIR(sb.st_mode) ||
	    (kind == FEDRPC_FILE_REGULAR && !S_ISREG(sb.st_mode))) {
		close(fd);
		return EINVAL;
	}
	if (S_ISREG(sb.st_mode) && (size_t) sb.st_size > max) {
		close(fd);
		return EFBIG;
	}
	if ((f = fdopen(fd, "rb")) == NULL) {
		err = errno;
		close(fd);
		return err;
	}
	/* Unbuffered: the bytes go straight into the buffer returned, with
	 * no copy left in stdio's (a private key is read this way). */
	setvbuf(f, NULL, _IONBF, 0);
	errno = 0;
	err   = read_sized(f, max,
	      S_ISREG(sb.st_mode) ? (size_t) sb.st_size + 1 : 4096, out, len);
	fclose(f);
	return err;
}

const char *
fedrpc_file_read_error(int err)
{
	switch (err) {
	case EINVAL:
		return "not a regular file";
	case EFBIG:
		return "larger than the limit";
	default:
		return strerror(err);
	}
}
