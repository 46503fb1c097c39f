/*
 * federator: the daemon of one backend domain. Reads its configuration,
 * starts the federation listener and the local API, and runs until SIGTERM
 * or SIGINT (calls in flight get a grace period); SIGHUP reloads the
 * allow list, limits and certificates. Signals are taken by this thread
 * with sigwaitinfo(), never by handlers, so every reaction runs as normal
 * code.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "core/base/clock.h"
#include "core/base/private_file.h"
#include "core/base/version_info.h"
#include "federator/federator.h"

#define DEFAULT_GRACE_MS 5000

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: federator -c FILE [--log-level LEVEL] [--pid-file FILE]\n"
	    "                 [--shutdown-grace MS] [--foreground]\n"
	    "       federator --check-config FILE [--check-database]\n"
	    "       federator --print-default-config\n"
	    "       federator --version\n"
	    "\n"
	    "  -c, --config FILE       run with this configuration\n"
	    "  --check-config FILE     check FILE, print the settings in "
	    "effect (or\n"
	    "                          the error) and exit 0 (valid) or 1\n"
	    "  --check-database        with --check-config: also connect to "
	    "the\n"
	    "                          PostgreSQL database the file names\n"
	    "  --print-default-config  print a complete default "
	    "configuration\n"
	    "  --log-level LEVEL       debug, info, warn, error or off "
	    "(overrides\n"
	    "                          log.level, also across reloads)\n"
	    "  --pid-file FILE         write the process id to FILE once "
	    "serving\n"
	    "  --shutdown-grace MS     on SIGTERM/SIGINT, let calls in flight "
	    "finish\n"
	    "                          for up to MS milliseconds (default "
	    "%d)\n"
	    "  --foreground            stay in the foreground (the default "
	    "and only\n"
	    "                          mode; use a service manager to "
	    "detach)\n"
	    "  --version               print the version (and those of nng, "
	    "wolfSSL\n"
	    "                          and protobuf-c) and exit\n"
	    "\n"
	    "Signals: SIGHUP reloads the allow list, search policies, limits, "
	    "certificates\n"
	    "and log file; SIGTERM and SIGINT stop.\n",
	    DEFAULT_GRACE_MS);
}

/* --check-config: what the file needs in open files, against the hard
 * limit of this shell (the daemon raises its soft limit to that). */
static void
check_fd_limit(const char *path, const fedrpc_config *cfg)
{
	federator_fd_need need;
	struct rlimit     rl;

	federator_fd_need_get(cfg, &need);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY)
		fprintf(stderr, "federator: %s: needs %lu open files (%s)\n",
		    path, need.total, need.why);
	else
		fprintf(stderr,
		    "federator: %s: needs %lu open files (%s); the hard limit "
		    "here is %llu%s\n",
		    path, need.total, need.why,
		    (unsigned long long) rl.rlim_max,
		    rl.rlim_max < need.total ? ": too low, it would not start"
		                             : "");
}

/* --check-config: each TLS file the configuration names exists (the
 * printed default configuration names files still to be made). */
static bool
check_tls_files(const char *path, const fedrpc_config *cfg)
{
	const struct {
		const char *setting, *file, *how;
	} f[] = {
	    {"tls.ca", cfg->tls.ca, "fedctl cert ca"},
	    {"tls.cert", cfg->tls.cert, "fedctl cert issue"},
	    {"tls.key", cfg->tls.key, "fedctl cert issue"},
	};
	bool ok = true;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].file != NULL && access(f[i].file, F_OK) != 0) {
			fprintf(stderr,
			    "federator: %s: setting '%s': %s does not exist "
			    "(make it with `%s`, see fedctl(1), or point "
			    "'%s' at yours)\n",
			    path, f[i].setting, f[i].file, f[i].how,
			    f[i].setting);
			ok = false;
		}
	return ok;
}

/* --check-config: the file, then the TLS files and the storage it
 * names (with check_db, whether its database answers). */
