/*
 * The executor of the recovery policy (DESIGN.md §3, §5.5): builds the
 * policy's input from the watchers (cloud, probe, agent), asks policy_decide
 * what to do, persists the decision before any action (so a kill -9 never
 * repeats one), carries the actions out and reports their outcomes back.
 */
#ifndef SMSGUARD_RECOVERY_H
#define SMSGUARD_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/observe.h"
#include "smsguard/policy.h"

struct cloud;
struct probe_set;
struct agent;
struct recovery;

struct recovery_deps {
	struct cloud *cloud;
	struct probe_set *probe;
	struct agent *agent;
	/* Writes state.json now; called before every resume or restart. */
	void (*save)(void *arg);
	void *save_arg;
};

int recovery_new(uv_loop_t *loop, const struct config *cfg, const struct observer *obs,
    const struct recovery_deps *deps, struct recovery **out);
/* The "recovery" object of state.json, from an earlier run. */
void recovery_restore(struct recovery *r, const cJSON *state);
cJSON *recovery_state_json(const struct recovery *r);
/* Decide and act now (after any observation changed). */
void recovery_run(struct recovery *r);
void recovery_pause(struct recovery *r, int64_t until_ms);
void recovery_resume(struct recovery *r);
bool recovery_paused(const struct recovery *r, int64_t *until_ms);
enum policy_health recovery_health(const struct recovery *r);
/* Fills the status "recovery" object (policy_status_json plus the reason). */
void recovery_status_json(const struct recovery *r, cJSON *recovery);
/* Counters for smsguard_actions_total{action,result}. */
uint64_t recovery_actions(const struct recovery *r, enum policy_action_kind kind, bool ok);
int64_t recovery_last_action_ms(const struct recovery *r);
void recovery_reconfigure(struct recovery *r, const struct config *cfg);
void recovery_close(struct recovery *r, void (*cb)(void *arg), void *arg);

#endif
