/* The fall/rise state machine of one target port, failure classes, latency. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/hysteresis.h"
#include "smsguard/task.h"

/* Feeds a string of results ('+' success, '-' failure); returns how many changed the state. */
static int
feed(struct hysteresis *h, const char *results)
{
	int changes = 0;

	for (const char *p = results; *p != '\0'; p++)
		if (hysteresis_feed(h, *p == '+'))
			changes++;
	return changes;
}

static void
test_new_port_is_unknown(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	assert_int_equal(h.state, PORT_UNKNOWN);
}

static void
test_unknown_goes_down_after_fall_failures(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	assert_false(hysteresis_feed(&h, false));
	assert_false(hysteresis_feed(&h, false));
	assert_int_equal(h.state, PORT_UNKNOWN);
	assert_true(hysteresis_feed(&h, false));
	assert_int_equal(h.state, PORT_DOWN);
}

static void
test_unknown_goes_up_after_rise_successes(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	assert_false(hysteresis_feed(&h, true));
	assert_int_equal(h.state, PORT_UNKNOWN);
	assert_true(hysteresis_feed(&h, true));
	assert_int_equal(h.state, PORT_UP);
}

static void
test_up_goes_down_after_fall_failures(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	feed(&h, "++");
	assert_int_equal(h.state, PORT_UP);
	assert_int_equal(feed(&h, "--"), 0);
	assert_int_equal(h.state, PORT_UP);
	assert_int_equal(feed(&h, "-"), 1);
	assert_int_equal(h.state, PORT_DOWN);
}

static void
test_down_goes_up_after_rise_successes(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	feed(&h, "---");
	assert_int_equal(h.state, PORT_DOWN);
	assert_int_equal(feed(&h, "+"), 0);
	assert_int_equal(h.state, PORT_DOWN);
	assert_int_equal(feed(&h, "+"), 1);
	assert_int_equal(h.state, PORT_UP);
}

static void
test_success_resets_the_failure_run(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	feed(&h, "++");
	feed(&h, "--+--");
	assert_int_equal(h.state, PORT_UP);
	assert_int_equal(h.fails, 2);
}

static void
test_failure_resets_the_success_run(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 3);
	feed(&h, "---");
	feed(&h, "++-++");
	assert_int_equal(h.state, PORT_DOWN);
	assert_int_equal(h.oks, 2);
}

static void
test_flapping_never_changes_state_when_no_run_completes(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 3);
	assert_int_equal(feed(&h, "+-+-++-+--+--++-"), 0);
	assert_int_equal(h.state, PORT_UNKNOWN);

	feed(&h, "+++");
	assert_int_equal(h.state, PORT_UP);
	assert_int_equal(feed(&h, "-+-+--+--+-++--+"), 0);
	assert_int_equal(h.state, PORT_UP);
}

static void
test_fall_one_rise_one_follows_every_result(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 1, 1);
	assert_int_equal(feed(&h, "+-+-"), 4);
	assert_int_equal(h.state, PORT_DOWN);
}

static void
test_fall_and_rise_below_one_are_taken_as_one(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 0, -5);
	assert_true(hysteresis_feed(&h, true));
	assert_int_equal(h.state, PORT_UP);
}

static void
test_repeated_results_do_not_report_a_change_again(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 2, 2);
	assert_int_equal(feed(&h, "----------"), 1);
	assert_int_equal(feed(&h, "++++++++++"), 1);
}

static void
test_long_runs_do_not_overflow_counters(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	for (int i = 0; i < 100000; i++)
		hysteresis_feed(&h, true);
	assert_int_equal(h.oks, 2);
	feed(&h, "---");
	assert_int_equal(h.state, PORT_DOWN);
}

static void
test_distrust_makes_up_unknown_until_rise_fresh_successes(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	feed(&h, "+++");
	assert_int_equal(h.state, PORT_UP);
	assert_true(hysteresis_distrust(&h));
	assert_int_equal(h.state, PORT_UNKNOWN);
	/* One fresh success is not enough: the run before the mark does not count. */
	assert_int_equal(feed(&h, "+"), 0);
	assert_int_equal(h.state, PORT_UNKNOWN);
	assert_int_equal(feed(&h, "+"), 1);
	assert_int_equal(h.state, PORT_UP);
}

static void
test_distrust_keeps_down_and_forgets_a_partial_rise(void **state)
{
	struct hysteresis h;

	hysteresis_init(&h, 3, 2);
	feed(&h, "---+");
	assert_int_equal(h.state, PORT_DOWN);
	assert_false(hysteresis_distrust(&h));
	assert_int_equal(h.state, PORT_DOWN);
	/* The success before the mark is forgotten: two more are needed. */
	assert_int_equal(feed(&h, "+"), 0);
	assert_int_equal(h.state, PORT_DOWN);
	assert_int_equal(feed(&h, "+"), 1);
	assert_int_equal(h.state, PORT_UP);
}

static void
test_state_names(void **state)
{
	assert_string_equal(hysteresis_state_name(PORT_UNKNOWN), "unknown");
	assert_string_equal(hysteresis_state_name(PORT_DOWN), "down");
	assert_string_equal(hysteresis_state_name(PORT_UP), "up");
	assert_string_equal(hysteresis_state_name((enum port_state)99), "unknown");
}

