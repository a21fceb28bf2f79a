/*
 * libFuzzer: every SMS response parser on arbitrary bytes. A malformed field
 * must degrade that field only: whatever is accepted holds sms_check.h.
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
	struct schedule_period periods[SCHEDULE_MAX_PERIODS];
	struct sms_source source, *sources = NULL;
	struct sms_task task, *tasks = NULL;
	char *cause = NULL;
	int n = 0, rc;

	if (sms_task_parse(body, size, &task, &cause) == 0) {
		check_task(&task);
		check_note(cause);
	}
	free(cause);
	cause = NULL;
	if (sms_task_list_parse(body, size, &tasks, &n, &cause) == 0) {
		CHECK(n >= 0 && n <= SMS_LIST_MAX && (n == 0) == (tasks == NULL));
		for (int i = 0; i < n; i++)
			check_task(&tasks[i]);
		check_note(cause);
	}
	free(tasks);
	free(cause);
	cause = NULL;
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
	cause = NULL;
	rc = sms_speed_limits_parse(body, size, periods, &cause);
	CHECK(rc <= SCHEDULE_MAX_PERIODS);
	for (int i = 0; i < rc; i++)
		CHECK(periods[i].start_min < 1440 && periods[i].end_min <= 1439);
	free(cause);
	return 0;
}
