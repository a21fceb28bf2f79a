/*
 * The agent's home: the trust rule on real directories, which home is in
 * use (configured, found, remembered), the check right before a run, and
 * g-property.cfg read from it. No loop: time is an argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsguard/agent_home.h"

struct fixture {
	struct agent_home *h;
	char home[PATH_MAX];
	char logpath[PATH_MAX + 8];
	int saved_stderr;
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

/* The smallest thing that looks like an agent home: startup.sh and agent/config/. */
static void
make_min_home(const char *dir)
{
	char path[PATH_MAX + 32];

	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/agent", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/agent/config", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/startup.sh", dir);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
}

static void
write_gprop(struct fixture *f, const char *text)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/agent/config/g-property.cfg", f->home);
	write_file(path, text, 0644);
}

/* A home in a fresh mkdtemp directory (0700, ours), with agent/bin/ and g-property.cfg. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[PATH_MAX + 64];

	snprintf(f->home, sizeof(f->home), "%s/test_agent_home.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->home));
	assert_int_equal(rmdir(f->home), 0);
	make_min_home(f->home);
	chmod(f->home, 0700);
	snprintf(path, sizeof(path), "%s/agent/bin", f->home);
	assert_int_equal(mkdir(path, 0755), 0);
	write_gprop(f, "auto_start_max_retry_times=3\nauto_start_interval_seconds=10\n");
	f->h = agent_home_new();
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	agent_home_free(f->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
	(void)!system(cmd);
	free(f);
	return 0;
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

/* The number of times needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* -- the rule ----------------------------------------------------------------------------- */

static void
test_proper_home_is_accepted(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	/* mkdtemp: 0700 and ours, under a root-owned sticky /tmp (or $TMPDIR). */
	assert_int_equal(agent_home_trusted(f->home, &cause), 0);
	assert_null(cause);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	assert_string_equal(agent_home_get(f->h), f->home);
}

static void
test_group_or_world_writable_home_is_refused(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	chmod(f->home, 0775);
	assert_int_equal(agent_home_trusted(f->home, &cause), -EPERM);
	assert_non_null(strstr(cause, "is writable by group or others"));
	free(cause);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), -EPERM);
	chmod(f->home, 0757);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), -EPERM);
	/* Sticky is no excuse for the home itself: others could add to it. */
	chmod(f->home, 01777);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), -EPERM);
	assert_null(agent_home_get(f->h));
}

static void
test_home_under_a_writable_ancestor_is_refused(void **state)
{
	struct fixture *f = *state;
	char outer[PATH_MAX + 16], inner[PATH_MAX + 32];
	char *cause = NULL;

	snprintf(outer, sizeof(outer), "%s/outer", f->home);
	snprintf(inner, sizeof(inner), "%s/SMS-Agent", outer);
	assert_int_equal(mkdir(outer, 0755), 0);
	make_min_home(inner);
	/* Anyone may rename SMS-Agent away and put their own in its place. */
	chmod(outer, 0777);
	assert_int_equal(agent_home_trusted(inner, &cause), -EPERM);
	assert_non_null(strstr(cause, "outer is writable by group or others and not sticky"));
	free(cause);
	assert_int_equal(agent_home_remember(f->h, inner, 0), -EPERM);
	assert_null(agent_home_get(f->h));
}

static void
test_home_under_a_sticky_ancestor_of_ours_is_accepted(void **state)
{
	struct fixture *f = *state;
	char outer[PATH_MAX + 16], inner[PATH_MAX + 32];

	snprintf(outer, sizeof(outer), "%s/outer", f->home);
	snprintf(inner, sizeof(inner), "%s/SMS-Agent", outer);
	assert_int_equal(mkdir(outer, 0755), 0);
	make_min_home(inner);
	/* Like /tmp: others may add entries, but not rename the home, which is ours. */
	chmod(outer, 01777);
	assert_int_equal(agent_home_trusted(inner, NULL), 0);
}

static void
test_home_under_an_ancestor_owned_by_another_user_is_refused(void **state)
{
	struct fixture *f = *state;
	struct passwd *nobody = getpwnam("nobody");
	char outer[PATH_MAX + 16], inner[PATH_MAX + 32];
	char *cause = NULL;

	snprintf(outer, sizeof(outer), "%s/outer", f->home);
	snprintf(inner, sizeof(inner), "%s/SMS-Agent", outer);
	assert_int_equal(mkdir(outer, 0755), 0);
	make_min_home(inner);
	if (geteuid() == 0 && nobody != NULL) {
		/* The owner of a directory may rename anything in it, sticky or not. */
		assert_int_equal(chown(outer, nobody->pw_uid, nobody->pw_gid), 0);
		chmod(outer, 01777);
		assert_int_equal(agent_home_trusted(inner, &cause), -EPERM);
		assert_non_null(strstr(cause, "outer is owned by uid"));
	} else {
		/* Not root: no chown; a group-writable ancestor that is not sticky fails the same way. */
		chmod(outer, 0775);
		assert_int_equal(agent_home_trusted(inner, &cause), -EPERM);
		assert_non_null(strstr(cause, "outer is writable by group or others"));
	}
	free(cause);
}

