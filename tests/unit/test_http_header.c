/*
 * The response headers we read (Date, Retry-After, X-Request-Id), line by
 * line as libcurl hands them over, with a stand-in HTTP-date reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/http_header.h"

#define NOW 1000000

static time_t
fake_date(const char *s)
{
	if (strcmp(s, "Sun, 06 Nov 1994 08:49:37 GMT") == 0)
		return 784111777;
	if (strcmp(s, "IN 30 S") == 0)
		return NOW + 30;
	if (strcmp(s, "AN HOUR AGO") == 0)
		return NOW - 3600;
	/* What libcurl 7.88 makes of a year of nine digits. */
	if (strcmp(s, "Sun Nov  6 08:49:37 999999999") == 0)
		return (time_t)31556889827948977LL;
	return -1;
}

static void
read_line(struct http_header_fields *f, const char *line)
{
	http_header_read(f, line, strlen(line), NOW, fake_date);
}

static void
test_nothing_read_is_absent(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "Content-Type: application/json\r\n");
	assert_true(f.date_s == -1 && f.retry_after_s == -1);
	assert_string_equal(f.request_id, "");
}

static void
test_the_three_headers_are_read_whatever_their_case(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "date:   Sun, 06 Nov 1994 08:49:37 GMT \r\n");
	read_line(&f, "RETRY-AFTER: 7\r\n");
	read_line(&f, "X-Request-Id:\t6a63a18b8bab40ff\r\n");
	assert_true(f.date_s == 784111777);
	assert_true(f.retry_after_s == 7);
	assert_string_equal(f.request_id, "6a63a18b8bab40ff");
}

static void
test_a_name_is_matched_whole(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "Dates: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
	read_line(&f, "Retry-After 7\r\n");
	read_line(&f, "Date");
	assert_true(f.date_s == -1 && f.retry_after_s == -1);
}

static void
test_retry_after_as_a_date_counts_from_now(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "Retry-After: IN 30 S\r\n");
	assert_true(f.retry_after_s == 30);
	read_line(&f, "Retry-After: AN HOUR AGO\r\n");
	assert_true(f.retry_after_s == 0);
}

static void
test_unreadable_values_are_absent(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "Retry-After: -5\r\n");
	read_line(&f, "Retry-After: 7 seconds\r\n");
	read_line(&f, "Date: yesterday\r\n");
	assert_true(f.date_s == -1 && f.retry_after_s == -1);
}

/* The cloud client counts the clock's skew in ms: a date past the year 9999 would overflow it. */
static void
test_a_date_past_the_year_9999_is_unreadable(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "Date: Sun Nov  6 08:49:37 999999999\r\n");
	read_line(&f, "Retry-After: Sun Nov  6 08:49:37 999999999\r\n");
	assert_true(f.date_s == -1 && f.retry_after_s == -1);
}

/* It reaches log lines: a request id with spaces or control characters is dropped. */
static void
test_a_request_id_that_is_not_a_token_is_dropped(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "X-Request-Id: abc def\r\n");
	assert_string_equal(f.request_id, "");
	read_line(&f, "X-Request-Id: abc\x1b[2J\r\n");
	assert_string_equal(f.request_id, "");
}

static void
test_a_status_line_forgets_the_last_response(void **state)
{
	struct http_header_fields f;

	http_header_reset(&f);
	read_line(&f, "HTTP/1.1 200 Connection established\r\n");
	read_line(&f, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
	read_line(&f, "X-Request-Id: proxy\r\n");
	read_line(&f, "HTTP/2 429\r\n");
	read_line(&f, "Retry-After: 7\r\n");
	assert_true(f.date_s == -1 && f.retry_after_s == 7);
	assert_string_equal(f.request_id, "");
}

static void
test_long_lines_are_not_read_and_long_ids_are_cut(void **state)
{
	static char line[HTTP_HEADER_LINE_MAX + 64];
	struct http_header_fields f;
	size_t n;

	http_header_reset(&f);
	n = (size_t)snprintf(line, sizeof(line), "Retry-After: 7");
	memset(line + n, ' ', HTTP_HEADER_LINE_MAX - n + 1);
	http_header_read(&f, line, HTTP_HEADER_LINE_MAX + 1, NOW, fake_date);
	assert_true(f.retry_after_s == -1);
	n = (size_t)snprintf(line, sizeof(line), "X-Request-Id: ");
	memset(line + n, 'r', 300);
	http_header_read(&f, line, n + 300, NOW, fake_date);
	assert_int_equal(strlen(f.request_id), HTTP_REQUEST_ID_MAX);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_read_is_absent),
	    cmocka_unit_test(test_the_three_headers_are_read_whatever_their_case),
	    cmocka_unit_test(test_a_name_is_matched_whole),
	    cmocka_unit_test(test_retry_after_as_a_date_counts_from_now),
	    cmocka_unit_test(test_unreadable_values_are_absent),
	    cmocka_unit_test(test_a_date_past_the_year_9999_is_unreadable),
	    cmocka_unit_test(test_a_request_id_that_is_not_a_token_is_dropped),
	    cmocka_unit_test(test_a_status_line_forgets_the_last_response),
	    cmocka_unit_test(test_long_lines_are_not_read_and_long_ids_are_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
