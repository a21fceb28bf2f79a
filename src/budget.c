/* Sliding-window action budget and exponential backoff (DESIGN.md §5.5 rule 7). */
#include <errno.h>
#include <string.h>

#include "smsguard/budget.h"
#include "smsguard/util.h"

/* Ten years: keeps every sum of times far from overflow. */
#define BUDGET_MAX_DURATION_MS ((int64_t)10 * 365 * 86400 * 1000)

static const char *const kind_names[BUDGET_KIND_COUNT] = {
    [BUDGET_RESUME] = "resume",
    [BUDGET_RESTART_AGENT] = "restart_agent",
};

static const char *const outcome_names[BUDGET_OUTCOME_COUNT] = {
    [BUDGET_PENDING] = "pending",
    [BUDGET_OK] = "ok",
    [BUDGET_FAILED] = "failed",
};

const char *
budget_kind_name(enum budget_kind k)
{
	if ((unsigned)k >= BUDGET_KIND_COUNT)
		return "unknown";
	return kind_names[k];
}

int
budget_kind_from_name(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < BUDGET_KIND_COUNT; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *
budget_outcome_name(enum budget_outcome o)
{
	if ((unsigned)o >= BUDGET_OUTCOME_COUNT)
		return "unknown";
	return outcome_names[o];
}

int
budget_outcome_from_name(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < BUDGET_OUTCOME_COUNT; i++)
		if (strcmp(s, outcome_names[i]) == 0)
			return i;
	return -1;
}

static int64_t
clamp_duration(uint64_t ms)
{
	return ms > (uint64_t)BUDGET_MAX_DURATION_MS ? BUDGET_MAX_DURATION_MS : (int64_t)ms;
}

void
budget_configure(struct budget *b, int max_actions, uint64_t window_ms, uint64_t backoff_min_ms,
    uint64_t backoff_max_ms)
{
	if (max_actions < 0)
		max_actions = 0;
	/* Only BUDGET_HISTORY_MAX actions are remembered, so no more can be counted. */
	if (max_actions > BUDGET_HISTORY_MAX)
		max_actions = BUDGET_HISTORY_MAX;
	b->max_actions = max_actions;
	b->window_ms = clamp_duration(window_ms);
	b->backoff_min_ms = clamp_duration(backoff_min_ms);
	b->backoff_max_ms = clamp_duration(backoff_max_ms);
	if (b->backoff_max_ms < b->backoff_min_ms)
		b->backoff_max_ms = b->backoff_min_ms;
}

void
budget_init(struct budget *b, int max_actions, uint64_t window_ms, uint64_t backoff_min_ms,
    uint64_t backoff_max_ms)
{
	memset(b, 0, sizeof(*b));
	budget_configure(b, max_actions, window_ms, backoff_min_ms, backoff_max_ms);
}

int64_t
budget_backoff_ms(int64_t min_ms, int64_t max_ms, int failures, int jitter)
{
	int64_t base, v;

	if (failures <= 0)
		return 0;
	if (min_ms < 0)
		min_ms = 0;
	if (max_ms < min_ms)
		max_ms = min_ms;
	if (jitter < -BUDGET_JITTER_SCALE)
		jitter = -BUDGET_JITTER_SCALE;
	if (jitter > BUDGET_JITTER_SCALE)
		jitter = BUDGET_JITTER_SCALE;

	base = min_ms;
	for (int i = 1; i < failures && base < max_ms; i++)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	/* Durations are capped at ten years, so this product stays far below INT64_MAX. */
	v = base + base * BUDGET_JITTER_PERCENT * jitter / (100 * BUDGET_JITTER_SCALE);
	if (v < min_ms)
		v = min_ms;
	if (v > max_ms)
		v = max_ms;
	return v;
}

/* Whether an entry counts against the window at `now`. */
static bool
entry_counts(const struct budget *b, const struct budget_entry *e, int64_t now_ms)
{
	if (e->time_ms <= b->forgiven_ms)
		return false;
	/* An entry stamped in the future (the clock stepped back) counts: better late than twice. */
	return e->time_ms > now_ms - b->window_ms;
}

