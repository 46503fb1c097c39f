/*
 * Status codes: names, setting a status, and mapping nng errors to codes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include <fedrpc/status.h>

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED",
};

const char *
fedrpc_code_name(fedrpc_code code)
{
	static __thread char buf[24];

	if ((unsigned) code < sizeof(code_names) / sizeof(code_names[0]))
		return code_names[code];
	snprintf(buf, sizeof(buf), "CODE_%d", (int) code);
	return buf;
}

fedrpc_code
fedrpc_status_set(fedrpc_status *st, fedrpc_code code, const char *fmt, ...)
{
	va_list ap;

	if (st == NULL)
		return code;
	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return code;
}

void
fedrpc_status_reset(fedrpc_status *st)
{
	if (st == NULL)
		return;
	free(st->details);
	st->details     = NULL;
	st->details_len = 0;
	st->code        = FEDRPC_OK;
	st->message[0]  = '\0';
}

int
fedrpc_status_set_details(fedrpc_status *st, const uint8_t *buf, size_t len)
{
	uint8_t *copy = NULL;

	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			return -ENOMEM;
		memcpy(copy, buf, len);
	}
	free(st->details);
	st->details     = copy;
	st->details_len = len;
	return 0;
}

fedrpc_code
fedrpc_code_from_nng(int err)
{
	switch (err) {
	case 0:
		return FEDRPC_OK;
	case NNG_ETIMEDOUT:
		return FEDRPC_DEADLINE_EXCEEDED;
	case NNG_ECANCELED:
		return FEDRPC_CANCELLED;
	case NNG_ENOMEM:
	case NNG_EMSGSIZE:
		return FEDRPC_RESOURCE_EXHAUSTED;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		return FEDRPC_INVALID_ARGUMENT;
	case NNG_ENOTSUP:
		return FEDRPC_UNIMPLEMENTED;
	case NNG_EPERM:
	case NNG_EPEERAUTH:
		return FEDRPC_UNAUTHENTICATED;
	case NNG_ECRYPTO:
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECLOSED:
	case NNG_EUNREACHABLE:
	case NNG_EADDRINUSE:
	case NNG_EAGAIN:
		return FEDRPC_UNAVAILABLE;
	default:
		return FEDRPC_INTERNAL;
	}
}
