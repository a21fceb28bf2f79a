/*
 * A malformed field degrades that field only: it becomes unknown, its bit is
 * set and the note names it, and the rest of the answer is used
 * (src/sms_field.c, through the parsers of src/sms_parse.c).
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

/* The list outgrew main(): one line per behaviour. */
static const struct CMUnitTest tests[] = {
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
};

int
main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
