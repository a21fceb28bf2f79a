/*
 * The agent watch and restart on a real loop, with a stand-in agent: a copy
 * of sleep(1) under a unique name in a temporary SMS-Agent home.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/agent.h"
#include "smsguard/config.h"

struct fixture {
	uv_loop_t loop;
	struct config cfg;
	struct credentials creds;
	struct observer obs;
	struct agent *ag;
	char home[PATH_MAX];
	char name[16];
	int changes;
	bool closed;
	bool restart_done;
	int restart_result;
	char logpath[PATH_MAX + 8];
	int saved_stderr;
};

static void
on_report(void *arg, const struct observation *o)
{
	if (o->kind == OBS_AGENT)
		((struct fixture *)arg)->changes++;
}

static void
on_closed(void *arg)
{
	((struct fixture *)arg)->closed = true;
}

static void
on_restart(void *arg, int result)
{
	struct fixture *f = arg;

	f->restart_done = true;
	f->restart_result = result;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/*
 * <home>/startup.sh reads y, AK, SK and the domain, keeps them in
 * answers.txt, prints a line holding the AK and SK, and starts the agent
 * detached. The agent is <home>/agent/bin/<name>, a copy of sleep.
 */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[PATH_MAX + 64], script[2048];

	snprintf(f->home, sizeof(f->home), "%s/test_agent.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->home));
	snprintf(f->name, sizeof(f->name), "sgt%d", (int)getpid() % 1000000);
	snprintf(path, sizeof(path), "%s/agent", f->home);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/agent/config", f->home);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/agent/bin", f->home);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/agent/bin/%s", f->home, f->name);
	copy_file(access("/usr/bin/sleep", X_OK) == 0 ? "/usr/bin/sleep" : "/bin/sleep", path);
	snprintf(path, sizeof(path), "%s/agent/config/g-property.cfg", f->home);
	write_file(path,
	    "auto_start_max_retry_times=3\nauto_start_interval_seconds=10\n"
	    "auto_start_each_addition_seconds=5\n",
	    0644);
	snprintf(script, sizeof(script),
	    "#!/bin/sh\n"
	    "read yn; read ak; read sk; read domain\n"
	    "printf '%%s\\n%%s\\n%%s\\n%%s\\n' \"$yn\" \"$ak\" \"$sk\" \"$domain\" > answers.txt\n"
	    "echo \"env=$(env | sort | tr '\\n' ' ')\"\n"
	    "echo \"using AK $ak and SK $sk\" >&2\n"
	    "[ \"$yn\" = y ] || exit 3\n"
	    "setsid ./agent/bin/%s 1000 </dev/null >/dev/null 2>&1 &\n"
	    "echo sms agent starts up successfully\n",
	    f->name);
	snprintf(path, sizeof(path), "%s/startup.sh", f->home);
	write_file(path, script, 0755);

	uv_loop_init(&f->loop);
	f->cfg.probe_interval_ms = 100;
	f->cfg.agent_process = f->name;
	f->cfg.restart_timeout_ms = 5000;
	f->cfg.endpoint_host = "sms.example.test";
	f->creds.ak = "AKTESTVALUE0123";
	f->creds.sk = "SKtestSecretValue0123456789";
	f->obs.arg = f;
	f->obs.report = on_report;
	assert_int_equal(agent_new(&f->loop, &f->cfg, &f->creds, &f->obs, &f->ag), 0);
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

/* Whether a live (not zombie) process of this test's agent name is left. */
static bool
agents_alive(const struct fixture *f)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool alive = false;

	while (d != NULL && !alive && (de = readdir(d)) != NULL) {
		char path[300], buf[256] = "", *p;
		FILE *fp;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		(void)!fgets(buf, sizeof(buf), fp);
		fclose(fp);
		/* "pid (comm) S ...": a named, non-zombie process. */
		p = strrchr(buf, ')');
		alive = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X' &&
		    strncmp(strchr(buf, '(') + 1, f->name, strlen(f->name)) == 0 &&
		    strchr(buf, '(')[1 + strlen(f->name)] == ')';
	}
	if (d != NULL)
		closedir(d);
	return alive;
}

/*
 * SIGKILL, then wait until they are gone and reaped: on a busy machine a
 * killed process can still run for a while, and the next test would find it.
 */
static void
kill_agents(struct fixture *f)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "pkill -KILL -x %s 2>/dev/null", f->name);
	(void)!system(cmd);
	for (int i = 0; i < 500; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!agents_alive(f))
			break;
		usleep(10000);
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	agent_close(f->ag, on_closed, f);
	assert_false(f->closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	kill_agents(f);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
	(void)!system(cmd);
	free(f);
	return 0;
}

