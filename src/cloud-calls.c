/*
 * The calls the engine makes on the task (start it, today): each builds its
 * request (sms.h) and hands it to the client, which signs, sends and
 * accounts for it (cloud.c). The speed-limit and SMN calls come here with
 * the features that use them.
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdlib.h>

#include "smsguard/cloud.h"
#include "smsguard/cloudwire.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#include "cloud-internal.h"

int
cloud_action(
    struct cloud *c, const char *task_id, const char *operation, cloud_done_cb cb, void *arg)
{
	struct cloud_call call = {.api = CLOUD_API_TASK_ACTION, .method = "POST"};
	char *path, *body;
	int rc;

	if (task_id == NULL)
		return -ENOENT;
	if (operation == NULL || cb == NULL)
		return -EINVAL;
	call.path = path = sms_task_action_path(task_id);
	call.body = body = sms_action_body(operation);
	rc = cloud_call_plain(c, &call, NULL, NULL, cb, arg);
	if (rc == 0)
		log_info("task %s: POST action %s", task_id, operation);
	free(path);
	free(body);
	return rc;
}
