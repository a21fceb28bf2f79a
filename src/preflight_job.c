/*
 * A preflight check's life on the loop (preflight-internal.h): its timeout,
 * the references of what it has in flight, and the two kinds of work that
 * need more than a callback - a program run through the process runner, a
 * file-system call in libuv's thread pool.
 */
#define LOG_TAG "preflight"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight-internal.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

/* Bytes of a program's output kept: its first line is what the checks read. */
#define SPAWN_OUTPUT_MAX 8192

static void
job_timer_closed(uv_handle_t *h)
{
	pf_job_release(container_of(h, struct pf_job, timer));
}

static void
job_timeout_cb(uv_timer_t *t)
{
	struct pf_job *j = container_of(t, struct pf_job, timer);

	if (j->finished)
		return;
	j->expire(j);
	/* Finished first: nothing the cancel sets off may fill the checks again. */
	pf_job_finish(j);
	j->cancel(j);
}

void
pf_job_init(struct pf_run *run, struct pf_job *j, uint64_t timeout_ms)
{
	j->run = run;
	j->refs = 1;
	j->finished = false;
	uv_timer_init(run->loop, &j->timer);
	uv_timer_start(&j->timer, job_timeout_cb, timeout_ms, 0);
	LIST_INSERT_HEAD(&run->jobs, j, entry);
	run->pending++;
	run->refs++;
}

void
pf_job_hold(struct pf_job *j)
{
	j->refs++;
}

void
pf_job_release(struct pf_job *j)
{
	struct pf_run *run = j->run;

	if (--j->refs > 0)
		return;
	LIST_REMOVE(j, entry);
	j->free(j);
	pf_run_unref(run);
}

void
pf_job_finish(struct pf_job *j)
{
	if (j->finished)
		return;
	j->finished = true;
	uv_close((uv_handle_t *)&j->timer, job_timer_closed);
	if (--j->run->pending == 0)
		pf_run_jobs_done(j->run);
}

struct pf_check *
pf_run_check(struct pf_run *run, const char *name)
{
	for (int i = 0; i < run->report.n; i++)
		if (strcmp(run->report.checks[i].name, name) == 0)
			return &run->report.checks[i];
	return NULL;
}

double
pf_ms_since(uint64_t hr)
{
	return (double)(uv_hrtime() - hr) / 1e6;
}

/* ------------------------------------------------------------ programs */

struct pf_spawn {
	struct pf_job *j;
	struct runner *r;
	void (*done)(struct pf_job *j, const struct runner_result *res);
	struct pf_spawn **slot;
};

static void
spawn_freed(void *arg)
{
	struct pf_spawn *s = arg;
	struct pf_job *j = s->j;

	free(s);
	pf_job_release(j);
}

static void
spawn_done(void *arg, const struct runner_result *res)
{
	struct pf_spawn *s = arg;

	*s->slot = NULL;
	/* The output is valid until the runner is let go: read it first. */
	if (!s->j->finished)
		s->done(s->j, res);
	runner_drain(s->r, spawn_freed, s);
}

int
pf_spawn(struct pf_job *j, const char *const *argv,
    void (*done)(struct pf_job *j, const struct runner_result *res), struct pf_spawn **slot)
{
	const char *env[] = {NULL, "LANG=C", NULL};
	struct runner_opts o = {0};
	struct pf_spawn *s;
	const char *base;
	char *path_var;
	int rc;

	s = xcalloc(1, sizeof(*s));
	s->j = j;
	s->done = done;
	s->slot = slot;
	if ((rc = runner_new(j->run->loop, &s->r)) != 0) {
		free(s);
		return rc;
	}
	path_var = xasprintf("PATH=%s", j->run->path_env);
	env[0] = path_var;
	base = strrchr(argv[0], '/');
	o.argv = argv;
	o.env = env;
	o.timeout_ms = PREFLIGHT_SPAWN_TIMEOUT_MS;
	o.kill_grace_ms = 0;
	o.output_max = SPAWN_OUTPUT_MAX;
	o.log_tag = LOG_TAG;
	o.name = base != NULL ? base + 1 : argv[0];
	/* Its outcome is the check's to tell (and logged when a verdict changes). */
	o.quiet = true;
	o.done = spawn_done;
	o.arg = s;
	pf_job_hold(j);
	rc = runner_start(s->r, &o);
	free(path_var);
	if (rc != 0) {
		runner_close(s->r, spawn_freed, s);
		return rc;
	}
	*slot = s;
	return 0;
}

void
pf_spawn_cancel(struct pf_spawn *s)
{
	if (s != NULL)
		runner_cancel(s->r);
}

const char *
pf_which(const char *path_env, const char *name, char *buf, size_t len)
{
	const char *p = path_env;
	struct stat st;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ":");

		/* An empty entry would mean the daemon's working directory: never searched. */
		if (n > 0 && p[0] == '/' &&
		    (size_t)snprintf(buf, len, "%.*s/%s", (int)n, p, name) < len &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return buf;
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* --------------------------------------------------------- thread pool */

struct pf_work {
	uv_work_t req;
	struct pf_job *j;
	void (*work)(struct pf_job *j);
	void (*after)(struct pf_job *j);
	struct pf_work **slot;
};

static void
work_cb(uv_work_t *req)
{
	struct pf_work *w = container_of(req, struct pf_work, req);

	w->work(w->j);
}

static void
after_work_cb(uv_work_t *req, int status)
{
	struct pf_work *w = container_of(req, struct pf_work, req);
	struct pf_job *j = w->j;

	*w->slot = NULL;
	if (status == 0 && !j->finished)
		w->after(j);
	free(w);
	pf_job_release(j);
}

int
pf_work(struct pf_job *j, void (*work)(struct pf_job *j), void (*after)(struct pf_job *j),
    struct pf_work **slot)
{
	struct pf_work *w = xcalloc(1, sizeof(*w));
	int rc;

	w->j = j;
	w->work = work;
	w->after = after;
	w->slot = slot;
	if ((rc = uv_queue_work(j->run->loop, &w->req, work_cb, after_work_cb)) != 0) {
		free(w);
		return rc;
	}
	*slot = w;
	pf_job_hold(j);
	return 0;
}

void
pf_work_cancel(struct pf_work *w)
{
	if (w != NULL)
		uv_cancel((uv_req_t *)&w->req);
}