bool
budget_allowed(const struct budget *b, int64_t now_ms, struct budget_status *st)
{
	struct budget_status s;
	int64_t oldest = 0;

	memset(&s, 0, sizeof(s));
	s.max_actions = b->max_actions;
	s.failures = b->failures;
	if (b->count > 0)
		s.last_ms = b->hist[b->count - 1].time_ms;
	for (int i = 0; i < b->count; i++) {
		if (!entry_counts(b, &b->hist[i], now_ms))
			continue;
		if (s.in_window == 0)
			oldest = b->hist[i].time_ms;
		s.in_window++;
	}

	s.allowed = true;
	if (b->max_actions <= 0) {
		s.allowed = false;
		s.exhausted = true;
		s.next_ms = 0;
	} else if (s.in_window >= b->max_actions) {
		/*
		 * The window frees one slot when its oldest counted entry leaves it.
		 * History is sorted, so that is the first counted one; with more
		 * entries than the limit (a smaller budget after a reload), the one
		 * that brings the count under the limit leaves later.
		 */
		int skip = s.in_window - b->max_actions;

		for (int i = 0; i < b->count; i++) {
			if (!entry_counts(b, &b->hist[i], now_ms))
				continue;
			if (skip-- == 0) {
				oldest = b->hist[i].time_ms;
				break;
			}
		}
		s.allowed = false;
		s.exhausted = true;
		s.next_ms = oldest + b->window_ms;
	}
	if (b->backoff_until_ms > now_ms) {
		s.backing_off = true;
		if (s.allowed) {
			s.allowed = false;
			s.next_ms = b->backoff_until_ms;
		} else if (s.next_ms != 0 && b->backoff_until_ms > s.next_ms) {
			s.next_ms = b->backoff_until_ms;
		}
	}
	if (st != NULL)
		*st = s;
	return s.allowed;
}

int
budget_record(struct budget *b, int64_t now_ms, enum budget_kind kind)
{
	struct budget_entry *e;
	struct budget_status s;

	if (b->count == BUDGET_HISTORY_MAX) {
		memmove(&b->hist[0], &b->hist[1], sizeof(b->hist[0]) * (BUDGET_HISTORY_MAX - 1));
		b->count--;
	}
	/* Keep the history sorted even if the clock stepped back. */
	if (b->count > 0 && b->hist[b->count - 1].time_ms > now_ms)
		now_ms = b->hist[b->count - 1].time_ms;
	e = &b->hist[b->count++];
	e->time_ms = now_ms;
	e->kind = kind;
	e->outcome = BUDGET_PENDING;
	budget_allowed(b, now_ms, &s);
	return s.in_window;
}

int
budget_finish(struct budget *b, enum budget_kind kind, enum budget_outcome outcome, int64_t now_ms,
    int jitter)
{
	int i;

	if (outcome != BUDGET_OK && outcome != BUDGET_FAILED)
		return -EINVAL;
	for (i = b->count - 1; i >= 0; i--)
		if (b->hist[i].kind == kind && b->hist[i].outcome == BUDGET_PENDING)
			break;
	if (i < 0)
		return -ENOENT;
	b->hist[i].outcome = outcome;
	if (outcome == BUDGET_OK) {
		b->failures = 0;
		b->backoff_until_ms = 0;
	} else {
		if (b->failures < BUDGET_FAILURES_MAX)
			b->failures++;
		b->backoff_until_ms = now_ms +
		    budget_backoff_ms(b->backoff_min_ms, b->backoff_max_ms, b->failures, jitter);
	}
	return 0;
}

void
budget_forgive(struct budget *b, int64_t now_ms)
{
	if (b->count > 0 && b->hist[b->count - 1].time_ms > now_ms)
		now_ms = b->hist[b->count - 1].time_ms;
	b->forgiven_ms = now_ms;
	b->failures = 0;
	b->backoff_until_ms = 0;
}

