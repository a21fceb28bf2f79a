/*
 * smsguardctl: the control client (DESIGN.md §5.8). Plain blocking C: it
 * connects to the daemon's unix socket, sends one request line, reads one
 * reply line, prints it for a person (or as JSON for a script) and exits with
 * a code a script can test. The protocol itself lives in ctl-protocol.h.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "smsguard/ctl-protocol.h"
#include "smsguard/task.h"
#include "smsguard/util.h"

#define DEFAULT_TIMEOUT_MS 10000
/* A wait's reply comes when its timeout fires; allow this long for it to arrive. */
#define WAIT_MARGIN_MS 10000
/* The column where values start in `status`, after "  last error:". */
#define LABEL_WIDTH 13
/* Events shown under `status`. */
#define STATUS_EVENTS 5

/* Command options (struct command.options). */
#define OPT_JSON 0x1
#define OPT_N 0x2
#define OPT_UNTIL 0x4
#define OPT_TIMEOUT 0x8

struct client {
	const char *socket_path;
	uint64_t timeout_ms; /* connect and reply, except for wait */
	bool json;
	struct ctl_request req;
};

struct command {
	const char *name;
	const char *usage; /* the arguments, after the name */
	const char *help;
	enum ctl_cmd cmd;
	unsigned options;
	int min_args, max_args; /* positional arguments */
	int (*prepare)(struct client *, int argc, char **argv);
	int (*print)(const struct client *, cJSON *reply);
};

static int prepare_pause(struct client *, int, char **);
static int print_status(const struct client *, cJSON *);
static int print_events(const struct client *, cJSON *);
static int print_metrics(const struct client *, cJSON *);
static int print_wait(const struct client *, cJSON *);
static int print_done(const struct client *, cJSON *);

static const struct command commands[] = {
    {"status", "[--json]", "the whole picture (exit 0 ok, 1 degraded, 2 failed, 3 unreachable)",
        CTL_CMD_STATUS, OPT_JSON, 0, 0, NULL, print_status},
    {"events", "[-n N] [--json]", "recent events, oldest first", CTL_CMD_EVENTS, OPT_JSON | OPT_N,
        0, 0, NULL, print_events},
    {"metrics", "", "Prometheus text", CTL_CMD_METRICS, 0, 0, 0, NULL, print_metrics},
    {"wait", "[--until finished|running|failed] [--timeout D]",
        "block until the task gets there (exit 1 on timeout)", CTL_CMD_WAIT,
        OPT_UNTIL | OPT_TIMEOUT, 0, 0, NULL, print_wait},
    {"check", "", "probe the target and poll the cloud now", CTL_CMD_CHECK, 0, 0, 0, NULL,
        print_done},
    {"pause", "[DURATION]", "stop automatic actions (for DURATION, or until resume)", CTL_CMD_PAUSE,
        0, 0, 1, prepare_pause, print_done},
    {"resume", "", "allow automatic actions again", CTL_CMD_RESUME, 0, 0, 0, NULL, print_done},
    {"reload", "", "re-read the configuration (kept only if valid)", CTL_CMD_RELOAD, 0, 0, 0, NULL,
        print_done},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: smsguardctl [-s SOCKET] [-t TIMEOUT] [-hV] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (i = 0; i < nitems(commands); i++) {
		fprintf(f, "  %s%s%s\n", commands[i].name, *commands[i].usage != '\0' ? " " : "",
		    commands[i].usage);
		fprintf(f, "      %s\n", commands[i].help);
	}
	fprintf(f,
	    "\noptions:\n"
	    "  -s, --socket SOCKET    control socket (default: $SMSGUARD_SOCKET, else %s)\n"
	    "  -t, --timeout TIMEOUT  give up on a daemon that does not answer (default 10s)\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          print the version\n",
	    SMSGUARD_SOCKET_PATH);
}

static void
command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "usage: smsguardctl %s%s%s\n", c->name, *c->usage != '\0' ? " " : "", c->usage);
}

