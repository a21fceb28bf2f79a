/* The g-property.cfg parser: real-looking files, and files made to hurt it. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsguard/gprop.h"

static const char real_file[] = "# SMS-Agent global properties\n"
                                "servercheck=true\n"
                                "heartmonitorday=30\n"
                                "network.dev=eth0\n"
                                "network.macaddr=\n"
                                "network.ipaddr=192.0.2.10\n"
                                "tar.exclude.dir=/proc,/sys,/dev\n"
                                "rsync.exclude.dir=\n"
                                "disableplatformservice=false\n"
                                "auto_start_interval_seconds=60\n"
                                "auto_start_max_retry_times=5\n"
                                "auto_start_each_addition_seconds=30\n"
                                "\n"
                                "[consistency_check]\n"
                                "list_dir_illegal_linux=/proc,/sys\n";

static int
parse_str(struct gprop *g, const char *s)
{
	gprop_init(g);
	return gprop_parse(g, s, strlen(s));
}

/* Writes len bytes to a new temporary file; returns its malloc'd path. */
static char *
write_temp(const void *buf, size_t len)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	char tmpl[4096];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/test_gprop.XXXXXX", dir);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, (const char *)buf + off, len - off);

		assert_true(w > 0);
		off += (size_t)w;
	}
	close(fd);
	return strdup(tmpl);
}

static void
test_defaults_are_absent(void **state)
{
	struct gprop g;

	gprop_init(&g);
	assert_int_equal(g.auto_start_interval_seconds, -1);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	assert_int_equal(g.auto_start_each_addition_seconds, -1);
	assert_int_equal(g.heartmonitorday, -1);
	assert_int_equal(g.servercheck, -1);
	assert_false(gprop_autorecovery_configured(&g));
	assert_int_equal(gprop_autorecovery_window_s(&g), 0);
}

static void
test_real_looking_file_gives_every_setting(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g, real_file), 0);
	assert_int_equal(g.auto_start_interval_seconds, 60);
	assert_int_equal(g.auto_start_max_retry_times, 5);
	assert_int_equal(g.auto_start_each_addition_seconds, 30);
	assert_int_equal(g.heartmonitorday, 30);
	assert_int_equal(g.servercheck, 1);
	assert_int_equal(g.keys, 12);
	assert_int_equal(g.bad_lines, 0);
	assert_true(gprop_autorecovery_configured(&g));
}

static void
test_autorecovery_window_sums_growing_intervals(void **state)
{
	struct gprop g;

	parse_str(&g, real_file);
	/* 60 + 90 + 120 + 150 + 180 */
	assert_int_equal(gprop_autorecovery_window_s(&g), 600);
}

static void
test_autorecovery_window_without_addition_is_retries_times_interval(void **state)
{
	struct gprop g;

	parse_str(&g, "auto_start_interval_seconds=20\nauto_start_max_retry_times=3\n");
	assert_int_equal(gprop_autorecovery_window_s(&g), 60);
}

static void
test_zero_retries_means_no_autorecovery(void **state)
{
	struct gprop g;

	parse_str(&g, "auto_start_interval_seconds=20\nauto_start_max_retry_times=0\n");
	assert_false(gprop_autorecovery_configured(&g));
	assert_int_equal(gprop_autorecovery_window_s(&g), 0);
}

static void
test_autorecovery_window_saturates(void **state)
{
	struct gprop g;

	parse_str(&g,
	    "auto_start_interval_seconds=1000000\nauto_start_max_retry_times=1000000\n"
	    "auto_start_each_addition_seconds=1000000\n");
	assert_int_equal(gprop_autorecovery_window_s(&g), 365L * 24 * 3600);
}

static void
test_comments_and_blank_lines_are_skipped(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g,
	                     "# auto_start_max_retry_times=9\n"
	                     "; auto_start_max_retry_times=8\n"
	                     "! auto_start_max_retry_times=7\n"
	                     "   \n\t\n"
	                     "auto_start_max_retry_times=2\n"),
	    0);
	assert_int_equal(g.auto_start_max_retry_times, 2);
	assert_int_equal(g.keys, 1);
}

