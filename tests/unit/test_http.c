/*
 * The curl-on-libuv transport against a tiny HTTP/1.1 server on loopback,
 * run in a thread of this test: concurrency, timeouts, the body cap,
 * cancellation, closing with requests in flight, and no descriptor that a
 * spawned program would inherit. The server's own sockets are close-on-exec
 * so that every socket without the flag is the client's.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "smsguard/http.h"

#define BIG_BODY (2 * 1024 * 1024)

/* ---- the loopback server ---- */

static int listen_fd = -1;
static int server_port;
static pthread_t accept_thread;

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
respond(int fd, int status, const char *extra_headers, const char *body, size_t len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status, len,
	    extra_headers);

	write_all(fd, head, (size_t)n);
	write_all(fd, body, len);
}

/* Holds the connection open until the client goes away (or 10 s pass). */
static void
stall(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];

	while (poll(&p, 1, 10000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
		;
}

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[16384];
	size_t got = 0;
	char *end = NULL, *body;
	size_t clen = 0;
	char method[16] = "", path[256] = "";

	while (got < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);

		if (r <= 0)
			goto out;
		got += (size_t)r;
		req[got] = '\0';
		if ((unsigned char)req[0] == 0x16) {
			/* A TLS ClientHello: answer in plain text, as a misconfigured server would. */
			respond(fd, 400, "", "", 0);
			goto out;
		}
		if ((end = strstr(req, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(req, "\r\nContent-Length:");

			if (cl != NULL)
				clen = strtoul(cl + 17, NULL, 10);
			if (got >= (size_t)(end + 4 - req) + clen)
				break;
		}
	}
	if (end == NULL)
		goto out;
	body = end + 4;
	sscanf(req, "%15s %255s", method, path);
	if (strcmp(path, "/ok") == 0) {
		respond(fd, 200,
		    "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nRetry-After: 7\r\nX-Request-Id: "
		    "rid-1\r\n",
		    "hello", 5);
	} else if (strcmp(path, "/throttled") == 0) {
		respond(fd, 429, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "{}", 2);
	} else if (strcmp(path, "/fail") == 0) {
		respond(fd, 500, "", "oops", 4);
	} else if (strcmp(path, "/echo") == 0) {
		char out[16384 + 64];
		const char *h = strcasestr(req, "\r\nX-Test:");
		char xtest[64] = "";
		int n;

		if (h != NULL)
			sscanf(h + 9, " %63[^\r]", xtest);
		n = snprintf(out, sizeof(out), "%s %s %.*s", method, xtest, (int)clen, body);
		respond(fd, 200, "", out, (size_t)n);
	} else if (strncmp(path, "/delay/", 7) == 0) {
		usleep((useconds_t)atoi(path + 7) * 1000);
		respond(fd, 200, "", "late", 4);
	} else if (strcmp(path, "/big") == 0) {
		char *big = malloc(BIG_BODY);

		memset(big, 'b', BIG_BODY);
		respond(fd, 200, "", big, BIG_BODY);
		free(big);
	} else if (strcmp(path, "/slow") == 0) {
		stall(fd);
	} else if (strcmp(path, "/keepalive") == 0) {
		/* The connection stays open for the client to reuse, as the cloud's does. */
		char head[] = "HTTP/1.1 200 X\r\nContent-Length: 2\r\n\r\nok";

		write_all(fd, head, sizeof(head) - 1);
		stall(fd);
	} else {
		respond(fd, 404, "", "", 0);
	}
out:
	close(fd);
	return NULL;
}

static void *
accept_loop(void *arg)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return NULL; /* shut down */
		}
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

static int
server_up(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(listen_fd, 128) < 0 || getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	server_port = ntohs(sin.sin_port);
	return pthread_create(&accept_thread, NULL, accept_loop, NULL);
}

static int
server_down(void **state)
{
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(accept_thread, NULL);
	close(listen_fd);
	return 0;
}

/* ---- the client side ---- */

struct result {
	bool done;
	int calls;
	struct http_response resp;
	char body[256];
};

struct fixture {
	uv_loop_t loop;
	struct http_transport *t;
	bool closed;
};

static void
on_done(void *arg, const struct http_response *resp)
{
	struct result *r = arg;

	r->done = true;
	r->calls++;
	r->resp = *resp;
	r->resp.body = NULL;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)resp->body_len, resp->body);
}

