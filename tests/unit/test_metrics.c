#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
	    cmocka_unit_test(test_large_output_grows_the_buffer),
	    cmocka_unit_test(test_empty_text_is_an_empty_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
