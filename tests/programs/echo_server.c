/*
 * fedrpc-echo-server: the test Echo server as a process of its own, so that
 * tests can stop and restart one server of a domain (SIGTERM: an orderly
 * stop; exit status 4 if that stop hangs past the grace period + 1 s).
 * Prints "listening <port>" once it serves.
 *
 *   fedrpc-echo-server --url tls+tcp://127.0.0.1:7443 --ca F --cert F
 *                      --key F [--name NAME] [--grace MS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "echo_server.h"

/* Exit status when the orderly stop did not finish in time. */
#define EXIT_STOP_HUNG 4

static void
stop_hung(int sig)
{
	static const char msg[] =
	    "fedrpc-echo-server: the server's stop did not finish in time\n";

	(void) sig;
	(void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(EXIT_STOP_HUNG);
}

int
main(int argc, char **argv)
{
	const char     *url = NULL, *name = "echo";
	fedrpc_tls_opts tls   = {0};
	unsigned        grace = 2000;
	sigset_t        sigs;
	echo_server    *s;
	int             sig;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
			return 2;
		}
		if (strcmp(argv[i], "--url") == 0)
			url = v;
		else if (strcmp(argv[i], "--ca") == 0)
			tls.ca_file = v;
		else if (strcmp(argv[i], "--cert") == 0)
			tls.cert_file = v;
		else if (strcmp(argv[i], "--key") == 0)
			tls.key_file = v;
		else if (strcmp(argv[i], "--name") == 0)
			name = v;
		else if (strcmp(argv[i], "--grace") == 0)
			grace = (unsigned) strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
			return 2;
		}
		i++;
	}
	if (url == NULL) {
		fprintf(stderr, "usage: %s --url URL [--ca F --cert F --key F] "
				"[--name NAME] [--grace MS]\n",
		    argv[0]);
		return 2;
	}
	/* Signals are taken by sigwait below, not by the server's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if ((s = echo_server_start(url, tls.ca_file ? &tls : NULL, name)) == NULL)
		return 1;
	printf("listening %d\n", echo_server_port(s));
	fflush(stdout);
	sigwait(&sigs, &sig);
	/* A stop that does not finish is reported and cut short, so that
	 * tests of the calling side see the connection go. */
	{
		unsigned         ms = grace + 1000;
		struct itimerval t  = {.it_value = {ms / 1000,
					   (long) (ms % 1000) * 1000}};

		signal(SIGALRM, stop_hung);
		setitimer(ITIMER_REAL, &t, NULL);
	}
	echo_server_stop(s, grace);
	/* Connections are torn down by nng's threads: wait for them. */
	nng_fini();
	return 0;
}
