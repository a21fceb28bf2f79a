/*
 * `smsguardctl status` for a person: a report taken in at a glance. Health
 * and its reason first, then the task with a progress bar, speed and ETA, the
 * target's ports with their latency, the agent, the cloud, the recovery
 * budget, the rate limit, the notification sinks (when the daemon has them)
 * and the last events. Colour marks what is good (green), what is being
 * handled (yellow) and what is wrong (red); without colour the words say the
 * same. Missing keys print "-": an older or newer daemon is still readable.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "out.h"
#include "smsguard/task.h"
#include "smsguard/util.h"
#include "smsguardctl.h"

/* Events shown under `status`. */
#define STATUS_EVENTS 5
#define STATUS_PREFLIGHT 5 /* checks not ok shown; preflight lists them all */
/* The progress bar's width in columns, between these. */
#define BAR_MIN 10
#define BAR_MAX 50

static bool
str_is(const char *s, const char *word)
{
	return s != NULL && strcmp(s, word) == 0;
}

static bool
str_in(const char *s, const char *const *words)
{
	for (; *words != NULL; words++)
		if (str_is(s, *words))
			return true;
	return false;
}

enum out_color
report_health_color(const char *health)
{
	if (str_is(health, "ok"))
		return OUT_GREEN;
	if (str_is(health, "degraded"))
		return OUT_YELLOW;
	return OUT_RED;
}

/* A task state: moving or done green, failed red, anything else as it is. */
enum out_color
report_state_color(const char *state)
{
	static const char *const good[] = {
	    "RUNNING", "SYNCING", "MIGRATE_SUCCESS", "SYNC_SUCCESS", NULL};
	static const char *const bad[] = {"MIGRATE_FAIL", "SYNC_FAIL", "ABORT", "ABORTING", NULL};

	if (str_in(state, good))
		return OUT_GREEN;
	if (str_in(state, bad))
		return OUT_RED;
	return OUT_PLAIN;
}

/* A port, the target, the agent or the cloud: up/running/ok green, unknown yellow, else red. */
static enum out_color
watch_color(const char *state)
{
	static const char *const good[] = {"up", "running", "ok", NULL};
	static const char *const unsure[] = {"unknown", "throttled", NULL};

	if (state == NULL)
		return OUT_PLAIN;
	if (str_in(state, good))
		return OUT_GREEN;
	if (str_in(state, unsure))
		return OUT_YELLOW;
	return OUT_RED;
}

bool
report_task_active(const char *state)
{
	return str_is(state, "RUNNING") || str_is(state, "SYNCING");
}

void
report_bar(struct line *l, double pct, int width, enum out_color c)
{
	char bar[BAR_MAX + 1];
	int fill, i;

	if (width > BAR_MAX)
		width = BAR_MAX;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	fill = (int)(pct * width / 100 + 0.5);
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '-';
	line_add(l, "[");
	line_colored(l, c, "%.*s", fill, bar);
	line_colored(l, OUT_DIM, "%.*s", width - fill, bar + fill);
	line_add(l, "] %3.0f%%", pct);
}

/* "95.5 Mbit/s, ETA 04:12:40 (in 1h0m)": the ETA only while the task moves. */
void
report_speed(struct line *l, const cJSON *task, time_t now)
{
	double speed, remain;
	time_t at;

	if (reply_num(task, "migrate_speed_mbps", &speed))
		line_add(l, "%.1f Mbit/s", speed);
	else
		line_add(l, "-");
	if (!report_task_active(reply_str(task, "state")) ||
	    !reply_num(task, "remain_seconds", &remain) || !(remain > 0 && remain < 1e9))
		return;
	/* SMS's estimate was made when the task was polled. */
	if (!reply_time(task, "polled_at", &at))
		at = now;
	at += (time_t)remain;
	if (at < now)
		at = now;
	line_add(l, ", ETA ");
	line_clock(l, at, now);
	line_add(l, " (");
	line_relative(l, at, now);
	line_add(l, ")");
}

