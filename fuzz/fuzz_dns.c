/*
 * Fuzz target: DNS answers as discovery reads them (client/discovery*.c,
 * srv_answer.c, srv_select.c). A nameserver in this process answers the
 * resolver's real queries over loopback UDP with replies made from the
 * input, so the whole path runs: udns parses the packet, the flight turns
 * SRV records into targets and asks for their A and AAAA records, the
 * answer is built, cached and handed over, ordered for dialling and
 * turned into URLs.
 *
 * Input: a flags byte, then one reply part per question type (SRV, A,
 * AAAA) as 16-bit length-prefixed slices. A part is the reply's header
 * flags (2 bytes), its answer, authority and additional counts (2 bytes
 * each), then the records; the nameserver puts the query's id and question
 * in front, so that udns takes the reply as the answer to what it asked
 * (a compression pointer to offset 12 names the question). Flags bit 0
 * looks up a domain with a static route to a host name, which skips the
 * SRV step; bits 1 and 2 together let reply codes through that make udns
 * wait and retry.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fedrpc/discovery.h>

#include "fuzz_util.h"

#define T_A 1
#define T_SRV 33
#define T_AAAA 28

/* What the nameserver answers, per question type; set by each input. */
typedef struct script {
	pthread_mutex_t mtx;
	const uint8_t  *part[3]; /* SRV, A, AAAA */
	size_t          len[3];
	bool            slow_codes; /* let SERVFAIL, NOTIMP, REFUSED through */
	unsigned        served;
} script;

static script           sc = {.mtx = PTHREAD_MUTEX_INITIALIZER};
static int              ns_fd = -1;
static fedrpc_resolver *res;

/* Where the question of a query ends (after QTYPE and QCLASS), or 0. */
static size_t
question_end(const uint8_t *q, size_t n)
{
	size_t i = 12;

	while (i < n && q[i] != 0) {
		if ((q[i] & 0xc0) != 0)
			return 0;
		i += (size_t) q[i] + 1;
	}
	return i + 5 <= n ? i + 5 : 0;
}

static int
slot_of(unsigned qtype)
{
	return qtype == T_SRV ? 0 : qtype == T_A ? 1 : qtype == T_AAAA ? 2 : -1;
}

/* Builds the reply to query q from the input's part for its type. */
static size_t
make_reply(const uint8_t *q, size_t qn, uint8_t *out, size_t cap)
{
	size_t         qend = question_end(q, qn), n = 12, plen;
	const uint8_t *part;
	int            slot;

	if (qend == 0)
		return 0;
	slot = slot_of((unsigned) (q[qend - 4] << 8 | q[qend - 3]));
	pthread_mutex_lock(&sc.mtx);
	part = slot >= 0 ? sc.part[slot] : NULL;
	plen = slot >= 0 ? sc.len[slot] : 0;
	sc.served++;
	memset(out, 0, 12);
	out[0] = q[0];
	out[1] = q[1];
	/* Flags from the part, with QR set and opcode QUERY: udns ignores
	 * anything else and waits for the resolver's timeout, which is
	 * time lost without another path. Failure codes that make udns
	 * retry (SERVFAIL, NOTIMP, REFUSED) are as slow and pass only with
	 * both flag bits 1 and 2. */
	out[2] = (uint8_t) (((plen > 0 ? part[0] : 0x81) & 0x87) | 0x80);
	out[3] = plen > 1 ? part[1] : 0x80;
	if (!sc.slow_codes && ((out[3] & 15) == 2 || (out[3] & 15) == 4 ||
	                          (out[3] & 15) == 5))
		out[3] &= 0xf0;
	out[5] = 1; /* one question: the query's */
	for (size_t k = 0; k < 6; k++)
		out[6 + k] = plen > 2 + k ? part[2 + k] : 0;
	memcpy(out + n, q + 12, qend - 12);
	n += qend - 12;
	if (plen > 8) {
		size_t more = plen - 8 < cap - n ? plen - 8 : cap - n;

		memcpy(out + n, part + 8, more);
		n += more;
	}
	pthread_mutex_unlock(&sc.mtx);
	return n;
}

