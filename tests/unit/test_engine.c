/*
 * The engine driven by a scripted queue of observations and a fake clock:
 * no loop, no sockets. Each test plays turns (the observations a loop turn
 * drained, then the time) and checks the plan: the actions, in order, and
 * what the observations asked for on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/engine.h"

#define SEC 1000LL
#define T0 1700000000000LL
#define TASK_ID "4f3c6e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"

struct fx {
	struct config cfg;
	struct engine e;
	struct engine_plan plan;
	int64_t now;
	struct observation q[8];
	int n;
};

static char agent_process[] = "linuxmain";

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->cfg.poll_ms = 30 * SEC;
	f->cfg.poll_idle_ms = 300 * SEC;
	f->cfg.agent_process = agent_process;
	f->cfg.agent_restart = AGENT_RESTART_WHEN_DEAD;
	f->cfg.restart_timeout_ms = 120 * SEC;
	f->cfg.resume = true;
	f->cfg.settle_ms = 10 * SEC;
	f->cfg.budget_actions = 6;
	f->cfg.budget_window_ms = 3600 * SEC;
	f->cfg.backoff_min_ms = 30 * SEC;
	f->cfg.backoff_max_ms = 900 * SEC;
	f->cfg.confirm_ms = 120 * SEC;
	f->cfg.fall = 3;
	f->cfg.rise = 2;
	engine_init(&f->e, &f->cfg);
	f->now = T0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	engine_plan_clear(&f->plan);
	free(f);
	return 0;
}

/* --- the script --- */

static struct observation *
push(struct fx *f, enum obs_kind kind)
{
	struct observation *o = &f->q[f->n++];

	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->time_ms = f->now;
	return o;
}

static void
target(struct fx *f, enum port_state st, int64_t since)
{
	struct observation *o = push(f, OBS_TARGET);

	o->u.target.state = st;
	o->u.target.since_ms = since;
	o->u.target.nports = 1;
	o->u.target.ports[0].port = 22;
	o->u.target.ports[0].state = st;
	o->u.target.ports[0].since_ms = since;
}

static void
agent(struct fx *f, enum agent_state st)
{
	struct observation *o = push(f, OBS_AGENT);

	o->u.agent.state = st;
	o->u.agent.since_ms = f->now;
	o->u.agent.restart_possible = true;
}

static void
task(struct fx *f, enum task_state st, const char *code)
{
	struct observation *o = push(f, OBS_TASK);

	snprintf(o->u.task.task.id, sizeof(o->u.task.task.id), "%s", TASK_ID);
	o->u.task.task.state = st;
	snprintf(o->u.task.task.error_code, sizeof(o->u.task.task.error_code), "%s", code);
	o->u.task.task.type = TASK_TYPE_MIGRATE_FILE;
	o->u.task.task.os_type = TASK_OS_LINUX;
	o->u.task.task.start_ms = T0 - 3600 * SEC;
	snprintf(o->u.task.task.migration_ip, sizeof(o->u.task.task.migration_ip), "192.0.2.7");
	o->u.task.polled_ms = f->now;
}

static void
done(struct fx *f, enum obs_kind kind, enum obs_outcome outcome)
{
	push(f, kind)->u.done.outcome = outcome;
}

/* One loop turn: the scripted observations, then a decision at f->now. */
static void
turn(struct fx *f)
{
	engine_plan_clear(&f->plan);
	engine_step(&f->e, f->q, f->n, f->now, 0, &f->plan);
	f->n = 0;
}

/* The plan's actions as a string: "event:task_failed probe_fresh". */
static const char *
actions(struct fx *f)
{
	static char buf[512];
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < f->plan.d.nactions && o < sizeof(buf); i++) {
		const struct policy_action *a = &f->plan.d.actions[i];

		if (a->kind == ACT_EVENT)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%sevent:%s", i ? " " : "",
			    event_type_name(a->event));
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
			    policy_action_name(a->kind));
	}
	return buf;
}

/* A healthy start: target up, agent running, task RUNNING, all in one turn. */
static void
steady(struct fx *f)
{
	target(f, PORT_UP, T0 - 600 * SEC);
	agent(f, AGENT_RUNNING);
	task(f, TASK_RUNNING, "");
	turn(f);
}

/* --- tests --- */

static void
test_first_turn_follows_the_task_target_and_is_quiet(void **state)
{
	struct fx *f = *state;

	steady(f);
	assert_string_equal(actions(f), "");
	assert_true(f->plan.follow_target);
	assert_true(f->plan.save); /* the first snapshot */
	assert_int_equal(f->plan.d.health, POLICY_HEALTH_OK);
	assert_int_equal(f->plan.d.poll_ms, 30 * SEC);
	assert_string_equal(engine_task(&f->e)->migration_ip, "192.0.2.7");
}

