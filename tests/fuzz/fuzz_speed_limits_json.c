/*
 * libFuzzer: ShowsSpeedLimits answers (GET /v3/tasks/{id}/speed-limit),
 * seeded with the official examples. Here one malformed field makes the
 * whole answer bad; what is accepted must be at most five periods within the
 * day, and survive the request body we would send back (UpdateSpeed)
 * unchanged.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms_check.h"
#include "smsguard/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct schedule_period *p, int n)
{
	struct schedule_period again[SCHEDULE_MAX_PERIODS];
	char *body = sms_speed_limit_body(p, n, 0), *cause = NULL;

	CHECK(body != NULL);
	CHECK(sms_speed_limits_parse(body, strlen(body), again, &cause) == n);
	CHECK(cause == NULL);
	for (int i = 0; i < n; i++)
		CHECK(again[i].start_min == p[i].start_min && again[i].end_min == p[i].end_min &&
		    again[i].mbps == p[i].mbps && again[i].threshold == 0);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schedule_period periods[SCHEDULE_MAX_PERIODS];
	char *cause = NULL;
	int rc;

	rc = sms_speed_limits_parse((const char *)data, size, periods, &cause);
	CHECK(rc == -EBADMSG || (rc >= 0 && rc <= SCHEDULE_MAX_PERIODS));
	if (rc < 0) {
		CHECK(cause != NULL);
		check_note(cause);
	}
	for (int i = 0; i < rc; i++)
		CHECK(periods[i].start_min < 1440 && periods[i].end_min <= 1439 &&
		    periods[i].mbps <= 100000 && periods[i].threshold >= 0 &&
		    periods[i].threshold <= 100);
	if (rc >= 0)
		check_round_trip(periods, rc);
	free(cause);
	return 0;
}
