/*
 * libFuzzer: ListTasks answers (GET /v3/tasks), seeded with the official
 * example. Items without a usable id or state are dropped; every item kept
 * holds sms_check.h.
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
	struct sms_task *tasks = NULL;
	char *cause = NULL;
	int n = -1;

	if (sms_task_list_parse((const char *)data, size, &tasks, &n, &cause) == 0) {
		CHECK(n >= 0 && n <= SMS_LIST_MAX && (n == 0) == (tasks == NULL));
		for (int i = 0; i < n; i++)
			check_task(&tasks[i]);
		check_note(cause);
	} else {
		CHECK(tasks == NULL && cause != NULL);
		check_note(cause);
	}
	free(tasks);
	free(cause);
	return 0;
}
