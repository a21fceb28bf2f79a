/*
 * SMS/SMN requests: bodies match the official examples, ids are
 * percent-encoded in paths, and SMN topic URNs are checked (src/sms_build.c).
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

/* ---- speed limit ---- */

static void
test_speed_limit_body_uses_hhmm_and_ends_at_2359(void **state)
{
	const struct schedule_period p[] = {{0, 480, 20, 0}, {480, 1440, 50, 0}};
	char *body = sms_speed_limit_body(p, 2, 0);

	assert_string_equal(body,
	    "{\"speed_limit\":[{\"start\":\"00:00\",\"end\":\"08:00\",\"speed\":20},"
	    "{\"start\":\"08:00\",\"end\":\"23:59\",\"speed\":50}]}");
	free(body);
}

static void
test_speed_limit_body_round_trips(void **state)
{
	const struct schedule_period p[] = {{60, 120, 10, 0}, {1320, 1439, 30, 0}};
	struct schedule_period back[SCHEDULE_MAX_PERIODS];
	char *body = sms_speed_limit_body(p, 2, 100);

	assert_non_null(strstr(body, "\"over_speed_threshold\":100"));
	assert_int_equal(sms_speed_limits_parse(body, strlen(body), back, NULL), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(back[i].start_min, p[i].start_min);
		assert_int_equal(back[i].end_min, p[i].end_min);
		assert_int_equal(back[i].mbps, p[i].mbps);
		assert_int_equal(back[i].threshold, 100); /* read back from the answer */
	}
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

static void
test_smn_default_endpoint_follows_the_sdks_table(void **state)
{
	static const char *const want[][2] = {
	    {"ap-southeast-3", "https://smn.ap-southeast-3.myhuaweicloud.com"},
	    {"cn-north-4", "https://smn.cn-north-4.myhuaweicloud.com"},
	    {"cn-north-2", "https://smn.cn-north-2.myhuaweicloud.cn"},
	    {"eu-west-101", "https://smn.eu-west-101.myhuaweicloud.eu"},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *url = sms_smn_default_endpoint(want[i][0]);

		assert_string_equal(url, want[i][1]);
		free(url);
	}
}

/* The list outgrew main(): one line per behaviour. */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_speed_limit_body_uses_hhmm_and_ends_at_2359),
    cmocka_unit_test(test_speed_limit_body_round_trips),
    cmocka_unit_test(test_speed_limit_body_refuses_more_than_five),
    cmocka_unit_test(test_empty_speed_limit_body_clears),
    cmocka_unit_test(test_action_body_matches_the_example),
    cmocka_unit_test(test_smn_body_has_ttl_as_a_string),
    cmocka_unit_test(test_smn_subject_is_cut_at_512_bytes_on_a_character_boundary),
    cmocka_unit_test(test_paths_encode_ids),
    cmocka_unit_test(test_smn_urn_parts_and_path),
    cmocka_unit_test(test_bad_smn_urns_are_refused),
    cmocka_unit_test(test_smn_default_endpoint_follows_the_sdks_table),
};

int
main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
