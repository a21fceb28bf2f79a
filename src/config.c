/*
 * smsguard.conf: libinih does the INI syntax, this file does the meaning.
 *
 * libinih 55 (Debian 12) is built with its defaults: 200-byte lines, inline
 * comments only for ';', multi-line values (an indented line continues the
 * previous key), no handler call for a bare section line and no line numbers
 * in the handler. We therefore feed it through our own reader, which counts
 * lines, strips inline '#' comments the same way inih strips ';' ones (after
 * white space), refuses overlong lines and NUL bytes instead of letting them be
 * split or cut, checks section names (so an empty unknown section is still
 * reported) and marks continuation lines so a repeated key can be told from
 * one continued over several lines.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ini.h>

#include "smsguard-build.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/events.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define DEFAULT_ENDPOINT_HOST "sms.ap-southeast-3.myhuaweicloud.com"
#define DEFAULT_ENDPOINT "https://" DEFAULT_ENDPOINT_HOST
#define DEFAULT_AGENT_PROCESS "linuxmain"
#define ZONEINFO_DIR "/usr/share/zoneinfo"

#define MAX_KEYS 64
#define VALUE_MAX 4096 /* a value continued over several lines */
#define URL_MAX 2048
#define ANSWER_MAX 512
#define QUOTE_MAX 72 /* how much of a bad value an error message shows */

#define SECOND 1000ull
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

struct cfgctx;
struct cfgkey;

/* Returns NULL, or the reason the value is bad (malloc'd). */
typedef char *(*parse_fn)(struct cfgctx *, const struct cfgkey *, const char *);

#define KEY_JOIN 0x1  /* continuation lines join the value with a space */
#define KEY_LINES 0x2 /* continuation lines are further lines of the value */

struct cfgkey {
	const char *section;
	const char *name;
	parse_fn parse;
	size_t off; /* the field in struct config, for the generic parsers */
	uint64_t min, max;
	int flags;
};

struct cfgctx {
	struct config *cfg;
	const char *file;
	FILE *fp;
	char *buf; /* getline's */
	size_t bufcap;
	int lineno;
	bool continuation; /* the current line continues the previous key */
	char prev_key[INI_MAX_LINE];
	char *err; /* the first error, complete with FILE:LINE */
	int seen_line[MAX_KEYS];
	/* A list key whose value ends with ',' waits for its continuation line. */
	int pending;
	int pending_line;
	char *joined[MAX_KEYS];
};

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

/* Escaped and cut for an error message: config values are untrusted text. */
static const char *
esc(const char *v, char buf[QUOTE_MAX])
{
	return log_escape(v, -1, buf, QUOTE_MAX);
}

/* The same in double quotes. */
static const char *
quote(const char *v, char buf[QUOTE_MAX + 2])
{
	char e[QUOTE_MAX];

	snprintf(buf, QUOTE_MAX + 2, "\"%s\"", esc(v, e));
	return buf;
}

#define FIELD(type, cfg, k) ((type *)(void *)((char *)(cfg) + (k)->off))

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static bool
has_ctl(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return true;
	return false;
}

/* A strict decimal number: no sign, no white space, no trailing junk. */
static int
parse_uint(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > max)
		return -ERANGE;
	*out = n;
	return 0;
}

static char *
duration_reason(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char q[QUOTE_MAX + 2], a[32], b[32];
	uint64_t ms;

	if (util_parse_duration_ms(v, &ms) != 0)
		return xasprintf("bad duration %s (e.g. 500ms, 2s, 5m, 1h)", quote(v, q));
	if (ms < min || ms > max) {
		if (min == 0)
			return xasprintf("%s is too long (at most %s)", quote(v, q),
			    util_format_duration(max, b, sizeof(b)));
		return xasprintf("%s is out of range (%s to %s)", quote(v, q),
		    util_format_duration(min, a, sizeof(a)),
		    util_format_duration(max, b, sizeof(b)));
	}
	*out = ms;
	return NULL;
}

static char *
p_duration(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	return duration_reason(v, k->min, k->max, FIELD(uint64_t, c->cfg, k));
}

static char *
p_int(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	uint64_t n;

	if (parse_uint(v, strlen(v), UINT32_MAX, &n) != 0 || n < k->min || n > k->max)
		return xasprintf("%s is not a whole number from %llu to %llu", quote(v, q),
		    (unsigned long long)k->min, (unsigned long long)k->max);
	*FIELD(int, c->cfg, k) = (int)n;
	return NULL;
}

