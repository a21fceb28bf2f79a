/*
 * The weekly rate-limit schedule (DESIGN.md §4 [ratelimit], §5.6):
 * "Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, Sat-Sun 00:00-24:00 0".
 *
 * Rules are comma-separated "DAYS HH:MM-HH:MM MBPS". DAYS is a day (Mon … Sun,
 * or the full name, any case), a range that may wrap (Mon-Fri, Sat-Mon), a
 * list joined with '+' or '/' (Mon+Wed/Fri-Sat), or "daily" / "*". 24:00 ends
 * a day; an end before the start wraps past midnight into the next day (so
 * "Fri 18:00-08:00" covers Fri 18:00 - Sat 08:00). MBPS is 0..1000 Mbit/s,
 * 0 = unlimited. Rules that share a minute must agree on the rate (the DESIGN
 * example's Fri night rule and its Sat rule both say 0); different rates on
 * the same minute are an error naming both rules. A minute no rule covers (a
 * gap) is unlimited, as a rule with rate 0 is: gaps need no rule.
 *
 * schedule_at() and schedule_day_periods() are pure and take local
 * broken-down time (struct tm's tm_wday and tm_hour * 60 + tm_min in the
 * schedule's zone), so DST is the caller's there: minutes_to_next counts
 * wall-clock minutes. The calls on instants further down (schedule_now() and
 * after) do the zones and DST themselves.
 */
#ifndef SMSGUARD_SCHEDULE_H
#define SMSGUARD_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define SCHEDULE_MAX_RULES 32
#define SCHEDULE_MAX_PERIODS 5 /* SMS keeps at most 5 per task */

struct schedule_rule {
	uint8_t days;       /* bit 0 = Monday … bit 6 = Sunday */
	uint16_t start_min; /* 0..1439 */
	uint16_t end_min;   /* 1..1440; end < start wraps past midnight */
	uint32_t mbps;      /* 0 = unlimited */
};

struct schedule {
	int nrules;
	struct schedule_rule rules[SCHEDULE_MAX_RULES];
};

/* One SMS speed-limit period ("HH:MM" strings on the wire). */
struct schedule_period {
	uint16_t start_min;
	uint16_t end_min; /* 1439 = "23:59" */
	uint32_t mbps;
	double threshold; /* over_speed_threshold %; 0 = not given (the schedule never sets it) */
};

/* 0, or -EINVAL with *cause (malloc'd) naming the bad part. */
int schedule_parse(const char *text, struct schedule *out, char **cause);

/*
 * The limit at a local time (wday 0 = Sunday as in struct tm, minute of day),
 * with the window it belongs to and minutes until the next change (within a week).
 * Returns 0, or -ENOENT when no rule covers that minute (unlimited).
 * *mbps is the limit (0 = unlimited). The window is the covering rule's
 * start/end (end may be below start when the rule wraps midnight; 1440 =
 * 24:00), or for an uncovered minute the uncovered stretch around it.
 * *minutes_to_next counts minutes until the limit differs (a change of rule
 * with the same rate is no change); -1 when it never changes. Any out
 * pointer may be NULL. -EINVAL for wday outside 0..6 or minute outside 0..1439.
 */
int schedule_at(const struct schedule *s, int wday, int minute, uint32_t *mbps, uint16_t *win_start,
    uint16_t *win_end, int *minutes_to_next);

/*
 * The day's periods as SMS takes them (at most 5, merged, unlimited gaps left
 * out). Returns the count, or -E2BIG when the day needs more than 5.
 * Periods are in order; end_min is exclusive except that a period running to
 * midnight ends at 1439 ("23:59", as SMS writes it). So no period starts at
 * 23:59: the day's last minute takes the limit of 23:58 (a rule of that one
 * minute alone is not sent). -EINVAL for a bad wday.
 */
int schedule_day_periods(
    const struct schedule *s, int wday, struct schedule_period out[SCHEDULE_MAX_PERIODS]);

/* "HH:MM" for a minute of the day (1440 = "24:00"); returns buf. */
char *schedule_format_hhmm(unsigned minute, char buf[6]);

