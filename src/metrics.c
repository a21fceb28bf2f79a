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

void
metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
	char line[512];

	snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	metrics_puts(m, line);
	util_strlcpy(m->last_name, name, sizeof(m->last_name));
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
	if (isnan(value))
		snprintf(num, sizeof(num), " NaN\n");
	else if (value == floor(value) && fabs(value) < 1e15)
		snprintf(num, sizeof(num), " %.0f\n", value);
	else
		snprintf(num, sizeof(num), " %.6g\n", value);
	metrics_puts(m, num);
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
