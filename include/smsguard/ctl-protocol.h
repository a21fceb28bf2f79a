/*
 * The control socket's wire protocol (DESIGN.md §5.8), shared by the daemon
 * and smsguardctl: newline-delimited JSON, one request object per line, one
 * reply object per line.
 *
 *   request:  {"v":1,"cmd":"status"}            (v optional, default 1)
 *             {"v":1,"cmd":"pause","args":{"duration":"30m"}}
 *   reply:    {"ok":true, …} | {"ok":false,"error":"…"}
 *
 * Request arguments ("args", an object; unknown keys are errors):
 *   events   "n": integer 1..CTL_EVENTS_MAX (default: the daemon's choice)
 *            "since": an event's "seq"; only the events after it (0 = all)
 *   wait     "until": "finished" | "running" | "failed" (default finished)
 *            "timeout": duration string ("10m") or milliseconds (number);
 *            absent or 0 = wait as long as it takes
 *   pause    "duration": duration string or milliseconds, > 0;
 *            absent = until `resume`
 *   others   none
 *
 * Replies (besides "ok"):
 *   status   the status object of DESIGN.md §5.8, its keys at the top level
 *   events   "events": [ …event objects, oldest first… ] (with "since", the
 *            newest n of those after it); "last_seq": the seq of the newest
 *            event the daemon holds (0 for none), so a follower knows where
 *            it is and sees the numbers start over after a lost state
 *   metrics  "metrics": "…Prometheus text…"
 *   wait     on success any keys ("state": the task's state is shown);
 *            {"ok":false,"error":"timeout"} when the timeout passed first
 *   preflight the report of DESIGN.md §5.11 ("verdict", "ran_at", "checks"),
 *            its keys at the top level, once the checks are done: within
 *            CTL_PREFLIGHT_MAX_MS
 *   writes   optional "message": one line shown by smsguardctl
 */
#ifndef SMSGUARD_CTL_PROTOCOL_H
#define SMSGUARD_CTL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CTL_PROTOCOL_VERSION 1
#define CTL_MAX_REQUEST (64 * 1024)     /* bytes in one request line, newline included */
#define CTL_MAX_REPLY (4 * 1024 * 1024) /* bytes in one reply line; the client stops there */
/*
 * Connection limits of the daemon (src/ctl.c says why). Root and the daemon's
 * own user have CTL_MAX_CLIENTS connections to themselves; every other uid
 * shares CTL_MAX_OTHERS, one uid at most CTL_MAX_PER_UID, a `wait` included.
 * A connection over its limit gets {"ok":false,"error":"too many clients…"}
 * and is closed. A request line must be complete CTL_REQUEST_TIMEOUT_MS after
 * its first byte. Between requests (from accept or the last reply) root may
 * stay idle CTL_IDLE_TIMEOUT_MS; anyone else must start the next request
 * within CTL_REQUEST_TIMEOUT_MS, so other users connect once per request.
 * No deadline runs while a reply is owed (`wait`).
 */
#define CTL_MAX_CLIENTS 64
#define CTL_MAX_OTHERS 64
#define CTL_MAX_PER_UID 16
#define CTL_REQUEST_TIMEOUT_MS 2000
#define CTL_IDLE_TIMEOUT_MS 30000
#define CTL_CMD_MAX 32
#define CTL_EVENTS_MAX 200 /* the event ring's size (EVENTS_RING_SIZE) */
/* The largest "since" accepted: cJSON prints 15 significant digits exactly. */
#define CTL_SEQ_MAX ((uint64_t)999999999999999)
/* The daemon answers `preflight` within this (every check has a shorter timeout). */
#define CTL_PREFLIGHT_MAX_MS 10000
/* Longest wait timeout or pause accepted (31 days): anything longer is a typo. */
#define CTL_DURATION_MAX_MS ((uint64_t)31 * 86400 * 1000)

/* Reply keys. */
#define CTL_KEY_OK "ok"
#define CTL_KEY_ERROR "error"
#define CTL_KEY_EVENTS "events"
#define CTL_KEY_LAST_SEQ "last_seq"
#define CTL_KEY_METRICS "metrics"
#define CTL_KEY_MESSAGE "message"
/* The error string of a wait that timed out (smsguardctl exits 1 on it). */
#define CTL_ERROR_TIMEOUT "timeout"

/* Exit codes of `smsguardctl status` (and of every command that fails). */
enum ctl_exit {
	CTL_EXIT_OK = 0,          /* healthy */
	CTL_EXIT_DEGRADED = 1,    /* acting or waiting; also a wait that timed out */
	CTL_EXIT_FAILED = 2,      /* failed or needs a person; also a refused command, bad usage */
	CTL_EXIT_UNREACHABLE = 3, /* daemon not reachable */
};

