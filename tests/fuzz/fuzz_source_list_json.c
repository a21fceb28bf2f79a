/*
 * libFuzzer: ListServers answers (GET /v3/sources), seeded with the official
 * example. Items without a usable id are dropped; every item kept holds
 * sms_check.h.
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
	struct sms_source *sources = NULL;
	char *cause = NULL;
	int n = -1;

	if (sms_source_list_parse((const char *)data, size, &sources, &n, &cause) == 0) {
		CHECK(n >= 0 && n <= SMS_LIST_MAX && (n == 0) == (sources == NULL));
		for (int i = 0; i < n; i++)
			check_source(&sources[i]);
		check_note(cause);
	} else {
		CHECK(sources == NULL && cause != NULL);
		check_note(cause);
	}
	free(sources);
	free(cause);
	return 0;
}