/* Starts the stand-in agent as startup.sh would (detached), returns its pid. */
static pid_t
start_agent(struct fixture *f)
{
	char path[PATH_MAX + 64];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "%s/agent/bin/%s", f->home, f->name);
		setsid();
		if (chdir(f->home) != 0)
			_exit(127);
		execl(path, f->name, "1000", (char *)NULL);
		_exit(127);
	}
	/* Wait until exec replaced the child, so its comm is the agent's. */
	for (int i = 0; i < 1000; i++) {
		char p[64], comm[32] = "";
		FILE *fp;

		snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
		fp = fopen(p, "r");
		if (fp != NULL) {
			(void)!fgets(comm, sizeof(comm), fp);
			fclose(fp);
		}
		if (strncmp(comm, f->name, strlen(f->name)) == 0)
			break;
		usleep(1000);
	}
	return pid;
}

static void
run_until_state(struct fixture *f, enum agent_state st, uint64_t limit_ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (agent_state(f->ag) != st && uv_now(&f->loop) - start < limit_ms)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(agent_state(f->ag), st);
}

static void
run_until_restarted(struct fixture *f, uint64_t limit_ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (!f->restart_done && uv_now(&f->loop) - start < limit_ms)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(f->restart_done);
}

/* Sends this process's stderr (the log) to a file until log_stop(). */
static void
log_capture(struct fixture *f)
{
	int fd;

	snprintf(f->logpath, sizeof(f->logpath), "%s.log", f->home);
	fd = open(f->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *
log_stop(struct fixture *f)
{
	static char buf[65536];
	FILE *fp;
	size_t n;

	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	fp = fopen(f->logpath, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	unlink(f->logpath);
	fputs(buf, stderr);
	return buf;
}

static void
test_running_agent_is_found_with_its_home(void **state)
{
	struct fixture *f = *state;
	pid_t pid = start_agent(f);
	cJSON *o = cJSON_CreateObject();

	assert_int_equal(agent_start(f->ag), 0);
	assert_int_equal(agent_state(f->ag), AGENT_RUNNING);
	assert_int_equal(agent_pid(f->ag), pid);
	assert_string_equal(agent_home(f->ag), f->home);
	agent_status_json(f->ag, o);
	assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "running");
	assert_int_equal(cJSON_GetObjectItem(o, "pid")->valueint, pid);
	assert_string_equal(cJSON_GetObjectItem(o, "home")->valuestring, f->home);
	cJSON_Delete(o);
}

static void
test_missing_agent_is_dead(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(agent_start(f->ag), 0);
	assert_int_equal(agent_state(f->ag), AGENT_DEAD);
	assert_int_equal(agent_pid(f->ag), 0);
	assert_null(agent_home(f->ag));
}

static void
test_exit_is_seen_at_once_with_a_pidfd(void **state)
{
	struct fixture *f = *state;
	pid_t pid = start_agent(f);
	uint64_t t0;

	f->cfg.probe_interval_ms = 60000; /* no rescans: only the pidfd can tell */
	agent_start(f->ag);
	if (!agent_uses_pidfd(f->ag)) {
		/*
		 * No pidfd here (valgrind, old kernels): the fallback must then
		 * see the exit by a rescan every interval instead.
		 */
		f->cfg.probe_interval_ms = 200;
		agent_reconfigure(f->ag, &f->cfg, &f->creds);
	}
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	run_until_state(f, AGENT_DEAD, 1000);
	uv_update_time(&f->loop);
	assert_true(uv_now(&f->loop) - t0 < 1000);
}

static void
test_new_agent_is_noticed_while_dead(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	agent_start(f->ag);
	assert_int_equal(agent_state(f->ag), AGENT_DEAD);
	pid = start_agent(f);
	run_until_state(f, AGENT_RUNNING, 2000);
	assert_int_equal(agent_pid(f->ag), pid);
	assert_true(f->changes >= 2);
}

static void
test_autorecovery_settings_come_from_the_home(void **state)
{
	struct fixture *f = *state;
	struct gprop g;

	start_agent(f);
	agent_start(f->ag);
	assert_int_equal(agent_autorecovery(f->ag, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 3);
	assert_int_equal(gprop_autorecovery_window_s(&g), 10 + 15 + 20);
}

static void
test_autorecovery_without_home_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct gprop g;

	agent_start(f->ag);
	assert_int_equal(agent_autorecovery(f->ag, &g), -ENOENT);
	assert_false(gprop_autorecovery_configured(&g));
}

static void
test_known_home_is_taken_only_when_it_looks_like_one(void **state)
{
	struct fixture *f = *state;

	agent_start(f->ag);
	assert_int_equal(agent_set_known_home(f->ag, "/"), -EINVAL);
	assert_int_equal(agent_set_known_home(f->ag, "relative/path"), -EINVAL);
	assert_int_equal(agent_set_known_home(f->ag, f->home), 0);
	assert_string_equal(agent_home(f->ag), f->home);
}

static void
test_restart_runs_startup_with_answers_and_finds_the_agent(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32], buf[256] = "";
	FILE *fp;

	agent_start(f->ag);
	assert_int_equal(agent_set_known_home(f->ag, f->home), 0);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	assert_true(agent_restarting(f->ag));
	run_until_restarted(f, 8000);
	assert_int_equal(f->restart_result, 0);
	assert_int_equal(agent_state(f->ag), AGENT_RUNNING);
	assert_false(agent_restarting(f->ag));
	assert_int_equal(agent_restarts(f->ag), 1);
	snprintf(path, sizeof(path), "%s/answers.txt", f->home);
	fp = fopen(path, "r");
	assert_non_null(fp);
	buf[fread(buf, 1, sizeof(buf) - 1, fp)] = '\0';
	fclose(fp);
	assert_string_equal(
	    buf, "y\nAKTESTVALUE0123\nSKtestSecretValue0123456789\nsms.example.test\n");
}

static void
test_restart_output_is_logged_with_secrets_masked_and_clean_env(void **state)
{
	struct fixture *f = *state;
	char *log;

	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	log_capture(f);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 8000);
	log = log_stop(f);
	assert_int_equal(f->restart_result, 0);
	assert_non_null(strstr(log, "using AK *** and SK ***"));
	assert_null(strstr(log, "AKTESTVALUE0123"));
	assert_null(strstr(log, "SKtestSecretValue"));
	assert_non_null(strstr(log, "LANG=C PATH=/usr/sbin:/usr/bin:/sbin:/bin PWD="));
	assert_null(strstr(log, "HOME="));
}

