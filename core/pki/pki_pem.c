/*
 * PEM files for the certificate tooling: reading them whole, and replacing
 * them atomically (a temporary file in the same folder, then rename) so a
 * reader never sees half a key and a key is never world-readable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki_internal.h"

#include <wolfssl/wolfcrypt/error-crypt.h>

/* Largest PEM file we read: a certificate chain or CRL, not a database. */
#define PKI_FILE_MAX (4u << 20)

fedrpc_code
pki_wc_error(fedrpc_status *st, const char *what, int ret)
{
	return fedrpc_status_set(st, FEDRPC_INTERNAL, "%s: %s (%d)", what,
	    wc_GetErrorString(ret), ret);
}

static fedrpc_code
errno_status(fedrpc_status *st, int err, const char *what, const char *path)
{
	fedrpc_code code;

	switch (err) {
	case ENOENT:
	case ENOTDIR:
		code = FEDRPC_NOT_FOUND;
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		code = FEDRPC_PERMISSION_DENIED;
		break;
	case ENOSPC:
	case EDQUOT:
		code = FEDRPC_RESOURCE_EXHAUSTED;
		break;
	default:
		code = FEDRPC_INTERNAL;
	}
	return fedrpc_status_set(st, code, "%s %s: %s", what, path,
	    strerror(err));
}

fedrpc_code
pki_file_read(const char *path, const char *what, uint8_t **out, size_t *len,
    fedrpc_status *st)
{
	struct stat sb;
	uint8_t    *buf;
	size_t      got = 0;
	int         fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno_status(st, errno, "cannot open", path);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (size_t) sb.st_size > PKI_FILE_MAX) {
		close(fd);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s %s is not a regular file of at most %u bytes", what,
		    path, PKI_FILE_MAX);
	}
	if ((buf = malloc((size_t) sb.st_size + 1)) == NULL) {
		close(fd);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory reading %s", path);
	}
	while (got < (size_t) sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t) sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			free(buf);
			close(fd);
			return errno_status(st, err, "cannot read", path);
		}
		got += (size_t) n;
	}
	close(fd);
	buf[got] = '\0';
	*out     = buf;
	*len     = got;
	return FEDRPC_OK;
}

fedrpc_code
pki_file_write(const char *path, const void *data, size_t len, mode_t mode,
    fedrpc_status *st)
{
	const uint8_t *p = data;
	char          *tmp;
	int            fd, err = 0;

	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory writing %s", path);
	/* mkstemp makes the file 0600, so a key is never readable by others,
	 * not even for the moment before fchmod. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		err = errno;
		free(tmp);
		return errno_status(st, err, "cannot create", path);
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		p += n;
		len -= (size_t) n;
	}
	if (err == 0 && fchmod(fd, mode) != 0)
		err = errno;
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = errno;
	if (err != 0)
		unlink(tmp);
	free(tmp);
	if (err != 0)
		return errno_status(st, err, "cannot write", path);
	return FEDRPC_OK;
}

fedrpc_code
pki_pem_read_cert(const char *path, uint8_t **der, size_t *len,
    fedrpc_status *st)
{
	uint8_t    *pem, *buf;
	size_t      pem_len;
	int         n;
	fedrpc_code rc;

	if ((rc = pki_file_read(path, "certificate", &pem, &pem_len, st)) !=
	    FEDRPC_OK)
		return rc;
	/* DER is always smaller than its base64 text. */
	if ((buf = malloc(pem_len + 1)) == NULL) {
		free(pem);
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory reading %s", path);
	}
	n = wc_CertPemToDer(pem, (int) pem_len, buf, (int) pem_len + 1,
	    CERT_TYPE);
	free(pem);
	if (n <= 0) {
		free(buf);
		return fedrpc_status_set(st, FEDRPC_INVALID_ARGUMENT,
		    "%s holds no PEM certificate: %s (%d)", path,
		    wc_GetErrorString(n), n);
	}
	*der = buf;
	*len = (size_t) n;
	return FEDRPC_OK;
}

fedrpc_code
pki_pem_write(const char *path, const uint8_t *der, size_t len, int pem_type,
    mode_t mode, fedrpc_status *st)
{
	/* base64 grows 4/3, plus a newline per 64 characters and the
	 * header and footer lines. */
	size_t      cap = len * 2 + 128;
	uint8_t    *pem;
	int         n;
	fedrpc_code rc;

	if ((pem = malloc(cap)) == NULL)
		return fedrpc_status_set(st, FEDRPC_RESOURCE_EXHAUSTED,
		    "out of memory writing %s", path);
	n = wc_DerToPem(der, (word32) len, pem, (word32) cap, pem_type);
	if (n <= 0)
		rc = pki_wc_error(st, "PEM encoding failed", n);
	else
		rc = pki_file_write(path, pem, (size_t) n, mode, st);
	/* The PEM of a key is as secret as the key. */
	explicit_bzero(pem, cap);
	free(pem);
	return rc;
}
