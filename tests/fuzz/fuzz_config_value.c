/*
 * libFuzzer: the value checks smsguard.conf's keys share (config_value.c,
 * durations in util.c) and the escaping every untrusted string goes through
 * before a message. The config target reaches them only behind a valid key;
 * here each takes any string, and what it accepts must hold: a duration
 * reads back from its own text, a URL's host is a name or an address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms_check.h"
#include "smsguard/log.h"
#include "smsguard/util.h"
#include "src/config_value.h"

#define TEN_YEARS_MS ((uint64_t)10 * 365 * DAY)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_duration(const char *v)
{
	uint64_t ms, again, out = 0;
	char text[32], *why;

	if (util_parse_duration_ms(v, &ms) != 0)
		return;
	CHECK(ms <= TEN_YEARS_MS);
	/* The text drops the milliseconds of anything from a second up. */
	util_format_duration(ms, text, sizeof(text));
	CHECK(util_parse_duration_ms(text, &again) == 0);
	CHECK(again == (ms < SECOND ? ms : ms - ms % SECOND));
	why = config_duration_reason(v, SECOND, HOUR, &out);
	CHECK((why == NULL) == (ms >= SECOND && ms <= HOUR));
	CHECK(why != NULL || out == ms);
	if (why != NULL)
		check_note(why);
	free(why);
}

static void
check_url(const char *v)
{
	struct config_url u;
	const char *why = config_url_split(v, &u);

	if (why != NULL)
		return;
	CHECK_STR(u.scheme);
	CHECK_STR(u.host);
	CHECK(u.scheme[0] != '\0' && u.host[0] != '\0');
	check_token(u.scheme, 1);
	check_token(u.host, 1);
	CHECK(u.auth > v && u.auth + u.authlen == u.rest && u.rest <= v + strlen(v));
	config_host_is_loopback(u.host);
	config_url_rest_is_empty(u.rest);
}

static void
check_escape(const char *v, size_t len, size_t outlen)
{
	char *out = malloc(outlen + 1), q[QUOTE_MAX + 2];

	if (out == NULL)
		return;
	out[outlen] = 'X'; /* a canary past the end it was given */
	log_escape(v, (long)len, out, outlen);
	CHECK(out[outlen] == 'X');
	if (outlen > 0) {
		CHECK(memchr(out, '\0', outlen) != NULL);
		check_note(out);
	}
	free(out);
	check_note(config_quote(v, q));
	CHECK(memchr(q, '\0', sizeof(q)) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v, *why;
	uint64_t n;

	if (size > 4096)
		return 0;
	v = malloc(size + 1);
	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	check_duration(v);
	check_url(v);
	if (config_parse_uint(v, strlen(v), UINT64_MAX, &n) == 0)
		CHECK(strlen(v) <= 19);
	if ((why = config_abspath_reason(v)) == NULL)
		CHECK(v[0] == '/' && !config_has_ctl(v));
	else
		check_note(why);
	free(why);
	/* The input's bytes as they are (NULs too), into any room from none to twice the input. */
	check_escape(v, size, size == 0 ? 0 : data[0] % (2 * size + 8));
	free(v);
	return 0;
}
