/*
 * The recovery policy: DESIGN.md §5.5's rules, in order, over plain inputs.
 * policy_decide() runs in stages: outcomes of earlier actions and fresh
 * observations first (they raise events even while paused), then the rules,
 * which pick at most one action (a resume or an agent restart) and the
 * reason shown by status.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy_ctx.h"
#include "smsguard/util.h"

/* --- budget gate --- */

/* Whether the budget lets an action happen now; if not, says why (rule 7). */
static bool
budget_gate(struct ctx *c, const char *what)
{
	struct policy_state *st = c->st;
	struct budget_status bs;
	char when[48], span[32], win[32];

	if (budget_allowed(&st->budget, c->now, &bs)) {
		st->exhausted_reported = false;
		return true;
	}
	if (bs.exhausted) {
		if (bs.next_ms == 0) {
			set_reason(c, POLICY_HEALTH_FAILED,
			    "budget is 0: no automatic %s (a person is needed)", what);
			return false;
		}
		fmt_time(c, bs.next_ms, when, sizeof(when));
		if (!st->exhausted_reported) {
			cJSON *d = task_details(c);

			cJSON_AddNumberToObject(d, "actions_in_window", bs.in_window);
			cJSON_AddNumberToObject(d, "budget", bs.max_actions);
			cJSON_AddNumberToObject(d, "next_allowed", (double)(bs.next_ms / 1000));
			add_event(c, EV_RECOVERY_EXHAUSTED, d,
			    "recovery budget spent (%d actions in %s): no automatic %s until %s or "
			    "`smsguardctl resume`",
			    bs.in_window,
			    util_format_duration((uint64_t)st->budget.window_ms, win, sizeof(win)),
			    what, when);
			st->exhausted_reported = true;
		}
		set_reason(c, POLICY_HEALTH_FAILED, "budget spent until %s (%d of %d in window)",
		    when, bs.in_window, bs.max_actions);
	} else {
		fmt_time(c, bs.next_ms, when, sizeof(when));
		set_reason(c, POLICY_HEALTH_DEGRADED,
		    "backing off after %d failed attempt%s: next %s at %s (in %s)", bs.failures,
		    bs.failures == 1 ? "" : "s", what, when,
		    fmt_span(bs.next_ms - c->now, span, sizeof(span)));
	}
	wake_at(c, bs.next_ms);
	return false;
}

/* --- outcomes of earlier actions --- */

/* One failure episode's identity: another start date or code is another failure. */
static void
failure_key(const struct policy_input *in, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s/%" PRId64, in->task_id, task_state_name(in->state),
	    in->error_code, in->task_start_ms);
}

static void
confirm_failed(struct ctx *c, const char *why)
{
	struct policy_state *st = c->st;
	char span[32];
	cJSON *d;

	budget_finish(&st->budget, BUDGET_RESUME, BUDGET_FAILED, c->now, c->in->jitter);
	st->confirm_pending = false;
	d = task_details(c);
	cJSON_AddNumberToObject(d, "attempt", st->failure_attempts);
	cJSON_AddStringToObject(d, "resume", "failed");
	cJSON_AddNumberToObject(
	    d, "backoff_s", (double)((st->budget.backoff_until_ms - c->now) / 1000));
	add_event(c, EV_TASK_FAILED, d,
	    "resume attempt %d did not take (%s): next attempt after %s", st->failure_attempts, why,
	    fmt_span(st->budget.backoff_until_ms - c->now, span, sizeof(span)));
	wake_at(c, st->budget.backoff_until_ms);
}

