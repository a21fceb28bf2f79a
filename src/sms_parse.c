/*
 * SMS v3 / SMN v2 response parsers (reference §2–§8): tasks, sources, their
 * lists, speed limits, error_json and error bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sms_field.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"

/* Sane ranges. Speeds are Mbit/s, ten times the schema's 10000. */
#define REMAIN_MAX_S (10LL * 366 * 86400)
#define SPEED_MAX_MBPS 100000.0
#define SPEED_LIMIT_MAX 65535

static const char *const task_names[] = {"name", "type", "os_type", "error_json", "migration_ip",
    "source_server", "source_server.id", "source_server.ip", "source_server.name", "sub_tasks",
    "sub_tasks[].name", "sub_tasks[].progress", "migrate_speed", "remain_seconds", "connected",
    "create_date", "start_date", "finish_date", "speed_limit", NULL};
static const char *const source_names[] = {"name", "ip", "state", "connected", "current_task",
    "current_task.id", "current_task.state", NULL};
_Static_assert(SMS_TASK_SPEED_LIMIT == 1u << (nitems(task_names) - 2), "a name for every bit");
_Static_assert(
    SMS_SOURCE_CURRENT_TASK_STATE == 1u << (nitems(source_names) - 2), "a name for every bit");

/* The length of the UTF-8 sequence at s, or 0 when it is broken. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Text from the response that a person will read: control characters and
 * broken UTF-8 become '?', and it is cut whole characters at a time.
 */
static void
printable_copy(char *out, size_t cap, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = utf8_seq(u + i, len - i);
		bool control = n == 1 && (u[i] < 0x20 || u[i] == 0x7f);

		if (o + (n == 0 ? 1 : n) >= cap)
			break;
		if (n == 0 || control) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

static bool
is_word_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    c == '_';
}

/*
 * The SMS.NNNN code in text that did not parse, when it is plainly there:
 * a token of its own, and no other code beside it. "" otherwise.
 */
static void
plain_sms_code(const char *s, size_t len, char out[SMS_CODE_MAX + 1])
{
	char found[9] = "";

	out[0] = '\0';
	for (size_t i = 0; i + 8 <= len; i++) {
		const char *c = s + i;

		if (memcmp(c, "SMS.", 4) != 0 || !(c[4] >= '0' && c[4] <= '9') ||
		    !(c[5] >= '0' && c[5] <= '9') || !(c[6] >= '0' && c[6] <= '9') ||
		    !(c[7] >= '0' && c[7] <= '9'))
			continue;
		if ((i > 0 && (is_word_char(c[-1]) || c[-1] == '.')) ||
		    (i + 8 < len && is_word_char(c[8])))
			continue;
		if (found[0] != '\0' && memcmp(found, c, 8) != 0)
			return; /* two codes: neither is plainly the one */
		memcpy(found, c, 8);
	}
	util_strlcpy(out, found, SMS_CODE_MAX + 1);
}

/* Bad elements are skipped; false when there was one. */
static bool
error_params_from_array(const cJSON *arr, struct sms_task *t)
{
	const cJSON *it;
	bool ok = true;

	cJSON_ArrayForEach(it, arr)
	{
		char *dst;

		if (!cJSON_IsString(it) && !cJSON_IsNumber(it)) {
			ok = false;
			continue;
		}
		if (t->nerror_params == SMS_ERROR_PARAMS_MAX)
			continue; /* the first few are what a person needs */
		dst = t->error_params[t->nerror_params++];
		if (cJSON_IsString(it))
			sms_copy_text(
			    dst, SMS_ERROR_PARAM_LEN + 1, it->valuestring, strlen(it->valuestring));
		else
			snprintf(dst, SMS_ERROR_PARAM_LEN + 1, "%g", it->valuedouble);
	}
	return ok;
}