static void
test_configured_answers_fill_placeholders(void **state)
{
	struct fixture *f = *state;
	char *answers[] = {"y", "{ak}", "pre-{sk}-post", "127.0.0.1:8443"};
	char path[PATH_MAX + 32], buf[256] = "";
	FILE *fp;

	memcpy(f->cfg.answers, answers, sizeof(answers));
	f->cfg.nanswers = 4;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 8000);
	snprintf(path, sizeof(path), "%s/answers.txt", f->home);
	fp = fopen(path, "r");
	assert_non_null(fp);
	buf[fread(buf, 1, sizeof(buf) - 1, fp)] = '\0';
	fclose(fp);
	assert_string_equal(buf,
	    "y\nAKTESTVALUE0123\npre-SKtestSecretValue0123456789-post\n"
	    "127.0.0.1:8443\n");
}

static void
test_restart_is_refused_while_the_agent_runs(void **state)
{
	struct fixture *f = *state;

	start_agent(f);
	agent_start(f->ag);
	assert_int_equal(agent_restart(f->ag, on_restart, f), -EBUSY);
	assert_false(f->restart_done);
}

static void
test_restart_without_home_is_refused(void **state)
{
	struct fixture *f = *state;

	agent_start(f->ag);
	assert_int_equal(agent_restart(f->ag, on_restart, f), -ENOENT);
}

static void
test_second_restart_while_one_runs_is_refused(void **state)
{
	struct fixture *f = *state;

	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	assert_int_equal(agent_restart(f->ag, on_restart, f), -EBUSY);
	run_until_restarted(f, 8000);
}

static void
test_hanging_command_is_killed_at_its_timeout(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"/bin/sh", "-c", "sleep 1000 & sleep 1000", NULL};
	uint64_t t0;

	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 3;
	f->cfg.restart_timeout_ms = 300;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 3000);
	assert_int_equal(f->restart_result, -ETIMEDOUT);
	uv_update_time(&f->loop);
	assert_true(uv_now(&f->loop) - t0 < 1500);
	assert_int_equal(agent_state(f->ag), AGENT_DEAD);
}

static void
test_failing_command_reports_eio(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"/bin/sh", "-c", "echo no; exit 4", NULL};

	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 3;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 3000);
	assert_int_equal(f->restart_result, -EIO);
}

static void
test_command_that_starts_nothing_reports_esrch(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"/bin/true", NULL};

	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 1;
	f->cfg.restart_timeout_ms = 1000;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 10000);
	assert_int_equal(f->restart_result, -ESRCH);
}

static void
test_missing_command_fails_at_once(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"/nonexistent/startup.sh", NULL};

	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 1;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), UV_ENOENT);
	assert_false(agent_restarting(f->ag));
}

