/*
 * How smsguardctl writes for people (out.c): whether stdout is a terminal,
 * whether to colour (only on one, never with NO_COLOR or TERM=dumb), how wide
 * the page is, what time it is (SMSGUARD_CTL_NOW fixes it, for tests); and a
 * line being put together: text from the daemon escaped so it cannot drive the
 * terminal, colour that takes no columns, wrapped under its value column on a
 * terminal.
 */
#ifndef SMSGUARDCTL_OUT_H
#define SMSGUARDCTL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

/* The width of a page that is not a terminal, and of a terminal that does not say. */
#define OUT_DEFAULT_WIDTH 80
/* The column where values start in `status`, after "  last error: ". */
#define OUT_VALUE_COL 14

enum out_color {
	OUT_PLAIN = 0, /* ends a colour */
	OUT_RED,
	OUT_GREEN,
	OUT_YELLOW,
	OUT_CYAN,
	OUT_BOLD,
	OUT_DIM,
};

struct out_mode {
	bool tty;         /* stdout is a terminal */
	bool color;       /* and colour is wanted there */
	int width;        /* columns */
	time_t fixed_now; /* SMSGUARD_CTL_NOW; 0: the clock */
};

extern struct out_mode out;

/* Looks at stdout and the environment; once, before anything is printed. */
void out_init(void);
/* Now, in Unix seconds: the clock, or SMSGUARD_CTL_NOW. */
time_t out_now(void);

/* One line of output being put together. */
struct line {
	char buf[4096];
	size_t len;
	int indent; /* where a wrapped continuation starts */
};

void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text from the daemon, control characters escaped; "-" for NULL. */
void line_text(struct line *l, const char *s);
/* Starts a colour (OUT_PLAIN ends it); nothing without colour. */
void line_color(struct line *l, enum out_color c);
/* line_add in a colour (plain text when c is OUT_PLAIN). */
void line_colored(struct line *l, enum out_color c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* line_text in a colour. */
void line_color_text(struct line *l, enum out_color c, const char *s);
/* Spaces up to column col (at least one when already there or past it). */
void line_pad(struct line *l, int col);
/* The columns the line takes on a terminal. */
int line_cols(const struct line *l);
/* Cuts the line to at most cols columns. */
void line_fit(struct line *l, int cols);
/* "label:" padded to the value column, indented; continuations wrap under the value. */
void line_label(struct line *l, int indent, const char *label);
/* Prints the line (wrapped at the page width on a terminal) and empties it. */
void line_print(struct line *l);

/* Columns taken by len bytes of UTF-8 text (colour sequences take none). */
int text_cols(const char *s, size_t len);

/* "2h5m", "3d4h", "40s": the two largest units. */
char *out_span(uint64_t s, char *buf, size_t len);
/* "12s ago", "in 3m", "now". */
void line_relative(struct line *l, time_t t, time_t now);
/* Local time: "03:12:45" today, "2024-05-01 03:12" on another day. */
void line_clock(struct line *l, time_t t, time_t now);
/* "03:12:45 (5m ago)"; dflt when the time is null or 0, "-" when the key is missing. */
void line_when(struct line *l, const cJSON *o, const char *key, time_t now, const char *dflt);

/* Members of a reply: NULL or false when missing or of another type. */
const cJSON *reply_get(const cJSON *o, const char *key);
const char *reply_str(const cJSON *o, const char *key);
bool reply_num(const cJSON *o, const char *key, double *out);
/* A Unix time, or false when it is missing, null or 0 (never). */
bool reply_time(const cJSON *o, const char *key, time_t *out);

#endif
