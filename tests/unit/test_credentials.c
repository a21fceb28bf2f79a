/*
 * The credentials: the file (permissions, owner, every kind of bad line, each
 * reported at the right FILE:LINE) and the SDK's environment variables; no
 * message ever shows the SK.
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

#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/util.h"

#define SECRET_SK "Zq7SecretSkValueThatMustNeverBePrinted0123"

static char tmpdir[] = "/tmp/smsguard-test-credentials.XXXXXX";

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
#define CREDS_LINE 6

/* A configuration read from a file whose line 6 is `credentials = tmpdir/file`. */
static struct config *
creds_config(const char *file)
{
	char *text = xasprintf("[daemon]\n"
	                       "log_level = info\n"
	                       "\n"
	                       "[cloud]\n"
	                       "# the migration user's key\n"
	                       "credentials = %s/%s\n",
	    tmpdir, file);
	struct config *cfg = load_ok("creds.conf", text);

	assert_int_equal(cfg->credentials_line, CREDS_LINE);
	assert_true(cfg->credentials_explicit);
	free(text);
	return cfg;
}

/* What every refusal of creds_config(file) starts with. */
static char *
creds_where(const char *file)
{
	return xasprintf("%s/creds.conf:%d: credentials: %s/%s", tmpdir, CREDS_LINE, tmpdir, file);
}

/*
 * No `credentials =` in `text`: the default path applies. It may exist on the
 * test host, so a missing file in tmpdir stands in for it.
 */
static struct config *
default_creds_config(const char *text, const char *file)
{
	struct config *cfg = load_ok("creds-default.conf", text);

	assert_false(cfg->credentials_explicit);
	free(cfg->credentials);
	cfg->credentials = xasprintf("%s/%s", tmpdir, file);
	return cfg;
}

static void
clear_env(void)
{
	unsetenv("HUAWEICLOUD_SDK_AK");
	unsetenv("HUAWEICLOUD_SDK_SK");
	unsetenv("HUAWEICLOUD_SDK_SECURITY_TOKEN");
}

/*
 * Loads credentials expecting failure: the cause starts with `prefix` word for
 * word, contains `needle` after it and never shows the SK.
 */
static void
creds_refused(struct config *cfg, int want_rc, const char *prefix, const char *needle)
{
	struct credentials *cr = (struct credentials *)1;
	char *cause = NULL;

	assert_int_equal(credentials_load(cfg, &cr, &cause), want_rc);
	assert_null(cr);
	assert_non_null(cause);
	if (strncmp(cause, prefix, strlen(prefix)) != 0)
		fail_msg("cause \"%s\" does not start with \"%s\"", cause, prefix);
	if (strstr(cause + strlen(prefix), needle) == NULL)
		fail_msg("cause \"%s\" does not contain \"%s\"", cause, needle);
	assert_null(strchr(cause, '\n'));
	assert_null(strstr(cause, SECRET_SK));
	assert_null(strstr(cause, "Zq7Secret"));
	free(cause);
}

static void
test_credentials_0600_accepted(void **state)
{
	char *path = write_file("creds-ok",
	    "# the migration user's key\n"
	    "\n"
	    "ak = AKEXAMPLE0123456789\n"
	    "sk=" SECRET_SK "\n"
	    "security_token=tok.en/with+base64==\n",
	    0600);
	struct config *cfg = creds_config("creds-ok");
	struct credentials *cr = NULL;
	char *cause = NULL;

	assert_int_equal(credentials_load(cfg, &cr, &cause), 0);
	assert_string_equal(cr->ak, "AKEXAMPLE0123456789");
	assert_string_equal(cr->sk, SECRET_SK);
	assert_string_equal(cr->security_token, "tok.en/with+base64==");
	credentials_free(cr);
	config_free(cfg);
	free(path);
}

static void
test_credentials_token_is_optional(void **state)
{
	char *path = write_file("creds-notoken", "ak=AK1\nsk=SK1\n", 0600);
	struct config *cfg = creds_config("creds-notoken");
	struct credentials *cr = NULL;
	char *cause = NULL;

	assert_int_equal(credentials_load(cfg, &cr, &cause), 0);
	assert_null(cr->security_token);
	credentials_free(cr);
	config_free(cfg);
	free(path);
}

