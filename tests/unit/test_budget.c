/* The recovery budget: sliding window, backoff with jitter, history that survives restarts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/budget.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
/* 2023-11-14 22:13:20 UTC: any fixed wall-clock time will do. */
#define T0 1700000000000LL

/* The defaults of [recovery]: budget = 6/1h, backoff = 30s..15m. */
static void
init_default(struct budget *b)
{
	budget_init(b, 6, HOUR, 30 * SEC, 15 * MIN);
}

static void
test_fresh_budget_allows_an_action(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	init_default(&b);
	assert_true(budget_allowed(&b, T0, &s));
	assert_int_equal(s.in_window, 0);
	assert_int_equal(s.max_actions, 6);
	assert_int_equal(s.failures, 0);
	assert_false(s.exhausted);
	assert_false(s.backing_off);
	assert_int_equal(s.last_ms, 0);
}

static void
test_record_counts_actions_in_window(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	init_default(&b);
	assert_int_equal(budget_record(&b, T0, BUDGET_RESUME), 1);
	assert_int_equal(budget_record(&b, T0 + SEC, BUDGET_RESTART_AGENT), 2);
	budget_allowed(&b, T0 + 2 * SEC, &s);
	assert_int_equal(s.in_window, 2);
	assert_int_equal(s.last_ms, T0 + SEC);
}

static void
test_full_window_refuses_until_oldest_leaves(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	init_default(&b);
	for (int i = 0; i < 6; i++) {
		budget_record(&b, T0 + i * MIN, BUDGET_RESUME);
		budget_finish(&b, BUDGET_RESUME, BUDGET_OK, T0 + i * MIN, 0);
	}
	assert_false(budget_allowed(&b, T0 + 10 * MIN, &s));
	assert_true(s.exhausted);
	assert_int_equal(s.in_window, 6);
	assert_int_equal(s.next_ms, T0 + HOUR);
}

static void
test_window_frees_after_period(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	init_default(&b);
	for (int i = 0; i < 6; i++) {
		budget_record(&b, T0 + i * MIN, BUDGET_RESUME);
		budget_finish(&b, BUDGET_RESUME, BUDGET_OK, T0 + i * MIN, 0);
	}
	assert_false(budget_allowed(&b, T0 + HOUR - 1, NULL));
	assert_true(budget_allowed(&b, T0 + HOUR, &s));
	assert_int_equal(s.in_window, 5);
}

static void
test_failed_actions_count_against_the_window_too(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	budget_init(&b, 2, HOUR, SEC, SEC);
	budget_record(&b, T0, BUDGET_RESUME);
	budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0, 0);
	budget_record(&b, T0 + 10 * SEC, BUDGET_RESUME);
	budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0 + 10 * SEC, 0);
	assert_false(budget_allowed(&b, T0 + MIN, &s));
	assert_true(s.exhausted);
}

static void
test_backoff_doubles_and_is_capped(void **state)
{
	(void)state;
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 0, 0), 0);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 1, 0), 30 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, 0), 60 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 3, 0), 120 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 5, 0), 480 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 6, 0), 15 * MIN);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 64, 0), 15 * MIN);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 1000000, 0), 15 * MIN);
}

static void
test_jitter_stays_within_twenty_percent_and_min_max(void **state)
{
	(void)state;
	/* 2 failures: 60 s ± 20 %. */
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, 1000), 72 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, -1000), 48 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, 500), 66 * SEC);
	/* Out-of-range jitter is clamped. */
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, 99999), 72 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 2, -99999), 48 * SEC);
	/* Never below min nor above max. */
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 1, -1000), 30 * SEC);
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 10, 1000), 15 * MIN);
	for (int j = -1000; j <= 1000; j += 50) {
		int64_t v = budget_backoff_ms(30 * SEC, 15 * MIN, 3, j);

		assert_true(v >= 96 * SEC && v <= 144 * SEC);
	}
}

static void
test_failure_starts_backoff_from_the_outcome(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	init_default(&b);
	budget_record(&b, T0, BUDGET_RESUME);
	assert_int_equal(budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0 + 2 * MIN, 0), 0);
	assert_false(budget_allowed(&b, T0 + 2 * MIN + 29 * SEC, &s));
	assert_true(s.backing_off);
	assert_false(s.exhausted);
	assert_int_equal(s.failures, 1);
	assert_int_equal(s.next_ms, T0 + 2 * MIN + 30 * SEC);
	assert_true(budget_allowed(&b, T0 + 2 * MIN + 30 * SEC, NULL));
}

