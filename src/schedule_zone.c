/*
 * The schedule at instants and in zones (the second half of schedule.h): the
 * limit at an instant and its next change, the host's day, a host day's
 * periods for a schedule written in another zone, and the configuration's
 * check of a year of days. Each call reads its zones' offsets once (zone.c)
 * and then works on plain numbers: wall times, seconds counted as if the
 * local clock were UTC.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schedule-internal.h"
#include "smsguard/schedule.h"
#include "smsguard/util.h"
#include "zone.h"

#define DAY_MIN SCHEDULE_DAY_MIN
#define DAY_S 86400
/* The wall clock advances more than a week in it, whatever DST does. */
#define NOW_HORIZON (15 * DAY_S)
/* A host day's instants lie within this of its wall midnight (offsets -12h .. +14h). */
#define DAY_MARGIN (2 * DAY_S)
#define YEAR_DAYS 366
#define KINDS_MAX 64
#define TIME_MAX 253402300799 /* 9999-12-31 23:59:59 UTC */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* An instant these calls take: from 1970 to the year 9999, so that adding a year cannot overflow. */
static bool
time_ok(time_t t)
{
	return t >= 0 && t <= TIME_MAX;
}

/* The Monday-first week minute of a wall time (1970-01-01 was a Thursday). */
static int
week_minute(time_t wall)
{
	int64_t days = floor_div(wall, DAY_S);
	int day = (int)(((days + 3) % 7 + 7) % 7);

	return day * DAY_MIN + (int)((wall - days * DAY_S) / 60);
}

/* struct tm's weekday (0 = Sunday) of a wall time. */
static int
wall_wday(time_t wall)
{
	return (int)(((floor_div(wall, DAY_S) + 4) % 7 + 7) % 7);
}

/*
 * The first instant after t whose limit is not `now` (0: never), and that
 * limit. Within a span the clock runs with time, so the change is the next
 * minute of the week with another limit; where the offset changes the clock
 * jumps, and the limit at the landing holds from that instant on.
 */
static time_t
change_after(const struct schedule *s, const uint8_t *owner, const struct zone_line *l, time_t t,
    uint32_t now, uint32_t *next)
{
	for (int i = 0; i < l->n; i++) {
		time_t a = l->span[i].start, b = i + 1 < l->n ? l->span[i + 1].start : l->end;
		long off = l->span[i].off;
		uint32_t v;
		int64_t m;
		int k;

		if (b <= t)
			continue;
		if (a > t) {
			if ((v = schedule_limit_at(s, owner, week_minute(a + off))) != now) {
				*next = v;
				return a;
			}
		} else {
			a = t;
		}
		if ((k = schedule_minutes_to_change(s, owner, week_minute(a + off))) < 0)
			return 0;
		m = floor_div(a + off, 60) + k;
		if (m * 60 - off < b) {
			*next = schedule_limit_at(s, owner, week_minute((time_t)(m * 60)));
			return (time_t)(m * 60 - off);
		}
	}
	return 0;
}

int
schedule_now(const struct schedule *s, const char *zone, time_t t, struct schedule_now *out)
{
	struct zone_line *l = xmalloc(sizeof(*l));
	uint8_t *owner = xmalloc(SCHEDULE_WEEK_MIN);
	int rc = -EINVAL, other, at, w;

	if (!time_ok(t) || zone_line_build(zone, t, t + NOW_HORIZON, l) != 0)
		goto fail;
	/* A parsed schedule has no contradictions; a hand-built one keeps the first rule. */
	(void)schedule_week_map(s, owner, &other, &at);
	memset(out, 0, sizeof(*out));
	w = week_minute(t + zone_offset_at(l, t));
	out->mbps = schedule_limit_at(s, owner, w);
	out->covered = schedule_window(s, owner, w, &out->win_start, &out->win_end) == 0;
	out->next_change = change_after(s, owner, l, t, out->mbps, &out->next_mbps);
	rc = 0;
fail:
	free(owner);
	free(l);
	return rc;
}

