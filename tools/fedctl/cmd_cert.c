/*
 * fedctl cert: the certificates federation mutual TLS needs, from a CA to
 * revocation, on fedrpc's pki tooling (include/fedrpc/pki.h):
 *   ca     a self-signed CA (DIR/ca.crt, DIR/ca.key)
 *   issue  a federator's certificate, signed by that CA
 *   show   what a certificate says (names, validity, issuer, serial, key)
 *   crl    a revocation list for the federators' tls.crl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <fedrpc/pki.h>

#include "fedctl.h"

#define CA_DAYS 3650
#define LEAF_DAYS 365
#define CRL_DAYS 30
#define DAYS_MAX 36500
/* Certificates start an hour early, against clock skew between hosts. */
#define BACKDATE_S 3600
#define MAX_NAMES 64

static void
cert_help(FILE *out)
{
	fprintf(out,
	    "usage: fedctl cert ca --out DIR [--name CN] [--key p256|ed25519] "
	    "[--days N]\n"
	    "                      [--force]\n"
	    "       fedctl cert issue --ca DIR/ca.crt --ca-key DIR/ca.key "
	    "--name NAME\n"
	    "                      --dns NAME [--dns NAME...] "
	    "[--client|--server|--both]\n"
	    "                      [--key p256|ed25519] [--days N] --out DIR\n"
	    "       fedctl cert show FILE [--json]\n"
	    "       fedctl cert crl --ca DIR/ca.crt --ca-key DIR/ca.key\n"
	    "                      [--revoke FILE_OR_SERIAL...] [--days N] "
	    "--out FILE\n"
	    "\n"
	    "ca     makes a self-signed CA: DIR/ca.crt (give it to every "
	    "federator as\n"
	    "       tls.ca) and DIR/ca.key (keep it offline). Default %d "
	    "days, P-256.\n"
	    "       An existing DIR/ca.key is kept unless --force.\n"
	    "issue  makes DIR/NAME.crt and DIR/NAME.key (mode 0600) signed by "
	    "the CA.\n"
	    "       --dns names go into subjectAltName: a federator's "
	    "certificate\n"
	    "       names its domain or the target of its SRV record (both "
	    "work).\n"
	    "       --both (default) for a federator, which is server and "
	    "client;\n"
	    "       --server or --client for one role. Default %d days, "
	    "P-256.\n"
	    "show   prints names, validity, issuer, serial, key type and "
	    "usage.\n"
	    "crl    writes a CRL revoking certificates (given as files or "
	    "hex serials),\n"
	    "       next update in N days (default %d). An empty one revokes "
	    "nothing.\n"
	    "       Federators load it as tls.crl and re-read it on SIGHUP.\n"
	    "\n"
	    "--key ed25519 makes smaller certificates and faster handshakes; "
	    "every\n"
	    "federator that talks to this one must support Ed25519 (fedrpc's "
	    "do).\n",
	    CA_DAYS, LEAF_DAYS, CRL_DAYS);
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	char    msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fedctl_error("cert", "%s (see fedctl cert --help)", msg);
	fedctl_usage_json("cert: %s", msg);
	return FEDCTL_EXIT_USAGE;
}

static int
parse_key(const char *s, fedrpc_pki_key_type *out)
{
	if (strcasecmp(s, "p256") == 0 || strcasecmp(s, "p-256") == 0 ||
	    strcasecmp(s, "ecdsa") == 0) {
		*out = FEDRPC_PKI_KEY_P256;
		return 0;
	}
	if (strcasecmp(s, "ed25519") == 0) {
		*out = FEDRPC_PKI_KEY_ED25519;
		return 0;
	}
	return -1;
}

static const char *
key_name(fedrpc_pki_key_type k)
{
	return k == FEDRPC_PKI_KEY_ED25519 ? "ed25519" : "p256";
}

static int
parse_days(const char *s, int *out)
{
	char *end;
	long  v;

	errno = 0;
	v     = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > DAYS_MAX)
		return -1;
	*out = (int) v;
	return 0;
}

/*
 * What `cert ca`, `issue` and `crl` share: --key, --days, --help and
 * getopt's errors. Returns -1 when the option was taken and parsing goes
 * on, else the exit code to return at once.
 */
