/*
 * Where the task is polled: one poll at a time (discovery first when no task
 * id is known, then ShowTask), scheduled on one timer. All timing uses
 * uv_now(); the wall clock is read only for the snapshot's time and status.
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsguard/discover.h"
#include "smsguard/log.h"
#include "smsguard/task.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

struct taskpoll {
	uv_loop_t *loop;
	struct cloud *cloud;
	const struct config *cfg;
	struct observer obs;
	uv_timer_t timer; /* the next poll */
	struct discover *disc;

	bool started, closing;
	bool inflight;         /* a poll (discovery, then ShowTask) is out */
	bool again;            /* a poll was asked for while one was out */
	uint64_t call;         /* the ShowTask out; 0 = none */
	uint64_t interval_ms;  /* the policy's poll interval; 0 until it said one */
	uint64_t next_poll_at; /* uv ms; 0 = none scheduled */
	uint64_t last_poll_at; /* uv ms when the last poll began */
	bool snapshot_new;     /* report it once the poll is accounted for */

	struct sms_task task;
	bool have_task;
	int64_t polled_at_ms;

	void (*close_cb)(void *);
	void *close_arg;
};

static void poll_start(struct taskpoll *p);

/* ms ± 10 %, so that a fleet of daemons spreads its polls out. */
static uint64_t
spread(uint64_t ms)
{
	return ms + (uint64_t)util_jitter((int64_t)(ms / 10));
}

/* What the engine hears: a new snapshot, or that there is none any more. */
static void
report_task(struct taskpoll *p)
{
	struct observation o = {.time_ms = util_wall_ms()};

	if (p->have_task) {
		o.kind = OBS_TASK;
		o.u.task.task = p->task;
		o.u.task.polled_ms = p->polled_at_ms;
	} else {
		o.kind = OBS_TASK_LOST;
	}
	observer_report(&p->obs, &o);
}

/* ------------------------------------------------------------ schedule */

/* The poll interval now: the policy's, else by the task's state until it has spoken. */
static uint64_t
poll_interval(const struct taskpoll *p)
{
	if (p->interval_ms > 0)
		return p->interval_ms;
	if (!p->have_task)
		return p->cfg->poll_ms; /* discovering, or never answered: keep trying at `poll` */
	return task_state_is_active(p->task.state) ? p->cfg->poll_ms : p->cfg->poll_idle_ms;
}

static void
on_timer(uv_timer_t *t)
{
	struct taskpoll *p = container_of(t, struct taskpoll, timer);

	p->next_poll_at = 0;
	poll_start(p);
}

static void
schedule_poll(struct taskpoll *p, uint64_t delay)
{
	uint64_t now = uv_now(p->loop), quiet = cloud_quiet_until(p->cloud);

	if (p->closing)
		return;
	/* Never earlier than a 401 silence or a Retry-After allows. */
	if (quiet > now + delay)
		delay = quiet - now;
	p->next_poll_at = now + delay;
	uv_timer_start(&p->timer, on_timer, delay, 0);
}

/* The delay before an immediate poll may start. */
static uint64_t
spacing_left(const struct taskpoll *p)
{
	uint64_t now = uv_now(p->loop);

	if (p->last_poll_at == 0 || now >= p->last_poll_at + TASKPOLL_SPACING_MS)
		return 0;
	return p->last_poll_at + TASKPOLL_SPACING_MS - now;
}

static void
poll_finished(struct taskpoll *p, enum cloud_result res, const struct http_response *resp)
{
	uint64_t delay;

	p->inflight = false;
	if (p->closing)
		return;
	if (res == CLOUD_RES_OK) {
		cloud_backoff_ok(p->cloud);
		delay = p->again ? spacing_left(p) : spread(poll_interval(p));
	} else {
		cloud_backoff_failed(p->cloud, res);
		/*
		 * A local change came while this poll was out: the failure says
		 * nothing about the path since then (it may be what came back).
		 * The cloud's own word (a 401, a 429) still holds.
		 */
		if (p->again && res != CLOUD_RES_AUTH && res != CLOUD_RES_THROTTLED)
			delay = spacing_left(p);
		else
			delay = cloud_backoff_ms(p->cloud, resp);
	}
	p->again = false;
	schedule_poll(p, delay);
	if (p->snapshot_new) {
		/* After scheduling, so that a poll asked for now is coalesced, not chained. */
		p->snapshot_new = false;
		report_task(p);
	}
}

