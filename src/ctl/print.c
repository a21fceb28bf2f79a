/*
 * smsguardctl's output: a reply shown to a person (status as a table, events
 * one per line, metrics as they come, the one-line confirmations of writes)
 * or, with --json, to a script. Text from the daemon (task names, error
 * messages from the cloud, event messages) goes through line_text so a
 * hostile string cannot drive the terminal.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsguard/ctl-protocol.h"
#include "smsguard/task.h"
#include "smsguard/util.h"
#include "smsguardctl.h"

/* The column where values start in `status`, after "  last error:". */
#define LABEL_WIDTH 13
/* Events shown under `status`. */
#define STATUS_EVENTS 5

/* One line of output being put together. */
struct line {
	char buf[4096];
	size_t len;
};

void
ctlwarn(const char *fmt, ...)
{
	va_list ap;

	fputs("smsguardctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 2, 3))) line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
}

/* Appends s with C0 and C1 control characters escaped; "-" for NULL. */
static void
line_text(struct line *l, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		line_add(l, "-");
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			line_add(l, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			line_add(l, "\\u%04x", *++p);
		else
			line_add(l, "%c", *p);
	}
}

static void
line_print(struct line *l)
{
	while (l->len > 0 && l->buf[l->len - 1] == ' ')
		l->len--;
	l->buf[l->len] = '\0';
	puts(l->buf);
	l->len = 0;
}

/* The labelled start of a line: "task:        " or, indented, "  state:     ". */
static void
line_label(struct line *l, int indent, const char *label)
{
	char key[32];

	snprintf(key, sizeof(key), "%s:", label);
	line_add(l, "%*s%-*s ", indent, "", LABEL_WIDTH - indent, key);
}

static const cJSON *
get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *
get_str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
get_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

/* A Unix time, or false when it is missing, null or 0 (never). */
static bool
get_time(const cJSON *o, const char *key, time_t *out)
{
	double d;

	if (!get_num(o, key, &d) || !(d > 0 && d < 1e12))
		return false;
	*out = (time_t)d;
	return true;
}

/*
 * A span for people: its two largest units ("2h5m", "3d4h", "40s"); the
 * seconds of "1d3h46m41s" are noise at 3 a.m.
 */
static char *
span(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t i, o = 0;
	int shown = 0;

	buf[0] = '\0';
	for (i = 0; i < nitems(units) && shown < 2; i++) {
		uint64_t n = s / units[i].secs;

		if (n == 0 && shown == 0)
			continue;
		s -= n * units[i].secs;
		shown++;
		if (n == 0)
			break;
		o += (size_t)snprintf(
		    buf + o, len - o, "%llu%c", (unsigned long long)n, units[i].unit);
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "0s");
	return buf;
}

/* "12s ago", "in 3m", "now". */
static void
line_relative(struct line *l, time_t t, time_t now)
{
	char d[48];

	if (t == now)
		line_add(l, "now");
	else if (t < now)
		line_add(l, "%s ago", span((uint64_t)(now - t), d, sizeof(d)));
	else
		line_add(l, "in %s", span((uint64_t)(t - now), d, sizeof(d)));
}

/* Local time: "03:12:45" today, "2024-05-01 03:12" on another day. */
static void
line_clock(struct line *l, time_t t, time_t now)
{
	struct tm tm, tmnow;
	char buf[32];

	if (localtime_r(&t, &tm) == NULL || localtime_r(&now, &tmnow) == NULL) {
		line_add(l, "@%lld", (long long)t);
		return;
	}
	if (tm.tm_year == tmnow.tm_year && tm.tm_yday == tmnow.tm_yday)
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	else
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
	line_add(l, "%s", buf);
}

/* "03:12:45 (5m ago)"; dflt when the time is null or 0, "-" when the key is missing. */
static void
line_when(struct line *l, const cJSON *o, const char *key, time_t now, const char *dflt)
{
	time_t t;

	if (get(o, key) == NULL) {
		line_add(l, "-");
		return;
	}
	if (!get_time(o, key, &t)) {
		line_add(l, "%s", dflt);
		return;
	}
	line_clock(l, t, now);
	line_add(l, " (");
	line_relative(l, t, now);
	line_add(l, ")");
}

/* Full local date and time for event lists. */
static void
line_datetime(struct line *l, const cJSON *o, const char *key)
{
	struct tm tm;
	char buf[32];
	time_t t;

	if (!get_time(o, key, &t) || localtime_r(&t, &tm) == NULL) {
		line_add(l, "%-19s", "-");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	line_add(l, "%s", buf);
}

static void
line_number(struct line *l, const cJSON *o, const char *key, const char *fmt)
{
	double d;

	if (get_num(o, key, &d))
		line_add(l, fmt, d);
	else
		line_add(l, "-");
}

static void
line_event(struct line *l, const cJSON *ev)
{
	size_t start;

	line_datetime(l, ev, "time");
	line_add(l, "  ");
	start = l->len;
	line_text(l, get_str(ev, "type"));
	/* Pad to the longest event type (recovery_exhausted) so messages line up. */
	while (l->len < start + 18)
		line_add(l, " ");
	line_add(l, " ");
	line_text(l, get_str(ev, "message"));
}

static int
health_exit(const char *health)
{
	if (health == NULL)
		return CTL_EXIT_FAILED;
	if (strcmp(health, "ok") == 0)
		return CTL_EXIT_OK;
	if (strcmp(health, "degraded") == 0)
		return CTL_EXIT_DEGRADED;
	return CTL_EXIT_FAILED;
}

static void
print_json(const cJSON *o)
{
	char *s = cJSON_Print(o);

	if (s == NULL) {
		ctlwarn("out of memory");
		exit(CTL_EXIT_FAILED);
	}
	puts(s);
	free(s);
}

static void
status_header(const cJSON *st, time_t now)
{
	const char *health = get_str(st, "health");
	const cJSON *paused = get(st, "paused");
	struct line l = {.len = 0};
	double pid;

	line_add(&l, "smsguard ");
	line_text(&l, get_str(st, "version"));
	if (get_num(st, "pid", &pid)) {
		line_add(&l, ", pid %.0f", pid);
		if (get(st, "started_at") != NULL) {
			line_add(&l, ", started ");
			line_when(&l, st, "started_at", now, "-");
		}
	}
	line_print(&l);

	line_label(&l, 0, "health");
	line_text(&l, health);
	if (health != NULL && strcmp(health, "degraded") == 0)
		line_add(&l, " (acting or waiting)");
	else if (health != NULL && strcmp(health, "failed") == 0)
		line_add(&l, " (needs a person)");
	line_print(&l);

	line_label(&l, 0, "paused");
	if (!cJSON_IsBool(paused)) {
		line_add(&l, "-");
	} else if (cJSON_IsFalse(paused)) {
		line_add(&l, "no");
	} else {
		line_add(&l, "yes, until ");
		line_when(&l, st, "paused_until", now, "smsguardctl resume");
	}
	line_print(&l);
}

static void
status_task(const cJSON *task, time_t now)
{
	const char *code = get_str(task, "error_code"), *meaning;
	struct line l = {.len = 0};
	double d;

	line_label(&l, 0, "task");
	line_text(&l, get_str(task, "id"));
	if (get_str(task, "name") != NULL) {
		line_add(&l, " \"");
		line_text(&l, get_str(task, "name"));
		line_add(&l, "\"");
	}
	line_print(&l);

	line_label(&l, 2, "state");
	line_text(&l, get_str(task, "state"));
	if (get_str(task, "type") != NULL || get_str(task, "os_type") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(task, "type"));
		line_add(&l, ", ");
		line_text(&l, get_str(task, "os_type"));
		line_add(&l, ")");
	}
	line_print(&l);

	line_label(&l, 2, "progress");
	line_number(&l, task, "progress", "%.0f%%");
	if (get_str(task, "subtask") != NULL) {
		line_add(&l, " (sub-task ");
		line_text(&l, get_str(task, "subtask"));
		line_add(&l, ")");
	}
	line_print(&l);

	line_label(&l, 2, "speed");
	line_number(&l, task, "migrate_speed_mbps", "%.1f Mbit/s");
	if (get_num(task, "remain_seconds", &d) && d >= 0 && d < 1e9) {
		char buf[32];

		line_add(
		    &l, ", %s left", util_format_duration((uint64_t)d * 1000, buf, sizeof(buf)));
	}
	line_print(&l);

	line_label(&l, 2, "error");
	if (get(task, "error_code") == NULL) {
		line_add(&l, "-");
	} else if (code == NULL) {
		line_add(&l, "none");
	} else {
		line_text(&l, code);
		meaning = get_str(task, "error_meaning");
		if (meaning == NULL)
			meaning = task_error_meaning(code);
		if (meaning != NULL) {
			line_add(&l, ": ");
			line_text(&l, meaning);
		}
	}
	line_print(&l);

	line_label(&l, 2, "polled");
	line_when(&l, task, "polled_at", now, "never");
	line_print(&l);
}

static void
status_target(const cJSON *target, time_t now)
{
	const cJSON *ports = get(target, "ports"), *p;
	struct line l = {.len = 0};

	line_label(&l, 0, "target");
	line_text(&l, get_str(target, "address"));
	line_add(&l, " ");
	line_text(&l, get_str(target, "state"));
	line_print(&l);
	if (!cJSON_IsArray(ports))
		return;
	cJSON_ArrayForEach(p, ports)
	{
		line_add(&l, "  port ");
		line_number(&l, p, "port", "%-5.0f");
		line_add(&l, "  ");
		line_text(&l, get_str(p, "state"));
		while (l.len < 22)
			line_add(&l, " ");
		line_number(&l, p, "latency_ms", "%.1f ms");
		while (l.len < 34)
			line_add(&l, " ");
		line_add(&l, "since ");
		line_when(&l, p, "since", now, "-");
		if (get_str(p, "last_error") != NULL) {
			line_add(&l, ", last error: ");
			line_text(&l, get_str(p, "last_error"));
		}
		line_print(&l);
	}
}

static void
status_agent(const cJSON *agent)
{
	struct line l = {.len = 0};

	line_label(&l, 0, "agent");
	line_text(&l, get_str(agent, "state"));
	line_add(&l, ", pid ");
	line_number(&l, agent, "pid", "%.0f");
	line_add(&l, ", restarts ");
	line_number(&l, agent, "restarts", "%.0f");
	line_print(&l);
	if (get_str(agent, "home") != NULL) {
		line_label(&l, 2, "home");
		line_text(&l, get_str(agent, "home"));
		line_print(&l);
	}
}

static void
status_cloud(const cJSON *cloud, time_t now)
{
	struct line l = {.len = 0};

	line_label(&l, 0, "cloud");
	line_text(&l, get_str(cloud, "state"));
	line_add(&l, ", errors ");
	line_number(&l, cloud, "errors", "%.0f");
	line_print(&l);
	line_label(&l, 2, "last ok");
	line_when(&l, cloud, "last_ok", now, "never");
	line_print(&l);
	line_label(&l, 2, "next poll");
	line_when(&l, cloud, "next_poll", now, "-");
	line_print(&l);
	if (get_str(cloud, "last_error") != NULL) {
		line_label(&l, 2, "last error");
		line_text(&l, get_str(cloud, "last_error"));
		line_print(&l);
	}
}

static void
status_recovery(const cJSON *rec, time_t now)
{
	const cJSON *last = get(rec, "last_action");
	struct line l = {.len = 0};
	const char *why;

	line_label(&l, 0, "recovery");
	line_number(&l, rec, "actions_in_window", "%.0f");
	line_add(&l, "/");
	line_number(&l, rec, "budget", "%.0f");
	line_add(&l, " actions in the window, next allowed ");
	line_when(&l, rec, "next_allowed", now, "now");
	line_print(&l);

	line_label(&l, 2, "last");
	if (cJSON_IsString(last)) {
		line_text(&l, last->valuestring);
	} else if (cJSON_IsObject(last)) {
		line_text(&l,
		    get_str(last, "action") != NULL ? get_str(last, "action")
		                                    : get_str(last, "type"));
		if (get_str(last, "result") != NULL) {
			line_add(&l, " ");
			line_text(&l, get_str(last, "result"));
		}
		if (get(last, "time") != NULL) {
			line_add(&l, ", ");
			line_when(&l, last, "time", now, "-");
		}
	} else {
		line_add(&l, last == NULL ? "-" : "none");
	}
	line_print(&l);

	if ((why = get_str(rec, "reason")) != NULL || (why = get_str(rec, "waiting")) != NULL) {
		line_label(&l, 2, "waiting");
		line_text(&l, why);
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
		line_text(l, get_str(p, "start"));
		line_add(l, "-");
		line_text(l, get_str(p, "end"));
		if (get_num(p, "mbps", &mbps))
			line_add(l, " %.0f", mbps);
	}
	line_add(l, " Mbit/s");
}

static void
status_ratelimit(const cJSON *rl, time_t now)
{
	const cJSON *applied = get(rl, "applied");
	const char *apply = get_str(rl, "apply");
	struct line l = {.len = 0};
	double mbps;

	line_label(&l, 0, "ratelimit");
	if (!get_num(rl, "current_mbps", &mbps))
		line_add(&l, "-");
	else if (mbps <= 0)
		line_add(&l, "unlimited");
	else
		line_add(&l, "%.0f Mbit/s", mbps);
	if (get_str(rl, "window") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(rl, "window"));
		if (get_str(rl, "timezone") != NULL) {
			line_add(&l, " ");
			line_text(&l, get_str(rl, "timezone"));
		}
		line_add(&l, ")");
	}
	if (apply != NULL && strcmp(apply, "off") == 0)
		line_add(&l, ", apply = off");
	else if (cJSON_IsBool(applied))
		line_add(&l, ", %s", cJSON_IsTrue(applied) ? "applied" : "not applied");
	line_print(&l);
	if (get_num(rl, "next_change", &mbps)) {
		line_label(&l, 2, "next");
		line_when(&l, rl, "next_change", now, "-");
		if (get_num(rl, "next_mbps", &mbps))
			line_add(&l, mbps > 0 ? " -> %.0f Mbit/s" : " -> unlimited", mbps);
		line_print(&l);
	}
	if (cJSON_IsArray(get(rl, "today"))) {
		line_label(&l, 2, "today");
		line_periods(&l, get(rl, "today"));
		line_print(&l);
	}
	if (cJSON_IsArray(get(rl, "cloud"))) {
		line_label(&l, 2, "task holds");
		line_periods(&l, get(rl, "cloud"));
		line_print(&l);
	}
	if (get(rl, "last_applied") != NULL && get_num(rl, "last_applied", &mbps)) {
		line_label(&l, 2, "applied");
		line_when(&l, rl, "last_applied", now, "-");
		line_print(&l);
	}
	if (get_str(rl, "error") != NULL) {
		line_label(&l, 2, "error");
		line_text(&l, get_str(rl, "error"));
		line_print(&l);
	}
}

