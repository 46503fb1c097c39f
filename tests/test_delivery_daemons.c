/*
 * Delivery with real federator daemons (tests/support/daemons.h): a queue
 * survives a restart of its daemon; a crash of the sender between "the
 * remote applied it" and "the sender removed it" applies it once (made
 * deterministic with the test-only FEDRPC_TEST_DELIVERY_HOLD_MS, which
 * holds a delivered item before its removal); a poison item is moved
 * aside while later items arrive, and fedctl queue shows and drops it;
 * hearing from a domain ends its back-off; messages from concurrent
 * senders arrive everywhere in the owner's order; fedctl sent shows a
 * message queued, then delivered.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "backends/reference/delivery.h"
#include "backends/sqlite/sqlite_store.h"
#include "daemons.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/local/v1/delivery.fedrpc.h"
#include "testutil.h"

/* Domains down come back within half a second. */
#define QUICK "delivery = { backoff_initial_ms = 10; backoff_max_ms = 500; };"

/* Waits up to TD_WAIT_MS for cond (tests/support/testutil.h). */
#define EVENTUALLY(cond, ...)                                              \
	cr_assert(TU_WAIT_FOR((cond), TD_WAIT_MS), __VA_ARGS__)

static void
quiet(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
}

TestSuite(delivery_daemons, .init = quiet, .timeout = 120);

/* alice (a) with bob (b) in a conversation of a.example. */
typedef struct pair {
	td     *t;
	td_user alice, bob;
	char    conv[37];
} pair;

static void
pair_new(pair *p, const char *extra_a)
{
	td_user *members[1];

	p->t = td_new(2, QUICK);
	if (extra_a != NULL)
		snprintf(p->t->f[0].extra, sizeof(p->t->f[0].extra), "%s",
		    extra_a);
	td_start(p->t, 0, NULL);
	td_start(p->t, 1, NULL);
	p->alice   = td_register(p->t, 0, "alice");
	p->bob     = td_register(p->t, 1, "bob");
	members[0] = &p->bob;
	td_connect(p->t, &p->alice, &p->bob);
	td_create(p->t, &p->alice, members, 1, "pair", p->conv);
}

/* Whether text is exactly what u's inbox holds. */
static bool
inbox_is(pair *p, td_user *u, const char *text)
{
	char *got = td_messages(p->t, u, NULL);
	bool  same = strcmp(got, text) == 0;

	free(got);
	return same;
}

static void
send_to_bob(pair *p, const char *text)
{
	td_user *to[] = {&p->bob};

	td_send(p->t, &p->alice, "a.example", p->conv, to, 1, text, text);
}

Test(delivery_daemons, queue_survives_a_restart)
{
	pair p;

	pair_new(&p, NULL);
	td_stop(p.t, 1);
	send_to_bob(&p, "one");
	send_to_bob(&p, "two");
	send_to_bob(&p, "three");
	cr_assert_eq(td_pending(p.t, 0, NULL), 3);
	/* a.example stops with its queue, b.example comes back, then a. */
	td_stop(p.t, 0);
	td_start(p.t, 1, NULL);
	td_start(p.t, 0, NULL);
	EVENTUALLY(td_pending(p.t, 0, NULL) == 0, "a.example kept its queue");
	cr_assert(inbox_is(&p, &p.bob, "one\ntwo\nthree\n"),
	    "bob: %s", td_messages(p.t, &p.bob, NULL));
	td_finish(p.t);
}

Test(delivery_daemons, crash_after_remote_applied_applies_once)
{
	pair p;

	pair_new(&p, NULL);
	/* a.example again, now holding each delivered item 60 s before it
	 * removes it: a window that cannot close before the kill. */
	td_stop(p.t, 0);
	td_start(p.t, 0, "FEDRPC_TEST_DELIVERY_HOLD_MS=60000");
	send_to_bob(&p, "once");
	EVENTUALLY(inbox_is(&p, &p.bob, "once\n"), "b.example never got it");
	cr_assert_eq(td_pending(p.t, 0, NULL), 1, "applied, not yet removed");
	td_kill(p.t, 0);
	td_start(p.t, 0, NULL);
	/* Delivered again under the same request id: answered, not applied
	 * again, and removed. */
	EVENTUALLY(td_pending(p.t, 0, NULL) == 0, "not removed after the restart");
	cr_assert(inbox_is(&p, &p.bob, "once\n"), "bob: %s",
	    td_messages(p.t, &p.bob, NULL));
	td_finish(p.t);
}

