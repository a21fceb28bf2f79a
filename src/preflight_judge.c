/*
 * Preflight's judges (DESIGN.md §5.11): one measurement in, one check out -
 * its verdict, what was measured in words, the remedy and the SMS error
 * code the check prevents (reference §6, §9, §10). The network's here; the
 * host's (space, programs, queueing disciplines) in preflight_host_judge.c.
 * Pure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight-judge-internal.h"
#include "smsguard/util.h"

void
pf_set(struct pf_check *c, enum pf_verdict v, const char *prevents, const char *fmt, ...)
{
	va_list ap;

	c->verdict = v;
	util_strlcpy(c->prevents, prevents != NULL ? prevents : "", sizeof(c->prevents));
	c->remedy[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(c->measured, sizeof(c->measured), fmt, ap);
	va_end(ap);
}

void
pf_remedy(struct pf_check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->verdict == PF_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(c->remedy, sizeof(c->remedy), fmt, ap);
	va_end(ap);
}

char *
pf_hostport(const char *host, uint16_t port, char *buf, size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
	return buf;
}

/* Why a connect failed, in a few words. */
static const char *
connect_why(int err, uint64_t timeout_ms, char *buf, size_t len)
{
	char d[32];

	switch (err) {
	case -ETIMEDOUT:
		snprintf(buf, len, "no answer within %s (dropped on the way)",
		    util_format_duration(timeout_ms, d, sizeof(d)));
		break;
	case -ECONNREFUSED:
		snprintf(buf, len, "connection refused (nothing listens, or a firewall rejects)");
		break;
	case -ENETUNREACH:
	case -EHOSTUNREACH:
		snprintf(buf, len, "%s (no route)", strerror(-err));
		break;
	case -ENOENT:
		snprintf(buf, len, "the name does not resolve");
		break;
	default:
		snprintf(buf, len, "%s", strerror(err < 0 ? -err : err));
		break;
	}
	return buf;
}

/* ------------------------------------------------------- target ports */

const char *
pf_port_prevents(uint16_t port, int err)
{
	/* Reference §6: what SMS says when it cannot reach each port. */
	switch (port) {
	case 22:
		return err == -ECONNREFUSED ? "SMS.3806" : "SMS.3805";
	case 8899:
		return "SMS.2802";
	case 8900:
		return "SMS.1807";
	default:
		return NULL;
	}
}

void
pf_judge_target_port(
    struct pf_check *c, const char *addr, uint16_t port, int err, double ms, uint64_t timeout_ms)
{
	const char *prevents = pf_port_prevents(port, err);
	char hp[PF_TEXT_MAX / 2], why[128];

	pf_hostport(addr, port, hp, sizeof(hp));
	if (err == 0 && ms >= PF_SLOW_CONNECT_MS) {
		pf_set(c, PF_WARN, prevents, "%s connected in %.0f ms (slow)", hp, ms);
		pf_remedy(c,
		    "the link to the target is slow: check its latency and loss (mtr %s); SMS's "
		    "transfers time out on a link this slow",
		    addr);
	} else if (err == 0) {
		pf_set(c, PF_OK, prevents, "%s connected in %.1f ms", hp, ms);
	} else if (err == -ENETUNREACH || err == -EHOSTUNREACH) {
		pf_set(c, PF_FAIL, prevents, "%s: %s", hp, connect_why(err, timeout_ms, why, 128));
		pf_remedy(c,
		    "this server has no route to %s: check `ip route get %s`, the VPN or Direct "
		    "Connect, and that the task's migration_ip is the target's reachable address",
		    addr, addr);
	} else if (err == -ENOENT) {
		pf_set(c, PF_FAIL, prevents, "%s: the name does not resolve", hp);
		pf_remedy(c, "set [target] address to the target's IP address");
	} else {
		pf_set(c, PF_FAIL, prevents, "%s: %s", hp, connect_why(err, timeout_ms, why, 128));
		pf_remedy(c,
		    "allow TCP %u from this server to %s: the target's security group (inbound), "
		    "and every firewall or network ACL on the way; the target must be running "
		    "(SMS's migration image listens on 22, 8899 and 8900); try `nc -vz %s %u`",
		    port, addr, addr, port);
	}
}

