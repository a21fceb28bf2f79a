/*
 * The task poller's schedule on a real loop, with the real cloud client and
 * a fake transport (fake_transport.h). `poll` and `poll_idle` are a minute,
 * so any poll that comes within seconds came for the reason under test; the
 * policy's intervals are scaled down to 150-200 ms. Timings are checked with
 * wide margins, as a busy machine can only make a poll later.
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
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

#include "fake_transport.h"

#define SHOW "/v3/tasks/task-"

struct fixture {
	uv_loop_t loop;
	struct config *cfg, *cfg2;
	struct credentials cr, cr2;
	struct fake fake;
	struct cloud *c;
	struct taskpoll *p;
	uv_timer_t tick; /* wakes the loop, so waits can give up on time */
	int snapshots;   /* OBS_TASK reports with a task */
	int losses;      /* OBS_TASK reports without one */
	char last_id[SMS_ID_MAX + 1];
	int auth_events;
	int closed;
	/* The route: every answer has this status (and Retry-After, and task id). */
	long status;
	int64_t retry_after_s;
	const char *answer_id;
};

static char ak[] = "AKTESTAKTESTAKTEST00";
static char sk[] = "sktestsktestsktestsktestsktestsktest0000";
static char ak2[] = "AKOTHERAKOTHERAKOTH0";

static void
route(struct fake *f, const char *url, struct fake_answer *a)
{
	struct fixture *fx = f->route_arg;
	const char *id = fake_show_task_id(url);

	a->status = fx->status;
	a->retry_after_s = fx->retry_after_s;
	if (fx->status != 200 || id == NULL)
		return;
	fake_task_json(a->body, sizeof(a->body), fx->answer_id != NULL ? fx->answer_id : id,
	    f->state, 1598435784000);
}

/* The poller's reports are values: the snapshot itself, or that there is none. */
static void
on_report(void *arg, const struct observation *o)
{
	struct fixture *fx = arg;

	if (o->kind == OBS_TASK_LOST) {
		fx->losses++;
		return;
	}
	if (o->kind != OBS_TASK)
		return;
	fx->snapshots++;
	util_strlcpy(fx->last_id, o->u.task.task.id, sizeof(fx->last_id));
}

static void
on_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	struct fixture *fx = arg;

	if (type == EV_CLOUD_AUTH_FAILED)
		fx->auth_events++;
	cJSON_Delete(details);
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

static struct config *
test_config(const char *task_id)
{
	struct config *cfg = config_new_defaults();

	free(cfg->endpoint);
	cfg->endpoint = strdup("https://sms.example.test");
	cfg->task_id = task_id != NULL ? strdup(task_id) : NULL;
	cfg->poll_ms = 60000;
	cfg->poll_idle_ms = 60000;
	return cfg;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct observer obs = {.arg = fx, .report = on_report, .event = on_event};

	uv_loop_init(&fx->loop);
	fx->cfg = test_config("task-1");
	fx->cr.ak = ak;
	fx->cr.sk = sk;
	fx->status = 200;
	fx->retry_after_s = -1;
	fake_init(&fx->fake, &fx->loop);
	fx->fake.route = route;
	fx->fake.route_arg = fx;
	fx->fake.state = "MIGRATE_FAIL";
	uv_timer_init(&fx->loop, &fx->tick);
	uv_timer_start(&fx->tick, tick_cb, 20, 20);
	assert_int_equal(
	    cloud_new(&fx->loop, fx->cfg, &fx->cr, &obs, &fx->fake.t, &fx->c, NULL), 0);
	assert_int_equal(taskpoll_new(&fx->loop, fx->c, fx->cfg, &obs, &fx->p), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	/* The poller goes first: it uses the client. */
	taskpoll_close(fx->p, on_closed, fx);
	cloud_close(fx->c, on_closed, fx);
	uv_close((uv_handle_t *)&fx->fake.timer, handle_closed);
	uv_close((uv_handle_t *)&fx->tick, handle_closed);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->closed, 2);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(fx->cfg);
	config_free(fx->cfg2);
	free(fx);
	return 0;
}

static uint64_t
now_ms(struct fixture *fx)
{
	uv_update_time(&fx->loop);
	return uv_now(&fx->loop);
}

