/* The event ring: the last EVENTS_RING_SIZE events, oldest first. Pure. */
#include <string.h>

#include "smsguard/events.h"
#include "smsguard/util.h"

static const char *const event_names[EV_TYPE_COUNT] = {
    [EV_TARGET_DOWN] = "target_down",
    [EV_TARGET_UP] = "target_up",
    [EV_AGENT_DOWN] = "agent_down",
    [EV_AGENT_RESTARTED] = "agent_restarted",
    [EV_TASK_FAILED] = "task_failed",
    [EV_TASK_RESUMED] = "task_resumed",
    [EV_TASK_RUNNING] = "task_running",
    [EV_TASK_FINISHED] = "task_finished",
    [EV_RECOVERY_EXHAUSTED] = "recovery_exhausted",
    [EV_CLOUD_AUTH_FAILED] = "cloud_auth_failed",
    [EV_CLOUD_UNREACHABLE] = "cloud_unreachable",
    [EV_RATELIMIT_APPLIED] = "ratelimit_applied",
    [EV_CLOCK_SKEW] = "clock_skew",
    [EV_RATELIMIT_FAILED] = "ratelimit_failed",
    [EV_PREFLIGHT_FAILED] = "preflight_failed",
};

const char *
event_type_name(enum event_type t)
{
	if ((unsigned)t >= EV_TYPE_COUNT)
		return "unknown";
	return event_names[t];
}

int
event_type_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < EV_TYPE_COUNT; i++)
		if (strcmp(name, event_names[i]) == 0)
			return i;
	return -1;
}

void
events_init(struct event_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->next_seq = 1;
}

void
events_clear(struct event_ring *r)
{
	for (int i = 0; i < EVENTS_RING_SIZE; i++) {
		cJSON_Delete(r->ev[i].details);
		r->ev[i].details = NULL;
	}
	r->head = 0;
	r->count = 0;
}

static struct event *
events_push(struct event_ring *r)
{
	struct event *e;

	if (r->count < EVENTS_RING_SIZE) {
		e = &r->ev[(r->head + r->count) % EVENTS_RING_SIZE];
		r->count++;
	} else {
		/* Full: the oldest makes room. */
		e = &r->ev[r->head];
		r->head = (r->head + 1) % EVENTS_RING_SIZE;
	}
	cJSON_Delete(e->details);
	memset(e, 0, sizeof(*e));
	return e;
}

const struct event *
events_add(
    struct event_ring *r, int64_t now_ms, enum event_type type, cJSON *details, const char *message)
{
	struct event *e = events_push(r);

	e->time_ms = now_ms;
	e->seq = r->next_seq++;
	e->type = type;
	util_strlcpy(e->message, message != NULL ? message : "", sizeof(e->message));
	if (details != NULL && !cJSON_IsObject(details)) {
		cJSON_Delete(details);
		details = NULL;
	}
	e->details = details;
	return e;
}

const struct event *
events_get(const struct event_ring *r, int i)
{
	if (i < 0 || i >= r->count)
		return NULL;
	return &r->ev[(r->head + i) % EVENTS_RING_SIZE];
}

/* Keys of the event itself; details never override them. */
static int
event_reserved_key(const char *k)
{
	return strcmp(k, "time") == 0 || strcmp(k, "type") == 0 || strcmp(k, "message") == 0 ||
	    strcmp(k, "seq") == 0 || strcmp(k, "time_ms") == 0;
}

cJSON *
event_to_json(const struct event *e)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *d;

	cJSON_AddNumberToObject(o, "time", (double)(e->time_ms / 1000));
	cJSON_AddNumberToObject(o, "time_ms", (double)e->time_ms);
	cJSON_AddNumberToObject(o, "seq", (double)e->seq);
	cJSON_AddStringToObject(o, "type", event_type_name(e->type));
	cJSON_AddStringToObject(o, "message", e->message);
	if (e->details != NULL) {
		cJSON_ArrayForEach(d, e->details)
		{
			if (d->string == NULL || event_reserved_key(d->string))
				continue;
			cJSON_AddItemToObject(o, d->string, cJSON_Duplicate(d, 1));
		}
	}
	return o;
}

cJSON *
events_to_json(const struct event_ring *r, int n)
{
	cJSON *a = cJSON_CreateArray();
	int first = 0;

	if (n > 0 && n < r->count)
		first = r->count - n;
	for (int i = first; i < r->count; i++)
		cJSON_AddItemToArray(a, event_to_json(events_get(r, i)));
	return a;
}

cJSON *
events_since_json(const struct event_ring *r, uint64_t since, int n)
{
	cJSON *a = cJSON_CreateArray();
	int first = r->count, i;

	/* Sequence numbers grow along the ring: find the first one after since. */
	while (first > 0 && events_get(r, first - 1)->seq > since)
		first--;
	if (n > 0 && r->count - first > n)
		first = r->count - n;
	for (i = first; i < r->count; i++)
		cJSON_AddItemToArray(a, event_to_json(events_get(r, i)));
	return a;
}

uint64_t
events_last_seq(const struct event_ring *r)
{
	return r->count > 0 ? events_get(r, r->count - 1)->seq : 0;
}

int
events_from_json(struct event_ring *r, const cJSON *array)
{
	const cJSON *o;
	int n = 0;

	if (!cJSON_IsArray(array))
		return 0;
	cJSON_ArrayForEach(o, array)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
		const cJSON *tms = cJSON_GetObjectItemCaseSensitive(o, "time_ms");
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
		const cJSON *d;
		cJSON *details = NULL;
		struct event *e;
		int t;

		/* Times outside 0..year 2286 are corrupt input; casting them would be undefined. */
		if (!cJSON_IsObject(o) || !cJSON_IsString(type) || !cJSON_IsString(msg) ||
		    !cJSON_IsNumber(tms) || !(tms->valuedouble >= 0 && tms->valuedouble < 1e13))
			continue;
		t = event_type_from_name(type->valuestring);
		if (t < 0)
			continue;
		cJSON_ArrayForEach(d, o)
		{
			if (d->string == NULL || event_reserved_key(d->string))
				continue;
			if (details == NULL)
				details = cJSON_CreateObject();
			cJSON_AddItemToObject(details, d->string, cJSON_Duplicate(d, 1));
		}
		e = (struct event *)events_add(
		    r, (int64_t)tms->valuedouble, (enum event_type)t, details, msg->valuestring);
		if (cJSON_IsNumber(seq) && seq->valuedouble >= 1 && seq->valuedouble < 9e15) {
			e->seq = (uint64_t)seq->valuedouble;
			if (r->next_seq <= e->seq)
				r->next_seq = e->seq + 1;
		}
		n++;
	}
	return n;
}
