/*
 * The control socket server. DESIGN.md §5.8 asks that idle or dripping
 * clients not hold a slot for long and that root be answered while other
 * users hold every slot; the limits are in ctl-protocol.h.
 *
 * Pools. Root and the daemon's own user share CTL_MAX_CLIENTS connections
 * that no one else can take. Every other uid shares CTL_MAX_OTHERS, and one
 * uid holds at most CTL_MAX_PER_UID of them (a `wait` counts). A connection
 * over its limit is accepted, told {"ok":false,"error":"too many clients…"}
 * and closed within the accept callback: it never sits in the backlog, and
 * its descriptor is gone before the next accept.
 *
 * Deadlines. A request line must be complete CTL_REQUEST_TIMEOUT_MS after
 * its first byte: a dripper is closed then, whatever it sent. Between requests
 * (from accept, or from the last reply) root may stay idle for
 * CTL_IDLE_TIMEOUT_MS, for tooling that keeps its connection; anyone else must
 * start the next request within CTL_REQUEST_TIMEOUT_MS. No deadline runs while
 * a reply is owed: a `wait` in progress is not idle.
 *
 * Accepting. libuv accepts in a loop until the backlog is empty, so root's
 * connection queued behind a flood is reached in the same loop turn. The pools
 * bound the descriptors ctl holds, and ctl_new raises RLIMIT_NOFILE's soft limit
 * when they might not fit. On EMFILE libuv sheds the backlog with a spare
 * descriptor of its own; should that spare be lost, ctl sheds with its own.
 */
#define LOG_TAG "ctl"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "smsguard/ctl.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

/* A client that does not read its replies is dropped past this much queued output. */
#define CTL_MAX_PENDING_WRITE (4 * 1024 * 1024)
/* Queued connections: a flood's take turns with root's, and each is accepted at once. */
#define CTL_BACKLOG 128
/* Descriptors the rest of the daemon may need besides ctl's clients. */
#define CTL_FD_RESERVE 128
/* Refusals and EMFILE are logged at most this often. */
#define CTL_LOG_EVERY_MS 10000

struct ctl_client {
	uv_pipe_t pipe;
	uv_timer_t timer;  /* the request deadline or idle allowance */
	uv_timer_t resume; /* runs queued requests after a deferred reply, from the loop */
	int handles;       /* open handles; freed at 0 */
	struct ctl_server *server;
	TAILQ_ENTRY(ctl_client) entry;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool admitted;   /* holds a slot of its pool */
	bool privileged; /* root or the daemon's own user: the reserved pool */
	bool closing;
	bool deferred;     /* a reply is owed (wait): requests queue behind it */
	bool close_after;  /* close once the queued writes are done */
	bool reading;      /* uv_read_start in effect */
	bool partial;      /* part of a request is buffered: its deadline runs */
	unsigned writes;   /* writes in flight */
	uint64_t deadline; /* uv_now() at which the connection is dropped */
	size_t len;
	char *buf; /* CTL_MAX_REQUEST bytes, once admitted */
};

struct ctl_server {
	uv_pipe_t listener;
	uv_loop_t *loop;
	struct ctl_handler h;
	struct ctl_limits lim;
	char *path;
	int lockfd;   /* flock on <path>.lock, held while the socket is served */
	int spare_fd; /* given up on EMFILE to shed the backlog */
	bool has_gid;
	gid_t gid;
	bool closing;
	int handles;
	unsigned nprivileged; /* admitted clients of the reserved pool */
	unsigned nothers;     /* admitted clients of every other uid */
	unsigned nrefused;    /* refused since the last log line */
	uint64_t refused_logged;
	uint64_t emfile_logged;
	TAILQ_HEAD(, ctl_client) clients;
	void (*close_cb)(void *);
	void *close_arg;
};

struct ctl_write {
	uv_write_t req;
	struct ctl_client *c;
	size_t len;
	char data[];
};

static void ctl_client_close(struct ctl_client *c);
static void ctl_client_process(struct ctl_client *c);
static void ctl_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

