/* The control protocol: the command table, request parsing and building, replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/ctl-protocol.h"

/* Parses a C string; returns the error string or NULL on success. */
static const char *
parse(const char *line, struct ctl_request *req)
{
	const char *error = NULL;
	int rc;

	rc = ctlproto_parse(line, strlen(line), req, &error);
	if (rc == 0) {
		assert_null(error);
		return NULL;
	}
	assert_int_equal(rc, -EINVAL);
	assert_non_null(error);
	return error;
}

static void
assert_parses(const char *line, enum ctl_cmd cmd)
{
	struct ctl_request req;

	assert_null(parse(line, &req));
	assert_int_equal(req.cmd, cmd);
}

static void
assert_rejected(const char *line, const char *expected)
{
	struct ctl_request req;
	const char *error = parse(line, &req);

	assert_non_null(error);
	assert_string_equal(error, expected);
}

/* A JSON request padded with spaces inside the object to exactly len bytes. */
static char *
padded_request(size_t len)
{
	const char *head = "{\"cmd\":\"status\"";
	char *buf = malloc(len + 1);

	assert_non_null(buf);
	assert_true(len > strlen(head) + 1);
	memcpy(buf, head, strlen(head));
	memset(buf + strlen(head), ' ', len - strlen(head) - 1);
	buf[len - 1] = '}';
	buf[len] = '\0';
	return buf;
}

static void
test_every_command_parses_by_name(void **state)
{
	char line[128];
	int i;

	for (i = 0; i < CTL_CMD_COUNT; i++) {
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", ctl_commands[i].name);
		assert_parses(line, (enum ctl_cmd)i);
	}
}

static void
test_table_is_indexed_by_command(void **state)
{
	int i;

	for (i = 0; i < CTL_CMD_COUNT; i++) {
		assert_int_equal(ctl_commands[i].cmd, i);
		assert_ptr_equal(ctlproto_find(ctl_commands[i].name), &ctl_commands[i]);
	}
}

static void
test_read_commands_are_not_write(void **state)
{
	assert_int_equal(ctlproto_find("status")->flags & CTL_F_WRITE, 0);
	assert_int_equal(ctlproto_find("events")->flags & CTL_F_WRITE, 0);
	assert_int_equal(ctlproto_find("metrics")->flags & CTL_F_WRITE, 0);
	assert_int_equal(ctlproto_find("wait")->flags & CTL_F_WRITE, 0);
}

static void
test_changing_commands_are_write(void **state)
{
	assert_true(ctlproto_find("check")->flags & CTL_F_WRITE);
	assert_true(ctlproto_find("pause")->flags & CTL_F_WRITE);
	assert_true(ctlproto_find("resume")->flags & CTL_F_WRITE);
	assert_true(ctlproto_find("reload")->flags & CTL_F_WRITE);
}

static void
test_parsed_request_carries_the_table_flags(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"reload\"}", &req));
	assert_true(req.flags & CTL_F_WRITE);
	assert_null(parse("{\"cmd\":\"status\"}", &req));
	assert_false(req.flags & CTL_F_WRITE);
}

static void
test_find_unknown_name_is_null(void **state)
{
	assert_null(ctlproto_find("stop"));
	assert_null(ctlproto_find(""));
	assert_null(ctlproto_find("STATUS"));
	assert_null(ctlproto_find(NULL));
}