static void
test_close_during_a_restart_leaks_nothing(void **state)
{
	struct fixture *f = *state;

	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	/* teardown closes the agent with the command still running */
}

static void
test_agent_holding_the_output_pipes_does_not_stall_the_restart(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 128];
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	/* The started agent keeps the command's stdout and stderr open. */
	snprintf(cmd, sizeof(cmd), "setsid ./agent/bin/%s 1000 </dev/null & echo started", f->name);
	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 3;
	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	assert_int_equal(agent_restart(f->ag, on_restart, f), 0);
	run_until_restarted(f, 8000);
	assert_int_equal(f->restart_result, 0);
	assert_false(agent_restarting(f->ag));
	/* The teardown closes the agent with the pipes still held: nothing may leak. */
}

/* -- trust: whose process, whose home (the rule itself: test_agent_home.c) --------------- */

/* The number of times needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
timer_noop(uv_timer_t *t)
{
}

/* Runs the loop for ms (several scans), for checks that something did NOT happen. */
static void
run_for(struct fixture *f, uint64_t ms)
{
	uv_timer_t t;
	uint64_t start;

	uv_timer_init(&f->loop, &t);
	uv_timer_start(&t, timer_noop, ms, 0);
	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (uv_now(&f->loop) - start < ms)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Starts the stand-in agent as uid/gid, returns its pid once it runs under its name. */
static pid_t
start_agent_as(struct fixture *f, uid_t uid, gid_t gid)
{
	char path[PATH_MAX + 64];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "%s/agent/bin/%s", f->home, f->name);
		setsid();
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
		    chdir(f->home) != 0)
			_exit(127);
		execl(path, f->name, "1000", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		char p[64], comm[32] = "";
		FILE *fp;

		snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
		fp = fopen(p, "r");
		if (fp != NULL) {
			(void)!fgets(comm, sizeof(comm), fp);
			fclose(fp);
		}
		if (strncmp(comm, f->name, strlen(f->name)) == 0)
			break;
		usleep(1000);
	}
	return pid;
}

/* A pid whose real uid is not ours (pid 1 as a rule), else 0. */
static pid_t
foreign_pid(void)
{
	char path[64], buf[4096];

	for (pid_t pid = 1; pid < 4096; pid++) {
		FILE *fp;
		const char *p;
		size_t n;
		unsigned long uid;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		buf[n] = '\0';
		fclose(fp);
		p = strstr(buf, "\nUid:");
		if (p != NULL && sscanf(p + 5, "%lu", &uid) == 1 && uid != (unsigned long)geteuid())
			return pid;
	}
	return 0;
}

static void
test_agent_run_by_another_user_is_not_adopted(void **state)
{
	struct fixture *f = *state;
	struct passwd *nobody = getpwnam("nobody");
	char want[64];
	pid_t pid;
	char *log;

	assert_true(agent_process_trusted(getpid()));
	if (geteuid() != 0) {
		/* Only root can start a process as someone else: check a process that is not ours. */
		pid = foreign_pid();
		if (pid != 0)
			assert_false(agent_process_trusted(pid));
		assert_int_equal(agent_start(f->ag), 0);
		assert_int_equal(agent_state(f->ag), AGENT_DEAD);
		return;
	}
	assert_non_null(nobody);
	chmod(f->home, 0755); /* nobody may run the copy of sleep in it */
	pid = start_agent_as(f, nobody->pw_uid, nobody->pw_gid);
	assert_false(agent_process_trusted(pid));
	log_capture(f);
	assert_int_equal(agent_start(f->ag), 0);
	run_for(f, 5 * f->cfg.probe_interval_ms);
	log = log_stop(f);
	assert_int_equal(agent_state(f->ag), AGENT_DEAD);
	assert_int_equal(agent_pid(f->ag), 0);
	assert_null(agent_home(f->ag));
	snprintf(want, sizeof(want), "ignoring %s pid %d: run by uid %lu", f->name, (int)pid,
	    (unsigned long)nobody->pw_uid);
	assert_int_equal(count_of(log, want), 1); /* said once, not at every scan */
	assert_int_equal(agent_restart(f->ag, on_restart, f), -ENOENT);
}

static void
test_untrusted_known_home_is_refused(void **state)
{
	struct fixture *f = *state;

	agent_start(f->ag);
	chmod(f->home, 0775);
	assert_int_equal(agent_set_known_home(f->ag, f->home), -EPERM);
	assert_null(agent_home(f->ag));
	chmod(f->home, 0700);
	assert_int_equal(agent_set_known_home(f->ag, f->home), 0);
	assert_string_equal(agent_home(f->ag), f->home);
}

