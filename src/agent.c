/*
 * SMS-Agent watch and restart. Ownership (STYLE.md habit 5): the agent owns
 * its scan timer; a pidwatch (uv_poll_t on a pidfd) and a restart (process,
 * three pipes, a timer) are allocated per use and free themselves in their
 * last close callback; `live` counts the agent's timer plus every such
 * object, and the agent is freed when it reaches 0 after agent_close().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsguard-build.h"
#if HAVE_PIDFD_OPEN
#include <sys/syscall.h>
#endif

#define LOG_TAG "agent"
#include "smsguard/agent.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define COMM_MAX 15      /* the kernel keeps 15 characters of a process name */
#define CMDLINE_MAX 4096 /* enough for the arguments we look at */
#define SCAN_MAX_MATCHES 64
#define HOME_WALK_MAX 32     /* directory levels walked up looking for a home */
#define OUTPUT_LINE_MAX 1024 /* longer lines of the restart command are cut */
#define APPEAR_POLL_MS 100   /* rescans while waiting for the restarted agent */
#define APPEAR_MIN_WAIT_MS 5000
#define GPROP_REREAD_MS 10000
#define REFUSED_MEMO 8 /* refused processes and homes remembered to log each once */

struct pidwatch {
	struct agent *ag;
	uv_poll_t poll;
	int fd;
};

struct linebuf {
	char buf[OUTPUT_LINE_MAX];
	size_t len;
	bool overlong;
};

struct restart {
	struct agent *ag; /* always set: the agent counts this restart in `live` */
	bool detached;    /* the agent closed: no callback, no reporting */
	uv_process_t proc;
	uv_pipe_t in, out, err;
	uv_timer_t timer;
	uv_write_t wreq;
	char *answers; /* secret: wiped and freed when written */
	size_t answers_len;
	char *secrets[3]; /* copies of ak, sk, token to mask in the output */
	struct linebuf lout, lerr;
	char rbuf[4096];
	int refs; /* handles not yet closed */
	pid_t pid;
	bool exited, timed_out, finished;
	bool draining; /* finished, but the output pipes are still held open by someone */
	LIST_ENTRY(restart) drain_entry;
	int64_t exit_status;
	int term_signal;
	uint64_t appear_deadline;
	void (*cb)(void *, int);
	void *arg;
};

struct agent {
	uv_loop_t *loop;
	const struct config *cfg;
	const struct credentials *creds;
	struct observer obs;

	uv_timer_t scan;
	int live;
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;

	char name[64]; /* the process name looked for */
	enum agent_state state;
	pid_t pid;
	int64_t since_wall_ms;
	struct pidwatch *pw;
	bool pidfd_missing; /* the kernel said ENOSYS: scan instead */

	char *home_found; /* from the process or remembered, resolved; NULL = unknown */
	bool home_from_process;
	char *home_cfg; /* `[agent] home` resolved, when it passed home_trusted(); else NULL */

	/* Refusals already logged, so a scan every interval does not repeat them. */
	pid_t refused_pids[REFUSED_MEMO];
	unsigned refused_pid_next;
	char *refused_homes[REFUSED_MEMO];
	unsigned refused_home_next;

	struct gprop gprop;
	int gprop_rc;
	bool gprop_read;
	uint64_t gprop_read_ms;

	struct restart *rs;
	LIST_HEAD(, restart) draining; /* finished restarts whose output is still open */
	unsigned restarts;
	bool have_last;
	int64_t last_time_ms;
	int last_result;
	int64_t last_exit_status;
};

static void agent_rescan(struct agent *ag);
static void refused_forget(struct agent *ag);

/* -- small helpers -------------------------------------------------------------------------- */

static void
agent_unref(struct agent *ag)
{
	if (--ag->live > 0 || !ag->closing)
		return;
	if (ag->close_cb != NULL)
		ag->close_cb(ag->close_arg);
	free(ag->home_found);
	free(ag->home_cfg);
	refused_forget(ag);
	free(ag);
}

static void
scan_close_cb(uv_handle_t *h)
{
	agent_unref(container_of((uv_timer_t *)h, struct agent, scan));
}

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

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

const char *
agent_state_name(enum agent_state st)
{
	switch (st) {
	case AGENT_RUNNING:
		return "running";
	case AGENT_DEAD:
		return "dead";
	default:
		return "unknown";
	}
}

/* -- trust ---------------------------------------------------------------------------------- */

/*
 * smsguard runs as root and runs <home>/startup.sh with the AK/SK on its
 * stdin, so whoever can change what that path names gets root and the
 * credentials. Two rules follow.
 *
 * A process is the agent only when its real uid is our effective uid (root
 * in production): anyone can name a process `linuxmain`.
 *
 * A home (found from the process, configured or remembered) is taken only
 * when nobody but root or our own user can change what it names:
 *  - the path is resolved first (realpath), so no symlink is left that could
 *    be pointed elsewhere, and the resolved path is the one used;
 *  - the home and every directory above it up to / is owned by root or by
 *    our effective uid;
 *  - the home is writable by nobody else: no group or other write bit (with
 *    POSIX ACLs the group bits are the mask, so a named entry granting write
 *    shows there too), sticky or not;
 *  - an ancestor may be group/other-writable only when it is sticky, like
 *    /tmp: others may add entries there but cannot rename or remove one they
 *    do not own, and the entry below it is ours (the rule above);
 *  - startup.sh, and a restart program that lives in the home, is a regular
 *    file (lstat: a symlink is refused), owned by root or us, and writable by
 *    nobody else; so is every directory between the home and that program.
 * What such a path names can then be changed only by root or by us, so the
 * check cannot be raced by anyone else; it is still repeated right before
 * every spawn, since the modes may have changed since the home was taken.
 */

static bool
uid_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The real uid of pid, from the `Uid:` line of /proc/PID/status. */
static int
proc_real_uid(pid_t pid, uid_t *uid)
{
	char path[64], buf[4096];
	const char *p;
	unsigned long v;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	p = strstr(buf, "\nUid:");
	if (p == NULL || sscanf(p + 5, "%lu", &v) != 1)
		return -EINVAL;
	*uid = (uid_t)v;
	return 0;
}

