/*
 * How edge modules report to the daemon (DESIGN.md §3 data flow): a watcher
 * calls `changed` when what it observes changes (the daemon then re-runs the
 * policy and may poll the cloud at once), and `event` to raise an event of
 * DESIGN.md §5.7. Modules never reach into each other's structs.
 */
#ifndef SMSGUARD_OBSERVE_H
#define SMSGUARD_OBSERVE_H

#include <cjson/cJSON.h>

#include "smsguard/events.h"

enum obs_source {
	OBS_TARGET = 0, /* a port or the whole target changed state */
	OBS_AGENT,      /* the agent died, appeared, or a restart finished */
	OBS_TASK,       /* a new task snapshot (or the cloud's state) */
	OBS_CLOUD,      /* the cloud client's own state (auth, reachability) */
};

struct observer {
	void *arg;
	void (*changed)(void *arg, enum obs_source src);
	/* Takes ownership of details (may be NULL). */
	void (*event)(void *arg, enum event_type type, cJSON *details, const char *message);
};

static inline void
observer_changed(const struct observer *o, enum obs_source src)
{
	if (o != NULL && o->changed != NULL)
		o->changed(o->arg, src);
}

static inline void
observer_event(const struct observer *o, enum event_type type, cJSON *details, const char *message)
{
	if (o != NULL && o->event != NULL)
		o->event(o->arg, type, details, message);
	else
		cJSON_Delete(details);
}

#endif
