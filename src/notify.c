/*
 * The notification sinks and their delivery (notify.h). Ownership
 * (STYLE.md habit 5): the module embeds one timer per sink, owns the HTTP
 * transport it made and the runners of its exec hooks (a hook's runner may
 * outlive its attempt while output pipes held by what the hook started
 * drain); `refs` counts what is not closed yet, and the last close frees
 * the module. At most one attempt per sink is in flight: the head of its
 * queue.
 */
#define LOG_TAG "notify"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "smsguard/cloud.h"
#include "smsguard/log.h"
#include "smsguard/notify.h"
#include "smsguard/notify_text.h"
#include "smsguard/runner.h"
#include "smsguard/util.h"

#define ERROR_MAX 256
#define HOOK_OUTPUT_MAX 512
#define WEBHOOK_BODY_MAX 4096 /* the answer is not read; a bigger one still counts */

struct notify;
struct sink;

/* One run of the exec hook. */
struct hook {
	struct notify *n;
	struct sink *s; /* while its attempt is the sink's; NULL once let go */
	struct runner *run;
	LIST_ENTRY(hook) entry;
};

struct sink {
	struct notify *n;
	enum notify_sink kind;
	bool on;
	struct notify_queue q;
	uv_timer_t timer;
	uint64_t due;      /* uv ms of the retry waited for; 0: none */
	uint64_t cloud_id; /* the SMN call in flight */
	uint64_t http_id;  /* the webhook request in flight */
	struct hook *hook; /* the exec hook running */
	bool drops_told;   /* a full queue was logged since the last delivery */
	char last_error[ERROR_MAX];
};

struct notify {
	uv_loop_t *loop;
	const struct config *cfg;
	struct cloud *cloud;
	struct http_transport *http;
	bool own_http;
	void (*save)(void *);
	void *save_arg;
	char host[256];
	struct sink sinks[NOTIFY_SINK_COUNT];
	LIST_HEAD(, hook) hooks;
	int refs; /* timers, the transport we made, hooks: not closed yet */
	bool closing, close_called;
	void (*close_cb)(void *);
	void *close_arg;
};

static void sink_attempt(struct sink *s);

/* ------------------------------------------------------------ helpers */

static bool
sink_configured(const struct config *cfg, enum notify_sink k)
{
	switch (k) {
	case NOTIFY_SMN:
		return cfg->smn_topic != NULL;
	case NOTIFY_WEBHOOK:
		return cfg->webhook != NULL;
	case NOTIFY_EXEC:
		return cfg->exec_argc > 0;
	default:
		return false;
	}
}

/* The sink's own list when it has one, else [notify] events. */
static uint32_t
sink_mask(const struct config *cfg, enum notify_sink k)
{
	const uint32_t own[NOTIFY_SINK_COUNT] = {
	    cfg->smn_events_mask, cfg->webhook_events_mask, cfg->exec_events_mask};

	return own[k] != 0 ? own[k] : cfg->events_mask;
}

static void
context(const struct notify *n, struct notify_context *ctx)
{
	ctx->host = n->host;
	ctx->resume = n->cfg->resume;
	ctx->agent_restart = n->cfg->agent_restart == AGENT_RESTART_WHEN_DEAD;
}

static void
read_host(struct notify *n)
{
	if (gethostname(n->host, sizeof(n->host)) != 0 || n->host[0] == '\0')
		util_strlcpy(n->host, "localhost", sizeof(n->host));
	n->host[sizeof(n->host) - 1] = '\0';
}

static void
unref(struct notify *n)
{
	void (*cb)(void *) = n->close_cb;
	void *arg = n->close_arg;

	if (--n->refs > 0)
		return;
	free(n);
	if (cb != NULL)
		cb(arg);
}

static void
timer_cb(uv_timer_t *t)
{
	struct sink *s = t->data;

	s->due = 0;
	sink_attempt(s);
}

