/*
 * Input a new user gives fedctl, run as the user would run it against
 * real daemons (tests/support/daemons.h): message text with a NUL byte,
 * bytes that are not UTF-8 and bidirectional overrides arrive exactly and
 * are shown safely; upper-case domains are the same domains; the common
 * options may come before the command, and a bad command line is JSON
 * under --json; the text limit is in the help and a text over it gives
 * one clear refusal however it comes; conv remove names members as the
 * conversation shows them; a client low on one-time prekeys is told so
 * and tops them up.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fedrpc/log.h>

#include "daemons.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "testutil.h"

#define FEDCTL FEDRPC_BINARY_DIR "/tools/fedctl/fedctl"

static void
quiet(void)
{
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
}

TestSuite(fedctl_input, .init = quiet, .timeout = 120);

typedef struct run {
	int    code;
	char  *out, *err;
	size_t out_len;
} run;

static void
run_free(run *r)
{
	free(r->out);
	free(r->err);
}

/* Reads a whole file, bytes and length. */
static char *
slurp(const char *path, size_t *len)
{
	FILE  *f = fopen(path, "rb");
	char  *buf;
	long   n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t) n + 1);
	cr_assert_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t) n;
	return buf;
}

/* Runs fedctl with exactly args, as user `home`, with `in` (in_len
 * bytes; NULL: /dev/null) on standard input. */
