/*
 * SMS-Agent's home directory: the trust rule, the home in use, and its
 * g-property.cfg. A plain struct without handles; the agent owns one.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_TAG "agent"
#include "smsguard/agent_home.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define HOME_WALK_MAX 32 /* directory levels walked up looking for a home */
#define REFUSED_MEMO 8   /* refused homes remembered to log each once */

struct agent_home {
	bool configured; /* `[agent] home` is set: nothing else is used */
	char *cfg;       /* `[agent] home` resolved, when it passed the rule; else NULL */
	char *found;     /* from the process or remembered, resolved; NULL = unknown */

	/* Refusals already logged, so a scan every interval does not repeat them. */
	char *refused[REFUSED_MEMO];
	unsigned refused_next;

	struct gprop gprop;
	int gprop_rc;
	bool gprop_read;
	uint64_t gprop_read_ms;
};

/* -- trust ---------------------------------------------------------------------------------- */

/*
 * smsguard runs as root and runs <home>/startup.sh with the AK/SK on its
 * stdin, so whoever can change what that path names gets root and the
 * credentials. A home (found from the process, configured or remembered)
 * is taken only when nobody but root or our own user can change what it
 * names:
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
 * every spawn (agent_home_recheck()), since the modes may have changed
 * since the home was taken.
 */

static bool
uid_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
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

/* One directory of a chain: the leaf strictly, an ancestor may be writable when sticky. */
static int
dir_trusted(const char *path, bool leaf, char **cause)
{
	struct stat st;

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
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (leaf || (st.st_mode & S_ISVTX) == 0)) {
		*cause = trust_cause(path,
		    leaf ? "is writable by group or others"
		         : "is writable by group or others and not sticky");
		return -EPERM;
	}
	return 0;
}

