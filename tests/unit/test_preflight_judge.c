/* Preflight's judgement: verdicts, remedies and codes from measurements; the report; parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/config.h"
#include "smsguard/preflight_judge.h"
#include "smsguard/util.h"

static struct pf_check *
fresh(struct pf_report *r, const char *name)
{
	pf_report_init(r, 1700000000123, "test");
	return pf_report_add(r, name);
}

static void
assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* ---------------------------------------------------------------- report */

static void
test_a_new_check_fails_until_judged(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "sms_dns");

	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->measured, "no result");
	assert_int_equal(pf_report_verdict(&r), PF_FAIL);
}

static void
test_the_verdict_is_the_worst_check(void **state)
{
	struct pf_report r;
	int counts[PF_VERDICT_COUNT];

	pf_report_init(&r, 0, "start");
	assert_int_equal(pf_report_verdict(&r), PF_OK);
	pf_judge_tmp_exec(pf_report_add(&r, "tmp_exec"), "/tmp", 0, false);
	assert_int_equal(pf_report_verdict(&r), PF_OK);
	pf_judge_agent_home(pf_report_add(&r, "agent_home"), NULL, NULL);
	assert_int_equal(pf_report_verdict(&r), PF_WARN);
	pf_judge_tmp_exec(pf_report_add(&r, "tmp_exec"), "/tmp", 0, true);
	assert_int_equal(pf_report_verdict(&r), PF_FAIL);
	pf_report_count(&r, counts);
	assert_int_equal(counts[PF_OK], 1);
	assert_int_equal(counts[PF_WARN], 1);
	assert_int_equal(counts[PF_FAIL], 1);
}

static void
test_the_report_is_exactly_the_design_object(void **state)
{
	struct pf_report r;
	cJSON *o, *c0, *c1;
	const cJSON *k;
	int n = 0;

	pf_report_init(&r, 1700000000999, "start");
	pf_judge_tmp_exec(pf_report_add(&r, "tmp_exec"), "/tmp", 0, false);
	pf_judge_agent_home(pf_report_add(&r, "agent_home"), NULL, NULL);
	o = pf_report_json(&r);
	cJSON_ArrayForEach(k, o) n++;
	assert_int_equal(n, 3);
	assert_string_equal(cJSON_GetObjectItem(o, "verdict")->valuestring, "warn");
	assert_int_equal((int64_t)cJSON_GetObjectItem(o, "ran_at")->valuedouble, 1700000000);
	c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "checks"), 0);
	c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "checks"), 1);
	n = 0;
	cJSON_ArrayForEach(k, c0) n++;
	assert_int_equal(n, 5);
	assert_string_equal(cJSON_GetObjectItem(c0, "name")->valuestring, "tmp_exec");
	assert_string_equal(cJSON_GetObjectItem(c0, "verdict")->valuestring, "ok");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c0, "remedy")));
	assert_string_equal(cJSON_GetObjectItem(c0, "prevents")->valuestring, "SMS.5102");
	assert_true(cJSON_IsString(cJSON_GetObjectItem(c1, "remedy")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c1, "prevents")));
	cJSON_Delete(o);
}

static void
test_a_check_turning_to_fail_is_new_once(void **state)
{
	struct pf_report a, b;
	int idx[4];

	pf_report_init(&a, 0, "start");
	pf_judge_tmp_exec(pf_report_add(&a, "tmp_exec"), "/tmp", 0, true);
	pf_judge_agent_home(pf_report_add(&a, "agent_home"), NULL, NULL);
	/* No report before: whatever fails is new. */
	assert_int_equal(pf_report_newly_failed(NULL, &a, idx, 4), 1);
	assert_int_equal(idx[0], 0);
	/* Still failing: not again. A warning that turns to fail, and a new check failing, are. */
	pf_report_init(&b, 0, "task_failed");
	pf_judge_tmp_exec(pf_report_add(&b, "tmp_exec"), "/tmp", 0, true);
	pf_judge_agent_home(pf_report_add(&b, "agent_home"), NULL, NULL);
	b.checks[1].verdict = PF_FAIL;
	pf_judge_rsync(pf_report_add(&b, "rsync"),
	    &(struct pf_program){"rsync", NULL, "/usr/bin", 0, 0, 0, NULL}, true);
	assert_int_equal(pf_report_newly_failed(&a, &b, idx, 4), 2);
	assert_int_equal(idx[0], 1);
	assert_int_equal(idx[1], 2);
	/* Ok again, then failing again: new again. */
	pf_judge_tmp_exec(&a.checks[0], "/tmp", 0, false);
	assert_int_equal(pf_report_newly_failed(&a, &b, idx, 4), 3);
}

