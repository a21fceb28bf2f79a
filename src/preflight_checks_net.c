/*
 * Preflight's network checks (DESIGN.md §5.11): a TCP connect to each
 * target port and to the SMS endpoint (or the proxy), the endpoint's name
 * lookup, one HTTPS request with verification whose Date measures the
 * clock, a signed request through the cloud client that also reads the
 * source's `connected` flag, and the SMN endpoint when a topic is set.
 */
#define LOG_TAG "preflight"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight-internal.h"
#include "smsguard/cloud.h"
#include "smsguard/log.h"
#include "smsguard/sign.h"
#include "smsguard/util.h"

#define ADDR_TEXT 64

/* An address's text, "1.2.3.4" or "::1". */
static void
addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa->sa_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)sa, buf, len);
	else
		uv_ip4_name((const struct sockaddr_in *)sa, buf, len);
}

static bool
is_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int
lookup(struct pf_job *j, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (is_address(host))
		hints.ai_flags = AI_NUMERICHOST;
	if ((rc = uv_getaddrinfo(j->run->loop, req, cb, host, NULL, &hints)) == 0)
		pf_job_hold(j);
	return rc;
}

/* ------------------------------------------------------- TCP connects */

/* A connect to host:port, each of its addresses in turn until one answers. */
struct pf_connect {
	struct pf_job job;
	struct pf_check *check;
	char host[PROBE_MAX_ADDRESS];
	uint16_t port;
	bool sms;   /* sms_tcp, rather than a target port */
	bool proxy; /* sms_tcp through the proxy */
	uv_getaddrinfo_t gai;
	bool gai_out;
	struct addrinfo *ai, *cur;
	uv_tcp_t tcp;
	uv_connect_t req;
	bool tcp_open;
	int err; /* the last failure */
	char addr[ADDR_TEXT];
	uint64_t t0;
};

static void connect_next(struct pf_connect *k);

static void
connect_judge(struct pf_connect *k, int err, double ms)
{
	uint64_t to = PREFLIGHT_CONNECT_TIMEOUT_MS;

	if (k->sms)
		pf_judge_sms_tcp(k->check, k->host, k->port, k->proxy, err,
		    k->addr[0] != '\0' ? k->addr : NULL, ms, to);
	else
		pf_judge_target_port(k->check, k->host, k->port, err, ms, to);
	pf_job_finish(&k->job);
}

static void
connect_closed(uv_handle_t *h)
{
	struct pf_connect *k = container_of(h, struct pf_connect, tcp);

	k->tcp_open = false;
	/* The next address, unless this one answered or the job is over. */
	if (!k->job.finished)
		connect_next(k);
	pf_job_release(&k->job);
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct pf_connect *k = container_of(req, struct pf_connect, req);
	double ms = pf_ms_since(k->t0);

	if (k->job.finished || status == UV_ECANCELED)
		return;
	if (status == 0)
		connect_judge(k, 0, ms);
	else
		k->err = status;
	k->cur = k->cur->ai_next;
	uv_close((uv_handle_t *)&k->tcp, connect_closed);
}

/* Tries the next address; judges when none is left. */
static void
connect_next(struct pf_connect *k)
{
	int rc;

	if (k->cur == NULL) {
		connect_judge(k, k->err != 0 ? k->err : -ENOENT, 0);
		return;
	}
	addr_text(k->cur->ai_addr, k->addr, sizeof(k->addr));
	uv_tcp_init(k->job.run->loop, &k->tcp);
	k->tcp_open = true;
	pf_job_hold(&k->job);
	k->t0 = uv_hrtime();
	if ((rc = uv_tcp_connect(&k->req, &k->tcp, k->cur->ai_addr, connect_cb)) != 0) {
		k->err = rc;
		k->cur = k->cur->ai_next;
		uv_close((uv_handle_t *)&k->tcp, connect_closed);
	}
}

static void
connect_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pf_connect *k = container_of(req, struct pf_connect, gai);

	k->gai_out = false;
	k->ai = k->cur = res;
	if (!k->job.finished && status != 0) {
		connect_judge(k, -ENOENT, 0);
	} else if (!k->job.finished) {
		for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
			if (a->ai_family == AF_INET6)
				((struct sockaddr_in6 *)a->ai_addr)->sin6_port = htons(k->port);
			else if (a->ai_family == AF_INET)
				((struct sockaddr_in *)a->ai_addr)->sin_port = htons(k->port);
		}
		connect_next(k);
	}
	pf_job_release(&k->job);
}

