/*
 * libFuzzer: state.json's undelivered notifications, read back at every
 * start with the event ring: both must parse safely
 * from any bytes, stay within their bounds, and survive their own round
 * trip unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "smsguard/events.h"
#include "smsguard/notify_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The queue read back from its own JSON is the same queue. */
static void
round_trip(const struct notify_queue *q)
{
	cJSON *a = notify_queue_to_json(q);
	struct notify_queue r;
	const struct notify_item *x, *y;

	notify_queue_init(&r, q->max);
	if (notify_queue_from_json(&r, a) != q->count || r.count != q->count)
		abort();
	for (x = TAILQ_FIRST(&q->items), y = TAILQ_FIRST(&r.items); x != NULL && y != NULL;
	     x = TAILQ_NEXT(x, entry), y = TAILQ_NEXT(y, entry))
		if (strcmp(x->id, y->id) != 0 || x->type != y->type || x->time_ms != y->time_ms)
			abort();
	notify_queue_clear(&r);
	cJSON_Delete(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size), *notify;
	struct event_ring ring;
	struct notify_queue q;

	if (doc == NULL)
		return 0;
	events_init(&ring);
	events_from_json(&ring, cJSON_GetObjectItemCaseSensitive(doc, "events"));
	if (ring.count > EVENTS_RING_SIZE)
		abort();
	notify = cJSON_GetObjectItemCaseSensitive(doc, "notify");
	for (int k = 0; k < NOTIFY_SINK_COUNT; k++) {
		notify_queue_init(&q, 3);
		notify_queue_from_json(&q,
		    cJSON_GetObjectItemCaseSensitive(
		        notify, notify_sink_name((enum notify_sink)k)));
		if (q.count > q.max || (q.count > 0 && notify_queue_head(&q)->id[0] == '\0'))
			abort();
		round_trip(&q);
		notify_queue_clear(&q);
	}
	events_clear(&ring);
	cJSON_Delete(doc);
	return 0;
}
