/*
 * The ciphertexts of send_ciphers.h: per recipient client, the session we
 * have with it, else one set up from a prekey claimed for it. A member with
 * a session on any of their clients is not claimed for: the owner reports
 * their other clients as missing if there are any, and a round of claims
 * for exactly those follows. The plaintext never leaves this process.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/users.fedrpc.h"

#include "e2e_session.h"
#include "fedctl_output.h"
#include "send_ciphers.h"

typedef Fedrpc__Federation__V1__UserClientIds     uc_ids;
typedef Fedrpc__Federation__V1__UserClientPrekeys uc_prekeys;

void
fedctl_ciphers_free(fedctl_ciphers *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		for (size_t j = 0; j < cs->t[i].n; j++)
			free(cs->t[i].v[j].ct);
		free(cs->t[i].v);
	}
	free(cs->t);
	for (size_t i = 0; i < cs->n_unreachable; i++)
		free(cs->unreachable[i]);
	free(cs->unreachable);
	memset(cs, 0, sizeof(*cs));
}

/* The target of user u, added if new; NULL when out of memory. */
static fedctl_target *
target_of(fedctl_ciphers *cs, const fedctl_pb_qid *u)
{
	fedctl_target *nt;

	for (size_t i = 0; i < cs->n; i++) {
		fedctl_pb_qid p = fedctl_qid_pb(&cs->t[i].q);

		if (fedctl_pb_qid_eq(&p, u))
			return &cs->t[i];
	}
	if ((nt = realloc(cs->t, (cs->n + 1) * sizeof(*nt))) == NULL)
		return NULL;
	cs->t = nt;
	nt    = &cs->t[cs->n];
	memset(nt, 0, sizeof(*nt));
	if (!fedctl_qid_from_pb(u, &nt->q))
		return NULL;
	snprintf(nt->qualified, sizeof(nt->qualified), "%s@%s", nt->q.id,
	    nt->q.domain);
	cs->n++;
	return nt;
}

/* Drops a client's ciphertext (the owner says it is not a recipient). */
static void
target_drop(fedctl_ciphers *cs, const fedctl_pb_qid *u, uint64_t client)
{
	for (size_t i = 0; i < cs->n; i++) {
		fedctl_target *t = &cs->t[i];
		fedctl_pb_qid  p = fedctl_qid_pb(&t->q);

		if (!fedctl_pb_qid_eq(&p, u))
			continue;
		for (size_t j = 0; j < t->n; j++)
			if (t->v[j].client == client) {
				free(t->v[j].ct);
				t->v[j] = t->v[--t->n];
				return;
			}
	}
}

/* The e2e context of a message from the current client to one client. */
static fedctl_e2e_context
context_to(fedctl_session *s, const fedctl_target *t, uint64_t client,
    const char *conv_q)
{
	return (fedctl_e2e_context){
		.sender           = s->state->qualified,
		.sender_client    = s->client->id,
		.recipient        = t->qualified,
		.recipient_client = client,
		.conversation     = conv_q,
	};
}

/* Encrypts on session e for its client; the ciphertext joins t. */
static int
seal_on(fedctl_session *s, fedctl_target *t, fedctl_e2e_session *e,
    const char *conv_q, const char *text, size_t len)
{
	fedctl_e2e_context ctx = context_to(s, t, e->peer_client, conv_q);
	fedctl_sealed     *nv;
	int                rv;

	if ((nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) == NULL)
		return FEDCTL_E2E_ENOMEM;
	t->v = nv;
	nv   = &t->v[t->n];
	memset(nv, 0, sizeof(*nv));
	nv->client = e->peer_client;
	rv = fedctl_e2e_session_encrypt(
	    e, &ctx, (const uint8_t *) text, len, &nv->ct, &nv->len);
	if (rv == FEDCTL_E2E_OK)
		t->n++;
	return rv;
}

static void
conv_qualified(const fedctl_pb_conv *conv, char *out, size_t n)
{
	snprintf(out, n, "%s@%s", conv->id->id, conv->id->domain);
}

static int
encrypt_failed(fedctl_session *s, int rv)
{
	return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "cannot encrypt: %s",
	    fedctl_e2e_strerror(rv));
}

/* A warning for a client we cannot encrypt for; its user is ignored. */
static void
unusable(fedctl_session *s, fedctl_target *t, uint64_t client,
    const char *what, fedctl_ciphers *cs)
{
	fprintf(stderr,
	    "fedctl %s: warning: %s for client %" PRIx64 " of %s; it will not "
	    "get this message\n",
	    s->o->cmd, what, client, t->qualified);
	t->ignore = true;
	cs->no_prekey++;
}

