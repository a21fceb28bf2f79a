#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/events.h"

static void
test_names_round_trip_for_every_type(void **state)
{
	for (int t = 0; t < EV_TYPE_COUNT; t++)
		assert_int_equal(event_type_from_name(event_type_name((enum event_type)t)), t);
	assert_int_equal(event_type_from_name("world_ended"), -1);
	assert_int_equal(event_type_from_name(NULL), -1);
}

static void
test_ring_keeps_the_newest_200_oldest_first(void **state)
{
	struct event_ring r;
	char msg[32];

	events_init(&r);
	for (int i = 0; i < 250; i++) {
		snprintf(msg, sizeof(msg), "e%d", i);
		events_add(&r, 1000 * i, EV_TARGET_DOWN, NULL, msg);
	}
	assert_int_equal(r.count, EVENTS_RING_SIZE);
	assert_string_equal(events_get(&r, 0)->message, "e50");
	assert_string_equal(events_get(&r, EVENTS_RING_SIZE - 1)->message, "e249");
	assert_null(events_get(&r, EVENTS_RING_SIZE));
	assert_true(events_get(&r, 0)->seq < events_get(&r, 1)->seq);
	events_clear(&r);
}

static void
test_details_are_flattened_but_never_override_the_event(void **state)
{
	struct event_ring r;
	cJSON *d = cJSON_CreateObject(), *o;

	events_init(&r);
	cJSON_AddNumberToObject(d, "port", 8899);
	cJSON_AddStringToObject(d, "type", "forged");
	events_add(&r, 1700000000123, EV_TARGET_DOWN, d, "port down");
	o = event_to_json(events_get(&r, 0));
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "target_down");
	assert_int_equal(cJSON_GetObjectItem(o, "port")->valueint, 8899);
	assert_int_equal((long long)cJSON_GetObjectItem(o, "time")->valuedouble, 1700000000);
	cJSON_Delete(o);
	events_clear(&r);
}

static void
test_json_round_trip_keeps_order_details_and_sequence(void **state)
{
	struct event_ring a, b;
	cJSON *arr, *d;

	events_init(&a);
	events_init(&b);
	for (int i = 0; i < 5; i++) {
		d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "n", i);
		events_add(&a, 1000 + i, (enum event_type)(i % EV_TYPE_COUNT), d, "m");
	}
	arr = events_to_json(&a, 0);
	assert_int_equal(events_from_json(&b, arr), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(events_get(&b, i)->type, events_get(&a, i)->type);
		assert_int_equal(events_get(&b, i)->seq, events_get(&a, i)->seq);
		assert_int_equal(cJSON_GetObjectItem(events_get(&b, i)->details, "n")->valueint, i);
	}
	/* New events continue the sequence after a restore. */
	assert_true(events_add(&b, 2000, EV_TARGET_UP, NULL, "x")->seq > events_get(&a, 4)->seq);
	cJSON_Delete(arr);
	events_clear(&a);
	events_clear(&b);
}

static void
test_restore_skips_malformed_entries(void **state)
{
	struct event_ring r;
	cJSON *arr = cJSON_Parse("[1, {\"type\":\"nope\",\"message\":\"m\",\"time_ms\":1},"
	                         "{\"type\":\"target_up\",\"message\":5,\"time_ms\":1},"
	                         "{\"type\":\"target_up\",\"message\":\"m\",\"time_ms\":1e300},"
	                         "{\"type\":\"target_up\",\"message\":\"m\",\"time_ms\":-1},"
	                         "{\"type\":\"target_up\",\"message\":\"ok\",\"time_ms\":5}]");

	events_init(&r);
	assert_int_equal(events_from_json(&r, arr), 1);
	assert_string_equal(events_get(&r, 0)->message, "ok");
	assert_int_equal(events_from_json(&r, NULL), 0);
	cJSON_Delete(arr);
	events_clear(&r);
}