/* Refuses the file at `mode`, naming the mode, at the `credentials =` line. */
static void
creds_loose_refused(mode_t mode)
{
	char *path = write_file("creds-loose", "ak=AK1\nsk=" SECRET_SK "\n", mode);
	struct config *cfg = creds_config("creds-loose");
	char *where = creds_where("creds-loose");
	char *prefix = xasprintf("%s: permissions %04o are too open", where, (unsigned)mode);
	char *hint = xasprintf("run chmod 600 %s", path);

	creds_refused(cfg, -EPERM, prefix, hint);
	free(hint);
	free(prefix);
	free(where);
	config_free(cfg);
	free(path);
}

static void
test_credentials_0644_refused_at_the_credentials_line(void **state)
{
	creds_loose_refused(0644);
}

static void
test_credentials_0640_refused_at_the_credentials_line(void **state)
{
	creds_loose_refused(0640);
}

static void
test_credentials_group_or_other_write_refused(void **state)
{
	creds_loose_refused(0620);
	creds_loose_refused(0604);
	creds_loose_refused(0602);
}

static void
test_credentials_other_owner_refused(void **state)
{
	char *path, *where;
	struct config *cfg;

	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	path = write_file("creds-owner", "ak=AK1\nsk=SK1\n", 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	cfg = creds_config("creds-owner");
	where = creds_where("creds-owner");
	creds_refused(cfg, -EPERM, where, ": owned by uid 65534");
	free(where);
	config_free(cfg);
	free(path);
}

static void
test_credentials_not_regular_file_refused(void **state)
{
	char *dir = xasprintf("%s/creds-dir", tmpdir);
	struct config *cfg = creds_config("creds-dir");
	char *where = creds_where("creds-dir");

	assert_int_equal(mkdir(dir, 0700), 0);
	creds_refused(cfg, -EINVAL, where, ": not a regular file");
	free(where);
	config_free(cfg);
	free(dir);
}

static void
test_credentials_missing_sk_named_at_the_credentials_line(void **state)
{
	char *path = write_file("creds-nosk", "ak=AK1\n", 0600);
	struct config *cfg = creds_config("creds-nosk");
	char *where = creds_where("creds-nosk");
	char *prefix = xasprintf("%s: missing sk", where);

	creds_refused(cfg, -EINVAL, prefix, "no sk= line");
	free(path);
	path = write_file("creds-nosk", "# no ak\nsk=" SECRET_SK "\n", 0600);
	free(prefix);
	prefix = xasprintf("%s: missing ak", where);
	creds_refused(cfg, -EINVAL, prefix, "no ak= line");
	free(prefix);
	free(where);
	config_free(cfg);
	free(path);
}

static void
test_credentials_whole_file_problems_named_at_the_credentials_line(void **state)
{
	char big[20000], *path, *where = creds_where("creds-whole");
	struct config *cfg = creds_config("creds-whole");
	int fd;

	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	path = write_file("creds-whole", big, 0600);
	creds_refused(cfg, -EINVAL, where, ": too large (at most 16384 bytes)");
	free(path);
	path = write_file("creds-whole", "ak=AK1\nsk=SK1\n", 0600);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\0", 1), 1);
	close(fd);
	creds_refused(cfg, -EINVAL, where, ": contains a NUL byte");
	free(where);
	config_free(cfg);
	free(path);
}

static void
test_credentials_bad_lines_named_at_their_own_line(void **state)
{
	static const struct {
		const char *text;
		const char *at; /* after "CREDS:" */
	} cases[] = {
	    {"ak=AK1\n" SECRET_SK "\n", "2: expected key=value"},
	    {"ak=AK1\nsk=" SECRET_SK " trailing\n", "2: sk: contains white space"},
	    {"ak=AK1\nsk=" SECRET_SK SECRET_SK SECRET_SK SECRET_SK "\n",
	        "2: sk: too long (at most 128 characters)"},
	    {"ak=AK1\nsk=\n", "2: sk: empty"},
	    {"ak=AK1\nsk=" SECRET_SK "\nsk=" SECRET_SK "\n", "3: sk: repeated key"},
	    {"# comment\n\nak=AK1\nfoo=" SECRET_SK "\n", "4: foo: unknown key"},
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		char *path = write_file("creds-bad", cases[i].text, 0600);
		struct config *cfg = creds_config("creds-bad");
		char *prefix = xasprintf("%s:%s", path, cases[i].at);

		creds_refused(cfg, -EINVAL, prefix, "");
		free(prefix);
		config_free(cfg);
		free(path);
	}
}

static void
test_credentials_explicit_missing_file_named_at_the_credentials_line(void **state)
{
	struct config *cfg = creds_config("no-such-creds");
	char *where = creds_where("no-such-creds");
	char *want = xasprintf("%s: No such file or directory", where);

	/* A path set on purpose never falls back to the environment. */
	setenv("HUAWEICLOUD_SDK_AK", "AKENV", 1);
	setenv("HUAWEICLOUD_SDK_SK", SECRET_SK, 1);
	creds_refused(cfg, -ENOENT, want, "");
	clear_env();
	free(want);
	free(where);
	config_free(cfg);
}

static void
test_credentials_from_environment(void **state)
{
	struct config *cfg = default_creds_config("[cloud]\ntimeout = 5s\n", "no-such-creds");
	struct credentials *cr = NULL;
	char *cause = NULL;

	setenv("HUAWEICLOUD_SDK_AK", "AKENV", 1);
	setenv("HUAWEICLOUD_SDK_SK", SECRET_SK, 1);
	setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", "TOKENENV", 1);
	assert_int_equal(credentials_load(cfg, &cr, &cause), 0);
	assert_string_equal(cr->ak, "AKENV");
	assert_string_equal(cr->sk, SECRET_SK);
	assert_string_equal(cr->security_token, "TOKENENV");
	credentials_free(cr);
	clear_env();
	config_free(cfg);
}

/* Without `credentials =`, the [cloud] line is where the default applies. */
static char *
default_where(int line)
{
	return xasprintf("%s/creds-default.conf:%d: credentials: %s/no-such-creds (the default)",
	    tmpdir, line, tmpdir);
}

static void
test_credentials_environment_needs_both_keys(void **state)
{
	struct config *cfg = default_creds_config("# c\n[cloud]\ntimeout = 5s\n", "no-such-creds");
	char *where = default_where(2);
	char *want = xasprintf("%s does not exist, and HUAWEICLOUD_SDK_SK is set but "
	                       "HUAWEICLOUD_SDK_AK is not",
	    where);

	setenv("HUAWEICLOUD_SDK_SK", SECRET_SK, 1);
	creds_refused(cfg, -EINVAL, want, "");
	clear_env();
	free(want);
	free(where);
	config_free(cfg);
}

static void
test_credentials_environment_bad_value(void **state)
{
	struct config *cfg = default_creds_config("# c\n[cloud]\ntimeout = 5s\n", "no-such-creds");
	char *where = default_where(2);
	char *want =
	    xasprintf("%s does not exist; HUAWEICLOUD_SDK_SK: contains white space", where);

	setenv("HUAWEICLOUD_SDK_AK", "AKENV", 1);
	setenv("HUAWEICLOUD_SDK_SK", SECRET_SK " x", 1);
	creds_refused(cfg, -EINVAL, want, "");
	clear_env();
	free(want);
	free(where);
	config_free(cfg);
}

static void
test_credentials_none_at_all(void **state)
{
	struct config *cfg =
	    default_creds_config("[daemon]\nlog_level = info\n[cloud]\n", "no-such-creds");
	char *where = default_where(3);
	char *want = xasprintf("%s does not exist and HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK are "
	                       "not set",
	    where);

	clear_env();
	creds_refused(cfg, -ENOENT, want, "");
	free(want);
	free(where);
	config_free(cfg);
}

static void
test_credentials_without_cloud_section_name_the_file_alone(void **state)
{
	struct config *cfg = default_creds_config("[task]\npoll = 5s\n", "no-such-creds");
	char *want = xasprintf("%s/creds-default.conf: credentials: %s/no-such-creds (the default) "
	                       "does not exist",
	    tmpdir, tmpdir);

	assert_int_equal(cfg->cloud_line, 0);
	clear_env();
	creds_refused(cfg, -ENOENT, want, "");
	free(want);
	config_free(cfg);
}

static void
test_credentials_empty_value_names_its_line(void **state)
{
	struct config *cfg = default_creds_config(
	    "[cloud]\ntimeout = 5s\ncredentials =\nproxy = http://p:3128\n", "no-such-creds");
	char *want =
	    xasprintf("%s/creds-default.conf:3: credentials: %s/no-such-creds does not exist",
	        tmpdir, tmpdir);

	clear_env();
	creds_refused(cfg, -ENOENT, want, "");
	free(want);
	config_free(cfg);
}

static void
test_credentials_file_wins_over_environment(void **state)
{
	char *path = write_file("creds-file", "ak=AKFILE\nsk=SKFILE\n", 0600);
	struct config *cfg = default_creds_config("[cloud]\n", "creds-file");
	struct credentials *cr = NULL;
	char *cause = NULL;

	setenv("HUAWEICLOUD_SDK_AK", "AKENV", 1);
	setenv("HUAWEICLOUD_SDK_SK", "SKENV", 1);
	assert_int_equal(credentials_load(cfg, &cr, &cause), 0);
	assert_string_equal(cr->ak, "AKFILE");
	credentials_free(cr);
	clear_env();
	config_free(cfg);
	free(path);
}

static void
test_credentials_free_null(void **state)
{
	credentials_free(NULL);
}

/* The parser alone, on bytes as read (no NUL at the end, maybe one inside): what the fuzzer feeds. */
static void
test_credentials_parse_reads_bytes_without_a_file(void **state)
{
	static const char good[] = "ak=AK1\nsk=" SECRET_SK "\nsecurity_token=T0k";
	static const char nul[] = "ak=AK1\nsk=SK1\n\0";
	static const char bad[] = "ak=AK1\n\n# c\nsk " SECRET_SK "\n";
	struct credentials *cr = NULL;
	char *cause = NULL;

	/* Not NUL-terminated: the last value ends at the length. */
	assert_int_equal(credentials_parse("W", "F", good, sizeof(good) - 1, &cr, &cause), 0);
	assert_null(cause);
	assert_string_equal(cr->ak, "AK1");
	assert_string_equal(cr->sk, SECRET_SK);
	assert_string_equal(cr->security_token, "T0k");
	credentials_free(cr);
	assert_int_equal(credentials_parse("W", "F", nul, sizeof(nul) - 1, &cr, &cause), -EINVAL);
	assert_null(cr);
	assert_string_equal(cause, "W: contains a NUL byte");
	free(cause);
	assert_int_equal(credentials_parse("W", "F", bad, sizeof(bad) - 1, &cr, &cause), -EINVAL);
	assert_null(cr);
	assert_string_equal(cause, "F:4: expected key=value (ak, sk or security_token)");
	free(cause);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_credentials_0600_accepted),
	    cmocka_unit_test(test_credentials_token_is_optional),
	    cmocka_unit_test(test_credentials_0644_refused_at_the_credentials_line),
	    cmocka_unit_test(test_credentials_0640_refused_at_the_credentials_line),
	    cmocka_unit_test(test_credentials_group_or_other_write_refused),
	    cmocka_unit_test(test_credentials_other_owner_refused),
	    cmocka_unit_test(test_credentials_not_regular_file_refused),
	    cmocka_unit_test(test_credentials_missing_sk_named_at_the_credentials_line),
	    cmocka_unit_test(test_credentials_whole_file_problems_named_at_the_credentials_line),
	    cmocka_unit_test(test_credentials_bad_lines_named_at_their_own_line),
	    cmocka_unit_test(test_credentials_explicit_missing_file_named_at_the_credentials_line),
	    cmocka_unit_test(test_credentials_from_environment),
	    cmocka_unit_test(test_credentials_environment_needs_both_keys),
	    cmocka_unit_test(test_credentials_environment_bad_value),
	    cmocka_unit_test(test_credentials_none_at_all),
	    cmocka_unit_test(test_credentials_without_cloud_section_name_the_file_alone),
	    cmocka_unit_test(test_credentials_empty_value_names_its_line),
	    cmocka_unit_test(test_credentials_file_wins_over_environment),
	    cmocka_unit_test(test_credentials_free_null),
	    cmocka_unit_test(test_credentials_parse_reads_bytes_without_a_file),
	};

	clear_env();
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
