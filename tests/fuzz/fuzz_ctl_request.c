/*
 * libFuzzer: a control request is whatever a local client sends. Any bytes
 * must parse or be refused with a reason, and an accepted request must
 * survive build -> parse unchanged (what smsguardctl sends is what the daemon
 * reads). Reply parsing (smsguardctl's side) is fed the same bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/ctl-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_accepted(const struct ctl_request *req)
{
	struct ctl_request again;
	const char *error = NULL;
	char *line;

	if ((unsigned)req->cmd >= CTL_CMD_COUNT || req->flags != ctl_commands[req->cmd].flags)
		abort();
	if (req->events_n < 0 || req->events_n > CTL_EVENTS_MAX)
		abort();
	if (ctlproto_wait_until_name(req->wait_until) == NULL)
		abort();
	if (req->timeout_ms > CTL_DURATION_MAX_MS)
		abort();
	if ((line = ctlproto_build(req)) == NULL)
		abort();
	if (ctlproto_parse(line, strlen(line), &again, &error) != 0)
		abort();
	if (again.cmd != req->cmd || again.flags != req->flags || again.events_n != req->events_n ||
	    again.timeout_ms != req->timeout_ms)
		abort();
	/* until is only sent by wait; elsewhere it stays at its default. */
	if (req->cmd == CTL_CMD_WAIT && again.wait_until != req->wait_until)
		abort();
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	const char *error = NULL;
	cJSON *reply = NULL;
	bool ok;

	if (ctlproto_parse((const char *)data, size, &req, &error) == 0)
		check_accepted(&req);
	else if (error == NULL || *error == '\0')
		abort();

	if (ctlproto_parse_reply((const char *)data, size, &reply, &ok, &error) == 0) {
		if (reply == NULL)
			abort();
		cJSON_Delete(reply);
	} else if (reply != NULL || error == NULL) {
		abort();
	}
	return 0;
}
