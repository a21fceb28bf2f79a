/*
 * Preflight on the loop (DESIGN.md §5.11): the checks of what the SMS
 * documentation says breaks a migration, run in parallel, each with a
 * timeout of its own, never blocking the probes, the polls or the control
 * socket - TCP connects and name lookups through libuv, HTTPS through the
 * HTTP transport, the signed request through the cloud client, programs
 * (rsync, tc, ip) through the process runner, file systems in libuv's
 * thread pool. What each measurement means is preflight_judge.h's.
 *
 * A run starts at start-up (once the first poll answered, or after
 * PREFLIGHT_START_WAIT_MS if it never does), when the task fails, and on
 * `smsguardctl preflight`; one asked for while another is under way joins
 * it. Its report is the status's `preflight` object; a check that turns to
 * fail raises one preflight_failed event (through the observer), once per
 * turn, not on every run.
 *
 * Files: preflight.c (runs, triggers, the report's fate),
 * preflight_job.c (a check's life: timeout, cancel, free),
 * preflight_checks_net.c (target ports, the SMS endpoint, the signed
 * request, SMN), preflight_checks_host.c (space, exec, programs, qdisc).
 */
#ifndef SMSGUARD_PREFLIGHT_H
#define SMSGUARD_PREFLIGHT_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/observe.h"
#include "smsguard/preflight_judge.h"
#include "smsguard/sms.h"

/*
 * Each check's timeout. A run ends when its slowest check does, so within
 * PREFLIGHT_RUN_MAX_MS (the longest of these, with its margin).
 */
#define PREFLIGHT_CONNECT_TIMEOUT_MS 3000 /* a TCP connect, a name lookup */
#define PREFLIGHT_HTTP_TIMEOUT_MS 5000    /* an HTTPS request, the signed request */
#define PREFLIGHT_SPAWN_TIMEOUT_MS 3000   /* rsync --version, tc -V, ip route get, … */
#define PREFLIGHT_FS_TIMEOUT_MS 3000      /* statvfs of /tmp and the log directories */
#define PREFLIGHT_RUN_MAX_MS 7000
/* The start-up run waits at most this long for the first poll's answer. */
#define PREFLIGHT_START_WAIT_MS 60000

struct preflight;
struct cloud;
struct agent;

struct preflight_deps {
	struct cloud *cloud; /* the signed request goes through it */
	struct agent *agent; /* its state and home */
	struct observer obs; /* preflight_failed goes to obs.event */
};

/* cfg must outlive pf or the next preflight_reconfigure(). Nothing runs before preflight_start(). */
int preflight_new(uv_loop_t *loop, const struct config *cfg, const struct preflight_deps *deps,
    struct preflight **out);
/* Arms the start-up run. */
void preflight_start(struct preflight *pf);
void preflight_reconfigure(struct preflight *pf, const struct config *cfg);
/*
 * The task and the cloud's state as the engine sees them after a turn (t
 * NULL: no task): the first poll's answer - a task, or a cloud state other
 * than unknown - starts the start-up run; a task that enters MIGRATE_FAIL
 * or SYNC_FAIL starts another.
 */
void preflight_turned(struct preflight *pf, const struct sms_task *t, enum cloud_state cloud);

/* A run's end: its report, or NULL when preflight closed first. */
typedef void (*preflight_done_cb)(void *arg, const struct pf_report *r);

/*
 * Runs the checks now, or joins the run under way; cb(arg, report) from
 * the loop when it ends, never from inside this call. arg identifies the
 * asker for preflight_forget(). Returns 0 or -ESHUTDOWN while closing.
 */
int preflight_run(struct preflight *pf, const char *trigger, preflight_done_cb cb, void *arg);
/* The asker arg went away: its cb is not called. */
void preflight_forget(struct preflight *pf, void *arg);

/*
 * The status's `preflight` object: the last report (pf_report_json) with
 * "trigger", "took_ms" and "running" (a run is under way); null before the
 * first run ends.
 */
cJSON *preflight_status_json(const struct preflight *pf);

/*
 * Stops every check (askers get NULL); cb(arg) runs from the loop once
 * every handle, request and program is gone and pf is freed.
 */
void preflight_close(struct preflight *pf, void (*cb)(void *arg), void *arg);

#endif
