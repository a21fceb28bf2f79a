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
	FIT_TOKEN = 0, /* identifiers: a longer one, or one with spaces, is not what SMS sends */
	FIT_TRUNCATE,  /* human text */
};

/*
 * Sane ranges. Dates are epoch milliseconds: a value in seconds (1970 when
 * read as ms) or centuries away is not a date SMS meant. Speeds are Mbit/s,
 * ten times the schema's 10000.
 */
#define DATE_MIN_MS 946684800000LL  /* 2000-01-01 */
#define DATE_MAX_MS 7258118400000LL /* 2200-01-01 */
#define REMAIN_MAX_S (10LL * 366 * 86400)
#define SPEED_MAX_MBPS 100000.0
#define SPEED_LIMIT_MAX 65535
#define NOTE_MAX 512

/*
 * One parse: the bad bits of the struct being filled, and the note on what
 * was degraded, in the names of the response. Lists prefix "tasks[3].".
 */
struct pctx {
	const char *const *names; /* bit number → field name */
	uint32_t *bad;
	const char *list; /* "tasks", "source_servers" or NULL */
	int index;
	const char *fail_key, *fail_what; /* why the answer or item is unusable */
	char note[NOTE_MAX];
	size_t len;
	bool full;
};

static const char *const task_names[] = {"name", "type", "os_type", "error_json", "migration_ip",
    "source_server", "source_server.id", "source_server.ip", "source_server.name", "sub_tasks",
    "sub_tasks[].name", "sub_tasks[].progress", "migrate_speed", "remain_seconds", "connected",
    "create_date", "start_date", "finish_date", "speed_limit", NULL};
static const char *const source_names[] = {"name", "ip", "state", "connected", "current_task",
    "current_task.id", "current_task.state", NULL};
_Static_assert(SMS_TASK_SPEED_LIMIT == 1u << (nitems(task_names) - 2), "a name for every bit");
_Static_assert(
    SMS_SOURCE_CURRENT_TASK_STATE == 1u << (nitems(source_names) - 2), "a name for every bit");

static int
bad(char **cause, const char *what, const char *key)
{
	if (cause != NULL && *cause == NULL)
		*cause = xasprintf("%s: %s", key, what);
	return -EBADMSG;
}

/* "tasks[3].sub_tasks[].progress: out of range"; field NULL names the item. */
static void
note_add(struct pctx *p, const char *field, const char *what)
{
	char item[40] = "";
	size_t room = sizeof(p->note) - p->len;
	int n;

	if (p->full)
		return;
	if (p->list != NULL)
		snprintf(
		    item, sizeof(item), "%s[%d]%s", p->list, p->index, field != NULL ? "." : "");
	n = snprintf(p->note + p->len, room, "%s%s%s: %s", p->len > 0 ? "; " : "", item,
	    field != NULL ? field : "", what);
	if (n < 0 || (size_t)n >= room) {
		p->note[p->len] = '\0';
		p->full = true;
		return;
	}
	p->len += (size_t)n;
}

/* A list item without a usable id or state. */
static void
note_drop(struct pctx *p)
{
	char what[64];

	snprintf(what, sizeof(what), "%s (item dropped)", p->fail_what);
	note_add(p, p->fail_key, what);
}

static const char *
bit_name(const char *const *names, uint32_t bit)
{
	for (int i = 0; names[i] != NULL; i++)
		if (bit == 1u << i)
			return names[i];
	return "?";
}

/* A present field was malformed: it is unknown now, and the note says why. */
static void
degrade(struct pctx *p, uint32_t bit, const char *what)
{
	/* One note per field: a hundred bad sub-tasks say so once. */
	if ((*p->bad & bit) != 0)
		return;
	*p->bad |= bit;
	note_add(p, bit_name(p->names, bit), what);
}

/* The note for the caller (NULL when nothing was degraded). */
static void
note_give(struct pctx *p, char **cause)
{
	if (cause == NULL || *cause != NULL || (p->len == 0 && !p->full))
		return;
	*cause = xasprintf("%s%s", p->note, p->full ? "; and more" : "");
}

/* Printable ASCII without spaces: what ids, addresses, states and codes are made of. */
static bool
is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* strlcpy that never cuts a UTF-8 sequence in half. */
static void
copy_text(char *buf, size_t cap, const char *s, size_t len)
{
	if (len >= cap) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
}

/* Present and neither null: a value to read. */
static const cJSON *
member(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return v == NULL || cJSON_IsNull(v) ? NULL : v;
}

