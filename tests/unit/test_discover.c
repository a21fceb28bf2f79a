/*
 * Task discovery on a real loop, with the real cloud client and a fake
 * transport (fake_transport.h) playing SMS: ListServers knows this host by
 * its first address (or by its name, or not at all), and ListTasks knows the
 * tasks of each source server.
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
#include "smsguard/discover.h"
#include "smsguard/sign.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

#include "fake_transport.h"

#define SOURCES "/v3/sources?"
#define TASKS "/v3/tasks?"

enum known_by { BY_ADDRESS, BY_NAME, BY_NOTHING };

struct fixture {
	uv_loop_t loop;
	struct config *cfg;
	struct credentials cr;
	struct fake fake;
	struct cloud *c;
	struct discover *d;
	struct taskpoll *p;
	uv_timer_t tick;
	int closed;
	/* What SMS knows. */
	enum known_by known_by;
	char host_name[256];
	const char *tasks;     /* ListTasks' "tasks" array for source src-1 */
	const char *show_gone; /* ShowTask of this id answers 404 */
	long sources_status;
	/* What the search said. */
	int done;
	enum cloud_result res;
	char found[SMS_ID_MAX + 1];
	char last_snapshot[SMS_ID_MAX + 1];
};

static char ak[] = "AKTESTAKTESTAKTEST00";
static char sk[] = "sktestsktestsktestsktestsktestsktest0000";

static const char *newest_unfinished =
    "[{\"id\":\"done-new\",\"state\":\"MIGRATE_SUCCESS\",\"create_date\":1598435786000},"
    "{\"id\":\"run-mid\",\"state\":\"RUNNING\",\"create_date\":1598435785000},"
    "{\"id\":\"run-old\",\"state\":\"MIGRATE_FAIL\",\"create_date\":1598435784000}]";

/* The value of key= in url's query (decoded), or "". */
static void
query_value(const char *url, const char *key, char *out, size_t len)
{
	const char *p = strstr(url, key);
	char *dec;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(key);
	dec = sign_uri_decode(p, strcspn(p, "&"), 1, NULL);
	util_strlcpy(out, dec, len);
	free(dec);
}

static void
sources_answer(struct fixture *fx, const char *url, struct fake_answer *a)
{
	char ip[128], name[256];
	bool first_ip = fake_nth(&fx->fake, "ip=", 0) >= 0 &&
	    strcmp(fx->fake.seen_url[fake_nth(&fx->fake, "ip=", 0)], url) == 0;

	query_value(url, "ip=", ip, sizeof(ip));
	query_value(url, "name=", name, sizeof(name));
	a->status = fx->sources_status;
	if (fx->known_by == BY_ADDRESS && ip[0] != '\0' && first_ip)
		snprintf(a->body, sizeof(a->body),
		    "{\"count\":1,\"source_servers\":[{\"id\":\"src-1\",\"ip\":\"%s\","
		    "\"name\":\"elsewhere\"}]}",
		    ip);
	else if (fx->known_by == BY_NAME && name[0] != '\0')
		/* The name filter matches substrings: a longer name comes too. */
		snprintf(a->body, sizeof(a->body),
		    "{\"count\":2,\"source_servers\":[{\"id\":\"src-2\",\"ip\":\"192.0.2.99\","
		    "\"name\":\"%s-backup\"},{\"id\":\"src-1\",\"ip\":\"192.0.2.98\","
		    "\"name\":\"%s\"}]}",
		    fx->host_name, fx->host_name);
	else
		snprintf(a->body, sizeof(a->body), "{\"count\":0,\"source_servers\":[]}");
}

static void
route(struct fake *f, const char *url, struct fake_answer *a)
{
	struct fixture *fx = f->route_arg;
	const char *id = fake_show_task_id(url);

	if (strstr(url, SOURCES) != NULL)
		sources_answer(fx, url, a);
	else if (strstr(url, TASKS) != NULL && strstr(url, "source_server_id=src-1") != NULL)
		snprintf(a->body, sizeof(a->body), "{\"count\":3,\"tasks\":%s}", fx->tasks);
	else if (strstr(url, TASKS) != NULL)
		snprintf(a->body, sizeof(a->body), "{\"count\":0,\"tasks\":[]}");
	else if (id != NULL && fx->show_gone != NULL && strcmp(id, fx->show_gone) == 0)
		a->status = 404;
	else if (id != NULL)
		fake_task_json(a->body, sizeof(a->body), id, "RUNNING", 1598435784000);
	else
		a->status = 404;
}

static void
on_report(void *arg, const struct observation *o)
{
	struct fixture *fx = arg;

	if (o->kind == OBS_TASK)
		util_strlcpy(fx->last_snapshot, o->u.task.task.id, sizeof(fx->last_snapshot));
}
static void
on_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	cJSON_Delete(details);
}