static char *
p_bool(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	char q[QUOTE_MAX + 2];

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*FIELD(bool, c->cfg, k) = true;
			return NULL;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*FIELD(bool, c->cfg, k) = false;
			return NULL;
		}
	}
	return xasprintf("%s is not a boolean (on/off, yes/no, true/false, 1/0)", quote(v, q));
}

static char *
abspath_reason(const char *v)
{
	char q[QUOTE_MAX + 2];

	if (v[0] != '/')
		return xasprintf("%s is not an absolute path", quote(v, q));
	if (strlen(v) >= PATH_MAX)
		return xasprintf("path too long (at most %d bytes)", PATH_MAX - 1);
	if (has_ctl(v))
		return xasprintf("%s contains control characters", quote(v, q));
	return NULL;
}

static char *
p_abspath(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char *why = abspath_reason(v);

	if (why == NULL)
		set_str(FIELD(char *, c->cfg, k), v);
	return why;
}

static char *
p_credentials(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char *why = p_abspath(c, k, v);

	/* Naming the default path changes nothing: the SDK variables still apply. */
	if (why == NULL)
		c->cfg->credentials_explicit = strcmp(v, CREDENTIALS_DEFAULT_PATH) != 0;
	return why;
}

static char *
p_ca_file(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	struct stat st;
	char *why;

	if ((why = abspath_reason(v)) != NULL)
		return why;
	if (stat(v, &st) != 0)
		return xasprintf("%s: %s", quote(v, q), strerror(errno));
	if (!S_ISREG(st.st_mode))
		return xasprintf("%s is not a regular file", quote(v, q));
	set_str(&c->cfg->ca_file, v);
	return NULL;
}

static char *
p_socket(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	struct sockaddr_un sun;
	char *why;

	if ((why = abspath_reason(v)) != NULL)
		return why;
	if (strlen(v) >= sizeof(sun.sun_path))
		return xasprintf("socket path too long (%zu bytes, at most %zu)", strlen(v),
		    sizeof(sun.sun_path) - 1);
	set_str(&c->cfg->socket_path, v);
	return NULL;
}

static char *
p_log_level(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	enum log_level l;
	char q[QUOTE_MAX + 2];

	if (log_level_from_name(v, &l) != 0)
		return xasprintf("unknown log level %s (error, warn, info or debug)", quote(v, q));
	c->cfg->log_level = (int)l;
	return NULL;
}

/* ---- URLs ---- */

struct url {
	char scheme[16];
	char host[256];   /* without the brackets of an IPv6 literal */
	const char *auth; /* scheme://AUTHORITY… */
	size_t authlen;
	const char *rest; /* path, query, fragment: everything after the authority */
	bool userinfo;
};

static bool
hostname_ok(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '_')
			return false;
		if (h[i] == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return h[n - 1] != '-';
}

