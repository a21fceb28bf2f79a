/*
 * smsguardctl's page: the terminal or not, colour or not, its width, the
 * time, and the line builder every printer uses (out.h).
 *
 * Colour follows https://no-color.org: only when stdout is a terminal, never
 * when NO_COLOR is set to anything but the empty string, and never on a dumb
 * terminal. Text from the daemon (task names, cloud errors, event messages)
 * is escaped here: C0 and C1 controls, DEL, invalid UTF-8 and the
 * bidirectional overrides that reorder what a terminal shows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "out.h"
#include "smsguardctl.h"

struct out_mode out = {.width = OUT_DEFAULT_WIDTH};

static const char *const color_sgr[] = {
    [OUT_PLAIN] = "0",
    [OUT_RED] = "31",
    [OUT_GREEN] = "32",
    [OUT_YELLOW] = "33",
    [OUT_CYAN] = "36",
    [OUT_BOLD] = "1",
    [OUT_DIM] = "2",
};

static int
terminal_width(void)
{
	struct winsize ws;
	const char *env;
	long n;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((env = getenv("COLUMNS")) != NULL && (n = strtol(env, NULL, 10)) > 0 && n < 10000)
		return (int)n;
	return OUT_DEFAULT_WIDTH;
}

/* SMSGUARD_CTL_NOW: a Unix time in seconds that stands for now (tests render at a fixed time). */
static void
fixed_clock(void)
{
	const char *env = getenv("SMSGUARD_CTL_NOW");
	char *end;
	long long t;

	if (env == NULL || *env == '\0')
		return;
	errno = 0;
	t = strtoll(env, &end, 10);
	if (errno != 0 || *end != '\0' || t <= 0 || t >= 100000000000LL) {
		ctlwarn("SMSGUARD_CTL_NOW: not a Unix time in seconds: %s (ignored)", env);
		return;
	}
	out.fixed_now = (time_t)t;
}

void
out_init(void)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

	out.tty = isatty(STDOUT_FILENO) == 1;
	out.color = out.tty && (no_color == NULL || *no_color == '\0') &&
	    (term == NULL || strcmp(term, "dumb") != 0);
	out.width = out.tty ? terminal_width() : OUT_DEFAULT_WIDTH;
	if (out.width < 20)
		out.width = 20;
	fixed_clock();
}

time_t
out_now(void)
{
	return out.fixed_now != 0 ? out.fixed_now : time(NULL);
}

/* ---------------------------------------------------------------- text */

/*
 * The code point at p (at most avail bytes) as *cp; returns its length, or 0
 * when the bytes are not UTF-8 (overlong, surrogate, cut short).
 */
static int
utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	int n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)n > avail)
		return 0;
	*cp = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if (*cp < min[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Columns of a code point: 2 for East Asian wide ones, 0 for combining marks. */
static int
cp_width(uint32_t cp)
{
	static const struct {
		uint32_t lo, hi;
	} wide[] = {
	    {0x1100, 0x115f},
	    {0x2e80, 0x303e},
	    {0x3041, 0x33ff},
	    {0x3400, 0x4dbf},
	    {0x4e00, 0x9fff},
	    {0xa000, 0xa4cf},
	    {0xac00, 0xd7a3},
	    {0xf900, 0xfaff},
	    {0xfe30, 0xfe4f},
	    {0xff00, 0xff60},
	    {0xffe0, 0xffe6},
	    {0x1f300, 0x1f64f},
	    {0x1f900, 0x1f9ff},
	    {0x20000, 0x3fffd},
	};
	size_t i;

	if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f))
		return 0;
	for (i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		if (cp >= wide[i].lo && cp <= wide[i].hi)
			return 2;
	}
	return 1;
}

/* Bytes of the colour sequence at s (ESC [ … m), 0 when there is none. */
static size_t
sgr_len(const char *s, size_t len)
{
	size_t i;

	if (len < 3 || s[0] != '\033' || s[1] != '[')
		return 0;
	for (i = 2; i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';'); i++)
		;
	return i < len && s[i] == 'm' ? i + 1 : 0;
}

/* The columns of the character at s and its length in bytes. */
static int
char_cols(const char *s, size_t len, size_t *n)
{
	uint32_t cp;
	int k;

	if ((*n = sgr_len(s, len)) > 0)
		return 0;
	if ((k = utf8_decode((const unsigned char *)s, len, &cp)) == 0) {
		*n = 1;
		return 1;
	}
	*n = (size_t)k;
	return cp_width(cp);
}

int
text_cols(const char *s, size_t len)
{
	size_t i = 0, n;
	int cols = 0;

	while (i < len) {
		cols += char_cols(s + i, len - i, &n);
		i += n;
	}
	return cols;
}

/* ---------------------------------------------------------------- line */

