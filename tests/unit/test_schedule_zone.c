/*
 * The schedule at instants and in zones: the limit and its next change around
 * every boundary, across midnight and across Europe/Berlin's DST changes of
 * 2027 (spring forward on Sunday 28 March at 01:00 UTC, 02:00 -> 03:00; fall
 * back on Sunday 31 October at 01:00 UTC, 03:00 -> 02:00) and in
 * Asia/Shanghai (UTC+8, no DST); the host's day; a host day's periods for a
 * schedule written in another zone; the configuration's check of a year.
 * Every test sets the host's zone itself and passes instants built with
 * timegm(), so neither the machine's zone nor today's date matters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "smsguard/schedule.h"
#include "smsguard/util.h"

#define DESIGN_EXAMPLE "Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, Sat-Sun 00:00-24:00 0"
/* Weekday days, nights at 20 (Friday's at 30), a free Saturday, Sunday night at 10. */
#define NIGHTS                                                                                     \
	"Mon-Fri 08:00-18:00 50, Mon-Thu 18:00-08:00 20, Fri 18:00-24:00 30, "                     \
	"Sun 22:00-08:00 10"

#define BERLIN "Europe/Berlin"
#define SHANGHAI "Asia/Shanghai"

#define HM(h, m) ((h)*60 + (m))

static char *saved_tz; /* the test run's own $TZ, put back after each test */
static bool had_tz;

static int
save_tz(void **state)
{
	const char *tz = getenv("TZ");

	had_tz = tz != NULL;
	saved_tz = had_tz ? xstrdup(tz) : NULL;
	return 0;
}

