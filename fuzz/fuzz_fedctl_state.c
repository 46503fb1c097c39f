/*
 * Fuzz target: fedctl's key store (tools/fedctl/fedctl_state.c), the JSON
 * file per user that holds ids and every client's private prekeys, which
 * fedctl reads at the start of each user command. Whatever loads must save
 * and load again to the same state: a file fedctl accepts once must never
 * become one it refuses, or the user loses their keys.
 */
#include <stdlib.h>
#include <string.h>

#include "fedctl_state.h"
#include "fuzz_util.h"

static char path[256];

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
same_state(const fedctl_state *a, const fedctl_state *b)
{
	FZ_CHECK(same_str(a->user_id, b->user_id));
	FZ_CHECK(same_str(a->domain, b->domain));
	FZ_CHECK(same_str(a->qualified, b->qualified));
	FZ_CHECK(same_str(a->handle, b->handle));
	FZ_CHECK(same_str(a->name, b->name));
	FZ_CHECK(same_str(a->local_api, b->local_api));
	FZ_CHECK(a->current == b->current);
	FZ_CHECK(a->n_clients == b->n_clients);
	for (size_t i = 0; i < a->n_clients; i++) {
		const fedctl_client *x = &a->clients[i], *y = &b->clients[i];

		FZ_CHECK(x->id == y->id && x->last_event == y->last_event);
		FZ_CHECK(same_str(x->class_name, y->class_name));
		FZ_CHECK(x->n_prekeys == y->n_prekeys);
		for (size_t k = 0; k < x->n_prekeys; k++)
			FZ_CHECK(x->prekeys[k].id == y->prekeys[k].id &&
			    x->prekeys[k].used_by == y->prekeys[k].used_by &&
			    memcmp(&x->prekeys[k].kp, &y->prekeys[k].kp,
			        sizeof(x->prekeys[k].kp)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fedctl_state *s, *again;
	fedrpc_status st = {0};

	fz_write_file(path, data, size, 0600);
	if (fedctl_state_load(path, true, &s, &st) != FEDRPC_OK) {
		FZ_CHECK(s == NULL && st.message[0] != '\0');
		return 0;
	}
	/* What the commands look up in a loaded state. */
	(void) fedctl_state_client(s, 0);
	for (size_t i = 0; i < s->n_clients; i++) {
		(void) fedctl_state_client(s, s->clients[i].id);
		(void) fedctl_client_prekey(&s->clients[i], 0);
		(void) fedctl_client_prekey(&s->clients[i], 65535);
	}
	if (fedctl_state_save(s, &st) != FEDRPC_OK) {
		fprintf(stderr, "a loaded state does not save: %s\n", st.message);
		abort();
	}
	if (fedctl_state_load(path, false, &again, &st) != FEDRPC_OK) {
		fprintf(stderr, "a saved state does not load: %s\n", st.message);
		abort();
	}
	same_state(s, again);
	fedctl_state_free(again);
	fedctl_state_free(s);
	return 0;
}

/* A state as `fedctl user register` and `fedctl client add` leave it. */
static void
write_seeds(void)
{
	fedctl_state *s;
	fedrpc_status st = {0};
	fedctl_prekey pk[3];
	char          home[256], file[512];
	FILE         *f;
	uint8_t       buf[65536];
	size_t        n;

	fz_path(home, sizeof(home), "seed-home");
	FZ_CHECK(fedctl_state_create(home, "6b1c2d3e-4f50-4a1b-8c2d-3e4f5a6b7c8d",
	             "a.example", "alice", "Alice Liddell",
	             "ipc:///run/fedrpc/a.example.sock", &s, &st) == FEDRPC_OK);
	for (int i = 0; i < 3; i++) {
		memset(&pk[i], 0, sizeof(pk[i]));
		pk[i].id = i == 2 ? 65535 : (uint16_t) i;
		memset(pk[i].kp.priv, 0x10 + i, sizeof(pk[i].kp.priv));
		memset(pk[i].kp.pub, 0x20 + i, sizeof(pk[i].kp.pub));
	}
	pk[1].used_by = 7;
	FZ_CHECK(fedctl_state_add_client(s, 0x7f3a1c2e9bull, "desktop", pk, 3,
	             &st) == FEDRPC_OK);
	FZ_CHECK(fedctl_state_add_client(s, 0x1234ull, "phone", pk, 1, &st) ==
	    FEDRPC_OK);
	FZ_CHECK(fedctl_state_save(s, &st) == FEDRPC_OK);
	snprintf(file, sizeof(file), "%s", s->path);
	fedctl_state_free(s);
	FZ_CHECK((f = fopen(file, "rb")) != NULL);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fz_seed("alice", buf, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_quiet_logs();
	fz_path(path, sizeof(path), "alice@a.example.json");
	if (fz_seeds_dir() != NULL) {
		write_seeds();
		exit(0);
	}
	return 0;
}
