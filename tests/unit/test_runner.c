/*
 * The process runner on a real loop, running real programs: argv without a
 * shell, the environment it is given and no other, stdin lines, masked
 * output, the timeout, and its life cycle (done only from the loop, no
 * callback after close, every handle freed).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/log.h"
#include "smsguard/runner.h"

struct fixture {
	uv_loop_t loop;
	struct runner *r;
	struct runner_opts o;
	int done;
	struct runner_result res;
	char output[8192];
	bool closed;
	char logpath[PATH_MAX];
	int saved_stderr;
};

static void
on_done(void *arg, const struct runner_result *res)
{
	struct fixture *f = arg;

	f->done++;
	f->res = *res;
	assert_true(res->output_len < sizeof(f->output));
	memcpy(f->output, res->output, res->output_len + 1);
	f->res.output = f->output;
}

static void
on_closed(void *arg)
{
	((struct fixture *)arg)->closed = true;
}

static int
setup(void **state)
{
	static const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	struct fixture *f = calloc(1, sizeof(*f));

	uv_loop_init(&f->loop);
	assert_int_equal(runner_new(&f->loop, &f->r), 0);
	f->o.env = env;
	f->o.output_max = 4096;
	f->o.log_tag = "test";
	f->o.name = "test";
	f->o.done = on_done;
	f->o.arg = f;
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->r != NULL)
		runner_close(f->r, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_true(f->done <= 1); /* done runs once at most */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	free(f);
	return 0;
}

/* Runs the loop until done was called, at most limit_ms. */
static void
run_until_done(struct fixture *f, uint64_t limit_ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (f->done == 0 && uv_now(&f->loop) - start < limit_ms)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->done, 1);
}

static void
run(struct fixture *f, const char *const *argv)
{
	f->o.argv = argv;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	run_until_done(f, 5000);
}

/* Sends this process's stderr (the log) to a file until log_stop(). */
static void
log_capture(struct fixture *f)
{
	int fd;

	snprintf(f->logpath, sizeof(f->logpath), "%s/test_runner.%d.log",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (int)getpid());
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

static uint64_t
elapsed_ms(struct fixture *f, uint64_t t0)
{
	uv_update_time(&f->loop);
	return uv_now(&f->loop) - t0;
}

/* -- what runs ---------------------------------------------------------------------------- */

static void
test_argv_is_passed_without_a_shell(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"echo", "a  b", "$HOME", "`id`;", NULL};

	run(f, argv);
	assert_int_equal(f->res.error, 0);
	assert_int_equal(f->res.exit_status, 0);
	assert_string_equal(f->output, "a  b $HOME `id`;\n");
}

static void
test_environment_is_the_given_one_and_no_other(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/usr/bin/env", NULL};
	const char *env[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
	const struct runner_var vars[] = {
	    {"SMSGUARD_EVENT", "agent_down"}, {"SMSGUARD_MESSAGE", "two words; and $x"},
	    {"LANG", "C.UTF-8"}, /* a name given again replaces the earlier value */
	};

	f->o.env = env;
	f->o.vars = vars;
	f->o.nvars = 3;
	run(f, argv);
	assert_string_equal(f->output,
	    "PATH=/usr/bin:/bin\nLANG=C.UTF-8\n"
	    "SMSGUARD_EVENT=agent_down\n"
	    "SMSGUARD_MESSAGE=two words; and $x\n");
}

static void
test_cwd_is_the_given_one_or_root(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"pwd", NULL};

	run(f, argv);
	assert_string_equal(f->output, "/\n");
}

static void
test_input_lines_reach_stdin_then_eof(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {
	    "/bin/sh", "-c", "read a; read b; echo \"$a/$b\"; cat; echo end", NULL};
	const char *input[] = {"one", "two words", NULL};

	f->o.input = input;
	run(f, argv);
	assert_string_equal(f->output, "one/two words\nend\n");
}