/* A string field; "" when absent, null or malformed. */
static void
get_string(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap, enum fit fit,
    uint32_t bit)
{
	const cJSON *v = member(obj, key);
	size_t len;

	buf[0] = '\0';
	if (v == NULL)
		return;
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		degrade(p, bit, "not a string");
		return;
	}
	len = strlen(v->valuestring);
	if (fit == FIT_TOKEN && len >= cap) {
		degrade(p, bit, "too long");
		return;
	}
	if (fit == FIT_TOKEN && !is_token(v->valuestring)) {
		degrade(p, bit, "bad characters");
		return;
	}
	copy_text(buf, cap, v->valuestring, len);
}

/* A number in lo..hi; dflt when absent, null or malformed. Fractions are cut. */
static void
get_int64(struct pctx *p, const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t dflt,
    int64_t *out, uint32_t bit)
{
	const cJSON *v = member(obj, key);
	double d;

	*out = dflt;
	if (v == NULL)
		return;
	if (!cJSON_IsNumber(v)) {
		degrade(p, bit, "not a number");
		return;
	}
	d = v->valuedouble;
	if (!isfinite(d) || d < (double)lo || d > (double)hi) {
		degrade(p, bit, "out of range");
		return;
	}
	*out = (int64_t)d;
}

/* An epoch-ms date; 0 when absent, null, zero or malformed. */
static void
get_date(struct pctx *p, const cJSON *obj, const char *key, int64_t *out, uint32_t bit)
{
	const cJSON *v = member(obj, key);

	/* 0 is how an unset date may come: absent, not malformed. */
	if (cJSON_IsNumber(v) && v->valuedouble == 0) {
		*out = 0;
		return;
	}
	get_int64(p, obj, key, DATE_MIN_MS, DATE_MAX_MS, 0, out, bit);
}

static void
get_double(struct pctx *p, const cJSON *obj, const char *key, double lo, double hi, bool *has,
    double *out, uint32_t bit)
{
	const cJSON *v = member(obj, key);

	*has = false;
	*out = 0;
	if (v == NULL)
		return;
	if (!cJSON_IsNumber(v)) {
		degrade(p, bit, "not a number");
		return;
	}
	if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
		degrade(p, bit, "out of range");
		return;
	}
	*has = true;
	*out = v->valuedouble;
}

static void
get_tristate(
    struct pctx *p, const cJSON *obj, const char *key, enum sms_tristate *out, uint32_t bit)
{
	const cJSON *v = member(obj, key);

	*out = SMS_ABSENT;
	if (v == NULL)
		return;
	if (!cJSON_IsBool(v)) {
		degrade(p, bit, "not a boolean");
		return;
	}
	*out = cJSON_IsTrue(v) ? SMS_TRUE : SMS_FALSE;
}

/* An object member; NULL when absent, null or not an object. */
static const cJSON *
get_object(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit)
{
	const cJSON *v = member(obj, key);

	if (v != NULL && !cJSON_IsObject(v)) {
		degrade(p, bit, "not an object");
		return NULL;
	}
	return v;
}

static const cJSON *
get_array(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit)
{
	const cJSON *v = member(obj, key);

	if (v != NULL && !cJSON_IsArray(v)) {
		degrade(p, bit, "not an array");
		return NULL;
	}
	return v;
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
			copy_text(
			    dst, SMS_ERROR_PARAM_LEN + 1, it->valuestring, strlen(it->valuestring));
		else
			snprintf(dst, SMS_ERROR_PARAM_LEN + 1, "%g", it->valuedouble);
	}
	return ok;
}

static bool
error_code_from(const cJSON *root, struct sms_task *t)
{
	const cJSON *code = member(root, "error_code");

	if (code == NULL)
		return true;
	if (!cJSON_IsString(code) || strlen(code->valuestring) > SMS_CODE_MAX ||
	    !is_token(code->valuestring))
		return false;
	util_strlcpy(t->error_code, code->valuestring, sizeof(t->error_code));
	return true;
}