static void
test_the_event_names_each_check_and_the_first_remedy(void **state)
{
	struct pf_report r;
	char msg[EVENT_MESSAGE_MAX];
	int idx[] = {0, 1};
	cJSON *d;

	pf_report_init(&r, 0, "task_failed");
	pf_judge_tmp_exec(pf_report_add(&r, "tmp_exec"), "/tmp", 0, true);
	pf_judge_rsync(pf_report_add(&r, "rsync"),
	    &(struct pf_program){"rsync", NULL, "/usr/bin", 0, 0, 0, NULL}, true);
	d = pf_event(&r, idx, 1, msg, sizeof(msg));
	assert_contains(
	    msg, "preflight: tmp_exec fails: /tmp is mounted noexec (prevents SMS.5102); ");
	assert_contains(msg, "mount -o remount,exec /tmp");
	assert_string_equal(cJSON_GetObjectItem(d, "trigger")->valuestring, "task_failed");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "checks")), 1);
	cJSON_Delete(d);
	d = pf_event(&r, idx, 2, msg, sizeof(msg));
	assert_contains(msg, "preflight: tmp_exec, rsync fail; tmp_exec: /tmp is mounted noexec");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "checks")), 2);
	cJSON_Delete(d);
}

/* --------------------------------------------------------- target ports */

static void
test_a_dropped_port_fails_with_the_code_sms_would_give(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "target_port_8900");

	pf_judge_target_port(c, "10.0.0.2", 8900, -ETIMEDOUT, 0, 3000);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.1807");
	assert_contains(c->measured, "10.0.0.2:8900: no answer within 3s");
	assert_contains(c->remedy, "allow TCP 8900 from this server to 10.0.0.2");
	assert_contains(c->remedy, "security group");
	assert_string_equal(pf_port_prevents(8899, -ETIMEDOUT), "SMS.2802");
	assert_string_equal(pf_port_prevents(22, -ETIMEDOUT), "SMS.3805");
	assert_string_equal(pf_port_prevents(22, -ECONNREFUSED), "SMS.3806");
	assert_null(pf_port_prevents(2222, -ETIMEDOUT));
}

static void
test_a_refused_port_says_nothing_listens(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "target_port_22");

	pf_judge_target_port(c, "fd00::2", 22, -ECONNREFUSED, 0, 3000);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.3806");
	assert_contains(c->measured, "[fd00::2]:22: connection refused");
}

static void
test_a_connected_port_is_ok_and_a_slow_one_warns(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "target_port_22");

	pf_judge_target_port(c, "10.0.0.2", 22, 0, 1.25, 3000);
	assert_int_equal(c->verdict, PF_OK);
	assert_string_equal(c->measured, "10.0.0.2:22 connected in 1.2 ms");
	assert_string_equal(c->remedy, "");
	pf_judge_target_port(c, "10.0.0.2", 22, 0, 1500, 3000);
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "connected in 1500 ms (slow)");
	assert_contains(c->remedy, "mtr 10.0.0.2");
}

static void
test_an_unknown_target_warns(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "target_port_22");

	pf_judge_target_unknown(c, 22);
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->remedy, "[target] address");
}

/* -------------------------------------------------------- SMS endpoint */

