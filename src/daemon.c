/*
 * Wiring: the loop, signals, the control socket, the state file, and the
 * modules. Watchers report through `struct observer`; the daemon turns their
 * observations into policy input and the policy's actions into calls.
 */
#define LOG_TAG "daemon"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "smsguard-build.h"
#include "daemon.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/ctl.h"
#include "smsguard/events.h"
#include "smsguard/log.h"
#include "smsguard/metrics.h"
#include "smsguard/observe.h"
#include "smsguard/sdnotify.h"
#include "smsguard/store.h"
#include "smsguard/task.h"
#include "smsguard/util.h"
#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/probe.h"
#include "smsguard/recovery.h"
#include "smsguard/schedule.h"
#include "smsguard/sms.h"

#define STATE_VERSION 1
#define STATUS_EVENTS 5

struct waiter {
	TAILQ_ENTRY(waiter) entry;
	struct ctl_client *client;
	enum ctl_wait_until until;
	uv_timer_t timer;
	struct daemon *d;
};

struct daemon {
	uv_loop_t loop;
	struct config *cfg;
	struct credentials *creds;
	const char *config_path;
	int verbose;

	struct store store;
	bool store_ok;
	struct event_ring events;
	struct ctl_server *ctl;
	struct observer observer;

	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t watchdog;
	uv_timer_t metrics_timer; /* [metrics] textfile refresh */

	bool stopping;
	int exit_status;
	int closing; /* modules still closing */

	int64_t started_ms;
	char *saved_home; /* the agent home last written to state.json */

	TAILQ_HEAD(, waiter) waiters;

	struct cloud *cloud;
	struct probe_set *probe;
	struct agent *agent;
	struct recovery *rec;
};

static void daemon_stop(struct daemon *d, int status);
static void daemon_save(struct daemon *d);
static void waiters_check(struct daemon *d);

/* ------------------------------------------------------------ ratelimit */

/*
 * The schedule's limit now, in the source's local time or `[ratelimit]
 * timezone` (DST-correct through localtime_r). 0 when it is known, -ENOENT
 * without a schedule or outside every rule (unlimited).
 */
static int
daemon_ratelimit_now(
    const struct daemon *d, uint32_t *mbps, char *window, size_t wlen, int64_t *next_change_s)
{
	time_t now = time(NULL);
	const char *oldtz = getenv("TZ");
	char *saved = oldtz != NULL ? xstrdup(oldtz) : NULL;
	char a[6], b[6];
	uint16_t ws = 0, we = 0;
	int next = -1, r;
	struct tm tm;

	*mbps = 0;
	*next_change_s = 0;
	window[0] = '\0';
	if (!d->cfg->has_schedule) {
		free(saved);
		return -ENOENT;
	}
	/* The loop is single-threaded: switching TZ for one conversion is safe here. */
	if (d->cfg->timezone != NULL) {
		setenv("TZ", d->cfg->timezone, 1);
		tzset();
	}
	localtime_r(&now, &tm);
	if (d->cfg->timezone != NULL) {
		if (saved != NULL)
			setenv("TZ", saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(saved);
	r = schedule_at(
	    &d->cfg->schedule, tm.tm_wday, tm.tm_hour * 60 + tm.tm_min, mbps, &ws, &we, &next);
	if (next >= 0)
		*next_change_s = (int64_t)now - tm.tm_sec + (int64_t)next * 60;
	if (r == 0)
		snprintf(window, wlen, "%s-%s", schedule_format_hhmm(ws, a),
		    schedule_format_hhmm(we, b));
	return r;
}

/* ---------------------------------------------------------------- state */

static cJSON *
daemon_state_json(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "version", STATE_VERSION);
	cJSON_AddNumberToObject(o, "saved_at", (double)(util_wall_ms() / 1000));
	/* The home found from the running agent, so a dead one can be started after a reboot. */
	if (agent_home(d->agent) != NULL)
		cJSON_AddStringToObject(o, "agent_home", agent_home(d->agent));
	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, 0));
	/* A discovered task id survives restarts, so discovery runs once. */
	cJSON_AddItemToObject(o, "cloud", cloud_state_json(d->cloud));
	cJSON_AddItemToObject(o, "recovery", recovery_state_json(d->rec));
	return o;
}

