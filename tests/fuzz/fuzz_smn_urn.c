/*
 * libFuzzer: the SMN topic URN of [notify] smn_topic_urn. Whatever parses
 * must give three non-empty parts that put the URN back together, and a
 * publish path; whatever does not must give no parts and no path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_check.h"
#include "smsguard/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *urn, *region = NULL, *project = NULL, *topic = NULL, *path, *again;

	if (size > 4096)
		return 0;
	urn = malloc(size + 1);
	if (urn == NULL)
		return 0;
	memcpy(urn, data, size);
	urn[size] = '\0';
	path = sms_smn_publish_path(urn);
	if (sms_smn_urn_parse(urn, &region, &project, &topic) == 0) {
		CHECK(region != NULL && project != NULL && topic != NULL);
		CHECK(region[0] != '\0' && project[0] != '\0' && topic[0] != '\0');
		check_token(region, 1);
		check_token(project, 1);
		check_token(topic, 1);
		CHECK(asprintf(&again, "urn:smn:%s:%s:%s", region, project, topic) > 0);
		CHECK(strcmp(again, urn) == 0);
		free(again);
		CHECK(path != NULL && strncmp(path, "/v2/", 4) == 0);
		check_token(path, 1);
	} else {
		CHECK(region == NULL && project == NULL && topic == NULL && path == NULL);
	}
	free(path);
	free(region);
	free(project);
	free(topic);
	free(urn);
	return 0;
}
