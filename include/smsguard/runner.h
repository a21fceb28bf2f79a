/*
 * A process runner (DESIGN.md §3 executors, §6): runs one program with argv
 * (no shell), a clean environment, lines on its stdin, a timeout, and its
 * output read, masked and logged, and reports the outcome from the loop. It
 * knows nothing of what it runs: the agent restart and the exec notification
 * hook are its users.
 *
 * Life cycle (STYLE.md habits 5 and 17): runner_new(), runner_start() once,
 * the done callback from a later loop turn - never from inside
 * runner_start(), not even when the program cannot be spawned - and then
 * runner_drain() or runner_close(), after which done is not called. The
 * runner frees itself once its last handle is closed and then calls the
 * callback given to runner_drain() or runner_close() (from the loop).
 */
#ifndef SMSGUARD_RUNNER_H
#define SMSGUARD_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

/* Output lines longer than this are cut (and end with "..." in the log). */
#define RUNNER_LINE_MAX 1024
/*
 * After the program exits, how long to wait for its output pipes to close:
 * something it started may hold them for ever.
 */
#define RUNNER_EXIT_DRAIN_MS 200

struct runner;

struct runner_result {
	/*
	 * 0 when the program exited by itself (see exit_status, term_signal);
	 * -ETIMEDOUT killed at the timeout; -ECANCELED killed by
	 * runner_cancel(); any other value is uv_spawn()'s error (UV_ENOENT,
	 * UV_EACCES, ...): it never ran.
	 */
	int error;
	int64_t exit_status; /* its exit status (0 when a signal ended it) */
	int term_signal;     /* the signal that ended it, else 0 */
	/*
	 * What it wrote to stdout and stderr, whole lines as they came, each
	 * ending in "\n", secrets masked; "" when opts.output_max is 0. Valid
	 * until runner_drain() or runner_close().
	 */
	const char *output;
	size_t output_len;
	bool output_cut; /* more came than opts.output_max: later lines were dropped */
};

/* One environment variable, built into NAME=value by the runner. */
struct runner_var {
	const char *name;
	const char *value;
};

/* Everything is copied by runner_start(): nothing need outlive the call. */
struct runner_opts {
	/* NULL-terminated; argv[0] is run: a path, or a bare name looked up in env's PATH. */
	const char *const *argv;
	/*
	 * The whole environment: NULL-terminated "NAME=value" strings, then
	 * vars (a name given again replaces the earlier value). None of
	 * smsguard's own environment is passed on.
	 */
	const char *const *env;
	const struct runner_var *vars;
	size_t nvars;
	const char *cwd; /* NULL: "/" */
	/* NULL-terminated lines written to stdin, each with "\n", then EOF. Never logged. */
	const char *const *input;
	/* NULL-terminated strings shown as "***" wherever they occur in the output. */
	const char *const *secrets;
	/* 0: none. At the timeout the program's process group gets SIGTERM ... */
	uint64_t timeout_ms;
	/*
	 * ... and SIGKILL this much later if the program has not exited by
	 * then; 0: SIGKILL at once (the whole group dies with it).
	 */
	uint64_t kill_grace_ms;
	/* Bytes of output kept for the result; 0: none. */
	size_t output_max;
	/*
	 * Log lines are filed under the caller's tag and name what runs:
	 * "<name> command (pid N) exited with status S", and with log_output
	 * each output line at info level as "<name> stdout: <line>".
	 */
	const char *log_tag; /* NULL: "runner" */
	const char *name;    /* NULL: "child" */
	bool log_output;
	/* Every line at debug level: the caller logs the outcome (the exec hook, once a streak). */
	bool quiet;
	void (*done)(void *arg, const struct runner_result *res);
	void *arg;
};

/* Returns 0 or the uv_timer_init() error. */
int runner_new(uv_loop_t *loop, struct runner **out);
/*
 * Spawns the program in a session and process group of its own (so a
 * timeout kills all of it) with every descriptor of ours >= 3 closed on
 * exec. Returns 0, after which done will be called once from the loop, or
 * -EINVAL (bad options) or -EBUSY (started before), and then done is never
 * called. A program that cannot be spawned is not an error of this call:
 * done reports it on the next loop turn, and runner_spawn_error() tells it
 * at once to a caller that must answer now.
 */
int runner_start(struct runner *r, const struct runner_opts *opts);
/* The spawn error (a negative UV_E* code) once runner_start() returned; 0 when it ran. */
int runner_spawn_error(const struct runner *r);
/* The program's pid once spawned, else 0. */
pid_t runner_pid(const struct runner *r);
/* Started and done not called yet. */
bool runner_running(const struct runner *r);
/*
 * Kills the running program now, as at its timeout (SIGTERM, then SIGKILL
 * after kill_grace_ms); done then reports -ECANCELED. Nothing when it is not
 * running or already being killed.
 */
void runner_cancel(struct runner *r);
/*
 * Lets go of the runner without disturbing what runs: done is not called,
 * the timeout is off, the process handle stays until the program exits (so
 * it is reaped), and output pipes still held open - by the program or by
 * something it started - are read and the data dropped until they close, so
 * no writer gets SIGPIPE. cb(arg) runs from the loop when r is freed. May be
 * called from the done callback.
 */
void runner_drain(struct runner *r, void (*cb)(void *arg), void *arg);
/*
 * Closes every handle now: done is not called, a program still running is
 * left to run (runner_cancel() and wait for done to kill it). cb(arg) runs
 * from the loop when r is freed. On a runner given to runner_drain() it
 * stops waiting: the callback given there runs, cb and arg are ignored.
 */
void runner_close(struct runner *r, void (*cb)(void *arg), void *arg);

#endif
