/*
 * The wolfSSL TLS engine (core/tls/) over real nng req0/rep0 sockets on
 * tls+tcp://127.0.0.1: registration, mutual TLS round trips and the peer
 * names the server sees, refusals and the reasons they leave behind.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <fedrpc/log.h>
#include <fedrpc/pki.h>
#include <fedrpc/tls.h>

#include "lsan.h"
#include "testcerts.h"
#include "testutil.h"

/*
 * nng 1.5.2 leaks a TLS connection whose set-up fails while its socket is
 * being closed (the refusal tests below close right after a refused
 * handshake): what nng's own threads allocated for it, our engine's state
 * included, is never freed. Only allocations made on nng's threads are
 * excused; everything fedrpc allocates itself is still checked.
 */
TU_LSAN_SUPPRESS(TU_LSAN_NNG_THREADS)

#define WAIT_MS TU_WAIT_MS /* bound on every socket wait */
#define N_CLIENTS 50   /* concurrent clients, each with its own certificate */
#define N_REQUESTS 4   /* requests per client */

static char *dir;      /* this test's certificates */
static FILE *log_file; /* fedrpc_log output, for checking warnings */

static void
setup(void)
{
	fedrpc_status st = {0};

	cr_assert_not_null(dir = tu_tmpdir("tls"));
	cr_assert_not_null(log_file = tmpfile());
	fedrpc_log_set_stream(log_file);
	cr_assert_eq(fedrpc_tls_engine_init(&st), FEDRPC_OK, "%s", st.message);
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "server",
	    (const char *const[]){"server.example", "alt.example", NULL});
	testcerts_leaf(dir, "ca", "client",
	    (const char *const[]){"a.example", "fed.a.example", NULL});
}

static void
teardown(void)
{
	fedrpc_log_set_stream(NULL);
	if (log_file != NULL)
		fclose(log_file);
	tu_rmrf(dir);
	free(dir);
}

/* Everything logged so far (caller frees). */
static char *
logged(void)
{
	long  n;
	char *buf;

	fflush(log_file);
	n = ftell(log_file);
	cr_assert_not_null(buf = calloc(1, (size_t) n + 1));
	rewind(log_file);
	cr_assert_eq(fread(buf, 1, (size_t) n, log_file), (size_t) n);
	return buf;
}

/* What a test config is made of; names are files in dir without ".crt". */
typedef struct tls_spec {
	bool        server;
	const char *ca;          /* trusted CA */
	const char *leaf;        /* our certificate and key */
	const char *server_name; /* clients: the name to insist on */
	const char *crl_ca;      /* dir/<crl_ca>.crl, or NULL */
	int         min, max;    /* fedrpc_tls_version */
	bool        optional;    /* server: client certificate optional */
} tls_spec;

static fedrpc_tls *
make_tls(tls_spec s)
{
	fedrpc_status   st = {0};
	fedrpc_tls     *tls;
	char            ca[512], crt[512], key[512], crl[512];
	fedrpc_tls_opts o = {0};

	snprintf(ca, sizeof(ca), "%s/%s.crt", dir, s.ca);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, s.leaf);
	snprintf(key, sizeof(key), "%s/%s.key", dir, s.leaf);
	o.ca_file   = ca;
	o.cert_file = crt;
	o.key_file  = key;
	if (s.crl_ca != NULL) {
		snprintf(crl, sizeof(crl), "%s/%s.crl", dir, s.crl_ca);
		o.crl_file = crl;
	}
	o.server_name        = s.server_name;
	o.min_version        = (fedrpc_tls_version) s.min;
	o.max_version        = (fedrpc_tls_version) s.max;
	o.peer_cert_optional = s.optional;
	cr_assert_eq(fedrpc_tls_new(&tls, s.server, &o, &st), FEDRPC_OK,
	    "fedrpc_tls_new(%s): %s", s.leaf, st.message);
	return tls;
}

static fedrpc_tls *
server_tls(void)
{
	return make_tls((tls_spec){.server = true, .ca = "ca", .leaf = "server"});
}

static fedrpc_tls *
client_tls(const char *leaf)
{
	return make_tls((tls_spec){
	    .ca = "ca", .leaf = leaf, .server_name = "server.example"});
}

static void
set_timeouts(nng_socket s)
{
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, WAIT_MS), 0);
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, WAIT_MS), 0);
	/* A refused dial is not retried behind the test's back. */
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 60000), 0);
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 60000), 0);
}

/* A rep0 socket listening on a free port with a TLS config. */
typedef struct server {
	nng_socket   sock;
	nng_listener lst;
	char         url[64];
} server;

static void
server_open(server *sv, nng_tls_config *cfg)
{
	int rv;

	cr_assert_eq(nng_rep0_open(&sv->sock), 0);
	set_timeouts(sv->sock);
	snprintf(sv->url, sizeof(sv->url), "tls+tcp://127.0.0.1:%d",
	    tu_free_port());
	cr_assert_eq(nng_listener_create(&sv->lst, sv->sock, sv->url), 0);
	cr_assert_eq(nng_listener_set_ptr(sv->lst, NNG_OPT_TLS_CONFIG, cfg), 0);
	rv = nng_listener_start(sv->lst, 0);
	cr_assert_eq(rv, 0, "listen %s: %s", sv->url, nng_strerror(rv));
}