/* A resume must lead to RUNNING within `confirm` (rule 2). */
static void
check_confirm(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char span[32];

	if (!st->confirm_pending)
		return;
	/* A snapshot from before the resume says nothing about it. */
	if (in->task_known && in->polled_ms >= st->confirm_since_ms &&
	    strcmp(in->task_id, st->task_id) == 0) {
		if (in->state == TASK_RUNNING || in->state == TASK_SYNCING ||
		    task_state_is_finished(in->state)) {
			cJSON *d = task_details(c);

			budget_finish(&st->budget, BUDGET_RESUME, BUDGET_OK, c->now, in->jitter);
			st->confirm_pending = false;
			st->failure_active = false;
			cJSON_AddNumberToObject(d, "attempt", st->failure_attempts);
			add_event(c, EV_TASK_RUNNING, d, "task %s again %s after the resume",
			    task_state_name(in->state),
			    fmt_span(c->now - st->confirm_since_ms, span, sizeof(span)));
			return;
		}
		if (task_state_is_failed(in->state)) {
			char key[POLICY_FAILURE_KEY_MAX];

			failure_key(in, key, sizeof(key));
			if (strcmp(key, st->failure_key) != 0) {
				char why[96];

				snprintf(why, sizeof(why), "the task failed again with %s",
				    code_or_none(in->error_code));
				confirm_failed(c, why);
				return;
			}
		} else if (in->state != TASK_UNKNOWN) {
			/* READY, ABORT…: someone else took over; not a failed attempt of ours. */
			budget_finish(&st->budget, BUDGET_RESUME, BUDGET_OK, c->now, in->jitter);
			st->confirm_pending = false;
			return;
		}
	}
	if (c->now >= st->confirm_since_ms + (int64_t)c->cfg->confirm_ms) {
		char why[64];

		snprintf(why, sizeof(why), "not RUNNING within %s",
		    fmt_span((int64_t)c->cfg->confirm_ms, span, sizeof(span)));
		confirm_failed(c, why);
		return;
	}
	wake_at(c, st->confirm_since_ms + (int64_t)c->cfg->confirm_ms);
}

static void
restart_failed(struct ctx *c, const char *why)
{
	struct policy_state *st = c->st;
	char span[32];
	cJSON *d = task_details(c);

	st->restart_phase = POLICY_RESTART_NONE;
	cJSON_AddStringToObject(d, "restart", "failed");
	cJSON_AddStringToObject(d, "why", why);
	add_event(c, EV_AGENT_DOWN, d, "agent restart failed (%s): next attempt after %s", why,
	    fmt_span(st->budget.backoff_until_ms - c->now, span, sizeof(span)));
	wake_at(c, st->budget.backoff_until_ms);
}

/* A restart succeeds when the agent is seen running; it has restart_timeout + confirm. */
static void
check_restart(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char span[32];
	int64_t deadline;

	if (st->report_restart_failed) {
		st->report_restart_failed = false;
		restart_failed(c, st->report_detail[0] != '\0' ? st->report_detail : "failed");
	}
	if (st->restart_phase == POLICY_RESTART_NONE)
		return;
	/* Not while the command runs: an agent it started may go again when it fails. */
	if (in->agent == AGENT_RUNNING && !in->agent_restart_in_flight) {
		cJSON *d = task_details(c);

		budget_finish(&st->budget, BUDGET_RESTART_AGENT, BUDGET_OK, c->now, in->jitter);
		st->restart_phase = POLICY_RESTART_NONE;
		st->agent_down_reported = false;
		st->agent_restarted_ms = c->now;
		if (in->task_known && task_lost_by_agent_restart(in) &&
		    (task_is_running(in) || task_state_is_failed(in->state) ||
		        in->state == TASK_ABORTING || in->state == TASK_ABORT)) {
			char warn[200];

			snprintf(warn, sizeof(warn),
			    "a %s %s task cannot resume after an agent restart: recreate it",
			    task_os_name(in->os),
			    in->type == TASK_TYPE_MIGRATE_BLOCK ? "block-level" : "migration");
			cJSON_AddStringToObject(d, "warning", warn);
			add_event(
			    c, EV_AGENT_RESTARTED, d, "SMS-Agent restarted; warning: %s", warn);
			st->needs_recreate = true;
		} else {
			add_event(c, EV_AGENT_RESTARTED, d, "SMS-Agent restarted");
		}
		add_action(c, ACT_POLL_NOW);
		return;
	}
	deadline = st->restart_since_ms + (int64_t)c->cfg->restart_timeout_ms +
	    (int64_t)c->cfg->confirm_ms;
	if (c->now >= deadline) {
		char why[80];

		budget_finish(&st->budget, BUDGET_RESTART_AGENT, BUDGET_FAILED, c->now, in->jitter);
		snprintf(why, sizeof(why), "agent not running %s after the restart",
		    fmt_span(c->now - st->restart_since_ms, span, sizeof(span)));
		restart_failed(c, why);
		return;
	}
	wake_at(c, deadline);
}