int
schedule_host_day(time_t t, struct schedule_date *day, time_t *next_day_start)
{
	struct zone_line *l = xmalloc(sizeof(*l));
	int rc = -EINVAL;
	time_t wall;
	struct tm tm;

	if (!time_ok(t) || zone_line_build(NULL, t, t + 3 * DAY_S, l) != 0)
		goto fail;
	wall = t + zone_offset_at(l, t);
	if (gmtime_r(&wall, &tm) == NULL)
		goto fail;
	if (day != NULL) {
		day->year = tm.tm_year + 1900;
		day->month = tm.tm_mon + 1;
		day->mday = tm.tm_mday;
	}
	if (next_day_start != NULL)
		*next_day_start = zone_first_wall(l, (time_t)(floor_div(wall, DAY_S) + 1) * DAY_S);
	rc = 0;
fail:
	free(l);
	return rc;
}

/* The wall time of a date's midnight; -EINVAL for a date that does not exist. */
static int
date_wall(struct schedule_date d, time_t *wall)
{
	struct tm tm;

	if (d.year < 1900 || d.year > 9999 || d.month < 1 || d.month > 12 || d.mday < 1 ||
	    d.mday > 31)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d.year - 1900;
	tm.tm_mon = d.month - 1;
	tm.tm_mday = d.mday;
	*wall = timegm(&tm);
	/* timegm() carries 31 April into May. */
	return tm.tm_mon == d.month - 1 && tm.tm_mday == d.mday ? 0 : -EINVAL;
}

/*
 * The host day from wall midnight w0 minute by minute of the host's clock
 * (line h), each minute taking the schedule's limit in its own zone (line z)
 * at the minute's first instant. A minute the host's clock skips takes the
 * limit of the one before it.
 */
static void
day_project(const struct schedule *s, const uint8_t *owner, const struct zone_line *h,
    const struct zone_line *z, time_t w0, uint32_t lim[DAY_MIN])
{
	for (int m = 0; m < DAY_MIN; m++) {
		time_t wall = w0 + (time_t)m * 60, t = zone_first_wall(h, wall);

		if (t + zone_offset_at(h, t) != wall) {
			if (m > 0) {
				lim[m] = lim[m - 1];
				continue;
			}
			t--; /* midnight skipped: the instant before the day is the minute before */
		}
		lim[m] = schedule_limit_at(s, owner, week_minute(t + zone_offset_at(z, t)));
	}
}

/*
 * The limits of the host day from wall midnight w0. z NULL, or a zone whose
 * offsets agree with the host's through the day: the weekday's wall clock.
 */
static void
host_day_limits(const struct schedule *s, const uint8_t *owner, const struct zone_line *h,
    const struct zone_line *z, time_t w0, uint32_t lim[DAY_MIN])
{
	if (z == NULL ||
	    zone_lines_agree(h, z, zone_first_wall(h, w0), zone_first_wall(h, w0 + DAY_S)))
		schedule_day_limits(s, owner, wall_wday(w0), lim);
	else
		day_project(s, owner, h, z, w0, lim);
}

int
schedule_host_periods(const struct schedule *s, const char *zone, struct schedule_date day,
    struct schedule_period out[SCHEDULE_MAX_PERIODS])
{
	struct zone_line *h = NULL, *z = NULL;
	uint8_t *owner = NULL;
	uint32_t *lim = NULL;
	int rc = -EINVAL, other, at;
	time_t w0;

	if (date_wall(day, &w0) != 0)
		return -EINVAL;
	if (!zone_is_host(zone)) {
		h = xmalloc(sizeof(*h));
		z = xmalloc(sizeof(*z));
		if (zone_line_build(NULL, w0 - DAY_MARGIN, w0 + DAY_S + DAY_MARGIN, h) != 0 ||
		    zone_line_build(zone, w0 - DAY_MARGIN, w0 + DAY_S + DAY_MARGIN, z) != 0)
			goto fail;
	}
	owner = xmalloc(SCHEDULE_WEEK_MIN);
	lim = xmalloc(DAY_MIN * sizeof(*lim));
	(void)schedule_week_map(s, owner, &other, &at);
	host_day_limits(s, owner, h, z, w0, lim);
	rc = schedule_runs(lim, out);
	if (rc > SCHEDULE_MAX_PERIODS)
		rc = -E2BIG;
fail:
	free(lim);
	free(owner);
	free(z);
	free(h);
	return rc;
}

/* ---- the configuration's check ---- */

/* Days with steady offsets repeat: a weekday under the same pair of offsets. */
struct day_kind {
	int wday;
	bool same; /* in step with the host: the offsets do not matter */
	long hoff, zoff;
	int count;
};

struct check {
	const struct schedule *s;
	const char *zone;
	uint8_t owner[SCHEDULE_WEEK_MIN];
	uint32_t lim[DAY_MIN];
	struct zone_line h, z;
	bool other; /* zone is not the host's */
	int nkinds;
	struct day_kind kinds[KINDS_MAX];
};