/* A req0 socket and a synchronous dial: the result of the first attempt,
 * TLS handshake and SP negotiation included. */
static int
client_dial(nng_socket *s, const char *url, nng_tls_config *cfg)
{
	nng_dialer d;

	cr_assert_eq(nng_req0_open(s), 0);
	set_timeouts(*s);
	cr_assert_eq(nng_dialer_create(&d, *s, url), 0);
	cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
	return nng_dialer_start(d, 0);
}

static bool
peer_has(const fedrpc_peer *p, const char *name)
{
	for (size_t i = 0; i < p->n_names; i++)
		if (strcmp(p->names[i], name) == 0)
			return true;
	return false;
}

/* ---- a server that answers each request with who it came from ---- */

typedef struct echo {
	nng_socket  sock;
	pthread_t   thread;
	atomic_int  served;     /* requests answered */
	atomic_int  mismatches; /* payload name not among the peer's names */
	atomic_int  no_peer;    /* fedrpc_tls_peer_get failed */
	atomic_int  pre_named;  /* ADD_PRE callbacks that saw peer names */
	atomic_int  pre_calls;  /* ADD_PRE callbacks */
	atomic_int  post_named; /* ADD_POST callbacks that saw peer names */
	fedrpc_peer first;      /* the first request's peer (owned) */
} echo;

/* Replies "<version> <cipher> <names...>"; a payload naming a peer must be
 * among the names of the pipe it came on. */
static void *
echo_main(void *arg)
{
	echo    *e = arg;
	nng_msg *m;

	while (nng_recvmsg(e->sock, &m, 0) == 0) {
		fedrpc_peer p;
		char        body[64] = "";
		char        reply[512];
		size_t      n = nng_msg_len(m);
		int         off;

		if (n > 0 && n < sizeof(body))
			memcpy(body, nng_msg_body(m), n);
		if (fedrpc_tls_peer_get(nng_msg_get_pipe(m), &p) != FEDRPC_OK) {
			atomic_fetch_add(&e->no_peer, 1);
			snprintf(reply, sizeof(reply), "no-peer");
		} else {
			if (body[0] != '\0' && !peer_has(&p, body))
				atomic_fetch_add(&e->mismatches, 1);
			off = snprintf(reply, sizeof(reply), "%s %s", p.version,
			    p.cipher);
			for (size_t i = 0; i < p.n_names; i++)
				off += snprintf(reply + off,
				    sizeof(reply) - (size_t) off, " %s",
				    p.names[i]);
			if (atomic_load(&e->served) == 0 &&
			    e->first.version[0] == '\0')
				e->first = p;
			else
				fedrpc_peer_clear(&p);
		}
		nng_msg_clear(m);
		nng_msg_append(m, reply, strlen(reply) + 1);
		/* Counted before the reply leaves: a client that has it
		 * must find it counted. */
		atomic_fetch_add(&e->served, 1);
		if (nng_sendmsg(e->sock, m, 0) != 0)
			nng_msg_free(m);
	}
	return NULL;
}

static void
echo_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	echo       *e = arg;
	fedrpc_peer peer;

	if (ev == NNG_PIPE_EV_ADD_PRE)
		atomic_fetch_add(&e->pre_calls, 1);
	if (fedrpc_tls_peer_get(p, &peer) == FEDRPC_OK) {
		if (peer.n_names > 0)
			atomic_fetch_add(ev == NNG_PIPE_EV_ADD_PRE
			        ? &e->pre_named
			        : &e->post_named,
			    1);
		fedrpc_peer_clear(&peer);
	}
}

static void
echo_start(echo *e, nng_socket sock)
{
	memset(e, 0, sizeof(*e));
	e->sock = sock;
	cr_assert_eq(nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, echo_pipe_event,
	                 e),
	    0);
	cr_assert_eq(nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST,
	                 echo_pipe_event, e),
	    0);
	cr_assert_eq(pthread_create(&e->thread, NULL, echo_main, e), 0);
}

static void
echo_stop(echo *e)
{
	nng_close(e->sock);
	pthread_join(e->thread, NULL);
	fedrpc_peer_clear(&e->first);
}

/* Sends `body`, returns the reply (caller frees) or NULL. */
static char *
call(nng_socket s, const char *body)
{
	char  *reply = NULL;
	size_t n;
	int    rv;

	if ((rv = nng_send(s, (void *) body, strlen(body), 0)) != 0) {
		cr_log_error("send: %s", nng_strerror(rv));
		return NULL;
	}
	if ((rv = nng_recv(s, &reply, &n, NNG_FLAG_ALLOC)) != 0) {
		cr_log_error("recv: %s", nng_strerror(rv));
		return NULL;
	}
	return reply;
}

/* Waits (bounded) until tls reports a failure; returns its code. */
static fedrpc_code
wait_failure(fedrpc_tls *tls, char *buf, size_t len)
{
	fedrpc_code code;

	(void) TU_WAIT_FOR(
	    (code = fedrpc_tls_last_error(tls, buf, len)) != FEDRPC_OK, WAIT_MS);
	return code;
}

/* Whether the log holds `what` now. */
static bool
log_has(const char *what)
{
	char *log   = logged();
	bool  found = strstr(log, what) != NULL;

	free(log);
	return found;
}

/* ---- engine ---- */

