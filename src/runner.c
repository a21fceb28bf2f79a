/*
 * The process runner. Ownership (STYLE.md habit 5): a runner embeds its
 * handles - the timer from runner_new(), three pipes and the process from
 * runner_start() - counts the initialised ones not yet closed in `refs`,
 * and is freed in the last close callback. The one timer serves each phase
 * in turn: the report of a failed spawn on the next turn, the timeout, the
 * grace before SIGKILL, the wait for the output after the exit. It is closed
 * only when the owner lets go, so a runner is never freed under its owner.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "smsguard/log.h"
#include "smsguard/runner.h"
#include "smsguard/util.h"

#define runner_info(r, ...)                                                                        \
	log_emit((r)->quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, (r)->tag, 0, __VA_ARGS__)
#define runner_warnx(r, ...)                                                                       \
	log_emit((r)->quiet ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, (r)->tag, 0, __VA_ARGS__)

enum runner_phase {
	RUNNER_NEW,     /* not started */
	RUNNER_FAILED,  /* the spawn failed: done is due on the next loop turn */
	RUNNER_RUNNING, /* spawned, not exited */
	RUNNER_EXITED,  /* exited; waiting a little for its output pipes to close */
	RUNNER_DONE,    /* done was called */
};

struct linebuf {
	char buf[RUNNER_LINE_MAX];
	size_t len;
	bool overlong;
};

struct runner {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_process_t proc;
	uv_pipe_t in, out, err;
	uv_write_t wreq;
	int refs; /* handles initialised and not yet closed */
	enum runner_phase phase;
	bool let_go;    /* runner_drain() or runner_close(): no done, no logging */
	bool killing;   /* the timeout or runner_cancel() signalled it */
	bool term_sent; /* SIGTERM sent: SIGKILL when the timer fires again */

	char *tag, *name;
	bool log_output, quiet;
	uint64_t timeout_ms, grace_ms;
	void (*done)(void *, const struct runner_result *);
	void *arg;
	void (*close_cb)(void *);
	void *close_arg;

	pid_t pid;
	int spawn_error;
	struct runner_result res;

	char *input; /* secret: wiped and freed once written */
	size_t input_len;
	char **secrets; /* copies, NULL-terminated, wiped when freed */
	size_t longest_secret;
	struct linebuf lout, lerr;
	char rbuf[4096];
	char *kept; /* masked output for the result */
	size_t kept_len, kept_max;
};

static void runner_timer_cb(uv_timer_t *t);

/* -- life cycle ----------------------------------------------------------------------------- */

static void
strv_free(char **v, bool wipe)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (wipe)
			util_wipe(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
}

/* The input is a secret: wiped as soon as it is written, or will not be. */
static void
input_forget(struct runner *r)
{
	if (r->input != NULL) {
		util_wipe(r->input, r->input_len);
		free(r->input);
		r->input = NULL;
	}
}

static void
runner_free(struct runner *r)
{
	input_forget(r);
	strv_free(r->secrets, true);
	util_wipe(r->lout.buf, sizeof(r->lout.buf));
	util_wipe(r->lerr.buf, sizeof(r->lerr.buf));
	util_wipe(r->rbuf, sizeof(r->rbuf));
	free(r->kept);
	free(r->tag);
	free(r->name);
	free(r);
}

static void
runner_close_cb(uv_handle_t *h)
{
	struct runner *r = h->data;
	void (*cb)(void *) = r->close_cb;
	void *arg = r->close_arg;

	if (--r->refs > 0)
		return;
	runner_free(r);
	if (cb != NULL)
		cb(arg);
}

static void
runner_close_handle(struct runner *r, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, runner_close_cb);
}

static bool
outputs_closed(struct runner *r)
{
	return uv_is_closing((uv_handle_t *)&r->out) && uv_is_closing((uv_handle_t *)&r->err);
}