static bool
host_is_loopback(const char *h)
{
	struct in_addr a4;

	if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Returns NULL or a static reason. */
static const char *
url_split(const char *v, struct url *u)
{
	const char *p = strstr(v, "://"), *a, *e, *h, *he, *port = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strlen(v) > URL_MAX)
		return "URL too long";
	for (const char *s = v; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return "URL contains white space or non-ASCII characters";
	if (p == NULL || p == v || (size_t)(p - v) >= sizeof(u->scheme))
		return "not a URL (scheme://host[:port])";
	for (size_t i = 0; i < (size_t)(p - v); i++)
		u->scheme[i] = (char)tolower((unsigned char)v[i]);
	a = p + 3;
	e = a + strcspn(a, "/?#");
	u->auth = a;
	u->authlen = (size_t)(e - a);
	u->rest = e;
	h = a;
	for (const char *s = a; s < e; s++)
		if (*s == '@') {
			u->userinfo = true;
			h = s + 1;
		}
	if (*h == '[') {
		struct in6_addr a6;

		he = memchr(h, ']', (size_t)(e - h));
		if (he == NULL || (size_t)(he - h - 1) >= sizeof(u->host))
			return "bad IPv6 address in URL";
		memcpy(u->host, h + 1, (size_t)(he - h - 1));
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return "bad IPv6 address in URL";
		he++;
		if (he < e && *he != ':')
			return "bad host in URL";
	} else {
		he = memchr(h, ':', (size_t)(e - h));
		if (he == NULL)
			he = e;
		n = (size_t)(he - h);
		if (n == 0 || n >= sizeof(u->host))
			return "URL has no host";
		memcpy(u->host, h, n);
		if (!hostname_ok(u->host))
			return "bad host name in URL";
	}
	if (he < e) {
		uint64_t pn;

		port = he + 1;
		if (parse_uint(port, (size_t)(e - port), 65535, &pn) != 0 || pn == 0)
			return "bad port in URL (1 to 65535)";
	}
	return NULL;
}

static bool
rest_is_empty(const char *rest)
{
	return rest[0] == '\0' || strcmp(rest, "/") == 0;
}

/* https://host[:port] (http:// only to loopback), stored without a trailing slash. */
static char *
server_url(const char *v, char **dst, char **host_out)
{
	char q[QUOTE_MAX + 2];
	const char *why;
	struct url u;

	if ((why = url_split(v, &u)) != NULL)
		return xasprintf("%s: %s", quote(v, q), why);
	if (strcmp(u.scheme, "https") != 0 &&
	    !(strcmp(u.scheme, "http") == 0 && host_is_loopback(u.host)))
		return xasprintf(
		    "%s: must be https:// (http:// only to 127.0.0.1, ::1 or localhost)",
		    quote(v, q));
	if (u.userinfo)
		return xasprintf(
		    "%s: user name or password in the URL is not allowed", quote(v, q));
	if (!rest_is_empty(u.rest))
		return xasprintf("%s: must not have a path, query or fragment", quote(v, q));
	free(*dst);
	*dst = xasprintf("%s://%.*s", u.scheme, (int)u.authlen, u.auth);
	if (host_out != NULL)
		set_str(host_out, u.host);
	return NULL;
}

static char *
p_endpoint(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	return server_url(v, &c->cfg->endpoint, &c->cfg->endpoint_host);
}

static char *
p_smn_endpoint(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	return server_url(v, &c->cfg->smn_endpoint, NULL);
}

static char *
p_proxy(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	static const char *const schemes[] = {"http", "https", "socks5", "socks5h"};
	char q[QUOTE_MAX + 2];
	const char *why;
	struct url u;
	bool ok = false;

	if ((why = url_split(v, &u)) != NULL)
		return xasprintf("%s: %s", quote(v, q), why);
	for (size_t i = 0; i < nitems(schemes); i++)
		ok = ok || strcmp(u.scheme, schemes[i]) == 0;
	if (!ok)
		return xasprintf("%s: scheme must be http, https, socks5 or socks5h", quote(v, q));
	/* The config file is world-readable; proxy passwords would not be secret there. */
	if (u.userinfo)
		return xasprintf(
		    "%s: user name or password in the proxy URL is not supported", quote(v, q));
	if (!rest_is_empty(u.rest))
		return xasprintf("%s: must not have a path", quote(v, q));
	set_str(&c->cfg->proxy, v);
	return NULL;
}

static char *
p_webhook(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	const char *why;
	struct url u;

	if ((why = url_split(v, &u)) != NULL)
		return xasprintf("%s: %s", quote(v, q), why);
	if (strcmp(u.scheme, "https") != 0 &&
	    !(strcmp(u.scheme, "http") == 0 && host_is_loopback(u.host)))
		return xasprintf(
		    "%s: must be https:// (http:// only to 127.0.0.1, ::1 or localhost)",
		    quote(v, q));
	if (u.userinfo)
		return xasprintf(
		    "%s: user name or password in the URL is not allowed", quote(v, q));
	if (strchr(u.rest, '#') != NULL)
		return xasprintf("%s: must not have a fragment", quote(v, q));
	set_str(&c->cfg->webhook, v);
	return NULL;
}

/* ---- identifiers ---- */

static bool
all_of(const char *v, const char *extra)
{
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char)*v) && (extra == NULL || strchr(extra, *v) == NULL))
			return false;
	return true;
}

static char *
p_project_id(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strlen(v) > 64 || !all_of(v, NULL))
		return xasprintf(
		    "%s is not a project id (letters and digits, at most 64)", quote(v, q));
	set_str(&c->cfg->project_id, v);
	return NULL;
}

