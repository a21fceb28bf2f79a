/*
 * SMS/SMN bodies: every official example parses with nothing degraded, a
 * malformed field degrades that field only, and odd input hurts nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "smsguard/sms.h"

static char *
load_example(const char *name, size_t *len)
{
	const char *src = getenv("SMSGUARD_SRCDIR");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/examples/%s", src != NULL ? src : ".", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	/* Deliberately not NUL-terminated: parsers take a length. */
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* prefix + n copies of c + suffix, as a new string. */
static char *
padded(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s = malloc(pl + n + sl + 1);

	assert_non_null(s);
	memcpy(s, prefix, pl);
	memset(s + pl, c, n);
	memcpy(s + pl + n, suffix, sl + 1);
	return s;
}

static int
parse_task(const char *json, struct sms_task *t)
{
	char *cause = NULL;
	int rc = sms_task_parse(json, strlen(json), t, &cause);

	free(cause);
	return rc;
}

/* ---- GET /v3/tasks/{id} ---- */

static void
test_show_task_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-show-task.response.json", &len), *cause = NULL;
	struct sms_task t;

	assert_int_equal(sms_task_parse(body, len, &t, &cause), 0);
	assert_null(cause);
	assert_string_equal(t.id, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxx0001");
	assert_string_equal(t.name, "MigrationTask");
	assert_int_equal(t.state, TASK_RUNNING);
	assert_string_equal(t.state_raw, "RUNNING");
	assert_int_equal(t.type, TASK_TYPE_MIGRATE_BLOCK);
	assert_int_equal(t.os_type, TASK_OS_WINDOWS);
	assert_string_equal(t.error_code, "");
	assert_string_equal(t.migration_ip, "");
	assert_string_equal(t.source_id, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxx0001");
	assert_string_equal(t.source_ip, "192.168.0.154");
	assert_string_equal(t.source_name, "name-win16");
	assert_true(t.create_ms == 1598435778000LL);
	assert_true(t.start_ms == 1598435784000LL);
	assert_true(t.finish_ms == 0);
	assert_true(t.has_migrate_speed);
	assert_true(t.remain_seconds == -1);
	assert_int_equal(t.connected, SMS_ABSENT);
	assert_true(t.speed_limit == 0);
	assert_int_equal(t.bad, 0);
	assert_string_equal(t.error_message, "");
	free(body);
}

static void
test_show_task_example_current_subtask_is_first_without_end_date(void **state)
{
	size_t len;
	char *body = load_example("sms-show-task.response.json", &len);
	struct sms_task t;

	assert_int_equal(sms_task_parse(body, len, &t, NULL), 0);
	assert_string_equal(t.subtask, "CREATE_CLOUD_SERVER");
	assert_int_equal(t.progress, 0);
	free(body);
}

static void
test_subtask_is_the_running_one(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"sub_tasks\":["
	                            "{\"name\":\"A\",\"progress\":100,\"end_date\":1},"
	                            "{\"name\":\"B\",\"progress\":42,\"end_date\":null},"
	                            "{\"name\":\"C\",\"progress\":0}]}",
	                     &t),
	    0);
	assert_string_equal(t.subtask, "B");
	assert_int_equal(t.progress, 42);
}

static void
test_subtask_is_the_last_when_all_ended(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"sub_tasks\":["
	                            "{\"name\":\"A\",\"progress\":100,\"end_date\":1},"
	                            "{\"name\":\"B\",\"progress\":100,\"end_date\":2}]}",
	                     &t),
	    0);
	assert_string_equal(t.subtask, "B");
	assert_int_equal(t.progress, 100);
}

static void
test_no_subtasks_means_unknown_progress(void **state)
{
	struct sms_task t;

	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"sub_tasks\":[]}", &t), 0);
	assert_string_equal(t.subtask, "");
	assert_int_equal(t.progress, -1);
}

static void
test_error_json_string_inside_json_is_decoded(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"MIGRATE_FAIL\",\"error_json\":"
	                            "\"{\\\"error_param\\\":\\\"[\\\\\\\"192.168.0.1\\\\\\\"]\\\","
	                            "\\\"error_code\\\":\\\"SMS.2802\\\"}\"}",
	                     &t),
	    0);
	assert_int_equal(t.state, TASK_MIGRATE_FAIL);
	assert_string_equal(t.error_code, "SMS.2802");
	assert_int_equal(t.nerror_params, 1);
	assert_string_equal(t.error_params[0], "192.168.0.1");
}

static void
test_error_json_without_a_code_or_with_a_param_of_another_type(void **state)
{
	struct sms_task t;
	const char *no_code = "{\"error_param\":\"[\\\"10.0.0.9\\\"]\"}";
	const char *number = "{\"error_code\":\"SMS.0807\",\"error_param\":7}";

	assert_int_equal(sms_error_json_parse(no_code, strlen(no_code), &t), 0);
	assert_string_equal(t.error_code, "");
	assert_int_equal(t.nerror_params, 1);
	assert_int_equal(sms_error_json_parse(number, strlen(number), &t), -EBADMSG);
	assert_string_equal(t.error_code, "SMS.0807");
	assert_int_equal(t.nerror_params, 0);
}

static void
test_error_json_with_empty_param_array(void **state)
{
	struct sms_task t;
	const char *ej = "{\"error_code\":\"SMS.1114\",\"error_param\":\"[]\"}";

	assert_int_equal(sms_error_json_parse(ej, strlen(ej), &t), 0);
	assert_string_equal(t.error_code, "SMS.1114");
	assert_int_equal(t.nerror_params, 0);
}

static void
test_error_json_accepts_a_plain_array_param(void **state)
{
	struct sms_task t;
	const char *ej = "{\"error_code\":\"SMS.3805\",\"error_param\":[\"10.0.0.9\",22]}";

	assert_int_equal(sms_error_json_parse(ej, strlen(ej), &t), 0);
	assert_int_equal(t.nerror_params, 2);
	assert_string_equal(t.error_params[1], "22");
}

static void
test_error_json_empty_string_means_no_error(void **state)
{
	struct sms_task t;

	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"state\":\"READY\",\"error_json\":\"\"}", &t), 0);
	assert_string_equal(t.error_code, "");
	assert_string_equal(t.error_message, "");
	assert_int_equal(t.bad, 0);
}

static void
test_error_json_parse_refuses_malformed_text(void **state)
{
	struct sms_task t;

	assert_int_equal(sms_error_json_parse("{\"error_param\":\"[1,\"}", 20, &t), -EBADMSG);
	assert_int_equal(sms_error_json_parse("[]", 2, &t), -EBADMSG);
	assert_string_equal(t.error_code, "");
	assert_string_equal(t.error_message, "[]");
	assert_int_equal(sms_error_json_parse("{\"error_code\":5}", 16, &t), -EBADMSG);
	assert_string_equal(t.error_code, "");
}

static void
test_error_json_keeps_what_is_good(void **state)
{
	struct sms_task t;
	const char *bad_param = "{\"error_code\":\"SMS.3805\",\"error_param\":\"[1,\"}";
	const char *bad_code = "{\"error_code\":[\"SMS.3805\"],\"error_param\":[\"10.0.0.9\"]}";
	const char *bad_elem = "{\"error_code\":\"SMS.3805\",\"error_param\":[{},\"10.0.0.9\"]}";

	assert_int_equal(sms_error_json_parse(bad_param, strlen(bad_param), &t), -EBADMSG);
	assert_string_equal(t.error_code, "SMS.3805");
	assert_int_equal(t.nerror_params, 0);
	assert_string_equal(t.error_message, bad_param);
	/* The code is not a string, but it is plainly there. */
	assert_int_equal(sms_error_json_parse(bad_code, strlen(bad_code), &t), -EBADMSG);
	assert_string_equal(t.error_code, "SMS.3805");
	assert_int_equal(t.nerror_params, 1);
	assert_string_equal(t.error_params[0], "10.0.0.9");
	assert_int_equal(sms_error_json_parse(bad_elem, strlen(bad_elem), &t), -EBADMSG);
	assert_string_equal(t.error_code, "SMS.3805");
	assert_int_equal(t.nerror_params, 1);
	assert_string_equal(t.error_params[0], "10.0.0.9");
}

static void
test_error_json_over_1024_bytes_is_refused(void **state)
{
	char big[1100];
	struct sms_task t;

	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"error_code\":\"SMS.2802\"}", 25);
	assert_int_equal(sms_error_json_parse(big, sizeof(big), &t), -EBADMSG);
	/* Too long to be what SMS sends, but the code is plainly there. */
	assert_string_equal(t.error_code, "SMS.2802");
	assert_int_equal(strlen(t.error_message), SMS_MSG_MAX);
}

