/*
 * Notifications (DESIGN.md §5.7): every event goes to each configured sink
 * whose events include its type - an SMN publish through the signed cloud
 * client, a CloudEvent POSTed to the webhook, the exec hook run through the
 * process runner - from a queue of its own (notify_queue.h), in order, at
 * least once, with the same event id on every attempt.
 *
 * Everything happens on the loop: an event is queued and its delivery
 * starts on a later turn; each attempt has a timeout ([cloud] timeout for
 * SMN and the webhook, [notify] exec_timeout for the hook), a failure is
 * retried with backoff (2 s doubling to 5 min, ±10 %; an SMN call also
 * waits out the cloud client's 401 silence or Retry-After), and a slow or
 * dead sink holds up nothing but its own queue. A streak of failures is
 * logged when it starts and when it ends, each retry at debug level only.
 *
 * What is undelivered is kept in state.json (notify_state_json) and
 * delivered, in order, after a restart (notify_restore); a delivery asks
 * for the state to be saved. The config must outlive the module or the
 * next notify_reconfigure(), the cloud client until notify_close().
 */
#ifndef SMSGUARD_NOTIFY_H
#define SMSGUARD_NOTIFY_H

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/http.h"
#include "smsguard/metrics.h"
#include "smsguard/notify_queue.h"

struct cloud;
struct notify;

struct notify_deps {
	struct cloud *cloud; /* SMN publishes go through it */
	/* NULL: the real transport, made when the webhook first needs it (and closed here). */
	struct http_transport *http;
	/* Writes state.json now: an event left a queue. */
	void (*save)(void *arg);
	void *arg;
};

/* Returns 0 or a negative errno (a timer that cannot be made). */
int notify_new(
    uv_loop_t *loop, const struct config *cfg, const struct notify_deps *deps, struct notify **out);
/*
 * A new config after a reload: a sink that stays keeps its queue (and tries
 * at once, in case the reload mended it), a sink no longer set loses its
 * queue, a new one starts empty; a smaller queue bound drops the oldest.
 */
void notify_reconfigure(struct notify *n, const struct config *cfg);
/*
 * Queues e for each sink whose events include its type; task_id and
 * task_name (either may be NULL) say which task it was about. Returns at
 * once: delivery starts on a later loop turn.
 */
void notify_event(
    struct notify *n, const struct event *e, const char *task_id, const char *task_name);

/* {"smn":[…],"webhook":[…],"exec":[…]}: the undelivered events of the configured sinks. */
cJSON *notify_state_json(const struct notify *n);
/* Puts the events of notify_state_json() output back in their queues, before newer ones. */
void notify_restore(struct notify *n, const cJSON *o);

/*
 * Fills status's "notify" object: {"dropped":N,"sinks":[{"sink","queued",
 * "delivered","failed","dropped","last_error","next_retry"}, …]}, one entry
 * per configured sink; last_error is null once an attempt succeeded,
 * next_retry (Unix s) null unless a retry waits.
 */
void notify_status_json(const struct notify *n, cJSON *o);
/*
 * smsguard_notify_delivered_total, _failed_total (failed attempts),
 * _dropped_total and smsguard_notify_queue, each {sink} for every
 * configured sink, 0 from the start.
 */
void notify_metrics(const struct notify *n, struct metrics *m);

/*
 * Stops every attempt (an exec hook still running is killed; its event
 * stays undelivered) and calls cb(arg) once every handle is closed and n is
 * freed. Call it before closing the cloud client.
 */
void notify_close(struct notify *n, void (*cb)(void *arg), void *arg);

#endif
