/*
 * The session of a fedctl user command: its options, the channel to the
 * local federator's API (ipc://, from --socket, --config's local_api,
 * $FEDRPC_SOCKET or the user's key store), the acting user, what a failed
 * call means for the exit code, and looking up the users and conversations
 * named on the command line.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <fedrpc/ids.h>
#include <fedrpc/log.h>

#include "fedrpc/local/v1/conversations.fedrpc.h"
#include "fedrpc/local/v1/users.fedrpc.h"

#include "core/base/dns_name.h"
#include "fedctl_local.h"
#include "fedctl_output.h"

/* Option values of the common options (above any character). */
enum {
	OPT_SOCKET = 256,
	OPT_CONFIG,
	OPT_AS,
	OPT_HOME,
	OPT_CLIENT,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_HELP,
	OPT_DEF = 512, /* + index into the command's definitions */
};

#define MAX_LONGS 48

/* ---- the command line ---- */

int
fedctl_usage(const fedctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fedctl %s: ", o->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see fedctl %s --help)\n", o->cmd);
	if (fedctl_json_wanted || o->json) {
		char msg[1024];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fedctl_json_wanted = true;
		fedctl_usage_json("%s: %s", o->cmd, msg);
	}
	return FEDCTL_EXIT_USAGE;
}

static bool
strs_add(fedctl_strs *l, const char *v)
{
	const char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return false;
	nv[l->n++] = v;
	l->v       = nv;
	return true;
}

int
fedctl_parse(int argc, char **argv, fedctl_opts *o, const fedctl_optdef *defs,
    char ***pos, int *npos)
{
	static const struct option common[] = {
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"as", required_argument, NULL, OPT_AS},
	    {"home", required_argument, NULL, OPT_HOME},
	    {"client", required_argument, NULL, OPT_CLIENT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, OPT_HELP},
	};
	struct option longs[MAX_LONGS];
	size_t        n = 0;
	int           c;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		longs[n++] = common[i];
	for (size_t i = 0; defs != NULL && defs[i].name != NULL; i++) {
		if (n + 1 >= MAX_LONGS)
			break;
		longs[n].name    = defs[i].name;
		longs[n].has_arg = defs[i].flag != NULL ? no_argument
							: required_argument;
		longs[n].flag    = NULL;
		longs[n].val     = OPT_DEF + (int) i;
		n++;
	}
	memset(&longs[n], 0, sizeof(longs[n]));
	o->timeout_ms = FEDCTL_DEFAULT_TIMEOUT_MS;
	optind        = 1;
	opterr        = 0;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		char              *end;
		unsigned long      v;
		const fedctl_optdef *d;

		switch (c) {
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_AS:
			o->as = optarg;
			break;
		case OPT_HOME:
			o->home = optarg;
			break;
		case OPT_CLIENT:
			o->client = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			v     = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 ||
			    v > 3600000)
				return fedctl_usage(o,
				    "bad --timeout \"%s\" (milliseconds, "
				    "1..3600000)",
				    optarg);
			o->timeout_ms = (uint32_t) v;
			break;
		case 'h':
		case OPT_HELP:
			o->help(stdout);
			return -1;
		case ':':
			return fedctl_usage(
			    o, "%s needs a value", argv[optind - 1]);
		case '?':
			return fedctl_usage(
			    o, "unknown option %s", argv[optind - 1]);
		default:
			if (c < OPT_DEF)
				return fedctl_usage(
				    o, "unknown option %s", argv[optind - 1]);
			d = &defs[c - OPT_DEF];
			if (d->flag != NULL)
				*d->flag = true;
			else if (d->value != NULL)
				*d->value = optarg;
			else if (d->list != NULL && !strs_add(d->list, optarg))
				return fedctl_usage(o, "out of memory");
			break;
		}
	}
	*pos  = argv + optind;
	*npos = argc - optind;
	return 0;
}

