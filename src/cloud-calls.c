/*
 * The calls the engine makes on the task (start or stop it, its speed
 * limits) and the SMN publish: each builds its request (sms.h) and hands it
 * to the client, which signs, sends and accounts for it (cloud.c).
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdlib.h>

#include "smsguard/cloud.h"
#include "smsguard/cloudwire.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#include "cloud-internal.h"

/* SMS pauses a task that exceeds its limit by more than this many percent; 100 is the most lenient. */
#define OVER_SPEED_THRESHOLD 100.0

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
	rc = cloud_call_plain(c, &call, NULL, NULL, cb, NULL, arg);
	if (rc == 0)
		log_info("task %s: POST action %s", task_id, operation);
	free(path);
	free(body);
	return rc;
}

int
cloud_update_speed_limits(struct cloud *c, const char *task_id,
    const struct schedule_period *periods, int n, cloud_done_cb cb, void *arg)
{
	struct cloud_call call = {.api = CLOUD_API_UPDATE_SPEED_LIMIT, .method = "POST"};
	char *path, *body;
	int rc;

	if (task_id == NULL)
		return -ENOENT;
	if (cb == NULL || (body = sms_speed_limit_body(periods, n, OVER_SPEED_THRESHOLD)) == NULL)
		return -EINVAL;
	call.path = path = sms_speed_limit_path(task_id);
	call.body = body;
	rc = cloud_call_plain(c, &call, NULL, NULL, cb, NULL, arg);
	free(path);
	free(body);
	return rc;
}

int
cloud_show_speed_limits(struct cloud *c, const char *task_id, cloud_limits_cb cb, void *arg)
{
	struct cloud_call call = {.api = CLOUD_API_SHOW_SPEED_LIMIT, .method = "GET"};
	char *path;
	int rc;

	if (task_id == NULL)
		return -ENOENT;
	if (cb == NULL)
		return -EINVAL;
	call.path = path = sms_speed_limit_path(task_id);
	rc = cloud_call_plain(c, &call, NULL, NULL, NULL, cb, arg);
	free(path);
	return rc;
}

int
cloud_smn_publish(
    struct cloud *c, const char *subject, const char *message, cloud_done_cb cb, void *arg)
{
	const struct config *cfg = cloud_config(c);
	struct cloud_call call = {.api = CLOUD_API_SMN_PUBLISH, .method = "POST"};
	char *region = NULL, *project = NULL, *path = NULL, *body = NULL, *base = NULL;
	int rc;

	if (cb == NULL || cfg->smn_topic == NULL)
		return -EINVAL;
	if ((rc = cloud_call_allowed(c)) < 0)
		return rc;
	if (sms_smn_urn_parse(cfg->smn_topic, &region, &project, NULL) < 0 ||
	    (path = sms_smn_publish_path(cfg->smn_topic)) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	if (cfg->smn_endpoint != NULL && cfg->smn_endpoint[0] != '\0')
		base = cloudwire_base(cfg->smn_endpoint);
	else
		base = xasprintf("https://smn.%s.myhuaweicloud.com", region);
	call.path = path;
	call.body = body = sms_smn_publish_body(subject, message, 3600);
	/* SMN is project-level: the topic's project goes in X-Project-Id, as the SDK does. */
	rc = cloud_call_plain(c, &call, base, project, cb, NULL, arg);
out:
	free(region);
	free(project);
	free(path);
	free(body);
	free(base);
	return rc;
}
