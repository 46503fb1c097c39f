/*
 * Running transaction functions (fedrpc_store_run): a conflict from begin,
 * the function or commit rolls back and runs the whole function again, a
 * bounded number of times; any other result is final. A scripted store
 * (a table of three functions) says what each step returns. Last, the
 * reference backend over a store whose every first commit is a conflict
 * answers as if nothing had been retried.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "adapter_fixture.h"
#include "conflict_store.h"
#include "store_fixture.h"

/* What the scripted store and function return, attempt by attempt. */
typedef struct script {
	int         attempts;     /* begins so far */
	int         begin_fails;  /* the first n begins are conflicts */
	int         fn_fails;     /* the first n runs of fn are conflicts */
	int         commit_fails; /* the first n commits are conflicts */
	fedrpc_code fn_result;    /* what fn returns after that */
	int         fn_runs, commits, rollbacks;
	fedrpc_store_mode mode;
} script;

static fedrpc_store_ops scripted_ops;

static fedrpc_code
scripted_begin(fedrpc_store *store, fedrpc_store_mode mode,
    fedrpc_store_tx *tx, fedrpc_status *st)
{
	script *s = store->impl;

	s->mode = mode;
	if (s->attempts++ < s->begin_fails)
		return fedrpc_status_set(st, FEDRPC_STORE_CONFLICT, "begin lost");
	tx->ops  = &scripted_ops;
	tx->impl = s;
	return FEDRPC_OK;
}

static fedrpc_code
scripted_commit(fedrpc_store_tx *tx, fedrpc_status *st)
{
	script *s = tx->impl;

	if (s->commits++ < s->commit_fails)
		return fedrpc_status_set(
		    st, FEDRPC_STORE_CONFLICT, "commit lost");
	return FEDRPC_OK;
}

static void
scripted_rollback(fedrpc_store_tx *tx)
{
	script *s = tx->impl;

	s->rollbacks++;
}

static fedrpc_store_ops scripted_ops = {
	.name     = "scripted",
	.begin    = scripted_begin,
	.commit   = scripted_commit,
	.rollback = scripted_rollback,
};

static fedrpc_code
scripted_fn(fedrpc_store_tx *tx, void *arg, fedrpc_status *st)
{
	script *s = arg;

	cr_assert_eq(tx->impl, s, "the function gets the begun transaction");
	if (s->fn_runs++ < s->fn_fails)
		return fedrpc_status_set(st, FEDRPC_STORE_CONFLICT, "read lost");
	if (s->fn_result != FEDRPC_OK)
		return fedrpc_status_set(st, s->fn_result, "refused");
	return FEDRPC_OK;
}

static fedrpc_code
run(script *s, fedrpc_store_mode mode, fedrpc_status *st)
{
	fedrpc_store store = {&scripted_ops, s};
	sf_arena     arena;
	fedrpc_code  rc;

	sf_arena_init(&arena);
	rc = fedrpc_store_run(&store, &arena.al, mode, scripted_fn, s, st);
	sf_arena_free(&arena);
	return rc;
}

Test(store_run, once_without_conflict)
{
	script        s  = {0};
	fedrpc_status st = {0};

	cr_assert_eq(run(&s, FEDRPC_STORE_READ_ONLY, &st), FEDRPC_OK);
	cr_assert_eq(s.mode, FEDRPC_STORE_READ_ONLY);
	cr_assert_eq(s.fn_runs, 1);
	cr_assert_eq(s.commits, 1);
	cr_assert_eq(s.rollbacks, 0);
}

Test(store_run, conflicts_run_the_function_again)
{
	script        in_fn = {.fn_fails = 2}, at_commit = {.commit_fails = 1};
	script        at_begin = {.begin_fails = 3};
	fedrpc_status st       = {0};

	cr_assert_eq(run(&in_fn, FEDRPC_STORE_READ_WRITE, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(in_fn.mode, FEDRPC_STORE_READ_WRITE);
	cr_assert_eq(in_fn.fn_runs, 3);
	cr_assert_eq(in_fn.rollbacks, 2, "each lost run is rolled back");
	cr_assert_eq(in_fn.commits, 1);

	cr_assert_eq(run(&at_commit, FEDRPC_STORE_READ_WRITE, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(at_commit.fn_runs, 2, "a lost commit reruns everything");
	cr_assert_eq(at_commit.commits, 2);
	cr_assert_eq(at_commit.rollbacks, 0, "a commit ends its transaction");

	cr_assert_eq(run(&at_begin, FEDRPC_STORE_READ_WRITE, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(at_begin.attempts, 4);
	cr_assert_eq(at_begin.fn_runs, 1);
}

Test(store_run, bounded)
{
	script        s  = {.fn_fails = 1000};
	fedrpc_status st = {0};

	cr_assert_eq(run(&s, FEDRPC_STORE_READ_WRITE, &st), FEDRPC_UNAVAILABLE);
	cr_assert_eq(s.fn_runs, FEDRPC_STORE_ATTEMPTS);
	cr_assert_eq(s.rollbacks, FEDRPC_STORE_ATTEMPTS);
	cr_assert(strstr(st.message, "scripted store"), "%s", st.message);
	cr_assert(strstr(st.message, "read lost"), "%s", st.message);
}

Test(store_run, other_results_are_final)
{
	fedrpc_code   final[] = {FEDRPC_STORE_DUPLICATE, FEDRPC_NOT_FOUND,
	      FEDRPC_UNAVAILABLE, FEDRPC_INTERNAL};
	fedrpc_status st = {0};

	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		script s = {.fn_result = final[i]};

		cr_assert_eq(run(&s, FEDRPC_STORE_READ_WRITE, &st), final[i]);
		cr_assert_eq(s.fn_runs, 1, "%s is not retried",
		    fedrpc_code_name(final[i]));
		cr_assert_eq(s.rollbacks, 1);
		cr_assert_eq(s.commits, 0);
	}
}

/* The backend over a store that loses every first commit: users,
 * clients, a connection, a conversation and a message come out exactly
 * once. (The adapter tests run this way too, as *_conflicts.) */
Test(store_run, backend_answers_as_if_run_once)
{
	fx      *f;
	fx_user  ann, bob;
	uint64_t ac, bc;
	uint64_t before;

	setenv("FEDRPC_TEST_STORE_CONFLICTS", "1", 1);
	f      = fx_new(2);
	before = conflict_store_injected();
	ann    = fx_register(f, 0, "ann");
	bob    = fx_register(f, 1, "bob");
	ac     = fx_add_client(f, &ann, 0, 3);
	bc     = fx_add_client(f, &bob, 0, 3);
	fx_connect(f, &ann, &bob);
	cr_assert_gt(conflict_store_injected(), before + 4,
	    "the conflict store lost commits");
	cr_assert_eq(fx_count_events(f, &ann, ac,
	                 FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED),
	    2, "sent, then accepted");
	cr_assert_eq(fx_count_events(f, &bob, bc,
	                 FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED),
	    2, "pending, then accepted");
	fx_free(f);
	unsetenv("FEDRPC_TEST_STORE_CONFLICTS");
}
