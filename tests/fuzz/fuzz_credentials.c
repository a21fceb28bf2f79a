/*
 * libFuzzer: the credentials file (ak=, sk=, security_token=). Any bytes must
 * give credentials fit for a signature and an HTTP header, or a reason that
 * names the file or its line in printable text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms_check.h"
#include "smsguard/credentials.h"

#define WHERE "smsguard.conf:3: credentials: CREDS"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What goes into X-Security-Token and the signature: printable, no spaces. */
static void
check_secret(const char *s, size_t max)
{
	CHECK(s != NULL && s[0] != '\0' && strlen(s) <= max);
	check_token(s, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct credentials *cr = NULL;
	char *cause = NULL;

	if (credentials_parse(WHERE, "CREDS", (const char *)data, size, &cr, &cause) == 0) {
		CHECK(cr != NULL && cause == NULL);
		check_secret(cr->ak, 128);
		check_secret(cr->sk, 128);
		if (cr->security_token != NULL)
			check_secret(cr->security_token, 8192);
		credentials_free(cr);
	} else {
		CHECK(cr == NULL && cause != NULL);
		CHECK(strncmp(cause, "CREDS:", 6) == 0 ||
		    strncmp(cause, WHERE ":", sizeof(WHERE)) == 0);
		check_note(cause);
		free(cause);
	}
	return 0;
}