/* --- observations --- */

/* Keeps the per-task memory in step with the snapshot; a new failure starts an episode. */
static void
track_task(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char key[POLICY_FAILURE_KEY_MAX];

	if (!in->task_known)
		return;
	if (strcmp(in->task_id, st->task_id) != 0) {
		/* Another task (recreated by a person): nothing we knew applies to it. */
		util_strlcpy(st->task_id, in->task_id, sizeof(st->task_id));
		st->failure_active = false;
		st->confirm_pending = false;
		st->needs_recreate = false;
		st->finished_reported = false;
		st->stopped_reported = false;
		st->report_resume_refused = false;
	}
	/* The snapshot that led to the resume, seen again: it says nothing new. */
	if (st->confirm_pending && in->polled_ms < st->confirm_since_ms)
		return;
	if (task_state_is_failed(in->state)) {
		failure_key(in, key, sizeof(key));
		if (!st->failure_active || strcmp(key, st->failure_key) != 0) {
			st->failure_active = true;
			util_strlcpy(st->failure_key, key, sizeof(st->failure_key));
			util_strlcpy(st->failure_code, in->error_code, sizeof(st->failure_code));
			st->failure_since_ms = c->now;
			st->failure_reported = false;
			st->failure_attempts = 0;
			/*
			 * Rule 2: the failure is evidence that the link was down, even
			 * if our probes still read up. Probe afresh, at once; only
			 * probes started from now count (see rule_failure).
			 */
			if (task_error_is_network(in->error_code))
				add_action(c, ACT_PROBE_FRESH);
		}
	} else if (in->state != TASK_UNKNOWN && !st->confirm_pending) {
		st->failure_active = false;
	}
	if (!task_state_is_finished(in->state) && in->state != TASK_UNKNOWN)
		st->finished_reported = false;
	if (in->state != TASK_ABORT && in->state != TASK_ABORTING && in->state != TASK_UNKNOWN)
		st->stopped_reported = false;
	/* Only a new task can be resumed again after the agent restart lost this one. */
	if (task_state_is_finished(in->state))
		st->needs_recreate = false;
}

/*
 * SMS paused the task itself because the migration ran faster than its
 * limit (SMS.9007): tc is missing or not working on this host, so the limit
 * cannot be enforced here. Rule 4 still holds: not ours to start.
 */
#define OVERSPEED_WHY                                                                              \
	"the rate exceeded its limit, so the limit cannot be enforced on this host (tc missing "   \
	"or "                                                                                      \
	"not working, or other tc rules on the NIC); fix tc, then start the task: not touching it"

static bool
overspeed_stop(const struct policy_input *in)
{
	return (in->state == TASK_ABORT || in->state == TASK_ABORTING) &&
	    strcmp(in->error_code, "SMS.9007") == 0;
}

/* Once per stop: SMS paused the task over its limit (SMS.9007). */
static void
report_overspeed(struct ctx *c)
{
	const struct policy_input *in = c->in;
	cJSON *d = task_details(c);

	cJSON_AddStringToObject(d, "error_code", in->error_code);
	cJSON_AddStringToObject(d, "meaning", meaning_of(in->error_code));
	cJSON_AddBoolToObject(d, "network", false);
	add_event(c, EV_TASK_FAILED, d, "task %s by SMS with %s: %s", task_state_name(in->state),
	    in->error_code, OVERSPEED_WHY);
	c->st->stopped_reported = true;
}