static int
check_config(const char *path, bool check_db)
{
	fedrpc_config  *cfg;
	fedrpc_status   st = {0};
	fedrpc_tls_opts o;
	fedrpc_tls     *tls;

	if (fedrpc_config_load_file(path, &cfg, &st) != FEDRPC_OK) {
		fprintf(stderr, "federator: %s\n", st.message);
		return 1;
	}
	fedrpc_config_print(cfg, stdout);
	fflush(stdout);
	check_fd_limit(path, cfg);
	if (strcmp(cfg->domain, FEDERATOR_PLACEHOLDER_DOMAIN) == 0)
		fprintf(stderr,
		    "federator: %s: warning: setting 'domain' is still the "
		    "placeholder %s of the default configuration\n",
		    path, FEDERATOR_PLACEHOLDER_DOMAIN);
	if (cfg->federation.enabled && !check_tls_files(path, cfg)) {
		fedrpc_config_free(cfg);
		return 1;
	}
	if (cfg->federation.enabled) {
		fedrpc_log_set_level(FEDRPC_LOG_OFF);
		fedrpc_config_tls_opts(cfg, &o);
		if (fedrpc_tls_new(&tls, true, &o, &st) != FEDRPC_OK) {
			fprintf(stderr, "federator: %s: tls: %s\n", path,
			    st.message);
			fedrpc_config_free(cfg);
			return 1;
		}
		fedrpc_tls_free(tls);
		if (federator_check_cert_names(cfg, &st) != FEDRPC_OK) {
			fprintf(stderr, "federator: %s: tls: %s\n", path,
			    st.message);
			fedrpc_config_free(cfg);
			return 1;
		}
	}
	if (federator_check_storage(path, cfg, check_db) != 0) {
		fedrpc_config_free(cfg);
		return 1;
	}
	fprintf(stderr, "federator: %s: OK\n", path);
	fedrpc_config_free(cfg);
	return 0;
}