static void
test_error_params_beyond_the_cap_are_dropped(void **state)
{
	struct sms_task t;
	const char *ej =
	    "{\"error_code\":\"X\",\"error_param\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
	    "\"7\",\"8\",\"9\",\"10\"]}";

	assert_int_equal(sms_error_json_parse(ej, strlen(ej), &t), 0);
	assert_int_equal(t.nerror_params, SMS_ERROR_PARAMS_MAX);
}

static void
test_unknown_state_keeps_the_raw_string(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"CUTOVER_READY\"}", &t), 0);
	assert_int_equal(t.state, TASK_UNKNOWN);
	assert_string_equal(t.state_raw, "CUTOVER_READY");
	assert_int_equal(t.bad, 0);
}

static void
test_every_known_state_maps(void **state)
{
	static const char *names[] = {"READY", "RUNNING", "SYNCING", "MIGRATE_SUCCESS",
	    "SYNC_SUCCESS", "MIGRATE_FAIL", "SYNC_FAIL", "ABORTING", "ABORT", "SKIPPING",
	    "DELETING", "RESETING"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char json[128];
		struct sms_task t;

		snprintf(json, sizeof(json), "{\"id\":\"t\",\"state\":\"%s\"}", names[i]);
		assert_int_equal(parse_task(json, &t), 0);
		assert_int_equal(t.state, (enum task_state)(i + 1));
	}
}

static void
test_nulls_everywhere_are_accepted(void **state)
{
	struct sms_task t;

	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"name\":null,\"type\":null,\"os_type\":null,"
	               "\"state\":\"READY\",\"error_json\":null,\"migration_ip\":null,"
	               "\"source_server\":null,\"sub_tasks\":null,\"migrate_speed\":null,"
	               "\"remain_seconds\":null,\"connected\":null,\"create_date\":null,"
	               "\"start_date\":null,\"finish_date\":null,\"speed_limit\":null}",
	        &t),
	    0);
	assert_int_equal(t.state, TASK_READY);
	assert_false(t.has_migrate_speed);
	assert_true(t.remain_seconds == -1);
	assert_true(t.speed_limit == -1);
	assert_int_equal(t.connected, SMS_ABSENT);
	assert_int_equal(t.bad, 0);
}

static void
test_an_id_and_a_state_are_enough(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"READY\"}", &t), 0);
	assert_string_equal(t.id, "t");
	assert_int_equal(t.progress, -1);
	assert_int_equal(t.bad, 0);
}

static void
test_missing_id_is_refused(void **state)
{
	struct sms_task t;
	char *cause = NULL;

	assert_int_equal(
	    sms_task_parse("{\"name\":\"x\",\"state\":\"READY\"}", 29, &t, &cause), -EBADMSG);
	assert_non_null(cause);
	assert_string_equal(cause, "id: missing");
	free(cause);
}

static void
test_missing_state_is_refused(void **state)
{
	struct sms_task t;
	char *cause = NULL;

	assert_int_equal(sms_task_parse("{\"id\":\"t\",\"name\":\"x\"}", 22, &t, &cause), -EBADMSG);
	assert_string_equal(cause, "state: missing");
	free(cause);
}

static void
test_extra_fields_are_ignored(void **state)
{
	struct sms_task t;

	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"future\":{\"a\":[1,2,{}]},\"state\":\"READY\"}", &t), 0);
	assert_int_equal(t.state, TASK_READY);
}

static void
test_connected_tristate(void **state)
{
	struct sms_task t;

	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"connected\":true}", &t), 0);
	assert_int_equal(t.connected, SMS_TRUE);
	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"connected\":false}", &t), 0);
	assert_int_equal(t.connected, SMS_FALSE);
}

static void
test_running_numbers_are_kept(void **state)
{
	struct sms_task t;

	assert_int_equal(parse_task("{\"id\":\"t\",\"state\":\"RUNNING\","
	                            "\"migrate_speed\":95.5,\"remain_seconds\":3600,"
	                            "\"migration_ip\":\"10.1.2.3\",\"finish_date\":1598435799000}",
	                     &t),
	    0);
	assert_true(t.migrate_speed > 95.4 && t.migrate_speed < 95.6);
	assert_true(t.remain_seconds == 3600);
	assert_string_equal(t.migration_ip, "10.1.2.3");
	assert_true(t.finish_ms == 1598435799000LL);
	assert_int_equal(t.bad, 0);
}

static void
test_unusable_id_or_state_makes_the_answer_bad(void **state)
{
	static const char *bodies[] = {
	    "{\"id\":5,\"state\":\"READY\"}",
	    "{\"id\":\"\",\"state\":\"READY\"}",
	    "{\"id\":null,\"state\":\"READY\"}",
	    "{\"id\":{},\"state\":\"READY\"}",
	    "{\"id\":\"a b\",\"state\":\"READY\"}",
	    "{\"id\":\"t\\n\",\"state\":\"READY\"}",
	    "{\"id\":\"t\",\"state\":1}",
	    "{\"id\":\"t\",\"state\":\"\"}",
	    "{\"id\":\"t\",\"state\":null}",
	    "{\"id\":\"t\",\"state\":[\"READY\"]}",
	    "{\"id\":\"t\",\"state\":\"READY\\u0001\"}",
	    "{\"id\":\"t\"}",
	    "[]",
	    "\"id\"",
	    "null",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct sms_task t;

		assert_int_equal(parse_task(bodies[i], &t), -EBADMSG);
	}
}

static void
test_truncated_json_is_refused(void **state)
{
	size_t len;
	char *body = load_example("sms-show-task.response.json", &len);
	struct sms_task t;

	for (size_t cut = 0; cut < len - 2; cut += 37)
		assert_int_equal(sms_task_parse(body, cut, &t, NULL), -EBADMSG);
	free(body);
}

static void
test_overlong_id_is_refused(void **state)
{
	char json[256];
	struct sms_task t;

	snprintf(json, sizeof(json), "{\"state\":\"READY\",\"id\":\"%0*d\"}", SMS_ID_MAX + 1, 0);
	assert_int_equal(parse_task(json, &t), -EBADMSG);
	snprintf(json, sizeof(json), "{\"state\":\"READY\",\"id\":\"%0*d\"}", SMS_ID_MAX, 0);
	assert_int_equal(parse_task(json, &t), 0);
}

static void
test_overlong_state_is_refused(void **state)
{
	char json[256];
	struct sms_task t;

	snprintf(json, sizeof(json), "{\"id\":\"t\",\"state\":\"%0*d\"}", SMS_STATE_MAX + 1, 0);
	assert_int_equal(parse_task(json, &t), -EBADMSG);
	snprintf(json, sizeof(json), "{\"id\":\"t\",\"state\":\"%0*d\"}", SMS_STATE_MAX, 0);
	assert_int_equal(parse_task(json, &t), 0);
	assert_int_equal(t.state, TASK_UNKNOWN);
}

static void
test_overlong_name_is_truncated(void **state)
{
	char *json = padded("{\"id\":\"t\",\"state\":\"READY\",\"name\":\"", 'x', 5000, "\"}");
	struct sms_task t;

	assert_int_equal(parse_task(json, &t), 0);
	assert_int_equal(strlen(t.name), SMS_NAME_MAX);
	assert_int_equal(t.bad, 0);
	free(json);
}

static void
test_overlong_name_is_cut_between_characters(void **state)
{
	/* "ab" then 2-byte characters: the 255th byte is the first half of one. */
	char json[600] = "{\"id\":\"t\",\"state\":\"READY\",\"name\":\"ab";
	size_t len = strlen(json);
	struct sms_task t;

	for (int i = 0; i < 200; i++)
		memcpy(json + len + 2 * i, "\xc3\xa9", 2);
	memcpy(json + len + 400, "\"}", 3);
	assert_int_equal(parse_task(json, &t), 0);
	assert_int_equal(strlen(t.name), SMS_NAME_MAX - 1); /* 2 + 126 * 2 */
	assert_int_equal(t.bad, 0);
}

static void
test_huge_body_is_refused(void **state)
{
	struct sms_task t;
	char *body = malloc(SMS_BODY_MAX + 1);

	memset(body, ' ', SMS_BODY_MAX + 1);
	assert_int_equal(sms_task_parse(body, SMS_BODY_MAX + 1, &t, NULL), -EBADMSG);
	free(body);
}

static void
test_empty_body_is_refused(void **state)
{
	struct sms_task t;

	assert_int_equal(sms_task_parse("", 0, &t, NULL), -EBADMSG);
	assert_int_equal(sms_task_parse(NULL, 0, &t, NULL), -EBADMSG);
}

/* ---- GET /v3/tasks ---- */