cJSON *
budget_to_json(const struct budget *b)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	cJSON_AddNumberToObject(o, "failures", b->failures);
	cJSON_AddNumberToObject(o, "backoff_until_ms", (double)b->backoff_until_ms);
	cJSON_AddNumberToObject(o, "forgiven_ms", (double)b->forgiven_ms);
	arr = cJSON_AddArrayToObject(o, "actions");
	for (int i = 0; i < b->count; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "time_ms", (double)b->hist[i].time_ms);
		cJSON_AddStringToObject(e, "kind", budget_kind_name(b->hist[i].kind));
		cJSON_AddStringToObject(e, "outcome", budget_outcome_name(b->hist[i].outcome));
		cJSON_AddItemToArray(arr, e);
	}
	return o;
}

/* A time in ms from JSON: a finite, positive number below ten years past 2100. */
static bool
json_time(const cJSON *item, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	if (!(v >= 0 && v < 4102444800000.0 + (double)BUDGET_MAX_DURATION_MS))
		return false;
	*out = (int64_t)v;
	return true;
}

static bool
entry_from_json(const cJSON *item, int64_t now_ms, struct budget_entry *e)
{
	int kind, outcome;

	if (!cJSON_IsObject(item))
		return false;
	if (!json_time(cJSON_GetObjectItemCaseSensitive(item, "time_ms"), &e->time_ms) ||
	    e->time_ms <= 0)
		return false;
	kind = budget_kind_from_name(
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "kind")));
	outcome = budget_outcome_from_name(
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "outcome")));
	if (kind < 0 || outcome < 0)
		return false;
	e->kind = kind;
	e->outcome = outcome;
	if (e->time_ms > now_ms)
		e->time_ms = now_ms;
	return true;
}

int
budget_from_json(struct budget *b, const cJSON *obj, int64_t now_ms)
{
	const cJSON *arr, *item;
	int64_t t;
	int total = 0, skip;

	b->count = 0;
	b->failures = 0;
	b->backoff_until_ms = 0;
	b->forgiven_ms = 0;
	if (!cJSON_IsObject(obj))
		return -EINVAL;

	item = cJSON_GetObjectItemCaseSensitive(obj, "failures");
	if (cJSON_IsNumber(item) && item->valuedouble >= 0)
		b->failures = item->valuedouble > BUDGET_FAILURES_MAX ? BUDGET_FAILURES_MAX
		                                                      : (int)item->valuedouble;
	if (json_time(cJSON_GetObjectItemCaseSensitive(obj, "backoff_until_ms"), &t)) {
		if (t > now_ms + b->backoff_max_ms)
			t = now_ms + b->backoff_max_ms;
		b->backoff_until_ms = t;
	}
	if (json_time(cJSON_GetObjectItemCaseSensitive(obj, "forgiven_ms"), &t))
		b->forgiven_ms = t > now_ms ? now_ms : t;

	arr = cJSON_GetObjectItemCaseSensitive(obj, "actions");
	if (!cJSON_IsArray(arr))
		return 0;
	/* Count the good entries first, so only the newest BUDGET_HISTORY_MAX are kept. */
	cJSON_ArrayForEach(item, arr)
	{
		struct budget_entry e;

		if (entry_from_json(item, now_ms, &e))
			total++;
	}
	skip = total > BUDGET_HISTORY_MAX ? total - BUDGET_HISTORY_MAX : 0;
	cJSON_ArrayForEach(item, arr)
	{
		struct budget_entry e;
		int i;

		if (!entry_from_json(item, now_ms, &e))
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		/* Insertion keeps the history sorted whatever order the file had. */
		for (i = b->count; i > 0 && b->hist[i - 1].time_ms > e.time_ms; i--)
			b->hist[i] = b->hist[i - 1];
		b->hist[i] = e;
		b->count++;
	}
	return b->count;
}
