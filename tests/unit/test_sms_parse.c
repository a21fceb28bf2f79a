/*
 * SMS/SMN answers: every official example parses with nothing degraded, an
 * answer without a usable id or state is refused, and odd input hurts nothing
 * (src/sms_parse.c).
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
#include "test_sms.h"

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
	assert_int_equal(p[0].threshold, 50); /* over_speed_threshold 50.0 */
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
	assert_int_equal(p[2].threshold, 0); /* not given */
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
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"8:00\",\"over_speed_threshold\":101}]"
	    "}",
	    "{\"speed_limit\":[{\"start\":\"0:00\",\"end\":\"8:00\",\"over_speed_threshold\":\"x\"}"
	    "]}",
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

/* Codes and request ids reach log lines as they are: anything but a token is left out. */
static void
test_error_code_or_request_id_that_is_not_a_token_is_left_out(void **state)
{
	const char *esc = "{\"error_code\":\"SMS.1\\u001b[31m\",\"error_msg\":\"m\"}";
	const char *latin1 = "{\"error_code\":\"SMS.\xbf\"}";
	const char *rid = "{\"error_code\":\"SMS.7703\",\"request_id\":\"a b\\nInjected: 1\"}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(esc, strlen(esc), &e), -EBADMSG);
	assert_string_equal(e.code, "");
	assert_string_equal(e.msg, "m");
	assert_int_equal(sms_error_parse(latin1, strlen(latin1), &e), -EBADMSG);
	assert_string_equal(e.code, "");
	assert_int_equal(sms_error_parse(rid, strlen(rid), &e), 0);
	assert_string_equal(e.code, "SMS.7703");
	assert_string_equal(e.request_id, "");
}

static void
test_error_message_is_made_printable(void **state)
{
	const char *b = "{\"error_code\":\"SMS.9004\",\"error_msg\":\"no\\nFAKE: line\\u001b[2J "
	                "\xe6\x97\xa0\xe6\x9d\x83\xe9\x99\x90 \xff\"}";
	struct sms_error e = {0};

	assert_int_equal(sms_error_parse(b, strlen(b), &e), 0);
	/* Control characters and broken UTF-8 become '?'; good UTF-8 (无权限) stays. */
	assert_string_equal(e.msg, "no?FAKE: line?[2J \xe6\x97\xa0\xe6\x9d\x83\xe9\x99\x90 ?");
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
    cmocka_unit_test(test_speed_limits_example_parses),
    cmocka_unit_test(test_speed_limits_accept_unpadded_hours),
    cmocka_unit_test(test_speed_limits_refuse_six_periods_and_bad_times),
    cmocka_unit_test(test_speed_limits_with_a_malformed_field_are_refused),
    cmocka_unit_test(test_hhmm_parsing),
    cmocka_unit_test(test_sms_403_example_parses),
    cmocka_unit_test(test_apigw_error_with_request_id),
    cmocka_unit_test(test_smn_code_message_error),
    cmocka_unit_test(test_error_code_only_in_details),
    cmocka_unit_test(test_camel_case_error),
    cmocka_unit_test(test_garbage_error_bodies_are_refused),
    cmocka_unit_test(test_long_error_message_is_truncated),
    cmocka_unit_test(test_error_code_or_request_id_that_is_not_a_token_is_left_out),
    cmocka_unit_test(test_error_message_is_made_printable),
};

int
main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
