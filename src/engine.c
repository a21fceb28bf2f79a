/*
 * The engine: observations in, one decision out (engine.h).
 *
 * The path of a dropped link, in values: probe.c reports an OBS_TARGET
 * (port 8899 down); engine_observe() updates the picture and asks for a
 * poll now; build_input() hands the picture to policy_decide(), which
 * raises target_down while the task runs. When SMS fails the task, the
 * poller's OBS_TASK snapshot (MIGRATE_FAIL, SMS.2802) makes the policy ask
 * for fresh probes; when the probes report the target up (since after the
 * failure) and it has settled, the policy's ACT_RESUME_TASK goes into the
 * plan, which executor.c persists and carries out; the outcome comes back
 * as OBS_RESUME_DONE, and RUNNING in a later snapshot confirms it.
 */
#include <errno.h>
#include <string.h>

#include "smsguard/engine.h"
#include "smsguard/util.h"

static const char *const kind_names[OBS_KIND_COUNT] = {
    [OBS_TARGET] = "target",
    [OBS_AGENT] = "agent",
    [OBS_TASK] = "task",
    [OBS_TASK_LOST] = "task_lost",
    [OBS_CLOUD] = "cloud",
    [OBS_RESUME_DONE] = "resume_done",
    [OBS_RESTART_DONE] = "restart_done",
};

const char *
obs_kind_name(enum obs_kind k)
{
	if ((unsigned)k >= OBS_KIND_COUNT)
		return "unknown";
	return kind_names[k];
}

void
engine_init(struct engine *e, const struct config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	policy_state_init(&e->st, cfg);
	e->health = POLICY_HEALTH_DEGRADED;
	e->poll_ms = cfg->poll_ms;
	util_strlcpy(e->reason, "starting: waiting for the first observations", sizeof(e->reason));
}

void
engine_reconfigure(struct engine *e, const struct config *cfg)
{
	e->cfg = cfg;
	budget_configure(&e->st.budget, cfg->budget_actions, cfg->budget_window_ms,
	    cfg->backoff_min_ms, cfg->backoff_max_ms);
}

/* An outcome: the policy learns it; a resume or restart earns a fresh poll. */
static void
observe_done(struct engine *e, const struct observation *o, int jitter, struct engine_plan *plan)
{
	enum policy_action_kind kind =
	    o->kind == OBS_RESUME_DONE ? ACT_RESUME_TASK : ACT_RESTART_AGENT;
	const struct obs_done *dn = &o->u.done;

	if (kind == ACT_RESUME_TASK)
		e->resume_in_flight = false;
	else
		e->restart_in_flight = false;
	e->actions[kind][dn->outcome == OBS_DONE_OK]++;
	policy_action_done(&e->st, kind, dn->outcome, dn->detail[0] != '\0' ? dn->detail : NULL,
	    o->time_ms, jitter);
	plan->poll_now = true;
	plan->save = true;
}

static void
observe_task(struct engine *e, const struct observation *o, struct engine_plan *plan)
{
	const struct sms_task *t = &o->u.task.task;

	plan->follow_target = true;
	if (o->kind == OBS_TASK_LOST) {
		e->task_known = false;
		return;
	}
	/* A first snapshot, another task, state or error is worth a state write. */
	if (!e->task_known || strcmp(t->id, e->task.task.id) != 0 ||
	    t->state != e->task.task.state || strcmp(t->error_code, e->task.task.error_code) != 0)
		plan->save = true;
	e->task = o->u.task;
	e->task_known = true;
}

static void
engine_observe(struct engine *e, const struct observation *o, int jitter, struct engine_plan *plan)
{
	switch (o->kind) {
	case OBS_TARGET:
		/* Local signals are fast, cloud calls frugal: a changed target earns a poll now. */
		if (o->u.target.state != e->target.state)
			plan->poll_now = true;
		e->target = o->u.target;
		break;
	case OBS_AGENT:
		if (o->u.agent.state != e->agent.state || o->u.agent.stopped != e->agent.stopped)
			plan->poll_now = true;
		/* A home learned or lost must survive a kill -9: it is how a dead agent is found. */
		if (o->u.agent.home_known != e->agent.home_known)
			plan->save = true;
		e->agent = o->u.agent;
		break;
	case OBS_TASK:
	case OBS_TASK_LOST:
		observe_task(e, o, plan);
		break;
	case OBS_CLOUD:
		e->cloud = o->u.cloud;
		break;
	case OBS_RESUME_DONE:
	case OBS_RESTART_DONE:
		observe_done(e, o, jitter, plan);
		break;
	default:
		break;
	}
}