static run
fedctl(td *t, const char *home, const char *in, size_t in_len,
    const char *const *args)
{
	const char *argv[40] = {FEDCTL};
	char        inf[600], out[600], err[600], *home_env;
	static int  seq;
	int         n = 1, status;
	pid_t       pid;
	run         r;

	for (; args[n - 1] != NULL && n < 39; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(inf, sizeof(inf), "%s/in-%d", t->dir, seq);
	snprintf(out, sizeof(out), "%s/out-%d", t->dir, seq);
	snprintf(err, sizeof(err), "%s/err-%d", t->dir, seq++);
	if (in != NULL) {
		FILE *f = fopen(inf, "wb");

		cr_assert_not_null(f);
		cr_assert_eq(fwrite(in, 1, in_len, f), in_len);
		fclose(f);
	}
	cr_assert(asprintf(&home_env, "FEDCTL_HOME=%s", home) > 0);
	if ((pid = fork()) == 0) {
		int i = open(in != NULL ? inf : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		putenv(home_env);
		unsetenv("FEDRPC_SOCKET");
		execv(FEDCTL, (char *const *) argv);
		_exit(127);
	}
	free(home_env);
	cr_assert_gt(pid, 0);
	status = tu_stop(pid, 0, TD_WAIT_MS);
	cr_assert(WIFEXITED(status), "fedctl %s did not exit", args[0]);
	r.code = WEXITSTATUS(status);
	r.out  = slurp(out, &r.out_len);
	r.err  = slurp(err, NULL);
	return r;
}

/* Runs fedctl ... --socket <daemon i> --json and requires exit `want`;
 * returns the parsed output. */
static json_t *
fedctl_json(td *t, int i, const char *home, int want, const char *in,
    size_t in_len, const char *const *args)
{
	const char  *argv[40];
	size_t       n = 0;
	json_error_t e;
	json_t      *j;
	run          r;

	for (; args[n] != NULL && n < 35; n++)
		argv[n] = args[n];
	argv[n++] = "--socket";
	argv[n++] = t->f[i].sock;
	argv[n++] = "--json";
	argv[n]   = NULL;
	r         = fedctl(t, home, in, in_len, argv);
	cr_assert_eq(r.code, want, "fedctl %s: exit %d, want %d\n%s\n%s",
	    args[0], r.code, want, r.out, r.err);
	j = json_loads(r.out, JSON_ALLOW_NUL, &e);
	cr_assert_not_null(j, "fedctl %s: not JSON (%s): %s", args[0], e.text,
	    r.out);
	run_free(&r);
	return j;
}

static const char *
jstr(json_t *j, const char *path)
{
	json_t *v = json_object_get(j, path);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* alice on a.example and bob on b.example, each registered with fedctl
 * (a client each), connected, in alice's conversation "Wonderland". */
typedef struct world {
	td     *t;
	char    ha[600], hb[600];
	td_user alice, bob;
} world;

static void
fedctl_user(world *w, int i, const char *home, const char *handle,
    td_user *u)
{
	json_t *j = fedctl_json(w->t, i, home, 0, NULL, 0,
	    (const char *const[]){"user", "register", handle, handle, NULL});

	memset(u, 0, sizeof(*u));
	u->dom = i;
	snprintf(u->id, sizeof(u->id), "%s",
	    jstr(json_object_get(j, "user"), "id"));
	snprintf(u->domain, sizeof(u->domain), "%s", w->t->f[i].domain);
	u->q.id     = u->id;
	u->q.domain = u->domain;
	json_decref(j);
	j = fedctl_json(w->t, i, home, 0, NULL, 0,
	    (const char *const[]){"client", "add", NULL});
	json_decref(j);
}

static void
world_new(world *w)
{
	json_t *j;

	w->t = td_new(2, NULL);
	td_start(w->t, 0, NULL);
	td_start(w->t, 1, NULL);
	snprintf(w->ha, sizeof(w->ha), "%s/home-alice", w->t->dir);
	snprintf(w->hb, sizeof(w->hb), "%s/home-bob", w->t->dir);
	fedctl_user(w, 0, w->ha, "alice", &w->alice);
	fedctl_user(w, 1, w->hb, "bob", &w->bob);
	td_connect(w->t, &w->alice, &w->bob);
	/* An upper-case domain is bob's domain. */
	j = fedctl_json(w->t, 0, w->ha, 0, NULL, 0,
	    (const char *const[]){
	        "conv", "create", "Wonderland", "bob@B.EXAMPLE", NULL});
	json_decref(j);
}

/* The texts of the messages in bob's inbox (--json), acknowledged. */
static json_t *
bob_messages(world *w, size_t want)
{
	uint64_t end = tu_now_ms() + TD_WAIT_MS;
	json_t  *all = json_array();

	while (json_array_size(all) < want) {
		json_t *j = fedctl_json(w->t, 1, w->hb, 0, NULL, 0,
		    (const char *const[]){"inbox", "--ack", NULL});
		json_t *ev;
		size_t  i;

		json_array_foreach (json_object_get(j, "events"), i, ev)
			if (strcmp(jstr(ev, "type"), "message") == 0)
				json_array_append(all, ev);
		json_decref(j);
		cr_assert_lt(tu_now_ms(), end, "bob got %zu of %zu messages",
		    json_array_size(all), want);
		if (json_array_size(all) < want)
			usleep(50000);
	}
	return all;
}

static void
send_stdin(world *w, const char *text, size_t len)
{
	json_t *j = fedctl_json(w->t, 0, w->ha, 0, text, len,
	    (const char *const[]){"send", "Wonderland", "-", NULL});

	cr_assert(json_is_true(json_object_get(j, "sent")), "not sent");
	json_decref(j);
}

Test(fedctl_input, text_arrives_byte_for_byte_and_shows_safely)
{
	world       w;
	json_t     *got, *m;
	const char *t;
	run         r;

	world_new(&w);
	/* A NUL byte is part of the text. */
	send_stdin(&w, "before\0after", 12);
	got = bob_messages(&w, 1);
	m   = json_array_get(got, 0);
	cr_assert_eq(json_string_length(json_object_get(m, "text")), 12);
	cr_assert(memcmp(json_string_value(json_object_get(m, "text")),
	              "before\0after", 12) == 0);
	cr_assert_null(json_object_get(m, "text_base64"));
	json_decref(got);

	/* Bytes that are not UTF-8: base64, flagged. */
	send_stdin(&w, "\xff\xfe ok", 5);
	got = bob_messages(&w, 1);
	m   = json_array_get(got, 0);
	cr_assert(json_is_true(json_object_get(m, "text_base64")));
	cr_assert_str_eq(jstr(m, "text"), "//4gb2s=");
	json_decref(got);

	/* The text view escapes a right-to-left override, a NUL and an
	 * escape character; the rest prints as written. */
	send_stdin(&w, "file\xe2\x80\xaetxt.exe\0\x1b[2J \xc3\xa9", 22);
	do {
		const char *const args[] = {"inbox", "--socket", w.t->f[1].sock,
		    NULL};

		r = fedctl(w.t, w.hb, NULL, 0, args);
		cr_assert_eq(r.code, 0, "%s", r.err);
		t = strstr(r.out, "file");
		if (t == NULL) {
			run_free(&r);
			usleep(50000);
		}
	} while (t == NULL);
	cr_assert(strstr(r.out, "file\\u202Etxt.exe\\x00\\x1b[2J \xc3\xa9") !=
	        NULL,
	    "%s", r.out);
	cr_assert_null(strstr(r.out, "\xe2\x80\xae"), "%s", r.out);
	run_free(&r);
	td_finish(w.t);
}

Test(fedctl_input, upper_case_domains_are_the_same_domains)
{
	world   w;
	json_t *j;

	world_new(&w);
	j = fedctl_json(w.t, 0, w.ha, 0, NULL, 0,
	    (const char *const[]){"find", "BOB@B.Example.", NULL});
	cr_assert_str_eq(jstr(json_object_get(j, "user"), "domain"),
	    "b.example");
	cr_assert_str_eq(jstr(json_object_get(j, "user"), "id"), w.bob.id);
	json_decref(j);
	j = fedctl_json(w.t, 0, w.ha, 0, NULL, 0,
	    (const char *const[]){"search", "bob", "--domain", "B.EXAMPLE", NULL});
	cr_assert_eq(json_array_size(json_object_get(j, "users")), 1, "%s",
	    json_dumps(j, 0));
	json_decref(j);
	td_finish(w.t);
}

Test(fedctl_input, common_options_before_the_command_and_json_errors)
{
	td     *t = td_new(1, NULL);
	char    home[600];
	run     r;
	json_t *j;

	td_start(t, 0, NULL);
	snprintf(home, sizeof(home), "%s/home", t->dir);
	r = fedctl(t, home, NULL, 0,
	    (const char *const[]){"--json", "--socket", t->f[0].sock, "user",
	        "register", "alice", "Alice", NULL});
	cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
	run_free(&r);
	r = fedctl(t, home, NULL, 0,
	    (const char *const[]){"--json", "conv", "list", NULL});
	cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(j = json_loads(r.out, 0, NULL), "%s", r.out);
	cr_assert(json_is_array(json_object_get(j, "conversations")), "%s",
	    r.out);
	json_decref(j);
	run_free(&r);

	/* A bad command line under --json: JSON on stdout, exit code 2. */
	const char *const bad[][5] = {
	    {"--json", "conv", "list", "--bogus", NULL},
	    {"conv", "lst", "--json", NULL},
	    {"--json", "nosuchcommand", NULL},
	    {"--json", "--bogus", "conv", "list", NULL},
	    {"--json", "send", NULL},
	    {"--json", "discover", NULL},
	    {"cert", "bogus", "--json", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = fedctl(t, home, NULL, 0, bad[i]);
		cr_assert_eq(r.code, 2, "%s: exit %d", bad[i][1], r.code);
		cr_assert_not_null(j = json_loads(r.out, 0, NULL),
		    "%s %s: not JSON: %s", bad[i][0], bad[i][1], r.out);
		cr_assert_eq(json_integer_value(json_object_get(
		                 json_object_get(j, "error"), "exit_code")),
		    2);
		cr_assert(json_is_true(json_object_get(
		    json_object_get(j, "error"), "usage")));
		cr_assert_neq(r.err[0], '\0', "no message on stderr");
		json_decref(j);
		run_free(&r);
	}
	td_finish(t);
}

Test(fedctl_input, text_limit_is_told_and_kept_the_same_way)
{
	world  w;
	size_t big = 10u * 1000 * 1000, over = (1u << 20) + 1;
	char  *text = malloc(big);
	run    r;
	json_t *got;

	world_new(&w);
	r = fedctl(w.t, w.ha, NULL, 0,
	    (const char *const[]){"send", "--help", NULL});
	cr_assert_eq(r.code, 0);
	cr_assert_not_null(strstr(r.out, "at most 1 MiB (1048576 bytes"), "%s",
	    r.out);
	run_free(&r);
	memset(text, 'x', big);
	/* 10 MB and 1 MiB + 1 on standard input, 1 MiB + 1 as arguments
	 * (nine of 120000 bytes, joined by spaces): one exit code, one
	 * message. */
	for (int k = 0; k < 3; k++) {
		const char *args[16] = {"send", "--socket", w.t->f[0].sock,
		    "Wonderland", "-"};
		char       *piece = NULL;

		if (k == 2) {
			piece = strndup(text, 120000);
			for (int a = 0; a < 9; a++)
				args[4 + a] = piece;
		}
		r = fedctl(w.t, w.ha, k < 2 ? text : NULL, k == 0 ? big : over,
		    args);
		cr_assert_eq(r.code, 2, "case %d: exit %d: %s", k, r.code, r.err);
		cr_assert_not_null(strstr(r.err, "the text is longer than the "
		                                 "limit of 1048576 bytes (1 MiB)"),
		    "case %d: %s", k, r.err);
		run_free(&r);
		free(piece);
	}
	/* Exactly 1 MiB goes. */
	send_stdin(&w, text, 1u << 20);
	got = bob_messages(&w, 1);
	cr_assert_eq(json_string_length(
	                 json_object_get(json_array_get(got, 0), "text")),
	    1u << 20);
	json_decref(got);
	free(text);
	td_finish(w.t);
}

/* Registers `handle` on daemon i with fedctl (a client too) in home. */
static td_user
person(td *t, int i, const char *home, const char *handle)
{
	world   w = {.t = t};
	td_user u;

	fedctl_user(&w, i, home, handle, &u);
	return u;
}

static run
conv_remove(td *t, const char *home, const char *who)
{
	return fedctl(t, home, NULL, 0,
	    (const char *const[]){"conv", "remove", "--socket", t->f[0].sock,
	        "Wonderland", who, NULL});
}

/* Members are named as the conversation shows them: bob on a domain
 * that lets nobody search it, dave by his handle of ours; someone not in
 * the conversation is said not to be a member. */
Test(fedctl_input, conv_remove_names_members_as_the_conversation_does)
{
	td     *t = td_new(2, NULL);
	char    ha[600], hb[600], hd[600], he[600], bob_id[128];
	td_user alice, bob, dave;
	json_t *j;
	run     r;

	snprintf(t->f[1].search_policy, sizeof(t->f[1].search_policy),
	    "no_search");
	td_start(t, 0, NULL);
	td_start(t, 1, NULL);
	snprintf(ha, sizeof(ha), "%s/home-alice", t->dir);
	snprintf(hb, sizeof(hb), "%s/home-bob", t->dir);
	snprintf(hd, sizeof(hd), "%s/home-dave", t->dir);
	snprintf(he, sizeof(he), "%s/home-eve", t->dir);
	alice = person(t, 0, ha, "alice");
	bob   = person(t, 1, hb, "bob");
	dave  = person(t, 0, hd, "dave");
	(void) person(t, 0, he, "eve");
	td_connect(t, &alice, &bob);
	td_connect(t, &alice, &dave);
	snprintf(bob_id, sizeof(bob_id), "%s@b.example", bob.id);
	j = fedctl_json(t, 0, ha, 0, NULL, 0,
	    (const char *const[]){"conv", "create", "Wonderland", bob_id, "dave",
	        NULL});
	json_decref(j);
	/* b.example lets us find nobody. */
	j = fedctl_json(t, 0, ha, 1, NULL, 0,
	    (const char *const[]){"find", "bob@b.example", NULL});
	json_decref(j);

	r = conv_remove(t, ha, "eve");
	cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
	cr_assert_not_null(strstr(r.err, "eve is not a member of \"Wonderland\""),
	    "%s", r.err);
	run_free(&r);
	r = conv_remove(t, ha, "bob@B.example");
	cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
	run_free(&r);
	r = conv_remove(t, ha, "dave");
	cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
	run_free(&r);
	r = conv_remove(t, ha, "dave");
	cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
	cr_assert_not_null(strstr(r.err, "dave is not a member"), "%s", r.err);
	run_free(&r);
	(void) dave;
	td_finish(t);
}

/* Claims one prekey of each of bob's clients on his own backend, as a
 * sender starting a session would; n times. */
static void
claim_bobs(world *w, int n)
{
	Fedrpc__Federation__V1__UserClientIds  target =
	    FEDRPC__FEDERATION__V1__USER_CLIENT_IDS__INIT;
	Fedrpc__Federation__V1__UserClientIds *tp = &target;
	Fedrpc__Local__V1__ClaimPrekeysRequest r =
	    FEDRPC__LOCAL__V1__CLAIM_PREKEYS_REQUEST__INIT;

	target.user  = &w->bob.q;
	r.targets    = &tp;
	r.n_targets  = 1;
	for (int i = 0; i < n; i++) {
		Fedrpc__Local__V1__ClaimPrekeysResponse *resp = NULL;
		fedrpc_status st = {0};

		cr_assert_eq(fedrpc_local_v1_users_claim_prekeys(
		                 w->t->f[1].lch, &r, &resp, NULL, &st),
		    FEDRPC_OK, "%s", st.message);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
}

/* bob's inbox as JSON, and whether fedctl warned about prekeys. */
static json_t *
bob_inbox(world *w, bool *warned)
{
	const char *const args[] = {"inbox", "--socket", w->t->f[1].sock,
	    "--json", NULL};
	run     r = fedctl(w->t, w->hb, NULL, 0, args);
	json_t *j;

	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_not_null(j = json_loads(r.out, JSON_ALLOW_NUL, NULL), "%s",
	    r.out);
	*warned = strstr(r.err, "one-time prekeys left; senders") != NULL;
	run_free(&r);
	return j;
}

Test(fedctl_input, a_client_low_on_prekeys_is_told_and_tops_them_up)
{
	world   w;
	json_t *j, *got;
	bool    warned;

	world_new(&w);
	j = bob_inbox(&w, &warned);
	cr_assert_eq(json_integer_value(json_object_get(j, "prekeys_left")),
	    20);
	cr_assert(!warned);
	json_decref(j);

	/* 11 sessions started with bob's client: 9 left, which is low. */
	claim_bobs(&w, 11);
	j = bob_inbox(&w, &warned);
	cr_assert_eq(json_integer_value(json_object_get(j, "prekeys_left")), 9);
	cr_assert(json_is_true(json_object_get(j, "prekeys_low")));
	cr_assert(warned, "fedctl inbox did not say the prekeys are low");
	json_decref(j);

	j = fedctl_json(w.t, 1, w.hb, 0, NULL, 0,
	    (const char *const[]){"client", "prekeys", "--count", "5", NULL});
	cr_assert_eq(json_integer_value(json_object_get(j, "prekeys_left")), 14);
	json_decref(j);
	j = bob_inbox(&w, &warned);
	cr_assert(json_is_false(json_object_get(j, "prekeys_low")));
	cr_assert(!warned);
	json_decref(j);

	/* The old ones go first; alice's session then starts on a new one,
	 * whose private half bob's key store has. */
	claim_bobs(&w, 9);
	send_stdin(&w, "on a fresh prekey", 17);
	got = bob_messages(&w, 1);
	cr_assert(json_is_true(json_object_get(json_array_get(got, 0),
	              "decrypted")),
	    "%s", json_dumps(got, 0));
	cr_assert_str_eq(jstr(json_array_get(got, 0), "text"),
	    "on a fresh prekey");
	json_decref(got);
	td_finish(w.t);
}
