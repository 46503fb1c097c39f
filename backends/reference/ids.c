/*
 * Input rules shared by adapters: the text forms of ids, handles and names,
 * and which domain a qualified id must carry in a given request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <uuid/uuid.h>

#include "backends/reference/ids.h"
#include "core/base/dns_name.h"

fedrpc_code
adp_domain_take(char *d, const char *what, fedrpc_status *st)
{
	char out[DNS_NAME_MAX], why[96];

	/* Domains are case-insensitive: B.EXAMPLE is b.example. The rule
	 * and the reason are those of every other layer. */
	if (!dns_domain_check(d, out, why, sizeof(why)))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: '%.64s' is not a valid domain name: %s", what,
		    d != NULL ? d : "", why);
	memcpy(d, out, strlen(out) + 1); /* never longer than d */
	return FEDRPC_OK;
}

bool
adp_text_valid(const char *s, size_t min, size_t max)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t               count = 0;

	if (s == NULL)
		return min == 0;
	while (*p != '\0') {
		uint32_t cp;
		int      more;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return false;
			p++;
			count++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp   = *p & 0x1f;
			more = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp   = *p & 0x0f;
			more = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp   = *p & 0x07;
			more = 3;
		} else {
			return false;
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*p & 0x3f);
		}
		/* Overlong forms, surrogates and out-of-range values. */
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		count++;
	}
	return count >= min && count <= max;
}

void
adp_uuid_new(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

uint64_t
adp_random_u64(void)
{
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
			uuid_t u; /* libuuid falls back on its own sources */

			uuid_generate_random(u);
			memcpy(&v, u, sizeof(v));
		}
	}
	return v;
}

int64_t
adp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

fedrpc_code
adp_check_qid(const adp_qid *q, const char *what, fedrpc_status *st)
{
	if (q == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_INVALID_ARGUMENT, "%s: required", what);
	if (!fedrpc_uuid_valid(q->id))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: '%.64s' is not a lower-case UUID", what,
		    q->id ? q->id : "");
	/* The request lives in the call's memory: its spelling of the
	 * domain is made ours in place, once, for every later comparison. */
	return adp_domain_take(q->domain, what, st);
}

fedrpc_code
adp_check_ours(const adp_qid *q, const char *ours, const char *what,
    fedrpc_status *st)
{
	fedrpc_code rc;

	if ((rc = adp_check_qid(q, what, st)) != FEDRPC_OK)
		return rc;
	if (strcmp(q->domain, ours) != 0)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: %s@%s is not of this backend's domain %s", what,
		    q->id, q->domain, ours);
	return FEDRPC_OK;
}

fedrpc_code
adp_check_origin(
    const adp_qid *q, fedrpc_ctx *ctx, const char *what, fedrpc_status *st)
{
	const char *origin = fedrpc_ctx_origin_domain(ctx);
	fedrpc_code rc;

	if ((rc = adp_check_qid(q, what, st)) != FEDRPC_OK)
		return rc;
	if (origin == NULL || strcmp(q->domain, origin) != 0)
		return fedrpc_status_set(st, FEDRPC_PERMISSION_DENIED,
		    "%s: %s@%s is not of the calling domain %s", what, q->id,
		    q->domain, origin ? origin : "(none)");
	return FEDRPC_OK;
}

bool
adp_qid_eq(const adp_qid *a, const adp_qid *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->domain, b->domain) == 0;
}

int
adp_qid_cmp(const adp_qid *a, const adp_qid *b)
{
	int c = strcmp(a->domain, b->domain);

	return c != 0 ? c : strcmp(a->id, b->id);
}

/* A position in a list, sorted by (id, position). */
typedef struct qid_at {
	const adp_qid *q;
	size_t         i;
} qid_at;

static int
qid_at_cmp(const void *a, const void *b)
{
	const qid_at *x = a, *y = b;
	int           c = adp_qid_cmp(x->q, y->q);

	return c != 0 ? c : x->i < y->i ? -1 : x->i > y->i;
}

fedrpc_code
adp_first_repeat(adp_qid *const *ids, size_t n, size_t *at, fedrpc_status *st)
{
	qid_at *v;

	*at = n;
	if (n < 2)
		return FEDRPC_OK;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory checking a list of %zu ids", n);
	for (size_t i = 0; i < n; i++)
		v[i] = (qid_at){ids[i], i};
	qsort(v, n, sizeof(*v), qid_at_cmp);
	/* In a run of one id, the second position is its first repeat. */
	for (size_t k = 1; k < n; k++)
		if (adp_qid_eq(v[k - 1].q, v[k].q) &&
		    (k < 2 || !adp_qid_eq(v[k - 2].q, v[k].q)) && v[k].i < *at)
			*at = v[k].i;
	free(v);
	return FEDRPC_OK;
}

fedrpc_code
adp_check_unique(
    adp_qid *const *ids, size_t n, const char *what, fedrpc_status *st)
{
	size_t i;

	if (adp_first_repeat(ids, n, &i, st) != FEDRPC_OK)
		return st->code;
	if (i < n)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s: %s@%s appears twice", what, ids[i]->id,
		    ids[i]->domain);
	return FEDRPC_OK;
}

fedrpc_code
adp_check_version(fedrpc_ctx *ctx, const uint32_t *versions, size_t n,
    const char *ours, fedrpc_status *st)
{
	uint32_t v = fedrpc_ctx_api_version(ctx);
	char     list[128];
	size_t   len = 0;

	for (size_t i = 0; i < n; i++)
		if (versions[i] == v)
			return FEDRPC_OK;
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list) - 16; i++)
		len += (size_t) snprintf(list + len, sizeof(list) - len,
		    "%s%u", i ? ", " : "", versions[i]);
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
	    "federation API version %u is not served by %s (serves %s)", v,
	    ours, list);
}

adp_qid *
adp_qid_new(fedrpc_ctx *ctx, const char *domain, const char *id)
{
	adp_qid *q = fedrpc_ctx_alloc(ctx, sizeof(*q));

	if (q == NULL)
		return NULL;
	fedrpc__federation__v1__qualified_id__init(q);
	q->domain = fedrpc_ctx_strdup(ctx, domain);
	q->id     = fedrpc_ctx_strdup(ctx, id);
	if (q->domain == NULL || q->id == NULL)
		return NULL;
	return q;
}

adp_qid *
adp_qid_dup(fedrpc_ctx *ctx, const adp_qid *q)
{
	return adp_qid_new(ctx, q->domain, q->id);
}

void *
adp_ptrs(fedrpc_ctx *ctx, size_t n)
{
	return fedrpc_ctx_alloc(ctx, (n ? n : 1) * sizeof(void *));
}

ProtobufCMessage *
adp_clone(fedrpc_ctx *ctx, const ProtobufCMessage *m)
{
	size_t            len = protobuf_c_message_get_packed_size(m);
	uint8_t          *buf = malloc(len ? len : 1);
	ProtobufCMessage *out;

	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	out = protobuf_c_message_unpack(
	    m->descriptor, fedrpc_ctx_allocator(ctx), len, buf);
	free(buf);
	return out;
}
