/*
 * The key store of fedctl_state.h: finding a user's file in the fedctl
 * home, refusing files others can read, JSON in and out (jansson, whose
 * freed blocks are wiped), a lock file per user and atomic replacement
 * (write, fsync, rename). The sessions' own JSON is session_store.c.
 */
#include <dirent.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_encode.h"
#include "fedctl_state.h"

/* How long a command waits for another one holding the user's lock. */
#define LOCK_WAIT_MS 10000
/* A state file larger than this is not ours. */
#define STATE_MAX (16u << 20)
#define SUFFIX ".json"

/* free() that wipes first: malloc_usable_size() is what was handed out. */
static void
wiping_free(void *p)
{
	if (p != NULL)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void
fedctl_state_init(void)
{
	json_set_alloc_funcs(malloc, wiping_free);
}

fedrpc_code
fedctl_state_home(const char *override, char **out, fedrpc_status *st)
{
	const char *v;
	char        buf[4096];

	*out = NULL;
	if (override != NULL && override[0] != '\0')
		snprintf(buf, sizeof(buf), "%s", override);
	else if ((v = getenv("FEDCTL_HOME")) != NULL && v[0] != '\0')
		snprintf(buf, sizeof(buf), "%s", v);
	else if ((v = getenv("XDG_DATA_HOME")) != NULL && v[0] == '/')
		snprintf(buf, sizeof(buf), "%s/fedctl", v);
	else if ((v = getenv("HOME")) != NULL && v[0] != '\0')
		snprintf(buf, sizeof(buf), "%s/.local/share/fedctl", v);
	else
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "no fedctl home: set FEDCTL_HOME or HOME");
	if ((*out = strdup(buf)) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	return FEDRPC_OK;
}

/* ---- finding a user's file ---- */

static bool
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

fedrpc_code
fedctl_state_find(
    const char *home, const char *as, char **path, fedrpc_status *st)
{
	DIR           *d;
	struct dirent *e;
	char           found[2][512];
	size_t         n = 0, hlen = 0;
	bool           qualified = as != NULL && strchr(as, '@') != NULL;
	char           buf[4096];

	*path = NULL;
	if (as != NULL && as[0] == '@')
		as++;
	if (qualified) {
		/* No separators: a user name never reaches outside home. */
		if (strchr(as, '/') != NULL || as[0] == '.')
			return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
			    "'%s' is not handle@domain", as);
		snprintf(buf, sizeof(buf), "%s/%s%s", home, as, SUFFIX);
		if (access(buf, F_OK) != 0)
			return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
			    "no keys for %s in %s (register with fedctl user "
			    "register, or set FEDCTL_HOME)",
			    as, home);
		if ((*path = strdup(buf)) == NULL)
			return fedrpc_status_set(
			    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
		return FEDRPC_OK;
	}
	if (as != NULL)
		hlen = strlen(as);
	if ((d = opendir(home)) == NULL)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "no fedctl user yet (%s: %s); start with fedctl user "
		    "register",
		    home, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;

		if (name[0] == '.' || !has_suffix(name, SUFFIX) ||
		    strchr(name, '@') == NULL)
			continue;
		if (as != NULL &&
		    (strncmp(name, as, hlen) != 0 || name[hlen] != '@'))
			continue;
		if (n < 2)
			snprintf(found[n], sizeof(found[n]), "%.*s",
			    (int) (strlen(name) - strlen(SUFFIX)), name);
		n++;
	}
	closedir(d);
	if (n == 0)
		return fedrpc_status_set(st, FEDRPC_NOT_FOUND,
		    "%s%s in %s; start with fedctl user register",
		    as != NULL ? "no user " : "no fedctl user yet",
		    as != NULL ? as : "", home);
	if (n > 1)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%zu users in %s (%s, %s%s): say which with --as "
		    "HANDLE@DOMAIN",
		    n, home, found[0], found[1], n > 2 ? ", ..." : "");
	snprintf(buf, sizeof(buf), "%s/%s%s", home, found[0], SUFFIX);
	if ((*path = strdup(buf)) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	return FEDRPC_OK;
}

/* ---- locking ---- */

static fedrpc_code
lock_take(const char *path, int *fd_out, fedrpc_status *st)
{
	char            lp[4200];
	int             fd;
	struct timespec ts = {0, 20 * 1000 * 1000};

	*fd_out = -1;
	snprintf(lp, sizeof(lp), "%s.lock", path);
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot open %s: %s", lp, strerror(errno));
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0;
	     waited += 20) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "cannot lock %s: %s", lp, strerror(errno));
		}
		if (waited >= LOCK_WAIT_MS) {
			close(fd);
			return fedrpc_status_set(st, FEDRPC_ABORTED,
			    "%s is locked by another fedctl", lp);
		}
		nanosleep(&ts, NULL);
	}
	*fd_out = fd;
	return FEDRPC_OK;
}