void
pf_judge_target_unknown(struct pf_check *c, uint16_t port)
{
	pf_set(c, PF_WARN, pf_port_prevents(port, 0),
	    "not checked: the target's address is not known yet (no task polled, no [target] "
	    "address)");
	pf_remedy(
	    c, "run preflight again once smsguard has polled the task, or set [target] address");
}

/* ------------------------------------------------------- SMS endpoint */

void
pf_judge_dns(struct pf_check *c, const char *host, bool proxy, int err, const char *why,
    const char *answer, double ms, uint64_t timeout_ms)
{
	const char *whose = proxy ? "the proxy " : "";
	char d[32], clean[128];

	if (err == 0 && answer == NULL) {
		pf_set(c, PF_OK, "SMS.0303", "%s%s is an address: nothing to resolve", whose, host);
		return;
	}
	if (err == 0) {
		pf_set(c, PF_OK, "SMS.0303", "%s%s resolves to %s in %.1f ms", whose, host, answer,
		    ms);
		return;
	}
	if (err == -ETIMEDOUT)
		pf_set(c, PF_FAIL, "SMS.0303", "%s%s: no answer from the resolver within %s", whose,
		    host, util_format_duration(timeout_ms, d, sizeof(d)));
	else
		pf_set(c, PF_FAIL, "SMS.0303", "%s%s does not resolve: %s", whose, host,
		    pf_clean(clean, why != NULL ? why : strerror(-err), sizeof(clean)));
	pf_remedy(c,
	    "make %s resolve on this server (/etc/resolv.conf and its DNS server, or /etc/hosts)%s",
	    host, proxy ? "" : "; SMS-Agent needs the same name");
}

void
pf_judge_sms_tcp(struct pf_check *c, const char *host, uint16_t port, bool proxy, int err,
    const char *addr, double ms, uint64_t timeout_ms)
{
	const char *whose = proxy ? "the proxy " : "";
	char hp[300], why[128];

	pf_hostport(host, port, hp, sizeof(hp));
	if (err == 0) {
		pf_set(c, PF_OK, "SMS.0208", "%s%s (%s) connected in %.1f ms", whose, hp,
		    addr != NULL ? addr : host, ms);
		return;
	}
	if (err == -ENOENT) {
		pf_set(
		    c, PF_FAIL, "SMS.0208", "not tried: %s does not resolve (see sms_dns)", host);
		pf_remedy(c, "fix sms_dns first");
		return;
	}
	pf_set(c, PF_FAIL, "SMS.0208", "%s%s%s%s: %s", whose, hp, addr != NULL ? " at " : "",
	    addr != NULL ? addr : "", connect_why(err, timeout_ms, why, sizeof(why)));
	if (proxy)
		pf_remedy(
		    c, "check [cloud] proxy: %s must accept connections from this server", hp);
	else
		pf_remedy(c,
		    "allow outbound TCP %u from this server to %s (security group outbound rules, "
		    "firewalls), or set [cloud] proxy; SMS-Agent needs the same",
		    port, host);
}

/* The end of a request that did not answer, in words. */
static void
http_failed(struct pf_check *c, const char *prevents, const struct pf_http *h)
{
	char err[200];

	pf_clean(err, h->error != NULL && h->error[0] != '\0' ? h->error : "no reason given",
	    sizeof(err));
	switch (h->end) {
	case PF_HTTP_TLS:
		pf_set(c, PF_FAIL, prevents, "certificate not accepted: %s", err);
		break;
	case PF_HTTP_TIMEOUT:
		pf_set(c, PF_FAIL, prevents, "no answer within %.0f s", h->ms / 1000.0);
		break;
	default:
		pf_set(c, PF_FAIL, prevents, "not reached: %s", err);
		break;
	}
}