void
fedctl_common_help(FILE *out)
{
	fprintf(out,
	    "\n"
	    "common options:\n"
	    "  --socket URL   the local federator's API: ipc://PATH or PATH "
	    "(default:\n"
	    "                 --config's local_api, else $FEDRPC_SOCKET, else "
	    "the socket\n"
	    "                 the user registered through, else %s)\n"
	    "  --config FILE  a federator configuration (its local_api and "
	    "domain)\n"
	    "  --as USER      act as HANDLE@DOMAIN (or $FEDCTL_USER; default: "
	    "the only\n"
	    "                 user in the home)\n"
	    "  --home DIR     the key store folder (default $FEDCTL_HOME, else\n"
	    "                 ~/.local/share/fedctl); one file per user, mode "
	    "0600\n"
	    "  --client ID    act as this client (hex; default: the current "
	    "one)\n"
	    "  --timeout MS   bound on each call (default %d)\n"
	    "  --json         print one JSON object instead of text\n"
	    "  --help         this text\n"
	    "\n"
	    "Users and conversations show as uuid@domain; those of other "
	    "domains carry\n"
	    "[federated: DOMAIN] (coloured on a terminal; NO_COLOR turns "
	    "colour off).\n"
	    "\n"
	    "exit codes: 0 done; 1 failed; 2 bad command line; 3 another "
	    "domain was\n"
	    "            unreachable or refused the call (a federation "
	    "failure)\n",
	    FEDCTL_DEFAULT_SOCKET, FEDCTL_DEFAULT_TIMEOUT_MS);
}

int
fedctl_dispatch(
    int argc, char **argv, const fedctl_sub *subs, void (*help)(FILE *))
{
	static char cmd[64];
	fedctl_opts o = {.help = help};

	if (argc < 2) {
		fprintf(stderr, "fedctl %s: which %s command?\n\n", argv[0],
		    argv[0]);
		help(stderr);
		return FEDCTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		help(stdout);
		return FEDCTL_EXIT_OK;
	}
	for (size_t i = 0; subs[i].name != NULL; i++) {
		if (strcmp(subs[i].name, argv[1]) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%s %s", argv[0], argv[1]);
		o.cmd = cmd;
		return subs[i].run(&o, argc - 1, argv + 1);
	}
	o.cmd = argv[0];
	return fedctl_usage(&o, "unknown command \"%s %s\"", argv[0], argv[1]);
}

/* ---- errors ---- */

/* The JSON error object with --json (on stdout, where the result would
 * be), besides the message on stderr. */
static void
json_error(const fedctl_session *s, int exit_code, const char *status,
    const char *message)
{
	json_t *err;

	if (!s->o->json)
		return;
	err = json_object();
	json_object_set_new(err, "message", json_string(message));
	json_object_set_new(err, "exit_code", json_integer(exit_code));
	json_object_set_new(
	    err, "remote", json_boolean(exit_code == FEDCTL_EXIT_REMOTE));
	if (status != NULL)
		json_object_set_new(err, "status", json_string(status));
	fedctl_json_emit(json_pack("{s:o}", "error", err));
}

int
fedctl_failf(fedctl_session *s, int code, const char *fmt, ...)
{
	char    msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fedctl %s: %s\n", s->o->cmd, msg);
	json_error(s, code, NULL, msg);
	return code;
}

/*
 * Whether a message from the daemon starts with another domain's name
 * ("b.example: ..."), which is how the backend says which remote domain a
 * failure came from.
 */
static bool
names_remote_domain(const fedctl_session *s, const char *msg)
{
	const char *colon = strstr(msg, ": ");
	char        dom[254];
	size_t      n;

	if (colon == NULL || (n = (size_t) (colon - msg)) == 0 ||
	    n >= sizeof(dom))
		return false;
	memcpy(dom, msg, n);
	dom[n] = '\0';
	if (strchr(dom, '.') == NULL || !fedrpc_domain_valid(dom))
		return false;
	return s->domain == NULL || strcasecmp(dom, s->domain) != 0;
}

int
fedctl_fail(fedctl_session *s, const char *what, const fedrpc_status *st)
{
	char msg[1024];
	int  code = FEDCTL_EXIT_FAILURE;

	if (!atomic_load(&s->answered)) {
		/* No reply at all: the trouble is between us and the daemon. */
		snprintf(msg, sizeof(msg),
		    "%s: no answer from the federator's local API at %.400s: %s "
		    "(%s); is the federator running?",
		    what, s->url, st->message, fedrpc_code_name(st->code));
	} else {
		if (st->code == FEDRPC_UNAVAILABLE ||
		    st->code == FEDRPC_DEADLINE_EXCEEDED ||
		    ((st->code == FEDRPC_PERMISSION_DENIED ||
		         st->code == FEDRPC_UNAUTHENTICATED) &&
		        names_remote_domain(s, st->message)))
			code = FEDCTL_EXIT_REMOTE;
		char        tag[48];
		const char *name = fedrpc_code_name(st->code);
		size_t      n = strlen(st->message), m;

		/* The backend often names the code already. */
		snprintf(tag, sizeof(tag), "(%s)", name);
		m = strlen(tag);
		snprintf(msg, sizeof(msg), "%s: %s%s%s%s", what, st->message,
		    n >= m && strcmp(st->message + n - m, tag) == 0 ? "" : " ",
		    n >= m && strcmp(st->message + n - m, tag) == 0 ? "" : tag,
		    code == FEDCTL_EXIT_REMOTE ? " [federation failure]" : "");
	}
	fprintf(stderr, "fedctl %s: %s\n", s->o->cmd, msg);
	json_error(s, code, fedrpc_code_name(st->code), msg);
	return code;
}

int
fedctl_unreachable(fedctl_session *s, char *const *domains, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr,
		    "fedctl %s: warning: %s could not be reached; queued for "
		    "%s (delivered when it is back; see fedctl queue) "
		    "[federation failure]\n",
		    s->o->cmd, domains[i], domains[i]);
	return n > 0 ? FEDCTL_EXIT_REMOTE : FEDCTL_EXIT_OK;
}