static void
test_every_command_has_a_usage_a_summary_and_help(void **state)
{
	struct ctl_usage_item item;
	const char *pos;
	int i, j, r;

	for (i = 0; i < CTL_CMD_COUNT; i++) {
		assert_non_null(ctl_commands[i].usage);
		assert_non_null(ctl_commands[i].summary);
		assert_true(strlen(ctl_commands[i].summary) > 0);
		/* Printed as it is under the usage: whole lines. */
		assert_non_null(ctl_commands[i].help);
		assert_true(strlen(ctl_commands[i].help) > 1);
		assert_int_equal(ctl_commands[i].help[strlen(ctl_commands[i].help) - 1], '\n');
		assert_true(strlen(ctl_commands[i].name) < CTL_CMD_MAX);
		/* Read to the end: a usage smsguardctl cannot read would hide options. */
		pos = ctl_commands[i].usage;
		while ((r = ctlproto_usage_next(&pos, &item)) > 0)
			;
		assert_int_equal(r, 0);
		assert_string_equal(pos, "");
		for (j = 0; j < i; j++)
			assert_string_not_equal(ctl_commands[i].name, ctl_commands[j].name);
	}
}

/* The next item of *pos, which must be one. */
static struct ctl_usage_item
usage_item(const char **pos)
{
	struct ctl_usage_item item;

	assert_int_equal(ctlproto_usage_next(pos, &item), 1);
	return item;
}

static void
test_usage_reads_options_and_their_values(void **state)
{
	const char *pos = ctlproto_find("wait")->usage;
	struct ctl_usage_item item;

	item = usage_item(&pos);
	assert_string_equal(item.name, "--until");
	assert_string_equal(item.value, "finished|running|failed");
	assert_true(item.option && item.optional);
	item = usage_item(&pos);
	assert_string_equal(item.name, "--timeout");
	assert_string_equal(item.value, "D");
	assert_int_equal(ctlproto_usage_next(&pos, &item), 0);

	pos = ctlproto_find("events")->usage;
	item = usage_item(&pos);
	assert_string_equal(item.name, "-n");
	assert_string_equal(item.value, "N");
	item = usage_item(&pos);
	assert_string_equal(item.name, "--json");
	assert_string_equal(item.value, "");
	assert_true(item.option);
}

static void
test_usage_reads_arguments(void **state)
{
	const char *pos = "ID [--json] [DURATION]";
	struct ctl_usage_item item;

	item = usage_item(&pos);
	assert_string_equal(item.name, "ID");
	assert_false(item.option || item.optional);
	item = usage_item(&pos);
	assert_true(item.option);
	item = usage_item(&pos);
	assert_string_equal(item.name, "DURATION");
	assert_string_equal(item.value, "");
	assert_false(item.option);
	assert_true(item.optional);
	assert_int_equal(ctlproto_usage_next(&pos, &item), 0);
}

static void
test_empty_usage_has_no_items(void **state)
{
	const char *pos = "";
	struct ctl_usage_item item;

	assert_int_equal(ctlproto_usage_next(&pos, &item), 0);
	pos = "  ";
	assert_int_equal(ctlproto_usage_next(&pos, &item), 0);
}

static void
test_malformed_usage_is_rejected(void **state)
{
	static const char *const bad[] = {"[--json", "[]", "[-n N X]", "-n", "[-n N] --json", "[-]",
	    "[--]", "[-nx]", "[-n -x]", "[N V]", "ID]", "[a]b",
	    "[-n THIS_VALUE_NAME_IS_FAR_TOO_LONG_TO_KEEP]"};
	struct ctl_usage_item item;
	const char *pos;
	size_t i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pos = bad[i];
		while ((r = ctlproto_usage_next(&pos, &item)) > 0)
			;
		if (r != -EINVAL)
			fail_msg("usage \"%s\" was read", bad[i]);
	}
}