/* ------------------------------------------------------------ ShowTask */

static int
parse_task(void *arg, const struct http_response *resp, char **cause)
{
	struct taskpoll *p = arg;
	const char *id = taskpoll_task_id(p);
	struct sms_task t;

	if (sms_task_parse(resp->body, resp->body_len, &t, cause) < 0)
		return -EBADMSG;
	if (id == NULL || strcasecmp(t.id, id) != 0) {
		/* Never file one task's state under another's id. */
		free(*cause);
		*cause = xasprintf("task %.*s instead of %.*s", SMS_ID_MAX, t.id, SMS_ID_MAX,
		    id != NULL ? id : "none");
		return -EBADMSG;
	}
	if (!p->have_task || t.state != p->task.state ||
	    strcmp(t.error_code, p->task.error_code) != 0)
		log_info("task %s: %s%s%s", t.id,
		    t.state == TASK_UNKNOWN ? t.state_raw : task_state_name(t.state),
		    t.error_code[0] ? " " : "", t.error_code);
	p->task = t;
	p->have_task = true;
	p->polled_at_ms = util_wall_ms();
	p->snapshot_new = true;
	return 0;
}

static void
on_task(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct taskpoll *p = arg;

	p->call = 0;
	if (res == CLOUD_RES_CLIENT_ERROR && resp->status == 404 && p->cfg->task_id == NULL &&
	    discover_task_id(p->disc) != NULL) {
		/* The discovered task is gone: the next poll finds this host's task again. */
		discover_gone(p->disc);
		p->have_task = false;
		report_task(p);
	}
	poll_finished(p, res, resp);
}

static void
show_task(struct taskpoll *p)
{
	struct cloud_call call = {.api = CLOUD_API_SHOW_TASK,
	    .method = "GET",
	    .parse = parse_task,
	    .answer = on_task,
	    .arg = p};
	char *path;

	p->inflight = true;
	p->last_poll_at = uv_now(p->loop);
	call.path = path = sms_task_path(taskpoll_task_id(p));
	if (cloud_send(p->cloud, &call, &p->call) < 0)
		poll_finished(p, CLOUD_RES_OTHER, NULL);
	free(path);
}

/* ----------------------------------------------------------- discovery */

static void
on_discovered(void *arg, enum cloud_result res, const struct http_response *resp)
{
	struct taskpoll *p = arg;

	if (res == CLOUD_RES_OK && discover_task_id(p->disc) != NULL)
		show_task(p); /* the same poll goes on */
	else
		poll_finished(p, res, resp);
}

static void
poll_discover(struct taskpoll *p)
{
	int rc;

	p->inflight = true;
	p->last_poll_at = uv_now(p->loop);
	rc = discover_start(p->disc, on_discovered, p);
	/* Nothing to look for is a search that found nothing: look again at the interval. */
	if (rc < 0)
		poll_finished(p, rc == -ENOENT ? CLOUD_RES_OK : CLOUD_RES_OTHER, NULL);
}

static void
poll_start(struct taskpoll *p)
{
	int rc;

	if (p->closing || p->inflight)
		return;
	if ((rc = cloud_call_allowed(p->cloud)) == -ESHUTDOWN)
		return;
	if (rc < 0) {
		schedule_poll(p, 0); /* at the end of the silence */
		return;
	}
	if (taskpoll_task_id(p) != NULL)
		show_task(p);
	else
		poll_discover(p);
}

/* ------------------------------------------------------------------ API */

int
taskpoll_new(uv_loop_t *loop, struct cloud *cloud, const struct config *cfg,
    const struct observer *obs, struct taskpoll **out)
{
	struct taskpoll *p = xcalloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if ((rc = uv_timer_init(loop, &p->timer)) < 0) {
		free(p);
		return rc;
	}
	p->loop = loop;
	p->cloud = cloud;
	p->cfg = cfg;
	if (obs != NULL)
		p->obs = *obs;
	p->disc = discover_new(cloud);
	*out = p;
	return 0;
}

