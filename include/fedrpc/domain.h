/*
 * Channels by domain: a pool hands out one fedrpc_channel per remote
 * domain, found through DNS SRV discovery, dialed over mutual TLS, kept
 * connected with failover across the domain's targets and exponential
 * back-off, and closed when idle. The channels work with every generated
 * client stub, like channels opened by URL.
 *
 * What a domain channel does, in order (all of it off the caller's thread,
 * on the pool's own connection thread):
 *   1. asks the egress check whether the domain may be called at all;
 *   2. looks up the domain's SRV record and its targets' addresses;
 *   3. tries the targets in RFC 2782 order (priority, then weighted random),
 *      each address of each target: a TCP connection first, then the TLS
 *      handshake with the target host as the server name (the server's
 *      certificate must be valid for it; for a static route to an IP
 *      address, valid for the domain itself);
 *   4. stays on the first target that answers; when its connection drops,
 *      starts again at 2 (or 3 while the answer's TTL lasts), so calls move
 *      to another target of the domain;
 *   5. when every target failed, backs off (gRPC's connection back-off:
 *      1 s, x1.6, +-20% jitter, at most 120 s) and fails calls at once with
 *      the reason until the next attempt;
 *   6. looks the domain up again when the SRV answer's TTL runs out, and
 *      moves to the new targets when the one in use is no longer listed.
 * Calls made while a connection is being made wait for it (within their
 * deadline) and leave as soon as it is up.
 *
 * Errors calls get, each naming the domain and the step:
 *   PERMISSION_DENIED  "b.example is not on the allow list" (no DNS, no
 *                      network traffic was caused)
 *   NOT_FOUND          "no such domain: b.example ...", "b.example publishes
 *                      no _fedrpc._tcp SRV record"
 *   UNAVAILABLE        a DNS failure or timeout; "connection refused by
 *                      fed1.b.example:7443"; "TLS handshake with
 *                      fed1.b.example:7443 failed: certificate not trusted
 *                      ..."; also while backing off after such failures
 *   DEADLINE_EXCEEDED  "deadline exceeded while connecting to b.example
 *                      (TLS handshake with fed1.b.example:7443)"
 */
#ifndef FEDRPC_DOMAIN_H
#define FEDRPC_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fedrpc/channel.h>
#include <fedrpc/discovery.h>
#include <fedrpc/status.h>
#include <fedrpc/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Connection back-off after every target of a domain failed. */
typedef struct fedrpc_backoff_opts {
	uint32_t initial_ms; /* the first delay; 0: 1000 */
	double   multiplier; /* growth per failure; 0: 1.6 (below 1: 1) */
	double   jitter;     /* each delay +- this fraction; 0: 0.2; < 0: none */
	uint32_t max_ms;     /* largest delay before jitter; 0: 120000 */
} fedrpc_backoff_opts;

/* The egress check: true if calls to `domain` are allowed. Called on the
 * caller's thread and on the pool's thread; must not block. */
typedef bool (*fedrpc_egress_fn)(void *arg, const char *domain);

typedef struct fedrpc_domains_opts {
	const char *origin_domain;  /* our domain, sent in every request */
	/* CA, certificate and key for mutual TLS (server_name is ignored:
	 * each target's own host name is used); required for "tls+tcp". */
	const fedrpc_tls_opts *tls;
	/* A resolver to share (borrowed; must outlive the pool), or NULL to
	 * make one from resolver_opts (NULL: system nameservers). */
	fedrpc_resolver            *resolver;
	const fedrpc_resolver_opts *resolver_opts;
	uint32_t api_version;          /* sent in every request */
	size_t   max_message_size;     /* 0: 4 MiB */
	uint32_t default_timeout_ms;   /* calls that give none; 0: 30 s */
	uint32_t connect_timeout_ms;   /* one TCP connect + TLS handshake;
					* 0: 5 s */
	fedrpc_backoff_opts backoff;
	/* No call for this long: the channel's connection is closed, and
	 * the channel freed if nobody holds it; 0: 5 minutes */
	uint32_t idle_timeout_ms;
	/* The transport: NULL or "tls+tcp"; "tcp" for tests without TLS. */
	const char      *scheme;
	fedrpc_egress_fn allowed;      /* NULL: every domain is allowed */
	void            *allowed_arg;
	/* The federation API versions we serve, ascending: each channel
	 * negotiates its version (see fedrpc_channel_opts); NULL/0: every
	 * call carries api_version. */
	const uint32_t *api_versions;
	size_t          n_api_versions;
} fedrpc_domains_opts;

typedef struct fedrpc_domains fedrpc_domains;

