/*
 * The cloud client: every SMS/SMN call, its signature, how its answer is
 * counted, and the silences and backoff all calls share. What to call when
 * is its users' business (taskpoll.c, discover.c, the engine). All timing
 * uses uv_now(); the wall clock is read only for X-Sdk-Date, the Date
 * comparison and status.
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
#include "smsguard/cloudwire.h"
#include "smsguard/log.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

#include "cloud-internal.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_BASE_MAX_MS 5000
#define UNREACHABLE_FAILURES 3
#define UNREACHABLE_AFTER_MS (60 * 1000)
#define RETRY_AFTER_MAX_S 3600
#define LAST_ERROR_MAX 320

struct cloud_req {
	struct cloud *c;
	struct cloud_req *prev, *next;
	uint64_t id; /* ours, for cloud_cancel() */
	uint64_t http_id;
	enum cloud_api api;
	bool quiet;
	/* To another service than [cloud] endpoint (SMN): says nothing of the SMS API's state. */
	bool foreign;
	cloud_parse_cb parse;
	cloud_answer_cb answer;
	void *arg;
	/* A plain call's callback (cloud_call_plain): its parse and answer get the request as arg. */
	cloud_done_cb done;
	void *done_arg;
};

struct cloud {
	uv_loop_t *loop;
	const struct config *cfg;
	const struct credentials *cr;
	struct observer obs;
	struct http_transport *http;
	bool own_http;
	struct cloud_req *reqs;
	uint64_t last_id;

	/* The silences and the backoff. */
	uint64_t auth_until, throttle_until; /* uv ms; calls wait until then */
	int failures;                        /* consecutive failed polls */
	bool failed_throttled;               /* the last failed poll was a 429 */
	char notes[CLOUD_API_COUNT][256];    /* the last degraded-field note logged, per API */