void
taskpoll_start(struct taskpoll *p)
{
	if (p->started || p->closing)
		return;
	p->started = true;
	schedule_poll(p, 0);
}

void
taskpoll_poll_now(struct taskpoll *p)
{
	uint64_t now;

	if (!p->started || p->closing)
		return;
	if (p->inflight) {
		p->again = true;
		return;
	}
	/* The cloud's own word holds: a 401 silence, a Retry-After, a 429's backoff. */
	if (cloud_must_wait(p->cloud))
		return;
	/*
	 * A transport or 5xx backoff is only our guess at when the path works
	 * again, and a local change (the target is back) is better evidence:
	 * poll now. The failure count stays, so a poll that fails again backs
	 * off further and the unreachable event still comes on time.
	 */
	now = uv_now(p->loop);
	if (p->next_poll_at != 0 && p->next_poll_at <= now + spacing_left(p))
		return; /* already due as soon as allowed */
	schedule_poll(p, spacing_left(p));
}

void
taskpoll_set_interval(struct taskpoll *p, uint64_t interval_ms)
{
	uint64_t now, due;

	if (p->interval_ms == interval_ms)
		return;
	p->interval_ms = interval_ms;
	if (interval_ms == 0 || !p->started || p->closing || p->inflight ||
	    cloud_failures(p->cloud) > 0)
		return;
	/*
	 * Shorter: the next poll comes one new interval after the last one, or
	 * now if that is past. Longer: the poll already scheduled stands, and
	 * the new interval applies from it on.
	 */
	now = uv_now(p->loop);
	due = p->last_poll_at + spread(interval_ms);
	if (p->next_poll_at > due && p->next_poll_at > now)
		schedule_poll(p, due > now ? due - now : spacing_left(p));
}