static void
test_symlinked_startup_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32], real[PATH_MAX + 32];
	char *cause = NULL;

	snprintf(path, sizeof(path), "%s/startup.sh", f->home);
	snprintf(real, sizeof(real), "%s/real.sh", f->home);
	assert_int_equal(rename(path, real), 0);
	assert_int_equal(symlink(real, path), 0);
	assert_int_equal(agent_home_trusted(f->home, &cause), -EPERM);
	assert_non_null(strstr(cause, "startup.sh is a symbolic link"));
	free(cause);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), -EPERM);
}

static void
test_writable_startup_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char *cause = NULL;

	snprintf(path, sizeof(path), "%s/startup.sh", f->home);
	chmod(path, 0777);
	assert_int_equal(agent_home_trusted(f->home, &cause), -EPERM);
	assert_non_null(strstr(cause, "startup.sh is writable by group or others"));
	free(cause);
}

/* -- which home is in use ----------------------------------------------------------------- */

static void
test_known_home_is_taken_only_when_it_looks_like_one(void **state)
{
	struct fixture *f = *state;
	char sub[PATH_MAX + 16], other[PATH_MAX + 16];

	snprintf(sub, sizeof(sub), "%s/agent", f->home);
	snprintf(other, sizeof(other), "%s/other", f->home);
	make_min_home(other);
	assert_int_equal(agent_home_remember(f->h, "/", 0), -EINVAL);
	assert_int_equal(agent_home_remember(f->h, "relative/path", 0), -EINVAL);
	assert_int_equal(agent_home_remember(f->h, sub, 0), -EINVAL);
	assert_null(agent_home_get(f->h));
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	assert_string_equal(agent_home_get(f->h), f->home);
	/* The same again is fine; another is not taken in its place. */
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	assert_int_equal(agent_home_remember(f->h, other, 0), -EEXIST);
	assert_string_equal(agent_home_get(f->h), f->home);
}

