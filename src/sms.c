/* SMS v3 / SMN v2 bodies: builders and defensive parsers (reference §2–§8). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "smsguard/sign.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"

/* What to do with a string longer than its buffer. */
enum fit {
	FIT_REJECT = 0, /* identifiers: a longer one is not what SMS sends */
	FIT_TRUNCATE,   /* human text */
};

static int
bad(char **cause, const char *what, const char *key)
{
	if (cause != NULL && *cause == NULL)
		*cause = xasprintf("%s: %s", key, what);
	return -EBADMSG;
}

/* Absent or null: "" and 0. Wrong type or too long (FIT_REJECT): -EBADMSG. */
static int
get_string(const cJSON *obj, const char *key, char *buf, size_t cap, enum fit fit, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t len;

	buf[0] = '\0';
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return bad(cause, "not a string", key);
	len = strlen(v->valuestring);
	if (len >= cap && fit == FIT_REJECT)
		return bad(cause, "too long", key);
	util_strlcpy(buf, v->valuestring, cap);
	return 0;
}

static int
number_to_int64(const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
	double d = v->valuedouble;

	if (!isfinite(d) || d < (double)lo || d > (double)hi)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* Absent or null: *out = dflt. */
static int
get_int64(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t dflt, int64_t *out,
    char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = dflt;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v))
		return bad(cause, "not a number", key);
	if (number_to_int64(v, lo, hi, out) < 0)
		return bad(cause, "out of range", key);
	return 0;
}

static int
get_double(
    const cJSON *obj, const char *key, double lo, double hi, bool *has, double *out, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*has = false;
	*out = 0;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v))
		return bad(cause, "not a number", key);
	if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
		return bad(cause, "out of range", key);
	*has = true;
	*out = v->valuedouble;
	return 0;
}

static int
get_tristate(const cJSON *obj, const char *key, enum sms_tristate *out, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = SMS_ABSENT;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return bad(cause, "not a boolean", key);
	*out = cJSON_IsTrue(v) ? SMS_TRUE : SMS_FALSE;
	return 0;
}

/* An object member that may be absent or null (*out NULL then). */
static int
get_object(const cJSON *obj, const char *key, const cJSON **out, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v))
		return bad(cause, "not an object", key);
	*out = v;
	return 0;
}

static int
get_array(const cJSON *obj, const char *key, const cJSON **out, char **cause)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v))
		return bad(cause, "not an array", key);
	*out = v;
	return 0;
}

static cJSON *
parse_body(const char *body, size_t len, char **cause)
{
	cJSON *root;

	if (body == NULL || len == 0) {
		bad(cause, "empty", "body");
		return NULL;
	}
	if (len > SMS_BODY_MAX) {
		bad(cause, "too large", "body");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL) {
		bad(cause, "not JSON", "body");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		bad(cause, "not an object", "body");
		return NULL;
	}
	return root;
}

static int
error_params_from_array(const cJSON *arr, struct sms_task *t)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
	{
		char *dst;

		if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
			return -EBADMSG;
		if (t->nerror_params == SMS_ERROR_PARAMS_MAX)
			continue; /* the first few are what a person needs */
		dst = t->error_params[t->nerror_params++];
		if (cJSON_IsString(it))
			util_strlcpy(dst, it->valuestring, SMS_ERROR_PARAM_LEN + 1);
		else
			snprintf(dst, SMS_ERROR_PARAM_LEN + 1, "%g", it->valuedouble);
	}
	return 0;
}

int
sms_error_json_parse(const char *s, size_t len, struct sms_task *t)
{
	cJSON *root = NULL, *inner = NULL;
	const cJSON *code, *param;
	int rc = -EBADMSG;

	t->error_code[0] = '\0';
	t->nerror_params = 0;
	if (s == NULL || len == 0)
		return 0;
	if (len > SMS_ERROR_JSON_MAX)
		return -EBADMSG;
	root = cJSON_ParseWithLength(s, len);
	if (root == NULL || !cJSON_IsObject(root))
		goto fail;
	code = cJSON_GetObjectItemCaseSensitive(root, "error_code");
	if (code != NULL && !cJSON_IsNull(code)) {
		if (!cJSON_IsString(code) || strlen(code->valuestring) > SMS_CODE_MAX)
			goto fail;
		util_strlcpy(t->error_code, code->valuestring, sizeof(t->error_code));
	}
	param = cJSON_GetObjectItemCaseSensitive(root, "error_param");
	if (cJSON_IsString(param) && param->valuestring[0] != '\0') {
		/* A JSON array inside the JSON string inside the JSON: decode once more. */
		inner = cJSON_Parse(param->valuestring);
		if (inner == NULL || !cJSON_IsArray(inner))
			goto fail;
		if (error_params_from_array(inner, t) < 0)
			goto fail;
	} else if (cJSON_IsArray(param)) {
		if (error_params_from_array(param, t) < 0)
			goto fail;
	} else if (param != NULL && !cJSON_IsNull(param) && !cJSON_IsString(param)) {
		goto fail;
	}
	rc = 0;
fail:
	if (rc < 0) {
		t->error_code[0] = '\0';
		t->nerror_params = 0;
	}
	cJSON_Delete(inner);
	cJSON_Delete(root);
	return rc;
}

