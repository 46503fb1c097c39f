/*
 * A federation of SQLite reference backends in one test process: up to
 * three domains (a.example, b.example, c.example), each with a federation
 * server and a local-API server on inproc://, its own database in a
 * scratch folder, and channel_for mapping domains to inproc channels (a
 * domain marked down, or any unknown one, answers UNAVAILABLE; one marked
 * refused answers PERMISSION_DENIED, as a domain taken off the allow list
 * does). As the
 * daemon does, every call a federation server takes tells its backend that
 * the caller was heard from. Helpers wrap common local calls.
 *
 * Channels are handed to backends until the fixture ends: a stopped domain
 * keeps the channels others have to it (they redial it when it starts
 * again), and each backend is closed (its delivery stopped) before any
 * channel it was given.
 *
 * With FEDRPC_TEST_STORE_CONFLICTS set in the environment, each backend
 * runs over conflict_store.h's store instead, whose every transaction
 * loses its first commit: every test then checks that the backend's
 * transactions are retried and answer as if they had run once.
 */
#ifndef FEDRPC_TESTS_ADAPTER_FIXTURE_H
#define FEDRPC_TESTS_ADAPTER_FIXTURE_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fedrpc/adapter.h>
#include <fedrpc/channel.h>
#include <fedrpc/server.h>

#include "fedrpc/federation/v1/conversations.fedrpc.h"
#include "fedrpc/federation/v1/users.fedrpc.h"
#include "fedrpc/federation/v1/version.fedrpc.h"
#include "fedrpc/local/v1/connections.fedrpc.h"
#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/inbox.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"
#include "backends/reference/reference.h"
#include "backends/sqlite/sqlite_store.h"
#include "conflict_store.h"
#include "testutil.h"

#define FX_MAX 3
#define FX_KEEP_MAX 512
#define FX_NO FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_NO_SEARCH
#define FX_EXACT                                                          \
	FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_EXACT_HANDLE_SEARCH
#define FX_FULL FEDRPC__FEDERATION__V1__SEARCH_POLICY__SEARCH_POLICY_FULL_SEARCH

typedef struct fx fx;

typedef struct fx_domain {
	fx                      *fx;
	int                      idx;
	char                     name[32];  /* "a.example", ... */
	char                     db[512];   /* database file */
	char                     fed_url[96];
	char                     local_url[96];
	fedrpc_server           *fed;       /* federation API */
	fedrpc_server           *local;     /* local API */
	void                    *ref;       /* the reference backend */
	fedrpc_channel          *lch;       /* to our local API */
	atomic_bool              down;      /* others cannot reach us */
	atomic_bool              refused;   /* others may not call us */
	/* The policy this domain holds for each asking domain (by idx). */
	fedrpc_adapter_search_policy policy[FX_MAX];
	uint32_t                     versions[4];
	size_t                       n_versions;
} fx_domain;

struct fx {
	char           *dir;
	fx_domain       d[FX_MAX];
	int             n;
	pthread_mutex_t mtx;
	struct {
		int             from, to;
		fedrpc_channel *ch;
	} chans[FX_MAX * FX_MAX];
	int    n_chans;
	char  *kept[FX_KEEP_MAX]; /* strings freed by fx_free() */
	size_t n_kept;
	fedrpc_adapter_delivery delivery; /* every backend's */
};

static inline int
fx_index(fx *f, const char *domain)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->d[i].name, domain) == 0)
			return i;
	return -1;
}

/* A channel from domain `from` to `to`'s federation server (cached). */
static inline fedrpc_channel *
fx_chan(fx *f, int from, int to, fedrpc_status *st)
{
	fedrpc_channel *ch = NULL;

	pthread_mutex_lock(&f->mtx);
	for (int i = 0; i < f->n_chans; i++)
		if (f->chans[i].from == from && f->chans[i].to == to)
			ch = f->chans[i].ch;
	if (ch == NULL) {
		fedrpc_channel_opts o = {
		    .url                = f->d[to].fed_url,
		    .origin_domain      = f->d[from].name,
		    .target_domain      = f->d[to].name,
		    .api_version        = 1,
		    .default_timeout_ms = 5000,
		    .reconnect_min_ms   = 20,
		    .reconnect_max_ms   = 200,
		};

		if (fedrpc_channel_open(&ch, &o, st) == FEDRPC_OK) {
			f->chans[f->n_chans].from = from;
			f->chans[f->n_chans].to   = to;
			f->chans[f->n_chans].ch   = ch;
			f->n_chans++;
		}
	}
	pthread_mutex_unlock(&f->mtx);
	return ch;
}