static void
test_descriptors_of_ours_are_not_inherited(void **state)
{
	struct fixture *f = *state;
	char script[128];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, as some libraries do */

	assert_true(fd > 2);
	snprintf(script, sizeof(script),
	    "if [ -e /proc/$$/fd/%d ]; then echo inherited; else echo closed; fi", fd);
	run(f, argv);
	close(fd);
	assert_string_equal(f->output, "closed\n");
}

/* -- how it ended ------------------------------------------------------------------------- */

static void
test_exit_status_and_signal_are_reported(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
	const char *argv2[] = {"/bin/sh", "-c", "kill -USR1 $$", NULL};

	run(f, argv);
	assert_int_equal(f->res.error, 0);
	assert_int_equal(f->res.exit_status, 7);
	assert_int_equal(f->res.term_signal, 0);
	runner_close(f->r, NULL, NULL);
	assert_int_equal(runner_new(&f->loop, &f->r), 0);
	f->done = 0;
	run(f, argv2);
	assert_int_equal(f->res.error, 0);
	assert_int_equal(f->res.term_signal, SIGUSR1);
}

static void
test_spawn_failure_is_reported_from_the_loop(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/nonexistent/program", NULL};

	f->o.argv = argv;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	assert_int_equal(f->done, 0); /* never from inside runner_start() */
	assert_int_equal(runner_spawn_error(f->r), UV_ENOENT);
	assert_int_equal(runner_pid(f->r), 0);
	assert_true(runner_running(f->r));
	run_until_done(f, 1000);
	assert_int_equal(f->res.error, UV_ENOENT);
	assert_false(runner_running(f->r));
}

static void
test_spawn_failure_then_close_calls_no_done(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/nonexistent/program", NULL};

	f->o.argv = argv;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	runner_close(f->r, on_closed, f);
	f->r = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(f->done, 0);
}

static void
test_bad_options_are_refused_and_call_nothing(void **state)
{
	struct fixture *f = *state;
	const char *empty[] = {NULL};
	const char *argv[] = {"true", NULL};
	const char *bad_env[] = {"NOEQUALS", NULL};
	const struct runner_var bad_var = {"A=B", "c"};

	assert_int_equal(runner_start(f->r, &f->o), -EINVAL);
	f->o.argv = empty;
	assert_int_equal(runner_start(f->r, &f->o), -EINVAL);
	f->o.argv = argv;
	f->o.env = bad_env;
	assert_int_equal(runner_start(f->r, &f->o), -EINVAL);
	f->o.env = NULL;
	f->o.vars = &bad_var;
	f->o.nvars = 1;
	assert_int_equal(runner_start(f->r, &f->o), -EINVAL);
	f->o.nvars = 0;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	assert_int_equal(runner_start(f->r, &f->o), -EBUSY);
	run_until_done(f, 5000);
	assert_int_equal(f->res.exit_status, 0);
}

/* -- the timeout and cancel --------------------------------------------------------------- */

static void
test_timeout_kills_the_whole_group_at_once_without_grace(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "sleep 1000 & sleep 1000", NULL};
	uint64_t t0;

	f->o.timeout_ms = 200;
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	run(f, argv);
	assert_int_equal(f->res.error, -ETIMEDOUT);
	assert_int_equal(f->res.term_signal, SIGKILL);
	assert_true(elapsed_ms(f, t0) < 1500);
	/* The background sleep was in the group: it holds no pipe open now. */
	assert_true(f->res.output_len == 0);
}

static void
test_timeout_sends_term_then_kill_after_the_grace(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 1000", NULL};
	uint64_t t0;

	f->o.timeout_ms = 200;
	f->o.kill_grace_ms = 300;
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	run(f, argv);
	assert_int_equal(f->res.error, -ETIMEDOUT);
	assert_int_equal(f->res.term_signal, SIGKILL); /* TERM was ignored */
	assert_true(elapsed_ms(f, t0) >= 500);
	assert_true(elapsed_ms(f, t0) < 2500);
	assert_string_equal(f->output, "ready\n");
}

static void
test_timeout_term_is_enough_for_a_polite_program(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"sleep", "1000", NULL};
	uint64_t t0;

	f->o.timeout_ms = 200;
	f->o.kill_grace_ms = 5000;
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	run(f, argv);
	assert_int_equal(f->res.error, -ETIMEDOUT);
	assert_int_equal(f->res.term_signal, SIGTERM);
	assert_true(elapsed_ms(f, t0) < 2000);
}