static int
restore_tz(void **state)
{
	if (had_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	return 0;
}

static int
free_tz(void **state)
{
	free(saved_tz);
	return 0;
}

/* The host's zone for this test. */
static void
host_zone(const char *name)
{
	char *tz = xasprintf(":%s", name);

	setenv("TZ", tz, 1);
	tzset();
	free(tz);
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static void
parse_ok(const char *text, struct schedule *s)
{
	char *cause = NULL;

	if (schedule_parse(text, s, &cause) != 0)
		fail_msg("schedule_parse(\"%s\"): %s", text, cause);
}

static char *
fmt_utc(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* At t the limit is mbps; from `next` (0: never) it is next_mbps. */
static void
expect_now(const struct schedule *s, const char *zone, time_t t, uint32_t mbps, time_t next,
    uint32_t next_mbps)
{
	struct schedule_now n;
	char a[32], b[32], c[32];

	assert_int_equal(schedule_now(s, zone, t, &n), 0);
	if (n.mbps != mbps || n.next_change != next || (next != 0 && n.next_mbps != next_mbps))
		fail_msg("at %s in %s: %u Mbit/s until %s then %u; expected %u until %s then %u",
		    fmt_utc(t, a), zone, n.mbps,
		    n.next_change ? fmt_utc(n.next_change, b) : "never", n.next_mbps, mbps,
		    next ? fmt_utc(next, c) : "never", next_mbps);
}

static void
expect_window(const struct schedule *s, const char *zone, time_t t, bool covered, int ws, int we)
{
	struct schedule_now n;

	assert_int_equal(schedule_now(s, zone, t, &n), 0);
	assert_int_equal(n.covered, covered);
	assert_int_equal(n.win_start, ws);
	assert_int_equal(n.win_end, we);
}

/* "HH:MM-HH:MM=MBPS ..." of a period list, for comparing whole days at once. */
static char *
periods_text(const struct schedule_period *p, int n, char buf[160])
{
	char a[6], b[6];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, 160 - len, "%s%s-%s=%u", i ? " " : "",
		    schedule_format_hhmm(p[i].start_min, a), schedule_format_hhmm(p[i].end_min, b),
		    p[i].mbps);
	return buf;
}

static void
expect_host_day(const struct schedule *s, const char *zone, int y, int mo, int d, const char *want)
{
	struct schedule_period p[SCHEDULE_MAX_PERIODS];
	struct schedule_date day = {y, mo, d};
	char buf[160];
	int n = schedule_host_periods(s, zone, day, p);

	if (n < 0)
		fail_msg("%04d-%02d-%02d from %s: %d", y, mo, d, zone ? zone : "the host", n);
	if (strcmp(periods_text(p, n, buf), want) != 0)
		fail_msg("%04d-%02d-%02d from %s: \"%s\", expected \"%s\"", y, mo, d,
		    zone ? zone : "the host", buf, want);
}

/* ---- the limit and its next change ---- */

/* 2027-01-04 is a Monday; Shanghai is UTC+8 all year. */
static void
test_now_around_every_boundary_in_shanghai(void **state)
{
	struct schedule s;

	host_zone("UTC");
	parse_ok(NIGHTS, &s);
	/* Wednesday 6 January: 08:00 local is 00:00 UTC, 18:00 is 10:00 UTC. */
	expect_now(&s, SHANGHAI, utc(2027, 1, 5, 23, 59, 59), 20, utc(2027, 1, 6, 0, 0, 0), 50);
	expect_now(&s, SHANGHAI, utc(2027, 1, 6, 0, 0, 0), 50, utc(2027, 1, 6, 10, 0, 0), 20);
	expect_now(&s, SHANGHAI, utc(2027, 1, 6, 9, 59, 59), 50, utc(2027, 1, 6, 10, 0, 0), 20);
	expect_now(&s, SHANGHAI, utc(2027, 1, 6, 10, 0, 0), 20, utc(2027, 1, 7, 0, 0, 0), 50);
	/* Friday 18:00 -> 30 until midnight; Saturday is free until Sunday 22:00. */
	expect_now(&s, SHANGHAI, utc(2027, 1, 8, 10, 0, 0), 30, utc(2027, 1, 8, 16, 0, 0), 0);
	expect_now(&s, SHANGHAI, utc(2027, 1, 8, 16, 0, 0), 0, utc(2027, 1, 10, 14, 0, 0), 10);
	/* Sunday 22:00 runs past midnight into Monday 08:00. */
	expect_now(&s, SHANGHAI, utc(2027, 1, 10, 14, 0, 0), 10, utc(2027, 1, 11, 0, 0, 0), 50);
	expect_now(&s, SHANGHAI, utc(2027, 1, 10, 16, 0, 0), 10, utc(2027, 1, 11, 0, 0, 0), 50);
	/* Mid-minute instants: the change is still at the minute. */
	expect_now(&s, SHANGHAI, utc(2027, 1, 6, 9, 59, 30), 50, utc(2027, 1, 6, 10, 0, 0), 20);
}

static void
test_now_window_crosses_midnight(void **state)
{
	struct schedule s;

	host_zone("UTC");
	parse_ok(NIGHTS, &s);
	/* Wednesday 23:59 and Thursday 00:00 in Shanghai: the same night rule. */
	expect_window(&s, SHANGHAI, utc(2027, 1, 6, 15, 59, 0), true, HM(18, 0), HM(8, 0));
	expect_window(&s, SHANGHAI, utc(2027, 1, 6, 16, 0, 0), true, HM(18, 0), HM(8, 0));
	expect_now(&s, SHANGHAI, utc(2027, 1, 6, 16, 0, 0), 20, utc(2027, 1, 7, 0, 0, 0), 50);
	/* Saturday noon: a gap, from Friday's midnight to Sunday 22:00. */
	expect_window(&s, SHANGHAI, utc(2027, 1, 9, 4, 0, 0), false, HM(0, 0), HM(22, 0));
}

static void
test_now_in_the_hosts_zone_follows_tz(void **state)
{
	struct schedule s;

	parse_ok(NIGHTS, &s);
	/* The same instant, two hosts: 00:00 UTC is 08:00 in Shanghai, 01:00 in Berlin. */
	host_zone(SHANGHAI);
	expect_now(&s, NULL, utc(2027, 1, 6, 0, 0, 0), 50, utc(2027, 1, 6, 10, 0, 0), 20);
	host_zone(BERLIN);
	expect_now(&s, NULL, utc(2027, 1, 6, 0, 0, 0), 20, utc(2027, 1, 6, 7, 0, 0), 50);
	expect_now(&s, "", utc(2027, 1, 6, 0, 0, 0), 20, utc(2027, 1, 6, 7, 0, 0), 50);
}

static void
test_now_never_changes(void **state)
{
	struct schedule s;
	struct schedule_now n;

	host_zone("UTC");
	parse_ok("daily 00:00-24:00 40", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 30, 0), 40, 0, 0);
	/* Nothing comes after "never", DST change or not. */
	assert_int_equal(schedule_now(&s, BERLIN, utc(2027, 3, 28, 0, 30, 0), &n), 0);
	assert_int_equal(n.next_mbps, 0);
	parse_ok("", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 30, 0), 0, 0, 0);
}

