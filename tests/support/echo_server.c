/*
 * The test Echo server: the generated skeleton with a handler that echoes
 * the payload, reports what it saw of the caller, and names itself in the
 * reply metadata.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/server.h>

#include "echo_server.h"
#include "fedrpc/testing/v1/echo.fedrpc.h"

struct echo_server {
	fedrpc_server *srv;      /* owned */
	char           name[ECHO_NAME_MAX];
	unsigned       handled;  /* atomic */
};

static fedrpc_code
echo_handle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Testing__V1__EchoRequest *req,
    Fedrpc__Testing__V1__EchoResponse *resp, fedrpc_status *st)
{
	echo_server       *s    = impl;
	const fedrpc_peer *peer = fedrpc_ctx_peer(ctx);

	__atomic_add_fetch(&s->handled, 1, __ATOMIC_RELAXED);
	fedrpc_ctx_add_reply_metadata(ctx, "x-server",
	    (const uint8_t *) s->name, strlen(s->name));
	if (req->fail_code != 0)
		return fedrpc_status_set(st, (fedrpc_code) req->fail_code, "%s",
		    req->fail_message ? req->fail_message : "");
	resp->payload       = req->payload;
	resp->origin_domain = fedrpc_ctx_strdup(ctx, fedrpc_ctx_origin_domain(ctx));
	if (peer != NULL && peer->n_names > 0) {
		resp->peer_names =
		    fedrpc_ctx_alloc(ctx, peer->n_names * sizeof(char *));
		for (size_t i = 0; i < peer->n_names; i++)
			resp->peer_names[i] = fedrpc_ctx_strdup(ctx, peer->names[i]);
		resp->n_peer_names = peer->n_names;
	}
	return FEDRPC_OK;
}

static fedrpc_code
count_handle(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Testing__V1__CountRequest *req,
    Fedrpc__Testing__V1__CountResponse *resp, fedrpc_status *st)
{
	echo_server *s = impl;

	(void) ctx;
	(void) req;
	(void) st;
	resp->handled = __atomic_load_n(&s->handled, __ATOMIC_RELAXED);
	return FEDRPC_OK;
}

echo_server *
echo_server_start(const char *url, const fedrpc_tls_opts *tls, const char *name)
{
	fedrpc_server_opts              o = {.url = url, .tls = tls, .workers = 4};
	fedrpc_testing_v1_echo_handlers h = {
	    .echo = echo_handle, .count = count_handle};
	fedrpc_status st = {0};
	echo_server  *s  = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "echo");
	if (fedrpc_server_new(&s->srv, &o, &st) != FEDRPC_OK ||
	    fedrpc_testing_v1_echo_register(s->srv, &h, s, &st) != FEDRPC_OK ||
	    fedrpc_server_start(s->srv, &st) != FEDRPC_OK) {
		fprintf(stderr, "echo server %s on %s: %s: %s\n", s->name, url,
		    fedrpc_code_name(st.code), st.message);
		fedrpc_server_free(s->srv);
		free(s);
		return NULL;
	}
	return s;
}

int
echo_server_port(echo_server *s)
{
	return fedrpc_server_port(s->srv);
}

struct fedrpc_server *
echo_server_fedrpc(echo_server *s)
{
	return s->srv;
}

unsigned
echo_server_handled(echo_server *s)
{
	return __atomic_load_n(&s->handled, __ATOMIC_RELAXED);
}

void
echo_server_stop(echo_server *s, uint32_t grace_ms)
{
	if (s == NULL)
		return;
	fedrpc_server_stop(s->srv, grace_ms);
	fedrpc_server_free(s->srv);
	free(s);
}

void
echo_server_name_cb(void *arg, const fedrpc_metadata *md)
{
	char          *out = arg;
	size_t         len = 0;
	const uint8_t *v   = fedrpc_metadata_get(md, "x-server", &len);

	if (v == NULL)
		len = 0;
	if (len >= ECHO_NAME_MAX)
		len = ECHO_NAME_MAX - 1;
	memcpy(out, v != NULL ? (const char *) v : "", len);
	out[len] = '\0';
}
