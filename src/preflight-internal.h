/*
 * What preflight's files share (preflight.c, preflight_job.c,
 * preflight_checks_net.c, preflight_checks_host.c) and nothing else
 * includes: one run and the jobs that make its checks.
 *
 * A job measures one thing (a connect, a lookup, a request, a program, a
 * statvfs) and fills one or more checks of the run's report. Its life: a
 * timer of its own (its timeout) and a reference for each operation in
 * flight. pf_job_finish() marks its checks filled (the run ends once every
 * job finished); the job is freed once its timer is closed and every
 * operation has called back or was cancelled - possibly after the run
 * ended, which is why the run, too, is freed only when its last job is.
 */
#ifndef SMSGUARD_PREFLIGHT_INTERNAL_H
#define SMSGUARD_PREFLIGHT_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <uv.h>

#include "smsguard/http.h"
#include "smsguard/preflight.h"
#include "smsguard/probe.h"
#include "smsguard/runner.h"

struct pf_run;

struct pf_job {
	struct pf_run *run;
	LIST_ENTRY(pf_job) entry;
	uv_timer_t timer;
	int refs;      /* the timer, and one per operation in flight */
	bool finished; /* its checks are filled */
	/* Fills the job's checks when its timeout passed. */
	void (*expire)(struct pf_job *j);
	/* Stops what is in flight (after expire, or when preflight closes). */
	void (*cancel)(struct pf_job *j);
	void (*free)(struct pf_job *j);
};

struct pf_run {
	struct preflight *pf;
	uv_loop_t *loop;
	LIST_ENTRY(pf_run) entry;
	struct pf_report report;
	LIST_HEAD(, pf_job) jobs;
	int pending;       /* jobs not finished */
	int refs;          /* jobs alive, the settle timer, the HTTP transport */
	uv_timer_t settle; /* ends the run on the loop turn after its last job */
	struct http_transport *http;
	bool ended;
	bool closing;
	uint64_t started_hr; /* uv_hrtime() */

	/* What the checks need, copied at the start: a reload may free the config. */
	struct cloud *cloud;
	char *endpoint;    /* [cloud] endpoint */
	char *ca_file;     /* NULL: the system's */
	char *proxy;       /* NULL: none */
	char *credentials; /* where the AK/SK come from, for the remedy */
	char *smn;         /* the SMN endpoint; NULL: no topic */
	char *path_env;    /* PATH for finding and running programs */
	char *agent_home;  /* NULL: not known */
	bool has_target;
	char target[PROBE_MAX_ADDRESS];
	int nports;
	uint16_t ports[PROBE_MAX_PORTS];
	bool task_known;
	struct sms_task task;
	bool planned; /* a rate limit is planned */
	char planned_why[160];
};

/* ------------------------------------------------------ preflight_job.c */

/* Starts j's timer and counts it in run (pending and refs). */
void pf_job_init(struct pf_run *run, struct pf_job *j, uint64_t timeout_ms);
/* An operation of j is in flight; pf_job_release() when it called back or was cancelled. */
void pf_job_hold(struct pf_job *j);
void pf_job_release(struct pf_job *j);
/* j's checks are filled: its timer stops. Once only; later calls do nothing. */
void pf_job_finish(struct pf_job *j);
/* The run's check called name (added by preflight.c before the jobs start), or NULL. */
struct pf_check *pf_run_check(struct pf_run *run, const char *name);
/* Milliseconds since hr (a uv_hrtime()). */
double pf_ms_since(uint64_t hr);

/*
 * Runs argv (argv[0] a path) with the run's PATH and LANG=C, killed at
 * PREFLIGHT_SPAWN_TIMEOUT_MS; done(j, result) from the loop unless j
 * finished first, then the runner is let go. *slot holds the program while
 * it runs (NULL after), for pf_spawn_cancel(). Returns 0, or the error,
 * having called nothing.
 */
struct pf_spawn;
int pf_spawn(struct pf_job *j, const char *const *argv,
    void (*done)(struct pf_job *j, const struct runner_result *res), struct pf_spawn **slot);
/* Kills the program now (its done is not called once the job finished). */
void pf_spawn_cancel(struct pf_spawn *s);
/* The first directory of PATH holding an executable name, as a path in buf; NULL when none. */
const char *pf_which(const char *path_env, const char *name, char *buf, size_t len);
/*
 * Runs work(j) in libuv's thread pool (it may touch only j's own fields),
 * then after(j) on the loop unless j finished first. *slot holds the
 * request while it is out (NULL after), for pf_work_cancel(). Returns 0 or
 * uv_queue_work()'s error.
 */
struct pf_work;
int pf_work(struct pf_job *j, void (*work)(struct pf_job *j), void (*after)(struct pf_job *j),
    struct pf_work **slot);
/* Cancels the request if it has not started; after is not called either way. */
void pf_work_cancel(struct pf_work *w);

/* --------------------------------------------------------------- starters */

/* preflight_checks_net.c: target_port_<N>, sms_dns, sms_tcp, sms_tls, clock_skew, sms_auth, agent_connected, smn. */
void pf_start_net(struct pf_run *run);
/* preflight_checks_host.c: tmp_space, tmp_exec, agent_log_space, tc, rsync, root_qdisc. */
void pf_start_host(struct pf_run *run);

/* ------------------------------------------------------------ preflight.c */

/* Every job finished: preflight.c ends the run on the next loop turn. */
void pf_run_jobs_done(struct pf_run *run);
/* One reference of run is gone (a job freed, a handle closed); the last frees it. */
void pf_run_unref(struct pf_run *run);

#endif
