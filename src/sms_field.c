/*
 * The field reader behind every SMS response parser: each getter reads one
 * field, and a malformed one degrades that field only (DESIGN §5.4).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sms_field.h"
#include "smsguard/util.h"

/*
 * Dates are epoch milliseconds: a value in seconds (1970 when read as ms) or
 * centuries away is not a date SMS meant.
 */
#define DATE_MIN_MS 946684800000LL  /* 2000-01-01 */
#define DATE_MAX_MS 7258118400000LL /* 2200-01-01 */

int
sms_bad(char **cause, const char *what, const char *key)
{
	if (cause != NULL && *cause == NULL)
		*cause = xasprintf("%s: %s", key, what);
	return -EBADMSG;
}

/* "tasks[3].sub_tasks[].progress: out of range"; field NULL names the item. */
void
sms_note_add(struct pctx *p, const char *field, const char *what)
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
void
sms_note_drop(struct pctx *p)
{
	char what[64];

	snprintf(what, sizeof(what), "%s (item dropped)", p->fail_what);
	sms_note_add(p, p->fail_key, what);
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
void
sms_degrade(struct pctx *p, uint32_t bit, const char *what)
{
	/* One note per field: a hundred bad sub-tasks say so once. */
	if ((*p->bad & bit) != 0)
		return;
	*p->bad |= bit;
	sms_note_add(p, bit_name(p->names, bit), what);
}

/* The note for the caller (NULL when nothing was degraded). */
void
sms_note_give(struct pctx *p, char **cause)
{
	if (cause == NULL || *cause != NULL || (p->len == 0 && !p->full))
		return;
	*cause = xasprintf("%s%s", p->note, p->full ? "; and more" : "");
}

/* Printable ASCII without spaces: what ids, addresses, states and codes are made of. */
bool
sms_is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* strlcpy that never cuts a UTF-8 sequence in half. */
void
sms_copy_text(char *buf, size_t cap, const char *s, size_t len)
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
const cJSON *
sms_member(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return v == NULL || cJSON_IsNull(v) ? NULL : v;
}

/* A string field; "" when absent, null or malformed. */
void
sms_get_string(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap,
    enum fit fit, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);
	size_t len;

	buf[0] = '\0';
	if (v == NULL)
		return;
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		sms_degrade(p, bit, "not a string");
		return;
	}
	len = strlen(v->valuestring);
	if (fit == FIT_TOKEN && len >= cap) {
		sms_degrade(p, bit, "too long");
		return;
	}
	if (fit == FIT_TOKEN && !sms_is_token(v->valuestring)) {
		sms_degrade(p, bit, "bad characters");
		return;
	}
	sms_copy_text(buf, cap, v->valuestring, len);
}

/* A number in lo..hi; dflt when absent, null or malformed. Fractions are cut. */
void
sms_get_int64(struct pctx *p, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
    int64_t dflt, int64_t *out, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);
	double d;

	*out = dflt;
	if (v == NULL)
		return;
	if (!cJSON_IsNumber(v)) {
		sms_degrade(p, bit, "not a number");
		return;
	}
	d = v->valuedouble;
	if (!isfinite(d) || d < (double)lo || d > (double)hi) {
		sms_degrade(p, bit, "out of range");
		return;
	}
	*out = (int64_t)d;
}

/* An epoch-ms date; 0 when absent, null, zero or malformed. */
void
sms_get_date(struct pctx *p, const cJSON *obj, const char *key, int64_t *out, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);

	/* 0 is how an unset date may come: absent, not malformed. */
	if (cJSON_IsNumber(v) && v->valuedouble == 0) {
		*out = 0;
		return;
	}
	sms_get_int64(p, obj, key, DATE_MIN_MS, DATE_MAX_MS, 0, out, bit);
}

void
sms_get_double(struct pctx *p, const cJSON *obj, const char *key, double lo, double hi, bool *has,
    double *out, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);

	*has = false;
	*out = 0;
	if (v == NULL)
		return;
	if (!cJSON_IsNumber(v)) {
		sms_degrade(p, bit, "not a number");
		return;
	}
	if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
		sms_degrade(p, bit, "out of range");
		return;
	}
	*has = true;
	*out = v->valuedouble;
}

void
sms_get_tristate(
    struct pctx *p, const cJSON *obj, const char *key, enum sms_tristate *out, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);

	*out = SMS_ABSENT;
	if (v == NULL)
		return;
	if (!cJSON_IsBool(v)) {
		sms_degrade(p, bit, "not a boolean");
		return;
	}
	*out = cJSON_IsTrue(v) ? SMS_TRUE : SMS_FALSE;
}

/* An object member; NULL when absent, null or not an object. */
const cJSON *
sms_get_object(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);

	if (v != NULL && !cJSON_IsObject(v)) {
		sms_degrade(p, bit, "not an object");
		return NULL;
	}
	return v;
}

const cJSON *
sms_get_array(struct pctx *p, const cJSON *obj, const char *key, uint32_t bit)
{
	const cJSON *v = sms_member(obj, key);

	if (v != NULL && !cJSON_IsArray(v)) {
		sms_degrade(p, bit, "not an array");
		return NULL;
	}
	return v;
}

cJSON *
sms_parse_body(const char *body, size_t len, char **cause)
{
	cJSON *root;

	if (body == NULL || len == 0) {
		sms_bad(cause, "empty", "body");
		return NULL;
	}
	if (len > SMS_BODY_MAX) {
		sms_bad(cause, "too large", "body");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL) {
		sms_bad(cause, "not JSON", "body");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		sms_bad(cause, "not an object", "body");
		return NULL;
	}
	return root;
}

/* An id or a state the answer cannot do without. */
int
sms_need(struct pctx *p, const cJSON *obj, const char *key, char *buf, size_t cap)
{
	const cJSON *v = sms_member(obj, key);
	const char *why = NULL;

	buf[0] = '\0';
	if (v == NULL || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		why = "missing";
	else if (!cJSON_IsString(v))
		why = "not a string";
	else if (strlen(v->valuestring) >= cap)
		why = "too long";
	else if (!sms_is_token(v->valuestring))
		why = "bad characters";
	if (why != NULL) {
		p->fail_key = key;
		p->fail_what = why;
		return -EBADMSG;
	}
	util_strlcpy(buf, v->valuestring, cap);
	return 0;
}