/*
 * The commands, one line each (DESIGN.md §5.8): the one table from which the
 * enum below, ctl_commands[] (ctlproto.c), the daemon's handler table,
 * smsguardctl's parser and help and, through `smsguardctl __commands`, the
 * shell completion are all made, as tmux's cmd_entry. A new command is one
 * more line here, its handler in the daemon (cmd_name, which the daemon's
 * expansion of this table names) and its output in smsguardctl's print.c
 * (print_reply's switch has no default, so the compiler asks for it).
 *
 *   X(ID, name, usage, kind, summary, help)
 *
 * ID makes CTL_CMD_ID; name is the word on the wire and on the command line
 * (and names the daemon's handler, cmd_name); usage is what may follow the
 * name on the command line, "[-x VALUE]" or "[--long]" options and "[ARG]" or
 * "ARG" arguments, and smsguardctl accepts what it says and no more
 * (ctlproto_usage_next); kind is CTL_READ or CTL_WRITE (root only); summary
 * is the command's line in `smsguardctl --help`; help is what `smsguardctl
 * help NAME` and `smsguardctl NAME --help` print under the usage: what the
 * command does, then each option and argument of usage on a line of its own
 * that starts with two spaces and its name (a test holds every one to it),
 * in lines of at most 76 columns.
 */
/* clang-format off */
#define CTL_COMMANDS(X)                                                                            \
	X(STATUS, status, "[--json]", CTL_READ,                                                    \
	    "the whole picture (exit 0 ok, 1 degraded, 2 failed, 3 unreachable)",                  \
	    "Shows the whole picture, for a person: health and its reason, the task\n"             \
	    "(state, a progress bar, speed and ETA, error), the target's ports with\n"             \
	    "their latency, the agent, the cloud API, the recovery budget, the rate\n"             \
	    "limit, the notification sinks and the last events. Colour only on a\n"                \
	    "terminal, and never with NO_COLOR set or TERM=dumb.\n"                                \
	    "\n"                                                                                   \
	    "  --json    print the status object instead, for scripts\n"                           \
	    "\n"                                                                                   \
	    "Exit status: 0 healthy, 1 degraded (smsguard is acting or waiting),\n"                \
	    "2 failed (a person is needed), 3 the daemon is not reachable.\n")                     \
	X(EVENTS, events, "[-n N] [--json] [--follow]", CTL_READ,                                  \
	    "recent events, oldest first (--follow: then new ones as they come)",                  \
	    "Shows the events smsguard kept (the last 200, across restarts), oldest\n"             \
	    "first, one per line: time, type and message.\n"                                       \
	    "\n"                                                                                   \
	    "  -n N      only the newest N (1 to 200)\n"                                           \
	    "  --json    print {\"events\":[...]} instead, for scripts\n"                          \
	    "  --follow  then print each new event as it comes (smsguard is asked\n"               \
	    "            once a second), 10 events first unless -n says; with\n"                   \
	    "            --json, one event object per line. Ends with exit status\n"               \
	    "            0 when interrupted or when the reader of its output goes,\n"              \
	    "            and 3 when the daemon goes away.\n")                                      \
	X(METRICS, metrics, "", CTL_READ, "Prometheus text",                                       \
	    "Prints smsguard's metrics in the Prometheus text format, as written to\n"             \
	    "the [metrics] textfile for node_exporter.\n")                                         \
	X(WAIT, wait, "[--until finished|running|failed] [--timeout D]", CTL_READ,                 \
	    "block until the task gets there (exit 1 on timeout)",                                 \
	    "Blocks until the migration task is finished (the default), running or\n"              \
	    "failed, then prints the state it got to. Meanwhile, on a terminal, a\n"               \
	    "live line shows the task's state, progress, speed and ETA (and the\n"                 \
	    "health when it is not ok); otherwise a line with the time is printed\n"               \
	    "whenever the state, the percentage or the health changes.\n"                          \
	    "\n"                                                                                   \
	    "  --until finished|running|failed\n"                                                  \
	    "            what to wait for\n"                                                       \
	    "  --timeout D\n"                                                                      \
	    "            give up after D (90s, 10m, 2h) with exit status 1; without\n"             \
	    "            it, wait as long as it takes\n")                                          \
	X(CHECK, check, "", CTL_WRITE, "probe the target and poll the cloud now",                  \
	    "Probes the target's ports and polls the cloud now instead of at the\n"                \
	    "next interval. Root only.\n")                                                         \
	X(PAUSE, pause, "[DURATION]", CTL_WRITE,                                                   \
	    "stop automatic actions (for DURATION, or until resume)",                              \
	    "Stops automatic actions (resuming the task, restarting the agent);\n"                 \
	    "smsguard keeps watching and reporting. Root only.\n"                                  \
	    "\n"                                                                                   \
	    "  DURATION  for how long (90s, 30m, 2h); without it, until\n"                         \
	    "            `smsguardctl resume`\n")                                                  \
	X(RESUME, resume, "", CTL_WRITE, "allow automatic actions again",                          \
	    "Allows automatic actions again after a pause, and re-arms a spent\n"                  \
	    "recovery budget. Root only.\n")                                                       \
	X(RELOAD, reload, "", CTL_WRITE, "re-read the configuration (kept only if valid)",         \
	    "Re-reads the configuration file, as SIGHUP does. A configuration that\n"              \
	    "is not valid is refused with its reason and the running one is kept.\n"               \
	    "Root only.\n")                                                                       \
	X(PREFLIGHT, preflight, "[--json]", CTL_READ,                                              \
	    "check what breaks migrations now (exit 0 ok, 1 warnings, 2 failures)",               \
	    "Runs the preflight checks now (or joins a run under way) and prints\n"                \
	    "one line per check: ok, warn or fail, what was measured, and on warn\n"              \
	    "or fail the remedy and the SMS error code it prevents.\n"                            \
	    "\n"                                                                                   \
	    "  --json  the report as one JSON object\n"                                           \
	    "\n"                                                                                   \
	    "Exit status: 0 all ok, 1 warnings, 2 failures.\n")
