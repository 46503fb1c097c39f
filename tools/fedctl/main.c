/*
 * fedctl: the fedrpc command line for operators and users. This file only
 * finds the command; each command is a file of its own (cmd_*.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fedctl.h"

/* Every command; add new ones here. */
static const fedctl_cmd *const commands[] = {
    &fedctl_cmd_discover,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

void
fedctl_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fedctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: fedctl COMMAND [OPTIONS...]\n"
		     "       fedctl help COMMAND   (or fedctl COMMAND --help)\n"
		     "\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i]->name,
		    commands[i]->summary);
	fprintf(out, "\nexit codes: 0 done, 1 the operation failed, "
		     "2 bad command line\n");
}

static const fedctl_cmd *
find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const fedctl_cmd *cmd;

	if (argc < 2) {
		usage(stderr);
		return FEDCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return FEDCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return FEDCTL_EXIT_OK;
		}
		if ((cmd = find(argv[2])) == NULL) {
			fprintf(stderr, "fedctl: unknown command \"%s\"\n", argv[2]);
			return FEDCTL_EXIT_USAGE;
		}
		cmd->help(stdout);
		return FEDCTL_EXIT_OK;
	}
	if ((cmd = find(argv[1])) == NULL) {
		fprintf(stderr, "fedctl: unknown command \"%s\"\n\n", argv[1]);
		usage(stderr);
		return FEDCTL_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