/* Appends to a.example's outbox, from outside the running daemon (its
 * database is shared), an item b.example refuses for good. */
typedef struct poison {
	fedrpc_ctx *ctx;
	td_user    *from, *to;
} poison;

static fedrpc_code
tx_poison(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	poison *a = arg;
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;

	r.from   = &a->from->q;
	r.to     = &a->to->q;
	r.action = 77; /* no such action: INVALID_ARGUMENT */
	return ref_outbox_put(a->ctx, tx, "b.example",
	    fedrpc_federation_v1_users_send_connection_action_method, &r.base,
	    NULL, NULL, st);
}

static void
inject_poison(pair *p)
{
	fedrpc_store *store;
	fedrpc_status st = {0};
	poison        a  = {fedrpc_ctx_new(), &p->alice, &p->bob};

	cr_assert_eq(fedrpc_store_sqlite_open(p->t->f[0].db, &store, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_store_run(store, fedrpc_ctx_allocator(a.ctx),
	                 FEDRPC_STORE_READ_WRITE, tx_poison, &a, &st),
	    FEDRPC_OK, "%s", st.message);
	fedrpc_store_close(store);
	fedrpc_ctx_free(a.ctx);
}

/* fedctl as a.example's operator. */
static json_t *
fedctl_json(pair *p, const char *const *args)
{
	return td_fedctl_json(p->t, 0, p->t->dir, 0, args);
}

static json_int_t
queue_field(pair *p, const char *domain, const char *field)
{
	json_t    *j = fedctl_json(p, (const char *const[]){"queue", "list", NULL});
	json_t    *q;
	size_t     i;
	json_int_t v = -1;

	json_array_foreach (json_object_get(j, "queues"), i, q)
		if (strcmp(json_string_value(json_object_get(q, "domain")),
		        domain) == 0)
			v = json_integer_value(json_object_get(q, field));
	json_decref(j);
	return v < 0 ? 0 : v;
}

Test(delivery_daemons, poison_moved_aside_later_items_arrive)
{
	pair        p;
	json_t     *j, *it;
	char        seq[32];
	const char *reason;

	pair_new(&p, NULL);
	td_stop(p.t, 1);
	inject_poison(&p);
	send_to_bob(&p, "after-1");
	send_to_bob(&p, "after-2");
	td_start(p.t, 1, NULL);
	EVENTUALLY(inbox_is(&p, &p.bob, "after-1\nafter-2\n"),
	    "the items behind the poison never arrived");
	EVENTUALLY(queue_field(&p, "b.example", "pending") == 0, "still pending");
	cr_assert_eq(queue_field(&p, "b.example", "aside"), 1);
	/* What the operator sees, and drops. */
	j = fedctl_json(&p, (const char *const[]){"queue", "show", "b.example",
	                        "--aside", NULL});
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
	it     = json_array_get(json_object_get(j, "items"), 0);
	reason = json_string_value(json_object_get(it, "reason"));
	cr_assert(reason != NULL && strstr(reason, "INVALID_ARGUMENT") != NULL,
	    "%s", reason ? reason : "(none)");
	cr_assert_str_eq(json_string_value(json_object_get(it, "state")), "aside");
	snprintf(seq, sizeof(seq), "%lld",
	    (long long) json_integer_value(json_object_get(it, "seq")));
	json_decref(j);
	j = fedctl_json(&p, (const char *const[]){"queue", "drop", "b.example",
	                        seq, "--reason", "poison", NULL});
	cr_assert_eq(json_integer_value(json_object_get(j, "dropped")), 1);
	json_decref(j);
	cr_assert_eq(queue_field(&p, "b.example", "aside"), 0);
	td_finish(p.t);
}

/* The next attempt of a.example's queue for b.example, ms from now, once
 * at least one attempt failed (0 before). */
static int64_t
pause_left(pair *p)
{
	json_t    *j = fedctl_json(p, (const char *const[]){"queue", "list", NULL});
	json_t    *q;
	size_t     i;
	int64_t    left = 0;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_array_foreach (json_object_get(j, "queues"), i, q)
		if (strcmp(json_string_value(json_object_get(q, "domain")),
		        "b.example") == 0 &&
		    json_integer_value(json_object_get(q, "failures")) > 0)
			left = (int64_t) json_integer_value(
			           json_object_get(q, "next_attempt_unix_ms")) -
			    ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	json_decref(j);
	return left;
}

Test(delivery_daemons, backoff_ends_when_the_domain_calls)
{
	pair     p;
	int64_t  left;
	uint64_t start;
	td_user *to[] = {&p.alice};

	/* Pauses that double from up to a second, to up to ten minutes. */
	pair_new(&p, "delivery = { backoff_initial_ms = 1000; "
	             "backoff_max_ms = 600000; };");
	td_stop(p.t, 1);
	send_to_bob(&p, "hello");
	/* A pause is uniform from 0 up to a cap that doubles with each
	 * failure: wait for one of 10 s or more. Once b.example is heard
	 * from, the count starts again: an attempt that still fails (a.example
	 * redialling it) pauses at most a second, then two. */
	{
		uint64_t end = tu_now_ms() + 90000;

		while ((left = pause_left(&p)) < 10000) {
			cr_assert_lt(tu_now_ms(), end, "no long pause (%lld ms)",
			    (long long) left);
			usleep(20000);
		}
	}
	td_start(p.t, 1, NULL);
	start = tu_now_ms();
	/* bob writes: b.example calls a.example, which hears from it. */
	td_send(p.t, &p.bob, "a.example", p.conv, to, 1, "hi from b", "b-1");
	while (!inbox_is(&p, &p.bob, "hello\n")) {
		cr_assert_lt(tu_now_ms() - start, (uint64_t) left / 2,
		    "not delivered within half of the pause left (%lld ms)",
		    (long long) left);
		usleep(20000);
	}
	td_finish(p.t);
}

/* ---- concurrent senders ---- */

typedef struct sender {
	td         *t;
	td_user    *self;
	td_user   **to;
	size_t      n_to;
	const char *conv, *tag;
	int         count;
	fedrpc_code rc;
	char        msg[FEDRPC_STATUS_MESSAGE_MAX];
} sender;

static void *
send_many(void *arg)
{
	sender *s = arg;

	for (int i = 0; i < s->count && s->rc == FEDRPC_OK; i++) {
		char          text[64];
		bool          repeated;
		fedrpc_status st = {0};

		snprintf(text, sizeof(text), "%s-%02d", s->tag, i);
		s->rc = td_try_send(s->t, s->self, "a.example", s->conv, s->to,
		    s->n_to, text, text, &repeated, &st);
		snprintf(s->msg, sizeof(s->msg), "%s", st.message);
	}
	return NULL;
}

/* `all` without the lines of `tag` ("bob-07\n", ...). */
static char *
without(const char *all, const char *tag)
{
	char  *out = calloc(1, strlen(all) + 1);
	size_t k = 0, n = strlen(tag);

	for (const char *l = all; *l != '\0';) {
		const char *e = strchr(l, '\n');
		size_t      len = (size_t) (e - l) + 1;

		if (!(strncmp(l, tag, n) == 0 && l[n] == '-')) {
			memcpy(out + k, l, len);
			k += len;
		}
		l += len;
	}
	return out;
}

Test(delivery_daemons, concurrent_senders_one_order_everywhere)
{
	td      *t = td_new(3, QUICK);
	td_user  alice, amy, olga, bob, carol;
	td_user *members[4], *everyone[5];
	char     conv[37], *owner, *got, *want;
	sender   s[3];
	pthread_t th[3];

	for (int i = 0; i < 3; i++)
		td_start(t, i, NULL);
	alice = td_register(t, 0, "alice");
	amy   = td_register(t, 0, "amy");
	olga  = td_register(t, 0, "olga"); /* only listens */
	bob   = td_register(t, 1, "bob");
	carol = td_register(t, 2, "carol");
	members[0] = &amy;
	members[1] = &olga;
	members[2] = &bob;
	members[3] = &carol;
	for (int i = 0; i < 4; i++)
		td_connect(t, &alice, members[i]);
	td_create(t, &alice, members, 4, "busy", conv);
	everyone[0] = &alice;
	everyone[1] = &amy;
	everyone[2] = &olga;
	everyone[3] = &bob;
	everyone[4] = &carol;
	/* Each sends to all the others; bob's go through the owner. */
	{
		td_user *senders[3] = {&alice, &amy, &bob};
		const char *tags[3] = {"alice", "amy", "bob"};

		for (int i = 0; i < 3; i++) {
			td_user **to = calloc(5, sizeof(*to));
			size_t    n  = 0;

			for (int k = 0; k < 5; k++)
				if (everyone[k] != senders[i])
					to[n++] = everyone[k];
			s[i] = (sender){t, senders[i], to, n, conv, tags[i], 25,
			    FEDRPC_OK, ""};
			cr_assert_eq(pthread_create(&th[i], NULL, send_many, &s[i]),
			    0);
		}
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			cr_assert_eq(s[i].rc, FEDRPC_OK, "%s: %s", tags[i],
			    s[i].msg);
			free(s[i].to);
		}
	}
	/* The owner's order is what its listening member got. */
	owner = td_messages(t, &olga, NULL);
	{
		size_t n = 0;

		for (const char *c = owner; *c; c++)
			n += *c == '\n';
		cr_assert_eq(n, 75, "olga got %zu of 75:\n%s", n, owner);
	}
	EVENTUALLY((got = td_messages(t, &carol, NULL), strcmp(got, owner) == 0 ||
	               (free(got), false)),
	    "carol's order differs");
	free(got);
	want = without(owner, "bob");
	EVENTUALLY((got = td_messages(t, &bob, NULL), strcmp(got, want) == 0 ||
	               (free(got), false)),
	    "bob's order differs");
	free(got);
	free(want);
	/* Each sender's own messages in the order sent. */
	{
		const char *tags[3] = {"alice", "amy", "bob"};

		for (int i = 0; i < 3; i++) {
			int         last = -1;
			size_t      n    = strlen(tags[i]);
			const char *l    = owner;

			for (; *l != '\0'; l = strchr(l, '\n') + 1)
				if (strncmp(l, tags[i], n) == 0 && l[n] == '-') {
					int k = atoi(l + n + 1);

					cr_assert_eq(k, last + 1, "%s out of order",
					    tags[i]);
					last = k;
				}
		}
	}
	free(owner);
	td_finish(t);
}

