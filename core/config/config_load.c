/*
 * Reading a configuration: libconfig parses, then the schema walk refuses
 * unknown settings, wrong types and bad values (naming file, line and
 * setting), fills in defaults and resolves relative paths.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "core/base/dns_name.h"
#include "core/base/file_read.h"
#include "core/config/config_int.h"

#define CFG_PATH_MAX 256 /* longest setting path in messages */

/* The state of one load. */
typedef struct cfg_loader {
	const char    *name;   /* the file (or string) name in messages */
	const char    *text;   /* the main file's text; borrowed */
	fedrpc_config *cfg;    /* being filled; owned until handed out */
	fedrpc_status *st;     /* where the first error goes */
} cfg_loader;

/* ---- error messages ---- */

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

static const char *
kind_name(cfg_kind kind)
{
	switch (kind) {
	case CFG_GROUP:
		return "a group";
	case CFG_STRING:
	case CFG_ENUM:
		return "a string";
	case CFG_BOOL:
		return "a boolean (true or false)";
	case CFG_U16:
	case CFG_U32:
	case CFG_SIZE:
		return "an integer";
	case CFG_DOUBLE:
		return "a number";
	case CFG_LIST:
		return "a list of groups, ( { ... }, ... )";
	case CFG_U32_ARRAY:
		return "an array of integers, [ ... ]";
	}
	return "?";
}

/*
 * Sets INVALID_ARGUMENT with "file:line: message", the place being that of
 * setting `s` (the file it came from, for @include), or "file: message"
 * when there is no setting or line.
 */