static bool
error_code_from(const cJSON *root, struct sms_task *t)
{
	const cJSON *code = sms_member(root, "error_code");

	if (code == NULL)
		return true;
	if (!cJSON_IsString(code) || strlen(code->valuestring) > SMS_CODE_MAX ||
	    !sms_is_token(code->valuestring))
		return false;
	util_strlcpy(t->error_code, code->valuestring, sizeof(t->error_code));
	return true;
}

static bool
error_params_from(const cJSON *root, struct sms_task *t)
{
	const cJSON *param = sms_member(root, "error_param");
	cJSON *inner;
	bool ok;

	if (param == NULL || (cJSON_IsString(param) && param->valuestring[0] == '\0'))
		return true;
	if (cJSON_IsArray(param))
		return error_params_from_array(param, t);
	if (!cJSON_IsString(param))
		return false;
	/* A JSON array inside the JSON string inside the JSON: decode once more. */
	inner = cJSON_Parse(param->valuestring);
	ok = cJSON_IsArray(inner) && error_params_from_array(inner, t);
	cJSON_Delete(inner);
	return ok;
}

/* What a malformed error_json still tells: a plain code, and its text for a person. */
static void
error_fallback(struct sms_task *t, const char *s, size_t len)
{
	if (t->error_code[0] == '\0')
		plain_sms_code(s, len, t->error_code);
	printable_copy(t->error_message, sizeof(t->error_message), s, len);
}

int
sms_error_json_parse(const char *s, size_t len, struct sms_task *t)
{
	cJSON *root = NULL;
	bool ok;

	t->error_code[0] = '\0';
	t->nerror_params = 0;
	t->error_message[0] = '\0';
	if (s == NULL || len == 0)
		return 0;
	if (len <= SMS_ERROR_JSON_MAX)
		root = cJSON_ParseWithLength(s, len);
	ok = cJSON_IsObject(root);
	if (ok) {
		/* Both are read: a bad code keeps good params, and the other way round. */
		bool code_ok = error_code_from(root, t);
		bool params_ok = error_params_from(root, t);

		ok = code_ok && params_ok;
	}
	if (!ok)
		error_fallback(t, s, len);
	cJSON_Delete(root);
	return ok ? 0 : -EBADMSG;
}

static void
task_error_json(struct pctx *p, const cJSON *o, struct sms_task *t)
{
	const cJSON *v = sms_member(o, "error_json");
	char *text;

	if (v == NULL)
		return;
	if (cJSON_IsString(v) && v->valuestring != NULL) {
		size_t len = strlen(v->valuestring);

		if (sms_error_json_parse(v->valuestring, len, t) < 0)
			sms_degrade(p, SMS_TASK_ERROR_JSON,
			    len > SMS_ERROR_JSON_MAX ? "too long" : "malformed");
		return;
	}
	/* Not a string (an object, a number): its text is all there is to go on. */
	text = cJSON_PrintUnformatted(v);
	if (text == NULL)
		abort(); /* cJSON only fails to print when out of memory */
	error_fallback(t, text, strlen(text));
	cJSON_free(text);
	sms_degrade(p, SMS_TASK_ERROR_JSON, "not a string");
}

static void
parse_subtasks(struct pctx *p, const cJSON *arr, struct sms_task *t)
{
	const cJSON *it, *current = NULL, *last = NULL;
	int64_t progress;

	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *end;

		/* A bad element is skipped: whether it has ended is unknown. */
		if (!cJSON_IsObject(it)) {
			sms_degrade(p, SMS_TASK_SUB_TASKS, "an element is not an object");
			continue;
		}
		end = sms_member(it, "end_date");
		if (end != NULL && !cJSON_IsNumber(end)) {
			sms_degrade(p, SMS_TASK_SUB_TASKS, "an end_date is not a number");
			continue;
		}
		last = it;
		if (current == NULL && end == NULL)
			current = it;
	}
	if (current == NULL)
		current = last;
	if (current == NULL)
		return;
	sms_get_string(p, current, "name", t->subtask, sizeof(t->subtask), FIT_TRUNCATE,
	    SMS_TASK_SUBTASK_NAME);
	sms_get_int64(p, current, "progress", 0, 100, -1, &progress, SMS_TASK_PROGRESS);
	t->progress = (int)progress;
}

