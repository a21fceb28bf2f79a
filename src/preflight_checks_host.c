/*
 * Preflight's checks of the source server (DESIGN.md §5.11, reference §9,
 * §10): free space and exec permission in /tmp and free space where the
 * agent logs (statvfs in the thread pool: a hung file system blocks a
 * worker, never the loop); tc with the HTB or CBQ queueing discipline and
 * the root qdisc already on the migration interface, when a rate limit is
 * planned; rsync for a file-level task. Programs run through the process
 * runner, found on the daemon's PATH.
 */
#define LOG_TAG "preflight"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include "preflight-internal.h"
#include "smsguard/log.h"
#include "smsguard/util.h"

#define TMP_DIR "/tmp"
/* SMS-Agent writes /root/f2f_migrate_*.log during a migration (reference §9). */
#define ROOT_LOG_DIR "/root"
#define FIRST_LINE_MAX 256

/* The first line of a program's output, cleaned. */
static void
first_line(const struct runner_result *res, char *buf, size_t len)
{
	char line[FIRST_LINE_MAX];
	size_t n = res->output != NULL ? strcspn(res->output, "\n") : 0;

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (n > 0)
		memcpy(line, res->output, n);
	line[n] = '\0';
	pf_clean(buf, line, len);
}

/* ------------------------------------------------------------- space */

struct pf_space_slot {
	char path[PATH_MAX];
	int err;
	uint64_t avail;
};

struct pf_fs {
	struct pf_job job;
	struct pf_check *space, *exec, *logs;
	struct pf_work *work;
	char home[PATH_MAX]; /* "" when not known */
	/* Written by the worker. */
	int tmp_err;
	uint64_t tmp_avail;
	bool tmp_noexec;
	int nlogs;
	struct pf_space_slot logs_at[2];
};

static int
fs_stat(const char *path, uint64_t *avail, bool *noexec)
{
	struct statvfs sv;

	if (statvfs(path, &sv) != 0)
		return -errno;
	*avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	if (noexec != NULL)
		*noexec = (sv.f_flag & ST_NOEXEC) != 0;
	return 0;
}

static void
fs_work(struct pf_job *j)
{
	struct pf_fs *q = container_of(j, struct pf_fs, job);
	struct pf_space_slot *s;

	q->tmp_err = fs_stat(TMP_DIR, &q->tmp_avail, &q->tmp_noexec);
	if (q->home[0] != '\0') {
		s = &q->logs_at[q->nlogs++];
		/* A home without its Logs yet: the agent makes it in its home. */
		if ((size_t)snprintf(s->path, sizeof(s->path), "%s/agent/Logs", q->home) >=
		        sizeof(s->path) ||
		    (s->err = fs_stat(s->path, &s->avail, NULL)) == -ENOENT) {
			util_strlcpy(s->path, q->home, sizeof(s->path));
			s->err = fs_stat(s->path, &s->avail, NULL);
		}
	}
	s = &q->logs_at[q->nlogs++];
	util_strlcpy(s->path, ROOT_LOG_DIR, sizeof(s->path));
	s->err = fs_stat(s->path, &s->avail, NULL);
}

static void
fs_judge(struct pf_fs *q)
{
	struct pf_space sp[2];

	pf_judge_tmp_space(q->space, TMP_DIR, q->tmp_err, q->tmp_avail);
	pf_judge_tmp_exec(q->exec, TMP_DIR, q->tmp_err, q->tmp_noexec);
	for (int i = 0; i < q->nlogs; i++) {
		sp[i].path = q->logs_at[i].path;
		sp[i].err = q->logs_at[i].err;
		sp[i].avail = q->logs_at[i].avail;
	}
	pf_judge_log_space(q->logs, sp, q->nlogs, q->home[0] != '\0');
	pf_job_finish(&q->job);
}

static void
fs_after(struct pf_job *j)
{
	fs_judge(container_of(j, struct pf_fs, job));
}

static void
fs_expire(struct pf_job *j)
{
	struct pf_fs *q = container_of(j, struct pf_fs, job);
	struct pf_space sp = {ROOT_LOG_DIR, -ETIMEDOUT, 0};

	/* The worker may still be writing q's results: judged without them. */
	pf_judge_tmp_space(q->space, TMP_DIR, -ETIMEDOUT, 0);
	pf_judge_tmp_exec(q->exec, TMP_DIR, -ETIMEDOUT, false);
	pf_judge_log_space(q->logs, &sp, 1, q->home[0] != '\0');
}

