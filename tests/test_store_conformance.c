/*
 * The store conformance suite: what every store of the reference backend
 * must do, checked through the store interface (backends/reference/store.h)
 * only and run for every store in store_fixture.h's table. It covers every
 * operation and its stated order, rollback (nothing of a rolled-back
 * transaction is seen), isolation, the uniqueness rules, two writers at
 * once (one wins, the other gets the uniqueness or conflict result, no
 * update is lost), the delivery state (queues, back-off, leases), sent
 * messages, and large inputs.
 */
#include <stdatomic.h>

#include "store_fixture.h"

#define DOM "a.example"
#define ROLE_ADMIN 1
#define ROLE_MEMBER 2
#define KEEP 65535u

static fedrpc_store_user
user_of(sf *f, const char *id)
{
	fedrpc_store_user u;
	bool              found;

	SF_OK(f, OPS(f)->user_get(TX(f), id, &u, &found, &f->st));
	cr_assert(found, "[%s] user %s", f->factory->name, id);
	return u;
}

static void
add_user(sf *f, unsigned n, const char *handle, const char *name)
{
	SF_OK(f, OPS(f)->user_insert(TX(f), sf_uuid(n), handle, name, 1000 + n,
	             &f->st));
}

/* ---- users ---- */

static void
check_users(sf *f)
{
	fedrpc_store_user u;
	bool              found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	add_user(f, 1, "ann", "Ann Smith");
	add_user(f, 2, "bob", "Bob");
	u = user_of(f, sf_uuid(1));
	cr_assert_str_eq(u.id, sf_uuid(1));
	cr_assert_str_eq(u.handle, "ann");
	cr_assert_str_eq(u.name, "Ann Smith");
	cr_assert_not(u.deleted);
	SF_OK(f, OPS(f)->user_get(TX(f), sf_uuid(9), &u, &found, &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->user_get_by_handle(TX(f), "bob", &u, &found, &f->st));
	cr_assert(found);
	cr_assert_str_eq(u.id, sf_uuid(2));
	SF_OK(f, OPS(f)->user_get_by_handle(TX(f), "carl", &u, &found, &f->st));
	cr_assert_not(found);

	/* Deleted: the id stays, handle and name go, the handle is free. */
	SF_OK(f, OPS(f)->user_mark_deleted(TX(f), sf_uuid(1), &f->st));
	u = user_of(f, sf_uuid(1));
	cr_assert(u.deleted);
	cr_assert_str_eq(u.handle, "");
	cr_assert_str_eq(u.name, "");
	SF_OK(f, OPS(f)->user_get_by_handle(TX(f), "ann", &u, &found, &f->st));
	cr_assert_not(found, "a deleted user holds no handle");
	add_user(f, 3, "ann", "Another Ann");
	SF_OK(f, OPS(f)->user_get_by_handle(TX(f), "ann", &u, &found, &f->st));
	cr_assert(found);
	cr_assert_str_eq(u.id, sf_uuid(3));
	sf_commit(f);
}

static void
check_user_uniqueness(sf *f)
{
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	add_user(f, 1, "ann", "Ann");
	sf_commit(f);

	/* Each broken rule is DUPLICATE; the transaction then rolls back. */
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_EXPECT(f, FEDRPC_STORE_DUPLICATE,
	    OPS(f)->user_insert(TX(f), sf_uuid(2), "ann", "X", 1, &f->st));
	sf_rollback(f);
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_EXPECT(f, FEDRPC_STORE_DUPLICATE,
	    OPS(f)->user_insert(TX(f), sf_uuid(1), "other", "X", 1, &f->st));
	sf_rollback(f);

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_str_eq(user_of(f, sf_uuid(1)).name, "Ann");
	sf_commit(f);
}

/* The handles a search finds, joined by spaces. */
static const char *
search(sf *f, const char *term, size_t limit)
{
	static char        out[1024];
	fedrpc_store_user *u;
	size_t             n;

	SF_OK(f, OPS(f)->user_search(TX(f), term, limit, &u, &n, &f->st));
	cr_assert_leq(n, limit);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		cr_assert_not(u[i].deleted);
		strncat(out, i ? " " : "", sizeof(out) - strlen(out) - 1);
		strncat(out, u[i].handle, sizeof(out) - strlen(out) - 1);
	}
	return out;
}

static void
check_user_search(sf *f)
{
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	add_user(f, 1, "anna", "Anna Lee");
	add_user(f, 2, "ann", "Zed");
	add_user(f, 3, "annabel", "Bel");
	add_user(f, 4, "bob", "Bob Annson");
	add_user(f, 5, "carl", "Carl Jones");
	add_user(f, 6, "a_b", "Under Score");
	add_user(f, 7, "dave", "Ann Deleted");
	SF_OK(f, OPS(f)->user_mark_deleted(TX(f), sf_uuid(7), &f->st));

	/* The exact handle first, then by handle; names and name words. */
	cr_assert_str_eq(search(f, "ann", 15), "ann anna annabel bob");
	cr_assert_str_eq(search(f, "ANN", 15), "ann anna annabel bob");
	cr_assert_str_eq(search(f, "ann", 2), "ann anna");
	cr_assert_str_eq(search(f, "jon", 15), "carl");
	cr_assert_str_eq(search(f, "lee", 15), "anna");
	/* LIKE-style wildcards in a term are plain characters. */
	cr_assert_str_eq(search(f, "a_", 15), "a_b");
	cr_assert_str_eq(search(f, "%", 15), "");
	cr_assert_str_eq(search(f, "", 15), "");
	cr_assert_str_eq(search(f, "nobody", 15), "");
	sf_commit(f);
}

/* ---- clients and prekeys ---- */

static void
check_clients(sf *f)
{
	const char          *ann = sf_uuid(1);
	const uint64_t       big = 0x8000000000000001ull; /* top bit set */
	fedrpc_store_client *cl;
	size_t               n;
	bool                 b;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	add_user(f, 1, "ann", "Ann");
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, big, 1, 5, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, 7, 2, 5, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, UINT64_MAX, 0, 5, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(2), 7, 0, 5, &f->st));
	SF_OK(f, OPS(f)->client_exists(TX(f), ann, big, &b, &f->st));
	cr_assert(b);
	SF_OK(f, OPS(f)->client_exists(TX(f), ann, 8, &b, &f->st));
	cr_assert_not(b);

	/* Ascending as unsigned numbers. */
	SF_OK(f, OPS(f)->client_list(TX(f), ann, &cl, &n, &f->st));
	cr_assert_eq(n, 3);
	cr_assert_eq(cl[0].id, 7);
	cr_assert_eq(cl[0].client_class, 2);
	cr_assert_eq(cl[1].id, big);
	cr_assert_eq(cl[2].id, UINT64_MAX);
	SF_OK(f, OPS(f)->client_list(TX(f), sf_uuid(9), &cl, &n, &f->st));
	cr_assert_eq(n, 0);

	SF_OK(f, OPS(f)->client_delete(TX(f), ann, big, &b, &f->st));
	cr_assert(b);
	SF_OK(f, OPS(f)->client_delete(TX(f), ann, big, &b, &f->st));
	cr_assert_not(b, "a client is deleted once");
	SF_OK(f, OPS(f)->client_list(TX(f), ann, &cl, &n, &f->st));
	cr_assert_eq(n, 2);
	SF_OK(f, OPS(f)->client_delete_all(TX(f), ann, &f->st));
	SF_OK(f, OPS(f)->client_list(TX(f), ann, &cl, &n, &f->st));
	cr_assert_eq(n, 0);
	SF_OK(f, OPS(f)->client_exists(TX(f), sf_uuid(2), 7, &b, &f->st));
	cr_assert(b, "another user's client with the same id stays");
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_EXPECT(f, FEDRPC_STORE_DUPLICATE,
	    OPS(f)->client_insert(TX(f), sf_uuid(2), 7, 1, 6, &f->st));
	sf_rollback(f);
}

static void
add_prekey(sf *f, const char *user, uint64_t client, uint32_t id,
    const char *key)
{
	ProtobufCBinaryData k = sf_bytes(key, strlen(key));

	SF_OK(f, OPS(f)->prekey_insert(TX(f), user, client, id, &k, &f->st));
}

static uint32_t
claim(sf *f, const char *user, uint64_t client, bool *found)
{
	fedrpc_store_prekey pk = {0};

	SF_OK(f, OPS(f)->prekey_claim(TX(f), user, client, KEEP, &pk, found,
	             &f->st));
	return pk.id;
}

static void
check_prekeys(sf *f)
{
	const char         *ann = sf_uuid(1);
	static const uint8_t bin[] = {0, 1, 0, 255, 0};
	ProtobufCBinaryData  k = sf_bytes(bin, sizeof(bin));
	fedrpc_store_prekey  pk;
	bool                 found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, 1, 0, 0, &f->st));
	add_prekey(f, ann, 1, 9, "nine");
	add_prekey(f, ann, 1, 3, "three");
	SF_OK(f, OPS(f)->prekey_insert(TX(f), ann, 1, KEEP, &k, &f->st));
	add_prekey(f, ann, 2, 1, "other client");
	/* Counted per client, the kept one aside. */
	{
		uint32_t n = 99;

		SF_OK(f, OPS(f)->prekey_count(TX(f), ann, 1, KEEP, &n, &f->st));
		cr_assert_eq(n, 2);
		SF_OK(f, OPS(f)->prekey_count(TX(f), ann, 3, KEEP, &n, &f->st));
		cr_assert_eq(n, 0, "no such client");
	}

	/* The lowest first, each once; then the kept one, again and again. */
	SF_OK(f, OPS(f)->prekey_claim(TX(f), ann, 1, KEEP, &pk, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_eq(pk.id, 3);
	cr_assert(sf_bytes_eq(pk.key, sf_bytes("three", 5)));
	cr_assert_eq(claim(f, ann, 1, &found), 9);
	for (int i = 0; i < 3; i++) {
		SF_OK(f, OPS(f)->prekey_claim(TX(f), ann, 1, KEEP, &pk, &found,
		             &f->st));
		cr_assert(found);
		cr_assert_eq(pk.id, KEEP);
		cr_assert(sf_bytes_eq(pk.key, k), "binary keys kept as they are");
	}
	claim(f, ann, 3, &found);
	cr_assert_not(found, "no such client");
	cr_assert_eq(claim(f, ann, 2, &found), 1);
	claim(f, ann, 2, &found);
	cr_assert_not(found, "the other client's only key is gone");
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_EXPECT(f, FEDRPC_STORE_DUPLICATE,
	    OPS(f)->prekey_insert(TX(f), ann, 1, KEEP, &k, &f->st));
	sf_rollback(f);

	/* A client's deletion takes its prekeys along. */
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_delete(TX(f), ann, 1, &found, &f->st));
	claim(f, ann, 1, &found);
	cr_assert_not(found);
	sf_commit(f);
}

