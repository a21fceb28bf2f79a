/*
 * The response headers we read. Every byte is the server's (or a proxy's):
 * a line is bounded, a value is cut to its buffer, and an X-Request-Id that
 * is not a plain token is dropped rather than carried into a log line.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smsguard/http_header.h"
#include "smsguard/util.h"

#define VALUE_MAX 255
/*
 * 9999-12-31T23:59:59Z. libcurl reads years of any length ("… 08:49:37
 * 999999999" is 3e16 s), and the cloud client counts the skew in ms.
 */
#define DATE_MAX 253402300799LL

void
http_header_reset(struct http_header_fields *f)
{
	f->date_s = f->retry_after_s = -1;
	f->request_id[0] = '\0';
}

/* "Name: value" → value trimmed into buf when name matches. */
static bool
header_value(const char *line, size_t len, const char *name, char *buf, size_t buflen)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 &&
	    (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (vl >= buflen)
		vl = buflen - 1;
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	return true;
}

static bool
is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* An HTTP-date as Unix seconds, 1970 to the year 9999; -1 when unreadable. */
static int64_t
date_value(const char *value, http_getdate_fn getdate)
{
	time_t t = getdate(value);

	return t > 0 && (int64_t)t <= DATE_MAX ? (int64_t)t : -1;
}

/* Seconds ("120"), or an HTTP-date; -1 when neither. */
static int64_t
retry_after(const char *value, time_t now, http_getdate_fn getdate)
{
	char *end;
	long long secs;
	int64_t t;

	secs = strtoll(value, &end, 10);
	if (end != value && *end == '\0' && secs >= 0)
		return secs; /* an overflow saturates at LLONG_MAX: the caller caps it */
	if ((t = date_value(value, getdate)) < 0)
		return -1;
	return t > (int64_t)now ? t - (int64_t)now : 0;
}

void
http_header_read(
    struct http_header_fields *f, const char *line, size_t len, time_t now, http_getdate_fn getdate)
{
	char value[VALUE_MAX + 1];

	if (len > HTTP_HEADER_LINE_MAX)
		return;
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		http_header_reset(f);
		return;
	}
	if (header_value(line, len, "Date", value, sizeof(value))) {
		f->date_s = date_value(value, getdate);
	} else if (header_value(line, len, "Retry-After", value, sizeof(value))) {
		int64_t s = retry_after(value, now, getdate);

		if (s >= 0)
			f->retry_after_s = s;
	} else if (header_value(line, len, "X-Request-Id", value, sizeof(value))) {
		if (is_token(value))
			util_strlcpy(f->request_id, value, sizeof(f->request_id));
	}
}