Test(engine, registers_once_and_is_named, .init = setup, .fini = teardown)
{
	fedrpc_status   st = {0};
	nng_tls_config *cfg;

	cr_assert_eq(fedrpc_tls_engine_init(&st), FEDRPC_OK, "%s", st.message);
	cr_assert_str_eq(fedrpc_tls_engine_name(), nng_tls_engine_name());
	cr_assert(strncmp(fedrpc_tls_engine_name(), "wolfSSL 5.", 10) == 0,
	    "engine is \"%s\"", fedrpc_tls_engine_name());
	cr_assert_str_eq(nng_version(), "1.5.2");
	/* A config made directly through nng uses the engine too, with its
	 * secure defaults (nothing loaded yet, so nothing else to see). */
	cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nng_tls_config_version(cfg, NNG_TLS_1_0, NNG_TLS_1_1),
	    NNG_ENOTSUP, "TLS 1.0/1.1 must never be allowed");
	cr_assert_eq(nng_tls_config_version(cfg, NNG_TLS_1_0, NNG_TLS_1_3), 0);
	nng_tls_config_free(cfg);
}

/* ---- configuration ---- */

Test(config, reports_files_and_mismatched_keys, .init = setup,
    .fini = teardown)
{
	fedrpc_status   st = {0};
	fedrpc_tls     *tls;
	char            ca[512], crt[512], key[512], other[512], bad[512];
	fedrpc_tls_opts o = {.server_name = "server.example"};

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/client.crt", dir);
	snprintf(key, sizeof(key), "%s/missing.key", dir);
	snprintf(other, sizeof(other), "%s/server.key", dir);
	snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	cr_assert(tu_write_file(bad, "-----BEGIN CERTIFICATE-----\nnope\n"
	                             "-----END CERTIFICATE-----\n"));
	o.ca_file   = ca;
	o.cert_file = crt;
	o.key_file  = key;

	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st), FEDRPC_NOT_FOUND);
	cr_assert_null(tls);
	cr_assert(strstr(st.message, "cannot read key file") &&
	              strstr(st.message, "missing.key"),
	    "%s", st.message);

	o.key_file = other;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "key does not match certificate") &&
	              strstr(st.message, "server.key"),
	    "%s", st.message);

	o.key_file  = other;
	o.cert_file = bad;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "certificate file") &&
	              strstr(st.message, "bad.pem"),
	    "%s", st.message);

	o.cert_file = crt;
	o.ca_file   = bad;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "CA file"), "%s", st.message);

	/* Clients must name the server; versions must make sense. */
	snprintf(key, sizeof(key), "%s/client.key", dir);
	o.ca_file     = ca;
	o.key_file    = key;
	o.server_name = NULL;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "server_name"), "%s", st.message);
	o.server_name = "server.example";
	o.min_version = FEDRPC_TLS_1_3;
	o.max_version = FEDRPC_TLS_1_2;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	o.min_version = (fedrpc_tls_version) 11;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);

	o.min_version = FEDRPC_TLS_DEFAULT;
	o.max_version = FEDRPC_TLS_DEFAULT;
	cr_assert_eq(fedrpc_tls_new(&tls, false, &o, &st), FEDRPC_OK, "%s",
	    st.message);
	cr_assert_eq(fedrpc_tls_last_error(tls, bad, sizeof(bad)), FEDRPC_OK);
	cr_assert_str_eq(bad, "");
	fedrpc_tls_free(tls);
}

/* Tries cert_file with key_file (names in dir); returns the status. */
static fedrpc_code
try_pair(const char *cert, const char *key, fedrpc_status *st)
{
	fedrpc_tls     *tls = NULL;
	char            ca[512], crt[512], k[512];
	fedrpc_tls_opts o = {.ca_file = ca, .cert_file = crt, .key_file = k};
	fedrpc_code     code;

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, cert);
	snprintf(k, sizeof(k), "%s/%s.key", dir, key);
	code = fedrpc_tls_new(&tls, true, &o, st);
	fedrpc_tls_free(tls);
	return code;
}

Test(config, loads_ed25519_keys_and_checks_every_pair, .init = setup,
    .fini = teardown)
{
	fedrpc_status st = {0};

	testcerts_leaf_ex(dir, "ca", "ed", (const char *const[]){"ed.example",
	                                       NULL},
	    -3600, 86400, FEDRPC_PKI_KEY_ED25519);
	testcerts_leaf_ex(dir, "ca", "ed2", (const char *const[]){"ed.example",
	                                        NULL},
	    -3600, 86400, FEDRPC_PKI_KEY_ED25519);
	cr_assert_eq(try_pair("ed", "ed", &st), FEDRPC_OK, "%s", st.message);
	cr_assert_eq(try_pair("server", "server", &st), FEDRPC_OK, "%s",
	    st.message);
	/* Same type, other key; and keys of the other type. */
	cr_assert_eq(try_pair("ed", "ed2", &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "key does not match certificate"), "%s",
	    st.message);
	cr_assert_eq(try_pair("ed", "server", &st), FEDRPC_INVALID_ARGUMENT);
	cr_assert_eq(try_pair("server", "ed", &st), FEDRPC_INVALID_ARGUMENT);
}