static void
on_closed(void *arg)
{
	struct fixture *f = arg;

	f->closed = true;
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(http_new(&f->loop, &f->t), 0);
}

/* Closes the transport and requires the loop to drain completely. */
static void
fixture_close(struct fixture *f)
{
	http_close(f->t, on_closed, f);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void
run_until(struct fixture *f, struct result *r, int n)
{
	uint64_t deadline;

	uv_update_time(&f->loop);
	deadline = uv_now(&f->loop) + 20000;
	for (;;) {
		int done = 0;

		for (int i = 0; i < n; i++)
			done += r[i].done;
		if (done == n)
			return;
		assert_true(uv_now(&f->loop) < deadline);
		uv_run(&f->loop, UV_RUN_ONCE);
	}
}

static void
request(struct http_request *req, char *url, size_t urllen, const char *path)
{
	snprintf(url, urllen, "http://127.0.0.1:%d%s", server_port, path);
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->url = url;
	req->timeout_ms = 10000;
}

static void
test_get_returns_status_body_and_selected_headers(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_OK);
	assert_int_equal(r.resp.status, 200);
	assert_string_equal(r.body, "hello");
	assert_true(r.resp.date_s == 784111777);
	assert_true(r.resp.retry_after_s == 7);
	assert_string_equal(r.resp.request_id, "rid-1");
	fixture_close(&f);
}

static void
test_callback_is_never_called_from_submit(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	assert_false(r.done);
	run_until(&f, &r, 1);
	assert_int_equal(r.calls, 1);
	fixture_close(&f);
}

static void
test_post_sends_body_and_headers(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/echo");
	req.method = "POST";
	req.body = "{\"operation\":\"start\"}";
	req.body_len = 21;
	req.headers[0] = "X-Test: yes";
	req.headers[1] = "Content-Type: application/json";
	req.nheaders = 2;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_OK);
	assert_string_equal(r.body, "POST yes {\"operation\":\"start\"}");
	fixture_close(&f);
}

static void
test_error_status_is_a_response_not_a_failure(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/fail");
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_OK);
	assert_int_equal(r.resp.status, 500);
	assert_string_equal(r.body, "oops");
	fixture_close(&f);
}

static void
test_retry_after_as_a_date_in_the_past_is_zero(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/throttled");
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.status, 429);
	assert_true(r.resp.retry_after_s == 0);
	assert_true(r.resp.date_s == -1);
	fixture_close(&f);
}

static void
test_concurrent_requests_run_in_parallel(void **state)
{
	enum { N = 16 };
	struct fixture f;
	struct http_request req;
	struct result r[N];
	char url[128];
	uint64_t start;

	memset(r, 0, sizeof(r));
	fixture_init(&f);
	request(&req, url, sizeof(url), "/delay/400");
	uv_update_time(&f.loop);
	start = uv_now(&f.loop);
	for (int i = 0; i < N; i++)
		assert_int_equal(http_submit(f.t, &req, on_done, &r[i], NULL), 0);
	assert_int_equal(http_inflight(f.t), N);
	run_until(&f, r, N);
	/* One after another would take N * 400 ms. */
	assert_true(uv_now(&f.loop) - start < 4000);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].resp.result, HTTP_OK);
		assert_string_equal(r[i].body, "late");
	}
	assert_int_equal(http_inflight(f.t), 0);
	fixture_close(&f);
}

static void
test_request_times_out(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/slow");
	req.timeout_ms = 300;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_TIMEOUT);
	assert_int_equal(r.resp.status, 0);
	assert_true(r.resp.elapsed_ms >= 250 && r.resp.elapsed_ms < 3000);
	assert_true(r.resp.error[0] != '\0');
	fixture_close(&f);
}

static void
test_a_slow_request_does_not_delay_a_fast_one(void **state)
{
	struct fixture f;
	struct http_request slow, fast;
	struct result r[2];
	char url1[128], url2[128];

	memset(r, 0, sizeof(r));
	fixture_init(&f);
	request(&slow, url1, sizeof(url1), "/slow");
	request(&fast, url2, sizeof(url2), "/ok");
	assert_int_equal(http_submit(f.t, &slow, on_done, &r[0], NULL), 0);
	assert_int_equal(http_submit(f.t, &fast, on_done, &r[1], NULL), 0);
	run_until(&f, &r[1], 1);
	assert_false(r[0].done);
	assert_int_equal(r[1].resp.status, 200);
	fixture_close(&f);
	assert_false(r[0].done);
}

