/*
 * The rules: what a change to a released package must not do, because a
 * peer built against the released schema would then read our messages
 * wrongly or call what no longer exists. Following `buf breaking` (its
 * FILE and WIRE categories, at package level so that moving a message
 * between files of one package is fine):
 *
 *   messages  not removed; fields not removed, renumbered or renamed,
 *             their type, label (singular, optional, repeated) and oneof
 *             kept; reserved numbers and names neither reused nor
 *             released
 *   enums     not removed; values not removed, renumbered or renamed;
 *             reserved numbers and names as for messages
 *   services  not removed or renamed; methods not removed or renamed,
 *             their request and response types and streaming kept
 *
 * Anything added passes. A deliberate break is a new package version
 * (fedrpc.federation.v2 beside v1), which is an addition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

/* Field numbers of descriptor.proto, the steps of a SourceCodeInfo path. */
enum {
	PATH_MSG_FIELD  = 2,
	PATH_ENUM_VALUE = 2,
	PATH_SVC_METHOD = 2,
};

/* ---- names for messages ---- */

static const char *
type_name(const sc_field_proto *f)
{
	static const char *const names[] = {"?", "double", "float", "int64",
	    "uint64", "int32", "fixed64", "fixed32", "bool", "string", "group",
	    "message", "bytes", "uint32", "enum", "sfixed32", "sfixed64",
	    "sint32", "sint64"};

	if ((f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
	        f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM ||
	        f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP) &&
	    f->type_name != NULL)
		return f->type_name[0] == '.' ? f->type_name + 1 : f->type_name;
	return (unsigned) f->type < sizeof(names) / sizeof(names[0])
	    ? names[f->type]
	    : "?";
}

/* "repeated", "optional" (explicit presence), "required" or "singular". */
static const char *
label_name(const sc_field_proto *f)
{
	switch (f->label) {
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED:
		return "repeated";
	case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED:
		return "required";
	default:
		return f->proto3_optional ? "optional" : "singular";
	}
}

