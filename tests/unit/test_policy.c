/*
 * The recovery policy, rule by rule (DESIGN.md §5.5) and for each ordering
 * conflict. Every test drives policy_decide() with a hand-made picture of the
 * world and a clock it advances itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/policy.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
/* 2023-11-14 22:13:20 UTC. */
#define T0 1700000000000LL

struct fx {
	struct config cfg;
	struct policy_state st;
	struct policy_input in;
	struct policy_decision out;
	int64_t now;
};

static char agent_process[] = "linuxmain";

/* [recovery] and friends at their documented defaults (DESIGN.md §4). */
static void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->poll_ms = 30 * SEC;
	c->poll_idle_ms = 5 * MIN;
	c->agent_process = agent_process;
	c->agent_restart = AGENT_RESTART_WHEN_DEAD;
	c->restart_timeout_ms = 2 * MIN;
	c->resume = true;
	c->settle_ms = 10 * SEC;
	c->budget_actions = 6;
	c->budget_window_ms = HOUR;
	c->backoff_min_ms = 30 * SEC;
	c->backoff_max_ms = 15 * MIN;
	c->confirm_ms = 2 * MIN;
	c->fall = 3;
	c->rise = 2;
}

/* A Linux file-level task migrating happily; target and agent up for an hour. */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	config_defaults(&f->cfg);
	policy_state_init(&f->st, &f->cfg);
	f->now = T0;
	f->in.task_known = true;
	snprintf(f->in.task_id, sizeof(f->in.task_id), "%s", "4f3c6e2a-task");
	f->in.state = TASK_RUNNING;
	f->in.type = TASK_TYPE_MIGRATE_FILE;
	f->in.os = TASK_OS_LINUX;
	f->in.task_start_ms = T0 - 2 * HOUR;
	f->in.target = PORT_UP;
	f->in.target_since_ms = T0 - HOUR;
	f->in.nports = 1;
	f->in.ports[0].port = 22;
	f->in.agent = AGENT_RUNNING;
	f->in.agent_since_ms = T0 - HOUR;
	f->in.cloud = CLOUD_OK;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	policy_decision_clear(&f->out);
	free(f);
	return 0;
}

/* Decides at f->now, as if the task had just been polled. */
static void
decide(struct fx *f)
{
	policy_decision_clear(&f->out);
	f->in.polled_ms = f->now;
	policy_decide(&f->st, &f->in, &f->cfg, f->now, &f->out);
}

/* Decides at f->now on the snapshot polled earlier. */
static void
decide_stale(struct fx *f)
{
	policy_decision_clear(&f->out);
	policy_decide(&f->st, &f->in, &f->cfg, f->now, &f->out);
}

static int
count(const struct policy_decision *d, enum policy_action_kind kind)
{
	int n = 0;

	for (int i = 0; i < d->nactions; i++)
		if (d->actions[i].kind == kind)
			n++;
	return n;
}

static int
count_events(const struct policy_decision *d, enum event_type type)
{
	int n = 0;

	for (int i = 0; i < d->nactions; i++)
		if (d->actions[i].kind == ACT_EVENT && d->actions[i].event == type)
			n++;
	return n;
}

static const struct policy_action *
event(const struct policy_decision *d, enum event_type type)
{
	for (int i = 0; i < d->nactions; i++)
		if (d->actions[i].kind == ACT_EVENT && d->actions[i].event == type)
			return &d->actions[i];
	return NULL;
}

static bool
has_text(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL) {
		print_error("\"%s\" does not contain \"%s\"\n", haystack, needle);
		return false;
	}
	return true;
}

static void
fail_task(struct fx *f, const char *code)
{
	f->in.state = TASK_MIGRATE_FAIL;
	snprintf(f->in.error_code, sizeof(f->in.error_code), "%s", code);
}

static void
run_task(struct fx *f)
{
	f->in.state = TASK_RUNNING;
	f->in.error_code[0] = '\0';
}

static void
port_down(struct fx *f, uint16_t port, int64_t since)
{
	f->in.target = PORT_DOWN;
	f->in.target_since_ms = since;
	f->in.nports = 2;
	f->in.ports[0].port = 22;
	f->in.ports[0].down = false;
	f->in.ports[1].port = port;
	f->in.ports[1].down = true;
	f->in.ports[1].since_ms = since;
}

static void
target_up(struct fx *f, int64_t since)
{
	f->in.target = PORT_UP;
	f->in.target_since_ms = since;
	for (int i = 0; i < f->in.nports; i++)
		f->in.ports[i].down = false;
}

/*
 * A network failure seen now: fresh probes are asked for and nothing is
 * resumed, whatever the probes said before.
 */
static void
fail_seen(struct fx *f, const char *code)
{
	fail_task(f, code);
	decide(f);
	assert_int_equal(count(&f->out, ACT_PROBE_FRESH), 1);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
}

/* Fresh probes show the target up now; it stays up for `settle`. */
static void
fresh_up_and_settled(struct fx *f)
{
	target_up(f, f->now);
	f->now += f->cfg.settle_ms;
}

/* A network failure, then fresh probes and a settled link: decides then. */
static void
fail_then_settle(struct fx *f, const char *code)
{
	fail_seen(f, code);
	fresh_up_and_settled(f);
	decide(f);
}

/* A network failure, then fresh probes and a settled link: the resume is issued. */
static void
fail_and_resume(struct fx *f)
{
	fail_seen(f, "SMS.2802");
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* kill -9 and start again: the state goes through JSON text, as through state.json. */
static void
restart_smsguard(struct fx *f)
{
	cJSON *j = policy_state_to_json(&f->st);
	char *text = cJSON_PrintUnformatted(j);
	cJSON *back = cJSON_Parse(text);

	cJSON_Delete(j);
	free(text);
	policy_state_init(&f->st, &f->cfg);
	assert_int_equal(policy_state_from_json(&f->st, back, f->now), 0);
	cJSON_Delete(back);
}

/* --- normal running --- */

static void
test_running_task_is_healthy_and_quiet(void **state)
{
	struct fx *f = *state;

	decide(f);
	assert_int_equal(f->out.nactions, 0);
	assert_int_equal(f->out.health, POLICY_HEALTH_OK);
	assert_string_equal(f->out.reason, "migrating");
	assert_int_equal(f->out.poll_ms, 30 * SEC);
}

/* --- rule 2: network failures --- */

static void
test_network_failure_resumes_once_link_has_settled(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_seen(f, "SMS.2802");
	assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 1);
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
	ev = event(&f->out, EV_TASK_RESUMED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "attempt 1 (1 of 6 in window)"));
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
}

