/*
 * The federation listener's self-check. Every `listen_check_ms` the
 * daemon connects to its own federation listener with its own certificate,
 * as a peer would, and waits until the server hands that connection to its
 * socket (federation_connection() in admit.c reports it here). A finished
 * handshake proves nothing: an nng 1.5.2 listener that took NNG_ECLOSED
 * during a set-up still negotiates new connections but never hands them
 * over. A listener that cannot accept at all (descriptors exhausted) fails
 * the check too. On the wire protocol the check is a stream of its own,
 * handed over once the server admitted it (it answers with its preface).
 *
 * Two failed checks in a row make the daemon's health NOT_SERVING, with the
 * reason logged and shown by the local health service; the next passing
 * check clears it. The daemon does not rebuild the listener itself: that
 * would close every connection it accepted, which is the service manager's
 * call (a restart).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <fedrpc/log.h>
#include <fedrpc/pki.h>
#include <fedrpc/tls.h>

#include "client/channel_int.h"
#include "client/wire_probe.h"
#include "core/base/clock.h"
#include "federator/federator.h"

/* How long each step of one check may take (connect, handed over): the
 * interval, within bounds a loopback handshake meets on a loaded machine. */
#define CHECK_STEP_MIN_MS 2000
#define CHECK_STEP_MAX_MS 5000
/* Failed checks in a row before health says NOT_SERVING. */
#define CHECK_FAILURES 2

/* The probe's own connection, as its dialer reports it. */
typedef struct probe {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             local_port; /* 0 until connected */
} probe;

static uint32_t
check_step_ms(const federator *f)
{
	uint32_t ms = f->cfg->listen_check_ms;

	return ms < CHECK_STEP_MIN_MS   ? CHECK_STEP_MIN_MS
	    : ms > CHECK_STEP_MAX_MS ? CHECK_STEP_MAX_MS
				     : ms;
}

static void
probe_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	probe       *p = arg;
	nng_sockaddr sa;
	int          port = -1;

	(void) ev;
	if (nng_pipe_get_addr(pipe, NNG_OPT_LOCADDR, &sa) == 0) {
		if (sa.s_family == NNG_AF_INET)
			port = ntohs(sa.s_in.sa_port);
		else if (sa.s_family == NNG_AF_INET6)
			port = ntohs(sa.s_in6.sa_port);
	}
	pthread_mutex_lock(&p->mtx);
	p->local_port = port;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
}

static bool
port_seen(federator *f, int port, uint64_t since)
{
	listen_probe_ring *r = &f->probe_ring;

	for (size_t i = 0; i < LISTEN_RING; i++)
		if (r->port[i] == port && r->gen[i] > since)
			return true;
	return false;
}

/* Waits until the server reports our connection (its remote port). */
static bool
wait_handed_over(federator *f, int port, uint64_t since)
{
	struct timespec ts;
	bool            seen;

	fedrpc_clock_deadline(&ts, check_step_ms(f));
	pthread_mutex_lock(&f->probe_mtx);
	while (!(seen = port_seen(f, port, since)) &&
	    pthread_cond_timedwait(&f->probe_cv, &f->probe_mtx, &ts) == 0)
		;
	if (!seen)
		seen = port_seen(f, port, since);
	pthread_mutex_unlock(&f->probe_mtx);
	return seen;
}

static int
wait_connected(federator *f, probe *p)
{
	struct timespec ts;
	int             port;

	fedrpc_clock_deadline(&ts, check_step_ms(f));
	pthread_mutex_lock(&p->mtx);
	while (p->local_port == 0 &&
	    pthread_cond_timedwait(&p->cv, &p->mtx, &ts) == 0)
		;
	port = p->local_port;
	pthread_mutex_unlock(&p->mtx);
	return port;
}

