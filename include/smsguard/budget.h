/*
 * The recovery budget (DESIGN.md §4 [recovery] budget/backoff): at most N
 * automatic actions in any sliding window, and an exponential backoff with
 * jitter after failed attempts. Pure: every function takes the wall-clock
 * time in milliseconds. Wall clock rather than monotonic because the history
 * goes into state.json and must mean the same after a restart or a reboot.
 */
#ifndef SMSGUARD_BUDGET_H
#define SMSGUARD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* History kept (and restored) at most; also the largest usable budget. */
#define BUDGET_HISTORY_MAX 256
/* The backoff is randomised by up to this much either way. */
#define BUDGET_JITTER_PERCENT 20
/* Jitter values are in [-BUDGET_JITTER_SCALE, BUDGET_JITTER_SCALE]; see budget_backoff_ms(). */
#define BUDGET_JITTER_SCALE 1000
/* More consecutive failures than this are not counted (the backoff is capped long before). */
#define BUDGET_FAILURES_MAX 64

enum budget_kind {
	BUDGET_RESUME = 0,
	BUDGET_RESTART_AGENT,
	BUDGET_KIND_COUNT,
};

enum budget_outcome {
	BUDGET_PENDING = 0, /* issued, result not known yet */
	BUDGET_OK,
	BUDGET_FAILED,
	BUDGET_OUTCOME_COUNT,
};

struct budget_entry {
	int64_t time_ms; /* when the action was issued */
	enum budget_kind kind;
	enum budget_outcome outcome;
};

struct budget {
	/* Limits, from the config (budget_configure); not persisted. */
	int max_actions;
	int64_t window_ms;
	int64_t backoff_min_ms;
	int64_t backoff_max_ms;

	/* Persisted. Oldest first, sorted by time. */
	struct budget_entry hist[BUDGET_HISTORY_MAX];
	int count;
	int failures;             /* consecutive failed outcomes */
	int64_t backoff_until_ms; /* 0 = no backoff */
	int64_t
	    forgiven_ms; /* actions issued at or before this no longer count (operator resume) */
};

/* Where the budget stands at a given time. */
struct budget_status {
	bool allowed;     /* an action may be taken now */
	int64_t next_ms;  /* if not allowed: when one may be (0 = never, a budget of 0) */
	int in_window;    /* actions counted in the sliding window */
	int max_actions;  /* the effective limit */
	int failures;     /* consecutive failed attempts */
	bool exhausted;   /* the window is full (as opposed to merely backing off) */
	bool backing_off; /* within a backoff after a failure */
	int64_t last_ms;  /* when the newest action was issued, 0 = none */
};

/* Empty history, the given limits. */
void budget_init(struct budget *b, int max_actions, uint64_t window_ms, uint64_t backoff_min_ms,
    uint64_t backoff_max_ms);
/* New limits (a reload); the history stays. Limits are clamped to sane ranges. */
void budget_configure(struct budget *b, int max_actions, uint64_t window_ms,
    uint64_t backoff_min_ms, uint64_t backoff_max_ms);

/* Fills *st (may be NULL) and returns st->allowed. */
bool budget_allowed(const struct budget *b, int64_t now_ms, struct budget_status *st);
/*
 * Records an action issued now (outcome pending). The oldest entry is dropped
 * when the history is full. Returns the number of actions now in the window.
 */
int budget_record(struct budget *b, int64_t now_ms, enum budget_kind kind);
/*
 * Sets the outcome of the newest pending action of this kind. A failure
 * starts a backoff from now (budget_backoff_ms with the given jitter); a
 * success ends any backoff and resets the failure count. Returns 0, or
 * -ENOENT when no action of that kind is pending (nothing changes), or
 * -EINVAL for a bad outcome.
 */
int budget_finish(struct budget *b, enum budget_kind kind, enum budget_outcome outcome,
    int64_t now_ms, int jitter);
/*
 * The operator said go (`smsguardctl resume`): actions issued until now stop
 * counting against the window, and the backoff and failure count are cleared.
 * The history itself is kept.
 */
void budget_forgive(struct budget *b, int64_t now_ms);

/*
 * The backoff after `failures` consecutive failures: min × 2^(failures-1),
 * capped at max, then scaled by 1 + 0.2 × jitter/1000 (jitter is clamped to
 * [-1000, 1000]; the caller draws it, so tests are deterministic) and kept
 * within min..max. 0 when failures <= 0.
 */
int64_t budget_backoff_ms(int64_t min_ms, int64_t max_ms, int failures, int jitter);

const char *budget_kind_name(enum budget_kind k);
/* Returns the kind, or -1. */
int budget_kind_from_name(const char *s);
const char *budget_outcome_name(enum budget_outcome o);
/* Returns the outcome, or -1. */
int budget_outcome_from_name(const char *s);

/*
 * {"failures":n,"backoff_until_ms":t,"forgiven_ms":t,
 *  "actions":[{"time_ms":t,"kind":"resume","outcome":"ok"},…]} — a new object.
 */
cJSON *budget_to_json(const struct budget *b);
/*
 * Restores the history into b (limits stay as configured). Defensive: bad
 * entries are skipped, at most BUDGET_HISTORY_MAX of the newest are kept,
 * times in the future are pulled back to now (a clock that was wrong must
 * not block actions for ever) and a backoff is cut to at most backoff_max
 * from now. Returns the number of actions restored, or -EINVAL when obj is
 * not an object (b is then left with an empty history).
 */
int budget_from_json(struct budget *b, const cJSON *obj, int64_t now_ms);

#endif