/* Delivery of the head at once (from the loop), unless an attempt runs or a retry waits. */
static void
sink_kick(struct sink *s)
{
	if (s->on && !s->q.busy && s->due == 0 && !s->n->closing && s->q.count > 0)
		uv_timer_start(&s->timer, timer_cb, 0, 0);
}

/* The next attempt at uv time `at`. */
static void
sink_wait_until(struct sink *s, uint64_t at)
{
	uint64_t now = uv_now(s->n->loop);

	s->due = at > now ? at : now + 1;
	uv_timer_start(&s->timer, timer_cb, s->due - now, 0);
}

/* ---------------------------------------------------------- outcomes */

static void
sink_delivered(struct sink *s)
{
	struct notify_item *it = notify_queue_head(&s->q);

	/* The end of a failure streak, or of one that a restart interrupted. */
	if (it->attempts > 0)
		log_info("%s: delivering again: event %s (%s) got through after %d failed "
		         "attempt%s",
		    notify_sink_name(s->kind), it->id, event_type_name(it->type), it->attempts,
		    it->attempts == 1 ? "" : "s");
	else
		log_debug("%s: event %s (%s) delivered", notify_sink_name(s->kind), it->id,
		    event_type_name(it->type));
	notify_queue_delivered(&s->q);
	s->last_error[0] = '\0';
	s->drops_told = false;
	if (s->n->save != NULL)
		s->n->save(s->n->save_arg);
	sink_kick(s);
}

/* An attempt at the head failed: why, and not before not_before (uv ms; 0 = any time). */
static void
sink_failed(struct sink *s, const char *why, uint64_t not_before)
{
	struct notify_item *it = notify_queue_head(&s->q);
	char esc[ERROR_MAX * 4];
	uint64_t at;

	notify_queue_failed(&s->q);
	util_strlcpy(s->last_error, why, sizeof(s->last_error));
	log_escape(why, -1, esc, sizeof(esc));
	if (s->q.failures == 1)
		log_warnx("%s: cannot deliver event %s (%s): %s; retrying with backoff, %d "
		          "event%s waiting",
		    notify_sink_name(s->kind), it->id, event_type_name(it->type), esc, s->q.count,
		    s->q.count == 1 ? "" : "s");
	else
		log_debug("%s: attempt %d at event %s failed: %s", notify_sink_name(s->kind),
		    s->q.failures, it->id, esc);
	at = uv_now(s->n->loop) + notify_backoff_ms(s->q.failures, util_jitter(100));
	sink_wait_until(s, at > not_before ? at : not_before);
}

/* ---------------------------------------------------------------- SMN */

static void
smn_done(void *arg, int rc, const struct sms_error *err)
{
	struct sink *s = arg;
	char why[ERROR_MAX];

	s->cloud_id = 0;
	if (rc == 0) {
		sink_delivered(s);
		return;
	}
	if (err->status > 0 && err->code[0] != '\0')
		snprintf(
		    why, sizeof(why), "HTTP %d %.32s: %.180s", err->status, err->code, err->msg);
	else if (err->status > 0)
		snprintf(why, sizeof(why), "HTTP %d", err->status);
	else
		snprintf(why, sizeof(why), "%s", rc == -ETIMEDOUT ? "timed out" : "no answer");
	/* A 401 silences every cloud call, a 429 may say how long: wait that out too. */
	sink_failed(s, why, rc == -EACCES || rc == -EAGAIN ? cloud_quiet_until(s->n->cloud) : 0);
}

static int
smn_send(struct sink *s, const struct notify_item *it)
{
	const struct config *cfg = s->n->cfg;
	struct notify_context ctx;
	char *subject, *message;
	int rc;

	context(s->n, &ctx);
	subject = notify_subject(&ctx, it);
	message = notify_message(&ctx, it);
	rc = cloud_smn_publish(s->n->cloud, cfg->smn_topic, cfg->smn_endpoint, subject, message,
	    smn_done, s, &s->cloud_id);
	free(subject);
	free(message);
	return rc;
}