static fedrpc_code
load_error(cfg_loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fedrpc_code
load_error(cfg_loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	char        msg[FEDRPC_STATUS_MESSAGE_MAX];
	const char *file = ld->name, *dir = "";
	unsigned    line = 0;
	va_list     ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	/* libconfig names an @include'd file as written in the directive,
	 * relative to the including file's folder. */
	if (file != ld->name && file[0] != '/')
		dir = ld->cfg->base_dir;
	if (line > 0)
		return fedrpc_status_set(ld->st, FEDRPC_INVALID_ARGUMENT,
		    "%s%s%s:%u: %s", dir, dir[0] != '\0' ? "/" : "", file,
		    line, msg);
	if (dir[0] != '\0')
		return fedrpc_status_set(ld->st, FEDRPC_INVALID_ARGUMENT,
		    "%s/%s: %s", dir, file, msg);
	return fedrpc_status_set(
	    ld->st, FEDRPC_INVALID_ARGUMENT, "%s: %s", file, msg);
}

/* Edit distance, for "did you mean". Names longer than 63 never match. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up   = row[j];
			size_t cost = tolower((unsigned char) a[i - 1]) !=
			    tolower((unsigned char) b[j - 1]);
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag   = up;
		}
	}
	return row[lb];
}

/* Whether `typo` is close enough to `name` to suggest it. */
static bool
is_close(const char *typo, const char *name)
{
	size_t len = strlen(name);
	size_t max = len <= 4 ? 1 : len <= 8 ? 2 : 3;

	return edit_distance(typo, name) <= max;
}

/* The closest name among `fields`, or NULL. */
static const char *
closest_field(const cfg_field *fields, const char *typo)
{
	const char *best = NULL;
	size_t      best_d = SIZE_MAX;

	for (const cfg_field *f = fields; f->name != NULL; f++) {
		size_t d = edit_distance(typo, f->name);

		if (d < best_d && is_close(typo, f->name)) {
			best   = f->name;
			best_d = d;
		}
	}
	return best;
}

/* The path of a setting called `name` elsewhere in the schema, if any:
 * catches a right name put in the wrong group. */
static bool
find_elsewhere(const cfg_field *fields, const char *prefix, const char *name,
    char *out, size_t len)
{
	for (const cfg_field *f = fields; f->name != NULL; f++) {
		char path[CFG_PATH_MAX];

		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", f->name);
		if (strcmp(f->name, name) == 0) {
			snprintf(out, len, "%s", path);
			return true;
		}
		if (f->kind == CFG_GROUP &&
		    find_elsewhere(f->fields, path, name, out, len))
			return true;
	}
	return false;
}

static fedrpc_code
unknown_setting(cfg_loader *ld, const cfg_field *fields,
    const config_setting_t *s, const char *path)
{
	const char *name = config_setting_name(s);
	const char *near = closest_field(fields, name);
	char        other[CFG_PATH_MAX];

	if (near != NULL)
		return load_error(ld, s,
		    "unknown setting '%s' (did you mean '%s'?)", path, near);
	if (find_elsewhere(fedrpc_cfg_schema, "", name, other, sizeof(other)))
		return load_error(ld, s,
		    "unknown setting '%s' (did you mean '%s'?)", path, other);
	return load_error(ld, s, "unknown setting '%s'", path);
}

/* ---- storing values ---- */

static void *
slot(void *base, size_t offset)
{
	return (char *) base + offset;
}

/* The default text with "{domain}" replaced by our domain. */
static char *
expand_default(const char *def, const char *domain)
{
	const char *mark = strstr(def, "{domain}");
	size_t      n;
	char       *p;

	if (mark == NULL || domain == NULL)
		return strdup(def);
	n = strlen(def) + strlen(domain) + 1;
	if ((p = malloc(n)) != NULL)
		snprintf(p, n, "%.*s%s%s", (int) (mark - def), def, domain,
		    mark + strlen("{domain}"));
	return p;
}

static fedrpc_code
no_memory(cfg_loader *ld)
{
	return fedrpc_status_set(
	    ld->st, FEDRPC_RESOURCE_EXHAUSTED, "%s: out of memory", ld->name);
}

/*
 * Makes a relative path absolute against the config's folder: the whole
 * value, or what follows `scheme` ("ipc://"). Replaces *v.
 */
static fedrpc_code
resolve_path(cfg_loader *ld, char **v, const char *scheme)
{
	const char *rel = *v + strlen(scheme);
	const char *dir = ld->cfg->base_dir;
	size_t      n;
	char       *abs;

	if (rel[0] == '/' || strcmp(rel, ":memory:") == 0)
		return FEDRPC_OK;
	n = strlen(scheme) + strlen(dir) + strlen(rel) + 2;
	if ((abs = malloc(n)) == NULL)
		return no_memory(ld);
	snprintf(abs, n, "%s%s%s%s", scheme, dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
	free(*v);
	*v = abs;
	return FEDRPC_OK;
}

/*
 * Checks a string value, normalises it (domains in lower case, absolute
 * paths) and stores a copy. `s` locates errors (NULL for a default).
 */
static fedrpc_code
store_string(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path, const char *value)
{
	char      **dst = slot(base, f->offset);
	char       *v, why[200], name[DNS_NAME_MAX];
	size_t      n;
	fedrpc_code rv = FEDRPC_OK;

	if (value[0] == '\0' && (f->flags & CFG_NONEMPTY))
		return load_error(ld, s, "setting '%s' must not be empty", path);
	if (value[0] == '\0' && (f->flags & CFG_NULL_IF_EMPTY)) {
		*dst = NULL;
		return FEDRPC_OK;
	}
	if ((v = strdup(value)) == NULL)
		return no_memory(ld);
	if (f->check != NULL && !f->check(v, why, sizeof(why))) {
		free(v);
		/* A check's reason reads "is ..." or ": '<value>' is ...". */
		return load_error(ld, s, "setting '%s'%s%s", path,
		    why[0] == ':' ? "" : " ", why);
	}
	/* "B.example." is b.example: the one spelling of core/base/dns_name.c,
	 * never longer than what was written. */
	if ((f->flags & CFG_DOMAIN) && dns_domain_check(v, name, NULL, 0))
		memcpy(v, name, strlen(name) + 1);
	if (f->flags & CFG_PATH)
		rv = resolve_path(ld, &v, "");
	if (f->flags & CFG_IPC_PATH) {
		rv = resolve_path(ld, &v, "ipc://");
		n  = strlen(v) - strlen("ipc://");
		if (rv == FEDRPC_OK && n > FEDRPC_CFG_IPC_PATH_MAX)
			rv = load_error(ld, s,
			    "setting '%s': socket path is %zu bytes long, at "
			    "most %d fit", path, n, FEDRPC_CFG_IPC_PATH_MAX);
	}
	if (rv != FEDRPC_OK) {
		free(v);
		return rv;
	}
	*dst = v;
	return FEDRPC_OK;
}

static fedrpc_code
store_enum(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path, const char *value)
{
	int         v = fedrpc_cfg_choice_value(f->choices, value);
	char        list[160] = "";
	const char *near = NULL;

	if (v >= 0) {
		*(int *) slot(base, f->offset) = v;
		return FEDRPC_OK;
	}
	for (const cfg_choice *c = f->choices; c->name != NULL; c++) {
		size_t used = strlen(list);

		snprintf(list + used, sizeof(list) - used, "%s\"%s\"",
		    c == f->choices ? "" : c[1].name == NULL ? " or " : ", ",
		    c->name);
		if (near == NULL && is_close(value, c->name))
			near = c->name;
	}
	if (near != NULL)
		return load_error(ld, s,
		    "setting '%s' must be %s, got \"%s\" (did you mean "
		    "\"%s\"?)", path, list, value, near);
	return load_error(
	    ld, s, "setting '%s' must be %s, got \"%s\"", path, list, value);
}

static fedrpc_code
store_int(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path, long long v)
{
	if (v < f->min || v > f->max)
		return load_error(ld, s,
		    "setting '%s' must be between %lld and %lld, got %lld",
		    path, (long long) f->min, (long long) f->max, v);
	switch (f->kind) {
	case CFG_U16:
		*(uint16_t *) slot(base, f->offset) = (uint16_t) v;
		break;
	case CFG_U32:
		*(uint32_t *) slot(base, f->offset) = (uint32_t) v;
		break;
	default:
		*(size_t *) slot(base, f->offset) = (size_t) v;
		break;
	}
	return FEDRPC_OK;
}

static fedrpc_code
store_double(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path, double v)
{
	if (!(v >= f->fmin && v <= f->fmax))
		return load_error(ld, s,
		    "setting '%s' must be between %.15g and %.15g, got %.15g",
		    path,
		    f->fmin, f->fmax, v);
	*(double *) slot(base, f->offset) = v;
	return FEDRPC_OK;
}

/* Stores a scalar's default (file syntax text). */
static fedrpc_code
store_default(cfg_loader *ld, const cfg_field *f, void *base, const char *path)
{
	fedrpc_code rv;
	char       *text;

	switch (f->kind) {
	case CFG_STRING:
		if ((text = expand_default(f->def, ld->cfg->domain)) == NULL)
			return no_memory(ld);
		rv = store_string(ld, f, NULL, base, path, text);
		free(text);
		return rv;
	case CFG_ENUM:
		return store_enum(ld, f, NULL, base, path, f->def);
	case CFG_BOOL:
		*(bool *) slot(base, f->offset) = strcmp(f->def, "true") == 0;
		return FEDRPC_OK;
	case CFG_U16:
	case CFG_U32:
	case CFG_SIZE:
		return store_int(
		    ld, f, NULL, base, path, strtoll(f->def, NULL, 10));
	case CFG_DOUBLE:
		return store_double(
		    ld, f, NULL, base, path, strtod(f->def, NULL));
	default:
		return FEDRPC_INTERNAL;
	}
}

/* Checks a present scalar's type and stores it. */
static fedrpc_code
load_scalar(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path)
{
	int type = config_setting_type(s);

	switch (f->kind) {
	case CFG_STRING:
	case CFG_ENUM:
		if (type != CONFIG_TYPE_STRING)
			break;
		if (f->kind == CFG_ENUM)
			return store_enum(ld, f, s, base, path,
			    config_setting_get_string(s));
		return store_string(
		    ld, f, s, base, path, config_setting_get_string(s));
	case CFG_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			break;
		*(bool *) slot(base, f->offset) = config_setting_get_bool(s);
		return FEDRPC_OK;
	case CFG_U16:
	case CFG_U32:
	case CFG_SIZE:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			break;
		return store_int(
		    ld, f, s, base, path, config_setting_get_int64(s));
	case CFG_DOUBLE:
		if (type == CONFIG_TYPE_FLOAT)
			return store_double(ld, f, s, base, path,
			    config_setting_get_float(s));
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			return store_double(ld, f, s, base, path,
			    (double) config_setting_get_int64(s));
		break;
	default:
		return FEDRPC_INTERNAL;
	}
	return load_error(ld, s, "setting '%s' must be %s, got %s", path,
	    kind_name(f->kind), type_name(type));
}

/* ---- groups, lists and arrays ---- */

static fedrpc_code load_fields(cfg_loader *ld, const cfg_field *fields,
    const config_setting_t *grp, const config_setting_t *anchor, void *base,
    const char *prefix);

static fedrpc_code
load_list(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path)
{
	int    type = s != NULL ? config_setting_type(s) : CONFIG_TYPE_NONE;
	size_t n    = s != NULL ? (size_t) config_setting_length(s) : 0;
	char  *arr;

	if (s != NULL && type != CONFIG_TYPE_LIST &&
	    !(type == CONFIG_TYPE_ARRAY && n == 0))
		return load_error(ld, s, "setting '%s' must be %s, got %s",
		    path, kind_name(f->kind), type_name(type));
	if (n == 0)
		return FEDRPC_OK;
	/* Owned by the config from here on, so an error frees it. */
	if ((arr = calloc(n, f->elem_size)) == NULL)
		return no_memory(ld);
	*(void **) slot(base, f->offset)        = arr;
	*(size_t *) slot(base, f->count_offset) = n;
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		char                    epath[CFG_PATH_MAX + 24];
		fedrpc_code             rv;

		snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return load_error(ld, e,
			    "setting '%s' must be a group, { ... }, got %s",
			    epath, type_name(config_setting_type(e)));
		rv = load_fields(ld, f->fields, e, e, arr + i * f->elem_size,
		    epath);
		if (rv != FEDRPC_OK)
			return rv;
	}
	return FEDRPC_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return (x > y) - (x < y);
}

static fedrpc_code
load_u32_array(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    void *base, const char *path)
{
	int        type = s != NULL ? config_setting_type(s) : CONFIG_TYPE_NONE;
	size_t     n;
	uint32_t **dst = slot(base, f->offset);

	if (s != NULL && type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return load_error(ld, s, "setting '%s' must be %s, got %s",
		    path, kind_name(f->kind), type_name(type));
	n = s != NULL ? (size_t) config_setting_length(s) : 1;
	if (n == 0)
		return load_error(ld, s, "setting '%s' must not be empty", path);
	if ((*dst = calloc(n, sizeof(uint32_t))) == NULL)
		return no_memory(ld);
	*(size_t *) slot(base, f->count_offset) = n;
	if (s == NULL) {
		(*dst)[0] = (uint32_t) strtoul(f->def, NULL, 10);
		return FEDRPC_OK;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		int                     et = config_setting_type(e);
		long long               v;

		if (et != CONFIG_TYPE_INT && et != CONFIG_TYPE_INT64)
			return load_error(ld, e,
			    "setting '%s[%zu]' must be an integer, got %s",
			    path, i, type_name(et));
		v = config_setting_get_int64(e);
		if (v < f->min || v > f->max)
			return load_error(ld, e,
			    "setting '%s[%zu]' must be between %lld and %lld, "
			    "got %lld", path, i, (long long) f->min,
			    (long long) f->max, v);
		for (size_t j = 0; j < i; j++)
			if ((*dst)[j] == (uint32_t) v)
				return load_error(ld, e,
				    "setting '%s' lists %lld twice", path, v);
		(*dst)[i] = (uint32_t) v;
	}
	qsort(*dst, n, sizeof(uint32_t), cmp_u32);
	return FEDRPC_OK;
}

static fedrpc_code
load_field(cfg_loader *ld, const cfg_field *f, const config_setting_t *s,
    const config_setting_t *anchor, void *base, const char *path)
{
	switch (f->kind) {
	case CFG_GROUP:
		if (s != NULL && config_setting_type(s) != CONFIG_TYPE_GROUP)
			return load_error(ld, s,
			    "setting '%s' must be a group, { ... }, got %s",
			    path, type_name(config_setting_type(s)));
		return load_fields(
		    ld, f->fields, s, s != NULL ? s : anchor, base, path);
	case CFG_LIST:
		return load_list(ld, f, s, base, path);
	case CFG_U32_ARRAY:
		return load_u32_array(ld, f, s, base, path);
	default:
		break;
	}
	if (s != NULL)
		return load_scalar(ld, f, s, base, path);
	if (f->flags & CFG_REQUIRED)
		return load_error(
		    ld, anchor, "missing required setting '%s'", path);
	if ((f->flags & CFG_REQUIRED_FED) && ld->cfg->federation.enabled)
		return load_error(ld, anchor,
		    "missing required setting '%s' (needed while federation "
		    "is enabled)", path);
	if (f->flags & CFG_INHERIT_SEARCH) {
		*(int *) slot(base, f->offset) =
		    (int) ld->cfg->federation.default_search_policy;
		return FEDRPC_OK;
	}
	if (f->def == NULL)
		return FEDRPC_OK; /* optional, stays NULL */
	return store_default(ld, f, base, path);
}

/*
 * Loads the members of one group (grp; NULL when the file leaves it out,
 * so everything takes its default). `anchor` locates "missing" errors.
 */
static fedrpc_code
load_fields(cfg_loader *ld, const cfg_field *fields,
    const config_setting_t *grp, const config_setting_t *anchor, void *base,
    const char *prefix)
{
	char path[CFG_PATH_MAX];
	int  n = grp != NULL ? config_setting_length(grp) : 0;

	for (int i = 0; i < n; i++) {
		const config_setting_t *s    = config_setting_get_elem(grp, i);
		const char             *name = config_setting_name(s);
		const cfg_field        *f    = fields;

		while (f->name != NULL && strcmp(f->name, name) != 0)
			f++;
		if (f->name == NULL) {
			snprintf(path, sizeof(path), "%s%s%s", prefix,
			    prefix[0] != '\0' ? "." : "", name);
			return unknown_setting(ld, fields, s, path);
		}
	}
	for (const cfg_field *f = fields; f->name != NULL; f++) {
		const config_setting_t *s = grp != NULL
		    ? config_setting_get_member(grp, f->name)
		    : NULL;
		fedrpc_code rv;

		snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] != '\0' ? "." : "", f->name);
		if ((rv = load_field(ld, f, s, anchor, base, path)) != FEDRPC_OK)
			return rv;
	}
	return FEDRPC_OK;
}

