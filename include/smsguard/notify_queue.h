/*
 * The notification queues (DESIGN.md §5.7), pure: per sink, a FIFO of the
 * events still to deliver, delivered head first (a failed head is retried
 * before anything behind it), bounded (when full the oldest waiting event
 * makes room and is counted as dropped), with the counters that status and
 * the metrics show, the backoff between failed attempts, and the form the
 * queues take in state.json. The sinks and the delivery itself are
 * notify.c's (notify.h); the texts sent are notify_text.h's.
 *
 * An item carries its event id, HOST-SEQ-TIMEMS, made once when the event
 * is raised and kept through every attempt, every sink and every restart:
 * delivery is at least once, and a receiver drops an id it has seen.
 */
#ifndef SMSGUARD_NOTIFY_QUEUE_H
#define SMSGUARD_NOTIFY_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>

#include "smsguard/events.h"

#define NOTIFY_ID_MAX 320     /* a host name (253) and two numbers */
#define NOTIFY_TASK_ID_MAX 65 /* SMS ids: 36 characters, 64 at most */
#define NOTIFY_TASK_NAME_MAX 256
#define NOTIFY_QUEUE_DEFAULT 1000
#define NOTIFY_BACKOFF_MIN_MS 2000
#define NOTIFY_BACKOFF_MAX_MS (5 * 60 * 1000)

enum notify_sink {
	NOTIFY_SMN = 0,
	NOTIFY_WEBHOOK,
	NOTIFY_EXEC,
	NOTIFY_SINK_COUNT,
};

/* "smn", "webhook", "exec". */
const char *notify_sink_name(enum notify_sink s);

struct notify_item {
	TAILQ_ENTRY(notify_item) entry;
	char id[NOTIFY_ID_MAX];
	char task_id[NOTIFY_TASK_ID_MAX];     /* "" when no task was known */
	char task_name[NOTIFY_TASK_NAME_MAX]; /* "" when unknown */
	enum event_type type;
	int64_t time_ms;
	cJSON *event; /* event_to_json() of the event: the webhook's data; owned */
	int attempts; /* failed attempts at this item so far */
};

TAILQ_HEAD(notify_items, notify_item);

struct notify_queue {
	struct notify_items items;
	int count;
	int max;
	/* The head is being delivered: never the one dropped to make room. */
	bool busy;
	int failures; /* failed attempts in a row */
	uint64_t delivered, failed, dropped;
};

/*
 * The event id: host (letters, digits, '.', '-' and '_' kept, anything else
 * '_'), the event's seq and its time in ms, joined by '-'.
 */
void notify_event_id(const char *host, uint64_t seq, int64_t time_ms, char *buf, size_t len);
/* A new item for event e raised on host about task task_id (NULL or "" = none). */
struct notify_item *notify_item_new(
    const char *host, const struct event *e, const char *task_id, const char *task_name);
struct notify_item *notify_item_dup(const struct notify_item *it);
void notify_item_free(struct notify_item *it);

/* An empty queue of at most max items (at least 1). */
void notify_queue_init(struct notify_queue *q, int max);
/* Frees every item; the counters stay. */
void notify_queue_clear(struct notify_queue *q);
/*
 * Appends it (the queue owns it). When the queue is full the oldest item
 * that is not being delivered is dropped; with a queue of one busy item,
 * that is it itself. Returns how many were dropped (counted in dropped).
 */
int notify_queue_push(struct notify_queue *q, struct notify_item *it);
/* A new bound: the oldest waiting items are dropped down to it. Returns how many. */
int notify_queue_set_max(struct notify_queue *q, int max);
struct notify_item *notify_queue_head(const struct notify_queue *q);
/* The head was delivered: it goes, failures in a row end, busy is cleared. */
void notify_queue_delivered(struct notify_queue *q);
/* An attempt at the head failed: it stays first; busy is cleared. */
void notify_queue_failed(struct notify_queue *q);

/*
 * The wait after `failures` failed attempts in a row: NOTIFY_BACKOFF_MIN_MS
 * doubling with each up to NOTIFY_BACKOFF_MAX_MS, then moved by
 * jitter_permille thousandths (held to -100..100, i.e. ±10 %). 0 for none.
 */
uint64_t notify_backoff_ms(int failures, int64_t jitter_permille);

/* [{"id","task_id","task_name","attempts","event"}, …], oldest first. */
cJSON *notify_queue_to_json(const struct notify_queue *q);
/*
 * Puts the items of notify_queue_to_json() output before those queued
 * already (after a busy head), in their order, skipping malformed ones;
 * then the bound applies. Returns how many were taken.
 */
int notify_queue_from_json(struct notify_queue *q, const cJSON *array);

#endif