static void
test_usage_has_only_the_options_it_lists(void **state)
{
	assert_true(ctlproto_usage_has(ctlproto_find("status")->usage, "--json"));
	assert_true(ctlproto_usage_has(ctlproto_find("events")->usage, "-n"));
	assert_true(ctlproto_usage_has(ctlproto_find("events")->usage, "--json"));
	assert_true(ctlproto_usage_has(ctlproto_find("wait")->usage, "--until"));
	assert_true(ctlproto_usage_has(ctlproto_find("wait")->usage, "--timeout"));
	assert_false(ctlproto_usage_has(ctlproto_find("wait")->usage, "--json"));
	assert_false(ctlproto_usage_has(ctlproto_find("status")->usage, "-n"));
	assert_false(ctlproto_usage_has(ctlproto_find("metrics")->usage, "--json"));
	/* Names, not values or arguments. */
	assert_false(ctlproto_usage_has(ctlproto_find("events")->usage, "N"));
	assert_false(ctlproto_usage_has(ctlproto_find("pause")->usage, "DURATION"));
	assert_false(ctlproto_usage_has("[-n N", "-n"));
}

static void
test_usage_args_counts_arguments_not_options(void **state)
{
	int min, max;

	ctlproto_usage_args(ctlproto_find("pause")->usage, &min, &max);
	assert_int_equal(min, 0);
	assert_int_equal(max, 1);
	ctlproto_usage_args(ctlproto_find("wait")->usage, &min, &max);
	assert_int_equal(min, 0);
	assert_int_equal(max, 0);
	ctlproto_usage_args("ID [--json] [DURATION]", &min, &max);
	assert_int_equal(min, 1);
	assert_int_equal(max, 2);
}

static void
test_version_one_is_accepted(void **state)
{
	assert_parses("{\"v\":1,\"cmd\":\"status\"}", CTL_CMD_STATUS);
}

static void
test_version_is_optional(void **state)
{
	assert_parses("{\"cmd\":\"metrics\"}", CTL_CMD_METRICS);
}

static void
test_other_version_is_rejected(void **state)
{
	assert_rejected("{\"v\":2,\"cmd\":\"status\"}", "unsupported protocol version");
	assert_rejected("{\"v\":0,\"cmd\":\"status\"}", "unsupported protocol version");
	assert_rejected("{\"v\":1.5,\"cmd\":\"status\"}", "unsupported protocol version");
}

static void
test_version_as_string_is_rejected(void **state)
{
	assert_rejected("{\"v\":\"1\",\"cmd\":\"status\"}", "unsupported protocol version");
}

static void
test_missing_cmd_is_rejected(void **state)
{
	assert_rejected("{}", "missing cmd");
	assert_rejected("{\"v\":1}", "missing cmd");
}

static void
test_cmd_not_a_string_is_rejected(void **state)
{
	assert_rejected("{\"cmd\":1}", "cmd is not a string");
	assert_rejected("{\"cmd\":null}", "cmd is not a string");
	assert_rejected("{\"cmd\":[\"status\"]}", "cmd is not a string");
}

static void
test_unknown_command_is_rejected(void **state)
{
	assert_rejected("{\"cmd\":\"shutdown\"}", "unknown command");
	assert_rejected("{\"cmd\":\"\"}", "unknown command");
	assert_rejected("{\"cmd\":\"Status\"}", "unknown command");
}

static void
test_escaped_nul_is_malformed(void **state)
{
	/* Else it would read as "status", the rest of the string dropped. */
	assert_rejected("{\"cmd\":\"status\\u0000x\"}", "malformed JSON");
}

static void
test_escaped_backslash_before_u0000_is_text(void **state)
{
	/* In JSON, \\u0000 is an escaped backslash and the text u0000, not a NUL. */
	assert_rejected("{\"cmd\":\"status\\\\u0000\"}", "unknown command");
}

static void
test_malformed_json_is_rejected(void **state)
{
	assert_rejected("{\"cmd\":\"status\"", "malformed JSON");
	assert_rejected("{cmd:status}", "malformed JSON");
	assert_rejected("", "malformed JSON");
	assert_rejected("   ", "malformed JSON");
}

static void
test_trailing_garbage_is_malformed(void **state)
{
	assert_rejected("{\"cmd\":\"status\"}x", "malformed JSON");
	assert_rejected("{\"cmd\":\"status\"}{\"cmd\":\"reload\"}", "malformed JSON");
}

