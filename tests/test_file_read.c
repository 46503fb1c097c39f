/*
 * Whole-file reads with a bound (core/base/file_read.h): sizes at and
 * past the bound, files that are not regular, FIFOs for the readers that
 * take them, and streams that grow the buffer.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/file_read.h"

static char dir[] = "/tmp/fedrpc-file-read-XXXXXX";

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(file_read, .init = setup, .fini = teardown);

/* A file of n bytes, byte i being 'a' + i % 26; its path in `path`. */
static void
make_file(char *path, size_t size, const char *name, size_t n)
{
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "wb"));
	for (size_t i = 0; i < n; i++)
		fputc('a' + (int) (i % 26), f);
	cr_assert_eq(fclose(f), 0);
}

Test(file_read, a_file_up_to_the_bound_is_read_whole_and_terminated)
{
	char   path[256], *buf;
	size_t len;

	make_file(path, sizeof(path), "f", 10000);
	cr_assert_eq(fedrpc_file_read(path, FEDRPC_FILE_REGULAR, 10000, &buf,
	                 &len),
	    0);
	cr_assert_eq(len, 10000);
	cr_assert_eq(buf[0], 'a');
	cr_assert_eq(buf[9999], 'a' + 9999 % 26);
	cr_assert_eq(buf[10000], '\0');
	free(buf);
}

Test(file_read, a_file_past_the_bound_is_refused)
{
	char   path[256], *buf = (char *) 1;
	size_t len = 7;

	make_file(path, sizeof(path), "f", 10001);
	cr_assert_eq(fedrpc_file_read(path, FEDRPC_FILE_REGULAR, 10000, &buf,
	                 &len),
	    EFBIG);
	cr_assert_null(buf);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(fedrpc_file_read_error(EFBIG), "larger than the limit");
}

Test(file_read, an_empty_file_is_an_empty_string)
{
	char   path[256], *buf;
	size_t len = 7;

	make_file(path, sizeof(path), "empty", 0);
	cr_assert_eq(fedrpc_file_read(path, FEDRPC_FILE_REGULAR, 100, &buf, &len),
	    0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(buf, "");
	free(buf);
}

Test(file_read, missing_files_and_folders_are_refused)
{
	char   path[256], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/none", dir);
	cr_assert_eq(fedrpc_file_read(path, FEDRPC_FILE_STREAM, 100, &buf, &len),
	    ENOENT);
	cr_assert_eq(fedrpc_file_read(dir, FEDRPC_FILE_STREAM, 100, &buf, &len),
	    EINVAL);
	cr_assert_eq(fedrpc_file_read(dir, FEDRPC_FILE_REGULAR, 100, &buf, &len),
	    EINVAL);
	cr_assert_str_eq(fedrpc_file_read_error(EINVAL), "not a regular file");
}

/* Writes `n` bytes into the FIFO at arg's path, then closes it. */
typedef struct fifo_writer {
	char   path[256];
	size_t n;
} fifo_writer;

static void *
write_fifo(void *arg)
{
	fifo_writer *w = arg;
	int          fd;

	if ((fd = open(w->path, O_WRONLY)) < 0)
		return NULL;
	for (size_t i = 0; i < w->n; i++) {
		char c = (char) ('a' + (int) (i % 26));

		if (write(fd, &c, 1) != 1)
			break;
	}
	close(fd);
	return NULL;
}

Test(file_read, a_fifo_is_refused_as_a_file_and_read_as_a_stream)
{
	fifo_writer w = {.n = 70000}; /* past the first 4 KiB buffer */
	pthread_t   th;
	char       *buf;
	size_t      len;

	snprintf(w.path, sizeof(w.path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(w.path, 0600), 0);
	/* No writer: refused at once rather than waiting for one. */
	cr_assert_eq(fedrpc_file_read(w.path, FEDRPC_FILE_REGULAR, 1u << 20,
	                 &buf, &len),
	    EINVAL);
	cr_assert_eq(pthread_create(&th, NULL, write_fifo, &w), 0);
	cr_assert_eq(fedrpc_file_read(w.path, FEDRPC_FILE_STREAM, 1u << 20,
	                 &buf, &len),
	    0);
	pthread_join(th, NULL);
	cr_assert_eq(len, 70000);
	cr_assert_eq(buf[69999], 'a' + 69999 % 26);
	cr_assert_eq(buf[70000], '\0');
	free(buf);
}

Test(file_read, a_stream_past_the_bound_is_refused)
{
	FILE  *f;
	char  *buf;
	size_t len;

	cr_assert_not_null(f = tmpfile());
	for (int i = 0; i < 5000; i++)
		fputc('x', f);
	rewind(f);
	cr_assert_eq(fedrpc_stream_read(f, 4999, &buf, &len), EFBIG);
	rewind(f);
	cr_assert_eq(fedrpc_stream_read(f, 5000, &buf, &len), 0);
	cr_assert_eq(len, 5000);
	cr_assert_eq(strspn(buf, "x"), 5000);
	free(buf);
	fclose(f);
}
