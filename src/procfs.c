/*
 * /proc files, parsed. The kernel writes stat and status, but a process
 * names itself (comm, the name inside stat's parentheses) and writes its own
 * command line: every length is the buffer's, every number range-checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/procfs.h"
#include "smsguard/util.h"

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/* A decimal number at *p (after blanks) up to max; advances *p past it. */
static int
read_number(const char **p, unsigned long max, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int
procfs_stat_parse(const char *buf, size_t len, char *state, pid_t *ppid)
{
	const char *p = memrchr(buf, ')', len);
	unsigned long v;

	/* "PID (NAME) S PPID …" */
	if (p == NULL || p[1] != ' ' || p[2] <= ' ' || p[2] > '~' || p[3] != ' ')
		return -EINVAL;
	*state = p[2];
	p += 3;
	if (read_number(&p, INT_MAX, &v) != 0)
		return -EINVAL;
	*ppid = (pid_t)v;
	return 0;
}

int
procfs_status_uid(const char *buf, size_t len, uid_t *uid)
{
	const char *p = memmem(buf, len, "\nUid:", 5);
	unsigned long v;

	if (p == NULL)
		return -EINVAL;
	p += 5;
	/* uid_t is 32 bits; (uid_t)-1 is no one's. */
	if (read_number(&p, UINT32_MAX - 1, &v) != 0)
		return -EINVAL;
	*uid = (uid_t)v;
	return 0;
}

bool
procfs_comm_is(const char *buf, size_t len, const char *name)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL)
		return false;
	return len == strnlen(name, PROCFS_COMM_MAX) && strncmp(buf, name, len) == 0;
}

bool
procfs_cmdline_names(const char *buf, size_t len, const char *name)
{
	static const char *const interp[] = {
	    "python", "perl", "ruby", "node", "java", "bash", "sh", "dash", "env"};
	const char *a0;
	bool is_interp = false;

	if (len == 0)
		return false;
	a0 = base_name(buf);
	if (strcmp(a0, name) == 0)
		return true;
	for (size_t i = 0; i < nitems(interp); i++)
		if (strncmp(a0, interp[i], strlen(interp[i])) == 0)
			is_interp = true;
	if (!is_interp)
		return false;
	for (const char *p = buf + strlen(buf) + 1; p < buf + len; p += strlen(p) + 1)
		if (strcmp(base_name(p), name) == 0)
			return true;
	return false;
}
