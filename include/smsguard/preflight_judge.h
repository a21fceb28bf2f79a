/*
 * Preflight's judgement (DESIGN.md §5.11): what the SMS documentation says
 * breaks a migration (reference §6, §9, §10), turned from a measurement into
 * a verdict, the words a person reads, the remedy and the SMS error code it
 * prevents. Pure: the checks' measurements come in as values (preflight.c
 * and preflight_checks_*.c take them on the loop), the report goes out as
 * the JSON object of §5.11. Also the parsers of what `ip route get` and
 * `tc qdisc show` print.
 *
 * Every text that came from outside (a cloud error message, a program's
 * output, libcurl's reason) is cut and stripped of control characters here,
 * so the report is safe to log and to print.
 */
#ifndef SMSGUARD_PREFLIGHT_JUDGE_H
#define SMSGUARD_PREFLIGHT_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "smsguard/config.h"
#include "smsguard/observe.h"
#include "smsguard/sms.h"

enum pf_verdict {
	PF_OK = 0,
	PF_WARN,
	PF_FAIL,
	PF_VERDICT_COUNT,
};

#define PF_NAME_MAX 24 /* "target_port_65535" */
#define PF_TEXT_MAX 400
#define PF_CODE_MAX 16
/* Every named check once, and one target_port_<N> per port. */
#define PF_MAX_CHECKS (CONFIG_MAX_PORTS + 16)
#define PF_TRIGGER_MAX 16

/*
 * Thresholds. /tmp: SMS-Agent's start-up unpacks ~40 MB and needs 100 MB
 * (reference §9). The agent's logs grow during a migration: below 100 MB
 * it stops logging, below 1 GB a long migration may get there. The clock:
 * a minute off means nothing keeps it in time; the API gateway refuses a
 * signature 15 minutes off (reference §1). A connect slower than a second
 * is a link SMS's transfers will struggle on.
 */
#define PF_TMP_FAIL_BYTES ((uint64_t)100 << 20)
#define PF_TMP_WARN_BYTES ((uint64_t)200 << 20)
#define PF_LOG_FAIL_BYTES ((uint64_t)100 << 20)
#define PF_LOG_WARN_BYTES ((uint64_t)1 << 30)
#define PF_SKEW_WARN_MS ((int64_t)60 * 1000)
#define PF_SKEW_FAIL_MS ((int64_t)15 * 60 * 1000)
#define PF_SLOW_CONNECT_MS 1000.0

struct pf_check {
	char name[PF_NAME_MAX];
	enum pf_verdict verdict;
	char measured[PF_TEXT_MAX];
	char remedy[PF_TEXT_MAX];   /* "" = none (null in JSON); always "" when ok */
	char prevents[PF_CODE_MAX]; /* "SMS.NNNN", or "" (null) */
};

struct pf_report {
	int64_t ran_at_ms; /* wall clock when the run started */
	uint64_t took_ms;
	char trigger[PF_TRIGGER_MAX]; /* "start", "task_failed", "smsguardctl" */
	int n;
	struct pf_check checks[PF_MAX_CHECKS];
};

/* "ok", "warn", "fail". */
const char *pf_verdict_name(enum pf_verdict v);

/* ------------------------------------------------------------ the report */

void pf_report_init(struct pf_report *r, int64_t now_ms, const char *trigger);
/*
 * Appends the check called name, set to fail "no result" until a judge
 * fills it; NULL when the report is full.
 */
struct pf_check *pf_report_add(struct pf_report *r, const char *name);
/* The check called name, or NULL. */
const struct pf_check *pf_report_find(const struct pf_report *r, const char *name);
/* The worst verdict; ok for an empty report. */
enum pf_verdict pf_report_verdict(const struct pf_report *r);
/* How many checks have each verdict. */
void pf_report_count(const struct pf_report *r, int counts[PF_VERDICT_COUNT]);
/*
 * {"verdict":…,"ran_at":s,"checks":[{"name","verdict","measured","remedy",
 * "prevents"}…]}: exactly the object of DESIGN.md §5.11.
 */
cJSON *pf_report_json(const struct pf_report *r);
/*
 * The checks of now that fail and did not fail in before (or were not in
 * it; before may be NULL): their indexes in now, at most max. Returns how
 * many.
 */
