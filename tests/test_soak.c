/*
 * The soak test of delivery, bounded: many messages (200;
 * FEDRPC_SOAK_MESSAGES changes it) from a.example to a conversation with
 * members on b.example and c.example, while c.example is killed with
 * SIGKILL and restarted three times (a member joins and leaves it while it
 * is down), and a.example itself is killed once mid-way and restarted (the
 * client then sends its last message again, as it would not know whether
 * it went out). Every recipient gets every message it should, exactly
 * once and in order, and every member list ends equal to the owner's.
 * (The payloads stand for ciphertexts: end-to-end encryption is fedctl's.)
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "testutil.h"

#define QUICK "delivery = { backoff_initial_ms = 10; backoff_max_ms = 500; };"

/* What u should have: lines "msg-NNN" for i in [from, to). */
static char *
expected(int from, int to)
{
	char  *s = calloc((size_t) (to - from + 1) * 16 + 1, 1);
	size_t k = 0;

	cr_assert_not_null(s);
	for (int i = from; i < to; i++)
		k += (size_t) sprintf(s + k, "msg-%03d\n", i);
	return s;
}

static bool
has(td *t, td_user *u, const char *want)
{
	char *got = td_messages(t, u, NULL);
	bool  same = strcmp(got, want) == 0;

	free(got);
	return same;
}

Test(soak, outages_and_a_crash_lose_nothing_and_duplicate_nothing,
    .timeout = 300)
{
	const char *env = getenv("FEDRPC_SOAK_MESSAGES");
	int         n   = env != NULL && atoi(env) >= 16 ? atoi(env) : 200;
	td         *t   = td_new(3, QUICK);
	td_user     alice, bob, carol, dave, *members[2], *to[3];
	char        conv[37], *want, *owner;
	int         dave_from = -1, dave_to = -1;
	uint64_t    start, end;

	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	for (int i = 0; i < 3; i++)
		td_start(t, i, NULL);
	alice = td_register(t, 0, "alice");
	bob   = td_register(t, 1, "bob");
	carol = td_register(t, 2, "carol");
	dave  = td_register(t, 2, "dave");
	td_connect(t, &alice, &bob);
	td_connect(t, &alice, &carol);
	td_connect(t, &alice, &dave);
	members[0] = &bob;
	members[1] = &carol;
	td_create(t, &alice, members, 2, "soak", conv);

	start = tu_now_ms();
	for (int i = 0; i < n; i++) {
		char   text[16];
		size_t n_to = 0;

		/* c.example goes down three times; dave joins while it is
		 * down the second time and leaves while it is down the
		 * third. */
		if (i == n / 8 || i == 3 * n / 8 || i == 5 * n / 8)
			td_kill(t, 2);
		if (i == 3 * n / 8) {
			td_change(t, &alice, conv, &dave, true);
			dave_from = i;
		}
		if (i == 5 * n / 8) {
			td_change(t, &alice, conv, &dave, false);
			dave_to = i;
		}
		if (i == 2 * n / 8 || i == 4 * n / 8 || i == 6 * n / 8)
			td_start(t, 2, NULL);
		/* a.example crashes with messages on their way; the client
		 * sends its last one again. */
		if (i == n / 2) {
			char last[16];

			td_kill(t, 0);
			td_start(t, 0, NULL);
			snprintf(last, sizeof(last), "msg-%03d", i - 1);
			to[0] = &bob;
			to[1] = &carol;
			to[2] = &dave;
			cr_assert(td_send(t, &alice, "a.example", conv, to, 3, last,
			              last),
			    "the repeated send went out again");
		}
		to[n_to++] = &bob;
		to[n_to++] = &carol;
		if (dave_from >= 0 && dave_to < 0)
			to[n_to++] = &dave;
		snprintf(text, sizeof(text), "msg-%03d", i);
		cr_assert_not(td_send(t, &alice, "a.example", conv, to, n_to, text,
		                  text),
		    "%s taken for a repeat", text);
	}
	end = tu_now_ms() + TD_WAIT_MS * 3;
	while (td_pending(t, 0, NULL) > 0) {
		cr_assert_lt(tu_now_ms(), end, "a.example never emptied its queue");
		usleep(20000);
	}
	cr_log_info("%d messages, %llu ms", n,
	    (unsigned long long) (tu_now_ms() - start));

	want = expected(0, n);
	cr_assert(has(t, &bob, want), "bob: %s", td_messages(t, &bob, NULL));
	cr_assert(has(t, &carol, want), "carol: %s",
	    td_messages(t, &carol, NULL));
	free(want);
	want = expected(dave_from, dave_to);
	cr_assert(has(t, &dave, want), "dave: %s\nwanted %s",
	    td_messages(t, &dave, NULL), want);
	free(want);
	{
		uint64_t aside;

		td_pending(t, 0, &aside);
		cr_assert_eq(aside, 0, "nothing was refused");
	}
	owner = td_members(t, &alice, "a.example", conv);
	{
		td_user *who[] = {&bob, &carol};

		for (int k = 0; k < 2; k++) {
			char *seen = td_members(t, who[k], "a.example", conv);

			cr_assert_str_eq(seen, owner, "members as %s sees them",
			    who[k]->domain);
			free(seen);
		}
	}
	free(owner);
	owner = td_members(t, &dave, "a.example", conv);
	cr_assert_str_eq(owner, "-", "dave is out");
	free(owner);
	td_finish(t);
}
