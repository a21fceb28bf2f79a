/*
 * The daemon: the loop, signals, the watchdog and module lifetimes. It
 * wires every watcher's observer to the executor's queue and the control
 * socket to control.c; it decides nothing itself. The state file is
 * state.c's, a reload reload.c's.
 */
#define LOG_TAG "daemon"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon.h"
#include "smsguard-build.h"
#include "smsguard/agent.h"
#include "smsguard/cloud.h"
#include "smsguard/ctl.h"
#include "smsguard/executor.h"
#include "smsguard/log.h"
#include "smsguard/notify.h"
#include "smsguard/preflight.h"
#include "smsguard/probe.h"
#include "smsguard/ratelimit.h"
#include "smsguard/sdnotify.h"
#include "smsguard/taskpoll.h"
#include "smsguard/util.h"

static void daemon_stop(struct daemon *d, int status);

/* ------------------------------------------------------ the executor's hands */

/* Every watcher reports here; the executor may not exist yet while they are made. */
static void
daemon_report(void *arg, const struct observation *o)
{
	struct daemon *d = arg;

	if (d->exec != NULL && !d->stopping)
		executor_report(d->exec, o);
}

/* To the sinks, with the task it is about: its details' task_id, else the task watched. */
static void
daemon_notify(struct daemon *d, const struct event *e)
{
	const struct sms_task *t = d->exec != NULL ? engine_task(executor_engine(d->exec)) : NULL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e->details, "task_id");
	const char *task_id = cJSON_IsString(id) ? id->valuestring
	    : t != NULL                          ? t->id
	                                         : d->cfg->task_id;
	const char *name = NULL;

	if (t != NULL && task_id != NULL && strcmp(t->id, task_id) == 0 && t->name[0] != '\0')
		name = t->name;
	notify_event(d->notify, e, task_id, name);
}

/* Every event: into the ring, the log and the sinks' queues, and state.json holds it. */
static void
daemon_event(void *arg, enum event_type type, cJSON *details, const char *message)
{
	struct daemon *d = arg;
	char esc[EVENT_MESSAGE_MAX * 2];
	const struct event *e;

	e = events_add(&d->events, util_wall_ms(), type, details, message);
	log_info("event %s: %s", event_type_name(type), log_escape(message, -1, esc, sizeof(esc)));
	if (d->notify != NULL && !d->stopping)
		daemon_notify(d, e);
	state_save(d);
}

static void
daemon_save_cb(void *arg)
{
	state_save(arg);
}

static void
daemon_turned(void *arg)
{
	struct daemon *d = arg;

	if (d->rl != NULL && d->exec != NULL)
		ratelimit_task(d->rl, engine_task(executor_engine(d->exec)));
	if (d->pf != NULL && d->exec != NULL)
		preflight_turned(
		    d->pf, engine_task(executor_engine(d->exec)), executor_engine(d->exec)->cloud);
	control_turned(d);
}

/* -------------------------------------------------------------- signals */

static void
signal_cb(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	char *cause = NULL;

	switch (signum) {
	case SIGHUP:
		log_info("SIGHUP: reloading %s", d->config_path);
		reload_run(d, &cause);
		free(cause);
		break;
	default:
		log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
		daemon_stop(d, 0);
		break;
	}
}

static void
watchdog_cb(uv_timer_t *t)
{
	sdnotify("WATCHDOG=1");
}

static void
metrics_timer_cb(uv_timer_t *t)
{
	status_write_textfile(container_of(t, struct daemon, metrics_timer), true);
}

/* ------------------------------------------------------------- shutdown */

static void
module_closed(void *arg)
{
	struct daemon *d = arg;

	d->closing--;
}