static void
test_trailing_white_space_is_accepted(void **state)
{
	assert_parses("{\"cmd\":\"status\"} \r", CTL_CMD_STATUS);
}

static void
test_raw_nul_byte_in_line_is_malformed(void **state)
{
	static const char line[] = "{\"cmd\":\"status\"}\0junk";
	struct ctl_request req;
	const char *error = NULL;

	assert_int_equal(ctlproto_parse(line, sizeof(line) - 1, &req, &error), -EINVAL);
	assert_string_equal(error, "malformed JSON");
}

static void
test_line_is_read_only_up_to_len(void **state)
{
	static const char line[] = "{\"cmd\":\"status\"}GARBAGE";
	struct ctl_request req;
	const char *error = NULL;

	assert_int_equal(ctlproto_parse(line, strlen("{\"cmd\":\"status\"}"), &req, &error), 0);
	assert_int_equal(req.cmd, CTL_CMD_STATUS);
}

static void
test_not_an_object_is_rejected(void **state)
{
	assert_rejected("[\"status\"]", "request is not a JSON object");
	assert_rejected("\"status\"", "request is not a JSON object");
	assert_rejected("1", "request is not a JSON object");
	assert_rejected("null", "request is not a JSON object");
}

static void
test_unknown_top_level_key_is_rejected(void **state)
{
	assert_rejected("{\"cmd\":\"status\",\"verbose\":true}", "unknown key in request");
}

static void
test_duplicate_cmd_is_rejected(void **state)
{
	assert_rejected("{\"cmd\":\"status\",\"cmd\":\"reload\"}", "duplicate key in request");
}

static void
test_request_at_the_limit_is_accepted(void **state)
{
	/* The limit counts the newline: CTL_MAX_REQUEST - 1 bytes of JSON fit. */
	char *line = padded_request(CTL_MAX_REQUEST - 1);

	assert_parses(line, CTL_CMD_STATUS);
	free(line);
}

static void
test_request_over_64k_is_rejected(void **state)
{
	char *line = padded_request(CTL_MAX_REQUEST);

	assert_rejected(line, "request too large");
	free(line);
}

static void
test_huge_length_is_rejected_without_reading(void **state)
{
	struct ctl_request req;
	const char *error = NULL;

	/* A wrong length far past the buffer: rejected before a byte is read. */
	assert_int_equal(ctlproto_parse("{}", (size_t)1 << 40, &req, &error), -EINVAL);
	assert_string_equal(error, "request too large");
}

static void
test_args_must_be_an_object(void **state)
{
	assert_rejected("{\"cmd\":\"events\",\"args\":[10]}", "args is not an object");
	assert_rejected("{\"cmd\":\"status\",\"args\":\"x\"}", "args is not an object");
}

static void
test_empty_args_are_accepted(void **state)
{
	assert_parses("{\"cmd\":\"status\",\"args\":{}}", CTL_CMD_STATUS);
}

static void
test_unknown_argument_is_rejected(void **state)
{
	assert_rejected(
	    "{\"cmd\":\"events\",\"args\":{\"count\":5}}", "bad argument: unknown argument");
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"n\":5}}", "bad argument: unknown argument");
}

static void
test_commands_without_arguments_reject_any(void **state)
{
	static const char *const names[] = {"status", "metrics", "check", "resume", "reload"};
	char line[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "{\"cmd\":\"%s\",\"args\":{\"json\":true}}", names[i]);
		assert_rejected(line, "bad argument: unknown argument");
	}
}

static void
test_duplicate_argument_is_rejected(void **state)
{
	assert_rejected(
	    "{\"cmd\":\"events\",\"args\":{\"n\":1,\"n\":2}}", "bad argument: duplicate argument");
}

static void
test_events_n_defaults_to_zero(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"events\"}", &req));
	assert_int_equal(req.events_n, 0);
}