bool
agent_process_trusted(pid_t pid)
{
	uid_t uid;

	return proc_real_uid(pid, &uid) == 0 && uid == geteuid();
}

/* The reason a path failed a check, the path escaped for the log. */
static char *
trust_cause(const char *path, const char *what)
{
	char esc[PATH_MAX];

	return xasprintf("%s %s", log_escape(path, -1, esc, sizeof(esc)), what);
}

static char *
trust_cause_owner(const char *path, uid_t uid)
{
	char esc[PATH_MAX];

	return xasprintf("%s is owned by uid %lu, not by root or smsguard's uid %lu",
	    log_escape(path, -1, esc, sizeof(esc)), (unsigned long)uid, (unsigned long)geteuid());
}

/*
 * Checks dir (absolute, already resolved) and each directory above it up to /
 * by the rule above: the directory itself strictly, an ancestor may be
 * group/other-writable when sticky.
 */
static int
dir_chain_trusted(const char *dir, char **cause)
{
	char path[PATH_MAX];
	struct stat st;

	if (dir[0] != '/' || util_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		*cause = trust_cause(dir, "is not an absolute path");
		return -EINVAL;
	}
	for (bool leaf = true;; leaf = false) {
		char *slash;

		if (lstat(path, &st) != 0) {
			int rc = -errno;

			*cause = trust_cause(path, strerror(errno));
			return rc;
		}
		if (!S_ISDIR(st.st_mode)) {
			*cause = trust_cause(path, "is not a directory");
			return -EPERM;
		}
		if (!uid_trusted(st.st_uid)) {
			*cause = trust_cause_owner(path, st.st_uid);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (leaf || (st.st_mode & S_ISVTX) == 0)) {
			*cause = trust_cause(path,
			    leaf ? "is writable by group or others"
			         : "is writable by group or others and not sticky");
			return -EPERM;
		}
		if (strcmp(path, "/") == 0)
			return 0;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/* A file that will be run: regular, no symlink, ours, writable by nobody else. */
static int
file_trusted(const char *path, char **cause)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		int rc = -errno;

		*cause = trust_cause(path, strerror(errno));
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		*cause = trust_cause(path, "is a symbolic link");
		return -EPERM;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = trust_cause(path, "is not a regular file");
		return -EPERM;
	}
	if (!uid_trusted(st.st_uid)) {
		*cause = trust_cause_owner(path, st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		*cause = trust_cause(path, "is writable by group or others");
		return -EPERM;
	}
	return 0;
}

/*
 * Resolves home and checks it by the rule above; *real is then the resolved
 * path (the caller frees it). A missing startup.sh passes (a configured
 * restart command may not need one; running a missing one fails anyway).
 */
static int
home_trusted(const char *home, char **real, char **cause)
{
	char startup[PATH_MAX + 16], *r;
	struct stat st;
	int rc;

	*real = NULL;
	r = realpath(home, NULL);
	if (r == NULL) {
		rc = -errno;
		*cause = trust_cause(home, strerror(errno));
		return rc;
	}
	if ((rc = dir_chain_trusted(r, cause)) != 0)
		goto fail;
	snprintf(startup, sizeof(startup), "%s/startup.sh", r);
	if ((lstat(startup, &st) == 0 || errno != ENOENT) &&
	    (rc = file_trusted(startup, cause)) != 0)
		goto fail;
	*real = r;
	return 0;
fail:
	free(r);
	return rc;
}

int
agent_home_trusted(const char *home, char **cause)
{
	char *real = NULL, *why = NULL;
	int rc = home_trusted(home, &real, &why);

	free(real);
	if (cause != NULL)
		*cause = why;
	else
		free(why);
	return rc;
}

/*
 * A restart program in the home (real, resolved) is checked like startup.sh,
 * with the directories between. A bare name is looked up in the fixed PATH
 * and one elsewhere is the admin's choice; one whose directory does not
 * resolve does not exist, and running it fails.
 */
static int
program_trusted(const char *real, const char *prog, char **cause)
{
	char full[PATH_MAX], *slash, *dir;
	size_t hl = strlen(real);
	int rc = 0;

	if (strchr(prog, '/') == NULL)
		return 0;
	if (prog[0] == '/'
	        ? util_strlcpy(full, prog, sizeof(full)) >= sizeof(full)
	        : snprintf(full, sizeof(full), "%s/%s", real, prog) >= (int)sizeof(full)) {
		*cause = trust_cause(prog, "is too long");
		return -ENAMETOOLONG;
	}
	slash = strrchr(full, '/');
	*slash = '\0';
	dir = realpath(full[0] != '\0' ? full : "/", NULL);
	*slash = '/';
	if (dir == NULL)
		return 0;
	if (strncmp(dir, real, hl) == 0 && (dir[hl] == '\0' || dir[hl] == '/')) {
		char file[PATH_MAX * 2];

		snprintf(file, sizeof(file), "%s/%s", dir, slash + 1);
		if ((rc = dir_chain_trusted(dir, cause)) == 0)
			rc = file_trusted(file, cause);
	}
	free(dir);
	return rc;
}

/* Logs a refused process once (a scan every interval would repeat it). */
static void
refused_process(struct agent *ag, pid_t pid)
{
	uid_t uid = (uid_t)-1;

	for (size_t i = 0; i < nitems(ag->refused_pids); i++)
		if (ag->refused_pids[i] == pid)
			return;
	ag->refused_pids[ag->refused_pid_next++ % REFUSED_MEMO] = pid;
	if (proc_real_uid(pid, &uid) == 0)
		log_warnx("ignoring %s pid %d: run by uid %lu, not by smsguard's uid %lu", ag->name,
		    (int)pid, (unsigned long)uid, (unsigned long)geteuid());
	else
		log_warnx("ignoring %s pid %d: its owner cannot be read", ag->name, (int)pid);
}

/* Logs a refused home once per home and reason; takes cause. */
static void
refused_home(struct agent *ag, const char *home, const char *source, char *cause)
{
	char esc[PATH_MAX];
	char *key = xasprintf("%s\n%s", home, cause);

	for (size_t i = 0; i < nitems(ag->refused_homes); i++) {
		if (ag->refused_homes[i] != NULL && strcmp(ag->refused_homes[i], key) == 0) {
			free(key);
			free(cause);
			return;
		}
	}
	free(ag->refused_homes[ag->refused_home_next % REFUSED_MEMO]);
	ag->refused_homes[ag->refused_home_next++ % REFUSED_MEMO] = key;
	log_warnx("refusing agent home %s (%s): %s; it must be owned by root (or smsguard's "
	          "user) and writable by nobody else, up to /",
	    log_escape(home, -1, esc, sizeof(esc)), source, cause);
	free(cause);
}

static void
refused_forget(struct agent *ag)
{
	for (size_t i = 0; i < nitems(ag->refused_homes); i++) {
		free(ag->refused_homes[i]);
		ag->refused_homes[i] = NULL;
	}
}

/* -- finding the process -------------------------------------------------------------------- */

/* /proc/PID/stat: the state letter and the parent, read after the last ')' of the name. */
static int
proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512];
	const char *p;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = (pid_t)pp;
	return 0;
}

