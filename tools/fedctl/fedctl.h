/*
 * fedctl's commands: each lives in its own cmd_<name>.c and is listed in
 * main.c's table. A command gets its own argv (argv[0] is its name) and
 * returns the process exit code.
 */
#ifndef FEDCTL_H
#define FEDCTL_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command. */
#define FEDCTL_EXIT_OK 0      /* done */
#define FEDCTL_EXIT_FAILURE 1 /* the operation failed (DNS, network, ...) */
#define FEDCTL_EXIT_USAGE 2   /* bad command line */
#define FEDCTL_EXIT_REMOTE 3  /* another domain was unreachable or refused */

typedef struct fedctl_cmd {
	const char *name;    /* "discover" */
	const char *summary; /* one line for the command list */
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out); /* the command's --help text */
} fedctl_cmd;

extern const fedctl_cmd fedctl_cmd_discover;
/* Certificates: CA, issue, show, CRL (cmd_cert.c). */
extern const fedctl_cmd fedctl_cmd_cert;
/* A user's commands over the local API (cmd_user.c ... cmd_inbox.c). */
extern const fedctl_cmd fedctl_cmd_user;
extern const fedctl_cmd fedctl_cmd_client;
extern const fedctl_cmd fedctl_cmd_find;
extern const fedctl_cmd fedctl_cmd_search;
extern const fedctl_cmd fedctl_cmd_profile;
extern const fedctl_cmd fedctl_cmd_connect;
extern const fedctl_cmd fedctl_cmd_accept;
extern const fedctl_cmd fedctl_cmd_block;
extern const fedctl_cmd fedctl_cmd_connections;
extern const fedctl_cmd fedctl_cmd_conv;
extern const fedctl_cmd fedctl_cmd_send;
extern const fedctl_cmd fedctl_cmd_inbox;
extern const fedctl_cmd fedctl_cmd_ack;
/* What became of the acting user's messages (cmd_sent.c). */
extern const fedctl_cmd fedctl_cmd_sent;
/* Delivery queues to other domains, for operators (cmd_queue.c). */
extern const fedctl_cmd fedctl_cmd_queue;
/* The running daemon, for its operator (cmd_admin.c). */
extern const fedctl_cmd fedctl_cmd_admin;
/* Any method with JSON, as grpcurl (cmd_rpc.c). */
extern const fedctl_cmd fedctl_cmd_rpc;

/* Prints "fedctl <cmd>: <message>" on stderr. */
void fedctl_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- global_args.c ---- */
/* Whether --json was given anywhere before a "--". */
extern bool fedctl_json_wanted;
/* argv with the common options given before the command moved behind
 * it (argv itself when there are none); notes --json. */
char **fedctl_global_args(int argc, char **argv);
/* With --json: a command-line error as JSON on stdout ({"error":
 * {"message", "exit_code": 2, "usage": true}}); the text goes to stderr
 * as before. */
void fedctl_usage_json(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