static void
task_source_server(struct pctx *p, const cJSON *o, struct sms_task *t)
{
	const cJSON *src = sms_get_object(p, o, "source_server", SMS_TASK_SOURCE_SERVER);

	if (src == NULL)
		return;
	sms_get_string(
	    p, src, "id", t->source_id, sizeof(t->source_id), FIT_TOKEN, SMS_TASK_SOURCE_ID);
	sms_get_string(
	    p, src, "ip", t->source_ip, sizeof(t->source_ip), FIT_TOKEN, SMS_TASK_SOURCE_IP);
	sms_get_string(p, src, "name", t->source_name, sizeof(t->source_name), FIT_TRUNCATE,
	    SMS_TASK_SOURCE_NAME);
}

static int
task_from_json(struct pctx *p, const cJSON *o, struct sms_task *t)
{
	char type[SMS_STATE_MAX + 1], os[SMS_STATE_MAX + 1];
	const cJSON *subs;

	memset(t, 0, sizeof(*t));
	t->progress = -1;
	p->bad = &t->bad;
	if (sms_need(p, o, "id", t->id, sizeof(t->id)) < 0 ||
	    sms_need(p, o, "state", t->state_raw, sizeof(t->state_raw)) < 0)
		return -EBADMSG;
	t->state = task_state_from_name(t->state_raw);
	sms_get_string(p, o, "name", t->name, sizeof(t->name), FIT_TRUNCATE, SMS_TASK_NAME);
	sms_get_string(p, o, "type", type, sizeof(type), FIT_TOKEN, SMS_TASK_TYPE);
	sms_get_string(p, o, "os_type", os, sizeof(os), FIT_TOKEN, SMS_TASK_OS_TYPE);
	t->type = task_type_from_name(type);
	t->os_type = task_os_from_name(os);
	sms_get_string(p, o, "migration_ip", t->migration_ip, sizeof(t->migration_ip), FIT_TOKEN,
	    SMS_TASK_MIGRATION_IP);
	task_error_json(p, o, t);
	task_source_server(p, o, t);
	if ((subs = sms_get_array(p, o, "sub_tasks", SMS_TASK_SUB_TASKS)) != NULL)
		parse_subtasks(p, subs, t);
	sms_get_double(p, o, "migrate_speed", 0, SPEED_MAX_MBPS, &t->has_migrate_speed,
	    &t->migrate_speed, SMS_TASK_MIGRATE_SPEED);
	sms_get_int64(p, o, "remain_seconds", 0, REMAIN_MAX_S, -1, &t->remain_seconds,
	    SMS_TASK_REMAIN_SECONDS);
	sms_get_tristate(p, o, "connected", &t->connected, SMS_TASK_CONNECTED);
	sms_get_date(p, o, "create_date", &t->create_ms, SMS_TASK_CREATE_DATE);
	sms_get_date(p, o, "start_date", &t->start_ms, SMS_TASK_START_DATE);
	sms_get_date(p, o, "finish_date", &t->finish_ms, SMS_TASK_FINISH_DATE);
	sms_get_int64(
	    p, o, "speed_limit", 0, SPEED_LIMIT_MAX, -1, &t->speed_limit, SMS_TASK_SPEED_LIMIT);
	return 0;
}

int
sms_task_parse(const char *body, size_t len, struct sms_task *out, char **cause)
{
	struct pctx p = {.names = task_names};
	cJSON *root = sms_parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = task_from_json(&p, root, out);
	if (rc < 0)
		sms_bad(cause, p.fail_what, p.fail_key);
	else
		sms_note_give(&p, cause);
	cJSON_Delete(root);
	return rc;
}

typedef int (*item_fn)(struct pctx *p, const cJSON *o, void *out);

/*
 * {"count":N,"<key>":[…]}: every usable item, in order, into a new array.
 * An item that is unusable is dropped and named in the note.
 */
