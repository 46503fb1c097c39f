/*
 * Fuzz target: every federation and local API request through the real
 * serving path. A backend as the federator runs it (the SQLite reference
 * backend on an in-memory database, its federation server behind an
 * admission hook that runs the real origin authentication, allow list and
 * limits, its local-API server) is served on inproc:// in this process, and
 * each input is a short sequence of calls sent over nng as a peer would
 * send them: envelope, dispatch, admission, handler, store, reply.
 *
 * The peer at the other end of the federation "connection" is b.example:
 * its certificate is faked (the identity admission sees), the rest is
 * real. An input is up to MAX_CALLS calls, each
 *
 *     u8 method | u8 flags | u16 length | payload
 *
 * where method picks one of the served methods (0xfe, 0xff: the payload is
 * a whole request envelope, to the local or federation server), flags pick
 * the origin, target and API version the envelope claims, and the payload
 * is the request message. Ids the backend made (our users' and
 * conversations' ids, client ids) are remembered from the replies of the
 * input; a string "$k" or a uint64 0xfffffffffffffff0 + k in a request
 * stands for the k-th one seen, so that one input can register a user and
 * then act as that user.
 *
 * Every reply must decode, echo the request id and carry a known code; a
 * reply that ends a call with DATA_LOSS (the store holds something it
 * cannot read back) or without an answer within seconds is a finding.
 * The backend is made afresh every RESET_EVERY inputs
 * ($FEDRPC_FUZZ_RESET_EVERY): making it costs more than several inputs, and
 * a finding is checked alone with FEDRPC_FUZZ_RESET_EVERY=1.
 * $FEDRPC_FUZZ_VERBOSE prints every call and how it ended.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/allowlist.h>
#include <fedrpc/discovery.h>
#include <fedrpc/limits.h>
#include <fedrpc/origin_auth.h>
#include <fedrpc/server.h>

#include "core/wire/envelope.h"
#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/federation/v1/version.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "fedrpc/v1/envelope.pb-c.h"
#include <fedrpc/adapter.h>

#include "fuzz_pb.h"
#include "fuzz_util.h"

#define DOMAIN "a.example"
#define MAX_CALLS 12
#define RESET_EVERY 8
#define REPLY_TIMEOUT_MS 20000
#define N_REMEMBERED 8
#define MAGIC_U64 0xfffffffffffffff0ull
#define RAW_LOCAL 0xfe
#define RAW_FED 0xff

/* ---- what the backend serves ---- */

typedef struct served {
	const fedrpc_method *m;
	bool                 federation; /* else the local API */
} served;

static const fedrpc_service *const fed_services[] = {
    &fedrpc_federation_v1_users_service,
    &fedrpc_federation_v1_conversations_service,
    &fedrpc_federation_v1_version_service,
};
static const fedrpc_service *const local_services[] = {
    &fedrpc_local_v1_users_service,
    &fedrpc_local_v1_connections_service,
    &fedrpc_local_v1_conversations_service,
    &fedrpc_local_v1_inbox_service,
};

static served methods[RAW_LOCAL];
static size_t n_methods;

static void
add_methods(const fedrpc_service *svc, bool federation)
{
	for (size_t k = 0; k < svc->n_methods; k++) {
		FZ_CHECK(n_methods < RAW_LOCAL);
		methods[n_methods++] = (served){&svc->methods[k], federation};
	}
}

static void
list_methods(void)
{
	for (size_t i = 0; i < sizeof(fed_services) / sizeof(fed_services[0]); i++)
		add_methods(fed_services[i], true);
	for (size_t i = 0;
	     i < sizeof(local_services) / sizeof(local_services[0]); i++)
		add_methods(local_services[i], false);
}

/* ---- admission: the federator's chain, with a faked peer ---- */

static char *peer_names[] = {"b.example", "d.example"};
static const fedrpc_peer fake_peer = {
    .n_names  = 2,
    .names    = peer_names,
    .version  = "TLSv1.3",
    .cipher   = "TLS_CHACHA20_POLY1305_SHA256",
    .verified = true,
};