void
pf_judge_tls(struct pf_check *c, const char *host, bool plain_http, const struct pf_http *h)
{
	if (plain_http) {
		pf_set(c, PF_WARN, "SMS.0304",
		    "the endpoint is plain HTTP (a loopback test set-up): no TLS to check");
		pf_remedy(c, "use SMS's https:// endpoint");
		return;
	}
	if (h->end == PF_HTTP_ANSWERED) {
		pf_set(c, PF_OK, "SMS.0304", "TLS to %s verified (HTTP %ld in %.0f ms)", host,
		    h->status, h->ms);
		return;
	}
	if (h->end == PF_HTTP_HELD) {
		pf_set(c, PF_WARN, "SMS.0304",
		    "not checked: the SMS gateway asked smsguard to wait (HTTP 429 Retry-After)");
		pf_remedy(c, "run preflight again once the wait is over");
		return;
	}
	http_failed(c, "SMS.0304", h);
	if (h->end == PF_HTTP_TLS)
		pf_remedy(c,
		    "something between this server and SMS shows another certificate (a "
		    "TLS-inspecting proxy or firewall), or the CA bundle is missing: install "
		    "ca-certificates, or set [cloud] ca_file to the inspecting proxy's CA; "
		    "SMS-Agent verifies it too (servercheck in g-property.cfg)");
	else
		pf_remedy(c, "fix sms_dns and sms_tcp first; behind a proxy, set [cloud] proxy");
}

void
pf_judge_clock(struct pf_check *c, bool measured, int64_t skew_ms)
{
	int64_t abs_ms = skew_ms < 0 ? -skew_ms : skew_ms;
	const char *side = skew_ms < 0 ? "behind" : "ahead of";
	int64_t s = (abs_ms + 500) / 1000;

	if (!measured) {
		pf_set(c, PF_WARN, "SMS.0205", "not measured: no answer with a Date from SMS");
		pf_remedy(c, "see sms_tls");
	} else if (abs_ms < 1500) {
		pf_set(c, PF_OK, "SMS.0205", "the local clock is within 1 s of the SMS gateway's");
	} else if (abs_ms < PF_SKEW_WARN_MS) {
		pf_set(c, PF_OK, "SMS.0205",
		    "the local clock is %" PRId64 " s %s the SMS gateway's", s, side);
	} else if (abs_ms < PF_SKEW_FAIL_MS) {
		pf_set(c, PF_WARN, "SMS.0205",
		    "the local clock is %" PRId64 " s %s the SMS gateway's", s, side);
		pf_remedy(c,
		    "keep the clock in time with NTP (chronyd or systemd-timesyncd; see "
		    "timedatectl): from 15 minutes off the gateway refuses smsguard's and "
		    "SMS-Agent's signatures");
	} else {
		pf_set(c, PF_FAIL, "SMS.0205",
		    "the local clock is %" PRId64 " s %s the SMS gateway's (over 15 minutes)", s,
		    side);
		pf_remedy(c,
		    "set the clock now (chronyc makestep, or timedatectl set-ntp true) and keep "
		    "NTP "
		    "running: the gateway refuses signatures 15 minutes off (APIGW.0303), so "
		    "SMS-Agent loses SMS and smsguard cannot poll");
	}
}

void
pf_judge_smn(struct pf_check *c, const char *host, const struct pf_http *h)
{
	if (h->end == PF_HTTP_ANSWERED) {
		pf_set(c, PF_OK, NULL, "TLS to %s verified (HTTP %ld in %.0f ms)", host, h->status,
		    h->ms);
		return;
	}
	http_failed(c, NULL, h);
	pf_remedy(c,
	    "allow outbound HTTPS from this server to %s (or set [notify] smn_endpoint, or "
	    "[cloud] proxy): smsguard's SMN notifications go there",
	    host);
}

/* ------------------------------------------------------------ the cloud */

