/*
 * What each sink is sent for an event (DESIGN.md §5.7), pure:
 *
 * SMN: the subject "smsguard on HOST: TYPE" and a message that reads as a
 * paragraph - the host, the task, the event's message, what smsguard does
 * next or waits for, the time and the event id - with no '[' ']' (SMS
 * subscribers refuse them) and no control characters.
 *
 * Webhook: a CloudEvents 1.0 event in structured mode (the body of a POST
 * with Content-Type NOTIFY_CLOUDEVENT_TYPE): specversion "1.0", id (the
 * event id), source "smsguard://HOST", type "com.smsguard.TYPE", time
 * (RFC 3339, UTC), datacontenttype "application/json", subject (the task
 * id, when one is known), the extension smsguardschema
 * (NOTIFY_SCHEMA_VERSION, raised when data changes incompatibly) and data,
 * the event object as `smsguardctl events --json` shows it.
 *
 * Exec hook: its environment, NOTIFY_EXEC_NVARS variables.
 */
#ifndef SMSGUARD_NOTIFY_TEXT_H
#define SMSGUARD_NOTIFY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsguard/notify_queue.h"

#define NOTIFY_SCHEMA_VERSION 1
#define NOTIFY_CLOUDEVENT_TYPE "application/cloudevents+json; charset=utf-8"
#define NOTIFY_EXEC_NVARS 7

/* What the message says smsguard does next depends on the configuration. */
struct notify_context {
	const char *host;
	bool resume;        /* [recovery] resume = on */
	bool agent_restart; /* [agent] restart = when-dead */
};

/* "2026-12-01T14:09:12.345Z". */
void notify_rfc3339(int64_t time_ms, char *buf, size_t len);

/* New strings. */
char *notify_subject(const struct notify_context *ctx, const struct notify_item *it);
char *notify_message(const struct notify_context *ctx, const struct notify_item *it);
char *notify_cloudevent(const struct notify_context *ctx, const struct notify_item *it);

/*
 * The hook's variables: SMSGUARD_EVENT (the type), SMSGUARD_MESSAGE,
 * SMSGUARD_TIME (RFC 3339), SMSGUARD_TASK_ID ("" when none),
 * SMSGUARD_HOST, SMSGUARD_EVENT_ID and SMSGUARD_DETAILS (a JSON object of
 * the event's details: every key but time, time_ms, seq, type and message).
 * Names are static, values new strings: notify_exec_vars_free() them.
 */
struct notify_var {
	const char *name;
	char *value;
};

void notify_exec_vars(const struct notify_context *ctx, const struct notify_item *it,
    struct notify_var vars[NOTIFY_EXEC_NVARS]);
void notify_exec_vars_free(struct notify_var vars[NOTIFY_EXEC_NVARS]);

#endif
