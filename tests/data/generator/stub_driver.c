/*
 * Exercises the stubs generated for golden.proto against a fake runtime:
 * test_generator compiles this file with golden.fedrpc.c and protoc-c's
 * output (under ASan/UBSan) and runs it. It checks what the generated code
 * itself does: the method tables, the blocking and async stubs (callback
 * restored, pending pair freed on every path) and the skeleton's register
 * and thunks. Exits 0 when every check passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.fedrpc.h"

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",         \
			    __FILE__, __LINE__, #cond);                      \
			failures++;                                          \
		}                                                            \
	} while (0)

/* ---- the fake runtime: records what the stubs asked for ---- */

static struct {
	const fedrpc_method    *method;   /* last method called */
	const ProtobufCMessage *req;      /* last request */
	const fedrpc_call_opts *opts;     /* last options */
	fedrpc_code             answer;   /* what the next call returns */
	ProtobufCMessage       *response; /* what a blocking call answers */
	fedrpc_call_cb          cb;       /* the async completion handed in */
	void                   *cb_arg;
	fedrpc_handler          handlers[8]; /* registered, in order */
	size_t                  n_handlers;
	size_t                  fail_handler_at; /* refuse this one (1-based) */
} fake;

fedrpc_code
fedrpc_status_set(fedrpc_status *st, fedrpc_code code, const char *fmt, ...)
{
	if (st != NULL) {
		st->code = code;
		snprintf(st->message, sizeof(st->message), "%s", fmt);
	}
	return code;
}

fedrpc_code
fedrpc_channel_call(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const fedrpc_call_opts *opts, fedrpc_status *st)
{
	(void) ch;
	fake.method = m;
	fake.req    = req;
	fake.opts   = opts;
	*resp       = fake.answer == FEDRPC_OK ? fake.response : NULL;
	return fedrpc_status_set(st, fake.answer, "fake");
}

fedrpc_code
fedrpc_channel_call_async(fedrpc_channel *ch, const fedrpc_method *m,
    const ProtobufCMessage *req, const fedrpc_call_opts *opts,
    fedrpc_call_cb cb, void *arg, fedrpc_call **callp, fedrpc_status *st)
{
	(void) ch;
	(void) callp;
	fake.method = m;
	fake.req    = req;
	fake.opts   = opts;
	if (fake.answer == FEDRPC_OK) {
		fake.cb     = cb;
		fake.cb_arg = arg;
	}
	return fedrpc_status_set(st, fake.answer, "fake");
}

fedrpc_code
fedrpc_server_add_handler(
    fedrpc_server *srv, const fedrpc_handler *h, fedrpc_status *st)
{
	(void) srv;
	if (fake.n_handlers + 1 == fake.fail_handler_at)
		return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS, "fake");
	fake.handlers[fake.n_handlers++] = *h;
	return FEDRPC_OK;
}

/* ---- the application side ---- */

static struct {
	void                                          *impl;
	fedrpc_ctx                                    *ctx;
	const Fedrpc__Golden__V1__GetUserByHandleRequest *req;
	void                                          *resp;
	const void                                    *cb_arg;
	const fedrpc_status                           *cb_st;
	void                                          *cb_resp;
	int                                            calls;
} seen;

static fedrpc_code
on_get_user(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Golden__V1__GetUserByHandleRequest *req,
    Fedrpc__Golden__TypesV1__QualifiedId *resp, fedrpc_status *st)
{
	(void) st;
	seen.impl = impl;
	seen.ctx  = ctx;
	seen.req  = req;
	seen.resp = resp;
	seen.calls++;
	return FEDRPC_NOT_FOUND;
}

static fedrpc_code
on_delete(void *impl, fedrpc_ctx *ctx,
    const Fedrpc__Golden__V1__GetUserByHandleRequest *req,
    Fedrpc__Golden__V1__UserList__Entry *resp, fedrpc_status *st)
{
	(void) st;
	seen.impl = impl;
	seen.ctx  = ctx;
	seen.req  = req;
	seen.resp = resp;
	seen.calls++;
	return FEDRPC_OK;
}