int
runner_new(uv_loop_t *loop, struct runner **out)
{
	struct runner *r = xcalloc(1, sizeof(*r));
	int rc = uv_timer_init(loop, &r->timer);

	if (rc != 0) {
		free(r);
		return rc;
	}
	r->loop = loop;
	r->timer.data = r;
	r->refs = 1;
	r->tag = xstrdup("runner");
	r->name = xstrdup("child");
	*out = r;
	return 0;
}

int
runner_spawn_error(const struct runner *r)
{
	return r->spawn_error;
}

pid_t
runner_pid(const struct runner *r)
{
	return r->pid;
}

bool
runner_running(const struct runner *r)
{
	return !r->let_go && r->phase != RUNNER_NEW && r->phase != RUNNER_DONE;
}

void
runner_drain(struct runner *r, void (*cb)(void *arg), void *arg)
{
	if (r->let_go)
		return;
	r->let_go = true;
	r->close_cb = cb;
	r->close_arg = arg;
	runner_close_handle(r, (uv_handle_t *)&r->timer);
	if (r->phase == RUNNER_NEW)
		return;
	/*
	 * The process handle closes at the exit, the output pipes at their EOF,
	 * stdin once the input is written (the write callback closes it).
	 */
	if (r->input == NULL)
		runner_close_handle(r, (uv_handle_t *)&r->in);
}

void
runner_close(struct runner *r, void (*cb)(void *arg), void *arg)
{
	if (!r->let_go) {
		r->close_cb = cb;
		r->close_arg = arg;
	}
	r->let_go = true;
	runner_close_handle(r, (uv_handle_t *)&r->timer);
	if (r->phase == RUNNER_NEW)
		return;
	runner_close_handle(r, (uv_handle_t *)&r->proc);
	runner_close_handle(r, (uv_handle_t *)&r->in);
	runner_close_handle(r, (uv_handle_t *)&r->out);
	runner_close_handle(r, (uv_handle_t *)&r->err);
}

/* -- output --------------------------------------------------------------------------------- */

/* Copies s into out (size outlen) with every secret replaced by "***". */
static void
mask_secrets(const struct runner *r, const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	while (*s != '\0' && o + 1 < outlen) {
		bool hit = false;

		for (size_t i = 0; r->secrets != NULL && r->secrets[i] != NULL; i++) {
			const char *sec = r->secrets[i];
			size_t n = strlen(sec);

			if (strncmp(s, sec, n) == 0) {
				if (o + 4 > outlen)
					goto out;
				memcpy(out + o, "***", 3);
				o += 3;
				s += n;
				hit = true;
				break;
			}
		}
		if (!hit)
			out[o++] = *s++;
	}
out:
	out[o] = '\0';
}

/* Adds a whole line to the kept output, or notes that it did not fit. */
static void
keep_line(struct runner *r, const char *line)
{
	size_t n = strlen(line);

	if (r->kept == NULL || r->res.output_cut)
		return;
	if (r->kept_len + n + 1 > r->kept_max) {
		r->res.output_cut = true;
		return;
	}
	memcpy(r->kept + r->kept_len, line, n);
	r->kept_len += n;
	r->kept[r->kept_len++] = '\n';
	r->kept[r->kept_len] = '\0';
}

static void
emit_line(struct runner *r, struct linebuf *lb, const char *what)
{
	char masked[RUNNER_LINE_MAX * 3 + 1];
	char esc[RUNNER_LINE_MAX * 4 + 4];
	size_t len = lb->len;

	if (len == 0 && !lb->overlong)
		return;
	/*
	 * A cut line may end inside a secret: drop as many bytes as the longest
	 * secret has, so no part of one can be left unmasked.
	 */
	if (lb->overlong)
		len = len > r->longest_secret ? len - r->longest_secret : 0;
	lb->buf[len] = '\0';
	/* Output may hold NULs: only what precedes the first is kept. */
	mask_secrets(r, lb->buf, masked, sizeof(masked));
	if (r->phase != RUNNER_DONE)
		keep_line(r, masked);
	if (r->log_output && !r->let_go) {
		log_escape(masked, -1, esc, sizeof(esc));
		runner_info(r, "%s %s: %s%s", r->name, what, esc, lb->overlong ? "..." : "");
	}
	util_wipe(lb->buf, sizeof(lb->buf));
	util_wipe(masked, sizeof(masked));
	lb->len = 0;
	lb->overlong = false;
}