static void
test_events_n_accepts_1_to_200(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"events\",\"args\":{\"n\":1}}", &req));
	assert_int_equal(req.events_n, 1);
	assert_null(parse("{\"cmd\":\"events\",\"args\":{\"n\":200}}", &req));
	assert_int_equal(req.events_n, 200);
}

static void
test_events_n_out_of_range_is_rejected(void **state)
{
	const char *error = "bad argument: n must be an integer from 1 to 200";

	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":0}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":201}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":-1}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":1e300}}", error);
}

static void
test_events_n_must_be_a_whole_number(void **state)
{
	const char *error = "bad argument: n must be an integer from 1 to 200";

	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":2.5}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":\"5\"}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"n\":null}}", error);
}

static void
test_events_since_takes_an_event_seq(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"events\"}", &req));
	assert_int_equal(req.events_since, 0);
	assert_null(parse("{\"cmd\":\"events\",\"args\":{\"since\":0}}", &req));
	assert_int_equal(req.events_since, 0);
	assert_null(parse("{\"cmd\":\"events\",\"args\":{\"since\":41,\"n\":5}}", &req));
	assert_int_equal(req.events_since, 41);
	assert_int_equal(req.events_n, 5);
	assert_null(parse("{\"cmd\":\"events\",\"args\":{\"since\":999999999999999}}", &req));
	assert_true(req.events_since == CTL_SEQ_MAX);
}

static void
test_events_since_must_be_a_whole_number_in_range(void **state)
{
	const char *error = "bad argument: since must be an event's seq (a whole number >= 0)";

	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":-1}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":1.5}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":\"3\"}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":1e300}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":1000000000000000}}", error);
	assert_rejected("{\"cmd\":\"events\",\"args\":{\"since\":1,\"since\":2}}",
	    "bad argument: duplicate argument");
	assert_rejected(
	    "{\"cmd\":\"status\",\"args\":{\"since\":1}}", "bad argument: unknown argument");
}

static void
test_wait_defaults_to_finished_without_timeout(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\"}", &req));
	assert_int_equal(req.wait_until, CTL_WAIT_FINISHED);
	assert_int_equal(req.timeout_ms, 0);
}

static void
test_wait_until_accepts_each_state(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"until\":\"finished\"}}", &req));
	assert_int_equal(req.wait_until, CTL_WAIT_FINISHED);
	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"until\":\"running\"}}", &req));
	assert_int_equal(req.wait_until, CTL_WAIT_RUNNING);
	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"until\":\"failed\"}}", &req));
	assert_int_equal(req.wait_until, CTL_WAIT_FAILED);
}

static void
test_wait_until_other_value_is_rejected(void **state)
{
	const char *error = "bad argument: until must be finished, running or failed";

	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"until\":\"RUNNING\"}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"until\":\"done\"}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"until\":1}}", error);
}

static void
test_wait_timeout_as_duration_string(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"timeout\":\"1m30s\"}}", &req));
	assert_int_equal(req.timeout_ms, 90000);
}

static void
test_wait_timeout_as_milliseconds(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"timeout\":2500}}", &req));
	assert_int_equal(req.timeout_ms, 2500);
}

static void
test_wait_timeout_zero_means_none(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"timeout\":0}}", &req));
	assert_int_equal(req.timeout_ms, 0);
}

static void
test_wait_timeout_up_to_31_days(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"timeout\":\"31d\"}}", &req));
	assert_int_equal(req.timeout_ms, CTL_DURATION_MAX_MS);
	assert_null(parse("{\"cmd\":\"wait\",\"args\":{\"timeout\":2678400000}}", &req));
	assert_int_equal(req.timeout_ms, CTL_DURATION_MAX_MS);
}

static void
test_wait_timeout_bad_values_are_rejected(void **state)
{
	const char *error = "bad argument: timeout must be a duration up to 31d";

	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":\"32d\"}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":2678400001}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":-1}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":1.5}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":\"soon\"}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":\"\"}}", error);
	assert_rejected("{\"cmd\":\"wait\",\"args\":{\"timeout\":true}}", error);
}

