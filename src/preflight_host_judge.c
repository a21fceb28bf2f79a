/*
 * Preflight's judges of the source server itself (DESIGN.md §5.11,
 * reference §9, §10): SMS-Agent's process and home, the space and exec
 * permission it needs, the programs a migration runs (rsync, tc) and the
 * queueing discipline already on the migration interface; and the parsers
 * of `ip route get` and `tc qdisc show`. Pure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight-judge-internal.h"
#include "smsguard/util.h"

/* ----------------------------------------------------------- the agent */

void
pf_judge_agent_running(
    struct pf_check *c, enum agent_state st, int pid, const char *process, const char *home)
{
	switch (st) {
	case AGENT_RUNNING:
		pf_set(c, PF_OK, "SMS.6603", "%s is running (pid %d)", process, pid);
		break;
	case AGENT_DEAD:
		pf_set(c, PF_FAIL, "SMS.6603", "no %s process: SMS-Agent is not running", process);
		pf_remedy(c,
		    "start SMS-Agent: cd %s && ./startup.sh (smsguard starts it by itself with "
		    "[agent] restart = when-dead)",
		    home != NULL ? home : "<the SMS-Agent directory>");
		break;
	default:
		pf_set(c, PF_WARN, "SMS.6603", "not known yet: the process table is being scanned");
		pf_remedy(c, "run preflight again in a few seconds");
		break;
	}
}

void
pf_judge_agent_home(struct pf_check *c, const char *home, const char *configured)
{
	if (home != NULL) {
		pf_set(c, PF_OK, NULL, "%s", home);
	} else if (configured != NULL) {
		pf_set(c, PF_WARN, NULL, "[agent] home = %s was refused (the log says why)",
		    configured);
		pf_remedy(c,
		    "point [agent] home at the SMS-Agent directory (startup.sh and agent/config/ "
		    "in it), owned by root and writable by nobody else");
	} else {
		pf_set(c, PF_WARN, NULL,
		    "not known: no running agent showed it and [agent] home is not set");
		pf_remedy(c,
		    "set [agent] home to the SMS-Agent directory (where startup.sh is), or start "
		    "the agent once: without it smsguard cannot start a dead agent");
	}
}

/* ---------------------------------------------------------------- space */

void
pf_judge_tmp_space(struct pf_check *c, const char *path, int err, uint64_t avail)
{
	char b[32], need[32];

	if (err != 0) {
		pf_set(c, PF_WARN, NULL, "cannot read %s: %s", path, strerror(-err));
		pf_remedy(c, "check that %s exists and is a directory", path);
		return;
	}
	pf_format_bytes(avail, b, sizeof(b));
	pf_format_bytes(PF_TMP_FAIL_BYTES, need, sizeof(need));
	if (avail >= PF_TMP_WARN_BYTES) {
		pf_set(c, PF_OK, NULL, "%s: %s free", path, b);
		return;
	}
	pf_set(c, avail < PF_TMP_FAIL_BYTES ? PF_FAIL : PF_WARN, NULL,
	    "%s: %s free; SMS-Agent needs %s there to start", path, b, need);
	pf_remedy(c,
	    "free space in %s, or let the agent unpack elsewhere: export TMPDIR=/var/tmp "
	    "before ./startup.sh",
	    path);
}

void
pf_judge_tmp_exec(struct pf_check *c, const char *path, int err, bool noexec)
{
	if (err != 0) {
		pf_set(c, PF_WARN, "SMS.5102", "cannot read %s: %s", path, strerror(-err));
		pf_remedy(c, "check that %s exists and is a directory", path);
	} else if (noexec) {
		pf_set(c, PF_FAIL, "SMS.5102", "%s is mounted noexec", path);
		pf_remedy(c,
		    "SMS-Agent runs what it unpacks in %s: remount it with exec (mount -o "
		    "remount,exec %s, and drop noexec from /etc/fstab), or export TMPDIR=<a "
		    "directory on a file system that allows exec> before ./startup.sh",
		    path, path);
	} else {
		pf_set(c, PF_OK, "SMS.5102", "%s allows exec", path);
	}
}