/* ---- JSON ---- */

static bool
parse_client_id(const char *s, uint64_t *id)
{
	char *end;

	if (s == NULL || s[0] == '\0' || strlen(s) > 16)
		return false;
	errno = 0;
	*id   = strtoull(s, &end, 16);
	return errno == 0 && *end == '\0' && *id != 0;
}

static json_t *
prekey_json(const fedctl_prekey *p)
{
	char    priv[2 * FEDCTL_E2E_KEY_LEN + 1], pub[2 * FEDCTL_E2E_KEY_LEN + 1];
	json_t *o;

	fedctl_e2e_hex_encode(p->kp.priv, FEDCTL_E2E_KEY_LEN, priv);
	fedctl_e2e_hex_encode(p->kp.pub, FEDCTL_E2E_KEY_LEN, pub);
	o = json_pack("{s:i, s:s, s:s, s:I}", "id", (int) p->id, "private",
	    priv, "public", pub, "used_by", (json_int_t) p->used_by);
	explicit_bzero(priv, sizeof(priv));
	return o;
}

static json_t *
state_json(const fedctl_state *s)
{
	json_t *root = json_object(), *clients = json_array();
	char    cur[20];

	snprintf(cur, sizeof(cur), "%" PRIx64, s->current);
	json_object_set_new(root, "format", json_string("fedctl-state"));
	json_object_set_new(root, "version", json_integer(FEDCTL_STATE_VERSION));
	json_object_set_new(root, "user",
	    json_pack("{s:s, s:s, s:s, s:s}", "id", s->user_id, "domain",
		s->domain, "handle", s->handle, "name", s->name));
	if (s->local_api != NULL)
		json_object_set_new(
		    root, "local_api", json_string(s->local_api));
	json_object_set_new(root, "current_client",
	    s->current != 0 ? json_string(cur) : json_null());
	for (size_t i = 0; i < s->n_clients; i++) {
		const fedctl_client *c  = &s->clients[i];
		json_t              *jc = json_object(), *pks = json_array();
		json_t              *ss = fedctl_session_set_json(&c->sessions);
		char                 id[20];

		snprintf(id, sizeof(id), "%" PRIx64, c->id);
		json_object_set_new(jc, "id", json_string(id));
		json_object_set_new(jc, "class", json_string(c->class_name));
		json_object_set_new(
		    jc, "last_event", json_integer((json_int_t) c->last_event));
		for (size_t j = 0; j < c->n_prekeys; j++)
			json_array_append_new(pks, prekey_json(&c->prekeys[j]));
		json_object_set_new(jc, "prekeys", pks);
		if (ss == NULL) {
			json_decref(jc);
			json_decref(clients);
			json_decref(root);
			return NULL;
		}
		json_object_set_new(jc, "sessions", ss);
		json_array_append_new(clients, jc);
	}
	json_object_set_new(root, "clients", clients);
	return root;
}

static fedrpc_code
bad_file(const char *path, const char *what, fedrpc_status *st)
{
	return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
	    "%s is not a valid fedctl state file: %s", path, what);
}

