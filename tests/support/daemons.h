/*
 * Real federator daemons for integration tests: up to four domains
 * (a.example, b.example, ...) on 127.0.0.1, each with its own certificate,
 * SQLite database, log and local API socket, found through static
 * discovery entries, allowing every other. Several daemons may be
 * instances of one domain (td_new_domains), with the storage and
 * discovery a test gives them (one PostgreSQL database, DNS SRV). A test starts, stops (SIGTERM,
 * which must exit cleanly), kills (SIGKILL) and restarts them on the same
 * files, and talks to each one's local API as a client program would
 * (generated stubs over its ipc:// socket; calls to a daemon that is down
 * fail with UNAVAILABLE and are retried by the helpers that say so).
 */
#ifndef FEDRPC_TEST_DAEMONS_H
#define FEDRPC_TEST_DAEMONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <fedrpc/channel.h>
#include <fedrpc/status.h>

#include "fedrpc/federation/v1/common.pb-c.h"

#define TD_MAX 4
#define TD_WAIT_MS 20000 /* bound on one start, stop or call */

typedef struct td_fed {
	char            name[8];    /* "a" */
	char            domain[32]; /* "a.example" */
	int             port;       /* federation listener */
	pid_t           pid;        /* 0 when not running */
	char            conf[512], log[512], pidf[512], sock[512], db[512];
	char            extra[1024]; /* configuration appended to the file */
	/* Set: replace the storage (SQLite at db) or discovery (static
	 * entries for the other domains) group of the file. */
	char            storage[1024], discovery[1024];
	fedrpc_channel *lch;        /* its local API, while it runs */
} td_fed;

typedef struct td {
	char  *dir;
	td_fed f[TD_MAX];
	int    n;
} td;

/* n daemons' files (not started). `extra` (may be NULL) is appended to
 * every configuration, e.g. a delivery group. */
td *td_new(int n, const char *extra);
/* The same with daemon i of domain domains[i] (repeated: instances of one
 * domain) and, when hosts (may be NULL) has hosts[i], that name in its
 * certificate too (its SRV target). */
td *td_new_domains(int n, const char *const *domains,
    const char *const *hosts, const char *extra);
/* Writes i's configuration (with f[i].extra) and starts it, with `env`
 * ("NAME=value", may be NULL) added to its environment; returns once its
 * local API answers. */
void td_start(td *t, int i, const char *env);
/* SIGTERM; it must exit cleanly (under ASan: without leaks). */
void td_stop(td *t, int i);
/* SIGKILL: no warning, no clean-up. */
void td_kill(td *t, int i);
/* Stops what runs (never asserting) and removes the files. */
void td_free(td *t);
/* The end of a test that passed: every daemon must stop cleanly (under
 * ASan: without leaks), then td_free(). */
void td_finish(td *t);

/* ---- the local API of daemon i ---- */

/* A registered user with one client. */
typedef struct td_user {
	int      dom;
	char     id[37];
	char     domain[32];
	uint64_t client;
	Fedrpc__Federation__V1__QualifiedId q; /* points into the above */
} td_user;

td_user td_register(td *t, int i, const char *handle);
/* a asks b to connect, b accepts (waits until a sees it accepted). */
void td_connect(td *t, td_user *a, td_user *b);
/* A conversation owned by owner's domain; *id receives its uuid. */
void td_create(td *t, td_user *owner, td_user **members, size_t n,
    const char *name, char id[37]);
/*
 * owner adds (add) or removes a member; retried while the owner's daemon
 * is down.
 */
void td_change(td *t, td_user *owner, const char *conv, td_user *who,
    bool add);
/*
 * self sends `text` (as both the data and each ciphertext) to conv (owned
 * by `owner_domain`) for the recipients' clients, with message id
 * `message_id`, ignoring missing clients; retried while self's daemon is
 * down. Returns the answer's `repeated`.
 */
bool td_send(td *t, td_user *self, const char *owner_domain, const char *conv,
    td_user **to, size_t n, const char *text, const char *message_id);
/* The same without asserting (for other threads): FEDRPC_OK, or why
 * not (a message refused is FAILED_PRECONDITION). */
fedrpc_code td_try_send(td *t, td_user *self, const char *owner_domain,
    const char *conv, td_user **to, size_t n, const char *text,
    const char *message_id, bool *repeated, fedrpc_status *st);
/* The data of the messages in u's client's inbox, in order, each followed
 * by '\n' (the caller frees); *count (may be NULL) the number. */
char *td_messages(td *t, td_user *u, size_t *count);
/* The member ids of conv as u's backend has them, sorted, joined by ','
 * ("-" without a copy); the caller frees. */
char *td_members(td *t, td_user *u, const char *owner_domain,
    const char *conv);
/* How many items daemon i has waiting (all queues), and moved aside. */
uint64_t td_pending(td *t, int i, uint64_t *aside);

/* Runs the fedctl binary with --socket of daemon i and --json; returns
 * its output (the caller frees), requiring exit code `want`. */
char *td_fedctl(td *t, int i, const char *home, int want,
    const char *const *args);

/* Milliseconds of a monotonic clock. */
uint64_t td_now_ms(void);

#endif