static void
test_newest_n_are_returned_oldest_first(void **state)
{
	struct event_ring r;
	cJSON *arr;
	char msg[16];

	events_init(&r);
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "e%d", i);
		events_add(&r, i, EV_TASK_RUNNING, NULL, msg);
	}
	arr = events_to_json(&r, 3);
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "message")->valuestring, "e7");
	cJSON_Delete(arr);
	events_clear(&r);
}

/* The seq of each item of an events array, in order, into seqs; returns how many. */
static int
array_seqs(const cJSON *arr, uint64_t *seqs, int max)
{
	const cJSON *o;
	int n = 0;

	cJSON_ArrayForEach(o, arr)
	{
		assert_true(n < max);
		seqs[n++] = (uint64_t)cJSON_GetObjectItem(o, "seq")->valuedouble;
	}
	return n;
}

static void
test_since_returns_only_the_later_events_oldest_first(void **state)
{
	struct event_ring r;
	uint64_t seqs[16];
	cJSON *arr;

	events_init(&r);
	for (int i = 0; i < 10; i++)
		events_add(&r, i, EV_TASK_RUNNING, NULL, "m");
	arr = events_since_json(&r, 7, 0);
	assert_int_equal(array_seqs(arr, seqs, 16), 3);
	assert_int_equal(seqs[0], 8);
	assert_int_equal(seqs[2], 10);
	cJSON_Delete(arr);
	arr = events_since_json(&r, 10, 0);
	assert_int_equal(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);
	arr = events_since_json(&r, 0, 0);
	assert_int_equal(cJSON_GetArraySize(arr), 10);
	cJSON_Delete(arr);
	events_clear(&r);
}

static void
test_since_with_n_gives_the_newest_n_of_the_later_events(void **state)
{
	struct event_ring r;
	uint64_t seqs[16];
	cJSON *arr;

	events_init(&r);
	for (int i = 0; i < 10; i++)
		events_add(&r, i, EV_TASK_RUNNING, NULL, "m");
	arr = events_since_json(&r, 2, 3);
	assert_int_equal(array_seqs(arr, seqs, 16), 3);
	assert_int_equal(seqs[0], 8);
	assert_int_equal(seqs[2], 10);
	cJSON_Delete(arr);
	events_clear(&r);
}

static void
test_since_before_the_oldest_held_gives_the_whole_ring(void **state)
{
	struct event_ring r;
	cJSON *arr;

	events_init(&r);
	for (int i = 0; i < 250; i++)
		events_add(&r, i, EV_TASK_RUNNING, NULL, "m");
	/* Events 1..50 have left the ring: a follower that saw only 10 gets what is left. */
	arr = events_since_json(&r, 10, 0);
	assert_int_equal(cJSON_GetArraySize(arr), EVENTS_RING_SIZE);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "seq")->valuedouble, 51);
	cJSON_Delete(arr);
	events_clear(&r);
}

static void
test_last_seq_is_the_newest_events_or_zero(void **state)
{
	struct event_ring r;

	events_init(&r);
	assert_int_equal(events_last_seq(&r), 0);
	events_add(&r, 1, EV_TARGET_DOWN, NULL, "a");
	events_add(&r, 2, EV_TARGET_UP, NULL, "b");
	assert_int_equal(events_last_seq(&r), 2);
	events_clear(&r);
	assert_int_equal(events_last_seq(&r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_round_trip_for_every_type),
	    cmocka_unit_test(test_ring_keeps_the_newest_200_oldest_first),
	    cmocka_unit_test(test_details_are_flattened_but_never_override_the_event),
	    cmocka_unit_test(test_json_round_trip_keeps_order_details_and_sequence),
	    cmocka_unit_test(test_restore_skips_malformed_entries),
	    cmocka_unit_test(test_newest_n_are_returned_oldest_first),
	    cmocka_unit_test(test_since_returns_only_the_later_events_oldest_first),
	    cmocka_unit_test(test_since_with_n_gives_the_newest_n_of_the_later_events),
	    cmocka_unit_test(test_since_before_the_oldest_held_gives_the_whole_ring),
	    cmocka_unit_test(test_last_seq_is_the_newest_events_or_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
