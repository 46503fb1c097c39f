/*
 * A statement's parameters (pg.h, pg_params): strings and bytes borrowed,
 * numbers kept as text in the struct itself and found by index when the
 * statement runs.
 */
#include <inttypes.h>
#include <stdio.h>

#include <fedrpc/log.h>

#include "backends/postgresql/pg.h"

static void
param(pg_params *p, const char *v, int len, int fmt)
{
	if (p->n >= PG_MAX_PARAMS) {
		FEDRPC_LOG_ERROR("postgresql store: too many parameters");
		return;
	}
	p->v[p->n]   = v;
	p->len[p->n] = len;
	p->fmt[p->n] = fmt;
	p->n++;
}

void
pg_str(pg_params *p, const char *v)
{
	param(p, v != NULL ? v : "", 0, 0);
}

void
pg_i64(pg_params *p, int64_t v)
{
	if (p->n >= PG_MAX_PARAMS) {
		param(p, "", 0, 0); /* logs the error */
		return;
	}
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	param(p, NULL, 0, 0);
}

void
pg_u64(pg_params *p, uint64_t v)
{
	pg_i64(p, (int64_t) v);
}

/* An empty bytea is a zero-length value, not NULL. */
void
pg_blob(pg_params *p, const ProtobufCBinaryData *v)
{
	param(p, v->len > 0 ? (const char *) v->data : "", (int) v->len, 1);
}