static void
test_cancel_kills_and_reports_ecanceled(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"sleep", "1000", NULL};

	f->o.argv = argv;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	runner_cancel(f->r);
	assert_int_equal(f->done, 0);
	run_until_done(f, 3000);
	assert_int_equal(f->res.error, -ECANCELED);
	assert_int_equal(f->res.term_signal, SIGKILL);
	runner_cancel(f->r); /* finished: nothing */
}

/* -- output ------------------------------------------------------------------------------- */

static void
test_secrets_are_masked_in_output_and_log_and_input_is_never_logged(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "read a; echo \"key=$a\"; echo \"sk=$a\" >&2", NULL};
	const char *input[] = {"S3cretValue", NULL};
	const char *secrets[] = {"S3cretValue", "", NULL};
	char *log;

	f->o.input = input;
	f->o.secrets = secrets;
	f->o.log_output = true;
	log_capture(f);
	run(f, argv);
	log = log_stop(f);
	assert_non_null(strstr(f->output, "key=***\n"));
	assert_non_null(strstr(f->output, "sk=***\n"));
	assert_null(strstr(f->output, "S3cret"));
	assert_null(strstr(log, "S3cret"));
	assert_non_null(strstr(log, "test: test stdout: key=***"));
	assert_non_null(strstr(log, "test: test stderr: sk=***"));
	assert_non_null(strstr(log, "test: test command (pid"));
}

static void
test_a_cut_line_leaves_no_part_of_a_secret(void **state)
{
	struct fixture *f = *state;
	char script[256];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	const char *secrets[] = {"ABCDEFGHIJKLMNOP", NULL};

	/* 1015 x then the secret: the line is cut in the secret, at RUNNER_LINE_MAX - 1. */
	snprintf(script, sizeof(script),
	    "head -c 1015 /dev/zero | tr '\\0' x; echo ABCDEFGHIJKLMNOP; echo next");
	f->o.secrets = secrets;
	run(f, argv);
	assert_null(strstr(f->output, "ABCD"));
	assert_non_null(strstr(f->output, "\nnext\n"));
}

static void
test_kept_output_is_bounded(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"seq", "1", "1000", NULL};

	f->o.output_max = 20;
	run(f, argv);
	assert_string_equal(f->output, "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
	assert_true(f->res.output_cut);
}

static void
test_output_is_not_kept_without_a_limit_and_not_logged_unless_asked(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"echo", "hello", NULL};
	char *log;

	f->o.output_max = 0;
	log_capture(f);
	run(f, argv);
	log = log_stop(f);
	assert_int_equal(f->res.output_len, 0);
	assert_string_equal(f->output, "");
	assert_null(strstr(log, "hello"));
}

static void
test_a_quiet_run_logs_nothing_above_debug(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "echo said; exit 3", NULL};
	char *log;

	f->o.quiet = true;
	f->o.log_output = true;
	log_setlevel(LOG_LEVEL_INFO);
	log_capture(f);
	run(f, argv);
	log = log_stop(f);
	assert_int_equal(f->res.exit_status, 3);
	assert_non_null(strstr(f->output, "said\n"));
	assert_null(strstr(log, "test command"));
	assert_null(strstr(log, "said"));
}

/* -- letting go --------------------------------------------------------------------------- */

