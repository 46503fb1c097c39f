/*
 * fedctl's key store: one file per local user, <handle>@<domain>.json in
 * the fedctl home, holding the user's ids and, for each client, its
 * private prekeys and its end-to-end sessions (chain keys and kept message
 * keys). Only its owner may read it (mode 0600); a file that others can
 * read is refused, not used. Writers take a lock and replace the file
 * atomically, so concurrent commands never see half a file.
 */
#ifndef FEDCTL_STATE_H
#define FEDCTL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/status.h>

#include "e2e.h"
#include "session_store.h"

/* The file format's version, written in every file. Version 2 added the
 * sessions; version 1 files (none) are still read. */
#define FEDCTL_STATE_VERSION 2

/* One prekey as the client keeps it. */
typedef struct fedctl_prekey {
	uint16_t           id;      /* 0..65534 one-time, 65535 last resort */
	fedctl_e2e_keypair kp;      /* private and public halves */
	uint64_t           used_by; /* inbox event that used it; 0: unused */
} fedctl_prekey;

/* One of the user's clients (devices) that this home holds keys for. */
typedef struct fedctl_client {
	uint64_t       id;         /* the backend's client id */
	char          *class_name; /* "desktop", ...; owned */
	fedctl_prekey *prekeys;    /* owned; wiped on free */
	size_t         n_prekeys;
	uint64_t       last_event; /* highest inbox event id fetched */
	fedctl_session_set sessions; /* owned; wiped on free */
} fedctl_client;

/* A user's state as loaded; every string and array is owned. */
typedef struct fedctl_state {
	char          *path;      /* the state file */
	int            lock_fd;   /* held lock on path + ".lock"; -1: none */
	char          *user_id;   /* uuid */
	char          *domain;    /* the user's (our) domain */
	char          *qualified; /* "uuid@domain" */
	char          *handle;
	char          *name;
	char          *local_api; /* URL registered through; NULL if unknown */
	uint64_t       current;   /* the client commands act as; 0: none */
	fedctl_client *clients;
	size_t         n_clients;
} fedctl_state;

/*
 * Makes jansson wipe every block it frees: key material passes through its
 * strings on the way in and out of the file. Call once, before any JSON.
 */
void fedctl_state_init(void);

/*
 * The fedctl home: `override`, else $FEDCTL_HOME, else
 * $XDG_DATA_HOME/fedctl, else ~/.local/share/fedctl. The caller frees it.
 */
fedrpc_code fedctl_state_home(
    const char *override, char **out, fedrpc_status *st);

/*
 * The state file of user `as` ("handle@domain" or "handle") in home; with
 * as NULL, the only user there. NOT_FOUND when there is none,
 * FAILED_PRECONDITION when the choice is ambiguous. Caller frees *path.
 */
fedrpc_code fedctl_state_find(
    const char *home, const char *as, char **path, fedrpc_status *st);

/*
 * Loads a state file. With lock, holds the user's lock until
 * fedctl_state_free() (waiting up to a few seconds for another fedctl).
 * PERMISSION_DENIED when the file is not a regular file of ours with mode
 * 0600 or stricter. The caller owns *out.
 */
fedrpc_code fedctl_state_load(
    const char *path, bool lock, fedctl_state **out, fedrpc_status *st);

/*
 * Creates the state of a newly registered user in home (made 0700 if
 * missing), locked. ALREADY_EXISTS if the file is there.
 */
fedrpc_code fedctl_state_create(const char *home, const char *user_id,
    const char *domain, const char *handle, const char *name,
    const char *local_api, fedctl_state **out, fedrpc_status *st);

/* Writes the state back (0600, atomically). Needs the lock. */
fedrpc_code fedctl_state_save(fedctl_state *s, fedrpc_status *st);

/* Wipes every key, releases the lock, frees. NULL is fine. */
void fedctl_state_free(fedctl_state *s);

/* A client by id; 0: the current one. NULL if this home has no such. */
fedctl_client *fedctl_state_client(fedctl_state *s, uint64_t id);

/*
 * Adds a client with its prekeys (copied; the caller wipes its own) and
 * makes it current.
 */
fedrpc_code fedctl_state_add_client(fedctl_state *s, uint64_t id,
    const char *class_name, const fedctl_prekey *prekeys, size_t n,
    fedrpc_status *st);

/* Forgets a client and its keys; the current one becomes another. */
void fedctl_state_remove_client(fedctl_state *s, uint64_t id);

/* Adds one-time prekeys (copied; the caller wipes its own) to a client. */
fedrpc_code fedctl_client_add_prekeys(fedctl_client *c,
    const fedctl_prekey *prekeys, size_t n, fedrpc_status *st);

/* The client's private prekey with this id, or NULL. */
fedctl_prekey *fedctl_client_prekey(fedctl_client *c, uint16_t id);

/*
 * Forgets what inbox events up to and including up_to used, once they are
 * acknowledged and cannot come again: one-time prekeys (the last resort
 * prekey is kept) and message keys. Returns how many prekeys went.
 */
size_t fedctl_client_forget_used(fedctl_client *c, uint64_t up_to);

#endif
