/*
 * The daemon: owns the loop's top-level handles and every module, wires
 * observations to the policy and the control socket to the modules.
 */
#ifndef SMSGUARD_DAEMON_H
#define SMSGUARD_DAEMON_H

#include <stdbool.h>

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const char *config_path, int verbose);

#endif
