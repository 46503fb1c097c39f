/*
 * Memory of idle peer connections: opens N channels to one Echo server
 * (each its own connection, one call each so that it is up and through
 * its handshake), then reports how much the client's RSS grew. The
 * channels speak the wire protocol (req0/rep0 with FEDRPC_WIRE=reqrep).
 * Run by bench/vs_grpc.sh next to the gRPC peer's "idle" mode, against a
 * fedrpc-echo-server whose own RSS the script reads.
 *
 *   idle_bench URL CA CERT KEY [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <fedrpc/channel.h>
#include <fedrpc/log.h>
#include <fedrpc/tls.h>

#include "fedrpc/testing/v1/echo.fedrpc.h"

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char  line[256];
	long  kb = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f != NULL)
		fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	fedrpc_tls_opts  tls = {0};
	fedrpc_status    st  = {0};
	fedrpc_channel **ch;
	struct rlimit    rl;
	long             before;
	int              n = argc > 5 ? atoi(argv[5]) : 1000;

	if (argc < 5) {
		fprintf(stderr, "usage: idle_bench URL CA CERT KEY [N]\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fedrpc_log_set_level(FEDRPC_LOG_ERROR);
	if (fedrpc_tls_engine_init(&st) != FEDRPC_OK) {
		fprintf(stderr, "idle_bench: %s\n", st.message);
		return 1;
	}
	tls.ca_file     = argv[2];
	tls.cert_file   = argv[3];
	tls.key_file    = argv[4];
	tls.server_name = "b.example";
	if ((ch = calloc((size_t) n, sizeof(*ch))) == NULL)
		return 1;
	before = rss_kb();
	for (int i = 0; i < n; i++) {
		Fedrpc__Testing__V1__EchoRequest   req = FEDRPC__TESTING__V1__ECHO_REQUEST__INIT;
		Fedrpc__Testing__V1__EchoResponse *resp = NULL;
		fedrpc_channel_opts o = {.url = argv[1], .tls = &tls,
		    .origin_domain = "a.example", .target_domain = "b.example",
		    .api_version = 1};

		if (fedrpc_channel_open(&ch[i], &o, &st) != FEDRPC_OK ||
		    fedrpc_testing_v1_echo_echo(ch[i], &req, &resp, NULL, &st) !=
		        FEDRPC_OK) {
			fprintf(stderr, "idle_bench: connection %d: %s\n", i, st.message);
			return 1;
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	printf("idle %d rss_kb %ld\n", n, rss_kb() - before);
	fflush(stdout);
	for (int i = 0; i < n; i++)
		fedrpc_channel_close(ch[i]);
	free(ch);
	return 0;
}
