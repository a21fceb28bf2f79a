/*
 * The cloud client on a real loop with a fake transport (fake_transport.h):
 * how its calls are answered, the silences every call obeys, and the
 * backoff its users report to. The poll schedule (the interval the policy
 * sets) is tested with the poller, in test_taskpoll.c.
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
	int events[EV_TYPE_COUNT];
	int cloud_changes;
	bool closed;
	/* The route: every answer has this status, Retry-After and Date. */
	long status;
	int64_t retry_after_s;
	int64_t date_s;
	/* What a call's callback said. */
	int answers;
	int rc;
	int nperiods;
};

static char ak[] = "AKTESTAKTESTAKTEST00";
static char sk[] = "sktestsktestsktestsktestsktestsktest0000";
static char ak2[] = "AKOTHERAKOTHERAKOTH0";

static void
route(struct fake *f, const char *url, struct fake_answer *a)
{
	struct fixture *fx = f->route_arg;

	fake_default_route(f, url, a);
	if (strstr(url, "/publish") != NULL) {
		a->status = 200;
		snprintf(a->body, sizeof(a->body), "{\"request_id\":\"r\",\"message_id\":\"m\"}");
	}
	if (strstr(url, "/speed-limit") != NULL || strstr(url, "/action") != NULL) {
		a->status = 200;
		snprintf(a->body, sizeof(a->body),
		    "{\"speed_limit\":[{\"start\":\"08:00\",\"end\":\"18:00\",\"speed\":50}]}");
	}
	if (fx->status != 0)
		a->status = fx->status;
	a->retry_after_s = fx->retry_after_s;
	a->date_s = fx->date_s;
}

static void
on_report(void *arg, const struct observation *o)
{
	struct fixture *fx = arg;

	if (o->kind == OBS_TASK)
		fx->snapshots++;
	if (o->kind == OBS_CLOUD)
		fx->cloud_changes++;
}

static void
on_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	struct fixture *fx = arg;

	fx->events[type]++;
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
	struct observer obs = {.arg = fx, .report = on_report, .event = on_event};

	uv_loop_init(&fx->loop);
	fx->cfg = config_new_defaults();
	free(fx->cfg->endpoint);
	fx->cfg->endpoint = strdup("https://sms.example.test");
	fx->cfg->task_id = strdup("task-1");
	fx->cfg->poll_ms = 60000;
	fx->cfg->poll_idle_ms = 60000;
	fx->cr.ak = ak;
	fx->cr.sk = sk;
	fx->retry_after_s = -1;
	fx->date_s = -1;
	fake_init(&fx->fake, &fx->loop);
	fx->fake.route = route;
	fx->fake.route_arg = fx;
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

static void
on_done(void *arg, int rc, const struct sms_error *err)
{
	struct fixture *fx = arg;

	fx->answers++;
	fx->rc = rc;
}

static void
on_answer(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	((struct fixture *)arg)->answers++;
}

/* Runs the loop until n calls were answered (or 5 s passed). */
static void
run_until_answers(struct fixture *fx, int n)
{
	uint64_t start;

	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	while (fx->answers < n && uv_now(&fx->loop) - start < 5000)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->answers, n);
}

/* One action on task-1, run until answered; returns its rc. */
static int
act(struct fixture *fx)
{
	int before = fx->answers;

	assert_int_equal(cloud_action(fx->c, "task-1", "start", on_done, fx), 0);
	run_until_answers(fx, before + 1);
	return fx->rc;
}

static void
test_an_action_is_signed_sent_and_answered(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(act(fx), 0);
	assert_non_null(strstr(fx->fake.seen_url[0], "/v3/tasks/task-1/action"));
	assert_non_null(strstr(fx->fake.last_auth,
	    "SDK-HMAC-SHA256 Access="
	    "AKTESTAKTESTAKTEST00"));
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_TASK_ACTION, CLOUD_RES_OK), 1);
	assert_int_equal(cloud_state(fx->c), CLOUD_OK);
}

static void
test_an_action_without_a_task_is_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(cloud_action(fx->c, NULL, "start", on_done, fx), -ENOENT);
	assert_int_equal(fx->fake.nseen, 0);
}

static void
test_a_404_answers_with_enoent_and_is_counted_a_client_error(void **state)
{
	struct fixture *fx = *state;

	fx->status = 404;
	assert_int_equal(act(fx), -ENOENT);
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_TASK_ACTION, CLOUD_RES_CLIENT_ERROR), 1);
}

static void
test_a_401_silences_every_call_for_five_minutes(void **state)
{
	struct fixture *fx = *state;

	fx->status = 401;
	assert_int_equal(act(fx), -EACCES);
	assert_int_equal(fx->events[EV_CLOUD_AUTH_FAILED], 1);
	assert_int_equal(cloud_state(fx->c), CLOUD_AUTH_FAILED);
	assert_int_equal(cloud_action(fx->c, "task-1", "start", on_done, fx), -EACCES);
	assert_true(cloud_quiet_until(fx->c) >= uv_now(&fx->loop) + CLOUD_AUTH_SILENCE_MS);
	assert_true(cloud_must_wait(fx->c));
	assert_int_equal(fx->fake.nseen, 1);
}

