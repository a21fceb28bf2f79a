/* Target probes on a real libuv loop against loopback listeners. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/config.h"
#include "smsguard/probe.h"

struct fixture {
	uv_loop_t loop;
	struct config cfg;
	struct observer obs;
	struct probe_set *ps;
	int changes;
	struct obs_target last; /* the last OBS_TARGET reported */
	bool closed;
};

static void
on_report(void *arg, const struct observation *o)
{
	struct fixture *f = arg;

	if (o->kind == OBS_TARGET) {
		f->changes++;
		f->last = o->u.target;
	}
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

	uv_loop_init(&f->loop);
	f->cfg.probe_interval_ms = 50;
	f->cfg.probe_timeout_ms = 100;
	f->cfg.fall = 3;
	f->cfg.rise = 2;
	f->obs.arg = f;
	f->obs.report = on_report;
	assert_int_equal(probe_new(&f->loop, &f->cfg, &f->obs, &f->ps), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	probe_close(f->ps, on_closed, f);
	assert_false(f->closed); /* only from the loop */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	/* Every handle was closed: the loop has nothing left. */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* A loopback TCP socket on an ephemeral port; listening with `backlog`, or only bound (< 0). */
static int
tcp_socket(int family, int backlog, uint16_t *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                 : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A port that refuses: bound, then closed, so nothing listens there. */
static uint16_t
closed_port(void)
{
	uint16_t port;
	int fd = tcp_socket(AF_INET, -1, &port);

	close(fd);
	return port;
}

/*
 * A listener that never accepts, its queue filled: further SYNs are dropped,
 * so a connect neither succeeds nor is refused - it times out.
 */
static int
full_listener(uint16_t *port, int fillers[8], int *nfill)
{
	int fd = tcp_socket(AF_INET, 0, port);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(*port)};

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*nfill = 0;
	for (int i = 0; i < 8; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		connect(c, (struct sockaddr *)&sin, sizeof(sin));
		fillers[(*nfill)++] = c;
	}
	return fd;
}

static uint64_t probes_of(struct fixture *f, int i);

/*
 * Timing bounds in these tests are loose (a busy 2-core machine under ASan
 * delays a loop by tens of milliseconds); what a test pins down exactly is
 * counted in probes instead.
 */
static bool
port_in(struct fixture *f, int i, enum port_state st)
{
	struct probe_port_info in;

	return probe_port_info(f->ps, i, &in) == 0 && in.state == st;
}

/* Runs the loop until port i is in st or limit_ms passes; returns the time taken. */
static uint64_t
run_until_port(struct fixture *f, int i, enum port_state st, uint64_t limit_ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (!port_in(f, i, st) && uv_now(&f->loop) - start < limit_ms)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(port_in(f, i, st));
	return uv_now(&f->loop) - start;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_no_target_is_unknown(void **state)
{
	struct fixture *f = *state;
	cJSON *t = cJSON_CreateObject();

	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UNKNOWN);
	assert_null(probe_address(f->ps));
	probe_status_json(f->ps, t);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "address")));
	assert_string_equal(cJSON_GetObjectItem(t, "state")->valuestring, "unknown");
	cJSON_Delete(t);
}

static void
test_listening_port_reads_up_within_rise_intervals(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);
	struct probe_port_info in;

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	assert_true(run_until_port(f, 0, PORT_UP, 2000) < 1000);
	assert_int_equal(probes_of(f, 0), 2); /* rise */
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UP);
	assert_int_equal(probe_port_info(f->ps, 0, &in), 0);
	assert_int_equal(in.last_class, FAIL_NONE);
	assert_true(in.latency.have);
	assert_true(f->changes >= 1);
	close(fd);
}

static void
test_closed_port_reads_down_as_refused(void **state)
{
	struct fixture *f = *state;
	uint16_t port = closed_port();
	struct probe_port_info in;

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	assert_true(run_until_port(f, 0, PORT_DOWN, 2000) < 1000);
	assert_int_equal(probes_of(f, 0), 3); /* fall */
	probe_port_info(f->ps, 0, &in);
	assert_int_equal(in.last_class, FAIL_REFUSED);
	assert_int_equal(in.last_errno, ECONNREFUSED);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_DOWN);
}

