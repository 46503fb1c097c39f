/*
 * Log lines (core/base/log.c) as JSON and as text: every line one object a
 * JSON parser reads back with the same message and fields, whatever bytes
 * the message holds; the text form carries the same fields as key=value.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fedrpc/log.h>

/* Logs through fn into a scratch stream; returns what was written. */
static char *
capture(bool json, void (*fn)(void))
{
	char  *buf = NULL;
	size_t len = 0;
	FILE  *fp  = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	fedrpc_log_set_level(FEDRPC_LOG_DEBUG);
	fedrpc_log_set_json(json);
	fedrpc_log_set_stream(fp);
	fn();
	fedrpc_log_set_stream(NULL);
	fedrpc_log_set_json(false);
	fclose(fp);
	return buf;
}

static const char awkward[] = "quote \" backslash \\ newline \n tab \t bell \a "
			      "utf-8 \xc3\xa9";

static void
lines(void)
{
	const fedrpc_log_field f[] = {
		{.key = "origin", .str = "b.example"},
		{.key = "error", .str = awkward},
		{.key = "duration_ms", .num = 12},
		{.key = "empty", .str = ""},
	};

	FEDRPC_LOG_INFO("plain %d", 1);
	FEDRPC_LOG_WARN("%s", awkward);
	fedrpc_log_fields(FEDRPC_LOG_INFO, f, 4, "call received");
	FEDRPC_LOG_DEBUG("%s", "a long one: "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
}

Test(log_json, every_line_parses_back)
{
	char   *out = capture(true, lines), *line, *save = NULL;
	json_t *j[8];
	int     n = 0;

	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;

		cr_assert_lt(n, 8);
		j[n] = json_loads(line, 0, &err);
		cr_assert_not_null(j[n], "not JSON (%s): %s", err.text, line);
		cr_assert(json_is_string(json_object_get(j[n], "time")));
		n++;
	}
	cr_assert_eq(n, 4);
	cr_assert_str_eq(json_string_value(json_object_get(j[0], "msg")), "plain 1");
	cr_assert_str_eq(json_string_value(json_object_get(j[0], "level")), "info");
	cr_assert_str_eq(json_string_value(json_object_get(j[1], "msg")), awkward);
	cr_assert_str_eq(json_string_value(json_object_get(j[1], "level")), "warn");
	cr_assert_str_eq(json_string_value(json_object_get(j[2], "msg")),
	    "call received");
	cr_assert_str_eq(json_string_value(json_object_get(j[2], "origin")),
	    "b.example");
	cr_assert_str_eq(json_string_value(json_object_get(j[2], "error")), awkward);
	cr_assert_eq(json_integer_value(json_object_get(j[2], "duration_ms")), 12);
	cr_assert_str_eq(json_string_value(json_object_get(j[2], "empty")), "");
	cr_assert_str_eq(json_string_value(json_object_get(j[3], "level")), "debug");
	for (int i = 0; i < n; i++)
		json_decref(j[i]);
	free(out);
}

Test(log_json, text_lines_carry_the_same_fields)
{
	char *out = capture(false, lines);

	cr_assert_not_null(strstr(out, " INFO  plain 1\n"), "%s", out);
	cr_assert_not_null(strstr(out, " INFO  call received origin=b.example "
	                               "error=\"quote \\\" backslash \\\\ "
	                               "newline \\n tab \\t bell \\u0007 "),
	    "%s", out);
	cr_assert_not_null(strstr(out, " duration_ms=12 empty=\"\"\n"), "%s", out);
	free(out);
}
