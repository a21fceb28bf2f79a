/*
 * Shared by the files of the cloud client only (cloud.c, cloud-calls.c):
 * how a call with a plain callback goes out.
 */
#ifndef SMSGUARD_CLOUD_INTERNAL_H
#define SMSGUARD_CLOUD_INTERNAL_H

#include "smsguard/cloud.h"

/*
 * Sends call (its parse and answer are the client's) for a caller with a
 * plain callback: done(arg, rc, err). base NULL: to [cloud] endpoint with [cloud] project_id;
 * else to base with project_id as X-Project-Id (SMN). Returns as
 * cloud_send(), with the call's id in *id when id is not NULL.
 */
int cloud_call_plain(struct cloud *c, const struct cloud_call *call, const char *base,
    const char *project_id, cloud_done_cb done, void *arg, uint64_t *id);
const struct config *cloud_config(const struct cloud *c);

#endif
