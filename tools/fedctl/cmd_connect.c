/*
 * fedctl connect, accept, block and connections: the acting user's
 * connections to users on any domain. A remote step travels to the other
 * user's domain, so an unreachable domain fails the command (exit 3) and
 * changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "fedrpc/local/v1/connections.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

static void
connect_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl connect USER  [common options]\n"
	    "       fedctl accept USER   [common options]\n"
	    "       fedctl block USER    [common options]\n"
	    "       fedctl connections   [common options]\n"
	    "\n"
	    "  connect      asks USER to connect (or accepts, if they asked "
	    "first)\n"
	    "  accept       accepts USER's pending request\n"
	    "  block        blocks USER; they are not told\n"
	    "  connections  lists the acting user's connections and their "
	    "state (sent,\n"
	    "               pending, accepted, blocked, cancelled)\n"
	    "\n"
	    "USER is handle@domain, uuid@domain, or a handle of ours.\n");
	fedctl_common_help(out);
}

/* Which step a command takes. */
typedef enum step { STEP_CONNECT, STEP_ACCEPT, STEP_BLOCK } step;

static int
run_step(step which, const char *name, int argc, char **argv)
{
	fedctl_opts        o = {.cmd = name, .help = connect_help};
	fedctl_session     s;
	fedrpc_status      st = {0};
	fedctl_qid         q;
	fedctl_pb_qid      self, to;
	fedctl_pb_profile *p = NULL;
	ProtobufCMessage  *resp = NULL;
	Fedrpc__Local__V1__Connection *conn = NULL;
	Fedrpc__Local__V1__GetProfilesResponse *profiles = NULL;
	const fedctl_pb_profile *shown;
	fedrpc_code        code;
	char             **pos;
	int                npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 1)
		return fedctl_usage(&o, "give one user");
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_NEED_USER)) != 0)
		return rc;
	if ((rc = fedctl_resolve_user(&s, pos[0], &q, &p)) != 0)
		goto out;
	self = fedctl_self(&s);
	to   = fedctl_qid_pb(&q);
	if (p == NULL) {
		/* Named by id: the profile only for showing who it is. */
		const fedctl_pb_qid *ids[1] = {&to};

		profiles = fedctl_profiles(&s, ids, 1);
	}
	switch (which) {
	case STEP_CONNECT: {
		Fedrpc__Local__V1__ConnectRequest   req =
		    FEDRPC__LOCAL__V1__CONNECT_REQUEST__INIT;
		Fedrpc__Local__V1__ConnectResponse *r = NULL;

		req.self = &self;
		req.to   = &to;
		code     = fedrpc_local_v1_connections_connect(
                    s.ch, &req, &r, fedctl_call(&s), &st);
		resp = r != NULL ? &r->base : NULL;
		conn = r != NULL ? r->connection : NULL;
		break;
	}
	case STEP_ACCEPT: {
		Fedrpc__Local__V1__AcceptRequest   req =
		    FEDRPC__LOCAL__V1__ACCEPT_REQUEST__INIT;
		Fedrpc__Local__V1__AcceptResponse *r = NULL;

		req.self = &self;
		req.to   = &to;
		code     = fedrpc_local_v1_connections_accept(
                    s.ch, &req, &r, fedctl_call(&s), &st);
		resp = r != NULL ? &r->base : NULL;
		conn = r != NULL ? r->connection : NULL;
		break;
	}
	case STEP_BLOCK:
	default: {
		Fedrpc__Local__V1__BlockRequest   req =
		    FEDRPC__LOCAL__V1__BLOCK_REQUEST__INIT;
		Fedrpc__Local__V1__BlockResponse *r = NULL;

		req.self = &self;
		req.to   = &to;
		code     = fedrpc_local_v1_connections_block(
                    s.ch, &req, &r, fedctl_call(&s), &st);
		resp = r != NULL ? &r->base : NULL;
		conn = r != NULL ? r->connection : NULL;
		break;
	}
	}
	if (code != FEDRPC_OK) {
		rc = st.code == FEDRPC_FAILED_PRECONDITION && which == STEP_ACCEPT
		    ? fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
			  "%s: no pending request from %s@%s to accept",
			  name, q.id, q.domain)
		    : fedctl_fail(&s, name, &st);
		goto out;
	}
	if (conn == NULL) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "the federator sent no connection");
		goto out;
	}
	shown = p != NULL ? p : fedctl_profile_of(profiles, conn->to);
	if (o.json)
		fedctl_json_emit(json_pack("{s:o}", "connection",
		    fedctl_json_connection(&s, conn, shown)));
	else {
		printf("%-9s ", fedctl_relation_name(conn->relation));
		fedctl_print_user(&s, stdout, conn->to, shown);
		fputc('\n', stdout);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (p != NULL)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
connect_run(int argc, char **argv)
{
	return run_step(STEP_CONNECT, "connect", argc, argv);
}

static int
accept_run(int argc, char **argv)
{
	return run_step(STEP_ACCEPT, "accept", argc, argv);
}

static int
block_run(int argc, char **argv)
{
	return run_step(STEP_BLOCK, "block", argc, argv);
}

static int
connections_run(int argc, char **argv)
{
	Fedrpc__Local__V1__ListConnectionsRequest   req =
	    FEDRPC__LOCAL__V1__LIST_CONNECTIONS_REQUEST__INIT;
	Fedrpc__Local__V1__ListConnectionsResponse *resp = NULL;
	Fedrpc__Local__V1__GetProfilesResponse     *profiles = NULL;
	fedctl_opts      o = {.cmd = "connections", .help = connect_help};
	fedctl_session   s;
	fedrpc_status    st = {0};
	fedctl_pb_qid    self;
	const fedctl_pb_qid **ids = NULL;
	char           **pos;
	int              npos, rc;

	if ((rc = fedctl_parse(argc, argv, &o, NULL, &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (npos != 0)
		return fedctl_usage(&o, "no arguments expected");
	if ((rc = fedctl_session_open(&s, &o, FEDCTL_NEED_USER)) != 0)
		return rc;
	self     = fedctl_self(&s);
	req.self = &self;
	if (fedrpc_local_v1_connections_list_connections(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing connections", &st);
		goto out;
	}
	/* Names for the ids, best effort: an unreachable domain's users
	 * show by id alone. */
	if (resp->n_connections > 0 &&
	    (ids = calloc(resp->n_connections, sizeof(*ids))) != NULL) {
		for (size_t i = 0; i < resp->n_connections; i++)
			ids[i] = resp->connections[i]->to;
		profiles = fedctl_profiles(&s, ids, resp->n_connections);
	}
	if (o.json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_connections; i++) {
			const Fedrpc__Local__V1__Connection *c =
			    resp->connections[i];

			json_array_append_new(arr, fedctl_json_connection(&s, c,
			    fedctl_profile_of(profiles, c->to)));
		}
		fedctl_json_emit(json_pack("{s:o, s:o}", "user",
		    fedctl_json_qid(&s, &self), "connections", arr));
	} else {
		for (size_t i = 0; i < resp->n_connections; i++) {
			const Fedrpc__Local__V1__Connection *c =
			    resp->connections[i];

			printf("%-9s ", fedctl_relation_name(c->relation));
			fedctl_print_user(&s, stdout, c->to,
			    fedctl_profile_of(profiles, c->to));
			fputc('\n', stdout);
		}
		if (resp->n_connections == 0)
			printf("no connections\n");
	}
	rc = FEDCTL_EXIT_OK;
out:
	free(ids);
	if (profiles != NULL)
		protobuf_c_message_free_unpacked(&profiles->base, NULL);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

const fedctl_cmd fedctl_cmd_connect = {
    .name    = "connect",
    .summary = "ask a user on any domain to connect",
    .run     = connect_run,
    .help    = connect_help,
};

const fedctl_cmd fedctl_cmd_accept = {
    .name    = "accept",
    .summary = "accept a user's connection request",
    .run     = accept_run,
    .help    = connect_help,
};

const fedctl_cmd fedctl_cmd_block = {
    .name    = "block",
    .summary = "block a user (they are not told)",
    .run     = block_run,
    .help    = connect_help,
};

const fedctl_cmd fedctl_cmd_connections = {
    .name    = "connections",
    .summary = "list the user's connections",
    .run     = connections_run,
    .help    = connect_help,
};