/* The remedy for credentials the gateway refused with code. */
static void
auth_remedy(struct pf_check *c, const char *code, const char *credentials_path)
{
	if (code != NULL && strcmp(code, "APIGW.0303") == 0)
		pf_remedy(c,
		    "the gateway refused the signature's time: set the clock (see clock_skew); "
		    "smsguard signs again 5 minutes after a refusal");
	else
		pf_remedy(c,
		    "check the AK/SK in %s (or HUAWEICLOUD_SDK_AK/SK): the key must exist, be "
		    "enabled and belong to the account that owns the task; five refused signatures "
		    "lock a key for 5 minutes, and smsguard waits that long",
		    credentials_path != NULL ? credentials_path : "the credentials file");
}

void
pf_judge_auth(struct pf_check *c, const struct pf_auth *a, const char *credentials_path)
{
	const char *code = a->code != NULL ? a->code : "";
	char msg[160];

	pf_clean(msg, a->msg != NULL ? a->msg : "", sizeof(msg));
	switch (a->rc) {
	case -EACCES:
		pf_set(c, PF_FAIL, "SMS.0202", "%s refused: HTTP 401 %s%s%s", a->request, code,
		    msg[0] != '\0' ? ": " : "", msg);
		auth_remedy(c, code, credentials_path);
		break;
	case -ESHUTDOWN:
		pf_set(c, PF_FAIL, "SMS.0202",
		    "not sent: the cloud refused the credentials%s%s, and smsguard signs nothing "
		    "for 5 minutes after that",
		    code[0] != '\0' ? " with " : "", code);
		auth_remedy(c, code, credentials_path);
		break;
	case -EPERM:
		pf_set(c, PF_FAIL, "SMS.0202", "%s forbidden: HTTP 403 %s%s%s", a->request, code,
		    msg[0] != '\0' ? ": " : "", msg);
		pf_remedy(c,
		    "the key's IAM user lacks SMS permissions: grant it SMS FullAccess, or the "
		    "sms:server:* actions");
		break;
	case -EAGAIN:
		pf_set(c, PF_WARN, "SMS.0202", "not verified: the gateway throttles us (HTTP 429)");
		pf_remedy(c, "run preflight again in a minute; smsguard waits as the gateway asks");
		break;
	case -ETIMEDOUT:
	case -EIO:
		pf_set(c, PF_WARN, "SMS.0202", "not verified: %s",
		    a->rc == -ETIMEDOUT  ? "no answer in time"
		        : msg[0] != '\0' ? msg
		                         : "the request failed");
		pf_remedy(c, "see sms_tcp and sms_tls");
		break;
	default:
		/* Any other answer got past the gateway's signature check. */
		pf_set(c, PF_OK, "SMS.0202", "signed %s accepted (HTTP %ld in %.0f ms)", a->request,
		    a->status, a->ms);
		break;
	}
}

void
pf_judge_connected(
    struct pf_check *c, enum sms_tristate connected, const char *source_id, const char *why)
{
	char id[SMS_ID_MAX + 1];

	pf_clean(id, source_id != NULL ? source_id : "", sizeof(id));
	switch (connected) {
	case SMS_TRUE:
		pf_set(c, PF_OK, "SMS.6603", "source %s is connected to SMS", id);
		break;
	case SMS_FALSE:
		pf_set(c, PF_FAIL, "SMS.6603",
		    "source %s is not connected to SMS (the console shows it Disconnected)", id);
		pf_remedy(c,
		    "SMS-Agent does not talk to SMS: see agent_running, then the agent's "
		    "agent/Logs/SmsAgent_Error.log; restart it (./restart.sh) with a valid AK/SK "
		    "and the SMS domain name");
		break;
	default:
		pf_set(c, PF_WARN, "SMS.6603", "not known: %s", why != NULL ? why : "not read");
		pf_remedy(c, "run preflight again once sms_auth passes and the task is polled");
		break;
	}
}
