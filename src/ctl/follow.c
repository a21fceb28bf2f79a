/*
 * `smsguardctl events --follow`: the newest events, then each new one as it
 * comes. Every event carries an increasing "seq"; once a second the follower
 * asks for the events after the last one it showed ({"cmd":"events",
 * "args":{"since":SEQ}}), on a connection of its own each time, as anyone
 * but root must (ctl-protocol.h). The reply's "last_seq" says where the
 * daemon is, so numbers that start over (a lost state file) are noticed.
 *
 * It ends when interrupted (SIGINT, SIGTERM, SIGHUP: exit 0), when whoever
 * reads stdout goes away (a closed pipe: exit 0, quietly, without waiting
 * for the next event to find out), or when the daemon does (exit 3, said on
 * stderr). Nothing but events reaches stdout: notes go to stderr.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out.h"
#include "smsguardctl.h"

/* How often the daemon is asked for new events. */
#define FOLLOW_INTERVAL_MS 1000
/* Events shown before following, without -n (as tail -f). */
#define FOLLOW_FIRST 10

enum follow_end {
	FOLLOW_ON = 0,
	FOLLOW_STOPPED, /* a signal, or the reader went away */
	FOLLOW_FAILED,  /* said on stderr already */
};

struct follow {
	const char *path;
	uint64_t timeout_ms;
	struct ctl_request req;
	bool json;
	uint64_t since; /* the seq of the last event shown */
};

/* Whether whoever reads stdout has gone: a pipe without a reader, a terminal hung up. */
static bool
reader_gone(void)
{
	struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

/* Waits for the next look; FOLLOW_STOPPED when a signal came or the reader went. */
static enum follow_end
follow_sleep(void)
{
	struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};
	int64_t deadline = mono_ms() + FOLLOW_INTERVAL_MS, left;
	int r;

	while (ctl_signal == 0 && (left = deadline - mono_ms()) > 0) {
		r = poll(&pfd, 1, (int)left);
		if (r > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
			return FOLLOW_STOPPED;
		if (r < 0 && errno != EINTR) {
			ctlwarn("poll: %s", strerror(errno));
			return FOLLOW_FAILED;
		}
	}
	return ctl_signal != 0 ? FOLLOW_STOPPED : FOLLOW_ON;
}

static void
show_event(const struct follow *f, const cJSON *ev)
{
	struct line l = {.len = 0};
	char *s;

	if (!f->json) {
		line_event(&l, ev, EVENT_CLOCK_FULL);
		line_print(&l);
		return;
	}
	/* One object per line, so a script reads each as it comes. */
	if ((s = cJSON_PrintUnformatted(ev)) != NULL) {
		puts(s);
		free(s);
	}
}

/*
 * Notes what the numbers say beside the events: a gap, or a count that
 * started over (then false: the next look starts from the beginning).
 */
static bool
check_sequence(struct follow *f, const cJSON *events, double last)
{
	double first;

	if (last >= 0 && last < (double)f->since) {
		ctlwarn("smsguard's events start over (its state was lost or replaced)");
		f->since = 0;
		return false;
	}
	if (f->since > 0 && reply_num(cJSON_GetArrayItem(events, 0), "seq", &first) &&
	    first > (double)f->since + 1)
		ctlwarn("%.0f events came and went between two looks (smsguard keeps %d)",
		    first - (double)f->since - 1, CTL_EVENTS_MAX);
	return true;
}

/* Shows the events of one reply and moves since past them. */
static enum follow_end
follow_show(struct follow *f, const cJSON *reply)
{
	const cJSON *events = reply_get(reply, CTL_KEY_EVENTS), *ev;
	double seq, last = -1;

	if (!cJSON_IsArray(events)) {
		ctlwarn("malformed reply from smsguard: no events");
		return FOLLOW_FAILED;
	}
	reply_num(reply, CTL_KEY_LAST_SEQ, &last);
	if (!check_sequence(f, events, last))
		return FOLLOW_ON;
	cJSON_ArrayForEach(ev, events)
	{
		show_event(f, ev);
		if (reply_num(ev, "seq", &seq) && seq > (double)f->since && seq <= CTL_SEQ_MAX)
			f->since = (uint64_t)seq;
	}
	/* Nothing new, or the first look at an empty ring: start from where the daemon is. */
	if (last > (double)f->since && last <= CTL_SEQ_MAX && cJSON_GetArraySize(events) == 0)
		f->since = (uint64_t)last;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE || reader_gone() || ctl_signal != 0)
			return FOLLOW_STOPPED;
		ctlwarn("write error: %s", strerror(errno));
		return FOLLOW_FAILED;
	}
	return FOLLOW_ON;
}

/* One look: returns FOLLOW_ON to go on, else how it ended with *code set. */
static enum follow_end
follow_look(struct follow *f, bool first, int *code)
{
	enum follow_end end;
	cJSON *reply;

	f->req.events_since = f->since;
	f->req.events_n = first ? (f->req.events_n > 0 ? f->req.events_n : FOLLOW_FIRST) : 0;
	reply = client_call(f->path, f->timeout_ms, f->timeout_ms, &f->req, code);
	if (reply == NULL) {
		if (ctl_signal != 0)
			return FOLLOW_STOPPED;
		if (*code == CTL_EXIT_UNREACHABLE)
			ctlwarn("no longer following events: smsguard went away");
		return FOLLOW_FAILED;
	}
	if (*code != CTL_EXIT_OK) {
		*code = print_error(&f->req, reply);
		cJSON_Delete(reply);
		return FOLLOW_FAILED;
	}
	end = follow_show(f, reply);
	cJSON_Delete(reply);
	if (end == FOLLOW_FAILED)
		*code = CTL_EXIT_FAILED;
	return end;
}

int
follow_run(const char *path, uint64_t timeout_ms, const struct ctl_request *req, bool json)
{
	struct follow f = {.path = path, .timeout_ms = timeout_ms, .req = *req, .json = json};
	enum follow_end end = FOLLOW_ON;
	bool first = true;
	int code = CTL_EXIT_OK;

	/* A reader that went away is noticed through EPIPE or poll(), not by dying of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	client_catch_signals();
	while (end == FOLLOW_ON) {
		end = follow_look(&f, first, &code);
		first = false;
		if (end == FOLLOW_ON)
			end = follow_sleep();
	}
	if (end == FOLLOW_STOPPED)
		return CTL_EXIT_OK;
	return code != CTL_EXIT_OK ? code : CTL_EXIT_FAILED;
}