cJSON *
ctl_error(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", msg);
	return o;
}

static void
ctl_server_free(struct ctl_server *s)
{
	/* The socket is gone: the next daemon may take over. */
	if (s->lockfd != -1)
		close(s->lockfd);
	if (s->spare_fd != -1)
		close(s->spare_fd);
	free(s->path);
	free(s);
}

static void
ctl_server_maybe_free(struct ctl_server *s)
{
	if (!s->closing || s->handles > 0 || !TAILQ_EMPTY(&s->clients))
		return;
	if (s->close_cb != NULL)
		s->close_cb(s->close_arg);
	ctl_server_free(s);
}

static void
ctl_client_handle_closed(uv_handle_t *h)
{
	struct ctl_client *c = h->data;
	struct ctl_server *s = c->server;

	if (--c->handles > 0)
		return;
	TAILQ_REMOVE(&s->clients, c, entry);
	free(c->buf);
	free(c);
	ctl_server_maybe_free(s);
}

/* The slot is free at once: uv_close() closes the descriptor before it returns. */
static void
ctl_client_close(struct ctl_client *c)
{
	struct ctl_server *s = c->server;

	if (c->closing)
		return;
	c->closing = true;
	if (c->admitted) {
		if (c->privileged)
			s->nprivileged--;
		else
			s->nothers--;
		c->admitted = false;
	}
	if (c->deferred && s->h.client_gone != NULL)
		s->h.client_gone(s->h.arg, c);
	c->deferred = false;
	uv_close((uv_handle_t *)&c->pipe, ctl_client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, ctl_client_handle_closed);
	uv_close((uv_handle_t *)&c->resume, ctl_client_handle_closed);
}

static void
ctl_write_cb(uv_write_t *req, int status)
{
	struct ctl_write *w = container_of(req, struct ctl_write, req);
	struct ctl_client *c = w->c;

	free(w);
	c->writes--;
	if (status < 0 && !c->closing) {
		ctl_client_close(c);
		return;
	}
	if (c->close_after && c->writes == 0)
		ctl_client_close(c);
}

static void
ctl_send(struct ctl_client *c, cJSON *reply)
{
	struct ctl_write *w;
	uv_buf_t b;
	char *text;
	size_t len;
	int r;

	if (cJSON_GetObjectItemCaseSensitive(reply, "ok") == NULL)
		cJSON_AddBoolToObject(reply, "ok", 1);
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	if (text == NULL || c->closing) {
		free(text);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > CTL_MAX_PENDING_WRITE) {
		log_debug("client pid %ld does not read its replies: dropped", (long)c->pid);
		free(text);
		ctl_client_close(c);
		return;
	}
	len = strlen(text);
	w = xmalloc(sizeof(*w) + len + 1);
	memcpy(w->data, text, len);
	w->data[len] = '\n';
	w->len = len + 1;
	w->c = c;
	free(text);
	b = uv_buf_init(w->data, (unsigned)w->len);
	r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, ctl_write_cb);
	if (r < 0) {
		free(w);
		ctl_client_close(c);
		return;
	}
	c->writes++;
}

static bool
ctl_in_group(uid_t uid, gid_t peer_gid, gid_t gid)
{
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	gid_t groups[256];
	int ngroups = (int)nitems(groups);

	if (peer_gid == gid)
		return true;
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) == -1)
		return false;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* 0 when the peer may run the command, else the reason. */
static const char *
ctl_permission(const struct ctl_client *c, const struct ctl_request *req)
{
	const struct ctl_server *s = c->server;

	if (c->privileged)
		return NULL;
	if (req->flags & CTL_F_WRITE)
		return "permission denied: only root may change anything";
	if (s->has_gid && ctl_in_group(c->uid, c->gid, s->gid))
		return NULL;
	return "permission denied";
}

