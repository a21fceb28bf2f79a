/*
 * A fake HTTP transport for the cloud client's tests, on a real loop: it
 * records every request (its URL and when it came) and answers on a later
 * loop turn, as the real one does, with what the test's route says. Requests
 * are answered in the order they came; one submitted while answering waits
 * for the next turn. `hold` keeps every answer back until fake_release().
 */
#ifndef SMSGUARD_TEST_FAKE_TRANSPORT_H
#define SMSGUARD_TEST_FAKE_TRANSPORT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "smsguard/http.h"
#include "smsguard/util.h"

#define FAKE_MAX_SEEN 64
#define FAKE_MAX_PENDING 8
#define FAKE_URL_MAX 512
#define FAKE_BODY_MAX 4096

struct fake_answer {
	enum http_result result; /* HTTP_OK unless set */
	long status;             /* 200 unless set */
	char body[FAKE_BODY_MAX];
	int64_t retry_after_s; /* -1 unless set */
	int64_t date_s;        /* -1 unless set */
};

struct fake;
/* Fills a for a request to url (the whole URL, query included). */
typedef void (*fake_route)(struct fake *f, const char *url, struct fake_answer *a);

struct fake_pending {
	uint64_t id;
	http_done_cb cb;
	void *arg;
	char url[FAKE_URL_MAX];
};

struct fake {
	struct http_transport t;
	uv_loop_t *loop;
	uv_timer_t timer;
	fake_route route; /* NULL: every task is `state` */
	void *route_arg;
	const char *state;
	bool hold;
	struct fake_pending pending[FAKE_MAX_PENDING];
	int npending;
	uint64_t last_id;
	int nseen;
	char seen_url[FAKE_MAX_SEEN][FAKE_URL_MAX];
	uint64_t seen_ms[FAKE_MAX_SEEN]; /* uv_now() of each request */
	int ncancelled;
	char last_auth[256]; /* the last request's Authorization */
};

/* {"id":id,"state":state,…} as GET /v3/tasks/{id} answers. */
static inline void
fake_task_json(char *buf, size_t len, const char *id, const char *state, int64_t create_ms)
{
	snprintf(buf, len,
	    "{\"id\":\"%s\",\"name\":\"t\",\"state\":\"%s\",\"type\":\"MIGRATE_FILE\","
	    "\"os_type\":\"LINUX\",\"error_json\":\"\",\"create_date\":%lld,"
	    "\"start_date\":1598435784000}",
	    id, state, (long long)create_ms);
}

/* The task id of a ShowTask URL ("…/v3/tasks/ID"), or NULL for any other request. */
static inline const char *
fake_show_task_id(const char *url)
{
	const char *p = strstr(url, "/v3/tasks/");

	if (p == NULL || strchr(p, '?') != NULL)
		return NULL;
	p += strlen("/v3/tasks/");
	return strchr(p, '/') == NULL ? p : NULL;
}

static inline void
fake_default_route(struct fake *f, const char *url, struct fake_answer *a)
{
	const char *id = fake_show_task_id(url);

	if (id == NULL) {
		a->status = 404;
		return;
	}
	fake_task_json(a->body, sizeof(a->body), id, f->state, 1598435784000);
}

static inline void
fake_answer_cb(uv_timer_t *t)
{
	struct fake *f = t->data;
	struct fake_pending now[FAKE_MAX_PENDING];
	int n = f->npending;

	if (f->hold)
		return;
	/* Whatever is submitted from a callback waits for the next turn. */
	memcpy(now, f->pending, sizeof(now));
	f->npending = 0;
	for (int i = 0; i < n; i++) {
		struct fake_answer a;
		struct http_response resp;

		memset(&a, 0, sizeof(a));
		a.result = HTTP_OK;
		a.status = 200;
		a.retry_after_s = -1;
		a.date_s = -1;
		(f->route != NULL ? f->route : fake_default_route)(f, now[i].url, &a);
		memset(&resp, 0, sizeof(resp));
		resp.result = a.result;
		resp.status = a.result == HTTP_OK ? a.status : 0;
		resp.body = a.body;
		resp.body_len = strlen(a.body);
		resp.date_s = a.date_s;
		resp.retry_after_s = a.retry_after_s;
		if (a.result != HTTP_OK)
			snprintf(resp.error, sizeof(resp.error), "fake failure");
		now[i].cb(now[i].arg, &resp);
	}
}

static inline int
fake_submit(struct http_transport *t, const struct http_request *req, http_done_cb cb, void *arg,
    uint64_t *id)
{
	struct fake *f = container_of(t, struct fake, t);
	struct fake_pending *p;

	if (f->npending >= FAKE_MAX_PENDING)
		return -EAGAIN;
	if (f->nseen < FAKE_MAX_SEEN) {
		util_strlcpy(f->seen_url[f->nseen], req->url, FAKE_URL_MAX);
		f->seen_ms[f->nseen++] = uv_now(f->loop);
	}
	for (int i = 0; i < req->nheaders; i++)
		if (strncmp(req->headers[i], "Authorization: ", 15) == 0)
			util_strlcpy(f->last_auth, req->headers[i] + 15, sizeof(f->last_auth));
	p = &f->pending[f->npending++];
	p->id = ++f->last_id;
	p->cb = cb;
	p->arg = arg;
	util_strlcpy(p->url, req->url, FAKE_URL_MAX);
	*id = p->id;
	/* Never call back from inside submit. */
	uv_timer_start(&f->timer, fake_answer_cb, 1, 0);
	return 0;
}

static inline void
fake_cancel(struct http_transport *t, uint64_t id)
{
	struct fake *f = container_of(t, struct fake, t);

	for (int i = 0; i < f->npending; i++) {
		if (f->pending[i].id == id) {
			memmove(&f->pending[i], &f->pending[i + 1],
			    (size_t)(f->npending - i - 1) * sizeof(f->pending[0]));
			f->npending--;
			f->ncancelled++;
			return;
		}
	}
}

static inline void
fake_close(struct http_transport *t, void (*cb)(void *), void *arg)
{
	if (cb != NULL)
		cb(arg);
}

static inline void
fake_init(struct fake *f, uv_loop_t *loop)
{
	memset(f, 0, sizeof(*f));
	f->t.submit = fake_submit;
	f->t.cancel = fake_cancel;
	f->t.close = fake_close;
	f->loop = loop;
	f->state = "RUNNING";
	uv_timer_init(loop, &f->timer);
	f->timer.data = f;
}

/* Lets the held answers go (on the next turn). */
static inline void
fake_release(struct fake *f)
{
	f->hold = false;
	uv_timer_start(&f->timer, fake_answer_cb, 1, 0);
}

/* How many requests so far had needle in their URL. */
static inline int
fake_count(const struct fake *f, const char *needle)
{
	int n = 0;

	for (int i = 0; i < f->nseen; i++)
		n += strstr(f->seen_url[i], needle) != NULL;
	return n;
}

/* The i-th request (0-based) whose URL has needle, or -1. */
static inline int
fake_nth(const struct fake *f, const char *needle, int i)
{
	for (int k = 0; k < f->nseen; k++)
		if (strstr(f->seen_url[k], needle) != NULL && i-- == 0)
			return k;
	return -1;
}

#endif