int pf_report_newly_failed(
    const struct pf_report *before, const struct pf_report *now, int *idx, int max);
/*
 * The preflight_failed event for those checks: its message (one line) and
 * details {"trigger":…,"checks":[{name, measured, remedy, prevents}…]}.
 */
cJSON *pf_event(const struct pf_report *r, const int *idx, int n, char *msg, size_t len);

/* ----------------------------------------------------------- the judges */

/*
 * Errors are negative errnos (libuv's UV_E* on Linux): -ETIMEDOUT when the
 * check's own timeout cut it, -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH,
 * -ENOENT for a name that does not resolve; timeout_ms is the check's.
 */

/* target_port_<port>: a TCP connect from here to the target (reference §9). */
void pf_judge_target_port(
    struct pf_check *c, const char *addr, uint16_t port, int err, double ms, uint64_t timeout_ms);
/* target_port_<port> before the target's address is known. */
void pf_judge_target_unknown(struct pf_check *c, uint16_t port);
/* The SMS code a failed connect to this target port leads to, or NULL. */
const char *pf_port_prevents(uint16_t port, int err);

/*
 * sms_dns: host resolved to answer (the first address) in ms, or err with
 * the resolver's why; answer NULL: host is an address. proxy: host is the
 * proxy's.
 */
void pf_judge_dns(struct pf_check *c, const char *host, bool proxy, int err, const char *why,
    const char *answer, double ms, uint64_t timeout_ms);
/* sms_tcp: a TCP connect to host:port (the endpoint's, or the proxy's) at addr. */
void pf_judge_sms_tcp(struct pf_check *c, const char *host, uint16_t port, bool proxy, int err,
    const char *addr, double ms, uint64_t timeout_ms);

/* How an HTTPS request ended, without the transport's types. */
enum pf_http_end {
	PF_HTTP_ANSWERED = 0, /* a response came, whatever its status */
	PF_HTTP_TIMEOUT,
	PF_HTTP_CONNECT,
	PF_HTTP_TLS,
	PF_HTTP_RESOLVE,
	PF_HTTP_OTHER,
	PF_HTTP_HELD, /* not sent: the gateway's Retry-After still runs */
};

struct pf_http {
	enum pf_http_end end;
	long status;
	const char *error; /* the transport's reason; may be NULL */
	double ms;
};

/* sms_tls: a request to the endpoint over TLS with verification (reference §6 SMS.0304). */
void pf_judge_tls(struct pf_check *c, const char *host, bool plain_http, const struct pf_http *h);
/*
 * clock_skew: local minus the gateway's Date, in ms (measured false: no
 * Date came).
 */
void pf_judge_clock(struct pf_check *c, bool measured, int64_t skew_ms);
/* smn: the SMN endpoint reached over verified TLS. */
void pf_judge_smn(struct pf_check *c, const char *host, const struct pf_http *h);

/*
 * A signed request's outcome: rc 0 accepted, -EACCES a 401, -EPERM a 403,
 * -EAGAIN a 429 or a Retry-After still running, -ESHUTDOWN not sent
 * because a 401 silence runs (code and msg then say the last refusal, may be
 * empty), -EIO a 5xx or the transport, -ETIMEDOUT the check's timeout,
 * -EBADMSG an answer that does not parse.
 */
struct pf_auth {
	int rc;
	long status;
	const char *code; /* "APIGW.0301", "SMS.9004", or "" */
	const char *msg;
	const char *request; /* "GET /v3/sources" */
	double ms;
};

/* sms_auth: credentials_path names where the AK/SK come from. */
void pf_judge_auth(struct pf_check *c, const struct pf_auth *a, const char *credentials_path);
/*
 * agent_connected: connected as the cloud says it for source_id (SMS_ABSENT
 * with why: not read, and why not).
 */
void pf_judge_connected(
    struct pf_check *c, enum sms_tristate connected, const char *source_id, const char *why);
/* agent_running: the agent watch's state. */
void pf_judge_agent_running(
    struct pf_check *c, enum agent_state st, int pid, const char *process, const char *home);
/* agent_home: the home in use, or NULL. */
void pf_judge_agent_home(struct pf_check *c, const char *home, const char *configured);

