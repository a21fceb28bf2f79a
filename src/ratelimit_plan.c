/*
 * When to read and write the task's speed limit, and what to say about it
 * (ratelimit.h). Pure: time comes in as an argument.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/ratelimit.h"
#include "smsguard/task.h"
#include "smsguard/util.h"

#define SMS_DEFAULT_THRESHOLD 10 /* SMS's own default over_speed_threshold, % */

void
rlplan_init(struct rlplan *p)
{
	memset(p, 0, sizeof(*p));
	p->threshold = SMS_DEFAULT_THRESHOLD;
}

static void
want_check(struct rlplan *p, const char *why)
{
	if (!p->due)
		util_strlcpy(p->why, why, sizeof(p->why));
	p->due = true;
	p->failures = 0;
	p->retry_at_ms = 0;
}

/* What the plan wants changed: a refusal was about the old one. */
static void
forget_refusal(struct rlplan *p)
{
	p->refused = false;
	p->refused_reason[0] = '\0';
}

void
rlplan_configure(struct rlplan *p, bool enabled, double threshold, int64_t recheck_ms)
{
	if (fabs(threshold - p->threshold) > 0.005)
		p->applied = false;
	p->enabled = enabled;
	p->threshold = threshold;
	p->recheck_ms = recheck_ms > 0 ? recheck_ms : 5 * 60 * 1000;
	forget_refusal(p);
	want_check(p, p->day_known ? "reload" : "start");
}

static bool
same_periods(const struct schedule_period *a, int na, const struct schedule_period *b, int nb)
{
	if (na < 0 || nb < 0)
		return na == nb;
	return schedule_periods_equal(a, na, b, nb);
}

void
rlplan_day(
    struct rlplan *p, const struct schedule_date *day, const struct schedule_period *want, int n)
{
	bool changed = !p->day_known || !same_periods(p->want, p->nwant, want, n);
	bool new_day = p->day_known &&
	    (day->year != p->day.year || day->month != p->day.month || day->mday != p->day.mday);

	p->day = *day;
	p->nwant = n;
	if (n > 0)
		memcpy(p->want, want, (size_t)n * sizeof(*want));
	if (!p->day_known) {
		p->day_known = true;
		return; /* rlplan_configure() already asked for the first check */
	}
	if (!changed)
		return;
	p->applied = false;
	forget_refusal(p);
	want_check(p, new_day ? "day" : "schedule");
}

static bool
task_stopped(enum task_state st)
{
	return st == TASK_ABORT || st == TASK_ABORTING || task_state_is_failed(st);
}

void
rlplan_task(struct rlplan *p, const struct sms_task *t)
{
	if (t == NULL || t->id[0] == '\0') {
		p->task_known = false;
		return;
	}
	if (!p->task_known || strcmp(t->id, p->task_id) != 0 ||
	    (t->create_ms != 0 && p->task_created_ms != 0 && t->create_ms != p->task_created_ms)) {
		bool first = !p->task_known && p->task_id[0] == '\0';

		util_strlcpy(p->task_id, t->id, sizeof(p->task_id));
		p->task_created_ms = t->create_ms;
		p->task_state = t->state;
		p->task_known = true;
		p->cloud_known = false;
		p->applied = false;
		p->post_pending = false;
		forget_refusal(p);
		want_check(p, first ? "start" : "new task");
		return;
	}
	if (p->task_created_ms == 0)
		p->task_created_ms = t->create_ms;
	if (task_stopped(p->task_state) && !task_stopped(t->state) && t->state != TASK_UNKNOWN)
		want_check(p, "task restarted");
	p->task_state = t->state;
}

static void
fill_post(const struct rlplan *p, struct schedule_period *post, int *npost)
{
	for (int i = 0; i < p->nwant; i++) {
		post[i] = p->want[i];
		post[i].threshold = p->threshold;
	}
	*npost = p->nwant;
}