/* ---- connections ---- */

static void
put_side(sf *f, const char *from, const char *dom, const char *to, int rel,
    int64_t ms)
{
	fedrpc_store_qid q = sf_qid(dom, to);

	SF_OK(f, OPS(f)->connection_put(TX(f), from, &q, rel, ms, &f->st));
}

static void
check_connections(sf *f)
{
	const char        *ann = sf_uuid(1), *bob = sf_uuid(2);
	fedrpc_store_qid   bq = sf_qid(DOM, bob), cq = sf_qid("c.example", ann);
	fedrpc_store_side *sides;
	size_t             n;
	int                rel = -1;
	bool               found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->connection_get(TX(f), ann, &bq, &rel, &found, &f->st));
	cr_assert_not(found);
	put_side(f, ann, DOM, bob, 4, 10);
	put_side(f, ann, DOM, bob, 3, 11); /* replaces */
	put_side(f, ann, "c.example", ann, 1, 12);
	put_side(f, ann, "b.example", bob, 2, 13);
	put_side(f, bob, "c.example", ann, 5, 14);
	put_side(f, sf_uuid(0), "c.example", ann, 1, 15);
	SF_OK(f, OPS(f)->connection_get(TX(f), ann, &bq, &rel, &found, &f->st));
	cr_assert(found);
	cr_assert_eq(rel, 3);

	/* By (to domain, to id). */
	SF_OK(f, OPS(f)->connection_list_from(TX(f), ann, &sides, &n, &f->st));
	cr_assert_eq(n, 3);
	cr_assert_str_eq(sides[0].to->domain, DOM);
	cr_assert_str_eq(sides[0].from, ann);
	cr_assert_eq(sides[0].relation, 3);
	cr_assert_eq(sides[0].updated_ms, 11);
	cr_assert_str_eq(sides[1].to->domain, "b.example");
	cr_assert_str_eq(sides[2].to->domain, "c.example");
	cr_assert_str_eq(sides[2].to->id, ann);

	/* By from. */
	SF_OK(f, OPS(f)->connection_list_towards(TX(f), &cq, &sides, &n,
	             &f->st));
	cr_assert_eq(n, 3);
	cr_assert_str_eq(sides[0].from, sf_uuid(0));
	cr_assert_str_eq(sides[1].from, ann);
	cr_assert_str_eq(sides[2].from, bob);
	cr_assert_eq(sides[2].relation, 5);
	cr_assert_str_eq(sides[2].to->id, ann);

	SF_OK(f, OPS(f)->connection_delete(TX(f), ann, &bq, &f->st));
	SF_OK(f, OPS(f)->connection_get(TX(f), ann, &bq, &rel, &found, &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->connection_delete_towards(TX(f), &cq, &f->st));
	SF_OK(f, OPS(f)->connection_list_towards(TX(f), &cq, &sides, &n,
	             &f->st));
	cr_assert_eq(n, 0);
	SF_OK(f, OPS(f)->connection_list_from(TX(f), ann, &sides, &n, &f->st));
	cr_assert_eq(n, 1, "only the side towards b.example is left");
	SF_OK(f, OPS(f)->connection_delete_from(TX(f), ann, &f->st));
	SF_OK(f, OPS(f)->connection_list_from(TX(f), ann, &sides, &n, &f->st));
	cr_assert_eq(n, 0);
	sf_commit(f);
}

/* ---- inboxes ---- */

static void
append_user(sf *f, const char *user, const char *text)
{
	ProtobufCBinaryData ev = sf_bytes(text, strlen(text));

	SF_OK(f, OPS(f)->inbox_append_user(TX(f), user, &ev, &f->st));
}

static bool
append_client(sf *f, const char *user, uint64_t client, const char *text)
{
	ProtobufCBinaryData ev = sf_bytes(text, strlen(text));
	bool                appended;

	SF_OK(f, OPS(f)->inbox_append_client(TX(f), user, client, &ev,
	             &appended, &f->st));
	return appended;
}

static void
check_inbox(sf *f)
{
	const char         *ann = sf_uuid(1);
	fedrpc_store_event *ev;
	size_t              n;
	uint64_t            deleted;
	bool                more;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, 1, 0, 0, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, 2, 0, 0, &f->st));
	append_user(f, ann, "e1");
	cr_assert(append_client(f, ann, 2, "only 2"));
	cr_assert_not(append_client(f, ann, 3, "no such client"));
	append_user(f, ann, "e2");
	append_user(f, sf_uuid(9), "a user without clients");

	/* Ids per client, from 1, ascending. */
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 1, 0, 10, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(n, 2);
	cr_assert_not(more);
	cr_assert_eq(ev[0].id, 1);
	cr_assert(sf_bytes_eq(ev[0].data, sf_bytes("e1", 2)));
	cr_assert_eq(ev[1].id, 2);
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 2, 0, 10, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(n, 3);
	cr_assert(sf_bytes_eq(ev[1].data, sf_bytes("only 2", 6)));
	cr_assert_eq(ev[2].id, 3);

	/* Pages: after an id, a limit, and whether more follow. */
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 2, 1, 1, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(n, 1);
	cr_assert_eq(ev[0].id, 2);
	cr_assert(more);
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 2, 2, 1, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(ev[0].id, 3);
	cr_assert_not(more);

	/* Acknowledged events go; their ids are not given again. */
	SF_OK(f, OPS(f)->inbox_ack(TX(f), ann, 2, 2, &deleted, &f->st));
	cr_assert_eq(deleted, 2);
	SF_OK(f, OPS(f)->inbox_ack(TX(f), ann, 2, UINT64_MAX, &deleted, &f->st));
	cr_assert_eq(deleted, 1);
	cr_assert(append_client(f, ann, 2, "later"));
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 2, 0, 10, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(n, 1);
	cr_assert_eq(ev[0].id, 4);

	/* A deleted client's inbox goes with it. */
	SF_OK(f, OPS(f)->client_delete(TX(f), ann, 1, &more, &f->st));
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, 1, 0, 10, &ev, &n, &more,
	             &f->st));
	cr_assert_eq(n, 0);
	sf_commit(f);
}

/* An entry of a batch (strings borrowed). */
static fedrpc_store_inbox_entry
entry(const char *user, uint64_t client, const char *text)
{
	fedrpc_store_inbox_entry e = {user, client, sf_bytes(text, strlen(text))};

	return e;
}

/* Checks a client's whole inbox: its ids and events, in order. */
static void
expect_inbox(sf *f, const char *user, uint64_t client, size_t n,
    const uint64_t *ids, const char *const *texts)
{
	fedrpc_store_event *ev;
	size_t              got;
	bool                more;

	SF_OK(f, OPS(f)->inbox_fetch(TX(f), user, client, 0, 100, &ev, &got,
	             &more, &f->st));
	cr_assert_eq(got, n, "[%s] %s/%llu: %zu events, not %zu",
	    f->factory->name, user, (unsigned long long) client, got, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ev[i].id, ids[i], "[%s] %s/%llu: event %zu has id "
		    "%llu, not %llu", f->factory->name, user,
		    (unsigned long long) client, i, (unsigned long long) ev[i].id,
		    (unsigned long long) ids[i]);
		cr_assert(sf_bytes_eq(ev[i].data,
		              sf_bytes(texts[i], strlen(texts[i]))),
		    "[%s] %s/%llu: event %zu is not '%s'", f->factory->name,
		    user, (unsigned long long) client, i, texts[i]);
	}
}

static void
check_inbox_batch(sf *f)
{
	char                     ann[37], bob[37];
	const uint64_t           big = 0x8000000000000001ull;
	fedrpc_store_inbox_entry e[7];
	bool                     appended[7];

	snprintf(ann, sizeof(ann), "%s", sf_uuid(1));
	snprintf(bob, sizeof(bob), "%s", sf_uuid(2));
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, 1, 0, 0, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), ann, big, 0, 0, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), bob, 1, 0, 0, &f->st));
	cr_assert(append_client(f, ann, 1, "before"));

	/* An empty batch stores nothing and takes no id. */
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), NULL, 0, NULL, &f->st));

	/* In order per inbox, after what was there; a client named twice
	 * gets two ids; a missing one is reported and skipped. */
	e[0] = entry(ann, 1, "a1");
	e[1] = entry(bob, 1, "b1");
	e[2] = entry(ann, big, "big1");
	e[3] = entry(ann, 9, "no such client");
	e[4] = entry(sf_uuid(9), 1, "no such user");
	e[5] = entry(ann, 1, "a2");
	e[6] = entry(bob, 1, "b2");
	memset(appended, 0xff, sizeof(appended));
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), e, 7, appended, &f->st));
	for (size_t i = 0; i < 7; i++)
		cr_assert_eq(appended[i], i != 3 && i != 4,
		    "[%s] entry %zu appended: %d", f->factory->name, i,
		    appended[i]);
	/* Without appended, the same; then single appends go on after. */
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), e + 5, 2, NULL, &f->st));
	cr_assert(append_client(f, bob, 1, "b4"));
	cr_assert_not(append_client(f, ann, 9, "still none"));
	expect_inbox(f, ann, 1, 4, (uint64_t[]){1, 2, 3, 4},
	    (const char *[]){"before", "a1", "a2", "a2"});
	expect_inbox(f, ann, big, 1, (uint64_t[]){1}, (const char *[]){"big1"});
	expect_inbox(f, bob, 1, 4, (uint64_t[]){1, 2, 3, 4},
	    (const char *[]){"b1", "b2", "b2", "b4"});
	expect_inbox(f, ann, 9, 0, NULL, NULL);
	sf_commit(f);

	/* Rolled back with its transaction, ids too. */
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), e, 3, NULL, &f->st));
	sf_rollback(f);
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cr_assert(append_client(f, ann, big, "big2"));
	expect_inbox(f, ann, big, 2, (uint64_t[]){1, 2},
	    (const char *[]){"big1", "big2"});
	sf_commit(f);
}