/* Events of what is seen: raised even while paused (they report, they do not act). */
static void
observe(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char text[160], span[32];
	cJSON *d;

	/* Rule 6: an early warning, before SMS fails the task. */
	if (in->target == PORT_DOWN && !st->target_down_reported && task_is_running(in)) {
		target_text(c, text, sizeof(text));
		d = task_details(c);
		add_event(c, EV_TARGET_DOWN, d, "%s while the task is %s", text,
		    task_state_name(in->state));
		st->target_down_reported = true;
		st->target_down_since_ms = in->target_since_ms != 0 ? in->target_since_ms : c->now;
	} else if (in->target == PORT_UP && st->target_down_reported) {
		d = task_details(c);
		add_event(c, EV_TARGET_UP, d, "target up again after %s down",
		    fmt_span(c->now - st->target_down_since_ms, span, sizeof(span)));
		st->target_down_reported = false;
	}

	if (in->agent == AGENT_DEAD && !st->agent_down_reported) {
		d = task_details(c);
		add_event(c, EV_AGENT_DOWN, d, "SMS-Agent (%s) is not running",
		    c->cfg->agent_process != NULL ? c->cfg->agent_process : "linuxmain");
		st->agent_down_reported = true;
	} else if (in->agent == AGENT_RUNNING) {
		st->agent_down_reported = false;
	}

	if (st->report_resume_refused) {
		st->report_resume_refused = false;
		d = task_details(c);
		cJSON_AddStringToObject(d, "resume", "refused");
		cJSON_AddNumberToObject(d, "attempt", st->failure_attempts);
		add_event(c, EV_TASK_FAILED, d,
		    "resume attempt %d refused (%s): next attempt after %s", st->failure_attempts,
		    st->report_detail[0] != '\0' ? st->report_detail : "no reason given",
		    fmt_span(st->budget.backoff_until_ms - c->now, span, sizeof(span)));
	}

	if (!in->task_known)
		return;
	if (task_state_is_failed(in->state) && st->failure_active && !st->failure_reported) {
		bool net = task_error_is_network(in->error_code);
		const char *then;

		if (!net)
			then = "not retried: a person is needed";
		else if (!c->cfg->resume)
			then = "resume = off: a person is needed";
		else if (st->needs_recreate)
			then = "the agent was restarted: the task must be recreated";
		else if (st->paused)
			then = "paused: no automatic resume";
		else
			then = "will resume once the link is back";
		d = task_details(c);
		cJSON_AddStringToObject(d, "error_code", in->error_code);
		cJSON_AddStringToObject(d, "meaning", meaning_of(in->error_code));
		cJSON_AddBoolToObject(d, "network", net);
		add_event(c, EV_TASK_FAILED, d, "task %s with %s (%s): %s",
		    task_state_name(in->state), code_or_none(in->error_code),
		    meaning_of(in->error_code), then);
		st->failure_reported = true;
	}
	if (task_state_is_finished(in->state) && !st->finished_reported) {
		d = task_details(c);
		add_event(c, EV_TASK_FINISHED, d, "task finished: %s", task_state_name(in->state));
		st->finished_reported = true;
	}
	if (overspeed_stop(in) && !st->stopped_reported)
		report_overspeed(c);
}

/* --- the rules --- */

