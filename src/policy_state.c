/*
 * The policy's persisted state (state.json "recovery"), its lifecycle and
 * the operator's commands on it, and the status object it shows. The rules
 * themselves are in policy.c.
 */
#include <errno.h>
#include <string.h>

#include "smsguard/policy.h"
#include "smsguard/util.h"

void
policy_state_init(struct policy_state *st, const struct config *cfg)
{
	memset(st, 0, sizeof(*st));
	if (cfg != NULL)
		budget_init(&st->budget, cfg->budget_actions, cfg->budget_window_ms,
		    cfg->backoff_min_ms, cfg->backoff_max_ms);
}

void
policy_pause(struct policy_state *st, int64_t until_ms)
{
	st->paused = true;
	st->paused_until_ms = until_ms > 0 ? until_ms : 0;
}

void
policy_operator_resume(struct policy_state *st, int64_t now_ms)
{
	st->paused = false;
	st->paused_until_ms = 0;
	st->exhausted_reported = false;
	budget_forgive(&st->budget, now_ms);
}

void
policy_decision_clear(struct policy_decision *d)
{
	for (int i = 0; i < d->nactions; i++) {
		cJSON_Delete(d->actions[i].details);
		d->actions[i].details = NULL;
	}
}

cJSON *
policy_action_take_details(struct policy_action *a)
{
	cJSON *d = a->details;

	a->details = NULL;
	return d;
}

/* --- persistence --- */

static void
add_time_s(cJSON *o, const char *key, int64_t ms)
{
	if (ms > 0)
		cJSON_AddNumberToObject(o, key, (double)(ms / 1000));
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *
policy_status_json(const struct policy_state *st, int64_t now_ms)
{
	struct budget_status bs;
	cJSON *o = cJSON_CreateObject();

	budget_allowed(&st->budget, now_ms, &bs);
	cJSON_AddNumberToObject(o, "actions_in_window", bs.in_window);
	cJSON_AddNumberToObject(o, "budget", bs.max_actions);
	add_time_s(o, "next_allowed", bs.allowed ? 0 : bs.next_ms);
	if (st->budget.count > 0) {
		const struct budget_entry *e = &st->budget.hist[st->budget.count - 1];
		cJSON *la = cJSON_AddObjectToObject(o, "last_action");

		cJSON_AddStringToObject(la, "action", budget_kind_name(e->kind));
		cJSON_AddNumberToObject(la, "time", (double)(e->time_ms / 1000));
		cJSON_AddStringToObject(la, "outcome", budget_outcome_name(e->outcome));
	} else {
		cJSON_AddNullToObject(o, "last_action");
	}
	cJSON_AddNumberToObject(o, "failures", bs.failures);
	add_time_s(o, "backoff_until", bs.backing_off ? st->budget.backoff_until_ms : 0);
	cJSON_AddBoolToObject(o, "paused", st->paused);
	add_time_s(o, "paused_until", st->paused ? st->paused_until_ms : 0);
	return o;
}

cJSON *
policy_state_to_json(const struct policy_state *st)
{
	cJSON *o = cJSON_CreateObject(), *x;

	cJSON_AddBoolToObject(o, "paused", st->paused);
	cJSON_AddNumberToObject(o, "paused_until_ms", (double)st->paused_until_ms);
	cJSON_AddStringToObject(o, "task_id", st->task_id);
	if (st->failure_active) {
		x = cJSON_AddObjectToObject(o, "failure");
		cJSON_AddStringToObject(x, "key", st->failure_key);
		cJSON_AddStringToObject(x, "code", st->failure_code);
		cJSON_AddNumberToObject(x, "since_ms", (double)st->failure_since_ms);
		cJSON_AddBoolToObject(x, "reported", st->failure_reported);
		cJSON_AddNumberToObject(x, "attempts", st->failure_attempts);
	}
	if (st->confirm_pending)
		cJSON_AddNumberToObject(o, "confirm_since_ms", (double)st->confirm_since_ms);
	if (st->restart_phase != POLICY_RESTART_NONE) {
		x = cJSON_AddObjectToObject(o, "restart");
		cJSON_AddStringToObject(x, "phase",
		    st->restart_phase == POLICY_RESTART_RUNNING ? "running" : "awaiting");
		cJSON_AddNumberToObject(x, "since_ms", (double)st->restart_since_ms);
	}
	cJSON_AddBoolToObject(o, "needs_recreate", st->needs_recreate);
	cJSON_AddNumberToObject(o, "agent_restarted_ms", (double)st->agent_restarted_ms);
	x = cJSON_AddObjectToObject(o, "reported");
	cJSON_AddBoolToObject(x, "target_down", st->target_down_reported);
	cJSON_AddNumberToObject(x, "target_down_since_ms", (double)st->target_down_since_ms);
	cJSON_AddBoolToObject(x, "agent_down", st->agent_down_reported);
	cJSON_AddBoolToObject(x, "exhausted", st->exhausted_reported);
	cJSON_AddBoolToObject(x, "finished", st->finished_reported);
	cJSON_AddBoolToObject(x, "stopped", st->stopped_reported);
	x = cJSON_AddObjectToObject(o, "report");
	cJSON_AddBoolToObject(x, "resume_refused", st->report_resume_refused);
	cJSON_AddBoolToObject(x, "restart_failed", st->report_restart_failed);
	cJSON_AddStringToObject(x, "detail", st->report_detail);
	cJSON_AddItemToObject(o, "budget", budget_to_json(&st->budget));
	return o;
}

static bool
get_bool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* A time in ms, pulled back to now when in the future; 0 when absent or bad. */
static int64_t
get_time(const cJSON *o, const char *key, int64_t now_ms)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	int64_t t;

	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1e15))
		return 0;
	t = (int64_t)v->valuedouble;
	return t > now_ms ? now_ms : t;
}