static void
on_found(void *arg, enum cloud_result res, const struct http_response *resp)
{
	struct fixture *fx = arg;
	const char *id = discover_task_id(fx->d);

	fx->done++;
	fx->res = res;
	util_strlcpy(fx->found, id != NULL ? id : "", sizeof(fx->found));
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

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct observer obs = {.arg = fx, .report = on_report, .event = on_event};
	size_t hlen = sizeof(fx->host_name);

	uv_loop_init(&fx->loop);
	fx->cfg = config_new_defaults();
	free(fx->cfg->endpoint);
	fx->cfg->endpoint = strdup("https://sms.example.test");
	fx->cfg->poll_ms = 60000;
	fx->cfg->poll_idle_ms = 60000;
	fx->cr.ak = ak;
	fx->cr.sk = sk;
	fx->known_by = BY_ADDRESS;
	fx->tasks = newest_unfinished;
	fx->sources_status = 200;
	assert_int_equal(uv_os_gethostname(fx->host_name, &hlen), 0);
	fake_init(&fx->fake, &fx->loop);
	fx->fake.route = route;
	fx->fake.route_arg = fx;
	uv_timer_init(&fx->loop, &fx->tick);
	uv_timer_start(&fx->tick, tick_cb, 20, 20);
	assert_int_equal(
	    cloud_new(&fx->loop, fx->cfg, &fx->cr, &obs, &fx->fake.t, &fx->c, NULL), 0);
	fx->d = discover_new(fx->c);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	discover_free(fx->d);
	if (fx->p != NULL)
		taskpoll_close(fx->p, on_closed, fx);
	cloud_close(fx->c, on_closed, fx);
	uv_close((uv_handle_t *)&fx->fake.timer, handle_closed);
	uv_close((uv_handle_t *)&fx->tick, handle_closed);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(fx->closed, fx->p != NULL ? 2 : 1);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_free(fx->cfg);
	free(fx);
	return 0;
}

/* Runs the loop until the search ended (or 5 s passed). */
static void
run_search(struct fixture *fx)
{
	uint64_t start;

	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	assert_int_equal(discover_start(fx->d, on_found, fx), 0);
	while (fx->done == 0 && uv_now(&fx->loop) - start < 5000)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->done, 1);
}

/* This host's first address as discovery asks for it, or NULL: then the test is skipped. */
static bool
host_has_an_address(void)
{
	uv_interface_address_t *ifs;
	int n;
	bool any = false;

	if (uv_interface_addresses(&ifs, &n) != 0)
		return false;
	for (int i = 0; i < n; i++)
		any = any || (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET);
	uv_free_interface_addresses(ifs, n);
	return any;
}

/* --------------------------------------------------------------- search */

static void
test_this_hosts_newest_unfinished_task_is_found_by_its_address(void **state)
{
	struct fixture *fx = *state;

	if (!host_has_an_address())
		skip();
	run_search(fx);
	assert_int_equal(fx->res, CLOUD_RES_OK);
	assert_string_equal(fx->found, "run-mid");
	assert_non_null(strstr(fx->fake.seen_url[fake_nth(&fx->fake, TASKS, 0)], "src-1"));
}

static void
test_the_first_query_that_finds_this_host_ends_the_search(void **state)
{
	struct fixture *fx = *state;

	if (!host_has_an_address())
		skip();
	run_search(fx);
	assert_int_equal(fake_count(&fx->fake, SOURCES), 1);
	assert_int_equal(fake_count(&fx->fake, "name="), 0);
}

static void
test_the_host_name_is_asked_when_no_address_finds_this_host(void **state)
{
	struct fixture *fx = *state;

	fx->known_by = BY_NAME;
	run_search(fx);
	assert_int_equal(fake_count(&fx->fake, "name="), 1);
	assert_string_equal(fx->found, "run-mid");
}

static void
test_a_source_whose_name_only_contains_the_host_name_is_not_this_host(void **state)
{
	struct fixture *fx = *state;

	fx->known_by = BY_NAME;
	run_search(fx);
	/* src-2 is "<host>-backup": only src-1's tasks are asked for. */
	assert_int_equal(fake_count(&fx->fake, TASKS), 1);
	assert_int_equal(fake_count(&fx->fake, "src-2"), 0);
}

static void
test_the_newest_finished_task_is_taken_when_none_is_unfinished(void **state)
{
	struct fixture *fx = *state;

	fx->known_by = BY_NAME;
	fx->tasks =
	    "[{\"id\":\"done-old\",\"state\":\"SYNC_SUCCESS\",\"create_date\":1598435784000},"
	    "{\"id\":\"done-new\",\"state\":\"MIGRATE_SUCCESS\",\"create_date\":1598435785000}]";
	run_search(fx);
	assert_string_equal(fx->found, "done-new");
}