bool
policy_agent_mid_retry(const struct policy_input *in, const char *code, int64_t failure_since_ms,
    const struct config *cfg, int64_t now_ms, int *retry_no, int64_t *until_ms)
{
	static const char *const agent_codes[] = {
	    "SMS.0807", "SMS.1807", "SMS.2802", "SMS.3802", "SMS.2805", "SMS.2806"};
	int64_t due, end, interval, addition;
	bool handled = false;
	int n;

	if (in->agent != AGENT_RUNNING || in->agent_retry_max <= 0 || code == NULL)
		return false;
	for (size_t i = 0; i < nitems(agent_codes); i++)
		if (strcmp(code, agent_codes[i]) == 0)
			handled = true;
	if (!handled)
		return false;
	/* Bounded inputs keep the sums far from overflow: 1000 retries of at most ~11 days. */
	n = in->agent_retry_max > 1000 ? 1000 : in->agent_retry_max;
	interval = in->agent_retry_interval_ms < 0 ? 0 : in->agent_retry_interval_ms;
	addition = in->agent_retry_addition_ms < 0 ? 0 : in->agent_retry_addition_ms;
	if (interval > (int64_t)1000000 * 1000)
		interval = (int64_t)1000000 * 1000;
	if (addition > (int64_t)1000000 * 1000)
		addition = (int64_t)1000000 * 1000;

	end = failure_since_ms;
	for (int k = 1; k <= n; k++)
		end += interval + (int64_t)(k - 1) * addition;
	/* One poll more after the last retry is due, to see whether it took. */
	end += (int64_t)cfg->poll_ms;
	if (now_ms >= end)
		return false;
	if (retry_no != NULL) {
		/* The next retry due; the last one once all are due. */
		*retry_no = n;
		due = failure_since_ms;
		for (int k = 1; k <= n; k++) {
			due += interval + (int64_t)(k - 1) * addition;
			if (now_ms < due) {
				*retry_no = k;
				break;
			}
		}
	}
	if (until_ms != NULL)
		*until_ms = end;
	return true;
}

/* Rule 5: restart a dead agent, through the budget. */
static void
rule_agent_dead(struct ctx *c)
{
	struct policy_state *st = c->st;
	struct budget_status bs;
	struct policy_action *a;
	int n;

	if (c->cfg->agent_restart == AGENT_RESTART_NEVER) {
		set_reason(
		    c, POLICY_HEALTH_FAILED, "agent dead and restart = never: a person is needed");
		return;
	}
	if (c->in->agent_restart_impossible && st->restart_phase == POLICY_RESTART_NONE &&
	    !c->in->agent_restart_in_flight) {
		set_reason(c, POLICY_HEALTH_FAILED,
		    "agent dead and its home is unknown: set [agent] home or restart_command, "
		    "or start it by hand");
		return;
	}
	if (st->restart_phase != POLICY_RESTART_NONE || c->in->agent_restart_in_flight) {
		char span[32];

		set_reason(c, POLICY_HEALTH_DEGRADED, "agent dead: restart in progress for %s",
		    fmt_span(st->restart_phase != POLICY_RESTART_NONE
		            ? c->now - st->restart_since_ms
		            : 0,
		        span, sizeof(span)));
		return;
	}
	if (!budget_gate(c, "agent restart"))
		return;

	a = add_action(c, ACT_RESTART_AGENT);
	if (a == NULL)
		return;
	n = budget_record(&st->budget, c->now, BUDGET_RESTART_AGENT);
	budget_allowed(&st->budget, c->now, &bs);
	st->restart_phase = POLICY_RESTART_RUNNING;
	st->restart_since_ms = c->now;
	snprintf(a->message, sizeof(a->message), "agent dead: restarting (%d of %d in window)", n,
	    bs.max_actions);
	set_reason(c, POLICY_HEALTH_DEGRADED, "%s", a->message);
	wake_at(c, c->now + (int64_t)c->cfg->restart_timeout_ms + (int64_t)c->cfg->confirm_ms);
}

