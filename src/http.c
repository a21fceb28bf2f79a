/*
 * The real HTTP transport: libcurl's multi-socket API on libuv. curl tells us
 * which sockets to watch (on_socket) and when to wake it (on_curl_timer); we
 * watch them with one uv_poll_t each and a single uv_timer_t, and hand every
 * readiness back through curl_multi_socket_action().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "smsguard-build.h"
#include "smsguard/http.h"
#include "smsguard/http_header.h"
#include "smsguard/util.h"

#define HTTP_DEFAULT_TIMEOUT_MS 15000

struct http;

/* One socket curl asked us to watch. */
struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
	struct http_sock *prev, *next;
};

/* One request in flight. */
struct http_call {
	struct http *h;
	struct http_call *prev, *next;
	uint64_t id;
	CURL *easy;
	struct curl_slist *headers;
	http_done_cb cb;
	void *arg;
	char *body;
	size_t len, cap, max;
	bool too_large;
	bool proxied; /* through [cloud] proxy */
	struct http_header_fields hdr;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started;
};

struct http {
	struct http_transport iface; /* first: the transport pointer is the struct's */
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	int handles; /* open uv handles: the timer and every socket */
	struct http_call *calls;
	struct http_sock *socks;
	int ncalls;
	uint64_t next_id;
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;
};

static const char *const result_names[HTTP_RESULT_COUNT] = {
    [HTTP_OK] = "ok",
    [HTTP_TIMEOUT] = "timeout",
    [HTTP_CONNECT] = "connect",
    [HTTP_TLS] = "tls",
    [HTTP_RESOLVE] = "resolve",
    [HTTP_TOO_LARGE] = "too_large",
    [HTTP_OTHER] = "other",
};

const char *
http_result_name(enum http_result r)
{
	if ((unsigned)r >= HTTP_RESULT_COUNT)
		return "other";
	return result_names[r];
}

static void check_done(struct http *h);

static void
maybe_closed(struct http *h)
{
	void (*cb)(void *);
	void *arg;

	if (!h->closing || h->handles > 0)
		return;
	cb = h->close_cb;
	arg = h->close_arg;
	free(h);
	if (cb != NULL)
		cb(arg);
}

static void
on_sock_closed(uv_handle_t *handle)
{
	struct http_sock *hs = container_of((uv_poll_t *)handle, struct http_sock, poll);
	struct http *h = hs->h;

	free(hs);
	h->handles--;
	maybe_closed(h);
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct http *h = container_of((uv_timer_t *)handle, struct http, timer);

	h->handles--;
	maybe_closed(h);
}

static void
sock_close(struct http_sock *hs)
{
	struct http *h = hs->h;

	if (hs->prev != NULL)
		hs->prev->next = hs->next;
	else
		h->socks = hs->next;
	if (hs->next != NULL)
		hs->next->prev = hs->prev;
	uv_poll_stop(&hs->poll);
	uv_close((uv_handle_t *)&hs->poll, on_sock_closed);
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
	struct http_sock *hs = container_of(handle, struct http_sock, poll);
	struct http *h = hs->h;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* hs may be closed by curl inside this call; only h is used after it. */
	curl_multi_socket_action(h->multi, hs->fd, flags, &running);
	check_done(h);
}

static void
on_timer(uv_timer_t *timer)
{
	struct http *h = container_of(timer, struct http, timer);
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

/*
 * Every descriptor we hold must stay out of the programs smsguard starts (the
 * agent's restart script, and the agent it leaves running): a connection to
 * the cloud handed to them would outlive us there.
 */
static void
set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags >= 0 && !(flags & FD_CLOEXEC))
		(void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* curl's connections, made close-on-exec atomically (curl 7.88 does not). */
static curl_socket_t
on_opensocket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* The process's socket descriptors above stderr (a malloc'd array in *out). */
static int
socket_fds(int **out, int *n)
{
	DIR *d;
	struct dirent *e;
	int cap = 0, *fds = NULL;

	*out = NULL;
	*n = 0;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end != '\0' || fd < 3 || fd == dirfd(d))
			continue;
		if (fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (*n == cap) {
			int *p =
			    cap < 65536 ? realloc(fds, 2 * ((size_t)cap + 8) * sizeof(*fds)) : NULL;

			if (p == NULL) {
				closedir(d);
				free(fds);
				*n = 0;
				return -ENOMEM;
			}
			fds = p;
			cap = 2 * (cap + 8);
		}
		fds[(*n)++] = (int)fd;
	}
	closedir(d);
	*out = fds;
	return 0;
}

