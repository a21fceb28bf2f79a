/*
 * When the task's speed limit is read and written (ratelimit_plan.c): one
 * GET per trigger, a POST only when the cloud differs, a refusal reported
 * once, failures backed off, nothing while no task or apply = off.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/ratelimit.h"
#include "smsguard/task.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define T0 1700000000000LL
#define RECHECK (5 * MIN)

static const struct schedule_period day1[] = {{0, 480, 20, 0}, {480, 1080, 50, 0}};
static const struct schedule_period day2[] = {{540, 1020, 30, 0}};
static const struct schedule_date d1 = {2026, 12, 1}, d2 = {2026, 12, 2};

static struct sms_task
task(const char *id, enum task_state st)
{
	struct sms_task t;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", id);
	t.state = st;
	t.create_ms = T0 - 3600 * SEC;
	return t;
}

/* A plan at start: apply = cloud, threshold 10, day1's periods, a RUNNING task. */
static void
ready(struct rlplan *p)
{
	struct sms_task t = task("t-1", TASK_RUNNING);

	rlplan_init(p);
	rlplan_configure(p, true, 10, RECHECK);
	rlplan_day(p, &d1, day1, 2);
	rlplan_task(p, &t);
}

static enum rl_todo
next(struct rlplan *p, int64_t now, int *npost, int64_t *wake)
{
	struct schedule_period post[SCHEDULE_MAX_PERIODS];

	return rlplan_next(p, now, post, npost, wake);
}

static void
got(struct rlplan *p, int64_t now, const struct schedule_period *held, int n, struct rl_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	rlplan_got(p, now, 0, NULL, held, n, ev);
}

static void
test_start_reads_first_and_does_not_post_what_the_cloud_holds(void **state)
{
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	assert_int_equal(next(&p, T0, &n, &wake), RL_GET);
	/* Only one call at a time. */
	assert_int_equal(next(&p, T0, &n, &wake), RL_NOTHING);
	got(&p, T0 + SEC, day1, 2, &ev);
	assert_false(ev.raise);
	assert_true(p.applied);
	assert_int_equal(next(&p, T0 + 2 * SEC, &n, &wake), RL_NOTHING);
	assert_int_equal(wake, T0 + SEC + RECHECK);
}

static void
test_a_different_schedule_in_the_cloud_is_replaced_and_reported(void **state)
{
	const struct schedule_period console[] = {{0, 1439, 5, 10}};
	struct schedule_period post[SCHEDULE_MAX_PERIODS];
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	assert_int_equal(next(&p, T0, &n, &wake), RL_GET);
	got(&p, T0, console, 1, &ev);
	assert_false(p.applied);
	assert_int_equal(rlplan_next(&p, T0, post, &n, &wake), RL_POST);
	assert_int_equal(n, 2);
	assert_int_equal(post[1].mbps, 50);
	assert_int_equal(post[0].threshold, 10);
	memset(&ev, 0, sizeof(ev));
	rlplan_posted(&p, T0 + SEC, 0, NULL, &ev);
	assert_true(ev.raise);
	assert_int_equal(ev.type, EV_RATELIMIT_APPLIED);
	assert_non_null(strstr(ev.message, "the task held 00:00-23:59 5 Mbit/s"));
	assert_non_null(cJSON_GetObjectItem(ev.details, "replaced"));
	cJSON_Delete(ev.details);
	assert_true(p.applied);
	assert_int_equal(p.last_applied_ms, T0 + SEC);
}

static void
test_the_periodic_check_puts_back_a_console_change(void **state)
{
	const struct schedule_period console[] = {{0, 480, 20, 0}};
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, day1, 2, &ev);
	assert_int_equal(next(&p, T0 + RECHECK - 1, &n, &wake), RL_NOTHING);
	assert_int_equal(next(&p, T0 + RECHECK, &n, &wake), RL_GET);
	assert_string_equal(p.why, "periodic");
	got(&p, T0 + RECHECK, console, 1, &ev);
	assert_int_equal(next(&p, T0 + RECHECK, &n, &wake), RL_POST);
}

