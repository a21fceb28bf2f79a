/* libFuzzer: error bodies (SMS, APIGW, SMN) and a task's error_json string. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smsguard/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sms_error err;
	struct sms_task task;

	memset(&err, 0, sizeof(err));
	memset(&task, 0, sizeof(task));
	sms_error_parse((const char *)data, size, &err);
	sms_error_json_parse((const char *)data, size, &task);
	return 0;
}
