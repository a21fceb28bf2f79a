#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smsguard/gprop.h"
#include "smsguard/util.h"

#define GPROP_MAX_KEY 64
#define GPROP_MAX_VALUE 32 /* for the values we read: numbers and booleans */

void
gprop_init(struct gprop *g)
{
	memset(g, 0, sizeof(*g));
	g->auto_start_interval_seconds = -1;
	g->auto_start_max_retry_times = -1;
	g->auto_start_each_addition_seconds = -1;
	g->heartmonitorday = -1;
	g->servercheck = -1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '.' || c == '-';
}

/* A decimal in [0, GPROP_MAX_NUMBER]; the span is not NUL-terminated. */
static int
parse_number(const char *v, size_t n, long *out)
{
	long x = 0;

	if (n == 0 || n > GPROP_MAX_VALUE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (v[i] - '0');
		if (x > GPROP_MAX_NUMBER)
			return -ERANGE;
	}
	*out = x;
	return 0;
}

static bool
span_eq(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(v, word, n) == 0;
}

static int
parse_bool(const char *v, size_t n, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "enable", "enabled"};
	static const char *const no[] = {"false", "no", "off", "0", "disable", "disabled"};

	for (size_t i = 0; i < nitems(yes); i++) {
		if (span_eq(v, n, yes[i])) {
			*out = 1;
			return 0;
		}
		if (span_eq(v, n, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* One key=value pair, both spans trimmed and free of NULs. */
static void
take_pair(struct gprop *g, const char *k, size_t kn, const char *v, size_t vn)
{
	static const struct {
		const char *key;
		size_t off;
	} numbers[] = {
	    {"auto_start_interval_seconds", offsetof(struct gprop, auto_start_interval_seconds)},
	    {"auto_start_max_retry_times", offsetof(struct gprop, auto_start_max_retry_times)},
	    {"auto_start_each_addition_seconds",
	        offsetof(struct gprop, auto_start_each_addition_seconds)},
	    {"heartmonitorday", offsetof(struct gprop, heartmonitorday)},
	};

	g->keys++;
	/* Values may be quoted by hand-edited files. */
	if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) {
		v++;
		vn -= 2;
	}
	for (size_t i = 0; i < nitems(numbers); i++) {
		long x;

		if (!span_eq(k, kn, numbers[i].key))
			continue;
		if (parse_number(v, vn, &x) == 0)
			*(long *)((char *)g + numbers[i].off) = x;
		else
			g->bad_values++;
		return;
	}
	if (span_eq(k, kn, "servercheck")) {
		int b;

		if (parse_bool(v, vn, &b) == 0)
			g->servercheck = b;
		else
			g->bad_values++;
	}
}

/* One line without its '\n'; may hold anything. */
static void
parse_line(struct gprop *g, const char *p, size_t n)
{
	const char *k, *v, *sep;
	size_t kn, vn;

	while (n > 0 && is_space(*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	if (n == 0 || *p == '#' || *p == ';' || *p == '!')
		return;
	if (memchr(p, '\0', n) != NULL) {
		g->bad_lines++;
		return;
	}
	if (*p == '[') {
		/* Section headers carry nothing we need; the keys we read are unique. */
		if (p[n - 1] != ']')
			g->bad_lines++;
		return;
	}
	sep = NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=' || p[i] == ':') {
			sep = p + i;
			break;
		}
	}
	if (sep == NULL) {
		g->bad_lines++;
		return;
	}
	k = p;
	kn = (size_t)(sep - p);
	while (kn > 0 && is_space(k[kn - 1]))
		kn--;
	v = sep + 1;
	vn = n - (size_t)(v - p);
	while (vn > 0 && is_space(*v)) {
		v++;
		vn--;
	}
	if (kn == 0 || kn > GPROP_MAX_KEY) {
		g->bad_lines++;
		return;
	}
	for (size_t i = 0; i < kn; i++) {
		if (!is_key_char(k[i])) {
			g->bad_lines++;
			return;
		}
	}
	take_pair(g, k, kn, v, vn);
}

int
gprop_parse(struct gprop *g, const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;

		parse_line(g, buf + pos, n);
		pos += n + 1;
	}
	return g->bad_lines > 0 || g->bad_values > 0 ? -EINVAL : 0;
}

int
gprop_load(struct gprop *g, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	gprop_init(g);
	/* O_NONBLOCK: a FIFO planted at the path must not hang the daemon in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	buf = xmalloc(GPROP_MAX_FILE + 1);
	/* One byte past the cap tells an oversized file from one that fits. */
	while (len < GPROP_MAX_FILE + 1) {
		ssize_t r = read(fd, buf + len, GPROP_MAX_FILE + 1 - len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > GPROP_MAX_FILE) {
		/* Parse whole lines only: a cut line could read as a different value. */
		len = GPROP_MAX_FILE;
		while (len > 0 && buf[len - 1] != '\n')
			len--;
		gprop_parse(g, buf, len);
		rc = -EFBIG;
		goto out;
	}
	rc = gprop_parse(g, buf, len);
out:
	free(buf);
	close(fd);
	return rc;
}

bool
gprop_autorecovery_configured(const struct gprop *g)
{
	return g->auto_start_max_retry_times > 0;
}

long
gprop_autorecovery_window_s(const struct gprop *g)
{
	long long n = g->auto_start_max_retry_times;
	long long base = g->auto_start_interval_seconds > 0 ? g->auto_start_interval_seconds : 0;
	long long add =
	    g->auto_start_each_addition_seconds > 0 ? g->auto_start_each_addition_seconds : 0;
	long long total;
	const long long cap = 365LL * 24 * 3600;

	if (n <= 0)
		return 0;
	/* Every value is at most GPROP_MAX_NUMBER (1e6): the sum stays below 1e18. */
	total = n * base + add * (n * (n - 1) / 2);
	return (long)(total < cap ? total : cap);
}
