/*
 * fedrpc_tls: the TLS configurations channels and servers use, made from
 * PEM files with fedrpc's policy (mutual TLS, TLS 1.3 unless 1.2 is
 * allowed, an explicit server name on clients), and the reason the latest
 * handshake through one failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/tls.h>

#include "core/base/file_read.h"
#include "tls_internal.h"

/* PEM files larger than this are not certificates, keys or CRLs we use. */
#define TLS_PEM_MAX (4u << 20)

struct fedrpc_tls {
	nng_tls_config        *cfg;    /* one reference, ours */
	nng_tls_engine_config *engine; /* inside cfg; lives as long as it */
};

/* Reads a whole PEM file into a NUL-terminated string (caller frees). */
static fedrpc_code
config_read(const char *what, const char *path, char **out, fedrpc_status *st)
{
	size_t len;
	int    err;

	if ((err = fedrpc_file_read(path, FEDRPC_FILE_REGULAR, TLS_PEM_MAX, out,
	         &len)) != 0)
		return fedrpc_status_set(st,
		    err == ENOENT   ? FEDRPC_NOT_FOUND
		    : err == ENOMEM ? FEDRPC_RESOURCE_EXHAUSTED
		                    : FEDRPC_INVALID_ARGUMENT,
		    "cannot read %s file %s: %s", what, path,
		    err == EFBIG ? "too large for a PEM file"
		                 : fedrpc_file_read_error(err));
	if (len == 0) {
		free(*out);
		*out = NULL;
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "cannot read %s file %s: empty", what, path);
	}
	return FEDRPC_OK;
}

/* Wipes and frees a buffer that held a private key. */
static void
config_free_secret(char *buf)
{
	if (buf != NULL) {
		explicit_bzero(buf, strlen(buf));
		free(buf);
	}
}

/* Maps fedrpc's version to nng's; DEFAULT (0) is `dflt`. */
static bool
config_version(fedrpc_tls_version v, nng_tls_version dflt, nng_tls_version *out)
{
	switch (v) {
	case FEDRPC_TLS_DEFAULT:
		*out = dflt;
		return true;
	case FEDRPC_TLS_1_2:
		*out = NNG_TLS_1_2;
		return true;
	case FEDRPC_TLS_1_3:
		*out = NNG_TLS_1_3;
		return true;
	default:
		return false;
	}
}

/* Checks opts before any file is read. */
static fedrpc_code
config_check(bool server, const fedrpc_tls_opts *opts, nng_tls_version *min,
    nng_tls_version *max, fedrpc_status *st)
{
	if (opts == NULL || opts->ca_file == NULL || opts->cert_file == NULL ||
	    opts->key_file == NULL)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS config: ca_file, cert_file and key_file are required "
		    "(federation TLS is always mutual)");
	if (!server && (opts->server_name == NULL || opts->server_name[0] == 0))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS client config: server_name is required (it is never "
		    "taken from the URL)");
	if (!server && opts->peer_cert_optional)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS client config: peer_cert_optional is for servers only");
	if (!config_version(opts->min_version, NNG_TLS_1_3, min) ||
	    !config_version(opts->max_version, NNG_TLS_1_3, max))
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS config: unsupported TLS version (1.2 or 1.3 only)");
	if (*min > *max)
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS config: min_version is above max_version");
	return FEDRPC_OK;
}

