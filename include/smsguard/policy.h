/*
 * The recovery policy (DESIGN.md §5.5): a pure function from observations,
 * persisted history, config and the time to actions, with the reason for
 * what it does or waits for. It performs nothing itself: the executor
 * (recovery.c) carries out the actions and reports each outcome back with
 * policy_action_done(), and the next policy_decide() turns that into events.
 *
 * The executor's loop:
 *   1. fill a struct policy_input from the watchers' latest observations;
 *   2. policy_decide(); persist the state (policy_state_to_json) *before*
 *      carrying out a resume or an agent restart, so a kill -9 mid-action
 *      cannot lead to the action being issued twice;
 *   3. carry out the actions in order; report the outcome of each resume and
 *      restart with policy_action_done(), then decide again;
 *   4. decide again whenever an observation changes, and at out->wake_ms.
 *
 * Times are wall-clock milliseconds since the epoch: the state is persisted
 * and must mean the same after a restart.
 *
 * Rule 2's "link proven alive": a new network failure asks for
 * ACT_PROBE_FRESH (probe_distrust: up ports become unknown, every port is
 * probed at once), and a resume needs the target up since a moment at or
 * after the failure was first seen (failure_since_ms), then `settle` from
 * that moment. An up-since older than the failure is never trusted.
 *
 * How the rules of DESIGN.md §5.5 are read:
 * - Paused (1): events of what is observed are still raised (target_down,
 *   target_up, agent_down, task_failed, task_finished, and task_running
 *   when an earlier resume is confirmed); no action is issued, and so no
 *   task_resumed, agent restart or recovery_exhausted either.
 * - One failure is one MIGRATE_FAIL/SYNC_FAIL episode, identified by task
 *   id, state, error code and the task's start date, and ended by any other
 *   known state in a fresh snapshot. task_failed is raised once for it. A
 *   resume is issued once and then confirmed (RUNNING within `confirm`);
 *   only after it failed (refused, timed out, or the task failed again) may
 *   another be issued for the same failure, after the backoff and through
 *   the budget. Outcomes: task_running (confirmed), task_failed with
 *   details.resume "failed"/"refused" (not confirmed).
 * - ABORT/ABORTING (4) and finished tasks (8) are checked before a dead
 *   agent (5): a person who stopped the task, or a migration that is done,
 *   does not get its agent restarted.
 * - A dead agent (5) goes before a resume: restart, see it running
 *   (agent_restarted, ACT_POLL_NOW), then resume on a snapshot polled after
 *   that. A failed restart is an agent_down event with details.restart
 *   "failed". After a restart, a block-level or Windows task that was under
 *   way is never resumed (reference §3: it must be recreated): health failed.
 * - Budget (7): resumes and restarts share one budget and one backoff.
 */
#ifndef SMSGUARD_POLICY_H
#define SMSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/budget.h"
#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/observe.h"
#include "smsguard/task.h"

#define POLICY_TASK_ID_MAX 64 /* SMS task ids are at most 36 chars */
#define POLICY_CODE_MAX 32
#define POLICY_FAILURE_KEY_MAX 160
#define POLICY_MAX_PORTS CONFIG_MAX_PORTS
#define POLICY_MAX_ACTIONS 12
#define POLICY_REASON_MAX 256
#define POLICY_DETAIL_MAX 128
/* Polling interval while a resume or an agent restart awaits confirmation (capped by `poll`). */
#define POLICY_POLL_FAST_MS 5000

enum policy_health {
	POLICY_HEALTH_OK = 0,   /* running normally, or finished */
	POLICY_HEALTH_DEGRADED, /* acting or waiting */
	POLICY_HEALTH_FAILED,   /* a person is needed */
};

struct policy_port {
	uint16_t port;
	bool down;        /* only down ports matter to the policy: they go into the reason */
	int64_t since_ms; /* when it went down */
};

/* Everything the policy looks at, filled by the daemon; self-contained (no libuv). */
struct policy_input {
	/* The task, from the last poll (or the snapshot in the state file). */
	bool task_known;
	char task_id[POLICY_TASK_ID_MAX];
	enum task_state state;
	char error_code[POLICY_CODE_MAX]; /* "" when none */
	enum task_type type;
	enum task_os os;
	int64_t task_start_ms; /* the task's start_date, 0 unknown: part of a failure's identity */
	/*
	 * Wall-clock time this snapshot was polled (required: 0 counts as older
	 * than everything). A snapshot older than a resume or an agent restart
	 * says nothing about its outcome and is not acted on.
	 */
	int64_t polled_ms;

