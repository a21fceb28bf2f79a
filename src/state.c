/*
 * state.json (DESIGN.md §5.10): what survives a restart of smsguard - the
 * agent home found from the running agent, the event ring, a discovered
 * task id, the engine's persisted state and the undelivered notifications -
 * built, written atomically (store.c) and read back at start.
 */
#define LOG_TAG "state"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "smsguard/agent.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/notify.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

#define STATE_VERSION 1

static cJSON *
state_json(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "version", STATE_VERSION);
	cJSON_AddNumberToObject(o, "saved_at", (double)(util_wall_ms() / 1000));
	/* The home found from the running agent, so a dead one can be started after a reboot. */
	if (agent_home(d->agent) != NULL)
		cJSON_AddStringToObject(o, "agent_home", agent_home(d->agent));
	cJSON_AddItemToObject(o, "events", events_to_json(&d->events, 0));
	/* A discovered task id survives restarts, so discovery runs once. */
	cJSON_AddItemToObject(o, "cloud", taskpoll_state_json(d->poll));
	cJSON_AddItemToObject(o, "recovery", engine_state_json(executor_engine(d->exec)));
	/* Undelivered notifications, delivered in order after a restart. */
	if (d->notify != NULL)
		cJSON_AddItemToObject(o, "notify", notify_state_json(d->notify));
	return o;
}

static void
state_retry_cb(uv_timer_t *t)
{
	state_save(container_of(t, struct daemon, state_retry));
}

/*
 * A failed write (a full or read-only disk) leaves the state in memory only:
 * it is written again as soon as the disk allows, not at the next change,
 * which may never come while a kill -9 or a reboot would lose it.
 */
void
state_save(struct daemon *d)
{
	cJSON *doc;
	int r;

	if (!d->store_ok)
		return;
	doc = state_json(d);
	r = store_save(&d->store, doc);
	cJSON_Delete(doc);
	if (!d->state_retry_ready)
		return;
	if (r == 0) {
		uv_timer_stop(&d->state_retry);
	} else if (!uv_is_active((uv_handle_t *)&d->state_retry)) {
		log_warnx("the state is kept in memory and written as soon as %s allows it",
		    d->store.dir);
		uv_timer_start(&d->state_retry, state_retry_cb, STATE_RETRY_MS, STATE_RETRY_MS);
	}
}

void
state_restore(struct daemon *d)
{
	cJSON *doc = NULL, *v;
	char *cause = NULL;
	int r;

	r = store_load(&d->store, &doc, &cause);
	if (r == -ENOENT) {
		log_info("no state file yet: %s", d->store.path);
		return;
	}
	if (r < 0) {
		log_warnx("%s", cause);
		free(cause);
		return;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "agent_home");
	if (cJSON_IsString(v) && v->valuestring[0] == '/' && strlen(v->valuestring) < 4096 &&
	    agent_set_known_home(d->agent, v->valuestring) == -EINVAL) {
		char esc[512];

		/* An untrusted home (-EPERM) is explained by the agent module itself. */
		log_warnx("the remembered agent home is no longer an agent home: %s",
		    log_escape(v->valuestring, -1, esc, sizeof(esc)));
	}
	events_from_json(&d->events, cJSON_GetObjectItemCaseSensitive(doc, "events"));
	v = cJSON_GetObjectItemCaseSensitive(doc, "cloud");
	if (cJSON_IsObject(v))
		taskpoll_restore(d->poll, v);
	if (engine_restore(executor_engine_mut(d->exec),
	        cJSON_GetObjectItemCaseSensitive(doc, "recovery"), util_wall_ms()) < 0)
		log_warnx("recovery state in the state file is not usable: starting fresh");
	v = cJSON_GetObjectItemCaseSensitive(doc, "notify");
	if (cJSON_IsObject(v))
		notify_restore(d->notify, v);
	log_info("state restored from %s (%d events)", d->store.path, d->events.count);
	cJSON_Delete(doc);
}