/* ---- checks across settings ---- */

/* The setting at `path` or, failing that, at `fallback` (may be NULL). */
static const config_setting_t *
find_setting(config_t *c, const char *path, const char *fallback)
{
	const config_setting_t *s = config_lookup(c, path);

	if (s == NULL && fallback != NULL)
		s = config_lookup(c, fallback);
	return s;
}

static fedrpc_code
check_unique_domains(cfg_loader *ld, config_t *c, const char *path,
    const void *arr, size_t n, size_t size)
{
	for (size_t i = 1; i < n; i++) {
		const char *d = *(char *const *) ((const char *) arr + i * size);

		for (size_t j = 0; j < i; j++) {
			const char *o = *(char *const *) ((const char *) arr +
			    j * size);
			const config_setting_t *list, *elem;

			if (strcmp(d, o) != 0)
				continue;
			list = config_lookup(c, path);
			elem = list != NULL ? config_setting_get_elem(list, i)
			                    : NULL;
			return load_error(ld, elem,
			    "setting '%s[%zu]': domain '%s' is listed twice",
			    path, i, d);
		}
	}
	return FEDRPC_OK;
}

/* web.sessions left empty: {domain}.sessions beside web.passwords (which
 * is absolute by now), so a password file anywhere keeps its log-ins in
 * the same folder. */
