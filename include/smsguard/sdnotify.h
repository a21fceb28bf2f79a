/* sd_notify(3) in a few lines: READY=1, STOPPING=1, STATUS=…, WATCHDOG=1. */
#ifndef SMSGUARD_SDNOTIFY_H
#define SMSGUARD_SDNOTIFY_H

#include <stdint.h>

/* Sends one datagram to $NOTIFY_SOCKET; 0 when sent or no socket is set. */
int sdnotify(const char *state);
int sdnotifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval from $WATCHDOG_USEC (and $WATCHDOG_PID), 0 when off. */
uint64_t sdnotify_watchdog_ms(void);

#endif
