/*
 * The cloud client: every SMS/SMN call, its signature, its schedule and its
 * backoff. One poll chain runs at a time (discovery: list sources, list their
 * tasks, then show the task); actions run beside it. All timing uses uv_now();
 * the wall clock is read only for X-Sdk-Date, the Date comparison and status.
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "smsguard/cloud.h"
#include "smsguard/log.h"
#include "smsguard/sign.h"
#include "smsguard/task.h"
#include "smsguard/util.h"

#define DISCOVER_MAX_QUERIES 9 /* up to 8 addresses and the host name */
#define DISCOVER_MAX_SOURCES 8
#define BACKOFF_MIN_MS 500
#define BACKOFF_BASE_MAX_MS 5000
#define UNREACHABLE_FAILURES 3
#define UNREACHABLE_AFTER_MS (60 * 1000)
#define RETRY_AFTER_MAX_S 3600
/* However often a poll is asked for, polls start at least this far apart. */
#define POLL_SPACING_MS 1000
#define LAST_ERROR_MAX 320
/* SMS pauses a task that exceeds its limit by more than this many percent; 100 is the most lenient. */
#define OVER_SPEED_THRESHOLD 100.0

struct cloud_req;
/* Parses a response (and may turn a success into a bad response). */
typedef void (*req_handler)(struct cloud_req *r, const struct http_response *resp,
    enum cloud_result *res, const struct sms_error *err);
/* What the poll chain does next, once the response is accounted for. */
typedef void (*req_after)(struct cloud *c, enum cloud_result res, const struct http_response *resp);

struct cloud_req {
	struct cloud *c;
	struct cloud_req *prev, *next;
	enum cloud_api api;
	uint64_t http_id;
	req_handler handler;
	req_after after;
	cloud_done_cb done;
	cloud_limits_cb limits_done;
	void *arg;
};

struct cloud {
	uv_loop_t *loop;
	const struct config *cfg;
	const struct credentials *cr;
	struct observer obs;
	struct http_transport *http;
	bool own_http;

	uv_timer_t timer; /* the next poll */
	struct cloud_req *reqs;

	/* The poll chain. */
	bool started, poll_inflight, poll_again;
	uint64_t interval_ms;                /* the policy's poll interval; 0 until it said one */
	uint64_t next_poll_at;               /* uv ms; 0 = none scheduled */
	uint64_t last_poll_at;               /* uv ms when the last poll began */
	char notes[CLOUD_API_COUNT][256];    /* the last degraded-field note logged, per API */
	bool snapshot_new;                   /* tell the observer once the poll is accounted for */
	int failures;                        /* consecutive failed polls */
	bool failed_throttled;               /* the last failed poll was a 429 */
	uint64_t auth_until, throttle_until; /* uv ms; calls wait until then */

	/* Discovery. */
	char *discovered_id;
	char *queries[DISCOVER_MAX_QUERIES];
	bool query_is_name[DISCOVER_MAX_QUERIES];
	int nqueries, query_at;
	char hostname[256];
	char sources[DISCOVER_MAX_SOURCES][SMS_ID_MAX + 1];
	int nsources, source_at;
	struct sms_task best;
	bool have_best;
	bool told_no_task;

	/* What we know. */
	struct sms_task task;
	bool have_task;
	int64_t polled_at_ms, last_ok_ms;
	enum cloud_state state;
	uint64_t errors;
	char last_error[LAST_ERROR_MAX];
	bool auth_raised, skew_raised, unreachable_raised;
	uint64_t unreachable_since; /* uv ms of the first failure in a row; 0 = none */
	uint64_t counts[CLOUD_API_COUNT][CLOUD_RES_COUNT];

	/* Closing. */
	bool closing;
	int pending_closes;
	void (*close_cb)(void *);
	void *close_arg;
};

static const char *const api_names[CLOUD_API_COUNT] = {
    [CLOUD_API_SHOW_TASK] = "show_task",
    [CLOUD_API_LIST_TASKS] = "list_tasks",
    [CLOUD_API_LIST_SOURCES] = "list_sources",
    [CLOUD_API_TASK_ACTION] = "task_action",
    [CLOUD_API_SHOW_SPEED_LIMIT] = "show_speed_limit",
    [CLOUD_API_UPDATE_SPEED_LIMIT] = "update_speed_limit",
    [CLOUD_API_SMN_PUBLISH] = "smn_publish",
};

static const char *const result_names[CLOUD_RES_COUNT] = {
    [CLOUD_RES_OK] = "ok",
    [CLOUD_RES_CLIENT_ERROR] = "client_error",
    [CLOUD_RES_AUTH] = "auth",
    [CLOUD_RES_THROTTLED] = "throttled",
    [CLOUD_RES_SERVER_ERROR] = "server_error",
    [CLOUD_RES_BAD_RESPONSE] = "bad_response",
    [CLOUD_RES_TIMEOUT] = "timeout",
    [CLOUD_RES_CONNECT] = "connect",
    [CLOUD_RES_TLS] = "tls",
    [CLOUD_RES_RESOLVE] = "resolve",
    [CLOUD_RES_TOO_LARGE] = "too_large",
    [CLOUD_RES_OTHER] = "other",
};

static const char *const state_names[] = {
    [CLOUD_UNKNOWN] = "unknown",
    [CLOUD_OK] = "ok",
    [CLOUD_UNREACHABLE] = "unreachable",
    [CLOUD_AUTH_FAILED] = "auth_failed",
    [CLOUD_THROTTLED] = "throttled",
};

const char *
cloud_api_name(enum cloud_api api)
{
	return (unsigned)api < CLOUD_API_COUNT ? api_names[api] : "unknown";
}

const char *
cloud_result_name(enum cloud_result res)
{
	return (unsigned)res < CLOUD_RES_COUNT ? result_names[res] : "other";
}

const char *
cloud_state_name(enum cloud_state st)
{
	return (unsigned)st < nitems(state_names) ? state_names[st] : "unknown";
}

static void poll_start(struct cloud *c);

/* ------------------------------------------------------------- helpers */

static uint64_t
jitter(uint64_t ms, unsigned percent)
{
	uint64_t span = ms * percent / 100;

	if (span == 0 || span > UINT32_MAX / 2)
		return ms;
	return ms - span + util_random((uint32_t)(2 * span + 1));
}

static const char *
task_id_in_use(const struct cloud *c)
{
	if (c->cfg->task_id != NULL && c->cfg->task_id[0] != '\0')
		return c->cfg->task_id;
	return c->discovered_id;
}