/* The same entries as single appends (clients of user 1) and as one batch
 * (the same clients of user 2), after inboxes of different lengths: the
 * inboxes end up alike, ids and events. */
static void
check_inbox_batch_like_singles(sf *f)
{
	enum { N = 40, CLIENTS = 5 };
	char                     users[2][37], text[N][16];
	fedrpc_store_inbox_entry e[N];
	bool                     single[N], batched[N];

	for (int u = 0; u < 2; u++)
		snprintf(users[u], sizeof(users[u]), "%s", sf_uuid(1 + u));
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	for (int u = 0; u < 2; u++)
		for (uint64_t c = 1; c <= CLIENTS; c++) {
			SF_OK(f, OPS(f)->client_insert(TX(f), users[u], c, 0, 0,
			             &f->st));
			for (uint64_t k = 0; k < c; k++)
				cr_assert(append_client(f, users[u], c, "old"));
		}
	/* Clients 1..CLIENTS+1 (the last one missing), repeating, some
	 * twice in a row. */
	for (int i = 0; i < N; i++) {
		uint64_t c = (uint64_t) (i * 7 % (CLIENTS + 1)) + 1;

		snprintf(text[i], sizeof(text[i]), "m%d", i);
		single[i] = append_client(f, users[0], c, text[i]);
		e[i]      = entry(users[1], c, text[i]);
		if (i % 9 == 0 && i + 1 < N) {
			i++;
			single[i] = append_client(f, users[0], c, "");
			e[i]      = entry(users[1], c, "");
		}
	}
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), e, N, batched, &f->st));
	for (int i = 0; i < N; i++)
		cr_assert_eq(batched[i], single[i], "[%s] entry %d",
		    f->factory->name, i);
	for (uint64_t c = 1; c <= CLIENTS + 1; c++) {
		fedrpc_store_event *a, *b;
		size_t              na, nb;
		bool                more;

		SF_OK(f, OPS(f)->inbox_fetch(TX(f), users[0], c, 0, 1000, &a,
		             &na, &more, &f->st));
		SF_OK(f, OPS(f)->inbox_fetch(TX(f), users[1], c, 0, 1000, &b,
		             &nb, &more, &f->st));
		cr_assert_eq(na, nb, "[%s] client %llu: %zu and %zu events",
		    f->factory->name, (unsigned long long) c, na, nb);
		for (size_t i = 0; i < na; i++) {
			cr_assert_eq(a[i].id, b[i].id, "[%s] client %llu, %zu",
			    f->factory->name, (unsigned long long) c, i);
			cr_assert(sf_bytes_eq(a[i].data, b[i].data),
			    "[%s] client %llu, event %zu", f->factory->name,
			    (unsigned long long) c, i);
		}
	}
	sf_commit(f);
}

/* More entries than a store may send in one statement (1,000 in
 * PostgreSQL's): the order holds across the parts. */
static void
check_inbox_batch_large(sf *f)
{
	enum { N = 2600, CLIENTS = 3 };
	fedrpc_store_inbox_entry *e = calloc(N, sizeof(*e));
	bool                     *appended = calloc(N, sizeof(*appended));
	char                    (*text)[16] = calloc(N, sizeof(*text));
	char                      ann[37];
	size_t                    seen[CLIENTS + 1] = {0};

	cr_assert(e != NULL && appended != NULL && text != NULL);
	snprintf(ann, sizeof(ann), "%s", sf_uuid(1));
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	for (uint64_t c = 1; c <= CLIENTS; c++)
		SF_OK(f, OPS(f)->client_insert(TX(f), ann, c, 0, 0, &f->st));
	/* Client CLIENTS + 1 does not exist; the entries for client 1 come
	 * in runs that cross every part's end. */
	for (size_t i = 0; i < N; i++) {
		uint64_t c = i % 100 < 60 ? 1 : (uint64_t) (i % (CLIENTS + 1)) + 1;

		snprintf(text[i], sizeof(text[i]), "%zu", i);
		e[i] = entry(ann, c, text[i]);
	}
	SF_OK(f, OPS(f)->inbox_append_clients(TX(f), e, N, appended, &f->st));
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(appended[i], e[i].client <= CLIENTS,
		    "[%s] entry %zu", f->factory->name, i);
	for (uint64_t c = 1; c <= CLIENTS; c++) {
		uint64_t after = 0;
		bool     more  = true;
		size_t   at    = 0; /* the next entry for c */

		while (more) {
			fedrpc_store_event *ev;
			size_t              n;

			SF_OK(f, OPS(f)->inbox_fetch(TX(f), ann, c, after, 500, &ev,
			             &n, &more, &f->st));
			for (size_t i = 0; i < n; i++) {
				while (at < N && e[at].client != c)
					at++;
				cr_assert_lt(at, N, "[%s] client %llu: too many",
				    f->factory->name, (unsigned long long) c);
				cr_assert_eq(ev[i].id, after + i + 1);
				cr_assert(sf_bytes_eq(ev[i].data, e[at].event),
				    "[%s] client %llu, id %llu: not entry %zu",
				    f->factory->name, (unsigned long long) c,
				    (unsigned long long) ev[i].id, at);
				at++;
				seen[c]++;
			}
			if (n > 0)
				after = ev[n - 1].id;
		}
		while (at < N && e[at].client != c)
			at++;
		cr_assert_eq(at, N, "[%s] client %llu: entry %zu missing",
		    f->factory->name, (unsigned long long) c, at);
	}
	sf_commit(f);
	cr_assert_gt(seen[1], 1000);
	free(e);
	free(appended);
	free(text);
}

/* ---- conversations and members ---- */

/* A conversation with members given as "domain/id/role" triples. */
typedef struct conv_spec {
	fedrpc_store_conversation c;
	fedrpc_store_qid          id, creator;
	fedrpc_store_qid          mq[8];
	Fedrpc__Federation__V1__ConversationMember m[8], *mp[8];
} conv_spec;

static void
conv_init(conv_spec *cs, const char *dom, const char *id, const char *name)
{
	memset(cs, 0, sizeof(*cs));
	fedrpc__federation__v1__conversation__init(&cs->c);
	cs->id                    = sf_qid(dom, id);
	cs->creator               = sf_qid(dom, sf_uuid(1));
	cs->c.id                  = &cs->id;
	cs->c.creator             = &cs->creator;
	cs->c.name                = (char *) name;
	cs->c.created_at_unix_ms  = 1234;
	cs->c.members             = cs->mp;
}

static void
conv_member(conv_spec *cs, const char *dom, const char *id, int role)
{
	size_t i = cs->c.n_members++;

	fedrpc__federation__v1__conversation_member__init(&cs->m[i]);
	cs->mq[i]      = sf_qid(dom, id);
	cs->m[i].id    = &cs->mq[i];
	cs->m[i].role  = role;
	cs->mp[i]      = &cs->m[i];
}

static fedrpc_store_conversation *
conv_get(sf *f, const fedrpc_store_qid *id)
{
	fedrpc_store_conversation *c = NULL;
	bool                       found;

	SF_OK(f, OPS(f)->conversation_get(TX(f), id, &c, &found, &f->st));
	return found ? c : NULL;
}

static void
check_conversations(sf *f)
{
	conv_spec                  cs;
	fedrpc_store_conversation *c;
	fedrpc_store_qid           zed = sf_qid("b.example", sf_uuid(5));
	fedrpc_store_qid         **ids;
	size_t                     n;
	bool                       any;

	conv_init(&cs, DOM, sf_uuid(100), "team");
	conv_member(&cs, "c.example", sf_uuid(3), ROLE_MEMBER);
	conv_member(&cs, DOM, sf_uuid(2), ROLE_MEMBER);
	conv_member(&cs, DOM, sf_uuid(1), ROLE_ADMIN);
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->conversation_put(TX(f), &cs.c, &f->st));
	cr_assert_not_null(c = conv_get(f, &cs.id));
	cr_assert_str_eq(c->id->id, sf_uuid(100));
	cr_assert_str_eq(c->name, "team");
	cr_assert_str_eq(c->creator->id, sf_uuid(1));
	cr_assert_eq(c->created_at_unix_ms, 1234);
	/* Members by (domain, id). */
	cr_assert_eq(c->n_members, 3);
	cr_assert_str_eq(c->members[0]->id->id, sf_uuid(1));
	cr_assert_eq(c->members[0]->role, ROLE_ADMIN);
	cr_assert_str_eq(c->members[1]->id->id, sf_uuid(2));
	cr_assert_str_eq(c->members[2]->id->domain, "c.example");

	SF_OK(f, OPS(f)->member_put(TX(f), &cs.id, &zed, ROLE_MEMBER, &f->st));
	SF_OK(f, OPS(f)->member_put(TX(f), &cs.id, &zed, ROLE_ADMIN, &f->st));
	SF_OK(f, OPS(f)->member_remove(TX(f), &cs.id, cs.m[0].id, &f->st));
	SF_OK(f, OPS(f)->conversation_rename(TX(f), &cs.id, "renamed", &f->st));
	c = conv_get(f, &cs.id);
	cr_assert_str_eq(c->name, "renamed");
	cr_assert_eq(c->n_members, 3);
	cr_assert_str_eq(c->members[2]->id->domain, "b.example");
	cr_assert_eq(c->members[2]->role, ROLE_ADMIN, "put changes a role");
	SF_OK(f, OPS(f)->conversation_has_member_of(TX(f), &cs.id, "b.example",
	             &any, &f->st));
	cr_assert(any);
	SF_OK(f, OPS(f)->conversation_has_member_of(TX(f), &cs.id, "c.example",
	             &any, &f->st));
	cr_assert_not(any);

	/* Put again: the row and the member list are replaced. */
	conv_init(&cs, DOM, sf_uuid(100), "again");
	conv_member(&cs, DOM, sf_uuid(4), ROLE_ADMIN);
	SF_OK(f, OPS(f)->conversation_put(TX(f), &cs.c, &f->st));
	c = conv_get(f, &cs.id);
	cr_assert_str_eq(c->name, "again");
	cr_assert_eq(c->n_members, 1);
	cr_assert_str_eq(c->members[0]->id->id, sf_uuid(4));

	/* A user's conversations, by (domain, id); member rows need no
	 * conversation row. */
	{
		fedrpc_store_qid u4 = sf_qid(DOM, sf_uuid(4));
		fedrpc_store_qid c1 = sf_qid("b.example", sf_uuid(7));
		fedrpc_store_qid c2 = sf_qid(DOM, sf_uuid(50));

		SF_OK(f, OPS(f)->member_put(TX(f), &c1, &u4, 2, &f->st));
		SF_OK(f, OPS(f)->member_put(TX(f), &c2, &u4, 2, &f->st));
		SF_OK(f, OPS(f)->conversation_list_of_user(TX(f), &u4, &ids,
		             &n, &f->st));
		cr_assert_eq(n, 3);
		cr_assert_str_eq(ids[0]->id, sf_uuid(50));
		cr_assert_str_eq(ids[1]->id, sf_uuid(100));
		cr_assert_str_eq(ids[2]->domain, "b.example");
		cr_assert_null(conv_get(f, &c1));
	}

	/* Deleted with its members. */
	SF_OK(f, OPS(f)->conversation_delete(TX(f), &cs.id, &f->st));
	cr_assert_null(conv_get(f, &cs.id));
	SF_OK(f, OPS(f)->conversation_has_member_of(TX(f), &cs.id, DOM, &any,
	             &f->st));
	cr_assert_not(any);
	sf_commit(f);
}

