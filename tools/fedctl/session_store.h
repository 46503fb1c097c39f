/*
 * The end-to-end sessions one client keeps (e2e_session.h), as the key
 * store holds them: which session to send on to a peer client, which one a
 * message belongs to, adding (with a bound per peer client), dropping the
 * sessions of a deleted client, forgetting keys of acknowledged events,
 * and their JSON form in the key store file. Arrays that hold keys are
 * copied and wiped, never realloc'd.
 */
#ifndef FEDCTL_SESSION_STORE_H
#define FEDCTL_SESSION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "e2e_session.h"

/* Sessions kept per peer client; beyond it the oldest one we would not
 * send on goes. Two is the usual most (both sides set one up at once). */
#define FEDCTL_SESSIONS_PER_PEER 8

/* A client's sessions, oldest first. */
typedef struct fedctl_session_set {
	fedctl_e2e_session *v; /* owned */
	size_t              n;
} fedctl_session_set;

/*
 * The session to encrypt for peer's client on: the newest one we set up,
 * else the newest one the peer set up; NULL if there is none. The pointer
 * is good until the set changes.
 */
fedctl_e2e_session *fedctl_session_set_for_sending(
    fedctl_session_set *set, const char *peer, uint64_t client);

/* The session a message of peer's client with header h belongs to. */
fedctl_e2e_session *fedctl_session_set_for_message(fedctl_session_set *set,
    const char *peer, uint64_t client, const fedctl_e2e_header *h);

/*
 * Takes session *s over (it is zeroed) and drops the oldest session of the
 * same peer client beyond FEDCTL_SESSIONS_PER_PEER. False (s untouched)
 * when out of memory.
 */
bool fedctl_session_set_add(fedctl_session_set *set, fedctl_e2e_session *s);

/* Drops every session with peer's client (it was deleted); how many. */
size_t fedctl_session_set_drop(
    fedctl_session_set *set, const char *peer, uint64_t client);

/* Forgets message keys used by inbox events up to up_to; how many. */
size_t fedctl_session_set_forget_used(fedctl_session_set *set, uint64_t up_to);

/*
 * The clients of peer that this set has a session with, ascending and
 * distinct, into *out (malloc'd, or NULL when none); returns how many, or
 * SIZE_MAX when out of memory.
 */
size_t fedctl_session_set_clients(
    const fedctl_session_set *set, const char *peer, uint64_t **out);

/* Wipes and frees every session; the set is then empty. */
void fedctl_session_set_clear(fedctl_session_set *set);

/* The set as a JSON array for the key store; NULL when out of memory. */
json_t *fedctl_session_set_json(const fedctl_session_set *set);

/*
 * Reads a JSON array made by fedctl_session_set_json() into *out (empty
 * first). False with *why naming what is wrong; *out is then empty.
 */
bool fedctl_session_set_from_json(
    const json_t *arr, fedctl_session_set *out, const char **why);

#endif
