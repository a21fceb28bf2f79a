/* The notification queues, their backoff and their state.json form. Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/notify_queue.h"
#include "smsguard/util.h"

static const char *const sink_names[NOTIFY_SINK_COUNT] = {
    [NOTIFY_SMN] = "smn",
    [NOTIFY_WEBHOOK] = "webhook",
    [NOTIFY_EXEC] = "exec",
};

const char *
notify_sink_name(enum notify_sink s)
{
	return (unsigned)s < NOTIFY_SINK_COUNT ? sink_names[s] : "unknown";
}

static bool
id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-' || c == '_';
}

void
notify_event_id(const char *host, uint64_t seq, int64_t time_ms, char *buf, size_t len)
{
	char h[256];
	size_t i;

	for (i = 0; host != NULL && host[i] != '\0' && i < sizeof(h) - 1; i++)
		h[i] = id_char(host[i]) ? host[i] : '_';
	h[i] = '\0';
	snprintf(buf, len, "%s-%llu-%lld", i > 0 ? h : "localhost", (unsigned long long)seq,
	    (long long)time_ms);
}

/* Copies src into dst (size n) with control characters as spaces. */
static void
copy_printable(char *dst, const char *src, size_t n)
{
	util_strlcpy(dst, src != NULL ? src : "", n);
	for (; *dst != '\0'; dst++)
		if ((unsigned char)*dst < 0x20 || *dst == 0x7f)
			*dst = ' ';
}

struct notify_item *
notify_item_new(const char *host, const struct event *e, const char *task_id, const char *task_name)
{
	struct notify_item *it = xcalloc(1, sizeof(*it));

	notify_event_id(host, e->seq, e->time_ms, it->id, sizeof(it->id));
	copy_printable(it->task_id, task_id, sizeof(it->task_id));
	copy_printable(it->task_name, task_name, sizeof(it->task_name));
	it->type = e->type;
	it->time_ms = e->time_ms;
	it->event = event_to_json(e);
	return it;
}

struct notify_item *
notify_item_dup(const struct notify_item *it)
{
	struct notify_item *c = xmalloc(sizeof(*c));

	*c = *it;
	c->event = cJSON_Duplicate(it->event, 1);
	return c;
}

void
notify_item_free(struct notify_item *it)
{
	if (it == NULL)
		return;
	cJSON_Delete(it->event);
	free(it);
}

/* ------------------------------------------------------------- the queue */

void
notify_queue_init(struct notify_queue *q, int max)
{
	memset(q, 0, sizeof(*q));
	TAILQ_INIT(&q->items);
	q->max = max > 0 ? max : 1;
}

void
notify_queue_clear(struct notify_queue *q)
{
	struct notify_item *it;

	while ((it = TAILQ_FIRST(&q->items)) != NULL) {
		TAILQ_REMOVE(&q->items, it, entry);
		notify_item_free(it);
	}
	q->count = 0;
	q->busy = false;
	q->failures = 0;
}

/* Drops the oldest item not being delivered; false when there is none. */
static bool
drop_oldest(struct notify_queue *q)
{
	struct notify_item *victim = TAILQ_FIRST(&q->items);

	if (victim != NULL && q->busy)
		victim = TAILQ_NEXT(victim, entry);
	if (victim == NULL)
		return false;
	/* The head's failures were about it: the next one starts afresh. */
	if (victim == TAILQ_FIRST(&q->items))
		q->failures = 0;
	TAILQ_REMOVE(&q->items, victim, entry);
	notify_item_free(victim);
	q->count--;
	q->dropped++;
	return true;
}

int
notify_queue_push(struct notify_queue *q, struct notify_item *it)
{
	int n = 0;

	while (q->count >= q->max) {
		if (!drop_oldest(q)) {
			notify_item_free(it);
			q->dropped++;
			return n + 1;
		}
		n++;
	}
	TAILQ_INSERT_TAIL(&q->items, it, entry);
	q->count++;
	return n;
}

int
notify_queue_set_max(struct notify_queue *q, int max)
{
	int n = 0;

	q->max = max > 0 ? max : 1;
	while (q->count > q->max && drop_oldest(q))
		n++;
	return n;
}

struct notify_item *
notify_queue_head(const struct notify_queue *q)
{
	return TAILQ_FIRST(&q->items);
}

void
notify_queue_delivered(struct notify_queue *q)
{
	struct notify_item *it = TAILQ_FIRST(&q->items);

	q->busy = false;
	if (it == NULL)
		return;
	TAILQ_REMOVE(&q->items, it, entry);
	notify_item_free(it);
	q->count--;
	q->delivered++;
	q->failures = 0;
}