static void
test_body_over_the_cap_is_too_large(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/big");
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_TOO_LARGE);
	assert_int_equal(r.resp.body_len, 0);
	fixture_close(&f);
}

static void
test_body_under_a_custom_cap_is_kept(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	req.max_body = 5;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_OK);
	memset(&r, 0, sizeof(r));
	req.max_body = 4;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_TOO_LARGE);
	fixture_close(&f);
}

static void
test_refused_connection_is_connect(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	/* A port that was just free: nothing listens there. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	fixture_init(&f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_CONNECT);
	fixture_close(&f);
}

static void
test_tls_handshake_failure_is_tls(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	/* https:// to a plain-HTTP server: the handshake cannot succeed. */
	fixture_init(&f);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", server_port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.timeout_ms = 5000;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), 0);
	run_until(&f, &r, 1);
	assert_int_equal(r.resp.result, HTTP_TLS);
	assert_true(r.resp.error[0] != '\0');
	fixture_close(&f);
}

static void
test_cancelled_request_never_calls_back(void **state)
{
	struct fixture f;
	struct http_request slow, fast;
	struct result r[2];
	char url1[128], url2[128];
	uint64_t id;

	memset(r, 0, sizeof(r));
	fixture_init(&f);
	request(&slow, url1, sizeof(url1), "/slow");
	request(&fast, url2, sizeof(url2), "/delay/200");
	assert_int_equal(http_submit(f.t, &slow, on_done, &r[0], &id), 0);
	assert_int_equal(http_submit(f.t, &fast, on_done, &r[1], NULL), 0);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	http_cancel(f.t, id);
	assert_int_equal(http_inflight(f.t), 1);
	run_until(&f, &r[1], 1);
	assert_false(r[0].done);
	http_cancel(f.t, id); /* twice, or after the end: harmless */
	fixture_close(&f);
	assert_false(r[0].done);
}

static void
test_close_with_requests_in_flight_drains_the_loop(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r[5];
	char url[128];

	memset(r, 0, sizeof(r));
	fixture_init(&f);
	request(&req, url, sizeof(url), "/slow");
	for (int i = 0; i < 5; i++)
		assert_int_equal(http_submit(f.t, &req, on_done, &r[i], NULL), 0);
	/* Let the connections open so there are sockets to close. */
	for (int i = 0; i < 20; i++)
		uv_run(&f.loop, UV_RUN_NOWAIT);
	fixture_close(&f);
	for (int i = 0; i < 5; i++)
		assert_false(r[i].done);
}

static void
close_from_callback(void *arg, const struct http_response *resp)
{
	struct fixture *f = arg;

	http_close(f->t, on_closed, f);
}

static void
test_close_from_inside_a_callback(void **state)
{
	struct fixture f;
	struct http_request req, slow;
	char url[128], url2[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	request(&slow, url2, sizeof(url2), "/slow");
	assert_int_equal(http_submit(f.t, &slow, on_done, &(struct result){0}, NULL), 0);
	assert_int_equal(http_submit(f.t, &req, close_from_callback, &f, NULL), 0);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_true(f.closed);
	assert_int_equal(uv_loop_close(&f.loop), 0);
}

static void
test_submit_after_close_is_refused(void **state)
{
	struct fixture f;
	struct http_request req;
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	http_close(f.t, on_closed, &f);
	assert_int_equal(http_submit(f.t, &req, on_done, &(struct result){0}, NULL), -ESHUTDOWN);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_true(f.closed);
	assert_int_equal(uv_loop_close(&f.loop), 0);
}

static void
test_header_injection_is_refused(void **state)
{
	struct fixture f;
	struct http_request req;
	struct result r = {0};
	char url[128];

	fixture_init(&f);
	request(&req, url, sizeof(url), "/ok");
	req.headers[0] = "X-Test: a\r\nX-Evil: b";
	req.nheaders = 1;
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), -EINVAL);
	req.headers[0] = "no colon";
	assert_int_equal(http_submit(f.t, &req, on_done, &r, NULL), -EINVAL);
	assert_int_equal(http_inflight(f.t), 0);
	fixture_close(&f);
	assert_false(r.done);
}

/* Each socket this process holds; peer_port is 0 unless it is a connected TCP socket. */
struct sock_fd {
	int fd;
	bool cloexec;
	int peer_port;
};

