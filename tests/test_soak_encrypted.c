/*
 * The soak test of delivery as people see it, bounded: alice (a.example)
 * sends many end-to-end encrypted messages with fedctl (200;
 * FEDRPC_SOAK_MESSAGES changes it) to a conversation with bob (b.example)
 * and carol (c.example), while c.example is killed with SIGKILL and
 * restarted three times and a.example itself is killed once mid-way and
 * restarted (alice then sends her last message again with its id, as a
 * client that never saw the answer would). Every recipient client
 * decrypts every message exactly once and in order (each text carries the
 * SHA-256 digest of its index, checked on arrival), and every member list
 * ends equal to the owner's. test_soak.c runs the same outages through
 * the local API directly, with a member joining and leaving.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "daemons.h"
#include "testutil.h"

#define QUICK "delivery = { backoff_initial_ms = 10; backoff_max_ms = 500; };"

typedef struct person {
	int  dom;
	char home[600];
	char qid[80]; /* uuid@domain */
} person;

/* fedctl as p (on p's daemon), requiring exit `want`; parsed --json. */
static json_t *
as(td *t, const person *p, int want, const char *const *args)
{
	char        *out = td_fedctl(t, p->dom, p->home, want, args);
	json_error_t e;
	json_t      *j = json_loads(out, 0, &e);

	cr_assert_not_null(j, "fedctl %s: not JSON (%s): %s", args[0], e.text,
	    out);
	free(out);
	return j;
}

#define AS(t, p, want, ...) as((t), (p), (want), (const char *const[]){__VA_ARGS__, NULL})

static person
person_new(td *t, int dom, const char *handle)
{
	person  p = {.dom = dom};
	json_t *j, *u;

	snprintf(p.home, sizeof(p.home), "%s/home-%s", t->dir, handle);
	j = AS(t, &p, 0, "user", "register", handle, handle);
	u = json_object_get(j, "user");
	snprintf(p.qid, sizeof(p.qid), "%s",
	    json_string_value(json_object_get(u, "qualified_id")));
	cr_assert_neq(p.qid[0], '\0', "no qualified id for %s", handle);
	json_decref(j);
	json_decref(AS(t, &p, 0, "client", "add"));
	return p;
}

/* The text of message i: its index and the digest of it. */
static void
text_of(int i, char *out, size_t n)
{
	char     idx[16], hex[2 * WC_SHA256_DIGEST_SIZE + 1];
	uint8_t  d[WC_SHA256_DIGEST_SIZE];
	wc_Sha256 h;

	snprintf(idx, sizeof(idx), "soak-%03d", i);
	cr_assert_eq(wc_InitSha256(&h), 0);
	wc_Sha256Update(&h, (const uint8_t *) idx, (word32) strlen(idx));
	wc_Sha256Final(&h, d);
	wc_Sha256Free(&h);
	for (size_t k = 0; k < sizeof(d); k++)
		snprintf(hex + 2 * k, sizeof(hex) - 2 * k, "%02x", d[k]);
	snprintf(out, n, "%s %s", idx, hex);
}

/* Reads p's inbox (acknowledging it) and checks each message against the
 * next expected index; returns how many messages p has read in all. */
static int
read_inbox(td *t, const person *p, int got)
{
	json_t *j = AS(t, p, 0, "inbox", "--ack"), *ev;
	size_t  i;

	cr_assert_eq(json_integer_value(json_object_get(j, "undecryptable")),
	    0, "%s could not decrypt: %s", p->qid, json_dumps(j, 0));
	json_array_foreach (json_object_get(j, "events"), i, ev) {
		char want[120];

		if (strcmp(json_string_value(json_object_get(ev, "type")),
		        "message") != 0)
			continue;
		cr_assert(json_is_true(json_object_get(ev, "decrypted")),
		    "%s: not decrypted: %s", p->qid, json_dumps(ev, 0));
		text_of(got, want, sizeof(want));
		cr_assert_str_eq(
		    json_string_value(json_object_get(ev, "text")), want,
		    "%s: message %d out of order, lost or twice", p->qid, got);
		got++;
	}
	json_decref(j);
	return got;
}

/* The sorted member ids of the conversation as p's backend has them. */
static char *
members(td *t, const person *p, const char *conv)
{
	json_t *j = AS(t, p, 0, "conv", "show", conv), *m;
	char   *ids[8], *s;
	size_t  i, n = 0, len = 1;

	json_array_foreach (json_object_get(json_object_get(j, "conversation"),
	                        "members"),
	    i, m) {
		cr_assert_lt(n, 8);
		ids[n] = strdup(json_string_value(json_object_get(m, "qualified_id")));
		len += strlen(ids[n++]) + 1;
	}
	json_decref(j);
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			if (strcmp(ids[a], ids[b]) > 0) {
				char *x = ids[a];
				ids[a]  = ids[b];
				ids[b]  = x;
			}
	s = calloc(len, 1);
	for (size_t k = 0; k < n; k++) {
		strcat(s, ids[k]);
		strcat(s, k + 1 < n ? "," : "");
		free(ids[k]);
	}
	return s;
}