static int
write_pid_file(const char *path)
{
	char                buf[32];
	int                 fd, n;
	fedrpc_private_file pf;

	/* Like every file the daemon makes: its user's (0600), whatever
	 * the umask. */
	if ((fd = fedrpc_private_file_open(path, O_WRONLY | O_TRUNC, &pf)) < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
	if (write(fd, buf, (size_t) n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * The bound on stopping. Stopping waits for nng to close its sockets, and
 * under load nng 1.5.2 has been seen to wait for ever for a connection it
 * lost track of; a daemon that will not stop is worse than one that stops
 * without tidying up, so past the grace period and STOP_EXTRA_MS more the
 * process exits anyway, saying so.
 */
#define STOP_EXTRA_MS 5000

typedef struct stop_guard {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	bool            done;     /* the stop finished */
	uint32_t        limit_ms; /* from the signal */
} stop_guard;

static void *
stop_guard_main(void *arg)
{
	stop_guard     *g = arg;
	struct timespec ts;
	bool            done;

	fedrpc_clock_deadline(&ts, g->limit_ms);
	pthread_mutex_lock(&g->mtx);
	while (!g->done &&
	    pthread_cond_timedwait(&g->cv, &g->mtx, &ts) != ETIMEDOUT)
		;
	done = g->done;
	pthread_mutex_unlock(&g->mtx);
	if (!done) {
		FEDRPC_LOG_ERROR("stopping took over %u ms (waiting for the "
				 "transport to close); exiting without it",
		    g->limit_ms);
		_exit(1);
	}
	return NULL;
}

/* Waits for signals until one says stop. */
static void
serve(federator *f)
{
	sigset_t  set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			FEDRPC_LOG_ERROR("sigwaitinfo: %s", strerror(errno));
			return;
		}
		if (sig == SIGHUP) {
			fedrpc_status st = {0};

			FEDRPC_LOG_INFO("SIGHUP: reloading %s", f->config_path);
			(void) federator_reload(f, &st);
			continue;
		}
		FEDRPC_LOG_INFO("%s: stopping", sig == SIGINT ? "SIGINT"
							       : "SIGTERM");
		return;
	}
}

int
main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_PRINT, OPT_LOG, OPT_PID, OPT_GRACE, OPT_FG,
	       OPT_VERSION, OPT_CHECK_DB };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, OPT_CHECK},
		{"check-database", no_argument, NULL, OPT_CHECK_DB},
		{"print-default-config", no_argument, NULL, OPT_PRINT},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"pid-file", required_argument, NULL, OPT_PID},
		{"shutdown-grace", required_argument, NULL, OPT_GRACE},
		{"foreground", no_argument, NULL, OPT_FG},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char    *config = NULL, *pid_file = NULL, *check = NULL;
	bool           check_db = false;
	int            log_level = -1, c;
	unsigned long  grace = DEFAULT_GRACE_MS;
	char          *end;
	sigset_t       set;
	fedrpc_config *cfg;
	fedrpc_status  st = {0};
	federator     *f;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_CHECK:
			check = optarg;
			break;
		case OPT_CHECK_DB:
			check_db = true;
			break;
		case OPT_PRINT:
			fputs(federator_default_config, stdout);
			return 0;
		case OPT_LOG:
			if ((log_level = fedrpc_log_level_parse(optarg)) < 0) {
				fprintf(stderr,
				    "federator: unknown log level '%s' (debug, "
				    "info, warn, error, off)\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_PID:
			pid_file = optarg;
			break;
		case OPT_GRACE:
			errno = 0;
			grace = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || grace > 600000) {
				fprintf(stderr,
				    "federator: --shutdown-grace takes "
				    "milliseconds, 0..600000\n");
				return 2;
			}
			break;
		case OPT_FG:
			break;
		case OPT_VERSION:
			fedrpc_version_print(stdout, "federator");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (check != NULL && optind == argc)
		return check_config(check, check_db);
	if (config == NULL || check_db || optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Before any thread exists, so that every thread inherits the mask
	 * and the signals reach only sigwaitinfo() below. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (fedrpc_config_load_file(config, &cfg, &st) != FEDRPC_OK) {
		fprintf(stderr, "federator: %s\n", st.message);
		return 1;
	}
	fedrpc_log_set_level(FEDRPC_LOG_INFO);
	if (federator_open(&f, config, cfg, log_level, &st) != FEDRPC_OK) {
		fprintf(stderr, "federator: cannot start: %s\n", st.message);
		return 1;
	}
	if (pid_file != NULL && write_pid_file(pid_file) != 0) {
		fprintf(stderr, "federator: cannot write pid file %s: %s\n",
		    pid_file, strerror(errno));
		federator_close(f);
		return 1;
	}
	FEDRPC_LOG_INFO("serving (pid %ld)", (long) getpid());

	serve(f);
	{
		stop_guard         g = {.limit_ms = (uint32_t) grace +
		             STOP_EXTRA_MS};
		pthread_condattr_t ca;
		pthread_t          t;
		bool               guarded;

		pthread_mutex_init(&g.mtx, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&g.cv, &ca);
		pthread_condattr_destroy(&ca);
		guarded = pthread_create(&t, NULL, stop_guard_main, &g) == 0;
		federator_stop(f, (uint32_t) grace);
		federator_close(f);
		pthread_mutex_lock(&g.mtx);
		g.done = true;
		pthread_cond_signal(&g.cv);
		pthread_mutex_unlock(&g.mtx);
		if (guarded)
			pthread_join(t, NULL);
		pthread_mutex_destroy(&g.mtx);
		pthread_cond_destroy(&g.cv);
	}
	if (pid_file != NULL)
		unlink(pid_file);
	nng_fini();
	fedrpc_tls_engine_fini();
	/* Said whatever the level, in the log's own format (JSON too). */
	fedrpc_log_set_level(FEDRPC_LOG_INFO);
	FEDRPC_LOG_INFO("%s: stopped", FEDERATOR_NAME);
	return 0;
}
