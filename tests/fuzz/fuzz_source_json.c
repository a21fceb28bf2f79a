/*
 * libFuzzer: ShowServer and ListServers answers, seeded with their official
 * examples, so the fuzzer spends its time on the source parsers' fields.
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
	const char *body = (const char *)data;
	struct sms_source source, *sources = NULL;
	char *cause = NULL;
	int n = 0;

	if (sms_source_parse(body, size, &source, &cause) == 0) {
		check_source(&source);
		check_note(cause);
	}
	free(cause);
	cause = NULL;
	if (sms_source_list_parse(body, size, &sources, &n, &cause) == 0) {
		CHECK(n >= 0 && n <= SMS_LIST_MAX && (n == 0) == (sources == NULL));
		for (int i = 0; i < n; i++)
			check_source(&sources[i]);
		check_note(cause);
	}
	free(sources);
	free(cause);
	return 0;
}
