/*
 * HTTP(S) on the event loop: libcurl's multi interface driven by libuv.
 * The transport is a struct of function pointers so tests (and anything
 * else) can replace it; http_new() makes the real one, the only code in
 * smsguard that includes curl/curl.h.
 *
 * Lifetime: submit() returns 0 and then calls cb exactly once, or returns a
 * negative errno and never calls it. cancel() stops a request; its cb is not
 * called. close() cancels everything in flight (no callbacks) and calls its
 * own cb once every handle is closed; the transport is freed then.
 * TLS peer and host verification is always on.
 */
#ifndef SMSGUARD_HTTP_H
#define SMSGUARD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define HTTP_BODY_MAX (1024 * 1024) /* default response body cap */
#define HTTP_ERROR_MAX 256
#define HTTP_MAX_HEADERS 16

enum http_result {
	HTTP_OK = 0, /* a response arrived, whatever its status */
	HTTP_TIMEOUT,
	HTTP_CONNECT,
	HTTP_TLS,
	HTTP_RESOLVE,
	HTTP_TOO_LARGE,
	HTTP_OTHER,
	HTTP_RESULT_COUNT,
};

/* "ok", "timeout", "connect", "tls", "resolve", "too_large", "other". */
const char *http_result_name(enum http_result r);

struct http_request {
	const char *method; /* "GET", "POST" */
	const char *url;
	/* "Name: value" lines, sent as given (Host included when set). */
	const char *headers[HTTP_MAX_HEADERS];
	int nheaders;
	const void *body; /* copied at submit */
	size_t body_len;
	uint64_t timeout_ms; /* the whole request; 0 = 15 s */
	const char *ca_file; /* NULL = the system's trust store */
	const char *proxy;   /* NULL = none (the environment's *_proxy is ignored) */
	size_t max_body;     /* 0 = HTTP_BODY_MAX */
};

struct http_response {
	enum http_result result;
	long status;      /* 0 without a response */
	const char *body; /* NUL-terminated, valid during the callback only */
	size_t body_len;
	int64_t date_s;             /* the Date header as Unix seconds; -1 absent */
	int64_t retry_after_s;      /* Retry-After in seconds from now; -1 absent */
	char request_id[128];       /* X-Request-Id; "" absent */
	char error[HTTP_ERROR_MAX]; /* libcurl's reason when result != HTTP_OK */
	uint64_t elapsed_ms;
};

typedef void (*http_done_cb)(void *arg, const struct http_response *resp);

struct http_transport {
	int (*submit)(struct http_transport *t, const struct http_request *req, http_done_cb cb,
	    void *arg, uint64_t *id);
	void (*cancel)(struct http_transport *t, uint64_t id);
	void (*close)(struct http_transport *t, void (*cb)(void *arg), void *arg);
};

static inline int
http_submit(struct http_transport *t, const struct http_request *req, http_done_cb cb, void *arg,
    uint64_t *id)
{
	return t->submit(t, req, cb, arg, id);
}

static inline void
http_cancel(struct http_transport *t, uint64_t id)
{
	t->cancel(t, id);
}

static inline void
http_close(struct http_transport *t, void (*cb)(void *arg), void *arg)
{
	t->close(t, cb, arg);
}

/* The real transport on loop. Returns 0 or a negative errno. */
int http_new(uv_loop_t *loop, struct http_transport **out);

/* Requests in flight on the real transport (for tests and status). */
int http_inflight(const struct http_transport *t);

#endif