/* Parses a request and checks the peer may run it: 0, or -1 with *err for the reply. */
static int
ctl_check_line(
    struct ctl_client *c, const char *line, size_t len, struct ctl_request *req, const char **err)
{
	*err = NULL;
	if (ctlproto_parse(line, len, req, err) < 0) {
		if (*err == NULL)
			*err = "bad request";
		return -1;
	}
	if ((*err = ctl_permission(c, req)) != NULL) {
		log_info("refused %s from uid %ld pid %ld", ctl_commands[req->cmd].name,
		    (long)c->uid, (long)c->pid);
		return -1;
	}
	return 0;
}

static void
ctl_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctl_client *c = h->data;

	buf->base = c->buf + c->len;
	buf->len = CTL_MAX_REQUEST - c->len;
}

static void
ctl_read_start(struct ctl_client *c)
{
	if (!c->reading && !c->closing && !c->close_after &&
	    uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc_cb, ctl_read_cb) == 0)
		c->reading = true;
}

static void
ctl_read_stop(struct ctl_client *c)
{
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->pipe);
	c->reading = false;
}

static void
ctl_deadline_cb(uv_timer_t *t)
{
	struct ctl_client *c = t->data;

	log_debug("client uid %ld pid %ld %s: dropped", (long)c->uid, (long)c->pid,
	    c->partial ? "did not complete its request in time" : "idle");
	ctl_client_close(c);
}

/*
 * Sets the connection's deadline. `fresh`: a wait for the next request starts
 * now (accept, or a reply went out). The first byte of a request brings the
 * deadline forward to CTL_REQUEST_TIMEOUT_MS from then; later bytes never
 * push it back. While a reply is owed nothing runs.
 */
static void
ctl_rearm(struct ctl_client *c, bool fresh)
{
	const struct ctl_limits *l = &c->server->lim;
	uint64_t now = uv_now(c->server->loop);

	if (c->closing)
		return;
	if (c->deferred) {
		uv_timer_stop(&c->timer);
		return;
	}
	if (fresh) {
		c->deadline = now + (c->privileged ? l->idle_ms : l->request_ms);
		c->partial = false;
	}
	if (c->len > 0 && !c->partial) {
		c->partial = true;
		if (now + l->request_ms < c->deadline)
			c->deadline = now + l->request_ms;
	}
	uv_timer_start(&c->timer, ctl_deadline_cb, c->deadline > now ? c->deadline - now : 0, 0);
}

/* A full buffer without a newline: the request is over the limit. */
static void
ctl_too_large(struct ctl_client *c)
{
	ctl_send(c, ctl_error("request too large"));
	c->len = 0;
	c->close_after = true;
	ctl_read_stop(c);
	if (c->writes == 0)
		ctl_client_close(c);
}

/*
 * Runs the complete requests in the buffer, one at a time: while a reply is
 * owed (wait), the rest queue. Each line leaves the buffer before it is
 * dispatched, so a handler that re-enters (a reload that answers a waiter)
 * never sees it again.
 */
static void
ctl_client_process(struct ctl_client *c)
{
	struct ctl_server *s = c->server;
	struct ctl_request req;
	const char *err;
	cJSON *reply;
	char *nl;
	bool answered = false;
	int r;

	while (!c->closing && !c->deferred && c->len > 0 &&
	    (nl = memchr(c->buf, '\n', c->len)) != NULL) {
		size_t linelen = (size_t)(nl - c->buf);

		r = ctl_check_line(c, c->buf, linelen, &req, &err);
		c->len -= linelen + 1;
		memmove(c->buf, nl + 1, c->len);
		answered = true;
		if (r < 0) {
			ctl_send(c, ctl_error(err));
			continue;
		}
		c->deferred = true;
		reply = s->h.dispatch(s->h.arg, c, &req);
		if (reply != NULL) {
			c->deferred = false;
			ctl_send(c, reply);
		}
	}
	ctl_rearm(c, answered);
	if (c->closing || c->len < CTL_MAX_REQUEST)
		return;
	if (c->deferred)
		/* Queued requests fill the buffer: read more once the owed reply is out. */
		ctl_read_stop(c);
	else
		ctl_too_large(c);
}

