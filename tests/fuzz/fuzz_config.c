/*
 * libFuzzer: smsguard.conf is read at start, on SIGHUP and by `smsguard -n`;
 * any bytes must give a config or a FILE:LINE: cause, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char *cause = NULL, *copy;
	FILE *fp;
	int rc;

	/* fmemopen refuses a zero-sized buffer: an empty input is read as one empty line. */
	copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\n';
	fp = fmemopen(copy, size > 0 ? size : 1, "r");
	if (fp == NULL) {
		free(copy);
		return 0;
	}
	rc = config_load_fp(fp, "fuzz.conf", &cfg, &cause);
	fclose(fp);
	free(copy);
	if (rc == 0) {
		/* What was accepted must be within its documented limits. */
		if (cfg == NULL || cause != NULL || cfg->nports > CONFIG_MAX_PORTS ||
		    cfg->nanswers > CONFIG_MAX_ANSWERS || cfg->restart_argc > CONFIG_MAX_ARGV ||
		    cfg->restart_argv[cfg->restart_argc] != NULL || cfg->fall < 1 ||
		    cfg->fall > 100 || cfg->rise < 1 || cfg->rise > 100 ||
		    cfg->backoff_min_ms > cfg->backoff_max_ms || cfg->endpoint == NULL ||
		    cfg->endpoint_host == NULL || cfg->schedule.nrules > SCHEDULE_MAX_RULES ||
		    cfg->exec_argc > CONFIG_MAX_ARGV || cfg->exec_argv[cfg->exec_argc] != NULL ||
		    (cfg->exec_argc > 0 && cfg->exec_argv[0][0] != '/') || cfg->notify_queue < 10 ||
		    cfg->notify_queue > 100000 ||
		    (cfg->smn_endpoint != NULL && cfg->smn_topic == NULL))
			abort();
		config_free(cfg);
	} else {
		if (cfg != NULL || cause == NULL || strncmp(cause, "fuzz.conf:", 10) != 0)
			abort();
		free(cause);
	}
	return 0;
}
