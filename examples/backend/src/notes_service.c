/*
 * The Notes service: the handlers of the generated skeleton
 * (notes.fedrpc.h), their shared state, and the admission hook that
 * authenticates each call's origin domain before any handler runs.
 *
 * Handlers run on the server's worker threads, several at once, so the
 * notes are behind a mutex. A handler fills the response it is given with
 * memory from fedrpc_ctx_alloc()/fedrpc_ctx_strdup(), which the server
 * frees once the reply is sent; it never frees the request.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/origin_auth.h>
#include <fedrpc/server.h>

#include "example/notes/v1/notes.fedrpc.h"
#include "notes_service.h"

#define TEXT_MAX 1000

typedef struct note {
	uint64_t id;
	char    *to;     /* the recipient's user id */
	char    *origin; /* the authenticated domain it came from */
	char    *text;
} note;

struct notes_service {
	char                domain[256]; /* ours */
	fedrpc_server      *srv;
	fedrpc_origin_auth *auth;
	pthread_mutex_t     mu; /* guards what follows */
	note               *notes;
	size_t              n, cap;
};

/*
 * Admission, before every handler: may this connection speak for the
 * origin domain its request names? The peer's certificate must name that
 * domain or one of the targets of its SRV record (what a federator
 * checks). Anything but OK answers the call with that status.
 */
static fedrpc_code
notes_admit(void *arg, fedrpc_ctx *ctx, fedrpc_status *st)
{
	notes_service *ns     = arg;
	const char    *origin = fedrpc_ctx_origin_domain(ctx);
	uint32_t       left   = fedrpc_ctx_time_left_ms(ctx);

	return fedrpc_origin_auth_check(ns->auth, origin != NULL ? origin : "",
	    fedrpc_ctx_peer(ctx), left == UINT32_MAX ? 0 : left, st);
}

/* A recipient must be a user of ours. */
static fedrpc_code
check_recipient(const notes_service *ns,
    const Fedrpc__Federation__V1__QualifiedId *to, fedrpc_status *st)
{
	if (to == NULL || to->id == NULL || to->id[0] == '\0')
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "notes on %s: no recipient", ns->domain);
	if (to->domain == NULL || strcmp(to->domain, ns->domain) != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "notes on %s: %s@%s is not a user of %s", ns->domain,
		    to->id, to->domain != NULL ? to->domain : "", ns->domain);
	return FEDRPC_OK;
}

static fedrpc_code
post_note(void *impl, fedrpc_ctx *ctx,
    const Example__Notes__V1__PostNoteRequest *req,
    Example__Notes__V1__PostNoteResponse *resp, fedrpc_status *st)
{
	notes_service *ns = impl;
	size_t         len = req->text != NULL ? strlen(req->text) : 0;
	note          *n;
	fedrpc_code    code;

	if ((code = check_recipient(ns, req->to, st)) != FEDRPC_OK)
		return code;
	if (len == 0 || len > TEXT_MAX)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "notes on %s: a note has 1 to %d bytes, not %zu",
		    ns->domain, TEXT_MAX, len);
	pthread_mutex_lock(&ns->mu);
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		note  *p   = realloc(ns->notes, cap * sizeof(*p));

		if (p == NULL) {
			pthread_mutex_unlock(&ns->mu);
			return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
			    "notes on %s: out of memory", ns->domain);
		}
		ns->notes = p;
		ns->cap   = cap;
	}
	n         = &ns->notes[ns->n];
	n->id     = ns->n + 1;
	n->to     = strdup(req->to->id);
	/* Authenticated by notes_admit(), so it can be trusted. */
	n->origin = strdup(fedrpc_ctx_origin_domain(ctx));
	n->text   = strdup(req->text);
	if (n->to == NULL || n->origin == NULL || n->text == NULL) {
		free(n->to);
		free(n->origin);
		free(n->text);
		pthread_mutex_unlock(&ns->mu);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "notes on %s: out of memory", ns->domain);
	}
	resp->id = n->id;
	ns->n++;
	pthread_mutex_unlock(&ns->mu);
	return FEDRPC_OK;
}