void
notify_queue_failed(struct notify_queue *q)
{
	struct notify_item *it = TAILQ_FIRST(&q->items);

	q->busy = false;
	if (it == NULL)
		return;
	it->attempts++;
	q->failed++;
	q->failures++;
}

uint64_t
notify_backoff_ms(int failures, int64_t jitter_permille)
{
	uint64_t d = NOTIFY_BACKOFF_MIN_MS;

	if (failures <= 0)
		return 0;
	for (int i = 1; i < failures && d < NOTIFY_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > NOTIFY_BACKOFF_MAX_MS)
		d = NOTIFY_BACKOFF_MAX_MS;
	if (jitter_permille > 100)
		jitter_permille = 100;
	if (jitter_permille < -100)
		jitter_permille = -100;
	return (uint64_t)((int64_t)d + (int64_t)d * jitter_permille / 1000);
}

/* ---------------------------------------------------------- state.json */

static cJSON *
item_to_json(const struct notify_item *it)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", it->id);
	cJSON_AddStringToObject(o, "task_id", it->task_id);
	cJSON_AddStringToObject(o, "task_name", it->task_name);
	cJSON_AddNumberToObject(o, "attempts", it->attempts);
	cJSON_AddItemToObject(o, "event", cJSON_Duplicate(it->event, 1));
	return o;
}

cJSON *
notify_queue_to_json(const struct notify_queue *q)
{
	cJSON *a = cJSON_CreateArray();
	const struct notify_item *it;

	TAILQ_FOREACH(it, &q->items, entry)
	cJSON_AddItemToArray(a, item_to_json(it));
	return a;
}

static bool
id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NOTIFY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char(s[i]))
			return false;
	return true;
}

/* An optional string member shorter than max; "" when absent. */
static bool
opt_string(const cJSON *o, const char *key, size_t max, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = "";
	if (v == NULL)
		return true;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= max)
		return false;
	*out = v->valuestring;
	return true;
}

/* The event object as event_to_json() wrote it: its type, message and time at least. */
static bool
event_ok(const cJSON *ev, int *type, int64_t *time_ms)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "message");
	const cJSON *tms = cJSON_GetObjectItemCaseSensitive(ev, "time_ms");

	if (!cJSON_IsObject(ev) || !cJSON_IsString(t) || !cJSON_IsString(m) ||
	    strlen(m->valuestring) >= EVENT_MESSAGE_MAX || !cJSON_IsNumber(tms) ||
	    !(tms->valuedouble >= 0 && tms->valuedouble < 1e13))
		return false;
	if ((*type = event_type_from_name(t->valuestring)) < 0)
		return false;
	*time_ms = (int64_t)tms->valuedouble;
	return true;
}

static struct notify_item *
item_from_json(const cJSON *o)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	const cJSON *att = cJSON_GetObjectItemCaseSensitive(o, "attempts");
	const char *task_id, *task_name;
	struct notify_item *it;
	int64_t time_ms;
	int type;

	if (!cJSON_IsObject(o) || !cJSON_IsString(id) || !id_ok(id->valuestring) ||
	    !event_ok(ev, &type, &time_ms) ||
	    !opt_string(o, "task_id", NOTIFY_TASK_ID_MAX, &task_id) ||
	    !opt_string(o, "task_name", NOTIFY_TASK_NAME_MAX, &task_name))
		return NULL;
	it = xcalloc(1, sizeof(*it));
	util_strlcpy(it->id, id->valuestring, sizeof(it->id));
	copy_printable(it->task_id, task_id, sizeof(it->task_id));
	copy_printable(it->task_name, task_name, sizeof(it->task_name));
	it->type = (enum event_type)type;
	it->time_ms = time_ms;
	it->event = cJSON_Duplicate(ev, 1);
	if (cJSON_IsNumber(att) && att->valuedouble >= 0 && att->valuedouble < 1e6)
		it->attempts = (int)att->valuedouble;
	return it;
}

int
notify_queue_from_json(struct notify_queue *q, const cJSON *array)
{
	struct notify_item *after = q->busy ? TAILQ_FIRST(&q->items) : NULL, *it;
	const cJSON *o;
	int n = 0;

	if (!cJSON_IsArray(array))
		return 0;
	cJSON_ArrayForEach(o, array)
	{
		if ((it = item_from_json(o)) == NULL)
			continue;
		if (after != NULL)
			TAILQ_INSERT_AFTER(&q->items, after, it, entry);
		else
			TAILQ_INSERT_HEAD(&q->items, it, entry);
		after = it;
		q->count++;
		n++;
	}
	/* A new head: the failures in a row were the old head's. */
	if (n > 0 && !q->busy)
		q->failures = 0;
	while (q->count > q->max && drop_oldest(q))
		;
	return n;
}