/* Runs the loop for ms. */
static void
run_for(struct fixture *fx, uint64_t ms)
{
	uint64_t start = now_ms(fx);

	while (uv_now(&fx->loop) - start < ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

/* Runs the loop until n requests with needle in their URL were seen, or limit_ms passed. */
static void
run_until_requests(struct fixture *fx, const char *needle, int n, uint64_t limit_ms)
{
	uint64_t start = now_ms(fx);

	while (fake_count(&fx->fake, needle) < n && uv_now(&fx->loop) - start < limit_ms)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_true(fake_count(&fx->fake, needle) >= n);
}

/* Runs the loop until no answer is pending (the poll is accounted for). */
static void
run_until_answered(struct fixture *fx)
{
	uint64_t start = now_ms(fx);

	while (fx->fake.npending > 0 && uv_now(&fx->loop) - start < 5000)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->fake.npending, 0);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
}

/* ms between the i-th and the j-th ShowTask. */
static uint64_t
gap(struct fixture *fx, int i, int j)
{
	return fx->fake.seen_ms[fake_nth(&fx->fake, SHOW, j)] -
	    fx->fake.seen_ms[fake_nth(&fx->fake, SHOW, i)];
}

/* Starts polling and waits until the first poll is accounted for. */
static void
first_poll(struct fixture *fx)
{
	taskpoll_start(fx->p);
	run_until_requests(fx, SHOW, 1, 5000);
	run_until_answered(fx);
}

static double
status_number(struct fixture *fx, const char *key)
{
	cJSON *cl = cJSON_CreateObject();
	double v;

	taskpoll_status_json(fx->p, NULL, cl);
	v = cJSON_GetObjectItem(cl, key)->valuedouble;
	cJSON_Delete(cl);
	return v;
}

/* ------------------------------------------------------------- interval */

static void
test_the_first_poll_is_at_once(void **state)
{
	struct fixture *fx = *state;
	uint64_t t0 = now_ms(fx);

	taskpoll_start(fx->p);
	run_until_requests(fx, SHOW, 1, 5000);
	assert_true(fx->fake.seen_ms[0] - t0 < 1000);
}

static void
test_polls_at_the_interval_the_policy_sets(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	taskpoll_set_interval(fx->p, 150);
	run_until_requests(fx, SHOW, 4, 10000);
	for (int i = 1; i < 4; i++) {
		/* 150 ms ± 10 %; a busy machine can only make it later, never a minute. */
		assert_true(gap(fx, i - 1, i) >= 130);
		assert_true(gap(fx, i - 1, i) < 10000);
	}
}

static void
test_a_shorter_interval_brings_the_scheduled_poll_forward(void **state)
{
	struct fixture *fx = *state;
	uint64_t asked;

	first_poll(fx); /* the next poll is now a minute away */
	asked = now_ms(fx);
	taskpoll_set_interval(fx->p, 200);
	run_until_requests(fx, SHOW, 2, 10000);
	assert_true(fx->fake.seen_ms[fake_nth(&fx->fake, SHOW, 1)] - asked < 10000);
}

static void
test_an_active_task_is_polled_at_poll_until_the_policy_speaks(void **state)
{
	struct fixture *fx = *state;

	fx->cfg->poll_ms = 150;
	fx->fake.state = "RUNNING";
	first_poll(fx);
	assert_int_equal(status_number(fx, "poll_interval_s") * 1000, 150);
	run_until_requests(fx, SHOW, 3, 10000);
}

static void
test_an_idle_task_is_polled_at_poll_idle_until_the_policy_speaks(void **state)
{
	struct fixture *fx = *state;

	fx->cfg->poll_ms = 150;
	fx->fake.state = "MIGRATE_SUCCESS";
	first_poll(fx);
	assert_int_equal(status_number(fx, "poll_interval_s"), 60);
	run_for(fx, 600);
	assert_int_equal(fake_count(&fx->fake, SHOW), 1);
}

static void
test_zero_goes_back_to_the_task_states_interval(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	taskpoll_set_interval(fx->p, 5000);
	assert_int_equal(status_number(fx, "poll_interval_s"), 5);
	taskpoll_set_interval(fx->p, 0);
	assert_int_equal(status_number(fx, "poll_interval_s"), 60);
}

/* ------------------------------------------------------------- poll now */

static void
test_poll_now_polls_one_second_after_the_last_poll(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	taskpoll_poll_now(fx->p);
	run_until_requests(fx, SHOW, 2, 5000);
	assert_true(gap(fx, 0, 1) >= TASKPOLL_SPACING_MS);
	assert_true(gap(fx, 0, 1) < 5000);
}

static void
test_polls_asked_for_together_are_one_poll(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	for (int i = 0; i < 5; i++)
		taskpoll_poll_now(fx->p);
	run_for(fx, 2500);
	assert_int_equal(fake_count(&fx->fake, SHOW), 2);
}

static void
test_a_poll_asked_for_during_a_poll_follows_it(void **state)
{
	struct fixture *fx = *state;

	fx->fake.hold = true;
	taskpoll_start(fx->p);
	run_until_requests(fx, SHOW, 1, 5000);
	taskpoll_poll_now(fx->p); /* the first poll is still out */
	fake_release(&fx->fake);
	run_until_requests(fx, SHOW, 2, 5000);
	assert_true(gap(fx, 0, 1) >= TASKPOLL_SPACING_MS);
	assert_true(gap(fx, 0, 1) < 5000);
}

static void
test_poll_now_cuts_a_server_error_backoff_short(void **state)
{
	struct fixture *fx = *state;

	fx->status = 503; /* the backoff from a minute's `poll` is 5 s ± 10 % */
	first_poll(fx);
	taskpoll_poll_now(fx->p);
	run_until_requests(fx, SHOW, 2, 5000);
	assert_true(gap(fx, 0, 1) >= TASKPOLL_SPACING_MS);
	assert_true(gap(fx, 0, 1) < 4000);
}

static void
test_poll_now_waits_out_a_401_silence(void **state)
{
	struct fixture *fx = *state;

	fx->status = 401;
	first_poll(fx);
	taskpoll_poll_now(fx->p);
	run_for(fx, 1500);
	assert_int_equal(fake_count(&fx->fake, SHOW), 1);
	/* The next poll is at the end of the silence, 5 minutes away. */
	assert_true(status_number(fx, "next_poll") >= (double)(util_wall_ms() / 1000 + 290));
}

static void
test_poll_now_waits_out_a_retry_after(void **state)
{
	struct fixture *fx = *state;

	fx->status = 429;
	fx->retry_after_s = 3;
	first_poll(fx);
	fx->status = 200;
	taskpoll_poll_now(fx->p);
	run_until_requests(fx, SHOW, 2, 8000);
	assert_true(gap(fx, 0, 1) >= 3000);
}

static void
test_poll_now_waits_out_a_429_backoff_without_retry_after(void **state)
{
	struct fixture *fx = *state;

	fx->status = 429; /* no Retry-After: the backoff is 5 s ± 10 % */
	first_poll(fx);
	taskpoll_poll_now(fx->p);
	run_for(fx, 1800);
	assert_int_equal(fake_count(&fx->fake, SHOW), 1);
}

static void
test_server_errors_back_off_exponentially(void **state)
{
	struct fixture *fx = *state;

	fx->cfg->poll_ms = 500; /* the backoff starts at 500 ms and doubles */
	fx->status = 500;
	taskpoll_start(fx->p);
	run_until_requests(fx, SHOW, 4, 10000);
	assert_true(gap(fx, 0, 1) >= 450);
	assert_true(gap(fx, 1, 2) >= 900);
	assert_true(gap(fx, 2, 3) >= 1800);
	assert_int_equal(cloud_failures(fx->c), 3);
}

/* ------------------------------------------------------------- snapshot */

static void
test_a_snapshot_is_reported_once_per_poll(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	assert_int_equal(fx->snapshots, 1);
	assert_string_equal(fx->last_id, "task-1");
	assert_int_equal(taskpoll_task(fx->p)->state, TASK_MIGRATE_FAIL);
	assert_true(taskpoll_polled_at_ms(fx->p) > 0);
}

static void
test_an_answer_about_another_task_is_a_bad_response(void **state)
{
	struct fixture *fx = *state;
	cJSON *cl = cJSON_CreateObject();

	fx->answer_id = "task-9";
	first_poll(fx);
	assert_int_equal(fx->snapshots, 0);
	assert_null(taskpoll_task(fx->p));
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_SHOW_TASK, CLOUD_RES_BAD_RESPONSE), 1);
	cloud_status_json(fx->c, cl);
	assert_non_null(strstr(cJSON_GetObjectItem(cl, "last_error")->valuestring, "instead of"));
	cJSON_Delete(cl);
}