/* Applies opts and the PEM texts to a fresh engine config. */
static fedrpc_code
config_apply(nng_tls_engine_config *eng, bool server,
    const fedrpc_tls_opts *opts, nng_tls_version min, nng_tls_version max,
    const char *pem[4], fedrpc_status *st)
{
	char why[TLS_REASON_MAX];

	if (tls_ctx_set_versions(eng, min, max) != 0 ||
	    tls_ctx_set_auth(eng,
	        opts->peer_cert_optional ? NNG_TLS_AUTH_MODE_OPTIONAL
	                                 : NNG_TLS_AUTH_MODE_REQUIRED) != 0 ||
	    (!server && tls_ctx_set_server_name(eng, opts->server_name) != 0)) {
		tls_ctx_error(eng, why, sizeof(why));
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "TLS config: %s", why[0] ? why : "out of memory");
	}
	if (tls_ctx_set_ca(eng, pem[0], NULL) != 0) {
		tls_ctx_error(eng, why, sizeof(why));
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "cannot load CA file %s: %s", opts->ca_file, why);
	}
	if (pem[3] != NULL && tls_ctx_add_crl(eng, pem[3]) != 0) {
		tls_ctx_error(eng, why, sizeof(why));
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "cannot load CRL file %s: %s", opts->crl_file, why);
	}
	if (tls_ctx_use_cert(eng, pem[1]) != 0) {
		tls_ctx_error(eng, why, sizeof(why));
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "cannot load certificate file %s: %s", opts->cert_file, why);
	}
	if (tls_ctx_use_key(eng, pem[2], NULL) != 0) {
		tls_ctx_error(eng, why, sizeof(why));
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "cannot load key file %s (for %s): %s", opts->key_file,
		    opts->cert_file, why);
	}
	return FEDRPC_OK;
}

fedrpc_code
fedrpc_tls_new(fedrpc_tls **out, bool server, const fedrpc_tls_opts *opts,
    fedrpc_status *st)
{
	static const char *const what[4] = {"CA", "certificate", "key", "CRL"};
	nng_tls_version          min = NNG_TLS_1_3, max = NNG_TLS_1_3;
	nng_tls_config          *cfg = NULL;
	nng_tls_engine_config   *eng;
	fedrpc_tls              *tls = NULL;
	const char              *paths[4];
	char                    *pem[4] = {NULL, NULL, NULL, NULL};
	fedrpc_code              code;
	int                      rv;

	*out = NULL;
	if ((code = config_check(server, opts, &min, &max, st)) != FEDRPC_OK)
		return code;
	if ((code = fedrpc_tls_engine_init(st)) != FEDRPC_OK)
		return code;
	paths[0] = opts->ca_file;
	paths[1] = opts->cert_file;
	paths[2] = opts->key_file;
	paths[3] = opts->crl_file;
	for (int i = 0; i < 4; i++) {
		if (paths[i] == NULL)
			continue;
		if ((code = config_read(what[i], paths[i], &pem[i], st)) !=
		    FEDRPC_OK)
			goto out;
	}

	tls_ctx_take_created();
	rv = nng_tls_config_alloc(
	    &cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
	if (rv != 0) {
		code = fedrpc_status_set(st, fedrpc_code_from_nng(rv),
		    "cannot make a TLS config: %s", nng_strerror(rv));
		goto out;
	}
	if ((eng = tls_ctx_take_created()) == NULL) {
		code = fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "TLS config was made by engine \"%s\", not fedrpc's",
		    nng_tls_engine_name());
		goto out;
	}
	if ((code = config_apply(eng, server, opts, min, max,
	         (const char **) pem, st)) != FEDRPC_OK)
		goto out;
	if ((tls = calloc(1, sizeof(*tls))) == NULL) {
		code = fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		goto out;
	}
	tls->cfg    = cfg;
	tls->engine = eng;
	cfg         = NULL;
	*out        = tls;
out:
	if (cfg != NULL)
		nng_tls_config_free(cfg);
	for (int i = 0; i < 4; i++)
		config_free_secret(pem[i]);
	return code;
}

void
fedrpc_tls_free(fedrpc_tls *tls)
{
	if (tls == NULL)
		return;
	nng_tls_config_free(tls->cfg);
	free(tls);
}

nng_tls_config *
fedrpc_tls_nng_config(fedrpc_tls *tls)
{
	return tls->cfg;
}

fedrpc_code
fedrpc_tls_last_error(fedrpc_tls *tls, char *buf, size_t len)
{
	return tls_ctx_last_failure(tls->engine, buf, len);
}