/* The listener's address as a client on this machine dials it. */
static void
self_url(federator *f, char *url, size_t n)
{
	const char *host = f->cfg->listen + strlen("tls+tcp://");
	const char *colon = strrchr(host, ':');
	int         len   = colon != NULL ? (int) (colon - host) : 0;
	int         port  = fedrpc_server_port(f->fed_srv);

	if (len == 0 || (len == 7 && strncmp(host, "0.0.0.0", 7) == 0))
		snprintf(url, n, "tls+tcp://127.0.0.1:%d", port);
	else if (len == 4 && strncmp(host, "[::]", 4) == 0)
		snprintf(url, n, "tls+tcp://[::1]:%d", port);
	else
		snprintf(url, n, "tls+tcp://%.*s:%d", len, host, port);
}

/* Our certificate's first name: the server name the probe asks for, and
 * how admit.c tells the probe's connections from a peer's. */
static bool
self_name_load(federator *f, char *why, size_t n)
{
	fedrpc_pki_cert_info info;
	fedrpc_status        st = {0};

	if (fedrpc_pki_info(f->cfg->tls.cert, &info, &st) != FEDRPC_OK) {
		snprintf(why, n, "cannot read %s: %s", f->cfg->tls.cert,
		    st.message);
		return false;
	}
	pthread_mutex_lock(&f->probe_mtx);
	snprintf(f->self_name, sizeof(f->self_name), "%s",
	    info.n_dns_names > 0 ? info.dns_names[0] : "");
	pthread_mutex_unlock(&f->probe_mtx);
	fedrpc_pki_info_clear(&info);
	if (f->self_name[0] == '\0') {
		snprintf(why, n, "%s has no DNS name", f->cfg->tls.cert);
		return false;
	}
	return true;
}

static nng_socket
probe_dial(federator *f, probe *p, fedrpc_tls *tls, char *why, size_t n)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	nng_dialer d;
	char       url[300];
	int        rv;

	self_url(f, url, sizeof(url));
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, check_step_ms(f))) ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, check_step_ms(f))) ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, probe_pipe_cb, p)) ||
	    (rv = nng_dialer_create(&d, s, url)) != 0 ||
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG,
	         fedrpc_tls_nng_config(tls))) != 0 ||
	    (rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0)
		snprintf(why, n, "cannot dial %s: %s", url, nng_strerror(rv));
	return s;
}

/* The check on the wire protocol: a stream of our own; the server
 * admits it (and so hands it over) before it sends its preface. */
static bool
wire_check(federator *f, fedrpc_tls *tls, uint64_t since, char *why,
    size_t n)
{
	char       url[300];
	wire_probe p = {.url = url, .tls = tls, .timeout_ms = check_step_ms(f)};
	char       reason[200];

	self_url(f, url, sizeof(url));
	wire_probe_run(&p);
	fedrpc_peer_clear(&p.peer);
	if (p.reached == PROBE_DIAL) {
		fedrpc_tls_last_error(tls, reason, sizeof(reason));
		snprintf(why, n, "no connection within %d ms%s%s",
		    check_step_ms(f), reason[0] ? ": " : "",
		    reason[0] ? reason : nng_strerror(p.rv));
		return false;
	}
	if (p.reached != PROBE_DONE || p.local_port <= 0 ||
	    !wait_handed_over(f, p.local_port, since)) {
		snprintf(why, n, "a connection was made but not handed to the "
				 "server within %d ms",
		    check_step_ms(f));
		return false;
	}
	return true;
}