static fedrpc_code
default_web_sessions(cfg_loader *ld)
{
	const char *pw     = ld->cfg->web.passwords;
	const char *domain = ld->cfg->domain != NULL ? ld->cfg->domain : "web";
	const char *slash;
	size_t      n;

	if (ld->cfg->web.sessions != NULL || pw == NULL)
		return FEDRPC_OK;
	slash = strrchr(pw, '/');
	n     = strlen(pw) + strlen(domain) + sizeof(".sessions");
	if ((ld->cfg->web.sessions = malloc(n)) == NULL)
		return no_memory(ld);
	snprintf(ld->cfg->web.sessions, n, "%.*s%s.sessions",
	    slash != NULL ? (int) (slash - pw + 1) : 0, pw, domain);
	return FEDRPC_OK;
}

static fedrpc_code
check_across(cfg_loader *ld, config_t *c)
{
	fedrpc_config *cfg = ld->cfg;
	fedrpc_code    rv;

	_Static_assert(offsetof(fedrpc_config_allow, domain) == 0, "layout");
	_Static_assert(offsetof(fedrpc_config_static, domain) == 0, "layout");
	rv = check_unique_domains(ld, c, "federation.allow",
	    cfg->federation.allow, cfg->federation.n_allow,
	    sizeof(fedrpc_config_allow));
	if (rv != FEDRPC_OK)
		return rv;
	rv = check_unique_domains(ld, c, "discovery.static",
	    cfg->discovery.statics, cfg->discovery.n_statics,
	    sizeof(fedrpc_config_static));
	if (rv != FEDRPC_OK)
		return rv;
	/* We do not federate with ourselves: such an entry means another
	 * domain was meant, or `domain` is wrong. */
	for (size_t i = 0; cfg->domain != NULL && i < cfg->federation.n_allow;
	     i++) {
		const config_setting_t *list = config_lookup(c, "federation.allow");

		if (strcmp(cfg->federation.allow[i].domain, cfg->domain) == 0)
			return load_error(ld,
			    list != NULL ? config_setting_get_elem(list,
			                       (unsigned) i)
			                 : NULL,
			    "setting 'federation.allow[%zu]': '%s' is our own "
			    "domain (setting 'domain'); the allow list names "
			    "other domains",
			    i, cfg->domain);
	}
	if (cfg->client.backoff_max_ms < cfg->client.backoff_initial_ms)
		return load_error(ld,
		    find_setting(c, "client.backoff_max_ms",
		        "client.backoff_initial_ms"),
		    "setting 'client.backoff_max_ms' (%u) must not be below "
		    "'client.backoff_initial_ms' (%u)",
		    cfg->client.backoff_max_ms, cfg->client.backoff_initial_ms);
	if (cfg->storage.adapter == FEDRPC_STORAGE_POSTGRESQL &&
	    cfg->storage.conninfo == NULL)
		return load_error(ld, find_setting(c, "storage.adapter", NULL),
		    "setting 'storage.conninfo' is required when "
		    "'storage.adapter' is \"postgresql\"");
	if (cfg->storage.adapter == FEDRPC_STORAGE_MODULE &&
	    cfg->storage.module == NULL)
		return load_error(ld, find_setting(c, "storage.adapter", NULL),
		    "setting 'storage.module' is required when "
		    "'storage.adapter' is \"module\"");
	return default_web_sessions(ld);
}