/*
 * Reading goes on while a reply is owed, so a client that hangs up during a
 * `wait` is seen and its slot freed at once.
 */
static void
ctl_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_client *c = stream->data;

	if (nread < 0) {
		ctl_client_close(c);
		return;
	}
	if (nread == 0)
		return;
	c->len += (size_t)nread;
	ctl_client_process(c);
}

static void
ctl_resume_cb(uv_timer_t *t)
{
	struct ctl_client *c = t->data;

	ctl_client_process(c);
	if (!c->closing && !c->deferred)
		ctl_read_start(c);
}

void
ctl_reply(struct ctl_client *c, cJSON *reply)
{
	if (c->closing || !c->deferred) {
		cJSON_Delete(reply);
		return;
	}
	c->deferred = false;
	ctl_send(c, reply);
	ctl_rearm(c, true);
	/* Requests queued behind the owed reply run from the loop, never from inside a caller. */
	if (!c->closing)
		uv_timer_start(&c->resume, ctl_resume_cb, 0, 0);
}

static bool
ctl_privileged(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static unsigned
ctl_uid_count(const struct ctl_server *s, uid_t uid)
{
	const struct ctl_client *c;
	unsigned n = 0;

	for (c = TAILQ_FIRST(&s->clients); c != NULL; c = TAILQ_NEXT(c, entry))
		if (c->admitted && c->uid == uid)
			n++;
	return n;
}

/* Takes a slot of the peer's pool: NULL, or why not. */
static const char *
ctl_admit(struct ctl_server *s, struct ctl_client *c)
{
	c->privileged = ctl_privileged(c->uid);
	if (c->privileged) {
		if (s->nprivileged >= s->lim.max_privileged)
			return "too many clients";
		s->nprivileged++;
	} else {
		if (s->nothers >= s->lim.max_others)
			return "too many clients";
		if (ctl_uid_count(s, c->uid) >= s->lim.max_per_uid)
			return "too many clients of this user";
		s->nothers++;
	}
	c->admitted = true;
	return NULL;
}

/*
 * One short line into the new connection's empty socket buffer always fits,
 * so it is written now and the descriptor closed at once: a flood never holds
 * more than the one being accepted.
 */
static void
ctl_refuse(struct ctl_server *s, struct ctl_client *c, const char *why)
{
	char *err = ctlproto_error_reply(why), *line;
	uint64_t now = uv_now(s->loop);
	uv_buf_t b;

	if (err != NULL) {
		line = xasprintf("%s\n", err);
		b = uv_buf_init(line, (unsigned)strlen(line));
		(void)uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
		free(line);
		free(err);
	}
	s->nrefused++;
	if (s->refused_logged == 0 || now - s->refused_logged >= CTL_LOG_EVERY_MS) {
		log_info("refused %u connection%s, the last from uid %ld pid %ld: %s", s->nrefused,
		    s->nrefused == 1 ? "" : "s", (long)c->uid, (long)c->pid, why);
		s->nrefused = 0;
		s->refused_logged = now;
	}
	ctl_client_close(c);
}

/*
 * Frees a descriptor for shedding the backlog: the spare, or else a client's,
 * the newest of another user if there is one. False when there is none.
 */
static bool
ctl_free_one_fd(struct ctl_server *s)
{
	struct ctl_client *c, *victim = NULL;

	if (s->spare_fd != -1) {
		close(s->spare_fd);
		s->spare_fd = -1;
		return true;
	}
	for (c = TAILQ_FIRST(&s->clients); c != NULL; c = TAILQ_NEXT(c, entry))
		if (c->admitted && (victim == NULL || !c->privileged || victim->privileged))
			victim = c;
	if (victim == NULL)
		return false;
	log_warnx("out of file descriptors: dropped a client of uid %ld", (long)victim->uid);
	ctl_client_close(victim);
	return true;
}

/* Accepts and closes until the backlog is empty: 0, or the errno that stopped it. */
static int
ctl_shed_backlog(uv_os_fd_t lfd)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"out of file descriptors\"}\n";
	int fd;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		} else if (errno != EINTR && errno != ECONNABORTED) {
			return errno;
		}
	}
}

