/*
 * fedctl: the fedrpc command line for operators and users. This file only
 * finds the command; each command is a file of its own (cmd_*.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/version_info.h"
#include "fedctl.h"
#include "fedctl_state.h"

/* Every command; add new ones here. */
static const fedctl_cmd *const commands[] = {
    &fedctl_cmd_discover,
    &fedctl_cmd_cert,
    /* a user's commands, in the order a new user meets them */
    &fedctl_cmd_user,
    &fedctl_cmd_client,
    &fedctl_cmd_find,
    &fedctl_cmd_search,
    &fedctl_cmd_profile,
    &fedctl_cmd_connect,
    &fedctl_cmd_accept,
    &fedctl_cmd_block,
    &fedctl_cmd_connections,
    &fedctl_cmd_conv,
    &fedctl_cmd_send,
    &fedctl_cmd_inbox,
    &fedctl_cmd_ack,
    &fedctl_cmd_sent,
    /* operators' commands */
    &fedctl_cmd_queue,
    &fedctl_cmd_admin,
    &fedctl_cmd_rpc,
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
	fprintf(out, "usage: fedctl [COMMON OPTIONS] COMMAND [OPTIONS...]\n"
		     "       fedctl help COMMAND   (or fedctl COMMAND --help)\n"
		     "       fedctl --version\n"
		     "\nThe common options (--socket, --config, --as, --home, "
		     "--client, --json,\n"
		     "--timeout) go before or after the command. With --json, "
		     "errors, a bad\n"
		     "command line included, are JSON on stdout too.\n"
		     "\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i]->name,
		    commands[i]->summary);
	fprintf(out,
	    "\nexit codes:\n"
	    "  0  done\n"
	    "  1  the operation failed (not found, refused by our backend, "
	    "no local\n"
	    "     federator, a message that cannot be decrypted, ...)\n"
	    "  2  bad command line\n"
	    "  3  another domain was unreachable or refused the call (a "
	    "federation\n"
	    "     failure); what could be done locally was done, and the "
	    "output says\n"
	    "     which domains failed\n"
	    "\nUser commands talk to the local federator's API socket: "
	    "--socket, else\n"
	    "--config FILE's local_api, else $FEDRPC_SOCKET, else the "
	    "socket the user\n"
	    "registered through. Keys live in $FEDCTL_HOME (default\n"
	    "~/.local/share/fedctl), one file per user, mode 0600.\n");
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

	fedctl_state_init();
	argv = fedctl_global_args(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return FEDCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return FEDCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		fedrpc_version_print(stdout, "fedctl");
		return FEDCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return FEDCTL_EXIT_OK;
		}
		if ((cmd = find(argv[2])) == NULL) {
			fprintf(stderr, "fedctl: unknown command \"%s\"\n", argv[2]);
			fedctl_usage_json("unknown command \"%s\"", argv[2]);
			return FEDCTL_EXIT_USAGE;
		}
		cmd->help(stdout);
		return FEDCTL_EXIT_OK;
	}
	if ((cmd = find(argv[1])) == NULL) {
		const char *what = argv[1][0] == '-' ? "option" : "command";

		fprintf(stderr, "fedctl: unknown %s \"%s\"\n\n", what, argv[1]);
		fedctl_usage_json("unknown %s \"%s\"", what, argv[1]);
		usage(stderr);
		return FEDCTL_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
