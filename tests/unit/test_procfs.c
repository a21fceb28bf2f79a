/*
 * The /proc files of the agent scan, parsed from bytes: a process names
 * itself and writes its own command line, so the odd ones are the point.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smsguard/procfs.h"

/* A literal's bytes without the compiler's NUL, as read() gives them. */
#define BYTES(s) (s), (sizeof(s) - 1)

static void
test_stat_reads_the_state_and_the_parent_after_the_last_parenthesis(void **state)
{
	char st = 0;
	pid_t ppid = -1;

	assert_int_equal(
	    procfs_stat_parse(BYTES("1234 (linuxmain) S 1 1234 1234 0 -1\n"), &st, &ppid), 0);
	assert_int_equal(st, 'S');
	assert_int_equal(ppid, 1);
	/* The name is the process's to choose: "x) Z 9 (" must not read as a zombie. */
	assert_int_equal(
	    procfs_stat_parse(BYTES("77 (x) Z 9 () R 4194304 77 77 0\n"), &st, &ppid), 0);
	assert_int_equal(st, 'R');
	assert_int_equal(ppid, 4194304);
}

static void
test_malformed_stat_is_refused(void **state)
{
	static const char *const bad[] = {"", "1234 linuxmain S 1", "1234 (a) S", "1234 (a) S x",
	    "1234 (a)  S 1", "1234 (a) S -1", "1234 (a) S 99999999999999999999"};
	char st;
	pid_t ppid;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(procfs_stat_parse(bad[i], strlen(bad[i]), &st, &ppid), -EINVAL);
}

static void
test_status_gives_the_real_uid(void **state)
{
	uid_t uid = 0;

	assert_int_equal(procfs_status_uid(BYTES("Name:\tlinuxmain\nState:\tS (sleeping)\n"
	                                         "Uid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"),
	                     &uid),
	    0);
	assert_int_equal(uid, 1000);
}

static void
test_status_without_a_usable_uid_is_refused(void **state)
{
	static const char *const bad[] = {"Name:\tx\n", "Name:\tx\nUid:\n", "Name:\tx\nUid:\t-1\n",
	    "Name:\tx\nUid:\t4294967295\n", "Name:\tx\nUid:\t99999999999999999999\n",
	    "Name:\tx\nuid:\t0\n"};
	uid_t uid;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(procfs_status_uid(bad[i], strlen(bad[i]), &uid), -EINVAL);
}

static void
test_comm_is_the_name_cut_to_15_characters(void **state)
{
	assert_true(procfs_comm_is(BYTES("linuxmain\n"), "linuxmain"));
	assert_true(procfs_comm_is(BYTES("sms-agent-daemo\n"), "sms-agent-daemon"));
	assert_false(procfs_comm_is(BYTES("linuxmai\n"), "linuxmain"));
	assert_false(procfs_comm_is(BYTES("linuxmainx\n"), "linuxmain"));
	assert_false(procfs_comm_is(BYTES("\n"), ""));
	assert_false(procfs_comm_is(BYTES("linux\0main\n"), "linux"));
}

static void
test_cmdline_names_by_argv0_or_after_an_interpreter(void **state)
{
	assert_true(
	    procfs_cmdline_names(BYTES("/opt/SMS-Agent/agent/linuxmain\0-d\0"), "linuxmain"));
	assert_true(procfs_cmdline_names(
	    BYTES("/usr/bin/python3\0-u\0/opt/SMS-Agent/agent/linuxmain\0"), "linuxmain"));
	assert_true(procfs_cmdline_names(BYTES("sh\0linuxmain\0"), "linuxmain"));
}

/* An editor or `tail -f` holding the path is not the agent. */
static void
test_cmdline_argument_of_another_program_does_not_name_it(void **state)
{
	assert_false(procfs_cmdline_names(BYTES("tail\0-f\0/opt/agent/linuxmain\0"), "linuxmain"));
	assert_false(
	    procfs_cmdline_names(BYTES("/usr/bin/python3\0/opt/linuxmain.py\0"), "linuxmain"));
	assert_false(procfs_cmdline_names(BYTES(""), "linuxmain"));
	/* Cut short by the reader: the last argument ends at the length. */
	assert_false(procfs_cmdline_names("bash\0linux", 10, "linuxmain"));
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_reads_the_state_and_the_parent_after_the_last_parenthesis),
	    cmocka_unit_test(test_malformed_stat_is_refused),
	    cmocka_unit_test(test_status_gives_the_real_uid),
	    cmocka_unit_test(test_status_without_a_usable_uid_is_refused),
	    cmocka_unit_test(test_comm_is_the_name_cut_to_15_characters),
	    cmocka_unit_test(test_cmdline_names_by_argv0_or_after_an_interpreter),
	    cmocka_unit_test(test_cmdline_argument_of_another_program_does_not_name_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
