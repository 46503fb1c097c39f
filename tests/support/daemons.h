/*
 * Real federator daemons for integration tests: up to four domains
 * (a.example, b.example, ...) on 127.0.0.1, each with its own certificate,
 * SQLite database, log and local API socket, found through static
 * discovery entries (or DNS SRV records of a dnsmasq, td_use_dns), allowing
 * every other; one may sit behind a recording TCP relay (td_relay) or run
 * without federation (standalone). Several daemons may be instances of
 * one domain (td_new_domains), with the storage and discovery a test gives
 * them (one PostgreSQL database, DNS SRV). A test starts, stops (SIGTERM,
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

#include "dnsmasq.h"
#include "fedctl_run.h"
#include "fedrpc/federation/v1/common.pb-c.h"
#include "relay.h"

#define TD_MAX 8
#define TD_WAIT_MS 20000 /* bound on one start, stop or call */

typedef struct td_fed {
	char            name[16];   /* "a": its files' names */
	char            domain[32]; /* "a.example" */
	int             port;       /* federation listener */
	char            url[64];    /* tls+tcp://127.0.0.1:<port> */
	pid_t           pid;        /* 0 when not running */
	char            conf[512], log[512], pidf[512], sock[512], db[512];
	char            extra[1024]; /* configuration appended to the file */
	char            client[256]; /* the client group's body instead of
				      * the fast test back-off ("": that) */
	char            logcfg[128]; /* the log group's body ("": level
				      * info, text) */
	char            search_policy[32]; /* default_search_policy; "":
	                                    * exact_handle_search */
	/* Set before td_start (each defaults to 0 / ""): */
	char            policy[32]; /* search policy it grants each peer */
	bool            standalone; /* federation disabled, no listener */
	int             grace_ms;   /* --shutdown-grace (0: 1000) */
	int             dial_port;  /* where the others reach it (0: port) */
	bool            own_conf;   /* the test writes conf itself */
	bool            no_channel; /* td_start opens no lch */
	unsigned long   nofile_soft, nofile_hard; /* RLIMIT_NOFILE; 0/0: ours */
	/* Set: replace the storage (SQLite at db) or discovery (static
	 * entries for the other domains) group of the file. */
	char            storage[1024], discovery[1024];
	fedrpc_channel *lch;        /* its local API, while it runs */
} td_fed;

typedef struct td {
	char    *dir;
	td_fed   f[TD_MAX];
	int      n;
	dnsmasq *dns;             /* td_use_dns; NULL: static entries */
	relay   *relays[TD_MAX];  /* td_relay */
} td;

/* n daemons' files (not started), and the CA "ca" in dir that issued
 * their certificates. `extra` (may be NULL) is appended to every
 * configuration, e.g. a delivery group. */
td *td_new(int n, const char *extra);
/*
 * One more daemon, of `domain`, with files named `name` (a name used
 * before gets the same files): its configuration is what the test is
 * about, so the test writes f->conf itself (own_conf), issues its
 * certificates, and talks to its local API its own way (no_channel).
 */
td_fed *td_add(td *t, const char *name, const char *domain);
/* Its index in t->f. */
#define TD_INDEX(t, fp) ((int) ((fp) - (t)->f))
/* The same with daemon i of domain domains[i] (repeated: instances of one
 * domain) and, when hosts (may be NULL) has hosts[i], that name in its
 * certificate too (its SRV target). */
td *td_new_domains(int n, const char *const *domains,
    const char *const *hosts, const char *extra);
/* Writes i's configuration (with f[i].extra) and starts it, with `env`
 * ("NAME=value", may be NULL) added to its environment; returns once its
 * local API answers. */
void td_start(td *t, int i, const char *env);
/*
 * Discovery through DNS only: a dnsmasq serving, for every domain X,
 * _fedrpc._tcp.X -> fed.X:<dial port> and fed.X -> 127.0.0.1, plus
 * `more` (dnsmasq options, NULL-terminated, may be NULL). Before td_start.
 */
void td_use_dns(td *t, const char *const *more);
/* A recording relay in front of daemon i: the others dial it (before
 * td_start of the others; td_free stops it). */
relay *td_relay(td *t, int i);
/* i's log so far (never NULL; the caller frees). */
char *td_log(td *t, int i);
/* Whether i's log shows `what` within TD_WAIT_MS. */
bool td_log_wait(td *t, int i, const char *what);
/* Fails the test, showing the log, unless it shows `what` in time. */
#define TD_ASSERT_LOGGED(t, i, what)                                        \
	do {                                                                \
		if (!td_log_wait((t), (i), (what)))                         \
			cr_assert_fail("not in the log of %s: \"%s\"\n"     \
			               "--- log ---\n%s",                    \
			    (t)->f[(i)].name, (what), td_log((t), (i)));    \
	} while (0)

/* SIGTERM; it must exit cleanly (under ASan: without leaks). */
void td_stop(td *t, int i);
/* Sends sig and waits for the end (bounded); returns the wait status
 * (-1 if it was not running) for the test to judge. */
int td_stop_status(td *t, int i, int sig);
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
/* The same, giving the exit code in *code (its standard error goes to
 * the test's when it is not 0) instead of requiring one. */
char *td_fedctl_run(td *t, int i, const char *home, const char *const *args,
    int *code);
/* The same, parsed (the caller json_decref()s). */
json_t *td_fedctl_json(td *t, int i, const char *home, int want,
    const char *const *args);


#endif