static void
test_unanswered_port_reads_down_as_timeout(void **state)
{
	struct fixture *f = *state;
	int fillers[8], nfill;
	uint16_t port;
	int fd = full_listener(&port, fillers, &nfill);
	struct probe_port_info in;
	uint64_t took;

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	/* fall x interval + timeout = 250 ms on a fixed cadence; three timeouts, no more. */
	took = run_until_port(f, 0, PORT_DOWN, 3000);
	assert_true(took < 1500);
	assert_int_equal(probes_of(f, 0), 3);
	probe_port_info(f->ps, 0, &in);
	assert_int_equal(in.last_class, FAIL_TIMEOUT);
	assert_int_equal(in.last_errno, ETIMEDOUT);
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(fd);
}

static void
test_down_port_recovers_when_it_listens_again(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, -1, &port); /* bound, not listening: refuses */

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	run_until_port(f, 0, PORT_DOWN, 2000);
	assert_int_equal(listen(fd, 16), 0);
	assert_true(run_until_port(f, 0, PORT_UP, 2000) < 1000);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UP);
	close(fd);
}

static void
test_target_is_up_only_when_every_port_is_up(void **state)
{
	struct fixture *f = *state;
	uint16_t ports[2];
	int a = tcp_socket(AF_INET, 16, &ports[0]);
	int b = tcp_socket(AF_INET, -1, &ports[1]);

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", ports, 2), 0);
	run_until_port(f, 0, PORT_UP, 2000);
	run_until_port(f, 1, PORT_DOWN, 2000);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_DOWN);
	listen(b, 16);
	run_until_port(f, 1, PORT_UP, 2000);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UP);
	/* The report is a value with the whole picture: the target and each port. */
	assert_int_equal(f->last.state, PORT_UP);
	assert_int_equal(f->last.nports, 2);
	assert_int_equal(f->last.ports[0].port, ports[0]);
	assert_int_equal(f->last.ports[1].port, ports[1]);
	assert_int_equal(f->last.ports[1].state, PORT_UP);
	assert_true(f->last.since_ms >= f->last.ports[1].since_ms - 1);
	close(a);
	close(b);
}

static void
test_slow_port_does_not_delay_another(void **state)
{
	struct fixture *f = *state;
	int fillers[8], nfill;
	uint16_t ports[2];
	int slow = full_listener(&ports[0], fillers, &nfill);
	int fast = tcp_socket(AF_INET, 16, &ports[1]);

	f->cfg.probe_timeout_ms = 1000;
	probe_reconfigure(f->ps, &f->cfg);
	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", ports, 2), 0);
	/* The fast port is up long before the slow one's first attempt times out. */
	assert_true(run_until_port(f, 1, PORT_UP, 900) < 900);
	assert_true(port_in(f, 0, PORT_UNKNOWN));
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(slow);
	close(fast);
}

static void
test_ipv6_literal_is_probed(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0) {
		skip();
		return;
	}
	close(fd);
	fd = tcp_socket(AF_INET6, 16, &port);
	assert_int_equal(probe_set_target(f->ps, "::1", &port, 1), 0);
	run_until_port(f, 0, PORT_UP, 2000);
	assert_int_equal(probe_set_target(f->ps, "[::1]", &port, 1), 0);
	run_until_port(f, 0, PORT_UP, 2000);
	close(fd);
}

static void
test_host_name_is_resolved(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);
	int fd6 = -1;
	uint16_t port6;

	/* localhost may resolve to ::1 first: listen on the same port there too when possible. */
	fd6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd6 >= 0) {
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		int one = 1;

		s6.sin6_addr = in6addr_loopback;
		setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd6, (struct sockaddr *)&s6, sizeof(s6)) != 0 || listen(fd6, 16) != 0) {
			close(fd6);
			fd6 = -1;
		}
	}
	(void)port6;
	assert_int_equal(probe_set_target(f->ps, "localhost", &port, 1), 0);
	run_until_port(f, 0, PORT_UP, 3000);
	close(fd);
	if (fd6 >= 0)
		close(fd6);
}

