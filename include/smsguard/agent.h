/*
 * SMS-Agent watch and restart (DESIGN.md §5.2, reference §9): find the
 * agent's main process (`linuxmain`) in /proc, watch its exit with a pidfd
 * (or a rescan every interval where pidfds are missing), learn and remember
 * its home directory, read its g-property.cfg, and restart it on request -
 * only while it is dead - by running the restart command with the answers on
 * stdin. The daemon's policy decides when; this module only does and reports
 * (observer_changed(OBS_AGENT) on every change).
 *
 * smsguard runs as root, so only a process of its own user is the agent, and
 * only a home that nobody but root or that user can change is used (the rule
 * is spelled out at agent_home_trusted(), agent_home.h); refusals are logged
 * once each. The restart command runs through the process runner (runner.h).
 */
#ifndef SMSGUARD_AGENT_H
#define SMSGUARD_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/agent_home.h"
#include "smsguard/config.h"
#include "smsguard/credentials.h"
#include "smsguard/gprop.h"
#include "smsguard/observe.h"

struct agent;

/*
 * cfg and creds are borrowed: they must stay valid until agent_reconfigure()
 * hands over new ones, or agent_close(). Nothing runs before agent_start().
 */
int agent_new(uv_loop_t *loop, const struct config *cfg, const struct credentials *creds,
    const struct observer *obs, struct agent **out);
/* Scans /proc now (state is then running or dead) and starts watching. */
int agent_start(struct agent *ag);
/* A new config or credentials (reload); a new process name or home rescans at once. */
void agent_reconfigure(struct agent *ag, const struct config *cfg, const struct credentials *creds);

enum agent_state agent_state(const struct agent *ag);
/* "unknown", "running", "dead". */
const char *agent_state_name(enum agent_state st);
/* The running agent's pid, else 0. */
pid_t agent_pid(const struct agent *ag);
/* True when the exit is watched with a pidfd (seen at once), false when by rescans. */
bool agent_uses_pidfd(const struct agent *ag);

/*
 * The agent's home directory, resolved (no symlinks) and trusted: `[agent]
 * home`, else the one found from the running process, else the one given to
 * agent_set_known_home(); NULL when none is known or the configured one was
 * refused (another is then not used in its place). The daemon stores it in
 * state.json so a dead agent can be started after a reboot.
 */
const char *agent_home(const struct agent *ag);
/*
 * A home remembered from an earlier run. Taken only when it still looks like
 * an agent home (startup.sh and agent/config/ in it), is trusted, and nothing
 * better is known. Returns 0, -EINVAL (not an agent home), -EPERM (not
 * trusted: logged) or -EEXIST (one is known or configured).
 */
int agent_set_known_home(struct agent *ag, const char *home);

/* Whether pid's real uid is smsguard's effective uid (only then is it the agent). */
bool agent_process_trusted(pid_t pid);

/*
 * Copies the agent's g-property.cfg settings (re-read when the agent appears,
 * and at most every 10 s when asked). Returns 0, or a negative errno when
 * the home is unknown (-ENOENT) or the file could not be read (out then has
 * the defaults: every setting absent).
 */
int agent_autorecovery(struct agent *ag, struct gprop *out);

/*
 * Runs the restart command (cfg->restart_argv, default <home>/startup.sh;
 * cwd = home; environment PATH and LANG only; stdin the answers with {ak}
 * {sk} {domain} filled, default "y", {ak}, {sk}, {domain}; output logged with
 * secrets masked) in a process group of its own, killed at
 * cfg->restart_timeout_ms; then waits for the agent to appear. cb(arg, 0)
 * when it runs again, else a negative errno: -ETIMEDOUT (the command hung),
 * -EIO (it failed), -ESRCH (it exited 0 but no agent appeared). Refused at
 * once (cb not called) with -EBUSY while the agent runs or a restart is under
 * way, -ENOENT without a home or command, -EPERM when the home (or a program
 * in it) no longer passes agent_home_trusted()'s rule, checked again right
 * before the spawn (the home is then forgotten), or the uv_spawn error. cb
 * is not called after agent_close().
 */
int agent_restart(struct agent *ag, void (*cb)(void *arg, int result), void *arg);
bool agent_restarting(const struct agent *ag);
/* Restarts attempted since smsguard started. */
unsigned agent_restarts(const struct agent *ag);

/*
 * Fills the status `agent` object (DESIGN.md §5.8): state, pid, restarts,
 * and home, watch ("pidfd"|"scan"), restarting, last_restart {time, result,
 * exit_status} or null, autorecovery {configured, max_retry_times,
 * interval_seconds, each_addition_seconds, window_seconds} or null.
 */
void agent_status_json(const struct agent *ag, cJSON *agent);

/*
 * Stops watching; a restart command still running is left to finish on its
 * own. cb(arg) runs from the loop once every handle is closed and ag is freed.
 */
void agent_close(struct agent *ag, void (*cb)(void *arg), void *arg);

#endif