static void
test_spaces_around_keys_and_values_are_trimmed(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g,
	                     "  auto_start_interval_seconds \t=  45  \r\n"
	                     "auto_start_max_retry_times : 4\n"),
	    0);
	assert_int_equal(g.auto_start_interval_seconds, 45);
	assert_int_equal(g.auto_start_max_retry_times, 4);
}

static void
test_crlf_line_endings_are_accepted(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g, "servercheck=false\r\nheartmonitorday=7\r\n"), 0);
	assert_int_equal(g.servercheck, 0);
	assert_int_equal(g.heartmonitorday, 7);
}

static void
test_quoted_values_are_unquoted(void **state)
{
	struct gprop g;

	parse_str(&g, "auto_start_max_retry_times=\"3\"\nservercheck='off'\n");
	assert_int_equal(g.auto_start_max_retry_times, 3);
	assert_int_equal(g.servercheck, 0);
}

static void
test_last_line_without_newline_is_read(void **state)
{
	struct gprop g;

	parse_str(&g, "auto_start_max_retry_times=6");
	assert_int_equal(g.auto_start_max_retry_times, 6);
}

static void
test_missing_keys_stay_absent(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g, "servercheck=true\nnetwork.dev=eth0\n"), 0);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	assert_int_equal(g.auto_start_interval_seconds, -1);
	assert_false(gprop_autorecovery_configured(&g));
}

static void
test_bad_numbers_are_refused_and_counted(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g,
	                     "auto_start_max_retry_times=-3\n"
	                     "auto_start_interval_seconds=ten\n"
	                     "auto_start_each_addition_seconds=99999999999999999999999\n"
	                     "heartmonitorday=\n"),
	    -EINVAL);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	assert_int_equal(g.auto_start_interval_seconds, -1);
	assert_int_equal(g.auto_start_each_addition_seconds, -1);
	assert_int_equal(g.heartmonitorday, -1);
	assert_int_equal(g.bad_values, 4);
}

static void
test_lines_without_separator_are_bad_but_do_not_stop_parsing(void **state)
{
	struct gprop g;

	assert_int_equal(
	    parse_str(&g, "this is not a property\nauto_start_max_retry_times=2\n"), -EINVAL);
	assert_int_equal(g.bad_lines, 1);
	assert_int_equal(g.auto_start_max_retry_times, 2);
}

static void
test_nul_inside_a_line_makes_it_bad(void **state)
{
	static const char buf[] = "auto_start_max_retry_times=2\0000\nheartmonitorday=3\n";
	struct gprop g;

	gprop_init(&g);
	assert_int_equal(gprop_parse(&g, buf, sizeof(buf) - 1), -EINVAL);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	assert_int_equal(g.heartmonitorday, 3);
}

static void
test_empty_input_gives_defaults(void **state)
{
	struct gprop g;

	assert_int_equal(parse_str(&g, ""), 0);
	assert_int_equal(g.keys, 0);
	assert_int_equal(g.auto_start_max_retry_times, -1);
}

static void
test_load_reads_a_real_looking_file(void **state)
{
	char *path = write_temp(real_file, strlen(real_file));
	struct gprop g;

	assert_int_equal(gprop_load(&g, path), 0);
	assert_int_equal(g.auto_start_max_retry_times, 5);
	unlink(path);
	free(path);
}

static void
test_load_missing_file_gives_defaults_and_enoent(void **state)
{
	struct gprop g;

	g.auto_start_max_retry_times = 42;
	assert_int_equal(gprop_load(&g, "/nonexistent/agent/config/g-property.cfg"), -ENOENT);
	assert_int_equal(g.auto_start_max_retry_times, -1);
}

static void
test_load_empty_file_gives_defaults(void **state)
{
	char *path = write_temp("", 0);
	struct gprop g;

	assert_int_equal(gprop_load(&g, path), 0);
	assert_int_equal(g.keys, 0);
	unlink(path);
	free(path);
}