/* 2027-03-28 in Berlin: 01:59:59 CET (00:59:59 UTC) is followed by 03:00:00 CEST. */
static void
test_now_spring_forward_berlin(void **state)
{
	struct schedule s;

	host_zone(SHANGHAI);
	/* A change at 02:30 never happens on the clock: it takes effect at the jump. */
	parse_ok("Sun 01:00-02:30 5, Sun 02:30-03:30 6", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 30, 0), 5, utc(2027, 3, 28, 1, 0, 0), 6);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 59, 59), 5, utc(2027, 3, 28, 1, 0, 0), 6);
	/* 03:00 CEST: 6 until 03:30 CEST, half an hour later. */
	expect_now(&s, BERLIN, utc(2027, 3, 28, 1, 0, 0), 6, utc(2027, 3, 28, 1, 30, 0), 0);
	/* A window that starts inside the skipped hour begins at the jump. */
	parse_ok("Sun 02:30-04:00 10", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 0, 0), 0, utc(2027, 3, 28, 1, 0, 0), 10);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 1, 0, 0), 10, utc(2027, 3, 28, 2, 0, 0), 0);
	/* A change at 03:00 is the same instant as the jump. */
	parse_ok("Sun 00:00-03:00 5", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 27, 23, 0, 0), 5, utc(2027, 3, 28, 1, 0, 0), 0);
	/* The hour before the change is an ordinary CET hour: 01:00 CET is 00:00 UTC. */
	parse_ok("Sun 01:00-02:00 5", &s);
	expect_now(&s, BERLIN, utc(2027, 3, 27, 23, 59, 0), 0, utc(2027, 3, 28, 0, 0, 0), 5);
	expect_now(&s, BERLIN, utc(2027, 3, 28, 0, 0, 0), 5, utc(2027, 3, 28, 1, 0, 0), 0);
}

/* 2027-10-31 in Berlin: 02:59:59 CEST (00:59:59 UTC) is followed by 02:00:00 CET. */
static void
test_now_fall_back_berlin(void **state)
{
	struct schedule s;

	host_zone(SHANGHAI);
	/* The repeated hour is in the window twice: 10 for two real hours. */
	parse_ok("Sun 02:00-03:00 10", &s);
	expect_now(&s, BERLIN, utc(2027, 10, 30, 23, 59, 0), 0, utc(2027, 10, 31, 0, 0, 0), 10);
	expect_now(&s, BERLIN, utc(2027, 10, 31, 0, 0, 0), 10, utc(2027, 10, 31, 2, 0, 0), 0);
	expect_now(&s, BERLIN, utc(2027, 10, 31, 1, 30, 0), 10, utc(2027, 10, 31, 2, 0, 0), 0);
	/* A window from 02:30 is left when the clock goes back, and entered again. */
	parse_ok("Sun 02:30-04:00 10", &s);
	expect_now(&s, BERLIN, utc(2027, 10, 31, 0, 30, 0), 10, utc(2027, 10, 31, 1, 0, 0), 0);
	expect_now(&s, BERLIN, utc(2027, 10, 31, 1, 0, 0), 0, utc(2027, 10, 31, 1, 30, 0), 10);
	expect_now(&s, BERLIN, utc(2027, 10, 31, 1, 30, 0), 10, utc(2027, 10, 31, 3, 0, 0), 0);
}

/* Antarctica/Troll moves two hours: 2027-03-28 01:00 UTC is 01:00 +00 -> 03:00 +02. */
static void
test_now_two_hour_dst_troll(void **state)
{
	struct schedule s;

	host_zone("UTC");
	parse_ok("Sun 01:30-02:30 7, Sun 02:30-04:00 8", &s);
	expect_now(
	    &s, "Antarctica/Troll", utc(2027, 3, 28, 0, 59, 0), 0, utc(2027, 3, 28, 1, 0, 0), 8);
	expect_now(
	    &s, "Antarctica/Troll", utc(2027, 3, 28, 1, 0, 0), 8, utc(2027, 3, 28, 2, 0, 0), 0);
	/* And back: 03:00 +02 -> 01:00 +00 on 2027-10-31, the 7 window then comes at 01:30 +00. */
	expect_now(
	    &s, "Antarctica/Troll", utc(2027, 10, 31, 0, 45, 0), 8, utc(2027, 10, 31, 1, 0, 0), 0);
	expect_now(
	    &s, "Antarctica/Troll", utc(2027, 10, 31, 1, 0, 0), 0, utc(2027, 10, 31, 1, 30, 0), 7);
}

