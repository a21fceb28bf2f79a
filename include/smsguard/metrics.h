/*
 * Prometheus text exposition (DESIGN.md §5.9). Pure: the daemon hands in the
 * values, this module writes them in the format, escaping label values.
 */
#ifndef SMSGUARD_METRICS_H
#define SMSGUARD_METRICS_H

#include <stddef.h>

struct metrics {
	char *buf;
	size_t len, cap;
};

void metrics_init(struct metrics *m);
/*
 * Starts a family: "# HELP" and "# TYPE" lines (type "gauge" or "counter"),
 * written once, before the family's samples. help is escaped.
 */
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);
/*
 * One sample. labels: NULL, or "k","v" pairs ending with NULL:
 *   metrics_sample(m, "smsguard_target_port_up", 1, "port", "22", NULL);
 */
void metrics_sample(struct metrics *m, const char *name, double value, ...)
    __attribute__((sentinel));
/*
 * A one-hot family's samples: name{label="values[i]"} is 1 for i == current,
 * 0 for every other i (current out of range: all 0). Every value is present,
 * so a query never sees a series appear or vanish.
 */
void metrics_onehot(struct metrics *m, const char *name, const char *label,
    const char *const *values, int n, int current);
/* The text (owned by m until metrics_free; never NULL). */
const char *metrics_text(const struct metrics *m);
void metrics_free(struct metrics *m);

#endif