static bool
fd_in(int fd, const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/*
 * curl_multi_init() with the sockets it opens marked close-on-exec: its
 * wake-up socketpair, which no option reaches. Sockets open before are left
 * as they were.
 */
static CURLM *
multi_init_cloexec(void)
{
	int *before = NULL, *after = NULL, nbefore = 0, nafter = 0;
	bool scanned = socket_fds(&before, &nbefore) == 0;
	CURLM *multi = curl_multi_init();

	if (multi != NULL && scanned && socket_fds(&after, &nafter) == 0) {
		for (int i = 0; i < nafter; i++)
			if (!fd_in(after[i], before, nbefore))
				set_cloexec(after[i]);
	}
	free(before);
	free(after);
	return multi;
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *hs = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			curl_multi_assign(h->multi, s, NULL);
			sock_close(hs);
		}
		return 0;
	}
	if (hs == NULL) {
		/* Connections are born close-on-exec; this catches curl's resolver socketpair. */
		set_cloexec(s);
		hs = xcalloc(1, sizeof(*hs));
		hs->h = h;
		hs->fd = s;
		if (uv_poll_init_socket(h->loop, &hs->poll, s) < 0) {
			free(hs);
			return -1;
		}
		h->handles++;
		hs->next = h->socks;
		if (h->socks != NULL)
			h->socks->prev = hs;
		h->socks = hs;
		curl_multi_assign(h->multi, s, hs);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&hs->poll, events, on_poll) < 0)
		return -1;
	return 0;
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	if (h->closing)
		return 0;
	/* Never act from inside curl: a 0 timeout fires on the next loop turn. */
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_call *c = userp;
	size_t n = size * nmemb;

	if (n > c->max - c->len) {
		c->too_large = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *p;

		while (cap < c->len + n + 1)
			cap *= 2;
		p = realloc(c->body, cap);
		if (p == NULL)
			return 0;
		c->body = p;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	c->body[c->len] = '\0';
	return n;
}

static time_t
http_date(const char *s)
{
	return curl_getdate(s, NULL);
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_call *c = userp;
	size_t n = size * nmemb;

	http_header_read(&c->hdr, data, n, time(NULL), http_date);
	return n;
}

static enum http_result
classify(struct http_call *c, CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		return HTTP_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_RESOLVE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return HTTP_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return c->too_large ? HTTP_TOO_LARGE : HTTP_OTHER;
	default:
		return HTTP_OTHER;
	}
}

static void
call_unlink(struct http_call *c)
{
	struct http *h = c->h;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	h->ncalls--;
}

static void
call_free(struct http_call *c)
{
	if (c->easy != NULL) {
		curl_multi_remove_handle(c->h->multi, c->easy);
		curl_easy_cleanup(c->easy);
	}
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c);
}

/*
 * The reason a person reads in status. A connect failure with no answer to
 * the CONNECT at all is the proxy's, not the cloud's: say so (never the
 * proxy's URL, which may carry a password).
 */
static void
describe_error(struct http_call *c, CURLcode code, struct http_response *resp)
{
	const char *why = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
	long connect_code = 0;

	if (resp->result == HTTP_TOO_LARGE) {
		snprintf(resp->error, sizeof(resp->error), "response body over %zu bytes", c->max);
		return;
	}
	if (c->proxied && resp->result == HTTP_CONNECT &&
	    curl_easy_getinfo(c->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
	    connect_code == 0) {
		/* Cut rather than overflow: the reason is for a person. */
		snprintf(resp->error, sizeof(resp->error), "proxy: %.*s",
		    (int)sizeof(resp->error) - 8, why);
		return;
	}
	snprintf(resp->error, sizeof(resp->error), "%s", why);
}

static void
finish(struct http_call *c, CURLcode code)
{
	struct http_response resp;
	long status = 0;

	memset(&resp, 0, sizeof(resp));
	resp.result = classify(c, code);
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	resp.status = status;
	resp.body = c->body != NULL ? c->body : "";
	resp.body_len = c->len;
	resp.date_s = c->hdr.date_s;
	resp.retry_after_s = c->hdr.retry_after_s;
	util_strlcpy(resp.request_id, c->hdr.request_id, sizeof(resp.request_id));
	if (resp.result != HTTP_OK) {
		describe_error(c, code, &resp);
		resp.body = "";
		resp.body_len = 0;
	}
	resp.elapsed_ms = uv_now(c->h->loop) - c->started;
	call_unlink(c);
	c->cb(c->arg, &resp);
	call_free(c);
}

static void
check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while (!h->closing && (msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_call *c = NULL;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c != NULL)
			finish(c, code);
	}
}

