/*
 * How the policy writes a decision (policy.c's rules use these): the
 * reason and health for status, events and actions in order, the time to
 * decide again, and the texts people read ("target port 8900 down for 42 s").
 * Private to policy*.c.
 */
#ifndef SMSGUARD_POLICY_CTX_H
#define SMSGUARD_POLICY_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsguard/policy.h"

/* One policy_decide() call. */
struct ctx {
	struct policy_state *st;
	const struct policy_input *in;
	const struct config *cfg;
	int64_t now;
	struct policy_decision *out;
};

/* "42 s" for short spans, "1h2m3s" beyond ten minutes. */
char *fmt_span(int64_t ms, char *buf, size_t len);
/* A wall-clock time through the input's formatter, else "HH:MM UTC". */
char *fmt_time(const struct ctx *c, int64_t ms, char *buf, size_t len);
/* Decide again at t at the latest. */
void wake_at(struct ctx *c, int64_t t);
/* The next action slot, or NULL when full. */
struct policy_action *add_action(struct ctx *c, enum policy_action_kind kind);
/* {"task_id":…,"state":…} for an event. */
cJSON *task_details(const struct ctx *c);
/* Raises an event; takes ownership of details. */
void add_event(struct ctx *c, enum event_type type, cJSON *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void set_reason(struct ctx *c, enum policy_health h, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *code_or_none(const char *code);
const char *meaning_of(const char *code);
bool task_is_running(const struct policy_input *in);
/* Reference §3: only Linux file-level tasks resume after the agent restarts. */
bool task_lost_by_agent_restart(const struct policy_input *in);
/* "target port 8900 down for 42 s", "target ports 8899, 8900 down for …". */
void target_text(const struct ctx *c, char *buf, size_t len);

#endif
