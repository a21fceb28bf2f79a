/*
 * The weekly rate-limit schedule (DESIGN.md §4 [ratelimit], §5.6):
 * "Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, Sat-Sun 00:00-24:00 0".
 * Pure: callers pass local broken-down time.
 */
#ifndef SMSGUARD_SCHEDULE_H
#define SMSGUARD_SCHEDULE_H

#include <stdint.h>

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
};

/* 0, or -EINVAL with *cause (malloc'd) naming the bad part. */
int schedule_parse(const char *text, struct schedule *out, char **cause);

/*
 * The limit at a local time (wday 0 = Sunday as in struct tm, minute of day),
 * with the window it belongs to and minutes until the next change (within a week).
 * Returns 0, or -ENOENT when no rule covers that minute (unlimited).
 */
int schedule_at(const struct schedule *s, int wday, int minute, uint32_t *mbps,
    uint16_t *win_start, uint16_t *win_end, int *minutes_to_next);

/*
 * The day's periods as SMS takes them (at most 5, merged, unlimited gaps left
 * out). Returns the count, or -E2BIG when the day needs more than 5.
 */
int schedule_day_periods(const struct schedule *s, int wday,
    struct schedule_period out[SCHEDULE_MAX_PERIODS]);

#endif
