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
	char last_name[96]; /* HELP/TYPE are written once per family */
};

void metrics_init(struct metrics *m);
/* Starts a family: "# HELP" and "# TYPE" lines (type "gauge" or "counter"). */
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);
/*
 * One sample. labels: NULL, or "k","v" pairs ending with NULL:
 *   metrics_sample(m, "smsguard_target_port_up", 1, "port", "22", NULL);
 */
void metrics_sample(struct metrics *m, const char *name, double value, ...)
    __attribute__((sentinel));
/* The text (owned by m until metrics_free; never NULL). */
const char *metrics_text(const struct metrics *m);
void metrics_free(struct metrics *m);

#endif