static void
status_header(const cJSON *st, time_t now)
{
	const char *health = reply_str(st, "health"), *reason;
	const cJSON *paused = reply_get(st, "paused");
	struct line l = {.len = 0};
	time_t started;
	char d[48];
	double pid;

	line_add(&l, "smsguard ");
	line_text(&l, reply_str(st, "version"));
	if (reply_num(st, "pid", &pid))
		line_add(&l, ", pid %.0f", pid);
	if (reply_time(st, "started_at", &started) && started <= now)
		line_add(&l, ", up %s", out_span((uint64_t)(now - started), d, sizeof(d)));
	line_print(&l);

	line_label(&l, 0, "health");
	line_color(&l, report_health_color(health));
	line_text(&l, health);
	line_color(&l, OUT_PLAIN);
	reason = reply_str(reply_get(st, "recovery"), "reason");
	if (reason != NULL) {
		line_add(&l, ": ");
		line_text(&l, reason);
	}
	line_print(&l);

	line_label(&l, 0, "paused");
	if (!cJSON_IsBool(paused)) {
		line_add(&l, "-");
	} else if (cJSON_IsFalse(paused)) {
		line_add(&l, "no");
	} else {
		line_color_text(&l, OUT_YELLOW, "yes");
		line_add(&l, ", no automatic actions until ");
		line_when(&l, st, "paused_until", now, "smsguardctl resume");
	}
	line_print(&l);
}

/* "[####------]  42% (sub-task SYNC)", the bar as wide as the page allows. */
static void
task_progress(const cJSON *task)
{
	const char *sub = reply_str(task, "subtask");
	struct line l = {.len = 0}, tail = {.len = 0};
	int bar;
	double pct;

	line_label(&l, 2, "progress");
	if (!reply_num(task, "progress", &pct)) {
		line_add(&l, "-");
		line_print(&l);
		return;
	}
	if (sub != NULL) {
		line_add(&tail, " (sub-task ");
		line_text(&tail, sub);
		line_add(&tail, ")");
	}
	/* The page less the label, "[", "] 100%", the tail and a spare column. */
	bar = out.width - OUT_VALUE_COL - 8 - line_cols(&tail) - 1;
	bar = bar < BAR_MIN ? BAR_MIN : bar > BAR_MAX ? BAR_MAX : bar;
	report_bar(&l, pct, bar, report_state_color(reply_str(task, "state")));
	line_add(&l, "%s", tail.buf);
	line_print(&l);
}

static void
task_error(const cJSON *task)
{
	const char *code = reply_str(task, "error_code"), *meaning;
	struct line l = {.len = 0};

	line_label(&l, 2, "error");
	if (reply_get(task, "error_code") == NULL) {
		line_add(&l, "-");
	} else if (code == NULL) {
		line_add(&l, "none");
	} else {
		line_color_text(&l, OUT_RED, code);
		if ((meaning = reply_str(task, "error_message")) == NULL &&
		    (meaning = reply_str(task, "error_meaning")) == NULL)
			meaning = task_error_meaning(code);
		if (meaning != NULL) {
			line_add(&l, ": ");
			line_text(&l, meaning);
		}
	}
	line_print(&l);
}

static void
status_task(const cJSON *task, time_t now)
{
	const char *state = reply_str(task, "state");
	struct line l = {.len = 0};

	line_label(&l, 0, "task");
	line_text(&l, reply_str(task, "id"));
	if (reply_str(task, "name") != NULL) {
		line_add(&l, " \"");
		line_text(&l, reply_str(task, "name"));
		line_add(&l, "\"");
	}
	line_print(&l);

	line_label(&l, 2, "state");
	line_color_text(&l, report_state_color(state), state);
	if (reply_str(task, "type") != NULL || reply_str(task, "os_type") != NULL) {
		line_add(&l, " (");
		line_text(&l, reply_str(task, "type"));
		line_add(&l, ", ");
		line_text(&l, reply_str(task, "os_type"));
		line_add(&l, ")");
	}
	line_print(&l);

	task_progress(task);
	line_label(&l, 2, "speed");
	report_speed(&l, task, now);
	line_print(&l);
	task_error(task);
	line_label(&l, 2, "polled");
	line_when(&l, task, "polled_at", now, "never");
	line_print(&l);
}

