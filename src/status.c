/*
 * What `smsguardctl status` and `metrics` show (DESIGN.md §5.8, §5.9):
 * read-only. Each module contributes its own object (cloud_status_json,
 * probe_status_json, agent_status_json, engine_status_json,
 * notify_status_json); this file
 * puts them together, with the defaults shown before a module has spoken.
 */
#define LOG_TAG "status"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "smsguard-build.h"
#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/engine.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/metrics.h"
#include "smsguard/notify.h"
#include "smsguard/preflight.h"
#include "smsguard/probe.h"
#include "smsguard/ratelimit.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

#define STATUS_EVENTS 5

/* What is known before any module has reported. */
static void
status_defaults(struct daemon *d, cJSON *task, cJSON *cloud, cJSON *recovery, cJSON *ratelimit)
{
	if (d->cfg->task_id != NULL)
		cJSON_AddStringToObject(task, "id", d->cfg->task_id);
	else
		cJSON_AddNullToObject(task, "id");
	cJSON_AddStringToObject(task, "state", "unknown");
	cJSON_AddStringToObject(cloud, "state", "unknown");
	cJSON_AddNumberToObject(recovery, "actions_in_window", 0);
	cJSON_AddNumberToObject(recovery, "budget", d->cfg->budget_actions);
	cJSON_AddNullToObject(recovery, "next_allowed");
	cJSON_AddNullToObject(recovery, "last_action");
}

cJSON *
status_json(struct daemon *d)
{
	const struct engine *e = executor_engine(d->exec);
	cJSON *o = cJSON_CreateObject();
	cJSON *task, *target, *agent, *cloud, *recovery, *ratelimit;
	int64_t until = 0;
	bool paused = engine_paused(e, &until);

	cJSON_AddStringToObject(o, "version", SMSGUARD_VERSION);
	cJSON_AddStringToObject(o, "health", policy_health_name(e->health));
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
	status_defaults(d, task, cloud, recovery, ratelimit);

	cloud_status_json(d->cloud, cloud);
	taskpoll_status_json(d->poll, task, cloud);
	probe_status_json(d->probe, target);
	agent_status_json(d->agent, agent);
	engine_status_json(e, util_wall_ms(), recovery);
	if (d->rl != NULL)
		ratelimit_status_json(d->rl, ratelimit);
	else
		cJSON_AddBoolToObject(ratelimit, "applied", 0);
	notify_status_json(d->notify, cJSON_AddObjectToObject(o, "notify"));
	cJSON_AddItemToObject(
	    o, "preflight", d->pf != NULL ? preflight_status_json(d->pf) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, STATUS_EVENTS));
	return o;
}

/* ------------------------------------------------------------- metrics */

/* enum cloud_state has no count of its own: its last member. */
#define CLOUD_STATES (CLOUD_THROTTLED + 1)
#define HEALTHS (POLICY_HEALTH_FAILED + 1)

static void
metrics_target(struct daemon *d, struct metrics *m)
{
	int n = probe_port_count(d->probe);
	struct probe_port_info pi;
	char port[8];

	metrics_family(m, "smsguard_target_port_up", "gauge",
	    "1 when the target port is up, 0 when down or unknown");
	for (int i = 0; i < n; i++) {
		if (probe_port_info(d->probe, i, &pi) < 0)
			continue;
		snprintf(port, sizeof(port), "%u", pi.port);
		metrics_sample(
		    m, "smsguard_target_port_up", pi.state == PORT_UP, "port", port, NULL);
	}
	metrics_family(m, "smsguard_target_port_latency_seconds", "gauge",
	    "smoothed TCP connect time to the target port (NaN until measured)");
	for (int i = 0; i < n; i++) {
		if (probe_port_info(d->probe, i, &pi) < 0)
			continue;
		snprintf(port, sizeof(port), "%u", pi.port);
		metrics_sample(m, "smsguard_target_port_latency_seconds",
		    pi.latency.have ? pi.latency.smooth_ms / 1000.0 : NAN, "port", port, NULL);
	}
}

static void
metrics_task(const struct engine *e, struct metrics *m)
{
	const struct sms_task *t = engine_task(e);
	const char *states[TASK_STATE_COUNT];

	for (int i = 0; i < TASK_STATE_COUNT; i++)
		states[i] = task_state_name((enum task_state)i);
	metrics_family(m, "smsguard_task_state", "gauge",
	    "the migration task's state, one-hot (unknown: not polled yet, or a state smsguard "
	    "does not know)");
	metrics_onehot(m, "smsguard_task_state", "state", states, TASK_STATE_COUNT,
	    t != NULL ? (int)t->state : TASK_UNKNOWN);
	metrics_family(m, "smsguard_task_progress_ratio", "gauge",
	    "progress of the current sub-task, 0..1 (NaN unknown)");
	metrics_sample(m, "smsguard_task_progress_ratio",
	    t != NULL && t->progress >= 0 ? t->progress / 100.0 : NAN, NULL);
	metrics_family(m, "smsguard_task_speed_mbps", "gauge",
	    "the task's migration speed as SMS reports it, Mbit/s (NaN unknown)");
	metrics_sample(m, "smsguard_task_speed_mbps",
	    t != NULL && t->has_migrate_speed ? t->migrate_speed : NAN, NULL);
	metrics_family(m, "smsguard_task_remaining_seconds", "gauge",
	    "time SMS expects the task still needs (NaN unknown)");
	metrics_sample(m, "smsguard_task_remaining_seconds",
	    t != NULL && t->remain_seconds >= 0 ? (double)t->remain_seconds : NAN, NULL);
}

