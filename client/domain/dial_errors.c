/*
 * How a failed connection attempt is put in words: from the error of one
 * dial, or from a dialer's statistics (nng counts refused, timed-out and
 * other attempts; fedrpc reads them instead of probing). Shared by the
 * domain channel and the diagnostic target check.
 */
#include <nng/nng.h>

#include "client/domain/domain_int.h"

const char *
dom_connect_error(int rv)
{
	switch (rv) {
	case NNG_ECONNREFUSED:
		return "connection refused by";
	case NNG_ETIMEDOUT:
		return "connection timed out to";
	case NNG_EUNREACHABLE:
		return "host unreachable:";
	case NNG_EADDRINVAL:
		return "invalid address for";
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return "connection reset by";
	default:
		return NULL;
	}
}

/*
 * Why a dialer's attempts failed, from its statistics: NNG_ECONNREFUSED,
 * NNG_ETIMEDOUT, NNG_EPEERAUTH, NNG_EPROTO, or NNG_ECONNABORTED for any
 * other failure; 0 while it has counted none (or has connected).
 */
int
dom_dial_error(const dial_counts *c)
{
	if (c->connect > 0)
		return 0;
	if (c->refused > 0)
		return NNG_ECONNREFUSED;
	if (c->timeout > 0)
		return NNG_ETIMEDOUT;
	if (c->auth > 0)
		return NNG_EPEERAUTH;
	if (c->proto > 0)
		return NNG_EPROTO;
	return c->other > 0 ? NNG_ECONNABORTED : 0;
}

/* dial_error() in words, to be followed by "host:port". */
const char *
dom_dial_error_words(int rv)
{
	switch (rv) {
	case NNG_ECONNREFUSED:
	case NNG_ETIMEDOUT:
		return dom_connect_error(rv);
	case NNG_EPEERAUTH:
		return "TLS handshake failed with";
	case NNG_EPROTO:
		return "not a fedrpc server (SP protocol error):";
	default:
		return "connection failed to";
	}
}

/* Appends one failure to the sequence's list; ch->mtx held. */
