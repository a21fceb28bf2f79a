#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/metrics.h"
#include "smsguard/util.h"

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->cap = 4096;
	m->buf = xmalloc(m->cap);
	m->buf[0] = '\0';
}

static void
metrics_put(struct metrics *m, const char *s, size_t n)
{
	if (m->len + n + 1 > m->cap) {
		while (m->len + n + 1 > m->cap)
			m->cap *= 2;
		m->buf = realloc(m->buf, m->cap);
		if (m->buf == NULL)
			abort();
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

static void
metrics_puts(struct metrics *m, const char *s)
{
	metrics_put(m, s, strlen(s));
}

/* HELP text escapes backslash and newline (exposition format 0.0.4). */
static void
metrics_help_text(struct metrics *m, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			metrics_puts(m, "\\\\");
		else if (*v == '\n')
			metrics_puts(m, "\\n");
		else
			metrics_put(m, v, 1);
	}
}

void
metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
	metrics_puts(m, "# HELP ");
	metrics_puts(m, name);
	metrics_puts(m, " ");
	metrics_help_text(m, help);
	metrics_puts(m, "\n# TYPE ");
	metrics_puts(m, name);
	metrics_puts(m, " ");
	metrics_puts(m, type);
	metrics_puts(m, "\n");
}

/* Label values escape backslash, double quote and newline (exposition format). */
static void
metrics_label_value(struct metrics *m, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			metrics_puts(m, "\\\\");
		else if (*v == '"')
			metrics_puts(m, "\\\"");
		else if (*v == '\n')
			metrics_puts(m, "\\n");
		else
			metrics_put(m, v, 1);
	}
}

/*
 * A value as Prometheus spells it: NaN, +Inf, -Inf, integers without a
 * fraction, other numbers in the fewest digits that read back the same.
 */
static void
metrics_format_value(double value, char *buf, size_t len)
{
	if (isnan(value))
		snprintf(buf, len, " NaN\n");
	else if (isinf(value))
		snprintf(buf, len, " %sInf\n", value > 0 ? "+" : "-");
	else if (value == floor(value) && fabs(value) < 1e15)
		snprintf(buf, len, " %.0f\n", value);
	else {
		snprintf(buf, len, " %.15g\n", value);
		if (strtod(buf, NULL) != value)
			snprintf(buf, len, " %.17g\n", value);
	}
}

void
metrics_sample(struct metrics *m, const char *name, double value, ...)
{
	const char *k, *v;
	char num[64];
	va_list ap;
	int first = 1;

	metrics_puts(m, name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		metrics_puts(m, first ? "{" : ",");
		first = 0;
		metrics_puts(m, k);
		metrics_puts(m, "=\"");
		metrics_label_value(m, v != NULL ? v : "");
		metrics_puts(m, "\"");
	}
	va_end(ap);
	if (!first)
		metrics_puts(m, "}");
	metrics_format_value(value, num, sizeof(num));
	metrics_puts(m, num);
}

void
metrics_onehot(struct metrics *m, const char *name, const char *label, const char *const *values,
    int n, int current)
{
	for (int i = 0; i < n; i++)
		metrics_sample(m, name, i == current, label, values[i], NULL);
}

const char *
metrics_text(const struct metrics *m)
{
	return m->buf;
}

void
metrics_free(struct metrics *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}
