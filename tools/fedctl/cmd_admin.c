/*
 * fedctl admin: the running federator as its operator sees it, over the
 * local API's Admin service (proto/fedrpc/local/v1/admin.proto), which
 * the daemon serves only to its own user and root. `domains` shows each
 * domain it calls (SRV answer, the instance in use, connection state,
 * back-off, last error); `reset` ends a domain's back-off so the next
 * call goes out at once; `reload` re-reads the configuration as SIGHUP
 * does; `health` prints the daemon's counters.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedrpc/local/v1/admin.fedrpc.h"

#include "fedctl_local.h"
#include "fedctl_output.h"

typedef Fedrpc__Local__V1__DomainView domain_view;

static void
admin_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl admin domains [DOMAIN]              [common options]\n"
	    "       fedctl admin reset DOMAIN\n"
	    "       fedctl admin reload\n"
	    "       fedctl admin health\n"
	    "\n"
	    "The running daemon, for its operator (the daemon's own user or "
	    "root).\n"
	    "\n"
	    "  domains  every domain the daemon calls (or DOMAIN): connection "
	    "state,\n"
	    "           the instance in use, back-off and the next attempt, the "
	    "last\n"
	    "           error, and the SRV answer it works from\n"
	    "  reset    ends DOMAIN's connection back-off and delivery pause: "
	    "the next\n"
	    "           call to it goes out at once\n"
	    "  reload   re-reads the configuration file, as SIGHUP does; says "
	    "why when\n"
	    "           the file is refused (the old settings stay)\n"
	    "  health   the daemon's counters (admission, connections, "
	    "reloads, the\n"
	    "           listener's self-check, discovery, outgoing calls)\n");
	fedctl_common_help(out);
}

/* "in 3 s", "12 s ago", "-" for 0. */
static void
when(int64_t unix_ms, char *buf, size_t n)
{
	struct timespec ts;
	int64_t         now, d;

	if (unix_ms == 0) {
		snprintf(buf, n, "-");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	d   = unix_ms - now;
	if (d > -1000 && d < 1000)
		snprintf(buf, n, "now");
	else if (d > 0)
		snprintf(buf, n, "in %" PRId64 " s", d / 1000);
	else
		snprintf(buf, n, "%" PRId64 " s ago", -d / 1000);
}

static json_t *
view_json(const domain_view *v)
{
	json_t *srv = json_array();

	for (size_t i = 0; i < v->n_srv; i++) {
		const Fedrpc__Local__V1__SrvTarget *t = v->srv[i];

		json_array_append_new(srv,
		    json_pack("{s:s, s:i, s:i, s:i, s:o}", "host", t->host,
		        "port", (int) t->port, "priority", (int) t->priority,
		        "weight", (int) t->weight, "addresses",
		        fedctl_json_strings(t->addresses, t->n_addresses)));
	}
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:i, s:I, s:I, s:s, "
			 "s:s, s:o, s:b, s:b, s:s}",
	    "domain", v->domain, "state", v->state, "target", v->target, "port",
	    (int) v->port, "address", v->address, "backoff_ms",
	    (json_int_t) v->backoff_ms, "failures", (int) v->failures,
	    "next_attempt_unix_ms", (json_int_t) v->next_attempt_unix_ms,
	    "last_attempt_unix_ms", (json_int_t) v->last_attempt_unix_ms,
	    "last_error", v->last_error, "last_error_code", v->last_error_code,
	    "srv", srv, "srv_static", (int) v->srv_static, "srv_looked_up",
	    (int) v->srv_looked_up, "srv_error", v->srv_error);
}

static void
view_print(const domain_view *v)
{
	char next[32], last[32], inst[320];

	when(v->next_attempt_unix_ms, next, sizeof(next));
	when(v->last_attempt_unix_ms, last, sizeof(last));
	if (v->target[0] != '\0')
		snprintf(inst, sizeof(inst), "%s:%u (%s)", v->target,
		    (unsigned) v->port, v->address);
	else
		snprintf(inst, sizeof(inst), "-");
	printf("%s\n  state:        %s\n  instance:     %s\n", v->domain,
	    v->state, inst);
	printf("  back-off:     %u ms, %u failed in a row, next attempt %s\n",
	    v->backoff_ms, v->failures, next);
	printf("  last attempt: %s\n  last error:   %s%s%s%s\n", last,
	    v->last_error_code[0] ? v->last_error_code : "-",
	    v->last_error[0] ? " (" : "", v->last_error,
	    v->last_error[0] ? ")" : "");
	if (v->n_srv == 0)
		printf("  srv:          - (%s)\n",
		    v->srv_error[0] ? v->srv_error : "no answer");
	for (size_t i = 0; i < v->n_srv; i++) {
		const Fedrpc__Local__V1__SrvTarget *t = v->srv[i];

		printf("  srv:          %s:%u priority %u weight %u%s%s",
		    t->host, (unsigned) t->port, (unsigned) t->priority,
		    (unsigned) t->weight, v->srv_static ? " (static)" : "",
		    v->srv_looked_up ? " (looked up now)" : "");
		for (size_t k = 0; k < t->n_addresses; k++)
			printf("%s%s", k ? ", " : " -> ", t->addresses[k]);
		printf("\n");
	}
}

