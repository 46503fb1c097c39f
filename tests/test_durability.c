/*
 * Acknowledged data survives kill -9: a federator daemon with the SQLite
 * adapter (tests/support/daemons.h, without federation: the local API and
 * storage are what is tested) is killed right after answering, restarted
 * on the same files, and everything it acknowledged is still there.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <fedrpc/log.h>

#include "daemons.h"

#define N_USERS 20

static void
quiet(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
}

TestSuite(durability, .init = quiet, .timeout = 120);

/* Each user's fedctl home, in the daemons' folder. */
static const char *
home(td *t, const char *handle, char buf[512])
{
	snprintf(buf, 512, "%s/home-%s", t->dir, handle);
	return buf;
}

Test(durability, acknowledged_writes_survive_kill_9)
{
	td     *t = td_new(1, NULL);
	char    handle[16], name[16], h[512], h0[512];
	char    qid[N_USERS][128], client[N_USERS][32];
	json_t *j;

	t->f[0].standalone = true;
	td_start(t, 0, NULL);

	/* Every write below is acknowledged before the next starts. */
	for (int i = 0; i < N_USERS; i++) {
		snprintf(handle, sizeof(handle), "user%02d", i);
		snprintf(name, sizeof(name), "User %d", i);
		j = FR_JSON(t->dir, 0, home(t, handle, h), "user", "register",
		    handle, name, "--socket", t->f[0].sock);
		snprintf(qid[i], sizeof(qid[i]), "%s",
		    fr_str(j, "user.qualified_id"));
		json_decref(j);
		j = FR_JSON(t->dir, 0, h, "client", "add", "--prekeys", "4");
		snprintf(client[i], sizeof(client[i]), "%s",
		    fr_str(j, "client.id"));
		json_decref(j);
	}

	/* No warning, no shutdown: the process is gone at once. */
	td_kill(t, 0);
	td_start(t, 0, NULL);

	home(t, "user00", h0);
	for (int i = 0; i < N_USERS; i++) {
		snprintf(handle, sizeof(handle), "user%02d", i);
		j = FR_JSON(t->dir, 0, h0, "find", handle);
		cr_assert_str_eq(fr_str(j, "user.qualified_id"), qid[i],
		    "user %s lost or changed after kill -9", handle);
		json_decref(j);
		j = FR_JSON(t->dir, 0, home(t, handle, h), "client", "list");
		cr_assert(fr_lists(j, "clients", "id", client[i]),
		    "client %s of %s lost after kill -9: %s", client[i],
		    handle, json_dumps(j, 0));
		json_decref(j);
	}
	td_finish(t);
}