/* ---- outbox ---- */

static uint64_t
outbox_append(sf *f, const char *dest, const char *item)
{
	ProtobufCBinaryData b = sf_bytes(item, strlen(item));
	uint64_t            seq;

	SF_OK(f, OPS(f)->outbox_append(TX(f), dest, &b, 77, &seq, &f->st));
	return seq;
}

static void
check_outbox(sf *f)
{
	fedrpc_store_outbox_item  head, *aside;
	char                    **dests;
	size_t                    n;
	uint64_t                  s1, s2, s3, s4;
	bool                      found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &head, &found,
	             &f->st));
	cr_assert_not(found);
	s1 = outbox_append(f, "c.example", "c1");
	s2 = outbox_append(f, "b.example", "b1");
	s3 = outbox_append(f, "b.example", "b2");
	s4 = outbox_append(f, "b.example", "b3");
	cr_assert(s1 < s2 && s2 < s3 && s3 < s4, "seq ascends with appends");
	SF_OK(f, OPS(f)->outbox_destinations(TX(f), &dests, &n, &f->st));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(dests[0], "b.example");
	cr_assert_str_eq(dests[1], "c.example");

	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &head, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_eq(head.seq, s2);
	cr_assert_str_eq(head.destination, "b.example");
	cr_assert(sf_bytes_eq(head.data, sf_bytes("b1", 2)));
	cr_assert_eq(head.created_ms, 77);

	/* Delivered: removed; refused for good: moved aside. */
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", s2, &found, &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", s2, &found, &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", s1, &found, &f->st));
	cr_assert_not(found, "an item is removed from its own destination");
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "b.example", s3,
	             "PERMISSION_DENIED: not allowed", 88, &found, &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "b.example", s3, "again", 89,
	             &found, &f->st));
	cr_assert_not(found, "only a pending item moves aside");
	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &head, &found,
	             &f->st));
	cr_assert_eq(head.seq, s4);
	SF_OK(f, OPS(f)->outbox_list_aside(TX(f), "b.example", &aside, &n,
	             &f->st));
	cr_assert_eq(n, 1);
	cr_assert_eq(aside[0].seq, s3);
	cr_assert_str_eq(aside[0].reason, "PERMISSION_DENIED: not allowed");
	cr_assert_eq(aside[0].moved_ms, 88);
	cr_assert(sf_bytes_eq(aside[0].data, sf_bytes("b2", 2)));

	/* Nothing pending: no longer a destination. */
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", s4, &found, &f->st));
	SF_OK(f, OPS(f)->outbox_destinations(TX(f), &dests, &n, &f->st));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(dests[0], "c.example");
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", s3, &found, &f->st));
	cr_assert(found, "an item moved aside can be removed");

	/* A sequence number is never given twice. */
	cr_assert_gt(outbox_append(f, "b.example", "b4"), s4);
	sf_commit(f);
}

/* Pending items after `after`, as "seq:data" joined by ' '. */
static void
pending_text(sf *f, const char *dest, uint64_t after, uint32_t limit,
    char *buf, size_t len, bool *more)
{
	fedrpc_store_outbox_item *items;
	size_t                    n, k = 0;

	buf[0] = '\0';
	SF_OK(f, OPS(f)->outbox_pending(TX(f), dest, after, limit, &items, &n,
	             more, &f->st));
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(items[i].state, FEDRPC_STORE_OUTBOX_PENDING);
		cr_assert_str_eq(items[i].destination, dest);
		k += (size_t) snprintf(buf + k, len - k, "%s%.*s", k ? " " : "",
		    (int) items[i].data.len, (const char *) items[i].data.data);
	}
}