static void
test_bad_addresses_are_refused(void **state)
{
	struct fixture *f = *state;
	uint16_t port = 22, zero = 0;

	assert_int_equal(probe_set_target(f->ps, "bad host;rm", &port, 1), -EINVAL);
	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &zero, 1), -EINVAL);
	assert_null(probe_address(f->ps));
}

static void
test_same_target_again_keeps_state(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);
	int changes;

	probe_set_target(f->ps, "127.0.0.1", &port, 1);
	run_until_port(f, 0, PORT_UP, 2000);
	changes = f->changes;
	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	assert_true(port_in(f, 0, PORT_UP));
	assert_int_equal(f->changes, changes);
	close(fd);
}

static void
test_new_target_restarts_from_unknown(void **state)
{
	struct fixture *f = *state;
	uint16_t port, other = closed_port();
	int fd = tcp_socket(AF_INET, 16, &port);

	probe_set_target(f->ps, "127.0.0.1", &port, 1);
	run_until_port(f, 0, PORT_UP, 2000);
	probe_set_target(f->ps, "127.0.0.1", &other, 1);
	assert_true(port_in(f, 0, PORT_UNKNOWN));
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UNKNOWN);
	run_until_port(f, 0, PORT_DOWN, 2000);
	close(fd);
}

static void
test_check_now_probes_at_once(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);

	f->cfg.probe_interval_ms = 60000;
	probe_reconfigure(f->ps, &f->cfg);
	probe_set_target(f->ps, "127.0.0.1", &port, 1);
	/* The first probe is immediate; the second would be a minute away. */
	while (!port_in(f, 0, PORT_UNKNOWN) || f->changes == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	{
		struct probe_port_info in;

		do {
			uv_run(&f->loop, UV_RUN_ONCE);
			probe_port_info(f->ps, 0, &in);
		} while (in.probes < 1);
	}
	probe_check_now(f->ps);
	assert_true(run_until_port(f, 0, PORT_UP, 1000) < 1000);
	close(fd);
}

static void
test_stopping_the_target_makes_it_unknown(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);

	probe_set_target(f->ps, "127.0.0.1", &port, 1);
	run_until_port(f, 0, PORT_UP, 2000);
	assert_int_equal(probe_set_target(f->ps, NULL, NULL, 0), 0);
	assert_int_equal(probe_port_count(f->ps), 0);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UNKNOWN);
	close(fd);
}

static void
test_status_json_has_the_documented_keys(void **state)
{
	struct fixture *f = *state;
	uint16_t ports[2];
	int fd = tcp_socket(AF_INET, 16, &ports[0]);
	cJSON *t = cJSON_CreateObject(), *p;

	ports[1] = closed_port();
	probe_set_target(f->ps, "127.0.0.1", ports, 2);
	run_until_port(f, 0, PORT_UP, 2000);
	run_until_port(f, 1, PORT_DOWN, 2000);
	probe_status_json(f->ps, t);
	assert_string_equal(cJSON_GetObjectItem(t, "address")->valuestring, "127.0.0.1");
	assert_string_equal(cJSON_GetObjectItem(t, "state")->valuestring, "down");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "ports")), 2);
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "ports"), 0);
	assert_int_equal(cJSON_GetObjectItem(p, "port")->valueint, ports[0]);
	assert_string_equal(cJSON_GetObjectItem(p, "state")->valuestring, "up");
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(p, "latency_ms")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "last_error")));
	assert_true(cJSON_GetObjectItem(p, "since")->valuedouble > 1.6e9);
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "ports"), 1);
	assert_string_equal(cJSON_GetObjectItem(p, "state")->valuestring, "down");
	assert_string_equal(cJSON_GetObjectItem(p, "last_error")->valuestring, "refused");
	cJSON_Delete(t);
	close(fd);
}