/*
 * Instants and zones. A zone is a name under /usr/share/zoneinfo
 * ("Europe/Berlin"), or NULL / "" for the host's local zone (what
 * localtime_r() uses: $TZ, else /etc/localtime). SMS evaluates a task's
 * periods against the source's local clock, so the host's zone is the one
 * the periods are written in; the schedule may be written in another.
 * Zones are switched through $TZ for the length of one call and restored:
 * the daemon is single-threaded. Instants run from 1970 to the year 9999.
 */

/* A calendar day: month 1..12, mday 1..31. */
struct schedule_date {
	int year, month, mday;
};

/* The schedule at one instant, in its own zone. */
struct schedule_now {
	uint32_t mbps;               /* in force at t; 0 = unlimited */
	bool covered;                /* a rule covers t (false: a gap, read as unlimited) */
	uint16_t win_start, win_end; /* its window in the schedule's zone, as schedule_at() */
	time_t next_change;          /* the first instant after t with another limit; 0 = never */
	uint32_t next_mbps;          /* the limit from next_change on */
};

/*
 * 0, or -EINVAL (a bad zone or time). next_change is an instant, found on the
 * zone's clock as it runs: a change at a time the clock skips (02:30 on the
 * spring-forward day) takes effect at the first instant the clock shows a
 * later time (the jump to 03:00); when the clock goes back, the repeated
 * times are evaluated again, so a window can end at the jump back and begin
 * again when the clock comes round to it. A change of rule with the same
 * rate is no change.
 */
int schedule_now(const struct schedule *s, const char *zone, time_t t, struct schedule_now *out);

/*
 * The host's local day at t and the instant the next one begins: the first
 * instant the clock shows the next date (its 01:00 when midnight is skipped).
 * Either out pointer may be NULL. 0, or -EINVAL for a time out of range.
 */
int schedule_host_day(time_t t, struct schedule_date *day, time_t *next_day_start);

/*
 * The periods the task holds on the host's local day `day`, for a schedule
 * written in `zone`. In step with the host (zone NULL or "", or a zone whose
 * UTC offset is the host's throughout that day, as Europe/Paris is Berlin's):
 * schedule_day_periods() of that weekday, on the wall clock, so a DST day
 * keeps its wall-clock periods. Another zone: each minute of the host's clock
 * takes the schedule's limit at its instant in `zone`, runs are merged,
 * unlimited runs left out. So a host day takes the end of one of the
 * schedule's days and the start of the next (a Shanghai day is Berlin's
 * 17:00 to 17:00 in winter, 18:00 to 18:00 in summer, and 17:00 to 18:00 on
 * the day Berlin springs forward). A minute the host's clock skips takes the
 * limit of the one before it; a repeated (fall-back) minute takes its first
 * occurrence, so a limit the schedule gives only the second time round is not
 * applied that day (SMS applies one limit to both). Returns the count
 * (0..5), -E2BIG when the day needs more than 5, -EINVAL for a day that does
 * not exist or a bad zone.
 */
int schedule_host_periods(const struct schedule *s, const char *zone, struct schedule_date day,
    struct schedule_period out[SCHEDULE_MAX_PERIODS]);

/*
 * For the configuration: every host day from the one at `from` for a year
 * fits in 5 periods. In step with the host that is the 7 weekdays; in
 * another zone every day of the year is looked at: a day on which neither
 * zone changes its UTC offset is computed once per weekday and pair of
 * offsets, a day on which either changes (found by scanning both zones'
 * offsets hourly) on its own. 0, or -E2BIG with *cause (malloc'd) naming the
 * first day that does not fit ("Monday 2027-01-18 needs 6 periods; SMS keeps
 * at most 5 a day", "Sunday 2027-03-28 (DST change in Europe/Berlin) needs 6
 * periods; SMS keeps at most 5 a day"), or -EINVAL with *cause for a zone
 * that cannot be read or a time out of range. A few milliseconds.
 */
int schedule_check_days(const struct schedule *s, const char *zone, time_t from, char **cause);

/*
 * Two period lists hold the same limits, minute by minute: order, merging and
 * periods of speed 0 (unlimited) do not matter, an end of 23:59 or 24:00 is
 * the end of the day, thresholds are ignored. A list with a period that ends
 * before it starts or runs past the day, with two limits on one minute, or a
 * negative count, equals nothing.
 */
bool schedule_periods_equal(
    const struct schedule_period *a, int na, const struct schedule_period *b, int nb);

#endif
