/* The SMN subject and message, the webhook's CloudEvent, the hook's variables. Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsguard/notify_text.h"
#include "smsguard/util.h"

void
notify_rfc3339(int64_t time_ms, char *buf, size_t len)
{
	time_t s = (time_t)(time_ms / 1000);
	struct tm tm;

	if (time_ms < 0 || gmtime_r(&s, &tm) == NULL) {
		util_strlcpy(buf, "1970-01-01T00:00:00.000Z", len);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(time_ms % 1000));
}

static const char *
host_of(const struct notify_context *ctx)
{
	return ctx->host != NULL && ctx->host[0] != '\0' ? ctx->host : "localhost";
}

static const char *
item_message(const struct notify_item *it)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(it->event, "message");

	return cJSON_IsString(m) ? m->valuestring : "";
}

char *
notify_subject(const struct notify_context *ctx, const struct notify_item *it)
{
	return xasprintf("smsguard on %s: %s", host_of(ctx), event_type_name(it->type));
}

/* What smsguard does next, or waits for, after an event; "" when the message says it. */
static const char *
next_step(const struct notify_context *ctx, enum event_type t)
{
	switch (t) {
	case EV_TARGET_DOWN:
		return ctx->resume
		    ? "If SMS fails the task over it, smsguard resumes the task once "
		      "every port has been up again for the settle time."
		    : "Automatic resume is off (resume = off): a task that fails over "
		      "it waits for a person.";
	case EV_TARGET_UP:
		return ctx->resume ? "A task that failed over the outage is resumed once the link "
		                     "has stayed up for the settle time."
		                   : "Automatic resume is off: a failed task waits for a person.";
	case EV_AGENT_DOWN:
		return ctx->agent_restart
		    ? "smsguard restarts SMS-Agent, within its budget of automatic actions."
		    : "restart = never: SMS-Agent waits for a person to start it.";
	case EV_AGENT_RESTARTED:
		return ctx->resume
		    ? "smsguard polls the task and resumes it if it failed for a network reason."
		    : "smsguard polls the task; automatic resume is off.";
	case EV_TASK_RESUMED:
		return "smsguard sent start and waits for SMS to report the task running.";
	case EV_TASK_RUNNING:
		return "The migration is moving again; nothing is needed.";
	case EV_TASK_FINISHED:
		return "Nothing is left for smsguard to do for this task.";
	case EV_CLOUD_AUTH_FAILED:
		return "Check the AK/SK in smsguard's credentials; smsguard makes no call to the "
		       "cloud for 5 minutes, then tries again.";
	case EV_CLOUD_UNREACHABLE:
		return "smsguard keeps watching the link and the agent here and polls the cloud "
		       "again with backoff.";
	case EV_CLOCK_SKEW:
		return "Set the clock right (NTP): the API gateway refuses requests signed more "
		       "than "
		       "15 minutes off.";
	case EV_RATELIMIT_FAILED:
		return "smsguard tries again when the schedule, the day or the task changes.";
	default:
		return "";
	}
}

/*
 * Appends s to b (size n, used *len) for an SMN message: '[' and ']' and
 * their full-width forms become parentheses (SMS subscribers refuse them),
 * control characters spaces. Cuts what does not fit.
 */
static void
smn_put(char *b, size_t n, size_t *len, const char *s)
{
	static const char open_fw[] = "\xe3\x80\x90", close_fw[] = "\xe3\x80\x91";

	for (; *s != '\0' && *len + 1 < n; s++) {
		char c = *s;

		if (strncmp(s, open_fw, 3) == 0 || strncmp(s, close_fw, 3) == 0) {
			c = s[2] == open_fw[2] ? '(' : ')';
			s += 2;
		} else if (c == '[') {
			c = '(';
		} else if (c == ']') {
			c = ')';
		} else if ((unsigned char)c < 0x20 || c == 0x7f) {
			c = ' ';
		}
		b[(*len)++] = c;
	}
	b[*len] = '\0';
}

