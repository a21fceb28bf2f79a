/*
 * The old cloud_* calls, from when the client polled the task itself: kept
 * so that daemon.c and recovery.c build until they own a task poller. Each
 * drives the poller the client makes on first use (cloud_poller()). Delete
 * this file, cloud_poller(), cloud_poller_peek() and the client's `poller`
 * with their last caller.
 */
#include <errno.h>

#include "smsguard/cloud.h"
#include "smsguard/taskpoll.h"

void
cloud_start(struct cloud *c)
{
	struct taskpoll *p = cloud_poller(c);

	if (p != NULL)
		taskpoll_start(p);
}

void
cloud_poll_now(struct cloud *c)
{
	struct taskpoll *p = cloud_poller(c);

	if (p != NULL)
		taskpoll_poll_now(p);
}

void
cloud_set_poll_interval(struct cloud *c, uint64_t interval_ms)
{
	struct taskpoll *p = cloud_poller(c);

	if (p != NULL)
		taskpoll_set_interval(p, interval_ms);
}

const struct sms_task *
cloud_task(const struct cloud *c)
{
	const struct taskpoll *p = cloud_poller_peek(c);

	return p != NULL ? taskpoll_task(p) : NULL;
}

const char *
cloud_task_id(const struct cloud *c)
{
	const struct taskpoll *p = cloud_poller_peek(c);

	return p != NULL ? taskpoll_task_id(p) : NULL;
}

int64_t
cloud_polled_at_ms(const struct cloud *c)
{
	const struct taskpoll *p = cloud_poller_peek(c);

	return p != NULL ? taskpoll_polled_at_ms(p) : 0;
}

cJSON *
cloud_state_json(const struct cloud *c)
{
	const struct taskpoll *p = cloud_poller_peek(c);

	return p != NULL ? taskpoll_state_json(p) : cJSON_CreateObject();
}

void
cloud_restore(struct cloud *c, const cJSON *state)
{
	struct taskpoll *p = cloud_poller(c);

	if (p != NULL)
		taskpoll_restore(p, state);
}

/*
 * Its one caller polls in its callback, so the poll the old client started
 * after an accepted action is left to it.
 */
int
cloud_task_action(struct cloud *c, const char *operation, cloud_done_cb cb, void *arg)
{
	return cloud_action(c, cloud_task_id(c), operation, cb, arg);
}

int
cloud_set_speed_limits(
    struct cloud *c, const struct schedule_period *periods, int n, cloud_done_cb cb, void *arg)
{
	return cloud_update_speed_limits(c, cloud_task_id(c), periods, n, cb, arg);
}

int
cloud_get_speed_limits(struct cloud *c, cloud_limits_cb cb, void *arg)
{
	return cloud_show_speed_limits(c, cloud_task_id(c), cb, arg);
}
