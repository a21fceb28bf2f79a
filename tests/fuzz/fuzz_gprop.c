/* libFuzzer: g-property.cfg is another program's file; any bytes must parse safely. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "smsguard/gprop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gprop g;

	gprop_init(&g);
	gprop_parse(&g, (const char *)data, size);
	/* Whatever was read must be in range, and the derived values must hold. */
	if (g.auto_start_max_retry_times > GPROP_MAX_NUMBER ||
	    g.auto_start_interval_seconds > GPROP_MAX_NUMBER ||
	    g.auto_start_each_addition_seconds > GPROP_MAX_NUMBER ||
	    g.heartmonitorday > GPROP_MAX_NUMBER || g.servercheck < -1 || g.servercheck > 1)
		abort();
	if (gprop_autorecovery_window_s(&g) < 0)
		abort();
	return 0;
}
