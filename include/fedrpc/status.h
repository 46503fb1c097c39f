/*
 * Status codes and the status object every fallible fedrpc call fills in.
 * The codes are gRPC's seventeen, with gRPC's meanings.
 */
#ifndef FEDRPC_STATUS_H
#define FEDRPC_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fedrpc_code {
	FEDRPC_OK                  = 0,
	FEDRPC_CANCELLED           = 1,
	FEDRPC_UNKNOWN             = 2,
	FEDRPC_INVALID_ARGUMENT    = 3,
	FEDRPC_DEADLINE_EXCEEDED   = 4,
	FEDRPC_NOT_FOUND           = 5,
	FEDRPC_ALREADY_EXISTS      = 6,
	FEDRPC_PERMISSION_DENIED   = 7,
	FEDRPC_RESOURCE_EXHAUSTED  = 8,
	FEDRPC_FAILED_PRECONDITION = 9,
	FEDRPC_ABORTED             = 10,
	FEDRPC_OUT_OF_RANGE        = 11,
	FEDRPC_UNIMPLEMENTED       = 12,
	FEDRPC_INTERNAL            = 13,
	FEDRPC_UNAVAILABLE         = 14,
	FEDRPC_DATA_LOSS           = 15,
	FEDRPC_UNAUTHENTICATED     = 16,
} fedrpc_code;

#define FEDRPC_STATUS_MESSAGE_MAX 256

/*
 * A status: a code, a human-readable message and optional details (a
 * serialized protobuf message). `details` is owned by the status and freed by
 * fedrpc_status_reset(); a status that never received details needs no reset.
 */
typedef struct fedrpc_status {
	fedrpc_code code;                           /* FEDRPC_OK on success */
	char        message[FEDRPC_STATUS_MESSAGE_MAX]; /* "" when OK */
	uint8_t    *details;                        /* owned; may be NULL */
	size_t      details_len;
} fedrpc_status;

/* "OK", "CANCELLED", ... ; "CODE_<n>" for an out-of-range value. */
const char *fedrpc_code_name(fedrpc_code code);

/* Sets code and a printf-style message; returns code. `st` may be NULL. */
fedrpc_code fedrpc_status_set(fedrpc_status *st, fedrpc_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets st to OK with an empty message, freeing any details. */
void fedrpc_status_reset(fedrpc_status *st);

/* Copies details into st (replacing earlier ones). Returns 0 or -ENOMEM. */
int fedrpc_status_set_details(fedrpc_status *st, const uint8_t *buf, size_t len);

/* Maps an nng error number to the closest status code. */
fedrpc_code fedrpc_code_from_nng(int nng_err);

#ifdef __cplusplus
}
#endif
#endif
