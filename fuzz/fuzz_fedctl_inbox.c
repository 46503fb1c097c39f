/*
 * Fuzz target: `fedctl inbox`, the command that turns what the local
 * federator returns into what a user reads: events are fetched, messages
 * decrypted with the client's private prekeys (tools/fedctl/e2e.c), the
 * people and conversations they name looked up, and everything printed as
 * text or JSON. The command runs in this process as the command line runs
 * it (its main() under another name), against a local API served on an
 * ipc:// socket by this target, whose answers come from the input:
 *
 *     u8 flags | u16 length | FetchInboxResponse | u16 length |
 *     GetProfilesResponse | ListConversationsResponse (the rest)
 *
 * flags: bit 0 --json, bit 1 --ack, bit 2 --limit 2. The first fetch gets
 * the input's events, later fetches none (a daemon that always says "more"
 * would keep any client fetching). The user's key store (fuzz/data/fedctl/,
 * with real keys, so that seeded messages decrypt) is restored before each
 * input; fedctl's output goes to /dev/null unless $FEDRPC_FUZZ_VERBOSE is
 * set.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fedrpc/server.h>

#include "e2e.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "fedctl_state.h"
#include "fuzz_util.h"

int fedctl_main(int argc, char **argv);

#define STATE_NAME "alice@a.example.json"

/* The answers of the current input. */
static struct {
	const uint8_t *fetch, *profiles, *convs;
	size_t         n_fetch, n_profiles, n_convs;
	bool           fetched;
} in;

static char           home[256], sock_url[300], state_path[300];
static uint8_t       *state_text;
static size_t         state_len;
static fedrpc_server *srv;

/* Unpacks the input's bytes into the handler's response (same type). */
static fedrpc_code
answer(fedrpc_ctx *ctx, const ProtobufCMessageDescriptor *d,
    const uint8_t *p, size_t n, ProtobufCMessage *resp, fedrpc_status *st)
{
	ProtobufCMessage *m;

	if ((m = protobuf_c_message_unpack(d, fedrpc_ctx_allocator(ctx), n, p)) ==
	    NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL, "test: bad answer");
	memcpy(resp, m, d->sizeof_message);
	return FEDRPC_OK;
}

static fedrpc_code
fetch_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__FetchInboxRequest *req,
    Fedrpc__Local__V1__FetchInboxResponse *resp, fedrpc_status *st)
{
	(void) impl;
	(void) req;
	if (in.fetched)
		return FEDRPC_OK;
	in.fetched = true;
	return answer(ctx, &fedrpc__local__v1__fetch_inbox_response__descriptor,
	    in.fetch, in.n_fetch, &resp->base, st);
}

static fedrpc_code
ack_inbox(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__AckInboxRequest *req,
    Fedrpc__Local__V1__AckInboxResponse *resp, fedrpc_status *st)
{
	(void) impl;
	(void) ctx;
	(void) st;
	resp->deleted = req->up_to;
	return FEDRPC_OK;
}

static fedrpc_code
get_profiles(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__GetProfilesRequest *req,
    Fedrpc__Local__V1__GetProfilesResponse *resp, fedrpc_status *st)
{
	(void) impl;
	(void) req;
	return answer(ctx, &fedrpc__local__v1__get_profiles_response__descriptor,
	    in.profiles, in.n_profiles, &resp->base, st);
}

static fedrpc_code
list_conversations(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Local__V1__ListConversationsRequest *req,
    Fedrpc__Local__V1__ListConversationsResponse *resp, fedrpc_status *st)
{
	(void) impl;
	(void) req;
	return answer(ctx,
	    &fedrpc__local__v1__list_conversations_response__descriptor,
	    in.convs, in.n_convs, &resp->base, st);
}

