/*
 * What integration tests share: scratch folders, free loopback ports, and
 * child processes started and stopped within bounded time.
 */
#ifndef FEDRPC_TESTUTIL_H
#define FEDRPC_TESTUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* A fresh folder under $TMPDIR (or /tmp); the caller frees the string. */
char *tu_tmpdir(const char *tag);
/* Removes a folder and everything in it. */
void tu_rmrf(const char *path);
/* "dir/name" in a static per-thread buffer ring (8 entries). */
const char *tu_path(const char *dir, const char *name);

/* A TCP port on 127.0.0.1 that was free a moment ago, outside the
 * ephemeral range. */
int tu_free_port(void);
/* Waits until 127.0.0.1:port accepts connections; false on timeout. */
bool tu_wait_port(int port, int timeout_ms);

/* Starts argv[0] (a path) with stdout and stderr appended to logfile
 * (NULL: inherited). Returns the pid, or -1. */
pid_t tu_spawn(char *const argv[], const char *logfile);
/* Sends sig, waits up to timeout_ms, then SIGKILLs. Returns the wait
 * status, or -1. */
int tu_stop(pid_t pid, int sig, int timeout_ms);

/* Reads a whole file into a NUL-terminated malloc'd string, or NULL. */
char *tu_read_file(const char *path);
/* Writes a string to a file; false on error. */
bool tu_write_file(const char *path, const char *text);

#endif
