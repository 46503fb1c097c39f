/*
 * Federation API version negotiation between real daemons (the caller
 * rule of docs/federation-api.md): a daemon serving versions 1 and 2 and
 * one serving only 1 talk in both directions, whichever side serves more;
 * a choice cached before the other side dropped a version is asked again
 * and the call retried once (a queued message, a blocking search); with
 * no common version a call fails naming both sets.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "testutil.h"

#define V12 "api = { versions = [1, 2]; };"
#define V1 "api = { versions = [1]; };"
#define V2 "api = { versions = [2]; };"

/* Waits up to TD_WAIT_MS for cond, polled every 20 ms. */
#define EVENTUALLY(cond, ...)                                              \
	do {                                                               \
		uint64_t end_ = tu_now_ms() + TD_WAIT_MS;                  \
		while (!(cond)) {                                          \
			cr_assert_lt(tu_now_ms(), end_, __VA_ARGS__);      \
			usleep(20000);                                     \
		}                                                          \
	} while (0)

static void
quiet(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
}

TestSuite(version_negotiation, .init = quiet, .timeout = 120);

static void
set_versions(td *t, int i, const char *versions)
{
	snprintf(t->f[i].extra, sizeof(t->f[i].extra), "%s", versions);
}

static bool
inbox_is(td *t, td_user *u, const char *text)
{
	char *got  = td_messages(t, u, NULL);
	bool  same = strcmp(got, text) == 0;

	free(got);
	return same;
}

/*
 * alice (a) and bob (b) connect (a request from a to b, an acceptance
 * back), share a conversation of a.example and write to each other:
 * every kind of call in both directions.
 */
static void
talk(td *t, td_user *alice, td_user *bob, char conv[37])
{
	td_user *to_bob[] = {bob}, *to_alice[] = {alice};

	td_connect(t, alice, bob);
	td_create(t, alice, to_bob, 1, "pair", conv);
	td_send(t, alice, "a.example", conv, to_bob, 1, "hello bob", "m-1");
	EVENTUALLY(inbox_is(t, bob, "hello bob\n"), "bob never got it");
	td_send(t, bob, "a.example", conv, to_alice, 1, "hello alice", "m-2");
	EVENTUALLY(inbox_is(t, alice, "hello alice\n"), "alice never got it");
}

static void
mixed_pair(const char *va, const char *vb)
{
	td     *t = td_new(2, NULL);
	td_user alice, bob;
	char    conv[37];

	set_versions(t, 0, va);
	set_versions(t, 1, vb);
	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	talk(t, &alice, &bob, conv);
	cr_assert_eq(td_pending(t, 0, NULL), 0, "a.example has items left");
	cr_assert_eq(td_pending(t, 1, NULL), 0, "b.example has items left");
	td_finish(t);
}

Test(version_negotiation, one_and_two_calls_one)
{
	mixed_pair(V12, V1);
}

Test(version_negotiation, one_calls_one_and_two)
{
	mixed_pair(V1, V12);
}

static bool
log_has(td *t, int i, const char *what)
{
	char *log = tu_read_file(t->f[i].log);
	bool  has = log != NULL && strstr(log, what) != NULL;

	free(log);
	return has;
}

static int
log_count(td *t, int i, const char *what)
{
	char *log = tu_read_file(t->f[i].log), *p = log;
	int   n   = 0;

	while (p != NULL && (p = strstr(p, what)) != NULL) {
		n++;
		p += strlen(what);
	}
	free(log);
	return n;
}

/* a.example searches b.example for bob (a blocking federation call),
 * again while a.example's channel waits out b.example's restart; the
 * search must then succeed and find him. */
static void
search_bob(td *t)
{
	Fedrpc__Local__V1__SearchUsersRequest   r =
	    FEDRPC__LOCAL__V1__SEARCH_USERS_REQUEST__INIT;
	Fedrpc__Local__V1__SearchUsersResponse *resp = NULL;
	fedrpc_status st = {0};
	fedrpc_code   rc;
	uint64_t      end = tu_now_ms() + TD_WAIT_MS;

	r.term   = "bob";
	r.domain = "b.example";
	for (;;) {
		fedrpc_status_reset(&st);
		rc = fedrpc_local_v1_users_search_users(
		    t->f[0].lch, &r, &resp, NULL, &st);
		if (rc != FEDRPC_UNAVAILABLE || tu_now_ms() > end)
			break;
		usleep(20000);
	}
	cr_assert_eq(rc, FEDRPC_OK, "search: %s", st.message);
	cr_assert_eq(resp->n_contacts, 1, "bob was not found");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/*
 * Both serve 1 and 2, so a.example caches 2 for b.example; b.example
 * restarts serving only 1. a.example's next calls (a message, a blocking
 * profile lookup) are refused for version 2, ask again and go through.
 */
Test(version_negotiation, stale_choice_is_asked_again_and_retried_once)
{
	td      *t = td_new(2, NULL);
	td_user  alice, bob, *to_bob[1];
	char     conv[37];

	set_versions(t, 0, V12);
	set_versions(t, 1, V12);
	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	alice     = td_register(t, 0, "alice");
	bob       = td_register(t, 1, "bob");
	to_bob[0] = &bob;
	talk(t, &alice, &bob, conv);
	cr_assert(!log_has(t, 0, "refused federation API version"));

	td_stop(t, 1);
	set_versions(t, 1, V1);
	td_start(t, 1, NULL);
	td_send(t, &alice, "a.example", conv, to_bob, 1, "still there?", "m-3");
	EVENTUALLY(inbox_is(t, &bob, "hello bob\nstill there?\n"),
	    "the message after the downgrade never arrived");
	cr_assert(log_has(t, 0, "b.example refused federation API version 2"),
	    "a.example did not use its cached choice 2");
	cr_assert_eq(td_pending(t, 0, NULL), 0, "a.example has items left");

	/* The same for a blocking call (a search of b.example from a fresh
	 * a.example, which caches 2; then b.example serves only 1 again). */
	td_stop(t, 1);
	set_versions(t, 1, V12);
	td_start(t, 1, NULL);
	td_stop(t, 0);
	td_start(t, 0, NULL);
	search_bob(t);
	td_stop(t, 1);
	set_versions(t, 1, V1);
	td_start(t, 1, NULL);
	search_bob(t);
	cr_assert_eq(log_count(t, 0, "b.example refused federation API version 2"),
	    2, "the search did not use its cached choice 2");
	td_finish(t);
}

/* a.example serves only 2, b.example only 1: the call fails at the caller
 * with both sets named. */
Test(version_negotiation, no_common_version_names_both_sets)
{
	td  *t = td_new(2, NULL);
	char home[600], *out;

	set_versions(t, 0, V2);
	set_versions(t, 1, V1);
	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	(void) td_register(t, 1, "bob");
	snprintf(home, sizeof(home), "%s/home", t->dir);
	out = td_fedctl(t, 0, home, 3,
	    (const char *const[]){"find", "bob@b.example", NULL});
	cr_assert(strstr(out, "no common federation API version with "
	                      "b.example (ours: 2; theirs: 1)") != NULL,
	    "%s", out);
	free(out);
	td_finish(t);
}
