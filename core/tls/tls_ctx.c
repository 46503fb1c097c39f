/*
 * The engine's configuration operations: one WOLFSSL_CTX per nng TLS
 * config, set up with fedrpc's policy (TLS 1.3 unless 1.2 is asked for,
 * ChaCha20-Poly1305 first, X25519 then P-256, peers always verified), and
 * frozen when the first connection uses it. It also keeps, per config, how
 * the latest handshake ended, which is all a dialer can learn of a refusal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/clock.h"
#include "tls_internal.h"

/*
 * Cipher suites in preference order. This wolfSSL build has no AES-NI, so
 * ChaCha20-Poly1305 is about twice as fast as AES-GCM here. The TLS 1.2
 * suites only matter when a config allows 1.2; RSA ones come last for
 * peers with RSA certificates (fedrpc's own PKI issues ECDSA and Ed25519).
 */
static const char tls_ciphers[] =
    "TLS13-CHACHA20-POLY1305-SHA256:"
    "TLS13-AES128-GCM-SHA256:"
    "TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384";

/* Key exchange groups in preference order; a TLS 1.3 client sends its key
 * share for the first, so a server with the same list never needs a
 * HelloRetryRequest. */
static int tls_groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};

/* How often the same handshake failure is logged at WARN again. */
#define TLS_RELOG_SECONDS 60

/* The config the last init on this thread made, for fedrpc_tls_new(). */
static __thread nng_tls_engine_config *ctx_created;

nng_tls_engine_config *
tls_ctx_take_created(void)
{
	nng_tls_engine_config *cfg = ctx_created;

	ctx_created = NULL;
	return cfg;
}

static int
ctx_fail(nng_tls_engine_config *cfg, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps a readable reason for a failed setter; returns rv. Locked. */
static int
ctx_fail(nng_tls_engine_config *cfg, int rv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap);
	va_end(ap);
	return rv;
}

/* wolfSSL's words for an error code. */
static const char *
ctx_wolf_error(int err)
{
	return wolfSSL_ERR_reason_error_string((unsigned long) err);
}

/* Applies the version range to the CTX. Locked. */
static int
ctx_apply_versions(nng_tls_engine_config *cfg)
{
	int min = cfg->min_version >= NNG_TLS_1_3 ? TLS1_3_VERSION
	                                          : TLS1_2_VERSION;
	int max = cfg->max_version >= NNG_TLS_1_3 ? TLS1_3_VERSION
	                                          : TLS1_2_VERSION;

	/* wolfSSL refuses a maximum below the current minimum: open the
	 * range up first, then narrow it. */
	if (wolfSSL_CTX_set_max_proto_version(cfg->ctx, TLS1_3_VERSION) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_min_proto_version(cfg->ctx, min) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_max_proto_version(cfg->ctx, max) !=
	        WOLFSSL_SUCCESS)
		return ctx_fail(cfg, NNG_ENOTSUP,
		    "this wolfSSL cannot limit TLS versions as asked");
	return 0;
}

/* Applies the authentication mode to the CTX. Locked. */
static void
ctx_apply_auth(nng_tls_engine_config *cfg)
{
	int mode;

	/* No verify callback: wolfSSL's own checks (chain, dates, CRL,
	 * name) stand, and nothing can override a failure. */
	switch (cfg->auth) {
	case NNG_TLS_AUTH_MODE_NONE:
		mode = WOLFSSL_VERIFY_NONE;
		break;
	case NNG_TLS_AUTH_MODE_OPTIONAL:
		/* A server then accepts a client without a certificate, but
		 * still refuses a bad one. A client always wants one. */
		mode = cfg->mode == NNG_TLS_MODE_SERVER
		    ? WOLFSSL_VERIFY_PEER
		    : WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	default:
		mode = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	}
	wolfSSL_CTX_set_verify(cfg->ctx, mode, NULL);
}

