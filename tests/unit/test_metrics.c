#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/metrics.h"

static void
test_family_writes_help_and_type_once(void **state)
{
	struct metrics m;

	metrics_init(&m);
	metrics_family(&m, "smsguard_up", "gauge", "1 while smsguard runs");
	metrics_sample(&m, "smsguard_up", 1, NULL);
	assert_string_equal(metrics_text(&m),
	    "# HELP smsguard_up 1 while smsguard runs\n# TYPE smsguard_up gauge\nsmsguard_up 1\n");
	metrics_free(&m);
}

static void
test_labels_are_quoted_and_escaped(void **state)
{
	struct metrics m;

	metrics_init(&m);
	metrics_sample(&m, "x", 2, "a", "q\"b\\c\nd", "port", "22", NULL);
	assert_string_equal(metrics_text(&m), "x{a=\"q\\\"b\\\\c\\nd\",port=\"22\"} 2\n");
	metrics_free(&m);
}

static void
test_fractions_and_nan_use_the_exposition_spelling(void **state)
{
	struct metrics m;

	metrics_init(&m);
	metrics_sample(&m, "r", 0.42, NULL);
	metrics_sample(&m, "n", NAN, NULL);
	assert_string_equal(metrics_text(&m), "r 0.42\nn NaN\n");
	metrics_free(&m);
}

static void
test_help_text_escapes_backslash_and_newline_but_not_quotes(void **state)
{
	struct metrics m;

	metrics_init(&m);
	metrics_family(&m, "x", "gauge", "a \\ b\nc \"d\"");
	assert_string_equal(metrics_text(&m), "# HELP x a \\\\ b\\nc \"d\"\n# TYPE x gauge\n");
	metrics_free(&m);
}

static void
test_long_help_text_is_kept_whole(void **state)
{
	char help[2000];
	struct metrics m;

	memset(help, 'h', sizeof(help) - 1);
	help[sizeof(help) - 1] = '\0';
	metrics_init(&m);
	metrics_family(&m, "smsguard_x", "counter", help);
	assert_non_null(strstr(metrics_text(&m), help));
	assert_non_null(strstr(metrics_text(&m), "\n# TYPE smsguard_x counter\n"));
	metrics_free(&m);
}

static void
test_infinities_use_the_exposition_spelling(void **state)
{
	struct metrics m;

	metrics_init(&m);
	metrics_sample(&m, "p", INFINITY, NULL);
	metrics_sample(&m, "n", -INFINITY, NULL);
	assert_string_equal(metrics_text(&m), "p +Inf\nn -Inf\n");
	metrics_free(&m);
}

static void
test_fractions_read_back_exactly(void **state)
{
	const double values[] = {95.5, 0.0012345678, 1234567.25, 1.0 / 3.0, 1e-9, 2.5e20};
	struct metrics m;
	const char *p;

	metrics_init(&m);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		metrics_sample(&m, "v", values[i], NULL);
	p = metrics_text(&m);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *end;

		assert_memory_equal(p, "v ", 2);
		assert_true(strtod(p + 2, &end) == values[i]);
		assert_int_equal(*end, '\n');
		p = end + 1;
	}
	assert_string_equal(p, "");
	assert_non_null(strstr(metrics_text(&m), "v 95.5\n"));
	metrics_free(&m);
}

static void
test_onehot_writes_every_value_with_one_set(void **state)
{
	const char *states[] = {"unknown", "ok", "unreachable"};
	struct metrics m;

	metrics_init(&m);
	metrics_onehot(&m, "s", "state", states, 3, 1);
	assert_string_equal(metrics_text(&m),
	    "s{state=\"unknown\"} 0\ns{state=\"ok\"} 1\ns{state=\"unreachable\"} 0\n");
	metrics_free(&m);
}

static void
test_onehot_out_of_range_writes_every_value_as_zero(void **state)
{
	const char *states[] = {"a", "b"};
	struct metrics m;

	metrics_init(&m);
	metrics_onehot(&m, "s", "state", states, 2, 7);
	assert_string_equal(metrics_text(&m), "s{state=\"a\"} 0\ns{state=\"b\"} 0\n");
	metrics_free(&m);
}

static void
test_large_output_grows_the_buffer(void **state)
{
	struct metrics m;

	metrics_init(&m);
	for (int i = 0; i < 2000; i++)
		metrics_sample(&m, "smsguard_cloud_requests_total", i, "api", "show_task", NULL);
	assert_true(strlen(metrics_text(&m)) > 4096 * 8);
	assert_non_null(
	    strstr(metrics_text(&m), "smsguard_cloud_requests_total{api=\"show_task\"} 1999\n"));
	metrics_free(&m);
}

static void
test_empty_text_is_an_empty_string(void **state)
{
	struct metrics m;

	metrics_init(&m);
	assert_string_equal(metrics_text(&m), "");
	metrics_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_family_writes_help_and_type_once),
	    cmocka_unit_test(test_labels_are_quoted_and_escaped),
	    cmocka_unit_test(test_fractions_and_nan_use_the_exposition_spelling),
	    cmocka_unit_test(test_help_text_escapes_backslash_and_newline_but_not_quotes),
	    cmocka_unit_test(test_long_help_text_is_kept_whole),
	    cmocka_unit_test(test_infinities_use_the_exposition_spelling),
	    cmocka_unit_test(test_fractions_read_back_exactly),
	    cmocka_unit_test(test_onehot_writes_every_value_with_one_set),
	    cmocka_unit_test(test_onehot_out_of_range_writes_every_value_as_zero),
	    cmocka_unit_test(test_large_output_grows_the_buffer),
	    cmocka_unit_test(test_empty_text_is_an_empty_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
