/*
 * Task discovery, when [task] id is empty (DESIGN.md §4): find this host's
 * SMS task through the cloud client. ListServers is asked for each of this
 * host's addresses in turn, then for its host name, until one answer holds a
 * source server that is this host; then ListTasks for each such source, and
 * the newest unfinished task wins (else the newest). The id found is kept,
 * and survives restarts through the state file, until the task is gone
 * (discover_gone: ShowTask answered 404); the next search finds this host's
 * task again.
 *
 * The search is one call at a time, on the task poller's behalf (taskpoll.h):
 * its outcome goes to the poller, which reports it to the client's backoff.
 */
#ifndef SMSGUARD_DISCOVER_H
#define SMSGUARD_DISCOVER_H

#include <cjson/cJSON.h>

#include "smsguard/cloud.h"

struct discover;

/*
 * A search ended: res is the failure that ended it (resp its answer, or
 * NULL when a call could not go out), or CLOUD_RES_OK, and then
 * discover_task_id() says whether a task was found.
 */
typedef void (*discover_done_cb)(
    void *arg, enum cloud_result res, const struct http_response *resp);

/* Searches through c, which must outlive the discovery. */
struct discover *discover_new(struct cloud *c);
/* Drops a search in flight (no callback). NULL is a no-op. */
void discover_free(struct discover *d);

/*
 * Starts a search. Returns 0, and cb runs once when it ends (never after
 * discover_cancel() or discover_free()), or a negative errno and cb never
 * runs: -ENOENT when this host has no address or name to look for (logged
 * as a search that found nothing), or why the first call could not go out.
 */
int discover_start(struct discover *d, discover_done_cb cb, void *arg);
/* Drops the search in flight, if any: its call is cancelled, cb not called. */
void discover_cancel(struct discover *d);

/* The task found, or NULL. */
const char *discover_task_id(const struct discover *d);
/* The task found no longer exists (ShowTask answered 404): forget it, say so. */
void discover_gone(struct discover *d);
/* Forgets the task found (the target changed). */
void discover_forget(struct discover *d);

/* What survives a restart: {"task_id": the id found}, or {}. A new object. */
cJSON *discover_state_json(const struct discover *d);
/* Takes back an id found before a restart. */
void discover_restore(struct discover *d, const cJSON *state);

#endif