char *
notify_message(const struct notify_context *ctx, const struct notify_item *it)
{
	const char *msg = item_message(it), *next = next_step(ctx, it->type);
	char head[NOTIFY_TASK_ID_MAX + NOTIFY_TASK_NAME_MAX + 300], when[40],
	    tail[NOTIFY_ID_MAX + 160];
	size_t n = sizeof(head) + EVENT_MESSAGE_MAX + 400 + sizeof(tail), len = 0, ml = strlen(msg);
	char *b = xmalloc(n);

	if (it->task_id[0] != '\0' && it->task_name[0] != '\0')
		snprintf(head, sizeof(head),
		    "smsguard on %s, watching SMS task %s (%s): ", host_of(ctx), it->task_name,
		    it->task_id);
	else if (it->task_id[0] != '\0')
		snprintf(head, sizeof(head), "smsguard on %s, watching SMS task %s: ", host_of(ctx),
		    it->task_id);
	else
		snprintf(head, sizeof(head), "smsguard on %s: ", host_of(ctx));
	notify_rfc3339(it->time_ms, when, sizeof(when));
	when[10] = ' ';
	when[19] = '\0';
	snprintf(tail, sizeof(tail), "%s%s at %s UTC, event id %s.", next[0] != '\0' ? " " : "",
	    event_type_name(it->type), when, it->id);
	b[0] = '\0';
	smn_put(b, n, &len, head);
	smn_put(b, n, &len, msg);
	if (ml == 0 || strchr(".!?", msg[ml - 1]) == NULL)
		smn_put(b, n, &len, ".");
	smn_put(b, n, &len, " ");
	smn_put(b, n, &len, next);
	smn_put(b, n, &len, tail);
	return b;
}

char *
notify_cloudevent(const struct notify_context *ctx, const struct notify_item *it)
{
	cJSON *o = cJSON_CreateObject();
	char when[40], *type, *source, *text;

	notify_rfc3339(it->time_ms, when, sizeof(when));
	type = xasprintf("com.smsguard.%s", event_type_name(it->type));
	source = xasprintf("smsguard://%s", host_of(ctx));
	cJSON_AddStringToObject(o, "specversion", "1.0");
	cJSON_AddStringToObject(o, "id", it->id);
	cJSON_AddStringToObject(o, "source", source);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "datacontenttype", "application/json");
	if (it->task_id[0] != '\0')
		cJSON_AddStringToObject(o, "subject", it->task_id);
	cJSON_AddNumberToObject(o, "smsguardschema", NOTIFY_SCHEMA_VERSION);
	cJSON_AddItemToObject(o, "data", cJSON_Duplicate(it->event, 1));
	text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		abort();
	cJSON_Delete(o);
	free(type);
	free(source);
	return text;
}

/* The event's details: every key the event object has beside its own. */
static char *
details_json(const struct notify_item *it)
{
	static const char *const own[] = {"time", "time_ms", "seq", "type", "message"};
	cJSON *d = cJSON_Duplicate(it->event, 1);
	char *text;

	if (!cJSON_IsObject(d)) {
		cJSON_Delete(d);
		d = cJSON_CreateObject();
	}
	for (size_t i = 0; i < nitems(own); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(d, own[i]);
	if ((text = cJSON_PrintUnformatted(d)) == NULL)
		abort();
	cJSON_Delete(d);
	return text;
}

void
notify_exec_vars(const struct notify_context *ctx, const struct notify_item *it,
    struct notify_var vars[NOTIFY_EXEC_NVARS])
{
	char when[40];

	notify_rfc3339(it->time_ms, when, sizeof(when));
	vars[0] = (struct notify_var){"SMSGUARD_EVENT", xstrdup(event_type_name(it->type))};
	vars[1] = (struct notify_var){"SMSGUARD_MESSAGE", xstrdup(item_message(it))};
	vars[2] = (struct notify_var){"SMSGUARD_TIME", xstrdup(when)};
	vars[3] = (struct notify_var){"SMSGUARD_TASK_ID", xstrdup(it->task_id)};
	vars[4] = (struct notify_var){"SMSGUARD_HOST", xstrdup(host_of(ctx))};
	vars[5] = (struct notify_var){"SMSGUARD_EVENT_ID", xstrdup(it->id)};
	vars[6] = (struct notify_var){"SMSGUARD_DETAILS", details_json(it)};
}

void
notify_exec_vars_free(struct notify_var vars[NOTIFY_EXEC_NVARS])
{
	for (int i = 0; i < NOTIFY_EXEC_NVARS; i++) {
		free(vars[i].value);
		vars[i].value = NULL;
	}
}