static void
test_home_of_a_running_agent_is_not_taken_when_untrusted(void **state)
{
	struct fixture *f = *state;
	char *log;

	chmod(f->home, 0777);
	start_agent(f);
	log_capture(f);
	assert_int_equal(agent_start(f->ag), 0);
	log = log_stop(f);
	/* Our own process: still watched, but nothing will be run from its home. */
	assert_int_equal(agent_state(f->ag), AGENT_RUNNING);
	assert_null(agent_home(f->ag));
	assert_int_equal(count_of(log, "refusing agent home"), 1);
	assert_non_null(strstr(log, "is writable by group or others"));
}

static void
test_configured_home_that_fails_is_refused(void **state)
{
	struct fixture *f = *state;
	char *log;

	chmod(f->home, 0777);
	f->cfg.agent_home = f->home;
	log_capture(f);
	agent_reconfigure(f->ag, &f->cfg, &f->creds);
	log = log_stop(f);
	assert_non_null(strstr(log, "(configured): "));
	assert_null(agent_home(f->ag));
	agent_start(f->ag);
	assert_int_equal(agent_restart(f->ag, on_restart, f), -ENOENT);
	/* Fixed and reloaded: taken. */
	chmod(f->home, 0700);
	agent_reconfigure(f->ag, &f->cfg, &f->creds);
	assert_string_equal(agent_home(f->ag), f->home);
}

static void
test_restart_checks_the_home_again_right_before_running(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];

	agent_start(f->ag);
	assert_int_equal(agent_set_known_home(f->ag, f->home), 0);
	chmod(f->home, 0777); /* changed after the home was taken */
	assert_int_equal(agent_restart(f->ag, on_restart, f), -EPERM);
	assert_false(agent_restarting(f->ag));
	assert_null(agent_home(f->ag)); /* forgotten, so the daemon no longer stores it */
	snprintf(path, sizeof(path), "%s/answers.txt", f->home);
	assert_int_equal(access(path, F_OK), -1); /* startup.sh never ran */
}

static void
test_restart_program_in_the_home_is_checked_like_startup(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {"./bin/restart.sh", NULL};
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/bin", f->home);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bin/restart.sh", f->home);
	write_file(path, "#!/bin/sh\ntouch ran\n", 0775);
	memcpy(f->cfg.restart_argv, argv, sizeof(argv));
	f->cfg.restart_argc = 1;
	agent_start(f->ag);
	assert_int_equal(agent_set_known_home(f->ag, f->home), 0);
	assert_int_equal(agent_restart(f->ag, on_restart, f), -EPERM);
	snprintf(path, sizeof(path), "%s/ran", f->home);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_status_json_reports_restarts_and_autorecovery(void **state)
{
	struct fixture *f = *state;
	cJSON *o = cJSON_CreateObject(), *a, *l;

	agent_start(f->ag);
	agent_set_known_home(f->ag, f->home);
	agent_restart(f->ag, on_restart, f);
	run_until_restarted(f, 8000);
	agent_status_json(f->ag, o);
	assert_int_equal(cJSON_GetObjectItem(o, "restarts")->valueint, 1);
	l = cJSON_GetObjectItem(o, "last_restart");
	assert_string_equal(cJSON_GetObjectItem(l, "result")->valuestring, "ok");
	a = cJSON_GetObjectItem(o, "autorecovery");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "configured")));
	assert_int_equal(cJSON_GetObjectItem(a, "max_retry_times")->valueint, 3);
	cJSON_Delete(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_running_agent_is_found_with_its_home, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_agent_is_dead, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_exit_is_seen_at_once_with_a_pidfd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_agent_is_noticed_while_dead, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_autorecovery_settings_come_from_the_home, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_autorecovery_without_home_is_enoent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_known_home_is_taken_only_when_it_looks_like_one, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_runs_startup_with_answers_and_finds_the_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_output_is_logged_with_secrets_masked_and_clean_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_configured_answers_fill_placeholders, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_is_refused_while_the_agent_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_without_home_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_second_restart_while_one_runs_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_hanging_command_is_killed_at_its_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failing_command_reports_eio, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_command_that_starts_nothing_reports_esrch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_command_fails_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_close_during_a_restart_leaks_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_agent_holding_the_output_pipes_does_not_stall_the_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_status_json_reports_restarts_and_autorecovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_agent_run_by_another_user_is_not_adopted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_known_home_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_home_of_a_running_agent_is_not_taken_when_untrusted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_configured_home_that_fails_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_checks_the_home_again_right_before_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_program_in_the_home_is_checked_like_startup, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