static int
day_count(struct check *c, time_t w0)
{
	struct schedule_period p[SCHEDULE_MAX_PERIODS];

	host_day_limits(c->s, c->owner, &c->h, c->other ? &c->z : NULL, w0, c->lim);
	return schedule_runs(c->lim, p);
}

/* The periods a steady day needs, computed once per kind. */
static int
steady_count(struct check *c, time_t w0, time_t t0, bool same)
{
	struct day_kind k = {.wday = wall_wday(w0), .same = same};

	if (!same) {
		k.hoff = zone_offset_at(&c->h, t0);
		k.zoff = zone_offset_at(&c->z, t0);
	}
	for (int i = 0; i < c->nkinds; i++) {
		const struct day_kind *o = &c->kinds[i];

		if (o->wday == k.wday && o->same == k.same && o->hoff == k.hoff &&
		    o->zoff == k.zoff)
			return o->count;
	}
	k.count = day_count(c, w0);
	if (c->nkinds < KINDS_MAX)
		c->kinds[c->nkinds++] = k;
	return k.count;
}

static char *
day_cause(const struct check *c, time_t w0, int count, bool host_changes, bool zone_changes)
{
	char host[128], why[200] = "";
	struct tm tm;

	gmtime_r(&w0, &tm);
	if (host_changes && zone_changes)
		snprintf(why, sizeof(why), " (DST change in %s and in %s)", c->zone,
		    zone_host_name(host, sizeof(host)));
	else if (host_changes || zone_changes)
		snprintf(why, sizeof(why), " (DST change in %s)",
		    zone_changes ? c->zone : zone_host_name(host, sizeof(host)));
	return xasprintf("%s %04d-%02d-%02d%s needs %d periods; SMS keeps at most %d a day",
	    schedule_day_name(tm.tm_wday), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, why, count,
	    SCHEDULE_MAX_PERIODS);
}

/*
 * Day by day from the host's day at `from`. A day in step with the host, or
 * with steady offsets, is the same as every such day of its weekday; a day
 * where either zone changes its offset and they differ is projected anew.
 */
static int
check_year(struct check *c, time_t from, int ndays, char **cause)
{
	time_t w0 = (time_t)floor_div(from + zone_offset_at(&c->h, from), DAY_S) * DAY_S;

	for (int d = 0; d < ndays; d++, w0 += DAY_S) {
		time_t t0 = zone_first_wall(&c->h, w0), t1 = zone_first_wall(&c->h, w0 + DAY_S);
		bool same = !c->other || zone_lines_agree(&c->h, &c->z, t0, t1);
		/* From t0 - 1: a change at t0 itself is a day that starts late. */
		bool hch = zone_changes_in(&c->h, t0 - 1, t1);
		bool zch = c->other && zone_changes_in(&c->z, t0 - 1, t1);
		int count;

		if (same || (!hch && !zch))
			count = steady_count(c, w0, t0, same);
		else
			count = day_count(c, w0);
		if (count > SCHEDULE_MAX_PERIODS) {
			*cause = day_cause(c, w0, count, !same && hch, !same && zch);
			return -E2BIG;
		}
	}
	return 0;
}

int
schedule_check_days(const struct schedule *s, const char *zone, time_t from, char **cause)
{
	struct check *c = xcalloc(1, sizeof(*c));
	int ndays, other, at, rc = -EINVAL;
	time_t to;

	c->s = s;
	c->zone = zone;
	c->other = !zone_is_host(zone);
	/* One zone: every week is the same week. */
	ndays = c->other ? YEAR_DAYS : 7;
	if (!time_ok(from)) {
		*cause = xstrdup("a time out of range");
		goto fail;
	}
	to = from + (time_t)(ndays + 1) * DAY_S + DAY_MARGIN;
	if (zone_line_build(NULL, from - DAY_MARGIN, to, &c->h) != 0 ||
	    (c->other && zone_line_build(zone, from - DAY_MARGIN, to, &c->z) != 0)) {
		*cause = c->other ? xasprintf("cannot read the time zone %.128s", zone)
		                  : xstrdup("cannot read the host's time zone");
		goto fail;
	}
	(void)schedule_week_map(s, c->owner, &other, &at);
	rc = check_year(c, from, ndays, cause);
fail:
	free(c);
	return rc;
}
