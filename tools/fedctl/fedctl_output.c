/*
 * fedctl's user-facing output (fedctl_output.h): qualified ids, the
 * federated marker and its colour, users, conversations and connections as
 * text lines and as jansson objects.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fedctl_output.h"

/* The marker stands out; bold yellow reads on dark and light terminals. */
#define COLOR_MARKER "\033[1;33m"
#define COLOR_OFF "\033[0m"

bool
fedctl_color_for(FILE *f)
{
	const char *no = getenv("NO_COLOR");

	/* https://no-color.org: any non-empty NO_COLOR turns colour off. */
	if (no != NULL && no[0] != '\0')
		return false;
	return isatty(fileno(f)) == 1;
}

bool
fedctl_is_remote(const fedctl_session *s, const char *domain)
{
	return domain != NULL && s->domain != NULL &&
	    strcasecmp(domain, s->domain) != 0;
}

void
fedctl_print_marker(const fedctl_session *s, FILE *f, const char *domain)
{
	bool color = f == stderr ? s->color_err : s->color;

	if (!fedctl_is_remote(s, domain))
		return;
	fprintf(f, "  %s[federated: %s]%s", color ? COLOR_MARKER : "", domain,
	    color ? COLOR_OFF : "");
}

void
fedctl_print_qid(FILE *f, const fedctl_pb_qid *q)
{
	if (q == NULL)
		fputs("(unknown)", f);
	else
		fprintf(f, "%s@%s", q->id, q->domain);
}

/* The length of a bidirectional override or isolate (U+202A..U+202E,
 * U+2066..U+2069, 3 bytes of UTF-8) at text[i], else 0. */
static size_t
bidi_len(const unsigned char *t, size_t i, size_t n)
{
	if (i + 2 >= n || t[i] != 0xe2)
		return 0;
	if ((t[i + 1] == 0x80 && t[i + 2] >= 0xaa && t[i + 2] <= 0xae) ||
	    (t[i + 1] == 0x81 && t[i + 2] >= 0xa6 && t[i + 2] <= 0xa9))
		return 3;
	return 0;
}