/*
 * SMS notices a cut link before `fall` probes do: the failure arrives while
 * the target still reads up (since an hour ago). That up is not trusted.
 */
static void
test_failure_while_target_reads_up_waits_for_fresh_probes(void **state)
{
	struct fx *f = *state;

	fail_seen(f, "SMS.2802");
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
	assert_string_equal(f->out.reason,
	    "waiting for fresh probes after the failure (2 successes on every port)");
	/* However long the old "up" lasts, it never leads to a resume. */
	for (int i = 0; i < 100; i++) {
		f->now += 5 * SEC;
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		assert_int_equal(count(&f->out, ACT_PROBE_FRESH), 0); /* asked for once */
	}
	/* Fresh probes: up now; settle counts from here, not from an hour ago. */
	target_up(f, f->now);
	f->now += 3 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "settling 3 s of 10 s");
	f->now += 7 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* An up-since older than the failure by a millisecond is still older. */
static void
test_target_up_since_before_the_failure_is_not_fresh(void **state)
{
	struct fx *f = *state;

	fail_seen(f, "SMS.2802");
	target_up(f, T0 - 1);
	f->now = T0 + MIN;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	target_up(f, T0);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* A failure with a code that is not the link's asks for no fresh probes. */
static void
test_non_network_failure_asks_for_no_fresh_probes(void **state)
{
	struct fx *f = *state;

	fail_task(f, "SMS.3803");
	decide(f);
	assert_int_equal(count(&f->out, ACT_PROBE_FRESH), 0);
}

/* SMS fails the task again while a resume awaits RUNNING: fresh probes once more. */
static void
test_network_failure_during_confirmation_needs_fresh_probes_again(void **state)
{
	struct fx *f = *state;
	int64_t failed_again;

	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0);
	f->now += 20 * SEC;
	f->in.task_start_ms = f->now - 5 * SEC; /* SMS restarted it, and it failed again */
	failed_again = f->now;
	decide(f);
	assert_int_equal(count(&f->out, ACT_PROBE_FRESH), 1);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	/* Past the backoff, the probes' up from before the second failure is not enough. */
	f->now += 5 * MIN;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "waiting for fresh probes after the failure"));
	target_up(f, failed_again + MIN);
	f->now = failed_again + MIN + 10 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* The poll interval is the policy's number: 5 s while a resume awaits RUNNING. */
static void
test_poll_interval_is_5_s_during_confirmation_and_poll_after(void **state)
{
	struct fx *f = *state;

	decide(f);
	assert_int_equal(f->out.poll_ms, 30 * SEC);
	fail_seen(f, "SMS.2802");
	assert_int_equal(f->out.poll_ms, 30 * SEC); /* a failure awaiting recovery */
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
	assert_int_equal(f->out.poll_ms, 5 * SEC);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0);
	f->now += 5 * SEC;
	decide(f); /* still MIGRATE_FAIL: keep polling fast */
	assert_int_equal(f->out.poll_ms, 5 * SEC);
	run_task(f);
	f->now += 5 * SEC;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_TASK_RUNNING), 1);
	assert_int_equal(f->out.poll_ms, 30 * SEC);
	/* A `poll` below 5 s is not slowed down. */
	f->cfg.poll_ms = 2 * SEC;
	decide(f);
	assert_int_equal(f->out.poll_ms, 2 * SEC);
}

static void
test_resume_waits_for_target_up(void **state)
{
	struct fx *f = *state;

	port_down(f, 8900, T0 - 42 * SEC);
	fail_task(f, "SMS.1807");
	for (int i = 0; i < 20; i++, f->now += 5 * SEC) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	}
	f->now = T0;
	decide(f);
	assert_string_equal(f->out.reason, "target port 8900 down for 42 s");
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
}

static void
test_resume_waits_while_target_state_unknown(void **state)
{
	struct fx *f = *state;

	f->in.target = PORT_UNKNOWN;
	f->in.target_since_ms = T0;
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason,
	    "waiting for fresh probes after the failure (2 successes on every port)");
}

static void
test_reason_lists_every_port_that_is_down(void **state)
{
	struct fx *f = *state;

	port_down(f, 8900, T0 - 90 * SEC);
	f->in.ports[0].port = 8899;
	f->in.ports[0].down = true;
	f->in.ports[0].since_ms = T0 - 100 * SEC;
	fail_task(f, "SMS.2802");
	decide(f);
	assert_string_equal(f->out.reason, "target ports 8899, 8900 down for 100 s");
}

static void
test_resume_waits_for_settle(void **state)
{
	struct fx *f = *state;

	fail_seen(f, "SMS.2802");
	target_up(f, T0 + SEC); /* fresh probes */
	f->now = T0 + 7 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "settling 6 s of 10 s");
	assert_int_equal(f->out.wake_ms, T0 + 11 * SEC);

	f->now = T0 + 11 * SEC - 1;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	f->now = T0 + 11 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_target_flap_restarts_the_settle_time(void **state)
{
	struct fx *f = *state;

	fail_seen(f, "SMS.2802");
	target_up(f, T0 + SEC);
	f->now = T0 + 2 * SEC;
	decide(f);
	port_down(f, 8899, T0 + 3 * SEC);
	f->now = T0 + 3 * SEC;
	decide(f);
	target_up(f, T0 + 5 * SEC);
	f->now = T0 + 12 * SEC; /* 11 s since the first fresh "up", only 7 s since the last */
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "settling 7 s of 10 s");
}

static void
test_resume_waits_while_agent_dead(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_DEAD;
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	assert_int_equal(count_events(&f->out, EV_AGENT_DOWN), 1);
}

static void
test_agent_dead_and_target_down_restarts_agent_first(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_DEAD;
	port_down(f, 8900, T0 - 10 * SEC);
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "agent dead: restarting (1 of 6 in window)");

	/* The agent is back but the target is still down: still no resume. */
	f->in.agent = AGENT_RUNNING;
	f->now += 20 * SEC;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_AGENT_RESTARTED), 1);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "target port 8900 down"));
}

