/*
 * libFuzzer: what `ip route get` and `tc qdisc show` print reaches preflight's
 * parsers, and a program on PATH may print anything: any bytes must parse
 * safely, and what comes out must be a plausible interface name and qdisc.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/preflight_judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), dev[16], kind[32], handle[32];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pf_parse_route_dev(text, dev, sizeof(dev)) &&
	    (dev[0] == '\0' || strlen(dev) > 15 || strpbrk(dev, "/: \t\n") != NULL))
		abort();
	if (pf_parse_root_qdisc(text, kind, sizeof(kind), handle, sizeof(handle)) == 1 &&
	    (kind[0] == '\0' || handle[0] == '\0' || strpbrk(kind, " \t\n") != NULL))
		abort();
	free(text);
	return 0;
}
