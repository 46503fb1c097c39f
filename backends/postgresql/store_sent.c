/*
 * Messages local users sent, in PostgreSQL: (sender, message id) is
 * unique, so that a send retried with the same id is recognised (by any
 * instance); rows are listed newest first by their identity seq and
 * forgotten by age.
 */
#include <stdint.h>

#include "backends/postgresql/pg.h"

#define COLUMNS                                                            \
	"seq, sender, message_id, conv_domain, conv_id, sent_ms, record "
static const char SQL_INSERT[] =
    "INSERT INTO sent_messages (sender, message_id, conv_domain, conv_id, "
    "sent_ms, record) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq";
static const char SQL_GET[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = $1 AND "
    "message_id = $2";
static const char SQL_UPDATE[] =
    "UPDATE sent_messages SET record = $3 WHERE sender = $1 AND "
    "message_id = $2";
static const char SQL_LIST[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = $1 AND seq < $2 "
    "ORDER BY seq DESC LIMIT $3";
static const char SQL_LIST_CONV[] =
    "SELECT " COLUMNS "FROM sent_messages WHERE sender = $1 AND seq < $2 "
    "AND conv_domain = $4 AND conv_id = $5 ORDER BY seq DESC LIMIT $3";
static const char SQL_FORGET[] =
    "DELETE FROM sent_messages WHERE sent_ms < $1";

static bool
row_sent(fedrpc_store_tx *tx, const PGresult *r, int row,
    fedrpc_store_sent *out)
{
	out->seq          = pg_get_u64(r, row, 0);
	out->sender       = pg_get_str(tx, r, row, 1);
	out->conversation = pg_get_qid(tx, r, row, 3);
	out->sent_ms      = pg_get_i64(r, row, 5);
	return out->sender != NULL && out->conversation != NULL &&
	    pg_get_blob(tx, r, row, 2, &out->message_id) &&
	    pg_get_blob(tx, r, row, 6, &out->record);
}

static pg_params
key(const char *sender, const ProtobufCBinaryData *message_id)
{
	pg_params p = {0};

	pg_str(&p, sender);
	pg_blob(&p, message_id);
	return p;
}

fedrpc_code
pg_sent_insert(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id,
    const fedrpc_store_qid *conversation, int64_t sent_ms,
    const ProtobufCBinaryData *record, uint64_t *seq, fedrpc_status *st)
{
	pg_params p = key(sender, message_id);
	PGresult *r;

	if (seq != NULL)
		*seq = 0;
	pg_str(&p, conversation->domain);
	pg_str(&p, conversation->id);
	pg_i64(&p, sent_ms);
	pg_blob(&p, record);
	if ((r = pg_query(tx, SQL_INSERT, &p, st)) == NULL)
		return st->code;
	if (seq != NULL)
		*seq = pg_get_u64(r, 0, 0);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_sent_get(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, fedrpc_store_sent *out,
    bool *found, fedrpc_status *st)
{
	pg_params p = key(sender, message_id);
	PGresult *r;

	*found = false;
	if ((r = pg_query(tx, SQL_GET, &p, st)) == NULL)
		return st->code;
	if (PQntuples(r) > 0 && !(*found = row_sent(tx, r, 0, out)))
		return pg_nomem_clear(r, st);
	PQclear(r);
	return FEDRPC_OK;
}

fedrpc_code
pg_sent_update(fedrpc_store_tx *tx, const char *sender,
    const ProtobufCBinaryData *message_id, const ProtobufCBinaryData *record,
    bool *found, fedrpc_status *st)
{
	pg_params p = key(sender, message_id);
	uint64_t  changed = 0;

	*found = false;
	pg_blob(&p, record);
	if (pg_cmd(tx, SQL_UPDATE, &p, &changed, st) != FEDRPC_OK)
		return st->code;
	*found = changed > 0;
	return FEDRPC_OK;
}

fedrpc_code
pg_sent_list(fedrpc_store_tx *tx, const char *sender,
    const fedrpc_store_qid *conversation, uint64_t before, uint32_t limit,
    fedrpc_store_sent **out, size_t *n, bool *more, fedrpc_status *st)
{
	pg_params          p = {0};
	PGresult          *r;
	fedrpc_store_sent *v;
	size_t             rows;

	*out  = NULL;
	*n    = 0;
	*more = false;
	if (limit == 0)
		limit = 1;
	pg_str(&p, sender);
	pg_i64(&p, before == 0 || before > INT64_MAX ? INT64_MAX
	                                             : (int64_t) before);
	pg_i64(&p, (int64_t) limit + 1);
	if (conversation != NULL) {
		pg_str(&p, conversation->domain);
		pg_str(&p, conversation->id);
	}
	r = pg_query(tx, conversation != NULL ? SQL_LIST_CONV : SQL_LIST, &p,
	    st);
	if (r == NULL)
		return st->code;
	rows = (size_t) PQntuples(r);
	if (rows > limit) {
		*more = true;
		rows  = limit;
	}
	if ((v = pg_alloc(tx, rows * sizeof(*v))) == NULL)
		return pg_nomem_clear(r, st);
	for (size_t i = 0; i < rows; i++)
		if (!row_sent(tx, r, (int) i, &v[i]))
			return pg_nomem_clear(r, st);
	PQclear(r);
	*out = v;
	*n   = rows;
	return FEDRPC_OK;
}

fedrpc_code
pg_sent_forget_before(fedrpc_store_tx *tx, int64_t before_ms,
    uint64_t *forgotten, fedrpc_status *st)
{
	pg_params p = {0};

	*forgotten = 0;
	pg_i64(&p, before_ms);
	return pg_cmd(tx, SQL_FORGET, &p, forgotten, st);
}