static bool
comm_matches(pid_t pid, const char *name)
{
	char path[64], comm[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = read_small(path, comm, sizeof(comm));
	if (n <= 0)
		return false;
	if (comm[n - 1] == '\n')
		comm[n - 1] = '\0';
	return strncmp(comm, name, COMM_MAX) == 0 && strlen(comm) == strnlen(name, COMM_MAX);
}

/*
 * The command line names the agent: argv[0]'s base name is the name, or -
 * when argv[0] is an interpreter (the agent may be a script) - a later
 * argument's base name is. Any argument at all would also match an editor or
 * `tail -f` that happens to hold the path.
 */
static bool
cmdline_matches(pid_t pid, const char *name)
{
	static const char *const interp[] = {
	    "python", "perl", "ruby", "node", "java", "bash", "sh", "dash", "env"};
	char path[64], buf[CMDLINE_MAX];
	ssize_t n;
	const char *a0;
	bool is_interp = false;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	a0 = base_name(buf);
	if (strcmp(a0, name) == 0)
		return true;
	for (size_t i = 0; i < nitems(interp); i++)
		if (strncmp(a0, interp[i], strlen(interp[i])) == 0)
			is_interp = true;
	if (!is_interp)
		return false;
	for (const char *p = buf + strlen(buf) + 1; p < buf + n; p += strlen(p) + 1)
		if (strcmp(base_name(p), name) == 0)
			return true;
	return false;
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

/*
 * Scans /proc by comm, then by command line, for processes of our own user
 * (see the trust rule). Among several matches (the agent may fork helpers
 * under its own name) the one whose parent is not a match is the main
 * process.
 */
static pid_t
scan_proc(struct agent *ag)
{
	const char *name = ag->name;
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
			if (agent_process_trusted((pid_t)v))
				found[n++] = (pid_t)v;
			else
				refused_process(ag, (pid_t)v);
		}
		closedir(d);
	}
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

/* -- the home directory --------------------------------------------------------------------- */

/* An SMS-Agent home has startup.sh and agent/config/ (reference §9: the unpacked SMS-Agent). */
static bool
is_agent_home(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/startup.sh", dir) >= (int)sizeof(path) ||
	    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	if (snprintf(path, sizeof(path), "%s/agent/config", dir) >= (int)sizeof(path) ||
	    stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return false;
	return true;
}

/*
 * Walks up from path (a file or a directory of process pid) to the first
 * agent home: returns it resolved when it is trusted, else NULL (a refused
 * one is logged, and the walk stops there).
 */
static char *
home_walk_up(struct agent *ag, const char *path, pid_t pid)
{
	char buf[PATH_MAX];

	if (path[0] != '/' || util_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return NULL;
	for (int i = 0; i < HOME_WALK_MAX; i++) {
		char *slash, *real, *cause;

		if (is_agent_home(buf)) {
			char src[64];

			if (home_trusted(buf, &real, &cause) == 0)
				return real;
			snprintf(src, sizeof(src), "found from pid %d", (int)pid);
			refused_home(ag, buf, src, cause);
			return NULL;
		}
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			break;
		*slash = '\0';
	}
	return NULL;
}

/*
 * The home of a running agent: walk up from its executable (a native
 * linuxmain lives under <home>/agent/...), then from each absolute or
 * cwd-relative path on its command line (a script agent's interpreter is
 * elsewhere, its script is not), then from its working directory
 * (startup.sh starts it from the home).
 */
static char *
home_from_pid(struct agent *ag, pid_t pid)
{
	char path[64], target[PATH_MAX], cwd[PATH_MAX], args[CMDLINE_MAX];
	char *home;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if ((home = home_walk_up(ag, target, pid)) != NULL)
			return home;
	}
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small(path, args, sizeof(args));
	for (const char *p = args; n > 0 && p < args + n; p += strlen(p) + 1) {
		if (p[0] == '/') {
			home = home_walk_up(ag, p, pid);
		} else if (strchr(p, '/') != NULL && cwd[0] == '/') {
			if (snprintf(target, sizeof(target), "%s/%s", cwd, p) >=
			    (int)sizeof(target))
				continue;
			home = home_walk_up(ag, target, pid);
		} else {
			continue;
		}
		if (home != NULL)
			return home;
	}
	return cwd[0] == '/' ? home_walk_up(ag, cwd, pid) : NULL;
}

static bool
home_configured(const struct config *cfg)
{
	return cfg->agent_home != NULL && cfg->agent_home[0] != '\0';
}

const char *
agent_home(const struct agent *ag)
{
	/* A configured home that was refused is not replaced by another: it was the admin's choice. */
	if (home_configured(ag->cfg))
		return ag->home_cfg;
	return ag->home_found;
}

/* Takes `[agent] home` when it passes the trust rule; a refused one is logged. */
static void
agent_load_cfg_home(struct agent *ag)
{
	char *real = NULL, *cause = NULL;

	free(ag->home_cfg);
	ag->home_cfg = NULL;
	if (!home_configured(ag->cfg))
		return;
	if (home_trusted(ag->cfg->agent_home, &real, &cause) == 0)
		ag->home_cfg = real;
	else
		refused_home(ag, ag->cfg->agent_home, "configured", cause);
}

static void
agent_read_gprop(struct agent *ag)
{
	const char *home = agent_home(ag);
	char path[PATH_MAX];

	ag->gprop_read = true;
	ag->gprop_read_ms = uv_now(ag->loop);
	if (home == NULL) {
		gprop_init(&ag->gprop);
		ag->gprop_rc = -ENOENT;
		return;
	}
	snprintf(path, sizeof(path), "%s/agent/config/g-property.cfg", home);
	ag->gprop_rc = gprop_load(&ag->gprop, path);
	if (ag->gprop_rc == -EINVAL || ag->gprop_rc == -EFBIG)
		log_warnx("%s: unexpected content (%d bad lines), read what was readable", path,
		    ag->gprop.bad_lines + ag->gprop.bad_values);
	else if (ag->gprop_rc < 0 && ag->gprop_rc != -ENOENT)
		log_warnx("%s: %s", path, strerror(-ag->gprop_rc));
	if (ag->gprop_rc == -EINVAL)
		ag->gprop_rc = 0; /* the readable part counts */
}

int
agent_set_known_home(struct agent *ag, const char *home)
{
	char esc[256];
	char *real = NULL, *cause = NULL;
	int rc;

	if (home == NULL || home[0] != '/' || !is_agent_home(home))
		return -EINVAL;
	if (home_configured(ag->cfg))
		return ag->home_cfg != NULL && strcmp(ag->home_cfg, home) == 0 ? 0 : -EEXIST;
	if (home_trusted(home, &real, &cause) != 0) {
		refused_home(ag, home, "remembered", cause);
		return -EPERM;
	}
	if (ag->home_found != NULL) {
		rc = strcmp(ag->home_found, real) == 0 ? 0 : -EEXIST;
		free(real);
		return rc;
	}
	ag->home_found = real;
	ag->home_from_process = false;
	log_info("agent home %s (remembered)", log_escape(home, -1, esc, sizeof(esc)));
	agent_read_gprop(ag);
	return 0;
}

int
agent_autorecovery(struct agent *ag, struct gprop *out)
{
	if (!ag->gprop_read || uv_now(ag->loop) - ag->gprop_read_ms >= GPROP_REREAD_MS)
		agent_read_gprop(ag);
	*out = ag->gprop;
	return ag->gprop_rc;
}

/* -- watching ------------------------------------------------------------------------------- */

static void
pidwatch_close_cb(uv_handle_t *h)
{
	struct pidwatch *pw = container_of((uv_poll_t *)h, struct pidwatch, poll);
	struct agent *ag = pw->ag;

	close(pw->fd);
	free(pw);
	agent_unref(ag);
}

static void
pidwatch_stop(struct agent *ag)
{
	if (ag->pw == NULL)
		return;
	uv_close((uv_handle_t *)&ag->pw->poll, pidwatch_close_cb);
	ag->pw = NULL;
}

static void
agent_set_dead(struct agent *ag)
{
	pid_t old = ag->pid;

	pidwatch_stop(ag);
	ag->pid = 0;
	if (ag->state == AGENT_DEAD)
		return;
	if (ag->state == AGENT_RUNNING)
		log_warnx("agent %s (pid %d) is gone", ag->name, (int)old);
	else
		log_info("agent %s is not running", ag->name);
	ag->state = AGENT_DEAD;
	ag->since_wall_ms = util_wall_ms();
	observer_changed(&ag->obs, OBS_AGENT);
}

static void
pidwatch_cb(uv_poll_t *h, int status, int events)
{
	struct pidwatch *pw = container_of(h, struct pidwatch, poll);
	struct agent *ag = pw->ag;

	/* A pidfd turns readable when the process exits (an error means the same: stop trusting it). */
	agent_set_dead(ag);
	/* Another instance may already run (restart.sh starts the new one before we look). */
	agent_rescan(ag);
}

static int
pidfd_open_(pid_t pid)
{
#if HAVE_PIDFD_OPEN
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void
pidwatch_start(struct agent *ag)
{
	struct pidwatch *pw;
	int fd;

	if (ag->pidfd_missing)
		return;
	fd = pidfd_open_(ag->pid);
	if (fd == -1) {
		if (errno == ENOSYS || errno == EPERM) {
			ag->pidfd_missing = true;
			log_info("no pidfd (%s): the agent is watched by a scan every %llums",
			    strerror(errno), (unsigned long long)ag->cfg->probe_interval_ms);
		}
		return; /* ESRCH: gone already; the next scan sees it */
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	pw = xcalloc(1, sizeof(*pw));
	pw->ag = ag;
	pw->fd = fd;
	if (uv_poll_init(ag->loop, &pw->poll, fd) != 0) {
		close(fd);
		free(pw);
		ag->pidfd_missing = true;
		return;
	}
	ag->live++;
	ag->pw = pw;
	uv_poll_start(&pw->poll, UV_READABLE, pidwatch_cb);
}

static void
agent_adopt(struct agent *ag, pid_t pid)
{
	char esc[PATH_MAX];

	if (ag->state == AGENT_RUNNING && ag->pid == pid)
		return;
	pidwatch_stop(ag);
	ag->pid = pid;
	ag->state = AGENT_RUNNING;
	ag->since_wall_ms = util_wall_ms();
	pidwatch_start(ag);
	/* Comm and pidfd raced the process's exit: make sure the pidfd is for a live agent. */
	if (ag->pw != NULL &&
	    ((!pid_is_agent(pid, ag->name, false) && !pid_is_agent(pid, ag->name, true)) ||
	        !agent_process_trusted(pid))) {
		pidwatch_stop(ag);
		ag->state = AGENT_DEAD;
		ag->pid = 0;
		return;
	}
	if (!home_configured(ag->cfg)) {
		char *home = home_from_pid(ag, pid);

		if (home != NULL && (ag->home_found == NULL || strcmp(home, ag->home_found) != 0)) {
			free(ag->home_found);
			ag->home_found = home;
			ag->home_from_process = true;
			log_info("agent home %s (found from pid %d)",
			    log_escape(home, -1, esc, sizeof(esc)), (int)pid);
		} else {
			free(home);
		}
	}
	agent_read_gprop(ag);
	log_info("agent %s running (pid %d, watched by %s)", ag->name, (int)pid,
	    ag->pw != NULL ? "pidfd" : "scan");
	observer_changed(&ag->obs, OBS_AGENT);
}

/* Brings the state up to date with /proc. */
static void
agent_rescan(struct agent *ag)
{
	pid_t pid;

	if (ag->closing)
		return;
	/* A pidfd tells us of the exit; without one, check the known pid is still the agent. */
	if (ag->state == AGENT_RUNNING) {
		if (ag->pw != NULL)
			return;
		if (pid_is_agent(ag->pid, ag->name, false) || pid_is_agent(ag->pid, ag->name, true))
			return;
		agent_set_dead(ag);
	}
	pid = scan_proc(ag);
	if (pid > 0)
		agent_adopt(ag, pid);
	else
		agent_set_dead(ag);
}

static void
scan_cb(uv_timer_t *t)
{
	agent_rescan(container_of(t, struct agent, scan));
}

/* -- life cycle ----------------------------------------------------------------------------- */

static uint64_t
scan_interval(const struct config *cfg)
{
	return cfg->probe_interval_ms > 0 ? cfg->probe_interval_ms : 2000;
}

int
agent_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *creds,
    const struct observer *obs, struct agent **out)
{
	struct agent *ag = xcalloc(1, sizeof(*ag));
	int rc;

	ag->loop = loop;
	ag->cfg = cfg;
	ag->creds = creds;
	if (obs != NULL)
		ag->obs = *obs;
	util_strlcpy(ag->name,
	    cfg->agent_process != NULL && cfg->agent_process[0] != '\0' ? cfg->agent_process
	                                                                : "linuxmain",
	    sizeof(ag->name));
	rc = uv_timer_init(loop, &ag->scan);
	if (rc != 0) {
		free(ag);
		return rc;
	}
	ag->live = 1;
	LIST_INIT(&ag->draining);
	gprop_init(&ag->gprop);
	ag->gprop_rc = -ENOENT;
	agent_load_cfg_home(ag);
	*out = ag;
	return 0;
}

int
agent_start(struct agent *ag)
{
	agent_rescan(ag);
	return uv_timer_start(&ag->scan, scan_cb, scan_interval(ag->cfg), scan_interval(ag->cfg));
}

void
agent_reconfigure(struct agent *ag, const struct config *cfg, const struct credentials *creds)
{
	const char *name = cfg->agent_process != NULL && cfg->agent_process[0] != '\0'
	    ? cfg->agent_process
	    : "linuxmain";
	bool rescan = strcmp(name, ag->name) != 0;
	char *old_home = agent_home(ag) != NULL ? xstrdup(agent_home(ag)) : NULL;
	bool home_changed;

	ag->cfg = cfg;
	ag->creds = creds;
	/* A reload re-checks a configured home, and says again why one is refused. */
	refused_forget(ag);
	agent_load_cfg_home(ag);
	home_changed = (old_home == NULL) != (agent_home(ag) == NULL) ||
	    (old_home != NULL && strcmp(old_home, agent_home(ag)) != 0);
	free(old_home);
	if (rescan) {
		util_strlcpy(ag->name, name, sizeof(ag->name));
		pidwatch_stop(ag);
		ag->state = AGENT_UNKNOWN;
		ag->pid = 0;
	}
	if (uv_is_active((uv_handle_t *)&ag->scan))
		uv_timer_start(&ag->scan, scan_cb, scan_interval(cfg), scan_interval(cfg));
	ag->gprop_read = false; /* the home may have changed */
	if (rescan && !ag->closing)
		agent_rescan(ag);
	if (home_changed && !ag->closing)
		observer_changed(&ag->obs, OBS_AGENT);
}

enum agent_state
agent_state(const struct agent *ag)
{
	return ag->state;
}

pid_t
agent_pid(const struct agent *ag)
{
	return ag->state == AGENT_RUNNING ? ag->pid : 0;
}

int64_t
agent_since_wall_ms(const struct agent *ag)
{
	return ag->since_wall_ms;
}

bool
agent_uses_pidfd(const struct agent *ag)
{
	return ag->pw != NULL;
}

bool
agent_restarting(const struct agent *ag)
{
	return ag->rs != NULL;
}

unsigned
agent_restarts(const struct agent *ag)
{
	return ag->restarts;
}

/* -- restart -------------------------------------------------------------------------------- */

static void
restart_wipe_free(struct restart *rs)
{
	if (rs->answers != NULL) {
		util_wipe(rs->answers, rs->answers_len);
		free(rs->answers);
		rs->answers = NULL;
	}
	for (size_t i = 0; i < nitems(rs->secrets); i++) {
		if (rs->secrets[i] != NULL) {
			util_wipe(rs->secrets[i], strlen(rs->secrets[i]));
			free(rs->secrets[i]);
			rs->secrets[i] = NULL;
		}
	}
	util_wipe(rs->lout.buf, sizeof(rs->lout.buf));
	util_wipe(rs->lerr.buf, sizeof(rs->lerr.buf));
	util_wipe(rs->rbuf, sizeof(rs->rbuf));
}

static void
restart_close_cb(uv_handle_t *h)
{
	struct restart *rs = h->data;
	struct agent *ag = rs->ag;

	if (--rs->refs > 0)
		return;
	if (rs->draining)
		LIST_REMOVE(rs, drain_entry);
	restart_wipe_free(rs);
	free(rs);
	agent_unref(ag);
}

static void
restart_close(struct restart *rs, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, restart_close_cb);
}

/* Every handle of a restart; the struct goes with the last close callback. */
static void
restart_close_all(struct restart *rs)
{
	restart_close(rs, (uv_handle_t *)&rs->proc);
	restart_close(rs, (uv_handle_t *)&rs->in);
	restart_close(rs, (uv_handle_t *)&rs->out);
	restart_close(rs, (uv_handle_t *)&rs->err);
	restart_close(rs, (uv_handle_t *)&rs->timer);
}

/* Copies s into out (size outlen) with every secret replaced by "***". */
static void
mask_secrets(const struct restart *rs, const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	while (*s != '\0' && o + 1 < outlen) {
		bool hit = false;

		for (size_t i = 0; i < nitems(rs->secrets); i++) {
			const char *sec = rs->secrets[i];
			size_t n = sec != NULL ? strlen(sec) : 0;

			if (n > 0 && strncmp(s, sec, n) == 0) {
				if (o + 4 > outlen)
					goto out;
				memcpy(out + o, "***", 3);
				o += 3;
				s += n;
				hit = true;
				break;
			}
		}
		if (!hit)
			out[o++] = *s++;
	}
out:
	out[o] = '\0';
}

static size_t
longest_secret(const struct restart *rs)
{
	size_t m = 0;

	for (size_t i = 0; i < nitems(rs->secrets); i++)
		if (rs->secrets[i] != NULL && strlen(rs->secrets[i]) > m)
			m = strlen(rs->secrets[i]);
	return m;
}

static void
emit_line(struct restart *rs, struct linebuf *lb, const char *what)
{
	char masked[OUTPUT_LINE_MAX * 3 + 1];
	char esc[OUTPUT_LINE_MAX * 4 + 4];
	size_t len = lb->len;

	if (len == 0 && !lb->overlong)
		return;
	/*
	 * A cut line may end inside a secret: drop as many bytes as the longest
	 * secret has, so no part of one can be left unmasked.
	 */
	if (lb->overlong) {
		size_t m = longest_secret(rs);

		len = len > m ? len - m : 0;
	}
	lb->buf[len] = '\0';
	/* Output may hold NULs: only what precedes the first is logged. */
	mask_secrets(rs, lb->buf, masked, sizeof(masked));
	log_escape(masked, -1, esc, sizeof(esc));
	if (!rs->detached)
		log_info("restart %s: %s%s", what, esc, lb->overlong ? "..." : "");
	util_wipe(lb->buf, sizeof(lb->buf));
	util_wipe(masked, sizeof(masked));
	lb->len = 0;
	lb->overlong = false;
}

static void
feed_output(struct restart *rs, struct linebuf *lb, const char *what, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			emit_line(rs, lb, what);
		} else if (p[i] == '\r') {
			continue;
		} else if (lb->len < sizeof(lb->buf) - 1) {
			lb->buf[lb->len++] = p[i];
		} else {
			lb->overlong = true;
		}
	}
}