static int
parse_subtasks(const cJSON *arr, struct sms_task *t, char **cause)
{
	const cJSON *it, *current = NULL, *last = NULL;
	int64_t progress;

	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *end;

		if (!cJSON_IsObject(it))
			return bad(cause, "not an object", "sub_tasks[]");
		last = it;
		end = cJSON_GetObjectItemCaseSensitive(it, "end_date");
		if (current == NULL && (end == NULL || cJSON_IsNull(end)))
			current = it;
	}
	if (current == NULL)
		current = last;
	if (current == NULL)
		return 0;
	if (get_string(current, "name", t->subtask, sizeof(t->subtask), FIT_TRUNCATE, cause) < 0 ||
	    get_int64(current, "progress", -1000, 1000, -1, &progress, cause) < 0)
		return -EBADMSG;
	/* progress is 0..100 in the schema; clamp rather than refuse a slightly odd value. */
	if (progress > 100)
		progress = 100;
	t->progress = progress < 0 ? -1 : (int)progress;
	return 0;
}

static int
task_from_json(const cJSON *o, struct sms_task *t, char **cause)
{
	char type[SMS_STATE_MAX + 1], os[SMS_STATE_MAX + 1];
	char error_json[SMS_ERROR_JSON_MAX + 1];
	const cJSON *src, *subs;
	const int64_t date_max = (int64_t)1 << 53;

	memset(t, 0, sizeof(*t));
	t->progress = -1;
	if (get_string(o, "id", t->id, sizeof(t->id), FIT_REJECT, cause) < 0 ||
	    get_string(o, "name", t->name, sizeof(t->name), FIT_TRUNCATE, cause) < 0 ||
	    get_string(o, "type", type, sizeof(type), FIT_REJECT, cause) < 0 ||
	    get_string(o, "os_type", os, sizeof(os), FIT_REJECT, cause) < 0 ||
	    get_string(o, "state", t->state_raw, sizeof(t->state_raw), FIT_REJECT, cause) < 0 ||
	    get_string(o, "error_json", error_json, sizeof(error_json), FIT_REJECT, cause) < 0 ||
	    get_string(o, "migration_ip", t->migration_ip, sizeof(t->migration_ip), FIT_REJECT,
	        cause) < 0 ||
	    get_object(o, "source_server", &src, cause) < 0 ||
	    get_array(o, "sub_tasks", &subs, cause) < 0 ||
	    get_double(
	        o, "migrate_speed", 0, 1e9, &t->has_migrate_speed, &t->migrate_speed, cause) < 0 ||
	    get_int64(o, "remain_seconds", 0, date_max, -1, &t->remain_seconds, cause) < 0 ||
	    get_tristate(o, "connected", &t->connected, cause) < 0 ||
	    get_int64(o, "create_date", 0, date_max, 0, &t->create_ms, cause) < 0 ||
	    get_int64(o, "start_date", 0, date_max, 0, &t->start_ms, cause) < 0 ||
	    get_int64(o, "finish_date", 0, date_max, 0, &t->finish_ms, cause) < 0 ||
	    get_int64(o, "speed_limit", 0, 1000000, -1, &t->speed_limit, cause) < 0)
		return -EBADMSG;
	if (t->id[0] == '\0')
		return bad(cause, "missing", "id");
	t->type = task_type_from_name(type);
	t->os_type = task_os_from_name(os);
	t->state = task_state_from_name(t->state_raw);
	if (src != NULL &&
	    (get_string(src, "id", t->source_id, sizeof(t->source_id), FIT_REJECT, cause) < 0 ||
	        get_string(src, "ip", t->source_ip, sizeof(t->source_ip), FIT_REJECT, cause) < 0 ||
	        get_string(
	            src, "name", t->source_name, sizeof(t->source_name), FIT_TRUNCATE, cause) < 0))
		return -EBADMSG;
	if (subs != NULL && parse_subtasks(subs, t, cause) < 0)
		return -EBADMSG;
	if (sms_error_json_parse(error_json, strlen(error_json), t) < 0)
		return bad(cause, "malformed", "error_json");
	return 0;
}

