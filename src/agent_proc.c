/*
 * Which process is SMS-Agent, read from /proc. Every byte there belongs to
 * another program: lengths are bounded and a process that vanishes between
 * two reads is simply not the agent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_TAG "agent"
#include "smsguard/agent_proc.h"
#include "smsguard/log.h"
#include "smsguard/procfs.h"
#include "smsguard/util.h"

#define CMDLINE_MAX 4096 /* enough for the arguments we look at */
#define SCAN_MAX_MATCHES 64

/* Reads at most size - 1 bytes of a small (proc) file, NUL-terminated; -1 on error. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd == -1)
		return -1;
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The real uid of pid, from the `Uid:` line of /proc/PID/status. */
static int
proc_real_uid(pid_t pid, uid_t *uid)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((n = read_small(path, buf, sizeof(buf))) <= 0)
		return -ENOENT;
	return procfs_status_uid(buf, (size_t)n, uid);
}

bool
agent_proc_trusted(pid_t pid)
{
	uid_t uid;

	return proc_real_uid(pid, &uid) == 0 && uid == geteuid();
}

/* Logs a refused process once (a scan every interval would repeat it). */
static void
refused_process(struct agent_proc_refusals *memo, const char *name, pid_t pid)
{
	uid_t uid = (uid_t)-1;

	for (size_t i = 0; i < nitems(memo->pids); i++)
		if (memo->pids[i] == pid)
			return;
	memo->pids[memo->next++ % AGENT_PROC_REFUSED_MEMO] = pid;
	if (proc_real_uid(pid, &uid) == 0)
		log_warnx("ignoring %s pid %d: run by uid %lu, not by smsguard's uid %lu", name,
		    (int)pid, (unsigned long)uid, (unsigned long)geteuid());
	else
		log_warnx("ignoring %s pid %d: its owner cannot be read", name, (int)pid);
}

/* /proc/PID/stat: the state letter and the parent. */
static int
proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = read_small(path, buf, sizeof(buf))) <= 0)
		return -1;
	return procfs_stat_parse(buf, (size_t)n, state, ppid) == 0 ? 0 : -1;
}

bool
agent_proc_stopped(pid_t pid)
{
	pid_t ppid;
	char st;

	return proc_stat(pid, &st, &ppid) == 0 && (st == 'T' || st == 't');
}

static bool
comm_matches(pid_t pid, const char *name)
{
	char path[64], comm[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = read_small(path, comm, sizeof(comm));
	return n > 0 && procfs_comm_is(comm, (size_t)n, name);
}

/* The command line names the agent (procfs_cmdline_names() says how). */
static bool
cmdline_matches(pid_t pid, const char *name)
{
	char path[64], buf[CMDLINE_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	return n > 0 && procfs_cmdline_names(buf, (size_t)n, name);
}

static bool
pid_is_agent(pid_t pid, const char *name, bool by_cmdline)
{
	char st;
	pid_t ppid;

	if (proc_stat(pid, &st, &ppid) != 0 || st == 'Z' || st == 'X')
		return false;
	return by_cmdline ? cmdline_matches(pid, name) : comm_matches(pid, name);
}

bool
agent_proc_matches(pid_t pid, const char *name)
{
	return pid_is_agent(pid, name, false) || pid_is_agent(pid, name, true);
}

/* Of the matches, the one whose parent is not a match; else the first. */
static pid_t
main_process(const pid_t *found, int n)
{
	for (int i = 0; i < n; i++) {
		char st;
		pid_t ppid;
		bool child = false;

		if (proc_stat(found[i], &st, &ppid) != 0)
			continue;
		for (int j = 0; j < n; j++)
			if (found[j] == ppid)
				child = true;
		if (!child)
			return found[i];
	}
	return n > 0 ? found[0] : 0;
}

pid_t
agent_proc_find(const char *name, struct agent_proc_refusals *memo)
{
	pid_t found[SCAN_MAX_MATCHES];
	int n = 0;
	pid_t self = getpid();

	for (int pass = 0; pass < 2 && n == 0; pass++) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		if (d == NULL)
			return 0;
		while ((de = readdir(d)) != NULL && n < SCAN_MAX_MATCHES) {
			char *end;
			long v = strtol(de->d_name, &end, 10);

			if (*end != '\0' || v <= 0 || v > INT_MAX || (pid_t)v == self)
				continue;
			if (!pid_is_agent((pid_t)v, name, pass == 1))
				continue;
			if (agent_proc_trusted((pid_t)v))
				found[n++] = (pid_t)v;
			else
				refused_process(memo, name, (pid_t)v);
		}
		closedir(d);
	}
	return main_process(found, n);
}

/*
 * The home of a running agent: walk up from its executable (a native
 * linuxmain lives under <home>/agent/...), then from each absolute or
 * cwd-relative path on its command line (a script agent's interpreter is
 * elsewhere, its script is not), then from its working directory
 * (startup.sh starts it from the home).
 */
char *
agent_proc_home(pid_t pid, struct agent_home *h)
{
	char path[64], target[PATH_MAX], cwd[PATH_MAX], args[CMDLINE_MAX];
	char *home;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if ((home = agent_home_find(h, target, pid)) != NULL)
			return home;
	}
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, args, sizeof(args));
	for (const char *p = args; n > 0 && p < args + n; p += strlen(p) + 1) {
		if (p[0] == '/') {
			home = agent_home_find(h, p, pid);
		} else if (strchr(p, '/') != NULL && cwd[0] == '/') {
			if (snprintf(target, sizeof(target), "%s/%s", cwd, p) >=
			    (int)sizeof(target))
				continue;
			home = agent_home_find(h, target, pid);
		} else {
			continue;
		}
		if (home != NULL)
			return home;
	}
	return cwd[0] == '/' ? agent_home_find(h, cwd, pid) : NULL;
}
