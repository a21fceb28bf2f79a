/*
 * The cloud client's old API on a real loop with a fake transport
 * (fake_transport.h): its poller polls at the interval the policy sets
 * (cloud_set_poll_interval), not only at `poll` or `poll_idle`. Intervals
 * are scaled down (a "fast" 150 ms against a `poll_idle` of a minute), so
 * each check has a wide margin.
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
#include "smsguard/util.h"

#include "fake_transport.h"

struct fixture {
	uv_loop_t loop;
	struct config *cfg;
	struct credentials cr;
	struct fake fake;
	struct cloud *c;
	uv_timer_t tick; /* wakes the loop, so waits can give up on time */
	int snapshots;
	bool closed;
};

static char ak[] = "AKTESTAKTESTAKTEST00";
static char sk[] = "sktestsktestsktestsktestsktestsktest0000";

static void
on_changed(void *arg, enum obs_source src)
{
	struct fixture *fx = arg;

	if (src == OBS_TASK)
		fx->snapshots++;
}

static void
on_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	cJSON_Delete(details);
}

static void
on_closed(void *arg)
{
	((struct fixture *)arg)->closed = true;
}

static void
answer_closed(uv_handle_t *h)
{
}

static void
tick_cb(uv_timer_t *t)
{
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct observer obs = {.arg = fx, .changed = on_changed, .event = on_event};

	uv_loop_init(&fx->loop);
	fx->cfg = config_new_defaults();
	free(fx->cfg->endpoint);
	fx->cfg->endpoint = strdup("https://sms.example.test");
	fx->cfg->task_id = strdup("task-1");
	fx->cfg->poll_ms = 60000;
	fx->cfg->poll_idle_ms = 60000;
	fx->cr.ak = ak;
	fx->cr.sk = sk;
	fake_init(&fx->fake, &fx->loop);
	fx->fake.state = "MIGRATE_FAIL";
	uv_timer_init(&fx->loop, &fx->tick);
	uv_timer_start(&fx->tick, tick_cb, 50, 50);
	assert_int_equal(
	    cloud_new(&fx->loop, fx->cfg, &fx->cr, &obs, &fx->fake.t, &fx->c, NULL), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	cloud_close(fx->c, on_closed, fx);
	uv_close((uv_handle_t *)&fx->fake.timer, answer_closed);
	uv_close((uv_handle_t *)&fx->tick, answer_closed);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_true(fx->closed);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	free(fx->cfg->task_id);
	fx->cfg->task_id = NULL;
	config_free(fx->cfg);
	free(fx);
	return 0;
}

/* Runs the loop until n ShowTask requests were seen or limit_ms passed. */
static void
run_until_polls(struct fixture *fx, int n, uint64_t limit_ms)
{
	uint64_t start;

	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	while (fx->fake.nseen < n && uv_now(&fx->loop) - start < limit_ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_true(fx->fake.nseen >= n);
}

static void
test_polls_at_the_interval_the_policy_sets(void **state)
{
	struct fixture *fx = *state;
	cloud_start(fx->c);
	run_until_polls(fx, 1, 5000); /* the first poll is at once */
	/* A minute's `poll`: without the policy's number the next poll is far away. */
	cloud_set_poll_interval(fx->c, 150);
	run_until_polls(fx, 4, 10000);
	for (int i = 1; i < 4; i++) {
		uint64_t gap = fx->fake.seen_ms[i] - fx->fake.seen_ms[i - 1];

		/* 150 ms ± 10 % jitter; a busy machine can only make it later, never a minute. */
		assert_true(gap >= 130);
		assert_true(gap < 10000);
	}
}

static void
test_a_shorter_interval_brings_the_scheduled_poll_forward(void **state)
{
	struct fixture *fx = *state;
	uint64_t asked;

	cloud_start(fx->c);
	run_until_polls(fx, 1, 5000);
	/* Let the answer arrive: the next poll is now scheduled a minute away. */
	while (fx->snapshots < 1)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_update_time(&fx->loop);
	asked = uv_now(&fx->loop);
	cloud_set_poll_interval(fx->c, 200);
	run_until_polls(fx, 2, 10000);
	assert_true(fx->fake.seen_ms[1] - asked < 10000);
}

static void
test_zero_goes_back_to_the_task_states_interval(void **state)
{
	struct fixture *fx = *state;
	cJSON *task = cJSON_CreateObject(), *cl = cJSON_CreateObject();

	cloud_start(fx->c);
	run_until_polls(fx, 1, 5000);
	while (fx->snapshots < 1)
		uv_run(&fx->loop, UV_RUN_ONCE);
	cloud_set_poll_interval(fx->c, 5000);
	cloud_status_json(fx->c, task, cl);
	assert_int_equal(cJSON_GetObjectItem(cl, "poll_interval_s")->valuedouble, 5);
	cloud_set_poll_interval(fx->c, 0);
	cJSON_Delete(task);
	cJSON_Delete(cl);
	task = cJSON_CreateObject();
	cl = cJSON_CreateObject();
	cloud_status_json(fx->c, task, cl);
	assert_int_equal(cJSON_GetObjectItem(cl, "poll_interval_s")->valuedouble, 60);
	cJSON_Delete(task);
	cJSON_Delete(cl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_polls_at_the_interval_the_policy_sets, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_shorter_interval_brings_the_scheduled_poll_forward, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_zero_goes_back_to_the_task_states_interval, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