static void
restart_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct restart *rs = h->data;

	/* Reads are handled one at a time, so both pipes can share one buffer. */
	*buf = uv_buf_init(rs->rbuf, sizeof(rs->rbuf));
}

static void
restart_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct restart *rs = s->data;
	bool is_out = s == (uv_stream_t *)&rs->out;
	struct linebuf *lb = is_out ? &rs->lout : &rs->lerr;
	const char *what = is_out ? "stdout" : "stderr";

	if (nread > 0) {
		if (!rs->draining)
			feed_output(rs, lb, what, buf->base, (size_t)nread);
		return;
	}
	if (nread < 0) {
		if (!rs->draining)
			emit_line(rs, lb, what);
		restart_close(rs, (uv_handle_t *)s);
	}
}

static void
restart_write_cb(uv_write_t *req, int status)
{
	struct restart *rs = container_of(req, struct restart, wreq);

	util_wipe(rs->answers, rs->answers_len);
	free(rs->answers);
	rs->answers = NULL;
	/* EOF on stdin: a command that reads more than we had to say stops waiting. */
	restart_close(rs, (uv_handle_t *)&rs->in);
}

static void restart_timer_cb(uv_timer_t *t);

static void
restart_finish(struct restart *rs, int result)
{
	struct agent *ag = rs->ag;

	if (rs->finished)
		return;
	rs->finished = true;
	emit_line(rs, &rs->lout, "stdout");
	emit_line(rs, &rs->lerr, "stderr");
	restart_close(rs, (uv_handle_t *)&rs->timer);
	restart_close(rs, (uv_handle_t *)&rs->in);
	if (rs->detached) {
		restart_close(rs, (uv_handle_t *)&rs->out);
		restart_close(rs, (uv_handle_t *)&rs->err);
		return;
	}
	/*
	 * A started agent may have inherited the command's stdout/stderr:
	 * closing our ends would hand it SIGPIPE at its next write. Keep
	 * reading (and discarding) until they close, or until agent_close().
	 */
	if (!uv_is_closing((uv_handle_t *)&rs->out) || !uv_is_closing((uv_handle_t *)&rs->err)) {
		rs->draining = true;
		LIST_INSERT_HEAD(&ag->draining, rs, drain_entry);
	}
	ag->rs = NULL;
	ag->have_last = true;
	ag->last_time_ms = util_wall_ms();
	ag->last_result = result;
	ag->last_exit_status = rs->exit_status;
	if (result == 0)
		log_info("agent restarted (pid %d)", (int)ag->pid);
	else
		log_warnx("agent restart failed: %s", strerror(-result));
	observer_changed(&ag->obs, OBS_AGENT);
	if (rs->cb != NULL)
		rs->cb(rs->arg, result);
}

