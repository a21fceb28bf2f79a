/*
 * Observations are values (DESIGN.md §3): a watcher or an executor reports
 * what it saw as a `struct observation` - its kind and payload, with the
 * time it was made - and the engine drains them once per loop turn. A
 * report is copied into a queue and never runs the engine from inside the
 * reporter's call stack. Modules never reach into each other's structs: the
 * engine builds its picture of the world from these values alone.
 *
 * The states here are the watchers' own, shared with the policy, so nothing
 * translates one enum into a mirror of it.
 */
#ifndef SMSGUARD_OBSERVE_H
#define SMSGUARD_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/hysteresis.h"
#include "smsguard/sms.h"

#define OBS_MAX_PORTS CONFIG_MAX_PORTS
#define OBS_DETAIL_MAX 64

enum agent_state {
	AGENT_UNKNOWN = 0, /* not scanned yet */
	AGENT_RUNNING,
	AGENT_DEAD,
};

enum cloud_state {
	CLOUD_UNKNOWN = 0, /* nothing answered yet */
	CLOUD_OK,
	CLOUD_UNREACHABLE,
	CLOUD_AUTH_FAILED,
	CLOUD_THROTTLED,
};

enum obs_kind {
	OBS_TARGET = 0,   /* the target and its ports, after any of them changed */
	OBS_AGENT,        /* the agent's state, home and own auto-recovery settings */
	OBS_TASK,         /* a new task snapshot */
	OBS_TASK_LOST,    /* no task known any more (the discovered one is gone, a reload) */
	OBS_CLOUD,        /* the cloud client's own state */
	OBS_RESUME_DONE,  /* the outcome of a resume request */
	OBS_RESTART_DONE, /* the outcome of an agent restart */
	OBS_KIND_COUNT,
};

/* The outcome of an action, as the executor learned it. */
enum obs_outcome {
	OBS_DONE_OK = 0,  /* accepted / succeeded */
	OBS_DONE_FAILED,  /* refused, or the command failed: it did not happen */
	OBS_DONE_UNKNOWN, /* a timeout or a transport error: it may have happened */
};

struct obs_port {
	uint16_t port;
	enum port_state state;
	int64_t since_ms; /* wall clock of its last change */
};

struct obs_target {
	enum port_state state; /* up only when every port is up */
	int64_t since_ms;      /* wall clock when the target entered that state */
	int nports;
	struct obs_port ports[OBS_MAX_PORTS];
};

struct obs_agent {
	enum agent_state state;
	int64_t since_ms;
	bool stopped;          /* running, but stopped (SIGSTOP, a debugger): it does no work */
	bool home_known;       /* a trusted home was found (and is remembered in state.json) */
	bool restart_possible; /* a trusted home, or a restart_command: a restart can run */
	bool restart_running;  /* a restart command is still running */
	/* g-property.cfg auto_start_*; retry_max <= 0 = not configured */
	int retry_max;
	int64_t retry_interval_ms;
	int64_t retry_addition_ms;
};

struct obs_task {
	struct sms_task task;
	int64_t polled_ms; /* wall clock of the answer */
};

struct obs_done {
	enum obs_outcome outcome;
	char detail[OBS_DETAIL_MAX]; /* "SMS.7714", "exit 1"; "" when none */
};

struct observation {
	enum obs_kind kind;
	int64_t time_ms; /* wall clock when it was made */
	union {
		struct obs_target target;
		struct obs_agent agent;
		struct obs_task task;
		enum cloud_state cloud;
		struct obs_done done;
	} u;
};

/*
 * Where a module reports: `report` copies the observation (it may be on the
 * reporter's stack) and returns at once; `event` raises an event of
 * DESIGN.md §5.7 and takes ownership of details (may be NULL).
 */
struct observer {
	void *arg;
	void (*report)(void *arg, const struct observation *o);
	void (*event)(void *arg, enum event_type type, cJSON *details, const char *message);
};

static inline void
observer_report(const struct observer *o, const struct observation *obs)
{
	if (o != NULL && o->report != NULL)
		o->report(o->arg, obs);
}

static inline void
observer_event(const struct observer *o, enum event_type type, cJSON *details, const char *message)
{
	if (o != NULL && o->event != NULL)
		o->event(o->arg, type, details, message);
	else
		cJSON_Delete(details);
}

/* "target", "agent", "task", … for logs and tests. */
const char *obs_kind_name(enum obs_kind k);

#endif