static void
test_target_changes_mid_flight_leak_nothing(void **state)
{
	struct fixture *f = *state;
	int fillers[8], nfill;
	uint16_t ports[3];
	int slow = full_listener(&ports[0], fillers, &nfill);
	int up = tcp_socket(AF_INET, 64, &ports[1]);
	struct probe_port_info in;
	int fds;

	ports[2] = closed_port();
	/* libuv opens its thread pool's wakeup descriptor with the first lookup: not ours. */
	probe_set_target(f->ps, "localhost", ports, 3);
	while (probe_port_info(f->ps, 0, &in) == 0 && in.probes == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	probe_set_target(f->ps, NULL, NULL, 0);
	/*
	 * Until nothing is pending: a host name lookup still running in libuv's
	 * thread pool may hold a descriptor of its own (/etc/hosts) for a moment.
	 */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	fds = count_fds();
	for (int i = 0; i < 200; i++) {
		uint16_t p[3] = {ports[0], ports[1], ports[2]};

		p[i % 3] = ports[(i + 1) % 3]; /* a different list each time */
		probe_set_target(f->ps, i % 2 ? "127.0.0.1" : "localhost", p, 3);
		uv_run(&f->loop, UV_RUN_NOWAIT);
		if (i % 7 == 0)
			probe_check_now(f->ps);
	}
	probe_set_target(f->ps, NULL, NULL, 0);
	/* Detached attempts and stale lookups wind down; then nothing of ours is left open. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(count_fds(), fds);
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(slow);
	close(up);
}

static void
test_a_thousand_cycles_on_three_ports_keep_descriptors_flat(void **state)
{
	struct fixture *f = *state;
	uint16_t ports[3];
	int a = tcp_socket(AF_INET, 128, &ports[0]);
	int b = tcp_socket(AF_INET, 128, &ports[1]);
	struct probe_port_info in;
	int fds;

	ports[2] = closed_port();
	f->cfg.probe_interval_ms = 1;
	f->cfg.probe_timeout_ms = 100;
	probe_reconfigure(f->ps, &f->cfg);
	probe_set_target(f->ps, "127.0.0.1", ports, 3);
	run_until_port(f, 0, PORT_UP, 2000);
	fds = count_fds();
	do {
		uv_run(&f->loop, UV_RUN_ONCE);
		/* The listeners' accept queues fill: drain them as a server would. */
		for (int i = 0; i < 2; i++) {
			int c;
			while ((c = accept4(i ? b : a, NULL, NULL, SOCK_NONBLOCK)) >= 0)
				close(c);
		}
		probe_port_info(f->ps, 2, &in);
	} while (in.probes < 1000);
	assert_true(count_fds() <= fds + 3);
	probe_port_info(f->ps, 0, &in);
	assert_true(in.probes >= 900);
	close(a);
	close(b);
}