static void
line_raw(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

void
line_add(struct line *l, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		line_raw(l, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Whether a code point must be shown escaped: C1 controls, bidi overrides, line separators. */
static bool
cp_hidden(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

void
line_text(struct line *l, const char *s)
{
	const unsigned char *p;
	uint32_t cp;
	size_t left;
	int n;

	if (s == NULL) {
		line_raw(l, "-", 1);
		return;
	}
	p = (const unsigned char *)s;
	left = strlen(s);
	while (left > 0) {
		if (*p < 0x20 || *p == 0x7f) {
			line_add(l, "\\x%02x", *p);
			n = 1;
		} else if ((n = utf8_decode(p, left, &cp)) == 0) {
			line_add(l, "\\x%02x", *p);
			n = 1;
		} else if (cp_hidden(cp)) {
			line_add(l, "\\u%04x", (unsigned)cp);
		} else {
			line_raw(l, (const char *)p, (size_t)n);
		}
		p += n;
		left -= (size_t)n;
	}
}

void
line_color(struct line *l, enum out_color c)
{
	if (out.color)
		line_add(l, "\033[%sm", color_sgr[c]);
}

void
line_colored(struct line *l, enum out_color c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (c != OUT_PLAIN)
		line_color(l, c);
	line_raw(l, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	if (c != OUT_PLAIN)
		line_color(l, OUT_PLAIN);
}

void
line_color_text(struct line *l, enum out_color c, const char *s)
{
	if (c == OUT_PLAIN) {
		line_text(l, s);
		return;
	}
	line_color(l, c);
	line_text(l, s);
	line_color(l, OUT_PLAIN);
}

int
line_cols(const struct line *l)
{
	return text_cols(l->buf, l->len);
}

void
line_pad(struct line *l, int col)
{
	int cols = line_cols(l);

	do
		line_raw(l, " ", 1);
	while (++cols < col);
}

void
line_fit(struct line *l, int cols)
{
	size_t i = 0, n;
	int used = 0, w;
	bool colored = false;

	while (i < l->len) {
		w = char_cols(l->buf + i, l->len - i, &n);
		colored = colored || w == 0;
		if (used + w > cols) {
			l->len = i;
			l->buf[i] = '\0';
			/* A colour cut off before its end must not run on. */
			if (colored)
				line_color(l, OUT_PLAIN);
			return;
		}
		used += w;
		i += n;
	}
}

void
line_label(struct line *l, int indent, const char *label)
{
	line_add(l, "%*s%s:", indent, "", label);
	line_pad(l, OUT_VALUE_COL);
	l->indent = OUT_VALUE_COL;
}

/*
 * Writes len bytes as lines of at most width columns, broken at a space
 * where there is one, each continuation indented.
 */
static void
print_wrapped(const char *s, size_t len, int width, int indent)
{
	size_t start = 0, i = 0, brk = 0, n;
	int col = 0, w;

	while (i < len) {
		w = char_cols(s + i, len - i, &n);
		if (s[i] == ' ' && col > indent)
			brk = i;
		if (w > 0 && col + w > width && col > indent) {
			if (brk <= start)
				brk = i; /* one long word: cut it */
			fwrite(s + start, 1, brk - start, stdout);
			printf("\n%*s", indent, "");
			start = s[brk] == ' ' ? brk + 1 : brk;
			brk = start;
			if (start > i) {
				/* The space that overflowed is the break: it goes. */
				col = indent;
				i = start;
				continue;
			}
			col = indent + text_cols(s + start, i - start);
		}
		col += w;
		i += n;
	}
	fwrite(s + start, 1, len - start, stdout);
	putchar('\n');
}

void
line_print(struct line *l)
{
	int indent = l->indent;

	while (l->len > 0 && l->buf[l->len - 1] == ' ')
		l->len--;
	l->buf[l->len] = '\0';
	/* A page that is not a terminal keeps one line per item, for grep. */
	if (!out.tty) {
		puts(l->buf);
	} else {
		if (indent > out.width / 2)
			indent = 4;
		print_wrapped(l->buf, l->len, out.width, indent);
	}
	l->len = 0;
	l->indent = 0;
}

/* ---------------------------------------------------------------- time */

char *
out_span(uint64_t s, char *buf, size_t len)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t i, o = 0;
	int shown = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		uint64_t n = s / units[i].secs;

		if (n == 0 && shown == 0)
			continue;
		s -= n * units[i].secs;
		shown++;
		if (n == 0)
			break;
		o += (size_t)snprintf(
		    buf + o, len - o, "%llu%c", (unsigned long long)n, units[i].unit);
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "0s");
	return buf;
}

void
line_relative(struct line *l, time_t t, time_t now)
{
	char d[48];

	if (t == now)
		line_add(l, "now");
	else if (t < now)
		line_add(l, "%s ago", out_span((uint64_t)(now - t), d, sizeof(d)));
	else
		line_add(l, "in %s", out_span((uint64_t)(t - now), d, sizeof(d)));
}

void
line_clock(struct line *l, time_t t, time_t now)
{
	struct tm tm, tmnow;
	char buf[32];

	if (localtime_r(&t, &tm) == NULL || localtime_r(&now, &tmnow) == NULL) {
		line_add(l, "@%lld", (long long)t);
		return;
	}
	if (tm.tm_year == tmnow.tm_year && tm.tm_yday == tmnow.tm_yday)
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	else
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
	line_add(l, "%s", buf);
}

void
line_when(struct line *l, const cJSON *o, const char *key, time_t now, const char *dflt)
{
	time_t t;

	if (reply_get(o, key) == NULL) {
		line_add(l, "-");
		return;
	}
	if (!reply_time(o, key, &t)) {
		line_add(l, "%s", dflt);
		return;
	}
	line_clock(l, t, now);
	line_add(l, " (");
	line_relative(l, t, now);
	line_add(l, ")");
}

/* --------------------------------------------------------------- reply */

const cJSON *
reply_get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

const char *
reply_str(const cJSON *o, const char *key)
{
	const cJSON *v = reply_get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool
reply_num(const cJSON *o, const char *key, double *val)
{
	const cJSON *v = reply_get(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*val = v->valuedouble;
	return true;
}

bool
reply_time(const cJSON *o, const char *key, time_t *t)
{
	double d;

	if (!reply_num(o, key, &d) || !(d > 0 && d < 1e12))
		return false;
	*t = (time_t)d;
	return true;
}