/* --------------------------------------------------------------- reload */

static void
test_a_reload_to_another_task_drops_the_answer_in_flight(void **state)
{
	struct fixture *fx = *state;

	fx->fake.hold = true;
	taskpoll_start(fx->p);
	run_until_requests(fx, "/v3/tasks/task-1", 1, 5000);
	fx->cfg2 = test_config("task-2");
	taskpoll_reconfigure(fx->p, fx->cfg2, false);
	assert_int_equal(fx->fake.ncancelled, 1);
	assert_int_equal(fx->losses, 1);
	fake_release(&fx->fake);
	run_until_requests(fx, "/v3/tasks/task-2", 1, 5000);
	run_until_answered(fx);
	assert_int_equal(fx->snapshots, 1);
	assert_string_equal(fx->last_id, "task-2");
}

static void
test_a_reload_to_another_task_polls_at_once(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx); /* the next poll is a minute away */
	fx->cfg2 = test_config("task-2");
	taskpoll_reconfigure(fx->p, fx->cfg2, false);
	assert_null(taskpoll_task(fx->p));
	run_until_requests(fx, "/v3/tasks/task-2", 1, 5000);
}

static void
test_a_reload_that_keeps_the_target_keeps_the_snapshot(void **state)
{
	struct fixture *fx = *state;

	first_poll(fx);
	fx->cfg2 = test_config("task-1");
	fx->cfg2->poll_idle_ms = 120000;
	taskpoll_reconfigure(fx->p, fx->cfg2, false);
	assert_non_null(taskpoll_task(fx->p));
	run_for(fx, 1500);
	assert_int_equal(fake_count(&fx->fake, SHOW), 1);
}

