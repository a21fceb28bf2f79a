/*
 * What each key of smsguard.conf means: the table of keys (section, name,
 * parser, limits) and the parsers that check a value and store it in struct
 * config. The reader (config.c) finds a key here and calls its parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config_keys.h"
#include "config_value.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/events.h"
#include "smsguard/log.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"
#include "zone.h"

#define ANSWER_MAX 512

static const char *const sections[] = {
    "daemon",
    "cloud",
    "task",
    "target",
    "agent",
    "recovery",
    "ratelimit",
    "notify",
    "control",
    "metrics",
};

#define FIELD(type, cfg, k) ((type *)(void *)((char *)(cfg) + (k)->off))

static char *
p_duration(struct config *cfg, const struct cfgkey *k, const char *v)
{
	return config_duration_reason(v, k->min, k->max, FIELD(uint64_t, cfg, k));
}

static char *
p_int(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	uint64_t n;

	if (config_parse_uint(v, strlen(v), UINT32_MAX, &n) != 0 || n < k->min || n > k->max)
		return xasprintf("%s is not a whole number from %llu to %llu", config_quote(v, q),
		    (unsigned long long)k->min, (unsigned long long)k->max);
	*FIELD(int, cfg, k) = (int)n;
	return NULL;
}

static char *
p_bool(struct config *cfg, const struct cfgkey *k, const char *v)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	char q[QUOTE_MAX + 2];

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*FIELD(bool, cfg, k) = true;
			return NULL;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*FIELD(bool, cfg, k) = false;
			return NULL;
		}
	}
	return xasprintf(
	    "%s is not a boolean (on/off, yes/no, true/false, 1/0)", config_quote(v, q));
}

static char *
p_abspath(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char *why = config_abspath_reason(v);

	if (why == NULL)
		config_set_str(FIELD(char *, cfg, k), v);
	return why;
}

static char *
p_credentials(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char *why = p_abspath(cfg, k, v);

	/* Naming the default path changes nothing: the SDK variables still apply. */
	if (why == NULL)
		cfg->credentials_explicit = strcmp(v, CREDENTIALS_DEFAULT_PATH) != 0;
	return why;
}

static char *
p_ca_file(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	struct stat st;
	char *why;

	if ((why = config_abspath_reason(v)) != NULL)
		return why;
	if (stat(v, &st) != 0)
		return xasprintf("%s: %s", config_quote(v, q), strerror(errno));
	if (!S_ISREG(st.st_mode))
		return xasprintf("%s is not a regular file", config_quote(v, q));
	config_set_str(&cfg->ca_file, v);
	return NULL;
}

static char *
p_socket(struct config *cfg, const struct cfgkey *k, const char *v)
{
	struct sockaddr_un sun;
	char *why;

	if ((why = config_abspath_reason(v)) != NULL)
		return why;
	if (strlen(v) >= sizeof(sun.sun_path))
		return xasprintf("socket path too long (%zu bytes, at most %zu)", strlen(v),
		    sizeof(sun.sun_path) - 1);
	config_set_str(&cfg->socket_path, v);
	return NULL;
}

static char *
p_log_level(struct config *cfg, const struct cfgkey *k, const char *v)
{
	enum log_level l;
	char q[QUOTE_MAX + 2];

	if (log_level_from_name(v, &l) != 0)
		return xasprintf(
		    "unknown log level %s (error, warn, info or debug)", config_quote(v, q));
	cfg->log_level = (int)l;
	return NULL;
}

/* ---- URLs ---- */

/*
 * Splits v into *u when it is an HTTPS URL (http:// only to loopback) with no
 * user name or password; else the reason, malloc'd.
 */
