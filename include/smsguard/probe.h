/*
 * Target port probes (DESIGN.md §5.1): one prober per port, each on its own
 * timers, starting a non-blocking TCP connect at a fixed cadence of
 * `interval`, each cut at `timeout` (attempts overlap when timeout >= interval);
 * results go through the fall/rise state machine of hysteresis.h. Reports to
 * the daemon through the observer (OBS_TARGET on any port state change).
 */
#ifndef SMSGUARD_PROBE_H
#define SMSGUARD_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/hysteresis.h"
#include "smsguard/observe.h"
#include "smsguard/task.h"

#define PROBE_MAX_PORTS CONFIG_MAX_PORTS
#define PROBE_MAX_ADDRESS 256

struct probe_set;

/* What one port looks like now; for the policy, status and metrics. */
struct probe_port_info {
	uint16_t port;
	enum port_state state;
	int64_t since_wall_ms;  /* wall clock of the last state change (or of the target change) */
	uint64_t since_mono_ms; /* the same moment on uv_now() */
	enum fail_class last_class; /* FAIL_NONE when the last probe connected */
	int last_errno;             /* positive errno of the last failure; ETIMEDOUT for ours */
	struct latency latency;     /* successful connects only */
	uint64_t probes;            /* attempts finished */
	uint64_t failures[FAIL_CLASS_COUNT]; /* [FAIL_NONE] counts successes */
};

/* The ports a task needs: the config's explicit list, or task_required_ports() for `auto`. */
int probe_effective_ports(
    const struct config *cfg, enum task_type type, enum task_os os, uint16_t out[PROBE_MAX_PORTS]);

/* Takes interval, timeout, fall and rise from cfg (copied). Nothing is probed before a target. */
int probe_new(
    uv_loop_t *loop, const struct config *cfg, const struct observer *obs, struct probe_set **out);
/*
 * Probes `address` (an IPv4 or IPv6 literal, "[v6]" too, or a host name that
 * is resolved once) on n ports. The same address and ports again change
 * nothing; anything else restarts every prober from unknown. address NULL or
 * n == 0 stops probing (the target is then unknown). Returns 0 or -EINVAL.
 */
int probe_set_target(struct probe_set *ps, const char *address, const uint16_t *ports, int n);
/*
 * The target the config and the task call for: `[target] address`, else the
 * task's migration_ip (NULL or "" when not known yet: probing stops); ports
 * by probe_effective_ports(). Cheap when nothing changed: call it on every
 * task snapshot and after a reload.
 */
int probe_follow(struct probe_set *ps, const struct config *cfg, const char *migration_ip,
    enum task_type type, enum task_os os);
/* New timings (reload): restarts the probers only when one of them changed. */
void probe_reconfigure(struct probe_set *ps, const struct config *cfg);
/* Probes every port now (`smsguardctl check`); a port with a probe in flight keeps it. */
void probe_check_now(struct probe_set *ps);
/*
 * SMS reported a network failure: that is evidence the link was down, even
 * if the probes read up (SMS may notice before `fall` probes do). Drops the
 * probes in flight, makes every up port unknown (hysteresis_distrust), and
 * probes every port at once, so the target is up again only after `rise`
 * successes of probes started from now, and its up-since is that moment.
 */
void probe_distrust(struct probe_set *ps);

/*
 * Up only when every port is up; down when any is down; unknown otherwise
 * (and with no target). *since_mono_ms (may be NULL): uv_now() when the
 * target entered that state.
 */
enum port_state probe_target_state(const struct probe_set *ps, uint64_t *since_mono_ms);
/* NULL when there is no target. */
const char *probe_address(const struct probe_set *ps);
int probe_port_count(const struct probe_set *ps);
/* i in [0, probe_port_count); returns 0 or -ENOENT. */
int probe_port_info(const struct probe_set *ps, int i, struct probe_port_info *out);

/*
 * Fills the status `target` object (DESIGN.md §5.8): address, state, ports[]
 * {port, state, latency_ms, latency_smoothed_ms, last_error, errno, since}.
 */
void probe_status_json(const struct probe_set *ps, cJSON *target);

/*
 * Stops everything; cb(arg) runs once every handle is closed and the set is
 * freed (from the loop, never from inside probe_close).
 */
void probe_close(struct probe_set *ps, void (*cb)(void *arg), void *arg);

#endif