static void
serve(void)
{
	const fedrpc_local_v1_inbox_handlers ih = {fetch_inbox, ack_inbox};
	fedrpc_local_v1_users_handlers        uh = {.get_profiles = get_profiles};
	fedrpc_local_v1_conversations_handlers ch = {
	    .list_conversations = list_conversations};
	fedrpc_server_opts o = {.url = sock_url, .workers = 1, .contexts = 2};
	fedrpc_status      st = {0};

	FZ_CHECK(fedrpc_server_new(&srv, &o, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_local_v1_inbox_register(srv, &ih, NULL, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_local_v1_users_register(srv, &uh, NULL, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_local_v1_conversations_register(srv, &ch, NULL, &st) ==
	    FEDRPC_OK);
	FZ_CHECK(fedrpc_server_start(srv, &st) == FEDRPC_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_reader r     = fz_reader_of(data, size);
	uint8_t   flags = fz_u8(&r);
	char     *argv[12];
	int       argc = 0, rc;

	in.fetch    = fz_bytes(&r, &in.n_fetch);
	in.profiles = fz_bytes(&r, &in.n_profiles);
	in.convs    = fz_rest(&r, &in.n_convs);
	in.fetched  = false;
	fz_write_file(state_path, state_text, state_len, 0600);
	argv[argc++] = "fedctl";
	argv[argc++] = "inbox";
	argv[argc++] = "--home";
	argv[argc++] = home;
	argv[argc++] = "--socket";
	argv[argc++] = sock_url;
	if (flags & 1)
		argv[argc++] = "--json";
	if (flags & 2)
		argv[argc++] = "--ack";
	if (flags & 4) {
		argv[argc++] = "--limit";
		argv[argc++] = "2";
	}
	argv[argc] = NULL;
	rc = fedctl_main(argc, argv);
	/* 0, or 1 for a message that does not decrypt or a refused answer;
	 * never a usage error (2) or a federation failure (3) here. */
	FZ_CHECK(rc == 0 || rc == 1);
	fflush(stdout);
	return 0;
}

/* ---- the key store and the seeds ---- */

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(1 << 20);
	FZ_CHECK(buf != NULL);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Makes the committed key store (once, when it is missing). */
static void
make_state(const char *path)
{
	fedctl_state *s;
	fedctl_prekey pk[3];
	fedrpc_status st = {0};
	char          dir[512];

	memset(pk, 0, sizeof(pk));
	for (int i = 0; i < 3; i++) {
		pk[i].id = i == 2 ? FEDCTL_E2E_LAST_RESORT : (uint16_t) i;
		FZ_CHECK(fedctl_e2e_keypair_generate(&pk[i].kp) == 0);
	}
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	FZ_CHECK(fedctl_state_create(dir, "6b1c2d3e-4f50-4a1b-8c2d-3e4f5a6b7c8d",
	             "a.example", "alice", "Alice", NULL, &s, &st) == FEDRPC_OK);
	FZ_CHECK(fedctl_state_add_client(s, 0x7f3a1c2e9bull, "desktop", pk, 3,
	             &st) == FEDRPC_OK);
	FZ_CHECK(fedctl_state_save(s, &st) == FEDRPC_OK);
	fedctl_state_free(s);
	snprintf(dir, sizeof(dir), "%s.lock", path);
	unlink(dir);
}

typedef Fedrpc__Federation__V1__QualifiedId qid;

static qid
qid_of(const char *id, const char *domain)
{
	qid q = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	q.id     = (char *) id;
	q.domain = (char *) domain;
	return q;
}

static void
put_msg(uint8_t *buf, size_t *len, const ProtobufCMessage *m, bool last)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if (!last) {
		buf[(*len)++] = (uint8_t) (n >> 8);
		buf[(*len)++] = (uint8_t) n;
	}
	protobuf_c_message_pack(m, buf + *len);
	*len += n;
}

/* One of each event: a message (sealed to the stored prekey 1), a
 * conversation, members joining and leaving, a rename, a connection
 * request, a deleted user; profiles and conversations to name them. */
static void
write_seeds(const fedctl_state *s)
{
	static uint8_t buf[65536];
	qid            conv = qid_of("0b0b0b0b-0000-4000-8000-00000000c0de",
	               "b.example"),
	    bob = qid_of("0b0b0b0b-0000-4000-8000-0000000000b2", "b.example"),
	    alice = qid_of(s->user_id, s->domain);
	const fedctl_client *c = &s->clients[0];
	const fedctl_prekey *pk = fedctl_client_prekey((fedctl_client *) c, 1);
	fedctl_e2e_context   ctx = {
	      .sender           = "0b0b0b0b-0000-4000-8000-0000000000b2@b.example",
	      .sender_client    = 0x99,
	      .recipient        = s->qualified,
	      .recipient_client = c->id,
	      .conversation     = "0b0b0b0b-0000-4000-8000-00000000c0de@b.example",
	};
	const char *text = "hello \xe2\x80\xae world\n\x1b[31mred";
	uint8_t    *ct;
	size_t      ct_len, len;

	Fedrpc__Local__V1__Event ev[7];
	Fedrpc__Local__V1__Event *evs[7];
	Fedrpc__Local__V1__MessageReceived mr = FEDRPC__LOCAL__V1__MESSAGE_RECEIVED__INIT;
	Fedrpc__Local__V1__ConversationCreated cc =
	    FEDRPC__LOCAL__V1__CONVERSATION_CREATED__INIT;
	Fedrpc__Federation__V1__Conversation cv = FEDRPC__FEDERATION__V1__CONVERSATION__INIT;
	Fedrpc__Federation__V1__ConversationMember m1 =
	    FEDRPC__FEDERATION__V1__CONVERSATION_MEMBER__INIT,
	                                           m2 =
	    FEDRPC__FEDERATION__V1__CONVERSATION_MEMBER__INIT;
	Fedrpc__Federation__V1__ConversationMember *ms[2] = {&m1, &m2};
	Fedrpc__Local__V1__MembersJoined mj = FEDRPC__LOCAL__V1__MEMBERS_JOINED__INIT;
	Fedrpc__Local__V1__MembersLeft   ml = FEDRPC__LOCAL__V1__MEMBERS_LEFT__INIT;
	qid *left[1] = {&bob};
	Fedrpc__Local__V1__ConversationRenamed rn =
	    FEDRPC__LOCAL__V1__CONVERSATION_RENAMED__INIT;
	Fedrpc__Local__V1__ConnectionUpdated cu =
	    FEDRPC__LOCAL__V1__CONNECTION_UPDATED__INIT;
	Fedrpc__Local__V1__Connection con = FEDRPC__LOCAL__V1__CONNECTION__INIT;
	Fedrpc__Local__V1__UserDeleted ud = FEDRPC__LOCAL__V1__USER_DELETED__INIT;
	Fedrpc__Local__V1__FetchInboxResponse fr =
	    FEDRPC__LOCAL__V1__FETCH_INBOX_RESPONSE__INIT;
	Fedrpc__Local__V1__GetProfilesResponse pr =
	    FEDRPC__LOCAL__V1__GET_PROFILES_RESPONSE__INIT;
	Fedrpc__Federation__V1__UserProfile up = FEDRPC__FEDERATION__V1__USER_PROFILE__INIT;
	Fedrpc__Federation__V1__UserProfile *ups[1] = {&up};
	Fedrpc__Local__V1__ListConversationsResponse lr =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_RESPONSE__INIT;
	Fedrpc__Federation__V1__Conversation *cvs[1] = {&cv};

	FZ_CHECK(pk != NULL);
	FZ_CHECK(fedctl_e2e_seal(&ctx, pk->id, pk->kp.pub, (const uint8_t *) text,
	             strlen(text), &ct, &ct_len) == 0);
	for (int i = 0; i < 7; i++) {
		fedrpc__local__v1__event__init(&ev[i]);
		ev[i].id           = (uint64_t) (i + 1);
		ev[i].time_unix_ms = 1700000000000 + i;
		evs[i]             = &ev[i];
	}
	mr.conversation       = &conv;
	mr.sender             = &bob;
	mr.sender_client      = 0x99;
	mr.ciphertext.data    = ct;
	mr.ciphertext.len     = ct_len;
	ev[0].payload_case    = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MESSAGE_RECEIVED;
	ev[0].message_received = &mr;
	m1.id = &bob;
	m1.role = FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN;
	m2.id = &alice;
	m2.role = FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER;
	cv.id = &conv;
	cv.name = "Tea";
	cv.creator = &bob;
	cv.n_members = 2;
	cv.members = ms;
	cc.conversation = &cv;
	ev[1].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_CREATED;
	ev[1].conversation_created = &cc;
	mj.conversation = &conv;
	mj.actor = &bob;
	mj.n_members = 2;
	mj.members = ms;
	ev[2].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_JOINED;
	ev[2].members_joined = &mj;
	ml.conversation = &conv;
	ml.actor = &bob;
	ml.n_users = 1;
	ml.users = left;
	ev[3].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_MEMBERS_LEFT;
	ev[3].members_left = &ml;
	rn.conversation = &conv;
	rn.actor = &bob;
	rn.name = "Coffee";
	ev[4].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONVERSATION_RENAMED;
	ev[4].conversation_renamed = &rn;
	con.from = &alice;
	con.to = &bob;
	con.relation = FEDRPC__LOCAL__V1__RELATION__RELATION_PENDING;
	cu.connection = &con;
	ev[5].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_CONNECTION_UPDATED;
	ev[5].connection_updated = &cu;
	ud.user = &bob;
	ev[6].payload_case = FEDRPC__LOCAL__V1__EVENT__PAYLOAD_USER_DELETED;
	ev[6].user_deleted = &ud;
	fr.n_events = 7;
	fr.events = evs;
	up.id = &bob;
	up.name = "Bob";
	up.handle = "bob";
	pr.n_profiles = 1;
	pr.profiles = ups;
	lr.n_conversations = 1;
	lr.conversations = cvs;
	for (int flags = 0; flags < 4; flags++) {
		char name[32];

		len = 0;
		buf[len++] = (uint8_t) flags;
		put_msg(buf, &len, &fr.base, false);
		put_msg(buf, &len, &pr.base, false);
		put_msg(buf, &len, &lr.base, true);
		snprintf(name, sizeof(name), "events-%s%s",
		    flags & 1 ? "json" : "text", flags & 2 ? "-ack" : "");
		fz_seed(name, buf, len);
	}
	/* Only the message, nothing else answered. */
	fr.n_events = 1;
	len = 0;
	buf[len++] = 0;
	put_msg(buf, &len, &fr.base, false);
	fz_seed("message-only", buf, len);
	free(ct);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char committed[512];

	(void) argc;
	(void) argv;
	fz_quiet_logs();
	snprintf(committed, sizeof(committed), "%s/%s", FZ_FEDCTL_DIR, STATE_NAME);
	if ((state_text = (uint8_t *) read_file(committed, &state_len)) == NULL &&
	    fz_seeds_dir() != NULL) {
		make_state(committed);
		state_text = (uint8_t *) read_file(committed, &state_len);
	}
	FZ_CHECK(state_text != NULL);
	fz_path(home, sizeof(home), "home");
	FZ_CHECK(mkdir(home, 0700) == 0);
	snprintf(state_path, sizeof(state_path), "%s/%s", home, STATE_NAME);
	fz_write_file(state_path, state_text, state_len, 0600);
	if (fz_seeds_dir() != NULL) {
		fedctl_state *s;
		fedrpc_status st = {0};

		FZ_CHECK(fedctl_state_load(state_path, false, &s, &st) == FEDRPC_OK);
		write_seeds(s);
		fedctl_state_free(s);
		exit(0);
	}
	snprintf(sock_url, sizeof(sock_url), "ipc://%s/local.sock", fz_scratch());
	serve();
	unsetenv("FEDRPC_SOCKET");
	unsetenv("FEDCTL_USER");
	setenv("NO_COLOR", "1", 1);
	if (getenv("FEDRPC_FUZZ_VERBOSE") == NULL) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		FZ_CHECK(fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0);
		close(fd);
	}
	return 0;
}