Test(config, refuses_a_crl_from_an_untrusted_ca, .init = setup,
    .fini = teardown)
{
	fedrpc_status   st = {0};
	fedrpc_tls     *tls;
	char            ca[512], crt[512], key[512], crl[512];
	fedrpc_tls_opts o = {0};

	testcerts_ca(dir, "other-ca");
	testcerts_crl(dir, "other-ca", NULL);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(crl, sizeof(crl), "%s/other-ca.crl", dir);
	o.ca_file   = ca;
	o.cert_file = crt;
	o.key_file  = key;
	o.crl_file  = crl;
	cr_assert_eq(fedrpc_tls_new(&tls, true, &o, &st),
	    FEDRPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "cannot load CRL file") &&
	              strstr(st.message, "other-ca.crl"),
	    "%s", st.message);
}

Test(config, is_frozen_by_its_first_connection, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls = client_tls("client");
	nng_tls_config *cfg = fedrpc_tls_nng_config(ctls);
	server      sv;
	nng_socket  c;

	cr_assert_eq(nng_tls_config_server_name(cfg, "server.example"), 0);
	server_open(&sv, fedrpc_tls_nng_config(stls));
	cr_assert_eq(client_dial(&c, sv.url, cfg), 0);
	cr_assert_eq(nng_tls_config_server_name(cfg, "evil.example"),
	    NNG_EBUSY);
	cr_assert_eq(nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE),
	    NNG_EBUSY);
	cr_assert_eq(
	    nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3), NNG_EBUSY);
	nng_close(c);
	nng_close(sv.sock);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

/* ---- round trips ---- */

Test(roundtrip, mutual_tls13_chacha_with_peer_names, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls = client_tls("client");
	server      sv;
	echo        e;
	nng_socket  c;
	nng_msg    *m;
	fedrpc_peer p;
	char       *reply, *log;
	char        why[256];
	int         rv;

	fedrpc_log_set_level(FEDRPC_LOG_DEBUG);
	server_open(&sv, fedrpc_tls_nng_config(stls));
	echo_start(&e, sv.sock);
	rv = client_dial(&c, sv.url, fedrpc_tls_nng_config(ctls));
	cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));

	for (int i = 0; i < 3; i++) {
		cr_assert_not_null(reply = call(c, "a.example"));
		cr_assert_str_eq(reply, "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 "
		                        "a.example fed.a.example");
		nng_free(reply, strlen(reply) + 1);
	}
	cr_assert_eq(atomic_load(&e.mismatches), 0);
	cr_assert_eq(atomic_load(&e.no_peer), 0);
	cr_assert(e.first.verified);
	cr_assert_gt(e.first.handshake_us, 0);
	cr_assert_lt(e.first.handshake_us, 10u * 1000 * 1000);
	/* The pipe-event callback saw the names before any request. */
	cr_assert_eq(atomic_load(&e.pre_calls), 1);
	cr_assert_eq(atomic_load(&e.pre_named), 1);
	cr_assert_eq(atomic_load(&e.post_named), 1);

	/* The client sees the server's names the same way. */
	cr_assert_eq(nng_send(c, "", 0, 0), 0);
	cr_assert_eq(nng_recvmsg(c, &m, 0), 0);
	cr_assert_eq(fedrpc_tls_peer_get(nng_msg_get_pipe(m), &p), FEDRPC_OK);
	cr_assert_eq(p.n_names, 2);
	cr_assert_str_eq(p.names[0], "server.example");
	cr_assert_str_eq(p.names[1], "alt.example");
	cr_assert_str_eq(p.version, "TLSv1.3");
	cr_assert(p.verified);
	fedrpc_peer_clear(&p);
	cr_assert_null(p.names);
	nng_msg_free(m);

	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)), FEDRPC_OK,
	    "%s", why);
	cr_assert_eq(fedrpc_tls_last_error(stls, why, sizeof(why)), FEDRPC_OK,
	    "%s", why);
	/* Both ends agreed on X25519, the first group both offer. */
	log = logged();
	cr_assert(strstr(log, "TLS_CHACHA20_POLY1305_SHA256 X25519 in") != NULL,
	    "%s", log);
	free(log);
	nng_close(c);
	echo_stop(&e);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(roundtrip, ed25519_server_and_tls12_when_allowed, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls, *ctls;
	server      sv;
	echo        e;
	nng_socket  c;
	char       *reply;
	int         rv;

	testcerts_leaf_ex(dir, "ca", "ed",
	    (const char *const[]){"server.example", NULL}, -3600, 86400,
	    FEDRPC_PKI_KEY_ED25519);
	stls = make_tls((tls_spec){.server = true,
	    .ca                           = "ca",
	    .leaf                         = "ed",
	    .min                          = FEDRPC_TLS_1_2});
	ctls = make_tls((tls_spec){.ca = "ca",
	    .leaf                      = "client",
	    .server_name               = "server.example",
	    .min                       = FEDRPC_TLS_1_2,
	    .max                       = FEDRPC_TLS_1_2});
	server_open(&sv, fedrpc_tls_nng_config(stls));
	echo_start(&e, sv.sock);
	rv = client_dial(&c, sv.url, fedrpc_tls_nng_config(ctls));
	cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));
	cr_assert_not_null(reply = call(c, "fed.a.example"));
	cr_assert_str_eq(reply, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_"
	                        "SHA256 a.example fed.a.example");
	nng_free(reply, strlen(reply) + 1);
	nng_close(c);
	echo_stop(&e);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(roundtrip, optional_client_cert_gives_unverified_peer, .init = setup,
    .fini = teardown)
{
	fedrpc_tls     *stls;
	nng_tls_config *bare;
	server          sv;
	echo            e;
	nng_socket      c;
	char           *reply, ca[512];
	int             rv;

	stls = make_tls((tls_spec){
	    .server = true, .ca = "ca", .leaf = "server", .optional = true});
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	cr_assert_eq(nng_tls_config_alloc(&bare, NNG_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nng_tls_config_ca_file(bare, ca), 0);
	cr_assert_eq(nng_tls_config_server_name(bare, "alt.example"), 0);
	server_open(&sv, fedrpc_tls_nng_config(stls));
	echo_start(&e, sv.sock);
	rv = client_dial(&c, sv.url, bare);
	cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));
	cr_assert_not_null(reply = call(c, ""));
	cr_assert_str_eq(reply, "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256");
	nng_free(reply, strlen(reply) + 1);
	cr_assert_not(e.first.verified);
	cr_assert_eq(e.first.n_names, 0);
	nng_close(c);
	echo_stop(&e);
	nng_tls_config_free(bare);
	fedrpc_tls_free(stls);
}