static void
test_list_tasks_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-list-tasks.response.json", &len);
	struct sms_task *tasks = NULL;
	char *cause = NULL;
	int n = 0;

	assert_int_equal(sms_task_list_parse(body, len, &tasks, &n, &cause), 0);
	assert_null(cause);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		assert_int_equal(tasks[i].bad, 0);
	assert_string_equal(tasks[0].name, "sms_task_lxxxx11");
	assert_int_equal(tasks[0].state, TASK_MIGRATE_SUCCESS);
	assert_int_equal(tasks[1].type, TASK_TYPE_MIGRATE_BLOCK);
	assert_int_equal(tasks[1].os_type, TASK_OS_WINDOWS);
	assert_string_equal(tasks[2].source_id, ""); /* source_server: null */
	assert_string_equal(tasks[2].migration_ip, "192.168.1.201");
	assert_true(tasks[2].speed_limit == 200);
	assert_true(tasks[0].create_ms == 1585139506000LL);
	free(tasks);
	free(body);
}

static void
test_list_without_tasks_is_empty(void **state)
{
	struct sms_task *tasks = (void *)1;
	int n = 1;

	assert_int_equal(sms_task_list_parse("{\"count\":0}", 11, &tasks, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(tasks);
	assert_int_equal(
	    sms_task_list_parse("{\"count\":0,\"tasks\":null}", 24, &tasks, &n, NULL), 0);
	assert_int_equal(n, 0);
}

static void
test_list_drops_only_the_items_without_id_or_state(void **state)
{
	const char *body = "{\"tasks\":[{\"id\":\"a\",\"state\":\"READY\"},{\"id\":3,\"state\":"
	                   "\"READY\"},7,{\"id\":\"d\"},{\"id\":\"e\",\"state\":\"RUNNING\"}]}";
	struct sms_task *tasks = NULL;
	char *cause = NULL;
	int n = 0;

	assert_int_equal(sms_task_list_parse(body, strlen(body), &tasks, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tasks[0].id, "a");
	assert_string_equal(tasks[1].id, "e");
	assert_int_equal(tasks[1].state, TASK_RUNNING);
	assert_string_equal(cause,
	    "tasks[1].id: not a string (item dropped); "
	    "tasks[2]: not an object (item dropped); "
	    "tasks[3].state: missing (item dropped)");
	free(cause);
	free(tasks);
}

static void
test_list_of_only_unusable_items_is_empty(void **state)
{
	const char *body = "{\"tasks\":[{\"id\":\"a\"},null]}";
	struct sms_task *tasks = (void *)1;
	char *cause = NULL;
	int n = 1;

	assert_int_equal(sms_task_list_parse(body, strlen(body), &tasks, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_null(tasks);
	assert_non_null(cause);
	free(cause);
}

static void
test_list_that_is_not_an_array_is_refused(void **state)
{
	const char *body = "{\"tasks\":{\"id\":\"a\",\"state\":\"READY\"}}";
	struct sms_task *tasks = NULL;
	int n = 0;

	assert_int_equal(sms_task_list_parse(body, strlen(body), &tasks, &n, NULL), -EBADMSG);
	assert_null(tasks);
	assert_int_equal(n, 0);
}

static void
test_list_over_200_items_is_refused(void **state)
{
	size_t cap = 16 + 201 * 12;
	char *body = malloc(cap);
	struct sms_task *tasks = NULL;
	int n = 0;

	strcpy(body, "{\"tasks\":[");
	for (int i = 0; i < 201; i++)
		strcat(body, i ? ",{\"id\":\"x\"}" : "{\"id\":\"x\"}");
	strcat(body, "]}");
	assert_int_equal(sms_task_list_parse(body, strlen(body), &tasks, &n, NULL), -EBADMSG);
	free(body);
}

/* ---- GET /v3/sources ---- */

static void
test_show_server_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-show-server.response.json", &len);
	struct sms_source s;
	char *cause = NULL;

	assert_int_equal(sms_source_parse(body, len, &s, &cause), 0);
	assert_null(cause);
	assert_int_equal(s.bad, 0);
	assert_string_equal(s.name, "sms-win16");
	assert_string_equal(s.ip, "192.168.0.154");
	assert_string_equal(s.state, "initialize");
	assert_int_equal(s.connected, SMS_TRUE);
	assert_string_equal(s.current_task_id, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxx0001");
	assert_string_equal(s.current_task_state, "RUNNING");
	free(body);
}

static void
test_list_servers_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-list-servers.response.json", &len);
	struct sms_source *s = NULL;
	char *cause = NULL;
	int n = 0;

	assert_int_equal(sms_source_list_parse(body, len, &s, &n, &cause), 0);
	assert_null(cause);
	assert_int_equal(n, 10);
	for (int i = 0; i < n; i++)
		assert_int_equal(s[i].bad, 0);
	assert_string_equal(s[0].name, "sms-test");
	assert_string_equal(s[3].current_task_id, ""); /* current_task: null */
	assert_int_equal(s[3].connected, SMS_FALSE);
	assert_string_equal(s[2].state, "error");
	free(s);
	free(body);
}

static void
test_source_without_id_is_refused(void **state)
{
	struct sms_source s;

	assert_int_equal(sms_source_parse("{\"ip\":\"1.2.3.4\"}", 16, &s, NULL), -EBADMSG);
}

/* ---- a malformed field degrades that field only ---- */

/* A ShowTask body with every field smsguard reads set to a good value. */
static cJSON *
good_task(const char *id)
{
	cJSON *o = cJSON_CreateObject(), *src, *subs, *sub;
	static const char *const names[] = {"A", "B", "C"};
	static const int progress[] = {100, 42, 0};

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", "MigrationTask");
	cJSON_AddStringToObject(o, "type", "MIGRATE_FILE");
	cJSON_AddStringToObject(o, "os_type", "LINUX");
	cJSON_AddStringToObject(o, "state", "SYNC_FAIL");
	cJSON_AddStringToObject(o, "error_json",
	    "{\"error_code\":\"SMS.2802\",\"error_param\":\"[\\\"10.0.0.9\\\"]\"}");
	cJSON_AddStringToObject(o, "migration_ip", "10.1.2.3");
	src = cJSON_AddObjectToObject(o, "source_server");
	cJSON_AddStringToObject(src, "id", "s-1");
	cJSON_AddStringToObject(src, "ip", "10.0.0.5");
	cJSON_AddStringToObject(src, "name", "web-1");
	subs = cJSON_AddArrayToObject(o, "sub_tasks");
	for (int i = 0; i < 3; i++) {
		sub = cJSON_CreateObject();
		cJSON_AddStringToObject(sub, "name", names[i]);
		cJSON_AddNumberToObject(sub, "progress", progress[i]);
		if (i == 0)
			cJSON_AddNumberToObject(sub, "end_date", 1598435799000.0);
		else
			cJSON_AddNullToObject(sub, "end_date");
		cJSON_AddItemToArray(subs, sub);
	}
	cJSON_AddNumberToObject(o, "migrate_speed", 95.5);
	cJSON_AddNumberToObject(o, "remain_seconds", 3600);
	cJSON_AddTrueToObject(o, "connected");
	cJSON_AddNumberToObject(o, "create_date", 1598435778000.0);
	cJSON_AddNumberToObject(o, "start_date", 1598435784000.0);
	cJSON_AddNumberToObject(o, "finish_date", 1598435799000.0);
	cJSON_AddNumberToObject(o, "speed_limit", 200);
	return o;
}

/* A ShowServer body with every field smsguard reads set to a good value. */
static cJSON *
good_source(const char *id)
{
	cJSON *o = cJSON_CreateObject(), *cur;

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", "web-1");
	cJSON_AddStringToObject(o, "ip", "10.0.0.5");
	cJSON_AddStringToObject(o, "state", "replicate");
	cJSON_AddTrueToObject(o, "connected");
	cur = cJSON_AddObjectToObject(o, "current_task");
	cJSON_AddStringToObject(cur, "id", "t-1");
	cJSON_AddStringToObject(cur, "state", "RUNNING");
	return o;
}

/* {"count":2,"<key>":[item("<p>-0"), item("<p>-1")]} */
static cJSON *
good_list(const char *key, cJSON *(*item)(const char *), const char *p)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	char id[16];

	cJSON_AddNumberToObject(o, "count", 2);
	arr = cJSON_AddArrayToObject(o, key);
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "%s-%d", p, i);
		cJSON_AddItemToArray(arr, item(id));
	}
	return o;
}

/*
 * The body with the member at path ("sub_tasks/1/progress") set to the JSON
 * text raw, exactly as written (so 1e999 stays 1e999). Consumes root.
 */
static char *
body_with(cJSON *root, const char *path, const char *raw)
{
	char buf[128], *seg, *next, *out;
	cJSON *parent = root;

	assert_true(strlen(path) < sizeof(buf));
	strcpy(buf, path);
	for (seg = buf; (next = strchr(seg, '/')) != NULL; seg = next + 1) {
		*next = '\0';
		parent = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, atoi(seg))
		                               : cJSON_GetObjectItemCaseSensitive(parent, seg);
		assert_non_null(parent);
	}
	if (cJSON_IsArray(parent))
		assert_true(cJSON_ReplaceItemInArray(parent, atoi(seg), cJSON_CreateRaw(raw)));
	else if (cJSON_GetObjectItemCaseSensitive(parent, seg) != NULL)
		assert_true(
		    cJSON_ReplaceItemInObjectCaseSensitive(parent, seg, cJSON_CreateRaw(raw)));
	else
		cJSON_AddItemToObject(parent, seg, cJSON_CreateRaw(raw));
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	assert_non_null(out);
	return out;
}

