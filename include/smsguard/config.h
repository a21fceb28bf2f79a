/*
 * smsguard.conf (DESIGN.md §4): parsed with libinih into a fresh struct, every
 * value validated; a reload swaps in a new struct only when it is valid.
 * Durations are milliseconds. Strings are owned by the struct (NULL = unset).
 */
#ifndef SMSGUARD_CONFIG_H
#define SMSGUARD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "smsguard/schedule.h"

#define CONFIG_MAX_PORTS 8
#define CONFIG_MAX_ANSWERS 8
#define CONFIG_MAX_ARGV 32

enum agent_restart {
	AGENT_RESTART_WHEN_DEAD = 0,
	AGENT_RESTART_NEVER,
};

enum ratelimit_apply {
	RATELIMIT_APPLY_CLOUD = 0,
	RATELIMIT_APPLY_OFF,
};

struct config {
	char *path; /* the file it came from */

	/* [daemon] */
	char *state_dir; /* default SMSGUARD_STATE_DIR */
	int log_level;   /* enum log_level */

	/* [cloud] */
	char *endpoint;      /* https://host[:port], no trailing slash; http:// only for loopback */
	char *endpoint_host; /* derived: host name of the endpoint, for {domain} */
	char *project_id;
	char *credentials; /* path; default CREDENTIALS_DEFAULT_PATH */
	/*
	 * Set to a path other than the default: then a missing file is an error
	 * instead of a fall-back to the SDK environment variables.
	 */
	bool credentials_explicit;
	/*
	 * Where credentials problems are reported (see credentials_load in
	 * credentials.h): the line of `credentials =`, else that of the first
	 * [cloud]; 0 = none.
	 */
	int credentials_line;
	int cloud_line;
	char *ca_file;
	char *proxy;
	uint64_t timeout_ms; /* default 15s */

	/* [task] */
	char *task_id;         /* NULL = discover */
	uint64_t poll_ms;      /* default 30s */
	uint64_t poll_idle_ms; /* default 5m */

	/* [target] */
	char *target_address; /* NULL = the task's migration_ip */
	bool ports_auto;      /* default true */
	int nports;
	uint16_t ports[CONFIG_MAX_PORTS];
	uint64_t probe_interval_ms; /* default 2s */
	uint64_t probe_timeout_ms;  /* default 2s */
	int fall;                   /* default 3 */
	int rise;                   /* default 2 */

	/* [agent] */
	char *agent_process; /* default "linuxmain" (max 15 chars, /proc comm) */
	char *agent_home;    /* NULL = found from the running process */
	enum agent_restart agent_restart;
	/* restart_command split into argv (white space, "double quotes"); NULL = <home>/startup.sh */
	int restart_argc;
	char *restart_argv[CONFIG_MAX_ARGV + 1];
	uint64_t restart_timeout_ms; /* default 2m */
	/* restart_answers: one line each (multi-line value or "\n" in the value), placeholders unexpanded */
	int nanswers;
	char *answers[CONFIG_MAX_ANSWERS];

	/* [recovery] */
	bool resume;               /* default on */
	uint64_t settle_ms;        /* default 10s */
	int budget_actions;        /* default 6 */
	uint64_t budget_window_ms; /* default 1h */
	uint64_t backoff_min_ms;   /* default 30s */
	uint64_t backoff_max_ms;   /* default 15m */
	uint64_t confirm_ms;       /* default 2m */

	/* [ratelimit] */
	bool has_schedule;
	struct schedule schedule;
	char *timezone;                       /* NULL = host local time */
	enum ratelimit_apply ratelimit_apply; /* default cloud */
	/*
	 * over_speed_threshold: % over the limit before SMS pauses the task,
	 * 10..100, a whole number or a decimal ("12.5") as SMS's double takes it;
	 * default 10 (SMS's).
	 */
	double ratelimit_threshold;

	/* [notify] (notify.h): a sink is on when its key is set. */
	char *smn_topic;       /* urn:smn:<region>:<project_id>:<topic> */
	char *smn_endpoint;    /* NULL = sms_smn_default_endpoint() of the URN's region */
	char *webhook;         /* https:// URL (http:// only to loopback) */
	bool webhook_loopback; /* its host is loopback: never sent through [cloud] proxy */
	int exec_argc;         /* exec split into argv as restart_command; 0 = no hook */
	char *exec_argv[CONFIG_MAX_ARGV + 1];
	uint64_t exec_timeout_ms; /* default 30s */
	/* bit (1u << enum event_type); default all */
	uint32_t events_mask;
	/* A sink's own list, replacing events_mask for it; 0 = not set. */
	uint32_t smn_events_mask, webhook_events_mask, exec_events_mask;
	int notify_queue; /* undelivered events kept per sink; default 1000 */

	/* [control] */
	char *socket_path; /* default SMSGUARD_SOCKET_PATH */
	char *group;
	bool has_gid;
	gid_t gid;

	/* [metrics] */
	char *metrics_textfile;
};

/*
 * Parses and validates `path`. On success *out is a new config and 0 is
 * returned; on failure a negative errno and *cause = "FILE:LINE: key: reason"
 * (malloc'd, the caller frees). A check of two keys names the line of the one
 * set later, except that a schedule needing more than 5 periods on some day
 * (schedule_check_days(), in `timezone` from today on) is named at the
 * schedule's line: the rules are what to change. Only a file that cannot be opened at all has no line to name:
 * then it is "FILE: reason".
 */
int config_load(const char *path, struct config **out, char **cause);
/* The same from an open stream; `name` stands for the file in messages and cfg->path. */
int config_load_fp(FILE *fp, const char *name, struct config **out, char **cause);
/* Defaults only (used by tests and when building a config by hand). */
struct config *config_new_defaults(void);
void config_free(struct config *cfg);

#endif