	/* The target, from the probes. */
	enum port_state target;
	int64_t target_since_ms; /* when it became what it is */
	int nports;
	struct policy_port ports[POLICY_MAX_PORTS];

	/* The agent, from the agent watcher and its g-property.cfg. */
	enum agent_state agent;
	int64_t agent_since_ms;
	/* Running, but stopped (SIGSTOP, a debugger): no heartbeat reaches SMS. */
	bool agent_stopped;
	int agent_retry_max;             /* auto_start_max_retry_times; <= 0 = not configured */
	int64_t agent_retry_interval_ms; /* auto_start_interval_seconds × 1000 */
	int64_t agent_retry_addition_ms; /* auto_start_each_addition_seconds × 1000 */

	/*
	 * No restart can be run: neither the agent's home (for its startup.sh)
	 * nor a restart_command is known. A dead agent then needs a person; the
	 * budget is not spent on attempts that cannot happen.
	 */
	bool agent_restart_impossible;

	/* The executor: an action is under way (the state also knows what it issued). */
	bool resume_in_flight;
	bool agent_restart_in_flight;

	enum cloud_state cloud;

	/*
	 * A random number in [-1000, 1000] for the backoff's jitter, should one
	 * start during this call (util_random(2001) - 1000; tests pass a constant).
	 */
	int jitter;
	/*
	 * Formats a wall-clock time for reasons and messages ("04:12"); NULL
	 * formats as UTC "HH:MM UTC". Must write a NUL-terminated string.
	 */
	void (*format_time)(int64_t ms, char *buf, size_t len);
};

enum policy_action_kind {
	ACT_RESUME_TASK = 0, /* POST /v3/tasks/{id}/action {"operation":"start"} */
	ACT_RESTART_AGENT,   /* run restart_command with restart_answers */
	ACT_POLL_NOW,        /* poll the task at once */
	ACT_PROBE_FRESH,     /* a network failure: forget "up", probe every port now */
	ACT_EVENT,           /* raise an event (DESIGN.md §5.7) */
};

struct policy_action {
	enum policy_action_kind kind;
	enum event_type event;           /* ACT_EVENT */
	char message[EVENT_MESSAGE_MAX]; /* ACT_EVENT; also a log line for the others */
	cJSON *details; /* ACT_EVENT: object or NULL; see policy_action_take_details */
};

struct policy_decision {
	int nactions;
	struct policy_action actions[POLICY_MAX_ACTIONS];
	char reason[POLICY_REASON_MAX]; /* why we act or wait, for status */
	enum policy_health health;
	/*
	 * The task poll interval wanted now, always set: 5 s (capped by `poll`)
	 * while a resume or a restart awaits confirmation, `poll` while active
	 * or while a failure awaits recovery, `poll_idle` otherwise. The cloud
	 * client polls at exactly this (±10 % jitter).
	 */
	uint64_t poll_ms;
	int64_t wake_ms; /* decide again at this time even if nothing changes; 0 = no need */
};

enum policy_restart_phase {
	POLICY_RESTART_NONE = 0,
	POLICY_RESTART_RUNNING,  /* the restart command was issued */
	POLICY_RESTART_AWAITING, /* the command is done; waiting to see the agent running */
};

/* Persisted (state.json "recovery"); the rest of the picture is rebuilt from observations. */
struct policy_state {
	struct budget budget;

	bool paused;
	int64_t paused_until_ms; /* 0 = until `smsguardctl resume` */

	char task_id[POLICY_TASK_ID_MAX]; /* the task the flags below belong to */

	/* The failure being handled (one MIGRATE_FAIL/SYNC_FAIL episode). */
	bool failure_active;
	char failure_key[POLICY_FAILURE_KEY_MAX]; /* id/state/code/start: its identity */
	char failure_code[POLICY_CODE_MAX];
	int64_t failure_since_ms; /* when first seen */
	bool failure_reported;    /* task_failed raised for it */
	int failure_attempts;     /* resumes issued for it */

	/* A resume awaiting RUNNING (issued at confirm_since_ms). */
	bool confirm_pending;
	int64_t confirm_since_ms;

