/*
 * The notification sinks on a real loop: SMN through the cloud client and
 * the webhook through a fake transport (fake_transport.h). Which sink gets
 * which event, head-of-line retry with backoff, the cloud's Retry-After,
 * a reload, state.json, status and metrics. The exec hook runs real
 * programs in tests/integration/test_notify.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/cloud.h"
#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/metrics.h"
#include "smsguard/notify.h"
#include "smsguard/util.h"

#include "fake_transport.h"

#define TOPIC "urn:smn:ap-southeast-3:0a1b2c:alerts"
#define HOOK "https://hooks.example.test/in"

struct fixture {
	uv_loop_t loop;
	struct config *cfg;
	struct credentials cr;
	struct fake fake;
	struct cloud *c;
	struct notify *n;
	struct event_ring ring;
	uv_timer_t tick;
	int saves;
	int closed;
	/* The route: the first webhook_fail webhook requests get 500, the first smn_fail publishes 429. */
	int webhook_fail, webhook_seen;
	int smn_fail, smn_seen;
	long smn_fail_status; /* 429 unless set */
	int64_t smn_retry_after_s;
};

static char ak[] = "AKTESTAKTESTAKTEST00";
static char sk[] = "sktestsktestsktestsktestsktestsktest0000";

static void
route(struct fake *f, const char *url, struct fake_answer *a)
{
	struct fixture *fx = f->route_arg;

	if (strstr(url, "/publish") != NULL) {
		a->status = fx->smn_seen++ < fx->smn_fail ? fx->smn_fail_status : 200;
		a->retry_after_s = a->status == 429 ? fx->smn_retry_after_s : -1;
		snprintf(a->body, sizeof(a->body), "{\"request_id\":\"r\",\"message_id\":\"m\"}");
	} else if (strncmp(url, HOOK, strlen(HOOK)) == 0) {
		a->status = fx->webhook_seen++ < fx->webhook_fail ? 500 : 202;
	} else {
		a->status = 404;
	}
}

static void
on_save(void *arg)
{
	((struct fixture *)arg)->saves++;
}

static void
on_closed(void *arg)
{
	((struct fixture *)arg)->closed++;
}

static void
handle_closed(uv_handle_t *h)
{
}

static void
tick_cb(uv_timer_t *t)
{
}

static void
start(struct fixture *fx)
{
	struct notify_deps deps = {.cloud = fx->c, .http = &fx->fake.t, .save = on_save, .arg = fx};

	assert_int_equal(notify_new(&fx->loop, fx->cfg, &deps, &fx->n), 0);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	uv_loop_init(&fx->loop);
	fx->cfg = config_new_defaults();
	fx->cfg->smn_topic = strdup(TOPIC);
	fx->cfg->webhook = strdup(HOOK);
	fx->cr.ak = ak;
	fx->cr.sk = sk;
	fx->smn_fail_status = 429;
	fx->smn_retry_after_s = -1;
	events_init(&fx->ring);
	fake_init(&fx->fake, &fx->loop);
	fx->fake.route = route;
	fx->fake.route_arg = fx;
	uv_timer_init(&fx->loop, &fx->tick);
	uv_timer_start(&fx->tick, tick_cb, 20, 20);
	assert_int_equal(
	    cloud_new(&fx->loop, fx->cfg, &fx->cr, NULL, &fx->fake.t, &fx->c, NULL), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->n != NULL)
		notify_close(fx->n, on_closed, fx);
	cloud_close(fx->c, on_closed, fx);
	uv_close((uv_handle_t *)&fx->fake.timer, handle_closed);
	uv_close((uv_handle_t *)&fx->tick, handle_closed);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->closed, fx->n != NULL ? 2 : 1);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	events_clear(&fx->ring);
	config_free(fx->cfg);
	free(fx);
	return 0;
}

/* Raises an event of type t and hands it to the sinks. */
static void
raise_event(struct fixture *fx, enum event_type t)
{
	char msg[32];

	snprintf(msg, sizeof(msg), "event %d", fx->ring.count + 1);
	notify_event(fx->n, events_add(&fx->ring, util_wall_ms(), t, NULL, msg), "task-1", "web");
}

/* Runs the loop until pred(fx) holds, at most limit_ms. */
static void
run_until(struct fixture *fx, bool (*pred)(struct fixture *), uint64_t limit_ms)
{
	uint64_t t0;

	uv_update_time(&fx->loop);
	t0 = uv_now(&fx->loop);
	while (!pred(fx) && uv_now(&fx->loop) - t0 < limit_ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_true(pred(fx));
}

/* The "notify" status object's entry for sink name (NULL when not listed), in a new *doc. */
static cJSON *
status_of(struct fixture *fx, const char *name, cJSON **doc)
{
	cJSON *s;

	*doc = cJSON_CreateObject();
	notify_status_json(fx->n, *doc);
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(*doc, "sinks"))
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(s, "sink")->valuestring, name) == 0)
			return s;
	}
	return NULL;
}