static void
test_now_rejects_a_bad_zone_or_time(void **state)
{
	struct schedule s;
	struct schedule_now n;

	host_zone("UTC");
	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(
	    schedule_now(&s, "Mars/Olympus_Mons", utc(2027, 1, 6, 0, 0, 0), &n), -EINVAL);
	assert_int_equal(
	    schedule_now(&s, "../../etc/passwd", utc(2027, 1, 6, 0, 0, 0), &n), -EINVAL);
	/* A file under zoneinfo that is no zone (glibc would read it as UTC). */
	assert_int_equal(schedule_now(&s, "zone.tab", utc(2027, 1, 6, 0, 0, 0), &n), -EINVAL);
	assert_int_equal(schedule_now(&s, BERLIN, -1, &n), -EINVAL);
	assert_int_equal(schedule_now(&s, BERLIN, (time_t)INT64_MAX, &n), -EINVAL);
	assert_int_equal(schedule_host_day((time_t)INT64_MAX, NULL, NULL), -EINVAL);
}

static void
test_zone_switch_restores_tz_exactly(void **state)
{
	struct schedule s;
	struct schedule_now n;
	struct tm tm;
	time_t t = utc(2027, 1, 6, 0, 0, 0);

	parse_ok(DESIGN_EXAMPLE, &s);
	unsetenv("TZ");
	tzset();
	assert_int_equal(schedule_now(&s, BERLIN, t, &n), 0);
	assert_null(getenv("TZ"));
	host_zone(SHANGHAI);
	assert_int_equal(schedule_now(&s, BERLIN, t, &n), 0);
	assert_string_equal(getenv("TZ"), ":" SHANGHAI);
	/* And the library answers in the host's zone again, not Berlin's. */
	localtime_r(&t, &tm);
	assert_int_equal(tm.tm_hour, 8);
}

/* ---- the host's day ---- */

static void
expect_day(time_t t, int y, int mo, int d, time_t next)
{
	struct schedule_date day;
	time_t got;
	char a[32], b[32];

	assert_int_equal(schedule_host_day(t, &day, &got), 0);
	assert_int_equal(day.year, y);
	assert_int_equal(day.month, mo);
	assert_int_equal(day.mday, d);
	if (got != next)
		fail_msg("next day starts at %s, expected %s", fmt_utc(got, a), fmt_utc(next, b));
}

static void
test_host_day_in_shanghai(void **state)
{
	host_zone(SHANGHAI);
	expect_day(utc(2027, 1, 6, 15, 59, 59), 2027, 1, 6, utc(2027, 1, 6, 16, 0, 0));
	expect_day(utc(2027, 1, 6, 16, 0, 0), 2027, 1, 7, utc(2027, 1, 7, 16, 0, 0));
	/* The year turns at 16:00 UTC. */
	expect_day(utc(2027, 12, 31, 16, 0, 0), 2028, 1, 1, utc(2028, 1, 1, 16, 0, 0));
}

static void
test_host_day_across_berlin_dst(void **state)
{
	host_zone(BERLIN);
	/* 27 March is 24 hours, 28 March 23, 31 October 25. */
	expect_day(utc(2027, 3, 27, 12, 0, 0), 2027, 3, 27, utc(2027, 3, 27, 23, 0, 0));
	expect_day(utc(2027, 3, 27, 23, 0, 0), 2027, 3, 28, utc(2027, 3, 28, 22, 0, 0));
	expect_day(utc(2027, 10, 30, 22, 0, 0), 2027, 10, 31, utc(2027, 10, 31, 23, 0, 0));
	/* In the repeated hour, first and second time round. */
	expect_day(utc(2027, 10, 31, 0, 30, 0), 2027, 10, 31, utc(2027, 10, 31, 23, 0, 0));
	expect_day(utc(2027, 10, 31, 1, 30, 0), 2027, 10, 31, utc(2027, 10, 31, 23, 0, 0));
}

