/*
 * `smsguardctl wait`: the wait request on one connection and, while its
 * reply is owed, what the task does, from `status` asked on connections of
 * their own. On a terminal one line is rewritten in place (carriage return,
 * padded over what it replaces: no other control sequence, so a dumb
 * terminal shows it too): the state, a progress bar, the speed and ETA, and
 * the health when it is not ok. Anywhere else a plain line is printed, with
 * the time, whenever the task's state, its whole percent or the health
 * changes. A wait answered at once shows neither: scripts see what they saw.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "smsguardctl.h"

/* A wait answered within this shows no progress. */
#define WAIT_QUIET_MS 300
/* How often status is asked: on a terminal, and for plain lines. */
#define WAIT_REFRESH_TTY_MS 1000
#define WAIT_REFRESH_PLAIN_MS 2000
/* The bar of the live line, in columns. */
#define WAIT_BAR 20

struct progress {
	const char *path;
	uint64_t timeout_ms;
	int shown;     /* columns of the live line on the terminal; 0: none */
	char key[256]; /* plain lines: what the last one said */
};

/* "RUNNING [####------]  42%, 95.5 Mbit/s, ETA 04:12:40 (in 1h0m)". */
static void
line_task(struct line *l, const cJSON *task, time_t now, bool bar)
{
	const char *state = reply_str(task, "state");
	double pct;

	line_color_text(l, report_state_color(state), state != NULL ? state : "unknown");
	if (reply_num(task, "progress", &pct)) {
		line_add(l, " ");
		if (bar)
			report_bar(l, pct, WAIT_BAR, report_state_color(state));
		else
			line_add(l, "%.0f%%", pct);
	}
	if (report_task_active(state)) {
		line_add(l, ", ");
		report_speed(l, task, now);
	}
}

static void
line_health(struct line *l, const cJSON *st)
{
	const char *health = reply_str(st, "health");

	if (health == NULL || strcmp(health, "ok") == 0)
		return;
	line_add(l, "; ");
	line_color_text(l, report_health_color(health), health);
	if (reply_str(reply_get(st, "recovery"), "reason") != NULL) {
		line_add(l, ": ");
		line_text(l, reply_str(reply_get(st, "recovery"), "reason"));
	}
}

/* Rewrites the live line: carriage return, the line, spaces over the rest of the old one. */
static void
live_show(struct progress *p, const cJSON *st)
{
	struct line l = {.len = 0};
	int cols;

	line_task(&l, reply_get(st, "task"), out_now(), true);
	line_health(&l, st);
	/* Never the last column: a terminal that wraps there breaks the rewrite. */
	line_fit(&l, out.width - 1);
	cols = line_cols(&l);
	printf("\r%s%*s", l.buf, p->shown > cols ? p->shown - cols : 0, "");
	p->shown = cols > p->shown ? cols : p->shown;
	fflush(stdout);
}

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void
plain_show(struct progress *p, const cJSON *st)
{
	const cJSON *task = reply_get(st, "task");
	struct line l = {.len = 0};
	char key[sizeof(p->key)];
	time_t now = out_now();
	struct tm tm;
	char when[32];
	double pct = -1;

	reply_num(task, "progress", &pct);
	snprintf(key, sizeof(key), "%s %.0f %s", or_dash(reply_str(task, "state")), pct,
	    or_dash(reply_str(st, "health")));
	if (strcmp(key, p->key) == 0)
		return;
	snprintf(p->key, sizeof(p->key), "%s", key);
	if (localtime_r(&now, &tm) != NULL && strftime(when, sizeof(when), "%F %T", &tm) > 0)
		line_add(&l, "%s  ", when);
	line_task(&l, task, now, false);
	line_health(&l, st);
	line_print(&l);
	fflush(stdout);
}

static void
progress_refresh(struct progress *p)
{
	struct ctl_request req = {.cmd = CTL_CMD_STATUS};
	cJSON *st;
	int code, fd;

	/* Quiet: the wait's own connection says what went wrong, if anything did. */
	if ((fd = client_request(p->path, p->timeout_ms, &req, true, &code)) < 0)
		return;
	st = client_reply(p->path, fd, p->timeout_ms, true, &code);
	close(fd);
	if (st != NULL && code == CTL_EXIT_OK) {
		if (out.tty)
			live_show(p, st);
		else
			plain_show(p, st);
	}
	cJSON_Delete(st);
}

/* Done with progress: the live line goes (or stays, on a new line, when interrupted). */
static void
progress_end(struct progress *p, bool keep)
{
	if (p->shown > 0)
		printf(keep ? "\n" : "\r%*s\r", p->shown, "");
	p->shown = 0;
	fflush(stdout);
}

/*
 * Waits for the wait's reply to be readable, or the deadline (-1: none),
 * refreshing the progress meanwhile. Returns the signal that came, or 0.
 */
static int
progress_until(struct progress *p, int fd, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t next = mono_ms() + WAIT_QUIET_MS, now, left;
	int r;

	while (ctl_signal == 0) {
		now = mono_ms();
		if (deadline >= 0 && now >= deadline)
			break;
		if (now >= next) {
			progress_refresh(p);
			next = mono_ms() + (out.tty ? WAIT_REFRESH_TTY_MS : WAIT_REFRESH_PLAIN_MS);
			continue;
		}
		left = next - now;
		if (deadline >= 0 && deadline - now < left)
			left = deadline - now;
		r = poll(&pfd, 1, (int)left);
		if (r > 0 || (r < 0 && errno != EINTR))
			break; /* the reply, a hangup or an error: reading says which */
	}
	return ctl_signal;
}

cJSON *
wait_call(const char *path, uint64_t timeout_ms, uint64_t reply_ms, const struct ctl_request *req,
    int *exitp)
{
	struct progress p = {.path = path, .timeout_ms = timeout_ms};
	int64_t deadline = reply_ms > 0 ? mono_ms() + (int64_t)reply_ms : -1, left;
	cJSON *reply;
	int fd, sig;

	client_catch_signals();
	if ((fd = client_request(path, timeout_ms, req, false, exitp)) < 0)
		return NULL;
	if ((sig = progress_until(&p, fd, deadline)) != 0) {
		close(fd);
		progress_end(&p, true);
		/* Die of it, so that a shell or script sees the wait interrupted. */
		signal(sig, SIG_DFL);
		raise(sig);
		*exitp = CTL_EXIT_FAILED;
		return NULL;
	}
	progress_end(&p, false);
	left = deadline >= 0 ? deadline - mono_ms() : 0;
	reply = client_reply(path, fd,
	    deadline < 0   ? 0
	        : left > 0 ? (uint64_t)left
	                   : 1,
	    false, exitp);
	close(fd);
	return reply;
}