static void
test_load_directory_is_refused(void **state)
{
	struct gprop g;

	assert_int_equal(gprop_load(&g, "/"), -EINVAL);
	assert_int_equal(g.auto_start_max_retry_times, -1);
}

static void
test_load_fifo_is_refused_without_blocking(void **state)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	char path[256];
	struct gprop g;

	snprintf(path, sizeof(path), "%s/test_gprop_fifo.%ld", dir, (long)getpid());
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(gprop_load(&g, path), -EINVAL);
	unlink(path);
}

static void
test_load_ten_mib_single_line_is_cut_and_ignored(void **state)
{
	size_t len = 10 * 1024 * 1024;
	char *buf = malloc(len);
	char *path;
	struct gprop g;

	assert_non_null(buf);
	memcpy(buf, "auto_start_max_retry_times=", 27);
	memset(buf + 27, '7', len - 27);
	path = write_temp(buf, len);
	assert_int_equal(gprop_load(&g, path), -EFBIG);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	assert_int_equal(g.keys, 0);
	unlink(path);
	free(path);
	free(buf);
}

static void
test_load_oversized_file_keeps_whole_lines_before_the_cap(void **state)
{
	size_t len = GPROP_MAX_FILE + 4096;
	char *buf = malloc(len);
	char *path;
	struct gprop g;
	size_t pos;

	assert_non_null(buf);
	pos = (size_t)sprintf(buf, "auto_start_max_retry_times=3\n");
	memset(buf + pos, '#', len - pos);
	/* A key straddling the cap must not be read as a cut value. */
	memcpy(buf + GPROP_MAX_FILE - 10, "\nheartmonitorday=123456\n", 24);
	path = write_temp(buf, len);
	assert_int_equal(gprop_load(&g, path), -EFBIG);
	assert_int_equal(g.auto_start_max_retry_times, 3);
	assert_int_equal(g.heartmonitorday, -1);
	unlink(path);
	free(path);
	free(buf);
}

static void
test_load_binary_garbage_never_crashes(void **state)
{
	char buf[65536];
	char *path;
	struct gprop g;
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (char)x;
	}
	path = write_temp(buf, sizeof(buf));
	gprop_load(&g, path);
	assert_true(g.bad_lines > 0);
	assert_int_equal(g.auto_start_max_retry_times, -1);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_are_absent),
	    cmocka_unit_test(test_real_looking_file_gives_every_setting),
	    cmocka_unit_test(test_autorecovery_window_sums_growing_intervals),
	    cmocka_unit_test(test_autorecovery_window_without_addition_is_retries_times_interval),
	    cmocka_unit_test(test_zero_retries_means_no_autorecovery),
	    cmocka_unit_test(test_autorecovery_window_saturates),
	    cmocka_unit_test(test_comments_and_blank_lines_are_skipped),
	    cmocka_unit_test(test_spaces_around_keys_and_values_are_trimmed),
	    cmocka_unit_test(test_crlf_line_endings_are_accepted),
	    cmocka_unit_test(test_quoted_values_are_unquoted),
	    cmocka_unit_test(test_last_line_without_newline_is_read),
	    cmocka_unit_test(test_missing_keys_stay_absent),
	    cmocka_unit_test(test_bad_numbers_are_refused_and_counted),
	    cmocka_unit_test(test_lines_without_separator_are_bad_but_do_not_stop_parsing),
	    cmocka_unit_test(test_nul_inside_a_line_makes_it_bad),
	    cmocka_unit_test(test_empty_input_gives_defaults),
	    cmocka_unit_test(test_load_reads_a_real_looking_file),
	    cmocka_unit_test(test_load_missing_file_gives_defaults_and_enoent),
	    cmocka_unit_test(test_load_empty_file_gives_defaults),
	    cmocka_unit_test(test_load_directory_is_refused),
	    cmocka_unit_test(test_load_fifo_is_refused_without_blocking),
	    cmocka_unit_test(test_load_ten_mib_single_line_is_cut_and_ignored),
	    cmocka_unit_test(test_load_oversized_file_keeps_whole_lines_before_the_cap),
	    cmocka_unit_test(test_load_binary_garbage_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
