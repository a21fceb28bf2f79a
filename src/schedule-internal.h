/*
 * Shared by the files of the schedule only (schedule.c: rules and the week;
 * schedule_zone.c: instants and zones). A week is SCHEDULE_WEEK_MIN minutes
 * from Monday 00:00, the order of the rules' day bits.
 */
#ifndef SMSGUARD_SCHEDULE_INTERNAL_H
#define SMSGUARD_SCHEDULE_INTERNAL_H

#include <stdint.h>

#include "smsguard/schedule.h"

#define SCHEDULE_DAY_MIN 1440
#define SCHEDULE_WEEK_MIN (7 * SCHEDULE_DAY_MIN)

/*
 * owner[w] = 1 + index of the rule covering week minute w, 0 where none does;
 * where rules share a minute the first one keeps it. Returns -1, or the index
 * of the first rule that contradicts (another rate) an earlier one, with
 * *other that rule's index and *at the first minute they share.
 */
int schedule_week_map(
    const struct schedule *s, uint8_t owner[SCHEDULE_WEEK_MIN], int *other, int *at);
/* The limit at week minute w (0 = unlimited, whether by a rule or by no rule). */
uint32_t schedule_limit_at(const struct schedule *s, const uint8_t *owner, int w);
/*
 * The window of week minute w as schedule_at() gives it; 0 when a rule covers
 * w, -ENOENT for a gap.
 */
int schedule_window(
    const struct schedule *s, const uint8_t *owner, int w, uint16_t *win_start, uint16_t *win_end);
/* Minutes from week minute w until the limit differs (1 .. a week), or -1: never. */
int schedule_minutes_to_change(const struct schedule *s, const uint8_t *owner, int w);
/* The limits of weekday wday (0 = Sunday), minute by minute of its wall clock. */
void schedule_day_limits(
    const struct schedule *s, const uint8_t *owner, int wday, uint32_t lim[SCHEDULE_DAY_MIN]);
/*
 * A day's limits as SMS periods: runs merged, unlimited runs left out, the end
 * of the day written 1439 ("23:59"), so the last minute goes with the one
 * before it. Returns how many the day needs, which may be more than the
 * SCHEDULE_MAX_PERIODS stored.
 */
int schedule_runs(
    const uint32_t lim[SCHEDULE_DAY_MIN], struct schedule_period out[SCHEDULE_MAX_PERIODS]);
/* "Monday" … for a struct tm weekday (0 = Sunday). */
const char *schedule_day_name(int wday);

#endif