static void
check_outbox_states(sf *f)
{
	fedrpc_store_outbox_item  it, *aside;
	uint64_t                  s[6], forgotten;
	char                      buf[256];
	size_t                    n;
	bool                      found, more;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	for (int i = 0; i < 5; i++) {
		char item[8];

		snprintf(item, sizeof(item), "b%d", i);
		s[i] = outbox_append(f, "b.example", item);
	}
	s[5] = outbox_append(f, "c.example", "c0");

	/* Pending in order, in pages. */
	pending_text(f, "b.example", 0, 2, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b0 b1");
	cr_assert(more);
	pending_text(f, "b.example", s[1], 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b2 b3 b4");
	cr_assert_not(more);
	pending_text(f, "b.example", s[4], 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "");
	pending_text(f, "b.example", 0, 0, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b0", "a limit of 0 reads as 1");

	/* Aside, then back at its old place. */
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "b.example", s[1], "no", 9,
	             &found, &f->st));
	pending_text(f, "b.example", 0, 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b0 b2 b3 b4");
	SF_OK(f, OPS(f)->outbox_get(TX(f), "b.example", s[1], &it, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_eq(it.state, FEDRPC_STORE_OUTBOX_ASIDE);
	cr_assert_str_eq(it.reason, "no");
	cr_assert_eq(it.moved_ms, 9);
	SF_OK(f, OPS(f)->outbox_retry(TX(f), "b.example", s[2], &found,
	             &f->st));
	cr_assert_not(found, "only an item aside is retried");
	SF_OK(f, OPS(f)->outbox_retry(TX(f), "b.example", s[1], &found,
	             &f->st));
	cr_assert(found);
	pending_text(f, "b.example", 0, 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b0 b1 b2 b3 b4", "a retried item keeps its seq");
	SF_OK(f, OPS(f)->outbox_get(TX(f), "b.example", s[1], &it, &found,
	             &f->st));
	cr_assert_eq(it.state, FEDRPC_STORE_OUTBOX_PENDING);
	cr_assert_str_eq(it.reason, "");
	cr_assert_eq(it.moved_ms, 0);

	/* Dropped, pending or aside: never delivered, its data gone, its
	 * fate still told. */
	SF_OK(f, OPS(f)->outbox_drop(TX(f), "b.example", s[0], "by hand", 10,
	             &found, &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "b.example", s[2], "no", 11,
	             &found, &f->st));
	SF_OK(f, OPS(f)->outbox_drop(TX(f), "b.example", s[2], "poison", 12,
	             &found, &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->outbox_drop(TX(f), "b.example", s[2], "again", 13,
	             &found, &f->st));
	cr_assert_not(found, "a dropped item is not dropped again");
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "b.example", s[0], "x", 14,
	             &found, &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->outbox_retry(TX(f), "b.example", s[0], &found,
	             &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->outbox_get(TX(f), "b.example", s[2], &it, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_eq(it.state, FEDRPC_STORE_OUTBOX_DROPPED);
	cr_assert_str_eq(it.reason, "poison");
	cr_assert_eq(it.moved_ms, 12);
	cr_assert_eq(it.data.len, 0);
	pending_text(f, "b.example", 0, 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b1 b3 b4");
	SF_OK(f, OPS(f)->outbox_list_aside(TX(f), "b.example", &aside, &n,
	             &f->st));
	cr_assert_eq(n, 0, "dropped items are not aside");
	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &it, &found,
	             &f->st));
	cr_assert_eq(it.seq, s[1]);

	/* Dropped items are forgotten by age; nothing else is. */
	SF_OK(f, OPS(f)->outbox_forget_before(TX(f), 78, &forgotten, &f->st));
	cr_assert_eq(forgotten, 2);
	SF_OK(f, OPS(f)->outbox_get(TX(f), "b.example", s[0], &it, &found,
	             &f->st));
	cr_assert_not(found);
	pending_text(f, "b.example", 0, 10, buf, sizeof(buf), &more);
	cr_assert_str_eq(buf, "b1 b3 b4");
	SF_OK(f, OPS(f)->outbox_get(TX(f), "c.example", s[5], &it, &found,
	             &f->st));
	cr_assert(found);
	cr_assert(sf_bytes_eq(it.data, sf_bytes("c0", 2)));
	SF_OK(f, OPS(f)->outbox_get(TX(f), "c.example", s[1], &it, &found,
	             &f->st));
	cr_assert_not(found, "an item is found at its own destination");
	sf_commit(f);
}

static void
check_queues(sf *f)
{
	fedrpc_store_queue *qs, q;
	uint64_t            b1, b2, c1;
	size_t              n;
	bool                found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->outbox_queues(TX(f), &qs, &n, &f->st));
	cr_assert_eq(n, 0);
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert_not(found);
	c1 = outbox_append(f, "c.example", "c1");
	b1 = outbox_append(f, "b.example", "b1");
	b2 = outbox_append(f, "b.example", "b2");
	SF_OK(f, OPS(f)->outbox_move_aside(TX(f), "c.example", c1, "no", 9,
	             &found, &f->st));

	SF_OK(f, OPS(f)->outbox_queues(TX(f), &qs, &n, &f->st));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(qs[0].destination, "b.example");
	cr_assert_eq(qs[0].pending, 2);
	cr_assert_eq(qs[0].aside, 0);
	cr_assert_eq(qs[0].head_seq, b1);
	cr_assert_eq(qs[0].head_created_ms, 77);
	cr_assert_eq(qs[0].failures, 0);
	cr_assert_eq(qs[0].next_attempt_ms, 0);
	cr_assert_str_eq(qs[0].last_error, "");
	cr_assert_str_eq(qs[0].lease_owner, "");
	cr_assert_str_eq(qs[1].destination, "c.example");
	cr_assert_eq(qs[1].pending, 0);
	cr_assert_eq(qs[1].aside, 1, "aside items keep a queue listed");
	cr_assert_eq(qs[1].head_seq, 0);

	/* The back-off is per destination. */
	SF_OK(f, OPS(f)->outbox_backoff(TX(f), "b.example", 3, 5000,
	             "UNAVAILABLE: refused", &f->st));
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert(found);
	cr_assert_str_eq(q.destination, "b.example");
	cr_assert_eq(q.pending, 2);
	cr_assert_eq(q.head_seq, b1);
	cr_assert_eq(q.failures, 3);
	cr_assert_eq(q.next_attempt_ms, 5000);
	cr_assert_str_eq(q.last_error, "UNAVAILABLE: refused");
	SF_OK(f, OPS(f)->outbox_backoff(TX(f), "b.example", 0, 0, "", &f->st));
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert_eq(q.failures, 0);
	cr_assert_str_eq(q.last_error, "");

	/* Emptied: no longer listed, its state still read. */
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", b1, &found, &f->st));
	SF_OK(f, OPS(f)->outbox_remove(TX(f), "b.example", b2, &found, &f->st));
	SF_OK(f, OPS(f)->outbox_queues(TX(f), &qs, &n, &f->st));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(qs[0].destination, "c.example");
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert(found, "a destination with state is found");
	cr_assert_eq(q.pending, 0);
	cr_assert_eq(q.head_seq, 0);
	sf_commit(f);
}

static bool
lease(sf *f, const char *owner, int64_t now, int64_t until, int64_t *holder)
{
	bool held;

	SF_OK(f, OPS(f)->outbox_lease(TX(f), "b.example", owner, now, until,
	             &held, holder, &f->st));
	return held;
}

/* One instance at a time delivers a destination: the lease goes to the
 * first asker, stays with it while it renews, passes on once it ended or
 * was given up. Checked through two stores on the same data. */
static void
check_lease(sf *f)
{
	fedrpc_store     *second;
	fedrpc_store     *first = f->store;
	fedrpc_store_queue q;
	int64_t           holder;
	bool              found;

	SF_OK(f, f->factory->open(f->dir, &second, &f->st));
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cr_assert(lease(f, "one", 1000, 2000, &holder));
	cr_assert(lease(f, "one", 1500, 2500, &holder), "the holder renews");
	sf_commit(f);

	f->store = second;
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cr_assert_not(lease(f, "two", 1600, 2600, &holder),
	    "[%s] the lease is held", f->factory->name);
	cr_assert_eq(holder, 2500);
	cr_assert_not(lease(f, "two", 2500, 3000, NULL), "held until its end");
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert(found);
	cr_assert_str_eq(q.lease_owner, "one");
	cr_assert_eq(q.lease_until_ms, 2500);
	cr_assert(lease(f, "two", 2501, 3500, &holder), "an ended lease passes");
	sf_commit(f);

	f->store = first;
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cr_assert_not(lease(f, "one", 2600, 3600, &holder));
	cr_assert_eq(holder, 3500);
	/* Only the holder gives it up. */
	SF_OK(f, OPS(f)->outbox_release(TX(f), "b.example", "one", &f->st));
	cr_assert_not(lease(f, "one", 2600, 3600, NULL));
	SF_OK(f, OPS(f)->outbox_release(TX(f), "b.example", "two", &f->st));
	cr_assert(lease(f, "one", 2600, 3600, NULL), "a released lease passes");
	/* The back-off does not touch the lease. */
	SF_OK(f, OPS(f)->outbox_backoff(TX(f), "b.example", 1, 9, "e", &f->st));
	SF_OK(f, OPS(f)->outbox_queue(TX(f), "b.example", &q, &found, &f->st));
	cr_assert_str_eq(q.lease_owner, "one");
	cr_assert_eq(q.lease_until_ms, 3600);
	sf_commit(f);
	fedrpc_store_close(second);
}

static void
check_conversation_version(sf *f)
{
	conv_spec                  cs;
	fedrpc_store_conversation *c;
	fedrpc_store_qid           nope = sf_qid(DOM, sf_uuid(999));
	fedrpc_store_qid           zed  = sf_qid("b.example", sf_uuid(5));
	uint64_t                   v    = 0;

	conv_init(&cs, DOM, sf_uuid(100), "team");
	conv_member(&cs, DOM, sf_uuid(1), ROLE_ADMIN);
	cs.c.version = 3;
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->conversation_put(TX(f), &cs.c, &f->st));
	cr_assert_eq(conv_get(f, &cs.id)->version, 3);
	SF_OK(f, OPS(f)->conversation_bump(TX(f), &cs.id, &v, &f->st));
	cr_assert_eq(v, 4);
	SF_OK(f, OPS(f)->conversation_bump(TX(f), &cs.id, NULL, &f->st));
	/* Member changes and renames leave it to the caller. */
	SF_OK(f, OPS(f)->member_put(TX(f), &cs.id, &zed, ROLE_MEMBER, &f->st));
	SF_OK(f, OPS(f)->conversation_rename(TX(f), &cs.id, "x", &f->st));
	cr_assert_not_null(c = conv_get(f, &cs.id));
	cr_assert_eq(c->version, 5);
	cr_assert_eq(c->n_members, 2);
	SF_EXPECT(f, FEDRPC_NOT_FOUND,
	    OPS(f)->conversation_bump(TX(f), &nope, &v, &f->st));
	sf_rollback(f);
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cs.c.version = 0;
	SF_OK(f, OPS(f)->conversation_put(TX(f), &cs.c, &f->st));
	cr_assert_eq(conv_get(f, &cs.id)->version, 0, "put sets the version");
	sf_commit(f);
}

/* ---- messages sent ---- */

static void
sent_insert(sf *f, unsigned sender, const char *mid, unsigned conv,
    int64_t ms, fedrpc_code want)
{
	fedrpc_store_qid    c   = sf_qid(DOM, sf_uuid(conv));
	ProtobufCBinaryData id  = sf_bytes(mid, strlen(mid));
	ProtobufCBinaryData rec = sf_bytes(mid, strlen(mid));
	char                sender_id[37];

	snprintf(sender_id, sizeof(sender_id), "%s", sf_uuid(sender));
	SF_EXPECT(f, want, OPS(f)->sent_insert(TX(f), sender_id, &id, &c, ms,
	                       &rec, NULL, &f->st));
}

/* A sender's messages, newest first, as their ids joined by ' '. */
static void
sent_text(sf *f, unsigned sender, const fedrpc_store_qid *conv,
    uint64_t before, uint32_t limit, char *buf, size_t len, bool *more,
    uint64_t *last_seq)
{
	fedrpc_store_sent *rows;
	size_t             n, k = 0;
	char               sender_id[37];

	snprintf(sender_id, sizeof(sender_id), "%s", sf_uuid(sender));
	buf[0] = '\0';
	SF_OK(f, OPS(f)->sent_list(TX(f), sender_id, conv, before, limit, &rows,
	             &n, more, &f->st));
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(rows[i].sender, sender_id);
		if (i > 0)
			cr_assert_lt(rows[i].seq, rows[i - 1].seq);
		k += (size_t) snprintf(buf + k, len - k, "%s%.*s", k ? " " : "",
		    (int) rows[i].message_id.len,
		    (const char *) rows[i].message_id.data);
		*last_seq = rows[i].seq;
	}
}

static void
check_sent(sf *f)
{
	fedrpc_store_sent   row;
	fedrpc_store_qid    c2 = sf_qid(DOM, sf_uuid(200));
	ProtobufCBinaryData m2 = sf_bytes("m2", 2), rec = sf_bytes("new", 3);
	char                buf[128];
	uint64_t            last = 0, forgotten, seq;
	bool                found, more;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	sent_insert(f, 1, "m1", 100, 10, FEDRPC_OK);
	sent_insert(f, 1, "m2", 200, 20, FEDRPC_OK);
	sent_insert(f, 1, "m3", 100, 30, FEDRPC_OK);
	sent_insert(f, 2, "m1", 100, 40, FEDRPC_OK); /* ids are per sender */
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	sent_insert(f, 1, "m2", 100, 50, FEDRPC_STORE_DUPLICATE);
	sf_rollback(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->sent_get(TX(f), sf_uuid(1), &m2, &row, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_str_eq(row.sender, sf_uuid(1));
	cr_assert(sf_bytes_eq(row.message_id, m2));
	cr_assert_str_eq(row.conversation->id, sf_uuid(200));
	cr_assert_str_eq(row.conversation->domain, DOM);
	cr_assert_eq(row.sent_ms, 20);
	cr_assert(sf_bytes_eq(row.record, m2));
	seq = row.seq;
	SF_OK(f, OPS(f)->sent_update(TX(f), sf_uuid(1), &m2, &rec, &found,
	             &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->sent_get(TX(f), sf_uuid(1), &m2, &row, &found,
	             &f->st));
	cr_assert(sf_bytes_eq(row.record, rec));
	cr_assert_eq(row.seq, seq);
	SF_OK(f, OPS(f)->sent_update(TX(f), sf_uuid(3), &m2, &rec, &found,
	             &f->st));
	cr_assert_not(found);

	/* Newest first, in pages; by conversation. */
	sent_text(f, 1, NULL, 0, 2, buf, sizeof(buf), &more, &last);
	cr_assert_str_eq(buf, "m3 m2");
	cr_assert(more);
	sent_text(f, 1, NULL, last, 2, buf, sizeof(buf), &more, &last);
	cr_assert_str_eq(buf, "m1");
	cr_assert_not(more);
	sent_text(f, 1, &c2, 0, 10, buf, sizeof(buf), &more, &last);
	cr_assert_str_eq(buf, "m2");

	/* Forgotten by age. */
	SF_OK(f, OPS(f)->sent_forget_before(TX(f), 25, &forgotten, &f->st));
	cr_assert_eq(forgotten, 2);
	sent_text(f, 1, NULL, 0, 10, buf, sizeof(buf), &more, &last);
	cr_assert_str_eq(buf, "m3");
	sf_commit(f);
}

static void
check_request_results(sf *f)
{
	ProtobufCBinaryData r1 = sf_bytes("id-1", 4), r2 = sf_bytes("id-2", 4);
	ProtobufCBinaryData answer = sf_bytes("\x0a\x02ok", 4), got;
	bool                found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->request_get(TX(f), "b.example", &r1, &got, &found,
	             &f->st));
	cr_assert_not(found);
	SF_OK(f, OPS(f)->request_record(TX(f), "b.example", &r1, 1, &answer,
	             &f->st));
	SF_OK(f, OPS(f)->request_record(TX(f), "b.example", &r2, 1, NULL,
	             &f->st));
	sf_commit(f);
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	SF_OK(f, OPS(f)->request_get(TX(f), "b.example", &r1, &got, &found,
	             &f->st));
	cr_assert(found);
	cr_assert(sf_bytes_eq(got, answer), "the answer is kept");
	SF_OK(f, OPS(f)->request_get(TX(f), "b.example", &r2, &got, &found,
	             &f->st));
	cr_assert(found);
	cr_assert_eq(got.len, 0);
	SF_OK(f, OPS(f)->request_get(TX(f), "c.example", &r1, &got, &found,
	             &f->st));
	cr_assert_not(found);
	sf_commit(f);
}

/* ---- received request ids ---- */

static void
check_requests(sf *f)
{
	static const uint8_t id1[16] = {1, 0, 2}, id2[16] = {1, 0, 3};
	ProtobufCBinaryData  r1 = sf_bytes(id1, 16), r2 = sf_bytes(id2, 16);
	uint64_t             forgotten;
	bool                 seen;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->request_seen(TX(f), "b.example", &r1, &seen, &f->st));
	cr_assert_not(seen);
	SF_OK(f, OPS(f)->request_record(TX(f), "b.example", &r1, 100, NULL,
	             &f->st));
	SF_OK(f, OPS(f)->request_record(TX(f), "c.example", &r1, 200, NULL,
	             &f->st));
	SF_OK(f, OPS(f)->request_record(TX(f), "b.example", &r2, 300, NULL,
	             &f->st));
	SF_OK(f, OPS(f)->request_seen(TX(f), "b.example", &r1, &seen, &f->st));
	cr_assert(seen);
	SF_OK(f, OPS(f)->request_seen(TX(f), "d.example", &r1, &seen, &f->st));
	cr_assert_not(seen, "ids are per origin");
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_EXPECT(f, FEDRPC_STORE_DUPLICATE,
	    OPS(f)->request_record(TX(f), "b.example", &r1, 400, NULL, &f->st));
	sf_rollback(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->request_forget_before(TX(f), 250, &forgotten, &f->st));
	cr_assert_eq(forgotten, 2);
	SF_OK(f, OPS(f)->request_seen(TX(f), "b.example", &r1, &seen, &f->st));
	cr_assert_not(seen);
	SF_OK(f, OPS(f)->request_seen(TX(f), "b.example", &r2, &seen, &f->st));
	cr_assert(seen);
	sf_commit(f);
}

/* ---- transactions ---- */

/* One of each kind of write, all in the open transaction. */
static void
write_one_of_each(sf *f)
{
	conv_spec           cs;
	fedrpc_store_qid    to = sf_qid("b.example", sf_uuid(2));
	ProtobufCBinaryData r  = sf_bytes("request", 7);

	add_user(f, 1, "ann", "Ann");
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), 1, 0, 0, &f->st));
	add_prekey(f, sf_uuid(1), 1, 1, "k");
	append_user(f, sf_uuid(1), "event");
	put_side(f, sf_uuid(1), "b.example", sf_uuid(2), 1, 1);
	conv_init(&cs, DOM, sf_uuid(100), "team");
	conv_member(&cs, DOM, sf_uuid(1), ROLE_ADMIN);
	SF_OK(f, OPS(f)->conversation_put(TX(f), &cs.c, &f->st));
	SF_OK(f, OPS(f)->member_put(TX(f), &cs.id, &to, 2, &f->st));
	outbox_append(f, "b.example", "item");
	SF_OK(f, OPS(f)->request_record(TX(f), "b.example", &r, 1, NULL,
	             &f->st));
	{
		fedrpc_store_qid    conv = sf_qid(DOM, sf_uuid(100));
		ProtobufCBinaryData mid  = sf_bytes("m1", 2);
		bool                held;

		SF_OK(f, OPS(f)->sent_insert(TX(f), sf_uuid(1), &mid, &conv, 5,
		             &r, NULL, &f->st));
		SF_OK(f, OPS(f)->outbox_lease(TX(f), "b.example", "me", 1, 100,
		             &held, NULL, &f->st));
		SF_OK(f, OPS(f)->outbox_backoff(TX(f), "z.example", 1, 2, "e",
		             &f->st));
	}
}

/* Whether anything write_one_of_each() wrote is there. */
static bool
any_of_each(sf *f)
{
	fedrpc_store_user   u;
	fedrpc_store_event *ev;
	fedrpc_store_side  *sides;
	fedrpc_store_qid    conv = sf_qid(DOM, sf_uuid(100));
	fedrpc_store_qid    to   = sf_qid("b.example", sf_uuid(2));
	fedrpc_store_qid  **ids;
	fedrpc_store_outbox_item head;
	ProtobufCBinaryData r = sf_bytes("request", 7);
	size_t              n, total = 0;
	bool                found, any = false;

	SF_OK(f, OPS(f)->user_get(TX(f), sf_uuid(1), &u, &found, &f->st));
	any |= found;
	SF_OK(f, OPS(f)->client_exists(TX(f), sf_uuid(1), 1, &found, &f->st));
	any |= found;
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), sf_uuid(1), 1, 0, 10, &ev, &n,
	             &found, &f->st));
	total += n;
	SF_OK(f, OPS(f)->connection_list_from(TX(f), sf_uuid(1), &sides, &n,
	             &f->st));
	total += n;
	any |= conv_get(f, &conv) != NULL;
	SF_OK(f, OPS(f)->conversation_list_of_user(TX(f), &to, &ids, &n,
	             &f->st));
	total += n;
	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &head, &found,
	             &f->st));
	any |= found;
	SF_OK(f, OPS(f)->request_seen(TX(f), "b.example", &r, &found, &f->st));
	any |= found;
	{
		ProtobufCBinaryData mid = sf_bytes("m1", 2);
		fedrpc_store_sent   sent;
		fedrpc_store_queue  q;

		SF_OK(f, OPS(f)->sent_get(TX(f), sf_uuid(1), &mid, &sent,
		             &found, &f->st));
		any |= found;
		SF_OK(f, OPS(f)->outbox_queue(TX(f), "z.example", &q, &found,
		             &f->st));
		any |= found;
	}
	return any || total > 0;
}