/* America/Santiago springs forward at midnight: 2027-09-04 23:59:59 -04 -> 09-05 01:00 -03. */
static void
test_host_day_whose_midnight_is_skipped(void **state)
{
	host_zone("America/Santiago");
	expect_day(utc(2027, 9, 4, 16, 0, 0), 2027, 9, 4, utc(2027, 9, 5, 4, 0, 0));
	expect_day(utc(2027, 9, 5, 4, 0, 0), 2027, 9, 5, utc(2027, 9, 6, 3, 0, 0));
	/* And falls back at midnight: Saturday 3 April has 25 hours. */
	expect_day(utc(2027, 4, 4, 2, 30, 0), 2027, 4, 3, utc(2027, 4, 4, 4, 0, 0));
}

/* ---- a host day's periods ---- */

/* Same zone: each weekday's wall-clock periods, DST days included. */
static void
test_host_periods_same_zone_are_the_weekdays(void **state)
{
	struct schedule s;

	host_zone(BERLIN);
	parse_ok(DESIGN_EXAMPLE, &s);
	expect_host_day(&s, NULL, 2027, 3, 26, "08:00-18:00=50");
	expect_host_day(&s, NULL, 2027, 3, 28, "");
	expect_host_day(&s, BERLIN, 2027, 3, 29, "08:00-18:00=50");
	/* The spring-forward Sunday keeps 02:00-03:00 although its clock never shows it. */
	parse_ok("Sun 01:00-02:00 5, Sun 02:00-04:00 10", &s);
	expect_host_day(&s, NULL, 2027, 3, 28, "01:00-02:00=5 02:00-04:00=10");
	expect_host_day(&s, BERLIN, 2027, 3, 28, "01:00-02:00=5 02:00-04:00=10");
	/* Europe/Paris keeps Berlin's offsets: its days are the weekdays too. */
	expect_host_day(&s, "Europe/Paris", 2027, 3, 28, "01:00-02:00=5 02:00-04:00=10");
}

/* A Berlin schedule on a Shanghai host, week of Monday 4 January 2027 (CET, 7 hours behind). */
static void
test_host_periods_berlin_schedule_on_shanghai_host_each_weekday(void **state)
{
	static const char *const want[7] = {
	    "15:00-23:59=50",                /* Mon: Berlin Mon 08:00 CET is 15:00 */
	    "00:00-01:00=50 15:00-23:59=50", /* Tue: Monday's 17:00-18:00, then its own */
	    "00:00-01:00=50 15:00-23:59=50", /* Wed */
	    "00:00-01:00=50 15:00-23:59=50", /* Thu */
	    "00:00-01:00=50 15:00-23:59=50", /* Fri */
	    "00:00-01:00=50",                /* Sat: only Friday's last hour */
	    "",                              /* Sun */
	};
	struct schedule s;

	host_zone(SHANGHAI);
	parse_ok(DESIGN_EXAMPLE, &s);
	for (int i = 0; i < 7; i++)
		expect_host_day(&s, BERLIN, 2027, 1, 4 + i, want[i]);
	/* In summer (CEST, 6 hours behind) a Berlin day falls within one Shanghai day. */
	expect_host_day(&s, BERLIN, 2027, 7, 7, "14:00-23:59=50");
}

/* A Shanghai schedule on a Berlin host. */
static void
test_host_periods_shanghai_schedule_on_berlin_host(void **state)
{
	struct schedule s;

	host_zone(BERLIN);
	parse_ok(DESIGN_EXAMPLE, &s);
	/* Shanghai 08:00-18:00 is 01:00-11:00 CET, 02:00-12:00 CEST. */
	expect_host_day(&s, SHANGHAI, 2027, 1, 6, "01:00-11:00=50");
	expect_host_day(&s, SHANGHAI, 2027, 7, 7, "02:00-12:00=50");
	/* Saturday in Berlin starts on Shanghai's Saturday morning: no limit. */
	expect_host_day(&s, SHANGHAI, 2027, 1, 9, "");
}

/*
 * The Shanghai day of Sunday 28 March 2027 spans Berlin's Saturday 17:00 CET
 * to Sunday 18:00 CEST (25 hours of Berlin's clock, one of them skipped): it
 * takes the end of Berlin's Saturday like a winter day and the end of its
 * Sunday like a summer day.
 */
