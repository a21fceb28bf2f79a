/*
 * Preflight's report (DESIGN.md §5.11): the checks of one run in order, the
 * overall verdict, its JSON, which checks turned to fail since the run
 * before and the preflight_failed event they make, and the small helpers
 * the judges share. Pure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight-judge-internal.h"
#include "smsguard/util.h"

static const char *const verdict_names[PF_VERDICT_COUNT] = {
    [PF_OK] = "ok",
    [PF_WARN] = "warn",
    [PF_FAIL] = "fail",
};

const char *
pf_verdict_name(enum pf_verdict v)
{
	return (unsigned)v < PF_VERDICT_COUNT ? verdict_names[v] : "fail";
}

void
pf_report_init(struct pf_report *r, int64_t now_ms, const char *trigger)
{
	memset(r, 0, sizeof(*r));
	r->ran_at_ms = now_ms;
	util_strlcpy(r->trigger, trigger != NULL ? trigger : "", sizeof(r->trigger));
}

struct pf_check *
pf_report_add(struct pf_report *r, const char *name)
{
	struct pf_check *c;

	if (r->n >= PF_MAX_CHECKS)
		return NULL;
	c = &r->checks[r->n++];
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->name, name, sizeof(c->name));
	c->verdict = PF_FAIL;
	util_strlcpy(c->measured, "no result", sizeof(c->measured));
	return c;
}

const struct pf_check *
pf_report_find(const struct pf_report *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return &r->checks[i];
	return NULL;
}

enum pf_verdict
pf_report_verdict(const struct pf_report *r)
{
	enum pf_verdict v = PF_OK;

	for (int i = 0; i < r->n; i++)
		if (r->checks[i].verdict > v)
			v = r->checks[i].verdict;
	return v;
}

void
pf_report_count(const struct pf_report *r, int counts[PF_VERDICT_COUNT])
{
	memset(counts, 0, sizeof(int) * PF_VERDICT_COUNT);
	for (int i = 0; i < r->n; i++)
		if ((unsigned)r->checks[i].verdict < PF_VERDICT_COUNT)
			counts[r->checks[i].verdict]++;
}

static void
add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s[0] != '\0')
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static cJSON *
check_json(const struct pf_check *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "verdict", pf_verdict_name(c->verdict));
	cJSON_AddStringToObject(o, "measured", c->measured);
	add_string_or_null(o, "remedy", c->verdict == PF_OK ? "" : c->remedy);
	add_string_or_null(o, "prevents", c->prevents);
	return o;
}

cJSON *
pf_report_json(const struct pf_report *r)
{
	cJSON *o = cJSON_CreateObject(), *checks;

	cJSON_AddStringToObject(o, "verdict", pf_verdict_name(pf_report_verdict(r)));
	cJSON_AddNumberToObject(o, "ran_at", (double)(r->ran_at_ms / 1000));
	checks = cJSON_AddArrayToObject(o, "checks");
	for (int i = 0; i < r->n; i++)
		cJSON_AddItemToArray(checks, check_json(&r->checks[i]));
	return o;
}

int
pf_report_newly_failed(
    const struct pf_report *before, const struct pf_report *now, int *idx, int max)
{
	const struct pf_check *was;
	int n = 0;

	for (int i = 0; i < now->n && n < max; i++) {
		if (now->checks[i].verdict != PF_FAIL)
			continue;
		was = before != NULL ? pf_report_find(before, now->checks[i].name) : NULL;
		if (was == NULL || was->verdict != PF_FAIL)
			idx[n++] = i;
	}
	return n;
}

void
pf_appendf(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*o >= len)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (k > 0)
		*o += (size_t)k;
}

cJSON *
pf_event(const struct pf_report *r, const int *idx, int n, char *msg, size_t len)
{
	cJSON *d = cJSON_CreateObject(), *arr;
	const struct pf_check *first;
	size_t o = 0;

	cJSON_AddStringToObject(d, "trigger", r->trigger);
	arr = cJSON_AddArrayToObject(d, "checks");
	for (int i = 0; i < n; i++) {
		const struct pf_check *c = &r->checks[idx[i]];
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", c->name);
		cJSON_AddStringToObject(e, "measured", c->measured);
		add_string_or_null(e, "remedy", c->remedy);
		add_string_or_null(e, "prevents", c->prevents);
		cJSON_AddItemToArray(arr, e);
	}
	if (len > 0)
		msg[0] = '\0';
	if (n <= 0)
		return d;
	/* One line: every name, then the first one's measurement and remedy. */
	first = &r->checks[idx[0]];
	pf_appendf(msg, len, &o, "preflight: %s", first->name);
	for (int i = 1; i < n; i++)
		pf_appendf(msg, len, &o, ", %s", r->checks[idx[i]].name);
	pf_appendf(msg, len, &o, " %s", n > 1 ? "fail" : "fails");
	if (n > 1)
		pf_appendf(msg, len, &o, "; %s", first->name);
	pf_appendf(msg, len, &o, ": %s", first->measured);
	if (first->prevents[0] != '\0')
		pf_appendf(msg, len, &o, " (prevents %s)", first->prevents);
	if (first->remedy[0] != '\0')
		pf_appendf(msg, len, &o, "; %s", first->remedy);
	return d;
}

