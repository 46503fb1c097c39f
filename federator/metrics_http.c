/*
 * The daemon's HTTP endpoint for service managers and collectors, on
 * metrics.listen (loopback only; off unless set), served by nng's HTTP
 * server:
 *   GET /metrics  every series in the Prometheus text format (metrics.c)
 *   GET /healthz  200 "ok" while the daemon runs (liveness)
 *   GET /readyz   200 "ready" while it serves federation: not stopping,
 *                 and the federation listener passes its self-check (or
 *                 federation is off); else 503 with the reason
 * A scrape asks the local API for the delivery queues, which blocks, so
 * /metrics is answered on a thread of its own, never on nng's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include <fedrpc/log.h>

#include "federator/federator.h"

/* Scrapes waiting for the thread; more get 503 at once. */
#define HTTP_QUEUE 8

struct federator_http {
	federator       *f;
	nng_http_server *srv;
	pthread_t        thread;
	bool             started;
	pthread_mutex_t  mtx;
	pthread_cond_t   cv;
	nng_aio         *queue[HTTP_QUEUE];
	size_t           n;
	bool             stop;
};

static void
reply(nng_aio *aio, uint16_t status, const char *type, const void *body,
    size_t len)
{
	nng_http_res *res;
	int           rv;

	if ((rv = nng_http_res_alloc(&res)) != 0) {
		nng_aio_finish(aio, rv);
		return;
	}
	if ((rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", type)) != 0 ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
reply_text(nng_aio *aio, uint16_t status, const char *text)
{
	reply(aio, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void
scrape(federator_http *h, nng_aio *aio)
{
	size_t len  = 0;
	char  *body = federator_metrics_scrape(h->f, &len);

	if (body == NULL) {
		reply_text(aio, 500, "out of memory\n");
		return;
	}
	reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
	free(body);
}

static void *
scrape_thread(void *arg)
{
	federator_http *h = arg;

	pthread_mutex_lock(&h->mtx);
	for (;;) {
		nng_aio *aio;

		while (h->n == 0 && !h->stop)
			pthread_cond_wait(&h->cv, &h->mtx);
		if (h->n == 0)
			break;
		aio = h->queue[0];
		memmove(h->queue, h->queue + 1, --h->n * sizeof(*h->queue));
		pthread_mutex_unlock(&h->mtx);
		if (__atomic_load_n(&h->f->stopping, __ATOMIC_ACQUIRE))
			reply_text(aio, 503, "stopping\n");
		else
			scrape(h, aio);
		pthread_mutex_lock(&h->mtx);
	}
	pthread_mutex_unlock(&h->mtx);
	return NULL;
}

static void
on_metrics(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	federator_http   *h  = nng_http_handler_get_data(hd);
	bool              queued = false;

	pthread_mutex_lock(&h->mtx);
	if (!h->stop && h->n < HTTP_QUEUE) {
		h->queue[h->n++] = aio;
		queued           = true;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mtx);
	if (!queued)
		reply_text(aio, 503, "busy\n");
}

static void
on_healthz(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	federator_http   *h  = nng_http_handler_get_data(hd);

	if (__atomic_load_n(&h->f->stopping, __ATOMIC_ACQUIRE))
		reply_text(aio, 503, "stopping\n");
	else
		reply_text(aio, 200, "ok\n");
}

static void
on_readyz(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	federator_http   *h  = nng_http_handler_get_data(hd);
	federator        *f  = h->f;
	char              why[sizeof(f->listen_why)], text[sizeof(why) + 64];

	if (__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE))
		reply_text(aio, 503, "stopping\n");
	else if (f->fed_srv != NULL && listen_watch_failing(f, why, sizeof(why))) {
		snprintf(text, sizeof(text),
		    "federation listener not serving: %s\n", why);
		reply_text(aio, 503, text);
	} else
		reply_text(aio, 200, "ready\n");
}

static int
add_handler(federator_http *h, const char *path, void (*cb)(nng_aio *))
{
	nng_http_handler *hd;
	int               rv;

	if ((rv = nng_http_handler_alloc(&hd, path, cb)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(hd, "GET")) != 0 ||
	    (rv = nng_http_handler_set_data(hd, h, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(h->srv, hd)) != 0) {
		nng_http_handler_free(hd);
		return rv;
	}
	return 0;
}

static void
http_free(federator_http *h)
{
	if (h->srv != NULL) {
		nng_http_server_stop(h->srv);
		nng_http_server_release(h->srv);
	}
	pthread_mutex_destroy(&h->mtx);
	pthread_cond_destroy(&h->cv);
	free(h);
}

fedrpc_code
federator_http_start(federator *f, fedrpc_status *st)
{
	const char     *listen = f->cfg->metrics.listen;
	char            url[160];
	nng_url        *u = NULL;
	federator_http *h;
	int             rv;

	if (listen == NULL)
		return FEDRPC_OK;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return fedrpc_status_set(
		    st, FEDRPC_RESOURCE_EXHAUSTED, "out of memory");
	h->f = f;
	pthread_mutex_init(&h->mtx, NULL);
	pthread_cond_init(&h->cv, NULL);
	snprintf(url, sizeof(url), "http://%s", listen);
	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_server_hold(&h->srv, u)) != 0 ||
	    (rv = add_handler(h, "/metrics", on_metrics)) != 0 ||
	    (rv = add_handler(h, "/healthz", on_healthz)) != 0 ||
	    (rv = add_handler(h, "/readyz", on_readyz)) != 0)
		goto fail;
	if (pthread_create(&h->thread, NULL, scrape_thread, h) != 0) {
		rv = NNG_ENOMEM;
		goto fail;
	}
	h->started = true;
	if ((rv = nng_http_server_start(h->srv)) != 0) {
		pthread_mutex_lock(&h->mtx);
		h->stop = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mtx);
		pthread_join(h->thread, NULL);
		goto fail;
	}
	nng_url_free(u);
	f->http = h;
	FEDRPC_LOG_INFO("metrics: http://%s/metrics (and /healthz, /readyz)",
	    listen);
	return FEDRPC_OK;
fail:
	if (u != NULL)
		nng_url_free(u);
	http_free(h);
	return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
	    "metrics.listen %s: cannot serve HTTP there: %s", listen,
	    nng_strerror(rv));
}

void
federator_http_stop(federator *f)
{
	federator_http *h = f->http;

	if (h == NULL)
		return;
	f->http = NULL;
	/* Answer what waits before nng's server stops: it waits for its
	 * handlers' replies. */
	pthread_mutex_lock(&h->mtx);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mtx);
	if (h->started)
		pthread_join(h->thread, NULL);
	http_free(h);
}