/* ---- the session ---- */

static void
on_reply(void *arg, const fedrpc_metadata *md)
{
	fedctl_session *s = arg;

	(void) md;
	atomic_store(&s->answered, true);
}

const fedrpc_call_opts *
fedctl_call(fedctl_session *s)
{
	atomic_store(&s->answered, false);
	return &s->co;
}

/* The URL of the local API: ipc://ABSOLUTE-PATH. */
static int
pick_url(fedctl_session *s)
{
	const char *u = s->o->socket, *env = getenv("FEDRPC_SOCKET");
	char        cwd[2048];

	if (u == NULL && s->cfg != NULL)
		u = s->cfg->local_api;
	if (u == NULL && env != NULL && env[0] != '\0')
		u = env;
	if (u == NULL && s->state != NULL)
		u = s->state->local_api;
	if (u == NULL)
		u = FEDCTL_DEFAULT_SOCKET;
	if (strncmp(u, "ipc://", 6) == 0)
		u += 6;
	else if (strstr(u, "://") != NULL)
		return fedctl_usage(s->o,
		    "the local API is an ipc:// socket, not %s", u);
	if (u[0] == '/')
		snprintf(s->url, sizeof(s->url), "ipc://%s", u);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		snprintf(s->url, sizeof(s->url), "ipc://%s/%s", cwd, u);
	else
		return fedctl_usage(s->o, "cannot resolve the path %s", u);
	return 0;
}

static int
open_channel(fedctl_session *s)
{
	fedrpc_channel_opts co = {0};
	fedrpc_status       st = {0};
	struct stat         sb;
	const char         *path = s->url + 6;
	char                dial[sizeof(s->url)];

	/* Said at once, rather than after a call's whole timeout. */
	if (stat(path, &sb) != 0)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
		    "no federator local API at %s (%s); is the federator "
		    "running? (--socket, --config or $FEDRPC_SOCKET name "
		    "the socket)",
		    s->url, strerror(errno));
	/*
	 * Dialed as unix://, nng's other name for ipc://, so that the
	 * channel does not probe it: nng 1.5.2's ipc listener stops
	 * accepting for good after two bare connections (no SP handshake)
	 * in quick succession, and a channel probes an ipc:// endpoint with
	 * exactly such a connection while its first call waits. The stat()
	 * above gives the fast "not running" answer the probe would.
	 */
	snprintf(dial, sizeof(dial), "unix://%s", path);
	co.url                = dial;
	co.target_domain      = "";
	co.default_timeout_ms = s->o->timeout_ms;
	co.reconnect_min_ms   = 20;
	co.reconnect_max_ms   = 500;
	if (fedrpc_channel_open(&s->ch, &co, &st) != FEDRPC_OK)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
		    "cannot open the local API channel %s: %s", s->url,
		    st.message);
	s->co.timeout_ms         = s->o->timeout_ms;
	s->co.reply_metadata     = on_reply;
	s->co.reply_metadata_arg = s;
	return 0;
}

