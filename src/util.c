#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsguard/util.h"

int
util_parse_duration_ms(const char *s, uint64_t *out_ms)
{
	uint64_t total = 0;
	int parts = 0;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -EINVAL;
	while (*s != '\0' && !isspace((unsigned char)*s)) {
		uint64_t v = 0, mult;
		const char *start = s;

		while (isdigit((unsigned char)*s)) {
			if (v > UINT64_MAX / 10 - 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(*s - '0');
			s++;
		}
		if (s == start)
			return -EINVAL;
		if (strncmp(s, "ms", 2) == 0) {
			mult = 1;
			s += 2;
		} else if (*s == 's') {
			mult = 1000;
			s++;
		} else if (*s == 'm') {
			mult = 60 * 1000;
			s++;
		} else if (*s == 'h') {
			mult = 3600 * 1000;
			s++;
		} else if (*s == 'd') {
			mult = 86400 * 1000;
			s++;
		} else if (*s == '\0' || isspace((unsigned char)*s)) {
			if (parts > 0)
				return -EINVAL; /* "1m30" is ambiguous */
			mult = 1000;
		} else {
			return -EINVAL;
		}
		/* A cap of ten years catches typos and keeps every sum far from overflow. */
		if (v > (uint64_t)10 * 365 * 86400 * 1000 / mult)
			return -ERANGE;
		total += v * mult;
		if (total > (uint64_t)10 * 365 * 86400 * 1000)
			return -ERANGE;
		parts++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return -EINVAL;
	*out_ms = total;
	return 0;
}

char *
util_format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;
	size_t o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms < 1000) {
		snprintf(buf, len, "%llums", (unsigned long long)ms);
		return buf;
	}
	if (s >= 86400) {
		o += (size_t)snprintf(buf + o, len - o, "%llud", (unsigned long long)(s / 86400));
		s %= 86400;
	}
	if (s >= 3600 && o < len) {
		o += (size_t)snprintf(buf + o, len - o, "%lluh", (unsigned long long)(s / 3600));
		s %= 3600;
	}
	if (s >= 60 && o < len) {
		o += (size_t)snprintf(buf + o, len - o, "%llum", (unsigned long long)(s / 60));
		s %= 60;
	}
	if ((s > 0 || o == 0) && o < len)
		snprintf(buf + o, len - o, "%llus", (unsigned long long)s);
	return buf;
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		abort();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		abort();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return p;
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
util_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	if (p == NULL)
		return;
	while (n-- > 0)
		*v++ = 0;
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

char *
util_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

bool
util_hostname_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
		if (s[i] == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return s[n - 1] != '-';
}

int
util_cloexec_from(int lowfd)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd, fd, flags;

	if (dir == NULL)
		return -errno;
	dfd = dirfd(dir);
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*end != '\0' || end == de->d_name || v < lowfd || v > INT32_MAX)
			continue;
		fd = (int)v;
		if (fd == dfd)
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags != -1 && !(flags & FD_CLOEXEC))
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	}
	closedir(dir);
	return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void
util_random_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint32_t
util_random(uint32_t n)
{
	uint64_t x;

	if (n == 0)
		return 0;
	/* xorshift64*: jitter only, never secrets. */
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

int64_t
util_jitter(int64_t span)
{
	if (span <= 0)
		return 0;
	if (span > INT32_MAX)
		span = INT32_MAX;
	return (int64_t)util_random((uint32_t)(2 * span + 1)) - span;
}
