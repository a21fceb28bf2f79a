/*
 * The control socket server (DESIGN.md §5.8): a unix stream socket, mode
 * 0660 with the configured group, newline-delimited JSON. SO_PEERCRED decides
 * what a peer may run: root (and the daemon's own user) everything, the group
 * the read-only commands, anyone else nothing. It also decides the pool a
 * connection takes a slot from (see struct ctl_limits), so other users can
 * never keep root out.
 */
#ifndef SMSGUARD_CTL_H
#define SMSGUARD_CTL_H

#include <stdbool.h>
#include <stdint.h>
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

/*
 * How many connections, and for how long (defaults: the CTL_* limits of
 * ctl-protocol.h). A connection over its pool's limit is told "too many
 * clients…" and closed.
 */
struct ctl_limits {
	unsigned max_privileged; /* root and the daemon's own user, together */
	unsigned max_others;     /* every other uid, together */
	unsigned max_per_uid;    /* any one other uid (a wait counts) */
	uint64_t request_ms;     /* a request is complete this long after its first byte;
	                            another user's starts this long after accept or a reply */
	uint64_t idle_ms;        /* root's allowance between requests */
};

int ctl_new(uv_loop_t *loop, const char *path, bool has_gid, gid_t gid, const struct ctl_handler *h,
    struct ctl_server **out, char **cause);
void ctl_default_limits(struct ctl_limits *l);
/* Applies to connections accepted from now on, and to the next deadline of the others. */
void ctl_set_limits(struct ctl_server *s, const struct ctl_limits *l);
/* Re-applies the socket's group after a reload. */
void ctl_set_group(struct ctl_server *s, bool has_gid, gid_t gid);
/* Sends a deferred reply (takes ownership). */
void ctl_reply(struct ctl_client *c, cJSON *reply);
/* Connections holding a slot (refused ones never do). */
unsigned ctl_nclients(const struct ctl_server *s);
/* Closes every client and the socket (and unlinks it); cb runs when all handles are closed. */
void ctl_close(struct ctl_server *s, void (*cb)(void *arg), void *arg);

/* {"ok":false,"error":msg} */
cJSON *ctl_error(const char *msg);

#endif