static void
test_consecutive_failures_double_the_backoff(void **state)
{
	struct budget b;
	int64_t t = T0;

	(void)state;
	budget_init(&b, 100, HOUR, 30 * SEC, 15 * MIN);
	for (int i = 1; i <= 7; i++) {
		budget_record(&b, t, BUDGET_RESUME);
		budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, t, 0);
		assert_int_equal(b.failures, i);
		assert_int_equal(
		    b.backoff_until_ms - t, budget_backoff_ms(30 * SEC, 15 * MIN, i, 0));
		t = b.backoff_until_ms;
	}
	/* The seventh would be 32 min uncapped. */
	assert_int_equal(budget_backoff_ms(30 * SEC, 15 * MIN, 7, 0), 15 * MIN);
}

static void
test_success_resets_failures_and_backoff(void **state)
{
	struct budget b;

	(void)state;
	init_default(&b);
	budget_record(&b, T0, BUDGET_RESUME);
	budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0, 0);
	budget_record(&b, T0 + MIN, BUDGET_RESUME);
	budget_finish(&b, BUDGET_RESUME, BUDGET_OK, T0 + 2 * MIN, 0);
	assert_int_equal(b.failures, 0);
	assert_true(budget_allowed(&b, T0 + 2 * MIN, NULL));
}

static void
test_finish_applies_to_newest_pending_of_that_kind(void **state)
{
	struct budget b;

	(void)state;
	init_default(&b);
	budget_record(&b, T0, BUDGET_RESUME);
	budget_record(&b, T0 + SEC, BUDGET_RESTART_AGENT);
	assert_int_equal(budget_finish(&b, BUDGET_RESUME, BUDGET_OK, T0 + 2 * SEC, 0), 0);
	assert_int_equal(b.hist[0].outcome, BUDGET_OK);
	assert_int_equal(b.hist[1].outcome, BUDGET_PENDING);
}

static void
test_finish_without_pending_action_changes_nothing(void **state)
{
	struct budget b;

	(void)state;
	init_default(&b);
	assert_int_equal(budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0, 0), -ENOENT);
	assert_int_equal(b.failures, 0);
	budget_record(&b, T0, BUDGET_RESUME);
	assert_int_equal(budget_finish(&b, BUDGET_RESUME, BUDGET_PENDING, T0, 0), -EINVAL);
}

static void
test_forgive_frees_the_window_and_clears_backoff(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	budget_init(&b, 1, HOUR, 30 * SEC, 15 * MIN);
	budget_record(&b, T0, BUDGET_RESUME);
	budget_finish(&b, BUDGET_RESUME, BUDGET_FAILED, T0, 0);
	assert_false(budget_allowed(&b, T0 + MIN, NULL));
	budget_forgive(&b, T0 + MIN);
	assert_true(budget_allowed(&b, T0 + MIN, &s));
	assert_int_equal(s.in_window, 0);
	assert_int_equal(s.failures, 0);
	/* The history is still there for status. */
	assert_int_equal(b.count, 1);
	/* New actions count again. */
	budget_record(&b, T0 + 2 * MIN, BUDGET_RESUME);
	assert_false(budget_allowed(&b, T0 + 2 * MIN, NULL));
}

static void
test_zero_budget_never_allows(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	budget_init(&b, 0, HOUR, SEC, SEC);
	assert_false(budget_allowed(&b, T0, &s));
	assert_true(s.exhausted);
	assert_int_equal(s.next_ms, 0);
}

static void
test_history_is_bounded(void **state)
{
	struct budget b;

	(void)state;
	budget_init(&b, 1000, HOUR, SEC, SEC);
	assert_int_equal(b.max_actions, BUDGET_HISTORY_MAX);
	for (int i = 0; i < BUDGET_HISTORY_MAX + 10; i++)
		budget_record(&b, T0 + i, BUDGET_RESUME);
	assert_int_equal(b.count, BUDGET_HISTORY_MAX);
	assert_int_equal(b.hist[0].time_ms, T0 + 10);
	assert_int_equal(b.hist[BUDGET_HISTORY_MAX - 1].time_ms, T0 + BUDGET_HISTORY_MAX + 9);
}

static void
test_clock_stepping_back_keeps_history_sorted_and_counted(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	budget_init(&b, 2, HOUR, SEC, SEC);
	budget_record(&b, T0 + HOUR, BUDGET_RESUME);
	budget_record(&b, T0, BUDGET_RESUME);
	assert_true(b.hist[0].time_ms <= b.hist[1].time_ms);
	budget_allowed(&b, T0, &s);
	assert_int_equal(s.in_window, 2);
}

