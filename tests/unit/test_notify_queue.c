/*
 * The notification queues: order, the bound and what it drops, the head
 * that is being delivered, the backoff, and the round trip through
 * state.json with what a damaged file may hold.
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
#include "smsguard/notify_queue.h"
#include "smsguard/util.h"

/* An item for event number seq, its message "eSEQ". */
static struct notify_item *
item(uint64_t seq)
{
	struct event e;
	struct notify_item *it;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	e.time_ms = 1767225600000 + (int64_t)seq;
	e.type = EV_TARGET_DOWN;
	snprintf(e.message, sizeof(e.message), "e%llu", (unsigned long long)seq);
	e.details = cJSON_CreateObject();
	cJSON_AddStringToObject(e.details, "task_id", "t-1");
	it = notify_item_new("src-01", &e, "t-1", "web migration");
	cJSON_Delete(e.details);
	return it;
}

static const char *
msg_of(const struct notify_item *it)
{
	return cJSON_GetObjectItemCaseSensitive(it->event, "message")->valuestring;
}

/* The messages in the queue, oldest first, joined by ','. */
static char *
order(const struct notify_queue *q)
{
	static char buf[512];
	const struct notify_item *it;

	buf[0] = '\0';
	TAILQ_FOREACH(it, &q->items, entry)
	{
		if (buf[0] != '\0')
			strcat(buf, ",");
		strcat(buf, msg_of(it));
	}
	return buf;
}

static void
test_sink_names(void **state)
{
	assert_string_equal(notify_sink_name(NOTIFY_SMN), "smn");
	assert_string_equal(notify_sink_name(NOTIFY_WEBHOOK), "webhook");
	assert_string_equal(notify_sink_name(NOTIFY_EXEC), "exec");
	assert_string_equal(notify_sink_name(NOTIFY_SINK_COUNT), "unknown");
}

static void
test_event_id_is_host_seq_and_time(void **state)
{
	char id[NOTIFY_ID_MAX];
	struct notify_item *it = item(42);

	assert_string_equal(it->id, "src-01-42-1767225600042");
	assert_string_equal(it->task_id, "t-1");
	assert_string_equal(it->task_name, "web migration");
	assert_int_equal(it->type, EV_TARGET_DOWN);
	assert_string_equal(msg_of(it), "e42");
	notify_item_free(it);
	/* Anything but letters, digits, '.', '-' and '_' cannot reach a receiver's id. */
	notify_event_id("h\xc3\xa9 st/x", 7, 9, id, sizeof(id));
	assert_string_equal(id, "h___st_x-7-9");
	notify_event_id("", 1, 2, id, sizeof(id));
	assert_string_equal(id, "localhost-1-2");
}

static void
test_items_leave_in_order_and_a_failed_head_stays_first(void **state)
{
	struct notify_queue q;

	notify_queue_init(&q, 10);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(notify_queue_push(&q, item(i)), 0);
	assert_string_equal(order(&q), "e1,e2,e3");
	q.busy = true;
	notify_queue_failed(&q);
	assert_false(q.busy);
	assert_int_equal(q.failures, 1);
	assert_int_equal(notify_queue_head(&q)->attempts, 1);
	notify_queue_failed(&q);
	assert_string_equal(msg_of(notify_queue_head(&q)), "e1");
	assert_int_equal(q.failed, 2);
	notify_queue_delivered(&q);
	assert_int_equal(q.failures, 0);
	assert_int_equal(q.delivered, 1);
	assert_string_equal(order(&q), "e2,e3");
	assert_int_equal(q.count, 2);
	notify_queue_clear(&q);
	assert_int_equal(q.count, 0);
	assert_null(notify_queue_head(&q));
	/* Nothing to deliver: nothing counted. */
	notify_queue_delivered(&q);
	notify_queue_failed(&q);
	assert_int_equal(q.delivered, 1);
	assert_int_equal(q.failed, 2);
}

static void
test_full_queue_drops_the_oldest_and_counts_it(void **state)
{
	struct notify_queue q;

	notify_queue_init(&q, 3);
	for (uint64_t i = 1; i <= 3; i++)
		notify_queue_push(&q, item(i));
	q.failures = 4; /* e1 kept failing */
	assert_int_equal(notify_queue_push(&q, item(4)), 1);
	assert_string_equal(order(&q), "e2,e3,e4");
	assert_int_equal(q.dropped, 1);
	/* The new head never failed. */
	assert_int_equal(q.failures, 0);
	notify_queue_clear(&q);
}