static char *
https_url(const char *v, struct config_url *u)
{
	char q[QUOTE_MAX + 2];
	const char *why;

	if ((why = config_url_split(v, u)) != NULL)
		return xasprintf("%s: %s", config_quote(v, q), why);
	if (strcmp(u->scheme, "https") != 0 &&
	    !(strcmp(u->scheme, "http") == 0 && config_host_is_loopback(u->host)))
		return xasprintf(
		    "%s: must be https:// (http:// only to 127.0.0.1, ::1 or localhost)",
		    config_quote(v, q));
	if (u->userinfo)
		return xasprintf(
		    "%s: user name or password in the URL is not allowed", config_quote(v, q));
	return NULL;
}

/* https://host[:port] (http:// only to loopback), stored without a trailing slash. */
static char *
server_url(const char *v, char **dst, char **host_out)
{
	char q[QUOTE_MAX + 2];
	char *err;
	struct config_url u;

	if ((err = https_url(v, &u)) != NULL)
		return err;
	if (!config_url_rest_is_empty(u.rest))
		return xasprintf("%s: must not have a path, query or fragment", config_quote(v, q));
	free(*dst);
	*dst = xasprintf("%s://%.*s", u.scheme, (int)u.authlen, u.auth);
	if (host_out != NULL)
		config_set_str(host_out, u.host);
	return NULL;
}

static char *
p_endpoint(struct config *cfg, const struct cfgkey *k, const char *v)
{
	return server_url(v, &cfg->endpoint, &cfg->endpoint_host);
}

static char *
p_smn_endpoint(struct config *cfg, const struct cfgkey *k, const char *v)
{
	return server_url(v, &cfg->smn_endpoint, NULL);
}

static char *
p_proxy(struct config *cfg, const struct cfgkey *k, const char *v)
{
	static const char *const schemes[] = {"http", "https", "socks5", "socks5h"};
	char q[QUOTE_MAX + 2];
	const char *why;
	struct config_url u;
	bool ok = false;

	if ((why = config_url_split(v, &u)) != NULL)
		return xasprintf("%s: %s", config_quote(v, q), why);
	for (size_t i = 0; i < nitems(schemes); i++)
		ok = ok || strcmp(u.scheme, schemes[i]) == 0;
	if (!ok)
		return xasprintf(
		    "%s: scheme must be http, https, socks5 or socks5h", config_quote(v, q));
	/* The config file is world-readable; proxy passwords would not be secret there. */
	if (u.userinfo)
		return xasprintf("%s: user name or password in the proxy URL is not supported",
		    config_quote(v, q));
	if (!config_url_rest_is_empty(u.rest))
		return xasprintf("%s: must not have a path", config_quote(v, q));
	config_set_str(&cfg->proxy, v);
	return NULL;
}

static char *
p_webhook(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	char *err;
	struct config_url u;

	if ((err = https_url(v, &u)) != NULL)
		return err;
	if (strchr(u.rest, '#') != NULL)
		return xasprintf("%s: must not have a fragment", config_quote(v, q));
	config_set_str(&cfg->webhook, v);
	cfg->webhook_loopback = config_host_is_loopback(u.host);
	return NULL;
}

/* ---- identifiers ---- */

static char *
p_project_id(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strlen(v) > 64 || !config_all_of(v, NULL))
		return xasprintf(
		    "%s is not a project id (letters and digits, at most 64)", config_quote(v, q));
	config_set_str(&cfg->project_id, v);
	return NULL;
}

static char *
p_task_id(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strlen(v) > 36)
		return xasprintf("task id too long (%zu characters, at most 36)", strlen(v));
	if (!config_all_of(v, "-"))
		return xasprintf(
		    "%s is not a task id (letters, digits and '-')", config_quote(v, q));
	config_set_str(&cfg->task_id, v);
	return NULL;
}

static char *
p_address(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	struct in6_addr a6;

	if (inet_pton(AF_INET6, v, &a6) != 1 && !util_hostname_ok(v))
		return xasprintf("%s is not an IP address or host name", config_quote(v, q));
	config_set_str(&cfg->target_address, v);
	return NULL;
}