static void
test_dns_and_tcp_to_the_endpoint(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "sms_dns");

	pf_judge_dns(c, "127.0.0.1", false, 0, NULL, NULL, 0, 3000);
	assert_int_equal(c->verdict, PF_OK);
	assert_contains(c->measured, "is an address");
	pf_judge_dns(c, "sms.example", false, -ENOENT, "unknown node or service", NULL, 0, 3000);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.0303");
	assert_contains(c->measured, "sms.example does not resolve: unknown node or service");
	assert_contains(c->remedy, "/etc/resolv.conf");
	pf_judge_sms_tcp(c, "sms.example", 443, false, -ENOENT, NULL, 0, 3000);
	assert_contains(c->measured, "not tried");
	pf_judge_sms_tcp(c, "sms.example", 443, false, -ECONNREFUSED, "192.0.2.1", 0, 3000);
	assert_string_equal(c->prevents, "SMS.0208");
	assert_contains(c->measured, "sms.example:443 at 192.0.2.1: connection refused");
	assert_contains(c->remedy, "allow outbound TCP 443");
	pf_judge_sms_tcp(c, "proxy.corp", 3128, true, -ETIMEDOUT, "192.0.2.9", 0, 3000);
	assert_contains(c->measured, "the proxy proxy.corp:3128");
	assert_contains(c->remedy, "[cloud] proxy");
}

static void
test_an_intercepted_certificate_fails_tls(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "sms_tls");
	struct pf_http h = {PF_HTTP_TLS, 0, "SSL certificate problem: self\x1b[31m signed", 20};

	pf_judge_tls(c, "sms.example", false, &h);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.0304");
	/* A control character from outside never reaches the report. */
	assert_string_equal(
	    c->measured, "certificate not accepted: SSL certificate problem: self?[31m signed");
	assert_contains(c->remedy, "[cloud] ca_file");
	h.end = PF_HTTP_ANSWERED;
	h.status = 404;
	pf_judge_tls(c, "sms.example", false, &h);
	assert_int_equal(c->verdict, PF_OK);
	assert_string_equal(c->measured, "TLS to sms.example verified (HTTP 404 in 20 ms)");
	pf_judge_tls(c, "127.0.0.1", true, &h);
	assert_int_equal(c->verdict, PF_WARN);
	h.end = PF_HTTP_HELD;
	pf_judge_tls(c, "sms.example", false, &h);
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "Retry-After");
}

static void
test_the_clock_warns_past_a_minute_and_fails_past_15(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "clock_skew");

	pf_judge_clock(c, true, 400);
	assert_int_equal(c->verdict, PF_OK);
	pf_judge_clock(c, true, -30000);
	assert_int_equal(c->verdict, PF_OK);
	assert_contains(c->measured, "30 s behind");
	pf_judge_clock(c, true, 120000);
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "120 s ahead of");
	assert_contains(c->remedy, "NTP");
	pf_judge_clock(c, true, -1200000);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.0205");
	assert_contains(c->measured, "1200 s behind the SMS gateway's (over 15 minutes)");
	assert_contains(c->remedy, "APIGW.0303");
	pf_judge_clock(c, false, 0);
	assert_int_equal(c->verdict, PF_WARN);
}

static void
test_refused_credentials_fail_with_where_they_come_from(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "sms_auth");
	struct pf_auth a = {-EACCES, 401, "APIGW.0301", "Incorrect IAM authentication information",
	    "GET /v3/sources", 12};

	pf_judge_auth(c, &a, "/etc/smsguard/credentials");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.0202");
	assert_contains(c->measured, "GET /v3/sources refused: HTTP 401 APIGW.0301");
	assert_contains(c->remedy, "check the AK/SK in /etc/smsguard/credentials");
	a.code = "APIGW.0303";
	pf_judge_auth(c, &a, "/x");
	assert_contains(c->remedy, "clock_skew");
	a.rc = -ESHUTDOWN;
	pf_judge_auth(c, &a, "/x");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_contains(c->measured, "not sent: the cloud refused the credentials with APIGW.0303");
	a.rc = -EPERM;
	a.status = 403;
	a.code = "SMS.9004";
	pf_judge_auth(c, &a, "/x");
	assert_contains(c->remedy, "SMS FullAccess");
	a.rc = -EAGAIN;
	pf_judge_auth(c, &a, "/x");
	assert_int_equal(c->verdict, PF_WARN);
	/* A 404 got past the signature check: the credentials are good. */
	a.rc = -EINVAL;
	a.status = 404;
	pf_judge_auth(c, &a, "/x");
	assert_int_equal(c->verdict, PF_OK);
	a.rc = 0;
	a.status = 200;
	pf_judge_auth(c, &a, "/x");
	assert_string_equal(c->measured, "signed GET /v3/sources accepted (HTTP 200 in 12 ms)");
}