static void
check_rollback(sf *f)
{
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	write_one_of_each(f);
	cr_assert(any_of_each(f), "a transaction sees its own writes");
	sf_rollback(f);
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_not(any_of_each(f), "[%s] nothing stays after a rollback",
	    f->factory->name);
	sf_commit(f);

	/* The same writes committed are all there. */
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	write_one_of_each(f);
	sf_commit(f);
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert(any_of_each(f));
	sf_commit(f);
}

/* A transaction function that writes, then fails. */
static fedrpc_code
tx_write_then_fail(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	int *runs = arg;

	(*runs)++;
	if (tx->ops->user_insert(tx, sf_uuid(1), "ann", "Ann", 1, st) !=
	    FEDRPC_OK)
		return st->code;
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION, "no");
}

static void
check_run_rolls_back(sf *f)
{
	int runs = 0;

	SF_EXPECT(f, FEDRPC_FAILED_PRECONDITION,
	    fedrpc_store_run(f->store, &f->arena.al, FEDRPC_STORE_READ_WRITE,
	        tx_write_then_fail, &runs, &f->st));
	cr_assert_eq(runs, 1, "only a conflict runs a function again");
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_not(any_of_each(f));
	sf_commit(f);
}

static void
check_read_only(sf *f)
{
	fedrpc_code rc;

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	fedrpc_status_reset(&f->st);
	rc = OPS(f)->user_insert(TX(f), sf_uuid(1), "ann", "Ann", 1, &f->st);
	cr_assert_neq(rc, FEDRPC_OK, "[%s] a read-only transaction wrote",
	    f->factory->name);
	sf_rollback(f);
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_not(any_of_each(f));
	sf_commit(f);
}

/* Uncommitted writes are not seen; a reader keeps its snapshot. */
static void
check_isolation(sf *f)
{
	fedrpc_store_tx   rd = {.al = &f->arena.al};
	fedrpc_store_user u;
	bool              found;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	add_user(f, 1, "ann", "Ann");
	SF_OK(f, OPS(f)->begin(f->store, FEDRPC_STORE_READ_ONLY, &rd, &f->st));
	SF_OK(f, OPS(f)->user_get(&rd, sf_uuid(1), &u, &found, &f->st));
	cr_assert_not(found, "[%s] an uncommitted write was seen",
	    f->factory->name);
	sf_commit(f);
	SF_OK(f, OPS(f)->user_get(&rd, sf_uuid(1), &u, &found, &f->st));
	cr_assert_not(found, "[%s] a read-only transaction's snapshot moved",
	    f->factory->name);
	SF_OK(f, rd.ops->commit(&rd, &f->st));
	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_str_eq(user_of(f, sf_uuid(1)).handle, "ann");
	sf_commit(f);
}

/* ---- two writers at once ---- */

#define ROUNDS 40

/* One writer thread: its own store (or a shared one) and arena. */
typedef struct writer {
	fedrpc_store     *store;
	int               who;
	pthread_barrier_t *start;
	fedrpc_code       rc[ROUNDS];
	char              msg[ROUNDS][FEDRPC_STATUS_MESSAGE_MAX];
	uint32_t          claimed[128];
	size_t            n_claimed;
	int               runs;
	fedrpc_store_fn   tx;     /* what race_writers repeats */
} writer;

typedef struct insert_arg {
	writer *w;
	int     round;
} insert_arg;

static fedrpc_code
tx_insert_contested(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	insert_arg *a = arg;
	char        handle[32];

	snprintf(handle, sizeof(handle), "contested%d", a->round);
	return tx->ops->user_insert(tx, sf_uuid(1000 * (a->w->who + 1) +
	    (unsigned) a->round), handle, "X", 1, st);
}