static void
test_host_periods_berlin_dst_changes_the_shanghai_day(void **state)
{
	struct schedule s;

	host_zone(SHANGHAI);
	parse_ok("daily 08:00-18:00 50", &s);
	expect_host_day(&s, BERLIN, 2027, 3, 27, "00:00-01:00=50 15:00-23:59=50");
	expect_host_day(&s, BERLIN, 2027, 3, 28, "00:00-01:00=50 14:00-23:59=50");
	expect_host_day(&s, BERLIN, 2027, 3, 29, "14:00-23:59=50");
	/* 31 October: Berlin's clock covers 18:00 CEST to 17:00 CET, the hour 02:00 twice. */
	expect_host_day(&s, BERLIN, 2027, 10, 30, "14:00-23:59=50");
	expect_host_day(&s, BERLIN, 2027, 10, 31, "15:00-23:59=50");
	expect_host_day(&s, BERLIN, 2027, 11, 1, "00:00-01:00=50 15:00-23:59=50");
}

/*
 * A Berlin host's spring-forward day, a Shanghai schedule: Shanghai 08:00 is
 * 01:00 CET, 09:00 is 03:00 CEST. The host's skipped 02:00-02:59 takes the
 * limit of 01:59, so the 10 runs on to 03:00 on the host's clock, which is
 * where SMS's clock goes anyway.
 */
static void
test_host_periods_spring_forward_host_day(void **state)
{
	struct schedule s;

	host_zone(BERLIN);
	parse_ok("daily 08:00-09:00 10, daily 09:00-10:00 20", &s);
	expect_host_day(&s, SHANGHAI, 2027, 3, 21, "01:00-02:00=10 02:00-03:00=20");
	expect_host_day(&s, SHANGHAI, 2027, 3, 28, "01:00-03:00=10 03:00-04:00=20");
	expect_host_day(&s, SHANGHAI, 2027, 3, 29, "02:00-03:00=10 03:00-04:00=20");
}

/*
 * The fall-back day: Shanghai 08:00-09:00 is 02:00-03:00 CEST, 09:00-10:00 is
 * 02:00-03:00 CET. The host's clock shows 02:00-02:59 twice and SMS applies
 * one limit to both: each minute takes its first occurrence, so the 20 of the
 * second hour is not applied that day.
 */
static void
test_host_periods_fall_back_host_day(void **state)
{
	struct schedule s;

	host_zone(BERLIN);
	parse_ok("daily 08:00-09:00 10, daily 09:00-10:00 20", &s);
	expect_host_day(&s, SHANGHAI, 2027, 10, 31, "02:00-03:00=10");
	expect_host_day(&s, SHANGHAI, 2027, 11, 1, "01:00-02:00=10 02:00-03:00=20");
}

/*
 * A Santiago host whose Sunday 5 September 2027 starts at 01:00 -03 (04:00
 * UTC): the skipped 00:00-00:59 take the limit of the minute before midnight.
 */
static void
test_host_periods_skipped_midnight(void **state)
{
	struct schedule s;

	host_zone("America/Santiago");
	parse_ok("daily 03:00-05:00 7", &s);
	expect_host_day(&s, "UTC", 2027, 9, 4, "00:00-01:00=7 23:00-23:59=7");
	expect_host_day(&s, "UTC", 2027, 9, 5, "00:00-02:00=7");
}

static void
test_host_periods_reject_bad_day_and_zone(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	host_zone("UTC");
	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(
	    schedule_host_periods(&s, NULL, (struct schedule_date){2027, 2, 29}, p), -EINVAL);
	assert_int_equal(
	    schedule_host_periods(&s, NULL, (struct schedule_date){2027, 13, 1}, p), -EINVAL);
	assert_int_equal(
	    schedule_host_periods(&s, NULL, (struct schedule_date){2027, 4, 0}, p), -EINVAL);
	assert_int_equal(
	    schedule_host_periods(&s, "Nowhere/Town", (struct schedule_date){2027, 1, 6}, p),
	    -EINVAL);
	/* A leap day is a day (a Tuesday). */
	assert_int_equal(
	    schedule_host_periods(&s, NULL, (struct schedule_date){2028, 2, 29}, p), 1);
}