static void
test_close_while_running_calls_no_done_and_leaks_nothing(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"sleep", "1000", NULL};
	pid_t pid;

	f->o.argv = argv;
	f->o.timeout_ms = 100;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	pid = runner_pid(f->r);
	assert_true(pid > 0);
	runner_close(f->r, on_closed, f);
	f->r = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(f->done, 0);
	/* Left to run (closing does not kill): the test cleans up. */
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void
test_output_held_by_what_it_started_does_not_delay_done(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo $!", NULL};
	uint64_t t0;
	pid_t holder;

	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	run(f, argv);
	assert_true(elapsed_ms(f, t0) < RUNNER_EXIT_DRAIN_MS + 1000);
	assert_int_equal(f->res.exit_status, 0);
	holder = (pid_t)atoi(f->output);
	assert_true(holder > 0);
	/* Let go: the pipes stay open (no SIGPIPE for the holder) until it closes them. */
	runner_drain(f->r, on_closed, f);
	f->r = NULL;
	for (int i = 0; i < 5; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_false(f->closed);
	kill(holder, SIGKILL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
}

static void
test_close_after_drain_stops_waiting(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo $!", NULL};
	pid_t holder;

	run(f, argv);
	holder = (pid_t)atoi(f->output);
	runner_drain(f->r, on_closed, f);
	runner_close(f->r, NULL, NULL); /* the drain's callback still runs */
	f->r = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	kill(holder, SIGKILL);
}

static void
test_drain_while_running_reaps_the_program_at_its_exit(void **state)
{
	struct fixture *f = *state;
	const char *argv[] = {"/bin/sh", "-c", "sleep 0.2; echo late", NULL};
	pid_t pid;

	f->o.argv = argv;
	f->o.log_output = true;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	pid = runner_pid(f->r);
	runner_drain(f->r, on_closed, f);
	f->r = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(f->done, 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1); /* reaped already */
}

static void
test_drain_lets_pending_input_reach_the_program(void **state)
{
	struct fixture *f = *state;
	char script[PATH_MAX + 64], out[PATH_MAX], got[32] = "";
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	const char *input[] = {NULL, NULL};
	char *big = malloc(4000001);
	FILE *fp;

	/* More than the socket pair holds: the write is still pending when we let go. */
	memset(big, 'y', 4000000);
	big[4000000] = '\0';
	input[0] = big;
	snprintf(out, sizeof(out), "%s/test_runner.%d.count",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (int)getpid());
	snprintf(script, sizeof(script), "sleep 0.3; wc -c > %s", out);
	f->o.argv = argv;
	f->o.input = input;
	assert_int_equal(runner_start(f->r, &f->o), 0);
	free(big);
	runner_drain(f->r, on_closed, f);
	f->r = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	fp = fopen(out, "r");
	assert_non_null(fp);
	(void)!fgets(got, sizeof(got), fp);
	fclose(fp);
	unlink(out);
	assert_int_equal(atoi(got), 4000001);
}

static void
test_close_before_start_frees_from_the_loop(void **state)
{
	struct fixture *f = *state;

	runner_close(f->r, on_closed, f);
	f->r = NULL;
	assert_false(f->closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_argv_is_passed_without_a_shell),
	    T(test_environment_is_the_given_one_and_no_other),
	    T(test_cwd_is_the_given_one_or_root),
	    T(test_input_lines_reach_stdin_then_eof),
	    T(test_descriptors_of_ours_are_not_inherited),
	    T(test_exit_status_and_signal_are_reported),
	    T(test_spawn_failure_is_reported_from_the_loop),
	    T(test_spawn_failure_then_close_calls_no_done),
	    T(test_bad_options_are_refused_and_call_nothing),
	    T(test_timeout_kills_the_whole_group_at_once_without_grace),
	    T(test_timeout_sends_term_then_kill_after_the_grace),
	    T(test_timeout_term_is_enough_for_a_polite_program),
	    T(test_cancel_kills_and_reports_ecanceled),
	    T(test_secrets_are_masked_in_output_and_log_and_input_is_never_logged),
	    T(test_a_cut_line_leaves_no_part_of_a_secret),
	    T(test_kept_output_is_bounded),
	    T(test_output_is_not_kept_without_a_limit_and_not_logged_unless_asked),
	    T(test_a_quiet_run_logs_nothing_above_debug),
	    T(test_close_while_running_calls_no_done_and_leaks_nothing),
	    T(test_output_held_by_what_it_started_does_not_delay_done),
	    T(test_close_after_drain_stops_waiting),
	    T(test_drain_while_running_reaps_the_program_at_its_exit),
	    T(test_drain_lets_pending_input_reach_the_program),
	    T(test_close_before_start_frees_from_the_loop),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
