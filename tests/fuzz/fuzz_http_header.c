/*
 * libFuzzer: response header lines as a server or a proxy sends them, one
 * per '\n', through the parser the transport uses and libcurl's HTTP-date
 * reader. What is kept must be usable as it is: times the cloud client may
 * scale to milliseconds, a request id that is a printable token.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <curl/curl.h>

#include "sms_check.h"
#include "smsguard/http_header.h"

#define NOW 1700000000 /* 2023-11-14 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static time_t
http_date(const char *s)
{
	return curl_getdate(s, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct http_header_fields f;

	http_header_reset(&f);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		http_header_read(&f, p, n, NOW, http_date);
		CHECK(f.date_s == -1 || (f.date_s > 0 && f.date_s < INT64_MAX / 1000));
		CHECK(f.retry_after_s >= -1);
		CHECK_STR(f.request_id);
		check_token(f.request_id, 0);
		p += n;
	}
	return 0;
}