static void
test_smaller_budget_after_reload_waits_for_enough_to_leave(void **state)
{
	struct budget b;
	struct budget_status s;

	(void)state;
	budget_init(&b, 6, HOUR, SEC, SEC);
	for (int i = 0; i < 4; i++)
		budget_record(&b, T0 + i * MIN, BUDGET_RESUME);
	budget_configure(&b, 2, HOUR, SEC, SEC);
	assert_false(budget_allowed(&b, T0 + 10 * MIN, &s));
	/* 4 counted, limit 2: allowed again when the third-newest leaves, i.e. the 3rd entry. */
	assert_int_equal(s.next_ms, T0 + 2 * MIN + HOUR);
	assert_true(budget_allowed(&b, s.next_ms, NULL));
}

static void
test_history_survives_json_round_trip(void **state)
{
	struct budget a, b;
	struct budget_status sa, sb;
	cJSON *j;

	(void)state;
	init_default(&a);
	budget_record(&a, T0, BUDGET_RESUME);
	budget_finish(&a, BUDGET_RESUME, BUDGET_FAILED, T0 + SEC, 0);
	budget_record(&a, T0 + 2 * MIN, BUDGET_RESTART_AGENT);
	budget_forgive(&a, T0 - 5 * MIN);
	budget_record(&a, T0 + 3 * MIN, BUDGET_RESUME);
	budget_finish(&a, BUDGET_RESUME, BUDGET_FAILED, T0 + 3 * MIN, 0);
	j = budget_to_json(&a);

	init_default(&b);
	assert_int_equal(budget_from_json(&b, j, T0 + 4 * MIN), 3);
	cJSON_Delete(j);
	assert_int_equal(b.count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b.hist[i].time_ms, a.hist[i].time_ms);
		assert_int_equal(b.hist[i].kind, a.hist[i].kind);
		assert_int_equal(b.hist[i].outcome, a.hist[i].outcome);
	}
	assert_int_equal(b.failures, a.failures);
	assert_int_equal(b.backoff_until_ms, a.backoff_until_ms);
	assert_int_equal(b.forgiven_ms, a.forgiven_ms);
	budget_allowed(&a, T0 + 4 * MIN, &sa);
	budget_allowed(&b, T0 + 4 * MIN, &sb);
	assert_int_equal(sa.in_window, sb.in_window);
	assert_int_equal(sa.allowed, sb.allowed);
	assert_int_equal(sa.next_ms, sb.next_ms);
}

static void
test_from_json_skips_bad_entries(void **state)
{
	struct budget b;
	cJSON *j;

	(void)state;
	init_default(&b);
	j = cJSON_Parse(
	    "{\"failures\":\"x\",\"actions\":["
	    "{\"time_ms\":1700000000000,\"kind\":\"resume\",\"outcome\":\"ok\"},"
	    "{\"time_ms\":-5,\"kind\":\"resume\",\"outcome\":\"ok\"},"
	    "{\"time_ms\":1700000001000,\"kind\":\"explode\",\"outcome\":\"ok\"},"
	    "{\"time_ms\":1700000002000,\"kind\":\"resume\",\"outcome\":\"maybe\"},"
	    "{\"time_ms\":\"soon\",\"kind\":\"resume\",\"outcome\":\"ok\"},"
	    "{\"time_ms\":1e300,\"kind\":\"resume\",\"outcome\":\"ok\"},"
	    "{\"kind\":\"resume\",\"outcome\":\"ok\"},"
	    "42, null, [], \"resume\","
	    "{\"time_ms\":1700000003000,\"kind\":\"restart_agent\",\"outcome\":\"pending\"}"
	    "]}");
	assert_non_null(j);
	assert_int_equal(budget_from_json(&b, j, T0 + HOUR), 2);
	cJSON_Delete(j);
	assert_int_equal(b.hist[0].time_ms, T0);
	assert_int_equal(b.hist[1].kind, BUDGET_RESTART_AGENT);
	assert_int_equal(b.hist[1].outcome, BUDGET_PENDING);
	assert_int_equal(b.failures, 0);
}

static void
test_from_json_keeps_only_the_newest(void **state)
{
	struct budget b;
	cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "actions");

	(void)state;
	for (int i = 0; i < BUDGET_HISTORY_MAX + 44; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "time_ms", (double)(T0 + i * SEC));
		cJSON_AddStringToObject(e, "kind", "resume");
		cJSON_AddStringToObject(e, "outcome", "ok");
		cJSON_AddItemToArray(arr, e);
	}
	init_default(&b);
	assert_int_equal(budget_from_json(&b, j, T0 + HOUR), BUDGET_HISTORY_MAX);
	cJSON_Delete(j);
	assert_int_equal(b.hist[0].time_ms, T0 + 44 * SEC);
}