	/* An agent restart issued at restart_since_ms. */
	enum policy_restart_phase restart_phase;
	int64_t restart_since_ms;
	/* The agent was restarted while this block-level or Windows task was under way. */
	bool needs_recreate;
	/* When our last agent restart was confirmed: older task snapshots are out of date. */
	int64_t agent_restarted_ms;

	/* Failed outcomes reported by policy_action_done, turned into events by the next decide. */
	bool report_resume_refused;
	bool report_restart_failed;
	char report_detail[POLICY_DETAIL_MAX];

	/* Events raised once per episode. */
	bool target_down_reported;
	int64_t target_down_since_ms;
	bool agent_down_reported;
	bool exhausted_reported;
	bool finished_reported;
	bool stopped_reported; /* a stop by SMS itself (SMS.9007) was reported */
};

/* A fresh state (not paused, empty budget with cfg's limits; cfg may be NULL). */
void policy_state_init(struct policy_state *st, const struct config *cfg);

/*
 * The decision for now. `out` is overwritten (call policy_decision_clear()
 * on it afterwards, or take each event's details). Updates st.
 */
void policy_decide(struct policy_state *st, const struct policy_input *in, const struct config *cfg,
    int64_t now_ms, struct policy_decision *out);

/*
 * The outcome of a resume or an agent restart that policy_decide asked for.
 * detail (may be NULL) is a short text for the event: "SMS.7714", "exit 1".
 * A resume that was accepted (or may have been) stays under confirmation; a
 * failed one counts as a failed attempt (backoff). A restart's success is
 * confirmed when the agent is seen running. jitter as in policy_input.
 * Returns 0, or -EINVAL for an action kind without an outcome, or -ENOENT
 * when no such action was awaited (nothing changes).
 */
int policy_action_done(struct policy_state *st, enum policy_action_kind kind,
    enum obs_outcome result, const char *detail, int64_t now_ms, int jitter);

/* `smsguardctl pause [DURATION]`: until_ms 0 = until resumed. */
void policy_pause(struct policy_state *st, int64_t until_ms);
/*
 * `smsguardctl resume`: ends a pause, forgives the spent budget and clears
 * the backoff, so automatic actions may start again at once.
 */
void policy_operator_resume(struct policy_state *st, int64_t now_ms);

/* Frees the decision's event details that were not taken. */
void policy_decision_clear(struct policy_decision *d);
/* Takes ownership of an event's details (NULL afterwards), e.g. for observer_event(). */
cJSON *policy_action_take_details(struct policy_action *a);

/*
 * Whether SMS-Agent's own auto-recovery is plausibly still retrying the
 * failure first seen at failure_since_ms. The agent retries network failures
 * itself (reference §9: SMS.0807 1807 2802 3802 2805 2806) while it runs:
 * retry k (1-based) is due interval + (k-1) × addition after the previous
 * one, so all n are done failure_since + n × interval + addition × n(n-1)/2
 * (the window of gprop_autorecovery_window_s); one `poll` more is allowed to
 * see the last retry's result. When true and retry_no is not NULL, it gets
 * the retry in progress (1..n) and *until_ms the end of the window.
 */
bool policy_agent_mid_retry(const struct policy_input *in, const char *code,
    int64_t failure_since_ms, const struct config *cfg, int64_t now_ms, int *retry_no,
    int64_t *until_ms);

/*
 * The "recovery" object of `status --json` (DESIGN.md §5.8), times in Unix
 * seconds: {"actions_in_window":n,"budget":n,"next_allowed":s|null,
 * "last_action":{"action":"resume","time":s,"outcome":"ok"}|null,
 * "failures":n,"backoff_until":s|null,"paused":b,"paused_until":s|null}.
 */
cJSON *policy_status_json(const struct policy_state *st, int64_t now_ms);

const char *policy_action_name(enum policy_action_kind k);
const char *policy_health_name(enum policy_health h);

/* state.json "recovery": a new object; includes the budget. */
cJSON *policy_state_to_json(const struct policy_state *st);
/*
 * Restores st from policy_state_to_json() output, defensively (bad fields
 * take their defaults). The budget's limits must already be set (they come
 * from the config); its history is restored. Returns 0, or -EINVAL when obj
 * is not an object (st is then a fresh state with the same limits).
 */
int policy_state_from_json(struct policy_state *st, const cJSON *obj, int64_t now_ms);

#endif
