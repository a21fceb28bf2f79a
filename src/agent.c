/*
 * SMS-Agent watch and restart. Ownership (STYLE.md habit 5): the agent owns
 * its scan and appear timers; a pidwatch (uv_poll_t on a pidfd) and a
 * restart (a runner, runner.h, which owns its own handles) are allocated per
 * use and free themselves from their close callbacks; `live` counts the
 * agent's timers plus every such object, and the agent is freed when it
 * reaches 0 after agent_close(). Which process is the agent is
 * agent_proc.c's; the home and g-property.cfg are agent_home.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "smsguard-build.h"
#if HAVE_PIDFD_OPEN
#include <sys/syscall.h>
#endif

#define LOG_TAG "agent"
#include "smsguard/agent.h"
#include "smsguard/agent_proc.h"
#include "smsguard/log.h"
#include "smsguard/runner.h"
#include "smsguard/util.h"

#define APPEAR_POLL_MS 100 /* rescans while waiting for the restarted agent */
#define APPEAR_MIN_WAIT_MS 5000
#define RESTART_DEFAULT_TIMEOUT_MS 120000

struct pidwatch {
	struct agent *ag;
	uv_poll_t poll;
	int fd;
};

/*
 * One run of the restart command. After it finished, its runner may still
 * drain output pipes that the started agent holds (no SIGPIPE to it): it
 * then waits in `released` until they close or agent_close().
 */
struct restart {
	struct agent *ag; /* always set: the agent counts this restart in `live` */
	struct runner *run;
	bool released;
	LIST_ENTRY(restart) entry;
};

struct agent;
static void agent_report(struct agent *ag);

struct agent {
	uv_loop_t *loop;
	const struct config *cfg;
	const struct credentials *creds;
	struct observer obs;

	uv_timer_t scan;
	uv_timer_t appear; /* rescans after the restart command exited, until the agent appears */
	int live;
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;

	char name[64]; /* the process name looked for */
	enum agent_state state;
	pid_t pid;
	int64_t since_wall_ms;
	bool stopped; /* the running agent is stopped (agent_proc_stopped) */
	struct pidwatch *pw;
	bool pidfd_missing; /* the kernel said ENOSYS: scan instead */

	struct agent_home *home;

	struct agent_proc_refusals refused; /* so a scan every interval does not repeat them */

	struct restart *rs; /* the restart under way */
	void (*restart_cb)(void *, int);
	void *restart_arg;
	uint64_t appear_deadline;
	int64_t exit_status;           /* of the restart command under way */
	LIST_HEAD(, restart) released; /* finished restarts whose output is still open */
	unsigned restarts;
	bool have_last;
	int64_t last_time_ms;
	int last_result;
	int64_t last_exit_status;
};

static void agent_rescan(struct agent *ag);

/* -- small helpers -------------------------------------------------------------------------- */

static void
agent_unref(struct agent *ag)
{
	if (--ag->live > 0 || !ag->closing)
		return;
	if (ag->close_cb != NULL)
		ag->close_cb(ag->close_arg);
	agent_home_free(ag->home);
	free(ag);
}

static void
scan_close_cb(uv_handle_t *h)
{
	agent_unref(container_of((uv_timer_t *)h, struct agent, scan));
}

static void
appear_close_cb(uv_handle_t *h)
{
	agent_unref(container_of((uv_timer_t *)h, struct agent, appear));
}

const char *
agent_state_name(enum agent_state st)
{
	switch (st) {
	case AGENT_RUNNING:
		return "running";
	case AGENT_DEAD:
		return "dead";
	default:
		return "unknown";
	}
}

bool
agent_process_trusted(pid_t pid)
{
	return agent_proc_trusted(pid);
}

/* -- the home directory --------------------------------------------------------------------- */

const char *
agent_home(const struct agent *ag)
{
	return agent_home_get(ag->home);
}

