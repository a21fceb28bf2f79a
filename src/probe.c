/*
 * Target port probes. Ownership, so that no handle leaks across target
 * changes (DESIGN.md §5.1, STYLE.md habit 5):
 *
 *   probe_set  - owns one uv_timer_t of its own (so that closing always
 *                completes from the loop) and counts every live object
 *                below in `live`; it is freed when that reaches 0 after
 *                probe_close().
 *   prober     - one per port: a one-shot uv_timer_t re-armed for the next
 *                due time of a fixed cadence; freed in the timer's close
 *                callback.
 *   attempt    - one connect in flight: a uv_tcp_t, its uv_connect_t and a
 *                deadline uv_timer_t; freed when both handles are closed
 *                and the connect request has called back. A prober may have
 *                several in flight (timeout >= interval): each is numbered,
 *                and results are fed in that order; a result older than one
 *                already fed, or than the last distrust mark, is dropped and
 *                its attempt detached (attempt->p = NULL), after which it
 *                only winds itself down.
 *   resolve    - a uv_getaddrinfo request for a host name; stale results
 *                (an older generation) are dropped.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LOG_TAG "probe"
#include "smsguard/log.h"
#include "smsguard/probe.h"
#include "smsguard/util.h"

struct probe_set;

/*
 * At the defaults (timeout = interval) two attempts overlap; the cap only
 * matters for a timeout many intervals long, where a tick that finds it
 * reached skips (and says so in the debug log) rather than piling up sockets.
 */
#define PROBE_MAX_INFLIGHT 8

struct prober {
	struct probe_set *set;
	uv_timer_t tick;
	uint64_t due_ms;       /* uv_now() of the tick that is armed */
	struct attempt *first; /* connects in flight, oldest first */
	int inflight;
	uint64_t next_seq;  /* the number the next attempt gets */
	uint64_t fed_seq;   /* results up to this one are fed (or dropped) */
	uint64_t epoch_seq; /* attempts numbered below this started before a distrust mark */
	struct hysteresis hy;
	struct probe_port_info info;
	bool stopped;
};

struct attempt {
	struct probe_set *set;
	struct prober *p; /* NULL once detached */
	struct attempt *next;
	uint64_t seq;
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_timer_t deadline;
	uint64_t started_ns; /* uv_hrtime() */
	int refs;            /* open handles + the pending connect request */
	bool done;           /* a result was recorded (or the attempt was detached) */
};

struct resolve {
	struct probe_set *set;
	uv_getaddrinfo_t req;
	uint64_t gen;
};

struct probe_set {
	uv_loop_t *loop;
	struct observer obs;
	uint64_t interval_ms;
	uint64_t timeout_ms;
	int fall;
	int rise;

	uv_timer_t own; /* never started: its close completes probe_close from the loop */
	int live;       /* own timer + probers + attempts + resolves not yet freed */
	bool closing;
	void (*close_cb)(void *);
	void *close_arg;

	char address[PROBE_MAX_ADDRESS]; /* "" = no target */
	uint64_t gen;                    /* bumped on every target change */
	struct sockaddr_storage addr;
	bool have_addr;
	bool resolving;
	int resolve_err; /* of the last failed resolution (negative UV_E*), else 0 */

	int nports;
	uint16_t ports[PROBE_MAX_PORTS];
	struct prober *probers[PROBE_MAX_PORTS];

	enum port_state target_state;
	uint64_t target_since_mono_ms;
	int64_t target_since_wall_ms;
};

static void prober_start_attempt(struct prober *p);
static void probe_report(struct probe_set *ps);

static void
set_unref(struct probe_set *ps)
{
	if (--ps->live > 0 || !ps->closing)
		return;
	if (ps->close_cb != NULL)
		ps->close_cb(ps->close_arg);
	free(ps);
}

static void
own_close_cb(uv_handle_t *h)
{
	set_unref(container_of((uv_timer_t *)h, struct probe_set, own));
}

int
probe_effective_ports(
    const struct config *cfg, enum task_type type, enum task_os os, uint16_t out[PROBE_MAX_PORTS])
{
	int n;

	if (!cfg->ports_auto) {
		n = cfg->nports < PROBE_MAX_PORTS ? cfg->nports : PROBE_MAX_PORTS;
		memcpy(out, cfg->ports, (size_t)n * sizeof(out[0]));
		return n;
	}
	return task_required_ports(type, os, out);
}

