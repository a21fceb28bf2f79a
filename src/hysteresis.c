#include <errno.h>
#include <stdlib.h>

#include "smsguard/hysteresis.h"

static const char *const state_names[PORT_STATE_COUNT] = {
    [PORT_UNKNOWN] = "unknown",
    [PORT_DOWN] = "down",
    [PORT_UP] = "up",
};

static const char *const class_names[FAIL_CLASS_COUNT] = {
    [FAIL_NONE] = NULL,
    [FAIL_TIMEOUT] = "timeout",
    [FAIL_REFUSED] = "refused",
    [FAIL_UNREACHABLE] = "unreachable",
    [FAIL_OTHER] = "other",
};

void
hysteresis_init(struct hysteresis *h, int fall, int rise)
{
	h->state = PORT_UNKNOWN;
	h->fall = fall < 1 ? 1 : fall;
	h->rise = rise < 1 ? 1 : rise;
	h->fails = 0;
	h->oks = 0;
}

bool
hysteresis_feed(struct hysteresis *h, bool ok)
{
	enum port_state old = h->state;

	/* Each result breaks the opposite run: only unbroken runs move the state. */
	if (ok) {
		h->fails = 0;
		if (h->oks < h->rise)
			h->oks++;
		if (h->oks >= h->rise)
			h->state = PORT_UP;
	} else {
		h->oks = 0;
		if (h->fails < h->fall)
			h->fails++;
		if (h->fails >= h->fall)
			h->state = PORT_DOWN;
	}
	return h->state != old;
}

bool
hysteresis_distrust(struct hysteresis *h)
{
	h->oks = 0;
	if (h->state != PORT_UP)
		return false;
	h->state = PORT_UNKNOWN;
	return true;
}

const char *
hysteresis_state_name(enum port_state st)
{
	if ((unsigned)st >= PORT_STATE_COUNT)
		return "unknown";
	return state_names[st];
}

const char *
hysteresis_class_name(enum fail_class c)
{
	if ((unsigned)c >= FAIL_CLASS_COUNT)
		return "other";
	return class_names[c];
}

enum fail_class
hysteresis_classify(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return FAIL_NONE;
	case ETIMEDOUT:
		return FAIL_TIMEOUT;
	case ECONNREFUSED:
		return FAIL_REFUSED;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return FAIL_UNREACHABLE;
	default:
		return FAIL_OTHER;
	}
}

void
hysteresis_latency_add(struct latency *l, double ms)
{
	if (ms < 0)
		ms = 0;
	l->last_ms = ms;
	if (!l->have) {
		l->smooth_ms = ms;
		l->have = true;
	} else {
		l->smooth_ms += LATENCY_EWMA_ALPHA * (ms - l->smooth_ms);
	}
}