static void
test_new_credentials_lift_a_401_silence_and_poll_at_once(void **state)
{
	struct fixture *fx = *state;

	fx->status = 401;
	first_poll(fx);
	assert_int_equal(fx->auth_events, 1);
	fx->status = 200;
	fx->cr2.ak = ak2;
	fx->cr2.sk = sk;
	taskpoll_reconfigure(fx->p, fx->cfg, cloud_reconfigure(fx->c, fx->cfg, &fx->cr2));
	run_until_requests(fx, SHOW, 2, 5000);
	assert_true(gap(fx, 0, 1) < 5000);
	assert_non_null(strstr(fx->fake.last_auth, ak2));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_the_first_poll_is_at_once),
	    T(test_polls_at_the_interval_the_policy_sets),
	    T(test_a_shorter_interval_brings_the_scheduled_poll_forward),
	    T(test_an_active_task_is_polled_at_poll_until_the_policy_speaks),
	    T(test_an_idle_task_is_polled_at_poll_idle_until_the_policy_speaks),
	    T(test_zero_goes_back_to_the_task_states_interval),
	    T(test_poll_now_polls_one_second_after_the_last_poll),
	    T(test_polls_asked_for_together_are_one_poll),
	    T(test_a_poll_asked_for_during_a_poll_follows_it),
	    T(test_poll_now_cuts_a_server_error_backoff_short),
	    T(test_poll_now_waits_out_a_401_silence),
	    T(test_poll_now_waits_out_a_retry_after),
	    T(test_poll_now_waits_out_a_429_backoff_without_retry_after),
	    T(test_server_errors_back_off_exponentially),
	    T(test_a_snapshot_is_reported_once_per_poll),
	    T(test_an_answer_about_another_task_is_a_bad_response),
	    T(test_a_reload_to_another_task_drops_the_answer_in_flight),
	    T(test_a_reload_to_another_task_polls_at_once),
	    T(test_a_reload_that_keeps_the_target_keeps_the_snapshot),
	    T(test_new_credentials_lift_a_401_silence_and_poll_at_once),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