/* The real oneof a field is in (not proto3 optional's synthetic one). */
static const char *
oneof_of(const sc_msg_proto *m, const sc_field_proto *f)
{
	if (!f->has_oneof_index || f->proto3_optional || f->oneof_index < 0 ||
	    (size_t) f->oneof_index >= m->n_oneof_decl)
		return NULL;
	return m->oneof_decl[f->oneof_index]->name;
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* ---- reserved numbers and names ---- */

/* A reserved range as [start, end) whatever its kind. */
typedef struct range {
	int64_t start, end;
} range;

static bool
in_ranges(const range *v, size_t n, int64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (x >= v[i].start && x < v[i].end)
			return true;
	return false;
}

/* Whether [r.start, r.end) lies within the union of v. */
static bool
covered(const range *v, size_t n, range r)
{
	int64_t pos = r.start;

	while (pos < r.end) {
		int64_t next = pos;

		for (size_t i = 0; i < n; i++)
			if (pos >= v[i].start && pos < v[i].end && v[i].end > next)
				next = v[i].end;
		if (next == pos)
			return false;
		pos = next;
	}
	return true;
}

/*
 * A message's reserved ranges, followed by one range per field number
 * (*n_taken counts both): a reserved number the current schema uses is
 * reported as a reuse, not again as released.
 */
static range *
msg_ranges(const sc_msg_proto *m, size_t *n_taken)
{
	range *v = calloc(m->n_reserved_range + m->n_field + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < m->n_reserved_range; i++, n++) {
		v[n].start = m->reserved_range[i]->start;
		v[n].end   = m->reserved_range[i]->end; /* exclusive */
	}
	for (size_t i = 0; v != NULL && i < m->n_field; i++, n++) {
		v[n].start = m->field[i]->number;
		v[n].end   = (int64_t) m->field[i]->number + 1;
	}
	*n_taken = n;
	return v;
}

static range *
enum_ranges(const sc_enum_proto *e, size_t *n_taken)
{
	range *v = calloc(e->n_reserved_range + e->n_value + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < e->n_reserved_range; i++, n++) {
		v[n].start = e->reserved_range[i]->start;
		v[n].end = (int64_t) e->reserved_range[i]->end + 1; /* inclusive */
	}
	for (size_t i = 0; v != NULL && i < e->n_value; i++, n++) {
		v[n].start = e->value[i]->number;
		v[n].end   = (int64_t) e->value[i]->number + 1;
	}
	*n_taken = n;
	return v;
}

static bool
in_names(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

static void
range_text(range r, char *buf, size_t len)
{
	if (r.end - r.start == 1)
		snprintf(buf, len, "reserved number %lld is", (long long) r.start);
	else
		snprintf(buf, len, "reserved numbers %lld to %lld are",
		    (long long) r.start, (long long) r.end - 1);
}

/*
 * Reserved numbers and names the released element had must stay reserved,
 * else the next change could reuse them. A number or name the current
 * element uses is reported as a reuse instead: new_r holds its numbers
 * besides its reserved ranges, and uses_name answers for names.
 */
typedef struct reserved {
	const range *old_r, *new_r;
	size_t       n_old_r, n_new_r;
	char *const *old_n, *const *new_n;
	size_t       n_old_n, n_new_n;
} reserved;

static void
check_released_reservations(sc_report *r, const sc_loc *loc, const char *kind,
    const char *name, const reserved *rs,
    bool (*uses_name)(const void *el, const char *name), const void *el)
{
	char text[64];

	for (size_t i = 0; i < rs->n_old_r; i++) {
		if (covered(rs->new_r, rs->n_new_r, rs->old_r[i]))
			continue;
		range_text(rs->old_r[i], text, sizeof(text));
		sc_breaking(r, loc, NULL, 0, "%s %s: %s no longer reserved", kind,
		    name, text);
	}
	for (size_t i = 0; i < rs->n_old_n; i++) {
		if (in_names(rs->new_n, rs->n_new_n, rs->old_n[i]) ||
		    uses_name(el, rs->old_n[i]))
			continue;
		sc_breaking(r, loc, NULL, 0,
		    "%s %s: reserved name \"%s\" is no longer reserved", kind,
		    name, rs->old_n[i]);
	}
}

/* ---- messages ---- */

static const sc_field_proto *
field_named(const sc_msg_proto *m, const char *name, size_t *at)
{
	for (size_t i = 0; i < m->n_field; i++)
		if (strcmp(m->field[i]->name, name) == 0) {
			*at = i;
			return m->field[i];
		}
	return NULL;
}

static const sc_field_proto *
field_numbered(const sc_msg_proto *m, int32_t number, size_t *at)
{
	for (size_t i = 0; i < m->n_field; i++)
		if (m->field[i]->number == number) {
			*at = i;
			return m->field[i];
		}
	return NULL;
}

static bool
msg_uses_name(const void *el, const char *name)
{
	size_t at;

	return field_named(el, name, &at) != NULL;
}

/* The same field (name and number) in both: its type, label and oneof. */
static void
compare_field(sc_report *r, const sc_elem *e, const sc_msg_proto *om,
    const sc_msg_proto *nm, const sc_field_proto *of,
    const sc_field_proto *nf, size_t at)
{
	const int32_t sub[2] = {PATH_MSG_FIELD, (int32_t) at};
	const char   *oo = oneof_of(om, of), *no = oneof_of(nm, nf);
	char          was[256];

	if (of->type != nf->type || !same(of->type_name, nf->type_name)) {
		snprintf(was, sizeof(was), "%s", type_name(of));
		sc_breaking(r, &e->loc, sub, 2,
		    "message %s: field \"%s\" (%d) changed type from %s to %s",
		    e->name, of->name, of->number, was, type_name(nf));
	}
	if (strcmp(label_name(of), label_name(nf)) != 0)
		sc_breaking(r, &e->loc, sub, 2,
		    "message %s: field \"%s\" (%d) changed label from %s to %s",
		    e->name, of->name, of->number, label_name(of),
		    label_name(nf));
	if (!same(oo, no)) {
		if (oo == NULL)
			sc_breaking(r, &e->loc, sub, 2,
			    "message %s: field \"%s\" (%d) moved into oneof "
			    "\"%s\"",
			    e->name, of->name, of->number, no);
		else if (no == NULL)
			sc_breaking(r, &e->loc, sub, 2,
			    "message %s: field \"%s\" (%d) moved out of oneof "
			    "\"%s\"",
			    e->name, of->name, of->number, oo);
		else
			sc_breaking(r, &e->loc, sub, 2,
			    "message %s: field \"%s\" (%d) moved from oneof "
			    "\"%s\" to \"%s\"",
			    e->name, of->name, of->number, oo, no);
	}
}

static void
compare_fields(sc_report *r, const sc_elem *e, const sc_msg_proto *om,
    const sc_msg_proto *nm)
{
	for (size_t i = 0; i < om->n_field; i++) {
		const sc_field_proto *of = om->field[i], *by_name, *by_num;
		size_t                at_name = 0, at_num = 0;
		int32_t               sub[2] = {PATH_MSG_FIELD, 0};

		by_name = field_named(nm, of->name, &at_name);
		by_num  = field_numbered(nm, of->number, &at_num);
		if (by_name != NULL && by_name == by_num) {
			compare_field(r, e, om, nm, of, by_name, at_name);
		} else if (by_name != NULL) {
			sub[1] = (int32_t) at_name;
			sc_breaking(r, &e->loc, sub, 2,
			    "message %s: field \"%s\" changed number from %d to "
			    "%d",
			    e->name, of->name, of->number, by_name->number);
		} else if (by_num != NULL) {
			sub[1] = (int32_t) at_num;
			sc_breaking(r, &e->loc, sub, 2,
			    "message %s: field \"%s\" (%d) was renamed to \"%s\"",
			    e->name, of->name, of->number, by_num->name);
		} else {
			sc_breaking(r, &e->loc, NULL, 0,
			    "message %s: field \"%s\" (%d) was removed", e->name,
			    of->name, of->number);
		}
	}
}

static void
compare_message(sc_report *r, const sc_elem *oe, const sc_elem *ne)
{
	const sc_msg_proto *om = oe->proto, *nm = ne->proto;
	size_t              n_old, n_new;
	range              *or_ = msg_ranges(om, &n_old), *nr = msg_ranges(nm, &n_new);
	reserved            rs = {or_, nr, om->n_reserved_range, n_new,
                   om->reserved_name, nm->reserved_name, om->n_reserved_name,
                   nm->n_reserved_name};

	compare_fields(r, ne, om, nm);
	/* Fields new in the current schema must not take what the released
	 * one reserved. */
	for (size_t i = 0; or_ != NULL && i < nm->n_field; i++) {
		const sc_field_proto *f      = nm->field[i];
		const int32_t         sub[2] = {PATH_MSG_FIELD, (int32_t) i};

		if (in_ranges(or_, om->n_reserved_range, f->number))
			sc_breaking(r, &ne->loc, sub, 2,
			    "message %s: field \"%s\" uses number %d, which the "
			    "released schema reserves",
			    ne->name, f->name, f->number);
		if (in_names(om->reserved_name, om->n_reserved_name, f->name))
			sc_breaking(r, &ne->loc, sub, 2,
			    "message %s: field \"%s\" (%d) uses a name the "
			    "released schema reserves",
			    ne->name, f->name, f->number);
	}
	if (or_ != NULL && nr != NULL)
		check_released_reservations(r, &ne->loc, "message", ne->name, &rs,
		    msg_uses_name, nm);
	free(or_);
	free(nr);
}

/* ---- enums ---- */

typedef Google__Protobuf__EnumValueDescriptorProto sc_value_proto;

static const sc_value_proto *
value_named(const sc_enum_proto *e, const char *name, size_t *at)
{
	for (size_t i = 0; i < e->n_value; i++)
		if (strcmp(e->value[i]->name, name) == 0) {
			*at = i;
			return e->value[i];
		}
	return NULL;
}

static const sc_value_proto *
value_numbered(const sc_enum_proto *e, int32_t number, size_t *at)
{
	for (size_t i = 0; i < e->n_value; i++)
		if (e->value[i]->number == number) {
			*at = i;
			return e->value[i];
		}
	return NULL;
}

static bool
enum_uses_name(const void *el, const char *name)
{
	size_t at;

	return value_named(el, name, &at) != NULL;
}

static void
compare_enum(sc_report *r, const sc_elem *oe, const sc_elem *ne)
{
	const sc_enum_proto *o = oe->proto, *n = ne->proto;
	size_t               n_old, n_new;
	range               *or_ = enum_ranges(o, &n_old), *nr = enum_ranges(n, &n_new);
	reserved             rs = {or_, nr, o->n_reserved_range, n_new,
                    o->reserved_name, n->reserved_name, o->n_reserved_name,
                    n->n_reserved_name};

	for (size_t i = 0; i < o->n_value; i++) {
		const sc_value_proto *ov = o->value[i], *by_name, *by_num;
		size_t                at_name = 0, at_num = 0;
		int32_t               sub[2] = {PATH_ENUM_VALUE, 0};

		by_name = value_named(n, ov->name, &at_name);
		by_num  = value_numbered(n, ov->number, &at_num);
		if (by_name != NULL && by_name->number == ov->number)
			continue;
		if (by_name != NULL) {
			sub[1] = (int32_t) at_name;
			sc_breaking(r, &ne->loc, sub, 2,
			    "enum %s: value %s changed number from %d to %d",
			    ne->name, ov->name, ov->number, by_name->number);
		} else if (by_num != NULL) {
			sub[1] = (int32_t) at_num;
			sc_breaking(r, &ne->loc, sub, 2,
			    "enum %s: value %s (%d) was renamed to %s", ne->name,
			    ov->name, ov->number, by_num->name);
		} else {
			sc_breaking(r, &ne->loc, NULL, 0,
			    "enum %s: value %s (%d) was removed", ne->name,
			    ov->name, ov->number);
		}
	}
	for (size_t i = 0; or_ != NULL && i < n->n_value; i++) {
		const sc_value_proto *v      = n->value[i];
		const int32_t         sub[2] = {PATH_ENUM_VALUE, (int32_t) i};

		if (in_ranges(or_, o->n_reserved_range, v->number))
			sc_breaking(r, &ne->loc, sub, 2,
			    "enum %s: value %s uses number %d, which the released "
			    "schema reserves",
			    ne->name, v->name, v->number);
		if (in_names(o->reserved_name, o->n_reserved_name, v->name))
			sc_breaking(r, &ne->loc, sub, 2,
			    "enum %s: value %s (%d) uses a name the released "
			    "schema reserves",
			    ne->name, v->name, v->number);
	}
	if (or_ != NULL && nr != NULL)
		check_released_reservations(
		    r, &ne->loc, "enum", ne->name, &rs, enum_uses_name, n);
	free(or_);
	free(nr);
}

/* ---- services ---- */

typedef Google__Protobuf__MethodDescriptorProto sc_method_proto;

static const char *
streaming_name(const sc_method_proto *m)
{
	if (m->client_streaming && m->server_streaming)
		return "bidirectional streaming";
	if (m->client_streaming)
		return "client streaming";
	if (m->server_streaming)
		return "server streaming";
	return "unary";
}

static const char *
bare(const char *type)
{
	return type != NULL && type[0] == '.' ? type + 1 : (type ? type : "?");
}

static void
compare_method(sc_report *r, const sc_elem *e, const sc_method_proto *om,
    const sc_method_proto *nm, size_t at)
{
	const int32_t sub[2] = {PATH_SVC_METHOD, (int32_t) at};

	if (!same(om->input_type, nm->input_type))
		sc_breaking(r, &e->loc, sub, 2,
		    "service %s: method %s changed its request type from %s to "
		    "%s",
		    e->name, om->name, bare(om->input_type),
		    bare(nm->input_type));
	if (!same(om->output_type, nm->output_type))
		sc_breaking(r, &e->loc, sub, 2,
		    "service %s: method %s changed its response type from %s "
		    "to %s",
		    e->name, om->name, bare(om->output_type),
		    bare(nm->output_type));
	if (strcmp(streaming_name(om), streaming_name(nm)) != 0)
		sc_breaking(r, &e->loc, sub, 2,
		    "service %s: method %s changed from %s to %s", e->name,
		    om->name, streaming_name(om), streaming_name(nm));
}

static void
compare_service(sc_report *r, const sc_elem *oe, const sc_elem *ne)
{
	const sc_svc_proto *o = oe->proto, *n = ne->proto;

	for (size_t i = 0; i < o->n_method; i++) {
		const sc_method_proto *om = o->method[i], *nm = NULL;
		size_t                 at = 0;

		for (size_t k = 0; k < n->n_method && nm == NULL; k++)
			if (strcmp(n->method[k]->name, om->name) == 0) {
				nm = n->method[k];
				at = k;
			}
		if (nm == NULL)
			sc_breaking(r, &ne->loc, NULL, 0,
			    "service %s: method %s was removed (renaming a "
			    "method removes it too)",
			    ne->name, om->name);
		else
			compare_method(r, ne, om, nm, at);
	}
}

/* ---- the whole set ---- */

static const char *
kind_name(sc_kind k)
{
	return k == SC_MESSAGE ? "message" : k == SC_ENUM ? "enum" : "service";
}

static bool
is_released(const char *package, char *const *released, size_t n)
{
	return in_names(released, n, package);
}

void
sc_compare(sc_report *r, const sc_set *base, const sc_set *cur,
    char *const *released, size_t n_released)
{
	for (size_t i = 0; i < n_released; i++) {
		if (sc_set_has_package(cur, released[i]))
			continue;
		for (size_t k = 0; k < base->n; k++)
			if (strcmp(base->elems[k].package, released[i]) == 0) {
				sc_breaking(r, &base->elems[k].loc, NULL, 0,
				    "package %s was removed (it is released: "
				    "keep it beside its successor)",
				    released[i]);
				break;
			}
	}
	for (size_t i = 0; i < base->n; i++) {
		const sc_elem *oe = &base->elems[i], *ne;

		if (!is_released(oe->package, released, n_released) ||
		    !sc_set_has_package(cur, oe->package))
			continue;
		if ((ne = sc_set_find(cur, oe->kind, oe->name)) == NULL) {
			sc_breaking(r, &oe->loc, NULL, 0,
			    "%s %s was removed (renaming it or moving it to "
			    "another package removes it too)",
			    kind_name(oe->kind), oe->name);
			continue;
		}
		switch (oe->kind) {
		case SC_MESSAGE:
			compare_message(r, oe, ne);
			break;
		case SC_ENUM:
			compare_enum(r, oe, ne);
			break;
		case SC_SERVICE:
			compare_service(r, oe, ne);
			break;
		}
	}
}