static void
test_the_source_connected_flag(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "agent_connected");

	pf_judge_connected(c, SMS_TRUE, "s-1", NULL);
	assert_int_equal(c->verdict, PF_OK);
	pf_judge_connected(c, SMS_FALSE, "s-1", NULL);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.6603");
	assert_contains(c->measured, "source s-1 is not connected");
	pf_judge_connected(c, SMS_ABSENT, NULL, "the task is not polled yet");
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "not known: the task is not polled yet");
}

/* ------------------------------------------------------------- the host */

static void
test_a_dead_agent_fails_with_how_to_start_it(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "agent_running");

	pf_judge_agent_running(c, AGENT_DEAD, 0, "linuxmain", "/root/SMS-Agent");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_contains(c->remedy, "cd /root/SMS-Agent && ./startup.sh");
	pf_judge_agent_running(c, AGENT_RUNNING, 42, "linuxmain", NULL);
	assert_string_equal(c->measured, "linuxmain is running (pid 42)");
	pf_judge_agent_home(c, NULL, "/opt/agent");
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "[agent] home = /opt/agent was refused");
}

static void
test_tmp_needs_100_mib_and_exec(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "tmp_space");

	pf_judge_tmp_space(c, "/tmp", 0, (uint64_t)50 << 20);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(
	    c->measured, "/tmp: 50 MiB free; SMS-Agent needs 100 MiB there to start");
	assert_contains(c->remedy, "TMPDIR");
	pf_judge_tmp_space(c, "/tmp", 0, (uint64_t)150 << 20);
	assert_int_equal(c->verdict, PF_WARN);
	pf_judge_tmp_space(c, "/tmp", 0, (uint64_t)3 << 30);
	assert_int_equal(c->verdict, PF_OK);
	assert_string_equal(c->measured, "/tmp: 3.0 GiB free");
	pf_judge_tmp_exec(c, "/tmp", 0, true);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.5102");
}

static void
test_log_space_is_judged_by_the_fullest_place(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "agent_log_space");
	struct pf_space s[] = {
	    {"/opt/SMS-Agent/agent/Logs", 0, (uint64_t)5 << 30}, {"/root", 0, (uint64_t)60 << 20}};

	pf_judge_log_space(c, s, 2, true);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(
	    c->measured, "/opt/SMS-Agent/agent/Logs: 5.0 GiB free; /root: 60 MiB free");
	assert_contains(c->remedy, "free space on /root");
	s[1].avail = (uint64_t)2 << 30;
	pf_judge_log_space(c, s, 2, true);
	assert_int_equal(c->verdict, PF_OK);
	pf_judge_log_space(c, &s[1], 1, false);
	assert_int_equal(c->verdict, PF_WARN);
	assert_contains(c->measured, "home is not known");
}

static void
test_rsync_missing_fails_for_a_file_level_task(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "rsync");
	struct pf_program p = {"rsync", NULL, "/usr/bin:/bin", 0, 0, 0, NULL};

	pf_judge_rsync(c, &p, true);
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.6517");
	assert_string_equal(c->measured, "rsync is not on PATH (/usr/bin:/bin)");
	assert_contains(c->remedy, "apt-get install rsync");
	pf_judge_rsync(c, &p, false);
	assert_int_equal(c->verdict, PF_WARN);
	p.path = "/usr/bin/rsync";
	p.exit_status = 1;
	pf_judge_rsync(c, &p, true);
	assert_string_equal(c->measured, "/usr/bin/rsync exited with status 1");
	p.exit_status = 0;
	p.first_line = "rsync  version 3.2.7  protocol version 31";
	pf_judge_rsync(c, &p, true);
	assert_int_equal(c->verdict, PF_OK);
	assert_string_equal(
	    c->measured, "rsync version 3.2.7 protocol version 31 (/usr/bin/rsync)");
}