/*
 * libconfig 1.5 silently wraps integers that do not fit 32 bits (without
 * an L suffix), so 5000000000 would load as 705032704. Scan the text for
 * such literals and refuse them instead. Strings and comments are skipped;
 * the text has already parsed, so it is well formed.
 */
static fedrpc_code
check_int_literals(cfg_loader *ld)
{
	const char *p    = ld->text;
	unsigned    line = 1;

	while (*p != '\0') {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");

			end = end != NULL ? end + 2 : p + strlen(p);
			for (; p < end; p++)
				line += *p == '\n';
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				line += *p == '\n';
			}
			if (*p == '"')
				p++;
		} else if (isalpha((unsigned char) *p) || *p == '*' ||
		    *p == '_' || *p == '@') {
			/* a name (or true/false, @include): may hold digits */
			p++;
			while (isalnum((unsigned char) *p) || *p == '_' ||
			    *p == '-' || *p == '*')
				p++;
		} else if (isdigit((unsigned char) *p) ||
		    ((*p == '-' || *p == '+') &&
		        isdigit((unsigned char) p[1]))) {
			const char *start = p, *q = p;
			bool        hex, wide, flt = false;
			char       *end;

			if (*q == '-' || *q == '+')
				q++;
			hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
			if (hex)
				q += 2;
			while (hex ? isxdigit((unsigned char) *q)
			           : isdigit((unsigned char) *q))
				q++;
			if (!hex && (*q == '.' || *q == 'e' || *q == 'E'))
				flt = true;
			wide = *q == 'L';
			if (flt) {
				/* a float: skip it whole */
				p = q + 1;
				while (isdigit((unsigned char) *p) ||
				    *p == '.' || *p == 'e' || *p == 'E' ||
				    ((*p == '-' || *p == '+') &&
				        (p[-1] == 'e' || p[-1] == 'E')))
					p++;
				continue;
			}
			errno = 0;
			if (hex) {
				unsigned long long u =
				    strtoull(start, &end, 16);

				if (errno == ERANGE ||
				    (!wide && u > (unsigned long long) INT_MAX))
					goto out_of_range;
			} else {
				long long v = strtoll(start, &end, 10);

				if (errno == ERANGE ||
				    (!wide && (v > INT_MAX || v < INT_MIN)))
					goto out_of_range;
			}
			p = q + (wide ? 1 : 0);
			continue;
		out_of_range:
			return fedrpc_status_set(ld->st,
			    FEDRPC_INVALID_ARGUMENT,
			    "%s:%u: integer %.*s is out of range", ld->name,
			    line, (int) (q - start), start);
		} else {
			p++;
		}
	}
	return FEDRPC_OK;
}