static void
restart_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct restart *rs = container_of(proc, struct restart, proc);
	struct agent *ag = rs->ag;
	uint64_t now;

	rs->exited = true;
	rs->exit_status = exit_status;
	rs->term_signal = term_signal;
	restart_close(rs, (uv_handle_t *)proc);
	if (rs->detached || rs->finished)
		return;
	if (term_signal != 0)
		log_warnx(
		    "restart command (pid %d) killed by signal %d", (int)rs->pid, term_signal);
	else
		log_info("restart command (pid %d) exited with status %lld", (int)rs->pid,
		    (long long)exit_status);
	if (rs->timed_out) {
		restart_finish(rs, -ETIMEDOUT);
		return;
	}
	agent_rescan(ag);
	if (ag->state == AGENT_RUNNING) {
		restart_finish(rs, 0);
		return;
	}
	if (exit_status != 0 || term_signal != 0) {
		restart_finish(rs, -EIO);
		return;
	}
	/* It said it started the agent: give the process time to show up. */
	now = uv_now(ag->loop);
	if (rs->appear_deadline < now + APPEAR_MIN_WAIT_MS)
		rs->appear_deadline = now + APPEAR_MIN_WAIT_MS;
	uv_timer_start(&rs->timer, restart_timer_cb, APPEAR_POLL_MS, APPEAR_POLL_MS);
}

