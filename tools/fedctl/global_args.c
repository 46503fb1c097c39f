/*
 * Options given before the command ("fedctl --json conv list"): the
 * options every command takes may come first, as with git or systemctl.
 * They are moved behind the command's own words (before a "--", which
 * ends the options), where the command's parser finds them. Whether
 * --json is asked anywhere is known before any parsing, so that a bad
 * command line is reported as JSON too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fedctl.h"
#include "fedctl_output.h"

bool fedctl_json_wanted;

/* The options every command takes, and whether each takes a value. */
static const struct {
	const char *name;
	bool        value;
} globals[] = {
    {"--socket", true}, {"--config", true}, {"--as", true},
    {"--home", true}, {"--client", true}, {"--timeout", true},
    {"--json", false},
};

/* How many words argv[i] and its value take as a global option; 0: it
 * is none. */
static int
global_words(int argc, char **argv, int i)
{
	for (size_t k = 0; k < sizeof(globals) / sizeof(globals[0]); k++) {
		size_t n = strlen(globals[k].name);

		if (strncmp(argv[i], globals[k].name, n) != 0)
			continue;
		if (argv[i][n] == '=' && globals[k].value)
			return 1;
		if (argv[i][n] != '\0')
			continue;
		if (!globals[k].value)
			return 1;
		return i + 1 < argc ? 2 : 1; /* the parser names a lost value */
	}
	return 0;
}

static void
note_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			fedctl_json_wanted = true;
}

/* The reordered argv, kept for the whole run. */
static char **reordered;

static void
free_reordered(void)
{
	free(reordered);
}

char **
fedctl_global_args(int argc, char **argv)
{
	char **out;
	int    first = 1, n = 1, cut;

	note_json(argc, argv);
	while (first < argc) {
		int w = global_words(argc, argv, first);

		if (w == 0)
			break;
		first += w;
	}
	if (first == 1 || first >= argc)
		return argv;
	if ((out = calloc((size_t) argc + 1, sizeof(*out))) == NULL)
		return argv;
	out[0] = argv[0];
	for (cut = first; cut < argc && strcmp(argv[cut], "--") != 0; cut++)
		out[n++] = argv[cut];
	for (int i = 1; i < first; i++)
		out[n++] = argv[i];
	for (int i = cut; i < argc; i++)
		out[n++] = argv[i];
	out[n]    = NULL;
	reordered = out;
	atexit(free_reordered);
	return out;
}

void
fedctl_usage_json(const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	if (!fedctl_json_wanted)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fedctl_json_emit(json_pack("{s:{s:s,s:i,s:b,s:b}}", "error", "message",
	    msg, "exit_code", FEDCTL_EXIT_USAGE, "remote", 0, "usage", 1));
}