void
fedctl_print_text(FILE *f, const char *text, size_t n)
{
	const unsigned char *t = (const unsigned char *) text;

	/* What another user wrote must not drive our terminal, nor turn
	 * the text after it around (a bidirectional override makes
	 * "exe.txt" of "txt.exe"). */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = t[i];

		if (bidi_len(t, i, n) != 0) {
			unsigned cp = ((c & 0x0fu) << 12) |
			    ((t[i + 1] & 0x3fu) << 6) | (t[i + 2] & 0x3fu);

			fprintf(f, "\\u%04X", cp);
			i += 2;
		} else if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void
fedctl_print_user(const fedctl_session *s, FILE *f, const fedctl_pb_qid *id,
    const fedctl_pb_profile *p)
{
	if (p != NULL && p->deleted)
		fputs("(deleted user)  ", f);
	else if (p != NULL) {
		if (p->handle != NULL && p->handle[0] != '\0')
			fprintf(f, "@%s  ", p->handle);
		if (p->name != NULL && p->name[0] != '\0') {
			fprintf(f, "\"");
			fedctl_print_text(f, p->name, strlen(p->name));
			fprintf(f, "\"  ");
		}
	}
	fedctl_print_qid(f, id);
	fedctl_print_marker(s, f, id != NULL ? id->domain : NULL);
}

const char *
fedctl_relation_name(int relation)
{
	switch (relation) {
	case FEDRPC__LOCAL__V1__RELATION__RELATION_ACCEPTED:
		return "accepted";
	case FEDRPC__LOCAL__V1__RELATION__RELATION_BLOCKED:
		return "blocked";
	case FEDRPC__LOCAL__V1__RELATION__RELATION_PENDING:
		return "pending";
	case FEDRPC__LOCAL__V1__RELATION__RELATION_SENT:
		return "sent";
	case FEDRPC__LOCAL__V1__RELATION__RELATION_CANCELLED:
		return "cancelled";
	default:
		return "unspecified";
	}
}

const char *
fedctl_role_name(int role)
{
	switch (role) {
	case FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_ADMIN:
		return "admin";
	case FEDRPC__FEDERATION__V1__CONVERSATION_ROLE__CONVERSATION_ROLE_MEMBER:
		return "member";
	default:
		return "member";
	}
}

static const char *const class_names[] = {
	"unspecified", "phone", "tablet", "desktop", "legalhold",
};

const char *
fedctl_class_name(int client_class)
{
	if (client_class < 0 ||
	    (size_t) client_class >= sizeof(class_names) / sizeof(class_names[0]))
		return "unspecified";
	return class_names[client_class];
}

int
fedctl_class_parse(const char *name)
{
	for (size_t i = 1; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (strcmp(class_names[i], name) == 0)
			return (int) i;
	return -1;
}

void
fedctl_print_conv(const fedctl_session *s, FILE *f, const fedctl_pb_conv *c,
    bool members, const Fedrpc__Local__V1__GetProfilesResponse *profiles)
{
	fedctl_print_qid(f, c->id);
	if (c->name != NULL && c->name[0] != '\0') {
		fputs("  \"", f);
		fedctl_print_text(f, c->name, strlen(c->name));
		fputs("\"", f);
	} else
		fputs("  (unnamed)", f);
	fprintf(f, "  %zu member%s", c->n_members, c->n_members == 1 ? "" : "s");
	fedctl_print_marker(s, f, c->id != NULL ? c->id->domain : NULL);
	fputc('\n', f);
	if (!members)
		return;
	for (size_t i = 0; i < c->n_members; i++) {
		const fedctl_pb_qid *id = c->members[i]->id;

		fprintf(f, "    %-6s  ", fedctl_role_name(c->members[i]->role));
		fedctl_print_user(s, f, id, fedctl_profile_of(profiles, id));
		if (c->creator != NULL && fedctl_pb_qid_eq(id, c->creator))
			fputs("  (creator)", f);
		fputc('\n', f);
	}
}

/* ---- JSON ---- */

json_t *
fedctl_json_qid(const fedctl_session *s, const fedctl_pb_qid *q)
{
	json_t *o;
	char    buf[320];

	/* Made only once there is something to put in it. */
	if (q == NULL || q->id == NULL || q->domain == NULL)
		return json_null();
	o = json_object();
	snprintf(buf, sizeof(buf), "%s@%s", q->id, q->domain);
	json_object_set_new(o, "id", json_string(q->id));
	json_object_set_new(o, "domain", json_string(q->domain));
	json_object_set_new(o, "qualified_id", json_string(buf));
	json_object_set_new(
	    o, "federated", json_boolean(fedctl_is_remote(s, q->domain)));
	return o;
}

json_t *
fedctl_json_user(const fedctl_session *s, const fedctl_pb_qid *id,
    const fedctl_pb_profile *p)
{
	json_t *o = fedctl_json_qid(s, id);

	if (!json_is_object(o) || p == NULL)
		return o;
	json_object_set_new(o, "handle",
	    p->handle != NULL && p->handle[0] != '\0' ? json_string(p->handle)
						      : json_null());
	json_object_set_new(o, "name",
	    p->name != NULL && p->name[0] != '\0' ? json_string(p->name)
						  : json_null());
	json_object_set_new(o, "deleted", json_boolean(p->deleted));
	return o;
}

json_t *
fedctl_json_conv(const fedctl_session *s, const fedctl_pb_conv *c,
    const Fedrpc__Local__V1__GetProfilesResponse *profiles)
{
	json_t *o = fedctl_json_qid(s, c->id), *ms = json_array();

	if (!json_is_object(o)) {
		json_decref(ms);
		return o;
	}
	json_object_set_new(o, "name",
	    c->name != NULL && c->name[0] != '\0' ? json_string(c->name)
						  : json_null());
	json_object_set_new(o, "creator", fedctl_json_user(s, c->creator,
					      fedctl_profile_of(profiles,
						  c->creator)));
	json_object_set_new(
	    o, "created_at_unix_ms", json_integer(c->created_at_unix_ms));
	for (size_t i = 0; i < c->n_members; i++) {
		const fedctl_pb_qid *id = c->members[i]->id;
		json_t *m = fedctl_json_user(s, id, fedctl_profile_of(profiles, id));

		if (json_is_object(m))
			json_object_set_new(m, "role",
			    json_string(fedctl_role_name(c->members[i]->role)));
		json_array_append_new(ms, m);
	}
	json_object_set_new(o, "members", ms);
	return o;
}

json_t *
fedctl_json_connection(const fedctl_session *s,
    const Fedrpc__Local__V1__Connection *c, const fedctl_pb_profile *other)
{
	return json_pack("{s:o, s:o, s:s, s:I}", "from",
	    fedctl_json_qid(s, c->from), "to",
	    fedctl_json_user(s, c->to, other), "relation",
	    fedctl_relation_name(c->relation), "last_update_unix_ms",
	    (json_int_t) c->last_update_unix_ms);
}

json_t *
fedctl_json_strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

void
fedctl_json_emit(json_t *root)
{
	if (root == NULL)
		return;
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

/* Standard base64 with padding; the caller frees. */
static char *
base64(const unsigned char *p, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char  *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = a[(v >> 18) & 63];
		*o++ = a[(v >> 12) & 63];
		*o++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

void
fedctl_json_set_text(json_t *o, const char *key, const char *text, size_t n)
{
	json_t *v = json_stringn(text, n);
	char    flag[64], *b;

	/* JSON strings are UTF-8 (a NUL byte included, as \u0000); other
	 * bytes are carried exactly as base64, with "<key>_base64": true. */
	snprintf(flag, sizeof(flag), "%s_base64", key);
	if (v == NULL && (b = base64((const unsigned char *) text, n)) != NULL) {
		v = json_string(b);
		free(b);
		json_object_set_new(o, flag, json_true());
	}
	json_object_set_new(o, key, v != NULL ? v : json_null());
}