/* ------------------------------------------------------------ webhook */

static void
webhook_done(void *arg, const struct http_response *resp)
{
	struct sink *s = arg;
	bool answered = resp->result == HTTP_OK || resp->result == HTTP_TOO_LARGE;
	char why[ERROR_MAX];

	s->http_id = 0;
	if (answered && resp->status >= 200 && resp->status < 300) {
		sink_delivered(s);
		return;
	}
	if (answered)
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	else
		snprintf(
		    why, sizeof(why), "%s: %.200s", http_result_name(resp->result), resp->error);
	sink_failed(s, why, 0);
}

static int
webhook_send(struct sink *s, const struct notify_item *it)
{
	struct notify *n = s->n;
	struct http_request req;
	struct notify_context ctx;
	char *body;
	int rc;

	if (n->http == NULL) {
		if ((rc = http_new(n->loop, &n->http)) < 0)
			return rc;
		n->own_http = true;
		n->refs++;
	}
	context(n, &ctx);
	body = notify_cloudevent(&ctx, it);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = n->cfg->webhook;
	req.headers[req.nheaders++] = "Content-Type: " NOTIFY_CLOUDEVENT_TYPE;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = n->cfg->timeout_ms;
	/* The way to the cloud is the way out: its CA file and proxy, but loopback goes direct. */
	req.ca_file = n->cfg->ca_file;
	req.proxy = n->cfg->webhook_loopback ? NULL : n->cfg->proxy;
	req.max_body = WEBHOOK_BODY_MAX;
	rc = http_submit(n->http, &req, webhook_done, s, &s->http_id);
	free(body);
	return rc;
}

/* -------------------------------------------------------------- exec */

static void
hook_freed(void *arg)
{
	struct hook *h = arg;
	struct notify *n = h->n;

	LIST_REMOVE(h, entry);
	free(h);
	unref(n);
}