static void
test_agent_dead_without_a_known_home_needs_a_person_and_spends_no_budget(void **state)
{
	struct fx *f = *state;
	struct budget_status bs;

	f->in.agent = AGENT_DEAD;
	f->in.agent_restart_impossible = true;
	fail_task(f, "SMS.2802");
	for (int i = 0; i < 10; i++) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		f->now += 60 * SEC;
	}
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_true(has_text(f->out.reason, "home is unknown"));
	budget_allowed(&f->st.budget, f->now, &bs);
	assert_int_equal(bs.in_window, 0);
}

static void
test_resume_waits_while_agent_state_unknown(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_UNKNOWN;
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_string_equal(
	    f->out.reason, "agent state unknown: waiting to see it before resuming");
}

static void
test_resume_off_never_resumes(void **state)
{
	struct fx *f = *state;

	f->cfg.resume = false;
	fail_task(f, "SMS.2802");
	for (int i = 0; i < 100; i++, f->now += MIN) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	}
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_true(has_text(f->out.reason, "resume = off"));
}

static void
test_cloud_unreachable_holds_the_resume(void **state)
{
	struct fx *f = *state;

	f->in.cloud = CLOUD_UNREACHABLE;
	fail_seen(f, "SMS.2802");
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "cloud unreachable: resuming when it answers");
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
}

static void
test_a_stopped_agent_holds_the_resume_until_it_runs(void **state)
{
	struct fx *f = *state;

	f->in.agent_stopped = true;
	fail_seen(f, "SMS.0807");
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "agent stopped"));
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
	f->in.agent_stopped = false;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_cloud_auth_failure_needs_a_person(void **state)
{
	struct fx *f = *state;

	f->in.cloud = CLOUD_AUTH_FAILED;
	decide(f);
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_true(has_text(f->out.reason, "cloud refused our credentials"));
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
}

/* --- rule 2: the agent's own auto-recovery --- */

static void
test_agent_auto_recovery_mid_retry_holds(void **state)
{
	struct fx *f = *state;

	f->in.agent_retry_max = 3;
	f->in.agent_retry_interval_ms = 60 * SEC;
	fail_seen(f, "SMS.2802"); /* first seen at T0 */
	target_up(f, T0 + SEC);
	f->now = T0 + 20 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "agent's own retry 1 of 3 in progress");
	f->now = T0 + 70 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "agent's own retry 2 of 3 in progress");
	/* 3 × 60 s, plus one poll (30 s) to see the last retry's result. */
	assert_int_equal(f->out.wake_ms, T0 + 210 * SEC);
}

static void
test_agent_auto_recovery_window_passed_resumes(void **state)
{
	struct fx *f = *state;

	f->in.agent_retry_max = 3;
	f->in.agent_retry_interval_ms = 60 * SEC;
	fail_seen(f, "SMS.2802");
	target_up(f, T0 + SEC);
	f->now = T0 + 210 * SEC - 1;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	f->now = T0 + 210 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_agent_auto_recovery_succeeding_means_no_action(void **state)
{
	struct fx *f = *state;

	f->in.agent_retry_max = 3;
	f->in.agent_retry_interval_ms = 60 * SEC;
	fail_task(f, "SMS.2802");
	decide(f);
	f->now = T0 + 65 * SEC;
	run_task(f); /* the agent's first retry worked */
	decide(f);
	for (int i = 0; i < 100; i++, f->now += 10 * SEC) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	}
	assert_string_equal(f->out.reason, "migrating");
}

static void
test_agent_retry_window_sums_growing_intervals(void **state)
{
	struct fx *f = *state;
	int retry = 0;
	int64_t until = 0;

	f->in.agent_retry_max = 3;
	f->in.agent_retry_interval_ms = 60 * SEC;
	f->in.agent_retry_addition_ms = 30 * SEC;
	/* Retries due at 60, 150 and 270 s; the window ends one poll later, at 300 s. */
	assert_true(
	    policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0 + 10 * SEC, &retry, &until));
	assert_int_equal(retry, 1);
	assert_int_equal(until, T0 + 300 * SEC);
	assert_true(
	    policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0 + 100 * SEC, &retry, NULL));
	assert_int_equal(retry, 2);
	assert_true(
	    policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0 + 200 * SEC, &retry, NULL));
	assert_int_equal(retry, 3);
	assert_true(
	    policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0 + 299 * SEC, &retry, NULL));
	assert_int_equal(retry, 3);
	assert_false(
	    policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0 + 300 * SEC, NULL, NULL));
}

static void
test_agent_auto_recovery_ignores_codes_the_agent_does_not_retry(void **state)
{
	struct fx *f = *state;

	f->in.agent_retry_max = 3;
	f->in.agent_retry_interval_ms = 60 * SEC;
	/* Reference §9: the agent retries 0807 1807 2802 3802 2805 2806, not 3805. */
	fail_seen(f, "SMS.3805");
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_agent_auto_recovery_not_configured_means_no_wait(void **state)
{
	struct fx *f = *state;

	f->in.agent_retry_max = 0;
	f->in.agent_retry_interval_ms = 60 * SEC;
	assert_false(policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0, NULL, NULL));
	f->in.agent_retry_max = 3;
	f->in.agent = AGENT_DEAD; /* a dead agent retries nothing */
	assert_false(policy_agent_mid_retry(&f->in, "SMS.2802", T0, &f->cfg, T0, NULL, NULL));
}

/* --- rule 2: confirmation, attempts, budget --- */

static void
test_resume_asks_for_a_5_s_poll_and_confirmation_ends_it(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_and_resume(f);
	assert_int_equal(f->out.poll_ms, POLICY_POLL_FAST_MS);
	assert_int_equal(
	    policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0), 0);
	f->now += 12 * SEC;
	run_task(f);
	decide(f);
	ev = event(&f->out, EV_TASK_RUNNING);
	assert_non_null(ev);
	assert_string_equal(ev->message, "task RUNNING again 12 s after the resume");
	assert_int_equal(f->out.poll_ms, 30 * SEC);
	assert_int_equal(f->st.budget.hist[0].outcome, BUDGET_OK);
}

static void
test_accepted_resume_waits_for_running(void **state)
{
	struct fx *f = *state;

	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0);
	f->now += 12 * SEC;
	decide(f); /* SMS still says MIGRATE_FAIL */
	assert_int_equal(f->out.nactions, 0);
	assert_string_equal(f->out.reason, "waiting for RUNNING after resume: 12 s of 120 s");
	assert_int_equal(f->out.wake_ms, T0 + 10 * SEC + 2 * MIN);
}

