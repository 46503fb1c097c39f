/*
 * Delivery states in fedctl's words (delivery_view.h).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "delivery_view.h"

typedef Fedrpc__Local__V1__MessageDelivery md_t;

const char *
fedctl_delivery_state_name(int state)
{
	switch (state) {
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_DELIVERED:
		return "delivered";
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_QUEUED:
		return "queued";
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_MOVED_ASIDE:
		return "moved aside";
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_DROPPED:
		return "dropped";
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_QUEUED_AT_OWNER:
		return "queued at owner";
	default:
		return "unknown";
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A message id as text when it is printable, else in hex. */
void
fedctl_message_id_text(ProtobufCBinaryData id, char *out, size_t n)
{
	bool   text = id.len > 0;
	size_t k    = 0;

	for (size_t i = 0; i < id.len && text; i++)
		text = isprint(id.data[i]) && id.data[i] != ' ';
	out[0] = '\0';
	for (size_t i = 0; i < id.len && k + 3 < n; i++)
		k += (size_t) snprintf(out + k, n - k, text ? "%c" : "%02x",
		    id.data[i]);
}

void
fedctl_delivery_print(const md_t *d)
{
	printf("    %-28s %s", d->domain, fedctl_delivery_state_name(d->state));
	switch (d->state) {
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_QUEUED:
		if (d->failures > 0) {
			int64_t in = (d->next_attempt_unix_ms - now_ms()) / 1000;

			printf(" (%u failed attempt%s, next ", d->failures,
			    d->failures == 1 ? "" : "s");
			if (in > 0)
				printf("in %" PRId64 " s", in);
			else
				printf("now");
			printf("): %s", d->last_error);
		}
		break;
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_MOVED_ASIDE:
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_DROPPED:
		printf(": %s", d->reason);
		break;
	case FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_QUEUED_AT_OWNER:
		printf(" %s", d->via);
		break;
	default:
		break;
	}
	printf("\n");
}

json_t *
fedctl_delivery_json(const md_t *d)
{
	json_t *j = json_pack("{s:s, s:s}", "domain", d->domain, "state",
	    fedctl_delivery_state_name(d->state));

	if (d->state == FEDRPC__LOCAL__V1__DELIVERY_STATE__DELIVERY_STATE_QUEUED) {
		json_object_set_new(j, "failures", json_integer(d->failures));
		json_object_set_new(j, "next_attempt_unix_ms",
		    json_integer(d->next_attempt_unix_ms));
		json_object_set_new(j, "last_error", json_string(d->last_error));
	}
	if (d->reason != NULL && d->reason[0] != '\0') {
		json_object_set_new(j, "reason", json_string(d->reason));
		json_object_set_new(
		    j, "since_unix_ms", json_integer(d->since_unix_ms));
	}
	if (d->via != NULL && d->via[0] != '\0')
		json_object_set_new(j, "via", json_string(d->via));
	return j;
}
