/*
 * How the policy writes a decision: see policy_ctx.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy_ctx.h"
#include "smsguard/util.h"

static const char *const action_names[] = {
    [ACT_RESUME_TASK] = "resume_task",
    [ACT_RESTART_AGENT] = "restart_agent",
    [ACT_POLL_NOW] = "poll_now",
    [ACT_PROBE_FRESH] = "probe_fresh",
    [ACT_EVENT] = "event",
};

static const char *const health_names[] = {
    [POLICY_HEALTH_OK] = "ok",
    [POLICY_HEALTH_DEGRADED] = "degraded",
    [POLICY_HEALTH_FAILED] = "failed",
};

const char *
policy_action_name(enum policy_action_kind k)
{
	if ((unsigned)k >= nitems(action_names))
		return "unknown";
	return action_names[k];
}

const char *
policy_health_name(enum policy_health h)
{
	if ((unsigned)h >= nitems(health_names))
		return "unknown";
	return health_names[h];
}

/* "42 s" for short spans (what a person reads in status), "1h2m3s" beyond ten minutes. */
char *
fmt_span(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms < 600 * 1000)
		snprintf(buf, len, "%" PRId64 " s", ms / 1000);
	else
		util_format_duration((uint64_t)(ms / 1000 * 1000), buf, len);
	return buf;
}

char *
fmt_time(const struct ctx *c, int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (c->in->format_time != NULL) {
		buf[0] = '\0';
		c->in->format_time(ms, buf, len);
		buf[len - 1] = '\0';
		return buf;
	}
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M UTC", &tm) == 0)
		snprintf(buf, len, "%" PRId64, ms / 1000);
	return buf;
}

void
wake_at(struct ctx *c, int64_t t)
{
	if (t <= c->now)
		return;
	if (c->out->wake_ms == 0 || t < c->out->wake_ms)
		c->out->wake_ms = t;
}

struct policy_action *
add_action(struct ctx *c, enum policy_action_kind kind)
{
	struct policy_action *a;

	/* The stages together add far fewer; dropping beats overflowing. */
	if (c->out->nactions >= POLICY_MAX_ACTIONS)
		return NULL;
	a = &c->out->actions[c->out->nactions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

cJSON *
task_details(const struct ctx *c)
{
	cJSON *d = cJSON_CreateObject();

	if (c->in->task_known) {
		cJSON_AddStringToObject(d, "task_id", c->in->task_id);
		cJSON_AddStringToObject(d, "state", task_state_name(c->in->state));
	}
	return d;
}

/* Takes ownership of details. */
void
add_event(struct ctx *c, enum event_type type, cJSON *details, const char *fmt, ...)
{
	struct policy_action *a = add_action(c, ACT_EVENT);
	va_list ap;

	if (a == NULL) {
		cJSON_Delete(details);
		return;
	}
	a->event = type;
	a->details = details;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
}

void
set_reason(struct ctx *c, enum policy_health h, const char *fmt, ...)
{
	va_list ap;

	c->out->health = h;
	va_start(ap, fmt);
	vsnprintf(c->out->reason, sizeof(c->out->reason), fmt, ap);
	va_end(ap);
}

const char *
code_or_none(const char *code)
{
	return code != NULL && code[0] != '\0' ? code : "no error code";
}

const char *
meaning_of(const char *code)
{
	const char *m = task_error_meaning(code);

	return m != NULL ? m : "unknown error";
}

bool
task_is_running(const struct policy_input *in)
{
	return in->task_known && (in->state == TASK_RUNNING || in->state == TASK_SYNCING);
}

/* Reference §3: only Linux file-level tasks resume after the agent restarts. */
bool
task_lost_by_agent_restart(const struct policy_input *in)
{
	return in->type == TASK_TYPE_MIGRATE_BLOCK || in->os == TASK_OS_WINDOWS;
}

/* "target port 8900 down for 42 s", "target ports 8899, 8900 down for …", "target down for …". */
void
target_text(const struct ctx *c, char *buf, size_t len)
{
	const struct policy_input *in = c->in;
	char ports[96] = "", span[32];
	int64_t since = 0;
	int ndown = 0;

	if (in->target == PORT_UNKNOWN) {
		snprintf(buf, len, "target state unknown: waiting for the probes");
		return;
	}
	for (int i = 0; i < in->nports && i < POLICY_MAX_PORTS; i++) {
		size_t n = strlen(ports);

		if (!in->ports[i].down)
			continue;
		snprintf(ports + n, sizeof(ports) - n, "%s%u", ndown > 0 ? ", " : "",
		    (unsigned)in->ports[i].port);
		if (since == 0 || (in->ports[i].since_ms != 0 && in->ports[i].since_ms < since))
			since = in->ports[i].since_ms;
		ndown++;
	}
	if (since == 0)
		since = in->target_since_ms;
	fmt_span(since > 0 ? c->now - since : 0, span, sizeof(span));
	if (ndown == 0)
		snprintf(buf, len, "target down for %s", span);
	else
		snprintf(
		    buf, len, "target port%s %s down for %s", ndown > 1 ? "s" : "", ports, span);
}