/* Makes a pool and starts its connection thread. The pool copies what it
 * needs from opts. */
fedrpc_code fedrpc_domains_new(fedrpc_domains **out,
    const fedrpc_domains_opts *opts, fedrpc_status *st);

/* Closes every channel (calls in flight see CANCELLED) and frees the
 * pool. Channels handed out must have been released before. */
void fedrpc_domains_free(fedrpc_domains *pool);

/*
 * The channel for `domain` ("b.example"; case and a final dot ignored):
 * made by the first request, shared by later ones. The caller owns one
 * reference and releases it with fedrpc_channel_close(), which does not
 * close the channel for the others. PERMISSION_DENIED when the egress
 * check refuses the domain, INVALID_ARGUMENT for a malformed name; in both
 * cases nothing was looked up or dialed. Connecting starts with the first
 * call.
 */
fedrpc_code fedrpc_domains_channel(fedrpc_domains *pool, const char *domain,
    fedrpc_channel **out, fedrpc_status *st);

/* The resolver the pool uses (its own or the one it was given). */
fedrpc_resolver *fedrpc_domains_resolver(fedrpc_domains *pool);

/* Counters, for tests and operators. */
typedef struct fedrpc_domains_stats {
	uint64_t channels;       /* domain channels open now */
	uint64_t connected;      /* of those, with a live connection */
	uint64_t created;        /* channels made since the pool started */
	uint64_t idle_closed;    /* channels or connections closed when idle */
	uint64_t attempts;       /* connection attempts to one target address */
	uint64_t attempt_failures;
	uint64_t backoffs;       /* times a domain went into back-off */
	uint64_t denied;         /* refused by the egress check */
} fedrpc_domains_stats;

void fedrpc_domains_stats_get(fedrpc_domains *pool, fedrpc_domains_stats *out);

/* Where a domain channel is in its life, for tests and operators. */
typedef struct fedrpc_domain_info {
	char     state[16];    /* "idle", "resolving", "connecting", "ready",
				* "backoff" */
	char     target[256];  /* the target connected to ("" if none) */
	uint16_t port;
	char     address[64];  /* its address, as dialed */
	uint32_t backoff_ms;   /* the current back-off delay (0: none) */
	uint32_t failures;     /* attempt sequences failed in a row */
	/* The schedule, in milliseconds of CLOCK_MONOTONIC: */
	uint64_t last_attempt_ms; /* when the latest attempt to a target
				   * address started (0: none yet) */
	uint64_t retry_at_ms;     /* in back-off: when the next attempt may
				   * start (0: not backing off) */
} fedrpc_domain_info;

/* Fills `out` for a channel from fedrpc_domains_channel(); NOT_FOUND for
 * a channel opened by URL. */
fedrpc_code fedrpc_domain_info_get(fedrpc_channel *ch, fedrpc_domain_info *out);

/* For operators (client/domain/domain_admin.c): the error calls to the
 * domain get now (*code OK and "" when none), and a copy of the latest
 * SRV answer (*answer NULL before the first lookup; free it with
 * fedrpc_srv_answer_free()). NOT_FOUND for a channel opened by URL. */
fedrpc_code fedrpc_domain_detail_get(fedrpc_channel *ch, fedrpc_code *code,
    char *error, size_t error_len, fedrpc_srv_answer **answer);

/* Ends the domain's back-off now: the next call starts a connection
 * attempt at once (with a fresh lookup), and the delays start again from
 * the first. Nothing changes for a domain not backing off beyond that
 * reset of the delays. NOT_FOUND for a channel opened by URL. */
fedrpc_code fedrpc_domain_backoff_reset(fedrpc_channel *ch);

/*
 * One connection attempt to one address of one target, for diagnostics
 * (fedctl discover --connect): a TCP connection to `url`'s host and port,
 * then (for tls+tcp://) the TLS handshake with tls->server_name, then one
 * call (a health check; any answer counts, a refusal too, since a listener
 * can finish handshakes without serving), all within timeout_ms. On
 * FEDRPC_OK `peer` (if not NULL) receives what was learnt
 * about the server (free with fedrpc_peer_clear()) and *connect_us the
 * time from the start to an established connection. Errors as a domain
 * channel gives them ("connection refused by ...", "TLS handshake with ...
 * failed: ...").
 */
fedrpc_code fedrpc_target_check(const char *url, const fedrpc_tls_opts *tls,
    uint32_t timeout_ms, fedrpc_peer *peer, uint64_t *connect_us,
    fedrpc_status *st);

#ifdef __cplusplus
}
#endif
#endif
