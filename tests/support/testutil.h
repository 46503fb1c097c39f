/*
 * What integration tests share: scratch folders, free loopback ports,
 * child processes started and stopped within bounded time, and one clock
 * with a bounded poll, so that no test waits by a fixed sleep or bounds
 * its timing by what an idle machine happens to do.
 */
#ifndef FEDRPC_TESTUTIL_H
#define FEDRPC_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* ---- time ---- */

/* How long a test waits for something that happens promptly on an idle
 * machine before it gives up: long enough for a machine whose every core
 * is busy, under AddressSanitizer. Passing tests never wait this long. */
#define TU_WAIT_MS 20000
/* A call deadline long enough for a loaded machine: a "fast" outcome is
 * one that takes less than half of it (TU_FAST_MS). */
#define TU_CALL_MS 10000
#define TU_FAST_MS (TU_CALL_MS / 2)

/* Milliseconds on CLOCK_MONOTONIC: the clock fedrpc itself uses
 * (fedrpc_clock_ms()), so its recorded times compare with ours. */
uint64_t tu_now_ms(void);
/* Milliseconds left until tu_now_ms() reaches `t` (0 once it has). */
uint64_t tu_ms_until(uint64_t t);
/* Sleeps ms, resumed after signals. For pacing and for simulated work
 * only: to wait for something, poll it (tu_wait_until, TU_WAIT_FOR). */
void tu_sleep_ms(unsigned ms);

/* Polls done(arg) until it returns true or total_ms passed (checking once
 * more at the end); returns its last answer. The pause between polls
 * grows from 1 ms to 20 ms. */
bool tu_wait_until(bool (*done)(void *arg), void *arg, unsigned total_ms);
/* The pause before poll number `round` (0, 1, ...) of such a wait. */
unsigned tu_poll_pause_ms(unsigned round);

/* The same for an expression: TU_WAIT_FOR(n == 3, TU_WAIT_MS) is true as
 * soon as n == 3, false if it still is not after the bound. */
#define TU_WAIT_FOR(cond, total_ms)                                          \
	__extension__({                                                      \
		uint64_t tu_end_ = tu_now_ms() + (uint64_t) (total_ms);      \
		bool     tu_ok_;                                             \
		for (unsigned tu_round_ = 0;                                 \
		     !(tu_ok_ = (cond)) && tu_now_ms() < tu_end_;            \
		     tu_round_++)                                            \
			tu_sleep_ms(tu_poll_pause_ms(tu_round_));            \
		tu_ok_;                                                      \
	})

/* Whether cond holds at every poll for ms (false at the first poll where it
 * does not): to see that something does not happen. */
#define TU_HOLDS_FOR(cond, ms)                                               \
	__extension__({                                                      \
		uint64_t tu_end_ = tu_now_ms() + (uint64_t) (ms);            \
		bool     tu_ok_;                                             \
		for (unsigned tu_round_ = 0;                                 \
		     (tu_ok_ = (cond)) && tu_now_ms() < tu_end_;             \
		     tu_round_++)                                            \
			tu_sleep_ms(tu_poll_pause_ms(tu_round_));            \
		tu_ok_;                                                      \
	})

/* ---- files and processes ---- */

/* A fresh folder under $TMPDIR (or /tmp); the caller frees the string. */
char *tu_tmpdir(const char *tag);
/* Removes a folder and everything in it. */
void tu_rmrf(const char *path);
/* "dir/name" in a static per-thread buffer ring (8 entries). */
const char *tu_path(const char *dir, const char *name);

/* A TCP port on 127.0.0.1 that was free a moment ago, outside the
 * ephemeral range, and reserved for this process (no other test process
 * and no later call here gets it). */
int tu_free_port(void);
/* A TCP connection to 127.0.0.1:port (blocking), or -1 with errno set. */
int tu_connect(int port);
/* Waits until 127.0.0.1:port accepts connections; false on timeout. */
bool tu_wait_port(int port, int timeout_ms);

/* Starts argv[0] (a path) with stdout and stderr appended to logfile
 * (NULL: inherited). Returns the pid, or -1. */
pid_t tu_spawn(char *const argv[], const char *logfile);
/* The same under an open file limit, as a shell's ulimit -n or systemd's
 * LimitNOFILE= would set it (0/0: ours; a lower hard limit could never be
 * raised again in this process, hence in the child). */
pid_t tu_spawn_nofile(char *const argv[], const char *logfile, rlim_t soft,
    rlim_t hard);
/* Runs argv (found on PATH) to its end, at most TU_WAIT_MS, with stdin
 * from /dev/null and stdout and stderr into *out (the caller frees; a file
 * in `scratch` on the way). Returns its exit code, or -1. */
int tu_run(char *const argv[], const char *scratch, char **out);
/* Runs argv[0] (a path) with its output appended to logfile, at most
 * timeout_ms (then killed: *timed_out, which may be NULL). Returns its
 * exit code, or -1 when it died by a signal or could not start. */
int tu_run_log(char *const argv[], const char *logfile, unsigned timeout_ms,
    bool *timed_out);
/* Sends sig, waits up to timeout_ms, then SIGKILLs. Returns the wait
 * status, or -1. */
int tu_stop(pid_t pid, int sig, int timeout_ms);

/* Reads a whole file into a NUL-terminated malloc'd string, or NULL. */
char *tu_read_file(const char *path);
/* Writes a string to a file; false on error. */
bool tu_write_file(const char *path, const char *text);

#endif
