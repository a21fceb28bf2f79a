/*
 * Time zones for the schedule (internal to the core): a zone's UTC offsets
 * over a stretch of time, read under one switch of $TZ, so that the schedule's
 * arithmetic runs on plain numbers and a zone file is read once per call
 * rather than once per minute.
 *
 * A "wall" time is a local date and time counted in seconds as if it were
 * UTC (what timegm() gives for the local broken-down time): wall = t + offset.
 */
#ifndef SMSGUARD_ZONE_H
#define SMSGUARD_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ZONE_MAX_SPANS 64 /* offset changes in one line; real zones have a few a year */

struct zone_span {
	time_t start; /* the first instant with this offset */
	long off;     /* seconds east of UTC (tm_gmtoff) */
};

/* The offsets over [span[0].start, end): span[i] lasts until span[i + 1].start. */
struct zone_line {
	time_t end;
	int n;
	struct zone_span span[ZONE_MAX_SPANS];
};

/* NULL or "": the host's zone, whatever $TZ (else /etc/localtime) says now. */
bool zone_is_host(const char *zone);

/*
 * 0 when `zone` is the host's or names a zone file (TZif) under $TZDIR or
 * /usr/share/zoneinfo; -EINVAL when it is not a zone name (a path, "..",
 * odd characters), -ENOENT when there is no such zone.
 */
int zone_check(const char *zone);
/* Where zone files are looked up ($TZDIR as glibc reads it, else /usr/share/zoneinfo). */
const char *zone_dir(void);

/*
 * The offsets of `zone` over [from, to): scanned hourly, each change then
 * found to the second. $TZ is switched for the call and restored exactly
 * (unset stays unset); the daemon is single-threaded. 0, -EINVAL for a bad
 * zone or an empty stretch, -EOVERFLOW for a time localtime_r() cannot
 * convert, -ERANGE for more than ZONE_MAX_SPANS offsets.
 */
int zone_line_build(const char *zone, time_t from, time_t to, struct zone_line *out);

/* Pure, on a built line. */

/* The offset at t (the first span's before the line, the last one's after it). */
long zone_offset_at(const struct zone_line *l, time_t t);
/*
 * The first instant of the line whose wall clock is at or past `wall`: the
 * instant itself when the clock shows it, the end of a spring-forward gap
 * when the clock skips it, the first occurrence when the clock repeats it.
 * l->end when the line never gets there.
 */
time_t zone_first_wall(const struct zone_line *l, time_t wall);
/* An offset change within (from, to). */
bool zone_changes_in(const struct zone_line *l, time_t from, time_t to);
/* a and b have the same offset at every instant of [from, to). */
bool zone_lines_agree(const struct zone_line *a, const struct zone_line *b, time_t from, time_t to);

/* A name for the host's zone in messages: $TZ, else where /etc/localtime points. */
const char *zone_host_name(char *buf, size_t len);

#endif