/* Copies note n into the reply's memory. */
static Example__Notes__V1__Note *
note_copy(fedrpc_ctx *ctx, const note *n)
{
	Example__Notes__V1__Note *m = fedrpc_ctx_alloc(ctx, sizeof(*m));

	if (m == NULL)
		return NULL;
	example__notes__v1__note__init(m);
	m->id            = n->id;
	m->origin_domain = fedrpc_ctx_strdup(ctx, n->origin);
	m->text          = fedrpc_ctx_strdup(ctx, n->text);
	return m->origin_domain != NULL && m->text != NULL ? m : NULL;
}

static fedrpc_code
list_notes(void *impl, fedrpc_ctx *ctx,
    const Example__Notes__V1__ListNotesRequest *req,
    Example__Notes__V1__ListNotesResponse *resp, fedrpc_status *st)
{
	notes_service *ns = impl;
	size_t         count = 0;
	fedrpc_code    code;

	if ((code = check_recipient(ns, req->to, st)) != FEDRPC_OK)
		return code;
	pthread_mutex_lock(&ns->mu);
	for (size_t i = 0; i < ns->n; i++)
		count += strcmp(ns->notes[i].to, req->to->id) == 0;
	resp->notes = fedrpc_ctx_alloc(ctx, (count + 1) * sizeof(*resp->notes));
	for (size_t i = 0; resp->notes != NULL && i < ns->n; i++) {
		if (strcmp(ns->notes[i].to, req->to->id) != 0)
			continue;
		if ((resp->notes[resp->n_notes] =
		            note_copy(ctx, &ns->notes[i])) == NULL)
			break;
		resp->n_notes++;
	}
	pthread_mutex_unlock(&ns->mu);
	if (resp->n_notes != count)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "notes on %s: out of memory", ns->domain);
	return FEDRPC_OK;
}

static void
notes_free(notes_service *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->notes[i].to);
		free(ns->notes[i].origin);
		free(ns->notes[i].text);
	}
	free(ns->notes);
	fedrpc_origin_auth_free(ns->auth);
	pthread_mutex_destroy(&ns->mu);
	free(ns);
}

notes_service *
notes_service_start(const char *url, const fedrpc_tls_opts *tls,
    const char *domain, fedrpc_resolver *resolver)
{
	const example_notes_v1_notes_handlers h = {
	    .post_note = post_note, .list_notes = list_notes};
	fedrpc_origin_auth_opts ao = {.resolver = resolver};
	fedrpc_server_opts      so = {.url = url, .tls = tls, .workers = 4};
	fedrpc_status           st = {0};
	notes_service          *ns = calloc(1, sizeof(*ns));

	if (ns == NULL)
		return NULL;
	snprintf(ns->domain, sizeof(ns->domain), "%s", domain);
	pthread_mutex_init(&ns->mu, NULL);
	if (fedrpc_origin_auth_new(&ns->auth, &ao, &st) != FEDRPC_OK ||
	    fedrpc_server_new(&ns->srv, &so, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: notes on %s: %s\n", domain,
		    st.message);
		notes_free(ns);
		return NULL;
	}
	fedrpc_server_set_admit(ns->srv, notes_admit, ns);
	if (example_notes_v1_notes_register(ns->srv, &h, ns, &st) !=
	        FEDRPC_OK ||
	    fedrpc_server_start(ns->srv, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: notes on %s at %s: %s\n", domain, url,
		    st.message);
		fedrpc_server_free(ns->srv);
		notes_free(ns);
		return NULL;
	}
	return ns;
}

int
notes_service_port(notes_service *ns)
{
	return fedrpc_server_port(ns->srv);
}

void
notes_service_stop(notes_service *ns, uint32_t grace_ms)
{
	if (ns == NULL)
		return;
	/* No handler runs after this returns: the state can go. */
	fedrpc_server_stop(ns->srv, grace_ms);
	fedrpc_server_free(ns->srv);
	notes_free(ns);
}
