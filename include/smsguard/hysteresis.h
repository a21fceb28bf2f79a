/*
 * The pure half of the target probes (DESIGN.md §5.1): the fall/rise state
 * machine of one port, the classes a failed connect falls into, and latency
 * smoothing. No I/O, no clock: probe.c feeds results in.
 */
#ifndef SMSGUARD_HYSTERESIS_H
#define SMSGUARD_HYSTERESIS_H

#include <stdbool.h>
#include <stdint.h>

enum port_state {
	PORT_UNKNOWN = 0, /* not enough results yet; counts as not up */
	PORT_DOWN,
	PORT_UP,
	PORT_STATE_COUNT,
};

enum fail_class {
	FAIL_NONE = 0,    /* the last probe connected */
	FAIL_TIMEOUT,     /* no answer within the timeout (dropped, or a full backlog) */
	FAIL_REFUSED,     /* RST: the host is there, nothing listens */
	FAIL_UNREACHABLE, /* EHOSTUNREACH / ENETUNREACH: routing or ICMP */
	FAIL_OTHER,
	FAIL_CLASS_COUNT,
};

struct hysteresis {
	enum port_state state;
	int fall;  /* consecutive failures that make a port down */
	int rise;  /* consecutive successes that make it up */
	int fails; /* current run of failures */
	int oks;   /* current run of successes */
};

/* fall and rise below 1 are taken as 1. */
void hysteresis_init(struct hysteresis *h, int fall, int rise);
/* Feeds one probe result; returns true when the state changed. */
bool hysteresis_feed(struct hysteresis *h, bool ok);
/*
 * Evidence from elsewhere (SMS failed the task for a network reason) that
 * the link was down while the probes still read up: forget the run of
 * successes, and an up port becomes unknown, so that only `rise` fresh
 * successes make it up again. A down port stays down. Returns true when the
 * state changed.
 */
bool hysteresis_distrust(struct hysteresis *h);
/* "unknown", "down", "up". */
const char *hysteresis_state_name(enum port_state st);
/* NULL for FAIL_NONE; "timeout", "refused", "unreachable", "other". */
const char *hysteresis_class_name(enum fail_class c);
/* Classifies an errno (positive, or negated as libuv returns it); 0 is FAIL_NONE. */
enum fail_class hysteresis_classify(int err);

/* Weight of a new sample in the smoothed latency (as TCP's SRTT uses 1/8). */
#define LATENCY_EWMA_ALPHA 0.125

struct latency {
	bool have; /* at least one sample */
	double last_ms;
	double smooth_ms;
};

/* The first sample seeds the average; later ones move it by LATENCY_EWMA_ALPHA. */
void hysteresis_latency_add(struct latency *l, double ms);

#endif