/* A new session with a client from its claimed prekey, and the text on
 * it; the session joins the key store's set. */
static int
seal_new(fedctl_session *s, fedctl_target *t,
    const Fedrpc__Federation__V1__ClientPrekey *cp, const char *conv_q,
    const char *text, size_t len, fedctl_ciphers *cs)
{
	fedctl_e2e_context ctx = context_to(s, t, cp->client, conv_q);
	fedctl_e2e_session fresh;
	int                rv;

	if (cp->prekey == NULL || cp->prekey->key.len != FEDCTL_E2E_KEY_LEN ||
	    cp->prekey->id > FEDCTL_E2E_LAST_RESORT) {
		unusable(s, t, cp->client, "no usable prekey", cs);
		return 0;
	}
	rv = fedctl_e2e_session_initiate(
	    &ctx, (uint16_t) cp->prekey->id, cp->prekey->key.data, &fresh);
	if (rv == FEDCTL_E2E_EKEY) {
		unusable(s, t, cp->client, "an invalid published prekey", cs);
		return 0;
	}
	if (rv != FEDCTL_E2E_OK)
		return encrypt_failed(s, rv);
	if ((rv = seal_on(s, t, &fresh, conv_q, text, len)) != FEDCTL_E2E_OK ||
	    !fedctl_session_set_add(&s->client->sessions, &fresh)) {
		fedctl_e2e_session_wipe(&fresh);
		return encrypt_failed(
		    s, rv != FEDCTL_E2E_OK ? rv : FEDCTL_E2E_ENOMEM);
	}
	cs->new_sessions++;
	return 0;
}