static void
daemon_save(struct daemon *d)
{
	cJSON *doc;

	if (!d->store_ok)
		return;
	doc = daemon_state_json(d);
	store_save(&d->store, doc);
	cJSON_Delete(doc);
}

static void
daemon_save_cb(void *arg)
{
	daemon_save(arg);
}

static void
daemon_restore(struct daemon *d)
{
	cJSON *doc = NULL, *v;
	char *cause = NULL;
	int r;

	r = store_load(&d->store, &doc, &cause);
	if (r == -ENOENT) {
		log_info("no state file yet: %s", d->store.path);
		return;
	}
	if (r < 0) {
		log_warnx("%s", cause);
		free(cause);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "agent_home");
	if (cJSON_IsString(v) && v->valuestring[0] == '/' && strlen(v->valuestring) < 4096 &&
	    agent_set_known_home(d->agent, v->valuestring) == -EINVAL) {
		char esc[512];

		/* An untrusted home (-EPERM) is explained by the agent module itself. */
		log_warnx("the remembered agent home is no longer an agent home: %s",
		    log_escape(v->valuestring, -1, esc, sizeof(esc)));
	}
	events_from_json(&d->events, cJSON_GetObjectItemCaseSensitive(doc, "events"));
	v = cJSON_GetObjectItemCaseSensitive(doc, "cloud");
	if (cJSON_IsObject(v))
		cloud_restore(d->cloud, v);
	recovery_restore(d->rec, cJSON_GetObjectItemCaseSensitive(doc, "recovery"));
	log_info("state restored from %s (%d events)", d->store.path, d->events.count);
	cJSON_Delete(doc);
}

/* --------------------------------------------------------------- events */

static void
daemon_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	struct daemon *d = arg;
	char esc[EVENT_MESSAGE_MAX * 2];

	events_add(&d->events, util_wall_ms(), type, details, message);
	log_info("event %s: %s", event_type_name(type), log_escape(message, -1, esc, sizeof(esc)));
	/* sinks: notify */
	daemon_save(d);
}

/* The probes follow the config's address, else the task's migration_ip, and its ports. */
static void
daemon_retarget(struct daemon *d)
{
	const struct sms_task *t = cloud_task(d->cloud);

	probe_follow(d->probe, d->cfg, t != NULL ? t->migration_ip : NULL,
	    t != NULL ? t->type : TASK_TYPE_UNKNOWN, t != NULL ? t->os_type : TASK_OS_UNKNOWN);
}

static bool
daemon_agent_home_changed(struct daemon *d)
{
	const char *home = agent_home(d->agent);

	if (home == NULL || (d->saved_home != NULL && strcmp(home, d->saved_home) == 0))
		return false;
	free(d->saved_home);
	d->saved_home = xstrdup(home);
	return true;
}

static void
daemon_changed(void *arg, enum obs_source src)
{
	struct daemon *d = arg;

	if (d->stopping)
		return;
	if (src == OBS_TASK)
		daemon_retarget(d);
	/* Local signals are fast, cloud calls frugal: a local change earns a poll now. */
	if (src == OBS_TARGET || src == OBS_AGENT)
		cloud_poll_now(d->cloud);
	recovery_run(d->rec);
	/* A newly learned agent home must survive a kill -9: it is how a dead agent is found. */
	if (src == OBS_TASK || (src == OBS_AGENT && daemon_agent_home_changed(d)))
		daemon_save(d);
	waiters_check(d);
}

/* --------------------------------------------------------------- status */

static enum task_state
daemon_task_state(const struct daemon *d)
{
	const struct sms_task *t = cloud_task(d->cloud);

	return t != NULL ? t->state : TASK_UNKNOWN;
}

static const char *
daemon_health(const struct daemon *d)
{
	return policy_health_name(recovery_health(d->rec));
}

