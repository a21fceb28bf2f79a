/*
 * Keeping the task's speed limit in step with the schedule (DESIGN.md §5.6,
 * `[ratelimit] apply = cloud`).
 *
 * The decisions are pure (struct rlplan, ratelimit_plan.c): the driver tells
 * the plan the host's day with that day's periods (schedule.h), the task as
 * polled and the time; the plan answers what to do - nothing, GET the task's
 * speed-limit, or POST the day's periods - and when to ask again. A check is
 * due at start, at a day boundary whose periods differ from the day before,
 * after a reload, when the task id changes or the task is recreated, when
 * the task leaves ABORT or a failure, and every `poll_idle` while the task is
 * active (RUNNING, SYNCING), so that a change made in the console is put back. It GETs first and
 * POSTs only when the cloud holds something else. A POST the API refuses
 * (a 4xx such as SMS.6102) is reported once and not tried again until the
 * plan, the day or the task changes; a transport failure, 5xx or 429 is
 * retried with an exponential backoff from 30 s up to `poll_idle`. None of
 * it touches the recovery budget: it is not a recovery action.
 *
 * The driver (ratelimit.c) owns the timer and the cloud calls, learns the
 * task from the executor after each engine turn, and raises the plan's
 * events.
 */
#ifndef SMSGUARD_RATELIMIT_H
#define SMSGUARD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/observe.h"
#include "smsguard/schedule.h"
#include "smsguard/sms.h"

#define RL_RETRY_MIN_MS (30 * 1000)
#define RL_WHY_MAX 48
#define RL_REASON_MAX 256

enum rl_todo {
	RL_NOTHING = 0,
	RL_GET,  /* read the task's speed-limit */
	RL_POST, /* write the day's periods */
};

/* An event the plan raises: the driver passes it on (details owned by the receiver). */
struct rl_event {
	bool raise;
	enum event_type type;
	char message[EVENT_MESSAGE_MAX];
	cJSON *details;
};

struct rlplan {
	/* Settings: apply = cloud with a schedule, the threshold, the recheck interval. */
	bool enabled;
	double threshold;
	int64_t recheck_ms;

	/* The host's day and the periods the task must hold on it (-E2BIG: cannot be written). */
	bool day_known;
	struct schedule_date day;
	int nwant;
	struct schedule_period want[SCHEDULE_MAX_PERIODS];

	/* The task. */
	bool task_known;
	char task_id[SMS_ID_MAX + 1];
	int64_t task_created_ms;
	enum task_state task_state;

	/* What the cloud holds, as last read or written. */
	bool cloud_known;
	int ncloud;
	struct schedule_period cloud[SCHEDULE_MAX_PERIODS];
	bool applied;            /* the cloud holds the day's periods */
	int64_t last_applied_ms; /* our last successful POST; 0 = none */
	int64_t last_checked_ms; /* the last GET answered; 0 = none */

	/* Work. */
	bool due;               /* a check is wanted */
	char why[RL_WHY_MAX];   /* why, for the log ("start", "day", "reload", …) */
	bool post_pending;      /* a GET showed another schedule: POST next */
	enum rl_todo in_flight; /* a call is out */
	int64_t next_check_ms;  /* the periodic check; 0 = none planned */
	int failures;           /* failed calls in a row */
	int64_t retry_at_ms;    /* no call before this after a failure */
	char last_error[RL_REASON_MAX];

	/* A refused POST: reported once, not retried until the plan, day or task changes. */
	bool refused;
	char refused_reason[RL_REASON_MAX];
};

void rlplan_init(struct rlplan *p);
/* New settings (start, reload): a check is due. */
void rlplan_configure(struct rlplan *p, bool enabled, double threshold, int64_t recheck_ms);
/*
 * The host's day and its periods (n = count, or -E2BIG). Called at start, at
 * each day boundary and after a reload; a check is due when the periods
 * differ from the ones before.
 */
void rlplan_day(
    struct rlplan *p, const struct schedule_date *day, const struct schedule_period *want, int n);
/* The task as last polled (NULL: none known). */
void rlplan_task(struct rlplan *p, const struct sms_task *t);
/*
 * What to do at now_ms. RL_POST fills post[] and *npost (the periods with
 * the threshold). *wake_ms: when to ask again (0 = only when told something).
 * The call is then in flight until rlplan_got() / rlplan_posted().
 */
enum rl_todo rlplan_next(struct rlplan *p, int64_t now_ms,
    struct schedule_period post[SCHEDULE_MAX_PERIODS], int *npost, int64_t *wake_ms);
/*
 * A GET answered: rc 0 with the periods the cloud holds, or a negative
 * errno as cloud_done_cb's with err. May raise an event.
 */
void rlplan_got(struct rlplan *p, int64_t now_ms, int rc, const struct sms_error *err,
    const struct schedule_period *held, int nheld, struct rl_event *ev);
/* A POST answered (rc as above). Raises ratelimit_applied or, once, ratelimit_failed. */
void rlplan_posted(
    struct rlplan *p, int64_t now_ms, int rc, const struct sms_error *err, struct rl_event *ev);
/* The call in flight was dropped (the client closed, the task went away). */
void rlplan_dropped(struct rlplan *p);

/* "08:00-18:00 50, 18:00-23:59 0" (or "unlimited" for none) into buf; returns buf. */
char *rlplan_format(const struct schedule_period *p, int n, char *buf, size_t len);
/* The periods as a JSON array [{"start":"08:00","end":"18:00","mbps":50}, …]. */
cJSON *rlplan_periods_json(const struct schedule_period *p, int n);

/* ------------------------------------------------------------- the driver */

struct cloud;
struct ratelimit;
struct uv_loop_s;

/*
 * cfg must outlive the driver or the next ratelimit_reconfigure(); cloud
 * may be NULL (no credentials: nothing is applied). Events go to obs->event.
 */
int ratelimit_new(struct uv_loop_s *loop, const struct config *cfg, struct cloud *cloud,
    const struct observer *obs, struct ratelimit **out);
void ratelimit_reconfigure(struct ratelimit *r, const struct config *cfg, struct cloud *cloud);
/* The task as the engine sees it after a turn (NULL: none). */
void ratelimit_task(struct ratelimit *r, const struct sms_task *t);
/* The status object's "ratelimit" keys (DESIGN.md §5.8). */
void ratelimit_status_json(struct ratelimit *r, cJSON *o);
/* The limit in force now (0 = unlimited), for smsguard_ratelimit_mbps. */
uint32_t ratelimit_current_mbps(struct ratelimit *r);
/* Drops the call in flight (without its callback); cb(arg) once the timer is closed. */
void ratelimit_close(struct ratelimit *r, void (*cb)(void *arg), void *arg);

#endif
