/*
 * libFuzzer: the /proc files the agent scan reads. A process picks its own
 * name and command line; the kernel writes the rest. Input "NAME\0BYTES"
 * looks for NAME in BYTES (else for "linuxmain"); BYTES are read as each of
 * stat, status, comm and cmdline. What matches must really be there.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms_check.h"
#include "smsguard/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Some argument's base name is name: the promise of a cmdline match, checked the slow way. */
static int
some_arg_is(const char *buf, size_t len, const char *name)
{
	for (size_t i = 0; i < len;) {
		size_t n = strnlen(buf + i, len - i);
		const char *arg = buf + i, *slash = memrchr(arg, '/', n);
		const char *base = slash != NULL ? slash + 1 : arg;

		if ((size_t)(arg + n - base) == strlen(name) &&
		    memcmp(base, name, strlen(name)) == 0)
			return 1;
		i += n + 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size < 65 ? size : 65);
	char name[65] = "linuxmain", *buf, state;
	size_t len = size;
	pid_t ppid;
	uid_t uid;

	if (size > 8192)
		return 0;
	if (nul != NULL) {
		memcpy(name, data, (size_t)(nul - data) + 1);
		len = size - (size_t)(nul - data) - 1;
		data = nul + 1;
	}
	buf = malloc(len + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	buf[len] = '\0';

	if (procfs_stat_parse(buf, len, &state, &ppid) == 0)
		CHECK(state > ' ' && state <= '~' && ppid >= 0);
	if (procfs_status_uid(buf, len, &uid) == 0)
		CHECK(uid != (uid_t)-1);
	if (procfs_comm_is(buf, len, name))
		CHECK(name[0] != '\0' && strncmp(buf, name, strnlen(name, PROCFS_COMM_MAX)) == 0);
	if (procfs_cmdline_names(buf, len, name))
		CHECK(some_arg_is(buf, len, name));
	free(buf);
	return 0;
}