static void
test_the_head_in_delivery_is_never_dropped(void **state)
{
	struct notify_queue q;

	notify_queue_init(&q, 3);
	for (uint64_t i = 1; i <= 3; i++)
		notify_queue_push(&q, item(i));
	q.busy = true;
	q.failures = 2;
	assert_int_equal(notify_queue_push(&q, item(4)), 1);
	assert_string_equal(order(&q), "e1,e3,e4");
	assert_int_equal(q.failures, 2);
	notify_queue_clear(&q);

	/* A queue of one that is being delivered: the newcomer is what goes. */
	notify_queue_init(&q, 1);
	notify_queue_push(&q, item(1));
	q.busy = true;
	assert_int_equal(notify_queue_push(&q, item(2)), 1);
	assert_string_equal(order(&q), "e1");
	assert_int_equal(q.dropped, 1);
	notify_queue_clear(&q);
}

static void
test_a_smaller_bound_drops_the_oldest_waiting(void **state)
{
	struct notify_queue q;

	notify_queue_init(&q, 10);
	for (uint64_t i = 1; i <= 6; i++)
		notify_queue_push(&q, item(i));
	q.busy = true;
	assert_int_equal(notify_queue_set_max(&q, 3), 3);
	assert_string_equal(order(&q), "e1,e5,e6");
	assert_int_equal(q.dropped, 3);
	assert_int_equal(notify_queue_set_max(&q, 100), 0);
	notify_queue_clear(&q);
}

static void
test_backoff_doubles_from_2s_to_5m_with_10_percent_jitter(void **state)
{
	assert_int_equal(notify_backoff_ms(0, 0), 0);
	assert_int_equal(notify_backoff_ms(1, 0), 2000);
	assert_int_equal(notify_backoff_ms(2, 0), 4000);
	assert_int_equal(notify_backoff_ms(3, 0), 8000);
	assert_int_equal(notify_backoff_ms(8, 0), 256000);
	assert_int_equal(notify_backoff_ms(9, 0), 300000);
	assert_int_equal(notify_backoff_ms(1000000, 0), 300000);
	assert_int_equal(notify_backoff_ms(1, 100), 2200);
	assert_int_equal(notify_backoff_ms(1, -100), 1800);
	/* The jitter is held to ±10 %. */
	assert_int_equal(notify_backoff_ms(9, 5000), 330000);
	assert_int_equal(notify_backoff_ms(9, -5000), 270000);
}

static void
test_state_round_trip_keeps_order_ids_and_attempts(void **state)
{
	struct notify_queue q, r;
	cJSON *a;
	char *text;

	notify_queue_init(&q, 10);
	for (uint64_t i = 1; i <= 3; i++)
		notify_queue_push(&q, item(i));
	notify_queue_failed(&q);
	a = notify_queue_to_json(&q);
	text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	a = cJSON_Parse(text);
	notify_queue_init(&r, 10);
	assert_int_equal(notify_queue_from_json(&r, a), 3);
	assert_string_equal(order(&r), "e1,e2,e3");
	assert_string_equal(notify_queue_head(&r)->id, "src-01-1-1767225600001");
	assert_string_equal(notify_queue_head(&r)->task_name, "web migration");
	assert_int_equal(notify_queue_head(&r)->attempts, 1);
	assert_int_equal(notify_queue_head(&r)->time_ms, 1767225600001);
	assert_int_equal(notify_queue_head(&r)->type, EV_TARGET_DOWN);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(notify_queue_head(&r)->event, "task_id")->valuestring,
	    "t-1");
	cJSON_Delete(a);
	free(text);
	notify_queue_clear(&q);
	notify_queue_clear(&r);
}