/* ---- fedctl sent ---- */

/* The state fedctl sent gives the last message for `domain`. */
static char *
sent_state(td *t, const char *home, const char *domain)
{
	json_t     *j = td_fedctl_json(t, 0, home, 0,
	        (const char *const[]){"sent", NULL});
	json_t     *m = json_array_get(json_object_get(j, "messages"), 0), *d;
	size_t      i;
	char       *state = strdup("-");

	json_array_foreach (json_object_get(m, "deliveries"), i, d)
		if (strcmp(json_string_value(json_object_get(d, "domain")),
		        domain) == 0) {
			free(state);
			state = strdup(json_string_value(json_object_get(d, "state")));
		}
	json_decref(j);
	return state;
}

Test(delivery_daemons, fedctl_sent_follows_a_message)
{
	td      *t = td_new(2, QUICK);
	td_user  alice, bob, *to[1];
	char     conv[37], home[600], *state;
	json_t  *j;

	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	/* alice registers with fedctl, as a person would. */
	snprintf(home, sizeof(home), "%s/home-alice", t->dir);
	j = td_fedctl_json(t, 0, home, 0,
	    (const char *const[]){"user", "register", "alice", "Alice", NULL});
	memset(&alice, 0, sizeof(alice));
	snprintf(alice.id, sizeof(alice.id), "%s",
	    json_string_value(json_object_get(json_object_get(j, "user"), "id")));
	snprintf(alice.domain, sizeof(alice.domain), "a.example");
	json_decref(j);
	j = td_fedctl_json(t, 0, home, 0,
	    (const char *const[]){"client", "add", NULL});
	alice.client = strtoull(json_string_value(json_object_get(
	                            json_object_get(j, "client"), "id")),
	    NULL, 16);
	json_decref(j);
	bob   = td_register(t, 1, "bob");
	to[0] = &bob;
	td_connect(t, &alice, &bob);
	td_create(t, &alice, to, 1, "pair", conv);
	td_stop(t, 1);
	td_send(t, &alice, "a.example", conv, to, 1, "while away", "w-1");
	cr_assert_str_eq(state = sent_state(t, home, "b.example"), "queued");
	free(state);
	td_start(t, 1, NULL);
	EVENTUALLY((state = sent_state(t, home, "b.example"),
	               strcmp(state, "delivered") == 0 || (free(state), false)),
	    "never delivered");
	free(state);
	td_finish(t);
}