static fedrpc_resolver    *resolver;
static fedrpc_origin_auth *auth;
static fedrpc_allowlist   *allow;
static fedrpc_limits      *limits;

static fedrpc_code
admit(void *arg, fedrpc_ctx *ctx, fedrpc_status *st)
{
	const char *origin = fedrpc_ctx_origin_domain(ctx);
	const char *target = fedrpc_ctx_target_domain(ctx);
	fedrpc_code code;

	(void) arg;
	if ((code = fedrpc_origin_auth_check(auth, origin, &fake_peer, 2000,
	         st)) != FEDRPC_OK ||
	    (code = fedrpc_allowlist_check(allow, origin, st)) != FEDRPC_OK)
		return code;
	if (target[0] != '\0' && strcasecmp(target, DOMAIN) != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "request for %s reached %s", target, DOMAIN);
	return fedrpc_limits_enter(limits, origin, st);
}

static void
admit_done(void *arg, fedrpc_ctx *ctx, fedrpc_code code)
{
	(void) arg;
	(void) code;
	fedrpc_limits_leave(limits, fedrpc_ctx_origin_domain(ctx));
}

static fedrpc_adapter_search_policy
search_policy(void *arg, const char *domain)
{
	(void) arg;
	switch (fedrpc_allowlist_search_policy(allow, domain)) {
	case FEDRPC_SEARCH_FULL:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH;
	case FEDRPC_SEARCH_EXACT_HANDLE:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_EXACT_HANDLE_SEARCH;
	default:
		return FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH;
	}
}

