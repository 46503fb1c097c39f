/*
 * The handler thread pool. Receive callbacks run on nng's threads and must
 * not block, while handlers may (SQLite, calls to other servers); so each
 * request is handed over exactly once, through this queue, to a worker.
 */
#include <stdlib.h>

#include "server/server_int.h"

void
srv_queue_push(fedrpc_server *srv, srv_rctx *rc)
{
	pthread_mutex_lock(&srv->mtx);
	rc->state = RCTX_QUEUED;
	rc->next  = NULL;
	if (srv->q_tail != NULL)
		srv->q_tail->next = rc;
	else
		srv->q_head = rc;
	srv->q_tail = rc;
	/* Wake a worker only when one is asleep. */
	if (srv->n_waiting > 0)
		pthread_cond_signal(&srv->work_cv);
	pthread_mutex_unlock(&srv->mtx);
}

void
srv_queue_free_wire_calls(fedrpc_server *srv)
{
	srv_rctx *rc, *next;

	pthread_mutex_lock(&srv->mtx);
	rc          = srv->q_head;
	srv->q_head = srv->q_tail = NULL;
	pthread_mutex_unlock(&srv->mtx);
	for (; rc != NULL; rc = next) {
		next = rc->next;
		nng_msg_free(rc->req);
		free(rc);
	}
}

static void *
worker_main(void *arg)
{
	srv_worker    *w   = arg;
	fedrpc_server *srv = w->srv;
	srv_rctx      *rc;

	pthread_mutex_lock(&srv->mtx);
	for (;;) {
		while ((rc = srv->q_head) == NULL &&
		    srv->state < SRV_CLOSING) {
			srv->n_waiting++;
			pthread_cond_wait(&srv->work_cv, &srv->mtx);
			srv->n_waiting--;
		}
		if (rc == NULL)
			break;
		if ((srv->q_head = rc->next) == NULL)
			srv->q_tail = NULL;
		srv->in_handler++;
		pthread_mutex_unlock(&srv->mtx);

		rc->state = RCTX_BUSY;
		srv_dispatch(srv, &w->cx, rc);

		pthread_mutex_lock(&srv->mtx);
		if (--srv->in_handler == 0 && srv->state >= SRV_STOPPING)
			pthread_cond_broadcast(&srv->idle_cv);
	}
	pthread_mutex_unlock(&srv->mtx);
	return NULL;
}

int
srv_workers_start(fedrpc_server *srv)
{
	srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return -1;
	for (uint32_t i = 0; i < srv->n_workers; i++) {
		srv_worker *w = &srv->workers[i];

		w->srv = srv;
		srv_ctx_init(&w->cx, srv);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return -1;
		w->started = true;
	}
	return 0;
}

/* The caller has set SRV_CLOSING and woken the workers. */
void
srv_workers_join(fedrpc_server *srv)
{
	if (srv->workers == NULL)
		return;
	for (uint32_t i = 0; i < srv->n_workers; i++) {
		srv_worker *w = &srv->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->srv != NULL)
			srv_ctx_fini(&w->cx);
	}
	free(srv->workers);
	srv->workers = NULL;
}
