/*
 * Federation end to end: three federator daemons (a, b and c.example,
 * tests/support/daemons.h) on 127.0.0.1 that find each other only through
 * DNS SRV records served by a real dnsmasq, with mutual TLS certificates
 * naming fed.X.example, driven by the fedctl binary as users run it
 * (tests/support/fedctl_run.h: --json output parsed by jansson).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "testutil.h"

#define NFED 3

/* A person: a fedctl home (key store) registered on one backend. */
typedef struct user {
	char home[512]; /* FEDCTL_HOME */
	char qid[128];  /* "uuid@domain" */
} user;

static td *T;

/* Each domain allows the two others. c lets nobody search its users; a
 * and b allow exact handle search. Discovery only through DNS, where
 * d.example resolves too (to a closed port): a refusal of it is a's
 * policy, not a failed lookup. */
static void
setup(void)
{
	char        d_srv[160];
	const char *more[] = {d_srv, "--host-record=fed.d.example,127.0.0.1",
		NULL};

	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	T = td_new(NFED, NULL);
	snprintf(T->f[0].policy, sizeof(T->f[0].policy), "exact_handle_search");
	snprintf(T->f[1].policy, sizeof(T->f[1].policy), "exact_handle_search");
	snprintf(T->f[2].policy, sizeof(T->f[2].policy), "no_search");
	snprintf(d_srv, sizeof(d_srv),
	    "--srv-host=_fedrpc._tcp.d.example,fed.d.example,%d,10,100",
	    tu_free_port());
	td_use_dns(T, more);
	for (int i = 0; i < NFED; i++)
		td_start(T, i, NULL);
}

static void
teardown(void)
{
	td_free(T); /* never asserts: it runs after failures too */
	T = NULL;
}

TestSuite(federation_e2e, .init = setup, .fini = teardown, .timeout = 90);

#define EXPECT(want, home, ...) FR_EXPECT(T->dir, want, home, __VA_ARGS__)
#define FEDCTL_JSON(want, home, ...) FR_JSON(T->dir, want, home, __VA_ARGS__)
#define FEDCTL_RUN(home, ...) FR_RUN(T->dir, home, __VA_ARGS__)

/* ---- scenario steps ---- */

/* Registers handle on f with one client; fills u. */
static void
user_make(user *u, const td_fed *f, const char *handle)
{
	json_t *j;

	snprintf(u->home, sizeof(u->home), "%s/home-%s", T->dir, handle);
	j = FEDCTL_JSON(0, u->home, "user", "register", handle, handle,
	    "--socket", f->sock);
	cr_assert_str_eq(fr_str(j, "user.domain"), f->domain);
	snprintf(u->qid, sizeof(u->qid), "%s", fr_str(j, "user.qualified_id"));
	json_decref(j);
	j = FEDCTL_JSON(0, u->home, "client", "add", "--prekeys", "8");
	json_decref(j);
}

/* The texts of the decrypted messages in u's inbox, joined by '|' (or ""),
 * acknowledging them; every message must decrypt. Caller frees. */
static char *
inbox_texts(const user *u)
{
	json_t *j = FEDCTL_JSON(0, u->home, "inbox", "--ack"), *ev;
	char   *s = strdup("");
	size_t  i;

	json_array_foreach (json_object_get(j, "events"), i, ev) {
		char *t;

		if (strcmp(fr_str(ev, "type"), "message") != 0)
			continue;
		cr_assert(json_is_true(json_object_get(ev, "decrypted")),
		    "not decrypted for %s: %s", u->qid, fr_str(ev, "error"));
		cr_assert(asprintf(&t, "%s%s%s", s, *s ? "|" : "",
		              fr_str(ev, "text")) > 0);
		free(s);
		s = t;
	}
	json_decref(j);
	return s;
}

#define EXPECT_INBOX(u, want)                                            \
	do {                                                             \
		char *got_ = inbox_texts(u);                             \
		cr_assert_str_eq(got_, (want), "inbox of %s", (u)->qid); \
		free(got_);                                              \
	} while (0)

/* What a send answer says: queued for a domain, sent to a user. */
#define queued_for(sent, domain) fr_lists((sent), "queued_for", NULL, (domain))
#define is_recipient(sent, qid)                                             \
	fr_lists((sent), "recipients", "user.qualified_id", (qid))

