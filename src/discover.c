/*
 * Finding this host's task: ListServers by address, then by name; ListTasks
 * of the source servers found; the newest unfinished task. One call at a
 * time, each step started from the answer of the one before.
 */
#define LOG_TAG "cloud"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "smsguard/discover.h"
#include "smsguard/log.h"
#include "smsguard/sign.h"
#include "smsguard/task.h"
#include "smsguard/util.h"

#define DISCOVER_MAX_QUERIES 9 /* up to 8 addresses and the host name */
#define DISCOVER_MAX_SOURCES 8

struct discover {
	struct cloud *cloud;
	char *task_id; /* the task found, kept until it is gone */
	bool told_no_task;

	/* The search in flight. */
	uint64_t call; /* 0 = none */
	discover_done_cb done;
	void *arg;
	char *queries[DISCOVER_MAX_QUERIES]; /* ListServers queries, addresses first */
	bool query_is_name[DISCOVER_MAX_QUERIES];
	int nqueries, query_at;
	char hostname[256];
	char sources[DISCOVER_MAX_SOURCES][SMS_ID_MAX + 1]; /* this host's source servers */
	int nsources, source_at;
	struct sms_task best;
	bool have_best;
};

static int next_query(struct discover *d);
static void next_source(struct discover *d);

struct discover *
discover_new(struct cloud *c)
{
	struct discover *d = xcalloc(1, sizeof(*d));

	d->cloud = c;
	return d;
}

static void
search_reset(struct discover *d)
{
	for (int i = 0; i < d->nqueries; i++)
		free(d->queries[i]);
	d->nqueries = d->query_at = 0;
	d->nsources = d->source_at = 0;
	d->have_best = false;
}

void
discover_cancel(struct discover *d)
{
	if (d->call != 0) {
		cloud_cancel(d->cloud, d->call);
		d->call = 0;
	}
	search_reset(d);
}

void
discover_free(struct discover *d)
{
	if (d == NULL)
		return;
	discover_cancel(d);
	free(d->task_id);
	free(d);
}

/* A search that found nothing is said once, until one finds a task again. */
static void
tell_no_task(struct discover *d)
{
	if (d->told_no_task)
		return;
	log_warnx("no SMS task found for this host (by address or by the name %s); "
	          "looking again later",
	    d->hostname);
	cloud_note_error(d->cloud, "no SMS task found for this host");
	d->told_no_task = true;
}

static void
search_done(struct discover *d, enum cloud_result res, const struct http_response *resp)
{
	if (res == CLOUD_RES_OK && d->have_best) {
		free(d->task_id);
		d->task_id = xstrdup(d->best.id);
		log_info("discovered task %s (%s) of this host", d->best.id,
		    task_state_name(d->best.state));
		d->told_no_task = false;
	} else if (res == CLOUD_RES_OK) {
		tell_no_task(d);
	}
	search_reset(d);
	d->done(d->arg, res, resp);
}

/* ------------------------------------------------------------ ListTasks */

/* The task to follow among a source's tasks: the newest unfinished, else the newest. */
static bool
better_task(const struct sms_task *t, const struct sms_task *best, bool have_best)
{
	bool t_done = task_state_is_finished(t->state), b_done;

	if (!have_best)
		return true;
	b_done = task_state_is_finished(best->state);
	if (t_done != b_done)
		return !t_done;
	return t->create_ms > best->create_ms;
}

static int
parse_tasks(void *arg, const struct http_response *resp, char **cause)
{
	struct discover *d = arg;
	struct sms_task *tasks = NULL;
	int n = 0;

	if (sms_task_list_parse(resp->body, resp->body_len, &tasks, &n, cause) < 0) {
		free(tasks);
		return -EBADMSG;
	}
	for (int i = 0; i < n; i++) {
		if (better_task(&tasks[i], &d->best, d->have_best)) {
			d->best = tasks[i];
			d->have_best = true;
		}
	}
	free(tasks);
	return 0;
}

static void
on_tasks(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct discover *d = arg;

	d->call = 0;
	if (res != CLOUD_RES_OK)
		search_done(d, res, resp);
	else
		next_source(d);
}

static void
next_source(struct discover *d)
{
	struct cloud_call call = {.api = CLOUD_API_LIST_TASKS,
	    .method = "GET",
	    .path = "/v3/tasks",
	    .parse = parse_tasks,
	    .answer = on_tasks,
	    .arg = d};
	char *query;
	int rc;

	if (d->source_at >= d->nsources) {
		search_done(d, CLOUD_RES_OK, NULL);
		return;
	}
	call.query = query = sms_tasks_by_source_query(d->sources[d->source_at++]);
	rc = cloud_send(d->cloud, &call, &d->call);
	free(query);
	if (rc < 0)
		search_done(d, CLOUD_RES_OTHER, NULL);
}

/* ---------------------------------------------------------- ListServers */

static bool
source_matches(
    const struct discover *d, const struct sms_source *s, bool by_name, const char *value)
{
	if (!by_name)
		return strcmp(s->ip, value) == 0;
	/* ListServers' name filter is a substring match: keep exact names only. */
	return strcasecmp(s->name, d->hostname) == 0;
}

