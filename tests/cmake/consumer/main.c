/* Opens and closes a channel through the public header only. */
#include <stdio.h>

#include <fedrpc/channel.h>

int
main(void)
{
	fedrpc_channel_opts o  = {.url = "tcp://127.0.0.1:1"};
	fedrpc_channel     *ch = NULL;
	fedrpc_status       st = {0};

	if (fedrpc_channel_open(&ch, &o, &st) != FEDRPC_OK) {
		fprintf(stderr, "consumer: %s\n", st.message);
		return 1;
	}
	fedrpc_channel_close(ch);
	puts("consumer: ok");
	return 0;
}