/* One client of many: its own certificate, its own socket and thread. */
typedef struct one_client {
	const char *url;
	fedrpc_tls *tls;
	char        name[32]; /* its SAN, sent as the payload */
	int         ok;       /* replies naming it */
	int         dial_rv;
} one_client;

static void *
one_client_main(void *arg)
{
	one_client *oc = arg;
	nng_socket  s;
	char        want[64];

	oc->dial_rv = client_dial(&s, oc->url, fedrpc_tls_nng_config(oc->tls));
	snprintf(want, sizeof(want), " %s", oc->name);
	for (int i = 0; oc->dial_rv == 0 && i < N_REQUESTS; i++) {
		char *reply = call(s, oc->name);
		if (reply == NULL)
			break;
		if (strstr(reply, want) != NULL)
			oc->ok++;
		nng_free(reply, strlen(reply) + 1);
	}
	nng_close(s);
	return NULL;
}

Test(roundtrip, fifty_clients_each_seen_as_itself, .init = setup,
    .fini = teardown, .timeout = 120)
{
	static one_client oc[N_CLIENTS];
	pthread_t         th[N_CLIENTS];
	fedrpc_tls       *stls = server_tls();
	server            sv;
	echo              e;

	for (int i = 0; i < N_CLIENTS; i++) {
		char leaf[32];

		snprintf(leaf, sizeof(leaf), "client-%02d", i);
		snprintf(oc[i].name, sizeof(oc[i].name), "client-%02d.example",
		    i);
		testcerts_leaf(dir, "ca", leaf,
		    (const char *const[]){oc[i].name, "shared.example", NULL});
		oc[i].tls = client_tls(leaf);
	}
	server_open(&sv, fedrpc_tls_nng_config(stls));
	echo_start(&e, sv.sock);
	for (int i = 0; i < N_CLIENTS; i++) {
		oc[i].url = sv.url;
		cr_assert_eq(
		    pthread_create(&th[i], NULL, one_client_main, &oc[i]), 0);
	}
	for (int i = 0; i < N_CLIENTS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N_CLIENTS; i++) {
		cr_expect_eq(oc[i].dial_rv, 0, "client %d dial: %s", i,
		    nng_strerror(oc[i].dial_rv));
		cr_expect_eq(oc[i].ok, N_REQUESTS, "client %d: %d of %d", i,
		    oc[i].ok, N_REQUESTS);
		fedrpc_tls_free(oc[i].tls);
	}
	cr_assert_eq(atomic_load(&e.served), N_CLIENTS * N_REQUESTS);
	cr_assert_eq(atomic_load(&e.mismatches), 0);
	cr_assert_eq(atomic_load(&e.no_peer), 0);
	cr_assert_eq(atomic_load(&e.pre_named), N_CLIENTS);
	cr_assert_eq(atomic_load(&e.post_named), N_CLIENTS);
	echo_stop(&e);
	fedrpc_tls_free(stls);
}

/* ---- peers of other pipes ---- */

Test(peer, not_found_for_tcp_and_bad_pipes, .init = setup, .fini = teardown)
{
	nng_socket  s, c;
	nng_msg    *m;
	fedrpc_peer p;
	char        url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", tu_free_port());
	cr_assert_eq(nng_rep0_open(&s), 0);
	set_timeouts(s);
	cr_assert_eq(nng_listen(s, url, NULL, 0), 0);
	cr_assert_eq(nng_req0_open(&c), 0);
	set_timeouts(c);
	cr_assert_eq(nng_dial(c, url, NULL, 0), 0);
	cr_assert_eq(nng_send(c, "x", 1, 0), 0);
	cr_assert_eq(nng_recvmsg(s, &m, 0), 0);
	cr_assert_eq(
	    fedrpc_tls_peer_get(nng_msg_get_pipe(m), &p), FEDRPC_NOT_FOUND);
	cr_assert_eq(p.n_names, 0);
	cr_assert_null(p.names);
	nng_msg_free(m);
	cr_assert_eq(fedrpc_tls_peer_get((nng_pipe) NNG_PIPE_INITIALIZER, &p),
	    FEDRPC_NOT_FOUND);
	nng_close(c);
	nng_close(s);
}

/* ---- refusals ---- */

