/*
 * Logging: stderr (journald keeps it), levels, a short module tag per file.
 * Every file that logs defines LOG_TAG before including this header.
 * Untrusted strings go through log_escape(); secrets never reach here.
 */
#ifndef SMSGUARD_LOG_H
#define SMSGUARD_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#ifndef LOG_TAG
#define LOG_TAG "smsguard"
#endif

void log_init(enum log_level level);
void log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
int log_level_from_name(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_emit(enum log_level level, const char *tag, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_fatal(const char *tag, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/*
 * Copies `in` (at most inlen bytes; -1 for a C string) to `out` with control
 * characters, quotes, backslashes and non-ASCII escaped, always NUL-terminated,
 * truncated with "..." when it does not fit. Returns out.
 */
char *log_escape(const char *in, long inlen, char *out, size_t outlen);

/* log_warn adds strerror(errno); the -x forms do not. */
#define log_warn(...) log_emit(LOG_LEVEL_WARN, LOG_TAG, errno, __VA_ARGS__)
#define log_warnx(...) log_emit(LOG_LEVEL_WARN, LOG_TAG, 0, __VA_ARGS__)
#define log_errorx(...) log_emit(LOG_LEVEL_ERROR, LOG_TAG, 0, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, LOG_TAG, 0, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, LOG_TAG, 0, __VA_ARGS__)
#define fatal(...) log_fatal(LOG_TAG, errno, __VA_ARGS__)
#define fatalx(...) log_fatal(LOG_TAG, 0, __VA_ARGS__)

#endif
