/*
 * Delivery of the outbox, below the handlers that fill it: the back-off
 * rules (full jitter, the cap, which answers are refusals for good), and
 * the workers over two in-process backends, with items appended straight
 * into a.example's outbox: delivered in order once b.example is reachable,
 * a refused item moved aside while the queue goes on, the back-off
 * recorded per destination and ended by hearing from it, expired items
 * moved aside, and items left queued across a close and an open.
 */
#include "adapter_fixture.h"
#include "backends/reference/delivery.h"
#include "backends/reference/service.h"
#include "core/base/clock.h"

#define EV(x) FEDRPC__LOCAL__V1__EVENT__PAYLOAD_##x

/* ---- the rules ---- */

Test(delivery_rules, full_jitter_doubles_up_to_the_cap)
{
	/* The pause is uniform in [0, cap]: random mod (cap + 1). */
	cr_assert_eq(ref_backoff_ms(10, 300000, 1, 10), 10);
	cr_assert_eq(ref_backoff_ms(10, 300000, 1, 11), 0);
	cr_assert_eq(ref_backoff_ms(10, 300000, 2, 20), 20);
	cr_assert_eq(ref_backoff_ms(10, 300000, 5, 160), 160);
	cr_assert_eq(ref_backoff_ms(10, 300000, 5, 161), 0);
	/* Capped, also after very many failures. */
	cr_assert_eq(ref_backoff_ms(10, 300000, 40, 300000), 300000);
	cr_assert_eq(ref_backoff_ms(10, 300000, UINT32_MAX, 300001), 0);
	cr_assert_eq(ref_backoff_ms(10, 300000, 0, 10), 10,
	    "no failure counted reads as the first");
	for (uint64_t r = 0; r < 100000; r += 7)
		cr_assert_leq(ref_backoff_ms(10, 1000, 30, r * 7919), 1000);
}

Test(delivery_rules, defaults)
{
	fedrpc_adapter_delivery o = {0};

	ref_delivery_defaults(&o);
	cr_assert_eq(o.backoff_initial_ms, 10);
	cr_assert_eq(o.backoff_max_ms, 300000);
	cr_assert_eq(o.expiry_s, 30u * 24 * 3600);
	cr_assert_eq(o.wait_ms, 3000);
	cr_assert_eq(o.workers, 4);
	o = (fedrpc_adapter_delivery){.backoff_initial_ms = 500,
	    .backoff_max_ms                              = 100};
	ref_delivery_defaults(&o);
	cr_assert_eq(o.backoff_max_ms, 500, "the cap is never below the start");
}

Test(delivery_rules, refusals_for_good)
{
	const fedrpc_code good[] = {FEDRPC_INVALID_ARGUMENT,
	    FEDRPC_PERMISSION_DENIED, FEDRPC_NOT_FOUND, FEDRPC_ALREADY_EXISTS,
	    FEDRPC_FAILED_PRECONDITION, FEDRPC_OUT_OF_RANGE,
	    FEDRPC_UNIMPLEMENTED};
	const fedrpc_code again[] = {FEDRPC_UNAVAILABLE,
	    FEDRPC_DEADLINE_EXCEEDED, FEDRPC_RESOURCE_EXHAUSTED, FEDRPC_ABORTED,
	    FEDRPC_INTERNAL, FEDRPC_UNAUTHENTICATED, FEDRPC_CANCELLED,
	    FEDRPC_UNKNOWN, FEDRPC_DATA_LOSS};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(ref_code_permanent(good[i]), "%s",
		    fedrpc_code_name(good[i]));
	for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++)
		cr_assert_not(ref_code_permanent(again[i]), "%s",
		    fedrpc_code_name(again[i]));
}

/* ---- the workers ---- */

#define WAIT_MS 10000

/* Memory for what the store returns: valid until the next on_store(). */
static fedrpc_ctx *mem;

static void
mem_free(void)
{
	fedrpc_ctx_free(mem);
	mem = NULL;
}

TestSuite(delivery, .fini = mem_free);