static cJSON *
daemon_status_json(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *task, *target, *agent, *cloud, *recovery, *ratelimit;
	int64_t until = 0;
	bool paused = recovery_paused(d->rec, &until);

	cJSON_AddStringToObject(o, "version", SMSGUARD_VERSION);
	cJSON_AddStringToObject(o, "health", daemon_health(d));
	cJSON_AddBoolToObject(o, "paused", paused);
	if (paused && until > 0)
		cJSON_AddNumberToObject(o, "paused_until", (double)(until / 1000));
	else
		cJSON_AddNullToObject(o, "paused_until");
	cJSON_AddNumberToObject(o, "started_at", (double)(d->started_ms / 1000));
	cJSON_AddNumberToObject(o, "pid", (double)getpid());

	task = cJSON_AddObjectToObject(o, "task");
	target = cJSON_AddObjectToObject(o, "target");
	agent = cJSON_AddObjectToObject(o, "agent");
	cloud = cJSON_AddObjectToObject(o, "cloud");
	recovery = cJSON_AddObjectToObject(o, "recovery");
	ratelimit = cJSON_AddObjectToObject(o, "ratelimit");

	/* Defaults: what is known before any module has reported. */
	if (d->cfg->task_id != NULL)
		cJSON_AddStringToObject(task, "id", d->cfg->task_id);
	else
		cJSON_AddNullToObject(task, "id");
	cJSON_AddStringToObject(task, "state", "unknown");
	if (d->cfg->target_address != NULL)
		cJSON_AddStringToObject(target, "address", d->cfg->target_address);
	else
		cJSON_AddNullToObject(target, "address");
	cJSON_AddStringToObject(target, "state", "unknown");
	cJSON_AddItemToObject(target, "ports", cJSON_CreateArray());
	cJSON_AddStringToObject(agent, "state", "unknown");
	cJSON_AddNullToObject(agent, "pid");
	cJSON_AddNumberToObject(agent, "restarts", 0);
	cJSON_AddStringToObject(cloud, "state", "unknown");
	cJSON_AddNumberToObject(recovery, "actions_in_window", 0);
	cJSON_AddNumberToObject(recovery, "budget", d->cfg->budget_actions);
	cJSON_AddNullToObject(recovery, "next_allowed");
	cJSON_AddNullToObject(recovery, "last_action");
	cJSON_AddBoolToObject(ratelimit, "applied", 0);

	cloud_status_json(d->cloud, task, cloud);
	cJSON_DeleteItemFromObjectCaseSensitive(target, "address");
	cJSON_DeleteItemFromObjectCaseSensitive(target, "state");
	cJSON_DeleteItemFromObjectCaseSensitive(target, "ports");
	probe_status_json(d->probe, target);
	cJSON_DeleteItemFromObjectCaseSensitive(agent, "state");
	cJSON_DeleteItemFromObjectCaseSensitive(agent, "pid");
	cJSON_DeleteItemFromObjectCaseSensitive(agent, "restarts");
	agent_status_json(d->agent, agent);
	recovery_status_json(d->rec, recovery);
	{
		uint32_t mbps;
		int64_t next;
		char window[16];

		daemon_ratelimit_now(d, &mbps, window, sizeof(window), &next);
		cJSON_AddNumberToObject(ratelimit, "current_mbps", mbps);
		if (window[0] != '\0')
			cJSON_AddStringToObject(ratelimit, "window", window);
		else
			cJSON_AddNullToObject(ratelimit, "window");
		if (next > 0)
			cJSON_AddNumberToObject(ratelimit, "next_change", (double)next);
		else
			cJSON_AddNullToObject(ratelimit, "next_change");
		/* Keeping the task's speed-limit in step (apply = cloud) is not done yet. */
		cJSON_AddStringToObject(ratelimit, "apply",
		    d->cfg->ratelimit_apply == RATELIMIT_APPLY_CLOUD ? "cloud" : "off");
	}

	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, STATUS_EVENTS));
	return o;
}

/* --------------------------------------------------------------- reload */

