/*
 * What a test program needs under ThreadSanitizer (FEDRPC_TSAN builds
 * only; empty otherwise), linked into every test program (top-level
 * CMakeLists.txt forces it in):
 *
 * - Criterion's sandbox (BoxFort) maps its shared arena at a fixed
 *   address it draws with rand_r() between 0x2000_0000_0000 and
 *   0x7f00_0000_0000, drawing again only while the address is in use.
 *   TSan reserves nearly all of that range for itself and refuses a fixed
 *   mapping there, so every criterion program aborts at start ("Could not
 *   initialize inheritable arena", Criterion issue #274). rand_r() called
 *   from libcriterion draws instead in the one stretch of that range TSan
 *   leaves to the program (0x5580_0000_0000 to 0x5680_0000_0000, where
 *   the executable is loaded; BoxFort steps over what is in use). Every
 *   other caller gets the C library's rand_r().
 * - The suppressions (tests/tsan.supp) for this program and, through
 *   TSAN_OPTIONS, for the daemons and programs it starts; and the exit
 *   status left alone by reports (scripts/tsan-reports.sh reads them).
 */
#ifdef __SANITIZE_THREAD__
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BoxFort's base address is 0x2000_0000_0000 + (r & 0x3fffff) << 24. */
#define ARENA_R_FIRST 0x358000u
#define ARENA_R_END 0x368000u

/* A report does not change the exit status (a daemon that exits 66 would
 * fail the test that stops it, for a report inside libnng):
 * scripts/tsan-reports.sh judges the reports. */
#define TSAN_SUPP                                                          \
	"suppressions=" FEDRPC_SOURCE_DIR "/tests/tsan.supp exitcode=0"

int         rand_r(unsigned int *seed);
const char *__tsan_default_options(void);

static int (*libc_rand_r)(unsigned int *);

static bool
called_from_criterion(const void *ret)
{
	Dl_info info;

	return dladdr(ret, &info) != 0 && info.dli_fname != NULL &&
	    strstr(info.dli_fname, "libcriterion") != NULL;
}

int
rand_r(unsigned int *seed)
{
	static unsigned next;
	unsigned        r;

	if (called_from_criterion(__builtin_return_address(0))) {
		r = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
		return (int) (ARENA_R_FIRST + r % (ARENA_R_END - ARENA_R_FIRST));
	}
	if (__atomic_load_n(&libc_rand_r, __ATOMIC_ACQUIRE) == NULL)
		__atomic_store_n(&libc_rand_r,
		    (int (*)(unsigned int *)) dlsym(RTLD_NEXT, "rand_r"),
		    __ATOMIC_RELEASE);
	return __atomic_load_n(&libc_rand_r, __ATOMIC_ACQUIRE)(seed);
}

const char *
__tsan_default_options(void)
{
	return TSAN_SUPP;
}

/* The daemons and programs a test starts read TSAN_OPTIONS: the
 * suppressions are added to whatever it holds. */
__attribute__((constructor)) static void
tsan_options_for_children(void)
{
	const char *was = getenv("TSAN_OPTIONS");
	char        buf[4096];

	if (was != NULL && strstr(was, "suppressions=") != NULL)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", was != NULL ? was : "",
	    was != NULL ? " " : "", TSAN_SUPP);
	setenv("TSAN_OPTIONS", buf, 1);
}

/* Referenced by the link (-Wl,--undefined) so that this file is linked
 * into every test program. */
int tu_tsan_support;
int tu_tsan_support = 1;
#else
/* ISO C wants something in a translation unit. */
int tu_tsan_support;
#endif