static void
test_tc_needs_htb_or_cbq(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "tc");
	struct pf_program p = {"tc", NULL, "/usr/bin", 0, 0, 0, NULL};

	pf_judge_tc(c, &p, PF_QDISC_BUILTIN_OR_LOADED, PF_QDISC_ABSENT, "a limit");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.9007");
	assert_contains(c->remedy, "iproute-tc");
	p.path = "/usr/sbin/tc";
	p.first_line = "tc utility, iproute2-6.1.0, libbpf 1.1.2";
	pf_judge_tc(c, &p, PF_QDISC_ABSENT, PF_QDISC_ABSENT, "a limit");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_contains(c->remedy, "modprobe sch_htb");
	pf_judge_tc(c, &p, PF_QDISC_ABSENT, PF_QDISC_MODULE, "a limit");
	assert_int_equal(c->verdict, PF_OK);
	assert_contains(c->measured, "sch_cbq is installed as a module");
}

static void
test_a_root_qdisc_someone_added_fails_when_a_limit_is_planned(void **state)
{
	struct pf_report r;
	struct pf_check *c = fresh(&r, "root_qdisc");
	struct pf_qdisc q = {"10.0.0.2", "eth0", "htb", "1:", 0, NULL};

	pf_judge_root_qdisc(c, &q, "a limit is planned");
	assert_int_equal(c->verdict, PF_FAIL);
	assert_string_equal(c->prevents, "SMS.9007");
	assert_contains(
	    c->measured, "eth0 (the route to 10.0.0.2) already has a root qdisc, htb 1:");
	assert_contains(c->remedy, "tc qdisc del dev eth0 root");
	q.kind = "fq_codel";
	q.handle = "0:";
	pf_judge_root_qdisc(c, &q, "a limit is planned");
	assert_int_equal(c->verdict, PF_OK);
	q.err = -EIO;
	q.why = "ip route get failed";
	pf_judge_root_qdisc(c, &q, "a limit is planned");
	assert_int_equal(c->verdict, PF_WARN);
}

/* -------------------------------------------------------------- parsers */

static void
test_the_route_names_its_interface(void **state)
{
	char dev[32];

	assert_true(pf_parse_route_dev("10.0.0.2 via 192.168.1.1 dev eth0 src 192.168.1.5 uid 0 \n"
	                               "    cache \n",
	    dev, sizeof(dev)));
	assert_string_equal(dev, "eth0");
	assert_true(pf_parse_route_dev(
	    "local 127.0.0.1 dev lo table local src 127.0.0.1 uid 0 \n    cache <local> \n", dev,
	    sizeof(dev)));
	assert_string_equal(dev, "lo");
	assert_false(pf_parse_route_dev("RTNETLINK answers: Network is unreachable\n", dev, 32));
	assert_false(pf_parse_route_dev("1.2.3.4 dev ../../etc\n", dev, 32));
	assert_false(pf_parse_route_dev("1.2.3.4 dev averyveryverylongname\n", dev, 32));
	assert_false(pf_parse_route_dev("1.2.3.4 dev", dev, 32));
}

