/*
 * Running the fedctl binary as a user would, for tests: its own
 * FEDCTL_HOME, stdin from /dev/null, none of the test's own FEDCTL_* or
 * FEDRPC_SOCKET settings, stopped after TU_WAIT_MS; and the few jansson
 * look-ups tests make on its --json output ("user.qualified_id" paths).
 * One runner for every test, so that what "fedctl exited 3" means is
 * checked the same way everywhere.
 */
#ifndef FEDRPC_TEST_FEDCTL_RUN_H
#define FEDRPC_TEST_FEDCTL_RUN_H

#include <stdbool.h>

#include <criterion/criterion.h>
#include <jansson.h>

#define FR_FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"
#define FR_MAX_ARGS 40

/* What one fedctl run gave. */
typedef struct fr_run {
	int   code; /* exit code; -1 if it did not exit */
	char *out;  /* stdout; owned, never NULL */
	char *err;  /* stderr; owned, never NULL */
} fr_run;

/* Runs fedctl with args (NULL-terminated) as the user of `home` (NULL:
 * no FEDCTL_HOME), with `extra_env` ("NAME=value", may be NULL) added;
 * its output goes through files in `scratch`. */
fr_run fr_fedctl(const char *scratch, const char *home, const char *extra_env,
    const char *const *args);
void   fr_free(fr_run *r);

/* The same with "--json" appended, requiring exit code `want` and JSON on
 * stdout; returns the parsed output (the caller json_decref()s). */
json_t *fr_fedctl_json(const char *scratch, int want, const char *home,
    const char *const *args);

/* Runs and requires exit code `want`; the caller frees the run. */
#define FR_EXPECT(scratch, want, home, ...)                                 \
	__extension__({                                                     \
		fr_run r_ = fr_fedctl((scratch), (home), NULL,              \
		    (const char *const[]){__VA_ARGS__, NULL});              \
		cr_assert_eq(r_.code, (want),                               \
		    "fedctl %s: exit %d, want %d\n--- stdout ---\n%s"       \
		    "\n--- stderr ---\n%s",                                 \
		    #__VA_ARGS__, r_.code, (want), r_.out, r_.err);         \
		r_;                                                         \
	})
#define FR_RUN(scratch, home, ...)                                          \
	fr_fedctl((scratch), (home), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define FR_JSON(scratch, want, home, ...)                                   \
	fr_fedctl_json((scratch), (want), (home),                           \
	    (const char *const[]){__VA_ARGS__, NULL})

/* Runs fedctl on a pseudo-terminal (as a user at a terminal would) and
 * requires exit code 0; returns what it printed (the caller frees). */
char *fr_fedctl_tty(const char *home, const char *extra_env,
    const char *const *args);

/* ---- --json output ---- */

/* The value at "a.b.c" through objects, or NULL. */
json_t *fr_get(json_t *j, const char *path);
/* The string, boolean or integer there; the test fails, showing the
 * document, when there is none of that type. */
const char *fr_str(json_t *j, const char *path);
bool        fr_bool(json_t *j, const char *path);
json_int_t  fr_int(json_t *j, const char *path);
/* Whether the array at `array` lists `value`: as an element (path NULL)
 * or as the string at `path` of an element. */
bool fr_lists(json_t *j, const char *array, const char *path,
    const char *value);

#endif