static void
on_list_done(void *arg, const fedrpc_status *st,
    Fedrpc__Golden__V1__UserList *resp)
{
	seen.cb_arg  = arg;
	seen.cb_st   = st;
	seen.cb_resp = resp;
	seen.calls++;
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void
check_tables(void)
{
	const fedrpc_method *m = fedrpc_golden_v1_user_directory_methods;

	CHECK(fedrpc_golden_v1_user_directory_service.n_methods == 3);
	CHECK(fedrpc_golden_v1_user_directory_service.methods == m);
	CHECK(strcmp(fedrpc_golden_v1_user_directory_service.full_name,
	          "fedrpc.golden.v1.UserDirectory") == 0);
	CHECK(strcmp(m[0].full_name,
	          "fedrpc.golden.v1.UserDirectory/GetUserByHandle") == 0);
	CHECK(strcmp(m[0].name, "GetUserByHandle") == 0);
	CHECK(m[0].input == &fedrpc__golden__v1__get_user_by_handle_request__descriptor);
	CHECK(m[0].output == &fedrpc__golden__types_v1__qualified_id__descriptor);
	CHECK(m[1].input == &fedrpc__golden__types_v1__page__cursor__descriptor);
	CHECK(m[1].output == &fedrpc__golden__v1__user_list__descriptor);
	CHECK(m[2].output == &fedrpc__golden__v1__user_list__entry__descriptor);
	CHECK(fedrpc_golden_v1_user_directory_delete_method ==
	      &m[FEDRPC_GOLDEN_V1_USER_DIRECTORY_DELETE_INDEX]);
	CHECK(strcmp(fedrpc_golden_v1_http_probe_service.full_name,
	          "fedrpc.golden.v1.HTTPProbe") == 0);
	CHECK(fedrpc_golden_v1_http_probe_get_http_status_method->input ==
	      &fedrpc__golden__v1__get_user_by_handle_request__descriptor);
}

static void
check_blocking(void)
{
	Fedrpc__Golden__V1__GetUserByHandleRequest req =
	    FEDRPC__GOLDEN__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Golden__TypesV1__QualifiedId *resp = NULL;
	Fedrpc__Golden__TypesV1__QualifiedId *answer = malloc(sizeof(*answer));
	fedrpc_call_opts opts = {.timeout_ms = 5};
	fedrpc_status    st   = {0};
	int              dummy;

	fedrpc__golden__types_v1__qualified_id__init(answer);
	fake.answer   = FEDRPC_OK;
	fake.response = &answer->base;
	CHECK(fedrpc_golden_v1_user_directory_get_user_by_handle(
	          (fedrpc_channel *) &dummy, &req, &resp, &opts, &st) ==
	      FEDRPC_OK);
	CHECK(fake.method == fedrpc_golden_v1_user_directory_get_user_by_handle_method);
	CHECK(fake.req == &req.base);
	CHECK(fake.opts == &opts);
	CHECK(resp == answer);
	free(answer);

	fake.answer = FEDRPC_UNAVAILABLE;
	resp        = (void *) &dummy;
	CHECK(fedrpc_golden_v1_user_directory_get_user_by_handle(
	          (fedrpc_channel *) &dummy, &req, &resp, NULL, &st) ==
	      FEDRPC_UNAVAILABLE);
	CHECK(resp == NULL);
	CHECK(st.code == FEDRPC_UNAVAILABLE);
}

static void
check_async(void)
{
	Fedrpc__Golden__TypesV1__Page__Cursor req =
	    FEDRPC__GOLDEN__TYPES_V1__PAGE__CURSOR__INIT;
	Fedrpc__Golden__V1__UserList *answer = malloc(sizeof(*answer));
	fedrpc_status st = {0}, done = {0};
	int           dummy, arg;

	/* started: the typed callback runs with the caller's arg */
	memset(&seen, 0, sizeof(seen));
	fake.answer = FEDRPC_OK;
	fake.cb     = NULL;
	CHECK(fedrpc_golden_v1_user_directory_list_users_async(
	          (fedrpc_channel *) &dummy, &req, NULL, on_list_done, &arg,
	          NULL, &st) == FEDRPC_OK);
	CHECK(fake.method == fedrpc_golden_v1_user_directory_list_users_method);
	CHECK(fake.req == &req.base);
	CHECK(fake.cb != NULL && fake.cb_arg != NULL);
	fedrpc__golden__v1__user_list__init(answer);
	if (fake.cb != NULL)
		fake.cb(fake.cb_arg, &done, &answer->base);
	CHECK(seen.calls == 1);
	CHECK(seen.cb_arg == &arg);
	CHECK(seen.cb_st == &done);
	CHECK(seen.cb_resp == answer);

	/* not started: no callback, and nothing left allocated */
	memset(&seen, 0, sizeof(seen));
	fake.answer = FEDRPC_UNAVAILABLE;
	CHECK(fedrpc_golden_v1_user_directory_list_users_async(
	          (fedrpc_channel *) &dummy, &req, NULL, on_list_done, &arg,
	          NULL, &st) == FEDRPC_UNAVAILABLE);
	CHECK(seen.calls == 0);

	/* no callback at all is refused before anything starts */
	fake.method = NULL;
	CHECK(fedrpc_golden_v1_user_directory_list_users_async(
	          (fedrpc_channel *) &dummy, &req, NULL, NULL, &arg, NULL,
	          &st) == FEDRPC_INVALID_ARGUMENT);
	CHECK(fake.method == NULL);
}

static void
check_skeleton(void)
{
	fedrpc_golden_v1_user_directory_handlers h = {
	    .get_user_by_handle = on_get_user,
	    .delete_            = on_delete,
	};
	Fedrpc__Golden__V1__GetUserByHandleRequest req =
	    FEDRPC__GOLDEN__V1__GET_USER_BY_HANDLE_REQUEST__INIT;
	Fedrpc__Golden__TypesV1__QualifiedId resp =
	    FEDRPC__GOLDEN__TYPES_V1__QUALIFIED_ID__INIT;
	fedrpc_status st = {0};
	int           impl, server, ctx;

	/* only the non-NULL handlers are registered, each with a thunk */
	CHECK(fedrpc_golden_v1_user_directory_register(
	          (fedrpc_server *) &server, &h, &impl, &st) == FEDRPC_OK);
	CHECK(fake.n_handlers == 2);
	CHECK(fake.handlers[0].method ==
	      fedrpc_golden_v1_user_directory_get_user_by_handle_method);
	CHECK(fake.handlers[0].impl == &impl);
	CHECK(fake.handlers[1].method ==
	      fedrpc_golden_v1_user_directory_delete_method);

	/* a thunk calls the typed handler with the same objects */
	memset(&seen, 0, sizeof(seen));
	CHECK(fake.handlers[0].fn(&fake.handlers[0], (fedrpc_ctx *) &ctx,
	          &req.base, &resp.base, &st) == FEDRPC_NOT_FOUND);
	CHECK(seen.calls == 1);
	CHECK(seen.impl == &impl);
	CHECK(seen.ctx == (fedrpc_ctx *) &ctx);
	CHECK(seen.req == &req);
	CHECK(seen.resp == &resp);

	/* a refused registration stops there and says why */
	fake.n_handlers      = 0;
	fake.fail_handler_at = 2;
	CHECK(fedrpc_golden_v1_user_directory_register(
	          (fedrpc_server *) &server, &h, &impl, &st) ==
	      FEDRPC_ALREADY_EXISTS);
	CHECK(fake.n_handlers == 1);
	CHECK(fedrpc_golden_v1_user_directory_register(
	          (fedrpc_server *) &server, NULL, &impl, &st) ==
	      FEDRPC_INVALID_ARGUMENT);
}

int
main(void)
{
	check_tables();
	check_blocking();
	check_async();
	check_skeleton();
	if (failures == 0)
		printf("stub_driver: all checks passed\n");
	return failures == 0 ? 0 : 1;
}