/* Why a run failed, in a few words and the first line it wrote; "" when it did not. */
static void
hook_why(const struct sink *s, const struct runner_result *res, char *why, size_t len)
{
	char first[128], d[32];
	size_t n = strcspn(res->output, "\n");

	util_strlcpy(first, res->output, n + 1 < sizeof(first) ? n + 1 : sizeof(first));
	for (char *p = first; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	why[0] = '\0';
	if (res->error == -ETIMEDOUT)
		snprintf(why, len, "still running after exec_timeout %s: killed",
		    util_format_duration(s->n->cfg->exec_timeout_ms, d, sizeof(d)));
	else if (res->error != 0)
		snprintf(why, len, "cannot run %s: %s", s->n->cfg->exec_argv[0],
		    uv_strerror(res->error));
	else if (res->term_signal != 0)
		snprintf(why, len, "killed by signal %d", res->term_signal);
	else if (res->exit_status != 0)
		snprintf(why, len, "exit status %lld%s%s", (long long)res->exit_status,
		    first[0] != '\0' ? ": " : "", first);
}

static void
hook_done(void *arg, const struct runner_result *res)
{
	struct hook *h = arg;
	struct sink *s = h->s;
	char why[ERROR_MAX];

	hook_why(s, res, why, sizeof(why));
	s->hook = NULL;
	h->s = NULL;
	/* What the hook started may hold its output: the runner drains it, then frees. */
	runner_drain(h->run, hook_freed, h);
	if (why[0] == '\0')
		sink_delivered(s);
	else
		sink_failed(s, why, 0);
}

static int
exec_send(struct sink *s, const struct notify_item *it)
{
	static const char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", NULL};
	struct notify *n = s->n;
	struct notify_var nv[NOTIFY_EXEC_NVARS];
	struct runner_var vars[NOTIFY_EXEC_NVARS];
	struct runner_opts o = {0};
	struct notify_context ctx;
	struct hook *h = xcalloc(1, sizeof(*h));
	int rc;

	if ((rc = runner_new(n->loop, &h->run)) != 0) {
		free(h);
		return rc;
	}
	h->n = n;
	LIST_INSERT_HEAD(&n->hooks, h, entry);
	n->refs++;
	context(n, &ctx);
	notify_exec_vars(&ctx, it, nv);
	for (int i = 0; i < NOTIFY_EXEC_NVARS; i++)
		vars[i] = (struct runner_var){nv[i].name, nv[i].value};
	o.argv = (const char *const *)n->cfg->exec_argv;
	o.env = env;
	o.vars = vars;
	o.nvars = NOTIFY_EXEC_NVARS;
	o.timeout_ms = n->cfg->exec_timeout_ms;
	o.output_max = HOOK_OUTPUT_MAX;
	o.log_tag = LOG_TAG;
	o.name = "exec hook";
	o.quiet = true;
	o.done = hook_done;
	o.arg = h;
	rc = runner_start(h->run, &o);
	notify_exec_vars_free(nv);
	if (rc != 0) {
		runner_close(h->run, hook_freed, h);
		return rc;
	}
	h->s = s;
	s->hook = h;
	return 0;
}

/* ------------------------------------------------------------ delivery */

static int
sink_send(struct sink *s, const struct notify_item *it)
{
	switch (s->kind) {
	case NOTIFY_SMN:
		return smn_send(s, it);
	case NOTIFY_WEBHOOK:
		return webhook_send(s, it);
	default:
		return exec_send(s, it);
	}
}

/* One attempt at the head of the queue, from a timer. */
static void
sink_attempt(struct sink *s)
{
	struct notify_item *it = notify_queue_head(&s->q);
	char why[ERROR_MAX];
	int rc;

	if (!s->on || s->q.busy || s->n->closing || it == NULL)
		return;
	if ((rc = sink_send(s, it)) == 0) {
		s->q.busy = true;
		return;
	}
	if (s->kind == NOTIFY_SMN && (rc == -EACCES || rc == -EAGAIN)) {
		/* The cloud client is silent for every call: no attempt, no failure. */
		if (s->q.failures == 0)
			snprintf(s->last_error, sizeof(s->last_error),
			    "held back: every cloud call waits out a %s",
			    rc == -EACCES ? "401 (5 minutes)" : "429 Retry-After");
		sink_wait_until(s, cloud_quiet_until(s->n->cloud) + util_random(1000));
		return;
	}
	snprintf(why, sizeof(why), "cannot send: %s", strerror(-rc));
	sink_failed(s, why, 0);
}

/* Stops the attempt in flight; its event stays first in the queue. */
static void
sink_stop(struct sink *s)
{
	struct notify *n = s->n;

	if (s->timer.data != NULL)
		uv_timer_stop(&s->timer);
	s->due = 0;
	if (s->cloud_id != 0)
		cloud_cancel(n->cloud, s->cloud_id);
	if (s->http_id != 0)
		http_cancel(n->http, s->http_id);
	if (s->hook != NULL) {
		runner_cancel(s->hook->run);
		runner_close(s->hook->run, hook_freed, s->hook);
		s->hook->s = NULL;
		s->hook = NULL;
	}
	s->cloud_id = s->http_id = 0;
	s->q.busy = false;
}

/* ------------------------------------------------------------- events */

static void
sink_push(struct sink *s, struct notify_item *it)
{
	if (notify_queue_push(&s->q, it) > 0 && !s->drops_told) {
		s->drops_told = true;
		log_warnx("%s: %d events wait already: the oldest undelivered is dropped (and "
		          "counted) for each new one until one gets through",
		    notify_sink_name(s->kind), s->q.max);
	}
	sink_kick(s);
}

void
notify_event(struct notify *n, const struct event *e, const char *task_id, const char *task_name)
{
	struct notify_item *it = NULL;

	if (n == NULL || n->closing)
		return;
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		struct sink *s = &n->sinks[k];

		if (!s->on || !(sink_mask(n->cfg, (enum notify_sink)k) & (1u << e->type)))
			continue;
		if (it == NULL)
			it = notify_item_new(n->host, e, task_id, task_name);
		sink_push(s, notify_item_dup(it));
	}
	notify_item_free(it);
}