void
pf_judge_log_space(struct pf_check *c, const struct pf_space *s, int n, bool home_known)
{
	enum pf_verdict v = home_known ? PF_OK : PF_WARN;
	const char *worst = NULL;
	uint64_t least = UINT64_MAX;
	char text[PF_TEXT_MAX], b[32];
	size_t o = 0;

	text[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (s[i].err != 0) {
			pf_appendf(text, sizeof(text), &o, "%s%s: %s", o > 0 ? "; " : "", s[i].path,
			    strerror(-s[i].err));
			continue;
		}
		pf_appendf(text, sizeof(text), &o, "%s%s: %s free", o > 0 ? "; " : "", s[i].path,
		    pf_format_bytes(s[i].avail, b, sizeof(b)));
		if (s[i].avail < least) {
			least = s[i].avail;
			worst = s[i].path;
		}
	}
	if (least < PF_LOG_FAIL_BYTES)
		v = PF_FAIL;
	else if (least < PF_LOG_WARN_BYTES && v < PF_WARN)
		v = PF_WARN;
	pf_set(c, v, NULL, "%s%s", text,
	    home_known ? "" : " (the agent's home is not known: its agent/Logs is not checked)");
	if (worst != NULL && least < PF_LOG_WARN_BYTES)
		pf_remedy(c,
		    "free space on %s: SMS-Agent writes agent/Logs/SmsAgent_*.log in its home and "
		    "/root/f2f_migrate_*.log during the migration, and stops logging when full",
		    worst);
	else
		pf_remedy(c, "see agent_home");
}

/* ------------------------------------------------------------- programs */

/* Why a program that was found does not work, or "" when it does. */
static const char *
program_broken(const struct pf_program *p, char *buf, size_t len)
{
	buf[0] = '\0';
	if (p->err == -ETIMEDOUT)
		snprintf(buf, len, "did not finish in time");
	else if (p->err != 0)
		snprintf(buf, len, "cannot run: %s", strerror(-p->err));
	else if (p->term_signal != 0)
		snprintf(buf, len, "killed by signal %d", p->term_signal);
	else if (p->exit_status != 0)
		snprintf(buf, len, "exited with status %" PRId64, p->exit_status);
	return buf;
}

/* "rsync  version 3.2.7  protocol version 31" without its run of spaces, cleaned. */
static char *
version_of(const struct pf_program *p, char *buf, size_t len)
{
	size_t o = 0;
	bool space = false;

	pf_clean(buf, p->first_line != NULL ? p->first_line : "", len);
	for (size_t i = 0; buf[i] != '\0'; i++) {
		if (buf[i] == ' ' && (space || o == 0))
			continue;
		space = buf[i] == ' ';
		buf[o++] = buf[i];
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	if (o == 0)
		snprintf(buf, len, "%s", p->name);
	return buf;
}

void
pf_judge_rsync(struct pf_check *c, const struct pf_program *p, bool required)
{
	char why[96], ver[160];

	if (p->path == NULL) {
		pf_set(c, required ? PF_FAIL : PF_WARN, "SMS.6517", "rsync is not on PATH (%s)%s",
		    p->search, required ? "" : "; it is needed if the task is file-level");
		pf_remedy(c,
		    "install rsync (Debian/Ubuntu: apt-get install rsync; RHEL/Fedora: dnf install "
		    "rsync): a Linux file-level migration copies the files with it");
	} else if (*program_broken(p, why, sizeof(why)) != '\0') {
		pf_set(c, PF_FAIL, "SMS.6517", "%s %s", p->path, why);
		pf_remedy(
		    c, "reinstall rsync: a Linux file-level migration copies the files with it");
	} else {
		pf_set(c, PF_OK, "SMS.6517", "%s (%s)", version_of(p, ver, sizeof(ver)), p->path);
	}
}

static const char *
qdisc_support(enum pf_qdisc_support htb, enum pf_qdisc_support cbq)
{
	if (htb == PF_QDISC_BUILTIN_OR_LOADED)
		return "sch_htb is in the kernel";
	if (htb == PF_QDISC_MODULE)
		return "sch_htb is installed as a module";
	if (cbq == PF_QDISC_BUILTIN_OR_LOADED)
		return "sch_cbq is in the kernel";
	return "sch_cbq is installed as a module";
}

void
pf_judge_tc(struct pf_check *c, const struct pf_program *p, enum pf_qdisc_support htb,
    enum pf_qdisc_support cbq, const char *planned)
{
	char why[96], ver[160];

	if (p->path == NULL) {
		pf_set(
		    c, PF_FAIL, "SMS.9007", "tc is not on PATH (%s), and %s", p->search, planned);
		pf_remedy(c,
		    "install tc (Debian/Ubuntu: iproute2; RHEL/Fedora: iproute-tc): SMS-Agent "
		    "limits the rate with it, and without it SMS pauses the task");
	} else if (*program_broken(p, why, sizeof(why)) != '\0') {
		pf_set(c, PF_FAIL, "SMS.9007", "%s %s, and %s", p->path, why, planned);
		pf_remedy(c,
		    "reinstall tc (iproute2, or iproute-tc): SMS-Agent limits the rate "
		    "with it");
	} else if (htb == PF_QDISC_ABSENT && cbq == PF_QDISC_ABSENT) {
		pf_set(c, PF_FAIL, "SMS.9007",
		    "%s works, but neither sch_htb nor sch_cbq is in the kernel or installed, and "
		    "%s",
		    p->path, planned);
		pf_remedy(c,
		    "install the kernel's extra modules (linux-modules-extra-$(uname -r), or "
		    "kernel-modules-extra) and load one: modprobe sch_htb");
	} else {
		pf_set(c, PF_OK, "SMS.9007", "%s (%s); %s; %s", version_of(p, ver, sizeof(ver)),
		    p->path, qdisc_support(htb, cbq), planned);
	}
}

void
pf_judge_root_qdisc(struct pf_check *c, const struct pf_qdisc *q, const char *planned)
{
	if (q->err != 0) {
		pf_set(c, PF_WARN, "SMS.9007", "cannot tell: %s", q->why != NULL ? q->why : "?");
		pf_remedy(c, "look by hand: tc qdisc show dev <the interface of `ip route get %s`>",
		    q->addr);
	} else if (q->kind[0] == '\0') {
		pf_set(c, PF_OK, "SMS.9007", "%s (the route to %s) has no root qdisc", q->dev,
		    q->addr);
	} else if (!pf_qdisc_configured(q->handle)) {
		pf_set(c, PF_OK, "SMS.9007", "%s (the route to %s) has the kernel's default %s",
		    q->dev, q->addr, q->kind);
	} else {
		pf_set(c, PF_FAIL, "SMS.9007",
		    "%s (the route to %s) already has a root qdisc, %s %s, and %s", q->dev, q->addr,
		    q->kind, q->handle, planned);
		pf_remedy(c,
		    "SMS-Agent puts its own root qdisc on the interface to apply the rate limit "
		    "and "
		    "cannot beside this one: remove it if nothing else needs it (tc qdisc del dev "
		    "%s root), or plan no rate limit",
		    q->dev);
	}
}

/* -------------------------------------------------------------- parsers */

/* An interface name as the kernel takes it: 1..15 bytes, no '/', ':' or space. */
static bool
ifname_ok(const char *s, size_t n)
{
	if (n == 0 || n > 15 || (n == 1 && s[0] == '.') || (n == 2 && strncmp(s, "..", 2) == 0))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == ':')
			return false;
	}
	return true;
}