static void
test_the_root_qdisc_is_found_among_its_children(void **state)
{
	char kind[32], handle[32];

	assert_int_equal(pf_parse_root_qdisc("qdisc mq 0: root \n"
	                                     "qdisc fq_codel 0: parent :1 limit 10240p\n",
	                     kind, sizeof(kind), handle, sizeof(handle)),
	    1);
	assert_string_equal(kind, "mq");
	assert_false(pf_qdisc_configured(handle));
	assert_int_equal(pf_parse_root_qdisc("qdisc htb 8001: root refcnt 3 r2q 10 default 0x1\n",
	                     kind, sizeof(kind), handle, sizeof(handle)),
	    1);
	assert_string_equal(kind, "htb");
	assert_string_equal(handle, "8001:");
	assert_true(pf_qdisc_configured(handle));
	assert_int_equal(pf_parse_root_qdisc("qdisc noqueue 0: dev lo root refcnt 2\n", kind,
	                     sizeof(kind), handle, sizeof(handle)),
	    1);
	assert_string_equal(kind, "noqueue");
	assert_int_equal(pf_parse_root_qdisc("qdisc fq_codel 0: parent :2\n", kind, sizeof(kind),
	                     handle, sizeof(handle)),
	    0);
	assert_string_equal(kind, "");
	assert_int_equal(pf_parse_root_qdisc("", kind, sizeof(kind), handle, sizeof(handle)), 0);
}

static void
test_a_limit_is_planned_by_the_schedule_or_the_task(void **state)
{
	struct config *cfg = config_new_defaults();
	struct sms_task t;
	char why[160], *cause = NULL;

	memset(&t, 0, sizeof(t));
	t.speed_limit = -1;
	assert_false(pf_limit_planned(cfg, &t, why, sizeof(why)));
	assert_int_equal(schedule_parse("daily 00:00-24:00 0", &cfg->schedule, &cause), 0);
	cfg->has_schedule = true;
	assert_false(pf_limit_planned(cfg, NULL, why, sizeof(why)));
	assert_int_equal(schedule_parse("Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, "
	                                "Sat-Sun 00:00-24:00 0",
	                     &cfg->schedule, &cause),
	    0);
	assert_true(pf_limit_planned(cfg, NULL, why, sizeof(why)));
	assert_contains(why, "50 Mbit/s");
	cfg->ratelimit_apply = RATELIMIT_APPLY_OFF;
	assert_false(pf_limit_planned(cfg, &t, why, sizeof(why)));
	t.speed_limit = 20;
	assert_true(pf_limit_planned(cfg, &t, why, sizeof(why)));
	assert_contains(why, "the task holds a rate limit of 20 Mbit/s");
	config_free(cfg);
}

static void
test_urls_give_their_host_and_port_without_a_password(void **state)
{
	char host[64];
	uint16_t port;
	bool tls;

	assert_int_equal(
	    pf_url_hostport("https://sms.example", host, sizeof(host), &port, &tls), 0);
	assert_string_equal(host, "sms.example");
	assert_int_equal(port, 443);
	assert_true(tls);
	assert_int_equal(
	    pf_url_hostport("http://user:s3cret@proxy:3128/", host, sizeof(host), &port, &tls), 0);
	assert_string_equal(host, "proxy");
	assert_int_equal(port, 3128);
	assert_false(tls);
	assert_int_equal(pf_url_hostport("https://[::1]:8443", host, sizeof(host), &port, &tls), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8443);
	assert_int_equal(pf_url_hostport("socks5h://gw", host, sizeof(host), &port, &tls), 0);
	assert_int_equal(port, 1080);
	assert_int_equal(pf_url_hostport("sms.example", host, sizeof(host), &port, &tls), -EINVAL);
	assert_int_equal(
	    pf_url_hostport("https://h:99999", host, sizeof(host), &port, &tls), -EINVAL);
	assert_int_equal(pf_url_hostport("https://:443", host, sizeof(host), &port, &tls), -EINVAL);
}