static void
test_close_without_target_completes_from_the_loop(void **state)
{
	/* The teardown checks it: the callback does not run inside probe_close. */
	struct fixture *f = *state;

	assert_int_equal(probe_port_count(f->ps), 0);
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct fixture *f, uint64_t ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (uv_now(&f->loop) - start < ms)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static uint64_t
probes_of(struct fixture *f, int i)
{
	struct probe_port_info in;

	assert_int_equal(probe_port_info(f->ps, i, &in), 0);
	return in.probes;
}

/*
 * With timeout = interval (the defaults' ratio), a timed-out attempt must not
 * hold back the next one: one attempt starts every interval, so a dropped
 * port is down after fall x interval + timeout, not fall x (interval + timeout).
 */
static void
test_timeouts_keep_the_cadence_when_timeout_equals_interval(void **state)
{
	struct fixture *f = *state;
	int fillers[8], nfill;
	uint16_t port;
	int fd = full_listener(&port, fillers, &nfill);
	uint64_t took, before;

	f->cfg.probe_interval_ms = 200;
	f->cfg.probe_timeout_ms = 200;
	probe_reconfigure(f->ps, &f->cfg);
	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	/* Attempts at 0, 200, 400 time out at 200, 400, 600; skipping ticks made it 1000. */
	took = run_until_port(f, 0, PORT_DOWN, 5000);
	assert_true(took < 950);
	/* Over two seconds, ten attempts end (five when each timeout cost two intervals). */
	before = probes_of(f, 0);
	run_for(f, 2000);
	assert_true(probes_of(f, 0) - before >= 8);
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
	close(fd);
}

/* A failure reported by SMS makes an up port unknown until rise fresh probes pass. */
static void
test_distrust_makes_up_ports_unknown_until_rise_fresh_successes(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = tcp_socket(AF_INET, 16, &port);
	uint64_t since_before, since_after, before;

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	run_until_port(f, 0, PORT_UP, 2000);
	probe_target_state(f->ps, &since_before);
	before = probes_of(f, 0);
	run_for(f, 5);
	probe_distrust(f->ps);
	assert_true(port_in(f, 0, PORT_UNKNOWN));
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UNKNOWN);
	run_until_port(f, 0, PORT_UP, 2000);
	/* Up again only after rise (2) results of probes started after the mark. */
	assert_true(probes_of(f, 0) >= before + 2);
	assert_int_equal(probe_target_state(f->ps, &since_after), PORT_UP);
	assert_true(since_after > since_before);
	close(fd);
}

/* The fresh probes start at once, not at the next tick. */
static void
test_distrust_probes_every_port_at_once(void **state)
{
	struct fixture *f = *state;
	uint16_t ports[2];
	int fds[2] = {tcp_socket(AF_INET, 16, &ports[0]), tcp_socket(AF_INET, 16, &ports[1])};
	uint64_t before[2], start;

	f->cfg.probe_interval_ms = 60000;
	f->cfg.rise = 1;
	probe_reconfigure(f->ps, &f->cfg);
	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", ports, 2), 0);
	run_until_port(f, 0, PORT_UP, 2000);
	run_until_port(f, 1, PORT_UP, 2000);
	before[0] = probes_of(f, 0);
	before[1] = probes_of(f, 1);
	probe_distrust(f->ps);
	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while ((probes_of(f, 0) == before[0] || probes_of(f, 1) == before[1]) &&
	    uv_now(&f->loop) - start < 30000)
		uv_run(&f->loop, UV_RUN_ONCE);
	/* A minute-long interval: only an immediate probe gets here this soon. */
	assert_true(uv_now(&f->loop) - start < 30000);
	assert_int_equal(probe_target_state(f->ps, NULL), PORT_UP);
	close(fds[0]);
	close(fds[1]);
}

/* A down port stays down: the mark only forgets successes. */
static void
test_distrust_keeps_a_down_port_down(void **state)
{
	struct fixture *f = *state;
	uint16_t port = closed_port();
	int changes;

	assert_int_equal(probe_set_target(f->ps, "127.0.0.1", &port, 1), 0);
	run_until_port(f, 0, PORT_DOWN, 2000);
	changes = f->changes;
	probe_distrust(f->ps);
	assert_true(port_in(f, 0, PORT_DOWN));
	assert_int_equal(f->changes, changes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_target_is_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_listening_port_reads_up_within_rise_intervals, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_closed_port_reads_down_as_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unanswered_port_reads_down_as_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_down_port_recovers_when_it_listens_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_target_is_up_only_when_every_port_is_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_port_does_not_delay_another, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_literal_is_probed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_name_is_resolved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_addresses_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_target_again_keeps_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_target_restarts_from_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_now_probes_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stopping_the_target_makes_it_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_status_json_has_the_documented_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_target_changes_mid_flight_leak_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_thousand_cycles_on_three_ports_keep_descriptors_flat, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_close_without_target_completes_from_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_timeouts_keep_the_cadence_when_timeout_equals_interval, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_distrust_makes_up_ports_unknown_until_rise_fresh_successes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_distrust_probes_every_port_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_distrust_keeps_a_down_port_down, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
