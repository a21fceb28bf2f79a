/*
 * Preflight's runs (DESIGN.md §5.11): when they start (start-up, a task that
 * fails, `smsguardctl preflight`), which checks a run has, what it copies
 * from the config and the picture before its jobs start, and what becomes of
 * its report - kept for status, logged where a verdict changed, compared
 * with the report before so that a check turning to fail raises
 * preflight_failed once, and handed to whoever asked.
 */
#define LOG_TAG "preflight"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight-internal.h"
#include "smsguard/agent.h"
#include "smsguard/credentials.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define DEFAULT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

struct pf_asker {
	TAILQ_ENTRY(pf_asker) entry;
	preflight_done_cb cb;
	void *arg;
};

struct preflight {
	uv_loop_t *loop;
	const struct config *cfg;
	struct preflight_deps deps;

	struct pf_run *run;       /* the run under way, or NULL */
	LIST_HEAD(, pf_run) runs; /* every run alive: that one, and ended ones still draining */
	TAILQ_HEAD(, pf_asker) askers; /* waiting for the run under way */
	bool have_last;
	struct pf_report last;

	bool task_known;
	struct sms_task task;
	enum task_state prev_state;
	bool start_ran;
	uv_timer_t start_timer;

	bool closing;
	int live; /* runs alive, and the start timer */
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void
pf_maybe_closed(struct preflight *pf)
{
	if (!pf->closing || pf->live > 0)
		return;
	if (pf->close_cb != NULL)
		pf->close_cb(pf->close_arg);
	free(pf);
}

/* ---------------------------------------------------------- a run's end */

static void
run_free(struct pf_run *run)
{
	struct preflight *pf = run->pf;

	LIST_REMOVE(run, entry);
	free(run->endpoint);
	free(run->ca_file);
	free(run->proxy);
	free(run->credentials);
	free(run->smn);
	free(run->path_env);
	free(run->agent_home);
	free(run);
	pf->live--;
	pf_maybe_closed(pf);
}

void
pf_run_unref(struct pf_run *run)
{
	if (--run->refs == 0)
		run_free(run);
}

static void
settle_closed(uv_handle_t *h)
{
	pf_run_unref(container_of(h, struct pf_run, settle));
}

static void
http_closed(void *arg)
{
	pf_run_unref(arg);
}

/* The run's own handles: the settle timer and the HTTP transport. */
static void
run_close_handles(struct pf_run *run)
{
	if (!uv_is_closing((uv_handle_t *)&run->settle))
		uv_close((uv_handle_t *)&run->settle, settle_closed);
	if (run->http != NULL) {
		http_close(run->http, http_closed, run);
		run->http = NULL;
	}
}

static void
log_changes(const struct preflight *pf, const struct pf_report *r)
{
	const struct pf_check *c, *was;
	char esc[PF_TEXT_MAX * 2];

	for (int i = 0; i < r->n; i++) {
		c = &r->checks[i];
		was = pf->have_last ? pf_report_find(&pf->last, c->name) : NULL;
		if (was != NULL && was->verdict == c->verdict)
			continue;
		log_escape(c->measured, -1, esc, sizeof(esc));
		if (c->verdict != PF_OK)
			log_warnx("%s %s: %s", c->name, pf_verdict_name(c->verdict), esc);
		else if (was != NULL)
			log_info("%s ok again: %s", c->name, esc);
	}
}

/* What a finished report means: logged, compared with the last, kept. */
static void
run_judged(struct preflight *pf, const struct pf_report *r)
{
	int idx[PF_MAX_CHECKS], counts[PF_VERDICT_COUNT], n;
	char msg[EVENT_MESSAGE_MAX];
	cJSON *details;

	log_changes(pf, r);
	pf_report_count(r, counts);
	log_info("run (%s): %d ok, %d warn, %d fail in %llu ms", r->trigger, counts[PF_OK],
	    counts[PF_WARN], counts[PF_FAIL], (unsigned long long)r->took_ms);
	n = pf_report_newly_failed(pf->have_last ? &pf->last : NULL, r, idx, PF_MAX_CHECKS);
	memcpy(&pf->last, r, sizeof(*r));
	pf->have_last = true;
	if (n > 0) {
		details = pf_event(r, idx, n, msg, sizeof(msg));
		observer_event(&pf->deps.obs, EV_PREFLIGHT_FAILED, details, msg);
	}
}

static void
settle_cb(uv_timer_t *t)
{
	struct pf_run *run = container_of(t, struct pf_run, settle);
	struct preflight *pf = run->pf;
	struct pf_asker *a;

	run->ended = true;
	run->report.took_ms = (uint64_t)pf_ms_since(run->started_hr);
	pf->run = NULL;
	run_close_handles(run);
	run_judged(pf, &run->report);
	/* Each asker leaves the list before its answer: the answer may ask again. */
	while ((a = TAILQ_FIRST(&pf->askers)) != NULL) {
		TAILQ_REMOVE(&pf->askers, a, entry);
		a->cb(a->arg, &pf->last);
		free(a);
	}
}

void
pf_run_jobs_done(struct pf_run *run)
{
	/* Ended on a later loop turn: never from inside a job's own call. */
	if (!run->closing)
		uv_timer_start(&run->settle, settle_cb, 0, 0);
}

/* ------------------------------------------------------- a run's start */

static void
run_target(struct pf_run *run, const struct config *cfg)
{
	const struct sms_task *t = run->task_known ? &run->task : NULL;
	const char *addr = cfg->target_address;

	if (addr == NULL && t != NULL && t->migration_ip[0] != '\0')
		addr = t->migration_ip;
	if (addr != NULL) {
		run->has_target = true;
		util_strlcpy(run->target, addr, sizeof(run->target));
	}
	run->nports = probe_effective_ports(cfg, t != NULL ? t->type : TASK_TYPE_UNKNOWN,
	    t != NULL ? t->os_type : TASK_OS_UNKNOWN, run->ports);
	if (run->nports < 0)
		run->nports = 0;
}

/* What the checks need, copied: the config may be reloaded while they run. */
static void
run_inputs(struct pf_run *run, struct preflight *pf)
{
	const struct config *cfg = pf->cfg;
	const char *path = getenv("PATH"), *home = agent_home(pf->deps.agent);

	run->cloud = pf->deps.cloud;
	run->endpoint = xstrdup(cfg->endpoint);
	run->ca_file = cfg->ca_file != NULL ? xstrdup(cfg->ca_file) : NULL;
	run->proxy = cfg->proxy != NULL ? xstrdup(cfg->proxy) : NULL;
	run->credentials =
	    xstrdup(cfg->credentials != NULL ? cfg->credentials : CREDENTIALS_DEFAULT_PATH);
	run->smn = pf_smn_endpoint(cfg);
	run->path_env = xstrdup(path != NULL && *path != '\0' ? path : DEFAULT_PATH);
	run->agent_home = home != NULL ? xstrdup(home) : NULL;
	run->task_known = pf->task_known;
	if (pf->task_known)
		run->task = pf->task;
	run_target(run, cfg);
	run->planned = pf_limit_planned(
	    cfg, run->task_known ? &run->task : NULL, run->planned_why, sizeof(run->planned_why));
}

static struct pf_check *
add(struct pf_run *run, const char *name)
{
	static struct pf_check spare;
	struct pf_check *c = pf_report_add(&run->report, name);

	/* Sized for every check: a full report is a bug, not a reason to crash. */
	return c != NULL ? c : &spare;
}

/* The run's checks, in DESIGN.md §5.11's order; those known at once are judged now. */
static void
run_plan(struct pf_run *run, struct preflight *pf)
{
	const struct config *cfg = pf->cfg;
	const struct sms_task *t = run->task_known ? &run->task : NULL;
	char name[PF_NAME_MAX];
	struct pf_check *c;

	for (int i = 0; i < run->nports; i++) {
		snprintf(name, sizeof(name), "target_port_%u", run->ports[i]);
		c = add(run, name);
		if (!run->has_target)
			pf_judge_target_unknown(c, run->ports[i]);
	}
	add(run, "sms_dns");
	add(run, "sms_tcp");
	add(run, "sms_tls");
	add(run, "sms_auth");
	add(run, "clock_skew");
	if (run->smn != NULL)
		add(run, "smn");
	pf_judge_agent_running(add(run, "agent_running"), agent_state(pf->deps.agent),
	    (int)agent_pid(pf->deps.agent), cfg->agent_process, run->agent_home);
	pf_judge_agent_home(add(run, "agent_home"), run->agent_home, cfg->agent_home);
	add(run, "agent_connected");
	add(run, "tmp_space");
	add(run, "tmp_exec");
	if (run->planned)
		add(run, "tc");
	/* rsync copies a Linux file-level task; the type is not known before the first poll. */
	if (t == NULL || (t->type != TASK_TYPE_MIGRATE_BLOCK && t->os_type != TASK_OS_WINDOWS))
		add(run, "rsync");
	add(run, "agent_log_space");
	if (run->planned) {
		c = add(run, "root_qdisc");
		if (!run->has_target) {
			struct pf_qdisc q = {"the target", "", "", "", -ENOENT,
			    "the target's address is not known yet"};

			pf_judge_root_qdisc(c, &q, run->planned_why);
		}
	}
}

static void
run_start(struct preflight *pf, const char *trigger)
{
	struct pf_run *run = xcalloc(1, sizeof(*run));

	run->pf = pf;
	run->loop = pf->loop;
	LIST_INIT(&run->jobs);
	pf_report_init(&run->report, util_wall_ms(), trigger);
	run->started_hr = uv_hrtime();
	LIST_INSERT_HEAD(&pf->runs, run, entry);
	pf->live++;
	pf->run = run;
	uv_timer_init(pf->loop, &run->settle);
	run->refs = 1;
	if (http_new(pf->loop, &run->http) == 0)
		run->refs++;
	else
		run->http = NULL;
	run_inputs(run, pf);
	run_plan(run, pf);
	/* One pending for the starters: a job done at once must not end the run early. */
	run->pending = 1;
	pf_start_net(run);
	pf_start_host(run);
	if (--run->pending == 0)
		pf_run_jobs_done(run);
}

/* Every job is stopped; the run ends without a report. */
static void
run_abort(struct pf_run *run)
{
	struct pf_job *j, *next;

	run->closing = true;
	for (j = LIST_FIRST(&run->jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, entry);
		if (j->finished)
			continue;
		/* Finished first: the timer's close keeps j alive through its cancel. */
		pf_job_finish(j);
		j->cancel(j);
	}
	run_close_handles(run);
}

/* --------------------------------------------------------------- the API */

int
preflight_new(uv_loop_t *loop, const struct config *cfg, const struct preflight_deps *deps,
    struct preflight **out)
{
	struct preflight *pf = xcalloc(1, sizeof(*pf));
	int rc;

