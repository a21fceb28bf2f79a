#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsguard/log.h"
#include "smsguard/task.h"
#include "smsguard/util.h"

static void
test_durations_take_every_unit_and_combinations(void **state)
{
	uint64_t ms;

	assert_int_equal(util_parse_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(util_parse_duration_ms("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(util_parse_duration_ms("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(util_parse_duration_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(util_parse_duration_ms("1m30s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(util_parse_duration_ms(" 15 ", &ms), 0);
	assert_int_equal(ms, 15000);
}

static void
test_bad_durations_are_refused(void **state)
{
	uint64_t ms;

	assert_int_equal(util_parse_duration_ms("", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("fast", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("5x", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("1m30", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("-1s", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("2 s", &ms), -EINVAL);
	assert_int_equal(util_parse_duration_ms("99999999999999999999s", &ms), -ERANGE);
	assert_int_equal(util_parse_duration_ms(NULL, &ms), -EINVAL);
}

static void
test_durations_format_for_people(void **state)
{
	char buf[32];

	assert_string_equal(util_format_duration(250, buf, sizeof(buf)), "250ms");
	assert_string_equal(util_format_duration(3723000, buf, sizeof(buf)), "1h2m3s");
	assert_string_equal(util_format_duration(86400000, buf, sizeof(buf)), "1d");
}

static void
test_strlcpy_truncates_and_terminates(void **state)
{
	char buf[4];

	assert_int_equal(util_strlcpy(buf, "abcdef", sizeof(buf)), 6);
	assert_string_equal(buf, "abc");
}

static void
test_host_names_of_letters_digits_dash_underscore_are_accepted(void **state)
{
	static const char *const good[] = {"localhost", "sms.ap-southeast-3.myhuaweicloud.com",
	    "target-01", "my_host.internal", "10.0.0.1", "xn--bcher-kva.example", "host.example.",
	    "a"};

	for (size_t i = 0; i < nitems(good); i++)
		if (!util_hostname_ok(good[i]))
			fail_msg("refused \"%s\"", good[i]);
}

static void
test_malformed_host_names_are_refused(void **state)
{
	char label64[65], long_name[256];
	static const char *const bad[] = {"", ".", ".example", "a..b", "-a", "a-", "a.-b", "a-.b",
	    "bad host", "bad host;rm", "10.0.0.1:22", "[::1]", "::1", "a/b", "h\xc3\xa9"};

	for (size_t i = 0; i < nitems(bad); i++)
		if (util_hostname_ok(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	/* A label is at most 63 characters, a name at most 253. */
	memset(label64, 'a', 64);
	label64[64] = '\0';
	assert_false(util_hostname_ok(label64));
	label64[63] = '\0';
	assert_true(util_hostname_ok(label64));
	for (size_t i = 0; i < sizeof(long_name) - 1; i++)
		long_name[i] = i % 2 == 0 ? 'a' : '.';
	long_name[253] = '\0';
	assert_true(util_hostname_ok(long_name));
	long_name[253] = 'a';
	long_name[254] = '\0';
	assert_false(util_hostname_ok(long_name));
}

static void
test_log_escape_makes_untrusted_text_safe(void **state)
{
	char out[64];

	assert_string_equal(
	    log_escape("a\"b\\c\n\x1b[31m", -1, out, sizeof(out)), "a\\\"b\\\\c\\n\\x1b[31m");
	assert_string_equal(log_escape("0123456789abcdef", -1, out, 10), "012345...");
	assert_string_equal(log_escape(NULL, -1, out, sizeof(out)), "(null)");
}

static void
test_cloexec_from_marks_every_inherited_descriptor(void **state)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(util_cloexec_from(3), 0);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
}

static void
test_network_codes_are_exactly_the_documented_eight(void **state)
{
	static const char *const net[] = {"SMS.0807", "SMS.1807", "SMS.2802", "SMS.3802",
	    "SMS.3805", "SMS.3806", "SMS.2805", "SMS.2806"};

	for (size_t i = 0; i < nitems(net); i++)
		assert_true(task_error_is_network(net[i]));
	assert_false(task_error_is_network("SMS.3803"));
	assert_false(task_error_is_network("SMS.9007"));
	assert_false(task_error_is_network(NULL));
	assert_non_null(task_error_meaning("SMS.2802"));
}

static void
test_task_states_round_trip_and_unknown_is_kept_apart(void **state)
{
	for (int i = 1; i < TASK_STATE_COUNT; i++)
		assert_int_equal(task_state_from_name(task_state_name((enum task_state)i)), i);
	assert_int_equal(task_state_from_name("CUTOVER_READY"), TASK_UNKNOWN);
	assert_true(task_state_is_active(TASK_RUNNING));
	assert_false(task_state_is_active(TASK_MIGRATE_FAIL));
}

static void
test_jitter_stays_within_its_span_and_reaches_both_ends(void **state)
{
	bool low = false, high = false;

	util_random_seed(42);
	for (int i = 0; i < 2000; i++) {
		int64_t j = util_jitter(3);

		assert_true(j >= -3 && j <= 3);
		low = low || j == -3;
		high = high || j == 3;
	}
	assert_true(low && high);
}

static void
test_jitter_of_no_span_is_zero(void **state)
{
	assert_int_equal(util_jitter(0), 0);
	assert_int_equal(util_jitter(-5), 0);
}

static void
test_jitter_of_a_huge_span_is_drawn_within_int32(void **state)
{
	for (int i = 0; i < 100; i++) {
		int64_t j = util_jitter(INT64_MAX);

		assert_true(j >= -(int64_t)INT32_MAX && j <= INT32_MAX);
	}
}

static void
test_jitter_spreads_a_delay_by_a_tenth_either_way(void **state)
{
	uint64_t ms = 1000, lo = UINT64_MAX, hi = 0;

	util_random_seed(7);
	for (int i = 0; i < 2000; i++) {
		uint64_t d = ms + (uint64_t)util_jitter((int64_t)ms / 10);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo >= 900 && lo < 910);
	assert_true(hi <= 1100 && hi > 1090);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations_take_every_unit_and_combinations),
	    cmocka_unit_test(test_bad_durations_are_refused),
	    cmocka_unit_test(test_durations_format_for_people),
	    cmocka_unit_test(test_strlcpy_truncates_and_terminates),
	    cmocka_unit_test(test_host_names_of_letters_digits_dash_underscore_are_accepted),
	    cmocka_unit_test(test_malformed_host_names_are_refused),
	    cmocka_unit_test(test_log_escape_makes_untrusted_text_safe),
	    cmocka_unit_test(test_cloexec_from_marks_every_inherited_descriptor),
	    cmocka_unit_test(test_network_codes_are_exactly_the_documented_eight),
	    cmocka_unit_test(test_task_states_round_trip_and_unknown_is_kept_apart),
	    cmocka_unit_test(test_jitter_stays_within_its_span_and_reaches_both_ends),
	    cmocka_unit_test(test_jitter_of_no_span_is_zero),
	    cmocka_unit_test(test_jitter_of_a_huge_span_is_drawn_within_int32),
	    cmocka_unit_test(test_jitter_spreads_a_delay_by_a_tenth_either_way),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
