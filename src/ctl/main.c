/*
 * smsguardctl: the control client (DESIGN.md §5.8). Plain blocking C: it
 * connects to the daemon's unix socket, sends one request line, reads one
 * reply line, prints it for a person (or as JSON for a script) and exits with
 * a code a script can test. The commands, their usage and their help come
 * from the command table in ctl-protocol.h; this file reads the command line
 * by it, client.c talks to the socket and print.c shows the reply.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard-build.h"
#include "smsguard/ctl-protocol.h"
#include "smsguard/util.h"
#include "smsguardctl.h"

#define DEFAULT_TIMEOUT_MS 10000
/* A wait's reply comes when its timeout fires; allow this long for it to arrive. */
#define WAIT_MARGIN_MS 10000
/* The hidden command that prints the table for the shell completion. */
#define TABLE_COMMAND "__commands"
/* smsguardctl's own command: a command's help, from the table. */
#define HELP_COMMAND "help"

/* What the command line asks for. */
struct invocation {
	const char *socket_path;
	uint64_t timeout_ms; /* connect and reply, except for wait */
	bool json;
	bool follow; /* events --follow */
	const struct ctl_cmd_info *cmd;
	struct ctl_request req;
};

static void
usage(FILE *f)
{
	const struct ctl_cmd_info *c;

	fprintf(f,
	    "usage: smsguardctl [-s SOCKET] [-t TIMEOUT] [-hV] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (c = ctl_commands; c < ctl_commands + CTL_CMD_COUNT; c++) {
		fprintf(f, "  %s%s%s\n", c->name, *c->usage != '\0' ? " " : "", c->usage);
		fprintf(f, "      %s\n", c->summary);
	}
	fprintf(f,
	    "\noptions:\n"
	    "  -s, --socket SOCKET    control socket (default: $SMSGUARD_SOCKET, else %s)\n"
	    "  -t, --timeout TIMEOUT  give up on a daemon that does not answer (default 10s)\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "`smsguardctl help COMMAND` (or COMMAND --help) tells more about a command.\n",
	    SMSGUARD_SOCKET_PATH);
}

static void
command_usage(FILE *f, const struct ctl_cmd_info *c)
{
	fprintf(f, "usage: smsguardctl %s%s%s\n", c->name, *c->usage != '\0' ? " " : "", c->usage);
}

/* `smsguardctl help NAME`, `smsguardctl NAME --help`: the usage and the table's help. */
static int
command_help(const struct ctl_cmd_info *c)
{
	command_usage(stdout, c);
	printf("\n%s", c->help);
	return fflush(stdout) != 0 || ferror(stdout) ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

/* `smsguardctl help [COMMAND]` (argv[0] is "help"). */
static int
help_run(int argc, char **argv)
{
	const struct ctl_cmd_info *c;

	if (argc == 1) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc > 2) {
		ctlwarn("help: too many arguments");
		fprintf(stderr, "usage: smsguardctl help [COMMAND]\n");
		return CTL_EXIT_FAILED;
	}
	if ((c = ctlproto_find(argv[1])) == NULL) {
		ctlwarn("help: unknown command: %s", argv[1]);
		usage(stderr);
		return CTL_EXIT_FAILED;
	}
	return command_help(c);
}

/*
 * `smsguardctl __commands`: the table for the shell completion, one line per
 * command: its name, then its options ("--json", or "-n=N" for one that
 * takes a value) and its arguments ("DURATION"), as its usage says; last,
 * "help COMMAND".
 */