static void
fs_cancel(struct pf_job *j)
{
	pf_work_cancel(container_of(j, struct pf_fs, job)->work);
}

static void
fs_free(struct pf_job *j)
{
	free(container_of(j, struct pf_fs, job));
}

static void
fs_start(struct pf_run *run)
{
	struct pf_fs *q = xcalloc(1, sizeof(*q));
	int rc;

	q->space = pf_run_check(run, "tmp_space");
	q->exec = pf_run_check(run, "tmp_exec");
	q->logs = pf_run_check(run, "agent_log_space");
	if (run->agent_home != NULL)
		util_strlcpy(q->home, run->agent_home, sizeof(q->home));
	q->job.expire = fs_expire;
	q->job.cancel = fs_cancel;
	q->job.free = fs_free;
	pf_job_init(run, &q->job, PREFLIGHT_FS_TIMEOUT_MS);
	if ((rc = pf_work(&q->job, fs_work, fs_after, &q->work)) != 0) {
		q->tmp_err = rc;
		q->logs_at[0].err = rc;
		util_strlcpy(q->logs_at[0].path, ROOT_LOG_DIR, sizeof(q->logs_at[0].path));
		q->nlogs = 1;
		fs_judge(q);
	}
}

/* ------------------------------------------------------------ programs */

/* A program that tells its version: rsync --version, tc -V. */
struct pf_prog {
	struct pf_job job;
	struct pf_check *check;
	struct pf_spawn *spawn;
	struct pf_work *work;
	bool is_tc;
	char path[PATH_MAX];
	bool found;
	/* tc: written by the worker. */
	enum pf_qdisc_support htb, cbq;
	/* What the program did. */
	int err;
	int64_t exit_status;
	int term_signal;
	char line[FIRST_LINE_MAX];
};

static void
prog_judge(struct pf_prog *q)
{
	struct pf_run *run = q->job.run;
	struct pf_program p = {q->is_tc ? "tc" : "rsync", q->found ? q->path : NULL, run->path_env,
	    q->err, q->exit_status, q->term_signal, q->line};

	if (q->is_tc)
		pf_judge_tc(q->check, &p, q->htb, q->cbq, run->planned_why);
	else
		pf_judge_rsync(
		    q->check, &p, run->task_known && run->task.type == TASK_TYPE_MIGRATE_FILE);
	pf_job_finish(&q->job);
}

static void
prog_done(struct pf_job *j, const struct runner_result *res)
{
	struct pf_prog *q = container_of(j, struct pf_prog, job);

	q->err = res->error;
	q->exit_status = res->exit_status;
	q->term_signal = res->term_signal;
	first_line(res, q->line, sizeof(q->line));
	prog_judge(q);
}

static void
prog_run(struct pf_prog *q)
{
	const char *argv[] = {q->path, q->is_tc ? "-V" : "--version", NULL};
	int rc;

	if (!q->found) {
		prog_judge(q);
	} else if ((rc = pf_spawn(&q->job, argv, prog_done, &q->spawn)) != 0) {
		q->err = rc;
		prog_judge(q);
	}
}

/* Where a queueing discipline comes from: the running kernel, or a module on disk. */
static enum pf_qdisc_support
qdisc_support(const char *name, const char *release)
{
	static const char *const lists[] = {"modules.builtin", "modules.dep"};
	enum pf_qdisc_support found = PF_QDISC_ABSENT;
	char path[PATH_MAX], ko[64], *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (stat(path, &st) == 0)
		return PF_QDISC_BUILTIN_OR_LOADED;
	snprintf(ko, sizeof(ko), "/%s.ko", name);
	for (size_t i = 0; i < nitems(lists) && found == PF_QDISC_ABSENT; i++) {
		snprintf(path, sizeof(path), "/lib/modules/%s/%s", release, lists[i]);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (found == PF_QDISC_ABSENT && getline(&line, &cap, f) > 0)
			if (strstr(line, ko) != NULL)
				found = i == 0 ? PF_QDISC_BUILTIN_OR_LOADED : PF_QDISC_MODULE;
		fclose(f);
	}
	free(line);
	return found;
}