static void
issue_resume(struct ctx *c)
{
	struct policy_state *st = c->st;
	struct budget_status bs;
	struct policy_action *a;
	cJSON *d;
	int n;

	a = add_action(c, ACT_RESUME_TASK);
	if (a == NULL)
		return;
	n = budget_record(&st->budget, c->now, BUDGET_RESUME);
	budget_allowed(&st->budget, c->now, &bs);
	st->failure_attempts++;
	st->confirm_pending = true;
	st->confirm_since_ms = c->now;
	snprintf(a->message, sizeof(a->message),
	    "resuming the task after %s: attempt %d (%d of %d in window)",
	    code_or_none(st->failure_code), st->failure_attempts, n, bs.max_actions);
	set_reason(c, POLICY_HEALTH_DEGRADED, "%s", a->message);

	d = task_details(c);
	cJSON_AddStringToObject(d, "error_code", st->failure_code);
	cJSON_AddNumberToObject(d, "attempt", st->failure_attempts);
	cJSON_AddNumberToObject(d, "actions_in_window", n);
	add_event(c, EV_TASK_RESUMED, d, "%s", a->message);
	wake_at(c, c->now + (int64_t)c->cfg->confirm_ms);
}

/* Rules 2 and 3: a failed task. */
/*
 * Rule 2, once nothing else stands in the way: the link proven alive (fresh
 * probes, settled), the agent's own retries done, the cloud answering, the
 * task seen after an agent restart, and the budget: then one resume.
 */
static void
resume_when_ready(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char text[160], span[32], span2[32];
	int64_t until, settled;
	int retry;

	if (in->agent != AGENT_RUNNING) {
		set_reason(c, POLICY_HEALTH_DEGRADED,
		    "agent state unknown: waiting to see it before resuming");
		return;
	}
	/* SMS would fail it again at once: a stopped agent sends no heartbeat. */
	if (in->agent_stopped) {
		set_reason(c, POLICY_HEALTH_DEGRADED,
		    "agent stopped (SIGSTOP or a debugger): resuming once it runs again");
		return;
	}
	if (in->target == PORT_DOWN) {
		target_text(c, text, sizeof(text));
		set_reason(c, POLICY_HEALTH_DEGRADED, "%s", text);
		return;
	}
	/*
	 * Up counts only from probes started after the failure was seen: an
	 * up-since from before it is the hysteresis remembering a link that
	 * SMS has just found dead. Settle counts from the fresh up.
	 */
	if (in->target != PORT_UP || in->target_since_ms < st->failure_since_ms) {
		set_reason(c, POLICY_HEALTH_DEGRADED,
		    "waiting for fresh probes after the failure (%d success%s on every port)",
		    c->cfg->rise, c->cfg->rise == 1 ? "" : "es");
		return;
	}
	settled = in->target_since_ms + (int64_t)c->cfg->settle_ms;
	if (c->now < settled) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "settling %s of %s",
		    fmt_span(c->now - in->target_since_ms, span, sizeof(span)),
		    fmt_span((int64_t)c->cfg->settle_ms, span2, sizeof(span2)));
		wake_at(c, settled);
		return;
	}
	if (policy_agent_mid_retry(
	        in, in->error_code, st->failure_since_ms, c->cfg, c->now, &retry, &until)) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "agent's own retry %d of %d in progress",
		    retry, in->agent_retry_max);
		wake_at(c, until);
		return;
	}
	if (in->cloud == CLOUD_UNREACHABLE) {
		set_reason(
		    c, POLICY_HEALTH_DEGRADED, "cloud unreachable: resuming when it answers");
		return;
	}
	if (in->cloud == CLOUD_AUTH_FAILED) {
		set_reason(c, POLICY_HEALTH_FAILED,
		    "cloud refused our credentials: cannot resume (a person is needed)");
		return;
	}
	/* Rule 5 says re-poll after a restart: SMS may see the task differently now. */
	if (st->agent_restarted_ms != 0 && in->polled_ms <= st->agent_restarted_ms) {
		set_reason(c, POLICY_HEALTH_DEGRADED,
		    "agent restarted: waiting for the task's state before resuming");
		return;
	}
	if (!budget_gate(c, "resume"))
		return;
	issue_resume(c);
}