static char *
body_of(cJSON *root)
{
	char *out = cJSON_PrintUnformatted(root);

	cJSON_Delete(root);
	assert_non_null(out);
	return out;
}

struct degrade_case {
	const char *path;    /* the field, below the task or source */
	const char *value;   /* its malformed value, as JSON text */
	uint32_t bit;        /* what must be reported */
	const char *code;    /* error_json only: the code still found, NULL for "" */
	const char *message; /* error_json only: the text kept, NULL for "" */
};

static void
unknown_task_text(struct sms_task *t, uint32_t bit)
{
	if (bit == SMS_TASK_NAME)
		memset(t->name, 0, sizeof(t->name));
	if (bit == SMS_TASK_MIGRATION_IP)
		memset(t->migration_ip, 0, sizeof(t->migration_ip));
	if (bit == SMS_TASK_SOURCE_ID || bit == SMS_TASK_SOURCE_SERVER)
		memset(t->source_id, 0, sizeof(t->source_id));
	if (bit == SMS_TASK_SOURCE_IP || bit == SMS_TASK_SOURCE_SERVER)
		memset(t->source_ip, 0, sizeof(t->source_ip));
	if (bit == SMS_TASK_SOURCE_NAME || bit == SMS_TASK_SOURCE_SERVER)
		memset(t->source_name, 0, sizeof(t->source_name));
	if (bit == SMS_TASK_SUBTASK_NAME || bit == SMS_TASK_SUB_TASKS)
		memset(t->subtask, 0, sizeof(t->subtask));
	if (bit == SMS_TASK_ERROR_JSON) {
		memset(t->error_code, 0, sizeof(t->error_code));
		memset(t->error_params, 0, sizeof(t->error_params));
		t->nerror_params = 0;
	}
}

/* The task as it must be when the field of bit was malformed: unknown. */
static void
unknown_task_field(struct sms_task *t, uint32_t bit)
{
	unknown_task_text(t, bit);
	if (bit == SMS_TASK_TYPE)
		t->type = TASK_TYPE_UNKNOWN;
	if (bit == SMS_TASK_OS_TYPE)
		t->os_type = TASK_OS_UNKNOWN;
	if (bit == SMS_TASK_PROGRESS || bit == SMS_TASK_SUB_TASKS)
		t->progress = -1;
	if (bit == SMS_TASK_MIGRATE_SPEED) {
		t->has_migrate_speed = false;
		t->migrate_speed = 0;
	}
	if (bit == SMS_TASK_REMAIN_SECONDS)
		t->remain_seconds = -1;
	if (bit == SMS_TASK_CONNECTED)
		t->connected = SMS_ABSENT;
	if (bit == SMS_TASK_CREATE_DATE)
		t->create_ms = 0;
	if (bit == SMS_TASK_START_DATE)
		t->start_ms = 0;
	if (bit == SMS_TASK_FINISH_DATE)
		t->finish_ms = 0;
	if (bit == SMS_TASK_SPEED_LIMIT)
		t->speed_limit = -1;
	t->bad = bit;
}

/* One malformed field: only it is unknown, everything else is as in good, and it is named. */
static void
check_task_degraded(const struct degrade_case *c, const char *prefix, int rc,
    const struct sms_task *good, const struct sms_task *got, const char *note)
{
	struct sms_task want;
	char names[256], field[300];

	memcpy(&want, good, sizeof(want));
	unknown_task_field(&want, c->bit);
	if (c->code != NULL)
		strcpy(want.error_code, c->code);
	if (c->message != NULL)
		strcpy(want.error_message, c->message);
	sms_task_bad_names(c->bit, names, sizeof(names));
	snprintf(field, sizeof(field), "%s%s: ", prefix, names);
	if (rc != 0)
		fail_msg("%s = %s: the answer was refused", c->path, c->value);
	if (memcmp(&want, got, sizeof(want)) != 0)
		fail_msg("%s = %s: not just that field became unknown (bad %#x, code '%s', "
		         "message '%s')",
		    c->path, c->value, got->bad, got->error_code, got->error_message);
	if (note == NULL || strstr(note, field) == NULL)
		fail_msg("%s = %s: the note '%s' does not name %s", c->path, c->value,
		    note ? note : "(none)", field);
}

static const struct degrade_case task_wrong_types[] = {
    {"name", "5", SMS_TASK_NAME, NULL, NULL},
    {"type", "[\"MIGRATE_FILE\"]", SMS_TASK_TYPE, NULL, NULL},
    {"os_type", "true", SMS_TASK_OS_TYPE, NULL, NULL},
    {"error_json", "42", SMS_TASK_ERROR_JSON, NULL, "42"},
    {"migration_ip", "10", SMS_TASK_MIGRATION_IP, NULL, NULL},
    {"source_server", "\"s-1\"", SMS_TASK_SOURCE_SERVER, NULL, NULL},
    {"source_server/id", "7", SMS_TASK_SOURCE_ID, NULL, NULL},
    {"source_server/ip", "{\"v4\":\"10.0.0.5\"}", SMS_TASK_SOURCE_IP, NULL, NULL},
    {"source_server/name", "false", SMS_TASK_SOURCE_NAME, NULL, NULL},
    {"sub_tasks", "{\"name\":\"B\"}", SMS_TASK_SUB_TASKS, NULL, NULL},
    {"sub_tasks/1/name", "9", SMS_TASK_SUBTASK_NAME, NULL, NULL},
    {"sub_tasks/1/progress", "\"42\"", SMS_TASK_PROGRESS, NULL, NULL},
    {"migrate_speed", "\"fast\"", SMS_TASK_MIGRATE_SPEED, NULL, NULL},
    {"remain_seconds", "\"3600\"", SMS_TASK_REMAIN_SECONDS, NULL, NULL},
    {"connected", "1", SMS_TASK_CONNECTED, NULL, NULL},
    {"create_date", "\"2020-08-26\"", SMS_TASK_CREATE_DATE, NULL, NULL},
    {"start_date", "[]", SMS_TASK_START_DATE, NULL, NULL},
    {"finish_date", "false", SMS_TASK_FINISH_DATE, NULL, NULL},
    {"speed_limit", "\"0\"", SMS_TASK_SPEED_LIMIT, NULL, NULL},
};