static char *
p_task_id(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strlen(v) > 36)
		return xasprintf("task id too long (%zu characters, at most 36)", strlen(v));
	if (!all_of(v, "-"))
		return xasprintf("%s is not a task id (letters, digits and '-')", quote(v, q));
	set_str(&c->cfg->task_id, v);
	return NULL;
}

static char *
p_address(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];
	struct in6_addr a6;

	if (inet_pton(AF_INET6, v, &a6) != 1 && !hostname_ok(v))
		return xasprintf("%s is not an IP address or host name", quote(v, q));
	set_str(&c->cfg->target_address, v);
	return NULL;
}

static char *
p_process(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	/* The kernel keeps 15 characters of a process name in /proc/PID/comm. */
	if (strlen(v) > 15)
		return xasprintf("process name too long (%zu characters, at most 15)", strlen(v));
	if (strchr(v, '/') != NULL || has_ctl(v))
		return xasprintf("%s is not a process name", quote(v, q));
	set_str(&c->cfg->agent_process, v);
	return NULL;
}

static char *
p_smn_topic(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2], buf[512], *region, *project, *topic, *end;
	const char *form = "(urn:smn:<region>:<project_id>:<topic>)";

	if (strlen(v) >= sizeof(buf) || strncmp(v, "urn:smn:", 8) != 0)
		return xasprintf("%s is not an SMN topic URN %s", quote(v, q), form);
	util_strlcpy(buf, v + 8, sizeof(buf));
	region = buf;
	if ((project = strchr(region, ':')) == NULL || (topic = strchr(project + 1, ':')) == NULL)
		return xasprintf("%s is not an SMN topic URN %s", quote(v, q), form);
	*project++ = '\0';
	*topic++ = '\0';
	end = topic + strlen(topic);
	if (*region == '\0' || strlen(region) > 64 || !all_of(region, "-"))
		return xasprintf("%s: bad region in topic URN %s", quote(v, q), form);
	if (*project == '\0' || strlen(project) > 64 || !all_of(project, NULL))
		return xasprintf("%s: bad project id in topic URN %s", quote(v, q), form);
	if (*topic == '\0' || end - topic > 255 || !all_of(topic, "-_") ||
	    !isalnum((unsigned char)*topic))
		return xasprintf("%s: bad topic name in topic URN %s", quote(v, q), form);
	set_str(&c->cfg->smn_topic, v);
	return NULL;
}

static char *
p_timezone(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2], path[sizeof(ZONEINFO_DIR) + 130];
	struct stat st;

	if (strlen(v) > 128 || v[0] == '/' || strstr(v, "..") != NULL || !all_of(v, "_+-/"))
		return xasprintf(
		    "%s is not a time zone name (like Europe/Paris or UTC)", quote(v, q));
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, v);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return xasprintf("unknown time zone %s (not in " ZONEINFO_DIR ")", quote(v, q));
	set_str(&c->cfg->timezone, v);
	return NULL;
}

static char *
p_group(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2], *buf = NULL;
	struct group gr, *res = NULL;
	size_t len = 4096;
	int rc;

	if (strlen(v) > 64 || has_ctl(v))
		return xasprintf("%s is not a group name", quote(v, q));
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
		set_str(&c->cfg->group, v);
		c->cfg->gid = gr.gr_gid;
		c->cfg->has_gid = true;
	}
	free(buf);
	if (rc != 0 && rc != ENOENT && rc != ESRCH)
		return xasprintf("cannot look up group %s: %s", quote(v, q), strerror(rc));
	if (res == NULL)
		return xasprintf("unknown group %s", quote(v, q));
	return NULL;
}

/* ---- enums ---- */

static char *
p_restart(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strcasecmp(v, "when-dead") == 0)
		c->cfg->agent_restart = AGENT_RESTART_WHEN_DEAD;
	else if (strcasecmp(v, "never") == 0)
		c->cfg->agent_restart = AGENT_RESTART_NEVER;
	else
		return xasprintf("%s is not when-dead or never", quote(v, q));
	return NULL;
}

static char *
p_apply(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	char q[QUOTE_MAX + 2];

	if (strcasecmp(v, "cloud") == 0)
		c->cfg->ratelimit_apply = RATELIMIT_APPLY_CLOUD;
	else if (strcasecmp(v, "off") == 0)
		c->cfg->ratelimit_apply = RATELIMIT_APPLY_OFF;
	else
		return xasprintf("%s is not cloud or off", quote(v, q));
	return NULL;
}