/* The next white-space separated word of *p: its start and length (0 at the end). */
static size_t
next_word(const char **p, const char **word)
{
	const char *s = *p;
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\\')
		s++;
	n = strcspn(s, " \t\r\n");
	*word = s;
	*p = s + n;
	return n;
}

bool
pf_parse_route_dev(const char *out, char *dev, size_t len)
{
	const char *p = out, *w;
	size_t n;

	while ((n = next_word(&p, &w)) > 0) {
		if (n != 3 || strncmp(w, "dev", 3) != 0)
			continue;
		n = next_word(&p, &w);
		if (!ifname_ok(w, n) || n >= len)
			return false;
		memcpy(dev, w, n);
		dev[n] = '\0';
		return true;
	}
	return false;
}

/* Copies the word (w, n) into buf when it fits and is printable. */
static bool
word_copy(const char *w, size_t n, char *buf, size_t len)
{
	if (n == 0 || n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w[i] <= 0x20 || (unsigned char)w[i] >= 0x7f)
			return false;
	memcpy(buf, w, n);
	buf[n] = '\0';
	return true;
}

int
pf_parse_root_qdisc(const char *out, char *kind, size_t klen, char *handle, size_t hlen)
{
	const char *line = out, *p, *w;
	size_t n, ll;

	for (; *line != '\0'; line += ll + (line[ll] == '\n')) {
		char l[512];

		ll = strcspn(line, "\n");
		if (ll >= sizeof(l) || strncmp(line, "qdisc ", 6) != 0)
			continue;
		memcpy(l, line, ll);
		l[ll] = '\0';
		p = l + 6;
		/* qdisc KIND HANDLE [dev DEV] root|parent … */
		if ((n = next_word(&p, &w)) == 0 || !word_copy(w, n, kind, klen) ||
		    (n = next_word(&p, &w)) == 0 || !word_copy(w, n, handle, hlen))
			continue;
		while ((n = next_word(&p, &w)) > 0)
			if (n == 4 && strncmp(w, "root", 4) == 0)
				return 1;
	}
	kind[0] = handle[0] = '\0';
	return 0;
}

bool
pf_qdisc_configured(const char *handle)
{
	return handle != NULL && handle[0] != '\0' && strcmp(handle, "0:") != 0;
}