int
agent_set_known_home(struct agent *ag, const char *home)
{
	return agent_home_remember(ag->home, home, uv_now(ag->loop));
}

int
agent_autorecovery(struct agent *ag, struct gprop *out)
{
	return agent_home_gprop(ag->home, uv_now(ag->loop), out);
}

/*
 * The agent as a value for the engine: its state, whether a restart can
 * run, and its own auto-recovery settings (read from g-property.cfg here,
 * by the watcher, never on the engine's path).
 */
static void
agent_report(struct agent *ag)
{
	struct observation o = {.kind = OBS_AGENT, .time_ms = util_wall_ms()};
	struct obs_agent *a = &o.u.agent;
	struct gprop gp;

	a->state = ag->state;
	a->since_ms = ag->since_wall_ms;
	a->stopped = ag->state == AGENT_RUNNING && ag->stopped;
	a->home_known = agent_home(ag) != NULL;
	a->restart_possible = a->home_known || ag->cfg->restart_argc > 0;
	a->restart_running = ag->rs != NULL;
	if (agent_autorecovery(ag, &gp) == 0) {
		a->retry_max =
		    gp.auto_start_max_retry_times > 0 ? (int)gp.auto_start_max_retry_times : 0;
		a->retry_interval_ms =
		    gp.auto_start_interval_seconds > 0 ? gp.auto_start_interval_seconds * 1000 : 0;
		a->retry_addition_ms = gp.auto_start_each_addition_seconds > 0
		    ? gp.auto_start_each_addition_seconds * 1000
		    : 0;
	}
	observer_report(&ag->obs, &o);
}

/* -- watching ------------------------------------------------------------------------------- */

static void
pidwatch_close_cb(uv_handle_t *h)
{
	struct pidwatch *pw = container_of((uv_poll_t *)h, struct pidwatch, poll);
	struct agent *ag = pw->ag;

	close(pw->fd);
	free(pw);
	agent_unref(ag);
}

static void
pidwatch_stop(struct agent *ag)
{
	if (ag->pw == NULL)
		return;
	uv_close((uv_handle_t *)&ag->pw->poll, pidwatch_close_cb);
	ag->pw = NULL;
}

static void
agent_set_dead(struct agent *ag)
{
	pid_t old = ag->pid;

	pidwatch_stop(ag);
	ag->pid = 0;
	if (ag->state == AGENT_DEAD)
		return;
	if (ag->state == AGENT_RUNNING)
		log_warnx("agent %s (pid %d) is gone", ag->name, (int)old);
	else
		log_info("agent %s is not running", ag->name);
	ag->state = AGENT_DEAD;
	ag->since_wall_ms = util_wall_ms();
	agent_report(ag);
}

static void
pidwatch_cb(uv_poll_t *h, int status, int events)
{
	struct pidwatch *pw = container_of(h, struct pidwatch, poll);
	struct agent *ag = pw->ag;

	/* A pidfd turns readable when the process exits (an error means the same: stop trusting it). */
	agent_set_dead(ag);
	/* Another instance may already run (restart.sh starts the new one before we look). */
	agent_rescan(ag);
}