static int
parse_list(struct pctx *p, const char *body, size_t len, size_t size, item_fn fn, void **out,
    int *n, char **cause)
{
	cJSON *root = sms_parse_body(body, len, cause);
	const cJSON *arr, *it;
	char *items = NULL;
	int count, kept = 0, rc = -EBADMSG;

	*out = NULL;
	*n = 0;
	if (root == NULL)
		return -EBADMSG;
	arr = sms_member(root, p->list);
	if (arr != NULL && !cJSON_IsArray(arr)) {
		sms_bad(cause, "not an array", p->list);
		goto fail;
	}
	count = arr != NULL ? cJSON_GetArraySize(arr) : 0;
	if (count > SMS_LIST_MAX) {
		sms_bad(cause, "too many items", p->list);
		goto fail;
	}
	if (count > 0)
		items = xcalloc((size_t)count, size);
	p->index = 0;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it))
			sms_note_add(p, NULL, "not an object (item dropped)");
		else if (fn(p, it, items + (size_t)kept * size) < 0)
			sms_note_drop(p);
		else
			kept++;
		p->index++;
	}
	if (kept > 0) {
		*out = items;
		*n = kept;
		items = NULL;
	}
	sms_note_give(p, cause);
	rc = 0;
fail:
	free(items);
	cJSON_Delete(root);
	return rc;
}

static int
task_item(struct pctx *p, const cJSON *o, void *out)
{
	return task_from_json(p, o, out);
}

int
sms_task_list_parse(const char *body, size_t len, struct sms_task **out, int *n, char **cause)
{
	struct pctx p = {.names = task_names, .list = "tasks"};
	void *items;
	int rc = parse_list(&p, body, len, sizeof(**out), task_item, &items, n, cause);

	*out = items;
	return rc;
}

static int
source_from_json(struct pctx *p, const cJSON *o, struct sms_source *s)
{
	const cJSON *cur;

	memset(s, 0, sizeof(*s));
	p->bad = &s->bad;
	if (sms_need(p, o, "id", s->id, sizeof(s->id)) < 0)
		return -EBADMSG;
	sms_get_string(p, o, "name", s->name, sizeof(s->name), FIT_TRUNCATE, SMS_SOURCE_NAME);
	sms_get_string(p, o, "ip", s->ip, sizeof(s->ip), FIT_TOKEN, SMS_SOURCE_IP);
	sms_get_string(p, o, "state", s->state, sizeof(s->state), FIT_TOKEN, SMS_SOURCE_STATE);
	sms_get_tristate(p, o, "connected", &s->connected, SMS_SOURCE_CONNECTED);
	cur = sms_get_object(p, o, "current_task", SMS_SOURCE_CURRENT_TASK);
	if (cur == NULL)
		return 0;
	sms_get_string(p, cur, "id", s->current_task_id, sizeof(s->current_task_id), FIT_TOKEN,
	    SMS_SOURCE_CURRENT_TASK_ID);
	sms_get_string(p, cur, "state", s->current_task_state, sizeof(s->current_task_state),
	    FIT_TOKEN, SMS_SOURCE_CURRENT_TASK_STATE);
	return 0;
}

int
sms_source_parse(const char *body, size_t len, struct sms_source *out, char **cause)
{
	struct pctx p = {.names = source_names};
	cJSON *root = sms_parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = source_from_json(&p, root, out);
	if (rc < 0)
		sms_bad(cause, p.fail_what, p.fail_key);
	else
		sms_note_give(&p, cause);
	cJSON_Delete(root);
	return rc;
}

static int
source_item(struct pctx *p, const cJSON *o, void *out)
{
	return source_from_json(p, o, out);
}

int
sms_source_list_parse(const char *body, size_t len, struct sms_source **out, int *n, char **cause)
{
	struct pctx p = {.names = source_names, .list = "source_servers"};
	void *items;
	int rc = parse_list(&p, body, len, sizeof(**out), source_item, &items, n, cause);

	*out = items;
	return rc;
}