Test(soak_encrypted, fedctl_messages_survive_outages_and_a_crash,
    .timeout = 600)
{
	const char *env = getenv("FEDRPC_SOAK_MESSAGES");
	int         n   = env != NULL && atoi(env) >= 16 ? atoi(env) : 200;
	td         *t   = td_new(3, QUICK);
	person      alice, bob, carol;
	char        conv[120], text[120], id[32], *owner, *seen;
	int         got_b = 0, got_c = 0, queued = 0;
	uint64_t    end;
	json_t     *j;

	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	for (int i = 0; i < 3; i++)
		td_start(t, i, NULL);
	alice = person_new(t, 0, "alice");
	bob   = person_new(t, 1, "bob");
	carol = person_new(t, 2, "carol");
	json_decref(AS(t, &alice, 0, "connect", "bob@b.example"));
	json_decref(AS(t, &alice, 0, "connect", "carol@c.example"));
	json_decref(AS(t, &bob, 0, "accept", alice.qid));
	json_decref(AS(t, &carol, 0, "accept", alice.qid));
	j = AS(t, &alice, 0, "conv", "create", "Soak", bob.qid, carol.qid);
	snprintf(conv, sizeof(conv), "%s",
	    json_string_value(json_object_get(
	        json_object_get(j, "conversation"), "qualified_id")));
	json_decref(j);

	for (int i = 0; i < n; i++) {
		/* c.example goes down three times. */
		if (i == n / 8 || i == 3 * n / 8 || i == 5 * n / 8)
			td_kill(t, 2);
		if (i == 2 * n / 8 || i == 4 * n / 8 || i == 6 * n / 8)
			td_start(t, 2, NULL);
		/* a.example crashes; alice sends her last message again, with
		 * its id: it is not sent twice. */
		if (i == n / 2) {
			td_kill(t, 0);
			td_start(t, 0, NULL);
			text_of(i - 1, text, sizeof(text));
			snprintf(id, sizeof(id), "soak-%03d", i - 1);
			j = AS(t, &alice, 0, "send", conv, text, "--id", id);
			cr_assert(json_is_true(json_object_get(j, "repeated")),
			    "the repeated send went out again: %s",
			    json_dumps(j, 0));
			json_decref(j);
		}
		text_of(i, text, sizeof(text));
		snprintf(id, sizeof(id), "soak-%03d", i);
		/* Exit 3 when it is queued for c.example (down, or not heard
		 * from again yet); nothing else. */
		{
			const char *const args[] = {
			    "send", conv, text, "--id", id, NULL};
			int   code;
			char *out = td_fedctl_run(t, 0, alice.home, args, &code);

			cr_assert(code == 0 || code == 3,
			    "fedctl send %s: exit %d: %s", id, code, out);
			queued += code == 3;
			free(out);
		}
		/* Read as we go, as people do: bob is always up. */
		if (i % 25 == 24)
			got_b = read_inbox(t, &bob, got_b);
	}

	/* The outages were seen: messages were queued for c.example. */
	cr_assert_geq(queued, 3 * n / 8 - 3, "only %d sends were queued", queued);

	/* Everything arrives: c.example is up, a.example delivers what
	 * waited for it. */
	end = tu_now_ms() + 3 * TD_WAIT_MS;
	while ((got_b < n || got_c < n) && tu_now_ms() < end) {
		got_b = read_inbox(t, &bob, got_b);
		got_c = read_inbox(t, &carol, got_c);
		if (got_b < n || got_c < n)
			usleep(100000);
	}
	cr_assert_eq(got_b, n, "bob read %d of %d", got_b, n);
	cr_assert_eq(got_c, n, "carol read %d of %d", got_c, n);
	/* Nothing more comes (no duplicate arrives late). */
	cr_assert_eq(read_inbox(t, &bob, got_b), n);
	cr_assert_eq(read_inbox(t, &carol, got_c), n);

	owner = members(t, &alice, conv);
	seen  = members(t, &bob, conv);
	cr_assert_str_eq(seen, owner, "members as bob's backend has them");
	free(seen);
	seen = members(t, &carol, conv);
	cr_assert_str_eq(seen, owner, "members as carol's backend has them");
	free(seen);
	free(owner);
	td_finish(t);
}
