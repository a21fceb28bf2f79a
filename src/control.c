/*
 * The control socket's commands (DESIGN.md §5.8): one handler per command of
 * the table in ctl-protocol.h, and the `wait` clients, answered when the
 * task gets where they wait for. ctl.c owns the socket; this file owns what
 * the commands do. Read commands only read; write commands hand the
 * operator's word to the engine, which acts on it at its next turn.
 */
#define LOG_TAG "control"
#include <stdlib.h>

#include "daemon.h"
#include "smsguard/cloud.h"
#include "smsguard/ctl.h"
#include "smsguard/engine.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/preflight.h"
#include "smsguard/probe.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

struct waiter {
	TAILQ_ENTRY(waiter) entry;
	struct ctl_client *client;
	enum ctl_wait_until until;
	uv_timer_t timer;
	struct daemon *d;
};

static enum task_state
task_state_now(const struct daemon *d)
{
	const struct sms_task *t = engine_task(executor_engine(d->exec));

	return t != NULL ? t->state : TASK_UNKNOWN;
}

static bool
wait_reached(enum ctl_wait_until until, enum task_state st)
{
	switch (until) {
	case CTL_WAIT_FINISHED:
		return task_state_is_finished(st);
	case CTL_WAIT_RUNNING:
		return st == TASK_RUNNING || st == TASK_SYNCING;
	case CTL_WAIT_FAILED:
		return task_state_is_failed(st);
	default:
		return false;
	}
}

static void
waiter_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
waiter_free(struct daemon *d, struct waiter *w)
{
	TAILQ_REMOVE(&d->waiters, w, entry);
	uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void
waiter_timeout_cb(uv_timer_t *t)
{
	struct waiter *w = t->data;
	struct ctl_client *c = w->client;

	/* Off the list before replying: nothing may find it again. */
	waiter_free(w->d, w);
	ctl_reply(c, ctl_error("timeout"));
}

void
control_turned(struct daemon *d)
{
	enum task_state st = task_state_now(d);
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&d->waiters); w != NULL; w = next) {
		struct ctl_client *c = w->client;
		cJSON *reply;

		next = TAILQ_NEXT(w, entry);
		if (!wait_reached(w->until, st))
			continue;
		reply = cJSON_CreateObject();
		cJSON_AddBoolToObject(reply, "ok", 1);
		cJSON_AddStringToObject(reply, "state", task_state_name(st));
		waiter_free(d, w);
		ctl_reply(c, reply);
	}
}

void
control_stop(struct daemon *d)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		struct ctl_client *c = w->client;

		waiter_free(d, w);
		ctl_reply(c, ctl_error("shutting down"));
	}
}

void
control_client_gone(void *arg, struct ctl_client *c)
{
	struct daemon *d = arg;
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&d->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->client == c)
			waiter_free(d, w);
	}
	if (d->pf != NULL)
		preflight_forget(d->pf, c);
}

/* ------------------------------------------------------------- commands */

static cJSON *
cmd_status(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	return status_json(d);
}

static cJSON *
cmd_events(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(
	    o, CTL_KEY_EVENTS, events_since_json(&d->events, req->events_since, req->events_n));
	cJSON_AddNumberToObject(o, CTL_KEY_LAST_SEQ, (double)events_last_seq(&d->events));
	return o;
}

static cJSON *
cmd_metrics(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();
	char *text = status_metrics_text(d);

	cJSON_AddStringToObject(o, "metrics", text);
	free(text);
	return o;
}

static cJSON *
cmd_wait(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	struct waiter *w;
	cJSON *reply;

	if (wait_reached((enum ctl_wait_until)req->wait_until, task_state_now(d))) {
		reply = cJSON_CreateObject();
		cJSON_AddStringToObject(reply, "state", task_state_name(task_state_now(d)));
		return reply;
	}
	w = xcalloc(1, sizeof(*w));
	w->client = c;
	w->until = (enum ctl_wait_until)req->wait_until;
	w->d = d;
	uv_timer_init(&d->loop, &w->timer);
	w->timer.data = w;
	if (req->timeout_ms > 0)
		uv_timer_start(&w->timer, waiter_timeout_cb, req->timeout_ms, 0);
	TAILQ_INSERT_TAIL(&d->waiters, w, entry);
	return NULL;
}

static cJSON *
cmd_check(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	probe_check_now(d->probe);
	taskpoll_poll_now(d->poll);
	return cJSON_CreateObject();
}

static cJSON *
cmd_pause(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();
	int64_t until = req->timeout_ms > 0 ? util_wall_ms() + (int64_t)req->timeout_ms : 0;

	executor_pause(d->exec, until);
	state_save(d);
	log_info("paused by an operator%s", until > 0 ? " for a while" : " until resume");
	cJSON_AddBoolToObject(o, "paused", 1);
	if (until > 0)
		cJSON_AddNumberToObject(o, "until", (double)(until / 1000));
	return o;
}

static cJSON *
cmd_resume(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();

	log_info("resumed by an operator");
	executor_resume(d->exec);
	state_save(d);
	cJSON_AddBoolToObject(o, "paused", 0);
	return o;
}

static cJSON *
cmd_reload(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	char *cause = NULL;
	cJSON *o;

	if (reload_run(d, &cause) < 0) {
		o = ctl_error(cause != NULL ? cause : "reload failed");
		free(cause);
		return o;
	}
	return cJSON_CreateObject();
}

/* A preflight run ended: its report (DESIGN.md §5.11), or NULL when shutting down. */
static void
preflight_answer(void *arg, const struct pf_report *r)
{
	ctl_reply(arg, r != NULL ? pf_report_json(r) : ctl_error("shutting down"));
}

/* Answered when the checks are done (a run under way is joined). */
static cJSON *
cmd_preflight(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	if (preflight_run(d->pf, "smsguardctl", preflight_answer, c) < 0)
		return ctl_error("shutting down");
	return NULL;
}

typedef cJSON *control_handler(struct daemon *, struct ctl_client *, const struct ctl_request *);

/* One handler per command of CTL_COMMANDS (ctl-protocol.h): cmd_<name>. */
#define CTL_HANDLER(ID, NAME, USAGE, KIND, SUMMARY, HELP) [CTL_CMD_##ID] = cmd_##NAME,
static control_handler *const handlers[CTL_CMD_COUNT] = {CTL_COMMANDS(CTL_HANDLER)};
#undef CTL_HANDLER

cJSON *
control_dispatch(void *arg, struct ctl_client *c, const struct ctl_request *req)
{
	struct daemon *d = arg;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT)
		return ctl_error("unknown command");
	if (d->stopping)
		return ctl_error("shutting down");
	return handlers[req->cmd](d, c, req);
}