static inline fedrpc_channel *
fx_channel_for(void *arg, const char *domain, fedrpc_status *st)
{
	fx_domain *self = arg;
	fx        *f    = self->fx;
	int        to   = fx_index(f, domain);

	if (to < 0 || atomic_load(&f->d[to].down)) {
		fedrpc_status_set(st, FEDRPC_UNAVAILABLE,
		    "%s cannot be reached (test)", domain);
		return NULL;
	}
	/* As an allow list that no longer has the domain. */
	if (atomic_load(&f->d[to].refused)) {
		fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s is not allowed (test)", domain);
		return NULL;
	}
	return fx_chan(f, self->idx, to, st);
}

static inline fedrpc_adapter_search_policy
fx_policy(void *arg, const char *domain)
{
	fx_domain *self = arg;
	int        from = fx_index(self->fx, domain);

	return from < 0 ? FX_NO : self->policy[from];
}

/* Whether backends run over the conflict-injecting store. */
static inline bool
fx_conflicts(void)
{
	return getenv("FEDRPC_TEST_STORE_CONFLICTS") != NULL;
}

/* A call the federation server took: its origin was heard from. */
static inline void
fx_heard(void *arg, fedrpc_ctx *ctx, fedrpc_code code)
{
	fx_domain *d = arg;

	(void) code;
	fedrpc_reference_peer_heard(d->ref, fedrpc_ctx_origin_domain(ctx));
}