static void
restart_timer_cb(uv_timer_t *t)
{
	struct restart *rs = container_of(t, struct restart, timer);
	struct agent *ag = rs->ag;

	if (rs->detached || rs->finished)
		return;
	if (!rs->exited) {
		/* Its own process group (UV_PROCESS_DETACHED = setsid): kill all of it. */
		log_warnx("restart command (pid %d) still running after %llums: killing it",
		    (int)rs->pid, (unsigned long long)ag->cfg->restart_timeout_ms);
		rs->timed_out = true;
		if (kill(-rs->pid, SIGKILL) == -1)
			kill(rs->pid, SIGKILL);
		uv_timer_stop(t);
		return;
	}
	agent_rescan(ag);
	if (ag->state == AGENT_RUNNING)
		restart_finish(rs, 0);
	else if (uv_now(ag->loop) >= rs->appear_deadline)
		restart_finish(rs, -ESRCH);
}

/* Appends s to the growing buffer *buf (length *len, capacity *cap). */
static void
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = (*len + n + 1) * 2;
		char *nb = xmalloc(ncap);

		if (*buf != NULL) {
			memcpy(nb, *buf, *len);
			util_wipe(*buf, *cap);
			free(*buf);
		}
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* The answers with {ak} {sk} {domain} filled, one per line. A secret: the caller wipes it. */
static char *
build_answers(const struct agent *ag, size_t *lenp)
{
	static const char *const defaults[] = {"y", "{ak}", "{sk}", "{domain}"};
	const char *const *lines = defaults;
	int n = (int)nitems(defaults);
	const char *ak = ag->creds != NULL && ag->creds->ak != NULL ? ag->creds->ak : "";
	const char *sk = ag->creds != NULL && ag->creds->sk != NULL ? ag->creds->sk : "";
	const char *domain = ag->cfg->endpoint_host != NULL ? ag->cfg->endpoint_host : "";
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (ag->cfg->nanswers > 0) {
		lines = (const char *const *)ag->cfg->answers;
		n = ag->cfg->nanswers;
	}
	for (int i = 0; i < n; i++) {
		const char *p = lines[i];

		while (*p != '\0') {
			if (strncmp(p, "{ak}", 4) == 0) {
				buf_add(&buf, &len, &cap, ak, strlen(ak));
				p += 4;
			} else if (strncmp(p, "{sk}", 4) == 0) {
				buf_add(&buf, &len, &cap, sk, strlen(sk));
				p += 4;
			} else if (strncmp(p, "{domain}", 8) == 0) {
				buf_add(&buf, &len, &cap, domain, strlen(domain));
				p += 8;
			} else {
				buf_add(&buf, &len, &cap, p, 1);
				p++;
			}
		}
		buf_add(&buf, &len, &cap, "\n", 1);
	}
	*lenp = len;
	return buf;
}

