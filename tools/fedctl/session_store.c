/*
 * The session set of session_store.h: lookups by peer client and base key,
 * a bound on sessions per peer client, and the key store's JSON form of a
 * session (every key in hex, message numbers as integers). Reading checks
 * everything a session's code relies on, so a damaged file is refused
 * rather than half used.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_encode.h"
#include "session_store.h"

#define KEY_LEN FEDCTL_E2E_KEY_LEN
#define HEX_LEN (2 * KEY_LEN + 1)

static bool
is_peer(const fedctl_e2e_session *s, const char *peer, uint64_t client)
{
	return s->peer_client == client && strcmp(s->peer, peer) == 0;
}

fedctl_e2e_session *
fedctl_session_set_for_sending(
    fedctl_session_set *set, const char *peer, uint64_t client)
{
	fedctl_e2e_session *theirs = NULL;

	for (size_t i = set->n; i-- > 0;) {
		fedctl_e2e_session *s = &set->v[i];

		if (!is_peer(s, peer, client))
			continue;
		if (s->initiator)
			return s;
		if (theirs == NULL)
			theirs = s;
	}
	return theirs;
}

fedctl_e2e_session *
fedctl_session_set_for_message(fedctl_session_set *set, const char *peer,
    uint64_t client, const fedctl_e2e_header *h)
{
	for (size_t i = 0; i < set->n; i++)
		if (is_peer(&set->v[i], peer, client) &&
		    fedctl_e2e_session_matches(&set->v[i], h))
			return &set->v[i];
	return NULL;
}

/* Removes v[i], keeping the order. */
static void
remove_at(fedctl_session_set *set, size_t i)
{
	fedctl_e2e_session_wipe(&set->v[i]);
	memmove(&set->v[i], &set->v[i + 1], (set->n - i - 1) * sizeof(*set->v));
	set->n--;
	explicit_bzero(&set->v[set->n], sizeof(*set->v));
}

/* The oldest session of peer's client beyond the bound, never the one
 * we would send on. */
static void
bound_peer(fedctl_session_set *set, const char *peer, uint64_t client)
{
	const fedctl_e2e_session *keep =
	    fedctl_session_set_for_sending(set, peer, client);
	size_t count = 0;

	for (size_t i = 0; i < set->n; i++)
		count += is_peer(&set->v[i], peer, client);
	for (size_t i = 0; i < set->n && count > FEDCTL_SESSIONS_PER_PEER;) {
		if (is_peer(&set->v[i], peer, client) && &set->v[i] != keep) {
			if (keep > &set->v[i])
				keep--; /* it moves down by one */
			remove_at(set, i);
			count--;
			continue;
		}
		i++;
	}
}

bool
fedctl_session_set_add(fedctl_session_set *set, fedctl_e2e_session *s)
{
	fedctl_e2e_session *v = calloc(set->n + 1, sizeof(*v));
	char                peer[sizeof(s->peer)];
	uint64_t            client = s->peer_client;

	if (v == NULL)
		return false;
	if (set->n > 0)
		memcpy(v, set->v, set->n * sizeof(*v));
	if (set->v != NULL) {
		explicit_bzero(set->v, set->n * sizeof(*set->v));
		free(set->v);
	}
	v[set->n] = *s;
	set->v    = v;
	set->n++;
	snprintf(peer, sizeof(peer), "%s", s->peer);
	explicit_bzero(s, sizeof(*s)); /* its keys now live in the set */
	bound_peer(set, peer, client);
	return true;
}

size_t
fedctl_session_set_drop(
    fedctl_session_set *set, const char *peer, uint64_t client)
{
	size_t dropped = 0;

	for (size_t i = 0; i < set->n;) {
		if (is_peer(&set->v[i], peer, client)) {
			remove_at(set, i);
			dropped++;
		} else
			i++;
	}
	return dropped;
}

size_t
fedctl_session_set_forget_used(fedctl_session_set *set, uint64_t up_to)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += fedctl_e2e_session_forget_used(&set->v[i], up_to);
	return n;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

size_t
fedctl_session_set_clients(
    const fedctl_session_set *set, const char *peer, uint64_t **out)
{
	uint64_t *v;
	size_t    n = 0, k = 0;

	*out = NULL;
	for (size_t i = 0; i < set->n; i++)
		n += strcmp(set->v[i].peer, peer) == 0;
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return SIZE_MAX;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].peer, peer) == 0)
			v[k++] = set->v[i].peer_client;
	qsort(v, k, sizeof(*v), cmp_u64);
	n = 0;
	for (size_t i = 0; i < k; i++)
		if (n == 0 || v[n - 1] != v[i])
			v[n++] = v[i];
	*out = v;
	return n;
}