static int
ctx_init(nng_tls_engine_config *cfg, nng_tls_mode mode)
{
	WOLFSSL_METHOD *method;

	tls_engine_thread_enter();
	method = mode == NNG_TLS_MODE_SERVER ? wolfSSLv23_server_method()
	                                     : wolfSSLv23_client_method();
	if (method == NULL || (cfg->ctx = wolfSSL_CTX_new(method)) == NULL)
		return NNG_ENOMEM;
	pthread_mutex_init(&cfg->lock, NULL);
	cfg->mode        = mode;
	cfg->auth        = NNG_TLS_AUTH_MODE_REQUIRED;
	cfg->min_version = NNG_TLS_1_3;
	cfg->max_version = NNG_TLS_1_3;
	cfg->fail_code   = FEDRPC_OK;

	if (ctx_apply_versions(cfg) != 0 ||
	    wolfSSL_CTX_set_cipher_list(cfg->ctx, tls_ciphers) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(cfg->ctx, tls_groups,
	        (int) (sizeof(tls_groups) / sizeof(tls_groups[0]))) !=
	        WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(cfg->ctx);
		pthread_mutex_destroy(&cfg->lock);
		return NNG_ENOTSUP;
	}
	ctx_apply_auth(cfg);
	/* nng has no way to resume a session, so tickets and the session
	 * cache would only cost a ticket encryption and a record per
	 * connection, and a global lock. */
	wolfSSL_CTX_set_session_cache_mode(cfg->ctx, WOLFSSL_SESS_CACHE_OFF);
	if (mode == NNG_TLS_MODE_SERVER) {
		wolfSSL_CTX_no_ticket_TLSv13(cfg->ctx);
		wolfSSL_CTX_NoTicketTLSv12(cfg->ctx);
	}
	ctx_created = cfg;
	return 0;
}

static void
ctx_fini(nng_tls_engine_config *cfg)
{
	wolfSSL_CTX_free(cfg->ctx);
	free(cfg->server_name);
	free(cfg->cert_pem);
	pthread_mutex_destroy(&cfg->lock);
}

/* Locks cfg for a setter; NNG_EBUSY once a connection has used it (nng
 * 1.5.2 never marks its configs busy, so the engine has to). */
static int
ctx_lock_unfrozen(nng_tls_engine_config *cfg)
{
	pthread_mutex_lock(&cfg->lock);
	if (cfg->frozen) {
		ctx_fail(cfg, NNG_EBUSY,
		    "TLS config already in use; make a new one to change it");
		pthread_mutex_unlock(&cfg->lock);
		return NNG_EBUSY;
	}
	cfg->error[0] = '\0';
	return 0;
}

int
tls_ctx_set_versions(
    nng_tls_engine_config *cfg, nng_tls_version min, nng_tls_version max)
{
	int rv;

	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	/* Narrow the range to what we accept: 1.2 and 1.3, never older. */
	if (min < NNG_TLS_1_2)
		min = NNG_TLS_1_2;
	if (max > NNG_TLS_1_3)
		max = NNG_TLS_1_3;
	if (max < min)
		rv = ctx_fail(cfg, NNG_ENOTSUP,
		    "no TLS version in the range asked for is allowed "
		    "(TLS 1.2 and 1.3 only)");
	else {
		cfg->min_version = min;
		cfg->max_version = max;
		rv               = ctx_apply_versions(cfg);
	}
	pthread_mutex_unlock(&cfg->lock);
	return rv;
}

int
tls_ctx_set_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	int rv;

	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	switch (mode) {
	case NNG_TLS_AUTH_MODE_NONE:
	case NNG_TLS_AUTH_MODE_OPTIONAL:
	case NNG_TLS_AUTH_MODE_REQUIRED:
		cfg->auth = mode;
		ctx_apply_auth(cfg);
		break;
	default:
		rv = ctx_fail(cfg, NNG_EINVAL, "unknown auth mode %d", mode);
		break;
	}
	pthread_mutex_unlock(&cfg->lock);
	return rv;
}

int
tls_ctx_set_server_name(nng_tls_engine_config *cfg, const char *name)
{
	char *copy = NULL;
	int   rv;

	if (name != NULL && (copy = strdup(name)) == NULL)
		return NNG_ENOMEM;
	if ((rv = ctx_lock_unfrozen(cfg)) != 0) {
		free(copy);
		return rv;
	}
	free(cfg->server_name);
	cfg->server_name = copy;
	pthread_mutex_unlock(&cfg->lock);
	return 0;
}

/* Loads each "-----BEGIN X509 CRL-----" block of pem: wolfSSL takes one
 * PEM CRL per call. Locked. */
static int
ctx_load_crls(nng_tls_engine_config *cfg, const char *pem)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	static const char end[]   = "-----END X509 CRL-----";
	const char       *p       = pem, *b, *e;
	int               n = 0, ret;

	while ((b = strstr(p, begin)) != NULL) {
		if ((e = strstr(b, end)) == NULL)
			break;
		e += sizeof(end) - 1;
		ret = wolfSSL_CTX_LoadCRLBuffer(cfg->ctx,
		    (const unsigned char *) b, (long) (e - b),
		    WOLFSSL_FILETYPE_PEM);
		if (ret != WOLFSSL_SUCCESS)
			return ctx_fail(cfg, NNG_ECRYPTO,
			    "CRL %d not accepted: %s (is it signed by a "
			    "trusted CA and still current?)",
			    n + 1, ctx_wolf_error(ret));
		n++;
		p = e;
	}
	if (n == 0)
		return ctx_fail(cfg, NNG_EINVAL, "no PEM CRL found");
	return 0;
}