/* Made once: nothing here holds per-input state. */
static void
admission_new(void)
{
	/* Every origin an input can claim has a static route, so no
	 * check ever waits for DNS. */
	static const fedrpc_static_route routes[] = {
	    {"a.example", "127.0.0.1", 1},
	    {"c.example", "127.0.0.1", 1},
	};
	static const fedrpc_allowlist_entry entries[] = {
	    {"b.example", FEDRPC_SEARCH_FULL},
	    {"c.example", FEDRPC_SEARCH_NONE},
	};
	fedrpc_resolver_opts    ro = {
	    .nameserver = "127.0.0.1:1",
	    .timeout_ms = 500,
	    .statics    = routes,
	    .n_statics  = sizeof(routes) / sizeof(routes[0]),
	};
	fedrpc_origin_auth_opts ao = {.lookup_timeout_ms = 500};
	fedrpc_allowlist_opts   lo = {
	    .enabled   = true,
	    .strategy  = FEDRPC_STRATEGY_ALLOW_LIST,
	    .entries   = entries,
	    .n_entries = sizeof(entries) / sizeof(entries[0]),
	};
	fedrpc_limits_opts      mo = {.max_inflight = 4};
	fedrpc_status           st = {0};

	FZ_CHECK(fedrpc_resolver_new(&resolver, &ro, &st) == FEDRPC_OK);
	ao.resolver = resolver;
	FZ_CHECK(fedrpc_origin_auth_new(&auth, &ao, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_allowlist_new(&allow, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_allowlist_set(allow, &lo, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_limits_new(&limits, &mo, &st) == FEDRPC_OK);
}

/* ---- the backend and its two servers ---- */

typedef struct backend {
	fedrpc_adapter_instance *ad;
	fedrpc_server           *fed, *local;
	nng_socket               fed_sock, local_sock; /* the callers */
	bool                     up;
	unsigned                 inputs; /* served since it was made */
	unsigned                 gen;    /* for fresh inproc names */
} backend;

static backend be;
/* $FEDRPC_FUZZ_VERBOSE: each call and its status on stderr. */
static bool verbose;
/* Inputs a backend serves before it is made afresh. */
static unsigned reset_every = RESET_EVERY;

static nng_socket
caller_open(const char *url)
{
	nng_socket s;

	FZ_CHECK(nng_req0_open(&s) == 0);
	FZ_CHECK(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, REPLY_TIMEOUT_MS) == 0);
	FZ_CHECK(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) == 0);
	FZ_CHECK(nng_dial(s, url, NULL, 0) == 0);
	return s;
}

static void
backend_up(void)
{
	fedrpc_adapter_env env = {
	    .domain          = DOMAIN,
	    .search_policy   = search_policy,
	    .call_timeout_ms = 1000,
	};
	char               fed_url[96], local_url[96];
	fedrpc_server_opts fo = {.url = fed_url, .workers = 2, .contexts = 4};
	fedrpc_server_opts lo = {.url = local_url, .workers = 2, .contexts = 4};
	fedrpc_status      st = {0};

	be.gen++;
	snprintf(fed_url, sizeof(fed_url), "inproc://fuzz-%d-%u-fed",
	    (int) getpid(), be.gen);
	snprintf(local_url, sizeof(local_url), "inproc://fuzz-%d-%u-local",
	    (int) getpid(), be.gen);
	FZ_CHECK(fedrpc_sqlite_adapter_open(":memory:", &env, &be.ad, &st) ==
	    FEDRPC_OK);
	FZ_CHECK(fedrpc_server_new(&be.fed, &fo, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_server_new(&be.local, &lo, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_adapter_register(be.ad, be.fed, be.local, &st) ==
	    FEDRPC_OK);
	fedrpc_server_set_admit(be.fed, admit, NULL);
	fedrpc_server_set_done(be.fed, admit_done, NULL);
	FZ_CHECK(fedrpc_server_start(be.fed, &st) == FEDRPC_OK);
	FZ_CHECK(fedrpc_server_start(be.local, &st) == FEDRPC_OK);
	be.fed_sock   = caller_open(fed_url);
	be.local_sock = caller_open(local_url);
	be.up         = true;
	be.inputs     = 0;
}

static void
backend_down(void)
{
	if (!be.up)
		return;
	nng_close(be.fed_sock);
	nng_close(be.local_sock);
	fedrpc_server_free(be.fed);
	fedrpc_server_free(be.local);
	fedrpc_adapter_close(be.ad);
	be.up = false;
}

/* ---- ids remembered from replies ---- */

/*
 * The ids of our domain's users and conversations, and client ids, in
 * the order replies of this input first showed them: "$0" is the first
 * user registered in the input, and so on.
 */
static char     ids[N_REMEMBERED][64];
static size_t   n_ids;
static uint64_t nums[N_REMEMBERED];
static size_t   n_nums;

static void
remember_id(const char *id)
{
	for (size_t i = 0; i < n_ids; i++)
		if (strcmp(ids[i], id) == 0)
			return;
	if (n_ids < N_REMEMBERED && strlen(id) < sizeof(ids[0]))
		strcpy(ids[n_ids++], id);
}

static void
remember_msg(void *arg, ProtobufCMessage *m)
{
	const Fedrpc__Federation__V1__QualifiedId *q =
	    (const Fedrpc__Federation__V1__QualifiedId *) m;

	(void) arg;
	if (m->descriptor == &fedrpc__federation__v1__qualified_id__descriptor &&
	    q->id != NULL && q->domain != NULL && q->id[0] != '\0' &&
	    strcmp(q->domain, DOMAIN) == 0)
		remember_id(q->id);
}

/* Client ids are random 64-bit numbers; event ids and counts are small. */
static void
remember_u64(void *arg, const ProtobufCFieldDescriptor *f, uint64_t *v)
{
	(void) arg;
	(void) f;
	if (*v <= UINT32_MAX || *v >= MAGIC_U64)
		return;
	for (size_t i = 0; i < n_nums; i++)
		if (nums[i] == *v)
			return;
	if (n_nums < N_REMEMBERED)
		nums[n_nums++] = *v;
}

static const char *
subst_str(void *arg, const uint8_t *s, size_t len)
{
	(void) arg;
	if (len == 2 && s[0] == '$' && s[1] >= '0' && s[1] <= '7')
		return (size_t) (s[1] - '0') < n_ids ? ids[s[1] - '0'] : "";
	return NULL;
}

static bool
subst_u64(void *arg, uint64_t *v)
{
	(void) arg;
	if (*v < MAGIC_U64 || *v - MAGIC_U64 >= N_REMEMBERED)
		return false;
	*v = *v - MAGIC_U64 < n_nums ? nums[*v - MAGIC_U64] : 0;
	return true;
}

/* ---- one call ---- */

static const char *const origins[8] = {"b.example", "B.Example.",
    "c.example", "", "d.example", "a.example", "b.example", "b.example"};
static const char *const targets[4] = {DOMAIN, "", "A.EXAMPLE", "b.example"};
static const uint32_t    versions[4] = {1, 0, 2, 1};

/* The request payload with "$k" and magic numbers replaced, byte for
 * byte as the input had it otherwise (also when it is malformed). */
static uint8_t *
payload_for(const fedrpc_method *m, const uint8_t *p, size_t n, size_t *len)
{
	fz_pb_rewriter rw = {subst_str, subst_u64, NULL};
	uint8_t       *out = fz_pb_rewrite(m->input, p, n, &rw, len);

	if (out == NULL) {
		out = malloc(n + 1);
		FZ_CHECK(out != NULL);
		if (n > 0)
			memcpy(out, p, n);
		*len = n;
	}
	return out;
}

static nng_msg *
envelope(const char *method, uint8_t flags, const uint8_t id[16],
    const uint8_t *payload, size_t len)
{
	Fedrpc__V1__RequestHeader h = FEDRPC__V1__REQUEST_HEADER__INIT;
	Fedrpc__V1__Request       r = FEDRPC__V1__REQUEST__INIT;
	nng_msg                  *msg;

	h.method            = (char *) method;
	h.origin_domain     = (char *) origins[flags & 7];
	h.target_domain     = (char *) targets[(flags >> 3) & 3];
	h.api_version       = versions[(flags >> 5) & 3];
	h.timeout_ms        = REPLY_TIMEOUT_MS;
	h.request_id.data   = (uint8_t *) id;
	h.request_id.len    = 16;
	r.header            = &h;
	r.payload.data      = (uint8_t *) payload;
	r.payload.len       = len;
	FZ_CHECK(nng_msg_alloc(&msg, fedrpc__v1__request__get_packed_size(&r)) == 0);
	fedrpc__v1__request__pack(&r, nng_msg_body(msg));
	return msg;
}

static nng_msg *
raw_envelope(const uint8_t *p, size_t n)
{
	nng_msg *msg;

	FZ_CHECK(nng_msg_alloc(&msg, n) == 0);
	if (n > 0)
		memcpy(nng_msg_body(msg), p, n);
	return msg;
}

/* Sends one request and checks the reply; the method (NULL for a raw
 * envelope) says how to read its payload. */
static void
call(nng_socket s, nng_msg *req, const uint8_t *id, const fedrpc_method *m)
{
	fedrpc_reply_view v;
	fedrpc_status     st = {0};
	nng_msg          *reply;
	int               rv;

	FZ_CHECK(nng_sendmsg(s, req, 0) == 0);
	if ((rv = nng_recvmsg(s, &reply, 0)) != 0) {
		fprintf(stderr, "fuzz_dispatch: no reply to %s: %s\n",
		    m != NULL ? m->full_name : "a raw envelope", nng_strerror(rv));
		abort();
	}
	FZ_CHECK(fedrpc_envelope_reply_decode(&v, nng_msg_body(reply),
	             nng_msg_len(reply), &st) == FEDRPC_OK);
	if (verbose)
		fprintf(stderr, "%s: %s %.*s\n",
		    m != NULL ? m->full_name : "(raw envelope)",
		    fedrpc_code_name(v.code), (int) v.message_len, v.message);
	if (v.code == FEDRPC_DATA_LOSS) {
		fprintf(stderr, "fuzz_dispatch: %s ended with DATA_LOSS: %.*s\n",
		    m != NULL ? m->full_name : "a raw envelope",
		    (int) v.message_len, v.message);
		abort();
	}
	if (id != NULL) {
		FZ_CHECK(v.request_id_len == 16 && memcmp(v.request_id, id, 16) == 0);
	}
	if (v.code == FEDRPC_OK && m != NULL) {
		fz_arena          a;
		ProtobufCMessage *out;
		fz_pb_visitor     rv_ = {remember_msg, NULL, remember_u64, NULL};

		fz_arena_init(&a);
		out = protobuf_c_message_unpack(
		    m->output, &a.pb, v.payload_len, v.payload);
		FZ_CHECK(out != NULL);
		fz_pb_walk(out, &rv_);
		fz_arena_free(&a);
	}
	nng_msg_free(reply);
}

static void
next_id(uint8_t id[16])
{
	static uint64_t n;

	n++;
	memset(id, 0, 16);
	memcpy(id, &n, sizeof(n));
	id[15] = 0xf5;
}

static void
one_call(fz_reader *r)
{
	uint8_t              sel = fz_u8(r), flags = fz_u8(r);
	size_t               n, len;
	const uint8_t       *p = fz_bytes(r, &n);
	uint8_t              id[16], *payload;
	const served        *sv;

	if (sel == RAW_FED || sel == RAW_LOCAL) {
		call(sel == RAW_FED ? be.fed_sock : be.local_sock,
		    raw_envelope(p, n), NULL, NULL);
		return;
	}
	sv = &methods[sel % n_methods];
	payload = payload_for(sv->m, p, n, &len);
	next_id(id);
	call(sv->federation ? be.fed_sock : be.local_sock,
	    envelope(sv->m->full_name, flags, id, payload, len), id, sv->m);
	free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_reader r = fz_reader_of(data, size);

	if (!be.up || be.inputs >= reset_every) {
		backend_down();
		backend_up();
	}
	be.inputs++;
	n_ids = n_nums = 0;
	for (int i = 0; i < MAX_CALLS && r.left >= 2; i++)
		one_call(&r);
	return 0;
}

/* ---- seeds ---- */

static const served *
method_named(const char *full_name)
{
	for (size_t i = 0; i < n_methods; i++)
		if (strcmp(methods[i].m->full_name, full_name) == 0)
			return &methods[i];
	return NULL;
}

/* Appends one call to a seed. */
static void
seed_call(uint8_t *buf, size_t *len, const served *sv, uint8_t flags,
    const ProtobufCMessage *msg)
{
	size_t   n;
	uint8_t *p = fz_pb_pack(msg, &n);

	FZ_CHECK(sv != NULL && *len + 4 + n < 65536);
	buf[(*len)++] = (uint8_t) (sv - methods);
	buf[(*len)++] = flags;
	buf[(*len)++] = (uint8_t) (n >> 8);
	buf[(*len)++] = (uint8_t) n;
	memcpy(buf + *len, p, n);
	*len += n;
	free(p);
}

/* Ids of a filled message become "$0" and the newest client id. */
static void
seed_ids(void *arg, const ProtobufCFieldDescriptor *f, char **s)
{
	if (strcmp(f->name, "id") == 0)
		*s = fz_arena_strdup(arg, "$0");
}

static void
seed_clients(void *arg, const ProtobufCFieldDescriptor *f, uint64_t *v)
{
	(void) arg;
	if (strcmp(f->name, "client") == 0 || strcmp(f->name, "clients") == 0 ||
	    strcmp(f->name, "sender_client") == 0)
		*v = MAGIC_U64;
}

/* Registers alice and gives her a client with prekeys. */
static void
seed_prologue(uint8_t *buf, size_t *len)
{
	Fedrpc__Local__V1__RegisterUserRequest ru =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientRequest ac =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Federation__V1__QualifiedId self =
	    FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;
	Fedrpc__Federation__V1__Prekey pk = FEDRPC__FEDERATION__V1__PREKEY__INIT,
	                               last = FEDRPC__FEDERATION__V1__PREKEY__INIT;
	Fedrpc__Federation__V1__Prekey *pks[1] = {&pk};
	uint8_t                         key[32];

	memset(key, 0x42, sizeof(key));
	ru.handle = "alice";
	ru.name   = "Alice";
	seed_call(buf, len, method_named("fedrpc.local.v1.Users/RegisterUser"), 0,
	    &ru.base);
	self.id         = "$0";
	self.domain     = DOMAIN;
	pk.id           = 1;
	pk.key.data     = key;
	pk.key.len      = sizeof(key);
	last.id         = 65535;
	last.key        = pk.key;
	ac.self         = &self;
	ac.n_prekeys    = 1;
	ac.prekeys      = pks;
	ac.last_prekey  = &last;
	ac.client_class = FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_DESKTOP;
	seed_call(buf, len, method_named("fedrpc.local.v1.Users/AddClient"), 0,
	    &ac.base);
}

/* ---- scenario seeds: a few conversations as backends have them ---- */

typedef Fedrpc__Federation__V1__QualifiedId qid;

#define B_USER "0b0b0b0b-0000-4000-8000-0000000000b2"
#define B_CONV "0b0b0b0b-0000-4000-8000-00000000c0de"

static qid
qid_of(const char *id, const char *domain)
{
	qid q = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	q.id     = (char *) id;
	q.domain = (char *) domain;
	return q;
}

#define CALL(buf, len, name, msg)                                           \
	seed_call(buf, len, method_named(name), 0, &(msg).base)

static void
seed_register(uint8_t *buf, size_t *len, const char *handle)
{
	Fedrpc__Local__V1__RegisterUserRequest ru =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;

	ru.handle = (char *) handle;
	ru.name   = (char *) handle;
	CALL(buf, len, "fedrpc.local.v1.Users/RegisterUser", ru);
}

/* b.example makes a conversation with alice ($0), sends her a message;
 * she fetches and acknowledges it. */
static void
scenario_remote_message(uint8_t *buf, size_t *len)
{
	Fedrpc__Federation__V1__OnConversationCreatedRequest cc =
	    FEDRPC__FEDERATION__V1__ON_CONVERSATION_CREATED_REQUEST__INIT;
	Fedrpc__Federation__V1__Conversation conv =
	    FEDRPC__FEDERATION__V1__CONVERSATION__INIT;
	Fedrpc__Federation__V1__ConversationMember m1 =
	    FEDRPC__FEDERATION__V1__CONVERSATION_MEMBER__INIT,
	                                           m2 =
	    FEDRPC__FEDERATION__V1__CONVERSATION_MEMBER__INIT;
	Fedrpc__Federation__V1__ConversationMember *ms[2] = {&m1, &m2};
	Fedrpc__Federation__V1__OnMessageSentRequest om =
	    FEDRPC__FEDERATION__V1__ON_MESSAGE_SENT_REQUEST__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT;
	Fedrpc__Federation__V1__UserCiphertexts *ucs[1] = {&uc};
	Fedrpc__Federation__V1__ClientCiphertext cct =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT;
	Fedrpc__Federation__V1__ClientCiphertext *ccts[1] = {&cct};
	Fedrpc__Local__V1__FetchInboxRequest fi =
	    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
	Fedrpc__Local__V1__AckInboxRequest ai =
	    FEDRPC__LOCAL__V1__ACK_INBOX_REQUEST__INIT;
	qid     cid = qid_of(B_CONV, "b.example"), bob = qid_of(B_USER, "b.example"),
	    alice = qid_of("$0", DOMAIN);
	uint8_t ct[64];

	seed_prologue(buf, len);
	m1.id          = &bob;
	m1.role        = FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN;
	m2.id          = &alice;
	m2.role        = FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER;
	conv.id        = &cid;
	conv.name      = "Tea";
	conv.creator   = &bob;
	conv.n_members = 2;
	conv.members   = ms;
	conv.created_at_unix_ms = 1700000000000;
	cc.conversation = &conv;
	CALL(buf, len, "fedrpc.federation.v1.Conversations/OnConversationCreated", cc);
	memset(ct, 0x5a, sizeof(ct));
	cct.client          = MAGIC_U64;
	cct.ciphertext.data = ct;
	cct.ciphertext.len  = sizeof(ct);
	uc.user             = &alice;
	uc.n_clients        = 1;
	uc.clients          = ccts;
	om.time_unix_ms     = 1700000001000;
	om.conversation     = &cid;
	om.sender           = &bob;
	om.sender_client    = 0x1234567890ull;
	om.n_recipients     = 1;
	om.recipients       = ucs;
	CALL(buf, len, "fedrpc.federation.v1.Conversations/OnMessageSent", om);
	fi.self   = &alice;
	fi.client = MAGIC_U64;
	fi.limit  = 10;
	CALL(buf, len, "fedrpc.local.v1.Inbox/FetchInbox", fi);
	ai.self   = &alice;
	ai.client = MAGIC_U64;
	ai.up_to  = 100;
	CALL(buf, len, "fedrpc.local.v1.Inbox/AckInbox", ai);
}

/* alice and bob connect, alice makes a group with bob and sends to it;
 * b.example's user tries to write into it. */
static void
scenario_local_group(uint8_t *buf, size_t *len)
{
	Fedrpc__Local__V1__ConnectRequest cr = FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
	Fedrpc__Local__V1__AcceptRequest  ar = FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationRequest cc =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__SendMessageRequest sm =
	    FEDRPC__LOCAL__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Federation__V1__SendMessageRequest fs =
	    FEDRPC__FEDERATION__V1__SEND_MESSAGE_REQUEST__INIT;
	Fedrpc__Federation__V1__UserCiphertexts uc =
	    FEDRPC__FEDERATION__V1__USER_CIPHERTEXTS__INIT;
	Fedrpc__Federation__V1__UserCiphertexts *ucs[1] = {&uc};
	Fedrpc__Federation__V1__ClientCiphertext cct =
	    FEDRPC__FEDERATION__V1__CLIENT_CIPHERTEXT__INIT;
	Fedrpc__Federation__V1__ClientCiphertext *ccts[1] = {&cct};
	Fedrpc__Local__V1__ListConversationsRequest lc =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy strat =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__INIT;
	Fedrpc__Federation__V1__ClientMismatchStrategy__ReportAll all =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__REPORT_ALL__INIT;
	qid  alice = qid_of("$0", DOMAIN), bob = qid_of("$1", DOMAIN),
	    remote = qid_of(B_USER, "b.example"), conv = qid_of("$2", DOMAIN);
	qid *members[1] = {&bob};
	uint8_t ct[48];

	seed_prologue(buf, len);
	seed_register(buf, len, "bob");
	cr.self = &alice;
	cr.to   = &bob;
	CALL(buf, len, "fedrpc.local.v1.Connections/Connect", cr);
	ar.self = &bob;
	ar.to   = &alice;
	CALL(buf, len, "fedrpc.local.v1.Connections/Accept", ar);
	cc.self      = &alice;
	cc.name      = "Team";
	cc.n_members = 1;
	cc.members   = members;
	CALL(buf, len, "fedrpc.local.v1.Conversations/CreateConversation", cc);
	memset(ct, 0x33, sizeof(ct));
	cct.client          = MAGIC_U64;
	cct.ciphertext.data = ct;
	cct.ciphertext.len  = sizeof(ct);
	uc.user             = &alice;
	uc.n_clients        = 1;
	uc.clients          = ccts;
	strat.strategy_case =
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_REPORT_ALL;
	strat.report_all = &all;
	sm.strategy      = &strat;
	fs.strategy      = &strat;
	sm.self          = &alice;
	sm.sender_client = MAGIC_U64;
	sm.conversation  = &conv;
	sm.n_recipients  = 1;
	sm.recipients    = ucs;
	CALL(buf, len, "fedrpc.local.v1.Conversations/SendMessage", sm);
	fs.sender        = &remote;
	fs.sender_client = 0x1234567890ull;
	fs.conversation  = &conv;
	fs.n_recipients  = 1;
	fs.recipients    = ucs;
	CALL(buf, len, "fedrpc.federation.v1.Conversations/SendMessage", fs);
	lc.self = &alice;
	CALL(buf, len, "fedrpc.local.v1.Conversations/ListConversations", lc);
}

/* b.example's user asks alice to connect; she accepts; b.example says
 * its user was deleted. */
static void
scenario_remote_connection(uint8_t *buf, size_t *len)
{
	Fedrpc__Federation__V1__SendConnectionActionRequest sa =
	    FEDRPC__FEDERATION__V1__SEND_CONNECTION_ACTION_REQUEST__INIT;
	Fedrpc__Local__V1__AcceptRequest ar = FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
	Fedrpc__Local__V1__ListConnectionsRequest lr =
	    FEDRPC__LOCAL__V1__LIST_CONNECTIONS_REQUEST__INIT;
	Fedrpc__Federation__V1__OnUserDeletedConnectionsRequest ud =
	    FEDRPC__FEDERATION__V1__ON_USER_DELETED_CONNECTIONS_REQUEST__INIT;
	qid  alice = qid_of("$0", DOMAIN), remote = qid_of(B_USER, "b.example");
	qid *conns[1] = {&alice};

	seed_prologue(buf, len);
	sa.from   = &remote;
	sa.to     = &alice;
	sa.action = FEDRPC__FEDERATION__V1__CONNECTION_ACTION__CONNECTION_ACTION_CONNECT;
	CALL(buf, len, "fedrpc.federation.v1.Users/SendConnectionAction", sa);
	ar.self = &alice;
	ar.to   = &remote;
	CALL(buf, len, "fedrpc.local.v1.Connections/Accept", ar);
	lr.self = &alice;
	CALL(buf, len, "fedrpc.local.v1.Connections/ListConnections", lr);
	ud.user          = &remote;
	ud.n_connections = 1;
	ud.connections   = conns;
	CALL(buf, len, "fedrpc.federation.v1.Users/OnUserDeletedConnections", ud);
}

static void
write_scenarios(void)
{
	static const struct {
		const char *name;
		void (*make)(uint8_t *, size_t *);
	} scenarios[] = {
	    {"remote-message", scenario_remote_message},
	    {"local-group", scenario_local_group},
	    {"remote-connection", scenario_remote_connection},
	};
	static uint8_t buf[65536];

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		size_t len = 0;

		scenarios[i].make(buf, &len);
		fz_seed(scenarios[i].name, buf, len);
	}
}

/* Per method: alice and her client, then the method with every field
 * set (ids: alice's). */
static void
write_seeds(void)
{
	static uint8_t buf[65536];

	for (size_t i = 0; i < n_methods; i++) {
		fz_arena          a;
		ProtobufCMessage *m;
		fz_pb_visitor     v = {NULL, seed_ids, seed_clients, NULL};
		size_t            len = 0;
		char              name[160], *c;

		fz_arena_init(&a);
		v.arg = &a;
		seed_prologue(buf, &len);
		m = fz_pb_fill(methods[i].m->input, 4, &a);
		fz_pb_walk(m, &v);
		seed_call(buf, &len, &methods[i], 0, m);
		snprintf(name, sizeof(name), "%s", methods[i].m->full_name);
		for (c = name; *c != '\0'; c++)
			if (*c == '/')
				*c = '-';
		fz_seed(name, buf, len);
		fz_arena_free(&a);
	}
	write_scenarios();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_quiet_logs();
	verbose = getenv("FEDRPC_FUZZ_VERBOSE") != NULL;
	if (getenv("FEDRPC_FUZZ_RESET_EVERY") != NULL &&
	    atoi(getenv("FEDRPC_FUZZ_RESET_EVERY")) > 0)
		reset_every = (unsigned) atoi(getenv("FEDRPC_FUZZ_RESET_EVERY"));
	list_methods();
	FZ_CHECK(n_methods > 0);
	if (fz_seeds_dir() != NULL) {
		write_seeds();
		exit(0);
	}
	admission_new();
	return 0;
}
