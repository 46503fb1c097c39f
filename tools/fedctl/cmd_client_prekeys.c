/*
 * fedctl client prekeys: tops up the current client's one-time prekeys.
 * Every sender starting a session claims one; when they are gone senders
 * get only the last-resort prekey, so the backend says (in FetchInbox,
 * shown by fedctl inbox) when a client is low, and this makes more: fresh
 * X25519 key pairs with ids the client does not hold, the private halves
 * kept in the key store before the public halves are uploaded (a key the
 * backend hands out must be one we can open).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/users.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

#define DEFAULT_COUNT 20
#define MAX_COUNT 100 /* what AddPrekeys takes */

/* The next n ids after the highest one-time id the client holds. */
static void
fresh_ids(const fedctl_client *c, fedctl_prekey *keys, size_t n)
{
	uint32_t next = 0;

	for (size_t i = 0; i < c->n_prekeys; i++)
		if (c->prekeys[i].id != FEDCTL_E2E_LAST_RESORT &&
		    c->prekeys[i].id + 1u > next)
			next = c->prekeys[i].id + 1u;
	for (size_t i = 0; i < n; i++) {
		bool held;

		do {
			next %= FEDCTL_E2E_LAST_RESORT;
			held = fedctl_client_prekey((fedctl_client *) c,
			           (uint16_t) next) != NULL;
			keys[i].id = (uint16_t) next++;
		} while (held);
	}
}

/* Uploads the public halves of keys; *left gets the client's count. */
static int
upload(fedctl_session *s, const fedctl_prekey *keys, size_t n,
    uint32_t *left)
{
	Fedrpc__Local__V1__AddPrekeysRequest   req =
	    FEDRPC__LOCAL__V1__ADD_PREKEYS_REQUEST__INIT;
	Fedrpc__Local__V1__AddPrekeysResponse *resp = NULL;
	Fedrpc__Federation__V1__Prekey        *pks  = calloc(n, sizeof(*pks));
	Fedrpc__Federation__V1__Prekey       **pkp  = calloc(n, sizeof(*pkp));
	fedctl_pb_qid                          self = fedctl_self(s);
	fedrpc_status                          st   = {0};
	int                                    rc   = FEDCTL_EXIT_OK;

	if (pks == NULL || pkp == NULL) {
		rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		fedrpc__federation__v1__prekey__init(&pks[i]);
		pks[i].id       = keys[i].id;
		pks[i].key.data = (uint8_t *) keys[i].kp.pub;
		pks[i].key.len  = FEDCTL_E2E_KEY_LEN;
		pkp[i]          = &pks[i];
	}
	req.self      = &self;
	req.client    = s->client->id;
	req.prekeys   = pkp;
	req.n_prekeys = n;
	if (fedrpc_local_v1_users_add_prekeys(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		rc = fedctl_fail(s, "adding prekeys", &st);
	else
		*left = resp->prekeys_left;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(pks);
	free(pkp);
	return rc;
}

int
fedctl_client_prekeys(fedctl_opts *o, int argc, char **argv)
{
	const char         *count = NULL;
	const fedctl_optdef defs[] = {{"count", &count, NULL, NULL}, {NULL}};
	fedctl_session      s;
	fedrpc_status       st = {0};
	fedctl_prekey      *keys = NULL;
	unsigned long       n = DEFAULT_COUNT;
	uint32_t            left = 0;
	char              **pos, *end;
	int                 npos, rc;

	if ((rc = fedctl_parse(argc, argv, o, defs, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(o, "no arguments expected");
	if (count != NULL &&
	    ((n = strtoul(count, &end, 10)) < 1 || n > MAX_COUNT ||
	        *end != '\0'))
		return fedctl_usage(o, "--count takes 1 to %d", MAX_COUNT);
	if ((rc = fedctl_session_open(
	         &s, o, FEDCTL_NEED_CLIENT | FEDCTL_LOCK)) != 0)
		return rc;
	if ((keys = calloc(n, sizeof(*keys))) == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	fresh_ids(s.client, keys, n);
	for (size_t i = 0; i < n; i++)
		if (fedctl_e2e_keypair_generate(&keys[i].kp) != FEDCTL_E2E_OK) {
			rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
			    "cannot make prekeys: %s",
			    fedctl_e2e_strerror(FEDCTL_E2E_ECRYPTO));
			goto out;
		}
	/* Kept first: a key uploaded but lost here could not be opened. */
	if (fedctl_client_add_prekeys(s.client, keys, n, &st) != FEDRPC_OK ||
	    fedctl_state_save(s.state, &st) != FEDRPC_OK) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "cannot keep the new prekeys (none uploaded): %s",
		    st.message);
		goto out;
	}
	if ((rc = upload(&s, keys, n, &left)) != FEDCTL_EXIT_OK)
		goto out;
	if (o->json) {
		char id[20];

		snprintf(id, sizeof(id), "%" PRIx64, s.client->id);
		fedctl_json_emit(json_pack("{s:s, s:I, s:I}", "client", id,
		    "added", (json_int_t) n, "prekeys_left", (json_int_t) left));
	} else {
		printf("client %" PRIx64 ": %lu one-time prekeys added, %" PRIu32
		       " on the backend now\n",
		    s.client->id, n, left);
	}
out:
	if (keys != NULL)
		explicit_bzero(keys, n * sizeof(*keys));
	free(keys);
	fedctl_session_close(&s);
	return rc;
}