static void
daemon_modules_close(struct daemon *d)
{
	/* The executor first: nothing is carried out on a module that is closing. */
	if (d->exec != NULL) {
		d->closing++;
		executor_close(d->exec, module_closed, d);
		d->exec = NULL;
	}
	/* The sinks, preflight, the poller and the rate limit before the client they call through. */
	if (d->notify != NULL) {
		d->closing++;
		notify_close(d->notify, module_closed, d);
		d->notify = NULL;
	}
	if (d->pf != NULL) {
		d->closing++;
		preflight_close(d->pf, module_closed, d);
		d->pf = NULL;
	}
	if (d->rl != NULL) {
		d->closing++;
		ratelimit_close(d->rl, module_closed, d);
		d->rl = NULL;
	}
	if (d->poll != NULL) {
		d->closing++;
		taskpoll_close(d->poll, module_closed, d);
		d->poll = NULL;
	}
	if (d->cloud != NULL) {
		d->closing++;
		cloud_close(d->cloud, module_closed, d);
		d->cloud = NULL;
	}
	if (d->probe != NULL) {
		d->closing++;
		probe_close(d->probe, module_closed, d);
		d->probe = NULL;
	}
	if (d->agent != NULL) {
		d->closing++;
		agent_close(d->agent, module_closed, d);
		d->agent = NULL;
	}
}

static void
daemon_stop(struct daemon *d, int status)
{
	if (d->stopping)
		return;
	d->stopping = true;
	d->exit_status = status;
	sdnotify("STOPPING=1");
	control_stop(d);
	state_save(d);
	status_write_textfile(d, false);
	daemon_modules_close(d);
	if (d->ctl != NULL) {
		d->closing++;
		ctl_close(d->ctl, module_closed, d);
		d->ctl = NULL;
	}
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	uv_close((uv_handle_t *)&d->metrics_timer, NULL);
	d->state_retry_ready = false;
	uv_close((uv_handle_t *)&d->state_retry, NULL);
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	log_warnx("handle of type %s still open at exit", uv_handle_type_name(h->type));
}

/* ------------------------------------------------------------------ run */

static int
daemon_preflight_new(struct daemon *d, const struct observer *obs)
{
	struct preflight_deps pd = {.cloud = d->cloud, .agent = d->agent, .obs = *obs};

	return preflight_new(&d->loop, d->cfg, &pd, &d->pf);
}

static int
daemon_modules_new(struct daemon *d, char **cause)
{
	struct observer obs = {.arg = d, .report = daemon_report, .event = daemon_event};
	struct notify_deps nd = {.save = daemon_save_cb, .arg = d};
	struct executor_deps deps;
	int r;

	if ((r = cloud_new(&d->loop, d->cfg, d->creds, &obs, NULL, &d->cloud, cause)) < 0)
		return r;
	nd.cloud = d->cloud;
	if ((r = notify_new(&d->loop, d->cfg, &nd, &d->notify)) < 0) {
		*cause = xasprintf("cannot start the notifications: %s", uv_strerror(r));
		return r;
	}
	if ((r = taskpoll_new(&d->loop, d->cloud, d->cfg, &obs, &d->poll)) < 0) {
		*cause = xasprintf("cannot start the task poller: %s", strerror(-r));
		return r;
	}
	if ((r = ratelimit_new(&d->loop, d->cfg, d->cloud, &obs, &d->rl)) < 0) {
		*cause = xasprintf("cannot start the rate limit: %s", strerror(-r));
		return r;
	}
	if ((r = probe_new(&d->loop, d->cfg, &obs, &d->probe)) < 0 ||
	    (r = agent_new(&d->loop, d->cfg, d->creds, &obs, &d->agent)) < 0) {
		*cause = xasprintf("cannot start the watchers: %s", strerror(-r));
		return r;
	}
	if ((r = daemon_preflight_new(d, &obs)) < 0) {
		*cause = xasprintf("cannot start preflight: %s", strerror(-r));
		return r;
	}
	memset(&deps, 0, sizeof(deps));
	deps.cloud = d->cloud;
	deps.poll = d->poll;
	deps.probe = d->probe;
	deps.agent = d->agent;
	deps.event = daemon_event;
	deps.save = daemon_save_cb;
	deps.turned = daemon_turned;
	deps.arg = d;
	return executor_new(&d->loop, d->cfg, &deps, &d->exec);
}

