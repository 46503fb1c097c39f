/*
 * The relay of relay.h: one thread polling the listener and every relayed
 * connection, recording what it forwards.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "relay.h"
#include "testutil.h"

/* One relayed connection: the side that dialed, and the real one. */
typedef struct relay_conn {
	int  from;       /* accepted from the dialing side */
	int  to;         /* to the real listener */
	bool first_seen; /* the dialer's first byte was checked */
} relay_conn;

static void
relay_record(relay *r, const uint8_t *p, size_t n)
{
	pthread_mutex_lock(&r->mtx);
	if (r->n + n > r->cap) {
		size_t   cap = r->cap ? r->cap : 1 << 16;
		uint8_t *np;

		while (cap < r->n + n)
			cap *= 2;
		if ((np = realloc(r->rec, cap)) == NULL) {
			pthread_mutex_unlock(&r->mtx);
			return;
		}
		r->rec = np;
		r->cap = cap;
	}
	memcpy(r->rec + r->n, p, n);
	r->n += n;
	/* 0x17 0x03 0x03: a TLS 1.2/1.3 application-data record header. */
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == 0x17 && p[i + 1] == 0x03 && p[i + 2] == 0x03)
			r->app_records++;
	pthread_mutex_unlock(&r->mtx);
}

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t) w;
	}
	return true;
}

static void *
relay_main(void *arg)
{
	relay     *r = arg;
	relay_conn c[RELAY_MAX_CONNS];
	size_t     nc = 0;
	uint8_t    buf[16384];

	for (;;) {
		struct pollfd pf[2 + 2 * RELAY_MAX_CONNS];
		size_t        np = 0, polled;

		pf[np++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		pf[np++] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
		for (size_t i = 0; i < nc; i++) {
			pf[np++] = (struct pollfd){.fd = c[i].from, .events = POLLIN};
			pf[np++] = (struct pollfd){.fd = c[i].to, .events = POLLIN};
		}
		/* Only these have poll results: one accepted below waits for
		 * the next round (reading it now could block the thread). */
		polled = nc;
		if (poll(pf, np, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents != 0)
			break;
		if ((pf[1].revents & POLLIN) && nc < RELAY_MAX_CONNS) {
			int from = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
			int to   = from >= 0 ? tu_connect(r->target) : -1;

			if (to >= 0) {
				c[nc++] = (relay_conn){from, to, false};
				pthread_mutex_lock(&r->mtx);
				r->conns++;
				pthread_mutex_unlock(&r->mtx);
			} else if (from >= 0)
				close(from);
		}
		for (size_t i = 0; i < polled; i++) {
			struct pollfd *f = &pf[2 + 2 * i];
			bool           dead = false;

			for (int side = 0; side < 2 && !dead; side++) {
				int     src = side == 0 ? c[i].from : c[i].to;
				int     dst = side == 0 ? c[i].to : c[i].from;
				ssize_t n;

				if (f[side].revents == 0)
					continue;
				if ((n = read(src, buf, sizeof(buf))) <= 0) {
					dead = true;
					break;
				}
				if (side == 0 && !c[i].first_seen) {
					/* 0x16: a TLS handshake record. */
					c[i].first_seen = true;
					pthread_mutex_lock(&r->mtx);
					r->talked++;
					r->tls_starts += buf[0] == 0x16;
					pthread_mutex_unlock(&r->mtx);
				}
				relay_record(r, buf, (size_t) n);
				dead = !write_all(dst, buf, (size_t) n);
			}
			if (dead) {
				close(c[i].from);
				close(c[i].to);
				c[i] = c[--nc];
				break; /* the poll set changed */
			}
		}
	}
	for (size_t i = 0; i < nc; i++) {
		close(c[i].from);
		close(c[i].to);
	}
	return NULL;
}

void
relay_start(relay *r, int target)
{
	struct sockaddr_in sa  = {.sin_family = AF_INET};
	socklen_t          len = sizeof(sa);
	int                one = 1;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mtx, NULL);
	r->target          = target;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(r->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(r->lfd, 16), 0);
	cr_assert_eq(getsockname(r->lfd, (struct sockaddr *) &sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	cr_assert_eq(pipe2(r->wake, O_CLOEXEC), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, relay_main, r), 0);
	r->running = true;
}

void
relay_stop(relay *r)
{
	if (!r->running)
		return;
	(void) !write(r->wake[1], "x", 1);
	pthread_join(r->thread, NULL);
	close(r->lfd);
	close(r->wake[0]);
	close(r->wake[1]);
	r->lfd     = -1;
	r->running = false;
}

void
relay_free(relay *r)
{
	relay_stop(r);
	free(r->rec);
	r->rec = NULL;
	pthread_mutex_destroy(&r->mtx);
}
