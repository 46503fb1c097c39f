/*
 * Part (b): the example's own service, served and called. Serves Notes
 * (notes_service.c) on a loopback mutual-TLS listener and calls it through
 * the generated stubs the way another backend would: a blocking call, an
 * asynchronous one, a call the server refuses (INVALID_ARGUMENT), and a
 * call whose origin the certificate cannot speak for (UNAUTHENTICATED,
 * from the server's admission hook).
 *
 * The listener's certificate is ours (--cert); the channel's server name
 * is the name in it, our domain, because here we dial our own address. A
 * backend dialing another domain uses the SRV target it dials
 * (lookup.c's domain channels do that themselves).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <fedrpc/channel.h>

#include "example/notes/v1/notes.fedrpc.h"
#include "notes_demo.h"
#include "notes_service.h"

/* Made up for the impostor call: reachable only by a static route. */
#define IMPOSTOR "impostor.example"

/* Waits for an asynchronous call. The callback runs on an nng thread and
 * must not block: it only hands the result over. */
typedef struct async_wait {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            done;
	fedrpc_code     code;
	uint64_t        id;
} async_wait;

static void
post_done(void *arg, const fedrpc_status *st,
    Example__Notes__V1__PostNoteResponse *resp)
{
	async_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->code = st->code;
	if (resp != NULL) {
		w->id = resp->id;
		/* The callback owns the reply. */
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* A channel to the service, speaking for `origin`. */
static fedrpc_channel *
open_channel(const example_opts *o, int port, const char *origin)
{
	char                url[64];
	fedrpc_tls_opts     tls;
	fedrpc_channel_opts co = {0};
	fedrpc_channel     *ch;
	fedrpc_status       st = {0};

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	example_tls_opts(o, &tls);
	/* The name the listener's certificate carries. */
	tls.server_name       = o->origin;
	co.url                = url;
	co.tls                = &tls;
	co.origin_domain      = origin;
	co.target_domain      = o->origin;
	co.default_timeout_ms = o->timeout_ms;
	if (fedrpc_channel_open(&ch, &co, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: channel to %s: %s\n", url,
		    st.message);
		return NULL;
	}
	return ch;
}

/* PostNote, blocking: the expected code or a complaint. */
static bool
post(fedrpc_channel *ch, const char *to_domain, const char *text,
    fedrpc_code want, const char *what)
{
	Example__Notes__V1__PostNoteRequest req =
	    EXAMPLE__NOTES__V1__POST_NOTE_REQUEST__INIT;
	Fedrpc__Federation__V1__QualifiedId to =
	    FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;
	Example__Notes__V1__PostNoteResponse *resp = NULL;
	fedrpc_status st = {0};
	fedrpc_code   code;

	to.id     = "9122e5de-b4fb-40fa-99ad-1b5d7d07bae5";
	to.domain = (char *) to_domain;
	req.to    = &to;
	req.text  = (char *) text;
	code = example_notes_v1_notes_post_note(ch, &req, &resp, NULL, &st);
	printf("%-32s %s%s%s\n", what, fedrpc_code_name(code),
	    code == FEDRPC_OK ? "" : ": ", code == FEDRPC_OK ? "" : st.message);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedrpc_status_reset(&st);
	return code == want;
}

/* PostNote, asynchronous, waited for. */
static bool
post_async(fedrpc_channel *ch, const char *to_domain, const char *text)
{
	Example__Notes__V1__PostNoteRequest req =
	    EXAMPLE__NOTES__V1__POST_NOTE_REQUEST__INIT;
	Fedrpc__Federation__V1__QualifiedId to =
	    FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;
	async_wait    w  = {.done = false};
	fedrpc_status st = {0};

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	to.id     = "9122e5de-b4fb-40fa-99ad-1b5d7d07bae5";
	to.domain = (char *) to_domain;
	req.to    = &to;
	req.text  = (char *) text;
	/* The request is packed before this returns: it may go at once. */
	if (example_notes_v1_notes_post_note_async(
		ch, &req, NULL, post_done, &w, NULL, &st) != FEDRPC_OK) {
		printf("%-32s %s: %s\n", "PostNote (async)",
		    fedrpc_code_name(st.code), st.message);
		return false;
	}
	/* Exactly one callback; the call's deadline bounds the wait. */
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	printf("%-32s %s (note %llu)\n", "PostNote (async)",
	    fedrpc_code_name(w.code), (unsigned long long) w.id);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	return w.code == FEDRPC_OK;
}

/* ListNotes: `want` notes, each from `origin`. */
static bool
list(fedrpc_channel *ch, const char *domain, size_t want, const char *origin)
{
	Example__Notes__V1__ListNotesRequest req =
	    EXAMPLE__NOTES__V1__LIST_NOTES_REQUEST__INIT;
	Fedrpc__Federation__V1__QualifiedId to =
	    FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;
	Example__Notes__V1__ListNotesResponse *resp = NULL;
	fedrpc_status st = {0};
	bool          ok;

	to.id     = "9122e5de-b4fb-40fa-99ad-1b5d7d07bae5";
	to.domain = (char *) domain;
	req.to    = &to;
	if (example_notes_v1_notes_list_notes(ch, &req, &resp, NULL, &st) !=
	    FEDRPC_OK) {
		printf("%-32s %s: %s\n", "ListNotes",
		    fedrpc_code_name(st.code), st.message);
		return false;
	}
	ok = resp->n_notes == want;
	printf("%-32s OK, %zu notes\n", "ListNotes", resp->n_notes);
	for (size_t i = 0; i < resp->n_notes; i++) {
		const Example__Notes__V1__Note *n = resp->notes[i];

		printf("    #%llu from %s: %s\n", (unsigned long long) n->id,
		    n->origin_domain, n->text);
		ok = ok && strcmp(n->origin_domain, origin) == 0;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return ok;
}

int
example_notes(const example_opts *o)
{
	/* The impostor domain has a static route to an address: only a
	 * certificate naming impostor.example itself may speak for it. */
	const fedrpc_static_route impostor = {IMPOSTOR, "127.0.0.1", 1};
	fedrpc_resolver_opts      ro = {.nameserver = o->nameserver,
	         .statics = &impostor, .n_statics = 1};
	fedrpc_resolver          *resolver;
	fedrpc_tls_opts           tls;
	notes_service            *ns;
	fedrpc_channel           *ch, *bad;
	fedrpc_status             st = {0};
	int                       failed = 0;

	if (fedrpc_resolver_new(&resolver, &ro, &st) != FEDRPC_OK) {
		fprintf(stderr, "example: resolver: %s\n", st.message);
		return 1;
	}
	example_tls_opts(o, &tls);
	ns = notes_service_start("tls+tcp://127.0.0.1:0", &tls, o->origin,
	    resolver);
	if (ns == NULL) {
		fedrpc_resolver_free(resolver);
		return 1;
	}
	printf("serving example.notes.v1.Notes for %s on 127.0.0.1:%d\n",
	    o->origin, notes_service_port(ns));

	ch  = open_channel(o, notes_service_port(ns), o->origin);
	bad = open_channel(o, notes_service_port(ns), IMPOSTOR);
	if (ch == NULL || bad == NULL) {
		failed++;
	} else {
		failed += !post(ch, o->origin, "hello from the example",
		    FEDRPC_OK, "PostNote");
		failed += !post_async(ch, o->origin, "once more, async");
		failed += !post(ch, "elsewhere.example", "for nobody here",
		    FEDRPC_INVALID_ARGUMENT, "PostNote (not our user)");
		failed += !post(bad, o->origin, "I am someone else",
		    FEDRPC_UNAUTHENTICATED, "PostNote (as " IMPOSTOR ")");
		failed += !list(ch, o->origin, 2, o->origin);
	}
	if (bad != NULL)
		fedrpc_channel_close(bad);
	if (ch != NULL)
		fedrpc_channel_close(ch);
	notes_service_stop(ns, 1000);
	fedrpc_resolver_free(resolver);
	if (failed == 0)
		printf("notes: every answer as expected\n");
	else
		printf("notes: FAILED, %d answers not as expected\n", failed);
	return failed == 0 ? 0 : 1;
}
