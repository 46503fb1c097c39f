/*
 * What every user command of fedctl shares: the common options, a session
 * (the local federator's API channel, the acting user's key store, our
 * domain), the exit code a failed call means, and naming users and
 * conversations on the command line (uuid@domain, handle@domain, a name).
 */
#ifndef FEDCTL_LOCAL_H
#define FEDCTL_LOCAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <fedrpc/channel.h>
#include <fedrpc/config.h>

#include "fedrpc/local/v1/conversations.pb-c.h"
#include "fedrpc/local/v1/users.pb-c.h"

#include "fedctl.h"
#include "fedctl_state.h"

typedef Fedrpc__Federation__V1__QualifiedId  fedctl_pb_qid;
typedef Fedrpc__Federation__V1__UserProfile  fedctl_pb_profile;
typedef Fedrpc__Federation__V1__Conversation fedctl_pb_conv;

/* The default bound on one call to the local API. Longer than the
 * daemon's own bound on calls to other domains (10 s), so that an
 * unreachable domain is reported by the daemon, not by our timeout. */
#define FEDCTL_DEFAULT_TIMEOUT_MS 30000
/* Where the local API is when nothing says otherwise. */
#define FEDCTL_DEFAULT_SOCKET "ipc:///run/fedrpc/federator.sock"

/* The options every user command takes, after parsing. */
typedef struct fedctl_opts {
	const char *cmd;        /* "conv create": names the command in messages */
	const char *socket;     /* --socket: ipc://PATH or PATH */
	const char *config;     /* --config: a federator configuration file */
	const char *as;         /* --as: handle@domain of the acting user */
	const char *home;       /* --home: the key store folder */
	const char *client;     /* --client: which client (hex id) */
	bool        json;       /* --json */
	uint32_t    timeout_ms; /* --timeout */
	void (*help)(FILE *);   /* the command's --help */
} fedctl_opts;

/* A repeatable option's values; v is owned (the strings are argv's). */
typedef struct fedctl_strs {
	const char **v;
	size_t       n;
} fedctl_strs;

/* One command-specific option: exactly one of value, flag, list is set. */
typedef struct fedctl_optdef {
	const char  *name;  /* "member" for --member */
	const char **value; /* takes a value, kept here */
	bool        *flag;  /* a flag, set true */
	fedctl_strs *list;  /* a repeatable value, appended */
} fedctl_optdef;

/*
 * Parses argv[1..] (argv[0] is the command or sub-command) into o and the
 * command's own options (defs, NULL-name terminated; may be NULL).
 * Positional arguments are left in (*pos)[0..*npos-1]. Returns 0, -1 when
 * --help was printed (exit 0), or FEDCTL_EXIT_USAGE with the error printed.
 */
int fedctl_parse(int argc, char **argv, fedctl_opts *o,
    const fedctl_optdef *defs, char ***pos, int *npos);

/* One sub-command of a command with several ("conv create", ...). */
typedef struct fedctl_sub {
	const char *name; /* "create" */
	/* o has cmd and help set; argv[0] is the sub-command's name. */
	int (*run)(fedctl_opts *o, int argc, char **argv);
} fedctl_sub;

/*
 * Runs the sub-command argv[1] of command argv[0] (subs NULL-name
 * terminated); "--help" or "help" prints help. Returns the exit code.
 */
int fedctl_dispatch(int argc, char **argv, const fedctl_sub *subs,
    void (*help)(FILE *));

/* The common options and exit codes, for the end of a command's --help. */
void fedctl_common_help(FILE *out);

