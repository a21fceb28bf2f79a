/*
 * The executor (executor.h): a queue of observations, drained by one turn
 * per loop iteration, and the calls that carry a plan out.
 *
 * Handles (STYLE habit 5): an idle handle arms the next turn (idle handles
 * also keep the loop from blocking in poll, so a turn armed from a check or
 * close callback is not late) and a timer wakes the engine when the policy
 * asked (wake_ms). Both are embedded; the executor is freed in the last
 * close callback.
 */
#define LOG_TAG "engine"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/probe.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

/* More than any burst of real observations; past it the oldest are dropped (and counted). */
#define QUEUE_MAX 1024

struct queued {
	STAILQ_ENTRY(queued) entry;
	struct observation o;
};

struct executor {
	uv_loop_t *loop;
	uv_idle_t turn;
	uv_timer_t wake;
	int open_handles;
	struct executor_deps deps;
	struct engine eng;
	STAILQ_HEAD(, queued) queue;
	int queued;
	uint64_t dropped;
	bool in_turn;
	bool refollow; /* a new config (or the start): the probes follow it at the next turn */
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;
};

static void turn_cb(uv_idle_t *h);

static void
format_local(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

static void
arm(struct executor *x)
{
	if (!x->closing)
		uv_idle_start(&x->turn, turn_cb);
}

static void
wake_cb(uv_timer_t *t)
{
	arm(t->data);
}

int
executor_new(uv_loop_t *loop, const struct config *cfg, const struct executor_deps *deps,
    struct executor **out)
{
	struct executor *x = xcalloc(1, sizeof(*x));

	x->loop = loop;
	x->deps = *deps;
	engine_init(&x->eng, cfg);
	x->eng.format_time = format_local;
	STAILQ_INIT(&x->queue);
	/* Inits on a live loop cannot fail (they only link the handles). */
	uv_idle_init(loop, &x->turn);
	uv_timer_init(loop, &x->wake);
	x->turn.data = x;
	x->wake.data = x;
	x->open_handles = 2;
	x->refollow = true;
	*out = x;
	return 0;
}

void
executor_report(void *arg, const struct observation *o)
{
	struct executor *x = arg;
	struct queued *q;

	if (x->closing)
		return;
	if (x->queued >= QUEUE_MAX) {
		q = STAILQ_FIRST(&x->queue);
		STAILQ_REMOVE_HEAD(&x->queue, entry);
		free(q);
		x->queued--;
		if (x->dropped++ == 0)
			log_warnx("observation queue full: dropping the oldest");
	}
	log_debug("observed %s", obs_kind_name(o->kind));
	q = xmalloc(sizeof(*q));
	q->o = *o;
	STAILQ_INSERT_TAIL(&x->queue, q, entry);
	x->queued++;
	arm(x);
}

void
executor_poke(struct executor *x)
{
	arm(x);
}

/* An outcome, reported like any other observation: handled at the next turn. */
static void
report_done(struct executor *x, enum obs_kind kind, enum obs_outcome outcome, const char *detail)
{
	struct observation o = {.kind = kind, .time_ms = util_wall_ms()};

	o.u.done.outcome = outcome;
	util_strlcpy(o.u.done.detail, detail != NULL ? detail : "", sizeof(o.u.done.detail));
	executor_report(x, &o);
}

static void
resume_done(void *arg, int rc, const struct sms_error *err)
{
	struct executor *x = arg;
	enum obs_outcome res;
	const char *detail = NULL;

	if (rc == 0) {
		res = OBS_DONE_OK;
	} else if (err != NULL && err->status >= 400 && err->status < 500 && err->status != 429) {
		/* SMS refused it (e.g. SMS.7714): it did not happen. */
		res = OBS_DONE_FAILED;
		detail = err->code[0] != '\0' ? err->code : NULL;
	} else {
		/* Timeout, 5xx, transport: it may have reached SMS. */
		res = OBS_DONE_UNKNOWN;
		detail = err != NULL && err->code[0] != '\0' ? err->code : NULL;
	}
	log_info("resume request %s%s%s",
	    res == OBS_DONE_OK           ? "accepted"
	        : res == OBS_DONE_FAILED ? "refused"
	                                 : "outcome unknown",
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	report_done(x, OBS_RESUME_DONE, res, detail);
}

static void
restart_done(void *arg, int result)
{
	struct executor *x = arg;

	report_done(x, OBS_RESTART_DONE, result == 0 ? OBS_DONE_OK : OBS_DONE_FAILED,
	    result == 0                ? NULL
	        : result == -ETIMEDOUT ? "the restart command timed out"
	        : result == -ESRCH     ? "no agent process appeared"
	                               : "the restart command failed");
}

static void
start_resume(struct executor *x, const struct policy_action *a)
{
	int rc;

	log_info("resuming the task: %s", a->message);
	engine_started(&x->eng, ACT_RESUME_TASK, util_wall_ms());
	rc = cloud_action(x->deps.cloud, taskpoll_task_id(x->deps.poll), "start", resume_done, x);
	if (rc < 0)
		report_done(x, OBS_RESUME_DONE, OBS_DONE_FAILED, "not sent");
}

static void
start_restart(struct executor *x, const struct policy_action *a)
{
	int rc;

	log_info("restarting the agent: %s", a->message);
	engine_started(&x->eng, ACT_RESTART_AGENT, util_wall_ms());
	rc = agent_restart(x->deps.agent, restart_done, x);
	if (rc < 0)
		report_done(x, OBS_RESTART_DONE, OBS_DONE_FAILED,
		    rc == -ENOENT ? "agent home unknown" : "could not start");
}

static void
execute(struct executor *x, struct engine_plan *plan)
{
	for (int i = 0; i < plan->d.nactions; i++) {
		struct policy_action *a = &plan->d.actions[i];

		switch (a->kind) {
		case ACT_EVENT:
			x->deps.event(
			    x->deps.arg, a->event, policy_action_take_details(a), a->message);
			break;
		case ACT_POLL_NOW:
			taskpoll_poll_now(x->deps.poll);
			break;
		case ACT_PROBE_FRESH:
			log_info("the task failed for a network reason: probing every port afresh");
			probe_distrust(x->deps.probe);
			break;
		case ACT_RESUME_TASK:
			start_resume(x, a);
			break;
		case ACT_RESTART_AGENT:
			start_restart(x, a);
			break;
		}
	}
}

/* The probes follow the config's address, else the task's migration_ip, and its ports. */
static void
follow_target(struct executor *x)
{
	const struct sms_task *t = engine_task(&x->eng);

	probe_follow(x->deps.probe, x->eng.cfg, t != NULL ? t->migration_ip : NULL,
	    t != NULL ? t->type : TASK_TYPE_UNKNOWN, t != NULL ? t->os_type : TASK_OS_UNKNOWN);
}

/* Takes the queue as it is now: what is reported during this turn waits for the next. */
static int
take_queue(struct executor *x, struct observation **out)
{
	struct observation *obs = xcalloc((size_t)(x->queued > 0 ? x->queued : 1), sizeof(*obs));
	struct queued *q;
	int n = 0;

	while ((q = STAILQ_FIRST(&x->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&x->queue, entry);
		obs[n++] = q->o;
		free(q);
	}
	x->queued = 0;
	*out = obs;
	return n;
}

static void
turn_cb(uv_idle_t *h)
{
	struct executor *x = h->data;
	struct engine_plan plan;
	struct observation *obs;
	int64_t in_ms;
	int n;

	/* Nothing calls the engine from inside a turn: a re-entry is a bug in the flow. */
	assert(!x->in_turn);
	x->in_turn = true;
	uv_idle_stop(&x->turn);
	n = take_queue(x, &obs);
	engine_step(&x->eng, obs, n, util_wall_ms(), (int)util_jitter(1000), &plan);
	free(obs);
	if (plan.save)
		x->deps.save(x->deps.arg);
	if (plan.follow_target || x->refollow)
		follow_target(x);
	x->refollow = false;
	if (plan.poll_now)
		taskpoll_poll_now(x->deps.poll);
	taskpoll_set_interval(x->deps.poll, plan.d.poll_ms);
	execute(x, &plan);
	engine_plan_clear(&plan);
	uv_timer_stop(&x->wake);
	if (plan.d.wake_ms > 0) {
		in_ms = plan.d.wake_ms - util_wall_ms();
		uv_timer_start(&x->wake, wake_cb, in_ms > 0 ? (uint64_t)in_ms : 1, 0);
	}
	x->deps.turned(x->deps.arg);
	x->in_turn = false;
}

void
executor_reconfigure(struct executor *x, const struct config *cfg)
{
	engine_reconfigure(&x->eng, cfg);
	x->refollow = true;
	arm(x);
}

void
executor_pause(struct executor *x, int64_t until_ms)
{
	engine_pause(&x->eng, until_ms);
	arm(x);
}

void
executor_resume(struct executor *x)
{
	engine_resume(&x->eng, util_wall_ms());
	arm(x);
}

const struct engine *
executor_engine(const struct executor *x)
{
	return &x->eng;
}

struct engine *
executor_engine_mut(struct executor *x)
{
	return &x->eng;
}

static void
handle_closed(uv_handle_t *h)
{
	struct executor *x = h->data;

	if (--x->open_handles > 0)
		return;
	if (x->close_cb != NULL)
		x->close_cb(x->close_arg);
	free(x);
}

void
executor_close(struct executor *x, void (*cb)(void *), void *arg)
{
	struct queued *q;

	if (x == NULL || x->closing)
		return;
	x->closing = true;
	x->close_cb = cb;
	x->close_arg = arg;
	while ((q = STAILQ_FIRST(&x->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&x->queue, entry);
		free(q);
	}
	x->queued = 0;
	uv_close((uv_handle_t *)&x->turn, handle_closed);
	uv_close((uv_handle_t *)&x->wake, handle_closed);
}