/* Re-derives the whole target's state from its ports. */
static void
set_update_target(struct probe_set *ps)
{
	enum port_state st = PORT_UNKNOWN;
	int up = 0;

	for (int i = 0; i < ps->nports; i++) {
		if (ps->probers[i]->info.state == PORT_DOWN) {
			st = PORT_DOWN;
			break;
		}
		if (ps->probers[i]->info.state == PORT_UP)
			up++;
	}
	if (st != PORT_DOWN && ps->nports > 0 && up == ps->nports)
		st = PORT_UP;
	if (st != ps->target_state) {
		ps->target_state = st;
		ps->target_since_mono_ms = uv_now(ps->loop);
		ps->target_since_wall_ms = util_wall_ms();
	}
}

/* The target as a value: its state and every port's, for the engine. */
static void
probe_report(struct probe_set *ps)
{
	struct observation o = {.kind = OBS_TARGET, .time_ms = util_wall_ms()};
	struct obs_target *t = &o.u.target;

	t->state = ps->target_state;
	t->since_ms = ps->target_since_wall_ms;
	for (int i = 0; i < ps->nports && t->nports < OBS_MAX_PORTS; i++) {
		t->ports[t->nports].port = ps->probers[i]->info.port;
		t->ports[t->nports].state = ps->probers[i]->info.state;
		t->ports[t->nports].since_ms = ps->probers[i]->info.since_wall_ms;
		t->nports++;
	}
	observer_report(&ps->obs, &o);
}

static void
prober_record(struct prober *p, int err, double latency_ms)
{
	struct probe_set *ps = p->set;
	struct probe_port_info *in = &p->info;
	enum fail_class cls = hysteresis_classify(err);
	enum port_state old = in->state;

	if (err < 0)
		err = -err;
	in->probes++;
	in->failures[cls]++;
	in->last_class = cls;
	in->last_errno = err;
	if (cls == FAIL_NONE)
		hysteresis_latency_add(&in->latency, latency_ms);
	if (!hysteresis_feed(&p->hy, cls == FAIL_NONE))
		return;
	in->state = p->hy.state;
	in->since_wall_ms = util_wall_ms();
	in->since_mono_ms = uv_now(ps->loop);
	if (in->state == PORT_UP)
		log_info("%s port %u is up (%s -> up, %.1f ms)", ps->address, in->port,
		    hysteresis_state_name(old), latency_ms);
	else
		log_info("%s port %u is %s (%s: %s)", ps->address, in->port,
		    hysteresis_state_name(in->state), hysteresis_class_name(cls), strerror(err));
	set_update_target(ps);
	probe_report(ps);
}

static void
attempt_unref(struct attempt *a)
{
	struct probe_set *ps = a->set;

	if (--a->refs > 0)
		return;
	free(a);
	set_unref(ps);
}

static void
attempt_close_cb(uv_handle_t *h)
{
	attempt_unref(h->data);
}

static void
attempt_unlink(struct prober *p, struct attempt *a)
{
	struct attempt **pp = &p->first;

	while (*pp != NULL && *pp != a)
		pp = &(*pp)->next;
	if (*pp == a) {
		*pp = a->next;
		p->inflight--;
	}
	a->next = NULL;
}

/* Takes the attempt off its prober; its outcome is never fed. */
static void
attempt_detach(struct attempt *a)
{
	if (a->done)
		return;
	if (a->p != NULL)
		attempt_unlink(a->p, a);
	a->done = true;
	a->p = NULL;
	uv_close((uv_handle_t *)&a->tcp, attempt_close_cb);
	uv_close((uv_handle_t *)&a->deadline, attempt_close_cb);
}

/* Detaches every attempt in flight numbered below seq (all of them for UINT64_MAX). */
static void
prober_detach_older(struct prober *p, uint64_t seq)
{
	while (p->first != NULL && p->first->seq < seq)
		attempt_detach(p->first);
}

/*
 * Feeds the result of attempt number seq, in order: an older attempt still
 * in flight says less than this one and is dropped; a result from before a
 * distrust mark, or older than one already fed, is not fed.
 */
static void
prober_feed(struct prober *p, uint64_t seq, int err, double latency_ms)
{
	if (seq < p->epoch_seq || seq <= p->fed_seq)
		return;
	p->fed_seq = seq;
	prober_detach_older(p, seq);
	prober_record(p, err, latency_ms);
}

