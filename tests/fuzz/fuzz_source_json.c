/*
 * libFuzzer: ShowServer answers (GET /v3/sources/{id}), seeded with the
 * official example, so the fuzzer spends its time on the source's fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sms_check.h"
#include "smsguard/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sms_source source;
	char *cause = NULL, names[512];

	if (sms_source_parse((const char *)data, size, &source, &cause) == 0) {
		check_source(&source);
		check_note(cause);
		sms_source_bad_names(source.bad, names, sizeof(names));
		CHECK_STR(names);
		CHECK((source.bad == 0) == (names[0] == '\0'));
	} else {
		CHECK(cause != NULL);
		check_note(cause);
	}
	free(cause);
	return 0;
}
