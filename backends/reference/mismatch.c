/*
 * Message checking as Wire's Galley does it (checkMessageClients), extended
 * with failed_to_confirm: set arithmetic over sorted arrays of (domain,
 * user, client). docs/federation-api.md "Sending a message" is the spec.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/reference/mismatch.h"

static void *
al_alloc(ProtobufCAllocator *al, size_t size)
{
	void *p = al->alloc(al->allocator_data, size ? size : 1);

	if (p != NULL)
		memset(p, 0, size ? size : 1);
	return p;
}

int
adp_uc_cmp(const adp_uc *a, const adp_uc *b)
{
	int c;

	if ((c = strcmp(a->domain, b->domain)) != 0)
		return c;
	if ((c = strcmp(a->id, b->id)) != 0)
		return c;
	if (a->client != b->client)
		return a->client < b->client ? -1 : 1;
	return 0;
}

static int
uc_qsort_cmp(const void *a, const void *b)
{
	return adp_uc_cmp(a, b);
}

/* Same user? */
static bool
same_user(const adp_uc *a, const char *domain, const char *id)
{
	return strcmp(a->domain, domain) == 0 && strcmp(a->id, id) == 0;
}

static bool
set_has(const adp_uc_set *s, const adp_uc *x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = adp_uc_cmp(&s->v[mid], x);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static adp_uc *
set_alloc(ProtobufCAllocator *al, size_t n)
{
	return al_alloc(al, (n ? n : 1) * sizeof(adp_uc));
}

/* The members sorted by (domain, id), to find one in log time: a
 * conversation may have thousands, and each recipient is looked up. */
typedef struct member_index {
	const adp_member_clients **v; /* from the allocator */
	size_t                     n;
} member_index;

static int
user_cmp(const char *da, const char *ia, const char *db, const char *ib)
{
	int c = strcmp(da, db);

	return c != 0 ? c : strcmp(ia, ib);
}

static int
member_qsort_cmp(const void *a, const void *b)
{
	const adp_member_clients *x = *(const adp_member_clients *const *) a;
	const adp_member_clients *y = *(const adp_member_clients *const *) b;
	int                       c = user_cmp(x->domain, x->id, y->domain, y->id);

	/* Records of one user keep their input order. */
	return c != 0 ? c : x < y ? -1 : x > y;
}

static bool
member_index_build(const adp_check_input *in, ProtobufCAllocator *al,
    member_index *ix)
{
	ix->n = in->n_members;
	if ((ix->v = al_alloc(al, (ix->n ? ix->n : 1) * sizeof(*ix->v))) ==
	    NULL)
		return false;
	for (size_t i = 0; i < ix->n; i++)
		ix->v[i] = &in->members[i];
	qsort(ix->v, ix->n, sizeof(*ix->v), member_qsort_cmp);
	return true;
}

/* A member record for a user (the first in input order), or NULL. */
static const adp_member_clients *
find_member(const member_index *ix, const char *domain, const char *id)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (user_cmp(ix->v[mid]->domain, ix->v[mid]->id, domain, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->n &&
	    user_cmp(ix->v[lo]->domain, ix->v[lo]->id, domain, id) == 0)
		return ix->v[lo];
	return NULL;
}

/* Whether a sorted set has a pair of the user (any client). */
static bool
set_has_user(const adp_uc_set *s, const char *domain, const char *id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (user_cmp(s->v[mid].domain, s->v[mid].id, domain, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && same_user(&s->v[lo], domain, id);
}

static bool
strategy_names(const adp_check_input *in, const adp_uc *x)
{
	for (size_t i = 0; i < in->n_strategy_users; i++)
		if (same_user(x, in->strategy_users[i].domain,
		        in->strategy_users[i].id))
			return true;
	return false;
}

static bool
strategy_reports(const adp_check_input *in, const adp_uc *x)
{
	switch (in->strategy) {
	case ADP_REPORT_ALL:
		return true;
	case ADP_IGNORE_ALL:
		return false;
	case ADP_REPORT_ONLY:
		return strategy_names(in, x);
	case ADP_IGNORE_ONLY:
		return !strategy_names(in, x);
	}
	return true;
}

fedrpc_code
adp_check_message(const adp_check_input *in, ProtobufCAllocator *al,
    adp_check_result *out, fedrpc_status *st)
{
	adp_uc_set                rcpt, expected;
	const adp_member_clients *sm;
	member_index              mi;
	size_t                    np = 0;

	memset(out, 0, sizeof(*out));

	/* Recipients, sorted; a pair twice is malformed. */
	rcpt.n = in->n_recipients;
	if ((rcpt.v = set_alloc(al, rcpt.n)) == NULL)
		goto nomem;
	if (rcpt.n > 0)
		memcpy(rcpt.v, in->recipients, rcpt.n * sizeof(adp_uc));
	qsort(rcpt.v, rcpt.n, sizeof(adp_uc), uc_qsort_cmp);
	for (size_t i = 1; i < rcpt.n; i++)
		if (adp_uc_cmp(&rcpt.v[i - 1], &rcpt.v[i]) == 0)
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "recipients: client %llx of %s@%s appears twice",
			    (unsigned long long) rcpt.v[i].client,
			    rcpt.v[i].id, rcpt.v[i].domain);

	/* Step 3: the sending client must be the sender's, unless the
	 * sender's backend could not say (then it is taken on trust). */
	if (!member_index_build(in, al, &mi))
		goto nomem;
	sm = find_member(&mi, in->sender.domain, in->sender.id);
	if (sm == NULL) {
		out->unknown_sender_client = true;
		return FEDRPC_OK;
	}
	if (sm->confirmed) {
		bool found = false;

		for (size_t i = 0; i < sm->n_clients && !found; i++)
			found = sm->clients[i] == in->sender.client;
		if (!found) {
			out->unknown_sender_client = true;
			return FEDRPC_OK;
		}
	}

	/*
	 * Expected: every member's clients but the sending one. A member
	 * whose backend could not list clients is expected to have exactly
	 * the clients the message lists for it (taken on trust).
	 */
	for (size_t i = 0; i < in->n_members; i++)
		np += in->members[i].confirmed ? in->members[i].n_clients : 0;
	np += rcpt.n;
	if ((expected.v = set_alloc(al, np)) == NULL)
		goto nomem;
	expected.n = 0;
	for (size_t i = 0; i < in->n_members; i++) {
		const adp_member_clients *m = &in->members[i];

		if (!m->confirmed)
			continue;
		for (size_t j = 0; j < m->n_clients; j++) {
			adp_uc x = {m->domain, m->id, m->clients[j], false,
			    NULL};

			expected.v[expected.n++] = x;
		}
	}
	for (size_t i = 0; i < rcpt.n; i++) {
		const adp_member_clients *m =
		    find_member(&mi, rcpt.v[i].domain, rcpt.v[i].id);

		if (m != NULL && !m->confirmed) {
			expected.v[expected.n]    = rcpt.v[i];
			expected.v[expected.n].ct = NULL;
			expected.n++;
		}
	}
	qsort(expected.v, expected.n, sizeof(adp_uc), uc_qsort_cmp);
	{
		/* Drop duplicates and the sending client. */
		size_t w = 0;

		for (size_t i = 0; i < expected.n; i++) {
			if (w > 0 &&
			    adp_uc_cmp(&expected.v[w - 1], &expected.v[i]) == 0)
				continue;
			if (adp_uc_cmp(&expected.v[i], &in->sender) == 0)
				continue;
			expected.v[w++] = expected.v[i];
		}
		expected.n = w;
	}

	/* The sets of step 4. */
	if ((out->missing.v = set_alloc(al, expected.n)) == NULL ||
	    (out->redundant.v = set_alloc(al, rcpt.n)) == NULL ||
	    (out->deleted.v = set_alloc(al, rcpt.n)) == NULL ||
	    (out->valid.v = set_alloc(al, rcpt.n)) == NULL ||
	    (out->failed_to_confirm.v = set_alloc(al, rcpt.n)) == NULL ||
	    (out->unconfirmed_absent.v = set_alloc(al, in->n_members)) == NULL)
		goto nomem;
	for (size_t i = 0; i < expected.n; i++)
		if (!set_has(&rcpt, &expected.v[i]) &&
		    strategy_reports(in, &expected.v[i]))
			out->missing.v[out->missing.n++] = expected.v[i];
	for (size_t i = 0; i < rcpt.n; i++) {
		const adp_uc             *x = &rcpt.v[i];
		const adp_member_clients *m = find_member(&mi, x->domain, x->id);

		if (set_has(&expected, x)) {
			out->valid.v[out->valid.n++] = *x;
			if (m != NULL && !m->confirmed)
				out->failed_to_confirm
				    .v[out->failed_to_confirm.n++] = *x;
		} else if (m != NULL && adp_uc_cmp(x, &in->sender) != 0) {
			out->deleted.v[out->deleted.n++] = *x;
		} else {
			out->redundant.v[out->redundant.n++] = *x;
		}
	}
	/* Unconfirmed members the message lists no client for. */
	for (size_t i = 0; i < in->n_members; i++) {
		const adp_member_clients *m = &in->members[i];

		if (m->confirmed)
			continue;
		if (!set_has_user(&rcpt, m->domain, m->id)) {
			adp_uc x = {m->domain, m->id, 0, true, NULL};

			out->unconfirmed_absent.v[out->unconfirmed_absent.n++] =
			    x;
		}
	}
	qsort(out->unconfirmed_absent.v, out->unconfirmed_absent.n,
	    sizeof(adp_uc), uc_qsort_cmp);
	out->send = out->missing.n == 0;
	return FEDRPC_OK;

nomem:
	return fedrpc_status_set(
	    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory checking a message");
}

fedrpc_code
adp_uc_union(const adp_uc_set *a, const adp_uc_set *b, ProtobufCAllocator *al,
    adp_uc_set *out)
{
	size_t i = 0, j = 0;

	out->n = 0;
	if ((out->v = set_alloc(al, a->n + b->n)) == NULL)
		return FEDRPC_RESOURCE_EXHAUSTED;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1
		    : j == b->n   ? -1
				  : adp_uc_cmp(&a->v[i], &b->v[j]);

		if (c <= 0) {
			out->v[out->n++] = a->v[i++];
			if (c == 0)
				j++;
		} else {
			out->v[out->n++] = b->v[j++];
		}
	}
	return FEDRPC_OK;
}

/* How many distinct users a sorted set holds (optionally on one domain). */
static size_t
count_users(const adp_uc_set *s, const char *domain)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (domain != NULL && strcmp(s->v[i].domain, domain) != 0)
			continue;
		if (i == 0 ||
		    !same_user(&s->v[i - 1], s->v[i].domain, s->v[i].id))
			n++;
	}
	return n;
}