static bool
header_ok(const char *line)
{
	if (line == NULL || strchr(line, ':') == NULL)
		return false;
	for (const char *p = line; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return false; /* no header injection */
	return true;
}

#define SETOPT(easy, opt, val)                                                                     \
	do {                                                                                       \
		if (curl_easy_setopt((easy), (opt), (val)) != CURLE_OK) {                          \
			rc = -EINVAL;                                                              \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)

/* A request we can send; refused before anything is allocated. */
static int
request_check(const struct http *h, const struct http_request *req, http_done_cb cb)
{
	int rc = 0;

	if (h->closing)
		rc = -ESHUTDOWN;
	else if (req->url == NULL || req->method == NULL || cb == NULL || req->nheaders < 0 ||
	    req->nheaders > HTTP_MAX_HEADERS)
		rc = -EINVAL;
	for (int i = 0; rc == 0 && i < req->nheaders; i++)
		if (!header_ok(req->headers[i]))
			rc = -EINVAL;
	return rc;
}

static struct http_call *
call_new(struct http *h, const struct http_request *req, http_done_cb cb, void *arg)
{
	struct http_call *c = xcalloc(1, sizeof(*c));

	c->h = h;
	c->cb = cb;
	c->arg = arg;
	c->max = req->max_body ? req->max_body : HTTP_BODY_MAX;
	http_header_reset(&c->hdr);
	c->started = uv_now(h->loop);
	return c;
}

/* The easy handle, wired to this call: callbacks, limits, timeouts. */
static int
call_easy_init(struct http_call *c, const struct http_request *req)
{
	uint64_t timeout = req->timeout_ms ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	int rc = 0;

	if ((c->easy = curl_easy_init()) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	SETOPT(c->easy, CURLOPT_URL, req->url);
	SETOPT(c->easy, CURLOPT_PRIVATE, (char *)c);
	SETOPT(c->easy, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(c->easy, CURLOPT_WRITEDATA, c);
	SETOPT(c->easy, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(c->easy, CURLOPT_HEADERDATA, c);
	SETOPT(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(c->easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c->easy, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	SETOPT(c->easy, CURLOPT_OPENSOCKETDATA, c->h);
	SETOPT(c->easy, CURLOPT_TIMEOUT_MS, (long)timeout);
	SETOPT(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	SETOPT(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(c->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max);
	SETOPT(c->easy, CURLOPT_USERAGENT, "smsguard/" SMSGUARD_VERSION);
fail:
	return rc;
}

static int
call_set_tls_proxy(struct http_call *c, const struct http_request *req)
{
	int rc = 0;

	/* Verification is never turned off; these only make that explicit. */
	SETOPT(c->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		SETOPT(c->easy, CURLOPT_CAINFO, req->ca_file);
	/* Only the configured proxy: a daemon should not depend on its environment. */
	SETOPT(c->easy, CURLOPT_PROXY, req->proxy != NULL ? req->proxy : "");
	c->proxied = req->proxy != NULL && req->proxy[0] != '\0';
fail:
	return rc;
}

static int
call_add_header(struct http_call *c, const char *line)
{
	struct curl_slist *l = curl_slist_append(c->headers, line);

	if (l != NULL)
		c->headers = l;
	return l != NULL ? 0 : -ENOMEM;
}

static int
call_set_headers(struct http_call *c, const struct http_request *req)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < req->nheaders; i++)
		rc = call_add_header(c, req->headers[i]);
	/* No "Expect: 100-continue" round trip for our small bodies. */
	if (rc == 0)
		rc = call_add_header(c, "Expect:");
	if (rc < 0)
		goto fail;
	SETOPT(c->easy, CURLOPT_HTTPHEADER, c->headers);
fail:
	return rc;
}

static int
call_set_body(struct http_call *c, const struct http_request *req)
{
	bool get = strcmp(req->method, "GET") == 0;
	bool post = strcmp(req->method, "POST") == 0;
	int rc = 0;

	if (get)
		SETOPT(c->easy, CURLOPT_HTTPGET, 1L);
	else if (post)
		SETOPT(c->easy, CURLOPT_POST, 1L);
	else
		SETOPT(c->easy, CURLOPT_CUSTOMREQUEST, req->method);
	/* A GET sends no body; a POST always does, if only an empty one. */
	if (!get && (req->body != NULL || post)) {
		SETOPT(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(c->easy, CURLOPT_COPYPOSTFIELDS, req->body != NULL ? req->body : "");
	}
fail:
	return rc;
}

/* Into the multi and the list of calls in flight: from here h owns the call. */
static int
call_register(struct http_call *c, uint64_t *id)
{
	struct http *h = c->h;
	int rc = 0;

	if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
		rc = -ENOMEM;
		goto fail;
	}
	c->id = ++h->next_id;
	c->next = h->calls;
	if (h->calls != NULL)
		h->calls->prev = c;
	h->calls = c;
	h->ncalls++;
	if (id != NULL)
		*id = c->id;
fail:
	return rc;
}

/* A call that never reached the multi (call_free is for those that did). */
static void
call_discard(struct http_call *c)
{
	if (c == NULL)
		return;
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	free(c);
}

static int
transport_submit(struct http_transport *t, const struct http_request *req, http_done_cb cb,
    void *arg, uint64_t *id)
{
	struct http *h = (struct http *)t;
	struct http_call *c = NULL;
	int rc;

	if ((rc = request_check(h, req, cb)) < 0)
		goto fail;
	c = call_new(h, req, cb, arg);
	if ((rc = call_easy_init(c, req)) < 0 || (rc = call_set_tls_proxy(c, req)) < 0 ||
	    (rc = call_set_headers(c, req)) < 0 || (rc = call_set_body(c, req)) < 0 ||
	    (rc = call_register(c, id)) < 0)
		goto fail;
	return 0;
fail:
	call_discard(c);
	return rc;
}

static void
transport_cancel(struct http_transport *t, uint64_t id)
{
	struct http *h = (struct http *)t;

	for (struct http_call *c = h->calls; c != NULL; c = c->next) {
		if (c->id == id) {
			call_unlink(c);
			call_free(c);
			return;
		}
	}
}

static void
transport_close(struct http_transport *t, void (*cb)(void *), void *arg)
{
	struct http *h = (struct http *)t;

	if (h->closing)
		return;
	h->closing = true;
	h->close_cb = cb;
	h->close_arg = arg;
	while (h->calls != NULL) {
		struct http_call *c = h->calls;

		call_unlink(c);
		call_free(c);
	}
	/* Cleanup may still tell on_socket to drop sockets; any left are closed below. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (h->socks != NULL)
		sock_close(h->socks);
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

int
http_inflight(const struct http_transport *t)
{
	return ((const struct http *)t)->ncalls;
}

int
http_new(uv_loop_t *loop, struct http_transport **out)
{
	static bool global_done;
	struct http *h;
	int rc;

	*out = NULL;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		global_done = true;
	}
	h = xcalloc(1, sizeof(*h));
	h->iface.submit = transport_submit;
	h->iface.cancel = transport_cancel;
	h->iface.close = transport_close;
	h->loop = loop;
	if ((h->multi = multi_init_cloexec()) == NULL) {
		free(h);
		return -ENOMEM;
	}
	if ((rc = uv_timer_init(loop, &h->timer)) < 0) {
		curl_multi_cleanup(h->multi);
		free(h);
		return rc;
	}
	h->handles = 1;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = &h->iface;
	return 0;
}
