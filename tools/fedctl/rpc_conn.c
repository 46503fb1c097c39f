/*
 * fedctl rpc's connections (rpc_conn.h). A call of a method known only by
 * name goes through the ordinary client runtime with a message type that
 * has no fields: protobuf-c keeps every field of such a message as an
 * unknown field and packs unknown fields back as they came, so the
 * request bytes the JSON codec made go out unchanged, and the reply's
 * bytes come back unchanged for the codec to decode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include <fedrpc/tls.h>

#include "fedrpc/reflection/v1/reflection.fedrpc.h"

#include "fedctl_local.h"
#include "rpc_conn.h"

#define DEFAULT_TIMEOUT_MS 10000

/* ---- the fieldless message that carries any bytes ---- */

static const ProtobufCIntRange raw_ranges[1] = {{0, 0}};
static void raw_init(ProtobufCMessage *m);

static const ProtobufCMessageDescriptor raw_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "fedctl.Raw",
    "Raw",
    "FedctlRaw",
    "fedctl",
    sizeof(ProtobufCMessage),
    0,
    NULL,
    NULL,
    0,
    raw_ranges,
    raw_init,
    NULL,
    NULL,
    NULL,
};

static void
raw_init(ProtobufCMessage *m)
{
	memset(m, 0, sizeof(*m));
	m->descriptor = &raw_descriptor;
}

/* ---- connecting ---- */

static fedrpc_code
load_config(rpc_conn *c, const rpc_conn_opts *o, fedrpc_status *st)
{
	if (o->config == NULL)
		return FEDRPC_OK;
	return fedrpc_config_load_file(o->config, &c->cfg, st);
}

/* --address HOST:PORT, or [V6]:PORT */
static fedrpc_code
parse_address(rpc_conn *c, const char *addr, uint16_t *port, fedrpc_status *st)
{
	const char   *colon = strrchr(addr, ':');
	char         *end;
	unsigned long p;
	size_t        n;

	if (colon == NULL || colon == addr)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "--address %s: expected HOST:PORT", addr);
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "--address %s: bad port", addr);
	n = (size_t) (colon - addr);
	if (addr[0] == '[' && n >= 2 && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= sizeof(c->host))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "--address %s: host name too long", addr);
	memcpy(c->host, addr, n);
	c->host[n] = '\0';
	*port      = (uint16_t) p;
	return FEDRPC_OK;
}