/* Opens the session for a subcommand with exactly `want` arguments. */
static int
admin_open(fedctl_opts *o, int argc, char **argv, int min, int max,
    const char *usage, fedctl_session *s, char ***pos, int *npos)
{
	int rc;

	if ((rc = fedctl_parse(argc, argv, o, NULL, pos, npos)) != 0)
		return rc < 0 ? -1 : rc;
	if (*npos < min || *npos > max)
		return fedctl_usage(o, "%s", usage);
	return fedctl_session_open(s, o, FEDCTL_MAYBE_USER);
}

static int
admin_domains(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ListDomainsRequest   req =
	    FEDRPC__LOCAL__V1__LIST_DOMAINS_REQUEST__INIT;
	Fedrpc__Local__V1__ListDomainsResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = admin_open(o, argc, argv, 0, 1, "give at most one DOMAIN", &s,
	         &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	req.domain = npos == 1 ? pos[0] : "";
	if (fedrpc_local_v1_admin_list_domains(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "listing the domains", &st);
		goto out;
	}
	if (npos == 1 && resp->n_domains == 0) {
		rc = fedctl_failf(&s, FEDCTL_EXIT_FAILURE,
		    "the daemon has not called %s", pos[0]);
		goto out;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < resp->n_domains; i++)
			json_array_append_new(arr, view_json(resp->domains[i]));
		fedctl_json_emit(json_pack("{s:o}", "domains", arr));
	} else if (resp->n_domains == 0) {
		printf("no domain called yet\n");
	} else {
		for (size_t i = 0; i < resp->n_domains; i++)
			view_print(resp->domains[i]);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
admin_reset(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ResetBackoffRequest   req =
	    FEDRPC__LOCAL__V1__RESET_BACKOFF_REQUEST__INIT;
	Fedrpc__Local__V1__ResetBackoffResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = admin_open(o, argc, argv, 1, 1, "give DOMAIN", &s, &pos,
	         &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	req.domain = pos[0];
	if (fedrpc_local_v1_admin_reset_backoff(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "resetting the back-off", &st);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:o}", "domain",
		    resp->domain != NULL ? view_json(resp->domain) : json_null()));
	else
		printf("%s: back-off reset; the next call goes out at once\n",
		    pos[0]);
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
admin_reload(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__ReloadRequest   req = FEDRPC__LOCAL__V1__RELOAD_REQUEST__INIT;
	Fedrpc__Local__V1__ReloadResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = admin_open(o, argc, argv, 0, 0, "no arguments expected", &s,
	         &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (fedrpc_local_v1_admin_reload(s.ch, &req, &resp, fedctl_call(&s),
	        &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "reloading", &st);
		goto out;
	}
	if (o->json)
		fedctl_json_emit(json_pack("{s:b, s:I, s:I}", "applied", 1,
		    "reloads", (json_int_t) resp->reloads, "reload_failures",
		    (json_int_t) resp->reload_failures));
	else
		printf("configuration reloaded (%" PRIu64 " reloads, %" PRIu64
		       " refused since start)\n",
		    resp->reloads, resp->reload_failures);
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static int
admin_health(fedctl_opts *o, int argc, char **argv)
{
	Fedrpc__Local__V1__GetCountersRequest   req =
	    FEDRPC__LOCAL__V1__GET_COUNTERS_REQUEST__INIT;
	Fedrpc__Local__V1__GetCountersResponse *resp = NULL;
	fedctl_session s;
	fedrpc_status  st = {0};
	char         **pos;
	int            npos, rc;

	if ((rc = admin_open(o, argc, argv, 0, 0, "no arguments expected", &s,
	         &pos, &npos)) != 0)
		return rc < 0 ? FEDCTL_EXIT_OK : rc;
	if (fedrpc_local_v1_admin_get_counters(
	        s.ch, &req, &resp, fedctl_call(&s), &st) != FEDRPC_OK) {
		rc = fedctl_fail(&s, "reading the counters", &st);
		goto out;
	}
	if (o->json) {
		json_t *obj = json_object();

		for (size_t i = 0; i < resp->n_counters; i++)
			json_object_set_new(obj, resp->counters[i]->name,
			    json_string(resp->counters[i]->value));
		fedctl_json_emit(json_pack("{s:o}", "counters", obj));
	} else {
		for (size_t i = 0; i < resp->n_counters; i++)
			printf("%-26s %s\n", resp->counters[i]->name,
			    resp->counters[i]->value);
	}
	rc = FEDCTL_EXIT_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	fedctl_session_close(&s);
	return rc;
}

static const fedctl_sub subs[] = {
	{"domains", admin_domains},
	{"reset", admin_reset},
	{"reload", admin_reload},
	{"health", admin_health},
	{NULL, NULL},
};

static int
admin_run(int argc, char **argv)
{
	return fedctl_dispatch(argc, argv, subs, admin_help);
}

const fedctl_cmd fedctl_cmd_admin = {
	.name    = "admin",
	.summary = "the running daemon, for its operator: domains, reset, "
		   "reload, health",
	.run     = admin_run,
	.help    = admin_help,
};
