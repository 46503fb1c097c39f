/*
 * fedctl's commands: each lives in its own cmd_<name>.c and is listed in
 * main.c's table. A command gets its own argv (argv[0] is its name) and
 * returns the process exit code.
 */
#ifndef FEDCTL_H
#define FEDCTL_H

#include <stdio.h>

/* Exit codes of every command. */
#define FEDCTL_EXIT_OK 0      /* done */
#define FEDCTL_EXIT_FAILURE 1 /* the operation failed (DNS, network, ...) */
#define FEDCTL_EXIT_USAGE 2   /* bad command line */

typedef struct fedctl_cmd {
	const char *name;    /* "discover" */
	const char *summary; /* one line for the command list */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out); /* the command's --help text */
} fedctl_cmd;

extern const fedctl_cmd fedctl_cmd_discover;

/* Prints "fedctl <cmd>: <message>" on stderr. */
void fedctl_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