static void __attribute__((format(printf, 1, 2))) ctlwarn(const char *fmt, ...)
{
	va_list ap;

	fputs("smsguardctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(commands); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* ----------------------------------------------------------- arguments */

static int
parse_duration(const char *what, const char *s, uint64_t *ms)
{
	if (util_parse_duration_ms(s, ms) != 0 || *ms > CTL_DURATION_MAX_MS) {
		ctlwarn("%s: bad duration '%s' (e.g. 90s, 5m, 1h30m; at most 31d)", what, s);
		return -EINVAL;
	}
	return 0;
}

static int
prepare_pause(struct client *cl, int argc, char **argv)
{
	if (argc == 0)
		return 0;
	if (parse_duration("pause", argv[0], &cl->req.timeout_ms) < 0)
		return -EINVAL;
	if (cl->req.timeout_ms == 0) {
		ctlwarn("pause: the duration must be longer than 0 (leave it out to pause until "
		        "resume)");
		return -EINVAL;
	}
	return 0;
}

/* Parses the command's own options and arguments (argv[0] is the command). */
static int
command_parse(const struct command *c, struct client *cl, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"until", required_argument, NULL, 'u'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned allowed = c->options;
	char *end;
	long n;
	int ch, until;

	memset(&cl->req, 0, sizeof(cl->req));
	cl->req.cmd = c->cmd;
	cl->req.flags = ctl_commands[c->cmd].flags;
	cl->req.wait_until = CTL_WAIT_FINISHED;
	optind = 0; /* glibc: start over on a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			command_usage(stdout, c);
			printf("  %s\n", c->help);
			exit(CTL_EXIT_OK);
		case 'j':
			if (!(allowed & OPT_JSON))
				goto badopt;
			cl->json = true;
			break;
		case 'n':
			if (!(allowed & OPT_N))
				goto badopt;
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || n < 1 ||
			    n > CTL_EVENTS_MAX) {
				ctlwarn("%s: -n must be a number from 1 to %d", c->name,
				    CTL_EVENTS_MAX);
				goto usage;
			}
			cl->req.events_n = (int)n;
			break;
		case 'u':
			if (!(allowed & OPT_UNTIL))
				goto badopt;
			if ((until = ctlproto_wait_until_from_name(optarg)) < 0) {
				ctlwarn("%s: --until must be finished, running or failed", c->name);
				goto usage;
			}
			cl->req.wait_until = until;
			break;
		case 'T':
			if (!(allowed & OPT_TIMEOUT))
				goto badopt;
			if (parse_duration(c->name, optarg, &cl->req.timeout_ms) < 0)
				goto usage;
			break;
		case ':':
			ctlwarn("%s: option %s needs a value", c->name, argv[optind - 1]);
			goto usage;
		default:
			goto badopt;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < c->min_args || argc > c->max_args) {
		ctlwarn("%s: %s", c->name,
		    argc > c->max_args ? "too many arguments" : "missing argument");
		goto usage;
	}
	if (c->prepare != NULL && c->prepare(cl, argc, argv) < 0)
		goto usage;
	return 0;

badopt:
	ctlwarn("%s: unknown option %s", c->name, argv[optind - 1]);
usage:
	command_usage(stderr, c);
	return -EINVAL;
}

/* ---------------------------------------------------------- the socket */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline for poll(): -1 without one, 0 when past. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * Connects within timeout_ms (a unix connect only waits when the daemon's
 * backlog is full; SO_SNDTIMEO bounds that wait and the request's write).
 */
static int
ctl_connect(const char *path, uint64_t timeout_ms, int *fdp)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	while ((r = connect(fd, (struct sockaddr *)&sun, sizeof(sun))) < 0 && errno == EINTR)
		;
	if (r < 0)
		goto fail;
	*fdp = fd;
	return 0;

fail:
	r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	close(fd);
	return r;
}

static int
ctl_send(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one reply line (the newline replaced by a NUL) of at most
 * CTL_MAX_REPLY bytes, by deadline (-1: none). -ECONNRESET when the daemon
 * hung up first, -EMSGSIZE when the line is too long.
 */
static int
ctl_recv(int fd, int64_t deadline, char **linep, size_t *lenp)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = xmalloc(cap + 1), *nl;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	for (;;) {
		if ((r = poll(&pfd, 1, ms_left(deadline))) < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			goto fail;
		}
		if (r == 0) {
			r = -ETIMEDOUT;
			goto fail;
		}
		if (len == cap) {
			if (cap >= CTL_MAX_REPLY) {
				r = -EMSGSIZE;
				goto fail;
			}
			cap = cap * 4 > CTL_MAX_REPLY ? CTL_MAX_REPLY : cap * 4;
			if ((nl = realloc(buf, cap + 1)) == NULL) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nl;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0) {
			r = -ECONNRESET;
			goto fail;
		}
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL) {
			*nl = '\0';
			*linep = buf;
			*lenp = (size_t)(nl - buf);
			return 0;
		}
		len += (size_t)n;
	}

fail:
	free(buf);
	return r;
}

static void
unreachable(const char *path, int err, uint64_t timeout_ms)
{
	char d[32];

	switch (err) {
	case -ENOENT:
	case -ECONNREFUSED:
		ctlwarn("cannot reach smsguard at %s: %s (is the daemon running?)", path,
		    strerror(-err));
		break;
	case -EACCES:
	case -EPERM:
		ctlwarn("cannot reach smsguard at %s: %s (run as root or as a member of the "
		        "[control] group)",
		    path, strerror(-err));
		break;
	case -ETIMEDOUT:
		ctlwarn("cannot reach smsguard at %s: no answer within %s", path,
		    util_format_duration(timeout_ms, d, sizeof(d)));
		break;
	case -ECONNRESET:
	case -EPIPE:
		ctlwarn("smsguard at %s closed the connection without a reply", path);
		break;
	default:
		ctlwarn("cannot reach smsguard at %s: %s", path, strerror(-err));
		break;
	}
}

/*
 * Sends the request and returns the reply (or an exit code through *exitp
 * after saying what went wrong).
 */
static cJSON *
ctl_call(const struct client *cl, int *exitp)
{
	char *req = NULL, *line = NULL, *msg;
	const char *error = NULL;
	cJSON *reply = NULL;
	uint64_t reply_ms = cl->timeout_ms;
	int64_t deadline;
	size_t len = 0;
	int fd = -1, r;
	bool ok;

	*exitp = CTL_EXIT_FAILED;
	if ((msg = ctlproto_build(&cl->req)) == NULL) {
		ctlwarn("cannot build the request");
		goto out;
	}
	req = xasprintf("%s\n", msg);
	free(msg);
	if ((r = ctl_connect(cl->socket_path, cl->timeout_ms, &fd)) < 0) {
		if (r == -ENAMETOOLONG) {
			ctlwarn("socket path too long (at most %zu bytes): %s",
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1, cl->socket_path);
			goto out;
		}
		*exitp = CTL_EXIT_UNREACHABLE;
		unreachable(cl->socket_path, r, cl->timeout_ms);
		goto out;
	}
	if ((r = ctl_send(fd, req, strlen(req))) < 0) {
		*exitp = CTL_EXIT_UNREACHABLE;
		unreachable(cl->socket_path, r, cl->timeout_ms);
		goto out;
	}
	/* A wait answers when the task gets there: as long as it takes, or its timeout. */
	if (cl->req.cmd == CTL_CMD_WAIT)
		reply_ms = cl->req.timeout_ms > 0 ? cl->req.timeout_ms + WAIT_MARGIN_MS : 0;
	deadline = reply_ms > 0 ? mono_ms() + (int64_t)reply_ms : -1;
	if ((r = ctl_recv(fd, deadline, &line, &len)) < 0) {
		if (r == -EMSGSIZE) {
			ctlwarn("reply from smsguard larger than %d bytes", CTL_MAX_REPLY);
			goto out;
		}
		*exitp = CTL_EXIT_UNREACHABLE;
		unreachable(cl->socket_path, r, reply_ms);
		goto out;
	}
	if (ctlproto_parse_reply(line, len, &reply, &ok, &error) < 0) {
		ctlwarn("%s from smsguard", error);
		goto out;
	}
	*exitp = ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(line);
	return reply;
}

/* ------------------------------------------------------------- output */

/*
 * One line of output being put together. Text from the daemon (task names,
 * error messages from the cloud, event messages) goes through line_text so a
 * hostile string cannot drive the terminal.
 */
struct line {
	char buf[4096];
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
}

/* Appends s with C0 and C1 control characters escaped; "-" for NULL. */
static void
line_text(struct line *l, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		line_add(l, "-");
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			line_add(l, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			line_add(l, "\\u%04x", *++p);
		else
			line_add(l, "%c", *p);
	}
}

static void
line_print(struct line *l)
{
	while (l->len > 0 && l->buf[l->len - 1] == ' ')
		l->len--;
	l->buf[l->len] = '\0';
	puts(l->buf);
	l->len = 0;
}

/* The labelled start of a line: "task:        " or, indented, "  state:     ". */
static void
line_label(struct line *l, int indent, const char *label)
{
	char key[32];

	snprintf(key, sizeof(key), "%s:", label);
	line_add(l, "%*s%-*s ", indent, "", LABEL_WIDTH - indent, key);
}

static const cJSON *
get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *
get_str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
get_num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

/* A Unix time, or false when it is missing, null or 0 (never). */
static bool
get_time(const cJSON *o, const char *key, time_t *out)
{
	double d;

	if (!get_num(o, key, &d) || !(d > 0 && d < 1e12))
		return false;
	*out = (time_t)d;
	return true;
}

/*
 * A span for people: its two largest units ("2h5m", "3d4h", "40s"); the
 * seconds of "1d3h46m41s" are noise at 3 a.m.
 */
static char *
span(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t i, o = 0;
	int shown = 0;

	buf[0] = '\0';
	for (i = 0; i < nitems(units) && shown < 2; i++) {
		uint64_t n = s / units[i].secs;

		if (n == 0 && shown == 0)
			continue;
		s -= n * units[i].secs;
		shown++;
		if (n == 0)
			break;
		o += (size_t)snprintf(
		    buf + o, len - o, "%llu%c", (unsigned long long)n, units[i].unit);
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "0s");
	return buf;
}

/* "12s ago", "in 3m", "now". */
static void
line_relative(struct line *l, time_t t, time_t now)
{
	char d[48];

	if (t == now)
		line_add(l, "now");
	else if (t < now)
		line_add(l, "%s ago", span((uint64_t)(now - t), d, sizeof(d)));
	else
		line_add(l, "in %s", span((uint64_t)(t - now), d, sizeof(d)));
}

/* Local time: "03:12:45" today, "2024-05-01 03:12" on another day. */
static void
line_clock(struct line *l, time_t t, time_t now)
{
	struct tm tm, tmnow;
	char buf[32];

	if (localtime_r(&t, &tm) == NULL || localtime_r(&now, &tmnow) == NULL) {
		line_add(l, "@%lld", (long long)t);
		return;
	}
	if (tm.tm_year == tmnow.tm_year && tm.tm_yday == tmnow.tm_yday)
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	else
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
	line_add(l, "%s", buf);
}

/* "03:12:45 (5m ago)"; dflt when the time is null or 0, "-" when the key is missing. */
static void
line_when(struct line *l, const cJSON *o, const char *key, time_t now, const char *dflt)
{
	time_t t;

	if (get(o, key) == NULL) {
		line_add(l, "-");
		return;
	}
	if (!get_time(o, key, &t)) {
		line_add(l, "%s", dflt);
		return;
	}
	line_clock(l, t, now);
	line_add(l, " (");
	line_relative(l, t, now);
	line_add(l, ")");
}

/* Full local date and time for event lists. */
static void
line_datetime(struct line *l, const cJSON *o, const char *key)
{
	struct tm tm;
	char buf[32];
	time_t t;

	if (!get_time(o, key, &t) || localtime_r(&t, &tm) == NULL) {
		line_add(l, "%-19s", "-");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	line_add(l, "%s", buf);
}

static void
line_number(struct line *l, const cJSON *o, const char *key, const char *fmt)
{
	double d;

	if (get_num(o, key, &d))
		line_add(l, fmt, d);
	else
		line_add(l, "-");
}

static void
line_event(struct line *l, const cJSON *ev)
{
	size_t start;

	line_datetime(l, ev, "time");
	line_add(l, "  ");
	start = l->len;
	line_text(l, get_str(ev, "type"));
	/* Pad to the longest event type (recovery_exhausted) so messages line up. */
	while (l->len < start + 18)
		line_add(l, " ");
	line_add(l, " ");
	line_text(l, get_str(ev, "message"));
}

static int
health_exit(const char *health)
{
	if (health == NULL)
		return CTL_EXIT_FAILED;
	if (strcmp(health, "ok") == 0)
		return CTL_EXIT_OK;
	if (strcmp(health, "degraded") == 0)
		return CTL_EXIT_DEGRADED;
	return CTL_EXIT_FAILED;
}

static void
print_json(const cJSON *o)
{
	char *s = cJSON_Print(o);

	if (s == NULL) {
		ctlwarn("out of memory");
		exit(CTL_EXIT_FAILED);
	}
	puts(s);
	free(s);
}

static void
status_header(const cJSON *st, time_t now)
{
	const char *health = get_str(st, "health");
	const cJSON *paused = get(st, "paused");
	struct line l = {.len = 0};
	double pid;

	line_add(&l, "smsguard ");
	line_text(&l, get_str(st, "version"));
	if (get_num(st, "pid", &pid)) {
		line_add(&l, ", pid %.0f", pid);
		if (get(st, "started_at") != NULL) {
			line_add(&l, ", started ");
			line_when(&l, st, "started_at", now, "-");
		}
	}
	line_print(&l);

	line_label(&l, 0, "health");
	line_text(&l, health);
	if (health != NULL && strcmp(health, "degraded") == 0)
		line_add(&l, " (acting or waiting)");
	else if (health != NULL && strcmp(health, "failed") == 0)
		line_add(&l, " (needs a person)");
	line_print(&l);

	line_label(&l, 0, "paused");
	if (!cJSON_IsBool(paused)) {
		line_add(&l, "-");
	} else if (cJSON_IsFalse(paused)) {
		line_add(&l, "no");
	} else {
		line_add(&l, "yes, until ");
		line_when(&l, st, "paused_until", now, "smsguardctl resume");
	}
	line_print(&l);
}

static void
status_task(const cJSON *task, time_t now)
{
	const char *code = get_str(task, "error_code"), *meaning;
	struct line l = {.len = 0};
	double d;

	line_label(&l, 0, "task");
	line_text(&l, get_str(task, "id"));
	if (get_str(task, "name") != NULL) {
		line_add(&l, " \"");
		line_text(&l, get_str(task, "name"));
		line_add(&l, "\"");
	}
	line_print(&l);

	line_label(&l, 2, "state");
	line_text(&l, get_str(task, "state"));
	if (get_str(task, "type") != NULL || get_str(task, "os_type") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(task, "type"));
		line_add(&l, ", ");
		line_text(&l, get_str(task, "os_type"));
		line_add(&l, ")");
	}
	line_print(&l);

	line_label(&l, 2, "progress");
	line_number(&l, task, "progress", "%.0f%%");
	if (get_str(task, "subtask") != NULL) {
		line_add(&l, " (sub-task ");
		line_text(&l, get_str(task, "subtask"));
		line_add(&l, ")");
	}
	line_print(&l);

	line_label(&l, 2, "speed");
	line_number(&l, task, "migrate_speed_mbps", "%.1f Mbit/s");
	if (get_num(task, "remain_seconds", &d) && d >= 0 && d < 1e9) {
		char buf[32];

		line_add(
		    &l, ", %s left", util_format_duration((uint64_t)d * 1000, buf, sizeof(buf)));
	}
	line_print(&l);

	line_label(&l, 2, "error");
	if (get(task, "error_code") == NULL) {
		line_add(&l, "-");
	} else if (code == NULL) {
		line_add(&l, "none");
	} else {
		line_text(&l, code);
		meaning = get_str(task, "error_meaning");
		if (meaning == NULL)
			meaning = task_error_meaning(code);
		if (meaning != NULL) {
			line_add(&l, ": ");
			line_text(&l, meaning);
		}
	}
	line_print(&l);

	line_label(&l, 2, "polled");
	line_when(&l, task, "polled_at", now, "never");
	line_print(&l);
}

static void
status_target(const cJSON *target, time_t now)
{
	const cJSON *ports = get(target, "ports"), *p;
	struct line l = {.len = 0};

	line_label(&l, 0, "target");
	line_text(&l, get_str(target, "address"));
	line_add(&l, " ");
	line_text(&l, get_str(target, "state"));
	line_print(&l);
	if (!cJSON_IsArray(ports))
		return;
	cJSON_ArrayForEach(p, ports)
	{
		line_add(&l, "  port ");
		line_number(&l, p, "port", "%-5.0f");
		line_add(&l, "  ");
		line_text(&l, get_str(p, "state"));
		while (l.len < 22)
			line_add(&l, " ");
		line_number(&l, p, "latency_ms", "%.1f ms");
		while (l.len < 34)
			line_add(&l, " ");
		line_add(&l, "since ");
		line_when(&l, p, "since", now, "-");
		if (get_str(p, "last_error") != NULL) {
			line_add(&l, ", last error: ");
			line_text(&l, get_str(p, "last_error"));
		}
		line_print(&l);
	}
}

static void
status_agent(const cJSON *agent)
{
	struct line l = {.len = 0};

	line_label(&l, 0, "agent");
	line_text(&l, get_str(agent, "state"));
	line_add(&l, ", pid ");
	line_number(&l, agent, "pid", "%.0f");
	line_add(&l, ", restarts ");
	line_number(&l, agent, "restarts", "%.0f");
	line_print(&l);
	if (get_str(agent, "home") != NULL) {
		line_label(&l, 2, "home");
		line_text(&l, get_str(agent, "home"));
		line_print(&l);
	}
}

static void
status_cloud(const cJSON *cloud, time_t now)
{
	struct line l = {.len = 0};

	line_label(&l, 0, "cloud");
	line_text(&l, get_str(cloud, "state"));
	line_add(&l, ", errors ");
	line_number(&l, cloud, "errors", "%.0f");
	line_print(&l);
	line_label(&l, 2, "last ok");
	line_when(&l, cloud, "last_ok", now, "never");
	line_print(&l);
	line_label(&l, 2, "next poll");
	line_when(&l, cloud, "next_poll", now, "-");
	line_print(&l);
	if (get_str(cloud, "last_error") != NULL) {
		line_label(&l, 2, "last error");
		line_text(&l, get_str(cloud, "last_error"));
		line_print(&l);
	}
}

static void
status_recovery(const cJSON *rec, time_t now)
{
	const cJSON *last = get(rec, "last_action");
	struct line l = {.len = 0};
	const char *why;

	line_label(&l, 0, "recovery");
	line_number(&l, rec, "actions_in_window", "%.0f");
	line_add(&l, "/");
	line_number(&l, rec, "budget", "%.0f");
	line_add(&l, " actions in the window, next allowed ");
	line_when(&l, rec, "next_allowed", now, "now");
	line_print(&l);

	line_label(&l, 2, "last");
	if (cJSON_IsString(last)) {
		line_text(&l, last->valuestring);
	} else if (cJSON_IsObject(last)) {
		line_text(&l,
		    get_str(last, "action") != NULL ? get_str(last, "action")
		                                    : get_str(last, "type"));
		if (get_str(last, "result") != NULL) {
			line_add(&l, " ");
			line_text(&l, get_str(last, "result"));
		}
		if (get(last, "time") != NULL) {
			line_add(&l, ", ");
			line_when(&l, last, "time", now, "-");
		}
	} else {
		line_add(&l, last == NULL ? "-" : "none");
	}
	line_print(&l);

	if ((why = get_str(rec, "reason")) != NULL || (why = get_str(rec, "waiting")) != NULL) {
		line_label(&l, 2, "waiting");
		line_text(&l, why);
		line_print(&l);
	}
}

static void
status_ratelimit(const cJSON *rl, time_t now)
{
	const cJSON *applied = get(rl, "applied");
	struct line l = {.len = 0};
	double mbps;

	line_label(&l, 0, "ratelimit");
	if (!get_num(rl, "current_mbps", &mbps))
		line_add(&l, "-");
	else if (mbps <= 0)
		line_add(&l, "unlimited");
	else
		line_add(&l, "%.0f Mbit/s", mbps);
	if (get_str(rl, "window") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(rl, "window"));
		line_add(&l, ")");
	}
	if (cJSON_IsBool(applied))
		line_add(&l, ", %s", cJSON_IsTrue(applied) ? "applied" : "not applied");
	line_print(&l);
	if (get(rl, "next_change") != NULL) {
		line_label(&l, 2, "next");
		line_when(&l, rl, "next_change", now, "-");
		line_print(&l);
	}
}

static void
status_events(const cJSON *events)
{
	struct line l = {.len = 0};
	int n, i;

	if (!cJSON_IsArray(events) || (n = cJSON_GetArraySize(events)) == 0)
		return;
	puts("\nrecent events:");
	for (i = n > STATUS_EVENTS ? n - STATUS_EVENTS : 0; i < n; i++) {
		line_add(&l, "  ");
		line_event(&l, cJSON_GetArrayItem(events, i));
		line_print(&l);
	}
}

static int
print_status(const struct client *cl, cJSON *reply)
{
	int code = health_exit(get_str(reply, "health"));
	time_t now = time(NULL);

	if (cl->json) {
		/* The status object exactly: the reply without the envelope. */
		cJSON_DeleteItemFromObjectCaseSensitive(reply, CTL_KEY_OK);
		print_json(reply);
		return code;
	}
	status_header(reply, now);
	puts("");
	status_task(get(reply, "task"), now);
	status_target(get(reply, "target"), now);
	status_agent(get(reply, "agent"));
	status_cloud(get(reply, "cloud"), now);
	status_recovery(get(reply, "recovery"), now);
	status_ratelimit(get(reply, "ratelimit"), now);
	status_events(get(reply, "events"));
	return code;
}

static int
print_events(const struct client *cl, cJSON *reply)
{
	cJSON *events = cJSON_DetachItemFromObjectCaseSensitive(reply, CTL_KEY_EVENTS), *out, *ev;
	struct line l = {.len = 0};

	if (!cJSON_IsArray(events)) {
		cJSON_Delete(events);
		ctlwarn("malformed reply from smsguard: no events");
		return CTL_EXIT_FAILED;
	}
	if (cl->json) {
		if ((out = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(events);
			ctlwarn("out of memory");
			return CTL_EXIT_FAILED;
		}
		cJSON_AddItemToObject(out, CTL_KEY_EVENTS, events);
		print_json(out);
		cJSON_Delete(out);
		return CTL_EXIT_OK;
	}
	cJSON_ArrayForEach(ev, events)
	{
		line_event(&l, ev);
		line_print(&l);
	}
	cJSON_Delete(events);
	return CTL_EXIT_OK;
}

static int
print_metrics(const struct client *cl, cJSON *reply)
{
	const char *text = get_str(reply, CTL_KEY_METRICS);
	size_t len;

	if (text == NULL) {
		ctlwarn("malformed reply from smsguard: no metrics");
		return CTL_EXIT_FAILED;
	}
	len = strlen(text);
	fputs(text, stdout);
	if (len > 0 && text[len - 1] != '\n')
		putchar('\n');
	return CTL_EXIT_OK;
}

static int
print_wait(const struct client *cl, cJSON *reply)
{
	struct line l = {.len = 0};

	line_add(&l, "task %s", ctlproto_wait_until_name(cl->req.wait_until));
	if (get_str(reply, "state") != NULL) {
		line_add(&l, " (");
		line_text(&l, get_str(reply, "state"));
		line_add(&l, ")");
	}
	line_print(&l);
	return CTL_EXIT_OK;
}

/* The one-line confirmation of a command that changes something. */
static int
print_done(const struct client *cl, cJSON *reply)
{
	struct line l = {.len = 0};
	time_t now = time(NULL);

	if (get_str(reply, CTL_KEY_MESSAGE) != NULL) {
		line_text(&l, get_str(reply, CTL_KEY_MESSAGE));
		line_print(&l);
		return CTL_EXIT_OK;
	}
	switch (cl->req.cmd) {
	case CTL_CMD_CHECK:
		line_add(&l, "checking now: probing the target and polling the cloud");
		break;
	case CTL_CMD_PAUSE:
		line_add(&l, "paused: no automatic actions until ");
		line_when(&l, reply, "until", now, "smsguardctl resume");
		break;
	case CTL_CMD_RESUME:
		line_add(&l, "resumed: automatic actions allowed again");
		break;
	case CTL_CMD_RELOAD:
		line_add(&l, "configuration reloaded");
		break;
	default:
		line_add(&l, "done");
		break;
	}
	line_print(&l);
	return CTL_EXIT_OK;
}

/* {"ok":false,…}: say why; a wait that timed out is its own exit code. */
static int
print_error(const struct client *cl, const cJSON *reply)
{
	const char *error = get_str(reply, CTL_KEY_ERROR);
	struct line l = {.len = 0};
	char d[32];

	if (cl->req.cmd == CTL_CMD_WAIT && error != NULL && strcmp(error, CTL_ERROR_TIMEOUT) == 0) {
		ctlwarn("timeout: the task did not get to %s within %s",
		    ctlproto_wait_until_name(cl->req.wait_until),
		    util_format_duration(cl->req.timeout_ms, d, sizeof(d)));
		return CTL_EXIT_DEGRADED;
	}
	line_text(&l, error != NULL ? error : "the command failed");
	l.buf[l.len] = '\0';
	ctlwarn("%s", l.buf);
	return CTL_EXIT_FAILED;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct client cl = {.timeout_ms = DEFAULT_TIMEOUT_MS};
	const struct command *c;
	const char *env;
	cJSON *reply;
	int ch, code;

	cl.socket_path = SMSGUARD_SOCKET_PATH;
	if ((env = getenv("SMSGUARD_SOCKET")) != NULL && *env != '\0')
		cl.socket_path = env;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:s:t:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			cl.socket_path = optarg;
			break;
		case 't':
			if (parse_duration("-t", optarg, &cl.timeout_ms) < 0)
				return CTL_EXIT_FAILED;
			if (cl.timeout_ms == 0) {
				ctlwarn("-t: the timeout must be longer than 0");
				return CTL_EXIT_FAILED;
			}
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("smsguardctl %s (protocol %d)\n", SMSGUARD_VERSION,
			    CTL_PROTOCOL_VERSION);
			return CTL_EXIT_OK;
		case ':':
			ctlwarn("option %s needs a value", argv[optind - 1]);
			usage(stderr);
			return CTL_EXIT_FAILED;
		default:
			ctlwarn("unknown option %s", argv[optind - 1]);
			usage(stderr);
			return CTL_EXIT_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_FAILED;
	}
	if ((c = command_find(argv[optind])) == NULL) {
		ctlwarn("unknown command: %s", argv[optind]);
		usage(stderr);
		return CTL_EXIT_FAILED;
	}
	if (command_parse(c, &cl, argc - optind, argv + optind) < 0)
		return CTL_EXIT_FAILED;
	if ((reply = ctl_call(&cl, &code)) == NULL)
		return code;
	if (code == CTL_EXIT_OK)
		code = c->print(&cl, reply);
	else
		code = print_error(&cl, reply);
	cJSON_Delete(reply);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctlwarn("write error: %s", strerror(errno));
		return CTL_EXIT_FAILED;
	}
	return code;
}