static void *
nameserver_main(void *arg)
{
	uint8_t q[1500], reply[4096];

	(void) arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t          flen = sizeof(from);
		ssize_t            n    = recvfrom(ns_fd, q, sizeof(q), 0,
		                   (struct sockaddr *) &from, &flen);
		size_t             rn;

		if (n < 0)
			continue;
		if ((rn = make_reply(q, (size_t) n, reply, sizeof(reply))) > 0)
			sendto(ns_fd, reply, rn, 0, (struct sockaddr *) &from, flen);
	}
	return NULL;
}

static void
check_answer(const fedrpc_srv_answer *a)
{
	size_t            order[64];
	uint32_t          rng = 12345;
	size_t            n;
	fedrpc_srv_answer *copy;
	char              url[600];

	FZ_CHECK(a->n_targets >= 1 && a->n_targets <= 64);
	FZ_CHECK(a->domain != NULL && a->qname != NULL);
	for (size_t i = 0; i < a->n_targets; i++) {
		const fedrpc_srv_target *t = &a->targets[i];

		FZ_CHECK(t->host != NULL);
		for (const char *c = t->host; *c != '\0'; c++)
			FZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
		(void) fedrpc_srv_answer_has_target(a, t->host);
		for (size_t k = 0; k < t->n_addrs; k++) {
			int len = fedrpc_srv_target_url(t, k, "tls+tcp", url,
			    sizeof(url));

			FZ_CHECK(len > 0 && (size_t) len < sizeof(url));
		}
	}
	n = fedrpc_srv_order(a, &rng, order);
	FZ_CHECK(n <= a->n_targets);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK(order[i] < a->n_targets &&
		    a->targets[order[i]].n_addrs > 0);
	copy = fedrpc_srv_answer_dup(a);
	FZ_CHECK(copy != NULL && copy->n_targets == a->n_targets);
	fedrpc_srv_answer_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_reader          r = fz_reader_of(data, size);
	uint8_t            flags = fz_u8(&r);
	fedrpc_srv_answer *a = NULL;
	fedrpc_status      st = {0};
	fedrpc_code        rc;

	pthread_mutex_lock(&sc.mtx);
	for (int i = 0; i < 3; i++)
		sc.part[i] = fz_bytes(&r, &sc.len[i]);
	sc.slow_codes = (flags & 6) == 6;
	pthread_mutex_unlock(&sc.mtx);
	/* Every input is looked up afresh, not answered from the cache. */
	fedrpc_resolver_flush(res);
	rc = fedrpc_resolver_lookup(res, flags & 1 ? "s.example" : "b.example",
	    2000, &a, &st);
	if (rc == FEDRPC_OK) {
		FZ_CHECK(a != NULL);
		check_answer(a);
		fedrpc_srv_answer_free(a);
	} else {
		FZ_CHECK(a == NULL && st.message[0] != '\0');
		/* Never a bad argument or a failure of ours for a reply. */
		FZ_CHECK(rc == FEDRPC_NOT_FOUND || rc == FEDRPC_UNAVAILABLE ||
		    rc == FEDRPC_DEADLINE_EXCEEDED);
	}
	/* The parts point into this input; no reply may use them later. */
	pthread_mutex_lock(&sc.mtx);
	for (int i = 0; i < 3; i++) {
		sc.part[i] = NULL;
		sc.len[i]  = 0;
	}
	pthread_mutex_unlock(&sc.mtx);
	return 0;
}

/* ---- seeds: well-formed replies ---- */

static size_t
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
	return 2;
}

/* A reply part: flags, counts, then records whose owner is the question
 * (pointer c00c). */