/* Connects to 127.0.0.1:port, writes len bytes and closes. */
static bool
raw_send_and_close(int port, const char *buf, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	bool               ok;

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 &&
	    connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    write(fd, buf, len) == (ssize_t) len;
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Dials server config `stls` with client config `cfg`, expects the dial to
 * fail promptly (under half of a call deadline: the synchronous dial has
 * no deadline of its own and would hang), and returns the server's
 * classified failure.
 */
static fedrpc_code
refused(fedrpc_tls *stls, nng_tls_config *cfg, char *why, size_t len)
{
	server     sv;
	nng_socket c;
	uint64_t   t0 = tu_now_ms();
	int        rv;
	fedrpc_code code;

	server_open(&sv, fedrpc_tls_nng_config(stls));
	rv = client_dial(&c, sv.url, cfg);
	cr_assert_neq(rv, 0, "the dial should have been refused");
	cr_assert_lt(tu_now_ms() - t0, TU_FAST_MS, "refusal took %llu ms",
	    (unsigned long long) (tu_now_ms() - t0));
	code = wait_failure(stls, why, len);
	nng_close(c);
	nng_close(sv.sock);
	return code;
}

/* Whether why is `want`, or begins with it when want ends in "(". */
static bool
reason_is(const char *why, const char *want)
{
	size_t n = strlen(want);

	return n > 0 && want[n - 1] == '(' ? strncmp(why, want, n) == 0
					   : strcmp(why, want) == 0;
}

/*
 * A client the server refuses learns why from the server's alert. nng
 * 1.5.2 closes a connection whose handshake failed at once, and an alert
 * still queued behind the server's previous flight goes with it (its TCP
 * send is cancelled; more likely on a busy machine): the client then
 * knows only that the connection was closed during the handshake. So the
 * refused dial is made up to three times, until the alert gets through;
 * the server refuses every one of them for the same reason.
 */
static void
refusal_reaches_client(fedrpc_tls *stls, fedrpc_tls *ctls,
    fedrpc_code server_code, const char *server_why, const char *client_why)
{
	char why[256];

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
		                 sizeof(why)),
		    server_code, "%s", why);
		cr_assert(reason_is(why, server_why), "%s", why);
		cr_assert_eq(
		    wait_failure(ctls, why, sizeof(why)), FEDRPC_UNAVAILABLE);
		if (reason_is(why, client_why))
			return;
		cr_assert_str_eq(why, "connection closed during handshake");
		cr_log_info("attempt %d: the refusal's alert was lost", i + 1);
	}
	cr_assert_fail("the client never learnt why it was refused");
}