/* Records the result (unless detached) and winds the attempt down. */
static void
attempt_finish(struct attempt *a, int err)
{
	struct prober *p = a->p;
	double ms = (double)(uv_hrtime() - a->started_ns) / 1e6;

	if (p != NULL)
		attempt_unlink(p, a);
	a->done = true;
	a->p = NULL;
	/*
	 * A connect that succeeded is closed normally (FIN), not reset with
	 * SO_LINGER 0: a reset is what scanners and half-open floods leave
	 * behind, and services behind these ports (sshd, the agent's data
	 * channel) log it as an error; an orderly close is an ordinary client
	 * going away. The price, a TIME_WAIT entry on this side per probe, is
	 * a few dozen sockets without descriptors.
	 */
	uv_close((uv_handle_t *)&a->tcp, attempt_close_cb);
	uv_close((uv_handle_t *)&a->deadline, attempt_close_cb);
	/* Last: feeding may reach the observer, and through it anything. */
	if (p != NULL)
		prober_feed(p, a->seq, err, ms);
}

static void
attempt_connect_cb(uv_connect_t *req, int status)
{
	struct attempt *a = container_of(req, struct attempt, req);

	/* After a deadline or a detach this is the UV_ECANCELED from uv_close. */
	if (!a->done)
		attempt_finish(a, status);
	attempt_unref(a);
}

static void
attempt_deadline_cb(uv_timer_t *t)
{
	struct attempt *a = container_of(t, struct attempt, deadline);

	if (!a->done)
		attempt_finish(a, -ETIMEDOUT);
}

static void
resolve_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct resolve *r = container_of(req, struct resolve, req);
	struct probe_set *ps = r->set;

	if (r->gen == ps->gen && !ps->closing) {
		ps->resolving = false;
		if (status == 0 && res != NULL && res->ai_addrlen <= sizeof(ps->addr)) {
			memcpy(&ps->addr, res->ai_addr, res->ai_addrlen);
			ps->have_addr = true;
			ps->resolve_err = 0;
			/* Probe at once rather than waiting a whole interval. */
			for (int i = 0; i < ps->nports; i++)
				if (ps->probers[i]->inflight == 0)
					prober_start_attempt(ps->probers[i]);
		} else {
			ps->resolve_err = status != 0 ? status : UV_EAI_NONAME;
			log_warnx(
			    "cannot resolve %s: %s", ps->address, uv_strerror(ps->resolve_err));
		}
	}
	uv_freeaddrinfo(res);
	free(r);
	set_unref(ps);
}

static void
set_start_resolve(struct probe_set *ps)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct resolve *r = xcalloc(1, sizeof(*r));
	int rc;

	r->set = ps;
	r->gen = ps->gen;
	rc = uv_getaddrinfo(ps->loop, &r->req, resolve_cb, ps->address, NULL, &hints);
	if (rc != 0) {
		ps->resolve_err = rc;
		free(r);
		return;
	}
	ps->live++;
	ps->resolving = true;
}

