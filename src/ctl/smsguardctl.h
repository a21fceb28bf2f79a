/*
 * smsguardctl's own modules: main.c reads the command line by the command
 * table of ctl-protocol.h, client.c talks to the daemon's socket, print.c
 * shows the reply to a person.
 */
#ifndef SMSGUARDCTL_H
#define SMSGUARDCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/ctl-protocol.h"

/* "smsguardctl: " and the message on stderr. */
void ctlwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Connects to path (giving up after timeout_ms), sends req and reads the
 * reply within reply_ms (0: as long as it takes). Returns the reply, its
 * "ok" as *exitp (CTL_EXIT_OK or CTL_EXIT_FAILED), or NULL with *exitp set
 * after saying on stderr what went wrong (CTL_EXIT_UNREACHABLE when the
 * daemon could not be reached).
 */
cJSON *client_call(const char *path, uint64_t timeout_ms, uint64_t reply_ms,
    const struct ctl_request *req, int *exitp);

/* Shows an {"ok":true,…} reply to req (as JSON when json); returns the exit code. */
int print_reply(const struct ctl_request *req, bool json, cJSON *reply);
/* Shows a preflight report (print_preflight.c); returns its exit code. */
int print_preflight(bool json, cJSON *reply);
/* Says why an {"ok":false,…} reply refused req; returns the exit code. */
int print_error(const struct ctl_request *req, const cJSON *reply);

#endif