static int
open_user(fedctl_session *s, unsigned need)
{
	fedrpc_status st   = {0};
	char         *path = NULL;
	const char   *as   = s->o->as;
	bool          must = (need & (FEDCTL_NEED_USER | FEDCTL_NEED_CLIENT));

	if (as == NULL && (as = getenv("FEDCTL_USER")) != NULL && as[0] == '\0')
		as = NULL;
	if (fedctl_state_find(s->home, as, &path, &st) != FEDRPC_OK) {
		/* Only a missing user is fine when none is needed. */
		if (!must && st.code == FEDRPC_NOT_FOUND && as == NULL)
			return 0;
		return fedctl_failf(s, st.code == FEDRPC_INVALID_ARGUMENT
			? FEDCTL_EXIT_USAGE
			: FEDCTL_EXIT_FAILURE,
		    "%s", st.message);
	}
	if (fedctl_state_load(path, (need & FEDCTL_LOCK) != 0, &s->state,
	        &st) != FEDRPC_OK) {
		free(path);
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "%s", st.message);
	}
	free(path);
	if (need & FEDCTL_NEED_CLIENT) {
		uint64_t id = 0;

		if (s->o->client != NULL &&
		    !fedctl_client_id_parse(s->o->client, &id))
			return fedctl_usage(s->o,
			    "bad --client \"%s\" (a client id in hex)",
			    s->o->client);
		if ((s->client = fedctl_state_client(s->state, id)) == NULL)
			return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
			    id != 0 ? "%s has no keys for client %s here"
				    : "%s has no client yet; add one with: "
				      "fedctl client add%s",
			    s->state->qualified, id != 0 ? s->o->client : "");
	}
	return 0;
}

int
fedctl_session_open(fedctl_session *s, const fedctl_opts *o, unsigned need)
{
	fedrpc_status st = {0};
	int           rc;

	memset(s, 0, sizeof(*s));
	s->o         = o;
	s->color     = fedctl_color_for(stdout);
	s->color_err = fedctl_color_for(stderr);
	atomic_init(&s->answered, false);
	/* The runtime's own log lines would only repeat our messages. */
	fedrpc_log_set_level(FEDRPC_LOG_OFF);
	if (need & FEDCTL_NEED_CLIENT)
		need |= FEDCTL_NEED_USER;
	if (fedctl_state_home(o->home, &s->home, &st) != FEDRPC_OK) {
		rc = fedctl_failf(s, FEDCTL_EXIT_FAILURE, "%s", st.message);
		goto fail;
	}
	if (o->config != NULL &&
	    fedrpc_config_load_file(o->config, &s->cfg, &st) != FEDRPC_OK) {
		rc = fedctl_failf(s, FEDCTL_EXIT_USAGE, "%s", st.message);
		goto fail;
	}
	if ((need & (FEDCTL_NEED_USER | FEDCTL_MAYBE_USER)) &&
	    (rc = open_user(s, need)) != 0)
		goto fail;
	s->domain = s->state != NULL ? s->state->domain
		  : s->cfg != NULL   ? s->cfg->domain
				     : NULL;
	if (!(need & FEDCTL_NO_CHANNEL) &&
	    ((rc = pick_url(s)) != 0 || (rc = open_channel(s)) != 0))
		goto fail;
	return 0;
fail:
	fedctl_session_close(s);
	return rc;
}

void
fedctl_session_close(fedctl_session *s)
{
	if (s->ch != NULL)
		fedrpc_channel_close(s->ch);
	fedctl_state_free(s->state);
	fedrpc_config_free(s->cfg);
	free(s->home);
	s->ch     = NULL;
	s->state  = NULL;
	s->client = NULL;
	s->cfg    = NULL;
	s->home   = NULL;
}

