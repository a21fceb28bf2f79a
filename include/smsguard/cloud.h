/*
 * The cloud client (DESIGN.md §5.3): every SMS/SMN call goes through it. It
 * signs each request (sign.h), sends it through the HTTP transport, sorts
 * the answer into an enum cloud_result, counts it for the metrics, and keeps
 * the bookkeeping all calls share: a 401 silences every call for at least 5
 * minutes (five bad signatures lock the key), a 429's Retry-After holds
 * every call until then, and each answer's Date is compared with the local
 * clock. It raises cloud_auth_failed, cloud_unreachable and clock_skew
 * through the observer, and reports its own state with OBS_CLOUD.
 *
 * When to call is decided by its users: the task poller (taskpoll.h) and
 * discovery (discover.h) send through cloud_send() and report each poll's
 * outcome to the backoff (cloud_backoff_*), whose failures in a row grow
 * the exponential backoff of 5xx and transport failures and make the cloud
 * unreachable.
 *
 * Callbacks of the asynchronous calls fire exactly once when the call
 * returned 0, never when it returned an error, and never after cloud_close()
 * or cloud_cancel(). The config and credentials passed in must outlive the
 * client or the next cloud_reconfigure().
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
/* The rc above for an answer sorted as res with HTTP status (for cloud_send() callers). */
int cloud_result_errno(enum cloud_result res, long status);

/*
 * transport NULL: the real HTTPS transport (owned and closed by the client);
 * otherwise the caller's, which must outlive the client. Returns 0 or a
 * negative errno (*cause malloc'd when not NULL).
 */
int cloud_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *cr,
    const struct observer *obs, struct http_transport *transport, struct cloud **out, char **cause);
/*
 * New config and credentials (after a reload). New credentials lift a 401
 * silence, which was about the old key. Returns true when the credentials
 * changed: a poll may succeed now (taskpoll_reconfigure).
 */
bool cloud_reconfigure(struct cloud *c, const struct config *cfg, const struct credentials *cr);
/*
 * Calls in flight are dropped without their callbacks; cb runs once what the
 * client owns is closed (the transport it made), at once when it owns
 * nothing that closes asynchronously.
 */
void cloud_close(struct cloud *c, void (*cb)(void *arg), void *arg);

enum cloud_state cloud_state(const struct cloud *c);
/* Requests answered so far, by api and result (for the metrics). */
uint64_t cloud_requests(const struct cloud *c, enum cloud_api api, enum cloud_result res);
/*
 * Fills the status object's "cloud" keys the client knows (state last_ok
 * errors last_error failures, and silent_until / throttled_until while they
 * run; DESIGN.md §5.8). Keys already present are replaced; the task poller
 * adds its own (taskpoll_status_json).
 */
void cloud_status_json(const struct cloud *c, cJSON *cloud_obj);

/* ----------------------------------------------------------- any call */

/*
 * parse reads a 2xx answer: it returns 0 (*cause NULL, or the parser's note
 * of degraded fields, sms.h, which the client logs once), or a negative
 * errno with *cause saying why, and the call is then a bad response.
 */
typedef int (*cloud_parse_cb)(void *arg, const struct http_response *resp, char **cause);
/* Runs once the answer is counted and the cloud's state and silences are updated. */
typedef void (*cloud_answer_cb)(void *arg, enum cloud_result res, const struct http_response *resp,
    const struct sms_error *err);

struct cloud_call {
	enum cloud_api api;
	const char *method;   /* "GET", "POST" */
	const char *path;     /* "/v3/tasks/…" */
	const char *query;    /* without '?'; NULL = none */
	const char *body;     /* NULL = none */
	cloud_parse_cb parse; /* NULL = nothing to read */
	cloud_answer_cb answer;
	void *arg;
	/* A failure is logged at debug level only: the caller tells it (notify.c, once a streak). */
	bool quiet;
};

/*
 * Sends call to [cloud] endpoint. Returns 0 and the call's id (never 0) in
 * *id, or -EACCES inside a 401 silence, -EAGAIN inside a Retry-After,
 * -ESHUTDOWN while closing, or why it could not go out.
 */
int cloud_send(struct cloud *c, const struct cloud_call *call, uint64_t *id);
/* Drops a call in flight: its callbacks are not called. Unknown ids are ignored. */
void cloud_cancel(struct cloud *c, uint64_t id);
/* What status shows as the last error, for an outcome no answer tells (no task found). */
void cloud_note_error(struct cloud *c, const char *msg);

/* ------------------------------------------------------------ backoff */

/* 0 when a call may go out now, else as cloud_send() would refuse it. */
int cloud_call_allowed(const struct cloud *c);
/* The uv_now() time until which no call may go out: a 401 silence or a Retry-After (0: none). */
uint64_t cloud_quiet_until(const struct cloud *c);
/*
 * The cloud asked us to wait and no local change cuts that short: a 401
 * silence, a Retry-After, or the backoff after a poll answered 429.
 */
bool cloud_must_wait(const struct cloud *c);
/*
 * A poll's outcome (the task poller's and discovery's calls; actions have
 * callers with budgets of their own): a success ends the failures in a row,
 * a failure adds one, and a failure of the path (5xx, transport, bad answer)
 * makes the cloud unreachable, raising cloud_unreachable after 3 in a row
 * over a minute.
 */
void cloud_backoff_ok(struct cloud *c);
void cloud_backoff_failed(struct cloud *c, enum cloud_result res);
/* Forgets the failures in a row (a new target: they were about the old one). */
void cloud_backoff_reset(struct cloud *c);
/* Polls failed in a row. */
int cloud_failures(const struct cloud *c);
/*
 * How long to wait after the last failed poll: after a 429, its Retry-After
 * (resp, may be NULL) plus 0..10 %; else exponential, from `poll` held to
 * 0.5..5 s, doubling with each failure up to CLOUD_BACKOFF_MAX_MS, ±10 %.
 */
uint64_t cloud_backoff_ms(const struct cloud *c, const struct http_response *resp);

/* -------------------------------------------------------- task calls */

/*
 * POST /v3/tasks/{task_id}/action {"operation":operation}. -ENOENT without a
 * task id, -EACCES/-EAGAIN while silenced. The caller polls the task after.
 */
int cloud_action(
    struct cloud *c, const char *task_id, const char *operation, cloud_done_cb cb, void *arg);

/* ------------------------------------------------------------- SMN */

/*
 * POST /v2/{project_id}/notifications/topics/{topic}/publish with subject
 * (cut to 512 bytes) and message, signed, to endpoint (NULL: the SMN
 * endpoint of the topic URN's region, sms_smn_default_endpoint()) with the
 * topic's project as X-Project-Id, as the SDKs send it. A 401 or a 429
 * silences every call as an SMS call's does; otherwise the answer leaves the
 * client's state, errors and last error alone (they are the SMS API's), and
 * a failure is left to the caller to log. Returns 0 and the call's id in *id (for
 * cloud_cancel(); id may be NULL), -EINVAL for a bad topic, or as
 * cloud_send() refuses.
 */
int cloud_smn_publish(struct cloud *c, const char *topic, const char *endpoint, const char *subject,
    const char *message, cloud_done_cb cb, void *arg, uint64_t *id);

#endif