static void
test_target_down_raises_target_down_and_polls_now(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += 5 * SEC;
	target(f, PORT_DOWN, f->now);
	turn(f);
	assert_string_equal(actions(f), "event:target_down");
	assert_true(f->plan.poll_now);
	assert_false(f->plan.follow_target);
	assert_false(f->plan.save);
}

static void
test_same_target_state_again_asks_nothing(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += 5 * SEC;
	target(f, PORT_UP, T0 - 600 * SEC);
	turn(f);
	assert_string_equal(actions(f), "");
	assert_false(f->plan.poll_now);
}

/*
 * The whole story of a dropped link, turn by turn: SMS fails the task while
 * the probes still read up; fresh probes; the link back; settle; one resume,
 * persisted first; its outcome; RUNNING confirms it.
 */
static void
test_a_dropped_link_from_failure_to_confirmed_resume(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += 2 * SEC;
	task(f, TASK_MIGRATE_FAIL, "SMS.2802");
	turn(f);
	assert_string_equal(actions(f), "probe_fresh event:task_failed");
	assert_true(f->plan.save);
	assert_non_null(strstr(f->e.reason, "waiting for fresh probes"));

	/* The fresh probes: down, then up again. */
	f->now += 4 * SEC;
	target(f, PORT_DOWN, f->now);
	turn(f);
	assert_string_equal(actions(f), "");
	assert_true(f->plan.poll_now);
	f->now += 20 * SEC;
	target(f, PORT_UP, f->now);
	turn(f);
	assert_string_equal(actions(f), "");
	assert_non_null(strstr(f->e.reason, "settling 0 s of 10 s"));
	assert_int_equal(f->plan.d.wake_ms, f->now + 10 * SEC);

	/* The wake-up turn: settled, so one resume, persisted before it is carried out. */
	f->now += 10 * SEC;
	turn(f);
	assert_string_equal(actions(f), "resume_task event:task_resumed");
	assert_true(f->plan.save);
	assert_int_equal(f->plan.d.poll_ms, 5 * SEC);
	engine_started(&f->e, ACT_RESUME_TASK, f->now);

	/* Turns while the request is out issue nothing more. */
	f->now += SEC;
	turn(f);
	assert_string_equal(actions(f), "");

	f->now += SEC;
	done(f, OBS_RESUME_DONE, OBS_DONE_OK);
	turn(f);
	assert_string_equal(actions(f), "");
	assert_true(f->plan.poll_now);
	assert_int_equal(f->e.actions[ACT_RESUME_TASK][1], 1);

	f->now += 5 * SEC;
	task(f, TASK_RUNNING, "");
	turn(f);
	assert_string_equal(actions(f), "event:task_running");
	assert_int_equal(f->plan.d.poll_ms, 30 * SEC);
	assert_int_equal(f->plan.d.health, POLICY_HEALTH_OK);
}

static void
test_observations_of_one_turn_apply_in_order(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += SEC;
	/* Down then up within one turn: the picture is the last word. */
	target(f, PORT_DOWN, f->now);
	target(f, PORT_UP, f->now);
	turn(f);
	assert_int_equal(f->e.target.state, PORT_UP);
	assert_string_equal(actions(f), "");
}

static void
test_dead_agent_is_restarted_and_its_outcome_comes_back_as_a_value(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_string_equal(actions(f), "event:agent_down restart_agent");
	assert_true(f->plan.poll_now);
	assert_true(f->plan.save);
	engine_started(&f->e, ACT_RESTART_AGENT, f->now);

	f->now += 3 * SEC;
	done(f, OBS_RESTART_DONE, OBS_DONE_FAILED);
	snprintf(f->q[f->n - 1].u.done.detail, OBS_DETAIL_MAX, "exit 1");
	turn(f);
	assert_string_equal(actions(f), "event:agent_down");
	assert_non_null(strstr(f->plan.d.actions[0].message, "exit 1"));
	assert_int_equal(f->e.actions[ACT_RESTART_AGENT][0], 1);
}

static void
test_a_lost_task_is_unknown_and_the_probes_follow(void **state)
{
	struct fx *f = *state;

	steady(f);
	f->now += SEC;
	push(f, OBS_TASK_LOST);
	turn(f);
	assert_null(engine_task(&f->e));
	assert_true(f->plan.follow_target);
	assert_non_null(strstr(f->e.reason, "waiting for the task's state"));
}