static Fedrpc__Federation__V1__QualifiedId *
qid_new(ProtobufCAllocator *al, const char *domain, const char *id)
{
	Fedrpc__Federation__V1__QualifiedId *q = al_alloc(al, sizeof(*q));
	size_t dl = strlen(domain) + 1, il = strlen(id) + 1;

	if (q == NULL)
		return NULL;
	fedrpc__federation__v1__qualified_id__init(q);
	if ((q->domain = al_alloc(al, dl)) == NULL ||
	    (q->id = al_alloc(al, il)) == NULL)
		return NULL;
	memcpy(q->domain, domain, dl);
	memcpy(q->id, id, il);
	return q;
}

Fedrpc__Federation__V1__UserClientIds **
adp_uc_report(const adp_uc_set *s, ProtobufCAllocator *al, size_t *n)
{
	size_t                                  nu = count_users(s, NULL), k = 0;
	Fedrpc__Federation__V1__UserClientIds **list;

	*n = 0;
	if (nu == 0)
		return NULL;
	if ((list = al_alloc(al, nu * sizeof(*list))) == NULL)
		goto nomem;
	for (size_t i = 0; i < s->n;) {
		Fedrpc__Federation__V1__UserClientIds *u;
		size_t                                 j = i, nc = 0;

		while (j < s->n && same_user(&s->v[j], s->v[i].domain, s->v[i].id)) {
			nc += s->v[j].user_only ? 0 : 1;
			j++;
		}
		if ((u = al_alloc(al, sizeof(*u))) == NULL)
			goto nomem;
		fedrpc__federation__v1__user_client_ids__init(u);
		if ((u->user = qid_new(al, s->v[i].domain, s->v[i].id)) == NULL ||
		    (nc > 0 &&
		        (u->clients = al_alloc(al, nc * sizeof(uint64_t))) ==
		            NULL))
			goto nomem;
		for (; i < j; i++)
			if (!s->v[i].user_only)
				u->clients[u->n_clients++] = s->v[i].client;
		list[k++] = u;
	}
	*n = k;
	return list;

nomem:
	*n = SIZE_MAX;
	return NULL;
}