/* ---- entry points ---- */

#if defined(__SANITIZE_ADDRESS__)
/*
 * libconfig 1.5's scanner leaks the token it was reading when a parse fails
 * on certain syntax errors (a string where a name belongs, for one): memory
 * allocated in its lexer and never reachable by us. Tell LeakSanitizer to
 * ignore exactly those two allocation sites so that refusing a malformed
 * file does not fail sanitizer runs. Weak, so a program may define its own.
 */
__attribute__((weak)) const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}
#endif

static fedrpc_code
load_text(const char *text, const char *name, char *base_dir,
    fedrpc_config **out, fedrpc_status *st)
{
	cfg_loader  ld = {.name = name, .text = text, .st = st};
	config_t    c;
	fedrpc_code rv;

	*out = NULL;
	if ((ld.cfg = calloc(1, sizeof(*ld.cfg))) == NULL ||
	    (ld.cfg->source = strdup(name)) == NULL) {
		free(base_dir);
		fedrpc_config_free(ld.cfg);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	ld.cfg->base_dir = base_dir;
	config_init(&c);
	config_set_include_dir(&c, base_dir);
	if (!config_read_string(&c, text)) {
		const char *file = config_error_file(&c);
		int         at   = config_error_line(&c);
		unsigned    open = file == NULL && at > 0
		       ? fedrpc_cfg_open_string_line(text, (unsigned) at)
		       : 0;

		if (open != 0 && open < (unsigned) at)
			rv = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "%s:%u: unterminated string (no closing \" on the "
			    "line; read as one string up to line %d, where it "
			    "fails: %s)",
			    name, open, at, config_error_text(&c));
		else
			rv = fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "%s:%d: %s", file != NULL ? file : name, at,
			    config_error_text(&c));
	} else if ((rv = check_int_literals(&ld)) == FEDRPC_OK &&
	    (rv = load_fields(&ld, fedrpc_cfg_schema, config_root_setting(&c),
	         NULL, ld.cfg, "")) == FEDRPC_OK) {
		rv = check_across(&ld, &c);
	}
	config_destroy(&c);
	if (rv != FEDRPC_OK) {
		fedrpc_config_free(ld.cfg);
		return rv;
	}
	*out = ld.cfg;
	if (st != NULL)
		fedrpc_status_reset(st);
	return FEDRPC_OK;
}