/* clang-format on */

#define CTL_F_WRITE 0x1 /* changes something: root only */
/* The kinds of the table, as struct ctl_cmd_info.flags. */
#define CTL_READ 0
#define CTL_WRITE CTL_F_WRITE

#define CTL_CMD_ENUM(ID, NAME, USAGE, KIND, SUMMARY, HELP) CTL_CMD_##ID,
enum ctl_cmd {
	CTL_COMMANDS(CTL_CMD_ENUM) /* CTL_CMD_STATUS = 0, … */
	CTL_CMD_COUNT,
};
#undef CTL_CMD_ENUM

struct ctl_cmd_info {
	const char *name;
	enum ctl_cmd cmd;
	int flags;           /* CTL_F_WRITE or 0 */
	const char *usage;   /* the arguments after the name; "" for none */
	const char *summary; /* one line for people */
	const char *help;    /* what `smsguardctl help NAME` says under the usage */
};

/* The table of commands both sides agree on, indexed by enum ctl_cmd. */
extern const struct ctl_cmd_info ctl_commands[CTL_CMD_COUNT];

/*
 * One item of a usage string: an option ("-n", "--json") with the name of
 * its value ("N", "finished|running|failed"; "" when it takes none), or an
 * argument ("DURATION").
 */
#define CTL_USAGE_WORD 32
struct ctl_usage_item {
	char name[CTL_USAGE_WORD];
	char value[CTL_USAGE_WORD];
	bool option;
	bool optional; /* in brackets */
};

/* A validated request. */
struct ctl_request {
	enum ctl_cmd cmd;
	int flags;
	/* events */
	int events_n;          /* 0 = default */
	uint64_t events_since; /* only events with a larger seq; 0 = all */
	/* wait */
	int wait_until;      /* enum ctl_wait_until */
	uint64_t timeout_ms; /* wait: 0 = none; pause: duration, 0 = until resume */
};

enum ctl_wait_until {
	CTL_WAIT_FINISHED = 0,
	CTL_WAIT_RUNNING,
	CTL_WAIT_FAILED,
	CTL_WAIT_COUNT,
};

/*
 * Parses one request line (without the newline, len bytes, need not be
 * NUL-terminated). Returns 0, or -EINVAL with *error set to a static string
 * suitable for {"ok":false,"error":…}. *req is zeroed first.
 */
int ctlproto_parse(const char *line, size_t len, struct ctl_request *req, const char **error);

/* Builds a request line (no newline) for smsguardctl; malloc'd. */
char *ctlproto_build(const struct ctl_request *req);

/* The command called name, or NULL. */
const struct ctl_cmd_info *ctlproto_find(const char *name);

/*
 * Reads the next item of a usage string from *pos and moves *pos past it.
 * Returns 1 with *item set, 0 at the end, -EINVAL when the text is not
 * usage ("[VALUE]" and "[-x V]" items, at most two words in brackets).
 */
int ctlproto_usage_next(const char **pos, struct ctl_usage_item *item);
/* Whether usage offers the option ("-n", "--json"). */
bool ctlproto_usage_has(const char *usage, const char *option);
/* How many arguments (not options) usage takes: at least *min, at most *max. */
void ctlproto_usage_args(const char *usage, int *min, int *max);

/* "finished", "running", "failed"; NULL when out of range. */
const char *ctlproto_wait_until_name(int until);
/* The enum ctl_wait_until value, or -1 for an unknown name. */
int ctlproto_wait_until_from_name(const char *name);

/* {"ok":false,"error":"…"} as a line without the newline; malloc'd. */
char *ctlproto_error_reply(const char *error);

/*
 * Parses one reply line (without the newline). Returns 0 with *reply set to
 * the object (the caller deletes it) and *ok to its "ok" member, or -EINVAL
 * with *error set to a static string when the line is not a reply.
 */
int ctlproto_parse_reply(const char *line, size_t len, cJSON **reply, bool *ok, const char **error);

#endif
