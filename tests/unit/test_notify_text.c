/*
 * What the sinks are sent: the SMN subject and message, the webhook's
 * CloudEvent (DESIGN.md §5.7, structured mode) and the hook's variables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/events.h"
#include "smsguard/notify_text.h"
#include "smsguard/util.h"

#define T0 1767225600000 /* 2026-01-01T00:00:00Z */

static const struct notify_context ctx_on = {"src-01", true, true};
static const struct notify_context ctx_off = {"src-01", false, false};

static struct notify_item *
item(enum event_type t, const char *msg, const char *task_id, const char *task_name)
{
	struct event e;
	struct notify_item *it;

	memset(&e, 0, sizeof(e));
	e.seq = 42;
	e.time_ms = T0 + 3723456; /* 01:02:03.456 */
	e.type = t;
	util_strlcpy(e.message, msg, sizeof(e.message));
	e.details = cJSON_CreateObject();
	if (task_id != NULL)
		cJSON_AddStringToObject(e.details, "task_id", task_id);
	cJSON_AddStringToObject(e.details, "error_code", "SMS.2802");
	it = notify_item_new("src-01", &e, task_id, task_name);
	cJSON_Delete(e.details);
	return it;
}

static void
test_rfc3339_is_utc_with_milliseconds(void **state)
{
	char buf[40];

	notify_rfc3339(T0 + 3723456, buf, sizeof(buf));
	assert_string_equal(buf, "2026-01-01T01:02:03.456Z");
	notify_rfc3339(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	notify_rfc3339(-5, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void
test_subject_names_host_and_type(void **state)
{
	struct notify_item *it = item(EV_TASK_RESUMED, "resuming", "t-1", "web");
	char *s = notify_subject(&ctx_on, it);

	assert_string_equal(s, "smsguard on src-01: task_resumed");
	free(s);
	notify_item_free(it);
}

static void
test_message_is_a_paragraph_with_host_task_what_and_next(void **state)
{
	struct notify_item *it = item(EV_TARGET_DOWN,
	    "port 22 down (timeout) while the task is RUNNING", "3d0c6a52", "web migration");
	char *m = notify_message(&ctx_on, it);

	assert_string_equal(m,
	    "smsguard on src-01, watching SMS task web migration (3d0c6a52): port 22 down "
	    "(timeout) while the task is RUNNING. If SMS fails the task over it, smsguard resumes "
	    "the task once every port has been up again for the settle time. target_down at "
	    "2026-01-01 01:02:03 UTC, event id src-01-42-1767229323456.");
	free(m);
	notify_item_free(it);
}

static void
test_message_follows_the_configuration(void **state)
{
	struct notify_item *down =
	    item(EV_AGENT_DOWN, "SMS-Agent (linuxmain) is not running", "t", NULL);
	char *on = notify_message(&ctx_on, down), *off = notify_message(&ctx_off, down);

	assert_non_null(strstr(on, "smsguard restarts SMS-Agent"));
	assert_non_null(strstr(off, "restart = never: SMS-Agent waits for a person"));
	/* A task without a name is named by its id. */
	assert_non_null(strstr(on, "watching SMS task t: SMS-Agent"));
	free(on);
	free(off);
	notify_item_free(down);
}

static void
test_message_without_task_and_with_its_own_next_step(void **state)
{
	struct notify_item *it = item(EV_TASK_FAILED,
	    "task MIGRATE_FAIL with SMS.2802 (cannot connect): will resume once the link is back.",
	    NULL, NULL);
	char *m = notify_message(&ctx_on, it);

	/* No task, no second full stop, no empty next step. */
	assert_string_equal(m,
	    "smsguard on src-01: task MIGRATE_FAIL with SMS.2802 (cannot connect): will resume "
	    "once the link is back. task_failed at 2026-01-01 01:02:03 UTC, event id "
	    "src-01-42-1767229323456.");
	free(m);
	notify_item_free(it);
}

static void
test_message_has_no_brackets_or_control_characters(void **state)
{
	struct notify_item *it = item(EV_RATELIMIT_FAILED,
	    "refused: [SMS.6102] \xe3\x80\x90limit\xe3\x80\x91 bad\nline\t", "t", "n[1]");
	char *m = notify_message(&ctx_on, it);

	assert_null(strpbrk(m, "[]\n\t"));
	assert_null(strstr(m, "\xe3\x80\x90"));
	assert_null(strstr(m, "\xe3\x80\x91"));
	assert_non_null(strstr(m, "task n(1) (t): refused: (SMS.6102) (limit) bad line . "));
	free(m);
	notify_item_free(it);
}

static void
test_cloudevent_is_structured_mode_1_0(void **state)
{
	struct notify_item *it = item(EV_TASK_RESUMED, "resuming the task", "3d0c6a52", "web");
	char *text = notify_cloudevent(&ctx_on, it);
	cJSON *o = cJSON_Parse(text), *data;

	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "specversion")->valuestring, "1.0");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring, "src-01-42-1767229323456");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "source")->valuestring, "smsguard://src-01");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "com.smsguard.task_resumed");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "time")->valuestring, "2026-01-01T01:02:03.456Z");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "datacontenttype")->valuestring,
	    "application/json");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "subject")->valuestring, "3d0c6a52");
	assert_int_equal(
	    cJSON_GetObjectItemCaseSensitive(o, "smsguardschema")->valueint, NOTIFY_SCHEMA_VERSION);
	data = cJSON_GetObjectItemCaseSensitive(o, "data");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(data, "type")->valuestring, "task_resumed");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(data, "message")->valuestring, "resuming the task");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(data, "seq")->valueint, 42);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(data, "error_code")->valuestring, "SMS.2802");
	cJSON_Delete(o);
	free(text);
	notify_item_free(it);
}