static char *
p_process(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	/* The kernel keeps 15 characters of a process name in /proc/PID/comm. */
	if (strlen(v) > 15)
		return xasprintf("process name too long (%zu characters, at most 15)", strlen(v));
	if (strchr(v, '/') != NULL || config_has_ctl(v))
		return xasprintf("%s is not a process name", config_quote(v, q));
	config_set_str(&cfg->agent_process, v);
	return NULL;
}

/* The URN rule is the SMN client's own, so what passes here can be published to. */
static char *
p_smn_topic(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (sms_smn_urn_parse(v, NULL, NULL, NULL) != 0)
		return xasprintf(
		    "%s is not an SMN topic URN (urn:smn:<region>:<project_id>:<topic>, "
		    "each part 1 to 255 letters, digits, '-' or '_')",
		    config_quote(v, q));
	config_set_str(&cfg->smn_topic, v);
	return NULL;
}

static char *
p_timezone(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	int rc = zone_check(v);

	if (rc == -EINVAL)
		return xasprintf(
		    "%s is not a time zone name (like Europe/Paris or UTC)", config_quote(v, q));
	if (rc != 0)
		return xasprintf(
		    "unknown time zone %s (not in %s)", config_quote(v, q), zone_dir());
	config_set_str(&cfg->timezone, v);
	return NULL;
}

static char *
p_group(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2], *buf = NULL;
	struct group gr, *res = NULL;
	size_t len = 4096;
	int rc;

	if (strlen(v) > 64 || config_has_ctl(v))
		return xasprintf("%s is not a group name", config_quote(v, q));
	/* Big groups need a big buffer: grow it rather than fail. */
	for (;;) {
		buf = xmalloc(len);
		rc = getgrnam_r(v, &gr, buf, len, &res);
		if (rc != ERANGE || len >= (1u << 20))
			break;
		free(buf);
		len *= 2;
	}
	if (rc == 0 && res != NULL) {
		config_set_str(&cfg->group, v);
		cfg->gid = gr.gr_gid;
		cfg->has_gid = true;
	}
	free(buf);
	if (rc != 0 && rc != ENOENT && rc != ESRCH)
		return xasprintf("cannot look up group %s: %s", config_quote(v, q), strerror(rc));
	if (res == NULL)
		return xasprintf("unknown group %s", config_quote(v, q));
	return NULL;
}

/* ---- enums ---- */

static char *
p_restart(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strcasecmp(v, "when-dead") == 0)
		cfg->agent_restart = AGENT_RESTART_WHEN_DEAD;
	else if (strcasecmp(v, "never") == 0)
		cfg->agent_restart = AGENT_RESTART_NEVER;
	else
		return xasprintf("%s is not when-dead or never", config_quote(v, q));
	return NULL;
}

static char *
p_apply(struct config *cfg, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strcasecmp(v, "cloud") == 0)
		cfg->ratelimit_apply = RATELIMIT_APPLY_CLOUD;
	else if (strcasecmp(v, "off") == 0)
		cfg->ratelimit_apply = RATELIMIT_APPLY_OFF;
	else
		return xasprintf("%s is not cloud or off", config_quote(v, q));
	return NULL;
}

/* SMS's over_speed_threshold: a percentage from 10 to 100, "10", "12.5" or "12.5%". */
static char *
p_threshold(struct config *cfg, const struct cfgkey *k, const char *v)
{
	size_t whole = strspn(v, "0123456789"), len = strlen(v), frac = 0;
	char q[QUOTE_MAX + 2];
	double pct = -1;

	if (v[whole] == '.')
		frac = strspn(v + whole + 1, "0123456789") + 1;
	if (whole > 0 && frac != 1 && len <= 16 && whole + frac + (v[whole + frac] == '%') == len)
		pct = strtod(v, NULL);
	if (pct < (double)k->min || pct > (double)k->max)
		return xasprintf("%s is not a percentage from %llu to %llu (like 10 or 12.5)",
		    config_quote(v, q), (unsigned long long)k->min, (unsigned long long)k->max);
	cfg->ratelimit_threshold = pct;
	return NULL;
}

/* ---- lists ---- */