static void
tc_work(struct pf_job *j)
{
	struct pf_prog *q = container_of(j, struct pf_prog, job);
	struct utsname u;

	if (uname(&u) != 0)
		u.release[0] = '\0';
	q->htb = qdisc_support("sch_htb", u.release);
	q->cbq = qdisc_support("sch_cbq", u.release);
}

static void
tc_after(struct pf_job *j)
{
	prog_run(container_of(j, struct pf_prog, job));
}

static void
prog_expire(struct pf_job *j)
{
	struct pf_prog *q = container_of(j, struct pf_prog, job);

	q->err = -ETIMEDOUT;
	prog_judge(q);
}

static void
prog_cancel(struct pf_job *j)
{
	struct pf_prog *q = container_of(j, struct pf_prog, job);

	pf_work_cancel(q->work);
	pf_spawn_cancel(q->spawn);
}

static void
prog_free(struct pf_job *j)
{
	free(container_of(j, struct pf_prog, job));
}

static void
prog_start(struct pf_run *run, struct pf_check *c, bool is_tc)
{
	struct pf_prog *q = xcalloc(1, sizeof(*q));
	int rc;

	q->check = c;
	q->is_tc = is_tc;
	q->found =
	    pf_which(run->path_env, is_tc ? "tc" : "rsync", q->path, sizeof(q->path)) != NULL;
	q->job.expire = prog_expire;
	q->job.cancel = prog_cancel;
	q->job.free = prog_free;
	/* The runner's own timeout first: it kills the program and says so. */
	pf_job_init(run, &q->job, PREFLIGHT_SPAWN_TIMEOUT_MS + PREFLIGHT_FS_TIMEOUT_MS);
	if (!is_tc)
		prog_run(q);
	else if ((rc = pf_work(&q->job, tc_work, tc_after, &q->work)) != 0)
		prog_run(q); /* the modules unknown: judged absent */
}

/* ---------------------------------------------------------- root qdisc */

/* `ip route get ADDR` names the interface, `tc qdisc show dev DEV` its root qdisc. */
struct pf_qd {
	struct pf_job job;
	struct pf_check *check;
	uv_getaddrinfo_t gai;
	bool gai_out;
	struct pf_spawn *spawn;
	char addr[PROBE_MAX_ADDRESS];
	char dev[32];
	char ip[PATH_MAX];
	char tc[PATH_MAX];
};

static void
qd_judge(struct pf_qd *q, const char *kind, const char *handle, int err, const char *why)
{
	struct pf_qdisc d = {q->addr, q->dev, kind, handle, err, why};

	pf_judge_root_qdisc(q->check, &d, q->job.run->planned_why);
	pf_job_finish(&q->job);
}

/* A step that did not work: its program's first line or exit says why. */
static bool
qd_failed(struct pf_qd *q, const char *what, const struct runner_result *res)
{
	char line[FIRST_LINE_MAX], why[PF_TEXT_MAX];

	if (res->error == 0 && res->exit_status == 0 && res->term_signal == 0)
		return false;
	first_line(res, line, sizeof(line));
	if (res->error == -ETIMEDOUT)
		snprintf(why, sizeof(why), "%s did not finish in time", what);
	else if (res->error != 0)
		snprintf(why, sizeof(why), "%s cannot run: %s", what, uv_strerror(res->error));
	else
		snprintf(why, sizeof(why), "%s failed: %s", what, line[0] != '\0' ? line : "?");
	qd_judge(q, "", "", -EIO, why);
	return true;
}

static void
qd_tc_done(struct pf_job *j, const struct runner_result *res)
{
	struct pf_qd *q = container_of(j, struct pf_qd, job);
	char kind[32], handle[32];

	if (qd_failed(q, "tc qdisc show", res))
		return;
	if (pf_parse_root_qdisc(res->output != NULL ? res->output : "", kind, sizeof(kind), handle,
	        sizeof(handle)) == 0)
		kind[0] = handle[0] = '\0';
	qd_judge(q, kind, handle, 0, NULL);
}

static void
qd_ip_done(struct pf_job *j, const struct runner_result *res)
{
	struct pf_qd *q = container_of(j, struct pf_qd, job);
	const char *argv[] = {q->tc, "qdisc", "show", "dev", q->dev, NULL};
	char why[PF_TEXT_MAX];
	int rc;

	if (qd_failed(q, "ip route get", res))
		return;
	if (!pf_parse_route_dev(res->output != NULL ? res->output : "", q->dev, sizeof(q->dev))) {
		snprintf(why, sizeof(why), "ip route get %s names no interface", q->addr);
		qd_judge(q, "", "", -EIO, why);
	} else if ((rc = pf_spawn(j, argv, qd_tc_done, &q->spawn)) != 0) {
		snprintf(why, sizeof(why), "tc cannot run: %s", uv_strerror(rc));
		qd_judge(q, "", "", rc, why);
	}
}