static void
rule_failure(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char span[32], span2[32];

	if (!task_error_is_network(in->error_code)) {
		set_reason(c, POLICY_HEALTH_FAILED, "task failed with %s (%s): a person is needed",
		    code_or_none(in->error_code), meaning_of(in->error_code));
		return;
	}
	if (st->needs_recreate) {
		set_reason(c, POLICY_HEALTH_FAILED,
		    "the agent was restarted during this %s task: SMS cannot resume it; recreate "
		    "the task",
		    in->type == TASK_TYPE_MIGRATE_BLOCK ? "block-level" : task_os_name(in->os));
		return;
	}
	if (!c->cfg->resume) {
		set_reason(c, POLICY_HEALTH_FAILED,
		    "task failed with %s; resume = off: a person is needed", in->error_code);
		return;
	}
	/* Rule 5 before the resume (and its confirmation): the task cannot run without its agent. */
	if (in->agent == AGENT_DEAD || st->restart_phase != POLICY_RESTART_NONE) {
		rule_agent_dead(c);
		return;
	}
	if (st->confirm_pending) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "waiting for RUNNING after resume: %s of %s",
		    fmt_span(c->now - st->confirm_since_ms, span, sizeof(span)),
		    fmt_span((int64_t)c->cfg->confirm_ms, span2, sizeof(span2)));
		wake_at(c, st->confirm_since_ms + (int64_t)c->cfg->confirm_ms);
		return;
	}
	if (in->resume_in_flight) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "resume request under way");
		return;
	}
	resume_when_ready(c);
}

static void
decide(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	char when[48], text[160];

	/* Rule 1: observe and report, act on nothing. */
	if (st->paused) {
		if (st->paused_until_ms != 0) {
			set_reason(c, POLICY_HEALTH_DEGRADED,
			    "paused by an operator until %s: observing only",
			    fmt_time(c, st->paused_until_ms, when, sizeof(when)));
			wake_at(c, st->paused_until_ms);
		} else {
			set_reason(
			    c, POLICY_HEALTH_DEGRADED, "paused by an operator: observing only");
		}
		return;
	}
	if (!in->task_known) {
		set_reason(
		    c, POLICY_HEALTH_DEGRADED, "waiting for the task's state from the cloud");
		return;
	}
	if (task_state_is_failed(in->state)) {
		rule_failure(c);
		return;
	}
	/* Rule 4: a person (or SMS itself, e.g. SMS.9007) stopped it: hands off. */
	if (overspeed_stop(in)) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "task paused by SMS (%s): %s", in->error_code,
		    OVERSPEED_WHY);
		return;
	}
	if (in->state == TASK_ABORT || in->state == TASK_ABORTING) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "task stopped by a person: not touching it");
		return;
	}
	/*
	 * A finished migration needs no agent (and a person may have removed
	 * it), so rule 8 goes before rule 5 here.
	 */
	if (task_state_is_finished(in->state)) {
		set_reason(c, POLICY_HEALTH_OK, "task finished (%s)", task_state_name(in->state));
		return;
	}
	if (in->agent == AGENT_DEAD || st->restart_phase != POLICY_RESTART_NONE) {
		rule_agent_dead(c);
		return;
	}
	if (st->confirm_pending) {
		set_reason(c, POLICY_HEALTH_DEGRADED, "waiting for RUNNING after resume");
		return;
	}
	if (task_is_running(in) && in->target == PORT_DOWN) {
		target_text(c, text, sizeof(text));
		set_reason(c, POLICY_HEALTH_DEGRADED, "%s while the task is %s", text,
		    task_state_name(in->state));
		return;
	}
	switch (in->state) {
	case TASK_RUNNING:
		set_reason(c, POLICY_HEALTH_OK, "migrating");
		break;
	case TASK_SYNCING:
		set_reason(c, POLICY_HEALTH_OK, "synchronizing");
		break;
	case TASK_READY:
		set_reason(c, POLICY_HEALTH_OK, "task ready: waiting for it to be started");
		break;
	default:
		set_reason(c, POLICY_HEALTH_OK, "watching: task is %s", task_state_name(in->state));
		break;
	}
}

