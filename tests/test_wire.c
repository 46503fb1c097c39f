/*
 * The wire protocol on real connections (docs/wire-protocol.md): servers
 * and channels with FEDRPC_WIRE=frames, and raw TCP peers that speak the
 * frames by hand where a test needs a peer that misbehaves: many frames in
 * one write and frames in one-byte pieces, an oversized length, garbage
 * and a wrong preface, cancel, keepalive of a silent peer on both sides,
 * drain on stop (and a DRAIN as a channel sees it), 1,000 concurrent calls with out-of-order replies, a peer
 * that stops reading, a TLS handshake that never finishes and a flood of
 * pending connections while a valid peer still gets its answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "client/channel_int.h"
#include "core/wire/frame.h"
#include "rt_echo.h"
#include "server/server_int.h"
#include "testcerts.h"
#include "testutil.h"

static char *dir;

static void
setup(void)
{
	fedrpc_status st = {0};

	setenv("FEDRPC_WIRE", "frames", 1);
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(fedrpc_tls_engine_init(&st), FEDRPC_OK, "%s", st.message);
	dir = tu_tmpdir("wire");
	testcerts_ca(dir, "ca");
	testcerts_leaf(dir, "ca", "srv", (const char *const[]){"b.example", NULL});
	testcerts_leaf(dir, "ca", "cli", (const char *const[]){"a.example", NULL});
}

static void
teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(wire, .init = setup, .fini = teardown, .timeout = 120);

static fedrpc_tls_opts
tls_opts(const char *leaf, char buf[3][512])
{
	fedrpc_tls_opts o = {0};

	snprintf(buf[0], 512, "%s/ca.crt", dir);
	snprintf(buf[1], 512, "%s/%s.crt", dir, leaf);
	snprintf(buf[2], 512, "%s/%s.key", dir, leaf);
	o.ca_file   = buf[0];
	o.cert_file = buf[1];
	o.key_file  = buf[2];
	return o;
}

/* A started Echo server on the wire protocol; *port receives its port. */
static fedrpc_server *
wire_server(bool tls, uint32_t workers, const srv_wire_opts *wo, int *port)
{
	char               buf[3][512], url[64];
	fedrpc_tls_opts    to = tls_opts("srv", buf);
	fedrpc_server     *srv;
	fedrpc_status      st = {0};
	fedrpc_handler     he = {.method = &echo_method, .fn = echo_fn};
	fedrpc_server_opts so = {.workers = workers, .tls = tls ? &to : NULL};

	*port = tu_free_port();
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", tls ? "tls+tcp" : "tcp",
	    *port);
	so.url = url;
	echo_reset();
	cr_assert_eq(fedrpc_server_new(&srv, &so, &st), FEDRPC_OK, "%s", st.message);
	fedrpc_server_wire_use(srv, wo);
	cr_assert_eq(fedrpc_server_add_handler(srv, &he, &st), FEDRPC_OK);
	cr_assert_eq(fedrpc_server_start(srv, &st), FEDRPC_OK, "%s", st.message);
	return srv;
}

static fedrpc_channel *
wire_channel(bool tls, int port)
{
	char                buf[3][512], url[64];
	fedrpc_tls_opts     to = tls_opts("cli", buf);
	fedrpc_channel     *ch;
	to.server_name = "b.example";
	fedrpc_status       st = {0};
	fedrpc_channel_opts o  = {
	     .url              = url,
	     .tls              = tls ? &to : NULL,
	     .origin_domain    = "a.example",
	     .target_domain    = "b.example",
	     .api_version      = 1,
	     .reconnect_min_ms = 20,
	     .reconnect_max_ms = 200,
        };

	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", tls ? "tls+tcp" : "tcp",
	    port);
	cr_assert_eq(fedrpc_channel_open(&ch, &o, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_not_null(ch->wire, "the channel does not use the wire protocol");
	return ch;
}

/* ---- a raw peer ---- */

static int
raw_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	int                fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0, "%s",
	    strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
raw_write(int fd, const void *b, size_t n)
{
	const uint8_t *p = b;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		cr_assert_gt(w, 0, "write: %s", strerror(errno));
		p += w;
		n -= (size_t) w;
	}
}