Fedrpc__Federation__V1__UserCiphertexts **
adp_uc_ciphertexts(const adp_uc_set *s, const char *domain,
    ProtobufCAllocator *al, size_t *n)
{
	size_t nu = count_users(s, domain), k = 0;
	Fedrpc__Federation__V1__UserCiphertexts **list;

	*n = 0;
	if (nu == 0)
		return NULL;
	if ((list = al_alloc(al, nu * sizeof(*list))) == NULL)
		goto nomem;
	for (size_t i = 0; i < s->n;) {
		Fedrpc__Federation__V1__UserCiphertexts *u;
		size_t                                   j = i, nc = 0;

		while (j < s->n && same_user(&s->v[j], s->v[i].domain, s->v[i].id))
			j++;
		if (strcmp(s->v[i].domain, domain) != 0) {
			i = j;
			continue;
		}
		nc = j - i;
		if ((u = al_alloc(al, sizeof(*u))) == NULL)
			goto nomem;
		fedrpc__federation__v1__user_ciphertexts__init(u);
		if ((u->user = qid_new(al, s->v[i].domain, s->v[i].id)) == NULL ||
		    (u->clients = al_alloc(al, nc * sizeof(*u->clients))) ==
		        NULL)
			goto nomem;
		for (; i < j; i++) {
			Fedrpc__Federation__V1__ClientCiphertext *c =
			    al_alloc(al, sizeof(*c));

			if (c == NULL)
				goto nomem;
			fedrpc__federation__v1__client_ciphertext__init(c);
			c->client = s->v[i].client;
			if (s->v[i].ct != NULL)
				c->ciphertext = *s->v[i].ct;
			u->clients[u->n_clients++] = c;
		}
		list[k++] = u;
	}
	*n = k;
	return list;

nomem:
	*n = SIZE_MAX;
	return NULL;
}