/* The absolute form of the folder holding `path`, or NULL. */
static char *
folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char       *dir, *abs;

	if (slash == NULL)
		return getcwd(NULL, 0);
	if (slash == path)
		return strdup("/");
	if ((dir = strndup(path, (size_t) (slash - path))) == NULL)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

/* The largest configuration file read. */
#define CONFIG_FILE_MAX (16u << 20)

fedrpc_code
fedrpc_config_load_file(
    const char *path, fedrpc_config **out, fedrpc_status *st)
{
	char       *text, *dir;
	size_t      len;
	int         err;
	fedrpc_code rv;

	*out = NULL;
	if ((err = fedrpc_file_read(path, FEDRPC_FILE_STREAM, CONFIG_FILE_MAX,
	         &text, &len)) != 0)
		return fedrpc_status_set(st,
		    err == ENOENT   ? FEDRPC_NOT_FOUND
		    : err == ENOMEM ? FEDRPC_RESOURCE_EXHAUSTED
		                    : FEDRPC_INVALID_ARGUMENT,
		    "%s: cannot %s: %s", path,
		    err == ENOENT || err == EACCES ? "open" : "read",
		    err == EFBIG ? "larger than 16 MiB"
		                 : fedrpc_file_read_error(err));
	if (strlen(text) != len) {
		free(text);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: not a text file (it holds a NUL byte)", path);
	}
	if ((dir = folder_of(path)) == NULL) {
		free(text);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: cannot resolve its folder: %s", path,
		    strerror(errno));
	}
	rv = load_text(text, path, dir, out, st);
	free(text);
	return rv;
}

fedrpc_code
fedrpc_config_load_string(const char *text, const char *name_for_errors,
    fedrpc_config **out, fedrpc_status *st)
{
	char *dir;

	*out = NULL;
	if (name_for_errors == NULL)
		name_for_errors = "<string>";
	if (text == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: no configuration text", name_for_errors);
	if ((dir = getcwd(NULL, 0)) == NULL)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "%s: cannot get the working folder: %s", name_for_errors,
		    strerror(errno));
	return load_text(text, name_for_errors, dir, out, st);
}