void
fedctl_session_set_clear(fedctl_session_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		fedctl_e2e_session_wipe(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

/* ---- JSON ---- */

static json_t *
chain_json(const fedctl_e2e_chain *c)
{
	char    hex[HEX_LEN];
	json_t *o;

	fedctl_e2e_hex_encode(c->key, KEY_LEN, hex);
	o = json_pack("{s:s, s:I}", "chain", hex, "n", (json_int_t) c->n);
	explicit_bzero(hex, sizeof(hex));
	return o;
}

static json_t *
kept_json(const fedctl_e2e_kept *k)
{
	char    hex[HEX_LEN];
	json_t *o;

	fedctl_e2e_hex_encode(k->key, KEY_LEN, hex);
	o = json_pack("{s:I, s:s, s:I}", "n", (json_int_t) k->n, "key", hex,
	    "used_by", (json_int_t) k->used_by);
	explicit_bzero(hex, sizeof(hex));
	return o;
}

static json_t *
session_json(const fedctl_e2e_session *s)
{
	char    base[HEX_LEN], client[20];
	json_t *kept = json_array(), *o;

	for (size_t i = 0; kept != NULL && i < s->n_kept; i++)
		if (json_array_append_new(kept, kept_json(&s->kept[i])) != 0) {
			json_decref(kept);
			kept = NULL;
		}
	fedctl_e2e_hex_encode(s->base, KEY_LEN, base);
	snprintf(client, sizeof(client), "%" PRIx64, s->peer_client);
	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:o, s:o}", "peer",
	    s->peer, "peer_client", client, "role",
	    s->initiator ? "initiator" : "responder", "prekey_id",
	    (int) s->prekey_id, "base", base, "send", chain_json(&s->send),
	    "recv", chain_json(&s->recv), "kept", kept);
	return o;
}

json_t *
fedctl_session_set_json(const fedctl_session_set *set)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < set->n; i++) {
		json_t *o = session_json(&set->v[i]);

		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static bool
client_from_hex(const char *s, uint64_t *id)
{
	char *end;

	if (s == NULL || s[0] == '\0' || strlen(s) > 16)
		return false;
	errno = 0;
	*id   = strtoull(s, &end, 16);
	return errno == 0 && *end == '\0' && *id != 0;
}

static bool
chain_from_json(const json_t *j, fedctl_e2e_chain *c)
{
	const char *hex = NULL;
	json_int_t  n   = -1;

	if (json_unpack((json_t *) j, "{s:s, s:I}", "chain", &hex, "n", &n) !=
	        0 ||
	    n < 0 || (uint64_t) n > (uint64_t) FEDCTL_E2E_MAX_COUNTER + 1 ||
	    !fedctl_e2e_hex_decode(hex, c->key, KEY_LEN))
		return false;
	c->n = (uint64_t) n;
	return true;
}

/* The kept keys: ascending, all behind the receiving chain, in bounds. */
static bool
kept_from_json(const json_t *arr, fedctl_e2e_session *s, const char **why)
{
	size_t        i, skipped = 0, held = 0;
	const json_t *jk;

	*why = "a kept message key";
	if (!json_is_array(arr))
		return false;
	if (json_array_size(arr) == 0)
		return true;
	if ((s->kept = calloc(json_array_size(arr), sizeof(*s->kept))) == NULL) {
		*why = "out of memory";
		return false;
	}
	json_array_foreach ((json_t *) arr, i, jk) {
		fedctl_e2e_kept *k   = &s->kept[s->n_kept];
		const char      *hex = NULL;
		json_int_t       n = -1, used = -1;

		if (json_unpack((json_t *) jk, "{s:I, s:s, s:I}", "n", &n, "key",
		        &hex, "used_by", &used) != 0 ||
		    n < 0 || used < 0 || (uint64_t) n >= s->recv.n ||
		    (s->n_kept > 0 && (uint64_t) n <= s->kept[s->n_kept - 1].n) ||
		    !fedctl_e2e_hex_decode(hex, k->key, KEY_LEN))
			return false;
		k->n       = (uint64_t) n;
		k->used_by = (uint64_t) used;
		s->n_kept++;
		if (used == 0)
			skipped++;
		else
			held++;
	}
	if (skipped > FEDCTL_E2E_MAX_SKIP || held > FEDCTL_E2E_MAX_HELD) {
		*why = "more kept message keys than the bounds allow";
		return false;
	}
	return true;
}

static bool
session_from_json(const json_t *j, fedctl_e2e_session *s, const char **why)
{
	const char *peer = NULL, *client = NULL, *role = NULL, *base = NULL;
	json_t     *send = NULL, *recv = NULL, *kept = NULL;
	json_int_t  prekey = -1;

	*why = "a session entry";
	if (json_unpack((json_t *) j, "{s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:o}",
	        "peer", &peer, "peer_client", &client, "role", &role,
	        "prekey_id", &prekey, "base", &base, "send", &send, "recv",
	        &recv, "kept", &kept) != 0 ||
	    peer[0] == '\0' || strlen(peer) > FEDCTL_E2E_PARTY_MAX ||
	    !client_from_hex(client, &s->peer_client) || prekey < 0 ||
	    prekey > FEDCTL_E2E_LAST_RESORT ||
	    (strcmp(role, "initiator") != 0 && strcmp(role, "responder") != 0) ||
	    !fedctl_e2e_hex_decode(base, s->base, KEY_LEN) ||
	    !chain_from_json(send, &s->send) || !chain_from_json(recv, &s->recv))
		return false;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->initiator = strcmp(role, "initiator") == 0;
	s->prekey_id = (uint16_t) prekey;
	return kept_from_json(kept, s, why);
}

bool
fedctl_session_set_from_json(
    const json_t *arr, fedctl_session_set *out, const char **why)
{
	const json_t *j;
	size_t        i;

	memset(out, 0, sizeof(*out));
	*why = "sessions";
	if (!json_is_array(arr))
		return false;
	if (json_array_size(arr) == 0)
		return true;
	if ((out->v = calloc(json_array_size(arr), sizeof(*out->v))) == NULL) {
		*why = "out of memory";
		return false;
	}
	json_array_foreach ((json_t *) arr, i, j) {
		/* Counted first, so that clearing sees its kept keys. */
		out->n++;
		if (!session_from_json(j, &out->v[out->n - 1], why)) {
			fedctl_session_set_clear(out);
			return false;
		}
	}
	return true;
}