static void
metrics_recovery(const struct engine *e, struct metrics *m)
{
	const char *health[HEALTHS];
	bool paused = engine_paused(e, NULL);

	for (int i = 0; i < HEALTHS; i++)
		health[i] = policy_health_name((enum policy_health)i);
	metrics_family(m, "smsguard_health", "gauge",
	    "smsguard's verdict, one-hot: ok, degraded (acting or waiting), failed (a person is "
	    "needed)");
	metrics_onehot(m, "smsguard_health", "state", health, HEALTHS, (int)e->health);
	metrics_family(
	    m, "smsguard_paused", "gauge", "1 while automatic actions are paused by an operator");
	metrics_sample(m, "smsguard_paused", paused, NULL);
	metrics_family(m, "smsguard_actions_total", "counter", "automatic actions by outcome");
	for (int k = ACT_RESUME_TASK; k <= ACT_RESTART_AGENT; k++)
		for (int ok = 0; ok <= 1; ok++)
			metrics_sample(m, "smsguard_actions_total", (double)e->actions[k][ok],
			    "action", policy_action_name((enum policy_action_kind)k), "result",
			    ok ? "ok" : "failed", NULL);
	metrics_family(m, "smsguard_last_action_timestamp_seconds", "gauge",
	    "when smsguard last acted (0 = never)");
	metrics_sample(
	    m, "smsguard_last_action_timestamp_seconds", (double)(e->last_action_ms / 1000), NULL);
	metrics_family(m, "smsguard_recovery_exhausted", "gauge",
	    "1 while the recovery budget is spent and holds an action back");
	metrics_sample(
	    m, "smsguard_recovery_exhausted", engine_recovery_exhausted(e, util_wall_ms()), NULL);
}

static void
metrics_cloud(struct daemon *d, struct metrics *m)
{
	const char *states[CLOUD_STATES];

	for (int i = 0; i < CLOUD_STATES; i++)
		states[i] = cloud_state_name((enum cloud_state)i);
	metrics_family(
	    m, "smsguard_cloud_state", "gauge", "the cloud API as smsguard sees it, one-hot");
	metrics_onehot(
	    m, "smsguard_cloud_state", "state", states, CLOUD_STATES, (int)cloud_state(d->cloud));
	metrics_family(m, "smsguard_cloud_requests_total", "counter", "cloud API calls by result");
	for (int a = 0; a < CLOUD_API_COUNT; a++)
		for (int r = 0; r < CLOUD_RES_COUNT; r++)
			metrics_sample(m, "smsguard_cloud_requests_total",
			    (double)cloud_requests(
			        d->cloud, (enum cloud_api)a, (enum cloud_result)r),
			    "api", cloud_api_name((enum cloud_api)a), "result",
			    cloud_result_name((enum cloud_result)r), NULL);
}

/*
 * DESIGN.md §5.9: the whole picture as Prometheus text. Every label set is
 * written from the start, so a query never waits for a series to appear.
 * up is 0 only in the last textfile a stopping daemon writes.
 */
static void
metrics_all(struct daemon *d, struct metrics *m, bool up)
{
	const struct engine *e = executor_engine(d->exec);

	metrics_family(m, "smsguard_up", "gauge", "1 while smsguard runs, 0 once it has stopped");
	metrics_sample(m, "smsguard_up", up, NULL);
	metrics_family(m, "smsguard_build_info", "gauge", "smsguard's version, in the label");
	metrics_sample(m, "smsguard_build_info", 1, "version", SMSGUARD_VERSION, NULL);
	metrics_target(d, m);
	metrics_family(m, "smsguard_agent_up", "gauge", "1 while SMS-Agent (linuxmain) runs");
	metrics_sample(m, "smsguard_agent_up", agent_state(d->agent) == AGENT_RUNNING, NULL);
	metrics_task(e, m);
	metrics_recovery(e, m);
	metrics_cloud(d, m);
	metrics_family(m, "smsguard_ratelimit_mbps", "gauge",
	    "the rate limit in force, Mbit/s (0 = unlimited)");
	metrics_sample(
	    m, "smsguard_ratelimit_mbps", d->rl != NULL ? ratelimit_current_mbps(d->rl) : 0, NULL);
	notify_metrics(d->notify, m);
}

static char *
metrics_text_of(struct daemon *d, bool up)
{
	struct metrics m;
	char *text;

	metrics_init(&m);
	metrics_all(d, &m, up);
	text = xstrdup(metrics_text(&m));
	metrics_free(&m);
	return text;
}

char *
status_metrics_text(struct daemon *d)
{
	return metrics_text_of(d, true);
}

/* node_exporter's textfile collector reads whole files only: temp + rename. */
void
status_write_textfile(struct daemon *d, bool up)
{
	char *tmp, *text;
	bool ok;
	FILE *f;
	int fd;

	if (d->cfg->metrics_textfile == NULL)
		return;
	text = metrics_text_of(d, up);
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
	ok = f != NULL && fputs(text, f) != EOF;
	/* Closed whatever fputs did, so a failed write leaks no descriptor. */
	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, d->cfg->metrics_textfile) != 0)
		ok = false;
	if (!ok) {
		/* Once per streak: a missing directory must not fill the journal. */
		if (!d->textfile_failing)
			log_warn("cannot write the metrics textfile %s", d->cfg->metrics_textfile);
		unlink(tmp);
	} else if (d->textfile_failing) {
		log_info("metrics textfile %s written again", d->cfg->metrics_textfile);
	}
	d->textfile_failing = !ok;
	free(tmp);
	free(text);
}
