/* Logging to stderr; journald adds the time and keeps it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smsguard/log.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* sd-daemon(3) priority prefixes: journald reads them, a terminal shows them harmlessly. */
static const char *const level_prefix[] = {"<3>", "<4>", "<6>", "<7>"};

void
log_init(enum log_level level)
{
	log_level = level;
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return log_level;
}

int
log_level_from_name(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

static void
log_vemit(enum log_level level, const char *tag, int errnum, const char *fmt, va_list ap)
{
	char msg[2048];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* A journald prefix only when stderr is not a terminal keeps interactive runs readable. */
	if (errnum != 0)
		fprintf(stderr, "%s%s: %s: %s\n", isatty(STDERR_FILENO) ? "" : level_prefix[level],
		    tag, msg, strerror(errnum));
	else
		fprintf(stderr, "%s%s: %s\n", isatty(STDERR_FILENO) ? "" : level_prefix[level], tag,
		    msg);
}

void
log_emit(enum log_level level, const char *tag, int errnum, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vemit(level, tag, errnum, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(const char *tag, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERROR, tag, errnum, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *in, long inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	long i;

	if (outlen == 0)
		return out;
	if (in == NULL) {
		snprintf(out, outlen, "(null)");
		return out;
	}
	if (inlen < 0)
		inlen = (long)strlen(in);
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		char buf[5];
		size_t k = 0;

		if (c == '\\' || c == '"') {
			buf[k++] = '\\';
			buf[k++] = (char)c;
		} else if (c == '\n') {
			buf[k++] = '\\';
			buf[k++] = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			buf[k++] = '\\';
			buf[k++] = 'x';
			buf[k++] = hex[c >> 4];
			buf[k++] = hex[c & 0xf];
		} else {
			buf[k++] = (char)c;
		}
		if (o + k + 4 > outlen) {
			/* Room for "..." and the NUL is kept. */
			if (outlen >= 4) {
				while (o + 4 > outlen)
					o--;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, buf, k);
		o += k;
	}
	out[o] = '\0';
	return out;
}
