/*
 * The weekly rate-limit schedule: parsing, the limit at a time, the day's SMS
 * periods and comparing them with what the task holds. Instants and zones are
 * test_schedule_zone.c's.
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

#include "smsguard/schedule.h"
#include "smsguard/sms.h"

#define DESIGN_EXAMPLE "Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, Sat-Sun 00:00-24:00 0"

/* struct tm's weekdays */
enum { SUN = 0, MON, TUE, WED, THU, FRI, SAT };

#define HM(h, m) ((h)*60 + (m))

static void
parse_ok(const char *text, struct schedule *s)
{
	char *cause = NULL;
	int rc = schedule_parse(text, s, &cause);

	if (rc != 0)
		fail_msg("schedule_parse(\"%s\"): %s", text, cause);
	assert_null(cause);
}

/* Asserts the text is refused and the cause contains `needle`. */
static void
parse_bad(const char *text, const char *needle)
{
	struct schedule s;
	char *cause = NULL;

	assert_int_equal(schedule_parse(text, &s, &cause), -EINVAL);
	assert_non_null(cause);
	if (strstr(cause, needle) == NULL)
		fail_msg("cause \"%s\" does not contain \"%s\"", cause, needle);
	free(cause);
}

/* The limit at a time; -1 when no rule covers it. */
static long
limit(const struct schedule *s, int wday, int minute)
{
	uint32_t mbps;
	int rc = schedule_at(s, wday, minute, &mbps, NULL, NULL, NULL);

	if (rc == -ENOENT)
		return -1;
	assert_int_equal(rc, 0);
	return (long)mbps;
}

static void
test_parse_design_example(void **state)
{
	struct schedule s;

	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(s.nrules, 3);
	assert_int_equal(s.rules[0].days, 0x1f);
	assert_int_equal(s.rules[0].start_min, HM(8, 0));
	assert_int_equal(s.rules[0].end_min, HM(18, 0));
	assert_int_equal(s.rules[0].mbps, 50);
	assert_int_equal(s.rules[1].start_min, HM(18, 0));
	assert_int_equal(s.rules[1].end_min, HM(8, 0));
	assert_int_equal(s.rules[2].days, 0x60);
	assert_int_equal(s.rules[2].end_min, 1440);
}

static void
test_parse_empty_text_has_no_rules(void **state)
{
	struct schedule s;

	parse_ok("", &s);
	assert_int_equal(s.nrules, 0);
	parse_ok("   ", &s);
	assert_int_equal(s.nrules, 0);
}