static void
daemon_handles_start(struct daemon *d)
{
	uint64_t wd;

	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sighup, signal_cb, SIGHUP);
	uv_timer_init(&d->loop, &d->watchdog);
	if ((wd = sdnotify_watchdog_ms()) > 0)
		uv_timer_start(&d->watchdog, watchdog_cb, wd / 2, wd / 2);
	uv_timer_init(&d->loop, &d->metrics_timer);
	uv_timer_start(&d->metrics_timer, metrics_timer_cb, 1000, 15000);
	uv_timer_init(&d->loop, &d->state_retry);
	d->state_retry_ready = true;
}

/* Config, credentials and the loop; logs and returns -1 on a setup error. */
static int
daemon_setup(struct daemon *d)
{
	char *cause = NULL;

	if (config_load(d->config_path, &d->cfg, &cause) < 0 ||
	    credentials_load(d->cfg, &d->creds, &cause) < 0) {
		log_errorx("%s", cause);
		free(cause);
		return -1;
	}
	if (!d->verbose)
		log_setlevel((enum log_level)d->cfg->log_level);
	/* A peer that closes its socket early must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&d->loop) != 0)
		fatalx("cannot initialise the event loop");
	return 0;
}

/* Modules, state and the socket; 0, or -1 after logging why. */
static int
daemon_start(struct daemon *d)
{
	struct ctl_handler ch = {
	    .arg = d, .dispatch = control_dispatch, .client_gone = control_client_gone};
	char *cause = NULL;

	if (daemon_modules_new(d, &cause) < 0) {
		log_errorx("%s", cause);
		free(cause);
		return -1;
	}
	if (store_open(&d->store, d->cfg->state_dir, &cause) < 0) {
		log_warnx("state will not be kept: %s", cause);
		free(cause);
		cause = NULL;
	} else {
		d->store_ok = true;
		state_restore(d);
	}
	if (ctl_new(&d->loop, d->cfg->socket_path, d->cfg->has_gid, d->cfg->gid, &ch, &d->ctl,
	        &cause) < 0) {
		log_errorx("control socket: %s", cause);
		free(cause);
		return -1;
	}
	daemon_handles_start(d);
	agent_start(d->agent);
	taskpoll_start(d->poll);
	preflight_start(d->pf);
	executor_poke(d->exec);
	return 0;
}

int
daemon_run(const char *config_path, int verbose)
{
	struct daemon *d = xcalloc(1, sizeof(*d));
	int status = 1;

	d->config_path = config_path;
	d->verbose = verbose;
	d->started_ms = util_wall_ms();
	TAILQ_INIT(&d->waiters);
	events_init(&d->events);
	log_init(verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	util_random_seed((uint64_t)d->started_ms ^ ((uint64_t)getpid() << 32));
	/*
	 * EX_CONFIG: restarting cannot mend a configuration or credentials it
	 * cannot use, and the unit tells systemd so (RestartPreventExitStatus).
	 */
	if (daemon_setup(d) < 0) {
		config_free(d->cfg);
		free(d);
		return EX_CONFIG;
	}
	if (daemon_start(d) < 0) {
		daemon_modules_close(d);
		goto out;
	}
	log_info("smsguard %s started (config %s, socket %s)", SMSGUARD_VERSION, config_path,
	    d->cfg->socket_path);
	sdnotify("READY=1");
	sdnotifyf(
	    "STATUS=watching task %s", d->cfg->task_id != NULL ? d->cfg->task_id : "(discovering)");
	uv_run(&d->loop, UV_RUN_DEFAULT);
	status = d->exit_status;
out:
	/* Drain whatever close callbacks are still pending. */
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0) {
		uv_walk(&d->loop, walk_cb, NULL);
		log_errorx("event loop not empty at exit");
		status = 1;
	}
	if (d->store_ok)
		store_close(&d->store);
	events_clear(&d->events);
	credentials_free(d->creds);
	config_free(d->cfg);
	free(d);
	log_info("stopped");
	return status;
}
