/*
 * The control socket server on a real loop and a real socket in a temp dir:
 * request deadlines, per-uid limits, root's reserved slots, EMFILE. Other
 * users are real: a forked child takes nobody's uid (root only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/ctl.h"

struct fixture {
	uv_loop_t loop;
	char dir[64];
	char path[128];
	struct ctl_server *s;
	struct ctl_client *waiter; /* the client whose `wait` is owed a reply */
	bool closed;
	uid_t nobody_uid;
	gid_t nobody_gid;
	struct rlimit nofile; /* restored by teardown */
};

/* A forked peer: it reports lines on `report` and waits for bytes on `go`. */
struct child {
	pid_t pid;
	int report;
	int go;
	char buf[512];
	size_t len;
	size_t used; /* the line last returned, newline included */
};

enum child_mode {
	CHILD_HOLD,       /* connect n, report, then on `go` tell held/refused/dropped */
	CHILD_TIME_CLOSE, /* connect 1, report how long until the server closed it */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static cJSON *
dispatch(void *arg, struct ctl_client *c, const struct ctl_request *req)
{
	struct fixture *f = arg;
	cJSON *o;

	if (req->cmd == CTL_CMD_WAIT) {
		f->waiter = c;
		return NULL;
	}
	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "pong");
	return o;
}

static void
client_gone(void *arg, struct ctl_client *c)
{
	struct fixture *f = arg;

	if (f->waiter == c)
		f->waiter = NULL;
}