/* Runs fn on domain i's store; its results stay in `mem`. */
static void
on_store(fx *f, int i, fedrpc_store_mode mode, fedrpc_store_fn fn, void *arg)
{
	ref_svc      *s  = f->d[i].ref;
	fedrpc_status st = {0};

	if (mem == NULL)
		cr_assert_not_null(mem = fedrpc_ctx_new());
	fedrpc_ctx_reset(mem);
	cr_assert_eq(fedrpc_store_run(s->store, fedrpc_ctx_allocator(mem), mode,
	                 fn, arg, &st),
	    FEDRPC_OK, "%s", st.message);
}

/* A connection request from a (made-up) user of a.example to `to`, as
 * the item a Connect of a remote user owes. */
typedef struct conn_item {
	fedrpc_ctx *ctx;
	fx_qid      from, to;
	int         action;
	uint64_t    seq;
} conn_item;

static fedrpc_code
tx_append_connect(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	conn_item *a = arg;
	Fedrpc__Federation__V1__SendConnectionActionRequest r =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	ref_outs outs = {0};

	r.from   = &a->from;
	r.to     = &a->to;
	r.action = a->action;
	if (ref_outbox_put(a->ctx, tx, a->to.domain,
	        fedrpc_federation_v1_users_send_connection_action_method, &r.base,
	        NULL, &outs, st) != FEDRPC_OK)
		return st->code;
	a->seq = outs.v[0].seq;
	return FEDRPC_OK;
}

static char from_ids[64][37];

/* Appends a connect from made-up user k of a.example to `to`. */
static uint64_t
append_connect(fx *f, unsigned k, const fx_user *to, int action)
{
	conn_item a = {.action = action};

	a.ctx = fedrpc_ctx_new();
	snprintf(from_ids[k], sizeof(from_ids[k]),
	    "00000000-0000-4000-8000-%012x", k + 1);
	a.from = fx_qid_of("a.example", from_ids[k]);
	a.to   = to->q;
	on_store(f, 0, FEDRPC_STORE_READ_WRITE, tx_append_connect, &a);
	fedrpc_ctx_free(a.ctx);
	return a.seq;
}

#define CONNECT FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT

typedef struct queue_tx {
	const char              *dest;
	fedrpc_store_queue       q;
	bool                     found;
	fedrpc_store_outbox_item *aside;
	size_t                    n_aside;
} queue_tx;

static fedrpc_code
tx_queue(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	queue_tx *a = arg;

	if (tx->ops->outbox_queue(tx, a->dest, &a->q, &a->found, st) !=
	    FEDRPC_OK)
		return st->code;
	return tx->ops->outbox_list_aside(
	    tx, a->dest, &a->aside, &a->n_aside, st);
}

/* a.example's queue for dest (pending 0 when there is none). */
static fedrpc_store_queue
queue_of(fx *f, const char *dest, size_t *n_aside)
{
	queue_tx a = {.dest = dest};

	on_store(f, 0, FEDRPC_STORE_READ_ONLY, tx_queue, &a);
	if (n_aside != NULL)
		*n_aside = a.n_aside;
	if (!a.found)
		memset(&a.q, 0, sizeof(a.q));
	return a.q;
}

/* Waits until a.example's queue for dest has no pending item. */
static void
wait_drained(fx *f, const char *dest)
{
	uint64_t end = fedrpc_clock_ms() + WAIT_MS;

	while (queue_of(f, dest, NULL).pending > 0) {
		cr_assert_lt(fedrpc_clock_ms(), end, "%s not drained", dest);
		usleep(10000);
	}
}

