/*
 * The task poller (DESIGN.md §5.3, §5.4): when the task is polled, and the
 * snapshot that poll brings. It shows the task (GET /v3/tasks/{id}) through
 * the cloud client at the interval the policy sets (taskpoll_set_interval),
 * ±10 % jitter; until the policy has said one, at `poll` while the task is
 * active and `poll_idle` otherwise. A local change asks for a poll now
 * (taskpoll_poll_now): such polls are coalesced and start at least 1 s
 * apart, and one cuts a 5xx or transport backoff short (a local change is
 * better evidence than our guess), never a 401 silence or a 429's wait.
 * Without a [task] id it discovers the task first (discover.h). Each poll's
 * outcome goes to the client's backoff (cloud_backoff_*), and a new
 * snapshot is reported with observer_changed(OBS_TASK) once the poll is
 * accounted for.
 *
 * The client must outlive the poller. The config passed in must outlive the
 * poller or the next taskpoll_reconfigure(). Nothing is reported after
 * taskpoll_close().
 */
#ifndef SMSGUARD_TASKPOLL_H
#define SMSGUARD_TASKPOLL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/cloud.h"
#include "smsguard/config.h"
#include "smsguard/observe.h"
#include "smsguard/sms.h"

/* However often a poll is asked for, polls start at least this far apart. */
#define TASKPOLL_SPACING_MS 1000

struct taskpoll;

/* Returns 0 or a negative errno. */
int taskpoll_new(uv_loop_t *loop, struct cloud *cloud, const struct config *cfg,
    const struct observer *obs, struct taskpoll **out);
/* Starts polling (the first poll at once). */
void taskpoll_start(struct taskpoll *p);
/*
 * A local observation changed: poll now (coalesced, at least 1 s after the
 * last poll began), cutting short a transport or 5xx backoff; never inside a
 * 401 silence or a 429's wait. A poll asked for while one is out follows it.
 */
void taskpoll_poll_now(struct taskpoll *p);
/*
 * Poll every interval_ms (±10 % jitter) from now on: the policy's number
 * (policy_decision.poll_ms). A shorter interval brings the next poll
 * forward (to one interval after the last poll); 0 goes back to `poll`
 * while the task is active and `poll_idle` otherwise. Backoffs, a 401
 * silence and Retry-After still come first.
 */
void taskpoll_set_interval(struct taskpoll *p, uint64_t interval_ms);
/*
 * A new config. When the target (task id, endpoint, project) changed, the
 * snapshot is dropped and so is the poll in flight, whose answer was about
 * the old target; then it polls at once, as it does after new credentials
 * (new_credentials: what cloud_reconfigure() returned).
 */
void taskpoll_reconfigure(struct taskpoll *p, const struct config *cfg, bool new_credentials);
/* Drops the poll in flight; cb runs once the poller's handle is closed. */
void taskpoll_close(struct taskpoll *p, void (*cb)(void *arg), void *arg);

/* The last snapshot of the task, or NULL until one arrived. */
const struct sms_task *taskpoll_task(const struct taskpoll *p);
/* The task id in use: configured, discovered, or NULL. */
const char *taskpoll_task_id(const struct taskpoll *p);
/* Wall-clock ms of the last snapshot (0 = never). */
int64_t taskpoll_polled_at_ms(const struct taskpoll *p);

/*
 * Fills the status object's "task" (id name state type os_type error_code
 * error_message progress subtask migrate_speed_mbps remain_seconds polled_at)
 * and the poll's keys of "cloud" (next_poll fast poll_interval_s) (DESIGN.md
 * §5.8). Either may be NULL. Keys already present are replaced.
 */
void taskpoll_status_json(const struct taskpoll *p, cJSON *task_obj, cJSON *cloud_obj);

/* What survives a restart: {"task_id": discovered id}. A new object. */
cJSON *taskpoll_state_json(const struct taskpoll *p);
/* Takes back a discovered task id (only when none is configured). */
void taskpoll_restore(struct taskpoll *p, const cJSON *state);

#endif
