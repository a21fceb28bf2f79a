/*
 * Time zones for the schedule: a zone's UTC offsets over a stretch of time.
 * glibc keeps one zone loaded at a time and reads its file again whenever $TZ
 * names another, so each line is read under one switch of $TZ and the
 * schedule's arithmetic then runs on plain numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsguard/util.h"
#include "zone.h"

#define ZONE_DIR_DEFAULT "/usr/share/zoneinfo"
#define ZONE_NAME_MAX 128
#define ZONE_STEP 3600 /* offsets are scanned hourly: no zone changes twice within an hour */

struct zone_saved {
	char *tz; /* $TZ before the switch; NULL when it was unset */
	bool switched;
};

bool
zone_is_host(const char *zone)
{
	return zone == NULL || zone[0] == '\0';
}

const char *
zone_dir(void)
{
	const char *d = getenv("TZDIR");

	return d != NULL && d[0] != '\0' ? d : ZONE_DIR_DEFAULT;
}

static bool
zone_name_ok(const char *zone)
{
	size_t len = strlen(zone);

	if (len > ZONE_NAME_MAX || zone[0] == '/' || strstr(zone, "..") != NULL)
		return false;
	for (const char *p = zone; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || strchr("_+-/", *p) != NULL))
			return false;
	}
	return true;
}

int
zone_check(const char *zone)
{
	char *path, magic[4];
	struct stat st;
	int fd, rc = -ENOENT;

	if (zone_is_host(zone))
		return 0;
	if (!zone_name_ok(zone))
		return -EINVAL;
	path = xasprintf("%s/%s", zone_dir(), zone);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -ENOENT;
	/* glibc reads anything else there (zone.tab, a directory) as UTC, silently. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "TZif", sizeof(magic)) == 0)
		rc = 0;
	close(fd);
	return rc;
}

/* localtime_r() answers in `zone` until zone_leave(); the host's zone is reloaded as it is now. */
static void
zone_enter(const char *zone, struct zone_saved *sv)
{
	const char *old = getenv("TZ");

	sv->tz = old != NULL ? xstrdup(old) : NULL;
	sv->switched = !zone_is_host(zone);
	if (sv->switched) {
		char *tz = xasprintf(":%s", zone);

		setenv("TZ", tz, 1);
		free(tz);
	}
	tzset();
}

static void
zone_leave(struct zone_saved *sv)
{
	if (sv->switched) {
		if (sv->tz != NULL)
			setenv("TZ", sv->tz, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(sv->tz);
	sv->tz = NULL;
}

static int
offset_of(time_t t, long *off)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return -EOVERFLOW;
	*off = tm.tm_gmtoff;
	return 0;
}

static int
span_add(struct zone_line *l, time_t start, long off)
{
	if (l->n == ZONE_MAX_SPANS)
		return -ERANGE;
	l->span[l->n].start = start;
	l->span[l->n].off = off;
	l->n++;
	return 0;
}

/* Under the zone: hour by hour, and each change halved down to its first second. */
static int
line_scan(time_t from, time_t to, struct zone_line *l)
{
	time_t t = from;
	long prev, off;
	int rc;

	l->n = 0;
	l->end = to;
	if ((rc = offset_of(from, &prev)) != 0 || (rc = span_add(l, from, prev)) != 0)
		return rc;
	while (t < to - 1) {
		time_t lo = t, hi = to - 1 - t > ZONE_STEP ? t + ZONE_STEP : to - 1;

		if ((rc = offset_of(hi, &off)) != 0)
			return rc;
		if (off == prev) {
			t = hi;
			continue;
		}
		while (hi - lo > 1) {
			time_t mid = lo + (hi - lo) / 2;

			if ((rc = offset_of(mid, &off)) != 0)
				return rc;
			if (off == prev)
				lo = mid;
			else
				hi = mid;
		}
		if ((rc = offset_of(hi, &prev)) != 0 || (rc = span_add(l, hi, prev)) != 0)
			return rc;
		t = hi;
	}
	return 0;
}

int
zone_line_build(const char *zone, time_t from, time_t to, struct zone_line *out)
{
	struct zone_saved sv;
	int rc;

	if (to <= from || zone_check(zone) != 0)
		return -EINVAL;
	zone_enter(zone, &sv);
	rc = line_scan(from, to, out);
	zone_leave(&sv);
	return rc;
}

long
zone_offset_at(const struct zone_line *l, time_t t)
{
	int i = l->n - 1;

	if (l->n == 0)
		return 0;
	while (i > 0 && l->span[i].start > t)
		i--;
	return l->span[i].off;
}

time_t
zone_first_wall(const struct zone_line *l, time_t wall)
{
	for (int i = 0; i < l->n; i++) {
		time_t a = l->span[i].start, b = i + 1 < l->n ? l->span[i + 1].start : l->end;
		long off = l->span[i].off;

		if (a + off >= wall)
			return a; /* the clock starts the span at or past it (a gap, or the line's start) */
		if (wall - off < b)
			return wall - off;
	}
	return l->end;
}

bool
zone_changes_in(const struct zone_line *l, time_t from, time_t to)
{
	for (int i = 1; i < l->n; i++)
		if (l->span[i].start > from && l->span[i].start < to)
			return true;
	return false;
}

bool
zone_lines_agree(const struct zone_line *a, const struct zone_line *b, time_t from, time_t to)
{
	if (zone_offset_at(a, from) != zone_offset_at(b, from))
		return false;
	/* Between the changes of either line both offsets hold still. */
	for (int k = 0; k < 2; k++) {
		const struct zone_line *l = k == 0 ? a : b;

		for (int i = 1; i < l->n; i++) {
			time_t t = l->span[i].start;

			if (t > from && t < to && zone_offset_at(a, t) != zone_offset_at(b, t))
				return false;
		}
	}
	return true;
}

const char *
zone_host_name(char *buf, size_t len)
{
	const char *tz = getenv("TZ"), *dir = zone_dir(), *p;
	char link[256];
	ssize_t n;

	if (tz != NULL) {
		tz += tz[0] == ':';
		if (strncmp(tz, dir, strlen(dir)) == 0 && tz[strlen(dir)] == '/')
			tz += strlen(dir) + 1;
		/* glibc reads an empty $TZ as UTC. */
		snprintf(buf, len, "%s", tz[0] != '\0' ? tz : "UTC");
		return buf;
	}
	n = readlink("/etc/localtime", link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		p = strstr(link, "zoneinfo/");
		snprintf(buf, len, "%s", p != NULL ? p + strlen("zoneinfo/") : link);
	} else {
		snprintf(buf, len, "the host's local time");
	}
	return buf;
}