static int
daemon_reload(struct daemon *d, char **cause)
{
	struct config *cfg = NULL;
	struct credentials *cr = NULL;
	int r;

	sdnotify("RELOADING=1");
	if ((r = config_load(d->config_path, &cfg, cause)) < 0 ||
	    (r = credentials_load(cfg, &cr, cause)) < 0) {
		config_free(cfg);
		log_warnx("reload failed, keeping the running configuration: %s", *cause);
		sdnotify("READY=1");
		return r;
	}
	if (strcmp(cfg->socket_path, d->cfg->socket_path) != 0)
		log_warnx("[control] socket changed: takes effect at the next start");
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0)
		log_warnx("[daemon] state_dir changed: takes effect at the next start");
	if (!d->verbose)
		log_setlevel((enum log_level)cfg->log_level);
	ctl_set_group(d->ctl, cfg->has_gid, cfg->gid);
	/* Every module borrows the config: hand the new one to all before freeing the old. */
	cloud_reconfigure(d->cloud, cfg, cr);
	probe_reconfigure(d->probe, cfg);
	agent_reconfigure(d->agent, cfg, cr);
	recovery_reconfigure(d->rec, cfg);
	config_free(d->cfg);
	credentials_free(d->creds);
	d->cfg = cfg;
	d->creds = cr;
	daemon_retarget(d);
	log_info("configuration reloaded from %s", d->config_path);
	sdnotify("READY=1");
	daemon_changed(d, OBS_TASK);
	return 0;
}

/* ---------------------------------------------------------------- wait */

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
	return false;
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

static void
waiters_check(struct daemon *d)
{
	enum task_state st = daemon_task_state(d);
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&d->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!wait_reached(w->until, st))
			continue;
		struct ctl_client *c = w->client;
		cJSON *reply = cJSON_CreateObject();

		cJSON_AddBoolToObject(reply, "ok", 1);
		cJSON_AddStringToObject(reply, "state", task_state_name(st));
		waiter_free(d, w);
		ctl_reply(c, reply);
	}
}

static cJSON *
cmd_wait(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	struct waiter *w;

	if (wait_reached((enum ctl_wait_until)req->wait_until, daemon_task_state(d))) {
		cJSON *reply = cJSON_CreateObject();
		cJSON_AddStringToObject(reply, "state", task_state_name(daemon_task_state(d)));
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

static void
ctl_client_gone(void *arg, struct ctl_client *c)
{
	struct daemon *d = arg;
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&d->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->client == c)
			waiter_free(d, w);
	}
}

/* ------------------------------------------------------------- commands */

static cJSON *
cmd_status(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	return daemon_status_json(d);
}

static cJSON *
cmd_events(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, req->events_n));
	return o;
}