static fedrpc_code
client_from_json(const char *path, json_t *jc, fedctl_client *c,
    fedrpc_status *st)
{
	const char *id = NULL, *cls = NULL, *why = NULL;
	json_t     *pks = NULL, *jp, *ss = NULL;
	json_int_t  last = 0;
	size_t      i;

	if (json_unpack(jc, "{s:s, s:s, s:I, s:o, s?o}", "id", &id, "class",
	        &cls, "last_event", &last, "prekeys", &pks, "sessions", &ss) !=
	        0 ||
	    !parse_client_id(id, &c->id) || !json_is_array(pks) || last < 0)
		return bad_file(path, "a client entry", st);
	/* Version 1 files have no sessions yet. */
	if (ss != NULL &&
	    !fedctl_session_set_from_json(ss, &c->sessions, &why))
		return bad_file(path, why, st);
	c->last_event = (uint64_t) last;
	if ((c->class_name = strdup(cls)) == NULL ||
	    (c->prekeys = calloc(json_array_size(pks) + 1,
	         sizeof(*c->prekeys))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	json_array_foreach (pks, i, jp) {
		fedctl_prekey *p    = &c->prekeys[c->n_prekeys];
		const char    *priv = NULL, *pub = NULL;
		json_int_t     pid = -1, used = 0;

		if (json_unpack(jp, "{s:I, s:s, s:s, s:I}", "id", &pid,
		        "private", &priv, "public", &pub, "used_by", &used) !=
		        0 ||
		    pid < 0 || pid > FEDCTL_E2E_LAST_RESORT || used < 0 ||
		    !fedctl_e2e_hex_decode(priv, p->kp.priv, FEDCTL_E2E_KEY_LEN) ||
		    !fedctl_e2e_hex_decode(pub, p->kp.pub, FEDCTL_E2E_KEY_LEN))
			return bad_file(path, "a prekey entry", st);
		p->id      = (uint16_t) pid;
		p->used_by = (uint64_t) used;
		c->n_prekeys++;
	}
	return FEDRPC_OK;
}

static fedrpc_code
state_from_json(const char *path, json_t *root, fedctl_state *s,
    fedrpc_status *st)
{
	const char *format = NULL, *id = NULL, *dom = NULL, *h = NULL,
		   *name = NULL, *api = NULL;
	json_t     *cur = NULL, *clients = NULL, *jc;
	json_int_t  version = 0;
	size_t      i;
	char        q[512];

	if (json_unpack(root, "{s:s, s:I, s:{s:s, s:s, s:s, s:s}, s?s, s:o, "
			      "s:o}",
	        "format", &format, "version", &version, "user", "id", &id,
	        "domain", &dom, "handle", &h, "name", &name, "local_api", &api,
	        "current_client", &cur, "clients", &clients) != 0 ||
	    strcmp(format, "fedctl-state") != 0 || !json_is_array(clients))
		return bad_file(path, "missing or mistyped fields", st);
	if (version < 1 || version > FEDCTL_STATE_VERSION)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "%s: state format version %lld; this fedctl reads 1 to %d",
		    path, (long long) version, FEDCTL_STATE_VERSION);
	if (!json_is_null(cur) &&
	    !parse_client_id(json_string_value(cur), &s->current))
		return bad_file(path, "current_client", st);
	snprintf(q, sizeof(q), "%s@%s", id, dom);
	if ((s->user_id = strdup(id)) == NULL ||
	    (s->domain = strdup(dom)) == NULL ||
	    (s->qualified = strdup(q)) == NULL ||
	    (s->handle = strdup(h)) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (api != NULL && (s->local_api = strdup(api)) == NULL) ||
	    (s->clients = calloc(json_array_size(clients) + 1,
	         sizeof(*s->clients))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	json_array_foreach (clients, i, jc) {
		if (client_from_json(path, jc, &s->clients[s->n_clients], st) !=
		    FEDRPC_OK) {
			s->n_clients++; /* so that free sees its parts */
			return st->code;
		}
		s->n_clients++;
	}
	return FEDRPC_OK;
}

/* ---- load, create, save ---- */

/* Only a regular file of ours that nobody else may read or write. */
static fedrpc_code
check_private(const char *path, const struct stat *sb, fedrpc_status *st)
{
	if (!S_ISREG(sb->st_mode))
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s is not a regular file; refusing to use it", path);
	if (sb->st_uid != geteuid())
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s belongs to another user (uid %ld); refusing to use "
		    "it",
		    path, (long) sb->st_uid);
	if ((sb->st_mode & 077) != 0)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s holds private keys but others may access it (mode "
		    "%04o); refusing to use it. If nobody else has read it, "
		    "run: chmod 600 %s",
		    path, (unsigned) (sb->st_mode & 07777), path);
	return FEDRPC_OK;
}

/*
 * The whole file in one buffer (jansson would read it a byte per system
 * call), which the caller wipes and frees.
 */
static fedrpc_code
read_file(const char *path, int fd, size_t size, char **out, size_t *len,
    fedrpc_status *st)
{
	char  *buf = malloc(size + 1);
	size_t n   = 0;

	*out = NULL;
	if (buf == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	while (n < size) {
		ssize_t r = read(fd, buf + n, size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			explicit_bzero(buf, n);
			free(buf);
			return fedrpc_status_set(st, FEDRPC_DATA_LOSS,
			    "cannot read %s: %s", path,
			    r < 0 ? strerror(errno) : "shorter than its size");
		}
		n += (size_t) r;
	}
	buf[n] = '\0';
	*out   = buf;
	*len   = n;
	return FEDRPC_OK;
}

fedrpc_code
fedctl_state_load(
    const char *path, bool lock, fedctl_state **out, fedrpc_status *st)
{
	fedctl_state *s;
	struct stat   sb;
	json_t       *root = NULL;
	json_error_t  jerr;
	char         *text = NULL;
	size_t        len  = 0;
	int           fd   = -1;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	s->lock_fd = -1;
	if (lock && lock_take(path, &s->lock_fd, st) != FEDRPC_OK)
		goto fail;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		fedrpc_status_set(st,
		    errno == ENOENT ? FEDRPC_NOT_FOUND
				    : FEDRPC_PERMISSION_DENIED,
		    "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &sb) != 0) {
		fedrpc_status_set(st, FEDRPC_INTERNAL, "cannot stat %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	if (check_private(path, &sb, st) != FEDRPC_OK)
		goto fail;
	if (sb.st_size > (off_t) STATE_MAX) {
		bad_file(path, "too large", st);
		goto fail;
	}
	if (read_file(path, fd, (size_t) sb.st_size, &text, &len, st) !=
	    FEDRPC_OK)
		goto fail;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(text, len);
	free(text);
	if (root == NULL) {
		fedrpc_status_set(st, FEDRPC_DATA_LOSS,
		    "%s is not a valid fedctl state file: line %d: %s", path,
		    jerr.line, jerr.text);
		goto fail;
	}
	if (state_from_json(path, root, s, st) != FEDRPC_OK)
		goto fail;
	json_decref(root);
	close(fd);
	*out = s;
	return FEDRPC_OK;
fail:
	json_decref(root);
	if (fd >= 0)
		close(fd);
	fedctl_state_free(s);
	return st->code;
}

/* Makes dir (and its parents) with mode 0700 where missing. */
static fedrpc_code
make_home(const char *dir, fedrpc_status *st)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
			    "cannot make %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot make %s: %s", buf, strerror(errno));
	return FEDRPC_OK;
}

fedrpc_code
fedctl_state_create(const char *home, const char *user_id, const char *domain,
    const char *handle, const char *name, const char *local_api,
    fedctl_state **out, fedrpc_status *st)
{
	fedctl_state *s;
	char          path[4096], q[512];

	*out = NULL;
	if (make_home(home, st) != FEDRPC_OK)
		return st->code;
	snprintf(path, sizeof(path), "%s/%s@%s%s", home, handle, domain,
	    SUFFIX);
	snprintf(q, sizeof(q), "%s@%s", user_id, domain);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	s->lock_fd = -1;
	if ((s->path = strdup(path)) == NULL ||
	    (s->user_id = strdup(user_id)) == NULL ||
	    (s->domain = strdup(domain)) == NULL ||
	    (s->qualified = strdup(q)) == NULL ||
	    (s->handle = strdup(handle)) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (local_api != NULL && (s->local_api = strdup(local_api)) == NULL)) {
		fedctl_state_free(s);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (lock_take(path, &s->lock_fd, st) != FEDRPC_OK) {
		fedctl_state_free(s);
		return st->code;
	}
	if (access(path, F_OK) == 0) {
		fedctl_state_free(s);
		return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
		    "%s already exists", path);
	}
	if (fedctl_state_save(s, st) != FEDRPC_OK) {
		fedctl_state_free(s);
		return st->code;
	}
	*out = s;
	return FEDRPC_OK;
}

fedrpc_code
fedctl_state_save(fedctl_state *s, fedrpc_status *st)
{
	char    tmp[4200], dir[4096], *slash;
	json_t *root;
	char   *text;
	size_t  len, off = 0;
	int     fd, dfd;

	if (s->lock_fd < 0)
		return fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "%s: saving without the lock", s->path);
	if ((root = state_json(s)) == NULL ||
	    (text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	        NULL) {
		json_decref(root);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	json_decref(root);
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	unlink(tmp); /* a leftover of a crash; we hold the lock */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		explicit_bzero(text, len);
		free(text);
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot write %s: %s", tmp, strerror(errno));
	}
	/* The umask may only take bits away; be sure of the result. */
	(void) fchmod(fd, 0600);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t) n;
	}
	explicit_bzero(text, len);
	free(text);
	if (off != len || fsync(fd) != 0) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return st->code;
	}
	close(fd);
	if (rename(tmp, s->path) != 0) {
		fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "cannot replace %s: %s", s->path, strerror(errno));
		unlink(tmp);
		return st->code;
	}
	/* The rename itself must survive a crash. */
	snprintf(dir, sizeof(dir), "%s", s->path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) >= 0) {
			(void) fsync(dfd);
			close(dfd);
		}
	}
	return FEDRPC_OK;
}