static void
test_remembered_home_gives_its_settings(void **state)
{
	struct fixture *f = *state;
	struct gprop g;

	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	assert_non_null(agent_home_gprop_last(f->h));
	assert_int_equal(agent_home_gprop(f->h, 0, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 3);
	assert_int_equal(g.auto_start_interval_seconds, 10);
}

static void
test_home_is_found_above_a_file_in_it(void **state)
{
	struct fixture *f = *state;
	char exe[PATH_MAX + 32];
	char *found;

	snprintf(exe, sizeof(exe), "%s/agent/bin/linuxmain", f->home);
	found = agent_home_find(f->h, exe, 42);
	assert_non_null(found);
	assert_string_equal(found, f->home);
	agent_home_learn(f->h, found, 42);
	assert_string_equal(agent_home_get(f->h), f->home);
	assert_null(agent_home_find(f->h, "/", 42));
	assert_null(agent_home_find(f->h, "relative/agent/bin/linuxmain", 42));
}

static void
test_untrusted_home_found_above_a_file_is_refused_once(void **state)
{
	struct fixture *f = *state;
	char exe[PATH_MAX + 32];
	char *log;

	snprintf(exe, sizeof(exe), "%s/agent/bin/linuxmain", f->home);
	chmod(f->home, 0777);
	log_capture(f);
	for (int i = 0; i < 3; i++)
		assert_null(agent_home_find(f->h, exe, 42));
	log = log_stop(f);
	assert_int_equal(count_of(log, "refusing agent home"), 1);
	assert_non_null(strstr(log, "(found from pid 42)"));
}

static void
test_configured_home_is_used_and_nothing_replaces_it(void **state)
{
	struct fixture *f = *state;
	char other[PATH_MAX + 16];

	snprintf(other, sizeof(other), "%s/other", f->home);
	make_min_home(other);
	agent_home_configure(f->h, f->home);
	assert_true(agent_home_is_configured(f->h));
	assert_string_equal(agent_home_get(f->h), f->home);
	agent_home_learn(f->h, strdup(other), 42);
	assert_string_equal(agent_home_get(f->h), f->home);
	assert_int_equal(agent_home_remember(f->h, other, 0), -EEXIST);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	/* Refused at a reload: no home at all, rather than another one. */
	chmod(f->home, 0777);
	agent_home_configure(f->h, f->home);
	assert_null(agent_home_get(f->h));
	assert_int_equal(agent_home_remember(f->h, other, 0), -EEXIST);
	chmod(f->home, 0700);
	agent_home_configure(f->h, NULL);
	assert_false(agent_home_is_configured(f->h));
	assert_int_equal(agent_home_remember(f->h, other, 0), 0);
}

static void
test_recheck_forgets_a_home_that_became_writable(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	assert_int_equal(agent_home_recheck(f->h, "./startup.sh", &cause), 0);
	assert_null(cause);
	chmod(f->home, 0777);
	assert_int_equal(agent_home_recheck(f->h, "./startup.sh", &cause), -EPERM);
	assert_non_null(strstr(cause, "is writable by group or others"));
	free(cause);
	assert_null(agent_home_get(f->h));
	assert_null(agent_home_gprop_last(f->h));
}

static void
test_recheck_checks_a_program_in_the_home(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char *cause = NULL;

	snprintf(path, sizeof(path), "%s/bin", f->home);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bin/restart.sh", f->home);
	write_file(path, "#!/bin/sh\n", 0755);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	/* A bare name, or a program elsewhere, is the admin's choice. */
	assert_int_equal(agent_home_recheck(f->h, "sh", &cause), 0);
	assert_int_equal(agent_home_recheck(f->h, "/bin/sh", &cause), 0);
	assert_int_equal(agent_home_recheck(f->h, "./bin/restart.sh", &cause), 0);
	assert_int_equal(agent_home_recheck(f->h, path, &cause), 0);
	chmod(path, 0775);
	assert_int_equal(agent_home_recheck(f->h, "./bin/restart.sh", &cause), -EPERM);
	assert_non_null(strstr(cause, "restart.sh is writable by group or others"));
	free(cause);
	assert_null(agent_home_get(f->h));
}

/* -- g-property.cfg ----------------------------------------------------------------------- */

static void
test_settings_without_a_home_are_enoent(void **state)
{
	struct fixture *f = *state;
	struct gprop g;

	assert_int_equal(agent_home_gprop(f->h, 0, &g), -ENOENT);
	assert_false(gprop_autorecovery_configured(&g));
	assert_null(agent_home_gprop_last(f->h));
}

static void
test_settings_are_read_again_after_ten_seconds_or_when_stale(void **state)
{
	struct fixture *f = *state;
	struct gprop g;

	assert_int_equal(agent_home_remember(f->h, f->home, 1000), 0);
	write_gprop(f, "auto_start_max_retry_times=5\n");
	assert_int_equal(agent_home_gprop(f->h, 1000 + AGENT_HOME_GPROP_REREAD_MS - 1, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 3);
	assert_int_equal(agent_home_gprop(f->h, 1000 + AGENT_HOME_GPROP_REREAD_MS, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 5);
	write_gprop(f, "auto_start_max_retry_times=7\n");
	agent_home_gprop_stale(f->h);
	assert_int_equal(agent_home_gprop(f->h, 1000 + AGENT_HOME_GPROP_REREAD_MS, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 7);
}

static void
test_bad_lines_in_the_settings_keep_what_was_readable(void **state)
{
	struct fixture *f = *state;
	struct gprop g;
	char *log;

	write_gprop(f, "auto_start_max_retry_times=4\nthis is not a setting\n");
	log_capture(f);
	assert_int_equal(agent_home_remember(f->h, f->home, 0), 0);
	log = log_stop(f);
	assert_non_null(strstr(log, "unexpected content"));
	assert_int_equal(agent_home_gprop(f->h, 0, &g), 0);
	assert_int_equal(g.auto_start_max_retry_times, 4);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_proper_home_is_accepted),
	    T(test_group_or_world_writable_home_is_refused),
	    T(test_home_under_a_writable_ancestor_is_refused),
	    T(test_home_under_a_sticky_ancestor_of_ours_is_accepted),
	    T(test_home_under_an_ancestor_owned_by_another_user_is_refused),
	    T(test_symlinked_startup_is_refused),
	    T(test_writable_startup_is_refused),
	    T(test_known_home_is_taken_only_when_it_looks_like_one),
	    T(test_remembered_home_gives_its_settings),
	    T(test_home_is_found_above_a_file_in_it),
	    T(test_untrusted_home_found_above_a_file_is_refused_once),
	    T(test_configured_home_is_used_and_nothing_replaces_it),
	    T(test_recheck_forgets_a_home_that_became_writable),
	    T(test_recheck_checks_a_program_in_the_home),
	    T(test_settings_without_a_home_are_enoent),
	    T(test_settings_are_read_again_after_ten_seconds_or_when_stale),
	    T(test_bad_lines_in_the_settings_keep_what_was_readable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