static void
test_class_names(void **state)
{
	assert_null(hysteresis_class_name(FAIL_NONE));
	assert_string_equal(hysteresis_class_name(FAIL_TIMEOUT), "timeout");
	assert_string_equal(hysteresis_class_name(FAIL_REFUSED), "refused");
	assert_string_equal(hysteresis_class_name(FAIL_UNREACHABLE), "unreachable");
	assert_string_equal(hysteresis_class_name(FAIL_OTHER), "other");
	assert_string_equal(hysteresis_class_name((enum fail_class)99), "other");
}

static void
test_classify_errnos_either_sign(void **state)
{
	assert_int_equal(hysteresis_classify(0), FAIL_NONE);
	assert_int_equal(hysteresis_classify(ECONNREFUSED), FAIL_REFUSED);
	assert_int_equal(hysteresis_classify(-ECONNREFUSED), FAIL_REFUSED);
	assert_int_equal(hysteresis_classify(-ETIMEDOUT), FAIL_TIMEOUT);
	assert_int_equal(hysteresis_classify(-EHOSTUNREACH), FAIL_UNREACHABLE);
	assert_int_equal(hysteresis_classify(ENETUNREACH), FAIL_UNREACHABLE);
	assert_int_equal(hysteresis_classify(-EACCES), FAIL_OTHER);
	assert_int_equal(hysteresis_classify(-EADDRNOTAVAIL), FAIL_OTHER);
}

static void
test_first_latency_sample_seeds_the_average(void **state)
{
	struct latency l = {0};

	hysteresis_latency_add(&l, 8.0);
	assert_true(l.have);
	assert_float_equal(l.last_ms, 8.0, 1e-9);
	assert_float_equal(l.smooth_ms, 8.0, 1e-9);
}

static void
test_latency_average_moves_by_one_eighth(void **state)
{
	struct latency l = {0};

	hysteresis_latency_add(&l, 8.0);
	hysteresis_latency_add(&l, 16.0);
	assert_float_equal(l.last_ms, 16.0, 1e-9);
	assert_float_equal(l.smooth_ms, 9.0, 1e-9);
}

static void
test_latency_average_converges_to_a_steady_value(void **state)
{
	struct latency l = {0};

	hysteresis_latency_add(&l, 100.0);
	for (int i = 0; i < 200; i++)
		hysteresis_latency_add(&l, 2.0);
	assert_float_equal(l.smooth_ms, 2.0, 1e-6);
}

static void
test_negative_latency_is_clamped(void **state)
{
	struct latency l = {0};

	hysteresis_latency_add(&l, -3.0);
	assert_float_equal(l.last_ms, 0.0, 1e-9);
}

/* Port selection for `ports = auto` (task.c; reference §9). */
static void
test_ports_linux_file_level_is_22(void **state)
{
	uint16_t p[3];

	assert_int_equal(task_required_ports(TASK_TYPE_MIGRATE_FILE, TASK_OS_LINUX, p), 1);
	assert_int_equal(p[0], 22);
}

static void
test_ports_linux_block_level_is_22_8900(void **state)
{
	uint16_t p[3];

	assert_int_equal(task_required_ports(TASK_TYPE_MIGRATE_BLOCK, TASK_OS_LINUX, p), 2);
	assert_int_equal(p[0], 22);
	assert_int_equal(p[1], 8900);
}

static void
test_ports_windows_is_22_8899_8900(void **state)
{
	uint16_t p[3];

	assert_int_equal(task_required_ports(TASK_TYPE_MIGRATE_BLOCK, TASK_OS_WINDOWS, p), 3);
	assert_int_equal(p[0], 22);
	assert_int_equal(p[1], 8899);
	assert_int_equal(p[2], 8900);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_port_is_unknown),
	    cmocka_unit_test(test_unknown_goes_down_after_fall_failures),
	    cmocka_unit_test(test_unknown_goes_up_after_rise_successes),
	    cmocka_unit_test(test_up_goes_down_after_fall_failures),
	    cmocka_unit_test(test_down_goes_up_after_rise_successes),
	    cmocka_unit_test(test_success_resets_the_failure_run),
	    cmocka_unit_test(test_failure_resets_the_success_run),
	    cmocka_unit_test(test_flapping_never_changes_state_when_no_run_completes),
	    cmocka_unit_test(test_fall_one_rise_one_follows_every_result),
	    cmocka_unit_test(test_fall_and_rise_below_one_are_taken_as_one),
	    cmocka_unit_test(test_repeated_results_do_not_report_a_change_again),
	    cmocka_unit_test(test_long_runs_do_not_overflow_counters),
	    cmocka_unit_test(test_distrust_makes_up_unknown_until_rise_fresh_successes),
	    cmocka_unit_test(test_distrust_keeps_down_and_forgets_a_partial_rise),
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_class_names),
	    cmocka_unit_test(test_classify_errnos_either_sign),
	    cmocka_unit_test(test_first_latency_sample_seeds_the_average),
	    cmocka_unit_test(test_latency_average_moves_by_one_eighth),
	    cmocka_unit_test(test_latency_average_converges_to_a_steady_value),
	    cmocka_unit_test(test_negative_latency_is_clamped),
	    cmocka_unit_test(test_ports_linux_file_level_is_22),
	    cmocka_unit_test(test_ports_linux_block_level_is_22_8900),
	    cmocka_unit_test(test_ports_windows_is_22_8899_8900),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
