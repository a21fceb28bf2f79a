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
	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, STATUS_EVENTS));
	return o;
}

/* ------------------------------------------------------------- metrics */

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
	    "smoothed TCP connect time to the target port");
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
	enum task_state st = t != NULL ? t->state : TASK_UNKNOWN;

	metrics_family(m, "smsguard_task_state", "gauge", "the migration task's state, one-hot");
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		metrics_sample(m, "smsguard_task_state", st == (enum task_state)i, "state",
		    task_state_name((enum task_state)i), NULL);
	metrics_family(
	    m, "smsguard_task_progress_ratio", "gauge", "progress of the current sub-task, 0..1");
	metrics_sample(m, "smsguard_task_progress_ratio",
	    t != NULL && t->progress >= 0 ? t->progress / 100.0 : NAN, NULL);
}

static void
metrics_actions(const struct engine *e, struct metrics *m)
{
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
}

static void
metrics_cloud(struct daemon *d, struct metrics *m)
{
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
}

/* DESIGN.md §5.9: the whole picture as Prometheus text. */
static void
metrics_all(struct daemon *d, struct metrics *m)
{
	const struct engine *e = executor_engine(d->exec);

	metrics_family(m, "smsguard_up", "gauge", "1 while smsguard runs");
	metrics_sample(m, "smsguard_up", 1, NULL);
	metrics_family(m, "smsguard_build_info", "gauge", "smsguard version");
	metrics_sample(m, "smsguard_build_info", 1, "version", SMSGUARD_VERSION, NULL);
	metrics_target(d, m);
	metrics_family(m, "smsguard_agent_up", "gauge", "1 while SMS-Agent (linuxmain) runs");
	metrics_sample(m, "smsguard_agent_up", agent_state(d->agent) == AGENT_RUNNING, NULL);
	metrics_task(e, m);
	metrics_actions(e, m);
	metrics_cloud(d, m);
	metrics_family(m, "smsguard_ratelimit_mbps", "gauge",
	    "the rate limit in force, Mbit/s (0 = unlimited)");
	metrics_sample(
	    m, "smsguard_ratelimit_mbps", d->rl != NULL ? ratelimit_current_mbps(d->rl) : 0, NULL);
	notify_metrics(d->notify, m);
}

char *
status_metrics_text(struct daemon *d)
{
	struct metrics m;
	char *text;

	metrics_init(&m);
	metrics_all(d, &m);
	text = xstrdup(metrics_text(&m));
	metrics_free(&m);
	return text;
}

/* node_exporter's textfile collector reads whole files only: temp + rename. */
void
status_write_textfile(struct daemon *d)
{
	char *tmp, *text;
	bool ok;
	FILE *f;
	int fd;

	if (d->cfg->metrics_textfile == NULL)
		return;
	text = status_metrics_text(d);
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
	if (!ok || rename(tmp, d->cfg->metrics_textfile) != 0) {
		log_debug("cannot write %s: %s", d->cfg->metrics_textfile, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(text);
}