static void
prober_start_attempt(struct prober *p)
{
	struct probe_set *ps = p->set;
	struct attempt *a, **tail;
	struct sockaddr_storage ss;
	uint64_t seq;
	int rc;

	if (!ps->have_addr) {
		/* A host name: a failed lookup counts as a failure, a pending one as nothing. */
		if (ps->resolve_err != 0)
			prober_feed(p, p->next_seq++,
			    ps->resolve_err == UV_EAI_NONAME ? -EHOSTUNREACH : -EINVAL, 0);
		if (!ps->resolving)
			set_start_resolve(ps);
		return;
	}
	if (p->inflight >= PROBE_MAX_INFLIGHT) {
		log_debug("port %u: %d probes still in flight, skipping a tick", p->info.port,
		    p->inflight);
		return;
	}
	ss = ps->addr;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(p->info.port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(p->info.port);

	seq = p->next_seq++;
	a = xcalloc(1, sizeof(*a));
	a->set = ps;
	a->seq = seq;
	a->started_ns = uv_hrtime();
	rc = uv_tcp_init(ps->loop, &a->tcp);
	if (rc != 0) {
		free(a);
		prober_feed(p, seq, rc, 0);
		return;
	}
	a->tcp.data = a;
	ps->live++;
	a->refs = 1;
	rc = uv_timer_init(ps->loop, &a->deadline);
	if (rc == 0) {
		a->deadline.data = a;
		a->refs++;
		rc = uv_tcp_connect(
		    &a->req, &a->tcp, (const struct sockaddr *)&ss, attempt_connect_cb);
	}
	if (rc != 0) {
		/* No callback will come for the request: finish here (e.g. ENETUNREACH at once). */
		a->done = true;
		uv_close((uv_handle_t *)&a->tcp, attempt_close_cb);
		if (a->refs == 2)
			uv_close((uv_handle_t *)&a->deadline, attempt_close_cb);
		prober_feed(p, seq, rc, 0);
		return;
	}
	a->refs++; /* the connect request */
	uv_timer_start(&a->deadline, attempt_deadline_cb, ps->timeout_ms, 0);
	a->p = p;
	for (tail = &p->first; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = a;
	p->inflight++;
}

static void prober_tick_cb(uv_timer_t *t);

/* Arms the tick for uv_now() time `due`. */
static void
prober_arm(struct prober *p, uint64_t due)
{
	uint64_t now = uv_now(p->set->loop);

	p->due_ms = due;
	uv_timer_start(&p->tick, prober_tick_cb, due > now ? due - now : 0, 0);
}

/*
 * A fixed cadence (DESIGN.md §5.1): each tick is due one interval after the
 * previous one was due, not after it ran, and an attempt still waiting for
 * its deadline does not hold the next one back, so a dropped link is down
 * after at most fall x interval + timeout. Ticks missed while the loop was
 * held up are skipped, keeping the phase.
 */
static void
prober_tick_cb(uv_timer_t *t)
{
	struct prober *p = container_of(t, struct prober, tick);
	uint64_t now = uv_now(p->set->loop), next = p->due_ms + p->set->interval_ms;

	while (next <= now)
		next += p->set->interval_ms;
	prober_arm(p, next);
	prober_start_attempt(p);
}

static void
prober_close_cb(uv_handle_t *h)
{
	struct prober *p = container_of((uv_timer_t *)h, struct prober, tick);
	struct probe_set *ps = p->set;

	free(p);
	set_unref(ps);
}

static struct prober *
prober_new(struct probe_set *ps, uint16_t port)
{
	struct prober *p = xcalloc(1, sizeof(*p));

	p->set = ps;
	p->next_seq = 1; /* fed_seq 0: nothing fed yet */
	hysteresis_init(&p->hy, ps->fall, ps->rise);
	p->info.port = port;
	p->info.state = PORT_UNKNOWN;
	p->info.since_wall_ms = util_wall_ms();
	p->info.since_mono_ms = uv_now(ps->loop);
	/* A timer init on a live loop cannot fail (it only links the handle). */
	uv_timer_init(ps->loop, &p->tick);
	ps->live++;
	/* First probe on the next loop turn, then every interval. */
	prober_arm(p, uv_now(ps->loop));
	return p;
}

static void
prober_stop(struct prober *p)
{
	prober_detach_older(p, UINT64_MAX);
	p->stopped = true;
	uv_close((uv_handle_t *)&p->tick, prober_close_cb);
}

static void
set_stop_all(struct probe_set *ps)
{
	for (int i = 0; i < ps->nports; i++) {
		prober_stop(ps->probers[i]);
		ps->probers[i] = NULL;
	}
	ps->nports = 0;
	ps->gen++;
	ps->resolving = false; /* a pending lookup is now stale and will be dropped */
	ps->resolve_err = 0;
	ps->have_addr = false;
}

static void
set_start_all(struct probe_set *ps, const uint16_t *ports, int n)
{
	for (int i = 0; i < n; i++) {
		ps->ports[i] = ports[i];
		ps->probers[i] = prober_new(ps, ports[i]);
	}
	ps->nports = n;
}

/* A literal IPv4 or IPv6 address (brackets allowed around v6), port 0. */
static int
parse_literal(const char *s, struct sockaddr_storage *ss)
{
	char buf[PROBE_MAX_ADDRESS];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(s, 0, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	if (strchr(s, ':') != NULL && uv_ip6_addr(s, 0, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

int
probe_new(
    uv_loop_t *loop, const struct config *cfg, const struct observer *obs, struct probe_set **out)
{
	struct probe_set *ps = xcalloc(1, sizeof(*ps));
	int rc;

	ps->loop = loop;
	if (obs != NULL)
		ps->obs = *obs;
	ps->interval_ms = cfg->probe_interval_ms > 0 ? cfg->probe_interval_ms : 2000;
	ps->timeout_ms = cfg->probe_timeout_ms > 0 ? cfg->probe_timeout_ms : 2000;
	ps->fall = cfg->fall;
	ps->rise = cfg->rise;
	rc = uv_timer_init(loop, &ps->own);
	if (rc != 0) {
		free(ps);
		return rc;
	}
	ps->live = 1;
	ps->target_state = PORT_UNKNOWN;
	ps->target_since_mono_ms = uv_now(loop);
	ps->target_since_wall_ms = util_wall_ms();
	*out = ps;
	return 0;
}

int
probe_set_target(struct probe_set *ps, const char *address, const uint16_t *ports, int n)
{
	struct sockaddr_storage ss;
	bool literal;
	char esc[PROBE_MAX_ADDRESS * 4];

	if (ps->closing)
		return -EINVAL;
	if (address == NULL || *address == '\0' || n <= 0) {
		if (ps->address[0] == '\0' && ps->nports == 0)
			return 0;
		log_info("target probing stopped");
		set_stop_all(ps);
		ps->address[0] = '\0';
		set_update_target(ps);
		probe_report(ps);
		return 0;
	}
	if (n > PROBE_MAX_PORTS || strlen(address) >= sizeof(ps->address))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (ports[i] == 0)
			return -EINVAL;
	literal = parse_literal(address, &ss) == 0;
	if (!literal && !util_hostname_ok(address)) {
		log_warnx("target address %s is neither an IP address nor a host name",
		    log_escape(address, -1, esc, sizeof(esc)));
		return -EINVAL;
	}
	if (strcmp(address, ps->address) == 0 && n == ps->nports &&
	    memcmp(ports, ps->ports, (size_t)n * sizeof(ports[0])) == 0)
		return 0;

	set_stop_all(ps);
	util_strlcpy(ps->address, address, sizeof(ps->address));
	if (literal) {
		ps->addr = ss;
		ps->have_addr = true;
	}
	set_start_all(ps, ports, n);
	log_info("probing %s on %d port%s every %llums (timeout %llums, fall %d, rise %d)",
	    ps->address, n, n == 1 ? "" : "s", (unsigned long long)ps->interval_ms,
	    (unsigned long long)ps->timeout_ms, ps->fall, ps->rise);
	set_update_target(ps);
	probe_report(ps);
	return 0;
}

int
probe_follow(struct probe_set *ps, const struct config *cfg, const char *migration_ip,
    enum task_type type, enum task_os os)
{
	uint16_t ports[PROBE_MAX_PORTS];
	const char *addr = cfg->target_address != NULL && cfg->target_address[0] != '\0'
	    ? cfg->target_address
	    : migration_ip;
	int n = probe_effective_ports(cfg, type, os, ports);

	if (addr == NULL || addr[0] == '\0')
		return probe_set_target(ps, NULL, NULL, 0);
	return probe_set_target(ps, addr, ports, n);
}

void
probe_reconfigure(struct probe_set *ps, const struct config *cfg)
{
	uint64_t interval = cfg->probe_interval_ms > 0 ? cfg->probe_interval_ms : 2000;
	uint64_t timeout = cfg->probe_timeout_ms > 0 ? cfg->probe_timeout_ms : 2000;
	uint16_t ports[PROBE_MAX_PORTS];
	char addr[PROBE_MAX_ADDRESS];
	int n = ps->nports;

	if (ps->closing ||
	    (interval == ps->interval_ms && timeout == ps->timeout_ms && cfg->fall == ps->fall &&
	        cfg->rise == ps->rise))
		return;
	ps->interval_ms = interval;
	ps->timeout_ms = timeout;
	ps->fall = cfg->fall;
	ps->rise = cfg->rise;
	if (n == 0)
		return;
	memcpy(ports, ps->ports, sizeof(ports));
	util_strlcpy(addr, ps->address, sizeof(addr));
	/* Restart with the same target: runs counted under other fall/rise mean little. */
	set_stop_all(ps);
	ps->address[0] = '\0';
	probe_set_target(ps, addr, ports, n);
}

void
probe_check_now(struct probe_set *ps)
{
	if (ps->closing)
		return;
	for (int i = 0; i < ps->nports; i++) {
		struct prober *p = ps->probers[i];

		if (p->inflight > 0)
			continue;
		/* The regular rhythm restarts from now, so the next tick is a full interval away. */
		prober_arm(p, uv_now(ps->loop) + ps->interval_ms);
		prober_start_attempt(p);
	}
}

void
probe_distrust(struct probe_set *ps)
{
	bool changed = false;

	if (ps->closing || ps->nports == 0)
		return;
	for (int i = 0; i < ps->nports; i++) {
		struct prober *p = ps->probers[i];
		enum port_state old = p->info.state;

		prober_detach_older(p, UINT64_MAX);
		p->epoch_seq = p->next_seq;
		if (hysteresis_distrust(&p->hy)) {
			p->info.state = p->hy.state;
			p->info.since_wall_ms = util_wall_ms();
			p->info.since_mono_ms = uv_now(ps->loop);
			log_info("%s port %u: %s -> %s until fresh probes show it up", ps->address,
			    p->info.port, hysteresis_state_name(old),
			    hysteresis_state_name(p->info.state));
			changed = true;
		}
	}
	set_update_target(ps);
	/* Every port at once, and the cadence from now. */
	for (int i = 0; i < ps->nports; i++) {
		prober_arm(ps->probers[i], uv_now(ps->loop) + ps->interval_ms);
		prober_start_attempt(ps->probers[i]);
	}
	if (changed)
		probe_report(ps);
}

enum port_state
probe_target_state(const struct probe_set *ps, uint64_t *since_mono_ms)
{
	if (since_mono_ms != NULL)
		*since_mono_ms = ps->target_since_mono_ms;
	return ps->target_state;
}

const char *
probe_address(const struct probe_set *ps)
{
	return ps->address[0] != '\0' ? ps->address : NULL;
}

int
probe_port_count(const struct probe_set *ps)
{
	return ps->nports;
}

int
probe_port_info(const struct probe_set *ps, int i, struct probe_port_info *out)
{
	if (i < 0 || i >= ps->nports)
		return -ENOENT;
	*out = ps->probers[i]->info;
	return 0;
}

void
probe_status_json(const struct probe_set *ps, cJSON *target)
{
	cJSON *ports = cJSON_AddArrayToObject(target, "ports");

	if (ps->address[0] != '\0')
		cJSON_AddStringToObject(target, "address", ps->address);
	else
		cJSON_AddNullToObject(target, "address");
	cJSON_AddStringToObject(target, "state", hysteresis_state_name(ps->target_state));
	for (int i = 0; i < ps->nports; i++) {
		const struct probe_port_info *in = &ps->probers[i]->info;
		cJSON *o = cJSON_CreateObject();
		const char *cls = hysteresis_class_name(in->last_class);

		cJSON_AddNumberToObject(o, "port", in->port);
		cJSON_AddStringToObject(o, "state", hysteresis_state_name(in->state));
		if (in->latency.have) {
			/* Rounded to 0.01 ms: more digits are noise. */
			cJSON_AddNumberToObject(o, "latency_ms",
			    (double)(long long)(in->latency.last_ms * 100 + 0.5) / 100);
			cJSON_AddNumberToObject(o, "latency_smoothed_ms",
			    (double)(long long)(in->latency.smooth_ms * 100 + 0.5) / 100);
		} else {
			cJSON_AddNullToObject(o, "latency_ms");
			cJSON_AddNullToObject(o, "latency_smoothed_ms");
		}
		if (cls != NULL) {
			cJSON_AddStringToObject(o, "last_error", cls);
			cJSON_AddNumberToObject(o, "errno", in->last_errno);
		} else {
			cJSON_AddNullToObject(o, "last_error");
			cJSON_AddNullToObject(o, "errno");
		}
		cJSON_AddNumberToObject(o, "since", (double)(in->since_wall_ms / 1000));
		cJSON_AddNumberToObject(o, "probes", (double)in->probes);
		cJSON_AddItemToArray(ports, o);
	}
}

void
probe_close(struct probe_set *ps, void (*cb)(void *arg), void *arg)
{
	if (ps == NULL || ps->closing)
		return;
	set_stop_all(ps);
	ps->closing = true;
	ps->close_cb = cb;
	ps->close_arg = arg;
	uv_close((uv_handle_t *)&ps->own, own_close_cb);
}
