/*
 * Registers fedrpc's wolfSSL engine with nng in place of the mbedTLS engine
 * Debian's libnng ships, and frees wolfSSL's per-thread caches at thread
 * exit. The configuration and connection operations live in tls_ctx.c and
 * tls_conn.c.
 *
 * Order matters: nng registers mbedTLS during its own lazy initialisation
 * (and again after nng_fini()), silently replacing an earlier engine, and
 * a TLS config keeps the engine it was made with. So we force nng's
 * initialisation first (nng_tls_engine_name() does), then initialise
 * wolfSSL, then register, and check by name; fedrpc_tls_engine_init()
 * repeats this whenever nng reports another engine.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>

#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "core/compat/compat.h"
#include "tls_internal.h"

/* What the engine knows process-wide, set up once. */
static struct {
	pthread_once_t  once;          /* runs engine_once() */
	pthread_mutex_t lock;          /* serialises (re)registration */
	pthread_key_t   thread_key;    /* destructor frees per-thread caches */
	bool            version_ok;    /* nng_version() is 1.5.x */
	bool            wolf_ready;    /* wolfSSL_Init() done, no Cleanup yet */
	char            nng_ver[32];   /* what nng_version() said */
	char            name[48];      /* "wolfSSL 5.5.4" */
	char            description[96];
	nng_tls_engine  engine;        /* what nng holds a pointer to */
} eng = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Whether this thread already armed thread_key. */
static __thread bool thread_armed;

/*
 * wolfSSL keeps a per-thread fixed-point ECC cache (FP_ECC) and, with
 * ERROR_QUEUE_PER_THREAD, a per-thread error queue. Both are thread-local
 * pointers to heap memory that nothing frees at thread exit, which valgrind
 * reports as tens of megabytes lost over nng's worker threads.
 */
static void
engine_thread_exit(void *arg)
{
	(void) arg;
	wc_ecc_fp_free();
	wolfSSL_ERR_clear_error();
}

void
tls_engine_thread_enter(void)
{
	if (!thread_armed) {
		thread_armed = true;
		pthread_setspecific(eng.thread_key, &thread_armed);
	}
}

static void
engine_once(void)
{
	const char *v = nng_version();

	snprintf(eng.nng_ver, sizeof(eng.nng_ver), "%s", v ? v : "?");
	/* nng 1.6 and 1.7 added fields to nng_tls_engine_conn_ops without a
	 * new engine version number: our ops table would be misread. */
	eng.version_ok = v != NULL && strncmp(v, "1.5.", 4) == 0;
	pthread_key_create(&eng.thread_key, engine_thread_exit);
	/* Without it, nng_close() can hang after a connection drops on
	 * req0/rep0 (FEDRPC_WIRE=reqrep). */
	if (!stream_guard_active())
		FEDRPC_LOG_WARN("tls: nng's stream operations are not guarded "
				"(core/compat/stream_guard.c not in effect; "
				"matters with FEDRPC_WIRE=reqrep)");
	/* Without it, a peer that resets its connection during the set-up
	 * can stop a req0/rep0 listener for good. */
	if (!epipe_guard_active())
		FEDRPC_LOG_WARN("tls: EPIPE reaches nng unchanged "
				"(core/compat/epipe_guard.c not in effect; "
				"matters with FEDRPC_WIRE=reqrep)");

	snprintf(eng.name, sizeof(eng.name), "wolfSSL %s", wolfSSL_lib_version());
	snprintf(eng.description, sizeof(eng.description),
	    "wolfSSL %s (fedrpc engine: TLS 1.3, 1.2 on request)",
	    wolfSSL_lib_version());
	eng.engine.version     = NNG_TLS_ENGINE_V1;
	eng.engine.config_ops  = (nng_tls_engine_config_ops *) &tls_ctx_ops;
	eng.engine.conn_ops    = (nng_tls_engine_conn_ops *) &tls_conn_ops;
	eng.engine.name        = eng.name;
	eng.engine.description = eng.description;
	eng.engine.fips_mode   = false;
}

fedrpc_code
fedrpc_tls_engine_init(fedrpc_status *st)
{
	const char *now;
	fedrpc_code code = FEDRPC_OK;
	int         rv;

	pthread_once(&eng.once, engine_once);
	if (!eng.version_ok)
		return fedrpc_status_set(st, FEDRPC_FAILED_PRECONDITION,
		    "TLS engine: built for nng 1.5.x but running with nng %s; "
		    "its engine interface differs",
		    eng.nng_ver);

	pthread_mutex_lock(&eng.lock);
	tls_engine_thread_enter();
	/* Forces nng's initialisation, which registers its own engine. */
	now = nng_tls_engine_name();
	if (now == eng.name)
		goto out;
	if (!eng.wolf_ready) {
		if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
			code = fedrpc_status_set(st, FEDRPC_INTERNAL,
			    "TLS engine: wolfSSL_Init failed");
			goto out;
		}
		eng.wolf_ready = true;
	}
	if ((rv = nng_tls_engine_register(&eng.engine)) != 0) {
		code = fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "TLS engine: nng refused the wolfSSL engine: %s",
		    nng_strerror(rv));
		goto out;
	}
	if ((now = nng_tls_engine_name()) != eng.name) {
		code = fedrpc_status_set(st, FEDRPC_INTERNAL,
		    "TLS engine: registered wolfSSL but nng reports \"%s\"",
		    now ? now : "none");
		goto out;
	}
	FEDRPC_LOG_DEBUG("tls: engine %s registered with nng %s", eng.name,
	    eng.nng_ver);
out:
	pthread_mutex_unlock(&eng.lock);
	return code;
}

const char *
fedrpc_tls_engine_name(void)
{
	return nng_tls_engine_name();
}

void
fedrpc_tls_engine_fini(void)
{
	pthread_once(&eng.once, engine_once);
	pthread_mutex_lock(&eng.lock);
	if (eng.wolf_ready) {
		wolfSSL_Cleanup();
		eng.wolf_ready = false;
	}
	/* Thread exit does this for other threads; the caller's thread may
	 * be main, whose key destructors never run. */
	wc_ecc_fp_free();
	wolfSSL_ERR_clear_error();
	pthread_mutex_unlock(&eng.lock);
}