int
tls_ctx_set_ca(
    nng_tls_engine_config *cfg, const char *ca_pem, const char *crl_pem)
{
	int ret, rv;

	if (ca_pem == NULL)
		return NNG_EINVAL;
	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	ret = wolfSSL_CTX_load_verify_buffer(cfg->ctx,
	    (const unsigned char *) ca_pem, (long) strlen(ca_pem),
	    WOLFSSL_FILETYPE_PEM);
	if (ret != WOLFSSL_SUCCESS)
		rv = ctx_fail(cfg, NNG_ECRYPTO, "no usable CA certificate: %s",
		    ctx_wolf_error(ret));
	else
		cfg->have_ca = true;
	pthread_mutex_unlock(&cfg->lock);
	if (rv == 0 && crl_pem != NULL && crl_pem[0] != '\0')
		rv = tls_ctx_add_crl(cfg, crl_pem);
	return rv;
}

int
tls_ctx_add_crl(nng_tls_engine_config *cfg, const char *crl_pem)
{
	int ret, rv;

	if (crl_pem == NULL)
		return NNG_EINVAL;
	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	if (!cfg->have_ca) {
		rv = ctx_fail(cfg, NNG_EINVAL,
		    "load the CA that signed a CRL before the CRL");
		goto out;
	}
	/* Leaf certificates are checked against the CRLs; a leaf whose
	 * issuer has no CRL loaded is refused ("revocation status
	 * unknown"), as OpenSSL's CRL_CHECK does. */
	if ((ret = wolfSSL_CTX_EnableCRL(cfg->ctx, 0)) != WOLFSSL_SUCCESS) {
		rv = ctx_fail(cfg, NNG_ENOTSUP, "cannot enable CRLs: %s",
		    ctx_wolf_error(ret));
		goto out;
	}
	rv = ctx_load_crls(cfg, crl_pem);
out:
	pthread_mutex_unlock(&cfg->lock);
	return rv;
}

/* wolfSSL's password callback: the password nng handed us. */
static int
ctx_password(char *buf, int size, int rwflag, void *arg)
{
	const char *pass = arg;
	size_t      n    = pass ? strlen(pass) : 0;

	(void) rwflag;
	if (size <= 0 || n >= (size_t) size)
		return -1;
	memcpy(buf, pass, n + 1);
	return (int) n;
}

int
tls_ctx_use_cert(nng_tls_engine_config *cfg, const char *cert_pem)
{
	int ret, rv;

	if (cert_pem == NULL)
		return NNG_EINVAL;
	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	ret = wolfSSL_CTX_use_certificate_chain_buffer_format(cfg->ctx,
	    (const unsigned char *) cert_pem, (long) strlen(cert_pem),
	    WOLFSSL_FILETYPE_PEM);
	if (ret != WOLFSSL_SUCCESS)
		rv = ctx_fail(cfg, NNG_ECRYPTO,
		    "not a usable PEM certificate (chain): %s",
		    ctx_wolf_error(ret));
	else {
		/* Kept for the key check that follows. */
		free(cfg->cert_pem);
		if ((cfg->cert_pem = strdup(cert_pem)) == NULL)
			rv = NNG_ENOMEM;
	}
	pthread_mutex_unlock(&cfg->lock);
	return rv;
}