static const struct degrade_case task_bad_values[] = {
    /* Numbers out of range. */
    {"sub_tasks/1/progress", "-1", SMS_TASK_PROGRESS, NULL, NULL},
    {"sub_tasks/1/progress", "101", SMS_TASK_PROGRESS, NULL, NULL},
    {"sub_tasks/1/progress", "1e999", SMS_TASK_PROGRESS, NULL, NULL},
    {"migrate_speed", "-1", SMS_TASK_MIGRATE_SPEED, NULL, NULL},
    {"migrate_speed", "1e12", SMS_TASK_MIGRATE_SPEED, NULL, NULL},
    {"migrate_speed", "-1e999", SMS_TASK_MIGRATE_SPEED, NULL, NULL},
    {"remain_seconds", "-3", SMS_TASK_REMAIN_SECONDS, NULL, NULL},
    {"remain_seconds", "1e15", SMS_TASK_REMAIN_SECONDS, NULL, NULL},
    {"create_date", "1598435778", SMS_TASK_CREATE_DATE, NULL, NULL}, /* seconds, not ms */
    {"create_date", "-5", SMS_TASK_CREATE_DATE, NULL, NULL},
    {"start_date", "1e300", SMS_TASK_START_DATE, NULL, NULL},
    {"finish_date", "99999999999999", SMS_TASK_FINISH_DATE, NULL, NULL}, /* year 5138 */
    {"speed_limit", "70000", SMS_TASK_SPEED_LIMIT, NULL, NULL},
    {"speed_limit", "-1", SMS_TASK_SPEED_LIMIT, NULL, NULL},
    /* Identifiers that are not: too long, spaces, control characters. */
    {"type", "\"MIGRATE_FILE_MIGRATE_FILE_MIGRATE_FILE_MIGRATE_FILE_MIGRATE_FILE_\"", SMS_TASK_TYPE,
        NULL, NULL},
    {"migration_ip", "\"10.1.2.3 \"", SMS_TASK_MIGRATION_IP, NULL, NULL},
    {"migration_ip", "\"1111:2222:3333:4444:5555:6666:7777:8888%an-interface-name-too-long\"",
        SMS_TASK_MIGRATION_IP, NULL, NULL},
    {"source_server/id", "\"s-1\\u0007\"", SMS_TASK_SOURCE_ID, NULL, NULL},
    /* error_json that does not parse: the text is kept, a plain code is found. */
    {"error_json", "\"not json {\"", SMS_TASK_ERROR_JSON, NULL, "not json {"},
    {"error_json", "\"not json SMS.2802 {\"", SMS_TASK_ERROR_JSON, "SMS.2802",
        "not json SMS.2802 {"},
    {"error_json", "\"SMS.2802 or SMS.3805?\"", SMS_TASK_ERROR_JSON, NULL, "SMS.2802 or SMS.3805?"},
    {"error_json", "\"xSMS.2802 SMS.28021 SMS.280\"", SMS_TASK_ERROR_JSON, NULL,
        "xSMS.2802 SMS.28021 SMS.280"},
    {"error_json", "\"line\\nbreak \\u00e9\\u0001\"", SMS_TASK_ERROR_JSON, NULL,
        "line?break \xc3\xa9?"},
    {"error_json", "{\"error_code\":\"SMS.3805\"}", SMS_TASK_ERROR_JSON, "SMS.3805",
        "{\"error_code\":\"SMS.3805\"}"},
    {"error_json", "\"{\\\"error_code\\\":\\\"SMS 3805\\\"}\"", SMS_TASK_ERROR_JSON, NULL,
        "{\"error_code\":\"SMS 3805\"}"},
};

static void
expect_task_cases(const struct degrade_case *cases, size_t n)
{
	struct sms_task good, got;
	char *body = body_of(good_task("t-1")), *cause = NULL;

	assert_int_equal(sms_task_parse(body, strlen(body), &good, &cause), 0);
	assert_null(cause);
	assert_int_equal(good.bad, 0);
	assert_string_equal(good.error_code, "SMS.2802");
	assert_string_equal(good.subtask, "B");
	free(body);
	for (size_t i = 0; i < n; i++) {
		const struct degrade_case *c = &cases[i];
		int rc;

		body = body_with(good_task("t-1"), c->path, c->value);
		rc = sms_task_parse(body, strlen(body), &got, &cause);
		check_task_degraded(c, "", rc, &good, &got, cause);
		free(cause);
		cause = NULL;
		cJSON_free(body);
	}
}

static void
test_show_task_field_of_the_wrong_type_is_unknown_and_the_rest_is_used(void **state)
{
	expect_task_cases(task_wrong_types, sizeof(task_wrong_types) / sizeof(task_wrong_types[0]));
}

static void
test_show_task_field_with_a_bad_value_is_unknown_and_the_rest_is_used(void **state)
{
	expect_task_cases(task_bad_values, sizeof(task_bad_values) / sizeof(task_bad_values[0]));
}

static void
test_show_task_sync_fail_with_error_json_not_json_is_used(void **state)
{
	const char *body = "{\"id\":\"t\",\"state\":\"SYNC_FAIL\",\"error_json\":\"not json {\","
	                   "\"migration_ip\":\"10.1.2.3\"}";
	struct sms_task t;
	char *cause = NULL, names[64];

	assert_int_equal(sms_task_parse(body, strlen(body), &t, &cause), 0);
	assert_int_equal(t.state, TASK_SYNC_FAIL);
	assert_string_equal(t.migration_ip, "10.1.2.3");
	assert_string_equal(t.error_code, "");
	assert_string_equal(t.error_message, "not json {");
	assert_int_equal(t.bad, SMS_TASK_ERROR_JSON);
	assert_string_equal(sms_task_bad_names(t.bad, names, sizeof(names)), "error_json");
	assert_string_equal(cause, "error_json: malformed");
	free(cause);
}

static void
test_show_task_unreadable_sub_task_is_skipped(void **state)
{
	static const char *const bad[] = {"3", "\"B\"", "[]"};
	static const char *const bad_end[] = {"\"soon\"", "true", "{}"};
	struct sms_task t;
	char *body;

	/* Whether B has ended is unknown: C is the first known to be running. */
	for (size_t i = 0; i < 3; i++) {
		body = body_with(good_task("t-1"), "sub_tasks/1", bad[i]);
		assert_int_equal(parse_task(body, &t), 0);
		assert_string_equal(t.subtask, "C");
		assert_int_equal(t.progress, 0);
		assert_int_equal(t.bad, SMS_TASK_SUB_TASKS);
		cJSON_free(body);
		body = body_with(good_task("t-1"), "sub_tasks/1/end_date", bad_end[i]);
		assert_int_equal(parse_task(body, &t), 0);
		assert_string_equal(t.subtask, "C");
		assert_int_equal(t.bad, SMS_TASK_SUB_TASKS);
		cJSON_free(body);
	}
	/* Only bad elements: nothing is current. */
	assert_int_equal(
	    parse_task("{\"id\":\"t\",\"state\":\"RUNNING\",\"sub_tasks\":[1,2]}", &t), 0);
	assert_string_equal(t.subtask, "");
	assert_int_equal(t.progress, -1);
	assert_int_equal(t.bad, SMS_TASK_SUB_TASKS);
}

static void
test_show_task_fraction_of_progress_is_cut(void **state)
{
	char *body = body_with(good_task("t-1"), "sub_tasks/1/progress", "42.7");
	struct sms_task t;

	assert_int_equal(parse_task(body, &t), 0);
	assert_int_equal(t.progress, 42);
	assert_int_equal(t.bad, 0);
	cJSON_free(body);
}

static void
test_empty_strings_and_zero_dates_are_absent_not_malformed(void **state)
{
	static const char *const paths[] = {"name", "type", "os_type", "error_json", "migration_ip",
	    "source_server/id", "source_server/ip", "source_server/name", "sub_tasks/1/name"};
	struct sms_task t;
	char *body;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		body = body_with(good_task("t-1"), paths[i], "\"\"");
		assert_int_equal(parse_task(body, &t), 0);
		assert_int_equal(t.bad, 0);
		cJSON_free(body);
	}
	body = body_with(good_task("t-1"), "finish_date", "0");
	assert_int_equal(parse_task(body, &t), 0);
	assert_true(t.finish_ms == 0);
	assert_int_equal(t.bad, 0);
	cJSON_free(body);
}

static void
test_every_degraded_field_is_named_once(void **state)
{
	cJSON *o = good_task("t-1");
	char *body, *cause = NULL, names[512];
	struct sms_task t;

	cJSON_ReplaceItemInObjectCaseSensitive(o, "name", cJSON_CreateNumber(1));
	cJSON_ReplaceItemInObjectCaseSensitive(o, "error_json", cJSON_CreateString("{"));
	cJSON_ReplaceItemInObjectCaseSensitive(
	    o, "sub_tasks", cJSON_Parse("[1,2,3,{\"progress\":500}]"));
	body = body_of(o);
	assert_int_equal(sms_task_parse(body, strlen(body), &t, &cause), 0);
	assert_int_equal(
	    t.bad, SMS_TASK_NAME | SMS_TASK_ERROR_JSON | SMS_TASK_SUB_TASKS | SMS_TASK_PROGRESS);
	assert_string_equal(sms_task_bad_names(t.bad, names, sizeof(names)),
	    "name,error_json,sub_tasks,sub_tasks[].progress");
	assert_string_equal(cause,
	    "name: not a string; error_json: malformed; "
	    "sub_tasks: an element is not an object; "
	    "sub_tasks[].progress: out of range");
	assert_string_equal(sms_task_bad_names(t.bad, names, 12), "name");
	assert_string_equal(sms_task_bad_names(0, names, sizeof(names)), "");
	free(cause);
	cJSON_free(body);
}