static int
list_sockets(struct sock_fd *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < max) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		struct stat st;
		char link[64], target[64];
		int fd = atoi(e->d_name);
		ssize_t tl;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		tl = readlink(link, target, sizeof(target) - 1);
		if (tl < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		target[tl] = '\0';
		assert_true(strncmp(target, "socket:", 7) == 0);
		out[n].fd = fd;
		out[n].cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
		out[n].peer_port = 0;
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
		    peer.sin_family == AF_INET)
			out[n].peer_port = ntohs(peer.sin_port);
		n++;
	}
	closedir(d);
	return n;
}

/* A request on a kept-alive connection, left done and the connection still open. */
static void
keepalive_request(struct fixture *f, struct result *r)
{
	struct http_request req;
	char url[128];

	request(&req, url, sizeof(url), "/keepalive");
	assert_int_equal(http_submit(f->t, &req, on_done, r, NULL), 0);
	run_until(f, r, 1);
	assert_int_equal(r->resp.status, 200);
}

static void
test_kept_alive_connection_is_close_on_exec(void **state)
{
	struct fixture f;
	struct result r = {0};
	struct sock_fd socks[256];
	int n, conns = 0;

	fixture_init(&f);
	keepalive_request(&f, &r);
	n = list_sockets(socks, 256);
	for (int i = 0; i < n; i++) {
		if (socks[i].peer_port != server_port)
			continue;
		conns++;
		if (!socks[i].cloexec)
			fail_msg(
			    "the connection on fd %d would pass to a spawned program", socks[i].fd);
	}
	assert_true(conns >= 1); /* the connection is still open: this looked at it */
	fixture_close(&f);
}

static void
test_no_socket_of_the_transport_leaks_into_a_spawned_program(void **state)
{
	struct fixture f;
	struct result r = {0};
	struct sock_fd socks[256];
	int n;

	/* curl's own sockets (its wake-up pair) as well as its connections. */
	fixture_init(&f);
	keepalive_request(&f, &r);
	n = list_sockets(socks, 256);
	assert_true(n >= 1);
	for (int i = 0; i < n; i++)
		if (!socks[i].cloexec)
			fail_msg("socket fd %d is not close-on-exec", socks[i].fd);
	fixture_close(&f);
}

static void
test_result_names(void **state)
{
	assert_string_equal(http_result_name(HTTP_OK), "ok");
	assert_string_equal(http_result_name(HTTP_TIMEOUT), "timeout");
	assert_string_equal(http_result_name(HTTP_CONNECT), "connect");
	assert_string_equal(http_result_name(HTTP_TLS), "tls");
	assert_string_equal(http_result_name(HTTP_RESOLVE), "resolve");
	assert_string_equal(http_result_name(HTTP_TOO_LARGE), "too_large");
	assert_string_equal(http_result_name(HTTP_OTHER), "other");
	assert_string_equal(http_result_name((enum http_result)99), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_returns_status_body_and_selected_headers),
	    cmocka_unit_test(test_callback_is_never_called_from_submit),
	    cmocka_unit_test(test_post_sends_body_and_headers),
	    cmocka_unit_test(test_error_status_is_a_response_not_a_failure),
	    cmocka_unit_test(test_retry_after_as_a_date_in_the_past_is_zero),
	    cmocka_unit_test(test_concurrent_requests_run_in_parallel),
	    cmocka_unit_test(test_request_times_out),
	    cmocka_unit_test(test_a_slow_request_does_not_delay_a_fast_one),
	    cmocka_unit_test(test_body_over_the_cap_is_too_large),
	    cmocka_unit_test(test_body_under_a_custom_cap_is_kept),
	    cmocka_unit_test(test_refused_connection_is_connect),
	    cmocka_unit_test(test_tls_handshake_failure_is_tls),
	    cmocka_unit_test(test_cancelled_request_never_calls_back),
	    cmocka_unit_test(test_close_with_requests_in_flight_drains_the_loop),
	    cmocka_unit_test(test_close_from_inside_a_callback),
	    cmocka_unit_test(test_submit_after_close_is_refused),
	    cmocka_unit_test(test_header_injection_is_refused),
	    cmocka_unit_test(test_kept_alive_connection_is_close_on_exec),
	    cmocka_unit_test(test_no_socket_of_the_transport_leaks_into_a_spawned_program),
	    cmocka_unit_test(test_result_names),
	};

	return cmocka_run_group_tests(tests, server_up, server_down);
}