/* One check; false with the reason in `why` when the listener failed it. */
static bool
listen_check_once(federator *f, char *why, size_t n)
{
	fedrpc_tls_opts o;
	fedrpc_tls     *tls;
	fedrpc_status   st = {0};
	probe           p  = {.mtx = PTHREAD_MUTEX_INITIALIZER};
	nng_socket      s;
	uint64_t        since;
	int             port;
	bool            ok = false;

	why[0] = '\0';
	fedrpc_clock_cond_init(&p.cv);
	if (!self_name_load(f, why, n)) {
		pthread_cond_destroy(&p.cv);
		return false;
	}
	federator_tls_opts(f->cfg, &o);
	o.server_name = f->self_name;
	if (fedrpc_tls_new(&tls, false, &o, &st) != FEDRPC_OK) {
		snprintf(why, n, "cannot use our certificates: %s", st.message);
		pthread_cond_destroy(&p.cv);
		return false;
	}
	pthread_mutex_lock(&f->probe_mtx);
	since = f->probe_ring.next;
	pthread_mutex_unlock(&f->probe_mtx);
	if (chan_wire_wanted(f->cfg->listen)) {
		ok = wire_check(f, tls, since, why, n);
		fedrpc_tls_free(tls);
		pthread_cond_destroy(&p.cv);
		return ok;
	}
	s = probe_dial(f, &p, tls, why, n);
	if (why[0] == '\0') {
		if ((port = wait_connected(f, &p)) <= 0) {
			char reason[200];

			fedrpc_tls_last_error(tls, reason, sizeof(reason));
			snprintf(why, n, "no connection within %d ms%s%s",
			    check_step_ms(f), reason[0] ? ": " : "", reason);
		} else if (!wait_handed_over(f, port, since)) {
			snprintf(why, n, "a connection was made but not handed "
					 "to the server within %d ms",
			    check_step_ms(f));
		} else {
			ok = true;
		}
	}
	nng_close(s);
	fedrpc_tls_free(tls);
	pthread_cond_destroy(&p.cv);
	return ok;
}

void
listen_watch_note(federator *f, int remote_port)
{
	listen_probe_ring *r = &f->probe_ring;

	pthread_mutex_lock(&f->probe_mtx);
	r->port[r->next % LISTEN_RING] = remote_port;
	r->gen[r->next % LISTEN_RING]  = r->next + 1;
	r->next++;
	pthread_cond_broadcast(&f->probe_cv);
	pthread_mutex_unlock(&f->probe_mtx);
}

bool
listen_watch_is_self(federator *f, const char *peer_name)
{
	bool self;

	pthread_mutex_lock(&f->probe_mtx);
	self = f->self_name[0] != '\0' && peer_name != NULL &&
	    strcmp(peer_name, f->self_name) == 0;
	pthread_mutex_unlock(&f->probe_mtx);
	return self;
}

void
listen_watch_tick(federator *f)
{
	char     why[sizeof(f->listen_why)];
	uint64_t now = fedrpc_clock_ms();
	bool     ok;

	if (f->fed_srv == NULL || f->cfg->listen_check_ms == 0 ||
	    now < f->listen_next_ms)
		return;
	ok                = listen_check_once(f, why, sizeof(why));
	__atomic_add_fetch(&f->listen_checks, 1, __ATOMIC_RELAXED);
	f->listen_next_ms = fedrpc_clock_ms() + f->cfg->listen_check_ms;
	if (ok) {
		if (__atomic_exchange_n(&f->listen_failing, 0,
		        __ATOMIC_ACQ_REL) >= CHECK_FAILURES)
			FEDRPC_LOG_INFO("federation listener %s serves new "
					"connections again",
			    f->cfg->listen);
		return;
	}
	__atomic_add_fetch(&f->listen_failures, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&f->probe_mtx);
	snprintf(f->listen_why, sizeof(f->listen_why), "%s", why);
	pthread_mutex_unlock(&f->probe_mtx);
	if (__atomic_add_fetch(&f->listen_failing, 1, __ATOMIC_ACQ_REL) ==
	    CHECK_FAILURES)
		FEDRPC_LOG_ERROR("federation listener %s does not serve new "
				 "connections (self-check: %s); health is "
				 "NOT_SERVING until it does",
		    f->cfg->listen, why);
	else
		FEDRPC_LOG_WARN("federation listener %s failed its "
				"self-check: %s",
		    f->cfg->listen, why);
}

bool
listen_watch_failing(federator *f, char *why, size_t n)
{
	if (__atomic_load_n(&f->listen_failing, __ATOMIC_ACQUIRE) <
	    CHECK_FAILURES)
		return false;
	if (why != NULL) {
		pthread_mutex_lock(&f->probe_mtx);
		snprintf(why, n, "%s", f->listen_why);
		pthread_mutex_unlock(&f->probe_mtx);
	}
	return true;
}