static void
test_host_periods_too_many(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	host_zone(BERLIN);
	parse_ok("Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, Mon 07:00-08:00 4, "
	         "Mon 09:00-10:00 5, Mon 11:00-12:00 6",
	    &s);
	assert_int_equal(
	    schedule_host_periods(&s, NULL, (struct schedule_date){2027, 1, 4}, p), -E2BIG);
	/* Written in Shanghai's zone, the Monday falls on Berlin's Sunday evening and Monday night. */
	assert_int_equal(
	    schedule_host_periods(&s, SHANGHAI, (struct schedule_date){2027, 1, 3}, p), 3);
	assert_int_equal(p[0].start_min, HM(18, 0));
	assert_int_equal(
	    schedule_host_periods(&s, SHANGHAI, (struct schedule_date){2027, 1, 4}, p), 3);
	assert_int_equal(p[2].end_min, HM(5, 0));
}

/* ---- the configuration's check ---- */

static void
check_year_says(const struct schedule *s, const char *zone, time_t from, const char *want)
{
	char *cause = NULL;
	int rc = schedule_check_days(s, zone, from, &cause);

	if (want == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", cause);
		assert_null(cause);
		return;
	}
	assert_int_equal(rc, -E2BIG);
	assert_non_null(cause);
	if (strcmp(cause, want) != 0)
		fail_msg("cause \"%s\", expected \"%s\"", cause, want);
	free(cause);
}

static void
test_check_accepts_the_design_example(void **state)
{
	struct schedule s;

	parse_ok(DESIGN_EXAMPLE, &s);
	host_zone(SHANGHAI);
	check_year_says(&s, NULL, utc(2027, 1, 15, 0, 0, 0), NULL);
	check_year_says(&s, BERLIN, utc(2027, 1, 15, 0, 0, 0), NULL);
	host_zone(BERLIN);
	check_year_says(&s, SHANGHAI, utc(2027, 1, 15, 0, 0, 0), NULL);
	check_year_says(&s, "Antarctica/Troll", utc(2027, 1, 15, 0, 0, 0), NULL);
}

static void
test_check_refuses_a_weekday_with_six_periods(void **state)
{
	struct schedule s;

	host_zone(BERLIN);
	parse_ok("Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, Mon 07:00-08:00 4, "
	         "Mon 09:00-10:00 5, Mon 11:00-12:00 6",
	    &s);
	/* Friday 15 January: the first Monday is the 18th. */
	check_year_says(&s, NULL, utc(2027, 1, 15, 12, 0, 0),
	    "Monday 2027-01-18 needs 6 periods; SMS keeps at most 5 a day");
	check_year_says(&s, BERLIN, utc(2027, 1, 15, 12, 0, 0),
	    "Monday 2027-01-18 needs 6 periods; SMS keeps at most 5 a day");
}

/*
 * Four periods on every Shanghai day of the year but one: a Berlin schedule
 * whose short windows at 17:10 and 17:40 fall on the Shanghai day before in
 * winter and on the same day in summer, so the day of the change takes both.
 */
#define DST_ONLY                                                                                   \
	"daily 08:00-09:00 1, daily 10:00-11:00 2, daily 17:10-17:20 3, daily 17:40-17:50 4"

static void
test_check_refuses_a_schedule_that_breaks_only_on_a_dst_day(void **state)
{
	struct schedule s;
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	parse_ok(DST_ONLY, &s);
	host_zone(SHANGHAI);
	expect_host_day(
	    &s, BERLIN, 2027, 3, 27, "00:10-00:20=3 00:40-00:50=4 15:00-16:00=1 17:00-18:00=2");
	/* Saturday's 17:10 and 17:40 CET, then Sunday's 08:00, 10:00, 17:10 and 17:40 CEST. */
	assert_int_equal(
	    schedule_host_periods(&s, BERLIN, (struct schedule_date){2027, 3, 28}, p), -E2BIG);
	expect_host_day(
	    &s, BERLIN, 2027, 3, 29, "14:00-15:00=1 16:00-17:00=2 23:10-23:20=3 23:40-23:50=4");
	check_year_says(&s, BERLIN, utc(2027, 1, 15, 0, 0, 0),
	    "Sunday 2027-03-28 (DST change in Europe/Berlin) needs 6 periods; SMS keeps at most 5 "
	    "a "
	    "day");
	/* The check looks a year ahead: from April on, the next such day is in 2028. */
	check_year_says(&s, BERLIN, utc(2027, 4, 1, 0, 0, 0),
	    "Sunday 2028-03-26 (DST change in Europe/Berlin) needs 6 periods; SMS keeps at most 5 "
	    "a "
	    "day");
	/* On a Berlin host the schedule is the host's clock: four periods every day. */
	host_zone(BERLIN);
	check_year_says(&s, BERLIN, utc(2027, 1, 15, 0, 0, 0), NULL);
	check_year_says(&s, NULL, utc(2027, 1, 15, 0, 0, 0), NULL);
}