static char *
bad_names(const char *const *names, uint32_t bad, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; names[i] != NULL; i++) {
		int w;

		if ((bad & (1u << i)) == 0)
			continue;
		w = snprintf(buf + o, len - o, "%s%s", o > 0 ? "," : "", names[i]);
		if (w < 0 || (size_t)w >= len - o) {
			buf[o] = '\0';
			break;
		}
		o += (size_t)w;
	}
	return buf;
}

char *
sms_task_bad_names(uint32_t bad, char *buf, size_t len)
{
	return bad_names(task_names, bad, buf, len);
}

char *
sms_source_bad_names(uint32_t bad, char *buf, size_t len)
{
	return bad_names(source_names, bad, buf, len);
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

static const char *const period_names[] = {"start", "end", "speed", "over_speed_threshold", NULL};

/* One period of a schedule: every field must be good. */
static int
period_from_json(const cJSON *it, struct schedule_period *out, char **cause)
{
	struct pctx p = {.names = period_names};
	char start[16], end[16];
	uint32_t badbits = 0;
	int64_t speed;
	bool has_th = false;
	double th = 0;
	int s, e;

	p.bad = &badbits;
	if (!cJSON_IsObject(it))
		return sms_bad(cause, "not an object", "speed_limit[]");
	sms_get_string(&p, it, "start", start, sizeof(start), FIT_TOKEN, 1u << 0);
	sms_get_string(&p, it, "end", end, sizeof(end), FIT_TOKEN, 1u << 1);
	sms_get_int64(&p, it, "speed", 0, 100000, 0, &speed, 1u << 2);
	sms_get_double(&p, it, "over_speed_threshold", 0, 100, &has_th, &th, 1u << 3);
	if (badbits != 0)
		return sms_bad(cause, p.note, "speed_limit[]");
	if ((s = sms_parse_hhmm(start)) < 0 || s >= 1440)
		return sms_bad(cause, "not HH:MM", "start");
	if ((e = sms_parse_hhmm(end)) < 0)
		return sms_bad(cause, "not HH:MM", "end");
	out->start_min = (uint16_t)s;
	out->end_min = (uint16_t)(e >= 1439 ? 1439 : e);
	out->mbps = (uint32_t)speed;
	out->threshold = has_th ? th : 0;
	return 0;
}

int
sms_speed_limits_parse(
    const char *body, size_t len, struct schedule_period out[SCHEDULE_MAX_PERIODS], char **cause)
{
	cJSON *root = sms_parse_body(body, len, cause);
	const cJSON *arr, *it;
	int n = 0, rc = -EBADMSG;

	if (root == NULL)
		return -EBADMSG;
	arr = sms_member(root, "speed_limit");
	if (arr != NULL && !cJSON_IsArray(arr)) {
		sms_bad(cause, "not an array", "speed_limit");
		goto fail;
	}
	if (arr != NULL && cJSON_GetArraySize(arr) > SCHEDULE_MAX_PERIODS) {
		sms_bad(cause, "more than 5 periods", "speed_limit");
		goto fail;
	}
	cJSON_ArrayForEach(it, arr)
	{
		if (period_from_json(it, &out[n], cause) < 0)
			goto fail;
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

	/* They reach log lines and events as they are: codes and ids are tokens, text printable. */
	if (out->code[0] == '\0' && (v = first_string(o, code_keys)) != NULL &&
	    strlen(v) <= SMS_CODE_MAX && sms_is_token(v))
		util_strlcpy(out->code, v, sizeof(out->code));
	if (out->msg[0] == '\0' && (v = first_string(o, msg_keys)) != NULL)
		printable_copy(out->msg, sizeof(out->msg), v, strlen(v));
	if (out->request_id[0] == '\0' && (v = first_string(o, rid_keys)) != NULL &&
	    strlen(v) <= SMS_ID_MAX && sms_is_token(v))
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