/* Reads exactly n bytes within timeout_ms: 1, or 0 at end of stream,
 * -1 on timeout. */
static int
raw_read(int fd, void *b, size_t n, int timeout_ms)
{
	uint8_t *p   = b;
	uint64_t end = tu_now_ms() + (uint64_t) timeout_ms;

	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t       r;

		if (poll(&pf, 1, (int) tu_ms_until(end)) <= 0)
			return -1;
		if ((r = read(fd, p, n)) <= 0)
			return 0;
		p += r;
		n -= (size_t) r;
	}
	return 1;
}

/* Reads one frame (payload into a malloc'd *payload); as raw_read. */
static int
raw_frame(int fd, fedrpc_frame *f, uint8_t **payload, int timeout_ms)
{
	uint8_t h[FEDRPC_FRAME_HEADER_LEN];
	int     r;

	*payload = NULL;
	if ((r = raw_read(fd, h, sizeof(h), timeout_ms)) != 1)
		return r;
	fedrpc_frame_header_decode(f, h);
	cr_assert_leq(f->len, 16u << 20);
	*payload = malloc(f->len + 1);
	if (f->len > 0 && (r = raw_read(fd, *payload, f->len, timeout_ms)) != 1) {
		free(*payload);
		*payload = NULL;
		return r;
	}
	return 1;
}

static void
raw_preface(int fd)
{
	uint8_t        b[FEDRPC_PREFACE_LEN];
	fedrpc_preface p = {.version = 1, .max_frame = 1u << 20};
	fedrpc_status  st = {0};

	fedrpc_preface_encode(b, &p);
	raw_write(fd, b, sizeof(b));
	cr_assert_eq(raw_read(fd, b, sizeof(b), TU_CALL_MS), 1,
	    "no preface from the server");
	cr_assert_eq(fedrpc_preface_decode(&p, b, &st), FEDRPC_OK, "%s", st.message);
	cr_assert_geq(p.max_calls, 1);
}

