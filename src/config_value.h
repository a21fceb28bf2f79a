/*
 * The value checks that several keys of smsguard.conf share (numbers,
 * durations, paths, URLs), and how a bad value is quoted in a message.
 * Internal to the config module: config.c and config_keys.c use it.
 */
#ifndef SMSGUARD_CONFIG_VALUE_H
#define SMSGUARD_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUOTE_MAX 72 /* how much of a bad value an error message shows */

#define SECOND 1000ull
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

/* Escaped and cut for an error message: config values are untrusted text. */
const char *config_esc(const char *v, char buf[QUOTE_MAX]);
/* The same in double quotes. */
const char *config_quote(const char *v, char buf[QUOTE_MAX + 2]);

/* Frees *dst and stores a copy of v. */
void config_set_str(char **dst, const char *v);
/* Any byte below 0x20, or DEL. */
bool config_has_ctl(const char *v);
/* Only letters, digits and the characters of `extra` (which may be NULL). */
bool config_all_of(const char *v, const char *extra);

/* A strict decimal number: no sign, no white space, no trailing junk. 0, -EINVAL or -ERANGE. */
int config_parse_uint(const char *v, size_t len, uint64_t max, uint64_t *out);

/* These return NULL, or the reason the value is bad (malloc'd). */
char *config_duration_reason(const char *v, uint64_t min, uint64_t max, uint64_t *out);
char *config_abspath_reason(const char *v);
/*
 * A command line: white-space separated words, "double quotes" group, with
 * \" and \\ inside them; the program an absolute path. On success argv holds
 * *argc new strings and a NULL (at most max words).
 */
char *config_argv_reason(const char *v, char **argv, int max, int *argc);
/* Frees what config_argv_reason() stored; *argc becomes 0. */
void config_argv_free(char **argv, int *argc);

struct config_url {
	char scheme[16];
	char host[256];   /* without the brackets of an IPv6 literal */
	const char *auth; /* scheme://AUTHORITY… */
	size_t authlen;
	const char *rest; /* path, query, fragment: everything after the authority */
	bool userinfo;
};

/* Splits a URL and checks its host and port; returns NULL or a static reason. */
const char *config_url_split(const char *v, struct config_url *u);
/* localhost, ::1 or 127.0.0.0/8: the only hosts plain http:// may reach. */
bool config_host_is_loopback(const char *h);
/* No path beyond "/", no query, no fragment. */
bool config_url_rest_is_empty(const char *rest);

#endif