static void
test_new_credentials_lift_a_401_silence(void **state)
{
	struct fixture *fx = *state;
	struct credentials cr2 = {.ak = ak2, .sk = sk};

	fx->status = 401;
	act(fx);
	assert_true(cloud_reconfigure(fx->c, fx->cfg, &cr2));
	assert_int_equal(cloud_call_allowed(fx->c), 0);
}

static void
test_the_same_credentials_keep_a_401_silence(void **state)
{
	struct fixture *fx = *state;
	struct credentials same = {.ak = ak, .sk = sk};

	fx->status = 401;
	act(fx);
	assert_false(cloud_reconfigure(fx->c, fx->cfg, &same));
	assert_int_equal(cloud_call_allowed(fx->c), -EACCES);
}

static void
test_a_retry_after_holds_every_call_until_it_ends(void **state)
{
	struct fixture *fx = *state;

	fx->status = 429;
	fx->retry_after_s = 2;
	assert_int_equal(act(fx), -EAGAIN);
	assert_int_equal(cloud_state(fx->c), CLOUD_THROTTLED);
	assert_int_equal(cloud_action(fx->c, "task-1", "start", on_done, fx), -EAGAIN);
	assert_true(cloud_quiet_until(fx->c) >= uv_now(&fx->loop) + 1900);
	assert_true(cloud_quiet_until(fx->c) <= uv_now(&fx->loop) + 2000);
}

static void
test_a_server_clock_five_minutes_off_raises_clock_skew_once(void **state)
{
	struct fixture *fx = *state;

	fx->date_s = util_wall_ms() / 1000 + 600;
	act(fx);
	act(fx);
	assert_int_equal(fx->events[EV_CLOCK_SKEW], 1);
	assert_int_equal(cloud_state(fx->c), CLOUD_OK);
}

static void
test_a_cancelled_call_is_never_answered(void **state)
{
	struct fixture *fx = *state;
	struct cloud_call call = {.api = CLOUD_API_SHOW_TASK,
	    .method = "GET",
	    .path = "/v3/tasks/task-1",
	    .answer = on_answer,
	    .arg = fx};
	uint64_t id = 0, start;

	fx->fake.hold = true;
	assert_int_equal(cloud_send(fx->c, &call, &id), 0);
	assert_true(id != 0);
	cloud_cancel(fx->c, id);
	assert_int_equal(fx->fake.ncancelled, 1);
	fake_release(&fx->fake);
	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	while (uv_now(&fx->loop) - start < 200)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->answers, 0);
}

/* ----------------------------------------------------------------- SMN */

#define TOPIC "urn:smn:ap-southeast-3:0a1b2c:alerts"
#define TOPIC_PATH                                                                                 \
	"/v2/0a1b2c/notifications/topics/urn%3Asmn%3Aap-southeast-3%3A0a1b2c%3Aalerts/publish"

static int
publish(struct fixture *fx, const char *endpoint)
{
	int before = fx->answers;
	uint64_t id = 0;

	assert_int_equal(cloud_smn_publish(fx->c, TOPIC, endpoint, "s", "m", on_done, fx, &id), 0);
	assert_true(id != 0);
	run_until_answers(fx, before + 1);
	return fx->rc;
}

static void
test_an_smn_publish_goes_to_the_topics_region_signed(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(publish(fx, NULL), 0);
	assert_string_equal(
	    fx->fake.seen_url[0], "https://smn.ap-southeast-3.myhuaweicloud.com" TOPIC_PATH);
	assert_non_null(strstr(fx->fake.last_auth, "SDK-HMAC-SHA256 Access=AKTESTAKTESTAKTEST00"));
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_SMN_PUBLISH, CLOUD_RES_OK), 1);
	assert_int_equal(publish(fx, "https://smn.example.test:8443/"), 0);
	assert_string_equal(fx->fake.seen_url[1], "https://smn.example.test:8443" TOPIC_PATH);
}

static void
test_a_bad_topic_is_refused_before_anything_goes_out(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(
	    cloud_smn_publish(fx->c, "urn:smn:r:p", NULL, "s", "m", on_done, fx, NULL), -EINVAL);
	assert_int_equal(cloud_smn_publish(fx->c, TOPIC, NULL, "s", "m", NULL, fx, NULL), -EINVAL);
	assert_int_equal(fx->fake.nseen, 0);
}

static void
test_a_publish_says_nothing_of_the_sms_apis_state(void **state)
{
	struct fixture *fx = *state;
	cJSON *o = cJSON_CreateObject();

	assert_int_equal(publish(fx, NULL), 0);
	assert_int_equal(cloud_state(fx->c), CLOUD_UNKNOWN);
	fx->status = 503;
	assert_int_equal(publish(fx, NULL), -EIO);
	assert_int_equal(cloud_requests(fx->c, CLOUD_API_SMN_PUBLISH, CLOUD_RES_SERVER_ERROR), 1);
	cloud_status_json(fx->c, o);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "errors")->valueint, 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "last_error")));
	assert_int_equal(cloud_state(fx->c), CLOUD_UNKNOWN);
	cJSON_Delete(o);
}