/* Appends a REQUEST frame of an Echo call to buf; returns its length. */
static size_t
request_frame(uint8_t *buf, size_t cap, uint32_t call_id, const char *payload,
    uint32_t sleep_ms)
{
	Fedrpc__Testing__V1__EchoRequest req = FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	uint8_t                          id[FEDRPC_REQUEST_ID_LEN];
	fedrpc_request_head              h = {
	                 .method        = echo_method.full_name,
	                 .origin_domain = "a.example",
	                 .target_domain = "b.example",
	                 .api_version   = 1,
	                 .timeout_ms    = 20000,
	                 .request_id    = id,
        };
	nng_msg      *m;
	fedrpc_status st = {0};
	size_t        n;

	fedrpc_request_id_new(id);
	req.payload.data = (uint8_t *) payload;
	req.payload.len  = strlen(payload);
	req.sleep_ms     = sleep_ms;
	cr_assert_eq(fedrpc_envelope_request_encode(&m, &h, &req.base, 0, &st),
	    FEDRPC_OK, "%s", st.message);
	n = FEDRPC_FRAME_HEADER_LEN + nng_msg_len(m);
	cr_assert_leq(n, cap);
	fedrpc_frame_header_encode(buf, FEDRPC_FRAME_REQUEST, 0, call_id,
	    (uint32_t) nng_msg_len(m));
	memcpy(buf + FEDRPC_FRAME_HEADER_LEN, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	return n;
}

/* Reads replies until `n` arrived, marking seen[call id]; each must be OK
 * and echo "p<call id>". */
static void
read_replies(int fd, int n, bool *seen)
{
	for (int i = 0; i < n; i++) {
		fedrpc_frame      f;
		uint8_t          *p;
		fedrpc_reply_view v;
		fedrpc_status     st = {0};
		char              want[16];

		cr_assert_eq(raw_frame(fd, &f, &p, TU_CALL_MS), 1, "reply %d of %d", i, n);
		cr_assert_eq(f.type, FEDRPC_FRAME_REPLY);
		cr_assert_eq(fedrpc_envelope_reply_decode(&v, p, f.len, &st), FEDRPC_OK);
		cr_assert_eq(v.code, FEDRPC_OK, "call %u: %.*s", f.call_id,
		    (int) v.message_len, v.message);
		snprintf(want, sizeof(want), "p%u", f.call_id);
		cr_assert(v.payload_len > strlen(want) &&
		    memmem(v.payload, v.payload_len, want, strlen(want)) != NULL);
		cr_assert_not(seen[f.call_id], "call %u answered twice", f.call_id);
		seen[f.call_id] = true;
		free(p);
	}
}

/* 50 requests in one write, then 5 more a byte at a time: every one is
 * answered once, under its call id. */
Test(wire, many_frames_in_one_write_and_frames_split_across_reads)
{
	int            port;
	fedrpc_server *srv = wire_server(false, 4, NULL, &port);
	int            fd  = raw_connect(port);
	static uint8_t buf[65536];
	size_t         off = 0;
	bool           seen[64] = {0};
	char           pl[16];

	raw_preface(fd);
	for (uint32_t id = 1; id <= 50; id++) {
		snprintf(pl, sizeof(pl), "p%u", id);
		off += request_frame(buf + off, sizeof(buf) - off, id, pl, 0);
	}
	raw_write(fd, buf, off);
	read_replies(fd, 50, seen);

	off = 0;
	for (uint32_t id = 51; id <= 55; id++) {
		snprintf(pl, sizeof(pl), "p%u", id);
		off += request_frame(buf + off, sizeof(buf) - off, id, pl, 0);
	}
	for (size_t i = 0; i < off; i++)
		raw_write(fd, buf + i, 1);
	read_replies(fd, 5, seen);
	for (int id = 1; id <= 55; id++)
		cr_assert(seen[id], "call %d never answered", id);
	close(fd);
	fedrpc_server_free(srv);
}

/* A header announcing ~4 GiB is answered RESOURCE_EXHAUSTED at once:
 * the payload never came, so nothing waited for it or was buffered. */
Test(wire, oversized_length_refused_before_allocation)
{
	int               port;
	fedrpc_server    *srv = wire_server(false, 2, NULL, &port);
	int               fd  = raw_connect(port);
	uint8_t           h[FEDRPC_FRAME_HEADER_LEN], *p;
	fedrpc_frame      f;
	fedrpc_reply_view v;
	fedrpc_status     st = {0};

	raw_preface(fd);
	fedrpc_frame_header_encode(h, FEDRPC_FRAME_REQUEST, 0, 7, 0xffffff00u);
	raw_write(fd, h, sizeof(h));
	cr_assert_eq(raw_frame(fd, &f, &p, TU_CALL_MS), 1);
	cr_assert_eq(f.type, FEDRPC_FRAME_REPLY);
	cr_assert_eq(f.call_id, 7);
	cr_assert_eq(fedrpc_envelope_reply_decode(&v, p, f.len, &st), FEDRPC_OK);
	cr_assert_eq(v.code, FEDRPC_RESOURCE_EXHAUSTED);
	cr_assert(memmem(v.message, v.message_len, "4294967040 bytes exceeds the limit",
	    strlen("4294967040 bytes exceeds the limit")) != NULL, "%.*s",
	    (int) v.message_len, v.message);
	free(p);
	close(fd);
	fedrpc_server_free(srv);
}

/* Garbage, and a preface with our magic but version 0: closed without
 * an answer; a valid client is served afterwards. */
Test(wire, garbage_and_wrong_preface_close_the_connection)
{
	int             port;
	fedrpc_server  *srv = wire_server(false, 2, NULL, &port);
	const char     *http = "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
	uint8_t         b[64];
	fedrpc_preface  zero = {.version = 0, .max_frame = 65536};
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	srv_wire_stats  ws;
	int             fd;

	fd = raw_connect(port);
	raw_write(fd, http, strlen(http));
	cr_assert_eq(raw_read(fd, b, 1, TU_CALL_MS), 0, "garbage was answered");
	close(fd);

	fd = raw_connect(port);
	fedrpc_preface_encode(b, &zero);
	raw_write(fd, b, FEDRPC_PREFACE_LEN);
	cr_assert_eq(raw_read(fd, b, 1, TU_CALL_MS), 0, "version 0 was answered");
	close(fd);

	fedrpc_server_wire_stats(srv, &ws);
	cr_assert_eq(ws.protocol_errors, 2);
	ch = wire_channel(false, port);
	cr_assert_eq(echo_call(ch, "hi", 0, TU_CALL_MS, NULL, NULL, &st), FEDRPC_OK,
	    "%s", st.message);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

typedef struct done_box {
	pthread_mutex_t mtx;
	int             n;
	fedrpc_code     code[1000];
	int             order[1000]; /* completion order: indexes */
	int             bad;
} done_box;

typedef struct call_arg {
	done_box *box;
	int       index;
} call_arg;

static void
on_done(void *arg, const fedrpc_status *st, ProtobufCMessage *resp)
{
	call_arg                          *a = arg;
	Fedrpc__Testing__V1__EchoResponse *r = (void *) resp;
	char                               want[16];

	snprintf(want, sizeof(want), "n%d", a->index);
	pthread_mutex_lock(&a->box->mtx);
	a->box->code[a->index] = st->code;
	if (st->code == FEDRPC_OK &&
	    (r->payload.len != strlen(want) ||
	        memcmp(r->payload.data, want, strlen(want)) != 0))
		a->box->bad++;
	a->box->order[a->box->n++] = a->index;
	pthread_mutex_unlock(&a->box->mtx);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
}

static int
box_count(done_box *b)
{
	int n;

	pthread_mutex_lock(&b->mtx);
	n = b->n;
	pthread_mutex_unlock(&b->mtx);
	return n;
}

static fedrpc_code
start_echo(fedrpc_channel *ch, call_arg *a, uint32_t sleep_ms,
    fedrpc_call **handle)
{
	Fedrpc__Testing__V1__EchoRequest req = FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
	fedrpc_call_opts                 o   = {.timeout_ms = 60000};
	fedrpc_status                    st  = {0};
	char                             pl[16];

	snprintf(pl, sizeof(pl), "n%d", a->index);
	req.payload.data = (uint8_t *) pl;
	req.payload.len  = strlen(pl);
	req.sleep_ms     = sleep_ms;
	return fedrpc_channel_call_async(ch, &echo_method, &req.base, &o, on_done,
	    a, handle, &st);
}

/* 1,000 calls in flight on one connection, handlers taking different
 * times: every reply reaches its own call, not in the order sent. */
Test(wire, thousand_concurrent_calls_out_of_order_replies, .timeout = 240)
{
	int             port;
	fedrpc_server  *srv = wire_server(false, 8, NULL, &port);
	fedrpc_channel *ch  = wire_channel(false, port);
	static done_box box;
	static call_arg args[1000];
	int             inversions = 0;

	pthread_mutex_init(&box.mtx, NULL);
	for (int i = 0; i < 1000; i++) {
		args[i] = (call_arg){&box, i};
		cr_assert_eq(start_echo(ch, &args[i], (uint32_t) ((i * 37) % 11), NULL),
		    FEDRPC_OK);
	}
	cr_assert(TU_WAIT_FOR(box_count(&box) == 1000, 200000), "%d of 1000",
	    box_count(&box));
	cr_assert_eq(box.bad, 0, "%d replies reached another call", box.bad);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(box.code[i], FEDRPC_OK, "call %d: %s", i,
		    fedrpc_code_name(box.code[i]));
		if (i > 0 && box.order[i] < box.order[i - 1])
			inversions++;
	}
	cr_assert_gt(inversions, 0, "replies came in the order sent");
	cr_assert_eq(echo_handled(), 1000);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* A queued call cancelled by its caller: CANCELLED at once, and its
 * handler never runs (the server got CANCEL before it started). */
Test(wire, cancel_reaches_the_server)
{
	int             port;
	fedrpc_server  *srv = wire_server(false, 1, NULL, &port);
	fedrpc_channel *ch  = wire_channel(false, port);
	static done_box box;
	call_arg        a = {&box, 0}, b = {&box, 1};
	fedrpc_call    *hb;
	fedrpc_status   st = {0};

	pthread_mutex_init(&box.mtx, NULL);
	cr_assert_eq(start_echo(ch, &a, 60000, NULL), FEDRPC_OK);
	cr_assert(TU_WAIT_FOR(echo_in_handler() == 1, TU_WAIT_MS));
	cr_assert_eq(start_echo(ch, &b, 0, &hb), FEDRPC_OK);
	fedrpc_call_cancel(hb);
	cr_assert(TU_WAIT_FOR(box_count(&box) == 1, TU_FAST_MS));
	cr_assert_eq(box.code[1], FEDRPC_CANCELLED);
	fedrpc_call_release(hb);
	echo_release();
	cr_assert(TU_WAIT_FOR(box_count(&box) == 2, TU_WAIT_MS));
	cr_assert_eq(box.code[0], FEDRPC_OK);
	/* A later call runs after the cancelled one would have. */
	cr_assert_eq(echo_call(ch, "after", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	cr_assert_eq(echo_handled(), 2, "the cancelled call ran");
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* A client that never answers pings is closed after the keepalive
 * timeout; the server pinged it first. */
Test(wire, server_closes_a_silent_client_after_keepalive)
{
	srv_wire_opts  wo = {.keepalive_ms = 100, .keepalive_timeout_ms = 300};
	int            port;
	fedrpc_server *srv = wire_server(false, 2, &wo, &port);
	int            fd  = raw_connect(port), r;
	bool           pinged = false;
	srv_wire_stats ws;

	raw_preface(fd);
	for (;;) {
		fedrpc_frame f;
		uint8_t     *p;

		if ((r = raw_frame(fd, &f, &p, TU_CALL_MS)) != 1)
			break;
		pinged |= f.type == FEDRPC_FRAME_PING;
		free(p);
	}
	cr_assert_eq(r, 0, "the silent client was not closed");
	cr_assert(pinged);
	fedrpc_server_wire_stats(srv, &ws);
	cr_assert_eq(ws.keepalive_closes, 1);
	close(fd);
	fedrpc_server_free(srv);
}

/* A server that accepts, sends its preface and then nothing: a call
 * waiting on it fails UNAVAILABLE long before its deadline. */
typedef struct silent_server {
	int lfd;
	int fd;
} silent_server;

static void *
silent_run(void *arg)
{
	silent_server *s = arg;
	uint8_t        b[4096];
	fedrpc_preface p = {.version = 1, .max_frame = 65536, .max_calls = 100};

	if ((s->fd = accept(s->lfd, NULL, NULL)) < 0)
		return NULL;
	if (raw_read(s->fd, b, FEDRPC_PREFACE_LEN, TU_CALL_MS) != 1)
		return NULL;
	fedrpc_preface_encode(b, &p);
	raw_write(s->fd, b, FEDRPC_PREFACE_LEN);
	while (read(s->fd, b, sizeof(b)) > 0) /* swallow, never answer */
		;
	return NULL;
}

Test(wire, channel_finds_a_silent_server_by_keepalive)
{
	chan_wire_opts     co = {.keepalive_ms = 100, .keepalive_timeout_ms = 300};
	silent_server      s  = {.fd = -1};
	int                port = tu_free_port(), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	pthread_t          th;
	fedrpc_channel    *ch;
	fedrpc_status      st = {0};
	uint64_t           t0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd              = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(s.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s.lfd, 4), 0);
	cr_assert_eq(pthread_create(&th, NULL, silent_run, &s), 0);
	fedrpc_channel_wire_tune(&co);
	ch = wire_channel(false, port);
	t0 = tu_now_ms();
	cr_assert_eq(echo_call(ch, "anyone?", 0, 2 * TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_UNAVAILABLE, "%s: %s", fedrpc_code_name(st.code), st.message);
	cr_assert_lt(tu_now_ms() - t0, (uint64_t) TU_CALL_MS,
	    "the call waited for its deadline");
	fedrpc_channel_close(ch);
	shutdown(s.lfd, SHUT_RDWR);
	if (s.fd >= 0)
		shutdown(s.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(s.lfd);
	if (s.fd >= 0)
		close(s.fd);
}

typedef struct stopper {
	fedrpc_server *srv;
} stopper;

static void *
stop_run(void *arg)
{
	stopper *s = arg;

	fedrpc_server_stop(s->srv, 20000);
	return NULL;
}

/* Stopping: every connection gets DRAIN (UNAVAILABLE, with the last call
 * id answered), the call in flight still gets its reply, then the
 * connection closes; new calls are refused with a retryable status. */
Test(wire, drain_on_stop)
{
	int             port;
	fedrpc_server  *srv = wire_server(false, 2, NULL, &port);
	fedrpc_channel *ch  = wire_channel(false, port);
	static done_box box;
	call_arg        a  = {&box, 0};
	int             fd = raw_connect(port);
	stopper         sp = {srv};
	pthread_t       th;
	fedrpc_frame    f;
	uint8_t        *p;
	fedrpc_status   st = {0};

	pthread_mutex_init(&box.mtx, NULL);
	raw_preface(fd);
	cr_assert_eq(start_echo(ch, &a, 60000, NULL), FEDRPC_OK);
	cr_assert(TU_WAIT_FOR(echo_in_handler() == 1, TU_WAIT_MS));
	cr_assert_eq(pthread_create(&th, NULL, stop_run, &sp), 0);

	cr_assert_eq(raw_frame(fd, &f, &p, TU_CALL_MS), 1, "no DRAIN");
	cr_assert_eq(f.type, FEDRPC_FRAME_DRAIN);
	cr_assert_geq(f.len, 8);
	cr_assert_eq((p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]), FEDRPC_UNAVAILABLE);
	free(p);
	cr_assert_eq(raw_read(fd, &f, 1, TU_CALL_MS), 0, "not closed after DRAIN");
	close(fd);

	cr_assert(TU_HOLDS_FOR(box_count(&box) == 0, 200),
	    "the call in flight was cut short");
	echo_release();
	cr_assert(TU_WAIT_FOR(box_count(&box) == 1, TU_WAIT_MS));
	cr_assert_eq(box.code[0], FEDRPC_OK, "%s", fedrpc_code_name(box.code[0]));
	pthread_join(th, NULL);
	cr_assert_eq(echo_call(ch, "late", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_UNAVAILABLE, "%s", st.message);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* A peer that sends requests for large replies and never reads: the
 * server stops reading from it, and what it holds stays bounded. */
Test(wire, a_peer_that_stops_reading_holds_bounded_memory)
{
	srv_wire_opts  wo = {.max_queued = 256 * 1024};
	int            port;
	fedrpc_server *srv = wire_server(false, 2, &wo, &port);
	int            fd  = raw_connect(port), rcv = 4096;
	static uint8_t buf[1 << 16];
	size_t         off = 0;
	srv_wire_stats ws;
	/* Bound: the queue, plus the replies of the calls that were already
	 * running when it filled (at most the window of 16 calls). */
	size_t         bound = wo.max_queued + 17 * (65536 + 256);

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	raw_preface(fd);
	for (uint32_t id = 1; id <= 400; id++)
		off += request_frame(buf + off, sizeof(buf) - off, id, "big:65536", 0);
	raw_write(fd, buf, off);
	cr_assert(TU_WAIT_FOR((fedrpc_server_wire_stats(srv, &ws), ws.paused == 1),
	    TU_WAIT_MS), "the server never paused reading");
	cr_assert(TU_HOLDS_FOR((fedrpc_server_wire_stats(srv, &ws),
	    ws.queued_bytes <= bound), 500), "%zu bytes queued (bound %zu)",
	    ws.queued_bytes, bound);
	cr_assert_lt(echo_handled(), 400, "every request was served unread");
	close(fd);
	fedrpc_server_free(srv);
}

/* TLS: a TCP connection that never starts its handshake is closed after
 * limits.handshake_timeout_ms (1 s here: the read below waits for the
 * close within TU_CALL_MS, ten times that). */
Test(wire, handshake_that_never_finishes_is_closed)
{
	srv_wire_opts  wo = {.handshake_timeout_ms = 1000};
	int            port;
	fedrpc_server *srv = wire_server(true, 2, &wo, &port);
	int            fd  = raw_connect(port);
	uint8_t        b;
	srv_wire_stats ws;

	cr_assert_eq(raw_read(fd, &b, 1, TU_CALL_MS), 0,
	    "the silent connection was not closed");
	/* Counted as the connection is closed: polled, with a bound. */
	(void) TU_WAIT_FOR((fedrpc_server_wire_stats(srv, &ws),
	                       ws.handshake_timeouts >= 1),
	    TU_WAIT_MS);
	cr_assert_eq(ws.handshake_timeouts, 1);
	close(fd);
	fedrpc_server_free(srv);
}

/* 300 connections from 127.0.0.1 that never speak, against a bound of 32
 * pending: the oldest are dropped, and a valid TLS peer arriving during
 * the flood is served. */
Test(wire, pending_flood_from_one_address_lets_a_valid_peer_through)
{
	srv_wire_opts   wo = {.max_pending = 32, .handshake_timeout_ms = 60000};
	int             port;
	fedrpc_server  *srv = wire_server(true, 2, &wo, &port);
	static int      fds[300];
	fedrpc_channel *ch;
	fedrpc_status   st = {0};
	srv_wire_stats  ws;

	for (int i = 0; i < 300; i++)
		fds[i] = raw_connect(port);
	cr_assert(TU_WAIT_FOR((fedrpc_server_wire_stats(srv, &ws),
	    ws.accepted >= 300), TU_WAIT_MS), "%llu accepted",
	    (unsigned long long) ws.accepted);
	cr_assert_leq(ws.pending, 32);
	cr_assert_geq(ws.pending_dropped, 300 - 32);
	ch = wire_channel(true, port);
	cr_assert_eq(echo_call(ch, "through", 0, TU_CALL_MS, NULL, NULL, &st),
	    FEDRPC_OK, "%s", st.message);
	for (int i = 0; i < 300; i++)
		close(fds[i]);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* The verified certificate names reach the handler on the new listener. */
Test(wire, handler_sees_the_verified_peer)
{
	int                                port;
	fedrpc_server                     *srv = wire_server(true, 2, NULL, &port);
	fedrpc_channel                    *ch  = wire_channel(true, port);
	Fedrpc__Testing__V1__EchoResponse *r   = NULL;
	fedrpc_status                      st  = {0};
	fedrpc_peer                        peer;

	cr_assert_eq(echo_call(ch, "who", 0, TU_CALL_MS, NULL, &r, &st), FEDRPC_OK,
	    "%s", st.message);
	cr_assert_eq(r->n_peer_names, 1);
	cr_assert_str_eq(r->peer_names[0], "a.example");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_eq(fedrpc_channel_peer(ch, &peer), FEDRPC_OK);
	cr_assert_geq(peer.n_names, 1);
	cr_assert_str_eq(peer.names[0], "b.example");
	fedrpc_peer_clear(&peer);
	fedrpc_channel_close(ch);
	fedrpc_server_free(srv);
}

/* A server that takes two calls, sends DRAIN naming the first as the
 * last it answers, answers it, and closes. */
static void *
draining_run(void *arg)
{
	silent_server    *s = arg;
	uint8_t           b[FEDRPC_PREFACE_LEN], *p, d[8 + 4];
	fedrpc_preface    pre = {.version = 1, .max_frame = 65536, .max_calls = 100};
	fedrpc_reply_head h   = {.code = FEDRPC_OK};
	fedrpc_frame      f;
	uint32_t          first = 0;
	nng_msg          *m;

	if ((s->fd = accept(s->lfd, NULL, NULL)) < 0)
		return NULL;
	if (raw_read(s->fd, b, FEDRPC_PREFACE_LEN, TU_CALL_MS) != 1)
		return NULL;
	fedrpc_preface_encode(b, &pre);
	raw_write(s->fd, b, FEDRPC_PREFACE_LEN);
	for (int i = 0; i < 2; i++) {
		if (raw_frame(s->fd, &f, &p, TU_CALL_MS) != 1)
			return NULL;
		free(p);
		if (i == 0)
			first = f.call_id;
	}
	fedrpc_frame_header_encode(b, FEDRPC_FRAME_DRAIN, 0, 0, sizeof(d));
	raw_write(s->fd, b, FEDRPC_FRAME_HEADER_LEN);
	memset(d, 0, sizeof(d));
	d[0] = (uint8_t) (first >> 24);
	d[1] = (uint8_t) (first >> 16);
	d[2] = (uint8_t) (first >> 8);
	d[3] = (uint8_t) first;
	d[7] = FEDRPC_UNAVAILABLE;
	memcpy(d + 8, "stop", 4);
	raw_write(s->fd, d, sizeof(d));
	cr_assert_eq(fedrpc_envelope_reply_encode(&m, &h, NULL, 0, NULL), FEDRPC_OK);
	fedrpc_frame_header_encode(b, FEDRPC_FRAME_REPLY, 0, first,
	    (uint32_t) nng_msg_len(m));
	raw_write(s->fd, b, FEDRPC_FRAME_HEADER_LEN);
	raw_write(s->fd, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	/* Wait for the client to close its drained connection. */
	while (read(s->fd, b, sizeof(b)) > 0)
		;
	return NULL;
}

/* DRAIN seen by a channel: the call the server will still answer gets
 * its reply, the one after it fails UNAVAILABLE at once (retryable
 * elsewhere), and the channel closes the drained connection itself. */
Test(wire, channel_on_drain_fails_the_calls_not_answered)
{
	silent_server      s    = {.fd = -1};
	int                port = tu_free_port(), one = 1;
	struct sockaddr_in sa   = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
	pthread_t          th;
	fedrpc_channel    *ch;
	static done_box    box;
	call_arg           a = {&box, 0}, b = {&box, 1};

	pthread_mutex_init(&box.mtx, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd              = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(s.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s.lfd, 4), 0);
	cr_assert_eq(pthread_create(&th, NULL, draining_run, &s), 0);
	ch = wire_channel(false, port);
	cr_assert_eq(start_echo(ch, &a, 0, NULL), FEDRPC_OK);
	cr_assert(TU_WAIT_FOR(fedrpc_channel_is_connected(ch), TU_WAIT_MS));
	cr_assert_eq(start_echo(ch, &b, 0, NULL), FEDRPC_OK);
	cr_assert(TU_WAIT_FOR(box_count(&box) == 2, TU_FAST_MS),
	    "%d of 2 calls ended", box_count(&box));
	cr_assert_eq(box.code[0], FEDRPC_OK, "%s", fedrpc_code_name(box.code[0]));
	cr_assert_eq(box.code[1], FEDRPC_UNAVAILABLE, "%s",
	    fedrpc_code_name(box.code[1]));
	pthread_join(th, NULL); /* ends when the client closed */
	fedrpc_channel_close(ch);
	close(s.lfd);
	close(s.fd);
}
