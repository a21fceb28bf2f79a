/*
 * The daemon: the loop, signals and module lifetimes (daemon.c). The struct
 * is shared with the rooms beside it: state.c (state.json), reload.c,
 * control.c (the socket's commands, `wait`) and status.c (the status object
 * and the metrics), and with nothing else.
 */
#ifndef SMSGUARD_DAEMON_H
#define SMSGUARD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/events.h"
#include "smsguard/store.h"

struct ctl_server;
struct cloud;
struct taskpoll;
struct probe_set;
struct agent;
struct executor;
struct ratelimit;
struct notify;
struct preflight;
struct waiter;

struct daemon {
	uv_loop_t loop;
	struct config *cfg;
	struct credentials *creds;
	const char *config_path;
	int verbose;

	struct store store;
	bool store_ok;
	uv_timer_t state_retry; /* while state.json cannot be written (a full or read-only disk) */
	bool state_retry_ready; /* initialised and not yet closing */
	struct event_ring events;
	struct ctl_server *ctl;

	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t watchdog;
	uv_timer_t metrics_timer; /* [metrics] textfile refresh */
	bool textfile_failing;    /* the last write failed (warned once per streak) */

	bool stopping;
	int exit_status;
	int closing; /* modules still closing */
	int64_t started_ms;

	TAILQ_HEAD(, waiter) waiters; /* `wait` clients (control.c) */

	struct cloud *cloud;
	struct taskpoll *poll;
	struct probe_set *probe;
	struct agent *agent;
	struct executor *exec;
	struct ratelimit *rl;
	struct notify *notify;
	struct preflight *pf;
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const char *config_path, int verbose);

/*
 * state.c: state.json written now (atomically), and read back at start. A
 * write that fails is tried again every STATE_RETRY_MS until one succeeds.
 */
#define STATE_RETRY_MS 1000
void state_save(struct daemon *d);
void state_restore(struct daemon *d);

/* reload.c: 0, or a negative errno with *cause (the old configuration stays). */
int reload_run(struct daemon *d, char **cause);

/* control.c */
struct ctl_request;
struct ctl_client;
cJSON *control_dispatch(void *arg, struct ctl_client *c, const struct ctl_request *req);
void control_client_gone(void *arg, struct ctl_client *c);
/* The picture may have changed: `wait` clients whose state came are answered. */
void control_turned(struct daemon *d);
/* Shutting down: every `wait` client is told so. */
void control_stop(struct daemon *d);

/* status.c */
cJSON *status_json(struct daemon *d);
/* Prometheus text of DESIGN.md §5.9, malloc'd. */
char *status_metrics_text(struct daemon *d);
/*
 * Writes [metrics] textfile atomically, when set; up false for the last one
 * a stopping daemon writes (smsguard_up 0), so a stop is not a stale file.
 */
void status_write_textfile(struct daemon *d, bool up);

#endif