static void
status_port(const cJSON *p, time_t now)
{
	const char *state = reply_str(p, "state");
	struct line l = {.len = 0};
	double d;

	line_add(&l, "  port ");
	if (reply_num(p, "port", &d))
		line_add(&l, "%.0f", d);
	else
		line_add(&l, "-");
	line_pad(&l, OUT_VALUE_COL);
	l.indent = OUT_VALUE_COL;
	line_color_text(&l, watch_color(state), state);
	line_pad(&l, OUT_VALUE_COL + 9);
	/* A down port's latency is from before it went down: not news. */
	if (!str_is(state, "down") && reply_num(p, "latency_ms", &d))
		line_add(&l, "%.1f ms", d);
	else
		line_add(&l, "-");
	line_pad(&l, OUT_VALUE_COL + 20);
	line_add(&l, "since ");
	line_when(&l, p, "since", now, "-");
	if (reply_str(p, "last_error") != NULL) {
		line_add(&l, ", last error: ");
		line_text(&l, reply_str(p, "last_error"));
	}
	line_print(&l);
}

static void
status_target(const cJSON *target, time_t now)
{
	const cJSON *ports = reply_get(target, "ports"), *p;
	const char *state = reply_str(target, "state");
	struct line l = {.len = 0};

	line_label(&l, 0, "target");
	line_text(&l, reply_str(target, "address"));
	line_add(&l, " ");
	line_color_text(&l, watch_color(state), state);
	line_print(&l);
	if (!cJSON_IsArray(ports))
		return;
	cJSON_ArrayForEach(p, ports)
	{
		status_port(p, now);
	}
}

static void
status_agent(const cJSON *agent, time_t now)
{
	const cJSON *last = reply_get(agent, "last_restart");
	const char *state = reply_str(agent, "state");
	struct line l = {.len = 0};
	double d;

	line_label(&l, 0, "agent");
	line_color_text(&l, watch_color(state), state);
	if (reply_num(agent, "pid", &d))
		line_add(&l, ", pid %.0f", d);
	line_add(&l, ", restarts ");
	if (reply_num(agent, "restarts", &d))
		line_add(&l, "%.0f", d);
	else
		line_add(&l, "-");
	if (cJSON_IsTrue(reply_get(agent, "restarting")))
		line_add(&l, ", restart under way");
	else if (reply_get(agent, "since") != NULL) {
		line_add(&l, ", since ");
		line_when(&l, agent, "since", now, "-");
	}
	line_print(&l);
	if (reply_str(agent, "home") != NULL) {
		line_label(&l, 2, "home");
		line_text(&l, reply_str(agent, "home"));
		line_print(&l);
	}
	if (cJSON_IsObject(last)) {
		line_label(&l, 2, "restarted");
		line_when(&l, last, "time", now, "-");
		line_add(&l, ", ");
		line_text(&l, reply_str(last, "result"));
		line_print(&l);
	}
}

static void
status_cloud(const cJSON *cloud, time_t now)
{
	const char *state = reply_str(cloud, "state");
	struct line l = {.len = 0};
	time_t t;
	double errors;

	line_label(&l, 0, "cloud");
	line_color_text(&l, watch_color(state), state);
	if (reply_num(cloud, "errors", &errors) && errors > 0)
		line_add(&l, ", %.0f error%s", errors, errors == 1 ? "" : "s");
	line_add(&l, ", answered ");
	if (reply_time(cloud, "last_ok", &t))
		line_relative(&l, t, now);
	else
		line_add(&l, reply_get(cloud, "last_ok") != NULL ? "never" : "-");
	if (reply_time(cloud, "next_poll", &t)) {
		line_add(&l, ", next poll ");
		line_relative(&l, t < now ? now : t, now);
	}
	line_print(&l);
	if (reply_str(cloud, "last_error") != NULL && !str_is(state, "ok")) {
		line_label(&l, 2, "last error");
		line_text(&l, reply_str(cloud, "last_error"));
		line_print(&l);
	}
}