/*
 * The host's own change: on a Berlin host, a Shanghai schedule whose 06:00
 * window is at the start of Berlin's day in summer and at its end in winter.
 * The 25-hour 31 October has it twice.
 */
static void
test_check_names_the_hosts_dst_change(void **state)
{
	struct schedule s;

	parse_ok("daily 06:00-07:00 1, daily 11:00-12:00 2, daily 13:00-14:00 3, "
	         "daily 15:00-16:00 4, daily 17:00-18:00 5",
	    &s);
	host_zone(BERLIN);
	expect_host_day(&s, SHANGHAI, 2027, 10, 30,
	    "00:00-01:00=1 05:00-06:00=2 07:00-08:00=3 09:00-10:00=4 11:00-12:00=5");
	check_year_says(&s, SHANGHAI, utc(2027, 1, 15, 0, 0, 0),
	    "Sunday 2027-10-31 (DST change in Europe/Berlin) needs 6 periods; SMS keeps at most 5 "
	    "a "
	    "day");
}

static void
test_check_names_an_unreadable_zone(void **state)
{
	struct schedule s;
	char *cause = NULL;

	host_zone("UTC");
	parse_ok(DESIGN_EXAMPLE, &s);
	assert_int_equal(
	    schedule_check_days(&s, "Nowhere/Town", utc(2027, 1, 15, 0, 0, 0), &cause), -EINVAL);
	assert_string_equal(cause, "cannot read the time zone Nowhere/Town");
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_now_around_every_boundary_in_shanghai, restore_tz),
	    cmocka_unit_test_teardown(test_now_window_crosses_midnight, restore_tz),
	    cmocka_unit_test_teardown(test_now_in_the_hosts_zone_follows_tz, restore_tz),
	    cmocka_unit_test_teardown(test_now_never_changes, restore_tz),
	    cmocka_unit_test_teardown(test_now_spring_forward_berlin, restore_tz),
	    cmocka_unit_test_teardown(test_now_fall_back_berlin, restore_tz),
	    cmocka_unit_test_teardown(test_now_two_hour_dst_troll, restore_tz),
	    cmocka_unit_test_teardown(test_now_rejects_a_bad_zone_or_time, restore_tz),
	    cmocka_unit_test_teardown(test_zone_switch_restores_tz_exactly, restore_tz),
	    cmocka_unit_test_teardown(test_host_day_in_shanghai, restore_tz),
	    cmocka_unit_test_teardown(test_host_day_across_berlin_dst, restore_tz),
	    cmocka_unit_test_teardown(test_host_day_whose_midnight_is_skipped, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_same_zone_are_the_weekdays, restore_tz),
	    cmocka_unit_test_teardown(
	        test_host_periods_berlin_schedule_on_shanghai_host_each_weekday, restore_tz),
	    cmocka_unit_test_teardown(
	        test_host_periods_shanghai_schedule_on_berlin_host, restore_tz),
	    cmocka_unit_test_teardown(
	        test_host_periods_berlin_dst_changes_the_shanghai_day, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_spring_forward_host_day, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_fall_back_host_day, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_skipped_midnight, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_reject_bad_day_and_zone, restore_tz),
	    cmocka_unit_test_teardown(test_host_periods_too_many, restore_tz),
	    cmocka_unit_test_teardown(test_check_accepts_the_design_example, restore_tz),
	    cmocka_unit_test_teardown(test_check_refuses_a_weekday_with_six_periods, restore_tz),
	    cmocka_unit_test_teardown(
	        test_check_refuses_a_schedule_that_breaks_only_on_a_dst_day, restore_tz),
	    cmocka_unit_test_teardown(test_check_names_the_hosts_dst_change, restore_tz),
	    cmocka_unit_test_teardown(test_check_names_an_unreadable_zone, restore_tz),
	};
	int rc;

	save_tz(NULL);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free_tz(NULL);
	return rc;
}