static bool
error_params_from(const cJSON *root, struct sms_task *t)
{
	const cJSON *param = member(root, "error_param");
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
	const cJSON *v = member(o, "error_json");
	char *text;

	if (v == NULL)
		return;
	if (cJSON_IsString(v) && v->valuestring != NULL) {
		size_t len = strlen(v->valuestring);

		if (sms_error_json_parse(v->valuestring, len, t) < 0)
			degrade(p, SMS_TASK_ERROR_JSON,
			    len > SMS_ERROR_JSON_MAX ? "too long" : "malformed");
		return;
	}
	/* Not a string (an object, a number): its text is all there is to go on. */
	text = cJSON_PrintUnformatted(v);
	if (text == NULL)
		abort(); /* cJSON only fails to print when out of memory */
	error_fallback(t, text, strlen(text));
	cJSON_free(text);
	degrade(p, SMS_TASK_ERROR_JSON, "not a string");
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
			degrade(p, SMS_TASK_SUB_TASKS, "an element is not an object");
			continue;
		}
		end = member(it, "end_date");
		if (end != NULL && !cJSON_IsNumber(end)) {
			degrade(p, SMS_TASK_SUB_TASKS, "an end_date is not a number");
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
	get_string(p, current, "name", t->subtask, sizeof(t->subtask), FIT_TRUNCATE,
	    SMS_TASK_SUBTASK_NAME);
	get_int64(p, current, "progress", 0, 100, -1, &progress, SMS_TASK_PROGRESS);
	t->progress = (int)progress;
}

/* An id or a state the answer cannot do without. */
static int
need(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap)
{
	const cJSON *v = member(obj, key);
	const char *why = NULL;

	buf[0] = '\0';
	if (v == NULL || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		why = "missing";
	else if (!cJSON_IsString(v))
		why = "not a string";
	else if (strlen(v->valuestring) >= cap)
		why = "too long";
	else if (!is_token(v->valuestring))
		why = "bad characters";
	if (why != NULL) {
		p->fail_key = key;
		p->fail_what = why;
		return -EBADMSG;
	}
	util_strlcpy(buf, v->valuestring, cap);
	return 0;
}

static void
task_source_server(struct pctx *p, const cJSON *o, struct sms_task *t)
{
	const cJSON *src = get_object(p, o, "source_server", SMS_TASK_SOURCE_SERVER);

	if (src == NULL)
		return;
	get_string(p, src, "id", t->source_id, sizeof(t->source_id), FIT_TOKEN, SMS_TASK_SOURCE_ID);
	get_string(p, src, "ip", t->source_ip, sizeof(t->source_ip), FIT_TOKEN, SMS_TASK_SOURCE_IP);
	get_string(p, src, "name", t->source_name, sizeof(t->source_name), FIT_TRUNCATE,
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
	if (need(p, o, "id", t->id, sizeof(t->id)) < 0 ||
	    need(p, o, "state", t->state_raw, sizeof(t->state_raw)) < 0)
		return -EBADMSG;
	t->state = task_state_from_name(t->state_raw);
	get_string(p, o, "name", t->name, sizeof(t->name), FIT_TRUNCATE, SMS_TASK_NAME);
	get_string(p, o, "type", type, sizeof(type), FIT_TOKEN, SMS_TASK_TYPE);
	get_string(p, o, "os_type", os, sizeof(os), FIT_TOKEN, SMS_TASK_OS_TYPE);
	t->type = task_type_from_name(type);
	t->os_type = task_os_from_name(os);
	get_string(p, o, "migration_ip", t->migration_ip, sizeof(t->migration_ip), FIT_TOKEN,
	    SMS_TASK_MIGRATION_IP);
	task_error_json(p, o, t);
	task_source_server(p, o, t);
	if ((subs = get_array(p, o, "sub_tasks", SMS_TASK_SUB_TASKS)) != NULL)
		parse_subtasks(p, subs, t);
	get_double(p, o, "migrate_speed", 0, SPEED_MAX_MBPS, &t->has_migrate_speed,
	    &t->migrate_speed, SMS_TASK_MIGRATE_SPEED);
	get_int64(p, o, "remain_seconds", 0, REMAIN_MAX_S, -1, &t->remain_seconds,
	    SMS_TASK_REMAIN_SECONDS);
	get_tristate(p, o, "connected", &t->connected, SMS_TASK_CONNECTED);
	get_date(p, o, "create_date", &t->create_ms, SMS_TASK_CREATE_DATE);
	get_date(p, o, "start_date", &t->start_ms, SMS_TASK_START_DATE);
	get_date(p, o, "finish_date", &t->finish_ms, SMS_TASK_FINISH_DATE);
	get_int64(
	    p, o, "speed_limit", 0, SPEED_LIMIT_MAX, -1, &t->speed_limit, SMS_TASK_SPEED_LIMIT);
	return 0;
}

int
sms_task_parse(const char *body, size_t len, struct sms_task *out, char **cause)
{
	struct pctx p = {.names = task_names};
	cJSON *root = parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = task_from_json(&p, root, out);
	if (rc < 0)
		bad(cause, p.fail_what, p.fail_key);
	else
		note_give(&p, cause);
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
	cJSON *root = parse_body(body, len, cause);
	const cJSON *arr, *it;
	char *items = NULL;
	int count, kept = 0, rc = -EBADMSG;

	*out = NULL;
	*n = 0;
	if (root == NULL)
		return -EBADMSG;
	arr = member(root, p->list);
	if (arr != NULL && !cJSON_IsArray(arr)) {
		bad(cause, "not an array", p->list);
		goto fail;
	}
	count = arr != NULL ? cJSON_GetArraySize(arr) : 0;
	if (count > SMS_LIST_MAX) {
		bad(cause, "too many items", p->list);
		goto fail;
	}
	if (count > 0)
		items = xcalloc((size_t)count, size);
	p->index = 0;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it))
			note_add(p, NULL, "not an object (item dropped)");
		else if (fn(p, it, items + (size_t)kept * size) < 0)
			note_drop(p);
		else
			kept++;
		p->index++;
	}
	if (kept > 0) {
		*out = items;
		*n = kept;
		items = NULL;
	}
	note_give(p, cause);
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
	if (need(p, o, "id", s->id, sizeof(s->id)) < 0)
		return -EBADMSG;
	get_string(p, o, "name", s->name, sizeof(s->name), FIT_TRUNCATE, SMS_SOURCE_NAME);
	get_string(p, o, "ip", s->ip, sizeof(s->ip), FIT_TOKEN, SMS_SOURCE_IP);
	get_string(p, o, "state", s->state, sizeof(s->state), FIT_TOKEN, SMS_SOURCE_STATE);
	get_tristate(p, o, "connected", &s->connected, SMS_SOURCE_CONNECTED);
	cur = get_object(p, o, "current_task", SMS_SOURCE_CURRENT_TASK);
	if (cur == NULL)
		return 0;
	get_string(p, cur, "id", s->current_task_id, sizeof(s->current_task_id), FIT_TOKEN,
	    SMS_SOURCE_CURRENT_TASK_ID);
	get_string(p, cur, "state", s->current_task_state, sizeof(s->current_task_state), FIT_TOKEN,
	    SMS_SOURCE_CURRENT_TASK_STATE);
	return 0;
}