static void
qd_route(struct pf_qd *q)
{
	const char *argv[] = {q->ip, "route", "get", q->addr, NULL};
	char why[PF_TEXT_MAX];
	int rc;

	if ((rc = pf_spawn(&q->job, argv, qd_ip_done, &q->spawn)) != 0) {
		snprintf(why, sizeof(why), "ip cannot run: %s", uv_strerror(rc));
		qd_judge(q, "", "", rc, why);
	}
}

static void
qd_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pf_qd *q = container_of(req, struct pf_qd, gai);
	char why[PF_TEXT_MAX];

	q->gai_out = false;
	if (!q->job.finished && status != 0) {
		snprintf(why, sizeof(why), "%s does not resolve: %s", q->addr, uv_strerror(status));
		qd_judge(q, "", "", -ENOENT, why);
	} else if (!q->job.finished) {
		if (res->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, q->addr, sizeof(q->addr));
		else
			uv_ip4_name((struct sockaddr_in *)res->ai_addr, q->addr, sizeof(q->addr));
		qd_route(q);
	}
	if (res != NULL)
		uv_freeaddrinfo(res);
	pf_job_release(&q->job);
}

static void
qd_expire(struct pf_job *j)
{
	struct pf_qd *q = container_of(j, struct pf_qd, job);
	struct pf_qdisc d = {q->addr, q->dev, "", "", -ETIMEDOUT, "no answer in time"};

	pf_judge_root_qdisc(q->check, &d, j->run->planned_why);
}

static void
qd_cancel(struct pf_job *j)
{
	struct pf_qd *q = container_of(j, struct pf_qd, job);

	if (q->gai_out)
		uv_cancel((uv_req_t *)&q->gai);
	pf_spawn_cancel(q->spawn);
}

static void
qd_free(struct pf_job *j)
{
	free(container_of(j, struct pf_qd, job));
}

/* Whether host is an IP address (else it is resolved first). */
static bool
qd_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void
qd_start(struct pf_run *run, struct pf_check *c)
{
	struct pf_qd *q = xcalloc(1, sizeof(*q));
	struct addrinfo hints;
	char why[PF_TEXT_MAX];
	bool ip_ok, tc_ok;
	int rc;

	q->check = c;
	util_strlcpy(q->addr, run->target, sizeof(q->addr));
	q->job.expire = qd_expire;
	q->job.cancel = qd_cancel;
	q->job.free = qd_free;
	pf_job_init(run, &q->job, 2 * PREFLIGHT_SPAWN_TIMEOUT_MS);
	ip_ok = pf_which(run->path_env, "ip", q->ip, sizeof(q->ip)) != NULL;
	tc_ok = pf_which(run->path_env, "tc", q->tc, sizeof(q->tc)) != NULL;
	if (!ip_ok || !tc_ok) {
		snprintf(
		    why, sizeof(why), "%s is not on PATH (%s)", ip_ok ? "tc" : "ip", run->path_env);
		qd_judge(q, "", "", -ENOENT, why);
		return;
	}
	if (qd_literal(q->addr)) {
		qd_route(q);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = uv_getaddrinfo(run->loop, &q->gai, qd_gai_cb, q->addr, NULL, &hints)) != 0) {
		snprintf(why, sizeof(why), "%s does not resolve: %s", q->addr, uv_strerror(rc));
		qd_judge(q, "", "", -ENOENT, why);
		return;
	}
	q->gai_out = true;
	pf_job_hold(&q->job);
}

/* ------------------------------------------------------------ starter */

void
pf_start_host(struct pf_run *run)
{
	struct pf_check *c;

	fs_start(run);
	if ((c = pf_run_check(run, "tc")) != NULL)
		prog_start(run, c, true);
	if ((c = pf_run_check(run, "rsync")) != NULL)
		prog_start(run, c, false);
	if ((c = pf_run_check(run, "root_qdisc")) != NULL && run->has_target)
		qd_start(run, c);
}