/* The policy's input: the picture, as it is. */
static void
build_input(const struct engine *e, int jitter, struct policy_input *in)
{
	const struct sms_task *t = &e->task.task;

	memset(in, 0, sizeof(*in));
	if (e->task_known) {
		in->task_known = true;
		util_strlcpy(in->task_id, t->id, sizeof(in->task_id));
		in->state = t->state;
		util_strlcpy(in->error_code, t->error_code, sizeof(in->error_code));
		in->type = t->type;
		in->os = t->os_type;
		in->task_start_ms = t->start_ms;
		in->polled_ms = e->task.polled_ms;
	}
	in->target = e->target.state;
	in->target_since_ms = e->target.since_ms;
	for (int i = 0; i < e->target.nports && in->nports < POLICY_MAX_PORTS; i++) {
		in->ports[in->nports].port = e->target.ports[i].port;
		in->ports[in->nports].down = e->target.ports[i].state == PORT_DOWN;
		in->ports[in->nports].since_ms = e->target.ports[i].since_ms;
		in->nports++;
	}
	in->agent = e->agent.state;
	in->agent_since_ms = e->agent.since_ms;
	in->agent_stopped = e->agent.stopped;
	in->agent_retry_max = e->agent.retry_max;
	in->agent_retry_interval_ms = e->agent.retry_interval_ms;
	in->agent_retry_addition_ms = e->agent.retry_addition_ms;
	in->agent_restart_impossible = !e->agent.restart_possible;
	in->resume_in_flight = e->resume_in_flight;
	in->agent_restart_in_flight = e->restart_in_flight || e->agent.restart_running;
	in->cloud = e->cloud;
	in->jitter = jitter;
	in->format_time = e->format_time;
}

static bool
has_side_effect(const struct policy_decision *d)
{
	for (int i = 0; i < d->nactions; i++)
		if (d->actions[i].kind == ACT_RESUME_TASK ||
		    d->actions[i].kind == ACT_RESTART_AGENT)
			return true;
	return false;
}

void
engine_step(struct engine *e, const struct observation *obs, int n, int64_t now_ms, int jitter,
    struct engine_plan *plan)
{
	struct policy_input in;

	memset(plan, 0, sizeof(*plan));
	for (int i = 0; i < n; i++)
		engine_observe(e, &obs[i], jitter, plan);
	build_input(e, jitter, &in);
	policy_decide(&e->st, &in, e->cfg, now_ms, &plan->d);
	util_strlcpy(e->reason, plan->d.reason, sizeof(e->reason));
	e->health = plan->d.health;
	e->poll_ms = plan->d.poll_ms;
	e->wake_ms = plan->d.wake_ms;
	/* Persist first: a kill -9 after this point must not repeat the action. */
	if (has_side_effect(&plan->d))
		plan->save = true;
}

void
engine_plan_clear(struct engine_plan *plan)
{
	policy_decision_clear(&plan->d);
}

void
engine_started(struct engine *e, enum policy_action_kind kind, int64_t now_ms)
{
	if (kind == ACT_RESUME_TASK)
		e->resume_in_flight = true;
	else if (kind == ACT_RESTART_AGENT)
		e->restart_in_flight = true;
	e->last_action_ms = now_ms;
}

void
engine_pause(struct engine *e, int64_t until_ms)
{
	policy_pause(&e->st, until_ms);
}

void
engine_resume(struct engine *e, int64_t now_ms)
{
	policy_operator_resume(&e->st, now_ms);
}

const struct sms_task *
engine_task(const struct engine *e)
{
	return e->task_known ? &e->task.task : NULL;
}

bool
engine_paused(const struct engine *e, int64_t *until_ms)
{
	if (until_ms != NULL)
		*until_ms = e->st.paused ? e->st.paused_until_ms : 0;
	return e->st.paused;
}

bool
engine_recovery_exhausted(const struct engine *e, int64_t now_ms)
{
	struct budget_status bs;

	budget_allowed(&e->st.budget, now_ms, &bs);
	return e->st.exhausted_reported && bs.exhausted;
}

cJSON *
engine_state_json(const struct engine *e)
{
	return policy_state_to_json(&e->st);
}

int
engine_restore(struct engine *e, const cJSON *state, int64_t now_ms)
{
	if (state == NULL)
		return 0;
	return policy_state_from_json(&e->st, state, now_ms);
}

void
engine_status_json(const struct engine *e, int64_t now_ms, cJSON *recovery)
{
	cJSON *o = policy_status_json(&e->st, now_ms);
	cJSON *item;

	/* Replace the defaults already there with the policy's view. */
	while ((item = o->child) != NULL) {
		cJSON_DetachItemViaPointer(o, item);
		cJSON_DeleteItemFromObjectCaseSensitive(recovery, item->string);
		cJSON_AddItemToObject(recovery, item->string, item);
	}
	cJSON_Delete(o);
	cJSON_DeleteItemFromObjectCaseSensitive(recovery, "reason");
	cJSON_AddStringToObject(recovery, "reason", e->reason);
}
