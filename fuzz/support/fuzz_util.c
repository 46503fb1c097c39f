/*
 * Shared helpers of the fuzz targets: the input reader, the scratch folder
 * and logging (see fuzz_util.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "fuzz_util.h"

uint8_t
fz_u8(fz_reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

uint16_t
fz_u16(fz_reader *r)
{
	uint16_t hi = fz_u8(r);

	return (uint16_t) (hi << 8 | fz_u8(r));
}

uint32_t
fz_u32(fz_reader *r)
{
	uint32_t hi = fz_u16(r);

	return hi << 16 | fz_u16(r);
}

uint64_t
fz_u64(fz_reader *r)
{
	uint64_t hi = fz_u32(r);

	return hi << 32 | fz_u32(r);
}

const uint8_t *
fz_bytes(fz_reader *r, size_t *len)
{
	size_t         n = fz_u16(r);
	const uint8_t *p = r->p;

	if (n > r->left)
		n = r->left;
	r->p += n;
	r->left -= n;
	*len = n;
	return p;
}

const uint8_t *
fz_rest(fz_reader *r, size_t *len)
{
	const uint8_t *p = r->p;

	*len = r->left;
	r->p += r->left;
	r->left = 0;
	return p;
}

const uint8_t *
fz_until(fz_reader *r, const char *sep, size_t *len)
{
	size_t         slen = strlen(sep);
	const uint8_t *p    = r->p, *hit;

	hit = slen == 0 ? NULL : memmem(r->p, r->left, sep, slen);
	if (hit == NULL)
		return fz_rest(r, len);
	*len = (size_t) (hit - p);
	r->p = hit + slen;
	r->left -= *len + slen;
	return p;
}

static char scratch[256];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static void
scratch_remove(void)
{
	if (scratch[0] != '\0')
		nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
fz_scratch(void)
{
	const char *base;

	if (scratch[0] != '\0')
		return scratch;
	base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/fedrpc-fuzz-XXXXXX", base);
	if (mkdtemp(scratch) == NULL) {
		fprintf(stderr, "fuzz: cannot make a scratch folder in %s: %s\n",
		    base, strerror(errno));
		abort();
	}
	atexit(scratch_remove);
	return scratch;
}

void
fz_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", fz_scratch(), name);
}

void
fz_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const uint8_t *p = data;
	int            fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) <
	    0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
		    strerror(errno));
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
			    strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t) n;
	}
	/* The umask must not loosen or tighten what the target checks. */
	if (fchmod(fd, mode) != 0)
		abort();
	close(fd);
}

void
fz_quiet_logs(void)
{
	const char *want = getenv("FEDRPC_FUZZ_LOG");
	int         lvl  = want != NULL ? fedrpc_log_level_parse(want) : -1;

	fedrpc_log_set_level(lvl >= 0 ? (fedrpc_log_level) lvl : FEDRPC_LOG_OFF);
}

char *
fz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

const char *
fz_seeds_dir(void)
{
	const char *d = getenv("FEDRPC_FUZZ_SEEDS");

	return d != NULL && d[0] != '\0' ? d : NULL;
}

void
fz_seed(const char *name, const void *data, size_t len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/seed-%s", fz_seeds_dir(), name);
	fz_write_file(path, data, len, 0644);
}