/* Static routes: --address for the domain, then the config's. */
static fedrpc_code
routes(rpc_conn *c, const rpc_conn_opts *o, const char *domain,
    fedrpc_resolver_opts *ro, fedrpc_status *st)
{
	size_t n = c->cfg ? c->cfg->discovery.n_statics : 0;
	size_t k = 0;

	if ((c->statics = calloc(n + 1, sizeof(*c->statics))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	if (o->address != NULL) {
		uint16_t port = 0;

		if (parse_address(c, o->address, &port, st) != FEDRPC_OK)
			return st->code;
		c->statics[k].domain = domain;
		c->statics[k].host   = c->host;
		c->statics[k++].port = port;
	}
	for (size_t i = 0; i < n; i++) {
		c->statics[k].domain = c->cfg->discovery.statics[i].domain;
		c->statics[k].host   = c->cfg->discovery.statics[i].host;
		c->statics[k++].port = c->cfg->discovery.statics[i].port;
	}
	ro->statics   = c->statics;
	ro->n_statics = k;
	return FEDRPC_OK;
}

fedrpc_code
rpc_conn_open_domain(rpc_conn *c, const rpc_conn_opts *o, const char *domain,
    fedrpc_status *st)
{
	fedrpc_tls_opts      tls = {0};
	fedrpc_resolver_opts ro  = {0};
	fedrpc_domains_opts  po  = {0};

	memset(c, 0, sizeof(*c));
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	snprintf(c->where, sizeof(c->where), "%s", domain);
	if (load_config(c, o, st) != FEDRPC_OK)
		return st->code;
	if (c->cfg != NULL)
		fedrpc_config_tls_opts(c->cfg, &tls);
	if (o->ca != NULL)
		tls.ca_file = o->ca;
	if (o->cert != NULL)
		tls.cert_file = o->cert;
	if (o->key != NULL)
		tls.key_file = o->key;
	if (tls.ca_file == NULL || tls.cert_file == NULL || tls.key_file == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "calling %s needs --ca, --cert and --key (or a --config "
		    "with tls files): federation is mutual TLS only",
		    domain);
	po.origin_domain = o->origin ? o->origin : c->cfg ? c->cfg->domain : NULL;
	if (po.origin_domain == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "calling %s needs our domain: --origin DOMAIN (or a "
		    "--config)",
		    domain);
	ro.nameserver = o->nameserver ? o->nameserver
	    : c->cfg                  ? c->cfg->discovery.nameserver
				      : NULL;
	ro.service    = o->service ? o->service
	       : c->cfg            ? c->cfg->discovery.service
				   : NULL;
	ro.timeout_ms = c->timeout_ms;
	if (routes(c, o, domain, &ro, st) != FEDRPC_OK)
		return st->code;
	if (fedrpc_tls_engine_init(st) != FEDRPC_OK)
		return st->code;
	c->tls_up          = true;
	po.tls             = &tls;
	po.resolver_opts   = &ro;
	po.api_version     = c->cfg && c->cfg->api.n_versions > 0
	        ? c->cfg->api.versions[c->cfg->api.n_versions - 1]
	        : 1;
	po.connect_timeout_ms = c->timeout_ms;
	po.scheme             = "tls+tcp";
	if (fedrpc_domains_new(&c->pool, &po, st) != FEDRPC_OK)
		return st->code;
	return fedrpc_domains_channel(c->pool, domain, &c->ch, st);
}

fedrpc_code
rpc_conn_open_local(rpc_conn *c, const rpc_conn_opts *o, fedrpc_status *st)
{
	fedrpc_channel_opts co = {0};
	const char         *u  = o->socket;
	char                url[4200];

	memset(c, 0, sizeof(*c));
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (load_config(c, o, st) != FEDRPC_OK)
		return st->code;
	if (u == NULL && c->cfg != NULL)
		u = c->cfg->local_api;
	if (u == NULL)
		u = getenv("FEDRPC_SOCKET");
	if (u == NULL || u[0] == '\0')
		u = FEDCTL_DEFAULT_SOCKET;
	snprintf(url, sizeof(url), "%s%s", strstr(u, "://") ? "" : "ipc://", u);
	snprintf(c->where, sizeof(c->where), "the local API %.280s", url);
	co.url              = url;
	co.origin_domain    = c->cfg ? c->cfg->domain : "";
	co.target_domain    = "";
	co.api_version      = 1;
	co.default_timeout_ms = c->timeout_ms;
	return fedrpc_channel_open(&c->ch, &co, st);
}

void
rpc_conn_close(rpc_conn *c)
{
	if (c->ch != NULL)
		fedrpc_channel_close(c->ch);
	fedrpc_domains_free(c->pool);
	free(c->statics);
	fedrpc_config_free(c->cfg);
	if (c->tls_up) {
		/* let nng's threads finish closing before wolfSSL goes */
		nng_fini();
		fedrpc_tls_engine_fini();
	}
	memset(c, 0, sizeof(*c));
}

/* ---- calls ---- */

void
rpc_reply_free(rpc_reply *r)
{
	for (size_t i = 0; i < r->n_md; i++) {
		free(r->md_keys[i]);
		free(r->md_values[i]);
	}
	free(r->md_keys);
	free(r->md_values);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static char *
printable(const uint8_t *v, size_t n)
{
	char  *s = malloc(4 * n + 1);
	size_t k = 0;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '\\')
			s[k++] = (char) v[i];
		else
			k += (size_t) sprintf(s + k, "\\x%02x", v[i]);
	}
	s[k] = '\0';
	return s;
}

static void
keep_metadata(void *arg, const fedrpc_metadata *md)
{
	rpc_reply *r = arg;

	r->md_keys   = calloc(md->n + 1, sizeof(char *));
	r->md_values = calloc(md->n + 1, sizeof(char *));
	if (r->md_keys == NULL || r->md_values == NULL)
		return;
	for (size_t i = 0; i < md->n; i++) {
		r->md_keys[i]   = strdup(md->entries[i].key);
		r->md_values[i] =
		    printable(md->entries[i].value, md->entries[i].value_len);
		if (r->md_keys[i] == NULL || r->md_values[i] == NULL) {
			free(r->md_keys[i]);
			free(r->md_values[i]);
			break;
		}
		r->n_md++;
	}
}

fedrpc_code
rpc_conn_call(rpc_conn *c, const char *method, const uint8_t *req, size_t len,
    const fedrpc_metadata *md, rpc_reply *r, fedrpc_status *st)
{
	const char      *slash = strrchr(method, '/');
	fedrpc_method    m     = {
		.full_name = method,
		.name      = slash ? slash + 1 : method,
		.input     = &raw_descriptor,
		.output    = &raw_descriptor,
        };
	fedrpc_call_opts co = {
	    .timeout_ms         = c->timeout_ms,
	    .metadata           = md,
	    .reply_metadata     = keep_metadata,
	    .reply_metadata_arg = r,
	};
	ProtobufCMessage *in, *out = NULL;

	memset(r, 0, sizeof(*r));
	/* the request's bytes, as unknown fields of the fieldless message */
	in = protobuf_c_message_unpack(&raw_descriptor, NULL, len, req);
	if (in == NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "the encoded request does not parse as protobuf");
	fedrpc_channel_call(c->ch, &m, in, &out, &co, st);
	protobuf_c_message_free_unpacked(in, NULL);
	if (st->code != FEDRPC_OK)
		return st->code;
	r->len = protobuf_c_message_get_packed_size(out);
	if ((r->data = malloc(r->len ? r->len : 1)) == NULL) {
		protobuf_c_message_free_unpacked(out, NULL);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	protobuf_c_message_pack(out, r->data);
	protobuf_c_message_free_unpacked(out, NULL);
	return FEDRPC_OK;
}

/* ---- reflection ---- */

static void
call_opts(rpc_conn *c, fedrpc_call_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->timeout_ms = c->timeout_ms;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

fedrpc_code
rpc_conn_services(rpc_conn *c, char ***out, size_t *n, fedrpc_status *st)
{
	Fedrpc__Reflection__V1__ListServicesRequest req =
	    FEDRPC__REFLECTION__V1__LIST_SERVICES_REQUEST__INIT;
	Fedrpc__Reflection__V1__ListServicesResponse *resp = NULL;
	fedrpc_call_opts                               co;

	*out = NULL;
	*n   = 0;
	call_opts(c, &co);
	if (fedrpc_reflection_v1_reflection_list_services(
	        c->ch, &req, &resp, &co, st) != FEDRPC_OK)
		return st->code;
	if ((*out = calloc(resp->n_services + 1, sizeof(char *))) == NULL) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < resp->n_services; i++)
		if (((*out)[*n] = strdup(resp->services[i])) != NULL)
			(*n)++;
	qsort(*out, *n, sizeof(char *), str_cmp);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return FEDRPC_OK;
}

fedrpc_code
rpc_conn_load_symbol(
    rpc_conn *c, rpc_pool *pool, const char *symbol, fedrpc_status *st)
{
	Fedrpc__Reflection__V1__FileContainingSymbolRequest req =
	    FEDRPC__REFLECTION__V1__FILE_CONTAINING_SYMBOL_REQUEST__INIT;
	Fedrpc__Reflection__V1__FileResponse *resp = NULL;
	fedrpc_call_opts                       co;
	char                                   what[400];

	call_opts(c, &co);
	req.symbol = (char *) symbol;
	if (fedrpc_reflection_v1_reflection_file_containing_symbol(
	        c->ch, &req, &resp, &co, st) != FEDRPC_OK)
		return st->code;
	snprintf(what, sizeof(what), "the schema %s sent for %s", c->where,
	    symbol);
	for (size_t i = 0; i < resp->n_file_descriptor_proto; i++)
		if (rpc_pool_add_file(pool, resp->file_descriptor_proto[i].data,
		        resp->file_descriptor_proto[i].len, what,
		        st) != FEDRPC_OK)
			break;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	if (st->code != FEDRPC_OK)
		return st->code;
	return rpc_pool_resolve(pool, st);
}
