/* The SMS migration task's states and error codes, shared by sms, policy and status. */
#ifndef SMSGUARD_TASK_H
#define SMSGUARD_TASK_H

#include <stdbool.h>
#include <stdint.h>

enum task_state {
	TASK_UNKNOWN = 0, /* anything SMS says that we do not know: only watched */
	TASK_READY,
	TASK_RUNNING,
	TASK_SYNCING,
	TASK_MIGRATE_SUCCESS,
	TASK_SYNC_SUCCESS,
	TASK_MIGRATE_FAIL,
	TASK_SYNC_FAIL,
	TASK_ABORTING,
	TASK_ABORT,
	TASK_SKIPPING,
	TASK_DELETING,
	TASK_RESETING,
	TASK_STATE_COUNT,
};

enum task_type {
	TASK_TYPE_UNKNOWN = 0,
	TASK_TYPE_MIGRATE_FILE,
	TASK_TYPE_MIGRATE_BLOCK,
};

enum task_os {
	TASK_OS_UNKNOWN = 0,
	TASK_OS_LINUX,
	TASK_OS_WINDOWS,
};

enum task_state task_state_from_name(const char *s);
/* "RUNNING", …; "unknown" for TASK_UNKNOWN. */
const char *task_state_name(enum task_state st);
enum task_type task_type_from_name(const char *s);
const char *task_type_name(enum task_type t);
enum task_os task_os_from_name(const char *s);
const char *task_os_name(enum task_os os);

bool task_state_is_failed(enum task_state st);
bool task_state_is_finished(enum task_state st);
/* RUNNING, SYNCING, ABORTING: the states polled at `poll` rather than `poll_idle`. */
bool task_state_is_active(enum task_state st);

/* SMS.0807 SMS.1807 SMS.2802 SMS.3802 SMS.3805 SMS.3806 SMS.2805 SMS.2806. */
bool task_error_is_network(const char *code);
/*
 * The target ports a task needs (`ports = auto`): Windows 22,8899,8900;
 * Linux file-level 22; Linux block-level 22,8900. Returns the count.
 */
int task_required_ports(enum task_type type, enum task_os os, uint16_t out[3]);

/* A short English meaning of a known SMS error code, or NULL. */
const char *task_error_meaning(const char *code);

#endif