/* The users who asked `u` to connect, in the order u's inbox heard. */
static size_t
requesters(fx *f, fx_user *u, uint64_t client, char out[][37], size_t max)
{
	Fedrpc__Local__V1__FetchInboxResponse *r = fx_inbox(f, u, client, 0, 1000);
	size_t                                 n = 0;

	for (size_t i = 0; i < r->n_events && n < max; i++)
		if (r->events[i]->payload_case == EV(CONNECTION_UPDATED))
			snprintf(out[n++], 37, "%s",
			    r->events[i]->connection_updated->connection->to->id);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

Test(delivery, queued_while_down_then_delivered_in_order, .timeout = 60)
{
	fx      *f = fx_new(2);
	fx_user  bob = fx_register(f, 1, "bob");
	uint64_t bob1 = fx_add_client(f, &bob, 1, 1);
	char     got[64][37];
	size_t   n;

	atomic_store(&f->d[1].down, true);
	for (unsigned k = 0; k < 20; k++)
		append_connect(f, k, &bob, CONNECT);
	ref_delivery_kick(((ref_svc *) f->d[0].ref)->delivery, "b.example");
	/* Attempts fail and are counted; nothing is lost. */
	{
		uint64_t           end = fedrpc_clock_ms() + WAIT_MS;
		fedrpc_store_queue q;

		while ((q = queue_of(f, "b.example", NULL)).failures < 2) {
			cr_assert_lt(fedrpc_clock_ms(), end);
			usleep(10000);
		}
		cr_assert_eq(q.pending, 20);
		cr_assert(strstr(q.last_error, "UNAVAILABLE") != NULL, "%s",
		    q.last_error);
		cr_assert_gt(q.next_attempt_ms, 0);
		cr_assert_str_eq(q.lease_owner,
		    ((ref_svc *) f->d[0].ref)->dopts.instance);
	}
	atomic_store(&f->d[1].down, false);
	wait_drained(f, "b.example");
	n = requesters(f, &bob, bob1, got, 64);
	cr_assert_eq(n, 20, "each request arrived once");
	for (unsigned k = 0; k < 20; k++)
		cr_assert_str_eq(got[k], from_ids[k], "in the order written");
	cr_assert_eq(queue_of(f, "b.example", NULL).failures, 0,
	    "a delivery ends the back-off");
	fx_free(f);
}

Test(delivery, refused_item_moved_aside_queue_goes_on, .timeout = 60)
{
	fx      *f = fx_new(2);
	fx_user  bob = fx_register(f, 1, "bob");
	uint64_t bob1 = fx_add_client(f, &bob, 1, 1);
	fx_user  nobody = bob;
	char     got[8][37];
	size_t   n_aside;
	uint64_t bad;

	atomic_store(&f->d[1].down, true);
	append_connect(f, 0, &bob, CONNECT);
	/* An action b.example refuses for good (INVALID_ARGUMENT). */
	bad = append_connect(f, 1, &bob, 77);
	append_connect(f, 2, &bob, CONNECT);
	/* And one for a user b.example does not have: answered, not
	 * refused. */
	nobody.q = fx_qid_of("b.example", "00000000-0000-4000-8000-00000000dead");
	append_connect(f, 3, &nobody, CONNECT);
	atomic_store(&f->d[1].down, false);
	ref_delivery_kick(((ref_svc *) f->d[0].ref)->delivery, "b.example");
	wait_drained(f, "b.example");
	cr_assert_eq(requesters(f, &bob, bob1, got, 8), 2);
	cr_assert_str_eq(got[0], from_ids[0]);
	cr_assert_str_eq(got[1], from_ids[2], "the queue went on past it");
	{
		queue_tx a = {.dest = "b.example"};

		on_store(f, 0, FEDRPC_STORE_READ_ONLY, tx_queue, &a);
		n_aside = a.n_aside;
		cr_assert_eq(n_aside, 1);
		cr_assert_eq(a.aside[0].seq, bad);
		cr_assert(strstr(a.aside[0].reason, "INVALID_ARGUMENT") != NULL,
		    "%s", a.aside[0].reason);
	}
	fx_free(f);
}

Test(delivery, hearing_from_a_destination_ends_its_pause, .timeout = 60)
{
	fedrpc_adapter_delivery slow = {
	    .backoff_initial_ms = 60000, .backoff_max_ms = 60000};
	fx                *f;
	fx_user            bob;
	uint64_t           bob1, end;
	char               got[4][37];
	fedrpc_store_queue q;

	f    = fx_new_with(2, &slow);
	bob  = fx_register(f, 1, "bob");
	bob1 = fx_add_client(f, &bob, 1, 1);
	atomic_store(&f->d[1].down, true);
	append_connect(f, 0, &bob, CONNECT);
	ref_delivery_kick(((ref_svc *) f->d[0].ref)->delivery, "b.example");
	end = fedrpc_clock_ms() + WAIT_MS;
	while ((q = queue_of(f, "b.example", NULL)).failures < 1 ||
	       q.next_attempt_ms - adp_now_ms() < 1000) {
		/* The first pause may be short (full jitter): fail again. */
		cr_assert_lt(fedrpc_clock_ms(), end);
		ref_delivery_kick(((ref_svc *) f->d[0].ref)->delivery,
		    "b.example");
		usleep(10000);
	}
	atomic_store(&f->d[1].down, false);
	/* b.example calls a.example: a hears from it and tries again now,
	 * well before the pause would end. */
	{
		Fedrpc__Federation__V1__GetUsersByIdsRequest r =
		    FEDRPC__FEDERATION__V1__GET_USERS_BY_IDS_REQUEST__INIT;
		Fedrpc__Federation__V1__GetUsersByIdsResponse *resp;
		fedrpc_status                                  st = {0};
		fedrpc_channel *ch = fx_chan(f, 1, 0, &st);

		cr_assert_not_null(ch, "%s", st.message);
		cr_assert_eq(fedrpc_federation_v1_users_get_users_by_ids(
		                 ch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	end = fedrpc_clock_ms() + (q.next_attempt_ms - adp_now_ms()) / 2;
	while (requesters(f, &bob, bob1, got, 4) == 0) {
		cr_assert_lt(fedrpc_clock_ms(), end,
		    "not delivered within half of the pause left");
		usleep(10000);
	}
	fx_free(f);
}

Test(delivery, expired_items_moved_aside, .timeout = 60)
{
	fedrpc_adapter_delivery brief = {.expiry_s = 1, .backoff_max_ms = 100};
	fx                     *f      = fx_new_with(2, &brief);
	fx_user                 bob    = fx_register(f, 1, "bob");
	size_t                  n_aside = 0;
	uint64_t                end;

	atomic_store(&f->d[1].down, true);
	append_connect(f, 0, &bob, CONNECT);
	ref_delivery_kick(((ref_svc *) f->d[0].ref)->delivery, "b.example");
	end = fedrpc_clock_ms() + WAIT_MS;
	while (queue_of(f, "b.example", &n_aside).pending > 0 || n_aside == 0) {
		cr_assert_lt(fedrpc_clock_ms(), end, "never moved aside");
		usleep(20000);
	}
	{
		queue_tx a = {.dest = "b.example"};

		on_store(f, 0, FEDRPC_STORE_READ_ONLY, tx_queue, &a);
		cr_assert(strstr(a.aside[0].reason, "expired") != NULL, "%s",
		    a.aside[0].reason);
		cr_assert(strstr(a.aside[0].reason, "UNAVAILABLE") != NULL,
		    "the last error is told: %s", a.aside[0].reason);
	}
	atomic_store(&f->d[1].down, false);
	fx_free(f);
}

Test(delivery, queue_survives_close_and_open, .timeout = 60)
{
	fx      *f    = fx_new(2);
	fx_user  bob  = fx_register(f, 1, "bob");
	uint64_t bob1 = fx_add_client(f, &bob, 1, 1);
	char     got[8][37];

	atomic_store(&f->d[1].down, true);
	for (unsigned k = 0; k < 3; k++)
		append_connect(f, k, &bob, CONNECT);
	fx_stop_domain(f, 0);
	atomic_store(&f->d[1].down, false);
	/* Opened again, it finds its queue without being told. */
	fx_start_domain(f, 0);
	wait_drained(f, "b.example");
	cr_assert_eq(requesters(f, &bob, bob1, got, 8), 3);
	for (unsigned k = 0; k < 3; k++)
		cr_assert_str_eq(got[k], from_ids[k]);
	fx_free(f);
}