/* ---------------------------------------------------------- lifecycle */

static void
sink_on(struct sink *s, const struct config *cfg)
{
	s->on = true;
	notify_queue_init(&s->q, cfg->notify_queue);
	s->last_error[0] = '\0';
	s->drops_told = false;
}

static void
sink_off(struct sink *s)
{
	if (s->q.count > 0)
		log_warnx("%s is no longer configured: %d undelivered event%s dropped",
		    notify_sink_name(s->kind), s->q.count, s->q.count == 1 ? "" : "s");
	sink_stop(s);
	notify_queue_clear(&s->q);
	s->on = false;
}

int
notify_new(
    uv_loop_t *loop, const struct config *cfg, const struct notify_deps *deps, struct notify **out)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	int rc;

	n->loop = loop;
	n->cfg = cfg;
	n->cloud = deps->cloud;
	n->http = deps->http;
	n->save = deps->save;
	n->save_arg = deps->arg;
	LIST_INIT(&n->hooks);
	read_host(n);
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		struct sink *s = &n->sinks[k];

		s->n = n;
		s->kind = (enum notify_sink)k;
		notify_queue_init(&s->q, cfg->notify_queue);
		if ((rc = uv_timer_init(loop, &s->timer)) != 0) {
			/* Nothing was started: the timers made so far close with n. */
			notify_close(n, NULL, NULL);
			return rc;
		}
		s->timer.data = s;
		n->refs++;
		if (sink_configured(cfg, s->kind))
			sink_on(s, cfg);
	}
	*out = n;
	return 0;
}

void
notify_reconfigure(struct notify *n, const struct config *cfg)
{
	n->cfg = cfg;
	read_host(n);
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		struct sink *s = &n->sinks[k];
		bool want = sink_configured(cfg, s->kind);
		int dropped;

		if (s->on && !want) {
			sink_off(s);
		} else if (!s->on && want) {
			sink_on(s, cfg);
		} else if (s->on) {
			if ((dropped = notify_queue_set_max(&s->q, cfg->notify_queue)) > 0)
				log_warnx(
				    "%s: queue now %d: the %d oldest undelivered events dropped",
				    notify_sink_name(s->kind), cfg->notify_queue, dropped);
			/* Perhaps the reload mended it: no need to wait out the backoff. */
			if (!s->q.busy && s->due != 0) {
				uv_timer_stop(&s->timer);
				s->due = 0;
			}
			sink_kick(s);
		}
	}
}

static void
timer_closed(uv_handle_t *h)
{
	struct sink *s = h->data;

	unref(s->n);
}

static void
http_closed(void *arg)
{
	unref(arg);
}

void
notify_close(struct notify *n, void (*cb)(void *), void *arg)
{
	struct hook *h;

	if (n == NULL || n->close_called)
		return;
	n->close_called = true;
	n->closing = true;
	n->close_cb = cb;
	n->close_arg = arg;
	n->refs++; /* this call's, released at its end */
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		struct sink *s = &n->sinks[k];

		sink_stop(s);
		notify_queue_clear(&s->q);
		if (s->timer.data != NULL)
			uv_close((uv_handle_t *)&s->timer, timer_closed);
	}
	/* Runners still draining what a finished hook left: stop waiting. */
	LIST_FOREACH(h, &n->hooks, entry)
	runner_close(h->run, NULL, NULL);
	if (n->own_http)
		http_close(n->http, http_closed, n);
	unref(n);
}