int
sms_task_parse(const char *body, size_t len, struct sms_task *out, char **cause)
{
	cJSON *root = parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = task_from_json(root, out, cause);
	cJSON_Delete(root);
	return rc;
}

/* {"count":N,"<key>":[…]}: the array, or NULL when absent or null. */
static int
list_items(const cJSON *root, const char *key, const cJSON **arr, int *n, char **cause)
{
	if (get_array(root, key, arr, cause) < 0)
		return -EBADMSG;
	*n = *arr != NULL ? cJSON_GetArraySize(*arr) : 0;
	if (*n > SMS_LIST_MAX)
		return bad(cause, "too many items", key);
	return 0;
}

int
sms_task_list_parse(const char *body, size_t len, struct sms_task **out, int *n, char **cause)
{
	cJSON *root = parse_body(body, len, cause);
	const cJSON *arr, *it;
	struct sms_task *tasks = NULL;
	int count = 0, i = 0, rc = -EBADMSG;

	*out = NULL;
	*n = 0;
	if (root == NULL)
		return -EBADMSG;
	if (list_items(root, "tasks", &arr, &count, cause) < 0)
		goto fail;
	if (count > 0)
		tasks = xcalloc((size_t)count, sizeof(*tasks));
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it)) {
			bad(cause, "not an object", "tasks[]");
			goto fail;
		}
		if (task_from_json(it, &tasks[i++], cause) < 0)
			goto fail;
	}
	*out = tasks;
	*n = count;
	tasks = NULL;
	rc = 0;
fail:
	free(tasks);
	cJSON_Delete(root);
	return rc;
}

static int
source_from_json(const cJSON *o, struct sms_source *s, char **cause)
{
	const cJSON *cur;

	memset(s, 0, sizeof(*s));
	if (get_string(o, "id", s->id, sizeof(s->id), FIT_REJECT, cause) < 0 ||
	    get_string(o, "name", s->name, sizeof(s->name), FIT_TRUNCATE, cause) < 0 ||
	    get_string(o, "ip", s->ip, sizeof(s->ip), FIT_REJECT, cause) < 0 ||
	    get_string(o, "state", s->state, sizeof(s->state), FIT_REJECT, cause) < 0 ||
	    get_tristate(o, "connected", &s->connected, cause) < 0 ||
	    get_object(o, "current_task", &cur, cause) < 0)
		return -EBADMSG;
	if (s->id[0] == '\0')
		return bad(cause, "missing", "id");
	if (cur != NULL &&
	    (get_string(cur, "id", s->current_task_id, sizeof(s->current_task_id), FIT_REJECT,
	         cause) < 0 ||
	        get_string(cur, "state", s->current_task_state, sizeof(s->current_task_state),
	            FIT_REJECT, cause) < 0))
		return -EBADMSG;
	return 0;
}

int
sms_source_parse(const char *body, size_t len, struct sms_source *out, char **cause)
{
	cJSON *root = parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = source_from_json(root, out, cause);
	cJSON_Delete(root);
	return rc;
}

int
sms_source_list_parse(const char *body, size_t len, struct sms_source **out, int *n, char **cause)
{
	cJSON *root = parse_body(body, len, cause);
	const cJSON *arr, *it;
	struct sms_source *srcs = NULL;
	int count = 0, i = 0, rc = -EBADMSG;

	*out = NULL;
	*n = 0;
	if (root == NULL)
		return -EBADMSG;
	if (list_items(root, "source_servers", &arr, &count, cause) < 0)
		goto fail;
	if (count > 0)
		srcs = xcalloc((size_t)count, sizeof(*srcs));
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it)) {
			bad(cause, "not an object", "source_servers[]");
			goto fail;
		}
		if (source_from_json(it, &srcs[i++], cause) < 0)
			goto fail;
	}
	*out = srcs;
	*n = count;
	srcs = NULL;
	rc = 0;
fail:
	free(srcs);
	cJSON_Delete(root);
	return rc;
}