enum rl_todo
rlplan_next(struct rlplan *p, int64_t now_ms, struct schedule_period post[SCHEDULE_MAX_PERIODS],
    int *npost, int64_t *wake_ms)
{
	*npost = 0;
	*wake_ms = 0;
	if (!p->enabled || !p->task_known || !p->day_known || p->in_flight != RL_NOTHING)
		return RL_NOTHING;
	if (p->retry_at_ms > now_ms) {
		*wake_ms = p->retry_at_ms;
		return RL_NOTHING;
	}
	/* DESIGN §5.6: read back every recheck while the task is active (a console change). */
	if (p->next_check_ms != 0 && now_ms >= p->next_check_ms && !p->due && !p->post_pending &&
	    task_state_is_active(p->task_state))
		want_check(p, "periodic");
	if (p->nwant < 0 || (p->refused && !p->post_pending)) {
		p->due = false;
		*wake_ms = p->next_check_ms;
		return RL_NOTHING; /* nothing to write that SMS would take */
	}
	if (p->post_pending) {
		fill_post(p, post, npost);
		p->in_flight = RL_POST;
		return RL_POST;
	}
	if (p->due) {
		p->in_flight = RL_GET;
		return RL_GET;
	}
	*wake_ms = p->next_check_ms;
	return RL_NOTHING;
}

/* The cloud holds what the day wants, with our threshold (an absent one is SMS's 10 %). */
static bool
cloud_matches(const struct rlplan *p, const struct schedule_period *held, int nheld)
{
	if (!same_periods(p->want, p->nwant, held, nheld))
		return false;
	for (int i = 0; i < nheld; i++) {
		double th = held[i].threshold != 0 ? held[i].threshold : SMS_DEFAULT_THRESHOLD;

		if (held[i].mbps != 0 && fabs(th - p->threshold) > 0.005)
			return false;
	}
	return true;
}

static const char *
err_text(int rc, const struct sms_error *err, char *buf, size_t len)
{
	if (err != NULL && err->code[0] != '\0')
		snprintf(buf, len, "%.16s%s%.200s", err->code, err->msg[0] != '\0' ? ": " : "",
		    err->msg);
	else
		snprintf(buf, len, "%s", strerror(-rc));
	return buf;
}

/* A failed call: the backoff grows from 30 s, held to the recheck interval. */
static void
call_failed(struct rlplan *p, int64_t now_ms, int rc, const struct sms_error *err)
{
	int64_t delay = RL_RETRY_MIN_MS;

	for (int i = 0; i < p->failures && delay < p->recheck_ms; i++)
		delay *= 2;
	if (delay > p->recheck_ms)
		delay = p->recheck_ms;
	p->failures++;
	p->retry_at_ms = now_ms + delay;
	err_text(rc, err, p->last_error, sizeof(p->last_error));
}

static void
checked(struct rlplan *p, int64_t now_ms)
{
	p->due = false;
	p->failures = 0;
	p->retry_at_ms = 0;
	p->last_error[0] = '\0';
	p->next_check_ms = now_ms + p->recheck_ms;
}

void
rlplan_got(struct rlplan *p, int64_t now_ms, int rc, const struct sms_error *err,
    const struct schedule_period *held, int nheld, struct rl_event *ev)
{
	ev->raise = false;
	p->in_flight = RL_NOTHING;
	if (rc < 0) {
		call_failed(p, now_ms, rc, err);
		return;
	}
	p->last_checked_ms = now_ms;
	p->cloud_known = true;
	p->ncloud = nheld;
	if (nheld > 0)
		memcpy(p->cloud, held, (size_t)nheld * sizeof(*held));
	checked(p, now_ms);
	if (cloud_matches(p, held, nheld)) {
		p->applied = true;
		p->post_pending = false;
		return;
	}
	p->applied = false;
	p->post_pending = true;
}