static void
test_an_idle_task_is_not_read_back_periodically(void **state)
{
	struct sms_task t = task("t-1", TASK_MIGRATE_SUCCESS);
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	rlplan_task(&p, &t);
	assert_int_equal(next(&p, T0, &n, &wake), RL_GET); /* the start's check still runs */
	got(&p, T0, day1, 2, &ev);
	assert_int_equal(next(&p, T0 + 5 * RECHECK, &n, &wake), RL_NOTHING);
	t.state = TASK_SYNCING; /* an incremental sync: active again */
	rlplan_task(&p, &t);
	assert_int_equal(next(&p, T0 + 5 * RECHECK, &n, &wake), RL_GET);
	assert_string_equal(p.why, "periodic");
}

static void
test_another_threshold_in_the_cloud_is_a_difference(void **state)
{
	const struct schedule_period held[] = {{0, 480, 20, 50}, {480, 1080, 50, 50}};
	const struct schedule_period dflt[] = {{0, 480, 20, 0}, {480, 1080, 50, 0}};
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, held, 2, &ev);
	assert_false(p.applied);
	/* No threshold in the answer is SMS's default, 10 %: ours. */
	rlplan_init(&p);
	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, dflt, 2, &ev);
	assert_true(p.applied);
}

static void
test_a_refused_post_is_reported_once_until_the_day_changes(void **state)
{
	struct sms_error err = {.code = "SMS.6102", .msg = "bad body"};
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, NULL, 0, &ev);
	assert_int_equal(next(&p, T0, &n, &wake), RL_POST);
	memset(&ev, 0, sizeof(ev));
	rlplan_posted(&p, T0, -EINVAL, &err, &ev);
	assert_true(ev.raise);
	assert_int_equal(ev.type, EV_RATELIMIT_FAILED);
	assert_non_null(strstr(ev.message, "SMS.6102"));
	cJSON_Delete(ev.details);
	/* Not again: neither at the periodic check nor when the task comes back. */
	assert_int_equal(next(&p, T0 + 3 * RECHECK, &n, &wake), RL_NOTHING);
	{
		struct sms_task a = task("t-1", TASK_ABORT), r = task("t-1", TASK_RUNNING);

		rlplan_task(&p, &a);
		rlplan_task(&p, &r);
	}
	assert_int_equal(next(&p, T0 + 3 * RECHECK, &n, &wake), RL_NOTHING);
	assert_string_equal(p.refused_reason, "SMS.6102: bad body");
	/* The next day is another plan: tried again. */
	rlplan_day(&p, &d2, day2, 1);
	assert_false(p.refused);
	assert_int_equal(next(&p, T0 + 4 * RECHECK, &n, &wake), RL_GET);
	assert_string_equal(p.why, "day");
}

static void
test_failures_back_off_from_30s_up_to_the_recheck(void **state)
{
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake, now = T0;
	const int64_t expect[] = {30 * SEC, 60 * SEC, 120 * SEC, 240 * SEC, RECHECK, RECHECK};

	ready(&p);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		assert_int_equal(next(&p, now, &n, &wake), RL_GET);
		memset(&ev, 0, sizeof(ev));
		rlplan_got(&p, now, -EIO, NULL, NULL, 0, &ev);
		assert_false(ev.raise);
		assert_int_equal(next(&p, now, &n, &wake), RL_NOTHING);
		assert_int_equal(wake, now + expect[i]);
		now = wake;
	}
	/* A 5xx on the POST is retried the same way, not reported as a refusal. */
	assert_int_equal(next(&p, now, &n, &wake), RL_GET);
	got(&p, now, NULL, 0, &ev);
	assert_int_equal(next(&p, now, &n, &wake), RL_POST);
	memset(&ev, 0, sizeof(ev));
	rlplan_posted(&p, now, -EIO, NULL, &ev);
	assert_false(ev.raise);
	assert_false(p.refused);
	assert_int_equal(next(&p, now + 30 * SEC, &n, &wake), RL_POST);
}

static void
test_day_boundary_checks_only_when_the_next_day_differs(void **state)
{
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;
	const struct schedule_date d3 = {2026, 12, 3};

	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, day1, 2, &ev);
	rlplan_day(&p, &d2, day1, 2); /* the same periods: nothing to do */
	assert_int_equal(next(&p, T0 + MIN, &n, &wake), RL_NOTHING);
	assert_true(p.applied);
	rlplan_day(&p, &d3, day2, 1);
	assert_false(p.applied);
	assert_int_equal(next(&p, T0 + 2 * MIN, &n, &wake), RL_GET);
	got(&p, T0 + 2 * MIN, day1, 2, &ev);
	assert_int_equal(next(&p, T0 + 2 * MIN, &n, &wake), RL_POST);
}

