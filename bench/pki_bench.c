/*
 * P-256 versus Ed25519 certificates with this wolfSSL: raw signatures,
 * chain verification, and whole mutual TLS 1.3 handshakes (in process,
 * over a socketpair), to tell which certificate type makes connecting
 * cheaper. Run by hand: `pki_bench [handshakes]`.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <fedrpc/pki.h>

#define OPS 2000

/* CPU time of this thread: everything here runs on one thread, and other
 * work on a busy machine then does not count. */
static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void
die(const char *what, int ret)
{
	fprintf(stderr, "pki_bench: %s failed (%d)\n", what, ret);
	exit(1);
}

/* A TLS 1.3 CertificateVerify signs 64 spaces, a label and a hash: about
 * 130 bytes. */
static void
bench_raw(void)
{
	uint8_t     msg[130], hash[WC_SHA256_DIGEST_SIZE], sig[128];
	word32      sig_len;
	WC_RNG      rng;
	ecc_key     ecc;
	ed25519_key ed;
	double      t0, sign_us, verify_us;
	int         ok, ret;

	memset(msg, ' ', sizeof(msg));
	if ((ret = wc_InitRng(&rng)) != 0)
		die("wc_InitRng", ret);

	wc_ecc_init(&ecc);
	if ((ret = wc_ecc_make_key_ex(&rng, 32, &ecc, ECC_SECP256R1)) != 0)
		die("wc_ecc_make_key_ex", ret);
	t0 = now_us();
	for (int i = 0; i < OPS; i++) {
		sig_len = sizeof(sig);
		wc_Sha256Hash(msg, sizeof(msg), hash);
		if ((ret = wc_ecc_sign_hash(hash, sizeof(hash), sig, &sig_len,
		         &rng, &ecc)) != 0)
			die("wc_ecc_sign_hash", ret);
	}
	sign_us = (now_us() - t0) / OPS;
	t0      = now_us();
	for (int i = 0; i < OPS; i++) {
		wc_Sha256Hash(msg, sizeof(msg), hash);
		if ((ret = wc_ecc_verify_hash(sig, sig_len, hash, sizeof(hash),
		         &ok, &ecc)) != 0 ||
		    !ok)
			die("wc_ecc_verify_hash", ret);
	}
	verify_us = (now_us() - t0) / OPS;
	printf("ECDSA P-256   sign %7.1f us   verify %7.1f us\n", sign_us,
	    verify_us);
	wc_ecc_free(&ecc);

	wc_ed25519_init(&ed);
	if ((ret = wc_ed25519_make_key(&rng, ED25519_KEY_SIZE, &ed)) != 0)
		die("wc_ed25519_make_key", ret);
	t0 = now_us();
	for (int i = 0; i < OPS; i++) {
		sig_len = sizeof(sig);
		if ((ret = wc_ed25519_sign_msg(msg, sizeof(msg), sig, &sig_len,
		         &ed)) != 0)
			die("wc_ed25519_sign_msg", ret);
	}
	sign_us = (now_us() - t0) / OPS;
	t0      = now_us();
	for (int i = 0; i < OPS; i++)
		if ((ret = wc_ed25519_verify_msg(sig, sig_len, msg,
		         sizeof(msg), &ok, &ed)) != 0 ||
		    !ok)
			die("wc_ed25519_verify_msg", ret);
	verify_us = (now_us() - t0) / OPS;
	printf("Ed25519       sign %7.1f us   verify %7.1f us\n", sign_us,
	    verify_us);
	wc_ed25519_free(&ed);
	wc_FreeRng(&rng);
}

/* Makes dir/<p>ca, dir/<p>srv and dir/<p>cli of one key type. */
static void
make_certs(const char *dir, const char *p, fedrpc_pki_key_type type)
{
	char                  ca[512], cak[512], crt[512], key[512];
	const char           *names[] = {"srv", "cli"};
	const char           *dns[]   = {"bench.example"};
	fedrpc_status         st      = {0};
	fedrpc_pki_issue_opts o       = {0};

	snprintf(ca, sizeof(ca), "%s/%sca.crt", dir, p);
	snprintf(cak, sizeof(cak), "%s/%sca.key", dir, p);
	if (fedrpc_pki_ca_create(ca, cak, "bench CA", type, 2, &st) != 0) {
		fprintf(stderr, "pki_bench: %s\n", st.message);
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(crt, sizeof(crt), "%s/%s%s.crt", dir, p, names[i]);
		snprintf(key, sizeof(key), "%s/%s%s.key", dir, p, names[i]);
		o = (fedrpc_pki_issue_opts) {.ca_cert = ca,
		    .ca_key                           = cak,
		    .cert_out                         = crt,
		    .key_out                          = key,
		    .dns_names                        = dns,
		    .n_dns_names                      = 1,
		    .key_type                         = type,
		    .not_before                       = time(NULL) - 60,
		    .not_after                        = time(NULL) + 86400};
		if (fedrpc_pki_issue(&o, &st) != 0) {
			fprintf(stderr, "pki_bench: %s\n", st.message);
			exit(1);
		}
	}
}

