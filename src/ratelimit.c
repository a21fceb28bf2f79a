/*
 * The rate-limit driver (ratelimit.h): one timer, the host's day and its
 * periods, the task's speed-limit read and written through the cloud
 * client, and the plan (ratelimit_plan.c) deciding when.
 *
 * The timer wakes at the plan's time, at the host's next midnight, and at
 * least once a minute, so that a step of the wall clock (NTP, a resumed VM)
 * is noticed within a minute rather than trusted as a monotonic delay.
 */
#define LOG_TAG "ratelimit"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "smsguard/cloud.h"
#include "smsguard/log.h"
#include "smsguard/ratelimit.h"
#include "smsguard/util.h"

#define RL_TICK_MAX_MS (60 * 1000)

struct ratelimit {
	uv_loop_t *loop;
	const struct config *cfg;
	struct cloud *cloud;
	struct observer obs;
	uv_timer_t timer;
	struct rlplan plan;
	uint64_t call_id; /* the call in flight (cloud_cancel on close) */
	time_t next_day_s;

	/* The view of the schedule now, computed at most once a minute. */
	int64_t view_minute;
	struct schedule_now view;
	int view_rc;

	/* The answer of a GET, filled by its parse. */
	int nheld;
	struct schedule_period held[SCHEDULE_MAX_PERIODS];
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void rl_tick(uv_timer_t *t);

static bool
rl_enabled(const struct ratelimit *r)
{
	return r->cfg->ratelimit_apply == RATELIMIT_APPLY_CLOUD && r->cfg->has_schedule &&
	    r->cloud != NULL;
}

static void
rl_arm(struct ratelimit *r, uint64_t delay_ms)
{
	if (delay_ms > RL_TICK_MAX_MS)
		delay_ms = RL_TICK_MAX_MS;
	uv_timer_start(&r->timer, rl_tick, delay_ms, 0);
}

static void
rl_raise(struct ratelimit *r, struct rl_event *ev)
{
	if (!ev->raise)
		return;
	ev->raise = false;
	if (ev->type == EV_RATELIMIT_FAILED)
		log_warn("%s", ev->message);
	if (r->obs.event != NULL)
		r->obs.event(r->obs.arg, ev->type, ev->details, ev->message);
	else
		cJSON_Delete(ev->details);
	ev->details = NULL;
}

/* The host's day: at start, after a reload, and when the wall clock crosses midnight. */
static void
rl_day(struct ratelimit *r, time_t now, bool force)
{
	struct schedule_period want[SCHEDULE_MAX_PERIODS];
	struct schedule_date day;
	time_t next = 0;
	int n;

	if (!force && r->next_day_s != 0 && now < r->next_day_s)
		return;
	if (schedule_host_day(now, &day, &next) != 0)
		return;
	r->next_day_s = next;
	n = schedule_host_periods(&r->cfg->schedule, r->cfg->timezone, day, want);
	if (n == -E2BIG)
		log_warn("%04d-%02d-%02d needs more than 5 periods: SMS cannot hold it", day.year,
		    day.month, day.mday);
	else if (n < 0)
		return;
	rlplan_day(&r->plan, &day, want, n);
}

/* ------------------------------------------------------------------ GET */

static int
on_get_parse(void *arg, const struct http_response *resp, char **cause)
{
	struct ratelimit *r = arg;
	int n = sms_speed_limits_parse(resp->body, resp->body_len, r->held, cause);

	if (n < 0)
		return n;
	r->nheld = n;
	return 0;
}

static void
on_get_answer(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct ratelimit *r = arg;
	struct rl_event ev = {.raise = false};
	int rc = cloud_result_errno(res, resp != NULL ? resp->status : 0);
	char now_s[160];

	r->call_id = 0;
	if (rc == 0)
		log_debug("task %s holds %s", r->plan.task_id,
		    rlplan_format(r->held, r->nheld, now_s, sizeof(now_s)));
	else
		log_info("reading the speed limit of task %s failed (%s)", r->plan.task_id,
		    cloud_result_name(res));
	/* A GET that failed with 4xx is not a refusal of ours: treated as any failure. */
	rlplan_got(
	    &r->plan, util_wall_ms(), rc == -EINVAL ? -EIO : rc, err, r->held, r->nheld, &ev);
	rl_raise(r, &ev);
	rl_arm(r, 0);
}

static int
rl_get(struct ratelimit *r)
{
	struct cloud_call call = {.api = CLOUD_API_SHOW_SPEED_LIMIT, .method = "GET"};
	char *path = sms_speed_limit_path(r->plan.task_id);
	int rc;

	r->nheld = 0;
	call.path = path;
	call.parse = on_get_parse;
	call.answer = on_get_answer;
	call.arg = r;
	rc = cloud_send(r->cloud, &call, &r->call_id);
	free(path);
	return rc;
}

/* ----------------------------------------------------------------- POST */

static void
on_post_answer(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct ratelimit *r = arg;
	struct rl_event ev = {.raise = false};

	r->call_id = 0;
	rlplan_posted(&r->plan, util_wall_ms(),
	    cloud_result_errno(res, resp != NULL ? resp->status : 0), err, &ev);
	if (res == CLOUD_RES_OK)
		log_info("%s", ev.message);
	rl_raise(r, &ev);
	rl_arm(r, 0);
}

static int
rl_post(struct ratelimit *r, const struct schedule_period *p, int n)
{
	struct cloud_call call = {.api = CLOUD_API_UPDATE_SPEED_LIMIT, .method = "POST"};
	char *path, *body;
	int rc;

	if ((body = sms_speed_limit_body(p, n, n > 0 ? p[0].threshold : 0)) == NULL)
		return -EINVAL;
	call.path = path = sms_speed_limit_path(r->plan.task_id);
	call.body = body;
	call.answer = on_post_answer;
	call.arg = r;
	rc = cloud_send(r->cloud, &call, &r->call_id);
	if (rc == 0)
		log_info("task %s: POST speed-limit (%s) %s", r->plan.task_id, r->plan.why, body);
	free(path);
	free(body);
	return rc;
}

/* ----------------------------------------------------------------- tick */

static void
rl_tick(uv_timer_t *t)
{
	struct ratelimit *r = t->data;
	struct schedule_period post[SCHEDULE_MAX_PERIODS];
	struct rl_event ev = {.raise = false};
	time_t now = time(NULL);
	int64_t now_ms = util_wall_ms(), wake = 0;
	uint64_t delay = RL_TICK_MAX_MS;
	int npost = 0, rc = 0;
	enum rl_todo todo;

	if (r->cfg->has_schedule)
		rl_day(r, now, false);
	todo = rlplan_next(&r->plan, now_ms, post, &npost, &wake);
	if (todo == RL_GET && (rc = rl_get(r)) < 0)
		rlplan_got(&r->plan, now_ms, rc, NULL, NULL, 0, &ev);
	else if (todo == RL_POST && (rc = rl_post(r, post, npost)) < 0)
		rlplan_posted(&r->plan, now_ms, rc == -EINVAL ? -EIO : rc, NULL, &ev);
	rl_raise(r, &ev);
	if (rc < 0) {
		delay = 0; /* the plan has its backoff now */
	} else {
		if (wake > now_ms && (uint64_t)(wake - now_ms) < delay)
			delay = (uint64_t)(wake - now_ms);
		if (r->next_day_s > now && (uint64_t)(r->next_day_s - now) * 1000 < delay)
			delay = (uint64_t)(r->next_day_s - now) * 1000 + 500;
	}
	if (todo == RL_NOTHING || rc < 0)
		rl_arm(r, delay);
}

/* ----------------------------------------------------------- the driver */

static void
rl_configure(struct ratelimit *r)
{
	rlplan_configure(
	    &r->plan, rl_enabled(r), r->cfg->ratelimit_threshold, (int64_t)r->cfg->poll_idle_ms);
	r->view_minute = -1;
	if (r->cfg->has_schedule)
		rl_day(r, time(NULL), true);
}

int
ratelimit_new(struct uv_loop_s *loop, const struct config *cfg, struct cloud *cloud,
    const struct observer *obs, struct ratelimit **out)
{
	struct ratelimit *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->cfg = cfg;
	r->cloud = cloud;
	if (obs != NULL)
		r->obs = *obs;
	rlplan_init(&r->plan);
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	rl_configure(r);
	rl_arm(r, 0);
	*out = r;
	return 0;
}

void
ratelimit_reconfigure(struct ratelimit *r, const struct config *cfg, struct cloud *cloud)
{
	if (r->call_id != 0 && r->cloud != NULL)
		cloud_cancel(r->cloud, r->call_id);
	r->call_id = 0;
	rlplan_dropped(&r->plan);
	r->cfg = cfg;
	r->cloud = cloud;
	rl_configure(r);
	rl_arm(r, 0);
}

void
ratelimit_task(struct ratelimit *r, const struct sms_task *t)
{
	bool was_known = r->plan.task_known, was_due = r->plan.due;

	rlplan_task(&r->plan, t);
	/* Called after every turn: the timer moves only when the task brought work. */
	if (r->plan.due && (!was_due || !was_known) && r->plan.in_flight == RL_NOTHING &&
	    r->plan.retry_at_ms <= util_wall_ms())
		rl_arm(r, 0);
}

static const struct schedule_now *
rl_view(struct ratelimit *r, int *rc)
{
	time_t now = time(NULL);

	if (r->view_minute != (int64_t)now / 60) {
		r->view_minute = (int64_t)now / 60;
		memset(&r->view, 0, sizeof(r->view));
		r->view_rc = r->cfg->has_schedule
		    ? schedule_now(&r->cfg->schedule, r->cfg->timezone, now, &r->view)
		    : -ENOENT;
	}
	*rc = r->view_rc;
	return &r->view;
}

uint32_t
ratelimit_current_mbps(struct ratelimit *r)
{
	int rc;
	const struct schedule_now *v = rl_view(r, &rc);

	return rc == 0 ? v->mbps : 0;
}

static void
add_time(cJSON *o, const char *key, int64_t ms)
{
	if (ms > 0)
		cJSON_AddNumberToObject(o, key, (double)(ms / 1000));
	else
		cJSON_AddNullToObject(o, key);
}

void
ratelimit_status_json(struct ratelimit *r, cJSON *o)
{
	const struct rlplan *p = &r->plan;
	int rc;
	const struct schedule_now *v = rl_view(r, &rc);
	char a[6], b[6], win[16];

	cJSON_AddNumberToObject(o, "current_mbps", rc == 0 ? v->mbps : 0);
	if (rc == 0 && v->covered) {
		snprintf(win, sizeof(win), "%s-%s", schedule_format_hhmm(v->win_start, a),
		    schedule_format_hhmm(v->win_end, b));
		cJSON_AddStringToObject(o, "window", win);
	} else {
		cJSON_AddNullToObject(o, "window");
	}
	add_time(o, "next_change", rc == 0 ? (int64_t)v->next_change * 1000 : 0);
	if (rc == 0 && v->next_change != 0)
		cJSON_AddNumberToObject(o, "next_mbps", v->next_mbps);
	cJSON_AddBoolToObject(o, "applied", p->enabled && p->applied);
	cJSON_AddStringToObject(
	    o, "apply", r->cfg->ratelimit_apply == RATELIMIT_APPLY_CLOUD ? "cloud" : "off");
	if (r->cfg->timezone != NULL)
		cJSON_AddStringToObject(o, "timezone", r->cfg->timezone);
	else
		cJSON_AddNullToObject(o, "timezone");
	cJSON_AddNumberToObject(o, "over_speed_threshold", r->cfg->ratelimit_threshold);
	if (p->day_known && p->nwant >= 0)
		cJSON_AddItemToObject(o, "today", rlplan_periods_json(p->want, p->nwant));
	add_time(o, "last_applied", p->last_applied_ms);
	add_time(o, "last_checked", p->last_checked_ms);
	if (p->cloud_known && !p->applied)
		cJSON_AddItemToObject(o, "cloud", rlplan_periods_json(p->cloud, p->ncloud));
	if (p->refused)
		cJSON_AddStringToObject(o, "error", p->refused_reason);
	else if (p->last_error[0] != '\0')
		cJSON_AddStringToObject(o, "error", p->last_error);
	else if (p->day_known && p->nwant < 0)
		cJSON_AddStringToObject(o, "error", "today needs more than 5 periods");
	else
		cJSON_AddNullToObject(o, "error");
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct ratelimit *r = h->data;

	if (r->close_cb != NULL)
		r->close_cb(r->close_arg);
	free(r);
}

void
ratelimit_close(struct ratelimit *r, void (*cb)(void *arg), void *arg)
{
	if (r->call_id != 0 && r->cloud != NULL)
		cloud_cancel(r->cloud, r->call_id);
	r->call_id = 0;
	r->close_cb = cb;
	r->close_arg = arg;
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