/* ----------------------------------------------------- state and status */

cJSON *
notify_state_json(const struct notify *n)
{
	cJSON *o = cJSON_CreateObject();

	for (int k = 0; k < NOTIFY_SINK_COUNT; k++)
		if (n->sinks[k].on)
			cJSON_AddItemToObject(o, notify_sink_name((enum notify_sink)k),
			    notify_queue_to_json(&n->sinks[k].q));
	return o;
}

void
notify_restore(struct notify *n, const cJSON *o)
{
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		struct sink *s = &n->sinks[k];
		const cJSON *a =
		    cJSON_GetObjectItemCaseSensitive(o, notify_sink_name((enum notify_sink)k));
		int got;

		if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
			continue;
		if (!s->on) {
			log_warnx("%s is no longer configured: %d undelivered event%s in the state "
			          "file dropped",
			    notify_sink_name(s->kind), cJSON_GetArraySize(a),
			    cJSON_GetArraySize(a) == 1 ? "" : "s");
			continue;
		}
		got = notify_queue_from_json(&s->q, a);
		log_info("%s: %d undelivered event%s from the state file, delivered first",
		    notify_sink_name(s->kind), got, got == 1 ? "" : "s");
		sink_kick(s);
	}
}

static cJSON *
sink_status(const struct sink *s)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t now = uv_now(s->n->loop);

	cJSON_AddStringToObject(o, "sink", notify_sink_name(s->kind));
	cJSON_AddNumberToObject(o, "queued", s->q.count);
	cJSON_AddNumberToObject(o, "delivered", (double)s->q.delivered);
	cJSON_AddNumberToObject(o, "failed", (double)s->q.failed);
	cJSON_AddNumberToObject(o, "dropped", (double)s->q.dropped);
	if (s->last_error[0] != '\0')
		cJSON_AddStringToObject(o, "last_error", s->last_error);
	else
		cJSON_AddNullToObject(o, "last_error");
	if (s->due != 0 && !s->q.busy)
		cJSON_AddNumberToObject(o, "next_retry",
		    (double)((util_wall_ms() + (int64_t)(s->due > now ? s->due - now : 0)) / 1000));
	else
		cJSON_AddNullToObject(o, "next_retry");
	return o;
}

void
notify_status_json(const struct notify *n, cJSON *o)
{
	cJSON *sinks = cJSON_CreateArray();
	uint64_t dropped = 0;

	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		if (!n->sinks[k].on)
			continue;
		dropped += n->sinks[k].q.dropped;
		cJSON_AddItemToArray(sinks, sink_status(&n->sinks[k]));
	}
	cJSON_AddNumberToObject(o, "dropped", (double)dropped);
	cJSON_AddItemToObject(o, "sinks", sinks);
}

void
notify_metrics(const struct notify *n, struct metrics *m)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"smsguard_notify_delivered_total", "counter", "events delivered, by sink"},
	    {"smsguard_notify_failed_total", "counter", "failed delivery attempts, by sink"},
	    {"smsguard_notify_dropped_total", "counter",
	        "undelivered events dropped from a full queue, by sink"},
	    {"smsguard_notify_queue", "gauge", "events waiting for delivery, by sink"},
	};

	bool any = false;

	for (int k = 0; k < NOTIFY_SINK_COUNT; k++)
		any = any || n->sinks[k].on;
	/* No sink, no family: a family without samples is dropped by node_exporter. */
	for (size_t f = 0; any && f < nitems(fam); f++) {
		metrics_family(m, fam[f].name, fam[f].type, fam[f].help);
		for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
			const struct sink *s = &n->sinks[k];
			const double v[] = {(double)s->q.delivered, (double)s->q.failed,
			    (double)s->q.dropped, (double)s->q.count};

			if (s->on)
				metrics_sample(m, fam[f].name, v[f], "sink",
				    notify_sink_name((enum notify_sink)k), NULL);
		}
	}
}