/* DESIGN.md §5.9: the whole picture as Prometheus text. */
static void
daemon_metrics(struct daemon *d, struct metrics *m)
{
	const struct sms_task *t = cloud_task(d->cloud);
	enum task_state st = t != NULL ? t->state : TASK_UNKNOWN;
	int n = probe_port_count(d->probe);
	char port[8];

	metrics_family(m, "smsguard_up", "gauge", "1 while smsguard runs");
	metrics_sample(m, "smsguard_up", 1, NULL);
	metrics_family(m, "smsguard_build_info", "gauge", "smsguard version");
	metrics_sample(m, "smsguard_build_info", 1, "version", SMSGUARD_VERSION, NULL);
	metrics_family(m, "smsguard_target_port_up", "gauge",
	    "1 when the target port is up, 0 when down or unknown");
	for (int i = 0; i < n; i++) {
		struct probe_port_info pi;

		if (probe_port_info(d->probe, i, &pi) < 0)
			continue;
		snprintf(port, sizeof(port), "%u", pi.port);
		metrics_sample(
		    m, "smsguard_target_port_up", pi.state == PORT_UP, "port", port, NULL);
	}
	metrics_family(m, "smsguard_target_port_latency_seconds", "gauge",
	    "smoothed TCP connect time to the target port");
	for (int i = 0; i < n; i++) {
		struct probe_port_info pi;

		if (probe_port_info(d->probe, i, &pi) < 0)
			continue;
		snprintf(port, sizeof(port), "%u", pi.port);
		metrics_sample(m, "smsguard_target_port_latency_seconds",
		    pi.latency.have ? pi.latency.smooth_ms / 1000.0 : NAN, "port", port, NULL);
	}
	metrics_family(m, "smsguard_agent_up", "gauge", "1 while SMS-Agent (linuxmain) runs");
	metrics_sample(m, "smsguard_agent_up", agent_state(d->agent) == AGENT_RUNNING, NULL);
	metrics_family(m, "smsguard_task_state", "gauge", "the migration task's state, one-hot");
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		metrics_sample(m, "smsguard_task_state", st == (enum task_state)i, "state",
		    task_state_name((enum task_state)i), NULL);
	metrics_family(
	    m, "smsguard_task_progress_ratio", "gauge", "progress of the current sub-task, 0..1");
	metrics_sample(m, "smsguard_task_progress_ratio",
	    t != NULL && t->progress >= 0 ? t->progress / 100.0 : NAN, NULL);
	metrics_family(m, "smsguard_actions_total", "counter", "automatic actions by outcome");
	for (int k = ACT_RESUME_TASK; k <= ACT_RESTART_AGENT; k++)
		for (int ok = 0; ok <= 1; ok++)
			metrics_sample(m, "smsguard_actions_total",
			    (double)recovery_actions(d->rec, (enum policy_action_kind)k, ok),
			    "action", policy_action_name((enum policy_action_kind)k), "result",
			    ok ? "ok" : "failed", NULL);
	metrics_family(m, "smsguard_cloud_requests_total", "counter", "cloud API calls by result");
	for (int a = 0; a < CLOUD_API_COUNT; a++)
		for (int r = 0; r <= CLOUD_RES_OTHER; r++) {
			uint64_t v =
			    cloud_requests(d->cloud, (enum cloud_api)a, (enum cloud_result)r);

			/* Every API's ok line, and other results once they happened. */
			if (v == 0 && r != CLOUD_RES_OK)
				continue;
			metrics_sample(m, "smsguard_cloud_requests_total", (double)v, "api",
			    cloud_api_name((enum cloud_api)a), "result",
			    cloud_result_name((enum cloud_result)r), NULL);
		}
	metrics_family(m, "smsguard_ratelimit_mbps", "gauge",
	    "the rate limit in force, Mbit/s (0 = unlimited)");
	{
		uint32_t mbps;
		int64_t next;
		char window[16];

		daemon_ratelimit_now(d, &mbps, window, sizeof(window), &next);
		metrics_sample(m, "smsguard_ratelimit_mbps", mbps, NULL);
	}
	metrics_family(m, "smsguard_last_action_timestamp_seconds", "gauge",
	    "when smsguard last acted (0 = never)");
	metrics_sample(m, "smsguard_last_action_timestamp_seconds",
	    (double)(recovery_last_action_ms(d->rec) / 1000), NULL);
}

