#define LOG_TAG "recovery"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/gprop.h"
#include "smsguard/log.h"
#include "smsguard/probe.h"
#include "smsguard/recovery.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"

struct recovery {
	uv_timer_t wake;
	uv_loop_t *loop;
	const struct config *cfg;
	struct observer obs;
	struct recovery_deps deps;
	struct policy_state st;
	char reason[POLICY_REASON_MAX];
	enum policy_health health;
	bool resume_in_flight;
	bool restart_in_flight;
	bool running; /* re-entrancy guard: actions report back synchronously at times */
	bool again;
	bool closing;
	uint64_t actions[ACT_EVENT + 1][2]; /* [kind][ok] */
	int64_t last_action_ms;
	void (*close_cb)(void *);
	void *close_arg;
};

static void recovery_wake_cb(uv_timer_t *t);

int
recovery_new(uv_loop_t *loop, const struct config *cfg, const struct observer *obs,
    const struct recovery_deps *deps, struct recovery **out)
{
	struct recovery *r = xcalloc(1, sizeof(*r));

	r->loop = loop;
	r->cfg = cfg;
	r->obs = *obs;
	r->deps = *deps;
	r->health = POLICY_HEALTH_DEGRADED;
	util_strlcpy(r->reason, "starting: waiting for the first observations", sizeof(r->reason));
	policy_state_init(&r->st, cfg);
	uv_timer_init(loop, &r->wake);
	r->wake.data = r;
	*out = r;
	return 0;
}

void
recovery_restore(struct recovery *r, const cJSON *state)
{
	if (state != NULL && policy_state_from_json(&r->st, state, util_wall_ms()) < 0)
		log_warnx("recovery state in the state file is not usable: starting fresh");
}

cJSON *
recovery_state_json(const struct recovery *r)
{
	return policy_state_to_json(&r->st);
}

