/*
 * libFuzzer: the [ratelimit] schedule text. Whatever parses must answer
 * schedule_at() consistently and give at most five ordered, non-overlapping
 * periods a day.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_day(const struct schedule *s, int wday)
{
	struct schedule_period p[SCHEDULE_MAX_PERIODS];
	int n = schedule_day_periods(s, wday, p);

	if (n == -E2BIG)
		return;
	if (n < 0 || n > SCHEDULE_MAX_PERIODS)
		abort();
	for (int i = 0; i < n; i++) {
		uint32_t mbps;

		if (p[i].start_min >= p[i].end_min || p[i].end_min > 1439 || p[i].mbps == 0 ||
		    p[i].mbps > 1000)
			abort();
		if (i > 0 && p[i].start_min < p[i - 1].end_min)
			abort();
		/* The period's first minute has the period's limit. */
		if (schedule_at(s, wday, p[i].start_min, &mbps, NULL, NULL, NULL) != 0 ||
		    mbps != p[i].mbps)
			abort();
	}
}

static uint32_t
hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schedule s;
	char *text, *cause = NULL;
	uint32_t mbps;
	uint16_t ws, we;
	int rc, wday, minute, next;

	if (size > 4096)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = schedule_parse(text, &s, &cause);
	free(text);
	if (rc != 0) {
		if (rc != -EINVAL || cause == NULL)
			abort();
		free(cause);
		return 0;
	}
	if (cause != NULL || s.nrules < 0 || s.nrules > SCHEDULE_MAX_RULES)
		abort();
	/*
	 * Each call maps the whole week, so one day an input (chosen by its
	 * bytes) keeps the target fast; a million inputs see every day often.
	 */
	wday = (int)(hash(data, size) % 7u);
	minute = (int)(hash(data, size) / 7u % 1440u);
	rc = schedule_at(&s, wday, minute, &mbps, &ws, &we, &next);
	if ((rc != 0 && rc != -ENOENT) || mbps > 1000 || ws > 1440 || we > 1440 || next < -1 ||
	    next >= 7 * 1440 || (rc == -ENOENT && mbps != 0))
		abort();
	check_day(&s, wday);
	return 0;
}