static void
test_cloud_auth_failure_in_the_picture_needs_a_person(void **state)
{
	struct fx *f = *state;

	steady(f);
	push(f, OBS_CLOUD)->u.cloud = CLOUD_AUTH_FAILED;
	turn(f);
	assert_int_equal(f->plan.d.health, POLICY_HEALTH_FAILED);
}

static void
test_pause_takes_effect_at_the_next_turn(void **state)
{
	struct fx *f = *state;

	steady(f);
	engine_pause(&f->e, 0);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_string_equal(actions(f), "event:agent_down");
	assert_true(engine_paused(&f->e, NULL));
	engine_resume(&f->e, f->now);
	turn(f);
	assert_string_equal(actions(f), "restart_agent");
}

static void
test_state_survives_a_restart_of_smsguard(void **state)
{
	struct fx *f = *state;
	struct engine again;
	cJSON *j;

	steady(f);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	j = engine_state_json(&f->e);
	engine_init(&again, &f->cfg);
	assert_int_equal(engine_restore(&again, j, f->now), 0);
	cJSON_Delete(j);
	/* The same world seen afresh: the restart issued before the crash is awaited, not repeated. */
	f->now += SEC;
	target(f, PORT_UP, T0 - 600 * SEC);
	agent(f, AGENT_DEAD);
	task(f, TASK_RUNNING, "");
	engine_plan_clear(&f->plan);
	engine_step(&again, f->q, f->n, f->now, 0, &f->plan);
	f->n = 0;
	assert_string_equal(actions(f), "");
	assert_non_null(strstr(again.reason, "restart in progress"));
}

/* The budget spent: exhausted from the held-back action until the window frees. */
static void
test_recovery_exhausted_holds_until_the_window_frees(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 1;
	engine_reconfigure(&f->e, &f->cfg);
	steady(f);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_string_equal(actions(f), "event:agent_down restart_agent");
	engine_started(&f->e, ACT_RESTART_AGENT, f->now);
	assert_false(engine_recovery_exhausted(&f->e, f->now));

	f->now += 3 * SEC;
	done(f, OBS_RESTART_DONE, OBS_DONE_OK);
	agent(f, AGENT_RUNNING);
	turn(f);
	f->now += 60 * SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_non_null(strstr(actions(f), "event:recovery_exhausted"));
	assert_true(engine_recovery_exhausted(&f->e, f->now));
	assert_int_equal(f->plan.d.health, POLICY_HEALTH_FAILED);

	/* The agent's first restart leaves the window an hour after it was issued. */
	assert_true(engine_recovery_exhausted(&f->e, T0 + 3600 * SEC));
	assert_false(engine_recovery_exhausted(&f->e, T0 + SEC + 3600 * SEC));
}

/* `smsguardctl resume` forgives the spent budget: no longer exhausted. */
static void
test_an_operator_resume_ends_exhaustion(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 1;
	engine_reconfigure(&f->e, &f->cfg);
	steady(f);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	engine_started(&f->e, ACT_RESTART_AGENT, f->now);
	f->now += 3 * SEC;
	done(f, OBS_RESTART_DONE, OBS_DONE_OK);
	agent(f, AGENT_RUNNING);
	turn(f);
	f->now += 60 * SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_true(engine_recovery_exhausted(&f->e, f->now));
	engine_resume(&f->e, f->now);
	assert_false(engine_recovery_exhausted(&f->e, f->now));
}

/* A budget of 0 is the operator's choice: never reported as exhausted. */
static void
test_a_budget_of_zero_is_not_exhausted(void **state)
{
	struct fx *f = *state;

	f->cfg.budget_actions = 0;
	engine_reconfigure(&f->e, &f->cfg);
	steady(f);
	f->now += SEC;
	agent(f, AGENT_DEAD);
	turn(f);
	assert_null(strstr(actions(f), "restart_agent"));
	assert_false(engine_recovery_exhausted(&f->e, f->now));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_first_turn_follows_the_task_target_and_is_quiet),
	    T(test_target_down_raises_target_down_and_polls_now),
	    T(test_same_target_state_again_asks_nothing),
	    T(test_a_dropped_link_from_failure_to_confirmed_resume),
	    T(test_observations_of_one_turn_apply_in_order),
	    T(test_dead_agent_is_restarted_and_its_outcome_comes_back_as_a_value),
	    T(test_a_lost_task_is_unknown_and_the_probes_follow),
	    T(test_cloud_auth_failure_in_the_picture_needs_a_person),
	    T(test_pause_takes_effect_at_the_next_turn),
	    T(test_state_survives_a_restart_of_smsguard),
	    T(test_recovery_exhausted_holds_until_the_window_frees),
	    T(test_an_operator_resume_ends_exhaustion),
	    T(test_a_budget_of_zero_is_not_exhausted),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
