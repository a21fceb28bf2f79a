/*
 * The engine (DESIGN.md §3): one decision per loop turn, from values.
 *
 * It holds the picture of the world, built only from observations (a
 * target snapshot from the probes, the agent's state, a task snapshot from
 * the poller, the cloud client's state, the outcome of an action), the
 * policy's persisted state, and the last decision. engine_step() applies a
 * turn's observations in order, builds the policy input from the picture,
 * calls policy_decide() and returns a plan: the policy's actions plus what
 * the observations ask for on their own (the probes follow a new task's
 * target, a local change polls the cloud now, a state write).
 *
 * Pure: no libuv, no I/O; time and jitter come in as arguments. The
 * executor (executor.c) drains the queue once per loop turn, calls
 * engine_step(), persists, and carries the plan out; outcomes come back as
 * observations in a later turn.
 */
#ifndef SMSGUARD_ENGINE_H
#define SMSGUARD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/config.h"
#include "smsguard/observe.h"
#include "smsguard/policy.h"

struct engine {
	const struct config *cfg;
	struct policy_state st;

	/* The picture: only what observations said. */
	struct obs_target target;
	struct obs_agent agent;
	bool task_known;
	struct obs_task task;
	enum cloud_state cloud;

	/* Actions the executor started and whose outcome has not come back. */
	bool resume_in_flight;
	bool restart_in_flight;

	/* The last decision, for status. */
	char reason[POLICY_REASON_MAX];
	enum policy_health health;
	uint64_t poll_ms;
	int64_t wake_ms;

	/* Counters for smsguard_actions_total{action,result} and the last action's time. */
	uint64_t actions[ACT_EVENT + 1][2]; /* [kind][ok] */
	int64_t last_action_ms;

	/* Formats a wall-clock time for reasons ("04:12"); NULL = UTC. */
	void (*format_time)(int64_t ms, char *buf, size_t len);
};

struct engine_plan {
	struct policy_decision d; /* the actions, in order; reason, poll_ms, wake_ms */
	bool follow_target;       /* a task snapshot arrived: the probes follow its target */
	bool poll_now;            /* a local observation changed: poll the cloud now */
	bool save;                /* persist before carrying anything out */
};

/* A fresh engine (nothing observed yet) with cfg's limits; cfg must outlive it. */
void engine_init(struct engine *e, const struct config *cfg);
/* After a reload: cfg replaces the old one (which may then be freed). */
void engine_reconfigure(struct engine *e, const struct config *cfg);

/*
 * One turn: applies the n observations in order, decides at now_ms, and
 * fills plan (call engine_plan_clear() on it afterwards, or take each
 * event's details). jitter in [-1000, 1000] as in policy_input.
 */
void engine_step(struct engine *e, const struct observation *obs, int n, int64_t now_ms, int jitter,
    struct engine_plan *plan);
/* Frees the plan's event details that were not taken. */
void engine_plan_clear(struct engine_plan *plan);

/*
 * The executor started the plan's resume or agent restart; its outcome
 * comes back as OBS_RESUME_DONE / OBS_RESTART_DONE. now_ms is recorded as
 * the last action's time.
 */
void engine_started(struct engine *e, enum policy_action_kind kind, int64_t now_ms);

/* Operator commands; the next step decides on them. */
void engine_pause(struct engine *e, int64_t until_ms);
void engine_resume(struct engine *e, int64_t now_ms);

/* The task in the picture, or NULL. */
const struct sms_task *engine_task(const struct engine *e);
bool engine_paused(const struct engine *e, int64_t *until_ms);
/*
 * Whether recovery_exhausted holds: an action was held back because the
 * budget's window is full, and the window has not freed since (nor has an
 * operator resumed). A budget of 0 is a choice, not exhaustion. For metrics.
 */
bool engine_recovery_exhausted(const struct engine *e, int64_t now_ms);

/* state.json "recovery" and back; a bad object starts fresh (-EINVAL). */
cJSON *engine_state_json(const struct engine *e);
int engine_restore(struct engine *e, const cJSON *state, int64_t now_ms);
/* Fills the status "recovery" object: the budget, the last action, the reason. */
void engine_status_json(const struct engine *e, int64_t now_ms, cJSON *recovery);

#endif