static bool
listed(struct fixture *fx, const char *name)
{
	cJSON *doc;
	bool yes = status_of(fx, name, &doc) != NULL;

	cJSON_Delete(doc);
	return yes;
}

static double
num(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble;
}

static bool
queues_empty(struct fixture *fx)
{
	cJSON *doc, *s;
	bool empty = true;

	status_of(fx, "smn", &doc);
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "sinks")) empty =
	    empty && num(s, "queued") == 0;
	cJSON_Delete(doc);
	return empty;
}

static bool
three_webhook_requests(struct fixture *fx)
{
	return fake_count(&fx->fake, HOOK) >= 3;
}

static bool
two_publishes(struct fixture *fx)
{
	return fake_count(&fx->fake, "/publish") >= 2;
}

static void
test_each_sink_gets_the_events_of_its_list(void **state)
{
	struct fixture *fx = *state;

	fx->cfg->smn_events_mask = 1u << EV_TASK_FAILED;
	start(fx);
	raise_event(fx, EV_TARGET_DOWN);
	raise_event(fx, EV_TASK_FAILED);
	/* Nothing goes out from inside notify_event(). */
	assert_int_equal(fx->fake.nseen, 0);
	run_until(fx, queues_empty, 5000);
	assert_int_equal(fake_count(&fx->fake, HOOK), 2);
	assert_int_equal(fake_count(&fx->fake, "/publish"), 1);
	assert_non_null(strstr(fx->fake.seen_url[fake_nth(&fx->fake, "/publish", 0)],
	    "https://smn.ap-southeast-3.myhuaweicloud.com/v2/0a1b2c/notifications/topics/"));
	assert_non_null(strstr(fx->fake.last_auth, "SDK-HMAC-SHA256"));
	/* Every delivery asked for state.json to be written. */
	assert_int_equal(fx->saves, 3);
}

static void
test_a_failed_head_is_retried_with_backoff_before_the_next(void **state)
{
	struct fixture *fx = *state;
	cJSON *doc, *s;
	int a, b, c;

	free(fx->cfg->smn_topic);
	fx->cfg->smn_topic = NULL;
	fx->webhook_fail = 1;
	start(fx);
	raise_event(fx, EV_TARGET_DOWN);
	raise_event(fx, EV_TARGET_UP);
	run_until(fx, three_webhook_requests, 5000);
	a = fake_nth(&fx->fake, HOOK, 0);
	b = fake_nth(&fx->fake, HOOK, 1);
	c = fake_nth(&fx->fake, HOOK, 2);
	/* 2 s, less 10 %: the second event waited behind the first. */
	assert_true(fx->fake.seen_ms[b] - fx->fake.seen_ms[a] >= 1800);
	assert_true(fx->fake.seen_ms[c] >= fx->fake.seen_ms[b]);
	run_until(fx, queues_empty, 1000);
	s = status_of(fx, "webhook", &doc);
	assert_int_equal(num(s, "delivered"), 2);
	assert_int_equal(num(s, "failed"), 1);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "last_error")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "next_retry")));
	cJSON_Delete(doc);
	assert_false(listed(fx, "smn"));
}

static bool
failed_once(struct fixture *fx)
{
	cJSON *doc, *s = status_of(fx, "webhook", &doc);
	bool yes = num(s, "failed") >= 1;

	cJSON_Delete(doc);
	return yes;
}

static void
test_status_shows_the_error_and_the_retry_while_it_waits(void **state)
{
	struct fixture *fx = *state;
	cJSON *doc, *s;
	int64_t now_s = util_wall_ms() / 1000;

	fx->webhook_fail = 100;
	start(fx);
	raise_event(fx, EV_CLOCK_SKEW);
	run_until(fx, failed_once, 5000);
	s = status_of(fx, "webhook", &doc);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(s, "last_error")->valuestring, "HTTP 500");
	assert_int_equal(num(s, "queued"), 1);
	assert_true(num(s, "next_retry") >= now_s && num(s, "next_retry") <= now_s + 4);
	assert_int_equal(num(doc, "dropped"), 0);
	cJSON_Delete(doc);
}

static void
test_an_smn_429_waits_out_its_retry_after(void **state)
{
	struct fixture *fx = *state;
	int a, b;

	free(fx->cfg->webhook);
	fx->cfg->webhook = NULL;
	fx->smn_fail = 1;
	fx->smn_retry_after_s = 3;
	start(fx);
	raise_event(fx, EV_TASK_RESUMED);
	run_until(fx, two_publishes, 6000);
	a = fake_nth(&fx->fake, "/publish", 0);
	b = fake_nth(&fx->fake, "/publish", 1);
	/* The answer asked for 3 s, more than the first backoff's 2 (+10 %). */
	assert_true(fx->fake.seen_ms[b] - fx->fake.seen_ms[a] >= 3000);
	run_until(fx, queues_empty, 1000);
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_SMN_PUBLISH, CLOUD_RES_THROTTLED), 1);
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_SMN_PUBLISH, CLOUD_RES_OK), 1);
}