static bool
str_changed(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * The target changed, or the poller closes: whatever the poll has out was
 * asked about the old task (or the old endpoint's tasks), and its answer
 * must not become the new task's snapshot.
 */
static void
poll_abandon(struct taskpoll *p)
{
	if (p->call != 0) {
		cloud_cancel(p->cloud, p->call);
		p->call = 0;
	}
	discover_cancel(p->disc);
	p->inflight = false;
	p->again = false;
	p->snapshot_new = false;
}

void
taskpoll_reconfigure(struct taskpoll *p, const struct config *cfg, bool new_credentials)
{
	bool target = str_changed(p->cfg->task_id, cfg->task_id) ||
	    str_changed(p->cfg->endpoint, cfg->endpoint) ||
	    str_changed(p->cfg->project_id, cfg->project_id);

	p->cfg = cfg;
	if (target) {
		poll_abandon(p);
		p->have_task = false;
		memset(&p->task, 0, sizeof(p->task));
		p->polled_at_ms = 0;
		discover_forget(p->disc);
		cloud_backoff_reset(p->cloud); /* the failures were the old target's */
		report_task(p);
	}
	if (target || new_credentials)
		taskpoll_poll_now(p);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct taskpoll *p = container_of((uv_timer_t *)h, struct taskpoll, timer);
	void (*cb)(void *) = p->close_cb;
	void *arg = p->close_arg;

	discover_free(p->disc);
	free(p);
	if (cb != NULL)
		cb(arg);
}

void
taskpoll_close(struct taskpoll *p, void (*cb)(void *), void *arg)
{
	if (p->closing)
		return;
	p->closing = true;
	p->close_cb = cb;
	p->close_arg = arg;
	poll_abandon(p);
	uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

/* ------------------------------------------------------------- readers */

const struct sms_task *
taskpoll_task(const struct taskpoll *p)
{
	return p->have_task ? &p->task : NULL;
}

const char *
taskpoll_task_id(const struct taskpoll *p)
{
	if (p->cfg->task_id != NULL && p->cfg->task_id[0] != '\0')
		return p->cfg->task_id;
	return discover_task_id(p->disc);
}

int64_t
taskpoll_polled_at_ms(const struct taskpoll *p)
{
	return p->polled_at_ms;
}

cJSON *
taskpoll_state_json(const struct taskpoll *p)
{
	return discover_state_json(p->disc);
}

void
taskpoll_restore(struct taskpoll *p, const cJSON *state)
{
	if (p->cfg->task_id == NULL)
		discover_restore(p->disc, state);
}

/* -------------------------------------------------------------- status */

static void
set_item(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

static cJSON *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
wall_s_or_null(int64_t ms)
{
	return ms > 0 ? cJSON_CreateNumber((double)(ms / 1000)) : cJSON_CreateNull();
}

/* The error's meaning with its parameters, else the text of an error_json that did not parse. */
static cJSON *
error_message(const struct sms_task *t)
{
	const char *meaning;
	char msg[512];
	size_t o;

	if (t == NULL || (t->error_code[0] == '\0' && t->error_message[0] == '\0'))
		return cJSON_CreateNull();
	/* An error_json that did not parse: its text, made printable, helps a person. */
	if (t->error_code[0] == '\0')
		return cJSON_CreateString(t->error_message);
	meaning = task_error_meaning(t->error_code);
	o = (size_t)snprintf(msg, sizeof(msg), "%s", meaning ? meaning : t->error_code);
	for (int i = 0; i < t->nerror_params && o < sizeof(msg); i++)
		o += (size_t)snprintf(
		    msg + o, sizeof(msg) - o, "%s%s", i == 0 ? " (" : ", ", t->error_params[i]);
	if (t->nerror_params > 0 && o < sizeof(msg) - 1)
		snprintf(msg + o, sizeof(msg) - o, ")");
	return cJSON_CreateString(msg);
}

static void
task_status_json(const struct taskpoll *p, cJSON *o)
{
	const struct sms_task *t = p->have_task ? &p->task : NULL;

	set_item(o, "id", str_or_null(t != NULL ? t->id : taskpoll_task_id(p)));
	set_item(o, "name", str_or_null(t != NULL ? t->name : NULL));
	set_item(o, "state",
	    cJSON_CreateString(t == NULL                          ? "unknown"
	            : t->state == TASK_UNKNOWN && t->state_raw[0] ? t->state_raw
	                                                          : task_state_name(t->state)));
	set_item(o, "type",
	    t != NULL && t->type != TASK_TYPE_UNKNOWN ? cJSON_CreateString(task_type_name(t->type))
	                                              : cJSON_CreateNull());
	set_item(o, "os_type",
	    t != NULL && t->os_type != TASK_OS_UNKNOWN
	        ? cJSON_CreateString(task_os_name(t->os_type))
	        : cJSON_CreateNull());
	set_item(o, "error_code", str_or_null(t != NULL ? t->error_code : NULL));
	set_item(o, "error_message", error_message(t));
	set_item(o, "progress",
	    t != NULL && t->progress >= 0 ? cJSON_CreateNumber(t->progress) : cJSON_CreateNull());
	set_item(o, "subtask", str_or_null(t != NULL ? t->subtask : NULL));
	set_item(o, "migrate_speed_mbps",
	    t != NULL && t->has_migrate_speed ? cJSON_CreateNumber(t->migrate_speed)
	                                      : cJSON_CreateNull());
	set_item(o, "remain_seconds",
	    t != NULL && t->remain_seconds >= 0 ? cJSON_CreateNumber((double)t->remain_seconds)
	                                        : cJSON_CreateNull());
	set_item(o, "polled_at", wall_s_or_null(p->polled_at_ms));
}

void
taskpoll_status_json(const struct taskpoll *p, cJSON *task_obj, cJSON *cloud_obj)
{
	uint64_t now = uv_now(p->loop);
	int64_t next = 0;

	if (task_obj != NULL)
		task_status_json(p, task_obj);
	if (cloud_obj == NULL)
		return;
	if (p->next_poll_at > 0)
		next =
		    util_wall_ms() + (p->next_poll_at > now ? (int64_t)(p->next_poll_at - now) : 0);
	set_item(cloud_obj, "next_poll", wall_s_or_null(next));
	set_item(cloud_obj, "fast", cJSON_CreateBool(poll_interval(p) < p->cfg->poll_idle_ms));
	set_item(cloud_obj, "poll_interval_s", cJSON_CreateNumber((double)poll_interval(p) / 1000));
}