/* ------------------------------------------------------------- helpers */

char *
pf_clean(char *dst, const char *src, size_t len)
{
	size_t i, start, need;
	unsigned char lead;

	if (len == 0)
		return dst;
	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < len; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
	if (src == NULL || src[i] == '\0')
		return dst;
	/* Cut short: a last UTF-8 sequence left incomplete goes too. */
	start = i;
	while (start > 0 && ((unsigned char)dst[start - 1] & 0xc0) == 0x80)
		start--;
	if (start > 0 && ((unsigned char)dst[start - 1] & 0xc0) == 0xc0) {
		lead = (unsigned char)dst[start - 1];
		need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
		if (i - (start - 1) < need)
			dst[start - 1] = '\0';
	}
	return dst;
}

char *
pf_format_bytes(uint64_t n, char *buf, size_t len)
{
	if (n >= (uint64_t)1 << 30)
		snprintf(buf, len, "%.1f GiB", (double)n / (double)((uint64_t)1 << 30));
	else if (n >= (uint64_t)1 << 20)
		snprintf(buf, len, "%" PRIu64 " MiB", n >> 20);
	else if (n >= 1024)
		snprintf(buf, len, "%" PRIu64 " KiB", n >> 10);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", n);
	return buf;
}

int
pf_url_hostport(const char *url, char *host, size_t len, uint16_t *port, bool *tls)
{
	const char *p, *h, *end, *at, *colon = NULL;
	unsigned long v = 0;
	size_t hl;

	if (url == NULL || (p = strstr(url, "://")) == NULL)
		return -EINVAL;
	*tls = strncmp(url, "https://", 8) == 0;
	*port = *tls ? 443 : strncmp(url, "http://", 7) == 0 ? 80 : 1080;
	h = p + 3;
	end = h + strcspn(h, "/?#");
	/* user:password@ never goes further than here. */
	for (at = h; at < end; at++)
		if (*at == '@')
			h = at + 1;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL)
			return -EINVAL;
		hl = (size_t)(rb - h - 1);
		h++;
		if (rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon != NULL ? colon : end) - h);
	}
	if (hl == 0 || hl >= len)
		return -EINVAL;
	if (colon != NULL) {
		for (p = colon + 1; p < end; p++) {
			if (*p < '0' || *p > '9' ||
			    (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
				return -EINVAL;
		}
		if (p == colon + 1 || v == 0)
			return -EINVAL;
		*port = (uint16_t)v;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

char *
pf_smn_endpoint(const struct config *cfg)
{
	char *region = NULL, *url;
	const char *tld;

	if (cfg->smn_topic == NULL)
		return NULL;
	if (cfg->smn_endpoint != NULL)
		return xstrdup(cfg->smn_endpoint);
	if (sms_smn_urn_parse(cfg->smn_topic, &region, NULL, NULL) < 0)
		return NULL;
	/* Reference §8: the SDKs' table puts two regions under a domain of their own. */
	tld = strcmp(region, "cn-north-2") == 0  ? "cn"
	    : strcmp(region, "eu-west-101") == 0 ? "eu"
	                                         : "com";
	url = xasprintf("https://smn.%s.myhuaweicloud.%s", region, tld);
	free(region);
	return url;
}

bool
pf_limit_planned(const struct config *cfg, const struct sms_task *t, char *why, size_t len)
{
	uint32_t top = 0;

	if (cfg->ratelimit_apply == RATELIMIT_APPLY_CLOUD && cfg->has_schedule)
		for (int i = 0; i < cfg->schedule.nrules; i++)
			if (cfg->schedule.rules[i].mbps > top)
				top = cfg->schedule.rules[i].mbps;
	if (top > 0) {
		snprintf(
		    why, len, "[ratelimit] schedule limits the rate to %u Mbit/s at times", top);
		return true;
	}
	if (t != NULL && t->speed_limit > 0) {
		snprintf(
		    why, len, "the task holds a rate limit of %" PRId64 " Mbit/s", t->speed_limit);
		return true;
	}
	snprintf(why, len, "no rate limit planned");
	return false;
}