/*
 * libuv sheds the backlog on EMFILE with a spare descriptor of its own, and
 * calls here only when that spare is lost, and then again at once until an
 * accept finds the backlog empty (which takes a free descriptor: accept fails
 * with EMFILE before it looks at the backlog). So ctl sheds the backlog with a
 * spare of its own and leaves that descriptor free; the spare is taken again
 * at the next connection.
 */
static void
ctl_accept_failed(struct ctl_server *s, int status)
{
	uint64_t now = uv_now(s->loop);
	uv_os_fd_t lfd;
	int r = EMFILE;

	if (s->emfile_logged == 0 || now - s->emfile_logged >= CTL_LOG_EVERY_MS) {
		log_warnx("accept: %s", uv_strerror(status));
		s->emfile_logged = now;
	}
	if ((status != UV_EMFILE && status != UV_ENFILE) ||
	    uv_fileno((uv_handle_t *)&s->listener, &lfd) < 0)
		return;
	while ((r == EMFILE || r == ENFILE) && ctl_free_one_fd(s))
		r = ctl_shed_backlog(lfd);
}

static struct ctl_client *
ctl_client_new(struct ctl_server *s)
{
	struct ctl_client *c = xcalloc(1, sizeof(*c));

	c->server = s;
	uv_pipe_init(s->loop, &c->pipe, 0);
	uv_timer_init(s->loop, &c->timer);
	uv_timer_init(s->loop, &c->resume);
	c->pipe.data = c;
	c->timer.data = c;
	c->resume.data = c;
	c->handles = 3;
	TAILQ_INSERT_TAIL(&s->clients, c, entry);
	return c;
}

static int
ctl_peer(struct ctl_client *c)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1)
		return -1;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	return 0;
}

static void
ctl_connection_cb(uv_stream_t *listener, int status)
{
	struct ctl_server *s = listener->data;
	struct ctl_client *c;
	const char *why;

	if (status < 0) {
		ctl_accept_failed(s, status);
		return;
	}
	if (s->spare_fd == -1)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c = ctl_client_new(s);
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0 || ctl_peer(c) < 0) {
		ctl_client_close(c);
		return;
	}
	if ((why = ctl_admit(s, c)) != NULL) {
		ctl_refuse(s, c, why);
		return;
	}
	c->buf = xmalloc(CTL_MAX_REQUEST);
	ctl_rearm(c, true);
	ctl_read_start(c);
}

/*
 * Every client may hold a descriptor at once, plus the rest of the daemon's:
 * raise the soft limit to fit them, as far as the hard limit allows.
 */
static void
ctl_check_nofile(const struct ctl_limits *l)
{
	rlim_t need = (rlim_t)l->max_privileged + l->max_others + CTL_FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need)
		log_warnx("RLIMIT_NOFILE is %lu, below the %lu descriptors the control socket's "
		          "clients and the daemon may need",
		    (unsigned long)rl.rlim_cur, (unsigned long)need);
}

void
ctl_default_limits(struct ctl_limits *l)
{
	l->max_privileged = CTL_MAX_CLIENTS;
	l->max_others = CTL_MAX_OTHERS;
	l->max_per_uid = CTL_MAX_PER_UID;
	l->request_ms = CTL_REQUEST_TIMEOUT_MS;
	l->idle_ms = CTL_IDLE_TIMEOUT_MS;
}

void
ctl_set_limits(struct ctl_server *s, const struct ctl_limits *l)
{
	s->lim = *l;
	ctl_check_nofile(l);
}

/*
 * One daemon per socket: an exclusive flock on <socket>.lock, held for the
 * daemon's life, decides it. Whoever holds the lock may replace a socket file
 * left by a daemon that died; without it, two daemons starting at once could
 * both unlink and bind.
 */