static enum out_color
outcome_color(const char *outcome)
{
	if (str_is(outcome, "ok"))
		return OUT_GREEN;
	if (str_is(outcome, "failed"))
		return OUT_RED;
	return OUT_YELLOW;
}

static void
status_recovery(const cJSON *rec, time_t now)
{
	const cJSON *last = reply_get(rec, "last_action");
	struct line l = {.len = 0};
	double used = 0, budget = 0;
	bool spent;

	spent = reply_num(rec, "actions_in_window", &used) && reply_num(rec, "budget", &budget) &&
	    used >= budget;
	line_label(&l, 0, "recovery");
	if (reply_get(rec, "budget") == NULL)
		line_add(&l, "-");
	else if (spent)
		line_colored(&l, OUT_RED, "%.0f of %.0f", used, budget);
	else
		line_add(&l, "%.0f of %.0f", used, budget);
	line_add(&l, " actions used in the window, next allowed ");
	line_when(&l, rec, "next_allowed", now, "now");
	line_print(&l);

	line_label(&l, 2, "last");
	if (cJSON_IsObject(last)) {
		const char *outcome = reply_str(last, "outcome");

		if (outcome == NULL)
			outcome = reply_str(last, "result");
		line_text(&l, reply_str(last, "action"));
		line_add(&l, " ");
		line_color_text(&l, outcome_color(outcome), outcome);
		line_add(&l, ", ");
		line_when(&l, last, "time", now, "-");
	} else {
		line_add(&l, last == NULL ? "-" : "none");
	}
	line_print(&l);
	if (reply_get(rec, "backoff_until") != NULL &&
	    !cJSON_IsNull(reply_get(rec, "backoff_until"))) {
		line_label(&l, 2, "backoff");
		line_add(&l, "until ");
		line_when(&l, rec, "backoff_until", now, "-");
		line_print(&l);
	}
}

/* "08:00-18:00 50, 18:00-23:59 unlimited" from a periods array; "unlimited all day" when empty. */
static void
line_periods(struct line *l, const cJSON *arr)
{
	const cJSON *p;
	int i = 0;

	if (cJSON_GetArraySize(arr) == 0) {
		line_add(l, "unlimited all day");
		return;
	}
	cJSON_ArrayForEach(p, arr)
	{
		double mbps = 0;

		line_add(l, "%s", i++ > 0 ? ", " : "");
		line_text(l, reply_str(p, "start"));
		line_add(l, "-");
		line_text(l, reply_str(p, "end"));
		if (reply_num(p, "mbps", &mbps))
			line_add(l, " %.0f", mbps);
	}
	line_add(l, " Mbit/s");
}

static void
ratelimit_first(const cJSON *rl)
{
	const cJSON *applied = reply_get(rl, "applied");
	const char *apply = reply_str(rl, "apply");
	struct line l = {.len = 0};
	double mbps;

	line_label(&l, 0, "ratelimit");
	if (!reply_num(rl, "current_mbps", &mbps))
		line_add(&l, "-");
	else if (mbps <= 0)
		line_add(&l, "unlimited");
	else
		line_add(&l, "%.0f Mbit/s", mbps);
	if (reply_str(rl, "window") != NULL) {
		line_add(&l, " (");
		line_text(&l, reply_str(rl, "window"));
		if (reply_str(rl, "timezone") != NULL) {
			line_add(&l, " ");
			line_text(&l, reply_str(rl, "timezone"));
		}
		line_add(&l, ")");
	}
	if (apply != NULL && strcmp(apply, "off") == 0)
		line_add(&l, ", apply = off");
	else if (cJSON_IsBool(applied))
		line_add(&l, ", %s", cJSON_IsTrue(applied) ? "applied" : "not applied");
	line_print(&l);
}