static size_t
srv_part(uint8_t *p, int n_targets)
{
	size_t n = 0;

	n += put16(p + n, 0x8180);
	n += put16(p + n, (unsigned) n_targets);
	n += put16(p + n, 0);
	n += put16(p + n, 0);
	for (int i = 0; i < n_targets; i++) {
		static const uint8_t host[] = {4, 'h', 'o', 's', 't', 1, 'x', 7,
		    'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

		n += put16(p + n, 0xc00c);
		n += put16(p + n, T_SRV);
		n += put16(p + n, 1);
		n += put16(p + n, 0);
		n += put16(p + n, 300);
		n += put16(p + n, 6 + sizeof(host));
		n += put16(p + n, (unsigned) (10 + i)); /* priority */
		n += put16(p + n, (unsigned) (5 * i));  /* weight */
		n += put16(p + n, 8443);
		memcpy(p + n, host, sizeof(host));
		p[n + 6] = (uint8_t) ('a' + i);
		n += sizeof(host);
	}
	return n;
}

static size_t
addr_part(uint8_t *p, unsigned type, int count, unsigned rcode)
{
	size_t n = 0;

	n += put16(p + n, 0x8180 | rcode);
	n += put16(p + n, (unsigned) count);
	n += put16(p + n, 0);
	n += put16(p + n, 0);
	for (int i = 0; i < count; i++) {
		size_t alen = type == T_A ? 4 : 16;

		n += put16(p + n, 0xc00c);
		n += put16(p + n, type);
		n += put16(p + n, 1);
		n += put16(p + n, 0);
		n += put16(p + n, 60);
		n += put16(p + n, (unsigned) alen);
		memset(p + n, 0, alen);
		p[n] = type == T_A ? 127 : 0;
		p[n + alen - 1] = (uint8_t) (1 + i);
		n += alen;
	}
	return n;
}

static void
seed(const char *name, uint8_t flags, int targets, int a, int aaaa,
    unsigned srv_rcode)
{
	uint8_t buf[4096], part[2048];
	size_t  len = 0, n;

	buf[len++] = flags;
	n = srv_part(part, targets);
	part[1] |= (uint8_t) srv_rcode;
	len += put16(buf + len, (unsigned) n);
	memcpy(buf + len, part, n);
	len += n;
	n = addr_part(part, T_A, a, 0);
	len += put16(buf + len, (unsigned) n);
	memcpy(buf + len, part, n);
	len += n;
	n = addr_part(part, T_AAAA, aaaa, 0);
	len += put16(buf + len, (unsigned) n);
	memcpy(buf + len, part, n);
	len += n;
	fz_seed(name, buf, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const fedrpc_static_route routes[] = {
	    {"s.example", "host.s.example", 7443},
	};
	struct sockaddr_in   sa = {.sin_family = AF_INET};
	socklen_t            slen = sizeof(sa);
	char                 ns[64];
	fedrpc_resolver_opts o = {
	    .nameserver = ns,
	    .timeout_ms = 300,
	    .statics    = routes,
	    .n_statics  = 1,
	};
	fedrpc_status        st = {0};
	pthread_t            t;

	(void) argc;
	(void) argv;
	fz_quiet_logs();
	if (fz_seeds_dir() != NULL) {
		seed("srv-3-targets", 0, 3, 2, 1, 0);
		seed("srv-1-v4", 0, 1, 1, 0, 0);
		seed("srv-nxdomain", 0, 0, 0, 0, 3);
		seed("srv-no-addrs", 0, 2, 0, 0, 0);
		seed("static-name", 1, 0, 1, 1, 0);
		exit(0);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	FZ_CHECK((ns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	FZ_CHECK(bind(ns_fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
	FZ_CHECK(getsockname(ns_fd, (struct sockaddr *) &sa, &slen) == 0);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", (unsigned) ntohs(sa.sin_port));
	FZ_CHECK(pthread_create(&t, NULL, nameserver_main, NULL) == 0);
	pthread_detach(t);
	FZ_CHECK(fedrpc_resolver_new(&res, &o, &st) == FEDRPC_OK);
	return 0;
}