int
sms_parse_hhmm(const char *s)
{
	int h = 0, m = 0, hd = 0;

	if (s == NULL)
		return -1;
	while (*s >= '0' && *s <= '9' && hd < 2) {
		h = h * 10 + (*s++ - '0');
		hd++;
	}
	if (hd == 0 || *s++ != ':')
		return -1;
	if (!(s[0] >= '0' && s[0] <= '5') || !(s[1] >= '0' && s[1] <= '9') || s[2] != '\0')
		return -1;
	m = (s[0] - '0') * 10 + (s[1] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

int
sms_speed_limits_parse(
    const char *body, size_t len, struct schedule_period out[SCHEDULE_MAX_PERIODS], char **cause)
{
	cJSON *root = parse_body(body, len, cause);
	const cJSON *arr, *it;
	int n = 0, rc = -EBADMSG;

	if (root == NULL)
		return -EBADMSG;
	if (get_array(root, "speed_limit", &arr, cause) < 0)
		goto fail;
	if (arr != NULL && cJSON_GetArraySize(arr) > SCHEDULE_MAX_PERIODS) {
		bad(cause, "more than 5 periods", "speed_limit");
		goto fail;
	}
	cJSON_ArrayForEach(it, arr)
	{
		char start[16], end[16];
		int64_t speed;
		int s, e;

		if (!cJSON_IsObject(it)) {
			bad(cause, "not an object", "speed_limit[]");
			goto fail;
		}
		if (get_string(it, "start", start, sizeof(start), FIT_REJECT, cause) < 0 ||
		    get_string(it, "end", end, sizeof(end), FIT_REJECT, cause) < 0 ||
		    get_int64(it, "speed", 0, 100000, 0, &speed, cause) < 0)
			goto fail;
		if ((s = sms_parse_hhmm(start)) < 0 || s >= 1440) {
			bad(cause, "not HH:MM", "start");
			goto fail;
		}
		if ((e = sms_parse_hhmm(end)) < 0) {
			bad(cause, "not HH:MM", "end");
			goto fail;
		}
		out[n].start_min = (uint16_t)s;
		out[n].end_min = (uint16_t)(e >= 1439 ? 1439 : e);
		out[n].mbps = (uint32_t)speed;
		n++;
	}
	rc = n;
fail:
	cJSON_Delete(root);
	return rc;
}

/* The first string among keys, or NULL. */
static const char *
first_string(const cJSON *o, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);

		if (cJSON_IsString(v) && v->valuestring[0] != '\0')
			return v->valuestring;
	}
	return NULL;
}

static void
error_from_object(const cJSON *o, struct sms_error *out)
{
	static const char *const code_keys[] = {"error_code", "errorCode", "code", NULL};
	static const char *const msg_keys[] = {"error_msg", "errorMsg", "message", NULL};
	static const char *const rid_keys[] = {"request_id", "requestId", NULL};
	const char *v;

	if (out->code[0] == '\0' && (v = first_string(o, code_keys)) != NULL &&
	    strlen(v) <= SMS_CODE_MAX)
		util_strlcpy(out->code, v, sizeof(out->code));
	if (out->msg[0] == '\0' && (v = first_string(o, msg_keys)) != NULL)
		util_strlcpy(out->msg, v, sizeof(out->msg));
	if (out->request_id[0] == '\0' && (v = first_string(o, rid_keys)) != NULL &&
	    strlen(v) <= SMS_ID_MAX)
		util_strlcpy(out->request_id, v, sizeof(out->request_id));
}

int
sms_error_parse(const char *body, size_t len, struct sms_error *out)
{
	cJSON *root;
	const cJSON *nested, *details;

	out->code[0] = out->msg[0] = out->request_id[0] = '\0';
	if (body == NULL || len == 0 || len > SMS_BODY_MAX)
		return -EBADMSG;
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EBADMSG;
	}
	error_from_object(root, out);
	/* Some gateways nest it: {"error":{"code":…,"message":…}}. */
	nested = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(nested))
		error_from_object(nested, out);
	details = cJSON_GetObjectItemCaseSensitive(root, "details");
	if (cJSON_IsArray(details) && cJSON_IsObject(cJSON_GetArrayItem(details, 0)))
		error_from_object(cJSON_GetArrayItem(details, 0), out);
	cJSON_Delete(root);
	return out->code[0] != '\0' ? 0 : -EBADMSG;
}

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