static void
test_task_triggers_a_new_id_a_recreated_task_and_leaving_abort(void **state)
{
	struct rlplan p;
	struct rl_event ev;
	struct sms_task t;
	int n;
	int64_t wake;

	ready(&p);
	next(&p, T0, &n, &wake);
	got(&p, T0, day1, 2, &ev);
	t = task("t-1", TASK_MIGRATE_FAIL);
	rlplan_task(&p, &t);
	assert_int_equal(next(&p, T0 + SEC, &n, &wake), RL_NOTHING);
	t.state = TASK_RUNNING;
	rlplan_task(&p, &t);
	assert_int_equal(next(&p, T0 + SEC, &n, &wake), RL_GET);
	assert_string_equal(p.why, "task restarted");
	got(&p, T0 + SEC, day1, 2, &ev);
	t = task("t-2", TASK_READY);
	rlplan_task(&p, &t);
	assert_false(p.applied);
	assert_int_equal(next(&p, T0 + 2 * SEC, &n, &wake), RL_GET);
	assert_string_equal(p.why, "new task");
	got(&p, T0 + 2 * SEC, day1, 2, &ev);
	t.create_ms += 1000; /* the same id, created again */
	rlplan_task(&p, &t);
	assert_int_equal(next(&p, T0 + 3 * SEC, &n, &wake), RL_GET);
}

static void
test_nothing_without_apply_or_a_task_and_a_reload_checks_again(void **state)
{
	struct rlplan p;
	struct rl_event ev;
	int n;
	int64_t wake;

	rlplan_init(&p);
	rlplan_configure(&p, false, 10, RECHECK);
	rlplan_day(&p, &d1, day1, 2);
	{
		struct sms_task t = task("t-1", TASK_RUNNING);

		rlplan_task(&p, &t);
	}
	assert_int_equal(next(&p, T0, &n, &wake), RL_NOTHING);
	rlplan_configure(&p, true, 10, RECHECK);
	rlplan_task(&p, NULL);
	assert_int_equal(next(&p, T0, &n, &wake), RL_NOTHING);
	{
		struct sms_task t = task("t-1", TASK_RUNNING);

		rlplan_task(&p, &t);
	}
	assert_int_equal(next(&p, T0, &n, &wake), RL_GET);
	got(&p, T0, day1, 2, &ev);
	rlplan_configure(&p, true, 10, RECHECK);
	assert_int_equal(next(&p, T0 + SEC, &n, &wake), RL_GET);
	assert_string_equal(p.why, "reload");
	/* A call dropped by a reload is asked again. */
	rlplan_dropped(&p);
	assert_int_equal(next(&p, T0 + SEC, &n, &wake), RL_GET);
}

static void
test_format_and_json(void **state)
{
	char buf[128];
	cJSON *j = rlplan_periods_json(day1, 2);
	char *s = cJSON_PrintUnformatted(j);

	assert_string_equal(rlplan_format(day1, 2, buf, sizeof(buf)),
	    "00:00-08:00 20 Mbit/s, 08:00-18:00 50 Mbit/s");
	assert_string_equal(rlplan_format(NULL, 0, buf, sizeof(buf)), "unlimited all day");
	assert_string_equal(s,
	    "[{\"start\":\"00:00\",\"end\":\"08:00\",\"mbps\":20},"
	    "{\"start\":\"08:00\",\"end\":\"18:00\",\"mbps\":50}]");
	free(s);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_reads_first_and_does_not_post_what_the_cloud_holds),
	    cmocka_unit_test(test_a_different_schedule_in_the_cloud_is_replaced_and_reported),
	    cmocka_unit_test(test_the_periodic_check_puts_back_a_console_change),
	    cmocka_unit_test(test_an_idle_task_is_not_read_back_periodically),
	    cmocka_unit_test(test_another_threshold_in_the_cloud_is_a_difference),
	    cmocka_unit_test(test_a_refused_post_is_reported_once_until_the_day_changes),
	    cmocka_unit_test(test_failures_back_off_from_30s_up_to_the_recheck),
	    cmocka_unit_test(test_day_boundary_checks_only_when_the_next_day_differs),
	    cmocka_unit_test(test_task_triggers_a_new_id_a_recreated_task_and_leaving_abort),
	    cmocka_unit_test(test_nothing_without_apply_or_a_task_and_a_reload_checks_again),
	    cmocka_unit_test(test_format_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
