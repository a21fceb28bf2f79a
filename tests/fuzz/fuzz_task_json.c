/*
 * libFuzzer: ShowTask answers (GET /v3/tasks/{id}), seeded with the official
 * example. A malformed field must degrade that field only: whatever is
 * accepted holds sms_check.h, and the names of its bad fields fit a buffer.
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
	struct sms_task task;
	char *cause = NULL, names[512];

	if (sms_task_parse((const char *)data, size, &task, &cause) == 0) {
		check_task(&task);
		check_note(cause);
		sms_task_bad_names(task.bad, names, sizeof(names));
		CHECK_STR(names);
		CHECK((task.bad == 0) == (names[0] == '\0'));
	} else {
		CHECK(cause != NULL);
		check_note(cause);
	}
	free(cause);
	return 0;
}