static void
test_one_failure_gets_exactly_one_resume_over_1000_decisions(void **state)
{
	struct fx *f = *state;
	int resumes = 0;

	fail_seen(f, "SMS.2802");
	fresh_up_and_settled(f);
	for (int i = 0; i < 1000; i++, f->now += 100) {
		decide(f);
		resumes += count(&f->out, ACT_RESUME_TASK);
		if (i == 0)
			policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0);
	}
	assert_int_equal(resumes, 1);
}

static void
test_confirm_timeout_counts_as_failure(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_OK, NULL, f->now, 0);
	f->now += 2 * MIN;
	decide(f);
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_string_equal(ev->message,
	    "resume attempt 1 did not take (not RUNNING within 120 s): next attempt after 30 s");
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(f->st.budget.failures, 1);
	assert_int_equal(f->st.budget.hist[0].outcome, BUDGET_FAILED);
	assert_string_equal(f->out.reason,
	    "backing off after 1 failed attempt: next resume at 22:16 UTC (in 30 s)");
}

static void
test_backoff_doubles_after_failed_confirmations_and_is_capped(void **state)
{
	struct fx *f = *state;
	const int64_t expect[] = {30, 60, 120, 240, 480, 900, 900};

	f->cfg.budget_actions = 100;
	f->cfg.budget_window_ms = 24 * HOUR;
	fail_and_resume(f);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		int64_t timeout = f->now + 2 * MIN;

		f->now = timeout;
		decide(f); /* the confirmation times out */
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		f->now = timeout + expect[i] * SEC - 1;
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		f->now = timeout + expect[i] * SEC;
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
	}
}

static void
test_refused_resume_backs_off_and_is_reported(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_and_resume(f);
	assert_int_equal(
	    policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_FAILED, "SMS.7714", f->now, 0), 0);
	f->now += SEC;
	decide(f);
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "resume attempt 1 refused (SMS.7714)"));
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "backing off after 1 failed attempt"));
	f->now = T0 + 10 * SEC + 30 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_resume_with_unknown_outcome_is_not_repeated(void **state)
{
	struct fx *f = *state;

	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_UNKNOWN, "timeout", f->now, 0);
	f->now += MIN;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "waiting for RUNNING after resume"));
}

static void
test_task_failing_again_during_confirmation_is_a_failed_attempt(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_and_resume(f);
	f->now += 20 * SEC;
	f->in.task_start_ms = f->now - 5 * SEC; /* SMS restarted it, and it failed again */
	decide(f);
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "the task failed again with SMS.2802"));
	assert_int_equal(f->st.budget.failures, 1);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
}

static void
test_new_failure_after_running_gets_its_own_resume(void **state)
{
	struct fx *f = *state;

	fail_and_resume(f);
	f->now += 10 * SEC;
	run_task(f);
	decide(f);
	f->now += 10 * MIN;
	/* Same code and start date: a new failure all the same, with fresh probes of its own. */
	fail_seen(f, "SMS.2802");
	assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 1);
	fresh_up_and_settled(f);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_budget_spent_raises_recovery_exhausted_once_and_stops(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->cfg.budget_actions = 2;
	for (int i = 0; i < 2; i++) {
		fail_and_resume(f);
		f->now += 10 * SEC;
		run_task(f);
		decide(f);
		f->now += 10 * SEC;
	}
	fail_then_settle(f, "SMS.2802");
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	ev = event(&f->out, EV_RECOVERY_EXHAUSTED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "recovery budget spent (2 actions in 1h)"));
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_string_equal(f->out.reason, "budget spent until 23:13 UTC (2 of 2 in window)");
	assert_int_equal(f->out.wake_ms, T0 + 10 * SEC + HOUR);
	for (int i = 0; i < 200; i++) {
		f->now += 10 * SEC;
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		assert_int_equal(count_events(&f->out, EV_RECOVERY_EXHAUSTED), 0);
	}
}

static void
test_budget_frees_after_the_window(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 1;
	fail_and_resume(f);
	f->now += 10 * SEC;
	run_task(f);
	decide(f);
	f->now += 10 * SEC;
	fail_then_settle(f, "SMS.2802");
	assert_int_equal(count_events(&f->out, EV_RECOVERY_EXHAUSTED), 1);
	/* The one action of the window was at T0 + 10 s. */
	f->now = T0 + 10 * SEC + HOUR - 1;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	f->now = T0 + 10 * SEC + HOUR;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_operator_resume_clears_exhaustion(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 1;
	fail_and_resume(f);
	f->now += 10 * SEC;
	run_task(f);
	decide(f);
	f->now += 10 * SEC;
	fail_then_settle(f, "SMS.2802");
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	policy_operator_resume(&f->st, f->now);
	f->now += SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_operator_resume_clears_backoff(void **state)
{
	struct fx *f = *state;

	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_FAILED, "SMS.7714", f->now, 0);
	f->now += SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	policy_operator_resume(&f->st, f->now);
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* --- rule 1: paused --- */

static void
test_no_resume_while_paused_even_with_network_failure(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	policy_pause(&f->st, 0);
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	/* Observing still reports. */
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "paused: no automatic resume"));
	assert_string_equal(f->out.reason, "paused by an operator: observing only");
	assert_int_equal(f->out.poll_ms, 5 * MIN);
	for (int i = 0; i < 100; i++, f->now += MIN) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	}
}

static void
test_paused_agent_dead_is_not_restarted(void **state)
{
	struct fx *f = *state;

	policy_pause(&f->st, 0);
	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_int_equal(count_events(&f->out, EV_AGENT_DOWN), 1);
}

static void
test_paused_still_reports_target_down(void **state)
{
	struct fx *f = *state;

	policy_pause(&f->st, 0);
	port_down(f, 8900, T0);
	decide(f);
	assert_int_equal(count_events(&f->out, EV_TARGET_DOWN), 1);
}