static void
test_a_host_sms_does_not_know_ends_the_search_with_nothing_found(void **state)
{
	struct fixture *fx = *state;
	cJSON *cl = cJSON_CreateObject();

	fx->known_by = BY_NOTHING;
	run_search(fx);
	assert_int_equal(fx->res, CLOUD_RES_OK);
	assert_string_equal(fx->found, "");
	assert_int_equal(fake_count(&fx->fake, TASKS), 0);
	cloud_status_json(fx->c, cl);
	assert_string_equal(
	    cJSON_GetObjectItem(cl, "last_error")->valuestring, "no SMS task found for this host");
	cJSON_Delete(cl);
}

static void
test_a_failed_list_ends_the_search_with_its_result(void **state)
{
	struct fixture *fx = *state;

	fx->sources_status = 503;
	run_search(fx);
	assert_int_equal(fx->res, CLOUD_RES_SERVER_ERROR);
	assert_null(discover_task_id(fx->d));
	assert_int_equal(fake_count(&fx->fake, SOURCES), 1);
}

static void
test_a_cancelled_search_never_calls_back(void **state)
{
	struct fixture *fx = *state;
	uint64_t start;

	fx->fake.hold = true;
	assert_int_equal(discover_start(fx->d, on_found, fx), 0);
	discover_cancel(fx->d);
	assert_int_equal(fx->fake.ncancelled, 1);
	fake_release(&fx->fake);
	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	while (uv_now(&fx->loop) - start < 300)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(fx->done, 0);
}

/* ------------------------------------------------------------ the task found */

static void
test_the_task_found_survives_a_restart(void **state)
{
	struct fixture *fx = *state;
	struct discover *again = discover_new(fx->c);
	cJSON *saved;

	fx->known_by = BY_NAME;
	run_search(fx);
	saved = discover_state_json(fx->d);
	discover_restore(again, saved);
	assert_string_equal(discover_task_id(again), "run-mid");
	cJSON_Delete(saved);
	discover_free(again);
}

static void
test_a_task_that_is_gone_is_forgotten(void **state)
{
	struct fixture *fx = *state;
	cJSON *saved;

	fx->known_by = BY_NAME;
	run_search(fx);
	discover_gone(fx->d);
	assert_null(discover_task_id(fx->d));
	saved = discover_state_json(fx->d);
	assert_null(cJSON_GetObjectItem(saved, "task_id"));
	cJSON_Delete(saved);
}

static void
test_the_poller_discovers_again_when_the_discovered_task_is_gone(void **state)
{
	struct fixture *fx = *state;
	struct observer obs = {.arg = fx, .report = on_report, .event = on_event};
	cJSON *known = cJSON_Parse("{\"task_id\":\"run-gone\"}");
	uint64_t start;

	fx->known_by = BY_NAME;
	fx->show_gone = "run-gone";
	fx->cfg->poll_ms = 500; /* the 404 is a failure: its backoff starts at 500 ms */
	assert_int_equal(taskpoll_new(&fx->loop, fx->c, fx->cfg, &obs, &fx->p), 0);
	taskpoll_restore(fx->p, known); /* found before a restart, deleted since */
	cJSON_Delete(known);
	taskpoll_start(fx->p);
	uv_update_time(&fx->loop);
	start = uv_now(&fx->loop);
	while (strcmp(fx->last_snapshot, "run-mid") != 0 && uv_now(&fx->loop) - start < 10000)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_string_equal(fx->last_snapshot, "run-mid");
	assert_int_equal(fake_count(&fx->fake, "/v3/tasks/run-gone"), 1);
	assert_string_equal(taskpoll_task_id(fx->p), "run-mid");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_this_hosts_newest_unfinished_task_is_found_by_its_address),
	    T(test_the_first_query_that_finds_this_host_ends_the_search),
	    T(test_the_host_name_is_asked_when_no_address_finds_this_host),
	    T(test_a_source_whose_name_only_contains_the_host_name_is_not_this_host),
	    T(test_the_newest_finished_task_is_taken_when_none_is_unfinished),
	    T(test_a_host_sms_does_not_know_ends_the_search_with_nothing_found),
	    T(test_a_failed_list_ends_the_search_with_its_result),
	    T(test_a_cancelled_search_never_calls_back),
	    T(test_the_task_found_survives_a_restart),
	    T(test_a_task_that_is_gone_is_forgotten),
	    T(test_the_poller_discovers_again_when_the_discovered_task_is_gone),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