static int
table_print(void)
{
	const struct ctl_cmd_info *c;
	struct ctl_usage_item item;
	const char *pos;

	for (c = ctl_commands; c < ctl_commands + CTL_CMD_COUNT; c++) {
		fputs(c->name, stdout);
		pos = c->usage;
		while (ctlproto_usage_next(&pos, &item) > 0)
			printf(" %s%s%s", item.name, item.value[0] != '\0' ? "=" : "", item.value);
		putchar('\n');
	}
	/* smsguardctl's own command, not the daemon's: its argument is a command. */
	printf("%s COMMAND\n", HELP_COMMAND);
	return fflush(stdout) != 0 || ferror(stdout) ? CTL_EXIT_FAILED : CTL_EXIT_OK;
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
parse_pause(struct invocation *inv, const char *duration)
{
	if (parse_duration("pause", duration, &inv->req.timeout_ms) < 0)
		return -EINVAL;
	if (inv->req.timeout_ms == 0) {
		ctlwarn("pause: the duration must be longer than 0 (leave it out to pause until "
		        "resume)");
		return -EINVAL;
	}
	return 0;
}

/* The command's arguments, as many as its usage allows (checked already). */
static int
command_args(struct invocation *inv, int argc, char **argv)
{
	int r = 0;

	switch (inv->req.cmd) {
	case CTL_CMD_PAUSE:
		if (argc > 0)
			r = parse_pause(inv, argv[0]);
		break;
	default:
		break;
	}
	return r;
}

/* Every option a command may have; which ones a command has, its usage says. */
static const struct option command_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"follow", no_argument, NULL, 'f'},
    {"until", required_argument, NULL, 'u'},
    {"timeout", required_argument, NULL, 'T'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
#define COMMAND_SHORTOPTS "+:n:h"

/* The option getopt returned, spelled as in the usage strings. */
static const char *
option_name(int ch)
{
	const char *name = "";

	switch (ch) {
	case 'j':
		name = "--json";
		break;
	case 'f':
		name = "--follow";
		break;
	case 'n':
		name = "-n";
		break;
	case 'u':
		name = "--until";
		break;
	case 'T':
		name = "--timeout";
		break;
	}
	return name;
}

/* One option the command's usage offers, with its value. */
static int
command_option(struct invocation *inv, int ch, const char *arg)
{
	const char *name = inv->cmd->name;
	char *end;
	long n;
	int r = 0, until;

	switch (ch) {
	case 'j':
		inv->json = true;
		break;
	case 'f':
		inv->follow = true;
		break;
	case 'n':
		errno = 0;
		n = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || n < 1 || n > CTL_EVENTS_MAX) {
			ctlwarn("%s: -n must be a number from 1 to %d", name, CTL_EVENTS_MAX);
			r = -EINVAL;
		} else {
			inv->req.events_n = (int)n;
		}
		break;
	case 'u':
		if ((until = ctlproto_wait_until_from_name(arg)) < 0) {
			ctlwarn("%s: --until must be finished, running or failed", name);
			r = -EINVAL;
		} else {
			inv->req.wait_until = until;
		}
		break;
	case 'T':
		r = parse_duration(name, arg, &inv->req.timeout_ms);
		break;
	}
	return r;
}

/*
 * Parses the command's own options and arguments (argv[0] is the command):
 * what its usage in the table offers, and nothing else.
 */