/* ---- lists ---- */

static char *
p_ports(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	struct config *cfg = c->cfg;
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
		if (parse_uint(v, len, 65535, &p) != 0 || p == 0) {
			char tok[QUOTE_MAX];

			util_strlcpy(tok, v, len < sizeof(tok) ? len + 1 : sizeof(tok));
			return xasprintf("bad port %s (auto, or ports 1 to 65535)", quote(tok, q));
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
p_events(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	uint32_t mask = 0;

	if (strcasecmp(v, "all") == 0) {
		c->cfg->events_mask = EVENTS_MASK_ALL;
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
			return xasprintf(
			    "unknown event %s (all, or a list of: %s)", quote(name, q), list);
		}
		mask |= 1u << t;
		v += len;
	}
	if (mask == 0)
		return xstrdup("no events (all, or a list like task_failed,task_resumed)");
	c->cfg->events_mask = mask;
	return NULL;
}

static char *
p_budget(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	const char *slash = strchr(v, '/');
	char q[QUOTE_MAX + 2], *why;
	uint64_t n, win;

	if (slash == NULL || parse_uint(v, (size_t)(slash - v), 1000, &n) != 0 || n < 1)
		return xasprintf(
		    "%s is not N/PERIOD with N from 1 to 1000 (e.g. 6/1h)", quote(v, q));
	if ((why = duration_reason(slash + 1, SECOND, 7 * DAY, &win)) != NULL) {
		char *r = xasprintf("period: %s", why);

		free(why);
		return r;
	}
	c->cfg->budget_actions = (int)n;
	c->cfg->budget_window_ms = win;
	return NULL;
}

static char *
p_backoff(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	const char *dots = strstr(v, "..");
	char q[QUOTE_MAX + 2], a[32], b[32], *lo, *why;
	uint64_t min, max;

	if (dots == NULL)
		return xasprintf("%s is not MIN..MAX (e.g. 30s..15m)", quote(v, q));
	lo = xasprintf("%.*s", (int)(dots - v), v);
	why = duration_reason(util_trim(lo), 100, DAY, &min);
	free(lo);
	if (why == NULL)
		why = duration_reason(dots + 2, 100, DAY, &max);
	if (why != NULL) {
		char *r = xasprintf("%s (in %s)", why, quote(v, q));

		free(why);
		return r;
	}
	if (min > max)
		return xasprintf("minimum %s is above maximum %s",
		    util_format_duration(min, a, sizeof(a)),
		    util_format_duration(max, b, sizeof(b)));
	c->cfg->backoff_min_ms = min;
	c->cfg->backoff_max_ms = max;
	return NULL;
}

static char *
p_schedule(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	struct schedule s;
	char *cause = NULL;

	if (schedule_parse(v, &s, &cause) != 0)
		return cause;
	c->cfg->schedule = s;
	c->cfg->has_schedule = s.nrules > 0;
	return NULL;
}

/* ---- the agent's restart ---- */

static void
argv_clear(struct config *cfg)
{
	for (int i = 0; i < cfg->restart_argc; i++) {
		free(cfg->restart_argv[i]);
		cfg->restart_argv[i] = NULL;
	}
	cfg->restart_argc = 0;
}

/* White-space separated words; "double quotes" group, with \" and \\ inside them. */
static char *
p_restart_command(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	struct config *cfg = c->cfg;
	char *argv[CONFIG_MAX_ARGV], *word = NULL, *why = NULL;
	int argc = 0;
	size_t wl = 0;
	const char *p = v;

	while (why == NULL) {
		bool quoted = false, any = false;

		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		word = xmalloc(strlen(p) + 1);
		wl = 0;
		for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t')); p++) {
			any = true;
			if (*p == '"') {
				quoted = !quoted;
			} else if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
				word[wl++] = *++p;
			} else {
				word[wl++] = *p;
			}
		}
		word[wl] = '\0';
		if (quoted) {
			why = xstrdup("unterminated \" quote");
		} else if (argc == CONFIG_MAX_ARGV) {
			why = xasprintf("too many arguments (at most %d)", CONFIG_MAX_ARGV);
		} else if (any) {
			argv[argc++] = word;
			word = NULL;
		}
		free(word);
		word = NULL;
	}
	if (why == NULL && argc == 0)
		why = xstrdup("empty command");
	if (why == NULL && argv[0][0] != '/')
		why = xasprintf("the program must be an absolute path, not \"%.40s\"", argv[0]);
	if (why != NULL) {
		for (int i = 0; i < argc; i++)
			free(argv[i]);
		return why;
	}
	argv_clear(cfg);
	for (int i = 0; i < argc; i++)
		cfg->restart_argv[i] = argv[i];
	cfg->restart_argv[argc] = NULL;
	cfg->restart_argc = argc;
	return NULL;
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
			char *r = xasprintf(
			    "unknown placeholder %s (only {ak} {sk} {domain})", esc(name, q));

			free(name);
			return r;
		}
		i += n - 1;
	}
	return NULL;
}