static int
pidfd_open_(pid_t pid)
{
#if HAVE_PIDFD_OPEN
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void
pidwatch_start(struct agent *ag)
{
	struct pidwatch *pw;
	int fd;

	if (ag->pidfd_missing)
		return;
	fd = pidfd_open_(ag->pid);
	if (fd == -1) {
		if (errno == ENOSYS || errno == EPERM) {
			ag->pidfd_missing = true;
			log_info("no pidfd (%s): the agent is watched by a scan every %llums",
			    strerror(errno), (unsigned long long)ag->cfg->probe_interval_ms);
		}
		return; /* ESRCH: gone already; the next scan sees it */
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	pw = xcalloc(1, sizeof(*pw));
	pw->ag = ag;
	pw->fd = fd;
	if (uv_poll_init(ag->loop, &pw->poll, fd) != 0) {
		close(fd);
		free(pw);
		ag->pidfd_missing = true;
		return;
	}
	ag->live++;
	ag->pw = pw;
	uv_poll_start(&pw->poll, UV_READABLE, pidwatch_cb);
}

static void
agent_adopt(struct agent *ag, pid_t pid)
{
	if (ag->state == AGENT_RUNNING && ag->pid == pid)
		return;
	pidwatch_stop(ag);
	ag->pid = pid;
	ag->state = AGENT_RUNNING;
	ag->since_wall_ms = util_wall_ms();
	ag->stopped = agent_proc_stopped(pid);
	pidwatch_start(ag);
	/* Comm and pidfd raced the process's exit: make sure the pidfd is for a live agent. */
	if (ag->pw != NULL && (!agent_proc_matches(pid, ag->name) || !agent_proc_trusted(pid))) {
		pidwatch_stop(ag);
		ag->state = AGENT_DEAD;
		ag->pid = 0;
		return;
	}
	if (!agent_home_is_configured(ag->home))
		agent_home_learn(ag->home, agent_proc_home(pid, ag->home), pid);
	agent_home_read_gprop(ag->home, uv_now(ag->loop));
	log_info("agent %s running (pid %d, watched by %s)", ag->name, (int)pid,
	    ag->pw != NULL ? "pidfd" : "scan");
	agent_report(ag);
}

/*
 * A stopped agent (SIGSTOP, a debugger) is alive but sends SMS no heartbeat:
 * a resume into it would fail again. No signal tells of a stop, so each scan
 * looks; a change is reported like any other.
 */
static void
agent_check_stopped(struct agent *ag)
{
	bool stopped = agent_proc_stopped(ag->pid);

	if (stopped == ag->stopped)
		return;
	ag->stopped = stopped;
	if (stopped)
		log_warnx("agent %s (pid %d) is stopped (SIGSTOP or a debugger): it does no work "
		          "until it is continued",
		    ag->name, (int)ag->pid);
	else
		log_info("agent %s (pid %d) runs again", ag->name, (int)ag->pid);
	agent_report(ag);
}

/* Brings the state up to date with /proc. */
static void
agent_rescan(struct agent *ag)
{
	pid_t pid;

	if (ag->closing)
		return;
	/* A pidfd tells us of the exit; without one, check the known pid is still the agent. */
	if (ag->state == AGENT_RUNNING) {
		if (ag->pw != NULL || agent_proc_matches(ag->pid, ag->name)) {
			agent_check_stopped(ag);
			return;
		}
		agent_set_dead(ag);
	}
	pid = agent_proc_find(ag->name, &ag->refused);
	if (pid > 0)
		agent_adopt(ag, pid);
	else
		agent_set_dead(ag);
}

static void
scan_cb(uv_timer_t *t)
{
	agent_rescan(container_of(t, struct agent, scan));
}

/* -- life cycle ----------------------------------------------------------------------------- */

static uint64_t
scan_interval(const struct config *cfg)
{
	return cfg->probe_interval_ms > 0 ? cfg->probe_interval_ms : 2000;
}

int
agent_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *creds,
    const struct observer *obs, struct agent **out)
{
	struct agent *ag = xcalloc(1, sizeof(*ag));
	int rc;

	ag->loop = loop;
	ag->cfg = cfg;
	ag->creds = creds;
	if (obs != NULL)
		ag->obs = *obs;
	util_strlcpy(ag->name,
	    cfg->agent_process != NULL && cfg->agent_process[0] != '\0' ? cfg->agent_process
	                                                                : "linuxmain",
	    sizeof(ag->name));
	/* Timer inits only link handles into the loop; they do not fail. */
	if ((rc = uv_timer_init(loop, &ag->scan)) != 0) {
		free(ag);
		return rc;
	}
	uv_timer_init(loop, &ag->appear);
	ag->live = 2;
	LIST_INIT(&ag->released);
	ag->home = agent_home_new();
	agent_home_configure(ag->home, cfg->agent_home);
	*out = ag;
	return 0;
}

int
agent_start(struct agent *ag)
{
	agent_rescan(ag);
	return uv_timer_start(&ag->scan, scan_cb, scan_interval(ag->cfg), scan_interval(ag->cfg));
}

void
agent_reconfigure(struct agent *ag, const struct config *cfg, const struct credentials *creds)
{
	const char *name = cfg->agent_process != NULL && cfg->agent_process[0] != '\0'
	    ? cfg->agent_process
	    : "linuxmain";
	bool rescan = strcmp(name, ag->name) != 0;
	char *old_home = agent_home(ag) != NULL ? xstrdup(agent_home(ag)) : NULL;
	bool home_changed;

	ag->cfg = cfg;
	ag->creds = creds;
	agent_home_configure(ag->home, cfg->agent_home);
	home_changed = (old_home == NULL) != (agent_home(ag) == NULL) ||
	    (old_home != NULL && strcmp(old_home, agent_home(ag)) != 0);
	free(old_home);
	if (rescan) {
		util_strlcpy(ag->name, name, sizeof(ag->name));
		pidwatch_stop(ag);
		ag->state = AGENT_UNKNOWN;
		ag->pid = 0;
	}
	if (uv_is_active((uv_handle_t *)&ag->scan))
		uv_timer_start(&ag->scan, scan_cb, scan_interval(cfg), scan_interval(cfg));
	agent_home_gprop_stale(ag->home); /* the home may have changed */
	if (rescan && !ag->closing)
		agent_rescan(ag);
	if (home_changed && !ag->closing)
		agent_report(ag);
}

enum agent_state
agent_state(const struct agent *ag)
{
	return ag->state;
}

pid_t
agent_pid(const struct agent *ag)
{
	return ag->state == AGENT_RUNNING ? ag->pid : 0;
}

bool
agent_uses_pidfd(const struct agent *ag)
{
	return ag->pw != NULL;
}

bool
agent_restarting(const struct agent *ag)
{
	return ag->rs != NULL;
}

unsigned
agent_restarts(const struct agent *ag)
{
	return ag->restarts;
}

/* -- restart -------------------------------------------------------------------------------- */

/* The runner let go of its last handle: the restart is over for good. */
static void
restart_freed(void *arg)
{
	struct restart *rs = arg;
	struct agent *ag = rs->ag;

	if (rs->released)
		LIST_REMOVE(rs, entry);
	free(rs);
	agent_unref(ag);
}

static void
restart_finish(struct agent *ag, int result)
{
	struct restart *rs = ag->rs;
	void (*cb)(void *, int) = ag->restart_cb;

	uv_timer_stop(&ag->appear);
	ag->rs = NULL;
	/*
	 * A started agent may have inherited the command's stdout/stderr:
	 * closing our ends would hand it SIGPIPE at its next write. The runner
	 * keeps reading (and dropping) until they close, or until agent_close().
	 */
	rs->released = true;
	LIST_INSERT_HEAD(&ag->released, rs, entry);
	runner_drain(rs->run, restart_freed, rs);
	ag->have_last = true;
	ag->last_time_ms = util_wall_ms();
	ag->last_result = result;
	ag->last_exit_status = ag->exit_status;
	if (result == 0)
		log_info("agent restarted (pid %d)", (int)ag->pid);
	else if (result == -EIO && ag->exit_status != 0)
		log_warnx("agent restart failed: the command exited with status %lld",
		    (long long)ag->exit_status);
	else
		log_warnx("agent restart failed: %s",
		    result == -ETIMEDOUT   ? "the command timed out"
		        : result == -ESRCH ? "no agent process appeared"
		                           : "the command failed");
	agent_report(ag);
	if (cb != NULL)
		cb(ag->restart_arg, result);
}

static void
appear_cb(uv_timer_t *t)
{
	struct agent *ag = container_of(t, struct agent, appear);

	if (ag->rs == NULL)
		return;
	agent_rescan(ag);
	if (ag->state == AGENT_RUNNING)
		restart_finish(ag, 0);
	else if (uv_now(ag->loop) >= ag->appear_deadline)
		restart_finish(ag, -ESRCH);
}

/* The restart command is over (exited, or killed at its timeout). */
static void
restart_done(void *arg, const struct runner_result *res)
{
	struct restart *rs = arg;
	struct agent *ag = rs->ag;
	uint64_t now;

	if (rs != ag->rs)
		return;
	ag->exit_status = res->exit_status;
	if (res->error != 0) {
		restart_finish(ag, res->error == -ETIMEDOUT ? -ETIMEDOUT : -EIO);
		return;
	}
	agent_rescan(ag);
	/*
	 * The command's word first: startup.sh starts linuxmain before SMS has
	 * checked the AK/SK, and exits 1 when it is refused (SMS.0202); the
	 * process seen meanwhile is about to go.
	 */
	if (res->exit_status != 0 || res->term_signal != 0) {
		restart_finish(ag, -EIO);
		return;
	}
	if (ag->state == AGENT_RUNNING) {
		restart_finish(ag, 0);
		return;
	}
	/* It said it started the agent: give the process time to show up. */
	now = uv_now(ag->loop);
	if (ag->appear_deadline < now + APPEAR_MIN_WAIT_MS)
		ag->appear_deadline = now + APPEAR_MIN_WAIT_MS;
	uv_timer_start(&ag->appear, appear_cb, APPEAR_POLL_MS, APPEAR_POLL_MS);
}

/* Appends s to the growing buffer *buf (length *len, capacity *cap). */
static void
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
		char *nb = xmalloc(ncap);

		if (*buf != NULL) {
			memcpy(nb, *buf, *len);
			util_wipe(*buf, *cap);
			free(*buf);
		}
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* One answer with {ak} {sk} {domain} filled. A secret: the caller wipes it. */
static char *
answer_fill(const struct agent *ag, const char *p)
{
	const char *ak = ag->creds != NULL && ag->creds->ak != NULL ? ag->creds->ak : "";
	const char *sk = ag->creds != NULL && ag->creds->sk != NULL ? ag->creds->sk : "";
	const char *domain = ag->cfg->endpoint_host != NULL ? ag->cfg->endpoint_host : "";
	char *buf = NULL;
	size_t len = 0, cap = 0;

	buf_add(&buf, &len, &cap, "", 0);
	while (*p != '\0') {
		if (strncmp(p, "{ak}", 4) == 0) {
			buf_add(&buf, &len, &cap, ak, strlen(ak));
			p += 4;
		} else if (strncmp(p, "{sk}", 4) == 0) {
			buf_add(&buf, &len, &cap, sk, strlen(sk));
			p += 4;
		} else if (strncmp(p, "{domain}", 8) == 0) {
			buf_add(&buf, &len, &cap, domain, strlen(domain));
			p += 8;
		} else {
			buf_add(&buf, &len, &cap, p, 1);
			p++;
		}
	}
	return buf;
}

/* The answers, NULL-terminated, filled (default "y", {ak}, {sk}, {domain}). Secret. */
static char **
answers_build(const struct agent *ag)
{
	static const char *const defaults[] = {"y", "{ak}", "{sk}", "{domain}"};
	const char *const *lines = defaults;
	int n = (int)nitems(defaults);
	char **out;

	if (ag->cfg->nanswers > 0) {
		lines = (const char *const *)ag->cfg->answers;
		n = ag->cfg->nanswers;
	}
	out = xcalloc((size_t)n + 1, sizeof(*out));
	for (int i = 0; i < n; i++)
		out[i] = answer_fill(ag, lines[i]);
	return out;
}

static void
answers_free(char **answers)
{
	for (size_t i = 0; answers[i] != NULL; i++) {
		util_wipe(answers[i], strlen(answers[i]));
		free(answers[i]);
	}
	free(answers);
}

/*
 * Checks the home and the program about to run from it again (time of check
 * to time of use). A home that fails is forgotten (logged, and the daemon no
 * longer stores it): -EPERM.
 */
static int
restart_recheck(struct agent *ag, const char *prog)
{
	char esc[PATH_MAX];
	char *home = xstrdup(agent_home(ag)), *cause = NULL;
	int rc = agent_home_recheck(ag->home, prog, &cause);

	if (rc != 0) {
		log_warnx("not restarting the agent: home %s refused: %s",
		    log_escape(home, -1, esc, sizeof(esc)), cause);
		agent_report(ag);
	}
	free(cause);
	free(home);
	return rc;
}

/* Spawns argv from cwd with the answers on stdin; 0 or the spawn error. */
static int
restart_spawn(struct agent *ag, struct restart *rs, const char *const *argv, const char *cwd)
{
	static const char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", NULL};
	const char *secrets[4] = {NULL};
	char **answers = answers_build(ag);
	struct runner_opts o = {0};
	int n = 0, rc;

	if (ag->creds != NULL) {
		const char *creds[] = {ag->creds->ak, ag->creds->sk, ag->creds->security_token};

		for (size_t i = 0; i < nitems(creds); i++)
			if (creds[i] != NULL)
				secrets[n++] = creds[i];
	}
	o.argv = argv;
	o.env = env;
	o.cwd = cwd;
	o.input = (const char *const *)answers;
	o.secrets = secrets;
	o.timeout_ms = ag->cfg->restart_timeout_ms > 0 ? ag->cfg->restart_timeout_ms
	                                               : RESTART_DEFAULT_TIMEOUT_MS;
	o.log_tag = LOG_TAG;
	o.name = "restart";
	o.log_output = true;
	o.done = restart_done;
	o.arg = rs;
	rc = runner_start(rs->run, &o);
	answers_free(answers);
	return rc != 0 ? rc : runner_spawn_error(rs->run);
}

int
agent_restart(struct agent *ag, void (*cb)(void *arg, int result), void *arg)
{
	char startup[PATH_MAX], esc[256], esc_cwd[PATH_MAX];
	const char *def_argv[2] = {startup, NULL};
	const char *const *argv = def_argv;
	const char *home;
	struct restart *rs;
	int rc;

	if (ag->closing || ag->rs != NULL)
		return -EBUSY;
	/* Only a dead agent is started: look again, it may just have come back. */
	agent_rescan(ag);
	if (ag->state == AGENT_RUNNING)
		return -EBUSY;
	home = agent_home(ag); /* after the rescan, which may learn it */
	if (ag->cfg->restart_argc > 0)
		argv = (const char *const *)ag->cfg->restart_argv;
	else if (home == NULL)
		return -ENOENT;
	else if (snprintf(startup, sizeof(startup), "%s/startup.sh", home) >= (int)sizeof(startup))
		return -ENAMETOOLONG;
	/* The home was checked when it was taken: check it again right before the spawn. */
	if (home != NULL && (rc = restart_recheck(ag, argv[0])) != 0)
		return rc;

	rs = xcalloc(1, sizeof(*rs));
	rs->ag = ag;
	if ((rc = runner_new(ag->loop, &rs->run)) != 0) {
		free(rs);
		return rc;
	}
	ag->live++;
	if ((rc = restart_spawn(ag, rs, argv, home != NULL ? home : "/")) != 0) {
		runner_close(rs->run, restart_freed, rs);
		return rc;
	}
	ag->rs = rs;
	ag->restart_cb = cb;
	ag->restart_arg = arg;
	ag->exit_status = 0;
	ag->appear_deadline = uv_now(ag->loop) + ag->cfg->restart_timeout_ms;
	ag->restarts++;
	log_info("restarting the agent: %s (pid %d, cwd %s)",
	    log_escape(argv[0], -1, esc, sizeof(esc)), (int)runner_pid(rs->run),
	    log_escape(home != NULL ? home : "/", -1, esc_cwd, sizeof(esc_cwd)));
	agent_report(ag);
	return 0;
}

/* -- status and close ----------------------------------------------------------------------- */

static void
autorecovery_json(const struct gprop *g, cJSON *o)
{
	cJSON *a;

	if (g == NULL) {
		cJSON_AddNullToObject(o, "autorecovery");
		return;
	}
	a = cJSON_AddObjectToObject(o, "autorecovery");
	cJSON_AddBoolToObject(a, "configured", gprop_autorecovery_configured(g));
	cJSON_AddNumberToObject(a, "max_retry_times", (double)g->auto_start_max_retry_times);
	cJSON_AddNumberToObject(a, "interval_seconds", (double)g->auto_start_interval_seconds);
	cJSON_AddNumberToObject(
	    a, "each_addition_seconds", (double)g->auto_start_each_addition_seconds);
	cJSON_AddNumberToObject(a, "window_seconds", (double)gprop_autorecovery_window_s(g));
}

void
agent_status_json(const struct agent *ag, cJSON *o)
{
	const char *home = agent_home(ag);

	cJSON_AddStringToObject(o, "state", agent_state_name(ag->state));
	if (ag->state == AGENT_RUNNING)
		cJSON_AddNumberToObject(o, "pid", ag->pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddNumberToObject(o, "restarts", ag->restarts);
	cJSON_AddBoolToObject(o, "stopped", ag->state == AGENT_RUNNING && ag->stopped);
	cJSON_AddStringToObject(o, "process", ag->name);
	if (home != NULL)
		cJSON_AddStringToObject(o, "home", home);
	else
		cJSON_AddNullToObject(o, "home");
	cJSON_AddStringToObject(o, "watch", ag->pw != NULL ? "pidfd" : "scan");
	cJSON_AddNumberToObject(o, "since", (double)(ag->since_wall_ms / 1000));
	cJSON_AddBoolToObject(o, "restarting", ag->rs != NULL);
	if (ag->have_last) {
		cJSON *l = cJSON_AddObjectToObject(o, "last_restart");

		cJSON_AddNumberToObject(l, "time", (double)(ag->last_time_ms / 1000));
		cJSON_AddStringToObject(l, "result",
		    ag->last_result == 0                ? "ok"
		        : ag->last_result == -ETIMEDOUT ? "timeout"
		        : ag->last_result == -ESRCH     ? "not_found"
		                                        : "failed");
		cJSON_AddNumberToObject(l, "exit_status", (double)ag->last_exit_status);
	} else {
		cJSON_AddNullToObject(o, "last_restart");
	}
	autorecovery_json(agent_home_gprop_last(ag->home), o);
}

void
agent_close(struct agent *ag, void (*cb)(void *arg), void *arg)
{
	struct restart *rs;

	if (ag == NULL || ag->closing)
		return;
	ag->closing = true;
	ag->close_cb = cb;
	ag->close_arg = arg;
	pidwatch_stop(ag);
	if (ag->rs != NULL) {
		/* Closing the runner does not kill the command; it finishes on its own. */
		runner_close(ag->rs->run, restart_freed, ag->rs);
		ag->rs = NULL;
	}
	/* Output still held by a started agent: stop waiting for it. */
	LIST_FOREACH(rs, &ag->released, entry)
	runner_close(rs->run, NULL, NULL);
	uv_close((uv_handle_t *)&ag->appear, appear_close_cb);
	uv_close((uv_handle_t *)&ag->scan, scan_close_cb);
}