static void
client_clear(fedctl_client *c)
{
	if (c->prekeys != NULL)
		explicit_bzero(c->prekeys, c->n_prekeys * sizeof(*c->prekeys));
	free(c->prekeys);
	free(c->class_name);
	fedctl_session_set_clear(&c->sessions);
	memset(c, 0, sizeof(*c));
}

void
fedctl_state_free(fedctl_state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_clients; i++)
		client_clear(&s->clients[i]);
	free(s->clients);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s->path);
	free(s->user_id);
	free(s->domain);
	free(s->qualified);
	free(s->handle);
	free(s->name);
	free(s->local_api);
	free(s);
}

/* ---- clients and prekeys ---- */

fedctl_client *
fedctl_state_client(fedctl_state *s, uint64_t id)
{
	if (id == 0)
		id = s->current;
	for (size_t i = 0; i < s->n_clients && id != 0; i++)
		if (s->clients[i].id == id)
			return &s->clients[i];
	return NULL;
}

fedrpc_code
fedctl_state_add_client(fedctl_state *s, uint64_t id, const char *class_name,
    const fedctl_prekey *prekeys, size_t n, fedrpc_status *st)
{
	fedctl_client *v, *c;

	if (fedctl_state_client(s, id) != NULL)
		return fedrpc_status_set(st, FEDRPC_ALREADY_EXISTS,
		    "client %" PRIx64 " is already known", id);
	if ((v = realloc(s->clients, (s->n_clients + 1) * sizeof(*v))) ==
	    NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	s->clients = v;
	c          = &v[s->n_clients];
	memset(c, 0, sizeof(*c));
	if ((c->class_name = strdup(class_name)) == NULL ||
	    (c->prekeys = calloc(n + 1, sizeof(*c->prekeys))) == NULL) {
		free(c->class_name);
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	memcpy(c->prekeys, prekeys, n * sizeof(*prekeys));
	c->n_prekeys = n;
	c->id        = id;
	s->n_clients++;
	s->current = id;
	return FEDRPC_OK;
}

fedrpc_code
fedctl_client_add_prekeys(fedctl_client *c, const fedctl_prekey *prekeys,
    size_t n, fedrpc_status *st)
{
	fedctl_prekey *v = calloc(c->n_prekeys + n + 1, sizeof(*v));

	/* A new array, so that the old one is wiped, not left by realloc. */
	if (v == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	if (c->n_prekeys > 0)
		memcpy(v, c->prekeys, c->n_prekeys * sizeof(*v));
	memcpy(v + c->n_prekeys, prekeys, n * sizeof(*v));
	if (c->prekeys != NULL)
		explicit_bzero(c->prekeys, c->n_prekeys * sizeof(*c->prekeys));
	free(c->prekeys);
	c->prekeys = v;
	c->n_prekeys += n;
	return FEDRPC_OK;
}

void
fedctl_state_remove_client(fedctl_state *s, uint64_t id)
{
	for (size_t i = 0; i < s->n_clients; i++) {
		if (s->clients[i].id != id)
			continue;
		client_clear(&s->clients[i]);
		memmove(&s->clients[i], &s->clients[i + 1],
		    (s->n_clients - i - 1) * sizeof(s->clients[0]));
		s->n_clients--;
		break;
	}
	if (s->current == id)
		s->current = s->n_clients > 0 ? s->clients[0].id : 0;
}

fedctl_prekey *
fedctl_client_prekey(fedctl_client *c, uint16_t id)
{
	for (size_t i = 0; i < c->n_prekeys; i++)
		if (c->prekeys[i].id == id)
			return &c->prekeys[i];
	return NULL;
}

size_t
fedctl_client_forget_used(fedctl_client *c, uint64_t up_to)
{
	size_t kept = 0, n = c->n_prekeys;

	for (size_t i = 0; i < n; i++) {
		fedctl_prekey *p = &c->prekeys[i];

		if (p->id != FEDCTL_E2E_LAST_RESORT && p->used_by != 0 &&
		    p->used_by <= up_to) {
			explicit_bzero(p, sizeof(*p));
			continue;
		}
		if (kept != i) {
			c->prekeys[kept] = *p;
			explicit_bzero(p, sizeof(*p));
		}
		kept++;
	}
	c->n_prekeys = kept;
	fedctl_session_set_forget_used(&c->sessions, up_to);
	return n - kept;
}