int
sms_source_parse(const char *body, size_t len, struct sms_source *out, char **cause)
{
	struct pctx p = {.names = source_names};
	cJSON *root = parse_body(body, len, cause);
	int rc;

	if (root == NULL) {
		memset(out, 0, sizeof(*out));
		return -EBADMSG;
	}
	rc = source_from_json(&p, root, out);
	if (rc < 0)
		bad(cause, p.fail_what, p.fail_key);
	else
		note_give(&p, cause);
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

static const char *const period_names[] = {"start", "end", "speed", NULL};

/* One period of a schedule: every field must be good. */
static int
period_from_json(const cJSON *it, struct schedule_period *out, char **cause)
{
	struct pctx p = {.names = period_names};
	char start[16], end[16];
	uint32_t badbits = 0;
	int64_t speed;
	int s, e;

	p.bad = &badbits;
	if (!cJSON_IsObject(it))
		return bad(cause, "not an object", "speed_limit[]");
	get_string(&p, it, "start", start, sizeof(start), FIT_TOKEN, 1u << 0);
	get_string(&p, it, "end", end, sizeof(end), FIT_TOKEN, 1u << 1);
	get_int64(&p, it, "speed", 0, 100000, 0, &speed, 1u << 2);
	if (badbits != 0)
		return bad(cause, p.note, "speed_limit[]");
	if ((s = sms_parse_hhmm(start)) < 0 || s >= 1440)
		return bad(cause, "not HH:MM", "start");
	if ((e = sms_parse_hhmm(end)) < 0)
		return bad(cause, "not HH:MM", "end");
	out->start_min = (uint16_t)s;
	out->end_min = (uint16_t)(e >= 1439 ? 1439 : e);
	out->mbps = (uint32_t)speed;
	return 0;
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
	arr = member(root, "speed_limit");
	if (arr != NULL && !cJSON_IsArray(arr)) {
		bad(cause, "not an array", "speed_limit");
		goto fail;
	}
	if (arr != NULL && cJSON_GetArraySize(arr) > SCHEDULE_MAX_PERIODS) {
		bad(cause, "more than 5 periods", "speed_limit");
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