static void
status_events(const cJSON *events)
{
	struct line l = {.len = 0};
	int n, i;

	if (!cJSON_IsArray(events) || (n = cJSON_GetArraySize(events)) == 0)
		return;
	puts("\nrecent events:");
	for (i = n > STATUS_EVENTS ? n - STATUS_EVENTS : 0; i < n; i++) {
		line_add(&l, "  ");
		line_event(&l, cJSON_GetArrayItem(events, i));
		line_print(&l);
	}
}

static int
print_status(bool json, cJSON *reply)
{
	int code = health_exit(get_str(reply, "health"));
	time_t now = time(NULL);

	if (json) {
		/* The status object exactly: the reply without the envelope. */
		cJSON_DeleteItemFromObjectCaseSensitive(reply, CTL_KEY_OK);
		print_json(reply);
		return code;
	}
	status_header(reply, now);
	puts("");
	status_task(get(reply, "task"), now);
	status_target(get(reply, "target"), now);
	status_agent(get(reply, "agent"));
	status_cloud(get(reply, "cloud"), now);
	status_recovery(get(reply, "recovery"), now);
	status_ratelimit(get(reply, "ratelimit"), now);
	status_events(get(reply, "events"));
	return code;
}

static int
print_events(bool json, cJSON *reply)
{
	cJSON *events = cJSON_DetachItemFromObjectCaseSensitive(reply, CTL_KEY_EVENTS), *out, *ev;
	struct line l = {.len = 0};

	if (!cJSON_IsArray(events)) {
		cJSON_Delete(events);
		ctlwarn("malformed reply from smsguard: no events");
		return CTL_EXIT_FAILED;
	}
	if (json) {
		if ((out = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(events);
			ctlwarn("out of memory");
			return CTL_EXIT_FAILED;
		}
		cJSON_AddItemToObject(out, CTL_KEY_EVENTS, events);
		print_json(out);
		cJSON_Delete(out);
		return CTL_EXIT_OK;
	}
	cJSON_ArrayForEach(ev, events)
	{
		line_event(&l, ev);
		line_print(&l);
	}
	cJSON_Delete(events);
	return CTL_EXIT_OK;
}

static int
print_metrics(const cJSON *reply)
{
	const char *text = get_str(reply, CTL_KEY_METRICS);
	size_t len;

	if (text == NULL) {
		ctlwarn("malformed reply from smsguard: no metrics");
		return CTL_EXIT_FAILED;
	}
	len = strlen(text);
	fputs(text, stdout);
	if (len > 0 && text[len - 1] != '\n')
		putchar('\n');
	return CTL_EXIT_OK;
}

static int
print_wait(const struct ctl_request *req, const cJSON *reply)
{
	struct line l = {.len = 0};

	line_add(&l, "task %s", ctlproto_wait_until_name(req->wait_until));
	if (get_str(reply, "state") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(reply, "state"));
		line_add(&l, ")");
	}
	line_print(&l);
	return CTL_EXIT_OK;
}

