/*
 * Events (DESIGN.md §5.7): logged, kept in a ring of the last 200 that
 * survives restarts (through state.json), and handed to the sinks.
 */
#ifndef SMSGUARD_EVENTS_H
#define SMSGUARD_EVENTS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#define EVENTS_RING_SIZE 200
#define EVENT_MESSAGE_MAX 512

enum event_type {
	EV_TARGET_DOWN = 0,
	EV_TARGET_UP,
	EV_AGENT_DOWN,
	EV_AGENT_RESTARTED,
	EV_TASK_FAILED,
	EV_TASK_RESUMED,
	EV_TASK_RUNNING,
	EV_TASK_FINISHED,
	EV_RECOVERY_EXHAUSTED,
	EV_CLOUD_AUTH_FAILED,
	EV_CLOUD_UNREACHABLE,
	EV_RATELIMIT_APPLIED,
	EV_CLOCK_SKEW,
	EV_RATELIMIT_FAILED, /* the cloud refused the day's periods (reported once) */
	EV_PREFLIGHT_FAILED, /* a preflight check turned to fail (once per turn) */
	EV_TYPE_COUNT,
};

#define EVENTS_MASK_ALL ((1u << EV_TYPE_COUNT) - 1)

const char *event_type_name(enum event_type t);
/* Returns the type, or -1 for an unknown name. */
int event_type_from_name(const char *name);

struct event {
	int64_t time_ms; /* wall clock */
	uint64_t seq;    /* increasing, survives restarts */
	enum event_type type;
	char message[EVENT_MESSAGE_MAX];
	cJSON *details; /* object or NULL; owned */
};

struct event_ring {
	struct event ev[EVENTS_RING_SIZE];
	int head; /* index of the oldest */
	int count;
	uint64_t next_seq;
};

void events_init(struct event_ring *r);
void events_clear(struct event_ring *r);
/* Adds an event (takes ownership of details); returns the stored copy. */
const struct event *events_add(struct event_ring *r, int64_t now_ms, enum event_type type,
    cJSON *details, const char *message);
/* i = 0 is the oldest. */
const struct event *events_get(const struct event_ring *r, int i);
/* {"time":s,"type":…,"message":…, …details}; a new object. */
cJSON *event_to_json(const struct event *e);
/* The newest n (all when n <= 0) as an array, oldest first. */
cJSON *events_to_json(const struct event_ring *r, int n);
/*
 * The newest n (all when n <= 0) of the events whose seq is larger than
 * since, as an array, oldest first.
 */
cJSON *events_since_json(const struct event_ring *r, uint64_t since, int n);
/* The seq of the newest event held; 0 when the ring is empty. */
uint64_t events_last_seq(const struct event_ring *r);
/* Restores from events_to_json() output; skips malformed entries. Returns how many. */
int events_from_json(struct event_ring *r, const cJSON *array);

#endif