/* Prints a usage error ("fedctl CMD: ...", see --help); returns 2. */
int fedctl_usage(const fedctl_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* fedctl client prekeys (cmd_client_prekeys.c). */
int fedctl_client_prekeys(fedctl_opts *o, int argc, char **argv);

/* What a command needs of its session. */
enum {
	FEDCTL_NEED_USER   = 1, /* an acting user (their key store) */
	FEDCTL_NEED_CLIENT = 2, /* ... with a client (implies USER) */
	FEDCTL_LOCK        = 4, /* ... locked, to change the key store */
	FEDCTL_MAYBE_USER  = 8, /* a user if there is one (for our domain) */
	FEDCTL_NO_CHANNEL  = 16, /* no call to the daemon */
};

/* One command's run: its options, channel, user and output settings. */
typedef struct fedctl_session {
	const fedctl_opts *o;
	char              *home;   /* the key store folder; owned */
	fedctl_state      *state;  /* owned; NULL without a user */
	fedctl_client     *client; /* in state; NULL without a client */
	fedrpc_config     *cfg;    /* owned; from --config */
	fedrpc_channel    *ch;     /* owned; to the local API */
	char               url[4200]; /* the local API's URL */
	const char        *domain; /* ours (user's, else config's); may be NULL */
	bool               color;  /* colour on stdout */
	bool               color_err; /* colour on stderr */
	atomic_bool        answered; /* the daemon replied to the last call */
	fedrpc_call_opts   co;     /* for every call; see fedctl_call() */
} fedctl_session;

/*
 * Opens what the command needs; on failure prints why and returns the
 * exit code (the session is then closed already).
 */
int fedctl_session_open(fedctl_session *s, const fedctl_opts *o,
    unsigned need);

void fedctl_session_close(fedctl_session *s);

/* The options for one call to the local API (resets `answered`). */
const fedrpc_call_opts *fedctl_call(fedctl_session *s);

/*
 * A failed call: prints "fedctl CMD: what: message" (and the JSON error
 * with --json) and returns the exit code it means: 3 when the daemon
 * answered that another domain is unreachable or refused the call, else 1.
 */
int fedctl_fail(fedctl_session *s, const char *what, const fedrpc_status *st);

/* A failure found by fedctl itself: prints it (JSON too); returns code. */
int fedctl_failf(fedctl_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Domains a call could not reach yet (a partial result: what they are owed
 * is queued by the federator): a warning on stderr per domain; returns
 * FEDCTL_EXIT_REMOTE if there are any, else 0.
 */
int fedctl_unreachable(
    fedctl_session *s, char *const *domains, size_t n);

/* ---- qualified ids ---- */

/* A qualified id held by value. */
typedef struct fedctl_qid {
	char id[37];      /* lower-case uuid */
	char domain[254]; /* lower case */
} fedctl_qid;

/* "uuid@domain" (case-insensitive) into q; false if it is not one. */
bool fedctl_qid_parse(const char *s, fedctl_qid *q);

/* A proto view of q (pointing into q). */
fedctl_pb_qid fedctl_qid_pb(fedctl_qid *q);

/* q from a proto id (false if unset or too long). */
bool fedctl_qid_from_pb(const fedctl_pb_qid *p, fedctl_qid *q);

bool fedctl_pb_qid_eq(const fedctl_pb_qid *a, const fedctl_pb_qid *b);

/* The acting user's id as a proto (pointing into the state). */
fedctl_pb_qid fedctl_self(fedctl_session *s);

/*
 * A user named on the command line: "uuid@domain" as it is; "handle",
 * "@handle" or "handle@domain" looked up (FindUser). *profile (if not NULL)
 * receives the profile found, or NULL for a uuid; free it with
 * protobuf_c_message_free_unpacked. Returns 0 or the exit code (printed).
 */
int fedctl_resolve_user(fedctl_session *s, const char *ref, fedctl_qid *q,
    fedctl_pb_profile **profile);

/*
 * A conversation of the acting user by "uuid@domain" or by exact name.
 * *list receives the acting user's conversations (caller frees) and *conv
 * the match in it. Returns 0 or the exit code (printed).
 */
int fedctl_resolve_conv(fedctl_session *s, const char *ref,
    Fedrpc__Local__V1__ListConversationsResponse **list,
    fedctl_pb_conv **conv);

/*
 * Profiles of users, for showing names next to ids: one GetProfiles call;
 * NULL when it fails (ids are then shown alone). Caller frees.
 */
Fedrpc__Local__V1__GetProfilesResponse *fedctl_profiles(fedctl_session *s,
    const fedctl_pb_qid *const *ids, size_t n);

/* The profile of id in r (NULL-safe), or NULL. */
const fedctl_pb_profile *fedctl_profile_of(
    const Fedrpc__Local__V1__GetProfilesResponse *r, const fedctl_pb_qid *id);

/* The arguments joined by single spaces (malloc'd; NULL: no memory). */
char *fedctl_join(char *const *v, int n);

/* Parses a client id (hex, non-zero); false if it is not one. */
bool fedctl_client_id_parse(const char *s, uint64_t *id);

#endif