static void
test_a_401_on_a_publish_silences_the_task_calls_too(void **state)
{
	struct fixture *fx = *state;

	fx->status = 401;
	assert_int_equal(publish(fx, NULL), -EACCES);
	assert_int_equal(fx->events[EV_CLOUD_AUTH_FAILED], 1);
	assert_int_equal(cloud_action(fx->c, "task-1", "start", on_done, fx), -EACCES);
	assert_int_equal(
	    cloud_smn_publish(fx->c, TOPIC, NULL, "s", "m", on_done, fx, NULL), -EACCES);
}

/* -------------------------------------------------------------- backoff */

static void
test_the_backoff_doubles_with_each_failed_poll(void **state)
{
	struct fixture *fx = *state;
	uint64_t d;

	fx->cfg->poll_ms = 1000;
	cloud_backoff_failed(fx->c, CLOUD_RES_SERVER_ERROR);
	d = cloud_backoff_ms(fx->c, NULL);
	assert_true(d >= 900 && d <= 1100);
	cloud_backoff_failed(fx->c, CLOUD_RES_SERVER_ERROR);
	cloud_backoff_failed(fx->c, CLOUD_RES_SERVER_ERROR);
	d = cloud_backoff_ms(fx->c, NULL);
	assert_true(d >= 3600 && d <= 4400);
	for (int i = 0; i < 30; i++)
		cloud_backoff_failed(fx->c, CLOUD_RES_SERVER_ERROR);
	assert_true(cloud_backoff_ms(fx->c, NULL) <= CLOUD_BACKOFF_MAX_MS * 11 / 10);
}

static void
test_a_failed_poll_of_the_path_makes_the_cloud_unreachable(void **state)
{
	struct fixture *fx = *state;

	cloud_backoff_failed(fx->c, CLOUD_RES_TIMEOUT);
	assert_int_equal(cloud_state(fx->c), CLOUD_UNREACHABLE);
	assert_int_equal(cloud_failures(fx->c), 1);
	assert_false(cloud_must_wait(fx->c)); /* our guess: a local change may cut it short */
	cloud_backoff_ok(fx->c);
	assert_int_equal(cloud_failures(fx->c), 0);
}

static void
test_a_failing_cloud_is_tried_at_the_minute_mark_of_its_outage(void **state)
{
	struct fixture *fx = *state;

	uint64_t d;

	fx->cfg->poll_ms = 1000;
	/* Short of the mark, the doubling as ever (4 s after three failures). */
	for (int i = 0; i < 3; i++)
		cloud_backoff_failed(fx->c, CLOUD_RES_TIMEOUT);
	d = cloud_backoff_ms(fx->c, NULL);
	assert_true(d >= 3600 && d <= 4400);
	/* Seven failures within no time: the doubled wait (64 s) would pass the minute mark. */
	for (int i = 0; i < 4; i++)
		cloud_backoff_failed(fx->c, CLOUD_RES_TIMEOUT);
	assert_int_equal(cloud_backoff_ms(fx->c, NULL), 60000);
	assert_int_equal(fx->events[EV_CLOUD_UNREACHABLE], 0);
}

static void
test_a_poll_answered_429_must_be_waited_out(void **state)
{
	struct fixture *fx = *state;

	cloud_backoff_failed(fx->c, CLOUD_RES_THROTTLED);
	assert_true(cloud_must_wait(fx->c));
	assert_int_equal(cloud_state(fx->c), CLOUD_UNKNOWN); /* the 429's answer says throttled */
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_an_action_is_signed_sent_and_answered),
	    T(test_an_action_without_a_task_is_refused),
	    T(test_a_404_answers_with_enoent_and_is_counted_a_client_error),
	    T(test_a_401_silences_every_call_for_five_minutes),
	    T(test_new_credentials_lift_a_401_silence),
	    T(test_the_same_credentials_keep_a_401_silence),
	    T(test_a_retry_after_holds_every_call_until_it_ends),
	    T(test_a_server_clock_five_minutes_off_raises_clock_skew_once),
	    T(test_a_cancelled_call_is_never_answered),
	    T(test_an_smn_publish_goes_to_the_topics_region_signed),
	    T(test_a_bad_topic_is_refused_before_anything_goes_out),
	    T(test_a_publish_says_nothing_of_the_sms_apis_state),
	    T(test_a_401_on_a_publish_silences_the_task_calls_too),
	    T(test_the_backoff_doubles_with_each_failed_poll),
	    T(test_a_failed_poll_of_the_path_makes_the_cloud_unreachable),
	    T(test_a_failing_cloud_is_tried_at_the_minute_mark_of_its_outage),
	    T(test_a_poll_answered_429_must_be_waited_out),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