static void
status_ratelimit(const cJSON *rl, time_t now)
{
	struct line l = {.len = 0};
	double mbps;

	ratelimit_first(rl);
	if (reply_num(rl, "next_change", &mbps)) {
		line_label(&l, 2, "next");
		line_when(&l, rl, "next_change", now, "-");
		if (reply_num(rl, "next_mbps", &mbps))
			line_add(&l, mbps > 0 ? " -> %.0f Mbit/s" : " -> unlimited", mbps);
		line_print(&l);
	}
	if (cJSON_IsArray(reply_get(rl, "today"))) {
		line_label(&l, 2, "today");
		line_periods(&l, reply_get(rl, "today"));
		line_print(&l);
	}
	if (cJSON_IsArray(reply_get(rl, "cloud"))) {
		line_label(&l, 2, "task holds");
		line_periods(&l, reply_get(rl, "cloud"));
		line_print(&l);
	}
	if (reply_get(rl, "last_applied") != NULL && reply_num(rl, "last_applied", &mbps)) {
		line_label(&l, 2, "applied");
		line_when(&l, rl, "last_applied", now, "-");
		line_print(&l);
	}
	if (reply_str(rl, "error") != NULL) {
		line_label(&l, 2, "error");
		line_color_text(&l, OUT_RED, reply_str(rl, "error"));
		line_print(&l);
	}
}

/* A count with its word, coloured when it is not 0: "2 failed". */
static void
line_count(struct line *l, const cJSON *o, const char *key, enum out_color c)
{
	double n;

	if (!reply_num(o, key, &n)) {
		line_add(l, "- %s", key);
		return;
	}
	if (n > 0)
		line_colored(l, c, "%.0f %s", n, key);
	else
		line_add(l, "%.0f %s", n, key);
}

static void
notify_sink(const cJSON *s, time_t now)
{
	struct line l = {.len = 0};
	const char *error = reply_str(s, "last_error");
	time_t retry;
	double dropped;

	line_label(&l, 2, reply_str(s, "sink") != NULL ? reply_str(s, "sink") : "-");
	line_count(&l, s, "delivered", OUT_PLAIN);
	line_add(&l, ", ");
	line_count(&l, s, "queued", OUT_YELLOW);
	line_add(&l, ", ");
	line_count(&l, s, "failed", OUT_RED);
	if (reply_num(s, "dropped", &dropped) && dropped > 0) {
		line_add(&l, ", ");
		line_count(&l, s, "dropped", OUT_RED);
	}
	if (reply_time(s, "next_retry", &retry)) {
		line_add(&l, ", next try ");
		line_relative(&l, retry < now ? now : retry, now);
	}
	line_print(&l);
	if (error != NULL) {
		line_label(&l, 4, "error");
		line_text(&l, error);
		line_print(&l);
	}
}

static void
status_notify(const cJSON *notify, time_t now)
{
	const cJSON *sinks = reply_get(notify, "sinks"), *s;
	struct line l = {.len = 0};
	int n = cJSON_GetArraySize(sinks);
	double dropped;

	line_label(&l, 0, "notify");
	if (n == 0)
		line_add(&l, "no sinks");
	else
		line_add(&l, "%d sink%s", n, n == 1 ? "" : "s");
	if (reply_num(notify, "dropped", &dropped)) {
		line_add(&l, ", ");
		if (dropped > 0) {
			line_colored(
			    &l, OUT_RED, "%.0f event%s dropped", dropped, dropped == 1 ? "" : "s");
			line_add(&l, " (queue full)");
		} else {
			line_add(&l, "none dropped");
		}
	}
	line_print(&l);
	if (!cJSON_IsArray(sinks))
		return;
	cJSON_ArrayForEach(s, sinks)
	{
		notify_sink(s, now);
	}
}