/* Opens domain i's backend and starts its servers. */
static inline void
fx_start_domain(fx *f, int i)
{
	fx_domain         *d  = &f->d[i];
	fedrpc_status      st = {0};
	fedrpc_adapter_env env = {
	    .domain            = d->name,
	    .search_policy     = fx_policy,
	    .search_policy_arg = d,
	    .api_versions      = d->n_versions ? d->versions : NULL,
	    .n_api_versions    = d->n_versions,
	    .channel_for       = fx_channel_for,
	    .channel_arg       = d,
	    .call_timeout_ms   = 5000,
	    .delivery          = f->delivery,
	};
	fedrpc_server_opts fo = {.url = d->fed_url, .workers = 4, .contexts = 8};
	fedrpc_server_opts lo = {
	    .url = d->local_url, .workers = 4, .contexts = 8};
	fedrpc_channel_opts co = {
	    .url                = d->local_url,
	    .origin_domain      = d->name,
	    .target_domain      = d->name,
	    .default_timeout_ms = 10000,
	};

	cr_assert_eq(fedrpc_reference_open(&env,
	                 fx_conflicts() ? conflict_store_open
	                                : fedrpc_store_sqlite_open,
	                 d->db, &d->ref, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_server_new(&d->fed, &fo, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(fedrpc_server_new(&d->local, &lo, &st), FEDRPC_OK, "%s",
	    st.message);
	fedrpc_server_set_done(d->fed, fx_heard, d);
	cr_assert_eq(fedrpc_reference_register(d->ref, d->fed, d->local, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(fedrpc_server_start(d->fed, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(fedrpc_server_start(d->local, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(fedrpc_channel_open(&d->lch, &co, &st), FEDRPC_OK, "%s",
	    st.message);
}

/* Stops domain i (servers, backend) and drops the channels it was given;
 * the channels others have to it stay theirs. */
static inline void
fx_stop_domain(fx *f, int i)
{
	fx_domain *d = &f->d[i];

	if (d->lch != NULL)
		fedrpc_channel_close(d->lch);
	/* With a grace period: handlers still replying may finish. */
	if (d->fed != NULL)
		fedrpc_server_stop(d->fed, 2000);
	if (d->local != NULL)
		fedrpc_server_stop(d->local, 2000);
	fedrpc_server_free(d->fed);
	fedrpc_server_free(d->local);
	fedrpc_reference_close(d->ref);
	pthread_mutex_lock(&f->mtx);
	for (int k = 0; k < f->n_chans;) {
		if (f->chans[k].from == i) {
			fedrpc_channel_close(f->chans[k].ch);
			f->chans[k] = f->chans[--f->n_chans];
		} else {
			k++;
		}
	}
	pthread_mutex_unlock(&f->mtx);
	d->lch   = NULL;
	d->fed   = NULL;
	d->local = NULL;
	d->ref   = NULL;
}

/* n domains; every domain holds FULL search for every other; delivery
 * as `delivery` says (NULL: a domain back up is tried again within
 * 200 ms). */
static inline fx *
fx_new_with(int n, const fedrpc_adapter_delivery *delivery)
{
	static atomic_int seq;
	fx               *f = calloc(1, sizeof(*f));
	int               s = atomic_fetch_add(&seq, 1);

	cr_assert_not_null(f);
	if (delivery != NULL)
		f->delivery = *delivery;
	else
		f->delivery = (fedrpc_adapter_delivery){
		    .backoff_initial_ms = 10, .backoff_max_ms = 200};
	/* A local call waits for what it owes reachable domains (they answer
	 * in milliseconds here), within the local channel's 10 s. */
	if (f->delivery.wait_ms == 0)
		f->delivery.wait_ms = 8000;
	/* Databases in memory-backed /dev/shm when there is one: every
	 * commit is fsynced (synchronous=FULL), which is slow on disks
	 * shared with parallel builds and says nothing more here. */
	if (access("/dev/shm", W_OK) == 0 &&
	    (f->dir = strdup("/dev/shm/fedrpc-adapter-XXXXXX")) != NULL &&
	    mkdtemp(f->dir) == NULL) {
		free(f->dir);
		f->dir = NULL;
	}
	if (f->dir == NULL)
		f->dir = tu_tmpdir("adapter");
	cr_assert_not_null(f->dir);
	pthread_mutex_init(&f->mtx, NULL);
	f->n = n;
	for (int i = 0; i < n; i++) {
		fx_domain *d = &f->d[i];

		d->fx  = f;
		d->idx = i;
		snprintf(d->name, sizeof(d->name), "%c.example", 'a' + i);
		snprintf(d->db, sizeof(d->db), "%s/%c.sqlite", f->dir, 'a' + i);
		snprintf(d->fed_url, sizeof(d->fed_url),
		    "inproc://fx-%d-%d-%c-fed", (int) getpid(), s, 'a' + i);
		snprintf(d->local_url, sizeof(d->local_url),
		    "inproc://fx-%d-%d-%c-local", (int) getpid(), s, 'a' + i);
		for (int k = 0; k < FX_MAX; k++)
			d->policy[k] = FX_FULL;
	}
	for (int i = 0; i < n; i++)
		fx_start_domain(f, i);
	return f;
}

static inline fx *
fx_new(int n)
{
	return fx_new_with(n, NULL);
}

static inline void
fx_free(fx *f)
{
	/* No local caller first, then every server (letting handlers
	 * finish), then the backends, then the channels they had. */
	for (int i = 0; i < f->n; i++) {
		if (f->d[i].lch != NULL)
			fedrpc_channel_close(f->d[i].lch);
		f->d[i].lch = NULL;
	}
	for (int i = 0; i < f->n; i++) {
		if (f->d[i].fed != NULL)
			fedrpc_server_stop(f->d[i].fed, 2000);
		if (f->d[i].local != NULL)
			fedrpc_server_stop(f->d[i].local, 2000);
	}
	for (int i = 0; i < f->n; i++)
		fx_stop_domain(f, i);
	pthread_mutex_lock(&f->mtx);
	for (int k = 0; k < f->n_chans; k++)
		fedrpc_channel_close(f->chans[k].ch);
	f->n_chans = 0;
	pthread_mutex_unlock(&f->mtx);
	pthread_mutex_destroy(&f->mtx);
	for (size_t i = 0; i < f->n_kept; i++)
		free(f->kept[i]);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

/* Fails unless cond (an expression, polled) holds within TU_WAIT_MS:
 * what travels through another domain's outbox arrives a little later. */
#define FX_EVENTUALLY(cond, ...)                                          \
	cr_assert(TU_WAIT_FOR((cond), TU_WAIT_MS), __VA_ARGS__)

/* ---- local API helpers (assert on failure) ---- */

typedef Fedrpc__Federation__V1__QualifiedId fx_qid;

/* A qualified id in static storage of the caller. */
static inline fx_qid
fx_qid_of(const char *domain, const char *id)
{
	fx_qid q = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	q.domain = (char *) domain;
	q.id     = (char *) id;
	return q;
}

/* A registered user; q points at strings the fixture owns, so copies of
 * the struct stay valid until fx_free(). */
typedef struct fx_user {
	char   id[37];
	char   domain[32];
	fx_qid q;
} fx_user;

static inline char *
fx_keep(fx *f, const char *s)
{
	char *p = strdup(s);

	cr_assert_not_null(p);
	pthread_mutex_lock(&f->mtx);
	cr_assert(f->n_kept < FX_KEEP_MAX);
	f->kept[f->n_kept++] = p;
	pthread_mutex_unlock(&f->mtx);
	return p;
}

static inline void
fx_user_fix(fx *f, fx_user *u)
{
	u->q = fx_qid_of(fx_keep(f, u->domain), fx_keep(f, u->id));
}

static inline fedrpc_code
fx_try_register(fx *f, int dom, const char *handle, const char *name,
    fx_user *u, fedrpc_status *st)
{
	Fedrpc__Local__V1__RegisterUserRequest r =
	    FEDRPC__LOCAL__V1__REGISTER_USER_REQUEST__INIT;
	Fedrpc__Local__V1__RegisterUserResponse *resp;
	fedrpc_code                              rc;

	r.handle = (char *) handle;
	r.name   = (char *) name;
	rc = fedrpc_local_v1_users_register_user(
	    f->d[dom].lch, &r, &resp, NULL, st);
	if (rc == FEDRPC_OK) {
		if (u != NULL) {
			snprintf(u->id, sizeof(u->id), "%s", resp->user->id);
			snprintf(u->domain, sizeof(u->domain), "%s",
			    resp->user->domain);
			fx_user_fix(f, u);
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return rc;
}

static inline fx_user
fx_register(fx *f, int dom, const char *handle)
{
	fx_user       u;
	fedrpc_status st = {0};

	cr_assert_eq(fx_try_register(f, dom, handle, handle, &u, &st),
	    FEDRPC_OK, "register %s: %s", handle, st.message);
	return u;
}

/* A client with one-time prekeys first..first+n-1 and a last resort. */
static inline uint64_t
fx_add_client(fx *f, fx_user *u, uint32_t first, size_t n)
{
	Fedrpc__Local__V1__AddClientRequest r =
	    FEDRPC__LOCAL__V1__ADD_CLIENT_REQUEST__INIT;
	Fedrpc__Local__V1__AddClientResponse *resp;
	Fedrpc__Federation__V1__Prekey        pks[100], last, *pp[100];
	uint8_t                               keys[101][4];
	fedrpc_status                         st = {0};
	uint64_t                              id;
	int dom = fx_index(f, u->domain);

	cr_assert(n <= 100);
	for (size_t i = 0; i < n; i++) {
		fedrpc__federation__v1__prekey__init(&pks[i]);
		pks[i].id = first + (uint32_t) i;
		memcpy(keys[i], &pks[i].id, 4);
		pks[i].key.data = keys[i];
		pks[i].key.len  = 4;
		pp[i]           = &pks[i];
	}
	fedrpc__federation__v1__prekey__init(&last);
	last.id = 65535;
	memcpy(keys[100], "LAST", 4);
	last.key.data  = keys[100];
	last.key.len   = 4;
	r.self         = &u->q;
	r.prekeys      = pp;
	r.n_prekeys    = n;
	r.last_prekey  = &last;
	r.client_class = FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_DESKTOP;
	cr_assert_eq(fedrpc_local_v1_users_add_client(
	                 f->d[dom].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "add client: %s", st.message);
	id = resp->client;
	cr_assert_neq(id, 0);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return id;
}

static inline fedrpc_code
fx_try_connect(fx *f, fx_user *self, fx_user *to, bool accept,
    Fedrpc__Local__V1__Relation *rel, fedrpc_status *st)
{
	int         dom = fx_index(f, self->domain);
	fedrpc_code rc;

	if (accept) {
		Fedrpc__Local__V1__AcceptRequest r =
		    FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
		Fedrpc__Local__V1__AcceptResponse *resp;

		r.self = &self->q;
		r.to   = &to->q;
		rc = fedrpc_local_v1_connections_accept(
		    f->d[dom].lch, &r, &resp, NULL, st);
		if (rc == FEDRPC_OK) {
			if (rel != NULL)
				*rel = resp->connection->relation;
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		}
	} else {
		Fedrpc__Local__V1__ConnectRequest r =
		    FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
		Fedrpc__Local__V1__ConnectResponse *resp;

		r.self = &self->q;
		r.to   = &to->q;
		rc = fedrpc_local_v1_connections_connect(
		    f->d[dom].lch, &r, &resp, NULL, st);
		if (rc == FEDRPC_OK) {
			if (rel != NULL)
				*rel = resp->connection->relation;
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		}
	}
	return rc;
}

/* Connects two users (both sides accepted). */
static inline void
fx_connect(fx *f, fx_user *a, fx_user *b)
{
	fedrpc_status               st = {0};
	Fedrpc__Local__V1__Relation rel;

	cr_assert_eq(fx_try_connect(f, a, b, false, &rel, &st), FEDRPC_OK,
	    "connect: %s", st.message);
	cr_assert_eq(rel, FEDRPC__LOCAL__V1__RELATION__RELATION_SENT);
	cr_assert_eq(fx_try_connect(f, b, a, true, &rel, &st), FEDRPC_OK,
	    "accept: %s", st.message);
	cr_assert_eq(rel, FEDRPC__LOCAL__V1__RELATION__RELATION_ACCEPTED);
}

/* A conversation `name` owned by self's domain with these members (at
 * most 8); its uuid into id (37 bytes). */
static inline void
fx_create(fx *f, fx_user *self, fx_user *const *members, size_t n,
    const char *name, char *id)
{
	Fedrpc__Local__V1__CreateConversationRequest r =
	    FEDRPC__LOCAL__V1__CREATE_CONVERSATION_REQUEST__INIT;
	Fedrpc__Local__V1__CreateConversationResponse *resp;
	fx_qid                                        *qs[8];
	fedrpc_status                                  st = {0};

	cr_assert_leq(n, 8);
	for (size_t i = 0; i < n; i++)
		qs[i] = &members[i]->q;
	r.self      = &self->q;
	r.name      = (char *) name;
	r.members   = qs;
	r.n_members = n;
	cr_assert_eq(fedrpc_local_v1_conversations_create_conversation(
	                 f->d[fx_index(f, self->domain)].lch, &r, &resp, NULL,
	                 &st),
	    FEDRPC_OK, "create %s: %s", name, st.message);
	snprintf(id, 37, "%s", resp->conversation->id->id);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* A client's inbox after `since` (caller frees). */
static inline Fedrpc__Local__V1__FetchInboxResponse *
fx_inbox(fx *f, fx_user *u, uint64_t client, uint64_t since, uint32_t limit)
{
	Fedrpc__Local__V1__FetchInboxRequest r =
	    FEDRPC__LOCAL__V1__FETCH_INBOX_REQUEST__INIT;
	Fedrpc__Local__V1__FetchInboxResponse *resp;
	fedrpc_status                          st = {0};

	r.self   = &u->q;
	r.client = client;
	r.since  = since;
	r.limit  = limit;
	cr_assert_eq(fedrpc_local_v1_inbox_fetch_inbox(
	                 f->d[fx_index(f, u->domain)].lch, &r, &resp, NULL, &st),
	    FEDRPC_OK, "fetch inbox: %s", st.message);
	return resp;
}

/* How many events of one kind a client's inbox holds. */
static inline size_t
fx_count_events(fx *f, fx_user *u, uint64_t client,
    Fedrpc__Local__V1__Event__PayloadCase kind)
{
	Fedrpc__Local__V1__FetchInboxResponse *r = fx_inbox(f, u, client, 0, 1000);
	size_t                                 n = 0;

	for (size_t i = 0; i < r->n_events; i++)
		if (r->events[i]->payload_case == kind)
			n++;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

#endif