/* The cloud's own state overrides what a stale snapshot would suggest. */
static void
cloud_overlay(struct ctx *c)
{
	char text[POLICY_REASON_MAX];

	if (c->in->cloud == CLOUD_AUTH_FAILED && c->out->health != POLICY_HEALTH_FAILED) {
		snprintf(text, sizeof(text), "%s", c->out->reason);
		set_reason(c, POLICY_HEALTH_FAILED,
		    "cloud refused our credentials: a person is needed (%s)", text);
	} else if (c->in->cloud == CLOUD_UNREACHABLE && c->out->health == POLICY_HEALTH_OK) {
		snprintf(text, sizeof(text), "%s", c->out->reason);
		set_reason(c, POLICY_HEALTH_DEGRADED, "cloud unreachable (last seen: %s)", text);
	}
}

/* The task poll interval wanted now (DESIGN.md §5.4, rule 2): the cloud client obeys it. */
static void
poll_mode(struct ctx *c)
{
	struct policy_state *st = c->st;
	const struct policy_input *in = c->in;
	const struct config *cfg = c->cfg;

	if (st->confirm_pending || st->restart_phase != POLICY_RESTART_NONE)
		c->out->poll_ms =
		    cfg->poll_ms < POLICY_POLL_FAST_MS ? cfg->poll_ms : POLICY_POLL_FAST_MS;
	else if (st->paused)
		c->out->poll_ms = cfg->poll_idle_ms;
	else if (!in->task_known || in->state == TASK_UNKNOWN || task_state_is_active(in->state))
		c->out->poll_ms = cfg->poll_ms;
	else if (task_state_is_failed(in->state) && task_error_is_network(in->error_code) &&
	    cfg->resume && !st->needs_recreate)
		c->out->poll_ms = cfg->poll_ms; /* a failure awaiting recovery */
	else
		c->out->poll_ms = cfg->poll_idle_ms;
}

void
policy_decide(struct policy_state *st, const struct policy_input *in, const struct config *cfg,
    int64_t now_ms, struct policy_decision *out)
{
	struct ctx c = {st, in, cfg, now_ms, out};

	memset(out, 0, sizeof(*out));
	budget_configure(&st->budget, cfg->budget_actions, cfg->budget_window_ms,
	    cfg->backoff_min_ms, cfg->backoff_max_ms);
	if (st->paused && st->paused_until_ms != 0 && now_ms >= st->paused_until_ms) {
		st->paused = false;
		st->paused_until_ms = 0;
	}

	check_confirm(&c);
	track_task(&c);
	check_restart(&c);
	observe(&c);
	decide(&c);
	cloud_overlay(&c);
	poll_mode(&c);
}

int
policy_action_done(struct policy_state *st, enum policy_action_kind kind, enum obs_outcome result,
    const char *detail, int64_t now_ms, int jitter)
{
	switch (kind) {
	case ACT_RESUME_TASK:
		if (!st->confirm_pending)
			return -ENOENT;
		if (result != OBS_DONE_FAILED)
			return 0; /* accepted (or maybe): the confirmation decides */
		budget_finish(&st->budget, BUDGET_RESUME, BUDGET_FAILED, now_ms, jitter);
		st->confirm_pending = false;
		st->report_resume_refused = true;
		break;
	case ACT_RESTART_AGENT:
		if (st->restart_phase == POLICY_RESTART_NONE)
			return -ENOENT;
		if (result != OBS_DONE_FAILED) {
			st->restart_phase = POLICY_RESTART_AWAITING;
			return 0;
		}
		budget_finish(&st->budget, BUDGET_RESTART_AGENT, BUDGET_FAILED, now_ms, jitter);
		st->restart_phase = POLICY_RESTART_NONE;
		st->report_restart_failed = true;
		break;
	default:
		return -EINVAL;
	}
	util_strlcpy(st->report_detail, detail != NULL ? detail : "", sizeof(st->report_detail));
	return 0;
}