char *
fedctl_join(char *const *v, int n)
{
	size_t len = 1, off = 0;
	char  *s;

	for (int i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t m = strlen(v[i]);

		if (i > 0)
			s[off++] = ' ';
		memcpy(s + off, v[i], m + 1);
		off += m;
	}
	return s;
}

/* ---- ids ---- */

bool
fedctl_client_id_parse(const char *s, uint64_t *id)
{
	char *end;

	if (s == NULL || s[0] == '\0' || strlen(s) > 16 || s[0] == '-' ||
	    s[0] == '+' || isspace((unsigned char) s[0]))
		return false;
	errno = 0;
	*id   = strtoull(s, &end, 16);
	return errno == 0 && *end == '\0' && *id != 0;
}

bool
fedctl_qid_parse(const char *s, fedctl_qid *q)
{
	return fedrpc_qid_parse(s, q->id, q->domain, sizeof(q->domain));
}

fedctl_pb_qid
fedctl_qid_pb(fedctl_qid *q)
{
	fedctl_pb_qid p = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	p.id     = q->id;
	p.domain = q->domain;
	return p;
}

bool
fedctl_qid_from_pb(const fedctl_pb_qid *p, fedctl_qid *q)
{
	if (p == NULL || p->id == NULL || p->domain == NULL ||
	    strlen(p->id) >= sizeof(q->id) ||
	    strlen(p->domain) >= sizeof(q->domain))
		return false;
	snprintf(q->id, sizeof(q->id), "%s", p->id);
	snprintf(q->domain, sizeof(q->domain), "%s", p->domain);
	return true;
}

bool
fedctl_pb_qid_eq(const fedctl_pb_qid *a, const fedctl_pb_qid *b)
{
	return a != NULL && b != NULL && a->id != NULL && b->id != NULL &&
	    a->domain != NULL && b->domain != NULL &&
	    strcmp(a->id, b->id) == 0 && strcmp(a->domain, b->domain) == 0;
}

fedctl_pb_qid
fedctl_self(fedctl_session *s)
{
	fedctl_pb_qid p = FEDRPC__FEDERATION__V1__QUALIFIED_ID__INIT;

	p.id     = s->state->user_id;
	p.domain = s->state->domain;
	return p;
}

/* ---- naming users and conversations ---- */