/*
 * Checks the home (resolved, so it must still resolve to itself) and the
 * program about to run from it. A home that fails is forgotten (logged, and
 * the daemon no longer stores it): -EPERM.
 */
static int
restart_recheck(struct agent *ag, const char *home, const char *prog)
{
	char esc[PATH_MAX];
	char *real = NULL, *cause = NULL;
	int rc;

	rc = home_trusted(home, &real, &cause);
	if (rc == 0 && strcmp(real, home) != 0) {
		cause = xasprintf("it now resolves to %s", log_escape(real, -1, esc, sizeof(esc)));
		rc = -EPERM;
	}
	if (rc == 0)
		rc = program_trusted(real, prog, &cause);
	free(real);
	if (rc == 0)
		return 0;
	log_warnx("not restarting the agent: home %s refused: %s",
	    log_escape(home, -1, esc, sizeof(esc)), cause);
	free(cause);
	if (home == ag->home_cfg) {
		free(ag->home_cfg);
		ag->home_cfg = NULL;
	} else {
		free(ag->home_found);
		ag->home_found = NULL;
	}
	ag->gprop_read = false;
	observer_changed(&ag->obs, OBS_AGENT);
	return -EPERM;
}

int
agent_restart(struct agent *ag, void (*cb)(void *arg, int result), void *arg)
{
	static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char env_lang[] = "LANG=C";
	char *env[] = {env_path, env_lang, NULL};
	char startup[PATH_MAX];
	char *def_argv[2] = {startup, NULL};
	char **argv = def_argv;
	const char *home;
	uv_process_options_t opt = {0};
	uv_stdio_container_t stdio[3];
	struct restart *rs;
	char esc[256], esc_cwd[PATH_MAX];
	uv_buf_t wb;
	int rc;

	if (ag->closing || ag->rs != NULL)
		return -EBUSY;
	/* Only a dead agent is started: look again, it may just have come back. */
	agent_rescan(ag);
	if (ag->state == AGENT_RUNNING)
		return -EBUSY;
	home = agent_home(ag); /* after the rescan, which may learn it */
	if (ag->cfg->restart_argc > 0) {
		/* uv_spawn only reads it. */
		argv = (char **)ag->cfg->restart_argv;
	} else {
		if (home == NULL)
			return -ENOENT;
		if (snprintf(startup, sizeof(startup), "%s/startup.sh", home) >=
		    (int)sizeof(startup))
			return -ENAMETOOLONG;
	}

	/*
	 * Time of check to time of use: the home was checked when it was taken;
	 * check it, and what will run from it, again right before the spawn.
	 */
	if (home != NULL && (rc = restart_recheck(ag, home, argv[0])) != 0)
		return rc;

	rs = xcalloc(1, sizeof(*rs));
	rs->ag = ag;
	rs->cb = cb;
	rs->arg = arg;
	if (ag->creds != NULL) {
		if (ag->creds->ak != NULL)
			rs->secrets[0] = xstrdup(ag->creds->ak);
		if (ag->creds->sk != NULL)
			rs->secrets[1] = xstrdup(ag->creds->sk);
		if (ag->creds->security_token != NULL)
			rs->secrets[2] = xstrdup(ag->creds->security_token);
	}
	/* Pipe and timer inits only link handles into the loop; they do not fail. */
	uv_pipe_init(ag->loop, &rs->in, 0);
	uv_pipe_init(ag->loop, &rs->out, 0);
	uv_pipe_init(ag->loop, &rs->err, 0);
	uv_timer_init(ag->loop, &rs->timer);
	rs->in.data = rs->out.data = rs->err.data = rs->timer.data = rs->proc.data = rs;
	rs->refs = 5; /* the four above and the process handle, which uv_spawn always inits */
	ag->live++;

	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&rs->in;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&rs->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&rs->err;
	opt.exit_cb = restart_exit_cb;
	opt.file = argv[0];
	opt.args = argv;
	opt.env = env;
	opt.cwd = home != NULL ? home : "/";
	/* A session and process group of its own, so a timeout can kill all of it. */
	opt.flags = UV_PROCESS_DETACHED;
	opt.stdio_count = 3;
	opt.stdio = stdio;
	/*
	 * Libraries open descriptors without O_CLOEXEC (curl's resolver pairs):
	 * none of ours may reach the agent, which lives on for the migration.
	 */
	util_cloexec_from(3);
	rc = uv_spawn(ag->loop, &rs->proc, &opt);
	if (rc != 0) {
		log_warnx("cannot run %s: %s", log_escape(argv[0], -1, esc, sizeof(esc)),
		    uv_strerror(rc));
		rs->finished = true;
		rs->detached = true;
		restart_close_all(rs);
		return rc;
	}
	rs->pid = rs->proc.pid;
	ag->rs = rs;
	ag->restarts++;
	log_info("restarting the agent: %s (pid %d, cwd %s)",
	    log_escape(argv[0], -1, esc, sizeof(esc)), (int)rs->pid,
	    log_escape(opt.cwd, -1, esc_cwd, sizeof(esc_cwd)));

	rs->answers = build_answers(ag, &rs->answers_len);
	wb = uv_buf_init(rs->answers, (unsigned)rs->answers_len);
	if (uv_write(&rs->wreq, (uv_stream_t *)&rs->in, &wb, 1, restart_write_cb) != 0) {
		util_wipe(rs->answers, rs->answers_len);
		free(rs->answers);
		rs->answers = NULL;
		restart_close(rs, (uv_handle_t *)&rs->in);
	}
	uv_read_start((uv_stream_t *)&rs->out, restart_alloc_cb, restart_read_cb);
	uv_read_start((uv_stream_t *)&rs->err, restart_alloc_cb, restart_read_cb);
	rs->appear_deadline = uv_now(ag->loop) + ag->cfg->restart_timeout_ms;
	uv_timer_start(&rs->timer, restart_timer_cb,
	    ag->cfg->restart_timeout_ms > 0 ? ag->cfg->restart_timeout_ms : 120000, 0);
	observer_changed(&ag->obs, OBS_AGENT);
	return 0;
}

