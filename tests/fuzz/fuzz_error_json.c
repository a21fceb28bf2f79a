/* libFuzzer: error bodies (SMS, APIGW, SMN) and a task's error_json string. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sms_check.h"
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
	/* Malformed or not, what is left is bounded and a person can read it. */
	check_sms_error(&err);
	check_error_fields(&task);
	return 0;
}