	/* What we know. */
	int64_t last_ok_ms;
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

/* ------------------------------------------------------------- helpers */

/* The client's state as a value for the engine. */
static void
report_state(struct cloud *c)
{
	struct observation o = {.kind = OBS_CLOUD, .time_ms = util_wall_ms()};

	o.u.cloud = c->state;
	observer_report(&c->obs, &o);
}

static void
set_state(struct cloud *c, enum cloud_state st)
{
	if (c->state == st)
		return;
	log_info("cloud %s -> %s", cloud_state_name(c->state), cloud_state_name(st));
	c->state = st;
	report_state(c);
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

int
cloud_result_errno(enum cloud_result res, long status)
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
describe_failure(struct cloud *c, const struct cloud_req *r, enum cloud_result res,
    const struct http_response *resp, const struct sms_error *err)
{
	const char *api = cloud_api_name(r->api);
	char msg[LAST_ERROR_MAX], esc[LAST_ERROR_MAX];

	if (resp->result != HTTP_OK)
		snprintf(msg, sizeof(msg), "%s: %s: %s", api, http_result_name(resp->result),
		    resp->error);
	else if (err->code[0] != '\0')
		snprintf(msg, sizeof(msg), "%s: HTTP %ld %.40s: %.240s", api, resp->status,
		    err->code, err->msg);
	else if (res == CLOUD_RES_BAD_RESPONSE)
		util_strlcpy(msg, c->last_error, sizeof(msg)); /* the handler said why */
	else
		snprintf(msg, sizeof(msg), "%s: HTTP %ld", api, resp->status);
	/* Another service's failure is its caller's to show, not the SMS API's last error. */
	if (!r->foreign) {
		c->errors++;
		set_last_error(c, "%s", msg);
	}
	if (r->quiet)
		log_debug("%s", log_escape(msg, -1, esc, sizeof(esc)));
	else
		log_warnx("%s", log_escape(msg, -1, esc, sizeof(esc)));
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

/* A 2xx answer through the call's parser: still OK, or a bad response. */
static enum cloud_result
read_answer(struct cloud_req *r, const struct http_response *resp)
{
	enum cloud_result res = CLOUD_RES_OK;
	char *cause = NULL;

	if (r->parse(r->arg, resp, &cause) < 0) {
		res = CLOUD_RES_BAD_RESPONSE;
		set_last_error(r->c, "%s: bad response: %s", cloud_api_name(r->api),
		    cause != NULL ? cause : "?");
	} else {
		note_degraded(r->c, r->api, cause);
	}
	free(cause);
	return res;
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

	if (res == CLOUD_RES_OK && r->parse != NULL)
		res = read_answer(r, resp);
	c->counts[r->api][res]++;
	if (res != CLOUD_RES_OK)
		describe_failure(c, r, res, resp, &err);
	else if (!r->foreign)
		note_ok(c);
	if (r->answer != NULL)
		r->answer(r->arg, res, resp, &err);
	free(r);
}

/* Signs and sends w for r; on success r is in flight (on c->reqs). */
static int
req_send(struct cloud *c, struct cloud_req *r, const struct cloudwire_call *w)
{
	struct http_request hreq;
	struct cloudwire signed_req;
	int rc;

	if ((rc = cloudwire_sign(w, c->cr, util_wall_ms(), &signed_req)) < 0)
		goto out;
	memset(&hreq, 0, sizeof(hreq));
	hreq.method = w->method;
	hreq.url = signed_req.url;
	for (int i = 0; i < signed_req.nheaders; i++)
		hreq.headers[hreq.nheaders++] = signed_req.headers[i];
	hreq.body = w->body;
	hreq.body_len = w->body != NULL ? strlen(w->body) : 0;
	hreq.timeout_ms = c->cfg->timeout_ms;
	hreq.ca_file = c->cfg->ca_file;
	hreq.proxy = c->cfg->proxy;
	r->c = c;
	if ((rc = http_submit(c->http, &hreq, on_http_done, r, &r->http_id)) < 0)
		goto out;
	r->next = c->reqs;
	if (c->reqs != NULL)
		c->reqs->prev = r;
	c->reqs = r;
	log_debug("%s %s%s%s", w->method, w->path, w->query != NULL && w->query[0] ? "?" : "",
	    w->query != NULL ? w->query : "");
out:
	cloudwire_free(&signed_req);
	return rc;
}

static struct cloud_req *
req_new(struct cloud *c, const struct cloud_call *call)
{
	struct cloud_req *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->id = ++c->last_id;
	r->api = call->api;
	r->quiet = call->quiet;
	r->parse = call->parse;
	r->answer = call->answer;
	r->arg = call->arg;
	return r;
}

/*
 * Sends r (made by req_new) to base with project_id as X-Project-Id, or when
 * base is NULL to [cloud] endpoint and project_id. Frees r when it cannot go out.
 */
static int
req_send_to(struct cloud *c, struct cloud_req *r, const struct cloud_call *call, const char *base,
    const char *project_id)
{
	struct cloudwire_call w = {
	    call->method, base, project_id, call->path, call->query, call->body};
	char *sms_base = NULL;
	int rc;

	if ((rc = cloud_call_allowed(c)) < 0) {
		free(r);
		return rc;
	}
	if (base == NULL) {
		w.base = sms_base = cloudwire_base(c->cfg->endpoint);
		w.project_id = c->cfg->project_id;
	}
	r->foreign = base != NULL;
	rc = req_send(c, r, &w);
	free(sms_base);
	if (rc < 0) {
		free(r);
		set_last_error(c, "%s: cannot send: %s", cloud_api_name(call->api), strerror(-rc));
	}
	return rc;
}

int
cloud_send(struct cloud *c, const struct cloud_call *call, uint64_t *id)
{
	struct cloud_req *r = req_new(c, call);
	uint64_t rid = r->id;
	int rc;

	if ((rc = req_send_to(c, r, call, NULL, NULL)) == 0)
		*id = rid;
	return rc;
}

void
cloud_cancel(struct cloud *c, uint64_t id)
{
	struct cloud_req *r;

	for (r = c->reqs; r != NULL; r = r->next) {
		if (r->id == id) {
			req_unlink(r);
			http_cancel(c->http, r->http_id);
			free(r);
			return;
		}
	}
}

void
cloud_note_error(struct cloud *c, const char *msg)
{
	set_last_error(c, "%s", msg);
}

/* ------------------------------------------------------------ backoff */

int
cloud_call_allowed(const struct cloud *c)
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

uint64_t
cloud_quiet_until(const struct cloud *c)
{
	return c->auth_until > c->throttle_until ? c->auth_until : c->throttle_until;
}

bool
cloud_must_wait(const struct cloud *c)
{
	uint64_t now = uv_now(c->loop);

	return now < c->auth_until || now < c->throttle_until ||
	    (c->failures > 0 && c->failed_throttled);
}

void
cloud_backoff_ok(struct cloud *c)
{
	c->failures = 0;
}

void
cloud_backoff_failed(struct cloud *c, enum cloud_result res)
{
	c->failures++;
	c->failed_throttled = res == CLOUD_RES_THROTTLED;
	if (is_unreachable(res))
		note_unreachable(c);
}

void
cloud_backoff_reset(struct cloud *c)
{
	c->failures = 0;
}

int
cloud_failures(const struct cloud *c)
{
	return c->failures;
}

/*
 * A try at the minute mark of an outage, so that cloud_unreachable is raised
 * then rather than a doubled backoff later (up to twice the minute).
 */
static uint64_t
unreachable_mark(const struct cloud *c, uint64_t d)
{
	uint64_t now = uv_now(c->loop), mark = c->unreachable_since + UNREACHABLE_AFTER_MS;

	if (c->unreachable_raised || c->unreachable_since == 0 || now >= mark)
		return d;
	return now + d > mark ? mark - now : d;
}

uint64_t
cloud_backoff_ms(const struct cloud *c, const struct http_response *resp)
{
	uint64_t base = c->cfg->poll_ms, d;
	int shift = c->failures > 0 ? c->failures - 1 : 0;

	if (c->failed_throttled && resp != NULL && resp->retry_after_s >= 0) {
		/* Exactly what the gateway asked, plus 0..10 % so a fleet spreads out. */
		int64_t s = resp->retry_after_s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S
		                                                    : resp->retry_after_s;

		return (uint64_t)s * 1000 + util_random(1 + (uint32_t)s * 100);
	}
	if (base > BACKOFF_BASE_MAX_MS)
		base = BACKOFF_BASE_MAX_MS;
	if (base < BACKOFF_MIN_MS)
		base = BACKOFF_MIN_MS;
	if (shift > 20)
		shift = 20;
	d = base << shift;
	if (d > CLOUD_BACKOFF_MAX_MS)
		d = CLOUD_BACKOFF_MAX_MS;
	d += (uint64_t)util_jitter((int64_t)d / 10);
	return unreachable_mark(c, d);
}

/* ---------------------------------------------------------- lifecycle */

int
cloud_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *cr,
    const struct observer *obs, struct http_transport *transport, struct cloud **out, char **cause)
{
	struct cloud *c;
	char *host;
	int rc;

	*out = NULL;
	if (cfg->endpoint == NULL || (host = cloudwire_authority(cfg->endpoint)) == NULL) {
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
	*out = c;
	return 0;
}

static bool
str_changed(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool
cloud_reconfigure(struct cloud *c, const struct config *cfg, const struct credentials *cr)
{
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
	return new_key;
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
	free(c);
	if (cb != NULL)
		cb(arg);
}

static void
on_part_closed(void *arg)
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
	c->pending_closes = 1; /* this call's, released at its end */
	while (c->reqs != NULL) {
		struct cloud_req *r = c->reqs;

		req_unlink(r);
		http_cancel(c->http, r->http_id);
		free(r);
	}
	if (c->own_http) {
		c->pending_closes++;
		http_close(c->http, on_part_closed, c);
	}
	maybe_freed(c);
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

/* ------------------------------------------------- plain calls (cloud-calls.c) */

static void
on_plain_answer(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct cloud_req *r = arg;
	int rc = cloud_result_errno(res, resp->status);

	r->done(r->done_arg, rc, err);
}

int
cloud_call_plain(struct cloud *c, const struct cloud_call *call, const char *base,
    const char *project_id, cloud_done_cb done, void *arg, uint64_t *id)
{
	struct cloud_call plain = *call;
	struct cloud_req *r;
	uint64_t rid;
	int rc;

	plain.parse = NULL;
	plain.answer = on_plain_answer;
	r = req_new(c, &plain);
	rid = r->id;
	r->arg = r; /* the request holds the caller's callback and what the answer said */
	r->done = done;
	r->done_arg = arg;
	rc = req_send_to(c, r, &plain, base, project_id);
	if (rc == 0 && id != NULL)
		*id = rid;
	return rc;
}

const struct config *
cloud_config(const struct cloud *c)
{
	return c->cfg;
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
wall_s_or_null(int64_t ms)
{
	return ms > 0 ? cJSON_CreateNumber((double)(ms / 1000)) : cJSON_CreateNull();
}

void
cloud_status_json(const struct cloud *c, cJSON *cloud_obj)
{
	uint64_t now = uv_now(c->loop);

	if (cloud_obj != NULL) {
		set_item(cloud_obj, "state", cJSON_CreateString(cloud_state_name(c->state)));
		set_item(cloud_obj, "last_ok", wall_s_or_null(c->last_ok_ms));
		set_item(cloud_obj, "errors", cJSON_CreateNumber((double)c->errors));
		set_item(cloud_obj, "last_error",
		    c->last_error[0] != '\0' ? cJSON_CreateString(c->last_error)
		                             : cJSON_CreateNull());
		set_item(cloud_obj, "failures", cJSON_CreateNumber(c->failures));
		if (c->auth_until > now)
			set_item(cloud_obj, "silent_until",
			    wall_s_or_null(util_wall_ms() + (int64_t)(c->auth_until - now)));
		if (c->throttle_until > now)
			set_item(cloud_obj, "throttled_until",
			    wall_s_or_null(util_wall_ms() + (int64_t)(c->throttle_until - now)));
	}
}
