/*
 * What preflight's judges share (preflight_judge.c, preflight_host_judge.c,
 * preflight_report.c) and nothing else includes.
 */
#ifndef SMSGUARD_PREFLIGHT_JUDGE_INTERNAL_H
#define SMSGUARD_PREFLIGHT_JUDGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "smsguard/preflight_judge.h"

/* Sets the verdict, the code prevented (NULL: none) and the measurement; clears the remedy. */
void pf_set(struct pf_check *c, enum pf_verdict v, const char *prevents, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The remedy; nothing for a check that is ok. */
void pf_remedy(struct pf_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "host:port", "[v6]:port". Returns buf. */
char *pf_hostport(const char *host, uint16_t port, char *buf, size_t len);
/* Appends to buf at *o, as far as it fits. */
void pf_appendf(char *buf, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
