/*
 * smsguard.conf: defaults, every key, the shipped examples, and one case per
 * way a config can be wrong (each its own cmocka test, each checking
 * FILE:LINE: key: and that the reason names the problem). The credentials
 * file has tests of its own (test_credentials.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsguard-build.h" /* the build's defaults */
#include "smsguard/config.h"
#include "smsguard/events.h"
#include "smsguard/log.h"
#include "smsguard/sms.h"
#include "smsguard/util.h"

static char tmpdir[] = "/tmp/smsguard-test-config.XXXXXX";

static int
setup_dir(void **state)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
teardown_dir(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to tmpdir/name with the given mode; returns the path (malloc'd). */
static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	size_t len = strlen(text);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static struct config *
load_ok(const char *name, const char *text)
{
	char *path = write_file(name, text, 0644), *cause = NULL;
	struct config *cfg = NULL;
	int rc = config_load(path, &cfg, &cause);

	if (rc != 0)
		fail_msg("config_load: %s", cause);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	free(path);
	return cfg;
}

/* ---- good configs ---- */

static void
test_defaults(void **state)
{
	struct config *cfg = config_new_defaults();

	assert_string_equal(cfg->state_dir, SMSGUARD_STATE_DIR);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_string_equal(cfg->endpoint, "https://sms.ap-southeast-3.myhuaweicloud.com");
	assert_string_equal(cfg->endpoint_host, "sms.ap-southeast-3.myhuaweicloud.com");
	assert_null(cfg->project_id);
	assert_string_equal(cfg->credentials, "/etc/smsguard/credentials");
	assert_false(cfg->credentials_explicit);
	assert_int_equal(cfg->credentials_line, 0);
	assert_int_equal(cfg->cloud_line, 0);
	assert_null(cfg->ca_file);
	assert_null(cfg->proxy);
	assert_int_equal(cfg->timeout_ms, 15000);
	assert_null(cfg->task_id);
	assert_int_equal(cfg->poll_ms, 30000);
	assert_int_equal(cfg->poll_idle_ms, 300000);
	assert_null(cfg->target_address);
	assert_true(cfg->ports_auto);
	assert_int_equal(cfg->nports, 0);
	assert_int_equal(cfg->probe_interval_ms, 2000);
	assert_int_equal(cfg->probe_timeout_ms, 2000);
	assert_int_equal(cfg->fall, 3);
	assert_int_equal(cfg->rise, 2);
	assert_string_equal(cfg->agent_process, "linuxmain");
	assert_null(cfg->agent_home);
	assert_int_equal(cfg->agent_restart, AGENT_RESTART_WHEN_DEAD);
	assert_int_equal(cfg->restart_argc, 0);
	assert_null(cfg->restart_argv[0]);
	assert_int_equal(cfg->restart_timeout_ms, 120000);
	assert_int_equal(cfg->nanswers, 0);
	assert_true(cfg->resume);
	assert_int_equal(cfg->settle_ms, 10000);
	assert_int_equal(cfg->budget_actions, 6);
	assert_int_equal(cfg->budget_window_ms, 3600000);
	assert_int_equal(cfg->backoff_min_ms, 30000);
	assert_int_equal(cfg->backoff_max_ms, 900000);
	assert_int_equal(cfg->confirm_ms, 120000);
	assert_false(cfg->has_schedule);
	assert_null(cfg->timezone);
	assert_int_equal(cfg->ratelimit_apply, RATELIMIT_APPLY_CLOUD);
	assert_true(cfg->ratelimit_threshold == 10);
	assert_null(cfg->smn_topic);
	assert_null(cfg->smn_endpoint);
	assert_null(cfg->webhook);
	assert_false(cfg->webhook_loopback);
	assert_int_equal(cfg->exec_argc, 0);
	assert_null(cfg->exec_argv[0]);
	assert_int_equal(cfg->exec_timeout_ms, 30000);
	assert_int_equal(cfg->events_mask, EVENTS_MASK_ALL);
	assert_int_equal(cfg->smn_events_mask, 0);
	assert_int_equal(cfg->webhook_events_mask, 0);
	assert_int_equal(cfg->exec_events_mask, 0);
	assert_int_equal(cfg->notify_queue, 1000);
	assert_string_equal(cfg->socket_path, SMSGUARD_SOCKET_PATH);
	assert_null(cfg->group);
	assert_false(cfg->has_gid);
	assert_null(cfg->metrics_textfile);
	config_free(cfg);
}

static void
test_empty_file_is_all_defaults(void **state)
{
	struct config *cfg = load_ok("empty.conf", "");

	assert_int_equal(cfg->poll_ms, 30000);
	assert_true(cfg->ports_auto);
	config_free(cfg);
}

/* Every key of every section. */
static void
test_every_key_parsed(void **state)
{
	char *ca = write_file("ca.pem", "not really a certificate\n", 0644);
	char *text = xasprintf("[daemon]\n"
	                       "state_dir = /srv/smsguard\n"
	                       "log_level = debug\n"
	                       "[cloud]\n"
	                       "endpoint = https://sms.example.com:8443/\n"
	                       "project_id = 0123abcdef\n"
	                       "credentials = /srv/creds\n"
	                       "ca_file = %s\n"
	                       "proxy = http://proxy.example.com:3128\n"
	                       "timeout = 20s\n"
	                       "[task]\n"
	                       "id = 8e7e0dc4-5e4b-4e4b-9c2a-0123456789ab\n"
	                       "poll = 10s\n"
	                       "poll_idle = 1m\n"
	                       "[target]\n"
	                       "address = 192.0.2.10\n"
	                       "ports = 22, 8899 8900\n"
	                       "interval = 100ms\n"
	                       "timeout = 150ms\n"
	                       "fall = 5\n"
	                       "rise = 4\n"
	                       "[agent]\n"
	                       "process = fakeagent\n"
	                       "home = /opt/agent\n"
	                       "restart = never\n"
	                       "restart_command = /opt/agent/startup.sh \"--mode x\" -y\n"
	                       "restart_answers = y\\n{ak}\n"
	                       "    {sk}\n"
	                       "restart_timeout = 30s\n"
	                       "[recovery]\n"
	                       "resume = off\n"
	                       "settle = 0\n"
	                       "budget = 3/10m\n"
	                       "backoff = 1s..1m\n"
	                       "confirm = 45s\n"
	                       "[ratelimit]\n"
	                       "schedule = Mon-Fri 08:00-18:00 50\n"
	                       "timezone = UTC\n"
	                       "apply = off\n"
	                       "over_speed_threshold = 12.5\n"
	                       "[notify]\n"
	                       "smn_topic = urn:smn:ap-southeast-3:0a1b2c:alerts\n"
	                       "smn_endpoint = https://smn.example.com/\n"
	                       "webhook = https://hooks.example.com/in?k=v\n"
	                       "exec = /usr/local/bin/on-event --from \"sms guard\"\n"
	                       "exec_timeout = 5s\n"
	                       "events = task_failed, task_resumed\n"
	                       "smn_events = all\n"
	                       "exec_events = task_finished\n"
	                       "queue = 50\n"
	                       "[control]\n"
	                       "socket = /srv/sg.sock\n"
	                       "group = root\n"
	                       "[metrics]\n"
	                       "textfile = /srv/sg.prom\n",
	    ca);
	struct config *cfg = load_ok("every.conf", text);

	assert_string_equal(cfg->state_dir, "/srv/smsguard");
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->endpoint, "https://sms.example.com:8443");
	assert_string_equal(cfg->endpoint_host, "sms.example.com");
	assert_string_equal(cfg->project_id, "0123abcdef");
	assert_string_equal(cfg->credentials, "/srv/creds");
	assert_true(cfg->credentials_explicit);
	assert_int_equal(cfg->credentials_line, 7);
	assert_int_equal(cfg->cloud_line, 4);
	assert_string_equal(cfg->ca_file, ca);
	assert_string_equal(cfg->proxy, "http://proxy.example.com:3128");
	assert_int_equal(cfg->timeout_ms, 20000);
	assert_string_equal(cfg->task_id, "8e7e0dc4-5e4b-4e4b-9c2a-0123456789ab");
	assert_int_equal(cfg->poll_ms, 10000);
	assert_int_equal(cfg->poll_idle_ms, 60000);
	assert_string_equal(cfg->target_address, "192.0.2.10");
	assert_false(cfg->ports_auto);
	assert_int_equal(cfg->nports, 3);
	assert_int_equal(cfg->ports[0], 22);
	assert_int_equal(cfg->ports[1], 8899);
	assert_int_equal(cfg->ports[2], 8900);
	assert_int_equal(cfg->probe_interval_ms, 100);
	assert_int_equal(cfg->probe_timeout_ms, 150);
	assert_int_equal(cfg->fall, 5);
	assert_int_equal(cfg->rise, 4);
	assert_string_equal(cfg->agent_process, "fakeagent");
	assert_string_equal(cfg->agent_home, "/opt/agent");
	assert_int_equal(cfg->agent_restart, AGENT_RESTART_NEVER);
	assert_int_equal(cfg->restart_argc, 3);
	assert_string_equal(cfg->restart_argv[0], "/opt/agent/startup.sh");
	assert_string_equal(cfg->restart_argv[1], "--mode x");
	assert_string_equal(cfg->restart_argv[2], "-y");
	assert_null(cfg->restart_argv[3]);
	assert_int_equal(cfg->nanswers, 3);
	assert_string_equal(cfg->answers[0], "y");
	assert_string_equal(cfg->answers[1], "{ak}");
	assert_string_equal(cfg->answers[2], "{sk}");
	assert_int_equal(cfg->restart_timeout_ms, 30000);
	assert_false(cfg->resume);
	assert_int_equal(cfg->settle_ms, 0);
	assert_int_equal(cfg->budget_actions, 3);
	assert_int_equal(cfg->budget_window_ms, 600000);
	assert_int_equal(cfg->backoff_min_ms, 1000);
	assert_int_equal(cfg->backoff_max_ms, 60000);
	assert_int_equal(cfg->confirm_ms, 45000);
	assert_true(cfg->has_schedule);
	assert_int_equal(cfg->schedule.nrules, 1);
	assert_int_equal(cfg->schedule.rules[0].mbps, 50);
	assert_string_equal(cfg->timezone, "UTC");
	assert_int_equal(cfg->ratelimit_apply, RATELIMIT_APPLY_OFF);
	assert_true(cfg->ratelimit_threshold == 12.5);
	assert_string_equal(cfg->smn_topic, "urn:smn:ap-southeast-3:0a1b2c:alerts");
	assert_string_equal(cfg->smn_endpoint, "https://smn.example.com");
	assert_string_equal(cfg->webhook, "https://hooks.example.com/in?k=v");
	assert_false(cfg->webhook_loopback);
	assert_int_equal(cfg->exec_argc, 3);
	assert_string_equal(cfg->exec_argv[0], "/usr/local/bin/on-event");
	assert_string_equal(cfg->exec_argv[1], "--from");
	assert_string_equal(cfg->exec_argv[2], "sms guard");
	assert_null(cfg->exec_argv[3]);
	assert_int_equal(cfg->exec_timeout_ms, 5000);
	assert_int_equal(cfg->events_mask, (1u << EV_TASK_FAILED) | (1u << EV_TASK_RESUMED));
	assert_int_equal(cfg->smn_events_mask, EVENTS_MASK_ALL);
	assert_int_equal(cfg->webhook_events_mask, 0);
	assert_int_equal(cfg->exec_events_mask, 1u << EV_TASK_FINISHED);
	assert_int_equal(cfg->notify_queue, 50);
	assert_string_equal(cfg->socket_path, "/srv/sg.sock");
	assert_string_equal(cfg->group, "root");
	assert_true(cfg->has_gid);
	assert_int_equal(cfg->gid, 0);
	assert_string_equal(cfg->metrics_textfile, "/srv/sg.prom");
	config_free(cfg);
	free(text);
	free(ca);
}

/* Two strings both unset or equal. */
static void
assert_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static struct config *
load_example(const char *name)
{
	const char *srcdir = getenv("SMSGUARD_SRCDIR");
	struct config *cfg = NULL;
	char *path, *cause = NULL;

	assert_non_null(srcdir);
	path = xasprintf("%s/examples/%s", srcdir, name);
	if (config_load(path, &cfg, &cause) != 0)
		fail_msg("%s", cause);
	free(path);
	return cfg;
}

/* The file installed as /etc/smsguard/smsguard.conf sets nothing: it loads as the defaults. */
static void
test_installed_template_sets_nothing(void **state)
{
	struct config *cfg = load_example("smsguard.conf");
	struct config *def = config_new_defaults();

	assert_same_str(cfg->state_dir, def->state_dir);
	assert_int_equal(cfg->log_level, def->log_level);
	assert_same_str(cfg->endpoint, def->endpoint);
	assert_same_str(cfg->project_id, def->project_id);
	assert_same_str(cfg->credentials, def->credentials);
	assert_false(cfg->credentials_explicit);
	assert_same_str(cfg->ca_file, def->ca_file);
	assert_same_str(cfg->proxy, def->proxy);
	assert_int_equal(cfg->timeout_ms, def->timeout_ms);
	assert_same_str(cfg->task_id, def->task_id);
	assert_int_equal(cfg->poll_ms, def->poll_ms);
	assert_int_equal(cfg->poll_idle_ms, def->poll_idle_ms);
	assert_same_str(cfg->target_address, def->target_address);
	assert_true(cfg->ports_auto);
	assert_int_equal(cfg->probe_interval_ms, def->probe_interval_ms);
	assert_int_equal(cfg->probe_timeout_ms, def->probe_timeout_ms);
	assert_int_equal(cfg->fall, def->fall);
	assert_int_equal(cfg->rise, def->rise);
	assert_same_str(cfg->agent_process, def->agent_process);
	assert_same_str(cfg->agent_home, def->agent_home);
	assert_int_equal(cfg->agent_restart, def->agent_restart);
	assert_int_equal(cfg->restart_argc, 0);
	assert_int_equal(cfg->restart_timeout_ms, def->restart_timeout_ms);
	assert_int_equal(cfg->nanswers, 0);
	assert_true(cfg->resume);
	assert_int_equal(cfg->settle_ms, def->settle_ms);
	assert_int_equal(cfg->budget_actions, def->budget_actions);
	assert_int_equal(cfg->budget_window_ms, def->budget_window_ms);
	assert_int_equal(cfg->backoff_min_ms, def->backoff_min_ms);
	assert_int_equal(cfg->backoff_max_ms, def->backoff_max_ms);
	assert_int_equal(cfg->confirm_ms, def->confirm_ms);
	/* No rate limit, no notification, no metrics file, no group by surprise. */
	assert_false(cfg->has_schedule);
	assert_same_str(cfg->timezone, def->timezone);
	assert_int_equal(cfg->ratelimit_apply, def->ratelimit_apply);
	assert_true(cfg->ratelimit_threshold == def->ratelimit_threshold);
	assert_null(cfg->smn_topic);
	assert_null(cfg->smn_endpoint);
	assert_null(cfg->webhook);
	assert_null(cfg->exec_argv[0]);
	assert_int_equal(cfg->exec_argc, 0);
	assert_int_equal(cfg->notify_queue, def->notify_queue);
	assert_int_equal(cfg->events_mask, def->events_mask);
	assert_same_str(cfg->socket_path, def->socket_path);
	assert_null(cfg->group);
	assert_false(cfg->has_gid);
	assert_null(cfg->metrics_textfile);
	config_free(def);
	config_free(cfg);
}

/* The annotated examples (doc/smsguard/examples) load and say what their comments say. */
static void
test_annotated_examples_parse(void **state)
{
	struct config *cfg = load_example("file-level.conf");

	assert_string_equal(cfg->task_id, "0b9e3f2a-5c7d-4e1f-8a6b-3d2c1b0a9f8e");
	assert_true(cfg->ports_auto);
	assert_string_equal(cfg->agent_home, "/root/SMS-Agent");
	assert_int_equal(cfg->settle_ms, 30000);
	assert_true(cfg->has_schedule);
	assert_int_equal(cfg->schedule.nrules, 3);
	assert_string_equal(cfg->timezone, "Europe/Berlin");
	assert_string_equal(cfg->group, "adm");
	assert_null(cfg->metrics_textfile);
	config_free(cfg);

	cfg = load_example("block-level.conf");
	assert_string_equal(cfg->target_address, "192.168.40.17");
	assert_false(cfg->ports_auto);
	assert_int_equal(cfg->nports, 2);
	assert_int_equal(cfg->ports[0], 22);
	assert_int_equal(cfg->ports[1], 8900);
	assert_int_equal(cfg->fall, 5);
	assert_int_equal(cfg->agent_restart, AGENT_RESTART_WHEN_DEAD);
	assert_int_equal(cfg->budget_actions, 4);
	assert_int_equal(cfg->budget_window_ms, 2 * 3600000);
	assert_int_equal(cfg->confirm_ms, 300000);
	assert_true(cfg->ratelimit_threshold == 20);
	assert_int_equal(cfg->schedule.nrules, 2);
	assert_string_equal(
	    cfg->metrics_textfile, "/var/lib/prometheus/node-exporter/smsguard.prom");
	config_free(cfg);
}

/* A sink's own list (webhook_events here) replaces the global one for it alone. */
static void
test_sink_list_over_lines(void **state)
{
	struct config *cfg = load_ok("sinklist.conf",
	    "[notify]\n"
	    "webhook = http://127.0.0.1:8080/hook\n"
	    "exec = /bin/true\n"
	    "events = task_failed\n"
	    "webhook_events = target_down,\n"
	    "    target_up\n");

	assert_true(cfg->webhook_loopback);
	assert_int_equal(cfg->webhook_events_mask, (1u << EV_TARGET_DOWN) | (1u << EV_TARGET_UP));
	assert_int_equal(cfg->events_mask, 1u << EV_TASK_FAILED);
	assert_int_equal(cfg->exec_events_mask, 0);
	config_free(cfg);
}

static void
test_empty_values_keep_defaults(void **state)
{
	struct config *cfg = load_ok("emptyvals.conf",
	    "[cloud]\n"
	    "endpoint =\n"
	    "project_id =\n"
	    "[task]\n"
	    "id =\n"
	    "poll =\n"
	    "[target]\n"
	    "ports =\n"
	    "[notify]\n"
	    "events =\n");

	assert_string_equal(cfg->endpoint, "https://sms.ap-southeast-3.myhuaweicloud.com");
	assert_null(cfg->project_id);
	assert_null(cfg->task_id);
	assert_int_equal(cfg->poll_ms, 30000);
	assert_true(cfg->ports_auto);
	assert_int_equal(cfg->events_mask, EVENTS_MASK_ALL);
	config_free(cfg);
}

static void
test_inline_comments_hash_and_semicolon(void **state)
{
	struct config *cfg = load_ok("comments.conf",
	    "# a comment\n"
	    "; another\n"
	    "[task] ; the task\n"
	    "poll = 10s ; inline semicolon\n"
	    "poll_idle = 2m # inline hash\n"
	    "    # an indented comment is no continuation\n"
	    "[agent]\n"
	    "home = /opt/on#event;x\n");

	assert_int_equal(cfg->poll_ms, 10000);
	assert_int_equal(cfg->poll_idle_ms, 120000);
	/* Without white space before it, '#' or ';' is part of the value. */
	assert_string_equal(cfg->agent_home, "/opt/on#event;x");
	config_free(cfg);
}

static void
test_byte_order_mark_is_skipped(void **state)
{
	struct config *cfg = load_ok("bom.conf", "\xEF\xBB\xBF[task]\npoll = 7s\n");

	assert_int_equal(cfg->poll_ms, 7000);
	config_free(cfg);
}

static void
test_restart_answers_on_continuation_lines(void **state)
{
	struct config *cfg = load_ok("answers.conf",
	    "[agent]\n"
	    "restart_answers =\n"
	    "    {ak}   ; the access key\n"
	    "\n"
	    "    {sk}\n"
	    "    {domain}\n"
	    "    y\n"
	    "restart = never\n");

	assert_int_equal(cfg->nanswers, 4);
	assert_string_equal(cfg->answers[0], "{ak}");
	assert_string_equal(cfg->answers[1], "{sk}");
	assert_string_equal(cfg->answers[2], "{domain}");
	assert_string_equal(cfg->answers[3], "y");
	assert_int_equal(cfg->agent_restart, AGENT_RESTART_NEVER);
	config_free(cfg);
}

static void
test_restart_answers_literal_newline(void **state)
{
	struct config *cfg = load_ok("answers-nl.conf",
	    "[agent]\n"
	    "restart_answers = {ak}\\n{sk}\\n\\nyes\n");

	assert_int_equal(cfg->nanswers, 4);
	assert_string_equal(cfg->answers[0], "{ak}");
	assert_string_equal(cfg->answers[1], "{sk}");
	assert_string_equal(cfg->answers[2], "");
	assert_string_equal(cfg->answers[3], "yes");
	config_free(cfg);
}

static void
test_restart_command_honours_quotes(void **state)
{
	struct config *cfg = load_ok("cmd.conf",
	    "[agent]\n"
	    "restart_command = \"/opt/SMS Agent/startup.sh\" a\"b c\"d \"say \\\"hi\\\"\" \"\"\n");

	assert_int_equal(cfg->restart_argc, 4);
	assert_string_equal(cfg->restart_argv[0], "/opt/SMS Agent/startup.sh");
	assert_string_equal(cfg->restart_argv[1], "ab cd");
	assert_string_equal(cfg->restart_argv[2], "say \"hi\"");
	assert_string_equal(cfg->restart_argv[3], "");
	assert_null(cfg->restart_argv[4]);
	config_free(cfg);
}

static void
test_schedule_continues_over_lines(void **state)
{
	struct config *cfg = load_ok("sched.conf",
	    "[ratelimit]\n"
	    "schedule = Mon-Fri 08:00-18:00 50,\n"
	    "           Mon-Fri 18:00-08:00 0,\n"
	    "           Sat-Sun 00:00-24:00 0\n");

	assert_true(cfg->has_schedule);
	assert_int_equal(cfg->schedule.nrules, 3);
	config_free(cfg);
}

static void
test_apply_and_threshold_forms(void **state)
{
	static const struct {
		const char *apply, *threshold;
		enum ratelimit_apply want_apply;
		double want_threshold;
	} forms[] = {
	    {"cloud", "10", RATELIMIT_APPLY_CLOUD, 10},
	    {"Cloud", "100", RATELIMIT_APPLY_CLOUD, 100},
	    {"off", "12.5", RATELIMIT_APPLY_OFF, 12.5},
	    {"OFF", "50.0", RATELIMIT_APPLY_OFF, 50},
	    {"cloud", "25%", RATELIMIT_APPLY_CLOUD, 25},
	};

	for (size_t i = 0; i < nitems(forms); i++) {
		char *text = xasprintf("[ratelimit]\napply = %s\nover_speed_threshold = %s\n",
		    forms[i].apply, forms[i].threshold);
		struct config *cfg = load_ok("apply.conf", text);

		assert_int_equal(cfg->ratelimit_apply, forms[i].want_apply);
		assert_true(cfg->ratelimit_threshold == forms[i].want_threshold);
		config_free(cfg);
		free(text);
	}
}

/*
 * A Berlin schedule with four periods on every Shanghai day but the one of
 * Berlin's spring-forward change (test_schedule_zone.c has it day by day). The
 * check runs from today, so this holds while Berlin changes its clocks.
 */
#define DST_ONLY_SCHEDULE                                                                          \
	"daily 08:00-09:00 1, daily 10:00-11:00 2, daily 17:10-17:20 3, daily 17:40-17:50 4"

static void
test_schedule_refused_for_its_dst_day_at_its_line(void **state)
{
	const char *old = getenv("TZ");
	char *saved = old != NULL ? xstrdup(old) : NULL, *cause = NULL, *want;
	char *path = write_file("dst.conf",
	    "[ratelimit]\n"
	    "schedule = " DST_ONLY_SCHEDULE "\n"
	    "timezone = Europe/Berlin\n",
	    0644);
	struct config *cfg = NULL;
	int rc;

	setenv("TZ", ":Asia/Shanghai", 1);
	tzset();
	rc = config_load(path, &cfg, &cause);
	/* The same schedule on a Berlin host is its own clock: four periods a day. */
	setenv("TZ", ":Europe/Berlin", 1);
	tzset();
	cfg = load_ok("dst.conf",
	    "[ratelimit]\n"
	    "schedule = " DST_ONLY_SCHEDULE "\n"
	    "timezone = Europe/Berlin\n");
	config_free(cfg);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	assert_int_equal(rc, -EINVAL);
	want = xasprintf("%s:2: schedule: Sunday ", path);
	if (strncmp(cause, want, strlen(want)) != 0 ||
	    strstr(cause,
	        " (DST change in Europe/Berlin) needs 6 periods; SMS keeps at most 5 a "
	        "day") == NULL)
		fail_msg("cause \"%s\"", cause);
	free(want);
	free(cause);
	free(path);
	free(saved);
}

static void
test_ports_continue_over_lines(void **state)
{
	struct config *cfg = load_ok("lists.conf",
	    "[target]\n"
	    "ports = 22,\n"
	    "        8899\n"
	    "        8900\n");

	assert_int_equal(cfg->nports, 3);
	assert_int_equal(cfg->ports[1], 8899);
	assert_int_equal(cfg->ports[2], 8900);
	config_free(cfg);
}

static void
test_endpoint_forms(void **state)
{
	struct config *cfg = load_ok("ep1.conf", "[cloud]\nendpoint = http://127.0.0.1:8443\n");

	assert_string_equal(cfg->endpoint, "http://127.0.0.1:8443");
	assert_string_equal(cfg->endpoint_host, "127.0.0.1");
	config_free(cfg);
	cfg = load_ok("ep2.conf", "[cloud]\nendpoint = http://[::1]:9/\n");
	assert_string_equal(cfg->endpoint, "http://[::1]:9");
	assert_string_equal(cfg->endpoint_host, "::1");
	config_free(cfg);
	cfg = load_ok("ep3.conf", "[cloud]\nendpoint = http://localhost\n");
	assert_string_equal(cfg->endpoint_host, "localhost");
	config_free(cfg);
}

static void
test_default_credentials_path_is_not_explicit(void **state)
{
	struct config *cfg =
	    load_ok("creddef.conf", "[cloud]\ncredentials = /etc/smsguard/credentials\n");

	assert_false(cfg->credentials_explicit);
	config_free(cfg);
}

static void
test_boolean_spellings(void **state)
{
	static const char *const yes[] = {"on", "yes", "true", "1", "YES"};
	static const char *const no[] = {"off", "no", "false", "0", "Off"};

	for (size_t i = 0; i < nitems(yes); i++) {
		char *t = xasprintf("[recovery]\nresume = %s\n", no[i]);
		struct config *cfg = load_ok("bool.conf", t);

		assert_false(cfg->resume);
		config_free(cfg);
		free(t);
		t = xasprintf("[recovery]\nresume = %s\n", yes[i]);
		cfg = load_ok("bool.conf", t);
		assert_true(cfg->resume);
		config_free(cfg);
		free(t);
	}
}

static void
test_load_from_memory_stream(void **state)
{
	static const char text[] = "[task]\npoll = 3s\n";
	FILE *fp = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct config *cfg = NULL;
	char *cause = NULL;

	assert_non_null(fp);
	assert_int_equal(config_load_fp(fp, "mem.conf", &cfg, &cause), 0);
	assert_string_equal(cfg->path, "mem.conf");
	assert_int_equal(cfg->poll_ms, 3000);
	config_free(cfg);
	fclose(fp);
}

static void
test_missing_file_names_it(void **state)
{
	struct config *cfg = NULL;
	char *path = xasprintf("%s/does-not-exist.conf", tmpdir), *cause = NULL;

	assert_int_equal(config_load(path, &cfg, &cause), -ENOENT);
	assert_null(cfg);
	assert_non_null(cause);
	assert_true(strncmp(cause, path, strlen(path)) == 0);
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	free(path);
}

static void
test_directory_is_named_as_such(void **state)
{
	struct config *cfg = NULL;
	char *cause = NULL, *want = xasprintf("%s: Is a directory", tmpdir);

	assert_int_equal(config_load(tmpdir, &cfg, &cause), -EISDIR);
	assert_null(cfg);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
}

static void
test_config_free_null(void **state)
{
	config_free(NULL);
}

/* The config takes exactly the topic URNs the SMN client can publish to. */
static void
test_smn_topic_rule_is_the_sms_parsers(void **state)
{
	static const char *const urns[] = {"urn:smn:ap-southeast-3:0a1b2c:alerts", "urn:smn:r:p:t",
	    "urn:smn:cn-north-4:my_project:_topic-1", "", "urn:smn:", "urn:smn:r:p", "urn:smn:r::t",
	    "urn:smn:r:p:t:extra", "urn:sns:r:p:t", "urn:smn:r/x:p:t",
	    "urn:smn:ap-southeast-3:0123abc:bad topic"};

	for (size_t i = 0; i < nitems(urns); i++) {
		char *text = xasprintf("[notify]\nsmn_topic = %s\n", urns[i]);
		FILE *fp = fmemopen(text, strlen(text), "r");
		bool good = sms_smn_urn_parse(urns[i], NULL, NULL, NULL) == 0;
		struct config *cfg = NULL;
		char *cause = NULL;
		int rc;

		assert_non_null(fp);
		rc = config_load_fp(fp, "urn.conf", &cfg, &cause);
		fclose(fp);
		/* An empty value is no URN at all: it leaves the topic unset. */
		if (urns[i][0] == '\0') {
			assert_int_equal(rc, 0);
			assert_null(cfg->smn_topic);
		} else if (good) {
			if (rc != 0)
				fail_msg("\"%s\": %s", urns[i], cause);
			assert_string_equal(cfg->smn_topic, urns[i]);
		} else if (rc == 0 || strstr(cause, "urn.conf:2: smn_topic: ") != cause ||
		    strstr(cause, "not an SMN topic URN") == NULL) {
			fail_msg("\"%s\": %s", urns[i], rc == 0 ? "accepted" : cause);
		}
		config_free(cfg);
		free(cause);
		free(text);
	}
}

/* ---- bad configs: one cmocka test per case ---- */

struct bad_case {
	const char *name;
	const char *text;
	int line;
	const char *key;    /* what follows "FILE:LINE: " */
	const char *needle; /* the reason must contain it */
};

#define LONG_SOCKET                                                                                \
	"/run/"                                                                                    \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaa.sock"
#define LONG_LINE                                                                                  \
	"# x\n[task]\nid = "                                                                       \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"             \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaa"                                                                                      \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"

static const struct bad_case bad_cases[] = {
    {"bad_duration", "[target]\ninterval = 2x\n", 2, "interval", "bad duration \"2x\""},
    {"duration_below_floor", "[target]\ninterval = 50ms\n", 2, "interval", "out of range"},
    {"poll_below_one_second", "[task]\npoll = 500ms\n", 2, "poll", "out of range (1s to"},
    {"settle_over_an_hour", "[recovery]\nsettle = 2h\n", 2, "settle", "too long (at most 1h)"},
    {"unknown_key", "[daemon]\n# comment\nfoo = 1\n", 3, "foo", "unknown key in [daemon]"},
    {"key_in_wrong_section", "[cloud]\npoll = 1s\n", 2, "poll", "unknown key in [cloud]"},
    {"unknown_section", "[daemon]\nlog_level = info\n\n[bogus]\n", 4, "[bogus]", "unknown section"},
    {"key_outside_section", "poll = 1s\n", 1, "poll", "outside of any [section]"},
    {"syntax_no_equals", "[task]\npoll 1s\n", 2, "syntax error", "expected 'key = value'"},
    {"syntax_colon_separator", "[task]\npoll: 1s\n", 2, "syntax error", "key = value"},
    {"syntax_missing_bracket", "[task\n", 1, "syntax error", "missing ']'"},
    {"line_too_long", LONG_LINE, 3, "syntax error", "line too long (at most 199"},
    {"bad_port", "[target]\nports = 22, 0\n", 2, "ports", "bad port \"0\""},
    {"port_too_high", "[target]\nports = 65536\n", 2, "ports", "bad port \"65536\""},
    {"port_not_a_number", "[target]\nports = ssh\n", 2, "ports", "bad port \"ssh\""},
    {"duplicate_port", "[target]\nports = 22, 8900, 22\n", 2, "ports", "port 22 listed twice"},
    {"too_many_ports", "[target]\nports = 1 2 3 4 5 6 7 8 9\n", 2, "ports",
        "too many ports (at most 8)"},
    {"empty_port_list", "[target]\nports = ,\n", 2, "ports", "no ports"},
    {"budget_syntax", "[recovery]\nbudget = 6\n", 2, "budget", "N/PERIOD"},
    {"budget_zero", "[recovery]\nbudget = 0/1h\n", 2, "budget", "N from 1 to 1000"},
    {"budget_too_many", "[recovery]\nbudget = 1001/1h\n", 2, "budget", "N from 1 to 1000"},
    {"budget_bad_period", "[recovery]\nbudget = 6/soon\n", 2, "budget", "period: bad duration"},
    {"backoff_min_above_max", "[recovery]\nbackoff = 5m..30s\n", 2, "backoff",
        "minimum 5m is above maximum 30s"},
    {"backoff_syntax", "[recovery]\nbackoff = 30s-15m\n", 2, "backoff", "MIN..MAX"},
    {"bad_schedule", "[ratelimit]\nschedule = Mon 25:00-26:00 5\n", 2, "schedule",
        "bad time window"},
    {"overlapping_schedule", "[ratelimit]\nschedule = Mon-Fri 08:00-18:00 50, Wed 12:00-13:00 10\n",
        2, "schedule", "rule 2 \"Wed 12:00-13:00 10\" overlaps rule 1 \"Mon-Fri 08:00-18:00 50\""},
    {"schedule_rate_too_high", "[ratelimit]\nschedule = daily 00:00-24:00 5000\n", 2, "schedule",
        "bad rate"},
    {"schedule_continuation_error_line",
        "[ratelimit]\nschedule = Mon 08:00-09:00 5,\n    Tue 08:00-09:00 x\n", 3, "schedule",
        "bad rate"},
    {"http_endpoint_not_loopback", "[cloud]\nendpoint = http://sms.example.com\n", 2, "endpoint",
        "must be https://"},
    {"endpoint_with_path", "[cloud]\nendpoint = https://sms.example.com/v3\n", 2, "endpoint",
        "must not have a path"},
    {"endpoint_with_userinfo", "[cloud]\nendpoint = https://u:p@sms.example.com\n", 2, "endpoint",
        "user name or password"},
    {"endpoint_bad_port", "[cloud]\nendpoint = https://sms.example.com:0\n", 2, "endpoint",
        "bad port"},
    {"endpoint_not_a_url", "[cloud]\nendpoint = sms.example.com\n", 2, "endpoint", "not a URL"},
    {"smn_endpoint_http", "[notify]\nsmn_endpoint = http://smn.example.com\n", 2, "smn_endpoint",
        "must be https://"},
    {"webhook_http_not_loopback", "[notify]\nwebhook = http://hooks.example.com/x\n", 2, "webhook",
        "must be https://"},
    {"proxy_bad_scheme", "[cloud]\nproxy = ftp://proxy.example.com\n", 2, "proxy",
        "scheme must be http, https, socks5"},
    {"proxy_with_password", "[cloud]\nproxy = http://u:pw@proxy.example.com:3128\n", 2, "proxy",
        "password in the proxy URL"},
    {"bad_urn", "[notify]\nsmn_topic = urn:smn:ap-southeast-3\n", 2, "smn_topic",
        "not an SMN topic URN"},
    {"urn_bad_topic_name", "[notify]\nsmn_topic = urn:smn:ap-southeast-3:0123abc:bad topic\n", 2,
        "smn_topic", "not an SMN topic URN"},
    {"bad_event_name", "[notify]\nevents = task_failed, task_exploded\n", 2, "events",
        "unknown event \"task_exploded\""},
    {"unknown_group", "[control]\ngroup = no-such-group-smsguard\n", 2, "group",
        "unknown group \"no-such-group-smsguard\""},
    {"relative_state_dir", "[daemon]\nstate_dir = var/lib/smsguard\n", 2, "state_dir",
        "not an absolute path"},
    {"relative_textfile", "[metrics]\ntextfile = smsguard.prom\n", 2, "textfile",
        "not an absolute path"},
    {"relative_exec", "[notify]\nexec = on-event\n", 2, "exec", "must be an absolute path"},
    {"exec_unterminated", "[notify]\nexec = /bin/hook \"x\n", 2, "exec", "unterminated \" quote"},
    {"exec_timeout_zero", "[notify]\nexec = /bin/true\nexec_timeout = 0\n", 3, "exec_timeout",
        "out of range (1s to 1h)"},
    {"queue_too_small", "[notify]\nexec = /bin/true\nqueue = 9\n", 3, "queue", "from 10 to 100000"},
    {"bad_sink_event_name", "[notify]\nwebhook = http://127.0.0.1:9/\nwebhook_events = all, x\n", 3,
        "webhook_events", "unknown event \"all\""},
    {"socket_path_too_long", "[control]\nsocket = " LONG_SOCKET "\n", 2, "socket",
        "socket path too long"},
    {"missing_ca_file", "[cloud]\nca_file = /nonexistent/ca.pem\n", 2, "ca_file", "No such file"},
    {"bad_bool", "[recovery]\nresume = maybe\n", 2, "resume", "not a boolean"},
    {"fall_zero", "[target]\nfall = 0\n", 2, "fall", "from 1 to 100"},
    {"rise_too_high", "[target]\nrise = 101\n", 2, "rise", "from 1 to 100"},
    {"repeated_key", "[task]\npoll = 10s\npoll_idle = 1m\npoll = 20s\n", 4, "poll",
        "repeated key (first set on line 2)"},
    {"repeated_key_in_second_section", "[task]\npoll = 10s\n[task]\npoll = 20s\n", 4, "poll",
        "repeated key"},
    {"continuation_of_plain_key", "[task]\npoll = 10s\n    20s\n", 3, "poll",
        "indented line continues the value of poll"},
    {"bad_placeholder", "[agent]\nrestart_answers = {ak}\\n{password}\n", 2, "restart_answers",
        "unknown placeholder {password}"},
    {"bad_placeholder_on_continuation", "[agent]\nrestart_answers = {ak}\n    {sk}\n    {x\n", 4,
        "restart_answers", "unterminated placeholder"},
    {"too_many_answers", "[agent]\nrestart_answers = 1\\n2\\n3\\n4\\n5\\n6\\n7\\n8\\n9\n", 2,
        "restart_answers", "too many answer lines (at most 8)"},
    {"restart_command_relative", "[agent]\nrestart_command = startup.sh\n", 2, "restart_command",
        "absolute path"},
    {"restart_command_unterminated", "[agent]\nrestart_command = /bin/sh \"-c\n", 2,
        "restart_command", "unterminated \" quote"},
    {"bad_restart_mode", "[agent]\nrestart = sometimes\n", 2, "restart", "not when-dead or never"},
    {"process_name_too_long", "[agent]\nprocess = linuxmain-long-1\n", 2, "process", "at most 15"},
    {"bad_timezone", "[ratelimit]\ntimezone = Mars/Olympus_Mons\n", 2, "timezone",
        "unknown time zone \"Mars/Olympus_Mons\""},
    {"timezone_escape", "[ratelimit]\ntimezone = ../../etc/passwd\n", 2, "timezone",
        "not a time zone name"},
    {"bad_apply", "[ratelimit]\napply = sometimes\n", 2, "apply", "not cloud or off"},
    {"threshold_below_10", "[ratelimit]\nover_speed_threshold = 5\n", 2, "over_speed_threshold",
        "\"5\" is not a percentage from 10 to 100"},
    {"threshold_above_100", "[ratelimit]\nover_speed_threshold = 100.5\n", 2,
        "over_speed_threshold", "\"100.5\" is not a percentage from 10 to 100"},
    {"threshold_not_a_number", "[ratelimit]\nover_speed_threshold = ten\n", 2,
        "over_speed_threshold", "not a percentage"},
    {"threshold_trailing_dot", "[ratelimit]\nover_speed_threshold = 10.\n", 2,
        "over_speed_threshold", "not a percentage"},
    {"threshold_exponent", "[ratelimit]\nover_speed_threshold = 1e2\n", 2, "over_speed_threshold",
        "not a percentage"},
    /* At the schedule's line, though timezone comes later: the rules are what to change. */
    {"schedule_six_periods_on_a_day",
        "[ratelimit]\nschedule = Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, "
        "Mon 07:00-08:00 4, Mon 09:00-10:00 5, Mon 11:00-12:00 6\ntimezone = UTC\n",
        2, "schedule", "Monday "},
    {"schedule_six_periods_says_why",
        "[ratelimit]\nschedule = daily 01:00-02:00 1, daily 03:00-04:00 2, daily 05:00-06:00 3,\n"
        "    daily 07:00-08:00 4, daily 09:00-10:00 5, daily 11:00-12:00 6\n",
        2, "schedule", " needs 6 periods; SMS keeps at most 5 a day"},
    {"bad_log_level", "[daemon]\nlog_level = loud\n", 2, "log_level", "unknown log level"},
    {"task_id_too_long", "[task]\nid = 8e7e0dc4-5e4b-4e4b-9c2a-0123456789abc\n", 2, "id",
        "task id too long (37 characters, at most 36)"},
    {"task_id_bad_chars", "[task]\nid = ../etc\n", 2, "id", "not a task id"},
    {"bad_project_id", "[cloud]\nproject_id = my-project\n", 2, "project_id", "not a project id"},
    {"bad_target_address", "[target]\naddress = 10.0.0.1:22\n", 2, "address",
        "not an IP address or host name"},
    {"poll_idle_below_poll", "[task]\npoll = 10m\n", 2, "poll",
        "poll_idle (5m) is shorter than poll (10m)"},
    {"poll_idle_below_default_poll", "[task]\npoll_idle = 10s\n", 2, "poll_idle",
        "poll_idle (10s) is shorter than poll (30s)"},
    {"poll_after_poll_idle", "[task]\npoll_idle = 10s\n# faster\npoll = 20s\n", 4, "poll",
        "poll_idle (10s) is shorter than poll (20s)"},
    {"poll_idle_after_poll", "[task]\npoll = 20s\n\npoll_idle = 10s\n", 4, "poll_idle",
        "poll_idle (10s) is shorter than poll (20s)"},
    {"cloud_timeout_too_long", "[cloud]\ntimeout = 10m\n", 2, "timeout", "out of range"},
    /* A key that means something only beside another is refused alone: never ignored. */
    {"smn_endpoint_without_topic", "[notify]\nsmn_endpoint = https://smn.example.com\n", 2,
        "smn_endpoint", "not used: there is no smn_topic to publish to"},
    {"smn_events_without_topic", "[notify]\nwebhook = https://h.example.com/\nsmn_events = all\n",
        3, "smn_events", "not used: there is no smn_topic"},
    {"webhook_events_without_webhook", "[notify]\nexec = /bin/true\nwebhook_events = all\n", 3,
        "webhook_events", "not used: there is no webhook to post to"},
    {"exec_events_without_exec", "[notify]\nexec_events = task_failed\n", 2, "exec_events",
        "not used: there is no exec hook to run"},
    {"exec_timeout_without_exec", "[notify]\nwebhook = https://h.example.com/\nexec_timeout = 5s\n",
        3, "exec_timeout", "not used: there is no exec hook to run"},
    {"events_without_sink", "[notify]\nevents = all\n", 2, "events",
        "not used: no sink is set (smn_topic, webhook or exec)"},
    {"events_over_lines_without_sink", "[notify]\nevents = target_down,\n    target_up\n", 3,
        "events", "not used: no sink is set"},
    {"queue_without_sink", "[notify]\nqueue = 100\n", 2, "queue", "not used: no sink is set"},
    {"events_shadowed_by_every_sink",
        "[notify]\nevents = task_failed\nexec = /bin/true\nexec_events = all\n", 2, "events",
        "not used: every sink set has a list of its own"},
};

static void
run_bad_case(void **state)
{
	const struct bad_case *bc = *state;
	char *name = xasprintf("%s.conf", bc->name);
	char *path = write_file(name, bc->text, 0644), *cause = NULL, *prefix;
	struct config *cfg = (struct config *)1;
	int rc;

	rc = config_load(path, &cfg, &cause);
	assert_int_equal(rc, -EINVAL);
	assert_null(cfg);
	assert_non_null(cause);
	prefix = xasprintf("%s:%d: %s: ", path, bc->line, bc->key);
	if (strncmp(cause, prefix, strlen(prefix)) != 0)
		fail_msg("cause \"%s\" does not start with \"%s\"", cause, prefix);
	if (strstr(cause + strlen(prefix), bc->needle) == NULL)
		fail_msg("cause \"%s\" does not contain \"%s\"", cause, bc->needle);
	free(prefix);
	free(cause);
	free(path);
	free(name);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_empty_file_is_all_defaults),
	    cmocka_unit_test(test_every_key_parsed),
	    cmocka_unit_test(test_installed_template_sets_nothing),
	    cmocka_unit_test(test_annotated_examples_parse),
	    cmocka_unit_test(test_sink_list_over_lines),
	    cmocka_unit_test(test_empty_values_keep_defaults),
	    cmocka_unit_test(test_inline_comments_hash_and_semicolon),
	    cmocka_unit_test(test_byte_order_mark_is_skipped),
	    cmocka_unit_test(test_restart_answers_on_continuation_lines),
	    cmocka_unit_test(test_restart_answers_literal_newline),
	    cmocka_unit_test(test_restart_command_honours_quotes),
	    cmocka_unit_test(test_schedule_continues_over_lines),
	    cmocka_unit_test(test_apply_and_threshold_forms),
	    cmocka_unit_test(test_schedule_refused_for_its_dst_day_at_its_line),
	    cmocka_unit_test(test_ports_continue_over_lines),
	    cmocka_unit_test(test_endpoint_forms),
	    cmocka_unit_test(test_default_credentials_path_is_not_explicit),
	    cmocka_unit_test(test_boolean_spellings),
	    cmocka_unit_test(test_load_from_memory_stream),
	    cmocka_unit_test(test_missing_file_names_it),
	    cmocka_unit_test(test_directory_is_named_as_such),
	    cmocka_unit_test(test_config_free_null),
	    cmocka_unit_test(test_smn_topic_rule_is_the_sms_parsers),
	};
	struct CMUnitTest tests[nitems(fixed) + nitems(bad_cases)];
	char *names[nitems(bad_cases)];
	int rc;

	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < nitems(bad_cases); i++) {
		struct CMUnitTest *t = &tests[nitems(fixed) + i];

		names[i] = xasprintf("test_config_refuses_%s", bad_cases[i].name);
		memset(t, 0, sizeof(*t));
		t->name = names[i];
		t->test_func = run_bad_case;
		t->initial_state = (void *)&bad_cases[i];
	}
	rc = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
	for (size_t i = 0; i < nitems(bad_cases); i++)
		free(names[i]);
	return rc;
}
