/* SMS v3 / SMN v2 requests (reference §2–§8): bodies, paths, queries, the SMN topic URN. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "smsguard/sign.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"

static char *
print_and_delete(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o), *copy;

	cJSON_Delete(o);
	if (s == NULL)
		abort(); /* cJSON only fails to print when out of memory */
	copy = xstrdup(s);
	cJSON_free(s);
	return copy;
}

char *
sms_action_body(const char *operation)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "operation", operation);
	return print_and_delete(o);
}

static void
format_hhmm(int min, char buf[8])
{
	if (min >= 1439)
		min = 1439; /* SMS writes the end of the day as 23:59 */
	if (min < 0)
		min = 0;
	snprintf(buf, 8, "%02d:%02d", min / 60, min % 60);
}

char *
sms_speed_limit_body(const struct schedule_period *p, int n, double threshold)
{
	cJSON *o, *arr;

	if (n < 0 || n > SCHEDULE_MAX_PERIODS)
		return NULL;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "speed_limit");
	for (int i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();
		char start[8], end[8];

		format_hhmm(p[i].start_min, start);
		format_hhmm(p[i].end_min, end);
		cJSON_AddStringToObject(it, "start", start);
		cJSON_AddStringToObject(it, "end", end);
		cJSON_AddNumberToObject(it, "speed", p[i].mbps);
		if (threshold > 0)
			cJSON_AddNumberToObject(it, "over_speed_threshold", threshold);
		cJSON_AddItemToArray(arr, it);
	}
	return print_and_delete(o);
}

char *
sms_smn_publish_body(const char *subject, const char *message, unsigned ttl_s)
{
	cJSON *o = cJSON_CreateObject();
	char *subj = xstrdup(subject != NULL ? subject : "");
	size_t len = strlen(subj);
	char ttl[16];

	if (len > SMS_SMN_SUBJECT_MAX) {
		len = SMS_SMN_SUBJECT_MAX;
		/* Never cut a UTF-8 sequence in half: back up over continuation bytes. */
		while (len > 0 && ((unsigned char)subj[len] & 0xc0) == 0x80)
			len--;
		subj[len] = '\0';
	}
	snprintf(ttl, sizeof(ttl), "%u", ttl_s);
	cJSON_AddStringToObject(o, "subject", subj);
	cJSON_AddStringToObject(o, "message", message != NULL ? message : "");
	cJSON_AddStringToObject(o, "time_to_live", ttl);
	free(subj);
	return print_and_delete(o);
}

static char *
path_with_id(const char *prefix, const char *id, const char *suffix)
{
	char *enc = sign_uri_encode(id, strlen(id));
	char *p = xasprintf("%s%s%s", prefix, enc, suffix);

	free(enc);
	return p;
}

char *
sms_task_path(const char *task_id)
{
	return path_with_id("/v3/tasks/", task_id, "");
}

char *
sms_task_action_path(const char *task_id)
{
	return path_with_id("/v3/tasks/", task_id, "/action");
}

char *
sms_speed_limit_path(const char *task_id)
{
	return path_with_id("/v3/tasks/", task_id, "/speed-limit");
}

char *
sms_tasks_by_source_query(const char *source_id)
{
	return path_with_id("source_server_id=", source_id, "&limit=200");
}

char *
sms_sources_by_ip_query(const char *ip)
{
	return path_with_id("ip=", ip, "&limit=200");
}

char *
sms_sources_by_name_query(const char *name)
{
	return path_with_id("name=", name, "&limit=200");
}

static bool
urn_part_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '-' || c == '_'))
			return false;
	}
	return true;
}

int
sms_smn_urn_parse(const char *urn, char **region, char **project_id, char **topic)
{
	const char *parts[3];
	size_t lens[3];
	const char *p;

	if (region != NULL)
		*region = NULL;
	if (project_id != NULL)
		*project_id = NULL;
	if (topic != NULL)
		*topic = NULL;
	if (urn == NULL || strncmp(urn, "urn:smn:", 8) != 0)
		return -EINVAL;
	p = urn + 8;
	for (int i = 0; i < 3; i++) {
		const char *colon = i < 2 ? strchr(p, ':') : p + strlen(p);

		if (colon == NULL)
			return -EINVAL;
		parts[i] = p;
		lens[i] = (size_t)(colon - p);
		if (!urn_part_ok(parts[i], lens[i]))
			return -EINVAL;
		p = colon + (i < 2);
	}
	if (region != NULL)
		*region = xasprintf("%.*s", (int)lens[0], parts[0]);
	if (project_id != NULL)
		*project_id = xasprintf("%.*s", (int)lens[1], parts[1]);
	if (topic != NULL)
		*topic = xasprintf("%.*s", (int)lens[2], parts[2]);
	return 0;
}

char *
sms_smn_publish_path(const char *urn)
{
	char *project = NULL, *enc, *path;

	if (sms_smn_urn_parse(urn, NULL, &project, NULL) < 0)
		return NULL;
	enc = sign_uri_encode(urn, strlen(urn));
	path = xasprintf("/v2/%s/notifications/topics/%s/publish", project, enc);
	free(enc);
	free(project);
	return path;
}

char *
sms_smn_default_endpoint(const char *region)
{
	/* The SDKs' table: two regions live under a domain of their own. */
	const char *tld = strcmp(region, "cn-north-2") == 0 ? "cn"
	    : strcmp(region, "eu-west-101") == 0            ? "eu"
	                                                    : "com";

	return xasprintf("https://smn.%s.myhuaweicloud.%s", region, tld);
}