static int
common_option(int c, char **argv, fedrpc_pki_key_type *key, int *days)
{
	switch (c) {
	case 'k':
		if (parse_key(optarg, key) != 0)
			return usage_error(
			    "--key is p256 or ed25519, not %s", optarg);
		return -1;
	case 'd':
		if (parse_days(optarg, days) != 0)
			return usage_error("--days takes 1..%d", DAYS_MAX);
		return -1;
	case 'h':
		cert_help(stdout);
		return FEDCTL_EXIT_OK;
	case ':':
		return usage_error("%s needs a value", argv[optind - 1]);
	default:
		return usage_error("unknown option %s", argv[optind - 1]);
	}
}

/* Makes DIR (and no parents) if it is missing. */
static int
ensure_dir(const char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			return 0;
		fedctl_error("cert", "%s is not a folder", dir);
		return -1;
	}
	if (mkdir(dir, 0755) != 0) {
		fedctl_error("cert", "cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static char *
join(const char *dir, const char *name, const char *ext)
{
	char *p;

	if (asprintf(&p, "%s/%s%s", dir, name, ext) < 0)
		return NULL;
	return p;
}

/* ---- ca ---- */

static int
cert_ca(int argc, char **argv)
{
	static const struct option longs[] = {
		{"out", required_argument, NULL, 'o'},
		{"name", required_argument, NULL, 'n'},
		{"key", required_argument, NULL, 'k'},
		{"days", required_argument, NULL, 'd'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char         *out = NULL, *name = "fedrpc federation CA";
	fedrpc_pki_key_type key  = FEDRPC_PKI_KEY_P256;
	int                 days = CA_DAYS, c, r, rc = FEDCTL_EXIT_FAILURE;
	bool                force = false;
	char               *crt = NULL, *kf = NULL;
	fedrpc_status       st  = {0};

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			if ((r = common_option(c, argv, &key, &days)) >= 0)
				return r;
			break;
		}
	}
	if (out == NULL || optind != argc)
		return usage_error("cert ca needs --out DIR and nothing else");
	if (ensure_dir(out) != 0)
		return FEDCTL_EXIT_FAILURE;
	if ((crt = join(out, "ca", ".crt")) == NULL ||
	    (kf = join(out, "ca", ".key")) == NULL)
		goto done;
	if (!force && access(kf, F_OK) == 0) {
		fedctl_error("cert",
		    "%s exists; a new CA would make every certificate it "
		    "issued useless (--force to replace it)",
		    kf);
		goto done;
	}
	if (fedrpc_pki_ca_create(crt, kf, name, key, days, &st) != FEDRPC_OK) {
		fedctl_error("cert", "%s", st.message);
		goto done;
	}
	printf("CA \"%s\" (%s, %d days):\n  certificate %s\n  key         %s "
	       "(keep it offline)\n",
	    name, key_name(key), days, crt, kf);
	rc = FEDCTL_EXIT_OK;
done:
	free(crt);
	free(kf);
	return rc;
}

/* ---- issue ---- */

static int
cert_issue(int argc, char **argv)
{
	static const struct option longs[] = {
		{"ca", required_argument, NULL, 'c'},
		{"ca-key", required_argument, NULL, 'K'},
		{"name", required_argument, NULL, 'n'},
		{"dns", required_argument, NULL, 'D'},
		{"client", no_argument, NULL, 'C'},
		{"server", no_argument, NULL, 'S'},
		{"both", no_argument, NULL, 'B'},
		{"key", required_argument, NULL, 'k'},
		{"days", required_argument, NULL, 'd'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char           *ca = NULL, *ca_key = NULL, *name = NULL;
	const char           *out  = NULL;
	const char           *dns[MAX_NAMES];
	size_t                n_dns = 0;
	fedrpc_pki_usage      usage = FEDRPC_PKI_USAGE_BOTH;
	fedrpc_pki_key_type   key   = FEDRPC_PKI_KEY_P256;
	int                   days  = LEAF_DAYS, c, r, rc = FEDCTL_EXIT_FAILURE;
	char                 *crt = NULL, *kf = NULL;
	fedrpc_status         st  = {0};
	fedrpc_pki_issue_opts o   = {0};
	time_t                now = time(NULL);

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 'K':
			ca_key = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'D':
			if (n_dns == MAX_NAMES)
				return usage_error("at most %d --dns names",
				    MAX_NAMES);
			dns[n_dns++] = optarg;
			break;
		case 'C':
			usage = FEDRPC_PKI_USAGE_CLIENT;
			break;
		case 'S':
			usage = FEDRPC_PKI_USAGE_SERVER;
			break;
		case 'B':
			usage = FEDRPC_PKI_USAGE_BOTH;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			if ((r = common_option(c, argv, &key, &days)) >= 0)
				return r;
			break;
		}
	}
	if (ca == NULL || ca_key == NULL || name == NULL || out == NULL ||
	    optind != argc)
		return usage_error("cert issue needs --ca, --ca-key, --name and "
				   "--out");
	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		return usage_error("--name %s is also the file name: no '/' or "
				   "leading '.'",
		    name);
	/* Without --dns the name is the one DNS name. */
	if (n_dns == 0)
		dns[n_dns++] = name;
	if (ensure_dir(out) != 0)
		return FEDCTL_EXIT_FAILURE;
	if ((crt = join(out, name, ".crt")) == NULL ||
	    (kf = join(out, name, ".key")) == NULL)
		goto done;
	o.ca_cert     = ca;
	o.ca_key      = ca_key;
	o.cert_out    = crt;
	o.key_out     = kf;
	o.common_name = name;
	o.dns_names   = dns;
	o.n_dns_names = n_dns;
	o.key_type    = key;
	o.not_before  = now - BACKDATE_S;
	o.not_after   = now + (time_t) days * 86400;
	o.usage       = usage;
	if (fedrpc_pki_issue(&o, &st) != FEDRPC_OK) {
		fedctl_error("cert", "%s", st.message);
		goto done;
	}
	printf("certificate for %s (%s, %s, %d days):\n", name,
	    usage == FEDRPC_PKI_USAGE_BOTH     ? "server and client"
	    : usage == FEDRPC_PKI_USAGE_SERVER ? "server"
					       : "client",
	    key_name(key), days);
	printf("  dns        ");
	for (size_t i = 0; i < n_dns; i++)
		printf("%s%s", i ? ", " : "", dns[i]);
	printf("\n  certificate %s\n  key         %s\n", crt, kf);
	rc = FEDCTL_EXIT_OK;
done:
	free(crt);
	free(kf);
	return rc;
}

/* ---- show ---- */

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
usage_name(unsigned u)
{
	switch (u & FEDRPC_PKI_USAGE_BOTH) {
	case FEDRPC_PKI_USAGE_BOTH:
		return "server,client";
	case FEDRPC_PKI_USAGE_SERVER:
		return "server";
	case FEDRPC_PKI_USAGE_CLIENT:
		return "client";
	default:
		return "none";
	}
}

/* "valid", "expired", "not yet valid" at `now`. */
static const char *
validity(const fedrpc_pki_cert_info *i, time_t now)
{
	if (now < i->not_before)
		return "not yet valid";
	if (now > i->not_after)
		return "expired";
	return "valid";
}

static int
show_json(const char *file, const fedrpc_pki_cert_info *i, time_t now)
{
	json_t *root  = json_object();
	json_t *names = json_array();
	char    nb[32], na[32];

	fmt_time(i->not_before, nb, sizeof(nb));
	fmt_time(i->not_after, na, sizeof(na));
	for (size_t k = 0; k < i->n_dns_names; k++)
		json_array_append_new(names, json_string(i->dns_names[k]));
	json_object_set_new(root, "file", json_string(file));
	json_object_set_new(root, "subject_cn", json_string(i->subject_cn));
	json_object_set_new(root, "issuer_cn", json_string(i->issuer_cn));
	json_object_set_new(root, "dns_names", names);
	json_object_set_new(root, "not_before", json_string(nb));
	json_object_set_new(root, "not_after", json_string(na));
	json_object_set_new(root, "status", json_string(validity(i, now)));
	json_object_set_new(root, "serial", json_string(i->serial_hex));
	json_object_set_new(root, "key_type", json_string(key_name(i->key_type)));
	json_object_set_new(root, "usage", json_string(usage_name(i->usage)));
	json_object_set_new(root, "is_ca", json_boolean(i->is_ca));
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
	return FEDCTL_EXIT_OK;
}

static int
cert_show(int argc, char **argv)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	fedrpc_pki_cert_info i;
	fedrpc_status        st   = {0};
	bool                 json = false;
	int                  c, rc;
	time_t               now = time(NULL);
	char                 nb[32], na[32];

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			cert_help(stdout);
			return FEDCTL_EXIT_OK;
		default:
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("cert show takes one certificate file");
	if (fedrpc_pki_info(argv[optind], &i, &st) != FEDRPC_OK) {
		fedctl_error("cert", "%s", st.message);
		return FEDCTL_EXIT_FAILURE;
	}
	if (json) {
		rc = show_json(argv[optind], &i, now);
		fedrpc_pki_info_clear(&i);
		return rc;
	}
	fmt_time(i.not_before, nb, sizeof(nb));
	fmt_time(i.not_after, na, sizeof(na));
	printf("%s\n", argv[optind]);
	printf("  subject    CN=%s%s\n", i.subject_cn, i.is_ca ? " (a CA)" : "");
	printf("  issuer     CN=%s\n", i.issuer_cn);
	printf("  dns        ");
	for (size_t k = 0; k < i.n_dns_names; k++)
		printf("%s%s", k ? ", " : "", i.dns_names[k]);
	printf("%s\n", i.n_dns_names == 0 ? "(none)" : "");
	printf("  valid      %s .. %s (%s)\n", nb, na, validity(&i, now));
	printf("  serial     %s\n", i.serial_hex);
	printf("  key        %s\n", key_name(i.key_type));
	printf("  usage      %s\n", i.is_ca ? "CA" : usage_name(i.usage));
	fedrpc_pki_info_clear(&i);
	return FEDCTL_EXIT_OK;
}

/* ---- crl ---- */

static int
cert_crl(int argc, char **argv)
{
	static const struct option longs[] = {
		{"ca", required_argument, NULL, 'c'},
		{"ca-key", required_argument, NULL, 'K'},
		{"revoke", required_argument, NULL, 'r'},
		{"days", required_argument, NULL, 'd'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char   *ca = NULL, *ca_key = NULL, *out = NULL;
	const char   *revoke[MAX_NAMES];
	char          serials[MAX_NAMES][FEDRPC_PKI_SERIAL_HEX_MAX];
	const char   *list[MAX_NAMES];
	size_t        n = 0;
	int           days = CRL_DAYS, c, r;
	fedrpc_pki_key_type key = FEDRPC_PKI_KEY_P256; /* no --key here */
	fedrpc_status st = {0};

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 'K':
			ca_key = optarg;
			break;
		case 'r':
			if (n == MAX_NAMES)
				return usage_error("at most %d --revoke",
				    MAX_NAMES);
			revoke[n++] = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			if ((r = common_option(c, argv, &key, &days)) >= 0)
				return r;
			break;
		}
	}
	if (ca == NULL || ca_key == NULL || out == NULL || optind != argc)
		return usage_error("cert crl needs --ca, --ca-key and --out");
	/* A file names its certificate's serial; anything else is one. */
	for (size_t k = 0; k < n; k++) {
		fedrpc_pki_cert_info i;

		if (access(revoke[k], F_OK) == 0) {
			if (fedrpc_pki_info(revoke[k], &i, &st) != FEDRPC_OK) {
				fedctl_error("cert", "%s", st.message);
				return FEDCTL_EXIT_FAILURE;
			}
			snprintf(serials[k], sizeof(serials[k]), "%s",
			    i.serial_hex);
			fedrpc_pki_info_clear(&i);
		} else {
			snprintf(serials[k], sizeof(serials[k]), "%s",
			    revoke[k]);
		}
		list[k] = serials[k];
	}
	if (fedrpc_pki_crl_create(ca, ca_key, out, list, n, days, &st) !=
	    FEDRPC_OK) {
		fedctl_error("cert", "%s", st.message);
		return FEDCTL_EXIT_FAILURE;
	}
	printf("CRL %s: %zu revoked, next update in %d days\n", out, n, days);
	for (size_t k = 0; k < n; k++)
		printf("  revoked %s%s%s%s\n", serials[k],
		    strcmp(serials[k], revoke[k]) != 0 ? " (" : "",
		    strcmp(serials[k], revoke[k]) != 0 ? revoke[k] : "",
		    strcmp(serials[k], revoke[k]) != 0 ? ")" : "");
	printf("Federators read it as tls.crl; send them SIGHUP to load it.\n");
	return FEDCTL_EXIT_OK;
}

static int
cert_run(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} subs[] = {
		{"ca", cert_ca},
		{"issue", cert_issue},
		{"show", cert_show},
		{"crl", cert_crl},
	};

	if (argc < 2)
		return usage_error("which one: ca, issue, show or crl?");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cert_help(stdout);
		return FEDCTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	return usage_error("unknown cert command \"%s\" (ca, issue, show, crl)",
	    argv[1]);
}

const fedctl_cmd fedctl_cmd_cert = {
    .name    = "cert",
    .summary = "make a CA, issue federator certificates, show them, "
	       "revoke them (CRL)",
    .run     = cert_run,
    .help    = cert_help,
};