static void
test_pause_without_duration_is_until_resume(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"pause\"}", &req));
	assert_int_equal(req.timeout_ms, 0);
}

static void
test_pause_duration_as_string_or_milliseconds(void **state)
{
	struct ctl_request req;

	assert_null(parse("{\"cmd\":\"pause\",\"args\":{\"duration\":\"30m\"}}", &req));
	assert_int_equal(req.timeout_ms, 30 * 60 * 1000);
	assert_null(parse("{\"cmd\":\"pause\",\"args\":{\"duration\":1}}", &req));
	assert_int_equal(req.timeout_ms, 1);
}

static void
test_pause_duration_out_of_range_is_rejected(void **state)
{
	const char *error = "bad argument: duration must be a duration from 1ms to 31d";

	assert_rejected("{\"cmd\":\"pause\",\"args\":{\"duration\":\"0s\"}}", error);
	assert_rejected("{\"cmd\":\"pause\",\"args\":{\"duration\":0}}", error);
	assert_rejected("{\"cmd\":\"pause\",\"args\":{\"duration\":\"32d\"}}", error);
	assert_rejected("{\"cmd\":\"pause\",\"args\":{\"duration\":\"1x\"}}", error);
	assert_rejected("{\"cmd\":\"pause\",\"args\":{\"duration\":null}}", error);
}

static void
test_failed_parse_leaves_a_zeroed_request(void **state)
{
	struct ctl_request req;

	assert_non_null(parse("{\"cmd\":\"pause\",\"args\":{\"duration\":\"1h\",\"x\":1}}", &req));
	assert_int_equal(req.cmd, 0);
	assert_int_equal(req.flags, 0);
	assert_int_equal(req.timeout_ms, 0);
}

/* build -> parse gives back the same request. */
static void
assert_round_trip(const struct ctl_request *in)
{
	struct ctl_request out;
	char *line = ctlproto_build(in);

	assert_non_null(line);
	assert_null(parse(line, &out));
	assert_int_equal(out.cmd, in->cmd);
	assert_int_equal(out.flags, ctl_commands[in->cmd].flags);
	assert_int_equal(out.events_n, in->events_n);
	assert_true(out.events_since == in->events_since);
	assert_int_equal(out.wait_until, in->wait_until);
	assert_int_equal(out.timeout_ms, in->timeout_ms);
	free(line);
}

static void
test_build_parse_round_trip_of_every_plain_command(void **state)
{
	struct ctl_request req;
	int i;

	for (i = 0; i < CTL_CMD_COUNT; i++) {
		memset(&req, 0, sizeof(req));
		req.cmd = (enum ctl_cmd)i;
		assert_round_trip(&req);
	}
}

static void
test_build_parse_round_trip_with_arguments(void **state)
{
	struct ctl_request req;

	memset(&req, 0, sizeof(req));
	req.cmd = CTL_CMD_EVENTS;
	req.events_n = 200;
	assert_round_trip(&req);
	req.events_since = CTL_SEQ_MAX;
	assert_round_trip(&req);

	memset(&req, 0, sizeof(req));
	req.cmd = CTL_CMD_WAIT;
	req.wait_until = CTL_WAIT_FAILED;
	req.timeout_ms = CTL_DURATION_MAX_MS;
	assert_round_trip(&req);

	memset(&req, 0, sizeof(req));
	req.cmd = CTL_CMD_PAUSE;
	req.timeout_ms = 90061001; /* 1d1h1m1s1ms */
	assert_round_trip(&req);
}

static void
test_build_writes_version_and_command(void **state)
{
	struct ctl_request req;
	char *line;

	memset(&req, 0, sizeof(req));
	req.cmd = CTL_CMD_STATUS;
	line = ctlproto_build(&req);
	assert_non_null(line);
	assert_string_equal(line, "{\"v\":1,\"cmd\":\"status\"}");
	free(line);
}

