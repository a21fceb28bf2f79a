/*
 * SMS-Agent's home directory (DESIGN.md §5.2, §6): whether a directory may
 * be used, as root, to run startup.sh from (the rule is spelled out at
 * agent_home_trusted()); which home is in use - `[agent] home`, else one
 * found from the running agent, else one remembered from an earlier run -
 * and the agent's agent/config/g-property.cfg read from it (gprop.c).
 * Refused homes are logged once each. No handles: it reads the file system
 * and takes `now` (monotonic ms) as an argument.
 */
#ifndef SMSGUARD_AGENT_HOME_H
#define SMSGUARD_AGENT_HOME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smsguard/gprop.h"

/* How long g-property.cfg is trusted before agent_home_gprop() reads it again. */
#define AGENT_HOME_GPROP_REREAD_MS 10000

struct agent_home;

/* Nothing configured, found or read yet. */
struct agent_home *agent_home_new(void);
/* NULL is a no-op. */
void agent_home_free(struct agent_home *h);

/*
 * Whether home may be used, as root, to run startup.sh from: after realpath,
 * the home and every directory above it up to / is owned by root or by
 * smsguard's effective uid; the home is not writable by group or others; an
 * ancestor is writable by group or others only when sticky (like /tmp);
 * startup.sh, when present, is a regular file (not a symlink) owned by root
 * or that uid and not writable by group or others. Returns 0, -EPERM or the
 * errno of a failed lookup, with *cause (may be NULL; the caller frees it)
 * saying which path failed and why, escaped for the log.
 */
int agent_home_trusted(const char *home, char **cause);
/* An SMS-Agent home: startup.sh and agent/config/ in it. */
bool agent_home_looks_like(const char *dir);

/*
 * `[agent] home` (NULL or "" for none), from the config at start and at
 * each reload: resolved and taken when it passes the rule, else logged and
 * no home is used (a found or remembered one does not replace the admin's
 * choice). Refusals are logged afresh after each call.
 */
void agent_home_configure(struct agent_home *h, const char *configured);
bool agent_home_is_configured(const struct agent_home *h);
/* The home in use, resolved; NULL when none is known or the configured one was refused. */
const char *agent_home_get(const struct agent_home *h);

/*
 * The first agent home at or above path (a file or directory of process
 * pid), resolved, when it passes the rule (the caller frees it); else NULL,
 * a refused one logged ("found from pid N") and the walk stopped there.
 */
char *agent_home_find(struct agent_home *h, const char *path, pid_t pid);
/*
 * Takes home (from agent_home_find(), for the running agent pid) as the
 * home in use unless one is configured; frees it when not taken.
 */
void agent_home_learn(struct agent_home *h, char *home, pid_t pid);
/*
 * A home remembered from an earlier run. Taken only when it still looks
 * like an agent home, is trusted, and nothing better is known; its
 * g-property.cfg is then read. Returns 0, -EINVAL (not an agent home),
 * -EPERM (not trusted: logged) or -EEXIST (another is known or configured).
 */
int agent_home_remember(struct agent_home *h, const char *home, uint64_t now);
/*
 * Checks the home in use again, right before something is run from it: it
 * must still resolve to itself and pass the rule, and prog (argv[0] of what
 * will run; a bare name or one outside the home passes) must, when it lives
 * in the home, be checked like startup.sh. On failure the home is forgotten
 * and -EPERM returned, with *cause saying why (the caller frees it).
 */
int agent_home_recheck(struct agent_home *h, const char *prog, char **cause);

/* Reads g-property.cfg from the home in use now (bad content is logged). */
void agent_home_read_gprop(struct agent_home *h, uint64_t now);
/* Marks the settings stale: the next agent_home_gprop() reads the file again. */
void agent_home_gprop_stale(struct agent_home *h);
/*
 * Copies the settings, read again when stale or older than
 * AGENT_HOME_GPROP_REREAD_MS. Returns 0, or -ENOENT without a home, or the
 * error of reading the file (out then has the defaults: all absent).
 */
int agent_home_gprop(struct agent_home *h, uint64_t now, struct gprop *out);
/* The settings last read, or NULL when none were read or the read failed. */
const struct gprop *agent_home_gprop_last(const struct agent_home *h);

#endif