Test(refusal, no_client_certificate, .init = setup, .fini = teardown)
{
	fedrpc_tls     *stls = server_tls();
	nng_tls_config *bare;
	char            why[256], ca[512];

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	cr_assert_eq(nng_tls_config_alloc(&bare, NNG_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nng_tls_config_ca_file(bare, ca), 0);
	cr_assert_eq(nng_tls_config_server_name(bare, "server.example"), 0);
	cr_assert_eq(refused(stls, bare, why, sizeof(why)),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(why, "peer sent no certificate");
	nng_tls_config_free(bare);
	fedrpc_tls_free(stls);
}

Test(refusal, client_certificate_from_another_ca, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls;
	char       *log;

	testcerts_ca(dir, "other-ca");
	testcerts_leaf(dir, "other-ca", "stranger",
	    (const char *const[]){"stranger.example", NULL});
	ctls = make_tls((tls_spec){.ca = "ca",
	    .leaf                      = "stranger",
	    .server_name               = "server.example"});
	/* The client learns it was refused, and why as far as TLS says. */
	refusal_reaches_client(stls, ctls, FEDRPC_UNAUTHENTICATED,
	    "certificate not trusted (",
	    "refused by peer: certificate not trusted (");
	/* The warning names the peer's address (nng's engine context is
	 * its connection; this fails if that ever changes). The failure
	 * is recorded before it is logged. */
	(void) TU_WAIT_FOR(log_has("certificate not trusted"), WAIT_MS);
	log = logged();
	cr_assert(strstr(log, "handshake from 127.0.0.1:") != NULL, "%s", log);
	cr_assert(strstr(log, "certificate not trusted") != NULL, "%s", log);
	free(log);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(refusal, server_name_not_in_certificate, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls;
	char        why[256];

	ctls = make_tls((tls_spec){
	    .ca = "ca", .leaf = "client", .server_name = "b.example"});
	refused(stls, fedrpc_tls_nng_config(ctls), why, sizeof(why));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(
	    why, "name mismatch: certificate is not valid for b.example");
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

/*
 * A CA-signed certificate whose only name is its subject CN names nobody
 * (RFC 9525): refused on both sides, although wolfSSL's own host name
 * check would take the CN.
 */
Test(refusal, certificates_without_subject_alt_name, .init = setup,
    .fini = teardown)
{
	static const char no_san[] = "certificate has no DNS name in "
				     "subjectAltName (its subject CN is not a "
				     "name)";
	fedrpc_tls *stls = server_tls(), *ctls, *cn_srv;
	char        why[256];
	char       *log;

	/* No DNS names: the CN is the file's name. */
	testcerts_leaf(dir, "ca", "fed.a.example", NULL);
	testcerts_leaf(dir, "ca", "server.example", NULL);

	/* As a client certificate, refused by the server... */
	ctls = client_tls("fed.a.example");
	cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
	                 sizeof(why)),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(why, no_san);
	/* ... and the client learns it was refused. */
	cr_assert_eq(wait_failure(ctls, why, sizeof(why)), FEDRPC_UNAVAILABLE);
	cr_assert(strncmp(why, "refused by peer: ", 17) == 0, "%s", why);
	cr_log_info("the client sees: %s", why);
	log = logged();
	cr_assert(strstr(log, no_san) != NULL, "%s", log);
	free(log);
	fedrpc_tls_free(ctls);

	/* As a server certificate, refused by the client, even though its
	 * CN is exactly the name the client asks for. */
	cn_srv = make_tls(
	    (tls_spec){.server = true, .ca = "ca", .leaf = "server.example"});
	ctls = client_tls("client");
	refused(cn_srv, fedrpc_tls_nng_config(ctls), why, sizeof(why));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, no_san);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(cn_srv);
	fedrpc_tls_free(stls);
}

/*
 * A leaf whose keyUsage lacks digitalSignature cannot sign a handshake as
 * the key's owner may use it: refused as a client and as a server, even
 * though the TLS 1.3 signature itself verifies (wolfSSL 5.5.4 alone
 * accepts it).
 */
Test(refusal, leaf_without_digital_signature_key_usage, .init = setup,
    .fini = teardown)
{
	static const char no_sig[] = "certificate key usage lacks "
				     "digitalSignature (it has keyCertSign), "
				     "which a TLS peer needs to sign the "
				     "handshake";
	fedrpc_tls *stls = server_tls(), *ctls, *bad_srv;
	char        why[256];
	char       *log;

	testcerts_leaf_usage(dir, "ca", "signer",
	    (const char *const[]){"a.example", NULL},
	    FEDRPC_PKI_KU_KEY_CERT_SIGN);
	testcerts_leaf_usage(dir, "ca", "signer-server",
	    (const char *const[]){"server.example", NULL},
	    FEDRPC_PKI_KU_KEY_CERT_SIGN);

	ctls = client_tls("signer");
	cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
	                 sizeof(why)),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(why, no_sig);
	cr_assert_eq(wait_failure(ctls, why, sizeof(why)), FEDRPC_UNAVAILABLE);
	cr_assert(strncmp(why, "refused by peer: ", 17) == 0, "%s", why);
	log = logged();
	cr_assert(strstr(log, no_sig) != NULL, "%s", log);
	free(log);
	fedrpc_tls_free(ctls);

	bad_srv = make_tls(
	    (tls_spec){.server = true, .ca = "ca", .leaf = "signer-server"});
	ctls = client_tls("client");
	refused(bad_srv, fedrpc_tls_nng_config(ctls), why, sizeof(why));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, no_sig);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(bad_srv);

	/* digitalSignature among others is what a peer needs. */
	testcerts_leaf_usage(dir, "ca", "signs-too",
	    (const char *const[]){"a.example", NULL},
	    FEDRPC_PKI_KU_DIGITAL_SIGNATURE | FEDRPC_PKI_KU_KEY_ENCIPHERMENT);
	ctls = client_tls("signs-too");
	{
		server     sv;
		nng_socket c;
		int        rv;

		server_open(&sv, fedrpc_tls_nng_config(stls));
		rv = client_dial(&c, sv.url, fedrpc_tls_nng_config(ctls));
		cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));
		nng_close(c);
		nng_close(sv.sock);
	}
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(refusal, expired_and_not_yet_valid_certificates, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls, *old_srv;
	char        why[256];

	testcerts_leaf_ex(dir, "ca", "expired",
	    (const char *const[]){"a.example", NULL}, -30L * 86400, -86400,
	    FEDRPC_PKI_KEY_P256);
	testcerts_leaf_ex(dir, "ca", "future",
	    (const char *const[]){"a.example", NULL}, 86400, 30L * 86400,
	    FEDRPC_PKI_KEY_P256);
	testcerts_leaf_ex(dir, "ca", "old-server",
	    (const char *const[]){"server.example", NULL}, -30L * 86400,
	    -86400, FEDRPC_PKI_KEY_P256);

	ctls = client_tls("expired");
	refusal_reaches_client(stls, ctls, FEDRPC_UNAUTHENTICATED,
	    "certificate expired",
	    "refused by peer: certificate expired or not yet valid");
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);

	stls = server_tls();
	ctls = client_tls("future");
	cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
	                 sizeof(why)),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(why, "certificate not yet valid");
	fedrpc_tls_free(ctls);

	/* An expired server certificate, seen by the client. */
	old_srv = make_tls(
	    (tls_spec){.server = true, .ca = "ca", .leaf = "old-server"});
	ctls = client_tls("client");
	refused(old_srv, fedrpc_tls_nng_config(ctls), why, sizeof(why));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, "certificate expired");
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(old_srv);
	fedrpc_tls_free(stls);
}

