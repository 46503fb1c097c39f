/*
 * The connection back-off schedule (client/backoff.c): gRPC's 1 s start,
 * x1.6 growth, +-20% jitter, 120 s cap, and the reset after a success.
 */
#include <criterion/criterion.h>

#include "client/backoff.h"

/* Without jitter the schedule is exact. */
Test(backoff, grows_by_the_multiplier_up_to_the_cap)
{
	fedrpc_backoff_opts o = {.jitter = -1};
	backoff             b;
	double              want = 1000;

	backoff_init(&b, &o, 1);
	for (int i = 0; i < 30; i++) {
		uint32_t d = backoff_next(&b);

		cr_assert_eq(d, (uint32_t) (want + 0.5), "step %d: %u vs %.1f", i,
		    d, want);
		want *= 1.6;
		if (want > 120000)
			want = 120000;
	}
	cr_assert_eq(backoff_next(&b), 120000);
	cr_assert_eq(b.failures, 31);
}

Test(backoff, defaults_are_grpcs)
{
	backoff b;

	backoff_init(&b, NULL, 7);
	cr_assert_eq(b.opts.initial_ms, 1000);
	cr_assert_float_eq(b.opts.multiplier, 1.6, 1e-9);
	cr_assert_float_eq(b.opts.jitter, 0.2, 1e-9);
	cr_assert_eq(b.opts.max_ms, 120000);
	cr_assert_eq(backoff_peek(&b), 1000);
}

/* Every delay stays within +-20% of its base, and the jitter really
 * spreads: both halves of the band are used. */
Test(backoff, jitter_stays_within_its_bounds)
{
	backoff b;
	int     low = 0, high = 0;

	for (uint32_t seed = 1; seed <= 200; seed++) {
		double base = 1000;

		backoff_init(&b, NULL, seed);
		for (int i = 0; i < 15; i++) {
			uint32_t d = backoff_next(&b);

			cr_assert(d >= (uint32_t) (base * 0.8) &&
			        d <= (uint32_t) (base * 1.2 + 1),
			    "seed %u step %d: %u outside %.0f +-20%%", seed, i,
			    d, base);
			if (i == 0 && d < 1000)
				low++;
			else if (i == 0)
				high++;
			base *= 1.6;
			if (base > 120000)
				base = 120000;
		}
	}
	cr_assert_gt(low, 40);
	cr_assert_gt(high, 40);
}

/* The cap applies before the jitter: at most 144 s. */
Test(backoff, capped_delays_keep_their_jitter)
{
	backoff  b;
	uint32_t lo = UINT32_MAX, hi = 0;

	backoff_init(&b, NULL, 99);
	for (int i = 0; i < 200; i++) {
		uint32_t d = backoff_next(&b);

		if (i > 20) {
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
	}
	cr_assert_geq(lo, 96000);
	cr_assert_leq(hi, 144000);
	cr_assert_lt(lo, 110000, "no downward jitter at the cap");
	cr_assert_gt(hi, 130000, "no upward jitter at the cap");
}

Test(backoff, reset_starts_over)
{
	fedrpc_backoff_opts o = {.jitter = -1};
	backoff             b;

	backoff_init(&b, &o, 3);
	for (int i = 0; i < 5; i++)
		backoff_next(&b);
	cr_assert_gt(backoff_peek(&b), 1000);
	backoff_reset(&b);
	cr_assert_eq(b.failures, 0);
	cr_assert_eq(backoff_next(&b), 1000);
	cr_assert_eq(backoff_next(&b), 1600);
}

Test(backoff, options_are_honoured_and_sanitised)
{
	fedrpc_backoff_opts o = {
	    .initial_ms = 50, .multiplier = 2, .jitter = -1, .max_ms = 300};
	backoff b;

	backoff_init(&b, &o, 5);
	cr_assert_eq(backoff_next(&b), 50);
	cr_assert_eq(backoff_next(&b), 100);
	cr_assert_eq(backoff_next(&b), 200);
	cr_assert_eq(backoff_next(&b), 300);
	cr_assert_eq(backoff_next(&b), 300);

	/* A multiplier below 1 would shrink the delays; a cap below the
	 * first delay would be meaningless. */
	o = (fedrpc_backoff_opts){
	    .initial_ms = 500, .multiplier = 0.5, .jitter = -1, .max_ms = 100};
	backoff_init(&b, &o, 5);
	cr_assert_eq(backoff_next(&b), 500);
	cr_assert_eq(backoff_next(&b), 500);
}

/* The same seed gives the same jitter (repeatable tests elsewhere). */
Test(backoff, seeded_sequences_repeat)
{
	backoff a, b;

	backoff_init(&a, NULL, 42);
	backoff_init(&b, NULL, 42);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(backoff_next(&a), backoff_next(&b));
}
