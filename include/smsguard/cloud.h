/*
 * The cloud client (DESIGN.md §5.3): owns the schedule of SMS/SMN API calls.
 * It signs every request, polls the task (at the interval the policy sets
 * with cloud_set_poll_interval, ±10 % jitter), discovers the
 * task when none is configured, and backs off: 429 honours Retry-After, 5xx
 * and transport failures back off exponentially (up to 5 minutes), a 401
 * silences every call for at least 5 minutes. It raises cloud_auth_failed,
 * cloud_unreachable and clock_skew through the observer, and reports a new
 * task snapshot with observer_changed(OBS_TASK), its own state with OBS_CLOUD.
 *
 * Callbacks of the asynchronous calls fire exactly once when the call
 * returned 0, never when it returned an error, and never after cloud_close().
 * The config and credentials passed in must outlive the client or the next
 * cloud_reconfigure().
 */
#ifndef SMSGUARD_CLOUD_H
#define SMSGUARD_CLOUD_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/http.h"
#include "smsguard/observe.h"
#include "smsguard/schedule.h"
#include "smsguard/sms.h"

#define CLOUD_AUTH_SILENCE_MS (5 * 60 * 1000)
#define CLOUD_BACKOFF_MAX_MS (5 * 60 * 1000)
#define CLOUD_SKEW_MAX_MS (5 * 60 * 1000)

/* The APIs, for smsguard_cloud_requests_total{api,result}. */
enum cloud_api {
	CLOUD_API_SHOW_TASK = 0,
	CLOUD_API_LIST_TASKS,
	CLOUD_API_LIST_SOURCES,
	CLOUD_API_TASK_ACTION,
	CLOUD_API_SHOW_SPEED_LIMIT,
	CLOUD_API_UPDATE_SPEED_LIMIT,
	CLOUD_API_SMN_PUBLISH,
	CLOUD_API_COUNT,
};

enum cloud_result {
	CLOUD_RES_OK = 0,
	CLOUD_RES_CLIENT_ERROR, /* 4xx other than 401 and 429 */
	CLOUD_RES_AUTH,         /* 401 */
	CLOUD_RES_THROTTLED,    /* 429 */
	CLOUD_RES_SERVER_ERROR, /* 5xx */
	CLOUD_RES_BAD_RESPONSE, /* 2xx whose body does not parse */
	CLOUD_RES_TIMEOUT,
	CLOUD_RES_CONNECT,
	CLOUD_RES_TLS,
	CLOUD_RES_RESOLVE,
	CLOUD_RES_TOO_LARGE,
	CLOUD_RES_OTHER,
	CLOUD_RES_COUNT,
};

enum cloud_state {
	CLOUD_UNKNOWN = 0, /* nothing answered yet */
	CLOUD_OK,
	CLOUD_UNREACHABLE,
	CLOUD_AUTH_FAILED,
	CLOUD_THROTTLED,
};

/* "show_task", "list_tasks", "list_sources", "task_action", "show_speed_limit", … */
const char *cloud_api_name(enum cloud_api api);
/* "ok", "client_error", "auth", "throttled", "server_error", "bad_response", "timeout", … */
const char *cloud_result_name(enum cloud_result res);
/* "unknown", "ok", "unreachable", "auth_failed", "throttled". */
const char *cloud_state_name(enum cloud_state st);

struct cloud;

/*
 * rc: 0 on success; -EACCES auth refused (401), -EAGAIN throttled (429),
 * -ENOENT 404, -EINVAL other 4xx, -ETIMEDOUT, -EIO 5xx or transport failure,
 * -EBADMSG unparsable answer. err (never NULL) holds the cloud's code and
 * message when it sent one.
 */
typedef void (*cloud_done_cb)(void *arg, int rc, const struct sms_error *err);
typedef void (*cloud_limits_cb)(
    void *arg, int rc, const struct sms_error *err, const struct schedule_period *periods, int n);

/*
 * transport NULL: the real HTTPS transport (owned and closed by the client);
 * otherwise the caller's, which must outlive the client. Returns 0 or a
 * negative errno (*cause malloc'd when not NULL).
 */
int cloud_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *cr,
    const struct observer *obs, struct http_transport *transport, struct cloud **out, char **cause);
/* Starts polling (the first poll at once). */
void cloud_start(struct cloud *c);
/*
 * A local observation changed: poll now (coalesced, at least 1 s after the last
 * poll), cutting short a transport or 5xx backoff; never inside a 401 silence
 * or a 429's wait.
 */
void cloud_poll_now(struct cloud *c);
/*
 * Poll every interval_ms (±10 % jitter) from now on: the policy's number
 * (policy_decision.poll_ms). A shorter interval brings the next poll
 * forward (to one interval after the last poll); 0 goes back to `poll`
 * while the task is active and `poll_idle` otherwise. Backoffs, a 401
 * silence and Retry-After still come first.
 */
void cloud_set_poll_interval(struct cloud *c, uint64_t interval_ms);
/*
 * New config and credentials (after a reload). When the target (task id,
 * endpoint, project) changed, the old snapshot is dropped and so is the poll
 * in flight, whose answer was about the old target; then it polls at once.
 */
void cloud_reconfigure(struct cloud *c, const struct config *cfg, const struct credentials *cr);
/* Callbacks of calls in flight are not called; cb runs once every handle is closed. */
void cloud_close(struct cloud *c, void (*cb)(void *arg), void *arg);

/* The last snapshot of the task, or NULL until one arrived. */
const struct sms_task *cloud_task(const struct cloud *c);
/* The task id in use: configured, discovered, or NULL. */
const char *cloud_task_id(const struct cloud *c);
/* Wall-clock ms of the last snapshot (0 = never). */
int64_t cloud_polled_at_ms(const struct cloud *c);
enum cloud_state cloud_state(const struct cloud *c);
/* Requests answered so far, by api and result (for the metrics). */
uint64_t cloud_requests(const struct cloud *c, enum cloud_api api, enum cloud_result res);

/* POST /v3/tasks/{id}/action {"operation":operation}. -ENOENT without a task, -EACCES/-EAGAIN while silenced. */
int cloud_task_action(struct cloud *c, const char *operation, cloud_done_cb cb, void *arg);
/* POST /v3/tasks/{id}/speed-limit with n (0..5) periods. */
int cloud_set_speed_limits(
    struct cloud *c, const struct schedule_period *periods, int n, cloud_done_cb cb, void *arg);
/* GET /v3/tasks/{id}/speed-limit. */
int cloud_get_speed_limits(struct cloud *c, cloud_limits_cb cb, void *arg);
/* SMN publish to cfg->smn_topic (endpoint cfg->smn_endpoint or https://smn.<region>.myhuaweicloud.com). */
int cloud_smn_publish(
    struct cloud *c, const char *subject, const char *message, cloud_done_cb cb, void *arg);

/*
 * Fills the status object's "task" (id name state type os_type error_code
 * error_message progress subtask migrate_speed_mbps remain_seconds polled_at)
 * and "cloud" (state last_ok next_poll errors last_error) objects (DESIGN.md §5.8).
 * Keys already present are replaced.
 */
void cloud_status_json(const struct cloud *c, cJSON *task_obj, cJSON *cloud_obj);

/* What survives a restart: {"task_id": discovered id}. A new object. */
cJSON *cloud_state_json(const struct cloud *c);
/* Takes back a discovered task id (only when none is configured). */
void cloud_restore(struct cloud *c, const cJSON *state);

#endif
