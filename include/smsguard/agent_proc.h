/*
 * Which process is SMS-Agent (DESIGN.md §5.2): read from /proc, by its name
 * (comm, then command line) and its owner. smsguard runs as root and runs
 * <home>/startup.sh with the AK/SK on its stdin, so a process is the agent
 * only when its real uid is our effective uid: anyone can name a process
 * `linuxmain`. No handles and no state but the memo of refusals already
 * logged; the watch itself is agent.c's.
 */
#ifndef SMSGUARD_AGENT_PROC_H
#define SMSGUARD_AGENT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "smsguard/agent_home.h"

#define AGENT_PROC_REFUSED_MEMO 8

/* Processes refused for their owner and already logged (zeroed: none). */
struct agent_proc_refusals {
	pid_t pids[AGENT_PROC_REFUSED_MEMO];
	unsigned next;
};

/*
 * Whether pid is alive (not a zombie) and named name: its comm (15
 * characters, as the kernel keeps), or its command line - argv[0]'s base
 * name, or a later argument's when argv[0] is an interpreter (python, sh,
 * java, ...), since the agent may be a script.
 */
bool agent_proc_matches(pid_t pid, const char *name);
/* Whether pid's real uid is smsguard's effective uid. */
bool agent_proc_trusted(pid_t pid);
/*
 * Whether pid is stopped (SIGSTOP, SIGTSTP, or held by a debugger): alive,
 * but doing nothing until it is continued.
 */
bool agent_proc_stopped(pid_t pid);
/*
 * The agent's main process: /proc scanned by comm, then by command line,
 * for processes of our own user (others are logged once, in memo). Among
 * several (the agent may fork helpers under its own name) the one whose
 * parent is not one of them. 0 when none.
 */
pid_t agent_proc_find(const char *name, struct agent_proc_refusals *memo);
/*
 * The home of the running agent pid (agent_home_find() on its executable,
 * then on the paths on its command line, then on its working directory),
 * resolved and trusted, the caller frees it; NULL when none is found.
 */
char *agent_proc_home(pid_t pid, struct agent_home *h);

#endif
