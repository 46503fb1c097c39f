/*
 * Fuzz target: the configuration loader (core/config*.c) on any text, as a
 * daemon or `fedctl --config` reads a file an operator wrote: libconfig's
 * parser, then our schema, range and cross-field checks. A configuration
 * that loads must also print (fedrpc_config_print, what --print-config
 * shows) as text that loads again and prints the same: the printed form
 * is documented as loadable.
 *
 * Inputs naming "@include" are skipped: an include reads any file the
 * text names (/dev/zero, a FIFO), which is the operator's choice and not
 * the parser's problem.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/config.h>

#include "fuzz_util.h"

/*
 * libconfig 1.5 leaks its scanner's token on some syntax errors (see
 * core/config_load.c, which says so to GCC's LeakSanitizer only).
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

static char *
print(const fedrpc_config *cfg)
{
	char  *text = NULL;
	size_t len  = 0;
	FILE  *f    = open_memstream(&text, &len);

	FZ_CHECK(f != NULL);
	fedrpc_config_print(cfg, f);
	FZ_CHECK(fclose(f) == 0);
	return text;
}

/* The queries the daemon makes of a loaded configuration. */
static void
query(const fedrpc_config *cfg)
{
	const char *const names[] = {"b.example", "B.EXAMPLE.", "",
	    "c.example", "a..b", cfg->domain};
	fedrpc_tls_opts tls;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i] == NULL)
			continue;
		(void) fedrpc_config_domain_allowed(cfg, names[i]);
		(void) fedrpc_config_search_policy_for(cfg, names[i]);
	}
	fedrpc_config_tls_opts(cfg, &tls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fedrpc_config *cfg, *again;
	fedrpc_status  st = {0};
	char          *text, *printed, *reprinted;

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	text = fz_strndup(data, size);
	if (fedrpc_config_load_string(text, "fuzz.conf", &cfg, &st) != FEDRPC_OK) {
		/* Refusals say where and why. */
		FZ_CHECK(cfg == NULL);
		FZ_CHECK(st.code == FEDRPC_INVALID_ARGUMENT);
		FZ_CHECK(strncmp(st.message, "fuzz.conf", 9) == 0);
		free(text);
		return 0;
	}
	query(cfg);
	printed = print(cfg);
	if (fedrpc_config_load_string(printed, "fuzz.conf", &again, &st) !=
	    FEDRPC_OK) {
		fprintf(stderr, "the printed configuration does not load: %s\n%s",
		    st.message, printed);
		abort();
	}
	reprinted = print(again);
	if (strcmp(printed, reprinted) != 0) {
		fprintf(stderr, "printing is not stable:\n%s\n---\n%s", printed,
		    reprinted);
		abort();
	}
	free(reprinted);
	free(printed);
	fedrpc_config_free(again);
	fedrpc_config_free(cfg);
	free(text);
	return 0;
}
