/*
 * smsguardctl's output of every reply but `status` (report.c): events one per
 * line, metrics as they come, the one-line confirmations of writes, and the
 * reasons of a refusal; with --json, the reply for a script. Text from the
 * daemon goes through line_text (out.c) so a hostile string cannot drive the
 * terminal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "out.h"
#include "smsguard/util.h"
#include "smsguardctl.h"

/* The longest event type (recovery_exhausted), so messages line up. */
#define EVENT_TYPE_WIDTH 18

void
ctlwarn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("smsguardctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
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

/* Bad news red, good news green, the rest plain. */
static enum out_color
event_color(const char *type)
{
	static const char *const bad[] = {"target_down", "agent_down", "task_failed",
	    "recovery_exhausted", "cloud_auth_failed", "cloud_unreachable", "clock_skew",
	    "ratelimit_failed", "preflight_failed", NULL};
	static const char *const good[] = {
	    "target_up", "agent_restarted", "task_resumed", "task_running", "task_finished", NULL};
	const char *const *w;

	if (type == NULL)
		return OUT_PLAIN;
	for (w = bad; *w != NULL; w++)
		if (strcmp(type, *w) == 0)
			return OUT_RED;
	for (w = good; *w != NULL; w++)
		if (strcmp(type, *w) == 0)
			return OUT_GREEN;
	return OUT_PLAIN;
}

static void
line_event_time(struct line *l, const cJSON *ev, enum event_clock clock)
{
	static const struct {
		const char *format;
		int width;
	} clocks[] = {
	    [EVENT_CLOCK_FULL] = {"%Y-%m-%d %H:%M:%S", 19},
	    [EVENT_CLOCK_DAY] = {"%m-%d %H:%M:%S", 14},
	    [EVENT_CLOCK_TIME] = {"%H:%M:%S", 8},
	};
	struct tm tm;
	char buf[32];
	time_t t;

	if (!reply_time(ev, "time", &t) || localtime_r(&t, &tm) == NULL) {
		/* As wide as a time, so the columns still line up. */
		line_add(l, "%-*s", clocks[clock].width, "-");
		return;
	}
	strftime(buf, sizeof(buf), clocks[clock].format, &tm);
	line_add(l, "%s", buf);
}

void
line_event(struct line *l, const cJSON *ev, enum event_clock clock)
{
	const char *type = reply_str(ev, "type");
	int start;

	line_event_time(l, ev, clock);
	line_add(l, "  ");
	start = line_cols(l);
	line_color_text(l, event_color(type), type);
	line_pad(l, start + EVENT_TYPE_WIDTH + 1);
	l->indent = line_cols(l);
	line_text(l, reply_str(ev, "message"));
}

static int
print_events(bool json, cJSON *reply)
{
	cJSON *events = cJSON_DetachItemFromObjectCaseSensitive(reply, CTL_KEY_EVENTS), *o, *ev;
	struct line l = {.len = 0};

	if (!cJSON_IsArray(events)) {
		cJSON_Delete(events);
		ctlwarn("malformed reply from smsguard: no events");
		return CTL_EXIT_FAILED;
	}
	if (json) {
		if ((o = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(events);
			ctlwarn("out of memory");
			return CTL_EXIT_FAILED;
		}
		cJSON_AddItemToObject(o, CTL_KEY_EVENTS, events);
		print_json(o);
		cJSON_Delete(o);
		return CTL_EXIT_OK;
	}
	cJSON_ArrayForEach(ev, events)
	{
		line_event(&l, ev, EVENT_CLOCK_FULL);
		line_print(&l);
	}
	cJSON_Delete(events);
	return CTL_EXIT_OK;
}

static int
print_metrics(const cJSON *reply)
{
	const char *text = reply_str(reply, CTL_KEY_METRICS);
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
	if (reply_str(reply, "state") != NULL) {
		line_add(&l, " (");
		line_color_text(
		    &l, report_state_color(reply_str(reply, "state")), reply_str(reply, "state"));
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

	if (reply_str(reply, CTL_KEY_MESSAGE) != NULL) {
		line_text(&l, reply_str(reply, CTL_KEY_MESSAGE));
		line_print(&l);
		return CTL_EXIT_OK;
	}
	switch (req->cmd) {
	case CTL_CMD_CHECK:
		line_add(&l, "checking now: probing the target and polling the cloud");
		break;
	case CTL_CMD_PAUSE:
		line_add(&l, "paused: no automatic actions until ");
		line_when(&l, reply, "until", out_now(), "smsguardctl resume");
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
	const char *error = reply_str(reply, CTL_KEY_ERROR);
	struct line l = {.len = 0};
	char d[32];

	if (req->cmd == CTL_CMD_WAIT && error != NULL && strcmp(error, CTL_ERROR_TIMEOUT) == 0) {
		ctlwarn("timeout: the task did not get to %s within %s",
		    ctlproto_wait_until_name(req->wait_until),
		    util_format_duration(req->timeout_ms, d, sizeof(d)));
		return CTL_EXIT_DEGRADED;
	}
	line_text(&l, error != NULL ? error : "the command failed");
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
		code = report_status(json, reply);
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