static void
on_closed(void *arg)
{
	((struct fixture *)arg)->closed = true;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctl_handler h = {.arg = f, .dispatch = dispatch, .client_gone = client_gone};
	struct passwd *pw = getpwnam("nobody");
	char *cause = NULL;

	f->nobody_uid = pw != NULL ? pw->pw_uid : 65534;
	f->nobody_gid = pw != NULL ? pw->pw_gid : 65534;
	getrlimit(RLIMIT_NOFILE, &f->nofile);
	uv_loop_init(&f->loop);
	strcpy(f->dir, "/tmp/sgctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* nobody must reach the socket: the directory is searchable, the socket in its group. */
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	assert_int_equal(ctl_new(&f->loop, f->path, true, f->nobody_gid, &h, &f->s, &cause), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char lock[160];

	setrlimit(RLIMIT_NOFILE, &f->nofile);
	ctl_close(f->s, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(lock, sizeof(lock), "%s.lock", f->path);
	unlink(lock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
set_limits(struct fixture *f, unsigned privileged, unsigned others, unsigned per_uid,
    uint64_t request_ms, uint64_t idle_ms)
{
	struct ctl_limits l = {privileged, others, per_uid, request_ms, idle_ms};

	ctl_set_limits(f->s, &l);
}

/* One turn of the server's loop, then a short nap so a peer process gets the CPU. */
static void
spin(struct fixture *f)
{
	uv_run(&f->loop, UV_RUN_NOWAIT);
	usleep(1000);
}

static void
spin_for(struct fixture *f, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		spin(f);
}

static bool
spin_until_nclients(struct fixture *f, unsigned n, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (ctl_nclients(f->s) != n && now_ms() < end)
		spin(f);
	return ctl_nclients(f->s) == n;
}

/* A unix connect completes in the backlog: the server accepts on its next turn. */
static int
connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

enum peer { PEER_OPEN, PEER_DATA, PEER_CLOSED };

/* What the server did to our end, without waiting. */
static enum peer
peer_state(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	if (n > 0) {
		buf[n] = '\0';
		return PEER_DATA;
	}
	if (n == 0 || errno == ECONNRESET)
		return PEER_CLOSED;
	return PEER_OPEN;
}

/* Runs the loop until a reply line arrives on fd: its length, 0 on EOF, -1 on timeout. */
static int
read_reply(struct fixture *f, int fd, char *line, size_t cap, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	size_t len = 0;

	while (now_ms() < end) {
		ssize_t n = recv(fd, line + len, cap - 1 - len, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return len > 0 ? (int)len : 0;
		if (n > 0) {
			len += (size_t)n;
			line[len] = '\0';
			if (strchr(line, '\n') != NULL || len == cap - 1)
				return (int)len;
		}
		spin(f);
	}
	return -1;
}

/* Runs the loop until the server closes fd: milliseconds it took, or -1. */
static int64_t
wait_closed(struct fixture *f, int fd, uint64_t ms)
{
	uint64_t t0 = now_ms();
	char buf[256];

	while (now_ms() - t0 < ms) {
		enum peer p = peer_state(fd, buf, sizeof(buf));

		if (p == PEER_CLOSED)
			return (int64_t)(now_ms() - t0);
		if (p == PEER_DATA)
			fail_msg("unexpected reply: %s", buf);
		spin(f);
	}
	return -1;
}

static void
child_report(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)!write(fd, buf, (size_t)n);
}

/* Sorts the connections: still open (held), answered and closed (refused), closed (dropped). */
static void
child_classify(int *fds, int n, int report)
{
	int held = 0, refused = 0, dropped = 0;
	char first[256] = "", buf[256];

	for (int i = 0; i < n; i++) {
		enum peer p = peer_state(fds[i], buf, sizeof(buf));

		if (p == PEER_OPEN) {
			held++;
			continue;
		}
		if (p == PEER_CLOSED) {
			dropped++;
			continue;
		}
		refused++;
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%.*s", (int)strcspn(buf, "\n"), buf);
	}
	child_report(
	    report, "held=%d refused=%d dropped=%d first=%s\n", held, refused, dropped, first);
}

static void
child_time_close(const char *path, int report)
{
	struct timeval tv = {.tv_sec = 10};
	uint64_t t0;
	char c;
	int fd = connect_to(path);

	if (fd == -1) {
		child_report(report, "connect failed: %s\n", strerror(errno));
		return;
	}
	t0 = now_ms();
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, &c, 1, 0) == 1)
		child_report(report, "got a reply\n");
	else
		child_report(report, "closed_after=%llu\n", (unsigned long long)(now_ms() - t0));
}

/* Under valgrind a child's leak is an error that changes its exit status. */
static _Noreturn void
child_exit(int *fds, int status)
{
	free(fds);
	_exit(status);
}

static _Noreturn void
child_main(const char *path, uid_t uid, gid_t gid, enum child_mode mode, int n, int report, int go)
{
	struct rlimit rl;
	int *fds = calloc((size_t)n, sizeof(*fds));
	char c;

	/* The parent may have lowered its soft limit to run out of descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (uid != 0 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
		child_exit(fds, 126);
	if (mode == CHILD_TIME_CLOSE) {
		child_time_close(path, report);
	} else {
		for (int i = 0; i < n; i++)
			if ((fds[i] = connect_to(path)) == -1) {
				child_report(report, "connect %d failed: %s\n", i, strerror(errno));
				child_exit(fds, 1);
			}
		child_report(report, "connected\n");
		if (read(go, &c, 1) == 1)
			child_classify(fds, n, report);
	}
	/* Hold everything until the parent closes `go`. */
	while (read(go, &c, 1) > 0)
		;
	child_exit(fds, 0);
}

static void
child_start(struct fixture *f, struct child *ch, uid_t uid, enum child_mode mode, int n)
{
	int rp[2], gp[2];

	memset(ch, 0, sizeof(*ch));
	assert_int_equal(pipe2(rp, O_CLOEXEC), 0);
	assert_int_equal(pipe2(gp, O_CLOEXEC), 0);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		close(rp[0]);
		close(gp[1]);
		child_main(f->path, uid, f->nobody_gid, mode, n, rp[1], gp[0]);
	}
	close(rp[1]);
	close(gp[0]);
	ch->report = rp[0];
	ch->go = gp[1];
	fcntl(ch->report, F_SETFL, O_NONBLOCK);
}

/* Runs the server's loop until the child reports a line; returns it (without the newline). */
static const char *
child_line(struct fixture *f, struct child *ch)
{
	uint64_t end = now_ms() + 20000;
	char *nl;

	memmove(ch->buf, ch->buf + ch->used, ch->len - ch->used);
	ch->len -= ch->used;
	ch->used = 0;
	while ((nl = memchr(ch->buf, '\n', ch->len)) == NULL) {
		ssize_t n = read(ch->report, ch->buf + ch->len, sizeof(ch->buf) - 1 - ch->len);

		if (n == 0)
			fail_msg("the child exited without a report");
		if (n > 0)
			ch->len += (size_t)n;
		if (now_ms() > end)
			fail_msg("no report from the child");
		spin(f);
	}
	*nl = '\0';
	ch->used = (size_t)(nl - ch->buf) + 1;
	return ch->buf;
}

static void
child_go(struct child *ch)
{
	assert_int_equal(write(ch->go, "g", 1), 1);
}

/* The child exits and its connections close. */
static void
child_end(struct child *ch)
{
	int status;

	close(ch->go);
	close(ch->report);
	assert_int_equal(waitpid(ch->pid, &status, 0), ch->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool
is_root(void)
{
	return geteuid() == 0;
}

/* A byte a second, or a byte every 100 ms here: never a whole line, so never a request. */
static void
test_dripping_client_is_closed_at_the_request_deadline(void **state)
{
	struct fixture *f = *state;
	static const char drip[] = "{\"cmd\":\"status\"}";
	uint64_t t0, last;
	size_t sent = 0;
	char buf[256];
	int fd;

	set_limits(f, 4, 4, 4, 300, 30000);
	assert_true((fd = connect_to(f->path)) >= 0);
	assert_true(spin_until_nclients(f, 1, 2000));
	t0 = last = now_ms();
	assert_int_equal(send(fd, drip, 1, MSG_NOSIGNAL), 1);
	sent = 1;
	for (;;) {
		enum peer p = peer_state(fd, buf, sizeof(buf));

		assert_int_not_equal(p, PEER_DATA);
		if (p == PEER_CLOSED)
			break;
		assert_true(now_ms() - t0 < 3000);
		if (now_ms() - last >= 100 && sent < sizeof(drip) - 1) {
			(void)!send(fd, drip + sent++, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			last = now_ms();
		}
		spin(f);
	}
	/* Closed 300 ms after the first byte, though a byte came every 100 ms. */
	assert_in_range(now_ms() - t0, 250, 2000);
	assert_int_equal(ctl_nclients(f->s), 0);
	close(fd);
}

static void
test_other_users_may_not_idle_but_root_may(void **state)
{
	struct fixture *f = *state;
	struct child ch;
	unsigned long long after = 0;
	int64_t took;
	uint64_t t0;
	char buf[64];
	int fd;

	if (!is_root())
		skip();
	set_limits(f, 4, 4, 4, 300, 2000);
	assert_true((fd = connect_to(f->path)) >= 0);
	t0 = now_ms();
	child_start(f, &ch, f->nobody_uid, CHILD_TIME_CLOSE, 1);
	assert_int_equal(sscanf(child_line(f, &ch), "closed_after=%llu", &after), 1);
	assert_in_range(after, 250, 1500);
	/* Root's connection, as idle and older, still stands. */
	assert_int_equal(peer_state(fd, buf, sizeof(buf)), PEER_OPEN);
	took = wait_closed(f, fd, 5000);
	assert_true(took >= 0);
	assert_in_range(now_ms() - t0, 1800, 5000);
	child_end(&ch);
	close(fd);
}

static void
test_wait_in_progress_keeps_its_slot(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "{\"cmd\":\"wait\",\"args\":{\"until\":\"running\"}}\n";
	char line[256];
	cJSON *reply;
	uint64_t t0;
	int fd;

	set_limits(f, 4, 4, 4, 200, 400);
	assert_true((fd = connect_to(f->path)) >= 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	while (f->waiter == NULL)
		spin(f);
	/* Well past both deadlines: a wait is not idle. */
	spin_for(f, 1000);
	assert_int_equal(peer_state(fd, line, sizeof(line)), PEER_OPEN);
	assert_int_equal(ctl_nclients(f->s), 1);
	reply = cJSON_CreateObject();
	cJSON_AddStringToObject(reply, "state", "RUNNING");
	/* The allowance between requests starts again at the reply. */
	t0 = now_ms();
	ctl_reply(f->waiter, reply);
	f->waiter = NULL;
	assert_true(read_reply(f, fd, line, sizeof(line), 2000) > 0);
	assert_non_null(strstr(line, "RUNNING"));
	assert_true(wait_closed(f, fd, 5000) >= 0);
	assert_in_range(now_ms() - t0, 300, 3000);
	assert_int_equal(ctl_nclients(f->s), 0);
	close(fd);
}

static void
test_requests_on_one_connection_are_all_answered(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "{\"cmd\":\"status\"}\n";
	char line[256];
	int fd;

	set_limits(f, 4, 4, 4, 300, 600);
	assert_true((fd = connect_to(f->path)) >= 0);
	/* Each request comes after the last reply, sooner than the idle allowance. */
	for (int i = 0; i < 5; i++) {
		spin_for(f, 200);
		assert_int_equal(
		    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
		assert_true(read_reply(f, fd, line, sizeof(line), 2000) > 0);
		assert_non_null(strstr(line, "\"pong\":true"));
	}
	close(fd);
	assert_true(spin_until_nclients(f, 0, 2000));
}

/* More connections than the backlog holds: the excess is answered and closed as it comes. */
static void
test_excess_connections_of_one_user_are_told_and_closed(void **state)
{
	struct fixture *f = *state;
	int held, refused, dropped, n = 0;
	char first[256] = "";
	struct child ch;

	if (!is_root())
		skip();
	set_limits(f, 4, 8, 3, 20000, 30000);
	child_start(f, &ch, f->nobody_uid, CHILD_HOLD, 200);
	assert_string_equal(child_line(f, &ch), "connected");
	assert_true(spin_until_nclients(f, 3, 5000));
	spin_for(f, 50);
	child_go(&ch);
	n = sscanf(child_line(f, &ch), "held=%d refused=%d dropped=%d first=%255[^\n]", &held,
	    &refused, &dropped, first);
	assert_int_equal(n, 4);
	assert_int_equal(held, 3);
	assert_int_equal(refused, 197);
	assert_int_equal(dropped, 0);
	assert_string_equal(first, "{\"ok\":false,\"error\":\"too many clients of this user\"}");
	assert_int_equal(ctl_nclients(f->s), 3);
	child_end(&ch);
	assert_true(spin_until_nclients(f, 0, 5000));
}

static void
test_root_is_served_while_others_hold_every_slot(void **state)
{
	struct fixture *f = *state;
	int held, refused, dropped, fd, fd2, fd3;
	char first[256] = "", line[256];
	struct child ch;

	if (!is_root())
		skip();
	set_limits(f, 2, 4, 4, 20000, 30000);
	child_start(f, &ch, f->nobody_uid, CHILD_HOLD, 6);
	assert_string_equal(child_line(f, &ch), "connected");
	assert_true(spin_until_nclients(f, 4, 5000));
	spin_for(f, 50);
	child_go(&ch);
	assert_int_equal(sscanf(child_line(f, &ch), "held=%d refused=%d dropped=%d first=%255[^\n]",
	                     &held, &refused, &dropped, first),
	    4);
	assert_int_equal(held, 4);
	assert_int_equal(refused, 2);
	assert_string_equal(first, "{\"ok\":false,\"error\":\"too many clients\"}");
	/* Every general slot is taken; root's own are not. */
	assert_true((fd = connect_to(f->path)) >= 0);
	assert_int_equal(send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL), 17);
	assert_true(read_reply(f, fd, line, sizeof(line), 2000) > 0);
	assert_string_equal(line, "{\"pong\":true,\"ok\":true}\n");
	assert_int_equal(ctl_nclients(f->s), 5);
	/* Root's pool has its own bound. */
	assert_true((fd2 = connect_to(f->path)) >= 0);
	assert_true((fd3 = connect_to(f->path)) >= 0);
	assert_true(read_reply(f, fd3, line, sizeof(line), 2000) > 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"too many clients\"}\n");
	assert_int_equal(peer_state(fd2, line, sizeof(line)), PEER_OPEN);
	child_end(&ch);
	assert_true(spin_until_nclients(f, 2, 5000));
	close(fd);
	close(fd2);
	close(fd3);
	assert_true(spin_until_nclients(f, 0, 5000));
}

/*
 * Leaves no descriptor to open: the soft limit just above the highest one
 * open, every free one below it taken. Returns the ones taken. Descriptors
 * at or above the soft limit are not ours to count: valgrind keeps its own
 * there, and refuses a limit that would take them in.
 */
static int *
use_every_fd(int *n)
{
	struct rlimit rl;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int top = 0, fd, *taken;

	assert_non_null(d);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (fd = atoi(de->d_name)) != dirfd(d) && fd > top &&
		    (rlim_t)fd < rl.rlim_cur)
			top = fd;
	closedir(d);
	taken = calloc((size_t)top + 1, sizeof(*taken));
	rl.rlim_cur = (rlim_t)top + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	*n = 0;
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		taken[(*n)++] = fd;
	assert_int_equal(errno, EMFILE);
	return taken;
}

/*
 * Out of descriptors, the backlog is shed and the socket keeps listening. The
 * loop's own spare descriptor is given up first (as if it had been lost), so
 * ctl's spare is the one that sheds: without it libuv would call back forever.
 */
static void
test_out_of_descriptors_sheds_and_keeps_listening(void **state)
{
	struct fixture *f = *state;
	int held, refused, dropped, fd, ntaken, *taken;
	char first[256] = "", line[256];
	struct child ch;

	if (f->loop.emfile_fd != -1) {
		close(f->loop.emfile_fd);
		f->loop.emfile_fd = -1;
	}
	child_start(f, &ch, 0, CHILD_HOLD, 40);
	taken = use_every_fd(&ntaken);
	assert_string_equal(child_line(f, &ch), "connected");
	spin_for(f, 200);
	child_go(&ch);

	assert_int_equal(sscanf(child_line(f, &ch), "held=%d refused=%d dropped=%d first=%255[^\n]",
	                     &held, &refused, &dropped, first),
	    4);
	assert_true(held < 40);
	assert_true(refused > 0);
	assert_string_equal(first, "{\"ok\":false,\"error\":\"out of file descriptors\"}");
	while (ntaken > 0)
		close(taken[--ntaken]);
	free(taken);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->nofile), 0);
	child_end(&ch);
	assert_true(spin_until_nclients(f, 0, 5000));
	assert_true((fd = connect_to(f->path)) >= 0);
	assert_int_equal(send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL), 17);
	assert_true(read_reply(f, fd, line, sizeof(line), 2000) > 0);
	assert_string_equal(line, "{\"pong\":true,\"ok\":true}\n");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_dripping_client_is_closed_at_the_request_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_other_users_may_not_idle_but_root_may, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_in_progress_keeps_its_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_requests_on_one_connection_are_all_answered, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_excess_connections_of_one_user_are_told_and_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_root_is_served_while_others_hold_every_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_out_of_descriptors_sheds_and_keeps_listening, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