static void
test_build_rejects_unknown_command(void **state)
{
	struct ctl_request req;

	memset(&req, 0, sizeof(req));
	req.cmd = CTL_CMD_COUNT;
	assert_null(ctlproto_build(&req));
}

static void
test_wait_until_names_round_trip(void **state)
{
	int i;

	for (i = 0; i < CTL_WAIT_COUNT; i++)
		assert_int_equal(ctlproto_wait_until_from_name(ctlproto_wait_until_name(i)), i);
	assert_null(ctlproto_wait_until_name(CTL_WAIT_COUNT));
	assert_null(ctlproto_wait_until_name(-1));
	assert_int_equal(ctlproto_wait_until_from_name("done"), -1);
	assert_int_equal(ctlproto_wait_until_from_name(NULL), -1);
}

static void
test_error_reply_is_escaped_json(void **state)
{
	char *line = ctlproto_error_reply("bad \"thing\"\n");

	assert_non_null(line);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"bad \\\"thing\\\"\\n\"}");
	free(line);
}

static void
test_reply_ok_true_parses(void **state)
{
	const char *line = "{\"ok\":true,\"health\":\"ok\"}";
	const char *error = NULL;
	cJSON *reply = NULL;
	bool ok = false;

	assert_int_equal(ctlproto_parse_reply(line, strlen(line), &reply, &ok, &error), 0);
	assert_true(ok);
	assert_string_equal(cJSON_GetObjectItem(reply, "health")->valuestring, "ok");
	cJSON_Delete(reply);
}

static void
test_reply_ok_false_parses(void **state)
{
	char *line = ctlproto_error_reply("unknown command");
	const char *error = NULL;
	cJSON *reply = NULL;
	bool ok = true;

	assert_int_equal(ctlproto_parse_reply(line, strlen(line), &reply, &ok, &error), 0);
	assert_false(ok);
	assert_string_equal(cJSON_GetObjectItem(reply, "error")->valuestring, "unknown command");
	cJSON_Delete(reply);
	free(line);
}

static void
test_reply_without_ok_is_malformed(void **state)
{
	static const char *const lines[] = {"{\"health\":\"ok\"}", "{\"ok\":1}", "[true]", "{", ""};
	const char *error = NULL;
	cJSON *reply = NULL;
	bool ok;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(
		    ctlproto_parse_reply(lines[i], strlen(lines[i]), &reply, &ok, &error), -EINVAL);
		assert_null(reply);
		assert_string_equal(error, "malformed reply");
	}
}