static void
test_pause_with_duration_expires_and_recovery_follows(void **state)
{
	struct fx *f = *state;

	policy_pause(&f->st, T0 + 10 * MIN);
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(f->out.reason, "paused by an operator until 22:23 UTC: observing only");
	assert_int_equal(f->out.wake_ms, T0 + 10 * MIN);
	/* Fresh probes are asked for while paused too (they act on nothing). */
	assert_int_equal(count(&f->out, ACT_PROBE_FRESH), 1);
	target_up(f, T0 + SEC);
	f->now = T0 + 10 * MIN;
	decide(f);
	assert_false(f->st.paused);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

/* --- rules 3 and 4 --- */

static void
test_non_network_code_raises_one_task_failed_and_no_action(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	fail_task(f, "SMS.3803");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "SMS.3803 (port 22 public-key verification failed"));
	assert_true(has_text(ev->message, "not retried"));
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(ev->details, "error_code")), "SMS.3803");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ev->details, "network")));
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_int_equal(f->out.poll_ms, 5 * MIN);
}

static void
test_task_failed_raised_once_across_many_decisions(void **state)
{
	struct fx *f = *state;
	int n = 0;

	port_down(f, 8900, T0);
	fail_task(f, "SMS.2802");
	for (int i = 0; i < 500; i++, f->now += SEC) {
		decide(f);
		n += count_events(&f->out, EV_TASK_FAILED);
	}
	assert_int_equal(n, 1);
}

static void
test_failure_without_code_is_not_retried(void **state)
{
	struct fx *f = *state;

	fail_task(f, "");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "no error code"));
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
}

static void
test_user_stop_after_network_failure_is_never_started(void **state)
{
	struct fx *f = *state;

	port_down(f, 8900, T0);
	fail_task(f, "SMS.2802");
	decide(f);
	f->now += MIN;
	f->in.state = TASK_ABORT; /* a person pressed stop */
	target_up(f, T0);
	for (int i = 0; i < 200; i++, f->now += 30 * SEC) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	}
	assert_string_equal(f->out.reason, "task stopped by a person: not touching it");
}

static void
test_aborting_task_is_left_alone_even_with_agent_dead(void **state)
{
	struct fx *f = *state;

	f->in.state = TASK_ABORTING;
	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_string_equal(f->out.reason, "task stopped by a person: not touching it");
}

static void
test_overspeed_pause_by_sms_is_explained_once_and_left_alone(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.state = TASK_ABORT;
	snprintf(f->in.error_code, sizeof(f->in.error_code), "SMS.9007");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_true(has_text(f->out.reason, "paused by SMS (SMS.9007)"));
	assert_true(has_text(f->out.reason, "cannot be enforced on this host"));
	ev = event(&f->out, EV_TASK_FAILED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "tc missing or not working"));
	restart_smsguard(f);
	f->now += MIN;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 0);
}

/* --- rule 5: the agent --- */

static void
test_agent_dead_is_restarted_through_the_budget(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	ev = event(&f->out, EV_AGENT_DOWN);
	assert_non_null(ev);
	assert_string_equal(ev->message, "SMS-Agent (linuxmain) is not running");
	assert_string_equal(f->out.reason, "agent dead: restarting (1 of 6 in window)");
	assert_int_equal(f->st.budget.count, 1);
	assert_int_equal(f->st.budget.hist[0].kind, BUDGET_RESTART_AGENT);
	/* Not twice while it is under way. */
	f->now += 10 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_int_equal(count_events(&f->out, EV_AGENT_DOWN), 0);
	assert_string_equal(f->out.reason, "agent dead: restart in progress for 10 s");
}

static void
test_agent_restart_confirmed_raises_agent_restarted_and_polls_now(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.agent = AGENT_DEAD;
	decide(f);
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_OK, NULL, f->now + 5 * SEC, 0);
	f->now += 10 * SEC;
	decide(f); /* the watcher has not seen it yet */
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	f->in.agent = AGENT_RUNNING;
	f->now += 5 * SEC;
	decide(f);
	ev = event(&f->out, EV_AGENT_RESTARTED);
	assert_non_null(ev);
	assert_string_equal(ev->message, "SMS-Agent restarted");
	assert_int_equal(count(&f->out, ACT_POLL_NOW), 1);
	assert_int_equal(f->st.budget.hist[0].outcome, BUDGET_OK);
}

static void
test_file_level_task_after_agent_restart_is_resumed(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_DEAD;
	fail_task(f, "SMS.2805");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_OK, NULL, f->now, 0);
	target_up(f, T0 + SEC); /* fresh probes */
	f->in.agent = AGENT_RUNNING;
	f->now += 15 * SEC;
	decide_stale(f);
	assert_int_equal(count_events(&f->out, EV_AGENT_RESTARTED), 1);
	assert_int_equal(count(&f->out, ACT_POLL_NOW), 1);
	/* Rule 5: re-poll the task before acting on it. */
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_string_equal(
	    f->out.reason, "agent restarted: waiting for the task's state before resuming");
	f->now += 2 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
	assert_true(has_text(f->out.reason, "attempt 1 (2 of 6 in window)"));
}

static void
test_block_level_task_after_agent_restart_gets_a_warning_and_no_resume(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.type = TASK_TYPE_MIGRATE_BLOCK;
	f->in.agent = AGENT_DEAD;
	decide(f);
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_OK, NULL, f->now, 0);
	f->in.agent = AGENT_RUNNING;
	f->now += 15 * SEC;
	decide(f);
	ev = event(&f->out, EV_AGENT_RESTARTED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "warning: a LINUX block-level task cannot resume"));
	assert_non_null(cJSON_GetObjectItem(ev->details, "warning"));

	f->now += MIN;
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_true(has_text(f->out.reason, "recreate the task"));
}

static void
test_windows_task_after_agent_restart_gets_a_warning(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.os = TASK_OS_WINDOWS;
	f->in.agent = AGENT_DEAD;
	decide(f);
	f->in.agent = AGENT_RUNNING;
	f->now += 15 * SEC;
	decide(f);
	ev = event(&f->out, EV_AGENT_RESTARTED);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "warning: a WINDOWS"));
}

static void
test_failed_agent_restart_is_reported_and_backs_off(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.agent = AGENT_DEAD;
	decide(f);
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_FAILED, "exit 1", f->now, 0);
	decide(f);
	ev = event(&f->out, EV_AGENT_DOWN);
	assert_non_null(ev);
	assert_string_equal(ev->message, "agent restart failed (exit 1): next attempt after 30 s");
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	f->now = T0 + 30 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	assert_string_equal(f->out.reason, "agent dead: restarting (2 of 6 in window)");
}