static void
connect_expire(struct pf_job *j)
{
	struct pf_connect *k = container_of(j, struct pf_connect, job);

	connect_judge(k, -ETIMEDOUT, 0);
}

static void
connect_cancel(struct pf_job *j)
{
	struct pf_connect *k = container_of(j, struct pf_connect, job);

	if (k->gai_out)
		uv_cancel((uv_req_t *)&k->gai);
	if (k->tcp_open && !uv_is_closing((uv_handle_t *)&k->tcp))
		uv_close((uv_handle_t *)&k->tcp, connect_closed);
}

static void
connect_free(struct pf_job *j)
{
	struct pf_connect *k = container_of(j, struct pf_connect, job);

	if (k->ai != NULL)
		uv_freeaddrinfo(k->ai);
	free(k);
}

static void
connect_start(
    struct pf_run *run, struct pf_check *c, const char *host, uint16_t port, bool sms, bool proxy)
{
	struct pf_connect *k = xcalloc(1, sizeof(*k));
	int rc;

	k->check = c;
	util_strlcpy(k->host, host, sizeof(k->host));
	k->port = port;
	k->sms = sms;
	k->proxy = proxy;
	k->job.expire = connect_expire;
	k->job.cancel = connect_cancel;
	k->job.free = connect_free;
	pf_job_init(run, &k->job, PREFLIGHT_CONNECT_TIMEOUT_MS);
	if ((rc = lookup(&k->job, &k->gai, connect_gai_cb, host)) != 0)
		connect_judge(k, -ENOENT, 0);
	else
		k->gai_out = true;
}

static void
start_target_ports(struct pf_run *run)
{
	char name[PF_NAME_MAX];
	struct pf_check *c;

	if (!run->has_target)
		return; /* judged unknown when the run was planned */
	for (int i = 0; i < run->nports; i++) {
		snprintf(name, sizeof(name), "target_port_%u", run->ports[i]);
		if ((c = pf_run_check(run, name)) != NULL)
			connect_start(run, c, run->target, run->ports[i], false, false);
	}
}

/* -------------------------------------------------------- name lookup */

struct pf_dns {
	struct pf_job job;
	struct pf_check *check;
	char host[256];
	bool proxy;
	uv_getaddrinfo_t gai;
	bool gai_out;
	uint64_t t0;
};

static void
dns_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pf_dns *q = container_of(req, struct pf_dns, gai);
	uint64_t to = PREFLIGHT_CONNECT_TIMEOUT_MS;
	char a[ADDR_TEXT];

	q->gai_out = false;
	if (!q->job.finished) {
		if (status != 0) {
			pf_judge_dns(
			    q->check, q->host, q->proxy, -ENOENT, uv_strerror(status), NULL, 0, to);
		} else {
			addr_text(res->ai_addr, a, sizeof(a));
			pf_judge_dns(
			    q->check, q->host, q->proxy, 0, NULL, a, pf_ms_since(q->t0), to);
		}
		pf_job_finish(&q->job);
	}
	if (res != NULL)
		uv_freeaddrinfo(res);
	pf_job_release(&q->job);
}

static void
dns_expire(struct pf_job *j)
{
	struct pf_dns *q = container_of(j, struct pf_dns, job);

	pf_judge_dns(
	    q->check, q->host, q->proxy, -ETIMEDOUT, NULL, NULL, 0, PREFLIGHT_CONNECT_TIMEOUT_MS);
}

static void
dns_cancel(struct pf_job *j)
{
	struct pf_dns *q = container_of(j, struct pf_dns, job);

	if (q->gai_out)
		uv_cancel((uv_req_t *)&q->gai);
}

static void
dns_free(struct pf_job *j)
{
	free(container_of(j, struct pf_dns, job));
}