/* node_exporter's textfile collector reads whole files only: temp + rename. */
static void
daemon_write_textfile(struct daemon *d)
{
	struct metrics m;
	char *tmp;
	FILE *f;
	int fd;

	if (d->cfg->metrics_textfile == NULL)
		return;
	metrics_init(&m);
	daemon_metrics(d, &m);
	tmp = xasprintf("%s.tmp", d->cfg->metrics_textfile);
	/*
	 * Never through a file someone else put there: the directory may be
	 * writable by the exporter's user, and we are root.
	 */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	f = fd != -1 ? fdopen(fd, "w") : NULL;
	if (f == NULL && fd != -1)
		close(fd);
	if (f == NULL || fputs(metrics_text(&m), f) == EOF || fclose(f) != 0 ||
	    rename(tmp, d->cfg->metrics_textfile) != 0) {
		log_debug("cannot write %s: %s", d->cfg->metrics_textfile, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	metrics_free(&m);
}

static void
metrics_timer_cb(uv_timer_t *t)
{
	daemon_write_textfile(container_of(t, struct daemon, metrics_timer));
}

static cJSON *
cmd_metrics(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();
	struct metrics m;

	metrics_init(&m);
	daemon_metrics(d, &m);
	cJSON_AddStringToObject(o, "metrics", metrics_text(&m));
	metrics_free(&m);
	return o;
}

static cJSON *
cmd_check(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	probe_check_now(d->probe);
	cloud_poll_now(d->cloud);
	return cJSON_CreateObject();
}

static cJSON *
cmd_pause(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	cJSON *o = cJSON_CreateObject();
	int64_t until = req->timeout_ms > 0 ? util_wall_ms() + (int64_t)req->timeout_ms : 0;

	recovery_pause(d->rec, until);
	daemon_save(d);
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
	recovery_resume(d->rec);
	daemon_save(d);
	cJSON_AddBoolToObject(o, "paused", 0);
	return o;
}

static cJSON *
cmd_reload(struct daemon *d, struct ctl_client *c, const struct ctl_request *req)
{
	char *cause = NULL;
	cJSON *o;

	if (daemon_reload(d, &cause) < 0) {
		o = ctl_error(cause != NULL ? cause : "reload failed");
		free(cause);
		return o;
	}
	return cJSON_CreateObject();
}

static cJSON *(*const handlers[CTL_CMD_COUNT])(
    struct daemon *, struct ctl_client *, const struct ctl_request *) = {
    [CTL_CMD_STATUS] = cmd_status,
    [CTL_CMD_EVENTS] = cmd_events,
    [CTL_CMD_METRICS] = cmd_metrics,
    [CTL_CMD_WAIT] = cmd_wait,
    [CTL_CMD_CHECK] = cmd_check,
    [CTL_CMD_PAUSE] = cmd_pause,
    [CTL_CMD_RESUME] = cmd_resume,
    [CTL_CMD_RELOAD] = cmd_reload,
};

static cJSON *
ctl_dispatch(void *arg, struct ctl_client *c, const struct ctl_request *req)
{
	struct daemon *d = arg;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT || handlers[req->cmd] == NULL)
		return ctl_error("unknown command");
	if (d->stopping)
		return ctl_error("shutting down");
	return handlers[req->cmd](d, c, req);
}

/* -------------------------------------------------------------- signals */

static void
signal_cb(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	char *cause = NULL;

	switch (signum) {
	case SIGHUP:
		log_info("SIGHUP: reloading %s", d->config_path);
		daemon_reload(d, &cause);
		free(cause);
		break;
	default:
		log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
		daemon_stop(d, 0);
		break;
	}
}

static void
watchdog_cb(uv_timer_t *t)
{
	sdnotify("WATCHDOG=1");
}

/* ------------------------------------------------------------- shutdown */

static void
module_closed(void *arg)
{
	struct daemon *d = arg;

	d->closing--;
}

static void
daemon_modules_close(struct daemon *d)
{
	/* None of these calls back into the others once closing. */
	if (d->cloud != NULL) {
		d->closing++;
		cloud_close(d->cloud, module_closed, d);
		d->cloud = NULL;
	}
	if (d->probe != NULL) {
		d->closing++;
		probe_close(d->probe, module_closed, d);
		d->probe = NULL;
	}
	if (d->agent != NULL) {
		d->closing++;
		agent_close(d->agent, module_closed, d);
		d->agent = NULL;
	}
	if (d->rec != NULL) {
		d->closing++;
		recovery_close(d->rec, module_closed, d);
		d->rec = NULL;
	}
}

static void
daemon_stop(struct daemon *d, int status)
{
	struct waiter *w;

	if (d->stopping)
		return;
	d->stopping = true;
	d->exit_status = status;
	sdnotify("STOPPING=1");
	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		struct ctl_client *c = w->client;

		waiter_free(d, w);
		ctl_reply(c, ctl_error("shutting down"));
	}
	daemon_save(d);
	daemon_modules_close(d);
	if (d->ctl != NULL) {
		d->closing++;
		ctl_close(d->ctl, module_closed, d);
		d->ctl = NULL;
	}
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	uv_close((uv_handle_t *)&d->metrics_timer, NULL);
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	log_warnx("handle of type %s still open at exit", uv_handle_type_name(h->type));
}

/* ------------------------------------------------------------------ run */