static void
add_source(struct discover *d, const char *id)
{
	for (int j = 0; j < d->nsources; j++)
		if (strcmp(d->sources[j], id) == 0)
			return;
	util_strlcpy(d->sources[d->nsources++], id, SMS_ID_MAX + 1);
}

static int
parse_sources(void *arg, const struct http_response *resp, char **cause)
{
	struct discover *d = arg;
	struct sms_source *srcs = NULL;
	int n = 0, q = d->query_at - 1;
	const char *value;

	if (sms_source_list_parse(resp->body, resp->body_len, &srcs, &n, cause) < 0) {
		free(srcs);
		return -EBADMSG;
	}
	value = strchr(d->queries[q], '=') + 1;
	for (int i = 0; i < n && d->nsources < DISCOVER_MAX_SOURCES; i++) {
		char *dec = sign_uri_decode(value, strcspn(value, "&"), 1, NULL);

		if (source_matches(d, &srcs[i], d->query_is_name[q], dec))
			add_source(d, srcs[i].id);
		free(dec);
	}
	free(srcs);
	return 0;
}

static void
on_sources(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct discover *d = arg;

	d->call = 0;
	if (res != CLOUD_RES_OK)
		search_done(d, res, resp);
	else if (d->nsources > 0)
		next_source(d); /* the first query that finds this host ends the search */
	else if (d->query_at >= d->nqueries)
		search_done(d, CLOUD_RES_OK, NULL);
	else if (next_query(d) < 0)
		search_done(d, CLOUD_RES_OTHER, NULL);
}

/* Asks ListServers the next query (there is one). */
static int
next_query(struct discover *d)
{
	struct cloud_call call = {.api = CLOUD_API_LIST_SOURCES,
	    .method = "GET",
	    .path = "/v3/sources",
	    .query = d->queries[d->query_at++],
	    .parse = parse_sources,
	    .answer = on_sources,
	    .arg = d};

	return cloud_send(d->cloud, &call, &d->call);
}

static void
add_query(struct discover *d, char *query, bool is_name)
{
	d->query_is_name[d->nqueries] = is_name;
	d->queries[d->nqueries++] = query;
}

/* An interface's address as SMS records it, or "" for one it never records. */
static void
interface_ip(const uv_interface_address_t *ifa, char *ip, size_t len)
{
	ip[0] = '\0';
	if (ifa->is_internal)
		return;
	if (ifa->address.address4.sin_family == AF_INET) {
		uv_ip4_name(&ifa->address.address4, ip, len);
	} else if (ifa->address.address6.sin6_family == AF_INET6) {
		const uint8_t *b = ifa->address.address6.sin6_addr.s6_addr;

		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return; /* link-local: never what SMS records */
		uv_ip6_name(&ifa->address.address6, ip, len);
	}
}

/* This host's addresses, then its name. */
static void
collect_queries(struct discover *d)
{
	uv_interface_address_t *ifs = NULL;
	int nifs = 0;
	size_t hlen = sizeof(d->hostname);

	if (uv_interface_addresses(&ifs, &nifs) == 0) {
		for (int i = 0; i < nifs && d->nqueries < DISCOVER_MAX_QUERIES - 1; i++) {
			char ip[64];
			bool dup = false;

			interface_ip(&ifs[i], ip, sizeof(ip));
			if (ip[0] == '\0')
				continue;
			for (int j = 0; j < d->nqueries; j++)
				dup = dup || strstr(d->queries[j], ip) != NULL;
			if (!dup)
				add_query(d, sms_sources_by_ip_query(ip), false);
		}
		uv_free_interface_addresses(ifs, nifs);
	}
	if (uv_os_gethostname(d->hostname, &hlen) == 0 && d->hostname[0] != '\0')
		add_query(d, sms_sources_by_name_query(d->hostname), true);
}

int
discover_start(struct discover *d, discover_done_cb cb, void *arg)
{
	int rc;

	discover_cancel(d);
	d->done = cb;
	d->arg = arg;
	collect_queries(d);
	if (d->nqueries == 0) {
		tell_no_task(d);
		rc = -ENOENT;
	} else {
		rc = next_query(d);
	}
	if (rc < 0)
		search_reset(d);
	return rc;
}

/* ---------------------------------------------------------- the task found */

const char *
discover_task_id(const struct discover *d)
{
	return d->task_id;
}

void
discover_gone(struct discover *d)
{
	if (d->task_id == NULL)
		return;
	log_warnx("task %s no longer exists: discovering again", d->task_id);
	discover_forget(d);
}

void
discover_forget(struct discover *d)
{
	free(d->task_id);
	d->task_id = NULL;
}

cJSON *
discover_state_json(const struct discover *d)
{
	cJSON *o = cJSON_CreateObject();

	if (d->task_id != NULL)
		cJSON_AddStringToObject(o, "task_id", d->task_id);
	return o;
}

void
discover_restore(struct discover *d, const cJSON *state)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, "task_id");

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > SMS_ID_MAX)
		return;
	free(d->task_id);
	d->task_id = xstrdup(v->valuestring);
}
