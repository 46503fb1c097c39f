/*
 * The web gateway's JSON form of local API messages
 * (federator/web/web_json.c): a send request with every kind of field
 * (nested and repeated messages, a oneof, bytes, 64-bit ids beyond
 * JavaScript's 53 bits, enums by name) survives the round trip; bytes of
 * every length modulo 3 decode; what does not fit is refused naming the
 * field.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "federator/web/web.h"
#include "fedrpc/local/v1/conversations.pb-c.h"
#include "fedrpc/local/v1/users.pb-c.h"

static ProtobufCMessage *
from(const ProtobufCMessageDescriptor *d, const char *text, char *why)
{
	json_error_t e;
	json_t      *j = json_loads(text, 0, &e);
	ProtobufCMessage *m;

	cr_assert_not_null(j, "%s", e.text);
	m = web_json_to_pb(d, j, why, 256);
	json_decref(j);
	return m;
}

static char *
to_text(const ProtobufCMessage *m)
{
	json_t *j = web_json_from_pb(m);
	char   *s;

	cr_assert_not_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

Test(web_json, send_request_round_trip)
{
	const char *in =
	    "{\"sender_client\":\"18446744073709551615\","
	    "\"conversation\":{\"id\":\"c\",\"domain\":\"a.example\"},"
	    "\"recipients\":[{\"user\":{\"id\":\"u\",\"domain\":\"b.example\"},"
	    "\"clients\":[{\"client\":\"9007199254740993\",\"ciphertext\":"
	    "\"AgABAg==\"}]}],"
	    "\"strategy\":{\"ignore_only\":{\"users\":[{\"id\":\"x\","
	    "\"domain\":\"c.example\"}]}}}";
	char why[256] = "";
	Fedrpc__Local__V1__SendMessageRequest *r =
	    (void *) from(&fedrpc__local__v1__send_message_request__descriptor,
	        in, why);
	char *out;

	cr_assert_not_null(r, "%s", why);
	cr_assert_eq(r->sender_client, UINT64_MAX);
	cr_assert_eq(r->n_recipients, 1);
	cr_assert_eq(r->recipients[0]->clients[0]->client, 9007199254740993ull);
	cr_assert_eq(r->recipients[0]->clients[0]->ciphertext.len, 4);
	cr_assert_eq(r->recipients[0]->clients[0]->ciphertext.data[0], 2);
	cr_assert_eq(r->strategy->strategy_case,
	    FEDRPC__FEDERATION__V1__CLIENT_MISMATCH_STRATEGY__STRATEGY_IGNORE_ONLY);
	cr_assert_str_eq(r->strategy->ignore_only->users[0]->domain, "c.example");
	out = to_text(&r->base);
	/* The oneof's other members do not appear; unset fields do. */
	cr_assert_not_null(strstr(out, "\"sender_client\":\"18446744073709551615\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"ciphertext\":\"AgABAg==\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"ignore_only\":{\"users\":[{"), "%s", out);
	cr_assert_null(strstr(out, "report_all"), "%s", out);
	cr_assert_not_null(strstr(out, "\"message_id\":\"\""), "%s", out);
	free(out);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

Test(web_json, enums_by_name)
{
	char why[256] = "";
	Fedrpc__Local__V1__AddClientRequest *r = (void *) from(
	    &fedrpc__local__v1__add_client_request__descriptor,
	    "{\"client_class\":\"CLIENT_CLASS_DESKTOP\"}", why);
	char *out;

	cr_assert_not_null(r, "%s", why);
	cr_assert_eq(r->client_class,
	    FEDRPC__FEDERATION__V1__CLIENT_CLASS__CLIENT_CLASS_DESKTOP);
	out = to_text(&r->base);
	cr_assert_not_null(strstr(out, "\"client_class\":\"CLIENT_CLASS_DESKTOP\""));
	free(out);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	cr_assert_null(from(&fedrpc__local__v1__add_client_request__descriptor,
	    "{\"client_class\":\"CLIENT_CLASS_TOASTER\"}", why));
	cr_assert_str_eq(why, "field client_class: is not a known name");
}

Test(web_json, bytes_of_every_length)
{
	const char *b64[] = {"", "AA==", "AAE=", "AAEC", "AAECAw==", "AAECAwQ="};

	for (size_t n = 0; n < 6; n++) {
		char text[128], why[256] = "", *out;
		Fedrpc__Federation__V1__Prekey *p;

		snprintf(text, sizeof(text), "{\"id\":1,\"key\":\"%s\"}", b64[n]);
		p = (void *) from(&fedrpc__federation__v1__prekey__descriptor, text,
		    why);
		cr_assert_not_null(p, "%s: %s", b64[n], why);
		cr_assert_eq(p->key.len, n, "%s", b64[n]);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(p->key.data[i], i);
		out = to_text(&p->base);
		cr_assert_not_null(strstr(out, b64[n]), "%s", out);
		free(out);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
}

Test(web_json, misfits_name_the_field)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{"{\"key\":\"A\"}", "field key: must be base64"},
		{"{\"key\":\"AA=A\"}", "field key: must be base64"},
		{"{\"key\":\"!!!!\"}", "field key: must be base64"},
		{"{\"id\":-1}", "field id: must be an unsigned 32-bit integer"},
		{"{\"id\":\"1\"}", "field id: must be an unsigned 32-bit integer"},
		{"{\"idd\":1}", "fedrpc.federation.v1.Prekey has no field 'idd'"},
		{"[1]", "fedrpc.federation.v1.Prekey must be a JSON object"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[256] = "";

		cr_assert_null(from(&fedrpc__federation__v1__prekey__descriptor,
		                   bad[i].json, why),
		    "%s", bad[i].json);
		cr_assert_str_eq(why, bad[i].why, "%s", bad[i].json);
	}
	{
		char why[256] = "";

		cr_assert_null(from(&fedrpc__local__v1__send_message_request__descriptor,
		    "{\"sender_client\":\"-5\"}", why));
		cr_assert_str_eq(why, "field sender_client: must be an unsigned "
				      "integer in a decimal string");
		cr_assert_null(from(&fedrpc__local__v1__send_message_request__descriptor,
		    "{\"recipients\":{}}", why));
		cr_assert_str_eq(why, "field recipients: must be an array");
	}
}