/* Copies a string field when it fits; false (dst untouched) otherwise. */
static bool
get_string(const cJSON *o, const char *key, char *dst, size_t len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	if (s == NULL || strlen(s) >= len)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

int
policy_state_from_json(struct policy_state *st, const cJSON *obj, int64_t now_ms)
{
	struct budget limits = st->budget;
	const cJSON *x, *v;

	memset(st, 0, sizeof(*st));
	budget_configure(&st->budget, limits.max_actions, (uint64_t)limits.window_ms,
	    (uint64_t)limits.backoff_min_ms, (uint64_t)limits.backoff_max_ms);
	if (!cJSON_IsObject(obj))
		return -EINVAL;

	st->paused = get_bool(obj, "paused");
	if (st->paused) {
		/* A pause deadline is the operator's: keep it even if it is in the future. */
		v = cJSON_GetObjectItemCaseSensitive(obj, "paused_until_ms");
		if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e15)
			st->paused_until_ms = (int64_t)v->valuedouble;
	}
	get_string(obj, "task_id", st->task_id, sizeof(st->task_id));

	x = cJSON_GetObjectItemCaseSensitive(obj, "failure");
	if (cJSON_IsObject(x) && get_string(x, "key", st->failure_key, sizeof(st->failure_key))) {
		st->failure_active = true;
		get_string(x, "code", st->failure_code, sizeof(st->failure_code));
		st->failure_since_ms = get_time(x, "since_ms", now_ms);
		if (st->failure_since_ms == 0)
			st->failure_since_ms = now_ms;
		st->failure_reported = get_bool(x, "reported");
		v = cJSON_GetObjectItemCaseSensitive(x, "attempts");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6)
			st->failure_attempts = (int)v->valuedouble;
	}
	/*
	 * A resume or restart issued before a crash may have happened: keep
	 * waiting for its confirmation rather than issuing it again.
	 */
	st->confirm_since_ms = get_time(obj, "confirm_since_ms", now_ms);
	st->confirm_pending = st->confirm_since_ms != 0;
	x = cJSON_GetObjectItemCaseSensitive(obj, "restart");
	if (cJSON_IsObject(x)) {
		const char *ph = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "phase"));

		st->restart_since_ms = get_time(x, "since_ms", now_ms);
		if (ph != NULL && st->restart_since_ms != 0) {
			if (strcmp(ph, "running") == 0)
				st->restart_phase = POLICY_RESTART_RUNNING;
			else if (strcmp(ph, "awaiting") == 0)
				st->restart_phase = POLICY_RESTART_AWAITING;
		}
	}
	st->needs_recreate = get_bool(obj, "needs_recreate");
	st->agent_restarted_ms = get_time(obj, "agent_restarted_ms", now_ms);
	x = cJSON_GetObjectItemCaseSensitive(obj, "reported");
	if (cJSON_IsObject(x)) {
		st->target_down_reported = get_bool(x, "target_down");
		st->target_down_since_ms = get_time(x, "target_down_since_ms", now_ms);
		st->agent_down_reported = get_bool(x, "agent_down");
		st->exhausted_reported = get_bool(x, "exhausted");
		st->finished_reported = get_bool(x, "finished");
		st->stopped_reported = get_bool(x, "stopped");
	}
	x = cJSON_GetObjectItemCaseSensitive(obj, "report");
	if (cJSON_IsObject(x)) {
		st->report_resume_refused = get_bool(x, "resume_refused");
		st->report_restart_failed = get_bool(x, "restart_failed");
		get_string(x, "detail", st->report_detail, sizeof(st->report_detail));
	}
	budget_from_json(&st->budget, cJSON_GetObjectItemCaseSensitive(obj, "budget"), now_ms);
	return 0;
}
