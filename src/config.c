/*
 * smsguard.conf: libinih does the INI syntax, this file feeds it lines and
 * hands each key to its parser (config_keys.c), then checks what needs more
 * than one key.
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
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ini.h>

#include "config_keys.h"
#include "config_value.h"
#include "smsguard-build.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/events.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define DEFAULT_ENDPOINT_HOST "sms.ap-southeast-3.myhuaweicloud.com"
#define DEFAULT_ENDPOINT "https://" DEFAULT_ENDPOINT_HOST
#define DEFAULT_AGENT_PROCESS "linuxmain"

#define VALUE_MAX 4096 /* a value continued over several lines */

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
	int seen_line[CONFIG_MAX_KEYS];
	int set_line[CONFIG_MAX_KEYS]; /* where a key got a non-empty value; 0 = never */
	/* A list key whose value ends with ',' waits for its continuation line. */
	int pending;
	int pending_line;
	char *joined[CONFIG_MAX_KEYS];
};

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
		if (!config_section_known(p + 1, strlen(p + 1))) {
			fail_at(c, NULL, "[%s]: unknown section", config_esc(p + 1, q));
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
	if (value[0] != '\0') {
		why = config_key_parse(c->cfg, i, value);
		c->set_line[i] = c->lineno;
	}
	if (why != NULL) {
		fail_at(c, config_keys[i].name, "%s", why);
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
	if ((i = config_key_find(section, name)) < 0) {
		char q[QUOTE_MAX], q2[QUOTE_MAX];

		fail_at(c, config_esc(name, q), "unknown key in [%s]", config_esc(section, q2));
		return 0;
	}
	k = &config_keys[i];
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

/* The line of [notify] name when it was given a value, else 0. */
static int
notify_line(const struct cfgctx *c, const char *name)
{
	return c->set_line[config_key_find("notify", name)];
}

/* A [notify] key that only means something beside another one is refused without it. */
static void
notify_check(struct cfgctx *c)
{
	static const struct {
		const char *key, *needs, *why;
	} pairs[] = {
	    {"smn_endpoint", "smn_topic", "there is no smn_topic to publish to"},
	    {"smn_events", "smn_topic", "there is no smn_topic to publish to"},
	    {"webhook_events", "webhook", "there is no webhook to post to"},
	    {"exec_events", "exec", "there is no exec hook to run"},
	    {"exec_timeout", "exec", "there is no exec hook to run"},
	};
	const struct config *cfg = c->cfg;
	bool smn = cfg->smn_topic != NULL, hook = cfg->webhook != NULL, ex = cfg->exec_argc > 0;

	for (size_t i = 0; i < nitems(pairs); i++) {
		if (notify_line(c, pairs[i].key) != 0 && notify_line(c, pairs[i].needs) == 0) {
			c->lineno = notify_line(c, pairs[i].key);
			fail_at(c, pairs[i].key, "not used: %s", pairs[i].why);
		}
	}
	if (!smn && !hook && !ex) {
		const char *k = notify_line(c, "events") != 0 ? "events" : "queue";

		if ((c->lineno = notify_line(c, k)) != 0)
			fail_at(c, k, "not used: no sink is set (smn_topic, webhook or exec)");
	} else if ((c->lineno = notify_line(c, "events")) != 0 &&
	    (!smn || cfg->smn_events_mask != 0) && (!hook || cfg->webhook_events_mask != 0) &&
	    (!ex || cfg->exec_events_mask != 0)) {
		fail_at(c, "events", "not used: every sink set has a list of its own");
	}
}

/* Checks that need more than one key. */
static void
cross_check(struct cfgctx *c)
{
	struct config *cfg = c->cfg;
	int ipoll = config_key_find("task", "poll"), iidle = config_key_find("task", "poll_idle");
	char a[32], b[32];

	if (cfg->poll_idle_ms < cfg->poll_ms) {
		/* The later of the two is the one that broke the pair. */
		int i = c->seen_line[iidle] > c->seen_line[ipoll] ? iidle : ipoll;

		c->lineno = c->seen_line[i];
		fail_at(c, config_keys[i].name, "poll_idle (%s) is shorter than poll (%s)",
		    util_format_duration(cfg->poll_idle_ms, a, sizeof(a)),
		    util_format_duration(cfg->poll_ms, b, sizeof(b)));
	}
	notify_check(c);
	if (cfg->has_schedule) {
		char *cause = NULL;

		/* SMS keeps 5 periods a day: every day of the coming year must fit, DST days too. */
		if (schedule_check_days(&cfg->schedule, cfg->timezone, time(NULL), &cause) != 0) {
			c->lineno = c->seen_line[config_key_find("ratelimit", "schedule")];
			fail_at(c, "schedule", "%s", cause);
		}
		free(cause);
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
	cfg->ratelimit_threshold = 10;
	cfg->exec_timeout_ms = 30 * SECOND;
	cfg->events_mask = EVENTS_MASK_ALL;
	cfg->notify_queue = 1000;
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
	config_argv_free(cfg->restart_argv, &cfg->restart_argc);
	config_argv_free(cfg->exec_argv, &cfg->exec_argc);
	/* Answers should hold placeholders, but a typed-in password must not linger. */
	for (int i = 0; i < cfg->nanswers; i++) {
		util_wipe(cfg->answers[i], strlen(cfg->answers[i]));
		free(cfg->answers[i]);
	}
	free(cfg->timezone);
	free(cfg->smn_topic);
	free(cfg->smn_endpoint);
	free(cfg->webhook);
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
	c.cfg->credentials_line = c.seen_line[config_key_find("cloud", "credentials")];
	free(c.buf);
	for (size_t i = 0; i < config_nkeys; i++)
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