static char *
p_ports(struct config *cfg, const struct cfgkey *k, const char *v)
{
	uint16_t ports[CONFIG_MAX_PORTS];
	int n = 0;
	char q[QUOTE_MAX + 2];

	if (strcasecmp(v, "auto") == 0) {
		cfg->ports_auto = true;
		cfg->nports = 0;
		return NULL;
	}
	while (*v != '\0') {
		size_t len;
		uint64_t p;

		v += strspn(v, ", \t");
		if (*v == '\0')
			break;
		len = strcspn(v, ", \t");
		if (config_parse_uint(v, len, 65535, &p) != 0 || p == 0) {
			char tok[QUOTE_MAX];

			util_strlcpy(tok, v, len < sizeof(tok) ? len + 1 : sizeof(tok));
			return xasprintf(
			    "bad port %s (auto, or ports 1 to 65535)", config_quote(tok, q));
		}
		for (int i = 0; i < n; i++)
			if (ports[i] == p)
				return xasprintf("port %u listed twice", (unsigned)p);
		if (n == CONFIG_MAX_PORTS)
			return xasprintf("too many ports (at most %d)", CONFIG_MAX_PORTS);
		ports[n++] = (uint16_t)p;
		v += len;
	}
	if (n == 0)
		return xstrdup("no ports (auto, or a list like 22,8899,8900)");
	cfg->ports_auto = false;
	cfg->nports = n;
	memcpy(cfg->ports, ports, sizeof(ports[0]) * (size_t)n);
	return NULL;
}

static char *
p_events(struct config *cfg, const struct cfgkey *k, const char *v)
{
	uint32_t mask = 0;

	if (strcasecmp(v, "all") == 0) {
		*FIELD(uint32_t, cfg, k) = EVENTS_MASK_ALL;
		return NULL;
	}
	while (*v != '\0') {
		char name[40], q[QUOTE_MAX + 2];
		size_t len;
		int t;

		v += strspn(v, ", \t");
		if (*v == '\0')
			break;
		len = strcspn(v, ", \t");
		util_strlcpy(name, v, len < sizeof(name) ? len + 1 : sizeof(name));
		if (len >= sizeof(name) || (t = event_type_from_name(name)) < 0 || t >= 32) {
			char list[EV_TYPE_COUNT * 24] = "";

			for (int i = 0; i < EV_TYPE_COUNT; i++) {
				strcat(list, i ? ", " : "");
				strcat(list, event_type_name((enum event_type)i));
			}
			return xasprintf("unknown event %s (all, or a list of: %s)",
			    config_quote(name, q), list);
		}
		mask |= 1u << t;
		v += len;
	}
	if (mask == 0)
		return xstrdup("no events (all, or a list like task_failed,task_resumed)");
	*FIELD(uint32_t, cfg, k) = mask;
	return NULL;
}

static char *
p_budget(struct config *cfg, const struct cfgkey *k, const char *v)
{
	const char *slash = strchr(v, '/');
	char q[QUOTE_MAX + 2], *why;
	uint64_t n, win;

	if (slash == NULL || config_parse_uint(v, (size_t)(slash - v), 1000, &n) != 0 || n < 1)
		return xasprintf(
		    "%s is not N/PERIOD with N from 1 to 1000 (e.g. 6/1h)", config_quote(v, q));
	if ((why = config_duration_reason(slash + 1, SECOND, 7 * DAY, &win)) != NULL) {
		char *r = xasprintf("period: %s", why);

		free(why);
		return r;
	}
	cfg->budget_actions = (int)n;
	cfg->budget_window_ms = win;
	return NULL;
}