/* tmp_space: free bytes (for an unprivileged user) where the agent unpacks, or err. */
void pf_judge_tmp_space(struct pf_check *c, const char *path, int err, uint64_t avail);
/* tmp_exec: whether that file system is mounted noexec (reference §9, SMS.5102). */
void pf_judge_tmp_exec(struct pf_check *c, const char *path, int err, bool noexec);

/* One place the agent writes its logs. */
struct pf_space {
	const char *path;
	int err;
	uint64_t avail;
};

/*
 * agent_log_space: the worst of the places (<home>/agent/Logs, /root for
 * the f2f_migrate logs); home_known false adds that the home's is missing.
 */
void pf_judge_log_space(struct pf_check *c, const struct pf_space *s, int n, bool home_known);

/* A program run to see that it works: its path (NULL: not on PATH). */
struct pf_program {
	const char *name;
	const char *path;
	const char *search; /* the PATH searched */
	int err;            /* spawn error, -ETIMEDOUT, or 0 */
	int64_t exit_status;
	int term_signal;
	const char *first_line; /* of its output */
};

/*
 * rsync: needed for a Linux file-level task (SMS.6517); required false (the
 * task's type is not known yet) makes a missing rsync a warning.
 */
void pf_judge_rsync(struct pf_check *c, const struct pf_program *p, bool required);

/* Whether a queueing discipline is there for tc to use. */
enum pf_qdisc_support {
	PF_QDISC_ABSENT = 0,
	PF_QDISC_BUILTIN_OR_LOADED, /* /sys/module/sch_X */
	PF_QDISC_MODULE,            /* in /lib/modules: loaded on first use */
};

/* tc: the program works and HTB or CBQ is there, since a rate limit is planned (SMS.9007). */
void pf_judge_tc(struct pf_check *c, const struct pf_program *p, enum pf_qdisc_support htb,
    enum pf_qdisc_support cbq, const char *planned);

/*
 * root_qdisc: dev is the interface the route to addr leaves by, kind and
 * handle its root qdisc (kind "" when the output showed none). err: the
 * step that failed (route or qdisc) with why.
 */
struct pf_qdisc {
	const char *addr;
	const char *dev;
	const char *kind;
	const char *handle;
	int err;
	const char *why; /* when err: what could not be done */
};

void pf_judge_root_qdisc(struct pf_check *c, const struct pf_qdisc *q, const char *planned);

/* --------------------------------------------------------------- helpers */

/*
 * "dev X" of `ip route get ADDR`'s output into dev; false when there is
 * none or it is not a plausible interface name.
 */
bool pf_parse_route_dev(const char *out, char *dev, size_t len);
/*
 * The root qdisc in `tc qdisc show dev X`'s output: 1 with kind and handle
 * ("htb", "1:"), 0 when no line says root.
 */
int pf_parse_root_qdisc(const char *out, char *kind, size_t klen, char *handle, size_t hlen);
/*
 * Whether a root qdisc was put there by someone: the kernel's defaults
 * (noqueue, pfifo_fast, mq, fq_codel, …) have handle 0:, one added with
 * `tc qdisc add … root` gets a handle of its own.
 */
bool pf_qdisc_configured(const char *handle);

/*
 * Whether a rate limit is planned, and why, into why: the schedule limits
 * some hours ([ratelimit] apply = cloud), or the task holds a limit (the
 * legacy speed_limit). t may be NULL.
 */
bool pf_limit_planned(const struct config *cfg, const struct sms_task *t, char *why, size_t len);
/*
 * The host and port of an http(s) or socks URL (user:password@ skipped:
 * it never reaches a report). Defaults: https 443, http 80, socks 1080.
 * Returns 0 or -EINVAL.
 */
int pf_url_hostport(const char *url, char *host, size_t len, uint16_t *port, bool *tls);
/*
 * The SMN endpoint: [notify] smn_endpoint, else https://smn.<region of the
 * topic's URN>.myhuaweicloud.com (reference §8). A new string, or NULL
 * without a topic.
 */
char *pf_smn_endpoint(const struct config *cfg);
/* "812 MiB", "12.3 GiB". Returns buf. */
char *pf_format_bytes(uint64_t n, char *buf, size_t len);
/* Copies src into dst (len bytes), control characters replaced by '?'. Returns dst. */
char *pf_clean(char *dst, const char *src, size_t len);

#endif