static void
test_an_agent_seen_while_its_restart_command_runs_is_not_yet_restarted(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	f->in.agent = AGENT_DEAD;
	decide(f);
	/* startup.sh started linuxmain and still waits for SMS to accept the AK/SK. */
	f->in.agent = AGENT_RUNNING;
	f->in.agent_restart_in_flight = true;
	f->now += 2 * SEC;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_AGENT_RESTARTED), 0);
	/* SMS refused them: the command exits 1, its agent goes. */
	f->in.agent_restart_in_flight = false;
	f->in.agent = AGENT_DEAD;
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_FAILED, "exit 1", f->now, 0);
	decide(f);
	ev = event(&f->out, EV_AGENT_DOWN);
	assert_non_null(ev);
	assert_true(has_text(ev->message, "agent restart failed (exit 1)"));
	assert_int_equal(count_events(&f->out, EV_AGENT_RESTARTED), 0);
	assert_int_equal(f->st.budget.failures, 1);
}

static void
test_agent_that_never_appears_counts_as_a_failed_restart(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_DEAD;
	decide(f);
	policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_OK, NULL, f->now, 0);
	/* restart_timeout + confirm */
	f->now = T0 + 4 * MIN;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_AGENT_DOWN), 1);
	assert_int_equal(f->st.budget.failures, 1);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
}

static void
test_agent_restart_never_needs_a_person(void **state)
{
	struct fx *f = *state;

	f->cfg.agent_restart = AGENT_RESTART_NEVER;
	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_int_equal(f->out.health, POLICY_HEALTH_FAILED);
	assert_string_equal(f->out.reason, "agent dead and restart = never: a person is needed");
}

/* --- rule 6: target down while running --- */

static void
test_target_down_while_running_is_raised_at_once_and_up_when_back(void **state)
{
	struct fx *f = *state;
	const struct policy_action *ev;

	port_down(f, 8899, T0);
	decide(f);
	ev = event(&f->out, EV_TARGET_DOWN);
	assert_non_null(ev);
	assert_string_equal(ev->message, "target port 8899 down for 0 s while the task is RUNNING");
	assert_int_equal(f->out.health, POLICY_HEALTH_DEGRADED);
	for (int i = 0; i < 10; i++) {
		f->now += 5 * SEC;
		decide(f);
		assert_int_equal(count_events(&f->out, EV_TARGET_DOWN), 0);
	}
	target_up(f, f->now);
	decide(f);
	ev = event(&f->out, EV_TARGET_UP);
	assert_non_null(ev);
	assert_string_equal(ev->message, "target up again after 50 s down");
	f->now += 5 * SEC;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_TARGET_UP), 0);
}

/* --- rule 8: finished --- */

static void
test_finished_raises_task_finished_once_and_polls_idle(void **state)
{
	struct fx *f = *state;
	int n = 0;

	f->in.state = TASK_MIGRATE_SUCCESS;
	for (int i = 0; i < 50; i++, f->now += MIN) {
		decide(f);
		n += count_events(&f->out, EV_TASK_FINISHED);
		assert_int_equal(
		    count(&f->out, ACT_RESUME_TASK) + count(&f->out, ACT_RESTART_AGENT), 0);
	}
	assert_int_equal(n, 1);
	assert_int_equal(f->out.health, POLICY_HEALTH_OK);
	assert_int_equal(f->out.poll_ms, 5 * MIN);
	assert_string_equal(f->out.reason, "task finished (MIGRATE_SUCCESS)");
}

static void
test_finished_task_with_agent_gone_is_left_alone(void **state)
{
	struct fx *f = *state;

	f->in.state = TASK_SYNC_SUCCESS;
	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_int_equal(f->out.health, POLICY_HEALTH_OK);
}

/* --- restarts of smsguard --- */

static void
test_restart_of_smsguard_does_not_repeat_the_resume(void **state)
{
	struct fx *f = *state;
	struct budget_status bs;

	fail_and_resume(f);
	/* kill -9 before the POST's answer arrived. */
	restart_smsguard(f);
	for (int i = 0; i < 100; i++, f->now += SEC) {
		decide(f);
		assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
		assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 0);
	}
	assert_true(has_text(f->out.reason, "waiting for RUNNING after resume"));
	budget_allowed(&f->st.budget, f->now, &bs);
	assert_int_equal(bs.in_window, 1);
	/* And the confirmation still works across the restart. */
	run_task(f);
	decide(f);
	assert_int_equal(count_events(&f->out, EV_TASK_RUNNING), 1);
}

static void
test_restart_of_smsguard_remembers_spent_budget(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 1;
	fail_and_resume(f);
	f->now += 10 * SEC;
	run_task(f);
	decide(f);
	f->now += 10 * SEC;
	fail_then_settle(f, "SMS.2802");
	assert_int_equal(count_events(&f->out, EV_RECOVERY_EXHAUSTED), 1);
	restart_smsguard(f);
	f->now += MIN;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
	assert_int_equal(count_events(&f->out, EV_RECOVERY_EXHAUSTED), 0);
	assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 0);
	assert_true(has_text(f->out.reason, "budget spent until"));
}

static void
test_restart_of_smsguard_during_agent_restart_does_not_restart_again(void **state)
{
	struct fx *f = *state;

	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 1);
	restart_smsguard(f);
	f->now += 10 * SEC;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_int_equal(count_events(&f->out, EV_AGENT_DOWN), 0);
	f->in.agent = AGENT_RUNNING;
	decide(f);
	assert_int_equal(count_events(&f->out, EV_AGENT_RESTARTED), 1);
}

static void
test_restart_of_smsguard_keeps_the_pause(void **state)
{
	struct fx *f = *state;

	policy_pause(&f->st, T0 + HOUR);
	restart_smsguard(f);
	assert_true(f->st.paused);
	assert_int_equal(f->st.paused_until_ms, T0 + HOUR);
	fail_task(f, "SMS.2802");
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 0);
}

static void
test_state_from_garbage_gives_a_fresh_state(void **state)
{
	struct fx *f = *state;
	const char *bad[] = {"[]", "42", "{\"paused\":\"yes\",\"failure\":7,\"budget\":[]}",
	    "{\"failure\":{\"key\":\"" /* too long a key */
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\"},\"confirm_since_ms\":-1,\"restart\":{\"phase\":\"sideways\",\"since_ms\":5}}"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = cJSON_Parse(bad[i]);
		int rc = policy_state_from_json(&f->st, j, f->now);

		cJSON_Delete(j);
		assert_true(rc == 0 || rc == -EINVAL);
		assert_false(f->st.paused);
		assert_false(f->st.failure_active);
		assert_false(f->st.confirm_pending);
		assert_int_equal(f->st.restart_phase, POLICY_RESTART_NONE);
		assert_int_equal(f->st.budget.count, 0);
		assert_int_equal(f->st.budget.max_actions, 6);
	}
	assert_int_equal(policy_state_from_json(&f->st, NULL, f->now), -EINVAL);
	fail_then_settle(f, "SMS.2802");
	assert_int_equal(count(&f->out, ACT_RESUME_TASK), 1);
}

