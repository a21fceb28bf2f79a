/*
 * The response headers smsguard reads - Date, Retry-After, X-Request-Id -
 * from the lines libcurl hands over one at a time. Pure: the time and the
 * HTTP-date parser come in (the transport passes libcurl's), so the headers
 * of any server can be fuzzed without one.
 */
#ifndef SMSGUARD_HTTP_HEADER_H
#define SMSGUARD_HTTP_HEADER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_HEADER_LINE_MAX 8192 /* longer lines are not ones we read */
#define HTTP_REQUEST_ID_MAX 127

struct http_header_fields {
	int64_t date_s; /* the Date header as Unix seconds up to 9999; -1 absent or unreadable */
	int64_t retry_after_s; /* Retry-After in seconds from now; -1 absent or unreadable */
	char request_id[HTTP_REQUEST_ID_MAX + 1]; /* X-Request-Id, cut; "" absent or not a token */
};

/* An HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds; <= 0 when unreadable. */
typedef time_t (*http_getdate_fn)(const char *s);

/* Nothing read yet. */
void http_header_reset(struct http_header_fields *f);
/*
 * One line as the server sent it ("Name: value\r\n", not NUL-terminated). A
 * status line ("HTTP/…") starts a new response (after a proxy's CONNECT or
 * a 100) and forgets the last one's headers. now is the wall clock, for a
 * Retry-After given as a date.
 */
void http_header_read(struct http_header_fields *f, const char *line, size_t len, time_t now,
    http_getdate_fn getdate);

#endif