static int
daemon_modules_new(struct daemon *d, char **cause)
{
	struct recovery_deps deps;
	int r;

	if ((r = cloud_new(&d->loop, d->cfg, d->creds, &d->observer, NULL, &d->cloud, cause)) < 0)
		return r;
	if ((r = probe_new(&d->loop, d->cfg, &d->observer, &d->probe)) < 0 ||
	    (r = agent_new(&d->loop, d->cfg, d->creds, &d->observer, &d->agent)) < 0) {
		*cause = xasprintf("cannot start the watchers: %s", strerror(-r));
		return r;
	}
	memset(&deps, 0, sizeof(deps));
	deps.cloud = d->cloud;
	deps.probe = d->probe;
	deps.agent = d->agent;
	deps.save = daemon_save_cb;
	deps.save_arg = d;
	return recovery_new(&d->loop, d->cfg, &d->observer, &deps, &d->rec);
}

int
daemon_run(const char *config_path, int verbose)
{
	struct daemon *d;
	struct ctl_handler ch;
	char *cause = NULL;
	uint64_t wd;
	int r, status;

	d = xcalloc(1, sizeof(*d));
	d->config_path = config_path;
	d->verbose = verbose;
	d->started_ms = util_wall_ms();
	TAILQ_INIT(&d->waiters);
	events_init(&d->events);
	log_init(verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	util_random_seed((uint64_t)d->started_ms ^ ((uint64_t)getpid() << 32));

	if (config_load(config_path, &d->cfg, &cause) < 0 ||
	    credentials_load(d->cfg, &d->creds, &cause) < 0) {
		log_errorx("%s", cause);
		free(cause);
		config_free(d->cfg);
		free(d);
		return 1;
	}
	if (!verbose)
		log_setlevel((enum log_level)d->cfg->log_level);
	/* A peer that closes its socket early must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);

	if (uv_loop_init(&d->loop) != 0)
		fatalx("cannot initialise the event loop");

	d->observer.arg = d;
	d->observer.changed = daemon_changed;
	d->observer.event = daemon_event;
	if (daemon_modules_new(d, &cause) < 0) {
		log_errorx("%s", cause);
		free(cause);
		daemon_modules_close(d);
		status = 1;
		goto out;
	}

	if (store_open(&d->store, d->cfg->state_dir, &cause) < 0) {
		log_warnx("state will not be kept: %s", cause);
		free(cause);
		cause = NULL;
	} else {
		d->store_ok = true;
		daemon_restore(d);
	}

	ch.arg = d;
	ch.dispatch = ctl_dispatch;
	ch.client_gone = ctl_client_gone;
	if ((r = ctl_new(&d->loop, d->cfg->socket_path, d->cfg->has_gid, d->cfg->gid, &ch, &d->ctl,
	         &cause)) < 0) {
		log_errorx("control socket: %s", cause);
		free(cause);
		daemon_modules_close(d);
		status = 1;
		goto out;
	}

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sighup, signal_cb, SIGHUP);
	uv_timer_init(&d->loop, &d->watchdog);
	if ((wd = sdnotify_watchdog_ms()) > 0)
		uv_timer_start(&d->watchdog, watchdog_cb, wd / 2, wd / 2);
	uv_timer_init(&d->loop, &d->metrics_timer);
	uv_timer_start(&d->metrics_timer, metrics_timer_cb, 1000, 15000);

	daemon_retarget(d);
	agent_start(d->agent);
	cloud_start(d->cloud);
	recovery_run(d->rec);

	log_info("smsguard %s started (config %s, socket %s)", SMSGUARD_VERSION, config_path,
	    d->cfg->socket_path);
	sdnotify("READY=1");
	sdnotifyf(
	    "STATUS=watching task %s", d->cfg->task_id != NULL ? d->cfg->task_id : "(discovering)");

	uv_run(&d->loop, UV_RUN_DEFAULT);
	status = d->exit_status;
out:
	/* Drain whatever close callbacks are still pending. */
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0) {
		uv_walk(&d->loop, walk_cb, NULL);
		log_errorx("event loop not empty at exit");
		status = 1;
	}
	if (d->store_ok)
		store_close(&d->store);
	events_clear(&d->events);
	free(d->saved_home);
	credentials_free(d->creds);
	config_free(d->cfg);
	free(d);
	log_info("stopped");
	return status;
}