static void
test_state_round_trip_keeps_every_field(void **state)
{
	struct fx *f = *state;
	struct policy_state before;

	f->in.agent = AGENT_DEAD;
	port_down(f, 8900, T0);
	decide(f);
	fail_task(f, "SMS.2802");
	f->now += SEC;
	decide(f);
	before = f->st;
	restart_smsguard(f);
	assert_string_equal(f->st.task_id, before.task_id);
	assert_string_equal(f->st.failure_key, before.failure_key);
	assert_string_equal(f->st.failure_code, "SMS.2802");
	assert_int_equal(f->st.failure_since_ms, before.failure_since_ms);
	assert_int_equal(f->st.failure_reported, before.failure_reported);
	assert_int_equal(f->st.restart_phase, before.restart_phase);
	assert_int_equal(f->st.restart_since_ms, before.restart_since_ms);
	assert_int_equal(f->st.target_down_reported, before.target_down_reported);
	assert_int_equal(f->st.target_down_since_ms, before.target_down_since_ms);
	assert_int_equal(f->st.agent_down_reported, before.agent_down_reported);
	assert_int_equal(f->st.budget.count, before.budget.count);
}

/* --- other tasks, status --- */

static void
test_new_task_id_forgets_the_previous_failure(void **state)
{
	struct fx *f = *state;

	f->cfg.resume = false;
	fail_task(f, "SMS.2802");
	decide(f);
	snprintf(f->in.task_id, sizeof(f->in.task_id), "%s", "new-task");
	f->now += MIN;
	decide(f);
	/* The same failure shape on another task is a new failure: reported again. */
	assert_int_equal(count_events(&f->out, EV_TASK_FAILED), 1);
	assert_string_equal(f->st.task_id, "new-task");
}

static void
test_unknown_task_waits_for_the_cloud(void **state)
{
	struct fx *f = *state;

	f->in.task_known = false;
	f->in.agent = AGENT_DEAD;
	decide(f);
	assert_int_equal(count(&f->out, ACT_RESTART_AGENT), 0);
	assert_string_equal(f->out.reason, "waiting for the task's state from the cloud");
	assert_int_equal(f->out.poll_ms, 30 * SEC);
}

static void
fmt_local(int64_t ms, char *buf, size_t len)
{
	snprintf(buf, len, "t+%lld", (long long)((ms - T0) / 1000));
}

static void
test_reason_uses_the_given_time_formatter(void **state)
{
	struct fx *f = *state;

	f->in.format_time = fmt_local;
	fail_and_resume(f);
	policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_FAILED, NULL, f->now, 0);
	decide(f);
	assert_string_equal(
	    f->out.reason, "backing off after 1 failed attempt: next resume at t+40 (in 30 s)");
}

static void
test_status_json_shows_the_budget(void **state)
{
	struct fx *f = *state;
	cJSON *j;

	fail_and_resume(f);
	j = policy_status_json(&f->st, f->now);
	assert_int_equal(cJSON_GetObjectItem(j, "actions_in_window")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(j, "budget")->valueint, 6);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "next_allowed")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
	                        cJSON_GetObjectItem(j, "last_action"), "action")),
	    "resume");
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "last_action"), "time")->valuedouble,
	    (T0 + 10 * SEC) / 1000);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "paused")));
	cJSON_Delete(j);
}

static void
test_action_done_without_pending_action_is_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(
	    policy_action_done(&f->st, ACT_RESUME_TASK, OBS_DONE_FAILED, NULL, f->now, 0), -ENOENT);
	assert_int_equal(
	    policy_action_done(&f->st, ACT_RESTART_AGENT, OBS_DONE_OK, NULL, f->now, 0), -ENOENT);
	assert_int_equal(
	    policy_action_done(&f->st, ACT_EVENT, OBS_DONE_OK, NULL, f->now, 0), -EINVAL);
	assert_int_equal(f->st.budget.failures, 0);
}

static void
test_stale_snapshot_after_resume_neither_confirms_nor_fails(void **state)
{
	struct fx *f = *state;

	fail_and_resume(f);
	/* The daemon re-runs the policy on the snapshot that led to the resume. */
	f->now += 3 * SEC;
	decide_stale(f);
	assert_int_equal(f->out.nactions, 0);
	assert_true(f->st.confirm_pending);
	assert_int_equal(f->st.budget.failures, 0);
}

/* A small deterministic PRNG, so the stress test is the same on every run. */
static uint32_t
next_rand(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*x >> 33);
}