static void
feed_output(struct runner *r, struct linebuf *lb, const char *what, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			emit_line(r, lb, what);
		} else if (p[i] == '\r') {
			continue;
		} else if (lb->len < sizeof(lb->buf) - 1) {
			lb->buf[lb->len++] = p[i];
		} else {
			lb->overlong = true;
		}
	}
}

/* -- the outcome ---------------------------------------------------------------------------- */

/* Hands the outcome to done, once; from a loop callback, never from runner_start(). */
static void
runner_report(struct runner *r)
{
	if (r->phase == RUNNER_DONE || r->let_go)
		return;
	uv_timer_stop(&r->timer);
	emit_line(r, &r->lout, "stdout");
	emit_line(r, &r->lerr, "stderr");
	r->phase = RUNNER_DONE;
	r->res.output = r->kept != NULL ? r->kept : "";
	r->res.output_len = r->kept_len;
	if (r->done != NULL)
		r->done(r->arg, &r->res);
}

static void
runner_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct runner *r = h->data;

	/* Reads are handled one at a time, so both pipes can share one buffer. */
	*buf = uv_buf_init(r->rbuf, sizeof(r->rbuf));
}

static void
runner_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct runner *r = s->data;
	bool is_out = s == (uv_stream_t *)&r->out;
	struct linebuf *lb = is_out ? &r->lout : &r->lerr;
	const char *what = is_out ? "stdout" : "stderr";

	if (nread > 0) {
		if (!r->let_go)
			feed_output(r, lb, what, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	if (!r->let_go)
		emit_line(r, lb, what);
	runner_close_handle(r, (uv_handle_t *)s);
	if (r->phase == RUNNER_EXITED && outputs_closed(r))
		runner_report(r);
}

static void
runner_write_cb(uv_write_t *req, int status)
{
	struct runner *r = container_of(req, struct runner, wreq);

	input_forget(r);
	/* EOF on stdin: a program that reads more than we had to say stops waiting. */
	runner_close_handle(r, (uv_handle_t *)&r->in);
}

static void
runner_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct runner *r = container_of(proc, struct runner, proc);

	r->res.exit_status = exit_status;
	r->res.term_signal = term_signal;
	runner_close_handle(r, (uv_handle_t *)proc);
	if (r->let_go || r->phase != RUNNER_RUNNING)
		return;
	if (term_signal != 0)
		runner_warnx(r, "%s command (pid %d) killed by signal %d", r->name, (int)r->pid,
		    term_signal);
	else
		runner_info(r, "%s command (pid %d) exited with status %lld", r->name, (int)r->pid,
		    (long long)exit_status);
	r->phase = RUNNER_EXITED;
	/* What it wrote before it exited is still in the pipes: read it first. */
	if (outputs_closed(r))
		runner_report(r);
	else
		uv_timer_start(&r->timer, runner_timer_cb, RUNNER_EXIT_DRAIN_MS, 0);
}

/* -- killing -------------------------------------------------------------------------------- */

static void
kill_group(struct runner *r, int sig)
{
	/* Its own process group (UV_PROCESS_DETACHED = setsid): signal all of it. */
	if (kill(-r->pid, sig) == -1)
		kill(r->pid, sig);
}

static void
start_kill(struct runner *r, int error, const char *why)
{
	runner_warnx(r, "%s command (pid %d) %s: killing it", r->name, (int)r->pid, why);
	r->killing = true;
	r->res.error = error;
	if (r->grace_ms > 0) {
		kill_group(r, SIGTERM);
		r->term_sent = true;
		uv_timer_start(&r->timer, runner_timer_cb, r->grace_ms, 0);
	} else {
		kill_group(r, SIGKILL);
		uv_timer_stop(&r->timer);
	}
}

