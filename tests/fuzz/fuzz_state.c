/*
 * libFuzzer: state.json as smsguard reads it back at start (state.c): the
 * event ring and the recovery state (policy, budget). The file is ours, but
 * a disk, an editor or a crash may have changed it: any JSON must restore
 * to something the engine can decide on, and what is restored must survive
 * being written and read again unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sms_check.h"
#include "smsguard/config.h"
#include "smsguard/engine.h"
#include "smsguard/events.h"

#define NOW_MS 1700000000000LL /* 2023-11-14 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cfg = config_new_defaults();
	return 0;
}

static void
check_events(const cJSON *array)
{
	static struct event_ring r, again;
	cJSON *out;
	int n;

	events_init(&r);
	n = events_from_json(&r, array);
	CHECK(n >= 0 && r.count >= 0 && r.count <= EVENTS_RING_SIZE && r.count <= n);
	for (int i = 0; i < r.count; i++)
		CHECK_STR(events_get(&r, i)->message);
	out = events_to_json(&r, 0);
	events_init(&again);
	CHECK(events_from_json(&again, out) == r.count && again.next_seq == r.next_seq);
	for (int i = 0; i < r.count; i++) {
		const struct event *a = events_get(&r, i), *b = events_get(&again, i);

		CHECK(a->type == b->type && a->seq == b->seq && a->time_ms == b->time_ms &&
		    strcmp(a->message, b->message) == 0);
	}
	cJSON_Delete(out);
	events_clear(&r);
	events_clear(&again);
}

static void
check_recovery(const cJSON *state)
{
	struct engine e, again;
	struct engine_plan plan;
	cJSON *out, *out2, *status;

	engine_init(&e, cfg);
	engine_restore(&e, state, NOW_MS);
	out = engine_state_json(&e);
	engine_init(&again, cfg);
	CHECK(engine_restore(&again, out, NOW_MS) == 0);
	out2 = engine_state_json(&again);
	CHECK(cJSON_Compare(out, out2, 1));
	cJSON_Delete(out);
	cJSON_Delete(out2);

	/* The engine decides on what was restored, and reports it. */
	engine_step(&e, NULL, 0, NOW_MS, 0, &plan);
	engine_plan_clear(&plan);
	status = cJSON_CreateObject();
	engine_status_json(&e, NOW_MS, status);
	cJSON_Delete(status);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);

	if (cJSON_IsObject(doc)) {
		check_events(cJSON_GetObjectItemCaseSensitive(doc, "events"));
		check_recovery(cJSON_GetObjectItemCaseSensitive(doc, "recovery"));
	}
	cJSON_Delete(doc);
	return 0;
}
