/*
 * The control socket server (DESIGN.md §5.8): a unix stream socket, mode
 * 0660 with the configured group, newline-delimited JSON. SO_PEERCRED decides
 * what a peer may run: root (and the daemon's own user) everything, the group
 * the read-only commands, anyone else nothing.
 */
#ifndef SMSGUARD_CTL_H
#define SMSGUARD_CTL_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "smsguard/ctl-protocol.h"

struct ctl_server;
struct ctl_client;

struct ctl_handler {
	void *arg;
	/*
	 * Returns the reply (ownership passes; "ok" is added when missing), or
	 * NULL to reply later with ctl_reply() (e.g. `wait`).
	 */
	cJSON *(*dispatch)(void *arg, struct ctl_client *c, const struct ctl_request *req);
	/* A client with a deferred reply went away: forget it. */
	void (*client_gone)(void *arg, struct ctl_client *c);
};

int ctl_new(uv_loop_t *loop, const char *path, bool has_gid, gid_t gid, const struct ctl_handler *h,
    struct ctl_server **out, char **cause);
/* Re-applies the socket's group after a reload. */
void ctl_set_group(struct ctl_server *s, bool has_gid, gid_t gid);
/* Sends a deferred reply (takes ownership). */
void ctl_reply(struct ctl_client *c, cJSON *reply);
unsigned ctl_nclients(const struct ctl_server *s);
const char *ctl_path(const struct ctl_server *s);
/* Closes every client and the socket (and unlinks it); cb runs when all handles are closed. */
void ctl_close(struct ctl_server *s, void (*cb)(void *arg), void *arg);

/* {"ok":false,"error":msg} */
cJSON *ctl_error(const char *msg);

#endif
