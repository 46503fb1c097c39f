/*
 * The main of a criterion suite that runs against a real PostgreSQL
 * server: it starts one (support/postgres.h) before the tests, hands its
 * connection string to them in FEDRPC_TEST_PG_CONNINFO, and removes it
 * after. Without PostgreSQL installed it says why and exits 77, which
 * ctest reports as skipped.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "postgres.h"

int
main(int argc, char **argv)
{
	struct criterion_test_set *tests = criterion_initialize();
	tpg_server                *server;
	const char                *why;
	int                        result = 0;

	if (!criterion_handle_args(argc, argv, true)) {
		criterion_finalize(tests);
		return 0;
	}
	if (!tpg_available(&why)) {
		fprintf(stderr, "SKIPPED: %s\n", why);
		criterion_finalize(tests);
		return 77;
	}
	if ((server = tpg_start()) == NULL) {
		fprintf(stderr, "cannot start a PostgreSQL server\n");
		criterion_finalize(tests);
		return 1;
	}
	setenv("FEDRPC_TEST_PG_CONNINFO", server->conninfo, 1);
	result = criterion_run_all_tests(tests) ? 0 : 1;
	criterion_finalize(tests);
	tpg_destroy(server);
	return result;
}