/* Each call adds lines: a continuation line is one, and "\n" in a value splits it. */
static char *
p_answers(struct cfgctx *c, const struct cfgkey *k, const char *v)
{
	struct config *cfg = c->cfg;

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

static const struct cfgkey keys[] = {
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

    {"notify", "smn_topic", p_smn_topic, 0, 0, 0, 0},
    {"notify", "smn_endpoint", p_smn_endpoint, 0, 0, 0, 0},
    {"notify", "webhook", p_webhook, 0, 0, 0, 0},
    {"notify", "exec", p_abspath, F(exec), 0, 0, 0},
    {"notify", "events", p_events, 0, 0, 0, KEY_JOIN},

    {"control", "socket", p_socket, 0, 0, 0, 0},
    {"control", "group", p_group, 0, 0, 0, 0},

    {"metrics", "textfile", p_abspath, F(metrics_textfile), 0, 0, 0},
};

_Static_assert(nitems(keys) <= MAX_KEYS, "MAX_KEYS too small");

static int
key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < nitems(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
section_known(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(sections); i++)
		if (strlen(sections[i]) == len && memcmp(sections[i], name, len) == 0)
			return true;
	return false;
}

static void fail_at(struct cfgctx *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail_at(struct cfgctx *c, const char *what, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (c->err != NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	msg = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	/* Line 0 would send a reader looking for a line that does not exist. */
	if (c->lineno == 0)
		c->err = xasprintf(
		    "%s: %s%s%s", c->file, what != NULL ? what : "", what != NULL ? ": " : "", msg);
	else if (what != NULL)
		c->err = xasprintf("%s:%d: %s: %s", c->file, c->lineno, what, msg);
	else
		c->err = xasprintf("%s:%d: %s", c->file, c->lineno, msg);
	free(msg);
}

/*
 * Cuts an inline comment: '#' or ';' at the start or after white space, the
 * way inih treats ';' (so a value cannot contain " #" or " ;").
 */
static void
strip_comment(char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		if ((s[i] == '#' || s[i] == ';') && (i == 0 || isspace((unsigned char)s[i - 1]))) {
			s[i] = '\0';
			return;
		}
	}
}

/* Looks at the line inih is about to get, mirroring its rules (see the top). */
static bool
line_check(struct cfgctx *c, char *line)
{
	char *p = line, *end, q[QUOTE_MAX];
	size_t n;

	if (c->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	if (isspace((unsigned char)*p) && *util_trim(p) != '\0' && c->prev_key[0] != '\0') {
		c->continuation = true;
		return true;
	}
	c->continuation = false;
	p = util_trim(p);
	if (*p == '\0')
		return true;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL) {
			fail_at(c, NULL, "syntax error: missing ']' after the section name");
			return false;
		}
		if (end[1] != '\0') {
			fail_at(c, NULL, "syntax error: text after ']'");
			return false;
		}
		*end = '\0';
		if (!section_known(p + 1, strlen(p + 1))) {
			fail_at(c, NULL, "[%s]: unknown section", esc(p + 1, q));
			return false;
		}
		/* The default credentials path applies here when no key names one. */
		if (strcmp(p + 1, "cloud") == 0 && c->cfg->cloud_line == 0)
			c->cfg->cloud_line = c->lineno;
		*end = ']';
		c->prev_key[0] = '\0';
		return true;
	}
	n = strcspn(p, "=:");
	if (p[n] != '=') {
		fail_at(c, NULL, "syntax error: expected 'key = value' or '[section]'");
		return false;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	if (n == 0) {
		fail_at(c, NULL, "syntax error: no key before '='");
		return false;
	}
	/* inih remembers this name for continuation lines (its prev_name). */
	memcpy(c->prev_key, p, n);
	c->prev_key[n] = '\0';
	return true;
}

static bool
key_parse(struct cfgctx *c, int i, const char *value)
{
	char *why = NULL;

	/* An empty value leaves the default. */
	if (value[0] != '\0')
		why = keys[i].parse(c, &keys[i], value);
	if (why != NULL) {
		fail_at(c, keys[i].name, "%s", why);
		free(why);
		return false;
	}
	return true;
}

/* The value ended with ',' but no continuation line followed: parse it as it is. */
static bool
pending_finish(struct cfgctx *c)
{
	int i = c->pending, lineno = c->lineno;

	if (i < 0)
		return true;
	c->pending = -1;
	c->lineno = c->pending_line;
	if (!key_parse(c, i, c->joined[i]))
		return false;
	c->lineno = lineno;
	return true;
}

static char *
cfg_reader(char *str, int num, void *stream)
{
	struct cfgctx *c = stream;
	ssize_t n;
	char *line;

	if (c->err != NULL)
		return NULL;
	n = getline(&c->buf, &c->bufcap, c->fp);
	if (n < 0) {
		if (ferror(c->fp)) {
			c->lineno++;
			fail_at(c, NULL, "read error: %s", strerror(errno));
		}
		pending_finish(c);
		return NULL;
	}
	c->lineno++;
	line = c->buf;
	if (memchr(line, '\0', (size_t)n) != NULL) {
		fail_at(c, NULL, "syntax error: NUL byte in the line");
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	strip_comment(line);
	n = (ssize_t)strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	if (n >= num) {
		fail_at(c, NULL,
		    "syntax error: line too long (at most %d characters before a comment)",
		    num - 1);
		return NULL;
	}
	memcpy(str, line, (size_t)n + 1);
	if (!line_check(c, line))
		return NULL;
	/* Blank lines and comments do not end a value, as in inih. */
	if (!c->continuation && str[strspn(str, " \t")] != '\0' && !pending_finish(c))
		return NULL;
	return str;
}

static int
cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfgctx *c = user;
	const struct cfgkey *k;
	int i;

	if (c->err != NULL)
		return 0;
	if (section[0] == '\0') {
		fail_at(c, name, "key outside of any [section]");
		return 0;
	}
	if ((i = key_find(section, name)) < 0) {
		char q[QUOTE_MAX], q2[QUOTE_MAX];

		fail_at(c, esc(name, q), "unknown key in [%s]", esc(section, q2));
		return 0;
	}
	k = &keys[i];
	if (c->continuation) {
		if (!(k->flags & (KEY_JOIN | KEY_LINES))) {
			fail_at(c, name,
			    "an indented line continues the value of %s; only restart_answers, "
			    "schedule, events and ports take continuation lines (remove the "
			    "indentation)",
			    name);
			return 0;
		}
	} else if (c->seen_line[i] != 0) {
		fail_at(c, name, "repeated key (first set on line %d)", c->seen_line[i]);
		return 0;
	} else {
		c->seen_line[i] = c->lineno;
	}

	if (k->flags & KEY_JOIN) {
		char *j = c->joined[i];
		size_t len;

		c->joined[i] = j == NULL ? xstrdup(value) : xasprintf("%s %s", j, value);
		free(j);
		if (strlen(c->joined[i]) > VALUE_MAX) {
			fail_at(c, name, "value too long (at most %d characters)", VALUE_MAX);
			return 0;
		}
		value = util_trim(c->joined[i]);
		len = strlen(value);
		if (len > 0 && value[len - 1] == ',') {
			c->pending = i;
			c->pending_line = c->lineno;
			return 1;
		}
		c->pending = -1;
	}
	return key_parse(c, i, value) ? 1 : 0;
}

/* Checks that need more than one key. */
static void
cross_check(struct cfgctx *c)
{
	struct config *cfg = c->cfg;
	int ipoll = key_find("task", "poll"), iidle = key_find("task", "poll_idle");
	int ismn = key_find("notify", "smn_endpoint");
	char a[32], b[32];

	if (cfg->poll_idle_ms < cfg->poll_ms) {
		/* The later of the two is the one that broke the pair. */
		int i = c->seen_line[iidle] > c->seen_line[ipoll] ? iidle : ipoll;

		c->lineno = c->seen_line[i];
		fail_at(c, keys[i].name, "poll_idle (%s) is shorter than poll (%s)",
		    util_format_duration(cfg->poll_idle_ms, a, sizeof(a)),
		    util_format_duration(cfg->poll_ms, b, sizeof(b)));
	}
	if (cfg->smn_endpoint != NULL && cfg->smn_topic == NULL) {
		c->lineno = c->seen_line[ismn];
		fail_at(c, "smn_endpoint", "set, but there is no smn_topic to publish to");
	}
}

struct config *
config_new_defaults(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->state_dir = xstrdup(SMSGUARD_STATE_DIR);
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->endpoint = xstrdup(DEFAULT_ENDPOINT);
	cfg->endpoint_host = xstrdup(DEFAULT_ENDPOINT_HOST);
	cfg->credentials = xstrdup(CREDENTIALS_DEFAULT_PATH);
	cfg->timeout_ms = 15 * SECOND;
	cfg->poll_ms = 30 * SECOND;
	cfg->poll_idle_ms = 5 * MINUTE;
	cfg->ports_auto = true;
	cfg->probe_interval_ms = 2 * SECOND;
	cfg->probe_timeout_ms = 2 * SECOND;
	cfg->fall = 3;
	cfg->rise = 2;
	cfg->agent_process = xstrdup(DEFAULT_AGENT_PROCESS);
	cfg->agent_restart = AGENT_RESTART_WHEN_DEAD;
	cfg->restart_timeout_ms = 2 * MINUTE;
	cfg->resume = true;
	cfg->settle_ms = 10 * SECOND;
	cfg->budget_actions = 6;
	cfg->budget_window_ms = HOUR;
	cfg->backoff_min_ms = 30 * SECOND;
	cfg->backoff_max_ms = 15 * MINUTE;
	cfg->confirm_ms = 2 * MINUTE;
	cfg->ratelimit_apply = RATELIMIT_APPLY_CLOUD;
	cfg->events_mask = EVENTS_MASK_ALL;
	cfg->socket_path = xstrdup(SMSGUARD_SOCKET_PATH);
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->endpoint);
	free(cfg->endpoint_host);
	free(cfg->project_id);
	free(cfg->credentials);
	free(cfg->ca_file);
	free(cfg->proxy);
	free(cfg->task_id);
	free(cfg->target_address);
	free(cfg->agent_process);
	free(cfg->agent_home);
	argv_clear(cfg);
	/* Answers should hold placeholders, but a typed-in password must not linger. */
	for (int i = 0; i < cfg->nanswers; i++) {
		util_wipe(cfg->answers[i], strlen(cfg->answers[i]));
		free(cfg->answers[i]);
	}
	free(cfg->timezone);
	free(cfg->smn_topic);
	free(cfg->smn_endpoint);
	free(cfg->webhook);
	free(cfg->exec);
	free(cfg->socket_path);
	free(cfg->group);
	free(cfg->metrics_textfile);
	free(cfg);
}

int
config_load_fp(FILE *fp, const char *name, struct config **out, char **cause)
{
	struct cfgctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.cfg = config_new_defaults();
	c.cfg->path = xstrdup(name);
	c.file = name;
	c.fp = fp;
	c.pending = -1;
	rc = ini_parse_stream(cfg_reader, &c, cfg_handler, &c);
	if (c.err == NULL && rc != 0) {
		/* Our reader rejects what inih would; this is a safety net. */
		if (rc > 0)
			c.lineno = rc;
		fail_at(&c, NULL, rc > 0 ? "syntax error" : "cannot parse the file");
	}
	if (c.err == NULL)
		cross_check(&c);
	/* Even an empty `credentials =` is the line that chose the path. */
	c.cfg->credentials_line = c.seen_line[key_find("cloud", "credentials")];
	free(c.buf);
	for (size_t i = 0; i < nitems(keys); i++)
		free(c.joined[i]);
	if (c.err != NULL) {
		config_free(c.cfg);
		*out = NULL;
		*cause = c.err;
		return -EINVAL;
	}
	*out = c.cfg;
	return 0;
}

int
config_load(const char *path, struct config **out, char **cause)
{
	struct stat st;
	FILE *fp;
	int rc;

	*out = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		rc = -errno;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return rc;
	}
	/* Reading a directory fails at its "first line": say what it is instead. */
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		*cause = xasprintf("%s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	rc = config_load_fp(fp, path, out, cause);
	fclose(fp);
	return rc;
}
