/*
 * The executor: the engine's hands on the loop (DESIGN.md §3).
 *
 * Watchers and executors report observations into its queue
 * (executor_report, the `report` of a struct observer); once per loop turn,
 * from an idle handle, it drains the queue into engine_step(), persists the
 * state before any resume or restart (so a kill -9 never repeats one), and
 * carries the plan out: the probes follow the task's target, the cloud
 * polls now or at the policy's interval, a resume goes to the cloud, a
 * restart to the agent, fresh probes to the probes, events to the event
 * sink. Outcomes come back through the queue, never by calling the engine
 * from inside the call that started the work; a turn is never entered
 * recursively (asserted).
 */
#ifndef SMSGUARD_EXECUTOR_H
#define SMSGUARD_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "smsguard/engine.h"
#include "smsguard/observe.h"

struct cloud;
struct taskpoll;
struct probe_set;
struct agent;
struct executor;

struct executor_deps {
	struct cloud *cloud;
	struct taskpoll *poll;
	struct probe_set *probe;
	struct agent *agent;
	/* Where the plan's events go (takes ownership of details). */
	void (*event)(void *arg, enum event_type type, cJSON *details, const char *message);
	/* Writes state.json now. */
	void (*save)(void *arg);
	/* After every turn: the picture may have changed (e.g. `wait` clients re-check). */
	void (*turned)(void *arg);
	void *arg;
};

/* cfg must outlive the executor or the next executor_reconfigure(). */
int executor_new(uv_loop_t *loop, const struct config *cfg, const struct executor_deps *deps,
    struct executor **out);
/* Copies o into the queue and arms a turn. Also the `report` of a struct observer. */
void executor_report(void *arg, const struct observation *o);
/* Arms a turn without an observation (an operator command, a reload). */
void executor_poke(struct executor *x);
void executor_reconfigure(struct executor *x, const struct config *cfg);
/* Operator commands: take effect at the next turn. */
void executor_pause(struct executor *x, int64_t until_ms);
void executor_resume(struct executor *x);
/* The engine, read-only: for status, metrics and state.json. */
const struct engine *executor_engine(const struct executor *x);
/* The engine, to restore its state at start-up (before the first turn). */
struct engine *executor_engine_mut(struct executor *x);
/* Drops the queue; cb(arg) runs once every handle is closed and the executor is freed. */
void executor_close(struct executor *x, void (*cb)(void *arg), void *arg);

#endif
