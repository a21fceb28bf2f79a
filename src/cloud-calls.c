/*
 * The calls the engine makes on the task (start it) and the SMN publish of
 * the notifications: each builds its request (sms.h) and hands it to the
 * client, which signs, sends and accounts for it (cloud.c).
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdlib.h>

#include "smsguard/cloud.h"
#include "smsguard/cloudwire.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#include "cloud-internal.h"

/* How long SMN keeps trying a subscriber (its default; a day at most). */
#define SMN_TTL_S 3600

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
	rc = cloud_call_plain(c, &call, NULL, NULL, cb, arg, NULL);
	if (rc == 0)
		log_info("task %s: POST action %s", task_id, operation);
	free(path);
	free(body);
	return rc;
}

int
cloud_smn_publish(struct cloud *c, const char *topic, const char *endpoint, const char *subject,
    const char *message, cloud_done_cb cb, void *arg, uint64_t *id)
{
	struct cloud_call call = {.api = CLOUD_API_SMN_PUBLISH, .method = "POST", .quiet = true};
	char *region = NULL, *project = NULL, *path = NULL, *body = NULL, *base = NULL;
	int rc;

	if (cb == NULL || sms_smn_urn_parse(topic, &region, &project, NULL) < 0 ||
	    (path = sms_smn_publish_path(topic)) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	if (endpoint != NULL && endpoint[0] != '\0')
		base = cloudwire_base(endpoint);
	else
		base = sms_smn_default_endpoint(region);
	call.path = path;
	call.body = body = sms_smn_publish_body(subject, message, SMN_TTL_S);
	/* SMN is project-level: the topic's project goes in X-Project-Id, as the SDK does. */
	rc = cloud_call_plain(c, &call, base, project, cb, arg, id);
out:
	free(region);
	free(project);
	free(path);
	free(body);
	free(base);
	return rc;
}