static void
format_local(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

static int
jitter(void)
{
	return (int)util_random(2001) - 1000;
}

static void
fill_input(struct recovery *r, struct policy_input *in)
{
	const struct sms_task *t = cloud_task(r->deps.cloud);
	struct gprop gp;
	enum port_state ts;
	int n;

	memset(in, 0, sizeof(*in));
	if (t != NULL) {
		in->task_known = true;
		util_strlcpy(in->task_id, t->id, sizeof(in->task_id));
		in->state = t->state;
		util_strlcpy(in->error_code, t->error_code, sizeof(in->error_code));
		in->type = t->type;
		in->os = t->os_type;
		in->task_start_ms = t->start_ms;
		in->polled_ms = cloud_polled_at_ms(r->deps.cloud);
	}

	ts = probe_target_state(r->deps.probe, NULL);
	in->target = ts == PORT_UP ? POLICY_TARGET_UP
	    : ts == PORT_DOWN      ? POLICY_TARGET_DOWN
	                           : POLICY_TARGET_UNKNOWN;
	/* The wall clock read at the change: compared with the failure's first sighting. */
	in->target_since_ms = probe_target_since_wall_ms(r->deps.probe);
	n = probe_port_count(r->deps.probe);
	for (int i = 0; i < n && in->nports < POLICY_MAX_PORTS; i++) {
		struct probe_port_info pi;

		if (probe_port_info(r->deps.probe, i, &pi) < 0)
			continue;
		in->ports[in->nports].port = pi.port;
		in->ports[in->nports].down = pi.state == PORT_DOWN;
		in->ports[in->nports].since_ms = pi.since_wall_ms;
		in->nports++;
	}

	switch (agent_state(r->deps.agent)) {
	case AGENT_RUNNING:
		in->agent = POLICY_AGENT_RUNNING;
		break;
	case AGENT_DEAD:
		in->agent = POLICY_AGENT_DEAD;
		break;
	default:
		in->agent = POLICY_AGENT_UNKNOWN;
		break;
	}
	if (agent_autorecovery(r->deps.agent, &gp) == 0) {
		in->agent_retry_max =
		    gp.auto_start_max_retry_times > 0 ? (int)gp.auto_start_max_retry_times : 0;
		in->agent_retry_interval_ms =
		    gp.auto_start_interval_seconds > 0 ? gp.auto_start_interval_seconds * 1000 : 0;
		in->agent_retry_addition_ms = gp.auto_start_each_addition_seconds > 0
		    ? gp.auto_start_each_addition_seconds * 1000
		    : 0;
	}
	in->agent_restart_impossible =
	    agent_home(r->deps.agent) == NULL && r->cfg->restart_argc == 0;
	in->resume_in_flight = r->resume_in_flight;
	in->agent_restart_in_flight = r->restart_in_flight || agent_restarting(r->deps.agent);
	switch (cloud_state(r->deps.cloud)) {
	case CLOUD_AUTH_FAILED:
		in->cloud = POLICY_CLOUD_AUTH_FAILED;
		break;
	case CLOUD_UNREACHABLE:
		in->cloud = POLICY_CLOUD_UNREACHABLE;
		break;
	default:
		in->cloud = POLICY_CLOUD_OK;
		break;
	}
	in->jitter = jitter();
	in->format_time = format_local;
}

static void
resume_done(void *arg, int rc, const struct sms_error *err)
{
	struct recovery *r = arg;
	enum policy_result res;
	const char *detail = NULL;

	r->resume_in_flight = false;
	if (r->closing)
		return;
	if (rc == 0) {
		res = POLICY_DONE_OK;
	} else if (err != NULL && err->status >= 400 && err->status < 500 && err->status != 429) {
		/* SMS refused it (e.g. SMS.7714): it did not happen. */
		res = POLICY_DONE_FAILED;
		detail = err->code[0] != '\0' ? err->code : NULL;
	} else {
		/* Timeout, 5xx, transport: it may have reached SMS. */
		res = POLICY_DONE_UNKNOWN;
		detail = err != NULL && err->code[0] != '\0' ? err->code : NULL;
	}
	r->actions[ACT_RESUME_TASK][res == POLICY_DONE_OK]++;
	log_info("resume request %s%s%s",
	    res == POLICY_DONE_OK           ? "accepted"
	        : res == POLICY_DONE_FAILED ? "refused"
	                                    : "outcome unknown",
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	policy_action_done(&r->st, ACT_RESUME_TASK, res, detail, util_wall_ms(), jitter());
	r->deps.save(r->deps.save_arg);
	cloud_poll_now(r->deps.cloud);
	recovery_run(r);
}

static void
restart_done(void *arg, int result)
{
	struct recovery *r = arg;
	char detail[64];

	r->restart_in_flight = false;
	if (r->closing)
		return;
	snprintf(detail, sizeof(detail), "%s",
	    result == 0                ? "ok"
	        : result == -ETIMEDOUT ? "the restart command timed out"
	        : result == -ESRCH     ? "no agent process appeared"
	                               : "the restart command failed");
	r->actions[ACT_RESTART_AGENT][result == 0]++;
	policy_action_done(&r->st, ACT_RESTART_AGENT,
	    result == 0 ? POLICY_DONE_OK : POLICY_DONE_FAILED, result == 0 ? NULL : detail,
	    util_wall_ms(), jitter());
	r->deps.save(r->deps.save_arg);
	cloud_poll_now(r->deps.cloud);
	recovery_run(r);
}

static void
execute(struct recovery *r, struct policy_decision *d)
{
	for (int i = 0; i < d->nactions; i++) {
		struct policy_action *a = &d->actions[i];
		int rc;

		switch (a->kind) {
		case ACT_EVENT:
			observer_event(
			    &r->obs, a->event, policy_action_take_details(a), a->message);
			break;
		case ACT_POLL_NOW:
			cloud_poll_now(r->deps.cloud);
			break;
		case ACT_PROBE_FRESH:
			log_info("the task failed for a network reason: probing every port afresh");
			probe_distrust(r->deps.probe);
			break;
		case ACT_RESUME_TASK:
			log_info("resuming the task: %s", a->message);
			r->last_action_ms = util_wall_ms();
			r->resume_in_flight = true;
			rc = cloud_task_action(r->deps.cloud, "start", resume_done, r);
			if (rc < 0) {
				r->resume_in_flight = false;
				r->actions[ACT_RESUME_TASK][0]++;
				policy_action_done(&r->st, ACT_RESUME_TASK, POLICY_DONE_FAILED,
				    "not sent", util_wall_ms(), jitter());
				r->again = true;
			}
			break;
		case ACT_RESTART_AGENT:
			log_info("restarting the agent: %s", a->message);
			r->last_action_ms = util_wall_ms();
			r->restart_in_flight = true;
			rc = agent_restart(r->deps.agent, restart_done, r);
			if (rc < 0) {
				r->restart_in_flight = false;
				r->actions[ACT_RESTART_AGENT][0]++;
				policy_action_done(&r->st, ACT_RESTART_AGENT, POLICY_DONE_FAILED,
				    rc == -ENOENT ? "agent home unknown" : "could not start",
				    util_wall_ms(), jitter());
				r->again = true;
			}
			break;
		}
	}
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
recovery_run(struct recovery *r)
{
	struct policy_input in;
	struct policy_decision d;
	int64_t now;
	int rounds = 0;

	if (r->closing)
		return;
	if (r->running) {
		r->again = true;
		return;
	}
	r->running = true;
	do {
		r->again = false;
		now = util_wall_ms();
		fill_input(r, &in);
		policy_decide(&r->st, &in, r->cfg, now, &d);
		util_strlcpy(r->reason, d.reason, sizeof(r->reason));
		r->health = d.health;
		/* Persist first: a kill -9 after this point must not repeat the action. */
		if (has_side_effect(&d))
			r->deps.save(r->deps.save_arg);
		execute(r, &d);
		/* The policy's interval as it is: 5 s while a resume awaits RUNNING. */
		cloud_set_poll_interval(r->deps.cloud, d.poll_ms);
		policy_decision_clear(&d);
		uv_timer_stop(&r->wake);
		if (d.wake_ms > 0) {
			int64_t in_ms = d.wake_ms - util_wall_ms();
			uv_timer_start(
			    &r->wake, recovery_wake_cb, in_ms > 0 ? (uint64_t)in_ms : 1, 0);
		}
	} while (r->again && ++rounds < 8);
	r->running = false;
}

static void
recovery_wake_cb(uv_timer_t *t)
{
	recovery_run(t->data);
}

void
recovery_pause(struct recovery *r, int64_t until_ms)
{
	policy_pause(&r->st, until_ms);
	recovery_run(r);
}

void
recovery_resume(struct recovery *r)
{
	policy_operator_resume(&r->st, util_wall_ms());
	recovery_run(r);
}

bool
recovery_paused(const struct recovery *r, int64_t *until_ms)
{
	if (until_ms != NULL)
		*until_ms = r->st.paused ? r->st.paused_until_ms : 0;
	return r->st.paused;
}

enum policy_health
recovery_health(const struct recovery *r)
{
	return r->health;
}

void
recovery_status_json(const struct recovery *r, cJSON *recovery)
{
	cJSON *o = policy_status_json(&r->st, util_wall_ms());
	cJSON *item;

	/* Replace the defaults the daemon put there with the policy's view. */
	while ((item = o->child) != NULL) {
		cJSON_DetachItemViaPointer(o, item);
		cJSON_DeleteItemFromObjectCaseSensitive(recovery, item->string);
		cJSON_AddItemToObject(recovery, item->string, item);
	}
	cJSON_Delete(o);
	cJSON_DeleteItemFromObjectCaseSensitive(recovery, "reason");
	cJSON_AddStringToObject(recovery, "reason", r->reason);
}

uint64_t
recovery_actions(const struct recovery *r, enum policy_action_kind kind, bool ok)
{
	if ((unsigned)kind > ACT_EVENT)
		return 0;
	return r->actions[kind][ok ? 1 : 0];
}

int64_t
recovery_last_action_ms(const struct recovery *r)
{
	return r->last_action_ms;
}

void
recovery_reconfigure(struct recovery *r, const struct config *cfg)
{
	r->cfg = cfg;
	budget_configure(&r->st.budget, cfg->budget_actions, cfg->budget_window_ms,
	    cfg->backoff_min_ms, cfg->backoff_max_ms);
}

static void
recovery_closed(uv_handle_t *h)
{
	struct recovery *r = h->data;

	if (r->close_cb != NULL)
		r->close_cb(r->close_arg);
	free(r);
}

void
recovery_close(struct recovery *r, void (*cb)(void *), void *arg)
{
	r->closing = true;
	r->close_cb = cb;
	r->close_arg = arg;
	uv_close((uv_handle_t *)&r->wake, recovery_closed);
}