static char *
p_backoff(struct config *cfg, const struct cfgkey *k, const char *v)
{
	const char *dots = strstr(v, "..");
	char q[QUOTE_MAX + 2], a[32], b[32], *lo, *why;
	uint64_t min, max;

	if (dots == NULL)
		return xasprintf("%s is not MIN..MAX (e.g. 30s..15m)", config_quote(v, q));
	lo = xasprintf("%.*s", (int)(dots - v), v);
	why = config_duration_reason(util_trim(lo), 100, DAY, &min);
	free(lo);
	if (why == NULL)
		why = config_duration_reason(dots + 2, 100, DAY, &max);
	if (why != NULL) {
		char *r = xasprintf("%s (in %s)", why, config_quote(v, q));

		free(why);
		return r;
	}
	if (min > max)
		return xasprintf("minimum %s is above maximum %s",
		    util_format_duration(min, a, sizeof(a)),
		    util_format_duration(max, b, sizeof(b)));
	cfg->backoff_min_ms = min;
	cfg->backoff_max_ms = max;
	return NULL;
}

static char *
p_schedule(struct config *cfg, const struct cfgkey *k, const char *v)
{
	struct schedule s;
	char *cause = NULL;

	if (schedule_parse(v, &s, &cause) != 0)
		return cause;
	cfg->schedule = s;
	cfg->has_schedule = s.nrules > 0;
	return NULL;
}

/* ---- commands ---- */

static char *
p_restart_command(struct config *cfg, const struct cfgkey *k, const char *v)
{
	return config_argv_reason(v, cfg->restart_argv, CONFIG_MAX_ARGV, &cfg->restart_argc);
}

static char *
p_exec(struct config *cfg, const struct cfgkey *k, const char *v)
{
	return config_argv_reason(v, cfg->exec_argv, CONFIG_MAX_ARGV, &cfg->exec_argc);
}

static char *
placeholder_reason(const char *line, size_t len)
{
	static const char *const known[] = {"{ak}", "{sk}", "{domain}"};

	for (size_t i = 0; i < len; i++) {
		const char *close;
		size_t n;
		bool ok = false;

		if (line[i] != '{')
			continue;
		close = memchr(line + i, '}', len - i);
		if (close == NULL)
			return xstrdup("unterminated placeholder '{' (only {ak} {sk} {domain})");
		n = (size_t)(close - (line + i)) + 1;
		for (size_t j = 0; j < nitems(known); j++)
			ok = ok || (n == strlen(known[j]) && memcmp(line + i, known[j], n) == 0);
		if (!ok) {
			char q[QUOTE_MAX + 2];
			char *name = xasprintf("%.*s", (int)(n < 40 ? n : 40), line + i);
			char *r = xasprintf("unknown placeholder %s (only {ak} {sk} {domain})",
			    config_esc(name, q));

			free(name);
			return r;
		}
		i += n - 1;
	}
	return NULL;
}

/* Each call adds lines: a continuation line is one, and "\n" in a value splits it. */
static char *
p_answers(struct config *cfg, const struct cfgkey *k, const char *v)
{
	for (;;) {
		const char *nl = strstr(v, "\\n");
		size_t len = nl != NULL ? (size_t)(nl - v) : strlen(v);
		char *why;

		if (cfg->nanswers == CONFIG_MAX_ANSWERS)
			return xasprintf("too many answer lines (at most %d)", CONFIG_MAX_ANSWERS);
		if (len > ANSWER_MAX)
			return xasprintf("answer line too long (at most %d)", ANSWER_MAX);
		if ((why = placeholder_reason(v, len)) != NULL)
			return why;
		cfg->answers[cfg->nanswers++] = xasprintf("%.*s", (int)len, v);
		if (nl == NULL)
			break;
		v = nl + 2;
	}
	return NULL;
}

/* ---- the key table ---- */

#define F(field) offsetof(struct config, field)

