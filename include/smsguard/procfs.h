/*
 * The /proc files the agent scan reads (agent_proc.c), parsed. Pure: the
 * bytes come in, as read; a process chooses its own name and command line,
 * so nothing here trusts them. Each buffer holds len bytes followed by a NUL
 * (the reader's), and may hold NULs of its own.
 */
#ifndef SMSGUARD_PROCFS_H
#define SMSGUARD_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROCFS_COMM_MAX 15 /* the kernel keeps 15 characters of a process name */

/*
 * /proc/PID/stat: the state letter and the parent's pid, read after the last
 * ')' (the name may hold any). 0, or -EINVAL when malformed.
 */
int procfs_stat_parse(const char *buf, size_t len, char *state, pid_t *ppid);
/* /proc/PID/status: the real uid, the first number of the "Uid:" line. 0 or -EINVAL. */
int procfs_status_uid(const char *buf, size_t len, uid_t *uid);
/* /proc/PID/comm (with its newline) is name, as the kernel cuts it to 15 characters. */
bool procfs_comm_is(const char *buf, size_t len, const char *name);
/*
 * /proc/PID/cmdline (NUL-separated arguments) names name: argv[0]'s base
 * name does, or - when argv[0] is an interpreter (python, sh, java, ...) - a
 * later argument's base name does. Any argument at all would also match an
 * editor or `tail -f` that happens to hold the path.
 */
bool procfs_cmdline_names(const char *buf, size_t len, const char *name);

#endif