static void
test_random_observations_never_break_the_rules(void **state)
{
	struct fx *f = *state;
	static const enum task_state states[] = {TASK_RUNNING, TASK_MIGRATE_FAIL, TASK_ABORT,
	    TASK_MIGRATE_SUCCESS, TASK_READY, TASK_SYNC_FAIL, TASK_UNKNOWN};
	static const char *const codes[] = {"SMS.2802", "SMS.3803", "", "SMS.1807"};
	uint64_t seed = 42;
	int resumes = 0, restarts = 0;

	for (int i = 0; i < 20000; i++) {
		uint32_t r = next_rand(&seed);
		bool paused_before;

		f->now += (r % 20) * SEC;
		if (r % 7 == 0)
			f->in.state = states[(r >> 8) % 7];
		if (r % 11 == 0)
			snprintf(
			    f->in.error_code, sizeof(f->in.error_code), "%s", codes[(r >> 12) % 4]);
		if (r % 13 == 0)
			f->in.target = (enum port_state)((r >> 4) % 3);
		if (r % 13 == 1)
			f->in.target_since_ms = f->now;
		if (r % 17 == 0)
			f->in.agent = (enum agent_state)((r >> 5) % 3);
		if (r % 101 == 0)
			policy_pause(&f->st, (r & 1) ? 0 : f->now + 5 * MIN);
		if (r % 103 == 0)
			policy_operator_resume(&f->st, f->now);
		f->in.jitter = (int)((r >> 3) % 2001) - 1000;
		paused_before =
		    f->st.paused && (f->st.paused_until_ms == 0 || f->now < f->st.paused_until_ms);
		decide(f);
		assert_true(
		    count(&f->out, ACT_RESUME_TASK) + count(&f->out, ACT_RESTART_AGENT) <= 1);
		if (count(&f->out, ACT_RESUME_TASK) == 1) {
			resumes++;
			assert_false(paused_before);
			assert_true(task_error_is_network(f->in.error_code));
			assert_true(task_state_is_failed(f->in.state));
			assert_int_equal(f->in.target, PORT_UP);
			assert_int_equal(f->in.agent, AGENT_RUNNING);
		}
		if (count(&f->out, ACT_RESTART_AGENT) == 1) {
			restarts++;
			assert_false(paused_before);
			assert_int_equal(f->in.agent, AGENT_DEAD);
		}
		if (r % 5 == 0)
			policy_action_done(&f->st, ACT_RESUME_TASK,
			    (enum obs_outcome)((r >> 6) % 3), "x", f->now, 0);
		if (r % 5 == 1)
			policy_action_done(&f->st, ACT_RESTART_AGENT,
			    (enum obs_outcome)((r >> 6) % 3), "x", f->now, 0);
		assert_true(f->out.reason[0] != '\0');
		if (r % 997 == 0)
			restart_smsguard(f);
	}
	/* The walk did exercise both actions. */
	assert_true(resumes > 0);
	assert_true(restarts > 0);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_running_task_is_healthy_and_quiet),
	    T(test_network_failure_resumes_once_link_has_settled),
	    T(test_failure_while_target_reads_up_waits_for_fresh_probes),
	    T(test_target_up_since_before_the_failure_is_not_fresh),
	    T(test_non_network_failure_asks_for_no_fresh_probes),
	    T(test_network_failure_during_confirmation_needs_fresh_probes_again),
	    T(test_poll_interval_is_5_s_during_confirmation_and_poll_after),
	    T(test_resume_waits_for_target_up),
	    T(test_resume_waits_while_target_state_unknown),
	    T(test_reason_lists_every_port_that_is_down),
	    T(test_resume_waits_for_settle),
	    T(test_target_flap_restarts_the_settle_time),
	    T(test_resume_waits_while_agent_dead),
	    T(test_agent_dead_and_target_down_restarts_agent_first),
	    T(test_agent_dead_without_a_known_home_needs_a_person_and_spends_no_budget),
	    T(test_resume_waits_while_agent_state_unknown),
	    T(test_resume_off_never_resumes),
	    T(test_cloud_unreachable_holds_the_resume),
	    T(test_a_stopped_agent_holds_the_resume_until_it_runs),
	    T(test_cloud_auth_failure_needs_a_person),
	    T(test_agent_auto_recovery_mid_retry_holds),
	    T(test_agent_auto_recovery_window_passed_resumes),
	    T(test_agent_auto_recovery_succeeding_means_no_action),
	    T(test_agent_retry_window_sums_growing_intervals),
	    T(test_agent_auto_recovery_ignores_codes_the_agent_does_not_retry),
	    T(test_agent_auto_recovery_not_configured_means_no_wait),
	    T(test_resume_asks_for_a_5_s_poll_and_confirmation_ends_it),
	    T(test_accepted_resume_waits_for_running),
	    T(test_one_failure_gets_exactly_one_resume_over_1000_decisions),
	    T(test_confirm_timeout_counts_as_failure),
	    T(test_backoff_doubles_after_failed_confirmations_and_is_capped),
	    T(test_refused_resume_backs_off_and_is_reported),
	    T(test_resume_with_unknown_outcome_is_not_repeated),
	    T(test_task_failing_again_during_confirmation_is_a_failed_attempt),
	    T(test_new_failure_after_running_gets_its_own_resume),
	    T(test_budget_spent_raises_recovery_exhausted_once_and_stops),
	    T(test_budget_frees_after_the_window),
	    T(test_operator_resume_clears_exhaustion),
	    T(test_operator_resume_clears_backoff),
	    T(test_no_resume_while_paused_even_with_network_failure),
	    T(test_paused_agent_dead_is_not_restarted),
	    T(test_paused_still_reports_target_down),
	    T(test_pause_with_duration_expires_and_recovery_follows),
	    T(test_non_network_code_raises_one_task_failed_and_no_action),
	    T(test_task_failed_raised_once_across_many_decisions),
	    T(test_failure_without_code_is_not_retried),
	    T(test_user_stop_after_network_failure_is_never_started),
	    T(test_aborting_task_is_left_alone_even_with_agent_dead),
	    T(test_overspeed_pause_by_sms_is_explained_once_and_left_alone),
	    T(test_agent_dead_is_restarted_through_the_budget),
	    T(test_agent_restart_confirmed_raises_agent_restarted_and_polls_now),
	    T(test_file_level_task_after_agent_restart_is_resumed),
	    T(test_block_level_task_after_agent_restart_gets_a_warning_and_no_resume),
	    T(test_windows_task_after_agent_restart_gets_a_warning),
	    T(test_failed_agent_restart_is_reported_and_backs_off),
	    T(test_an_agent_seen_while_its_restart_command_runs_is_not_yet_restarted),
	    T(test_agent_that_never_appears_counts_as_a_failed_restart),
	    T(test_agent_restart_never_needs_a_person),
	    T(test_target_down_while_running_is_raised_at_once_and_up_when_back),
	    T(test_finished_raises_task_finished_once_and_polls_idle),
	    T(test_finished_task_with_agent_gone_is_left_alone),
	    T(test_restart_of_smsguard_does_not_repeat_the_resume),
	    T(test_restart_of_smsguard_remembers_spent_budget),
	    T(test_restart_of_smsguard_during_agent_restart_does_not_restart_again),
	    T(test_restart_of_smsguard_keeps_the_pause),
	    T(test_state_from_garbage_gives_a_fresh_state),
	    T(test_state_round_trip_keeps_every_field),
	    T(test_new_task_id_forgets_the_previous_failure),
	    T(test_unknown_task_waits_for_the_cloud),
	    T(test_reason_uses_the_given_time_formatter),
	    T(test_status_json_shows_the_budget),
	    T(test_action_done_without_pending_action_is_refused),
	    T(test_stale_snapshot_after_resume_neither_confirms_nor_fails),
	    T(test_random_observations_never_break_the_rules),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