const struct cfgkey config_keys[] = {
    {"daemon", "state_dir", p_abspath, F(state_dir), 0, 0, 0},
    {"daemon", "log_level", p_log_level, 0, 0, 0, 0},

    {"cloud", "endpoint", p_endpoint, 0, 0, 0, 0},
    {"cloud", "project_id", p_project_id, 0, 0, 0, 0},
    {"cloud", "credentials", p_credentials, F(credentials), 0, 0, 0},
    {"cloud", "ca_file", p_ca_file, 0, 0, 0, 0},
    {"cloud", "proxy", p_proxy, 0, 0, 0, 0},
    {"cloud", "timeout", p_duration, F(timeout_ms), SECOND, 5 * MINUTE, 0},

    {"task", "id", p_task_id, 0, 0, 0, 0},
    {"task", "poll", p_duration, F(poll_ms), SECOND, DAY, 0},
    {"task", "poll_idle", p_duration, F(poll_idle_ms), SECOND, DAY, 0},

    {"target", "address", p_address, 0, 0, 0, 0},
    {"target", "ports", p_ports, 0, 0, 0, KEY_JOIN},
    {"target", "interval", p_duration, F(probe_interval_ms), 100, HOUR, 0},
    {"target", "timeout", p_duration, F(probe_timeout_ms), 10, MINUTE, 0},
    {"target", "fall", p_int, F(fall), 1, 100, 0},
    {"target", "rise", p_int, F(rise), 1, 100, 0},

    {"agent", "process", p_process, 0, 0, 0, 0},
    {"agent", "home", p_abspath, F(agent_home), 0, 0, 0},
    {"agent", "restart", p_restart, 0, 0, 0, 0},
    {"agent", "restart_command", p_restart_command, 0, 0, 0, 0},
    {"agent", "restart_answers", p_answers, 0, 0, 0, KEY_LINES},
    {"agent", "restart_timeout", p_duration, F(restart_timeout_ms), SECOND, HOUR, 0},

    {"recovery", "resume", p_bool, F(resume), 0, 0, 0},
    {"recovery", "settle", p_duration, F(settle_ms), 0, HOUR, 0},
    {"recovery", "budget", p_budget, 0, 0, 0, 0},
    {"recovery", "backoff", p_backoff, 0, 0, 0, 0},
    {"recovery", "confirm", p_duration, F(confirm_ms), SECOND, DAY, 0},

    {"ratelimit", "schedule", p_schedule, 0, 0, 0, KEY_JOIN},
    {"ratelimit", "timezone", p_timezone, 0, 0, 0, 0},
    {"ratelimit", "apply", p_apply, 0, 0, 0, 0},
    {"ratelimit", "over_speed_threshold", p_threshold, 0, 10, 100, 0},

    {"notify", "smn_topic", p_smn_topic, 0, 0, 0, 0},
    {"notify", "smn_endpoint", p_smn_endpoint, 0, 0, 0, 0},
    {"notify", "webhook", p_webhook, 0, 0, 0, 0},
    {"notify", "exec", p_exec, 0, 0, 0, 0},
    {"notify", "exec_timeout", p_duration, F(exec_timeout_ms), SECOND, HOUR, 0},
    {"notify", "events", p_events, F(events_mask), 0, 0, KEY_JOIN},
    {"notify", "smn_events", p_events, F(smn_events_mask), 0, 0, KEY_JOIN},
    {"notify", "webhook_events", p_events, F(webhook_events_mask), 0, 0, KEY_JOIN},
    {"notify", "exec_events", p_events, F(exec_events_mask), 0, 0, KEY_JOIN},
    {"notify", "queue", p_int, F(notify_queue), 10, 100000, 0},

    {"control", "socket", p_socket, 0, 0, 0, 0},
    {"control", "group", p_group, 0, 0, 0, 0},

    {"metrics", "textfile", p_abspath, F(metrics_textfile), 0, 0, 0},
};

const size_t config_nkeys = nitems(config_keys);

_Static_assert(nitems(config_keys) <= CONFIG_MAX_KEYS, "CONFIG_MAX_KEYS too small");

char *
config_key_parse(struct config *cfg, int i, const char *v)
{
	const struct cfgkey *k = &config_keys[i];

	return k->parse != NULL ? k->parse(cfg, k, v) : NULL;
}

int
config_key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < nitems(config_keys); i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
config_section_known(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(sections); i++)
		if (strlen(sections[i]) == len && memcmp(sections[i], name, len) == 0)
			return true;
	return false;
}