/* -- status and close ----------------------------------------------------------------------- */

void
agent_status_json(const struct agent *ag, cJSON *o)
{
	const char *home = agent_home(ag);

	cJSON_AddStringToObject(o, "state", agent_state_name(ag->state));
	if (ag->state == AGENT_RUNNING)
		cJSON_AddNumberToObject(o, "pid", ag->pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddNumberToObject(o, "restarts", ag->restarts);
	cJSON_AddStringToObject(o, "process", ag->name);
	if (home != NULL)
		cJSON_AddStringToObject(o, "home", home);
	else
		cJSON_AddNullToObject(o, "home");
	cJSON_AddStringToObject(o, "watch", ag->pw != NULL ? "pidfd" : "scan");
	cJSON_AddNumberToObject(o, "since", (double)(ag->since_wall_ms / 1000));
	cJSON_AddBoolToObject(o, "restarting", ag->rs != NULL);
	if (ag->have_last) {
		cJSON *l = cJSON_AddObjectToObject(o, "last_restart");

		cJSON_AddNumberToObject(l, "time", (double)(ag->last_time_ms / 1000));
		cJSON_AddStringToObject(l, "result",
		    ag->last_result == 0                ? "ok"
		        : ag->last_result == -ETIMEDOUT ? "timeout"
		        : ag->last_result == -ESRCH     ? "not_found"
		                                        : "failed");
		cJSON_AddNumberToObject(l, "exit_status", (double)ag->last_exit_status);
	} else {
		cJSON_AddNullToObject(o, "last_restart");
	}
	if (ag->gprop_read && ag->gprop_rc == 0) {
		cJSON *a = cJSON_AddObjectToObject(o, "autorecovery");
		const struct gprop *g = &ag->gprop;

		cJSON_AddBoolToObject(a, "configured", gprop_autorecovery_configured(g));
		cJSON_AddNumberToObject(
		    a, "max_retry_times", (double)g->auto_start_max_retry_times);
		cJSON_AddNumberToObject(
		    a, "interval_seconds", (double)g->auto_start_interval_seconds);
		cJSON_AddNumberToObject(
		    a, "each_addition_seconds", (double)g->auto_start_each_addition_seconds);
		cJSON_AddNumberToObject(
		    a, "window_seconds", (double)gprop_autorecovery_window_s(g));
	} else {
		cJSON_AddNullToObject(o, "autorecovery");
	}
}

void
agent_close(struct agent *ag, void (*cb)(void *arg), void *arg)
{
	if (ag == NULL || ag->closing)
		return;
	ag->closing = true;
	ag->close_cb = cb;
	ag->close_arg = arg;
	pidwatch_stop(ag);
	if (ag->rs != NULL) {
		struct restart *rs = ag->rs;

		/* Closing the process handle does not kill the command; it finishes on its own. */
		rs->detached = true;
		rs->finished = true;
		ag->rs = NULL;
		restart_close_all(rs);
	}
	while (!LIST_EMPTY(&ag->draining)) {
		struct restart *rs = LIST_FIRST(&ag->draining);

		LIST_REMOVE(rs, drain_entry);
		rs->draining = false;
		restart_close(rs, (uv_handle_t *)&rs->out);
		restart_close(rs, (uv_handle_t *)&rs->err);
	}
	uv_close((uv_handle_t *)&ag->scan, scan_close_cb);
}
