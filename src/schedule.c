/*
 * The weekly rate-limit schedule: its rules, the week they make and a day's
 * periods. Internally a week is 10080 minutes starting Monday 00:00 (the
 * rules' day bits are Monday-first); callers speak struct tm (wday 0 =
 * Sunday) and local time. Instants and zones are schedule_zone.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schedule-internal.h"
#include "smsguard/schedule.h"
#include "smsguard/util.h"

#define DAY_MIN SCHEDULE_DAY_MIN
#define WEEK_MIN SCHEDULE_WEEK_MIN
#define RULE_TEXT_MAX 64 /* how much of a rule an error message quotes */

static const char *const day_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_long[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

/* Monday-first day index from struct tm's Sunday-first one. */
static int
day_from_wday(int wday)
{
	return (wday + 6) % 7;
}

static int
day_parse(const char *s, size_t len)
{
	for (int d = 0; d < 7; d++) {
		if ((len == 3 && strncasecmp(s, day_names[d], 3) == 0) ||
		    (len == strlen(day_long[d]) && strncasecmp(s, day_long[d], len) == 0))
			return d;
	}
	return -1;
}

/* "Mon", "Mon-Fri", "Sat-Mon" (wraps), "Mon+Wed/Fri", "daily", "*". */
static int
days_parse(const char *tok, uint8_t *out)
{
	uint8_t days = 0;
	const char *p = tok;

	if (strcasecmp(tok, "daily") == 0 || strcmp(tok, "*") == 0) {
		*out = 0x7f;
		return 0;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, "+/");
		const char *dash = memchr(p, '-', n);
		int a, b;

		if (dash == NULL) {
			if ((a = day_parse(p, n)) < 0)
				return -EINVAL;
			b = a;
		} else {
			if ((a = day_parse(p, (size_t)(dash - p))) < 0 ||
			    (b = day_parse(dash + 1, n - (size_t)(dash - p) - 1)) < 0)
				return -EINVAL;
		}
		for (int d = a;; d = (d + 1) % 7) {
			days |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		p += n;
		if (*p != '\0') {
			p++;
			if (*p == '\0')
				return -EINVAL; /* "Mon+" */
		}
	}
	if (days == 0)
		return -EINVAL;
	*out = days;
	return 0;
}

/* "H:MM" or "HH:MM"; 24:00 only where allow_24 (an end). */
static int
hhmm_parse(const char *s, size_t len, bool allow_24, uint16_t *out)
{
	unsigned h = 0, m;
	size_t i = 0;

	if (len < 4 || len > 5)
		return -EINVAL;
	while (i < len && isdigit((unsigned char)s[i]))
		h = h * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || i > 2 || i != len - 3 || s[i] != ':' || !isdigit((unsigned char)s[i + 1]) ||
	    !isdigit((unsigned char)s[i + 2]))
		return -EINVAL;
	m = (unsigned)(s[i + 1] - '0') * 10 + (unsigned)(s[i + 2] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
		return -EINVAL;
	*out = (uint16_t)(h * 60 + m);
	return 0;
}

static int
mbps_parse(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	if (*s == '\0' || strlen(s) > 4)
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	if (v > 1000)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Hand-built schedules reach schedule_at() too: skip what a parse would refuse. */
static bool
rule_valid(const struct schedule_rule *r)
{
	return r->start_min < DAY_MIN && r->end_min >= 1 && r->end_min <= DAY_MIN &&
	    r->end_min != r->start_min && (r->days & 0x7f) != 0;
}

int
schedule_week_map(const struct schedule *s, uint8_t owner[WEEK_MIN], int *other, int *at)
{
	int bad = -1;
	int nrules = s->nrules < 0 ? 0 : s->nrules;

	if (nrules > SCHEDULE_MAX_RULES)
		nrules = SCHEDULE_MAX_RULES;
	memset(owner, 0, WEEK_MIN);
	for (int i = 0; i < nrules; i++) {
		const struct schedule_rule *r = &s->rules[i];
		int len = r->end_min > r->start_min ? r->end_min - r->start_min
		                                    : r->end_min + DAY_MIN - r->start_min;

		if (!rule_valid(r))
			continue;

		for (int d = 0; d < 7; d++) {
			if (!(r->days & (1u << d)))
				continue;
			for (int k = 0; k < len; k++) {
				int w = (d * DAY_MIN + r->start_min + k) % WEEK_MIN;

				if (owner[w] == 0) {
					owner[w] = (uint8_t)(i + 1);
				} else if (bad < 0 && s->rules[owner[w] - 1].mbps != r->mbps) {
					*other = owner[w] - 1;
					*at = w;
					bad = i;
				}
			}
		}
	}
	return bad;
}

uint32_t
schedule_limit_at(const struct schedule *s, const uint8_t *owner, int w)
{
	return owner[w] == 0 ? 0 : s->rules[owner[w] - 1].mbps;
}

static char *
rule_quote(const char *text, size_t len)
{
	if (len > RULE_TEXT_MAX)
		return xasprintf("%.*s...", RULE_TEXT_MAX, text);
	return xasprintf("%.*s", (int)len, text);
}

static int
rule_parse(const char *text, size_t len, struct schedule_rule *r, const char **why)
{
	char buf[RULE_TEXT_MAX * 2], *tok[4], *save = NULL, *t;
	const char *dash;
	int n = 0;

	if (len >= sizeof(buf)) {
		*why = "rule too long";
		return -EINVAL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (t = strtok_r(buf, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (n == 4)
			break;
		tok[n++] = t;
	}
	if (n != 3) {
		*why = n == 0 ? "empty rule" : "expected DAYS HH:MM-HH:MM MBPS";
		return -EINVAL;
	}
	if (days_parse(tok[0], &r->days) != 0) {
		*why = "bad days (Mon…Sun, a range like Mon-Fri, a list like Mon+Thu, or daily)";
		return -EINVAL;
	}
	dash = strchr(tok[1], '-');
	if (dash == NULL ||
	    hhmm_parse(tok[1], (size_t)(dash - tok[1]), false, &r->start_min) != 0 ||
	    hhmm_parse(dash + 1, strlen(dash + 1), true, &r->end_min) != 0) {
		*why = "bad time window (HH:MM-HH:MM, 00:00 to 24:00)";
		return -EINVAL;
	}
	if (r->end_min == 0)
		r->end_min = DAY_MIN; /* "18:00-00:00" ends at midnight */
	if (r->end_min == r->start_min) {
		*why = "empty time window (for a whole day write 00:00-24:00)";
		return -EINVAL;
	}
	if (mbps_parse(tok[2], &r->mbps) != 0) {
		*why = "bad rate (Mbit/s, 0 to 1000; 0 = unlimited)";
		return -EINVAL;
	}
	return 0;
}

int
schedule_parse(const char *text, struct schedule *out, char **cause)
{
	struct schedule s;
	const char *p = text, *starts[SCHEDULE_MAX_RULES];
	size_t lens[SCHEDULE_MAX_RULES];
	uint8_t *owner = NULL;
	int rc = -EINVAL, bad, other, at;

	memset(&s, 0, sizeof(s));
	if (text == NULL)
		text = p = "";
	while (*p != '\0') {
		const char *why = NULL, *b = p;
		size_t n = strcspn(p, ","), m = n;

		while (n > 0 && isspace((unsigned char)*b)) {
			b++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)b[n - 1]))
			n--;
		if (n == 0 && p[m] == '\0' && s.nrules == 0)
			break; /* only white space: no rules */
		if (s.nrules == SCHEDULE_MAX_RULES) {
			*cause = xasprintf("too many rules (at most %d)", SCHEDULE_MAX_RULES);
			goto fail;
		}
		if (rule_parse(b, n, &s.rules[s.nrules], &why) != 0) {
			char *q = rule_quote(b, n);

			*cause = xasprintf("rule %d \"%s\": %s", s.nrules + 1, q, why);
			free(q);
			goto fail;
		}
		starts[s.nrules] = b;
		lens[s.nrules] = n;
		s.nrules++;
		p += m;
		if (*p == ',') {
			p++;
			if (*p == '\0' || strspn(p, " \t") == strlen(p)) {
				*cause = xasprintf("empty rule after rule %d", s.nrules);
				goto fail;
			}
		}
	}
	owner = xmalloc(WEEK_MIN);
	if ((bad = schedule_week_map(&s, owner, &other, &at)) >= 0) {
		char *qa = rule_quote(starts[bad], lens[bad]);
		char *qb = rule_quote(starts[other], lens[other]);

		*cause = xasprintf("rule %d \"%s\" overlaps rule %d \"%s\" with a different "
		                   "rate (%s %02d:%02d)",
		    bad + 1, qa, other + 1, qb, day_names[at / DAY_MIN], at % DAY_MIN / 60,
		    at % 60);
		free(qa);
		free(qb);
		goto fail;
	}
	*out = s;
	rc = 0;
fail:
	free(owner);
	return rc;
}

int
schedule_window(
    const struct schedule *s, const uint8_t *owner, int w, uint16_t *win_start, uint16_t *win_end)
{
	int b = 0, f = 0;

	if (owner[w] != 0) {
		*win_start = s->rules[owner[w] - 1].start_min;
		*win_end = s->rules[owner[w] - 1].end_min;
		return 0;
	}
	/* The uncovered stretch around w, as minutes of the day. */
	while (b < WEEK_MIN - 1 && owner[(w - b - 1 + WEEK_MIN) % WEEK_MIN] == 0)
		b++;
	while (f < WEEK_MIN - 1 && owner[(w + f + 1) % WEEK_MIN] == 0)
		f++;
	if (b + f + 1 >= WEEK_MIN) {
		*win_start = 0;
		*win_end = DAY_MIN;
	} else {
		*win_start = (uint16_t)((w - b + WEEK_MIN) % WEEK_MIN % DAY_MIN);
		*win_end = (uint16_t)((w + f + 1) % WEEK_MIN % DAY_MIN);
		if (*win_end == 0)
			*win_end = DAY_MIN;
	}
	return -ENOENT;
}

int
schedule_minutes_to_change(const struct schedule *s, const uint8_t *owner, int w)
{
	uint32_t now = schedule_limit_at(s, owner, w);

	for (int k = 1; k < WEEK_MIN; k++)
		if (schedule_limit_at(s, owner, (w + k) % WEEK_MIN) != now)
			return k;
	return -1;
}

int
schedule_at(const struct schedule *s, int wday, int minute, uint32_t *mbps, uint16_t *win_start,
    uint16_t *win_end, int *minutes_to_next)
{
	uint8_t owner[WEEK_MIN];
	int w, other, at, rc;
	uint16_t ws, we;

	if (wday < 0 || wday > 6 || minute < 0 || minute >= DAY_MIN)
		return -EINVAL;
	/* A parsed schedule has no contradictions; a hand-built one keeps the first rule. */
	(void)schedule_week_map(s, owner, &other, &at);
	w = day_from_wday(wday) * DAY_MIN + minute;
	rc = schedule_window(s, owner, w, &ws, &we);
	if (mbps != NULL)
		*mbps = schedule_limit_at(s, owner, w);
	if (win_start != NULL)
		*win_start = ws;
	if (win_end != NULL)
		*win_end = we;
	if (minutes_to_next != NULL)
		*minutes_to_next = schedule_minutes_to_change(s, owner, w);
	return rc;
}

void
schedule_day_limits(const struct schedule *s, const uint8_t *owner, int wday, uint32_t lim[DAY_MIN])
{
	int base = day_from_wday(wday) * DAY_MIN;

	for (int m = 0; m < DAY_MIN; m++)
		lim[m] = schedule_limit_at(s, owner, base + m);
}

/*
 * SMS writes the end of the day as 23:59, so no period can start at 23:59
 * (it would read "23:59-23:59"): the day's last minute takes the limit of
 * the minute before it.
 */
static uint32_t
sms_limit_at(const uint32_t lim[DAY_MIN], int m)
{
	return lim[m == DAY_MIN - 1 ? DAY_MIN - 2 : m];
}

int
schedule_runs(const uint32_t lim[DAY_MIN], struct schedule_period out[SCHEDULE_MAX_PERIODS])
{
	int n = 0;

	for (int m = 0; m < DAY_MIN;) {
		uint32_t v = sms_limit_at(lim, m);
		int e = m + 1;

		while (e < DAY_MIN && sms_limit_at(lim, e) == v)
			e++;
		if (v != 0) {
			if (n < SCHEDULE_MAX_PERIODS) {
				out[n].start_min = (uint16_t)m;
				/* SMS writes the end of the day as 23:59. */
				out[n].end_min = (uint16_t)(e == DAY_MIN ? DAY_MIN - 1 : e);
				out[n].mbps = v;
				out[n].threshold = 0;
			}
			n++;
		}
		m = e;
	}
	return n;
}

int
schedule_day_periods(
    const struct schedule *s, int wday, struct schedule_period out[SCHEDULE_MAX_PERIODS])
{
	uint8_t owner[WEEK_MIN];
	uint32_t lim[DAY_MIN];
	int n, other, at;

	if (wday < 0 || wday > 6)
		return -EINVAL;
	(void)schedule_week_map(s, owner, &other, &at);
	schedule_day_limits(s, owner, wday, lim);
	n = schedule_runs(lim, out);
	return n > SCHEDULE_MAX_PERIODS ? -E2BIG : n;
}

const char *
schedule_day_name(int wday)
{
	return day_long[day_from_wday(wday)];
}

char *
schedule_format_hhmm(unsigned minute, char buf[6])
{
	if (minute > DAY_MIN)
		minute = DAY_MIN;
	snprintf(buf, 6, "%02u:%02u", minute / 60 % 100, minute % 60);
	return buf;
}

#define LIST_CONFLICT UINT32_MAX /* two periods give one minute different limits */

/*
 * A period list as limits minute by minute; false when a period cannot be
 * read (no minutes, or past the end of the day). An end of 23:59 is the end
 * of the day, as SMS writes it.
 */
static bool
list_limits(const struct schedule_period *p, int n, uint32_t lim[DAY_MIN])
{
	memset(lim, 0, sizeof(lim[0]) * DAY_MIN);
	if (n < 0 || (n > 0 && p == NULL))
		return false;
	for (int i = 0; i < n; i++) {
		int a = p[i].start_min, b = p[i].end_min >= DAY_MIN - 1 ? DAY_MIN : p[i].end_min;

		if (a >= b || p[i].end_min > DAY_MIN)
			return false;
		if (p[i].mbps == 0)
			continue; /* unlimited: no limit to hold */
		for (int m = a; m < b; m++) {
			if (lim[m] == 0 || lim[m] == p[i].mbps)
				lim[m] = p[i].mbps;
			else
				lim[m] = LIST_CONFLICT;
		}
	}
	return true;
}

bool
schedule_periods_equal(
    const struct schedule_period *a, int na, const struct schedule_period *b, int nb)
{
	uint32_t la[DAY_MIN], lb[DAY_MIN];

	if (!list_limits(a, na, la) || !list_limits(b, nb, lb))
		return false;
	return memcmp(la, lb, sizeof(la)) == 0;
}