Test(refusal, tls12_only_client_against_tls13_server, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls(), *ctls;
	char        why[256];

	ctls = make_tls((tls_spec){.ca = "ca",
	    .leaf                      = "client",
	    .server_name               = "server.example",
	    .min                       = FEDRPC_TLS_1_2,
	    .max                       = FEDRPC_TLS_1_2});
	cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
	                 sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, "no common TLS version");
	cr_assert_eq(wait_failure(ctls, why, sizeof(why)), FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, "no common TLS version");
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(refusal, revoked_client_certificate, .init = setup, .fini = teardown)
{
	fedrpc_tls *stls, *ctls, *good;
	server      sv;
	nng_socket  c;
	char        why[256];
	int         rv;

	testcerts_leaf(dir, "ca", "revoked",
	    (const char *const[]){"revoked.example", NULL});
	testcerts_crl(dir, "ca", (const char *const[]){"revoked", NULL});
	stls = make_tls((tls_spec){
	    .server = true, .ca = "ca", .leaf = "server", .crl_ca = "ca"});
	ctls = client_tls("revoked");
	refusal_reaches_client(stls, ctls, FEDRPC_UNAUTHENTICATED,
	    "certificate revoked", "refused by peer: certificate revoked");

	/* A certificate the CRL does not list still gets in, and clears
	 * the server's last failure. */
	good = client_tls("client");
	server_open(&sv, fedrpc_tls_nng_config(stls));
	rv = client_dial(&c, sv.url, fedrpc_tls_nng_config(good));
	cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));
	cr_assert_eq(fedrpc_tls_last_error(stls, why, sizeof(why)), FEDRPC_OK,
	    "%s", why);
	cr_assert_str_eq(why, "");
	nng_close(c);
	nng_close(sv.sock);
	fedrpc_tls_free(good);
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(refusal, issuer_without_a_crl_when_crls_are_on, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls, *ctls;
	char       *a, *b, both[8192], why[256];

	/* The server trusts two CAs but has a CRL only for the first: a
	 * client of the second cannot be checked, so it is refused. */
	testcerts_ca(dir, "other-ca");
	testcerts_leaf(dir, "other-ca", "stranger",
	    (const char *const[]){"stranger.example", NULL});
	testcerts_crl(dir, "ca", NULL);
	cr_assert_not_null(a = tu_read_file(tu_path(dir, "ca.crt")));
	cr_assert_not_null(b = tu_read_file(tu_path(dir, "other-ca.crt")));
	snprintf(both, sizeof(both), "%s%s", a, b);
	free(a);
	free(b);
	cr_assert(tu_write_file(tu_path(dir, "both.crt"), both));
	stls = make_tls((tls_spec){
	    .server = true, .ca = "both", .leaf = "server", .crl_ca = "ca"});
	ctls = make_tls((tls_spec){.ca = "ca",
	    .leaf                      = "stranger",
	    .server_name               = "server.example"});
	cr_assert_eq(refused(stls, fedrpc_tls_nng_config(ctls), why,
	                 sizeof(why)),
	    FEDRPC_UNAUTHENTICATED);
	cr_assert_str_eq(why, "certificate revocation status unknown (no CRL "
	                      "for its issuer)");
	fedrpc_tls_free(ctls);
	fedrpc_tls_free(stls);
}

Test(refusal, success_clears_the_clients_last_error, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *ctls = client_tls("client"), *wrong, *right;
	server      sv;
	nng_socket  c;
	char        why[256];
	int         rv;

	/* A server whose certificate lacks server.example, then one that
	 * has it, dialled with the same client config. */
	wrong = make_tls((tls_spec){.server = true, .ca = "ca", .leaf = "client"});
	right = server_tls();
	refused(wrong, fedrpc_tls_nng_config(ctls), why, sizeof(why));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)),
	    FEDRPC_UNAVAILABLE);
	cr_assert(strstr(why, "name mismatch") != NULL, "%s", why);

	server_open(&sv, fedrpc_tls_nng_config(right));
	rv = client_dial(&c, sv.url, fedrpc_tls_nng_config(ctls));
	cr_assert_eq(rv, 0, "dial: %s", nng_strerror(rv));
	cr_assert_eq(fedrpc_tls_last_error(ctls, why, sizeof(why)), FEDRPC_OK,
	    "%s", why);
	nng_close(c);
	nng_close(sv.sock);
	fedrpc_tls_free(right);
	fedrpc_tls_free(wrong);
	fedrpc_tls_free(ctls);
}

Test(refusal, truncated_handshake_but_not_a_port_probe, .init = setup,
    .fini = teardown)
{
	fedrpc_tls *stls = server_tls();
	server      sv;
	char        why[256], *log, *first;
	int         port;

	server_open(&sv, fedrpc_tls_nng_config(stls));
	port = atoi(strrchr(sv.url, ':') + 1);
	/* Connecting and leaving without a byte is no handshake failure
	 * (a port probe); the start of a TLS record and then nothing is. */
	cr_assert(tu_wait_port(port, WAIT_MS));
	cr_assert(raw_send_and_close(port, "\x16\x03\x01\x00", 4));
	cr_assert_eq(wait_failure(stls, why, sizeof(why)), FEDRPC_UNAVAILABLE);
	cr_assert_str_eq(why, "connection closed during handshake");
	/* The failure is recorded before it is logged. */
	(void) TU_WAIT_FOR(log_has("handshake from 127.0.0.1:"), WAIT_MS);
	log = logged();
	first = strstr(log, "handshake from 127.0.0.1:");
	cr_assert_not_null(first, "%s", log);
	cr_assert_null(strstr(first + 1, "handshake from"), "%s", log);
	free(log);
	nng_close(sv.sock);
	fedrpc_tls_free(stls);
}