int
tls_ctx_use_key(
    nng_tls_engine_config *cfg, const char *key_pem, const char *pass)
{
	int ret, rv, match;

	if (key_pem == NULL)
		return NNG_EINVAL;
	if ((rv = ctx_lock_unfrozen(cfg)) != 0)
		return rv;
	if (pass != NULL) {
		wolfSSL_CTX_set_default_passwd_cb(cfg->ctx, ctx_password);
		wolfSSL_CTX_set_default_passwd_cb_userdata(
		    cfg->ctx, (void *) pass);
	}
	ret = wolfSSL_CTX_use_PrivateKey_buffer(cfg->ctx,
	    (const unsigned char *) key_pem, (long) strlen(key_pem),
	    WOLFSSL_FILETYPE_PEM);
	if (pass != NULL) {
		/* The password is only borrowed for this call. */
		wolfSSL_CTX_set_default_passwd_cb(cfg->ctx, NULL);
		wolfSSL_CTX_set_default_passwd_cb_userdata(cfg->ctx, NULL);
	}
	if (ret != WOLFSSL_SUCCESS)
		rv = ctx_fail(cfg, NNG_ECRYPTO,
		    "not a usable private key (PEM, P-256 or Ed25519%s): %s",
		    pass ? "; is the password right?" : "",
		    ctx_wolf_error(ret));
	else if (cfg->cert_pem == NULL)
		rv = ctx_fail(cfg, NNG_EINVAL, "load the certificate first");
	else if ((match = tls_key_matches(cfg->cert_pem, key_pem, pass)) == 0 ||
	    (match < 0 &&
	        wolfSSL_CTX_check_private_key(cfg->ctx) != WOLFSSL_SUCCESS))
		rv = ctx_fail(
		    cfg, NNG_ECRYPTO, "key does not match certificate");
	pthread_mutex_unlock(&cfg->lock);
	return rv;
}

void
tls_ctx_error(nng_tls_engine_config *cfg, char *buf, size_t len)
{
	pthread_mutex_lock(&cfg->lock);
	snprintf(buf, len, "%s", cfg->error);
	pthread_mutex_unlock(&cfg->lock);
}

WOLFSSL_CTX *
tls_ctx_freeze(nng_tls_engine_config *cfg, const char **server_name)
{
	pthread_mutex_lock(&cfg->lock);
	cfg->frozen  = true;
	*server_name = cfg->mode == NNG_TLS_MODE_CLIENT ? cfg->server_name
	                                                : NULL;
	pthread_mutex_unlock(&cfg->lock);
	return cfg->ctx;
}

bool
tls_ctx_record_failure(
    nng_tls_engine_config *cfg, fedrpc_code code, const char *reason)
{
	time_t now = (time_t) (fedrpc_clock_ms() / 1000);
	bool   news;

	pthread_mutex_lock(&cfg->lock);
	/* A dialer retries every reconnect interval: say the same thing
	 * again only once in a while. */
	news = cfg->fail_code != code ||
	    strcmp(cfg->fail_reason, reason) != 0 ||
	    now - cfg->fail_logged >= TLS_RELOG_SECONDS;
	if (news)
		cfg->fail_logged = now;
	cfg->fail_code = code;
	snprintf(cfg->fail_reason, sizeof(cfg->fail_reason), "%s", reason);
	pthread_mutex_unlock(&cfg->lock);
	return news;
}

void
tls_ctx_record_success(nng_tls_engine_config *cfg)
{
	pthread_mutex_lock(&cfg->lock);
	cfg->fail_code      = FEDRPC_OK;
	cfg->fail_reason[0] = '\0';
	pthread_mutex_unlock(&cfg->lock);
}

fedrpc_code
tls_ctx_last_failure(nng_tls_engine_config *cfg, char *buf, size_t len)
{
	fedrpc_code code;

	pthread_mutex_lock(&cfg->lock);
	code = cfg->fail_code;
	if (buf != NULL && len > 0)
		snprintf(buf, len, "%s", cfg->fail_reason);
	pthread_mutex_unlock(&cfg->lock);
	return code;
}

/* ---- the nng config ops: thin wrappers over the setters above ---- */

static int
ctx_op_server(nng_tls_engine_config *cfg, const char *name)
{
	return tls_ctx_set_server_name(cfg, name);
}

static int
ctx_op_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	return tls_ctx_set_auth(cfg, mode);
}

static int
ctx_op_ca_chain(nng_tls_engine_config *cfg, const char *certs, const char *crl)
{
	return tls_ctx_set_ca(cfg, certs, crl);
}

static int
ctx_op_own_cert(nng_tls_engine_config *cfg, const char *cert,
    const char *key, const char *pass)
{
	int rv;

	if ((rv = tls_ctx_use_cert(cfg, cert)) != 0)
		return rv;
	return tls_ctx_use_key(cfg, key, pass);
}

static int
ctx_op_version(
    nng_tls_engine_config *cfg, nng_tls_version min, nng_tls_version max)
{
	return tls_ctx_set_versions(cfg, min, max);
}

const nng_tls_engine_config_ops tls_ctx_ops = {
	.size     = sizeof(nng_tls_engine_config),
	.init     = ctx_init,
	.fini     = ctx_fini,
	.server   = ctx_op_server,
	.auth     = ctx_op_auth,
	.ca_chain = ctx_op_ca_chain,
	.own_cert = ctx_op_own_cert,
	.version  = ctx_op_version,
};