static void
test_cloudevent_without_task_has_no_subject(void **state)
{
	struct notify_item *it = item(EV_CLOCK_SKEW, "clock off", NULL, NULL);
	char *text = notify_cloudevent(&ctx_on, it);
	cJSON *o = cJSON_Parse(text);

	assert_null(cJSON_GetObjectItemCaseSensitive(o, "subject"));
	cJSON_Delete(o);
	free(text);
	notify_item_free(it);
}

static void
test_exec_vars(void **state)
{
	struct notify_item *it = item(EV_TASK_FAILED, "it failed", "3d0c6a52", "web");
	struct notify_var v[NOTIFY_EXEC_NVARS];
	cJSON *d;

	notify_exec_vars(&ctx_on, it, v);
	assert_string_equal(v[0].name, "SMSGUARD_EVENT");
	assert_string_equal(v[0].value, "task_failed");
	assert_string_equal(v[1].name, "SMSGUARD_MESSAGE");
	assert_string_equal(v[1].value, "it failed");
	assert_string_equal(v[2].name, "SMSGUARD_TIME");
	assert_string_equal(v[2].value, "2026-01-01T01:02:03.456Z");
	assert_string_equal(v[3].name, "SMSGUARD_TASK_ID");
	assert_string_equal(v[3].value, "3d0c6a52");
	assert_string_equal(v[4].name, "SMSGUARD_HOST");
	assert_string_equal(v[4].value, "src-01");
	assert_string_equal(v[5].name, "SMSGUARD_EVENT_ID");
	assert_string_equal(v[5].value, "src-01-42-1767229323456");
	assert_string_equal(v[6].name, "SMSGUARD_DETAILS");
	d = cJSON_Parse(v[6].value);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(d, "error_code")->valuestring, "SMS.2802");
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(d, "task_id")->valuestring, "3d0c6a52");
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "message"));
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "seq"));
	cJSON_Delete(d);
	notify_exec_vars_free(v);
	assert_null(v[0].value);
	notify_item_free(it);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc3339_is_utc_with_milliseconds),
	    cmocka_unit_test(test_subject_names_host_and_type),
	    cmocka_unit_test(test_message_is_a_paragraph_with_host_task_what_and_next),
	    cmocka_unit_test(test_message_follows_the_configuration),
	    cmocka_unit_test(test_message_without_task_and_with_its_own_next_step),
	    cmocka_unit_test(test_message_has_no_brackets_or_control_characters),
	    cmocka_unit_test(test_cloudevent_is_structured_mode_1_0),
	    cmocka_unit_test(test_cloudevent_without_task_has_no_subject),
	    cmocka_unit_test(test_exec_vars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