static void
bench_chain(const char *dir, const char *p, const char *label)
{
	char                  ca[512], leaf[512];
	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	double                t0;
	int                   ret = 0;

	snprintf(ca, sizeof(ca), "%s/%sca.crt", dir, p);
	snprintf(leaf, sizeof(leaf), "%s/%ssrv.crt", dir, p);
	if (cm == NULL ||
	    (ret = wolfSSL_CertManagerLoadCA(cm, ca, NULL)) != WOLFSSL_SUCCESS)
		die("wolfSSL_CertManagerLoadCA", ret);
	t0 = now_us();
	for (int i = 0; i < OPS / 4; i++)
		if ((ret = wolfSSL_CertManagerVerify(cm, leaf,
		         WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS)
			die("wolfSSL_CertManagerVerify", ret);
	printf("%-13s chain verify (read + parse + check) %7.1f us\n", label,
	    (now_us() - t0) / (OPS / 4));
	wolfSSL_CertManagerFree(cm);
}

/* A key exchange group to pin both ends to; 0 keeps wolfSSL's default. */
static WOLFSSL_CTX *
make_ctx(const char *dir, const char *p, bool server, int group)
{
	char         ca[512], crt[512], key[512];
	WOLFSSL_CTX *ctx;
	const char  *who = server ? "srv" : "cli";

	ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method()
	                             : wolfTLSv1_3_client_method());
	snprintf(ca, sizeof(ca), "%s/%sca.crt", dir, p);
	snprintf(crt, sizeof(crt), "%s/%s%s.crt", dir, p, who);
	snprintf(key, sizeof(key), "%s/%s%s.key", dir, p, who);
	if (ctx == NULL ||
	    wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_certificate_file(ctx, crt, WOLFSSL_FILETYPE_PEM) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) !=
	        WOLFSSL_SUCCESS)
		die("TLS context setup", 0);
	wolfSSL_CTX_set_verify(ctx,
	    WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (group != 0 &&
	    wolfSSL_CTX_set_groups(ctx, &group, 1) != WOLFSSL_SUCCESS)
		die("wolfSSL_CTX_set_groups", group);
	return ctx;
}

/* One mutual TLS 1.3 handshake, both ends driven from this thread. */
static void
handshake(WOLFSSL_CTX *cctx, WOLFSSL_CTX *sctx, bool check_peer)
{
	int      sv[2], cdone = 0, sdone = 0;
	WOLFSSL *c, *s;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair", 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c = wolfSSL_new(cctx);
	s = wolfSSL_new(sctx);
	wolfSSL_set_fd(c, sv[0]);
	wolfSSL_set_fd(s, sv[1]);
	wolfSSL_check_domain_name(c, "bench.example");
	for (int spins = 0; !(cdone && sdone); spins++) {
		if (spins > 10000)
			die("handshake (stuck)", 0);
		if (!cdone) {
			int r = wolfSSL_connect(c);

			if (r == WOLFSSL_SUCCESS)
				cdone = 1;
			else if (wolfSSL_want_read(c) == 0 &&
			    wolfSSL_want_write(c) == 0)
				die("wolfSSL_connect", wolfSSL_get_error(c, r));
		}
		if (!sdone) {
			int r = wolfSSL_accept(s);

			if (r == WOLFSSL_SUCCESS)
				sdone = 1;
			else if (wolfSSL_want_read(s) == 0 &&
			    wolfSSL_want_write(s) == 0)
				die("wolfSSL_accept", wolfSSL_get_error(s, r));
		}
	}
	if (check_peer) {
		/* The peer certificate as the TLS engine would read it. */
		WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(s);

		printf("  (key exchange %s; peer certificate object on the "
		       "server: %s)\n",
		    wolfSSL_get_curve_name(s) ? wolfSSL_get_curve_name(s) : "?",
		    x ? "available" : "NOT available");
		wolfSSL_X509_free(x);
	}
	wolfSSL_free(c);
	wolfSSL_free(s);
	close(sv[0]);
	close(sv[1]);
}

static void
bench_handshakes(const char *dir, const char *p, const char *label,
    int group, int n)
{
	WOLFSSL_CTX *cctx = make_ctx(dir, p, false, group);
	WOLFSSL_CTX *sctx = make_ctx(dir, p, true, group);
	double       t0, best = 0;

	/* The best of five rounds. */
	for (int round = 0; round < 5; round++) {
		double us;

		t0 = now_us();
		for (int i = 0; i < n / 5 + 1; i++)
			handshake(cctx, sctx, false);
		us = (now_us() - t0) / (n / 5 + 1);
		if (round == 0 || us < best)
			best = us;
	}
	printf("%-13s mutual TLS 1.3 handshake (both ends) %7.1f us\n", label,
	    best);
	handshake(cctx, sctx, true); /* what was negotiated */
	wolfSSL_CTX_free(cctx);
	wolfSSL_CTX_free(sctx);
}

int
main(int argc, char **argv)
{
	char  tmpl[] = "/tmp/fedrpc-pki-bench-XXXXXX";
	char *dir;
	char  cmd[600];
	int   n = argc > 1 ? atoi(argv[1]) : 300;

	if (n <= 0 || (dir = mkdtemp(tmpl)) == NULL)
		return 2;
	wolfSSL_Init();
	make_certs(dir, "p", FEDRPC_PKI_KEY_P256);
	make_certs(dir, "e", FEDRPC_PKI_KEY_ED25519);
	printf("wolfSSL %s, %d operations, %d handshakes; CPU time\n",
	    wolfSSL_lib_version(), OPS, n);
	bench_raw();
	bench_chain(dir, "p", "P-256");
	bench_chain(dir, "e", "Ed25519");
	bench_handshakes(dir, "p", "P-256", 0, n);
	bench_handshakes(dir, "e", "Ed25519", 0, n);
	bench_handshakes(dir, "p", "P-256", WOLFSSL_ECC_X25519, n);
	bench_handshakes(dir, "e", "Ed25519", WOLFSSL_ECC_X25519, n);
	wolfSSL_Cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
