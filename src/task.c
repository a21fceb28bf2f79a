#include <stddef.h>
#include <string.h>

#include "smsguard/task.h"
#include "smsguard/util.h"

static const char *const state_names[TASK_STATE_COUNT] = {
    [TASK_UNKNOWN] = "unknown",
    [TASK_READY] = "READY",
    [TASK_RUNNING] = "RUNNING",
    [TASK_SYNCING] = "SYNCING",
    [TASK_MIGRATE_SUCCESS] = "MIGRATE_SUCCESS",
    [TASK_SYNC_SUCCESS] = "SYNC_SUCCESS",
    [TASK_MIGRATE_FAIL] = "MIGRATE_FAIL",
    [TASK_SYNC_FAIL] = "SYNC_FAIL",
    [TASK_ABORTING] = "ABORTING",
    [TASK_ABORT] = "ABORT",
    [TASK_SKIPPING] = "SKIPPING",
    [TASK_DELETING] = "DELETING",
    [TASK_RESETING] = "RESETING",
};

enum task_state
task_state_from_name(const char *s)
{
	if (s == NULL)
		return TASK_UNKNOWN;
	for (int i = 1; i < TASK_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return (enum task_state)i;
	return TASK_UNKNOWN;
}

const char *
task_state_name(enum task_state st)
{
	if ((unsigned)st >= TASK_STATE_COUNT)
		return "unknown";
	return state_names[st];
}

enum task_type
task_type_from_name(const char *s)
{
	if (s != NULL && strcmp(s, "MIGRATE_FILE") == 0)
		return TASK_TYPE_MIGRATE_FILE;
	if (s != NULL && strcmp(s, "MIGRATE_BLOCK") == 0)
		return TASK_TYPE_MIGRATE_BLOCK;
	return TASK_TYPE_UNKNOWN;
}

const char *
task_type_name(enum task_type t)
{
	switch (t) {
	case TASK_TYPE_MIGRATE_FILE:
		return "MIGRATE_FILE";
	case TASK_TYPE_MIGRATE_BLOCK:
		return "MIGRATE_BLOCK";
	default:
		return "unknown";
	}
}

enum task_os
task_os_from_name(const char *s)
{
	if (s != NULL && strcmp(s, "LINUX") == 0)
		return TASK_OS_LINUX;
	if (s != NULL && strcmp(s, "WINDOWS") == 0)
		return TASK_OS_WINDOWS;
	return TASK_OS_UNKNOWN;
}

const char *
task_os_name(enum task_os os)
{
	switch (os) {
	case TASK_OS_LINUX:
		return "LINUX";
	case TASK_OS_WINDOWS:
		return "WINDOWS";
	default:
		return "unknown";
	}
}

bool
task_state_is_failed(enum task_state st)
{
	return st == TASK_MIGRATE_FAIL || st == TASK_SYNC_FAIL;
}

bool
task_state_is_finished(enum task_state st)
{
	return st == TASK_MIGRATE_SUCCESS || st == TASK_SYNC_SUCCESS;
}

bool
task_state_is_active(enum task_state st)
{
	return st == TASK_RUNNING || st == TASK_SYNCING || st == TASK_ABORTING;
}

static const struct {
	const char *code;
	bool network;
	const char *meaning;
} task_errors[] = {
    {"SMS.0807", true, "network error between source and target servers"},
    {"SMS.1807", true, "cannot connect to the target server on port 8900"},
    {"SMS.2802", true, "cannot connect to the target server on port 8899"},
    {"SMS.3802", true, "cannot establish an SSH connection with the target server"},
    {"SMS.3805", true, "connection to the target's port 22 timed out"},
    {"SMS.3806", true, "connection to the target's port 22 was refused"},
    {"SMS.2805", true, "connection to the target server lost"},
    {"SMS.2806", true, "connection to the target server lost"},
    {"SMS.3803", false, "port 22 public-key verification failed (target IP changed?)"},
    {"SMS.3804", false, "port 22 credential invalid"},
    {"SMS.0210", false, "failed to create a file on the target server"},
    {"SMS.0805", false, "partition migration failed"},
    {"SMS.0806", false, "partition synchronization failed"},
    {"SMS.1113", false, "network unstable during reconfiguration"},
    {"SMS.1414", false, "migration module stopped abnormally; the task must be recreated"},
    {"SMS.0515", false, "source disk information changed"},
    {"SMS.9007", false, "task paused for exceeding the speed threshold"},
    {"SMS.6517", false, "rsync is missing on the source server"},
    {"SMS.0212", false, "the agent was restarted"},
};

bool
task_error_is_network(const char *code)
{
	if (code == NULL)
		return false;
	for (size_t i = 0; i < nitems(task_errors); i++)
		if (strcmp(code, task_errors[i].code) == 0)
			return task_errors[i].network;
	return false;
}

const char *
task_error_meaning(const char *code)
{
	if (code == NULL)
		return NULL;
	for (size_t i = 0; i < nitems(task_errors); i++)
		if (strcmp(code, task_errors[i].code) == 0)
			return task_errors[i].meaning;
	return NULL;
}

int
task_required_ports(enum task_type type, enum task_os os, uint16_t out[3])
{
	int n = 0;

	/* Reference §9: Windows 22+8899+8900; Linux file-level 22; Linux block-level 22+8900. */
	out[n++] = 22;
	if (os == TASK_OS_WINDOWS) {
		out[n++] = 8899;
		out[n++] = 8900;
	} else if (type == TASK_TYPE_MIGRATE_BLOCK) {
		out[n++] = 8900;
	}
	return n;
}
