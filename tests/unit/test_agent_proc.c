/*
 * Which process is the agent, on real processes: copies of sleep(1) and
 * sh(1) under unique names in a temporary directory.
 */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsguard/agent_proc.h"

#define MAX_CHILDREN 8

struct fixture {
	char dir[PATH_MAX];
	char name[16];
	char path[PATH_MAX + 32];
	struct agent_proc_refusals memo;
	pid_t children[MAX_CHILDREN];
	int nchildren;
};

static const char *
which(const char *prog)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "/usr/bin/%s", prog);
	if (access(buf, X_OK) != 0)
		snprintf(buf, sizeof(buf), "/bin/%s", prog);
	return buf;
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "%s/test_agent_proc.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->name, sizeof(f->name), "sgp%d", (int)getpid() % 1000000);
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, f->name);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 64];

	for (int i = 0; i < f->nchildren; i++) {
		kill(-f->children[i], SIGKILL);
		kill(f->children[i], SIGKILL);
		waitpid(f->children[i], NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "pkill -KILL -x %s 2>/dev/null", f->name);
	(void)!system(cmd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

/* argv[0] of pid as /proc shows it, "" when it cannot be read. */
static void
proc_argv0(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *fp;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fp = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, size - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

/* Starts argv in its own process group from cwd; returns once exec replaced the child. */
static pid_t
start(struct fixture *f, const char *cwd, char *const argv[])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		if (chdir(cwd) != 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(f->nchildren < MAX_CHILDREN);
	f->children[f->nchildren++] = pid;
	for (int i = 0; i < 2000; i++) {
		char a0[PATH_MAX];

		proc_argv0(pid, a0, sizeof(a0));
		if (strcmp(a0, argv[0]) == 0)
			break;
		usleep(1000);
	}
	return pid;
}

/* The number of live processes named name (by comm). */
static int
count_named(const char *name)
{
	char cmd[64], line[64];
	FILE *fp;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "pgrep -x %s", name);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		n++;
	pclose(fp);
	return n;
}

static void
test_a_process_is_found_by_its_comm(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {f->path, "1000", NULL};
	pid_t pid;

	copy_file(which("sleep"), f->path, 0755);
	pid = start(f, "/", argv);
	assert_true(agent_proc_matches(pid, f->name));
	assert_false(agent_proc_matches(pid, "linuxmain"));
	assert_true(agent_proc_trusted(pid));
	assert_int_equal(agent_proc_find(f->name, &f->memo), pid);
}

static void
test_a_script_is_found_by_its_command_line(void **state)
{
	struct fixture *f = *state;
	char sh[64];
	char *argv[] = {sh, f->path, NULL};
	FILE *fp = fopen(f->path, "w");
	pid_t pid;

	/* "; exit 0" keeps sh from exec'ing sleep in its place. */
	assert_non_null(fp);
	fputs("sleep 1000; exit 0\n", fp);
	fclose(fp);
	snprintf(sh, sizeof(sh), "%s", which("sh"));
	pid = start(f, "/", argv);
	assert_true(agent_proc_matches(pid, f->name));
	assert_int_equal(agent_proc_find(f->name, &f->memo), pid);
}

static void
test_a_program_merely_holding_the_path_is_not_the_agent(void **state)
{
	struct fixture *f = *state;
	char tail[64];
	char *argv[] = {tail, "-f", f->path, NULL};
	FILE *fp = fopen(f->path, "w");
	pid_t pid;

	assert_non_null(fp);
	fclose(fp);
	snprintf(tail, sizeof(tail), "%s", which("tail"));
	pid = start(f, "/", argv);
	assert_false(agent_proc_matches(pid, f->name));
	assert_int_equal(agent_proc_find(f->name, &f->memo), 0);
}

static void
test_the_main_process_is_the_one_whose_parent_is_not_a_match(void **state)
{
	struct fixture *f = *state;
	char script[PATH_MAX + 64];
	char *argv[] = {f->path, "-c", script, NULL};
	pid_t pid;

	/* A copy of sh under the name starts another, which starts sleep. */
	copy_file(which("sh"), f->path, 0755);
	snprintf(script, sizeof(script), "%s -c 'sleep 1000; :'; :", f->path);
	pid = start(f, "/", argv);
	for (int i = 0; i < 2000 && count_named(f->name) < 2; i++)
		usleep(1000);
	assert_int_equal(count_named(f->name), 2);
	assert_int_equal(agent_proc_find(f->name, &f->memo), pid);
}

static void
test_a_zombie_is_not_the_agent(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {f->path, NULL};
	char stat[64], buf[256] = "";
	pid_t pid;

	copy_file(which("true"), f->path, 0755);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	/* Not reaped yet: a zombie still named like the agent. */
	snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 2000 && strstr(buf, ") Z") == NULL; i++) {
		FILE *fp = fopen(stat, "r");

		if (fp != NULL) {
			buf[fread(buf, 1, sizeof(buf) - 1, fp)] = '\0';
			fclose(fp);
		}
		usleep(1000);
	}
	assert_non_null(strstr(buf, ") Z"));
	assert_false(agent_proc_matches(pid, f->name));
	assert_int_equal(agent_proc_find(f->name, &f->memo), 0);
	waitpid(pid, NULL, 0);
}

static void
test_a_stopped_agent_is_still_the_agent_but_reads_stopped(void **state)
{
	struct fixture *f = *state;
	char *argv[] = {f->path, "1000", NULL};
	pid_t pid;
	int status;

	copy_file(which("sleep"), f->path, 0755);
	pid = start(f, "/", argv);
	assert_false(agent_proc_stopped(pid));
	kill(pid, SIGSTOP);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_true(agent_proc_stopped(pid));
	assert_true(agent_proc_matches(pid, f->name));
	assert_int_equal(agent_proc_find(f->name, &f->memo), pid);
	kill(pid, SIGCONT);
	assert_int_equal(waitpid(pid, &status, WCONTINUED), pid);
	assert_false(agent_proc_stopped(pid));
	assert_false(agent_proc_stopped(0x7ffffff0)); /* no such process */
}

static void
test_the_home_is_found_from_the_executable_or_the_script(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 64], exe[PATH_MAX + 64], script[PATH_MAX + 64], sh[64];
	char *argv[] = {exe, "1000", NULL};
	char *argv2[] = {sh, "agent/run.sh", NULL};
	struct agent_home *h = agent_home_new();
	char *home;
	pid_t pid;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/agent", f->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/agent/config", f->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/startup.sh", f->dir);
	copy_file("/dev/null", path, 0755);
	snprintf(exe, sizeof(exe), "%s/agent/%s", f->dir, f->name);
	copy_file(which("sleep"), exe, 0755);
	pid = start(f, "/", argv);
	home = agent_proc_home(pid, h);
	assert_non_null(home);
	assert_string_equal(home, f->dir);
	free(home);
	/* A script agent: the interpreter lives elsewhere, the script (cwd-relative) does not. */
	snprintf(script, sizeof(script), "%s/agent/run.sh", f->dir);
	fp = fopen(script, "w");
	assert_non_null(fp);
	fputs("sleep 1000; exit 0\n", fp);
	fclose(fp);
	snprintf(sh, sizeof(sh), "%s", which("sh"));
	pid = start(f, f->dir, argv2);
	home = agent_proc_home(pid, h);
	assert_non_null(home);
	assert_string_equal(home, f->dir);
	free(home);
	agent_home_free(h);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_a_process_is_found_by_its_comm),
	    T(test_a_script_is_found_by_its_command_line),
	    T(test_a_program_merely_holding_the_path_is_not_the_agent),
	    T(test_the_main_process_is_the_one_whose_parent_is_not_a_match),
	    T(test_a_zombie_is_not_the_agent),
	    T(test_a_stopped_agent_is_still_the_agent_but_reads_stopped),
	    T(test_the_home_is_found_from_the_executable_or_the_script),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