static void
test_error_json_text_is_made_printable(void **state)
{
	const char raw[] = "\x01"
	                   "bad\xff\xc3 ok \xe2\x82\xac\xed\xa0\x80\x7f\n";
	struct sms_task t;
	char *long_text = padded("", '\xe9', 2000, "");

	/* Overlong forms, surrogates and code points past U+10FFFF are broken too. */
	const char forms[] = "\xf0\x9f\x98\x80 \xe0\x80\xaf \xf0\x80\x80\xaf \xf4\x90\x80\x80 "
	                     "\xf4\x8f\xbf\xbf \xe2\x82";

	assert_int_equal(sms_error_json_parse(raw, sizeof(raw) - 1, &t), -EBADMSG);
	assert_string_equal(t.error_message, "?bad?? ok \xe2\x82\xac?????");
	assert_int_equal(sms_error_json_parse(forms, sizeof(forms) - 1, &t), -EBADMSG);
	assert_string_equal(t.error_message, "\xf0\x9f\x98\x80 ??? ???? ???? \xf4\x8f\xbf\xbf ??");
	/* Cut whole characters at a time. */
	for (int i = 0; i < 2000; i += 2)
		memcpy(long_text + i, "\xc3\xa9", 2);
	assert_int_equal(sms_error_json_parse(long_text, 2000, &t), -EBADMSG);
	assert_int_equal(strlen(t.error_message), SMS_MSG_MAX - 1);
	free(long_text);
}

/* ---- a malformed field in one task of a list ---- */

static void
test_list_tasks_field_of_the_wrong_type_leaves_the_list_and_other_tasks_whole(void **state)
{
	size_t n = sizeof(task_wrong_types) / sizeof(task_wrong_types[0]);
	struct sms_task *good = NULL, *got = NULL;
	char *body = body_of(good_list("tasks", good_task, "t")), *cause = NULL;
	int count = 0;

	assert_int_equal(sms_task_list_parse(body, strlen(body), &good, &count, &cause), 0);
	assert_int_equal(count, 2);
	assert_null(cause);
	cJSON_free(body);
	for (size_t i = 0; i < n; i++) {
		const struct degrade_case *c = &task_wrong_types[i];
		char path[128];
		int rc;

		snprintf(path, sizeof(path), "tasks/1/%s", c->path);
		body = body_with(good_list("tasks", good_task, "t"), path, c->value);
		rc = sms_task_list_parse(body, strlen(body), &got, &count, &cause);
		assert_int_equal(rc, 0);
		assert_int_equal(count, 2);
		assert_memory_equal(&got[0], &good[0], sizeof(got[0]));
		check_task_degraded(c, "tasks[1].", rc, &good[1], &got[1], cause);
		free(got);
		free(cause);
		cause = NULL;
		cJSON_free(body);
	}
	free(good);
}

/* ---- a malformed field of a source ---- */

static void
unknown_source_field(struct sms_source *s, uint32_t bit)
{
	if (bit == SMS_SOURCE_NAME)
		memset(s->name, 0, sizeof(s->name));
	if (bit == SMS_SOURCE_IP)
		memset(s->ip, 0, sizeof(s->ip));
	if (bit == SMS_SOURCE_STATE)
		memset(s->state, 0, sizeof(s->state));
	if (bit == SMS_SOURCE_CONNECTED)
		s->connected = SMS_ABSENT;
	if (bit == SMS_SOURCE_CURRENT_TASK_ID || bit == SMS_SOURCE_CURRENT_TASK)
		memset(s->current_task_id, 0, sizeof(s->current_task_id));
	if (bit == SMS_SOURCE_CURRENT_TASK_STATE || bit == SMS_SOURCE_CURRENT_TASK)
		memset(s->current_task_state, 0, sizeof(s->current_task_state));
	s->bad = bit;
}

static void
check_source_degraded(const struct degrade_case *c, const char *prefix, int rc,
    const struct sms_source *good, const struct sms_source *got, const char *note)
{
	struct sms_source want;
	char names[256], field[300];

	memcpy(&want, good, sizeof(want));
	unknown_source_field(&want, c->bit);
	sms_source_bad_names(c->bit, names, sizeof(names));
	snprintf(field, sizeof(field), "%s%s: ", prefix, names);
	if (rc != 0)
		fail_msg("%s = %s: the answer was refused", c->path, c->value);
	if (memcmp(&want, got, sizeof(want)) != 0)
		fail_msg("%s = %s: not just that field became unknown (bad %#x)", c->path, c->value,
		    got->bad);
	if (note == NULL || strstr(note, field) == NULL)
		fail_msg("%s = %s: the note '%s' does not name %s", c->path, c->value,
		    note ? note : "(none)", field);
}

static const struct degrade_case source_cases[] = {
    {"name", "5", SMS_SOURCE_NAME, NULL, NULL},
    {"ip", "[\"10.0.0.5\"]", SMS_SOURCE_IP, NULL, NULL},
    {"ip", "\"10.0.0.5 10.0.0.6\"", SMS_SOURCE_IP, NULL, NULL},
    {"state", "3", SMS_SOURCE_STATE, NULL, NULL},
    {"connected", "\"yes\"", SMS_SOURCE_CONNECTED, NULL, NULL},
    {"current_task", "\"t-1\"", SMS_SOURCE_CURRENT_TASK, NULL, NULL},
    {"current_task/id", "12", SMS_SOURCE_CURRENT_TASK_ID, NULL, NULL},
    {"current_task/state", "{}", SMS_SOURCE_CURRENT_TASK_STATE, NULL, NULL},
};

static void
test_show_source_field_of_the_wrong_type_is_unknown_and_the_rest_is_used(void **state)
{
	struct sms_source good, got;
	char *body = body_of(good_source("s-1")), *cause = NULL;

	assert_int_equal(sms_source_parse(body, strlen(body), &good, &cause), 0);
	assert_null(cause);
	assert_int_equal(good.bad, 0);
	cJSON_free(body);
	for (size_t i = 0; i < sizeof(source_cases) / sizeof(source_cases[0]); i++) {
		const struct degrade_case *c = &source_cases[i];
		int rc;

		body = body_with(good_source("s-1"), c->path, c->value);
		rc = sms_source_parse(body, strlen(body), &got, &cause);
		check_source_degraded(c, "", rc, &good, &got, cause);
		free(cause);
		cause = NULL;
		cJSON_free(body);
	}
}

static void
test_list_sources_field_of_the_wrong_type_leaves_the_list_and_other_sources_whole(void **state)
{
	struct sms_source *good = NULL, *got = NULL;
	char *body = body_of(good_list("source_servers", good_source, "s")), *cause = NULL;
	int count = 0;

	assert_int_equal(sms_source_list_parse(body, strlen(body), &good, &count, &cause), 0);
	assert_int_equal(count, 2);
	assert_null(cause);
	cJSON_free(body);
	for (size_t i = 0; i < sizeof(source_cases) / sizeof(source_cases[0]); i++) {
		const struct degrade_case *c = &source_cases[i];
		char path[128];
		int rc;

		snprintf(path, sizeof(path), "source_servers/1/%s", c->path);
		body = body_with(good_list("source_servers", good_source, "s"), path, c->value);
		rc = sms_source_list_parse(body, strlen(body), &got, &count, &cause);
		assert_int_equal(rc, 0);
		assert_int_equal(count, 2);
		assert_memory_equal(&got[0], &good[0], sizeof(got[0]));
		check_source_degraded(c, "source_servers[1].", rc, &good[1], &got[1], cause);
		free(got);
		free(cause);
		cause = NULL;
		cJSON_free(body);
	}
	free(good);
}

static void
test_unusable_source_id_makes_the_answer_bad_and_drops_the_list_item(void **state)
{
	static const char *const ids[] = {"5", "null", "\"\"", "\"s 1\"",
	    "\"0123456789012345678901234567890123456789012345678901234567890123456789\""};
	struct sms_source s, *list = NULL;
	char *body, *cause = NULL, path[64];
	int n = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		body = body_with(good_source("s-1"), "id", ids[i]);
		assert_int_equal(sms_source_parse(body, strlen(body), &s, NULL), -EBADMSG);
		cJSON_free(body);
		snprintf(path, sizeof(path), "source_servers/0/id");
		body = body_with(good_list("source_servers", good_source, "s"), path, ids[i]);
		assert_int_equal(sms_source_list_parse(body, strlen(body), &list, &n, &cause), 0);
		assert_int_equal(n, 1);
		assert_string_equal(list[0].id, "s-1");
		assert_non_null(strstr(cause, "source_servers[0].id: "));
		assert_non_null(strstr(cause, "(item dropped)"));
		free(list);
		free(cause);
		cause = NULL;
		cJSON_free(body);
	}
}