/* One line for the last run, then each check that is not ok with its remedy. */
static void
status_preflight(const cJSON *pf, time_t now)
{
	const char *verdict = reply_str(pf, "verdict");
	const cJSON *checks = reply_get(pf, "checks"), *c;
	struct line l = {.len = 0};
	int n = cJSON_GetArraySize(checks), bad = 0;

	line_label(&l, 0, "preflight");
	if (verdict == NULL) {
		line_add(&l, cJSON_IsTrue(reply_get(pf, "running")) ? "running" : "not run yet");
		line_print(&l);
		return;
	}
	line_colored(
	    &l, report_health_color(str_is(verdict, "warn") ? "degraded" : verdict), "%s", verdict);
	line_add(&l, ", %d check%s", n, n == 1 ? "" : "s");
	if (reply_get(pf, "ran_at") != NULL) {
		line_add(&l, ", ran ");
		line_when(&l, pf, "ran_at", now, "-");
	}
	line_print(&l);
	cJSON_ArrayForEach(c, checks)
	{
		const char *v = reply_str(c, "verdict"), *code = reply_str(c, "prevents");

		if (v == NULL || str_is(v, "ok") || bad++ >= STATUS_PREFLIGHT)
			continue;
		line_label(&l, 2, reply_str(c, "name") != NULL ? reply_str(c, "name") : "-");
		line_colored(&l, str_is(v, "fail") ? OUT_RED : OUT_YELLOW, "%s", v);
		if (code != NULL) {
			line_add(&l, " (");
			line_text(&l, code);
			line_add(&l, ")");
		}
		if (reply_str(c, "remedy") != NULL) {
			line_add(&l, ": ");
			line_text(&l, reply_str(c, "remedy"));
		}
		line_print(&l);
	}
	if (bad > STATUS_PREFLIGHT) {
		line_label(&l, 2, "more");
		line_add(&l, "%d more: smsguardctl preflight", bad - STATUS_PREFLIGHT);
		line_print(&l);
	}
}

static void
status_events(const cJSON *events, time_t now)
{
	struct line l = {.len = 0};
	enum event_clock clock = EVENT_CLOCK_TIME;
	struct tm tm, tmnow;
	int n, i;
	time_t t;

	if (!cJSON_IsArray(events) || (n = cJSON_GetArraySize(events)) == 0)
		return;
	i = n > STATUS_EVENTS ? n - STATUS_EVENTS : 0;
	/* The time of day is enough when every event shown happened today. */
	localtime_r(&now, &tmnow);
	for (int j = i; j < n; j++) {
		if (!reply_time(cJSON_GetArrayItem(events, j), "time", &t) ||
		    localtime_r(&t, &tm) == NULL || tm.tm_yday != tmnow.tm_yday ||
		    tm.tm_year != tmnow.tm_year)
			clock = EVENT_CLOCK_DAY;
	}
	puts("\nrecent events:");
	for (; i < n; i++) {
		line_add(&l, "  ");
		line_event(&l, cJSON_GetArrayItem(events, i), clock);
		line_print(&l);
	}
}

int
report_status(bool json, cJSON *reply)
{
	const char *health = reply_str(reply, "health");
	int code = str_is(health, "ok")  ? CTL_EXIT_OK
	    : str_is(health, "degraded") ? CTL_EXIT_DEGRADED
	                                 : CTL_EXIT_FAILED;
	time_t now = out_now();

	if (json) {
		/* The status object exactly: the reply without the envelope. */
		cJSON_DeleteItemFromObjectCaseSensitive(reply, CTL_KEY_OK);
		print_json(reply);
		return code;
	}
	status_header(reply, now);
	puts("");
	status_task(reply_get(reply, "task"), now);
	status_target(reply_get(reply, "target"), now);
	status_agent(reply_get(reply, "agent"), now);
	status_cloud(reply_get(reply, "cloud"), now);
	status_recovery(reply_get(reply, "recovery"), now);
	status_ratelimit(reply_get(reply, "ratelimit"), now);
	if (cJSON_IsObject(reply_get(reply, "notify")))
		status_notify(reply_get(reply, "notify"), now);
	if (cJSON_IsObject(reply_get(reply, "preflight")))
		status_preflight(reply_get(reply, "preflight"), now);
	status_events(reply_get(reply, "events"), now);
	return code;
}