static int
command_parse(struct invocation *inv, int argc, char **argv)
{
	const struct ctl_cmd_info *c = inv->cmd;
	int ch, min, max;

	memset(&inv->req, 0, sizeof(inv->req));
	inv->req.cmd = c->cmd;
	inv->req.flags = c->flags;
	inv->req.wait_until = CTL_WAIT_FINISHED;
	optind = 0; /* glibc: start over on a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, COMMAND_SHORTOPTS, command_longopts, NULL)) != -1) {
		if (ch == 'h')
			exit(command_help(c));
		if (ch == ':') {
			ctlwarn("%s: option %s needs a value", c->name, argv[optind - 1]);
			goto usage;
		}
		if (ch == '?' || !ctlproto_usage_has(c->usage, option_name(ch)))
			goto badopt;
		if (command_option(inv, ch, optarg) < 0)
			goto usage;
	}
	argc -= optind;
	argv += optind;
	ctlproto_usage_args(c->usage, &min, &max);
	if (argc < min || argc > max) {
		ctlwarn("%s: %s", c->name, argc > max ? "too many arguments" : "missing argument");
		goto usage;
	}
	if (command_args(inv, argc, argv) < 0)
		goto usage;
	return 0;

badopt:
	ctlwarn("%s: unknown option %s", c->name, argv[optind - 1]);
usage:
	command_usage(stderr, c);
	return -EINVAL;
}

/* The options before the command: -1 to go on, else the exit code. */
static int
main_options(struct invocation *inv, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int ch, code = -1;

	opterr = 0;
	while (code < 0 && (ch = getopt_long(argc, argv, "+:s:t:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			inv->socket_path = optarg;
			break;
		case 't':
			if (parse_duration("-t", optarg, &inv->timeout_ms) < 0) {
				code = CTL_EXIT_FAILED;
			} else if (inv->timeout_ms == 0) {
				ctlwarn("-t: the timeout must be longer than 0");
				code = CTL_EXIT_FAILED;
			}
			break;
		case 'h':
			usage(stdout);
			code = CTL_EXIT_OK;
			break;
		case 'V':
			printf("smsguardctl %s (protocol %d)\n", SMSGUARD_VERSION,
			    CTL_PROTOCOL_VERSION);
			code = CTL_EXIT_OK;
			break;
		case ':':
			ctlwarn("option %s needs a value", argv[optind - 1]);
			usage(stderr);
			code = CTL_EXIT_FAILED;
			break;
		default:
			ctlwarn("unknown option %s", argv[optind - 1]);
			usage(stderr);
			code = CTL_EXIT_FAILED;
			break;
		}
	}
	return code;
}

/* Sends the request, shows the reply and returns the exit code. */
static int
command_run(const struct invocation *inv)
{
	uint64_t reply_ms = inv->timeout_ms;
	cJSON *reply;
	int code;

	if (inv->follow)
		return follow_run(inv->socket_path, inv->timeout_ms, &inv->req, inv->json);
	/* A wait answers when the task gets there: as long as it takes, or its timeout. */
	if (inv->req.cmd == CTL_CMD_WAIT)
		reply_ms = inv->req.timeout_ms > 0 ? inv->req.timeout_ms + WAIT_MARGIN_MS : 0;
	/* A preflight answers once its checks are done. */
	if (inv->req.cmd == CTL_CMD_PREFLIGHT)
		reply_ms += CTL_PREFLIGHT_MAX_MS;
	if (inv->req.cmd == CTL_CMD_WAIT)
		reply = wait_call(inv->socket_path, inv->timeout_ms, reply_ms, &inv->req, &code);
	else
		reply = client_call(inv->socket_path, inv->timeout_ms, reply_ms, &inv->req, &code);
	if (reply == NULL)
		return code;
	if (code == CTL_EXIT_OK)
		code = print_reply(&inv->req, inv->json, reply);
	else
		code = print_error(&inv->req, reply);
	cJSON_Delete(reply);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctlwarn("write error: %s", strerror(errno));
		code = CTL_EXIT_FAILED;
	}
	return code;
}

int
main(int argc, char **argv)
{
	struct invocation inv = {.timeout_ms = DEFAULT_TIMEOUT_MS};
	const char *env;
	int code;

	out_init();
	inv.socket_path = SMSGUARD_SOCKET_PATH;
	if ((env = getenv("SMSGUARD_SOCKET")) != NULL && *env != '\0')
		inv.socket_path = env;
	if ((code = main_options(&inv, argc, argv)) >= 0)
		return code;
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_FAILED;
	}
	if (strcmp(argv[optind], TABLE_COMMAND) == 0)
		return table_print();
	if (strcmp(argv[optind], HELP_COMMAND) == 0)
		return help_run(argc - optind, argv + optind);
	if ((inv.cmd = ctlproto_find(argv[optind])) == NULL) {
		ctlwarn("unknown command: %s", argv[optind]);
		usage(stderr);
		return CTL_EXIT_FAILED;
	}
	if (command_parse(&inv, argc - optind, argv + optind) < 0)
		return CTL_EXIT_FAILED;
	return command_run(&inv);
}