static int
ctl_lock(const char *path, int *lockfd, char **cause)
{
	char *lpath = xasprintf("%s.lock", path);
	int fd, r = 0;

	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		r = -errno;
		*cause = xasprintf("%s: %s", lpath, strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		*cause = r == -EADDRINUSE
		    ? xasprintf("%s: another smsguard is running (it holds %s)", path, lpath)
		    : xasprintf("%s: %s", lpath, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(lpath);
	*lockfd = fd;
	return r;
}

static int
ctl_remove_stale(const char *path, char **cause)
{
	struct stat sb;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode)) {
		*cause = xasprintf("%s exists and is not a socket", path);
		return -EEXIST;
	}
	log_info("replacing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	return 0;
}

static void
ctl_apply_group(struct ctl_server *s)
{
	if (chmod(s->path, 0660) == -1)
		log_warn("chmod %s", s->path);
	if (s->has_gid && chown(s->path, (uid_t)-1, s->gid) == -1)
		log_warn("chown %s", s->path);
}

void
ctl_set_group(struct ctl_server *s, bool has_gid, gid_t gid)
{
	s->has_gid = has_gid;
	s->gid = gid;
	ctl_apply_group(s);
}

static int
ctl_mkdir_parent(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int r = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			r = -errno;
	}
	free(dir);
	return r;
}

static void
ctl_failed_closed(uv_handle_t *h)
{
	ctl_server_free(h->data);
}

int
ctl_new(uv_loop_t *loop, const char *path, bool has_gid, gid_t gid, const struct ctl_handler *h,
    struct ctl_server **out, char **cause)
{
	struct ctl_server *s;
	struct sockaddr_un sun;
	mode_t old;
	int r, lockfd = -1;

	*out = NULL;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*cause = xasprintf(
		    "%s: socket path too long (max %zu bytes)", path, sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if ((r = ctl_mkdir_parent(path)) < 0) {
		*cause = xasprintf("%s: cannot create its directory: %s", path, strerror(-r));
		return r;
	}
	if ((r = ctl_lock(path, &lockfd, cause)) < 0)
		return r;
	if ((r = ctl_remove_stale(path, cause)) < 0) {
		if (*cause == NULL)
			*cause = xasprintf("%s: %s", path, strerror(-r));
		close(lockfd);
		return r;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->h = *h;
	s->path = xstrdup(path);
	s->lockfd = lockfd;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->has_gid = has_gid;
	s->gid = gid;
	TAILQ_INIT(&s->clients);
	uv_pipe_init(loop, &s->listener, 0);
	s->listener.data = s;
	s->handles = 1;
	ctl_default_limits(&s->lim);
	ctl_check_nofile(&s->lim);
	/* Never world-accessible, not even between bind and chmod. */
	old = umask(0117);
	r = uv_pipe_bind(&s->listener, path);
	umask(old);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, CTL_BACKLOG, ctl_connection_cb);
	if (r < 0) {
		*cause = xasprintf("%s: %s", path, uv_strerror(r));
		/* Freed in the close callback, once the caller's loop drains. */
		uv_close((uv_handle_t *)&s->listener, ctl_failed_closed);
		return r;
	}
	ctl_apply_group(s);
	*out = s;
	return 0;
}

unsigned
ctl_nclients(const struct ctl_server *s)
{
	return s->nprivileged + s->nothers;
}

static void
ctl_listener_closed(uv_handle_t *h)
{
	struct ctl_server *s = h->data;

	s->handles--;
	ctl_server_maybe_free(s);
}

void
ctl_close(struct ctl_server *s, void (*cb)(void *), void *arg)
{
	struct ctl_client *c, *next;

	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	for (c = TAILQ_FIRST(&s->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		ctl_client_close(c);
	}
	if (unlink(s->path) == -1 && errno != ENOENT)
		log_warn("unlink %s", s->path);
	uv_close((uv_handle_t *)&s->listener, ctl_listener_closed);
}
