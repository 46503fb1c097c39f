/*
 * The per-call context handed to handlers, and the arena that holds every
 * allocation of one call. Each worker owns one context and reuses it, so a
 * call normally allocates nothing from malloc at all.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "server/server_int.h"

/* The chunk a worker keeps between calls. */
#define ARENA_CHUNK 8192
/* Larger requests get a chunk of their own. */
#define ARENA_BIG (ARENA_CHUNK / 4)
#define ARENA_ALIGN (alignof(max_align_t))

static size_t
align_up(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

/* Chunk headers are padded so that data stays aligned. */
#define CHUNK_HDR align_up(sizeof(srv_chunk))

static uint8_t *
chunk_data(srv_chunk *c)
{
	return (uint8_t *) c + CHUNK_HDR;
}

static srv_chunk *
chunk_new(size_t size)
{
	srv_chunk *c = malloc(CHUNK_HDR + size);

	if (c != NULL) {
		c->next = NULL;
		c->size = size;
		c->used = 0;
	}
	return c;
}

/* Uninitialised memory; protobuf-c fills everything it asks for. */
static void *
arena_alloc_raw(srv_arena *a, size_t size)
{
	srv_chunk *c = a->head;
	uint8_t   *p;

	size = align_up(size == 0 ? 1 : size);
	if (size > ARENA_BIG) {
		/* Behind the head, so the head keeps serving small ones. */
		if ((c = chunk_new(size)) == NULL)
			return NULL;
		c->used = size;
		if (a->head == NULL) {
			a->head = c;
		} else {
			c->next       = a->head->next;
			a->head->next = c;
		}
		return chunk_data(c);
	}
	if (c == NULL || c->size - c->used < size) {
		if ((c = chunk_new(ARENA_CHUNK)) == NULL)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = chunk_data(c) + c->used;
	c->used += size;
	return p;
}

void *
srv_arena_alloc(srv_arena *a, size_t size)
{
	void *p = arena_alloc_raw(a, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

static void *
pb_alloc(void *data, size_t size)
{
	return arena_alloc_raw(data, size);
}

static void
pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

void
srv_arena_init(srv_arena *a)
{
	a->head              = NULL;
	a->pb.alloc          = pb_alloc;
	a->pb.free           = pb_free;
	a->pb.allocator_data = a;
}

void
srv_arena_reset(srv_arena *a)
{
	srv_chunk *keep = NULL, *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (keep == NULL && c->size == ARENA_CHUNK) {
			keep = c;
			continue;
		}
		free(c);
	}
	if (keep != NULL) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
}

void
srv_arena_fini(srv_arena *a)
{
	srv_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

void
srv_ctx_init(fedrpc_ctx *cx, fedrpc_server *srv)
{
	memset(cx, 0, sizeof(*cx));
	cx->srv = srv;
	srv_arena_init(&cx->arena);
}

void
srv_ctx_reset(fedrpc_ctx *cx)
{
	if (cx->peer != NULL)
		srv_peer_release(cx->peer);
	cx->peer         = NULL;
	cx->rc           = NULL;
	cx->handler      = NULL;
	cx->deadline_ms  = 0;
	cx->reply_md     = NULL;
	cx->n_reply_md   = 0;
	cx->cap_reply_md = 0;
	memset(&cx->req, 0, sizeof(cx->req));
	srv_arena_reset(&cx->arena);
}

void
srv_ctx_fini(fedrpc_ctx *cx)
{
	srv_ctx_reset(cx);
	srv_arena_fini(&cx->arena);
}

fedrpc_ctx *
fedrpc_ctx_new(void)
{
	fedrpc_ctx *cx = malloc(sizeof(*cx));

	if (cx != NULL)
		srv_ctx_init(cx, NULL);
	return cx;
}

void
fedrpc_ctx_reset(fedrpc_ctx *ctx)
{
	if (ctx != NULL)
		srv_ctx_reset(ctx);
}

void
fedrpc_ctx_free(fedrpc_ctx *ctx)
{
	if (ctx == NULL)
		return;
	srv_ctx_fini(ctx);
	free(ctx);
}

const fedrpc_method *
fedrpc_ctx_method(const fedrpc_ctx *ctx)
{
	return ctx->handler != NULL ? ctx->handler->method : NULL;
}

const char *
fedrpc_ctx_method_name(const fedrpc_ctx *ctx)
{
	return ctx->req.method != NULL ? ctx->req.method : "";
}

const char *
fedrpc_ctx_origin_domain(const fedrpc_ctx *ctx)
{
	return ctx->req.origin_domain != NULL ? ctx->req.origin_domain : "";
}

const char *
fedrpc_ctx_target_domain(const fedrpc_ctx *ctx)
{
	return ctx->req.target_domain != NULL ? ctx->req.target_domain : "";
}

uint32_t
fedrpc_ctx_api_version(const fedrpc_ctx *ctx)
{
	return ctx->req.api_version;
}

const uint8_t *
fedrpc_ctx_request_id(const fedrpc_ctx *ctx)
{
	return ctx->req.request_id;
}

const fedrpc_metadata *
fedrpc_ctx_metadata(const fedrpc_ctx *ctx)
{
	return &ctx->req.metadata;
}

const fedrpc_peer *
fedrpc_ctx_peer(const fedrpc_ctx *ctx)
{
	static const fedrpc_peer none = {0};

	return ctx->peer != NULL ? &ctx->peer->peer : &none;
}

const fedrpc_conn *
fedrpc_ctx_conn(const fedrpc_ctx *ctx)
{
	return ctx->peer;
}

nng_pipe
fedrpc_ctx_pipe(const fedrpc_ctx *ctx)
{
	return ctx->pipe;
}

uint32_t
fedrpc_ctx_time_left_ms(const fedrpc_ctx *ctx)
{
	uint64_t now;

	if (ctx->deadline_ms == 0)
		return UINT32_MAX;
	now = fedrpc_clock_ms();
	if (now >= ctx->deadline_ms)
		return 0;
	if (ctx->deadline_ms - now >= UINT32_MAX)
		return UINT32_MAX - 1;
	return (uint32_t) (ctx->deadline_ms - now);
}

bool
fedrpc_ctx_is_cancelled(const fedrpc_ctx *ctx)
{
	if (ctx->srv != NULL &&
	    __atomic_load_n(&ctx->srv->stopping, __ATOMIC_RELAXED))
		return true;
	if (ctx->rc != NULL &&
	    __atomic_load_n(&ctx->rc->cancelled, __ATOMIC_RELAXED))
		return true;
	return ctx->deadline_ms != 0 && fedrpc_clock_ms() >= ctx->deadline_ms;
}

fedrpc_code
fedrpc_ctx_add_reply_metadata(
    fedrpc_ctx *ctx, const char *key, const uint8_t *value, size_t len)
{
	fedrpc_metadata_entry *e;
	uint8_t               *v = NULL;
	char                  *k;

	if (key == NULL || !fedrpc_metadata_key_valid(key, strlen(key)) ||
	    (len > 0 && value == NULL))
		return FEDRPC_INVALID_ARGUMENT;
	if (ctx->n_reply_md == ctx->cap_reply_md) {
		size_t cap = ctx->cap_reply_md == 0 ? 4 : 2 * ctx->cap_reply_md;

		e = srv_arena_alloc(&ctx->arena, cap * sizeof(*e));
		if (e == NULL)
			return FEDRPC_RESOURCE_EXHAUSTED;
		if (ctx->n_reply_md > 0)
			memcpy(e, ctx->reply_md, ctx->n_reply_md * sizeof(*e));
		ctx->reply_md     = e;
		ctx->cap_reply_md = cap;
	}
	if ((k = fedrpc_ctx_strdup(ctx, key)) == NULL ||
	    (len > 0 && (v = fedrpc_ctx_alloc(ctx, len)) == NULL))
		return FEDRPC_RESOURCE_EXHAUSTED;
	if (len > 0)
		memcpy(v, value, len);
	e            = &ctx->reply_md[ctx->n_reply_md++];
	e->key       = k;
	e->value     = v;
	e->value_len = len;
	return FEDRPC_OK;
}

void *
fedrpc_ctx_alloc(fedrpc_ctx *ctx, size_t size)
{
	return srv_arena_alloc(&ctx->arena, size);
}

char *
fedrpc_ctx_strdup(fedrpc_ctx *ctx, const char *s)
{
	size_t len;
	char  *p;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if ((p = arena_alloc_raw(&ctx->arena, len + 1)) != NULL)
		memcpy(p, s, len + 1);
	return p;
}

ProtobufCAllocator *
fedrpc_ctx_allocator(fedrpc_ctx *ctx)
{
	return &ctx->arena.pb;
}