static void
test_parse_day_forms(void **state)
{
	struct schedule s;

	parse_ok("Wed 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, 1 << 2);
	parse_ok("sat-mon 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, (1 << 5) | (1 << 6) | (1 << 0));
	parse_ok("Mon+Wed/Fri-Sat 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, (1 << 0) | (1 << 2) | (1 << 4) | (1 << 5));
	parse_ok("daily 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, 0x7f);
	parse_ok("* 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, 0x7f);
	parse_ok("Tuesday 01:00-02:00 1", &s);
	assert_int_equal(s.rules[0].days, 1 << 1);
}

static void
test_parse_unpadded_hours_and_midnight_end(void **state)
{
	struct schedule s;

	parse_ok("Mon 8:00-9:30 10, Tue 18:00-00:00 5", &s);
	assert_int_equal(s.rules[0].start_min, HM(8, 0));
	assert_int_equal(s.rules[0].end_min, HM(9, 30));
	/* "-00:00" is the end of the day, not a wrap to nothing. */
	assert_int_equal(s.rules[1].end_min, 1440);
}

static void
test_parse_rejects_bad_days(void **state)
{
	parse_bad("Mun 08:00-09:00 1", "bad days");
	parse_bad("Mon- 08:00-09:00 1", "bad days");
	parse_bad("Mon+ 08:00-09:00 1", "bad days");
}

static void
test_parse_rejects_bad_times(void **state)
{
	parse_bad("Mon 25:00-26:00 5", "bad time window");
	parse_bad("Mon 08:60-09:00 5", "bad time window");
	parse_bad("Mon 24:00-09:00 5", "bad time window");
	parse_bad("Mon 08:00 5", "bad time window");
	parse_bad("Mon 24:01-09:00 5", "bad time window");
	parse_bad("Mon 08:00-08:00 5", "empty time window");
}

static void
test_parse_rejects_bad_rate(void **state)
{
	parse_bad("Mon 08:00-09:00 1001", "bad rate");
	parse_bad("Mon 08:00-09:00 -1", "bad rate");
	parse_bad("Mon 08:00-09:00 fast", "bad rate");
}

static void
test_parse_rejects_bad_shape(void **state)
{
	parse_bad("Mon 08:00-09:00", "expected DAYS HH:MM-HH:MM MBPS");
	parse_bad("Mon 08:00-09:00 5 extra", "expected DAYS HH:MM-HH:MM MBPS");
	parse_bad("Mon 08:00-09:00 5,", "empty rule after rule 1");
	parse_bad("Mon 08:00-09:00 5,, Tue 08:00-09:00 5", "rule 2 \"\": empty rule");
}

static void
test_parse_names_the_bad_rule(void **state)
{
	parse_bad("Mon 08:00-09:00 5, Tue 08:00-09:00 5, Wed 08:00-33:00 5",
	    "rule 3 \"Wed 08:00-33:00 5\"");
}

static void
test_parse_rejects_too_many_rules(void **state)
{
	char text[64 * 40] = "";

	for (int i = 0; i < SCHEDULE_MAX_RULES + 1; i++) {
		char r[40];

		snprintf(r, sizeof(r), "%sdaily %02d:%02d-%02d:%02d 1", i ? ", " : "", i / 2,
		    (i % 2) * 30, i / 2, (i % 2) * 30 + 15);
		strcat(text, r);
	}
	parse_bad(text, "too many rules");
}

static void
test_parse_rejects_overlap_with_other_rate_naming_both(void **state)
{
	parse_bad("Mon-Fri 08:00-18:00 50, Wed 12:00-13:00 10",
	    "rule 2 \"Wed 12:00-13:00 10\" overlaps rule 1 \"Mon-Fri 08:00-18:00 50\"");
}

static void
test_parse_rejects_overlap_across_midnight(void **state)
{
	/* Fri 22:00 runs into Sat 06:00, where the Saturday rule starts at 05:00. */
	parse_bad("Fri 22:00-06:00 20, Sat 05:00-07:00 30", "(Sat 05:00)");
}

static void
test_parse_accepts_overlap_with_same_rate(void **state)
{
	struct schedule s;

	/* The DESIGN example's Friday night and Saturday rules share Sat 00:00-08:00. */
	parse_ok("Mon 08:00-12:00 10, Mon 11:00-13:00 10", &s);
	assert_int_equal(s.nrules, 2);
}

static void
test_at_design_example_weekday_and_night(void **state)
{
	struct schedule s;
	uint32_t mbps;
	uint16_t ws, we;
	int next;

	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(schedule_at(&s, WED, HM(10, 0), &mbps, &ws, &we, &next), 0);
	assert_int_equal(mbps, 50);
	assert_int_equal(ws, HM(8, 0));
	assert_int_equal(we, HM(18, 0));
	assert_int_equal(next, 8 * 60);
	assert_int_equal(schedule_at(&s, WED, HM(20, 0), &mbps, &ws, &we, &next), 0);
	assert_int_equal(mbps, 0);
	assert_int_equal(ws, HM(18, 0));
	assert_int_equal(we, HM(8, 0));
	assert_int_equal(next, 12 * 60);
}

static void
test_at_wraps_past_midnight_into_next_day(void **state)
{
	struct schedule s;
	uint16_t ws, we;
	int next;

	parse_ok("Mon 22:00-06:00 20", &s);
	assert_int_equal(limit(&s, MON, HM(21, 59)), -1);
	assert_int_equal(limit(&s, MON, HM(22, 0)), 20);
	assert_int_equal(schedule_at(&s, TUE, HM(3, 0), NULL, &ws, &we, &next), 0);
	assert_int_equal(ws, HM(22, 0));
	assert_int_equal(we, HM(6, 0));
	assert_int_equal(next, 3 * 60);
	assert_int_equal(limit(&s, TUE, HM(5, 59)), 20);
	assert_int_equal(limit(&s, TUE, HM(6, 0)), -1);
	/* Only Monday night: Tuesday night is free. */
	assert_int_equal(limit(&s, TUE, HM(23, 0)), -1);
}

static void
test_at_wraps_from_sunday_into_monday(void **state)
{
	struct schedule s;
	int next;

	parse_ok("Sun 20:00-07:00 5, Mon 07:00-09:00 7", &s);
	assert_int_equal(limit(&s, SUN, HM(23, 59)), 5);
	assert_int_equal(limit(&s, MON, HM(0, 0)), 5);
	assert_int_equal(limit(&s, MON, HM(6, 59)), 5);
	assert_int_equal(schedule_at(&s, MON, HM(6, 0), NULL, NULL, NULL, &next), 0);
	assert_int_equal(next, 60);
	assert_int_equal(limit(&s, MON, HM(7, 0)), 7);
}

static void
test_at_next_change_wraps_the_week(void **state)
{
	struct schedule s;
	uint32_t mbps = 99;
	uint16_t ws, we;
	int next;

	parse_ok("Mon 08:00-09:00 10", &s);
	/* Monday 10:00 -> next Monday 08:00 */
	assert_int_equal(schedule_at(&s, MON, HM(10, 0), &mbps, &ws, &we, &next), -ENOENT);
	assert_int_equal(mbps, 0);
	assert_int_equal(next, 7 * 1440 - 120);
	/* The free stretch around it runs from 09:00 to 08:00 (a week later). */
	assert_int_equal(ws, HM(9, 0));
	assert_int_equal(we, HM(8, 0));
}

static void
test_at_same_rate_rules_are_no_change(void **state)
{
	struct schedule s;
	int next;

	parse_ok("Mon 08:00-12:00 10, Mon 12:00-14:00 10", &s);
	assert_int_equal(schedule_at(&s, MON, HM(9, 0), NULL, NULL, NULL, &next), 0);
	assert_int_equal(next, 5 * 60);
}

static void
test_at_never_changing_schedule(void **state)
{
	struct schedule s;
	uint16_t ws, we;
	int next;

	parse_ok("daily 00:00-24:00 100", &s);
	assert_int_equal(schedule_at(&s, THU, HM(12, 0), NULL, &ws, &we, &next), 0);
	assert_int_equal(next, -1);
	parse_ok("", &s);
	assert_int_equal(schedule_at(&s, THU, HM(12, 0), NULL, &ws, &we, &next), -ENOENT);
	assert_int_equal(next, -1);
	assert_int_equal(ws, 0);
	assert_int_equal(we, 1440);
}

static void
test_at_rejects_bad_time(void **state)
{
	struct schedule s;

	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(schedule_at(&s, 7, 0, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(schedule_at(&s, -1, 0, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(schedule_at(&s, MON, 1440, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(schedule_at(&s, MON, -1, NULL, NULL, NULL, NULL), -EINVAL);
}

static void
test_day_periods_design_example(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok(DESIGN_EXAMPLE, &s);
	/* Unlimited nights and weekends need no period. */
	assert_int_equal(schedule_day_periods(&s, TUE, p), 1);
	assert_int_equal(p[0].start_min, HM(8, 0));
	assert_int_equal(p[0].end_min, HM(18, 0));
	assert_int_equal(p[0].mbps, 50);
	assert_int_equal(schedule_day_periods(&s, SAT, p), 0);
	assert_int_equal(schedule_day_periods(&s, SUN, p), 0);
}

static void
test_day_periods_include_the_night_before(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok("Mon-Fri 18:00-08:00 20", &s);
	/* Tuesday: 00:00-08:00 from Monday's rule, 18:00-23:59 from its own. */
	assert_int_equal(schedule_day_periods(&s, TUE, p), 2);
	assert_int_equal(p[0].start_min, 0);
	assert_int_equal(p[0].end_min, HM(8, 0));
	assert_int_equal(p[1].start_min, HM(18, 0));
	assert_int_equal(p[1].end_min, 1439);
	/* Monday has only its evening; Saturday only Friday's tail. */
	assert_int_equal(schedule_day_periods(&s, MON, p), 1);
	assert_int_equal(schedule_day_periods(&s, SAT, p), 1);
	assert_int_equal(p[0].end_min, HM(8, 0));
	assert_int_equal(schedule_day_periods(&s, SUN, p), 0);
}

static void
test_day_periods_merge_adjacent_equal_rates(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok("Mon 08:00-12:00 10, Mon 12:00-14:00 10, Mon 14:00-15:00 30", &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), 2);
	assert_int_equal(p[0].start_min, HM(8, 0));
	assert_int_equal(p[0].end_min, HM(14, 0));
	assert_int_equal(p[0].mbps, 10);
	assert_int_equal(p[1].start_min, HM(14, 0));
	assert_int_equal(p[1].mbps, 30);
}

static void
test_day_periods_whole_day_ends_2359(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok("daily 00:00-24:00 100", &s);
	assert_int_equal(schedule_day_periods(&s, WED, p), 1);
	assert_int_equal(p[0].start_min, 0);
	assert_int_equal(p[0].end_min, 1439);
}

/* SMS reads an end of 23:59 as the end of the day: a period cannot start there. */
static void
test_day_periods_never_start_at_2359(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	/* Found by fuzz_schedule: Monday's part of this rule was "23:59-23:59". */
	parse_ok("Mon 23:59-02:00 6", &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), 0);
	assert_int_equal(schedule_day_periods(&s, TUE, p), 1);
	assert_int_equal(p[0].start_min, 0);
	assert_int_equal(p[0].end_min, HM(2, 0));
	/* The last minute goes with the minute before it. */
	parse_ok("Mon 22:00-23:59 10, Mon 23:59-24:00 20", &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), 1);
	assert_int_equal(p[0].start_min, HM(22, 0));
	assert_int_equal(p[0].end_min, 1439);
	assert_int_equal(p[0].mbps, 10);
	/* A rule that stops at 23:59 still runs to the end of the day, as SMS reads it. */
	parse_ok("Mon 08:00-23:59 50", &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), 1);
	assert_int_equal(p[0].start_min, HM(8, 0));
	assert_int_equal(p[0].end_min, 1439);
}

static void
test_day_periods_five_fit_six_are_too_many(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok("Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, Mon 07:00-08:00 4, "
	         "Mon 09:00-10:00 5",
	    &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), 5);
	assert_int_equal(p[4].start_min, HM(9, 0));
	assert_int_equal(p[4].mbps, 5);
	parse_ok("Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, Mon 07:00-08:00 4, "
	         "Mon 09:00-10:00 5, Mon 11:00-12:00 6",
	    &s);
	assert_int_equal(schedule_day_periods(&s, MON, p), -E2BIG);
	/* Other days are unaffected. */
	assert_int_equal(schedule_day_periods(&s, TUE, p), 0);
}

static void
test_day_periods_rejects_bad_wday(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(schedule_day_periods(&s, 7, p), -EINVAL);
}

static void
test_format_hhmm(void **state)
{
	char buf[6];

	assert_string_equal(schedule_format_hhmm(0, buf), "00:00");
	assert_string_equal(schedule_format_hhmm(HM(8, 5), buf), "08:05");
	assert_string_equal(schedule_format_hhmm(1439, buf), "23:59");
	assert_string_equal(schedule_format_hhmm(1440, buf), "24:00");
}

/* What GET /v3/tasks/{id}/speed-limit gives, through the SMS parser. */
static int
cloud_periods(const char *json, struct schedule_period p[SCHEDULE_MAX_PERIODS])
{
	char *cause = NULL;
	int n = sms_speed_limits_parse(json, strlen(json), p, &cause);

	if (n < 0)
		fail_msg("%s: %s", json, cause);
	return n;
}

static void
test_periods_equal_unpadded_and_2359_forms(void **state)
{
	struct schedule s;
	struct schedule_period ours[SCHEDULE_MAX_PERIODS], theirs[SCHEDULE_MAX_PERIODS];
	int n, m;

	parse_ok("Mon 08:00-15:00 50, Mon 15:00-24:00 25", &s);
	n = schedule_day_periods(&s, MON, ours);
	assert_int_equal(n, 2);
	/* The console writes "8:00"; the end of the day is "23:59" or, in older answers, "24:00". */
	m = cloud_periods("{\"speed_limit\":[{\"start\":\"8:00\",\"end\":\"15:00\",\"speed\":50},"
	                  "{\"start\":\"15:00\",\"end\":\"23:59\",\"speed\":25}]}",
	    theirs);
	assert_true(schedule_periods_equal(ours, n, theirs, m));
	m = cloud_periods("{\"speed_limit\":[{\"start\":\"08:00\",\"end\":\"15:00\",\"speed\":50},"
	                  "{\"start\":\"15:00\",\"end\":\"24:00\",\"speed\":25}]}",
	    theirs);
	assert_true(schedule_periods_equal(ours, n, theirs, m));
	/* A period built by hand with end 1440 is the same end of the day. */
	ours[1].end_min = 1440;
	assert_true(schedule_periods_equal(ours, n, theirs, m));
}

static void
test_periods_equal_merges_and_drops_unlimited(void **state)
{
	const struct schedule_period merged[] = {{HM(8, 0), HM(14, 0), 10, 0}};
	const struct schedule_period split[] = {
	    {HM(12, 0), HM(14, 0), 10, 0}, /* out of order, too */
	    {HM(8, 0), HM(12, 0), 10, 0},
	    {0, HM(8, 0), 0, 0}, /* 0 = unlimited: no limit at all */
	    {HM(14, 0), 1439, 0, 0},
	};

	assert_true(schedule_periods_equal(merged, 1, split, 4));
	assert_true(schedule_periods_equal(split, 4, merged, 1));
	assert_true(schedule_periods_equal(NULL, 0, split + 2, 2));
	assert_false(schedule_periods_equal(NULL, 0, merged, 1));
}

static void
test_periods_equal_sees_any_difference(void **state)
{
	const struct schedule_period ours[] = {{HM(8, 0), HM(18, 0), 50, 0}};
	const struct schedule_period faster[] = {{HM(8, 0), HM(18, 0), 60, 0}};
	const struct schedule_period longer[] = {{HM(8, 0), HM(18, 1), 50, 0}};
	const struct schedule_period threshold[] = {{HM(8, 0), HM(18, 0), 50, 30}};
	const struct schedule_period clash[] = {
	    {HM(8, 0), HM(18, 0), 50, 0}, {HM(9, 0), HM(10, 0), 20, 0}};
	const struct schedule_period backwards[] = {{HM(18, 0), HM(8, 0), 50, 0}};

	assert_false(schedule_periods_equal(ours, 1, faster, 1));
	assert_false(schedule_periods_equal(ours, 1, longer, 1));
	/* over_speed_threshold is not the schedule's to compare. */
	assert_true(schedule_periods_equal(ours, 1, threshold, 1));
	/* Two limits on one minute, or a period that ends before it starts, are never ours. */
	assert_false(schedule_periods_equal(ours, 1, clash, 2));
	assert_false(schedule_periods_equal(ours, 1, backwards, 1));
	assert_false(schedule_periods_equal(ours, -1, ours, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_design_example),
	    cmocka_unit_test(test_parse_empty_text_has_no_rules),
	    cmocka_unit_test(test_parse_day_forms),
	    cmocka_unit_test(test_parse_unpadded_hours_and_midnight_end),
	    cmocka_unit_test(test_parse_rejects_bad_days),
	    cmocka_unit_test(test_parse_rejects_bad_times),
	    cmocka_unit_test(test_parse_rejects_bad_rate),
	    cmocka_unit_test(test_parse_rejects_bad_shape),
	    cmocka_unit_test(test_parse_names_the_bad_rule),
	    cmocka_unit_test(test_parse_rejects_too_many_rules),
	    cmocka_unit_test(test_parse_rejects_overlap_with_other_rate_naming_both),
	    cmocka_unit_test(test_parse_rejects_overlap_across_midnight),
	    cmocka_unit_test(test_parse_accepts_overlap_with_same_rate),
	    cmocka_unit_test(test_at_design_example_weekday_and_night),
	    cmocka_unit_test(test_at_wraps_past_midnight_into_next_day),
	    cmocka_unit_test(test_at_wraps_from_sunday_into_monday),
	    cmocka_unit_test(test_at_next_change_wraps_the_week),
	    cmocka_unit_test(test_at_same_rate_rules_are_no_change),
	    cmocka_unit_test(test_at_never_changing_schedule),
	    cmocka_unit_test(test_at_rejects_bad_time),
	    cmocka_unit_test(test_day_periods_design_example),
	    cmocka_unit_test(test_day_periods_include_the_night_before),
	    cmocka_unit_test(test_day_periods_merge_adjacent_equal_rates),
	    cmocka_unit_test(test_day_periods_whole_day_ends_2359),
	    cmocka_unit_test(test_day_periods_never_start_at_2359),
	    cmocka_unit_test(test_day_periods_five_fit_six_are_too_many),
	    cmocka_unit_test(test_day_periods_rejects_bad_wday),
	    cmocka_unit_test(test_format_hhmm),
	    cmocka_unit_test(test_periods_equal_unpadded_and_2359_forms),
	    cmocka_unit_test(test_periods_equal_merges_and_drops_unlimited),
	    cmocka_unit_test(test_periods_equal_sees_any_difference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