static void
set_state(struct cloud *c, enum cloud_state st)
{
	if (c->state == st)
		return;
	log_info("cloud %s -> %s", cloud_state_name(c->state), cloud_state_name(st));
	c->state = st;
	observer_changed(&c->obs, OBS_CLOUD);
}

static void set_last_error(struct cloud *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_last_error(struct cloud *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
	va_end(ap);
}

/* "https://host:443/…" → "host"; "http://[::1]:8080" → "[::1]:8080". New string or NULL. */
static char *
url_authority(const char *url)
{
	const char *p = strstr(url, "://"), *end;
	bool https;
	size_t len;

	if (p == NULL)
		return NULL;
	https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
	p += 3;
	end = p + strcspn(p, "/?#");
	len = (size_t)(end - p);
	if (len == 0)
		return NULL;
	/* The SDKs send the host alone on the default port, and sign what they send. */
	if (https && len > 4 && strncmp(end - 4, ":443", 4) == 0)
		len -= 4;
	else if (!https && len > 3 && strncmp(end - 3, ":80", 3) == 0)
		len -= 3;
	return xasprintf("%.*s", (int)len, p);
}

/* The base URL without a trailing '/'. */
static char *
url_base(const char *url)
{
	size_t len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return xasprintf("%.*s", (int)len, url);
}

static enum cloud_result
classify(const struct http_response *resp)
{
	switch (resp->result) {
	case HTTP_OK:
		break;
	case HTTP_TIMEOUT:
		return CLOUD_RES_TIMEOUT;
	case HTTP_CONNECT:
		return CLOUD_RES_CONNECT;
	case HTTP_TLS:
		return CLOUD_RES_TLS;
	case HTTP_RESOLVE:
		return CLOUD_RES_RESOLVE;
	case HTTP_TOO_LARGE:
		return CLOUD_RES_TOO_LARGE;
	default:
		return CLOUD_RES_OTHER;
	}
	if (resp->status >= 200 && resp->status < 300)
		return CLOUD_RES_OK;
	if (resp->status == 401)
		return CLOUD_RES_AUTH;
	if (resp->status == 429)
		return CLOUD_RES_THROTTLED;
	if (resp->status >= 500)
		return CLOUD_RES_SERVER_ERROR;
	return CLOUD_RES_CLIENT_ERROR;
}

static int
result_errno(enum cloud_result res, long status)
{
	switch (res) {
	case CLOUD_RES_OK:
		return 0;
	case CLOUD_RES_AUTH:
		return -EACCES;
	case CLOUD_RES_THROTTLED:
		return -EAGAIN;
	case CLOUD_RES_CLIENT_ERROR:
		return status == 404 ? -ENOENT : -EINVAL;
	case CLOUD_RES_TIMEOUT:
		return -ETIMEDOUT;
	case CLOUD_RES_BAD_RESPONSE:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

static bool
is_unreachable(enum cloud_result res)
{
	switch (res) {
	case CLOUD_RES_SERVER_ERROR:
	case CLOUD_RES_TIMEOUT:
	case CLOUD_RES_CONNECT:
	case CLOUD_RES_TLS:
	case CLOUD_RES_RESOLVE:
	case CLOUD_RES_OTHER:
	case CLOUD_RES_BAD_RESPONSE:
	case CLOUD_RES_TOO_LARGE:
		return true;
	default:
		return false;
	}
}

/* ---------------------------------------------------------- accounting */

static void
check_clock(struct cloud *c, const struct http_response *resp)
{
	int64_t skew;

	if (resp->date_s < 0)
		return;
	skew = resp->date_s * 1000 - util_wall_ms();
	if (skew < 0)
		skew = -skew;
	if (skew > CLOUD_SKEW_MAX_MS) {
		if (!c->skew_raised) {
			cJSON *d = cJSON_CreateObject();
			char msg[EVENT_MESSAGE_MAX];

			c->skew_raised = true;
			cJSON_AddNumberToObject(d, "skew_seconds", (double)(skew / 1000));
			snprintf(msg, sizeof(msg),
			    "the local clock is %lld s away from the cloud's; the gateway refuses "
			    "requests past 15 minutes",
			    (long long)(skew / 1000));
			observer_event(&c->obs, EV_CLOCK_SKEW, d, msg);
		}
	} else if (c->skew_raised) {
		c->skew_raised = false;
		log_info("the local clock agrees with the cloud's again");
	}
}

static void
note_auth_failure(struct cloud *c, const struct sms_error *err)
{
	uint64_t now = uv_now(c->loop);

	/* Five bad signatures in a row lock the key for 5 minutes: stay silent longer than that. */
	c->auth_until = now + CLOUD_AUTH_SILENCE_MS + util_random(30 * 1000);
	set_state(c, CLOUD_AUTH_FAILED);
	if (!c->auth_raised) {
		cJSON *d = cJSON_CreateObject();
		char msg[EVENT_MESSAGE_MAX];

		c->auth_raised = true;
		cJSON_AddStringToObject(d, "code", err->code[0] ? err->code : "");
		if (err->request_id[0] != '\0')
			cJSON_AddStringToObject(d, "request_id", err->request_id);
		snprintf(msg, sizeof(msg),
		    "the cloud refused our credentials (%s); no call for 5 minutes",
		    err->code[0] ? err->code : "HTTP 401");
		observer_event(&c->obs, EV_CLOUD_AUTH_FAILED, d, msg);
	}
}

static void
note_throttled(struct cloud *c, const struct http_response *resp)
{
	if (resp->retry_after_s >= 0) {
		int64_t s = resp->retry_after_s;

		if (s > RETRY_AFTER_MAX_S)
			s = RETRY_AFTER_MAX_S;
		c->throttle_until = uv_now(c->loop) + (uint64_t)s * 1000;
	}
	set_state(c, CLOUD_THROTTLED);
}

static void
note_unreachable(struct cloud *c)
{
	uint64_t now = uv_now(c->loop);

	if (c->unreachable_since == 0)
		c->unreachable_since = now;
	set_state(c, CLOUD_UNREACHABLE);
	if (!c->unreachable_raised && c->failures >= UNREACHABLE_FAILURES &&
	    now - c->unreachable_since >= UNREACHABLE_AFTER_MS) {
		cJSON *d = cJSON_CreateObject();
		char msg[EVENT_MESSAGE_MAX];

		c->unreachable_raised = true;
		cJSON_AddStringToObject(d, "last_error", c->last_error);
		snprintf(msg, sizeof(msg), "the cloud has not answered for %llu s: %s",
		    (unsigned long long)((now - c->unreachable_since) / 1000), c->last_error);
		observer_event(&c->obs, EV_CLOUD_UNREACHABLE, d, msg);
	}
}

static void
note_ok(struct cloud *c)
{
	c->last_ok_ms = util_wall_ms();
	c->auth_raised = false;
	c->unreachable_since = 0;
	if (c->unreachable_raised) {
		c->unreachable_raised = false;
		log_info("the cloud answers again");
	}
	set_state(c, CLOUD_OK);
}

static void
describe_failure(struct cloud *c, enum cloud_api api, enum cloud_result res,
    const struct http_response *resp, const struct sms_error *err)
{
	char esc[LAST_ERROR_MAX];

	if (resp->result != HTTP_OK)
		set_last_error(c, "%s: %s: %s", cloud_api_name(api), http_result_name(resp->result),
		    resp->error);
	else if (err->code[0] != '\0')
		set_last_error(c, "%s: HTTP %ld %s: %s", cloud_api_name(api), resp->status,
		    err->code, err->msg);
	else if (res == CLOUD_RES_BAD_RESPONSE)
		; /* the handler said why */
	else
		set_last_error(c, "%s: HTTP %ld", cloud_api_name(api), resp->status);
	log_warnx("%s", log_escape(c->last_error, -1, esc, sizeof(esc)));
}

/* ------------------------------------------------------------ requests */

static void
req_unlink(struct cloud_req *r)
{
	struct cloud *c = r->c;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
on_http_done(void *arg, const struct http_response *resp)
{
	struct cloud_req *r = arg;
	struct cloud *c = r->c;
	struct sms_error err;
	enum cloud_result res = classify(resp);

	req_unlink(r);
	memset(&err, 0, sizeof(err));
	err.status = (int)resp->status;
	if (resp->result == HTTP_OK && resp->status >= 400)
		sms_error_parse(resp->body, resp->body_len, &err);
	check_clock(c, resp);
	log_debug("%s: %s HTTP %ld in %llu ms", cloud_api_name(r->api),
	    http_result_name(resp->result), resp->status, (unsigned long long)resp->elapsed_ms);

	/* Silences first, so that whatever is scheduled next respects them. */
	if (res == CLOUD_RES_AUTH)
		note_auth_failure(c, &err);
	else if (res == CLOUD_RES_THROTTLED)
		note_throttled(c, resp);

	/* The handler parses a success and may turn it into a bad response. */
	r->handler(r, resp, &res, &err);

	c->counts[r->api][res]++;
	if (res != CLOUD_RES_OK) {
		c->errors++;
		describe_failure(c, r->api, res, resp, &err);
	} else {
		note_ok(c);
	}
	if (r->after != NULL)
		r->after(c, res, resp);
	if (r->done != NULL)
		r->done(r->arg, result_errno(res, resp->status), &err);
	free(r);
}

/*
 * Signs and sends one request. base: "https://host[:port]" (no trailing '/');
 * project_id: the X-Project-Id to send and sign (NULL = none).
 */
static int
send_req(struct cloud *c, struct cloud_req *r, const char *method, const char *base,
    const char *project_id, const char *path, const char *query, const char *body)
{
	struct sign_header sh[5];
	struct sign_request sreq;
	struct http_request hreq;
	char date[SIGN_DATE_LEN];
	char *host = url_authority(base), *url = NULL, *auth = NULL;
	char *h_host = NULL, *h_date = NULL, *h_project = NULL, *h_token = NULL, *h_auth = NULL;
	int n = 0, rc;

	if (host == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = sign_format_date((time_t)(util_wall_ms() / 1000), date)) < 0)
		goto fail;
	sh[n++] = (struct sign_header){"Host", host};
	sh[n++] = (struct sign_header){"Content-Type", "application/json"};
	sh[n++] = (struct sign_header){"X-Sdk-Date", date};
	if (project_id != NULL && project_id[0] != '\0')
		sh[n++] = (struct sign_header){"X-Project-Id", project_id};
	if (c->cr->security_token != NULL && c->cr->security_token[0] != '\0')
		sh[n++] = (struct sign_header){"X-Security-Token", c->cr->security_token};
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = method;
	sreq.path = path;
	sreq.query = query;
	sreq.body = body;
	sreq.body_len = body != NULL ? strlen(body) : 0;
	sreq.headers = sh;
	sreq.nheaders = n;
	if ((rc = sign_authorization(&sreq, c->cr->ak, c->cr->sk, &auth, NULL)) < 0)
		goto fail;

	url = xasprintf("%s%s%s%s", base, path, query != NULL && query[0] ? "?" : "",
	    query != NULL ? query : "");
	memset(&hreq, 0, sizeof(hreq));
	hreq.method = method;
	hreq.url = url;
	hreq.headers[hreq.nheaders++] = h_host = xasprintf("Host: %s", host);
	hreq.headers[hreq.nheaders++] = "Content-Type: application/json";
	hreq.headers[hreq.nheaders++] = h_date = xasprintf("X-Sdk-Date: %s", date);
	if (project_id != NULL && project_id[0] != '\0')
		hreq.headers[hreq.nheaders++] = h_project =
		    xasprintf("X-Project-Id: %s", project_id);
	if (c->cr->security_token != NULL && c->cr->security_token[0] != '\0')
		hreq.headers[hreq.nheaders++] = h_token =
		    xasprintf("X-Security-Token: %s", c->cr->security_token);
	hreq.headers[hreq.nheaders++] = h_auth = xasprintf("Authorization: %s", auth);
	hreq.body = body;
	hreq.body_len = sreq.body_len;
	hreq.timeout_ms = c->cfg->timeout_ms;
	hreq.ca_file = c->cfg->ca_file;
	hreq.proxy = c->cfg->proxy;
	r->c = c;
	if ((rc = http_submit(c->http, &hreq, on_http_done, r, &r->http_id)) < 0)
		goto fail;
	r->next = c->reqs;
	if (c->reqs != NULL)
		c->reqs->prev = r;
	c->reqs = r;
	log_debug("%s %s%s%s", method, path, query != NULL && query[0] ? "?" : "",
	    query != NULL ? query : "");
fail:
	/* The Authorization header and the token are secrets: wipe our copies. */
	if (auth != NULL)
		util_wipe(auth, strlen(auth));
	if (h_auth != NULL)
		util_wipe(h_auth, strlen(h_auth));
	if (h_token != NULL)
		util_wipe(h_token, strlen(h_token));
	free(auth);
	free(h_auth);
	free(h_token);
	free(h_host);
	free(h_date);
	free(h_project);
	free(url);
	free(host);
	return rc;
}

/* 0, or why no call may go out now. */
static int
call_allowed(const struct cloud *c)
{
	uint64_t now = uv_now(c->loop);

	if (c->closing)
		return -ESHUTDOWN;
	if (now < c->auth_until)
		return -EACCES;
	if (now < c->throttle_until)
		return -EAGAIN;
	return 0;
}

static int
sms_call(struct cloud *c, enum cloud_api api, req_handler handler, req_after after,
    const char *method, const char *path, const char *query, const char *body, cloud_done_cb done,
    cloud_limits_cb limits_done, void *arg)
{
	struct cloud_req *r;
	char *base;
	int rc;

	if ((rc = call_allowed(c)) < 0)
		return rc;
	r = xcalloc(1, sizeof(*r));
	r->api = api;
	r->handler = handler;
	r->after = after;
	r->done = done;
	r->limits_done = limits_done;
	r->arg = arg;
	base = url_base(c->cfg->endpoint);
	rc = send_req(c, r, method, base, c->cfg->project_id, path, query, body);
	free(base);
	if (rc < 0) {
		free(r);
		set_last_error(c, "%s: cannot send: %s", cloud_api_name(api), strerror(-rc));
	}
	return rc;
}

/* ---------------------------------------------------------- poll chain */

/* The poll interval now: the policy's, else by the task's state until it has spoken. */
static uint64_t
poll_interval(const struct cloud *c)
{
	if (c->interval_ms > 0)
		return c->interval_ms;
	if (!c->have_task)
		return c->cfg->poll_ms; /* discovering, or never answered: keep trying at `poll` */
	return task_state_is_active(c->task.state) ? c->cfg->poll_ms : c->cfg->poll_idle_ms;
}

static void
on_timer(uv_timer_t *t)
{
	struct cloud *c = container_of(t, struct cloud, timer);

	c->next_poll_at = 0;
	poll_start(c);
}

static void
schedule_poll(struct cloud *c, uint64_t delay)
{
	uint64_t now = uv_now(c->loop);

	if (c->closing)
		return;
	/* Never earlier than a 401 silence or a Retry-After allows. */
	if (c->auth_until > now + delay)
		delay = c->auth_until - now;
	if (c->throttle_until > now + delay)
		delay = c->throttle_until - now;
	c->next_poll_at = now + delay;
	uv_timer_start(&c->timer, on_timer, delay, 0);
}

/* The delay before an immediate poll may start. */
static uint64_t
spacing_left(const struct cloud *c)
{
	uint64_t now = uv_now(c->loop);

	if (c->last_poll_at == 0 || now >= c->last_poll_at + POLL_SPACING_MS)
		return 0;
	return c->last_poll_at + POLL_SPACING_MS - now;
}

static uint64_t
backoff_ms(const struct cloud *c)
{
	uint64_t base = c->cfg->poll_ms, d;
	int shift = c->failures > 0 ? c->failures - 1 : 0;

	if (base > BACKOFF_BASE_MAX_MS)
		base = BACKOFF_BASE_MAX_MS;
	if (base < BACKOFF_MIN_MS)
		base = BACKOFF_MIN_MS;
	if (shift > 20)
		shift = 20;
	d = base << shift;
	if (d > CLOUD_BACKOFF_MAX_MS)
		d = CLOUD_BACKOFF_MAX_MS;
	return jitter(d, 10);
}

static void
poll_finished(struct cloud *c, enum cloud_result res, const struct http_response *resp)
{
	uint64_t delay;

	c->poll_inflight = false;
	if (c->closing)
		return;
	if (res == CLOUD_RES_OK) {
		c->failures = 0;
		delay = jitter(poll_interval(c), 10);
		if (c->poll_again) {
			c->poll_again = false;
			delay = spacing_left(c);
		}
	} else {
		c->failures++;
		c->failed_throttled = res == CLOUD_RES_THROTTLED;
		if (res == CLOUD_RES_THROTTLED && resp != NULL && resp->retry_after_s >= 0) {
			/* Exactly what the gateway asked, plus 0..10 % so a fleet spreads out. */
			int64_t s = resp->retry_after_s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S
			                                                    : resp->retry_after_s;

			delay = (uint64_t)s * 1000 + util_random(1 + (uint32_t)s * 100);
		} else if (c->poll_again && res != CLOUD_RES_AUTH && res != CLOUD_RES_THROTTLED) {
			/*
			 * A local change came while this poll was out: the failure says
			 * nothing about the path since then (it may be what came back).
			 */
			delay = spacing_left(c);
		} else {
			delay = backoff_ms(c);
		}
		c->poll_again = false;
		if (is_unreachable(res))
			note_unreachable(c);
	}
	schedule_poll(c, delay);
	if (c->snapshot_new) {
		/* After scheduling, so that a poll asked for now is coalesced, not chained. */
		c->snapshot_new = false;
		observer_changed(&c->obs, OBS_TASK);
	}
}

/* The task to follow among a source's tasks: the newest unfinished, else the newest. */
static bool
better_task(const struct sms_task *t, const struct sms_task *best, bool have_best)
{
	bool t_done = task_state_is_finished(t->state), b_done;

	if (!have_best)
		return true;
	b_done = task_state_is_finished(best->state);
	if (t_done != b_done)
		return !t_done;
	return t->create_ms > best->create_ms;
}

/*
 * A parser's note on malformed fields (sms.h): logged once, when it first
 * appears or changes, not on every poll while the field stays malformed.
 * The note names fields and reasons only, never response text.
 */
static void
note_degraded(struct cloud *c, enum cloud_api api, const char *note)
{
	char *last = c->notes[api];

	if (note == NULL) {
		last[0] = '\0';
		return;
	}
	if (strncmp(note, last, sizeof(c->notes[api]) - 1) == 0)
		return;
	log_warnx(
	    "%s: malformed fields read as unknown, the rest used: %s", cloud_api_name(api), note);
	util_strlcpy(last, note, sizeof(c->notes[api]));
}

static void show_task(struct cloud *c);
static void discover_next_query(struct cloud *c);
static void discover_next_source(struct cloud *c);

static void
on_show_task(struct cloud_req *r, const struct http_response *resp, enum cloud_result *res,
    const struct sms_error *err)
{
	struct cloud *c = r->c;
	struct sms_task t;
	char *cause = NULL;

	if (*res == CLOUD_RES_OK) {
		if (sms_task_parse(resp->body, resp->body_len, &t, &cause) < 0) {
			*res = CLOUD_RES_BAD_RESPONSE;
			set_last_error(c, "show_task: bad response: %s", cause ? cause : "?");
		} else if (task_id_in_use(c) == NULL || strcasecmp(t.id, task_id_in_use(c)) != 0) {
			/* Never file one task's state under another's id. */
			*res = CLOUD_RES_BAD_RESPONSE;
			set_last_error(c, "show_task: bad response: task %.*s instead of %.*s",
			    SMS_ID_MAX, t.id, SMS_ID_MAX,
			    task_id_in_use(c) != NULL ? task_id_in_use(c) : "none");
		} else {
			bool changed = !c->have_task || t.state != c->task.state ||
			    strcmp(t.error_code, c->task.error_code) != 0;

			if (changed)
				log_info("task %s: %s%s%s", t.id,
				    t.state == TASK_UNKNOWN ? t.state_raw
				                            : task_state_name(t.state),
				    t.error_code[0] ? " " : "", t.error_code);
			note_degraded(c, CLOUD_API_SHOW_TASK, cause);
			c->task = t;
			c->have_task = true;
			c->polled_at_ms = util_wall_ms();
			c->snapshot_new = true;
		}
		free(cause);
	} else if (*res == CLOUD_RES_CLIENT_ERROR && resp->status == 404 &&
	    c->discovered_id != NULL && c->cfg->task_id == NULL) {
		/* The discovered task is gone: find this host's task again. */
		log_warnx("task %s no longer exists: discovering again", c->discovered_id);
		free(c->discovered_id);
		c->discovered_id = NULL;
		c->have_task = false;
		observer_changed(&c->obs, OBS_TASK);
	}
}

static void
show_task(struct cloud *c)
{
	char *path = sms_task_path(task_id_in_use(c));
	int rc;

	c->poll_inflight = true;
	c->last_poll_at = uv_now(c->loop);
	rc = sms_call(c, CLOUD_API_SHOW_TASK, on_show_task, poll_finished, "GET", path, NULL, NULL,
	    NULL, NULL, NULL);
	free(path);
	if (rc < 0) {
		c->poll_inflight = false;
		c->failures++;
		c->failed_throttled = false;
		schedule_poll(c, backoff_ms(c));
	}
}

static void
discover_reset(struct cloud *c)
{
	for (int i = 0; i < c->nqueries; i++)
		free(c->queries[i]);
	c->nqueries = c->query_at = 0;
	c->nsources = c->source_at = 0;
	c->have_best = false;
}

static void
discover_done(struct cloud *c, enum cloud_result res, const struct http_response *resp)
{
	if (res == CLOUD_RES_OK && c->have_best) {
		c->discovered_id = xstrdup(c->best.id);
		log_info("discovered task %s (%s) of this host", c->best.id,
		    task_state_name(c->best.state));
		c->told_no_task = false;
		discover_reset(c);
		show_task(c);
		return;
	}
	if (res == CLOUD_RES_OK && !c->told_no_task) {
		log_warnx("no SMS task found for this host (by address or by the name %s); "
		          "looking again later",
		    c->hostname);
		set_last_error(c, "no SMS task found for this host");
		c->told_no_task = true;
	}
	discover_reset(c);
	poll_finished(c, res, resp);
}

static void
on_list_tasks(struct cloud_req *r, const struct http_response *resp, enum cloud_result *res,
    const struct sms_error *err)
{
	struct cloud *c = r->c;
	struct sms_task *tasks = NULL;
	char *cause = NULL;
	int n = 0;

	if (*res == CLOUD_RES_OK &&
	    sms_task_list_parse(resp->body, resp->body_len, &tasks, &n, &cause) < 0) {
		*res = CLOUD_RES_BAD_RESPONSE;
		set_last_error(c, "list_tasks: bad response: %s", cause ? cause : "?");
	} else if (*res == CLOUD_RES_OK) {
		note_degraded(c, CLOUD_API_LIST_TASKS, cause);
	}
	free(cause);
	for (int i = 0; i < n; i++) {
		if (better_task(&tasks[i], &c->best, c->have_best)) {
			c->best = tasks[i];
			c->have_best = true;
		}
	}
	free(tasks);
}

static void
after_list_tasks(struct cloud *c, enum cloud_result res, const struct http_response *resp)
{
	if (res != CLOUD_RES_OK)
		discover_done(c, res, resp);
	else
		discover_next_source(c);
}

static void
discover_next_source(struct cloud *c)
{
	char *query;
	int rc;

	if (c->source_at >= c->nsources) {
		discover_done(c, CLOUD_RES_OK, NULL);
		return;
	}
	query = sms_tasks_by_source_query(c->sources[c->source_at++]);
	rc = sms_call(c, CLOUD_API_LIST_TASKS, on_list_tasks, after_list_tasks, "GET", "/v3/tasks",
	    query, NULL, NULL, NULL, NULL);
	free(query);
	if (rc < 0)
		discover_done(c, CLOUD_RES_OTHER, NULL);
}

static bool
source_matches(const struct cloud *c, const struct sms_source *s, bool by_name, const char *value)
{
	if (!by_name)
		return strcmp(s->ip, value) == 0;
	/* ListServers' name filter is a substring match: keep exact names only. */
	return strcasecmp(s->name, c->hostname) == 0;
}

static void
on_list_sources(struct cloud_req *r, const struct http_response *resp, enum cloud_result *res,
    const struct sms_error *err)
{
	struct cloud *c = r->c;
	struct sms_source *srcs = NULL;
	char *cause = NULL;
	int n = 0, q = c->query_at - 1;
	const char *value;

	if (*res == CLOUD_RES_OK &&
	    sms_source_list_parse(resp->body, resp->body_len, &srcs, &n, &cause) < 0) {
		*res = CLOUD_RES_BAD_RESPONSE;
		set_last_error(c, "list_sources: bad response: %s", cause ? cause : "?");
	} else if (*res == CLOUD_RES_OK) {
		note_degraded(c, CLOUD_API_LIST_SOURCES, cause);
	}
	free(cause);
	if (*res != CLOUD_RES_OK) {
		free(srcs);
		return;
	}
	value = strchr(c->queries[q], '=') + 1;
	for (int i = 0; i < n && c->nsources < DISCOVER_MAX_SOURCES; i++) {
		char *dec = sign_uri_decode(value, strcspn(value, "&"), 1, NULL);

		if (source_matches(c, &srcs[i], c->query_is_name[q], dec)) {
			bool dup = false;

			for (int j = 0; j < c->nsources; j++)
				dup = dup || strcmp(c->sources[j], srcs[i].id) == 0;
			if (!dup)
				util_strlcpy(c->sources[c->nsources++], srcs[i].id, SMS_ID_MAX + 1);
		}
		free(dec);
	}
	free(srcs);
}

static void
after_list_sources(struct cloud *c, enum cloud_result res, const struct http_response *resp)
{
	if (res != CLOUD_RES_OK)
		discover_done(c, res, resp);
	else if (c->nsources > 0)
		discover_next_source(c); /* the first query that finds this host ends the search */
	else
		discover_next_query(c);
}

static void
discover_next_query(struct cloud *c)
{
	int rc;

	if (c->query_at >= c->nqueries) {
		discover_done(c, CLOUD_RES_OK, NULL);
		return;
	}
	rc = sms_call(c, CLOUD_API_LIST_SOURCES, on_list_sources, after_list_sources, "GET",
	    "/v3/sources", c->queries[c->query_at++], NULL, NULL, NULL, NULL);
	if (rc < 0)
		discover_done(c, CLOUD_RES_OTHER, NULL);
}

static void
discover_start(struct cloud *c)
{
	uv_interface_address_t *ifs = NULL;
	int nifs = 0;
	size_t hlen = sizeof(c->hostname);

	discover_reset(c);
	c->poll_inflight = true;
	c->last_poll_at = uv_now(c->loop);
	if (uv_interface_addresses(&ifs, &nifs) == 0) {
		for (int i = 0; i < nifs && c->nqueries < DISCOVER_MAX_QUERIES - 1; i++) {
			char ip[64] = "";
			bool dup = false;

			if (ifs[i].is_internal)
				continue;
			if (ifs[i].address.address4.sin_family == AF_INET) {
				uv_ip4_name(&ifs[i].address.address4, ip, sizeof(ip));
			} else if (ifs[i].address.address6.sin6_family == AF_INET6) {
				const uint8_t *b = ifs[i].address.address6.sin6_addr.s6_addr;

				if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
					continue; /* link-local: never what SMS records */
				uv_ip6_name(&ifs[i].address.address6, ip, sizeof(ip));
			}
			if (ip[0] == '\0')
				continue;
			for (int j = 0; j < c->nqueries; j++)
				dup = dup || strstr(c->queries[j], ip) != NULL;
			if (dup)
				continue;
			c->query_is_name[c->nqueries] = false;
			c->queries[c->nqueries++] = sms_sources_by_ip_query(ip);
		}
		uv_free_interface_addresses(ifs, nifs);
	}
	if (uv_os_gethostname(c->hostname, &hlen) == 0 && c->hostname[0] != '\0') {
		c->query_is_name[c->nqueries] = true;
		c->queries[c->nqueries++] = sms_sources_by_name_query(c->hostname);
	}
	discover_next_query(c);
}

static void
poll_start(struct cloud *c)
{
	if (c->closing || c->poll_inflight)
		return;
	if (call_allowed(c) < 0) {
		schedule_poll(c, 0);
		return;
	}
	if (task_id_in_use(c) != NULL)
		show_task(c);
	else
		discover_start(c);
}

/* ------------------------------------------------------------------ API */

int
cloud_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *cr,
    const struct observer *obs, struct http_transport *transport, struct cloud **out, char **cause)
{
	struct cloud *c;
	char *host;
	int rc;

	*out = NULL;
	if (cfg->endpoint == NULL || (host = url_authority(cfg->endpoint)) == NULL) {
		if (cause != NULL)
			*cause = xstrdup("[cloud] endpoint: not a URL");
		return -EINVAL;
	}
	free(host);
	if (cr == NULL || cr->ak == NULL || cr->sk == NULL) {
		if (cause != NULL)
			*cause = xstrdup("no credentials");
		return -EINVAL;
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->cfg = cfg;
	c->cr = cr;
	if (obs != NULL)
		c->obs = *obs;
	if (transport != NULL) {
		c->http = transport;
	} else {
		if ((rc = http_new(loop, &c->http)) < 0) {
			if (cause != NULL)
				*cause =
				    xasprintf("cannot start the HTTP client: %s", uv_strerror(rc));
			free(c);
			return rc;
		}
		c->own_http = true;
	}
	if ((rc = uv_timer_init(loop, &c->timer)) < 0) {
		if (cause != NULL)
			*cause = xasprintf("timer: %s", uv_strerror(rc));
		if (c->own_http)
			http_close(c->http, NULL, NULL);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
cloud_start(struct cloud *c)
{
	if (c->started || c->closing)
		return;
	c->started = true;
	schedule_poll(c, 0);
}

void
cloud_poll_now(struct cloud *c)
{
	uint64_t now;

	if (!c->started || c->closing)
		return;
	if (c->poll_inflight) {
		c->poll_again = true;
		return;
	}
	now = uv_now(c->loop);
	/* The cloud's own word holds: a 401 silence, a Retry-After, a 429's backoff. */
	if (now < c->auth_until || now < c->throttle_until ||
	    (c->failures > 0 && c->failed_throttled))
		return;
	/*
	 * A transport or 5xx backoff is only our guess at when the path works
	 * again, and a local change (the target is back) is better evidence:
	 * poll now. The failure count stays, so a poll that fails again backs
	 * off further and the unreachable event still comes on time.
	 */
	if (c->next_poll_at != 0 && c->next_poll_at <= now + spacing_left(c))
		return; /* already due as soon as allowed */
	schedule_poll(c, spacing_left(c));
}

void
cloud_set_poll_interval(struct cloud *c, uint64_t interval_ms)
{
	uint64_t now, due;

	if (c->interval_ms == interval_ms)
		return;
	c->interval_ms = interval_ms;
	if (interval_ms == 0 || !c->started || c->closing || c->poll_inflight || c->failures > 0)
		return;
	/*
	 * Shorter: the next poll comes one new interval after the last one, or
	 * now if that is past. Longer: the poll already scheduled stands, and
	 * the new interval applies from it on.
	 */
	now = uv_now(c->loop);
	due = c->last_poll_at + jitter(interval_ms, 10);
	if (c->next_poll_at > due && c->next_poll_at > now)
		schedule_poll(c, due > now ? due - now : spacing_left(c));
}

static bool
str_changed(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static bool
req_in_poll_chain(const struct cloud_req *r)
{
	return r->after == poll_finished || r->after == after_list_tasks ||
	    r->after == after_list_sources;
}

/*
 * The target changed: whatever the poll chain has out was asked about the old
 * task (or the old endpoint's tasks), and its answer must not become the new
 * task's snapshot. Actions stay: their callers get their answer.
 */
static void
poll_chain_abandon(struct cloud *c)
{
	struct cloud_req *r, *next;

	for (r = c->reqs; r != NULL; r = next) {
		next = r->next;
		if (!req_in_poll_chain(r))
			continue;
		req_unlink(r);
		http_cancel(c->http, r->http_id);
		free(r);
	}
	discover_reset(c);
	c->poll_inflight = false;
	c->poll_again = false;
	c->snapshot_new = false;
}

void
cloud_reconfigure(struct cloud *c, const struct config *cfg, const struct credentials *cr)
{
	bool target = str_changed(c->cfg->task_id, cfg->task_id) ||
	    str_changed(c->cfg->endpoint, cfg->endpoint) ||
	    str_changed(c->cfg->project_id, cfg->project_id);
	bool new_key = str_changed(c->cr->ak, cr->ak) || str_changed(c->cr->sk, cr->sk);

	c->cfg = cfg;
	c->cr = cr;
	if (new_key && c->auth_until > 0) {
		/* The lock-out was for the old key. */
		log_info("new credentials: the 401 silence is lifted");
		c->auth_until = 0;
		c->auth_raised = false;
		c->failures = 0;
	}
	if (target) {
		poll_chain_abandon(c);
		c->have_task = false;
		memset(&c->task, 0, sizeof(c->task));
		c->polled_at_ms = 0;
		free(c->discovered_id);
		c->discovered_id = NULL;
		c->failures = 0;
		observer_changed(&c->obs, OBS_TASK);
	}
	if (target || new_key)
		cloud_poll_now(c);
}

static void
maybe_freed(struct cloud *c)
{
	void (*cb)(void *);
	void *arg;

	if (--c->pending_closes > 0)
		return;
	cb = c->close_cb;
	arg = c->close_arg;
	discover_reset(c);
	free(c->discovered_id);
	free(c);
	if (cb != NULL)
		cb(arg);
}

static void
on_timer_closed(uv_handle_t *h)
{
	maybe_freed(container_of((uv_timer_t *)h, struct cloud, timer));
}

static void
on_http_closed(void *arg)
{
	maybe_freed(arg);
}

void
cloud_close(struct cloud *c, void (*cb)(void *), void *arg)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_cb = cb;
	c->close_arg = arg;
	while (c->reqs != NULL) {
		struct cloud_req *r = c->reqs;

		req_unlink(r);
		http_cancel(c->http, r->http_id);
		free(r);
	}
	c->pending_closes = 1;
	if (c->own_http) {
		c->pending_closes++;
		http_close(c->http, on_http_closed, c);
	}
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

const struct sms_task *
cloud_task(const struct cloud *c)
{
	return c->have_task ? &c->task : NULL;
}

const char *
cloud_task_id(const struct cloud *c)
{
	return task_id_in_use(c);
}

int64_t
cloud_polled_at_ms(const struct cloud *c)
{
	return c->polled_at_ms;
}

enum cloud_state
cloud_state(const struct cloud *c)
{
	return c->state;
}

uint64_t
cloud_requests(const struct cloud *c, enum cloud_api api, enum cloud_result res)
{
	if ((unsigned)api >= CLOUD_API_COUNT || (unsigned)res >= CLOUD_RES_COUNT)
		return 0;
	return c->counts[api][res];
}

static void
on_plain_done(struct cloud_req *r, const struct http_response *resp, enum cloud_result *res,
    const struct sms_error *err)
{
}

/* A task that was just started or stopped: look at it again soon. */
static void
after_action(struct cloud *c, enum cloud_result res, const struct http_response *resp)
{
	if (res == CLOUD_RES_OK)
		cloud_poll_now(c);
}

int
cloud_task_action(struct cloud *c, const char *operation, cloud_done_cb cb, void *arg)
{
	const char *id = task_id_in_use(c);
	char *path, *body;
	int rc;

	if (id == NULL)
		return -ENOENT;
	if (operation == NULL || cb == NULL)
		return -EINVAL;
	path = sms_task_action_path(id);
	body = sms_action_body(operation);
	rc = sms_call(c, CLOUD_API_TASK_ACTION, on_plain_done, after_action, "POST", path, NULL,
	    body, cb, NULL, arg);
	if (rc == 0)
		log_info("task %s: POST action %s", id, operation);
	free(path);
	free(body);
	return rc;
}

int
cloud_set_speed_limits(
    struct cloud *c, const struct schedule_period *periods, int n, cloud_done_cb cb, void *arg)
{
	const char *id = task_id_in_use(c);
	char *path, *body;
	int rc;

	if (id == NULL)
		return -ENOENT;
	if (cb == NULL || (body = sms_speed_limit_body(periods, n, OVER_SPEED_THRESHOLD)) == NULL)
		return -EINVAL;
	path = sms_speed_limit_path(id);
	rc = sms_call(c, CLOUD_API_UPDATE_SPEED_LIMIT, on_plain_done, NULL, "POST", path, NULL,
	    body, cb, NULL, arg);
	free(path);
	free(body);
	return rc;
}

static void
on_speed_limits(struct cloud_req *r, const struct http_response *resp, enum cloud_result *res,
    const struct sms_error *err)
{
	struct schedule_period p[SCHEDULE_MAX_PERIODS];
	char *cause = NULL;
	int n = 0;

	if (*res == CLOUD_RES_OK &&
	    (n = sms_speed_limits_parse(resp->body, resp->body_len, p, &cause)) < 0) {
		*res = CLOUD_RES_BAD_RESPONSE;
		set_last_error(r->c, "show_speed_limit: bad response: %s", cause ? cause : "?");
		n = 0;
	}
	free(cause);
	r->limits_done(r->arg, result_errno(*res, resp->status), err, p, n);
}

int
cloud_get_speed_limits(struct cloud *c, cloud_limits_cb cb, void *arg)
{
	const char *id = task_id_in_use(c);
	char *path;
	int rc;

	if (id == NULL)
		return -ENOENT;
	if (cb == NULL)
		return -EINVAL;
	path = sms_speed_limit_path(id);
	rc = sms_call(c, CLOUD_API_SHOW_SPEED_LIMIT, on_speed_limits, NULL, "GET", path, NULL, NULL,
	    NULL, cb, arg);
	free(path);
	return rc;
}

int
cloud_smn_publish(
    struct cloud *c, const char *subject, const char *message, cloud_done_cb cb, void *arg)
{
	struct cloud_req *r;
	char *region = NULL, *project = NULL, *path = NULL, *body = NULL, *base = NULL;
	int rc;

	if (cb == NULL || c->cfg->smn_topic == NULL)
		return -EINVAL;
	if ((rc = call_allowed(c)) < 0)
		return rc;
	if (sms_smn_urn_parse(c->cfg->smn_topic, &region, &project, NULL) < 0 ||
	    (path = sms_smn_publish_path(c->cfg->smn_topic)) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	if (c->cfg->smn_endpoint != NULL && c->cfg->smn_endpoint[0] != '\0')
		base = url_base(c->cfg->smn_endpoint);
	else
		base = xasprintf("https://smn.%s.myhuaweicloud.com", region);
	body = sms_smn_publish_body(subject, message, 3600);
	r = xcalloc(1, sizeof(*r));
	r->api = CLOUD_API_SMN_PUBLISH;
	r->handler = on_plain_done;
	r->done = cb;
	r->arg = arg;
	/* SMN is project-level: the topic's project goes in X-Project-Id, as the SDK does. */
	if ((rc = send_req(c, r, "POST", base, project, path, NULL, body)) < 0)
		free(r);
out:
	free(region);
	free(project);
	free(path);
	free(body);
	free(base);
	return rc;
}

/* ------------------------------------------------------------- status */

static void
set_item(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

static cJSON *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
wall_s_or_null(int64_t ms)
{
	return ms > 0 ? cJSON_CreateNumber((double)(ms / 1000)) : cJSON_CreateNull();
}

void
cloud_status_json(const struct cloud *c, cJSON *task_obj, cJSON *cloud_obj)
{
	const struct sms_task *t = c->have_task ? &c->task : NULL;

	if (task_obj != NULL) {
		set_item(task_obj, "id", str_or_null(t != NULL ? t->id : task_id_in_use(c)));
		set_item(task_obj, "name", str_or_null(t != NULL ? t->name : NULL));
		set_item(task_obj, "state",
		    cJSON_CreateString(t == NULL ? "unknown"
		            : t->state == TASK_UNKNOWN && t->state_raw[0]
		            ? t->state_raw
		            : task_state_name(t->state)));
		set_item(task_obj, "type",
		    t != NULL && t->type != TASK_TYPE_UNKNOWN
		        ? cJSON_CreateString(task_type_name(t->type))
		        : cJSON_CreateNull());
		set_item(task_obj, "os_type",
		    t != NULL && t->os_type != TASK_OS_UNKNOWN
		        ? cJSON_CreateString(task_os_name(t->os_type))
		        : cJSON_CreateNull());
		set_item(task_obj, "error_code", str_or_null(t != NULL ? t->error_code : NULL));
		if (t != NULL && t->error_code[0] != '\0') {
			const char *meaning = task_error_meaning(t->error_code);
			char msg[512];
			size_t o;

			o = (size_t)snprintf(
			    msg, sizeof(msg), "%s", meaning ? meaning : t->error_code);
			for (int i = 0; i < t->nerror_params && o < sizeof(msg); i++)
				o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s",
				    i == 0 ? " (" : ", ", t->error_params[i]);
			if (t->nerror_params > 0 && o < sizeof(msg) - 1)
				snprintf(msg + o, sizeof(msg) - o, ")");
			set_item(task_obj, "error_message", cJSON_CreateString(msg));
		} else if (t != NULL && t->error_message[0] != '\0') {
			/* An error_json that did not parse: its text, made printable, helps a person. */
			set_item(task_obj, "error_message", cJSON_CreateString(t->error_message));
		} else {
			set_item(task_obj, "error_message", cJSON_CreateNull());
		}
		set_item(task_obj, "progress",
		    t != NULL && t->progress >= 0 ? cJSON_CreateNumber(t->progress)
		                                  : cJSON_CreateNull());
		set_item(task_obj, "subtask", str_or_null(t != NULL ? t->subtask : NULL));
		set_item(task_obj, "migrate_speed_mbps",
		    t != NULL && t->has_migrate_speed ? cJSON_CreateNumber(t->migrate_speed)
		                                      : cJSON_CreateNull());
		set_item(task_obj, "remain_seconds",
		    t != NULL && t->remain_seconds >= 0
		        ? cJSON_CreateNumber((double)t->remain_seconds)
		        : cJSON_CreateNull());
		set_item(task_obj, "polled_at", wall_s_or_null(c->polled_at_ms));
	}
	if (cloud_obj != NULL) {
		int64_t next = 0;

		if (c->next_poll_at > 0) {
			uint64_t now = uv_now(c->loop);

			next = util_wall_ms() +
			    (c->next_poll_at > now ? (int64_t)(c->next_poll_at - now) : 0);
		}
		set_item(cloud_obj, "state", cJSON_CreateString(cloud_state_name(c->state)));
		set_item(cloud_obj, "last_ok", wall_s_or_null(c->last_ok_ms));
		set_item(cloud_obj, "next_poll", wall_s_or_null(next));
		set_item(cloud_obj, "errors", cJSON_CreateNumber((double)c->errors));
		set_item(cloud_obj, "last_error", str_or_null(c->last_error));
		set_item(cloud_obj, "failures", cJSON_CreateNumber(c->failures));
		set_item(
		    cloud_obj, "fast", cJSON_CreateBool(poll_interval(c) < c->cfg->poll_idle_ms));
		set_item(cloud_obj, "poll_interval_s",
		    cJSON_CreateNumber((double)poll_interval(c) / 1000));
		if (c->auth_until > uv_now(c->loop))
			set_item(cloud_obj, "silent_until",
			    wall_s_or_null(
			        util_wall_ms() + (int64_t)(c->auth_until - uv_now(c->loop))));
		if (c->throttle_until > uv_now(c->loop))
			set_item(cloud_obj, "throttled_until",
			    wall_s_or_null(
			        util_wall_ms() + (int64_t)(c->throttle_until - uv_now(c->loop))));
	}
}

cJSON *
cloud_state_json(const struct cloud *c)
{
	cJSON *o = cJSON_CreateObject();

	if (c->discovered_id != NULL)
		cJSON_AddStringToObject(o, "task_id", c->discovered_id);
	return o;
}

void
cloud_restore(struct cloud *c, const cJSON *state)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, "task_id");

	if (c->cfg->task_id != NULL || !cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) > SMS_ID_MAX)
		return;
	free(c->discovered_id);
	c->discovered_id = xstrdup(v->valuestring);
}
