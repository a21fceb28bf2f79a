/*
 * Latency of a unix-socket control plane under concurrent clients: CLIENTS
 * clients at once, each connecting, sending REQUEST, reading the whole reply
 * and closing, then starting over, until each has made ROUNDS requests. One
 * latency per request, from the connect to the reply's last byte. A reply
 * that does not contain OKTEXT is counted as refused, and its latency is left
 * out of the percentiles.
 *
 *	ctlload -s SOCKET -r REQUEST -c CLIENTS -n ROUNDS [-k OKTEXT] [-e] [-o FILE]
 *
 * REQUEST may hold \n and \r; -e: a reply ends at EOF (HTTP/1.0), otherwise at
 * its first newline. Prints one line of key=value pairs (times in ms); -o also
 * writes each answered request's latency to FILE, one a line.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 4096 /* bytes of a reply kept to look for OKTEXT */

enum cstate { C_CONNECT, C_WRITE, C_READ, C_DONE };

struct client {
	int fd;
	enum cstate state;
	double t0;
	size_t sent, got;
	int rounds;
	char head[HEAD_MAX + 1];
};

struct load {
	struct sockaddr_un sun;
	char *req;
	size_t reqlen;
	const char *oktext;
	bool to_eof;
	int rounds;
	double *lat;
	size_t nlat, ok, refused, errors;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* \n and \r in place; the rest as it is. */
static size_t
unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && (r[1] == 'n' || r[1] == 'r')) {
			*w++ = r[1] == 'n' ? '\n' : '\r';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void
client_begin(struct load *l, struct client *c)
{
	c->t0 = now_ms();
	c->sent = c->got = 0;
	c->head[0] = '\0';
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->state = C_CONNECT;
	if (c->fd == -1) {
		perror("socket");
		exit(1);
	}
	(void)l;
}

/* One request is over: count it, and start the next one or stop. */
static void
client_end(struct load *l, struct client *c, bool error)
{
	close(c->fd);
	c->fd = -1;
	if (error)
		l->errors++;
	else if (l->oktext != NULL && strstr(c->head, l->oktext) == NULL)
		l->refused++;
	else {
		l->ok++;
		l->lat[l->nlat++] = now_ms() - c->t0;
	}
	if (++c->rounds == l->rounds)
		c->state = C_DONE;
	else
		client_begin(l, c);
}

static void
client_connect(struct load *l, struct client *c)
{
	if (connect(c->fd, (struct sockaddr *)&l->sun, sizeof(l->sun)) == 0)
		c->state = C_WRITE;
	else if (errno != EAGAIN && errno != EINTR)
		client_end(l, c, true); /* EAGAIN: the backlog is full, try again */
}

static void
client_write(struct load *l, struct client *c)
{
	ssize_t n = send(c->fd, l->req + c->sent, l->reqlen - c->sent, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_end(l, c, true);
		return;
	}
	c->sent += (size_t)n;
	if (c->sent == l->reqlen)
		c->state = C_READ;
}

static void
client_read(struct load *l, struct client *c)
{
	char buf[65536];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_end(l, c, true);
		return;
	}
	if (n == 0) {
		client_end(l, c, !l->to_eof || c->got == 0);
		return;
	}
	if (c->got < HEAD_MAX) {
		size_t k = (size_t)n < HEAD_MAX - c->got ? (size_t)n : HEAD_MAX - c->got;

		memcpy(c->head + c->got, buf, k);
		c->head[c->got + k] = '\0';
	}
	c->got += (size_t)n;
	if (!l->to_eof && memchr(buf, '\n', (size_t)n) != NULL)
		client_end(l, c, false);
}

static void
run(struct load *l, struct client *cl, int nc)
{
	struct pollfd *pf = calloc((size_t)nc, sizeof(*pf));
	int active = nc;

	if (pf == NULL)
		exit(1);
	for (int i = 0; i < nc; i++)
		client_begin(l, &cl[i]);
	while (active > 0) {
		bool retry = false;

		for (int i = 0; i < nc; i++) {
			struct client *c = &cl[i];

			if (c->state == C_CONNECT)
				client_connect(l, c);
			retry |= c->state == C_CONNECT;
			pf[i].fd = c->state == C_WRITE || c->state == C_READ ? c->fd : -1;
			pf[i].events = c->state == C_WRITE ? POLLOUT : POLLIN;
			pf[i].revents = 0;
		}
		if (poll(pf, (nfds_t)nc, retry ? 1 : 5000) < 0 && errno != EINTR) {
			perror("poll");
			exit(1);
		}
		active = 0;
		for (int i = 0; i < nc; i++) {
			struct client *c = &cl[i];

			if (pf[i].revents != 0 && c->state == C_WRITE)
				client_write(l, c);
			else if (pf[i].revents != 0 && c->state == C_READ)
				client_read(l, c);
			active += c->state != C_DONE;
		}
	}
	free(pf);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	return v[k == 0 ? 0 : k - 1];
}

static int
write_latencies(const char *path, const struct load *l)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	for (size_t i = 0; i < l->nlat; i++)
		fprintf(f, "%.4f\n", l->lat[i]);
	return fclose(f) == 0 ? 0 : -1;
}

static void
usage(void)
{
	fprintf(
	    stderr, "usage: ctlload -s SOCKET -r REQUEST -c CLIENTS -n ROUNDS [-k OKTEXT] [-e]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct load l = {.sun = {.sun_family = AF_UNIX}};
	struct client *cl;
	const char *path = NULL, *out = NULL;
	int ch, nc = 0;
	double t0, wall;

	while ((ch = getopt(argc, argv, "s:r:c:n:k:eo:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'r':
			l.req = optarg;
			break;
		case 'c':
			nc = atoi(optarg);
			break;
		case 'n':
			l.rounds = atoi(optarg);
			break;
		case 'k':
			l.oktext = optarg;
			break;
		case 'e':
			l.to_eof = true;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || l.req == NULL || nc <= 0 || nc > 10000 || l.rounds <= 0 ||
	    l.rounds > 100000 || strlen(path) >= sizeof(l.sun.sun_path))
		usage();
	strcpy(l.sun.sun_path, path);
	l.reqlen = unescape(l.req);
	cl = calloc((size_t)nc, sizeof(*cl));
	l.lat = calloc((size_t)nc * (size_t)l.rounds, sizeof(*l.lat));
	if (cl == NULL || l.lat == NULL)
		return 1;
	t0 = now_ms();
	run(&l, cl, nc);
	wall = now_ms() - t0;
	qsort(l.lat, l.nlat, sizeof(*l.lat), cmp_double);
	if (out != NULL && write_latencies(out, &l) != 0)
		return 1;
	printf("requests=%zu ok=%zu refused=%zu errors=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
	       "wall_ms=%.1f\n",
	    l.ok + l.refused + l.errors, l.ok, l.refused, l.errors, pct(l.lat, l.nlat, 50),
	    pct(l.lat, l.nlat, 99), l.nlat > 0 ? l.lat[l.nlat - 1] : 0.0, wall);
	free(cl);
	free(l.lat);
	return 0;
}