int
fedctl_resolve_user(fedctl_session *s, const char *ref, fedctl_qid *q,
    fedctl_pb_profile **profile)
{
	Fedrpc__Local__V1__FindUserRequest   req =
	    FEDRPC__LOCAL__V1__FIND_USER_REQUEST__INIT;
	Fedrpc__Local__V1__FindUserResponse *resp = NULL;
	fedrpc_status                        st   = {0};
	char                                 query[520], what[600];
	const char                          *at;
	size_t                               hlen;

	if (profile != NULL)
		*profile = NULL;
	if (ref[0] == '@')
		ref++;
	if (fedctl_qid_parse(ref, q))
		return 0;
	/* Handles are lower case and domains case-insensitive; accept
	 * what people type. */
	snprintf(query, sizeof(query), "%s", ref);
	for (char *p = query; *p != '\0' && *p != '@'; p++)
		*p = (char) tolower((unsigned char) *p);
	if ((at = strchr(query, '@')) != NULL) {
		char dom[DNS_NAME_MAX], why[96];

		if (!dns_domain_check(at + 1, dom, why, sizeof(why)))
			return fedctl_usage(s->o,
			    "'%s' names no user: '%.64s' is not a valid domain "
			    "name: %s",
			    ref, at + 1, why);
		snprintf((char *) at + 1,
		    sizeof(query) - (size_t) (at + 1 - query), "%s", dom);
	}
	hlen = at != NULL ? (size_t) (at - query) : strlen(query);
	if (!fedrpc_handle_valid_n(query, hlen))
		return fedctl_usage(s->o,
		    "'%s' names no user: give a handle, handle@domain or "
		    "uuid@domain",
		    ref);
	req.query = query;
	snprintf(what, sizeof(what), "looking up %s%s", at != NULL ? "" : "@",
	    query);
	if (fedrpc_local_v1_users_find_user(s->ch, &req, &resp, fedctl_call(s),
	        &st) != FEDRPC_OK)
		return fedctl_fail(s, what, &st);
	if (resp->profile == NULL ||
	    !fedctl_qid_from_pb(resp->profile->id, q)) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (at != NULL && fedctl_is_remote(s, at + 1))
			return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
			    "no user @%.*s on %s (or %s does not let us "
			    "search it)",
			    (int) hlen, query, at + 1, at + 1);
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE, "no user @%s",
		    query);
	}
	if (profile != NULL) {
		*profile       = resp->profile;
		resp->profile  = NULL;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

int
fedctl_resolve_conv(fedctl_session *s, const char *ref,
    Fedrpc__Local__V1__ListConversationsResponse **list,
    fedctl_pb_conv **conv)
{
	Fedrpc__Local__V1__ListConversationsRequest req =
	    FEDRPC__LOCAL__V1__LIST_CONVERSATIONS_REQUEST__INIT;
	fedctl_pb_qid  self = fedctl_self(s);
	fedrpc_status  st   = {0};
	fedctl_qid     q;
	bool           by_id = fedctl_qid_parse(ref, &q);
	fedctl_pb_conv *found = NULL;
	size_t         matches = 0;

	*list    = NULL;
	*conv    = NULL;
	req.self = &self;
	if (fedrpc_local_v1_conversations_list_conversations(
	        s->ch, &req, list, fedctl_call(s), &st) != FEDRPC_OK)
		return fedctl_fail(s, "listing conversations", &st);
	for (size_t i = 0; i < (*list)->n_conversations; i++) {
		fedctl_pb_conv *c = (*list)->conversations[i];
		fedctl_pb_qid   p = fedctl_qid_pb(&q);

		if (by_id ? fedctl_pb_qid_eq(c->id, &p)
			  : (c->name != NULL && strcmp(c->name, ref) == 0)) {
			if (found == NULL)
				found = c;
			matches++;
		}
	}
	if (matches == 1) {
		*conv = found;
		return 0;
	}
	protobuf_c_message_free_unpacked(&(*list)->base, NULL);
	*list = NULL;
	if (matches == 0)
		return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
		    "%s is in no conversation %s%s%s", s->state->qualified,
		    by_id ? "" : "named \"", ref, by_id ? "" : "\"");
	return fedctl_failf(s, FEDCTL_EXIT_FAILURE,
	    "%zu conversations are named \"%s\"; name one by its id (fedctl "
	    "conv list)",
	    matches, ref);
}

Fedrpc__Local__V1__GetProfilesResponse *
fedctl_profiles(
    fedctl_session *s, const fedctl_pb_qid *const *ids, size_t n)
{
	Fedrpc__Local__V1__GetProfilesRequest   req =
	    FEDRPC__LOCAL__V1__GET_PROFILES_REQUEST__INIT;
	Fedrpc__Local__V1__GetProfilesResponse *resp = NULL;
	fedctl_pb_qid                         **v;
	size_t                                  m = 0;
	fedrpc_status                           st = {0};

	if (n == 0 || (v = calloc(n, sizeof(*v))) == NULL)
		return NULL;
	/* Each user once: the backend refuses duplicates. */
	for (size_t i = 0; i < n; i++) {
		bool dup = ids[i] == NULL;

		for (size_t j = 0; j < m && !dup; j++)
			dup = fedctl_pb_qid_eq(v[j], ids[i]);
		if (!dup)
			v[m++] = (fedctl_pb_qid *) ids[i];
	}
	req.users   = v;
	req.n_users = m;
	if (fedrpc_local_v1_users_get_profiles(
	        s->ch, &req, &resp, fedctl_call(s), &st) != FEDRPC_OK)
		resp = NULL;
	free(v);
	return resp;
}

const fedctl_pb_profile *
fedctl_profile_of(
    const Fedrpc__Local__V1__GetProfilesResponse *r, const fedctl_pb_qid *id)
{
	for (size_t i = 0; r != NULL && i < r->n_profiles; i++)
		if (fedctl_pb_qid_eq(r->profiles[i]->id, id))
			return r->profiles[i];
	return NULL;
}