static void
dns_start(struct pf_run *run, struct pf_check *c, const char *host, bool proxy)
{
	struct pf_dns *q;
	int rc;

	if (is_address(host)) {
		pf_judge_dns(c, host, proxy, 0, NULL, NULL, 0, 0);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->check = c;
	util_strlcpy(q->host, host, sizeof(q->host));
	q->proxy = proxy;
	q->job.expire = dns_expire;
	q->job.cancel = dns_cancel;
	q->job.free = dns_free;
	pf_job_init(run, &q->job, PREFLIGHT_CONNECT_TIMEOUT_MS);
	q->t0 = uv_hrtime();
	if ((rc = lookup(&q->job, &q->gai, dns_cb, host)) != 0) {
		pf_judge_dns(c, host, proxy, rc, uv_strerror(rc), NULL, 0, 0);
		pf_job_finish(&q->job);
	} else {
		q->gai_out = true;
	}
}

/* ---------------------------------------------------------- HTTPS */

/* One request to an endpoint's root: any answer proves the verified TLS. */
struct pf_https {
	struct pf_job job;
	struct pf_check *check; /* sms_tls or smn */
	struct pf_check *clock; /* clock_skew, or NULL */
	char host[256];
	bool plain;
	uint64_t id;
	bool out;
};

static enum pf_http_end
http_end(enum http_result r)
{
	switch (r) {
	case HTTP_OK:
	case HTTP_TOO_LARGE: /* the headers came: TLS was done */
		return PF_HTTP_ANSWERED;
	case HTTP_TIMEOUT:
		return PF_HTTP_TIMEOUT;
	case HTTP_CONNECT:
		return PF_HTTP_CONNECT;
	case HTTP_TLS:
		return PF_HTTP_TLS;
	case HTTP_RESOLVE:
		return PF_HTTP_RESOLVE;
	default:
		return PF_HTTP_OTHER;
	}
}

static void
https_judge(struct pf_https *q, const struct pf_http *h, bool dated, int64_t skew_ms)
{
	if (q->clock != NULL) {
		pf_judge_tls(q->check, q->host, q->plain, h);
		pf_judge_clock(q->clock, dated, skew_ms);
	} else {
		pf_judge_smn(q->check, q->host, h);
	}
	pf_job_finish(&q->job);
}

static void
https_cb(void *arg, const struct http_response *resp)
{
	struct pf_https *q = arg;
	struct pf_http h = {
	    http_end(resp->result), resp->status, resp->error, (double)resp->elapsed_ms};
	/* Date has whole seconds: its middle is the best guess of the gateway's time. */
	int64_t skew = util_wall_ms() - (resp->date_s * 1000 + 500);

	q->out = false;
	if (!q->job.finished)
		https_judge(q, &h, resp->result == HTTP_OK && resp->date_s >= 0, skew);
	pf_job_release(&q->job);
}

static void
https_expire(struct pf_job *j)
{
	struct pf_https *q = container_of(j, struct pf_https, job);
	struct pf_http h = {PF_HTTP_TIMEOUT, 0, NULL, PREFLIGHT_HTTP_TIMEOUT_MS};

	https_judge(q, &h, false, 0);
}

static void
https_cancel(struct pf_job *j)
{
	struct pf_https *q = container_of(j, struct pf_https, job);

	if (q->out) {
		http_cancel(j->run->http, q->id);
		q->out = false;
		pf_job_release(j);
	}
}

static void
https_free(struct pf_job *j)
{
	free(container_of(j, struct pf_https, job));
}

static void
https_start(struct pf_run *run, struct pf_check *c, struct pf_check *clock, const char *base)
{
	struct pf_https *q = xcalloc(1, sizeof(*q));
	struct http_request req;
	struct pf_http h = {PF_HTTP_OTHER, 0, NULL, 0};
	uint16_t port;
	bool tls;
	char *url = xasprintf("%s/", base);
	int rc = -EINVAL;

	q->check = c;
	q->clock = clock;
	if (pf_url_hostport(base, q->host, sizeof(q->host), &port, &tls) < 0)
		util_strlcpy(q->host, base, sizeof(q->host));
	q->plain = !tls;
	q->job.expire = https_expire;
	q->job.cancel = https_cancel;
	q->job.free = https_free;
	/* The transport's own timeout first: its reason is better than ours. */
	pf_job_init(run, &q->job, PREFLIGHT_HTTP_TIMEOUT_MS + 500);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.timeout_ms = PREFLIGHT_HTTP_TIMEOUT_MS;
	req.ca_file = run->ca_file;
	req.proxy = run->proxy;
	req.max_body = 64 * 1024;
	/* Unsigned, so no 401 silence holds it; a Retry-After is for everyone (DESIGN §5.3). */
	if (clock != NULL && cloud_call_allowed(run->cloud) == -EAGAIN) {
		h.end = PF_HTTP_HELD;
		https_judge(q, &h, false, 0);
	} else if (run->http != NULL &&
	    (rc = http_submit(run->http, &req, https_cb, q, &q->id)) == 0) {
		q->out = true;
		pf_job_hold(&q->job);
	} else {
		h.error = run->http == NULL ? "no HTTP transport" : strerror(-rc);
		https_judge(q, &h, false, 0);
	}
	free(url);
}

/* ------------------------------------------------- the signed request */

/* GET /v3/sources (this host's source by id when the task is known): credentials and `connected`. */
struct pf_signed {
	struct pf_job job;
	struct pf_check *auth;
	struct pf_check *connected; /* may be NULL */
	char source_id[SMS_ID_MAX + 1];
	uint64_t id;
	bool out;
	bool found;
	enum sms_tristate conn;
	uint64_t t0;
};

#define SIGNED_REQUEST "GET /v3/sources"

static int
signed_parse(void *arg, const struct http_response *resp, char **cause)
{
	struct pf_signed *q = arg;
	struct sms_source *list = NULL;
	int n = 0, rc;

	if ((rc = sms_source_list_parse(resp->body, resp->body_len, &list, &n, cause)) < 0)
		return rc;
	for (int i = 0; i < n && !q->found; i++) {
		if (strcmp(list[i].id, q->source_id) == 0) {
			q->found = true;
			q->conn = list[i].connected;
		}
	}
	free(list);
	return 0;
}

/* What a cloud_result means for the credentials (pf_auth's rc): a 403 is a refusal of rights. */
static int
signed_rc(enum cloud_result res, long status)
{
	if (res == CLOUD_RES_CLIENT_ERROR)
		return status == 403 ? -EPERM
		                     : -EINVAL; /* a 404 here says nothing about the keys */
	return cloud_result_errno(res, status);
}

static void
signed_connected(struct pf_signed *q, int rc)
{
	if (q->connected == NULL)
		return;
	if (q->source_id[0] == '\0')
		pf_judge_connected(q->connected, SMS_ABSENT, NULL,
		    "the task is not polled yet, so its source is not known");
	else if (rc == 0 && q->found)
		pf_judge_connected(q->connected, q->conn, q->source_id,
		    "SMS does not say whether the source is connected");
	else if (rc == 0)
		pf_judge_connected(
		    q->connected, SMS_ABSENT, q->source_id, "SMS does not list this source");
	else
		pf_judge_connected(q->connected, SMS_ABSENT, q->source_id,
		    "the signed request failed (see sms_auth)");
}

static void
signed_answer(
    void *arg, enum cloud_result res, const struct http_response *resp, const struct sms_error *err)
{
	struct pf_signed *q = arg;
	struct pf_auth a = {signed_rc(res, resp->status), resp->status, err->code,
	    err->msg[0] != '\0' ? err->msg : resp->error, SIGNED_REQUEST, pf_ms_since(q->t0)};
	const char *creds = q->job.run->credentials;

	q->out = false;
	if (!q->job.finished) {
		pf_judge_auth(q->auth, &a, creds);
		signed_connected(q, res == CLOUD_RES_OK ? 0 : -EIO);
		pf_job_finish(&q->job);
	}
	pf_job_release(&q->job);
}

static void
signed_expire(struct pf_job *j)
{
	struct pf_signed *q = container_of(j, struct pf_signed, job);
	struct pf_auth a = {-ETIMEDOUT, 0, "", "", SIGNED_REQUEST, 0};

	pf_judge_auth(q->auth, &a, j->run->credentials);
	signed_connected(q, -ETIMEDOUT);
}

static void
signed_cancel(struct pf_job *j)
{
	struct pf_signed *q = container_of(j, struct pf_signed, job);

	if (q->out) {
		cloud_cancel(j->run->cloud, q->id);
		q->out = false;
		pf_job_release(j);
	}
}

static void
signed_free(struct pf_job *j)
{
	free(container_of(j, struct pf_signed, job));
}

/* The gateway's code in the cloud client's last error ("… HTTP 401 APIGW.0301: …"). */
static void
last_refusal(struct cloud *cloud, char *code, size_t len)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *e;
	const char *p;

	code[0] = '\0';
	cloud_status_json(cloud, o);
	e = cJSON_GetObjectItemCaseSensitive(o, "last_error");
	if (cJSON_IsString(e) && (p = strstr(e->valuestring, "APIGW.")) != NULL &&
	    strspn(p + 6, "0123456789") == 4 && len > 10)
		snprintf(code, len, "%.10s", p);
	cJSON_Delete(o);
}

