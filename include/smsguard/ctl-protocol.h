/*
 * The control socket's wire protocol (DESIGN.md §5.8), shared by the daemon
 * and smsguardctl: newline-delimited JSON, one request object per line, one
 * reply object per line.
 *
 *   request:  {"v":1,"cmd":"status"}            (v optional, default 1)
 *             {"v":1,"cmd":"pause","args":{"duration":"30m"}}
 *   reply:    {"ok":true, …} | {"ok":false,"error":"…"}
 */
#ifndef SMSGUARD_CTL_PROTOCOL_H
#define SMSGUARD_CTL_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CTL_PROTOCOL_VERSION 1
#define CTL_MAX_REQUEST (64 * 1024) /* bytes in one request line, newline included */
#define CTL_MAX_CLIENTS 64
#define CTL_IDLE_TIMEOUT_MS 30000
#define CTL_CMD_MAX 32

/* Exit codes of `smsguardctl status` (and of every command that fails). */
enum ctl_exit {
	CTL_EXIT_OK = 0,          /* healthy */
	CTL_EXIT_DEGRADED = 1,    /* acting or waiting */
	CTL_EXIT_FAILED = 2,      /* failed or needs a person; also a refused command */
	CTL_EXIT_UNREACHABLE = 3, /* daemon not reachable */
};

enum ctl_cmd {
	CTL_CMD_STATUS = 0,
	CTL_CMD_EVENTS,
	CTL_CMD_METRICS,
	CTL_CMD_WAIT,
	CTL_CMD_CHECK,
	CTL_CMD_PAUSE,
	CTL_CMD_RESUME,
	CTL_CMD_RELOAD,
	CTL_CMD_COUNT,
};

#define CTL_F_WRITE 0x1 /* changes something: root only */

struct ctl_cmd_info {
	const char *name;
	enum ctl_cmd cmd;
	int flags;
};

/* The table of commands both sides agree on. */
extern const struct ctl_cmd_info ctl_commands[CTL_CMD_COUNT];

/* A validated request. */
struct ctl_request {
	enum ctl_cmd cmd;
	int flags;
	/* events */
	int events_n; /* 0 = default */
	/* wait */
	int wait_until; /* enum ctl_wait_until */
	uint64_t timeout_ms; /* wait: 0 = none; pause: duration, 0 = until resume */
};

enum ctl_wait_until {
	CTL_WAIT_FINISHED = 0,
	CTL_WAIT_RUNNING,
	CTL_WAIT_FAILED,
};

/*
 * Parses one request line (without the newline, len bytes, need not be
 * NUL-terminated). Returns 0, or -EINVAL with *error set to a static string
 * suitable for {"ok":false,"error":…}.
 */
int ctlproto_parse(const char *line, size_t len, struct ctl_request *req, const char **error);

/* Builds a request line (no newline) for smsguardctl; malloc'd. */
char *ctlproto_build(const struct ctl_request *req);

const struct ctl_cmd_info *ctlproto_find(const char *name);

#endif
