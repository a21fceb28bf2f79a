/*
 * smsguardctl's own modules: main.c reads the command line by the command
 * table of ctl-protocol.h, client.c talks to the daemon's socket, out.c
 * knows the page (terminal, colour, width, time), report.c shows `status`,
 * print.c every other reply.
 */
#ifndef SMSGUARDCTL_H
#define SMSGUARDCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "out.h"
#include "smsguard/ctl-protocol.h"

/* "smsguardctl: " and the message on stderr. */
void ctlwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The signal caught (SIGINT, SIGTERM, SIGHUP) once client_catch_signals() ran; 0 before. */
extern volatile sig_atomic_t ctl_signal;
/*
 * Catches SIGINT, SIGTERM and SIGHUP into ctl_signal, so that a long command
 * (wait, events --follow) ends cleanly; a client call under way then fails
 * at once, quietly.
 */
void client_catch_signals(void);
/* A monotonic clock in milliseconds. */
int64_t mono_ms(void);

/*
 * Connects to path (giving up after timeout_ms), sends req and reads the
 * reply within reply_ms (0: as long as it takes). Returns the reply, its
 * "ok" as *exitp (CTL_EXIT_OK or CTL_EXIT_FAILED), or NULL with *exitp set
 * after saying on stderr what went wrong (CTL_EXIT_UNREACHABLE when the
 * daemon could not be reached).
 */
cJSON *client_call(const char *path, uint64_t timeout_ms, uint64_t reply_ms,
    const struct ctl_request *req, int *exitp);

/*
 * client_call in two steps, for a reply that is awaited while doing other
 * things: connect and send (the socket, or -1 with *exitp set), then read
 * the reply from the socket (which the caller closes). Quiet: nothing said
 * on stderr.
 */
int client_request(
    const char *path, uint64_t timeout_ms, const struct ctl_request *req, bool quiet, int *exitp);
cJSON *client_reply(const char *path, int fd, uint64_t reply_ms, bool quiet, int *exitp);

/*
 * A wait (wait.c): client_call for req, showing meanwhile what the task
 * does (a live line on a terminal, a plain line per change otherwise).
 * Ends as killed by a caught SIGINT, SIGTERM or SIGHUP.
 */
cJSON *wait_call(const char *path, uint64_t timeout_ms, uint64_t reply_ms,
    const struct ctl_request *req, int *exitp);

/* Shows an {"ok":true,…} reply to req (as JSON when json); returns the exit code. */
int print_reply(const struct ctl_request *req, bool json, cJSON *reply);
/* Shows a preflight report (print_preflight.c); returns its exit code. */
int print_preflight(bool json, cJSON *reply);
/* Says why an {"ok":false,…} reply refused req; returns the exit code. */
int print_error(const struct ctl_request *req, const cJSON *reply);
/* Pretty JSON on stdout. */
void print_json(const cJSON *o);

/* How an event's time is shown. */
enum event_clock {
	EVENT_CLOCK_FULL, /* 2024-05-01 03:12:45 */
	EVENT_CLOCK_DAY,  /* 05-01 03:12:45 */
	EVENT_CLOCK_TIME, /* 03:12:45 */
};
/* "TIME  TYPE  MESSAGE", the type coloured, the message wrapping under itself. */
void line_event(struct line *l, const cJSON *ev, enum event_clock clock);

/*
 * `events --follow` (follow.c): req's newest events, then each new one, until
 * interrupted or the reader of stdout goes (0), or the daemon goes (3).
 */
int follow_run(const char *path, uint64_t timeout_ms, const struct ctl_request *req, bool json);

/* `status` as a report (or the status object with json); returns the exit code. */
int report_status(bool json, cJSON *reply);
/* "[####------]  42%", width columns of bar, filled in colour c. */
void report_bar(struct line *l, double pct, int width, enum out_color c);
/* The task's speed and, while it moves, its ETA. */
void report_speed(struct line *l, const cJSON *task, time_t now);
/* Whether a task state moves data (RUNNING, SYNCING). */
bool report_task_active(const char *state);
enum out_color report_health_color(const char *health);
enum out_color report_state_color(const char *state);

#endif