static void
runner_timer_cb(uv_timer_t *t)
{
	struct runner *r = t->data;
	char why[64];

	switch (r->phase) {
	case RUNNER_FAILED:
	case RUNNER_EXITED:
		runner_report(r);
		break;
	case RUNNER_RUNNING:
		if (r->term_sent) {
			r->term_sent = false;
			kill_group(r, SIGKILL);
		} else if (!r->killing) {
			snprintf(why, sizeof(why), "still running after %llums",
			    (unsigned long long)r->timeout_ms);
			start_kill(r, -ETIMEDOUT, why);
		}
		break;
	default:
		break;
	}
}

void
runner_cancel(struct runner *r)
{
	if (r->phase == RUNNER_RUNNING && !r->killing && !r->let_go)
		start_kill(r, -ECANCELED, "cancelled");
}

/* -- starting ------------------------------------------------------------------------------- */

/* Puts NAME=value into env (n entries), replacing an entry of the same name; takes entry. */
static void
env_put(char **env, size_t *n, char *entry)
{
	size_t nl = strcspn(entry, "=");

	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], entry, nl + 1) == 0) {
			free(env[i]);
			env[i] = entry;
			return;
		}
	}
	env[(*n)++] = entry;
}

/* The child's whole environment (NULL-terminated); -EINVAL for a malformed entry. */
static int
env_build(const struct runner_opts *o, char ***out)
{
	size_t cap = o->nvars + 1, n = 0;
	char **env;
	int rc = 0;

	for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++)
		cap++;
	env = xcalloc(cap, sizeof(*env));
	for (size_t i = 0; o->env != NULL && o->env[i] != NULL && rc == 0; i++) {
		const char *eq = strchr(o->env[i], '=');

		if (eq == NULL || eq == o->env[i])
			rc = -EINVAL;
		else
			env_put(env, &n, xstrdup(o->env[i]));
	}
	for (size_t i = 0; i < o->nvars && rc == 0; i++) {
		const struct runner_var *v = &o->vars[i];

		if (v->name == NULL || v->name[0] == '\0' || strchr(v->name, '=') != NULL ||
		    v->value == NULL)
			rc = -EINVAL;
		else
			env_put(env, &n, xasprintf("%s=%s", v->name, v->value));
	}
	if (rc != 0) {
		strv_free(env, false);
		env = NULL;
	}
	*out = env;
	return rc;
}

/* Copies what the runner keeps of the options: names, limits, input, secrets. */
static void
runner_take(struct runner *r, const struct runner_opts *o)
{
	size_t n = 0, len = 0;

	free(r->tag);
	free(r->name);
	r->tag = xstrdup(o->log_tag != NULL ? o->log_tag : "runner");
	r->name = xstrdup(o->name != NULL ? o->name : "child");
	r->log_output = o->log_output;
	r->quiet = o->quiet;
	r->timeout_ms = o->timeout_ms;
	r->grace_ms = o->kill_grace_ms;
	r->done = o->done;
	r->arg = o->arg;
	for (size_t i = 0; o->secrets != NULL && o->secrets[i] != NULL; i++)
		n++;
	r->secrets = xcalloc(n + 1, sizeof(*r->secrets));
	for (size_t i = 0, j = 0; i < n; i++) {
		if (o->secrets[i][0] == '\0')
			continue; /* an empty secret would mask nothing but stars */
		r->secrets[j++] = xstrdup(o->secrets[i]);
		if (strlen(o->secrets[i]) > r->longest_secret)
			r->longest_secret = strlen(o->secrets[i]);
	}
	for (size_t i = 0; o->input != NULL && o->input[i] != NULL; i++)
		len += strlen(o->input[i]) + 1;
	r->input = xmalloc(len + 1);
	for (size_t i = 0; o->input != NULL && o->input[i] != NULL; i++) {
		size_t l = strlen(o->input[i]);

		memcpy(r->input + r->input_len, o->input[i], l);
		r->input_len += l;
		r->input[r->input_len++] = '\n';
	}
	if (o->output_max > 0) {
		r->kept_max = o->output_max;
		r->kept = xmalloc(r->kept_max + 1);
		r->kept[0] = '\0';
	}
}

