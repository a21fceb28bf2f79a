/*
 * SMS-Agent's agent/config/g-property.cfg (reference §9): `key=value` lines
 * (Java-properties-like; `#`/`;` comments, `[section]` headers). We only read
 * the agent's own auto-recovery settings and a few keys shown in status. The
 * file belongs to another program: every byte is untrusted, and a bad file
 * leaves the defaults (everything absent) rather than failing.
 */
#ifndef SMSGUARD_GPROP_H
#define SMSGUARD_GPROP_H

#include <stdbool.h>
#include <stddef.h>

/* More than this is not a config file; only the first GPROP_MAX_FILE bytes are read. */
#define GPROP_MAX_FILE (256 * 1024)
/* Values above this are refused as nonsense (about 11 days in seconds). */
#define GPROP_MAX_NUMBER 1000000L

struct gprop {
	int keys;       /* key=value lines seen (known or not) */
	int bad_lines;  /* lines that are neither comments, sections nor key=value */
	int bad_values; /* known keys with values we could not read */
	/* -1 when absent or unreadable */
	long auto_start_interval_seconds;
	long auto_start_max_retry_times;
	long auto_start_each_addition_seconds;
	long heartmonitorday;
	int servercheck; /* -1 absent, 0 off, 1 on */
};

/* Everything absent. */
void gprop_init(struct gprop *g);
/*
 * Parses len bytes (NULs allowed: a line holding one is a bad line) into g,
 * after gprop_init. Returns 0, or -EINVAL when some line or known value was
 * bad (what could be read is still in g).
 */
int gprop_parse(struct gprop *g, const char *buf, size_t len);
/*
 * Reads and parses a file. On error g keeps the defaults (or what the first
 * GPROP_MAX_FILE bytes held, for -EFBIG) and a negative errno is returned:
 * -ENOENT and the like from open/read, -EINVAL for a non-regular file or
 * bad lines (what could be read is kept, as gprop_parse), -EFBIG for an
 * oversized one.
 */
int gprop_load(struct gprop *g, const char *path);

/* The agent retries failed tasks itself (auto_start_max_retry_times > 0). */
bool gprop_autorecovery_configured(const struct gprop *g);
/*
 * How long the agent's own retries can run after a network failure, in
 * seconds: sum over retries i = 0..n-1 of interval + i * addition (absent
 * interval/addition count as 0). 0 when not configured; saturates.
 */
long gprop_autorecovery_window_s(const struct gprop *g);

#endif