/* cloud_send() refused at once: a silence runs, or the client is closing. */
static void
signed_refused(struct pf_signed *q, int rc)
{
	struct pf_auth a = {rc, 0, "", "", SIGNED_REQUEST, 0};
	char code[16];

	if (rc == -EACCES) {
		last_refusal(q->job.run->cloud, code, sizeof(code));
		a.rc = -ESHUTDOWN;
		a.code = code;
	} else if (rc != -EAGAIN) {
		a.rc = -EIO;
		a.msg = strerror(-rc);
	}
	pf_judge_auth(q->auth, &a, q->job.run->credentials);
	signed_connected(q, a.rc);
	pf_job_finish(&q->job);
}

static void
signed_start(struct pf_run *run, struct pf_check *auth, struct pf_check *connected)
{
	struct pf_signed *q = xcalloc(1, sizeof(*q));
	struct cloud_call call = {.api = CLOUD_API_LIST_SOURCES,
	    .method = "GET",
	    .path = "/v3/sources",
	    .parse = signed_parse,
	    .answer = signed_answer,
	    .arg = q};
	char *query = NULL, *enc;
	int rc;

	q->auth = auth;
	q->connected = connected;
	if (run->task_known)
		util_strlcpy(q->source_id, run->task.source_id, sizeof(q->source_id));
	q->job.expire = signed_expire;
	q->job.cancel = signed_cancel;
	q->job.free = signed_free;
	pf_job_init(run, &q->job, PREFLIGHT_HTTP_TIMEOUT_MS);
	if (q->source_id[0] != '\0') {
		enc = sign_uri_encode(q->source_id, strlen(q->source_id));
		query = xasprintf("id=%s&limit=1", enc);
		free(enc);
	}
	call.query = query != NULL ? query : "limit=1";
	q->t0 = uv_hrtime();
	if ((rc = cloud_send(run->cloud, &call, &q->id)) == 0) {
		q->out = true;
		pf_job_hold(&q->job);
	} else {
		signed_refused(q, rc);
	}
	free(query);
}

