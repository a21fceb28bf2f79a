/*
 * Helpers the SMS unit tests share (test_sms_parse.c, test_sms_field.c,
 * test_sms_build.c). Include after cmocka.h.
 */
#ifndef SMSGUARD_TEST_SMS_H
#define SMSGUARD_TEST_SMS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/sms.h"

static inline char *
load_example(const char *name, size_t *len)
{
	const char *src = getenv("SMSGUARD_SRCDIR");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/examples/%s", src != NULL ? src : ".", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	/* Deliberately not NUL-terminated: parsers take a length. */
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* prefix + n copies of c + suffix, as a new string. */
static inline char *
padded(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s = malloc(pl + n + sl + 1);

	assert_non_null(s);
	memcpy(s, prefix, pl);
	memset(s + pl, c, n);
	memcpy(s + pl + n, suffix, sl + 1);
	return s;
}

static inline int
parse_task(const char *json, struct sms_task *t)
{
	char *cause = NULL;
	int rc = sms_task_parse(json, strlen(json), t, &cause);

	free(cause);
	return rc;
}

#endif