/* Both writers register the same handle at once, round after round. */
static void *
race_inserts(void *p)
{
	writer  *w = p;
	sf_arena arena;

	sf_arena_init(&arena);
	for (int r = 0; r < ROUNDS; r++) {
		insert_arg    a  = {w, r};
		fedrpc_status st = {0};

		pthread_barrier_wait(w->start);
		w->rc[r] = fedrpc_store_run(w->store, &arena.al,
		    FEDRPC_STORE_READ_WRITE, tx_insert_contested, &a, &st);
		snprintf(w->msg[r], sizeof(w->msg[r]), "%s", st.message);
	}
	sf_arena_free(&arena);
	return NULL;
}

static void
check_two_writers_unique(sf *f)
{
	pthread_barrier_t start;
	writer            w[2] = {{.store = f->store, .who = 0},
	               {.store = f->store, .who = 1}};
	pthread_t         t[2];

	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		w[i].start = &start;
		cr_assert_eq(pthread_create(&t[i], NULL, race_inserts, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	for (int r = 0; r < ROUNDS; r++) {
		char              handle[32];
		fedrpc_store_user u;
		bool              found;
		int               winner = w[0].rc[r] == FEDRPC_OK ? 0 : 1;

		/* One wins; the other is told the handle is taken. */
		cr_assert_eq(w[winner].rc[r], FEDRPC_OK, "[%s] round %d: %s",
		    f->factory->name, r, w[winner].msg[r]);
		cr_assert_eq(w[1 - winner].rc[r], FEDRPC_STORE_DUPLICATE,
		    "[%s] round %d: both or neither won: %s", f->factory->name,
		    r, w[1 - winner].msg[r]);
		snprintf(handle, sizeof(handle), "contested%d", r);
		SF_OK(f, OPS(f)->user_get_by_handle(TX(f), handle, &u, &found,
		             &f->st));
		cr_assert(found);
		cr_assert_str_eq(u.id,
		    sf_uuid(1000 * (unsigned) (winner + 1) + (unsigned) r));
	}
	sf_commit(f);
}

#define PREKEYS 100

static fedrpc_code
tx_claim(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	writer             *w = arg;
	fedrpc_store_prekey pk;
	bool                found;

	w->runs++;
	if (tx->ops->prekey_claim(tx, sf_uuid(1), 1, KEEP, &pk, &found, st) !=
	    FEDRPC_OK)
		return st->code;
	if (!found)
		return fedrpc_status_set(st, FEDRPC_INTERNAL, "no prekey left");
	w->claimed[w->n_claimed] = pk.id;
	return FEDRPC_OK;
}

/* Claims one-time prekeys until the kept one comes back. */
static void *
race_claims(void *p)
{
	writer  *w = p;
	sf_arena arena;

	sf_arena_init(&arena);
	pthread_barrier_wait(w->start);
	while (w->n_claimed < 128) {
		fedrpc_status st = {0};

		w->rc[0] = fedrpc_store_run(w->store, &arena.al,
		    FEDRPC_STORE_READ_WRITE, tx_claim, w, &st);
		if (w->rc[0] != FEDRPC_OK) {
			snprintf(w->msg[0], sizeof(w->msg[0]), "%s", st.message);
			break;
		}
		if (w->claimed[w->n_claimed] == KEEP)
			break;
		w->n_claimed++;
	}
	sf_arena_free(&arena);
	return NULL;
}

/* Two stores on the same data (two instances of one domain) claim the
 * same client's prekeys at once: each key goes to exactly one. */
static void
check_two_writers_claim(sf *f)
{
	pthread_barrier_t start;
	writer            w[2] = {{.store = f->store}, {.who = 1}};
	pthread_t         t[2];
	int               seen[PREKEYS] = {0};

	SF_OK(f, f->factory->open(f->dir, &w[1].store, &f->st));
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), 1, 0, 0, &f->st));
	for (uint32_t i = 0; i < PREKEYS; i++)
		add_prekey(f, sf_uuid(1), 1, i, "k");
	add_prekey(f, sf_uuid(1), 1, KEEP, "last");
	sf_commit(f);

	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		w[i].start = &start;
		cr_assert_eq(pthread_create(&t[i], NULL, race_claims, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	fedrpc_store_close(w[1].store);

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(w[i].rc[0], FEDRPC_OK, "[%s] writer %d: %s",
		    f->factory->name, i, w[i].msg[0]);
		for (size_t k = 0; k < w[i].n_claimed; k++) {
			cr_assert_lt(w[i].claimed[k], PREKEYS);
			seen[w[i].claimed[k]]++;
		}
	}
	for (int k = 0; k < PREKEYS; k++)
		cr_assert_eq(seen[k], 1, "[%s] prekey %d claimed %d times",
		    f->factory->name, k, seen[k]);
}

#define APPENDS 60

static fedrpc_code
tx_append(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	writer             *w  = arg;
	char                text[32];
	ProtobufCBinaryData ev;

	w->runs++;
	snprintf(text, sizeof(text), "w%d", w->who);
	ev = sf_bytes(text, strlen(text));
	return tx->ops->inbox_append_user(tx, sf_uuid(1), &ev, st);
}

/* A writer's transaction, APPENDS times, from the start barrier on. */
static void *
race_repeat(void *p)
{
	writer  *w = p;
	sf_arena arena;

	sf_arena_init(&arena);
	pthread_barrier_wait(w->start);
	for (int i = 0; i < APPENDS; i++) {
		fedrpc_status st = {0};

		w->rc[0] = fedrpc_store_run(w->store, &arena.al,
		    FEDRPC_STORE_READ_WRITE, w->tx, w, &st);
		if (w->rc[0] != FEDRPC_OK) {
			snprintf(w->msg[0], sizeof(w->msg[0]), "%s", st.message);
			break;
		}
	}
	sf_arena_free(&arena);
	return NULL;
}

/* Two writers (who 0 and 1) repeat tx at once; both must succeed. */
static void
race_writers(sf *f, fedrpc_store_fn tx)
{
	pthread_barrier_t start;
	writer            w[2] = {{.store = f->store, .who = 0, .tx = tx},
	               {.store = f->store, .who = 1, .tx = tx}};
	pthread_t         t[2];

	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		w[i].start = &start;
		cr_assert_eq(pthread_create(&t[i], NULL, race_repeat, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(w[i].rc[0], FEDRPC_OK, "[%s] writer %d: %s",
		    f->factory->name, i, w[i].msg[0]);
}

/* Two threads append to one inbox at once: no event is lost and no id is
 * given twice. */
static void
check_two_writers_inbox(sf *f)
{
	fedrpc_store_event *ev;
	size_t              n, from[2] = {0};
	bool                more;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), 1, 0, 0, &f->st));
	sf_commit(f);
	race_writers(f, tx_append);

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), sf_uuid(1), 1, 0, 1000, &ev, &n,
	             &more, &f->st));
	sf_commit(f);
	cr_assert_eq(n, 2 * APPENDS, "[%s] %zu events", f->factory->name, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ev[i].id, i + 1, "ids 1..n, each once");
		from[ev[i].data.data[1] - '0']++;
	}
	cr_assert_eq(from[0], APPENDS);
	cr_assert_eq(from[1], APPENDS);
}

/* Writer w's batch: clients 1..3 of user 1, in opposite orders for the
 * two writers (a store locking in the order given would deadlock). */
static fedrpc_code
tx_append_batch(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	writer                  *w = arg;
	static const char *const text[2] = {"w0", "w1"};
	fedrpc_store_inbox_entry e[3];
	char                     user[37];

	w->runs++;
	snprintf(user, sizeof(user), "%s", sf_uuid(1));
	for (int i = 0; i < 3; i++)
		e[i] = entry(user, w->who == 0 ? 1 + i : 3 - i, text[w->who]);
	return tx->ops->inbox_append_clients(tx, e, 3, NULL, st);
}

/* Two threads append batches over the same inboxes at once: every event
 * of both arrives, under ids given once each. */
static void
check_two_writers_inbox_batch(sf *f)
{
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	for (uint64_t c = 1; c <= 3; c++)
		SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), c, 0, 0,
		             &f->st));
	sf_commit(f);
	race_writers(f, tx_append_batch);

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	for (uint64_t c = 1; c <= 3; c++) {
		fedrpc_store_event *ev;
		size_t              n, from[2] = {0};
		bool                more;

		SF_OK(f, OPS(f)->inbox_fetch(TX(f), sf_uuid(1), c, 0, 1000, &ev,
		             &n, &more, &f->st));
		cr_assert_eq(n, 2 * APPENDS, "[%s] client %llu: %zu events",
		    f->factory->name, (unsigned long long) c, n);
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(ev[i].id, i + 1, "ids 1..n, each once");
			from[ev[i].data.data[1] - '0']++;
		}
		cr_assert_eq(from[0], APPENDS);
		cr_assert_eq(from[1], APPENDS);
	}
	sf_commit(f);
}

/* ---- large inputs ---- */

static char *
long_text(size_t n, char c)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
check_large_values(sf *f)
{
	size_t              big = 1u << 20;
	char               *handle = long_text(256, 'h');
	char               *name   = long_text(64 * 1024, 'n');
	uint8_t            *blob   = malloc(big);
	ProtobufCBinaryData b      = sf_bytes(blob, big);
	fedrpc_store_event *ev;
	fedrpc_store_outbox_item head;
	fedrpc_store_prekey pk;
	fedrpc_store_user   u;
	size_t              n;
	bool                found, more;
	uint64_t            seq;

	cr_assert_not_null(blob);
	for (size_t i = 0; i < big; i++)
		blob[i] = (uint8_t) (i * 7);
	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->user_insert(TX(f), sf_uuid(1), handle, name, 1,
	             &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), 1, 0, 0, &f->st));
	SF_OK(f, OPS(f)->prekey_insert(TX(f), sf_uuid(1), 1, 1, &b, &f->st));
	SF_OK(f, OPS(f)->inbox_append_user(TX(f), sf_uuid(1), &b, &f->st));
	SF_OK(f, OPS(f)->outbox_append(TX(f), "b.example", &b, 1, &seq,
	             &f->st));
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	cr_assert_str_eq(user_of(f, sf_uuid(1)).name, name);
	SF_OK(f, OPS(f)->user_get_by_handle(TX(f), handle, &u, &found,
	             &f->st));
	cr_assert(found);
	SF_OK(f, OPS(f)->prekey_claim(TX(f), sf_uuid(1), 1, KEEP, &pk, &found,
	             &f->st));
	cr_assert(sf_bytes_eq(pk.key, b));
	SF_OK(f, OPS(f)->inbox_fetch(TX(f), sf_uuid(1), 1, 0, 1, &ev, &n,
	             &more, &f->st));
	cr_assert(sf_bytes_eq(ev[0].data, b));
	SF_OK(f, OPS(f)->outbox_head(TX(f), "b.example", &head, &found,
	             &f->st));
	cr_assert(sf_bytes_eq(head.data, b));
	sf_commit(f);
	free(handle);
	free(name);
	free(blob);
}

