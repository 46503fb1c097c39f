/*
 * How PostgreSQL's failures read as store results (pg.h, pg_error): by
 * SQLSTATE, with a connection that is gone (or no answer at all) read as
 * UNAVAILABLE, so that callers retry later and the pool reconnects.
 */
#include <stdio.h>
#include <string.h>

#include "backends/postgresql/pg.h"

/* libpq's messages end in a newline; the status message does not. */
const char *
pg_trim_message(const char *msg, char *buf, size_t size)
{
	size_t n;

	snprintf(buf, size, "%s", msg != NULL && msg[0] ? msg : "no reason");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static bool
unavailable_state(const char *state)
{
	return strncmp(state, "08", 2) == 0 ||  /* connection exception */
	    strcmp(state, "57P01") == 0 ||      /* admin shutdown */
	    strcmp(state, "57P02") == 0 ||      /* crash shutdown */
	    strcmp(state, "57P03") == 0;        /* cannot connect now */
}

static fedrpc_code
code_of_state(const char *state)
{
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return FEDRPC_STORE_CONFLICT;
	if (strcmp(state, "23505") == 0)
		return FEDRPC_STORE_DUPLICATE;
	if (unavailable_state(state))
		return FEDRPC_UNAVAILABLE;
	if (strcmp(state, "25006") == 0)
		return FEDRPC_FAILED_PRECONDITION;
	if (strncmp(state, "53", 2) == 0) /* insufficient resources */
		return FEDRPC_RESOURCE_EXHAUSTED;
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
		return FEDRPC_DATA_LOSS;
	return FEDRPC_INTERNAL;
}

fedrpc_code
pg_error(
    PGconn *conn, const PGresult *r, const char *what, fedrpc_status *st)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
	                              : NULL;
	const char *msg   = r != NULL ? PQresultErrorMessage(r) : NULL;
	char        buf[512];
	fedrpc_code code;

	if (msg == NULL || msg[0] == '\0')
		msg = conn != NULL ? PQerrorMessage(conn) : NULL;
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		code = FEDRPC_UNAVAILABLE;
	else if (state == NULL)
		code = FEDRPC_UNAVAILABLE; /* no answer from the server */
	else
		code = code_of_state(state);
	pg_trim_message(msg, buf, sizeof(buf));
	if (code == FEDRPC_UNAVAILABLE)
		return fedrpc_status_set(st, code,
		    "postgresql store: the database is unavailable (%s): %s",
		    what, buf);
	return fedrpc_status_set(
	    st, code, "postgresql store: %s: %s", what, buf);
}