/* Checks dir (absolute, already resolved) and each directory above it up to /. */
static int
dir_chain_trusted(const char *dir, char **cause)
{
	char path[PATH_MAX];
	int rc;

	if (dir[0] != '/' || util_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		*cause = trust_cause(dir, "is not an absolute path");
		return -EINVAL;
	}
	for (bool leaf = true;; leaf = false) {
		char *slash;

		if ((rc = dir_trusted(path, leaf, cause)) != 0)
			return rc;
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
 * A program in the home (real, resolved) is checked like startup.sh, with
 * the directories between. A bare name is looked up in the fixed PATH and
 * one elsewhere is the admin's choice; one whose directory does not resolve
 * does not exist, and running it fails.
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

bool
agent_home_looks_like(const char *dir)
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

/* -- refusals ------------------------------------------------------------------------------- */

/* Logs a refused home once per home and reason; takes cause. */
static void
refused_home(struct agent_home *h, const char *home, const char *source, char *cause)
{
	char esc[PATH_MAX];
	char *key = xasprintf("%s\n%s", home, cause);

	for (size_t i = 0; i < nitems(h->refused); i++) {
		if (h->refused[i] != NULL && strcmp(h->refused[i], key) == 0) {
			free(key);
			free(cause);
			return;
		}
	}
	free(h->refused[h->refused_next % REFUSED_MEMO]);
	h->refused[h->refused_next++ % REFUSED_MEMO] = key;
	log_warnx("refusing agent home %s (%s): %s; it must be owned by root (or smsguard's "
	          "user) and writable by nobody else, up to /",
	    log_escape(home, -1, esc, sizeof(esc)), source, cause);
	free(cause);
}

static void
refused_forget(struct agent_home *h)
{
	for (size_t i = 0; i < nitems(h->refused); i++) {
		free(h->refused[i]);
		h->refused[i] = NULL;
	}
}

/* -- the home in use ------------------------------------------------------------------------ */

struct agent_home *
agent_home_new(void)
{
	struct agent_home *h = xcalloc(1, sizeof(*h));

	gprop_init(&h->gprop);
	h->gprop_rc = -ENOENT;
	return h;
}

void
agent_home_free(struct agent_home *h)
{
	if (h == NULL)
		return;
	refused_forget(h);
	free(h->cfg);
	free(h->found);
	free(h);
}

void
agent_home_configure(struct agent_home *h, const char *configured)
{
	char *real = NULL, *cause = NULL;

	/* A reload re-checks a configured home, and says again why one is refused. */
	refused_forget(h);
	free(h->cfg);
	h->cfg = NULL;
	h->configured = configured != NULL && configured[0] != '\0';
	if (!h->configured)
		return;
	if (home_trusted(configured, &real, &cause) == 0)
		h->cfg = real;
	else
		refused_home(h, configured, "configured", cause);
}

bool
agent_home_is_configured(const struct agent_home *h)
{
	return h->configured;
}

const char *
agent_home_get(const struct agent_home *h)
{
	/* A configured home that was refused is not replaced by another: it was the admin's choice. */
	return h->configured ? h->cfg : h->found;
}

char *
agent_home_find(struct agent_home *h, const char *path, pid_t pid)
{
	char buf[PATH_MAX];

	if (path[0] != '/' || util_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return NULL;
	for (int i = 0; i < HOME_WALK_MAX; i++) {
		char *slash, *real, *cause;

		if (agent_home_looks_like(buf)) {
			char src[64];

			if (home_trusted(buf, &real, &cause) == 0)
				return real;
			snprintf(src, sizeof(src), "found from pid %d", (int)pid);
			refused_home(h, buf, src, cause);
			return NULL;
		}
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			break;
		*slash = '\0';
	}
	return NULL;
}

void
agent_home_learn(struct agent_home *h, char *home, pid_t pid)
{
	char esc[PATH_MAX];

	if (h->configured || home == NULL || (h->found != NULL && strcmp(home, h->found) == 0)) {
		free(home);
		return;
	}
	free(h->found);
	h->found = home;
	log_info(
	    "agent home %s (found from pid %d)", log_escape(home, -1, esc, sizeof(esc)), (int)pid);
}

int
agent_home_remember(struct agent_home *h, const char *home, uint64_t now)
{
	char esc[256];
	char *real = NULL, *cause = NULL;
	int rc;

	if (home == NULL || home[0] != '/' || !agent_home_looks_like(home))
		return -EINVAL;
	if (h->configured)
		return h->cfg != NULL && strcmp(h->cfg, home) == 0 ? 0 : -EEXIST;
	if (home_trusted(home, &real, &cause) != 0) {
		refused_home(h, home, "remembered", cause);
		return -EPERM;
	}
	if (h->found != NULL) {
		rc = strcmp(h->found, real) == 0 ? 0 : -EEXIST;
		free(real);
		return rc;
	}
	h->found = real;
	log_info("agent home %s (remembered)", log_escape(home, -1, esc, sizeof(esc)));
	agent_home_read_gprop(h, now);
	return 0;
}

int
agent_home_recheck(struct agent_home *h, const char *prog, char **cause)
{
	const char *home = agent_home_get(h);
	char esc[PATH_MAX];
	char *real = NULL;
	int rc;

	*cause = NULL;
	if (home == NULL)
		return 0;
	rc = home_trusted(home, &real, cause);
	if (rc == 0 && strcmp(real, home) != 0) {
		*cause = xasprintf("it now resolves to %s", log_escape(real, -1, esc, sizeof(esc)));
		rc = -EPERM;
	}
	if (rc == 0)
		rc = program_trusted(real, prog, cause);
	free(real);
	if (rc == 0)
		return 0;
	/* Forgotten, so the daemon no longer stores it and nothing else runs from it. */
	if (h->configured) {
		free(h->cfg);
		h->cfg = NULL;
	} else {
		free(h->found);
		h->found = NULL;
	}
	h->gprop_read = false;
	return -EPERM;
}

/* -- g-property.cfg ------------------------------------------------------------------------- */

void
agent_home_read_gprop(struct agent_home *h, uint64_t now)
{
	const char *home = agent_home_get(h);
	char path[PATH_MAX];

	h->gprop_read = true;
	h->gprop_read_ms = now;
	if (home == NULL) {
		gprop_init(&h->gprop);
		h->gprop_rc = -ENOENT;
		return;
	}
	snprintf(path, sizeof(path), "%s/agent/config/g-property.cfg", home);
	h->gprop_rc = gprop_load(&h->gprop, path);
	if (h->gprop_rc == -EINVAL || h->gprop_rc == -EFBIG)
		log_warnx("%s: unexpected content (%d bad lines), read what was readable", path,
		    h->gprop.bad_lines + h->gprop.bad_values);
	else if (h->gprop_rc < 0 && h->gprop_rc != -ENOENT)
		log_warnx("%s: %s", path, strerror(-h->gprop_rc));
	if (h->gprop_rc == -EINVAL)
		h->gprop_rc = 0; /* the readable part counts */
}

void
agent_home_gprop_stale(struct agent_home *h)
{
	h->gprop_read = false;
}

int
agent_home_gprop(struct agent_home *h, uint64_t now, struct gprop *out)
{
	if (!h->gprop_read || now - h->gprop_read_ms >= AGENT_HOME_GPROP_REREAD_MS)
		agent_home_read_gprop(h, now);
	*out = h->gprop;
	return h->gprop_rc;
}

const struct gprop *
agent_home_gprop_last(const struct agent_home *h)
{
	return h->gprop_read && h->gprop_rc == 0 ? &h->gprop : NULL;
}
