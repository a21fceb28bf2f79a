/* Small helpers shared by every module: durations, strings, time. */
#ifndef SMSGUARD_UTIL_H
#define SMSGUARD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

/*
 * "500ms", "2s", "5m", "1h", "1d", or a bare number of seconds, also
 * combined ("1m30s"). Returns 0 or -EINVAL / -ERANGE.
 */
int util_parse_duration_ms(const char *s, uint64_t *out_ms);
/* Formats a duration as "1h2m3s", "250ms"; returns buf. */
char *util_format_duration(uint64_t ms, char *buf, size_t len);

/* strlcpy semantics: returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/* Aborts on allocation failure: a daemon that cannot allocate 100 bytes cannot recover. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall clock in milliseconds since the epoch (the only call that reads it). */
int64_t util_wall_ms(void);

/* Overwrites memory that held a secret; never optimised away. */
void util_wipe(void *p, size_t n);

/* Trims leading and trailing white space in place; returns s. */
char *util_trim(char *s);

/*
 * A DNS host name: at most 253 characters of dot-separated labels, each 1 to
 * 63 letters, digits, '-' or '_' that neither starts nor ends with '-'; one
 * trailing dot is allowed. The one rule for the config and the probes.
 */
bool util_hostname_ok(const char *s);

/*
 * Marks every open descriptor >= lowfd close-on-exec, so a program we start
 * inherits none of ours (libraries open some without O_CLOEXEC). Returns 0
 * or a negative errno when /proc/self/fd cannot be read.
 */
int util_cloexec_from(int lowfd);

/* Uniform random in [0, n) from a non-crypto PRNG seeded once at start. */
uint32_t util_random(uint32_t n);
void util_random_seed(uint64_t seed);
/*
 * Uniform random in [-span, span] (util_random's generator): added to a
 * delay so that a fleet of daemons spreads out (`ms + util_jitter(ms / 10)`
 * is ±10 %), or a policy's jitter in [-1000, 1000]. 0 when span <= 0; a span
 * over INT32_MAX is drawn as INT32_MAX.
 */
int64_t util_jitter(int64_t span);

#endif