static void
test_from_json_pulls_future_times_back_to_now(void **state)
{
	struct budget b;
	cJSON *j;

	(void)state;
	init_default(&b);
	j = cJSON_Parse("{\"failures\":3,\"backoff_until_ms\":4000000000000,"
	                "\"forgiven_ms\":4000000000000,\"actions\":["
	                "{\"time_ms\":4000000000000,\"kind\":\"resume\",\"outcome\":\"failed\"}]}");
	assert_non_null(j);
	assert_int_equal(budget_from_json(&b, j, T0), 1);
	cJSON_Delete(j);
	assert_int_equal(b.hist[0].time_ms, T0);
	assert_int_equal(b.forgiven_ms, T0);
	/* A corrupt backoff cannot block for longer than backoff_max. */
	assert_int_equal(b.backoff_until_ms, T0 + 15 * MIN);
	assert_int_equal(b.failures, 3);
}

static void
test_from_json_sorts_unsorted_history(void **state)
{
	struct budget b;
	cJSON *j;

	(void)state;
	init_default(&b);
	j = cJSON_Parse("{\"actions\":["
	                "{\"time_ms\":1700000002000,\"kind\":\"resume\",\"outcome\":\"ok\"},"
	                "{\"time_ms\":1700000000000,\"kind\":\"resume\",\"outcome\":\"ok\"},"
	                "{\"time_ms\":1700000001000,\"kind\":\"resume\",\"outcome\":\"ok\"}]}");
	assert_int_equal(budget_from_json(&b, j, T0 + HOUR), 3);
	cJSON_Delete(j);
	assert_int_equal(b.hist[0].time_ms, T0);
	assert_int_equal(b.hist[1].time_ms, T0 + SEC);
	assert_int_equal(b.hist[2].time_ms, T0 + 2 * SEC);
}

static void
test_from_json_refuses_non_objects(void **state)
{
	struct budget b;
	cJSON *j = cJSON_CreateArray();

	(void)state;
	init_default(&b);
	budget_record(&b, T0, BUDGET_RESUME);
	assert_int_equal(budget_from_json(&b, j, T0), -EINVAL);
	assert_int_equal(budget_from_json(&b, NULL, T0), -EINVAL);
	cJSON_Delete(j);
	assert_int_equal(b.count, 0);
	assert_int_equal(b.max_actions, 6);
}

static void
test_names_round_trip(void **state)
{
	(void)state;
	for (int k = 0; k < BUDGET_KIND_COUNT; k++)
		assert_int_equal(budget_kind_from_name(budget_kind_name(k)), k);
	for (int o = 0; o < BUDGET_OUTCOME_COUNT; o++)
		assert_int_equal(budget_outcome_from_name(budget_outcome_name(o)), o);
	assert_int_equal(budget_kind_from_name("nope"), -1);
	assert_int_equal(budget_kind_from_name(NULL), -1);
	assert_string_equal(budget_kind_name(99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fresh_budget_allows_an_action),
	    cmocka_unit_test(test_record_counts_actions_in_window),
	    cmocka_unit_test(test_full_window_refuses_until_oldest_leaves),
	    cmocka_unit_test(test_window_frees_after_period),
	    cmocka_unit_test(test_failed_actions_count_against_the_window_too),
	    cmocka_unit_test(test_backoff_doubles_and_is_capped),
	    cmocka_unit_test(test_jitter_stays_within_twenty_percent_and_min_max),
	    cmocka_unit_test(test_failure_starts_backoff_from_the_outcome),
	    cmocka_unit_test(test_consecutive_failures_double_the_backoff),
	    cmocka_unit_test(test_success_resets_failures_and_backoff),
	    cmocka_unit_test(test_finish_applies_to_newest_pending_of_that_kind),
	    cmocka_unit_test(test_finish_without_pending_action_changes_nothing),
	    cmocka_unit_test(test_forgive_frees_the_window_and_clears_backoff),
	    cmocka_unit_test(test_zero_budget_never_allows),
	    cmocka_unit_test(test_history_is_bounded),
	    cmocka_unit_test(test_clock_stepping_back_keeps_history_sorted_and_counted),
	    cmocka_unit_test(test_smaller_budget_after_reload_waits_for_enough_to_leave),
	    cmocka_unit_test(test_history_survives_json_round_trip),
	    cmocka_unit_test(test_from_json_skips_bad_entries),
	    cmocka_unit_test(test_from_json_keeps_only_the_newest),
	    cmocka_unit_test(test_from_json_pulls_future_times_back_to_now),
	    cmocka_unit_test(test_from_json_sorts_unsorted_history),
	    cmocka_unit_test(test_from_json_refuses_non_objects),
	    cmocka_unit_test(test_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