static void
applied_event(struct rlplan *p, struct rl_event *ev)
{
	char want[160], was[160];

	rlplan_format(p->want, p->nwant, want, sizeof(want));
	ev->raise = true;
	ev->type = EV_RATELIMIT_APPLIED;
	ev->details = cJSON_CreateObject();
	cJSON_AddStringToObject(ev->details, "task_id", p->task_id);
	cJSON_AddItemToObject(ev->details, "periods", rlplan_periods_json(p->want, p->nwant));
	cJSON_AddNumberToObject(ev->details, "over_speed_threshold", p->threshold);
	if (p->cloud_known) {
		rlplan_format(p->cloud, p->ncloud, was, sizeof(was));
		cJSON_AddItemToObject(
		    ev->details, "replaced", rlplan_periods_json(p->cloud, p->ncloud));
		snprintf(ev->message, sizeof(ev->message),
		    "speed limit of %04d-%02d-%02d applied (%s): %s; the task held %s", p->day.year,
		    p->day.month, p->day.mday, p->why, want, was);
	} else {
		snprintf(ev->message, sizeof(ev->message),
		    "speed limit of %04d-%02d-%02d applied (%s): %s", p->day.year, p->day.month,
		    p->day.mday, p->why, want);
	}
}

void
rlplan_posted(
    struct rlplan *p, int64_t now_ms, int rc, const struct sms_error *err, struct rl_event *ev)
{
	char why[RL_REASON_MAX];

	ev->raise = false;
	p->in_flight = RL_NOTHING;
	if (rc == 0) {
		applied_event(p, ev);
		p->post_pending = false;
		p->applied = true;
		p->last_applied_ms = now_ms;
		p->cloud_known = true;
		p->ncloud = p->nwant;
		for (int i = 0; i < p->nwant; i++) {
			p->cloud[i] = p->want[i];
			p->cloud[i].threshold = p->threshold;
		}
		checked(p, now_ms);
		return;
	}
	if (rc != -EINVAL && rc != -ENOENT && rc != -EBADMSG) {
		call_failed(p, now_ms, rc, err); /* 5xx, transport, 429, 401: again later */
		return;
	}
	/* Refused: once, until the plan, the day or the task changes. */
	err_text(rc, err, why, sizeof(why));
	p->post_pending = false;
	p->refused = true;
	util_strlcpy(p->refused_reason, why, sizeof(p->refused_reason));
	checked(p, now_ms);
	ev->raise = true;
	ev->type = EV_RATELIMIT_FAILED;
	ev->details = cJSON_CreateObject();
	cJSON_AddStringToObject(ev->details, "task_id", p->task_id);
	cJSON_AddItemToObject(ev->details, "periods", rlplan_periods_json(p->want, p->nwant));
	if (err != NULL && err->code[0] != '\0')
		cJSON_AddStringToObject(ev->details, "error_code", err->code);
	snprintf(ev->message, sizeof(ev->message),
	    "the cloud refused the speed limit of %04d-%02d-%02d (%s): not tried again until the "
	    "schedule, the day or the task changes",
	    p->day.year, p->day.month, p->day.mday, why);
}

void
rlplan_dropped(struct rlplan *p)
{
	if (p->in_flight == RL_NOTHING)
		return;
	p->in_flight = RL_NOTHING;
	p->due = true; /* asked again at the next chance */
}

char *
rlplan_format(const struct schedule_period *p, int n, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (n <= 0) {
		snprintf(buf, len, "%s", n == 0 ? "unlimited all day" : "more than 5 periods");
		return buf;
	}
	for (int i = 0; i < n && off < len; i++) {
		char a[6], b[6];
		int w = snprintf(buf + off, len - off, "%s%s-%s %" PRIu32 " Mbit/s",
		    i > 0 ? ", " : "", schedule_format_hhmm(p[i].start_min, a),
		    schedule_format_hhmm(p[i].end_min, b), p[i].mbps);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

cJSON *
rlplan_periods_json(const struct schedule_period *p, int n)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();
		char a[6], b[6];

		cJSON_AddStringToObject(it, "start", schedule_format_hhmm(p[i].start_min, a));
		cJSON_AddStringToObject(it, "end", schedule_format_hhmm(p[i].end_min, b));
		cJSON_AddNumberToObject(it, "mbps", p[i].mbps);
		if (p[i].threshold != 0)
			cJSON_AddNumberToObject(it, "over_speed_threshold", p[i].threshold);
		cJSON_AddItemToArray(arr, it);
	}
	return arr;
}