static void
test_restored_items_go_before_newer_ones_and_after_a_busy_head(void **state)
{
	struct notify_queue q, r;
	cJSON *a;

	notify_queue_init(&q, 10);
	notify_queue_push(&q, item(1));
	notify_queue_push(&q, item(2));
	a = notify_queue_to_json(&q);
	notify_queue_init(&r, 3);
	notify_queue_push(&r, item(7));
	notify_queue_push(&r, item(8));
	r.busy = true;
	assert_int_equal(notify_queue_from_json(&r, a), 2);
	/* Bound 3: of the waiting ones the oldest (e1) makes room. */
	assert_string_equal(order(&r), "e7,e2,e8");
	assert_int_equal(r.dropped, 1);
	notify_queue_clear(&r);
	notify_queue_init(&r, 10);
	notify_queue_push(&r, item(7));
	r.failures = 3;
	assert_int_equal(notify_queue_from_json(&r, a), 2);
	assert_string_equal(order(&r), "e1,e2,e7");
	assert_int_equal(r.failures, 0);
	cJSON_Delete(a);
	notify_queue_clear(&q);
	notify_queue_clear(&r);
}

static void
test_malformed_state_items_are_skipped(void **state)
{
	static const char *const bad[] = {
	    "[1]",
	    "[{\"event\":{\"type\":\"target_down\",\"message\":\"m\",\"time_ms\":1}}]",
	    "[{\"id\":\"\",\"event\":{\"type\":\"target_down\",\"message\":\"m\",\"time_ms\":1}}]",
	    "[{\"id\":\"a "
	    "b\",\"event\":{\"type\":\"target_down\",\"message\":\"m\",\"time_ms\":1}}]",
	    "[{\"id\":\"a\",\"event\":{\"type\":\"world_ended\",\"message\":\"m\",\"time_ms\":1}}]",
	    "[{\"id\":\"a\",\"event\":{\"type\":\"target_down\",\"time_ms\":1}}]",
	    "[{\"id\":\"a\",\"event\":{\"type\":\"target_down\",\"message\":\"m\",\"time_ms\":-1}}"
	    "]",
	    "[{\"id\":\"a\",\"event\":{\"type\":\"target_down\",\"message\":\"m\",\"time_ms\":"
	    "1e300}}]",
	    "[{\"id\":\"a\",\"task_id\":7,\"event\":{\"type\":\"target_down\",\"message\":\"m\","
	    "\"time_ms\":1}}]",
	    "[{\"id\":\"a\",\"event\":[]}]",
	    "{\"id\":\"a\"}",
	};
	struct notify_queue q;

	notify_queue_init(&q, 10);
	for (size_t i = 0; i < nitems(bad); i++) {
		cJSON *a = cJSON_Parse(bad[i]);

		assert_non_null(a);
		assert_int_equal(notify_queue_from_json(&q, a), 0);
		cJSON_Delete(a);
	}
	assert_int_equal(q.count, 0);
	assert_int_equal(notify_queue_from_json(&q, NULL), 0);
	/* The smallest good one, with a huge attempt count ignored. */
	{
		cJSON *a = cJSON_Parse("[{\"id\":\"h-1-1\",\"attempts\":1e99,\"event\":{\"type\":"
		                       "\"task_resumed\",\"message\":\"m\",\"time_ms\":5}}]");

		assert_int_equal(notify_queue_from_json(&q, a), 1);
		assert_int_equal(notify_queue_head(&q)->attempts, 0);
		assert_string_equal(notify_queue_head(&q)->task_id, "");
		cJSON_Delete(a);
	}
	notify_queue_clear(&q);
}

static void
test_dup_is_a_deep_copy(void **state)
{
	struct notify_item *a = item(3), *b = notify_item_dup(a);

	assert_string_equal(a->id, b->id);
	assert_ptr_not_equal(a->event, b->event);
	notify_item_free(a);
	assert_string_equal(msg_of(b), "e3");
	notify_item_free(b);
	notify_item_free(NULL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_names),
	    cmocka_unit_test(test_event_id_is_host_seq_and_time),
	    cmocka_unit_test(test_items_leave_in_order_and_a_failed_head_stays_first),
	    cmocka_unit_test(test_full_queue_drops_the_oldest_and_counts_it),
	    cmocka_unit_test(test_the_head_in_delivery_is_never_dropped),
	    cmocka_unit_test(test_a_smaller_bound_drops_the_oldest_waiting),
	    cmocka_unit_test(test_backoff_doubles_from_2s_to_5m_with_10_percent_jitter),
	    cmocka_unit_test(test_state_round_trip_keeps_order_ids_and_attempts),
	    cmocka_unit_test(test_restored_items_go_before_newer_ones_and_after_a_busy_head),
	    cmocka_unit_test(test_malformed_state_items_are_skipped),
	    cmocka_unit_test(test_dup_is_a_deep_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