static int
runner_spawn(struct runner *r, const struct runner_opts *o, char **env)
{
	uv_process_options_t po = {0};
	uv_stdio_container_t stdio[3];

	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&r->in;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&r->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&r->err;
	po.exit_cb = runner_exit_cb;
	po.file = o->argv[0];
	po.args = (char **)o->argv; /* uv_spawn only reads it */
	po.env = env;
	po.cwd = o->cwd != NULL ? o->cwd : "/";
	/* A session and process group of its own, so a timeout can kill all of it. */
	po.flags = UV_PROCESS_DETACHED;
	po.stdio_count = 3;
	po.stdio = stdio;
	/*
	 * Libraries open descriptors without O_CLOEXEC (curl's resolver pairs):
	 * none of ours may reach the program, or what it leaves running.
	 */
	util_cloexec_from(3);
	return uv_spawn(r->loop, &r->proc, &po);
}

/* Nothing ran: close what was opened for it and report on the next loop turn. */
static void
runner_spawn_failed(struct runner *r, const char *file, int rc)
{
	char esc[256];

	runner_warnx(
	    r, "cannot run %s: %s", log_escape(file, -1, esc, sizeof(esc)), uv_strerror(rc));
	r->spawn_error = rc;
	r->res.error = rc;
	r->phase = RUNNER_FAILED;
	input_forget(r);
	runner_close_handle(r, (uv_handle_t *)&r->proc);
	runner_close_handle(r, (uv_handle_t *)&r->in);
	runner_close_handle(r, (uv_handle_t *)&r->out);
	runner_close_handle(r, (uv_handle_t *)&r->err);
	uv_timer_start(&r->timer, runner_timer_cb, 0, 0);
}

static void
runner_write_input(struct runner *r)
{
	uv_buf_t wb = uv_buf_init(r->input, (unsigned)r->input_len);

	if (r->input_len == 0 ||
	    uv_write(&r->wreq, (uv_stream_t *)&r->in, &wb, 1, runner_write_cb) != 0) {
		input_forget(r);
		runner_close_handle(r, (uv_handle_t *)&r->in);
	}
}

int
runner_start(struct runner *r, const struct runner_opts *o)
{
	char **env = NULL;
	int rc;

	if (r->phase != RUNNER_NEW || r->let_go)
		return -EBUSY;
	if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0')
		return -EINVAL;
	if ((rc = env_build(o, &env)) != 0)
		return rc;
	runner_take(r, o);
	/* Pipe inits only link handles into the loop; they do not fail. */
	uv_pipe_init(r->loop, &r->in, 0);
	uv_pipe_init(r->loop, &r->out, 0);
	uv_pipe_init(r->loop, &r->err, 0);
	r->in.data = r->out.data = r->err.data = r->proc.data = r;
	r->refs += 4; /* the pipes and the process handle, which uv_spawn always inits */
	rc = runner_spawn(r, o, env);
	strv_free(env, false);
	r->proc.data = r;
	if (rc != 0) {
		runner_spawn_failed(r, o->argv[0], rc);
		return 0;
	}
	r->pid = r->proc.pid;
	r->phase = RUNNER_RUNNING;
	runner_write_input(r);
	uv_read_start((uv_stream_t *)&r->out, runner_alloc_cb, runner_read_cb);
	uv_read_start((uv_stream_t *)&r->err, runner_alloc_cb, runner_read_cb);
	if (r->timeout_ms > 0)
		uv_timer_start(&r->timer, runner_timer_cb, r->timeout_ms, 0);
	return 0;
}