static void
test_reply_over_4m_is_rejected(void **state)
{
	const char *error = NULL;
	cJSON *reply = NULL;
	bool ok;

	assert_int_equal(
	    ctlproto_parse_reply("{}", CTL_MAX_REPLY + 1, &reply, &ok, &error), -EINVAL);
	assert_string_equal(error, "reply too large");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_command_parses_by_name),
	    cmocka_unit_test(test_table_is_indexed_by_command),
	    cmocka_unit_test(test_read_commands_are_not_write),
	    cmocka_unit_test(test_changing_commands_are_write),
	    cmocka_unit_test(test_parsed_request_carries_the_table_flags),
	    cmocka_unit_test(test_find_unknown_name_is_null),
	    cmocka_unit_test(test_every_command_has_a_usage_a_summary_and_help),
	    cmocka_unit_test(test_usage_reads_options_and_their_values),
	    cmocka_unit_test(test_usage_reads_arguments),
	    cmocka_unit_test(test_empty_usage_has_no_items),
	    cmocka_unit_test(test_malformed_usage_is_rejected),
	    cmocka_unit_test(test_usage_has_only_the_options_it_lists),
	    cmocka_unit_test(test_usage_args_counts_arguments_not_options),
	    cmocka_unit_test(test_version_one_is_accepted),
	    cmocka_unit_test(test_version_is_optional),
	    cmocka_unit_test(test_other_version_is_rejected),
	    cmocka_unit_test(test_version_as_string_is_rejected),
	    cmocka_unit_test(test_missing_cmd_is_rejected),
	    cmocka_unit_test(test_cmd_not_a_string_is_rejected),
	    cmocka_unit_test(test_unknown_command_is_rejected),
	    cmocka_unit_test(test_escaped_nul_is_malformed),
	    cmocka_unit_test(test_escaped_backslash_before_u0000_is_text),
	    cmocka_unit_test(test_malformed_json_is_rejected),
	    cmocka_unit_test(test_trailing_garbage_is_malformed),
	    cmocka_unit_test(test_trailing_white_space_is_accepted),
	    cmocka_unit_test(test_raw_nul_byte_in_line_is_malformed),
	    cmocka_unit_test(test_line_is_read_only_up_to_len),
	    cmocka_unit_test(test_not_an_object_is_rejected),
	    cmocka_unit_test(test_unknown_top_level_key_is_rejected),
	    cmocka_unit_test(test_duplicate_cmd_is_rejected),
	    cmocka_unit_test(test_request_at_the_limit_is_accepted),
	    cmocka_unit_test(test_request_over_64k_is_rejected),
	    cmocka_unit_test(test_huge_length_is_rejected_without_reading),
	    cmocka_unit_test(test_args_must_be_an_object),
	    cmocka_unit_test(test_empty_args_are_accepted),
	    cmocka_unit_test(test_unknown_argument_is_rejected),
	    cmocka_unit_test(test_commands_without_arguments_reject_any),
	    cmocka_unit_test(test_duplicate_argument_is_rejected),
	    cmocka_unit_test(test_events_n_defaults_to_zero),
	    cmocka_unit_test(test_events_n_accepts_1_to_200),
	    cmocka_unit_test(test_events_n_out_of_range_is_rejected),
	    cmocka_unit_test(test_events_n_must_be_a_whole_number),
	    cmocka_unit_test(test_events_since_takes_an_event_seq),
	    cmocka_unit_test(test_events_since_must_be_a_whole_number_in_range),
	    cmocka_unit_test(test_wait_defaults_to_finished_without_timeout),
	    cmocka_unit_test(test_wait_until_accepts_each_state),
	    cmocka_unit_test(test_wait_until_other_value_is_rejected),
	    cmocka_unit_test(test_wait_timeout_as_duration_string),
	    cmocka_unit_test(test_wait_timeout_as_milliseconds),
	    cmocka_unit_test(test_wait_timeout_zero_means_none),
	    cmocka_unit_test(test_wait_timeout_up_to_31_days),
	    cmocka_unit_test(test_wait_timeout_bad_values_are_rejected),
	    cmocka_unit_test(test_pause_without_duration_is_until_resume),
	    cmocka_unit_test(test_pause_duration_as_string_or_milliseconds),
	    cmocka_unit_test(test_pause_duration_out_of_range_is_rejected),
	    cmocka_unit_test(test_failed_parse_leaves_a_zeroed_request),
	    cmocka_unit_test(test_build_parse_round_trip_of_every_plain_command),
	    cmocka_unit_test(test_build_parse_round_trip_with_arguments),
	    cmocka_unit_test(test_build_writes_version_and_command),
	    cmocka_unit_test(test_build_rejects_unknown_command),
	    cmocka_unit_test(test_wait_until_names_round_trip),
	    cmocka_unit_test(test_error_reply_is_escaped_json),
	    cmocka_unit_test(test_reply_ok_true_parses),
	    cmocka_unit_test(test_reply_ok_false_parses),
	    cmocka_unit_test(test_reply_without_ok_is_malformed),
	    cmocka_unit_test(test_reply_over_4m_is_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
