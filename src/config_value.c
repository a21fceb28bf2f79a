/*
 * Checks that the parsers of several keys share (see config_value.h): each
 * looks at the value alone, never at the file system or the network.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_value.h"
#include "smsguard/config.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define URL_MAX 2048

const char *
config_esc(const char *v, char buf[QUOTE_MAX])
{
	return log_escape(v, -1, buf, QUOTE_MAX);
}

const char *
config_quote(const char *v, char buf[QUOTE_MAX + 2])
{
	char e[QUOTE_MAX];

	snprintf(buf, QUOTE_MAX + 2, "\"%s\"", config_esc(v, e));
	return buf;
}

void
config_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

bool
config_has_ctl(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return true;
	return false;
}

bool
config_all_of(const char *v, const char *extra)
{
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char)*v) && (extra == NULL || strchr(extra, *v) == NULL))
			return false;
	return true;
}

int
config_parse_uint(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > max)
		return -ERANGE;
	*out = n;
	return 0;
}

char *
config_duration_reason(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char q[QUOTE_MAX + 2], a[32], b[32];
	uint64_t ms;

	if (util_parse_duration_ms(v, &ms) != 0)
		return xasprintf("bad duration %s (e.g. 500ms, 2s, 5m, 1h)", config_quote(v, q));
	if (ms < min || ms > max) {
		if (min == 0)
			return xasprintf("%s is too long (at most %s)", config_quote(v, q),
			    util_format_duration(max, b, sizeof(b)));
		return xasprintf("%s is out of range (%s to %s)", config_quote(v, q),
		    util_format_duration(min, a, sizeof(a)),
		    util_format_duration(max, b, sizeof(b)));
	}
	*out = ms;
	return NULL;
}

char *
config_abspath_reason(const char *v)
{
	char q[QUOTE_MAX + 2];

	if (v[0] != '/')
		return xasprintf("%s is not an absolute path", config_quote(v, q));
	if (strlen(v) >= PATH_MAX)
		return xasprintf("path too long (at most %d bytes)", PATH_MAX - 1);
	if (config_has_ctl(v))
		return xasprintf("%s contains control characters", config_quote(v, q));
	return NULL;
}

/* The next word of a command line at *p (advanced past it); NULL and *why at its end or a mistake. */
static char *
argv_word(const char **pp, char **why)
{
	const char *p = *pp + strspn(*pp, " \t");
	bool quoted = false, any = false;
	char *word;
	size_t wl = 0;

	if (*p == '\0') {
		*pp = p;
		return NULL;
	}
	word = xmalloc(strlen(p) + 1);
	for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t')); p++) {
		any = true;
		if (*p == '"')
			quoted = !quoted;
		else if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
			word[wl++] = *++p;
		else
			word[wl++] = *p;
	}
	word[wl] = '\0';
	*pp = p;
	if (quoted || !any) {
		if (quoted)
			*why = xstrdup("unterminated \" quote");
		free(word);
		return NULL;
	}
	return word;
}

char *
config_argv_reason(const char *v, char **argv, int max, int *argc)
{
	char *words[CONFIG_MAX_ARGV], *word, *why = NULL;
	int n = 0;

	if (max > CONFIG_MAX_ARGV)
		max = CONFIG_MAX_ARGV;
	while (why == NULL && (word = argv_word(&v, &why)) != NULL) {
		if (n == max) {
			why = xasprintf("too many arguments (at most %d)", max);
			free(word);
		} else {
			words[n++] = word;
		}
	}
	if (why == NULL && n == 0)
		why = xstrdup("empty command");
	if (why == NULL && words[0][0] != '/')
		why = xasprintf("the program must be an absolute path, not \"%.40s\"", words[0]);
	if (why != NULL) {
		for (int i = 0; i < n; i++)
			free(words[i]);
		return why;
	}
	config_argv_free(argv, argc);
	for (int i = 0; i < n; i++)
		argv[i] = words[i];
	argv[n] = NULL;
	*argc = n;
	return NULL;
}

void
config_argv_free(char **argv, int *argc)
{
	for (int i = 0; i < *argc; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
	*argc = 0;
}

/* ---- URLs ---- */

bool
config_host_is_loopback(const char *h)
{
	struct in_addr a4;

	if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
		return true;
	return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

const char *
config_url_split(const char *v, struct config_url *u)
{
	const char *p = strstr(v, "://"), *a, *e, *h, *he, *port = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strlen(v) > URL_MAX)
		return "URL too long";
	for (const char *s = v; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return "URL contains white space or non-ASCII characters";
	if (p == NULL || p == v || (size_t)(p - v) >= sizeof(u->scheme))
		return "not a URL (scheme://host[:port])";
	for (size_t i = 0; i < (size_t)(p - v); i++)
		u->scheme[i] = (char)tolower((unsigned char)v[i]);
	a = p + 3;
	e = a + strcspn(a, "/?#");
	u->auth = a;
	u->authlen = (size_t)(e - a);
	u->rest = e;
	h = a;
	for (const char *s = a; s < e; s++)
		if (*s == '@') {
			u->userinfo = true;
			h = s + 1;
		}
	if (*h == '[') {
		struct in6_addr a6;

		he = memchr(h, ']', (size_t)(e - h));
		if (he == NULL || (size_t)(he - h - 1) >= sizeof(u->host))
			return "bad IPv6 address in URL";
		memcpy(u->host, h + 1, (size_t)(he - h - 1));
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return "bad IPv6 address in URL";
		he++;
		if (he < e && *he != ':')
			return "bad host in URL";
	} else {
		he = memchr(h, ':', (size_t)(e - h));
		if (he == NULL)
			he = e;
		n = (size_t)(he - h);
		if (n == 0 || n >= sizeof(u->host))
			return "URL has no host";
		memcpy(u->host, h, n);
		if (!util_hostname_ok(u->host))
			return "bad host name in URL";
	}
	if (he < e) {
		uint64_t pn;

		port = he + 1;
		if (config_parse_uint(port, (size_t)(e - port), 65535, &pn) != 0 || pn == 0)
			return "bad port in URL (1 to 65535)";
	}
	return NULL;
}

bool
config_url_rest_is_empty(const char *rest)
{
	return rest[0] == '\0' || strcmp(rest, "/") == 0;
}
