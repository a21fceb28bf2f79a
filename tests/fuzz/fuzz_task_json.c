/* libFuzzer: every SMS response parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "smsguard/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct schedule_period periods[SCHEDULE_MAX_PERIODS];
	struct sms_source source, *sources = NULL;
	struct sms_task task, *tasks = NULL;
	char *cause = NULL;
	int n = 0;

	sms_task_parse(body, size, &task, &cause);
	free(cause);
	cause = NULL;
	sms_task_list_parse(body, size, &tasks, &n, &cause);
	free(tasks);
	free(cause);
	cause = NULL;
	sms_source_parse(body, size, &source, &cause);
	free(cause);
	cause = NULL;
	sms_source_list_parse(body, size, &sources, &n, &cause);
	free(sources);
	free(cause);
	cause = NULL;
	sms_speed_limits_parse(body, size, periods, &cause);
	free(cause);
	return 0;
}