static void
test_long_note_says_more_was_left_out(void **state)
{
	size_t cap = 64 + 200 * 48;
	char *body = malloc(cap), *cause = NULL;
	struct sms_task *tasks = NULL;
	int n = 0;

	strcpy(body, "{\"tasks\":[");
	for (int i = 0; i < 200; i++)
		strcat(body,
		    i ? ",{\"id\":\"x\",\"state\":\"READY\",\"name\":1}"
		      : "{\"id\":\"x\",\"state\":\"READY\",\"name\":1}");
	strcat(body, "]}");
	assert_int_equal(sms_task_list_parse(body, strlen(body), &tasks, &n, &cause), 0);
	assert_int_equal(n, 200);
	assert_int_equal(tasks[199].bad, SMS_TASK_NAME);
	assert_true(strlen(cause) < 600);
	assert_non_null(strstr(cause, "tasks[0].name: not a string; tasks[1].name"));
	assert_non_null(strstr(cause, "; and more"));
	free(tasks);
	free(cause);
	free(body);
}

/* ---- speed limit ---- */

static void
test_speed_limits_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-shows-speed-limits.response.json", &len);
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	assert_int_equal(sms_speed_limits_parse(body, len, p, NULL), 1);
	assert_int_equal(p[0].start_min, 0);
	assert_int_equal(p[0].end_min, 1439);
	assert_int_equal(p[0].mbps, 1000);
	free(body);
}

static void
test_speed_limits_accept_unpadded_hours(void **state)
{
	size_t len;
	char *body = load_example("sms-update-speed.request.2.json", &len);
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	assert_int_equal(sms_speed_limits_parse(body, len, p, NULL), 3);
	assert_int_equal(p[0].start_min, 0);
	assert_int_equal(p[0].end_min, 8 * 60);
	assert_int_equal(p[1].start_min, 8 * 60);
	assert_int_equal(p[2].end_min, 1439);
	assert_int_equal(p[2].mbps, 25);
	free(body);
}

static void
test_speed_limits_refuse_six_periods_and_bad_times(void **state)
{
	const char *six =
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"1:00\"},"
	    "{\"start\":\"1:00\",\"end\":\"2:00\"},{\"start\":\"2:00\",\"end\":\"3:00\"},"
	    "{\"start\":\"3:00\",\"end\":\"4:00\"},{\"start\":\"4:00\",\"end\":\"5:00\"},"
	    "{\"start\":\"5:00\",\"end\":\"6:00\"}]}";
	const char *bad = "{\"speed_limit\":[{\"start\":\"25:00\",\"end\":\"1:00\"}]}";
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	assert_int_equal(sms_speed_limits_parse(six, strlen(six), p, NULL), -EBADMSG);
	assert_int_equal(sms_speed_limits_parse(bad, strlen(bad), p, NULL), -EBADMSG);
}

static void
test_speed_limits_with_a_malformed_field_are_refused(void **state)
{
	/* A schedule with a hole in it is not the schedule: no field degrades here. */
	static const char *const bodies[] = {
	    "{\"speed_limit\":{}}",
	    "{\"speed_limit\":[7]}",
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"8:00\",\"speed\":\"fast\"}]}",
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"8:00\",\"speed\":100001}]}",
	    "{\"speed_limit\":[{\"start\":0,\"end\":\"8:00\"}]}",
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"8:61\"}]}",
	};
	struct schedule_period p[SCHEDULE_MAX_PERIODS];
	char *cause = NULL;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		assert_int_equal(
		    sms_speed_limits_parse(bodies[i], strlen(bodies[i]), p, &cause), -EBADMSG);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
	}
}

static void
test_hhmm_parsing(void **state)
{
	assert_int_equal(sms_parse_hhmm("00:00"), 0);
	assert_int_equal(sms_parse_hhmm("8:00"), 480);
	assert_int_equal(sms_parse_hhmm("23:59"), 1439);
	assert_int_equal(sms_parse_hhmm("24:00"), 1440);
	assert_int_equal(sms_parse_hhmm("24:01"), -1);
	assert_int_equal(sms_parse_hhmm("8:60"), -1);
	assert_int_equal(sms_parse_hhmm("8:5"), -1);
	assert_int_equal(sms_parse_hhmm(":30"), -1);
	assert_int_equal(sms_parse_hhmm("123:00"), -1);
	assert_int_equal(sms_parse_hhmm(NULL), -1);
}

static void
test_speed_limit_body_uses_hhmm_and_ends_at_2359(void **state)
{
	const struct schedule_period p[] = {{0, 480, 20}, {480, 1440, 50}};
	char *body = sms_speed_limit_body(p, 2, 0);

	assert_string_equal(body,
	    "{\"speed_limit\":[{\"start\":\"00:00\",\"end\":\"08:00\",\"speed\":20},"
	    "{\"start\":\"08:00\",\"end\":\"23:59\",\"speed\":50}]}");
	free(body);
}

static void
test_speed_limit_body_round_trips(void **state)
{
	const struct schedule_period p[] = {{60, 120, 10}, {1320, 1439, 30}};
	struct schedule_period back[SCHEDULE_MAX_PERIODS];
	char *body = sms_speed_limit_body(p, 2, 100);

	assert_non_null(strstr(body, "\"over_speed_threshold\":100"));
	assert_int_equal(sms_speed_limits_parse(body, strlen(body), back, NULL), 2);
	assert_memory_equal(p, back, sizeof(p));
	free(body);
}

static void
test_speed_limit_body_refuses_more_than_five(void **state)
{
	struct schedule_period p[6] = {{0}};

	assert_null(sms_speed_limit_body(p, 6, 0));
	assert_null(sms_speed_limit_body(p, -1, 0));
}

static void
test_empty_speed_limit_body_clears(void **state)
{
	char *body = sms_speed_limit_body(NULL, 0, 0);

	assert_string_equal(body, "{\"speed_limit\":[]}");
	free(body);
}

/* ---- error bodies ---- */

static void
test_sms_403_example_parses(void **state)
{
	size_t len;
	char *body = load_example("sms-error-403.response.json", &len);
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(body, len, &e), 0);
	assert_string_equal(e.code, "SMS.9004");
	assert_true(strncmp(e.msg, "The current account", 19) == 0);
	free(body);
}

static void
test_apigw_error_with_request_id(void **state)
{
	const char *b = "{\"error_msg\":\"Incorrect IAM authentication information: verify aksk "
	                "signature fail\",\"error_code\":\"APIGW.0301\",\"request_id\":\"abc123\"}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	assert_string_equal(e.code, "APIGW.0301");
	assert_string_equal(e.request_id, "abc123");
	assert_non_null(strstr(e.msg, "verify aksk"));
}

static void
test_smn_code_message_error(void **state)
{
	const char *b = "{\"request_id\":\"r1\",\"code\":\"SMN.0167\",\"message\":\"topic gone\"}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	assert_string_equal(e.code, "SMN.0167");
	assert_string_equal(e.msg, "topic gone");
	assert_string_equal(e.request_id, "r1");
}

static void
test_error_code_only_in_details(void **state)
{
	const char *b = "{\"details\":[{\"error_code\":\"SMS.7703\",\"error_msg\":\"no task\"}]}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	assert_string_equal(e.code, "SMS.7703");
}

static void
test_camel_case_error(void **state)
{
	const char *b = "{\"errorCode\":\"X.1\",\"errorMsg\":\"m\"}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	assert_string_equal(e.code, "X.1");
}

static void
test_garbage_error_bodies_are_refused(void **state)
{
	static const char *bodies[] = {"<html>502 Bad Gateway</html>", "{}", "{\"error_code\":7}",
	    "[\"error_code\"]", "{\"error_code\":\"SMS.1\""};
	struct sms_error e = {0};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		assert_int_equal(sms_error_parse(bodies[i], strlen(bodies[i]), &e), -EBADMSG);
	assert_int_equal(sms_error_parse(NULL, 0, &e), -EBADMSG);
}

static void
test_long_error_message_is_truncated(void **state)
{
	char *b = padded("{\"error_code\":\"E.1\",\"error_msg\":\"", 'm', 4000, "\"}");
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	assert_int_equal(strlen(e.msg), SMS_MSG_MAX);
	free(b);
}

/* ---- builders ---- */

static void
test_action_body_matches_the_example(void **state)
{
	size_t len;
	char *example = load_example("sms-update-task-status.request.3.json", &len);
	cJSON *want = cJSON_ParseWithLength(example, len);
	char *body = sms_action_body("start");
	cJSON *got = cJSON_Parse(body);

	assert_string_equal(body, "{\"operation\":\"start\"}");
	assert_true(cJSON_Compare(want, got, 1));
	cJSON_Delete(want);
	cJSON_Delete(got);
	free(body);
	free(example);
}

static void
test_smn_body_has_ttl_as_a_string(void **state)
{
	char *body = sms_smn_publish_body("subj", "msg \"q\"", 3600);

	assert_string_equal(
	    body, "{\"subject\":\"subj\",\"message\":\"msg \\\"q\\\"\",\"time_to_live\":\"3600\"}");
	free(body);
}