/* Runs the loop for ms. */
static void
run_for(struct fixture *fx, uint64_t ms)
{
	uint64_t t0;

	uv_update_time(&fx->loop);
	t0 = uv_now(&fx->loop);
	while (uv_now(&fx->loop) - t0 < ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

static void
test_a_401_holds_smn_for_the_whole_silence(void **state)
{
	struct fixture *fx = *state;
	int64_t now_s = util_wall_ms() / 1000;
	cJSON *doc, *s;

	free(fx->cfg->webhook);
	fx->cfg->webhook = NULL;
	fx->smn_fail = 100;
	fx->smn_fail_status = 401;
	start(fx);
	raise_event(fx, EV_TASK_FAILED);
	run_for(fx, 3000);
	raise_event(fx, EV_TASK_RESUMED);
	run_for(fx, 500);
	/* Past the first backoff, and a new event: still the one call, one failure. */
	assert_int_equal(fake_count(&fx->fake, "/publish"), 1);
	s = status_of(fx, "smn", &doc);
	assert_int_equal(num(s, "failed"), 1);
	assert_int_equal(num(s, "queued"), 2);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(s, "last_error")->valuestring, "HTTP 401");
	assert_true(num(s, "next_retry") >= now_s + 290);
	cJSON_Delete(doc);
}

static void
test_reload_keeps_a_staying_queue_and_drops_a_removed_one(void **state)
{
	struct fixture *fx = *state;
	struct config *cfg2 = config_new_defaults();
	cJSON *doc, *s;

	fx->fake.hold = true;
	start(fx);
	raise_event(fx, EV_TARGET_DOWN);
	raise_event(fx, EV_TARGET_UP);
	cfg2->webhook = strdup(HOOK);
	cfg2->notify_queue = 10;
	notify_reconfigure(fx->n, cfg2);
	s = status_of(fx, "webhook", &doc);
	assert_int_equal(num(s, "queued"), 2);
	cJSON_Delete(doc);
	assert_false(listed(fx, "smn"));
	fake_release(&fx->fake);
	run_until(fx, queues_empty, 5000);
	assert_int_equal(fake_count(&fx->fake, HOOK), 2);
	notify_reconfigure(fx->n, fx->cfg);
	config_free(cfg2);
}

static void
test_undelivered_events_come_back_in_order_after_a_restart(void **state)
{
	struct fixture *fx = *state;
	cJSON *saved, *a;

	fx->fake.hold = true;
	start(fx);
	raise_event(fx, EV_TARGET_DOWN);
	raise_event(fx, EV_TASK_FAILED);
	saved = notify_state_json(fx->n);
	a = cJSON_GetObjectItemCaseSensitive(saved, "webhook");
	assert_int_equal(cJSON_GetArraySize(a), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(saved, "smn")), 2);
	notify_close(fx->n, on_closed, fx);
	fx->n = NULL;
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	fake_release(&fx->fake);
	start(fx);
	fx->closed = 0;
	notify_restore(fx->n, saved);
	raise_event(fx, EV_TASK_RESUMED);
	run_until(fx, queues_empty, 5000);
	/* The restored two and the new one, each once: the first session sent nothing. */
	assert_int_equal(fake_count(&fx->fake, HOOK), 3);
	assert_int_equal(fake_count(&fx->fake, "/publish"), 3);
	assert_int_equal(fx->saves, 6);
	cJSON_Delete(saved);
}

static void
test_metrics_declare_every_configured_sink(void **state)
{
	struct fixture *fx = *state;
	struct metrics m;
	const char *t;

	free(fx->cfg->smn_topic);
	fx->cfg->smn_topic = NULL;
	fx->cfg->exec_argv[0] = strdup("/bin/true");
	fx->cfg->exec_argc = 1;
	start(fx);
	metrics_init(&m);
	notify_metrics(fx->n, &m);
	t = metrics_text(&m);
	assert_non_null(strstr(t, "# TYPE smsguard_notify_delivered_total counter\n"));
	assert_non_null(strstr(t, "smsguard_notify_delivered_total{sink=\"webhook\"} 0\n"));
	assert_non_null(strstr(t, "smsguard_notify_failed_total{sink=\"exec\"} 0\n"));
	assert_non_null(strstr(t, "smsguard_notify_dropped_total{sink=\"webhook\"} 0\n"));
	assert_non_null(strstr(t, "# TYPE smsguard_notify_queue gauge\n"));
	assert_non_null(strstr(t, "smsguard_notify_queue{sink=\"exec\"} 0\n"));
	assert_null(strstr(t, "sink=\"smn\""));
	metrics_free(&m);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_each_sink_gets_the_events_of_its_list),
	    T(test_a_failed_head_is_retried_with_backoff_before_the_next),
	    T(test_status_shows_the_error_and_the_retry_while_it_waits),
	    T(test_an_smn_429_waits_out_its_retry_after),
	    T(test_a_401_holds_smn_for_the_whole_silence),
	    T(test_reload_keeps_a_staying_queue_and_drops_a_removed_one),
	    T(test_undelivered_events_come_back_in_order_after_a_restart),
	    T(test_metrics_declare_every_configured_sink),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