static void
test_the_smn_endpoint_comes_from_the_topic_region(void **state)
{
	struct config *cfg = config_new_defaults();
	char *e;

	assert_null(pf_smn_endpoint(cfg));
	cfg->smn_topic = xstrdup("urn:smn:ap-southeast-3:0f5c1e2d3b4a49688796a5b4c3d2e1f0:ops");
	e = pf_smn_endpoint(cfg);
	assert_string_equal(e, "https://smn.ap-southeast-3.myhuaweicloud.com");
	free(e);
	free(cfg->smn_topic);
	cfg->smn_topic = xstrdup("urn:smn:eu-west-101:0f5c1e2d3b4a49688796a5b4c3d2e1f0:ops");
	e = pf_smn_endpoint(cfg);
	assert_string_equal(e, "https://smn.eu-west-101.myhuaweicloud.eu");
	free(e);
	cfg->smn_endpoint = xstrdup("https://smn.internal:8443");
	e = pf_smn_endpoint(cfg);
	assert_string_equal(e, "https://smn.internal:8443");
	free(e);
	config_free(cfg);
}

static void
test_outside_text_is_cleaned_and_cut_on_a_character(void **state)
{
	char buf[8];

	assert_string_equal(pf_clean(buf,
	                        "a\tb\x7f"
	                        "c",
	                        sizeof(buf)),
	    "a?b?c");
	/* "ab" then é (2 bytes) then ü: cut at 7 bytes leaves no half of ü. */
	assert_string_equal(pf_clean(buf, "abcd\xc3\xa9\xc3\xbc", sizeof(buf)), "abcd\xc3\xa9");
	assert_string_equal(pf_clean(buf, "abcde\xe2\x82\xac", sizeof(buf)), "abcde");
	assert_string_equal(pf_clean(buf, NULL, sizeof(buf)), "");
}

static void
test_bytes_read_as_people_count_them(void **state)
{
	char b[32];

	assert_string_equal(pf_format_bytes(512, b, sizeof(b)), "512 bytes");
	assert_string_equal(pf_format_bytes((uint64_t)99 << 20, b, sizeof(b)), "99 MiB");
	assert_string_equal(pf_format_bytes((uint64_t)3 << 29, b, sizeof(b)), "1.5 GiB");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_new_check_fails_until_judged),
	    cmocka_unit_test(test_the_verdict_is_the_worst_check),
	    cmocka_unit_test(test_the_report_is_exactly_the_design_object),
	    cmocka_unit_test(test_a_check_turning_to_fail_is_new_once),
	    cmocka_unit_test(test_the_event_names_each_check_and_the_first_remedy),
	    cmocka_unit_test(test_a_dropped_port_fails_with_the_code_sms_would_give),
	    cmocka_unit_test(test_a_refused_port_says_nothing_listens),
	    cmocka_unit_test(test_a_connected_port_is_ok_and_a_slow_one_warns),
	    cmocka_unit_test(test_an_unknown_target_warns),
	    cmocka_unit_test(test_dns_and_tcp_to_the_endpoint),
	    cmocka_unit_test(test_an_intercepted_certificate_fails_tls),
	    cmocka_unit_test(test_the_clock_warns_past_a_minute_and_fails_past_15),
	    cmocka_unit_test(test_refused_credentials_fail_with_where_they_come_from),
	    cmocka_unit_test(test_the_source_connected_flag),
	    cmocka_unit_test(test_a_dead_agent_fails_with_how_to_start_it),
	    cmocka_unit_test(test_tmp_needs_100_mib_and_exec),
	    cmocka_unit_test(test_log_space_is_judged_by_the_fullest_place),
	    cmocka_unit_test(test_rsync_missing_fails_for_a_file_level_task),
	    cmocka_unit_test(test_tc_needs_htb_or_cbq),
	    cmocka_unit_test(test_a_root_qdisc_someone_added_fails_when_a_limit_is_planned),
	    cmocka_unit_test(test_the_route_names_its_interface),
	    cmocka_unit_test(test_the_root_qdisc_is_found_among_its_children),
	    cmocka_unit_test(test_a_limit_is_planned_by_the_schedule_or_the_task),
	    cmocka_unit_test(test_urls_give_their_host_and_port_without_a_password),
	    cmocka_unit_test(test_the_smn_endpoint_comes_from_the_topic_region),
	    cmocka_unit_test(test_outside_text_is_cleaned_and_cut_on_a_character),
	    cmocka_unit_test(test_bytes_read_as_people_count_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