static void
test_smn_subject_is_cut_at_512_bytes_on_a_character_boundary(void **state)
{
	char subject[700];
	char *body;
	cJSON *o;
	const char *got;

	/* 'a' then 3-byte characters: byte 512 falls inside one. */
	subject[0] = 'a';
	for (int i = 1; i + 3 < (int)sizeof(subject); i += 3)
		memcpy(subject + i, "\xe4\xb8\x80", 3);
	subject[sizeof(subject) - 1 - ((sizeof(subject) - 2) % 3)] = '\0';
	body = sms_smn_publish_body(subject, "m", 60);
	o = cJSON_Parse(body);
	got = cJSON_GetObjectItem(o, "subject")->valuestring;
	assert_true(strlen(got) <= 512);
	assert_int_equal(strlen(got), 511); /* 1 + 170 * 3 */
	cJSON_Delete(o);
	free(body);
}

static void
test_paths_encode_ids(void **state)
{
	char *p = sms_task_path("ab/c d");

	assert_string_equal(p, "/v3/tasks/ab%2Fc%20d");
	free(p);
	p = sms_task_action_path("t1");
	assert_string_equal(p, "/v3/tasks/t1/action");
	free(p);
	p = sms_speed_limit_path("t1");
	assert_string_equal(p, "/v3/tasks/t1/speed-limit");
	free(p);
	p = sms_tasks_by_source_query("s-1");
	assert_string_equal(p, "source_server_id=s-1&limit=200");
	free(p);
	p = sms_sources_by_ip_query("fe80::1");
	assert_string_equal(p, "ip=fe80%3A%3A1&limit=200");
	free(p);
	p = sms_sources_by_name_query("my host");
	assert_string_equal(p, "name=my%20host&limit=200");
	free(p);
}

static void
test_smn_urn_parts_and_path(void **state)
{
	char *region = NULL, *project = NULL, *topic = NULL, *path;

	assert_int_equal(
	    sms_smn_urn_parse("urn:smn:ap-southeast-3:0a1b2c:alerts", &region, &project, &topic),
	    0);
	assert_string_equal(region, "ap-southeast-3");
	assert_string_equal(project, "0a1b2c");
	assert_string_equal(topic, "alerts");
	path = sms_smn_publish_path("urn:smn:ap-southeast-3:0a1b2c:alerts");
	assert_string_equal(path,
	    "/v2/0a1b2c/notifications/topics/urn%3Asmn%3Aap-southeast-3%3A0a1b2c%3Aalerts/publish");
	free(region);
	free(project);
	free(topic);
	free(path);
}

static void
test_bad_smn_urns_are_refused(void **state)
{
	static const char *urns[] = {"", "urn:smn:", "urn:smn:r:p", "urn:smn:r::t",
	    "urn:smn:r:p:t:extra", "urn:sns:r:p:t", "urn:smn:r/x:p:t"};

	for (size_t i = 0; i < sizeof(urns) / sizeof(urns[0]); i++) {
		assert_int_equal(sms_smn_urn_parse(urns[i], NULL, NULL, NULL), -EINVAL);
		assert_null(sms_smn_publish_path(urns[i]));
	}
}

/* The list outgrew main(): one line per behaviour. */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_show_task_example_parses),
    cmocka_unit_test(test_show_task_example_current_subtask_is_first_without_end_date),
    cmocka_unit_test(test_subtask_is_the_running_one),
    cmocka_unit_test(test_subtask_is_the_last_when_all_ended),
    cmocka_unit_test(test_no_subtasks_means_unknown_progress),
    cmocka_unit_test(test_error_json_string_inside_json_is_decoded),
    cmocka_unit_test(test_error_json_without_a_code_or_with_a_param_of_another_type),
    cmocka_unit_test(test_error_json_with_empty_param_array),
    cmocka_unit_test(test_error_json_accepts_a_plain_array_param),
    cmocka_unit_test(test_error_json_empty_string_means_no_error),
    cmocka_unit_test(test_error_json_parse_refuses_malformed_text),
    cmocka_unit_test(test_error_json_keeps_what_is_good),
    cmocka_unit_test(test_error_json_over_1024_bytes_is_refused),
    cmocka_unit_test(test_error_params_beyond_the_cap_are_dropped),
    cmocka_unit_test(test_unknown_state_keeps_the_raw_string),
    cmocka_unit_test(test_every_known_state_maps),
    cmocka_unit_test(test_nulls_everywhere_are_accepted),
    cmocka_unit_test(test_an_id_and_a_state_are_enough),
    cmocka_unit_test(test_missing_id_is_refused),
    cmocka_unit_test(test_missing_state_is_refused),
    cmocka_unit_test(test_extra_fields_are_ignored),
    cmocka_unit_test(test_connected_tristate),
    cmocka_unit_test(test_running_numbers_are_kept),
    cmocka_unit_test(test_unusable_id_or_state_makes_the_answer_bad),
    cmocka_unit_test(test_truncated_json_is_refused),
    cmocka_unit_test(test_overlong_id_is_refused),
    cmocka_unit_test(test_overlong_state_is_refused),
    cmocka_unit_test(test_overlong_name_is_truncated),
    cmocka_unit_test(test_overlong_name_is_cut_between_characters),
    cmocka_unit_test(test_huge_body_is_refused),
    cmocka_unit_test(test_empty_body_is_refused),
    cmocka_unit_test(test_list_tasks_example_parses),
    cmocka_unit_test(test_list_without_tasks_is_empty),
    cmocka_unit_test(test_list_drops_only_the_items_without_id_or_state),
    cmocka_unit_test(test_list_of_only_unusable_items_is_empty),
    cmocka_unit_test(test_list_that_is_not_an_array_is_refused),
    cmocka_unit_test(test_list_over_200_items_is_refused),
    cmocka_unit_test(test_show_server_example_parses),
    cmocka_unit_test(test_list_servers_example_parses),
    cmocka_unit_test(test_source_without_id_is_refused),
    cmocka_unit_test(test_show_task_field_of_the_wrong_type_is_unknown_and_the_rest_is_used),
    cmocka_unit_test(test_show_task_field_with_a_bad_value_is_unknown_and_the_rest_is_used),
    cmocka_unit_test(test_show_task_sync_fail_with_error_json_not_json_is_used),
    cmocka_unit_test(test_show_task_unreadable_sub_task_is_skipped),
    cmocka_unit_test(test_show_task_fraction_of_progress_is_cut),
    cmocka_unit_test(test_empty_strings_and_zero_dates_are_absent_not_malformed),
    cmocka_unit_test(test_every_degraded_field_is_named_once),
    cmocka_unit_test(test_error_json_text_is_made_printable),
    cmocka_unit_test(test_list_tasks_field_of_the_wrong_type_leaves_the_list_and_other_tasks_whole),
    cmocka_unit_test(test_show_source_field_of_the_wrong_type_is_unknown_and_the_rest_is_used),
    cmocka_unit_test(
        test_list_sources_field_of_the_wrong_type_leaves_the_list_and_other_sources_whole),
    cmocka_unit_test(test_unusable_source_id_makes_the_answer_bad_and_drops_the_list_item),
    cmocka_unit_test(test_long_note_says_more_was_left_out),
    cmocka_unit_test(test_speed_limits_example_parses),
    cmocka_unit_test(test_speed_limits_accept_unpadded_hours),
    cmocka_unit_test(test_speed_limits_refuse_six_periods_and_bad_times),
    cmocka_unit_test(test_speed_limits_with_a_malformed_field_are_refused),
    cmocka_unit_test(test_hhmm_parsing),
    cmocka_unit_test(test_speed_limit_body_uses_hhmm_and_ends_at_2359),
    cmocka_unit_test(test_speed_limit_body_round_trips),
    cmocka_unit_test(test_speed_limit_body_refuses_more_than_five),
    cmocka_unit_test(test_empty_speed_limit_body_clears),
    cmocka_unit_test(test_sms_403_example_parses),
    cmocka_unit_test(test_apigw_error_with_request_id),
    cmocka_unit_test(test_smn_code_message_error),
    cmocka_unit_test(test_error_code_only_in_details),
    cmocka_unit_test(test_camel_case_error),
    cmocka_unit_test(test_garbage_error_bodies_are_refused),
    cmocka_unit_test(test_long_error_message_is_truncated),
    cmocka_unit_test(test_action_body_matches_the_example),
    cmocka_unit_test(test_smn_body_has_ttl_as_a_string),
    cmocka_unit_test(test_smn_subject_is_cut_at_512_bytes_on_a_character_boundary),
    cmocka_unit_test(test_paths_encode_ids),
    cmocka_unit_test(test_smn_urn_parts_and_path),
    cmocka_unit_test(test_bad_smn_urns_are_refused),
};

int
main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