/* ------------------------------------------------------------ starter */

void
pf_start_net(struct pf_run *run)
{
	struct pf_check *dns = pf_run_check(run, "sms_dns"), *tcp = pf_run_check(run, "sms_tcp");
	struct pf_check *smn = pf_run_check(run, "smn");
	char host[256], phost[256];
	uint16_t port, pport;
	bool tls, ptls;

	start_target_ports(run);
	if (pf_url_hostport(run->endpoint, host, sizeof(host), &port, &tls) < 0) {
		util_strlcpy(host, run->endpoint, sizeof(host));
		port = 443;
	}
	if (run->proxy != NULL &&
	    pf_url_hostport(run->proxy, phost, sizeof(phost), &pport, &ptls) == 0) {
		dns_start(run, dns, phost, true);
		connect_start(run, tcp, phost, pport, true, true);
	} else {
		dns_start(run, dns, host, false);
		connect_start(run, tcp, host, port, true, false);
	}
	https_start(
	    run, pf_run_check(run, "sms_tls"), pf_run_check(run, "clock_skew"), run->endpoint);
	signed_start(run, pf_run_check(run, "sms_auth"), pf_run_check(run, "agent_connected"));
	if (smn != NULL && run->smn != NULL)
		https_start(run, smn, NULL, run->smn);
}