#define MANY 3000

static void
check_many_rows(sf *f)
{
	char                       conv_id[37] = "";
	fedrpc_store_conversation  c, *got;
	fedrpc_store_qid           id = sf_qid(DOM, conv_id), *mq;
	Fedrpc__Federation__V1__ConversationMember *m, **mp;
	fedrpc_store_qid           creator = sf_qid(DOM, conv_id);
	fedrpc_store_event        *ev;
	fedrpc_store_client       *cl;
	char                      (*ids)[37], (*handles)[16];
	size_t                     n;
	uint64_t                   after = 0, total = 0;
	bool                       more = true;

	snprintf(conv_id, sizeof(conv_id), "%s", sf_uuid(1));
	mq      = calloc(MANY, sizeof(*mq));
	m       = calloc(MANY, sizeof(*m));
	mp      = calloc(MANY, sizeof(*mp));
	ids     = calloc(MANY, sizeof(*ids));
	handles = calloc(MANY, sizeof(*handles));
	cr_assert(mq && m && mp && ids && handles);
	fedrpc__federation__v1__conversation__init(&c);
	c.id      = &id;
	c.creator = &creator;
	c.name    = "big";
	c.members = mp;
	/* Members given in descending order come back ascending. */
	for (size_t i = 0; i < MANY; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%s", sf_uuid(MANY - (unsigned) i));
		fedrpc__federation__v1__conversation_member__init(&m[i]);
		mq[i]     = sf_qid(DOM, ids[i]);
		m[i].id   = &mq[i];
		m[i].role = ROLE_MEMBER;
		mp[i]     = &m[i];
	}
	c.n_members = MANY;

	sf_begin(f, FEDRPC_STORE_READ_WRITE);
	SF_OK(f, OPS(f)->conversation_put(TX(f), &c, &f->st));
	SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(1), 1, 0, 0, &f->st));
	for (unsigned i = 0; i < MANY; i++) {
		snprintf(handles[i], sizeof(handles[i]), "user%05u", i);
		add_user(f, 10000 + i, handles[i], "Many");
		append_user(f, sf_uuid(1), "e");
		SF_OK(f, OPS(f)->client_insert(TX(f), sf_uuid(2),
		             (uint64_t) i * 0x9e3779b97f4a7c15ull, 0, 0, &f->st));
	}
	sf_commit(f);

	sf_begin(f, FEDRPC_STORE_READ_ONLY);
	cr_assert_not_null(got = conv_get(f, &id));
	cr_assert_eq(got->n_members, MANY);
	for (size_t i = 1; i < MANY; i++)
		cr_assert_lt(strcmp(got->members[i - 1]->id->id,
		                 got->members[i]->id->id),
		    0);
	/* A search stops at its limit, by handle. */
	cr_assert_str_eq(search(f, "user", 3), "user00000 user00001 user00002");
	/* An inbox read page by page. */
	while (more) {
		SF_OK(f, OPS(f)->inbox_fetch(TX(f), sf_uuid(1), 1, after, 1000,
		             &ev, &n, &more, &f->st));
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(ev[i].id, after + i + 1);
		after += n;
		total += n;
	}
	cr_assert_eq(total, MANY);
	SF_OK(f, OPS(f)->client_list(TX(f), sf_uuid(2), &cl, &n, &f->st));
	cr_assert_eq(n, MANY);
	for (size_t i = 1; i < n; i++)
		cr_assert_lt(cl[i - 1].id, cl[i].id);
	sf_commit(f);
	free(mq);
	free(m);
	free(mp);
	free(ids);
	free(handles);
}

static fedrpc_code
tx_outbox_append(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	writer             *w = arg;
	char                text[32];
	ProtobufCBinaryData item;
	uint64_t            seq;

	snprintf(text, sizeof(text), "w%d-%d", w->who, w->runs);
	item = sf_bytes(text, strlen(text));
	return tx->ops->outbox_append(tx, "b.example", &item, 1, &seq, st);
}

static void *
race_outbox(void *p)
{
	writer  *w = p;
	sf_arena arena;

	sf_arena_init(&arena);
	pthread_barrier_wait(w->start);
	for (w->runs = 0; w->runs < APPENDS; w->runs++) {
		fedrpc_status st = {0};

		w->rc[0] = fedrpc_store_run(w->store, &arena.al,
		    FEDRPC_STORE_READ_WRITE, tx_outbox_append, w, &st);
		if (w->rc[0] != FEDRPC_OK) {
			snprintf(w->msg[0], sizeof(w->msg[0]), "%s", st.message);
			break;
		}
	}
	sf_arena_free(&arena);
	return NULL;
}

/* What a delivery reading the queue while others append sees. */
typedef struct outbox_reader {
	fedrpc_store *store;
	atomic_bool   writers_done;
	size_t        seen;
	size_t        got; /* in the last read */
	uint64_t      last;
	char          msg[FEDRPC_STATUS_MESSAGE_MAX];
} outbox_reader;

static fedrpc_code
tx_read_after(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	outbox_reader            *r = arg;
	fedrpc_store_outbox_item *items;
	size_t                    n;
	bool                      more;

	r->got = 0;
	if (tx->ops->outbox_pending(tx, "b.example", r->last, 16, &items, &n,
	        &more, st) != FEDRPC_OK)
		return st->code;
	r->got = n;
	for (size_t i = 0; i < n; i++) {
		if (items[i].seq <= r->last)
			return fedrpc_status_set(st, FEDRPC_INTERNAL,
			    "seq %llu after %llu", (unsigned long long) items[i].seq,
			    (unsigned long long) r->last);
		r->last = items[i].seq;
		r->seen++;
	}
	return FEDRPC_OK;
}

static void *
read_outbox(void *p)
{
	outbox_reader *r = p;
	sf_arena       arena;

	for (;;) {
		bool          last_round = atomic_load(&r->writers_done);
		fedrpc_status st         = {0};

		sf_arena_init(&arena);
		if (fedrpc_store_run(r->store, &arena.al, FEDRPC_STORE_READ_ONLY,
		        tx_read_after, r, &st) != FEDRPC_OK)
			snprintf(r->msg, sizeof(r->msg), "%s", st.message);
		sf_arena_free(&arena);
		if ((last_round && r->got == 0) || r->msg[0] != '\0')
			break;
	}
	return NULL;
}

/* Two instances append to one destination while a third reads the queue
 * after the last seq it saw, as delivery does: seqs ascend in commit
 * order, so it misses nothing. */
static void
check_two_writers_outbox_order(sf *f)
{
	pthread_barrier_t start;
	writer            w[2] = {{.who = 0}, {.who = 1}};
	outbox_reader     r    = {0};
	pthread_t         t[2], rt;

	for (int i = 0; i < 2; i++)
		SF_OK(f, f->factory->open(f->dir, &w[i].store, &f->st));
	r.store = f->store;
	pthread_barrier_init(&start, NULL, 2);
	cr_assert_eq(pthread_create(&rt, NULL, read_outbox, &r), 0);
	for (int i = 0; i < 2; i++) {
		w[i].start = &start;
		cr_assert_eq(pthread_create(&t[i], NULL, race_outbox, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	atomic_store(&r.writers_done, true);
	pthread_join(rt, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < 2; i++) {
		fedrpc_store_close(w[i].store);
		cr_assert_eq(w[i].rc[0], FEDRPC_OK, "[%s] writer %d: %s",
		    f->factory->name, i, w[i].msg[0]);
	}
	cr_assert_eq(r.msg[0], '\0', "[%s] %s", f->factory->name, r.msg);
	cr_assert_eq(r.seen, 2 * APPENDS, "[%s] the reader saw %zu of %d",
	    f->factory->name, r.seen, 2 * APPENDS);
}

Test(store, users) { sf_each(check_users); }
Test(store, user_uniqueness) { sf_each(check_user_uniqueness); }
Test(store, user_search) { sf_each(check_user_search); }
Test(store, clients) { sf_each(check_clients); }
Test(store, prekeys) { sf_each(check_prekeys); }
Test(store, connections) { sf_each(check_connections); }
Test(store, inbox) { sf_each(check_inbox); }
Test(store, inbox_batch) { sf_each(check_inbox_batch); }
Test(store, inbox_batch_like_singles) { sf_each(check_inbox_batch_like_singles); }
Test(store, inbox_batch_large) { sf_each(check_inbox_batch_large); }
Test(store, conversations) { sf_each(check_conversations); }
Test(store, outbox) { sf_each(check_outbox); }
Test(store, requests) { sf_each(check_requests); }
Test(store, request_results) { sf_each(check_request_results); }
Test(store, outbox_states) { sf_each(check_outbox_states); }
Test(store, queues) { sf_each(check_queues); }
Test(store, lease) { sf_each(check_lease); }
Test(store, conversation_version) { sf_each(check_conversation_version); }
Test(store, sent) { sf_each(check_sent); }
Test(store, two_writers_outbox_order) { sf_each(check_two_writers_outbox_order); }
Test(store, rollback) { sf_each(check_rollback); }
Test(store, run_rolls_back) { sf_each(check_run_rolls_back); }
Test(store, read_only) { sf_each(check_read_only); }
Test(store, isolation) { sf_each(check_isolation); }
Test(store, two_writers_unique) { sf_each(check_two_writers_unique); }
Test(store, two_writers_claim) { sf_each(check_two_writers_claim); }
Test(store, two_writers_inbox) { sf_each(check_two_writers_inbox); }
Test(store, two_writers_inbox_batch) { sf_each(check_two_writers_inbox_batch); }
Test(store, large_values) { sf_each(check_large_values); }
Test(store, many_rows) { sf_each(check_many_rows); }