	pf->loop = loop;
	pf->cfg = cfg;
	pf->deps = *deps;
	LIST_INIT(&pf->runs);
	TAILQ_INIT(&pf->askers);
	if ((rc = uv_timer_init(loop, &pf->start_timer)) != 0) {
		free(pf);
		return rc;
	}
	pf->live = 1;
	*out = pf;
	return 0;
}

static void
start_cb(uv_timer_t *t)
{
	struct preflight *pf = container_of(t, struct preflight, start_timer);

	if (pf->start_ran)
		return;
	pf->start_ran = true;
	preflight_run(pf, "start", NULL, NULL);
}

void
preflight_start(struct preflight *pf)
{
	uv_timer_start(&pf->start_timer, start_cb, PREFLIGHT_START_WAIT_MS, 0);
}

void
preflight_reconfigure(struct preflight *pf, const struct config *cfg)
{
	pf->cfg = cfg;
}

void
preflight_turned(struct preflight *pf, const struct sms_task *t, enum cloud_state cloud)
{
	bool failed = false;

	if (pf->closing)
		return;
	if (t == NULL) {
		pf->task_known = false;
		pf->prev_state = TASK_UNKNOWN;
	} else {
		failed = task_state_is_failed(t->state) && !task_state_is_failed(pf->prev_state);
		pf->task_known = true;
		pf->task = *t;
		pf->prev_state = t->state;
	}
	/* At start-up, once the first poll answered: with the task, or with why it could not. */
	if (!pf->start_ran && (t != NULL || cloud != CLOUD_UNKNOWN)) {
		pf->start_ran = true;
		uv_timer_stop(&pf->start_timer);
		preflight_run(pf, "start", NULL, NULL);
	} else if (failed) {
		preflight_run(pf, "task_failed", NULL, NULL);
	}
}

int
preflight_run(struct preflight *pf, const char *trigger, preflight_done_cb cb, void *arg)
{
	struct pf_asker *a;

	if (pf->closing)
		return -ESHUTDOWN;
	if (cb != NULL) {
		a = xcalloc(1, sizeof(*a));
		a->cb = cb;
		a->arg = arg;
		TAILQ_INSERT_TAIL(&pf->askers, a, entry);
	}
	if (pf->run == NULL)
		run_start(pf, trigger);
	return 0;
}

void
preflight_forget(struct preflight *pf, void *arg)
{
	struct pf_asker *a, *next;

	for (a = TAILQ_FIRST(&pf->askers); a != NULL; a = next) {
		next = TAILQ_NEXT(a, entry);
		if (a->arg == arg) {
			TAILQ_REMOVE(&pf->askers, a, entry);
			free(a);
		}
	}
}

cJSON *
preflight_status_json(const struct preflight *pf)
{
	cJSON *o;

	if (!pf->have_last)
		return cJSON_CreateNull();
	o = pf_report_json(&pf->last);
	cJSON_AddStringToObject(o, "trigger", pf->last.trigger);
	cJSON_AddNumberToObject(o, "took_ms", (double)pf->last.took_ms);
	cJSON_AddBoolToObject(o, "running", pf->run != NULL);
	return o;
}

static void
start_timer_closed(uv_handle_t *h)
{
	struct preflight *pf = container_of(h, struct preflight, start_timer);

	pf->live--;
	pf_maybe_closed(pf);
}

void
preflight_close(struct preflight *pf, void (*cb)(void *arg), void *arg)
{
	struct pf_asker *a;

	pf->closing = true;
	pf->close_cb = cb;
	pf->close_arg = arg;
	while ((a = TAILQ_FIRST(&pf->askers)) != NULL) {
		TAILQ_REMOVE(&pf->askers, a, entry);
		a->cb(a->arg, NULL);
		free(a);
	}
	if (pf->run != NULL) {
		run_abort(pf->run);
		pf->run = NULL;
	}
	/* Last: its close callback is what frees pf when nothing else is left. */
	uv_close((uv_handle_t *)&pf->start_timer, start_timer_closed);
}
