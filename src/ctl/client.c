/*
 * smsguardctl's side of the control socket: connect within a timeout, send
 * one request line, read one reply line of at most CTL_MAX_REPLY bytes by a
 * deadline. Plain blocking calls with poll(); what a failure means to the
 * person is said here too, since only here is it known.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "smsguard/ctl-protocol.h"
#include "smsguard/util.h"
#include "smsguardctl.h"

volatile sig_atomic_t ctl_signal;

static void
catch_cb(int sig)
{
	ctl_signal = sig;
}

void
client_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = catch_cb;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked poll() or read() must return and look. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* After EINTR: whether to give up (a caught signal) rather than try again. */
static bool
interrupted(void)
{
	return ctl_signal != 0;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline for poll(): -1 without one, 0 when past. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * Connects within timeout_ms (a unix connect only waits when the daemon's
 * backlog is full; SO_SNDTIMEO bounds that wait and the request's write).
 */
static int
client_connect(const char *path, uint64_t timeout_ms, int *fdp)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	while ((r = connect(fd, (struct sockaddr *)&sun, sizeof(sun))) < 0 && errno == EINTR &&
	    !interrupted())
		;
	if (r < 0)
		goto fail;
	*fdp = fd;
	return 0;

fail:
	r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	close(fd);
	return r;
}

static int
client_send(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR && !interrupted())
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one reply line (the newline replaced by a NUL) of at most
 * CTL_MAX_REPLY bytes, by deadline (-1: none). -ECONNRESET when the daemon
 * hung up first, -EMSGSIZE when the line is too long.
 */
static int
client_recv(int fd, int64_t deadline, char **linep, size_t *lenp)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = xmalloc(cap + 1), *nl;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	for (;;) {
		if ((r = poll(&pfd, 1, ms_left(deadline))) < 0 && errno == EINTR && !interrupted())
			continue;
		if (r < 0) {
			r = -errno;
			goto fail;
		}
		if (r == 0) {
			r = -ETIMEDOUT;
			goto fail;
		}
		if (len == cap) {
			if (cap >= CTL_MAX_REPLY) {
				r = -EMSGSIZE;
				goto fail;
			}
			cap = cap * 4 > CTL_MAX_REPLY ? CTL_MAX_REPLY : cap * 4;
			if ((nl = realloc(buf, cap + 1)) == NULL) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nl;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0) {
			if ((errno == EINTR && !interrupted()) || errno == EAGAIN)
				continue;
			r = -errno;
			goto fail;
		}
		if (n == 0) {
			r = -ECONNRESET;
			goto fail;
		}
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL) {
			*nl = '\0';
			*linep = buf;
			*lenp = (size_t)(nl - buf);
			return 0;
		}
		len += (size_t)n;
	}

fail:
	free(buf);
	return r;
}

static void
client_unreachable(const char *path, int err, uint64_t timeout_ms)
{
	char d[32];

	switch (err) {
	case -EINTR:
		/* Interrupted by the person: the caller ends, nothing to explain. */
		break;
	case -ENOENT:
	case -ECONNREFUSED:
		ctlwarn("cannot reach smsguard at %s: %s (is the daemon running?)", path,
		    strerror(-err));
		break;
	case -EACCES:
	case -EPERM:
		ctlwarn("cannot reach smsguard at %s: %s (run as root or as a member of the "
		        "[control] group)",
		    path, strerror(-err));
		break;
	case -ETIMEDOUT:
		ctlwarn("cannot reach smsguard at %s: no answer within %s", path,
		    util_format_duration(timeout_ms, d, sizeof(d)));
		break;
	case -ECONNRESET:
	case -EPIPE:
		ctlwarn("smsguard at %s closed the connection without a reply", path);
		break;
	default:
		ctlwarn("cannot reach smsguard at %s: %s", path, strerror(-err));
		break;
	}
}

int
client_request(
    const char *path, uint64_t timeout_ms, const struct ctl_request *req, bool quiet, int *exitp)
{
	char *msg, *reqline;
	int fd = -1, r;

	*exitp = CTL_EXIT_FAILED;
	if ((msg = ctlproto_build(req)) == NULL) {
		if (!quiet)
			ctlwarn("cannot build the request");
		return -1;
	}
	reqline = xasprintf("%s\n", msg);
	free(msg);
	if ((r = client_connect(path, timeout_ms, &fd)) == 0 &&
	    (r = client_send(fd, reqline, strlen(reqline))) < 0) {
		close(fd);
		fd = -1;
	}
	free(reqline);
	if (r == -ENAMETOOLONG) {
		if (!quiet)
			ctlwarn("socket path too long (at most %zu bytes): %s",
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1, path);
	} else if (r < 0) {
		*exitp = CTL_EXIT_UNREACHABLE;
		if (!quiet)
			client_unreachable(path, r, timeout_ms);
	}
	return fd;
}

cJSON *
client_reply(const char *path, int fd, uint64_t reply_ms, bool quiet, int *exitp)
{
	const char *error = NULL;
	cJSON *reply = NULL;
	char *line = NULL;
	size_t len = 0;
	int r;
	bool ok;

	*exitp = CTL_EXIT_FAILED;
	r = client_recv(fd, reply_ms > 0 ? mono_ms() + (int64_t)reply_ms : -1, &line, &len);
	if (r == -EMSGSIZE) {
		if (!quiet)
			ctlwarn("reply from smsguard larger than %d bytes", CTL_MAX_REPLY);
	} else if (r < 0) {
		*exitp = CTL_EXIT_UNREACHABLE;
		if (!quiet)
			client_unreachable(path, r, reply_ms);
	} else if (ctlproto_parse_reply(line, len, &reply, &ok, &error) < 0) {
		if (!quiet)
			ctlwarn("%s from smsguard", error);
	} else {
		*exitp = ok ? CTL_EXIT_OK : CTL_EXIT_FAILED;
	}
	free(line);
	return reply;
}

cJSON *
client_call(const char *path, uint64_t timeout_ms, uint64_t reply_ms, const struct ctl_request *req,
    int *exitp)
{
	cJSON *reply;
	int fd;

	if ((fd = client_request(path, timeout_ms, req, false, exitp)) < 0)
		return NULL;
	reply = client_reply(path, fd, reply_ms, false, exitp);
	close(fd);
	return reply;
}