/* ClaimPrekeys for these users (and clients), then a session each. */
static int
claim_and_seal(fedctl_session *s, const fedctl_pb_conv *conv, uc_ids **tv,
    size_t n, const char *text, size_t len, fedctl_ciphers *cs)
{
	Fedrpc__Local__V1__ClaimPrekeysRequest   req =
	    FEDRPC__LOCAL__V1__CLAIM_PREKEYS_REQUEST__INIT;
	Fedrpc__Local__V1__ClaimPrekeysResponse *resp = NULL;
	fedrpc_status                            st   = {0};
	char                                     conv_q[300];
	int                                      rc   = 0;

	if (n == 0)
		return 0;
	conv_qualified(conv, conv_q, sizeof(conv_q));
	req.targets   = tv;
	req.n_targets = n;
	if (fedrpc_local_v1_users_claim_prekeys(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		return fedctl_fail(s, "claiming prekeys", &st);
	for (size_t i = 0; i < resp->n_unreachable_domains && rc == 0; i++) {
		char **nv = realloc(cs->unreachable,
		    (cs->n_unreachable + 1) * sizeof(*nv));

		fprintf(stderr,
		    "fedctl %s: warning: cannot claim prekeys on %s: its "
		    "users we have no session with will not get this message "
		    "[federation failure]\n",
		    s->o->cmd, resp->unreachable_domains[i]);
		if (nv == NULL ||
		    (nv[cs->n_unreachable] =
		            strdup(resp->unreachable_domains[i])) == NULL) {
			if (nv != NULL)
				cs->unreachable = nv;
			rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
			break;
		}
		cs->unreachable = nv;
		cs->n_unreachable++;
	}
	for (size_t i = 0; i < resp->n_users && rc == 0; i++) {
		uc_prekeys    *u = resp->users[i];
		fedctl_target *t = target_of(cs, u->user);

		if (t == NULL) {
			rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
			break;
		}
		for (size_t j = 0; j < u->n_clients && rc == 0; j++)
			rc = seal_new(s, t, u->clients[j], conv_q, text, len, cs);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

/*
 * The text on every session the current client has with user u's
 * clients (never itself); *found says whether there was any.
 */
static int
seal_on_sessions(fedctl_session *s, const fedctl_pb_qid *u,
    const char *conv_q, const char *text, size_t len, fedctl_ciphers *cs,
    bool *found)
{
	fedctl_target *t = target_of(cs, u);
	uint64_t      *clients;
	size_t         n;
	int            rv = FEDCTL_E2E_OK;

	*found = false;
	if (t == NULL)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	n = fedctl_session_set_clients(&s->client->sessions, t->qualified,
	    &clients);
	if (n == SIZE_MAX)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < n && rv == FEDCTL_E2E_OK; i++) {
		fedctl_e2e_session *e;

		if (clients[i] == s->client->id &&
		    strcmp(t->qualified, s->state->qualified) == 0)
			continue;
		e = fedctl_session_set_for_sending(
		    &s->client->sessions, t->qualified, clients[i]);
		if (e == NULL)
			continue;
		if ((rv = seal_on(s, t, e, conv_q, text, len)) == FEDCTL_E2E_OK) {
			cs->on_sessions++;
			*found = true;
		}
	}
	free(clients);
	return rv == FEDCTL_E2E_OK ? 0 : encrypt_failed(s, rv);
}

int
fedctl_ciphers_add_members(fedctl_session *s, const fedctl_pb_conv *conv,
    const char *text, size_t len, fedctl_ciphers *cs)
{
	fedctl_pb_qid self = fedctl_self(s);
	uc_ids       *v    = calloc(conv->n_members + 1, sizeof(*v));
	uc_ids      **pv   = calloc(conv->n_members + 1, sizeof(*pv));
	char          conv_q[300];
	size_t        n = 0;
	int           rc = 0;

	if (v == NULL || pv == NULL) {
		free(v);
		free(pv);
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "out of memory");
	}
	conv_qualified(conv, conv_q, sizeof(conv_q));
	for (size_t i = 0; i < conv->n_members && rc == 0; i++) {
		const fedctl_pb_qid *m = conv->members[i]->id;
		bool                 found;

		rc = seal_on_sessions(s, m, conv_q, text, len, cs, &found);
		/* The owner names our own other clients if we miss any. */
		if (rc != 0 || found || fedctl_pb_qid_eq(m, &self))
			continue;
		fedrpc__federation__v1__user_client_ids__init(&v[n]);
		v[n].user = conv->members[i]->id;
		pv[n]     = &v[n];
		n++;
	}
	if (rc == 0)
		rc = claim_and_seal(s, conv, pv, n, text, len, cs);
	free(v);
	free(pv);
	return rc;
}

/* Drops the sessions with clients the owner says no longer exist. */
void
fedctl_ciphers_forget_deleted(fedctl_session *s,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms,
    fedctl_ciphers *cs)
{
	for (size_t i = 0; i < ms->n_deleted; i++) {
		fedctl_qid q;
		char       user[300];

		if (!fedctl_qid_from_pb(ms->deleted[i]->user, &q))
			continue;
		snprintf(user, sizeof(user), "%s@%s", q.id, q.domain);
		for (size_t j = 0; j < ms->deleted[i]->n_clients; j++)
			cs->dropped += fedctl_session_set_drop(&s->client->sessions,
			    user, ms->deleted[i]->clients[j]);
	}
}

int
fedctl_ciphers_add_missing(fedctl_session *s, const fedctl_pb_conv *conv,
    const Fedrpc__Federation__V1__MessageSendingStatus *ms, const char *text,
    size_t len, fedctl_ciphers *cs)
{
	int rc;

	/* Ciphertexts the owner will not deliver are dropped, not resent. */
	for (size_t i = 0; i < ms->n_redundant; i++)
		for (size_t j = 0; j < ms->redundant[i]->n_clients; j++)
			target_drop(cs, ms->redundant[i]->user,
			    ms->redundant[i]->clients[j]);
	for (size_t i = 0; i < ms->n_deleted; i++)
		for (size_t j = 0; j < ms->deleted[i]->n_clients; j++)
			target_drop(cs, ms->deleted[i]->user,
			    ms->deleted[i]->clients[j]);
	fedctl_ciphers_forget_deleted(s, ms, cs);
	if ((rc = claim_and_seal(s, conv, ms->missing, ms->n_missing, text, len,
	         cs)) != 0)
		return rc;
	/* A missing user we could not encrypt for is ignored from now on. */
	for (size_t i = 0; i < ms->n_missing; i++) {
		fedctl_target *t = target_of(cs, ms->missing[i]->user);

		if (t == NULL)
			return fedctl_failf(
			    s, FEDCTL_EXIT_FAILURE, "out of memory");
		for (size_t j = 0; j < ms->missing[i]->n_clients; j++) {
			bool have = false;

			for (size_t k = 0; k < t->n; k++)
				have |= t->v[k].client ==
				    ms->missing[i]->clients[j];
			if (!have)
				t->ignore = true;
		}
	}
	return 0;
}

int
fedctl_ciphers_keep(fedctl_session *s)
{
	fedrpc_status st = {0};

	if (fedctl_state_save(s->state, &st) != FEDRPC_OK)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
		    "cannot keep the session state, so nothing was sent: %s",
		    st.message);
	return 0;
}