/* The one-line confirmation of a command that changes something. */
static int
print_done(const struct ctl_request *req, const cJSON *reply)
{
	struct line l = {.len = 0};
	time_t now = time(NULL);

	if (get_str(reply, CTL_KEY_MESSAGE) != NULL) {
		line_text(&l, get_str(reply, CTL_KEY_MESSAGE));
		line_print(&l);
		return CTL_EXIT_OK;
	}
	switch (req->cmd) {
	case CTL_CMD_CHECK:
		line_add(&l, "checking now: probing the target and polling the cloud");
		break;
	case CTL_CMD_PAUSE:
		line_add(&l, "paused: no automatic actions until ");
		line_when(&l, reply, "until", now, "smsguardctl resume");
		break;
	case CTL_CMD_RESUME:
		line_add(&l, "resumed: automatic actions allowed again");
		break;
	case CTL_CMD_RELOAD:
		line_add(&l, "configuration reloaded");
		break;
	default:
		line_add(&l, "done");
		break;
	}
	line_print(&l);
	return CTL_EXIT_OK;
}

/* {"ok":false,…}: say why; a wait that timed out is its own exit code. */
int
print_error(const struct ctl_request *req, const cJSON *reply)
{
	const char *error = get_str(reply, CTL_KEY_ERROR);
	struct line l = {.len = 0};
	char d[32];

	if (req->cmd == CTL_CMD_WAIT && error != NULL && strcmp(error, CTL_ERROR_TIMEOUT) == 0) {
		ctlwarn("timeout: the task did not get to %s within %s",
		    ctlproto_wait_until_name(req->wait_until),
		    util_format_duration(req->timeout_ms, d, sizeof(d)));
		return CTL_EXIT_DEGRADED;
	}
	line_text(&l, error != NULL ? error : "the command failed");
	l.buf[l.len] = '\0';
	ctlwarn("%s", l.buf);
	return CTL_EXIT_FAILED;
}

int
print_reply(const struct ctl_request *req, bool json, cJSON *reply)
{
	int code = CTL_EXIT_FAILED;

	/* No default: a new command in CTL_COMMANDS must say how it is shown. */
	switch (req->cmd) {
	case CTL_CMD_STATUS:
		code = print_status(json, reply);
		break;
	case CTL_CMD_EVENTS:
		code = print_events(json, reply);
		break;
	case CTL_CMD_METRICS:
		code = print_metrics(reply);
		break;
	case CTL_CMD_WAIT:
		code = print_wait(req, reply);
		break;
	case CTL_CMD_CHECK:
	case CTL_CMD_PAUSE:
	case CTL_CMD_RESUME:
	case CTL_CMD_RELOAD:
		code = print_done(req, reply);
		break;
	case CTL_CMD_PREFLIGHT:
		code = print_preflight(json, reply);
		break;
	case CTL_CMD_COUNT:
		break;
	}
	return code;
}