Test(federation_e2e, three_domains_through_dns)
{
	user    alice, bob, carol;
	json_t *j;
	fr_run  r;

	user_make(&alice, &T->f[0], "alice");
	user_make(&bob, &T->f[1], "bob");
	user_make(&carol, &T->f[2], "carol");

	/* Search: b finds by exact handle; c hides its users from a. */
	j = FEDCTL_JSON(0, alice.home, "find", "bob@b.example");
	cr_assert_str_eq(fr_str(j, "user.qualified_id"), bob.qid);
	cr_assert_str_eq(fr_str(j, "user.domain"), "b.example");
	cr_assert(json_is_true(fr_get(j, "user.federated")));
	json_decref(j);
	r = FEDCTL_RUN(alice.home, "find", "carol@c.example");
	cr_assert_neq(r.code, 0, "c.example's users are found: %s", r.out);
	cr_assert_null(strstr(r.out, carol.qid), "%s", r.out);
	fr_free(&r);
	j = FEDCTL_JSON(0, alice.home, "search", "carol", "--domain",
	    "c.example");
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 0);
	json_decref(j);

	/* Connections (carol by her qualified id, as she cannot be found). */
	r = EXPECT(0, alice.home, "connect", "bob@b.example");
	fr_free(&r);
	r = EXPECT(0, bob.home, "accept", "alice@a.example");
	fr_free(&r);
	r = EXPECT(0, alice.home, "connect", carol.qid);
	fr_free(&r);
	r = EXPECT(0, carol.home, "accept", "alice@a.example");
	fr_free(&r);

	/* A group of a.example with members on b and c. */
	j = FEDCTL_JSON(0, alice.home, "conv", "create", "Wonderland",
	    "bob@b.example", carol.qid);
	cr_assert_str_eq(fr_str(j, "conversation.domain"), "a.example");
	cr_assert_eq(json_array_size(fr_get(j, "conversation.members")), 3);
	json_decref(j);

	/* Both directions; each client opens exactly what was sent to it
	 * (its own ciphertext, sealed for its own keys). */
	j = FEDCTL_JSON(0, alice.home, "send", "Wonderland", "Curiouser!");
	cr_assert(is_recipient(j, bob.qid) && is_recipient(j, carol.qid));
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	json_decref(j);
	EXPECT_INBOX(&bob, "Curiouser!");
	EXPECT_INBOX(&carol, "Curiouser!");
	j = FEDCTL_JSON(0, bob.home, "send", "Wonderland", "Can we fix it?");
	cr_assert(is_recipient(j, alice.qid) && is_recipient(j, carol.qid));
	json_decref(j);
	EXPECT_INBOX(&alice, "Can we fix it?");
	EXPECT_INBOX(&carol, "Can we fix it?");
	EXPECT_INBOX(&bob, "");

	/* c.example goes down: the message is queued for it, b's clients
	 * get it at once. */
	td_stop(T, 2);
	j = FEDCTL_JSON(3, alice.home, "send", "Wonderland", "Anyone on c?");
	cr_assert(queued_for(j, "c.example"), "%s", json_dumps(j, 0));
	cr_assert_not(queued_for(j, "b.example"));
	cr_assert_eq(json_array_size(json_object_get(j, "failed_to_send")), 0);
	json_decref(j);
	EXPECT_INBOX(&bob, "Anyone on c?");

	/* bob leaves (the owner tells c.example later) and no longer
	 * receives. */
	r = EXPECT(0, bob.home, "conv", "leave", "Wonderland");
	fr_free(&r);
	j = FEDCTL_JSON(3, alice.home, "send", "Wonderland", "Bob has left.");
	cr_assert_not(is_recipient(j, bob.qid));
	cr_assert(queued_for(j, "c.example"));
	json_decref(j);
	EXPECT_INBOX(&bob, "");

	/* c.example is back: once it is heard from, what waited for it
	 * arrives, in order. */
	td_start(T, 2, NULL);
	{
		char    *got = strdup("");
		uint64_t end = tu_now_ms() + TU_WAIT_MS;

		while (strcmp(got, "Anyone on c?|Bob has left.") != 0 &&
		    tu_now_ms() < end) {
			char *more, *t;

			r = FEDCTL_RUN(carol.home, "find", "alice@a.example");
			fr_free(&r);
			more = inbox_texts(&carol);
			cr_assert(asprintf(&t, "%s%s%s", got,
			              *got && *more ? "|" : "", more) >= 0);
			free(got);
			free(more);
			got = t;
			if (strcmp(got, "Anyone on c?|Bob has left.") != 0)
				tu_sleep_ms(100);
		}
		cr_assert_str_eq(got, "Anyone on c?|Bob has left.",
		    "carol's inbox after c.example came back");
		free(got);
	}

	/* A domain not on a's allow list is refused as a federation
	 * failure, with the reason. */
	r = EXPECT(3, alice.home, "find", "dora@d.example");
	cr_assert(strstr(r.err, "d.example") != NULL, "%s", r.err);
	cr_assert(strcasestr(r.err, "permission") != NULL ||
	        strcasestr(r.err, "not allowed") != NULL,
	    "%s", r.err);
	fr_free(&r);

	/* Every daemon stops cleanly (under ASan: without leaks). */
	td_finish(T);
	T = NULL;
}
